/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/parser.c: YAML or JSON text into a protobuf-c message, driven by the
 * descriptor (the CLI's `pub` verb, tests, configuration of messages).
 *
 * libyaml loads the text into a node tree (JSON is YAML flow style); we walk
 * it with the descriptor. The message under construction is kept valid for
 * protobuf_c_message_free_unpacked() at every step (a sub-message or array
 * is attached before it is filled, and an array's count grows one element
 * at a time), so any error frees everything with one call. Scalars are
 * interpreted by the field's type, never by YAML's own typing, so `NO` is an
 * enum name and not a boolean, and "42" in quotes is still a number.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "axon/msgtext.h"
#include "msgs/ax__types.h"
#include "msgs/ax__yaml.h"

#define MAX_TEXT  (64u << 20)
#define MAX_VALUE (64u << 20)
#define MAX_ELEMS (16u << 20)
#define MAX_DEPTH 64

struct rctx {
    yaml_document_t *doc;
    unsigned char *seen; /* per node: visited (aliases are refused) */
    size_t n_nodes;
    struct ax_parse_error *err;
    char path[192];
    size_t path_len;
};

static int perr(struct rctx *c, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(struct rctx *c, const yaml_node_t *node, const char *fmt, ...)
{
    struct ax_parse_error *e = c->err;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    e->line = node ? (unsigned)ax__yaml_line(&node->start_mark) : 0;
    e->column = node ? (unsigned)ax__yaml_column(&node->start_mark) : 0;
    snprintf(e->path, sizeof e->path, "%s", c->path);
    if (node)
        snprintf(e->message, sizeof e->message, "%s%s%s at line %u column %u", c->path,
                 c->path[0] ? ": " : "", what, e->line, e->column);
    else
        snprintf(e->message, sizeof e->message, "%s%s%s", c->path, c->path[0] ? ": " : "", what);
    return AX_EPROTO;
}

/* Path: push a field name or an element index, pop back to @len. */
static size_t push_name(struct rctx *c, const char *name)
{
    size_t len = c->path_len;
    int n = snprintf(c->path + len, sizeof c->path - len, "%s%s", len ? "." : "", name);
    if (n > 0)
        c->path_len = len + (size_t)n < sizeof c->path ? len + (size_t)n : sizeof c->path - 1;
    return len;
}

static size_t push_index(struct rctx *c, size_t i)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%zu", i);
    return push_name(c, buf);
}

static void pop(struct rctx *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

static yaml_node_t *node_at(struct rctx *c, int id, const yaml_node_t *parent, int *rc)
{
    yaml_node_t *n = yaml_document_get_node(c->doc, id);
    if (!n) {
        *rc = perr(c, parent, "broken YAML document");
        return NULL;
    }
    size_t idx = (size_t)(n - c->doc->nodes.start);
    if (c->seen[idx]) {
        *rc = perr(c, n, "YAML aliases are not supported");
        return NULL;
    }
    c->seen[idx] = 1;
    return n;
}

/* ---- scalars ---- */

static bool parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    if (!*p || *p == '-' || *p == '+' || *p == ' ')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, base);
    if (errno || *end)
        return false;
    if (neg) {
        if (v > (unsigned long long)INT64_MAX + 1)
            return false;
        *out = v == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    const char *p = s;
    if (*p == '+')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    if (!*p || *p == '-' || *p == '+' || *p == ' ')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, base);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *s, double *out)
{
    static const struct {
        const char *text;
        double v;
    } special[] = {
        {"nan", NAN},         {".nan", NAN},           {"inf", INFINITY},      {".inf", INFINITY},
        {"+inf", INFINITY},   {"+.inf", INFINITY},     {"infinity", INFINITY}, {"-inf", -INFINITY},
        {"-.inf", -INFINITY}, {"-infinity", -INFINITY}};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        if (strcasecmp(s, special[i].text) == 0) {
            *out = special[i].v;
            return true;
        }
    }
    if (!*s || strchr(" \t\n", *s))
        return false;
    /* Plain decimal or exponent notation only (strtod would also take hex
     * floats and "nan(...)"). */
    for (const char *p = s; *p; p++)
        if (!strchr("0123456789+-.eE", *p))
            return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s)
        return false;
    *out = v;
    return true;
}

static int b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Bytes: "hex:..." or base64 (either alphabet, padding optional). */
static int parse_bytes(struct rctx *c, const yaml_node_t *n, ProtobufCBinaryData *out)
{
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    if (strstr(s, "... ("))
        return perr(c, n,
                    "bytes value was truncated by the printer (print with max_bytes "
                    "SIZE_MAX to read it back)");
    if (len > MAX_VALUE * 2)
        return perr(c, n, "bytes value longer than %u bytes", MAX_VALUE);
    uint8_t *p = NULL;
    size_t k = 0;
    if (strncmp(s, "hex:", 4) == 0) {
        s += 4, len -= 4;
        if (len % 2)
            return perr(c, n, "odd number of hex digits");
        p = malloc(len / 2 + 1);
        if (!p)
            return AX_ENOMEM;
        for (size_t i = 0; i < len; i += 2) {
            int hi = hexval(s[i]), lo = hexval(s[i + 1]);
            if (hi < 0 || lo < 0) {
                free(p);
                return perr(c, n, "invalid hex digit");
            }
            p[k++] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        while (len > 0 && s[len - 1] == '=')
            len--;
        if (len % 4 == 1)
            return perr(c, n, "expected base64 (or hex:...)");
        p = malloc(len / 4 * 3 + 3);
        if (!p)
            return AX_ENOMEM;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < len; i++) {
            int v = b64val(s[i]);
            if (v < 0) {
                free(p);
                return perr(c, n, "expected base64 (or hex:...)");
            }
            acc = acc << 6 | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                p[k++] = (uint8_t)(acc >> bits);
            }
        }
    }
    if (k > MAX_VALUE) {
        free(p);
        return perr(c, n, "bytes value longer than %u bytes", MAX_VALUE);
    }
    if (k == 0) {
        free(p);
        p = NULL;
    }
    out->data = p;
    out->len = k;
    return 0;
}

/* Parse a scalar node into the value slot @p of field @f. */
static int scalar(struct rctx *c, const ProtobufCFieldDescriptor *f, const yaml_node_t *n, void *p)
{
    if (n->type != YAML_SCALAR_NODE)
        return perr(c, n, "expected a %s value, not a %s", ax__pbc_type_name(f->type),
                    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
    const char *s = (const char *)n->data.scalar.value;
    size_t len = n->data.scalar.length;
    int64_t i;
    uint64_t u;
    double d;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!parse_i64(s, &i))
            return perr(c, n, "expected an integer");
        if (i < INT32_MIN || i > INT32_MAX)
            return perr(c, n, "integer out of range for %s", ax__pbc_type_name(f->type));
        *(int32_t *)p = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!parse_u64(s, &u))
            return perr(c, n, "expected a non-negative integer");
        if (u > UINT32_MAX)
            return perr(c, n, "integer out of range for %s", ax__pbc_type_name(f->type));
        *(uint32_t *)p = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (!parse_i64(s, &i))
            return perr(c, n, "expected an integer (int64 range)");
        *(int64_t *)p = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (!parse_u64(s, &u))
            return perr(c, n, "expected a non-negative integer (uint64 range)");
        *(uint64_t *)p = u;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (!parse_real(s, &d))
            return perr(c, n, "expected a number");
        if (isfinite(d) && isinf((float)d))
            return perr(c, n, "number out of range for float");
        *(float *)p = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (!parse_real(s, &d))
            return perr(c, n, "expected a number");
        *(double *)p = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
            *(protobuf_c_boolean *)p = 1;
        else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
            *(protobuf_c_boolean *)p = 0;
        else
            return perr(c, n, "expected true or false");
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
        if (ev) {
            *(int32_t *)p = ev->value;
            return 0;
        }
        if (parse_i64(s, &i) && i >= INT32_MIN && i <= INT32_MAX) {
            *(int32_t *)p = (int32_t)i; /* numbers without a name are kept */
            return 0;
        }
        return perr(c, n, "unknown value \"%.64s\" of enum %s", s, ed->name);
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (len > MAX_VALUE)
            return perr(c, n, "string longer than %u bytes", MAX_VALUE);
        if (ax__yaml_has_nul(n->data.scalar.value, len))
            return perr(c, n, "string contains a NUL character");
        char *copy = malloc(len + 1);
        if (!copy)
            return AX_ENOMEM;
        memcpy(copy, s, len + 1);
        char **slot = p;
        /* Free what the slot held unless it is the static default. */
        if (*slot && *slot != f->default_value && *slot != protobuf_c_empty_string)
            free(*slot);
        *slot = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return parse_bytes(c, n, p);
    case PROTOBUF_C_TYPE_MESSAGE:
        break;
    }
    return perr(c, n, "unsupported field type");
}

static int message(struct rctx *c, const yaml_node_t *n, ProtobufCMessage *m, unsigned depth);

/* A message value for slot @slot (a ProtobufCMessage * member). */
static int sub_message(struct rctx *c, const ProtobufCFieldDescriptor *f, const yaml_node_t *n,
                       ProtobufCMessage **slot, unsigned depth)
{
    const ProtobufCMessageDescriptor *d = f->descriptor;
    if (n->type != YAML_MAPPING_NODE)
        return perr(c, n, "expected a mapping (message %s)", d->name);
    if (depth >= MAX_DEPTH)
        return perr(c, n, "nested more than %d deep", MAX_DEPTH);
    ProtobufCMessage *sub = malloc(d->sizeof_message);
    if (!sub)
        return AX_ENOMEM;
    ax_msg_init(d, sub);
    *slot = sub; /* attached first: an error frees it with the parent */
    return message(c, n, sub, depth + 1);
}

static int repeated(struct rctx *c, const ProtobufCFieldDescriptor *f, const yaml_node_t *n,
                    ProtobufCMessage *m, unsigned depth)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(c, n, "expected a list");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > MAX_ELEMS)
        return perr(c, n, "more than %u elements", MAX_ELEMS);
    if (count == 0)
        return 0;
    size_t size = ax__pbc_value_size(f->type);
    void *arr = calloc(count, size);
    if (!arr)
        return AX_ENOMEM;
    size_t *np = AX__MEMBER(m, f->quantifier_offset);
    *(void **)AX__MEMBER(m, f->offset) = arr;
    *np = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        yaml_node_t *item = node_at(c, n->data.sequence.items.start[i], n, &rc);
        if (!item)
            break;
        size_t mark = push_index(c, i);
        void *slot = (char *)arr + i * size;
        if (ax__yaml_node_is_null(item) && f->type != PROTOBUF_C_TYPE_MESSAGE)
            rc = perr(c, item, "null in a list");
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (ax__yaml_node_is_null(item))
                rc = perr(c, item, "null in a list");
            else
                rc = sub_message(c, f, item, slot, depth);
            if (*(void **)slot)
                *np = i + 1; /* counted once attached, so it is freed */
        } else {
            rc = scalar(c, f, item, slot);
            if (rc == 0)
                *np = i + 1;
        }
        if (rc == 0)
            pop(c, mark);
    }
    return rc;
}

/* JSON name of a field: snake_case to lowerCamelCase. */
static bool json_name_eq(const char *field, const char *key, size_t keylen)
{
    size_t k = 0;
    bool up = false;
    for (const char *p = field; *p; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        char ch = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = false;
        if (k >= keylen || key[k] != ch)
            return false;
        k++;
    }
    return k == keylen;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key, size_t len)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f)
        return f;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (json_name_eq(d->fields[i].name, key, len))
            return &d->fields[i];
    return NULL;
}

static int message(struct rctx *c, const yaml_node_t *n, ProtobufCMessage *m, unsigned depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (n->type != YAML_MAPPING_NODE)
        return perr(c, n, "expected a mapping (message %s)", d->name);
    unsigned char *set = calloc(d->n_fields ? d->n_fields : 1, 1);
    if (!set)
        return AX_ENOMEM;
    int rc = 0;
    for (yaml_node_pair_t *pair = n->data.mapping.pairs.start;
         rc == 0 && pair < n->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = node_at(c, pair->key, n, &rc);
        if (!k)
            break;
        if (k->type != YAML_SCALAR_NODE) {
            rc = perr(c, k, "expected a field name");
            break;
        }
        const char *key = (const char *)k->data.scalar.value;
        const ProtobufCFieldDescriptor *f = find_field(d, key, k->data.scalar.length);
        size_t mark = push_name(c, key);
        if (!f) {
            rc = perr(c, k, "unknown field \"%.64s\" in %s", key, d->name);
            break;
        }
        unsigned idx = (unsigned)(f - d->fields);
        if (set[idx]) {
            rc = perr(c, k, "field given twice");
            break;
        }
        set[idx] = 1;
        yaml_node_t *v = node_at(c, pair->value, n, &rc);
        if (!v)
            break;
        if (ax__yaml_node_is_null(v)) {
            pop(c, mark);
            continue; /* the default */
        }
        void *slot = AX__MEMBER(m, f->offset);
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t *cs = AX__MEMBER(m, f->quantifier_offset);
            if (*cs != 0) {
                rc = perr(c, k, "another member of its oneof is already set");
                break;
            }
            /* The union holds nothing yet: clear it for this member. */
            memset(slot, 0, ax__pbc_value_size(f->type));
            if (f->type == PROTOBUF_C_TYPE_STRING)
                *(const char **)slot = protobuf_c_empty_string;
            *cs = f->id;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            rc = repeated(c, f, v, m, depth);
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            rc = sub_message(c, f, v, slot, depth);
        else
            rc = scalar(c, f, v, slot);
        if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL &&
            !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && f->type != PROTOBUF_C_TYPE_STRING &&
            f->type != PROTOBUF_C_TYPE_MESSAGE)
            *(protobuf_c_boolean *)AX__MEMBER(m, f->quantifier_offset) = 1;
        if (rc == 0)
            pop(c, mark);
    }
    free(set);
    return rc;
}

int ax_msg_parse(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                 ProtobufCMessage **out, struct ax_parse_error *err)
{
    struct ax_parse_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    if (!desc || !text || !out || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return AX_EINVAL;
    *out = NULL;
    struct rctx c = {.err = err};
    if (len > MAX_TEXT) {
        perr(&c, NULL, "text longer than %u bytes", MAX_TEXT);
        return AX_EMSGSIZE;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = ax__yaml_parser_init(&parser, text, len);
    if (rc)
        return rc;
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    if (!yaml_parser_load(&parser, &doc)) {
        struct ax__yaml_error ye;
        ax__yaml_error_of(&parser, &ye);
        err->line = (unsigned)ye.line;
        err->column = (unsigned)ye.column;
        snprintf(err->message, sizeof err->message, "%s%s%s at line %u column %u",
                 ye.problem ? ye.problem : "syntax error", ye.context ? " " : "",
                 ye.context ? ye.context : "", err->line, err->column);
        yaml_parser_delete(&parser);
        return ye.nomem ? AX_ENOMEM : AX_EPROTO;
    }
    ProtobufCMessage *m = malloc(desc->sizeof_message);
    c.doc = &doc;
    c.n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
    c.seen = calloc(c.n_nodes ? c.n_nodes : 1, 1);
    if (!m || !c.seen)
        rc = AX_ENOMEM;
    bool inited = false;
    if (rc == 0) {
        ax_msg_init(desc, m);
        inited = true;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root) {
            c.seen[root - doc.nodes.start] = 1;
            if (!ax__yaml_node_is_null(root))
                rc = message(&c, root, m, 0);
        }
    }
    if (rc == 0) { /* exactly one document */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = perr(&c, NULL, "bad text after the document");
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2)
                rc = perr(&c, r2, "more than one YAML document");
            yaml_document_delete(&next);
        }
    }
    free(c.seen);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) {
        if (inited)
            protobuf_c_message_free_unpacked(m, NULL);
        else
            free(m);
        if (rc == AX_ENOMEM && !err->message[0])
            snprintf(err->message, sizeof err->message, "out of memory");
        return rc;
    }
    *out = m;
    return 0;
}
