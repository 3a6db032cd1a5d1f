/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon_perf's latency runs: the `ping` and `pong` sides, and `bench` lat,
 * which runs both (the pong side in a child process) and reports the
 * round-trip percentiles and the CPU per round trip of both sides.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

struct pong_ctx {
    ax_pub *reply;
};

static void pong_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct pong_ctx *c = user;
    (void)s;
    ax_pub_publish_bytes(c->reply, m->data, m->len); /* on the loop thread: direct */
}

void perf_run_pong(const char *prefix, int ready_fd, double secs)
{
    ax_node *n = perf_node_new("perf-pong");
    char ping[96], pong[96];
    snprintf(ping, sizeof ping, "%s/ping", prefix);
    snprintf(pong, sizeof pong, "%s/pong", prefix);
    struct pong_ctx ctx;
    ax_sub *s;
    if (ax_pub_new_raw(&ctx.reply, n, pong, PERF_TYPE, NULL) < 0 ||
        ax_sub_new_raw(&s, n, ping, PERF_TYPE, pong_cb, &ctx, NULL) < 0)
        exit(1);
    if (ready_fd >= 0) {
        char c = 1;
        if (write(ready_fd, &c, 1) != 1)
            exit(1);
    }
    int64_t end = secs > 0 ? ax_clock_mono_ns() + (int64_t)(secs * 1e9) : INT64_MAX;
    while (!perf_stop && ax_clock_mono_ns() < end)
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

static double pct(const int64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

void perf_run_ping(const char *prefix, size_t size, long count, struct perf_lat_result *res)
{
    ax_node *n = perf_node_new("perf-ping");
    char ping[96], pong[96];
    snprintf(ping, sizeof ping, "%s/ping", prefix);
    snprintf(pong, sizeof pong, "%s/pong", prefix);
    ax_pub *p;
    ax_sub *s;
    if (ax_pub_new_raw(&p, n, ping, PERF_TYPE, NULL) < 0 ||
        ax_sub_new_raw(&s, n, pong, PERF_TYPE, ping_cb, NULL, NULL) < 0)
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
    for (long i = -warm; i < count && !perf_stop; i++) {
        if (i == 0)
            cpu0 = ax_clock_cpu_ns();
        uint64_t want = pongs + 1;
        perf_fill(buf, size, (uint64_t)(i + warm + 1));
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
        qsort(rtt, (size_t)n_ok, sizeof *rtt, perf_cmp_i64);
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
void perf_bench_lat(const struct perf_opts *o, const char *impl, int64_t busy_ns,
                    int64_t adaptive_ns)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/perf/lat/%d/%s", (int)getpid(), impl);
    perf_busy_poll_ns = busy_ns;
    perf_adaptive_poll_ns = adaptive_ns;
    int r[2];
    if (pipe(r) < 0)
        exit(1);
    int64_t cpuc0 = perf_cpu_children_ns();
    pid_t pid = fork();
    if (pid == 0) {
        close(r[0]);
        perf_run_pong(prefix, r[1], o->quick ? 15 : 40);
        _exit(0);
    }
    close(r[1]);
    char c;
    if (read(r[0], &c, 1) != 1)
        exit(1);
    close(r[0]);
    long count = o->quick ? 5000 : 20000;
    struct perf_lat_result res;
    perf_run_ping(prefix, 64, count, &res);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    perf_busy_poll_ns = 0;
    perf_adaptive_poll_ns = -1;
    /* The child's CPU covers its whole life (start-up and matching too):
     * a slight overestimate, the same for both rows. */
    int64_t cpu = res.cpu_ns + (perf_cpu_children_ns() - cpuc0);
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
