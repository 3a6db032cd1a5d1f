/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_common.h: what the side-by-side peer benchmarks (bench_raw_tcp,
 * bench_zmq, bench_nng, bench_iceoryx, and axon's bench_shm) share:
 * options, the message header, the receiver's sequence check, child
 * processes with a control channel, run isolation, latency percentiles,
 * the same-host tests' page touching and the RESULT line format.
 *
 * Design note.
 *
 * Process model. main() never touches ZeroMQ or NNG. Each measurement runs
 * in a forked "measurer" process in its own process group (pb_run), which
 * forks its receivers first (pb_spawn), only then creates the library
 * context, binds port 0 on 127.0.0.1 and passes the port to each receiver
 * over an AF_UNIX SOCK_SEQPACKET control socket. So no process forks while a
 * library's threads exist, runs can go in parallel (kernel-chosen ports), and
 * when a run overruns its wall-clock cap main() kills the whole group.
 * Children die with their parent (PR_SET_PDEATHSIG).
 *
 * Messages. Every payload starts with a 16-byte header: a sequence number
 * and an auxiliary word. Data messages are numbered 0, 1, 2, ...; the
 * receiver counts delivered, gaps (lost), out-of-order or duplicated and
 * malformed messages. Two sequence numbers are reserved: WARMUP (sent before
 * the measurement until every subscriber has seen one and said so: the cure
 * for ZeroMQ's slow joiner, without a sleep) and END (aux = number of data
 * messages sent). A lossy sender repeats END until every receiver has
 * reported; every receive has a timeout and every receiver a hard deadline,
 * so a dropped END costs time but never hangs.
 *
 * Bounded runs. A throughput sender stops at the first of: --count messages,
 * --max-mb of payload, --secs of sending. Everything also stops at --cap.
 *
 * Times are CLOCK_MONOTONIC (system-wide, so a receiver's timestamps compare
 * with its sender's); CPU time is CLOCK_PROCESS_CPUTIME_ID of each process
 * (all its threads, so ZeroMQ's and NNG's I/O threads count).
 */
#ifndef AXON_BENCH_PEER_COMMON_H
#define AXON_BENCH_PEER_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "axon/clock.h"

#define PB_HDR        16 /* sequence number + aux, at the start of every payload */
#define PB_SEQ_END    UINT64_MAX
#define PB_SEQ_WARMUP (UINT64_MAX - 1)
#define PB_MAX_SIZES  16
#define PB_MAX_SUBS   32
#define PB_MAX_SIZE   ((size_t)64 << 20)

enum { PB_TEST_THR = 1u, PB_TEST_LAT = 2u, PB_TEST_FANOUT = 4u };

struct pb_opts {
    unsigned tests;             /* PB_TEST_* mask */
    size_t sizes[PB_MAX_SIZES]; /* throughput payload sizes */
    int nsizes;
    size_t lat_size;      /* ping-pong payload size */
    size_t fanout_size;   /* fan-out payload size */
    int subs;             /* fan-out subscribers */
    double secs;          /* sending time per throughput run */
    double lat_secs;      /* time cap of the latency sampling */
    double cap;           /* hard wall-clock cap per run */
    uint64_t count;       /* max messages per run (0: no limit) */
    uint64_t max_bytes;   /* max payload bytes per run */
    uint64_t lat_samples; /* max latency samples */
    const char *variants; /* comma list of variants to run, NULL: all */
    bool quick;
};

/*
 * pb_parse() - fill @o from the command line (defaults first). @prog and
 * @variants (a NULL-terminated list of "name: description") make the usage
 * text. Exits on --help, --list or a bad argument.
 */
void pb_parse(struct pb_opts *o, int argc, char **argv, const char *prog,
              const char *const *variants);

/* pb_want() - whether variant @name is selected by --variants. */
bool pb_want(const struct pb_opts *o, const char *name);

static inline int64_t pb_now(void)
{
    return ax_clock_mono_ns();
}

static inline int64_t pb_cpu(void)
{
    return ax_clock_cpu_ns();
}

static inline int64_t pb_deadline(double secs)
{
    return pb_now() + (int64_t)(secs * 1e9);
}

/* Header access (host byte order: both ends run on this host). */
void pb_hdr_put(void *payload, uint64_t seq, uint64_t aux);
uint64_t pb_hdr_seq(const void *payload);
uint64_t pb_hdr_aux(const void *payload);

/* What one receiver saw. Sent whole over the control channel. */
struct pb_rx {
    uint64_t size;      /* expected payload size */
    uint64_t next;      /* next expected sequence number */
    uint64_t delivered; /* data messages received */
    uint64_t bytes;     /* their payload bytes */
    uint64_t gaps;      /* sequence numbers skipped (lost in flight) */
    uint64_t ooo;       /* out of order or duplicated */
    uint64_t bad;       /* wrong size or too short */
    uint64_t sent;      /* data messages sent, from END (0 if no END arrived) */
    int64_t t_first;    /* CLOCK_MONOTONIC of the first and last data message; */
    int64_t t_last;     /* callers stamp these, see pb_rx_stamp() */
    int64_t cpu_ns;     /* receiver process CPU time over the run */
    uint32_t got_end;
    uint32_t timed_out; /* hit its hard deadline before END */
};

enum pb_kind { PB_DATA, PB_WARMUP, PB_END };

void pb_rx_init(struct pb_rx *rx, size_t size);

/*
 * pb_rx_see() - account one received message whose first PB_HDR bytes are
 * at @hdr and whose payload length is @len. Does not read the clock: call
 * pb_rx_stamp() once per receive call that returned data.
 */
enum pb_kind pb_rx_see(struct pb_rx *rx, const void *hdr, size_t len);

static inline void pb_rx_stamp(struct pb_rx *rx, int64_t now)
{
    if (rx->t_first == 0)
        rx->t_first = now;
    rx->t_last = now;
}

/* ---- control channel (AF_UNIX SOCK_SEQPACKET, one struct per message) ---- */

enum pb_ctl_type { PB_CTL_PORT = 1, PB_CTL_READY, PB_CTL_RESULT };

struct pb_ctl {
    uint32_t type;
    uint32_t port;
    struct pb_rx rx;
};

int pb_ctl_send(int fd, uint32_t type, uint32_t port, const struct pb_rx *rx);
/* Returns 1 with a message in @m, 0 on timeout (@deadline passed), -1 on
 * EOF or error. */
int pb_ctl_recv(int fd, struct pb_ctl *m, int64_t deadline);

/* ---- receivers as child processes ---- */

struct pb_child {
    pid_t pid;
    int ctl;       /* parent's end of the control socket */
    bool ready;    /* PB_CTL_READY received */
    bool reported; /* PB_CTL_RESULT received */
};

/* The child's body: its control socket, its index, the options and @arg.
 * Returns the exit status. */
typedef int (*pb_child_fn)(int ctl, int idx, const struct pb_opts *o, void *arg);

/* pb_spawn() - fork a child running @fn. Returns 0 or -1. */
int pb_spawn(struct pb_child *c, int idx, pb_child_fn fn, const struct pb_opts *o, void *arg);

/* pb_send_port() - tell every child the port to connect to. */
int pb_send_port(struct pb_child *c, int n, int port);

/* pb_poll_ctl() - wait up to @timeout_ms for control messages from any of
 * the @n children; marks ready/reported and stores results in rx[i]. Returns
 * the number of children that have reported, or -1 if one died silently. */
int pb_poll_ctl(struct pb_child *c, int n, struct pb_rx *rx, int timeout_ms);

/* pb_all() - whether all @n children are ready (@reported false) or have
 * reported (@reported true). */
bool pb_all(const struct pb_child *c, int n, bool reported);

/* pb_collect() - wait until every child has reported or @deadline. Returns 0
 * when all reported. */
int pb_collect(struct pb_child *c, int n, struct pb_rx *rx, int64_t deadline);

/* pb_reap() - wait for the children to exit until @deadline, then SIGKILL
 * and reap the stragglers. Returns 0 if every child exited with status 0. */
int pb_reap(struct pb_child *c, int n, int64_t deadline);

/* Child side: wait for the port (returns it, or -1) and signal readiness. */
int pb_child_port(int ctl, const struct pb_opts *o);
int pb_child_ready(int ctl);
int pb_child_report(int ctl, struct pb_rx *rx);

/* ---- run isolation ---- */

/*
 * pb_run() - run @fn in a forked measurer process in its own process group,
 * with the wall-clock cap o->cap plus 10 s (a measurer gives up by itself
 * at about cap + 4 s: collecting 2 s, reaping 2 s). On timeout or a crash it
 * kills the group and prints a RESULT line for @impl/@test/@size with
 * error=... so the table shows the failure. Returns the measurer's status.
 */
typedef int (*pb_run_fn)(const struct pb_opts *o, size_t size, const void *arg);
int pb_run(const struct pb_opts *o, const char *impl, const char *test, size_t size, pb_run_fn fn,
           const void *arg);

/* ---- sender's budget ---- */

struct pb_budget {
    uint64_t max_msgs;
    int64_t t_stop;   /* stop sending at this time */
    int64_t t_hard;   /* give up (measurement failed) at this time */
    bool check_every; /* large messages: check the clock at every message */
};

void pb_budget_init(struct pb_budget *b, const struct pb_opts *o, size_t size, int64_t t0);

/* Whether the sender, having sent @sent messages, should send another. */
static inline bool pb_budget_more(const struct pb_budget *b, uint64_t sent)
{
    if (sent >= b->max_msgs)
        return false;
    if (b->check_every || (sent & 63) == 0)
        return pb_now() < b->t_stop;
    return true;
}

/* ---- the same-host tests' payload touching (test=shm_thr, shm_lat) ---- */

/*
 * The writer touches one byte per 4 KiB page of every message it sends (the
 * header covers the first page, pb_touch_write() the others), the reader
 * reads one byte per page of every message it receives: every message costs
 * each side one access per page, whichever way the bytes travel.
 */
#define PB_PAGE 4096u

static inline void pb_touch_write(uint8_t *p, size_t len, uint8_t v)
{
    for (size_t off = PB_PAGE; off < len; off += PB_PAGE)
        p[off] = v;
}

/* The pages after the first (whose header the receiver reads anyway);
 * returns their sum, to be kept somewhere volatile. */
static inline unsigned pb_touch_read(const uint8_t *p, size_t len)
{
    unsigned sum = 0;
    for (size_t off = PB_PAGE; off < len; off += PB_PAGE)
        sum += *(const volatile uint8_t *)(p + off);
    return sum;
}

/* ---- results ---- */

/*
 * pb_print_thr() - one RESULT line for a throughput or fan-out run.
 * @rx: the @n receivers' reports; @t_start: when sending began;
 * @cpu_tx_ns: the sender process's CPU time; @lossless: whether this
 * configuration promises no loss (then anything short of exact delivery,
 * in order, is check=FAIL).
 */
void pb_print_thr(const char *impl, const char *test, size_t size, uint64_t sent,
                  const struct pb_rx *rx, int n, bool all_reported, int64_t t_start,
                  int64_t cpu_tx_ns, bool lossless);

/* pb_print_lat() - one RESULT line with percentiles of @n round trips (ns);
 * sorts @ns in place. */
void pb_print_lat(const char *impl, size_t size, int64_t *ns, size_t n, bool ok);

/*
 * pb_print_thr_note() - pb_print_thr() with @extra (NULL or "k=v k=v")
 * added to the line before check=.
 */
void pb_print_thr_note(const char *impl, const char *test, size_t size, uint64_t sent,
                       const struct pb_rx *rx, int n, bool all_reported, int64_t t_start,
                       int64_t cpu_tx_ns, bool lossless, const char *extra);

/*
 * pb_print_lat_cpu() - pb_print_lat() under the test name @test, with
 * cpu_us_per_rt = @cpu_ns / @n (both processes' CPU over the samples; left
 * out when @cpu_ns < 0) and @extra (NULL or "k=v k=v").
 */
void pb_print_lat_cpu(const char *impl, const char *test, size_t size, int64_t *ns, size_t n,
                      int64_t cpu_ns, bool ok, const char *extra);

/* pb_fail() - a RESULT line saying why a run produced no figure. */
void pb_fail(const char *impl, const char *test, size_t size, const char *why);

#endif /* AXON_BENCH_PEER_COMMON_H */
