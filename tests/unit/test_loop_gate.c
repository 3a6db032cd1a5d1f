/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loop's gate: another thread acting as a loop's own while that loop
 * waits for events (ax_loop_try_enter / ax_loop_leave / ax_loop_serve), and
 * the loop's rounds (ax_loop_wait_round), on a loop run by its own thread,
 * with real fds.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ax_test.h"
#include "axon/loop.h"

struct fixture {
    ax_loop *loop;
    ax_loop_thread *thread;
    pthread_t loop_tid; /* recorded by a task on the loop */
    atomic_bool tid_known;
};

static void note_tid(void *arg)
{
    struct fixture *f = arg;
    f->loop_tid = pthread_self();
    atomic_store(&f->tid_known, true);
}

static void start_with(struct fixture *f, const struct ax_loop_options *opt)
{
    AX_OK_OR_FAIL(ax_loop_new(&f->loop, opt));
    atomic_store(&f->tid_known, false);
    AX_OK_OR_FAIL(ax_loop_thread_start(&f->thread, f->loop, "gate"));
    AX_OK_OR_FAIL(ax_loop_post(f->loop, note_tid, f));
    WAIT_FOR(atomic_load(&f->tid_known), 5000);
}

static void start(struct fixture *f)
{
    start_with(f, NULL);
}

static void stop(struct fixture *f)
{
    AX_OK_OR_FAIL(ax_loop_thread_stop(f->thread));
    AX_OK_OR_FAIL(ax_loop_free(f->loop));
}

/* Enter as soon as the loop waits (it may be between two steps). */
static void enter(ax_loop *loop)
{
    WAIT_FOR(ax_loop_try_enter(loop), 5000);
}

struct on_loop {
    ax_loop *other;
    atomic_int result; /* 0: not run; 1: refused; 2: entered (wrong) */
};

static void try_from_loop(void *arg)
{
    struct on_loop *o = arg;
    bool in = ax_loop_try_enter(o->other);
    if (in)
        ax_loop_leave(o->other);
    atomic_store(&o->result, in ? 2 : 1);
}

/* Only a loop run by ax_loop_run() on its thread, and only while it waits,
 * lets a guest in; never the thread of a loop (its own or another's). */
static void test_enter_only_while_waiting(void **state)
{
    (void)state;
    ax_loop *idle;
    AX_OK_OR_FAIL(ax_loop_new(&idle, NULL));
    assert_false(ax_loop_try_enter(idle)); /* not running: its creator's */
    AX_OK_OR_FAIL(ax_loop_step(idle, 0));
    assert_false(ax_loop_try_enter(idle)); /* stepped, not run */

    struct fixture f;
    start(&f);
    enter(f.loop);
    assert_ptr_equal(ax_loop_current(), f.loop);
    assert_false(ax_loop_try_enter(f.loop)); /* one guest at a time */
    ax_loop_leave(f.loop);
    assert_null(ax_loop_current());

    struct on_loop own = {.other = f.loop}, cross = {.other = idle};
    AX_OK_OR_FAIL(ax_loop_post(f.loop, try_from_loop, &own));
    AX_OK_OR_FAIL(ax_loop_post(f.loop, try_from_loop, &cross));
    WAIT_FOR(atomic_load(&own.result) && atomic_load(&cross.result), 5000);
    assert_int_equal(atomic_load(&own.result), 1);
    assert_int_equal(atomic_load(&cross.result), 1);
    AX_OK_OR_FAIL(ax_loop_thread_stop(f.thread));
    assert_false(ax_loop_try_enter(f.loop)); /* no longer run */
    AX_OK_OR_FAIL(ax_loop_free(f.loop));
    AX_OK_OR_FAIL(ax_loop_free(idle));
}

struct mark {
    atomic_bool left; /* the guest is about to leave */
    atomic_int ran;   /* 1: ran after the leave; 2: ran while the guest held the loop */
};

static void mark_task(void *arg)
{
    struct mark *m = arg;
    atomic_store(&m->ran, atomic_load(&m->left) ? 1 : 2);
}

/* Woken while a guest holds it, the loop's thread waits for the leave. */
static void test_loop_waits_for_its_guest(void **state)
{
    (void)state;
    struct fixture f;
    start(&f);
    for (int round = 0; round < 20; round++) {
        struct mark m = {0};
        enter(f.loop);
        AX_OK_OR_FAIL(ax_loop_post(f.loop, mark_task, &m)); /* wakes the loop */
        /* A window for a wrong loop to run the task: 5 ms held. The test
         * fails if the task ran meanwhile, whatever the timing. */
        int64_t until = ax_clock_mono_ns() + 5 * AX_NS_PER_MS;
        while (ax_clock_mono_ns() < until && !atomic_load(&m.ran)) {
        }
        assert_int_equal(atomic_load(&m.ran), 0);
        atomic_store(&m.left, true);
        ax_loop_leave(f.loop);
        WAIT_FOR(atomic_load(&m.ran), 5000);
        assert_int_equal(atomic_load(&m.ran), 1);
    }
    stop(&f);
}

struct guest_io {
    ax_io io;
    ax_timer timer;
    pthread_t io_tid, timer_tid, close_tid;
    atomic_int io_calls, timer_fired, closed;
};

static void guest_io_cb(ax_io *io, unsigned events, void *user)
{
    struct guest_io *g = user;
    (void)io;
    if (events & AX_IO_WRITABLE) {
        g->io_tid = pthread_self();
        atomic_fetch_add(&g->io_calls, 1);
    }
}

static void guest_timer_cb(ax_timer *t, void *user)
{
    struct guest_io *g = user;
    (void)t;
    g->timer_tid = pthread_self();
    atomic_store(&g->timer_fired, 1);
}

static void guest_close_cb(ax_io *io, void *user)
{
    struct guest_io *g = user;
    (void)io;
    g->close_tid = pthread_self();
    atomic_store(&g->closed, 1);
}

/* What a guest does takes effect although the loop sleeps: a handler it
 * parks is called in its leave, on its own thread; a timer it starts is
 * armed and fires on the loop's thread; a handler it closes gets its close
 * callback from the loop's thread, which the leave woke for it. */
static void test_guest_work_takes_effect(void **state)
{
    (void)state;
    struct fixture f;
    start(&f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    struct guest_io g = {0};

    enter(f.loop);
    AX_OK_OR_FAIL(ax_io_init(f.loop, &g.io, sv[0], AX_IO_READABLE, guest_io_cb, &g));
    AX_OK_OR_FAIL(ax_timer_init(f.loop, &g.timer, guest_timer_cb, &g));
    ax_io_park(&g.io, AX_IO_WRITABLE);
    AX_OK_OR_FAIL(ax_timer_start(&g.timer, AX_NS_PER_MS, 0));
    assert_int_equal(atomic_load(&g.io_calls), 0);
    ax_loop_leave(f.loop);
    assert_int_equal(atomic_load(&g.io_calls), 1); /* flushed by the leave */
    assert_true(pthread_equal(g.io_tid, pthread_self()));

    WAIT_FOR(atomic_load(&g.timer_fired), 5000);
    assert_true(pthread_equal(g.timer_tid, f.loop_tid));

    enter(f.loop);
    ax_io_close(&g.io, guest_close_cb);
    ax_loop_leave(f.loop);
    WAIT_FOR(atomic_load(&g.closed), 5000);
    assert_true(pthread_equal(g.close_tid, f.loop_tid));
    close(sv[1]);
    stop(&f);
}

/* A byte at a time: the writer sends byte k once told to (go == k), the
 * handler reads what came and says on which thread. */
struct served {
    ax_io io;
    int rfd, wfd;
    pthread_t main;
    atomic_int go, read, on_main;
    atomic_bool quit;
};

static void served_cb(ax_io *io, unsigned events, void *user)
{
    struct served *sv = user;
    (void)io;
    if (!(events & AX_IO_READABLE))
        return;
    char buf[64];
    ssize_t n;
    while ((n = read(sv->rfd, buf, sizeof buf)) > 0) {
        atomic_fetch_add(&sv->read, (int)n);
        if (pthread_equal(pthread_self(), sv->main))
            atomic_fetch_add(&sv->on_main, 1);
    }
}

static void *served_writer(void *arg)
{
    struct served *sv = arg;
    for (int k = 1; !atomic_load(&sv->quit);) {
        if (atomic_load(&sv->go) < k)
            continue; /* spins until told; the test ends it (quit) */
        char c = (char)k;
        if (write(sv->wfd, &c, 1) == 1)
            k++;
    }
    return NULL;
}

#define SERVED 200

/* A guest serving a round (ax_loop_serve()) with no time limit: it takes
 * the events that come while it waits and runs their handlers on its own
 * thread; and when the loop's thread took them instead (it polls, here
 * for up to 20 ms after each of its steps, or it was woken first), the
 * guest is woken to make way: every round returns, every byte is read once.
 * A guest that slept on would hang this test (its ctest time limit). */
static void serve_run(int64_t busy_poll_ns)
{
    struct ax_loop_options opt;
    ax_loop_options_init(&opt);
    opt.busy_poll_ns = busy_poll_ns;
    struct fixture f;
    start_with(&f, &opt);
    int sv_fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv_fds), 0);
    struct served sv = {.rfd = sv_fds[0], .wfd = sv_fds[1], .main = pthread_self()};
    enter(f.loop);
    AX_OK_OR_FAIL(ax_io_init(f.loop, &sv.io, sv.rfd, AX_IO_READABLE, served_cb, &sv));
    ax_loop_leave(f.loop);
    pthread_t w;
    assert_int_equal(pthread_create(&w, NULL, served_writer, &sv), 0);
    int served = 0;
    for (int k = 1; k <= SERVED; k++) {
        enter(f.loop);
        unsigned rounds = ax_loop_rounds(f.loop);
        atomic_store(&sv.go, k);
        int rc = ax_loop_serve(f.loop, -1);
        assert_true(rc == 0 || rc == 1);
        served += rc;
        ax_loop_leave(f.loop);
        assert_true(ax_loop_rounds(f.loop) != rounds); /* the leave counts */
        WAIT_FOR(atomic_load(&sv.read) == k, 5000);
    }
    atomic_store(&sv.quit, true);
    pthread_join(w, NULL);
    print_message("busy_poll %lld ns: %d of %d bytes read on the guest (%d waits ended by an event)\n",
                  (long long)busy_poll_ns, atomic_load(&sv.on_main), SERVED, served);
    if (busy_poll_ns == 0)
        assert_true(atomic_load(&sv.on_main) >= 1);
    assert_int_equal(ax_loop_serve(f.loop, 0), AX_EINVAL); /* not inside a try_enter */
    enter(f.loop);
    ax_io_close(&sv.io, NULL);
    ax_loop_leave(f.loop);
    close(sv.wfd);
    stop(&f);
    close(sv.rfd);
}

static void test_guest_serves_a_round(void **state)
{
    (void)state;
    serve_run(0);
}

static void test_serving_guest_makes_way_for_a_polling_loop(void **state)
{
    (void)state;
    serve_run(20 * AX_NS_PER_MS);
}

/* A thread that cannot enter waits for the round in progress to end. */
static void test_wait_for_a_round(void **state)
{
    (void)state;
    struct fixture f;
    start(&f);
    unsigned seen = ax_loop_rounds(f.loop);
    assert_int_equal(ax_loop_wait_round(f.loop, seen - 1, 1000), 0); /* already past */
    assert_int_equal(ax_loop_wait_round(f.loop, ax_loop_rounds(f.loop), 0), AX_ETIMEDOUT);
    for (int k = 0; k < 20; k++) {
        seen = ax_loop_rounds(f.loop);
        struct mark m = {0};
        AX_OK_OR_FAIL(ax_loop_post(f.loop, mark_task, &m)); /* a round of the loop's thread */
        int rc;
        while ((rc = ax_loop_wait_round(f.loop, seen, 5000)) == 0 &&
               ax_loop_rounds(f.loop) == seen) {
        } /* a spurious wake: look again */
        AX_OK_OR_FAIL(rc);
        assert_true(ax_loop_rounds(f.loop) != seen);
    }
    assert_int_equal(ax_loop_wait_round(NULL, 0, 0), AX_EINVAL);
    stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enter_only_while_waiting),
        cmocka_unit_test(test_loop_waits_for_its_guest),
        cmocka_unit_test(test_guest_work_takes_effect),
        cmocka_unit_test(test_guest_serves_a_round),
        cmocka_unit_test(test_serving_guest_makes_way_for_a_polling_loop),
        cmocka_unit_test(test_wait_for_a_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
