/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Timers: a binary min-heap of timer pointers per loop, ordered by deadline
 * then start order, driving one timerfd.
 *
 * Why an array of pointers with the index stored in the timer, rather than
 * libuv's pointer-linked heap: removal is still O(log n) through the stored
 * index, the array is contiguous (cache-friendly for heartbeat-heavy nodes),
 * and it grows by doubling, so starting timers allocates only when the
 * number of simultaneously active timers reaches a new high.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>

#include "axon/clock.h"
#include "base/ax__array.h"
#include "transport/ax__loop.h"

static bool timer_less(const ax_timer *a, const ax_timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(ax_loop *loop, size_t i, ax_timer *t)
{
    loop->heap[i] = t;
    t->heap_index = i;
}

static void sift_up(ax_loop *loop, size_t i)
{
    ax_timer *t = loop->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!timer_less(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void sift_down(ax_loop *loop, size_t i)
{
    ax_timer *t = loop->heap[i];
    size_t n = loop->heap_len;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && timer_less(loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!timer_less(loop->heap[child], t))
            break;
        heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    heap_set(loop, i, t);
}

static void heap_remove(ax_loop *loop, ax_timer *t)
{
    size_t i = t->heap_index;
    ax_timer *last = loop->heap[--loop->heap_len];
    t->heap_index = SIZE_MAX;
    if (last == t)
        return;
    heap_set(loop, i, last);
    if (i > 0 && timer_less(last, loop->heap[(i - 1) / 2]))
        sift_up(loop, i);
    else
        sift_down(loop, i);
}

void ax__timer_heap_free(ax_loop *loop)
{
    free(loop->heap);
    loop->heap = NULL;
    loop->heap_len = loop->heap_cap = 0;
}

void ax__timer_arm(ax_loop *loop)
{
    int64_t next = loop->heap_len ? loop->heap[0]->deadline : INT64_MAX;
    /* A due timer that the timers phase deferred (it was re-armed during
     * that phase) has a deadline in the past: program it anyway, so the
     * timerfd fires at once and an embedding application wakes up too. */
    if (next == loop->armed && next > loop->now)
        return;
    struct itimerspec its = {0};
    if (next != INT64_MAX) {
        if (next <= 0)
            next = 1; /* an all-zero it_value would disarm */
        its.it_value.tv_sec = next / AX_NS_PER_S;
        its.it_value.tv_nsec = next % AX_NS_PER_S;
    }
    if (timerfd_settime(loop->timer_io.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        loop->armed = next;
}

void ax__timer_run_due(ax_loop *loop)
{
    uint64_t gen = ++loop->timer_gen;
    int64_t now = loop->now;
    while (loop->heap_len > 0) {
        ax_timer *t = loop->heap[0];
        if (t->deadline > now || t->gen == gen)
            break;
        if (t->period > 0) {
            /* Re-insert before the callback, from the previous deadline (not
             * from now) so the period does not drift; the callback may then
             * stop, restart or free the timer without the loop touching it
             * again. Whole periods that already passed are skipped. */
            int64_t next = t->deadline + t->period;
            if (next <= now) {
                int64_t k = (now - t->deadline) / t->period;
                next = t->deadline + (k + 1) * t->period;
                t->missed += (uint64_t)k;
            }
            t->deadline = next;
            t->seq = ++loop->timer_seq;
            t->gen = gen;
            sift_down(loop, 0);
        } else {
            heap_remove(loop, t);
        }
        loop->callbacks++;
        t->cb(t, t->user);
    }
}

int ax_timer_init(ax_loop *loop, ax_timer *timer, ax_timer_cb cb, void *user)
{
    if (!loop || !timer || !cb)
        return AX_EINVAL;
    *timer = (ax_timer){.loop = loop, .cb = cb, .user = user, .heap_index = SIZE_MAX};
    return 0;
}

int ax_timer_start_at(ax_timer *timer, int64_t deadline_ns, int64_t period_ns)
{
    if (period_ns < 0)
        return AX_EINVAL;
    ax_loop *loop = timer->loop;
    bool active = timer->heap_index != SIZE_MAX;
    if (!active && ax__array_reserve(&loop->heap, &loop->heap_cap, loop->heap_len + 1, 16) < 0)
        return AX_ENOMEM;
    timer->deadline = deadline_ns;
    timer->period = period_ns;
    timer->seq = ++loop->timer_seq;
    timer->gen = loop->timer_gen;
    timer->missed = 0;
    if (active) {
        size_t i = timer->heap_index;
        if (i > 0 && timer_less(timer, loop->heap[(i - 1) / 2]))
            sift_up(loop, i);
        else
            sift_down(loop, i);
    } else {
        heap_set(loop, loop->heap_len++, timer);
        sift_up(loop, timer->heap_index);
    }
    /* Inside a step the timerfd is programmed once, at its end. */
    if (!loop->in_step)
        ax__timer_arm(loop);
    return 0;
}

int ax_timer_start(ax_timer *timer, int64_t delay_ns, int64_t period_ns)
{
    if (delay_ns < 0)
        return AX_EINVAL;
    if (delay_ns > INT64_MAX / 4) /* far enough to mean "never", no overflow */
        delay_ns = INT64_MAX / 4;
    return ax_timer_start_at(timer, ax_clock_mono_ns() + delay_ns, period_ns);
}

void ax_timer_stop(ax_timer *timer)
{
    /* The timerfd is left as it is: at worst it wakes the loop once with
     * nothing due, and the next arm corrects it. */
    if (timer->heap_index != SIZE_MAX)
        heap_remove(timer->loop, timer);
}

bool ax_timer_active(const ax_timer *timer)
{
    return timer->heap_index != SIZE_MAX;
}

int64_t ax_timer_deadline(const ax_timer *timer)
{
    return timer->deadline;
}

uint64_t ax_timer_missed(const ax_timer *timer)
{
    return timer->missed;
}
