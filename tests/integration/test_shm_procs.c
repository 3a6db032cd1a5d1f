/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared memory between real processes on one host (transport/shm): this
 * test is one node, tests/integration/shm_node the other, each in its own
 * process.
 *
 *  - the transport chosen: shared memory by default; TCP, saying why, when
 *    the publisher's node has it off or the subscription turned it off;
 *    nothing at all under `require` with a publisher that offers none;
 *  - kill -9 of a subscriber holding chunks: the publisher has them back
 *    at once and goes on;
 *  - kill -9 of the publisher: what the subscriber retained stays valid;
 *  - a spent budget: a loan fails at once (AX_ENOBUFS, counted), never a
 *    hang; a subscriber that never releases holds its quota and no more;
 *  - nothing is left in /dev/shm.
 * Every wait has a deadline; under qemu they are longer.
 *
 *   test_shm_procs <path to shm_node>
 */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "ax_test.h"
#include "proc.h"

#define MIB (1u << 20)

static char *node_path;
static unsigned domain;
static bool emulated;
static char dir[256];

static int T(int ms)
{
    return emulated ? ms * 4 : ms;
}

/* Start shm_node with the given arguments (NULL-terminated). */
static void start(struct proc *p, const char *name, ...)
{
    char *argv[40];
    int n = 0;
    static char dom[16];
    snprintf(dom, sizeof dom, "%u", domain);
    argv[n++] = node_path;
    argv[n++] = "--name";
    argv[n++] = (char *)name;
    argv[n++] = "--domain";
    argv[n++] = dom;
    va_list ap;
    va_start(ap, name);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 38)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(proc_start(p, name, argv), 0);
    if (!proc_wait_line(p, "READY", NULL, T(30000), NULL, 0))
        fail_msg("%s did not start", name);
}

static long field_l(const char *line, const char *key)
{
    char v[64];
    if (!line_field(line, key, v, sizeof v))
        fail_msg("no %s= in: %s", key, line);
    return atol(v);
}

static void dump(struct proc *p)
{
    char line[512];
    print_message("--- %s:\n", p->name);
    while (proc_wait_line(p, "", NULL, 300, line, sizeof line))
        print_message("    %s\n", line);
}

static char *write_config(const char *name, const char *yaml)
{
    static char path[4][320];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);
    return p;
}

/* ---- this process's node ---- */

struct rx {
    pthread_mutex_t mu;
    uint64_t received, bad;
    struct ax_msg *kept[64];
    unsigned nkept, want_keep;
};

static bool check(const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    memcpy(&k, p, 8);
    for (size_t i = 8; i < n; i += 4093)
        if (p[i] != (uint8_t)(k * 7 + i))
            return false;
    return p[n - 1] == (uint8_t)(k * 7 + n - 1);
}

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct rx *r = user;
    (void)sub;
    pthread_mutex_lock(&r->mu);
    r->received++;
    if (m->len < 8 || !check(m->data, m->len))
        r->bad++;
    if (r->nkept < r->want_keep && ax_msg_retain(m, &r->kept[r->nkept]) == 0)
        r->nkept++;
    pthread_mutex_unlock(&r->mu);
}

static uint64_t rx_count(struct rx *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t n = r->received;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static ax_node *node_new(const char *yaml)
{
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    if (yaml)
        AX_OK_OR_FAIL(ax_config_load_string(&cfg, yaml, "test", &err));
    cfg.domain = domain;
    snprintf(cfg.node_name, sizeof cfg.node_name, "tester");
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &cfg));
    ax_config_fini(&cfg);
    return n;
}

static ax_sub *sub_new(ax_node *n, const char *topic, enum ax_shm_use shm, struct rx *r)
{
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.shm = shm;
    ax_sub *s;
    AX_OK_OR_FAIL(ax_sub_new_raw(&s, n, topic, "test.Blob", on_msg, r, &so));
    return s;
}

/* Wait until @s's first link is @transport (and, unless -1, @reason). */
static void wait_link(ax_sub *s, enum ax_link_transport transport, int reason, int ms)
{
    struct ax_endpoint_counters c = {0};
    int64_t end = ax_clock_mono_ns() + (int64_t)T(ms) * AX_NS_PER_MS;
    while (ax_clock_mono_ns() < end) {
        AX_OK_OR_FAIL(ax_sub_counters(s, &c));
        if (c.nlinks && c.links[0].transport == transport &&
            (reason < 0 || (int)c.links[0].reason == reason))
            return;
        usleep(20000); /* polling a counter, not sleeping in place of a condition */
    }
    fail_msg("link: wanted %s (reason %d), have %u links, first %s reason %d, error %s",
             ax_link_transport_name(transport), reason, c.nlinks,
             c.nlinks ? ax_link_transport_name(c.links[0].transport) : "-",
             c.nlinks ? (int)c.links[0].reason : -1,
             c.last_error ? ax_err_name(c.last_error) : "none");
}

static void wait_received(struct rx *r, uint64_t n, int ms)
{
    int64_t end = ax_clock_mono_ns() + (int64_t)T(ms) * AX_NS_PER_MS;
    while (rx_count(r) < n && ax_clock_mono_ns() < end)
        usleep(10000);
    if (rx_count(r) < n)
        fail_msg("received %llu of %llu", (unsigned long long)rx_count(r), (unsigned long long)n);
}

static uint64_t pool_in_use(ax_pub *p)
{
    struct ax_pool_stats s;
    AX_OK_OR_FAIL(ax_pub_pool_stats(p, &s));
    return s.in_use;
}

/* Publish message @k (1, 2, ...) of @size bytes from a loan. */
static int publish_k(ax_pub *p, uint64_t k, size_t size)
{
    struct ax_loan loan;
    int rc = ax_pub_loan(p, size, &loan);
    if (rc < 0)
        return rc;
    memcpy(loan.data, &k, 8);
    for (size_t i = 8; i < size; i++)
        loan.data[i] = (uint8_t)(k * 7 + i);
    return ax_pub_publish_loan(p, &loan, size);
}

static void wait_subscribed(ax_pub *p, uint32_t n, int ms)
{
    struct ax_endpoint_counters c = {0};
    int64_t end = ax_clock_mono_ns() + (int64_t)T(ms) * AX_NS_PER_MS;
    while (ax_clock_mono_ns() < end) {
        AX_OK_OR_FAIL(ax_pub_counters(p, &c));
        if (c.connections == n)
            return;
        usleep(10000);
    }
    fail_msg("publisher has %u subscribers, wanted %u", c.connections, n);
}

/* ---- /dev/shm ---- */

static size_t shm_names(char names[][64], size_t cap)
{
    DIR *d = opendir("/dev/shm");
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < cap)
        snprintf(names[n++], 64, "%s", e->d_name);
    if (d)
        closedir(d);
    return n;
}

static char shm_before[256][64];
static size_t nshm_before;

static void assert_shm_unchanged(void)
{
    char now[256][64];
    size_t n = shm_names(now, 256);
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t k = 0; k < nshm_before && !known; k++)
            known = strcmp(now[i], shm_before[k]) == 0;
        if (!known)
            fail_msg("/dev/shm/%s appeared", now[i]);
    }
}

/* ---- the cases ---- */

/* Shared memory by default; TCP when either side turns it off, with the
 * reason; under `require`, a publisher without it is not connected. */
static void t_transport_choice(void **state)
{
    (void)state;
    ax_node *n = node_new(NULL);
    char *off = write_config("shm-off.yaml", "transport:\n  shm: off\n");
    struct proc p1, p2;
    struct rx r1 = {.mu = PTHREAD_MUTEX_INITIALIZER}, r2 = {.mu = PTHREAD_MUTEX_INITIALIZER},
              r3 = {.mu = PTHREAD_MUTEX_INITIALIZER}, r4 = {.mu = PTHREAD_MUTEX_INITIALIZER};

    /* Same host, both willing: shared memory; every byte as published. */
    ax_sub *s = sub_new(n, "/shm/a", AX_SHM_DEFAULT, &r1);
    start(&p1, "pub-a", "--pub", "/shm/a", "--size", "1048576", "--count", "20", "--rate", "50",
          NULL);
    wait_link(s, AX_LINK_SHM, AX_SHM_USED, 20000);
    wait_received(&r1, 20, 20000);
    assert_int_equal(r1.bad, 0);
    /* ... and the same publisher to a subscription that wants TCP. */
    ax_sub *s3 = sub_new(n, "/shm/c", AX_SHM_OFF, &r3);
    start(&p2, "pub-c", "--pub", "/shm/c", "--size", "1048576", "--count", "5", "--rate", "50",
          NULL);
    wait_link(s3, AX_LINK_TCP, AX_SHM_R_OFF, 20000);
    wait_received(&r3, 5, 20000);
    assert_int_equal(r3.bad, 0);
    proc_stop(&p1, T(10000));
    proc_stop(&p2, T(10000));
    ax_sub_free(s);
    ax_sub_free(s3);

    /* The publisher's node offers none: TCP, and the reason says so. */
    ax_sub *s2 = sub_new(n, "/shm/b", AX_SHM_DEFAULT, &r2);
    start(&p1, "pub-b", "--config", off, "--pub", "/shm/b", "--size", "1048576", "--count", "5",
          "--rate", "50", NULL);
    wait_link(s2, AX_LINK_TCP, AX_SHM_R_PEER_OFF, 20000);
    wait_received(&r2, 5, 20000);
    assert_int_equal(r2.bad, 0);
    proc_stop(&p1, T(10000));
    ax_sub_free(s2);
    /* Required, and the publisher cannot: not connected, and why. */
    ax_sub *s4 = sub_new(n, "/shm/d", AX_SHM_REQUIRE, &r4);
    start(&p1, "pub-d", "--config", off, "--pub", "/shm/d", "--size", "1048576", "--count", "5",
          "--rate", "50", NULL);
    struct ax_endpoint_counters c;
    int64_t end = ax_clock_mono_ns() + (int64_t)T(20000) * AX_NS_PER_MS;
    do {
        usleep(20000);
        AX_OK_OR_FAIL(ax_sub_counters(s4, &c));
    } while (c.last_error != AX_ENOTSUP && ax_clock_mono_ns() < end);
    assert_int_equal(c.last_error, AX_ENOTSUP);
    assert_int_equal(c.connections, 0);
    assert_int_equal(rx_count(&r4), 0);
    proc_stop(&p1, T(10000));
    ax_sub_free(s4);
    ax_node_destroy(n);
    assert_shm_unchanged();
}

/* kill -9 of a subscriber that holds chunks: they come back when its
 * socket closes, at once, and publishing goes on to the next one. */
static void t_subscriber_killed(void **state)
{
    (void)state;
    ax_node *n = node_new(NULL);
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/shm/kill-sub", "test.Blob", NULL));
    struct proc sub;
    start(&sub, "holder", "--sub", "/shm/kill-sub", "--retain", "8", NULL);
    wait_subscribed(p, 1, 20000);
    char line[256];
    uint64_t k = 0;
    int64_t end = ax_clock_mono_ns() + (int64_t)T(20000) * AX_NS_PER_MS;
    bool held = false;
    while (!held && ax_clock_mono_ns() < end) {
        AX_OK_OR_FAIL(publish_k(p, ++k, MIB));
        held = proc_wait_line(&sub, "HELD", NULL, 50, line, sizeof line);
    }
    if (!held) {
        dump(&sub);
        fail_msg("the subscriber never held 8 chunks");
    }
    assert_true(pool_in_use(p) >= 8);
    proc_kill9(&sub);
    end = ax_clock_mono_ns() + (int64_t)T(5000) * AX_NS_PER_MS;
    while (pool_in_use(p) > 0 && ax_clock_mono_ns() < end)
        usleep(5000);
    assert_int_equal(pool_in_use(p), 0); /* every chunk back */
    /* The publisher goes on: a new subscriber gets new messages. */
    start(&sub, "next", "--sub", "/shm/kill-sub", NULL);
    wait_subscribed(p, 1, 20000);
    for (int i = 0; i < 5; i++)
        AX_OK_OR_FAIL(publish_k(p, ++k, MIB));
    end = ax_clock_mono_ns() + (int64_t)T(20000) * AX_NS_PER_MS;
    long got = 0;
    while (got < 5 && ax_clock_mono_ns() < end) {
        assert_int_equal(write(sub.in_fd, "stats\n", 6), 6);
        if (proc_wait_line(&sub, "STATS", NULL, T(5000), line, sizeof line))
            got = field_l(line, "received");
        assert_int_equal(got > 0 ? field_l(line, "bad") : 0, 0);
    }
    assert_int_equal(got, 5);
    proc_stop(&sub, T(10000));
    ax_pub_free(p);
    ax_node_destroy(n);
    assert_shm_unchanged();
}

/* kill -9 of the publisher: the messages a subscriber retained stay
 * valid and unchanged until it releases them. */
static void t_publisher_killed(void **state)
{
    (void)state;
    ax_node *n = node_new(NULL);
    struct rx r = {.mu = PTHREAD_MUTEX_INITIALIZER, .want_keep = 8};
    ax_sub *s = sub_new(n, "/shm/kill-pub", AX_SHM_DEFAULT, &r);
    struct proc pub;
    /* The subscriber keeps all 8 (32 MiB): the publisher lets it. */
    char *big = write_config("kill-pub.yaml", "transport:\n  shm_quota_bytes: 64MiB\n");
    start(&pub, "source", "--config", big, "--pub", "/shm/kill-pub", "--size", "4194304", "--count",
          "8", "--rate", "50", NULL);
    if (!proc_wait_line(&pub, "SENT", NULL, T(30000), NULL, 0)) {
        dump(&pub);
        fail_msg("the publisher did not send");
    }
    wait_received(&r, 8, 20000);
    wait_link(s, AX_LINK_SHM, AX_SHM_USED, 1000);
    proc_kill9(&pub);
    pthread_mutex_lock(&r.mu);
    assert_int_equal(r.nkept, 8);
    for (unsigned i = 0; i < r.nkept; i++) {
        assert_true(check(r.kept[i]->data, r.kept[i]->len));
        uint64_t key;
        memcpy(&key, r.kept[i]->data, 8);
        assert_int_equal(key, i + 1);
    }
    for (unsigned i = 0; i < r.nkept; i++)
        ax_msg_release(r.kept[i]);
    r.nkept = 0;
    pthread_mutex_unlock(&r.mu);
    ax_sub_free(s);
    ax_node_destroy(n);
    assert_shm_unchanged();
}

/* The budget spent: a loan fails at once and is counted, never a wait. A
 * subscriber that never releases holds its quota and no more: the rest
 * waits in the publisher's queue to it, where its policy drops the oldest. */
static void t_budget_and_quota(void **state)
{
    (void)state;
    ax_node *n = node_new("transport:\n  shm_budget: 8MiB\n  shm_quota: 4\n  queue_frames: 2\n");
    ax_pub *p;
    AX_OK_OR_FAIL(ax_pub_new_raw(&p, n, "/shm/budget", "test.Blob", NULL));
    /* 1 MiB chunks, 4 to a 4 MiB segment, 2 segments: 8 loans at most. */
    struct ax_loan loans[9];
    for (int i = 0; i < 8; i++)
        AX_OK_OR_FAIL(ax_pub_loan(p, MIB, &loans[i]));
    assert_int_equal(ax_pub_loan(p, MIB, &loans[8]), AX_ENOBUFS);
    struct ax_pool_stats ps;
    AX_OK_OR_FAIL(ax_pub_pool_stats(p, &ps));
    assert_int_equal(ps.exhausted, 1);
    assert_int_equal(ps.in_use, 8);
    assert_int_equal(ps.mapped, 8 * MIB);
    for (int i = 0; i < 8; i++)
        ax_pub_loan_discard(&loans[i]);
    assert_int_equal(pool_in_use(p), 0);

    struct proc sub;
    start(&sub, "hoarder", "--sub", "/shm/budget", "--retain", "64", NULL);
    wait_subscribed(p, 1, 20000);
    /* The loop thread drops the oldest queued message (and frees its
     * chunk) after the application thread handed it over: publishing
     * faster than that finds the pool empty for a moment (AX_ENOBUFS, the
     * budget doing its job) or the hand-over queue full (AX_EAGAIN). Such
     * a publish is tried again, as the API asks of an application. */
    for (uint64_t k = 1; k <= 20; k++) {
        int64_t until = ax_clock_mono_ns() + (int64_t)T(5000) * AX_NS_PER_MS;
        int rc;
        while (((rc = publish_k(p, k, MIB)) == AX_ENOBUFS || rc == AX_EAGAIN) &&
               ax_clock_mono_ns() < until)
            usleep(1000);
        AX_OK_OR_FAIL(rc);
    }
    /* Two wait in the queue (its bound), because the subscriber holds 4. */
    struct ax_endpoint_counters c = {0};
    int64_t end = ax_clock_mono_ns() + (int64_t)T(20000) * AX_NS_PER_MS;
    while (ax_clock_mono_ns() < end) {
        AX_OK_OR_FAIL(ax_pub_counters(p, &c));
        if (c.queued_messages == 2 && c.drops[AX_DROP_QUEUE_OLDEST] == 14)
            break;
        usleep(10000);
    }
    assert_int_equal(c.queued_messages, 2);
    assert_int_equal(c.drops[AX_DROP_QUEUE_OLDEST], 14);
    /* The publisher's figures say 4 were sent, not that the subscriber's
     * process has read them yet: ask until it has (bounded). */
    char line[256];
    long got = 0;
    end = ax_clock_mono_ns() + (int64_t)T(10000) * AX_NS_PER_MS;
    while (got < 4 && ax_clock_mono_ns() < end) {
        assert_int_equal(write(sub.in_fd, "stats\n", 6), 6);
        if (proc_wait_line(&sub, "STATS", NULL, T(5000), line, sizeof line))
            got = field_l(line, "received");
    }
    assert_int_equal(got, 4);
    assert_int_equal(pool_in_use(p), 6);
    /* Released: the two queued follow; then the pool is empty again. */
    assert_int_equal(write(sub.in_fd, "release\n", 8), 8);
    end = ax_clock_mono_ns() + (int64_t)T(20000) * AX_NS_PER_MS;
    while (got < 6 && ax_clock_mono_ns() < end) {
        assert_int_equal(write(sub.in_fd, "stats\n", 6), 6);
        if (proc_wait_line(&sub, "STATS", NULL, T(5000), line, sizeof line))
            got = field_l(line, "received");
    }
    assert_int_equal(got, 6);
    assert_int_equal(field_l(line, "bad"), 0);
    proc_stop(&sub, T(10000));
    end = ax_clock_mono_ns() + (int64_t)T(5000) * AX_NS_PER_MS;
    while (pool_in_use(p) > 0 && ax_clock_mono_ns() < end)
        usleep(5000);
    assert_int_equal(pool_in_use(p), 0);
    ax_pub_free(p);
    ax_node_destroy(n);
    assert_shm_unchanged();
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <shm_node>\n", argv[0]);
        return 2;
    }
    node_path = argv[1];
    const char *emu = getenv("AXON_TEST_EMULATOR");
    emulated = emu && *emu;
    domain = axt_domain(AXT_DOMAINS_SHM_PROCS, 0);
    snprintf(dir, sizeof dir, "/tmp/axon_test_shm_%d", (int)getpid());
    mkdir(dir, 0700);
    nshm_before = shm_names(shm_before, 256);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_transport_choice),
        cmocka_unit_test(t_subscriber_killed),
        cmocka_unit_test(t_publisher_killed),
        cmocka_unit_test(t_budget_and_quota),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
