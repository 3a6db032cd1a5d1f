/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The discovery table: remote nodes keyed by id, each with its endpoints,
 * lease timer and the state of the endpoint generation being assembled.
 *
 * Applying announcements (why it looks like this):
 * - A page of generation G adds or updates the endpoints it lists at once,
 *   so a small table (one page) converges on the first datagram and a large
 *   one converges page by page, even when some pages are lost.
 * - Endpoints disappear only when every page of a newer generation has been
 *   seen (the set is then known completely) and they were in none of them.
 *   Pages of one generation have a fixed composition, so pages heard in
 *   different refresh rounds complete each other: a lost datagram only
 *   delays convergence.
 * - Counters are updated from every page, whatever its generation.
 *
 * Bounds (docs/discovery.md): the table holds at most discovery.max_nodes
 * others and each at most discovery.max_endpoints endpoints; what comes
 * beyond is refused before anything is allocated for it, counted, and
 * logged now and then. A lease comes from the peer's datagrams, so it is
 * kept between AX__LEASE_MIN and discovery.max_lease.
 *
 * Everything here runs with node->lock held; events are collected and
 * dispatched by the caller after unlocking.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "axon/version.h"
#include "base/ax__array.h"
#include "core/ax__disc.h"

#define LOG_MODULE "disc"

void ax__events_push(struct ax__events *evs, const struct ax_graph_event *ev)
{
    if (ax__array_reserve(&evs->ev, &evs->cap, evs->n + 1, 8) < 0) {
        /* losing an event is bad; say so rather than crash */
        AX_LOG_E(LOG_MODULE, "out of memory: a graph event was lost");
        return;
    }
    evs->ev[evs->n++] = *ev;
}

void ax__events_free(struct ax__events *evs)
{
    free(evs->ev);
    evs->ev = NULL;
    evs->n = evs->cap = 0;
}

struct ax__peer *ax__table_find(struct ax__disc *d, uint64_t id)
{
    for (size_t i = 0; i < d->npeers; i++)
        if (d->peers[i]->info.id == id)
            return d->peers[i];
    return NULL;
}

/* Whether a refusal is to be logged: the first one, then one per
 * AX__BOUND_LOG_INTERVAL (*@last: when one was last logged, 0 never). */
static bool log_due(int64_t *last)
{
    int64_t now = ax_clock_mono_ns();
    if (*last && now - *last < AX__BOUND_LOG_INTERVAL)
        return false;
    *last = now;
    return true;
}

bool ax__table_admits(struct ax__disc *d, uint64_t id)
{
    uint32_t max = d->node->cfg.discovery.max_nodes;
    if (d->npeers < max || ax__table_find(d, id))
        return true;
    d->stats.nodes_refused++;
    if (log_due(&d->nodes_log))
        AX_LOG_W(LOG_MODULE,
                 "discovery table full (%u other nodes, discovery.max_nodes): node %016llx "
                 "ignored, as is every node not in it (%llu datagrams refused so far)",
                 (unsigned)max, (unsigned long long)id, (unsigned long long)d->stats.nodes_refused);
    return false;
}

static void peer_snapshot_info(const struct ax__peer *p, struct ax_node_info *out)
{
    *out = p->info;
    int64_t now_real = ax_clock_real_ns();
    out->uptime_ns =
        p->start_real_ns && now_real > p->start_real_ns ? now_real - p->start_real_ns : 0;
    out->heard_age_ns = ax_clock_mono_ns() - p->last_heard;
    out->generation = p->has_committed ? p->gen_committed : p->gen_pending;
    out->complete = p->has_committed && p->gen_pending == p->gen_committed &&
                    !(p->cut && p->cut_gen >= p->gen_committed);
    uint32_t np = 0, ns = 0;
    for (size_t i = 0; i < p->neps; i++) {
        if (p->eps[i].info.kind == AX_ENDPOINT_PUBLISHER)
            np++;
        else if (p->eps[i].info.kind == AX_ENDPOINT_SUBSCRIBER)
            ns++;
    }
    out->publishers = np;
    out->subscribers = ns;
}

void ax__table_touch(struct ax__disc *d, struct ax__peer *p)
{
    (void)d;
    p->last_heard = ax_clock_mono_ns();
    ax_timer_start(&p->lease, p->info.lease_ns, 0);
}

/* "0.0.0.0:port" (a node bound to any address) becomes the datagram's
 * source address, which is how the peer is reachable from here. */
static void fill_addr(char *dst, size_t size, const char *announced, const struct sockaddr_in *from)
{
    snprintf(dst, size, "%s", announced);
    if (strncmp(announced, "0.0.0.0:", 8) == 0) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from->sin_addr, ip, sizeof ip);
        snprintf(dst, size, "%s:%s", ip, announced + 8);
    }
}

void ax__disc_node_info_from_wire(struct ax_node_info *out, const axon_ctl_Discovery *m,
                                  const axon_ctl_NodeInfo *ni, const struct sockaddr_in *from)
{
    out->incarnation = m->incarnation;
    out->domain = m->domain;
    snprintf(out->name, sizeof out->name, "%s", ni->name);
    snprintf(out->host, sizeof out->host, "%s", ni->host);
    out->pid = ni->pid;
    if (ni->tcp_count > 0)
        fill_addr(out->tcp, sizeof out->tcp, ni->tcp[0], from);
    else
        out->tcp[0] = '\0';
    fill_addr(out->unicast, sizeof out->unicast, ni->unicast, from);
    out->mode = (enum ax_discovery_mode)ni->mode;
    snprintf(out->version, sizeof out->version, "%s", ni->version);
    snprintf(out->host_id, sizeof out->host_id, "%s", ni->host_id);
    out->shm = ni->shm;
    out->lease_ns = (int64_t)(ni->lease_ms ? ni->lease_ms : 1000) * AX_NS_PER_MS;
    out->heartbeat_ns = (int64_t)ni->heartbeat_ms * AX_NS_PER_MS;
}

void ax__disc_endpoint_from_wire(struct ax_endpoint_info *e, const axon_ctl_Endpoint *w,
                                 uint64_t node_id, const char *node_name)
{
    memset(e, 0, sizeof *e);
    e->node_id = node_id;
    snprintf(e->node_name, sizeof e->node_name, "%s", node_name);
    e->id = w->id;
    /* The same numbers; a kind from a newer peer is left out of matching
     * as a client (which nothing connects to). */
    e->kind = w->kind <= axon_ctl_EndpointKind_ENDPOINT_CLIENT ? (enum ax_endpoint_kind)w->kind
                                                               : AX_ENDPOINT_CLIENT;
    if (e->kind == AX_ENDPOINT_SERVICE || e->kind == AX_ENDPOINT_CLIENT) {
        snprintf(e->reply_type_name, sizeof e->reply_type_name, "%s", w->reply_type_name);
        memcpy(e->reply_type_hash, w->reply_type_hash.bytes,
               w->reply_type_hash.size < AX_TYPE_HASH_SIZE ? w->reply_type_hash.size
                                                           : AX_TYPE_HASH_SIZE);
        e->max_request = w->max_request;
    }
    snprintf(e->topic, sizeof e->topic, "%s", w->topic);
    snprintf(e->type_name, sizeof e->type_name, "%s", w->type_name);
    memcpy(e->type_hash, w->type_hash.bytes,
           w->type_hash.size < AX_TYPE_HASH_SIZE ? w->type_hash.size : AX_TYPE_HASH_SIZE);
    if (w->has_qos) {
        e->qos.reliability = w->qos.reliability ? AX_BEST_EFFORT : AX_RELIABLE;
        e->qos.durability = w->qos.durability ? AX_TRANSIENT_LOCAL : AX_VOLATILE;
        e->qos.overload = w->qos.overload <= AX_OVERLOAD_BLOCK ? (enum ax_overload)w->qos.overload
                                                               : AX_OVERLOAD_DROP_OLDEST;
        e->qos.history = w->qos.history;
        e->qos.deadline_ns = w->qos.deadline_ns;
        e->qos.lifespan_ns = w->qos.lifespan_ns;
    }
    if (w->has_counters) {
        e->counters.messages = w->counters.messages;
        e->counters.bytes = w->counters.bytes;
        for (pb_size_t i = 0; i < w->counters.drops_count && i < AX_DROP_REASON_COUNT_; i++)
            e->counters.drops[i] = w->counters.drops[i];
        e->counters.gaps = w->counters.gaps;
        e->counters.restarts = w->counters.restarts;
        e->counters.connections = w->counters.connections;
        e->counters.last_error = -(int)(w->counters.last_error <= 100 ? w->counters.last_error : 0);
        e->counters.queued_messages = w->counters.queued_messages;
        e->counters.queued_bytes = w->counters.queued_bytes;
        e->counters.stamp_ns = w->counters.stamp_ns;
        for (pb_size_t i = 0; i < w->counters.links_count && i < AX_LINKS_SHOWN; i++) {
            const axon_ctl_Link *k = &w->counters.links[i];
            struct ax_link_info *li = &e->counters.links[e->counters.nlinks++];
            li->node_id = k->node_id;
            li->endpoint_id = k->endpoint;
            li->transport =
                k->transport <= AX_LINK_SHM ? (enum ax_link_transport)k->transport : AX_LINK_NONE;
            li->reason =
                k->reason <= AX_SHM_R_POLICY ? (enum ax_shm_reason)k->reason : AX_SHM_R_FAILED;
        }
        e->counters.links_total = w->counters.links_total;
        e->counters.received_ns = ax_clock_mono_ns();
    }
    e->port = (uint16_t)w->port;
}

static bool endpoint_same_shape(const struct ax_endpoint_info *a, const struct ax_endpoint_info *b)
{
    return a->kind == b->kind && strcmp(a->topic, b->topic) == 0 &&
           strcmp(a->type_name, b->type_name) == 0 &&
           memcmp(a->reply_type_hash, b->reply_type_hash, AX_TYPE_HASH_SIZE) == 0 &&
           a->max_request == b->max_request &&
           memcmp(a->type_hash, b->type_hash, AX_TYPE_HASH_SIZE) == 0 &&
           memcmp(&a->qos, &b->qos, sizeof a->qos) == 0 && a->port == b->port;
}

static struct ax__peer_ep *peer_ep_find(struct ax__peer *p, uint32_t id)
{
    for (size_t i = 0; i < p->neps; i++)
        if (p->eps[i].info.id == id)
            return &p->eps[i];
    return NULL;
}

static void push_endpoint_event(struct ax__events *evs, enum ax_graph_event_kind kind,
                                const struct ax__peer *p, const struct ax_endpoint_info *e)
{
    struct ax_graph_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    peer_snapshot_info(p, &ev.node);
    ev.endpoint = *e;
    ax__events_push(evs, &ev);
}

static void push_node_event(struct ax__events *evs, enum ax_graph_event_kind kind,
                            const struct ax__peer *p, enum ax__left why)
{
    struct ax_graph_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.lease_expired = why == AX__LEFT_LEASE || why == AX__LEFT_SILENT;
    ev.exited = why == AX__LEFT_EXITED || why == AX__LEFT_REFUSED;
    peer_snapshot_info(p, &ev.node);
    ax__events_push(evs, &ev);
}

static void peer_free(struct ax__peer *p)
{
    ax_timer_stop(&p->lease);
    ax__disc_unwatch(p);
    free(p->page_seen);
    free(p->eps);
    free(p);
}

void ax__table_remove(struct ax__disc *d, struct ax__peer *p, enum ax__left why,
                      struct ax__events *evs)
{
    for (size_t i = 0; i < p->neps; i++)
        push_endpoint_event(evs, AX_EVENT_ENDPOINT_LEAVE, p, &p->eps[i].info);
    push_node_event(evs, AX_EVENT_NODE_LEAVE, p, why);
    d->table_eps -= p->neps;
    if (d->node->keyring.on) {
        struct ax__gone *g = NULL;
        for (unsigned i = 0; i < AX__GONE_MAX && !g; i++)
            if (d->gone[i].id == p->info.id && d->gone[i].incarnation == p->info.incarnation)
                g = &d->gone[i]; /* it left before: one record per incarnation */
        if (!g)
            g = &d->gone[d->gone_next++ % AX__GONE_MAX];
        g->id = p->info.id;
        g->incarnation = p->info.incarnation;
        g->seq = p->replay.top;
        /* A lease or a silent link may end with the same process coming
         * back (a partition healed): its newer datagrams are welcome. */
        /* Not for a refused reconnect: one forged RST must not shut a
         * live node out until it restarts. */
        g->final = why == AX__LEFT_BYE || why == AX__LEFT_EXITED;
    }
    for (size_t i = 0; i < d->npeers; i++) {
        if (d->peers[i] == p) {
            d->peers[i] = d->peers[--d->npeers];
            break;
        }
    }
    peer_free(p);
}

void ax__table_free_all(struct ax__disc *d)
{
    for (size_t i = 0; i < d->npeers; i++)
        peer_free(d->peers[i]);
    free(d->peers);
    d->peers = NULL;
    d->npeers = d->peers_cap = 0;
    d->table_eps = 0;
}

/* The caller checked ax__table_admits(). */
static struct ax__peer *peer_new(struct ax__disc *d, uint64_t id)
{
    if (ax__array_reserve_max(&d->peers, &d->peers_cap, d->npeers + 1, 8,
                              d->node->cfg.discovery.max_nodes) < 0)
        return NULL;
    struct ax__peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->disc = d;
    p->info.id = id;
    ax_timer_init(d->loop, &p->lease, d->lease_cb, p);
    d->peers[d->npeers++] = p;
    return p;
}

/* The lease a peer announced, as we apply it: a lease of 49 days would
 * keep a node that went away (or never was) for that long, a lease of a
 * microsecond would drop and re-add it at every datagram. */
static int64_t granted_lease(const struct ax__disc *d, int64_t announced)
{
    int64_t max = d->node->cfg.discovery.max_lease_ns;
    if (announced < AX__LEASE_MIN)
        announced = AX__LEASE_MIN;
    return announced < max ? announced : max;
}

/* Update the node-level info; returns whether anything a user sees changed. */
static bool update_node_info(struct ax__disc *d, struct ax__peer *p, const axon_ctl_Discovery *m,
                             const axon_ctl_NodeInfo *ni, const struct sockaddr_in *from,
                             bool via_unicast)
{
    struct ax_node_info old = p->info;
    ax__disc_node_info_from_wire(&p->info, m, ni, from);
    p->info.lease_ns = granted_lease(d, p->info.lease_ns);
    p->start_real_ns = ni->start_time_ns;
    p->from = *from;
    if (via_unicast) {
        p->unicast = *from;
        p->unicast_known = true;
    }
    return strcmp(old.name, p->info.name) != 0 || strcmp(old.tcp, p->info.tcp) != 0 ||
           old.lease_ns != p->info.lease_ns || old.pid != p->info.pid || old.shm != p->info.shm ||
           strcmp(old.host_id, p->info.host_id) != 0;
}

/* An endpoint of @p's generation @gen with no room left for it. Until a
 * generation of @p commits with nothing refused, @p is incomplete. */
static void refuse_endpoint(struct ax__disc *d, struct ax__peer *p, uint64_t gen)
{
    d->stats.endpoints_refused++;
    if (!p->cut || gen > p->cut_gen)
        p->cut_gen = gen;
    p->cut = true;
    const struct ax_config *c = &d->node->cfg;
    bool table_full = d->table_eps >= c->discovery.max_table_endpoints;
    if (log_due(&d->eps_log))
        AX_LOG_W(LOG_MODULE,
                 "node '%s' (%016llx): %s: the rest of its endpoints are not stored, its "
                 "endpoint set here is incomplete (%llu endpoints refused so far, all nodes)",
                 p->info.name, (unsigned long long)p->info.id,
                 table_full ? "the table holds discovery.max_table_endpoints endpoints"
                            : "more endpoints than discovery.max_endpoints",
                 (unsigned long long)d->stats.endpoints_refused);
}

bool ax__table_apply_announce(struct ax__disc *d, const axon_ctl_Discovery *m,
                              const struct sockaddr_in *from, bool via_unicast,
                              struct ax__events *evs)
{
    bool full = false;
    const axon_ctl_Announce *a = &m->body.announce;
    struct ax__peer *p = ax__table_find(d, m->node_id);
    if (p && p->info.incarnation != m->incarnation) {
        /* Same id, new process: the old one is gone, whatever its lease. */
        ax__table_remove(d, p, AX__LEFT_BYE, evs);
        p = NULL;
    }
    bool is_new = p == NULL;
    if (!p) {
        if (!ax__table_admits(d, m->node_id))
            return false;
        p = peer_new(d, m->node_id);
        if (!p) {
            AX_LOG_E(LOG_MODULE, "out of memory: node %016llx not added",
                     (unsigned long long)m->node_id);
            return false;
        }
        if (d->node->keyring.on)
            ax__seq_window_take(&p->replay, m->seq);
    }
    bool changed = update_node_info(d, p, m, &a->node, from, via_unicast);
    ax__table_touch(d, p);
    ax__disc_watch(d, p, a->node.pid_ns, a->node.proc_start);
    if (is_new) {
        AX_LOG_I(LOG_MODULE, "node '%s' (%016llx) joined from %s", p->info.name,
                 (unsigned long long)p->info.id, p->info.unicast);
        push_node_event(evs, AX_EVENT_NODE_JOIN, p, AX__LEFT_BYE);
        full = true; /* a newcomer needs our state now, not at the next refresh */
    } else if (changed) {
        push_node_event(evs, AX_EVENT_NODE_CHANGE, p, AX__LEFT_BYE);
    }

    /* Generations older than the one we assemble carry only counters. The
     * page count was checked against AX__PAGES_MAX by the caller. */
    uint64_t gen = a->generation;
    uint32_t pages = a->pages ? a->pages : 1;
    uint32_t max_eps = d->node->cfg.discovery.max_endpoints;
    bool stale = p->page_seen && gen < p->gen_pending;
    if (!stale && (!p->page_seen || gen > p->gen_pending || p->pages != pages)) {
        uint8_t *seen = calloc(pages, 1);
        if (!seen)
            return full;
        free(p->page_seen);
        p->page_seen = seen;
        p->pages = pages;
        p->gen_pending = gen;
    }
    for (pb_size_t i = 0; i < a->endpoints_count; i++) {
        struct ax_endpoint_info e;
        ax__disc_endpoint_from_wire(&e, &a->endpoints[i], p->info.id, p->info.name);
        struct ax__peer_ep *pe = peer_ep_find(p, e.id);
        if (!pe) {
            if (stale)
                continue; /* an old page may list what is gone */
            if (p->neps >= max_eps || d->table_eps >= d->node->cfg.discovery.max_table_endpoints) {
                refuse_endpoint(d, p, gen);
                continue;
            }
            if (ax__array_reserve_max(&p->eps, &p->eps_cap, p->neps + 1, 8, max_eps) < 0)
                continue;
            d->table_eps++;
            pe = &p->eps[p->neps++];
            pe->info = e;
            pe->seen_gen = gen;
            push_endpoint_event(evs, AX_EVENT_ENDPOINT_JOIN, p, &e);
            continue;
        }
        /* Announcements carry no counters; answers to a tool's request do. */
        bool has_counters = a->endpoints[i].has_counters;
        if (!stale && !endpoint_same_shape(&pe->info, &e)) {
            if (!has_counters)
                e.counters = pe->info.counters;
            pe->info = e;
            push_endpoint_event(evs, AX_EVENT_ENDPOINT_CHANGE, p, &e);
        } else if (has_counters) {
            pe->info.counters = e.counters;
        }
        if (gen > pe->seen_gen)
            pe->seen_gen = gen;
    }
    if (stale || a->page >= p->pages)
        return full;
    p->page_seen[a->page] = 1;
    for (uint32_t i = 0; i < p->pages; i++)
        if (!p->page_seen[i])
            return full;
    /* Every page of gen_pending seen: the set is known; drop the rest. */
    if (!p->has_committed || p->gen_committed != gen) {
        size_t w = 0;
        for (size_t i = 0; i < p->neps; i++) {
            if (p->eps[i].seen_gen < gen)
                push_endpoint_event(evs, AX_EVENT_ENDPOINT_LEAVE, p, &p->eps[i].info);
            else
                p->eps[w++] = p->eps[i];
        }
        d->table_eps -= p->neps - w;
        p->neps = w;
        /* The array gives back what a smaller set does not use, so that
         * what max_table_endpoints bounds is memory, not only entries: a
         * node that announced thousands and then none holds nothing. */
        if (p->neps < p->eps_cap / 2) {
            if (p->neps == 0) {
                free(p->eps);
                p->eps = NULL;
                p->eps_cap = 0;
            } else {
                struct ax__peer_ep *e = realloc(p->eps, p->neps * sizeof *e);
                if (e) {
                    p->eps = e;
                    p->eps_cap = p->neps;
                }
            }
        }
        p->gen_committed = gen;
        p->has_committed = true;
    }
    return full;
}

void ax__table_self_info(struct ax__disc *d, struct ax_node_info *out)
{
    ax_node *n = d->node;
    memset(out, 0, sizeof *out);
    out->id = n->id;
    out->incarnation = n->incarnation;
    snprintf(out->name, sizeof out->name, "%s", n->name);
    snprintf(out->host, sizeof out->host, "%s", n->host);
    out->pid = n->pid;
    out->domain = n->cfg.domain;
    snprintf(out->tcp, sizeof out->tcp, "%s", n->tcp_endpoint);
    snprintf(out->unicast, sizeof out->unicast, "%s", d->unicast_str);
    out->mode = d->mode;
    snprintf(out->version, sizeof out->version, "%s", ax_version());
    snprintf(out->host_id, sizeof out->host_id, "%s", n->host_id);
    out->shm = n->shm;
    out->lease_ns = n->cfg.discovery.lease_ns;
    out->heartbeat_ns = n->cfg.discovery.heartbeat_ns;
    out->uptime_ns = ax_clock_real_ns() - n->start_real_ns;
    out->generation = n->local_gen;
    out->complete = true;
    out->is_self = true;
    for (size_t i = 0; i < n->neps; i++) {
        if (n->eps[i]->kind == AX_ENDPOINT_PUBLISHER)
            out->publishers++;
        else if (n->eps[i]->kind == AX_ENDPOINT_SUBSCRIBER)
            out->subscribers++;
    }
}

static void self_endpoint(const ax_node *n, const struct ax__local_ep *l,
                          struct ax_endpoint_info *e)
{
    memset(e, 0, sizeof *e);
    e->node_id = n->id;
    snprintf(e->node_name, sizeof e->node_name, "%s", n->name);
    e->id = l->id;
    e->kind = l->kind;
    snprintf(e->topic, sizeof e->topic, "%s", l->topic);
    snprintf(e->type_name, sizeof e->type_name, "%s", l->type_name);
    memcpy(e->type_hash, l->type_hash, AX_TYPE_HASH_SIZE);
    e->qos = l->qos;
    e->port = l->port;
    snprintf(e->reply_type_name, sizeof e->reply_type_name, "%s", l->reply_type_name);
    memcpy(e->reply_type_hash, l->reply_type_hash, AX_TYPE_HASH_SIZE);
    e->max_request = l->max_request;
    if (l->ctr)
        ax__ep_counters_read(l->ctr, &e->counters);
    else
        e->counters.stamp_ns = e->counters.received_ns = ax_clock_mono_ns();
}

int ax__disc_list_nodes(struct ax__disc *d, struct ax_node_info *out, size_t cap, size_t *count)
{
    pthread_mutex_lock(&d->node->lock);
    size_t n = 0;
    if (n < cap)
        ax__table_self_info(d, &out[n]);
    n++;
    for (size_t i = 0; i < d->npeers; i++, n++)
        if (n < cap)
            peer_snapshot_info(d->peers[i], &out[n]);
    pthread_mutex_unlock(&d->node->lock);
    *count = n;
    return 0;
}

int ax__disc_list_endpoints(struct ax__disc *d, const char *topic, struct ax_endpoint_info *out,
                            size_t cap, size_t *count)
{
    ax_node *node = d->node;
    size_t n = 0;
    pthread_mutex_lock(&node->lock);
    for (size_t i = 0; i < node->neps; i++) {
        if (topic && strcmp(topic, node->eps[i]->topic) != 0)
            continue;
        if (n < cap)
            self_endpoint(node, node->eps[i], &out[n]);
        n++;
    }
    for (size_t i = 0; i < d->npeers; i++) {
        const struct ax__peer *p = d->peers[i];
        for (size_t k = 0; k < p->neps; k++) {
            if (topic && strcmp(topic, p->eps[k].info.topic) != 0)
                continue;
            if (n < cap)
                out[n] = p->eps[k].info;
            n++;
        }
    }
    pthread_mutex_unlock(&node->lock);
    *count = n;
    return 0;
}

/* Replays: a datagram recorded by the MAC'd sender is valid forever, so
 * the MAC alone would let anyone who captured one send it again. A peer in
 * the table has a window over its counters; one that left is remembered
 * (d->gone) with its last counter, so that its old datagrams do not bring
 * it back, and nothing of an incarnation that said Bye is taken again. A
 * node never heard of before has nothing to compare with: a recording of an
 * old incarnation played back in order shows it for as long as the
 * recording lasts, but its data port is gone (docs/security.md). */
bool ax__table_fresh(struct ax__disc *d, struct ax__peer *p, const axon_ctl_Discovery *m)
{
    if (p && p->info.incarnation == m->incarnation)
        return ax__seq_window_take(&p->replay, m->seq);
    for (unsigned i = 0; i < AX__GONE_MAX; i++) {
        struct ax__gone *g = &d->gone[i];
        if (g->id == m->node_id && g->incarnation == m->incarnation && (g->id || g->incarnation))
            return !g->final && m->seq > g->seq;
    }
    return true;
}
