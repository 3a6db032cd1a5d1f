/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_raw_tcp: the physical limit for a framed message stream on loopback
 * TCP, measured the way bench_zmq and bench_nng measure their libraries.
 *
 *   bench_raw_tcp [--quick] [--tests thr,lat,fanout] [--sizes 64,1k,...] ...
 *
 * A frame is a 4-byte big-endian length followed by the payload; every
 * payload starts with the 16-byte header of peer_common.h (sequence number,
 * aux). Blocking sockets with TCP_NODELAY and default buffer sizes; every
 * read and write has a 200 ms timeout so a run can check its deadline.
 *
 * Variants:
 *   raw_tcp_frame    one writev(2) per frame (length + payload, 2 iovecs):
 *                    what a naive framed sender costs (one syscall a message)
 *   raw_tcp_batched  frames gathered into large writes: frames up to 4 KiB
 *                    are copied into a 256 KiB staging buffer, larger ones
 *                    are gathered as iovecs (no copy) up to 1 MiB a writev.
 *                    The best a framed stream can do; the reference for the
 *                    throughput and fan-out ratios. Fan-out writes the same
 *                    batch to every subscriber's socket (no per-subscriber
 *                    copy in user space).
 *   raw_tcp_lowat    raw_tcp_batched whose receiver also sets SO_RCVLOWAT to
 *                    what the current frame still misses, at most 128 KiB
 *                    (as axon's receiver does for large payloads): fewer,
 *                    larger reads. Shows what that trick alone is worth.
 *   raw_tcp          64-byte ping-pong: one write and (usually) one read per
 *                    message on each side; the reference for latency.
 * The receiver always parses frames out of 1 MiB reads and checks the length
 * and the sequence number of every frame.
 *
 * With --touch the program makes the same-host tables instead (issue 13,
 * beside bench_shm and bench_iceoryx): impl=raw_tcp, test=shm_thr (the
 * raw_tcp_batched sender) and test=shm_lat (ping-pong at every --sizes
 * size, CPU of both processes per round trip), with the touch pattern of
 * peer_common.h: a writer writes one byte per 4 KiB page of its buffer
 * before each send, a reader reads one byte per page of each message it
 * receives (as the frames pass through its read buffer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "peer_common.h"

#define HEAD          (4 + PB_HDR) /* length prefix + payload header */
#define STAGE_BYTES   (256u << 10)
#define SMALL_MAX     4096u
#define LARGE_BATCH   (1u << 20)
#define RX_BUF        (1u << 20)
#define GATHER_IOV    256
#define IO_TIMEOUT_MS 200

static const char *const variants[] = {
    "raw_tcp_frame: thr; one writev (length + payload) per frame",
    "raw_tcp_batched: thr, fanout; frames gathered into 256 KiB..1 MiB writes",
    "raw_tcp_lowat: thr; raw_tcp_batched, receiver with SO_RCVLOWAT (<= 128 KiB)",
    "raw_tcp: lat; 64-byte ping-pong, one write per message",
    NULL,
};

/* ---- sockets ---- */

static void set_opts(int fd)
{
    int one = 1;
    struct timeval tv = {.tv_sec = 0, .tv_usec = IO_TIMEOUT_MS * 1000};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Listen on 127.0.0.1 with a kernel-chosen port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, PB_MAX_SUBS) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int accept_by(int lfd, int64_t deadline)
{
    for (;;) {
        int64_t left = (deadline - pb_now()) / AX_NS_PER_MS;
        if (left <= 0)
            return -1;
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            set_opts(fd);
            return fd;
        }
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            return -1;
    }
}

static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    set_opts(fd);
    return fd;
}

/* Write all of @iov (modified), retrying on the socket timeout until
 * @deadline. Returns 0 or -1. */
static int writev_all(int fd, struct iovec *iov, int cnt, int64_t deadline)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt > IOV_MAX ? IOV_MAX : cnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && pb_now() < deadline)
                continue;
            return -1;
        }
        size_t done = (size_t)n;
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

static void put_head(uint8_t *head, size_t len, uint64_t seq, uint64_t aux)
{
    uint32_t be = htonl((uint32_t)len);
    memcpy(head, &be, 4);
    pb_hdr_put(head + 4, seq, aux);
}

/* ---- the batched writer ---- */

/*
 * Frames accumulate as iovecs: small ones are copied into the staging
 * buffer (adjacent copies share one iovec), large ones point at a head slot
 * (length + header) and at the shared payload tail. flush() writes the batch
 * to every socket in turn.
 */
struct gather {
    int *fds;
    int nfds;
    int64_t deadline;
    const uint8_t *payload; /* template; its first PB_HDR bytes are not used */
    uint8_t *stage;
    size_t staged;
    uint8_t heads[GATHER_IOV][HEAD];
    int nheads;
    struct iovec iov[2 * GATHER_IOV + 2];
    struct iovec scratch[2 * GATHER_IOV + 2];
    int niov;
    size_t bytes;
};

static int gather_flush(struct gather *g)
{
    for (int i = 0; i < g->nfds && g->niov > 0; i++) {
        memcpy(g->scratch, g->iov, sizeof g->iov[0] * (size_t)g->niov);
        if (writev_all(g->fds[i], g->scratch, g->niov, g->deadline) != 0)
            return -1;
    }
    g->staged = 0;
    g->nheads = 0;
    g->niov = 0;
    g->bytes = 0;
    return 0;
}

static int gather_put(struct gather *g, size_t len, uint64_t seq, uint64_t aux)
{
    if (len <= SMALL_MAX) {
        if (g->staged + 4 + len > STAGE_BYTES || g->niov + 1 > 2 * GATHER_IOV)
            if (gather_flush(g) != 0)
                return -1;
        uint8_t *p = g->stage + g->staged;
        put_head(p, len, seq, aux);
        memcpy(p + HEAD, g->payload + PB_HDR, len - PB_HDR);
        struct iovec *last = g->niov ? &g->iov[g->niov - 1] : NULL;
        if (last && (uint8_t *)last->iov_base + last->iov_len == p)
            last->iov_len += 4 + len;
        else
            g->iov[g->niov++] = (struct iovec){p, 4 + len};
        g->staged += 4 + len;
    } else {
        if (g->nheads == GATHER_IOV || g->niov + 2 > 2 * GATHER_IOV)
            if (gather_flush(g) != 0)
                return -1;
        uint8_t *h = g->heads[g->nheads++];
        put_head(h, len, seq, aux);
        g->iov[g->niov++] = (struct iovec){h, HEAD};
        g->iov[g->niov++] = (struct iovec){(void *)(g->payload + PB_HDR), len - PB_HDR};
    }
    g->bytes += 4 + len;
    if (g->bytes >= LARGE_BATCH)
        return gather_flush(g);
    return 0;
}

/* ---- receiver ---- */

/* Incremental frame parser state: the head (length + payload header) is
 * collected, the rest of the payload is skipped in place. */
struct parser {
    uint8_t head[HEAD];
    size_t have;   /* head bytes collected */
    size_t len;    /* payload length, once the head is complete */
    size_t remain; /* payload bytes after the header still to skip */
    bool touch;    /* --touch: read one byte per page of the payload */
};

/* --touch: read the bytes at the page offsets of the payload that fall in
 * the @n bytes at @p, which start at payload offset @pos. */
static void touch_span(const uint8_t *p, size_t pos, size_t n)
{
    size_t off = pos < PB_PAGE ? PB_PAGE : (pos + PB_PAGE - 1) / PB_PAGE * PB_PAGE;
    for (; off < pos + n; off += PB_PAGE)
        (void)*(const volatile uint8_t *)(p + (off - pos));
}

/* Feed @n bytes; returns -1 on a bad length, 1 after END, else 0. */
static int parse(struct parser *ps, struct pb_rx *rx, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (ps->have < HEAD) {
            size_t take = HEAD - ps->have < n ? HEAD - ps->have : n;
            memcpy(ps->head + ps->have, p, take);
            ps->have += take;
            p += take;
            n -= take;
            if (ps->have < HEAD)
                break;
            uint32_t be;
            memcpy(&be, ps->head, 4);
            ps->len = ntohl(be);
            if (ps->len < PB_HDR || ps->len > PB_MAX_SIZE)
                return -1; /* checked before anything is sized by it */
            ps->remain = ps->len - PB_HDR;
        } else {
            size_t take = ps->remain < n ? ps->remain : n;
            if (ps->touch)
                touch_span(p, ps->len - ps->remain, take);
            p += take;
            n -= take;
            ps->remain -= take;
        }
        if (ps->have == HEAD && ps->remain == 0) {
            ps->have = 0;
            if (pb_rx_see(rx, ps->head + 4, ps->len) == PB_END)
                return 1;
        }
    }
    return 0;
}

/* What a receiver child is told. */
struct rx_arg {
    size_t size;
    bool lowat; /* SO_RCVLOWAT: what the current frame misses, <= LOWAT_MAX */
    bool touch; /* --touch */
};

#define LOWAT_MAX (128u << 10)

/* The low-water mark for the parser's state: the rest of the payload being
 * skipped (capped), or 1 between frames. */
static int want_lowat(const struct parser *ps)
{
    if (ps->have < HEAD || ps->remain == 0)
        return 1;
    return ps->remain > LOWAT_MAX ? (int)LOWAT_MAX : (int)ps->remain;
}

static int rx_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct rx_arg *ra = arg;
    size_t size = ra->size;
    bool lowat = ra->lowat;
    int mark = 1;
    int port = pb_child_port(ctl, o);
    int fd = port > 0 ? connect_local(port) : -1;
    uint8_t *buf = malloc(RX_BUF);
    if (fd < 0 || !buf) {
        fprintf(stderr, "raw rx %d: setup failed\n", idx);
        return 1;
    }
    struct pb_rx rx;
    struct parser ps = {.have = 0, .touch = ra->touch};
    pb_rx_init(&rx, size);
    int64_t cpu0 = pb_cpu(), hard = pb_deadline(o->cap);
    int rc = 0;
    for (;;) {
        if (lowat && want_lowat(&ps) != mark) {
            mark = want_lowat(&ps);
            setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &mark, sizeof mark);
        }
        ssize_t n = read(fd, buf, RX_BUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && pb_now() < hard)
                continue;
            rx.timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
            break;
        }
        if (n == 0)
            break; /* EOF before END: reported as not exact */
        uint64_t before = rx.delivered;
        int r = parse(&ps, &rx, buf, (size_t)n);
        if (rx.delivered != before)
            pb_rx_stamp(&rx, pb_now());
        if (r < 0) {
            fprintf(stderr, "raw rx %d: bad frame length %zu\n", idx, ps.len);
            rx.bad++;
            rc = 1;
            break;
        }
        if (r > 0)
            break;
    }
    rx.cpu_ns = pb_cpu() - cpu0;
    pb_child_report(ctl, &rx);
    close(fd);
    free(buf);
    return rc;
}

/* ---- throughput and fan-out ---- */

struct thr_variant {
    const char *impl;
    const char *test;
    bool batched;
    int subs;
    bool lowat;
    bool touch;
};

static int thr_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct thr_variant *v = arg;
    struct pb_child ch[PB_MAX_SUBS];
    struct pb_rx rx[PB_MAX_SUBS];
    int fds[PB_MAX_SUBS], n = v->subs, port, nfd = 0;
    memset(rx, 0, sizeof rx);
    struct rx_arg ra = {size, v->lowat, v->touch};
    for (int i = 0; i < n; i++)
        if (pb_spawn(&ch[i], i, rx_child, o, &ra) != 0) {
            pb_reap(ch, i, pb_deadline(1));
            pb_fail(v->impl, v->test, size, "spawn");
            return 0;
        }
    int lfd = listen_any(&port);
    if (lfd < 0 || pb_send_port(ch, n, port) != 0) {
        pb_fail(v->impl, v->test, size, "listen");
        goto out;
    }
    for (; nfd < n; nfd++)
        if ((fds[nfd] = accept_by(lfd, pb_deadline(10))) < 0) {
            pb_fail(v->impl, v->test, size, "accept");
            goto out;
        }

    uint8_t *payload = malloc(size);
    struct gather *g = calloc(1, sizeof *g);
    uint8_t *stage = malloc(STAGE_BYTES);
    if (!payload || !g || !stage) {
        pb_fail(v->impl, v->test, size, "nomem");
        free(payload);
        free(g);
        free(stage);
        goto out;
    }
    memset(payload, 0xa5, size);

    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    *g = (struct gather){.fds = fds, .nfds = n, .deadline = b.t_hard, .payload = payload};
    g->stage = stage;
    uint64_t sent = 0;
    bool ok = true;
    while (ok && pb_budget_more(&b, sent)) {
        if (v->touch)
            pb_touch_write(payload, size, (uint8_t)sent);
        if (v->batched) {
            ok = gather_put(g, size, sent, 0) == 0;
        } else {
            uint8_t head[HEAD];
            put_head(head, size, sent, 0);
            struct iovec iov[2] = {{head, HEAD}, {payload + PB_HDR, size - PB_HDR}};
            ok = writev_all(fds[0], iov, 2, b.t_hard) == 0;
        }
        if (ok)
            sent++;
    }
    if (ok) { /* END: a header-only frame carrying the count */
        ok = gather_put(g, PB_HDR, PB_SEQ_END, sent) == 0 && gather_flush(g) == 0;
    }
    for (int i = 0; i < n; i++)
        shutdown(fds[i], SHUT_WR);
    bool all = pb_collect(ch, n, rx, b.t_hard + 2 * AX_NS_PER_S) == 0;
    int64_t cpu_tx = pb_cpu() - cpu0;
    if (!ok)
        fprintf(stderr, "%s size=%zu: send failed after %llu messages\n", v->impl, size,
                (unsigned long long)sent);
    pb_print_thr(v->impl, v->test, size, sent, rx, n, all && ok, t0, cpu_tx, true);
    free(payload);
    free(g);
    free(stage);
out:
    for (int i = 0; i < nfd; i++)
        close(fds[i]);
    if (lfd >= 0)
        close(lfd);
    if (pb_reap(ch, n, pb_deadline(2)) != 0)
        fprintf(stderr, "%s size=%zu: a receiver failed\n", v->impl, size);
    return 0;
}

/* ---- ping-pong latency ---- */

/* Read one whole frame into @buf (cap bytes); returns its payload length
 * or -1. In lockstep there is never more than one frame in flight. */
static ssize_t read_frame(int fd, uint8_t *buf, size_t cap, int64_t deadline)
{
    size_t have = 0, want = 4;
    while (have < want) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && pb_now() < deadline)
                continue;
            return -1;
        }
        if (n == 0)
            return -1;
        have += (size_t)n;
        if (want == 4 && have >= 4) {
            uint32_t be;
            memcpy(&be, buf, 4);
            size_t len = ntohl(be);
            if (len < PB_HDR || 4 + len > cap)
                return -1;
            want = 4 + len;
        }
    }
    return have == want ? (ssize_t)(want - 4) : -1;
}

static int write_all(int fd, const void *p, size_t len, int64_t deadline)
{
    struct iovec iov = {(void *)p, len};
    return writev_all(fd, &iov, 1, deadline);
}

/* What a ping-pong run is: the plain one (test=lat) or, with --touch,
 * test=shm_lat, both sides touching every page and reporting their CPU. */
struct lat_variant {
    const char *impl, *test;
    size_t size;
    bool touch;
};

static int echo_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct lat_variant *lv = arg;
    size_t size = lv->size;
    (void)idx;
    int port = pb_child_port(ctl, o);
    int fd = port > 0 ? connect_local(port) : -1;
    uint8_t *buf = malloc(4 + size);
    if (fd < 0 || !buf)
        return 1;
    int64_t hard = pb_deadline(o->cap), cpu0 = 0;
    struct pb_rx rep;
    pb_rx_init(&rep, size);
    int rc = 1;
    for (;;) {
        ssize_t len = read_frame(fd, buf, 4 + size, hard);
        if (len < 0)
            break;
        uint64_t seq = pb_hdr_seq(buf + 4);
        if (lv->touch) {
            /* aux 1: a sampled round trip; the CPU counts from the first */
            if (pb_hdr_aux(buf + 4) == 1 && rep.delivered++ == 0)
                cpu0 = pb_cpu();
            (void)pb_touch_read(buf + 4, (size_t)len);
            pb_touch_write(buf + 4, (size_t)len, (uint8_t)seq);
        }
        if (write_all(fd, buf, 4 + (size_t)len, hard) != 0)
            break;
        if (seq == PB_SEQ_END) {
            rc = 0;
            break;
        }
    }
    if (lv->touch) {
        rep.cpu_ns = cpu0 ? pb_cpu() - cpu0 : 0;
        pb_child_report(ctl, &rep);
    }
    close(fd);
    free(buf);
    return rc;
}

static int lat_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct lat_variant *base = arg;
    struct lat_variant lv = *base;
    lv.size = size;
    const char *impl = lv.impl;
    struct pb_child ch;
    struct pb_rx rep;
    memset(&rep, 0, sizeof rep);
    int port, fd = -1;
    if (pb_spawn(&ch, 0, echo_child, o, &lv) != 0) {
        pb_fail(impl, lv.test, size, "spawn");
        return 0;
    }
    int lfd = listen_any(&port);
    uint8_t *out = malloc(4 + size), *in = malloc(4 + size);
    int64_t *ns = malloc(sizeof *ns * o->lat_samples);
    if (lfd < 0 || !out || !in || !ns || pb_send_port(&ch, 1, port) != 0 ||
        (fd = accept_by(lfd, pb_deadline(10))) < 0) {
        pb_fail(impl, lv.test, size, "setup");
        goto out;
    }
    memset(out, 0xa5, 4 + size);
    int64_t hard = pb_deadline(o->cap);
    size_t nsamples = 0;
    bool ok = true;
    const uint64_t warmup = 1000;
    int64_t stop = 0, cpu0 = 0, cpu_ping = 0;
    for (uint64_t seq = 0; ok; seq++) {
        if (seq == warmup) {
            stop = pb_deadline(o->lat_secs);
            cpu0 = pb_cpu();
        }
        if (seq >= warmup && (nsamples == o->lat_samples || pb_now() >= stop))
            break;
        int64_t t0 = pb_now();
        put_head(out, size, seq, seq >= warmup);
        if (lv.touch)
            pb_touch_write(out + 4, size, (uint8_t)seq);
        ok = write_all(fd, out, 4 + size, hard) == 0 &&
             read_frame(fd, in, 4 + size, hard) == (ssize_t)size && pb_hdr_seq(in + 4) == seq;
        if (ok && lv.touch)
            (void)pb_touch_read(in + 4, size);
        int64_t t1 = pb_now();
        if (ok && seq >= warmup)
            ns[nsamples++] = t1 - t0;
    }
    if (cpu0)
        cpu_ping = pb_cpu() - cpu0;
    if (ok) {
        put_head(out, size, PB_SEQ_END, 0);
        ok = write_all(fd, out, 4 + size, hard) == 0 &&
             read_frame(fd, in, 4 + size, hard) == (ssize_t)size;
    }
    if (!ok)
        fprintf(stderr, "%s: ping-pong failed after %zu samples\n", impl, nsamples);
    if (lv.touch) {
        bool all = pb_collect(&ch, 1, &rep, pb_deadline(2)) == 0;
        pb_print_lat_cpu(impl, lv.test, size, ns, nsamples, all ? cpu_ping + rep.cpu_ns : -1,
                         ok && all && rep.delivered == nsamples, NULL);
    } else {
        pb_print_lat(impl, size, ns, nsamples, ok);
    }
out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd);
    free(out);
    free(in);
    free(ns);
    pb_reap(&ch, 1, pb_deadline(2));
    return 0;
}

/* --touch: the same-host tables (test=shm_thr, shm_lat) at every size. */
static void run_touch(const struct pb_opts *o)
{
    for (int i = 0; i < o->nsizes; i++) {
        size_t size = o->sizes[i];
        /* The batched sender, with SO_RCVLOWAT where it helps. */
        struct thr_variant tv = {"raw_tcp", "shm_thr", true, 1, size > LOWAT_MAX, true};
        if (o->tests & PB_TEST_THR)
            pb_run(o, tv.impl, tv.test, size, thr_run, &tv);
    }
    static const struct lat_variant lv = {"raw_tcp", "shm_lat", 0, true};
    if (o->tests & PB_TEST_LAT)
        for (int i = 0; i < o->nsizes; i++)
            pb_run(o, lv.impl, lv.test, o->sizes[i], lat_run, &lv);
}

int main(int argc, char **argv)
{
    bool touch = false;
    int k = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--touch") == 0)
            touch = true;
        else
            argv[k++] = argv[i];
    }
    argc = k;
    argv[k] = NULL;
    struct pb_opts o;
    pb_parse(&o, argc, argv, "bench_raw_tcp [--touch]", variants);
    if (touch) {
        run_touch(&o);
        return 0;
    }
    static const struct thr_variant frame = {"raw_tcp_frame", "thr", false, 1, false, false};
    static const struct thr_variant batched = {"raw_tcp_batched", "thr", true, 1, false, false};
    static const struct thr_variant lowat = {"raw_tcp_lowat", "thr", true, 1, true, false};
    struct thr_variant fan = {"raw_tcp_batched", "fanout", true, o.subs, false, false};
    if (o.tests & PB_TEST_THR)
        for (int i = 0; i < o.nsizes; i++) {
            if (pb_want(&o, frame.impl))
                pb_run(&o, frame.impl, "thr", o.sizes[i], thr_run, &frame);
            if (pb_want(&o, batched.impl))
                pb_run(&o, batched.impl, "thr", o.sizes[i], thr_run, &batched);
            if (pb_want(&o, lowat.impl) && o.sizes[i] > LOWAT_MAX)
                pb_run(&o, lowat.impl, "thr", o.sizes[i], thr_run, &lowat);
        }
    static const struct lat_variant plain = {"raw_tcp", "lat", 0, false};
    if ((o.tests & PB_TEST_LAT) && pb_want(&o, "raw_tcp"))
        pb_run(&o, "raw_tcp", "lat", o.lat_size, lat_run, &plain);
    if ((o.tests & PB_TEST_FANOUT) && pb_want(&o, fan.impl))
        pb_run(&o, fan.impl, "fanout", o.fanout_size, thr_run, &fan);
    return 0;
}
