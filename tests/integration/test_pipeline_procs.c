/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lossless pipelines (core/pipeline.c) with three processes (pipe_probe):
 * a source publishing as fast as it can, a middle stage that forwards each
 * message from its subscription's callback through small write queues, and
 * a slow sink. With the middle's input lossless (overload block), its
 * output filling up pauses its input, the source is slowed down, and every
 * message reaches the sink in order: sent = forwarded = received, no drop,
 * no refused publish anywhere. With the middle's input dropping instead
 * (drop_oldest), the same run loses messages in the middle (its publishes
 * are refused for want of room): what the pause prevents.
 *
 * QoS per subscription on the same backpressured link: a node with a slow
 * latest-only viewer and a lossless recorder of one topic. The recorder
 * gets everything in order; the viewer gets the newest it can take, every
 * other message counted as its drop, and does not slow the stream to its
 * own pace.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ax_test.h"
#include "proc.h"

static char probe[512];
static char dom[16];
static bool emulated;

static int T(int ms)
{
    return emulated ? ms * 4 : ms; /* qemu is slower; deadlines only */
}

static struct proc *started[4];
static int nstarted;

static int kill_started(void **state)
{
    (void)state;
    for (int i = 0; i < nstarted; i++)
        proc_kill9(started[i]);
    nstarted = 0;
    return 0;
}

static void start(struct proc *p, const char *role, ...)
{
    char *argv[24];
    int n = 0;
    argv[n++] = probe;
    argv[n++] = "--domain";
    argv[n++] = dom;
    argv[n++] = "--role";
    argv[n++] = (char *)role;
    va_list ap;
    va_start(ap, role);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 23)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(proc_start(p, role, argv), 0);
    if (nstarted < 4)
        started[nstarted++] = p;
    assert_true(proc_wait_line(p, "READY", NULL, T(10000), NULL, 0));
}

static unsigned long long field(const char *line, const char *key)
{
    char v[32];
    if (!line_field(line, key, v, sizeof v))
        fail_msg("no %s in: %s", key, line);
    return strtoull(v, NULL, 10);
}

/* Ask @p for its report until the line starting with @prefix has @key
 * (plus @key2 when not NULL) at @want or more, or the deadline. */
static void ask_until(struct proc *p, const char *prefix, const char *key, const char *key2,
                      unsigned long long want, int ms, char *line, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long end = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
    for (;;) {
        assert_true(write(p->in_fd, "report\n", 7) == 7);
        assert_true(proc_wait_line(p, prefix, NULL, T(5000), line, size));
        if (field(line, key) + (key2 ? field(line, key2) : 0) >= want)
            return;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > end)
            return;
        struct timespec pace = {0, 50 * 1000 * 1000}; /* the asking's pace, not a wait */
        nanosleep(&pace, NULL);
    }
}

static void report_until(struct proc *p, const char *key, unsigned long long want, int ms,
                         char *line, size_t size)
{
    ask_until(p, "REPORT", key, NULL, want, ms, line, size);
}

enum { N = 3000 };

static void run(bool lossless, char *mid_line, char *sink_line, char *sent_line)
{
    static struct proc sink, mid, src; /* the teardown may kill them after we return */
    start(&sink, "sink", "--delay-us", "200", NULL);
    start(&mid, "middle", "--input-overload", lossless ? "block" : "drop_oldest", NULL);
    start(&src, "source", "--count", "3000", "--size", "4096", NULL);
    assert_true(proc_wait_line(&src, "SENT", NULL, T(120000), sent_line, 512));
    /* Everything forwarded has reached the sink, or will not. */
    report_until(&mid, "got", N, T(60000), mid_line, 512);
    /* "got" counts a message before its callback forwards it: until the
     * last one it got is forwarded (or refused), "forwarded" is short. */
    ask_until(&mid, "REPORT", "forwarded", "refused", field(mid_line, "got"), T(10000), mid_line,
              512);
    report_until(&sink, "got", field(mid_line, "forwarded"), T(60000), sink_line, 512);
    report_until(&mid, "got", N, 1, mid_line, 512); /* its final figures */
    proc_stop(&src, T(5000));
    proc_stop(&mid, T(5000));
    proc_stop(&sink, T(5000));
}

static void test_lossless_pipeline(void **state)
{
    (void)state;
    char mid[512], sink[512], sent[512];
    run(true, mid, sink, sent);
    if (field(mid, "refused") || field(mid, "got") != N || field(sink, "got") != N)
        fail_msg("lossless pipeline: source %s | middle %s | sink %s", sent, mid, sink);
    assert_int_equal(field(sent, "drops"), 0);
    assert_int_equal(field(mid, "forwarded"), N);
    assert_int_equal(field(mid, "drops"), 0);
    assert_int_equal(field(mid, "order_errors"), 0);
    assert_int_equal(field(sink, "order_errors"), 0);
}

static void test_dropping_input_loses(void **state)
{
    (void)state;
    char mid[512], sink[512], sent[512];
    run(false, mid, sink, sent);
    /* The middle's publishes were refused (its output full, and nothing
     * slowed its input down): what the lossless case never does. */
    if (field(mid, "refused") == 0)
        fail_msg("expected refused publishes: source %s | middle %s | sink %s", sent, mid, sink);
    assert_true(field(sink, "got") < N);
}

static void test_per_subscription_qos(void **state)
{
    (void)state;
    static struct proc pair, src;
    char rep[512], view[512], sent[512];
    /* 2 ms a message: the viewer alone would take 6 s for the stream */
    start(&pair, "pair", "--delay-us", "2000", NULL);
    start(&src, "source", "--count", "3000", "--size", "4096", NULL);
    assert_true(proc_wait_line(&src, "SENT", NULL, T(120000), sent, sizeof sent));
    report_until(&pair, "got", N, T(60000), rep, sizeof rep);
    ask_until(&pair, "VIEW", "view_got", "view_drops", N, T(60000), view, sizeof view);
    /* A VIEW line reads the counters, then view_got: the last callback may
     * fall between the two. Asked again, both are final. */
    ask_until(&pair, "VIEW", "view_got", "view_drops", N, 1, view, sizeof view);
    if (field(rep, "got") != N || field(view, "view_got") + field(view, "view_drops") != N)
        fail_msg("per-subscription QoS: source %s | recorder %s | viewer %s", sent, rep, view);
    assert_int_equal(field(sent, "drops"), 0);
    assert_int_equal(field(rep, "order_errors"), 0);
    assert_int_equal(field(view, "view_order_errors"), 0);
    assert_int_equal(field(view, "view_counted"), field(view, "view_got"));
    /* Latest only, and slower than the stream: it lost some, to its own
     * queue. Before, it had the recorder's lossless link: every message. */
    if (field(view, "view_drops") == 0)
        fail_msg("the viewer dropped nothing: %s", view);
    proc_stop(&src, T(5000));
    proc_stop(&pair, T(5000));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_pipeline_procs <pipe_probe>\n");
        return 2;
    }
    snprintf(probe, sizeof probe, "%s", argv[1]);
    snprintf(dom, sizeof dom, "%u", (unsigned)axt_domain(AXT_DOMAINS_PIPELINE_PROCS, 0));
    emulated = getenv("AXON_TEST_EMULATOR") && *getenv("AXON_TEST_EMULATOR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_lossless_pipeline, kill_started),
        cmocka_unit_test_teardown(test_dropping_input_loses, kill_started),
        cmocka_unit_test_teardown(test_per_subscription_qos, kill_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
