/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Services (axon/service.h) between two nodes of this process, over real
 * links (shared memory's Unix socket or TCP on loopback, as the pair would
 * use for pub/sub), found through discovery: a reply per call matched by
 * id with many calls in flight, each failure its own code (refused by the
 * handler, no server, other types, no answer in time, the service removed,
 * the request too large), a request larger than a control frame, a flood
 * bounded per client, and a client or server freed from its own callback.
 * Killed and stopped server processes are in
 * tests/integration/test_service_procs.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ax_test.h"
#include "axon/axon.h"
#include "control.pb.h"
#include "core/ax__pubsub.h"
#include "transport/stream/ax__stream_conn.h"
#include "axon/msgs/geometry.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"

#define MS AX_NS_PER_MS

static ax_node *make(const char *name, unsigned k, unsigned threads, enum ax_shm_use shm)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_SERVICE, k);
    c.threads = threads;
    c.transport.shm = shm;
    c.log_level = AX_LOG_ERROR;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static const ax_type *type(const char *name)
{
    const ax_type *t;
    AX_OK_OR_FAIL(ax_type_find(name, &t));
    return t;
}

/* "/add": z = x + y; refuses x < 0. */
static int add(const ProtobufCMessage *req, ProtobufCMessage *rep, struct ax_service_call *call,
               void *user)
{
    const Axon__Geometry__Point *q = (const Axon__Geometry__Point *)req;
    Axon__Geometry__Point *r = (Axon__Geometry__Point *)rep;
    atomic_int *calls = user;
    atomic_fetch_add(calls, 1);
    if (q->x < 0) {
        snprintf(call->why, call->why_size, "x is negative (%g)", q->x);
        return AX_EINVAL;
    }
    r->x = q->x;
    r->y = q->y;
    r->z = q->x + q->y;
    return 0;
}

/* "/echo": the data back, with the format set from scratch memory. */
static int echo(const ProtobufCMessage *req, ProtobufCMessage *rep, struct ax_service_call *call,
                void *user)
{
    (void)user;
    const Axon__Sensor__CompressedImage *q = (const Axon__Sensor__CompressedImage *)req;
    Axon__Sensor__CompressedImage *r = (Axon__Sensor__CompressedImage *)rep;
    r->data = q->data;
    char *f = ax_service_scratch(call, 32);
    if (!f)
        return AX_ENOMEM;
    snprintf(f, 32, "echo %zu", q->data.len);
    r->format = f;
    return 0;
}

static int call_add(ax_client *c, double x, double y, double *z, struct ax_call_result *res)
{
    Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
    q.x = x;
    q.y = y;
    ProtobufCMessage *rep = NULL;
    int rc = ax_client_call(c, &q.base, &rep, 5000 * MS, res);
    if (rc == 0) {
        assert_non_null(rep);
        *z = ((Axon__Geometry__Point *)rep)->z;
        protobuf_c_message_free_unpacked(rep, NULL);
    } else {
        assert_null(rep);
    }
    return rc;
}

static void test_call_and_errors(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 0, 1, AX_SHM_AUTO);
    ax_node *cli_node = make("client", 0, 1, AX_SHM_AUTO);
    const ax_type *pt = type("axon.geometry.Point");
    atomic_int calls = 0;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/add", pt, pt, add, &calls, NULL));
    ax_service *dup;
    assert_int_equal(ax_service_new(&dup, srv_node, "/add", pt, pt, add, &calls, NULL), AX_EEXIST);

    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/add", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    double z = 0;
    struct ax_call_result res;
    AX_OK_OR_FAIL(call_add(c, 2, 3, &z, &res));
    assert_true(z == 5.0);
    assert_int_equal(res.status, 0);

    /* Refused by the handler: its code and reason reach the caller. */
    assert_int_equal(call_add(c, -1, 3, &z, &res), AX_EREFUSED);
    assert_int_equal(res.handler_error, AX_EINVAL);
    assert_non_null(strstr(res.reason, "x is negative"));

    /* A discovered service in the table, with both types. */
    struct ax_endpoint_info eps[16];
    size_t n = 0;
    AX_OK_OR_FAIL(ax_node_list_endpoints(cli_node, "/add", eps, 16, &n));
    bool found = false;
    for (size_t i = 0; i < n && i < 16; i++)
        found |= eps[i].kind == AX_ENDPOINT_SERVICE &&
                 strcmp(eps[i].reply_type_name, "axon.geometry.Point") == 0 &&
                 eps[i].max_request == (1u << 20);
    assert_true(found);

    /* A client in the server's own node: over a link to itself. */
    ax_client *self;
    AX_OK_OR_FAIL(ax_client_new(&self, srv_node, "/add", pt, pt, NULL));
    AX_OK_OR_FAIL(call_add(self, 4, 5, &z, &res));
    assert_true(z == 9.0);
    ax_client_free(self);

    /* No server of that name. */
    ax_client *none;
    AX_OK_OR_FAIL(ax_client_new(&none, cli_node, "/nobody", pt, pt, NULL));
    assert_int_equal(call_add(none, 1, 1, &z, &res), AX_ENOTFOUND);
    assert_non_null(strstr(res.reason, "no server"));
    ax_client_free(none);

    /* Other types: refused on both sides. */
    ax_client *other;
    AX_OK_OR_FAIL(ax_client_new(&other, cli_node, "/add", pt, type("axon.geometry.Vector3"), NULL));
    assert_int_equal(ax_client_wait_server(other, 300 * MS), AX_ETYPE);
    assert_int_equal(call_add(other, 1, 1, &z, &res), AX_ETYPE);
    ax_client_free(other);

    /* The service removed: the next call says so. */
    ax_service_free(srv);
    int rc = call_add(c, 1, 1, &z, &res);
    assert_true(rc == AX_ENOTFOUND || rc == AX_ECONNRESET);
    ax_client_free(c);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* ---- many calls in flight, matched by id ---- */

struct batch {
    pthread_mutex_t mu;
    int done, wrong, failed, again;
};

static void on_reply(ax_client *c, const ProtobufCMessage *rep, const struct ax_call_result *res,
                     void *user)
{
    (void)c;
    struct batch *b = user;
    pthread_mutex_lock(&b->mu);
    if (res->status != 0) {
        b->failed++;
    } else {
        const Axon__Geometry__Point *p = (const Axon__Geometry__Point *)rep;
        if (p->z != p->x + p->y || p->y != 1000.0)
            b->wrong++;
    }
    b->done++;
    pthread_mutex_unlock(&b->mu);
}

static int done_of(struct batch *b)
{
    pthread_mutex_lock(&b->mu);
    int d = b->done;
    pthread_mutex_unlock(&b->mu);
    return d;
}

static void test_many_calls_in_flight(void **state)
{
    (void)state;
    /* TCP this time (shared memory off on the client's side). */
    ax_node *srv_node = make("server", 1, 1, AX_SHM_AUTO);
    ax_node *cli_node = make("client", 1, 1, AX_SHM_OFF);
    const ax_type *pt = type("axon.geometry.Point");
    atomic_int calls = 0;
    struct ax_service_options so;
    ax_service_options_init(&so);
    so.max_pending = 4; /* the flood below is paused and resumed many times */
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/add", pt, pt, add, &calls, &so));
    struct ax_client_options co;
    ax_client_options_init(&co);
    co.max_outstanding = 2000;
    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/add", pt, pt, &co));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    ax_client *c2;
    AX_OK_OR_FAIL(ax_client_new(&c2, cli_node, "/add", pt, pt, NULL));

    struct batch b = {.mu = PTHREAD_MUTEX_INITIALIZER};
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
        q.x = i;
        q.y = 1000;
        AX_OK_OR_FAIL(ax_client_call_async(c, &q.base, 10000 * MS, on_reply, &b));
    }
    /* Another client is served while the first one floods. */
    double z = 0;
    AX_OK_OR_FAIL(call_add(c2, 20, 22, &z, NULL));
    assert_true(z == 42.0);
    WAIT_FOR(done_of(&b) == N, 20000);
    assert_int_equal(b.wrong, 0);
    assert_int_equal(b.failed, 0);
    struct ax_service_stats st;
    AX_OK_OR_FAIL(ax_service_stats(srv, &st));
    assert_int_equal(st.calls, N + 1);
    assert_int_equal(st.clients, 2);

    /* Bounded per client: beyond max_outstanding, AX_EAGAIN at once. */
    ax_client *small;
    co.max_outstanding = 3;
    AX_OK_OR_FAIL(ax_client_new(&small, cli_node, "/nobody-yet", pt, pt, &co));
    struct batch b2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
    int accepted = 0, again = 0;
    for (int i = 0; i < 10; i++) {
        int rc = ax_client_call_async(small, &q.base, 60000 * MS, on_reply, &b2);
        accepted += rc == 0;
        again += rc == AX_EAGAIN;
    }
    /* Those accepted end (no server: AX_ENOTFOUND); the others never ran. */
    assert_true(accepted >= 3 && accepted + again == 10);
    WAIT_FOR(done_of(&b2) == accepted, 5000);
    assert_int_equal(b2.failed, accepted);
    ax_client_free(small);

    ax_client_free(c2);
    ax_client_free(c);
    ax_service_free(srv);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* ---- deferred replies ---- */

/* The calls a deferring handler took, for the test's thread to answer. */
struct deferrals {
    pthread_mutex_t mu;
    ax_service_deferred *d[32];
    double x[32];
    int n, answered, most_outstanding;
};

static int defer_add(const ProtobufCMessage *req, ProtobufCMessage *rep,
                     struct ax_service_call *call, void *user)
{
    (void)rep;
    struct deferrals *w = user;
    const Axon__Geometry__Point *q = (const Axon__Geometry__Point *)req;
    ax_service_deferred *d = ax_service_defer(call);
    if (!d)
        return AX_ENOMEM;
    assert_null(ax_service_defer(call)); /* once */
    pthread_mutex_lock(&w->mu);
    if (w->n < 32) {
        w->d[w->n] = d;
        w->x[w->n] = q->x; /* the request ends with the handler */
        w->n++;
    }
    if (w->n - w->answered > w->most_outstanding)
        w->most_outstanding = w->n - w->answered;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int taken(struct deferrals *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

/* Answer taken calls @from .. @to - 1, newest first, from this thread. */
static void answer_backwards(struct deferrals *w, int from, int to)
{
    for (int i = to; i-- > from;) {
        pthread_mutex_lock(&w->mu);
        ax_service_deferred *d = w->d[i];
        double x = w->x[i];
        w->answered++;
        pthread_mutex_unlock(&w->mu);
        Axon__Geometry__Point r = AXON__GEOMETRY__POINT__INIT;
        r.x = x;
        r.z = x + 1;
        AX_OK_OR_FAIL(ax_service_reply(d, &r.base));
    }
}

/* One call's outcome, where its caller said. */
struct slot {
    pthread_mutex_t *mu;
    int status, handler_error;
    double x, z;
    char reason[AX_CALL_REASON_MAX];
    bool done;
};

static void on_slot(ax_client *c, const ProtobufCMessage *rep, const struct ax_call_result *res,
                    void *user)
{
    (void)c;
    struct slot *sl = user;
    pthread_mutex_lock(sl->mu);
    sl->status = res->status;
    sl->handler_error = res->handler_error;
    snprintf(sl->reason, sizeof sl->reason, "%s", res->reason);
    if (rep) {
        sl->x = ((const Axon__Geometry__Point *)rep)->x;
        sl->z = ((const Axon__Geometry__Point *)rep)->z;
    }
    sl->done = true;
    pthread_mutex_unlock(sl->mu);
}

static bool slot_done(struct slot *sl)
{
    pthread_mutex_lock(sl->mu);
    bool d = sl->done;
    pthread_mutex_unlock(sl->mu);
    return d;
}

static void call_slot(ax_client *c, double x, struct slot *sl)
{
    Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
    q.x = x;
    AX_OK_OR_FAIL(ax_client_call_async(c, &q.base, 20000 * MS, on_slot, sl));
}

/* A handler that defers every call; the test's thread answers them,
 * newest first: each reply reaches its own call (matched by id); the
 * client's flood is bounded by max_pending with deferred calls counted;
 * a refusal carries its code and reason; a call whose client left or
 * whose service was freed is gone, and answering it says AX_ECLOSED. */
static void test_deferred_replies(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 1, 1, AX_SHM_AUTO);
    ax_node *cli_node = make("client", 1, 1, AX_SHM_AUTO);
    const ax_type *pt = type("axon.geometry.Point");
    struct deferrals w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct ax_service_options so;
    ax_service_options_init(&so);
    so.max_pending = 4;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/later", pt, pt, defer_add, &w, &so));
    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/later", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));

    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    enum { N = 12 };
    struct slot sl[N + 1];
    memset(sl, 0, sizeof sl);
    for (int i = 0; i <= N; i++)
        sl[i].mu = &mu;
    for (int i = 0; i < N; i++)
        call_slot(c, i, &sl[i]);
    /* 4 deferred, the client paused; answering lets the rest in. */
    int done = 0;
    while (done < N) {
        WAIT_FOR(taken(&w) >= done + 1 && (taken(&w) == N || taken(&w) - done == 4), 10000);
        int now = taken(&w);
        answer_backwards(&w, done, now);
        done = now;
    }
    for (int i = 0; i < N; i++) {
        WAIT_FOR(slot_done(&sl[i]), 10000);
        assert_int_equal(sl[i].status, 0);
        assert_true(sl[i].x == i && sl[i].z == i + 1);
    }
    assert_true(w.most_outstanding <= 4);

    /* Refused later, with a code and a reason. */
    call_slot(c, -1, &sl[N]);
    WAIT_FOR(taken(&w) == N + 1, 10000);
    AX_OK_OR_FAIL(ax_service_refuse(w.d[N], AX_EINVAL, "x is negative"));
    WAIT_FOR(slot_done(&sl[N]), 10000);
    assert_int_equal(sl[N].status, AX_EREFUSED);
    assert_int_equal(sl[N].handler_error, AX_EINVAL);
    assert_string_equal(sl[N].reason, "x is negative");
    assert_int_equal(ax_service_refuse(NULL, AX_EINVAL, NULL), AX_EINVAL);

    /* The client leaves with a call deferred: gone, nothing to answer. */
    struct slot lost = {.mu = &mu};
    call_slot(c, 100, &lost);
    WAIT_FOR(taken(&w) == N + 2, 10000);
    assert_false(ax_service_deferred_gone(w.d[N + 1]));
    ax_client_free(c);
    WAIT_FOR(ax_service_deferred_gone(w.d[N + 1]), 10000);
    Axon__Geometry__Point r = AXON__GEOMETRY__POINT__INIT;
    assert_int_equal(ax_service_reply(w.d[N + 1], &r.base), AX_ECLOSED);

    /* The service freed with a call deferred: its client hears so, and
     * the answer has nowhere to go. */
    ax_client *c2;
    AX_OK_OR_FAIL(ax_client_new(&c2, cli_node, "/later", pt, pt, NULL));
    struct slot orphan = {.mu = &mu};
    call_slot(c2, 7, &orphan);
    WAIT_FOR(taken(&w) == N + 3, 10000);
    ax_service_free(srv);
    WAIT_FOR(slot_done(&orphan), 10000);
    assert_int_equal(orphan.status, AX_ENOTFOUND);
    assert_true(ax_service_deferred_gone(w.d[N + 2]));
    assert_int_equal(ax_service_reply(w.d[N + 2], &r.base), AX_ECLOSED);
    ax_client_free(c2);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* ---- sizes, timeouts ---- */

static int echo_call(ax_client *c, size_t len, struct ax_call_result *res)
{
    uint8_t *data = malloc(len);
    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7);
    Axon__Sensor__CompressedImage q = AXON__SENSOR__COMPRESSED_IMAGE__INIT;
    q.data.data = data;
    q.data.len = len;
    ProtobufCMessage *rep = NULL;
    int rc = ax_client_call(c, &q.base, &rep, 5000 * MS, res);
    if (rc == 0) {
        const Axon__Sensor__CompressedImage *r = (const Axon__Sensor__CompressedImage *)rep;
        assert_int_equal(r->data.len, len);
        assert_memory_equal(r->data.data, data, len);
        char want[32];
        snprintf(want, sizeof want, "echo %zu", len);
        assert_string_equal(r->format, want);
        protobuf_c_message_free_unpacked(rep, NULL);
    }
    free(data);
    return rc;
}

static void test_sizes_and_timeouts(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 2, 1, AX_SHM_AUTO);
    ax_node *cli_node = make("client", 2, 1, AX_SHM_AUTO);
    const ax_type *ci = type("axon.sensor.CompressedImage");
    struct ax_service_options so;
    ax_service_options_init(&so);
    so.max_request = 64 * 1024;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/echo", ci, ci, echo, NULL, &so));
    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/echo", ci, ci, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    struct ax_call_result res;
    /* Beyond a control frame (1 KiB) and up to the service's limit. */
    AX_OK_OR_FAIL(echo_call(c, 10, &res));
    AX_OK_OR_FAIL(echo_call(c, 3000, &res));
    AX_OK_OR_FAIL(echo_call(c, 60 * 1024, &res));
    /* Beyond it: refused here, nothing sent. */
    assert_int_equal(echo_call(c, 65 * 1024, &res), AX_EMSGSIZE);
    AX_OK_OR_FAIL(echo_call(c, 100, &res)); /* and the link goes on */

    /* A server that never answers (its node is never spun): the call times out. */
    ax_node *mute = make("mute", 2, 0, AX_SHM_OFF);
    ax_service *msrv;
    AX_OK_OR_FAIL(ax_service_new(&msrv, mute, "/mute", ci, ci, echo, NULL, NULL));
    ax_client *mc;
    AX_OK_OR_FAIL(ax_client_new(&mc, cli_node, "/mute", ci, ci, NULL));
    /* Its announcement goes out only when spun: once, then never again. */
    int64_t end = ax_clock_mono_ns() + 10000 * MS;
    struct ax_endpoint_info eps[8];
    size_t n = 0;
    size_t servers = 0; /* the client itself is in the table too (kind CLIENT) */
    while (servers == 0 && ax_clock_mono_ns() < end) {
        ax_node_spin_once(mute, 10);
        AX_OK_OR_FAIL(ax_node_list_endpoints(cli_node, "/mute", eps, 8, &n));
        for (size_t i = 0; i < n && i < 8; i++)
            servers += eps[i].kind == AX_ENDPOINT_SERVICE;
    }
    assert_true(servers > 0);
    Axon__Sensor__CompressedImage q = AXON__SENSOR__COMPRESSED_IMAGE__INIT;
    ProtobufCMessage *rep = NULL;
    int64_t t0 = ax_clock_mono_ns();
    assert_int_equal(ax_client_call(mc, &q.base, &rep, 200 * MS, &res), AX_ETIMEDOUT);
    assert_true(ax_clock_mono_ns() - t0 >= 200 * MS);
    assert_null(rep);
    ax_client_free(mc);
    ax_service_free(msrv);
    ax_node_destroy(mute);

    ax_client_free(c);
    ax_service_free(srv);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* ---- freeing from callbacks ---- */

static void free_in_reply(ax_client *c, const ProtobufCMessage *rep,
                          const struct ax_call_result *res, void *user)
{
    (void)rep;
    atomic_int *status = user;
    atomic_store(status, res->status == 0 ? 1 : res->status);
    ax_client_free(c);
}

static int free_in_handler(const ProtobufCMessage *req, ProtobufCMessage *rep,
                           struct ax_service_call *call, void *user)
{
    (void)req;
    (void)rep;
    (void)call;
    ax_service **self = user;
    ax_service_free(*self);
    *self = NULL;
    return 0;
}

static void test_free_from_callbacks(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 0, 1, AX_SHM_OFF);
    ax_node *cli_node = make("client", 0, 1, AX_SHM_OFF);
    const ax_type *pt = type("axon.geometry.Point");
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/once", pt, pt, free_in_handler, &srv, NULL));
    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/once", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    atomic_int status = 0;
    Axon__Geometry__Point q = AXON__GEOMETRY__POINT__INIT;
    AX_OK_OR_FAIL(ax_client_call_async(c, &q.base, 5000 * MS, free_in_reply, &status));
    WAIT_FOR(atomic_load(&status) != 0, 6000);
    /* The handler freed its own service: the call it was handling still
     * got its reply, then the service went. */
    assert_int_equal(atomic_load(&status), 1);
    assert_null(srv);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* node.threads = 0: the waiting calls run the client's loop themselves. */
static void test_client_without_threads(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 1, 1, AX_SHM_AUTO);
    ax_node *cli_node = make("client", 1, 0, AX_SHM_AUTO);
    const ax_type *pt = type("axon.geometry.Point");
    atomic_int calls = 0;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/add0", pt, pt, add, &calls, NULL));
    ax_client *c;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/add0", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    double z = 0;
    AX_OK_OR_FAIL(call_add(c, 40, 2, &z, NULL));
    assert_true(z == 42.0);
    assert_int_equal(atomic_load(&calls), 1);
    ax_client_free(c);
    ax_service_free(srv);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
}

/* ---- a client speaking the frames itself ---- */

struct raw {
    bool ready, closed, acked;
    int status;
    uint32_t ack_error, max_request;
    int replies, error_replies;
    uint32_t call_error;
    char reason[256];
};

static void raw_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    (void)l;
    (void)peer;
    ((struct raw *)user)->ready = true;
}

static void raw_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *p, ax__buf *buf,
                      void *user)
{
    (void)l;
    (void)buf;
    struct raw *r = user;
    if (h->type == AX__FRAME_BIND_ACK) {
        axon_ctl_ServiceBindAck a = axon_ctl_ServiceBindAck_init_zero;
        pb_istream_t is = pb_istream_from_buffer(p, h->payload_len);
        assert_true(pb_decode(&is, axon_ctl_ServiceBindAck_fields, &a));
        r->acked = true;
        r->ack_error = a.error;
        r->max_request = a.max_request;
    } else if (h->type == AX__FRAME_REPLY) {
        r->replies++;
        if (h->flags & AX__FRAME_F_ERROR) {
            axon_ctl_CallError e = axon_ctl_CallError_init_zero;
            pb_istream_t is = pb_istream_from_buffer(p, h->payload_len);
            assert_true(pb_decode(&is, axon_ctl_CallError_fields, &e));
            r->error_replies++;
            r->call_error = e.error;
            snprintf(r->reason, sizeof r->reason, "%s", e.reason);
        }
    }
}

static void raw_close(ax__link *l, int status, void *user)
{
    (void)l;
    struct raw *r = user;
    r->closed = true;
    r->status = status;
}

static const struct ax__link_callbacks raw_cbs = {
    .on_ready = raw_ready, .on_frame = raw_frame, .on_close = raw_close};

#define STEP_UNTIL(loop, cond)                                                                     \
    do {                                                                                           \
        int64_t end_ = ax_clock_mono_ns() + 10000 * MS;                                            \
        while (!(cond) && ax_clock_mono_ns() < end_)                                               \
            ax_loop_step(loop, 10);                                                                \
        assert_true(cond);                                                                         \
    } while (0)

static void test_hostile_client(void **state)
{
    (void)state;
    ax_node *srv_node = make("server", 2, 1, AX_SHM_OFF);
    const ax_type *ci = type("axon.sensor.CompressedImage");
    struct ax_service_options so;
    ax_service_options_init(&so);
    so.max_request = 4096;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/echo", ci, ci, echo, NULL, &so));
    /* Where it is, from its own table. */
    struct ax_endpoint_info eps[8];
    size_t n = 0;
    AX_OK_OR_FAIL(ax_node_list_endpoints(srv_node, "/echo", eps, 8, &n));
    assert_int_equal(n, 1);
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", eps[0].port);

    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct ax__link_options o;
    ax__link_options_for(srv_node, AX__LINK_DATA, &o); /* its domain, its settings */
    o.self.node_id = 77;
    snprintf(o.self.node_name, sizeof o.self.node_name, "raw");
    struct raw r = {0};
    ax__link *l;
    AX_OK_OR_FAIL(ax__transport_with(AX__TP_NETWORK)->connect(loop, address, &o, &raw_cbs, &r, &l));
    STEP_UNTIL(loop, r.ready || r.closed);
    assert_true(r.ready);
    axon_ctl_ServiceBind b = axon_ctl_ServiceBind_init_zero;
    b.service_id = eps[0].id;
    snprintf(b.name, sizeof b.name, "/echo");
    b.request_hash.size = b.reply_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(b.request_hash.bytes, ax_type_hash(ci)->bytes, AX_TYPE_HASH_SIZE);
    memcpy(b.reply_hash.bytes, ax_type_hash(ci)->bytes, AX_TYPE_HASH_SIZE);
    uint8_t buf[1024];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    assert_true(pb_encode(&os, axon_ctl_ServiceBind_fields, &b));
    AX_OK_OR_FAIL(ax__link_send_control(l, AX__FRAME_BIND, buf, os.bytes_written));
    STEP_UNTIL(loop, r.acked || r.closed);
    assert_int_equal(r.ack_error, 0);
    assert_int_equal(r.max_request, 4096);

    /* Bytes that are no CompressedImage: an error reply, the link goes on. */
    static const uint8_t junk[] = {0x12, 0xff, 0xff, 0xff, 0x0f, 'x'};
    struct ax__frame_hdr h = {.type = AX__FRAME_REQUEST, .stream = eps[0].id, .seq = 1};
    AX_OK_OR_FAIL(ax__link_send_bytes(l, &h, junk, sizeof junk));
    STEP_UNTIL(loop, r.replies == 1 || r.closed);
    assert_int_equal(r.error_replies, 1);
    assert_int_equal(-(int)r.call_error, AX_EPROTO);
    assert_non_null(strstr(r.reason, "does not decode as axon.sensor.CompressedImage"));
    struct ax_service_stats st;
    AX_OK_OR_FAIL(ax_service_stats(srv, &st));
    assert_int_equal(st.bad_requests, 1);

    /* Beyond max_request: the server closes the link on the header. */
    static uint8_t big[8192];
    h.seq = 2;
    conn_of(l)->peer_max_frame = 1u << 20; /* a client that ignores the LIMIT it was told */
    AX_OK_OR_FAIL(ax__link_send_bytes(l, &h, big, sizeof big));
    STEP_UNTIL(loop, r.closed);
    assert_int_equal(r.replies, 1);
    assert_int_not_equal(r.status, 0); /* aborted, not a clean close */
    ax_loop_step(loop, 0);
    AX_OK_OR_FAIL(ax_loop_free(loop));
    ax_service_free(srv);
    ax_node_destroy(srv_node);
}

/* ---- over TLS with certificates, under an access policy ---- */

static ax_node *make_secure(const char *name, const char *dir, const char *policy)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = axt_domain(AXT_DOMAINS_SERVICE, 2);
    c.threads = 1;
    c.transport.shm = AX_SHM_OFF; /* TCP, where the certificate proves the name */
    c.log_level = AX_LOG_ERROR;
    c.security.tls = AX_TLS_CERT;
    snprintf(c.security.key_file, sizeof c.security.key_file, "%s/domain.key", dir);
    snprintf(c.security.ca_file, sizeof c.security.ca_file, "%s/ca.crt", dir);
    snprintf(c.security.cert_file, sizeof c.security.cert_file, "%s/%s.crt", dir, name);
    snprintf(c.security.cert_key_file, sizeof c.security.cert_key_file, "%s/%s.key", dir, name);
    if (policy)
        snprintf(c.security.policy_file, sizeof c.security.policy_file, "%s", policy);
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static void test_tls_and_policy(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon-svc-XXXXXX", p[3][300], why[256];
    assert_non_null(mkdtemp(dir));
    snprintf(p[0], sizeof p[0], "%s/domain.key", dir);
    snprintf(p[1], sizeof p[1], "%s/ca.crt", dir);
    snprintf(p[2], sizeof p[2], "%s/ca.key", dir);
    AX_OK_OR_FAIL(ax_key_generate(p[0]));
    AX_OK_OR_FAIL(ax_cert_make_ca("fleet", 30, p[1], p[2], why, sizeof why));
    static const char *const names[] = {"server", "client", "intruder"};
    for (int i = 0; i < 3; i++) {
        char crt[300], key[300];
        snprintf(crt, sizeof crt, "%s/%s.crt", dir, names[i]);
        snprintf(key, sizeof key, "%s/%s.key", dir, names[i]);
        AX_OK_OR_FAIL(ax_cert_make_node(p[1], p[2], names[i], 30, crt, key, why, sizeof why));
    }
    char policy[300];
    snprintf(policy, sizeof policy, "%s/policy.yaml", dir);
    FILE *f = fopen(policy, "w");
    assert_non_null(f);
    fputs("version: 1\ndefault: deny\nnodes:\n  server:\n    publish: [\"/secure/*\"]\n"
          "  client:\n    call: [\"/secure/*\"]\n",
          f);
    fclose(f);
    ax_node *srv_node = make_secure("server", dir, policy);
    ax_node *cli_node = make_secure("client", dir, NULL);
    ax_node *bad_node = make_secure("intruder", dir, NULL);
    const ax_type *pt = type("axon.geometry.Point");
    atomic_int calls = 0;
    ax_service *srv;
    AX_OK_OR_FAIL(ax_service_new(&srv, srv_node, "/secure/add", pt, pt, add, &calls, NULL));
    ax_service *other;
    /* The server's own policy: it may serve the names under /secure only. */
    assert_int_equal(ax_service_new(&other, srv_node, "/open/add", pt, pt, add, &calls, NULL),
                     AX_EACCES);

    ax_client *c, *bad;
    AX_OK_OR_FAIL(ax_client_new(&c, cli_node, "/secure/add", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_new(&bad, bad_node, "/secure/add", pt, pt, NULL));
    AX_OK_OR_FAIL(ax_client_wait_server(c, 10000 * MS));
    double z = 0;
    struct ax_call_result res;
    AX_OK_OR_FAIL(call_add(c, 20, 22, &z, &res));
    assert_true(z == 42.0);
    /* The intruder has a valid certificate, but no right to call. */
    assert_int_equal(call_add(bad, 1, 1, &z, &res), AX_EACCES);
    assert_non_null(strstr(res.reason, "intruder"));
    assert_int_equal(atomic_load(&calls), 1);
    struct ax_connection_stats cs;
    AX_OK_OR_FAIL(ax_node_connection_stats(srv_node, &cs));
    assert_true(cs.policy_refused >= 1);
    ax_client_free(bad);
    ax_client_free(c);
    ax_service_free(srv);
    ax_node_destroy(bad_node);
    ax_node_destroy(cli_node);
    ax_node_destroy(srv_node);
    char path[300];
    static const char *const files[] = {"domain.key",   "ca.crt",     "ca.key",     "server.crt",
                                        "server.key",   "client.crt", "client.key", "intruder.crt",
                                        "intruder.key", "policy.yaml"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_and_errors),        cmocka_unit_test(test_many_calls_in_flight),
        cmocka_unit_test(test_sizes_and_timeouts),     cmocka_unit_test(test_free_from_callbacks),
        cmocka_unit_test(test_client_without_threads), cmocka_unit_test(test_hostile_client),
        cmocka_unit_test(test_tls_and_policy),         cmocka_unit_test(test_deferred_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
