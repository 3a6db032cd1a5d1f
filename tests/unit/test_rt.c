/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real-time loop threads (node.sched_policy, node.sched_priority,
 * node.cpus, node.mlockall; ax_thread_set_rt()): the loop thread a node
 * starts runs with the policy, priority and CPUs asked for, read back from
 * inside that thread; a process that may not have them gets no node and
 * a reason naming the capability (a child process that gave up root);
 * bad values are configuration errors with their line.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/axon.h"
#include "core/ax__node.h"

static ax_node *rt_node(enum ax_sched_policy policy, int priority, const char *cpus, bool lock)
{
    struct ax_config c;
    ax_config_init(&c);
    c.threads = 1;
    c.discovery.mode = AX_DISCOVERY_OFF;
    c.transport.shm = AX_SHM_OFF;
    c.log_level = AX_LOG_ERROR;
    c.sched_policy = policy;
    c.sched_priority = (uint32_t)priority;
    snprintf(c.cpus, sizeof c.cpus, "%s", cpus);
    c.mlockall = lock;
    ax_node *n = NULL;
    int rc = ax_node_new(&n, &c);
    ax_config_fini(&c);
    return rc == 0 ? n : NULL;
}

struct seen {
    atomic_int done;
    int policy, priority, ncpus;
    bool cpu0;
};

static void look(void *arg)
{
    struct seen *s = arg;
    struct sched_param sp;
    cpu_set_t set;
    s->policy = sched_getscheduler(0);
    sched_getparam(0, &sp);
    s->priority = sp.sched_priority;
    sched_getaffinity(0, sizeof set, &set);
    s->ncpus = CPU_COUNT(&set);
    s->cpu0 = CPU_ISSET(0, &set);
    atomic_store(&s->done, 1);
}

/* What the node's loop thread says of itself. */
static struct seen ask_loop(ax_node *n)
{
    struct seen s = {0};
    AX_OK_OR_FAIL(ax_loop_post(n->loops[0], look, &s));
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (!atomic_load(&s.done) && ax_clock_mono_ns() < end)
        poll(NULL, 0, 2);
    assert_true(atomic_load(&s.done));
    return s;
}

static void test_loop_thread_gets_policy_priority_and_cpus(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* real-time policies need root here (CI runs as root) */
    ax_node *n = rt_node(AX_SCHED_FIFO, 12, "0", false);
    assert_non_null(n);
    struct seen s = ask_loop(n);
    assert_int_equal(s.policy, SCHED_FIFO);
    assert_int_equal(s.priority, 12);
    assert_int_equal(s.ncpus, 1);
    assert_true(s.cpu0);
    ax_node_destroy(n);

    n = rt_node(AX_SCHED_RR, 3, "", true); /* and mlockall, as root */
    assert_non_null(n);
    s = ask_loop(n);
    assert_int_equal(s.policy, SCHED_RR);
    assert_int_equal(s.priority, 3);
    ax_node_destroy(n);
    munlockall();

    n = rt_node(AX_SCHED_OTHER, 10, "", false); /* the default: untouched */
    assert_non_null(n);
    s = ask_loop(n);
    assert_int_equal(s.policy, SCHED_OTHER);
    ax_node_destroy(n);
}

static void test_calling_thread_set_and_refused(void **state)
{
    (void)state;
    char why[300] = "";
    struct ax_thread_rt bad = {AX_SCHED_FIFO, 0, NULL};
    assert_int_equal(ax_thread_set_rt(&bad, why, sizeof why), AX_EINVAL);
    assert_non_null(strstr(why, "1 to 99"));
    struct ax_thread_rt nocpu = {AX_SCHED_OTHER, 0, "4000"};
    assert_int_equal(ax_thread_set_rt(&nocpu, why, sizeof why), AX_EINVAL);
    struct ax_thread_rt garbage = {AX_SCHED_OTHER, 0, "1-x"};
    assert_int_equal(ax_thread_set_rt(&garbage, why, sizeof why), AX_EINVAL);
    assert_non_null(strstr(why, "CPU range"));
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER); /* nothing changed */
}

/* A child that is no longer root (no CAP_SYS_NICE, RLIMIT_RTPRIO 0) asks
 * for FIFO: no node, AX_EACCES, a reason naming the capability. */
static void test_without_permission_the_node_refuses_to_start(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit zero = {0, 0};
        if (setrlimit(RLIMIT_RTPRIO, &zero) < 0 || setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
            setuid(65534) < 0)
            _exit(10);
        char why[300] = "";
        struct ax_thread_rt rt = {AX_SCHED_FIFO, 10, NULL};
        if (ax_thread_set_rt(&rt, why, sizeof why) != AX_EACCES || !strstr(why, "CAP_SYS_NICE"))
            _exit(11);
        if (sched_getscheduler(0) != SCHED_OTHER)
            _exit(12);
        ax_node *n = rt_node(AX_SCHED_FIFO, 10, "", false);
        if (n)
            _exit(13);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bad_values_are_config_errors(void **state)
{
    (void)state;
    struct ax_config c;
    struct ax_config_error err;
    ax_config_init(&c);
    assert_int_equal(ax_config_load_string(&c, "node:\n  cpus: 0-x\n", "rt.yaml", &err),
                     AX_ECONFIG);
    assert_int_equal(err.line, 2);
    assert_string_equal(err.key, "node.cpus");
    assert_int_equal(ax_config_load_string(&c, "node:\n  sched_priority: 0\n", "rt.yaml", &err),
                     AX_ECONFIG);
    assert_string_equal(err.key, "node.sched_priority");
    assert_int_equal(
        ax_config_load_string(&c, "node:\n  sched_policy: deadline\n", "rt.yaml", &err),
        AX_ECONFIG);
    AX_OK_OR_FAIL(ax_config_load_string(
        &c, "node:\n  sched_policy: fifo\n  sched_priority: 40\n  cpus: 0,1\n  mlockall: true\n",
        "rt.yaml", &err));
    assert_int_equal(c.sched_policy, AX_SCHED_FIFO);
    assert_int_equal(c.sched_priority, 40);
    assert_string_equal(c.cpus, "0,1");
    assert_true(c.mlockall);
    ax_config_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_thread_gets_policy_priority_and_cpus),
        cmocka_unit_test(test_calling_thread_set_and_refused),
        cmocka_unit_test(test_without_permission_the_node_refuses_to_start),
        cmocka_unit_test(test_bad_values_are_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
