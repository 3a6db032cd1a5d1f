/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's parameters (include/axon/param.h): the declared set, its
 * values, the checks and the change callback, and the service through
 * which other nodes list, read and change them.
 *
 * Values live under params->mu, held only to read or write them, never
 * across the callback: the callback may read parameters. Changes are made
 * one at a time (params->set_mu, held across check, callback and commit),
 * so two concurrent sets cannot both pass the callback on stale values; a
 * set from inside the callback would deadlock on it and is refused
 * (AX_EBUSY) by a thread-local mark instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "axon/param.pb-c.h"
#include "axon_param_types.h" /* generated: ax_types_axon_param_register() */
#include "core/ax__param.h"

#define LOG_MODULE "param"

static _Thread_local const ax_node *in_callback;

struct pval {
    bool b;
    int64_t i;
    double d;
    char *s;
};

struct ax__param {
    char name[AX_PARAM_NAME_MAX];
    enum ax_param_type type;
    struct pval cur, def;
    char *description;
    bool has_range;
    double min, max;
    char **choices;
    size_t nchoices;
    bool read_only;
};

struct ax__params {
    pthread_mutex_t mu, set_mu;
    struct ax__param **v;
    size_t n, cap;
    ax_param_fn fn;
    void *user;
    bool svc_started; /* the service (param_service.c) was started */
};

int ax__param_types(const ax_type **req, const ax_type **rep)
{
    int rc = ax_types_axon_param_register();
    if (rc < 0)
        return rc;
    if ((rc = ax_type_find_descriptor(&axon__param__request__descriptor, req)) < 0)
        return rc;
    return ax_type_find_descriptor(&axon__param__reply__descriptor, rep);
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= AX_PARAM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static struct ax__param *find(struct ax__params *ps, const char *name)
{
    for (size_t i = 0; ps && i < ps->n; i++)
        if (strcmp(ps->v[i]->name, name) == 0)
            return ps->v[i];
    return NULL;
}

/* @v against @p's type, range and choices; the reason in @why. */
static int check(const struct ax__param *p, const struct ax_param_value *v, char *why, size_t len)
{
    static const char *const names[] = {"?", "bool", "int", "double", "string"};
    if (v->type != p->type) {
        snprintf(why, len, "%s is a %s, not a %s", p->name, names[p->type],
                 v->type >= 1 && v->type <= 4 ? names[v->type] : "value of no type");
        return AX_EINVAL;
    }
    if (p->has_range) {
        double x = p->type == AX_PARAM_INT ? (double)v->i : v->d;
        if (p->type == AX_PARAM_DOUBLE && isnan(x)) {
            snprintf(why, len, "%s: NaN is outside [%g, %g]", p->name, p->min, p->max);
            return AX_EINVAL;
        }
        if ((p->type == AX_PARAM_INT || p->type == AX_PARAM_DOUBLE) && (x < p->min || x > p->max)) {
            snprintf(why, len, "%s: %g is outside [%g, %g]", p->name, x, p->min, p->max);
            return AX_EINVAL;
        }
    }
    if (p->type == AX_PARAM_STRING) {
        if (!v->s || strlen(v->s) >= AX_PARAM_STRING_MAX) {
            snprintf(why, len, "%s: a string of at most %d bytes", p->name,
                     AX_PARAM_STRING_MAX - 1);
            return AX_EINVAL;
        }
        bool ok = p->nchoices == 0;
        for (size_t i = 0; i < p->nchoices && !ok; i++)
            ok = strcmp(p->choices[i], v->s) == 0;
        if (!ok) {
            int k = snprintf(why, len, "%s: '%s' is not one of", p->name, v->s);
            for (size_t i = 0; i < p->nchoices && k > 0 && (size_t)k < len; i++)
                k += snprintf(why + k, len - (size_t)k, " %s", p->choices[i]);
            return AX_EINVAL;
        }
    }
    return 0;
}

static int pval_set(struct pval *d, enum ax_param_type t, const struct ax_param_value *v)
{
    if (t == AX_PARAM_STRING) {
        char *s = strdup(v->s);
        if (!s)
            return AX_ENOMEM;
        free(d->s);
        d->s = s;
    }
    d->b = v->b;
    d->i = v->i;
    d->d = v->d;
    return 0;
}

static void param_free(struct ax__param *p)
{
    if (!p)
        return;
    free(p->cur.s);
    free(p->def.s);
    free(p->description);
    for (size_t i = 0; i < p->nchoices; i++)
        free(p->choices[i]);
    free(p->choices);
    free(p);
}

static struct ax__param *param_new(const struct ax_param_desc *d)
{
    struct ax__param *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    snprintf(p->name, sizeof p->name, "%s", d->name);
    p->type = d->def.type;
    p->has_range = d->has_range;
    p->min = d->min;
    p->max = d->max;
    p->read_only = d->read_only;
    bool ok = (!d->description || (p->description = strdup(d->description))) &&
              (d->nchoices == 0 || (p->choices = calloc(d->nchoices, sizeof *p->choices)));
    for (size_t i = 0; ok && i < d->nchoices; i++) {
        ok = (p->choices[i] = strdup(d->choices[i])) != NULL;
        p->nchoices += ok;
    }
    if (!ok || pval_set(&p->def, p->type, &d->def) < 0 || pval_set(&p->cur, p->type, &d->def) < 0) {
        param_free(p);
        return NULL;
    }
    return p;
}

/* ---- setting ---- */

int ax__param_set(ax_node *node, const char *name, const struct ax_param_value *v,
                  bool from_outside, char *why, size_t len)
{
    struct ax__params *ps = node->params;
    char dummy[8];
    if (!why || !len) {
        why = dummy;
        len = sizeof dummy;
    }
    why[0] = '\0';
    if (in_callback == node) {
        snprintf(why, len, "a parameter cannot be set from the change callback");
        return AX_EBUSY;
    }
    if (!ps)
        return AX_ENOTFOUND;
    pthread_mutex_lock(&ps->set_mu);
    pthread_mutex_lock(&ps->mu);
    struct ax__param *p = find(ps, name);
    int rc = p ? check(p, v, why, len) : AX_ENOTFOUND;
    if (rc == 0 && p->read_only) {
        snprintf(why, len, "%s is read-only", name);
        rc = AX_EINVAL;
    }
    ax_param_fn fn = ps->fn;
    void *user = ps->user;
    pthread_mutex_unlock(&ps->mu);
    if (rc == AX_ENOTFOUND)
        snprintf(why, len, "node '%s' has no parameter %s", node->name, name);
    if (rc == 0 && fn) {
        char cb_why[256] = "";
        in_callback = node;
        int r = fn(node, name, v, cb_why, sizeof cb_why, user);
        in_callback = NULL;
        if (r < 0) {
            snprintf(why, len, "%s", cb_why[0] ? cb_why : ax_strerror(r));
            rc = AX_EREFUSED;
        }
    }
    if (rc == 0) {
        pthread_mutex_lock(&ps->mu);
        rc = pval_set(&p->cur, p->type, v);
        pthread_mutex_unlock(&ps->mu);
    }
    pthread_mutex_unlock(&ps->set_mu);
    if (rc == 0)
        AX_LOG_I(LOG_MODULE, "%s set%s", name, from_outside ? " from outside" : "");
    return rc;
}

int ax_param_set(ax_node *node, const char *name, const struct ax_param_value *value, char *why,
                 size_t why_size)
{
    if (!node || !name || !value)
        return AX_EINVAL;
    return ax__param_set(node, name, value, false, why, why_size);
}

/* ---- reading ---- */

static int get(ax_node *node, const char *name, enum ax_param_type t, struct pval *out, char *buf,
               size_t size)
{
    struct ax__params *ps = node ? node->params : NULL;
    if (!node || !name)
        return AX_EINVAL;
    if (!ps)
        return AX_ENOTFOUND;
    pthread_mutex_lock(&ps->mu);
    struct ax__param *p = find(ps, name);
    int rc = !p ? AX_ENOTFOUND : p->type != t ? AX_ETYPE : 0;
    if (rc == 0) {
        *out = p->cur;
        if (buf)
            snprintf(buf, size, "%s", p->cur.s);
        out->s = NULL;
    }
    pthread_mutex_unlock(&ps->mu);
    return rc;
}

int ax_param_get_bool(ax_node *node, const char *name, bool *out)
{
    struct pval v;
    int rc = out ? get(node, name, AX_PARAM_BOOL, &v, NULL, 0) : AX_EINVAL;
    if (rc == 0)
        *out = v.b;
    return rc;
}

int ax_param_get_int(ax_node *node, const char *name, int64_t *out)
{
    struct pval v;
    int rc = out ? get(node, name, AX_PARAM_INT, &v, NULL, 0) : AX_EINVAL;
    if (rc == 0)
        *out = v.i;
    return rc;
}

int ax_param_get_double(ax_node *node, const char *name, double *out)
{
    struct pval v;
    int rc = out ? get(node, name, AX_PARAM_DOUBLE, &v, NULL, 0) : AX_EINVAL;
    if (rc == 0)
        *out = v.d;
    return rc;
}

int ax_param_get_string(ax_node *node, const char *name, char *buf, size_t size)
{
    struct pval v;
    if (!buf || !size)
        return AX_EINVAL;
    return get(node, name, AX_PARAM_STRING, &v, buf, size);
}

int ax_param_on_change(ax_node *node, ax_param_fn fn, void *user)
{
    if (!node)
        return AX_EINVAL;
    int rc = ax__params_open(node);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&node->params->mu);
    node->params->fn = fn;
    node->params->user = user;
    pthread_mutex_unlock(&node->params->mu);
    return 0;
}

/* ---- for the service (param_service.c) ---- */

static void value_to_wire(Axon__Param__Value *w, enum ax_param_type t, const struct pval *v)
{
    switch (t) {
    case AX_PARAM_BOOL:
        w->kind_case = AXON__PARAM__VALUE__KIND_BOOL_VALUE;
        w->bool_value = v->b;
        break;
    case AX_PARAM_INT:
        w->kind_case = AXON__PARAM__VALUE__KIND_INT_VALUE;
        w->int_value = v->i;
        break;
    case AX_PARAM_DOUBLE:
        w->kind_case = AXON__PARAM__VALUE__KIND_DOUBLE_VALUE;
        w->double_value = v->d;
        break;
    case AX_PARAM_STRING:
        w->kind_case = AXON__PARAM__VALUE__KIND_STRING_VALUE;
        w->string_value = v->s;
        break;
    }
}

/* Fill @out (@n entries of scratch memory) with the parameters named (all
 * of them when @names is NULL); strings are copied into @arena by @copy.
 * Under the lock: a consistent snapshot. */
size_t ax__params_snapshot(ax_node *node, char **names, size_t nnames, Axon__Param__Info **out,
                           size_t cap, void *(*alloc)(void *ctx, size_t size), void *ctx)
{
    struct ax__params *ps = node->params;
    if (!ps)
        return 0;
    size_t k = 0;
    pthread_mutex_lock(&ps->mu);
    for (size_t i = 0; i < ps->n && k < cap; i++) {
        const struct ax__param *p = ps->v[i];
        bool want = names == NULL;
        for (size_t j = 0; j < nnames && !want; j++)
            want = strcmp(names[j], p->name) == 0;
        if (!want)
            continue;
        Axon__Param__Info *w = alloc(ctx, sizeof *w);
        Axon__Param__Value *cur = alloc(ctx, sizeof *cur), *def = alloc(ctx, sizeof *def);
        char *nm = alloc(ctx, strlen(p->name) + 1);
        const char *ds = p->description ? p->description : "";
        char *desc = alloc(ctx, strlen(ds) + 1);
        size_t slen = p->type == AX_PARAM_STRING ? strlen(p->cur.s) + strlen(p->def.s) + 2 : 0;
        char *strs = slen ? alloc(ctx, slen) : NULL;
        char **choices = p->nchoices ? alloc(ctx, p->nchoices * sizeof *choices) : NULL;
        if (!w || !cur || !def || !nm || !desc || (slen && !strs) || (p->nchoices && !choices))
            break;
        axon__param__info__init(w);
        axon__param__value__init(cur);
        axon__param__value__init(def);
        strcpy(nm, p->name);
        strcpy(desc, ds);
        struct pval c = p->cur, d = p->def;
        if (strs) {
            strcpy(strs, p->cur.s);
            strcpy(strs + strlen(p->cur.s) + 1, p->def.s);
            c.s = strs;
            d.s = strs + strlen(p->cur.s) + 1;
        }
        value_to_wire(cur, p->type, &c);
        value_to_wire(def, p->type, &d);
        w->name = nm;
        w->type = (uint32_t)p->type;
        w->value = cur;
        w->default_value = def;
        w->description = desc;
        w->has_range = p->has_range;
        w->min = p->min;
        w->max = p->max;
        for (size_t j = 0; j < p->nchoices; j++)
            choices[j] = p->choices[j]; /* never changed or freed before the node */
        w->n_choices = p->nchoices;
        w->choices = choices;
        w->read_only = p->read_only;
        out[k++] = w;
    }
    pthread_mutex_unlock(&ps->mu);
    return k;
}

size_t ax__params_count(ax_node *node)
{
    struct ax__params *ps = node->params;
    if (!ps)
        return 0;
    pthread_mutex_lock(&ps->mu);
    size_t n = ps->n;
    pthread_mutex_unlock(&ps->mu);
    return n;
}

enum ax_param_type ax__param_type_of(ax_node *node, const char *name)
{
    struct ax__params *ps = node->params;
    enum ax_param_type t = 0;
    if (!ps)
        return t;
    pthread_mutex_lock(&ps->mu);
    const struct ax__param *p = find(ps, name);
    if (p)
        t = p->type;
    pthread_mutex_unlock(&ps->mu);
    return t;
}

/* ---- lifecycle ---- */

int ax__params_open(ax_node *node)
{
    pthread_mutex_lock(&node->lock);
    if (!node->params) {
        struct ax__params *ps = calloc(1, sizeof *ps);
        if (ps) {
            pthread_mutex_init(&ps->mu, NULL);
            pthread_mutex_init(&ps->set_mu, NULL);
            node->params = ps;
        }
    }
    pthread_mutex_unlock(&node->lock);
    return node->params ? 0 : AX_ENOMEM;
}

int ax__param_declare(ax_node *node, const struct ax_param_desc *d, bool *need_service)
{
    *need_service = false;
    if (!node || !d || !name_ok(d->name) || d->def.type < AX_PARAM_BOOL ||
        d->def.type > AX_PARAM_STRING || d->nchoices > AX_PARAM_CHOICES_MAX ||
        (d->nchoices && !d->choices) || (d->def.type == AX_PARAM_STRING && !d->def.s) ||
        (d->has_range && !(d->min <= d->max)))
        return AX_EINVAL;
    if (node->destroying)
        return AX_ECLOSED;
    int rc = ax__params_open(node);
    if (rc < 0)
        return rc;
    struct ax__params *ps = node->params;
    struct ax__param *p = param_new(d);
    if (!p)
        return AX_ENOMEM;
    char why[200];
    if ((rc = check(p, &d->def, why, sizeof why)) < 0) {
        AX_LOG_E(LOG_MODULE, "declaring %s: its default: %s", d->name, why);
        param_free(p);
        return rc;
    }
    pthread_mutex_lock(&ps->mu);
    if (find(ps, d->name)) {
        rc = AX_EEXIST;
    } else if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        struct ax__param **v = realloc(ps->v, cap * sizeof *v);
        if (!v) {
            rc = AX_ENOMEM;
        } else {
            ps->v = v;
            ps->cap = cap;
        }
    }
    if (rc == 0)
        ps->v[ps->n++] = p;
    *need_service = rc == 0 && !ps->svc_started;
    if (*need_service)
        ps->svc_started = true;
    pthread_mutex_unlock(&ps->mu);
    if (rc < 0)
        param_free(p);
    return rc;
}

void ax__params_free(ax_node *node)
{
    struct ax__params *ps = node->params;
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++)
        param_free(ps->v[i]);
    free(ps->v);
    pthread_mutex_destroy(&ps->mu);
    pthread_mutex_destroy(&ps->set_mu);
    free(ps);
    node->params = NULL;
}
