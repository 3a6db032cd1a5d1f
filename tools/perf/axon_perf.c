/*
 * axon_perf: axon's performance program (after Cyclone DDS's ddsperf),
 * through the public API only.
 *
 *   axon_perf pub  [--topic T] [--size N] [--rate HZ] [--secs S] [--domain D]
 *   axon_perf sub  [--topic T] [--secs S] [--domain D]
 *   axon_perf ping [--size N] [--count N] [--domain D]
 *   axon_perf pong [--domain D]
 *   (pub, sub, ping, pong: --busy-poll US sets node.busy_poll,
 *    --adaptive-poll US node.adaptive_poll)
 *   axon_perf bench [--quick] [--sizes LIST] [--secs S] [--subs N] [--tests LIST]
 *
 * pub/sub/ping/pong run one side each (start them in two terminals); they
 * print one line per second. `bench` runs both sides itself (subscribers in
 * fork()ed processes) and prints RESULT lines in the format of
 * tests/bench/peers, so tools/bench.sh puts axon beside raw TCP, ZeroMQ and
 * NNG in one run:
 *   thr     one-way throughput for each size, 1 subscriber, lossless
 *           (publish() backpressure: AX_EAGAIN is retried, never dropped)
 *   fanout  1 KiB to --subs subscriber processes (default 8)
 *   lat     64-byte ping-pong round trips, three times: impl=axon (the
 *           default configuration: adaptive polling, node.adaptive_poll =
 *           50 us), impl=axon_nopoll (no polling at all: adaptive_poll = 0)
 *           and impl=axon_busypoll (node.busy_poll = 100 us)
 *   join    time from a subscriber process's start to its first message
 *
 * Nodes here run with node.threads = 0 and the publisher publishes from the
 * thread that also runs its loop (the direct path: no cross-thread queue),
 * spinning the loop between batches; a subscriber spins its own loop.
 * Every message carries a counter in its first 8 bytes; subscribers count
 * what was lost or out of order, so "lossless" is checked, not assumed.
 */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axon/axon.h"

#define TYPE "axon.perf.Bytes"

static volatile sig_atomic_t stop;
static uint32_t domain = 0;
static bool domain_set;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* node.busy_poll and node.adaptive_poll of every node this process makes
 * (--busy-poll US, --adaptive-poll US; adaptive -1: the configured value). */
static int64_t busy_poll_ns, adaptive_poll_ns = -1;

static ax_node *node_new(const char *name)
{
    struct ax_config c;
    ax_config_init(&c);
    struct ax_config_error err;
    ax_config_apply_env(&c, &err);
    snprintf(c.node_name, sizeof c.node_name, "%s-%d", name, (int)getpid());
    c.threads = 0;
    c.busy_poll_ns = busy_poll_ns;
    if (adaptive_poll_ns >= 0)
        c.adaptive_poll_ns = adaptive_poll_ns;
    c.log_level = AX_LOG_ERROR;
    if (domain_set)
        c.domain = domain;
    ax_node *n;
    int rc = ax_node_new(&n, &c);
    ax_config_fini(&c);
    if (rc < 0) {
        fprintf(stderr, "axon_perf: node: %s\n", ax_strerror(rc));
        exit(1);
    }
    return n;
}

static int64_t cpu_children_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (int64_t)ru.ru_utime.tv_sec * AX_NS_PER_S + ru.ru_utime.tv_usec * 1000 +
           (int64_t)ru.ru_stime.tv_sec * AX_NS_PER_S + ru.ru_stime.tv_usec * 1000;
}

static void spin_for(ax_node *n, int64_t ns)
{
    int64_t end = ax_clock_mono_ns() + ns;
    while (ax_clock_mono_ns() < end && !stop)
        ax_node_spin_once(n, 1);
}

/* ---- the subscriber side ---- */

struct rx {
    uint64_t received, bytes, gaps, ooo, last;
    int64_t t_first, t_last;
    int64_t lat_sum;
    int64_t lat_n;
};

static void rx_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct rx *r = user;
    (void)s;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < 8 ? m->len : 8);
    int64_t now = ax_clock_mono_ns();
    if (r->received == 0)
        r->t_first = now;
    r->t_last = now;
    if (r->received && c != r->last + 1) {
        if (c > r->last)
            r->gaps += c - r->last - 1;
        else
            r->ooo++;
    }
    r->last = c;
    r->received++;
    r->bytes += m->len;
    r->lat_sum += m->received_ns - m->source_ns;
    r->lat_n++;
}

/* A fork()ed subscriber for `bench`: reports over @out when it has every
 * message the parent says it sent (or gives up at the deadline). */
struct sub_report {
    uint64_t received, bytes, gaps, ooo;
    int64_t t_first, t_last, cpu_ns, first_msg_ns;
    int ready;
};

static void bench_subscriber(const char *topic, int in_fd, int out_fd, double cap_s)
{
    int64_t t_start = ax_clock_mono_ns();
    ax_node *n = node_new("perf-sub");
    struct rx r = {0};
    ax_sub *s;
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    int rc = ax_sub_new_raw(&s, n, topic, TYPE, rx_cb, &r, &so);
    if (rc < 0)
        _exit(1);
    struct sub_report rep = {.ready = 1};
    if (write(out_fd, &rep, sizeof rep) != sizeof rep) /* subscribed */
        _exit(1);
    uint64_t expected = UINT64_MAX;
    int64_t deadline = ax_clock_mono_ns() + (int64_t)(cap_s * 1e9);
    int64_t first_msg = 0, next_check = 0;
    while (r.received < expected && ax_clock_mono_ns() < deadline) {
        ax_node_spin_once(n, 1);
        if (!first_msg && r.received)
            first_msg = r.t_first - t_start;
        /* The parent's "done" is looked for every 5 ms, not after every
         * step: a poll() per read would be harness cost in the receiver's
         * path that the raw TCP receiver does not pay. */
        int64_t now = ax_clock_mono_ns();
        if (expected != UINT64_MAX || now < next_check)
            continue;
        next_check = now + 5 * AX_NS_PER_MS;
        struct pollfd p = {.fd = in_fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1) {
            if (read(in_fd, &expected, sizeof expected) != sizeof expected)
                break;
            /* the publisher is done: what is not here within 2 s is lost */
            int64_t d = ax_clock_mono_ns() + 2 * AX_NS_PER_S;
            if (d < deadline)
                deadline = d;
        }
    }
    rep = (struct sub_report){r.received, r.bytes,           r.gaps,    r.ooo, r.t_first,
                              r.t_last,   ax_clock_cpu_ns(), first_msg, 0};
    if (write(out_fd, &rep, sizeof rep) != sizeof rep)
        _exit(1);
    ax_sub_free(s);
    ax_node_destroy(n);
    _exit(0);
}

struct child {
    pid_t pid;
    int to, from;
};

static void spawn_sub(struct child *c, const char *topic, double cap_s)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        exit(1);
    c->pid = fork();
    if (c->pid == 0) {
        close(a[1]);
        close(b[0]);
        bench_subscriber(topic, a[0], b[1], cap_s);
    }
    close(a[0]);
    close(b[1]);
    c->to = a[1];
    c->from = b[0];
    struct sub_report rep;
    if (read(c->from, &rep, sizeof rep) != sizeof rep)
        exit(1);
}

/* ---- bench: throughput and fan-out ---- */

struct opts {
    bool quick;
    double secs;
    size_t sizes[8];
    int nsizes;
    int subs;
    char tests[64];
};

static void fill(uint8_t *p, size_t n, uint64_t c)
{
    memcpy(p, &c, n < 8 ? n : 8);
}

/* Large messages are handed over without a copy (ax_pub_publish_owned), as
 * a camera or lidar driver hands over its frame buffers: a ring of RING
 * buffers, each reused once axon gives it back through the free callback. */
#define RING 16
struct frame_ring {
    uint8_t *buf[RING];
    volatile int busy[RING];
};

static void frame_returned(void *data, void *arg)
{
    struct frame_ring *r = arg;
    for (int i = 0; i < RING; i++)
        if (r->buf[i] == data)
            r->busy[i] = 0;
}

static void bench_thr(const struct opts *o, const char *test, size_t size, int nsubs)
{
    char topic[64];
    snprintf(topic, sizeof topic, "/perf/%s/%zu/%d", test, size, (int)getpid());
    double cap = o->secs + 30;
    struct child ch[16];
    for (int i = 0; i < nsubs; i++)
        spawn_sub(&ch[i], topic, cap);
    ax_node *n = node_new("perf-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, TYPE, NULL) < 0)
        exit(1);
    struct ax_endpoint_counters c;
    int64_t wait_end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    do {
        ax_node_spin_once(n, 5);
        ax_pub_counters(p, &c);
    } while ((int)c.connections < nsubs && ax_clock_mono_ns() < wait_end);
    uint8_t *buf = calloc(1, size < 8 ? 8 : size);
    bool owned = size >= 65536;
    struct frame_ring ring = {0};
    if (owned)
        for (int i = 0; i < RING; i++)
            ring.buf[i] = calloc(1, size);
    uint64_t sent = 0;
    int64_t cpu0 = ax_clock_cpu_ns(), cpuc0 = cpu_children_ns();
    int64_t end = ax_clock_mono_ns() + (int64_t)(o->secs * 1e9);
    uint64_t max_msgs =
        size >= (1u << 20) ? (uint64_t)(o->quick ? 256 : 1024) * (8u << 20) / size : UINT64_MAX;
    /* Batches of publishes, then one loop round to flush: the reactor's
     * batching turns the batch into a few writev calls. */
    unsigned batch = size <= 1024 ? 256 : size <= 65536 ? 16 : 1;
    while (ax_clock_mono_ns() < end && sent < max_msgs && !stop) {
        for (unsigned k = 0; k < batch; k++) {
            int rc;
            if (owned) {
                int slot = -1;
                while (slot < 0 && !stop) { /* a free frame buffer, or wait for one */
                    for (int i = 0; i < RING && slot < 0; i++)
                        if (!ring.busy[i])
                            slot = i;
                    if (slot < 0)
                        ax_node_spin_once(n, 1);
                }
                if (slot < 0)
                    break;
                ring.busy[slot] = 1;
                fill(ring.buf[slot], size, ++sent);
                rc = ax_pub_publish_owned(p, ring.buf[slot], size, frame_returned, &ring);
            } else {
                fill(buf, size, ++sent);
                rc = ax_pub_publish_bytes(p, buf, size);
            }
            if (rc < 0) {
                fprintf(stderr, "axon_perf: publish failed\n");
                exit(1);
            }
        }
        /* Flush, and keep the slowest connection's queue under 4 MiB / 16k
         * messages: flow control through the public API, so nothing ever
         * reaches an overload policy. */
        uint64_t qm, qb;
        ax_node_spin_once(n, 0);
        for (;;) {
            ax_pub_backlog(p, &qm, &qb);
            if ((qm < 16384 && qb < (4u << 20)) || stop)
                break;
            ax_node_spin_once(n, 1);
        }
        ax_pub_counters(p, &c);
        uint64_t dropped = 0;
        for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
            dropped += c.drops[r];
        if (dropped) {
            fprintf(stderr, "axon_perf: drops at the publisher (%" PRIu64 ")\n", dropped);
            break;
        }
    }
    for (int i = 0; i < nsubs; i++)
        if (write(ch[i].to, &sent, sizeof sent) != sizeof sent)
            exit(1);
    /* Keep flushing until every subscriber reported. */
    struct sub_report rep[16];
    int got = 0;
    bool have[16] = {0};
    int64_t give_up = ax_clock_mono_ns() + (int64_t)(cap * 1e9);
    while (got < nsubs && ax_clock_mono_ns() < give_up) {
        ax_node_spin_once(n, 1);
        for (int i = 0; i < nsubs; i++) {
            struct pollfd pf = {.fd = ch[i].from, .events = POLLIN};
            if (!have[i] && poll(&pf, 1, 0) == 1 &&
                read(ch[i].from, &rep[i], sizeof rep[i]) == sizeof rep[i]) {
                have[i] = true;
                got++;
            }
        }
    }
    int64_t cpu_pub = ax_clock_cpu_ns() - cpu0;
    for (int i = 0; i < nsubs; i++) {
        int st;
        waitpid(ch[i].pid, &st, 0);
        close(ch[i].to);
        close(ch[i].from);
    }
    int64_t cpu_subs = cpu_children_ns() - cpuc0;
    uint64_t delivered = 0, bytes = 0, gaps = 0, ooo = 0, smin = UINT64_MAX, smax = 0;
    int64_t t0 = INT64_MAX, t1 = 0;
    for (int i = 0; i < nsubs; i++) {
        if (!have[i])
            continue;
        delivered += rep[i].received;
        bytes += rep[i].bytes;
        gaps += rep[i].gaps;
        ooo += rep[i].ooo;
        if (rep[i].received < smin)
            smin = rep[i].received;
        if (rep[i].received > smax)
            smax = rep[i].received;
        if (rep[i].received && rep[i].t_first < t0)
            t0 = rep[i].t_first;
        if (rep[i].t_last > t1)
            t1 = rep[i].t_last;
    }
    uint64_t expected = sent * (uint64_t)nsubs;
    uint64_t lost = delivered < expected ? expected - delivered : 0;
    double secs = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
    bool exact = got == nsubs && lost == 0 && ooo == 0;
    printf("RESULT impl=axon test=%s size=%zu subs=%d mode=lossless sent=%" PRIu64
           " delivered=%" PRIu64 " lost=%" PRIu64 " lost_pct=%.1f ooo=%" PRIu64
           " bad=0 secs=%.3f msgs_per_s=%.0f mb_per_s=%.1f cpu_us_per_msg=%.3f",
           test, size, nsubs, sent, delivered, lost,
           expected ? 100.0 * (double)lost / (double)expected : 0.0, ooo, secs,
           secs > 0 ? (double)delivered / secs : 0, secs > 0 ? (double)bytes / secs / 1e6 : 0,
           delivered ? (double)(cpu_pub + cpu_subs) / 1e3 / (double)delivered : 0);
    if (nsubs > 1)
        printf(" sub_min=%" PRIu64 " sub_max=%" PRIu64, smin, smax);
    printf(" check=%s%s%s\n", exact ? "ok" : "FAIL", got == nsubs ? "" : " error=receiver_missing",
           owned ? " note=zero_copy_publish" : "");
    fflush(stdout);
    free(buf);
    ax_pub_free(p);
    ax_node_destroy(n);
    if (owned)
        for (int i = 0; i < RING; i++)
            free(ring.buf[i]);
}

/* ---- ping/pong ---- */

struct pong_ctx {
    ax_pub *reply;
};

static void pong_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct pong_ctx *c = user;
    (void)s;
    ax_pub_publish_bytes(c->reply, m->data, m->len); /* on the loop thread: direct */
}

static void run_pong(const char *prefix, int ready_fd, double secs)
{
    ax_node *n = node_new("perf-pong");
    char ping[96], pong[96];
    snprintf(ping, sizeof ping, "%s/ping", prefix);
    snprintf(pong, sizeof pong, "%s/pong", prefix);
    struct pong_ctx ctx;
    ax_sub *s;
    if (ax_pub_new_raw(&ctx.reply, n, pong, TYPE, NULL) < 0 ||
        ax_sub_new_raw(&s, n, ping, TYPE, pong_cb, &ctx, NULL) < 0)
        exit(1);
    if (ready_fd >= 0) {
        char c = 1;
        if (write(ready_fd, &c, 1) != 1)
            exit(1);
    }
    int64_t end = secs > 0 ? ax_clock_mono_ns() + (int64_t)(secs * 1e9) : INT64_MAX;
    while (!stop && ax_clock_mono_ns() < end)
        ax_node_spin_once(n, 10);
    ax_sub_free(s);
    ax_pub_free(ctx.reply);
    ax_node_destroy(n);
}

static uint64_t pongs;

static void ping_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    (void)user;
    pongs++;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(const int64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

struct lat_result {
    long samples;                    /* round trips measured (0: none) */
    double p50, p99, p999, max, min; /* microseconds */
    int64_t cpu_ns;                  /* this process's CPU over the samples */
};

static void run_ping(const char *prefix, size_t size, long count, struct lat_result *res)
{
    ax_node *n = node_new("perf-ping");
    char ping[96], pong[96];
    snprintf(ping, sizeof ping, "%s/ping", prefix);
    snprintf(pong, sizeof pong, "%s/pong", prefix);
    ax_pub *p;
    ax_sub *s;
    if (ax_pub_new_raw(&p, n, ping, TYPE, NULL) < 0 ||
        ax_sub_new_raw(&s, n, pong, TYPE, ping_cb, NULL, NULL) < 0)
        exit(1);
    struct ax_endpoint_counters c, sc;
    int64_t wait_end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    do {
        ax_node_spin_once(n, 5);
        ax_pub_counters(p, &c);
        ax_sub_counters(s, &sc);
    } while ((c.connections < 1 || sc.connections < 1) && ax_clock_mono_ns() < wait_end);
    uint8_t *buf = calloc(1, size < 8 ? 8 : size);
    int64_t *rtt = malloc(sizeof(int64_t) * (size_t)count);
    long warm = count / 10 < 500 ? count / 10 : 500, n_ok = 0;
    int64_t cpu0 = 0;
    for (long i = -warm; i < count && !stop; i++) {
        if (i == 0)
            cpu0 = ax_clock_cpu_ns();
        uint64_t want = pongs + 1;
        fill(buf, size, (uint64_t)(i + warm + 1));
        int64_t t0 = ax_clock_mono_ns();
        ax_pub_publish_bytes(p, buf, size);
        int64_t give_up = t0 + 2 * AX_NS_PER_S;
        while (pongs < want && ax_clock_mono_ns() < give_up)
            ax_node_spin_once(n, 1);
        if (pongs < want)
            break;
        if (i >= 0)
            rtt[n_ok++] = ax_clock_mono_ns() - t0;
    }
    memset(res, 0, sizeof *res);
    if (n_ok) {
        qsort(rtt, (size_t)n_ok, sizeof *rtt, cmp_i64);
        res->samples = n_ok;
        res->p50 = pct(rtt, (size_t)n_ok, 0.5);
        res->p99 = pct(rtt, (size_t)n_ok, 0.99);
        res->p999 = pct(rtt, (size_t)n_ok, 0.999);
        res->max = (double)rtt[n_ok - 1] / 1e3;
        res->min = (double)rtt[0] / 1e3;
        res->cpu_ns = ax_clock_cpu_ns() - cpu0;
    }
    free(rtt);
    free(buf);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(n);
}

/* One ping-pong run: the pong side in a child process. @busy_ns is
 * node.busy_poll and @adaptive_ns node.adaptive_poll (-1: the configured
 * value) on both sides; the CPU per round trip counts both. */
static void bench_lat(const struct opts *o, const char *impl, int64_t busy_ns, int64_t adaptive_ns)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/perf/lat/%d/%s", (int)getpid(), impl);
    busy_poll_ns = busy_ns;
    adaptive_poll_ns = adaptive_ns;
    int r[2];
    if (pipe(r) < 0)
        exit(1);
    int64_t cpuc0 = cpu_children_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(r[0]);
        run_pong(prefix, r[1], o->quick ? 15 : 40);
        _exit(0);
    }
    close(r[1]);
    char c;
    if (read(r[0], &c, 1) != 1)
        exit(1);
    close(r[0]);
    long count = o->quick ? 5000 : 20000;
    struct lat_result res;
    run_ping(prefix, 64, count, &res);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    busy_poll_ns = 0;
    adaptive_poll_ns = -1;
    /* The child's CPU covers its whole life (start-up and matching too):
     * a slight overestimate, the same for both rows. */
    int64_t cpu = res.cpu_ns + (cpu_children_ns() - cpuc0);
    if (res.samples)
        printf("RESULT impl=%s test=lat size=64 samples=%ld p50_us=%.1f p99_us=%.1f "
               "p999_us=%.1f max_us=%.1f min_us=%.1f cpu_us_per_rt=%.2f busy_poll_us=%.0f "
               "adaptive_poll=%s check=%s\n",
               impl, res.samples, res.p50, res.p99, res.p999, res.max, res.min,
               (double)cpu / 1e3 / (double)res.samples, (double)busy_ns / 1e3,
               adaptive_ns < 0    ? "configured"
               : adaptive_ns == 0 ? "off"
                                  : "set",
               res.samples == count ? "ok" : "FAIL");
    else
        printf("RESULT impl=%s test=lat size=64 check=FAIL error=no_samples\n", impl);
    fflush(stdout);
}

/* Time from a subscriber process's start to its first message, with a
 * publisher already running at 1 kHz. Trials are 250 ms apart: each join
 * makes the publisher's node send its discovery state, which is limited to
 * 20 rounds a second with a burst of 4 (docs/discovery.md), so joins back
 * to back measure that limit (up to ~50 ms each once the burst is spent)
 * rather than a subscriber starting in a running system. */
static void bench_join(const struct opts *o)
{
    char topic[64];
    snprintf(topic, sizeof topic, "/perf/join/%d", (int)getpid());
    ax_node *n = node_new("perf-join-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, TYPE, NULL) < 0)
        exit(1);
    int trials = o->quick ? 3 : 7;
    int64_t t[16];
    int ok = 0;
    for (int i = 0; i < trials; i++) {
        struct child ch;
        int a[2], b[2];
        if (pipe(a) < 0 || pipe(b) < 0)
            exit(1);
        ch.pid = fork();
        if (ch.pid == 0) {
            close(a[1]);
            close(b[0]);
            bench_subscriber(topic, a[0], b[1], 10);
        }
        close(a[0]);
        close(b[1]);
        uint64_t one = 1, seq = 0;
        uint8_t buf[64] = {0};
        struct sub_report rep;
        bool ready = false, done = false;
        int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
        while (!done && ax_clock_mono_ns() < end) {
            fill(buf, sizeof buf, ++seq);
            ax_pub_publish_bytes(p, buf, sizeof buf);
            spin_for(n, AX_NS_PER_MS);
            struct pollfd pf = {.fd = b[0], .events = POLLIN};
            if (poll(&pf, 1, 0) == 1 && read(b[0], &rep, sizeof rep) == sizeof rep) {
                if (!ready) {
                    ready = true;
                    if (write(a[1], &one, sizeof one) != sizeof one) /* one message is enough */
                        break;
                } else {
                    done = true;
                }
            }
        }
        int st;
        waitpid(ch.pid, &st, 0);
        close(a[1]);
        close(b[0]);
        if (done && rep.first_msg_ns > 0 && ok < 16)
            t[ok++] = rep.first_msg_ns;
        spin_for(n, 250 * AX_NS_PER_MS); /* the node runs on meanwhile */
    }
    if (ok) {
        qsort(t, (size_t)ok, sizeof t[0], cmp_i64);
        printf("JOIN impl=axon trials=%d first_message_ms_median=%.1f max=%.1f (from the "
               "subscriber process's start, publisher at 1 kHz, one host)\n",
               ok, (double)t[ok / 2] / 1e6, (double)t[ok - 1] / 1e6);
    }
    fflush(stdout);
    ax_pub_free(p);
    ax_node_destroy(n);
}

static size_t parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (*e == 'k' || *e == 'K')
        v *= 1024;
    else if (*e == 'm' || *e == 'M')
        v *= 1024 * 1024;
    return (size_t)v;
}

static int bench(int argc, char **argv)
{
    struct opts o = {.secs = 1.0, .subs = 8};
    snprintf(o.tests, sizeof o.tests, "thr,fanout,lat,join");
    const size_t defaults[] = {64, 1024, 65536, 1 << 20, 8 << 20};
    for (int i = 0; i < 5; i++)
        o.sizes[o.nsizes++] = defaults[i];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--quick") == 0) {
            o.quick = true;
            o.secs = 0.3;
        } else if (strcmp(a, "--secs") == 0) {
            o.secs = atof(v);
            i++;
        } else if (strcmp(a, "--subs") == 0) {
            o.subs = atoi(v);
            i++;
        } else if (strcmp(a, "--tests") == 0) {
            snprintf(o.tests, sizeof o.tests, "%s", v);
            i++;
        } else if (strcmp(a, "--sizes") == 0) {
            o.nsizes = 0;
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && o.nsizes < 8;
                 t = strtok_r(NULL, ",", &save))
                o.sizes[o.nsizes++] = parse_size(t);
            free(copy);
            i++;
        } else {
            /* options of the peer programs this one does not use are ignored,
             * so tools/bench.sh can pass the same arguments to every program */
            if (i + 1 < argc && argv[i + 1][0] != '-')
                i++;
        }
    }
    if (o.subs < 1 || o.subs > 16)
        o.subs = 8;
    if (strstr(o.tests, "thr"))
        for (int i = 0; i < o.nsizes; i++)
            bench_thr(&o, "thr", o.sizes[i], 1);
    if (strstr(o.tests, "fanout"))
        bench_thr(&o, "fanout", 1024, o.subs);
    if (strstr(o.tests, "lat")) {
        bench_lat(&o, "axon", 0, -1);
        bench_lat(&o, "axon_nopoll", 0, 0);
        bench_lat(&o, "axon_busypoll", 100 * AX_NS_PER_US, -1);
    }
    if (strstr(o.tests, "join"))
        bench_join(&o);
    return 0;
}

/* ---- standalone pub / sub ---- */

static int run_pub(const char *topic, size_t size, double rate, double secs)
{
    ax_node *n = node_new("perf-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, TYPE, NULL) < 0)
        return 1;
    uint8_t *buf = calloc(1, size < 8 ? 8 : size);
    uint64_t sent = 0, last_sent = 0;
    int64_t start = ax_clock_mono_ns(), tick = start, next = start;
    int64_t cpu_last = ax_clock_cpu_ns();
    while (!stop && (secs <= 0 || ax_clock_mono_ns() - start < (int64_t)(secs * 1e9))) {
        if (rate > 0) {
            next += (int64_t)(1e9 / rate);
            while (ax_clock_mono_ns() < next && !stop)
                ax_node_spin_once(n, 0);
            fill(buf, size, ++sent);
            ax_pub_publish_bytes(p, buf, size);
        } else {
            for (int k = 0; k < 64; k++) {
                fill(buf, size, ++sent);
                ax_pub_publish_bytes(p, buf, size);
            }
            ax_node_spin_once(n, 0);
        }
        int64_t now = ax_clock_mono_ns();
        if (now - tick >= AX_NS_PER_S) {
            struct ax_endpoint_counters c;
            ax_pub_counters(p, &c);
            double dt = (double)(now - tick) / 1e9;
            int64_t cpu = ax_clock_cpu_ns();
            uint64_t d = 0;
            for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
                d += c.drops[r];
            printf("pub %s: %.0f msg/s, %.1f MB/s, %u subscriber(s), %" PRIu64
                   " dropped, %.2f us CPU/msg\n",
                   topic, (double)(sent - last_sent) / dt,
                   (double)(sent - last_sent) * (double)size / dt / 1e6, c.connections, d,
                   sent > last_sent ? (double)(cpu - cpu_last) / 1e3 / (double)(sent - last_sent)
                                    : 0.0);
            fflush(stdout);
            tick = now;
            last_sent = sent;
            cpu_last = cpu;
        }
    }
    free(buf);
    ax_pub_free(p);
    ax_node_destroy(n);
    return 0;
}

static int run_sub(const char *topic, double secs)
{
    ax_node *n = node_new("perf-sub");
    struct rx r = {0};
    ax_sub *s;
    if (ax_sub_new_raw(&s, n, topic, TYPE, rx_cb, &r, NULL) < 0)
        return 1;
    int64_t start = ax_clock_mono_ns(), tick = start;
    struct rx prev = r;
    while (!stop && (secs <= 0 || ax_clock_mono_ns() - start < (int64_t)(secs * 1e9))) {
        ax_node_spin_once(n, 10);
        int64_t now = ax_clock_mono_ns();
        if (now - tick >= AX_NS_PER_S) {
            double dt = (double)(now - tick) / 1e9;
            uint64_t dn = r.received - prev.received;
            printf("sub %s: %.0f msg/s, %.1f MB/s, latency mean %.1f us, %" PRIu64
                   " lost so far, %" PRIu64 " out of order\n",
                   topic, (double)dn / dt, (double)(r.bytes - prev.bytes) / dt / 1e6,
                   r.lat_n > prev.lat_n
                       ? (double)(r.lat_sum - prev.lat_sum) / 1e3 / (double)(r.lat_n - prev.lat_n)
                       : 0.0,
                   r.gaps, r.ooo);
            fflush(stdout);
            prev = r;
            tick = now;
        }
    }
    ax_sub_free(s);
    ax_node_destroy(n);
    return 0;
}

static void usage(void)
{
    printf("usage:\n"
           "  axon_perf pub  [--topic T] [--size N] [--rate HZ] [--secs S] [--domain D]\n"
           "  axon_perf sub  [--topic T] [--secs S] [--domain D]\n"
           "  axon_perf ping [--size N] [--count N] [--domain D]\n"
           "  axon_perf pong [--secs S] [--domain D]\n"
           "  axon_perf bench [--quick] [--sizes 64,1k,1m] [--secs S] [--subs N]\n"
           "                  [--tests thr,fanout,lat,join]\n"
           "pub, sub, ping and pong take --busy-poll US (node.busy_poll: poll this long\n"
           "before sleeping; default 0) and --adaptive-poll US (node.adaptive_poll: poll\n"
           "after sending while answers come faster than this; default 50). bench measures\n"
           "lat with the defaults, with no polling, and with busy polling for 100 us.\n"
           "example: axon_perf sub & axon_perf pub --size 1k --rate 1000\n");
}

int main(int argc, char **argv)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "bench") == 0)
        return bench(argc - 1, argv + 1);
    const char *topic = "/perf/data";
    size_t size = 64;
    double rate = 0, secs = 0;
    long count = 10000;
    static const struct option opts[] = {{"topic", 1, 0, 't'},     {"size", 1, 0, 's'},
                                         {"rate", 1, 0, 'r'},      {"secs", 1, 0, 'S'},
                                         {"count", 1, 0, 'c'},     {"domain", 1, 0, 'd'},
                                         {"busy-poll", 1, 0, 'b'}, {"adaptive-poll", 1, 0, 'a'},
                                         {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            topic = optarg;
            break;
        case 's':
            size = parse_size(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'S':
            secs = atof(optarg);
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 'd':
            domain = (uint32_t)atol(optarg);
            domain_set = true;
            break;
        case 'b':
            busy_poll_ns = (int64_t)(atof(optarg) * 1e3);
            break;
        case 'a':
            adaptive_poll_ns = (int64_t)(atof(optarg) * 1e3);
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (strcmp(mode, "pub") == 0)
        return run_pub(topic, size, rate, secs);
    if (strcmp(mode, "sub") == 0)
        return run_sub(topic, secs);
    if (strcmp(mode, "ping") == 0) {
        struct lat_result res;
        run_ping("/perf/pp", size, count, &res);
        if (!res.samples) {
            printf("ping %zu B: no round trip (is `axon_perf pong` running?)\n", size);
            return 1;
        }
        printf("ping %zu B: %ld round trips: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f "
               "us, CPU %.1f us per round trip (this side)\n",
               size, res.samples, res.p50, res.p99, res.p999, res.max,
               (double)res.cpu_ns / 1e3 / (double)res.samples);
        return 0;
    }
    if (strcmp(mode, "pong") == 0) {
        run_pong("/perf/pp", -1, secs);
        return 0;
    }
    usage();
    return 2;
}
