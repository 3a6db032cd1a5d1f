/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Nodes and discovery inside one process, over real host-local multicast:
 * discovery of nodes and endpoints (one and many pages), domains, Bye,
 * listener replay, bad datagrams, threads = 0 embedding, destroy from a
 * callback, configuration errors. Process-level tests (kill -9, restarts,
 * namespaces, loss) are in tests/integration.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb_encode.h>

#include "ax_test.h"
#include "control.pb.h"
#include "handshake.pb.h"
#include "core/ax__node.h"

/* Each test uses its own domain (k 0..6) of this binary's block, so no
 * other test running in parallel (ctest -j) sees its nodes (tests/ax_test.h). */
static uint32_t test_domain(unsigned k)
{
    return axt_domain(AXT_DOMAINS_NODE, k);
}

/* @counters_ms: how often it asks the others for live counters (0: never,
 * the default of a node; tools ask). */
static ax_node *make_node_counting(const char *name, uint32_t domain, unsigned threads,
                                   int counters_ms)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    c.threads = threads;
    c.discovery.counters_ns = (int64_t)counters_ms * AX_NS_PER_MS;
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static ax_node *make_node(const char *name, uint32_t domain, unsigned threads)
{
    return make_node_counting(name, domain, threads, 0);
}

static size_t count_nodes(ax_node *n)
{
    size_t k = 0;
    AX_OK_OR_FAIL(ax_node_list_nodes(n, NULL, 0, &k));
    return k;
}

static size_t count_endpoints(ax_node *n, const char *topic)
{
    size_t k = 0;
    AX_OK_OR_FAIL(ax_node_list_endpoints(n, topic, NULL, 0, &k));
    return k;
}

/* Wait (polling the table, never sleeping blindly) for a condition. */
/* A fake local endpoint, as the publish/subscribe layer will register. */
struct fake_ep {
    struct ax__local_ep ep;
    struct ax__ep_counters ctr;
};

static struct fake_ep *add_fake(ax_node *n, const char *topic, enum ax_endpoint_kind kind,
                                uint8_t hash_byte)
{
    struct fake_ep *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ep.kind = kind;
    snprintf(f->ep.topic, sizeof f->ep.topic, "%s", topic);
    snprintf(f->ep.type_name, sizeof f->ep.type_name, "axon.test.Thing");
    memset(f->ep.type_hash, hash_byte, sizeof f->ep.type_hash);
    f->ep.qos = AX_QOS_SENSOR_DATA;
    f->ep.ctr = &f->ctr;
    AX_OK_OR_FAIL(ax__node_add_endpoint(n, &f->ep));
    return f;
}

/* ---- events ---- */

struct evlog {
    pthread_mutex_t mu;
    int joins, leaves, ep_joins, ep_leaves, ep_changes;
    bool last_leave_expired;
    int dropped;
};

static void record(ax_node *n, const struct ax_graph_event *ev, void *user)
{
    struct evlog *l = user;
    (void)n;
    pthread_mutex_lock(&l->mu);
    switch (ev->kind) {
    case AX_EVENT_NODE_JOIN:
        l->joins++;
        break;
    case AX_EVENT_NODE_LEAVE:
        l->leaves++;
        l->last_leave_expired = ev->lease_expired;
        break;
    case AX_EVENT_ENDPOINT_JOIN:
        l->ep_joins++;
        break;
    case AX_EVENT_ENDPOINT_LEAVE:
        l->ep_leaves++;
        break;
    case AX_EVENT_ENDPOINT_CHANGE:
        l->ep_changes++;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&l->mu);
}

static void drop_log(void *user)
{
    struct evlog *l = user;
    pthread_mutex_lock(&l->mu);
    l->dropped++;
    pthread_mutex_unlock(&l->mu);
}

static int get(struct evlog *l, int *field)
{
    pthread_mutex_lock(&l->mu);
    int v = *field;
    pthread_mutex_unlock(&l->mu);
    return v;
}

/* ---- tests ---- */

static void test_two_nodes_find_each_other_and_endpoints(void **state)
{
    (void)state;
    uint32_t dom = test_domain(0);
    ax_node *a = make_node("alpha", dom, 1);
    ax_node *b = make_node_counting("beta", dom, 1, 50); /* a tool, say */
    ax_node *c = make_node("gamma", dom, 1);             /* a plain node */
    struct fake_ep *pub = add_fake(a, "/perception/obstacles", AX_ENDPOINT_PUBLISHER, 0xab);
    struct fake_ep *sub = add_fake(b, "/perception/obstacles", AX_ENDPOINT_SUBSCRIBER, 0xab);
    atomic_store(&pub->ctr.messages, 42);
    atomic_store(&pub->ctr.drops[AX_DROP_QUEUE_OLDEST], 3);

    WAIT_FOR(count_nodes(a) == 3 && count_nodes(b) == 3 && count_nodes(c) == 3, 3000);
    WAIT_FOR(count_endpoints(a, "/perception/obstacles") == 2 &&
                 count_endpoints(b, "/perception/obstacles") == 2,
             3000);

    /* b's table holds a's node with its TCP endpoint, and a's publisher with
     * type, hash, QoS and counters. */
    struct ax_node_info ni[4];
    size_t n;
    AX_OK_OR_FAIL(ax_node_list_nodes(b, ni, 4, &n));
    const struct ax_node_info *ia = NULL;
    for (size_t i = 0; i < n && i < 4; i++)
        if (ni[i].id == ax_node_id(a))
            ia = &ni[i];
    assert_non_null(ia);
    assert_string_equal(ia->name, "alpha");
    assert_true(ia->id == ax_node_id(a));
    assert_int_equal(ia->pid, getpid());
    assert_int_equal(strncmp(ia->tcp, "127.0.0.1:", 10), 0);
    assert_true(ia->complete);
    assert_int_equal(ia->publishers, 1);

    struct ax_endpoint_info e[4];
    WAIT_FOR((ax_node_list_endpoints(b, "/perception/obstacles", e, 4, &n),
              (e[0].node_id == ax_node_id(a) ? e[0] : e[1]).counters.messages == 42),
             3000);
    const struct ax_endpoint_info *pe = e[0].node_id == ax_node_id(a) ? &e[0] : &e[1];
    assert_int_equal(pe->kind, AX_ENDPOINT_PUBLISHER);
    assert_string_equal(pe->type_name, "axon.test.Thing");
    assert_int_equal(pe->type_hash[7], 0xab);
    assert_int_equal(pe->qos.reliability, AX_BEST_EFFORT);
    assert_int_equal(pe->qos.overload, AX_OVERLOAD_LATEST_ONLY);
    assert_int_equal(pe->qos.history, 5);
    assert_int_equal(pe->counters.drops[AX_DROP_QUEUE_OLDEST], 3);
    assert_string_equal(pe->node_name, "alpha");

    /* Live counters go only to who asks: b asked, and has them; c, which
     * never asks, knows the publisher but none of its counters, though b
     * has been answered (every 50 ms) all along. */
    WAIT_FOR(count_endpoints(c, "/perception/obstacles") == 2, 3000);
    AX_OK_OR_FAIL(ax_node_list_endpoints(c, "/perception/obstacles", e, 4, &n));
    assert_int_equal(n, 2);
    pe = e[0].node_id == ax_node_id(a) ? &e[0] : &e[1];
    assert_true(pe->node_id == ax_node_id(a));
    assert_int_equal(pe->counters.messages, 0);
    assert_int_equal(pe->counters.received_ns, 0);
    struct ax_discovery_stats st;
    AX_OK_OR_FAIL(ax_node_discovery_stats(a, &st));
    assert_true(st.counter_answers >= 1);

    /* Removing an endpoint is announced at once. */
    ax__node_remove_endpoint(a, &pub->ep);
    WAIT_FOR(count_endpoints(b, "/perception/obstacles") == 1, 3000);

    ax_node_destroy(c);
    ax_node_destroy(b);
    ax_node_destroy(a);
    free(pub);
    free(sub);
}

static void test_domains_do_not_mix(void **state)
{
    (void)state;
    ax_node *a = make_node("d1", test_domain(1), 1);
    ax_node *b = make_node("d2", test_domain(1) + 1, 1);
    ax_node *c = make_node("d1bis", test_domain(1), 1);
    WAIT_FOR(count_nodes(a) == 2 && count_nodes(c) == 2, 3000);
    /* Well past several heartbeats: b still only knows itself. */
    struct ax_discovery_stats st;
    int64_t end = ax_clock_mono_ns() + 400 * AX_NS_PER_MS;
    while (ax_clock_mono_ns() < end)
        poll(NULL, 0, 10);
    assert_int_equal(count_nodes(b), 1);
    assert_int_equal(count_nodes(a), 2);
    AX_OK_OR_FAIL(ax_node_discovery_stats(b, &st));
    assert_true(st.tx_datagrams > 0);
    ax_node_destroy(a);
    ax_node_destroy(b);
    ax_node_destroy(c);
}

/* 300 endpoints need many pages; the other node assembles all of them, and
 * removal is exact once a new generation is complete. */
static void test_many_endpoints_span_pages(void **state)
{
    (void)state;
    uint32_t dom = test_domain(2);
    ax_node *a = make_node("wide", dom, 1);
    ax_node *b = make_node("reader", dom, 1);
    struct fake_ep *f[300];
    char topic[64];
    for (int i = 0; i < 300; i++) {
        snprintf(topic, sizeof topic, "/sensors/camera_%03d/image_raw/compressed", i);
        f[i] =
            add_fake(a, topic, i % 2 ? AX_ENDPOINT_SUBSCRIBER : AX_ENDPOINT_PUBLISHER, (uint8_t)i);
    }
    WAIT_FOR(count_endpoints(b, NULL) == 300, 5000);
    struct ax_node_info ni[2];
    size_t n;
    AX_OK_OR_FAIL(ax_node_list_nodes(b, ni, 2, &n));
    const struct ax_node_info *ia = NULL;
    for (size_t i = 0; i < n && i < 2; i++)
        if (ni[i].id == ax_node_id(a))
            ia = &ni[i];
    assert_non_null(ia);
    WAIT_FOR((ax_node_list_nodes(b, ni, 2, &n), (ni[0].is_self ? ni[1] : ni[0]).complete), 3000);
    assert_int_equal(ia->publishers + ia->subscribers, 300);
    for (int i = 0; i < 100; i++)
        ax__node_remove_endpoint(a, &f[i]->ep);
    WAIT_FOR(count_endpoints(b, NULL) == 200, 5000);
    ax_node_destroy(b);
    ax_node_destroy(a);
    for (int i = 0; i < 300; i++)
        free(f[i]);
}

static void test_bye_and_listener_replay(void **state)
{
    (void)state;
    uint32_t dom = test_domain(3);
    ax_node *a = make_node("stays", dom, 1);
    ax_node *b = make_node("leaves", dom, 1);
    struct fake_ep *f = add_fake(b, "/x", AX_ENDPOINT_PUBLISHER, 1);
    WAIT_FOR(count_endpoints(a, "/x") == 1, 3000);
    /* Set late: the listener first hears what the table already holds. */
    struct evlog log = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_node_set_graph_listener(a, record, &log, drop_log));
    WAIT_FOR(get(&log, &log.joins) == 1 && get(&log, &log.ep_joins) == 1, 3000);
    int64_t t0 = ax_clock_mono_ns();
    ax_node_destroy(b);
    WAIT_FOR(get(&log, &log.leaves) == 1, 3000);
    /* A Bye, not a lease expiry: well under the 800 ms lease. */
    assert_false(log.last_leave_expired);
    assert_true(ax_clock_mono_ns() - t0 < 500 * AX_NS_PER_MS);
    assert_int_equal(get(&log, &log.ep_leaves), 1);
    assert_int_equal(count_nodes(a), 1);
    /* Replacing the listener drops the old one exactly once. */
    AX_OK_OR_FAIL(ax_node_set_graph_listener(a, NULL, NULL, NULL));
    WAIT_FOR(get(&log, &log.dropped) == 1, 3000);
    ax_node_destroy(a);
    assert_int_equal(log.dropped, 1);
    free(f);
}

/* Garbage, truncated, other-version and other-domain datagrams are
 * dropped and counted; the node goes on. */
static void test_bad_datagrams_dropped_and_counted(void **state)
{
    (void)state;
    uint32_t dom = test_domain(4);
    ax_node *a = make_node("target", dom, 1);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&src, sizeof src), 0);
    unsigned char ttl = 0;
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    struct sockaddr_in grp = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)(7400 + 10 * dom))};
    inet_pton(AF_INET, "239.255.0.1", &grp.sin_addr);

    struct ax_discovery_stats before, after;
    AX_OK_OR_FAIL(ax_node_discovery_stats(a, &before));
    /* A valid announcement to truncate, version-bump and re-domain. */
    axon_ctl_Discovery m = axon_ctl_Discovery_init_zero;
    m.protocol_version = 1;
    m.domain = dom;
    m.node_id = 0x1234;
    m.which_body = axon_ctl_Discovery_announce_tag;
    m.body.announce.has_node = true;
    m.body.announce.pages = 1;
    snprintf(m.body.announce.node.name, sizeof m.body.announce.node.name, "forged");
    uint8_t buf[512];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    assert_true(pb_encode(&os, axon_ctl_Discovery_fields, &m));
    size_t len = os.bytes_written;
    const char garbage[] = "\xff\xff\xff\xff garbage that is not protobuf";
    sendto(s, garbage, sizeof garbage, 0, (struct sockaddr *)&grp, sizeof grp);
    for (size_t cut = 1; cut < len; cut += 7) /* truncated at many points */
        sendto(s, buf, cut, 0, (struct sockaddr *)&grp, sizeof grp);
    m.protocol_version = 2;
    os = pb_ostream_from_buffer(buf, sizeof buf);
    pb_encode(&os, axon_ctl_Discovery_fields, &m);
    sendto(s, buf, os.bytes_written, 0, (struct sockaddr *)&grp, sizeof grp);
    m.protocol_version = 1;
    m.domain = dom + 1;
    os = pb_ostream_from_buffer(buf, sizeof buf);
    pb_encode(&os, axon_ctl_Discovery_fields, &m);
    sendto(s, buf, os.bytes_written, 0, (struct sockaddr *)&grp, sizeof grp);
    m.domain = dom;
    m.body.announce.pages = 100000; /* absurd page count */
    os = pb_ostream_from_buffer(buf, sizeof buf);
    pb_encode(&os, axon_ctl_Discovery_fields, &m);
    sendto(s, buf, os.bytes_written, 0, (struct sockaddr *)&grp, sizeof grp);

    WAIT_FOR(
        (ax_node_discovery_stats(a, &after), after.rx_bad_version > before.rx_bad_version &&
                                                 after.rx_other_domain > before.rx_other_domain),
        3000);
    WAIT_FOR(
        (ax_node_discovery_stats(a, &after), after.rx_undecodable - before.rx_undecodable >= 2),
        3000);
    print_message("undecodable %llu, bad version %llu, other domain %llu\n",
                  (unsigned long long)(after.rx_undecodable - before.rx_undecodable),
                  (unsigned long long)(after.rx_bad_version - before.rx_bad_version),
                  (unsigned long long)(after.rx_other_domain - before.rx_other_domain));
    /* None of it created a table entry. */
    assert_int_equal(count_nodes(a), 1);
    close(s);
    ax_node_destroy(a);
}

/* node.threads = 0: the caller runs the node, by spin_once or by polling
 * its fd; destroying it from inside a callback completes in spin_once. */
struct spin_ctx {
    ax_node *self;
    bool destroy_on_join;
    int joins;
};

static void spin_listener(ax_node *n, const struct ax_graph_event *ev, void *user)
{
    struct spin_ctx *c = user;
    if (ev->kind == AX_EVENT_NODE_JOIN) {
        c->joins++;
        if (c->destroy_on_join)
            ax_node_destroy(n);
    }
}

static void test_threads_zero_fd_and_destroy_in_callback(void **state)
{
    (void)state;
    uint32_t dom = test_domain(5);
    ax_node *bg = make_node("background", dom, 1);
    ax_node *fg = make_node("foreground", dom, 0);
    assert_true(ax_node_fd(fg) >= 0);
    assert_int_equal(ax_node_fd(bg), -1);
    assert_int_equal(ax_node_spin_once(bg, 0), AX_EINVAL);
    struct spin_ctx c = {.self = fg, .destroy_on_join = true};
    AX_OK_OR_FAIL(ax_node_set_graph_listener(fg, spin_listener, &c, NULL));
    /* Embedded: poll the fd, then spin_once(0), until the callback destroys
     * the node (AX_ECLOSED). */
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    int rc = 0;
    while (rc != AX_ECLOSED) {
        if (ax_clock_mono_ns() > end)
            fail_msg("the foreground node never saw the background one");
        struct pollfd p = {.fd = ax_node_fd(fg), .events = POLLIN};
        poll(&p, 1, 100);
        do
            rc = ax_node_spin_once(fg, 0);
        while (rc == 1);
    }
    assert_int_equal(c.joins, 1);
    ax_node_destroy(bg);
}

static void destroy_from_thread_cb(ax_node *n, const struct ax_graph_event *ev, void *user)
{
    if (ev->kind == AX_EVENT_NODE_JOIN) {
        ax_node_destroy(n); /* deferred: completes on another thread */
        atomic_store((atomic_int *)user, 1);
    }
}

static void test_destroy_inside_callback_with_threads(void **state)
{
    (void)state;
    uint32_t dom = test_domain(6);
    ax_node *a = make_node("victim", dom, 2);
    ax_node *b = make_node("trigger", dom, 1);
    atomic_int done = 0;
    AX_OK_OR_FAIL(ax_node_set_graph_listener(a, destroy_from_thread_cb, &done, NULL));
    WAIT_FOR(atomic_load(&done) == 1, 3000);
    /* a sent its Bye as it went: b sees it leave long before the lease. */
    WAIT_FOR(count_nodes(b) == 1, 2000);
    ax_node_destroy(b);
}

static void test_bad_config_file_names_file_line_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon-node-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("node:\n  name: x\ndiscovery:\n  hartbeat: 100ms\n", f);
    fclose(f);
    ax_node *n = NULL;
    struct ax_config_error err;
    assert_int_equal(ax_node_new_from_file(&n, path, &err), AX_ECONFIG);
    assert_null(n);
    assert_string_equal(err.file, path);
    assert_int_equal(err.line, 4);
    assert_string_equal(err.key, "discovery.hartbeat");
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    ax_log_set_level(AX_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_find_each_other_and_endpoints),
        cmocka_unit_test(test_domains_do_not_mix),
        cmocka_unit_test(test_many_endpoints_span_pages),
        cmocka_unit_test(test_bye_and_listener_replay),
        cmocka_unit_test(test_bad_datagrams_dropped_and_counted),
        cmocka_unit_test(test_threads_zero_fd_and_destroy_in_callback),
        cmocka_unit_test(test_destroy_inside_callback_with_threads),
        cmocka_unit_test(test_bad_config_file_names_file_line_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
