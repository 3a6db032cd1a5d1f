/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Overload `block` (lossless, like DDS KEEP_ALL), over shared memory and
 * TCP alike, between nodes of this process (their links are real sockets):
 *
 *  - a publish from the application's thread waits while a subscriber
 *    with block has no room, up to max_blocking_time, then fails with
 *    AX_ETIMEDOUT; nothing is dropped: delivered = published, no gap;
 *  - a publish from a loop thread never waits: AX_EAGAIN at once, and an
 *    AX_PS_WRITABLE event when there is room again;
 *  - only the topics such a subscriber reads slow down;
 *  - over TCP the queue to it holds transport.block_bytes, not queue_bytes;
 *  - the loop's hand-over queue is bounded in bytes as well as in frames.
 *
 * The slow subscriber is one whose callback waits on a gate the test
 * opens: its node's loop stops reading, and the publisher's queue to it
 * fills (queue_frames: 4).
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ax_test.h"

#define SIZE (64u * 1024) /* above shm_threshold: chunks on shared memory */

static ax_node *make(const char *name, unsigned k, unsigned threads, const char *yaml)
{
    struct ax_config c;
    struct ax_config_error err;
    ax_config_init(&c);
    if (yaml)
        AX_OK_OR_FAIL(ax_config_load_string(&c, yaml, name, &err));
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_BLOCK, k);
    c.threads = threads;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

struct gated {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open, waiting;
    uint64_t n, next, order_errors;
    uint64_t gaps;
};

static void gated_init(struct gated *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->next = 1;
}

static void gate_open(struct gated *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static uint64_t gated_count(struct gated *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}

/* The slow reader: waits at the gate (its loop reads nothing meanwhile),
 * then checks the numbering. */
static void on_gated(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct gated *g = user;
    (void)s;
    pthread_mutex_lock(&g->mu);
    g->waiting = !g->open;
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    uint64_t k;
    memcpy(&k, m->data, sizeof k);
    if (k != g->next)
        g->order_errors++;
    g->next = k + 1;
    g->n++;
    pthread_mutex_unlock(&g->mu);
}

static void on_sub_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct gated *g = user;
    (void)self;
    if (ev->kind == AX_PS_GAP) {
        pthread_mutex_lock(&g->mu);
        g->gaps += ev->missing ? ev->missing : 1;
        pthread_mutex_unlock(&g->mu);
    }
}

static ax_sub *block_sub(ax_node *n, const char *topic, enum ax_shm_use shm, struct gated *g)
{
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.overload = AX_OVERLOAD_BLOCK;
    so.qos.shm = shm;
    so.on_event = on_sub_event;
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, topic, "test.Seq", on_gated, g, &so));
    return s;
}

static int publish_k(ax_pub *p, uint64_t k)
{
    static uint8_t buf[SIZE];
    memcpy(buf, &k, sizeof k);
    return ax_pub_publish_bytes(p, buf, sizeof buf);
}

static void wait_matched(ax_pub *p, ax_sub *s)
{
    struct ax_endpoint_counters c;
    WAIT_FOR((ax_pub_counters(p, &c), c.connections == 1), 10000);
    WAIT_FOR((ax_sub_counters(s, &c), c.connections == 1), 10000);
}

/* A publishing node and a node with a slow block subscription to it. */
struct pair {
    ax_node *pn, *sn;
    ax_pub *p;
    ax_sub *s;
    struct gated g;
};

static void pair_open(struct pair *x, const char *pub_yaml, const char *topic, enum ax_shm_use shm)
{
    x->pn = make("block-pub", 0, 1, pub_yaml);
    x->sn = make("block-sub", 0, 1, NULL);
    gated_init(&x->g);
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos.max_blocking_ns = 50 * AX_NS_PER_MS;
    AX_OK_OR_FAIL(ax_pub_new_raw(&x->p, x->pn, topic, "test.Seq", &po));
    x->s = block_sub(x->sn, topic, shm, &x->g);
    wait_matched(x->p, x->s);
}

static void pair_close(struct pair *x)
{
    ax_sub_free(x->s);
    ax_pub_free(x->p);
    ax_node_destroy(x->sn);
    ax_node_destroy(x->pn);
}

/* From the application's thread: wait, then AX_ETIMEDOUT; every message
 * that was accepted arrives, in order, once the reader goes on. */
static void app_thread_waits(enum ax_shm_use shm, enum ax_link_transport want)
{
    struct pair x;
    pair_open(&x, "transport:\n  queue_frames: 4\n", "/block/a", shm);
    ax_pub *p = x.p;
    ax_sub *s = x.s;
    struct gated *g = &x.g;
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_sub_counters(s, &c));
    assert_int_equal(c.links[0].transport, want);
    /* The reader is stopped at its first message: the publisher fills the
     * queue (and the socket, and the reader's quota), then waits. */
    uint64_t sent = 0;
    int rc = 0;
    while (sent < 100000 && (rc = publish_k(p, sent + 1)) == 0)
        sent++;
    assert_int_equal(rc, AX_ETIMEDOUT);
    assert_true(sent >= 4);
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        assert_int_equal(c.drops[r], 0);
    gate_open(g);
    int64_t end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (gated_count(g) != sent && ax_clock_mono_ns() < end)
        poll(NULL, 0, 2);
    if (gated_count(g) != sent) { /* what each side counted, to tell where they went */
        AX_OK_OR_FAIL(ax_pub_counters(p, &c));
        struct ax_endpoint_counters sc;
        AX_OK_OR_FAIL(ax_sub_counters(s, &sc));
        struct ax_pool_stats ps;
        ax_pub_pool_stats(p, &ps);
        fail_msg("sent %llu got %llu; pub queued %llu msgs %llu; sub msgs %llu gaps %llu; "
                 "pool in_use %llu copied %llu",
                 (unsigned long long)sent, (unsigned long long)gated_count(g),
                 (unsigned long long)c.queued_messages, (unsigned long long)c.messages,
                 (unsigned long long)sc.messages, (unsigned long long)sc.gaps,
                 (unsigned long long)ps.in_use, (unsigned long long)ps.copied);
    }
    /* And after the wait, publishing goes on as before. */
    AX_OK_OR_FAIL(publish_k(p, sent + 1));
    WAIT_FOR(gated_count(g) == sent + 1, 20000);
    assert_int_equal(g->order_errors, 0);
    assert_int_equal(g->gaps, 0);
    AX_OK_OR_FAIL(ax_sub_counters(s, &c));
    assert_int_equal(c.gaps, 0);
    assert_int_equal(c.messages, sent + 1);
    pair_close(&x);
}

static void t_app_thread_waits_shm(void **state)
{
    (void)state;
    app_thread_waits(AX_SHM_AUTO, AX_LINK_SHM);
}

static void t_app_thread_waits_tcp(void **state)
{
    (void)state;
    app_thread_waits(AX_SHM_OFF, AX_LINK_TCP);
}

/* Over TCP the queue to a block subscriber holds transport.block_bytes
 * (and one frame beyond, the soft bound), not queue_bytes: the socket's
 * buffer keeps the link busy, a deeper queue would only be cold memory. */
static void t_block_bytes_bound_tcp_queue(void **state)
{
    (void)state;
    struct pair x;
    pair_open(&x, "transport:\n  block_bytes: 256KiB\n", "/block/bytes", AX_SHM_OFF);
    ax_pub *p = x.p;
    struct gated *g = &x.g;
    uint64_t sent = 0, most = 0;
    int rc = 0;
    struct ax_endpoint_counters c;
    while (sent < 20000 && (rc = publish_k(p, sent + 1)) == 0) {
        sent++;
        AX_OK_OR_FAIL(ax_pub_counters(p, &c));
        if (c.queued_bytes > most)
            most = c.queued_bytes;
    }
    assert_int_equal(rc, AX_ETIMEDOUT);
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    if (c.queued_bytes > most)
        most = c.queued_bytes;
    /* With queue_bytes (64 MiB) as the bound it would be ~1000 frames. */
    if (most > 256 * 1024 + SIZE + 1024 || most < 128 * 1024) /* a frame header is 48 B */
        fail_msg("queued %llu bytes at most (%llu sent)", (unsigned long long)most,
                 (unsigned long long)sent);
    gate_open(g);
    WAIT_FOR(gated_count(g) == sent, 20000);
    assert_int_equal(g->order_errors, 0);
    assert_int_equal(g->gaps, 0);
    pair_close(&x);
}

/* The loop's hand-over queue holds queue_bytes too, not only queue_frames:
 * a best-effort publisher of large messages whose loop is busy gets
 * AX_EAGAIN after a queue's worth of bytes instead of queueing without
 * bound (1.5 GB at 1 MiB a message when it counted frames only). */
static void t_handover_queue_bound_in_bytes(void **state)
{
    (void)state;
    ax_node *n = make("handover", 1, 1, "transport:\n  queue_bytes: 1MiB\n");
    struct gated g;
    gated_init(&g);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/block/handover", "test.Seq", NULL));
    ax_sub *s; /* the same node: delivered on its loop, which it holds at the gate */
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, "/block/handover", "test.Seq", on_gated, &g, NULL));
    AX_OK_OR_FAIL(publish_k(p, 1));
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    for (;;) {
        pthread_mutex_lock(&g.mu);
        bool w = g.waiting;
        pthread_mutex_unlock(&g.mu);
        if (w || ax_clock_mono_ns() > end)
            break;
        poll(NULL, 0, 1);
    }
    assert_true(g.waiting);
    uint64_t sent = 1;
    int rc = 0;
    while (sent < 1000 && (rc = publish_k(p, sent + 1)) == 0)
        sent++;
    assert_int_equal(rc, AX_EAGAIN);
    /* 1 MiB of 64 KiB messages is 16, the one held in its callback
     * included (the loop takes its count off by the batch); one more if
     * the loop took it off already. Counted in frames: all 1000. */
    if (sent < 16 || sent > 17)
        fail_msg("%llu accepted while the loop was held", (unsigned long long)sent);
    gate_open(&g);
    WAIT_FOR(gated_count(&g) == sent, 20000);
    AX_OK_OR_FAIL(publish_k(p, sent + 1));
    WAIT_FOR(gated_count(&g) == sent + 1, 20000);
    assert_int_equal(g.order_errors, 0);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(n);
}

/* ---- a loop thread never waits ---- */

struct writable {
    int events;
};

static void on_pub_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct writable *w = user;
    (void)self;
    if (ev->kind == AX_PS_WRITABLE)
        w->events++;
}

static void t_loop_thread_never_waits(void **state)
{
    (void)state;
    /* threads = 0: this thread runs the publisher's loop (ax_node_spin_once). */
    ax_node *pn = make("loop-pub", 1, 0, "transport:\n  queue_frames: 4\n");
    ax_node *sn = make("loop-sub", 1, 1, NULL);
    struct gated g;
    gated_init(&g);
    struct writable w = {0};
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.on_event = on_pub_event;
    po.user = &w;
    po.qos.max_blocking_ns = 10 * AX_NS_PER_S; /* would be seen, were it waited */
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, pn, "/block/loop", "test.Seq", &po));
    ax_sub *s = block_sub(sn, "/block/loop", AX_SHM_DEFAULT, &g);
    struct ax_endpoint_counters c;
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    do
        ax_node_spin_once(pn, 5);
    while ((ax_pub_counters(p, &c), c.connections == 0) && ax_clock_mono_ns() < end);
    assert_int_equal(c.connections, 1);
    uint64_t sent = 0;
    int rc = 0;
    end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (rc == 0 && ax_clock_mono_ns() < end) {
        rc = publish_k(p, sent + 1);
        if (rc == 0)
            sent++;
        ax_node_spin_once(pn, 0);
    }
    assert_int_equal(rc, AX_EAGAIN); /* a wait would have said AX_ETIMEDOUT */
    assert_int_equal(w.events, 0);
    gate_open(&g);
    end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (w.events == 0 && ax_clock_mono_ns() < end)
        ax_node_spin_once(pn, 5);
    assert_int_equal(w.events, 1);
    AX_OK_OR_FAIL(publish_k(p, sent + 1));
    sent++;
    end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (gated_count(&g) < sent && ax_clock_mono_ns() < end)
        ax_node_spin_once(pn, 5);
    assert_int_equal(gated_count(&g), sent);
    assert_int_equal(g.order_errors, 0);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(sn);
    ax_node_destroy(pn);
}

/* ---- one slow block subscriber slows its topic only ---- */

struct counter {
    atomic_ullong n;
};

static void on_count(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    atomic_fetch_add(&((struct counter *)user)->n, 1);
}

static void t_other_topics_go_on(void **state)
{
    (void)state;
    ax_node *pn = make("two-topics", 0, 1, "transport:\n  queue_frames: 4\n");
    ax_node *slow = make("slow", 0, 1, NULL);
    ax_node *fast = make("fast", 0, 1, NULL);
    struct gated g;
    gated_init(&g);
    struct counter cnt = {0};
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos.max_blocking_ns = 20 * AX_NS_PER_MS;
    ax_pub *pa, *pb;
    AX_OK_OR_FAIL(ax_pub_new_raw(&pa, pn, "/block/slow", "test.Seq", &po));
    AX_OK_OR_FAIL(ax_pub_new_raw(&pb, pn, "/block/fast", "test.Seq", &po));
    ax_sub *sa = block_sub(slow, "/block/slow", AX_SHM_DEFAULT, &g);
    ax_sub *sb;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sb, fast, "/block/fast", "test.Seq", on_count, &cnt, NULL));
    wait_matched(pa, sa);
    wait_matched(pb, sb);
    uint64_t sent = 0;
    while (publish_k(pa, sent + 1) == 0)
        sent++;
    /* /block/slow is stuck; /block/fast is not. */
    assert_int_equal(publish_k(pa, sent + 1), AX_ETIMEDOUT);
    for (uint64_t k = 1; k <= 200; k++) {
        AX_OK_OR_FAIL(publish_k(pb, k));
        WAIT_FOR(atomic_load(&cnt.n) == k, 10000);
    }
    gate_open(&g);
    WAIT_FOR(gated_count(&g) == sent, 20000);
    assert_int_equal(g.order_errors, 0);
    ax_sub_free(sa);
    ax_sub_free(sb);
    ax_pub_free(pa);
    ax_pub_free(pb);
    ax_node_destroy(fast);
    ax_node_destroy(slow);
    ax_node_destroy(pn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_app_thread_waits_shm),
        cmocka_unit_test(t_app_thread_waits_tcp),
        cmocka_unit_test(t_block_bytes_bound_tcp_queue),
        cmocka_unit_test(t_handover_queue_bound_in_bytes),
        cmocka_unit_test(t_loop_thread_never_waits),
        cmocka_unit_test(t_other_topics_go_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
