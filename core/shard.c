/*
 * Shards: one per node loop. A shard owns a TCP listener, the topics that
 * hash to it (their publishers, subscriptions and connections) and the
 * queue through which other threads hand it messages to publish.
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
#include "base/ax__sha256.h"

#define LOG_MODULE "pubsub"

/* ---- running things on a shard's thread ---- */

bool ax__on_shard(const struct ax__shard *s)
{
    /* node.threads = 0: the caller's thread is the only one running the
     * node, so it may act directly. */
    return !s->node->threads || ax_loop_current() == s->loop;
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

struct ax__topic *ax__topic_get(struct ax__shard *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->ntopics; i++)
        if (strcmp(s->topics[i]->name, name) == 0)
            return s->topics[i];
    if (!create)
        return NULL;
    if (s->ntopics == s->topics_cap) {
        size_t cap = s->topics_cap ? s->topics_cap * 2 : 8;
        struct ax__topic **n = realloc(s->topics, cap * sizeof *n);
        if (!n)
            return NULL;
        s->topics = n;
        s->topics_cap = cap;
    }
    struct ax__topic *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->shard = s;
    snprintf(t->name, sizeof t->name, "%s", name);
    s->topics[s->ntopics++] = t;
    return t;
}

void ax__topic_iter_begin(struct ax__topic *t)
{
    t->iterating++;
}

static void compact(void **a, size_t *n)
{
    size_t w = 0;
    for (size_t r = 0; r < *n; r++)
        if (a[r])
            a[w++] = a[r];
    *n = w;
}

void ax__topic_iter_end(struct ax__topic *t)
{
    if (--t->iterating > 0)
        return;
    if (t->holes) {
        t->holes = false;
        compact((void **)t->pubs, &t->npubs);
        compact((void **)t->subs, &t->nsubs);
    }
    ax__topic_maybe_free(t); /* the caller must not touch @t after this */
}

static void remove_from(void **a, size_t *n, void *x, struct ax__topic *t)
{
    for (size_t i = 0; i < *n; i++) {
        if (a[i] != x)
            continue;
        if (t->iterating) {
            a[i] = NULL;
            t->holes = true;
        } else {
            memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof *a); /* keeps order */
            (*n)--;
        }
        return;
    }
}

void ax__topic_remove_pub(struct ax__topic *t, struct ax_pub *pub)
{
    remove_from((void **)t->pubs, &t->npubs, pub, t);
}

void ax__topic_remove_sub(struct ax__topic *t, struct ax_sub *sub)
{
    remove_from((void **)t->subs, &t->nsubs, sub, t);
}

void ax__topic_maybe_free(struct ax__topic *t)
{
    if (t->iterating || t->npubs || t->nsubs || t->nlinks)
        return;
    struct ax__shard *s = t->shard;
    for (size_t i = 0; i < s->ntopics; i++) {
        if (s->topics[i] == t) {
            s->topics[i] = s->topics[--s->ntopics];
            break;
        }
    }
    free(t->pubs);
    free(t->subs);
    free(t->links);
    free(t);
}

void ax__emit(struct ax__event_sink *sink, void *self, const struct ax_pubsub_event *ev)
{
    if (sink->fn)
        sink->fn(self, ev, sink->user);
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
        if (g->ev.endpoint.kind == AX_ENDPOINT_PUBLISHER)
            ax__sub_remote_pub(g->shard, &g->ev);
        else
            ax__pub_remote_sub(g->shard, &g->ev);
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

static void on_accept(ax__tcp_listener *l, int fd, const struct ax__addr *peer, void *user)
{
    (void)l;
    struct ax__shard *s = user;
    if (s->closing) {
        close(fd);
        return;
    }
    ax__pub_accept(s, fd, peer);
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
    for (unsigned port = lo; port <= hi; port++) {
        struct ax__addr a;
        if (ax__addr_from_host(&a, host, (uint16_t)port) < 0) {
            AX_LOG_E(LOG_MODULE, "transport.listen_address '%s' is not an IPv4 address", host);
            return AX_EINVAL;
        }
        rc = ax__tcp_listen(s->loop, &a, 128, on_accept, s, &s->listener);
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
    s->port = ax__tcp_listener_port(s->listener);
    if (s->index == 0)
        snprintf(s->node->tcp_endpoint, sizeof s->node->tcp_endpoint, "%.48s:%u", host, s->port);
    return 0;
}

int ax__shards_start(ax_node *node)
{
    node->shards = calloc(node->nloops, sizeof *node->shards);
    if (!node->shards)
        return AX_ENOMEM;
    unsigned next_port = 0;
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
        ax__list_init(&s->psubs);
        int rc = open_listener(s, &next_port);
        if (rc < 0)
            return rc;
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
    /* Messages still queued by other threads: deliver what can be. */
    ax__buf *b;
    while ((b = ax__shard_pop(s)) != NULL) {
        struct ax_pub *pub = b->qctx;
        if (!atomic_load(&pub->closed))
            ax__pub_deliver(pub, b, b->qseq, b->qts);
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
                ax__sub_free_now(t->subs[k]);
        for (size_t k = 0; k < t->npubs; k++)
            if (t->pubs[k])
                ax__pub_free_now(t->pubs[k]);
        ax__sub_close_links(t);
        ax__topic_iter_end(t);
    }
    ax__pub_close_all(s);
    if (s->listener) {
        ax__tcp_listener_close(s->listener);
        s->listener = NULL;
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
            free(s->topics[k]->links);
            free(s->topics[k]);
        }
        free(s->topics);
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

void ax__raw_type_hash(const char *type_name, uint8_t out[AX_TYPE_HASH_SIZE])
{
    struct ax__sha256 h;
    ax__sha256_init(&h);
    ax__sha256_update(&h, "raw:", 4);
    ax__sha256_update(&h, type_name, strlen(type_name));
    ax__sha256_final(&h, out);
}
