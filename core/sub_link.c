/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subscriber side of links: for each remote publisher of a topic this
 * node subscribes to (and whose type hash matches), an rpub opens one link,
 * sends SUBSCRIBE, and fans every DATA frame out to the node's
 * subscriptions of the topic. The rpub state machine (docs/pubsub.md):
 *
 *   IDLE --timer--> CONNECTING --link ready--> SUBSCRIBE --ACK ok--> ACTIVE
 *     ^                 |  refused / timeout      |  closed / refused   |
 *     +-----------------+------ back-off ---------+---------------------+
 *
 * The back-off doubles from transport.reconnect_min to reconnect_max and
 * resets once a link is ACTIVE. An rpub lives while discovery lists its
 * publisher; when the publisher leaves (Bye or lease), the rpub goes and
 * the subscriptions hear UNMATCHED.
 *
 * Control messages are encoded and decoded here (nanopb,
 * msgs/control.proto); the link carries them as bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__array.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"

static void event_init(struct ax_pubsub_event *ev, enum ax_pubsub_event_kind kind,
                       const struct ax__rpub *l)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    if (l) {
        ev->node_id = l->pub.node_id;
        snprintf(ev->node_name, sizeof ev->node_name, "%s", l->pub.node_name);
        ev->endpoint_id = l->pub.id;
    }
}

/* Emit @ev to every subscription of @t whose type matches @hash. */
static void replay_finish(struct ax__rpub *l);
static bool replay_wants(const struct ax__rpub *l, const struct ax_sub *s, uint64_t seq);
static bool replay_pending(const struct ax__rpub *l, const struct ax_sub *s);

static void deliver_remote(struct ax__rpub *l, const struct ax__frame_hdr *h,
                           const uint8_t *payload, ax__buf *buf)
{
    struct ax__topic *t = l->topic;
    struct ax_msg m = {.data = payload,
                       .len = h->payload_len,
                       .topic = t->name,
                       .type_name = l->pub.type_name,
                       .seq = h->seq,
                       .source_ns = h->timestamp_ns,
                       .received_ns = ax__link_received_ns(),
                       .publisher_node = l->pub.node_id,
                       .publisher_id = l->pub.id,
                       .buf_ = buf};
    bool history = false;
    if (l->replay_end) {
        if (h->seq < l->replay_end)
            history = true; /* no gap check: history is numbered below the live data */
        else
            replay_finish(l);
    }
    if (!history && l->seq_known && l->last_seq < UINT64_MAX && h->seq > l->last_seq + 1)
        ax__seq_report_gap(l, l->last_seq + 1, h->seq, "");
    if (h->seq > l->last_seq) /* history too: it is the floor of the next replay */
        l->last_seq = h->seq;
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (!s || atomic_load_explicit(&s->closed, memory_order_relaxed) ||
            !ax__same_type(s->ep.type_hash, l->pub.type_hash))
            continue;
        if (history ? !replay_wants(l, s, h->seq) : replay_pending(l, s))
            continue;
        if (ax__sub_queue_wanted(s, &l->sent_qos))
            ax__sub_queue_push(s, &m); /* it asked for less than the link */
        else
            ax__deliver_to(s, &m);
    }
    ax__topic_iter_end(t);
}

/* ---- choosing the transport ----
 *
 * Shared memory when the subscriptions want it (the strictest of their qos
 * shm, the node's transport.shm by default), the publisher's node offers
 * it, and both run under the same kernel (boot id); else TCP, and the link
 * remembers why. A shared-memory link that cannot be made (its Unix socket
 * unreachable: another network namespace) or fails is not tried again
 * with this publisher: the next connect, at once, is TCP. Under `require`
 * a same-host publisher is reached through shared memory or not at all. */

static bool shm_failed(struct ax__rpub *l, int status)
{
    bool policy = status == AX_ENOTSUP; /* the publisher's policy: not for our uid */
    if (l->link_up && !policy && status != AX_EPROTO && status != AX_ECRC && status != AX_EMSGSIZE)
        return false; /* a link that worked and ended: the publisher went, try it again */
    if (status == AX_ETYPE || status == AX_EDOMAIN || status == AX_EACCES || l->removed)
        return false; /* refused, whatever the transport */
    enum ax_shm_reason why = policy       ? AX_SHM_R_POLICY
                             : l->link_up ? AX_SHM_R_FAILED
                             : (status == AX_ECONNREFUSED || status == AX_ENOENT)
                                 ? AX_SHM_R_UNREACHABLE
                                 : AX_SHM_R_FAILED;
    if (why != l->shm_broken) /* said once, not at every retry */
        AX_LOG_W(LOG_MODULE, "%s: shared memory with the publisher on '%s' failed (%s): %s",
                 l->topic->name, l->pub.node_name, ax_strerror(status), ax_shm_reason_text(why));
    l->shm_broken = why;
    return true;
}

static const struct ax__transport *choose_transport(struct ax__rpub *l, char *address, size_t len)
{
    ax_node *node = l->topic->shard->node;
    const struct ax__transport *shm = ax__transport_with(AX__TP_HOST | AX__TP_LOANS);
    struct ax_qos q;
    ax__topic_wanted_qos(l->topic, l->pub.type_hash, &q);
    enum ax_shm_reason why = AX_SHM_USED;
    if (q.shm == AX_SHM_OFF || !shm || !node->host_id[0])
        why = AX_SHM_R_OFF;
    else if (!l->peer_shm)
        why = AX_SHM_R_PEER_OFF;
    else if (strcmp(l->peer_host_id, node->host_id) != 0)
        why = AX_SHM_R_HOST;
    else if (l->shm_broken && q.shm != AX_SHM_REQUIRE)
        why = l->shm_broken;
    else if (shm->host_address(node->cfg.domain, l->pub.node_id, l->pub.port, address, len) < 0)
        why = AX_SHM_R_FAILED;
    l->on_shm = why == AX_SHM_USED;
    if (why != l->why && why != AX_SHM_USED)
        AX_LOG_I(LOG_MODULE, "%s: publisher on '%s' over TCP: %s", l->topic->name, l->pub.node_name,
                 ax_shm_reason_text(why));
    l->why = why;
    if (l->on_shm)
        return shm;
    if (q.shm == AX_SHM_REQUIRE && why != AX_SHM_R_HOST) {
        AX_LOG_W(LOG_MODULE,
                 "%s: shared memory is required and the publisher on '%s' (same "
                 "host) cannot be reached that way: %s; not connected",
                 l->topic->name, l->pub.node_name, ax_shm_reason_text(why));
        return NULL;
    }
    snprintf(address, len, "%s", l->address);
    return ax__transport_with(AX__TP_NETWORK);
}

/* The links of the topic's subscriptions of type @hash, in their counters
 * (discovery announces them: `axon topic info`, `axon doctor`). */
static void note_links(struct ax__topic *t, const uint8_t *hash)
{
    struct ax_link_info v[AX_LINKS_SHOWN];
    uint32_t n = 0, total = 0;
    for (size_t i = 0; i < t->nrpubs; i++) {
        const struct ax__rpub *r = t->rpubs[i];
        if (!r || r->removed || !ax__same_type(r->pub.type_hash, hash))
            continue;
        total++;
        if (n == AX_LINKS_SHOWN)
            continue;
        v[n++] = (struct ax_link_info){.node_id = r->pub.node_id,
                                       .endpoint_id = r->pub.id,
                                       .transport = !r->link_up ? AX_LINK_NONE
                                                    : r->on_shm ? AX_LINK_SHM
                                                                : AX_LINK_TCP,
                                       /* trying shared memory: why it failed before, if it did */
                                       .reason = !r->on_shm   ? r->why
                                                 : r->link_up ? AX_SHM_USED
                                                              : r->shm_broken};
    }
    for (size_t i = 0; i < t->nsubs; i++)
        if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, hash))
            ax__ep_counters_set_links(&t->subs[i]->ctr, v, n, total);
}

/* ---- rpubs ---- */

static int link_connect(struct ax__rpub *l);
static void link_free(struct ax__rpub *l);

static void link_schedule_retry(struct ax__rpub *l)
{
    const struct ax_config *c = &l->topic->shard->node->cfg;
    l->state = AX__RPUB_IDLE;
    if (l->removed || l->topic->shard->closing)
        return;
    if (l->backoff_ns < c->transport.reconnect_min_ns)
        l->backoff_ns = c->transport.reconnect_min_ns;
    ax_timer_start(&l->retry, l->backoff_ns, 0);
    l->backoff_ns *= 2;
    if (l->backoff_ns > c->transport.reconnect_max_ns)
        l->backoff_ns = c->transport.reconnect_max_ns;
}

static void retry_cb(ax_timer *t, void *user)
{
    struct ax__rpub *l = user;
    (void)t;
    if (l->draining) { /* the publisher never closed its side */
        ax__rpub_remove(l, "left");
        return;
    }
    (void)link_connect(l); /* the address was usable the first time */
}

/* The publisher left in order (it was freed, or its node said Bye) while
 * its link is up: what it sent before it went may still be on the way, and
 * it closes the link itself once its queue is flushed. So the link stays
 * and delivers until the publisher's close, bounded as the publisher's own
 * flush is; then the rpub goes. Discovery says who is there, the link says
 * what was sent. */
static void rpub_drain(struct ax__rpub *l)
{
    l->draining = true;
    ax_timer_stop(&l->retry);
    ax_timer_start(&l->retry, AX__RPUB_DRAIN_NS, 0);
}

/* The strictest QoS among this node's subscriptions of the topic. */
/* ---- history replays ----
 *
 * A transient-local subscription gets the publisher's kept messages when
 * its link's SUBSCRIBE asks for them. One that joins after the link's
 * SUBSCRIBE went out goes on the link's replay list, and the link sends
 * SUBSCRIBE again with `replay` set (one at a time). The publisher answers
 * on the same connection with SUBSCRIBE_ACK (next_seq) and its history,
 * behind the live data already queued. So after an ACK, frames numbered
 * below its next_seq are history: they go to the subscriptions that ACK
 * serves (REPLAYING), and to the link's other transient-local
 * subscriptions only above replay_floor (what they missed while the link
 * was down); nobody gets a message twice. A subscription on the list takes
 * no live data until its replay is over, so it sees the history first and
 * in order, then the live data. */

static struct ax__replay *replay_find(const struct ax__rpub *l, const struct ax_sub *s)
{
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].sub == s)
            return &l->replay[i];
    return NULL;
}

static bool replay_pending(const struct ax__rpub *l, const struct ax_sub *s)
{
    return l->nreplay && replay_find(l, s) != NULL;
}

static bool replay_wants(const struct ax__rpub *l, const struct ax_sub *s, uint64_t seq)
{
    const struct ax__replay *r = replay_find(l, s);
    /* Each subscription takes the newest `history` of it (the link asked
     * for the largest): history is numbered up to replay_end - 1. */
    bool recent = s->ep.qos.history == 0 || seq + s->ep.qos.history >= l->replay_end;
    if (r)
        return r->state == AX__REPLAY_REPLAYING && recent;
    return s->ep.qos.durability == AX_TRANSIENT_LOCAL && seq > l->replay_floor && recent;
}

/* Drop the entries in @state (keeping the order of the rest). */
static void replay_drop(struct ax__rpub *l, enum ax__replay_state state)
{
    size_t k = 0;
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].state != state)
            l->replay[k++] = l->replay[i];
    l->nreplay = k;
}

/* The replay in progress is over: its subscriptions take live data now. */
static void replay_finish(struct ax__rpub *l)
{
    replay_drop(l, AX__REPLAY_REPLAYING);
    l->replay_end = 0;
}

void ax__rpub_sub_left(struct ax__rpub *l, const struct ax_sub *s)
{
    struct ax__replay *r = replay_find(l, s);
    if (r)
        *r = l->replay[--l->nreplay];
}

static bool qos_differs(const struct ax_qos *a, const struct ax_qos *b)
{
    return a->reliability != b->reliability || a->durability != b->durability ||
           a->overload != b->overload || a->history != b->history;
}

static void send_subscribe(struct ax__rpub *l, bool replay)
{
    axon_ctl_Subscribe m = axon_ctl_Subscribe_init_zero;
    m.publisher_id = l->pub.id;
    snprintf(m.topic, sizeof m.topic, "%s", l->topic->name);
    snprintf(m.type_name, sizeof m.type_name, "%s", l->pub.type_name);
    m.type_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(m.type_hash.bytes, l->pub.type_hash, AX_TYPE_HASH_SIZE);
    struct ax_qos *q = &l->sent_qos;
    ax__topic_wanted_qos(l->topic, l->pub.type_hash, q);
    m.has_qos = true;
    ax__qos_to_wire(&m.qos, q);
    m.last_seq = l->last_seq;
    m.replay = replay;
    m.keepalive_ms =
        (uint32_t)(l->topic->shard->node->cfg.discovery.liveness_ns / 4 / AX_NS_PER_MS);
    if (!m.keepalive_ms)
        m.keepalive_ms = 1;
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].state == AX__REPLAY_WAITING)
            l->replay[i].state = AX__REPLAY_ASKED;
    uint8_t buf[axon_ctl_Subscribe_size];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    int rc = pb_encode(&os, axon_ctl_Subscribe_fields, &m)
                 ? ax__link_send_control(l->link, AX__FRAME_SUBSCRIBE, buf, os.bytes_written)
                 : AX_EPROTO;
    if (rc < 0) { /* no ACK would come: start over on a new connection */
        AX_LOG_W(LOG_MODULE, "%s: cannot send SUBSCRIBE to '%s': %s", l->topic->name,
                 l->pub.node_name, ax_strerror(rc));
        ax__link_close(l->link, AX__LINK_ABORT, rc);
    }
}

/* On an ACTIVE link: ask again when a subscription waits for history or
 * the node now wants a stricter QoS than the last SUBSCRIBE said. */
static void maybe_resubscribe(struct ax__rpub *l)
{
    if (l->state != AX__RPUB_ACTIVE || l->resubscribing || !l->link || l->removed)
        return;
    bool waiting = false;
    for (size_t i = 0; i < l->nreplay; i++)
        waiting = waiting || l->replay[i].state == AX__REPLAY_WAITING;
    struct ax_qos q;
    ax__topic_wanted_qos(l->topic, l->pub.type_hash, &q);
    if (!waiting && !qos_differs(&q, &l->sent_qos))
        return;
    l->resubscribing = true;
    send_subscribe(l, waiting);
}

/* An ACK came (of the first SUBSCRIBE or a later one): the history behind
 * it is for the subscriptions that SUBSCRIBE asked for. */
static void replay_begin(struct ax__rpub *l, uint64_t next_seq, uint64_t floor)
{
    replay_finish(l);
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].state == AX__REPLAY_ASKED)
            l->replay[i].state = AX__REPLAY_REPLAYING;
    l->replay_end = next_seq;
    l->replay_floor = floor;
    maybe_resubscribe(l);
}

/* A subscription joined the topic while this link exists: it asks for the
 * history if transient-local, and is matched at once if the link is. The
 * event comes last, after the link's bookkeeping. */
void ax__rpub_sub_joined(struct ax__rpub *l, struct ax_sub *sub)
{
    if (sub->ep.qos.durability == AX_TRANSIENT_LOCAL && !replay_find(l, sub)) {
        if (ax__array_reserve(&l->replay, &l->replay_cap, l->nreplay + 1, 4) == 0)
            l->replay[l->nreplay++] = (struct ax__replay){sub, AX__REPLAY_WAITING};
        else
            AX_LOG_W(LOG_MODULE, "%s: out of memory: a new subscription gets live data only",
                     l->topic->name);
    }
    maybe_resubscribe(l); /* not ACTIVE yet: its first SUBSCRIBE asks */
    if (l->matched) {
        atomic_fetch_add(&sub->ctr.connections, 1);
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_MATCHED, l);
        snprintf(ev.text, sizeof ev.text, "%s: publisher on '%s' matched", l->topic->name,
                 l->pub.node_name);
        ax__emit(&sub->ev, sub, &ev);
    }
}

static void link_ready(ax__link *c, const struct ax__link_peer *peer, void *user)
{
    struct ax__rpub *l = user;
    char why[300];
    /* Both ends enforce the policy: the publisher's identity must be one
     * that may publish here (with certificates, proved). */
    if (!ax__node_policy_allows(l->topic->shard->node, peer->identity, AX__POLICY_PUBLISH,
                                l->topic->name, why, sizeof why)) {
        ax__link_send_error(c, AX_EACCES, why);
        return;
    }
    /* On a Unix socket the name is only asserted (no TLS there): the
     * publisher's user must be one the policy trusts with shared memory,
     * else TCP, where a certificate proves who it is. */
    if (peer->has_cred && !ax__node_policy_allows_shm(l->topic->shard->node, peer->identity,
                                                      peer->uid, peer->gid, why, sizeof why)) {
        ax__link_send_error(c, AX_ENOTSUP, why);
        return;
    }
    l->link_up = true;
    note_links(l->topic, l->pub.type_hash);
    l->state = AX__RPUB_SUBSCRIBE;
    send_subscribe(l, false); /* the first one gets the history if transient-local */
}

static void handle_ack(struct ax__rpub *l, const uint8_t *p, size_t n)
{
    axon_ctl_SubscribeAck a = axon_ctl_SubscribeAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    struct ax__topic *t = l->topic;
    if (!pb_decode(&is, axon_ctl_SubscribeAck_fields, &a)) {
        AX_LOG_W(LOG_MODULE, "%s: undecodable SUBSCRIBE_ACK from '%s'", t->name, l->pub.node_name);
        ax__link_close(l->link, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    if (a.error) {
        AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' refused the subscription: %s", t->name,
                 l->pub.node_name, a.reason);
        if (-(int)a.error == AX_ETYPE) {
            struct ax_pubsub_event ev;
            event_init(&ev, AX_PS_TYPE_MISMATCH, l);
            snprintf(ev.type_name, sizeof ev.type_name, "%s", a.type_name);
            memcpy(ev.type_hash, a.type_hash.bytes,
                   a.type_hash.size < AX_TYPE_HASH_SIZE ? a.type_hash.size : AX_TYPE_HASH_SIZE);
            snprintf(ev.text, sizeof ev.text, "%s", a.reason);
            ax__topic_emit(t, l->pub.type_hash, &ev);
        }
        ax__link_close(l->link, AX__LINK_GRACEFUL, -(int)a.error);
        return;
    }
    l->state = AX__RPUB_ACTIVE;
    l->backoff_ns = 0;
    l->keepalive = a.keepalive_ms > 0;
    l->silent_scans = 0;
    if (l->keepalive)
        ax__sub_live_arm(t->shard);
    /* History above the last number delivered fills what was missed. */
    uint64_t floor = l->seq_known ? l->last_seq : 0;
    ax__seq_on_ack(l, a.next_seq, a.history_first);
    if (!l->matched) {
        l->matched = true;
        ax__topic_iter_begin(t);
        for (size_t i = 0; i < t->nsubs; i++)
            if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, l->pub.type_hash))
                atomic_fetch_add(&t->subs[i]->ctr.connections, 1);
        ax__topic_iter_end(t);
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_MATCHED, l);
        snprintf(ev.text, sizeof ev.text, "%s: publisher on '%s' (%s) matched", t->name,
                 l->pub.node_name, l->link->peer_addr);
        AX_LOG_I(LOG_MODULE, "%s", ev.text);
        ax__topic_emit(t, l->pub.type_hash, &ev);
    }
    if (a.has_qos && a.qos.durability == AX_VOLATILE) {
        struct ax_qos q;
        ax__topic_wanted_qos(t, l->pub.type_hash, &q);
        if (q.durability == AX_TRANSIENT_LOCAL) {
            struct ax_pubsub_event ev;
            event_init(&ev, AX_PS_QOS_INCOMPATIBLE, l);
            snprintf(ev.text, sizeof ev.text,
                     "%s: transient-local subscription, volatile publisher on '%s': live data "
                     "only",
                     t->name, l->pub.node_name);
            ax__topic_emit(t, l->pub.type_hash, &ev);
        }
    }
    replay_begin(l, a.next_seq, floor);
}

/* The ACK of a SUBSCRIBE sent again on the ACTIVE link. */
static void handle_reack(struct ax__rpub *l, const uint8_t *p, size_t n)
{
    axon_ctl_SubscribeAck a = axon_ctl_SubscribeAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    l->resubscribing = false;
    if (!pb_decode(&is, axon_ctl_SubscribeAck_fields, &a) || a.error) {
        AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' did not take the renewed SUBSCRIBE: %s",
                 l->topic->name, l->pub.node_name, a.error ? a.reason : "undecodable ACK");
        ax__link_close(l->link, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    replay_begin(l, a.next_seq, l->last_seq);
}

static void link_frame(ax__link *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                       ax__buf *buf, void *user)
{
    struct ax__rpub *l = user;
    l->rx_frames++; /* the publisher is alive (sub_live.c) */
    if (h->type == AX__FRAME_KEEPALIVE)
        return;
    if (h->type == AX__FRAME_SUBSCRIBE_ACK && l->state == AX__RPUB_SUBSCRIBE) {
        handle_ack(l, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_SUBSCRIBE_ACK && l->state == AX__RPUB_ACTIVE && l->resubscribing) {
        handle_reack(l, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_DATA && l->state == AX__RPUB_ACTIVE && !l->removed) {
        deliver_remote(l, h, payload, buf);
        return;
    }
    if (h->type == AX__FRAME_DATA)
        return; /* removed meanwhile */
    AX_LOG_W(LOG_MODULE, "%s: unexpected frame type %u from publisher '%s'; closing",
             l->topic->name, h->type, l->pub.node_name);
    ax__link_close(c, AX__LINK_ABORT, AX_EPROTO);
}

static void link_close(ax__link *c, int status, void *user)
{
    struct ax__rpub *l = user;
    (void)c;
    l->link = NULL;
    bool shm_lost = l->on_shm && shm_failed(l, status);
    l->link_up = false;
    /* A replay cut short: what it delivered stays delivered; who was still
     * waiting for its ACK asks again on the next connection. */
    l->resubscribing = false;
    replay_finish(l);
    for (size_t i = 0; i < l->nreplay; i++)
        l->replay[i].state = AX__REPLAY_WAITING;
    /* A shared-memory link that could not be made is not an error of the
     * subscription's: it goes on over TCP (its reason is in the links). */
    if (status < 0 && !l->removed && !shm_lost)
        ax__topic_set_last_error(l->topic, l->pub.type_hash, status);
    if (l->removed) {
        link_free(l);
        return;
    }
    if (l->draining) { /* the publisher that left closed its side: all is in */
        ax__rpub_remove(l, "left");
        return;
    }
    if (shm_lost) {
        struct ax_qos q;
        ax__topic_wanted_qos(l->topic, l->pub.type_hash, &q);
        if (q.shm != AX_SHM_REQUIRE) {
            note_links(l->topic, l->pub.type_hash);
            if (link_connect(l) == 0)
                return; /* at once, the other way */
        } else {        /* required: no other way; tried again after the back-off */
            ax__topic_set_last_error(l->topic, l->pub.type_hash, AX_ENOTSUP);
        }
    }
    note_links(l->topic, l->pub.type_hash);
    /* Refused after a link that worked: the publisher's listener, which
     * lives as long as its node, is gone, so the node is (on another host,
     * where no pidfd sees a kill -9, this is how we learn it at once). */
    if (status == AX_ECONNREFUSED && l->seq_known)
        ax__disc_peer_gone(l->topic->shard->node->disc, l->pub.node_id, l->incarnation, true);
    if (status != AX_ETYPE) {
        AX_LOG_D(LOG_MODULE, "%s: connection to '%s' closed (%s); reconnecting", l->topic->name,
                 l->pub.node_name, status ? ax_strerror(status) : "by the peer");
        link_schedule_retry(l);
    } else {
        l->state = AX__RPUB_IDLE; /* refused for its type: wait for discovery */
    }
}

static const struct ax__link_callbacks link_cbs = {
    .on_ready = link_ready, .on_frame = link_frame, .on_close = link_close};

/* Returns AX_EINVAL when the transport cannot use the address at all (no
 * retry then: it will not get better), else 0 (a failure to connect comes
 * as the link's on_close, and is retried). */
static int link_connect(struct ax__rpub *l)
{
    if (l->removed || l->link)
        return 0;
    l->state = AX__RPUB_CONNECTING;
    ax_node *node = l->topic->shard->node;
    char address[AX__LINK_ADDR_MAX];
    const struct ax__transport *tp = choose_transport(l, address, sizeof address);
    if (!tp) { /* shared memory required and not possible: said, and tried again later */
        ax__topic_set_last_error(l->topic, l->pub.type_hash, AX_ENOTSUP);
        link_schedule_retry(l);
        return 0;
    }
    struct ax__link_options o;
    ax__link_options_for(node, AX__LINK_DATA, &o);
    int rc = tp->connect(l->topic->shard->loop, address, &o, &link_cbs, l, &l->link);
    if (rc < 0) {
        AX_LOG_D(LOG_MODULE, "%s: connect to '%s' at %s: %s", l->topic->name, l->pub.node_name,
                 l->address, ax_strerror(rc));
        ax__topic_set_last_error(l->topic, l->pub.type_hash, rc);
        l->link = NULL;
        l->state = AX__RPUB_IDLE;
        if (rc == AX_EINVAL)
            return rc;
        link_schedule_retry(l);
    }
    return 0;
}

static void link_free(struct ax__rpub *l)
{
    ax_timer_stop(&l->retry);
    struct ax__topic *t = l->topic;
    uint8_t hash[AX_TYPE_HASH_SIZE];
    memcpy(hash, l->pub.type_hash, sizeof hash);
    ax__topic_iter_begin(t);
    ax__topic_remove_rpub(t, l);
    note_links(t, hash);
    ax__topic_iter_end(t); /* may free the topic */
    free(l->replay);
    free(l);
}

/* The publisher left (or its type no longer matches): unmatch and go. */
void ax__rpub_remove(struct ax__rpub *l, const char *why)
{
    struct ax__topic *t = l->topic;
    if (l->removed)
        return;
    l->removed = true;
    if (l->matched) {
        ax__topic_count_connections(t, l->pub.type_hash, -1);
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_UNMATCHED, l);
        snprintf(ev.text, sizeof ev.text, "%s: publisher on '%s' %s", t->name, l->pub.node_name,
                 why);
        AX_LOG_I(LOG_MODULE, "%s", ev.text);
        ax__topic_emit(t, l->pub.type_hash, &ev);
    }
    ax__seq_remember(l);
    ax_timer_stop(&l->retry);
    if (l->link)
        ax__link_close(l->link, AX__LINK_ABORT, 0); /* link_close frees it */
    else
        link_free(l);
}

void ax__sub_close_links(struct ax__topic *t)
{
    /* link_remove may free links (and shrink the array): walk backwards. */
    for (size_t i = t->nrpubs; i-- > 0;)
        if (i < t->nrpubs)
            ax__rpub_remove(t->rpubs[i], "unsubscribed");
}

static struct ax__rpub *link_find(struct ax__topic *t, uint64_t node_id, uint32_t ep)
{
    for (size_t i = 0; i < t->nrpubs; i++)
        if (t->rpubs[i]->pub.node_id == node_id && t->rpubs[i]->pub.id == ep &&
            !t->rpubs[i]->removed)
            return t->rpubs[i];
    return NULL;
}

static void sub_type_mismatch(struct ax__topic *t, const struct ax_endpoint_info *pub)
{
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (!s || ax__same_type(s->ep.type_hash, pub->type_hash))
            continue;
        char a[17], b[17];
        ax__format_hash(s->ep.type_hash, a);
        ax__format_hash(pub->type_hash, b);
        AX_LOG_W(LOG_MODULE,
                 "%s: type mismatch, not connected: this subscription has %s (%s), the publisher "
                 "on node '%s' has %s (%s)",
                 t->name, s->ep.type_name, a, pub->node_name, pub->type_name, b);
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AX_PS_TYPE_MISMATCH;
        ev.node_id = pub->node_id;
        snprintf(ev.node_name, sizeof ev.node_name, "%s", pub->node_name);
        ev.endpoint_id = pub->id;
        snprintf(ev.type_name, sizeof ev.type_name, "%s", pub->type_name);
        memcpy(ev.type_hash, pub->type_hash, AX_TYPE_HASH_SIZE);
        snprintf(ev.text, sizeof ev.text, "%s: publisher on '%s' has type %s, this subscription %s",
                 t->name, pub->node_name, pub->type_name, s->ep.type_name);
        ax__emit(&s->ev, s, &ev);
    }
    ax__topic_iter_end(t);
}

/* A remote publisher appeared or changed: connect when some subscription
 * of ours has its type, report a mismatch to those that do not. */
/* A new rpub's first connect; false when the address is unusable (the
 * transport refused it at once), and the rpub is gone. */
static bool rpub_start(struct ax__rpub *l, const char *node_tcp)
{
    int rc = link_connect(l);
    if (rc != AX_EINVAL) {
        note_links(l->topic, l->pub.type_hash);
        return true;
    }
    AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' has no usable address (%s, port %u)",
             l->topic->name, l->pub.node_name, node_tcp, l->pub.port);
    link_free(l);
    return false;
}

void ax__rpub_seen(struct ax__topic *t, const struct ax_endpoint_info *pub,
                   const struct ax_node_info *node)
{
    const char *node_tcp = node->tcp;
    /* Held: an event below may make a subscription free itself, and with
     * it the topic, while this still uses it. */
    ax__topic_iter_begin(t);
    bool any_match = false, any_other = false;
    for (size_t i = 0; i < t->nsubs; i++) {
        if (!t->subs[i])
            continue;
        if (ax__same_type(t->subs[i]->ep.type_hash, pub->type_hash))
            any_match = true;
        else
            any_other = true;
    }
    if (any_other)
        sub_type_mismatch(t, pub);
    struct ax__rpub *l = link_find(t, pub->node_id, pub->id);
    if (l && !ax__same_type(l->pub.type_hash, pub->type_hash)) {
        ax__rpub_remove(l, "changed its type");
        l = NULL;
    }
    if (l && l->draining) { /* it is back before its link closed */
        l->draining = false;
        ax_timer_stop(&l->retry);
    }
    /* The data address: its node's host, its own port. */
    char host[64];
    snprintf(host, sizeof host, "%s", node_tcp);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    if (l || !any_match) {
        /* nothing to start */
    } else if (pub->port == 0 || !host[0]) {
        AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' has no usable address (%s, port %u)", t->name,
                 pub->node_name, node_tcp, pub->port);
    } else if ((l = calloc(1, sizeof *l)) != NULL && ax__topic_add_rpub(t, l) == 0) {
        l->topic = t;
        l->pub = *pub;
        l->incarnation = node->incarnation;
        l->peer_shm = node->shm;
        snprintf(l->peer_host_id, sizeof l->peer_host_id, "%s", node->host_id);
        snprintf(l->address, sizeof l->address, "%.48s:%u", host, pub->port);
        ax__seq_resume(l);
        ax_timer_init(t->shard->loop, &l->retry, retry_cb, l);
        rpub_start(l, node_tcp);
    } else {
        free(l);
    }
    ax__topic_iter_end(t); /* may free the topic */
}

void ax__sub_remote_pub(struct ax__shard *s, const struct ax_graph_event *ev)
{
    struct ax__topic *t = ax__topic_get(s, ev->endpoint.topic, false);
    if (!t)
        return;
    if (ev->kind == AX_EVENT_ENDPOINT_LEAVE) {
        struct ax__rpub *l = link_find(t, ev->endpoint.node_id, ev->endpoint.id);
        bool expired = ev->node.heard_age_ns > ev->node.lease_ns;
        if (l && !expired && l->state == AX__RPUB_ACTIVE && l->link)
            rpub_drain(l);
        else if (l && !l->draining)
            ax__rpub_remove(l, expired ? "left (lease expired)" : "left");
        return;
    }
    if (t->nsubs)
        ax__rpub_seen(t, &ev->endpoint, &ev->node);
}
