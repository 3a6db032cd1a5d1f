/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/yaml.c: the libyaml helpers of msgs/ax__yaml.h, shared by the
 * message text parser and the configuration loader.
 */
#include <string.h>

#include "axon/common.h"
#include "msgs/ax__yaml.h"

int ax__yaml_parser_init(yaml_parser_t *p, const char *text, size_t len)
{
    /* yaml_parser_initialize() fails only when it cannot allocate its
     * buffers, and then leaves nothing to delete. */
    if (!yaml_parser_initialize(p))
        return AX_ENOMEM;
    yaml_parser_set_input_string(p, (const unsigned char *)text, len);
    return 0;
}

void ax__yaml_error_of(const yaml_parser_t *p, struct ax__yaml_error *e)
{
    memset(e, 0, sizeof *e);
    e->nomem = p->error == YAML_MEMORY_ERROR;
    /* A reader error (bad encoding) has a byte offset but no mark: libyaml
     * leaves problem_mark as initialised, which reads as 1:1. */
    e->reader = p->error == YAML_READER_ERROR;
    e->problem = p->problem;
    e->context = p->context;
    e->line = ax__yaml_line(&p->problem_mark);
    e->column = ax__yaml_column(&p->problem_mark);
    e->context_line = ax__yaml_line(&p->context_mark);
    e->offset = p->problem_offset;
}

/* A plain scalar cannot hold a NUL byte (the reader refuses control
 * characters; only a quoted "\0" makes one), so the strcmp()s see the
 * whole value. */
static bool plain_null(yaml_scalar_style_t style, const yaml_char_t *value, size_t length)
{
    const char *s = (const char *)value;
    if (style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

bool ax__yaml_event_is_null(const yaml_event_t *ev)
{
    return ev->type == YAML_SCALAR_EVENT &&
           plain_null(ev->data.scalar.style, ev->data.scalar.value, ev->data.scalar.length);
}

bool ax__yaml_node_is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           plain_null(n->data.scalar.style, n->data.scalar.value, n->data.scalar.length);
}

bool ax__yaml_has_nul(const yaml_char_t *value, size_t length)
{
    return memchr(value, 0, length) != NULL;
}

const char *ax__yaml_event_shape(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return "a scalar";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "something else";
    }
}
