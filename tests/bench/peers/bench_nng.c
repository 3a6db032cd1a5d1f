/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_nng: NNG (Debian's libnng1) measured like bench_raw_tcp.
 *
 *   bench_nng [--quick] [--tests thr,lat,fanout] [--sizes 64,1k,...] ...
 *
 * Variants:
 *   nng_pub     pub0/sub0 in the default configuration. pub0 never blocks:
 *               a message is dropped for a subscriber whose send queue is
 *               full, and sub0 drops when its receive queue is full. NNG
 *               has no lossless pub/sub option.
 *   nng_push    push0/pull0: the lossless way to stream with NNG (nng_send
 *               blocks while the pipe is full). One receiver only: push0
 *               load-balances, so there is no lossless fan-out to compare.
 *   nng_reqrep  req0/rep0 ping-pong for latency.
 *
 * Sending uses nng_send() (the library copies the buffer into a new
 * message); receiving uses nng_recvmsg() (no copy out of the message).
 * Every socket has send/receive timeouts so nothing can block forever.
 *
 * Sockets are not closed with nng_close(): with libnng 1.5.2 it sometimes
 * never returned here after a run with large messages (a receiver blocked in
 * nng_close() waiting on a condition variable, seen after pub0/sub0 runs of
 * 1 KiB fan-out, 1 MiB and 8 MiB; cf. nanomsg/nng#1543, "Deadlock in nng_close", where endpoint
 * close was reworked after 1.5.2). Every process that opens a socket exits
 * with _exit() right after its run (pb_spawn, pb_run), which releases all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "peer_common.h"

#define RECV_TIMEOUT_MS 100
#define SEND_TIMEOUT_MS 200
#define LAT_TIMEOUT_MS  5000

static const char *const variants[] = {
    "nng_pub: thr, fanout; pub0/sub0, default queues (lossy)",
    "nng_push: thr; push0/pull0 (lossless, blocks when the pipe is full)",
    "nng_reqrep: lat; req0/rep0 ping-pong",
    NULL,
};

enum pattern { PAT_PUB, PAT_PUSH };

/* Listen on a kernel-chosen port on 127.0.0.1; returns the port or -1. */
static int listen_any(nng_socket s)
{
    nng_listener l;
    int port = -1;
    if (nng_listen(s, "tcp://127.0.0.1:0", &l, 0) != 0 ||
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
        return -1;
    return port;
}

static int dial_port(nng_socket s, int port)
{
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    return nng_dial(s, url, NULL, 0);
}

/* ---- receiver (sub0 or pull0) ---- */

static int rx_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const size_t *a = arg; /* {size, pattern} */
    size_t size = a[0];
    int port = pb_child_port(ctl, o);
    if (port <= 0)
        return 1;
    nng_socket s;
    int rv = a[1] == PAT_PUB ? nng_sub0_open(&s) : nng_pull0_open(&s);
    if (rv == 0 && a[1] == PAT_PUB)
        rv = nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RECV_TIMEOUT_MS);
    if (rv == 0)
        rv = dial_port(s, port);
    if (rv != 0) {
        fprintf(stderr, "nng rx %d: %s\n", idx, nng_strerror(rv));
        return 1;
    }
    struct pb_rx rx;
    pb_rx_init(&rx, size);
    int64_t hard = pb_deadline(o->cap), cpu0 = 0;
    bool ready = false;
    for (;;) {
        nng_msg *m;
        rv = nng_recvmsg(s, &m, 0);
        if (rv != 0) {
            if ((rv == NNG_ETIMEDOUT || rv == NNG_EINTR) && pb_now() < hard)
                continue;
            rx.timed_out = rv == NNG_ETIMEDOUT;
            break;
        }
        enum pb_kind k = pb_rx_see(&rx, nng_msg_body(m), nng_msg_len(m));
        nng_msg_free(m);
        if (k == PB_DATA) {
            pb_rx_stamp(&rx, pb_now());
        } else if (k == PB_WARMUP && !ready) {
            ready = true;
            cpu0 = pb_cpu();
            pb_child_ready(ctl);
        } else if (k == PB_END) {
            break;
        }
    }
    rx.cpu_ns = ready ? pb_cpu() - cpu0 : 0;
    pb_child_report(ctl, &rx);
    return 0; /* no nng_close(): see the top of this file */
}

/* ---- sender: throughput and fan-out ---- */

struct thr_variant {
    const char *impl;
    const char *test;
    enum pattern pat;
    int subs;
};

/* Send one message; a blocking send retries on its timeout until
 * @deadline. Returns 0 or an NNG error. */
static int send_msg(nng_socket s, void *buf, size_t size, int flags, int64_t deadline)
{
    for (;;) {
        int rv = nng_send(s, buf, size, flags);
        if (rv == 0)
            return 0;
        if (rv == NNG_EINTR || (rv == NNG_ETIMEDOUT && pb_now() < deadline))
            continue;
        return rv;
    }
}

static int thr_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct thr_variant *v = arg;
    struct pb_child ch[PB_MAX_SUBS];
    struct pb_rx rx[PB_MAX_SUBS];
    size_t child_arg[2] = {size, (size_t)v->pat};
    int n = v->subs;
    bool lossless = v->pat == PAT_PUSH;
    memset(rx, 0, sizeof rx);
    for (int i = 0; i < n; i++)
        if (pb_spawn(&ch[i], i, rx_child, o, child_arg) != 0) {
            pb_reap(ch, i, pb_deadline(1));
            pb_fail(v->impl, v->test, size, "spawn");
            return 0;
        }
    /* The children exist; only now may this process start NNG's threads. */
    nng_socket s = NNG_SOCKET_INITIALIZER;
    int rv = v->pat == PAT_PUB ? nng_pub0_open(&s) : nng_push0_open(&s);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, SEND_TIMEOUT_MS);
    int port = rv == 0 ? listen_any(s) : -1;
    uint8_t *buf = malloc(size);
    if (!buf || port <= 0 || pb_send_port(ch, n, port) != 0) {
        pb_fail(v->impl, v->test, size, "listen");
        goto out;
    }
    memset(buf, 0xa5, size);

    /* Publish WARMUP until every receiver has seen one. */
    pb_hdr_put(buf, PB_SEQ_WARMUP, 0);
    int64_t ready_by = pb_deadline(10);
    while (!pb_all(ch, n, false)) {
        if (pb_now() >= ready_by || pb_poll_ctl(ch, n, NULL, 10) < 0) {
            pb_fail(v->impl, v->test, size, "receivers_not_ready");
            goto out;
        }
        send_msg(s, buf, size, NNG_FLAG_NONBLOCK, 0);
    }

    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    uint64_t sent = 0;
    bool ok = true;
    while (pb_budget_more(&b, sent)) {
        pb_hdr_put(buf, sent, 0);
        if ((rv = send_msg(s, buf, size, 0, b.t_hard)) != 0) {
            fprintf(stderr, "%s size=%zu: send: %s\n", v->impl, size, nng_strerror(rv));
            ok = false;
            break;
        }
        sent++;
    }
    /* END: once when lossless, repeated every 5 ms when it may be dropped. */
    pb_hdr_put(buf, PB_SEQ_END, sent);
    int64_t end_by = b.t_hard + 2 * AX_NS_PER_S;
    bool all;
    if (lossless) {
        if (ok && send_msg(s, buf, PB_HDR, 0, end_by) != 0)
            ok = false;
        all = pb_collect(ch, n, rx, end_by) == 0;
    } else {
        int r = 0;
        while (r >= 0 && !pb_all(ch, n, true) && pb_now() < end_by) {
            send_msg(s, buf, PB_HDR, NNG_FLAG_NONBLOCK, 0);
            r = pb_poll_ctl(ch, n, rx, 5);
        }
        all = pb_all(ch, n, true);
    }
    int64_t cpu_tx = pb_cpu() - cpu0;
    pb_print_thr(v->impl, v->test, size, sent, rx, n, all && ok, t0, cpu_tx, lossless);
out:
    free(buf);
    if (pb_reap(ch, n, pb_deadline(2)) != 0)
        fprintf(stderr, "%s size=%zu: a receiver failed\n", v->impl, size);
    return 0;
}

/* ---- req0/rep0 latency ---- */

static int rep_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    int port = pb_child_port(ctl, o);
    if (port <= 0)
        return 1;
    nng_socket s;
    int rv = nng_rep0_open(&s);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RECV_TIMEOUT_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, LAT_TIMEOUT_MS);
    if (rv == 0)
        rv = dial_port(s, port);
    if (rv != 0) {
        fprintf(stderr, "nng rep: %s\n", nng_strerror(rv));
        return 1;
    }
    int64_t hard = pb_deadline(o->cap);
    int rc = 1;
    for (;;) {
        nng_msg *m;
        rv = nng_recvmsg(s, &m, 0);
        if (rv != 0) {
            if ((rv == NNG_ETIMEDOUT || rv == NNG_EINTR) && pb_now() < hard)
                continue;
            break;
        }
        bool end = nng_msg_len(m) >= PB_HDR && pb_hdr_seq(nng_msg_body(m)) == PB_SEQ_END;
        if (nng_sendmsg(s, m, 0) != 0) {
            nng_msg_free(m);
            break;
        }
        if (end) {
            rc = 0;
            break;
        }
    }
    return rc;
}

static int lat_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const char *impl = arg;
    struct pb_child ch;
    if (pb_spawn(&ch, 0, rep_child, o, &size) != 0) {
        pb_fail(impl, "lat", size, "spawn");
        return 0;
    }
    nng_socket s = NNG_SOCKET_INITIALIZER;
    int rv = nng_req0_open(&s);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, LAT_TIMEOUT_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, LAT_TIMEOUT_MS);
    int port = rv == 0 ? listen_any(s) : -1;
    uint8_t *out = malloc(size), *in = malloc(size);
    int64_t *ns = malloc(sizeof *ns * o->lat_samples);
    if (!out || !in || !ns || port <= 0 || pb_send_port(&ch, 1, port) != 0) {
        pb_fail(impl, "lat", size, "setup");
        goto out;
    }
    memset(out, 0xa5, size);
    size_t nsamples = 0;
    bool ok = true;
    const uint64_t warmup = 1000;
    int64_t stop = 0;
    for (uint64_t seq = 0; ok; seq++) {
        if (seq == warmup)
            stop = pb_deadline(o->lat_secs);
        if (seq >= warmup && (nsamples == o->lat_samples || pb_now() >= stop))
            break;
        pb_hdr_put(out, seq, 0);
        size_t got = size;
        int64_t t0 = pb_now();
        ok = (rv = nng_send(s, out, size, 0)) == 0 && (rv = nng_recv(s, in, &got, 0)) == 0 &&
             got == size && pb_hdr_seq(in) == seq;
        int64_t t1 = pb_now();
        if (ok && seq >= warmup)
            ns[nsamples++] = t1 - t0;
    }
    if (ok) {
        size_t got = size;
        pb_hdr_put(out, PB_SEQ_END, 0);
        ok = (rv = nng_send(s, out, size, 0)) == 0 && (rv = nng_recv(s, in, &got, 0)) == 0;
    }
    if (!ok)
        fprintf(stderr, "%s: ping-pong failed after %zu samples: %s\n", impl, nsamples,
                nng_strerror(rv));
    pb_print_lat(impl, size, ns, nsamples, ok);
out:
    free(out);
    free(in);
    free(ns);
    pb_reap(&ch, 1, pb_deadline(2));
    return 0;
}

int main(int argc, char **argv)
{
    struct pb_opts o;
    pb_parse(&o, argc, argv, "bench_nng", variants);
    const struct thr_variant thr[] = {
        {"nng_pub", "thr", PAT_PUB, 1},
        {"nng_push", "thr", PAT_PUSH, 1},
    };
    const struct thr_variant fan = {"nng_pub", "fanout", PAT_PUB, o.subs};
    if (o.tests & PB_TEST_THR)
        for (int i = 0; i < o.nsizes; i++)
            for (int k = 0; k < 2; k++)
                if (pb_want(&o, thr[k].impl))
                    pb_run(&o, thr[k].impl, "thr", o.sizes[i], thr_run, &thr[k]);
    if ((o.tests & PB_TEST_LAT) && pb_want(&o, "nng_reqrep"))
        pb_run(&o, "nng_reqrep", "lat", o.lat_size, lat_run, "nng_reqrep");
    if ((o.tests & PB_TEST_FANOUT) && pb_want(&o, fan.impl))
        pb_run(&o, fan.impl, "fanout", o.fanout_size, thr_run, &fan);
    return 0;
}
