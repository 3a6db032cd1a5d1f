/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: the node object, its local endpoint registry and the discovery
 * module's interface.
 *
 * Threads: a node has nloops loops. loops[0] runs discovery (UDP sockets,
 * heartbeat/refresh timers, one lease timer per peer) and accepts data
 * connections. node->lock guards the discovery table, the local endpoint
 * registry and the graph listener; it is held only to copy or update them,
 * never while calling user code.
 */
#ifndef AX__NODE_H
#define AX__NODE_H

#include <pthread.h>
#include <stdatomic.h>

#include "axon/loop.h"
#include "axon/node.h"
#include "core/ax__endpoint.h"
#include "core/ax__keyring.h"
#include "core/ax__policy.h"
#include "transport/tls/ax__tls.h"

struct ax__disc;
struct ax__shard;
struct ax__pubsub_ops;

struct ax_node {
    struct ax_config cfg;
    uint64_t id;
    uint64_t incarnation;
    char name[AX_NODE_NAME_MAX];
    char host[64];
    uint32_t pid;
    int64_t start_real_ns;

    unsigned nloops;
    ax_loop **loops;
    ax_loop_thread **threads; /* NULL when node.threads = 0 */

    struct ax__disc *disc;
    struct ax__shard **shards;           /* one per loop (core/shard.c) */
    const struct ax__pubsub_ops *ps_ops; /* what shards call in pub/sub (core/node.c) */
    char tcp_endpoint[64];               /* shard 0's listener, announced: "ip:port" */
    char host_id[40];                    /* the kernel's boot id ("" unknown) */
    bool shm;                            /* every shard listens for shared-memory links */
    struct ax__keyring keyring;          /* security.key_file; read-only after creation */
    ax__tls_ctx *tls;                    /* security.tls (NULL: off); read-only likewise */
    ax__policy *policy;                  /* security.policy_file (NULL: none); likewise */

    /* Time (core/node_clock.c): the simulated now, and every timer. */
    _Atomic int64_t sim_now;
    pthread_mutex_t clock_lock; /* guards timers */
    struct ax_node_timer *timers;
    ax_sub *clock_sub; /* node.use_sim_time: the clock topic */
    struct ax__params *params; /* core/param.c; NULL until one is declared */

    pthread_mutex_t lock;
    struct ax__local_ep **eps; /* sorted by id */
    size_t neps, eps_cap;
    uint32_t next_ep_id;
    uint64_t local_gen; /* bumped on every endpoint change */

    ax_graph_event_fn listener_fn;
    void *listener_user;
    void (*listener_drop)(void *);

    /* Connections accepted (core/pub_link.c); read by ax_node_connection_stats(). */
    atomic_uint links_in;
    atomic_uint_fast64_t links_refused, links_refused_host, links_idle_closed, links_timed_out;
    atomic_uint_fast64_t links_unauthenticated;
    atomic_uint_fast64_t policy_refused; /* ax__node_policy_refused() */

    atomic_bool destroy_requested;
    atomic_bool shutdown_requested;
    bool destroying;
};

/* The node whose callback this thread is running, if any (core/shard.c). */
extern __thread ax_node *ax__current_node;

/* ---- time (core/node_clock.c) ---- */

/* Subscribe to the clock topic with node.use_sim_time (at the end of
 * ax_node_new(); clock_lock is initialised with the node). 0 or an error,
 * logged. */
int ax__node_clock_start(ax_node *node);
/* Loop 0's thread, while destroying: stop the wall timers. */
void ax__node_clock_close(ax_node *node);
/* After the loops are freed: free the timers left. */
void ax__node_clock_free(ax_node *node);

/* ---- parameters (core/param.c) ---- */

/* Free the node's parameters (its service went with its shards). */
void ax__params_free(ax_node *node);

/* ---- security (core/node_security.c) ---- */

/* Load the domain key, make the TLS context and read the access policy
 * that node->cfg names (node->name set). 0, or an AX_E* code with the
 * reason logged (nothing left to free). The creating thread only. */
int ax__node_security_init(ax_node *node);
void ax__node_security_fini(ax_node *node);

/* Whether the access policy lets node @identity do @act on @name (always,
 * without a policy); a refusal is counted and logged (rate-limited) with
 * @what (who asked, in words), and @why receives the reason for the peer.
 * Any thread. */
bool ax__node_policy_allows(ax_node *node, const char *identity, enum ax__policy_action act,
                            const char *name, char *why, size_t why_len);

/* Whether a local peer with these credentials and @identity may share
 * memory with this node (always, without a policy); counted and logged
 * like the above. */
bool ax__node_policy_allows_shm(ax_node *node, const char *identity, uint32_t uid, uint32_t gid,
                                char *why, size_t why_len);

/* ---- the node's endpoints and its view of the table (core/node_graph.c) ---- */

/* Local endpoints (any thread). add assigns ep->id and announces at once. */
int ax__node_add_endpoint(ax_node *node, struct ax__local_ep *ep);
void ax__node_remove_endpoint(ax_node *node, struct ax__local_ep *ep);

/* Snapshots of the table into malloc'd arrays the caller frees (growing
 * them until everything fits). Return 0 or AX_ENOMEM; *n is the count. */
int ax__node_snapshot_endpoints(ax_node *node, const char *topic, struct ax_endpoint_info **out,
                                size_t *n);
int ax__node_snapshot_nodes(ax_node *node, struct ax_node_info **out, size_t *n);

/* How discovery hands its graph events up (core/node.c gives it one):
 * called on loops[0], without node->lock. */
typedef void (*ax__graph_emit_fn)(ax_node *node, const struct ax_graph_event *evs, size_t n);

/* ---- discovery (core/disc.c) ---- */

/* Create the sockets and timers on node->loops[0] (called before the
 * node's threads start) and announce ourselves; table changes go to
 * @emit. */
int ax__disc_start(ax_node *node, ax__graph_emit_fn emit, struct ax__disc **out);
/* Say Bye, close everything; on loops[0]'s thread. Memory goes in
 * ax__disc_free() once the loop has run its closes. */
void ax__disc_stop(struct ax__disc *d);
void ax__disc_free(struct ax__disc *d);
/* The local endpoint set changed (any thread): announce soon. */
void ax__disc_local_changed(struct ax__disc *d);
/* A data link says node @node_id (@incarnation) is gone: silent past
 * discovery.liveness (core/sub_live.c), or, when @refused, its data port
 * refused us after a link that worked (its listener, which lives as long
 * as the node, is gone: core/sub_link.c). Drop the node. Any thread; NULL
 * @d (discovery off) is a no-op. */
void ax__disc_peer_gone(struct ax__disc *d, uint64_t node_id, uint64_t incarnation, bool refused);

/* Table snapshots (any thread; takes node->lock). */
int ax__disc_list_nodes(struct ax__disc *d, struct ax_node_info *out, size_t cap, size_t *count);
int ax__disc_list_endpoints(struct ax__disc *d, const char *topic, struct ax_endpoint_info *out,
                            size_t cap, size_t *count);
void ax__disc_stats(struct ax__disc *d, struct ax_discovery_stats *out);

#endif /* AX__NODE_H */
