/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/param.h: a node's parameters, like ROS 2's: typed values the node
 * declares with a default, a range or a set of choices, and a description;
 * read by the node, changed by the node or from outside (`axon param set`,
 * `axon param load FILE.yaml`), each change first shown to the node's
 * change callback, which may refuse it with a reason.
 *
 * The node owns its parameters: there is no parameter server. A node with
 * parameters offers the service "/axon/param/<node name>"
 * (docs/parameters.md); the ax_param_remote_*() functions call it from
 * another node, as the CLI does. With an access policy, changing parameter
 * P of node N from outside needs `set_param` rights on "N.P".
 *
 * Threads: every function may be called from any thread. The change
 * callback runs on the thread that sets the value: the caller's for
 * ax_param_set(), the node's loop thread for a change from outside; it
 * must not block, and must not set parameters itself (AX_EBUSY).
 */
#ifndef AXON_PARAM_H
#define AXON_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/node.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_PARAM_NAME_MAX    128  /* bytes with the NUL: letters, digits, _ . - */
#define AX_PARAM_STRING_MAX  1024 /* a string value's bytes with the NUL */
#define AX_PARAM_CHOICES_MAX 32

enum ax_param_type {
    AX_PARAM_BOOL = 1,
    AX_PARAM_INT = 2, /* int64 */
    AX_PARAM_DOUBLE = 3,
    AX_PARAM_STRING = 4,
};

/* A value: the field of its type is the one that counts. @s is borrowed
 * (copied by the functions that take a value). */
struct ax_param_value {
    enum ax_param_type type;
    bool b;
    int64_t i;
    double d;
    const char *s;
};

struct ax_param_desc {
    const char *name;          /* AX_PARAM_NAME_MAX; letters, digits, '_', '.', '-' */
    struct ax_param_value def; /* its type is the parameter's */
    const char *description;   /* may be NULL */
    bool has_range;            /* int and double: min <= value <= max */
    double min, max;
    const char *const *choices; /* string: the values allowed (NULL: any) */
    size_t nchoices;            /* at most AX_PARAM_CHOICES_MAX */
    bool read_only;             /* changed by nobody after the declaration */
};

/**
 * ax_param_declare() - declare a parameter of @node with its default.
 * Returns 0; AX_EINVAL (bad name, default of no type, a default outside
 * its own range or choices, more than AX_PARAM_CHOICES_MAX choices, a
 * string over AX_PARAM_STRING_MAX); AX_EEXIST (declared already);
 * AX_ENOMEM; AX_ECLOSED; or the error of starting the node's parameter
 * service (the first declaration starts it).
 */
AX_API int ax_param_declare(ax_node *node, const struct ax_param_desc *desc);

/*
 * The change callback: @name is about to become @value (checked already
 * against its type, range and choices). Return 0 to let it, or a negative
 * AX_E* code to refuse, with a reason in @why (@why_size bytes).
 */
typedef int (*ax_param_fn)(ax_node *node, const char *name, const struct ax_param_value *value,
                           char *why, size_t why_size, void *user);

/**
 * ax_param_on_change() - the node's one change callback (NULL: none; a
 * second call replaces the first). Returns 0 or AX_EINVAL.
 */
AX_API int ax_param_on_change(ax_node *node, ax_param_fn fn, void *user);

/**
 * ax_param_set() - change a parameter from inside the node, through the
 * same checks and callback as a change from outside. @why (may be NULL)
 * receives the reason of a refusal.
 * Returns 0; AX_ENOTFOUND; AX_EINVAL (type, range, choice, read-only);
 * AX_EREFUSED (the callback's refusal); AX_EBUSY (from the callback).
 */
AX_API int ax_param_set(ax_node *node, const char *name, const struct ax_param_value *value,
                        char *why, size_t why_size);

/** ax_param_get_bool/int/double() - the value now: 0, AX_ENOTFOUND or
 * AX_ETYPE (the parameter has another type). */
AX_API int ax_param_get_bool(ax_node *node, const char *name, bool *out);
AX_API int ax_param_get_int(ax_node *node, const char *name, int64_t *out);
AX_API int ax_param_get_double(ax_node *node, const char *name, double *out);
/** ax_param_get_string() - the value copied into @buf (@size bytes,
 * truncated): 0, AX_ENOTFOUND, AX_ETYPE, AX_EINVAL. */
AX_API int ax_param_get_string(ax_node *node, const char *name, char *buf, size_t size);

/* ---- another node's parameters (for tools) ---- */

/* A parameter as seen from outside: values as text ("true", "12", "0.5",
 * the string itself). */
struct ax_param_info {
    char name[AX_PARAM_NAME_MAX];
    enum ax_param_type type;
    char value[AX_PARAM_STRING_MAX];
    char default_value[AX_PARAM_STRING_MAX];
    char description[256];
    bool has_range;
    double min, max;
    char choices[512]; /* "a|b|c" ("" : any) */
    bool read_only;
};

/* What became of one name of a set or load. */
struct ax_param_result {
    char name[AX_PARAM_NAME_MAX];
    int error; /* 0 or AX_E*: see ax_param_set(), plus AX_EACCES */
    char reason[256];
};

/**
 * ax_param_remote_list() - every parameter of the node named @node_name,
 * through @self (a node of the same domain), waiting at most @timeout_ns.
 * @out: malloc'd array the caller frees; @n its length.
 * Returns 0, or the service call's error (axon/service.h: AX_ENOTFOUND
 * when no node of that name has parameters, AX_ETIMEDOUT, ...) with the
 * reason in @why when not NULL. Not on a loop thread (AX_EBUSY).
 */
AX_API int ax_param_remote_list(ax_node *self, const char *node_name, int64_t timeout_ns,
                                struct ax_param_info **out, size_t *n, char *why, size_t why_size);

/**
 * ax_param_remote_set() - set parameters of @node_name from text values:
 * @names[i] to @values[i], @count of them, each on its own. @results
 * (@count entries, may be NULL) receives each outcome.
 * Returns 0 when the call went through (even if some were refused: see
 * @results), or the call's error as ax_param_remote_list().
 */
AX_API int ax_param_remote_set(ax_node *self, const char *node_name, const char *const *names,
                               const char *const *values, size_t count, int64_t timeout_ns,
                               struct ax_param_result *results, char *why, size_t why_size);

/**
 * ax_param_load_yaml() - read @path, a YAML mapping of parameter names to
 * scalar values (nested mappings join their keys with '.'), as text
 * values for ax_param_remote_set().
 * @names, @values: malloc'd arrays of malloc'd strings, @n long; free
 *                  with ax_param_yaml_free().
 * Returns 0, AX_ENOENT, AX_ECONFIG (not such a mapping: @why names the
 * line and what is wrong), AX_ENOMEM.
 */
AX_API int ax_param_load_yaml(const char *path, char ***names, char ***values, size_t *n, char *why,
                              size_t why_size);
AX_API void ax_param_yaml_free(char **names, char **values, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* AXON_PARAM_H */
