/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_iceoryx: iceoryx 2.0 (Debian's packages, through its C binding)
 * between two processes on one host, measured the way bench_shm measures
 * axon, beside it and bench_raw_tcp --touch in tools/bench.sh's same-host
 * tables (issue 13). A program, not a test.
 *
 *   bench_iceoryx [--quick] [--tests thr,lat] [--sizes 64,1m,8m] [--queue N] ...
 *
 * --help lists pb_parse()'s options; --queue sets the subscriber's queue
 * capacity (default: by size, see below). Needs RouDi, iceoryx's daemon,
 * started beforehand with this directory's configuration (its mempools fit
 * the sizes up to 8 MiB):
 *
 *   iox-roudi -c tests/bench/peers/iceoryx_roudi.toml
 *
 * tools/bench.sh does that. Without RouDi (no process bound to its socket,
 * /tmp/roudi) every row is a RESULT line with error=no_roudi, at once:
 * iox_runtime_init() would wait a minute for it and then abort.
 *
 * The way a user runs it: the C binding only, a runtime per process
 * (iox_runtime_init(), named after the role and the pid), a publisher and
 * a subscriber per direction, and a WaitSet attached to the subscriber's
 * data-received event; a woken receiver takes every queued chunk
 * (iox_sub_take_chunk) and releases each. Lossless: the publisher's
 * subscriberTooSlowPolicy is WAIT_FOR_CONSUMER and the subscriber's
 * queueFullPolicy BLOCK_PRODUCER, so a publish into a full queue waits (in
 * iceoryx 2.0 it spins on sched_yield until there is room).
 *
 * The subscriber's queue holds 8 MiB of messages (at least one, at most
 * 256: 256 at 64 B, 8 at 1 MiB, 1 at 8 MiB), the bound axon's default
 * transport.shm_quota_bytes puts on what one subscriber holds; --queue N
 * sets it. It matters more than anything else here: the touch pattern
 * reads and writes one line per page, all at the same offset in the page,
 * so the caches keep few of them, and every chunk in the rotation costs
 * its pages' misses (and TLB misses) again. On the 2-core VM where this
 * was written, shm_thr at 8 MiB made some 1.6 k msgs/s with a queue of 16
 * and 16 k/s with 1; at 1 MiB 9 k/s with 32 and 65 k/s with 8.
 *
 * Every message is written into a loaned chunk (iox_pub_loan_chunk) and
 * published with iox_pub_publish_chunk(). The touch pattern is that of
 * every same-host program (peer_common.h): the publisher writes the
 * 16-byte header (sequence number, aux) and one byte per further 4 KiB
 * page, the subscriber reads the header and one byte per further page. A
 * loan refused because the mempool has no free chunk (or the publisher
 * holds too many loans) is retried after 20 us, then 40, ... up to 1 ms
 * (iceoryx prints a few lines on stderr for each), and counted
 * (loan_waits=); with the default queue and iceoryx_roudi.toml there are
 * none.
 * The receiver learns a message's length from its chunk header (the C
 * binding has no accessor for it; see chunk_len()).
 *
 * Tests, for each size:
 *   shm_thr  one-way throughput, lossless: the subscriber checks every
 *            sequence number (gaps, order, size); CPU is both processes'
 *            (CLOCK_PROCESS_CPUTIME_ID: all their threads) over the run.
 *   shm_lat  ping-pong of the same size, both ways touching, a WaitSet
 *            wake-up on each side per round trip. CPU is both processes'
 *            over the sampled round trips. Nothing is pinned: on the 2-core
 *            VM the round trip took about twice as long (64 B: 30 us, not
 *            16) whenever the scheduler kept the two processes on different
 *            CPUs rather than on one (taskset -c 0 gives the short one).
 *
 * Process model (peer_common.h): main() never touches iceoryx; every run is
 * a forked measurer (the publisher, or the ping side) that forks its peer
 * before either makes its runtime. Service names carry the measurer's pid.
 * Every process is bounded by alarm() as well as by pb_run()'s cap, and
 * ends with exit(), so that iceoryx's runtime unregisters from RouDi.
 *
 * Output: RESULT lines (peer_common.h) with impl=iceoryx, test=shm_thr or
 * shm_lat, plus loan_waits=, and queue= (the subscriber's queue capacity,
 * shm_thr) or pong_samples= (the sampled round trips the pong side saw,
 * shm_lat).
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iceoryx_binding_c/chunk.h"
#include "iceoryx_binding_c/enums.h"
#include "iceoryx_binding_c/log.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/types.h"
#include "iceoryx_binding_c/wait_set.h"

#include "peer_common.h"

#define IMPL             "iceoryx"
#define SERVICE          "bench_iceoryx"
#define ROUDI_SOCKET     "/tmp/roudi" /* iceoryx 2.0: IOX_UDS_SOCKET_PATH_PREFIX + "roudi" */
#define MATCH_SECS       10
#define LAT_WARMUP       1000    /* round trips before sampling (or min(lat_secs / 2, 0.5 s)) */
#define THR_WARMUP       16      /* messages before the measured run (at least) */
#define LOAN_WAIT_NS     20000   /* the first wait for a chunk; doubled up to: */
#define LOAN_WAIT_MAX_NS 1000000 /* (iceoryx prints a line or three per refusal) */
#define WAIT_SLICE_NS    (100 * AX_NS_PER_MS) /* a WaitSet wait, at most */
#define ALARM_EXTRA_S    15
#define QUEUE_BYTES      (8u << 20) /* the subscriber's queue, see queue_capacity() */
#define IOX_MAX_QUEUE    256        /* iceoryx 2.0's MAX_SUBSCRIBER_QUEUE_CAPACITY */

/*
 * iceoryx 2.0's ChunkHeader (iceoryx_posh/mepoo/chunk_header.hpp, version
 * 1): uint32 chunkSize, uint8 chunkHeaderVersion, uint8 reserved, uint16
 * userHeaderId, uint64 originId, uint64 sequenceNumber, uint32
 * userHeaderSize, uint32 userPayloadSize, ... The layout is versioned (a
 * record-and-replay format); the publisher checks it on its first loan.
 */
#define CHUNK_VERSION_OFF  4
#define CHUNK_VERSION      1
#define CHUNK_PAYLOAD_SIZE 28

static const char *const variants[] = {
    "iceoryx: iceoryx 2.0 C binding, WaitSet wake-ups, lossless (WAIT_FOR_CONSUMER / "
    "BLOCK_PRODUCER); needs RouDi with tests/bench/peers/iceoryx_roudi.toml",
    NULL,
};

static uint64_t g_queue; /* --queue N: the subscriber's queue capacity (0: by size) */

/* A peer process asked to stop (SIGTERM from its measurer, see on_abort()). */
static volatile sig_atomic_t g_stop;
/* A measurer's peer process, and the runtime's socket file and its lock
 * (iceoryx 2.0 keeps them in /tmp and unlinks them at exit()). */
static pid_t g_peer;
static char g_rt_path[2][96];

/* What a measurer tells its peer process (inherited through fork()). */
struct run_arg {
    size_t size;
    char instance[32];
    char event[2][64]; /* thr: data; lat: ping, pong */
};

/* ---- RouDi, runtime, ports ---- */

/* Whether a RouDi is bound to its socket (a datagram socket: connect()
 * fails with ECONNREFUSED when the file is left over from a dead one). */
static bool roudi_up(void)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", ROUDI_SOCKET);
    bool up = connect(fd, (const struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return up;
}

/* Register this process with RouDi as "bench_iceoryx_<role>_<pid>". */
static bool runtime_init(const char *role)
{
    if (!roudi_up()) {
        fprintf(stderr, "bench_iceoryx: RouDi is not running (%s)\n", ROUDI_SOCKET);
        return false;
    }
    char name[64];
    snprintf(name, sizeof name, "bench_iceoryx_%s_%d", role, (int)getpid());
    snprintf(g_rt_path[0], sizeof g_rt_path[0], "/tmp/%s", name);
    snprintf(g_rt_path[1], sizeof g_rt_path[1], "/tmp/%s.lock", name);
    iox_set_loglevel(Iceoryx_LogLevel_Warn);
    iox_runtime_init(name);
    return true;
}

/*
 * The subscriber's queue capacity for @size-byte messages: --queue N, or
 * as many messages as fit in QUEUE_BYTES (at least 1, at most iceoryx
 * 2.0's 256). The RouDi configuration (iceoryx_roudi.toml) has chunks for
 * that queue, the one the subscriber holds and the publisher's loans.
 */
static uint64_t queue_capacity(size_t size)
{
    if (g_queue)
        return g_queue;
    uint64_t n = QUEUE_BYTES / size;
    return n < 1 ? 1 : n > IOX_MAX_QUEUE ? IOX_MAX_QUEUE : n;
}

static void run_arg_init(struct run_arg *ra, size_t size, const char *ev0, const char *ev1)
{
    memset(ra, 0, sizeof *ra);
    ra->size = size;
    snprintf(ra->instance, sizeof ra->instance, "%d", (int)getpid());
    snprintf(ra->event[0], sizeof ra->event[0], "%s_%zu", ev0, size);
    if (ev1)
        snprintf(ra->event[1], sizeof ra->event[1], "%s_%zu", ev1, size);
}

static iox_pub_t pub_new(iox_pub_storage_t *st, const struct run_arg *ra, const char *event)
{
    iox_pub_options_t po;
    iox_pub_options_init(&po);
    po.historyCapacity = 0;
    po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    return iox_pub_init(st, SERVICE, ra->instance, event, &po);
}

static iox_sub_t sub_new(iox_sub_storage_t *st, const struct run_arg *ra, const char *event)
{
    iox_sub_options_t so;
    iox_sub_options_init(&so);
    so.queueCapacity = queue_capacity(ra->size);
    so.historyRequest = 0;
    so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    return iox_sub_init(st, SERVICE, ra->instance, event, &so);
}

static void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / AX_NS_PER_S),
                          .tv_nsec = (long)(ns % AX_NS_PER_S)};
    nanosleep(&ts, NULL);
}

/* Wait until @p has a subscriber and (@s non-NULL) @s is subscribed to a
 * publisher. */
static bool wait_match(iox_pub_t p, iox_sub_t s, int64_t deadline)
{
    for (;;) {
        bool ok = iox_pub_has_subscribers(p);
        if (ok && s)
            ok = iox_sub_get_subscription_state(s) == SubscribeState_SUBSCRIBED;
        if (ok)
            return true;
        if (pb_now() >= deadline)
            return false;
        sleep_ns(AX_NS_PER_MS);
    }
}

/* The payload length of a received chunk, from its chunk header; 0 if the
 * header is not of the version this program knows. */
static size_t chunk_len(const void *payload)
{
    const uint8_t *h = (const uint8_t *)iox_chunk_header_from_user_payload_const(payload);
    if (h[CHUNK_VERSION_OFF] != CHUNK_VERSION)
        return 0;
    uint32_t n;
    memcpy(&n, h + CHUNK_PAYLOAD_SIZE, sizeof n);
    return n;
}

static const char *alloc_name(enum iox_AllocationResult r)
{
    switch (r) {
    case AllocationResult_NO_MEMPOOLS_AVAILABLE:
        return "no_mempools_available";
    case AllocationResult_RUNNING_OUT_OF_CHUNKS:
        return "running_out_of_chunks";
    case AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
        return "too_many_chunks_allocated_in_parallel";
    case AllocationResult_INVALID_CHUNK:
        return "invalid_chunk";
    case AllocationResult_INVALID_PARAMETER_FOR_USER_PAYLOAD_OR_USER_HEADER:
        return "invalid_parameter_for_user_payload";
    case AllocationResult_INVALID_PARAMETER_FOR_CHUNK:
        return "invalid_parameter_for_chunk";
    case AllocationResult_INVALID_PARAMETER_FOR_REQUEST_HEADER:
        return "invalid_parameter_for_request_header";
    case AllocationResult_SUCCESS:
        return "success";
    default:
        return "undefined_error";
    }
}

/* check_loan()'s RESULT line for a loan iceoryx answers with abort(). */
static char g_abort_line[160];
static size_t g_abort_len;

/* Print the RESULT line, let the peer process end the normal way (and its
 * runtime unregister), remove our runtime's files; RouDi removes our ports
 * when it misses our keep-alive messages. */
static void on_abort(int sig)
{
    (void)sig;
    ssize_t n = write(STDOUT_FILENO, g_abort_line, g_abort_len);
    (void)n;
    if (g_peer > 0 && kill(g_peer, SIGTERM) == 0)
        waitpid(g_peer, NULL, 0);
    unlink(g_rt_path[0]);
    unlink(g_rt_path[1]);
    _exit(0);
}

/*
 * Check on one loan of @size bytes that chunk_len() reads the chunk header
 * right and that a mempool fits @size: for a chunk larger than every
 * mempool iceoryx 2.0 does not return an error but aborts (a failed
 * assertion after MEPOO__MEMPOOL_GETCHUNK_CHUNK_IS_TOO_LARGE), so the
 * loan is made under a SIGABRT handler that prints this run's RESULT line
 * with error=no_mempool. Returns NULL or why not, for pb_fail().
 */
static const char *check_loan(iox_pub_t p, const char *test, size_t run_size, size_t size)
{
    int n = snprintf(g_abort_line, sizeof g_abort_line,
                     "RESULT impl=" IMPL " test=%s size=%zu check=FAIL error=no_mempool\n", test,
                     run_size);
    g_abort_len = n > 0 && (size_t)n < sizeof g_abort_line ? (size_t)n : 0;
    fflush(NULL);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abort;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, &old);
    void *c = NULL;
    enum iox_AllocationResult r = iox_pub_loan_chunk(p, &c, (uint32_t)size);
    sigaction(SIGABRT, &old, NULL);
    if (r != AllocationResult_SUCCESS) {
        fprintf(stderr, IMPL " size=%zu: loan of %zu bytes: %s (see iceoryx_roudi.toml)\n",
                run_size, size, alloc_name(r));
        return r == AllocationResult_RUNNING_OUT_OF_CHUNKS ? "loan_running_out" : "loan";
    }
    size_t len = chunk_len(c);
    iox_pub_release_chunk(p, c);
    if (len != size) {
        fprintf(stderr, IMPL " size=%zu: the chunk header says %zu bytes, not %zu\n", run_size, len,
                size);
        return "chunk_header";
    }
    return NULL;
}

/*
 * Publish one message of @size bytes carrying @seq and @aux, touched as
 * peer_common.h says, from a loan; a loan refused for want of a chunk is
 * retried after 20 us, 40 us, ... up to 1 ms apart until @hard (counted in
 * @loan_waits). The publish itself waits while the subscriber's queue is
 * full.
 */
static enum iox_AllocationResult publish_one(iox_pub_t p, size_t size, uint64_t seq, uint64_t aux,
                                             uint64_t *loan_waits, int64_t hard)
{
    int64_t wait = LOAN_WAIT_NS;
    for (;;) {
        void *c = NULL;
        enum iox_AllocationResult r = iox_pub_loan_chunk(p, &c, (uint32_t)size);
        if (r == AllocationResult_SUCCESS) {
            pb_hdr_put(c, seq, aux);
            pb_touch_write(c, size, (uint8_t)seq);
            iox_pub_publish_chunk(p, c);
            return r;
        }
        if (r != AllocationResult_RUNNING_OUT_OF_CHUNKS &&
            r != AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL)
            return r;
        (*loan_waits)++;
        if (pb_now() >= hard)
            return r;
        sleep_ns(wait);
        if (wait < LOAN_WAIT_MAX_NS)
            wait *= 2;
    }
}

/* ---- receiving: a WaitSet on the subscriber's data-received event ---- */

struct waiter {
    iox_ws_storage_t st;
    iox_ws_t ws;
};

static bool waiter_init(struct waiter *w, iox_sub_t s)
{
    w->ws = iox_ws_init(&w->st);
    return iox_ws_attach_subscriber_event(w->ws, s, SubscriberEvent_DATA_RECEIVED, 0, NULL) ==
           WaitSetResult_SUCCESS;
}

/*
 * The next chunk of @s (to be released by the caller), waiting on @w until
 * @deadline; NULL at the deadline (or once asked to stop, g_stop). Queued
 * chunks are taken without a wait: a wake-up reports the event once,
 * however many chunks it brought.
 */
static const void *take_next(iox_sub_t s, struct waiter *w, int64_t deadline)
{
    for (;;) {
        const void *c = NULL;
        if (iox_sub_take_chunk(s, &c) == ChunkReceiveResult_SUCCESS)
            return c;
        int64_t left = deadline - pb_now();
        if (left <= 0 || g_stop)
            return NULL;
        if (left > WAIT_SLICE_NS)
            left = WAIT_SLICE_NS;
        struct timespec ts = {.tv_sec = (time_t)(left / AX_NS_PER_S),
                              .tv_nsec = (long)(left % AX_NS_PER_S)};
        iox_notification_info_t info[4];
        uint64_t missed = 0;
        (void)iox_ws_timed_wait(w->ws, ts, info, 4, &missed);
    }
}

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* A peer process: SIGTERM ends its run the normal way (see on_abort()). */
static void peer_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- shm_thr ---- */

static int thr_sub_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct run_arg *ra = arg;
    (void)idx;
    peer_signals();
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    int64_t hard = pb_deadline(o->cap), warm_hard = pb_deadline(MATCH_SECS);
    if (!runtime_init("sub"))
        exit(1);
    iox_sub_storage_t ss;
    iox_sub_t s = sub_new(&ss, ra, ra->event[0]);
    struct waiter w;
    if (!waiter_init(&w, s))
        exit(1);
    struct pb_rx rx;
    pb_rx_init(&rx, ra->size);
    int64_t cpu0 = 0, cpu1 = 0;
    bool warm = false, end = false;
    while (!end) {
        const void *c = take_next(s, &w, warm ? hard : warm_hard);
        if (!c)
            break;
        int64_t now = pb_now();
        size_t len = chunk_len(c);
        if (rx.delivered == 0 && len >= PB_HDR && pb_hdr_seq(c) < PB_SEQ_WARMUP)
            cpu0 = pb_cpu(); /* the first data message */
        enum pb_kind k = pb_rx_see(&rx, c, len);
        (void)pb_touch_read(c, len);
        iox_sub_release_chunk(s, c);
        if (k == PB_DATA) {
            pb_rx_stamp(&rx, now);
        } else if (k == PB_END) {
            cpu1 = pb_cpu();
            end = true;
        } else if (!warm) {
            warm = true;
            pb_child_ready(ctl);
        }
    }
    if (!warm && !g_stop)
        fprintf(stderr, IMPL " size=%zu: no warm-up message\n", ra->size);
    rx.cpu_ns = (end ? cpu1 : pb_cpu()) - cpu0;
    rx.timed_out = !end;
    if (warm)
        pb_child_report(ctl, &rx);
    iox_ws_deinit(w.ws);
    iox_sub_deinit(s);
    exit(warm ? 0 : 1);
}

static int thr_run(const struct pb_opts *o, size_t size, const void *arg)
{
    (void)arg;
    struct run_arg ra;
    run_arg_init(&ra, size, "thr", NULL);
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    struct pb_child ch;
    struct pb_rx rx;
    uint64_t loan_waits = 0;
    memset(&rx, 0, sizeof rx);
    if (pb_spawn(&ch, 0, thr_sub_child, o, &ra) != 0) {
        pb_fail(IMPL, "shm_thr", size, "spawn");
        exit(0);
    }
    g_peer = ch.pid;
    iox_pub_storage_t ps;
    iox_pub_t p = NULL;
    const char *why = NULL;
    if (!runtime_init("pub")) {
        pb_fail(IMPL, "shm_thr", size, "no_roudi");
        goto out;
    }
    p = pub_new(&ps, &ra, ra.event[0]);
    if (!wait_match(p, NULL, pb_deadline(MATCH_SECS))) {
        pb_fail(IMPL, "shm_thr", size, "no_match");
        goto out;
    }
    if ((why = check_loan(p, "shm_thr", size, size)) != NULL ||
        (why = check_loan(p, "shm_thr", size, PB_HDR)) != NULL) {
        pb_fail(IMPL, "shm_thr", size, why);
        goto out;
    }
    /* Warm-up: until the subscriber has seen one, and for at least
     * THR_WARMUP messages and 0.2 s, so that the chunks in use have been
     * touched (as bench_shm). */
    int64_t warm_hard = pb_deadline(MATCH_SECS), warm_min = pb_deadline(0.2);
    for (int k = 0; !ch.ready || k < THR_WARMUP || pb_now() < warm_min; k++) {
        if (publish_one(p, size, PB_SEQ_WARMUP, 0, &loan_waits, warm_hard) !=
                AllocationResult_SUCCESS ||
            pb_poll_ctl(&ch, 1, &rx, ch.ready ? 0 : 5) < 0 || ch.reported ||
            pb_now() >= warm_hard) {
            pb_fail(IMPL, "shm_thr", size, "warmup");
            goto out;
        }
    }

    loan_waits = 0;
    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    uint64_t sent = 0;
    enum iox_AllocationResult r = AllocationResult_SUCCESS;
    while (r == AllocationResult_SUCCESS && pb_budget_more(&b, sent)) {
        r = publish_one(p, size, sent, 0, &loan_waits, b.t_hard);
        if (r == AllocationResult_SUCCESS)
            sent++;
    }
    if (r == AllocationResult_SUCCESS) /* END, carrying the count */
        r = publish_one(p, PB_HDR, PB_SEQ_END, sent, &loan_waits, b.t_hard);
    bool all = pb_collect(&ch, 1, &rx, b.t_hard + 2 * AX_NS_PER_S) == 0;
    int64_t cpu_tx = pb_cpu() - cpu0;
    if (r != AllocationResult_SUCCESS)
        fprintf(stderr, IMPL " size=%zu: loan failed after %" PRIu64 " messages: %s\n", size, sent,
                alloc_name(r));
    char extra[96];
    snprintf(extra, sizeof extra, "loan_waits=%" PRIu64 " queue=%" PRIu64, loan_waits,
             queue_capacity(size));
    pb_print_thr_note(IMPL, "shm_thr", size, sent, &rx, 1, all && r == AllocationResult_SUCCESS, t0,
                      cpu_tx, true, extra);
out:
    if (p)
        iox_pub_deinit(p);
    if (pb_reap(&ch, 1, pb_deadline(3)) != 0)
        fprintf(stderr, IMPL " size=%zu: the subscriber process failed\n", size);
    exit(0); /* not _exit(): iceoryx's runtime unregisters from RouDi */
}

/* ---- shm_lat ---- */

/* A message's sequence number and aux (WARMUP, 0 if too short). */
static void read_hdr(const void *c, size_t len, uint64_t *seq, uint64_t *aux)
{
    *seq = PB_SEQ_WARMUP;
    *aux = 0;
    if (len >= PB_HDR) {
        *seq = pb_hdr_seq(c);
        *aux = pb_hdr_aux(c);
    }
}

/* The pong side: answers every ping with a message of the same size and
 * sequence number (END with a header-only one); reports its CPU over the
 * samples (aux = 1) and their number. */
static int lat_pong_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct run_arg *ra = arg;
    (void)idx;
    peer_signals();
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    int64_t hard = pb_deadline(o->cap);
    if (!runtime_init("pong"))
        exit(1);
    iox_pub_storage_t ps;
    iox_sub_storage_t ss;
    iox_pub_t p = pub_new(&ps, ra, ra->event[1]);
    iox_sub_t s = sub_new(&ss, ra, ra->event[0]);
    struct waiter w;
    if (!waiter_init(&w, s))
        exit(1);
    pb_child_ready(ctl);
    struct pb_rx rep;
    pb_rx_init(&rep, ra->size);
    uint64_t loan_waits = 0;
    int64_t cpu0 = 0;
    bool ok = true;
    while (ok && !rep.got_end) {
        const void *c = take_next(s, &w, hard);
        if (!c)
            break;
        size_t len = chunk_len(c);
        uint64_t seq, aux;
        read_hdr(c, len, &seq, &aux);
        if (seq != PB_SEQ_END && len != ra->size)
            rep.bad++;
        (void)pb_touch_read(c, len);
        iox_sub_release_chunk(s, c);
        if (aux == 1 && rep.delivered++ == 0)
            cpu0 = pb_cpu();
        size_t out = seq == PB_SEQ_END ? PB_HDR : ra->size;
        ok = publish_one(p, out, seq, aux, &loan_waits, hard) == AllocationResult_SUCCESS;
        if (ok && seq == PB_SEQ_END)
            rep.got_end = 1;
    }
    rep.cpu_ns = cpu0 ? pb_cpu() - cpu0 : 0;
    rep.timed_out = !rep.got_end;
    pb_child_report(ctl, &rep);
    iox_ws_deinit(w.ws);
    iox_sub_deinit(s);
    iox_pub_deinit(p);
    exit(0);
}

static int lat_run(const struct pb_opts *o, size_t size, const void *arg)
{
    (void)arg;
    struct run_arg ra;
    run_arg_init(&ra, size, "ping", "pong");
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    struct pb_child ch;
    struct pb_rx rep;
    uint64_t loan_waits = 0, bad = 0;
    memset(&rep, 0, sizeof rep);
    int64_t *ns = malloc(sizeof *ns * o->lat_samples);
    if (!ns || pb_spawn(&ch, 0, lat_pong_child, o, &ra) != 0) {
        pb_fail(IMPL, "shm_lat", size, "spawn");
        free(ns);
        exit(0);
    }
    g_peer = ch.pid;
    iox_pub_storage_t ps;
    iox_sub_storage_t ss;
    iox_pub_t p = NULL;
    iox_sub_t s = NULL;
    struct waiter w = {.ws = NULL};
    const char *why = NULL;
    size_t nsamples = 0;
    if (!runtime_init("ping")) {
        pb_fail(IMPL, "shm_lat", size, "no_roudi");
        goto out;
    }
    p = pub_new(&ps, &ra, ra.event[0]);
    s = sub_new(&ss, &ra, ra.event[1]);
    if (!waiter_init(&w, s)) {
        pb_fail(IMPL, "shm_lat", size, "setup");
        goto out;
    }
    if (!wait_match(p, s, pb_deadline(MATCH_SECS))) {
        pb_fail(IMPL, "shm_lat", size, "no_match");
        goto out;
    }
    if ((why = check_loan(p, "shm_lat", size, size)) != NULL ||
        (why = check_loan(p, "shm_lat", size, PB_HDR)) != NULL) {
        pb_fail(IMPL, "shm_lat", size, why);
        goto out;
    }
    int64_t hard = pb_deadline(o->cap);
    int64_t warm_end = pb_deadline(o->lat_secs / 2 < 0.5 ? o->lat_secs / 2 : 0.5);
    int64_t stop = 0, cpu0 = 0, cpu_ping = 0;
    uint64_t rseq = 0, raux = 0;
    bool ok = true, answered = false, sampling = false;
    for (uint64_t seq = 0; ok; seq++) {
        if (!sampling && answered && (seq >= LAT_WARMUP || pb_now() >= warm_end)) {
            sampling = true; /* from here on every round trip is a sample */
            stop = pb_deadline(o->lat_secs);
            cpu0 = pb_cpu();
        }
        if (sampling && (nsamples == o->lat_samples || pb_now() >= stop))
            break;
        int64_t t0 = pb_now();
        ok = publish_one(p, size, seq, sampling, &loan_waits, hard) == AllocationResult_SUCCESS;
        /* Before the first answer a ping may be early (the pong side's
         * subscriber not yet connected): send the next after 100 ms. */
        int64_t wait_to = answered ? hard : pb_deadline(0.1);
        bool got = false;
        while (ok && !got) {
            const void *c = take_next(s, &w, wait_to);
            if (!c)
                break;
            size_t len = chunk_len(c);
            read_hdr(c, len, &rseq, &raux);
            bad += len != size;
            (void)pb_touch_read(c, len);
            iox_sub_release_chunk(s, c);
            got = rseq == seq;
        }
        int64_t t1 = pb_now();
        if (!got && answered)
            ok = false;
        if (got)
            answered = true;
        if (ok && got && sampling)
            ns[nsamples++] = t1 - t0;
        if (!answered && pb_now() >= hard)
            ok = false;
    }
    if (sampling)
        cpu_ping = pb_cpu() - cpu0;
    if (ok) {
        ok = publish_one(p, PB_HDR, PB_SEQ_END, 0, &loan_waits, hard) == AllocationResult_SUCCESS;
        while (ok) {
            const void *c = take_next(s, &w, hard);
            if (!c)
                break;
            size_t len = chunk_len(c);
            read_hdr(c, len, &rseq, &raux);
            iox_sub_release_chunk(s, c);
            if (rseq == PB_SEQ_END)
                break;
            bad += len != size;
        }
        ok = ok && rseq == PB_SEQ_END;
    }
    bool all = pb_collect(&ch, 1, &rep, pb_deadline(2)) == 0;
    if (!ok || !all)
        fprintf(stderr, IMPL " size=%zu: ping-pong failed after %zu samples\n", size, nsamples);
    if (rep.bad || bad)
        fprintf(stderr,
                IMPL " size=%zu: wrong message size (ping bad=%" PRIu64 ", pong bad=%" PRIu64 ")\n",
                size, bad, rep.bad);
    char extra[96];
    snprintf(extra, sizeof extra, "loan_waits=%" PRIu64 " pong_samples=%" PRIu64, loan_waits,
             rep.delivered);
    bool good = ok && all && !rep.bad && !bad && rep.delivered == nsamples;
    pb_print_lat_cpu(IMPL, "shm_lat", size, ns, nsamples, all ? cpu_ping + rep.cpu_ns : -1, good,
                     extra);
out:
    if (w.ws)
        iox_ws_deinit(w.ws);
    if (s)
        iox_sub_deinit(s);
    if (p)
        iox_pub_deinit(p);
    if (pb_reap(&ch, 1, pb_deadline(3)) != 0)
        fprintf(stderr, IMPL " size=%zu: the pong process failed\n", size);
    free(ns);
    exit(0); /* not _exit(): iceoryx's runtime unregisters from RouDi */
}

/* ---- main ---- */

/* Take "--queue N" out of argv (pb_parse() does the rest). */
static void own_args(int *argc, char **argv)
{
    int k = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--queue") == 0 && i + 1 < *argc) {
            long q = atol(argv[++i]);
            if (q < 1 || q > IOX_MAX_QUEUE) {
                fprintf(stderr, "bench_iceoryx: --queue takes 1..%d\n", IOX_MAX_QUEUE);
                exit(2);
            }
            g_queue = (uint64_t)q;
            continue;
        }
        argv[k++] = argv[i];
    }
    *argc = k;
    argv[k] = NULL;
}

int main(int argc, char **argv)
{
    bool sizes_given = false;
    own_args(&argc, argv);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--sizes") == 0)
            sizes_given = true;
    struct pb_opts o;
    pb_parse(&o, argc, argv, "bench_iceoryx [--queue N]", variants);
    if (!sizes_given) { /* issue 13's sizes, as bench_shm */
        static const size_t def[] = {64, 1u << 20, 8u << 20};
        o.nsizes = 3;
        memcpy(o.sizes, def, sizeof def);
    }
    if (!pb_want(&o, IMPL))
        return 0;
    bool up = roudi_up();
    if (!up)
        fprintf(stderr,
                "bench_iceoryx: RouDi is not running (nothing bound to %s); start it with "
                "iox-roudi -c tests/bench/peers/iceoryx_roudi.toml\n",
                ROUDI_SOCKET);
    for (int t = 0; t < 2; t++) {
        const char *test = t == 0 ? "shm_thr" : "shm_lat";
        if (!(o.tests & (t == 0 ? PB_TEST_THR : PB_TEST_LAT)))
            continue;
        for (int i = 0; i < o.nsizes; i++) {
            if (!up)
                pb_fail(IMPL, test, o.sizes[i], "no_roudi");
            else
                pb_run(&o, IMPL, test, o.sizes[i], t == 0 ? thr_run : lat_run, NULL);
        }
    }
    return 0;
}
