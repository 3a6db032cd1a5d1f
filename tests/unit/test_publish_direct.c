/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Direct publishes: a publish from the application's thread that the
 * thread delivers itself while the node's loop thread waits for events
 * (core/pub.c, publish_direct()), between nodes of this process over real
 * sockets and shared memory:
 *
 *  - a message that follows a pause goes direct, over TCP and over shared
 *    memory, in order, and the subscriber's callback still runs on its
 *    own node's loop thread;
 *  - a subscription of the publishing node itself keeps every delivery on
 *    the loop thread: no publish goes direct then; one just made gets the
 *    message published right after it;
 *  - large chunks read in place go direct however fast they come; large
 *    messages over TCP never do (the loop sends them while the
 *    application prepares the next), and nothing is lost either way;
 *  - and the other way (ax_sub_wait()): a thread that waits for its
 *    subscription's callbacks runs them itself when the loop is idle,
 *    every message arrives once and in order, the call refuses a loop's
 *    thread, and a callback it runs may destroy its own node.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "ax_test.h"

static ax_node *make(const char *name, unsigned k, enum ax_shm_use shm)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_DIRECT, k);
    c.transport.shm = shm;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

/* What a subscription saw: how many, in order or not, on which thread. */
struct seen {
    pthread_t app;           /* the test's thread */
    atomic_ullong n;         /* messages */
    atomic_ullong next;      /* the number expected next */
    atomic_ullong disorder;  /* messages out of order */
    atomic_ullong on_app;    /* callbacks run on the test's thread */
    atomic_ullong wrong_len; /* messages of another length than sent */
    size_t len;
};

static void seen_init(struct seen *s, size_t len)
{
    memset(s, 0, sizeof *s);
    s->app = pthread_self();
    atomic_store(&s->next, 1);
    s->len = len;
}

/* The sequence number a test message starts with (0 if too short). */
static uint64_t seq_of(const struct ax_msg *m)
{
    uint64_t k = 0;
    if (m->len >= sizeof k)
        memcpy(&k, m->data, sizeof k);
    return k;
}

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct seen *s = user;
    (void)sub;
    uint64_t k = seq_of(m);
    if (k != atomic_load(&s->next))
        atomic_fetch_add(&s->disorder, 1);
    atomic_store(&s->next, k + 1);
    if (m->len != s->len)
        atomic_fetch_add(&s->wrong_len, 1);
    if (pthread_equal(pthread_self(), s->app))
        atomic_fetch_add(&s->on_app, 1);
    atomic_fetch_add(&s->n, 1);
}

static ax_sub *subscribe(ax_node *n, const char *topic, struct seen *s, bool block)
{
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    if (block)
        so.qos.overload = AX_OVERLOAD_BLOCK;
    ax_sub *sub;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sub, n, topic, "test.Direct", on_msg, s, &so));
    return sub;
}

static uint64_t direct_count(ax_pub *p)
{
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    return c.direct;
}

static uint32_t connections(ax_pub *p)
{
    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    return c.connections;
}

/* Message @k (from 1), 64 bytes. */
static void publish_k(ax_pub *p, uint64_t k)
{
    uint8_t buf[64];
    memset(buf, (int)k, sizeof buf);
    memcpy(buf, &k, sizeof k);
    AX_OK_OR_FAIL(ax_pub_publish_bytes(p, buf, sizeof buf));
}

#define PINGS 200

/* One message at a time, each once the last has arrived: every publish
 * follows a pause, the publishing node's loop waits, and the message goes
 * direct (a timer of the loop may take a few). */
static void ping_run(enum ax_shm_use shm, unsigned k, enum ax_link_transport want)
{
    ax_node *a = make("direct-pub", k, shm), *b = make("direct-sub", k, shm);
    char topic[64];
    snprintf(topic, sizeof topic, "/direct/ping/%u", k);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, topic, "test.Direct", NULL));
    struct seen s;
    seen_init(&s, 64);
    ax_sub *sub = subscribe(b, topic, &s, false);
    WAIT_FOR(connections(p) == 1, 10000);
    struct ax_endpoint_counters sc;
    AX_OK_OR_FAIL(ax_sub_counters(sub, &sc));
    assert_int_equal(sc.links[0].transport, want);

    for (uint64_t i = 1; i <= PINGS; i++) {
        publish_k(p, i);
        WAIT_FOR(atomic_load(&s.n) == i, 10000);
    }
    assert_int_equal(atomic_load(&s.disorder), 0);
    assert_int_equal(atomic_load(&s.wrong_len), 0);
    assert_int_equal(atomic_load(&s.on_app), 0);
    uint64_t direct = direct_count(p);
    print_message("%s: %llu of %d publishes direct\n", ax_link_transport_name(want),
                  (unsigned long long)direct, PINGS);
    assert_true(direct >= PINGS / 2);

    ax_sub_free(sub);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static void test_after_a_pause_direct_over_tcp(void **state)
{
    (void)state;
    ping_run(AX_SHM_OFF, 0, AX_LINK_TCP);
}

static void test_after_a_pause_direct_over_shm(void **state)
{
    (void)state;
    ping_run(AX_SHM_AUTO, 1, AX_LINK_SHM);
}

/* A subscription on the publishing node: its callback belongs on the loop
 * thread, so every publish is handed over, and both subscriptions get all. */
static void test_local_subscription_keeps_the_handover(void **state)
{
    (void)state;
    ax_node *a = make("direct-local-pub", 0, AX_SHM_OFF),
            *b = make("direct-local-sub", 0, AX_SHM_OFF);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/direct/local", "test.Direct", NULL));
    struct seen local, remote;
    seen_init(&local, 64);
    seen_init(&remote, 64);
    ax_sub *ls = subscribe(a, "/direct/local", &local, false);
    ax_sub *rs = subscribe(b, "/direct/local", &remote, false);
    WAIT_FOR(connections(p) == 2, 10000);
    for (uint64_t i = 1; i <= 50; i++) {
        publish_k(p, i);
        WAIT_FOR(atomic_load(&local.n) == i && atomic_load(&remote.n) == i, 10000);
    }
    assert_int_equal(direct_count(p), 0);
    assert_int_equal(atomic_load(&local.on_app), 0);
    assert_int_equal(atomic_load(&remote.on_app), 0);
    assert_int_equal(atomic_load(&local.disorder) + atomic_load(&remote.disorder), 0);
    ax_sub_free(rs);
    ax_sub_free(ls);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* A subscription made on the publishing node, then a publish at once from
 * the same thread: the subscription's attach was posted to the loop first,
 * so the message must reach it (the gate refuses a guest while tasks are
 * posted; a direct publish that went first would find no subscription). */
static void test_subscribe_then_publish_keeps_order(void **state)
{
    (void)state;
    ax_node *a = make("direct-order", 1, AX_SHM_OFF);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/direct/order", "test.Direct", NULL));
    for (uint64_t round = 1; round <= 50; round++) {
        struct seen s;
        seen_init(&s, 64);
        atomic_store(&s.next, round);
        ax_sub *sub = subscribe(a, "/direct/order", &s, false);
        publish_k(p, round); /* the publisher was quiet: it may go direct */
        WAIT_FOR(atomic_load(&s.n) == 1, 10000);
        assert_int_equal(atomic_load(&s.disorder), 0);
        ax_sub_free(sub);
    }
    ax_pub_free(p);
    ax_node_destroy(a);
}

#define BIG   (1u << 20)
#define BURST 64

/* Back to back, lossless: 1 MiB chunks read in place go direct however
 * fast they come; over TCP none does. All arrive, in order, either way. */
static void burst_run(enum ax_shm_use shm, unsigned k, bool want_direct)
{
    ax_node *a = make("direct-big-pub", k, shm), *b = make("direct-big-sub", k, shm);
    char topic[64];
    snprintf(topic, sizeof topic, "/direct/big/%u", k);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, topic, "test.Direct", NULL));
    struct seen s;
    seen_init(&s, BIG);
    ax_sub *sub = subscribe(b, topic, &s, true);
    WAIT_FOR(connections(p) == 1, 10000);
    for (uint64_t i = 1; i <= BURST; i++) {
        int rc;
        /* block: a publish waits up to max_blocking_time for room; a
         * timeout leaves nothing published, so the same number again. */
        for (;;) {
            struct ax_loan l;
            rc = ax_pub_loan(p, BIG, &l);
            if (rc == 0) {
                memset(l.data, (int)i, BIG);
                memcpy(l.data, &i, sizeof i);
                rc = ax_pub_publish_loan(p, &l, BIG);
            }
            if (rc != AX_ETIMEDOUT && rc != AX_EAGAIN)
                break;
        }
        AX_OK_OR_FAIL(rc);
    }
    WAIT_FOR(atomic_load(&s.n) == BURST, 20000);
    assert_int_equal(atomic_load(&s.disorder), 0);
    assert_int_equal(atomic_load(&s.wrong_len), 0);
    uint64_t direct = direct_count(p);
    print_message("1 MiB burst, shm %s: %llu of %d direct\n", shm == AX_SHM_OFF ? "off" : "auto",
                  (unsigned long long)direct, BURST);
    if (want_direct)
        assert_true(direct > 0);
    else
        assert_int_equal(direct, 0);
    ax_sub_free(sub);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static void test_big_chunks_direct_big_tcp_never(void **state)
{
    (void)state;
    burst_run(AX_SHM_AUTO, 0, true);
    burst_run(AX_SHM_OFF, 1, false);
}

/* The echo side of test_sub_wait: a callback on its node's loop thread
 * that answers each request with the same bytes, and that checks that a
 * loop's thread cannot wait in ax_sub_wait() (it would wait for itself). */
struct echo {
    ax_pub *reply;
    ax_sub *other; /* a subscription of another node */
    atomic_int wait_rc;
};

static void on_request(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct echo *e = user;
    (void)sub;
    atomic_store(&e->wait_rc, ax_sub_wait(e->other, 0));
    AX_OK_OR_FAIL(ax_pub_publish_bytes(e->reply, m->data, m->len));
}

/* Request and reply, the test's thread waiting for each reply in
 * ax_sub_wait(): the echo answers from its own loop thread, so the reply
 * comes while this thread waits; it runs the callback itself when it got
 * to serve the loop first (most of the time: printed, and at least once). */
static void wait_run(enum ax_shm_use shm, unsigned k, enum ax_link_transport want)
{
    ax_node *a = make("wait-echo", k, shm), *b = make("wait-asker", k, shm);
    char req[64], rep[64];
    snprintf(req, sizeof req, "/wait/req/%u", k);
    snprintf(rep, sizeof rep, "/wait/rep/%u", k);
    ax_pub *ask, *answer;
    AX_OK_OR_FAIL(ax_pub_new_raw(&ask, b, req, "test.Direct", NULL));
    AX_OK_OR_FAIL(ax_pub_new_raw(&answer, a, rep, "test.Direct", NULL));
    struct seen s;
    seen_init(&s, 64);
    ax_sub *replies = subscribe(b, rep, &s, false);
    struct echo e = {.reply = answer, .other = replies};
    ax_sub *requests;
    AX_OK_OR_FAIL(ax_sub_new_raw(&requests, a, req, "test.Direct", on_request, &e, NULL));
    WAIT_FOR(connections(ask) == 1 && connections(answer) == 1, 10000);
    struct ax_endpoint_counters sc;
    AX_OK_OR_FAIL(ax_sub_counters(replies, &sc));
    assert_int_equal(sc.links[0].transport, want);

    assert_int_equal(ax_sub_wait(NULL, 0), AX_EINVAL);
    /* Nothing asked yet: a round may end all the same (the loop's own
     * timers, discovery), but no reply comes. */
    int rc0 = ax_sub_wait(replies, 0);
    assert_true(rc0 == 0 || rc0 == AX_ETIMEDOUT);
    assert_int_equal(atomic_load(&s.n), 0);
    for (uint64_t i = 1; i <= PINGS; i++) {
        publish_k(ask, i);
        int64_t deadline = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
        while (atomic_load(&s.n) < i && ax_clock_mono_ns() < deadline) {
            int rc = ax_sub_wait(replies, 1000);
            if (rc != AX_ETIMEDOUT)
                AX_OK_OR_FAIL(rc);
        }
        assert_int_equal(atomic_load(&s.n), i);
    }
    assert_int_equal(atomic_load(&s.disorder), 0);
    assert_int_equal(atomic_load(&s.wrong_len), 0);
    assert_int_equal(atomic_load(&e.wait_rc), AX_EBUSY);
    print_message("%s: %llu of %d replies handled on the waiting thread\n",
                  ax_link_transport_name(want), (unsigned long long)atomic_load(&s.on_app), PINGS);
    assert_true(atomic_load(&s.on_app) >= 1);

    ax_sub_free(requests);
    ax_sub_free(replies);
    ax_pub_free(answer);
    ax_pub_free(ask);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

static void test_sub_wait_over_tcp(void **state)
{
    (void)state;
    wait_run(AX_SHM_OFF, 0, AX_LINK_TCP);
}

static void test_sub_wait_over_shm(void **state)
{
    (void)state;
    wait_run(AX_SHM_AUTO, 1, AX_LINK_SHM);
}

/* A callback run by the waiting thread destroys its own node: the
 * destruction is deferred to a thread of its own (the callback's node is
 * this thread's current one), the waiting thread leaves the loop before
 * the loop is freed, and the subscription is freed (its drop runs). Under
 * ASan and TSan, a use of the loop after its free would show here. */
struct doomed {
    ax_node *node;
    ax_pub *pub;
    pthread_t app;
    atomic_int called, dropped, go, on_app;
};

static void on_doomed(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct doomed *d = user;
    (void)sub;
    (void)m;
    /* Only on the waiting thread: a destruction from the loop's thread
     * could free the subscription while the waiting thread is about to
     * call ax_sub_wait() on it, which the contract forbids. */
    bool here = pthread_equal(pthread_self(), d->app);
    if (here)
        atomic_store(&d->on_app, 1);
    if (atomic_fetch_add(&d->called, 1) == 0 && here)
        ax_node_destroy(d->node);
}

/* Publishes once told to, so that the message comes while the test's
 * thread is likely to be waiting in the loop already. */
static void *doomed_talker(void *arg)
{
    struct doomed *d = arg;
    int64_t deadline = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    while (!atomic_load(&d->go) && ax_clock_mono_ns() < deadline) {
    }
    publish_k(d->pub, 1);
    return NULL;
}

static void doomed_drop(void *user)
{
    struct doomed *d = user;
    atomic_store(&d->dropped, 1);
}

static void test_sub_wait_callback_destroys_its_node(void **state)
{
    (void)state;
    int on_app = 0;
    for (unsigned round = 0; round < 5; round++) {
        ax_node *a = make("wait-doom-pub", 0, AX_SHM_OFF),
                *b = make("wait-doom-sub", 0, AX_SHM_OFF);
        ax_pub *p;
        AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/wait/doom", "test.Direct", NULL));
        struct doomed d = {.node = b, .pub = p, .app = pthread_self()};
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        so.drop = doomed_drop;
        ax_sub *sub;
        AX_OK_OR_FAIL(ax_sub_new_raw(&sub, b, "/wait/doom", "test.Direct", on_doomed, &d, &so));
        WAIT_FOR(connections(p) == 1, 10000);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, doomed_talker, &d), 0);
        atomic_store(&d.go, 1);
        int64_t deadline = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
        while (!atomic_load(&d.called) && ax_clock_mono_ns() < deadline) {
            int rc = ax_sub_wait(sub, 100);
            if (rc != AX_ETIMEDOUT)
                AX_OK_OR_FAIL(rc);
        }
        pthread_join(t, NULL);
        assert_int_equal(atomic_load(&d.called), 1);
        if (!atomic_load(&d.on_app)) /* the loop's thread ran it: destroy here */
            ax_node_destroy(b);
        /* From here on neither b nor sub may be used: b is being destroyed. */
        WAIT_FOR(atomic_load(&d.dropped), 10000);
        on_app += atomic_load(&d.on_app);
        ax_pub_free(p);
        ax_node_destroy(a);
    }
    print_message("%d of 5 callbacks ran on the waiting thread and destroyed the node\n", on_app);
    assert_true(on_app >= 1);
}

/* A flood while the test's thread waits in ax_sub_wait(): its rounds hit
 * the read budget and park the link (left to the loop's thread), and the
 * 500th callback destroys the node if the waiting thread runs it (else the
 * test does, after). Every message before it arrived once, in order;
 * nothing hangs (the destruction joins the loop's thread, which must not
 * be waiting for this one). */
#define FLOOD     2000
#define FLOOD_END 500

struct flood {
    ax_node *node;
    ax_pub *pub;
    pthread_t app;
    atomic_int n, disorder, dropped, publish_rc, destroyed_here;
};

/* The flood, from a thread of its own while the test's thread waits. */
static void *flood_talker(void *arg)
{
    struct flood *f = arg;
    for (uint64_t i = 1; i <= FLOOD_END; i++)
        for (;;) { /* block: a publish that found no room is made again */
            uint8_t buf[64];
            memset(buf, 0, sizeof buf);
            memcpy(buf, &i, sizeof i);
            int rc = ax_pub_publish_bytes(f->pub, buf, sizeof buf);
            if (rc != AX_EAGAIN && rc != AX_ETIMEDOUT) {
                if (rc < 0)
                    atomic_store(&f->publish_rc, rc);
                break;
            }
        }
    return NULL;
}

static void on_flood(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct flood *f = user;
    (void)sub;
    uint64_t k = seq_of(m);
    int n = atomic_load(&f->n);
    if (n >= FLOOD_END)
        return; /* the destruction is on its way */
    if (k != (uint64_t)n + 1)
        atomic_fetch_add(&f->disorder, 1);
    /* Destroyed from the last callback when the waiting thread runs it
     * (from the loop's thread, the waiting thread could be about to call
     * ax_sub_wait() on the subscription being freed: not allowed). */
    if (n + 1 == FLOOD_END && pthread_equal(pthread_self(), f->app)) {
        atomic_store(&f->destroyed_here, 1);
        ax_node_destroy(f->node);
    }
    atomic_store(&f->n, n + 1);
}

static void flood_drop(void *user)
{
    struct flood *f = user;
    atomic_store(&f->dropped, 1);
}

static void test_sub_wait_flood_then_destroy(void **state)
{
    (void)state;
    ax_node *a = make("wait-flood-pub", 1, AX_SHM_OFF), *b = make("wait-flood-sub", 1, AX_SHM_OFF);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/wait/flood", "test.Direct", NULL));
    struct flood f = {.node = b, .pub = p, .app = pthread_self()};
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.overload = AX_OVERLOAD_BLOCK; /* every message, in order */
    so.drop = flood_drop;
    ax_sub *sub;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sub, b, "/wait/flood", "test.Direct", on_flood, &f, &so));
    WAIT_FOR(connections(p) == 1, 10000);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flood_talker, &f), 0);
    int64_t deadline = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    while (atomic_load(&f.n) < FLOOD_END && ax_clock_mono_ns() < deadline) {
        int rc = ax_sub_wait(sub, 100);
        if (rc != AX_ETIMEDOUT)
            AX_OK_OR_FAIL(rc);
    }
    pthread_join(t, NULL);
    AX_OK_OR_FAIL(atomic_load(&f.publish_rc));
    assert_int_equal(atomic_load(&f.n), FLOOD_END);
    assert_int_equal(atomic_load(&f.disorder), 0);
    print_message("the last callback ran on the %s thread\n",
                  atomic_load(&f.destroyed_here) ? "waiting" : "loop's");
    if (!atomic_load(&f.destroyed_here))
        ax_node_destroy(b);
    /* From here on neither b nor sub may be used. */
    WAIT_FOR(atomic_load(&f.dropped), 10000);
    for (uint64_t i = FLOOD_END + 1; i <= FLOOD; i++) /* no subscriber left: nothing waits */
        (void)ax_pub_publish_bytes(p, &i, sizeof i);
    ax_pub_free(p);
    ax_node_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_a_pause_direct_over_tcp),
        cmocka_unit_test(test_after_a_pause_direct_over_shm),
        cmocka_unit_test(test_local_subscription_keeps_the_handover),
        cmocka_unit_test(test_subscribe_then_publish_keeps_order),
        cmocka_unit_test(test_big_chunks_direct_big_tcp_never),
        cmocka_unit_test(test_sub_wait_over_tcp),
        cmocka_unit_test(test_sub_wait_over_shm),
        cmocka_unit_test(test_sub_wait_callback_destroys_its_node),
        cmocka_unit_test(test_sub_wait_flood_then_destroy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
