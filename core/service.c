/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service servers: the API, and the server side of their links.
 *
 * A client's link arrives on the shard's listener like a subscriber's
 * (pub_link.c accepts it, with its budget of links, its idle timer and a
 * 1 KiB limit on what it may send). Its BIND names the service and both
 * types; once they match, the link is the service's: its inbound limit is
 * raised to the service's max_request (told to the client with a LIMIT
 * frame, before the ACK), so a client that proved nothing can make the
 * server allocate no more than a control frame, and one that did no more
 * than the service announced.
 *
 * A REQUEST is decoded, handed to the handler on this thread, and its
 * reply (or why not) queued at once: calls on one link are answered in
 * order, and calls of different clients interleave as their links are read.
 * Unless the handler deferred it (service_defer.c): then its answer comes
 * from whichever thread gives it, through this shard.
 * A client that sends faster than it reads its replies is stopped from
 * sending more (its link is not read) once max_pending replies wait, and
 * read again when they drain: its flood costs the server that much memory
 * and the other clients nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/log.h"
#include "base/ax__list.h"
#include "base/ax__log_limit.h"
#include "core/ax__service.h"

#define LOG_MODULE "service"

void ax_service_options_init(struct ax_service_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_request = AX__SERVICE_MAX_REQUEST_DEFAULT;
    opt->max_pending = AX__SERVICE_MAX_PENDING_DEFAULT;
}

/* ---- the link side ---- */

static struct ax_service *service_find(struct ax__shard *s, uint32_t id)
{
    ax__qnode *n;
    ax__list_foreach(n, &s->services)
    {
        struct ax_service *srv = ax__container_of(n, struct ax_service, lnode);
        if (srv->ep.id == id && !atomic_load(&srv->closed))
            return srv;
    }
    return NULL;
}

static void send_ack(struct ax__psub *ps, const struct ax_service *srv, uint32_t id, int code,
                     const char *reason)
{
    axon_ctl_ServiceBindAck ack = axon_ctl_ServiceBindAck_init_zero;
    ack.service_id = id;
    ack.error = (uint32_t)-code;
    snprintf(ack.reason, sizeof ack.reason, "%s", reason ? reason : "");
    if (srv) {
        snprintf(ack.request_type, sizeof ack.request_type, "%s", srv->ep.type_name);
        ack.request_hash.size = AX_TYPE_HASH_SIZE;
        memcpy(ack.request_hash.bytes, srv->ep.type_hash, AX_TYPE_HASH_SIZE);
        snprintf(ack.reply_type, sizeof ack.reply_type, "%s", srv->ep.reply_type_name);
        ack.reply_hash.size = AX_TYPE_HASH_SIZE;
        memcpy(ack.reply_hash.bytes, srv->ep.reply_type_hash, AX_TYPE_HASH_SIZE);
        ack.max_request = srv->max_request;
        ack.max_pending = srv->max_pending;
    }
    uint8_t buf[AX__LINK_CONTROL_MAX];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (pb_encode(&os, axon_ctl_ServiceBindAck_fields, &ack))
        ax__link_send_control(ps->link, AX__FRAME_BIND_ACK, buf, os.bytes_written);
    if (code < 0) /* refused: nothing more to say on this link */
        ax__link_close(ps->link, AX__LINK_GRACEFUL, code);
}

static bool hash_is(const uint8_t *bytes, size_t size, const uint8_t *hash)
{
    return size == AX_TYPE_HASH_SIZE && memcmp(bytes, hash, AX_TYPE_HASH_SIZE) == 0;
}

static void handle_bind(struct ax__psub *ps, const uint8_t *p, size_t n)
{
    axon_ctl_ServiceBind m = axon_ctl_ServiceBind_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (ps->svc || ps->pub || !pb_decode(&is, axon_ctl_ServiceBind_fields, &m)) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: bad or second BIND; closing",
                       ps->link->peer_addr);
        ax__link_close(ps->link, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    struct ax_service *srv = service_find(ps->shard, m.service_id);
    char reason[AX_TOPIC_MAX + 300];
    if (!srv || strcmp(srv->ep.topic, m.name) != 0) {
        snprintf(reason, sizeof reason, "node '%s' has no service %s (id %u)",
                 ps->shard->node->name, m.name, (unsigned)m.service_id);
        send_ack(ps, NULL, m.service_id, AX_ENOTFOUND, reason);
        return;
    }
    if (!hash_is(m.request_hash.bytes, m.request_hash.size, srv->ep.type_hash) ||
        !hash_is(m.reply_hash.bytes, m.reply_hash.size, srv->ep.reply_type_hash)) {
        snprintf(reason, sizeof reason, "%s: the server takes %s and answers %s, the client %s/%s",
                 srv->ep.topic, srv->ep.type_name, srv->ep.reply_type_name, m.request_type,
                 m.reply_type);
        AX_LOG_W(LOG_MODULE, "%s (client node '%s')", reason, ps->node_name);
        send_ack(ps, srv, m.service_id, AX_ETYPE, reason);
        return;
    }
    if (!ax__node_policy_allows(ps->shard->node, ps->link->peer.identity, AX__POLICY_CALL,
                                srv->ep.topic, reason, sizeof reason)) {
        ps->policy_refused = true;
        send_ack(ps, srv, m.service_id, AX_EACCES, reason);
        return;
    }
    ax_timer_stop(&ps->idle);
    /* Before the ACK: the client may send that much once it has read it. */
    if (ax__link_set_max_in(ps->link, srv->max_request) < 0) {
        ax__link_close(ps->link, AX__LINK_ABORT, AX_ENOMEM);
        return;
    }
    /* Replies are never dropped: a client's own flood pauses its reading. */
    const struct ax_config *c = &srv->node->cfg;
    ps->link->ops->set_queue(ps->link, AX_OVERLOAD_BLOCK, c->transport.queue_bytes,
                             c->transport.queue_frames);
    ps->svc = srv;
    ax__list_push_back(&srv->links, &ps->svc_node);
    atomic_fetch_add(&srv->ctr.connections, 1);
    send_ack(ps, srv, m.service_id, 0, NULL);
    AX_LOG_D(LOG_MODULE, "%s: client node '%s' bound from %s", srv->ep.topic, ps->node_name,
             ps->link->peer_addr);
}

/* Scratch memory of one call: a list of blocks freed after the reply. */
struct scratch {
    struct scratch *next;
    max_align_t data[];
};

void *ax_service_scratch(struct ax_service_call *call, size_t size)
{
    struct ax__call_state *st = call ? call->priv_ : NULL;
    if (!st || size > SIZE_MAX - sizeof(struct scratch))
        return NULL;
    struct scratch *s = malloc(sizeof *s + size);
    if (!s)
        return NULL;
    s->next = st->scratch;
    st->scratch = s;
    return s->data;
}

static void scratch_free(struct ax__call_state *st)
{
    for (struct scratch *s = st->scratch, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    st->scratch = NULL;
}

static void service_free_now(struct ax_service *srv);

/* Decode, handle, and queue the reply. */
static void run_call(struct ax__psub *ps, struct ax_service *srv, uint64_t id, const uint8_t *p,
                     size_t n)
{
    const ProtobufCMessageDescriptor *rq = ax_type_descriptor(srv->req);
    const ProtobufCMessageDescriptor *rp = ax_type_descriptor(srv->rep);
    char why[AX_CALL_REASON_MAX];
    ProtobufCMessage *req = protobuf_c_message_unpack(rq, NULL, n, p);
    if (!req) {
        atomic_fetch_add(&srv->bad_requests, 1);
        snprintf(why, sizeof why, "%s: the request does not decode as %s", srv->ep.topic,
                 srv->ep.type_name);
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s (client node '%s')", why, ps->node_name);
        ax__service_send_error(ps->link, srv->ep.id, id, AX_EPROTO, 0, why);
        return;
    }
    ProtobufCMessage *rep = calloc(1, rp->sizeof_message);
    if (!rep) {
        protobuf_c_message_free_unpacked(req, NULL);
        ax__service_send_error(ps->link, srv->ep.id, id, AX_EREFUSED, AX_ENOMEM,
                               "server out of memory");
        return;
    }
    ax_msg_init(rp, rep);
    why[0] = '\0';
    struct ax__call_state st = {.srv = srv, .ps = ps, .id = id};
    struct ax_service_call call = {.node_id = ps->node_id,
                                   .node_name = ps->node_name,
                                   .identity = ps->link->peer.identity,
                                   .call_id = id,
                                   .why = why,
                                   .why_size = sizeof why,
                                   .priv_ = &st};
    srv->busy++;
    int rc = srv->fn(req, rep, &call, srv->user);
    srv->busy--;
    why[sizeof why - 1] = '\0';
    atomic_fetch_add_explicit(&srv->ctr.messages, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&srv->ctr.bytes, n, memory_order_relaxed);
    /* The link may have gone while the handler ran (it freed the service,
     * whose teardown closed its links): the reply has nowhere to go. */
    if (ps->svc != srv || st.deferred) {
        /* nothing, or not yet (service_defer.c) */
    } else if (rc < 0) {
        atomic_fetch_add(&srv->refused, 1);
        ax__service_send_error(ps->link, srv->ep.id, id, AX_EREFUSED, rc,
                               why[0] ? why : ax_strerror(rc));
    } else {
        size_t len = protobuf_c_message_get_packed_size(rep);
        ax__buf *b;
        if (ax__buf_new(len, &b) < 0) {
            ax__service_send_error(ps->link, srv->ep.id, id, AX_EREFUSED, AX_ENOMEM,
                                   "server out of memory");
        } else {
            protobuf_c_message_pack(rep, b->data);
            ax__service_send_reply(ps->link, srv->ep.topic, srv->ep.id, id, b);
            ax__buf_release(b);
        }
    }
    scratch_free(&st);
    free(rep); /* its fields' memory is the handler's */
    protobuf_c_message_free_unpacked(req, NULL);
}

static void handle_request(struct ax__psub *ps, const struct ax__frame_hdr *h, const uint8_t *p)
{
    struct ax_service *srv = ps->svc;
    if (!srv || h->stream != srv->ep.id) {
        char why[120];
        snprintf(why, sizeof why, "no service %u bound on this link", (unsigned)h->stream);
        ax__service_send_error(ps->link, h->stream, h->seq, AX_ENOTFOUND, 0, why);
        return;
    }
    run_call(ps, srv, h->seq, p, h->payload_len);
    if (srv->free_pending && srv->busy == 0) {
        service_free_now(srv); /* freed by its own handler */
        return;
    }
    if (ps->svc != srv)
        return;
    uint64_t frames, bytes;
    ax__link_queued(ps->link, &frames, &bytes);
    if (frames + ps->svc_deferred >= srv->max_pending && !ps->svc_paused) {
        ps->svc_paused = true;
        ax__link_set_reading(ps->link, false);
    }
}

void ax__service_frame(struct ax__psub *ps, const struct ax__frame_hdr *h, const uint8_t *payload)
{
    if (h->type == AX__FRAME_BIND)
        handle_bind(ps, payload, h->payload_len);
    else
        handle_request(ps, h, payload);
}

void ax__service_link_drain(struct ax__psub *ps)
{
    ax__service_maybe_resume(ps);
}

static void unbind(struct ax__psub *ps)
{
    struct ax_service *srv = ps->svc;
    if (!srv)
        return;
    ax__deferred_link_gone(srv, ps);
    ax__list_remove(&ps->svc_node);
    atomic_fetch_sub(&srv->ctr.connections, 1);
    ps->svc = NULL;
    ps->svc_deferred = 0;
}

void ax__service_link_closed(struct ax__psub *ps)
{
    unbind(ps);
}

const ax_type *ax__service_type_locked(ax_node *node, const char *name)
{
    for (size_t i = 0; i < node->neps; i++) {
        const struct ax__local_ep *e = node->eps[i];
        if (e->kind != AX_ENDPOINT_SERVICE)
            continue;
        const struct ax_service *srv = e->owner;
        if (strcmp(ax_type_name(srv->req), name) == 0)
            return srv->req;
        if (strcmp(ax_type_name(srv->rep), name) == 0)
            return srv->rep;
    }
    return NULL;
}

/* ---- lifecycle ---- */

static void attach_task(void *arg)
{
    struct ax_service *srv = arg;
    ax__list_push_back(&srv->shard->services, &srv->lnode);
}

static void detach_task(void *arg)
{
    struct ax_service *srv = arg;
    ax__list_remove(&srv->lnode);
}

int ax_service_new(ax_service **out, ax_node *node, const char *name, const ax_type *req,
                   const ax_type *rep, ax_service_fn fn, void *user,
                   const struct ax_service_options *opt)
{
    if (!out || !node || !ax__topic_name_ok(name) || !req || !rep || !fn)
        return AX_EINVAL;
    if (node->destroying)
        return AX_ECLOSED;
    struct ax_service_options defaults;
    if (!opt) {
        ax_service_options_init(&defaults);
        opt = &defaults;
    }
    struct ax_service *srv = calloc(1, sizeof *srv);
    if (!srv)
        return AX_ENOMEM;
    srv->node = node;
    srv->shard = ax__shard_for(node, name);
    srv->req = req;
    srv->rep = rep;
    srv->fn = fn;
    srv->user = user;
    srv->drop = opt->drop;
    uint32_t max_frame = node->cfg.transport.max_frame;
    srv->max_request = opt->max_request ? opt->max_request : AX__SERVICE_MAX_REQUEST_DEFAULT;
    if (srv->max_request > max_frame)
        srv->max_request = max_frame;
    srv->max_pending = opt->max_pending ? opt->max_pending : AX__SERVICE_MAX_PENDING_DEFAULT;
    ax__list_init(&srv->links);
    ax__list_init(&srv->deferred);
    struct ax__local_ep *ep = &srv->ep;
    ep->kind = AX_ENDPOINT_SERVICE;
    snprintf(ep->topic, sizeof ep->topic, "%s", name);
    snprintf(ep->type_name, sizeof ep->type_name, "%s", ax_type_name(req));
    memcpy(ep->type_hash, ax_type_hash(req)->bytes, AX_TYPE_HASH_SIZE);
    snprintf(ep->reply_type_name, sizeof ep->reply_type_name, "%s", ax_type_name(rep));
    memcpy(ep->reply_type_hash, ax_type_hash(rep)->bytes, AX_TYPE_HASH_SIZE);
    ep->max_request = srv->max_request;
    ep->qos = AX_QOS_DEFAULT;
    ep->ctr = &srv->ctr;
    ep->port = srv->shard->port;
    ep->owner = srv;
    /* On the shard before it is announced: a client's BIND finds it. */
    int rc = ax__shard_run_sync(srv->shard, attach_task, srv);
    if (rc == 0 && (rc = ax__node_add_endpoint(node, ep)) < 0)
        ax__shard_run_sync(srv->shard, detach_task, srv);
    if (rc < 0) {
        free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

/* On the shard: close its links (their clients' calls end with
 * AX_ENOTFOUND) and free it. */
static void service_free_now(struct ax_service *srv)
{
    atomic_store(&srv->closed, true);
    if (srv->busy) { /* from its own handler: when it returns */
        srv->free_pending = true;
        return;
    }
    ax__deferred_service_gone(srv);
    while (!ax__list_empty(&srv->links)) {
        struct ax__psub *ps = ax__container_of(srv->links.next, struct ax__psub, svc_node);
        unbind(ps);
        char why[AX_TOPIC_MAX + 40];
        snprintf(why, sizeof why, "service %s was removed", srv->ep.topic);
        ax__link_send_error(ps->link, AX_ENOTFOUND, why);
    }
    ax__list_remove(&srv->lnode);
    if (srv->drop)
        srv->drop(srv->user);
    free(srv);
}

static void free_task(void *arg)
{
    service_free_now(arg);
}

void ax_service_free(ax_service *srv)
{
    if (!srv)
        return;
    ax__node_remove_endpoint(srv->node, &srv->ep);
    if (srv->shard->closing)
        return; /* the node's teardown frees it */
    ax__shard_run_sync(srv->shard, free_task, srv);
}

void ax__services_close(struct ax__shard *s)
{
    while (!ax__list_empty(&s->services)) {
        struct ax_service *srv = ax__container_of(s->services.next, struct ax_service, lnode);
        service_free_now(srv);
    }
}

int ax_service_stats(const ax_service *srv, struct ax_service_stats *out)
{
    if (!srv || !out)
        return AX_EINVAL;
    out->calls = atomic_load(&((struct ax_service *)srv)->ctr.messages);
    out->refused = atomic_load(&((struct ax_service *)srv)->refused);
    out->bad_requests = atomic_load(&((struct ax_service *)srv)->bad_requests);
    out->clients = atomic_load(&((struct ax_service *)srv)->ctr.connections);
    return 0;
}
