/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: services (include/axon/service.h).
 *
 * A server (struct ax_service) is a local endpoint of kind SERVICE on the
 * shard its name hashes to; clients connect to that shard's listener, as
 * subscribers do to a publisher's, and the link stays a psub (pub_link.c)
 * until its first frame says what it is for: SUBSCRIBE makes it a
 * publisher's, BIND a service's (service.c takes over its frames then).
 *
 * A client (struct ax_client) lives on the shard its name hashes to, like
 * a subscription, with one link to the server it chose from the table.
 *
 * Files: service.c (servers and their links) and client.c (clients); both
 * call shard.c, pub_link.c calls service.c, and neither calls the other.
 */
#ifndef AX__SERVICE_H
#define AX__SERVICE_H

#include "axon/service.h"
#include "core/ax__pubsub.h"

#define AX__SERVICE_MAX_REQUEST_DEFAULT    (1u << 20)
#define AX__SERVICE_MAX_PENDING_DEFAULT    64u
#define AX__CLIENT_MAX_OUTSTANDING_DEFAULT 256u

struct ax_service {
    ax_node *node;
    struct ax__shard *shard;
    struct ax__local_ep ep;
    struct ax__ep_counters ctr; /* messages = calls answered, connections = clients */
    const ax_type *req, *rep;
    ax_service_fn fn;
    void *user;
    void (*drop)(void *user);
    uint32_t max_request, max_pending;
    struct ax__qnode links; /* bound psubs (svc_node) */
    struct ax__qnode lnode; /* in shard->services */
    unsigned busy;          /* inside its handler: freeing waits for its end */
    bool free_pending;
    atomic_bool closed;
    atomic_ullong refused, bad_requests;
};

/* ---- service.c, for pub_link.c (on the shard) ---- */

/* A BIND or REQUEST frame on an accepted link. */
void ax__service_frame(struct ax__psub *ps, const struct ax__frame_hdr *h, const uint8_t *payload);
/* Its replies drained (resume reading a paused client). */
void ax__service_link_drain(struct ax__psub *ps);
/* The link closed: unbind it. */
void ax__service_link_closed(struct ax__psub *ps);
/* Schemas: the type named @name among this node's services, or NULL
 * (caller holds node->lock). */
const ax_type *ax__service_type_locked(ax_node *node, const char *name);

/* ---- for shard.c, through ax__pubsub_ops (core/node.c) ---- */
void ax__service_remote(struct ax__shard *s, const struct ax_graph_event *ev); /* client.c */
void ax__services_close(struct ax__shard *s);                                  /* service.c */
void ax__clients_close(struct ax__shard *s);                                   /* client.c */

#endif /* AX__SERVICE_H */
