/* SPDX-License-Identifier: Apache-2.0 */
/*
 * planning_node: the subscribing half of the demo.
 *
 *   planning_node [--duration S] [--expect-hz HZ] [--config FILE]
 *
 * Subscribes to /perception/obstacles and /perception/points and prints,
 * every second, each topic's rate, end-to-end latency (source time to
 * delivery, both CLOCK_REALTIME) and what was lost: sequence gaps and
 * drops. At the end it prints a verdict and exits 0 only if both topics
 * arrived at --expect-hz (default 10, within 10 %) with nothing lost.
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon/axon.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct topic_stats {
    const char *name;
    pthread_mutex_t mu;
    uint64_t n, bytes, gaps_missing, dropped;
    double lat_sum_ms, lat_max_ms;
    uint64_t total, total_missing, total_dropped;
    uint64_t restarts; /* the publisher restarted: what it sent last is unknown */
    uint64_t last_obstacles;
};

static struct topic_stats obstacles = {.name = "/perception/obstacles",
                                       .mu = PTHREAD_MUTEX_INITIALIZER};
static struct topic_stats points = {.name = "/perception/points", .mu = PTHREAD_MUTEX_INITIALIZER};

static void account(struct topic_stats *s, const struct ax_msg *m)
{
    double lat = (double)(m->received_ns - m->source_ns) / 1e6;
    pthread_mutex_lock(&s->mu);
    s->n++;
    s->total++;
    s->bytes += m->len;
    s->lat_sum_ms += lat;
    if (lat > s->lat_max_ms)
        s->lat_max_ms = lat;
    pthread_mutex_unlock(&s->mu);
}

static void on_obstacles(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    ProtobufCMessage *pm;
    if (ax_msg_unpack(m, &axon__perception__obstacle_list__descriptor, &pm) == 0) {
        Axon__Perception__ObstacleList *l = (Axon__Perception__ObstacleList *)pm;
        pthread_mutex_lock(&obstacles.mu);
        obstacles.last_obstacles = l->n_obstacles;
        pthread_mutex_unlock(&obstacles.mu);
        protobuf_c_message_free_unpacked(pm, NULL);
    }
    account(user, m);
}

static void on_points(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    account(user, m);
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct topic_stats *s = user;
    (void)self;
    pthread_mutex_lock(&s->mu);
    if (ev->kind == AX_PS_GAP) {
        s->gaps_missing += ev->missing;
        s->total_missing += ev->missing;
        s->restarts += ev->restarted;
    } else if (ev->kind == AX_PS_DROPPED) {
        s->dropped += ev->dropped;
        s->total_dropped += ev->dropped;
    }
    pthread_mutex_unlock(&s->mu);
    if (ev->kind != AX_PS_DEADLINE_MISSED)
        printf("planning_node: %s: %s\n", ax_pubsub_event_name(ev->kind), ev->text);
}

static void report(struct topic_stats *s, double secs)
{
    pthread_mutex_lock(&s->mu);
    printf("  %-22s %6.1f Hz %8.2f MiB/s  latency mean %6.2f ms max %6.2f ms  lost %llu  "
           "dropped %llu",
           s->name, (double)s->n / secs, (double)s->bytes / secs / (1 << 20),
           s->n ? s->lat_sum_ms / (double)s->n : 0.0, s->lat_max_ms,
           (unsigned long long)s->gaps_missing, (unsigned long long)s->dropped);
    if (s == &obstacles)
        printf("  (%llu obstacles)", (unsigned long long)s->last_obstacles);
    printf("\n");
    s->n = s->bytes = s->gaps_missing = s->dropped = 0;
    s->lat_sum_ms = s->lat_max_ms = 0;
    pthread_mutex_unlock(&s->mu);
}

int main(int argc, char **argv)
{
    double duration = 0, expect_hz = 10;
    const char *config = NULL;
    static const struct option opts[] = {{"duration", 1, 0, 'd'},
                                         {"expect-hz", 1, 0, 'e'},
                                         {"config", 1, 0, 'c'},
                                         {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            duration = atof(optarg);
            break;
        case 'e':
            expect_hz = atof(optarg);
            break;
        case 'c':
            config = optarg;
            break;
        default:
            printf("usage: planning_node [--duration S] [--expect-hz HZ] [--config FILE]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "planning");
    if ((config && ax_config_load_file(&cfg, config, &err) < 0) ||
        ax_config_apply_env(&cfg, &err) < 0) {
        char buf[512];
        fprintf(stderr, "planning_node: %s\n", ax_config_error_str(&err, buf, sizeof buf));
        return 1;
    }
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    if (rc < 0) {
        fprintf(stderr, "planning_node: node: %s\n", ax_strerror(rc));
        return 1;
    }
    const ax_type *t_obs, *t_pc;
    ax_type_find("axon.perception.ObstacleList", &t_obs);
    ax_type_find("axon.sensor.PointCloud", &t_pc);
    ax_sub *s_obs, *s_pc;
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.on_event = on_event;
    so.qos.deadline_ns = AX_NS_PER_S / 2; /* a planner wants to know when data stops */
    if ((rc = ax_sub_new(&s_obs, node, "/perception/obstacles", t_obs, on_obstacles, &obstacles,
                         &so)) < 0 ||
        (rc = ax_sub_new(&s_pc, node, "/perception/points", t_pc, on_points, &points, &so)) < 0) {
        fprintf(stderr, "planning_node: subscribe: %s\n", ax_strerror(rc));
        return 1;
    }
    printf("planning_node: subscribed to /perception/obstacles and /perception/points\n");
    fflush(stdout);
    int64_t start = ax_clock_mono_ns(), last = start;
    /* The verdict ignores the first second (discovery, connection). */
    uint64_t base_obs = 0, base_pc = 0;
    int64_t base_t = 0;
    while (!stop && (duration <= 0 || ax_clock_mono_ns() - start < (int64_t)(duration * 1e9))) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t now = ax_clock_mono_ns();
        if (now - last >= AX_NS_PER_S) {
            double secs = (double)(now - last) / 1e9;
            printf("planning_node: t=%4.1f s\n", (double)(now - start) / 1e9);
            report(&obstacles, secs);
            report(&points, secs);
            fflush(stdout);
            last = now;
            if (!base_t) {
                base_t = now;
                pthread_mutex_lock(&obstacles.mu);
                base_obs = obstacles.total;
                pthread_mutex_unlock(&obstacles.mu);
                pthread_mutex_lock(&points.mu);
                base_pc = points.total;
                pthread_mutex_unlock(&points.mu);
            }
        }
    }
    double secs = base_t ? (double)(ax_clock_mono_ns() - base_t) / 1e9 : 0;
    /* The callbacks still run: the totals are read under their locks. */
    uint64_t total[2], lost = 0, restarts = 0;
    struct topic_stats *all[2] = {&obstacles, &points};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&all[i]->mu);
        total[i] = all[i]->total;
        lost += all[i]->total_missing + all[i]->total_dropped;
        restarts += all[i]->restarts;
        pthread_mutex_unlock(&all[i]->mu);
    }
    double hz_obs = secs > 0 ? (double)(total[0] - base_obs) / secs : 0;
    double hz_pc = secs > 0 ? (double)(total[1] - base_pc) / secs : 0;
    bool ok = secs > 0 && fabs(hz_obs - expect_hz) <= expect_hz * 0.1 &&
              fabs(hz_pc - expect_hz) <= expect_hz * 0.1 && lost == 0 && restarts == 0;
    printf("planning_node: %s: obstacles %.1f Hz, points %.1f Hz, %llu lost or dropped, %llu "
           "publisher restart(s) (expected %.0f Hz each, nothing lost)\n",
           ok ? "OK" : "NOT OK", hz_obs, hz_pc, (unsigned long long)lost,
           (unsigned long long)restarts, expect_hz);
    ax_sub_free(s_obs);
    ax_sub_free(s_pc);
    ax_node_destroy(node);
    ax_config_fini(&cfg);
    return ok ? 0 : 1;
}
