/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host table (core/disc_host.c) between real processes, each a
 * disc_probe in the default local mode: nodes of one host beat in shared
 * memory and send no heartbeats; the table outlives its owner (killed -9)
 * and serves newcomers; a node outside it (host_table: false) makes the
 * others send heartbeats again, and they stop once it has gone; nothing is
 * left behind when the last node exits. Every "nobody left" check waits
 * longer than a lease for an event that must not come.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ax_test.h"
#include "proc.h"

static char probe_path[512];
static unsigned domain_base;
static const char *lease = "4s"; /* the default; longer under emulation (main) */
static int quiet_ms = 5000;      /* a lease and a beat: long enough to see an expiry */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A probe with no endpoints that expects @others other nodes. */
static void start(struct proc *p, const char *name, unsigned domain, int others, bool in_table)
{
    char d[16], n[16];
    snprintf(d, sizeof d, "%u", domain);
    snprintf(n, sizeof n, "%d", others);
    char *argv[] = {probe_path,
                    "--name",
                    (char *)name,
                    "--domain",
                    d,
                    "--expect-nodes",
                    n,
                    "--lease",
                    (char *)lease,
                    "--host-table",
                    in_table ? "true" : "false",
                    "--timeout-ms",
                    "120000",
                    NULL};
    assert_int_equal(proc_start(p, name, argv), 0);
    if (!proc_wait_line(p, "READY", NULL, 20000, NULL, 0))
        fail_msg("%s did not start", name);
}

struct stats {
    unsigned long long tx, skipped, host_nodes, leases_expired;
};

static unsigned long long field(const char *line, const char *key)
{
    char v[32];
    if (!line_field(line, key, v, sizeof v))
        fail_msg("no %s= in %s", key, line);
    return strtoull(v, NULL, 10);
}

static struct stats stats(struct proc *p)
{
    char line[512];
    assert_int_equal(write(p->in_fd, "stats\n", 6), 6);
    if (!proc_wait_line(p, "STATS", NULL, 10000, line, sizeof line))
        fail_msg("%s: no STATS", p->name);
    return (struct stats){field(line, "tx"), field(line, "hb_skipped"), field(line, "host_nodes"),
                          field(line, "leases_expired")};
}

/* Poll @p's stats until its table holds @n nodes (itself included). */
static void wait_table(struct proc *p, unsigned long long n)
{
    long long end = now_ms() + 30000;
    while (stats(p).host_nodes != n)
        if (now_ms() > end)
            fail_msg("%s: its host table never held %llu nodes", p->name, n);
}

/* No node left anyone's table for longer than a lease. */
static void assert_nobody_leaves(struct proc *ps, int n)
{
    long long end = now_ms() + quiet_ms;
    for (int i = 0; i < n; i++) {
        long long left = end - now_ms();
        char line[256];
        if (proc_wait_line(&ps[i], "LEAVE", NULL, left > 0 ? (int)left : 0, line, sizeof line))
            fail_msg("%s: %s", ps[i].name, line);
    }
}

/* Whether an abstract socket name of @domain's host table exists (in this
 * network namespace). */
static bool table_name_exists(unsigned domain)
{
    char want[64], line[512];
    snprintf(want, sizeof want, "@axon/%u/host/", domain);
    FILE *f = fopen("/proc/net/unix", "re");
    assert_non_null(f);
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, want) != NULL;
    fclose(f);
    return found;
}

static void test_table_replaces_heartbeats(void **state)
{
    (void)state;
    unsigned dom = domain_base;
    struct proc p[4];
    char name[16];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "h%d", i);
        start(&p[i], name, dom, 3, true);
    }
    for (int i = 0; i < 4; i++)
        assert_true(proc_wait_line(&p[i], "CONVERGED", NULL, 20000, NULL, 0));
    for (int i = 0; i < 4; i++)
        wait_table(&p[i], 4);
    assert_true(table_name_exists(dom));
    struct stats before[4];
    for (int i = 0; i < 4; i++)
        before[i] = stats(&p[i]);
    assert_nobody_leaves(p, 4);
    for (int i = 0; i < 4; i++) {
        struct stats after = stats(&p[i]);
        print_message("%s: %llu heartbeats skipped, %llu datagrams sent over the window\n",
                      p[i].name, after.skipped - before[i].skipped, after.tx - before[i].tx);
        /* Beats went on, through the table only. */
        assert_true(after.skipped - before[i].skipped >= 2);
        assert_true(after.tx - before[i].tx < after.skipped - before[i].skipped);
        assert_int_equal(after.leases_expired, 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(proc_stop(&p[i], 10000), 0);
    /* The last node gone, the kernel freed the table and its name. */
    assert_false(table_name_exists(dom));
}

static void test_owner_killed(void **state)
{
    (void)state;
    unsigned dom = domain_base + 1;
    struct proc p[4];
    start(&p[0], "owner", dom, 2, true); /* the first: it makes the table */
    start(&p[1], "b", dom, 2, true);
    start(&p[2], "c", dom, 2, true);
    for (int i = 0; i < 3; i++)
        wait_table(&p[i], 3);
    proc_kill9(&p[0]); /* no Bye, no release of anything */
    assert_true(proc_wait_line(&p[1], "LEAVE", "name=owner", 15000, NULL, 0));
    assert_true(proc_wait_line(&p[2], "LEAVE", "name=owner", 15000, NULL, 0));
    /* A newcomer joins the same table (taken over, or its own that the
     * others move to): everyone's table holds the three of them. */
    start(&p[3], "d", dom, 2, true);
    assert_true(proc_wait_line(&p[3], "CONVERGED", NULL, 20000, NULL, 0));
    for (int i = 1; i < 4; i++)
        wait_table(&p[i], 3);
    assert_nobody_leaves(&p[1], 3);
    for (int i = 1; i < 4; i++)
        assert_int_equal(proc_stop(&p[i], 10000), 0);
    assert_false(table_name_exists(dom));
}

static void test_outsider_gets_heartbeats(void **state)
{
    (void)state;
    unsigned dom = domain_base + 2;
    struct proc p[3];
    start(&p[0], "in-a", dom, 2, true);
    start(&p[1], "in-b", dom, 2, true);
    start(&p[2], "outsider", dom, 2, false);
    for (int i = 0; i < 3; i++)
        assert_true(proc_wait_line(&p[i], "CONVERGED", NULL, 20000, NULL, 0));
    assert_int_equal(stats(&p[2]).host_nodes, 0);
    /* The outsider hears the others only by heartbeats: it keeps them for
     * longer than a lease, so they sent them. */
    assert_nobody_leaves(p, 3);
    struct stats s = stats(&p[2]);
    assert_int_equal(s.leases_expired, 0);
    assert_int_equal(proc_stop(&p[2], 10000), 0);
    /* Gone: after a lease, the table's nodes are quiet again. */
    struct stats a0 = stats(&p[0]);
    long long end = now_ms() + quiet_ms + 5000;
    while (stats(&p[0]).skipped == a0.skipped)
        if (now_ms() > end)
            fail_msg("in-a kept sending heartbeats after the outsider left");
    for (int i = 0; i < 2; i++)
        assert_int_equal(proc_stop(&p[i], 10000), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_host_procs <path to disc_probe>\n");
        return 2;
    }
    snprintf(probe_path, sizeof probe_path, "%s", argv[1]);
    domain_base = axt_domain(AXT_DOMAINS_HOST_PROCS, 0); /* + 0..2: tests/ax_test.h */
    if (getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR")) {
        /* Emulated ASan processes on two cores are starved for seconds. */
        lease = "10s";
        quiet_ms = 11000;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_replaces_heartbeats),
        cmocka_unit_test(test_owner_killed),
        cmocka_unit_test(test_outsider_gets_heartbeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
