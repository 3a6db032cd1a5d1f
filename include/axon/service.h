/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/service.h: services (request/reply), like ROS 2 services and Cyber
 * RT's Service/Client.
 *
 * A node offers a service under a name ("/map/lookup") with a request type
 * and a reply type; discovery announces it (kind AX_ENDPOINT_SERVICE, both
 * types, the largest request it takes). A client of that name finds it in
 * the discovery table, opens one link to the server's node (the transport
 * the pair would use for pub/sub: shared memory's Unix socket on one host,
 * TCP otherwise, TLS when security says so), names the service and its
 * types (checked by hash on both sides: a mismatch is AX_ETYPE), and then
 * sends any number of calls on it, each with its own id; replies may come
 * back in any order and are matched by id.
 *
 * What a call can end with, each a distinct code:
 *   0               the reply arrived
 *   AX_ETIMEDOUT    no reply within the call's timeout (the server may
 *                   still run it: calls are not cancelled on the server)
 *   AX_ENOTFOUND    no server of that name in the discovery table (or the
 *                   server no longer has it)
 *   AX_ECONNRESET   the server went away with the call outstanding (its
 *                   process died, its link broke, its lease expired)
 *   AX_EREFUSED     the handler refused it (its own code in
 *                   ax_call_result.handler_error, its reason in .reason)
 *   AX_EPROTO       the request did not decode as the request type (from the
 *                   server), or the reply did not decode (here)
 *   AX_ETYPE        the server's types differ from the client's
 *   AX_EACCES       the access policy does not let this node call it
 *   AX_EMSGSIZE     the request is larger than the server takes (refused
 *                   here, before anything is sent)
 *   AX_EAGAIN       the client already has max_outstanding calls in flight
 *   AX_ECLOSED      the client or its node was freed first
 *
 * Threads: a service's handler runs on the node's loop thread for the
 * service name (as a topic's callbacks do), or inside ax_node_spin*() with
 * node.threads = 0; it must not block. Clients may be created, called and
 * freed from any thread; ax_client_call() waits and so must not be called
 * from a loop thread (AX_EBUSY): from a callback use
 * ax_client_call_async(), whose reply function runs on the client's loop
 * thread. Handles end with ax_service_free()/ax_client_free() or with the
 * node. Long work is deferred: ax_service_defer() in the handler, then
 * ax_service_reply() from any thread.
 */
#ifndef AXON_SERVICE_H
#define AXON_SERVICE_H

#include <protobuf-c/protobuf-c.h>

#include "axon/node.h"
#include "axon/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_service ax_service;
typedef struct ax_client ax_client;

#define AX_CALL_REASON_MAX 256

/* ---- servers ---- */

/* One call, as the handler sees it. */
struct ax_service_call {
    uint64_t node_id; /* the calling node */
    const char *node_name;
    const char *identity; /* who it is for access control (docs/security.md) */
    uint64_t call_id;     /* unique on the caller's link */
    /* A refusal's reason: the handler may write a NUL-terminated text here
     * (at most why_size bytes); the caller sees it in its result. */
    char *why;
    size_t why_size;
    void *priv_; /* the library's */
};

/*
 * The handler: fill @rep (an initialized, empty message of the reply type)
 * from @req and return 0, or return a negative AX_E* code to refuse (the
 * caller gets AX_EREFUSED with this code and call->why).
 *
 * @rep is packed when the handler returns, then its top-level struct is
 * freed; memory its fields point to stays the handler's (point them at
 * static memory, at @req, or at ax_service_scratch()). @req is valid until
 * the handler returns.
 */
typedef int (*ax_service_fn)(const ProtobufCMessage *req, ProtobufCMessage *rep,
                             struct ax_service_call *call, void *user);

struct ax_service_options {
    /* The largest request accepted, in bytes (default 1 MiB, never above
     * transport.max_frame); announced, so clients refuse larger ones
     * before sending, and a client that sends one anyway is disconnected
     * before anything is allocated for it. */
    uint32_t max_request;
    /* Per client link: replies waiting to be written before the server
     * stops reading that client's calls until they drain (default 64). A
     * flood of calls from one client costs the server this much, and the
     * other clients nothing. */
    uint32_t max_pending;
    /* Called once with @user when the service is freed (may be NULL). */
    void (*drop)(void *user);
};

/** ax_service_options_init() - the defaults above. */
AX_API void ax_service_options_init(struct ax_service_options *opt);

/**
 * ax_service_new() - offer the service @name on @node.
 * @name: like a topic name ("/map/lookup"); one server per name per node.
 * @req, @rep: registered types (ax_type_find(), or built at run time).
 * @fn: the handler, called with @user; see ax_service_fn.
 * @opt: NULL for the defaults.
 *
 * Returns 0 and the service in @out; AX_EINVAL (a bad argument or name),
 * AX_EEXIST (this node already offers @name), AX_EACCES (the access policy
 * does not let this node serve it: servers need `publish` rights on the
 * name), AX_ENOMEM, AX_ECLOSED (the node is being destroyed). Any thread.
 */
AX_API int ax_service_new(ax_service **out, ax_node *node, const char *name, const ax_type *req,
                          const ax_type *rep, ax_service_fn fn, void *user,
                          const struct ax_service_options *opt);

/**
 * ax_service_free() - stop offering the service. A call being handled
 * finishes first; clients with calls queued get AX_ENOTFOUND. Any thread,
 * also from its own handler (then it ends after the handler returns). NULL
 * is a no-op.
 */
AX_API void ax_service_free(ax_service *srv);

/**
 * ax_service_scratch() - @size bytes for the reply's fields (strings,
 * repeated arrays, nested messages), freed after the reply is packed.
 * Only inside the handler, for its @call. NULL when out of memory.
 */
AX_API void *ax_service_scratch(struct ax_service_call *call, size_t size);

/*
 * Deferred replies: a handler that cannot answer at once (the work takes
 * long, or runs on another thread: a handler must not block its loop)
 * calls ax_service_defer() and returns; the reply goes later, from any
 * thread, with ax_service_reply() or ax_service_refuse(). Replies of one
 * client may then go in any order: the client matches them by call id.
 * Deferred calls count with the replies waiting to be written against the
 * service's max_pending, so a client flooding a slow server stops being
 * read, as with prompt replies.
 */
typedef struct ax_service_deferred ax_service_deferred;

/**
 * ax_service_defer() - inside the handler: answer @call later. The handler
 * then returns 0 and what it wrote into its @rep is not sent; @req and
 * scratch memory still end with the handler, so copy what the answer
 * needs. Returns the handle, to be given to exactly one of
 * ax_service_reply() or ax_service_refuse() (which free it), or NULL when
 * out of memory or called twice (the handler answers now, as usual).
 * Only inside the handler, on its thread.
 */
AX_API ax_service_deferred *ax_service_defer(struct ax_service_call *call);

/**
 * ax_service_reply() - send @rep (a message of the service's reply type)
 * as the reply of the deferred call @d, and free @d. @rep stays the
 * caller's (packed before this returns). Returns 0 (handed to the
 * service's loop, which writes it), AX_EINVAL (NULL @d, or @rep not of the
 * reply type: @d is not freed then), AX_ECLOSED (the client's link or the
 * service has gone: nothing to answer, @d freed), AX_ENOMEM (@d freed; the
 * client is refused with AX_ENOMEM if that can still be sent). Any thread.
 */
AX_API int ax_service_reply(ax_service_deferred *d, const ProtobufCMessage *rep);

/**
 * ax_service_refuse() - end the deferred call @d with AX_EREFUSED (the
 * caller sees @code, a negative AX_E* code, and @why, which may be NULL),
 * and free @d. Returns 0, AX_EINVAL (NULL @d, or @code not negative: @d
 * is not freed then), AX_ECLOSED or AX_ENOMEM as ax_service_reply().
 * Any thread.
 */
AX_API int ax_service_refuse(ax_service_deferred *d, int code, const char *why);

/**
 * ax_service_deferred_gone() - whether nobody waits for @d's answer any
 * more (the client's link closed, or the service was freed): long work
 * may stop, and answer with either call above to free @d. Any thread.
 */
AX_API bool ax_service_deferred_gone(const ax_service_deferred *d);

/** Calls answered, refused (by the handler or because the request did not
 * decode), and clients connected now. Any thread. */
struct ax_service_stats {
    uint64_t calls, refused, bad_requests, clients;
};
AX_API int ax_service_stats(const ax_service *srv, struct ax_service_stats *out);

/* ---- clients ---- */

/* How a call ended, beyond its code. */
struct ax_call_result {
    int status;        /* the call's code (see the top of this file) */
    int handler_error; /* AX_EREFUSED: the code the handler returned */
    char reason[AX_CALL_REASON_MAX];
};

struct ax_client_options {
    /* Calls in flight at once (sent or waiting for the server's link);
     * beyond, a call fails with AX_EAGAIN at once. Default 256. */
    uint32_t max_outstanding;
};

/** ax_client_options_init() - the defaults above. */
AX_API void ax_client_options_init(struct ax_client_options *opt);

/**
 * ax_client_new() - a client of the service @name with request type @req
 * and reply type @rep. It connects when the first call is made, or at
 * ax_client_wait_server(). @opt: NULL for the defaults. It is announced
 * (kind AX_ENDPOINT_CLIENT, both types), so that `axon doctor` can say
 * when it has no server or one of other types.
 * Returns 0, AX_EINVAL, AX_ENOMEM, AX_ECLOSED, AX_EACCES (the access
 * policy does not let this node call @name). Any thread.
 */
AX_API int ax_client_new(ax_client **out, ax_node *node, const char *name, const ax_type *req,
                         const ax_type *rep, const struct ax_client_options *opt);

/**
 * ax_client_wait_server() - wait up to @timeout_ns for a server of the name
 * to be in the discovery table with matching types and its link to be up.
 * Returns 0, AX_ETIMEDOUT, AX_ETYPE (only servers of other types were
 * found), AX_EBUSY on a loop thread, AX_EINVAL, AX_ECLOSED (node.threads
 * = 0 and the node's destruction was asked for). Not on a loop thread;
 * with node.threads = 0 it runs the node's loop while it waits.
 */
AX_API int ax_client_wait_server(ax_client *c, int64_t timeout_ns);

/**
 * ax_client_call() - call and wait for the reply, at most @timeout_ns.
 * @rep: receives the reply, unpacked with protobuf-c's default allocator:
 *       free it with protobuf_c_message_free_unpacked(*rep, NULL). NULL
 *       unless the call returns 0.
 * @res: may be NULL; else filled whatever the outcome.
 * Returns the call's code (top of this file), AX_EINVAL (wrong request
 * type), or AX_EBUSY on a loop thread. Any other thread, concurrently.
 */
AX_API int ax_client_call(ax_client *c, const ProtobufCMessage *req, ProtobufCMessage **rep,
                          int64_t timeout_ns, struct ax_call_result *res);

/*
 * A call's end, exactly once per accepted call: on the client's loop
 * thread, with @rep the reply (valid during the call; NULL unless
 * res->status is 0) and @res its code and reason. It may call and free
 * the client.
 */
typedef void (*ax_client_reply_fn)(ax_client *c, const ProtobufCMessage *rep,
                                   const struct ax_call_result *res, void *user);

/**
 * ax_client_call_async() - call without waiting: @fn gets the outcome
 * later. @timeout_ns: after it, @fn gets AX_ETIMEDOUT (0: no limit; the
 * server's departure still ends the call).
 * Returns 0 when the call was accepted (@fn will run), or AX_EINVAL,
 * AX_EMSGSIZE (above the server's announced max_request, when known),
 * AX_EAGAIN (max_outstanding), AX_ENOMEM, AX_ECLOSED (then @fn will not
 * run). Any thread, including callbacks.
 */
AX_API int ax_client_call_async(ax_client *c, const ProtobufCMessage *req, int64_t timeout_ns,
                                ax_client_reply_fn fn, void *user);

/**
 * ax_client_free() - end the client: calls still in flight end with
 * AX_ECLOSED (their functions run first, on the loop thread). Any thread
 * (from one of its own reply functions too). NULL is a no-op.
 */
AX_API void ax_client_free(ax_client *c);

#ifdef __cplusplus
}
#endif

#endif /* AXON_SERVICE_H */
