/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decoder of a Foxglove WebSocket client's text messages
 * (foxglove.websocket.v1): subscribe, unsubscribe, getParameters,
 * setParameters and, for client publish, advertise and unadvertise.
 * Nothing else a client may send is supported (subscribeConnectionGraph,
 * subscribeParameterUpdates, ...): it is refused by name.
 *
 * Every byte here comes from a browser anyone can point at the bridge, so
 * the decoder is strict and bounded: the text is at most BRIDGE_MAX_TEXT
 * bytes (cJSON's tree of it is a small multiple of that), a list has at
 * most BRIDGE_MAX_OP_ITEMS entries, a string must fit its array in
 * struct bridge_op (never truncated: a cut topic is another topic), and a
 * refusal says what was wrong in a few words the client is closed with.
 * Unknown fields are ignored, as the protocol lets later versions add them.
 *
 * It keeps no state and does no I/O, so tests/fuzz/fuzz_bridge_json.c
 * fuzzes it alone. One caveat of cJSON: every parse writes the position of
 * its last error to a global of the library (cJSON_GetErrorPtr), which we
 * never read; two threads parsing at once race on it, and the bridge
 * decodes on its service thread only.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bridge.h"

/* What a refusal names: the op and the list being read. */
struct dec {
    const char *op;   /* "subscribe", or "message" before the op is known */
    const char *list; /* "subscriptions", ... */
    char *err;
    size_t errlen;
};

static int fail(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct dec *d, const char *fmt, ...)
{
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#define U32_TEXT "an integer in 0..4294967295"

/* JSON numbers are doubles to cJSON: an id must be an integral one in
 * range. The comparisons are written so that NaN fails them (an overflowing
 * exponent gives inf, which the upper bound refuses); valueint is never
 * used, since cJSON saturates it. */
static bool as_u32(const cJSON *v, uint32_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double x = v->valuedouble;
    if (!(x >= 0 && x <= 4294967295.0))
        return false;
    *out = (uint32_t)x;
    return (double)*out == x;
}

/* Field @key of the object entry @i of the list, as a u32. */
static bool field_u32(struct dec *d, const cJSON *e, size_t i, const char *key, uint32_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    if (!v)
        return fail(d, "%s: %s[%zu] has no \"%s\"", d->op, d->list, i, key), false;
    if (!as_u32(v, out))
        return fail(d, "%s: %s[%zu].%s is not " U32_TEXT, d->op, d->list, i, key), false;
    return true;
}

/* Field @key of entry @i as a string copied into @out (@cap bytes with the
 * NUL); a longer one is refused, not cut. @out NULL: only checked to be a
 * string when present (the fields we do not keep). */
static bool field_str(struct dec *d, const cJSON *e, size_t i, const char *key, char *out,
                      size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    if (!v && !out)
        return true;
    if (!v)
        return fail(d, "%s: %s[%zu] has no \"%s\"", d->op, d->list, i, key), false;
    if (!cJSON_IsString(v) || !v->valuestring)
        return fail(d, "%s: %s[%zu].%s is not a string", d->op, d->list, i, key), false;
    if (!out)
        return true;
    size_t len = strlen(v->valuestring);
    if (len >= cap)
        return fail(d, "%s: %s[%zu].%s is longer than %zu bytes", d->op, d->list, i, key, cap - 1),
               false;
    memcpy(out, v->valuestring, len + 1);
    return true;
}

static bool is_object(struct dec *d, const cJSON *e, size_t i)
{
    if (cJSON_IsObject(e))
        return true;
    return fail(d, "%s: %s[%zu] is not an object", d->op, d->list, i), false;
}

static bool decode_chan(struct dec *d, const cJSON *e, size_t i, struct bridge_chan_req *c)
{
    if (!is_object(d, e, i) || !field_u32(d, e, i, "id", &c->id) ||
        !field_str(d, e, i, "topic", c->topic, sizeof c->topic) ||
        !field_str(d, e, i, "encoding", c->encoding, sizeof c->encoding) ||
        !field_str(d, e, i, "schemaName", c->schema_name, sizeof c->schema_name) ||
        !field_str(d, e, i, "schema", NULL, 0) || !field_str(d, e, i, "schemaEncoding", NULL, 0))
        return false;
    if (!c->topic[0])
        return fail(d, "%s: %s[%zu].topic is empty", d->op, d->list, i), false;
    return true;
}

/* cJSON decodes "\u0000" to a NUL that silently ends the C string there
 * ("/a\u0000/b" would read as the topic "/a"): refuse it instead. An
 * escape's backslash and the byte after it are stepped over together, so
 * "\\u0000" (an escaped backslash, then text) is not taken for one. */
static bool has_nul_escape(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && len - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++;
    }
    return false;
}

/* The op's name for a refusal: it is the client's text, logged and sent
 * back, so it is cut short and kept to printable ASCII. */
static void printable(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch >= 0x20 && ch < 0x7f && ch != '\'' ? (char)ch : '?';
    }
    out[i] = 0;
}

static const struct {
    const char *name;
    enum bridge_op_kind kind;
    const char *list; /* the field holding its entries */
} ops[] = {
    {"subscribe", BRIDGE_OP_SUBSCRIBE, "subscriptions"},
    {"unsubscribe", BRIDGE_OP_UNSUBSCRIBE, "subscriptionIds"},
    {"advertise", BRIDGE_OP_ADVERTISE, "channels"},
    {"unadvertise", BRIDGE_OP_UNADVERTISE, "channelIds"},
    {"getParameters", BRIDGE_OP_GET_PARAMS, "parameterNames"},
    {"setParameters", BRIDGE_OP_SET_PARAMS, "parameters"},
};

/* A parameter's value as text: a bool, a number (integers without a
 * fraction, as axon's int parameters want them), or a string. */
static bool param_value(struct dec *d, const cJSON *e, size_t i, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
    int n = -1;
    if (cJSON_IsBool(v))
        n = snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v) && v->valuedouble == v->valuedouble &&
             v->valuedouble - v->valuedouble == 0) { /* not NaN, not inf */
        double x = v->valuedouble;
        /* The range first: converting a double outside long long's is
         * undefined (the fuzzer found it). */
        bool integral = x > -9e15 && x < 9e15 && x == (double)(long long)x;
        n = integral ? snprintf(out, cap, "%lld", (long long)x) : snprintf(out, cap, "%.17g", x);
    } else if (cJSON_IsString(v) && v->valuestring)
        n = snprintf(out, cap, "%s", v->valuestring);
    if (n < 0)
        return fail(d, "%s: %s[%zu].value is not a bool, a number or a string", d->op, d->list, i),
               false;
    if ((size_t)n >= cap)
        return fail(d, "%s: %s[%zu].value is longer than %zu bytes", d->op, d->list, i, cap - 1),
               false;
    return true;
}

static int decode_op(struct dec *d, const cJSON *root, struct bridge_op *op)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "op");
    if (!cJSON_IsString(name) || !name->valuestring)
        return fail(d, "no \"op\" string");
    size_t k = 0;
    while (k < sizeof ops / sizeof ops[0] && strcmp(ops[k].name, name->valuestring) != 0)
        k++;
    if (k == sizeof ops / sizeof ops[0]) {
        char shown[33];
        printable(shown, sizeof shown, name->valuestring);
        return fail(d, "unknown op '%s'", shown);
    }
    d->op = ops[k].name;
    d->list = ops[k].list;

    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, d->list);
    if (!cJSON_IsArray(list))
        return fail(d, "%s: no \"%s\" array", d->op, d->list);
    /* Bounded before anything is decoded: the union holds no more. */
    size_t n = 0, max = ops[k].kind == BRIDGE_OP_GET_PARAMS || ops[k].kind == BRIDGE_OP_SET_PARAMS
                            ? BRIDGE_MAX_PARAM_ITEMS
                            : BRIDGE_MAX_OP_ITEMS;
    for (const cJSON *e = list->child; e; e = e->next)
        if (++n > max)
            return fail(d, "%s: more than %zu %s in one message", d->op, max, d->list);
    op->id[0] = '\0';
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (id && (!cJSON_IsString(id) || !id->valuestring || strlen(id->valuestring) >= sizeof op->id))
        return fail(d, "%s: \"id\" is not a string of at most %zu bytes", d->op, sizeof op->id - 1);
    if (id)
        memcpy(op->id, id->valuestring, strlen(id->valuestring) + 1);

    size_t i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        bool ok = false;
        switch (ops[k].kind) {
        case BRIDGE_OP_SUBSCRIBE:
            ok = is_object(d, e, i) && field_u32(d, e, i, "id", &op->u.subs[i].id) &&
                 field_u32(d, e, i, "channelId", &op->u.subs[i].channel);
            break;
        case BRIDGE_OP_UNSUBSCRIBE:
        case BRIDGE_OP_UNADVERTISE:
            ok = as_u32(e, &op->u.ids[i]);
            if (!ok)
                fail(d, "%s: %s[%zu] is not " U32_TEXT, d->op, d->list, i);
            break;
        case BRIDGE_OP_ADVERTISE:
            ok = decode_chan(d, e, i, &op->u.chans[i]);
            break;
        case BRIDGE_OP_GET_PARAMS:
            ok = cJSON_IsString(e) && e->valuestring &&
                 strlen(e->valuestring) < sizeof op->u.params[i].name;
            if (ok)
                memcpy(op->u.params[i].name, e->valuestring, strlen(e->valuestring) + 1);
            else
                fail(d, "%s: %s[%zu] is not a string of at most %zu bytes", d->op, d->list, i,
                     sizeof op->u.params[i].name - 1);
            break;
        case BRIDGE_OP_SET_PARAMS:
            ok = is_object(d, e, i) &&
                 field_str(d, e, i, "name", op->u.params[i].name, sizeof op->u.params[i].name) &&
                 param_value(d, e, i, op->u.params[i].value, sizeof op->u.params[i].value);
            break;
        }
        if (!ok)
            return -1;
    }
    op->kind = ops[k].kind;
    op->n = n;
    return 0;
}

int bridge_json_decode(const char *text, size_t len, struct bridge_op *op, char *err, size_t errlen)
{
    struct dec d = {"message", "", err, errlen};
    op->n = 0;
    if (len > BRIDGE_MAX_TEXT)
        return fail(&d, "a control message of %zu bytes (at most %u)", len, BRIDGE_MAX_TEXT);
    if (!text || !len)
        return fail(&d, "malformed JSON");
    /* Parsed by length (lws gives no NUL); cJSON would stop at the end of
     * the first value, so what follows it, but JSON's white space, is
     * checked here: require_null_terminated would want a NUL inside @len. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root)
        return fail(&d, "malformed JSON");
    while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    int rc;
    if (end != text + len)
        rc = fail(&d, "malformed JSON (text after the value)");
    else if (!cJSON_IsObject(root))
        rc = fail(&d, "not a JSON object");
    else if (has_nul_escape(text, len))
        rc = fail(&d, "a string holds \\u0000");
    else
        rc = decode_op(&d, root, op);
    cJSON_Delete(root);
    return rc;
}
