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
 * Files: service_defer.c (replies given later, and sending a call's end),
 * service.c (servers and their links, calls service_defer.c) and client.c
 * (clients); all call shard.c, pub_link.c calls service.c, and client.c
 * and the servers' files do not call each other.
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
    struct ax__qnode links;    /* bound psubs (svc_node) */
    struct ax__qnode lnode;    /* in shard->services */
    struct ax__qnode deferred; /* its deferred calls not answered yet (under the
                                  deferred lock of service_defer.c) */
    unsigned busy;             /* inside its handler: freeing waits for its end */
    bool free_pending;
    atomic_bool closed;
    atomic_ullong refused, bad_requests;
};

/* What the library keeps of a call while its handler runs (the public
 * struct's priv_). */
struct ax__call_state {
    void *scratch; /* service.c's blocks of ax_service_scratch() */
    struct ax_service *srv;
    struct ax__psub *ps;
    uint64_t id;
    struct ax_service_deferred *deferred; /* ax_service_defer() made it */
};

/* ---- service_defer.c, for service.c (on the shard) ---- */

/* Send a call's failure (a REPLY frame flagged ERROR). */
void ax__service_send_error(ax__link *l, uint32_t stream, uint64_t id, int code, int handler_code,
                            const char *reason);
/* Send the packed @reply of call @id (stream: the service's id), or
 * AX_EMSGSIZE when it is larger than the client takes; @name for that
 * error's text. @reply stays the caller's. */
void ax__service_send_reply(ax__link *l, const char *name, uint32_t stream, uint64_t id,
                            ax__buf *reply);
/* Read @ps's calls again if it was paused and its replies waiting (queued
 * or deferred) have come down to half of max_pending. */
void ax__service_maybe_resume(struct ax__psub *ps);
/* @ps closed or was unbound: its deferred calls have nobody to answer. */
void ax__deferred_link_gone(struct ax_service *srv, const struct ax__psub *ps);
/* @srv is going: its deferred calls can no longer be answered. */
void ax__deferred_service_gone(struct ax_service *srv);

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
