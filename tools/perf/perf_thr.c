/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon_perf's throughput runs: `bench` thr (one subscriber process per
 * size, lossless) and fanout (1 KiB to several subscriber processes), and
 * the standalone `pub` and `sub` sides.
 *
 * The publisher publishes from the thread that also runs its loop (the
 * direct path: no cross-thread queue), spinning the loop between batches,
 * and keeps every connection's queue bounded through the public API, so
 * nothing ever reaches an overload policy.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

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

void perf_bench_thr(const struct perf_opts *o, const char *test, size_t size, int nsubs)
{
    char topic[64];
    snprintf(topic, sizeof topic, "/perf/%s/%zu/%d", test, size, (int)getpid());
    double cap = o->secs + 30;
    struct perf_child ch[16];
    for (int i = 0; i < nsubs; i++)
        perf_spawn_sub(&ch[i], topic, cap);
    ax_node *n = perf_node_new("perf-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, PERF_TYPE, NULL) < 0)
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
    int64_t cpu0 = ax_clock_cpu_ns(), cpuc0 = perf_cpu_children_ns();
    int64_t end = ax_clock_mono_ns() + (int64_t)(o->secs * 1e9);
    uint64_t max_msgs =
        size >= (1u << 20) ? (uint64_t)(o->quick ? 256 : 1024) * (8u << 20) / size : UINT64_MAX;
    /* Batches of publishes, then one loop round to flush: the reactor's
     * batching turns the batch into a few writev calls. */
    unsigned batch = size <= 1024 ? 256 : size <= 65536 ? 16 : 1;
    while (ax_clock_mono_ns() < end && sent < max_msgs && !perf_stop) {
        for (unsigned k = 0; k < batch; k++) {
            int rc;
            if (owned) {
                int slot = -1;
                while (slot < 0 && !perf_stop) { /* a free frame buffer, or wait for one */
                    for (int i = 0; i < RING && slot < 0; i++)
                        if (!ring.busy[i])
                            slot = i;
                    if (slot < 0)
                        ax_node_spin_once(n, 1);
                }
                if (slot < 0)
                    break;
                ring.busy[slot] = 1;
                perf_fill(ring.buf[slot], size, ++sent);
                rc = ax_pub_publish_owned(p, ring.buf[slot], size, frame_returned, &ring);
            } else {
                perf_fill(buf, size, ++sent);
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
            if ((qm < 16384 && qb < (4u << 20)) || perf_stop)
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
    struct perf_sub_report rep[16];
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
    int64_t cpu_subs = perf_cpu_children_ns() - cpuc0;
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
    printf("RESULT impl=%s test=%s size=%zu subs=%d mode=lossless sent=%" PRIu64
           " delivered=%" PRIu64 " lost=%" PRIu64 " lost_pct=%.1f ooo=%" PRIu64
           " bad=0 secs=%.3f msgs_per_s=%.0f mb_per_s=%.1f cpu_us_per_msg=%.3f",
           perf_impl, test, size, nsubs, sent, delivered, lost,
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

/* ---- standalone pub / sub ---- */

int perf_run_pub(const char *topic, size_t size, double rate, double secs)
{
    ax_node *n = perf_node_new("perf-pub");
    ax_pub *p;
    if (ax_pub_new_raw(&p, n, topic, PERF_TYPE, NULL) < 0)
        return 1;
    uint8_t *buf = calloc(1, size < 8 ? 8 : size);
    uint64_t sent = 0, last_sent = 0;
    int64_t start = ax_clock_mono_ns(), tick = start, next = start;
    int64_t cpu_last = ax_clock_cpu_ns();
    while (!perf_stop && (secs <= 0 || ax_clock_mono_ns() - start < (int64_t)(secs * 1e9))) {
        if (rate > 0) {
            next += (int64_t)(1e9 / rate);
            while (ax_clock_mono_ns() < next && !perf_stop)
                ax_node_spin_once(n, 0);
            perf_fill(buf, size, ++sent);
            ax_pub_publish_bytes(p, buf, size);
        } else {
            for (int k = 0; k < 64; k++) {
                perf_fill(buf, size, ++sent);
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

int perf_run_sub(const char *topic, double secs)
{
    ax_node *n = perf_node_new("perf-sub");
    struct perf_rx r = {0};
    ax_sub *s;
    if (ax_sub_new_raw(&s, n, topic, PERF_TYPE, perf_rx_cb, &r, NULL) < 0)
        return 1;
    int64_t start = ax_clock_mono_ns(), tick = start;
    struct perf_rx prev = r;
    while (!perf_stop && (secs <= 0 || ax_clock_mono_ns() - start < (int64_t)(secs * 1e9))) {
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
