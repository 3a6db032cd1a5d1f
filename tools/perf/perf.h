/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tools/perf/perf.h: what the parts of axon_perf share.
 *
 *   perf_common.c  nodes, clocks, message counting, the fork()ed
 *                  subscriber process, small helpers
 *   perf_thr.c     throughput: bench thr and fanout; standalone pub and sub
 *   perf_lat.c     latency: ping and pong; bench lat
 *   perf_join.c    bench join: a subscriber process's first message
 *   axon_perf.c    main: arguments, usage, which runs `bench` makes
 *
 * Each file calls only perf_common.c and the library; axon_perf.c calls
 * them all. Like the CLI, axon_perf links the shared library and uses only
 * the public API (<axon/axon.h>).
 */
#ifndef AXON_PERF_H
#define AXON_PERF_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "axon/axon.h"

#define PERF_TYPE "axon.perf.Bytes"

/* ---- perf_common.c ---- */

/* Set by SIGINT and SIGTERM: every run stops at its next check. */
extern volatile sig_atomic_t perf_stop;
/* --domain D, for every node this process makes. */
extern uint32_t perf_domain;
extern bool perf_domain_set;
/* node.busy_poll and node.adaptive_poll of every node this process makes
 * (--busy-poll US, --adaptive-poll US; adaptive -1: the configured value). */
extern int64_t perf_busy_poll_ns, perf_adaptive_poll_ns;
/* bench --transport tcp|tls: shared memory off, and TLS (PSK, from a domain
 * key made for the run, perf_key_file) on; rows then say perf_impl
 * ("axon_tcp", "axon_tls") instead of "axon". */
enum perf_transport { PERF_DEFAULT, PERF_TCP, PERF_TLS };
extern enum perf_transport perf_transport;
extern const char *perf_impl;
extern char perf_key_file[64];

/* A node named @name-<pid> with node.threads = 0 and the settings above;
 * exits the process if it cannot be made. */
ax_node *perf_node_new(const char *name);
/* CPU time of the children waited for so far (user + system), in ns. */
int64_t perf_cpu_children_ns(void);
/* Spin @n's loop for @ns (or until perf_stop). */
void perf_spin_for(ax_node *n, int64_t ns);

/* What a subscriber counted: every message carries a counter in its first
 * 8 bytes, so losses and reordering are counted, not assumed. */
struct perf_rx {
    uint64_t received, bytes, gaps, ooo, last;
    int64_t t_first, t_last;
    int64_t lat_sum;
    int64_t lat_n;
};

/* The subscription callback that counts into a struct perf_rx (@user). */
void perf_rx_cb(ax_sub *s, const struct ax_msg *m, void *user);

/* A fork()ed subscriber for `bench`: reports over @out when it has every
 * message the parent says it sent (or gives up at the deadline). */
struct perf_sub_report {
    uint64_t received, bytes, gaps, ooo;
    int64_t t_first, t_last, cpu_ns, first_msg_ns;
    int ready;
};

/* The child's side: subscribes to @topic, writes a ready report to @out_fd,
 * reads the number of messages sent from @in_fd, writes its final report
 * and exits (never returns). */
void perf_bench_subscriber(const char *topic, int in_fd, int out_fd, double cap_s);

struct perf_child {
    pid_t pid;
    int to, from;
};

/* Fork a subscriber on @topic and wait until it has subscribed. */
void perf_spawn_sub(struct perf_child *c, const char *topic, double cap_s);

/* Write the counter @c into the first (up to 8) bytes of a message. */
void perf_fill(uint8_t *p, size_t n, uint64_t c);
/* qsort() comparison of int64_t values. */
int perf_cmp_i64(const void *a, const void *b);
/* "64", "1k", "1.5M" → bytes. */
size_t perf_parse_size(const char *s);

/* The options of `bench`. */
struct perf_opts {
    bool quick;
    double secs;
    size_t sizes[8];
    int nsizes;
    int subs;
    char tests[64];
};

/* ---- perf_thr.c ---- */

/* One throughput run of @size-byte messages to @nsubs subscriber
 * processes; prints a RESULT line. */
void perf_bench_thr(const struct perf_opts *o, const char *test, size_t size, int nsubs);
/* The standalone sides: print one line per second; 0, or 1 on failure. */
int perf_run_pub(const char *topic, size_t size, double rate, double secs);
int perf_run_sub(const char *topic, double secs);

/* ---- perf_lat.c ---- */

struct perf_lat_result {
    long samples;                    /* round trips measured (0: none) */
    double p50, p99, p999, max, min; /* microseconds */
    int64_t cpu_ns;                  /* this process's CPU over the samples */
};

/* Answer every message on @prefix/ping on @prefix/pong, for @secs (0:
 * until perf_stop); writes one byte to @ready_fd (if >= 0) once ready. */
void perf_run_pong(const char *prefix, int ready_fd, double secs);
/* @count round trips of @size bytes against a pong on @prefix. */
void perf_run_ping(const char *prefix, size_t size, long count, struct perf_lat_result *res);
/* One ping-pong run with the pong side in a child process; prints a
 * RESULT line. */
void perf_bench_lat(const struct perf_opts *o, const char *impl, int64_t busy_ns,
                    int64_t adaptive_ns);

/* ---- perf_join.c ---- */

/* Time from a subscriber process's start to its first message; prints a
 * JOIN line. */
void perf_bench_join(const struct perf_opts *o);

#endif /* AXON_PERF_H */
