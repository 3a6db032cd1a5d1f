/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishers: serialize once, deliver to local subscriptions directly and
 * to each subscribing node's link by reference, keep the transient-local
 * history, count every drop. The links themselves (SUBSCRIBE, ACK,
 * schemas) are pub_link.c's.
 *
 * Where a message goes on its way:
 *   ax_pub_publish() on any thread: pack into one pooled ax__buf;
 *   on the topic's shard thread: delivered at once; elsewhere: pushed on the
 *   shard's MPSC queue (one atomic exchange), the shard woken at most once
 *   per batch;
 *   ax__pub_deliver() on the shard: sequence number (assigned here, by the
 *   single consumer, so numbers are in delivery order), local
 *   subscriptions, then a send per link (a reference, no copy), history.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__array.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE        "pubsub"
#define DROP_EVENT_PERIOD (100 * AX_NS_PER_MS)

void ax_pub_options_init(struct ax_pub_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->qos = AX_QOS_DEFAULT;
}

/* ---- counters and events ---- */

void ax__pub_event(struct ax_pub *pub, enum ax_pubsub_event_kind kind, uint64_t node_id,
                   const char *node_name, uint32_t endpoint, bool intra, const char *text)
{
    struct ax_pubsub_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.node_id = node_id;
    snprintf(ev.node_name, sizeof ev.node_name, "%s", node_name);
    ev.endpoint_id = endpoint;
    ev.intra_process = intra;
    snprintf(ev.text, sizeof ev.text, "%s", text);
    ax__emit(&pub->ev, pub, &ev);
}

static void drop_timer_cb(ax_timer *t, void *user)
{
    struct ax_pub *pub = user;
    (void)t;
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++) {
        if (!pub->pending_drops[r])
            continue;
        struct ax_pubsub_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = AX_PS_DROPPED;
        ev.dropped = pub->pending_drops[r];
        ev.reason = (enum ax_drop_reason)r;
        snprintf(ev.text, sizeof ev.text, "%s: %llu message(s) dropped (%s)", pub->ep.topic,
                 (unsigned long long)ev.dropped, ax_drop_reason_name(ev.reason));
        pub->pending_drops[r] = 0;
        ax__emit(&pub->ev, pub, &ev);
    }
}

void ax__pub_count_drops(struct ax_pub *pub, enum ax_drop_reason reason, uint64_t n)
{
    atomic_fetch_add_explicit(&pub->ctr.drops[reason], n, memory_order_relaxed);
    /* Events are coalesced: one per reason per 100 ms, with the count. */
    pub->pending_drops[reason] += n;
    if (pub->ev.fn && !ax_timer_active(&pub->drop_timer))
        ax_timer_start(&pub->drop_timer, DROP_EVENT_PERIOD, 0);
}

/* ---- delivery (on the shard) ---- */

static void pub_attach(struct ax_pub *pub);

void ax__pub_deliver(struct ax_pub *pub, ax__buf *buf, int64_t ts)
{
    if (atomic_load_explicit(&pub->closed, memory_order_relaxed))
        return;
    if (!pub->topic)
        pub_attach(pub);
    pub->busy++;
    /* The shard numbers and counts: one writer (ax__ep_count()). */
    ax__ep_count(&pub->seq, 1);
    uint64_t seq = atomic_load_explicit(&pub->seq, memory_order_relaxed);
    ax__ep_count(&pub->ctr.messages, 1);
    ax__ep_count(&pub->ctr.bytes, buf->len);
    struct ax__topic *t = pub->topic;
    if (t && t->nsubs)
        ax__sub_deliver_local(t, pub, buf, seq, ts);
    if (pub->npsubs) {
        struct ax__frame_hdr h = {
            .type = AX__FRAME_DATA, .stream = pub->ep.id, .seq = seq, .timestamp_ns = ts};
        for (size_t i = 0; i < pub->npsubs; i++)
            ax__link_send(pub->psubs[i]->link, &h, buf); /* drops arrive via on_drop */
        ax__pub_note_queue(pub);
    }
    if (pub->history) {
        uint32_t slot = pub->hist_next;
        if (pub->history[slot])
            ax__buf_release(pub->history[slot]);
        ax__buf_hold(buf);
        buf->qseq = seq; /* the history keeps its own reference: safe to tag */
        buf->qts = ts;
        pub->history[slot] = buf;
        pub->hist_next = (slot + 1) % pub->hist_len;
    }
    /* Freed by a callback meanwhile: now, and not from a posted task, which
     * could run after the node's teardown freed it already. */
    if (--pub->busy == 0 && pub->free_pending)
        ax__pub_free_now(pub);
}

#define HANDOVER_WAIT_NS AX_NS_PER_MS

/* A direct publish: the application thread delivers the message itself,
 * as the loop's thread would, while that thread waits for events
 * (ax__shard_enter()). A handed-over message costs two thread switches
 * (this thread wakes the loop, the loop runs) before its first byte moves;
 * a round trip between two nodes paid four of them for the two publishes,
 * on top of the two wake-ups of the receiving loops. It is done when:
 *
 * - this publisher was quiet for DIRECT_GAP_NS: a stream of small messages
 *   is better handed over, so that the loop sends many with one write
 *   (done here, each would cost a system call); a message that follows a
 *   pause (a request, a reply, a periodic sample) goes at once;
 * - or the message is a chunk over DIRECT_BIG that every link reads in
 *   place: one descriptor each, a small write, however fast they come;
 * - nothing handed over earlier is still queued (order), no subscription
 *   of this node takes the topic (its callback runs on the loop's thread)
 *   and the publisher is attached (attaching emits events);
 * - never a message over DIRECT_BIG for a link that copies it (TCP): the
 *   loop sends it while this thread prepares the next;
 * - never on a node whose loop threads run real-time (node.sched_policy):
 *   a loop woken while this thread holds its gate waits for it, and this
 *   thread, of a lower priority, may be preempted meanwhile. */
#define DIRECT_GAP_NS (10 * AX_NS_PER_US)
#define DIRECT_BIG    (64u * 1024)

static bool publish_direct(struct ax_pub *pub, ax__buf *buf, int64_t ts, bool admitted)
{
    struct ax__shard *s = pub->shard;
    /* One thread publishes on a publisher, as a rule; with more, a lost
     * update only changes which path one message takes. */
    int64_t last = atomic_load_explicit(&pub->last_publish, memory_order_relaxed);
    atomic_store_explicit(&pub->last_publish, ts, memory_order_relaxed);
    bool big = buf->len > DIRECT_BIG;
    if (big ? buf->cls != AX__BUF_EMBEDDED ||
                  atomic_load_explicit(&pub->shm_links, memory_order_relaxed) == 0
            : ts - last < DIRECT_GAP_NS)
        return false; /* without touching the gate: a TCP stream of big ones pays nothing */
    if (s->node->cfg.sched_policy != AX_SCHED_OTHER ||
        atomic_load_explicit(&s->backlog, memory_order_relaxed) != 0 || !ax__shard_enter(s))
        return false;
    /* The shard's state is this thread's to read until the leave. */
    struct ax__topic *t = pub->topic;
    bool ok = t && t->nsubs == 0 && !pub->free_pending && !atomic_load(&pub->closed) &&
              atomic_load_explicit(&s->backlog, memory_order_relaxed) == 0;
    if (ok && big) /* every link reads it in place: none copies it */
        ok = atomic_load_explicit(&pub->shm_links, memory_order_relaxed) == pub->npsubs;
    if (ok) {
        if (admitted)
            ax__pub_block_delivering(pub, buf->len);
        ax__pub_deliver(pub, buf, ts);
        ax__buf_release(buf);
        if (admitted)
            ax__pub_block_delivered(pub);
        atomic_fetch_add_explicit(&pub->direct, 1, memory_order_relaxed);
    }
    ax__shard_leave(s);
    return ok;
}

static int publish_buf(struct ax_pub *pub, ax__buf *buf)
{
    int64_t ts = ax_clock_real_ns();
    struct ax__shard *s = pub->shard;
    bool on_shard = ax__on_shard(s), admitted;
    /* A loop thread (any node's) never waits: it would stall its loop. */
    bool no_wait = on_shard || ax_loop_current() != NULL;
    int rc = ax__pub_block_admit(pub, buf->len, no_wait, &admitted);
    if (rc == AX_EAGAIN && ax__pipeline_hold(pub))
        rc = 0;   /* from a lossless input's callback: through, and that input pauses */
    if (rc < 0) { /* a subscriber that blocks has no room: nothing was published */
        ax__buf_release(buf);
        return rc;
    }
    if (on_shard) {
        ax__pub_deliver(pub, buf, ts);
        ax__buf_release(buf);
        return 0;
    }
    if (!no_wait && publish_direct(pub, buf, ts, admitted))
        return 0;
    /* The topic's thread is behind by a whole queue, in frames or in
     * bytes: say so rather than queue without bound (a best-effort
     * publisher of 1 MiB messages queued 1.5 GB here when it was counted
     * in frames only). Nothing was published; the caller retries or gives
     * up. A publisher with lossless (block) subscribers waits for the
     * queue as it waits for their room; another waits a little
     * (HANDOVER_WAIT_NS) before AX_EAGAIN, so that a caller that retries
     * at once does not take the core the loop needs to catch up. Another
     * node's loop thread does not wait at all. */
    if (ax__shard_backlog_full(s)) {
        int64_t wait = pub->ep.qos.max_blocking_ns;
        if (no_wait) {
            rc = AX_EAGAIN;
        } else if (admitted) {
            rc = ax__pub_block_wait_queue(pub, wait);
            if (rc == AX_ETIMEDOUT)
                atomic_fetch_add_explicit(&pub->block_timeouts, 1, memory_order_relaxed);
        } else {
            rc = ax__pub_block_wait_queue(pub, wait < HANDOVER_WAIT_NS ? wait : HANDOVER_WAIT_NS);
            if (rc == AX_ETIMEDOUT)
                rc = AX_EAGAIN;
        }
        if (rc < 0) {
            if (admitted)
                ax__pub_block_unadmit(pub, buf->len);
            ax__buf_release(buf);
            return rc;
        }
    }
    buf->qctx = pub;
    buf->qts = ts;
    buf->qseq = admitted; /* counted as pending: uncounted when delivered */
    atomic_fetch_add_explicit(&s->backlog, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->backlog_bytes, buf->len, memory_order_relaxed);
    ax__mpsc_push(&s->queue, &buf->qnode);
    if (!atomic_exchange_explicit(&s->wake_pending, true, memory_order_acq_rel)) {
        /* On failure it is queued all the same; the next publish retries. */
        if (ax_loop_post(s->loop, ax__pub_drain_task, s) < 0)
            atomic_store(&s->wake_pending, false);
    }
    return 0;
}

#define DRAIN_BATCH   1024
#define BACKLOG_BATCH 64

/* On the shard: deliver what other threads queued, DRAIN_BATCH at a time,
 * so the connections' flushes (the ready phase of the next iteration)
 * interleave with a long burst instead of seeing all of it at once.
 *
 * Every message here was written by another core: its buffer's header
 * comes with the pop, its payload with the flush (wq.c copies small ones).
 * The next message's header and this one's payload are fetched ahead
 * while this one is delivered. The backlog, which publishing threads add
 * to with every publish, is taken down BACKLOG_BATCH at a time rather than
 * moved between the two cores with every message (it bounds the queue at
 * transport.queue_frames: a few dozen more are nothing). */
static void backlog_taken(struct ax__shard *s, unsigned n, uint64_t bytes)
{
    atomic_fetch_sub_explicit(&s->backlog, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&s->backlog_bytes, bytes, memory_order_relaxed);
}

void ax__pub_drain_task(void *arg)
{
    struct ax__shard *s = arg;
    /* Reset first: a push after this point posts a new drain. */
    atomic_store_explicit(&s->wake_pending, false, memory_order_release);
    ax__buf *b;
    unsigned n = 0, taken = 0;
    uint64_t taken_bytes = 0;
    while ((b = ax__shard_pop(s)) != NULL) {
        /* The next one's header, which its delivery writes (a reference
         * per link), taken exclusive now. Not the stub's: the line before
         * it holds the queue's head, which the publishing threads write. */
        if (s->queue.tail != &s->queue.stub) {
            uintptr_t next = (uintptr_t)s->queue.tail - offsetof(ax__buf, qnode);
            ax__prefetch_write((const void *)next);
            ax__prefetch_write(s->queue.tail);
        }
        __builtin_prefetch(b->data);
        taken_bytes += b->len;
        if (++taken == BACKLOG_BATCH) {
            backlog_taken(s, taken, taken_bytes);
            taken = 0;
            taken_bytes = 0;
        }
        struct ax_pub *pub = b->qctx;
        bool admitted = b->qseq == 1;
        if (admitted) /* before the delivery measures the queue it joins */
            ax__pub_block_delivering(pub, b->len);
        ax__pub_deliver(pub, b, b->qts);
        ax__buf_release(b);
        if (admitted)
            ax__pub_block_delivered(pub);
        if (++n == DRAIN_BATCH && !s->closing) {
            backlog_taken(s, taken, taken_bytes);
            if (!atomic_exchange_explicit(&s->wake_pending, true, memory_order_acq_rel) &&
                ax_loop_post(s->loop, ax__pub_drain_task, s) < 0)
                atomic_store(&s->wake_pending, false);
            return;
        }
    }
    backlog_taken(s, taken, taken_bytes);
}

static int check_size(const struct ax_pub *pub, size_t len)
{
    return len > pub->node->cfg.transport.max_frame ? AX_EMSGSIZE : 0;
}

int ax_pub_publish(ax_pub *pub, const ProtobufCMessage *msg)
{
    if (!pub || !msg || (pub->desc && msg->descriptor != pub->desc))
        return AX_EINVAL;
    size_t len = protobuf_c_message_get_packed_size(msg);
    int rc = check_size(pub, len);
    if (rc < 0)
        return rc;
    ax__buf *buf;
    if ((rc = ax__pub_payload_new(pub, len, false, &buf)) < 0)
        return rc;
    protobuf_c_message_pack(msg, buf->data); /* straight into the chunk, if one */
    return publish_buf(pub, buf);
}

int ax_pub_publish_bytes(ax_pub *pub, const void *data, size_t len)
{
    if (!pub || (!data && len))
        return AX_EINVAL;
    int rc = check_size(pub, len);
    if (rc < 0)
        return rc;
    ax__buf *buf;
    if ((rc = ax__pub_payload_new(pub, len, false, &buf)) < 0)
        return rc;
    if (len)
        memcpy(buf->data, data, len);
    return publish_buf(pub, buf);
}

int ax_pub_publish_loan(ax_pub *pub, struct ax_loan *loan, size_t len)
{
    if (!loan || !loan->priv_)
        return AX_EINVAL;
    ax__buf *buf = loan->priv_;
    loan->priv_ = NULL; /* used up, whatever comes next */
    loan->data = NULL;
    if (!pub || len > loan->size) {
        ax__buf_release(buf);
        return AX_EINVAL;
    }
    buf->len = (uint32_t)len;
    return publish_buf(pub, buf);
}

int ax_pub_publish_owned(ax_pub *pub, void *data, size_t len,
                         void (*free_fn)(void *data, void *arg), void *arg)
{
    if (!pub || (!data && len))
        return AX_EINVAL;
    int rc = check_size(pub, len);
    if (rc < 0)
        return rc;
    ax__buf *buf;
    if ((rc = ax__buf_wrap(data, len, free_fn, arg, &buf)) < 0)
        return rc;
    return publish_buf(pub, buf);
}

/* ---- attach / type checks (on the shard) ---- */

static void log_mismatch(const char *topic, const char *our_role, const char *our_type,
                         const uint8_t *our_hash, const char *their_role, const char *their_node,
                         const char *their_type, const uint8_t *their_hash)
{
    char a[17], b[17];
    ax__format_hash(our_hash, a);
    ax__format_hash(their_hash, b);
    AX_LOG_W(LOG_MODULE,
             "%s: type mismatch, not connected: this %s has %s (%s), %s on node '%s' has %s (%s)",
             topic, our_role, our_type, a, their_role, their_node, their_type, b);
}

void ax__pub_type_mismatch(struct ax_pub *pub, uint64_t node_id, const char *node_name, uint32_t ep,
                           const char *type_name, const uint8_t *hash, bool intra)
{
    log_mismatch(pub->ep.topic, "publisher", pub->ep.type_name, pub->ep.type_hash,
                 "the subscription", node_name, type_name, hash);
    struct ax_pubsub_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = AX_PS_TYPE_MISMATCH;
    ev.node_id = node_id;
    snprintf(ev.node_name, sizeof ev.node_name, "%s", node_name);
    ev.endpoint_id = ep;
    ev.intra_process = intra;
    snprintf(ev.type_name, sizeof ev.type_name, "%s", type_name);
    memcpy(ev.type_hash, hash, AX_TYPE_HASH_SIZE);
    snprintf(ev.text, sizeof ev.text, "%s: subscription on '%s' has type %s, this publisher %s",
             pub->ep.topic, node_name, type_name, pub->ep.type_name);
    ax__emit(&pub->ev, pub, &ev);
}

void ax__pub_remote_sub(struct ax__shard *s, const struct ax_graph_event *ev)
{
    if (ev->kind == AX_EVENT_ENDPOINT_LEAVE)
        return; /* its connection's close says it */
    struct ax__topic *t = ax__topic_get(s, ev->endpoint.topic, false);
    if (!t)
        return;
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->npubs; i++) {
        struct ax_pub *pub = t->pubs[i];
        if (pub && !ax__same_type(pub->ep.type_hash, ev->endpoint.type_hash))
            ax__pub_type_mismatch(pub, ev->node.id, ev->node.name, ev->endpoint.id,
                                  ev->endpoint.type_name, ev->endpoint.type_hash, false);
    }
    ax__topic_iter_end(t);
}

static void pub_attach(struct ax_pub *pub)
{
    if (pub->topic || atomic_load(&pub->closed))
        return;
    struct ax__topic *t = ax__topic_get(pub->shard, pub->ep.topic, true);
    if (!t)
        return;
    if (ax__topic_add_pub(t, pub) < 0) {
        AX_LOG_E(LOG_MODULE, "%s: out of memory: publisher not attached", pub->ep.topic);
        ax__topic_maybe_free(t);
        return;
    }
    pub->topic = t;
    /* Local subscriptions: matched directly, or refused for their type. */
    ax__topic_iter_begin(t);
    for (size_t i = 0; i < t->nsubs; i++) {
        struct ax_sub *sub = t->subs[i];
        if (!sub)
            continue;
        if (ax__same_type(pub->ep.type_hash, sub->ep.type_hash)) {
            atomic_fetch_add(&pub->ctr.connections, 1);
            atomic_fetch_add(&sub->ctr.connections, 1);
            ax__pub_event(pub, AX_PS_MATCHED, pub->node->id, pub->node->name, sub->ep.id, true,
                          "local subscription matched");
            struct ax_pubsub_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = AX_PS_MATCHED;
            ev.node_id = pub->node->id;
            snprintf(ev.node_name, sizeof ev.node_name, "%s", pub->node->name);
            ev.endpoint_id = pub->ep.id;
            ev.intra_process = true;
            snprintf(ev.text, sizeof ev.text, "%s: local publisher matched", pub->ep.topic);
            ax__emit(&sub->ev, sub, &ev);
        } else {
            ax__pub_type_mismatch(pub, pub->node->id, pub->node->name, sub->ep.id,
                                  sub->ep.type_name, sub->ep.type_hash, true);
            struct ax_pubsub_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = AX_PS_TYPE_MISMATCH;
            ev.node_id = pub->node->id;
            ev.endpoint_id = pub->ep.id;
            ev.intra_process = true;
            snprintf(ev.type_name, sizeof ev.type_name, "%s", pub->ep.type_name);
            memcpy(ev.type_hash, pub->ep.type_hash, AX_TYPE_HASH_SIZE);
            snprintf(ev.text, sizeof ev.text, "%s: local publisher has type %s", pub->ep.topic,
                     pub->ep.type_name);
            ax__emit(&sub->ev, sub, &ev);
        }
    }
    ax__topic_iter_end(t);
    /* Remote subscriptions already known with another type. */
    struct ax_endpoint_info *eps = NULL;
    size_t n = 0;
    if (ax__node_snapshot_endpoints(pub->node, pub->ep.topic, &eps, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (eps[i].kind != AX_ENDPOINT_SUBSCRIBER || eps[i].node_id == pub->node->id)
            continue;
        if (!ax__same_type(pub->ep.type_hash, eps[i].type_hash))
            ax__pub_type_mismatch(pub, eps[i].node_id, eps[i].node_name, eps[i].id,
                                  eps[i].type_name, eps[i].type_hash, false);
    }
    free(eps);
}

static void attach_task(void *arg)
{
    pub_attach(arg);
}

/* ---- the links of a publisher (for pub_link.c) ---- */

int ax__pub_add_psub(struct ax_pub *pub, struct ax__psub *ps)
{
    if (ax__array_reserve(&pub->psubs, &pub->psubs_cap, pub->npsubs + 1, 4) < 0)
        return AX_ENOMEM;
    ps->pub = pub;
    ax_timer_stop(&ps->idle); /* it subscribed: no longer idle, whatever happens to pub */
    pub->psubs[pub->npsubs++] = ps;
    atomic_fetch_add(&pub->ctr.connections, 1);
    if (ps->link->transport && (ps->link->transport->caps & AX__TP_LOANS))
        atomic_fetch_add(&pub->shm_links, 1);
    return 0;
}

void ax__pub_remove_psub(struct ax__psub *ps)
{
    struct ax_pub *pub = ps->pub;
    if (!pub)
        return;
    for (size_t i = 0; i < pub->npsubs; i++) {
        if (pub->psubs[i] == ps) {
            pub->psubs[i] = pub->psubs[--pub->npsubs];
            break;
        }
    }
    atomic_fetch_sub(&pub->ctr.connections, 1);
    if (ps->link->transport && (ps->link->transport->caps & AX__TP_LOANS))
        atomic_fetch_sub(&pub->shm_links, 1);
    ax__pub_set_block(ps, false);
    ps->pub = NULL;
    ax__pub_room_changed(pub, false); /* a waiting publisher may go on without it */
}

/* ---- lifecycle ---- */

int ax__pub_new_impl(ax_pub **out, ax_node *node, const char *topic, const char *type_name,
                     const uint8_t *hash, const ax_type *type, const struct ax_pub_options *opt)
{
    if (!out || !node || !ax__topic_name_ok(topic) || !type_name)
        return AX_EINVAL;
    if (node->destroying)
        return AX_ECLOSED;
    struct ax_pub_options defaults;
    if (!opt) {
        ax_pub_options_init(&defaults);
        opt = &defaults;
    }
    struct ax_pub *pub = calloc(1, sizeof *pub);
    if (!pub)
        return AX_ENOMEM;
    pub->node = node;
    pub->desc = type ? ax_type_descriptor(type) : NULL;
    pub->type = type; /* before the endpoint is visible to schema requests */
    pub->shard = ax__shard_for(node, topic);
    pub->ev.fn = opt->on_event;
    pub->ev.user = opt->user;
    pub->drop = opt->drop;
    struct ax__local_ep *ep = &pub->ep;
    ep->kind = AX_ENDPOINT_PUBLISHER;
    snprintf(ep->topic, sizeof ep->topic, "%s", topic);
    snprintf(ep->type_name, sizeof ep->type_name, "%s", type_name);
    memcpy(ep->type_hash, hash, AX_TYPE_HASH_SIZE);
    ep->qos = opt->qos;
    if (ax_config_qos_for(&node->cfg, topic, &ep->qos) == 0)
        AX_LOG_I(LOG_MODULE, "%s: QoS from the configuration", topic);
    if (ep->qos.history == 0)
        ep->qos.history = 1;
    ep->ctr = &pub->ctr;
    ep->port = pub->shard->port;
    ep->owner = pub;
    if (ep->qos.durability == AX_TRANSIENT_LOCAL) {
        pub->hist_len = ep->qos.history;
        pub->history = calloc(pub->hist_len, sizeof *pub->history);
        if (!pub->history) {
            free(pub);
            return AX_ENOMEM;
        }
    }
    ax_timer_init(pub->shard->loop, &pub->drop_timer, drop_timer_cb, pub);
    ax__pub_pool_open(pub);
    ax__pub_block_init(pub);
    int rc = ax__node_add_endpoint(node, ep);
    if (rc < 0) {
        if (pub->pool)
            pub->pool->ops->close(pub->pool);
        ax__pub_block_fini(pub);
        free(pub->history);
        free(pub);
        return rc;
    }
    rc = ax__shard_run(pub->shard, attach_task, pub);
    if (rc < 0) {
        ax__node_remove_endpoint(node, ep);
        if (pub->pool)
            pub->pool->ops->close(pub->pool);
        ax__pub_block_fini(pub);
        free(pub->history);
        free(pub);
        return rc;
    }
    *out = pub;
    return 0;
}

int ax_pub_new(ax_pub **out, ax_node *node, const char *topic, const ax_type *type,
               const struct ax_pub_options *opt)
{
    if (!type)
        return AX_EINVAL;
    return ax__pub_new_impl(out, node, topic, ax_type_name(type), ax_type_hash(type)->bytes, type,
                            opt);
}

int ax_pub_new_raw(ax_pub **out, ax_node *node, const char *topic, const char *type_name,
                   const struct ax_pub_options *opt)
{
    if (!type_name || !*type_name || strlen(type_name) >= AX_TYPE_NAME_MAX)
        return AX_EINVAL;
    uint8_t hash[AX_TYPE_HASH_SIZE];
    ax__raw_type_hash(type_name, hash);
    return ax__pub_new_impl(out, node, topic, type_name, hash, NULL, opt);
}

/* On the shard: detach from everything and free. */
void ax__pub_free_now(struct ax_pub *pub)
{
    struct ax__shard *s = pub->shard;
    if (pub->busy) { /* freed from a callback of its own delivery: at its end */
        atomic_store(&pub->closed, true);
        pub->free_pending = true;
        return;
    }
    /* Messages other threads queued before the free still go out. */
    ax__buf *b;
    while ((b = ax__shard_pop(s)) != NULL) {
        backlog_taken(s, 1, b->len);
        struct ax_pub *owner = b->qctx;
        bool admitted = b->qseq == 1; /* another publisher's: its count goes on */
        if (admitted)
            ax__pub_block_delivering(owner, b->len);
        ax__pub_deliver(owner, b, b->qts);
        ax__buf_release(b);
        if (admitted)
            ax__pub_block_delivered(owner);
    }
    atomic_store(&pub->closed, true);
    struct ax__topic *t = pub->topic;
    if (t) {
        ax__topic_iter_begin(t); /* held until the end: not freed under us */
        ax__topic_remove_pub(t, pub);
        for (size_t i = 0; i < t->nsubs; i++) {
            struct ax_sub *sub = t->subs[i];
            if (!sub || !ax__same_type(pub->ep.type_hash, sub->ep.type_hash))
                continue;
            atomic_fetch_sub(&sub->ctr.connections, 1);
            struct ax_pubsub_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = AX_PS_UNMATCHED;
            ev.node_id = pub->node->id;
            ev.endpoint_id = pub->ep.id;
            ev.intra_process = true;
            snprintf(ev.text, sizeof ev.text, "%s: local publisher freed", pub->ep.topic);
            ax__emit(&sub->ev, sub, &ev);
        }
    }
    /* Connections are closed gracefully: what is queued is still sent. */
    while (pub->npsubs > 0) {
        struct ax__psub *ps = pub->psubs[0];
        ax__pub_remove_psub(ps);
        ax__link_close(ps->link, AX__LINK_GRACEFUL, 0);
    }
    ax_timer_stop(&pub->drop_timer);
    for (uint32_t i = 0; i < pub->hist_len; i++)
        if (pub->history[i])
            ax__buf_release(pub->history[i]);
    if (pub->drop)
        pub->drop(pub->ev.user);
    if (pub->pool) /* its memory goes with the last chunk subscribers still hold */
        pub->pool->ops->close(pub->pool);
    ax__pipeline_resume(pub); /* the inputs it paused would wait for nothing */
    ax__pub_block_fini(pub);
    free(pub->history);
    free(pub->psubs);
    free(pub);
    if (t)
        ax__topic_iter_end(t); /* may free the topic */
}

static void free_task(void *arg)
{
    ax__pub_free_now(arg); /* waits for the end of a delivery in progress */
}

void ax_pub_free(ax_pub *pub)
{
    if (!pub)
        return;
    ax__node_remove_endpoint(pub->node, &pub->ep);
    if (pub->shard->closing)
        return; /* the node's destruction frees it */
    ax__shard_run_sync(pub->shard, free_task, pub);
}

int ax_pub_counters(const ax_pub *pub, struct ax_endpoint_counters *out)
{
    if (!pub || !out)
        return AX_EINVAL;
    ax__ep_counters_read(&pub->ctr, out);
    out->direct = atomic_load_explicit(&pub->direct, memory_order_relaxed);
    return 0;
}

int ax_pub_backlog(const ax_pub *pub, uint64_t *messages, uint64_t *bytes)
{
    if (!pub || !messages || !bytes)
        return AX_EINVAL;
    *messages = *bytes = 0;
    for (size_t i = 0; i < pub->npsubs; i++) {
        uint64_t m, b;
        ax__link_queued(pub->psubs[i]->link, &m, &b);
        if (m > *messages)
            *messages = m;
        if (b > *bytes)
            *bytes = b;
    }
    return 0;
}

const char *ax_pub_topic(const ax_pub *pub)
{
    return pub->ep.topic;
}

const struct ax_qos *ax_pub_qos(const ax_pub *pub)
{
    return &pub->ep.qos;
}

uint32_t ax_pub_id(const ax_pub *pub)
{
    return pub->ep.id;
}
