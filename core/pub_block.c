/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A publisher's write queues, and waiting for room at lossless
 * subscribers (overload `block`, like DDS KEEP_ALL writers).
 *
 * The queues are the links' (transport/stream): bounded by
 * transport.queue_frames and transport.queue_bytes (a shared-memory
 * descriptor weighs the chunk it holds). For a subscriber whose policy is
 * block nothing is dropped: the publisher does not send until there is
 * room. The shard, which owns the links, measures the least room among
 * the block links (room_f, room_b) after every change of a queue and
 * publishes a horizon: the admitted publishes it has delivered plus that
 * room (horizon_frames, horizon_bytes). A publish from another thread is
 * admitted while the publishes admitted so far (admitted_f, admitted_b)
 * are below it, which is: what it admitted and the shard has not delivered
 * yet leaves room. A delivery moves both terms by the same amount, so the
 * horizon changes only when a queue drains (a flush), a link comes or
 * goes, or the shard publishes itself: one store per batch, not per
 * message, and the publishing thread's counters are written by publishing
 * threads only (no cache line goes back and forth per message). Frames
 * are weighed as the queue weighs them, payload and frame header.
 *
 * Without room a publish from an application thread waits on a condition
 * variable, up to the QoS max_blocking_ns, and fails with AX_ETIMEDOUT. A
 * publish on the shard's own thread (from a callback) never waits:
 * AX_EAGAIN at once, and AX_PS_WRITABLE when room comes back.
 *
 * Memory ordering: a waiting thread raises `waiters` (seq_cst) before it
 * reads the horizon, and the shard writes the horizon (seq_cst) before it
 * reads `waiters`; so either the thread sees the new horizon or the shard
 * sees the waiter and broadcasts (under the mutex, which the thread holds
 * from its check to its wait: no wake-up is lost). A publish that finds
 * room does not touch `waiters` or the mutex. The bound is soft by the few
 * messages threads admit at once (each checks, then counts); the queue
 * takes them beyond its bound rather than drop them (wq.c).
 *
 * Only the topics such a subscriber reads wait: the room is per publisher.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon/clock.h"
#include "core/ax__pubsub.h"

void ax__pub_block_init(struct ax_pub *pub)
{
    atomic_init(&pub->horizon_frames, INT64_MAX);
    atomic_init(&pub->horizon_bytes, INT64_MAX);
    pub->room_f = pub->room_b = INT64_MAX;
    pub->seen_hf = pub->seen_hb = INT64_MAX;
    pthread_mutex_init(&pub->wait_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pub->wait_cv, &ca);
    pthread_condattr_destroy(&ca);
}

void ax__pub_block_fini(struct ax_pub *pub)
{
    pthread_cond_destroy(&pub->wait_cv);
    pthread_mutex_destroy(&pub->wait_mu);
}

/* What a frame of @len payload bytes weighs in a queue (wq.c). */
static int64_t weight(size_t len)
{
    return (int64_t)len + AX__FRAME_HEADER_SIZE;
}

static bool has_room(struct ax_pub *pub)
{
    return atomic_load(&pub->admitted_f) < atomic_load(&pub->horizon_frames) &&
           atomic_load(&pub->admitted_b) < atomic_load(&pub->horizon_bytes);
}

/* Shard: publish the horizon if it moved; whether it did. */
static bool publish_horizon(struct ax_pub *pub)
{
    int64_t hf = pub->room_f == INT64_MAX ? INT64_MAX : pub->deliv_f + pub->room_f;
    int64_t hb = pub->room_b == INT64_MAX ? INT64_MAX : pub->deliv_b + pub->room_b;
    if (hf == pub->seen_hf && hb == pub->seen_hb)
        return false;
    pub->seen_hf = hf;
    pub->seen_hb = hb;
    atomic_store(&pub->horizon_frames, hf);
    atomic_store(&pub->horizon_bytes, hb);
    return true;
}

static void wake_waiters(struct ax_pub *pub)
{
    if (atomic_load(&pub->waiters)) {
        pthread_mutex_lock(&pub->wait_mu);
        pthread_cond_broadcast(&pub->wait_cv);
        pthread_mutex_unlock(&pub->wait_mu);
    }
}

/* Recompute the counters' queue figures and the room at block links. */
static bool measure(struct ax_pub *pub)
{
    const struct ax_config *c = &pub->node->cfg;
    uint64_t m = 0, b = 0;
    int64_t rf = INT64_MAX, rb = INT64_MAX;
    for (size_t i = 0; i < pub->npsubs; i++) {
        const struct ax__psub *ps = pub->psubs[i];
        uint64_t qm, qb;
        ax__link_queued(ps->link, &qm, &qb);
        if (qm > m)
            m = qm;
        if (qb > b)
            b = qb;
        if (ps->qos.overload != AX_OVERLOAD_BLOCK)
            continue;
        uint32_t frames =
            ps->qos.reliability == AX_RELIABLE ? c->transport.queue_frames : ps->qos.history;
        int64_t f = (int64_t)frames - (int64_t)qm;
        int64_t y = (int64_t)ps->queue_bytes - (int64_t)qb;
        if (f < rf)
            rf = f;
        if (y < rb)
            rb = y;
    }
    atomic_store_explicit(&pub->ctr.queued_messages, m, memory_order_relaxed);
    atomic_store_explicit(&pub->ctr.queued_bytes, b, memory_order_relaxed);
    pub->room_f = rf;
    pub->room_b = rb;
    return publish_horizon(pub);
}

void ax__pub_note_queue(struct ax_pub *pub)
{
    measure(pub); /* a delivery: the room only shrank, nobody to wake */
}

/* Posted by a guest (below): the publisher by its id, not by pointer, for
 * it may be freed before the task runs. */
struct room_recheck {
    struct ax__shard *shard;
    uint32_t pub_id;
};

static void room_task(void *arg)
{
    struct room_recheck *r = arg;
    struct ax_pub *pub = r->shard->closing ? NULL : ax__topic_find_pub(r->shard, r->pub_id);
    if (pub && !atomic_load(&pub->closed))
        ax__pub_room_changed(pub, true);
    free(r);
}

void ax__pub_room_changed(struct ax_pub *pub, bool may_emit)
{
    if (measure(pub))
        wake_waiters(pub);
    /* An application thread acting for the loop (a direct publish): what
     * follows runs user code (a resumed input's callbacks, the event), which
     * belongs on the loop's thread. Only when there is something to do, so
     * a direct publish does not wake the loop for nothing. */
    if (ax__shard_guest()) {
        if ((atomic_load(&pub->any_paused) || (may_emit && atomic_load(&pub->want_writable))) &&
            has_room(pub)) {
            struct room_recheck *r = malloc(sizeof *r);
            if (r) { /* else the next drain of its links tells */
                r->shard = pub->shard;
                r->pub_id = pub->ep.id;
                if (ax_loop_post(pub->shard->loop, room_task, r) < 0)
                    free(r);
            }
        }
        return;
    }
    if (atomic_load(&pub->any_paused) && has_room(pub))
        ax__pipeline_resume(pub);
    if (may_emit && atomic_load(&pub->want_writable) && has_room(pub)) {
        atomic_store(&pub->want_writable, false);
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AX_PS_WRITABLE;
        snprintf(ev.text, sizeof ev.text, "%s: room again at the subscribers that block",
                 pub->ep.topic);
        ax__emit(&pub->ev, pub, &ev);
    }
}

int ax__pub_block_admit(struct ax_pub *pub, size_t len, bool no_wait, bool *admitted)
{
    *admitted = false;
    if (atomic_load_explicit(&pub->nblock, memory_order_relaxed) == 0)
        return 0;
    if (no_wait) { /* a loop thread, maybe the one that would make room */
        if (has_room(pub))
            return 0;
        atomic_store(&pub->want_writable, true);
        return AX_EAGAIN;
    }
    if (has_room(pub)) { /* the common case: no clock, no lock */
        atomic_fetch_add_explicit(&pub->admitted_f, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pub->admitted_b, weight(len), memory_order_relaxed);
        *admitted = true;
        return 0;
    }
    int64_t deadline = ax_clock_mono_ns() + pub->ep.qos.max_blocking_ns;
    struct timespec ts = {.tv_sec = deadline / AX_NS_PER_S, .tv_nsec = deadline % AX_NS_PER_S};
    int rc = 0;
    atomic_fetch_add(&pub->waiters, 1);
    pthread_mutex_lock(&pub->wait_mu);
    while (!has_room(pub)) {
        if (atomic_load(&pub->closed)) {
            rc = AX_ECLOSED;
            break;
        }
        if (ax_clock_mono_ns() >= deadline ||
            pthread_cond_timedwait(&pub->wait_cv, &pub->wait_mu, &ts) == ETIMEDOUT) {
            if (!has_room(pub))
                rc = AX_ETIMEDOUT;
            break;
        }
    }
    if (rc == 0) {
        atomic_fetch_add(&pub->admitted_f, 1);
        atomic_fetch_add(&pub->admitted_b, weight(len));
        *admitted = true;
    }
    pthread_mutex_unlock(&pub->wait_mu);
    atomic_fetch_sub(&pub->waiters, 1);
    if (rc == AX_ETIMEDOUT)
        atomic_fetch_add_explicit(&pub->block_timeouts, 1, memory_order_relaxed);
    return rc;
}

void ax__pub_block_unadmit(struct ax_pub *pub, size_t len)
{
    atomic_fetch_sub(&pub->admitted_f, 1);
    atomic_fetch_sub(&pub->admitted_b, weight(len));
    wake_waiters(pub); /* another thread may have waited for this room */
}

void ax__pub_block_delivering(struct ax_pub *pub, size_t len)
{
    pub->deliv_f++;
    pub->deliv_b += weight(len);
}

void ax__pub_block_delivered(struct ax_pub *pub)
{
    /* The delivery measured the queues, unless it had no link to send on:
     * then the horizon moves here. A waiter may wait for the hand-over
     * queue (ax__pub_block_wait_queue) rather than for room. */
    publish_horizon(pub);
    wake_waiters(pub);
}

int ax__pub_block_wait_queue(struct ax_pub *pub, int64_t wait_ns)
{
    int64_t deadline = ax_clock_mono_ns() + wait_ns;
    int rc = 0;
    atomic_fetch_add(&pub->waiters, 1);
    pthread_mutex_lock(&pub->wait_mu);
    while (ax__shard_backlog_full(pub->shard)) {
        if (atomic_load(&pub->closed)) {
            rc = AX_ECLOSED;
            break;
        }
        int64_t now = ax_clock_mono_ns();
        if (now >= deadline) {
            rc = AX_ETIMEDOUT;
            break;
        }
        /* Woken by this publisher's deliveries; other publishers of the
         * shard free the queue too, unannounced: look again every ms. */
        int64_t until = now + AX_NS_PER_MS < deadline ? now + AX_NS_PER_MS : deadline;
        struct timespec ts = {.tv_sec = until / AX_NS_PER_S, .tv_nsec = until % AX_NS_PER_S};
        pthread_cond_timedwait(&pub->wait_cv, &pub->wait_mu, &ts);
    }
    pthread_mutex_unlock(&pub->wait_mu);
    atomic_fetch_sub(&pub->waiters, 1);
    return rc;
}

void ax__pub_set_block(struct ax__psub *ps, bool block)
{
    struct ax_pub *pub = ps->pub;
    if (ps->block == block)
        return;
    ps->block = block;
    if (pub)
        atomic_fetch_add(&pub->nblock, block ? 1u : (unsigned)-1);
}
