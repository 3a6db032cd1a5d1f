/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's time and its timers (ax_node_now(), ax_node_timer_*;
 * docs/time.md): the wall clock, or with node.use_sim_time the clock
 * messages on node.clock_topic.
 *
 * On wall time a timer is an ax_timer on loop 0, made and stopped by tasks
 * posted there (the loop's handles belong to its thread). On simulated
 * time there is nothing to arm: each clock message moves the node's time,
 * and the subscription's callback fires what became due, so a paused clock
 * fires nothing and a fast one fires as fast as it goes.
 *
 * Lifetimes: every timer is on the node's list until it is freed. A timer
 * freed by the application is only marked; the thread that fires timers
 * (loop 0's task for wall timers, the clock callback for simulated ones)
 * unlinks and frees it, so a callback never runs on freed memory and the
 * list is never walked while it changes under the walker. The lock is not
 * held while a callback runs, so callbacks may make and free timers.
 */
#include <stdlib.h>
#include <string.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__node.h"

#define LOG_MODULE "node"

/* A clock that jumps ahead fires at most this many periods at once. */
#define CATCH_UP_MAX 1000

struct ax_node_timer {
    ax_node *node;
    int64_t period_ns;
    ax_node_timer_fn fn;
    void *user;
    atomic_bool cancelled;
    bool started; /* wall: the ax_timer was initialised on loop 0 */
    ax_timer timer;
    int64_t next_ns; /* simulated: the next deadline (0: not yet seen a clock) */
    struct ax_node_timer *next;
};

int64_t ax_node_now(ax_node *node)
{
    if (!node)
        return 0;
    if (node->cfg.use_sim_time)
        return atomic_load_explicit(&node->sim_now, memory_order_acquire);
    return ax_clock_real_ns();
}

static void unlink_timer(ax_node *node, ax_node_timer *t)
{
    pthread_mutex_lock(&node->clock_lock);
    for (ax_node_timer **p = &node->timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    pthread_mutex_unlock(&node->clock_lock);
}

/* ---- wall time: ax_timers on loop 0 ---- */

static void wall_fired(ax_timer *timer, void *user)
{
    ax_node_timer *t = user;
    (void)timer;
    if (!atomic_load(&t->cancelled))
        t->fn(t, ax_clock_real_ns(), t->user);
}

static void wall_start_task(void *arg)
{
    ax_node_timer *t = arg;
    if (atomic_load(&t->cancelled) || t->node->destroying)
        return; /* freed before it started: its free task follows */
    if (ax_timer_init(t->node->loops[0], &t->timer, wall_fired, t) == 0) {
        t->started = true;
        ax_timer_start(&t->timer, t->period_ns, t->period_ns);
    }
}

static void wall_free_task(void *arg)
{
    ax_node_timer *t = arg;
    if (t->started)
        ax_timer_stop(&t->timer);
    unlink_timer(t->node, t);
    free(t);
}

/* ---- simulated time: fired by the clock messages ---- */

/* Fire what @now made due. The clock callback's thread only. */
static void sim_advance(ax_node *node, int64_t now)
{
    pthread_mutex_lock(&node->clock_lock);
    ax_node_timer **p = &node->timers;
    while (*p) {
        ax_node_timer *t = *p;
        if (atomic_load(&t->cancelled)) { /* freed by the application: ours to free */
            *p = t->next;
            free(t);
            continue;
        }
        if (t->next_ns == 0 || now < t->next_ns - t->period_ns)
            t->next_ns = now + t->period_ns; /* first clock, or the clock went back */
        unsigned due = 0;
        while (now >= t->next_ns && due < CATCH_UP_MAX) {
            t->next_ns += t->period_ns;
            due++;
        }
        if (now >= t->next_ns)
            t->next_ns = now + t->period_ns; /* far behind: skip to the clock */
        pthread_mutex_unlock(&node->clock_lock);
        /* Unlocked: a callback may make or free timers. @t stays: only this
         * thread frees simulated timers. */
        for (unsigned i = 0; i < due && !atomic_load(&t->cancelled); i++)
            t->fn(t, now, t->user);
        pthread_mutex_lock(&node->clock_lock);
        p = &t->next;
    }
    pthread_mutex_unlock(&node->clock_lock);
}

static void on_clock(ax_sub *sub, const struct ax_msg *m, void *user)
{
    ax_node *node = user;
    (void)sub;
    if (m->len != 8) {
        AX_LOG_W(LOG_MODULE, "%s: a clock message of %zu bytes (expected 8); ignored",
                 node->cfg.clock_topic, m->len);
        return;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | m->data[i];
    atomic_store_explicit(&node->sim_now, (int64_t)v, memory_order_release);
    sim_advance(node, (int64_t)v);
}

/* ---- the API ---- */

int ax_node_timer_new(ax_node_timer **out, ax_node *node, int64_t period_ns, ax_node_timer_fn fn,
                      void *user)
{
    if (!out || !node || !fn || period_ns <= 0)
        return AX_EINVAL;
    if (atomic_load(&node->destroy_requested))
        return AX_ECLOSED;
    ax_node_timer *t = calloc(1, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    t->node = node;
    t->period_ns = period_ns;
    t->fn = fn;
    t->user = user;
    pthread_mutex_lock(&node->clock_lock);
    t->next = node->timers;
    node->timers = t;
    pthread_mutex_unlock(&node->clock_lock);
    if (!node->cfg.use_sim_time) {
        int rc = ax_loop_post(node->loops[0], wall_start_task, t);
        if (rc < 0) {
            unlink_timer(node, t);
            free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

void ax_node_timer_free(ax_node_timer *t)
{
    if (!t)
        return;
    atomic_store(&t->cancelled, true);
    /* Simulated timers are freed by the next clock message (or the node);
     * wall ones by loop 0, after what it has queued for them. */
    if (!t->node->cfg.use_sim_time && ax_loop_post(t->node->loops[0], wall_free_task, t) < 0)
        AX_LOG_W(LOG_MODULE, "a timer could not be freed now; the node frees it");
}

int ax__node_clock_start(ax_node *node)
{
    if (!node->cfg.use_sim_time)
        return 0;
    int rc = ax_sub_new_raw(&node->clock_sub, node, node->cfg.clock_topic, AX_CLOCK_TYPE, on_clock,
                            node, NULL);
    if (rc < 0)
        AX_LOG_E(LOG_MODULE, "node.use_sim_time: cannot subscribe to %s: %s", node->cfg.clock_topic,
                 ax_strerror(rc));
    return rc;
}

void ax__node_clock_close(ax_node *node)
{
    /* Loop 0's thread, while the node is destroyed: stop the wall timers
     * there (their handles are loop 0's). */
    pthread_mutex_lock(&node->clock_lock);
    for (ax_node_timer *t = node->timers; t; t = t->next) {
        atomic_store(&t->cancelled, true);
        if (t->started) {
            ax_timer_stop(&t->timer);
            t->started = false;
        }
    }
    pthread_mutex_unlock(&node->clock_lock);
}

void ax__node_clock_free(ax_node *node)
{
    /* The loops are gone: nothing fires, no task is left. */
    for (ax_node_timer *t = node->timers, *next; t; t = next) {
        next = t->next;
        free(t);
    }
    node->timers = NULL;
    pthread_mutex_destroy(&node->clock_lock);
}
