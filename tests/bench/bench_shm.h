/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_shm.h: what bench_shm.c (the same-host tables, issue 13) and
 * bench_shm_app.c (the default path beside the peers, issue 16) share in
 * the bench_shm program: nodes made the way a user makes them, endpoints,
 * and the hand-over between a subscription callback and the main thread.
 */
#ifndef AXON_BENCH_SHM_H
#define AXON_BENCH_SHM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/axon.h"
#include "peer_common.h"

#define TYPE_NAME  "axon.bench.Shm"
#define MATCH_SECS 10

extern uint32_t g_domain; /* --domain, or main's pid modulo 10 */

struct variant {
    const char *impl;
    enum ax_shm_use shm;
    enum ax_link_transport link; /* what the subscription must use */
    bool pong_in_cb;             /* shm_lat: the pong side answers in its callback */
    bool handover; /* shm_lat: the main threads wait on a condition variable of their own,
                    * not in ax_sub_wait() */
};

/* A node with the default configuration (AXON_CONFIG applied), the
 * domain, @v's transport.shm and log level warn; NULL (said why) on error. */
ax_node *node_new(const char *role, const struct variant *v);
/* A raw subscription whose overload policy is block; a raw publisher with
 * the default QoS. 0 or the error (said). */
int sub_new(ax_sub **s, ax_node *n, const char *topic, ax_sub_cb cb, void *user);
int pub_new(ax_pub **p, ax_node *n, const char *topic);
void sleep_ns(int64_t ns);
/* Wait until @p has a subscriber and (@s non-NULL) @s a publisher. */
bool wait_match(ax_pub *p, ax_sub *s, int64_t deadline);
/* The transport of @s's link (its only publisher). */
enum ax_link_transport sub_link(ax_sub *s);

struct box {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t size;
    /* shm_thr: the receiver's counts, read by the main thread only after
     * ax_sub_free() (no callback runs after it returns) */
    struct pb_rx rx;
    int64_t cpu0, cpu1;
    bool warm, end; /* under mu */
    /* shm_lat: the last message, under mu */
    uint64_t seq, aux, got;
    uint64_t bad;
    /* shm_lat, pong_in_cb: the answering publisher; the loop thread's
     * count of sampled pings and the CPU clock at the first (read by the
     * main thread after ax_sub_free()) */
    ax_pub *reply;
    /* shm_lat: the subscription the main thread waits in (ax_sub_wait());
     * NULL: it waits on cv */
    ax_sub *wait_sub;
    uint64_t sampled; /* and cpu0 above: the CPU clock at the first */
};

void box_init(struct box *b, size_t size);
void box_fini(struct box *b);
/* Wait on the box (mu held) until @deadline; false once it has passed. */
bool box_sleep(struct box *b, int64_t deadline);
/* Wait until *@flag (under mu) or @deadline. */
bool box_wait_flag(struct box *b, const bool *flag, int64_t deadline);

/* bench_shm_app.c: `bench_shm --app`, the default path's throughput rows
 * for the peers' table (test=thr). Returns main's exit status. */
int app_main(struct pb_opts *o, bool sizes_given);

#endif /* AXON_BENCH_SHM_H */
