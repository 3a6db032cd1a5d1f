/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipe_probe: one stage of a three-process pipeline (test_pipeline_procs.c):
 *
 *   --role source --count N --size S   publishes N messages of S bytes on
 *                  /pipe/in from the application thread once a subscriber
 *                  is connected, each numbered in its first 8 bytes; a
 *                  publish refused for want of room is tried again
 *                  (counted as a retry, nothing is lost). Says
 *                  SENT n=<N> retries=<r> drops=<its publisher's drops>.
 *   --role middle  subscribes /pipe/in (overload --input-overload: block by
 *                  default) and, in the callback, publishes each message on
 *                  /pipe/out. Its node's write queues are small
 *                  (transport.queue_bytes 64 KiB), so its output fills.
 *   --role sink --delay-us D   subscribes /pipe/out (block) and spends D
 *                  microseconds on each message (a slow consumer), checking
 *                  the numbers arrive in order.
 *   --role pair --delay-us D   two subscriptions of /pipe/in on one node
 *                  (QoS per subscription): first a viewer (sensor_data:
 *                  best effort, latest only) that spends D microseconds on
 *                  each message, then a lossless recorder (block) that
 *                  checks the numbers arrive in order. After each REPORT
 *                  it says VIEW view_got=<the viewer's messages>
 *                  view_drops=<its drops> view_order_errors=<a number
 *                  not above the last> view_counted=<its counter>.
 *
 * Each says READY once its endpoints exist; "report" prints
 *   REPORT got=<in> forwarded=<out> refused=<publishes refused>
 *          drops=<its publisher's drops> sub_drops=<its subscription's lost>
 *          order_errors=<n>
 * and "quit" (or end of stdin) exits.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ax_say.h"
#include "axon/axon.h"

static ax_pub *out;
static atomic_ullong got, forwarded, refused, order_errors;
static uint64_t last_seen;
static long delay_us;
static atomic_ullong view_got, view_order_errors;
static uint64_t view_last;

static uint64_t number_of(const struct ax_msg *m)
{
    uint64_t n = 0;
    memcpy(&n, m->data, m->len < 8 ? m->len : 8);
    return n;
}

/* A slow consumer: work, not a wait for anything. */
static void work(long us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void on_msg(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)user;
    uint64_t n = number_of(m);
    if (n != last_seen + 1)
        atomic_fetch_add(&order_errors, 1);
    last_seen = n;
    atomic_fetch_add(&got, 1);
    if (out) {
        if (ax_pub_publish_bytes(out, m->data, m->len) == 0)
            atomic_fetch_add(&forwarded, 1);
        else
            atomic_fetch_add(&refused, 1); /* lost: the pipeline's fault this test looks for */
    }
    if (delay_us && !user)
        work(delay_us);
}

static void on_view(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)user;
    uint64_t n = number_of(m);
    if (n <= view_last)
        atomic_fetch_add(&view_order_errors, 1);
    view_last = n;
    atomic_fetch_add(&view_got, 1);
    work(delay_us);
}

static uint64_t drops_of(ax_pub *p)
{
    struct ax_endpoint_counters c;
    uint64_t d = 0;
    if (p && ax_pub_counters(p, &c) == 0)
        for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
            d += c.drops[i];
    return d;
}

int main(int argc, char **argv)
{
    const char *role = "sink", *input_overload = "block";
    long domain = 0, count = 1000, size = 4096;
    static const struct option opts[] = {
        {"role", 1, 0, 'r'}, {"domain", 1, 0, 'd'},   {"count", 1, 0, 'n'},
        {"size", 1, 0, 's'}, {"delay-us", 1, 0, 'w'}, {"input-overload", 1, 0, 'o'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            role = optarg;
            break;
        case 'd':
            domain = strtol(optarg, NULL, 10);
            break;
        case 'n':
            count = strtol(optarg, NULL, 10);
            break;
        case 's':
            size = strtol(optarg, NULL, 10);
            break;
        case 'w':
            delay_us = strtol(optarg, NULL, 10);
            break;
        case 'o':
            input_overload = optarg;
            break;
        default:
            return 2;
        }
    }
    struct ax_config cfg;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "pipe-%s", role);
    cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_ERROR;
    bool middle = strcmp(role, "middle") == 0;
    if (middle)
        cfg.transport.queue_bytes = 64 * 1024; /* its output fills soon */
    ax_node *node;
    if (ax_node_new(&node, &cfg) < 0)
        return 1;
    ax_config_fini(&cfg);
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.overload =
        strcmp(input_overload, "block") == 0 ? AX_OVERLOAD_BLOCK : AX_OVERLOAD_DROP_OLDEST;
    ax_pub *in = NULL;
    ax_sub *sub = NULL, *view = NULL;
    bool pair = strcmp(role, "pair") == 0;
    if (pair) {
        struct ax_sub_options vo;
        ax_sub_options_init(&vo);
        vo.qos = AX_QOS_SENSOR_DATA;
        so.qos.overload = AX_OVERLOAD_BLOCK;
        /* user != NULL: the recorder does not do the viewer's work */
        if (ax_sub_new_raw(&view, node, "/pipe/in", "pipe.Bytes", on_view, NULL, &vo) < 0 ||
            ax_sub_new_raw(&sub, node, "/pipe/in", "pipe.Bytes", on_msg, &so, &so) < 0)
            return 1;
    } else if (strcmp(role, "source") == 0) {
        if (ax_pub_new_raw(&in, node, "/pipe/in", "pipe.Bytes", NULL) < 0)
            return 1;
    } else {
        if (middle && ax_pub_new_raw(&out, node, "/pipe/out", "pipe.Bytes", NULL) < 0)
            return 1;
        so.qos.overload = middle ? so.qos.overload : AX_OVERLOAD_BLOCK;
        if (ax_sub_new_raw(&sub, node, middle ? "/pipe/in" : "/pipe/out", "pipe.Bytes", on_msg,
                           NULL, &so) < 0)
            return 1;
    }
    say("READY");
    if (in) {
        struct ax_endpoint_counters c;
        do { /* its one subscriber first (the test starts it before) */
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            ax_pub_counters(in, &c);
        } while (c.connections == 0);
        uint8_t *buf = calloc(1, (size_t)size);
        unsigned long long retries = 0;
        for (long i = 1; buf && i <= count; i++) {
            uint64_t n = (uint64_t)i;
            memcpy(buf, &n, sizeof n);
            int rc;
            while ((rc = ax_pub_publish_bytes(in, buf, (size_t)size)) == AX_ETIMEDOUT ||
                   rc == AX_EAGAIN)
                retries++;
        }
        free(buf);
        say("SENT n=%ld retries=%llu drops=%llu", count, retries, (unsigned long long)drops_of(in));
    }
    char line[128];
    while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0) {
        if (strncmp(line, "report", 6) == 0) {
            struct ax_endpoint_counters sc = {0};
            if (sub)
                ax_sub_counters(sub, &sc);
            say("REPORT got=%llu forwarded=%llu refused=%llu drops=%llu sub_drops=%llu "
                "order_errors=%llu",
                (unsigned long long)atomic_load(&got), (unsigned long long)atomic_load(&forwarded),
                (unsigned long long)atomic_load(&refused),
                (unsigned long long)drops_of(out ? out : in),
                (unsigned long long)(sc.drops[AX_DROP_LIFESPAN] + sc.gaps),
                (unsigned long long)atomic_load(&order_errors));
            if (view) {
                struct ax_endpoint_counters vc = {0};
                ax_sub_counters(view, &vc);
                uint64_t vd = 0;
                for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
                    vd += vc.drops[i];
                say("VIEW view_got=%llu view_drops=%llu view_order_errors=%llu "
                    "view_counted=%llu",
                    (unsigned long long)atomic_load(&view_got), (unsigned long long)vd,
                    (unsigned long long)atomic_load(&view_order_errors),
                    (unsigned long long)vc.messages);
            }
        }
    }
    ax_node_destroy(node);
    return 0;
}
