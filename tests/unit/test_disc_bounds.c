/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The discovery table against a hostile peer: forged discovery datagrams,
 * sent over real host-local multicast to a real node.
 *
 * Bounds (docs/discovery.md, "Bounds"): many node ids, many endpoints or a
 * lease of 49 days. The table holds discovery.max_nodes others and each
 * discovery.max_endpoints endpoints, counts the rest, and drops a node that
 * announced a huge lease after discovery.max_lease.
 *
 * A domain key (docs/security.md): nodes with another key or none are kept
 * out and counted; a datagram sent again, or one of a node that said Bye,
 * is dropped as a replay.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ax_test.h"
#include "control.pb.h"
#include "core/ax__disc.h"
#include "core/ax__keyring.h"

/* One domain of this binary's block (tests/ax_test.h); the tests run one
 * after the other and each destroys its nodes. */
static uint32_t test_domain(void)
{
    return axt_domain(AXT_DOMAINS_DISC_BOUNDS, 0);
}

#define FORGED_ID 0xf0f0000000000000ull

/* Wait (polling, never sleeping blindly) for a condition, with a deadline. */
struct bounds {
    uint32_t max_nodes, max_endpoints, max_table_endpoints;
    int64_t heartbeat_ns, lease_ns, max_lease_ns; /* 0: the defaults */
    const char *key_file;                         /* NULL: an open domain */
};

static ax_node *make_node(const char *name, const struct bounds *b)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = test_domain();
    if (b && b->max_nodes)
        c.discovery.max_nodes = b->max_nodes;
    if (b && b->max_endpoints)
        c.discovery.max_endpoints = b->max_endpoints;
    if (b && b->max_table_endpoints)
        c.discovery.max_table_endpoints = b->max_table_endpoints;
    if (b && b->key_file)
        snprintf(c.security.key_file, sizeof c.security.key_file, "%s", b->key_file);
    if (b && b->lease_ns) {
        c.discovery.heartbeat_ns = b->heartbeat_ns;
        c.discovery.lease_ns = b->lease_ns;
        c.discovery.max_lease_ns = b->max_lease_ns;
    }
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &c));
    ax_config_fini(&c);
    return n;
}

static size_t count_nodes(ax_node *n)
{
    size_t k = 0;
    AX_OK_OR_FAIL(ax_node_list_nodes(n, NULL, 0, &k));
    return k;
}

static size_t count_endpoints(ax_node *n)
{
    size_t k = 0;
    AX_OK_OR_FAIL(ax_node_list_endpoints(n, NULL, NULL, 0, &k));
    return k;
}

/* What @n's table says of node @id; false if it is not in it. */
static bool find_node(ax_node *n, uint64_t id, struct ax_node_info *out)
{
    struct ax_node_info ni[64];
    size_t k = 0;
    AX_OK_OR_FAIL(ax_node_list_nodes(n, ni, 64, &k));
    for (size_t i = 0; i < k && i < 64; i++) {
        if (ni[i].id == id) {
            if (out)
                *out = ni[i];
            return true;
        }
    }
    return false;
}

static struct ax_discovery_stats stats(ax_node *n)
{
    struct ax_discovery_stats st;
    AX_OK_OR_FAIL(ax_node_discovery_stats(n, &st));
    return st;
}

static struct ax_connection_stats link_stats(ax_node *n)
{
    struct ax_connection_stats cs;
    AX_OK_OR_FAIL(ax_node_connection_stats(n, &cs));
    return cs;
}

/* ---- forging: datagrams to the domain's group from a socket of ours ---- */

struct forger {
    int s;
    struct sockaddr_in grp;
    axon_ctl_Discovery m;   /* large (nanopb static sizes) */
    uint64_t gen;           /* announced generation (0: 1) */
    uint64_t seq;           /* datagram counter (0: 1) */
    struct ax__keyring key; /* signs what it sends when on */
    size_t len;             /* of the last datagram in buf */
    uint8_t buf[8192];
};

static struct forger *forger_new(void)
{
    struct forger *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(f->s >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->s, (struct sockaddr *)&src, sizeof src), 0);
    unsigned char ttl = 0;
    setsockopt(f->s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    f->grp.sin_family = AF_INET;
    f->grp.sin_port = htons((uint16_t)(7400 + 10 * test_domain()));
    inet_pton(AF_INET, "239.255.0.1", &f->grp.sin_addr);
    return f;
}

/* Encode f->m into f->buf, sign it if the forger has a key, and send it. */
static void forger_send(struct forger *f)
{
    pb_ostream_t os = pb_ostream_from_buffer(f->buf, sizeof f->buf);
    assert_true(pb_encode(&os, axon_ctl_Discovery_fields, &f->m));
    f->len = ax__keyring_seal(&f->key, f->buf, os.bytes_written, sizeof f->buf);
    assert_true(f->len > 0);
    ssize_t r = sendto(f->s, f->buf, f->len, 0, (struct sockaddr *)&f->grp, sizeof f->grp);
    assert_int_equal(r, (ssize_t)f->len);
}

static void forger_free(struct forger *f)
{
    close(f->s);
    free(f);
}

/* Page @page of @pages of node @id's generation 1, listing endpoints
 * @first .. @first + @n - 1, with a lease of @lease_ms. */
static void forge_announce(struct forger *f, uint64_t id, uint32_t lease_ms, uint32_t page,
                           uint32_t pages, uint32_t first, uint32_t n)
{
    axon_ctl_Discovery *m = &f->m;
    memset(m, 0, sizeof *m);
    m->protocol_version = 1;
    m->domain = test_domain();
    m->node_id = id;
    m->incarnation = 7;
    m->seq = f->seq ? f->seq : 1;
    m->which_body = axon_ctl_Discovery_announce_tag;
    axon_ctl_Announce *a = &m->body.announce;
    a->generation = f->gen ? f->gen : 1;
    a->page = page;
    a->pages = pages;
    a->has_node = true;
    snprintf(a->node.name, sizeof a->node.name, "forged-%llx", (unsigned long long)id);
    a->node.lease_ms = lease_ms;
    a->node.heartbeat_ms = 1000;
    assert_true(n <= sizeof a->endpoints / sizeof a->endpoints[0]);
    for (uint32_t i = 0; i < n; i++) {
        axon_ctl_Endpoint *e = &a->endpoints[a->endpoints_count++];
        e->id = first + i;
        e->kind = axon_ctl_EndpointKind_ENDPOINT_PUBLISHER;
        snprintf(e->topic, sizeof e->topic, "/forged/%u", (unsigned)(first + i));
        snprintf(e->type_name, sizeof e->type_name, "axon.test.Forged");
        e->port = 9;
    }
    forger_send(f);
}

/* A heartbeat of node @id, which nobody knows: a node with room in its
 * table asks it for its state (a StateRequest to where it came from). */
static void forge_heartbeat(struct forger *f, uint64_t id)
{
    axon_ctl_Discovery *m = &f->m;
    memset(m, 0, sizeof *m);
    m->protocol_version = 1;
    m->domain = test_domain();
    m->node_id = id;
    m->incarnation = 7;
    m->which_body = axon_ctl_Discovery_heartbeat_tag;
    m->body.heartbeat.generation = 1;
    m->body.heartbeat.pages = 1;
    forger_send(f);
}

/* Whether a StateRequest of node @asker for @target is among what our
 * socket received (the rest, such as answers to forged announcements, is
 * read and dropped). */
static bool forger_asked(struct forger *f, uint64_t asker, uint64_t target)
{
    bool asked = false;
    ssize_t r;
    while ((r = recv(f->s, f->buf, sizeof f->buf, MSG_DONTWAIT)) >= 0) {
        pb_istream_t is = pb_istream_from_buffer(f->buf, (size_t)r);
        memset(&f->m, 0, sizeof f->m);
        if (pb_decode(&is, axon_ctl_Discovery_fields, &f->m) && f->m.node_id == asker &&
            f->m.which_body == axon_ctl_Discovery_request_tag && f->m.body.request.target == target)
            asked = true;
    }
    return asked;
}

/* A fake local endpoint, as the publish/subscribe layer registers them. */
struct fake_ep {
    struct ax__local_ep ep;
    struct ax__ep_counters ctr;
};

static struct fake_ep *add_local(ax_node *n, const char *topic)
{
    struct fake_ep *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->ep.kind = AX_ENDPOINT_PUBLISHER;
    snprintf(f->ep.topic, sizeof f->ep.topic, "%s", topic);
    snprintf(f->ep.type_name, sizeof f->ep.type_name, "axon.test.Thing");
    f->ep.qos = AX_QOS_SENSOR_DATA;
    f->ep.ctr = &f->ctr;
    AX_OK_OR_FAIL(ax__node_add_endpoint(n, &f->ep));
    return f;
}

/* ---- tests ---- */

/* 40 forged node ids against a table of 8: the table holds exactly 8
 * others (a real node already in it among them), the 33 others are
 * refused and counted; an unknown node's heartbeat is then refused too,
 * without a StateRequest to it; the real node's changes still arrive; a
 * real node that starts while the table is full is refused too. */
static void test_max_nodes(void **state)
{
    (void)state;
    struct bounds b = {.max_nodes = 8};
    ax_node *a = make_node("keeper", &b);
    ax_node *m = make_node("member", NULL);
    WAIT_FOR(find_node(a, ax_node_id(m), NULL) && find_node(m, ax_node_id(a), NULL), 5000);

    struct forger *f = forger_new();
    /* With room in the table, an unknown node's heartbeat is answered by
     * a StateRequest to it. */
    forge_heartbeat(f, FORGED_ID + 100);
    WAIT_FOR(forger_asked(f, ax_node_id(a), FORGED_ID + 100), 5000);

    enum { FORGED = 40, BATCH = 8 };
    for (unsigned sent = 0; sent < FORGED;) {
        /* In batches, each read before the next is sent: a receive buffer
         * capped by rmem_max must not drop any (the counts are exact). */
        for (unsigned k = 0; k < BATCH; k++, sent++)
            forge_announce(f, FORGED_ID + sent, 60000, 0, 1, 0, 0);
        WAIT_FOR(count_nodes(a) - 2 + stats(a).nodes_refused == sent, 5000);
    }
    struct ax_discovery_stats st = stats(a);
    print_message("table: %zu others, %llu refused\n", count_nodes(a) - 1,
                  (unsigned long long)st.nodes_refused);
    assert_int_equal(count_nodes(a), 8 + 1); /* itself listed too */
    assert_int_equal(st.nodes_refused, FORGED - 7);
    assert_true(find_node(a, ax_node_id(m), NULL));
    pthread_mutex_lock(&a->lock);
    assert_true(a->disc->peers_cap <= 8); /* nothing allocated beyond the bound */
    pthread_mutex_unlock(&a->lock);

    /* Full: an unknown node's heartbeat is refused, not asked about (the
     * request would be on our socket before the count is seen; the member,
     * whose table has room, asks). */
    forge_heartbeat(f, FORGED_ID + 101);
    WAIT_FOR(stats(a).nodes_refused == FORGED - 7 + 1, 5000);
    assert_false(forger_asked(f, ax_node_id(a), FORGED_ID + 101));

    /* The node already in the table keeps working: its new endpoint arrives. */
    struct fake_ep *ep = add_local(m, "/bounds/kept");
    WAIT_FOR(count_endpoints(a) == 1, 5000);

    /* A newcomer is refused while the table is full (it finds the others,
     * whose tables have room). */
    uint64_t before = stats(a).nodes_refused;
    ax_node *late = make_node("late", NULL);
    WAIT_FOR(find_node(late, ax_node_id(a), NULL) && stats(a).nodes_refused > before, 5000);
    assert_false(find_node(a, ax_node_id(late), NULL));
    assert_int_equal(count_nodes(a), 8 + 1);

    ax_node_destroy(late);
    ax__node_remove_endpoint(m, &ep->ep);
    ax_node_destroy(m);
    ax_node_destroy(a);
    free(ep);
    forger_free(f);
}

/* One forged node announcing 100 endpoints (4 pages of 25) to a node that
 * keeps 40 per node: 40 stored, 60 refused and counted, the node shown
 * incomplete, and its endpoint array no larger than the bound. Another
 * within the bound is complete. */
static void test_max_endpoints(void **state)
{
    (void)state;
    struct bounds b = {.max_endpoints = 40};
    ax_node *a = make_node("keeper", &b);
    struct forger *f = forger_new();
    for (uint32_t page = 0; page < 4; page++) {
        forge_announce(f, FORGED_ID, 60000, page, 4, 1 + 25 * page, 25);
        WAIT_FOR(count_endpoints(a) + stats(a).endpoints_refused == 25 * (page + 1), 5000);
    }
    forge_announce(f, FORGED_ID + 1, 60000, 0, 1, 1, 10);
    WAIT_FOR(find_node(a, FORGED_ID + 1, NULL), 5000);
    WAIT_FOR(count_endpoints(a) == 50, 5000);

    struct ax_node_info wide, narrow;
    assert_true(find_node(a, FORGED_ID, &wide));
    assert_true(find_node(a, FORGED_ID + 1, &narrow));
    print_message("wide: %u endpoints, complete %d; refused %llu\n",
                  wide.publishers + wide.subscribers, wide.complete,
                  (unsigned long long)stats(a).endpoints_refused);
    assert_int_equal(wide.publishers + wide.subscribers, 40);
    assert_false(wide.complete);
    assert_int_equal(narrow.publishers + narrow.subscribers, 10);
    assert_true(narrow.complete);
    assert_int_equal(stats(a).endpoints_refused, 60);
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < a->disc->npeers; i++)
        assert_true(a->disc->peers[i]->eps_cap <= 40);
    pthread_mutex_unlock(&a->lock);

    forger_free(f);
    ax_node_destroy(a);
}

/* discovery.max_table_endpoints bounds all nodes together: three forged
 * nodes of 25 endpoints each against a table of 60 keep 60, refuse 15, and
 * the third is shown incomplete; when the first leaves, its place is free
 * again. */
static void test_max_table_endpoints(void **state)
{
    (void)state;
    struct bounds b = {.max_table_endpoints = 60};
    ax_node *a = make_node("keeper", &b);
    struct forger *f = forger_new();
    for (uint64_t k = 0; k < 3; k++) {
        forge_announce(f, FORGED_ID + k, 60000, 0, 1, 1, 25);
        WAIT_FOR(find_node(a, FORGED_ID + k, NULL), 5000);
    }
    WAIT_FOR(count_endpoints(a) == 60, 5000);
    assert_int_equal(stats(a).endpoints_refused, 15);
    struct ax_node_info third;
    assert_true(find_node(a, FORGED_ID + 2, &third));
    assert_int_equal(third.publishers + third.subscribers, 10);
    assert_false(third.complete);
    pthread_mutex_lock(&a->lock);
    assert_int_equal(a->disc->table_eps, 60);
    pthread_mutex_unlock(&a->lock);
    /* The first one announces an empty set: its 25 places are free. */
    f->gen = 2;
    forge_announce(f, FORGED_ID, 60000, 0, 1, 1, 0);
    WAIT_FOR(count_endpoints(a) == 35, 5000);
    pthread_mutex_lock(&a->lock);
    assert_int_equal(a->disc->table_eps, 35);
    /* ... and its memory: what the bound counts is what is held. */
    assert_int_equal(ax__table_find(a->disc, FORGED_ID)->eps_cap, 0);
    pthread_mutex_unlock(&a->lock);
    forger_free(f);
    ax_node_destroy(a);
}

/* Leases from the graph events (the lease as the table applies it). */
struct leases {
    pthread_mutex_t mu;
    int64_t huge, tiny;
};

static void record_lease(ax_node *n, const struct ax_graph_event *ev, void *user)
{
    struct leases *l = user;
    (void)n;
    if (ev->kind != AX_EVENT_NODE_JOIN)
        return;
    pthread_mutex_lock(&l->mu);
    if (ev->node.id == FORGED_ID)
        l->huge = ev->node.lease_ns;
    else if (ev->node.id == FORGED_ID + 1)
        l->tiny = ev->node.lease_ns;
    pthread_mutex_unlock(&l->mu);
}

static int64_t get_lease(struct leases *l, int64_t *field)
{
    pthread_mutex_lock(&l->mu);
    int64_t v = *field;
    pthread_mutex_unlock(&l->mu);
    return v;
}

/* A forged node announcing a lease of 49 days, and never a heartbeat, is
 * dropped after discovery.max_lease (300 ms here); meanwhile it fills a
 * table of one, and a real node refused then gets in once it is gone. A
 * lease of 1 ms is raised to AX__LEASE_MIN. */
static void test_max_lease(void **state)
{
    (void)state;
    struct bounds b = {.max_nodes = 1,
                       .heartbeat_ns = 50 * AX_NS_PER_MS,
                       .lease_ns = 300 * AX_NS_PER_MS,
                       .max_lease_ns = 300 * AX_NS_PER_MS};
    ax_node *a = make_node("keeper", &b);
    struct leases l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    AX_OK_OR_FAIL(ax_node_set_graph_listener(a, record_lease, &l, NULL));
    struct forger *f = forger_new();

    forge_announce(f, FORGED_ID + 1, 1, 0, 1, 0, 0);
    WAIT_FOR(get_lease(&l, &l.tiny) != 0, 5000);
    assert_int_equal(get_lease(&l, &l.tiny), AX__LEASE_MIN);
    WAIT_FOR(count_nodes(a) == 1, 5000); /* gone 10 ms later */

    uint64_t expired = stats(a).leases_expired;
    forge_announce(f, FORGED_ID, UINT32_MAX, 0, 1, 0, 0); /* 49.7 days */
    WAIT_FOR(get_lease(&l, &l.huge) != 0, 5000);
    assert_int_equal(get_lease(&l, &l.huge), 300 * AX_NS_PER_MS);

    /* Refused while the forged node holds the only place, if that lasts
     * long enough to see (it is only 300 ms), then admitted. */
    ax_node *late = make_node("late", &b);
    WAIT_FOR(!find_node(a, FORGED_ID, NULL) && find_node(a, ax_node_id(late), NULL), 10000);
    assert_true(stats(a).leases_expired > expired);
    print_message("forged node dropped, newcomer admitted; %llu datagrams refused meanwhile\n",
                  (unsigned long long)stats(a).nodes_refused);

    ax_node_destroy(late);
    ax_node_destroy(a);
    forger_free(f);
}

/* ---- a domain key ---- */

static char key_dir[64];

static void count_msg(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    if (user)
        atomic_fetch_add((atomic_int *)user, 1);
}

static const char *key_path(const char *name)
{
    static char paths[4][128];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 128, "%s/%s", key_dir, name);
    return p;
}

static void make_keys(void)
{
    snprintf(key_dir, sizeof key_dir, "/tmp/axon_test_key_XXXXXX");
    assert_non_null(mkdtemp(key_dir));
    AX_OK_OR_FAIL(ax_key_generate(key_path("one.key")));
    AX_OK_OR_FAIL(ax_key_generate(key_path("two.key")));
    assert_int_equal(ax_key_generate(key_path("one.key")), AX_EEXIST); /* never overwritten */
}

static void remove_keys(void)
{
    unlink(key_path("one.key"));
    unlink(key_path("two.key"));
    rmdir(key_dir);
}

/* Nodes with the same key find each other; a node with another key, or
 * none, is kept out of their tables and counted. A key file others can
 * read is refused. */
static void test_key_keeps_others_out(void **state)
{
    (void)state;
    make_keys();
    struct bounds one = {.key_file = key_path("one.key")};
    struct bounds two = {.key_file = key_path("two.key")};
    ax_node *a = make_node("keyed-a", &one);
    ax_node *b = make_node("keyed-b", &one);
    ax_node *open_ = make_node("open", NULL);
    ax_node *other = make_node("other-key", &two);
    WAIT_FOR(find_node(a, ax_node_id(b), NULL) && find_node(b, ax_node_id(a), NULL), 5000);
    /* Both outsiders announced themselves at start: once a has dropped
     * datagrams from both, it has heard all it will hear of their joins. */
    WAIT_FOR(stats(a).rx_unauthenticated >= 2, 5000);
    assert_false(find_node(a, ax_node_id(open_), NULL));
    assert_false(find_node(a, ax_node_id(other), NULL));
    WAIT_FOR(stats(other).rx_unauthenticated >= 2, 5000);
    assert_false(find_node(other, ax_node_id(a), NULL));
    assert_false(find_node(other, ax_node_id(b), NULL));

    /* Data: b (same key) receives a's messages. The open node can read the
     * keyed nodes' announcements (they are signed, not secret), but its
     * subscription fails the handshake: AX_EACCES on both sides. */
    ax_pub *p;
    ax_sub *keyed, *outsider;
    atomic_int got = 0;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, a, "/auth/t", "test.Auth", NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&keyed, b, "/auth/t", "test.Auth", count_msg, &got, NULL));
    AX_OK_OR_FAIL(ax_sub_new_raw(&outsider, open_, "/auth/t", "test.Auth", count_msg, NULL, NULL));
    struct ax_endpoint_counters oc = {0};
    int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
    while ((atomic_load(&got) == 0 || oc.last_error != AX_EACCES) && ax_clock_mono_ns() < end) {
        ax_pub_publish_bytes(p, "x", 1);
        poll(NULL, 0, 10); /* the publishing rate of this loop, not a wait for a condition */
        AX_OK_OR_FAIL(ax_sub_counters(outsider, &oc));
    }
    assert_true(atomic_load(&got) > 0);
    assert_int_equal(oc.last_error, AX_EACCES);
    assert_int_equal(oc.messages, 0);
    /* The subscriber sees the error frame before the publisher's side has
     * closed the link and counted it: wait for the count. */
    WAIT_FOR(link_stats(a).unauthenticated >= 1, 5000);
    ax_sub_free(outsider);
    ax_sub_free(keyed);
    ax_pub_free(p);
    ax_node_destroy(other);
    ax_node_destroy(open_);
    ax_node_destroy(b);
    ax_node_destroy(a);

    chmod(key_path("one.key"), 0644);
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.security.key_file, sizeof c.security.key_file, "%s", key_path("one.key"));
    ax_node *n = NULL;
    assert_int_equal(ax_node_new(&n, &c), AX_EACCES);
    ax_config_fini(&c);
    remove_keys();
}

/* @name holding the lines of key files @first and @second, mode 600. */
static const char *key_pair(const char *name, const char *first, const char *second)
{
    const char *path = key_path(name);
    char text[256] = "";
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(key_path(i ? second : first), "r");
        assert_non_null(f);
        size_t len = strlen(text);
        assert_non_null(fgets(text + len, (int)(sizeof text - len), f));
        fclose(f);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* Rotating the key without a partition (docs/security.md): a file of two
 * keys signs with the first and accepts both. Old only, then "old, new",
 * then "new, old", then new only: each step talks to the one before. */
static void test_key_rotation(void **state)
{
    (void)state;
    make_keys(); /* one.key: the old key, two.key: the new one */
    char old_new[128], new_old[128];
    snprintf(old_new, sizeof old_new, "%s", key_pair("old_new.key", "one.key", "two.key"));
    snprintf(new_old, sizeof new_old, "%s", key_pair("new_old.key", "two.key", "one.key"));
    struct bounds b_old = {.key_file = key_path("one.key")};
    struct bounds b_old_new = {.key_file = old_new};
    ax_node *a = make_node("old", &b_old);
    ax_node *b = make_node("old-new", &b_old_new);
    struct bounds b_new_old = {.key_file = new_old};
    struct bounds b_new = {.key_file = key_path("two.key")};
    ax_node *c = make_node("new-old", &b_new_old);
    ax_node *d = make_node("new", &b_new);
    WAIT_FOR(find_node(a, ax_node_id(b), NULL) && find_node(b, ax_node_id(a), NULL), 5000);
    WAIT_FOR(find_node(b, ax_node_id(c), NULL) && find_node(c, ax_node_id(b), NULL), 5000);
    WAIT_FOR(find_node(c, ax_node_id(d), NULL) && find_node(d, ax_node_id(c), NULL), 5000);
    /* The two ends do not mix: d signs with the new key only. */
    WAIT_FOR(stats(a).rx_unauthenticated > 0, 5000);
    assert_false(find_node(a, ax_node_id(d), NULL));
    ax_node_destroy(d);
    ax_node_destroy(c);
    ax_node_destroy(b);
    ax_node_destroy(a);
    unlink(old_new);
    unlink(new_old);
    remove_keys();
}

/* A signed datagram sent again is dropped as a replay; so is every old
 * datagram of a node that said Bye, which cannot bring it back. An
 * unsigned one is dropped as unauthenticated. */
static void test_replays_dropped(void **state)
{
    (void)state;
    make_keys();
    struct bounds one = {.key_file = key_path("one.key")};
    ax_node *a = make_node("keeper", &one);
    struct forger *f = forger_new();
    char why[300];
    AX_OK_OR_FAIL(ax__keyring_load(&f->key, key_path("one.key"), why, sizeof why));

    f->seq = 1;
    forge_announce(f, FORGED_ID, 60000, 0, 1, 1, 1);
    WAIT_FOR(find_node(a, FORGED_ID, NULL), 5000);
    uint8_t first[sizeof f->buf];
    size_t first_len = f->len;
    memcpy(first, f->buf, first_len);
    assert_int_equal(sendto(f->s, first, first_len, 0, (struct sockaddr *)&f->grp, sizeof f->grp),
                     (ssize_t)first_len);
    WAIT_FOR(stats(a).rx_replayed == 1, 5000);

    /* Bye (a later counter): gone. Its first announcement again: still gone. */
    memset(&f->m, 0, sizeof f->m);
    f->m.protocol_version = 1;
    f->m.domain = test_domain();
    f->m.node_id = FORGED_ID;
    f->m.incarnation = 7;
    f->m.seq = 2;
    f->m.which_body = axon_ctl_Discovery_bye_tag;
    forger_send(f);
    WAIT_FOR(!find_node(a, FORGED_ID, NULL), 5000);
    assert_int_equal(sendto(f->s, first, first_len, 0, (struct sockaddr *)&f->grp, sizeof f->grp),
                     (ssize_t)first_len);
    WAIT_FOR(stats(a).rx_replayed == 2, 5000);
    assert_false(find_node(a, FORGED_ID, NULL));

    /* Unsigned: dropped before it is decoded. */
    uint64_t before = stats(a).rx_unauthenticated;
    f->key.on = false;
    f->seq = 1;
    forge_announce(f, FORGED_ID + 1, 60000, 0, 1, 1, 1);
    WAIT_FOR(stats(a).rx_unauthenticated == before + 1, 5000);
    assert_false(find_node(a, FORGED_ID + 1, NULL));

    forger_free(f);
    ax_node_destroy(a);
    remove_keys();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_nodes),
        cmocka_unit_test(test_max_endpoints),
        cmocka_unit_test(test_max_table_endpoints),
        cmocka_unit_test(test_max_lease),
        cmocka_unit_test(test_key_keeps_others_out),
        cmocka_unit_test(test_replays_dropped),
        cmocka_unit_test(test_key_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
