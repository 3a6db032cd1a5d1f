/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parameter service "/axon/param/<node name>": LIST, GET and SET
 * (core/proto/axon/param.proto) answered from the node's parameters; and
 * the calls other nodes make to it (ax_param_remote_list/set()).
 *
 * A SET from outside goes through ax__param_set(), the same checks and
 * callback as the node's own changes, after the access policy: the
 * caller's identity needs `set_param` rights on "<node>.<parameter>".
 * Values may come as text ("true", "12", "0.5"): converted here to the
 * parameter's declared type, so tools need not know it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "axon/log.h"
#include "core/ax__param.h"

#define LOG_MODULE "param"

static void *scratch(void *ctx, size_t size)
{
    return ax_service_scratch(ctx, size);
}

/* A text value as @t: 0, or AX_EINVAL with the reason. */
static int from_text(const char *name, enum ax_param_type t, const char *s,
                     struct ax_param_value *v, char *why, size_t len)
{
    char *end;
    v->type = t;
    switch (t) {
    case AX_PARAM_BOOL:
        if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on") ||
            !strcmp(s, "1"))
            v->b = true;
        else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off") ||
                 !strcmp(s, "0"))
            v->b = false;
        else
            break;
        return 0;
    case AX_PARAM_INT:
        errno = 0;
        v->i = strtoll(s, &end, 0);
        if (*s && !*end && errno == 0)
            return 0;
        break;
    case AX_PARAM_DOUBLE:
        errno = 0;
        v->d = strtod(s, &end);
        if (*s && !*end && errno == 0)
            return 0;
        break;
    case AX_PARAM_STRING:
        v->s = s;
        return 0;
    }
    static const char *const kinds[] = {"?", "bool", "int", "double", "string"};
    snprintf(why, len, "%s is a %s: '%s' is not one", name, kinds[t], s);
    return AX_EINVAL;
}

static int from_wire(const char *name, enum ax_param_type t, const Axon__Param__Value *w,
                     struct ax_param_value *v, char *why, size_t len)
{
    memset(v, 0, sizeof *v);
    switch (w ? w->kind_case : AXON__PARAM__VALUE__KIND__NOT_SET) {
    case AXON__PARAM__VALUE__KIND_BOOL_VALUE:
        v->type = AX_PARAM_BOOL;
        v->b = w->bool_value;
        return 0;
    case AXON__PARAM__VALUE__KIND_INT_VALUE:
        v->type = AX_PARAM_INT;
        v->i = w->int_value;
        return 0;
    case AXON__PARAM__VALUE__KIND_DOUBLE_VALUE:
        v->type = AX_PARAM_DOUBLE;
        v->d = w->double_value;
        return 0;
    case AXON__PARAM__VALUE__KIND_STRING_VALUE:
        v->type = AX_PARAM_STRING;
        v->s = w->string_value;
        return 0;
    case AXON__PARAM__VALUE__KIND_TEXT:
        return from_text(name, t, w->text, v, why, len);
    default:
        snprintf(why, len, "%s: no value", name);
        return AX_EINVAL;
    }
}

static int set_one(ax_node *node, const char *identity, const char *name,
                   const Axon__Param__Value *w, char *why, size_t len)
{
    enum ax_param_type t = ax__param_type_of(node, name);
    if (!t) {
        snprintf(why, len, "node '%s' has no parameter %s", node->name, name);
        return AX_ENOTFOUND;
    }
    char full[AX_NODE_NAME_MAX + AX_PARAM_NAME_MAX + 2];
    snprintf(full, sizeof full, "%s.%s", node->name, name);
    if (!ax__node_policy_allows(node, identity, AX__POLICY_SET_PARAM, full, why, len))
        return AX_EACCES;
    struct ax_param_value v;
    int rc = from_wire(name, t, w, &v, why, len);
    return rc < 0 ? rc : ax__param_set(node, name, &v, true, why, len);
}

static int handle(const ProtobufCMessage *req, ProtobufCMessage *rep, struct ax_service_call *call,
                  void *user)
{
    ax_node *node = user;
    const Axon__Param__Request *q = (const Axon__Param__Request *)req;
    Axon__Param__Reply *r = (Axon__Param__Reply *)rep;
    /* Bounded per call: each name of a SET costs a result and its reason. */
    if (q->n_names > 4096) {
        snprintf(call->why, call->why_size, "%zu names in one request (at most 4096)", q->n_names);
        return AX_EINVAL;
    }
    if (q->op > 2 || (q->op == 2 && q->n_values != q->n_names)) {
        snprintf(call->why, call->why_size, "op %u with %zu names and %zu values", (unsigned)q->op,
                 q->n_names, q->n_values);
        return AX_EINVAL;
    }
    if (q->op == 2) {
        r->results = ax_service_scratch(call, (q->n_names + 1) * sizeof *r->results);
        if (!r->results)
            return AX_ENOMEM;
        for (size_t i = 0; i < q->n_names; i++) {
            Axon__Param__Result *res = ax_service_scratch(call, sizeof *res);
            char *why = ax_service_scratch(call, 256);
            if (!res || !why)
                return AX_ENOMEM;
            axon__param__result__init(res);
            why[0] = '\0';
            int rc = set_one(node, call->identity, q->names[i], q->values[i], why, 256);
            res->name = q->names[i];
            res->error = (uint32_t)-rc;
            res->reason = why;
            r->results[r->n_results++] = res;
        }
    }
    size_t cap = ax__params_count(node);
    r->params = ax_service_scratch(call, (cap + 1) * sizeof *r->params);
    if (!r->params)
        return AX_ENOMEM;
    r->n_params = ax__params_snapshot(node, q->op == 0 ? NULL : q->names, q->n_names, r->params,
                                      cap, scratch, call);
    return 0;
}

int ax_param_declare(ax_node *node, const struct ax_param_desc *desc)
{
    bool start = false;
    int rc = ax__param_declare(node, desc, &start);
    if (rc < 0 || !start)
        return rc;
    /* The node's first parameter: offer them. The service lives as long
     * as the node (its teardown frees it). */
    const ax_type *req, *rep;
    ax_service *svc;
    char name[AX_TOPIC_MAX];
    snprintf(name, sizeof name, AX__PARAM_SERVICE_PREFIX "%s", node->name);
    if ((rc = ax__param_types(&req, &rep)) == 0)
        rc = ax_service_new(&svc, node, name, req, rep, handle, node, NULL);
    if (rc < 0)
        AX_LOG_E(LOG_MODULE, "node '%s': its parameter service did not start: %s", node->name,
                 ax_strerror(rc));
    return rc;
}

/* ---- other nodes' parameters ---- */

static void value_text(const Axon__Param__Value *w, char *out, size_t size)
{
    out[0] = '\0';
    if (!w)
        return;
    switch (w->kind_case) {
    case AXON__PARAM__VALUE__KIND_BOOL_VALUE:
        snprintf(out, size, "%s", w->bool_value ? "true" : "false");
        break;
    case AXON__PARAM__VALUE__KIND_INT_VALUE:
        snprintf(out, size, "%lld", (long long)w->int_value);
        break;
    case AXON__PARAM__VALUE__KIND_DOUBLE_VALUE:
        /* The shortest text that reads back as the same double. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, size, "%.*g", prec, w->double_value);
            if (strtod(out, NULL) == w->double_value || !isfinite(w->double_value))
                break;
        }
        break;
    case AXON__PARAM__VALUE__KIND_STRING_VALUE:
        snprintf(out, size, "%s", w->string_value);
        break;
    case AXON__PARAM__VALUE__KIND_TEXT:
        snprintf(out, size, "%s", w->text);
        break;
    default:
        break;
    }
}

static void info_from_wire(struct ax_param_info *o, const Axon__Param__Info *w)
{
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", w->name);
    o->type = w->type >= 1 && w->type <= 4 ? (enum ax_param_type)w->type : AX_PARAM_STRING;
    value_text(w->value, o->value, sizeof o->value);
    value_text(w->default_value, o->default_value, sizeof o->default_value);
    snprintf(o->description, sizeof o->description, "%s", w->description);
    o->has_range = w->has_range;
    o->min = w->min;
    o->max = w->max;
    size_t k = 0;
    for (size_t i = 0; i < w->n_choices && k < sizeof o->choices; i++) {
        int n =
            snprintf(o->choices + k, sizeof o->choices - k, "%s%s", i ? "|" : "", w->choices[i]);
        k += n > 0 ? (size_t)n : 0;
    }
    o->read_only = w->read_only;
}

/* One call to @node_name's service; the reply in *@out. */
static int call(ax_node *self, const char *node_name, const Axon__Param__Request *q,
                int64_t timeout_ns, Axon__Param__Reply **out, char *why, size_t why_size)
{
    const ax_type *req, *rep;
    int rc = ax__param_types(&req, &rep);
    if (rc < 0)
        return rc;
    char name[AX_TOPIC_MAX];
    snprintf(name, sizeof name, AX__PARAM_SERVICE_PREFIX "%s", node_name);
    ax_client *c;
    if ((rc = ax_client_new(&c, self, name, req, rep, NULL)) < 0)
        return rc;
    struct ax_call_result res;
    ProtobufCMessage *r = NULL;
    int64_t half = timeout_ns / 2;
    rc = ax_client_wait_server(c, half);
    if (rc == AX_ETIMEDOUT) {
        rc = AX_ENOTFOUND;
        snprintf(res.reason, sizeof res.reason,
                 "no node named '%s' with parameters answered (its service %s)", node_name, name);
    } else if (rc == 0) {
        rc = ax_client_call(c, &q->base, &r, timeout_ns - half, &res);
    } else {
        snprintf(res.reason, sizeof res.reason, "%s: %s", name, ax_strerror(rc));
    }
    ax_client_free(c);
    if (why && why_size)
        snprintf(why, why_size, "%s", rc == 0 ? "" : res.reason);
    *out = (Axon__Param__Reply *)r;
    return rc;
}

int ax_param_remote_list(ax_node *self, const char *node_name, int64_t timeout_ns,
                         struct ax_param_info **out, size_t *n, char *why, size_t why_size)
{
    if (!self || !node_name || !out || !n)
        return AX_EINVAL;
    *out = NULL;
    *n = 0;
    Axon__Param__Request q = AXON__PARAM__REQUEST__INIT;
    Axon__Param__Reply *r;
    int rc = call(self, node_name, &q, timeout_ns, &r, why, why_size);
    if (rc < 0)
        return rc;
    *out = calloc(r->n_params ? r->n_params : 1, sizeof **out);
    if (!*out) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return AX_ENOMEM;
    }
    for (size_t i = 0; i < r->n_params; i++)
        info_from_wire(&(*out)[i], r->params[i]);
    *n = r->n_params;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

int ax_param_remote_set(ax_node *self, const char *node_name, const char *const *names,
                        const char *const *values, size_t count, int64_t timeout_ns,
                        struct ax_param_result *results, char *why, size_t why_size)
{
    if (!self || !node_name || (count && (!names || !values)))
        return AX_EINVAL;
    Axon__Param__Request q = AXON__PARAM__REQUEST__INIT;
    q.op = 2;
    q.n_names = q.n_values = count;
    q.names = calloc(count ? count : 1, sizeof *q.names);
    q.values = calloc(count ? count : 1, sizeof *q.values);
    Axon__Param__Value *vals = calloc(count ? count : 1, sizeof *vals);
    int rc = q.names && q.values && vals ? 0 : AX_ENOMEM;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        axon__param__value__init(&vals[i]);
        vals[i].kind_case = AXON__PARAM__VALUE__KIND_TEXT;
        vals[i].text = (char *)values[i];
        q.names[i] = (char *)names[i];
        q.values[i] = &vals[i];
    }
    Axon__Param__Reply *r = NULL;
    if (rc == 0)
        rc = call(self, node_name, &q, timeout_ns, &r, why, why_size);
    for (size_t i = 0; rc == 0 && results && i < count; i++) {
        struct ax_param_result *o = &results[i];
        memset(o, 0, sizeof *o);
        snprintf(o->name, sizeof o->name, "%s", names[i]);
        o->error = AX_EPROTO;
        snprintf(o->reason, sizeof o->reason, "no result for it in the reply");
        if (i < r->n_results && r->results[i]->error <= 100) {
            o->error = -(int)r->results[i]->error;
            snprintf(o->reason, sizeof o->reason, "%s", r->results[i]->reason);
        }
    }
    if (r)
        protobuf_c_message_free_unpacked(&r->base, NULL);
    free(vals);
    free(q.names);
    free(q.values);
    return rc;
}
