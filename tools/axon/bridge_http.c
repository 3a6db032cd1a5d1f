/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web monitor behind the bridge's HTTP side: its files (embedded at
 * build time: no CDN, nothing fetched at run time) and two JSON answers.
 *
 *   GET /api/graph        nodes, topics (publishers, subscribers, type,
 *                         rate, bandwidth, QoS, drops by reason, gaps), all
 *                         from the discovery table: nothing is subscribed;
 *   GET /api/echo?topic=T the newest message of T as JSON: the bridge
 *                         subscribes while the page asks, and stops after
 *                         BRIDGE_ECHO_IDLE_NS without a request.
 *
 * Rates come from the publishers' counters (discovery.counters), sampled
 * at each sync: messages and bytes over the owner's own clock.
 */
#include <arpa/inet.h>
#include <libwebsockets.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"

/* Bound to loopback, the bridge answers only requests addressed to a
 * loopback name: a web page whose own name an attacker points at
 * 127.0.0.1 (DNS rebinding) sends its own name as Host and is refused. */
static bool host_ok(struct bridge *b, struct lws *wsi)
{
    if (!b->loopback)
        return true;
    char host[128];
    if (lws_hdr_copy(wsi, host, (int)sizeof host, WSI_TOKEN_HOST) <= 0)
        return true; /* HTTP/1.0 without Host: nothing to rebind */
    char *end = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
    const char *name = host[0] == '[' ? host + 1 : host;
    if (end)
        *end = '\0';
    struct in_addr a4;
    if (strcasecmp(name, "localhost") == 0 || strcmp(name, "::1") == 0)
        return true;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

unsigned bridge_request_check(struct bridge *b, struct lws *wsi)
{
    if (!host_ok(b, wsi))
        return 403;
    return bridge_token_ok(b, wsi) ? 0 : 401;
}

bool bridge_token_ok(struct bridge *b, struct lws *wsi)
{
    if (!b->token)
        return true;
    char buf[256];
    const char *got = lws_get_urlarg_by_name(wsi, "token=", buf, (int)sizeof buf);
    if (!got)
        return false;
    /* The same time whatever the first wrong byte. */
    size_t n = strlen(b->token), m = strlen(got);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)b->token[i] ^ (unsigned char)(i < m ? got[i] : 0);
    return diff == 0;
}

/* ---- rates ---- */

static struct bridge_rate *rate_of(struct bridge *b, const struct ax_endpoint_info *e)
{
    for (size_t i = 0; i < b->nrates; i++)
        if (b->rates[i].node_id == e->node_id && b->rates[i].ep_id == e->id)
            return &b->rates[i];
    if (b->nrates == b->caprates) {
        size_t cap = b->caprates ? 2 * b->caprates : 32;
        struct bridge_rate *r = realloc(b->rates, cap * sizeof *r);
        if (!r)
            return NULL;
        b->rates = r;
        b->caprates = cap;
    }
    struct bridge_rate *r = &b->rates[b->nrates++];
    memset(r, 0, sizeof *r);
    r->node_id = e->node_id;
    r->ep_id = e->id;
    snprintf(r->topic, sizeof r->topic, "%s", e->topic);
    return r;
}

static void sample_rates(struct bridge *b)
{
    size_t n = 0;
    if (ax_node_list_endpoints(b->c->node, NULL, NULL, 0, &n) < 0)
        return;
    struct ax_endpoint_info *eps = calloc(n + 1, sizeof *eps);
    if (!eps || ax_node_list_endpoints(b->c->node, NULL, eps, n, &n) < 0) {
        free(eps);
        return;
    }
    for (size_t i = 0; i < b->nrates; i++)
        b->rates[i].seen = false;
    for (size_t i = 0; i < n; i++) {
        const struct ax_endpoint_info *e = &eps[i];
        if (e->kind != AX_ENDPOINT_PUBLISHER || e->counters.stamp_ns == 0)
            continue;
        struct bridge_rate *r = rate_of(b, e);
        if (!r)
            continue;
        r->seen = true;
        /* A new sample only when the owner read its counters again. */
        if (r->n > 0 && r->s[r->n - 1].stamp == e->counters.stamp_ns)
            continue;
        if (r->n == BRIDGE_RATE_SAMPLES) {
            memmove(r->s, r->s + 1, (BRIDGE_RATE_SAMPLES - 1) * sizeof r->s[0]);
            r->n--;
        }
        r->s[r->n].stamp = e->counters.stamp_ns;
        r->s[r->n].messages = e->counters.messages;
        r->s[r->n].bytes = e->counters.bytes;
        r->n++;
    }
    free(eps);
    for (size_t i = 0; i < b->nrates;) {
        if (b->rates[i].seen)
            i++;
        else
            b->rates[i] = b->rates[--b->nrates];
    }
}

/* Messages and bytes per second of one publisher; false: not known yet. */
static bool rate_get(struct bridge *b, const struct ax_endpoint_info *e, double *hz, double *bps)
{
    for (size_t i = 0; i < b->nrates; i++) {
        const struct bridge_rate *r = &b->rates[i];
        if (r->node_id != e->node_id || r->ep_id != e->id)
            continue;
        if (r->n < 2)
            return false;
        double dt = (double)(r->s[r->n - 1].stamp - r->s[0].stamp) / 1e9;
        if (dt <= 0 || r->s[r->n - 1].messages < r->s[0].messages)
            return false;
        *hz = (double)(r->s[r->n - 1].messages - r->s[0].messages) / dt;
        *bps = (double)(r->s[r->n - 1].bytes - r->s[0].bytes) / dt;
        return true;
    }
    return false;
}

/* ---- echo ---- */

void bridge_echo_on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    struct bridge_echo *e = user;
    struct bridge *b = e->chan->b;
    /* Retained, not copied: a large message (a point cloud) keeps its
     * buffer or shared-memory chunk, only the newest one. */
    struct ax_msg *kept;
    if (ax_msg_retain(m, &kept) < 0)
        return;
    pthread_mutex_lock(&b->mu);
    struct ax_msg *old = e->msg;
    e->msg = kept;
    pthread_mutex_unlock(&b->mu);
    ax_msg_release(old);
}

static void echo_free(struct bridge_echo *e)
{
    ax_sub_free(e->sub); /* outside mu: it waits for a callback in progress */
    ax_msg_release(e->msg);
    free(e);
}

void bridge_echo_chan_gone(struct bridge *b, struct bridge_chan *ch)
{
    for (struct bridge_echo **pp = &b->echoes; *pp;) {
        struct bridge_echo *e = *pp;
        if (e->chan != ch) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        echo_free(e);
    }
}

void bridge_http_tick(struct bridge *b)
{
    sample_rates(b);
    int64_t now = ax_clock_mono_ns();
    for (struct bridge_echo **pp = &b->echoes; *pp;) {
        struct bridge_echo *e = *pp;
        if (now - e->last_asked < BRIDGE_ECHO_IDLE_NS) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        echo_free(e);
    }
}

void bridge_http_free(struct bridge *b)
{
    while (b->echoes) {
        struct bridge_echo *e = b->echoes;
        b->echoes = e->next;
        echo_free(e);
    }
    free(b->rates);
    b->rates = NULL;
    b->nrates = b->caprates = 0;
}

/* ---- answers ---- */

static int respond(struct lws *wsi, unsigned status, const char *mime, const void *body, size_t len)
{
    uint8_t head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start, *end = head + sizeof head;
    if (lws_add_http_common_headers(wsi, status, mime, len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    /* lws_write wants LWS_PRE writable bytes before what it sends, and keeps
     * what the socket does not take at once. */
    uint8_t *buf = malloc(LWS_PRE + len + 1);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, body, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (n < (int)len)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Start JSON text in memory; json_end() sends it. */
struct json_out {
    char *text;
    size_t len;
    FILE *f;
    struct cli_json j;
};

static bool json_begin(struct json_out *o)
{
    memset(o, 0, sizeof *o);
    o->f = open_memstream(&o->text, &o->len);
    if (!o->f)
        return false;
    cj_init(&o->j, o->f);
    return true;
}

static int json_end(struct lws *wsi, struct json_out *o, unsigned status)
{
    int rc = fclose(o->f) == 0 ? respond(wsi, status, "application/json", o->text, o->len) : -1;
    free(o->text);
    return rc;
}

static void node_id_str(uint64_t id, char buf[24])
{
    snprintf(buf, 24, "%016llx", (unsigned long long)id);
}

static int topic_cmp(const void *a, const void *b)
{
    const struct ax_endpoint_info *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (int)x->kind - (int)y->kind;
}

static void graph_topic(struct bridge *b, struct cli_json *j, const struct ax_endpoint_info *eps,
                        size_t n)
{
    char id[24], qos[160];
    cj_obj(j, NULL);
    cj_str(j, "name", eps[0].topic);
    cj_str(j, "type", eps[0].type_name);
    const struct ax_endpoint_info *pub = NULL;
    uint64_t messages = 0, gaps = 0, drops[AX_DROP_REASON_COUNT_] = {0};
    double hz = 0, bps = 0;
    bool known = false;
    for (int kind = AX_ENDPOINT_PUBLISHER; kind <= AX_ENDPOINT_SUBSCRIBER; kind++) {
        cj_arr(j, kind == AX_ENDPOINT_PUBLISHER ? "publishers" : "subscribers");
        for (size_t i = 0; i < n; i++) {
            if ((int)eps[i].kind != kind)
                continue;
            node_id_str(eps[i].node_id, id);
            cj_str(j, NULL, id);
            for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
                drops[r] += eps[i].counters.drops[r];
            if (kind == AX_ENDPOINT_SUBSCRIBER) {
                gaps += eps[i].counters.gaps;
                continue;
            }
            if (!pub)
                pub = &eps[i];
            messages += eps[i].counters.messages;
            double h, bw;
            if (rate_get(b, &eps[i], &h, &bw)) {
                hz += h;
                bps += bw;
                known = true;
            }
        }
        cj_end_arr(j);
    }
    if (known) {
        cj_num(j, "rate_hz", hz);
        cj_num(j, "bandwidth_bps", bps);
    } else {
        cj_null(j, "rate_hz");
        cj_null(j, "bandwidth_bps");
    }
    cj_uint(j, "messages", messages);
    cj_str(j, "qos", cli_fmt_qos(pub ? &pub->qos : &eps[0].qos, qos, sizeof qos));
    cj_obj(j, "drops");
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++)
        if (drops[r])
            cj_uint(j, ax_drop_reason_name((enum ax_drop_reason)r), drops[r]);
    cj_end_obj(j);
    cj_uint(j, "gaps", gaps);
    cj_end_obj(j);
}

static int api_graph(struct bridge *b, struct lws *wsi)
{
    struct ax_node_info *nodes = NULL;
    struct ax_endpoint_info *eps = NULL;
    size_t nn = 0, ne = 0;
    int rc = -1;
    if (ax_node_list_nodes(b->c->node, NULL, 0, &nn) < 0 ||
        ax_node_list_endpoints(b->c->node, NULL, NULL, 0, &ne) < 0)
        return respond(wsi, 500, "text/plain", "table unavailable\n", 18);
    nodes = calloc(nn + 1, sizeof *nodes);
    eps = calloc(ne + 1, sizeof *eps);
    if (!nodes || !eps || ax_node_list_nodes(b->c->node, nodes, nn, &nn) < 0 ||
        ax_node_list_endpoints(b->c->node, NULL, eps, ne, &ne) < 0)
        goto out;
    /* Publishers and subscribers only, grouped by topic. */
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (eps[i].kind == AX_ENDPOINT_PUBLISHER || eps[i].kind == AX_ENDPOINT_SUBSCRIBER)
            eps[k++] = eps[i];
    ne = k;
    qsort(eps, ne, sizeof *eps, topic_cmp);

    struct json_out o;
    if (!json_begin(&o))
        goto out;
    struct cli_json *j = &o.j;
    char id[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    cj_obj(j, NULL);
    cj_uint(j, "domain", b->c->cfg.domain);
    cj_int(j, "time_ns", (int64_t)now.tv_sec * AX_NS_PER_S + now.tv_nsec);
    cj_obj(j, "bridge");
    node_id_str(b->c->self_id, id);
    cj_str(j, "node", id);
    pthread_mutex_lock(&b->mu);
    size_t clients = b->nclients;
    uint64_t forwarded = b->forwarded, dropped = b->dropped;
    pthread_mutex_unlock(&b->mu);
    cj_uint(j, "clients", clients);
    cj_uint(j, "forwarded", forwarded);
    cj_uint(j, "dropped", dropped);
    cj_end_obj(j);
    cj_arr(j, "nodes");
    for (size_t i = 0; i < nn; i++) {
        cj_obj(j, NULL);
        node_id_str(nodes[i].id, id);
        cj_str(j, "id", id);
        cj_str(j, "name", nodes[i].name);
        cj_str(j, "host", nodes[i].host);
        cj_uint(j, "pid", nodes[i].pid);
        cj_bool(j, "self", nodes[i].is_self);
        cj_end_obj(j);
    }
    cj_end_arr(j);
    cj_arr(j, "topics");
    for (size_t i = 0; i < ne;) {
        size_t e = i + 1;
        while (e < ne && strcmp(eps[e].topic, eps[i].topic) == 0)
            e++;
        graph_topic(b, j, eps + i, e - i);
        i = e;
    }
    cj_end_arr(j);
    cj_end_obj(j);
    rc = json_end(wsi, &o, 200);
out:
    free(nodes);
    free(eps);
    return rc;
}

static struct bridge_echo *echo_get(struct bridge *b, struct bridge_chan *ch, int *err)
{
    for (struct bridge_echo *e = b->echoes; e; e = e->next)
        if (e->chan == ch)
            return e;
    struct bridge_echo *e = calloc(1, sizeof *e);
    if (!e) {
        *err = AX_ENOMEM;
        return NULL;
    }
    e->chan = ch;
    snprintf(e->topic, sizeof e->topic, "%s", ch->axon_topic);
    struct ax_sub_options opt;
    ax_sub_options_init(&opt);
    opt.qos = ch->qos;
    opt.qos.overload = AX_OVERLOAD_LATEST_ONLY; /* only the newest is shown */
    *err = ax_sub_new_hash(&e->sub, b->c->node, ch->axon_topic, ch->type_name, ch->hash,
                           bridge_echo_on_msg, e, &opt);
    if (*err < 0) {
        free(e);
        return NULL;
    }
    e->next = b->echoes;
    b->echoes = e;
    return e;
}

/* The newest message of @e as JSON text (malloc'd) with its seq and
 * receive time; NULL with *why NULL: none yet. */
static char *echo_text(struct bridge *b, struct bridge_echo *e, uint64_t *seq, int64_t *at,
                       const char **why)
{
    /* Taken out under mu and put back after (unless a newer one came):
     * decoding a large message does not hold the loop thread's callbacks. */
    pthread_mutex_lock(&b->mu);
    struct ax_msg *m = e->msg;
    e->msg = NULL;
    pthread_mutex_unlock(&b->mu);
    *why = NULL;
    if (!m)
        return NULL;
    *seq = m->seq;
    *at = m->received_ns;
    const ax_type *t = e->chan->type.type;
    ProtobufCMessage *pm = NULL;
    char *out = NULL;
    if (!t || ax_msg_unpack(m, ax_type_descriptor(t), &pm) < 0) {
        *why = "the message does not decode with its schema";
    } else {
        struct ax_print_options po;
        ax_print_options_init(&po);
        po.format = AX_TEXT_JSON;
        po.max_bytes = 16;  /* a point cloud's data is not for reading */
        po.max_elems = 256; /* nor are ten thousand elements */
        struct ax_strbuf sb;
        ax_strbuf_init(&sb);
        if (ax_msg_print(pm, &po, &sb) == 0) {
            out = sb.data;
            sb.data = NULL;
        } else {
            *why = "the message cannot be printed";
        }
        ax_strbuf_fini(&sb);
        protobuf_c_message_free_unpacked(pm, NULL);
    }
    pthread_mutex_lock(&b->mu);
    if (!e->msg) {
        e->msg = m;
        m = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    ax_msg_release(m);
    return out;
}

static int api_echo(struct bridge *b, struct lws *wsi)
{
    char arg[AX_TOPIC_MAX + 16];
    const char *topic = lws_get_urlarg_by_name(wsi, "topic=", arg, (int)sizeof arg);
    struct json_out o;
    if (!json_begin(&o))
        return -1;
    struct cli_json *j = &o.j;
    cj_obj(j, NULL);
    cj_str(j, "topic", topic ? topic : "");
    struct bridge_chan *ch = topic ? bridge_chan_by_topic(b, topic) : NULL;
    int err = 0;
    struct bridge_echo *e = ch ? echo_get(b, ch, &err) : NULL;
    if (!e) {
        char why[AX_TOPIC_MAX + 96];
        if (!topic)
            snprintf(why, sizeof why, "no topic= in the request");
        else if (!ch)
            snprintf(why, sizeof why, "no publisher of %s with a known schema", topic);
        else
            snprintf(why, sizeof why, "cannot subscribe to %s: %s", topic, ax_strerror(err));
        cj_str(j, "error", why);
        cj_end_obj(j);
        return json_end(wsi, &o, ch ? 500 : 404);
    }
    e->last_asked = ax_clock_mono_ns();
    cj_str(j, "type", ch->type_name);
    uint64_t seq;
    int64_t at;
    const char *why;
    char *text = echo_text(b, e, &seq, &at, &why);
    if (!text && !why) {
        cj_bool(j, "waiting", true);
    } else {
        cj_uint(j, "seq", seq);
        cj_int(j, "received_ns", at);
        if (text)
            cj_raw(j, "message", text, strlen(text));
        else
            cj_str(j, "error", why);
    }
    free(text);
    cj_end_obj(j);
    return json_end(wsi, &o, 200);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    (void)user;
    (void)len;
    struct bridge *b = lws_context_user(lws_get_context(wsi));
    /* A WebSocket upgrade without our subprotocol lands here: refused
     * (it would otherwise skip the token and the client count). */
    if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
        return 1;
    if (reason != LWS_CALLBACK_HTTP)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    const char *path = in;
    unsigned refused = bridge_request_check(b, wsi);
    if (refused == 403) {
        static const char msg[] = "403: this bridge listens on loopback and answers only "
                                  "requests to localhost or 127.0.0.1\n";
        return respond(wsi, 403, "text/plain", msg, sizeof msg - 1);
    }
    if (refused) {
        static const char msg[] = "401: the token is missing or wrong: open the URL the bridge "
                                  "printed (it ends in ?token=...)\n";
        return respond(wsi, 401, "text/plain", msg, sizeof msg - 1);
    }
    if (strcmp(path, "/api/graph") == 0)
        return api_graph(b, wsi);
    if (strcmp(path, "/api/echo") == 0)
        return api_echo(b, wsi);
    const char *name = strcmp(path, "/index.html") == 0 ? "/" : path;
    for (size_t i = 0; i < bridge_nassets; i++)
        if (strcmp(bridge_assets[i].path, name) == 0)
            return respond(wsi, 200, bridge_assets[i].mime, bridge_assets[i].data,
                           bridge_assets[i].len);
    static const char nf[] = "404: not found\n";
    return respond(wsi, 404, "text/plain", nf, sizeof nf - 1);
}

const struct lws_protocols bridge_http_protocol = {
    .name = "http",
    .callback = http_callback,
    .per_session_data_size = 0,
    .rx_buffer_size = 0,
};
