/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: what every endpoint has, publisher or subscription — its
 * counters (written by its loop, read by discovery and the API), its event
 * sink, its type identity — and the QoS as the control messages carry it
 * (core/endpoint.c). A leaf: it calls nothing else in core.
 */
#ifndef AX__ENDPOINT_H
#define AX__ENDPOINT_H

#include <stdatomic.h>

#include "axon/node.h"
#include "axon/pubsub.h"
#include "control.pb.h"

/* Counters of a local endpoint: written by its loop, read by discovery. */
struct ax__ep_counters {
    atomic_ullong messages;
    atomic_ullong bytes;
    atomic_ullong drops[AX_DROP_REASON_COUNT_];
    atomic_ullong gaps;
    atomic_ullong restarts;
    atomic_uint connections;
    atomic_int last_error; /* subscriber: last connection error (AX_E*), 0: none */
    /* publisher: its fullest connection's write queue, kept by its shard */
    atomic_ullong queued_messages;
    atomic_ullong queued_bytes;
    /* subscriber: its links (kept by its shard, read by discovery), under
     * links_busy, a spin lock held for a copy of a few bytes */
    atomic_flag links_busy;
    struct ax_link_info links[AX_LINKS_SHOWN];
    uint32_t nlinks, links_total;
};

/* Add @n to a counter that only its endpoint's shard writes (one thread
 * at a time: the loop, or a thread holding its gate), others read: a load
 * and a store, not a locked read-modify-write per message. */
static inline void ax__ep_count(atomic_ullong *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Set a subscription's links (its shard's thread). */
void ax__ep_counters_set_links(struct ax__ep_counters *c, const struct ax_link_info *links,
                               uint32_t n, uint32_t total);

/* A local publisher or subscription as discovery announces it. */
struct ax__local_ep {
    uint32_t id;
    enum ax_endpoint_kind kind;
    char topic[AX_TOPIC_MAX];
    char type_name[AX_TYPE_NAME_MAX];
    uint8_t type_hash[AX_TYPE_HASH_SIZE];
    struct ax_qos qos;
    struct ax__ep_counters *ctr; /* owned by the endpoint; valid while registered */
    uint16_t port;               /* publisher, service: its shard's port */
    void *owner;                 /* the pub/sub/service object */
    /* Service: its reply type and largest request. */
    char reply_type_name[AX_TYPE_NAME_MAX];
    uint8_t reply_type_hash[AX_TYPE_HASH_SIZE];
    uint32_t max_request;
};

/* Where an endpoint's events go (the application's on_event). */
struct ax__event_sink {
    ax_pubsub_event_fn fn;
    void *user;
};

/* Read a local endpoint's counters (any thread; relaxed loads). */
void ax__ep_counters_read(const struct ax__ep_counters *c, struct ax_endpoint_counters *out);

/* Call the sink, if any, with @self (the ax_pub or ax_sub) and @ev. */
void ax__emit(struct ax__event_sink *sink, void *self, const struct ax_pubsub_event *ev);

/* Raw types match by name: SHA-256 of "raw:" and the name. */
void ax__raw_type_hash(const char *type_name, uint8_t out[AX_TYPE_HASH_SIZE]);

/* The first 8 bytes of a type hash as 16 hex digits, for logs. */
void ax__format_hash(const uint8_t *hash, char out[17]);

/* QoS to and from the control messages (axon.ctl.Qos); out-of-range
 * values from the wire become the defaults. */
void ax__qos_to_wire(axon_ctl_Qos *w, const struct ax_qos *q);
void ax__qos_from_wire(struct ax_qos *q, const axon_ctl_Qos *w);

/* Matching: same topic (by construction) and same type hash. */
static inline bool ax__same_type(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < AX_TYPE_HASH_SIZE; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

#endif /* AX__ENDPOINT_H */
