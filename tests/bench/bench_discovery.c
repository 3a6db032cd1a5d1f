/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_discovery: discovery figures for docs/performance.md (a program,
 * not a test).
 *
 *   bench_discovery [--quick] [--join-only] [--key FILE]
 *
 * --key: every node has that domain key (security.key_file): datagrams
 * signed and checked, handshakes proven (docs/security.md).
 *
 *  1. join latency: time from ax_node_new() of a node to its presence in
 *     another (already running) node's table, one host, 20 runs;
 *  2. idle cost: CPU and RSS of a process with one idle node for 10 s
 *     (heartbeats and refreshes still running);
 *  3. traffic: datagrams and bytes per second sent by 10 nodes with 100
 *     endpoints each, in steady state.
 * Kill detection is measured by tests/integration/test_disc_procs (kill -9
 * of a real process), which prints it.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/axon.h"
#include "core/ax__node.h"

static bool host_table = true; /* discovery.host_table of the nodes made */
static const char *key_file;   /* --key: security.key_file of the nodes made */

static ax_node *make(const char *name, uint32_t domain)
{
    struct ax_config c;
    ax_config_init(&c);
    snprintf(c.node_name, sizeof c.node_name, "%s", name);
    c.domain = domain;
    c.discovery.host_table = host_table;
    if (key_file)
        snprintf(c.security.key_file, sizeof c.security.key_file, "%s", key_file);
    ax_node *n;
    if (ax_node_new(&n, &c) < 0) {
        fprintf(stderr, "node failed\n");
        exit(1);
    }
    ax_config_fini(&c);
    return n;
}

static size_t nodes_in(ax_node *n)
{
    size_t k;
    ax_node_list_nodes(n, NULL, 0, &k);
    return k;
}

static void nap_ms(int ms)
{
    poll(NULL, 0, ms);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool quick = false, join_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--join-only") == 0)
            join_only = true;
        else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
            key_file = argv[++i];
        else {
            fprintf(stderr, "usage: bench_discovery [--quick] [--join-only] [--key FILE]\n");
            return 2;
        }
    }
    uint32_t dom = 200 + (uint32_t)(getpid() % 30);

    /* 1. join latency */
    ax_node *a = make("anchor", dom);
    double ms[20];
    int runs = quick ? 5 : 20;
    for (int i = 0; i < runs; i++) {
        int64_t t0 = ax_clock_mono_ns();
        ax_node *b = make("joiner", dom);
        while (nodes_in(a) < 2)
            nap_ms(0);
        ms[i] = (double)(ax_clock_mono_ns() - t0) / 1e6;
        ax_node_destroy(b);
        while (nodes_in(a) > 1)
            nap_ms(1);
    }
    qsort(ms, (size_t)runs, sizeof ms[0], cmp_d);
    printf("join: a new node is in another node's table after %.2f ms median, %.2f ms worst "
           "(%d runs, one host)\n",
           ms[runs / 2], ms[runs - 1], runs);
    ax_node_destroy(a);
    if (join_only)
        return 0;

    /* 2. idle cost */
    long rss0 = rss_kib();
    ax_node *idle = make("idle", dom + 1);
    long rss1 = rss_kib();
    int secs = quick ? 2 : 10;
    int64_t cpu0 = ax_clock_cpu_ns(), wall0 = ax_clock_mono_ns();
    nap_ms(secs * 1000);
    double cpu = (double)(ax_clock_cpu_ns() - cpu0) / (double)(ax_clock_mono_ns() - wall0);
    printf("idle: one node uses %.3f %% of a core; process RSS %ld KiB (%+ld KiB for the node)\n",
           cpu * 100, rss1, rss1 - rss0);
    ax_node_destroy(idle);

    /* 3. traffic of 10 nodes x 100 endpoints, with the host table (the
     * default) and without it (heartbeats by multicast, as between hosts) */
    for (int pass = 0; pass < 2; pass++) {
        host_table = pass == 0;
        ax_node *n[10];
        struct ax__local_ep *eps = calloc(1000, sizeof *eps);
        struct ax__ep_counters *ctr = calloc(1000, sizeof *ctr);
        for (int i = 0; i < 10; i++) {
            char name[16];
            snprintf(name, sizeof name, "t%d", i);
            n[i] = make(name, dom + 2 + (uint32_t)pass);
            for (int k = 0; k < 100; k++) {
                struct ax__local_ep *e = &eps[i * 100 + k];
                e->kind = k % 2 ? AX_ENDPOINT_SUBSCRIBER : AX_ENDPOINT_PUBLISHER;
                snprintf(e->topic, sizeof e->topic, "/vehicle/subsystem_%d/topic_%03d", i, k);
                snprintf(e->type_name, sizeof e->type_name, "axon.sensor.PointCloud");
                e->qos = AX_QOS_SENSOR_DATA;
                e->ctr = &ctr[i * 100 + k];
                ax__node_add_endpoint(n[i], e);
            }
        }
        size_t total;
        do {
            nap_ms(10);
            ax_node_list_endpoints(n[0], NULL, NULL, 0, &total);
        } while (total < 1000);
        nap_ms(1500); /* past the start-up burst */
        struct ax_discovery_stats s0[10], s1[10];
        for (int i = 0; i < 10; i++)
            ax_node_discovery_stats(n[i], &s0[i]);
        int64_t t0 = ax_clock_mono_ns();
        nap_ms(quick ? 2000 : 10000);
        double dt = (double)(ax_clock_mono_ns() - t0) / 1e9;
        uint64_t dg = 0, bytes = 0;
        for (int i = 0; i < 10; i++) {
            ax_node_discovery_stats(n[i], &s1[i]);
            dg += s1[i].tx_datagrams - s0[i].tx_datagrams;
            bytes += s1[i].tx_bytes - s0[i].tx_bytes;
        }
        struct ax_config dc;
        ax_config_init(&dc);
        char hb[32], rf[32];
        ax_duration_format(dc.discovery.heartbeat_ns, hb, sizeof hb);
        ax_duration_format(dc.discovery.refresh_ns, rf, sizeof rf);
        printf("traffic: 10 nodes x 100 endpoints send %.0f datagrams/s, %.1f KiB/s in total "
               "(%.1f KiB/s per node; heartbeat %s, refresh %s, host table %s)\n",
               dg / dt, bytes / dt / 1024, bytes / dt / 1024 / 10, hb, rf,
               host_table ? "on" : "off");
        ax_config_fini(&dc);
        for (int i = 0; i < 10; i++)
            ax_node_destroy(n[i]);
        free(eps);
        free(ctr);
    }
    return 0;
}
