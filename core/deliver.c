/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handing messages and events to a topic's local subscriptions: what the
 * publisher side (a local publisher) and the subscriber side (a remote
 * publisher's link) both do, kept below both so they need not call each
 * other.
 */
#include <stdio.h>
#include <string.h>

#include "axon/clock.h"
#include "core/ax__pubsub.h"

void ax__deliver_to(struct ax_sub *sub, struct ax_msg *m)
{
    m->priv_ = sub;
    /* Lifespan runs from the source's stamp to delivery (qos.h), and a
     * frame may wait in the reader after the read that stamped
     * received_ns (a paused lossless input): the clock now, read only for
     * subscriptions that ask for a lifespan. */
    if (sub->ep.qos.lifespan_ns > 0 &&
        ax_clock_real_ns() - m->source_ns > sub->ep.qos.lifespan_ns) {
        atomic_fetch_add_explicit(&sub->ctr.drops[AX_DROP_LIFESPAN], 1, memory_order_relaxed);
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AX_PS_DROPPED;
        ev.node_id = m->publisher_node;
        ev.endpoint_id = m->publisher_id;
        ev.dropped = 1;
        ev.reason = AX_DROP_LIFESPAN;
        snprintf(ev.text, sizeof ev.text, "%s: message %llu older than its lifespan, dropped",
                 m->topic, (unsigned long long)m->seq);
        ax__emit(&sub->ev, sub, &ev);
        return;
    }
    ax__ep_count(&sub->ctr.messages, 1);
    ax__ep_count(&sub->ctr.bytes, m->len);
    if (sub->ep.qos.deadline_ns > 0)
        ax_timer_start(&sub->deadline, sub->ep.qos.deadline_ns, sub->ep.qos.deadline_ns);
    /* Nothing touches @sub after this call: the callback may free it. Its
     * publishes know whether they come from a lossless input (pipeline.c). */
    struct ax__topic *outer = ax__lossless_input;
    ax__lossless_input = sub->ep.qos.overload == AX_OVERLOAD_BLOCK ? sub->topic : NULL;
    sub->cb(sub, m, sub->user);
    ax__lossless_input = outer;
}

void ax__sub_deliver_local(struct ax__topic *t, const struct ax_pub *pub, ax__buf *buf,
                           uint64_t seq, int64_t ts)
{
    struct ax_msg m = {.data = buf->data,
                       .len = buf->len,
                       .topic = t->name,
                       .type_name = pub->ep.type_name,
                       .seq = seq,
                       .source_ns = ts,
                       .received_ns = ax_clock_real_ns(),
                       .publisher_node = pub->node->id,
                       .publisher_id = pub->ep.id,
                       .intra_process = true,
                       .buf_ = buf};
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (s && !atomic_load_explicit(&s->closed, memory_order_relaxed) &&
            ax__same_type(s->ep.type_hash, pub->ep.type_hash))
            ax__deliver_to(s, &m);
    }
    ax__topic_iter_end(t);
}

void ax__topic_emit(struct ax__topic *t, const uint8_t *hash, struct ax_pubsub_event *ev)
{
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (s && (!hash || ax__same_type(s->ep.type_hash, hash)))
            ax__emit(&s->ev, s, ev);
    }
    ax__topic_iter_end(t);
}

void ax__topic_set_last_error(struct ax__topic *t, const uint8_t *hash, int err)
{
    for (size_t i = 0; i < t->nsubs; i++)
        if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, hash))
            atomic_store(&t->subs[i]->ctr.last_error, err);
}

void ax__topic_count_connections(struct ax__topic *t, const uint8_t *hash, int delta)
{
    for (size_t i = 0; i < t->nsubs; i++) {
        if (!t->subs[i] || !ax__same_type(t->subs[i]->ep.type_hash, hash))
            continue;
        if (delta > 0)
            atomic_fetch_add(&t->subs[i]->ctr.connections, (unsigned)delta);
        else
            atomic_fetch_sub(&t->subs[i]->ctr.connections, (unsigned)-delta);
    }
}

/* A subscription's shared-memory choice, the node's when it has none. */
static enum ax_shm_use shm_use(const struct ax__topic *t, enum ax_shm_use u)
{
    if (u == AX_SHM_DEFAULT)
        u = t->shard->node->cfg.transport.shm;
    return u == AX_SHM_DEFAULT ? AX_SHM_AUTO : u;
}

/* How much a subscription asks of a link: lossless first, then reliable. */
static int demand(const struct ax_qos *q)
{
    return (q->overload == AX_OVERLOAD_BLOCK) * 2 + (q->reliability == AX_RELIABLE);
}

void ax__topic_wanted_qos(struct ax__topic *t, const uint8_t *hash, struct ax_qos *q)
{
    bool first = true;
    for (size_t i = 0; i < t->nsubs; i++) {
        const struct ax_sub *s = t->subs[i];
        if (!s || !ax__same_type(s->ep.type_hash, hash))
            continue;
        const struct ax_qos *o = &s->ep.qos;
        enum ax_shm_use u = shm_use(t, o->shm);
        if (first) {
            *q = *o;
            q->shm = u;
            first = false;
            continue;
        }
        /* The link takes the reliability and overload policy of the most
         * demanding subscription (the first of equals); the others that
         * asked for less get their own queue (sub_queue.c). */
        if (demand(o) > demand(q)) {
            q->reliability = o->reliability;
            q->overload = o->overload;
        }
        if (o->durability == AX_TRANSIENT_LOCAL)
            q->durability = AX_TRANSIENT_LOCAL;
        if (o->history > q->history)
            q->history = o->history;
        /* require > auto > off: one subscription that wants it gets it */
        if (u == AX_SHM_REQUIRE || (u == AX_SHM_AUTO && q->shm == AX_SHM_OFF))
            q->shm = u;
    }
    if (first) {
        *q = AX_QOS_DEFAULT;
        q->shm = shm_use(t, AX_SHM_DEFAULT);
    }
}
