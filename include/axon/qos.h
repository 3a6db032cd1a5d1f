/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/qos.h: quality of service for publishers and subscriptions.
 *
 * A QoS profile says how much a topic's data may be delayed, dropped or
 * replayed. Every drop axon makes is counted by reason and visible in the
 * discovery table and the CLI: there is no silent loss.
 */
#ifndef AXON_QOS_H
#define AXON_QOS_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ax_reliability {
    /* Never dropped while the connection lives, as long as the write queue
     * stays within its bound; beyond the bound the overload policy applies
     * (and counts what it drops). */
    AX_RELIABLE = 0,
    /* The queue holds at most `history` messages; older ones give way. */
    AX_BEST_EFFORT = 1
};

enum ax_durability {
    AX_VOLATILE = 0,        /* late joiners get only new messages */
    AX_TRANSIENT_LOCAL = 1, /* the publisher keeps the last `history`
                               messages and sends them to late joiners */
};

/* What the publisher does when the write queue to one subscriber is full. */
enum ax_overload {
    AX_OVERLOAD_DROP_OLDEST = 0, /* drop the oldest queued message */
    AX_OVERLOAD_DROP_NEWEST = 1, /* drop the message being published */
    AX_OVERLOAD_LATEST_ONLY = 2, /* keep only the newest message queued */
    AX_OVERLOAD_DISCONNECT = 3,  /* close the slow subscriber's connection */
    /* Lossless (like DDS KEEP_ALL): nothing is dropped; a publish waits for
     * room, from an application thread up to the publisher's
     * max_blocking_ns, then fails with AX_ETIMEDOUT; from a loop thread it
     * fails with AX_EAGAIN at once and an AX_PS_WRITABLE event says when
     * there is room again. Only the topics such a subscriber reads slow
     * down. */
    AX_OVERLOAD_BLOCK = 4,
};

/* Whether a subscription reaches a publisher on the same host through
 * shared memory (docs/pubsub.md, "Transports"). */
enum ax_shm_use {
    AX_SHM_DEFAULT = 0, /* per topic: as the node's transport.shm says (node: auto) */
    AX_SHM_AUTO = 1,    /* when both can: same kernel, a Unix socket both reach */
    AX_SHM_OFF = 2,     /* TCP only */
    AX_SHM_REQUIRE = 3, /* shared memory or nothing: a local publisher it cannot
                           reach that way is not connected (said why) */
};

/* Drop reasons, each counted separately. */
enum ax_drop_reason {
    AX_DROP_QUEUE_OLDEST = 0, /* overload policy drop_oldest */
    AX_DROP_QUEUE_NEWEST = 1, /* overload policy drop_newest */
    AX_DROP_QUEUE_LATEST = 2, /* overload policy latest_only replaced it */
    AX_DROP_DISCONNECT = 3,   /* queued when the slow subscriber was cut off */
    AX_DROP_LIFESPAN = 4,     /* older than its lifespan when delivered */
    AX_DROP_CLOSED = 5,       /* queued when the connection closed */
    AX_DROP_REASON_COUNT_ = 6
};

struct ax_qos {
    enum ax_reliability reliability;
    enum ax_durability durability;
    enum ax_overload overload;
    /* Messages kept for transient-local late joiners and, for best effort,
     * the queue bound in messages. >= 1. */
    uint32_t history;
    /* Expected maximum period between messages; 0 disables the deadline
     * event. Nanoseconds. */
    int64_t deadline_ns;
    /* Messages older than this (source timestamp to delivery) are dropped,
     * not delivered; 0 disables. Nanoseconds. */
    int64_t lifespan_ns;
    /* Publisher: how long a publish from an application thread may wait for
     * room at a subscriber whose overload policy is block. Nanoseconds. */
    int64_t max_blocking_ns;
    /* Subscription: shared memory with same-host publishers (the node's
     * transport.shm unless set). */
    enum ax_shm_use shm;
};

#define AX_QOS_MAX_BLOCKING_DEFAULT_NS 100000000 /* 100 ms, as in DDS */

/* Presets. */
/* Reliable, volatile, drop_oldest, history 16: commands and events. */
#define AX_QOS_DEFAULT                                                                             \
    ((struct ax_qos){AX_RELIABLE, AX_VOLATILE, AX_OVERLOAD_DROP_OLDEST, 16, 0, 0,                  \
                     AX_QOS_MAX_BLOCKING_DEFAULT_NS, AX_SHM_DEFAULT})
/* Best effort, volatile, latest-only queue of 5: camera, lidar, IMU. */
#define AX_QOS_SENSOR_DATA                                                                         \
    ((struct ax_qos){AX_BEST_EFFORT, AX_VOLATILE, AX_OVERLOAD_LATEST_ONLY, 5, 0, 0,                \
                     AX_QOS_MAX_BLOCKING_DEFAULT_NS, AX_SHM_DEFAULT})
/* Reliable, volatile, disconnect a subscriber that cannot keep up: control
 * loops where a stale command is worse than none. */
#define AX_QOS_CONTROL                                                                             \
    ((struct ax_qos){AX_RELIABLE, AX_VOLATILE, AX_OVERLOAD_DISCONNECT, 16, 0, 0,                   \
                     AX_QOS_MAX_BLOCKING_DEFAULT_NS, AX_SHM_DEFAULT})
/* Reliable, transient-local, history 1: maps, calibration, static TF. */
#define AX_QOS_LATCHED                                                                             \
    ((struct ax_qos){AX_RELIABLE, AX_TRANSIENT_LOCAL, AX_OVERLOAD_DROP_OLDEST, 1, 0, 0,            \
                     AX_QOS_MAX_BLOCKING_DEFAULT_NS, AX_SHM_DEFAULT})

/**
 * ax_qos_preset() - a preset by name: "default", "sensor_data", "control",
 * "latched". Returns 0 or AX_ENOTFOUND. Any thread.
 */
AX_API int ax_qos_preset(const char *name, struct ax_qos *out);

/** ax_overload_name() - "drop_oldest", ...; "?" when out of range. */
AX_API const char *ax_overload_name(enum ax_overload o);

/** ax_drop_reason_name() - "queue_oldest", ...; "?" when out of range. */
AX_API const char *ax_drop_reason_name(enum ax_drop_reason r);

/** ax_shm_use_name() - "default", "auto", "off", "require"; "?" when out
 * of range. */
AX_API const char *ax_shm_use_name(enum ax_shm_use u);

#ifdef __cplusplus
}
#endif

#endif /* AXON_QOS_H */
