/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shards: one per node loop. A shard owns a listener, the topics that hash
 * to it (their publishers, subscriptions and links) and the queue through
 * which other threads hand it messages to publish. It calls into pub/sub
 * only through node->ps_ops, so that pub.c and sub.c may call it.
 *
 * Why one listener per shard: a subscribing node connects to the port its
 * publisher announced, which is the port of the publisher's shard, so the
 * connection is accepted by the thread that serves the topic and never
 * migrates between threads.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/log.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"

/* ---- running things on a shard's thread ---- */

bool ax__on_shard(const struct ax__shard *s)
{
    /* node.threads = 0: the caller's thread is the only one running the
     * node, so it may act directly. */
    return !s->node->threads || ax_loop_current() == s->loop;
}

/* The node whose callbacks run on this thread now: its loop's thread, a
 * thread in ax_node_spin*() or one serving in ax_sub_wait(). Defined here,
 * below node.c, which reads it (a callback's ax_node_destroy() defers). */
__thread ax_node *ax__current_node;

static __thread bool tl_guest;

bool ax__shard_enter(struct ax__shard *s)
{
    if (!ax_loop_try_enter(s->loop))
        return false;
    tl_guest = true;
    return true;
}

void ax__shard_leave(struct ax__shard *s)
{
    ax_loop_leave(s->loop); /* its flush may still ask ax__shard_guest() */
    tl_guest = false;
}

bool ax__shard_guest(void)
{
    return tl_guest;
}

int ax__shard_serve(struct ax__shard *s, unsigned seen, int timeout_ms)
{
    ax_loop *loop = s->loop;
    /* A loop's thread (this node's or another's) would wait for itself, or
     * stall the loop it runs. */
    if (ax_loop_current())
        return AX_EBUSY;
    if (ax_loop_rounds(loop) != seen) /* one ended since the caller looked */
        return 0;
    /* Real-time loops are not served, as they get no direct publishes
     * (core/pub.c): a loop woken while this thread holds it waits for it. */
    if (s->node->cfg.sched_policy == AX_SCHED_OTHER && ax_loop_try_enter(loop)) {
        if (ax_loop_rounds(loop) != seen) { /* ended just before the entry */
            ax_loop_leave(loop);
            return 0;
        }
        /* Until after the leave, whose flush may run callbacks too: one that
         * destroys the node must find it current and defer, not join the
         * loop's thread, which waits for this one to leave. */
        ax_node *prev = ax__current_node;
        ax__current_node = s->node;
        int rc = ax_loop_serve(loop, timeout_ms);
        ax_loop_leave(loop);
        ax__current_node = prev;
        return rc < 0 ? rc : rc == 0 ? AX_ETIMEDOUT : 0;
    }
    return ax_loop_wait_round(loop, seen, timeout_ms);
}

int ax__shard_run(struct ax__shard *s, ax_task_fn fn, void *arg)
{
    if (ax__on_shard(s)) {
        fn(arg);
        return 0;
    }
    return ax_loop_post(s->loop, fn, arg);
}

struct sync_task {
    ax_task_fn fn;
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void sync_task_run(void *p)
{
    struct sync_task *t = p;
    t->fn(t->arg);
    pthread_mutex_lock(&t->mu);
    t->done = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

int ax__shard_run_sync(struct ax__shard *s, ax_task_fn fn, void *arg)
{
    if (ax__on_shard(s)) {
        fn(arg);
        return 0;
    }
    struct sync_task t = {.fn = fn, .arg = arg};
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    int rc = ax_loop_post(s->loop, sync_task_run, &t);
    if (rc == 0) {
        pthread_mutex_lock(&t.mu);
        while (!t.done)
            pthread_cond_wait(&t.cv, &t.mu);
        pthread_mutex_unlock(&t.mu);
    }
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
    return rc;
}

/* ---- topics ---- */

struct ax__shard *ax__shard_for(ax_node *node, const char *topic)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = topic; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return node->shards[h % node->nloops];
}

/* ---- discovery events, routed to the topic's shard ---- */

struct graph_task {
    struct ax__shard *shard;
    struct ax_graph_event ev;
};

static void graph_task_run(void *arg)
{
    struct graph_task *g = arg;
    if (!g->shard->closing) {
        const struct ax__pubsub_ops *ops = g->shard->node->ps_ops;
        if (g->ev.endpoint.kind == AX_ENDPOINT_PUBLISHER)
            ops->remote_pub(g->shard, &g->ev);
        else if (g->ev.endpoint.kind == AX_ENDPOINT_SERVICE)
            ops->remote_service(g->shard, &g->ev);
        else if (g->ev.endpoint.kind == AX_ENDPOINT_SUBSCRIBER)
            ops->remote_sub(g->shard, &g->ev);
        /* a client: nothing to match (tools read it from the table) */
    }
    free(g);
}

void ax__pubsub_graph_events(ax_node *node, const struct ax_graph_event *evs, size_t n)
{
    if (!node->shards)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct ax_graph_event *ev = &evs[i];
        if (ev->kind != AX_EVENT_ENDPOINT_JOIN && ev->kind != AX_EVENT_ENDPOINT_CHANGE &&
            ev->kind != AX_EVENT_ENDPOINT_LEAVE)
            continue;
        struct graph_task *g = malloc(sizeof *g);
        if (!g) {
            AX_LOG_E(LOG_MODULE, "out of memory: endpoint event for %s lost", ev->endpoint.topic);
            continue;
        }
        g->shard = ax__shard_for(node, ev->endpoint.topic);
        g->ev = *ev;
        if (ax__shard_run(g->shard, graph_task_run, g) < 0)
            free(g);
    }
}

/* ---- listeners ---- */

static int on_accept(ax__listener *ln, ax__link *l, void *user)
{
    struct ax__shard *s = user;
    (void)ln;
    if (s->closing)
        return AX_ECLOSED;
    return s->node->ps_ops->accept(s, l);
}

/* Link options from the node's configuration (shared by every side). */
void ax__link_options_for(const ax_node *node, enum ax__link_purpose purpose,
                          struct ax__link_options *o)
{
    const struct ax_config *c = &node->cfg;
    ax__link_options_init(o);
    o->max_frame = c->transport.max_frame;
    o->queue_bytes = c->transport.queue_bytes;
    o->queue_frames = c->transport.queue_frames;
    o->sndbuf = c->transport.sndbuf;
    o->rcvbuf = c->transport.rcvbuf;
    o->crc_payload = c->transport.crc_payload;
    o->connect_timeout_ns = c->transport.connect_timeout_ns;
    o->frame_timeout_ns = c->transport.frame_timeout_ns;
    o->auth = node->keyring.on ? node->keyring.link : NULL;
    o->nauth = node->keyring.n;
    o->tls = node->tls;
    o->self.node_id = node->id;
    o->self.incarnation = node->incarnation;
    o->self.domain = c->domain;
    o->self.purpose = purpose;
    snprintf(o->self.node_name, sizeof o->self.node_name, "%s", node->name);
    o->loan_quota = c->transport.shm_quota;
    o->loan_quota_bytes = c->transport.shm_quota_bytes;
}

/* The address data connections are accepted on: by mode, unless
 * transport.listen_address says. */
static void listen_host(const struct ax_config *c, char *host, size_t size)
{
    struct in_addr probe;
    if (c->transport.listen_address[0])
        snprintf(host, size, "%s", c->transport.listen_address);
    else if (c->discovery.mode == AX_DISCOVERY_LOCAL || c->discovery.mode == AX_DISCOVERY_OFF)
        snprintf(host, size, "127.0.0.1");
    else if (c->discovery.mode == AX_DISCOVERY_NETWORK &&
             inet_pton(AF_INET, c->discovery.interface, &probe) == 1)
        snprintf(host, size, "%s", c->discovery.interface);
    else
        snprintf(host, size, "0.0.0.0");
}

static int open_listener(struct ax__shard *s, unsigned *next_port)
{
    const struct ax_config *c = &s->node->cfg;
    char host[64];
    listen_host(c, host, sizeof host);
    unsigned lo = c->transport.port_min, hi = c->transport.port_max;
    int rc = AX_EADDRINUSE;
    if (lo == 0) {
        lo = hi = 0;
    } else if (*next_port > lo) {
        lo = *next_port; /* shards take successive free ports of the range */
    }
    const struct ax__transport *tp = ax__transport_with(AX__TP_NETWORK);
    struct ax__listen_options lo_opt = {.backlog = 128, .on_accept = on_accept, .user = s};
    ax__link_options_for(s->node, AX__LINK_DATA, &lo_opt.link);
    lo_opt.link.max_frame_in = AX__LINK_CONTROL_MAX; /* subscribers send control frames only */
    for (unsigned port = lo; port <= hi; port++) {
        char address[AX__LINK_ADDR_MAX];
        snprintf(address, sizeof address, "%.48s:%u", host, port);
        rc = tp->listen(s->loop, address, &lo_opt, &s->listener);
        if (rc == AX_EINVAL) {
            AX_LOG_E(LOG_MODULE, "transport.listen_address '%s' is not an IPv4 address", host);
            return AX_EINVAL;
        }
        if (rc != AX_EADDRINUSE) {
            *next_port = port + 1;
            break;
        }
    }
    if (rc < 0) {
        AX_LOG_E(LOG_MODULE, "cannot listen on %s (ports %u..%u): %s", host, lo, hi,
                 ax_strerror(rc));
        return rc;
    }
    const char *bound = s->listener->ops->address(s->listener);
    const char *colon = strrchr(bound, ':');
    s->port = colon ? (uint16_t)atoi(colon + 1) : 0;
    if (s->index == 0)
        snprintf(s->node->tcp_endpoint, sizeof s->node->tcp_endpoint, "%s", bound);
    return 0;
}

/* Same-host links: the shared-memory transport's listener, at the address
 * a peer derives from what discovery says (domain, node id, this port).
 * Failing is not fatal: the node then offers no shared memory, and says
 * so in discovery. */
static void open_shm_listener(struct ax__shard *s)
{
    ax_node *node = s->node;
    const struct ax__transport *tp = ax__transport_with(AX__TP_HOST | AX__TP_LOANS);
    if (!tp || node->cfg.transport.shm == AX_SHM_OFF || !node->host_id[0]) {
        node->shm = false;
        return;
    }
    char address[AX__LINK_ADDR_MAX];
    struct ax__listen_options lo = {.backlog = 128, .on_accept = on_accept, .user = s};
    ax__link_options_for(node, AX__LINK_DATA, &lo.link);
    lo.link.max_frame_in = AX__LINK_CONTROL_MAX;
    int rc = tp->host_address(node->cfg.domain, node->id, s->port, address, sizeof address);
    if (rc == 0)
        rc = tp->listen(s->loop, address, &lo, &s->shm_listener);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "no shared memory for this node: cannot listen at %s: %s", address,
                 ax_strerror(rc));
        s->shm_listener = NULL;
        node->shm = false;
    }
}

int ax__shards_start(ax_node *node)
{
    node->shards = calloc(node->nloops, sizeof *node->shards);
    if (!node->shards)
        return AX_ENOMEM;
    unsigned next_port = 0;
    const struct ax__transport *shm = ax__transport_with(AX__TP_HOST | AX__TP_LOANS);
    if (shm) /* a subscription may want shared memory with the node's off */
        snprintf(node->host_id, sizeof node->host_id, "%s", shm->host_id());
    node->shm = true; /* until a shard cannot */
    for (unsigned i = 0; i < node->nloops; i++) {
        struct ax__shard *s = calloc(1, sizeof *s);
        if (!s)
            return AX_ENOMEM;
        node->shards[i] = s;
        s->node = node;
        s->loop = node->loops[i];
        s->index = i;
        ax__mpsc_init(&s->queue);
        s->backlog_max = node->cfg.transport.queue_frames;
        s->backlog_bytes_max = node->cfg.transport.queue_bytes;
        ax__list_init(&s->psubs);
        ax__list_init(&s->services);
        ax__list_init(&s->clients);
        int rc = open_listener(s, &next_port);
        if (rc < 0)
            return rc;
        open_shm_listener(s);
    }
    return 0;
}

/* On the shard's thread: free every publisher and subscription left (their
 * handles die with the node) and close every connection. */
void ax__shards_close(struct ax__shard *s)
{
    if (s->closing)
        return;
    s->closing = true;
    if (s->ka_on)
        ax_timer_stop(&s->ka_timer);
    if (s->silence_on)
        ax_timer_stop(&s->silence_timer);
    const struct ax__pubsub_ops *ops = s->node->ps_ops;
    /* Messages still queued by other threads: deliver what can be. */
    ax__buf *b;
    while ((b = ax__shard_pop(s)) != NULL) {
        struct ax_pub *pub = b->qctx;
        if (!atomic_load(&pub->closed))
            ops->deliver(pub, b, b->qts);
        ax__buf_release(b);
    }
    /* Each topic is held (iterating) while its members go, so it is not
     * freed under us; releasing it frees it if nothing is left. Backwards,
     * because freeing a topic moves the last one into its slot (already
     * visited; visiting one twice is harmless). */
    for (size_t i = s->ntopics; i-- > 0;) {
        if (i >= s->ntopics)
            continue;
        struct ax__topic *t = s->topics[i];
        ax__topic_iter_begin(t);
        for (size_t k = 0; k < t->nsubs; k++)
            if (t->subs[k])
                ops->free_sub(t->subs[k]);
        for (size_t k = 0; k < t->npubs; k++)
            if (t->pubs[k])
                ops->free_pub(t->pubs[k]);
        ops->close_rpubs(t);
        ax__topic_iter_end(t);
    }
    ops->close_clients(s);
    ops->close_services(s);
    ops->close_psubs(s);
    if (s->listener) {
        s->listener->ops->close(s->listener);
        s->listener = NULL;
    }
    if (s->shm_listener) {
        s->shm_listener->ops->close(s->shm_listener);
        s->shm_listener = NULL;
    }
}

void ax__shards_free(ax_node *node)
{
    if (!node->shards)
        return;
    for (unsigned i = 0; i < node->nloops; i++) {
        struct ax__shard *s = node->shards[i];
        if (!s)
            continue;
        for (size_t k = 0; k < s->ntopics; k++) {
            free(s->topics[k]->pubs);
            free(s->topics[k]->subs);
            free(s->topics[k]->rpubs);
            free(s->topics[k]);
        }
        free(s->topics);
        free(s->queued);
        free(s);
    }
    free(node->shards);
    node->shards = NULL;
}

ax__buf *ax__shard_pop(struct ax__shard *s)
{
    struct ax__mpsc_node *n = ax__mpsc_pop(&s->queue);
    return n ? ax__container_of(n, ax__buf, qnode) : NULL;
}
