/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery between real processes (each a disc_probe) over host-local
 * multicast: zero-configuration discovery, kill -9 and lease expiry,
 * restart as a new incarnation, domains, and 10 nodes x 100 endpoints.
 * Namespaces, peers and loss: disc_netns.sh and disc_loss.sh.
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

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *slow_lease; /* under emulation, see main() */

static void start_probe(struct proc *p, const char *name, unsigned domain, int endpoints,
                        int expect_nodes, int expect_eps)
{
    char d[16], e[16], en[16], ee[16];
    snprintf(d, sizeof d, "%u", domain);
    snprintf(e, sizeof e, "%d", endpoints);
    snprintf(en, sizeof en, "%d", expect_nodes);
    snprintf(ee, sizeof ee, "%d", expect_eps);
    char *argv[] = {probe_path,
                    "--name",
                    (char *)name,
                    "--domain",
                    d,
                    "--endpoints",
                    e,
                    "--expect-nodes",
                    en,
                    "--expect-endpoints",
                    ee,
                    "--timeout-ms",
                    "90000",
                    NULL,
                    NULL,
                    NULL,
                    NULL,
                    NULL};
    if (slow_lease) {
        argv[13] = "--lease";
        argv[14] = (char *)slow_lease;
        argv[15] = "--heartbeat";
        argv[16] = "500ms";
    }
    assert_int_equal(proc_start(p, name, argv), 0);
    char line[512];
    if (!proc_wait_line(p, "READY", NULL, 20000, line, sizeof line))
        fail_msg("%s did not start", name);
}

/* Wait for @p's JOIN line with @needle (copied to @line) and its CONVERGED
 * line, in either order: the probe says CONVERGED from its main thread once
 * its table is complete, JOIN from the listener, which the node calls only
 * after it has updated the table. */
static bool wait_join_and_converged(struct proc *p, const char *needle, char *line, size_t size,
                                    int ms)
{
    bool join = false, converged = false;
    char l[512];
    long long end = now_ms() + ms;
    while (!join || !converged) {
        long long left = end - now_ms();
        if (left <= 0 || !proc_wait_line(p, "", NULL, (int)left, l, sizeof l))
            return false;
        if (!join && strncmp(l, "JOIN", 4) == 0 && strstr(l, needle)) {
            join = true;
            snprintf(line, size, "%s", l);
        }
        converged = converged || strncmp(l, "CONVERGED", 9) == 0;
    }
    return true;
}

static void test_two_processes_zero_config(void **state)
{
    (void)state;
    unsigned dom = domain_base;
    struct proc a, b;
    start_probe(&a, "proc-a", dom, 5, 1, 5);
    start_probe(&b, "proc-b", dom, 5, 1, 5);
    char line[512], ms[32];
    assert_true(proc_wait_line(&a, "CONVERGED", NULL, 20000, line, sizeof line));
    line_field(line, "ms", ms, sizeof ms);
    print_message("proc-a converged: %s\n", line);
    assert_true(proc_wait_line(&b, "CONVERGED", NULL, 20000, line, sizeof line));
    /* The JOIN each printed carries the other's TCP endpoint. */
    assert_int_equal(proc_stop(&a, 10000), 0);
    assert_int_equal(proc_stop(&b, 10000), 0);
}

static void test_kill9_lease_and_restart(void **state)
{
    (void)state;
    unsigned dom = domain_base + 1;
    struct proc a, b;
    start_probe(&a, "watcher", dom, 1, 1, 1);
    start_probe(&b, "victim", dom, 1, 1, 1);
    char line[512], inc1[32], inc2[32];
    assert_true(wait_join_and_converged(&a, "name=victim", line, sizeof line, 40000));
    assert_true(line_field(line, "incarnation", inc1, sizeof inc1));

    long long t0 = now_ms();
    proc_kill9(&b); /* no Bye: its process is watched, or else its lease */
    assert_true(proc_wait_line(&a, "LEAVE", "name=victim", 15000, line, sizeof line));
    long long detect = now_ms() - t0;
    char expired[8], exited[8];
    assert_true(line_field(line, "expired", expired, sizeof expired));
    assert_true(line_field(line, "exited", exited, sizeof exited));
    print_message("kill -9 detected after %lld ms (%s)\n", detect,
                  exited[0] == '1' ? "process exit seen" : "lease expired");
    if (exited[0] == '1') {
        /* Same host: the watcher holds a pidfd of the victim. Far inside
         * the 4 s lease, whatever the load. */
        assert_string_equal(expired, "0");
        assert_true(detect < 2000);
    } else {
        /* No pidfd_open (an old emulator): the default 4 s lease. */
        assert_true(getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR"));
        assert_string_equal(expired, "1");
        assert_true(detect >= 3500);
    }

    /* Restarted under the same name: a new incarnation, never the old one. */
    start_probe(&b, "victim", dom, 1, 1, 1);
    assert_true(proc_wait_line(&a, "JOIN", "name=victim", 20000, line, sizeof line));
    assert_true(line_field(line, "incarnation", inc2, sizeof inc2));
    assert_string_not_equal(inc1, inc2);
    assert_int_equal(proc_stop(&b, 10000), 0);
    /* A clean exit says Bye (read before the exit is seen): not an exit. */
    assert_true(proc_wait_line(&a, "LEAVE", "expired=0 exited=0", 10000, NULL, 0));
    assert_int_equal(proc_stop(&a, 10000), 0);
}

/* A node that is alive but silent (stopped), with which nobody exchanges
 * data: only its lease (4 s by default) can tell, and does. */
static void test_stopped_unmatched_node_expires_by_lease(void **state)
{
    (void)state;
    unsigned dom = domain_base + 5;
    struct proc a, b;
    start_probe(&a, "watcher", dom, 1, 1, 1);
    start_probe(&b, "sleeper", dom, 1, 1, 1);
    char line[512];
    assert_true(proc_wait_line(&a, "CONVERGED", NULL, 20000, NULL, 0));
    long long t0 = now_ms();
    assert_int_equal(kill(b.pid, SIGSTOP), 0);
    assert_true(proc_wait_line(&a, "LEAVE", "name=sleeper", 15000, line, sizeof line));
    long long detect = now_ms() - t0;
    print_message("stopped node dropped after %lld ms: %s\n", detect, line);
    assert_non_null(strstr(line, "expired=1 exited=0"));
    assert_true(detect >= 3000); /* the lease, 4 s, less a heartbeat's jitter */
    kill(b.pid, SIGCONT);
    /* Back: its next heartbeat is from a node we no longer know, so we ask
     * for its state and it joins again, same incarnation. */
    assert_true(proc_wait_line(&a, "JOIN", "name=sleeper", 15000, NULL, 0));
    assert_int_equal(proc_stop(&b, 10000), 0);
    assert_int_equal(proc_stop(&a, 10000), 0);
}

static void test_domains_never_meet(void **state)
{
    (void)state;
    unsigned dom = domain_base + 2;
    struct proc a, b, c;
    start_probe(&a, "dom-a", dom, 2, 1, 2);
    start_probe(&b, "dom-b", dom + 1, 2, 1, 2);
    start_probe(&c, "dom-c", dom, 2, 1, 2);
    assert_true(proc_wait_line(&a, "CONVERGED", NULL, 20000, NULL, 0));
    assert_true(proc_wait_line(&c, "CONVERGED", NULL, 20000, NULL, 0));
    /* b must never hear of a or c: it sees no JOIN at all. */
    assert_false(proc_wait_line(&b, "JOIN", NULL, 1500, NULL, 0));
    proc_stop(&a, 10000);
    proc_stop(&c, 10000);
    char line[512];
    close(b.in_fd);
    b.in_fd = -1;
    assert_true(proc_wait_line(&b, "STATS", NULL, 10000, line, sizeof line));
    print_message("dom-b: %s\n", line);
    proc_stop(&b, 10000);
}

static void test_ten_nodes_hundred_endpoints(void **state)
{
    (void)state;
    unsigned dom = domain_base + 4;
    struct proc p[10];
    /* Ten ASan processes under qemu-user share two cores: a starved process
     * misses 100 ms heartbeats, its 800 ms lease expires and the others
     * drop and re-learn it, over and over. Under emulation this test (only)
     * gives the nodes a 5 s lease; natively it runs with the defaults. */
    if (getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR")) {
        slow_lease = "5s";
        print_message("under emulation: lease 5 s, heartbeat 500 ms for this test\n");
    }
    char name[16];
    long long t0 = now_ms();
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "n%02d", i);
        start_probe(&p[i], name, dom, 100, 9, 900);
    }
    double worst = 0;
    for (int i = 0; i < 10; i++) {
        char line[512], ms[32];
        if (!proc_wait_line(&p[i], "CONVERGED", NULL, 60000, line, sizeof line))
            fail_msg("%s did not converge", p[i].name);
        line_field(line, "ms", ms, sizeof ms);
        if (atof(ms) > worst)
            worst = atof(ms);
    }
    print_message("10 x 100 endpoints: all converged, slowest %.0f ms after its start, %lld ms "
                  "after the first start\n",
                  worst, now_ms() - t0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(proc_stop(&p[i], 20000), 0);
    slow_lease = NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_disc_procs <path to disc_probe>\n");
        return 2;
    }
    snprintf(probe_path, sizeof probe_path, "%s", argv[1]);
    domain_base = axt_domain(AXT_DOMAINS_DISC_PROCS, 0); /* + 0..5: tests/ax_test.h */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_processes_zero_config),
        cmocka_unit_test(test_kill9_lease_and_restart),
        cmocka_unit_test(test_stopped_unmatched_node_expires_by_lease),
        cmocka_unit_test(test_domains_never_meet),
        cmocka_unit_test(test_ten_nodes_hundred_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
