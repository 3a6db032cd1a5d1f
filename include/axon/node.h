/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/node.h: nodes and the discovery table.
 *
 * A node is one participant in a domain: it announces itself and its
 * endpoints (publishers, subscriptions) over UDP, hears the other nodes'
 * announcements, and keeps a discovery table of every node in its domain
 * with their endpoints, QoS and live counters. docs/discovery.md describes
 * the protocol.
 *
 * Threads: a node runs either on threads of its own (node.threads >= 1,
 * the default is 1) or in the caller's thread (node.threads = 0: call
 * ax_node_spin() / ax_node_spin_once(), or poll ax_node_fd() and call
 * ax_node_spin_once(node, 0)). Unless a function says otherwise it may be
 * called from any thread. Callbacks (events, messages) run on a node thread,
 * or inside ax_node_spin*() for node.threads = 0; they must not block.
 */
#ifndef AXON_NODE_H
#define AXON_NODE_H

#include "axon/common.h"
#include "axon/config.h"
#include "axon/qos.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_node ax_node;

#define AX_TYPE_HASH_SIZE 32
#define AX_TOPIC_MAX      256 /* bytes, with the NUL */
#define AX_TYPE_NAME_MAX  128 /* bytes, with the NUL */
#define AX_NODE_NAME_MAX  64  /* bytes, with the NUL */

/**
 * ax_node_new() - create a node and start discovery.
 * @out: receives the node.
 * @cfg: configuration, or NULL for the defaults with environment overrides
 *       (AXON_CONFIG, AXON_DOMAIN, AXON_PEERS, AXON_LOG_LEVEL; see
 *       ax_config_apply_env()). The node keeps its own copy.
 *
 * With node.threads >= 1 the node's threads are running when this returns.
 * Returns 0; AX_EINVAL (bad configuration: ax_config_validate() says why in
 * the log); AX_ENOMEM; AX_EADDRINUSE / AX_EADDRNOTAVAIL (cannot bind the
 * discovery or data sockets: the log names the address); AX_EAGAIN (no
 * thread); another mapped OS error. Any thread.
 */
AX_API int ax_node_new(ax_node **out, const struct ax_config *cfg);

/**
 * ax_node_new_from_file() - ax_config_init(), ax_config_load_file(@path),
 * ax_config_apply_env(), then ax_node_new().
 * @err: receives file, line, key and message when the file is bad; may be
 *       NULL.
 * Returns as ax_node_new(), plus the errors of ax_config_load_file().
 */
AX_API int ax_node_new_from_file(ax_node **out, const char *path, struct ax_config_error *err);

/**
 * ax_node_destroy() - leave the domain (peers get a Bye and drop this node
 * at once) and free the node, its endpoints and its threads.
 *
 * Safe from any thread, including from inside the node's own callbacks:
 * there the destruction is deferred and completes after the callback
 * returns (with node.threads = 0, inside the ax_node_spin*() call, which
 * then returns AX_ECLOSED). Either way the caller must not use @node
 * afterwards. NULL is a no-op.
 */
AX_API void ax_node_destroy(ax_node *node);

/**
 * ax_node_spin() - run the node in the calling thread until
 * ax_node_shutdown(). Only for node.threads = 0 (else AX_EINVAL).
 * Returns 0 after a shutdown, AX_ECLOSED if the node was destroyed from a
 * callback, or an error from the reactor.
 */
AX_API int ax_node_spin(ax_node *node);

/**
 * ax_node_spin_once() - one round of the node's loop, waiting at most
 * @timeout_ms for work (-1: no limit, 0: poll). Only for node.threads = 0.
 * Returns 1 if there is more work to do at once, 0 if idle, AX_ECLOSED if
 * the node was destroyed from a callback in this call (do not use it
 * again), or another negative error.
 */
AX_API int ax_node_spin_once(ax_node *node, int timeout_ms);

/**
 * ax_node_shutdown() - make ax_node_spin() return. Any thread.
 */
AX_API void ax_node_shutdown(ax_node *node);

/**
 * ax_node_fd() - for node.threads = 0: a file descriptor that becomes
 * readable when the node has work; add it to an outer poll/epoll loop and
 * call ax_node_spin_once(node, 0) when it is. -1 with node threads.
 */
AX_API int ax_node_fd(const ax_node *node);

/* ---- identity ---- */

/** ax_node_id() - the node's id: random, unique in the domain. */
AX_API uint64_t ax_node_id(const ax_node *node);

/** ax_node_name() - the node's name (node.name, or "<program>-<pid>"). */
AX_API const char *ax_node_name(const ax_node *node);

/** ax_node_config() - the configuration the node runs with (read-only). */
AX_API const struct ax_config *ax_node_config(const ax_node *node);

/* ---- time (docs/time.md) ---- */

/* The type name of clock messages: 8 bytes, a little-endian int64, the
 * simulated time in nanoseconds since the Unix epoch (`axon play --clock`
 * publishes them on node.clock_topic). */
#define AX_CLOCK_TYPE "axon.Clock"

/**
 * ax_node_now() - the node's time, in nanoseconds since the Unix epoch:
 * CLOCK_REALTIME, or with node.use_sim_time the last clock message
 * received on node.clock_topic (0 until the first). Any thread.
 */
AX_API int64_t ax_node_now(ax_node *node);

typedef struct ax_node_timer ax_node_timer;

/* A timer's callback: @now is ax_node_now() when it fired. */
typedef void (*ax_node_timer_fn)(ax_node_timer *timer, int64_t now, void *user);

/**
 * ax_node_timer_new() - call @fn every @period_ns of the node's time.
 * @out: receives the timer.
 * @period_ns: > 0.
 *
 * On wall time the first call comes one period from now; on simulated
 * time one period after the first clock message the timer sees, and then
 * at every multiple the clock reaches or passes (a clock that jumps ahead
 * by many periods fires at most 1000 of them at once, then skips to its
 * time; a clock that goes back restarts the count). A paused clock fires
 * nothing. Callbacks run on a thread of the node's (with node.threads 0,
 * inside ax_node_spin()), one at a time. Any thread.
 *
 * Returns 0, AX_EINVAL (a NULL argument, @period_ns <= 0), AX_ENOMEM,
 * AX_ECLOSED (the node is being destroyed).
 */
AX_API int ax_node_timer_new(ax_node_timer **out, ax_node *node, int64_t period_ns,
                             ax_node_timer_fn fn, void *user);

/**
 * ax_node_timer_free() - stop @timer: no call of its callback starts after
 * this returns (one running on another thread may still finish). Any
 * thread, including the timer's own callback. Timers still alive when the
 * node is destroyed are freed with it. NULL is a no-op.
 */
AX_API void ax_node_timer_free(ax_node_timer *timer);

/* ---- the discovery table ---- */

enum ax_endpoint_kind {
    AX_ENDPOINT_PUBLISHER = 0,
    AX_ENDPOINT_SUBSCRIBER = 1,
    AX_ENDPOINT_SERVICE = 2, /* a service server (axon/service.h) */
    AX_ENDPOINT_CLIENT = 3,  /* a service client: its types, no port */
};

/* A node as the table knows it. */
struct ax_node_info {
    uint64_t id;
    uint64_t incarnation; /* changes when the node's process restarts */
    char name[AX_NODE_NAME_MAX];
    char host[64];
    uint32_t pid;
    uint32_t domain;
    char tcp[64];     /* where it accepts data connections, "ip:port" */
    char unicast[64]; /* its discovery unicast address, "ip:port" */
    enum ax_discovery_mode mode;
    char version[16];
    char host_id[40]; /* its kernel's boot id ("" unknown): same one, same host */
    bool shm;         /* it accepts shared-memory links */
    int64_t lease_ns; /* as this node applies it: capped by discovery.max_lease */
    int64_t heartbeat_ns;
    int64_t uptime_ns;    /* from its start time (real-time clocks) */
    int64_t heard_age_ns; /* since the last datagram from it; 0 for self */
    uint64_t generation;  /* of its endpoint set, as far as known */
    bool complete;        /* all pages of that generation received, and none of its
                             endpoints refused (discovery.max_endpoints) */
    bool is_self;
    uint32_t publishers;
    uint32_t subscribers;
};

/* How a subscription's link to a publisher travels. */
enum ax_link_transport {
    AX_LINK_NONE = 0, /* not connected (yet) */
    AX_LINK_TCP = 1,
    AX_LINK_SHM = 2, /* shared memory: same host, payloads by reference */
};

/* Why a link is not shared memory. */
enum ax_shm_reason {
    AX_SHM_USED = 0,          /* it is */
    AX_SHM_R_OFF = 1,         /* off here: transport.shm, or the topic's qos shm */
    AX_SHM_R_PEER_OFF = 2,    /* the publisher's node offers none */
    AX_SHM_R_HOST = 3,        /* another host (another kernel: boot ids differ) */
    AX_SHM_R_UNREACHABLE = 4, /* its Unix socket cannot be reached: another network
                                 namespace (a container with its own network) */
    AX_SHM_R_FAILED = 5,      /* the shared-memory link failed (see the log) */
    AX_SHM_R_POLICY = 6,      /* the publisher's access policy does not offer it to our
                                 user (security.policy_file, shm_uids) */
};

/** ax_shm_reason_text() - a phrase for @r ("off by configuration", ...). */
AX_API const char *ax_shm_reason_text(enum ax_shm_reason r);

/** ax_link_transport_name() - "-", "tcp", "shm". */
AX_API const char *ax_link_transport_name(enum ax_link_transport t);

#define AX_LINKS_SHOWN 4 /* links listed per subscription in the counters */

/* A subscription's link to one publisher. */
struct ax_link_info {
    uint64_t node_id;     /* the publisher's node */
    uint32_t endpoint_id; /* the publisher */
    enum ax_link_transport transport;
    enum ax_shm_reason reason; /* why not shared memory */
};

/* Live counters of an endpoint (see Counters in msgs/control.proto). */
struct ax_endpoint_counters {
    uint64_t messages;
    uint64_t bytes;
    uint64_t drops[AX_DROP_REASON_COUNT_];
    uint64_t gaps; /* subscription: messages reported missing (AX_PS_GAP) */
    /* Subscription: publishers that restarted (AX_PS_GAP with restarted):
     * what each sent after the last message received is unknown. */
    uint64_t restarts;
    uint32_t connections;
    int last_error; /* subscriber: last error reaching a publisher (AX_E*), 0: none */
    /* Publisher: frames and bytes waiting in the write queue of its fullest
     * subscriber connection, as of its last publish, drop or drained queue
     * (how far its slowest subscriber is behind). 0 for subscriptions. */
    uint64_t queued_messages;
    uint64_t queued_bytes;
    /* Publisher: messages published from an application thread that the
     * thread delivered itself, while the node's loop thread waited for
     * events, instead of handing them over to it (docs/pubsub.md, "Which
     * thread sends"). 0 for subscriptions. */
    uint64_t direct;
    /* Subscription: its links to publishers (the first AX_LINKS_SHOWN) and
     * how many it has. */
    struct ax_link_info links[AX_LINKS_SHOWN];
    uint32_t nlinks, links_total;
    int64_t stamp_ns;    /* the owner's CLOCK_MONOTONIC when read */
    int64_t received_ns; /* our CLOCK_MONOTONIC when they arrived */
};

/* A publisher or subscription as the table knows it. */
struct ax_endpoint_info {
    uint64_t node_id;
    char node_name[AX_NODE_NAME_MAX];
    uint32_t id; /* unique within its node */
    enum ax_endpoint_kind kind;
    char topic[AX_TOPIC_MAX];
    char type_name[AX_TYPE_NAME_MAX];
    uint8_t type_hash[AX_TYPE_HASH_SIZE];
    struct ax_qos qos;
    struct ax_endpoint_counters counters;
    uint16_t port; /* publisher, service: where its connections go (host
                      of its node's tcp endpoint) */
    /* Service and client: topic is its name, type_* its request's; its
     * reply's type, and (service) the largest request it takes. */
    char reply_type_name[AX_TYPE_NAME_MAX];
    uint8_t reply_type_hash[AX_TYPE_HASH_SIZE];
    uint32_t max_request;
};

/**
 * ax_node_list_nodes() - copy the table's nodes (this one included,
 * is_self) into @out.
 * @cap: entries in @out (0 with @out NULL just counts).
 * @count: receives the number of nodes in the table, which may exceed @cap
 *         (then only @cap were copied; call again with more room).
 * Returns 0 or AX_EINVAL. Any thread.
 */
AX_API int ax_node_list_nodes(ax_node *node, struct ax_node_info *out, size_t cap, size_t *count);

/**
 * ax_node_list_endpoints() - copy the endpoints of every node in the table
 * (this one's included), or only those of @topic when it is not NULL.
 * @cap, @count: as for ax_node_list_nodes().
 * Returns 0 or AX_EINVAL. Any thread.
 */
AX_API int ax_node_list_endpoints(ax_node *node, const char *topic, struct ax_endpoint_info *out,
                                  size_t cap, size_t *count);

/* ---- graph events ---- */

enum ax_graph_event_kind {
    AX_EVENT_NODE_JOIN = 0,     /* a node was heard for the first time */
    AX_EVENT_NODE_CHANGE = 1,   /* its announced info changed */
    AX_EVENT_NODE_LEAVE = 2,    /* Bye, lease expired, process exited, link silent */
    AX_EVENT_ENDPOINT_JOIN = 3, /* a publisher or subscription appeared */
    AX_EVENT_ENDPOINT_CHANGE = 4,
    AX_EVENT_ENDPOINT_LEAVE = 5,
};

struct ax_graph_event {
    enum ax_graph_event_kind kind;
    struct ax_node_info node;         /* always set */
    struct ax_endpoint_info endpoint; /* for ENDPOINT_* */
    /* NODE_LEAVE: not heard for its lease, or its data link to us silent
     * for discovery.liveness (true); a Bye or, on this host, its process
     * seen to exit (false). */
    bool lease_expired;
    /* NODE_LEAVE: its process exited: on this host seen at once (a pidfd),
     * elsewhere from its data port refusing a reconnect. */
    bool exited;
};

/**
 * ax_graph_event_fn - called for each change of the table, on the node's
 * discovery thread, in the order the changes happened. @ev is valid during
 * the call only.
 */
typedef void (*ax_graph_event_fn)(ax_node *node, const struct ax_graph_event *ev, void *user);

/**
 * ax_node_set_graph_listener() - set (or, with @fn NULL, clear) the one
 * graph listener. @drop(@user), if not NULL, is called exactly once when the
 * listener is replaced, cleared, or the node is destroyed, after which @fn is
 * never called with @user again. Returns 0 or AX_EINVAL. Any thread.
 */
AX_API int ax_node_set_graph_listener(ax_node *node, ax_graph_event_fn fn, void *user,
                                      void (*drop)(void *user));

/**
 * ax_node_fetch_schema() - ask the node @node_id (from the table) for the
 * serialized FileDescriptorSet of @type_name, over a TOOL connection to it.
 * @fds, @len: receive a malloc'd copy; the caller frees it with free().
 * @timeout_ms: the whole exchange.
 *
 * With it, ax_type_from_fds() builds a type this program was not built with
 * (axon topic echo). Returns 0; AX_ENOTFOUND (no such node in the table, or
 * it does not know the type); AX_ETIMEDOUT; AX_ECONNREFUSED and other
 * connection errors; AX_EINVAL. Any thread but the node's own (it waits).
 */
AX_API int ax_node_fetch_schema(ax_node *node, uint64_t node_id, const char *type_name,
                                uint8_t **fds, size_t *len, int timeout_ms);

/* ---- discovery statistics ---- */

struct ax_discovery_stats {
    uint64_t tx_datagrams, tx_bytes;
    uint64_t rx_datagrams, rx_bytes;
    uint64_t rx_self;         /* our own datagrams looped back */
    uint64_t rx_bad_version;  /* dropped: another protocol version */
    uint64_t rx_other_domain; /* dropped: another domain */
    uint64_t rx_undecodable;  /* dropped: truncated or malformed */
    /* With a domain key (security.key_file): dropped for a missing or
     * wrong MAC, and as replays (a datagram seen before, or older than its
     * sender's window; the same datagram heard twice counts here too). */
    uint64_t rx_unauthenticated;
    uint64_t rx_replayed;
    uint64_t leases_expired;
    uint64_t state_requests_sent;
    uint64_t direct_answers;  /* joiners and askers answered by unicast */
    uint64_t exits_seen;      /* same-host peers dropped when their process exited */
    uint64_t links_silent;    /* peers dropped when their data link went silent */
    uint64_t links_refused;   /* ... when their data port refused us after a working link */
    uint64_t counter_answers; /* answers to tools' requests for live counters */
    /* Nodes in this node's host table, itself included (0: it has none,
     * and beats by multicast heartbeats; docs/discovery.md). */
    uint64_t host_table_nodes;
    uint64_t heartbeats_skipped; /* multicast heartbeats the host table made unneeded */
    uint64_t host_beats_sent;    /* network mode: HostBeats sent for the whole table */
    /* Bounds (docs/discovery.md, "Bounds"). Datagrams (and host-table
     * beats) from nodes not in the table, dropped because it held
     * discovery.max_nodes others: one per datagram, not per node. */
    uint64_t nodes_refused;
    /* Endpoints announced by a node beyond discovery.max_endpoints, not
     * stored: one per endpoint and datagram that listed it. */
    uint64_t endpoints_refused;
};

/** ax_node_discovery_stats() - copy the counters. Any thread. */
AX_API int ax_node_discovery_stats(ax_node *node, struct ax_discovery_stats *out);

/* Connections other nodes and tools opened to this node (subscribers,
 * schema requests), and what the limits of docs/security.md did to them. */
struct ax_connection_stats {
    uint64_t accepted_now;    /* open now */
    uint64_t refused;         /* closed at once: transport.max_links or max_links_per_host */
    uint64_t refused_host;    /* of those, for max_links_per_host */
    uint64_t idle_closed;     /* no subscription within transport.idle_timeout */
    uint64_t timed_out;       /* no HELLO in time, or a frame not whole within frame_timeout */
    uint64_t unauthenticated; /* with a domain key: the peer had none, or another; with
                                 TLS: its handshake failed */
    /* Refused by the access policy (security.policy_file): a subscription
     * or publisher a peer's identity may not have, or shared memory its
     * uid may not use; also this node's own endpoints it refused. */
    uint64_t policy_refused;
};

/**
 * ax_node_connection_stats() - copy the counters of accepted connections.
 * @node: the node.
 * @out: receives them.
 *
 * Any thread. Returns 0, or AX_EINVAL when @node or @out is NULL.
 */
AX_API int ax_node_connection_stats(ax_node *node, struct ax_connection_stats *out);

/* ---- scanning every domain ---- */

/**
 * ax_discovery_scan_fn - one node heard by ax_discovery_scan().
 * @domain: the domain its datagrams carry.
 * @node: what it announced (heard_age_ns: since its last datagram;
 *        generation, complete, is_self and the endpoint counts are not
 *        set except publishers/subscribers, counted from @eps).
 * @eps, @neps: its endpoints heard during the scan (every page that
 *        arrived; a node with many endpoints may be partly known).
 * Valid during the call only.
 */
typedef void (*ax_discovery_scan_fn)(uint32_t domain, const struct ax_node_info *node,
                                     const struct ax_endpoint_info *eps, size_t neps, void *user);

/**
 * ax_discovery_scan() - listen for nodes of every domain for a while,
 * without joining any: what `axon doctor` uses to say "that node is in
 * domain 3".
 * @cfg: configuration (mode, interface, group, port), or NULL for the
 *       defaults with environment overrides. node.domain is not used.
 * @duration_ns: how long to listen (e.g. 500 ms); the call returns after it.
 * @fn: called once per node heard, after the scan, in the order first heard
 *      (domain order within one datagram burst is not guaranteed).
 *
 * It binds the multicast port of every domain (discovery.port + 10 *
 * domain, 0..232; SO_REUSEPORT, so the nodes there keep theirs), joins the
 * group on 127.0.0.1 (local and peers modes) or on discovery.interface
 * (network mode), and sends one StateRequest to each domain's group so
 * that the nodes there announce their state at once rather than at their
 * next refresh (a node answers with one round of announcements, as it
 * does for every new node). It is not a node: nobody adds it to a table.
 * Peers-mode nodes are heard only through host-local multicast, i.e. on
 * this host. Domains whose port cannot be bound are skipped (logged at
 * debug level).
 *
 * Returns 0; AX_EINVAL (NULL @fn, @duration_ns < 0, bad @cfg);
 * AX_ENOTSUP (discovery.mode off); AX_ENOTFOUND (network mode:
 * discovery.interface not found); AX_EADDRINUSE / AX_EADDRNOTAVAIL and
 * other mapped OS errors when no domain's port can be used; AX_ENOMEM.
 * Any thread; blocks for @duration_ns.
 */
AX_API int ax_discovery_scan(const struct ax_config *cfg, int64_t duration_ns,
                             ax_discovery_scan_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif /* AXON_NODE_H */
