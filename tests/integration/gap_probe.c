/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gap_probe: the exact accounting of the fault matrix (test_gaps_procs.c,
 * gaps_netns.sh). A publisher that logs what it sent, a subscriber that
 * keeps, per publisher process, which sequence numbers it was handed and
 * which it was told are missing, and a forger of discovery Byes.
 *
 *   --role pub   once a subscriber is connected, publishes raw bytes at
 *                --rate; the payload's first 8 bytes
 *                are the number the message must carry (every publish that
 *                returned 0 takes the next one). Before each, its number
 *                is written at offset 0 of --sent-file (8 bytes, pwrite), so
 *                after a kill -9 the file holds the highest number that may
 *                have been sent. Commands: "stop"
 *                (stop publishing; says PUBLISHED n=<n>), "quit".
 *   --role sub   commands: "report" (one ACCT line per publisher process,
 *                then ACCTEND), "disc" (says DISC, below), "quit".
 *   --role forge --forge-id <hex> --forge-incarnation <hex>: sends one Bye
 *                in that node's name to the domain's group, and exits.
 *
 * --mode, --interface, --lease, --heartbeat: discovery settings.
 *
 * Lines:
 *   READY id=<hex> incarnation=<hex>
 *   EVENT kind=<name> node=<name> expected=<n> received=<n> missing=<n>
 *         restarted=<0|1> text=<...>
 *   PUBLISHED n=<n>
 *   DISC links_silent=<n> links_refused=<n> exits_seen=<n> leases_expired=<n>
 *                                          (why peers left its table)
 *   BYE                                    (its node destroyed, exiting)
 *   ACCT pub=<hex> name=<name> delivered=<n> missing=<n> top=<n>
 *        holes=<n> dup=<n> overlap=<n> bad_seq=<n> unknown_from=<n>
 *     delivered: numbers handed to the callback; missing: numbers reported
 *     missing by GAP events; top: the highest number accounted for; holes:
 *     numbers below top neither delivered nor reported; dup: numbers
 *     delivered twice; overlap: numbers both delivered and reported
 *     missing (or reported twice); bad_seq: messages whose seq differs
 *     from the number in their payload; unknown_from: a restart said the
 *     numbers from here on died with this process (0: no restart);
 *     first_hole: the lowest of the holes (0: none).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_encode.h>

#include "ax_say.h"
#include "axon/axon.h"
#include "control.pb.h"

#define MAX_PUBS 16
#define MAX_SEQ  (1u << 20)

/* One publisher process as the subscriber sees it. Guarded by `acct_mu`. */
struct acct {
    uint64_t node_id;
    char name[AX_NODE_NAME_MAX];
    uint8_t *state; /* per number: 1 delivered, 2 reported missing */
    uint64_t top, dup, overlap, bad_seq, unknown_from;
};
static pthread_mutex_t acct_mu = PTHREAD_MUTEX_INITIALIZER;
static struct acct accts[MAX_PUBS];
static size_t naccts;

static struct acct *acct_of(uint64_t node_id, const char *name)
{
    for (size_t i = 0; i < naccts; i++)
        if (accts[i].node_id == node_id)
            return &accts[i];
    if (naccts == MAX_PUBS)
        return NULL;
    struct acct *a = &accts[naccts++];
    a->node_id = node_id;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->state = calloc(MAX_SEQ, 1);
    return a->state ? a : NULL;
}

static void mark(struct acct *a, uint64_t seq, uint8_t how)
{
    if (seq == 0 || seq >= MAX_SEQ) {
        a->bad_seq++;
        return;
    }
    if (a->state[seq] == how && how == 1)
        a->dup++;
    else if (a->state[seq])
        a->overlap++;
    a->state[seq] = how;
    if (seq > a->top)
        a->top = seq;
}

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    (void)user;
    uint64_t n = 0;
    memcpy(&n, m->data, m->len < 8 ? m->len : 8);
    pthread_mutex_lock(&acct_mu);
    struct acct *a = acct_of(m->publisher_node, "?");
    if (a) {
        if (n != m->seq)
            a->bad_seq++;
        mark(a, m->seq, 1);
    }
    pthread_mutex_unlock(&acct_mu);
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    (void)self;
    (void)user;
    say("EVENT kind=%s node=%s expected=%llu received=%llu missing=%llu restarted=%d text=%s",
        ax_pubsub_event_name(ev->kind), ev->node_name[0] ? ev->node_name : "-",
        (unsigned long long)ev->expected_seq, (unsigned long long)ev->received_seq,
        (unsigned long long)ev->missing, ev->restarted ? 1 : 0, ev->text);
    if (ev->kind != AX_PS_GAP)
        return;
    pthread_mutex_lock(&acct_mu);
    if (ev->restarted) {
        /* About the publisher's previous process: the newest other one
         * of that name. */
        for (size_t i = naccts; i-- > 0;)
            if (accts[i].node_id != ev->node_id && strcmp(accts[i].name, ev->node_name) == 0) {
                accts[i].unknown_from = ev->expected_seq;
                break;
            }
    } else {
        struct acct *a = acct_of(ev->node_id, ev->node_name);
        for (uint64_t s = ev->expected_seq; a && s < ev->received_seq; s++)
            mark(a, s, 2);
    }
    pthread_mutex_unlock(&acct_mu);
}

static void report(void)
{
    pthread_mutex_lock(&acct_mu);
    for (size_t i = 0; i < naccts; i++) {
        struct acct *a = &accts[i];
        uint64_t delivered = 0, missing = 0, holes = 0, first_hole = 0;
        for (uint64_t s = 1; s <= a->top; s++) {
            delivered += a->state[s] == 1;
            missing += a->state[s] == 2;
            holes += a->state[s] == 0;
            if (a->state[s] == 0 && !first_hole)
                first_hole = s;
        }
        say("ACCT pub=%016llx name=%s delivered=%llu missing=%llu top=%llu holes=%llu dup=%llu "
            "overlap=%llu bad_seq=%llu unknown_from=%llu first_hole=%llu",
            (unsigned long long)a->node_id, a->name, (unsigned long long)delivered,
            (unsigned long long)missing, (unsigned long long)a->top, (unsigned long long)holes,
            (unsigned long long)a->dup, (unsigned long long)a->overlap,
            (unsigned long long)a->bad_seq, (unsigned long long)a->unknown_from,
            (unsigned long long)first_hole);
    }
    size_t n = naccts;
    pthread_mutex_unlock(&acct_mu);
    say("ACCTEND n=%zu", n);
}

/* The subscriber learns publisher names from MATCHED events; messages of a
 * publisher not yet named carry "?" until then. */
static void on_event_named(void *self, const struct ax_pubsub_event *ev, void *user)
{
    if (ev->node_name[0]) {
        pthread_mutex_lock(&acct_mu);
        struct acct *a = acct_of(ev->node_id, ev->node_name);
        if (a && strcmp(a->name, "?") == 0)
            snprintf(a->name, sizeof a->name, "%s", ev->node_name);
        pthread_mutex_unlock(&acct_mu);
    }
    on_event(self, ev, user);
}

static int forge_bye(long domain, const char *id, const char *inc)
{
    axon_ctl_Discovery m = axon_ctl_Discovery_init_zero;
    m.protocol_version = 1;
    m.domain = (uint32_t)domain;
    m.node_id = strtoull(id, NULL, 16);
    m.incarnation = strtoull(inc, NULL, 16);
    m.seq = 1u << 30;
    m.which_body = axon_ctl_Discovery_bye_tag;
    uint8_t buf[128];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, axon_ctl_Discovery_fields, &m))
        return 1;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in lo = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
    if (s < 0 || bind(s, (struct sockaddr *)&lo, sizeof lo) < 0)
        return 1;
    unsigned char ttl = 0;
    setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    struct sockaddr_in grp = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)(7400 + 10 * domain))};
    inet_pton(AF_INET, "239.255.0.1", &grp.sin_addr);
    ssize_t n = sendto(s, buf, os.bytes_written, 0, (struct sockaddr *)&grp, sizeof grp);
    close(s);
    say("FORGED bye id=%s sent=%zd", id, n);
    return n > 0 ? 0 : 1;
}

static bool stdin_command(char *cmd, size_t size, int timeout_ms)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    if (!fgets(cmd, (int)size, stdin)) {
        snprintf(cmd, size, "quit");
        return true;
    }
    return true;
}

static void publish_loop(ax_pub *pub, long rate, long count, const char *sent_file)
{
    /* Numbers published before a subscriber is connected were never its
     * to miss: start once one is. */
    struct ax_endpoint_counters c;
    for (int64_t end = ax_clock_mono_ns() + 60 * AX_NS_PER_S;
         ax_pub_counters(pub, &c) == 0 && c.connections == 0 && ax_clock_mono_ns() < end;)
        poll(NULL, 0, 2);
    int fd = sent_file ? open(sent_file, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    uint8_t payload[64] = {0};
    uint64_t n = 0;
    int64_t next = ax_clock_mono_ns();
    char cmd[64];
    for (;;) {
        next += AX_NS_PER_S / (rate > 0 ? rate : 100);
        int64_t wait = next - ax_clock_mono_ns();
        if (stdin_command(cmd, sizeof cmd, wait > 0 ? (int)(wait / AX_NS_PER_MS) : 0))
            break; /* "stop", "quit" or stdin closed */
        if (count > 0 && (long)n >= count)
            break;
        uint64_t want = n + 1;
        memcpy(payload, &want, 8);
        /* Logged before it is published: a kill between the two must not
         * leave a message out of the log. */
        if (fd >= 0)
            (void)!pwrite(fd, &want, sizeof want, 0);
        int rc = ax_pub_publish_bytes(pub, payload, sizeof payload);
        if (rc == 0)
            n = want;
        else if (rc != AX_EAGAIN && rc != AX_ETIMEDOUT) {
            say("ERROR publish %s", ax_strerror(rc));
        }
    }
    if (fd >= 0)
        close(fd);
    say("PUBLISHED n=%llu", (unsigned long long)n);
}

int main(int argc, char **argv)
{
    const char *name = "gp", *role = "sub", *topic = "/gaps", *sent_file = NULL;
    const char *forge_id = NULL, *forge_inc = "0";
    const char *mode = NULL, *iface = NULL, *lease = NULL, *heartbeat = NULL;
    long domain = 0, rate = 100, count = 0;
    bool transient = false;
    static const struct option opts[] = {{"name", 1, 0, 'n'},
                                         {"role", 1, 0, 'r'},
                                         {"topic", 1, 0, 't'},
                                         {"domain", 1, 0, 'd'},
                                         {"rate", 1, 0, 'h'},
                                         {"count", 1, 0, 'c'},
                                         {"sent-file", 1, 0, 'f'},
                                         {"transient", 0, 0, 'L'},
                                         {"forge-id", 1, 0, 'I'},
                                         {"forge-incarnation", 1, 0, 'J'},
                                         {"mode", 1, 0, 'm'},
                                         {"interface", 1, 0, 'i'},
                                         {"lease", 1, 0, 'l'},
                                         {"heartbeat", 1, 0, 'b'},
                                         {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            name = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'd':
            domain = atol(optarg);
            break;
        case 'h':
            rate = atol(optarg);
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 'f':
            sent_file = optarg;
            break;
        case 'L':
            transient = true;
            break;
        case 'I':
            forge_id = optarg;
            break;
        case 'J':
            forge_inc = optarg;
            break;
        case 'm':
            mode = optarg;
            break;
        case 'i':
            iface = optarg;
            break;
        case 'l':
            lease = optarg;
            break;
        case 'b':
            heartbeat = optarg;
            break;
        default:
            return 2;
        }
    }
    if (strcmp(role, "forge") == 0)
        return forge_id ? forge_bye(domain, forge_id, forge_inc) : 2;

    struct ax_config cfg;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "%s", name);
    cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_WARN;
    /* Discovery settings as a YAML document: the configuration's checks. */
    char yaml[1024];
    int len = snprintf(yaml, sizeof yaml, "discovery:\n");
    const char *keys[] = {"mode", "interface", "lease", "heartbeat"};
    const char *vals[] = {mode, iface, lease, heartbeat};
    bool any = false;
    for (int i = 0; i < 4; i++)
        if (vals[i]) {
            len +=
                snprintf(yaml + len, sizeof yaml - (size_t)len, "  %s: \"%s\"\n", keys[i], vals[i]);
            any = true;
        }
    struct ax_config_error err;
    if ((any && ax_config_load_string(&cfg, yaml, "command line", &err) < 0) ||
        ax_config_apply_env(&cfg, &err) < 0) {
        fprintf(stderr, "gap_probe: %s\n", err.message);
        return 1;
    }
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    if (rc < 0) {
        fprintf(stderr, "gap_probe: node: %s\n", ax_strerror(rc));
        return 1;
    }
    struct ax_node_info self[8];
    size_t nn = 0;
    uint64_t incarnation = 0;
    ax_node_list_nodes(node, self, 8, &nn);
    for (size_t i = 0; i < nn && i < 8; i++)
        if (self[i].is_self)
            incarnation = self[i].incarnation;
    struct ax_qos qos = AX_QOS_DEFAULT;
    if (transient) {
        qos.durability = AX_TRANSIENT_LOCAL;
        qos.history = 1000;
    }
    say("READY id=%016llx incarnation=%016llx", (unsigned long long)ax_node_id(node),
        (unsigned long long)incarnation);
    char cmd[64];
    if (strcmp(role, "pub") == 0) {
        struct ax_pub_options po;
        ax_pub_options_init(&po);
        po.qos = qos;
        ax_pub *pub;
        if ((rc = ax_pub_new_raw(&pub, node, topic, "axon.test.Bytes", &po)) < 0) {
            fprintf(stderr, "gap_probe: pub: %s\n", ax_strerror(rc));
            return 1;
        }
        publish_loop(pub, rate, count, sent_file);
        while (stdin_command(cmd, sizeof cmd, -1) && strncmp(cmd, "quit", 4) != 0) {
        }
        ax_pub_free(pub);
    } else {
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        so.qos = qos;
        so.on_event = on_event_named;
        ax_sub *sub;
        if ((rc = ax_sub_new_raw(&sub, node, topic, "axon.test.Bytes", on_msg, NULL, &so)) < 0) {
            fprintf(stderr, "gap_probe: sub: %s\n", ax_strerror(rc));
            return 1;
        }
        while (stdin_command(cmd, sizeof cmd, -1) && strncmp(cmd, "quit", 4) != 0)
            if (strncmp(cmd, "report", 6) == 0) {
                report();
            } else if (strncmp(cmd, "disc", 4) == 0) {
                struct ax_discovery_stats st;
                ax_node_discovery_stats(node, &st);
                say("DISC links_silent=%llu links_refused=%llu exits_seen=%llu "
                    "leases_expired=%llu",
                    (unsigned long long)st.links_silent, (unsigned long long)st.links_refused,
                    (unsigned long long)st.exits_seen, (unsigned long long)st.leases_expired);
            }
        ax_sub_free(sub);
    }
    ax_node_destroy(node);
    say("BYE");
    return 0;
}
