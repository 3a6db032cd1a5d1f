/*
 * Subscriptions and the subscriber side of connections.
 *
 * For each remote publisher of a topic this node subscribes to (and whose
 * type hash matches), a link opens one TCP connection, sends HELLO and
 * SUBSCRIBE, and fans every DATA frame out to the node's subscriptions of
 * the topic. The link state machine (docs/pubsub.md):
 *
 *   IDLE --timer--> CONNECTING --connected--> HANDSHAKE --ACK ok--> ACTIVE
 *     ^                 |  refused / timeout      |  closed / refused   |
 *     +-----------------+------ back-off ---------+---------------------+
 *
 * The back-off doubles from transport.reconnect_min to reconnect_max and
 * resets once a connection is ACTIVE. A link lives while discovery lists
 * its publisher; when the publisher leaves (Bye or lease), the link goes
 * and the subscriptions hear UNMATCHED.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb_decode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "control.pb.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"
#define MAX_DEPTH  100 /* nesting accepted by ax_msg_unpack() */

void ax_sub_options_init(struct ax_sub_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->qos = AX_QOS_DEFAULT;
}

static void event_init(struct ax_pubsub_event *ev, enum ax_pubsub_event_kind kind,
                       const struct ax__link *l)
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
static void emit_to_subs(struct ax__topic *t, const uint8_t *hash, struct ax_pubsub_event *ev)
{
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (s && (!hash || ax__same_type(s->ep.type_hash, hash)))
            ax__emit(&s->ev, s, ev);
    }
    ax__topic_iter_end(t);
}

/* ---- delivery ---- */

static void deliver_to(struct ax_sub *sub, struct ax_msg *m)
{
    m->priv_ = sub;
    if (sub->ep.qos.lifespan_ns > 0 && m->received_ns - m->source_ns > sub->ep.qos.lifespan_ns) {
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
    atomic_fetch_add_explicit(&sub->ctr.messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sub->ctr.bytes, m->len, memory_order_relaxed);
    if (sub->ep.qos.deadline_ns > 0)
        ax_timer_start(&sub->deadline, sub->ep.qos.deadline_ns, sub->ep.qos.deadline_ns);
    /* Nothing touches @sub after this call: the callback may free it. */
    sub->cb(sub, m, sub->user);
}

static void deliver_all(struct ax__topic *t, const uint8_t *hash, struct ax_msg *m)
{
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *s = t->subs[i];
        if (s && !atomic_load_explicit(&s->closed, memory_order_relaxed) &&
            ax__same_type(s->ep.type_hash, hash))
            deliver_to(s, m);
    }
    ax__topic_iter_end(t);
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
                       .intra_process = true};
    deliver_all(t, pub->ep.type_hash, &m);
}

static void replay_finish(struct ax__link *l);
static bool replay_wants(const struct ax__link *l, const struct ax_sub *s, uint64_t seq);
static bool replay_pending(const struct ax__link *l, const struct ax_sub *s);

static void deliver_remote(struct ax__link *l, const struct ax__frame_hdr *h,
                           const uint8_t *payload)
{
    struct ax__topic *t = l->topic;
    struct ax_msg m = {.data = payload,
                       .len = h->payload_len,
                       .topic = t->name,
                       .type_name = l->pub.type_name,
                       .seq = h->seq,
                       .source_ns = h->timestamp_ns,
                       .received_ns = ax_clock_real_ns(),
                       .publisher_node = l->pub.node_id,
                       .publisher_id = l->pub.id};
    bool history = false;
    if (l->replay_end) {
        if (h->seq < l->replay_end)
            history = true; /* no gap check: history is numbered below the live data */
        else
            replay_finish(l);
    }
    if (!history && l->last_seq && h->seq > l->last_seq + 1) {
        uint64_t missing = h->seq - l->last_seq - 1;
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_GAP, l);
        ev.expected_seq = l->last_seq + 1;
        ev.received_seq = h->seq;
        ev.missing = missing;
        snprintf(ev.text, sizeof ev.text,
                 "%s: %llu message(s) from '%s' never arrived (%llu..%llu)", t->name,
                 (unsigned long long)missing, l->pub.node_name, (unsigned long long)ev.expected_seq,
                 (unsigned long long)(h->seq - 1));
        ax__topic_iter_begin(t);
        for (size_t i = 0; i < t->nsubs; i++)
            if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, l->pub.type_hash))
                atomic_fetch_add(&t->subs[i]->ctr.gaps, missing);
        ax__topic_iter_end(t);
        emit_to_subs(t, l->pub.type_hash, &ev);
    }
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
        deliver_to(s, &m);
    }
    ax__topic_iter_end(t);
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

/* ---- links ---- */

/* Remember why reaching a publisher failed, on the subscriptions it would
 * serve: announced with their counters, read by axon doctor. */
static void set_last_error(struct ax__topic *t, const uint8_t *hash, int err)
{
    for (size_t i = 0; i < t->nsubs; i++)
        if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, hash))
            atomic_store(&t->subs[i]->ctr.last_error, err);
}

static void link_connect(struct ax__link *l);
static void link_free(struct ax__link *l);

static void link_schedule_retry(struct ax__link *l)
{
    const struct ax_config *c = &l->topic->shard->node->cfg;
    l->state = LINK_IDLE;
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
    (void)t;
    link_connect(user);
}

/* The strictest QoS among this node's subscriptions of the topic. */
static void wanted_qos(struct ax__topic *t, const uint8_t *hash, struct ax_qos *q)
{
    bool first = true;
    for (size_t i = 0; i < t->nsubs; i++) {
        const struct ax_sub *s = t->subs[i];
        if (!s || !ax__same_type(s->ep.type_hash, hash))
            continue;
        const struct ax_qos *o = &s->ep.qos;
        if (first) {
            *q = *o;
            first = false;
            continue;
        }
        if (o->reliability == AX_RELIABLE)
            q->reliability = AX_RELIABLE;
        if (o->durability == AX_TRANSIENT_LOCAL)
            q->durability = AX_TRANSIENT_LOCAL;
        if (o->history > q->history)
            q->history = o->history;
    }
    if (first)
        *q = AX_QOS_DEFAULT;
}

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

static struct ax__replay *replay_find(const struct ax__link *l, const struct ax_sub *s)
{
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].sub == s)
            return &l->replay[i];
    return NULL;
}

static bool replay_pending(const struct ax__link *l, const struct ax_sub *s)
{
    return l->nreplay && replay_find(l, s) != NULL;
}

static bool replay_wants(const struct ax__link *l, const struct ax_sub *s, uint64_t seq)
{
    const struct ax__replay *r = replay_find(l, s);
    if (r)
        return r->state == AX__REPLAY_REPLAYING;
    return s->ep.qos.durability == AX_TRANSIENT_LOCAL && seq > l->replay_floor;
}

/* Drop the entries in @state (keeping the order of the rest). */
static void replay_drop(struct ax__link *l, enum ax__replay_state state)
{
    size_t k = 0;
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].state != state)
            l->replay[k++] = l->replay[i];
    l->nreplay = k;
}

/* The replay in progress is over: its subscriptions take live data now. */
static void replay_finish(struct ax__link *l)
{
    replay_drop(l, AX__REPLAY_REPLAYING);
    l->replay_end = 0;
}

static void replay_forget(struct ax__link *l, const struct ax_sub *s)
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

static void send_subscribe(struct ax__link *l, bool replay)
{
    axon_ctl_Subscribe m = axon_ctl_Subscribe_init_zero;
    m.publisher_id = l->pub.id;
    snprintf(m.topic, sizeof m.topic, "%s", l->topic->name);
    snprintf(m.type_name, sizeof m.type_name, "%s", l->pub.type_name);
    m.type_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(m.type_hash.bytes, l->pub.type_hash, AX_TYPE_HASH_SIZE);
    struct ax_qos *q = &l->sent_qos;
    wanted_qos(l->topic, l->pub.type_hash, q);
    m.has_qos = true;
    m.qos.reliability = q->reliability;
    m.qos.durability = q->durability;
    m.qos.overload = q->overload;
    m.qos.history = q->history;
    m.qos.deadline_ns = q->deadline_ns;
    m.qos.lifespan_ns = q->lifespan_ns;
    m.last_seq = l->last_seq;
    m.replay = replay;
    for (size_t i = 0; i < l->nreplay; i++)
        if (l->replay[i].state == AX__REPLAY_WAITING)
            l->replay[i].state = AX__REPLAY_ASKED;
    int rc = ax__tcp_conn_send_pb(l->conn, AX__FRAME_SUBSCRIBE, axon_ctl_Subscribe_fields, &m);
    if (rc < 0) { /* no ACK would come: start over on a new connection */
        AX_LOG_W(LOG_MODULE, "%s: cannot send SUBSCRIBE to '%s': %s", l->topic->name,
                 l->pub.node_name, ax_strerror(rc));
        ax__tcp_conn_close(l->conn, AX__TCP_CLOSE_ABORT, rc);
    }
}

/* On an ACTIVE link: ask again when a subscription waits for history or
 * the node now wants a stricter QoS than the last SUBSCRIBE said. */
static void maybe_resubscribe(struct ax__link *l)
{
    if (l->state != LINK_ACTIVE || l->resubscribing || !l->conn || l->removed)
        return;
    bool waiting = false;
    for (size_t i = 0; i < l->nreplay; i++)
        waiting = waiting || l->replay[i].state == AX__REPLAY_WAITING;
    struct ax_qos q;
    wanted_qos(l->topic, l->pub.type_hash, &q);
    if (!waiting && !qos_differs(&q, &l->sent_qos))
        return;
    l->resubscribing = true;
    send_subscribe(l, waiting);
}

/* An ACK came (of the first SUBSCRIBE or a later one): the history behind
 * it is for the subscriptions that SUBSCRIBE asked for. */
static void replay_begin(struct ax__link *l, uint64_t next_seq, uint64_t floor)
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
static void link_sub_joined(struct ax__link *l, struct ax_sub *sub)
{
    if (sub->ep.qos.durability == AX_TRANSIENT_LOCAL && !replay_find(l, sub)) {
        if (l->nreplay == l->replay_cap) {
            size_t cap = l->replay_cap ? l->replay_cap * 2 : 4;
            struct ax__replay *n = realloc(l->replay, cap * sizeof *n);
            if (n) {
                l->replay = n;
                l->replay_cap = cap;
            }
        }
        if (l->nreplay < l->replay_cap)
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

static void link_ready(ax__tcp_conn *c, const struct ax__tcp_hello *peer, void *user)
{
    struct ax__link *l = user;
    (void)c;
    (void)peer;
    l->state = LINK_HANDSHAKE;
    send_subscribe(l, false); /* the first one gets the history if transient-local */
}

static void handle_ack(struct ax__link *l, const uint8_t *p, size_t n)
{
    axon_ctl_SubscribeAck a = axon_ctl_SubscribeAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    struct ax__topic *t = l->topic;
    if (!pb_decode(&is, axon_ctl_SubscribeAck_fields, &a)) {
        AX_LOG_W(LOG_MODULE, "%s: undecodable SUBSCRIBE_ACK from '%s'", t->name, l->pub.node_name);
        ax__tcp_conn_close(l->conn, AX__TCP_CLOSE_ABORT, AX_EPROTO);
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
            emit_to_subs(t, l->pub.type_hash, &ev);
        }
        ax__tcp_conn_close(l->conn, AX__TCP_CLOSE_GRACEFUL, -(int)a.error);
        return;
    }
    l->state = LINK_ACTIVE;
    l->backoff_ns = 0;
    uint64_t floor = l->last_seq; /* history above it fills what was missed */
    /* Reconnected to the same publisher: what it sent meanwhile is lost. */
    if (l->last_seq && a.next_seq > l->last_seq + 1) {
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_GAP, l);
        ev.expected_seq = l->last_seq + 1;
        ev.received_seq = a.next_seq;
        ev.missing = a.next_seq - l->last_seq - 1;
        snprintf(ev.text, sizeof ev.text,
                 "%s: reconnected to '%s'; %llu message(s) published meanwhile were lost", t->name,
                 l->pub.node_name, (unsigned long long)ev.missing);
        emit_to_subs(t, l->pub.type_hash, &ev);
        l->last_seq = a.next_seq - 1;
    }
    /* The same publisher in a new process: what it published after its
     * predecessor's last message here, and before this one, is unknown. */
    for (unsigned k = 0; k < 4; k++) {
        if (t->gone[k].last_seq && t->gone[k].endpoint_id == l->pub.id &&
            t->gone[k].node_id != l->pub.node_id &&
            strcmp(t->gone[k].node_name, l->pub.node_name) == 0) {
            struct ax_pubsub_event ev;
            event_init(&ev, AX_PS_GAP, l);
            ev.restarted = true;
            ev.expected_seq = t->gone[k].last_seq + 1;
            ev.received_seq = a.next_seq;
            snprintf(ev.text, sizeof ev.text,
                     "%s: publisher on '%s' restarted: had sent %llu messages, the new one "
                     "starts at %llu; messages in between, if any, are lost",
                     t->name, l->pub.node_name, (unsigned long long)t->gone[k].last_seq,
                     (unsigned long long)a.next_seq);
            AX_LOG_I(LOG_MODULE, "%s", ev.text);
            t->gone[k].last_seq = 0;
            emit_to_subs(t, l->pub.type_hash, &ev);
        }
    }
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
                 l->pub.node_name, ax__tcp_conn_peer(l->conn));
        AX_LOG_I(LOG_MODULE, "%s", ev.text);
        emit_to_subs(t, l->pub.type_hash, &ev);
    }
    if (a.has_qos && a.qos.durability == AX_VOLATILE) {
        struct ax_qos q;
        wanted_qos(t, l->pub.type_hash, &q);
        if (q.durability == AX_TRANSIENT_LOCAL) {
            struct ax_pubsub_event ev;
            event_init(&ev, AX_PS_QOS_INCOMPATIBLE, l);
            snprintf(ev.text, sizeof ev.text,
                     "%s: transient-local subscription, volatile publisher on '%s': live data "
                     "only",
                     t->name, l->pub.node_name);
            emit_to_subs(t, l->pub.type_hash, &ev);
        }
    }
    replay_begin(l, a.next_seq, floor);
}

/* The ACK of a SUBSCRIBE sent again on the ACTIVE link. */
static void handle_reack(struct ax__link *l, const uint8_t *p, size_t n)
{
    axon_ctl_SubscribeAck a = axon_ctl_SubscribeAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    l->resubscribing = false;
    if (!pb_decode(&is, axon_ctl_SubscribeAck_fields, &a) || a.error) {
        AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' did not take the renewed SUBSCRIBE: %s",
                 l->topic->name, l->pub.node_name, a.error ? a.reason : "undecodable ACK");
        ax__tcp_conn_close(l->conn, AX__TCP_CLOSE_ABORT, AX_EPROTO);
        return;
    }
    replay_begin(l, a.next_seq, l->last_seq);
}

static void link_frame(ax__tcp_conn *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                       ax__buf *buf, void *user)
{
    struct ax__link *l = user;
    (void)buf;
    if (h->type == AX__FRAME_SUBSCRIBE_ACK && l->state == LINK_HANDSHAKE) {
        handle_ack(l, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_SUBSCRIBE_ACK && l->state == LINK_ACTIVE && l->resubscribing) {
        handle_reack(l, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_DATA && l->state == LINK_ACTIVE && !l->removed) {
        deliver_remote(l, h, payload);
        return;
    }
    if (h->type == AX__FRAME_DATA)
        return; /* removed meanwhile */
    AX_LOG_W(LOG_MODULE, "%s: unexpected frame type %u from publisher '%s'; closing",
             l->topic->name, h->type, l->pub.node_name);
    ax__tcp_conn_close(c, AX__TCP_CLOSE_ABORT, AX_EPROTO);
}

static void link_close(ax__tcp_conn *c, int status, void *user)
{
    struct ax__link *l = user;
    (void)c;
    l->conn = NULL;
    /* A replay cut short: what it delivered stays delivered; who was still
     * waiting for its ACK asks again on the next connection. */
    l->resubscribing = false;
    replay_finish(l);
    for (size_t i = 0; i < l->nreplay; i++)
        l->replay[i].state = AX__REPLAY_WAITING;
    if (status < 0 && !l->removed)
        set_last_error(l->topic, l->pub.type_hash, status);
    if (l->removed) {
        link_free(l);
        return;
    }
    if (status != AX_ETYPE) {
        AX_LOG_D(LOG_MODULE, "%s: connection to '%s' closed (%s); reconnecting", l->topic->name,
                 l->pub.node_name, status ? ax_strerror(status) : "by the peer");
        link_schedule_retry(l);
    } else {
        l->state = LINK_IDLE; /* refused for its type: wait for discovery */
    }
}

static const struct ax__tcp_conn_callbacks link_cbs = {
    .on_ready = link_ready, .on_frame = link_frame, .on_close = link_close};

static void link_connected(ax__tcp_connector *cn, int status, int fd, void *user)
{
    struct ax__link *l = user;
    (void)cn;
    l->connector = NULL;
    if (l->removed) {
        if (fd >= 0)
            close(fd);
        link_free(l);
        return;
    }
    if (status < 0) {
        char a[AX__ADDR_STRLEN];
        AX_LOG_D(LOG_MODULE, "%s: connect to '%s' at %s: %s", l->topic->name, l->pub.node_name,
                 ax__addr_format(&l->addr, a, sizeof a), ax_strerror(status));
        set_last_error(l->topic, l->pub.type_hash, status);
        link_schedule_retry(l);
        return;
    }
    struct ax__tcp_conn_options o;
    ax__conn_options(l->topic->shard->node, &o);
    int rc = ax__tcp_conn_new(l->topic->shard->loop, fd, &o, &link_cbs, l, &l->conn);
    if (rc < 0) {
        close(fd);
        link_schedule_retry(l);
        return;
    }
    l->state = LINK_HANDSHAKE;
}

static void link_connect(struct ax__link *l)
{
    if (l->removed || l->conn || l->connector)
        return;
    l->state = LINK_CONNECTING;
    const struct ax_config *c = &l->topic->shard->node->cfg;
    int rc = ax__tcp_connect(l->topic->shard->loop, &l->addr, c->transport.connect_timeout_ns,
                             link_connected, l, &l->connector);
    if (rc < 0)
        link_schedule_retry(l);
}

static void link_free(struct ax__link *l)
{
    struct ax__topic *t = l->topic;
    ax_timer_stop(&l->retry);
    for (size_t i = 0; i < t->nlinks; i++) {
        if (t->links[i] == l) {
            t->links[i] = t->links[--t->nlinks];
            break;
        }
    }
    free(l->replay);
    free(l);
    ax__topic_maybe_free(t);
}

/* The publisher left (or its type no longer matches): unmatch and go. */
static void link_remove(struct ax__link *l, const char *why)
{
    struct ax__topic *t = l->topic;
    if (l->removed)
        return;
    l->removed = true;
    if (l->matched) {
        ax__topic_iter_begin(t);
        for (size_t i = 0; i < t->nsubs; i++)
            if (t->subs[i] && ax__same_type(t->subs[i]->ep.type_hash, l->pub.type_hash))
                atomic_fetch_sub(&t->subs[i]->ctr.connections, 1);
        ax__topic_iter_end(t);
        struct ax_pubsub_event ev;
        event_init(&ev, AX_PS_UNMATCHED, l);
        snprintf(ev.text, sizeof ev.text, "%s: publisher on '%s' %s", t->name, l->pub.node_name,
                 why);
        AX_LOG_I(LOG_MODULE, "%s", ev.text);
        emit_to_subs(t, l->pub.type_hash, &ev);
    }
    if (l->last_seq) { /* remember it: a restart shows as a gap */
        unsigned k = t->gone_next++ % 4;
        snprintf(t->gone[k].node_name, sizeof t->gone[k].node_name, "%s", l->pub.node_name);
        t->gone[k].endpoint_id = l->pub.id;
        t->gone[k].node_id = l->pub.node_id;
        t->gone[k].last_seq = l->last_seq;
    }
    ax_timer_stop(&l->retry);
    if (l->connector) {
        ax__tcp_connect_cancel(l->connector);
        l->connector = NULL;
    }
    if (l->conn)
        ax__tcp_conn_close(l->conn, AX__TCP_CLOSE_ABORT, 0); /* link_close frees it */
    else
        link_free(l);
}

void ax__sub_close_links(struct ax__topic *t)
{
    /* link_remove may free links (and shrink the array): walk backwards. */
    for (size_t i = t->nlinks; i-- > 0;)
        if (i < t->nlinks)
            link_remove(t->links[i], "unsubscribed");
}

static struct ax__link *link_find(struct ax__topic *t, uint64_t node_id, uint32_t ep)
{
    for (size_t i = 0; i < t->nlinks; i++)
        if (t->links[i]->pub.node_id == node_id && t->links[i]->pub.id == ep &&
            !t->links[i]->removed)
            return t->links[i];
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
        for (int k = 0; k < 8; k++) {
            snprintf(a + 2 * k, 3, "%02x", s->ep.type_hash[k]);
            snprintf(b + 2 * k, 3, "%02x", pub->type_hash[k]);
        }
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
static void remote_pub_seen(struct ax__topic *t, const struct ax_endpoint_info *pub,
                            const char *node_tcp, uint64_t incarnation)
{
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
    struct ax__link *l = link_find(t, pub->node_id, pub->id);
    if (l && !ax__same_type(l->pub.type_hash, pub->type_hash)) {
        link_remove(l, "changed its type");
        l = NULL;
    }
    if (l || !any_match)
        return;
    /* The data address: its node's TCP host, its own port. */
    char host[64];
    snprintf(host, sizeof host, "%s", node_tcp);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    struct ax__addr addr;
    if (ax__addr_from_host(&addr, host, pub->port) < 0 || pub->port == 0) {
        AX_LOG_W(LOG_MODULE, "%s: publisher on '%s' has no usable address (%s, port %u)", t->name,
                 pub->node_name, node_tcp, pub->port);
        return;
    }
    if (t->nlinks == t->links_cap) {
        size_t cap = t->links_cap ? t->links_cap * 2 : 4;
        struct ax__link **n = realloc(t->links, cap * sizeof *n);
        if (!n)
            return;
        t->links = n;
        t->links_cap = cap;
    }
    l = calloc(1, sizeof *l);
    if (!l)
        return;
    l->topic = t;
    l->pub = *pub;
    l->incarnation = incarnation;
    l->addr = addr;
    ax_timer_init(t->shard->loop, &l->retry, retry_cb, l);
    t->links[t->nlinks++] = l;
    link_connect(l);
}

void ax__sub_remote_pub(struct ax__shard *s, const struct ax_graph_event *ev)
{
    struct ax__topic *t = ax__topic_get(s, ev->endpoint.topic, false);
    if (!t)
        return;
    if (ev->kind == AX_EVENT_ENDPOINT_LEAVE) {
        struct ax__link *l = link_find(t, ev->endpoint.node_id, ev->endpoint.id);
        if (l)
            link_remove(l, ev->node.heard_age_ns > ev->node.lease_ns ? "left (lease expired)"
                                                                     : "left");
        return;
    }
    if (t->nsubs)
        remote_pub_seen(t, &ev->endpoint, ev->node.tcp, ev->node.incarnation);
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
    if (t->nsubs == t->subs_cap) {
        size_t cap = t->subs_cap ? t->subs_cap * 2 : 4;
        struct ax_sub **n = realloc(t->subs, cap * sizeof *n);
        if (!n)
            return;
        t->subs = n;
        t->subs_cap = cap;
    }
    t->subs[t->nsubs++] = sub;
    sub->topic = t;
    sub->attached = true;
    if (sub->ep.qos.deadline_ns > 0)
        ax_timer_start(&sub->deadline, sub->ep.qos.deadline_ns, sub->ep.qos.deadline_ns);

    /* Local publishers: match (and a late joiner's history), or mismatch. */
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->npubs; i++) {
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
            for (uint32_t k = 0; k < pub->hist_len; k++) {
                ax__buf *b = pub->history[(pub->hist_next + k) % pub->hist_len];
                if (!b)
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
                                   .intra_process = true};
                if (!atomic_load(&sub->closed))
                    deliver_to(sub, &m);
            }
        }
    }
    ax__topic_iter_end(t);

    /* Remote publishers already in the table. */
    struct ax_endpoint_info *eps = NULL;
    struct ax_node_info *nodes = NULL;
    size_t n = 0, nn = 0;
    if (ax__node_snapshot_endpoints(sub->node, sub->ep.topic, &eps, &n) == 0 &&
        ax__node_snapshot_nodes(sub->node, &nodes, &nn) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (eps[i].kind != AX_ENDPOINT_PUBLISHER || eps[i].node_id == sub->node->id)
                continue;
            for (size_t k = 0; k < nn; k++)
                if (nodes[k].id == eps[i].node_id)
                    remote_pub_seen(t, &eps[i], nodes[k].tcp, nodes[k].incarnation);
        }
    }
    free(eps);
    free(nodes);

    /* Links that were there before: history and QoS for the newcomer. */
    for (size_t i = 0; i < t->nlinks; i++)
        if (!t->links[i]->removed && ax__same_type(t->links[i]->pub.type_hash, sub->ep.type_hash))
            link_sub_joined(t->links[i], sub);
}

static void attach_task(void *arg)
{
    sub_attach(arg);
}

void ax__sub_free_now(struct ax_sub *sub)
{
    atomic_store(&sub->closed, true);
    ax_timer_stop(&sub->deadline);
    struct ax__topic *t = sub->topic;
    if (t) {
        ax__topic_iter_begin(t);
        ax__topic_remove_sub(t, sub);
        for (size_t i = 0; i < t->nlinks; i++)
            replay_forget(t->links[i], sub);
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
            for (size_t i = t->nlinks; i-- > 0;)
                if (i < t->nlinks && ax__same_type(t->links[i]->pub.type_hash, sub->ep.type_hash))
                    link_remove(t->links[i], "unsubscribed");
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
    static const char *const names[] = {"matched",         "unmatched", "type_mismatch",   "gap",
                                        "deadline_missed", "dropped",   "qos_incompatible"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}
