/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A subscription's own queue: QoS per subscription on a shared link.
 *
 * A node has one link per remote publisher and topic, whatever number of
 * subscriptions it has there, and that link asks the publisher for the
 * QoS of the most demanding one (deliver.c, ax__topic_wanted_qos): block
 * over dropping, reliable over best effort, the longest history. The
 * subscription that asked for it is served straight from the link. One
 * that asked for less (a best-effort, latest-only viewer beside a lossless
 * recorder) would otherwise get the lead's treatment: its slow callback
 * would hold up every message of the link, and with it the recorder and
 * the publisher. It gets a queue of its own instead, bounded by its own
 * QoS (best effort: its history; reliable: transport.queue_frames; both
 * within queue_bytes, and half of shm_quota and shm_quota_bytes) and
 * emptied by its own overload policy, each drop counted on it with its
 * reason. The queue is emptied from a task posted to the shard, a bounded
 * batch at a time, so the link is read between its callbacks: the
 * subscriptions that kept up are fed while it catches up on the newest.
 *
 * Messages wait retained (msg_retain.c): a large one keeps its buffer (a
 * shared-memory chunk counts against the publisher's quota meanwhile),
 * a small one is copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/clock.h"
#include "base/ax__array.h"
#include "core/ax__pubsub.h"

#define DRAIN_BATCH       64                   /* callbacks per subscription per turn */
#define DROP_EVENT_PERIOD (100 * AX_NS_PER_MS) /* as publishers coalesce theirs */

bool ax__sub_queue_wanted(const struct ax_sub *sub, const struct ax_qos *link)
{
    const struct ax_qos *q = &sub->ep.qos;
    if (q->overload == AX_OVERLOAD_BLOCK)
        return false; /* the lead, or as strict as it: straight from the link */
    return q->overload != link->overload || q->reliability != link->reliability ||
           (q->reliability == AX_BEST_EFFORT && q->history < link->history);
}

static void drop_timer_cb(ax_timer *t, void *user)
{
    struct ax_sub *sub = user;
    (void)t;
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++) {
        if (!sub->q.pending_drops[r])
            continue;
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AX_PS_DROPPED;
        ev.dropped = sub->q.pending_drops[r];
        ev.reason = (enum ax_drop_reason)r;
        snprintf(ev.text, sizeof ev.text,
                 "%s: %llu message(s) dropped from this subscription's queue (%s)", sub->ep.topic,
                 (unsigned long long)ev.dropped, ax_drop_reason_name(ev.reason));
        sub->q.pending_drops[r] = 0;
        ax__emit(&sub->ev, sub, &ev);
    }
}

static void count_drop(struct ax_sub *sub, enum ax_drop_reason reason)
{
    atomic_fetch_add_explicit(&sub->ctr.drops[reason], 1, memory_order_relaxed);
    sub->q.pending_drops[reason]++;
    if (sub->ev.fn && !ax_timer_active(&sub->q.drop_timer))
        ax_timer_start(&sub->q.drop_timer, DROP_EVENT_PERIOD, 0);
}

static struct ax_msg *pop(struct ax__sub_queue *q)
{
    struct ax_msg *m = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    q->bytes -= m->len;
    return m;
}

static void drop_oldest(struct ax_sub *sub, enum ax_drop_reason reason)
{
    ax_msg_release(pop(&sub->q));
    count_drop(sub, reason);
}

/* Room for one more pointer: the ring grows (in order) as messages come,
 * so a deep bound costs nothing until it is used. */
static int grow(struct ax__sub_queue *q)
{
    if (q->count < q->cap)
        return 0;
    uint32_t cap = q->cap ? q->cap * 2 : 8;
    struct ax_msg **ring = malloc((size_t)cap * sizeof *ring);
    if (!ring)
        return AX_ENOMEM;
    for (uint32_t i = 0; i < q->count; i++)
        ring[i] = q->ring[(q->head + i) % q->cap];
    free(q->ring);
    q->ring = ring;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static void drain_task(void *arg);

static void list(struct ax_sub *sub)
{
    struct ax__shard *s = sub->shard;
    if (!sub->q.listed) {
        if (ax__array_reserve(&s->queued, &s->queued_cap, s->nqueued + 1, 8) < 0)
            return; /* not listed: drained when the next message lists it */
        s->queued[s->nqueued++] = sub;
        sub->q.listed = true;
    }
    if (!s->queue_posted && !s->closing && ax_loop_post(s->loop, drain_task, s) == 0)
        s->queue_posted = true;
}

void ax__sub_queue_push(struct ax_sub *sub, const struct ax_msg *m)
{
    const struct ax_qos *qos = &sub->ep.qos;
    const struct ax_config *cfg = &sub->node->cfg;
    struct ax__sub_queue *q = &sub->q;
    /* Queued chunks count against the publisher's quota for this node
     * (chunks and bytes): half of it at most, so that a slow subscription
     * cannot hold all of it and stall the topic for the others. */
    uint64_t max_frames =
        qos->reliability == AX_BEST_EFFORT ? qos->history : cfg->transport.queue_frames;
    if (cfg->transport.shm_quota / 2 < max_frames)
        max_frames = cfg->transport.shm_quota / 2;
    uint64_t max_bytes = cfg->transport.queue_bytes;
    if (cfg->transport.shm_quota_bytes / 2 < max_bytes)
        max_bytes = cfg->transport.shm_quota_bytes / 2;
    if (max_frames == 0)
        max_frames = 1;
    bool full = q->count >= max_frames || (q->count && q->bytes + m->len > max_bytes);
    if (full || (qos->overload == AX_OVERLOAD_LATEST_ONLY && q->count)) {
        switch (qos->overload) {
        case AX_OVERLOAD_DROP_NEWEST:
            count_drop(sub, AX_DROP_QUEUE_NEWEST);
            return;
        case AX_OVERLOAD_LATEST_ONLY:
            while (q->count)
                drop_oldest(sub, AX_DROP_QUEUE_LATEST);
            break;
        case AX_OVERLOAD_DISCONNECT:
            /* Its link serves others, so it is not cut: what it let pile
             * up goes, counted as a disconnect would count it. */
            while (q->count)
                drop_oldest(sub, AX_DROP_DISCONNECT);
            break;
        default: /* drop_oldest (block is never queued) */
            while (q->count && (q->count >= max_frames || q->bytes + m->len > max_bytes))
                drop_oldest(sub, AX_DROP_QUEUE_OLDEST);
            break;
        }
    }
    struct ax_msg *kept = NULL;
    if (grow(q) < 0 || ax_msg_retain(m, &kept) < 0) {
        /* Out of memory: the message is lost to this subscription only,
         * and counted like one its queue had no room for. */
        count_drop(sub, AX_DROP_QUEUE_NEWEST);
        return;
    }
    q->ring[(q->head + q->count) % q->cap] = kept;
    q->count++;
    q->bytes += kept->len;
    list(sub);
}

/* Up to DRAIN_BATCH callbacks of @sub. Returns false when @sub went
 * (freed from one of them). */
static bool drain_one(struct ax_sub *sub)
{
    for (unsigned n = 0; n < DRAIN_BATCH && sub->q.count; n++) {
        if (atomic_load_explicit(&sub->closed, memory_order_relaxed))
            return true; /* its fini releases the rest */
        struct ax_msg *m = pop(&sub->q);
        /* Its callback may free it: then only at the end of this one. */
        sub->busy++;
        ax__deliver_to(sub, m);
        ax_msg_release(m);
        if (--sub->busy == 0 && sub->free_pending) {
            sub->node->ps_ops->free_sub(sub);
            return false;
        }
    }
    return true;
}

static void drain_task(void *arg)
{
    struct ax__shard *s = arg;
    s->queue_posted = false;
    if (s->closing)
        return;
    s->draining = true;
    for (size_t i = 0; i < s->nqueued; i++) {
        struct ax_sub *sub = s->queued[i];
        if (sub && !drain_one(sub))
            s->queued[i] = NULL; /* freed: its fini left a NULL already */
    }
    s->draining = false;
    /* The emptied go; the rest wait for the next turn, after the links
     * have been read again. */
    size_t k = 0;
    for (size_t i = 0; i < s->nqueued; i++) {
        struct ax_sub *sub = s->queued[i];
        if (!sub)
            continue;
        if (sub->q.count == 0 || atomic_load_explicit(&sub->closed, memory_order_relaxed))
            sub->q.listed = false;
        else
            s->queued[k++] = sub;
    }
    s->nqueued = k;
    if (k && ax_loop_post(s->loop, drain_task, s) == 0)
        s->queue_posted = true;
}

void ax__sub_queue_init(struct ax_sub *sub)
{
    ax_timer_init(sub->shard->loop, &sub->q.drop_timer, drop_timer_cb, sub);
}

void ax__sub_queue_fini(struct ax_sub *sub)
{
    struct ax__sub_queue *q = &sub->q;
    ax_timer_stop(&q->drop_timer);
    while (q->count)
        ax_msg_release(pop(q));
    free(q->ring);
    q->ring = NULL;
    q->cap = 0;
    if (!q->listed)
        return;
    struct ax__shard *s = sub->shard;
    for (size_t i = 0; i < s->nqueued; i++) {
        if (s->queued[i] != sub)
            continue;
        if (s->draining) /* the drain compacts at its end */
            s->queued[i] = NULL;
        else
            s->queued[i] = s->queued[--s->nqueued];
        break;
    }
    q->listed = false;
}
