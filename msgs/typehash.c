/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/typehash.c: the type hash, SHA-256 over a canonical text form of a
 * message type's schema (docs/messages.md, "The type hash", defines it).
 *
 * Design note: the text is computed from the protobuf-c descriptor, not from
 * the .proto or the FileDescriptorSet, so a compiled type and a dynamic type
 * built by ax_type_from_fds() go through the same code and agree by
 * construction whenever their descriptors say the same thing. Everything in
 * it is text made of names and decimal numbers, so nothing depends on the
 * machine's endianness, word size or struct layout.
 *
 * Oneof membership is written as the lowest field number of the oneof: the
 * oneof's name is not in a protobuf-c descriptor, and the lowest number
 * identifies the group just as well.
 */
#include <stdlib.h>
#include <string.h>

#include "axon/msgtext.h"
#include "axon/types.h"
#include "base/ax__array.h"
#include "base/ax__sha256.h"
#include "msgs/ax__types.h"

#define MAX_TYPES 4096

struct node {
    const char *name;
    const void *desc;
    bool is_enum;
};

struct closure {
    struct node *v;
    size_t n, cap;
};

/* Names go into a space-separated text: allow only what protobuf allows in
 * identifiers and full names. */
static bool name_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

static int add(struct closure *c, const char *name, const void *desc, bool is_enum)
{
    if (!name_ok(name))
        return AX_EINVAL;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].desc == desc || strcmp(c->v[i].name, name) == 0)
            return 0;
    if (c->n == MAX_TYPES)
        return AX_EINVAL;
    if (ax__array_reserve(&c->v, &c->cap, c->n + 1, 16) < 0)
        return AX_ENOMEM;
    c->v[c->n++] = (struct node){name, desc, is_enum};
    return 0;
}

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static int cmp_field_id(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = *(const ProtobufCFieldDescriptor *const *)a;
    const ProtobufCFieldDescriptor *y = *(const ProtobufCFieldDescriptor *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Oneof members grouped by their case member's offset, then by number. */
static int cmp_oneof(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = *(const ProtobufCFieldDescriptor *const *)a;
    const ProtobufCFieldDescriptor *y = *(const ProtobufCFieldDescriptor *const *)b;
    if (x->quantifier_offset != y->quantifier_offset)
        return x->quantifier_offset < y->quantifier_offset ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int write_message(struct ax_strbuf *sb, const ProtobufCMessageDescriptor *d)
{
    int rc = ax_strbuf_printf(sb, "message %s\n", d->name);
    size_t n = d->n_fields;
    /* protobuf-c keeps fields sorted by number; do not rely on it. Sorting
     * (not searching) keeps a huge dynamic type linear-logarithmic. */
    const ProtobufCFieldDescriptor **byid = calloc(n ? n : 1, sizeof *byid);
    const ProtobufCFieldDescriptor **oo = calloc(n ? n : 1, sizeof *oo);
    uint32_t *oneof_lo = calloc(n ? n : 1, sizeof *oneof_lo); /* by field index */
    if (!byid || !oo || !oneof_lo)
        rc = AX_ENOMEM;
    size_t noo = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        byid[i] = &d->fields[i];
        if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            oo[noo++] = &d->fields[i];
    }
    if (rc == 0) {
        qsort(byid, n, sizeof *byid, cmp_field_id);
        qsort(oo, noo, sizeof *oo, cmp_oneof);
        /* The oneof's id: the lowest field number of the group. */
        for (size_t i = 0, lo = 0; i < noo; i++) {
            if (i == 0 || oo[i]->quantifier_offset != oo[i - 1]->quantifier_offset)
                lo = i;
            oneof_lo[oo[i] - d->fields] = oo[lo]->id;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const ProtobufCFieldDescriptor *f = byid[i];
        if (i > 0 && f->id == byid[i - 1]->id) {
            rc = AX_EINVAL; /* duplicate field numbers */
            break;
        }
        const char *label = ax__pbc_label_name(f->label);
        const char *type = ax__pbc_type_name(f->type);
        if (!name_ok(f->name) || !label || !type) {
            rc = AX_EINVAL;
            break;
        }
        const char *tname = "-";
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor)
            tname = ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
        else if (f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor)
            tname = ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
        rc = ax_strbuf_printf(sb, "field %u %s %s %s %s %d ", (unsigned)f->id, f->name, label, type,
                              tname, (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) ? 1 : 0);
        if (rc == 0 && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
            rc = ax_strbuf_printf(sb, "%u\n", (unsigned)oneof_lo[f - d->fields]);
        else if (rc == 0)
            rc = ax_strbuf_append(sb, "-\n", 2);
    }
    free(byid);
    free(oo);
    free(oneof_lo);
    return rc;
}

struct eval {
    const char *name;
    int number;
};

static int cmp_eval(const void *a, const void *b)
{
    const struct eval *x = a, *y = b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int write_enum(struct ax_strbuf *sb, const ProtobufCEnumDescriptor *e)
{
    int rc = ax_strbuf_printf(sb, "enum %s\n", e->name);
    if (rc)
        return rc;
    /* values_by_name has every name, aliases included; values only the
     * distinct numbers. */
    size_t n = e->n_value_names;
    struct eval *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return AX_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned idx = e->values_by_name[i].index;
        if (idx >= e->n_values || !name_ok(e->values_by_name[i].name)) {
            free(v);
            return AX_EINVAL;
        }
        v[i].name = e->values_by_name[i].name;
        v[i].number = e->values[idx].value;
    }
    qsort(v, n, sizeof *v, cmp_eval);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ax_strbuf_printf(sb, "value %d %s\n", v[i].number, v[i].name);
    free(v);
    return rc;
}

static int schema_text(const ProtobufCMessageDescriptor *root, struct ax_strbuf *sb)
{
    if (!root || root->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return AX_EINVAL;
    struct closure c = {0};
    int rc = add(&c, root->name, root, false);
    /* Breadth-first over the type graph; c grows while we walk it. */
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        if (c.v[i].is_enum)
            continue;
        const ProtobufCMessageDescriptor *d = c.v[i].desc;
        if (d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || (d->n_fields && !d->fields)) {
            rc = AX_EINVAL;
            break;
        }
        for (unsigned j = 0; rc == 0 && j < d->n_fields; j++) {
            const ProtobufCFieldDescriptor *f = &d->fields[j];
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *m = f->descriptor;
                if (!m || m->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
                    rc = AX_EINVAL;
                else
                    rc = add(&c, m->name, m, false);
            } else if (f->type == PROTOBUF_C_TYPE_ENUM) {
                const ProtobufCEnumDescriptor *e = f->descriptor;
                if (!e || e->magic != PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC)
                    rc = AX_EINVAL;
                else
                    rc = add(&c, e->name, e, true);
            }
        }
    }
    if (rc == 0) {
        qsort(c.v, c.n, sizeof *c.v, cmp_node);
        rc = ax_strbuf_printf(sb, "AXH1\nroot %s\n", root->name);
    }
    for (size_t i = 0; rc == 0 && i < c.n; i++)
        rc = c.v[i].is_enum ? write_enum(sb, c.v[i].desc) : write_message(sb, c.v[i].desc);
    free(c.v);
    return rc;
}

int ax_type_schema_text(const ProtobufCMessageDescriptor *desc, char **text)
{
    if (!desc || !text)
        return AX_EINVAL;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    int rc = schema_text(desc, &sb);
    if (rc) {
        ax_strbuf_fini(&sb);
        return rc;
    }
    *text = ax_strbuf_release(&sb);
    return *text ? 0 : AX_ENOMEM;
}

int ax_type_hash_compute(const ProtobufCMessageDescriptor *desc, struct ax_type_hash *out)
{
    if (!desc || !out)
        return AX_EINVAL;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    int rc = schema_text(desc, &sb);
    if (rc == 0)
        ax__sha256(sb.data, sb.len, out->bytes);
    ax_strbuf_fini(&sb);
    return rc;
}

bool ax_type_hash_equal(const struct ax_type_hash *a, const struct ax_type_hash *b)
{
    return memcmp(a->bytes, b->bytes, AX_TYPE_HASH_SIZE) == 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void ax_type_hash_format(const struct ax_type_hash *h, char out[AX_TYPE_HASH_STRLEN])
{
    memcpy(out, "AXH1-", 5);
    hex(h->bytes, AX_TYPE_HASH_SIZE, out + 5);
}

void ax_type_hash_short(const struct ax_type_hash *h, char out[AX_TYPE_HASH_SHORTLEN])
{
    hex(h->bytes, 8, out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ax_type_hash_parse(const char *s, struct ax_type_hash *out)
{
    if (!s || !out || strncmp(s, "AXH1-", 5) != 0 || strlen(s) != 5 + 2 * AX_TYPE_HASH_SIZE)
        return AX_EINVAL;
    s += 5;
    for (size_t i = 0; i < AX_TYPE_HASH_SIZE; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return AX_EINVAL;
        out->bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
