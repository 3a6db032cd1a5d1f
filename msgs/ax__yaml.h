/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/ax__yaml.h: the libyaml helpers the message text parser
 * (msgs/parser.c) and the configuration loader (core/config_load.c) share.
 *
 * The two read YAML through different libyaml APIs, on purpose. The parser
 * loads the whole document into a tree (yaml_parser_load) and walks it with
 * a message descriptor, whose shape is only known as it goes. The
 * configuration loader walks the event stream (yaml_parser_parse) against a
 * fixed schema, so it stops at the first event that does not fit, reports
 * an alias where it is written, and never parses what follows an error
 * (libyaml takes quadratic time on deeply nested flow collections). What
 * they share lies under that choice: opening a parser on a buffer, telling
 * YAML's null from a value, refusing scalars a C string would cut at a NUL
 * byte, and turning libyaml's 0-based marks and failures into 1-based
 * positions. Each keeps its own wording of errors.
 */
#ifndef AX__YAML_H
#define AX__YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/*
 * Initialise @p to read the @len bytes at @text, which are not copied and
 * must outlive it. The encoding is detected from a byte order mark (UTF-8
 * without one). 0, or AX_ENOMEM; on success the caller ends with
 * yaml_parser_delete().
 */
int ax__yaml_parser_init(yaml_parser_t *p, const char *text, size_t len);

/* The 1-based line and column of a mark (libyaml counts from 0). */
static inline int ax__yaml_line(const yaml_mark_t *m)
{
    return (int)m->line + 1;
}

static inline int ax__yaml_column(const yaml_mark_t *m)
{
    return (int)m->column + 1;
}

/* Why yaml_parser_parse() or yaml_parser_load() failed. */
struct ax__yaml_error {
    bool nomem;          /* libyaml ran out of memory (nothing else is set) */
    bool reader;         /* the bytes are not valid UTF-8/UTF-16: see @offset */
    const char *problem; /* libyaml's description, or NULL */
    const char *context; /* "while parsing a flow mapping", or NULL */
    int line, column;    /* of the problem, 1-based (1:1 for reader errors) */
    int context_line;    /* where @context started, 1-based */
    size_t offset;       /* reader errors: the byte offset of the problem */
};

/* Describe the failure of the last call on @p. */
void ax__yaml_error_of(const yaml_parser_t *p, struct ax__yaml_error *e);

/* Whether a scalar event or node is YAML's null: a plain (unquoted) "",
 * "~", "null", "Null" or "NULL". Quoted, "" is an empty string. False for
 * anything that is not a scalar. */
bool ax__yaml_event_is_null(const yaml_event_t *ev);
/* What an event is, for messages: "a scalar", "a list", "a mapping" or
 * "something else". */
const char *ax__yaml_event_shape(const yaml_event_t *ev);
bool ax__yaml_node_is_null(const yaml_node_t *n);

/* Whether the @length bytes of a scalar hold a NUL byte (written "\0" in a
 * double-quoted scalar), which every C string of it would silently cut. */
bool ax__yaml_has_nul(const yaml_char_t *value, size_t length);

#endif /* AX__YAML_H */
