/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service clients: calls, the link to the chosen server, timeouts.
 *
 * Everything but the API's entry points runs on the client's shard (its
 * name's): a call is packed on the caller's thread and handed over as a
 * task; the shard gives it an id, queues it until the link is bound, sends
 * it, and ends it exactly once: with the reply, an error reply, the
 * timeout (one timer at the earliest deadline), the link's end, or the
 * client's. A synchronous call is an asynchronous one whose end wakes the
 * waiting thread; the waiter never leaves before that end, so nothing the
 * shard touches is gone.
 *
 * The server is chosen from the table when a call needs it: a SERVICE
 * endpoint of the name with both types the same (hash), this process's
 * node first, else the first. The link goes where a subscription's would
 * (shared memory's Unix socket on the same host, else TCP) and starts with
 * BIND; until its ACK, calls wait. A server that leaves the table (its
 * lease expired, a Bye) ends the calls sent to it at once: a stopped
 * process does not hold them until their timeouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__list.h"
#include "core/ax__service.h"

#define LOG_MODULE "service"

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    ProtobufCMessage *rep;
    struct ax_call_result res;
};

struct ax__call {
    struct ax__qnode node; /* in c->calls */
    struct ax_client *c;
    uint64_t id;
    int64_t deadline; /* CLOCK_MONOTONIC; INT64_MAX: none */
    ax__buf *req;
    bool sent;
    ax_client_reply_fn fn;
    void *user;
    struct sync_wait *sync; /* or a waiting thread */
};

enum client_state { C_IDLE, C_CONNECTING, C_READY };

struct ax_client {
    ax_node *node;
    struct ax__shard *shard;
    char name[AX_TOPIC_MAX];
    const ax_type *req, *rep;
    uint32_t max_outstanding;
    atomic_uint outstanding;
    atomic_uint max_request; /* the server's (0: not known yet) */
    /* Announced (kind CLIENT) so that tools can say when it has no
     * server, or one of other types. */
    struct ax__local_ep ep;
    struct ax__ep_counters ctr; /* messages = calls made, connections = its server */
    /* On the shard. */
    struct ax__qnode lnode; /* in shard->clients */
    struct ax__qnode calls; /* in flight, oldest first */
    uint64_t next_id;
    ax__link *link;
    enum client_state state;
    struct ax_endpoint_info server;
    uint64_t server_incarnation;
    bool server_was_up;    /* a link to this server process worked */
    uint64_t refused_node; /* refused our connection: chosen last (0: none) */
    bool on_shm;           /* the link is shared memory's */
    bool shm_broken;       /* shared memory to it failed once: TCP from then on */
    bool waiters_any;      /* a thread waits in ax_client_wait_server() */
    bool closed;           /* freed: the link's end frees it */
    unsigned busy;         /* inside a reply function */
    bool free_pending;
    ax_timer timer; /* the earliest deadline */
    /* ax_client_wait_server(): the state, for other threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool up;
    int down_error;
};

void ax_client_options_init(struct ax_client_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->max_outstanding = AX__CLIENT_MAX_OUTSTANDING_DEFAULT;
}

static void set_up(struct ax_client *c, bool up, int err)
{
    atomic_store(&c->ctr.connections, up ? 1 : 0);
    atomic_store(&c->ctr.last_error, err);
    pthread_mutex_lock(&c->mu);
    c->up = up;
    c->down_error = err;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- ending calls ---- */

static void client_free_now(struct ax_client *c);

/* End @k with @status (0: @rep, @len is the reply) and free it. */
static void call_end(struct ax__call *k, int status, int handler_error, const char *reason,
                     const uint8_t *rep, size_t len)
{
    struct ax_client *c = k->c;
    ax__list_remove(&k->node);
    atomic_fetch_sub(&c->outstanding, 1);
    struct ax_call_result res = {.status = status, .handler_error = handler_error};
    snprintf(res.reason, sizeof res.reason, "%s", reason ? reason : "");
    ProtobufCMessage *msg = NULL;
    if (status == 0) {
        msg = protobuf_c_message_unpack(ax_type_descriptor(c->rep), NULL, len, rep);
        if (!msg) {
            res.status = AX_EPROTO;
            snprintf(res.reason, sizeof res.reason, "%s: the reply does not decode as %s", c->name,
                     ax_type_name(c->rep));
        }
    }
    if (res.status && !res.reason[0])
        snprintf(res.reason, sizeof res.reason, "%s: %s", c->name, ax_strerror(res.status));
    if (k->sync) {
        struct sync_wait *w = k->sync;
        pthread_mutex_lock(&w->mu);
        w->rep = msg; /* the caller's now */
        w->res = res;
        w->done = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
    } else {
        c->busy++;
        k->fn(c, msg, &res, k->user);
        c->busy--;
        if (msg)
            protobuf_c_message_free_unpacked(msg, NULL);
    }
    if (k->req)
        ax__buf_release(k->req);
    free(k);
}

/* End every call (only those not yet sent when @unsent_only). */
static void end_calls(struct ax_client *c, bool unsent_only, int status, const char *reason)
{
    ax__qnode *n = c->calls.next;
    while (n != &c->calls) {
        struct ax__call *k = ax__container_of(n, struct ax__call, node);
        n = n->next;
        if (!unsent_only || !k->sent)
            call_end(k, status, 0, reason, NULL, 0);
    }
}

static void arm_timer(struct ax_client *c)
{
    int64_t first = INT64_MAX;
    ax__qnode *n;
    ax__list_foreach(n, &c->calls)
    {
        const struct ax__call *k = ax__container_of(n, struct ax__call, node);
        if (k->deadline < first)
            first = k->deadline;
    }
    if (first == INT64_MAX)
        ax_timer_stop(&c->timer);
    else
        ax_timer_start_at(&c->timer, first, 0);
}

static void timer_cb(ax_timer *t, void *user)
{
    struct ax_client *c = user;
    (void)t;
    int64_t now = ax_clock_mono_ns();
    ax__qnode *n = c->calls.next;
    while (n != &c->calls) {
        struct ax__call *k = ax__container_of(n, struct ax__call, node);
        n = n->next;
        if (k->deadline <= now) {
            char why[AX_TOPIC_MAX + 80];
            snprintf(why, sizeof why, "%s: no reply from '%s' in time", c->name,
                     c->server.node_name[0] ? c->server.node_name : "any server");
            call_end(k, AX_ETIMEDOUT, 0, why, NULL, 0);
        }
    }
    if (c->free_pending && !c->busy)
        client_free_now(c);
    else
        arm_timer(c);
}

/* ---- the link ---- */

static void send_call(struct ax_client *c, struct ax__call *k)
{
    struct ax__frame_hdr h = {.type = AX__FRAME_REQUEST, .stream = c->server.id, .seq = k->id};
    int rc = ax__link_send(c->link, &h, k->req);
    if (rc < 0) { /* the link is closing (its end is on the way) or the call is too large */
        char why[AX_TOPIC_MAX + 160];
        snprintf(why, sizeof why, "%s: server on '%s' went away (%s)", c->name, c->server.node_name,
                 ax_strerror(rc));
        if (rc == AX_EMSGSIZE)
            snprintf(why, sizeof why, "%s: the request is larger than the server takes", c->name);
        call_end(k, rc == AX_EMSGSIZE ? AX_EMSGSIZE : AX_ECONNRESET, 0, why, NULL, 0);
        return;
    }
    k->sent = true;
    ax__buf_release(k->req);
    k->req = NULL;
}

static void send_bind(struct ax_client *c)
{
    axon_ctl_ServiceBind m = axon_ctl_ServiceBind_init_zero;
    m.service_id = c->server.id;
    snprintf(m.name, sizeof m.name, "%s", c->name);
    snprintf(m.request_type, sizeof m.request_type, "%s", ax_type_name(c->req));
    m.request_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(m.request_hash.bytes, ax_type_hash(c->req)->bytes, AX_TYPE_HASH_SIZE);
    snprintf(m.reply_type, sizeof m.reply_type, "%s", ax_type_name(c->rep));
    m.reply_hash.size = AX_TYPE_HASH_SIZE;
    memcpy(m.reply_hash.bytes, ax_type_hash(c->rep)->bytes, AX_TYPE_HASH_SIZE);
    uint8_t buf[AX__LINK_CONTROL_MAX];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, axon_ctl_ServiceBind_fields, &m) ||
        ax__link_send_control(c->link, AX__FRAME_BIND, buf, os.bytes_written) < 0)
        ax__link_close(c->link, AX__LINK_ABORT, AX_EPROTO);
}

static void link_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    struct ax_client *c = user;
    (void)l;
    char why[AX_TOPIC_MAX + 300];
    /* The server's identity must be one that may serve the name, as a
     * publisher's must be one that may publish. */
    if (!ax__node_policy_allows(c->node, peer->identity, AX__POLICY_PUBLISH, c->name, why,
                                sizeof why)) {
        ax__link_send_error(c->link, AX_EACCES, why);
        return;
    }
    send_bind(c);
}

static void handle_ack(struct ax_client *c, const uint8_t *p, size_t n)
{
    axon_ctl_ServiceBindAck m = axon_ctl_ServiceBindAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (c->state != C_CONNECTING || !pb_decode(&is, axon_ctl_ServiceBindAck_fields, &m)) {
        ax__link_close(c->link, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    if (m.error) {
        int code = -(int)(m.error <= 100 ? m.error : (uint32_t)-AX_EPROTO);
        AX_LOG_W(LOG_MODULE, "%s: server on '%s' refused: %s", c->name, c->server.node_name,
                 m.reason);
        end_calls(c, false, code, m.reason);
        set_up(c, false, code);
        return; /* the server closes the link */
    }
    c->state = C_READY;
    c->waiters_any = false;
    c->server_was_up = true;
    c->refused_node = 0;
    atomic_store(&c->max_request, m.max_request);
    set_up(c, true, 0);
    ax__qnode *q = c->calls.next;
    while (q != &c->calls && c->link) {
        struct ax__call *k = ax__container_of(q, struct ax__call, node);
        q = q->next;
        if (!k->sent)
            send_call(c, k);
    }
}

static struct ax__call *call_find(struct ax_client *c, uint64_t id)
{
    ax__qnode *n;
    ax__list_foreach(n, &c->calls)
    {
        struct ax__call *k = ax__container_of(n, struct ax__call, node);
        if (k->id == id)
            return k;
    }
    return NULL;
}

static void handle_reply(struct ax_client *c, const struct ax__frame_hdr *h, const uint8_t *p)
{
    struct ax__call *k = call_find(c, h->seq);
    if (!k || !k->sent)
        return; /* timed out meanwhile */
    if (!(h->flags & AX__FRAME_F_ERROR)) {
        call_end(k, 0, 0, NULL, p, h->payload_len);
        return;
    }
    axon_ctl_CallError e = axon_ctl_CallError_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, h->payload_len);
    if (!pb_decode(&is, axon_ctl_CallError_fields, &e) || e.error == 0 || e.error > 100)
        call_end(k, AX_EPROTO, 0, "undecodable error reply", NULL, 0);
    else
        call_end(k, -(int)e.error, e.handler_error <= 100 ? -(int)e.handler_error : 0, e.reason,
                 NULL, 0);
}

static void link_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                       ax__buf *buf, void *user)
{
    struct ax_client *c = user;
    (void)buf;
    if (h->type == AX__FRAME_BIND_ACK)
        handle_ack(c, payload, h->payload_len);
    else if (h->type == AX__FRAME_REPLY && c->state == C_READY)
        handle_reply(c, h, payload);
    else
        ax__link_close(l, AX__LINK_ABORT, AX_EPROTO);
    if (c->free_pending && !c->busy)
        client_free_now(c);
}

static bool connect_server(struct ax_client *c, bool from_call);

static void link_close(ax__link *l, int status, void *user)
{
    struct ax_client *c = user;
    (void)l;
    c->link = NULL;
    bool was_ready = c->state == C_READY;
    c->state = C_IDLE;
    if (c->closed) {
        free(c);
        return;
    }
    /* A shared-memory link that never came up (another network namespace,
     * the server's policy): the calls go on over TCP, at once. */
    if (!was_ready && c->on_shm && status != AX_ETYPE && status != AX_EACCES &&
        status != AX_ENOTFOUND) {
        c->shm_broken = true;
        if (!ax__list_empty(&c->calls) || c->waiters_any) {
            AX_LOG_I(LOG_MODULE, "%s: shared memory with the server on '%s' failed (%s); over TCP",
                     c->name, c->server.node_name, ax_strerror(status));
            if (connect_server(c, true))
                return;
        }
    }
    /* Refused where a link worked: its listener, which lives as long as
     * its node, is gone, so the node is (as sub_link.c concludes for a
     * publisher); and a server that refuses is tried last from now on. */
    if (status == AX_ECONNREFUSED) {
        c->refused_node = c->server.node_id;
        if (c->server_was_up)
            ax__disc_peer_gone(c->node->disc, c->server.node_id, c->server_incarnation, true);
    }
    char why[AX_TOPIC_MAX + 200];
    int code = status;
    if (status == 0 || status == AX_ECONNRESET || status == AX_EPIPE || status == AX_ECONNREFUSED ||
        status == AX_ETIMEDOUT || status == AX_ECONNABORTED || status == AX_ECLOSED) {
        code = AX_ECONNRESET;
        snprintf(why, sizeof why, "%s: server on '%s' went away (%s)", c->name, c->server.node_name,
                 status ? ax_strerror(status) : "closed");
    } else {
        snprintf(why, sizeof why, "%s: server on '%s': %s", c->name, c->server.node_name,
                 ax_strerror(status));
    }
    set_up(c, false, code);
    end_calls(c, false, code, why);
    if (c->free_pending && !c->busy)
        client_free_now(c);
}

static const struct ax__link_callbacks link_cbs = {
    .on_ready = link_ready, .on_frame = link_frame, .on_close = link_close};

/* ---- choosing and reaching a server ---- */

static bool types_match(const struct ax_client *c, const struct ax_endpoint_info *e)
{
    return memcmp(e->type_hash, ax_type_hash(c->req)->bytes, AX_TYPE_HASH_SIZE) == 0 &&
           memcmp(e->reply_type_hash, ax_type_hash(c->rep)->bytes, AX_TYPE_HASH_SIZE) == 0;
}

/* The server to call, and its node; AX_ENOTFOUND or AX_ETYPE with @why. */
static int choose(struct ax_client *c, struct ax_endpoint_info *srv, struct ax_node_info *ni,
                  char *why, size_t len)
{
    struct ax_endpoint_info *eps = NULL;
    size_t n = 0;
    if (ax__node_snapshot_endpoints(c->node, c->name, &eps, &n) < 0)
        return AX_ENOMEM;
    int rc = AX_ENOTFOUND;
    snprintf(why, len, "%s: no server in the discovery table", c->name);
    const struct ax_endpoint_info *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct ax_endpoint_info *e = &eps[i];
        if (e->kind != AX_ENDPOINT_SERVICE || strcmp(e->topic, c->name) != 0)
            continue;
        if (!types_match(c, e)) {
            rc = AX_ETYPE;
            snprintf(why, len, "%s: server on '%s' takes %s and answers %s; this client %s/%s",
                     c->name, e->node_name, e->type_name, e->reply_type_name, ax_type_name(c->req),
                     ax_type_name(c->rep));
            continue;
        }
        /* Ours first, then any but one that refused us. */
        if (!best || e->node_id == c->node->id ||
            (best->node_id == c->refused_node && best->node_id != c->node->id))
            best = e;
    }
    if (best) {
        *srv = *best;
        rc = AX_ENOTFOUND;
        struct ax_node_info *nodes = NULL;
        size_t nn = 0;
        if (ax__node_snapshot_nodes(c->node, &nodes, &nn) == 0) {
            for (size_t i = 0; i < nn; i++) {
                if (nodes[i].id == best->node_id) {
                    *ni = nodes[i];
                    rc = 0;
                }
            }
            free(nodes);
        }
    }
    free(eps);
    return rc;
}

/* Start the link to a server; false (and every unsent call ended) when
 * there is none to reach. */
static bool connect_server(struct ax_client *c, bool from_call)
{
    if (c->link)
        return true;
    struct ax_node_info ni;
    char why[AX_TOPIC_MAX + 300];
    int rc = choose(c, &c->server, &ni, why, sizeof why);
    if (rc < 0) {
        if (from_call)
            end_calls(c, true, rc, why);
        set_up(c, false, rc);
        return false;
    }
    atomic_store(&c->max_request, c->server.max_request);
    if (ni.incarnation != c->server_incarnation) {
        c->server_incarnation = ni.incarnation;
        c->server_was_up = false;
    }
    char address[AX__LINK_ADDR_MAX];
    const struct ax__transport *tp = NULL;
    const struct ax__transport *shm = ax__transport_with(AX__TP_HOST | AX__TP_LOANS);
    if (shm && c->node->cfg.transport.shm != AX_SHM_OFF && ni.shm && c->node->host_id[0] &&
        strcmp(ni.host_id, c->node->host_id) == 0 && !c->shm_broken &&
        shm->host_address(c->node->cfg.domain, ni.id, c->server.port, address, sizeof address) ==
            0) {
        tp = shm;
        c->on_shm = true;
    } else {
        c->on_shm = false;
        char host[64];
        snprintf(host, sizeof host, "%s", ni.tcp);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        snprintf(address, sizeof address, "%.48s:%u", host, c->server.port);
        tp = ax__transport_with(AX__TP_NETWORK);
    }
    struct ax__link_options o;
    ax__link_options_for(c->node, AX__LINK_DATA, &o);
    c->state = C_CONNECTING;
    rc = tp->connect(c->shard->loop, address, &o, &link_cbs, c, &c->link);
    if (rc < 0) {
        c->link = NULL;
        c->state = C_IDLE;
        snprintf(why, sizeof why, "%s: cannot connect to the server on '%s' at %s: %s", c->name,
                 c->server.node_name, address, ax_strerror(rc));
        if (from_call)
            end_calls(c, true, AX_ECONNRESET, why);
        set_up(c, false, AX_ECONNRESET);
        return false;
    }
    return true;
}

void ax__service_remote(struct ax__shard *s, const struct ax_graph_event *ev)
{
    ax__qnode *n = s->clients.next;
    while (n != &s->clients) {
        struct ax_client *c = ax__container_of(n, struct ax_client, lnode);
        n = n->next;
        if (strcmp(c->name, ev->endpoint.topic) != 0 || c->closed)
            continue;
        bool ours =
            c->link && ev->endpoint.node_id == c->server.node_id && ev->endpoint.id == c->server.id;
        if (ev->kind == AX_EVENT_ENDPOINT_LEAVE && ours) {
            AX_LOG_I(LOG_MODULE, "%s: server on '%s' left the table", c->name, c->server.node_name);
            ax__link_close(c->link, AX__LINK_ABORT, AX_ECONNRESET);
        } else if (ev->kind != AX_EVENT_ENDPOINT_LEAVE && !c->link && c->waiters_any) {
            connect_server(c, false);
        }
    }
}

/* ---- the API ---- */

static void attach_task(void *arg)
{
    struct ax_client *c = arg;
    ax__list_push_back(&c->shard->clients, &c->lnode);
}

int ax_client_new(ax_client **out, ax_node *node, const char *name, const ax_type *req,
                  const ax_type *rep, const struct ax_client_options *opt)
{
    if (!out || !node || !ax__topic_name_ok(name) || !req || !rep)
        return AX_EINVAL;
    if (node->destroying)
        return AX_ECLOSED;
    struct ax_client *c = calloc(1, sizeof *c);
    if (!c)
        return AX_ENOMEM;
    c->node = node;
    c->shard = ax__shard_for(node, name);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->req = req;
    c->rep = rep;
    c->max_outstanding =
        opt && opt->max_outstanding ? opt->max_outstanding : AX__CLIENT_MAX_OUTSTANDING_DEFAULT;
    ax__list_init(&c->calls);
    ax_timer_init(c->shard->loop, &c->timer, timer_cb, c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    struct ax__local_ep *ep = &c->ep;
    ep->kind = AX_ENDPOINT_CLIENT;
    snprintf(ep->topic, sizeof ep->topic, "%s", name);
    snprintf(ep->type_name, sizeof ep->type_name, "%s", ax_type_name(req));
    memcpy(ep->type_hash, ax_type_hash(req)->bytes, AX_TYPE_HASH_SIZE);
    snprintf(ep->reply_type_name, sizeof ep->reply_type_name, "%s", ax_type_name(rep));
    memcpy(ep->reply_type_hash, ax_type_hash(rep)->bytes, AX_TYPE_HASH_SIZE);
    ep->qos = AX_QOS_DEFAULT;
    ep->ctr = &c->ctr;
    ep->owner = c;
    int rc = ax__node_add_endpoint(node, ep); /* the policy's `call` first */
    if (rc == 0 && (rc = ax__shard_run_sync(c->shard, attach_task, c)) < 0)
        ax__node_remove_endpoint(node, ep);
    if (rc < 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void call_task(void *arg)
{
    struct ax__call *k = arg;
    struct ax_client *c = k->c;
    if (c->closed || c->free_pending || c->shard->closing) {
        ax__list_push_back(&c->calls, &k->node); /* so that call_end finds it linked */
        call_end(k, AX_ECLOSED, 0, NULL, NULL, 0);
        return;
    }
    k->id = ++c->next_id;
    atomic_fetch_add_explicit(&c->ctr.messages, 1, memory_order_relaxed);
    ax__list_push_back(&c->calls, &k->node);
    if (c->state == C_READY)
        send_call(c, k);
    else if (!c->link)
        connect_server(c, true);
    if (c->free_pending && !c->busy)
        client_free_now(c); /* by a reply function the call's end ran */
    else
        arm_timer(c);
}

static int start_call(struct ax_client *c, const ProtobufCMessage *req, int64_t timeout_ns,
                      ax_client_reply_fn fn, void *user, struct sync_wait *sync)
{
    if (!c || !req || req->descriptor != ax_type_descriptor(c->req) || (!fn && !sync))
        return AX_EINVAL;
    size_t len = protobuf_c_message_get_packed_size(req);
    uint32_t max = atomic_load(&c->max_request);
    if ((max && len > max) || len > c->node->cfg.transport.max_frame)
        return AX_EMSGSIZE;
    if (atomic_fetch_add(&c->outstanding, 1) >= c->max_outstanding) {
        atomic_fetch_sub(&c->outstanding, 1);
        return AX_EAGAIN;
    }
    struct ax__call *k = calloc(1, sizeof *k);
    if (!k || ax__buf_new(len, &k->req) < 0) {
        free(k);
        atomic_fetch_sub(&c->outstanding, 1);
        return AX_ENOMEM;
    }
    protobuf_c_message_pack(req, k->req->data);
    k->c = c;
    k->fn = fn;
    k->user = user;
    k->sync = sync;
    k->deadline = timeout_ns > 0 ? ax_clock_mono_ns() + timeout_ns : INT64_MAX;
    int rc = ax__shard_run(c->shard, call_task, k);
    if (rc < 0) {
        ax__buf_release(k->req);
        free(k);
        atomic_fetch_sub(&c->outstanding, 1);
    }
    return rc;
}

int ax_client_call_async(ax_client *c, const ProtobufCMessage *req, int64_t timeout_ns,
                         ax_client_reply_fn fn, void *user)
{
    if (!fn)
        return AX_EINVAL;
    return start_call(c, req, timeout_ns, fn, user, NULL);
}

/* With node.threads = 0 nothing else runs the loop: the caller steps it
 * (a destruction asked for meanwhile is left to the application's next
 * ax_node_spin_once(), as from any callback). */
static bool spin_until(struct ax_client *c, bool *flag, pthread_mutex_t *mu)
{
    for (;;) {
        pthread_mutex_lock(mu);
        bool done = *flag;
        pthread_mutex_unlock(mu);
        if (done)
            return true;
        if (atomic_load(&c->node->destroy_requested) || ax_loop_step(c->shard->loop, 10) < 0)
            return false;
    }
}

int ax_client_call(ax_client *c, const ProtobufCMessage *req, ProtobufCMessage **rep,
                   int64_t timeout_ns, struct ax_call_result *res)
{
    if (rep)
        *rep = NULL;
    if (!c || !rep)
        return AX_EINVAL;
    if (ax_loop_current() != NULL)
        return AX_EBUSY; /* it would wait on a loop that cannot run meanwhile */
    struct sync_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = start_call(c, req, timeout_ns, NULL, NULL, &w);
    if (rc == 0) {
        if (!c->node->threads) {
            if (!spin_until(c, &w.done, &w.mu)) /* the node was destroyed: no end will come */
                w.res.status = AX_ECLOSED;
        } else {
            pthread_mutex_lock(&w.mu);
            while (!w.done)
                pthread_cond_wait(&w.cv, &w.mu); /* the shard ends every call, timeout included */
            pthread_mutex_unlock(&w.mu);
        }
        rc = w.res.status;
        *rep = w.rep;
    } else {
        snprintf(w.res.reason, sizeof w.res.reason, "%s: %s", c->name, ax_strerror(rc));
        w.res.status = rc;
    }
    if (res)
        *res = w.res;
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

static void want_task(void *arg)
{
    struct ax_client *c = arg;
    c->waiters_any = true; /* until a link is up: graph events retry */
    if (!c->link && !c->closed)
        connect_server(c, false);
}

int ax_client_wait_server(ax_client *c, int64_t timeout_ns)
{
    if (!c)
        return AX_EINVAL;
    if (ax_loop_current() != NULL)
        return AX_EBUSY;
    int64_t deadline = ax_clock_mono_ns() + timeout_ns;
    int rc = AX_ETIMEDOUT;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool up = c->up;
        int err = c->down_error;
        pthread_mutex_unlock(&c->mu);
        if (up) {
            rc = 0;
            break;
        }
        int64_t now = ax_clock_mono_ns();
        if (now >= deadline) {
            rc = err == AX_ETYPE ? AX_ETYPE : AX_ETIMEDOUT;
            break;
        }
        /* Try (again): the server may have come into the table meanwhile. */
        ax__shard_run(c->shard, want_task, c);
        int64_t until = now + 50 * AX_NS_PER_MS < deadline ? now + 50 * AX_NS_PER_MS : deadline;
        if (!c->node->threads) {
            if (atomic_load(&c->node->destroy_requested))
                return AX_ECLOSED;
            ax_loop_step(c->shard->loop, (int)((until - now) / AX_NS_PER_MS) + 1);
            continue;
        }
        struct timespec ts = {.tv_sec = until / 1000000000, .tv_nsec = until % 1000000000};
        pthread_mutex_lock(&c->mu);
        if (!c->up)
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        pthread_mutex_unlock(&c->mu);
    }
    return rc;
}

/* On the shard: end the calls, close the link (whose end frees it). */
static void client_free_now(struct ax_client *c)
{
    if (c->busy) { /* from its own reply function: when it returns */
        c->free_pending = true;
        return;
    }
    c->free_pending = false;
    end_calls(c, false, AX_ECLOSED, NULL);
    ax_timer_stop(&c->timer);
    ax__list_remove(&c->lnode);
    c->closed = true;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    if (c->link)
        ax__link_close(c->link, AX__LINK_ABORT, 0); /* link_close frees it */
    else
        free(c);
}

static void free_task(void *arg)
{
    client_free_now(arg);
}

void ax_client_free(ax_client *c)
{
    if (!c)
        return;
    ax__node_remove_endpoint(c->node, &c->ep);
    if (c->shard->closing)
        return; /* the node's teardown frees it */
    ax__shard_run_sync(c->shard, free_task, c);
}

void ax__clients_close(struct ax__shard *s)
{
    while (!ax__list_empty(&s->clients)) {
        struct ax_client *c = ax__container_of(s->clients.next, struct ax_client, lnode);
        client_free_now(c);
    }
}
