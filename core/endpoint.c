/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What publishers and subscriptions share (core/ax__endpoint.h): counters,
 * events, type identity, QoS on the wire. Kept apart so that pub.c, sub.c,
 * discovery and the node can all use it without calling one another.
 */
#include <stdio.h>
#include <string.h>

#include "axon/clock.h"
#include "base/ax__sha256.h"
#include "core/ax__endpoint.h"

void ax__ep_counters_read(const struct ax__ep_counters *c, struct ax_endpoint_counters *out)
{
    memset(out, 0, sizeof *out);
    out->messages = atomic_load_explicit(&c->messages, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&c->bytes, memory_order_relaxed);
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
        out->drops[i] = atomic_load_explicit(&c->drops[i], memory_order_relaxed);
    out->gaps = atomic_load_explicit(&c->gaps, memory_order_relaxed);
    out->restarts = atomic_load_explicit(&c->restarts, memory_order_relaxed);
    out->connections = atomic_load_explicit(&c->connections, memory_order_relaxed);
    out->last_error = atomic_load_explicit(&c->last_error, memory_order_relaxed);
    out->queued_messages = atomic_load_explicit(&c->queued_messages, memory_order_relaxed);
    out->queued_bytes = atomic_load_explicit(&c->queued_bytes, memory_order_relaxed);
    struct ax__ep_counters *w = (struct ax__ep_counters *)c; /* the lock is not the data */
    while (atomic_flag_test_and_set_explicit(&w->links_busy, memory_order_acquire))
        ;
    memcpy(out->links, c->links, sizeof out->links);
    out->nlinks = c->nlinks;
    out->links_total = c->links_total;
    atomic_flag_clear_explicit(&w->links_busy, memory_order_release);
    out->stamp_ns = out->received_ns = ax_clock_mono_ns();
}

void ax__ep_counters_set_links(struct ax__ep_counters *c, const struct ax_link_info *links,
                               uint32_t n, uint32_t total)
{
    if (n > AX_LINKS_SHOWN)
        n = AX_LINKS_SHOWN;
    while (atomic_flag_test_and_set_explicit(&c->links_busy, memory_order_acquire))
        ;
    memcpy(c->links, links, n * sizeof *links);
    c->nlinks = n;
    c->links_total = total;
    atomic_flag_clear_explicit(&c->links_busy, memory_order_release);
}

const char *ax_shm_reason_text(enum ax_shm_reason r)
{
    static const char *const text[] = {
        "shared memory",
        "shared memory off by configuration",
        "the publisher's node offers no shared memory",
        "the publisher is on another host",
        "the publisher's Unix socket cannot be reached (another network namespace?)",
        "the shared-memory link failed",
        "the publisher's access policy offers no shared memory to this user",
    };
    return (unsigned)r < sizeof text / sizeof text[0] ? text[r] : "?";
}

const char *ax_link_transport_name(enum ax_link_transport t)
{
    static const char *const names[] = {"-", "tcp", "shm"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void ax__emit(struct ax__event_sink *sink, void *self, const struct ax_pubsub_event *ev)
{
    if (sink->fn)
        sink->fn(self, ev, sink->user);
}

void ax__raw_type_hash(const char *type_name, uint8_t out[AX_TYPE_HASH_SIZE])
{
    struct ax__sha256 h;
    ax__sha256_init(&h);
    ax__sha256_update(&h, "raw:", 4);
    ax__sha256_update(&h, type_name, strlen(type_name));
    ax__sha256_final(&h, out);
}

void ax__format_hash(const uint8_t *hash, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

void ax__qos_to_wire(axon_ctl_Qos *w, const struct ax_qos *q)
{
    w->reliability = q->reliability;
    w->durability = q->durability;
    w->overload = q->overload;
    w->history = q->history;
    w->deadline_ns = q->deadline_ns;
    w->lifespan_ns = q->lifespan_ns;
}

void ax__qos_from_wire(struct ax_qos *q, const axon_ctl_Qos *w)
{
    q->reliability = w->reliability ? AX_BEST_EFFORT : AX_RELIABLE;
    q->durability = w->durability ? AX_TRANSIENT_LOCAL : AX_VOLATILE;
    q->overload =
        w->overload <= AX_OVERLOAD_BLOCK ? (enum ax_overload)w->overload : AX_OVERLOAD_DROP_OLDEST;
    q->history = w->history ? w->history : 1;
    q->deadline_ns = w->deadline_ns;
    q->lifespan_ns = w->lifespan_ns;
    q->max_blocking_ns = AX_QOS_MAX_BLOCKING_DEFAULT_NS; /* the publisher's own, not sent */
    q->shm = AX_SHM_DEFAULT;                             /* the subscriber's own, not sent */
}
