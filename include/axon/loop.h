/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/loop.h: the reactor. One event loop per thread, on one epoll instance
 * in edge-triggered mode, with timers on one timerfd and cross-thread tasks
 * on one eventfd.
 *
 * ## Objects
 *
 * - ax_loop: opaque, made by ax_loop_new(), freed by ax_loop_free().
 * - ax_io: a file descriptor watched by the loop. The struct is public so an
 *   owner can embed it (a connection embeds its ax_io: one allocation per
 *   connection); its fields are private.
 * - ax_timer: a one-shot or periodic timer, embeddable the same way.
 *
 * ## Thread rules
 *
 * A loop belongs to the thread that runs it. Every function in this header
 * must be called on that thread, except ax_loop_post(), the only thread-safe
 * entry into a loop, ax_loop_fd(), ax_loop_rounds() and
 * ax_loop_wait_round(), and ax_loop_try_enter(), which lets another thread
 * act as the loop's own while the loop waits for events (and, with
 * ax_loop_serve(), run a round of it: then the handlers, timers and tasks
 * of that round run on that thread). Before the loop first runs, the
 * thread that created it counts as its thread. ax_loop_thread_* run a loop
 * on a thread of its own.
 *
 * ## Phases of one iteration (ax_loop_step)
 *
 *  0. handlers parked outside any step (by application code between two
 *     steps, e.g. a send from the thread that runs the loop) are called
 *     first, so what they queued leaves without waiting for a poll round;
 *  1. wait: epoll_wait() for at most the timeout (0 when handlers are parked
 *     on the ready list or closes are pending), into an event array allocated
 *     once, when the loop was made; with busy_poll_ns set, polled (timeout 0)
 *     for up to that long first; otherwise, after an iteration that wrote to
 *     a socket and while answers have been coming back quickly, polled for
 *     up to adaptive_poll_ns first (see struct ax_loop_options);
 *  2. timers: every timer whose deadline has passed fires, earliest first
 *     (ties in start order). A timer started or re-armed during this phase
 *     waits for the next iteration, so a callback that re-arms itself with a
 *     zero delay cannot starve the loop;
 *  3. I/O: each fetched event is dispatched once, with every bit that fired
 *     (AX_IO_READABLE, AX_IO_WRITABLE, AX_IO_HANGUP and AX_IO_ERROR together,
 *     never one of them lost to another). Events fetched for a handler that
 *     was closed earlier in the iteration are dropped;
 *  4. ready list: handlers that parked themselves (see below) are called
 *     again with the events they parked. A handler parking again during this
 *     phase runs in the next iteration, after the other fds had their turn;
 *  5. posted tasks: tasks queued by ax_loop_post() before this phase began
 *     run in the order they were posted;
 *  6. closes: close callbacks of handlers closed during the iteration run;
 *     this is where an owner may free a handler's memory.
 *
 * ## The edge-triggered contract
 *
 * Under EPOLLET the kernel reports a readiness change once. A handler must
 * therefore, on AX_IO_READABLE, read until read() fails with EAGAIN, or stop
 * early (to be fair to other fds: see ax_loop_io_budget()) and call
 * ax_io_park() so the loop calls it again in the ready-list phase; no new
 * edge will come for data that is already buffered. The same holds for
 * accept() on listeners and for writes on AX_IO_WRITABLE.
 *
 * AX_IO_HANGUP (EPOLLRDHUP or EPOLLHUP) and AX_IO_ERROR may arrive together
 * with AX_IO_READABLE: the handler reads what is still buffered first, then
 * acts on the hangup. EPOLLOUT is registered only while the handler asks for
 * AX_IO_WRITABLE (ax_io_set_events()); an owner arms it when its write
 * queue becomes non-empty and disarms it when the queue drains.
 *
 * ## Ownership and teardown
 *
 * ax_io_init() makes the handler own its fd. ax_io_close() removes the fd
 * from epoll (EPOLL_CTL_DEL, always before close()), closes it and marks the
 * handler closed; the handler's memory must stay valid until its close
 * callback runs in the closes phase, which is the first moment the owner may
 * free it. Closing inside any callback, including the handler's own, is safe.
 * A timer holds no resource: once stopped (or fired, for a one-shot timer)
 * the loop keeps no reference to it and its memory may be reused at once,
 * also from inside its own callback.
 */
#ifndef AXON_LOOP_H
#define AXON_LOOP_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_loop ax_loop;
typedef struct ax_io ax_io;
typedef struct ax_timer ax_timer;

/* Event bits given to an ax_io callback. */
enum ax_io_event {
    AX_IO_READABLE = 1u << 0, /* data (or a connection, or EOF) to read */
    AX_IO_WRITABLE = 1u << 1, /* room to write; only while asked for */
    AX_IO_HANGUP = 1u << 2,   /* peer closed its side (RDHUP) or both (HUP) */
    AX_IO_ERROR = 1u << 3     /* error pending on the fd (read SO_ERROR) */
};

/**
 * ax_io_cb - called with every event bit that fired for the handler.
 * @io: the handler.
 * @events: a non-empty set of AX_IO_* bits.
 * @user: the pointer given to ax_io_init().
 */
typedef void (*ax_io_cb)(ax_io *io, unsigned events, void *user);

/**
 * ax_io_close_cb - called once, in the closes phase, after ax_io_close().
 * The owner may free the handler's memory here.
 */
typedef void (*ax_io_close_cb)(ax_io *io, void *user);

/** ax_timer_cb - called when the timer fires, on the loop's thread (or a
 * thread serving it: ax_loop_serve()). */
typedef void (*ax_timer_cb)(ax_timer *timer, void *user);

/** ax_task_fn - a task given to ax_loop_post(), run on the loop's thread
 * (or a thread serving it: ax_loop_serve()). */
typedef void (*ax_task_fn)(void *arg);

/* A watched file descriptor. All fields are private. */
struct ax_io {
    ax_loop *loop;
    ax_io_cb cb;
    ax_io_close_cb close_cb;
    void *user;
    int fd;
    unsigned interest; /* AX_IO_READABLE/WRITABLE registered with epoll */
    unsigned parked;   /* events waiting on the ready list */
    unsigned flags;
    struct ax__qnode node; /* on the ready list or on the closing list */
};

/* A timer. All fields are private. */
struct ax_timer {
    ax_loop *loop;
    ax_timer_cb cb;
    void *user;
    int64_t deadline;  /* CLOCK_MONOTONIC ns */
    int64_t period;    /* 0 for a one-shot timer */
    uint64_t seq;      /* start order, breaks deadline ties */
    uint64_t gen;      /* timers phase in which it was (re)armed */
    uint64_t missed;   /* periods skipped because the loop fell behind */
    size_t heap_index; /* SIZE_MAX while inactive */
};

/* Options for ax_loop_new(); set with ax_loop_options_init() first. */
struct ax_loop_options {
    /* Size of the event array given to epoll_wait (default 256). */
    unsigned max_events;
    /* Operations (reads, accepts, writes) a handler should perform per
     * callback before it parks itself (default 16). See ax_loop_io_budget(). */
    unsigned io_budget;
    /* Busy polling: before an iteration blocks in epoll_wait, poll (timeout
     * 0) for up to this many nanoseconds, so that a message arriving soon
     * is taken without the cost of sleeping and being woken (about a third
     * of a loopback round trip; see docs/performance.md). The thread burns
     * its core while it polls, at most this long per wait. 0 (the default):
     * never. Bounded by the step's own timeout. */
    int64_t busy_poll_ns;
    /* Adaptive polling (used when busy_poll_ns is 0): after an iteration
     * that wrote to a socket, the loop measures how long the next socket
     * event takes to come (a moving average); while that is under this
     * limit it polls for up to twice the average (at most this limit)
     * before it sleeps, so the answer to a request, or the next message of
     * a ping-pong, is taken without sleeping. A wait that ends without
     * socket activity stops the polling until answers come quickly again,
     * so a loop that idles, only receives, or talks slower than this never
     * polls. Default AX_LOOP_ADAPTIVE_POLL_DEFAULT_NS; 0: never; at most
     * 1 s. */
    int64_t adaptive_poll_ns;
};

/* The default of struct ax_loop_options.adaptive_poll_ns: 50 us. */
#define AX_LOOP_ADAPTIVE_POLL_DEFAULT_NS 50000

/** ax_loop_options_init() - fill @opt with the defaults. */
AX_API void ax_loop_options_init(struct ax_loop_options *opt);

/**
 * ax_loop_new() - make a loop: its epoll instance, timerfd and eventfd.
 * @out: receives the loop.
 * @opt: options, or NULL for the defaults.
 *
 * Returns 0; AX_EINVAL (NULL @out, zero max_events, a negative polling time, adaptive_poll_ns over
 * 1 s); AX_ENOMEM; AX_EMFILE or AX_ENFILE (no fd left); another mapped OS error. Any thread; the
 * caller's thread is the loop's thread until the loop first runs elsewhere.
 */
AX_API int ax_loop_new(ax_loop **out, const struct ax_loop_options *opt);

/**
 * ax_loop_free() - free a loop that has nothing left open.
 *
 * Runs the posted tasks and the close callbacks that are still pending, then
 * frees the loop. Returns 0, or AX_EBUSY when handlers are still registered
 * or timers still active: then nothing is freed, and the caller may close
 * them and call again. No thread may post to the loop once this is called.
 * Loop thread, outside any callback of this loop.
 */
AX_API int ax_loop_free(ax_loop *loop);

/**
 * ax_loop_run() - run iterations until ax_loop_stop().
 *
 * Returns 0 when stopped, or a negative AX_E* code if epoll_wait failed for
 * a reason other than EINTR. Loop thread; not re-entrant.
 */
AX_API int ax_loop_run(ax_loop *loop);

/**
 * ax_loop_step() - run exactly one iteration (see the phases above).
 * @timeout_ms: how long to wait for events: 0 polls, -1 waits without limit.
 *              Ignored (0) while handlers are parked on the ready list.
 *
 * This is the entry for embedding: add ax_loop_fd() to an outer poll/epoll
 * loop, and call ax_loop_step(loop, 0) when it is readable, and again at once
 * as long as the call returns 1.
 *
 * Returns 1 when work is pending that ax_loop_fd() will not signal (parked
 * handlers, pending closes), 0 when the loop is idle until its fd becomes
 * readable, or a negative AX_E* code if epoll_wait failed (not for EINTR,
 * which counts as an iteration with no events). Loop thread; not re-entrant.
 */
AX_API int ax_loop_step(ax_loop *loop, int timeout_ms);

/**
 * ax_loop_run_once() - run iterations until at least one callback (I/O,
 * timer, task or close) ran, or until @timeout_ms passed (-1: no limit).
 *
 * Returns 1 if a callback ran, 0 on timeout, or a negative AX_E* code as for
 * ax_loop_step(). Loop thread; not re-entrant.
 */
AX_API int ax_loop_run_once(ax_loop *loop, int timeout_ms);

/**
 * ax_loop_stop() - make ax_loop_run() return after the current iteration.
 * A stop requested while the loop is not running makes the next
 * ax_loop_run() return at once. Loop thread (from another thread, post a task
 * that calls it).
 */
AX_API void ax_loop_stop(ax_loop *loop);

/**
 * ax_loop_fd() - the epoll fd, readable whenever the loop has I/O, an
 * expired timer or a posted task to handle. For embedding only: never read
 * it or close it. Any thread.
 */
AX_API int ax_loop_fd(const ax_loop *loop);

/**
 * ax_loop_post() - queue @fn(@arg) to run on the loop's thread in its
 * posted-tasks phase. The only thread-safe call into a loop.
 *
 * Wake-ups are coalesced: many posts before the loop wakes cost one eventfd
 * write. The queue reuses its storage, so posting does not allocate in the
 * steady state. Returns 0, AX_EINVAL (NULL @loop or @fn) or AX_ENOMEM (the
 * queue could not grow; @fn will not run). Any thread, including the loop's
 * own and from inside callbacks.
 */
AX_API int ax_loop_post(ax_loop *loop, ax_task_fn fn, void *arg);

/**
 * ax_loop_try_enter() - act as @loop's thread for a moment, if it is idle.
 *
 * Succeeds only while the thread in ax_loop_run() waits for events (polling
 * or asleep in epoll_wait) with nothing parked and no close pending. Until
 * ax_loop_leave(), the caller may call what the loop's thread may (send on
 * its handlers, start timers); ax_loop_current() returns @loop; the loop's
 * thread, if an event wakes it, waits for the leave before it acts. Keep
 * the stay short, and run no code that may block or that belongs to the
 * loop's thread by contract (user callbacks), unless the caller means to
 * lend its thread to the loop (ax_loop_serve()).
 *
 * Returns true when entered; false at once otherwise: the loop is busy, has
 * posted tasks to run (they keep their place before what the caller would
 * do), is not run by ax_loop_run(), or the caller is running a loop itself
 * (no thread holds two loops). Any thread but the loop's own.
 */
AX_API bool ax_loop_try_enter(ax_loop *loop);

/**
 * ax_loop_leave() - end what ax_loop_try_enter() began: the handlers
 * parked meanwhile are flushed now, their callbacks called on this thread
 * in this call (what was sent leaves before the call returns, as far as the
 * sockets take it); the loop is woken if something is left for it (closes,
 * parked handlers), and its thread may act again (if it woke meanwhile, it
 * gets the gate before any other guest).
 * The thread that entered, once per successful ax_loop_try_enter().
 */
AX_API void ax_loop_leave(ax_loop *loop);

/**
 * ax_loop_serve() - inside ax_loop_try_enter() / ax_loop_leave(): one round
 * of @loop's work on the calling thread. Waits up to @timeout_ms (-1: no
 * limit, 0: none) for events, then handles them, the due timers, the parked
 * handlers and the posted tasks, as the loop's thread would; closes are left
 * to that thread (ax_loop_leave() wakes it for them). Meanwhile the loop's
 * thread, if an event wakes it, waits for the leave. Unlike a bare
 * ax_loop_try_enter(), this is meant to run user callbacks: the caller lends
 * its thread to the loop (ax_sub_wait() does).
 *
 * Returns 1 if the wait ended before the timeout (an event, a signal, the
 * loop's thread asking for the loop back) or a timer or task ran, 0 if
 * the timeout passed with nothing to do, AX_EINVAL if the caller is not
 * inside ax_loop_try_enter() on @loop, or the error of epoll_wait. The
 * thread that entered.
 */
AX_API int ax_loop_serve(ax_loop *loop, int timeout_ms);

/**
 * ax_loop_rounds() - how many rounds of @loop have ended: steps of the
 * thread in ax_loop_run(), and stays of other threads (ax_loop_leave()).
 * It wraps. Any thread.
 */
AX_API unsigned ax_loop_rounds(const ax_loop *loop);

/**
 * ax_loop_wait_round() - sleep until ax_loop_rounds(@loop) is no longer
 * @seen, or @timeout_ms (-1: no limit) has passed. For a thread that could
 * not enter the loop (ax_loop_try_enter()) and waits for what the loop's
 * thread is doing: read the count before trying to enter, pass it here.
 *
 * Returns 0 (the count changed, or a spurious wake: look again),
 * AX_ETIMEDOUT, or AX_EINVAL (NULL @loop). Any thread but the loop's own,
 * and not inside ax_loop_try_enter() on @loop: either would wait for
 * itself until the timeout.
 */
AX_API int ax_loop_wait_round(ax_loop *loop, unsigned seen, int timeout_ms);

/**
 * ax_loop_current() - the loop whose ax_loop_step() (or run) is running on
 * the calling thread, or NULL outside any. Lets code called from anywhere
 * tell whether it is on a given loop's thread. Any thread.
 */
AX_API ax_loop *ax_loop_current(void);

/**
 * ax_loop_io_budget() - how many operations a handler should perform per
 * callback before calling ax_io_park() (the loop's io_budget option).
 */
AX_API unsigned ax_loop_io_budget(const ax_loop *loop);

/**
 * ax_loop_now() - CLOCK_MONOTONIC ns taken when the current iteration woke
 * up (cheap; use ax_clock_mono_ns() where freshness matters).
 */
AX_API int64_t ax_loop_now(const ax_loop *loop);

/**
 * ax_loop_open_count() - handlers registered (including closed ones whose
 * close callback has not run yet) plus active timers. Internal handlers do
 * not count. Zero means ax_loop_free() will succeed.
 */
AX_API size_t ax_loop_open_count(const ax_loop *loop);

/**
 * ax_io_init() - register @fd with the loop, edge-triggered.
 * @io: the handler, owned by the caller, valid until its close callback.
 * @fd: a non-blocking file descriptor; on success the handler owns it.
 * @events: AX_IO_READABLE and/or AX_IO_WRITABLE (HANGUP and ERROR are
 *          always reported).
 * @cb: called with the events that fired.
 * @user: passed to @cb and to the close callback.
 *
 * Returns 0; AX_EINVAL (bad argument); AX_EEXIST (fd already registered);
 * AX_ENOMEM; AX_ENOTSUP (the fd cannot be polled, e.g. a regular file);
 * another mapped OS error. On failure the fd still belongs to the caller.
 */
AX_API int ax_io_init(ax_loop *loop, ax_io *io, int fd, unsigned events, ax_io_cb cb, void *user);

/**
 * ax_io_set_events() - change the events the handler is interested in
 * (EPOLL_CTL_MOD, skipped when unchanged). Asking for AX_IO_WRITABLE on a
 * writable fd yields an AX_IO_WRITABLE event in the next iteration.
 *
 * Returns 0, AX_ECLOSED (handler closed) or a mapped OS error.
 */
AX_API int ax_io_set_events(ax_io *io, unsigned events);

/**
 * ax_io_rearm() - register the current interest again (EPOLL_CTL_MOD even
 * though nothing changed): the kernel re-checks readiness and reports what
 * is ready now as a new edge. For a handler that cannot be sure an edge is
 * still to come (e.g. EAGAIN while AX_IO_WRITABLE was already armed).
 * Returns 0, AX_ECLOSED or a mapped OS error.
 */
AX_API int ax_io_rearm(ax_io *io);

/** ax_io_events() - the AX_IO_READABLE/WRITABLE interest currently set. */
AX_API unsigned ax_io_events(const ax_io *io);

/**
 * ax_io_park() - the handler stopped before EAGAIN: call it again with
 * @events in this iteration's ready-list phase (or the next iteration's, if
 * already in it). Parking twice merges the events. No-op on a closed handler.
 */
AX_API void ax_io_park(ax_io *io, unsigned events);

/** ax_io_fd() - the handler's fd (-1 once closed). */
AX_API int ax_io_fd(const ax_io *io);

/** ax_io_is_closing() - whether ax_io_close() was called. */
AX_API bool ax_io_is_closing(const ax_io *io);

/**
 * ax_io_close() - stop watching and close the fd now (EPOLL_CTL_DEL, then
 * close()); call @close_cb (may be NULL) in this iteration's closes phase, or
 * in the next step's when called outside the loop. Events already fetched for
 * the handler are dropped. A second call is a no-op.
 */
AX_API void ax_io_close(ax_io *io, ax_io_close_cb close_cb);

/**
 * ax_io_detach() - as ax_io_close(), but hand the fd back instead of closing
 * it: EPOLL_CTL_DEL now, @close_cb in the closes phase. Returns the fd (the
 * caller owns it from now on), or -1 if the handler was already closed.
 */
AX_API int ax_io_detach(ax_io *io, ax_io_close_cb close_cb);

/**
 * ax_timer_init() - prepare a stopped timer. Cannot fail for valid
 * arguments; returns 0 or AX_EINVAL.
 */
AX_API int ax_timer_init(ax_loop *loop, ax_timer *timer, ax_timer_cb cb, void *user);

/**
 * ax_timer_start() - (re)start the timer to fire after @delay_ns, then every
 * @period_ns if that is > 0. Restarting an active timer moves it.
 *
 * A periodic timer's deadlines are start + k * period: they do not drift with
 * callback latency. If the loop falls behind by whole periods, those periods
 * are skipped (counted in ax_timer_missed()) rather than fired in a burst.
 *
 * Returns 0, AX_EINVAL (negative delay or period) or AX_ENOMEM (the heap
 * could not grow; the timer stays as it was).
 */
AX_API int ax_timer_start(ax_timer *timer, int64_t delay_ns, int64_t period_ns);

/**
 * ax_timer_start_at() - as ax_timer_start() with an absolute CLOCK_MONOTONIC
 * deadline (a deadline in the past fires in the next iteration).
 */
AX_API int ax_timer_start_at(ax_timer *timer, int64_t deadline_ns, int64_t period_ns);

/** ax_timer_stop() - stop the timer; no-op when inactive. */
AX_API void ax_timer_stop(ax_timer *timer);

/** ax_timer_active() - whether the timer will fire. */
AX_API bool ax_timer_active(const ax_timer *timer);

/**
 * ax_timer_deadline() - the deadline (CLOCK_MONOTONIC ns) of the next firing,
 * or, inside the callback of a one-shot timer, of the firing in progress.
 */
AX_API int64_t ax_timer_deadline(const ax_timer *timer);

/** ax_timer_missed() - periods a periodic timer skipped since it started. */
AX_API uint64_t ax_timer_missed(const ax_timer *timer);

/* A loop running on a thread of its own. */
typedef struct ax_loop_thread ax_loop_thread;

/* Real-time settings of a thread (docs/performance.md, "Real-time loop
 * threads"). */
enum ax_sched_policy {
    AX_SCHED_OTHER = 0, /* the kernel's default time sharing */
    AX_SCHED_FIFO = 1,  /* real time: runs until it blocks or a higher priority wakes */
    AX_SCHED_RR = 2,    /* real time, round robin among equal priorities */
};

struct ax_thread_rt {
    enum ax_sched_policy policy;
    int priority;     /* 1..99 with FIFO or RR (higher wins); ignored with OTHER */
    const char *cpus; /* CPUs it may run on, "0", "2-3", "0,2-3"; NULL or "": any */
};

/**
 * ax_thread_set_rt() - give the calling thread @rt's policy, priority and
 * CPUs (for an application running a loop itself, node.threads = 0).
 * @why: receives the reason of a failure (may be NULL); @why_len its size.
 *
 * Returns 0; AX_EINVAL (a priority out of 1..99 with FIFO or RR, a CPU
 * list that does not parse or names no CPU of this machine); AX_EACCES
 * when the process may not (FIFO and RR need CAP_SYS_NICE or an
 * RLIMIT_RTPRIO of at least the priority: `ulimit -r`). Nothing is changed
 * on failure. Any thread (it changes only itself).
 */
AX_API int ax_thread_set_rt(const struct ax_thread_rt *rt, char *why, size_t why_len);

/**
 * ax_loop_thread_start() - run ax_loop_run(@loop) on a new thread.
 * @out: receives the thread object.
 * @loop: a loop no other thread is running; from now on it belongs to the new
 *        thread, and other threads reach it only through ax_loop_post().
 * @name: thread name for debuggers (at most 15 bytes are used), or NULL.
 *
 * Returns 0, AX_EINVAL, AX_ENOMEM or AX_EAGAIN (no thread could be made).
 * Any thread but the loop's.
 */
AX_API int ax_loop_thread_start(ax_loop_thread **out, ax_loop *loop, const char *name);

/**
 * ax_loop_thread_start_rt() - as ax_loop_thread_start(), the thread created
 * with @rt's policy, priority and CPUs (NULL: as ax_loop_thread_start()).
 * @why, @why_len: as ax_thread_set_rt().
 *
 * Returns 0, or the errors of both functions; no thread is left on
 * failure.
 */
AX_API int ax_loop_thread_start_rt(ax_loop_thread **out, ax_loop *loop, const char *name,
                                   const struct ax_thread_rt *rt, char *why, size_t why_len);

/**
 * ax_loop_thread_stop() - post a stop to the loop, join the thread and free
 * @thread. Tasks posted before the stop run first. Afterwards the loop
 * belongs to the calling thread, which may step it (to let closes complete)
 * and free it. Returns 0, or the loop's error if ax_loop_run() failed. Any
 * thread but the loop's.
 */
AX_API int ax_loop_thread_stop(ax_loop_thread *thread);

#ifdef __cplusplus
}
#endif

#endif /* AXON_LOOP_H */
