/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ax_loop_post, the loop's only thread-safe entry, and ax_loop_thread.
 * Run under TSan in CI.
 *
 * Every wait here has a deadline and ends in an assertion: a post that
 * fails or a task that never runs must fail the test at once, not leave
 * it waiting for CTest's timeout.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ax_test.h"

#define PRODUCERS    4
#define PER_PRODUCER 100000
#define TOTAL        (PRODUCERS * PER_PRODUCER)

struct fanin {
    ax_loop *loop;
    pthread_t loop_thread;
    unsigned char *seen; /* one slot per task; written on the loop thread only */
    int ran;
    int wrong_thread;
    int duplicates;
};

static struct fanin g;
static atomic_int post_errors;
static atomic_bool producers_quit; /* the loop stopped early: stop posting */
static atomic_int producers_done;

static void fanin_task(void *arg)
{
    size_t idx = (size_t)(uintptr_t)arg;
    if (!pthread_equal(pthread_self(), g.loop_thread))
        g.wrong_thread++;
    if (g.seen[idx]++)
        g.duplicates++;
    if (++g.ran == TOTAL)
        ax_loop_stop(g.loop);
}

static void *producer(void *arg)
{
    size_t base = (size_t)(uintptr_t)arg * PER_PRODUCER;
    for (size_t i = 0; i < PER_PRODUCER && !atomic_load(&producers_quit); i++) {
        int rc;
        while ((rc = ax_loop_post(g.loop, fanin_task, (void *)(uintptr_t)(base + i))) ==
                   AX_ENOMEM &&
               !atomic_load(&producers_quit)) {
        }
        if (rc != 0 && rc != AX_ENOMEM) /* cmocka's asserts are not for other threads */
            atomic_fetch_add(&post_errors, 1);
    }
    atomic_fetch_add(&producers_done, 1);
    return NULL;
}

/* Stops the loop as soon as a post has failed, when no task has run for
 * STALL_MS (one was lost), or at the deadline; why says which. Checked
 * every 10 ms on the loop's own thread, so it reads g.ran safely. */
#define STALL_MS    5000
#define DEADLINE_MS 120000 /* under CTest's 180 s, with room for TSan and qemu */
#define STR_(x)     #x
#define STR(x)      STR_(x)

struct watchdog {
    ax_timer timer;
    int64_t deadline, progress_at;
    int last_ran;
    const char *why;
};

static void watchdog_cb(ax_timer *t, void *user)
{
    struct watchdog *w = user;
    int64_t now = ax_clock_mono_ns();
    if (g.ran != w->last_ran) {
        w->last_ran = g.ran;
        w->progress_at = now;
    }
    if (atomic_load(&post_errors))
        w->why = "ax_loop_post failed";
    else if (now - w->progress_at > STALL_MS * AX_NS_PER_MS)
        w->why = "no task ran for " STR(STALL_MS) " ms (one was lost?)";
    else if (now > w->deadline)
        w->why = "the deadline (" STR(DEADLINE_MS) " ms) passed";
    if (w->why) {
        ax_timer_stop(t);
        ax_loop_stop(g.loop);
    }
}

static void test_four_threads_post_100k_each(void **state)
{
    (void)state;
    AX_OK_OR_FAIL(ax_loop_new(&g.loop, NULL));
    g.loop_thread = pthread_self();
    g.seen = calloc(TOTAL, 1);
    assert_non_null(g.seen);
    g.ran = g.wrong_thread = g.duplicates = 0;

    atomic_store(&post_errors, 0);
    atomic_store(&producers_quit, false);
    atomic_store(&producers_done, 0);
    struct watchdog w = {.deadline = ax_clock_mono_ns() + DEADLINE_MS * AX_NS_PER_MS};
    w.progress_at = ax_clock_mono_ns();
    AX_OK_OR_FAIL(ax_timer_init(g.loop, &w.timer, watchdog_cb, &w));
    AX_OK_OR_FAIL(ax_timer_start(&w.timer, 10 * AX_NS_PER_MS, 10 * AX_NS_PER_MS));

    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)i), 0);
    /* Stops when the last task ran, or by the watchdog. */
    int rc = ax_loop_run(g.loop);
    ax_timer_stop(&w.timer);
    atomic_store(&producers_quit, true);
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (atomic_load(&producers_done) < PRODUCERS) {
        if (ax_clock_mono_ns() > end)
            fail_msg("a producer is stuck in ax_loop_post");
        poll(NULL, 0, 1);
    }
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    AX_OK_OR_FAIL(rc);
    if (w.why)
        fail_msg("%s: %d of %d tasks ran, %d posts failed", w.why, g.ran, TOTAL,
                 atomic_load(&post_errors));

    assert_int_equal(atomic_load(&post_errors), 0);
    assert_int_equal(g.ran, TOTAL);
    assert_int_equal(g.wrong_thread, 0);
    assert_int_equal(g.duplicates, 0);
    for (size_t i = 0; i < TOTAL; i++)
        if (g.seen[i] != 1)
            fail_msg("task %zu ran %d times", i, g.seen[i]);
    free(g.seen);
    AX_ASSERT_LOOP_FREE(g.loop);
}

/* Tasks from one thread run in the order they were posted, including tasks
 * posted by tasks (those run in a later iteration). */
struct chain {
    ax_loop *loop;
    int next_expected;
    int errors;
    int reposted;
};

static struct chain ch;

static void chain_task(void *arg)
{
    int v = (int)(intptr_t)arg;
    if (v != ch.next_expected)
        ch.errors++;
    ch.next_expected = v + 1;
}

static void repost_task(void *arg)
{
    (void)arg;
    if (++ch.reposted < 1000)
        AX_OK_OR_FAIL(ax_loop_post(ch.loop, repost_task, NULL));
}

static void test_order_and_repost(void **state)
{
    (void)state;
    AX_OK_OR_FAIL(ax_loop_new(&ch.loop, NULL));
    ch.next_expected = ch.errors = ch.reposted = 0;
    for (int i = 0; i < 5000; i++)
        AX_OK_OR_FAIL(ax_loop_post(ch.loop, chain_task, (void *)(intptr_t)i));
    AX_OK_OR_FAIL(ax_loop_post(ch.loop, repost_task, NULL));
    AX_STEP_UNTIL(ch.loop, ch.reposted == 1000, 5000);
    assert_int_equal(ch.next_expected, 5000);
    assert_int_equal(ch.errors, 0);
    assert_int_equal(ax_loop_post(NULL, chain_task, NULL), AX_EINVAL);
    assert_int_equal(ax_loop_post(ch.loop, NULL, NULL), AX_EINVAL);
    AX_ASSERT_LOOP_FREE(ch.loop);
}

/* A loop on its own thread: tasks run there, stop joins cleanly, and the
 * loop can be freed afterwards by the caller. Timers run there too. */
struct threaded {
    atomic_int ran;
    atomic_int on_other_thread;
    pthread_t main_thread;
    ax_timer timer;
    atomic_int timer_fired;
    atomic_int timer_started; /* 0 not yet, 1 started, or the AX_E* error */
};

static struct threaded tt;

static void threaded_task(void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), tt.main_thread))
        atomic_fetch_add(&tt.on_other_thread, 1);
    atomic_fetch_add(&tt.ran, 1);
}

static void threaded_timer_cb(ax_timer *t, void *user)
{
    (void)user;
    atomic_fetch_add(&tt.timer_fired, 1);
    ax_timer_stop(t);
}

/* Runs on the loop's thread, where cmocka cannot assert: the result goes
 * to the test's thread through tt.timer_started. */
static void start_timer_task(void *arg)
{
    ax_loop *loop = arg;
    int rc = ax_timer_init(loop, &tt.timer, threaded_timer_cb, NULL);
    if (rc == 0)
        rc = ax_timer_start(&tt.timer, AX_NS_PER_MS, AX_NS_PER_MS);
    atomic_store(&tt.timer_started, rc == 0 ? 1 : rc);
}

/* ax_loop_thread_stop() joins the loop's thread; if that thread never
 * stops, fail after @ms instead of hanging. It runs on a helper thread
 * (the loop then belongs to the helper, and to us once it is joined). */
struct stopper {
    ax_loop_thread *th;
    int rc;
    atomic_bool done;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;
    s->rc = ax_loop_thread_stop(s->th);
    atomic_store(&s->done, true);
    return NULL;
}

static int stop_within(ax_loop_thread *th, int ms)
{
    static struct stopper s; /* outlives this frame if the helper hangs */
    s.th = th;
    s.rc = 0;
    atomic_store(&s.done, false);
    pthread_t helper;
    assert_int_equal(pthread_create(&helper, NULL, stopper_main, &s), 0);
    int64_t end = ax_clock_mono_ns() + (int64_t)ms * AX_NS_PER_MS;
    while (!atomic_load(&s.done)) {
        if (ax_clock_mono_ns() > end)
            fail_msg("ax_loop_thread_stop did not return within %d ms", ms);
        poll(NULL, 0, 1);
    }
    assert_int_equal(pthread_join(helper, NULL), 0);
    return s.rc;
}

static void test_loop_thread_start_stop(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    tt.main_thread = pthread_self();
    atomic_store(&tt.ran, 0);
    atomic_store(&tt.on_other_thread, 0);
    atomic_store(&tt.timer_fired, 0);
    atomic_store(&tt.timer_started, 0);
    ax_loop_thread *th;
    AX_OK_OR_FAIL(ax_loop_thread_start(&th, loop, "axon-test"));
    for (int i = 0; i < 1000; i++)
        AX_OK_OR_FAIL(ax_loop_post(loop, threaded_task, NULL));
    AX_OK_OR_FAIL(ax_loop_post(loop, start_timer_task, loop));
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (atomic_load(&tt.timer_fired) == 0) {
        int started = atomic_load(&tt.timer_started);
        if (started < 0)
            fail_msg("starting the timer on the loop thread: %s", ax_err_name(started));
        if (ax_clock_mono_ns() > end)
            fail_msg("timer on the loop thread never fired (%d of 1000 tasks ran, the timer "
                     "task %s)",
                     atomic_load(&tt.ran), started ? "ran" : "did not run");
        sched_yield();
    }
    AX_OK_OR_FAIL(stop_within(th, 5000));
    /* Everything posted before the stop ran, on the loop's thread. */
    assert_int_equal(atomic_load(&tt.ran), 1000);
    assert_int_equal(atomic_load(&tt.on_other_thread), 1000);
    assert_int_equal(atomic_load(&tt.timer_fired), 1);
    AX_ASSERT_LOOP_FREE(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_threads_post_100k_each),
        cmocka_unit_test(test_order_and_repost),
        cmocka_unit_test(test_loop_thread_start_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
