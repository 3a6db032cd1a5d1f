/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Building discovery datagrams (docs/discovery.md): the header every
 * datagram starts with, what the node says of itself, its endpoints and
 * (for a tool that asked) their live counters, and how the endpoint set is
 * cut into pages that fit a datagram. disc.c sends them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/version.h"
#include "core/ax__disc.h"

/* The repeated field's max_count (control.options): a page never exceeds it. */
#define AX__EP_PER_PAGE_MAX                                                                        \
    (sizeof(((axon_ctl_Announce *)0)->endpoints) / sizeof(axon_ctl_Endpoint))
/* All a node can announce: the top of discovery.max_endpoints' range. */
_Static_assert(131072 == AX__PAGES_MAX * AX__EP_PER_PAGE_MAX, "core/config_table.c");

void ax__disc_begin(struct ax__disc *d)
{
    memset(&d->tx, 0, sizeof d->tx);
    d->tx.protocol_version = 1;
    d->tx.domain = d->node->cfg.domain;
    d->tx.node_id = d->node->id;
    d->tx.incarnation = d->node->incarnation;
    d->tx.seq = ++d->seq;
}

static void fill_node_info(struct ax__disc *d, axon_ctl_NodeInfo *ni)
{
    ax_node *n = d->node;
    snprintf(ni->name, sizeof ni->name, "%s", n->name);
    snprintf(ni->host, sizeof ni->host, "%s", n->host);
    ni->pid = n->pid;
    ni->tcp_count = n->tcp_endpoint[0] ? 1 : 0;
    snprintf(ni->tcp[0], sizeof ni->tcp[0], "%s", n->tcp_endpoint);
    ni->lease_ms = (uint32_t)(n->cfg.discovery.lease_ns / AX_NS_PER_MS);
    ni->heartbeat_ms = (uint32_t)(n->cfg.discovery.heartbeat_ns / AX_NS_PER_MS);
    ni->start_time_ns = n->start_real_ns;
    ni->mode = (axon_ctl_DiscoveryMode)d->mode;
    snprintf(ni->unicast, sizeof ni->unicast, "%s", d->unicast_str);
    snprintf(ni->version, sizeof ni->version, "%s", ax_version());
    snprintf(ni->host_id, sizeof ni->host_id, "%s", n->host_id);
    ni->shm = n->shm;
    ni->pid_ns = d->pid_ns;
    ni->proc_start = d->proc_start;
}

static void fill_counters(axon_ctl_Counters *c, const struct ax__ep_counters *src)
{
    struct ax_endpoint_counters v;
    ax__ep_counters_read(src, &v);
    c->messages = v.messages;
    c->bytes = v.bytes;
    c->drops_count = AX_DROP_REASON_COUNT_;
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
        c->drops[i] = v.drops[i];
    c->gaps = v.gaps;
    c->restarts = v.restarts;
    c->connections = v.connections;
    c->last_error = (uint32_t)(v.last_error < 0 ? -v.last_error : 0);
    c->queued_messages = v.queued_messages;
    c->queued_bytes = v.queued_bytes;
    c->stamp_ns = v.stamp_ns;
    c->links_count = v.nlinks;
    for (uint32_t i = 0; i < v.nlinks; i++) {
        c->links[i].node_id = v.links[i].node_id;
        c->links[i].endpoint = v.links[i].endpoint_id;
        c->links[i].transport = v.links[i].transport;
        c->links[i].reason = v.links[i].reason;
    }
    c->links_total = v.links_total;
}

/* Rebuild the page composition when the local endpoint set changed.
 * Pages are cut with worst-case counter sizes, so the composition of a
 * generation never depends on counter values. node->lock held. */
int ax__disc_compose(struct ax__disc *d)
{
    ax_node *n = d->node;
    if (d->page_start && d->composed_gen == n->local_gen)
        return 0;
    if (n->neps > d->snap_cap) {
        size_t cap = n->neps * 2;
        axon_ctl_Endpoint *s = realloc(d->snap, cap * sizeof *s);
        if (!s)
            return AX_ENOMEM;
        d->snap = s;
        struct ax__ep_counters **c = realloc(d->snap_ctr, cap * sizeof *c);
        if (!c)
            return AX_ENOMEM;
        d->snap_ctr = c;
        d->snap_cap = cap;
    }
    uint32_t *starts = realloc(d->page_start, (n->neps + 2) * sizeof *starts);
    if (!starts)
        return AX_ENOMEM;
    d->page_start = starts;

    /* What a page costs without endpoints, at the largest field values. */
    ax__disc_begin(d);
    d->tx.seq = UINT64_MAX;
    d->tx.which_body = axon_ctl_Discovery_announce_tag;
    axon_ctl_Announce *a = &d->tx.body.announce;
    a->generation = UINT64_MAX;
    a->page = a->pages = UINT32_MAX;
    a->has_node = true;
    fill_node_info(d, &a->node);
    size_t base = 0;
    pb_get_encoded_size(&base, axon_ctl_Discovery_fields, &d->tx);
    size_t budget = AX__DGRAM_MAX - AX__DGRAM_SECURITY_ROOM - base;

    size_t used = 0, per_page = 0;
    uint32_t np = 0;
    starts[np] = 0;
    for (size_t i = 0; i < n->neps; i++) {
        const struct ax__local_ep *l = n->eps[i];
        axon_ctl_Endpoint *w = &d->snap[i];
        memset(w, 0, sizeof *w);
        w->id = l->id;
        w->kind = (axon_ctl_EndpointKind)l->kind; /* the same numbers */
        if (l->kind == AX_ENDPOINT_SERVICE || l->kind == AX_ENDPOINT_CLIENT) {
            snprintf(w->reply_type_name, sizeof w->reply_type_name, "%s", l->reply_type_name);
            w->reply_type_hash.size = AX_TYPE_HASH_SIZE;
            memcpy(w->reply_type_hash.bytes, l->reply_type_hash, AX_TYPE_HASH_SIZE);
            w->max_request = l->max_request;
        }
        snprintf(w->topic, sizeof w->topic, "%s", l->topic);
        snprintf(w->type_name, sizeof w->type_name, "%s", l->type_name);
        w->type_hash.size = AX_TYPE_HASH_SIZE;
        memcpy(w->type_hash.bytes, l->type_hash, AX_TYPE_HASH_SIZE);
        w->has_qos = true;
        w->qos.reliability = l->qos.reliability;
        w->qos.durability = l->qos.durability;
        w->qos.overload = l->qos.overload;
        w->qos.history = l->qos.history;
        w->qos.deadline_ns = l->qos.deadline_ns;
        w->qos.lifespan_ns = l->qos.lifespan_ns;
        w->port = l->port;
        d->snap_ctr[i] = l->ctr;
        axon_ctl_Endpoint worst = *w;
        worst.has_counters = true;
        worst.counters.messages = worst.counters.bytes = worst.counters.gaps =
            worst.counters.restarts = UINT64_MAX;
        worst.counters.drops_count = AX_DROP_REASON_COUNT_;
        for (int k = 0; k < AX_DROP_REASON_COUNT_; k++)
            worst.counters.drops[k] = UINT64_MAX;
        worst.counters.connections = UINT32_MAX;
        worst.counters.last_error = UINT32_MAX;
        worst.counters.queued_messages = worst.counters.queued_bytes = UINT64_MAX;
        worst.counters.stamp_ns = INT64_MIN;
        if (l->kind == AX_ENDPOINT_SUBSCRIBER) {
            worst.counters.links_count = AX_LINKS_SHOWN;
            for (int k = 0; k < AX_LINKS_SHOWN; k++)
                worst.counters.links[k] = (axon_ctl_Link){UINT64_MAX, UINT32_MAX, 2, 5};
            worst.counters.links_total = UINT32_MAX;
        }
        size_t sz = 0;
        pb_get_encoded_size(&sz, axon_ctl_Endpoint_fields, &worst);
        sz += 4; /* field tag and length prefix */
        if (per_page > 0 && (used + sz > budget || per_page == AX__EP_PER_PAGE_MAX)) {
            starts[++np] = (uint32_t)i;
            used = per_page = 0;
        }
        used += sz;
        per_page++;
    }
    starts[++np] = (uint32_t)n->neps;
    d->npages = np;
    d->nsnap = n->neps;
    d->composed_gen = n->local_gen;
    return 0;
}

void ax__disc_fill_page(struct ax__disc *d, uint32_t page, bool counters)
{
    ax__disc_begin(d);
    d->tx.which_body = axon_ctl_Discovery_announce_tag;
    axon_ctl_Announce *a = &d->tx.body.announce;
    a->generation = d->composed_gen;
    a->page = page;
    a->pages = d->npages;
    a->has_node = true;
    fill_node_info(d, &a->node);
    for (uint32_t i = d->page_start[page]; i < d->page_start[page + 1]; i++) {
        axon_ctl_Endpoint *w = &a->endpoints[a->endpoints_count++];
        *w = d->snap[i];
        if (counters && d->snap_ctr[i]) {
            w->has_counters = true;
            fill_counters(&w->counters, d->snap_ctr[i]);
        }
    }
}
