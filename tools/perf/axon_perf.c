/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon_perf: axon's performance program (after Cyclone DDS's ddsperf),
 * through the public API only.
 *
 *   axon_perf pub  [--topic T] [--size N] [--rate HZ] [--secs S] [--domain D]
 *   axon_perf sub  [--topic T] [--secs S] [--domain D]
 *   axon_perf ping [--size N] [--count N] [--domain D]
 *   axon_perf pong [--domain D]
 *   (pub, sub, ping, pong: --busy-poll US sets node.busy_poll,
 *    --adaptive-poll US node.adaptive_poll)
 *   axon_perf bench [--quick] [--sizes LIST] [--secs S] [--subs N] [--tests LIST]
 *
 * pub/sub/ping/pong run one side each (start them in two terminals); they
 * print one line per second. `bench` runs both sides itself (subscribers in
 * fork()ed processes) and prints RESULT lines in the format of
 * tests/bench/peers, so tools/bench.sh puts axon beside raw TCP, ZeroMQ and
 * NNG in one run:
 *   thr     one-way throughput for each size, 1 subscriber, lossless
 *           (publish() backpressure: AX_EAGAIN is retried, never dropped)
 *   fanout  1 KiB to --subs subscriber processes (default 8)
 *   lat     64-byte ping-pong round trips, three times: impl=axon (the
 *           default configuration: adaptive polling, node.adaptive_poll =
 *           50 us), impl=axon_nopoll (no polling at all: adaptive_poll = 0)
 *           and impl=axon_busypoll (node.busy_poll = 100 us)
 *   join    time from a subscriber process's start to its first message
 * With --transport tcp (shared memory off) or tls (and TLS with a PSK from
 * a key made for the run) the rows are impl=axon_tcp or axon_tls, and lat
 * runs with the default polling only: TLS's cost, side by side.
 *
 * Nodes here run with node.threads = 0 and the publisher publishes from the
 * thread that also runs its loop (the direct path: no cross-thread queue),
 * spinning the loop between batches; a subscriber spins its own loop.
 * Every message carries a counter in its first 8 bytes; subscribers count
 * what was lost or out of order, so "lossless" is checked, not assumed.
 *
 * This file is main: the arguments and which runs `bench` makes. The runs
 * are in perf_thr.c, perf_lat.c and perf_join.c, what they share in
 * perf_common.c (perf.h).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

static void on_signal(int sig)
{
    (void)sig;
    perf_stop = 1;
}

static int bench(int argc, char **argv)
{
    struct perf_opts o = {.secs = 1.0, .subs = 8};
    snprintf(o.tests, sizeof o.tests, "thr,fanout,lat,join");
    const size_t defaults[] = {64, 1024, 65536, 1 << 20, 8 << 20};
    for (int i = 0; i < 5; i++)
        o.sizes[o.nsizes++] = defaults[i];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--quick") == 0) {
            o.quick = true;
            o.secs = 0.3;
        } else if (strcmp(a, "--secs") == 0) {
            o.secs = atof(v);
            i++;
        } else if (strcmp(a, "--subs") == 0) {
            o.subs = atoi(v);
            i++;
        } else if (strcmp(a, "--tests") == 0) {
            snprintf(o.tests, sizeof o.tests, "%s", v);
            i++;
        } else if (strcmp(a, "--sizes") == 0) {
            o.nsizes = 0;
            char *copy = strdup(v), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t && o.nsizes < 8;
                 t = strtok_r(NULL, ",", &save))
                o.sizes[o.nsizes++] = perf_parse_size(t);
            free(copy);
            i++;
        } else if (strcmp(a, "--transport") == 0) {
            if (strcmp(v, "tcp") == 0) {
                perf_transport = PERF_TCP;
                perf_impl = "axon_tcp";
            } else if (strcmp(v, "tls") == 0) {
                perf_transport = PERF_TLS;
                perf_impl = "axon_tls";
            } else {
                fprintf(stderr, "axon_perf: --transport takes tcp or tls\n");
                return 2;
            }
            i++;
        } else {
            /* options of the peer programs this one does not use are ignored,
             * so tools/bench.sh can pass the same arguments to every program */
            if (i + 1 < argc && argv[i + 1][0] != '-')
                i++;
        }
    }
    if (o.subs < 1 || o.subs > 16)
        o.subs = 8;
    if (perf_transport == PERF_TLS) { /* a domain key for this run only */
        snprintf(perf_key_file, sizeof perf_key_file, "/tmp/axon-perf-%d.key", (int)getpid());
        int rc = ax_key_generate(perf_key_file);
        if (rc < 0) {
            fprintf(stderr, "axon_perf: %s: %s\n", perf_key_file, ax_strerror(rc));
            return 1;
        }
    }
    if (strstr(o.tests, "thr"))
        for (int i = 0; i < o.nsizes; i++)
            perf_bench_thr(&o, "thr", o.sizes[i], 1);
    if (strstr(o.tests, "fanout"))
        perf_bench_thr(&o, "fanout", 1024, o.subs);
    if (strstr(o.tests, "lat") && perf_transport != PERF_DEFAULT) {
        perf_bench_lat(&o, perf_impl, 0, -1); /* the default polling only */
    } else if (strstr(o.tests, "lat")) {
        perf_bench_lat(&o, "axon", 0, -1);
        perf_bench_lat(&o, "axon_nopoll", 0, 0);
        perf_bench_lat(&o, "axon_busypoll", 100 * AX_NS_PER_US, -1);
    }
    if (strstr(o.tests, "join"))
        perf_bench_join(&o);
    if (perf_key_file[0])
        unlink(perf_key_file);
    return 0;
}

static void usage(void)
{
    printf("usage:\n"
           "  axon_perf pub  [--topic T] [--size N] [--rate HZ] [--secs S] [--domain D]\n"
           "  axon_perf sub  [--topic T] [--secs S] [--domain D]\n"
           "  axon_perf ping [--size N] [--count N] [--domain D]\n"
           "  axon_perf pong [--secs S] [--domain D]\n"
           "  axon_perf bench [--quick] [--sizes 64,1k,1m] [--secs S] [--subs N]\n"
           "                  [--tests thr,fanout,lat,join] [--transport tcp|tls]\n"
           "pub, sub, ping and pong take --busy-poll US (node.busy_poll: poll this long\n"
           "before sleeping; default 0) and --adaptive-poll US (node.adaptive_poll: poll\n"
           "after sending while answers come faster than this; default 50). bench measures\n"
           "lat with the defaults, with no polling, and with busy polling for 100 us.\n"
           "bench --transport tcp: shared memory off (TCP on loopback); tls: TCP with\n"
           "security.tls: psk and a domain key made for the run (rows axon_tcp, axon_tls).\n"
           "example: axon_perf sub & axon_perf pub --size 1k --rate 1000\n");
}

int main(int argc, char **argv)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage();
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "bench") == 0)
        return bench(argc - 1, argv + 1);
    const char *topic = "/perf/data";
    size_t size = 64;
    double rate = 0, secs = 0;
    long count = 10000;
    static const struct option opts[] = {{"topic", 1, 0, 't'},     {"size", 1, 0, 's'},
                                         {"rate", 1, 0, 'r'},      {"secs", 1, 0, 'S'},
                                         {"count", 1, 0, 'c'},     {"domain", 1, 0, 'd'},
                                         {"busy-poll", 1, 0, 'b'}, {"adaptive-poll", 1, 0, 'a'},
                                         {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            topic = optarg;
            break;
        case 's':
            size = perf_parse_size(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'S':
            secs = atof(optarg);
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 'd':
            perf_domain = (uint32_t)atol(optarg);
            perf_domain_set = true;
            break;
        case 'b':
            perf_busy_poll_ns = (int64_t)(atof(optarg) * 1e3);
            break;
        case 'a':
            perf_adaptive_poll_ns = (int64_t)(atof(optarg) * 1e3);
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (strcmp(mode, "pub") == 0)
        return perf_run_pub(topic, size, rate, secs);
    if (strcmp(mode, "sub") == 0)
        return perf_run_sub(topic, secs);
    if (strcmp(mode, "ping") == 0) {
        struct perf_lat_result res;
        perf_run_ping("/perf/pp", size, count, &res);
        if (!res.samples) {
            printf("ping %zu B: no round trip (is `axon_perf pong` running?)\n", size);
            return 1;
        }
        printf("ping %zu B: %ld round trips: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f "
               "us, CPU %.1f us per round trip (this side)\n",
               size, res.samples, res.p50, res.p99, res.p999, res.max,
               (double)res.cpu_ns / 1e3 / (double)res.samples);
        return 0;
    }
    if (strcmp(mode, "pong") == 0) {
        perf_run_pong("/perf/pp", -1, secs);
        return 0;
    }
    usage();
    return 2;
}
