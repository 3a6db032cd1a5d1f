/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_shm: axon between two processes on one host, over shared memory
 * (transport.shm auto) and over TCP (transport.shm off), measured the way a
 * user runs it, beside iceoryx (peers/bench_iceoryx) and raw TCP
 * (peers/bench_raw_tcp --touch) in tools/bench.sh (issue 13). A program, not
 * a test.
 *
 *   bench_shm [--quick] [--shm auto|off] [--domain D] [--tests thr,lat]
 *             [--sizes 64,1m,8m] [--secs S] [--end-hdr] ...
 *   bench_shm --app [--quick] [--sizes ...] [--variants axon_app,...]
 *
 * --help lists pb_parse()'s options; --shm runs one variant (default:
 * both); --end-hdr sends the END message header-only (see end_len()).
 * --app runs the default path's rows of the peers' table instead
 * (bench_shm_app.c, issue 16): the same nodes, over TCP, test=thr.
 *
 * The way a user runs it: the public API only (<axon/axon.h>), the default
 * node configuration (node.threads = 1: the node's own loop thread calls
 * the subscriptions back), and every publish made from the application's
 * main thread, never from a loop thread. The only settings changed are the
 * domain, transport.shm for the TCP variant, the log level, and the
 * subscriptions' overload policy: block (lossless: a publisher waits for
 * room, up to the default max_blocking_time of 100 ms, then gets
 * AX_ETIMEDOUT and publishes again; every such retry is counted).
 *
 * Every message is written into a loaned buffer (ax_pub_loan: a chunk of
 * the publisher's pool when the node offers shared memory) and published
 * with ax_pub_publish_loan(). The touch pattern is that of every same-host
 * program (peer_common.h): the publisher writes the 16-byte header
 * (sequence number, aux) and one byte per further 4 KiB page, the
 * subscriber reads the header and one byte per further page. A loan refused
 * because the pool is spent (AX_ENOBUFS) is retried after 20 us (counted).
 *
 * Tests, for each size:
 *   shm_thr  one-way throughput, lossless: the subscriber checks every
 *            sequence number (gaps, order, size); CPU is both processes'
 *            (CLOCK_PROCESS_CPUTIME_ID: all their threads) over the run.
 *   shm_lat  ping-pong of the same size, both ways touching: each side's
 *            subscription callback (on the loop thread) hands the message's
 *            sequence number to the main thread through a mutex and a
 *            condition variable, and the main thread publishes the answer.
 *            CPU is both processes' over the samples.
 *
 * Process model (peer_common.h): main() never makes a node; every run is a
 * forked measurer (the publisher, or the ping side) that forks its peer
 * before it makes its own node. Topics carry the measurer's pid; the
 * domain is in 0..9 (the range of tools run by hand, tests/ax_test.h):
 * main's pid modulo 10 unless --domain says. Every process is bounded by
 * alarm() as well as by pb_run()'s cap.
 *
 * Output: RESULT lines (peer_common.h) with impl=axon_shm or axon_tcp,
 * test=shm_thr or shm_lat, plus link= (the transport the subscription
 * used: a run whose link is not the variant's is check=FAIL), retries=
 * (publishes that timed out and were made again) and loan_waits=.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "axon/axon.h"
#include "bench_shm.h"
#include "peer_common.h"

#define LAT_WARMUP    1000 /* round trips before sampling, or until LAT_WARM_SECS */
#define THR_WARMUP    16   /* messages before the measured run (at least) */
#define LOAN_WAIT_NS  20000
#define ALARM_EXTRA_S 15

static const char *const variants[] = {
    "axon_shm: transport.shm auto (same host: shared memory; under shm_threshold copied "
    "through a Unix socket)",
    "axon_tcp: transport.shm off (TCP on loopback)",
    "axon_shm_cb: shm_lat only, as axon_shm but the pong side answers in its subscription "
    "callback (on its loop thread)",
    "axon_shm_handover: shm_lat only, as axon_shm but the main threads wait for the answer on "
    "a condition variable that the callback signals, not in ax_sub_wait()",
    "axon_app: --app only, TCP, lossless (the subscription blocks), beside the peers",
    "axon_app_sensor: --app only, TCP, the subscription's QoS is sensor_data (lossy)",
    NULL,
};

static const struct variant v_shm = {"axon_shm", AX_SHM_AUTO, AX_LINK_SHM, false, false};
static const struct variant v_tcp = {"axon_tcp", AX_SHM_OFF, AX_LINK_TCP, false, false};
static const struct variant v_shm_cb = {"axon_shm_cb", AX_SHM_AUTO, AX_LINK_SHM, true, false};
static const struct variant v_shm_handover = {"axon_shm_handover", AX_SHM_AUTO, AX_LINK_SHM, false,
                                              true};

uint32_t g_domain;
static bool g_end_hdr; /* --end-hdr: see end_len() */
static bool g_app;     /* --app: bench_shm_app.c's rows instead */

/* What a measurer tells its peer process (inherited through fork()). */
struct run_arg {
    const struct variant *v;
    size_t size;
    char topic[2][96]; /* thr: data; lat: ping, pong */
};

/* What the publishing side counts. */
struct pub_stats {
    uint64_t retries;    /* AX_ETIMEDOUT / AX_EAGAIN: published again */
    uint64_t loan_waits; /* AX_ENOBUFS: waited for a chunk */
};

/* ---- nodes and endpoints ---- */

ax_node *node_new(const char *role, const struct variant *v)
{
    struct ax_config c;
    ax_config_init(&c);
    struct ax_config_error err;
    if (ax_config_apply_env(&c, &err) < 0) /* AXON_CONFIG, as any program would */
        fprintf(stderr, "bench_shm: environment: %s\n", err.message);
    snprintf(c.node_name, sizeof c.node_name, "bench-shm-%s-%d", role, (int)getpid());
    c.domain = g_domain;
    c.transport.shm = v->shm;
    c.log_level = AX_LOG_WARN;
    ax_node *n = NULL;
    int rc = ax_node_new(&n, &c);
    ax_config_fini(&c);
    if (rc < 0) {
        fprintf(stderr, "bench_shm: node: %s\n", ax_strerror(rc));
        return NULL;
    }
    return n;
}

int sub_new(ax_sub **s, ax_node *n, const char *topic, ax_sub_cb cb, void *user)
{
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.overload = AX_OVERLOAD_BLOCK; /* lossless: the publisher waits */
    int rc = ax_sub_new_raw(s, n, topic, TYPE_NAME, cb, user, &so);
    if (rc < 0)
        fprintf(stderr, "bench_shm: subscribe %s: %s\n", topic, ax_strerror(rc));
    return rc;
}

int pub_new(ax_pub **p, ax_node *n, const char *topic)
{
    int rc = ax_pub_new_raw(p, n, topic, TYPE_NAME, NULL);
    if (rc < 0)
        fprintf(stderr, "bench_shm: advertise %s: %s\n", topic, ax_strerror(rc));
    return rc;
}

void sleep_ns(int64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / AX_NS_PER_S),
                          .tv_nsec = (long)(ns % AX_NS_PER_S)};
    nanosleep(&ts, NULL);
}

/* Wait until @p has a subscriber and (@s non-NULL) @s a publisher. */
bool wait_match(ax_pub *p, ax_sub *s, int64_t deadline)
{
    for (;;) {
        struct ax_endpoint_counters c;
        bool ok = ax_pub_counters(p, &c) == 0 && c.connections >= 1;
        if (ok && s)
            ok = ax_sub_counters(s, &c) == 0 && c.connections >= 1;
        if (ok)
            return true;
        if (pb_now() >= deadline)
            return false;
        sleep_ns(AX_NS_PER_MS);
    }
}

/* The transport of @s's link (its only publisher). */
enum ax_link_transport sub_link(ax_sub *s)
{
    struct ax_endpoint_counters c;
    if (ax_sub_counters(s, &c) != 0 || c.nlinks < 1)
        return AX_LINK_NONE;
    return c.links[0].transport;
}

/*
 * Publish one message of @size bytes carrying @seq and @aux, touched as
 * peer_common.h says, from a loan; a refused loan or a publish that timed
 * out is made again until @hard. Returns 0 or the last error.
 */
static int publish_one(ax_pub *p, size_t size, uint64_t seq, uint64_t aux, struct pub_stats *st,
                       int64_t hard)
{
    for (;;) {
        struct ax_loan loan;
        int rc = ax_pub_loan(p, size, &loan);
        if (rc == AX_ENOBUFS) {
            st->loan_waits++;
            if (pb_now() >= hard)
                return rc;
            sleep_ns(LOAN_WAIT_NS);
            continue;
        }
        if (rc < 0)
            return rc;
        pb_hdr_put(loan.data, seq, aux);
        pb_touch_write(loan.data, size, (uint8_t)seq);
        rc = ax_pub_publish_loan(p, &loan, size);
        if (rc == 0)
            return 0;
        if (rc != AX_ETIMEDOUT && rc != AX_EAGAIN)
            return rc;
        st->retries++;
        if (pb_now() >= hard)
            return rc;
    }
}

/*
 * The length of the END message. It has the data's size, so that its loan
 * takes a chunk of the same size class: a pool whose budget is all mapped
 * for another class refuses a small loan for good, even with every chunk
 * free (transport/shm/pool.c keeps segments until the pool closes). With
 * --end-hdr END is 16 bytes, as in the other programs: at 8 MiB over shared
 * memory that END is never published (AX_ENOBUFS until the run's cap).
 */
static size_t end_len(size_t size)
{
    return g_end_hdr ? PB_HDR : size;
}

static void say_failed(const char *impl, size_t size, const ax_pub *p, uint64_t sent, int rc)
{
    struct ax_pool_stats ps = {0};
    ax_pub_pool_stats(p, &ps);
    fprintf(stderr,
            "%s size=%zu: publish failed after %" PRIu64 " messages: %s (pool: mapped=%" PRIu64
            " in_use=%" PRIu64 " loans=%" PRIu64 " exhausted=%" PRIu64 ")\n",
            impl, size, sent, ax_strerror(rc), ps.mapped, ps.in_use, ps.loans, ps.exhausted);
}

/* ---- the hand-over between a subscription callback and the main thread ---- */

void box_init(struct box *b, size_t size)
{
    memset(b, 0, sizeof *b);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&b->mu, NULL);
    b->size = size;
    pb_rx_init(&b->rx, size);
}

void box_fini(struct box *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

/* Wait on the box (mu held) until @deadline; false once it has passed. */
bool box_sleep(struct box *b, int64_t deadline)
{
    int64_t now = pb_now();
    if (now >= deadline)
        return false;
    struct timespec ts = {.tv_sec = (time_t)(deadline / AX_NS_PER_S),
                          .tv_nsec = (long)(deadline % AX_NS_PER_S)};
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
    return true;
}

/* Wait until *@flag (under mu) or @deadline. */
bool box_wait_flag(struct box *b, const bool *flag, int64_t deadline)
{
    pthread_mutex_lock(&b->mu);
    while (!*flag && box_sleep(b, deadline)) {
    }
    bool r = *flag;
    pthread_mutex_unlock(&b->mu);
    return r;
}

/* ---- shm_thr ---- */

static void thr_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct box *b = user;
    (void)s;
    int64_t now = pb_now();
    if (b->rx.delivered == 0 && m->len >= PB_HDR && pb_hdr_seq(m->data) < PB_SEQ_WARMUP)
        b->cpu0 = pb_cpu(); /* the first data message */
    enum pb_kind k = pb_rx_see(&b->rx, m->data, m->len);
    (void)pb_touch_read(m->data, m->len);
    if (k == PB_DATA) {
        pb_rx_stamp(&b->rx, now);
        return;
    }
    if (k == PB_END)
        b->cpu1 = pb_cpu();
    pthread_mutex_lock(&b->mu);
    if (k == PB_WARMUP)
        b->warm = true;
    else
        b->end = true;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static int thr_sub_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct run_arg *ra = arg;
    (void)idx;
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    int64_t hard = pb_deadline(o->cap);
    struct box b;
    box_init(&b, ra->size);
    ax_node *n = node_new("sub", ra->v);
    ax_sub *s = NULL;
    if (!n || sub_new(&s, n, ra->topic[0], thr_cb, &b) < 0)
        exit(1);
    if (!box_wait_flag(&b, &b.warm, hard)) {
        fprintf(stderr, "%s size=%zu: no warm-up message\n", ra->v->impl, ra->size);
        exit(1);
    }
    enum ax_link_transport link = sub_link(s);
    pb_child_ready(ctl);
    bool end = box_wait_flag(&b, &b.end, hard);
    ax_sub_free(s); /* no callback after this: b.rx is ours */
    b.rx.cpu_ns = (end ? b.cpu1 : pb_cpu()) - b.cpu0;
    b.rx.timed_out = !end;
    if (link != ra->v->link) {
        fprintf(stderr, "%s size=%zu: the link is %s, not %s\n", ra->v->impl, ra->size,
                ax_link_transport_name(link), ax_link_transport_name(ra->v->link));
        b.rx.bad++; /* not the transport the row names: check=FAIL */
    }
    pb_child_report(ctl, &b.rx);
    ax_node_destroy(n);
    box_fini(&b);
    exit(0);
}

static int thr_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct variant *v = arg;
    struct run_arg ra = {.v = v, .size = size};
    snprintf(ra.topic[0], sizeof ra.topic[0], "/bench/shm/%d/thr/%zu", (int)getpid(), size);
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    struct pb_child ch;
    struct pb_rx rx;
    struct pub_stats st = {0};
    memset(&rx, 0, sizeof rx);
    if (pb_spawn(&ch, 0, thr_sub_child, o, &ra) != 0) {
        pb_fail(v->impl, "shm_thr", size, "spawn");
        return 0;
    }
    ax_node *n = node_new("pub", v);
    ax_pub *p = NULL;
    if (!n || pub_new(&p, n, ra.topic[0]) < 0) {
        pb_fail(v->impl, "shm_thr", size, "setup");
        goto out;
    }
    if (!wait_match(p, NULL, pb_deadline(MATCH_SECS))) {
        pb_fail(v->impl, "shm_thr", size, "no_match");
        goto out;
    }
    /* Warm-up: until the subscriber has seen one, and for at least
     * THR_WARMUP messages and 0.2 s, so that the pool has grown to what the
     * stream needs and every chunk is mapped on both sides (16 messages
     * were not enough: a 4096-message run at 1 MiB then made 20 of its 36
     * segments, and measured that). bench_iceoryx warms up the same way. */
    int64_t warm_hard = pb_deadline(MATCH_SECS), warm_min = pb_deadline(0.2);
    for (int k = 0; !ch.ready || k < THR_WARMUP || pb_now() < warm_min; k++) {
        if (publish_one(p, size, PB_SEQ_WARMUP, 0, &st, warm_hard) != 0 ||
            pb_poll_ctl(&ch, 1, &rx, ch.ready ? 0 : 5) < 0 || ch.reported) {
            pb_fail(v->impl, "shm_thr", size, "warmup");
            goto out;
        }
    }

    st = (struct pub_stats){0};
    int64_t t0 = pb_now(), cpu0 = pb_cpu();
    struct pb_budget b;
    pb_budget_init(&b, o, size, t0);
    uint64_t sent = 0;
    int rc = 0;
    while (rc == 0 && pb_budget_more(&b, sent)) {
        rc = publish_one(p, size, sent, 0, &st, b.t_hard);
        if (rc == 0)
            sent++;
    }
    if (rc == 0) /* END, carrying the count: see end_len() */
        rc = publish_one(p, end_len(size), PB_SEQ_END, sent, &st, b.t_hard);
    bool all = pb_collect(&ch, 1, &rx, b.t_hard + 2 * AX_NS_PER_S) == 0;
    int64_t cpu_tx = pb_cpu() - cpu0;
    if (rc != 0)
        say_failed(v->impl, size, p, sent, rc);
    struct ax_pool_stats ps = {0};
    ax_pub_pool_stats(p, &ps);
    char extra[200];
    snprintf(extra, sizeof extra,
             "link=%s retries=%" PRIu64 " loan_waits=%" PRIu64 " pool_mapped_mb=%" PRIu64,
             rx.bad ? "wrong" : ax_link_transport_name(v->link), st.retries, st.loan_waits,
             ps.mapped >> 20);
    pb_print_thr_note(v->impl, "shm_thr", size, sent, &rx, 1, all && rc == 0, t0, cpu_tx, true,
                      extra);
out:
    ax_pub_free(p);
    ax_node_destroy(n);
    if (pb_reap(&ch, 1, pb_deadline(3)) != 0)
        fprintf(stderr, "%s size=%zu: the subscriber process failed\n", v->impl, size);
    return 0;
}

/* ---- shm_lat ---- */

static void lat_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct box *b = user;
    (void)s;
    uint64_t seq = PB_SEQ_WARMUP, aux = 0;
    if (m->len >= PB_HDR) {
        seq = pb_hdr_seq(m->data);
        aux = pb_hdr_aux(m->data);
    }
    bool bad = seq != PB_SEQ_END && m->len != b->size;
    (void)pb_touch_read(m->data, m->len);
    pthread_mutex_lock(&b->mu);
    b->seq = seq;
    b->aux = aux;
    b->got++;
    b->bad += bad;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* pong_in_cb: the answer, published from the loop thread that runs the
 * callback (a loan, so nothing waits: a publish from a loop thread never
 * blocks, and a refused one counts as bad). */
static void pong_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct box *b = user;
    (void)s;
    uint64_t seq = PB_SEQ_WARMUP, aux = 0;
    if (m->len >= PB_HDR) {
        seq = pb_hdr_seq(m->data);
        aux = pb_hdr_aux(m->data);
    }
    bool bad = seq != PB_SEQ_END && m->len != b->size;
    (void)pb_touch_read(m->data, m->len);
    if (aux == 1 && b->sampled++ == 0)
        b->cpu0 = pb_cpu();
    size_t len = seq == PB_SEQ_END ? end_len(b->size) : b->size;
    struct ax_loan loan;
    int rc = ax_pub_loan(b->reply, len, &loan);
    if (rc == 0) {
        pb_hdr_put(loan.data, seq, aux);
        pb_touch_write(loan.data, len, (uint8_t)seq);
        rc = ax_pub_publish_loan(b->reply, &loan, len);
    }
    pthread_mutex_lock(&b->mu);
    b->seq = seq;
    b->aux = aux;
    b->got++;
    b->bad += bad || rc != 0;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Wait until the box has a message after the @*seen-th; returns its
 * sequence number and aux, or false at @deadline. */
static bool box_wait_msg(struct box *b, uint64_t *seen, uint64_t *seq, uint64_t *aux,
                         int64_t deadline)
{
    pthread_mutex_lock(&b->mu);
    while (b->got == *seen) {
        if (!b->wait_sub) {
            if (!box_sleep(b, deadline))
                break;
            continue;
        }
        /* The way a user waits for a callback's result in axon: this
         * thread may run the callback itself (ax_sub_wait()). */
        int64_t left = deadline - pb_now();
        if (left <= 0)
            break;
        pthread_mutex_unlock(&b->mu);
        int rc = ax_sub_wait(b->wait_sub, (int)((left + AX_NS_PER_MS - 1) / AX_NS_PER_MS));
        pthread_mutex_lock(&b->mu);
        if (rc != 0 && rc != AX_ETIMEDOUT) {
            fprintf(stderr, "bench_shm: ax_sub_wait: %s\n", ax_strerror(rc));
            break;
        }
    }
    bool r = b->got != *seen;
    *seen = b->got;
    *seq = b->seq;
    *aux = b->aux;
    pthread_mutex_unlock(&b->mu);
    return r;
}

/* The pong side: answers every ping with a message of the same size and
 * sequence number; reports its CPU over the samples (aux = 1) and their
 * number. */
static int lat_pong_child(int ctl, int idx, const struct pb_opts *o, void *arg)
{
    const struct run_arg *ra = arg;
    (void)idx;
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    int64_t hard = pb_deadline(o->cap);
    struct box b;
    box_init(&b, ra->size);
    struct pb_rx rep;
    pb_rx_init(&rep, ra->size);
    struct pub_stats st = {0};
    ax_node *n = node_new("pong", ra->v);
    ax_sub *s = NULL;
    ax_pub *p = NULL;
    if (!n || pub_new(&p, n, ra->topic[1]) < 0)
        exit(1);
    b.reply = p;
    if (sub_new(&s, n, ra->topic[0], ra->v->pong_in_cb ? pong_cb : lat_cb, &b) < 0)
        exit(1);
    if (!ra->v->handover && !ra->v->pong_in_cb)
        b.wait_sub = s;
    pb_child_ready(ctl);
    uint64_t seen = 0, seq, aux, answered = 0;
    int64_t cpu0 = 0;
    bool link_ok = false;
    if (ra->v->pong_in_cb) { /* the callback answers; wait for END */
        while (box_wait_msg(&b, &seen, &seq, &aux, hard)) {
            if (aux == 1 && !link_ok)
                link_ok = sub_link(s) == ra->v->link;
            if (seq == PB_SEQ_END) {
                rep.got_end = 1;
                break;
            }
        }
        ax_sub_free(s); /* no callback after this: b.sampled and b.cpu0 are ours */
        s = NULL;
        rep.delivered = b.sampled;
        cpu0 = b.cpu0;
    }
    while (!ra->v->pong_in_cb && box_wait_msg(&b, &seen, &seq, &aux, hard)) {
        if (aux == 1 && rep.delivered++ == 0) {
            cpu0 = pb_cpu();
            link_ok = sub_link(s) == ra->v->link;
        }
        size_t len = seq == PB_SEQ_END ? end_len(ra->size) : ra->size;
        if (publish_one(p, len, seq, aux, &st, hard) != 0)
            break;
        answered++;
        if (seq == PB_SEQ_END) {
            rep.got_end = 1;
            break;
        }
    }
    rep.cpu_ns = pb_cpu() - cpu0;
    /* The last answer may still be on its way to the loop thread or
     * queued (8 MiB over TCP): destroying the node now would cut it off
     * (ax_node_destroy() does not wait for a flush), so wait until the
     * loop has taken every answer and its queue is empty. */
    for (;;) {
        struct ax_endpoint_counters pc;
        uint64_t q = 1, qb;
        if (ax_pub_counters(p, &pc) != 0 || ax_pub_backlog(p, &q, &qb) != 0 ||
            (pc.messages >= answered && q == 0) || pb_now() >= hard)
            break;
        sleep_ns(AX_NS_PER_MS); /* polling counters, with a deadline */
    }
    ax_sub_free(s);
    rep.bad = b.bad + (link_ok ? 0 : 1);
    pb_child_report(ctl, &rep);
    ax_pub_free(p);
    ax_node_destroy(n);
    box_fini(&b);
    exit(0);
}

static int lat_run(const struct pb_opts *o, size_t size, const void *arg)
{
    const struct variant *v = arg;
    struct run_arg ra = {.v = v, .size = size};
    snprintf(ra.topic[0], sizeof ra.topic[0], "/bench/shm/%d/ping/%zu", (int)getpid(), size);
    snprintf(ra.topic[1], sizeof ra.topic[1], "/bench/shm/%d/pong/%zu", (int)getpid(), size);
    alarm((unsigned)o->cap + ALARM_EXTRA_S);
    struct pb_child ch;
    struct pb_rx rep;
    struct pub_stats st = {0};
    struct box b;
    box_init(&b, size);
    memset(&rep, 0, sizeof rep);
    int64_t *ns = malloc(sizeof *ns * o->lat_samples);
    if (!ns || pb_spawn(&ch, 0, lat_pong_child, o, &ra) != 0) {
        pb_fail(v->impl, "shm_lat", size, "spawn");
        free(ns);
        return 0;
    }
    ax_node *n = node_new("ping", v);
    ax_pub *p = NULL;
    ax_sub *s = NULL;
    size_t nsamples = 0;
    if (!n || pub_new(&p, n, ra.topic[0]) < 0 || sub_new(&s, n, ra.topic[1], lat_cb, &b) < 0) {
        pb_fail(v->impl, "shm_lat", size, "setup");
        goto out;
    }
    if (!v->handover)
        b.wait_sub = s;
    if (!wait_match(p, s, pb_deadline(MATCH_SECS))) {
        pb_fail(v->impl, "shm_lat", size, "no_match");
        goto out;
    }
    int64_t hard = pb_deadline(o->cap);
    int64_t warm_end = pb_deadline(o->lat_secs / 2 < 0.5 ? o->lat_secs / 2 : 0.5);
    int64_t stop = 0, cpu0 = 0, cpu_ping = 0;
    uint64_t seen = 0, rseq = 0, raux = 0;
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
        ok = publish_one(p, size, seq, sampling, &st, hard) == 0;
        /* Before the first answer a ping may be early (the pong side's
         * subscription not yet connected): send the next after 100 ms. */
        int64_t wait_to = answered ? hard : pb_deadline(0.1);
        bool got = false;
        while (ok && !got) {
            if (!box_wait_msg(&b, &seen, &rseq, &raux, wait_to))
                break;
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
    bool link_ok = sub_link(s) == v->link;
    if (ok) {
        ok = publish_one(p, end_len(size), PB_SEQ_END, 0, &st, hard) == 0;
        while (ok && box_wait_msg(&b, &seen, &rseq, &raux, hard) && rseq != PB_SEQ_END) {
        }
        ok = ok && rseq == PB_SEQ_END;
    }
    bool all = pb_collect(&ch, 1, &rep, pb_deadline(2)) == 0;
    if (!ok || !all)
        fprintf(stderr, "%s size=%zu: ping-pong failed after %zu samples (%s)\n", v->impl, size,
                nsamples, !ok ? "no answer" : "no report from the pong side");
    if (!link_ok || rep.bad || b.bad)
        fprintf(stderr, "%s size=%zu: wrong link or message (pong bad=%" PRIu64 ")\n", v->impl,
                size, rep.bad);
    char extra[160];
    snprintf(extra, sizeof extra,
             "link=%s retries=%" PRIu64 " loan_waits=%" PRIu64 " pong_samples=%" PRIu64,
             link_ok ? ax_link_transport_name(v->link) : "wrong", st.retries, st.loan_waits,
             rep.delivered);
    bool good = ok && all && link_ok && !rep.bad && !b.bad && rep.delivered == nsamples;
    pb_print_lat_cpu(v->impl, "shm_lat", size, ns, nsamples, cpu_ping + rep.cpu_ns, good, extra);
out:
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(n);
    if (pb_reap(&ch, 1, pb_deadline(3)) != 0)
        fprintf(stderr, "%s size=%zu: the pong process failed\n", v->impl, size);
    box_fini(&b);
    free(ns);
    return 0;
}

/* ---- main ---- */

/* Take "--shm X", "--domain D", "--end-hdr" and "--app" out of argv (pb_parse() does the rest). */
static void own_args(int *argc, char **argv, const char **shm)
{
    int k = 1;
    g_domain = (uint32_t)(getpid() % 10);
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--end-hdr") == 0 || strcmp(argv[i], "--app") == 0) {
            *(argv[i][2] == 'e' ? &g_end_hdr : &g_app) = true;
            continue;
        }
        if ((strcmp(argv[i], "--shm") == 0 || strcmp(argv[i], "--domain") == 0) && i + 1 < *argc) {
            if (argv[i][2] == 's') {
                *shm = argv[i + 1];
            } else {
                long d = atol(argv[i + 1]);
                if (d < 0 || d > 232) {
                    fprintf(stderr, "bench_shm: --domain takes 0..232\n");
                    exit(2);
                }
                g_domain = (uint32_t)d;
            }
            i++;
            continue;
        }
        argv[k++] = argv[i];
    }
    *argc = k;
    argv[k] = NULL;
}

int main(int argc, char **argv)
{
    const char *shm = NULL;
    bool sizes_given = false;
    own_args(&argc, argv, &shm);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--sizes") == 0)
            sizes_given = true;
    struct pb_opts o;
    pb_parse(&o, argc, argv, "bench_shm [--app] [--shm auto|off] [--domain D]", variants);
    if (g_app)
        return app_main(&o, sizes_given);
    if (!sizes_given) { /* issue 13's sizes */
        static const size_t def[] = {64, 1u << 20, 8u << 20};
        o.nsizes = 3;
        memcpy(o.sizes, def, sizeof def);
    }
    if (shm && strcmp(shm, "auto") == 0) {
        o.variants = "axon_shm";
    } else if (shm && strcmp(shm, "off") == 0) {
        o.variants = "axon_tcp";
    } else if (shm) {
        fprintf(stderr, "bench_shm: --shm takes auto or off\n");
        return 2;
    }
    const struct variant *const vs[] = {&v_shm, &v_tcp, &v_shm_cb, &v_shm_handover};
    for (int t = 0; t < 2; t++) {
        if (!(o.tests & (t == 0 ? PB_TEST_THR : PB_TEST_LAT)))
            continue;
        for (int i = 0; i < o.nsizes; i++)
            for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
                if (!pb_want(&o, vs[k]->impl) || (t == 0 && (vs[k]->pong_in_cb || vs[k]->handover)))
                    continue;
                if (t == 0)
                    pb_run(&o, vs[k]->impl, "shm_thr", o.sizes[i], thr_run, vs[k]);
                else
                    pb_run(&o, vs[k]->impl, "shm_lat", o.sizes[i], lat_run, vs[k]);
            }
    }
    return 0;
}
