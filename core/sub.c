/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subscriptions: the API, and matching a new subscription with the
 * topic's publishers — local ones directly (with a late joiner's history),
 * remote ones through their rpubs (sub_link.c). Delivery itself is
 * deliver.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"
#define MAX_DEPTH  100 /* nesting accepted by ax_msg_unpack() */

void ax_sub_options_init(struct ax_sub_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->qos = AX_QOS_DEFAULT;
}

int ax_msg_unpack(const struct ax_msg *msg, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out)
{
    if (!msg || !desc || !out)
        return AX_EINVAL;
    /* protobuf-c's unpack recurses without a depth limit: a hostile
     * publisher could nest messages until the stack overflows. */
    int rc = ax_msg_wire_check(desc, msg->data, msg->len, MAX_DEPTH);
    if (rc < 0)
        return rc;
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, msg->len, msg->data);
    if (!m)
        return AX_EPROTO;
    *out = m;
    return 0;
}

/* ---- subscriptions ---- */

static void deadline_cb(ax_timer *tm, void *user)
{
    struct ax_sub *s = user;
    (void)tm;
    struct ax_pubsub_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = AX_PS_DEADLINE_MISSED;
    snprintf(ev.text, sizeof ev.text, "%s: no message within the %.3f s deadline", s->ep.topic,
             (double)s->ep.qos.deadline_ns / 1e9);
    ax__emit(&s->ev, s, &ev);
}

static void sub_attach(struct ax_sub *sub)
{
    if (sub->attached || atomic_load(&sub->closed))
        return;
    struct ax__topic *t = ax__topic_get(sub->shard, sub->ep.topic, true);
    if (!t)
        return;
    if (ax__topic_add_sub(t, sub) < 0) {
        AX_LOG_E(LOG_MODULE, "%s: out of memory: subscription not attached", sub->ep.topic);
        ax__topic_maybe_free(t);
        return;
    }
    sub->topic = t;
    sub->attached = true;
    if (sub->ep.qos.deadline_ns > 0)
        ax_timer_start(&sub->deadline, sub->ep.qos.deadline_ns, sub->ep.qos.deadline_ns);
    /* Events and history below call the application, which may free this
     * subscription (its free waits for the end: busy) or another, and with
     * it the topic (held until the end). */
    sub->busy++;
    ax__topic_iter_begin(t);

    /* Local publishers: match (and a late joiner's history), or mismatch. */
    for (size_t i = 0; i < t->npubs && !atomic_load(&sub->closed); i++) {
        struct ax_pub *pub = t->pubs[i];
        if (!pub)
            continue;
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.node_id = sub->node->id;
        snprintf(ev.node_name, sizeof ev.node_name, "%s", sub->node->name);
        ev.intra_process = true;
        if (!ax__same_type(pub->ep.type_hash, sub->ep.type_hash)) {
            ev.kind = AX_PS_TYPE_MISMATCH;
            ev.endpoint_id = sub->ep.id;
            snprintf(ev.type_name, sizeof ev.type_name, "%s", sub->ep.type_name);
            memcpy(ev.type_hash, sub->ep.type_hash, AX_TYPE_HASH_SIZE);
            snprintf(ev.text, sizeof ev.text, "%s: local subscription has type %s", t->name,
                     sub->ep.type_name);
            ax__emit(&pub->ev, pub, &ev);
            ev.endpoint_id = pub->ep.id;
            snprintf(ev.type_name, sizeof ev.type_name, "%s", pub->ep.type_name);
            memcpy(ev.type_hash, pub->ep.type_hash, AX_TYPE_HASH_SIZE);
            snprintf(ev.text, sizeof ev.text, "%s: local publisher has type %s", t->name,
                     pub->ep.type_name);
            AX_LOG_W(LOG_MODULE,
                     "%s: type mismatch between a local publisher (%s) and "
                     "subscription (%s), not connected",
                     t->name, pub->ep.type_name, sub->ep.type_name);
            ax__emit(&sub->ev, sub, &ev);
            continue;
        }
        atomic_fetch_add(&pub->ctr.connections, 1);
        atomic_fetch_add(&sub->ctr.connections, 1);
        ev.kind = AX_PS_MATCHED;
        ev.endpoint_id = sub->ep.id;
        snprintf(ev.text, sizeof ev.text, "%s: local subscription matched", t->name);
        ax__emit(&pub->ev, pub, &ev);
        ev.endpoint_id = pub->ep.id;
        snprintf(ev.text, sizeof ev.text, "%s: local publisher matched", t->name);
        ax__emit(&sub->ev, sub, &ev);
        if (sub->ep.qos.durability == AX_TRANSIENT_LOCAL && pub->history) {
            /* The newest of the publisher's history, as many as this
             * subscription's own history asks for. */
            uint32_t have = 0;
            for (uint32_t k = 0; k < pub->hist_len; k++)
                have += pub->history[k] != NULL;
            uint32_t skip = have > sub->ep.qos.history ? have - sub->ep.qos.history : 0;
            for (uint32_t k = 0; k < pub->hist_len; k++) {
                ax__buf *b = pub->history[(pub->hist_next + k) % pub->hist_len];
                if (!b || (skip && skip--))
                    continue;
                struct ax_msg m = {.data = b->data,
                                   .len = b->len,
                                   .topic = t->name,
                                   .type_name = pub->ep.type_name,
                                   .seq = b->qseq,
                                   .source_ns = b->qts,
                                   .received_ns = ax_clock_real_ns(),
                                   .publisher_node = pub->node->id,
                                   .publisher_id = pub->ep.id,
                                   .intra_process = true,
                                   .buf_ = b};
                if (!atomic_load(&sub->closed))
                    ax__deliver_to(sub, &m);
            }
        }
    }
    /* Remote publishers already in the table. */
    struct ax_endpoint_info *eps = NULL;
    struct ax_node_info *nodes = NULL;
    size_t n = 0, nn = 0;
    if (ax__node_snapshot_endpoints(sub->node, sub->ep.topic, &eps, &n) == 0 &&
        ax__node_snapshot_nodes(sub->node, &nodes, &nn) == 0) {
        for (size_t i = 0; i < n && !atomic_load(&sub->closed); i++) {
            if (eps[i].kind != AX_ENDPOINT_PUBLISHER || eps[i].node_id == sub->node->id)
                continue;
            for (size_t k = 0; k < nn; k++)
                if (nodes[k].id == eps[i].node_id)
                    ax__rpub_seen(t, &eps[i], &nodes[k]);
        }
    }
    free(eps);
    free(nodes);

    /* Remote publishers that were there before: history and QoS for the
     * newcomer. */
    for (size_t i = 0; i < t->nrpubs && !atomic_load(&sub->closed); i++)
        if (!t->rpubs[i]->removed && ax__same_type(t->rpubs[i]->pub.type_hash, sub->ep.type_hash))
            ax__rpub_sub_joined(t->rpubs[i], sub);
    if (--sub->busy == 0 && sub->free_pending)
        ax__sub_free_now(sub); /* freed by a callback meanwhile */
    ax__topic_iter_end(t);     /* may free the topic */
}

static void attach_task(void *arg)
{
    sub_attach(arg);
}

void ax__sub_free_now(struct ax_sub *sub)
{
    if (sub->busy) { /* freed from a callback of its own attach: at its end */
        atomic_store(&sub->closed, true);
        sub->free_pending = true;
        return;
    }
    atomic_store(&sub->closed, true);
    ax_timer_stop(&sub->deadline);
    ax__sub_queue_fini(sub);
    struct ax__topic *t = sub->topic;
    if (t) {
        ax__topic_iter_begin(t);
        ax__topic_remove_sub(t, sub);
        for (size_t i = 0; i < t->nrpubs; i++)
            ax__rpub_sub_left(t->rpubs[i], sub);
        for (size_t i = 0; i < t->npubs; i++) {
            struct ax_pub *pub = t->pubs[i];
            if (pub && ax__same_type(pub->ep.type_hash, sub->ep.type_hash))
                atomic_fetch_sub(&pub->ctr.connections, 1);
        }
        /* No subscription of this type left: its links go. */
        bool still = false;
        for (size_t i = 0; i < t->nsubs; i++)
            still =
                still || (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, sub->ep.type_hash));
        if (!still)
            for (size_t i = t->nrpubs; i-- > 0;)
                if (i < t->nrpubs && ax__same_type(t->rpubs[i]->pub.type_hash, sub->ep.type_hash))
                    ax__rpub_remove(t->rpubs[i], "unsubscribed");
    }
    if (sub->drop)
        sub->drop(sub->user);
    free(sub);
    if (t)
        ax__topic_iter_end(t); /* may free the topic */
}

static void free_task(void *arg)
{
    ax__sub_free_now(arg);
}

static int sub_new(ax_sub **out, ax_node *node, const char *topic, const char *type_name,
                   const uint8_t *hash, const ProtobufCMessageDescriptor *desc, ax_sub_cb cb,
                   void *user, const struct ax_sub_options *opt)
{
    size_t tl = topic ? strlen(topic) : 0;
    if (!out || !node || !cb || tl == 0 || tl >= AX_TOPIC_MAX || strpbrk(topic, " \t\n"))
        return AX_EINVAL;
    if (node->destroying)
        return AX_ECLOSED;
    struct ax_sub_options defaults;
    if (!opt) {
        ax_sub_options_init(&defaults);
        opt = &defaults;
    }
    struct ax_sub *sub = calloc(1, sizeof *sub);
    if (!sub)
        return AX_ENOMEM;
    sub->node = node;
    sub->desc = desc;
    sub->cb = cb;
    sub->user = user;
    sub->ev.fn = opt->on_event;
    sub->ev.user = user;
    sub->drop = opt->drop;
    sub->shard = ax__shard_for(node, topic);
    struct ax__local_ep *ep = &sub->ep;
    ep->kind = AX_ENDPOINT_SUBSCRIBER;
    snprintf(ep->topic, sizeof ep->topic, "%s", topic);
    snprintf(ep->type_name, sizeof ep->type_name, "%s", type_name);
    memcpy(ep->type_hash, hash, AX_TYPE_HASH_SIZE);
    ep->qos = opt->qos;
    if (ax_config_qos_for(&node->cfg, topic, &ep->qos) == 0)
        AX_LOG_I(LOG_MODULE, "%s: QoS from the configuration", topic);
    if (ep->qos.history == 0)
        ep->qos.history = 1;
    ep->ctr = &sub->ctr;
    ep->owner = sub;
    ax_timer_init(sub->shard->loop, &sub->deadline, deadline_cb, sub);
    ax__sub_queue_init(sub);
    int rc = ax__node_add_endpoint(node, ep);
    if (rc < 0) {
        free(sub);
        return rc;
    }
    if ((rc = ax__shard_run(sub->shard, attach_task, sub)) < 0) {
        ax__node_remove_endpoint(node, ep);
        free(sub);
        return rc;
    }
    *out = sub;
    return 0;
}

int ax_sub_new(ax_sub **out, ax_node *node, const char *topic, const ax_type *type, ax_sub_cb cb,
               void *user, const struct ax_sub_options *opt)
{
    if (!type)
        return AX_EINVAL;
    return sub_new(out, node, topic, ax_type_name(type), ax_type_hash(type)->bytes,
                   ax_type_descriptor(type), cb, user, opt);
}

int ax_sub_new_raw(ax_sub **out, ax_node *node, const char *topic, const char *type_name,
                   ax_sub_cb cb, void *user, const struct ax_sub_options *opt)
{
    if (!type_name || !*type_name || strlen(type_name) >= AX_TYPE_NAME_MAX)
        return AX_EINVAL;
    uint8_t hash[AX_TYPE_HASH_SIZE];
    ax__raw_type_hash(type_name, hash);
    return sub_new(out, node, topic, type_name, hash, NULL, cb, user, opt);
}

int ax_sub_new_hash(ax_sub **out, ax_node *node, const char *topic, const char *type_name,
                    const uint8_t type_hash[AX_TYPE_HASH_SIZE], ax_sub_cb cb, void *user,
                    const struct ax_sub_options *opt)
{
    if (!type_name || !*type_name || strlen(type_name) >= AX_TYPE_NAME_MAX || !type_hash)
        return AX_EINVAL;
    const ax_type *t = NULL;
    const ProtobufCMessageDescriptor *desc = NULL;
    if (ax_type_find(type_name, &t) == 0 && ax__same_type(ax_type_hash(t)->bytes, type_hash))
        desc = ax_type_descriptor(t);
    return sub_new(out, node, topic, type_name, type_hash, desc, cb, user, opt);
}

void ax_sub_free(ax_sub *sub)
{
    if (!sub)
        return;
    ax__node_remove_endpoint(sub->node, &sub->ep);
    if (sub->shard->closing)
        return;
    ax__shard_run_sync(sub->shard, free_task, sub);
}

int ax_sub_wait(ax_sub *sub, int timeout_ms)
{
    if (!sub || !sub->node->threads) /* threads = 0: ax_node_spin_once() */
        return AX_EINVAL;
    /* The caller looked at what the callbacks did, then called: a callback
     * that ran in between, and its round, would be missed, and this would
     * wait for the next round, maybe a heartbeat away (60-130 ms stalls in
     * a ping-pong). So: the round count first, then the messages counted
     * (before each callback, deliver.c) since the last return: if some
     * came, return at once; else any that comes now ends a round after
     * the count was taken. */
    /* A loop's thread first, before the count below: that check would
     * return 0 when a message came, and take the caller's count with it. */
    if (ax_loop_current())
        return AX_EBUSY;
    unsigned rounds = ax_loop_rounds(sub->shard->loop);
    uint64_t got = atomic_load(&sub->ctr.messages);
    if (atomic_exchange(&sub->wait_seen, got) != got)
        return 0;
    return ax__shard_serve(sub->shard, rounds, timeout_ms);
}

int ax_sub_counters(const ax_sub *sub, struct ax_endpoint_counters *out)
{
    if (!sub || !out)
        return AX_EINVAL;
    ax__ep_counters_read(&sub->ctr, out);
    return 0;
}

const char *ax_sub_topic(const ax_sub *sub)
{
    return sub->ep.topic;
}

const struct ax_qos *ax_sub_qos(const ax_sub *sub)
{
    return &sub->ep.qos;
}

uint32_t ax_sub_id(const ax_sub *sub)
{
    return sub->ep.id;
}

const char *ax_pubsub_event_name(enum ax_pubsub_event_kind kind)
{
    static const char *const names[] = {
        "matched",         "unmatched", "type_mismatch",    "gap",
        "deadline_missed", "dropped",   "qos_incompatible", "writable"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}
