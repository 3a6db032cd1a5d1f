/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sequence continuity on the subscriber side: every hole in what a
 * publisher sent is reported, whatever happened to the link in between
 * (docs/pubsub.md, "Nothing is lost silently").
 *
 * An rpub lives only while discovery lists its publisher, but the numbers
 * it has seen must outlive it: a publisher stopped past its lease, evicted
 * by a (forged) Bye or cut off by the network comes back as the same node
 * (same id, same incarnation) and goes on numbering where it was. So the
 * topic keeps, for every publisher whose rpub went, the last number it
 * delivered (`struct ax__seq_memory`). A new rpub of the same node and
 * incarnation starts from it, asks the publisher for what follows (its
 * SUBSCRIBE carries last_seq, so transient-local history refills what it
 * can) and reports the rest as a gap when the ACK tells where the live
 * data resumes.
 *
 * A publisher whose process restarted (same node name and endpoint id,
 * another node id or incarnation) numbers from 1 again: what its
 * predecessor published after the last message delivered here died with
 * it, or was never sent, and no one can say how much. That is reported as
 * a gap with `restarted` set. The predecessor may still be in the table
 * (a restart within its lease: its rpub waits for a process that is gone)
 * or already remembered; either way it is reported once.
 *
 * The memory is bounded (AX__SEQ_MEMORY_MAX per topic, the oldest
 * forgotten first, with a warning): a subscriber cannot be made to grow by
 * publishers that come and go.
 */
#include <stdio.h>
#include <string.h>

#include "axon/log.h"
#include "base/ax__array.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"

/* Publishers remembered per topic. A publisher that leaves and returns
 * takes one entry while it is away. */
#define AX__SEQ_MEMORY_MAX 256

static void gap_event(struct ax_pubsub_event *ev, const struct ax__rpub *l)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = AX_PS_GAP;
    ev->node_id = l->pub.node_id;
    snprintf(ev->node_name, sizeof ev->node_name, "%s", l->pub.node_name);
    ev->endpoint_id = l->pub.id;
}

void ax__seq_report_gap(struct ax__rpub *l, uint64_t expected, uint64_t received, const char *why)
{
    struct ax__topic *t = l->topic;
    if (received <= expected)
        return; /* nothing missing (or a peer's numbers that wrapped) */
    struct ax_pubsub_event ev;
    gap_event(&ev, l);
    ev.expected_seq = expected;
    ev.received_seq = received;
    ev.missing = received - expected;
    snprintf(ev.text, sizeof ev.text, "%s: %llu message(s) from '%s' never arrived (%llu..%llu)%s",
             t->name, (unsigned long long)ev.missing, l->pub.node_name,
             (unsigned long long)expected, (unsigned long long)(received - 1), why);
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++)
        if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, l->pub.type_hash))
            atomic_fetch_add(&t->subs[i]->ctr.gaps, ev.missing);
    ax__topic_iter_end(t);
    ax__topic_emit(t, l->pub.type_hash, &ev);
}

static bool same_publisher(const struct ax__seq_memory *m, const struct ax__rpub *l)
{
    return m->endpoint_id == l->pub.id && strcmp(m->node_name, l->pub.node_name) == 0;
}

static bool same_process(const struct ax__seq_memory *m, const struct ax__rpub *l)
{
    return m->node_id == l->pub.node_id && m->incarnation == l->incarnation;
}

static void forget(struct ax__topic *t, size_t i)
{
    memmove(&t->seq_mem[i], &t->seq_mem[i + 1], (t->nseq_mem - i - 1) * sizeof t->seq_mem[0]);
    t->nseq_mem--;
}

static void report_restart(struct ax__rpub *l, uint64_t last_seq, uint64_t next_seq)
{
    struct ax_pubsub_event ev;
    gap_event(&ev, l);
    ev.restarted = true;
    ev.expected_seq = last_seq + 1;
    ev.received_seq = next_seq;
    snprintf(ev.text, sizeof ev.text,
             "%s: publisher on '%s' restarted: %llu message(s) of the old process arrived, what "
             "it published after them is unknown; the new one starts at %llu",
             l->topic->name, l->pub.node_name, (unsigned long long)last_seq,
             (unsigned long long)next_seq);
    AX_LOG_I(LOG_MODULE, "%s", ev.text);
    struct ax__topic *t = l->topic;
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++)
        if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, l->pub.type_hash))
            atomic_fetch_add(&t->subs[i]->ctr.restarts, 1);
    ax__topic_iter_end(t);
    ax__topic_emit(t, l->pub.type_hash, &ev);
}

void ax__seq_remember(struct ax__rpub *l)
{
    struct ax__topic *t = l->topic;
    if (!l->seq_known)
        return; /* never subscribed, or its numbers were handed to a successor */
    /* Its successor is here already (the new process subscribed while this
     * one's link still looked alive, as a peer on another host does until
     * its lease ends): report the restart through it now. */
    for (size_t i = 0; i < t->nrpubs; i++) {
        struct ax__rpub *o = t->rpubs[i];
        if (o != l && !o->removed && o->seq_known && o->pub.id == l->pub.id &&
            strcmp(o->pub.node_name, l->pub.node_name) == 0 &&
            (o->pub.node_id != l->pub.node_id || o->incarnation != l->incarnation)) {
            report_restart(o, l->last_seq, o->first_seq);
            return;
        }
    }
    for (size_t i = 0; i < t->nseq_mem; i++)
        if (same_publisher(&t->seq_mem[i], l) && same_process(&t->seq_mem[i], l)) {
            t->seq_mem[i].last_seq = l->last_seq;
            return;
        }
    if (t->nseq_mem == AX__SEQ_MEMORY_MAX) {
        AX_LOG_W(LOG_MODULE,
                 "%s: %d publishers that left are remembered; forgetting the oldest ('%s'): a "
                 "return of it will not be checked for a gap",
                 t->name, AX__SEQ_MEMORY_MAX, t->seq_mem[0].node_name);
        forget(t, 0);
    }
    if (ax__array_reserve(&t->seq_mem, &t->seq_mem_cap, t->nseq_mem + 1, 4) < 0) {
        AX_LOG_W(LOG_MODULE, "%s: out of memory: a return of '%s' will not be checked for a gap",
                 t->name, l->pub.node_name);
        return;
    }
    struct ax__seq_memory *m = &t->seq_mem[t->nseq_mem++];
    snprintf(m->node_name, sizeof m->node_name, "%s", l->pub.node_name);
    m->endpoint_id = l->pub.id;
    m->node_id = l->pub.node_id;
    m->incarnation = l->incarnation;
    m->last_seq = l->last_seq;
}

void ax__seq_resume(struct ax__rpub *l)
{
    struct ax__topic *t = l->topic;
    for (size_t i = 0; i < t->nseq_mem; i++)
        if (same_publisher(&t->seq_mem[i], l) && same_process(&t->seq_mem[i], l)) {
            l->seq_known = true;
            l->last_seq = t->seq_mem[i].last_seq;
            forget(t, i);
            return;
        }
}

void ax__seq_on_ack(struct ax__rpub *l, uint64_t next_seq, uint64_t history_first)
{
    struct ax__topic *t = l->topic;
    if (next_seq == 0)
        next_seq = 1; /* a peer that says nothing: numbers start at 1 */
    if (l->seq_known) {
        /* The same publisher again: what it sent meanwhile is lost, except
         * what the history that follows this ACK brings back. */
        uint64_t end = next_seq;
        if (history_first && history_first < end)
            end = history_first > l->last_seq + 1 ? history_first : l->last_seq + 1;
        if (l->last_seq < UINT64_MAX && end > l->last_seq + 1)
            ax__seq_report_gap(l, l->last_seq + 1, end, "; the link was down");
    } else {
        /* Its predecessors, in the table still or remembered: all found
         * first, then reported, because a callback of the report may free
         * subscriptions, and with them rpubs and this array. */
        uint64_t last[8];
        size_t n = 0;
        for (size_t i = 0; i < t->nrpubs; i++) {
            struct ax__rpub *o = t->rpubs[i];
            if (o != l && !o->removed && o->seq_known && o->state != AX__RPUB_ACTIVE &&
                o->pub.id == l->pub.id && strcmp(o->pub.node_name, l->pub.node_name) == 0 &&
                (o->pub.node_id != l->pub.node_id || o->incarnation != l->incarnation)) {
                if (n < sizeof last / sizeof last[0])
                    last[n++] = o->last_seq;
                o->seq_known = false; /* reported: its removal remembers nothing */
            }
        }
        for (size_t i = t->nseq_mem; i-- > 0;)
            if (same_publisher(&t->seq_mem[i], l) && !same_process(&t->seq_mem[i], l)) {
                if (n < sizeof last / sizeof last[0])
                    last[n++] = t->seq_mem[i].last_seq;
                forget(t, i);
            }
        /* From here on every number is accounted for: the live data
         * starts at next_seq (history frames below it do not move this). */
        l->first_seq = next_seq;
        l->last_seq = next_seq - 1;
        l->seq_known = true;
        for (size_t i = 0; i < n; i++)
            report_restart(l, last[i], next_seq);
        return;
    }
    if (next_seq - 1 > l->last_seq) /* the live data resumes at next_seq */
        l->last_seq = next_seq - 1;
}
