/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_transport: axon's framed TCP transport between two processes on
 * loopback (a program, not a test).
 *
 *   bench_transport [--quick]
 *
 * One-way throughput for 64 B, 1 KiB, 64 KiB, 1 MiB and 8 MiB payloads, and
 * 64-byte ping-pong round trips. The receiver is a fork()ed process with its
 * own loop; the port is chosen by the kernel. The sender keeps its write
 * queue topped up to 4 MiB and lets the reactor batch frames into writev
 * calls, exactly as a publisher would. One payload buffer is sent N times
 * (refcounted, never copied), as a raw-TCP benchmark writes one static buffer.
 *
 * Output: one RESULT line per measurement, in the format of
 * tests/bench/peers (tools/bench.sh puts them beside raw TCP, ZeroMQ, NNG):
 *   RESULT impl=axon_transport test=thr size=... sent=... delivered=... lost=0
 *          secs=... msgs_per_s=... mb_per_s=... cpu_us_per_msg=...
 *   RESULT impl=axon_transport test=lat size=64 samples=... p50_us=...
 *          p99_us=... p999_us=... max_us=...
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axon/axon.h"
#include "transport/stream/ax__stream.h"

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #expr, ax_err_name(rc_));     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

enum { MODE_THR = 1, MODE_LAT = 2 };
#define HIGH_WATER (4u << 20)

/* ---- receiver (child process) ---- */

struct rx {
    ax_loop *loop;
    ax__link *c;
    int mode;
    uint64_t expect, got;
    bool done;
};

static void rx_frame(ax__link *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    struct rx *r = user;
    (void)buf;
    if (r->mode == MODE_LAT) {
        struct ax__frame_hdr e = {.type = AX__FRAME_DATA, .seq = h->seq};
        ax__link_send_bytes(c, &e, payload, h->payload_len);
        return;
    }
    if (++r->got == r->expect) {
        /* Tell the sender, with our CPU time, that everything arrived. */
        int64_t cpu = ax_clock_cpu_ns();
        struct ax__frame_hdr e = {.type = AX__FRAME_DATA, .seq = r->got};
        ax__link_send_bytes(c, &e, &cpu, sizeof cpu);
    }
}

static void rx_close(ax__link *c, int status, void *user)
{
    (void)c;
    (void)status;
    ((struct rx *)user)->done = true;
}

static const struct ax__link_callbacks rx_cbs = {.on_frame = rx_frame, .on_close = rx_close};

static struct rx g_rx;

static void rx_accept(ax__stream_listener *l, int fd, const struct ax__addr *peer, void *user)
{
    struct rx *r = user;
    (void)peer;
    CHECK(ax__stream_conn_new(r->loop, fd, NULL, &rx_cbs, r, &r->c));
    ax__stream_listener_close(l);
}

static void receiver(int port_pipe, int mode, uint64_t expect)
{
    g_rx = (struct rx){.mode = mode, .expect = expect};
    CHECK(ax_loop_new(&g_rx.loop, NULL));
    struct ax__addr a;
    ax__addr_from_host(&a, "127.0.0.1", 0);
    ax__stream_listener *l;
    CHECK(ax__stream_listen(g_rx.loop, &a, 4, rx_accept, &g_rx, &l));
    uint16_t port = ax__stream_listener_port(l);
    if (write(port_pipe, &port, sizeof port) != sizeof port)
        _exit(1);
    close(port_pipe);
    int64_t end = ax_clock_mono_ns() + 120 * AX_NS_PER_S; /* bounded, whatever happens */
    while (!g_rx.done && ax_clock_mono_ns() < end)
        ax_loop_step(g_rx.loop, 100);
    _exit(0);
}

static pid_t spawn_receiver(int mode, uint64_t expect, uint16_t *port)
{
    int p[2];
    if (pipe(p) < 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        receiver(p[1], mode, expect);
    }
    close(p[1]);
    if (read(p[0], port, sizeof *port) != sizeof *port) {
        fprintf(stderr, "receiver did not start\n");
        exit(1);
    }
    close(p[0]);
    return pid;
}

/* ---- sender ---- */

struct tx {
    ax_loop *loop;
    ax__link *c;
    bool ready, closed, acked;
    int64_t peer_cpu;
    uint64_t echoes;
    int connect_status;
};

static void tx_ready(ax__link *c, const struct ax__link_peer *peer, void *user)
{
    (void)c;
    (void)peer;
    ((struct tx *)user)->ready = true;
}

static void tx_frame(ax__link *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    struct tx *t = user;
    (void)c;
    (void)buf;
    if (h->payload_len == sizeof(int64_t)) {
        memcpy(&t->peer_cpu, payload, sizeof t->peer_cpu);
        t->acked = true;
    }
    t->echoes++;
}

static void tx_close(ax__link *c, int status, void *user)
{
    (void)c;
    (void)status;
    ((struct tx *)user)->closed = true;
}

static const struct ax__link_callbacks tx_cbs = {
    .on_ready = tx_ready, .on_frame = tx_frame, .on_close = tx_close};

static void tx_connected(ax__stream_connector *cn, int status, int fd, void *user)
{
    struct tx *t = user;
    (void)cn;
    t->connect_status = status;
    if (status == 0)
        CHECK(ax__stream_conn_new(t->loop, fd, NULL, &tx_cbs, t, &t->c));
}

static void tx_open(struct tx *t, uint16_t port)
{
    memset(t, 0, sizeof *t);
    CHECK(ax_loop_new(&t->loop, NULL));
    struct ax__addr a;
    ax__addr_from_host(&a, "127.0.0.1", port);
    t->connect_status = 1;
    CHECK(ax__stream_connect(t->loop, &a, 5 * AX_NS_PER_S, tx_connected, t, NULL));
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    while (!t->ready && ax_clock_mono_ns() < end)
        ax_loop_step(t->loop, 100);
    if (!t->ready) {
        fprintf(stderr, "connect failed: %s\n", ax_err_name(t->connect_status));
        exit(1);
    }
}

static void tx_close_all(struct tx *t, pid_t child)
{
    ax__link_close(t->c, AX__LINK_GRACEFUL, 0);
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    while (!t->closed && ax_clock_mono_ns() < end)
        ax_loop_step(t->loop, 100);
    int st;
    waitpid(child, &st, 0);
    while (ax_loop_free(t->loop) == AX_EBUSY)
        ax_loop_step(t->loop, 10);
}

static void throughput(size_t size, uint64_t n)
{
    uint16_t port;
    pid_t child = spawn_receiver(MODE_THR, n, &port);
    struct tx t;
    tx_open(&t, port);
    ax__buf *payload;
    CHECK(ax__buf_new(size, &payload));
    memset(payload->data, 0x5a, size);
    struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1};
    struct ax__link_stats st;

    int64_t cpu0 = ax_clock_cpu_ns();
    int64_t t0 = ax_clock_mono_ns();
    uint64_t sent = 0;
    while (sent < n && !t.closed) {
        ax__link_get_stats(t.c, &st);
        while (sent < n && st.queued_bytes < HIGH_WATER) {
            h.seq = ++sent;
            int rc = ax__link_send(t.c, &h, payload);
            if (rc != 0) {
                fprintf(stderr, "send: %s\n", ax_err_name(rc));
                exit(1);
            }
            st.queued_bytes += size + AX__FRAME_HEADER_SIZE;
        }
        ax_loop_step(t.loop, -1);
    }
    int64_t end = ax_clock_mono_ns() + 60 * AX_NS_PER_S;
    while (!t.acked && !t.closed && ax_clock_mono_ns() < end)
        ax_loop_step(t.loop, 100);
    int64_t secs_ns = ax_clock_mono_ns() - t0;
    int64_t cpu = ax_clock_cpu_ns() - cpu0 + t.peer_cpu;
    ax__buf_release(payload);
    ax__link_get_stats(t.c, &st);
    double secs = (double)secs_ns / 1e9;
    printf("RESULT impl=axon_transport test=thr size=%zu subs=1 mode=lossless sent=%llu "
           "delivered=%llu lost=%llu lost_pct=%.1f secs=%.3f msgs_per_s=%.0f mb_per_s=%.1f "
           "cpu_us_per_msg=%.3f writevs=%llu check=%s\n",
           size, (unsigned long long)n, (unsigned long long)(t.acked ? n : 0),
           (unsigned long long)(t.acked ? 0 : n), t.acked ? 0.0 : 100.0, secs, (double)n / secs,
           (double)n * (double)size / secs / 1e6, (double)cpu / 1e3 / (double)n,
           (unsigned long long)st.writes, t.acked ? "ok" : "FAIL");
    fflush(stdout);
    tx_close_all(&t, child);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void latency(size_t size, int samples)
{
    uint16_t port;
    pid_t child = spawn_receiver(MODE_LAT, 0, &port);
    struct tx t;
    tx_open(&t, port);
    uint8_t payload[64];
    memset(payload, 0x42, sizeof payload);
    int64_t *rtt = malloc(sizeof(int64_t) * (size_t)samples);
    struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1};
    for (int i = -1000; i < samples; i++) { /* 1000 warm-up rounds */
        uint64_t want = t.echoes + 1;
        int64_t s = ax_clock_mono_ns();
        h.seq = (uint64_t)(i + 1001);
        CHECK(ax__link_send_bytes(t.c, &h, payload, size));
        while (t.echoes < want && !t.closed)
            ax_loop_step(t.loop, -1);
        if (i >= 0)
            rtt[i] = ax_clock_mono_ns() - s;
    }
    qsort(rtt, (size_t)samples, sizeof *rtt, cmp_i64);
    printf("RESULT impl=axon_transport test=lat size=%zu samples=%d p50_us=%.2f p99_us=%.2f "
           "p999_us=%.2f max_us=%.2f check=ok\n",
           size, samples, rtt[samples / 2] / 1e3, rtt[samples * 99 / 100] / 1e3,
           rtt[samples * 999 / 1000] / 1e3, rtt[samples - 1] / 1e3);
    fflush(stdout);
    free(rtt);
    tx_close_all(&t, child);
}

int main(int argc, char **argv)
{
    bool quick = false; /* other options of tools/bench.sh are ignored */
    for (int i = 1; i < argc; i++)
        quick = quick || strcmp(argv[i], "--quick") == 0;
    signal(SIGPIPE, SIG_IGN);
    ax_log_set_level(AX_LOG_ERROR);
    struct {
        size_t size;
        uint64_t n;
    } runs[] = {
        {64, 5000000}, {1024, 2000000}, {65536, 60000}, {1 << 20, 4000}, {8 << 20, 500},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        throughput(runs[i].size, quick ? runs[i].n / 10 : runs[i].n);
    latency(64, quick ? 5000 : 50000);
    return 0;
}
