/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bridge's channels: one per (topic, type, hash) the discovery table
 * has publishers of, plus one "TOPIC/foxglove" per channel whose type has a
 * foxglove.* conversion (bridge_convert.c). A channel is advertised once
 * its schema is known (from the registry or fetched from a publisher, so
 * types the bridge was not built with work) and unadvertised when its last
 * publisher leaves the table. The bridge's node subscribes to a topic only
 * while some client does (bridge_chan_ref/unref).
 *
 * The subscription callback runs on the node's loop thread: it copies the
 * message once into a refcounted frame (converting it first for a
 * foxglove channel) and queues a reference on each subscribed client's
 * bounded queue; a client whose queue is full loses its oldest frames,
 * counted per subscription and told in a status message (bridge_ws.c).
 */
#include <fnmatch.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "bridge_convert.h"

/* A publisher without a schema yet (its node not answering) is asked
 * again this often, not at every sync. */
#define SCHEMA_RETRY_NS (5 * AX_NS_PER_S)

static bool topic_wanted(const struct bridge *b, const char *topic)
{
    if (b->nglobs == 0)
        return true;
    for (size_t i = 0; i < b->nglobs; i++)
        if (strcmp(b->globs[i], topic) == 0 || fnmatch(b->globs[i], topic, 0) == 0)
            return true;
    return false;
}

struct bridge_chan *bridge_chan_find(struct bridge *b, uint32_t id)
{
    for (struct bridge_chan *ch = b->chans; ch; ch = ch->next)
        if (ch->id == id)
            return ch;
    return NULL;
}

struct bridge_chan *bridge_chan_by_topic(struct bridge *b, const char *topic)
{
    for (struct bridge_chan *ch = b->chans; ch; ch = ch->next)
        if (!ch->conv && ch->advertised && strcmp(ch->axon_topic, topic) == 0)
            return ch;
    return NULL;
}

static struct bridge_chan *chan_lookup(struct bridge *b, const struct ax_endpoint_info *e,
                                       const struct bridge_conv *conv)
{
    for (struct bridge_chan *ch = b->chans; ch; ch = ch->next)
        if (ch->conv == conv && strcmp(ch->axon_topic, e->topic) == 0 &&
            strcmp(ch->type_name, e->type_name) == 0 &&
            memcmp(ch->hash, e->type_hash, AX_TYPE_HASH_SIZE) == 0)
            return ch;
    return NULL;
}

static struct bridge_chan *chan_new(struct bridge *b, const struct ax_endpoint_info *e,
                                    const struct bridge_conv *conv)
{
    struct bridge_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->b = b;
    ch->id = ++b->next_chan;
    ch->conv = conv;
    snprintf(ch->axon_topic, sizeof ch->axon_topic, "%s", e->topic);
    if (conv)
        snprintf(ch->topic, sizeof ch->topic, "%s/foxglove", e->topic);
    else
        snprintf(ch->topic, sizeof ch->topic, "%s", e->topic);
    snprintf(ch->type_name, sizeof ch->type_name, "%s", e->type_name);
    memcpy(ch->hash, e->type_hash, AX_TYPE_HASH_SIZE);
    ch->node_id = e->node_id;
    ch->qos = e->qos;
    ch->next = b->chans;
    b->chans = ch;
    return ch;
}

/* The schema of @ch: a foxglove channel's is built in; an axon one comes
 * from the registry at once, or is asked of the nodes by the schema
 * worker (answered at a later sync: apply_answers). */
static void chan_resolve(struct bridge *b, struct bridge_chan *ch)
{
    if (ch->conv) {
        size_t len = 0;
        const uint8_t *fds = bridge_conv_fds(ch->conv, &len);
        ch->schema_name = bridge_conv_schema_name(ch->conv);
        ch->schema_b64 = bridge_b64(fds, len);
        return;
    }
    const ax_type *t;
    const uint8_t *fds;
    size_t len;
    if (ax_type_find(ch->type_name, &t) == 0 &&
        memcmp(ax_type_hash(t)->bytes, ch->hash, AX_TYPE_HASH_SIZE) == 0 &&
        ax_type_fds(t, &fds, &len) == 0) {
        ch->schema_b64 = bridge_b64(fds, len);
        if (!ch->schema_b64)
            return;
        ch->type.type = t;
        ch->type.fds = (uint8_t *)fds;
        ch->type.fds_len = len;
        ch->schema_name = ch->type_name;
        return;
    }
    if (!ch->asking && bridge_schema_ask(b, ch))
        ch->asking = true;
}

/* The schema worker's answers: a channel still there takes its schema
 * (or is asked again later). */
static void apply_answers(struct bridge *b, int64_t now)
{
    for (struct bridge_schema_job *j = bridge_schema_take(b), *next; j; j = next) {
        next = j->next;
        struct bridge_chan *ch = bridge_chan_find(b, j->chan);
        if (ch)
            ch->asking = false;
        if (ch && j->rc == 0 && !ch->schema_b64 &&
            (ch->schema_b64 = bridge_b64(j->type.fds, j->type.fds_len)) != NULL) {
            ch->type = j->type;
            ch->schema_name = ch->type_name;
        } else {
            if (j->rc == 0)
                cli_type_fini(&j->type);
            if (ch && !ch->schema_b64) {
                ch->retry_at = now + SCHEMA_RETRY_NS;
                cli_note("bridge: no schema for %s (%s) yet (%s): not advertised; asking again "
                         "in 5 s",
                         ch->topic, ch->type_name, ax_strerror(j->rc));
            }
        }
        bridge_schema_job_free(j);
    }
}

void bridge_chan_free(struct bridge_chan *ch)
{
    if (ch->sub)
        ax_sub_free(ch->sub);
    if (!ch->conv && ch->schema_name)
        cli_type_fini(&ch->type); /* frees only what a fetched schema owns */
    free(ch->schema_b64);
    free(ch);
}

static void json_channel(struct cli_json *j, const struct bridge_chan *ch)
{
    cj_obj(j, NULL);
    cj_uint(j, "id", ch->id);
    cj_str(j, "topic", ch->topic);
    cj_str(j, "encoding", "protobuf");
    cj_str(j, "schemaName", ch->schema_name);
    cj_str(j, "schema", ch->schema_b64);
    cj_str(j, "schemaEncoding", "protobuf");
    cj_end_obj(j);
}

char *bridge_chan_advertise_json(struct bridge *b, const struct bridge_chan *only)
{
    char *text = NULL;
    size_t len = 0, n = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "advertise");
    cj_arr(&j, "channels");
    for (const struct bridge_chan *ch = b->chans; ch; ch = ch->next) {
        if (!ch->advertised || (only && ch != only))
            continue;
        json_channel(&j, ch);
        n++;
    }
    cj_end_arr(&j);
    cj_end_obj(&j);
    if (fclose(f) != 0 || n == 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *bridge_chan_unadvertise_json(struct bridge_chan *const *gone, size_t n)
{
    char *text = NULL;
    size_t len = 0, said = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "unadvertise");
    cj_arr(&j, "channelIds");
    for (size_t i = 0; i < n; i++) {
        if (!gone[i]->advertised)
            continue; /* never advertised */
        cj_uint(&j, NULL, gone[i]->id);
        said++;
    }
    cj_end_arr(&j);
    cj_end_obj(&j);
    if (fclose(f) != 0 || said == 0) {
        free(text);
        return NULL;
    }
    return text;
}

void bridge_chan_sync(struct bridge *b, struct bridge_chan_changes *out)
{
    out->nfresh = out->ngone = 0;
    struct cli_snap s;
    if (cli_snap_take(b->c, NULL, &s) < 0)
        return;
    for (struct bridge_chan *ch = b->chans; ch; ch = ch->next)
        ch->seen = false;
    for (size_t i = 0; i < s.neps; i++) {
        const struct ax_endpoint_info *e = &s.eps[i];
        if (e->kind != AX_ENDPOINT_PUBLISHER || !topic_wanted(b, e->topic))
            continue;
        const struct bridge_conv *convs[2] = {NULL, bridge_conv_find(e->type_name)};
        for (size_t k = 0; k < 2; k++) {
            if (k == 1 && !convs[1])
                break;
            struct bridge_chan *ch = chan_lookup(b, e, convs[k]);
            if (!ch)
                ch = chan_new(b, e, convs[k]);
            if (ch)
                ch->seen = true;
        }
    }
    cli_snap_free(&s);
    /* Schemas for the new ones; those asked of the nodes come later. */
    const size_t cap = sizeof out->fresh / sizeof out->fresh[0];
    int64_t now = ax_clock_mono_ns();
    apply_answers(b, now);
    for (struct bridge_chan *ch = b->chans; ch && out->nfresh < cap; ch = ch->next) {
        if (!ch->seen || ch->advertised)
            continue;
        if (!ch->schema_b64 && now >= ch->retry_at)
            chan_resolve(b, ch);
        if (ch->schema_b64) {
            ch->advertised = true;
            out->fresh[out->nfresh++] = ch;
        }
    }

    for (struct bridge_chan **pp = &b->chans; *pp;) {
        struct bridge_chan *ch = *pp;
        if (ch->seen || out->ngone == sizeof out->gone / sizeof out->gone[0]) {
            pp = &ch->next;
            continue;
        }
        *pp = ch->next;
        out->gone[out->ngone++] = ch;
    }
}

void bridge_chan_free_all(struct bridge *b)
{
    while (b->chans) {
        struct bridge_chan *ch = b->chans;
        b->chans = ch->next;
        bridge_chan_free(ch);
    }
}

/* ---- frames ---- */

void bridge_frame_unref(struct bridge_frame *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        free(f->mem);
        free(f);
    }
}

/* One message as a frame: opcode 1 (message data), a subscription id each
 * write patches in, the receive time, the payload (converted for a
 * foxglove channel). NULL: no memory, or a message that does not convert. */
static struct bridge_frame *frame_new(const struct bridge_chan *ch, const struct ax_msg *m)
{
    struct bridge_frame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    size_t head = LWS_PRE + BRIDGE_FRAME_HEADER, plen = m->len;
    if (ch->conv) {
        if (bridge_conv_run(ch->conv, m->data, m->len, head, &f->mem, &plen) < 0) {
            free(f);
            return NULL;
        }
    } else {
        f->mem = malloc(head + m->len);
        if (!f->mem) {
            free(f);
            return NULL;
        }
        if (m->len)
            memcpy(f->mem + head, m->data, m->len);
    }
    atomic_init(&f->refs, 1);
    f->data = f->mem + LWS_PRE;
    f->len = BRIDGE_FRAME_HEADER + plen;
    f->data[0] = 1;
    /* With simulated time the timeline is the simulation's, as the time
     * messages say (bridge.c). */
    uint64_t t = (uint64_t)(ch->b->sim_time ? ax_node_now(ch->b->c->node) : m->received_ns);
    for (int i = 0; i < 8; i++)
        f->data[5 + i] = (uint8_t)(t >> (8 * i));
    return f;
}

/* Under b->mu: make room in @cl's queue for @need more bytes by dropping
 * its oldest frames (a live view wants the newest). */
static void make_room(struct bridge_client *cl, size_t need)
{
    struct bridge *b = cl->b;
    while (cl->head && cl->queued_bytes + need > b->max_queue) {
        struct bridge_qitem *q = cl->head;
        cl->head = q->next;
        if (!cl->head)
            cl->tail = NULL;
        cl->queued_bytes -= BRIDGE_QITEM_COST(q->frame);
        for (size_t i = 0; i < cl->nsubs; i++)
            if (cl->subs[i].id == q->sub_id)
                cl->subs[i].dropped++;
        cl->dropped++;
        b->dropped++;
        bridge_frame_unref(q->frame);
        free(q);
    }
}

struct bridge_frame *bridge_binary_frame(const uint8_t *data, size_t len)
{
    struct bridge_frame *f = bridge_text_frame((const char *)data, len);
    if (f)
        f->kind = BRIDGE_FRAME_BINARY;
    return f;
}

struct bridge_frame *bridge_text_frame(const char *text, size_t len)
{
    struct bridge_frame *f = calloc(1, sizeof *f);
    if (!f || !(f->mem = malloc(LWS_PRE + len + 1))) {
        free(f);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    f->kind = BRIDGE_FRAME_TEXT;
    f->data = f->mem + LWS_PRE;
    f->len = len;
    memcpy(f->data, text, len);
    return f;
}

bool bridge_queue_frame(struct bridge *b, uint64_t serial, struct bridge_frame *f)
{
    size_t cost = BRIDGE_QITEM_COST(f);
    bool queued = false;
    pthread_mutex_lock(&b->mu);
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next) {
        if (serial && cl->serial != serial)
            continue;
        struct bridge_qitem *q = cost <= b->max_queue ? malloc(sizeof *q) : NULL;
        if (q) {
            make_room(cl, cost);
            atomic_fetch_add(&f->refs, 1);
            *q = (struct bridge_qitem){.frame = f, .sub_id = UINT32_MAX};
            if (cl->tail)
                cl->tail->next = q;
            else
                cl->head = q;
            cl->tail = q;
            cl->queued_bytes += cost;
            queued = true;
        } else {
            cl->dropped++;
            b->dropped++;
        }
        if (serial)
            break;
    }
    pthread_mutex_unlock(&b->mu);
    return queued;
}

/* Under b->mu: does a client subscribe to @ch? */
static bool chan_wanted(struct bridge *b, const struct bridge_chan *ch)
{
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next)
        for (size_t i = 0; i < cl->nsubs; i++)
            if (cl->subs[i].chan == ch->id)
                return true;
    return false;
}

static void chan_on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    struct bridge_chan *ch = user;
    struct bridge *b = ch->b;
    /* The copy (and a conversion, which decodes and encodes) happens
     * outside mu, so the service thread's writes go on meanwhile; only
     * when some client still wants it. */
    pthread_mutex_lock(&b->mu);
    bool wanted = chan_wanted(b, ch);
    pthread_mutex_unlock(&b->mu);
    if (!wanted)
        return;
    struct bridge_frame *f = frame_new(ch, m);
    if (!f)
        return;
    size_t cost = BRIDGE_QITEM_COST(f);
    bool queued = false;
    pthread_mutex_lock(&b->mu);
    /* The clients subscribed now: one that unsubscribed meanwhile is not
     * queued for. */
    for (struct bridge_client *cl = b->clients; cl; cl = cl->next) {
        for (size_t i = 0; i < cl->nsubs; i++) {
            struct bridge_csub *cs = &cl->subs[i];
            if (cs->chan != ch->id)
                continue;
            struct bridge_qitem *q = cost <= b->max_queue ? malloc(sizeof *q) : NULL;
            if (!q) {
                cs->dropped++;
                cl->dropped++;
                b->dropped++;
                continue;
            }
            make_room(cl, cost);
            atomic_fetch_add(&f->refs, 1);
            *q = (struct bridge_qitem){.frame = f, .sub_id = cs->id, .chan_id = ch->id};
            if (cl->tail)
                cl->tail->next = q;
            else
                cl->head = q;
            cl->tail = q;
            cl->queued_bytes += cost;
            cs->sent++;
            queued = true;
        }
    }
    pthread_mutex_unlock(&b->mu);
    bridge_frame_unref(f);
    if (queued)
        lws_cancel_service(b->ctx);
}

int bridge_chan_ref(struct bridge_chan *ch)
{
    if (ch->clients++ > 0 || ch->sub)
        return 0;
    struct ax_sub_options opt;
    ax_sub_options_init(&opt);
    /* The publisher's QoS, so they match; but a slow bridge never slows a
     * publisher: whatever its policy, the bridge's queue drops. */
    opt.qos = ch->qos;
    if (opt.qos.overload == AX_OVERLOAD_BLOCK || opt.qos.overload == AX_OVERLOAD_DISCONNECT)
        opt.qos.overload = AX_OVERLOAD_DROP_OLDEST;
    int rc = ax_sub_new_hash(&ch->sub, ch->b->c->node, ch->axon_topic, ch->type_name, ch->hash,
                             chan_on_msg, ch, &opt);
    if (rc < 0) {
        ch->clients--;
        ch->sub = NULL;
    }
    return rc;
}

void bridge_chan_unref(struct bridge_chan *ch)
{
    if (ch->clients == 0 || --ch->clients > 0)
        return;
    ax_sub *sub = ch->sub;
    ch->sub = NULL;
    ax_sub_free(sub);
}
