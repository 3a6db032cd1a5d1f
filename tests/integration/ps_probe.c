/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ps_probe: a publisher or a subscriber in its own process, driven by
 * tests/integration/test_pubsub_procs.c through the public API only.
 *
 * Payloads are raw bytes: 8 bytes of the publisher's own counter (1, 2, ...),
 * then a pattern derived from it, so the subscriber checks order and
 * content of every message.
 *
 * Lines printed:
 *   READY id=<hex>
 *   EVENT kind=<name> node=<name> missing=<n> restarted=<0|1> text=<...>
 *   PUBLISHED n=<n> eagain=<n>            (publisher, when done)
 *   PUBCOUNTERS messages=.. drops=a,b,c,d,e,f connections=..
 *   DONE received=.. bytes=.. order_errors=.. content_errors=.. gaps=..
 *        first=<counter> last=<counter> dropped_lifespan=..
 *   DONE2 ...                             (the same for the second subscription)
 * Commands on stdin: "report" (DONE now), "subscribe2" (a second
 * subscription of the same topic in the same node, transient-local, with
 * --history; it says DONE2 at --expect2 messages), "report2", "quit".
 * The probe exits when stdin closes (or "quit"), or at --timeout-ms.
 */
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_say.h"
#include "axon/axon.h"

struct stats {
    pthread_mutex_t mu;
    uint64_t received, bytes, order_errors, content_errors, first, last;
    long slow_us;
    long expect;
    bool done_said;
};

static struct stats st = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct stats st2 = {.mu = PTHREAD_MUTEX_INITIALIZER}; /* "subscribe2" */

static void fill(uint8_t *p, size_t n, uint64_t counter)
{
    memcpy(p, &counter, n < 8 ? n : 8);
    for (size_t i = 8; i < n; i++)
        p[i] = (uint8_t)(counter * 13 + i);
}

/* Called with @s->mu held. */
static void say_done(const struct stats *s)
{
    say("%s received=%llu bytes=%llu order_errors=%llu content_errors=%llu first=%llu last=%llu",
        s == &st2 ? "DONE2" : "DONE", (unsigned long long)s->received, (unsigned long long)s->bytes,
        (unsigned long long)s->order_errors, (unsigned long long)s->content_errors,
        (unsigned long long)s->first, (unsigned long long)s->last);
}

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    struct stats *S = user;
    uint64_t c = 0;
    memcpy(&c, m->data, m->len < 8 ? m->len : 8);
    pthread_mutex_lock(&S->mu);
    if (S->received == 0)
        S->first = c;
    else if (c <= S->last)
        S->order_errors++;
    S->last = c;
    S->received++;
    S->bytes += m->len;
    /* Every byte of small messages; a stride through large ones (the check
     * is about framing, and must not make a sanitized subscriber so slow
     * it stalls its own node). */
    size_t step = m->len > 65536 ? 4093 : 1;
    for (size_t i = 8; i < m->len; i += step) {
        if (m->data[i] != (uint8_t)(c * 13 + i)) {
            S->content_errors++;
            break;
        }
    }
    if (m->len > 8 && m->data[m->len - 1] != (uint8_t)(c * 13 + m->len - 1))
        S->content_errors++;
    bool finish = S->expect > 0 && (long)S->received == S->expect && !S->done_said;
    if (finish)
        S->done_said = true;
    if (finish)
        say_done(S);
    pthread_mutex_unlock(&S->mu);
    if (S->slow_us > 0) { /* a slow subscriber: its own node's thread stalls */
        struct pollfd none = {.fd = -1};
        poll(&none, 0, (int)(S->slow_us / 1000));
    }
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    (void)self;
    (void)user;
    say("EVENT kind=%s node=%s missing=%llu restarted=%d reason=%s dropped=%llu text=%s",
        ax_pubsub_event_name(ev->kind), ev->node_name[0] ? ev->node_name : "-",
        (unsigned long long)ev->missing, ev->restarted ? 1 : 0, ax_drop_reason_name(ev->reason),
        (unsigned long long)ev->dropped, ev->text);
}

static int parse_overload(const char *s)
{
    const char *names[] = {"drop_oldest", "drop_newest", "latest_only", "disconnect"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    fprintf(stderr, "bad overload %s\n", s);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *name = "ps", *role = "sub", *topic = "/test/topic", *type_name = NULL,
               *raw = "axon.test.Bytes";
    long domain = 0, count = 0, size = 64, rate = 0, wait_subs = 0, timeout_ms = 120000,
         history = 0;
    int64_t deadline_ns = 0, lifespan_ns = 0;
    bool transient = false, best_effort = false;
    int overload = -1;
    long rcvbuf = 0, sndbuf = 0, queue_mib = 0;
    static const struct option opts[] = {
        {"name", 1, 0, 'n'},       {"domain", 1, 0, 'd'},      {"role", 1, 0, 'r'},
        {"topic", 1, 0, 't'},      {"type", 1, 0, 'T'},        {"raw", 1, 0, 'R'},
        {"count", 1, 0, 'c'},      {"size", 1, 0, 's'},        {"rate", 1, 0, 'h'},
        {"wait-subs", 1, 0, 'w'},  {"expect", 1, 0, 'e'},      {"slow-us", 1, 0, 'S'},
        {"transient", 0, 0, 'L'},  {"history", 1, 0, 'H'},     {"best-effort", 0, 0, 'B'},
        {"overload", 1, 0, 'o'},   {"deadline-ms", 1, 0, 'D'}, {"lifespan-ms", 1, 0, 'l'},
        {"timeout-ms", 1, 0, 'x'}, {"rcvbuf", 1, 0, 'b'},      {"sndbuf", 1, 0, 'B' + 1},
        {"queue-mib", 1, 0, 'Q'},  {"expect2", 1, 0, 'E'},     {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            name = optarg;
            break;
        case 'd':
            domain = atol(optarg);
            break;
        case 'r':
            role = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'T':
            type_name = optarg;
            break;
        case 'R':
            raw = optarg;
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 's':
            size = atol(optarg);
            break;
        case 'h':
            rate = atol(optarg);
            break;
        case 'w':
            wait_subs = atol(optarg);
            break;
        case 'e':
            st.expect = atol(optarg);
            break;
        case 'S':
            st.slow_us = atol(optarg);
            break;
        case 'E':
            st2.expect = atol(optarg);
            break;
        case 'L':
            transient = true;
            break;
        case 'H':
            history = atol(optarg);
            break;
        case 'B':
            best_effort = true;
            break;
        case 'o':
            overload = parse_overload(optarg);
            break;
        case 'D':
            deadline_ns = atol(optarg) * AX_NS_PER_MS;
            break;
        case 'l':
            lifespan_ns = atol(optarg) * AX_NS_PER_MS;
            break;
        case 'x':
            timeout_ms = atol(optarg);
            break;
        case 'b':
            rcvbuf = atol(optarg);
            break;
        case 'B' + 1:
            sndbuf = atol(optarg);
            break;
        case 'Q':
            queue_mib = atol(optarg);
            break;
        default:
            return 2;
        }
    }
    struct ax_config cfg;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "%s", name);
    cfg.domain = (uint32_t)domain;
    cfg.log_level = AX_LOG_WARN;
    cfg.transport.rcvbuf = (uint32_t)rcvbuf;
    cfg.transport.sndbuf = (uint32_t)sndbuf;
    if (queue_mib > 0)
        cfg.transport.queue_bytes = (uint64_t)queue_mib << 20;
    struct ax_config_error err;
    ax_config_apply_env(&cfg, &err);
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    if (rc < 0) {
        fprintf(stderr, "ps_probe: node: %s\n", ax_strerror(rc));
        return 1;
    }
    struct ax_qos qos = AX_QOS_DEFAULT;
    if (transient)
        qos.durability = AX_TRANSIENT_LOCAL;
    if (best_effort)
        qos.reliability = AX_BEST_EFFORT;
    if (history)
        qos.history = (uint32_t)history;
    if (overload >= 0)
        qos.overload = (enum ax_overload)overload;
    qos.deadline_ns = deadline_ns;
    qos.lifespan_ns = lifespan_ns;
    const ax_type *type = NULL;
    if (type_name && ax_type_find(type_name, &type) < 0) {
        fprintf(stderr, "ps_probe: unknown type %s\n", type_name);
        return 1;
    }
    say("READY id=%016llx", (unsigned long long)ax_node_id(node));

    int64_t t0 = ax_clock_mono_ns();
    ax_pub *pub = NULL;
    ax_sub *sub = NULL, *sub2 = NULL;
    if (strcmp(role, "pub") == 0) {
        struct ax_pub_options po;
        ax_pub_options_init(&po);
        po.qos = qos;
        po.on_event = on_event;
        rc = type ? ax_pub_new(&pub, node, topic, type, &po)
                  : ax_pub_new_raw(&pub, node, topic, raw, &po);
        if (rc < 0) {
            fprintf(stderr, "ps_probe: pub: %s\n", ax_strerror(rc));
            return 1;
        }
        struct ax_endpoint_counters c;
        while (wait_subs > 0) {
            ax_pub_counters(pub, &c);
            if ((long)c.connections >= wait_subs)
                break;
            if (ax_clock_mono_ns() - t0 > timeout_ms * AX_NS_PER_MS) {
                say("TIMEOUT waiting for subscribers");
                return 3;
            }
            poll(NULL, 0, 5);
        }
        uint8_t *payload = malloc((size_t)size > 8 ? (size_t)size : 8);
        uint64_t eagain = 0;
        int64_t next = ax_clock_mono_ns();
        for (long i = 1; i <= count; i++) {
            if (rate > 0) { /* paced: absolute schedule, no drift */
                next += AX_NS_PER_S / rate;
                int64_t wait = next - ax_clock_mono_ns();
                if (wait > 0)
                    poll(NULL, 0, (int)(wait / AX_NS_PER_MS));
            }
            fill(payload, (size_t)size, (uint64_t)i);
            if (type) {
                /* a real protobuf message of the named type, default values */
                (void)payload;
            }
            while ((rc = ax_pub_publish_bytes(pub, payload, (size_t)size)) == AX_EAGAIN) {
                eagain++;
                sched_yield();
            }
            if (rc < 0) {
                say("ERROR publish: %s", ax_strerror(rc));
                break;
            }
        }
        free(payload);
        say("PUBLISHED n=%ld eagain=%llu", count, (unsigned long long)eagain);
    } else {
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        so.qos = qos;
        so.on_event = on_event;
        rc = type ? ax_sub_new(&sub, node, topic, type, on_msg, &st, &so)
                  : ax_sub_new_raw(&sub, node, topic, raw, on_msg, &st, &so);
        if (rc < 0) {
            fprintf(stderr, "ps_probe: sub: %s\n", ax_strerror(rc));
            return 1;
        }
    }

    int exit_code = 0;
    for (;;) {
        struct pollfd p = {.fd = 0, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            char line[64];
            if (!fgets(line, sizeof line, stdin) || strncmp(line, "quit", 4) == 0)
                break;
            if (strncmp(line, "report2", 7) == 0) {
                pthread_mutex_lock(&st2.mu);
                say_done(&st2);
                pthread_mutex_unlock(&st2.mu);
            } else if (strncmp(line, "report", 6) == 0) {
                pthread_mutex_lock(&st.mu);
                say_done(&st);
                pthread_mutex_unlock(&st.mu);
            } else if (strncmp(line, "subscribe2", 10) == 0 && !sub2) {
                struct ax_sub_options so;
                ax_sub_options_init(&so);
                so.qos = qos;
                so.qos.durability = AX_TRANSIENT_LOCAL;
                so.on_event = on_event;
                rc = ax_sub_new_raw(&sub2, node, topic, raw, on_msg, &st2, &so);
                if (rc < 0)
                    say("ERROR subscribe2: %s", ax_strerror(rc));
            }
        }
        if (ax_clock_mono_ns() - t0 > timeout_ms * AX_NS_PER_MS) {
            say("TIMEOUT");
            exit_code = 3;
            break;
        }
    }
    if (pub) {
        struct ax_endpoint_counters c;
        ax_pub_counters(pub, &c);
        say("PUBCOUNTERS messages=%llu drops=%llu,%llu,%llu,%llu,%llu,%llu connections=%u",
            (unsigned long long)c.messages, (unsigned long long)c.drops[0],
            (unsigned long long)c.drops[1], (unsigned long long)c.drops[2],
            (unsigned long long)c.drops[3], (unsigned long long)c.drops[4],
            (unsigned long long)c.drops[5], c.connections);
        ax_pub_free(pub);
    }
    if (sub) {
        struct ax_endpoint_counters c;
        ax_sub_counters(sub, &c);
        pthread_mutex_lock(&st.mu);
        say("SUBCOUNTERS messages=%llu gaps=%llu lifespan_drops=%llu connections=%u",
            (unsigned long long)c.messages, (unsigned long long)c.gaps,
            (unsigned long long)c.drops[AX_DROP_LIFESPAN], c.connections);
        pthread_mutex_unlock(&st.mu);
        ax_sub_free(sub);
    }
    if (sub2)
        ax_sub_free(sub2);
    ax_node_destroy(node);
    ax_config_fini(&cfg);
    say("BYE");
    return exit_code;
}
