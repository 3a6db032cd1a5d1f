/* SPDX-License-Identifier: Apache-2.0 */
/*
 * disc_probe: one discovery node in its own process, driven by the
 * integration tests in tests/integration. It registers K endpoints, prints
 * what it sees as lines on stdout, and exits when stdin closes (or "quit"),
 * destroying its node, or after --timeout-ms.
 *
 * Output lines:
 *   READY id=<hex> incarnation=<hex> tcp=<ip:port> unicast=<ip:port>
 *   JOIN name=<n> id=<hex> incarnation=<hex> tcp=<ip:port>
 *   LEAVE name=<n> id=<hex> expired=<0|1> exited=<0|1>
 *   CONVERGED ms=<since start> nodes=<n> endpoints=<n>
 *       (once: --expect-nodes other nodes, all complete, holding
 *        --expect-endpoints endpoints in total)
 *   STATS rx=.. undecodable=.. bad_version=.. other_domain=.. tx=.. tx_bytes=..
 *         leases_expired=.. hb_skipped=.. host_nodes=.. host_beats=..
 *       (at the end, and whenever "stats" is read on stdin)
 *   TIMEOUT nodes=<n> endpoints=<n>
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_say.h"
#include "axon/axon.h"
#include "core/ax__node.h"

static void on_event(ax_node *n, const struct ax_graph_event *ev, void *user)
{
    (void)n;
    (void)user;
    if (ev->kind == AX_EVENT_NODE_JOIN)
        say("JOIN name=%s id=%016llx incarnation=%016llx tcp=%s", ev->node.name,
            (unsigned long long)ev->node.id, (unsigned long long)ev->node.incarnation,
            ev->node.tcp);
    else if (ev->kind == AX_EVENT_NODE_LEAVE)
        say("LEAVE name=%s id=%016llx expired=%d exited=%d", ev->node.name,
            (unsigned long long)ev->node.id, ev->lease_expired ? 1 : 0, ev->exited ? 1 : 0);
}

static void say_stats(ax_node *node)
{
    struct ax_discovery_stats st;
    ax_node_discovery_stats(node, &st);
    say("STATS rx=%llu undecodable=%llu bad_version=%llu other_domain=%llu tx=%llu tx_bytes=%llu "
        "leases_expired=%llu hb_skipped=%llu host_nodes=%llu host_beats=%llu",
        (unsigned long long)st.rx_datagrams, (unsigned long long)st.rx_undecodable,
        (unsigned long long)st.rx_bad_version, (unsigned long long)st.rx_other_domain,
        (unsigned long long)st.tx_datagrams, (unsigned long long)st.tx_bytes,
        (unsigned long long)st.leases_expired, (unsigned long long)st.heartbeats_skipped,
        (unsigned long long)st.host_table_nodes, (unsigned long long)st.host_beats_sent);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: disc_probe --name N [--domain D] [--config FILE] [--endpoints K]\n"
            "  [--expect-nodes M] [--expect-endpoints E] [--mode local|network|peers]\n"
            "  [--interface IF] [--peers a,b] [--timeout-ms T] [--lease D] [--heartbeat D]\n"
            "  [--host-table true|false]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct ax_config cfg;
    ax_config_init(&cfg);
    cfg.log_level = AX_LOG_WARN;
    const char *config_file = NULL, *name = "probe", *mode = NULL, *iface = NULL, *peers = NULL,
               *lease = NULL, *heartbeat = NULL, *host_table = NULL;
    long domain = -1, endpoints = 0, expect_nodes = -1, expect_eps = -1, timeout_ms = 60000;
    static const struct option opts[] = {
        {"name", 1, 0, 'n'},         {"domain", 1, 0, 'd'},
        {"config", 1, 0, 'c'},       {"endpoints", 1, 0, 'e'},
        {"expect-nodes", 1, 0, 'N'}, {"expect-endpoints", 1, 0, 'E'},
        {"mode", 1, 0, 'm'},         {"interface", 1, 0, 'i'},
        {"peers", 1, 0, 'p'},        {"timeout-ms", 1, 0, 't'},
        {"lease", 1, 0, 'L'},        {"heartbeat", 1, 0, 'H'},
        {"host-table", 1, 0, 'T'},   {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            name = optarg;
            break;
        case 'd':
            domain = atol(optarg);
            break;
        case 'c':
            config_file = optarg;
            break;
        case 'e':
            endpoints = atol(optarg);
            break;
        case 'N':
            expect_nodes = atol(optarg);
            break;
        case 'E':
            expect_eps = atol(optarg);
            break;
        case 'm':
            mode = optarg;
            break;
        case 'i':
            iface = optarg;
            break;
        case 'p':
            peers = optarg;
            break;
        case 't':
            timeout_ms = atol(optarg);
            break;
        case 'L':
            lease = optarg;
            break;
        case 'H':
            heartbeat = optarg;
            break;
        case 'T':
            host_table = optarg;
            break;
        default:
            usage();
        }
    }
    struct ax_config_error err;
    char ebuf[512];
    if (config_file && ax_config_load_file(&cfg, config_file, &err) < 0) {
        fprintf(stderr, "%s\n", ax_config_error_str(&err, ebuf, sizeof ebuf));
        return 1;
    }
    /* Command-line settings as a YAML document: the same validation. */
    char yaml[4096];
    int len = snprintf(yaml, sizeof yaml, "node:\n  name: \"%s\"\n", name);
    if (domain >= 0)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  domain: %ld\n", domain);
    len += snprintf(yaml + len, sizeof yaml - (size_t)len, "discovery:\n");
    if (mode)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  mode: %s\n", mode);
    if (iface)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  interface: \"%s\"\n", iface);
    if (lease)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  lease: %s\n", lease);
    if (heartbeat)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  heartbeat: %s\n", heartbeat);
    if (host_table)
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  host_table: %s\n", host_table);
    if (peers) {
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "  peers: [");
        char *copy = strdup(peers), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            len += snprintf(yaml + len, sizeof yaml - (size_t)len, "\"%s\", ", t);
        free(copy);
        len += snprintf(yaml + len, sizeof yaml - (size_t)len, "]\n");
    }
    if (ax_config_load_string(&cfg, yaml, "command line", &err) < 0 ||
        ax_config_apply_env(&cfg, &err) < 0) {
        fprintf(stderr, "%s\n", ax_config_error_str(&err, ebuf, sizeof ebuf));
        return 1;
    }
    int64_t t0 = ax_clock_mono_ns();
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    if (rc < 0) {
        fprintf(stderr, "disc_probe: node: %s\n", ax_strerror(rc));
        return 1;
    }
    ax_node_set_graph_listener(node, on_event, NULL, NULL);

    struct ax__local_ep *eps = calloc((size_t)endpoints + 1, sizeof *eps);
    struct ax__ep_counters *ctr = calloc((size_t)endpoints + 1, sizeof *ctr);
    for (long i = 0; i < endpoints; i++) {
        eps[i].kind = i % 2 ? AX_ENDPOINT_SUBSCRIBER : AX_ENDPOINT_PUBLISHER;
        snprintf(eps[i].topic, sizeof eps[i].topic, "/probe/%s/topic_%04ld", name, i);
        snprintf(eps[i].type_name, sizeof eps[i].type_name, "axon.test.Probe");
        memset(eps[i].type_hash, (int)i, sizeof eps[i].type_hash);
        eps[i].qos = AX_QOS_DEFAULT;
        eps[i].ctr = &ctr[i];
        ax__node_add_endpoint(node, &eps[i]);
    }
    struct ax_node_info self[1];
    size_t n;
    ax_node_list_nodes(node, self, 1, &n);
    say("READY id=%016llx incarnation=%016llx tcp=%s unicast=%s", (unsigned long long)self->id,
        (unsigned long long)self->incarnation, self->tcp, self->unicast);

    bool converged = false;
    int exit_code = 0;
    struct ax_node_info *infos = NULL;
    size_t cap = 0;
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        if (poll(&p, 1, 10) > 0) {
            char line[64];
            if (!fgets(line, sizeof line, stdin) || strncmp(line, "quit", 4) == 0)
                break;
            if (strncmp(line, "stats", 5) == 0)
                say_stats(node);
        }
        ax_node_list_nodes(node, infos, cap, &n);
        if (n > cap) {
            cap = n * 2;
            infos = realloc(infos, cap * sizeof *infos);
            continue;
        }
        size_t others = 0, eps_seen = 0;
        bool complete = true;
        for (size_t i = 0; i < n; i++) {
            if (infos[i].is_self)
                continue;
            others++;
            eps_seen += infos[i].publishers + infos[i].subscribers;
            complete = complete && infos[i].complete;
        }
        if (!converged && expect_nodes >= 0 && (long)others == expect_nodes && complete &&
            (expect_eps < 0 || (long)eps_seen == expect_eps)) {
            converged = true;
            say("CONVERGED ms=%.1f nodes=%zu endpoints=%zu",
                (double)(ax_clock_mono_ns() - t0) / 1e6, others, eps_seen);
        }
        if (ax_clock_mono_ns() - t0 > timeout_ms * AX_NS_PER_MS) {
            say("TIMEOUT nodes=%zu endpoints=%zu", others, eps_seen);
            exit_code = 3;
            break;
        }
    }
    say_stats(node);
    ax_node_destroy(node);
    say("BYE");
    free(infos);
    free(eps);
    free(ctr);
    ax_config_fini(&cfg);
    return exit_code;
}
