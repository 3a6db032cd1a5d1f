/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration key table, and what the configuration files share
 * (private).
 *
 * One row per YAML key (config_table.c). The loader (config_load.c), the
 * environment overrides (config_env.c), the YAML dump and the Markdown
 * reference (config_dump.c) all iterate these rows; nothing about a key is
 * written down anywhere else. The per-topic QoS keys have a table of their
 * own with the same row type, whose offsets point into struct ax_qos
 * instead of struct ax_config. Values of each type are handled by
 * config_value.c, rules between keys by config_rules.c.
 *
 * A row's default is text parsed by the same code as a file, so
 * ax_config_init() cannot produce a value its own range would refuse.
 */
#ifndef AX__CONFIG_H
#define AX__CONFIG_H

#include <stddef.h>

#include "axon/config.h"

enum ax__cfg_type {
    AX__CFG_STRING,   /* char[size], checked by .check if set */
    AX__CFG_UINT,     /* unsigned integer of .size bytes, .min.. .max */
    AX__CFG_BOOL,     /* bool: true/false, yes/no, on/off */
    AX__CFG_DURATION, /* int64_t nanoseconds, "100ms"; .min.. .max in ns */
    AX__CFG_SIZE,     /* unsigned of .size bytes, "64MiB"; .min.. .max */
    AX__CFG_ENUM,     /* int, one of .names (the value is the index) */
    AX__CFG_IPV4,     /* char[size] holding a dotted quad ("" if F_EMPTY) */
    AX__CFG_MCAST,    /* char[size] holding an IPv4 multicast group */
    AX__CFG_LIST,     /* char ** at .offset, size_t count at .count_offset;
                         items at most .size - 1 bytes, at most .max items */
    AX__CFG_QOSMAP    /* struct ax_qos_override * at .offset, count at
                         .count_offset, at most .max topics */
};

/* Row flags. */
enum {
    AX__CFG_F_EMPTY = 1u << 0,   /* "" is allowed (STRING-like types) */
    AX__CFG_F_PROFILE = 1u << 1, /* qos table: the preset, applied first */
    AX__CFG_F_NOSTORE = 1u << 2  /* no field (.offset unused) */
};

/* A validator for string-like values: 0, or -1 with a message. */
typedef int (*ax__cfg_check_fn)(const char *text, char *msg, size_t msglen);

struct ax__cfg_key {
    const char *path; /* "discovery.heartbeat"; at most one dot */
    enum ax__cfg_type type;
    unsigned flags;
    size_t offset;            /* of the field in the struct the table describes */
    size_t size;              /* of the field (strings: capacity with the NUL) */
    size_t count_offset;      /* LIST, QOSMAP: of the size_t count */
    const char *def;          /* default, as text; NULL in the qos table = from the profile */
    const char *unit;         /* for the docs: "bytes", "hops"; NULL if none */
    uint64_t min, max;        /* UINT, SIZE, DURATION; LIST, QOSMAP: max entries */
    const char *const *names; /* ENUM: NULL-terminated; value = index */
    ax__cfg_check_fn check;   /* STRING, LIST items: extra validation */
    const char *env;          /* environment variable overriding it, or NULL */
    const char *desc;         /* one or two sentences, for the docs */
};

/* The table of struct ax_config and the table of a qos map entry. */
extern const struct ax__cfg_key ax__cfg_keys[];
extern const size_t ax__cfg_nkeys;
extern const struct ax__cfg_key ax__cfg_qos_keys[];
extern const size_t ax__cfg_nqos_keys;

/* A parsed scalar value, before it is stored. */
union ax__cfg_val {
    uint64_t u;    /* UINT, SIZE */
    int64_t ns;    /* DURATION */
    bool b;        /* BOOL */
    int e;         /* ENUM */
    const char *s; /* STRING, IPV4, MCAST, LIST item: borrowed */
};

/* Find a row by path, or NULL. */
const struct ax__cfg_key *ax__cfg_find(const struct ax__cfg_key *table, size_t n, const char *path);

/* The type's name for messages and the docs ("duration"). */
const char *ax__cfg_type_name(enum ax__cfg_type type);

/*
 * Parse a scalar (or one LIST item) for row @k, and check it against the
 * row's range and validator. Returns 0, or -1 with a message that says what
 * was expected. @v->s borrows @text.
 */
int ax__cfg_parse(const struct ax__cfg_key *k, const char *text, union ax__cfg_val *v, char *msg,
                  size_t msglen);

/* Check an already-typed value against the row (the second half of
 * ax__cfg_parse()). */
int ax__cfg_check(const struct ax__cfg_key *k, const union ax__cfg_val *v, char *msg,
                  size_t msglen);

/* Store a scalar into the field of @base (a struct ax_config or ax_qos). */
void ax__cfg_store(const struct ax__cfg_key *k, void *base, const union ax__cfg_val *v);

/* Read a scalar field back; -1 (with a message) if a string field is not
 * NUL-terminated. */
int ax__cfg_load(const struct ax__cfg_key *k, const void *base, union ax__cfg_val *v, char *msg,
                 size_t msglen);

/* Format a scalar as YAML (strings double-quoted). Returns snprintf's. */
int ax__cfg_format(const struct ax__cfg_key *k, const union ax__cfg_val *v, char *buf, size_t size);

/* Describe the row's range/allowed values for the docs and comments. */
void ax__cfg_describe_range(const struct ax__cfg_key *k, char *buf, size_t size);

/* Value syntaxes, exposed for the tests. */
int ax__cfg_parse_bool(const char *text, bool *b);
/* Write @s as a YAML double-quoted scalar. Returns snprintf's. */
int ax__cfg_quote(const char *s, char *buf, size_t size);

/* Cross-key rules, checked after every load and by ax_config_validate(). */
struct ax__cfg_rule {
    const char *key;   /* the key blamed first */
    const char *other; /* the key blamed if @key was not in the document */
    int (*check)(const struct ax_config *cfg, char *msg, size_t msglen);
};
extern const struct ax__cfg_rule ax__cfg_rules[];
extern const size_t ax__cfg_nrules;

/*
 * Check the rules (config_rules.c). On failure blame the rule's key if this
 * source set it (@set[row] non-zero; @set may be NULL), else its other key
 * if this source set that one, else the rule's key; *@blame is that row's
 * index in ax__cfg_keys. Returns the index of the rule that failed, or -1.
 */
int ax__cfg_check_rules(const struct ax_config *cfg, const int *set, size_t *blame, char *msg,
                        size_t msglen);

/* ---- shared by the configuration files ---- */

/* Fill @err (nothing if NULL): the file or environment variable, the
 * 1-based line and column (0: none), the key ("" if none), the message. */
void ax__cfg_error_set(struct ax_config_error *err, const char *file, int line, int column,
                       const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* LIST fields (config.c). Free @n items and their array. Append a copy of
 * @text to @items (@n used, @cap allocated): 0, or AX_ENOMEM with the @n
 * items unchanged. Make @items the list of row @k in @base (a struct
 * ax_config), freeing the list it had. */
void ax__cfg_list_free(char **items, size_t n);
int ax__cfg_list_add(char ***items, size_t *n, size_t *cap, const char *text);
void ax__cfg_list_set(const struct ax__cfg_key *k, void *base, char **items, size_t n);

/* The message for unknown key @word in section @sec ("" = the top level),
 * or in a qos entry: "unknown key (did you mean ...?)", or the keys it
 * could have been (config_suggest.c). */
void ax__cfg_unknown_key(const char *sec, const char *word, char *msg, size_t size);
void ax__cfg_unknown_qos_key(const char *word, char *msg, size_t size);

#endif /* AX__CONFIG_H */
