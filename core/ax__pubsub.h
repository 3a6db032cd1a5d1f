/*
 * Private: publish/subscribe internals (core/shard.c, core/pub.c,
 * core/sub.c).
 *
 * A node has one shard per loop. A topic lives on shard hash(topic) %
 * nloops: its publishers, subscriptions and their connections are served by
 * that loop's thread only, so a topic's data path takes no lock. Each shard
 * has its own TCP listener; a publisher announces its shard's port, so
 * connections for it arrive on the right thread.
 *
 * Subscriber side: a link per remote publisher of a topic the node
 * subscribes to, with its connection, reconnect timer and last sequence
 * number. Publisher side: a psub per connection of a subscribing node.
 */
#ifndef AX__PUBSUB_H
#define AX__PUBSUB_H

#include "axon/pubsub.h"
#include "base/ax__list.h"
#include "base/ax__mpsc.h"
#include "core/ax__node.h"
#include "transport/ax__buf.h"
#include "transport/tcp/ax__tcp.h"

struct ax__topic;

struct ax__shard {
    ax_node *node;
    ax_loop *loop;
    unsigned index;
    struct ax__tcp_listener *listener;
    uint16_t port;

    struct ax__topic **topics;
    size_t ntopics, topics_cap;

    struct ax__mpsc queue; /* publishes from other threads */
    atomic_bool wake_pending;
    atomic_uint backlog;  /* messages in the queue */
    unsigned backlog_max; /* transport.queue_frames: beyond, publish() says AX_EAGAIN */

    struct ax__qnode psubs; /* every publisher-side connection */
    bool closing;
};

/* A topic's arrays may be iterated while callbacks free publishers or
 * subscriptions: while `iterating` > 0 removal leaves a NULL (skipped by
 * every loop) and ax__topic_iter_end() compacts. */
struct ax__topic {
    struct ax__shard *shard;
    char name[AX_TOPIC_MAX];
    unsigned iterating;
    bool holes;
    struct ax_pub **pubs;
    size_t npubs, pubs_cap;
    struct ax_sub **subs;
    size_t nsubs, subs_cap;
    struct ax__link **links;
    size_t nlinks, links_cap;
    /* Publishers that left, to recognise a restart (same node name and
     * endpoint id, new node id) and report what was lost as a gap. */
    struct {
        char node_name[AX_NODE_NAME_MAX];
        uint32_t endpoint_id;
        uint64_t node_id;
        uint64_t last_seq;
    } gone[4];
    unsigned gone_next;
};

struct ax__event_sink {
    ax_pubsub_event_fn fn;
    void *user;
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
    unsigned busy; /* inside ax__pub_deliver(): freeing is deferred */
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
};

enum link_state {
    LINK_IDLE,       /* waiting to connect (back-off) */
    LINK_CONNECTING, /* TCP connect in progress */
    LINK_HANDSHAKE,  /* connected, HELLO / SUBSCRIBE exchanged */
    LINK_ACTIVE,     /* data flows */
};

struct ax__link {
    struct ax__topic *topic;
    struct ax_endpoint_info pub; /* the remote publisher as discovered */
    uint64_t incarnation;
    struct ax__addr addr;
    enum link_state state;
    ax__tcp_conn *conn;
    ax__tcp_connector *connector;
    ax_timer retry;
    int64_t backoff_ns;
    uint64_t last_seq; /* 0: nothing yet */
    bool matched;
    bool removed; /* the publisher left; free when the connection is gone */
    /* History replays (sub.c, "history replays"). A transient-local
     * subscription that joins after this link's first SUBSCRIBE waits here,
     * taking no live data, until the replay that serves it is over. */
    struct ax__replay *replay;
    size_t nreplay, replay_cap;
    bool resubscribing;     /* a SUBSCRIBE sent on the ACTIVE link awaits its ACK */
    uint64_t replay_end;    /* frames numbered below this are history (0: none) */
    uint64_t replay_floor;  /* history above this also goes to the others */
    struct ax_qos sent_qos; /* what the last SUBSCRIBE asked for */
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

/* Publisher side: one connection from a subscribing node. */
struct ax__psub {
    struct ax__shard *shard;
    struct ax_pub *pub; /* NULL until its SUBSCRIBE arrived */
    ax__tcp_conn *conn;
    uint64_t node_id;
    char node_name[AX_NODE_NAME_MAX];
    struct ax_qos qos;
    struct ax__qnode node;
};

/* shard.c */
int ax__shards_start(ax_node *node);            /* before the threads start */
void ax__shards_close(struct ax__shard *shard); /* on the shard's thread */
void ax__shards_free(ax_node *node);
struct ax__shard *ax__shard_for(ax_node *node, const char *topic);
struct ax__topic *ax__topic_get(struct ax__shard *s, const char *name, bool create);
void ax__topic_maybe_free(struct ax__topic *t);
void ax__topic_iter_begin(struct ax__topic *t);
void ax__topic_iter_end(struct ax__topic *t); /* may free the topic */
void ax__topic_remove_pub(struct ax__topic *t, struct ax_pub *pub);
void ax__topic_remove_sub(struct ax__topic *t, struct ax_sub *sub);
/* Run @fn(@arg) on @s's thread: now if already there (or if the node has
 * no threads), else posted. */
int ax__shard_run(struct ax__shard *s, ax_task_fn fn, void *arg);
/* As ax__shard_run, but wait for it to have run (never from @s's thread). */
int ax__shard_run_sync(struct ax__shard *s, ax_task_fn fn, void *arg);
void ax__pubsub_graph_events(ax_node *node, const struct ax_graph_event *evs, size_t n);
bool ax__on_shard(const struct ax__shard *s);
void ax__emit(struct ax__event_sink *sink, void *self, const struct ax_pubsub_event *ev);
/* The next buffer other threads queued for @s (its thread only), or NULL. */
ax__buf *ax__shard_pop(struct ax__shard *s);

/* pub.c */
int ax__pub_new_impl(ax_pub **out, ax_node *node, const char *topic, const char *type_name,
                     const uint8_t *hash, const ProtobufCMessageDescriptor *desc,
                     const struct ax_pub_options *opt);
void ax__pub_drain_task(void *shard);
void ax__conn_options(const ax_node *node, struct ax__tcp_conn_options *o);
/* Raw types match by name: SHA-256 of "raw:" and the name. */
void ax__raw_type_hash(const char *type_name, uint8_t out[AX_TYPE_HASH_SIZE]);
void ax__pub_attach(struct ax_pub *pub);
void ax__pub_deliver(struct ax_pub *pub, ax__buf *buf, uint64_t seq, int64_t ts);
void ax__pub_accept(struct ax__shard *s, int fd, const struct ax__addr *peer);
void ax__pub_close_all(struct ax__shard *s);
void ax__pub_remote_sub(struct ax__shard *s, const struct ax_graph_event *ev);
void ax__pub_free_now(struct ax_pub *pub);

/* sub.c */
void ax__sub_deliver_local(struct ax__topic *t, const struct ax_pub *pub, ax__buf *buf,
                           uint64_t seq, int64_t ts);
void ax__sub_remote_pub(struct ax__shard *s, const struct ax_graph_event *ev);
void ax__sub_close_links(struct ax__topic *t);
void ax__sub_free_now(struct ax_sub *sub);

/* Matching: same topic (by construction) and same type hash. */
static inline bool ax__same_type(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < AX_TYPE_HASH_SIZE; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

#endif /* AX__PUBSUB_H */
