/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The publisher side of links: a subscribing node connects to the shard's
 * listener, says SUBSCRIBE (which publisher, its type, the QoS it wants,
 * the last sequence it has), and this side answers SUBSCRIBE_ACK and
 * attaches the link to the publisher, whose deliveries then go to it. A
 * tool may ask for a type's schema on a link as well. A service client's
 * BIND makes the link a service's instead (core/service.c).
 *
 * Control messages are encoded here (nanopb, msgs/control.proto) and handed
 * to the link as bytes: the transport knows nothing of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__log_limit.h"
#include "core/ax__node.h"
#include "core/ax__pubsub.h"
#include "core/ax__service.h"

#define LOG_MODULE "pubsub"

/* Encode @msg of @fields and send it as a control frame of @type. */
static int send_pb(ax__link *l, uint8_t type, const pb_msgdesc_t *fields, const void *msg)
{
    uint8_t buf[1024];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, fields, msg))
        return AX_EPROTO;
    return ax__link_send_control(l, type, buf, os.bytes_written);
}

static void psub_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    struct ax__psub *ps = user;
    ps->ready = true;
    ps->node_id = peer->node_id;
    snprintf(ps->node_name, sizeof ps->node_name, "%s", peer->node_name);
    char why[300];
    /* A Unix-socket link is shared memory: offered only to the users the
     * policy names (the kernel's word on who the peer is). The subscriber
     * goes on over TCP, where its identity is checked instead. */
    if (peer->has_cred && !ax__node_policy_allows_shm(ps->shard->node, peer->identity, peer->uid,
                                                      peer->gid, why, sizeof why)) {
        ps->policy_refused = true;
        ax__link_send_error(l, AX_ENOTSUP, why);
    }
}

static void refuse(struct ax__psub *ps, const struct ax_pub *pub, uint32_t id, int code,
                   const char *reason)
{
    axon_ctl_SubscribeAck ack = axon_ctl_SubscribeAck_init_zero;
    ack.publisher_id = id;
    ack.error = (uint32_t)-code;
    snprintf(ack.reason, sizeof ack.reason, "%s", reason);
    if (pub) {
        snprintf(ack.type_name, sizeof ack.type_name, "%s", pub->ep.type_name);
        ack.type_hash.size = AX_TYPE_HASH_SIZE;
        memcpy(ack.type_hash.bytes, pub->ep.type_hash, AX_TYPE_HASH_SIZE);
    }
    send_pb(ps->link, AX__FRAME_SUBSCRIBE_ACK, axon_ctl_SubscribeAck_fields, &ack);
    ax__link_close(ps->link, AX__LINK_GRACEFUL, code);
}

/* ---- keep-alives ----
 *
 * A subscriber takes a link silent for its discovery.liveness for a dead
 * publisher (sub_link.c), so an idle link carries a KEEPALIVE frame every
 * keepalive_ns its SUBSCRIBE asked for. Idle is read off the link's own
 * frame counter at each scan, which costs the data path nothing: a scan
 * every period that finds no frame sent since the previous one sends one,
 * so the gap on the wire stays under two periods, half the subscriber's
 * liveness. */
static void keepalive_scan(ax_timer *t, void *user)
{
    struct ax__shard *s = user;
    bool any = false;
    ax__qnode *n;
    ax__list_foreach(n, &s->psubs)
    {
        struct ax__psub *ps = ax__container_of(n, struct ax__psub, node);
        if (!ps->keepalive_ns || !ps->pub)
            continue;
        any = true;
        struct ax__link_stats st;
        ax__link_get_stats(ps->link, &st);
        if (st.frames_out == ps->ka_frames && st.queued_frames == 0) {
            ax__link_send_control(ps->link, AX__FRAME_KEEPALIVE, NULL, 0);
        }
        ps->ka_frames = st.frames_out;
    }
    if (!any)
        ax_timer_stop(t); /* the next link that asks starts it again */
}

/* A link asked for keep-alives every @period: scan at least that often. */
static void keepalive_want(struct ax__shard *s, int64_t period)
{
    if (!s->ka_on) {
        ax_timer_init(s->loop, &s->ka_timer, keepalive_scan, s);
        s->ka_on = true;
    }
    if (!ax_timer_active(&s->ka_timer) || period < s->ka_period) {
        s->ka_period = period;
        ax_timer_start(&s->ka_timer, s->ka_period, s->ka_period);
    }
}

/* The subscriber's QoS sets this connection's queue: reliable gets the
 * configured bounds, best effort its history depth; its overload policy
 * decides what a full queue drops. */
static void apply_qos(struct ax__psub *ps, const struct ax_pub *pub, const axon_ctl_Subscribe *m)
{
    if (m->has_qos)
        ax__qos_from_wire(&ps->qos, &m->qos);
    else
        ps->qos = AX_QOS_DEFAULT;
    const struct ax_config *cfg = &pub->node->cfg;
    /* Lossless, what waits in the queue is messages the publisher has
     * written and will wait for anyway. Over shared memory: as many bytes
     * of chunks as the peer may hold; over a stream: transport.block_bytes,
     * beside which the socket's own buffer keeps the link busy. So a
     * publisher that outruns its reader waits sooner and cycles through a
     * few warm buffers rather than many cold ones: at 1 MiB a 64 MiB queue
     * made every buffer fresh memory, faulted in page by page by the
     * socket's copy (docs/performance.md). The other policies keep the
     * configured bound: there it decides what is dropped. */
    ps->queue_bytes = cfg->transport.queue_bytes;
    if (ps->qos.overload == AX_OVERLOAD_BLOCK) {
        bool loans = ps->link->transport && (ps->link->transport->caps & AX__TP_LOANS);
        uint64_t bound = loans ? cfg->transport.shm_quota_bytes : cfg->transport.block_bytes;
        if (bound < ps->queue_bytes)
            ps->queue_bytes = bound;
    }
    ps->link->ops->set_queue(ps->link, ps->qos.overload, ps->queue_bytes,
                             ps->qos.reliability == AX_RELIABLE ? cfg->transport.queue_frames
                                                                : ps->qos.history);
    ax__pub_set_block(ps, ps->qos.overload == AX_OVERLOAD_BLOCK);
    /* Bounded below so a hostile SUBSCRIBE cannot make the scan spin. */
    ps->keepalive_ns =
        m->keepalive_ms ? (int64_t)(m->keepalive_ms < 4 ? 4 : m->keepalive_ms) * AX_NS_PER_MS : 0;
    if (ps->keepalive_ns)
        keepalive_want(ps->shard, ps->keepalive_ns);
}

/* SUBSCRIBE_ACK, then (when @history) the kept messages, oldest first,
 * with their original numbers. Both go behind whatever live data is
 * already queued, so the subscriber sees: live data, ACK, history (every
 * number below the ACK's next_seq), live data again. */
static void accept_subscribe(struct ax__psub *ps, struct ax_pub *pub, bool history)
{
    axon_ctl_SubscribeAck ack = axon_ctl_SubscribeAck_init_zero;
    ack.publisher_id = pub->ep.id;
    snprintf(ack.type_name, sizeof ack.type_name, "%s", pub->ep.type_name);
    ack.type_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(ack.type_hash.bytes, pub->ep.type_hash, AX_TYPE_HASH_SIZE);
    ack.has_qos = true;
    ax__qos_to_wire(&ack.qos, &pub->ep.qos);
    ack.next_seq = atomic_load(&pub->seq) + 1;
    ack.keepalive_ms = (uint32_t)(ps->keepalive_ns / AX_NS_PER_MS);
    bool replay = history && ps->qos.durability == AX_TRANSIENT_LOCAL && pub->history;
    for (uint32_t k = 0; replay && k < pub->hist_len; k++) {
        const ax__buf *b = pub->history[(pub->hist_next + k) % pub->hist_len];
        if (b) { /* the oldest kept; the ring holds every number after it */
            ack.history_first = b->qseq;
            break;
        }
    }
    send_pb(ps->link, AX__FRAME_SUBSCRIBE_ACK, axon_ctl_SubscribeAck_fields, &ack);
    if (!replay)
        return;
    for (uint32_t k = 0; k < pub->hist_len; k++) {
        ax__buf *b = pub->history[(pub->hist_next + k) % pub->hist_len];
        if (!b)
            continue;
        struct ax__frame_hdr h = {
            .type = AX__FRAME_DATA, .stream = pub->ep.id, .seq = b->qseq, .timestamp_ns = b->qts};
        ax__link_send(ps->link, &h, b);
    }
}

static void handle_subscribe(struct ax__psub *ps, const uint8_t *p, size_t n)
{
    axon_ctl_Subscribe m = axon_ctl_Subscribe_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (!pb_decode(&is, axon_ctl_Subscribe_fields, &m)) {
        AX_LOG_W(LOG_MODULE, "%s: undecodable SUBSCRIBE; closing", ps->link->peer_addr);
        ax__link_close(ps->link, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    if (ps->svc) {
        ax__link_close(ps->link, AX__LINK_ABORT, AX_EPROTO); /* a service's link */
        return;
    }
    if (ps->pub) {
        /* Again on an established connection: the subscribing node's
         * subscriptions changed. Same publisher and type, or nothing. */
        if (m.publisher_id != ps->pub->ep.id || m.type_hash.size != AX_TYPE_HASH_SIZE ||
            !ax__same_type(ps->pub->ep.type_hash, m.type_hash.bytes)) {
            AX_LOG_W(LOG_MODULE, "%s: SUBSCRIBE again for another publisher or type; closing",
                     ps->link->peer_addr);
            ax__link_close(ps->link, AX__LINK_ABORT, AX_EPROTO);
            return;
        }
        apply_qos(ps, ps->pub, &m);
        accept_subscribe(ps, ps->pub, m.replay);
        return;
    }
    struct ax_pub *pub = ax__topic_find_pub(ps->shard, m.publisher_id);
    char reason[256];
    if (!pub || atomic_load(&pub->closed)) {
        snprintf(reason, sizeof reason, "no publisher %u on node '%s'", (unsigned)m.publisher_id,
                 ps->shard->node->name);
        refuse(ps, NULL, m.publisher_id, AX_ENOTFOUND, reason);
        return;
    }
    if (strcmp(pub->ep.topic, m.topic) != 0 || m.type_hash.size != AX_TYPE_HASH_SIZE ||
        !ax__same_type(pub->ep.type_hash, m.type_hash.bytes)) {
        snprintf(reason, sizeof reason, "%s: publisher has type %s, subscriber %s", pub->ep.topic,
                 pub->ep.type_name, m.type_name);
        uint8_t their[AX_TYPE_HASH_SIZE] = {0};
        memcpy(their, m.type_hash.bytes,
               m.type_hash.size < AX_TYPE_HASH_SIZE ? m.type_hash.size : AX_TYPE_HASH_SIZE);
        /* Refused first: the event calls the application, which may free
         * the publisher. */
        refuse(ps, pub, m.publisher_id, AX_ETYPE, reason);
        ax__pub_type_mismatch(pub, ps->node_id, ps->node_name, 0, m.type_name, their, false);
        return;
    }
    if (!ax__node_policy_allows(ps->shard->node, ps->link->peer.identity, AX__POLICY_SUBSCRIBE,
                                pub->ep.topic, reason, sizeof reason)) {
        ps->policy_refused = true;
        refuse(ps, pub, m.publisher_id, AX_EACCES, reason);
        return;
    }
    if (ax__pub_add_psub(pub, ps) < 0) {
        ax__link_close(ps->link, AX__LINK_ABORT, AX_ENOMEM);
        return;
    }
    apply_qos(ps, pub, &m);
    accept_subscribe(ps, pub, true);
    char text[160];
    snprintf(text, sizeof text, "%s: subscriber node '%s' connected from %s", pub->ep.topic,
             ps->node_name, ps->link->peer_addr);
    AX_LOG_I(LOG_MODULE, "%s", text);
    ax__pub_event(pub, AX_PS_MATCHED, ps->node_id, ps->node_name, 0, false, text);
}

/* A tool asks for a type's schema: from a local publisher of that type
 * (which may be a type built at run time), else from the registry. */
static void handle_schema_request(struct ax__psub *ps, const uint8_t *p, size_t n)
{
    char name[AX_TYPE_NAME_MAX];
    if (n == 0 || n >= sizeof name) {
        ax__link_send_error(ps->link, AX_EINVAL, "bad type name in SCHEMA_REQUEST");
        return;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    ax_node *node = ps->shard->node;
    const ax_type *type = NULL;
    pthread_mutex_lock(&node->lock);
    for (size_t i = 0; i < node->neps && !type; i++) {
        const struct ax__local_ep *e = node->eps[i];
        if (e->kind == AX_ENDPOINT_PUBLISHER && strcmp(e->type_name, name) == 0 &&
            ((struct ax_pub *)e->owner)->type)
            type = ((struct ax_pub *)e->owner)->type;
    }
    if (!type)
        type = ax__service_type_locked(node, name);
    pthread_mutex_unlock(&node->lock);
    if (!type)
        ax_type_find(name, &type);
    const uint8_t *fds;
    size_t len;
    if (!type || ax_type_fds(type, &fds, &len) < 0) {
        char why[200];
        snprintf(why, sizeof why, "node '%s' has no schema for %s", node->name, name);
        ax__link_send_error(ps->link, AX_ENOTFOUND, why);
        return;
    }
    struct ax__frame_hdr h = {.type = AX__FRAME_SCHEMA_REPLY};
    ax__link_send_bytes(ps->link, &h, fds, len);
}

static void psub_frame(ax__link *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                       ax__buf *buf, void *user)
{
    struct ax__psub *ps = user;
    (void)buf;
    if (h->type == AX__FRAME_SUBSCRIBE) {
        handle_subscribe(ps, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_SCHEMA_REQUEST) {
        handle_schema_request(ps, payload, h->payload_len);
        return;
    }
    if (h->type == AX__FRAME_BIND || h->type == AX__FRAME_REQUEST) {
        ax__service_frame(ps, h, payload);
        return;
    }
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                   "%s: unexpected frame type %u from a subscriber; closing", c->peer_addr,
                   h->type);
    ax__link_close(c, AX__LINK_ABORT, AX_EPROTO);
}

static void psub_drop(ax__link *c, enum ax_drop_reason reason, uint64_t n, void *user)
{
    struct ax__psub *ps = user;
    (void)c;
    if (ps->pub) {
        ax__pub_count_drops(ps->pub, reason, n);
        ax__pub_note_queue(ps->pub);
    }
}

static void psub_drain(ax__link *c, void *user)
{
    struct ax__psub *ps = user;
    (void)c;
    if (ps->pub)
        ax__pub_room_changed(ps->pub, true);
    else if (ps->svc)
        ax__service_link_drain(ps);
}

static void psub_close(ax__link *c, int status, void *user)
{
    (void)c;
    struct ax__psub *ps = user;
    ax_node *node = ps->shard->node;
    ax_timer_stop(&ps->idle);
    atomic_fetch_sub_explicit(&node->links_in, 1, memory_order_relaxed);
    if (status == AX_ETIMEDOUT && !ps->idle_closed) /* its handshake or a frame took too long */
        atomic_fetch_add_explicit(&node->links_timed_out, 1, memory_order_relaxed);
    /* Before the handshake completed: no domain key, another one, or TLS
     * refused (after it, EACCES is a policy's, counted where it applied). */
    if (status == AX_EACCES && !ps->ready && !ps->policy_refused)
        atomic_fetch_add_explicit(&node->links_unauthenticated, 1, memory_order_relaxed);
    struct ax_pub *pub = ps->pub;
    if (pub) {
        char text[200];
        snprintf(text, sizeof text, "%s: subscriber node '%s' disconnected (%s)", pub->ep.topic,
                 ps->node_name, status ? ax_strerror(status) : "closed");
        AX_LOG_I(LOG_MODULE, "%s", text);
        ax__pub_remove_psub(ps);
        ax__pub_event(pub, AX_PS_UNMATCHED, ps->node_id, ps->node_name, 0, false, text);
    }
    ax__service_link_closed(ps);
    ax__list_remove(&ps->node);
    free(ps);
}

static const struct ax__link_callbacks psub_cbs = {.on_ready = psub_ready,
                                                   .on_frame = psub_frame,
                                                   .on_drain = psub_drain,
                                                   .on_drop = psub_drop,
                                                   .on_close = psub_close};

/* A TCP peer's IP address from "a.b.c.d:port"; "" for anything else
 * (Unix sockets: same host, bounded by transport.max_links alone). */
static void peer_host(const char *addr, char *out, size_t size)
{
    out[0] = '\0';
    const char *colon = strrchr(addr, ':');
    if (addr[0] < '0' || addr[0] > '9' || !colon || (size_t)(colon - addr) >= size)
        return;
    memcpy(out, addr, (size_t)(colon - addr));
    out[colon - addr] = '\0';
}

/* A connection that has not subscribed by its deadline is closed: a
 * peer may not hold a slot (and an fd) by saying HELLO and nothing more. */
static void idle_expired(ax_timer *t, void *user)
{
    struct ax__psub *ps = user;
    (void)t;
    if (ps->pub || ps->svc)
        return;
    ax_node *node = ps->shard->node;
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                   "%s (node '%s'): no subscription %lld ms after connecting; closing",
                   ps->link->peer_addr, ps->node_name,
                   (long long)(node->cfg.transport.idle_timeout_ns / AX_NS_PER_MS));
    ps->idle_closed = true;
    atomic_fetch_add_explicit(&node->links_idle_closed, 1, memory_order_relaxed);
    ax__link_close(ps->link, AX__LINK_ABORT, AX_ETIMEDOUT);
}

/* Connections from @host on this loop (the per-host bound is kept per loop
 * thread: one by default). */
static unsigned links_from(struct ax__shard *s, const char *host)
{
    unsigned n = 0;
    ax__qnode *q;
    ax__list_foreach(q, &s->psubs)
    {
        struct ax__psub *ps = ax__container_of(q, struct ax__psub, node);
        n += strcmp(ps->host, host) == 0;
    }
    return n;
}

int ax__pub_accept(struct ax__shard *s, ax__link *l)
{
    ax_node *node = s->node;
    const struct ax_config *c = &node->cfg;
    char host[48];
    peer_host(l->peer_addr, host, sizeof host);
    unsigned now = atomic_fetch_add_explicit(&node->links_in, 1, memory_order_relaxed);
    if (now >= c->transport.max_links) {
        atomic_fetch_sub_explicit(&node->links_in, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&node->links_refused, 1, memory_order_relaxed);
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                       "%s: refused: %u connections already (transport.max_links)", l->peer_addr,
                       now);
        return AX_EBUSY;
    }
    if (host[0] && links_from(s, host) >= c->transport.max_links_per_host) {
        atomic_fetch_sub_explicit(&node->links_in, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&node->links_refused, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&node->links_refused_host, 1, memory_order_relaxed);
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                       "%s: refused: %u connections from %s already (transport.max_links_per_host)",
                       l->peer_addr, c->transport.max_links_per_host, host);
        return AX_EBUSY;
    }
    struct ax__psub *ps = calloc(1, sizeof *ps);
    if (!ps) {
        atomic_fetch_sub_explicit(&node->links_in, 1, memory_order_relaxed);
        return AX_ENOMEM;
    }
    ps->shard = s;
    ps->link = l;
    snprintf(ps->host, sizeof ps->host, "%s", host);
    ax_timer_init(s->loop, &ps->idle, idle_expired, ps);
    if (c->transport.idle_timeout_ns)
        ax_timer_start(&ps->idle, c->transport.idle_timeout_ns, 0);
    ax__link_bind(l, &psub_cbs, ps);
    ax__list_push_back(&s->psubs, &ps->node);
    return 0;
}

void ax__pub_close_all(struct ax__shard *s)
{
    ax__qnode *n;
    ax__list_foreach(n, &s->psubs)
    {
        struct ax__psub *ps = ax__container_of(n, struct ax__psub, node);
        ax__pub_remove_psub(ps);
        ax__link_close(ps->link, AX__LINK_ABORT, AX_ECLOSED);
    }
}
