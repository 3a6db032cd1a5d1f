/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: discovery internals shared by core/disc.c (sockets, protocol,
 * timers) and core/disc_table.c (the table of peers and their endpoints).
 * Everything here runs on the node's loops[0], except where noted; the
 * table itself is guarded by node->lock.
 */
#ifndef AX__DISC_H
#define AX__DISC_H

#include <netinet/in.h>

#include "control.pb.h"
#include "core/ax__node.h"

#define AX__DGRAM_MAX           1400u /* announcement datagrams fit an Ethernet MTU */
/* Kept free in every datagram for the fields the security issue adds: a
 * replay counter (tag + varint, 11 bytes) and a MAC (tag, length, 32
 * bytes); msgs/control.proto reserves their numbers. */
#define AX__DGRAM_SECURITY_ROOM 48u
/* Receive buffer asked for discovery sockets (capped by rmem_max). */
#define AX__DISC_RCVBUF         (4 << 20)
#define AX__UNICAST_PORTS       8u /* peers mode: unicast ports per domain and host */
#define AX__DOMAIN_PORT_GAP     10u
#define AX__PAGES_MAX           4096u /* announcement pages per generation */
#define AX__EXIT_WATCH_MAX      256u  /* same-host peers whose process is watched */
#define AX__HOST_SLOTS          256   /* nodes in one host table (disc_host.c) */

/* Bounds against any peer (docs/discovery.md, "Bounds"; the others are
 * configured: discovery.max_nodes, max_endpoints, max_lease). */
#define AX__LEASE_MIN          (10 * AX_NS_PER_MS) /* shorter announced leases are raised */
#define AX__BOUND_LOG_INTERVAL (5 * AX_NS_PER_S)   /* refusals are logged this seldom */

struct ax__peer_ep {
    struct ax_endpoint_info info;
    uint64_t seen_gen; /* newest generation whose pages listed it */
};

/* A remote node. */
struct ax__peer {
    struct ax__disc *disc;
    struct ax_node_info info; /* uptime/heard_age filled in at snapshot time */
    int64_t start_real_ns;
    int64_t last_heard; /* CLOCK_MONOTONIC */
    struct sockaddr_in from;
    bool unicast_known;
    struct sockaddr_in unicast; /* peers mode: its discovery unicast socket */

    uint64_t gen_committed; /* newest generation received completely */
    bool has_committed;
    uint64_t gen_pending; /* generation being assembled */
    uint32_t pages;
    uint8_t *page_seen; /* pages entries */

    struct ax__peer_ep *eps;
    size_t neps, eps_cap; /* neps <= eps_cap <= discovery.max_endpoints */
    bool cut;             /* endpoints of generation cut_gen were refused */
    uint64_t cut_gen;

    ax_timer lease;
    int64_t last_request;              /* rate limit of our StateRequests to it */
    struct ax__exit_watch *exit_watch; /* same host: its process (disc_watch.c) */
    struct ax__seq_window replay;      /* with a key: its datagram counters seen */
};

/* With a key: what is remembered of a peer that left, so that its old
 * datagrams replayed later do not bring it back (a ring, the oldest
 * forgotten first). */
struct ax__gone {
    uint64_t id, incarnation;
    uint64_t seq; /* the newest datagram counter seen from it */
    bool final;   /* it said Bye or its process ended: nothing more can come */
};
#define AX__GONE_MAX 256

/* Why a peer left the table. */
enum ax__left {
    AX__LEFT_BYE,     /* it said so (a Bye) */
    AX__LEFT_LEASE,   /* not heard for its lease */
    AX__LEFT_EXITED,  /* same host: its process exited (disc_watch.c) */
    AX__LEFT_SILENT,  /* a data link from it went silent (discovery.liveness) */
    AX__LEFT_REFUSED, /* its data port refused us after a link that worked */
};

/* Collected events, dispatched after node->lock is released. */
struct ax__events {
    struct ax_graph_event *ev;
    size_t n, cap;
};

struct ax__disc {
    ax_node *node;
    ax_loop *loop;
    ax__graph_emit_fn emit; /* table changes go up through this (core/node.c) */
    ax_timer_cb lease_cb;   /* a peer's lease expired (disc.c; the table arms it) */
    /* Peer @id (@incarnation) is gone for @why (disc.c; disc_watch.c calls
     * it when a watched process exits). On loops[0], without the lock. */
    void (*gone_cb)(struct ax__disc *d, uint64_t id, uint64_t incarnation, int why);
    enum ax_discovery_mode mode;
    uint16_t group_port;

    bool mc_on; /* host-local or network multicast */
    ax_io mc_rx;
    int mc_tx_fd;
    /* The sender socket, read too: others answer a node that joins or
     * asks by unicast to the address its datagrams came from (disc.c,
     * "direct answers"). */
    ax_io mc_reply;
    bool rx_reply; /* the datagram being handled came to mc_reply */
    struct sockaddr_in group;

    bool uc_on; /* peers mode unicast socket */
    ax_io uc;
    uint16_t uc_port;
    struct sockaddr_in *targets; /* unicast targets: configured peers (spread over the ports) */
    size_t ntargets;

    char unicast_str[64];
    ax_timer hb_timer, refresh_timer, soon_timer, counters_timer;
    int64_t full_tat; /* rate limit of full rounds: see ax__disc_schedule_full */
    uint64_t seq;
    uint64_t rng; /* jitter of the periods */
    bool stopped;
    uint64_t pid_ns, proc_start; /* ours, announced (disc_watch.c) */
    bool no_pidfd;               /* pidfd_open unavailable: leases only */
    unsigned nwatch;             /* processes watched (disc_watch.c) */
    struct ax__host *host;       /* the host table, or NULL (disc_host.c) */
    int64_t outsider_until;      /* a same-host node outside it was heard */

    /* Page composition of our endpoint set for `composed_gen`. */
    uint64_t composed_gen;
    axon_ctl_Endpoint *snap; /* the endpoints at composed_gen, sorted by id */
    struct ax__ep_counters **snap_ctr;
    size_t nsnap, snap_cap;
    uint32_t *page_start; /* npages + 1 offsets into snap */
    uint32_t npages;

    /* The table (under node->lock). */
    struct ax__peer **peers;
    size_t npeers, peers_cap;           /* npeers <= peers_cap <= discovery.max_nodes */
    struct ax__gone gone[AX__GONE_MAX]; /* with a key: peers that left (ax__table_fresh) */
    unsigned gone_next;
    size_t table_eps;           /* endpoints of all peers (discovery.max_table_endpoints) */
    int64_t nodes_log, eps_log; /* refusals last logged (AX__BOUND_LOG_INTERVAL) */

    struct { /* StateRequests to nodes we do not know yet, rate-limited */
        uint64_t id;
        int64_t at;
    } unknown_req[16];

    struct { /* direct answers sent lately, one per asker per interval */
        struct sockaddr_in to;
        int64_t at;
        bool counters;
    } answered[32];
    unsigned answered_next;

    struct ax_discovery_stats stats; /* under node->lock */

    axon_ctl_Discovery rx, tx; /* large (nanopb static sizes): kept here, not on the stack */
    uint8_t rxbuf[65536];
    uint8_t txbuf[AX__DGRAM_MAX + 256];
};

/* core/disc_compose.c: building d->tx (node->lock held) */
/* A datagram's header: the next sequence number, our identity. */
void ax__disc_begin(struct ax__disc *d);
/* Cut the endpoint set into pages, if it changed since the last time. 0 or
 * AX_ENOMEM. */
int ax__disc_compose(struct ax__disc *d);
/* Page @page of the composed set, with live counters, in d->tx. */
void ax__disc_fill_page(struct ax__disc *d, uint32_t page, bool counters);

/* core/disc_table.c (all with node->lock held, on loops[0]) */
struct ax__peer *ax__table_find(struct ax__disc *d, uint64_t id);
/* Whether node @id is in the table or there is room for it (fewer than
 * discovery.max_nodes others); if not, the refusal is counted and logged
 * (at most every AX__BOUND_LOG_INTERVAL), and nothing may be stored or
 * sent for it. */
bool ax__table_admits(struct ax__disc *d, uint64_t id);
/* With a key: whether @m from @p (NULL: not in the table) is no replay nor
 * duplicate; a datagram of a peer in the table is recorded in its window. */
bool ax__table_fresh(struct ax__disc *d, struct ax__peer *p, const axon_ctl_Discovery *m);
/* Apply one Announce; returns whether the sender is new to us (then it
 * needs our full state soon: disc.c schedules it). */
bool ax__table_apply_announce(struct ax__disc *d, const axon_ctl_Discovery *m,
                              const struct sockaddr_in *from, bool via_unicast,
                              struct ax__events *evs);
void ax__table_touch(struct ax__disc *d, struct ax__peer *p);
void ax__table_remove(struct ax__disc *d, struct ax__peer *p, enum ax__left why,
                      struct ax__events *evs);
void ax__table_free_all(struct ax__disc *d);
void ax__table_self_info(struct ax__disc *d, struct ax_node_info *out);
void ax__events_push(struct ax__events *evs, const struct ax_graph_event *ev);
/* Wire to table form (no lock needed; also used by core/disc_scan.c).
 * The node info is filled except id, uptime, heard age, generation and
 * endpoint counts. */
void ax__disc_node_info_from_wire(struct ax_node_info *out, const axon_ctl_Discovery *m,
                                  const axon_ctl_NodeInfo *ni, const struct sockaddr_in *from);
void ax__disc_endpoint_from_wire(struct ax_endpoint_info *e, const axon_ctl_Endpoint *w,
                                 uint64_t node_id, const char *node_name);
void ax__events_free(struct ax__events *evs);

/* core/disc_host.c (loops[0]) */
struct ax__host_peer {
    uint64_t id, incarnation, generation;
    uint32_t pages;
    int64_t beat_ns; /* its last beat, CLOCK_MONOTONIC */
};
typedef void (*ax__host_visit_fn)(struct ax__disc *d, const struct ax__host_peer *p);
/* Join this host's table for our domain and user, or create it; on any
 * failure d->host stays NULL (heartbeats go by multicast as before). */
void ax__host_open(struct ax__disc *d);
void ax__host_close(struct ax__disc *d);
/* Beat (our slot: now, @generation, @pages) and call @fn for every other
 * live slot. node->lock held. */
void ax__host_beat(struct ax__disc *d, uint64_t generation, uint32_t pages, ax__host_visit_fn fn);
/* Keep the table served: take the socket name over if its owner is gone,
 * move to the table a newcomer made meanwhile. System calls: without
 * node->lock. */
void ax__host_keep(struct ax__disc *d);
/* Whether node @id has a slot in our table. */
bool ax__host_has(struct ax__disc *d, uint64_t id);
/* Network mode: whether we own the table (and send its HostBeats), and
 * whether a living owner sends them for us (then we send no heartbeat). */
bool ax__host_is_owner(const struct ax__disc *d);
bool ax__host_covered(struct ax__disc *d);
/* The nodes of our table beating within our lease (ourselves included),
 * from slot @first on: at most @cap into @out; *@next is where to go on.
 * node->lock held. */
size_t ax__host_members(struct ax__disc *d, size_t first, struct ax__host_peer *out, size_t cap,
                        size_t *next);

/* core/disc_watch.c (loops[0]) */
/* Field 22 of the /proc/PID/stat at @path (start time); 0 if unreadable. */
uint64_t ax__disc_proc_start(const char *path);
/* This process's pid namespace and start time (0 when unknown). */
void ax__disc_self_process(uint64_t *pid_ns, uint64_t *proc_start);
/* Watch @p's process if it runs on this kernel in our pid namespace, as
 * its announcement says (@pid_ns, @proc_start). node->lock held. */
void ax__disc_watch(struct ax__disc *d, struct ax__peer *p, uint64_t pid_ns, uint64_t proc_start);
void ax__disc_unwatch(struct ax__peer *p);

/* core/disc_socket.c (loops[0]): the sockets of local and network mode
 * (a multicast receiver and a sender, which is read too) and of peers mode
 * (a unicast socket on the first free port of the domain, and its
 * targets), registered with @rx_cb. 0 or an AX_E* code, logged. */
int ax__disc_open_multicast(struct ax__disc *d, struct in_addr ifaddr, bool local, ax_io_cb rx_cb);
int ax__disc_open_unicast(struct ax__disc *d, ax_io_cb rx_cb);

/* core/disc.c */
void ax__disc_request_state(struct ax__disc *d, uint64_t target);
/* One datagram from @from, as read from a socket: decoded (every field
 * bounded by nanopb's static sizes), checked, applied to the table, and
 * its events emitted. On loops[0], without node->lock; the fuzz target
 * tests/fuzz/fuzz_disc.c calls it directly. */
void ax__disc_receive(struct ax__disc *d, const uint8_t *data, size_t len,
                      const struct sockaddr_in *from, bool via_unicast);
/* An interface name or IPv4 address ("" = INADDR_ANY) as an address. */
int ax__disc_resolve_interface(const char *name, struct in_addr *out);
void ax__disc_schedule_full(struct ax__disc *d);

#endif /* AX__DISC_H */
