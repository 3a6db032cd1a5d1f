/* SPDX-License-Identifier: Apache-2.0 */
/* Private: the loop structure, shared by loop.c, loop_rounds.c, timer.c and
 * loop_thread.c. */
#ifndef AX__LOOP_H
#define AX__LOOP_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "axon/loop.h"
#include "base/ax__list.h"

/* loop_thread.c: parse a CPU list ("0", "2-3", "0,2-3") into @set (NULL:
 * only check it). 0, or AX_EINVAL with the reason in @why. */
int ax__cpus_parse(const char *s, cpu_set_t *set, char *why, size_t why_len);

/* ax_io.flags */
enum {
    AX__IO_CLOSING = 1u << 0,  /* ax_io_close() was called */
    AX__IO_PARKED = 1u << 1,   /* node is on a ready list */
    AX__IO_INTERNAL = 1u << 2, /* the loop's own timerfd / eventfd */
};

struct ax__task {
    ax_task_fn fn;
    void *arg;
};

struct ax_loop {
    int epfd;
    ax_io timer_io; /* timerfd: earliest timer deadline */
    ax_io wake_io;  /* eventfd: posted tasks */
    struct epoll_event *events;
    unsigned max_events;
    unsigned io_budget;
    int64_t busy_poll_ns;     /* 0: block at once */
    int64_t adaptive_poll_ns; /* 0: off */
    int64_t answer_avg_ns;    /* moving average: a send to the next socket event */
    bool sent;                /* a socket write since the last blocking wait */
    uint64_t polled_waits;    /* waits that began with a polling phase */
    uint64_t poll_hits;       /* ... and got their event while polling */

    ax__qnode ready;   /* handlers parked by ax_io_park() */
    ax__qnode closing; /* closed handlers waiting for their close callback */
    ax__qnode bells;   /* stream connections with a bell (transport/stream/conn_quiet.c) */
    size_t nio;        /* user handlers registered, closing ones included */

    /* Timers: a binary min-heap of pointers ordered by (deadline, seq). */
    ax_timer **heap;
    size_t heap_len;
    size_t heap_cap;
    uint64_t timer_seq;
    uint64_t timer_gen; /* incremented at the start of each timers phase */
    int64_t armed;      /* deadline programmed into the timerfd; INT64_MAX: none */

    int64_t now;
    uint64_t callbacks; /* callbacks run so far: progress for run_once */
    bool in_step;
    bool parked_outside; /* ax_io_park() was called between steps */
    bool running;
    bool stop;

    /* Posted tasks: producers append to post_q under post_lock; the loop
     * swaps post_q and run_q and runs run_q without the lock. Both arrays are
     * reused, so the steady state allocates nothing. */
    pthread_mutex_t post_lock;
    struct ax__task *post_q;
    size_t post_len;
    size_t post_cap;
    struct ax__task *run_q;
    size_t run_cap;
    bool wake_pending; /* an eventfd write is outstanding (under post_lock) */

    /* Scratch memory for one write call (ax__loop_stage()), made at first
     * use and kept with the loop. */
    uint8_t *stage;

    /* The gate (loop.c, gate_*): who acts on the loop now. The thread in
     * ax_loop_run() holds it except while it waits for events; meanwhile
     * another thread may take it (ax_loop_try_enter()). Last, apart from
     * what the loop's thread writes at every step and what posting threads
     * lock. */
    char pad_[64];
    atomic_int gate;
    atomic_bool guest_serving; /* a guest waits for events (ax_loop_serve()) */
    bool guest_saved_in_step;
    /* Rounds ended (a step of the loop's thread, a guest's leave), and
     * whether a thread in ax_loop_wait_round() wants a futex wake at the
     * next (loop_rounds.c). */
    atomic_uint rounds;
    atomic_bool want_wake;
};

/* loop_rounds.c: a round ended (a step of the loop's thread, a guest's
 * leave); wakes the threads in ax_loop_wait_round(). */
void ax__loop_round_done(ax_loop *loop);

/* timer.c */
void ax__timer_run_due(ax_loop *loop);
void ax__timer_arm(ax_loop *loop);
void ax__timer_heap_free(ax_loop *loop);

/* The loop's scratch buffer of AX__LOOP_STAGE bytes, for what one write
 * call gathers (transport/stream/wq.c copies small frames there, so a
 * writev takes one iovec for many of them); its contents are dead after
 * the call. NULL when it cannot be made. Loop thread only. */
#define AX__LOOP_STAGE (128u * 1024)
uint8_t *ax__loop_stage(ax_loop *loop);

/* A handler wrote to its socket: the next wait may be polled (adaptive
 * polling, see loop_wait()). Loop thread only. */
static inline void ax__loop_note_sent(ax_loop *loop)
{
    loop->sent = true;
}

#endif /* AX__LOOP_H */
