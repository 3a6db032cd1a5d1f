/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reactor: one epoll instance (edge-triggered), one timerfd for all
 * timers, one eventfd for posted tasks. The phases and the edge-triggered
 * contract are documented in include/axon/loop.h; this file says why the
 * code looks the way it does.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "axon/clock.h"
#include "base/ax__array.h"
#include "transport/ax__loop.h"

#define AX__DEFAULT_MAX_EVENTS 256u
#define AX__DEFAULT_IO_BUDGET  16u

void ax_loop_options_init(struct ax_loop_options *opt)
{
    opt->max_events = AX__DEFAULT_MAX_EVENTS;
    opt->io_budget = AX__DEFAULT_IO_BUDGET;
    opt->busy_poll_ns = 0;
    opt->adaptive_poll_ns = AX_LOOP_ADAPTIVE_POLL_DEFAULT_NS;
}

static uint32_t epoll_mask(unsigned events)
{
    /* RDHUP is always asked for: it is how a half-close shows up under ET. */
    uint32_t m = EPOLLET | EPOLLRDHUP;
    if (events & AX_IO_READABLE)
        m |= EPOLLIN;
    if (events & AX_IO_WRITABLE)
        m |= EPOLLOUT;
    return m;
}

static unsigned ax_events(uint32_t ev)
{
    unsigned r = 0;
    if (ev & (EPOLLIN | EPOLLPRI))
        r |= AX_IO_READABLE;
    if (ev & EPOLLOUT)
        r |= AX_IO_WRITABLE;
    if (ev & (EPOLLRDHUP | EPOLLHUP))
        r |= AX_IO_HANGUP;
    if (ev & EPOLLERR)
        r |= AX_IO_ERROR;
    return r;
}

static int register_internal(ax_loop *loop, ax_io *io, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return ax_err_from_errno(errno);
    memset(io, 0, sizeof *io);
    io->loop = loop; /* set only once registered: the failure path relies on it */
    io->fd = fd;
    io->flags = AX__IO_INTERNAL;
    io->interest = AX_IO_READABLE;
    ax__list_init(&io->node);
    return 0;
}

int ax_loop_new(ax_loop **out, const struct ax_loop_options *opt)
{
    struct ax_loop_options defaults;
    if (!out)
        return AX_EINVAL;
    if (!opt) {
        ax_loop_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->max_events == 0 || opt->busy_poll_ns < 0 || opt->adaptive_poll_ns < 0 ||
        opt->adaptive_poll_ns > AX_NS_PER_S)
        return AX_EINVAL;

    ax_loop *loop = calloc(1, sizeof *loop);
    if (!loop)
        return AX_ENOMEM;
    loop->epfd = loop->timer_io.fd = loop->wake_io.fd = -1;
    loop->max_events = opt->max_events;
    loop->io_budget = opt->io_budget ? opt->io_budget : 1;
    loop->busy_poll_ns = opt->busy_poll_ns;
    loop->adaptive_poll_ns = opt->adaptive_poll_ns;
    /* Not polling until a few answers came quickly (see loop_wait()). */
    loop->answer_avg_ns = 4 * opt->adaptive_poll_ns;
    loop->armed = INT64_MAX;
    ax__list_init(&loop->ready);
    ax__list_init(&loop->closing);
    ax__list_init(&loop->bells);
    pthread_mutex_init(&loop->post_lock, NULL);

    int rc = AX_ENOMEM;
    /* The event array is allocated once, here, never per iteration. */
    loop->events = calloc(loop->max_events, sizeof *loop->events);
    if (!loop->events)
        goto fail;

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail_errno;
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        goto fail_errno;
    if ((rc = register_internal(loop, &loop->timer_io, tfd)) < 0) {
        close(tfd);
        goto fail;
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0)
        goto fail_errno;
    if ((rc = register_internal(loop, &loop->wake_io, efd)) < 0) {
        close(efd);
        goto fail;
    }
    loop->now = ax_clock_mono_ns();
    *out = loop;
    return 0;

fail_errno:
    rc = ax_err_from_errno(errno);
fail:
    if (loop->timer_io.loop)
        close(loop->timer_io.fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop->events);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
    return rc;
}

static void run_posted(ax_loop *loop)
{
    pthread_mutex_lock(&loop->post_lock);
    struct ax__task *tasks = loop->post_q;
    size_t n = loop->post_len;
    /* Swap the arrays: producers go on appending to the other one while the
     * tasks run without the lock. Clearing wake_pending here (not when the
     * eventfd is read) means a post that lands after the swap always writes
     * the eventfd again, so no wake-up is lost. */
    loop->post_q = loop->run_q;
    loop->post_cap ^= loop->run_cap;
    loop->run_cap ^= loop->post_cap;
    loop->post_cap ^= loop->run_cap;
    loop->run_q = tasks;
    loop->post_len = 0;
    loop->wake_pending = false;
    pthread_mutex_unlock(&loop->post_lock);

    for (size_t i = 0; i < n; i++) {
        loop->callbacks++;
        tasks[i].fn(tasks[i].arg);
    }
}

static void run_closes(ax_loop *loop)
{
    ax__qnode *n;
    while ((n = ax__list_pop_front(&loop->closing)) != NULL) {
        ax_io *io = ax__container_of(n, ax_io, node);
        loop->nio--;
        loop->callbacks++;
        /* After this call the owner may have freed io: do not touch it. */
        if (io->close_cb)
            io->close_cb(io, io->user);
    }
}

static void drain_fd(int fd)
{
    uint64_t v;
    /* timerfd and eventfd reads are 8 bytes; EAGAIN just means nothing to
     * reset. The value itself is not needed: the heap and the task queue are
     * the truth, the fds only wake epoll. */
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR) {
    }
}

static void dispatch_io(ax_loop *loop, const struct epoll_event *events, int n)
{
    for (int i = 0; i < n; i++) {
        ax_io *io = events[i].data.ptr;
        uint32_t ev = events[i].events;
        if (io->flags & AX__IO_INTERNAL) {
            drain_fd(io->fd);
            continue;
        }
        /* Closed earlier in this iteration (maybe by another handler of the
         * same batch): its memory is still valid until the closes phase, but
         * its events are stale. If the fd number was reused already, the new
         * handler has its own epoll_data.ptr, so nothing is confused. */
        if (io->flags & AX__IO_CLOSING)
            continue;
        unsigned bits = ax_events(ev) & (io->interest | AX_IO_HANGUP | AX_IO_ERROR);
        if (io->flags & AX__IO_PARKED) {
            /* Called now anyway: fold the parked events into this call. */
            bits |= io->parked;
            io->parked = 0;
            io->flags &= ~AX__IO_PARKED;
            ax__list_remove(&io->node);
        }
        if (!bits)
            continue;
        loop->callbacks++;
        io->cb(io, bits, io->user);
    }
}

static int loop_step(ax_loop *loop, int timeout_ms);

/* ---- the gate ----
 *
 * A loop run by its own thread spends much of its life asleep in
 * epoll_wait, and another thread that wants something done on it (a
 * publish from the application) would have to post a task and wake it: two
 * thread switches before a byte moves, and another two on the far side of
 * a round trip. The gate lets that thread do the work itself instead while
 * the loop sleeps. Its states:
 *
 *   GATE_LOOP     the loop's thread acts (the only state outside ax_loop_run)
 *   GATE_OPEN     the loop waits for events with nothing pending
 *   GATE_GUEST    another thread acts (ax_loop_try_enter)
 *   GATE_WAITING  the same, and the loop's thread, woken, waits for it
 *
 * Opening is a release store and entering an acquire CAS (both ways), so
 * whatever one side wrote to the loop is visible to the other once it
 * holds the gate. A woken loop that finds a guest sleeps on the gate's
 * futex; the guest's leave hands the gate straight to it (GATE_LOOP, not
 * GATE_OPEN), so that another guest cannot come in first, again and again,
 * while the loop has work. Entering never waits: it fails at once
 * when the gate is not open, and also when tasks are posted (the loop is
 * about to run them, and they may come before, in the poster's order,
 * what the guest would do: a subscription's attach before a publish). A
 * guest serving a round (ax_loop_serve()) does wait, in epoll_wait on the
 * loop's epoll fd; a loop woken meanwhile writes its eventfd to end that
 * wait (gate_close()). */
enum { GATE_LOOP, GATE_OPEN, GATE_GUEST, GATE_WAITING };

static __thread ax_loop *tl_current;

static void gate_open(ax_loop *loop)
{
    if (loop->running)
        atomic_store_explicit(&loop->gate, GATE_OPEN, memory_order_release);
}

static void gate_close(ax_loop *loop)
{
    if (!loop->running)
        return;
    int saved = errno; /* epoll_wait's, for the caller */
    for (;;) {
        int v = GATE_OPEN;
        if (atomic_compare_exchange_strong_explicit(&loop->gate, &v, GATE_LOOP,
                                                    memory_order_acquire, memory_order_relaxed))
            break;
        if (v == GATE_LOOP) { /* handed over by a leaving guest */
            (void)atomic_load_explicit(&loop->gate, memory_order_acquire);
            break;
        }
        if (v == GATE_GUEST) {
            if (!atomic_compare_exchange_strong(&loop->gate, &v, GATE_WAITING))
                continue; /* it left meanwhile */
            /* A guest serving a round (ax_loop_serve()) may sleep in
             * epoll_wait for long, while this thread took the events it
             * waits for: wake it. It looks at the gate after it says it
             * serves, so one of the two sees the other (both seq_cst). */
            if (atomic_load(&loop->guest_serving)) {
                uint64_t one = 1;
                ssize_t w = write(loop->wake_io.fd, &one, sizeof one);
                (void)w; /* a full counter is a pending wake already */
            }
        }
        syscall(SYS_futex, &loop->gate, FUTEX_WAIT_PRIVATE, GATE_WAITING, NULL, NULL, 0);
    }
    errno = saved;
}

/* The guest's end: open again, or, when the loop woke meanwhile and waits,
 * the gate is the loop's at once. The caller's errno is kept. */
static void gate_give_back(ax_loop *loop)
{
    int v = GATE_GUEST;
    if (atomic_compare_exchange_strong_explicit(&loop->gate, &v, GATE_OPEN, memory_order_release,
                                                memory_order_relaxed))
        return;
    int saved = errno; /* v is GATE_WAITING: nobody else changes it now */
    atomic_store_explicit(&loop->gate, GATE_LOOP, memory_order_release);
    syscall(SYS_futex, &loop->gate, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}

bool ax_loop_try_enter(ax_loop *loop)
{
    int v = GATE_OPEN;
    if (!loop || tl_current ||
        !atomic_compare_exchange_strong_explicit(&loop->gate, &v, GATE_GUEST, memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    pthread_mutex_lock(&loop->post_lock);
    bool posted = loop->post_len > 0;
    pthread_mutex_unlock(&loop->post_lock);
    if (posted) {
        gate_give_back(loop);
        return false;
    }
    tl_current = loop;
    /* The loop's thread is inside a step (asleep in its wait phase). As a
     * guest, this thread is between steps: timers it starts are armed at
     * once and handlers it parks are flushed by ax_loop_leave(), for the
     * loop's thread will not do either before something wakes it. */
    loop->guest_saved_in_step = loop->in_step;
    loop->in_step = false;
    loop->now = ax_clock_mono_ns();
    return true;
}

static void noop_task(void *arg)
{
    (void)arg;
}

static void run_ready(ax_loop *loop);

void ax_loop_leave(ax_loop *loop)
{
    if (loop->parked_outside) {
        loop->parked_outside = false;
        run_ready(loop);
    }
    /* Left for the loop's thread: handlers that parked again in the flush
     * (their budget), closes. It is asleep; wake it. */
    bool wake = !ax__list_empty(&loop->ready) || !ax__list_empty(&loop->closing) || loop->stop;
    loop->parked_outside = false;
    loop->in_step = loop->guest_saved_in_step;
    tl_current = NULL;
    /* All before the give-back: after it, a node being destroyed (a stop
     * task run by a serving guest) may free the loop; the give-back itself
     * ends with a futex wake of a loop that waited, which is harmless on
     * freed memory (the kernel looks the word up, wakes nobody). The
     * loop's thread, woken now, waits for the give-back; a waiter woken
     * now finds the gate still held and waits for the next round, which
     * comes with what it waits for: nothing is lost. */
    if (wake)
        ax_loop_post(loop, noop_task, NULL);
    ax__loop_round_done(loop);
    gate_give_back(loop);
}

/* A guest's round (ax_loop_serve()): what a step of the loop's thread does,
 * but closes, which are left to that thread (ax_loop_leave() wakes it):
 * its own epoll_wait may have returned, before this round, an event for a
 * handler that this round closes, and that memory must still be there when
 * it looks (it then sees the handler closing and skips it). */
#define GUEST_EVENTS 64

int ax_loop_serve(ax_loop *loop, int timeout_ms)
{
    if (!loop || tl_current != loop || !loop->running)
        return AX_EINVAL;
    struct epoll_event events[GUEST_EVENTS];
    atomic_store(&loop->guest_serving, true);
    bool asked_back = atomic_load(&loop->gate) == GATE_WAITING;
    if (asked_back)
        timeout_ms = 0; /* the loop's thread has work and waits for us */
    int n = epoll_wait(loop->epfd, events, GUEST_EVENTS, timeout_ms);
    atomic_store(&loop->guest_serving, false);
    /* not the timeout: an event, a signal, the loop's thread asking */
    bool woken = n != 0 || asked_back;
    if (n < 0) {
        if (errno != EINTR)
            return ax_err_from_errno(errno);
        n = 0;
    }
    /* A step, as the loop's thread runs it: a handler that parks (its read
     * budget) waits for the next round, which is the loop thread's (the
     * leave wakes it), rather than running again in the leave's flush. */
    loop->in_step = true;
    uint64_t before = loop->callbacks;
    loop->now = ax_clock_mono_ns();
    ax__timer_run_due(loop);
    dispatch_io(loop, events, n);
    run_ready(loop);
    run_posted(loop);
    loop->in_step = false;
    ax__timer_arm(loop);
    return woken || loop->callbacks != before ? 1 : 0;
}

static void run_ready(ax_loop *loop)
{
    /* Take a snapshot: a handler that parks again while being served goes to
     * the loop's (now empty) list and waits for the next iteration, so one
     * busy fd cannot starve the others. */
    ax__qnode batch;
    ax__list_move(&loop->ready, &batch);
    ax__qnode *n;
    while ((n = ax__list_pop_front(&batch)) != NULL) {
        ax_io *io = ax__container_of(n, ax_io, node);
        unsigned bits = io->parked;
        io->parked = 0;
        io->flags &= ~AX__IO_PARKED;
        loop->callbacks++;
        io->cb(io, bits, io->user);
    }
}

ax_loop *ax_loop_current(void)
{
    return tl_current;
}

int ax_loop_step(ax_loop *loop, int timeout_ms)
{
    ax_loop *prev = tl_current;
    tl_current = loop;
    int rc = loop_step(loop, timeout_ms);
    tl_current = prev;
    return rc;
}

/* Did one of the @n fetched events come from a user handler (a socket)
 * rather than from the loop's own timerfd or eventfd? */
static bool socket_event(const ax_loop *loop, int n)
{
    for (int i = 0; i < n; i++) {
        const ax_io *io = loop->events[i].data.ptr;
        if (!(io->flags & AX__IO_INTERNAL))
            return true;
    }
    return false;
}

/* epoll_wait, with a polling phase in front when the step may block and
 * either busy polling is configured (always poll busy_poll_ns) or adaptive
 * polling judges an answer to be near.
 *
 * Adaptive polling: sleeping in epoll_wait and being woken costs about as
 * much as a loopback message itself (docs/performance.md), which matters
 * when a loop waits for the answer to what it just sent (request/reply,
 * ping-pong). So after a step that wrote to a socket, the loop tracks how
 * long the next socket event took to come (a moving average, 1/4 weight);
 * while that average is under adaptive_poll_ns it polls for up to twice the
 * average (at most adaptive_poll_ns) before sleeping. A wait that ends
 * without a socket event (timeout, timer, posted task) counts as four times
 * the limit, so one miss stops the polling until answers come quickly again:
 * polling is wasted at most once or twice in a row, and a loop that only
 * receives, idles, or talks slower than the limit never polls.
 *
 * Polling is bounded by the step's timeout as well: a caller asking for
 * 1 ms is back after 1 ms either way. */
static int loop_wait(ax_loop *loop, int timeout_ms)
{
    if (timeout_ms == 0)
        return epoll_wait(loop->epfd, loop->events, (int)loop->max_events, 0);
    int64_t spin = loop->busy_poll_ns;
    bool watch = spin == 0 && loop->adaptive_poll_ns > 0 && loop->sent;
    loop->sent = false;
    if (watch && loop->answer_avg_ns < loop->adaptive_poll_ns) {
        spin = 2 * loop->answer_avg_ns;
        if (spin > loop->adaptive_poll_ns)
            spin = loop->adaptive_poll_ns;
    }
    int64_t start = spin > 0 || watch ? ax_clock_mono_ns() : 0;
    int n;
    gate_open(loop); /* from here to done: only epoll_wait, on loop-only fields */
    if (spin > 0) {
        if (timeout_ms > 0 && spin > timeout_ms * AX_NS_PER_MS)
            spin = timeout_ms * AX_NS_PER_MS;
        loop->polled_waits++;
        int64_t now;
        do {
            n = epoll_wait(loop->epfd, loop->events, (int)loop->max_events, 0);
            if (n != 0) {
                loop->poll_hits += n > 0;
                goto done;
            }
            now = ax_clock_mono_ns();
        } while (now - start < spin);
        if (timeout_ms > 0) { /* what is left of it, rounded up */
            int64_t left = timeout_ms * AX_NS_PER_MS - (now - start);
            timeout_ms = left > 0 ? (int)((left + AX_NS_PER_MS - 1) / AX_NS_PER_MS) : 0;
        }
    }
    n = epoll_wait(loop->epfd, loop->events, (int)loop->max_events, timeout_ms);
done:
    gate_close(loop);
    if (watch) {
        int64_t took = n > 0 && socket_event(loop, n) ? ax_clock_mono_ns() - start
                                                      : 4 * loop->adaptive_poll_ns;
        loop->answer_avg_ns += (took - loop->answer_avg_ns) / 4;
    }
    return n;
}

static int loop_step(ax_loop *loop, int timeout_ms)
{
    loop->in_step = true;
    /* Phase 0: handlers the application parked between steps (a publish
     * from the thread that runs the loop) are served before waiting, so
     * what they queued leaves now rather than after an epoll_wait(0). */
    if (loop->parked_outside) {
        uint64_t before = loop->callbacks;
        loop->parked_outside = false;
        run_ready(loop);
        if (loop->callbacks != before)
            timeout_ms = 0; /* it did work: poll, do not block */
    }
    if (!ax__list_empty(&loop->ready) || !ax__list_empty(&loop->closing) || loop->stop)
        timeout_ms = 0;

    int n = loop_wait(loop, timeout_ms);
    if (n < 0) {
        if (errno != EINTR) {
            loop->in_step = false;
            return ax_err_from_errno(errno);
        }
        n = 0;
    }
    loop->now = ax_clock_mono_ns();

    ax__timer_run_due(loop);
    dispatch_io(loop, loop->events, n);
    run_ready(loop);
    run_posted(loop);
    run_closes(loop);

    loop->in_step = false;
    /* Program the timerfd once per iteration rather than at every
     * ax_timer_start() made by a callback. */
    ax__timer_arm(loop);
    if (loop->running)
        ax__loop_round_done(loop);
    return (!ax__list_empty(&loop->ready) || !ax__list_empty(&loop->closing)) ? 1 : 0;
}

int ax_loop_run_once(ax_loop *loop, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : ax_clock_mono_ns() + timeout_ms * AX_NS_PER_MS;
    uint64_t before = loop->callbacks;
    for (;;) {
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - ax_clock_mono_ns();
            if (left < 0)
                left = 0;
            wait_ms = (int)((left + AX_NS_PER_MS - 1) / AX_NS_PER_MS);
        }
        int rc = ax_loop_step(loop, wait_ms);
        if (rc < 0)
            return rc;
        if (loop->callbacks != before)
            return 1;
        if (timeout_ms >= 0 && ax_clock_mono_ns() >= deadline)
            return 0;
    }
}

int ax_loop_run(ax_loop *loop)
{
    int rc = 0;
    loop->running = true;
    while (!loop->stop) {
        rc = ax_loop_step(loop, -1);
        if (rc < 0)
            break;
    }
    loop->stop = false;
    loop->running = false;
    return rc < 0 ? rc : 0;
}

void ax_loop_stop(ax_loop *loop)
{
    loop->stop = true;
}

int ax_loop_fd(const ax_loop *loop)
{
    return loop->epfd;
}

unsigned ax_loop_io_budget(const ax_loop *loop)
{
    return loop->io_budget;
}

int64_t ax_loop_now(const ax_loop *loop)
{
    return loop->now;
}

size_t ax_loop_open_count(const ax_loop *loop)
{
    return loop->nio + loop->heap_len;
}

int ax_loop_post(ax_loop *loop, ax_task_fn fn, void *arg)
{
    if (!loop || !fn)
        return AX_EINVAL;
    bool wake = false;
    pthread_mutex_lock(&loop->post_lock);
    if (ax__array_reserve(&loop->post_q, &loop->post_cap, loop->post_len + 1, 64) < 0) {
        pthread_mutex_unlock(&loop->post_lock);
        return AX_ENOMEM;
    }
    loop->post_q[loop->post_len++] = (struct ax__task){fn, arg};
    if (!loop->wake_pending) {
        loop->wake_pending = true;
        wake = true;
    }
    pthread_mutex_unlock(&loop->post_lock);

    if (wake) {
        uint64_t one = 1;
        /* Cannot fail with EAGAIN short of 2^64-1 unread writes; EINTR is
         * retried. The write happens after the unlock so the loop thread,
         * woken, does not block on the mutex we still hold. */
        while (write(loop->wake_io.fd, &one, sizeof one) < 0 && errno == EINTR) {
        }
    }
    return 0;
}

int ax_loop_free(ax_loop *loop)
{
    if (!loop)
        return AX_EINVAL;
    if (loop->in_step)
        return AX_EBUSY;
    /* Tasks may close handlers and close callbacks may post tasks: run both
     * until neither has anything left. */
    for (;;) {
        pthread_mutex_lock(&loop->post_lock);
        bool posted = loop->post_len > 0;
        pthread_mutex_unlock(&loop->post_lock);
        if (!posted && ax__list_empty(&loop->closing))
            break;
        run_posted(loop);
        run_closes(loop);
    }
    if (ax_loop_open_count(loop) > 0)
        return AX_EBUSY;

    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, loop->timer_io.fd, NULL);
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, loop->wake_io.fd, NULL);
    close(loop->timer_io.fd);
    close(loop->wake_io.fd);
    close(loop->epfd);
    ax__timer_heap_free(loop);
    free(loop->events);
    free(loop->post_q);
    free(loop->run_q);
    free(loop->stage);
    pthread_mutex_destroy(&loop->post_lock);
    free(loop);
    return 0;
}

uint8_t *ax__loop_stage(ax_loop *loop)
{
    if (!loop->stage)
        loop->stage = malloc(AX__LOOP_STAGE);
    return loop->stage;
}

/* ---- ax_io ---- */

int ax_io_init(ax_loop *loop, ax_io *io, int fd, unsigned events, ax_io_cb cb, void *user)
{
    if (!loop || !io || fd < 0 || !cb || (events & ~(unsigned)(AX_IO_READABLE | AX_IO_WRITABLE)))
        return AX_EINVAL;
    memset(io, 0, sizeof *io);
    io->loop = loop;
    io->cb = cb;
    io->user = user;
    io->fd = fd;
    io->interest = events;
    ax__list_init(&io->node);
    struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        io->fd = -1;
        io->flags = AX__IO_CLOSING;
        return e == EPERM ? AX_ENOTSUP : ax_err_from_errno(e);
    }
    loop->nio++;
    return 0;
}

int ax_io_set_events(ax_io *io, unsigned events)
{
    if (io->flags & AX__IO_CLOSING)
        return AX_ECLOSED;
    events &= AX_IO_READABLE | AX_IO_WRITABLE;
    if (events == io->interest)
        return 0;
    struct epoll_event ev = {.events = epoll_mask(events), .data.ptr = io};
    if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return ax_err_from_errno(errno);
    io->interest = events;
    return 0;
}

int ax_io_rearm(ax_io *io)
{
    if (io->flags & AX__IO_CLOSING)
        return AX_ECLOSED;
    struct epoll_event ev = {.events = epoll_mask(io->interest), .data.ptr = io};
    if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return ax_err_from_errno(errno);
    return 0;
}

unsigned ax_io_events(const ax_io *io)
{
    return io->interest;
}

void ax_io_park(ax_io *io, unsigned events)
{
    if (io->flags & AX__IO_CLOSING)
        return;
    io->parked |= events;
    if (!io->loop->in_step)
        io->loop->parked_outside = true;
    if (!(io->flags & AX__IO_PARKED)) {
        io->flags |= AX__IO_PARKED;
        ax__list_push_back(&io->loop->ready, &io->node);
    }
}

int ax_io_fd(const ax_io *io)
{
    return io->fd;
}

bool ax_io_is_closing(const ax_io *io)
{
    return (io->flags & AX__IO_CLOSING) != 0;
}

static int io_unregister(ax_io *io, ax_io_close_cb close_cb, bool close_fd)
{
    if (io->flags & AX__IO_CLOSING)
        return -1;
    ax_loop *loop = io->loop;
    int fd = io->fd;
    io->flags |= AX__IO_CLOSING;
    /* DEL before close: once closed, the fd number may be handed to a new
     * socket at once, and a stale registration must not outlive it. */
    epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    if (close_fd)
        close(fd);
    io->fd = -1;
    if (io->flags & AX__IO_PARKED) {
        io->flags &= ~AX__IO_PARKED;
        io->parked = 0;
        ax__list_remove(&io->node);
    }
    io->close_cb = close_cb;
    ax__list_push_back(&loop->closing, &io->node);
    return fd;
}

void ax_io_close(ax_io *io, ax_io_close_cb close_cb)
{
    io_unregister(io, close_cb, true);
}

int ax_io_detach(ax_io *io, ax_io_close_cb close_cb)
{
    return io_unregister(io, close_cb, false);
}
