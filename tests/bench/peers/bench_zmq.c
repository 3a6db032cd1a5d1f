/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_zmq: ZeroMQ (Debian's libzmq5) measured like bench_raw_tcp.
 *
 *   bench_zmq [--quick] [--tests thr,lat,fanout] [--sizes 64,1k,...] ...
 *
 * Variants:
 *   zmq_pub          PUB/SUB in the default configuration (SNDHWM = RCVHWM
 *                    = 1000 messages). A PUB never blocks: when a
 *                    subscriber's pipe is full it drops, so run flat out it
 *                    reports how many were lost.
 *   zmq_xpub_nodrop  XPUB with ZMQ_XPUB_NODROP=1 and SUB: the same pub/sub
 *                    pattern (subscriptions, fan-out to every subscriber)
 *                    but zmq_send() blocks at the high-water mark instead of
 *                    dropping, so it is lossless. Chosen over PUSH/PULL,
 *                    which is lossless too but load-balances instead of
 *                    fanning out: not the pattern axon offers.
 *   zmq_reqrep       REQ/REP ping-pong for latency.
 *
 * Sending uses zmq_send() (the library copies the buffer, as an application
 * handing over a borrowed buffer would); receiving uses zmq_msg_recv() (no
 * copy out of the library's message). Sockets have ZMQ_LINGER 0 and
 * send/receive timeouts so nothing can block forever. Subscribers signal
 * readiness after their first WARMUP message (no sleep; see peer_common.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "peer_common.h"

#define RECV_TIMEOUT_MS 100
#define SEND_TIMEOUT_MS 200
#define LAT_TIMEOUT_MS  5000

static const char *const variants[] = {
    "zmq_pub: thr, fanout; PUB/SUB, default HWM (lossy)",
    "zmq_xpub_nodrop: thr, fanout; XPUB with ZMQ_XPUB_NODROP=1 (lossless, blocks at HWM)",
    "zmq_reqrep: lat; REQ/REP ping-pong",
    NULL,
};

static void set_int(void *s, int opt, int v)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
        fprintf(stderr, "zmq_setsockopt(%d): %s\n", opt, zmq_strerror(zmq_errno()));
}

/* Bind to a kernel-chosen port on 127.0.0.1; returns the port or -1. */
static int bind_any(void *s)
{
    char ep[256];
    size_t len = sizeof ep;
    if (zmq_bind(s, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        return -1;
    const char *colon = strrchr(ep, ':');
    return colon ? atoi(colon + 1) : -1;
}

static int connect_port(void *s, int port)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    return zmq_connect(s, ep);
}

/* ---- subscriber ---- */

static int sub_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    size_t size = *(const size_t *)arg;
    int port = pb_child_port(ctl, o);
    if (port <= 0)
        return 1;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_RCVTIMEO, RECV_TIMEOUT_MS);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    if (connect_port(s, port) != 0) {
        fprintf(stderr, "zmq sub %d: connect: %s\n", idx, zmq_strerror(zmq_errno()));
        return 1;
    }
    struct pb_rx rx;
    pb_rx_init(&rx, size);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int64_t hard = pb_deadline(o->cap), cpu0 = 0;
    bool ready = false;
    for (;;) {
        if (zmq_msg_recv(&m, s, 0) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            if (zmq_errno() == EAGAIN && pb_now() < hard)
                continue;
            rx.timed_out = 1;
            break;
        }
        enum pb_kind k = pb_rx_see(&rx, zmq_msg_data(&m), zmq_msg_size(&m));
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
    zmq_msg_close(&m);
    pb_child_report(ctl, &rx);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

/* ---- publisher: throughput and fan-out ---- */

struct thr_variant {
    const char *impl;
    const char *test;
    bool nodrop;
    int subs;
};

/* Send one message; blocking sends retry on the send timeout until
 * @deadline. Returns 0, or -1 (errno in zmq_errno()). */
static int send_msg(void *s, const void *buf, size_t size, int flags, int64_t deadline)
{
    for (;;) {
        if (zmq_send(s, buf, size, flags) >= 0)
            return 0;
        int e = zmq_errno();
        if (e == EINTR || (e == EAGAIN && !(flags & ZMQ_DONTWAIT) && pb_now() < deadline))
            continue;
        return -1;
    }
}

static int thr_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct thr_variant *v = arg;
    struct pb_child ch[PB_MAX_SUBS];
    struct pb_rx rx[PB_MAX_SUBS];
    int n = v->subs;
    memset(rx, 0, sizeof rx);
    for (int i = 0; i < n; i++)
        if (pb_spawn(&ch[i], i, sub_child, o, &size) != 0) {
            pb_reap(ch, i, pb_deadline(1));
            pb_fail(v->impl, v->test, size, "spawn");
            return 0;
        }
    /* The children exist; only now may this process start ZeroMQ's threads. */
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, v->nodrop ? ZMQ_XPUB : ZMQ_PUB);
    uint8_t *buf = malloc(size);
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_SNDTIMEO, SEND_TIMEOUT_MS);
    if (v->nodrop)
        set_int(s, ZMQ_XPUB_NODROP, 1);
    int port = bind_any(s);
    if (!buf || port <= 0 || pb_send_port(ch, n, port) != 0) {
        pb_fail(v->impl, v->test, size, "bind");
        goto out;
    }
    memset(buf, 0xa5, size);

    /* Slow joiner: publish WARMUP until every subscriber has seen one. */
    pb_hdr_put(buf, PB_SEQ_WARMUP, 0);
    int64_t ready_by = pb_deadline(10);
    while (!pb_all(ch, n, false)) {
        if (pb_now() >= ready_by || pb_poll_ctl(ch, n, NULL, 10) < 0) {
            pb_fail(v->impl, v->test, size, "subscribers_not_ready");
            goto out;
        }
        send_msg(s, buf, size, ZMQ_DONTWAIT, 0);
    }

    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    uint64_t sent = 0;
    bool ok = true;
    while (pb_budget_more(&b, sent)) {
        pb_hdr_put(buf, sent, 0);
        if (send_msg(s, buf, size, 0, b.t_hard) != 0) {
            fprintf(stderr, "%s size=%zu: send: %s\n", v->impl, size, zmq_strerror(zmq_errno()));
            ok = false;
            break;
        }
        sent++;
    }
    /* END: sent once when the configuration is lossless; repeated every
     * 5 ms until every subscriber has reported when it may be dropped. */
    pb_hdr_put(buf, PB_SEQ_END, sent);
    int64_t end_by = b.t_hard + 2 * AX_NS_PER_S;
    bool all;
    if (v->nodrop) {
        if (ok && send_msg(s, buf, PB_HDR, 0, end_by) != 0)
            ok = false;
        all = pb_collect(ch, n, rx, end_by) == 0;
    } else {
        int r = 0;
        while (r >= 0 && !pb_all(ch, n, true) && pb_now() < end_by) {
            send_msg(s, buf, PB_HDR, ZMQ_DONTWAIT, 0);
            r = pb_poll_ctl(ch, n, rx, 5);
        }
        all = pb_all(ch, n, true);
    }
    int64_t cpu_tx = pb_cpu() - cpu0;
    pb_print_thr(v->impl, v->test, size, sent, rx, n, all && ok, t0, cpu_tx, v->nodrop);
out:
    free(buf);
    zmq_close(s);
    zmq_ctx_term(ctx);
    if (pb_reap(ch, n, pb_deadline(2)) != 0)
        fprintf(stderr, "%s size=%zu: a subscriber failed\n", v->impl, size);
    return 0;
}

/* ---- REQ/REP latency ---- */

static int rep_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    int port = pb_child_port(ctl, o);
    if (port <= 0)
        return 1;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REP);
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_RCVTIMEO, RECV_TIMEOUT_MS);
    set_int(s, ZMQ_SNDTIMEO, LAT_TIMEOUT_MS);
    int rc = 1;
    if (connect_port(s, port) == 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int64_t hard = pb_deadline(o->cap);
        for (;;) {
            if (zmq_msg_recv(&m, s, 0) < 0) {
                if (zmq_errno() == EINTR || (zmq_errno() == EAGAIN && pb_now() < hard))
                    continue;
                break;
            }
            bool end = zmq_msg_size(&m) >= PB_HDR && pb_hdr_seq(zmq_msg_data(&m)) == PB_SEQ_END;
            if (zmq_msg_send(&m, s, 0) < 0)
                break;
            if (end) {
                rc = 0;
                break;
            }
        }
        zmq_msg_close(&m);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
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
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    set_int(s, ZMQ_LINGER, 0);
    set_int(s, ZMQ_RCVTIMEO, LAT_TIMEOUT_MS);
    set_int(s, ZMQ_SNDTIMEO, LAT_TIMEOUT_MS);
    uint8_t *out = malloc(size), *in = malloc(size);
    int64_t *ns = malloc(sizeof *ns * o->lat_samples);
    int port = bind_any(s);
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
        int64_t t0 = pb_now();
        ok = zmq_send(s, out, size, 0) == (int)size && zmq_recv(s, in, size, 0) == (int)size &&
             pb_hdr_seq(in) == seq;
        int64_t t1 = pb_now();
        if (ok && seq >= warmup)
            ns[nsamples++] = t1 - t0;
    }
    if (ok) {
        pb_hdr_put(out, PB_SEQ_END, 0);
        ok = zmq_send(s, out, size, 0) == (int)size && zmq_recv(s, in, size, 0) == (int)size;
    }
    if (!ok)
        fprintf(stderr, "%s: ping-pong failed after %zu samples: %s\n", impl, nsamples,
                zmq_strerror(zmq_errno()));
    pb_print_lat(impl, size, ns, nsamples, ok);
out:
    free(out);
    free(in);
    free(ns);
    zmq_close(s);
    zmq_ctx_term(ctx);
    pb_reap(&ch, 1, pb_deadline(2));
    return 0;
}

int main(int argc, char **argv)
{
    struct pb_opts o;
    pb_parse(&o, argc, argv, "bench_zmq", variants);
    const struct thr_variant thr[] = {
        {"zmq_pub", "thr", false, 1},
        {"zmq_xpub_nodrop", "thr", true, 1},
    };
    const struct thr_variant fan[] = {
        {"zmq_pub", "fanout", false, o.subs},
        {"zmq_xpub_nodrop", "fanout", true, o.subs},
    };
    if (o.tests & PB_TEST_THR)
        for (int i = 0; i < o.nsizes; i++)
            for (int k = 0; k < 2; k++)
                if (pb_want(&o, thr[k].impl))
                    pb_run(&o, thr[k].impl, "thr", o.sizes[i], thr_run, &thr[k]);
    if ((o.tests & PB_TEST_LAT) && pb_want(&o, "zmq_reqrep"))
        pb_run(&o, "zmq_reqrep", "lat", o.lat_size, lat_run, "zmq_reqrep");
    if (o.tests & PB_TEST_FANOUT)
        for (int k = 0; k < 2; k++)
            if (pb_want(&o, fan[k].impl))
                pb_run(&o, fan[k].impl, "fanout", o.fanout_size, thr_run, &fan[k]);
    return 0;
}
