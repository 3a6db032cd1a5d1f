/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon's services, offered to Foxglove clients (capability "services"):
 * each service server in the discovery table whose request and reply
 * types axon was built with is advertised (advertiseServices, with both
 * schemas), and a client's call (binary opcode 2) is made with an
 * ax_client of the bridge's node, asynchronously: the reply, or the
 * failure, comes back on the node's loop thread and is queued for the
 * client that asked (by its serial: it may have left meanwhile), like a
 * message frame.
 *
 * Service types are taken from the registry only: fetching schemas for
 * them is what the topics' schema worker does, not done here yet.
 */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define CALL_TIMEOUT_NS (10 * AX_NS_PER_S)

struct bridge_svc *bridge_svc_find(struct bridge *b, uint32_t id)
{
    for (struct bridge_svc *s = b->svcs; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static bool type_of(const char *name, const uint8_t *hash, const ax_type **t, char **b64)
{
    const uint8_t *fds;
    size_t len;
    if (ax_type_find(name, t) < 0 ||
        memcmp(ax_type_hash(*t)->bytes, hash, AX_TYPE_HASH_SIZE) != 0 ||
        ax_type_fds(*t, &fds, &len) < 0)
        return false;
    *b64 = bridge_b64(fds, len);
    return *b64 != NULL;
}

static struct bridge_svc *svc_lookup(struct bridge *b, const struct ax_endpoint_info *e)
{
    for (struct bridge_svc *s = b->svcs; s; s = s->next)
        if (strcmp(s->name, e->topic) == 0 &&
            memcmp(s->req_hash, e->type_hash, AX_TYPE_HASH_SIZE) == 0 &&
            memcmp(s->rep_hash, e->reply_type_hash, AX_TYPE_HASH_SIZE) == 0)
            return s;
    return NULL;
}

static struct bridge_svc *svc_new(struct bridge *b, const struct ax_endpoint_info *e)
{
    struct bridge_svc *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->b = b;
    snprintf(s->name, sizeof s->name, "%s", e->topic);
    memcpy(s->req_hash, e->type_hash, AX_TYPE_HASH_SIZE);
    memcpy(s->rep_hash, e->reply_type_hash, AX_TYPE_HASH_SIZE);
    /* Offered only when both types are built in; else kept (not
     * advertised) so that it is not looked at again every sync. */
    if (type_of(e->type_name, e->type_hash, &s->req, &s->req_b64) &&
        type_of(e->reply_type_name, e->reply_type_hash, &s->rep, &s->rep_b64))
        s->id = ++b->next_svc;
    s->next = b->svcs;
    b->svcs = s;
    return s;
}

void bridge_svc_free(struct bridge_svc *s)
{
    /* Calls in flight end now, their reply functions first (they find
     * their client by serial, not through @s). */
    ax_client_free(s->client);
    free(s->req_b64);
    free(s->rep_b64);
    free(s);
}

void bridge_svc_free_all(struct bridge *b)
{
    while (b->svcs) {
        struct bridge_svc *s = b->svcs;
        b->svcs = s->next;
        bridge_svc_free(s);
    }
}

void bridge_svc_sync(struct bridge *b, struct bridge_svc_changes *out)
{
    out->nfresh = out->ngone = 0;
    struct cli_snap snapshot, *snap = &snapshot;
    if (cli_snap_take_kind(b->c, NULL, true, snap) < 0)
        return;
    for (struct bridge_svc *s = b->svcs; s; s = s->next)
        s->seen = false;
    const size_t cap = sizeof out->fresh / sizeof out->fresh[0];
    for (size_t i = 0; i < snap->neps; i++) {
        const struct ax_endpoint_info *e = &snap->eps[i];
        if (e->kind != AX_ENDPOINT_SERVICE)
            continue;
        struct bridge_svc *s = svc_lookup(b, e);
        if (!s && out->nfresh < cap && (s = svc_new(b, e)) != NULL && s->id)
            out->fresh[out->nfresh++] = s;
        if (s)
            s->seen = true;
    }
    cli_snap_free(snap);
    for (struct bridge_svc **pp = &b->svcs; *pp;) {
        struct bridge_svc *s = *pp;
        if (s->seen || out->ngone == sizeof out->gone / sizeof out->gone[0]) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        out->gone[out->ngone++] = s;
    }
}

static void json_schema(struct cli_json *j, const char *key, const ax_type *t, const char *b64)
{
    cj_obj(j, key);
    cj_str(j, "encoding", "protobuf");
    cj_str(j, "schemaName", ax_type_name(t));
    cj_str(j, "schemaEncoding", "protobuf");
    cj_str(j, "schema", b64);
    cj_end_obj(j);
}

char *bridge_svc_advertise_json(struct bridge *b, struct bridge_svc *const *only, size_t n)
{
    char *text = NULL, type[2 * AX_TYPE_NAME_MAX + 2];
    size_t len = 0, said = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "advertiseServices");
    cj_arr(&j, "services");
    for (struct bridge_svc *s = b->svcs; s; s = s->next) {
        bool in = !only;
        for (size_t i = 0; i < n && !in; i++)
            in = only[i] == s;
        if (!in || !s->id)
            continue;
        cj_obj(&j, NULL);
        cj_uint(&j, "id", s->id);
        cj_str(&j, "name", s->name);
        snprintf(type, sizeof type, "%s/%s", ax_type_name(s->req), ax_type_name(s->rep));
        cj_str(&j, "type", type);
        json_schema(&j, "request", s->req, s->req_b64);
        json_schema(&j, "response", s->rep, s->rep_b64);
        cj_end_obj(&j);
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

char *bridge_svc_unadvertise_json(struct bridge_svc *const *gone, size_t n)
{
    char *text = NULL;
    size_t len = 0, said = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    struct cli_json j;
    cj_init(&j, f);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "unadvertiseServices");
    cj_arr(&j, "serviceIds");
    for (size_t i = 0; i < n; i++)
        if (gone[i]->id) {
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

/* ---- calls ---- */

struct call_ctx {
    struct bridge *b;
    uint64_t serial; /* the client that asked */
    uint32_t svc_id, call_id;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The reply as binary opcode 3: service id, call id, the encoding's
 * length and name, the reply's bytes. */
static struct bridge_frame *reply_frame(const struct call_ctx *x, const ProtobufCMessage *rep)
{
    static const char enc[] = "protobuf";
    size_t head = 1 + 4 + 4 + 4 + sizeof enc - 1;
    size_t plen = protobuf_c_message_get_packed_size(rep);
    struct bridge_frame *f = calloc(1, sizeof *f);
    if (!f || !(f->mem = malloc(LWS_PRE + head + plen))) {
        free(f);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    f->kind = BRIDGE_FRAME_BINARY;
    f->data = f->mem + LWS_PRE;
    f->len = head + plen;
    f->data[0] = 3;
    put_u32(f->data + 1, x->svc_id);
    put_u32(f->data + 5, x->call_id);
    put_u32(f->data + 9, sizeof enc - 1);
    memcpy(f->data + 13, enc, sizeof enc - 1);
    protobuf_c_message_pack(rep, f->data + head);
    return f;
}

static struct bridge_frame *failure_frame(const struct call_ctx *x, const char *why)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp)
        return NULL;
    struct cli_json j;
    cj_init(&j, fp);
    cj_obj(&j, NULL);
    cj_str(&j, "op", "serviceCallFailure");
    cj_uint(&j, "serviceId", x->svc_id);
    cj_uint(&j, "callId", x->call_id);
    cj_str(&j, "message", why);
    cj_end_obj(&j);
    struct bridge_frame *f = fclose(fp) == 0 ? bridge_text_frame(text, len) : NULL;
    free(text);
    return f;
}

/* On the loop thread: the call's end, queued for its client. */
static void on_reply(ax_client *c, const ProtobufCMessage *rep, const struct ax_call_result *res,
                     void *user)
{
    (void)c;
    struct call_ctx *x = user;
    char why[AX_CALL_REASON_MAX + 64];
    if (res->status != 0)
        snprintf(why, sizeof why, "%s%s%s", ax_strerror(res->status), res->reason[0] ? ": " : "",
                 res->reason);
    struct bridge_frame *f = res->status == 0 ? reply_frame(x, rep) : failure_frame(x, why);
    if (f) {
        if (bridge_queue_frame(x->b, x->serial, f))
            lws_cancel_service(x->b->ctx);
        bridge_frame_unref(f);
    }
    free(x);
}

int bridge_svc_call(struct bridge *b, uint64_t serial, const uint8_t *d, size_t len, char *why,
                    size_t whylen, uint32_t *svc_id, uint32_t *call_id)
{
    if (len < 13) {
        snprintf(why, whylen, "a service call shorter than its header");
        return AX_EPROTO;
    }
    *svc_id = (uint32_t)d[1] | (uint32_t)d[2] << 8 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 24;
    *call_id = (uint32_t)d[5] | (uint32_t)d[6] << 8 | (uint32_t)d[7] << 16 | (uint32_t)d[8] << 24;
    uint32_t elen =
        (uint32_t)d[9] | (uint32_t)d[10] << 8 | (uint32_t)d[11] << 16 | (uint32_t)d[12] << 24;
    if (elen > len - 13) {
        snprintf(why, whylen, "a service call whose encoding runs past its end");
        return AX_EPROTO;
    }
    struct bridge_svc *s = bridge_svc_find(b, *svc_id);
    if (!s || !s->id) {
        snprintf(why, whylen, "no service %u", *svc_id);
        return AX_ENOTFOUND;
    }
    if (elen != 8 || memcmp(d + 13, "protobuf", 8) != 0) {
        snprintf(why, whylen, "encoding '%.*s': axon's services take protobuf",
                 (int)(elen < 32 ? elen : 32), (const char *)d + 13);
        return AX_EINVAL;
    }
    ProtobufCMessage *req =
        protobuf_c_message_unpack(ax_type_descriptor(s->req), NULL, len - 13 - elen, d + 13 + elen);
    if (!req) {
        snprintf(why, whylen, "the request does not decode as %s", ax_type_name(s->req));
        return AX_EPROTO;
    }
    int rc = 0;
    if (!s->client)
        rc = ax_client_new(&s->client, b->c->node, s->name, s->req, s->rep, NULL);
    struct call_ctx *x = rc == 0 ? malloc(sizeof *x) : NULL;
    if (rc == 0 && !x)
        rc = AX_ENOMEM;
    if (rc == 0) {
        *x = (struct call_ctx){.b = b, .serial = serial, .svc_id = *svc_id, .call_id = *call_id};
        rc = ax_client_call_async(s->client, req, CALL_TIMEOUT_NS, on_reply, x);
        if (rc < 0)
            free(x);
    }
    protobuf_c_message_free_unpacked(req, NULL);
    if (rc < 0)
        snprintf(why, whylen, "%s: %s", s->name, ax_strerror(rc));
    return rc;
}
