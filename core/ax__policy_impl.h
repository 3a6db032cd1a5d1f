/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/ax__policy_impl.h: the inside of an access policy (core/ax__policy.h),
 * shared by its files only: core/policy.c (the document and the object),
 * core/policy_yaml.c (events, strings and lists, errors) and
 * core/policy_query.c (the decisions). Nothing else includes it.
 */
#ifndef AX__POLICY_IMPL_H
#define AX__POLICY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#include "core/ax__policy.h"

struct ax__policy_strs {
    char **v; /* each strdup'ed, 1 to AX__POLICY_NAME_MAX bytes */
    size_t n, cap;
};

struct ax__policy_ids {
    uint32_t *v;
    size_t n, cap;
};

/* What one identity (or "*") may do. */
struct ax__policy_rules {
    struct ax__policy_strs pat[AX__POLICY_NACTIONS]; /* by enum ax__policy_action */
    bool own_shm; /* shm_uids or shm_gids given: they replace the top-level ones */
    struct ax__policy_ids uids, gids;
};

struct ax__policy_entry {
    char *identity;
    uint32_t hash; /* finds duplicates while loading */
    int line;      /* where it was written */
    struct ax__policy_rules r;
};

struct ax__policy {
    bool default_allow;
    bool has_star;
    struct ax__policy_rules star;
    struct ax__policy_ids uids, gids; /* the top-level shm lists */
    bool has_uids;                    /* shm_uids was written (else uids = {getuid()}) */
    struct ax__policy_entry *nodes;   /* sorted by identity once loaded */
    size_t nnodes, cap;
};

/* Entries by identity (qsort, bsearch). */
static inline int ax__policy_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ax__policy_entry *)a)->identity,
                  ((const struct ax__policy_entry *)b)->identity);
}

/* One load: the parser, the policy being built, where errors go. */
struct ax__policy_loader {
    yaml_parser_t parser;
    ax__policy *p;
    const char *name; /* the file name in messages */
    char *err;        /* NULL: no message */
    size_t err_len;
    int star_line; /* where "*" was, 0: not yet */
};

/* Write "NAME:LINE:COL: KEY: message" into the loader's buffer (without
 * LINE:COL when @line is 0, without KEY: when @key is NULL or ""). Returns
 * AX_EINVAL. */
int ax__policy_fail(struct ax__policy_loader *L, int line, int col, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same at libyaml mark @mark. */
#define ax__policy_fail_at(L, mark, key, ...)                                                      \
    ax__policy_fail((L), ax__yaml_line(mark), ax__yaml_column(mark), (key), __VA_ARGS__)

/* "out of memory"; returns AX_ENOMEM. */
int ax__policy_nomem(struct ax__policy_loader *L);

/* "a scalar", "a list", "a mapping", "nothing" (null): for messages. */
const char *ax__policy_shape(const yaml_event_t *ev);

/* The next event (the caller deletes it). Aliases are refused; libyaml
 * failures become messages. 0, AX_EINVAL or AX_ENOMEM. */
int ax__policy_next(struct ax__policy_loader *L, yaml_event_t *ev);

/* The next event, which must be a string (a scalar that is not null, holds
 * no NUL byte and has 1 to AX__POLICY_NAME_MAX bytes; @what names it in
 * messages, @key is the path reported) or an event of type @end. 1 with
 * the scalar in @ev (the caller deletes it), 0 at @end, or an error. */
int ax__policy_next_string(struct ax__policy_loader *L, const char *key, const char *what,
                           yaml_event_type_t end, yaml_event_t *ev);

/* How a list adds one entry @ev (a checked string) to @to. */
typedef int (*ax__policy_add_fn)(struct ax__policy_loader *L, const char *key,
                                 const yaml_event_t *ev, void *to);
int ax__policy_add_pattern(struct ax__policy_loader *L, const char *key, const yaml_event_t *ev,
                           void *to); /* @to: struct ax__policy_strs */
int ax__policy_add_id(struct ax__policy_loader *L, const char *key, const yaml_event_t *ev,
                      void *to); /* @to: struct ax__policy_ids; a decimal uint32 */

/* The value of list key @key: a sequence of strings, or one string, each
 * passed to @add; *@count (the length of @to so far) is held to
 * AX__POLICY_LIST_MAX. 0 or an error. */
int ax__policy_load_list(struct ax__policy_loader *L, const char *key, ax__policy_add_fn add,
                         void *to, const size_t *count);

#endif /* AX__POLICY_IMPL_H */
