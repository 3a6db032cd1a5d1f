/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WebSocket side of the bridge: subprotocol foxglove.websocket.v1.
 * A client gets serverInfo and the advertised channels when it connects,
 * subscribes and unsubscribes by channel id, and receives binary message
 * frames (opcode 1, its subscription id, the receive time in nanoseconds,
 * the protobuf bytes). With --client-publish it may advertise channels of
 * its own and send messages on them (opcode 1, channel id, bytes).
 *
 * Everything here runs on the service thread. A client that sends
 * something a client must not (not JSON, an unknown op, an oversized
 * message, more subscriptions than allowed, too many messages a second)
 * is closed with a close code and the reason; the others go on.
 */
#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon/version.h"
#include "bridge.h"

bool bridge_client_text(struct bridge_client *cl, const char *text)
{
    size_t len = strlen(text);
    /* A client that does not read its control messages (or provokes more
     * than it reads) is not kept at any cost: it is closed. */
    if (cl->broken || len > BRIDGE_MAX_CLIENT_TEXT - cl->text_bytes) {
        cl->broken = true;
        lws_callback_on_writable(cl->wsi);
        return false;
    }
    if (cl->ntext == cl->captext) {
        size_t cap = cl->captext ? 2 * cl->captext : 8;
        char **t = realloc(cl->text, cap * sizeof *t);
        if (!t)
            return false;
        cl->text = t;
        cl->captext = cap;
    }
    char *copy = malloc(LWS_PRE + len + 1);
    if (!copy) {
        cl->broken = true;
        lws_callback_on_writable(cl->wsi);
        return false;
    }
    memcpy(copy + LWS_PRE, text, len + 1);
    cl->text[cl->ntext++] = copy;
    cl->text_bytes += len;
    lws_callback_on_writable(cl->wsi);
    return true;
}

void bridge_broadcast_text(struct bridge *b, const char *text)
{
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next)
        bridge_client_text(cl, text);
}

void bridge_wake_writers(struct bridge *b)
{
    pthread_mutex_lock(&b->mu);
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next)
        if (cl->head || cl->dropped != cl->dropped_said || cl->closing)
            lws_callback_on_writable(cl->wsi);
    pthread_mutex_unlock(&b->mu);
}

/* Under b->mu: forget the frames queued for subscription @sub_id
 * (UINT32_MAX: all of them). */
static void purge_queue(struct bridge_client *cl, uint32_t sub_id)
{
    for (struct bridge_qitem **pp = &cl->head; *pp;) {
        struct bridge_qitem *q = *pp;
        if (sub_id != UINT32_MAX && q->sub_id != sub_id) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        cl->queued_bytes -= BRIDGE_QITEM_COST(q->frame);
        bridge_frame_unref(q->frame);
        free(q);
    }
    cl->tail = NULL;
    for (struct bridge_qitem *q = cl->head; q; q = q->next)
        cl->tail = q;
}

void bridge_clients_drop_chan(struct bridge *b, uint32_t chan)
{
    pthread_mutex_lock(&b->mu);
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next) {
        for (size_t i = 0; i < cl->nsubs;) {
            if (cl->subs[i].chan != chan) {
                i++;
                continue;
            }
            purge_queue(cl, cl->subs[i].id);
            cl->subs[i] = cl->subs[--cl->nsubs];
        }
    }
    pthread_mutex_unlock(&b->mu);
    /* The channel is freed right after: its subscription goes with it. */
}

static void status(struct bridge_client *cl, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void status(struct bridge_client *cl, int level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "status");
    cj_int(&j, "level", level);
    cj_str(&j, "message", msg);
    cj_end_obj(&j);
    if (fclose(f) == 0)
        bridge_client_text(cl, text);
    free(text);
}

static void server_info(struct bridge_client *cl)
{
    struct bridge *b = cl->b;
    char *text = NULL, name[128], id[24];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    snprintf(name, sizeof name, "axon bridge (domain %u)", (unsigned)b->c->cfg.domain);
    snprintf(id, sizeof id, "%016llx", (unsigned long long)b->c->self_id);
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "serverInfo");
    cj_str(&j, "name", name);
    cj_arr(&j, "capabilities");
    if (b->client_publish)
        cj_str(&j, NULL, "clientPublish");
    cj_str(&j, NULL, "services");
    cj_str(&j, NULL, "parameters");
    if (b->sim_time)
        cj_str(&j, NULL, "time");
    cj_end_arr(&j);
    cj_arr(&j, "supportedEncodings");
    cj_str(&j, NULL, "protobuf");
    cj_end_arr(&j);
    cj_obj(&j, "metadata");
    cj_str(&j, "node", id);
    cj_str(&j, "version", AXON_VERSION_STRING);
    cj_end_obj(&j);
    cj_str(&j, "sessionId", id);
    cj_end_obj(&j);
    if (fclose(f) == 0)
        bridge_client_text(cl, text);
    free(text);
}

/* The problems with one control message's entries: one status says them
 * (the first and how many), not one status per entry. */
struct op_report {
    unsigned n;
    char first[256];
};

static void problem(struct op_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(struct op_report *r, const char *fmt, ...)
{
    if (r->n++ > 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->first, sizeof r->first, fmt, ap);
    va_end(ap);
}

static void report(struct bridge_client *cl, const struct op_report *r)
{
    if (r->n == 1)
        status(cl, 2, "%s", r->first);
    else if (r->n > 1)
        status(cl, 2, "%s (and %u more problems in that message)", r->first, r->n - 1);
}

/* Close @cl with a code and a reason: at its next writable callback, not
 * at once. What the client sent meanwhile is read and ignored, so the
 * socket is not closed with unread bytes in it (the kernel would answer
 * with a reset, and the client would see 1006 instead of the close
 * frame: a subscribe storm did). Returns 0: the caller goes on. */
static int close_with(struct bridge_client *cl, enum lws_close_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int close_with(struct bridge_client *cl, enum lws_close_status code, const char *fmt, ...)
{
    char reason[120]; /* a close frame's payload is at most 125 bytes */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    if (cl->closing)
        return 0;
    cli_warn("bridge: client %llu (%s) closed: %s", (unsigned long long)cl->serial, cl->peer,
             reason);
    cl->closing = true;
    cl->close_code = code;
    snprintf(cl->close_reason, sizeof cl->close_reason, "%s", reason);
    lws_callback_on_writable(cl->wsi);
    /* A client that never lets the close frame out (it reads nothing, or
     * never stops sending) is dropped after 5 s all the same. */
    lws_set_timeout(cl->wsi, PENDING_TIMEOUT_USER_OK, 5);
    return 0;
}

static int find_sub(const struct bridge_client *cl, uint32_t id)
{
    for (size_t i = 0; i < cl->nsubs; i++)
        if (cl->subs[i].id == id)
            return (int)i;
    return -1;
}

static int on_subscribe(struct bridge_client *cl, const struct bridge_op *op, struct op_report *rep)
{
    struct bridge *b = cl->b;
    for (size_t i = 0; i < op->n; i++) {
        const struct bridge_sub_req *r = &op->u.subs[i];
        struct bridge_chan *ch = bridge_chan_find(b, r->channel);
        if (!ch || !ch->advertised) {
            problem(rep, "subscribe: no channel %u", r->channel);
            continue;
        }
        if (find_sub(cl, r->id) >= 0) {
            problem(rep, "subscribe: subscription id %u is in use", r->id);
            continue;
        }
        bool again = false;
        for (size_t k = 0; k < cl->nsubs; k++)
            again |= cl->subs[k].chan == ch->id;
        if (again) {
            problem(rep, "subscribe: this client already subscribes to channel %u", ch->id);
            continue;
        }
        if (cl->nsubs == BRIDGE_MAX_CLIENT_SUBS)
            return close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION, "more than %d subscriptions",
                              BRIDGE_MAX_CLIENT_SUBS);
        int rc = bridge_chan_ref(ch);
        if (rc < 0) {
            problem(rep, "subscribe: %s: %s", ch->topic, ax_strerror(rc));
            continue;
        }
        pthread_mutex_lock(&b->mu);
        cl->subs[cl->nsubs++] = (struct bridge_csub){.id = r->id, .chan = ch->id};
        pthread_mutex_unlock(&b->mu);
    }
    return 0;
}

static void unsubscribe_one(struct bridge_client *cl, size_t i)
{
    struct bridge *b = cl->b;
    pthread_mutex_lock(&b->mu);
    uint32_t chan = cl->subs[i].chan;
    purge_queue(cl, cl->subs[i].id);
    cl->subs[i] = cl->subs[--cl->nsubs];
    pthread_mutex_unlock(&b->mu);
    /* Outside mu: freeing the node's subscription waits for a callback in
     * progress, which takes mu. */
    struct bridge_chan *ch = bridge_chan_find(b, chan);
    if (ch)
        bridge_chan_unref(ch);
}

static void on_unsubscribe(struct bridge_client *cl, const struct bridge_op *op,
                           struct op_report *rep)
{
    for (size_t i = 0; i < op->n; i++) {
        int k = find_sub(cl, op->u.ids[i]);
        if (k < 0)
            problem(rep, "unsubscribe: no subscription %u", op->u.ids[i]);
        else
            unsubscribe_one(cl, (size_t)k);
    }
}

/* ---- client publishing ---- */

static struct bridge_cpub *find_pub(struct bridge_client *cl, uint32_t id)
{
    for (size_t i = 0; i < cl->npubs; i++)
        if (cl->pubs[i].id == id)
            return &cl->pubs[i];
    return NULL;
}

static void drop_pub(struct bridge_client *cl, size_t i)
{
    ax_pub_free(cl->pubs[i].pub);
    cli_type_fini(&cl->pubs[i].type);
    cl->pubs[i] = cl->pubs[--cl->npubs];
}

static int on_advertise(struct bridge_client *cl, const struct bridge_op *op, struct op_report *rep)
{
    struct bridge *b = cl->b;
    for (size_t i = 0; i < op->n; i++) {
        const struct bridge_chan_req *r = &op->u.chans[i];
        if (find_pub(cl, r->id)) {
            problem(rep, "advertise: channel %u is in use", r->id);
            continue;
        }
        if (strcmp(r->encoding, "protobuf") != 0) {
            problem(rep, "advertise: %s: encoding '%s' (axon takes protobuf)", r->topic,
                    r->encoding);
            continue;
        }
        if (cl->npubs == BRIDGE_MAX_CLIENT_CHANS)
            return close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION, "more than %d channels",
                              BRIDGE_MAX_CLIENT_CHANS);
        struct bridge_cpub p = {.id = r->id};
        /* Types axon was built with only: asking the nodes for a schema
         * could stall the service thread for seconds. */
        int rc = cli_type_resolve(b->c, r->schema_name, NULL, NULL, 0, &p.type);
        if (rc == 0 && !p.type.type)
            rc = AX_ENOTFOUND;
        if (rc == 0)
            rc = ax_pub_new(&p.pub, b->c->node, r->topic, p.type.type, NULL);
        if (rc < 0) {
            cli_type_fini(&p.type);
            problem(rep, "advertise: %s (%s): %s", r->topic, r->schema_name,
                    rc == AX_ENOTFOUND ? "not a type this axon was built with" : ax_strerror(rc));
            continue;
        }
        if (!cl->pubs) {
            cl->pubs = calloc(BRIDGE_MAX_CLIENT_CHANS, sizeof *cl->pubs);
            if (!cl->pubs) {
                ax_pub_free(p.pub);
                cli_type_fini(&p.type);
                return close_with(cl, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
            }
        }
        cl->pubs[cl->npubs++] = p;
    }
    return 0;
}

static void on_unadvertise(struct bridge_client *cl, const struct bridge_op *op,
                           struct op_report *rep)
{
    for (size_t i = 0; i < op->n; i++) {
        struct bridge_cpub *p = find_pub(cl, op->u.ids[i]);
        if (p)
            drop_pub(cl, (size_t)(p - cl->pubs));
        else
            problem(rep, "unadvertise: no channel %u", op->u.ids[i]);
    }
}

/* A service call (opcode 2): made asynchronously; what goes wrong at
 * once is told in a serviceCallFailure. */
static int on_service_call(struct bridge_client *cl, const uint8_t *d, size_t len)
{
    char why[200];
    uint32_t svc = 0, call = 0;
    int rc = bridge_svc_call(cl->b, cl->serial, d, len, why, sizeof why, &svc, &call);
    if (rc == AX_EPROTO && len < 13)
        return close_with(cl, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "%s", why);
    if (rc < 0) {
        char *text = NULL;
        size_t tlen = 0;
        FILE *f = open_memstream(&text, &tlen);
        if (!f)
            return 0;
        struct cli_json j;
        cj_init(&j, f);
        cj_obj(&j, NULL);
        cj_str(&j, "op", "serviceCallFailure");
        cj_uint(&j, "serviceId", svc);
        cj_uint(&j, "callId", call);
        cj_str(&j, "message", why);
        cj_end_obj(&j);
        if (fclose(f) == 0)
            bridge_client_text(cl, text);
        free(text);
    }
    return 0;
}

static int on_binary(struct bridge_client *cl, const uint8_t *d, size_t len)
{
    if (len >= 1 && d[0] == 2)
        return on_service_call(cl, d, len);
    if (!cl->b->client_publish)
        return close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                          "client publishing is off (axon bridge foxglove --client-publish)");
    if (len < 5 || d[0] != 1)
        return close_with(
            cl, LWS_CLOSE_STATUS_INVALID_PAYLOAD,
            "a binary message that is neither opcode 1 (message) nor 2 (service call)");
    uint32_t id =
        (uint32_t)d[1] | (uint32_t)d[2] << 8 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 24;
    struct bridge_cpub *p = find_pub(cl, id);
    int rc = p ? ax_pub_publish_bytes(p->pub, d + 5, len - 5) : AX_ENOTFOUND;
    /* Binary messages are not rate-limited (a client may publish fast):
     * what goes wrong with them is said at most once a second. */
    int64_t now = ax_clock_mono_ns();
    if (rc < 0 && now - cl->binary_said_at >= AX_NS_PER_S) {
        cl->binary_said_at = now;
        if (!p)
            status(cl, 2, "message on channel %u, which this client did not advertise", id);
        else
            status(cl, 1, "publishing on %s: %s", ax_pub_topic(p->pub), ax_strerror(rc));
    }
    return 0;
}

static int on_text(struct bridge_client *cl, const char *text, size_t len)
{
    /* A storm of control messages is a client misbehaving: the bridge's
     * work per message is bounded, the number per second too. */
    int64_t now = ax_clock_mono_ns();
    if (now - cl->ops_window >= AX_NS_PER_S) {
        cl->ops_window = now;
        cl->ops = cl->entries = 0;
    }
    if (++cl->ops > BRIDGE_OPS_PER_SECOND)
        return close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                          "more than %d control messages in a second", BRIDGE_OPS_PER_SECOND);
    struct bridge_op *op = malloc(sizeof *op);
    if (!op)
        return close_with(cl, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    char err[120];
    int rc = 0;
    if (bridge_json_decode(text, len, op, err, sizeof err) < 0) {
        rc = close_with(cl, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "%s", err);
    } else if ((op->kind == BRIDGE_OP_ADVERTISE || op->kind == BRIDGE_OP_UNADVERTISE) &&
               !cl->b->client_publish) {
        rc = close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                        "client publishing is off (axon bridge foxglove --client-publish)");
    } else if ((cl->entries += (unsigned)op->n) > BRIDGE_ENTRIES_PER_SECOND) {
        /* Each entry is a subscription or a publisher made or freed in
         * the bridge's node: bounded per second too. */
        rc = close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                        "more than %d subscriptions or channels in a second",
                        BRIDGE_ENTRIES_PER_SECOND);
    } else {
        struct op_report rep = {0};
        switch (op->kind) {
        case BRIDGE_OP_SUBSCRIBE:
            rc = on_subscribe(cl, op, &rep);
            break;
        case BRIDGE_OP_UNSUBSCRIBE:
            on_unsubscribe(cl, op, &rep);
            break;
        case BRIDGE_OP_ADVERTISE:
            rc = on_advertise(cl, op, &rep);
            break;
        case BRIDGE_OP_UNADVERTISE:
            on_unadvertise(cl, op, &rep);
            break;
        case BRIDGE_OP_GET_PARAMS:
        case BRIDGE_OP_SET_PARAMS: {
            int prc = bridge_param_ask(cl->b, cl->serial, op);
            if (prc < 0)
                problem(&rep, "%s: %s",
                        op->kind == BRIDGE_OP_SET_PARAMS ? "setParameters" : "getParameters",
                        prc == AX_EAGAIN ? "too many parameter requests waiting; try again"
                                         : ax_strerror(prc));
            break;
        }
        }
        if (rc == 0)
            report(cl, &rep);
    }
    free(op);
    return rc;
}

/* A message arrives in fragments: gathered up to the bound of its kind
 * (nothing larger is ever allocated), then handled whole. */
static int on_receive(struct bridge_client *cl, const void *in, size_t len)
{
    struct lws *wsi = cl->wsi;
    cl->last_rx_ns = ax_clock_mono_ns();
    if (cl->closing)
        return 0;
    if (lws_is_first_fragment(wsi)) {
        cl->rxlen = 0;
        cl->rx_binary = lws_frame_is_binary(wsi);
        /* A binary message that can only be refused (a message to publish
         * without --client-publish) is refused at its first bytes, not
         * gathered up to 16 MiB first. */
        if (cl->rx_binary && len > 0 && ((const uint8_t *)in)[0] != 2 && !cl->b->client_publish)
            return on_binary(cl, in, len);
    }
    size_t max = cl->rx_binary ? BRIDGE_MAX_BINARY : BRIDGE_MAX_TEXT;
    if (len > max - cl->rxlen)
        return close_with(cl, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "a %s message over %zu bytes",
                          cl->rx_binary ? "binary" : "text", max);
    uint8_t *rx = realloc(cl->rx, cl->rxlen + len + 1);
    if (!rx)
        return close_with(cl, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
    cl->rx = rx;
    memcpy(cl->rx + cl->rxlen, in, len);
    cl->rxlen += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    cl->rx[cl->rxlen] = '\0';
    int rc = cl->rx_binary ? on_binary(cl, cl->rx, cl->rxlen)
                           : on_text(cl, (const char *)cl->rx, cl->rxlen);
    /* Keep at most a small buffer between messages. */
    if (cl->rxlen > 4096) {
        free(cl->rx);
        cl->rx = NULL;
    }
    cl->rxlen = 0;
    return rc;
}

/* The next piece of the frame being written: the first with the
 * message's opcode (a subscription id patched in), the others as
 * continuations. The frame is shared: the LWS_PRE bytes before a piece,
 * which lws_write() overwrites with the fragment's header, are payload
 * other clients have still to send, so they are put back. */
static int write_piece(struct bridge_client *cl)
{
    struct bridge_qitem *q = cl->cur;
    struct bridge_frame *f = q->frame;
    size_t left = f->len - cl->cur_off;
    size_t n = left < BRIDGE_WRITE_PIECE ? left : BRIDGE_WRITE_PIECE;
    bool first = cl->cur_off == 0, last = n == left;
    uint8_t *p = f->data + cl->cur_off;
    int flags = first ? (f->kind == BRIDGE_FRAME_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_BINARY)
                      : LWS_WRITE_CONTINUATION;
    if (!last)
        flags |= LWS_WRITE_NO_FIN;
    if (first && f->kind == BRIDGE_FRAME_MESSAGE)
        for (int i = 0; i < 4; i++)
            p[1 + i] = (uint8_t)(q->sub_id >> (8 * i));
    uint8_t saved[LWS_PRE];
    if (!first)
        memcpy(saved, p - LWS_PRE, LWS_PRE);
    int w = lws_write(cl->wsi, p, n, (enum lws_write_protocol)flags);
    if (!first)
        memcpy(p - LWS_PRE, saved, LWS_PRE);
    if (w < (int)n)
        return -1;
    cl->cur_off += n;
    if (!last)
        return 0;
    cl->cur = NULL;
    bridge_frame_unref(f);
    free(q);
    pthread_mutex_lock(&cl->b->mu);
    cl->b->forwarded++;
    pthread_mutex_unlock(&cl->b->mu);
    return 0;
}

static int on_writable(struct bridge_client *cl)
{
    struct bridge *b = cl->b;
    if (cl->broken)
        close_with(cl, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                   "not reading: %zu bytes of control messages wait for it", cl->text_bytes);
    if (cl->closing) {
        /* Not while the client is still sending (a storm): its bytes
         * would be unread when the socket closes, and the kernel would
         * reset the connection before the close frame is read. The next
         * sync (bridge_wake_writers) looks again. */
        if (ax_clock_mono_ns() - cl->last_rx_ns < BRIDGE_CLOSE_QUIET_NS)
            return 0;
        lws_close_reason(cl->wsi, (enum lws_close_status)cl->close_code,
                         (unsigned char *)cl->close_reason, strlen(cl->close_reason));
        return -1;
    }
    /* A message in fragments is finished first: nothing may come between
     * its pieces. */
    if (cl->cur) {
        if (write_piece(cl) < 0)
            return -1;
        lws_callback_on_writable(cl->wsi);
        return 0;
    }
    if (cl->ntext > 0) {
        char *t = cl->text[0];
        size_t len = strlen(t + LWS_PRE);
        memmove(cl->text, cl->text + 1, --cl->ntext * sizeof *cl->text);
        cl->text_bytes -= len;
        int n = lws_write(cl->wsi, (unsigned char *)t + LWS_PRE, len, LWS_WRITE_TEXT);
        free(t);
        if (n < (int)len)
            return -1;
        lws_callback_on_writable(cl->wsi);
        return 0;
    }
    /* Drops are told at most once a second: a notification per frame
     * would crowd the frames out. */
    int64_t now = ax_clock_mono_ns();
    bool tell = now - cl->drop_said_at >= AX_NS_PER_S;
    pthread_mutex_lock(&b->mu);
    uint64_t dropped = cl->dropped, said = cl->dropped_said;
    if (tell)
        cl->dropped_said = dropped;
    else
        said = dropped;
    struct bridge_qitem *q = cl->head;
    if (q) {
        cl->head = q->next;
        if (!cl->head)
            cl->tail = NULL;
        cl->queued_bytes -= BRIDGE_QITEM_COST(q->frame);
    }
    bool more = cl->head != NULL;
    pthread_mutex_unlock(&b->mu);
    if (dropped != said) {
        cl->drop_said_at = now;
        status(cl, 1,
               "%llu message(s) dropped for this client (%llu in all): its queue of %zu bytes "
               "was full (axon bridge foxglove --max-client-queue)",
               (unsigned long long)(dropped - said), (unsigned long long)dropped, b->max_queue);
        more = true;
    }
    if (q) {
        cl->cur = q;
        cl->cur_off = 0;
        if (write_piece(cl) < 0)
            return -1;
    }
    if (more || cl->cur)
        lws_callback_on_writable(cl->wsi);
    return 0;
}

static int on_established(struct bridge *b, struct lws *wsi, struct bridge_client **slot)
{
    if (b->nclients >= BRIDGE_MAX_CLIENTS) {
        lws_close_reason(wsi, (enum lws_close_status)1013 /* try again later */,
                         (unsigned char *)"too many clients", 16);
        return -1;
    }
    struct bridge_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -1;
    cl->b = b;
    cl->wsi = wsi;
    cl->serial = ++b->next_serial;
    lws_get_peer_simple(wsi, cl->peer, sizeof cl->peer);
    pthread_mutex_lock(&b->mu);
    cl->next = b->clients;
    b->clients = cl;
    b->nclients++;
    pthread_mutex_unlock(&b->mu);
    *slot = cl;
    cli_note("bridge: client %llu connected from %s", (unsigned long long)cl->serial, cl->peer);
    server_info(cl);
    char *adv = bridge_chan_advertise_json(b, NULL);
    if (adv)
        bridge_client_text(cl, adv);
    free(adv);
    adv = bridge_svc_advertise_json(b, NULL, 0);
    if (adv)
        bridge_client_text(cl, adv);
    free(adv);
    return 0;
}

static void on_closed(struct bridge *b, struct bridge_client *cl)
{
    pthread_mutex_lock(&b->mu);
    for (struct bridge_client **pp = &b->clients; *pp; pp = &(*pp)->next)
        if (*pp == cl) {
            *pp = cl->next;
            break;
        }
    b->nclients--;
    purge_queue(cl, UINT32_MAX);
    pthread_mutex_unlock(&b->mu);
    if (cl->cur) {
        bridge_frame_unref(cl->cur->frame);
        free(cl->cur);
        cl->cur = NULL;
    }
    /* No callback reaches cl now: its subscriptions can go. */
    for (size_t i = 0; i < cl->nsubs; i++) {
        struct bridge_chan *ch = bridge_chan_find(b, cl->subs[i].chan);
        if (ch)
            bridge_chan_unref(ch);
    }
    while (cl->npubs > 0)
        drop_pub(cl, cl->npubs - 1);
    for (size_t i = 0; i < cl->ntext; i++)
        free(cl->text[i]);
    cli_note("bridge: client %llu (%s) left: %llu message(s) dropped for it",
             (unsigned long long)cl->serial, cl->peer, (unsigned long long)cl->dropped);
    free(cl->text);
    free(cl->pubs);
    free(cl->rx);
    free(cl);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct bridge *b = lws_context_user(lws_get_context(wsi));
    struct bridge_client **slot = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* Non-zero refuses the upgrade (the browser sees the handshake fail). */
        return bridge_request_check(b, wsi) == 0 ? 0 : 1;
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(b, wsi, slot);
    case LWS_CALLBACK_RECEIVE:
        return *slot ? on_receive(*slot, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return *slot ? on_writable(*slot) : -1;
    case LWS_CALLBACK_CLOSED:
        if (*slot)
            on_closed(b, *slot);
        *slot = NULL;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (b)
            bridge_wake_writers(b);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols bridge_ws_protocol = {
    .name = "foxglove.websocket.v1",
    .callback = ws_callback,
    .per_session_data_size = sizeof(struct bridge_client *),
    .rx_buffer_size = 64 << 10,
    .tx_packet_size = 0,
};
