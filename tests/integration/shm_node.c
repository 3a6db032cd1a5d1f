/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shm_node: a publisher or a subscriber of large raw messages in its own
 * process, for tests/integration/test_shm_procs.c and shm_netns.sh, through
 * the public API only.
 *
 *   shm_node --domain D --name N [--config FILE] [--mode local|network]
 *            [--interface IF] [--lease DUR --heartbeat DUR]
 *            --pub TOPIC --size BYTES --count N [--rate HZ]
 *          | --sub TOPIC [--retain N] [--shm default|auto|off|require]
 *
 * Message k (1, 2, ...) is written into a loan (ax_pub_loan): its first 8
 * bytes are k, the rest the byte (k * 7 + i). A subscriber checks every
 * one and may keep the first --retain of them (ax_msg_retain).
 *
 * Lines printed:
 *   READY id=<hex>
 *   SENT n=<n> enobufs=<n>                    publisher: after --count
 *   HELD n=<n>                                subscriber: --retain reached
 *   LINK transport=<tcp|shm|-> reason=<n> error=<AX_E...|0>
 *                                             subscriber: its first link,
 *                                             whenever it changes
 *   STATS received=<n> bad=<n>                on "stats"
 *   POOL in_use=<n> exhausted=<n> copied=<n>  on "pool"
 *   BYE                                       when it exits
 * Commands on stdin: "stats", "pool", "release" (drop what is retained),
 * "quit". It exits when stdin closes.
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_say.h"
#include "axon/axon.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void fill(uint8_t *p, size_t n, uint64_t k)
{
    memcpy(p, &k, n < 8 ? n : 8);
    for (size_t i = 8; i < n; i++)
        p[i] = (uint8_t)(k * 7 + i);
}

static bool check(const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    memcpy(&k, p, n < 8 ? n : 8);
    for (size_t i = 8; i < n; i += 4093) /* a byte per page or so */
        if (p[i] != (uint8_t)(k * 7 + i))
            return false;
    return n <= 8 || p[n - 1] == (uint8_t)(k * 7 + n - 1);
}

static uint64_t received, bad;
static struct ax_msg *kept[1024];
static unsigned nkept, want_keep;

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    (void)user;
    pthread_mutex_lock(&lock);
    received++;
    if (!check(m->data, m->len))
        bad++;
    bool said = false;
    if (nkept < want_keep && ax_msg_retain(m, &kept[nkept]) == 0 && ++nkept == want_keep)
        said = true;
    pthread_mutex_unlock(&lock);
    if (said)
        say("HELD n=%u", want_keep);
}

static void release_all(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < nkept; i++) {
        if (!check(kept[i]->data, kept[i]->len))
            bad++;
        ax_msg_release(kept[i]);
    }
    nkept = 0;
    want_keep = 0;
    pthread_mutex_unlock(&lock);
}

/* The subscription's first link, said whenever it changes. */
static void report_link(ax_sub *sub, struct ax_link_info *last, int *last_err)
{
    struct ax_endpoint_counters c;
    if (ax_sub_counters(sub, &c) < 0)
        return;
    struct ax_link_info li = {0};
    if (c.nlinks)
        li = c.links[0];
    if (li.transport == last->transport && li.reason == last->reason && c.last_error == *last_err)
        return;
    *last = li;
    *last_err = c.last_error;
    say("LINK transport=%s reason=%d error=%s", ax_link_transport_name(li.transport),
        (int)li.reason, c.last_error ? ax_err_name(c.last_error) : "0");
}

int main(int argc, char **argv)
{
    const char *name = "shm_node", *config = NULL, *pub_topic = NULL, *sub_topic = NULL;
    const char *mode = NULL, *iface = NULL, *shm = NULL, *lease = NULL, *heartbeat = NULL;
    unsigned domain = 0, count = 0, rate = 0;
    size_t size = 1u << 20;
    static const struct option opts[] = {
        {"domain", 1, 0, 'd'}, {"name", 1, 0, 'n'},      {"config", 1, 0, 'c'},
        {"pub", 1, 0, 'p'},    {"sub", 1, 0, 's'},       {"size", 1, 0, 'z'},
        {"count", 1, 0, 'k'},  {"rate", 1, 0, 'r'},      {"retain", 1, 0, 'R'},
        {"shm", 1, 0, 'S'},    {"mode", 1, 0, 'm'},      {"interface", 1, 0, 'i'},
        {"lease", 1, 0, 'L'},  {"heartbeat", 1, 0, 'H'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            domain = (unsigned)atoi(optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'p':
            pub_topic = optarg;
            break;
        case 's':
            sub_topic = optarg;
            break;
        case 'z':
            size = (size_t)atol(optarg);
            break;
        case 'k':
            count = (unsigned)atoi(optarg);
            break;
        case 'r':
            rate = (unsigned)atoi(optarg);
            break;
        case 'R':
            want_keep = (unsigned)atoi(optarg);
            break;
        case 'S':
            shm = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'i':
            iface = optarg;
            break;
        case 'L':
            lease = optarg;
            break;
        case 'H':
            heartbeat = optarg;
            break;
        default:
            return 2;
        }
    }
    if (want_keep > 1024)
        want_keep = 1024;
    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    if (config && ax_config_load_file(&cfg, config, &err) < 0) {
        fprintf(stderr, "%s:%d: %s: %s\n", err.file, err.line, err.key, err.message);
        return 2;
    }
    cfg.domain = domain;
    snprintf(cfg.node_name, sizeof cfg.node_name, "%s", name);
    if (mode && strcmp(mode, "network") == 0)
        cfg.discovery.mode = AX_DISCOVERY_NETWORK;
    if (iface)
        snprintf(cfg.discovery.interface, sizeof cfg.discovery.interface, "%s", iface);
    if ((lease && ax_duration_parse(lease, 0, &cfg.discovery.lease_ns, NULL, 0) < 0) ||
        (heartbeat && ax_duration_parse(heartbeat, 0, &cfg.discovery.heartbeat_ns, NULL, 0) < 0))
        return 2;
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    ax_config_fini(&cfg);
    if (rc < 0) {
        fprintf(stderr, "ax_node_new: %s\n", ax_strerror(rc));
        return 1;
    }
    ax_pub *pub = NULL;
    ax_sub *sub = NULL;
    if (pub_topic && (rc = ax_pub_new_raw(&pub, node, pub_topic, "test.Blob", NULL)) < 0)
        return 1;
    if (sub_topic) {
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        if (shm && strcmp(shm, "off") == 0)
            so.qos.shm = AX_SHM_OFF;
        else if (shm && strcmp(shm, "require") == 0)
            so.qos.shm = AX_SHM_REQUIRE;
        else if (shm && strcmp(shm, "auto") == 0)
            so.qos.shm = AX_SHM_AUTO;
        if ((rc = ax_sub_new_raw(&sub, node, sub_topic, "test.Blob", on_msg, NULL, &so)) < 0)
            return 1;
    }
    say("READY id=%016llx", (unsigned long long)ax_node_id(node));

    unsigned sent = 0, enobufs = 0;
    bool sent_said = false;
    struct ax_link_info last = {.transport = AX_LINK_NONE, .reason = (enum ax_shm_reason) - 1};
    int last_err = 1;
    int64_t next = ax_clock_mono_ns();
    for (;;) {
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, pub && sent < count ? 1 : 50) > 0) {
            char line[64];
            if (!fgets(line, sizeof line, stdin) || strncmp(line, "quit", 4) == 0)
                break;
            if (strncmp(line, "stats", 5) == 0) {
                pthread_mutex_lock(&lock);
                uint64_t r = received, b = bad;
                pthread_mutex_unlock(&lock);
                say("STATS received=%llu bad=%llu", (unsigned long long)r, (unsigned long long)b);
            } else if (strncmp(line, "pool", 4) == 0 && pub) {
                struct ax_pool_stats ps;
                ax_pub_pool_stats(pub, &ps);
                say("POOL in_use=%llu exhausted=%llu copied=%llu", (unsigned long long)ps.in_use,
                    (unsigned long long)ps.exhausted, (unsigned long long)ps.copied);
            } else if (strncmp(line, "release", 7) == 0) {
                release_all();
            }
        }
        if (sub)
            report_link(sub, &last, &last_err);
        if (pub && sent < count) {
            struct ax_endpoint_counters c;
            ax_pub_counters(pub, &c);
            if (c.connections == 0 || ax_clock_mono_ns() < next)
                continue;
            struct ax_loan loan;
            rc = ax_pub_loan(pub, size, &loan);
            if (rc == AX_ENOBUFS) {
                enobufs++;
                continue;
            }
            if (rc < 0)
                return 1;
            fill(loan.data, size, sent + 1);
            if (ax_pub_publish_loan(pub, &loan, size) == 0)
                sent++;
            if (rate)
                next += AX_NS_PER_S / rate;
        }
        if (pub && sent == count && !sent_said) {
            sent_said = true;
            say("SENT n=%u enobufs=%u", sent, enobufs);
        }
    }
    release_all();
    ax_node_destroy(node);
    say("BYE");
    return 0;
}
