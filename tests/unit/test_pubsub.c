/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publish/subscribe inside one process: intra-process delivery shares the
 * publisher's buffer (no copy) and keeps order; publishing from 4 threads
 * at once reaches a local and a remote subscription completely and in
 * per-thread order (run under TSan in CI); a sensor_data subscription
 * takes a burst from the application thread whole; freeing from inside
 * callbacks;
 * argument errors; per-topic QoS from the configuration; a publisher
 * announced at an address no transport can use. Between processes:
 * tests/integration/test_pubsub_procs.c.
 */
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_test.h"
#include "axt_node.h"
#include "core/ax__pubsub.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/planning.pb-c.h"

/* Domain k (0..5) of this binary's block: no other test binary uses it
 * (tests/ax_test.h). */
static uint32_t dom(unsigned k)
{
    return axt_domain(AXT_DOMAINS_PUBSUB, k);
}

static ax_node *make(const char *name, uint32_t domain, unsigned threads)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    c.threads = threads;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

/* ---- intra-process: shared buffer, order ---- */

struct seen {
    pthread_mutex_t mu;
    const uint8_t *last_ptr;
    uint64_t n, order_errors, last_counter;
    bool intra;
};

static void record(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct seen *x = user;
    (void)s;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < sizeof c ? m->len : sizeof c);
    pthread_mutex_lock(&x->mu);
    if (x->n && c != x->last_counter + 1)
        x->order_errors++;
    x->last_counter = c;
    x->last_ptr = m->data;
    x->intra = m->intra_process;
    x->n++;
    pthread_mutex_unlock(&x->mu);
}

static int owned_freed;
static void *owned_mem;

static void owned_free(void *data, void *arg)
{
    (void)arg;
    assert_ptr_equal(data, owned_mem);
    owned_freed++;
    free(data);
}

static void test_intra_process_shares_buffer_and_keeps_order(void **state)
{
    (void)state;
    ax_node *n = make("solo", dom(0), 0); /* caller's thread: deterministic */
    ax_pub *p;
    ax_sub *a, *b;
    struct seen sa = {.mu = PTHREAD_MUTEX_INITIALIZER}, sb = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/intra", "axon.test.Counter", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&a, n, "/intra", "axon.test.Counter", record, &sa, NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&b, n, "/intra", "axon.test.Counter", record, &sb, NULL));
    for (uint64_t i = 1; i <= 10000; i++)
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, &i, sizeof i));
    assert_int_equal(sa.n, 10000);
    assert_int_equal(sb.n, 10000);
    assert_int_equal(sa.order_errors + sb.order_errors, 0);
    assert_true(sa.intra && sb.intra);
    /* Both subscriptions saw the very same bytes: one buffer, no copy. */
    assert_ptr_equal(sa.last_ptr, sb.last_ptr);

    /* Handed over: the subscribers read the caller's own memory, which is
     * freed once, when the last of them is done with it. */
    owned_mem = malloc(64);
    uint64_t v = 10001;
    memcpy(owned_mem, &v, sizeof v);
    owned_freed = 0;
    AX_OK_OR_FAIL(ax_pub_publish_owned(p, owned_mem, 64, owned_free, NULL));
    assert_ptr_equal(sa.last_ptr, owned_mem);
    assert_ptr_equal(sb.last_ptr, owned_mem);
    assert_int_equal(owned_freed, 1);

    struct ax_endpoint_counters c;
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    assert_int_equal(c.messages, 10001);
    assert_int_equal(c.connections, 2);
    ax_sub_free(a);
    ax_sub_free(b);
    ax_pub_free(p);
    ax_node_destroy(n);
}

/* ---- 4 threads publishing at once ---- */

#define THREADS    4
#define PER_THREAD 25000
#define MT_LEN     32 /* thread id, counter, zeros */

struct mt {
    ax_pub *pub;
    int id;
};

/* What one subscription saw. Anything but THREADS runs of MT_LEN-byte
 * messages numbered 1, 2, 3... per thread id, on the expected path, is
 * counted as an error of its kind. */
struct mt_seen {
    pthread_mutex_t mu;
    bool intra; /* must arrive in-process (the local one) or over TCP */
    uint64_t n, order_errors, bad_len, bad_tid, wrong_path;
    uint32_t last[THREADS];
};

static void mt_record(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct mt_seen *x = user;
    (void)s;
    pthread_mutex_lock(&x->mu);
    x->n++;
    if (m->intra_process != x->intra)
        x->wrong_path++;
    if (m->len != MT_LEN) {
        x->bad_len++;
    } else {
        uint32_t tid, counter;
        memcpy(&tid, m->data, 4);
        memcpy(&counter, m->data + 4, 4);
        if (tid >= THREADS) {
            x->bad_tid++;
        } else {
            if (counter != x->last[tid] + 1)
                x->order_errors++;
            x->last[tid] = counter;
        }
    }
    pthread_mutex_unlock(&x->mu);
}

/* Everything arrived, once, in order, intact, by the expected path. */
static void mt_check(struct mt_seen *x, const char *who)
{
    pthread_mutex_lock(&x->mu);
    uint64_t n = x->n, order = x->order_errors, len = x->bad_len, tid = x->bad_tid,
             path = x->wrong_path;
    uint32_t last[THREADS];
    memcpy(last, x->last, sizeof last);
    pthread_mutex_unlock(&x->mu);
    if (n != (uint64_t)THREADS * PER_THREAD || order || len || tid || path)
        fail_msg("%s: %llu messages of %d; %llu out of order, %llu of a wrong length, %llu with "
                 "a thread id out of range, %llu %s",
                 who, (unsigned long long)n, THREADS * PER_THREAD, (unsigned long long)order,
                 (unsigned long long)len, (unsigned long long)tid, (unsigned long long)path,
                 x->intra ? "not intra-process" : "intra-process");
    for (int t = 0; t < THREADS; t++)
        if (last[t] != PER_THREAD)
            fail_msg("%s: thread %d's last message was %u of %d", who, t, last[t], PER_THREAD);
}

static void *mt_publish(void *arg)
{
    struct mt *t = arg;
    uint8_t payload[MT_LEN] = {0};
    for (uint32_t i = 1; i <= PER_THREAD; i++) {
        uint32_t tid = (uint32_t)t->id;
        memcpy(payload, &tid, 4);
        memcpy(payload + 4, &i, 4);
        int rc;
        while ((rc = ax_pub_publish_bytes(t->pub, payload, sizeof payload)) == AX_EAGAIN)
            sched_yield();
        if (rc != 0)
            abort(); /* cmocka asserts are not for other threads */
    }
    return NULL;
}

static uint64_t mt_count(struct mt_seen *x)
{
    pthread_mutex_lock(&x->mu);
    uint64_t n = x->n;
    pthread_mutex_unlock(&x->mu);
    return n;
}

static void test_four_threads_publish_at_once(void **state)
{
    (void)state;
    ax_node *a = make("mt-pub", dom(1), 2);
    ax_node *b = make("mt-sub", dom(1), 1);
    ax_pub *p;
    ax_sub *local, *remote;
    struct mt_seen sl = {.mu = PTHREAD_MUTEX_INITIALIZER, .intra = true};
    struct mt_seen sr = {.mu = PTHREAD_MUTEX_INITIALIZER, .intra = false};
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/mt", "axon.test.Mt", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&local, a, "/mt", "axon.test.Mt", mt_record, &sl, NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&remote, b, "/mt", "axon.test.Mt", mt_record, &sr, NULL));
    struct ax_endpoint_counters c;
    WAIT_FOR((ax_pub_counters(p, &c), c.connections == 2), 5000);
    pthread_t th[THREADS];
    struct mt args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct mt){p, i};
        assert_int_equal(pthread_create(&th[i], NULL, mt_publish, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    /* At least: one too many must fail below, not wait for the deadline. */
    WAIT_FOR(mt_count(&sl) >= THREADS * PER_THREAD && mt_count(&sr) >= THREADS * PER_THREAD, 30000);
    mt_check(&sl, "local subscription");
    mt_check(&sr, "remote subscription");
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    assert_int_equal(c.messages, THREADS * PER_THREAD);
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        assert_int_equal(c.drops[r], 0);
    ax_sub_free(remote);
    ax_sub_free(local);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* ---- sensor_data: a burst from the application thread ---- */

/* A subscription with the sensor_data preset (latest_only, history 5) and
 * a publisher that publishes 100 small messages from this thread at once:
 * they reach its loop as one batch through the hand-over queue, the
 * socket has room for all of them, and all arrive, none dropped (before,
 * the queue's bound of 5 met the batch before any flush: 95 dropped, to a
 * subscriber that was idle). */
static uint64_t seen_n(struct seen *x)
{
    pthread_mutex_lock(&x->mu);
    uint64_t n = x->n;
    pthread_mutex_unlock(&x->mu);
    return n;
}

static void test_sensor_data_burst_not_dropped(void **state)
{
    (void)state;
    ax_node *a = make("sd-pub", dom(2), 1);
    ax_node *b = make("sd-sub", dom(2), 1);
    struct seen x = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos = AX_QOS_SENSOR_DATA;
    ax_pub *p;
    ax_sub *s;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/sd/burst", "axon.test.Sd", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, b, "/sd/burst", "axon.test.Sd", record, &x, &so));
    struct ax_endpoint_counters c;
    WAIT_FOR((ax_pub_counters(p, &c), c.connections == 1), 5000);
    enum { N = 100 };
    for (uint64_t i = 1; i <= N; i++) {
        uint8_t msg[64] = {0};
        memcpy(msg, &i, sizeof i);
        assert_int_equal(ax_pub_publish_bytes(p, msg, sizeof msg), 0);
    }
    WAIT_FOR(seen_n(&x) == N, 5000);
    AX_OK_OR_FAIL(ax_pub_counters(p, &c));
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        assert_int_equal(c.drops[r], 0);
    pthread_mutex_lock(&x.mu);
    assert_int_equal(x.order_errors, 0);
    assert_int_equal(x.last_counter, N);
    pthread_mutex_unlock(&x.mu);
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* ---- a publisher freed right after publishing ---- */

/* The subscriber is slow (20 ms a message), so when the publisher goes,
 * most of what it sent is still on the way; its departure reaches the
 * subscriber through discovery long before the data does. Everything must
 * arrive all the same, and UNMATCHED only after it. */
static struct {
    pthread_mutex_t mu;
    uint64_t n, n_at_unmatched;
    bool unmatched;
} drain = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void drain_record(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    (void)user;
    poll(NULL, 0, 20);
    pthread_mutex_lock(&drain.mu);
    drain.n++;
    pthread_mutex_unlock(&drain.mu);
}

static void drain_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    (void)self;
    (void)user;
    pthread_mutex_lock(&drain.mu);
    if (ev->kind == AX_PS_UNMATCHED && !drain.unmatched) {
        drain.unmatched = true;
        drain.n_at_unmatched = drain.n;
    }
    pthread_mutex_unlock(&drain.mu);
}

static bool drain_unmatched(void)
{
    pthread_mutex_lock(&drain.mu);
    bool u = drain.unmatched;
    pthread_mutex_unlock(&drain.mu);
    return u;
}

static void test_freed_publisher_delivers_what_it_sent(void **state)
{
    (void)state;
    enum { N = 40 };
    ax_node *a = make("drain-pub", dom(1), 1);
    ax_node *b = make("drain-sub", dom(1), 1);
    ax_pub *p;
    ax_sub *s;
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.on_event = drain_event;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/drain", "axon.test.Drain", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, b, "/drain", "axon.test.Drain", drain_record, NULL, &so));
    struct ax_endpoint_counters c;
    WAIT_FOR((ax_pub_counters(p, &c), c.connections == 1), 5000);
    for (uint64_t i = 1; i <= N; i++) {
        int rc;
        while ((rc = ax_pub_publish_bytes(p, &i, sizeof i)) == AX_EAGAIN)
            poll(NULL, 0, 1);
        AX_OK_OR_FAIL(rc);
    }
    ax_pub_free(p);
    WAIT_FOR(drain_unmatched(), 10000);
    print_message("%llu of %d messages delivered before UNMATCHED\n",
                  (unsigned long long)drain.n_at_unmatched, N);
    assert_int_equal(drain.n_at_unmatched, N);
    AX_OK_OR_FAIL(ax_sub_counters(s, &c));
    assert_int_equal(c.gaps, 0);
    ax_sub_free(s);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* ---- freeing from inside callbacks ---- */

struct selffree {
    ax_sub *self;
    ax_pub *pub_to_free;
    int calls;
};

static void free_self(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct selffree *x = user;
    (void)m;
    x->calls++;
    ax_sub_free(s); /* inside its own callback */
    if (x->pub_to_free) {
        ax_pub_free(x->pub_to_free); /* the publisher delivering right now */
        x->pub_to_free = NULL;
    }
}

static int dropped;

static void count_drop(void *user)
{
    (void)user;
    dropped++;
}

static void test_free_inside_callbacks(void **state)
{
    (void)state;
    ax_node *n = make("selfish", dom(2), 0);
    ax_pub *p;
    ax_sub *s1, *s2;
    struct selffree x1 = {0}, x2 = {0};
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.drop = count_drop;
    dropped = 0;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/self", "t", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s1, n, "/self", "t", free_self, &x1, &so));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s2, n, "/self", "t", free_self, &x2, &so));
    x2.pub_to_free = p;
    AX_OK_OR_FAIL(ax_pub_publish_bytes(p, "x", 1));
    assert_int_equal(x1.calls, 1);
    assert_int_equal(x2.calls, 1);
    assert_int_equal(dropped, 2);
    /* The publisher's free waited for the end of its delivery, inside the
     * publish call: nothing is left to run. */
    assert_int_equal(ax_node_spin_once(n, 0), 0);
    ax_node_destroy(n);
}

/* A subscription frees itself from a callback of its own attach: from the
 * first message of a late joiner's history, or from the TYPE_MISMATCH event
 * a local publisher of another type raises. The free waits for the end of
 * the attach, which delivers nothing more to it (ASan watches the rest). */
static void nop(ax_sub *s, const struct ax_msg *m, void *user);
static int mismatch_events;

static void free_on_mismatch(void *self, const struct ax_pubsub_event *ev, void *user)
{
    (void)user;
    if (ev->kind != AX_PS_TYPE_MISMATCH)
        return;
    mismatch_events++;
    ax_sub_free(self); /* the subscription the event is about */
}

static void test_free_inside_attach(void **state)
{
    (void)state;
    ax_node *n = make("attach", dom(2), 0);
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = AX_QOS_LATCHED;
    po.qos.history = 3;
    ax_pub *p, *other;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/late", "t", &po));
    for (int i = 0; i < 3; i++)
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, "h", 1));
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos = AX_QOS_LATCHED;
    so.drop = count_drop;
    dropped = 0;
    struct selffree x = {0};
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, "/late", "t", free_self, &x, &so));
    assert_int_equal(x.calls, 1); /* of 3 kept: it freed itself on the first */
    assert_int_equal(dropped, 1); /* and is gone already */

    AX_OK_OR_FAIL(ax_pub_new_raw(&other, n, "/late", "u", NULL));
    ax_sub_options_init(&so);
    so.on_event = free_on_mismatch;
    so.drop = count_drop;
    mismatch_events = 0;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, "/late", "t", nop, NULL, &so));
    assert_int_equal(mismatch_events, 1);
    assert_int_equal(dropped, 2);
    ax_pub_free(other);
    ax_pub_free(p);
    ax_node_destroy(n);
}

/* ---- errors ---- */

static void nop(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    (void)user;
}

static void test_argument_errors_and_typed_publish(void **state)
{
    (void)state;
    ax_node *n = make("errs", dom(3), 0);
    const ax_type *obstacles, *traj;
    AX_OK_OR_FAIL(ax_type_find("axon.perception.ObstacleList", &obstacles));
    AX_OK_OR_FAIL(ax_type_find("axon.planning.Trajectory", &traj));
    ax_pub *p = NULL;
    ax_sub *s = NULL;
    assert_int_equal(ax_pub_new(&p, n, "", obstacles, NULL), AX_EINVAL);
    assert_int_equal(ax_pub_new(&p, n, "/with space", obstacles, NULL), AX_EINVAL);
    assert_int_equal(ax_pub_new(&p, n, "/x", NULL, NULL), AX_EINVAL);
    assert_int_equal(ax_sub_new(&s, n, "/x", obstacles, NULL, NULL, NULL), AX_EINVAL);
    char longtopic[300];
    memset(longtopic, 'a', sizeof longtopic - 1);
    longtopic[sizeof longtopic - 1] = 0;
    assert_int_equal(ax_sub_new(&s, n, longtopic, obstacles, nop, NULL, NULL), AX_EINVAL);

    AX_OK_OR_FAIL(ax_pub_new(&p, n, "/obstacles", obstacles, NULL));
    Axon__Planning__Trajectory t = AXON__PLANNING__TRAJECTORY__INIT;
    assert_int_equal(ax_pub_publish(p, &t.base), AX_EINVAL); /* another type */
    struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_sub_new(&s, n, "/obstacles", obstacles, record, &seen, NULL));
    Axon__Perception__ObstacleList ol = AXON__PERCEPTION__OBSTACLE_LIST__INIT;
    AX_OK_OR_FAIL(ax_pub_publish(p, &ol.base));
    assert_int_equal(seen.n, 1);
    /* Larger than transport.max_frame: refused, not truncated. */
    size_t big = ax_node_config(n)->transport.max_frame + 1;
    void *mem = calloc(1, big);
    assert_int_equal(ax_pub_publish_bytes(p, mem, big), AX_EMSGSIZE);
    free(mem);
    assert_string_equal(ax_pub_topic(p), "/obstacles");
    assert_string_equal(ax_pubsub_event_name(AX_PS_GAP), "gap");
    ax_sub_free(s);
    ax_pub_free(p);
    ax_node_destroy(n);
}

/* ---- QoS from the configuration ---- */

static void test_qos_override_from_config(void **state)
{
    (void)state;
    struct ax_config c;
    struct ax_config_error err;
    ax_config_init(&c);
    c.threads = 0;
    c.domain = dom(4);
    AX_OK_OR_FAIL(ax_config_load_string(
        &c, "qos:\n  /sensors/lidar: {profile: sensor_data, history: 2}\n", "test", &err));
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    ax_pub *p, *q;
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = AX_QOS_LATCHED; /* the configuration wins for its topic */
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/sensors/lidar", "pc", &po));
    AX_OK_OR_FAIL(ax_pub_new_raw(&q, n, "/other", "pc", &po));
    assert_int_equal(ax_pub_qos(p)->reliability, AX_BEST_EFFORT);
    assert_int_equal(ax_pub_qos(p)->history, 2);
    assert_int_equal(ax_pub_qos(p)->overload, AX_OVERLOAD_LATEST_ONLY);
    assert_int_equal(ax_pub_qos(q)->durability, AX_TRANSIENT_LOCAL);
    /* The table announces each endpoint's QoS. */
    struct ax_endpoint_info e[2];
    size_t k;
    AX_OK_OR_FAIL(ax_node_list_endpoints(n, "/sensors/lidar", e, 2, &k));
    assert_int_equal(k, 1);
    assert_int_equal(e[0].qos.history, 2);
    ax_pub_free(p);
    ax_pub_free(q);
    ax_node_destroy(n);
}

/* ---- QoS per subscription ---- */

struct firsts {
    pthread_mutex_t mu;
    uint64_t n, first, last;
};

static void note_counter(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct firsts *f = user;
    (void)s;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < sizeof c ? m->len : sizeof c);
    pthread_mutex_lock(&f->mu);
    if (f->n++ == 0)
        f->first = c;
    f->last = c;
    pthread_mutex_unlock(&f->mu);
}

static uint64_t firsts_n(struct firsts *f)
{
    pthread_mutex_lock(&f->mu);
    uint64_t n = f->n;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Three subscriptions of one node on one topic, from a transient-local
 * publisher on another node that kept 10 messages: each gets the history
 * it asked for (10, the newest 3, none), and then every live message. */
static void test_history_per_subscription(void **state)
{
    (void)state;
    ax_node *a = make("hist-pub", dom(3), 1), *b = make("hist-sub", dom(3), 1);
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = AX_QOS_LATCHED;
    po.qos.history = 10;
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/hist", "axon.test.Counter", &po));
    for (uint64_t i = 1; i <= 10; i++)
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, &i, sizeof i));
    struct ax_sub_options all, three, none;
    ax_sub_options_init(&all);
    all.qos = AX_QOS_LATCHED;
    all.qos.history = 10;
    three = all;
    three.qos.history = 3;
    ax_sub_options_init(&none); /* volatile */
    struct firsts fa = {.mu = PTHREAD_MUTEX_INITIALIZER}, f3 = fa, fn = fa;
    ax_sub *sa, *s3, *sn;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sa, b, "/hist", "axon.test.Counter", note_counter, &fa, &all));
    AX_OK_OR_FAIL(ax_sub_new_raw(&s3, b, "/hist", "axon.test.Counter", note_counter, &f3, &three));
    AX_OK_OR_FAIL(ax_sub_new_raw(&sn, b, "/hist", "axon.test.Counter", note_counter, &fn, &none));
    WAIT_FOR(firsts_n(&fa) == 10 && firsts_n(&f3) == 3, 10000);
    /* The history came over the node's one link to the publisher: every
     * subscription is attached to it before the live messages. */
    for (uint64_t i = 11; i <= 15; i++)
        AX_OK_OR_FAIL(ax_pub_publish_bytes(p, &i, sizeof i));
    WAIT_FOR(firsts_n(&fa) == 15 && firsts_n(&f3) == 8 && firsts_n(&fn) == 5, 10000);
    assert_int_equal(fa.first, 1);
    assert_int_equal(f3.first, 8);
    assert_int_equal(fn.first, 11);
    assert_int_equal(fa.last, 15);
    /* On the publisher's own node: a late subscription with history 2 gets
     * the newest 2 of the 10 kept (14 and 15), handed over in place. */
    struct ax_sub_options two = all;
    two.qos.history = 2;
    struct firsts f2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ax_sub *s2;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s2, a, "/hist", "axon.test.Counter", note_counter, &f2, &two));
    WAIT_FOR(firsts_n(&f2) == 2, 10000);
    assert_int_equal(f2.first, 14);
    assert_int_equal(f2.last, 15);
    ax_sub_free(s2);
    ax_sub_free(sa);
    ax_sub_free(s3);
    ax_sub_free(sn);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* What one subscription saw, for the overload test below. */
struct taken {
    pthread_mutex_t mu;
    uint64_t n, first, last, order_errors;
    ax_sub *free_self; /* frees itself in its first callback */
};

static void take(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct taken *t = user;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < sizeof c ? m->len : sizeof c);
    pthread_mutex_lock(&t->mu);
    if (t->n && c <= t->last)
        t->order_errors++;
    if (t->n++ == 0)
        t->first = c;
    t->last = c;
    bool free_it = t->free_self == s;
    t->free_self = NULL;
    pthread_mutex_unlock(&t->mu);
    if (free_it)
        ax_sub_free(s); /* from its own queued delivery */
}

static uint64_t sub_drops(ax_sub *s)
{
    struct ax_endpoint_counters c;
    assert_int_equal(ax_sub_counters(s, &c), 0);
    uint64_t d = 0;
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
        d += c.drops[i];
    return d;
}

static uint64_t taken_n(struct taken *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Overload policy per subscription (core/sub_queue.c): one node's
 * subscriptions of a topic share a link, which asks for the lossless one's
 * QoS although it joined last; the others keep their own policy in their
 * own queue. A burst of N: the lossless one gets all N in order; the
 * best-effort drop_newest one (history 4) keeps the oldest it had room for
 * (the first delivered is 1); the latest-only one always ends on N; each
 * accounts for all N (delivered + dropped); one that frees itself in its
 * first queued callback gets no second. */
static void test_overload_per_subscription(void **state)
{
    (void)state;
    enum { N = 2000 };
    ax_node *a = make("ovl-pub", dom(3), 1), *b = make("ovl-sub", dom(3), 1);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/ovl", "axon.test.Counter", NULL));
    struct ax_sub_options newest, latest, rec;
    ax_sub_options_init(&newest);
    newest.qos.reliability = AX_BEST_EFFORT;
    newest.qos.overload = AX_OVERLOAD_DROP_NEWEST;
    newest.qos.history = 4;
    ax_sub_options_init(&latest);
    latest.qos = AX_QOS_SENSOR_DATA;
    ax_sub_options_init(&rec);
    rec.qos.overload = AX_OVERLOAD_BLOCK;
    struct taken tn = {.mu = PTHREAD_MUTEX_INITIALIZER}, tl = tn, tr = tn, tf = tn;
    ax_sub *sn, *sl, *sr, *sf;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sf, b, "/ovl", "axon.test.Counter", take, &tf, &latest));
    tf.free_self = sf;
    AX_OK_OR_FAIL(ax_sub_new_raw(&sn, b, "/ovl", "axon.test.Counter", take, &tn, &newest));
    AX_OK_OR_FAIL(ax_sub_new_raw(&sl, b, "/ovl", "axon.test.Counter", take, &tl, &latest));
    AX_OK_OR_FAIL(ax_sub_new_raw(&sr, b, "/ovl", "axon.test.Counter", take, &tr, &rec));
    struct ax_endpoint_counters c;
    WAIT_FOR(ax_pub_counters(p, &c) == 0 && c.connections >= 1, 10000);
    for (uint64_t i = 1; i <= N; i++) {
        int rc;
        while ((rc = ax_pub_publish_bytes(p, &i, sizeof i)) == AX_EAGAIN || rc == AX_ETIMEDOUT)
            ;
        AX_OK_OR_FAIL(rc);
    }
    WAIT_FOR(taken_n(&tr) == N && taken_n(&tn) + sub_drops(sn) == N &&
                 taken_n(&tl) + sub_drops(sl) == N,
             20000);
    assert_int_equal(tr.first, 1);
    assert_int_equal(tr.last, N);
    assert_int_equal(tr.order_errors, 0);
    assert_int_equal(sub_drops(sr), 0);
    assert_int_equal(tn.first, 1);
    assert_int_equal(tn.order_errors, 0);
    assert_int_equal(tl.last, N);
    assert_int_equal(tl.order_errors, 0);
    assert_int_equal(taken_n(&tf), 1);
    ax_sub_free(sn);
    ax_sub_free(sl);
    ax_sub_free(sr);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* A slow subscription with the default QoS beside a lossless one, over
 * shared memory: what its own queue holds (retained chunks, which count
 * against the publisher's quota for the node) stays within half of the
 * quota, in chunks and bytes, so the lossless one keeps the other half.
 * Checked from inside its callback, on the loop thread, where the queue
 * lives. */
struct slow {
    ax_sub *sub;
    uint64_t n, most_queued, most_bytes, order_errors, last;
};

static void slow_cb(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct slow *w = user;
    uint64_t c = 0;
    memcpy(&c, m->data, sizeof c);
    if (w->n && c <= w->last)
        w->order_errors++;
    w->last = c;
    w->n++;
    if (s->q.count > w->most_queued)
        w->most_queued = s->q.count;
    if (s->q.bytes > w->most_bytes)
        w->most_bytes = s->q.bytes;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do /* slow: work, not a wait for anything */
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1000000L);
}

static void test_slow_subscription_holds_half_the_quota(void **state)
{
    (void)state;
    enum { N = 400, SIZE = 64 * 1024 };
    ax_node *a = make("quota-pub", dom(3), 1), *b = make("quota-sub", dom(3), 1);
    const struct ax_config *cfg = ax_node_config(b);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/quota", "axon.test.Bytes", NULL));
    struct ax_sub_options rec;
    ax_sub_options_init(&rec);
    rec.qos.overload = AX_OVERLOAD_BLOCK;
    struct taken tr = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct slow w = {0};
    ax_sub *sr;
    AX_OK_OR_FAIL(ax_sub_new_raw(&w.sub, b, "/quota", "axon.test.Bytes", slow_cb, &w, NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&sr, b, "/quota", "axon.test.Bytes", take, &tr, &rec));
    struct ax_endpoint_counters c;
    WAIT_FOR(ax_pub_counters(p, &c) == 0 && c.connections >= 1, 10000);
    static uint8_t msg[SIZE]; /* copied once, into a chunk */
    for (uint64_t i = 1; i <= N; i++) {
        memcpy(msg, &i, sizeof i);
        int rc;
        while ((rc = ax_pub_publish_bytes(p, msg, SIZE)) == AX_ETIMEDOUT || rc == AX_EAGAIN)
            ;
        AX_OK_OR_FAIL(rc);
    }
    WAIT_FOR(taken_n(&tr) == N, 30000);
    /* The slow one's figures are its loop thread's: read them once it is
     * done (delivered + dropped = N), through its counters. */
    WAIT_FOR(ax_sub_counters(w.sub, &c) == 0 && c.messages + sub_drops(w.sub) == N, 30000);
    ax_sub_free(w.sub);
    assert_int_equal(tr.order_errors, 0);
    assert_int_equal(w.order_errors, 0);
    assert_int_equal(w.n, c.messages);
    assert_true(w.most_queued <= cfg->transport.shm_quota / 2);
    assert_true(w.most_bytes <= cfg->transport.shm_quota_bytes / 2);
    ax_sub_free(sr);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* ---- tools: schemas from other nodes, subscribing by hash ---- */

/* A copy of each message's bytes (the last one), for a remote
 * subscription: its buffer is gone after the callback. */
struct kept {
    pthread_mutex_t mu;
    size_t n, len;
    uint8_t *bytes;
};

static void keep(ax_sub *s, const struct ax_msg *m, void *user)
{
    struct kept *k = user;
    (void)s;
    uint8_t *copy = malloc(m->len ? m->len : 1);
    if (copy)
        memcpy(copy, m->data, m->len);
    pthread_mutex_lock(&k->mu);
    free(k->bytes);
    k->bytes = copy;
    k->len = copy ? m->len : 0;
    k->n++;
    pthread_mutex_unlock(&k->mu);
}

static size_t kept_count(struct kept *k)
{
    pthread_mutex_lock(&k->mu);
    size_t n = k->n;
    pthread_mutex_unlock(&k->mu);
    return n;
}

static void test_fetch_schema_and_subscribe_by_hash(void **state)
{
    (void)state;
    ax_node *a = make("schema-owner", dom(5), 1);
    ax_node *b = make("tool", dom(5), 1);
    const ax_type *obstacles;
    AX_OK_OR_FAIL(ax_type_find("axon.perception.ObstacleList", &obstacles));
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new(&p, a, "/schema/obstacles", obstacles, NULL));
    size_t n = 0;
    WAIT_FOR((ax_node_list_endpoints(b, "/schema/obstacles", NULL, 0, &n), n == 1), 5000);
    struct ax_endpoint_info e;
    AX_OK_OR_FAIL(ax_node_list_endpoints(b, "/schema/obstacles", &e, 1, &n));

    /* The schema, fetched from the publisher's node, builds a type equal
     * to the compiled one. */
    uint8_t *fds = NULL;
    size_t len = 0;
    AX_OK_OR_FAIL(ax_node_fetch_schema(b, e.node_id, e.type_name, &fds, &len, 5000));
    ax_type *dyn;
    AX_OK_OR_FAIL(ax_type_from_fds(fds, len, e.type_name, &dyn));
    assert_true(ax_type_hash_equal(ax_type_hash(dyn), ax_type_hash(obstacles)));
    assert_memory_equal(ax_type_hash(dyn)->bytes, e.type_hash, AX_TYPE_HASH_SIZE);
    free(fds);
    assert_int_equal(ax_node_fetch_schema(b, e.node_id, "no.such.Type", &fds, &len, 5000),
                     AX_ENOTFOUND);
    assert_int_equal(ax_node_fetch_schema(b, 12345, e.type_name, &fds, &len, 5000), AX_ENOTFOUND);

    /* Subscribing by the table's name and hash gets the bytes: exactly
     * those published, which the type built from the fetched schema
     * reads back. */
    struct kept got = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_hash(&s, b, e.topic, e.type_name, e.type_hash, keep, &got, NULL));
    struct ax_endpoint_counters c;
    WAIT_FOR((ax_pub_counters(p, &c), c.connections == 1), 5000);
    Axon__Std__Header hdr = AXON__STD__HEADER__INIT;
    hdr.stamp_ns = 1700000000123456789;
    hdr.frame_id = "base_link";
    hdr.seq = 7;
    Axon__Perception__Obstacle ob[2] = {AXON__PERCEPTION__OBSTACLE__INIT,
                                        AXON__PERCEPTION__OBSTACLE__INIT};
    Axon__Perception__Obstacle *obp[2] = {&ob[0], &ob[1]};
    double cov[3] = {0.5, -1.25, 3e-9};
    ob[0].id = 42;
    ob[0].classification = AXON__PERCEPTION__OBSTACLE__CLASS__PEDESTRIAN;
    ob[0].confidence = 0.75f;
    ob[0].n_pose_covariance = 3;
    ob[0].pose_covariance = cov;
    ob[1].id = UINT64_MAX;
    ob[1].tracking_time_ns = -5;
    Axon__Perception__ObstacleList ol = AXON__PERCEPTION__OBSTACLE_LIST__INIT;
    ol.header = &hdr;
    ol.n_obstacles = 2;
    ol.obstacles = obp;
    ol.source = "lidar_front";
    size_t want_len = protobuf_c_message_get_packed_size(&ol.base);
    uint8_t *want = malloc(want_len);
    assert_non_null(want);
    assert_int_equal(protobuf_c_message_pack(&ol.base, want), want_len);
    assert_true(want_len > 50);
    AX_OK_OR_FAIL(ax_pub_publish(p, &ol.base));
    WAIT_FOR(kept_count(&got) >= 1, 5000);
    ax_sub_free(s); /* nothing more arrives: the count is final */
    assert_int_equal(kept_count(&got), 1);
    assert_non_null(got.bytes);
    assert_int_equal(got.len, want_len);
    assert_memory_equal(got.bytes, want, want_len);
    ProtobufCMessage *back =
        protobuf_c_message_unpack(ax_type_descriptor(dyn), NULL, got.len, got.bytes);
    assert_non_null(back);
    uint8_t *again = malloc(want_len);
    assert_non_null(again);
    assert_int_equal(protobuf_c_message_get_packed_size(back), want_len);
    assert_int_equal(protobuf_c_message_pack(back, again), want_len);
    assert_memory_equal(again, want, want_len);
    free(again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(want);
    free(got.bytes);
    ax_type_free(dyn);
    ax_pub_free(p);
    ax_node_destroy(b);
    ax_node_destroy(a);
}

/* ---- a publisher at an address no transport can use ---- */

static int unusable_logs;

static void count_unusable(int level, const char *module, const char *msg, void *user)
{
    (void)level;
    (void)module;
    (void)user;
    if (strstr(msg, "has no usable address"))
        unusable_logs++;
}

/* A host name where an address must be: said once, nothing retried, the
 * subscription's last error says why (axon doctor shows it). */
static void test_unusable_publisher_address(void **state)
{
    (void)state;
    ax_node *n = axt_quiet_node(dom(5), AX_LOG_WARN);
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, "/far", "t", nop, NULL, NULL));
    unusable_logs = 0;
    ax_log_set_sink(count_unusable, NULL);
    axt_announce_publisher(n, 0x77, "somehost:7400", 7400, "/far", "t");
    for (int i = 0; i < 20; i++)
        ax_node_spin_once(n, 1);
    ax_log_set_sink(NULL, NULL);
    assert_int_equal(unusable_logs, 1);
    struct ax__topic *t = ax__topic_get(ax__shard_for(n, "/far"), "/far", false);
    assert_non_null(t);
    assert_int_equal(t->nrpubs, 0); /* no link kept, so no retries */
    struct ax_endpoint_counters ctr;
    AX_OK_OR_FAIL(ax_sub_counters(s, &ctr));
    assert_int_equal(ctr.last_error, AX_EINVAL);
    ax_sub_free(s);
    ax_node_destroy(n);
}

int main(void)
{
    ax_log_set_level(AX_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intra_process_shares_buffer_and_keeps_order),
        cmocka_unit_test(test_four_threads_publish_at_once),
        cmocka_unit_test(test_sensor_data_burst_not_dropped),
        cmocka_unit_test(test_freed_publisher_delivers_what_it_sent),
        cmocka_unit_test(test_free_inside_callbacks),
        cmocka_unit_test(test_free_inside_attach),
        cmocka_unit_test(test_argument_errors_and_typed_publish),
        cmocka_unit_test(test_qos_override_from_config),
        cmocka_unit_test(test_history_per_subscription),
        cmocka_unit_test(test_overload_per_subscription),
        cmocka_unit_test(test_slow_subscription_holds_half_the_quota),
        cmocka_unit_test(test_fetch_schema_and_subscribe_by_hash),
        cmocka_unit_test(test_unusable_publisher_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
