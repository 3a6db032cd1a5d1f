/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_scale: one process of the discovery scale benchmark
 * (tools/scale.sh, issue 14). A program, not a test.
 *
 *   bench_scale --role node --name N --domain D [--pubs 3] [--rate 1]
 *       a node with --pubs publishers (raw bytes, /scale/<name>/t<i>), each
 *       publishing 64 bytes at --rate Hz from the main thread: the load of
 *       a quiet robot process. It runs until SIGTERM (or --lifetime-s, 600
 *       by default) and destroys its node (Bye).
 *
 *   bench_scale --role observer --domain D --expect-nodes N --watch-topic T
 *       a node with one subscription of T (so T's publisher is a matched
 *       peer) that watches its table every 2 ms and prints, with
 *       CLOCK_REALTIME stamps in ns:
 *         CONVERGED t=<ns> nodes=<n> endpoints=<n>   all N others complete,
 *                                                    with --pubs each
 *         UNMATCHED t=<ns>                           its subscription's
 *                                                    publisher is gone
 *         GONE name=<n> t=<ns>     (after "gone NAME" on stdin)
 *         BACK name=<n> t=<ns>     (after "back NAME" on stdin)
 *         TABLE nodes=<n> complete=<n> publishers=<n>   (at exit)
 *       and exits when stdin closes.
 * Its own CPU is not the nodes': the script sums the node processes only.
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_say.h"
#include "axon/axon.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_msg(ax_sub *s, const struct ax_msg *m, void *user)
{
    (void)s;
    (void)m;
    (void)user;
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    (void)self;
    (void)user;
    if (ev->kind == AX_PS_UNMATCHED)
        say("UNMATCHED t=%lld", (long long)ax_clock_real_ns());
}

static int run_node(ax_node *node, const char *name, long pubs, long rate, long lifetime_s)
{
    ax_pub *p[16];
    if (pubs > 16)
        pubs = 16;
    for (long i = 0; i < pubs; i++) {
        char topic[AX_TOPIC_MAX];
        snprintf(topic, sizeof topic, "/scale/%s/t%ld", name, i);
        if (ax_pub_new_raw(&p[i], node, topic, "axon.bench.Scale", NULL) < 0)
            return 1;
    }
    uint8_t payload[64] = {0};
    int64_t period = AX_NS_PER_S / (rate > 0 ? rate : 1);
    int64_t next = ax_clock_mono_ns(), end = next + lifetime_s * AX_NS_PER_S;
    while (!stop && ax_clock_mono_ns() < end) {
        for (long i = 0; i < pubs; i++)
            (void)ax_pub_publish_bytes(p[i], payload, sizeof payload);
        next += period;
        int64_t wait = next - ax_clock_mono_ns();
        poll(NULL, 0, wait > 0 ? (int)(wait / AX_NS_PER_MS) : 0); /* SIGTERM ends it early */
    }
    for (long i = 0; i < pubs; i++)
        ax_pub_free(p[i]);
    return 0;
}

static bool has_node(const struct ax_node_info *infos, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!infos[i].is_self && strcmp(infos[i].name, name) == 0 && infos[i].complete)
            return true;
    return false;
}

static int run_observer(ax_node *node, long expect_nodes, long pubs, const char *watch_topic)
{
    ax_sub *sub = NULL;
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.on_event = on_event;
    if (watch_topic &&
        ax_sub_new_raw(&sub, node, watch_topic, "axon.bench.Scale", on_msg, NULL, &so) < 0)
        return 1;
    size_t cap = (size_t)expect_nodes + 16, n = 0;
    struct ax_node_info *infos = calloc(cap, sizeof *infos);
    bool converged = false;
    char gone[AX_NODE_NAME_MAX] = "", back[AX_NODE_NAME_MAX] = "";
    while (!stop) {
        struct pollfd in = {.fd = 0, .events = POLLIN};
        if (poll(&in, 1, 2) > 0) {
            char line[128];
            if (!fgets(line, sizeof line, stdin))
                break;
            line[strcspn(line, "\n")] = '\0';
            if (strncmp(line, "gone ", 5) == 0)
                snprintf(gone, sizeof gone, "%s", line + 5);
            else if (strncmp(line, "back ", 5) == 0)
                snprintf(back, sizeof back, "%s", line + 5);
        }
        ax_node_list_nodes(node, infos, cap, &n);
        if (n > cap) {
            cap = n * 2;
            free(infos);
            infos = calloc(cap, sizeof *infos);
            continue;
        }
        if (!converged) {
            size_t others = 0, eps = 0;
            bool complete = true;
            for (size_t i = 0; i < n; i++) {
                if (infos[i].is_self)
                    continue;
                others++;
                eps += infos[i].publishers;
                complete = complete && infos[i].complete;
            }
            if ((long)others == expect_nodes && complete && (long)eps == expect_nodes * pubs) {
                converged = true;
                say("CONVERGED t=%lld nodes=%zu endpoints=%zu", (long long)ax_clock_real_ns(),
                    others, eps);
            }
        }
        if (gone[0] && !has_node(infos, n, gone)) {
            bool present = false; /* complete or not */
            for (size_t i = 0; i < n; i++)
                present = present || (!infos[i].is_self && strcmp(infos[i].name, gone) == 0);
            if (!present) {
                say("GONE name=%s t=%lld", gone, (long long)ax_clock_real_ns());
                gone[0] = '\0';
            }
        }
        if (back[0] && has_node(infos, n, back)) {
            say("BACK name=%s t=%lld", back, (long long)ax_clock_real_ns());
            back[0] = '\0';
        }
    }
    size_t others = 0, eps = 0, complete = 0;
    for (size_t i = 0; i < n && i < cap; i++) {
        if (infos[i].is_self)
            continue;
        others++;
        eps += infos[i].publishers;
        complete += infos[i].complete;
    }
    say("TABLE nodes=%zu complete=%zu publishers=%zu", others, complete, eps);
    free(infos);
    ax_sub_free(sub);
    return 0;
}

int main(int argc, char **argv)
{
    const char *role = "node", *name = "scale", *watch_topic = NULL;
    long domain = 0, pubs = 3, rate = 1, expect_nodes = 0, lifetime_s = 600;
    static const struct option opts[] = {
        {"role", 1, 0, 'r'},        {"name", 1, 0, 'n'},       {"domain", 1, 0, 'd'},
        {"pubs", 1, 0, 'p'},        {"rate", 1, 0, 'h'},       {"expect-nodes", 1, 0, 'N'},
        {"watch-topic", 1, 0, 'w'}, {"lifetime-s", 1, 0, 'l'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            role = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'd':
            domain = atol(optarg);
            break;
        case 'p':
            pubs = atol(optarg);
            break;
        case 'h':
            rate = atol(optarg);
            break;
        case 'N':
            expect_nodes = atol(optarg);
            break;
        case 'w':
            watch_topic = optarg;
            break;
        case 'l':
            lifetime_s = atol(optarg);
            break;
        default:
            return 2;
        }
    }
    signal(SIGTERM, on_term);
    struct ax_config cfg;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "%s", name);
    cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_ERROR;
    struct ax_config_error err;
    if (ax_config_apply_env(&cfg, &err) < 0) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 2;
    }
    ax_node *node;
    if (ax_node_new(&node, &cfg) < 0) {
        fprintf(stderr, "bench_scale: no node\n");
        return 1;
    }
    say("READY pid=%d", (int)getpid());
    int rc = strcmp(role, "observer") == 0 ? run_observer(node, expect_nodes, pubs, watch_topic)
                                           : run_node(node, name, pubs, rate, lifetime_s);
    ax_node_destroy(node);
    ax_config_fini(&cfg);
    return rc;
}
