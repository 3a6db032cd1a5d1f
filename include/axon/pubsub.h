/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/pubsub.h: publishers and subscriptions.
 *
 * A publisher advertises a topic with a type and a QoS; a subscription
 * receives the messages of every publisher of its topic whose type hash is
 * the same. Publishers and subscriptions of one node that share a topic are
 * connected directly (no socket, no copy); across nodes, the subscribing
 * node opens one TCP connection per publisher and fans out locally.
 *
 * Threads: ax_pub_publish*() may be called from any thread, concurrently.
 * Creating and freeing may be called from any thread. Subscription
 * callbacks and events run on the node's thread for the topic (each topic
 * is served by one of the node's loop threads, so a topic's callbacks never
 * run concurrently and arrive in order), on an application thread that
 * serves that loop in ax_sub_wait() (still one at a time with it), or
 * inside ax_node_spin*() for node.threads = 0. Callbacks must not block.
 *
 * Handles: ax_pub_free()/ax_sub_free() and ax_node_destroy() end a handle;
 * like free(), the pointer must not be used afterwards.
 *
 * Same host: a subscription reaches a publisher on the same host through
 * shared memory when both can (transport.shm, docs/pubsub.md). Messages of
 * transport.shm_threshold bytes or more then travel by reference: the
 * publisher serializes into a chunk of its shared-memory pool, and every
 * such subscriber reads that chunk in place; TCP subscribers of the same
 * publisher are sent from the same chunk. ax_pub_loan() lets the
 * application write the message into the chunk itself.
 */
#ifndef AXON_PUBSUB_H
#define AXON_PUBSUB_H

#include <protobuf-c/protobuf-c.h>

#include "axon/node.h"
#include "axon/types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_pub ax_pub;
typedef struct ax_sub ax_sub;

/* ---- events ---- */

enum ax_pubsub_event_kind {
    /* A remote (or local) counterpart now exchanges data with this one. */
    AX_PS_MATCHED = 0,
    /* It stopped: its node left (Bye or lease), it was freed, or it was
     * disconnected (publisher side, overload policy "disconnect"). */
    AX_PS_UNMATCHED = 1,
    /* Same topic, different type hash: refused, on both sides. */
    AX_PS_TYPE_MISMATCH = 2,
    /* Subscription: messages of a publisher never arrived (sequence
     * numbers skipped), or the publisher restarted. */
    AX_PS_GAP = 3,
    /* Subscription: no message within its QoS deadline. Repeats each
     * deadline period while nothing arrives. */
    AX_PS_DEADLINE_MISSED = 4,
    /* Messages dropped: by the publisher's overload policy (publisher
     * side), or stale beyond the lifespan (subscription side). */
    AX_PS_DROPPED = 5,
    /* The QoS pair cannot give what was asked (a transient-local
     * subscription of a volatile publisher gets live data only). */
    AX_PS_QOS_INCOMPATIBLE = 6,
    /* Publisher: after a publish refused with AX_EAGAIN (a subscriber with
     * overload block had no room), there is room again. */
    AX_PS_WRITABLE = 7,
};

struct ax_pubsub_event {
    enum ax_pubsub_event_kind kind;
    /* The counterpart (publisher for a subscription, subscribing node for a
     * publisher). */
    uint64_t node_id;
    char node_name[AX_NODE_NAME_MAX];
    uint32_t endpoint_id; /* 0 when the counterpart is a whole node */
    bool intra_process;
    /* TYPE_MISMATCH: the counterpart's type. */
    char type_name[AX_TYPE_NAME_MAX];
    uint8_t type_hash[AX_TYPE_HASH_SIZE];
    /* GAP: the sequence expected and the one received; missing = received
     * - expected (0 when unknown, after a restart). */
    uint64_t expected_seq, received_seq, missing;
    bool restarted; /* GAP: the publisher is a new incarnation */
    /* DROPPED: how many, and why (enum ax_drop_reason). */
    uint64_t dropped;
    enum ax_drop_reason reason;
    /* a human-readable summary, for logs */
    char text[256];
};

/**
 * ax_pubsub_event_fn - an event of a publisher or a subscription (@self is
 * the ax_pub or ax_sub), on the topic's thread. @ev is valid during the
 * call only.
 */
typedef void (*ax_pubsub_event_fn)(void *self, const struct ax_pubsub_event *ev, void *user);

/* ---- publishers ---- */

struct ax_pub_options {
    /* QoS; a per-topic override in the node's configuration (qos:) wins. */
    struct ax_qos qos;
    ax_pubsub_event_fn on_event; /* may be NULL */
    void *user;
    /* called once with @user when the publisher is freed (may be NULL) */
    void (*drop)(void *user);
};

/** ax_pub_options_init() - defaults: AX_QOS_DEFAULT, no events. */
AX_API void ax_pub_options_init(struct ax_pub_options *opt);

/**
 * ax_pub_new() - advertise @topic with a registered protobuf type.
 * @out: receives the publisher.
 * @topic: a name like "/perception/obstacles" (1..255 bytes, no spaces).
 * @type: from ax_type_find() / ax_type_find_descriptor(); must outlive
 *        the publisher.
 * @opt: options, or NULL for the defaults.
 *
 * Subscriptions appear as they are discovered. Returns 0, AX_EINVAL (bad
 * topic, NULL type), AX_ENOMEM, AX_ECLOSED (node being destroyed),
 * AX_EACCES (the access policy, security.policy_file, does not let this
 * node publish @topic; counted in ax_connection_stats.policy_refused).
 */
AX_API int ax_pub_new(ax_pub **out, ax_node *node, const char *topic, const ax_type *type,
                      const struct ax_pub_options *opt);

/**
 * ax_pub_new_raw() - advertise @topic with raw bytes of any serialization.
 * @type_name: what the bytes are ("image/jpeg", "my.Format"); matching is by
 *             topic and type name (the type hash is SHA-256 of the name).
 * Returns as ax_pub_new().
 */
AX_API int ax_pub_new_raw(ax_pub **out, ax_node *node, const char *topic, const char *type_name,
                          const struct ax_pub_options *opt);

/**
 * ax_pub_publish() - serialize @msg once and send it to every matched
 * subscription. The serialized bytes live in one refcounted buffer shared by
 * every connection and local subscription; nothing is copied per
 * subscriber. @msg is borrowed for the call only.
 *
 * With a same-host shared-memory subscriber and at least
 * transport.shm_threshold bytes, the message is serialized straight into a
 * chunk of the publisher's pool (no other copy anywhere); when the pool's
 * budget is spent it goes as a copy instead (counted: ax_pub_pool_stats()).
 *
 * Returns 0 when accepted (subscribers' overload policies may still drop
 * it, and count it); AX_EAGAIN when called from another thread than the
 * topic's and that thread is behind by transport.queue_frames messages or
 * transport.queue_bytes bytes and stays so for 1 ms (the call waits that
 * long for it, so that a caller retrying at once leaves the CPU to it):
 * nothing was published, retry later (backpressure, lossless) or give up;
 * with a subscriber whose overload policy is block and no room for it (or
 * that thread behind): from an application thread, AX_ETIMEDOUT after
 * waiting qos max_blocking_ns; from the topic's loop thread (a callback), AX_EAGAIN at
 * once, and an AX_PS_WRITABLE event follows when there is room; nothing
 * was published in either case. AX_EINVAL (NULL, or a message of another
 * type); AX_EMSGSIZE (larger than transport.max_frame); AX_ENOMEM. Any
 * thread.
 */
AX_API int ax_pub_publish(ax_pub *pub, const ProtobufCMessage *msg);

/**
 * ax_pub_publish_bytes() - publish @len bytes, copied once (borrowed for the
 * call only). Returns as ax_pub_publish(). Any thread.
 */
AX_API int ax_pub_publish_bytes(ax_pub *pub, const void *data, size_t len);

/**
 * ax_pub_publish_owned() - publish @data without copying it: axon takes
 * ownership and calls @free_fn(@data, @arg) once every subscriber has it
 * (possibly before this returns, possibly on another thread). On failure
 * the ownership stays with the caller. Any thread.
 */
AX_API int ax_pub_publish_owned(ax_pub *pub, void *data, size_t len,
                                void (*free_fn)(void *data, void *arg), void *arg);

/* A buffer lent by a publisher, to write a message into before publishing
 * it without a copy (ax_pub_loan()). */
struct ax_loan {
    uint8_t *data; /* @size writable bytes */
    size_t size;
    void *priv_; /* private */
};

/**
 * ax_pub_loan() - lend @size bytes to write a message into, then publish
 * it with ax_pub_publish_loan() (or give it back with
 * ax_pub_loan_discard()). When the node offers shared memory and @size is
 * at least transport.shm_threshold, the bytes are a chunk of the
 * publisher's pool, which same-host subscribers read in place; otherwise
 * ordinary memory, sent as it is (through the socket, as every message
 * under the threshold). The loan is valid until one of those two calls,
 * on any thread.
 *
 * Returns 0; AX_EMSGSIZE (larger than transport.max_frame); AX_ENOBUFS
 * when the pool's budget (transport.shm_budget) is spent, every chunk being
 * lent to a subscriber or given back and not yet read by the node's loop
 * (counted in ax_pub_pool_stats(); never a wait: what came back is read
 * then, by this thread when the loop's thread sleeps, else by the loop
 * soon after, for the next try); AX_ENOMEM; AX_EINVAL. Any thread.
 */
AX_API int ax_pub_loan(ax_pub *pub, size_t size, struct ax_loan *out);

/**
 * ax_pub_publish_loan() - publish the first @len bytes (<= loan->size) of
 * @loan without copying them. The loan is used up whatever the result
 * (the bytes may no longer be written). Returns as ax_pub_publish().
 */
AX_API int ax_pub_publish_loan(ax_pub *pub, struct ax_loan *loan, size_t len);

/** ax_pub_loan_discard() - give a loan back unpublished. */
AX_API void ax_pub_loan_discard(struct ax_loan *loan);

/* A publisher's shared-memory pool (ax_pub_pool_stats()). */
struct ax_pool_stats {
    uint64_t mapped;    /* bytes of segments mapped */
    uint64_t in_use;    /* chunks lent, or held by subscribers, now */
    uint64_t loans;     /* chunks lent so far */
    uint64_t exhausted; /* loans refused: the budget was spent */
    uint64_t copied;    /* messages sent as copies for want of a chunk */
};

/** ax_pub_pool_stats() - its pool, all zero when it has none. Any thread. */
AX_API int ax_pub_pool_stats(const ax_pub *pub, struct ax_pool_stats *out);

/** ax_pub_free() - stop advertising, close its connections (queued
 * messages are flushed first), free it. NULL is a no-op. Any thread. */
AX_API void ax_pub_free(ax_pub *pub);

/** ax_pub_counters() - messages, bytes, drops by reason, subscribers. */
AX_API int ax_pub_counters(const ax_pub *pub, struct ax_endpoint_counters *out);

/**
 * ax_pub_backlog() - the deepest write queue among the publisher's
 * connections right now, in messages and bytes: how far the slowest
 * subscriber is behind. An application that wants end-to-end flow control
 * (never reaching an overload policy) publishes while it is low. Topic's
 * thread only (inside this node's callbacks, or with node.threads = 0).
 * Returns 0 or AX_EINVAL.
 */
AX_API int ax_pub_backlog(const ax_pub *pub, uint64_t *messages, uint64_t *bytes);

/** ax_pub_topic() / ax_pub_qos() / ax_pub_id() - what it was made with. */
AX_API const char *ax_pub_topic(const ax_pub *pub);
AX_API const struct ax_qos *ax_pub_qos(const ax_pub *pub);
AX_API uint32_t ax_pub_id(const ax_pub *pub);

/* ---- subscriptions ---- */

/* A received message, valid during the callback only (ax_msg_retain()
 * keeps it longer). Its bytes may be read-only memory: never write them. */
struct ax_msg {
    const uint8_t *data;
    size_t len;
    const char *topic;
    const char *type_name;
    uint64_t seq;        /* the publisher's sequence number (1, 2, ...) */
    int64_t source_ns;   /* CLOCK_REALTIME when it was published */
    int64_t received_ns; /* CLOCK_REALTIME when the read that completed it returned */
    uint64_t publisher_node;
    uint32_t publisher_id;
    bool intra_process; /* delivered in-process, sharing the publisher's buffer */
    void *priv_;        /* private */
    void *buf_;         /* private */
};

/**
 * ax_msg_retain() - keep a received message past its callback: a copy of
 * @msg (its strings included) in *@out, whose data stays valid until
 * ax_msg_release(). A message read in place (shared memory, or from a
 * publisher in the same process) is not copied: the publisher's chunk is
 * held instead, and counts against the subscriber's quota
 * (transport.shm_quota and shm_quota_bytes, the publisher's; beyond it
 * the publisher sends this subscriber nothing more until it releases,
 * docs/pubsub.md) until released; small messages are copied. Any
 * thread (inside the callback). Returns 0 or AX_ENOMEM, AX_EINVAL.
 */
AX_API int ax_msg_retain(const struct ax_msg *msg, struct ax_msg **out);

/** ax_msg_release() - done with a retained message. Any thread; NULL is a
 * no-op. */
AX_API void ax_msg_release(struct ax_msg *msg);

typedef void (*ax_sub_cb)(ax_sub *sub, const struct ax_msg *msg, void *user);

struct ax_sub_options {
    /* QoS; a per-topic override in the node's configuration wins. The
     * overload policy is applied on the publisher's queue to this node. */
    struct ax_qos qos;
    ax_pubsub_event_fn on_event; /* may be NULL */
    /* called once with the callback's user pointer when the subscription
     * is freed (may be NULL) */
    void (*drop)(void *user);
};

/** ax_sub_options_init() - defaults: AX_QOS_DEFAULT, no events. */
AX_API void ax_sub_options_init(struct ax_sub_options *opt);

/**
 * ax_sub_new() - subscribe to @topic with a registered protobuf type.
 * @cb: called for each message, on the topic's thread; @user is passed to
 *      it and to the events.
 * Returns 0, AX_EINVAL, AX_ENOMEM, AX_ECLOSED, AX_EACCES (the access
 * policy does not let this node subscribe to @topic).
 */
AX_API int ax_sub_new(ax_sub **out, ax_node *node, const char *topic, const ax_type *type,
                      ax_sub_cb cb, void *user, const struct ax_sub_options *opt);

/** ax_sub_new_raw() - subscribe to raw bytes of @type_name (see
 * ax_pub_new_raw()). */
AX_API int ax_sub_new_raw(ax_sub **out, ax_node *node, const char *topic, const char *type_name,
                          ax_sub_cb cb, void *user, const struct ax_sub_options *opt);

/**
 * ax_sub_new_hash() - subscribe to @topic by type name and type hash, as
 * found in the discovery table (ax_endpoint_info): receives the raw bytes of
 * publishers of exactly that type, whatever it is. For tools (axon topic hz
 * --subscribe, axon record). Returns as ax_sub_new().
 */
AX_API int ax_sub_new_hash(ax_sub **out, ax_node *node, const char *topic, const char *type_name,
                           const uint8_t type_hash[AX_TYPE_HASH_SIZE], ax_sub_cb cb, void *user,
                           const struct ax_sub_options *opt);

/**
 * ax_msg_unpack() - decode @msg into a new protobuf-c message of @desc.
 * Free it with protobuf_c_message_free_unpacked(*out, NULL). Returns 0,
 * AX_EPROTO (the bytes do not decode, or nest too deeply), AX_ENOMEM.
 */
AX_API int ax_msg_unpack(const struct ax_msg *msg, const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **out);

/** ax_sub_free() - unsubscribe and free. NULL is a no-op. Any thread. After
 * it returns, the callback is no longer called (unless called from within
 * that callback, which returns first). */
AX_API void ax_sub_free(ax_sub *sub);

/**
 * ax_sub_wait() - wait in the calling thread for @sub's callbacks to run.
 *
 * For an application thread that waits for what its callbacks will do (a
 * reply, the next sample) instead of on a condition variable of its own.
 * When the loop that serves @sub is idle (its thread asleep, waiting for
 * events), the calling thread serves it for one round: it waits for the
 * events itself, up to @timeout_ms, and runs what they bring, @sub's
 * callbacks and any other of that loop's, on this thread (still one at a
 * time with the loop's thread, so a callback needs no more locking than
 * usual). A message then costs one thread wake-up instead of two: the
 * loop's thread would wake, run the callback, and wake this thread. When
 * the loop is busy, this waits until the round it is in ends (it may be
 * running @sub's callback). And it returns at once when a message reached
 * @sub since the previous ax_sub_wait() on it returned, so that one whose
 * callback ran between the caller's last look and this call is not missed.
 * Either way, look at what the callbacks did, and call again if it is not
 * there yet:
 *
 *     while (!reply_arrived(&state) && ax_sub_wait(sub, 100) != AX_EBUSY) {}
 *
 * The callbacks then run at this thread's priority and on its CPUs (not
 * node.cpus), and with whatever locks it holds: a lock held around this
 * call must not be one that a callback of that loop takes.
 *
 * Not while the node's loops run real-time (node.sched_policy): then this
 * only waits for the loop's rounds. With node.threads = 0 the application
 * runs the node already: call ax_node_spin_once() instead.
 *
 * @timeout_ms: -1: no limit; 0: do not wait for events.
 * Returns 0 (a round ended: look), AX_ETIMEDOUT (nothing ran and the
 * timeout passed), AX_EBUSY (called on a loop's thread, a callback's
 * included: it would wait for itself), AX_EINVAL (NULL @sub, or
 * node.threads = 0), or the reactor's error (epoll_wait's, mapped). Any
 * thread but a loop's, and never while the node is being destroyed. One thread at a time per
 * subscription (threads waiting on different subscriptions of a loop take
 * turns: one serves, the others wait for its round); with several on one,
 * a thread may miss a message another's call saw, and wait for the next
 * round.
 */
AX_API int ax_sub_wait(ax_sub *sub, int timeout_ms);

/** ax_sub_counters() - messages/bytes received, gaps, drops, publishers. */
AX_API int ax_sub_counters(const ax_sub *sub, struct ax_endpoint_counters *out);

AX_API const char *ax_sub_topic(const ax_sub *sub);
AX_API const struct ax_qos *ax_sub_qos(const ax_sub *sub);
AX_API uint32_t ax_sub_id(const ax_sub *sub);

/** ax_pubsub_event_name() - "matched", "gap", ... */
AX_API const char *ax_pubsub_event_name(enum ax_pubsub_event_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* AXON_PUBSUB_H */
