/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/policy_yaml.c: the policy loader's view of libyaml's events
 * (core/ax__policy_impl.h): one place that turns failures into "FILE:LINE:
 * COL: KEY: message", refuses aliases, checks every string against the
 * bounds and every list against its length before it grows.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/common.h"
#include "base/ax__array.h"
#include "core/ax__policy_impl.h"
#include "msgs/ax__yaml.h"

int ax__policy_fail(struct ax__policy_loader *L, int line, int col, const char *key,
                    const char *fmt, ...)
{
    if (!L->err || L->err_len == 0)
        return AX_EINVAL;
    char msg[512], pos[32] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(pos, sizeof pos, "%d:%d:", line, col);
    bool k = key && key[0];
    snprintf(L->err, L->err_len, "%s:%s %s%s%s", L->name, pos, k ? key : "", k ? ": " : "", msg);
    return AX_EINVAL;
}

int ax__policy_nomem(struct ax__policy_loader *L)
{
    ax__policy_fail(L, 0, 0, NULL, "out of memory");
    return AX_ENOMEM;
}

const char *ax__policy_shape(const yaml_event_t *ev)
{
    return ax__yaml_event_is_null(ev) ? "nothing" : ax__yaml_event_shape(ev);
}

int ax__policy_next(struct ax__policy_loader *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev)) {
        struct ax__yaml_error e;
        ax__yaml_error_of(&L->parser, &e);
        if (e.nomem)
            return ax__policy_nomem(L);
        if (e.reader)
            return ax__policy_fail(L, 0, 0, NULL, "YAML error: %s at byte %zu",
                                   e.problem ? e.problem : "bad input", e.offset);
        return ax__policy_fail(L, e.line, e.column, NULL, "YAML syntax error: %s",
                               e.problem ? e.problem : "?");
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        int rc =
            ax__policy_fail_at(L, &ev->start_mark, NULL, "YAML aliases (*%s) are not supported",
                               (const char *)ev->data.alias.anchor);
        yaml_event_delete(ev);
        return rc;
    }
    return 0;
}

/* Whether the scalar @ev is a usable string: not null, no NUL byte, 1 to
 * AX__POLICY_NAME_MAX bytes. 0 or the error. */
static int check_string(struct ax__policy_loader *L, const char *key, const char *what,
                        const yaml_event_t *ev)
{
    if (ev->type != YAML_SCALAR_EVENT || ax__yaml_event_is_null(ev))
        return ax__policy_fail_at(L, &ev->start_mark, key, "expected %s, got %s", what,
                                  ax__policy_shape(ev));
    size_t len = ev->data.scalar.length;
    if (ax__yaml_has_nul(ev->data.scalar.value, len))
        return ax__policy_fail_at(L, &ev->start_mark, key, "%s contains a NUL byte", what);
    if (len == 0 || len > AX__POLICY_NAME_MAX)
        return ax__policy_fail_at(L, &ev->start_mark, key, "%s of %zu bytes (1 to %d)", what, len,
                                  AX__POLICY_NAME_MAX);
    return 0;
}

int ax__policy_next_string(struct ax__policy_loader *L, const char *key, const char *what,
                           yaml_event_type_t end, yaml_event_t *ev)
{
    int rc = ax__policy_next(L, ev);
    if (rc)
        return rc;
    if (ev->type == end) {
        yaml_event_delete(ev);
        return 0;
    }
    if ((rc = check_string(L, key, what, ev))) {
        yaml_event_delete(ev);
        return rc;
    }
    return 1;
}

/* ---- lists ---- */

int ax__policy_add_pattern(struct ax__policy_loader *L, const char *key, const yaml_event_t *ev,
                           void *to)
{
    struct ax__policy_strs *s = to;
    (void)key;
    if (ax__array_reserve_max(&s->v, &s->cap, s->n + 1, 4, AX__POLICY_LIST_MAX))
        return ax__policy_nomem(L);
    if (!(s->v[s->n] = strdup((const char *)ev->data.scalar.value)))
        return ax__policy_nomem(L);
    s->n++;
    return 0;
}

int ax__policy_add_id(struct ax__policy_loader *L, const char *key, const yaml_event_t *ev,
                      void *to)
{
    struct ax__policy_ids *d = to;
    const char *t = (const char *)ev->data.scalar.value;
    uint64_t v = 0;
    for (const char *c = t; *c; c++) {
        if (*c < '0' || *c > '9' || (v = v * 10 + (uint64_t)(*c - '0')) > UINT32_MAX)
            return ax__policy_fail_at(L, &ev->start_mark, key, "\"%s\" is not an id (0 to %u)", t,
                                      (unsigned)UINT32_MAX);
    }
    if (ax__array_reserve_max(&d->v, &d->cap, d->n + 1, 4, AX__POLICY_LIST_MAX))
        return ax__policy_nomem(L);
    d->v[d->n++] = (uint32_t)v;
    return 0;
}

int ax__policy_load_list(struct ax__policy_loader *L, const char *key, ax__policy_add_fn add,
                         void *to, const size_t *count)
{
    yaml_event_t ev;
    int rc = ax__policy_next(L, &ev);
    if (rc)
        return rc;
    if (ev.type == YAML_SCALAR_EVENT && !ax__yaml_event_is_null(&ev)) {
        /* One string for a list of one. */
        if (!(rc = check_string(L, key, "a string entry", &ev)))
            rc = add(L, key, &ev, to);
        yaml_event_delete(&ev);
        return rc;
    }
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        rc = ax__policy_fail_at(L, &ev.start_mark, key,
                                "expected a list (write [] for none), got %s",
                                ax__policy_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    while ((rc = ax__policy_next_string(L, key, "a string entry", YAML_SEQUENCE_END_EVENT, &ev)) ==
           1) {
        if (*count >= AX__POLICY_LIST_MAX)
            rc = ax__policy_fail_at(L, &ev.start_mark, key, "too many entries: at most %d",
                                    AX__POLICY_LIST_MAX);
        else
            rc = add(L, key, &ev, to);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
    return rc;
}
