/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon bridge foxglove: the verb. It opens the CLI's node, starts one
 * libwebsockets context serving both the Foxglove WebSocket protocol
 * (bridge_ws.c) and the web monitor (bridge_http.c) on one port, and runs
 * its service loop on this thread until Ctrl-C or --duration. A timer on
 * that loop brings the channels in step with the discovery table every
 * SYNC_NS and samples the counters the monitor's rates come from.
 *
 * Reachable only where it is bound (127.0.0.1 unless --address says
 * otherwise). With security on (a domain key or TLS in the
 * configuration) every request must carry a token: --token, or one drawn
 * at random and printed in the URLs.
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bridge.h"

#define TICK_US           (100 * LWS_US_PER_MS)
#define SYNC_NS           (500 * AX_NS_PER_MS)
#define DEFAULT_MAX_QUEUE (32u << 20)

struct bridge_run {
    struct bridge b;
    lws_sorted_usec_list_t sul;
    int64_t deadline; /* 0: none */
    bool done;
};

/* The channels in step with the table; the clients told what came and
 * what went, and what went freed (after its clients' subscriptions and
 * the monitor's echo of it). */
static void sync_channels(struct bridge *b)
{
    struct bridge_chan_changes ch;
    bridge_chan_sync(b, &ch);
    for (size_t i = 0; i < ch.nfresh; i++) {
        char *text = bridge_chan_advertise_json(b, ch.fresh[i]);
        if (text)
            bridge_broadcast_text(b, text);
        free(text);
    }
    char *text = bridge_chan_unadvertise_json(ch.gone, ch.ngone);
    if (text)
        bridge_broadcast_text(b, text);
    free(text);
    for (size_t i = 0; i < ch.ngone; i++) {
        bridge_clients_drop_chan(b, ch.gone[i]->id);
        bridge_echo_chan_gone(b, ch.gone[i]);
        bridge_chan_free(ch.gone[i]);
    }

    struct bridge_svc_changes sv;
    bridge_svc_sync(b, &sv);
    text = bridge_svc_advertise_json(b, sv.fresh, sv.nfresh);
    if (text)
        bridge_broadcast_text(b, text);
    free(text);
    text = bridge_svc_unadvertise_json(sv.gone, sv.ngone);
    if (text)
        bridge_broadcast_text(b, text);
    free(text);
    for (size_t i = 0; i < sv.ngone; i++)
        bridge_svc_free(sv.gone[i]);
}

/* With simulated time: the node's time to every client (binary opcode 2,
 * the time in nanoseconds), each tick it has moved. */
static void send_time(struct bridge *b)
{
    int64_t now = ax_node_now(b->c->node);
    if (now <= 0 || now == b->last_time)
        return;
    b->last_time = now;
    uint8_t msg[9] = {2};
    for (int i = 0; i < 8; i++)
        msg[1 + i] = (uint8_t)((uint64_t)now >> (8 * i));
    struct bridge_frame *f = bridge_binary_frame(msg, sizeof msg);
    if (!f)
        return;
    bridge_queue_frame(b, 0, f);
    bridge_frame_unref(f);
    bridge_wake_writers(b);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct bridge_run *r = lws_container_of(sul, struct bridge_run, sul);
    struct bridge *b = &r->b;
    int64_t now = ax_clock_mono_ns();
    /* Always scheduled again: lws_service() returns after each wake-up,
     * and this timer is what wakes it when nothing else happens. */
    lws_sul_schedule(b->ctx, 0, &r->sul, on_tick, TICK_US);
    /* The CLI keeps SIGINT and SIGTERM blocked (wait.c): they stay pending
     * until taken here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigtimedwait(&set, NULL, &(struct timespec){0}) > 0)
        b->c->stop = true;
    if (b->c->stop || (r->deadline && now >= r->deadline)) {
        r->done = true;
        return;
    }
    if (b->sim_time)
        send_time(b);
    if (now >= b->next_sync) {
        b->next_sync = now + SYNC_NS;
        sync_channels(b);
        bridge_http_tick(b);
        bridge_wake_writers(b); /* drops not told yet */
    }
}

static const struct lws_protocols protocols[] = {
    {"http", NULL, 0, 0, 0, NULL, 0}, /* filled from bridge_http_protocol */
    {"foxglove.websocket.v1", NULL, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static bool options(struct cli *c, const struct cli_args *a, struct bridge_run *r, char *token,
                    size_t toklen)
{
    struct bridge *b = &r->b;
    long port = 8765;
    if (cli_opt(a, "port") && !cli_opt_long(a, "port", 0, 65535, &port))
        return false;
    b->port = (int)port;
    b->address = cli_opt(a, "address") ? cli_opt(a, "address") : "127.0.0.1";
    b->nglobs = cli_opt_all(a, "topics", b->globs, sizeof b->globs / sizeof b->globs[0]);
    for (int i = 0; i < a->npos && b->nglobs < sizeof b->globs / sizeof b->globs[0]; i++)
        b->globs[b->nglobs++] = a->pos[i];
    b->client_publish = cli_flag(a, "client-publish");
    uint64_t q = DEFAULT_MAX_QUEUE;
    if (cli_opt(a, "max-client-queue") &&
        !cli_opt_size(a, "max-client-queue", 1u << 20, 4ull << 30, &q))
        return false;
    b->max_queue = (size_t)q;
    int64_t dur = 0;
    if (cli_opt(a, "duration") && !cli_opt_seconds(a, "duration", &dur))
        return false;
    r->deadline = dur > 0 ? ax_clock_mono_ns() + dur : 0;

    const char *t = cli_opt(a, "token");
    bool secure = c->cfg.security.key_file[0] || c->cfg.security.tls != AX_TLS_OFF;
    if (t) {
        if (strlen(t) < 8 || strlen(t) >= toklen ||
            strspn(t, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-_.~") != strlen(t)) {
            cli_usage_error(a->verb, "--token: 8 to %zu letters, digits or -_.~", toklen - 1);
            return false;
        }
        snprintf(token, toklen, "%s", t);
        b->token = token;
    } else if (secure) {
        uint8_t rnd[16];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            cli_error("cannot draw a token: getrandom failed");
            return false;
        }
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(token + 2 * i, 3, "%02x", rnd[i]);
        b->token = token;
    }
    return true;
}

static void print_urls(const struct bridge *b, int port)
{
    bool v6 = strchr(b->address, ':') != NULL;
    char host[96], q[96] = "";
    snprintf(host, sizeof host, v6 ? "[%s]" : "%s", b->address);
    if (b->token)
        snprintf(q, sizeof q, "?token=%s", b->token);
    printf("foxglove: ws://%s:%d/%s\n", host, port, q);
    printf("monitor: http://%s:%d/%s\n", host, port, q);
    fflush(stdout);
}

int cli_verb_bridge_foxglove(struct cli *c, const struct cli_args *a)
{
    struct bridge_run *r = calloc(1, sizeof *r);
    if (!r)
        return cli_error("out of memory");
    struct bridge *b = &r->b;
    char token[80];
    int rc = CLI_EXIT_USAGE;
    if (!options(c, a, r, token, sizeof token))
        goto out_free;
    rc = CLI_EXIT_ERR;
    c->node_prefix = "axon-bridge";
    if (cli_node_open(c) < 0)
        goto out_free;
    b->c = c;
    pthread_mutex_init(&b->mu, NULL);

    /* lws logs only what is wrong; the bridge says the rest. */
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_protocols protos[3];
    memcpy(protos, protocols, sizeof protos);
    protos[0] = bridge_http_protocol;
    protos[1] = bridge_ws_protocol;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = b->port;
    info.iface = b->address;
    info.protocols = protos;
    info.user = b;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (!strchr(b->address, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 10;
    /* A peer that stops answering (a cut network) is pinged after 30 s
     * of silence and dropped after 60: its queues do not live forever. */
    static const lws_retry_bo_t idle = {.secs_since_valid_ping = 30, .secs_since_valid_hangup = 60};
    info.retry_and_idle_policy = &idle;
    b->sim_time = c->cfg.use_sim_time;
    b->loopback = strcmp(b->address, "localhost") == 0 || strcmp(b->address, "::1") == 0 ||
                  strncmp(b->address, "127.", 4) == 0;
    b->ctx = lws_create_context(&info);
    if (!b->ctx) {
        cli_error("cannot listen on %s port %d (in use, or not an address of this machine; "
                  "--port 0 lets the kernel choose)",
                  b->address, b->port);
        goto out_node;
    }
    int port = lws_get_vhost_listen_port(lws_get_vhost_by_name(b->ctx, "default"));
    print_urls(b, port);
    cli_note("bridge: node %016llx in domain %u; Ctrl-C stops", (unsigned long long)c->self_id,
             (unsigned)c->cfg.domain);

    b->next_sync = 0;
    if (bridge_schema_start(b) < 0 || bridge_param_start(b) < 0) {
        cli_error("cannot start the bridge's worker threads");
        bridge_schema_stop(b);
        bridge_param_stop(b);
        lws_context_destroy(b->ctx);
        goto out_node;
    }
    lws_sul_schedule(b->ctx, 0, &r->sul, on_tick, 1);
    while (!r->done && !c->stop)
        if (lws_service(b->ctx, 0) < 0)
            break;
    lws_sul_cancel(&r->sul);

    pthread_mutex_lock(&b->mu);
    uint64_t fwd = b->forwarded, drop = b->dropped;
    pthread_mutex_unlock(&b->mu);
    /* The schema worker and the node's subscriptions go first: none of
     * them may wake a context being destroyed. Closing it then closes
     * every client. */
    bridge_schema_stop(b);
    bridge_param_stop(b);
    for (struct bridge_chan *ch = b->chans; ch; ch = ch->next) {
        ax_sub_free(ch->sub);
        ch->sub = NULL;
    }
    bridge_svc_free_all(b); /* calls in flight end (their replies find no client) */
    lws_context_destroy(b->ctx);
    b->ctx = NULL;
    bridge_http_free(b);
    bridge_chan_free_all(b);
    fprintf(stderr, "bridge: %llu message(s) forwarded, %llu dropped for slow clients\n",
            (unsigned long long)fwd, (unsigned long long)drop);
    rc = CLI_EXIT_OK;
out_node:
    pthread_mutex_destroy(&b->mu);
    cli_node_close(c);
out_free:
    free(r);
    return rc;
}
