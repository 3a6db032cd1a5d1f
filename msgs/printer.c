/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/printer.c: any protobuf-c message as YAML-style text or JSON, driven
 * by its descriptor (compiled and dynamic types alike).
 *
 * Fields print in field-number order (the descriptor's order), so the
 * output is deterministic and the same for a compiled and a dynamic type.
 * The output is meant to be read back by msgs/parser.c: strings are always
 * quoted with escapes that JSON and YAML share, floats use the shortest
 * text that reads back to the same bits, and bytes print as base64 unless
 * the caller bounds them.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/msgtext.h"
#include "msgs/ax__types.h"

#define MAX_DEPTH 128

struct pctx {
    const struct ax_print_options *o;
    struct ax_strbuf *sb;
    bool json;
    bool pretty;
    int rc; /* first error; once set, output stops */
};

void ax_print_options_init(struct ax_print_options *opt)
{
    opt->format = AX_TEXT_YAML;
    opt->max_bytes = 16;
    opt->max_elems = SIZE_MAX;
    opt->path = NULL;
    opt->indent = 2;
}

static void put(struct pctx *c, const char *s, size_t n)
{
    if (c->rc == 0)
        c->rc = ax_strbuf_append(c->sb, s, n);
}

static void puts_(struct pctx *c, const char *s)
{
    put(c, s, strlen(s));
}

static void spaces(struct pctx *c, size_t n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        size_t k = n < sizeof sp - 1 ? n : sizeof sp - 1;
        put(c, sp, k);
        n -= k;
    }
}

/* Pretty JSON: newline and indentation for nesting depth @d. */
static void nl(struct pctx *c, unsigned d)
{
    if (!c->pretty)
        return;
    put(c, "\n", 1);
    spaces(c, (size_t)d * c->o->indent);
}

/* Decode one UTF-8 sequence at @s (n bytes left); returns its length, or 0
 * for an invalid sequence. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t v, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if ((b & 0xe0) == 0xc0) {
        len = 2, v = b & 0x1f, min = 0x80;
    } else if ((b & 0xf0) == 0xe0) {
        len = 3, v = b & 0x0f, min = 0x800;
    } else if ((b & 0xf8) == 0xf0) {
        len = 4, v = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* A double-quoted string with the escapes JSON and YAML share. Characters
 * YAML does not allow raw (C0/C1 controls, DEL, line/paragraph separators,
 * BOM, non-characters) are escaped; bytes that are not UTF-8 print as
 * U+FFFD. */
static void quoted(struct pctx *c, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    put(c, "\"", 1);
    size_t run = 0; /* bytes of s[i - run .. i) waiting to be copied */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(s + i, n - i, &cp);
        const char *esc = NULL;
        char ubuf[16];
        if (len == 0) {
            esc = "\\ufffd";
            len = 1;
        } else if (cp == '"') {
            esc = "\\\"";
        } else if (cp == '\\') {
            esc = "\\\\";
        } else if (cp == '\n') {
            esc = "\\n";
        } else if (cp == '\r') {
            esc = "\\r";
        } else if (cp == '\t') {
            esc = "\\t";
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
                   cp == 0xfeff || cp == 0xfffe || cp == 0xffff) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", (unsigned)cp);
            esc = ubuf;
        }
        if (esc) {
            put(c, (const char *)s + i - run, run);
            run = 0;
            puts_(c, esc);
        } else {
            run += len;
        }
        i += len;
    }
    put(c, (const char *)s + n - run, run);
    put(c, "\"", 1);
}

static void base64(struct pctx *c, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[0] = tbl[v >> 18 & 63];
        out[1] = tbl[v >> 12 & 63];
        out[2] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[3] = i + 2 < n ? tbl[v & 63] : '=';
        put(c, out, 4);
    }
}

/* Shortest %g text that reads back to the same value; ".0" added to
 * integral values so they still look like floats. */
static void real(struct pctx *c, double v, bool is_float)
{
    char buf[40];
    if (isnan(v)) {
        puts_(c, c->json ? "\"NaN\"" : ".nan");
        return;
    }
    if (isinf(v)) {
        if (c->json)
            puts_(c, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        else
            puts_(c, v > 0 ? ".inf" : "-.inf");
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        double back = strtod(buf, NULL);
        if (is_float ? (float)back == (float)v : back == v)
            break;
    }
    puts_(c, buf);
    if (!strpbrk(buf, ".eE"))
        puts_(c, ".0");
}

static void message(struct pctx *c, const ProtobufCMessage *m, size_t col, bool dash, unsigned d);

/* One value (not a repeated field as a whole) at @p. @col and @d are the
 * YAML column and JSON depth of the field that holds it. */
static void value(struct pctx *c, const ProtobufCFieldDescriptor *f, const void *p, size_t col,
                  unsigned d)
{
    char buf[48];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
        puts_(c, buf);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
        puts_(c, buf);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
        puts_(c, buf);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
        puts_(c, buf);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        real(c, *(const float *)p, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        real(c, *(const double *)p, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        puts_(c, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t v = *(const int32_t *)p;
        const ProtobufCEnumValue *ev =
            f->descriptor ? protobuf_c_enum_descriptor_get_value(f->descriptor, v) : NULL;
        if (ev && c->json)
            quoted(c, ev->name, strlen(ev->name));
        else if (ev)
            puts_(c, ev->name);
        else {
            snprintf(buf, sizeof buf, "%" PRId32, v);
            puts_(c, buf);
        }
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        quoted(c, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        size_t shown = b->len < c->o->max_bytes ? b->len : c->o->max_bytes;
        put(c, "\"", 1);
        base64(c, b->data, shown);
        if (shown < b->len) {
            snprintf(buf, sizeof buf, "... (%zu bytes)", b->len);
            puts_(c, buf);
        }
        put(c, "\"", 1);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (!sub) {
            puts_(c, "null");
        } else if (c->json) {
            message(c, sub, 0, false, d);
        } else if (sub->descriptor->n_fields == 0) {
            puts_(c, "{}");
        } else {
            put(c, "\n", 1);
            message(c, sub, col + c->o->indent, false, d);
            return; /* the nested lines end with their own newlines */
        }
        break;
    }
    default:
        if (c->rc == 0)
            c->rc = AX_EINVAL;
    }
}

/* A repeated field's elements. YAML: one "- item" line per element at
 * column @icol (the caller has ended the key's line). JSON: an array at
 * depth @d. */
static void repeated(struct pctx *c, const ProtobufCFieldDescriptor *f, size_t n, const void *arr,
                     size_t icol, unsigned d)
{
    size_t size = ax__pbc_value_size(f->type);
    size_t shown = n < c->o->max_elems ? n : c->o->max_elems;
    char more[48];
    snprintf(more, sizeof more, "\"... (%zu elements)\"", n);
    if (n == 0) {
        puts_(c, "[]");
        return;
    }
    if (c->json) {
        put(c, "[", 1);
        for (size_t i = 0; i < shown && c->rc == 0; i++) {
            if (i)
                put(c, ",", 1);
            nl(c, d + 1);
            value(c, f, (const char *)arr + i * size, 0, d + 1);
        }
        if (shown < n) {
            put(c, ",", 1);
            nl(c, d + 1);
            puts_(c, more);
        }
        nl(c, d);
        put(c, "]", 1);
        return;
    }
    for (size_t i = 0; i < shown && c->rc == 0; i++) {
        const void *p = (const char *)arr + i * size;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p &&
            (*(ProtobufCMessage *const *)p)->descriptor->n_fields > 0) {
            message(c, *(ProtobufCMessage *const *)p, icol + 2, true, d + 1);
            continue;
        }
        spaces(c, icol);
        put(c, "- ", 2);
        value(c, f, p, icol + 2, d + 1);
        put(c, "\n", 1);
    }
    if (shown < n) {
        spaces(c, icol);
        put(c, "- ", 2);
        puts_(c, more);
        put(c, "\n", 1);
    }
}

/* Whether field @f of @m is printed: members of a oneof only when set. */
static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
        return true;
    return *(const uint32_t *)AX__CMEMBER(m, f->quantifier_offset) == f->id;
}

/* Whether an optional (not oneof) field is set, as protobuf-c's packer
 * decides it: has_ for scalars and bytes, a pointer other than NULL and the
 * default for strings and messages. */
static bool optional_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *p = *(const void *const *)AX__CMEMBER(m, f->offset);
        return p != NULL && p != f->default_value;
    }
    return *(const protobuf_c_boolean *)AX__CMEMBER(m, f->quantifier_offset) != 0;
}

/* A field's value (the whole list for a repeated field), after its key. */
static void field(struct pctx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                  size_t col, unsigned d)
{
    const void *p = AX__CMEMBER(m, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t n = *(const size_t *)AX__CMEMBER(m, f->quantifier_offset);
        if (!c->json && n > 0) {
            put(c, "\n", 1);
            repeated(c, f, n, *(void *const *)p, col + c->o->indent, d);
            return;
        }
        repeated(c, f, n, *(void *const *)p, 0, d);
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
               !optional_set(m, f)) {
        /* An optional field that is not set (even if it has a default). */
        puts_(c, "null");
    } else {
        const ProtobufCMessage *sub =
            f->type == PROTOBUF_C_TYPE_MESSAGE ? *(ProtobufCMessage *const *)p : NULL;
        value(c, f, p, col, d);
        if (!c->json && sub && sub->descriptor->n_fields > 0)
            return;
    }
    if (!c->json)
        put(c, "\n", 1);
}

/* A message's fields. YAML: each "key: value" line at column @col; with
 * @dash, the first line starts with "- " two columns to the left (a list
 * item). JSON: an object at depth @d. */
static void message(struct pctx *c, const ProtobufCMessage *m, size_t col, bool dash, unsigned d)
{
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    if (d > MAX_DEPTH) {
        if (c->rc == 0)
            c->rc = AX_EMSGSIZE;
        return;
    }
    if (!desc || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
        if (c->rc == 0)
            c->rc = AX_EINVAL;
        return;
    }
    if (c->json) {
        put(c, "{", 1);
        bool first = true;
        for (unsigned i = 0; i < desc->n_fields && c->rc == 0; i++) {
            const ProtobufCFieldDescriptor *f = &desc->fields[i];
            if (!present(m, f))
                continue;
            if (!first)
                put(c, ",", 1);
            first = false;
            nl(c, d + 1);
            quoted(c, f->name, strlen(f->name));
            puts_(c, c->pretty ? ": " : ":");
            field(c, m, f, 0, d + 1);
        }
        if (!first)
            nl(c, d);
        put(c, "}", 1);
        return;
    }
    bool first = true;
    for (unsigned i = 0; i < desc->n_fields && c->rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!present(m, f))
            continue;
        if (first && dash) {
            spaces(c, col - 2);
            put(c, "- ", 2);
        } else {
            spaces(c, col);
        }
        first = false;
        puts_(c, f->name);
        put(c, ":", 1);
        /* Block values (a non-empty list or message) start on the next
         * line; everything else after one space. */
        const void *p = AX__CMEMBER(m, f->offset);
        bool block = false;
        if (f->label == PROTOBUF_C_LABEL_REPEATED)
            block = *(const size_t *)AX__CMEMBER(m, f->quantifier_offset) > 0;
        else if (f->type == PROTOBUF_C_TYPE_MESSAGE && *(ProtobufCMessage *const *)p)
            block = (*(ProtobufCMessage *const *)p)->descriptor->n_fields > 0;
        if (!block)
            put(c, " ", 1);
        field(c, m, f, col, d);
    }
    if (first) { /* no field printed */
        if (dash) {
            spaces(c, col - 2);
            put(c, "- ", 2);
        } else {
            spaces(c, col);
        }
        puts_(c, "{}\n");
    }
}

/* ---- path selection ---- */

static const ProtobufCFieldDescriptor *field_by_name(const ProtobufCMessageDescriptor *d,
                                                     const char *name, size_t len)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (strlen(d->fields[i].name) == len && memcmp(d->fields[i].name, name, len) == 0)
            return &d->fields[i];
    return NULL;
}

static bool parse_index(const char *s, size_t len, size_t *out)
{
    if (len == 0 || len > 18)
        return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Print the value at opt->path. */
static void select_path(struct pctx *c, const ProtobufCMessage *root, const char *path)
{
    const ProtobufCMessageDescriptor *desc = root->descriptor;
    const ProtobufCMessage *m = root; /* NULL once the path runs through an unset message */
    const ProtobufCFieldDescriptor *f = NULL;
    bool in_list = false; /* f is repeated and no index chosen yet */
    const void *elem = NULL;
    for (const char *s = path; c->rc == 0;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (in_list) {
            size_t idx, n = m ? *(const size_t *)AX__CMEMBER(m, f->quantifier_offset) : 0;
            if (!parse_index(s, len, &idx) || (m && idx >= n)) {
                c->rc = AX_ENOTFOUND;
                return;
            }
            in_list = false;
            elem = m ? (const char *)*(void *const *)AX__CMEMBER(m, f->offset) +
                           idx * ax__pbc_value_size(f->type)
                     : NULL;
        } else {
            if (f && f->type != PROTOBUF_C_TYPE_MESSAGE) {
                c->rc = AX_ENOTFOUND; /* a name after a scalar */
                return;
            }
            if (f) { /* step into the message value */
                desc = f->descriptor;
                m = elem ? *(ProtobufCMessage *const *)elem : NULL;
            }
            f = field_by_name(desc, s, len);
            if (!f) {
                c->rc = AX_ENOTFOUND;
                return;
            }
            if (m && !present(m, f))
                m = NULL; /* an unset oneof member */
            in_list = f->label == PROTOBUF_C_LABEL_REPEATED;
            elem = m ? AX__CMEMBER(m, f->offset) : NULL;
        }
        if (!dot)
            break;
        s = dot + 1;
    }
    if (c->rc)
        return;
    if (!m) {
        puts_(c, "null\n");
        return;
    }
    if (in_list) {
        size_t n = *(const size_t *)AX__CMEMBER(m, f->quantifier_offset);
        if (c->json) {
            repeated(c, f, n, *(void *const *)AX__CMEMBER(m, f->offset), 0, 0);
            put(c, "\n", 1);
        } else if (n == 0) {
            puts_(c, "[]\n");
        } else {
            repeated(c, f, n, *(void *const *)AX__CMEMBER(m, f->offset), 0, 0);
        }
        return;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)elem;
        if (!sub)
            puts_(c, "null");
        else
            message(c, sub, 0, false, 0);
        if (c->json || !sub)
            put(c, "\n", 1);
        return;
    }
    value(c, f, elem, 0, 0);
    put(c, "\n", 1);
}

int ax_msg_print(const ProtobufCMessage *msg, const struct ax_print_options *opt,
                 struct ax_strbuf *out)
{
    struct ax_print_options defaults;
    if (!msg || !out || !msg->descriptor ||
        msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return AX_EINVAL;
    if (!opt) {
        ax_print_options_init(&defaults);
        opt = &defaults;
    }
    struct ax_print_options o = *opt;
    if (o.indent > 16)
        o.indent = 16;
    struct pctx c = {&o, out, o.format != AX_TEXT_YAML, o.format == AX_TEXT_JSON_PRETTY, 0};
    if (o.path && *o.path) {
        select_path(&c, msg, o.path);
    } else {
        message(&c, msg, 0, false, 0);
        if (c.json)
            put(&c, "\n", 1);
    }
    return c.rc;
}

int ax_msg_fprint(const ProtobufCMessage *msg, const struct ax_print_options *opt, FILE *f)
{
    if (!f)
        return AX_EINVAL;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    int rc = ax_msg_print(msg, opt, &sb);
    if (rc == 0 && sb.len && fwrite(sb.data, 1, sb.len, f) != sb.len)
        rc = AX_EIO;
    ax_strbuf_fini(&sb);
    return rc;
}
