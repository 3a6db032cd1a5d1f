/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Convergence and churn with 100 processes (issue 14): 100 default nodes
 * (tests/bench/bench_scale.c, 3 publishers at 1 Hz each) and an observer
 * (a disc_probe) in one domain on this host. The observer's table must
 * hold all 100 with their 300 publishers; then 10 are killed -9 and 10
 * stopped cleanly, and the observer must see exactly those 20 leave (the
 * killed ones as exits, the others by their Bye) and no other; then all 20
 * start again and must join again. At the end no node was ever dropped by
 * a lease. Bounded: every wait has a deadline, every process is stopped.
 *
 * Skipped under emulation (qemu-user): 100 emulated sanitizer processes on
 * two cores would take minutes to start, and the code is the same C code
 * run natively in the asan and tsan stages.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ax_test.h"
#include "proc.h"

#define NODES   100
#define KILLED  10 /* c001..c010: kill -9 */
#define STOPPED 10 /* c011..c020: SIGTERM (Bye) */

static char probe_path[512], scale_path[512], axon_path[512];
static unsigned domain;
static struct proc nodes[NODES], observer;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A clean stop: SIGTERM (the node says Bye), then its exit. */
static int stop_node(struct proc *p)
{
    kill(p->pid, SIGTERM);
    return proc_stop(p, 20000);
}

/* Whatever a failed assertion left running. */
static int kill_all(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++)
        if (nodes[i].pid > 0 && !nodes[i].exited)
            proc_kill9(&nodes[i]);
    if (observer.pid > 0 && !observer.exited)
        proc_kill9(&observer);
    return 0;
}

static void start_node(int i)
{
    char name[16], dom[16];
    snprintf(name, sizeof name, "c%03d", i + 1);
    snprintf(dom, sizeof dom, "%u", domain);
    char *argv[] = {scale_path, "--role", "node",         "--name", name,
                    "--domain", dom,      "--lifetime-s", "600",    NULL};
    assert_int_equal(proc_start(&nodes[i], name, argv), 0);
    if (!proc_wait_line(&nodes[i], "READY", NULL, 30000, NULL, 0))
        fail_msg("%s did not start", name);
}

/* The observer's CONVERGED line, once read. It says it from its main
 * thread once its table is complete; the last JOIN comes from the listener,
 * which the node calls after updating the table: it may come after. */
static char converged[512];

/* The observer's next line starting with @prefix, within @ms; a LEAVE
 * on the way fails the test unless @prefix is "LEAVE" (every line is
 * read, so no departure goes unseen). */
static void next_line(const char *prefix, int ms, char *line, size_t size)
{
    long long end = now_ms() + ms;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0 || !proc_wait_line(&observer, "", NULL, (int)left, line, size))
            fail_msg("no %s line from the observer in time", prefix);
        if (strstr(line, "name=axon-cli-"))
            continue; /* the CLI's own node, come and gone */
        if (strncmp(line, "CONVERGED", 9) == 0)
            snprintf(converged, sizeof converged, "%s", line);
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            return;
        if (strncmp(line, "LEAVE", 5) == 0)
            fail_msg("a node left unexpectedly: %s", line);
    }
}

/* Read JOIN or LEAVE lines until each of nodes [0, @n) has printed one;
 * any other node's line fails. For LEAVE lines, the first KILLED must be
 * exits (seen at once on this host) and the rest Byes, none a lease. */
static void expect_lines(const char *kind, int n)
{
    bool seen[NODES] = {false};
    int got = 0;
    char line[512], name[32];
    while (got < n) {
        next_line(kind, 120000, line, sizeof line);
        assert_true(line_field(line, "name", name, sizeof name));
        int i = atoi(name + 1) - 1;
        if (name[0] != 'c' || i < 0 || i >= n)
            fail_msg("unexpected: %s", line);
        if (seen[i])
            continue;
        seen[i] = true;
        got++;
        if (strcmp(kind, "LEAVE") == 0) {
            char exited[8], expired[8];
            assert_true(line_field(line, "exited", exited, sizeof exited));
            assert_true(line_field(line, "expired", expired, sizeof expired));
            assert_string_equal(expired, "0");
            assert_string_equal(exited, i < KILLED ? "1" : "0");
        }
    }
}

static void test_hundred_nodes_converge_and_churn(void **state)
{
    (void)state;
    char dom[16], expect[16], eps[16];
    snprintf(dom, sizeof dom, "%u", domain);
    snprintf(expect, sizeof expect, "%d", NODES);
    snprintf(eps, sizeof eps, "%d", NODES * 3);
    char *argv[] = {probe_path, "--name",         "observer", "--domain",
                    dom,        "--expect-nodes", expect,     "--expect-endpoints",
                    eps,        "--timeout-ms",   "600000",   NULL};
    assert_int_equal(proc_start(&observer, "observer", argv), 0);
    assert_true(proc_wait_line(&observer, "READY", NULL, 30000, NULL, 0));

    long long t0 = now_ms();
    for (int i = 0; i < NODES; i++)
        start_node(i);
    long long started = now_ms();
    char line[512];
    expect_lines("JOIN", NODES);
    if (!converged[0])
        next_line("CONVERGED", 180000, line, sizeof line);
    print_message("%d processes started in %lld ms; the observer held them all, complete, "
                  "%lld ms after the last start: %s\n",
                  NODES, started - t0, now_ms() - started, converged);

    /* A fresh `axon node list` sees every node on its first poll. */
    struct proc cli;
    char *cargv[] = {axon_path, "node", "list", "--domain", dom, NULL};
    assert_int_equal(proc_start(&cli, "axon", cargv), 0);
    bool listed[NODES] = {false};
    int nlisted = 0;
    while (proc_wait_line(&cli, "", NULL, 30000, line, sizeof line)) {
        /* A row starts with the node's name, c001..c100. */
        int i = line[0] == 'c' && line[1] >= '0' && line[1] <= '9' ? atoi(line + 1) - 1 : -1;
        if (i >= 0 && i < NODES && !listed[i]) {
            listed[i] = true;
            nlisted++;
        }
    }
    assert_int_equal(proc_stop(&cli, 10000), 0);
    print_message("axon node list: %d of %d nodes on its first poll\n", nlisted, NODES);
    assert_int_equal(nlisted, NODES);

    /* Churn: 10 killed, 10 stopped in order. */
    for (int i = 0; i < KILLED; i++)
        proc_kill9(&nodes[i]);
    for (int i = KILLED; i < KILLED + STOPPED; i++)
        assert_int_equal(stop_node(&nodes[i]), 0);
    expect_lines("LEAVE", KILLED + STOPPED);
    print_message("%d killed and %d stopped: exactly those left, the killed as exits\n", KILLED,
                  STOPPED);

    /* Back: all 20 join again. */
    for (int i = 0; i < KILLED + STOPPED; i++)
        start_node(i);
    expect_lines("JOIN", KILLED + STOPPED);

    /* Nobody else ever left, and no lease expired. */
    assert_int_equal(write(observer.in_fd, "stats\n", 6), 6);
    next_line("STATS", 10000, line, sizeof line);
    print_message("observer: %s\n", line);
    char v[32];
    assert_true(line_field(line, "leases_expired", v, sizeof v));
    assert_string_equal(v, "0");

    for (int i = 0; i < NODES; i++)
        assert_int_equal(stop_node(&nodes[i]), 0);
    assert_int_equal(proc_stop(&observer, 20000), 0);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_churn_procs <disc_probe> <bench_scale> <axon>\n");
        return 2;
    }
    if (getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR")) {
        printf("skipped under emulation: 100 emulated processes on two cores; the same code "
               "runs natively in the asan and tsan stages\n");
        return 77;
    }
    snprintf(probe_path, sizeof probe_path, "%s", argv[1]);
    snprintf(scale_path, sizeof scale_path, "%s", argv[2]);
    snprintf(axon_path, sizeof axon_path, "%s", argv[3]);
    domain = axt_domain(AXT_DOMAINS_CHURN_PROCS, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_hundred_nodes_converge_and_churn, kill_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
