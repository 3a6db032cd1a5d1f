/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: publish/subscribe internals.
 *
 * A node has one shard per loop. A topic lives on shard hash(topic) %
 * nloops: its publishers, subscriptions and their links are served by that
 * loop's thread only, so a topic's data path takes no lock. Each shard has
 * its own listener; a publisher announces its shard's port, so links for it
 * arrive on the right thread.
 *
 * Subscriber side: an rpub per remote publisher of a topic the node
 * subscribes to, with its link, reconnect timer and last sequence number.
 * Publisher side: a psub per link from a subscribing node.
 *
 * The files, each calling only those listed before it (no circles):
 *   topic.c     topics: their members, iteration, lifetime
 *   deliver.c   handing a message to local subscriptions, topic-wide events
 *   shard.c     shards: threads, the publish queue, listeners, and the
 *               dispatch of discovery events and teardown to pub/sub
 *               through struct ax__pubsub_ops (set by core/node.c)
 *   pub_payload.c  publishers' payloads: the shared-memory pool, loans
 *   pipeline.c     lossless pipelines: an input paused while its output is full
 *   pub_block.c    publishers' queues: their figures, waiting for room
 *   pub.c       publishers: the API, delivery, history, drops
 *   pub_link.c  the publisher side of links: SUBSCRIBE, ACK, schemas
 *   sub_seq.c   sequence continuity: gaps across links, returns, restarts
 *   sub_live.c  silent links: a publisher whose keep-alives stop is dead
 *   msg_retain.c  messages kept past their callback (ax_msg_retain)
 *   sub_queue.c a subscription's own queue, when its link serves a stricter one
 *   sub_link.c  the subscriber side: rpubs, their state machine
 *   sub.c       subscriptions: the API and matching
 * Services (core/ax__service.h) ride the same shards and listeners:
 *   service_defer.c  deferred replies, answered from any thread
 *   service.c   servers: the API, BIND and REQUEST on accepted links
 *               (pub_link.c hands it those frames)
 *   client.c    clients: calls, their link to a server, timeouts
 */
#ifndef AX__PUBSUB_H
#define AX__PUBSUB_H

#include "axon/pubsub.h"
#include "base/ax__list.h"
#include "base/ax__mpsc.h"
#include "core/ax__node.h"
#include "transport/ax__buf.h"
#include "transport/ax__link.h"

struct ax__topic;
struct ax__shard;

/* What shards call in pub/sub, without calling those files (core/node.c
 * fills it). All on the shard's thread. */
struct ax__pubsub_ops {
    /* A data link arrived on the shard's listener: bind it (0) or refuse. */
    int (*accept)(struct ax__shard *s, ax__link *l);
    /* A remote endpoint of a topic on this shard joined, changed or left. */
    void (*remote_pub)(struct ax__shard *s, const struct ax_graph_event *ev);
    void (*remote_sub)(struct ax__shard *s, const struct ax_graph_event *ev);
    /* A publish another thread queued, taken off the shard's queue. */
    void (*deliver)(struct ax_pub *pub, ax__buf *buf, int64_t ts);
    /* Teardown of the node: free what is left, close every link. */
    void (*free_sub)(struct ax_sub *sub);
    void (*free_pub)(struct ax_pub *pub);
    void (*close_rpubs)(struct ax__topic *t);
    void (*close_psubs)(struct ax__shard *s);
    /* Services: a remote (or local) server joined, changed or left; and
     * teardown (free the shard's servers, and its clients). */
    void (*remote_service)(struct ax__shard *s, const struct ax_graph_event *ev);
    void (*close_services)(struct ax__shard *s);
    void (*close_clients)(struct ax__shard *s);
};

struct ax__shard {
    ax_node *node;
    ax_loop *loop;
    unsigned index;
    ax__listener *listener;
    ax__listener *shm_listener; /* same-host links (NULL: shared memory off or failed) */
    uint16_t port;

    struct ax__topic **topics;
    size_t ntopics, topics_cap;

    struct ax__mpsc queue; /* publishes from other threads */
    char pad_[64];         /* publishing threads write what follows, the shard the tail */
    atomic_bool wake_pending;
    atomic_bool reclaim_posted; /* a pool ran dry: core/pub_payload.c */
    atomic_uint backlog; /* messages in the queue (the shard takes its own off by the batch) */
    atomic_uint_fast64_t backlog_bytes; /* their payload bytes, taken off likewise */
    unsigned backlog_max;       /* transport.queue_frames: beyond, publish() says AX_EAGAIN */
    uint64_t backlog_bytes_max; /* transport.queue_bytes: likewise */

    struct ax__qnode psubs;             /* every publisher-side link */
    struct ax__qnode services, clients; /* core/service.c, core/client.c */
    /* Subscriptions with messages in their own queue (sub_queue.c), and
     * whether its task is posted. While it runs (draining), a subscription
     * that goes leaves a NULL, compacted at its end. */
    struct ax_sub **queued;
    size_t nqueued, queued_cap;
    bool queue_posted, draining;
    bool closing;
    /* Keep-alives of links (pub_link.c sends them, sub_link.c watches for
     * them); shard.c stops both timers when the shard closes. */
    ax_timer ka_timer, silence_timer;
    bool ka_on, silence_on;
    int64_t ka_period, silence_last;
};

/* A topic's arrays may be iterated while callbacks free publishers or
 * subscriptions: while `iterating` > 0 removal leaves a NULL (skipped by
 * every loop) and ax__topic_iter_end() compacts. */
struct ax__topic {
    struct ax__shard *shard;
    char name[AX_TOPIC_MAX];
    unsigned iterating;
    bool holes;
    bool input_paused; /* its links are not read: a lossless pipeline's output is full */
    struct ax_pub **pubs;
    size_t npubs, pubs_cap;
    struct ax_sub **subs;
    size_t nsubs, subs_cap;
    struct ax__rpub **rpubs;
    size_t nrpubs, rpubs_cap;
    /* Publishers whose rpub went, and the last number each delivered
     * (sub_seq.c): a return or a restart is checked against it. */
    struct ax__seq_memory *seq_mem;
    size_t nseq_mem, seq_mem_cap;
};

struct ax__seq_memory {
    char node_name[AX_NODE_NAME_MAX];
    uint32_t endpoint_id;
    uint64_t node_id, incarnation;
    uint64_t last_seq;
};

struct ax_pub {
    ax_node *node;
    struct ax__shard *shard;
    struct ax__topic *topic; /* NULL until attached on the shard */
    struct ax__local_ep ep;
    struct ax__ep_counters ctr;
    const ProtobufCMessageDescriptor *desc; /* NULL for raw bytes */
    const ax_type *type;                    /* NULL for raw bytes; serves its schema */
    atomic_ullong seq;
    atomic_bool closed;
    struct ax__psub **psubs;
    size_t npsubs, psubs_cap;
    ax__buf **history; /* transient-local: the last qos.history messages */
    uint32_t hist_len, hist_next;
    uint64_t pending_drops[AX_DROP_REASON_COUNT_]; /* for the next DROPPED event */
    ax_timer drop_timer;
    struct ax__event_sink ev;
    void (*drop)(void *user);
    /* Payloads (pub_payload.c): the shared-memory pool, when the node
     * offers shared memory, and how many links read it in place. */
    ax__pool *pool;
    atomic_uint shm_links;
    atomic_ullong copied; /* published as copies: no chunk to be had */
    /* Room at lossless subscribers (pub_block.c). The shard publishes a
     * horizon, publishing threads admit while their count is below it. */
    atomic_uint nblock;                         /* links whose policy is block */
    atomic_llong horizon_frames, horizon_bytes; /* shard: admitted ones delivered + room */
    /* Publishing threads read the lines above with every publish (pool,
     * nblock, the horizon), which change seldom; the shard writes what
     * follows with every delivery. Apart, so that neither line moves
     * between the two cores per message. */
    char pad_a_[64];
    int64_t room_f, room_b;              /* shard only: the least room at block links */
    int64_t deliv_f, deliv_b;            /* shard only: admitted publishes delivered */
    int64_t seen_hf, seen_hb;            /* shard only: the horizon last published */
    unsigned busy;                       /* inside ax__pub_deliver(): freeing waits for its end */
    bool free_pending;                   /* freed meanwhile: done when busy drops to 0 */
    char pad_b_[64];                     /* what publishing threads write, apart */
    atomic_llong admitted_f, admitted_b; /* publishing threads: publishes admitted */
    char pad_c_[64];
    atomic_uint waiters;
    pthread_mutex_t wait_mu;
    pthread_cond_t wait_cv;
    atomic_bool want_writable; /* a publish on a loop thread was refused: say when room is back */
    atomic_ullong block_timeouts;
    /* Lossless pipelines (pipeline.c): inputs paused until room comes. */
    struct ax__paused *paused; /* under wait_mu */
    size_t npaused;
    atomic_bool any_paused;
    atomic_ullong pipeline_pauses;
    /* Direct publishes (pub.c, publish_direct()), by publishing threads. */
    atomic_llong last_publish; /* when one last published (real ns) */
    atomic_ullong direct;      /* publishes delivered by their thread */
};

/* A subscription's own queue (sub_queue.c): messages from a link whose QoS
 * is stricter than its own (another subscription of the node asked for
 * more), bounded and dropped by its own policy. */
struct ax__sub_queue {
    struct ax_msg **ring; /* retained messages, oldest at head */
    uint32_t cap, head, count;
    uint64_t bytes;
    bool listed; /* in the shard's queued list */
    uint64_t pending_drops[AX_DROP_REASON_COUNT_];
    ax_timer drop_timer;
};

struct ax_sub {
    ax_node *node;
    struct ax__shard *shard;
    struct ax__topic *topic;
    struct ax__local_ep ep;
    struct ax__ep_counters ctr;
    const ProtobufCMessageDescriptor *desc;
    ax_sub_cb cb;
    void *user;
    struct ax__event_sink ev;
    void (*drop)(void *user);
    ax_timer deadline;
    atomic_bool closed;
    bool attached;
    unsigned busy;     /* inside its attach or a queued delivery: freeing waits */
    bool free_pending; /* freed meanwhile: done when busy drops to 0 */
    struct ax__sub_queue q;
    atomic_ullong wait_seen; /* ctr.messages when ax_sub_wait() last looked */
};

/* How long a link whose publisher left in order may take to deliver what
 * was on the way (the publisher's own flush is bounded the same). */
#define AX__RPUB_DRAIN_NS (2 * AX_NS_PER_S)

enum ax__rpub_state {
    AX__RPUB_IDLE,       /* waiting to connect (back-off) */
    AX__RPUB_CONNECTING, /* the link connects and handshakes */
    AX__RPUB_SUBSCRIBE,  /* SUBSCRIBE sent, waiting for its ACK */
    AX__RPUB_ACTIVE,     /* data flows */
};

/* A remote publisher this node subscribes to, and the link to it. */
struct ax__rpub {
    struct ax__topic *topic;
    struct ax_endpoint_info pub; /* the remote publisher as discovered */
    uint64_t incarnation;
    char address[AX__LINK_ADDR_MAX]; /* where its TCP link goes */
    /* The transport (sub_link.c, "choosing the transport"). */
    bool peer_shm;                 /* its node offers shared memory */
    char peer_host_id[40];         /* its node's boot id */
    bool on_shm;                   /* the link now is a shared-memory one */
    bool link_up;                  /* it reached on_ready */
    enum ax_shm_reason why;        /* why the link now is not shared memory */
    enum ax_shm_reason shm_broken; /* shared memory failed with it: 0, or why */
    enum ax__rpub_state state;
    ax__link *link; /* NULL while idle */
    ax_timer retry;
    int64_t backoff_ns;
    /* Sequence continuity (sub_seq.c): once seq_known, every number up to
     * last_seq was delivered or reported missing. first_seq: where the
     * first ACK said the live data starts. */
    uint64_t last_seq;
    uint64_t first_seq;
    bool seq_known;
    bool matched;
    bool removed;  /* the publisher left; free when the link is gone */
    bool draining; /* it left in order: the link delivers until it closes */
    /* History replays (sub_link.c, "history replays"). A transient-local
     * subscription that joins after this rpub's first SUBSCRIBE waits here,
     * taking no live data, until the replay that serves it is over. */
    struct ax__replay *replay;
    size_t nreplay, replay_cap;
    bool resubscribing;     /* a SUBSCRIBE sent on the ACTIVE link awaits its ACK */
    uint64_t replay_end;    /* frames numbered below this are history (0: none) */
    uint64_t replay_floor;  /* history above this also goes to the others */
    struct ax_qos sent_qos; /* what the last SUBSCRIBE asked for */
    /* Liveness (sub_link.c, "silent links"): frames received, as counted
     * at the last scan, and how many scans in a row saw none. */
    bool keepalive; /* the publisher promised keep-alives */
    uint64_t rx_frames, seen_frames;
    unsigned silent_scans;
};

enum ax__replay_state {
    AX__REPLAY_WAITING,   /* not yet in a SUBSCRIBE */
    AX__REPLAY_ASKED,     /* in a SUBSCRIBE whose ACK has not come */
    AX__REPLAY_REPLAYING, /* its ACK came: history frames are for it */
};

struct ax__replay {
    struct ax_sub *sub;
    enum ax__replay_state state;
};

/* Publisher side: one link from a subscribing node. */
struct ax__psub {
    struct ax__shard *shard;
    struct ax_pub *pub; /* NULL until its SUBSCRIBE arrived */
    /* Or a service client's link, once its BIND passed (core/service.c). */
    struct ax_service *svc;
    struct ax__qnode svc_node; /* in svc->links */
    bool svc_paused;           /* its calls are not read until replies drain */
    uint32_t svc_deferred;     /* its calls deferred by the handler, not answered yet */
    ax__link *link;
    bool policy_refused; /* closed by the access policy (counted there) */
    bool ready;          /* its handshake completed */
    uint64_t node_id;
    char node_name[AX_NODE_NAME_MAX];
    struct ax_qos qos;
    uint64_t queue_bytes; /* its write queue's byte bound */
    bool block;           /* its policy is block: counted in pub->nblock */
    int64_t keepalive_ns; /* asked for by its SUBSCRIBE; 0: none */
    uint64_t ka_frames;   /* frames out at the last keep-alive scan */
    char host[48];        /* a TCP peer's IP address ("" for a Unix socket) */
    ax_timer idle;        /* transport.idle_timeout: closed if it has not subscribed */
    bool idle_closed;     /* closed by it */
    struct ax__qnode node;
};

/* ---- topic.c ---- */
/* A usable topic or service name: 1..AX_TOPIC_MAX-1 bytes, no blanks or
 * control characters. */
bool ax__topic_name_ok(const char *name);
struct ax__topic *ax__topic_get(struct ax__shard *s, const char *name, bool create);
void ax__topic_maybe_free(struct ax__topic *t);
void ax__topic_iter_begin(struct ax__topic *t);
void ax__topic_iter_end(struct ax__topic *t); /* may free the topic */
/* Append (0, or AX_ENOMEM with nothing changed). */
int ax__topic_add_pub(struct ax__topic *t, struct ax_pub *pub);
int ax__topic_add_sub(struct ax__topic *t, struct ax_sub *sub);
int ax__topic_add_rpub(struct ax__topic *t, struct ax__rpub *r);
void ax__topic_remove_pub(struct ax__topic *t, struct ax_pub *pub);
void ax__topic_remove_sub(struct ax__topic *t, struct ax_sub *sub);
void ax__topic_remove_rpub(struct ax__topic *t, struct ax__rpub *r); /* may free the topic */
/* The publisher with endpoint id @id on any topic of @s, or NULL. */
struct ax_pub *ax__topic_find_pub(struct ax__shard *s, uint32_t id);

/* ---- pipeline.c (called by pub.c, pub_block.c; deliver.c sets the mark) ---- */
/* The topic whose lossless (overload block) subscription's callback runs on
 * this thread, else NULL. */
extern _Thread_local struct ax__topic *ax__lossless_input;
/* A publish refused for want of room, inside such a callback: pause that
 * input until @pub has room, and let the publish through (true). False
 * outside such a callback. On the input topic's thread. */
bool ax__pipeline_hold(struct ax_pub *pub);
/* @pub has room again (or goes): resume the inputs it paused. Any thread. */
void ax__pipeline_resume(struct ax_pub *pub);

/* ---- deliver.c ---- */
/* Hand @m to one subscription (lifespan, counters, deadline, callback).
 * Nothing touches @sub after its callback: it may free it. */
void ax__deliver_to(struct ax_sub *sub, struct ax_msg *m);
/* A local publisher's message to the topic's subscriptions of its type. */
void ax__sub_deliver_local(struct ax__topic *t, const struct ax_pub *pub, ax__buf *buf,
                           uint64_t seq, int64_t ts);
/* @ev to every subscription of @t whose type matches @hash (NULL: all). */
void ax__topic_emit(struct ax__topic *t, const uint8_t *hash, struct ax_pubsub_event *ev);
/* Why reaching a publisher of type @hash failed, on the subscriptions it
 * would serve (announced with their counters, read by axon doctor). */
void ax__topic_set_last_error(struct ax__topic *t, const uint8_t *hash, int err);
/* The strictest QoS among the topic's subscriptions of type @hash (block
 * wins; shm resolved: require > auto > off, never DEFAULT). */
void ax__topic_wanted_qos(struct ax__topic *t, const uint8_t *hash, struct ax_qos *q);
/* Add @delta to the connection count of the subscriptions of type @hash. */
void ax__topic_count_connections(struct ax__topic *t, const uint8_t *hash, int delta);

/* ---- shard.c ---- */
int ax__shards_start(ax_node *node);            /* before the threads start */
void ax__shards_close(struct ax__shard *shard); /* on the shard's thread */
void ax__shards_free(ax_node *node);
struct ax__shard *ax__shard_for(ax_node *node, const char *topic);
/* Run @fn(@arg) on @s's thread: now if already there (or if the node has
 * no threads), else posted. */
int ax__shard_run(struct ax__shard *s, ax_task_fn fn, void *arg);
/* As ax__shard_run, but wait for it to have run (never from @s's thread). */
int ax__shard_run_sync(struct ax__shard *s, ax_task_fn fn, void *arg);
bool ax__on_shard(const struct ax__shard *s);
/* An application thread acts as @s's loop thread for a moment, while that
 * thread waits for events (ax_loop_try_enter()): true when it may; then
 * ax__on_shard(s) holds until ax__shard_leave(), which flushes what was
 * sent. No user callback may run meanwhile: code that would run one
 * (events, resuming a paused input) checks ax__shard_guest() and posts it
 * to the loop instead. */
bool ax__shard_enter(struct ax__shard *s);
void ax__shard_leave(struct ax__shard *s);
bool ax__shard_guest(void);
/* ax_sub_wait() for a node with threads: unless a round of @s's loop ended
 * since the count @seen (then 0 at once), serve the loop for one round on
 * the calling thread if it is idle (callbacks included), else wait for the
 * round it is in to end. 0, AX_ETIMEDOUT, AX_EBUSY (a loop thread called). */
int ax__shard_serve(struct ax__shard *s, unsigned seen, int timeout_ms);
/* The next buffer other threads queued for @s (its thread only), or NULL. */
ax__buf *ax__shard_pop(struct ax__shard *s);
/* The shard's hand-over queue holds a whole connection queue's worth, in
 * frames or in bytes (one message always): a publish from another thread
 * waits or is refused. Any thread. */
static inline bool ax__shard_backlog_full(struct ax__shard *s)
{
    return atomic_load_explicit(&s->backlog, memory_order_relaxed) >= s->backlog_max ||
           atomic_load_explicit(&s->backlog_bytes, memory_order_relaxed) >= s->backlog_bytes_max;
}
void ax__pubsub_graph_events(ax_node *node, const struct ax_graph_event *evs, size_t n);
/* Link options from the node's configuration, for links of @purpose. */
void ax__link_options_for(const ax_node *node, enum ax__link_purpose purpose,
                          struct ax__link_options *o);

/* ---- pub_payload.c ---- */
/* The publisher's pool, when its node offers shared memory (0 otherwise,
 * or with a warning when it cannot be made). On creating it. */
int ax__pub_pool_open(struct ax_pub *pub);
/* A buffer for a @len-byte message: a chunk when shared-memory links read
 * this publisher and @len is at least transport.shm_threshold (or
 * @always_chunk), else ordinary memory. Never AX_ENOBUFS unless
 * @always_chunk: a spent pool means a copy (counted). Any thread. */
int ax__pub_payload_new(struct ax_pub *pub, size_t len, bool always_chunk, ax__buf **out);

/* ---- pub_block.c ---- */
void ax__pub_block_init(struct ax_pub *pub);
void ax__pub_block_fini(struct ax_pub *pub);
/* Publish the fullest link's queue in the counters and the room at block
 * links (shard; after a delivery). */
void ax__pub_note_queue(struct ax_pub *pub);
/* As ax__pub_note_queue, and wake publishers waiting for room; with
 * @may_emit, AX_PS_WRITABLE if a publish on the shard was refused (shard;
 * after a queue shrank or a link went). */
void ax__pub_room_changed(struct ax_pub *pub, bool may_emit);
/* Before a publish of @len bytes: 0 (*@admitted: counted until the shard
 * delivers it, ax__pub_block_delivering()), or AX_EAGAIN (@no_wait, a loop
 * thread: no room), AX_ETIMEDOUT (waited max_blocking_ns), AX_ECLOSED.
 * Any thread. */
int ax__pub_block_admit(struct ax_pub *pub, size_t len, bool no_wait, bool *admitted);
/* An admitted publish that will not be made after all (publishing thread). */
void ax__pub_block_unadmit(struct ax_pub *pub, size_t len);
/* The shard delivers an admitted publish of @len bytes: before the
 * delivery (which measures the queues); then ax__pub_block_delivered(). */
void ax__pub_block_delivering(struct ax_pub *pub, size_t len);
void ax__pub_block_delivered(struct ax_pub *pub);
/* A publish from an application thread found the shard's hand-over queue
 * full (ax__shard_backlog_full()): wait for it like for room, up to
 * @wait_ns. Returns 0, AX_ETIMEDOUT or AX_ECLOSED. */
int ax__pub_block_wait_queue(struct ax_pub *pub, int64_t wait_ns);
/* A link's policy is (or no longer is) block. */
void ax__pub_set_block(struct ax__psub *ps, bool block);

/* ---- pub.c ---- */
/* @type NULL: raw bytes. Set before the publisher is announced (a schema
 * request reads it from another thread). */
int ax__pub_new_impl(ax_pub **out, ax_node *node, const char *topic, const char *type_name,
                     const uint8_t *hash, const ax_type *type, const struct ax_pub_options *opt);
void ax__pub_drain_task(void *shard);
void ax__pub_deliver(struct ax_pub *pub, ax__buf *buf, int64_t ts);
void ax__pub_remote_sub(struct ax__shard *s, const struct ax_graph_event *ev);
void ax__pub_free_now(struct ax_pub *pub);
/* For pub_link.c: the links of a publisher and what they report. */
int ax__pub_add_psub(struct ax_pub *pub, struct ax__psub *ps);
void ax__pub_remove_psub(struct ax__psub *ps);
void ax__pub_count_drops(struct ax_pub *pub, enum ax_drop_reason reason, uint64_t n);
void ax__pub_event(struct ax_pub *pub, enum ax_pubsub_event_kind kind, uint64_t node_id,
                   const char *node_name, uint32_t endpoint, bool intra, const char *text);
void ax__pub_type_mismatch(struct ax_pub *pub, uint64_t node_id, const char *node_name, uint32_t ep,
                           const char *type_name, const uint8_t *hash, bool intra);

/* ---- pub_link.c ---- */
int ax__pub_accept(struct ax__shard *s, ax__link *l);
void ax__pub_close_all(struct ax__shard *s);

/* ---- sub_seq.c ---- */
/* Report @expected .. @received - 1 of @l's publisher as never arrived
 * (event and counters); @why is appended to the text. */
void ax__seq_report_gap(struct ax__rpub *l, uint64_t expected, uint64_t received, const char *why);
/* @l is going: remember its last number for a return, or report the
 * restart through a successor that is already here. */
void ax__seq_remember(struct ax__rpub *l);
/* A new @l: resume from what its process delivered before, if remembered. */
void ax__seq_resume(struct ax__rpub *l);
/* @l's publisher acknowledged a first SUBSCRIBE on a link: the live data
 * starts at @next_seq, history (if any follows) at @history_first (0:
 * none). Reports what was lost since the last link, or a restart. */
void ax__seq_on_ack(struct ax__rpub *l, uint64_t next_seq, uint64_t history_first);

/* ---- sub_queue.c ---- */
/* Whether @sub takes messages from a link asking for @link through its own
 * queue: its overload policy or reliability is not the link's, or it is
 * best effort with a shorter history. */
bool ax__sub_queue_wanted(const struct ax_sub *sub, const struct ax_qos *link);
/* Queue @m (retained) for @sub by its QoS; delivered from a posted task. */
void ax__sub_queue_push(struct ax_sub *sub, const struct ax_msg *m);
void ax__sub_queue_init(struct ax_sub *sub);
/* @sub is going: release what it holds, leave the shard's list. */
void ax__sub_queue_fini(struct ax_sub *sub);

/* ---- sub_live.c ---- */
/* An ACTIVE link with keep-alives on @s: make sure the scan runs. */
void ax__sub_live_arm(struct ax__shard *s);

/* ---- sub_link.c ---- */
void ax__sub_remote_pub(struct ax__shard *s, const struct ax_graph_event *ev);
/* A remote publisher seen (discovery, or a subscription attaching). */
void ax__rpub_seen(struct ax__topic *t, const struct ax_endpoint_info *pub,
                   const struct ax_node_info *node);
/* @sub joined @r's topic: history and QoS for it, MATCHED if connected. */
void ax__rpub_sub_joined(struct ax__rpub *r, struct ax_sub *sub);
/* @sub is going: forget its pending replays. */
void ax__rpub_sub_left(struct ax__rpub *r, const struct ax_sub *sub);
/* The publisher left, or no subscription wants it any more. */
void ax__rpub_remove(struct ax__rpub *r, const char *why);
void ax__sub_close_links(struct ax__topic *t);

/* ---- sub.c ---- */
void ax__sub_free_now(struct ax_sub *sub);

#endif /* AX__PUBSUB_H */
