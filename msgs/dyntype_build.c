/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/dyntype_build.c: protobuf-c descriptors for the types of an indexed
 * FileDescriptorSet, with a struct layout for the running machine.
 *
 * What protoc-c would generate, as far as protobuf-c's runtime and the type
 * hash can see it (labels, the PACKED and ONEOF flags, default values,
 * field and value tables sorted by number and by name), so a dynamic type
 * hashes, packs and unpacks exactly like the compiled one. The layout is
 * our own (dyntype.c's design note). Every field, number, label and type
 * reference is checked here, as the set comes from outside.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "msgs/ax__dyntype.h"

#define MAX_FIELD_NUMBER 536870911 /* 2^29 - 1 */

/* ---- enums ---- */

struct vtmp {
    const char *name;
    int number;
    size_t decl; /* declaration order, to keep the first of aliases */
};

static int cmp_vnum(const void *a, const void *b)
{
    const struct vtmp *x = a, *y = b;
    if (x->number != y->number)
        return x->number < y->number ? -1 : 1;
    return x->decl < y->decl ? -1 : x->decl > y->decl;
}

static int cmp_vname(const void *a, const void *b)
{
    return strcmp(((const struct vtmp *)a)->name, ((const struct vtmp *)b)->name);
}

/* Runs of consecutive values, the lookup table protobuf-c bisects; a final
 * sentinel holds the total count. @vals must be sorted and distinct. */
static ProtobufCIntRange *make_ranges(struct ax__dyn *d, const int *vals, size_t n,
                                      unsigned *n_ranges)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i++)
        runs += i == 0 || (long long)vals[i] != (long long)vals[i - 1] + 1;
    ProtobufCIntRange *r = ax__dyn_array(d, runs + 1, sizeof *r);
    if (!r)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || (long long)vals[i] != (long long)vals[i - 1] + 1)
            r[k++] = (ProtobufCIntRange){vals[i], (unsigned)i};
    r[k] = (ProtobufCIntRange){0, (unsigned)n};
    *n_ranges = (unsigned)runs;
    return r;
}

static const char *short_name(const char *full)
{
    const char *dot = strrchr(full, '.');
    return dot ? dot + 1 : full;
}

static int build_enum(struct ax__dyn_ctx *c, struct ax__dyn_entry *ent)
{
    const EnumProto *ep = ent->en;
    ProtobufCEnumDescriptor *ed = ent->built;
    size_t n = ep->n_value;
    if (n == 0)
        return ax__dyn_fail(c, AX_EPROTO, "enum %s has no values", ent->name);
    struct vtmp *v = calloc(n, sizeof *v);
    int *nums = calloc(n, sizeof *nums);
    int rc = (v && nums) ? 0 : AX_ENOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!ax__dyn_ident_ok(ep->value[i]->name) || !ep->value[i]->has_number)
            rc = ax__dyn_fail(c, AX_EPROTO, "enum %s: invalid value %zu", ent->name, i);
        else if (!(v[i].name =
                       ax__dyn_strdup(c->dyn, ep->value[i]->name, strlen(ep->value[i]->name))))
            rc = AX_ENOMEM;
        else {
            v[i].number = ep->value[i]->number;
            v[i].decl = i;
        }
    }
    if (rc == 0) {
        qsort(v, n, sizeof *v, cmp_vnum);
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || v[i].number != v[i - 1].number)
                nums[distinct++] = v[i].number;
        ProtobufCEnumValue *vals = ax__dyn_array(c->dyn, distinct, sizeof *vals);
        ProtobufCEnumValueIndex *byname = ax__dyn_array(c->dyn, n, sizeof *byname);
        unsigned n_ranges = 0;
        ProtobufCIntRange *ranges = make_ranges(c->dyn, nums, distinct, &n_ranges);
        if (!vals || !byname || !ranges)
            rc = AX_ENOMEM;
        for (size_t i = 0, k = 0; rc == 0 && i < n; i++)
            if (i == 0 || v[i].number != v[i - 1].number)
                vals[k++] = (ProtobufCEnumValue){v[i].name, v[i].name, v[i].number};
        if (rc == 0) {
            qsort(v, n, sizeof *v, cmp_vname);
            for (size_t i = 0; i < n; i++) {
                if (i > 0 && strcmp(v[i].name, v[i - 1].name) == 0) {
                    rc =
                        ax__dyn_fail(c, AX_EPROTO, "enum %s: value %s twice", ent->name, v[i].name);
                    break;
                }
                size_t lo = 0, hi = distinct;
                while (lo < hi) { /* position of v[i].number in nums */
                    size_t mid = lo + (hi - lo) / 2;
                    if (nums[mid] < v[i].number)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                byname[i] = (ProtobufCEnumValueIndex){v[i].name, (unsigned)lo};
            }
        }
        if (rc == 0) {
            ed->magic = PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC;
            ed->name = ent->name;
            ed->short_name = short_name(ent->name);
            ed->c_name = ent->name;
            ed->package_name = ent->package;
            ed->n_values = (unsigned)distinct;
            ed->values = vals;
            ed->n_value_names = (unsigned)n;
            ed->values_by_name = byname;
            ed->n_value_ranges = n_ranges;
            ed->value_ranges = ranges;
        }
    }
    free(v);
    free(nums);
    return rc;
}

/* ---- messages ---- */

static size_t align_up(size_t off, size_t a)
{
    return (off + a - 1) / a * a;
}

static bool map_type(int t, ProtobufCType *out)
{
    static const ProtobufCType map[19] = {
        [1] = PROTOBUF_C_TYPE_DOUBLE,    [2] = PROTOBUF_C_TYPE_FLOAT,
        [3] = PROTOBUF_C_TYPE_INT64,     [4] = PROTOBUF_C_TYPE_UINT64,
        [5] = PROTOBUF_C_TYPE_INT32,     [6] = PROTOBUF_C_TYPE_FIXED64,
        [7] = PROTOBUF_C_TYPE_FIXED32,   [8] = PROTOBUF_C_TYPE_BOOL,
        [9] = PROTOBUF_C_TYPE_STRING,    [11] = PROTOBUF_C_TYPE_MESSAGE,
        [12] = PROTOBUF_C_TYPE_BYTES,    [13] = PROTOBUF_C_TYPE_UINT32,
        [14] = PROTOBUF_C_TYPE_ENUM,     [15] = PROTOBUF_C_TYPE_SFIXED32,
        [16] = PROTOBUF_C_TYPE_SFIXED64, [17] = PROTOBUF_C_TYPE_SINT32,
        [18] = PROTOBUF_C_TYPE_SINT64};
    if (t < 1 || t > 18 || t == 10)
        return false;
    *out = map[t];
    return true;
}

static bool packable(ProtobufCType t)
{
    return t != PROTOBUF_C_TYPE_STRING && t != PROTOBUF_C_TYPE_BYTES &&
           t != PROTOBUF_C_TYPE_MESSAGE;
}

/* C-unescape a proto2 bytes default ("\001\xff\n..."). */
static int unescape_bytes(struct ax__dyn *d, const char *s, ProtobufCBinaryData *out)
{
    size_t n = strlen(s);
    uint8_t *p = ax__dyn_alloc(d, n);
    if (!p)
        return AX_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            p[k++] = (uint8_t)s[i];
            continue;
        }
        if (++i == n)
            return AX_EPROTO;
        char e = s[i];
        if (e >= '0' && e <= '7') {
            unsigned v = 0;
            for (int j = 0; j < 3 && i < n && s[i] >= '0' && s[i] <= '7'; j++, i++)
                v = v * 8 + (unsigned)(s[i] - '0');
            i--;
            if (v > 255)
                return AX_EPROTO;
            p[k++] = (uint8_t)v;
        } else if (e == 'x' || e == 'X') {
            unsigned v = 0;
            int j = 0;
            for (; j < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", s[i + 1]); j++) {
                char h = s[++i];
                v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
            }
            if (j == 0)
                return AX_EPROTO;
            p[k++] = (uint8_t)v;
        } else {
            const char *from = "abfnrtv\\'\"?", *to = "\a\b\f\n\r\t\v\\'\"?";
            const char *q = strchr(from, e);
            if (!q)
                return AX_EPROTO;
            p[k++] = (uint8_t)to[q - from];
        }
    }
    out->len = k;
    out->data = p;
    return 0;
}

/* The default value of a proto2 field with [default = ...]. */
static int parse_default(struct ax__dyn_ctx *c, const struct ax__dyn_entry *owner,
                         const FieldProto *fp, ProtobufCFieldDescriptor *fd)
{
    const char *s = fp->default_value;
    struct ax__dyn *d = c->dyn;
    if (!owner->proto3 && fd->label != PROTOBUF_C_LABEL_REPEATED && s == NULL)
        return 0;
    if (owner->proto3) {
        if (s)
            return ax__dyn_fail(c, AX_EPROTO, "%s.%s: default values are not allowed in proto3",
                                owner->name, fp->name);
        /* protoc-c: every proto3 string field defaults to "". */
        if (fd->type == PROTOBUF_C_TYPE_STRING)
            fd->default_value = protobuf_c_empty_string;
        return 0;
    }
    if (!s)
        return 0;
    if (fd->label == PROTOBUF_C_LABEL_REPEATED || fd->type == PROTOBUF_C_TYPE_MESSAGE)
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: a default value on a repeated or message field",
                            owner->name, fp->name);
    void *v = ax__dyn_alloc(d, sizeof(ProtobufCBinaryData) + 8);
    if (!v)
        return AX_ENOMEM;
    char *end = NULL;
    errno = 0;
    bool bad = false;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        long long x = strtoll(s, &end, 10);
        bad = x < INT32_MIN || x > INT32_MAX;
        *(int32_t *)v = (int32_t)x;
        break;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        unsigned long long x = strtoull(s, &end, 10);
        bad = x > UINT32_MAX || *s == '-';
        *(uint32_t *)v = (uint32_t)x;
        break;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)v = strtoll(s, &end, 10);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        bad = *s == '-';
        *(uint64_t *)v = strtoull(s, &end, 10);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x;
        if (strcmp(s, "inf") == 0) {
            x = INFINITY;
            end = (char *)s + 3;
        } else if (strcmp(s, "-inf") == 0) {
            x = -INFINITY;
            end = (char *)s + 4;
        } else if (strcmp(s, "nan") == 0) {
            x = NAN;
            end = (char *)s + 3;
        } else {
            x = strtod(s, &end);
            errno = 0; /* out-of-range doubles round, as protoc does */
        }
        if (fd->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *)v = (float)x;
        else
            *(double *)v = x;
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (strcmp(s, "true") == 0)
            *(protobuf_c_boolean *)v = 1;
        else if (strcmp(s, "false") != 0)
            bad = true;
        end = (char *)s + strlen(s);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = fd->descriptor;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
        bad = ev == NULL;
        if (ev)
            *(int32_t *)v = ev->value;
        end = (char *)s + strlen(s);
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        v = ax__dyn_strdup(d, s, strlen(s));
        if (!v)
            return AX_ENOMEM;
        end = (char *)s + strlen(s);
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        int rc = unescape_bytes(d, s, v);
        if (rc == AX_ENOMEM)
            return rc;
        bad = rc != 0;
        end = (char *)s + strlen(s);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        bad = true;
        break;
    }
    if (bad || errno || !end || end == s || *end)
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: bad default value", owner->name, fp->name);
    fd->default_value = v;
    return 0;
}

/* Per field, while building one message. */
struct ftmp {
    const FieldProto *fp;
    ProtobufCFieldDescriptor fd;
    int oneof; /* index of its (real) oneof, or -1 */
};

static int cmp_fnum(const void *a, const void *b)
{
    const ProtobufCFieldDescriptor *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

struct name_idx {
    const char *name;
    unsigned idx;
};

static int cmp_name_idx(const void *a, const void *b)
{
    return strcmp(((const struct name_idx *)a)->name, ((const struct name_idx *)b)->name);
}

/* Resolve a field's type and label. */
static int field_kind(struct ax__dyn_ctx *c, struct ax__dyn_entry *ent, const FieldProto *fp,
                      struct ftmp *t)
{
    const MsgProto *m = ent->msg;
    ProtobufCFieldDescriptor *fd = &t->fd;
    if (!ax__dyn_ident_ok(fp->name))
        return ax__dyn_fail(c, AX_EPROTO, "%s: invalid field name", ent->name);
    if (!fp->has_number || fp->number < 1 || fp->number > MAX_FIELD_NUMBER)
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: invalid field number", ent->name, fp->name);
    if (fp->has_type && fp->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP)
        return ax__dyn_fail(c, AX_ENOTSUP, "%s.%s: groups are not supported", ent->name, fp->name);
    if (!fp->has_type || !map_type(fp->type, &fd->type))
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: missing or invalid type", ent->name, fp->name);
    if (fp->extendee)
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: an extension among the fields", ent->name,
                            fp->name);
    fd->name = ax__dyn_strdup(c->dyn, fp->name, strlen(fp->name));
    if (!fd->name)
        return AX_ENOMEM;
    fd->id = (uint32_t)fp->number;
    t->oneof = -1;
    bool in_oneof = fp->has_oneof_index;
    bool p3opt = fp->has_proto3_optional && fp->proto3_optional;
    if (in_oneof && (fp->oneof_index < 0 || (size_t)fp->oneof_index >= m->n_oneof_decl))
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: invalid oneof index", ent->name, fp->name);
    if (p3opt && (!ent->proto3 || !in_oneof))
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: invalid proto3 optional", ent->name, fp->name);
    int label = fp->has_label ? fp->label : 0;
    switch (label) {
    case AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL:
        if (p3opt)
            fd->label = PROTOBUF_C_LABEL_OPTIONAL;
        else
            fd->label = ent->proto3 ? PROTOBUF_C_LABEL_NONE : PROTOBUF_C_LABEL_OPTIONAL;
        if (in_oneof && !p3opt) {
            t->oneof = fp->oneof_index;
            fd->flags |= PROTOBUF_C_FIELD_FLAG_ONEOF;
        }
        break;
    case AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED:
        if (ent->proto3 || in_oneof)
            return ax__dyn_fail(c, AX_EPROTO, "%s.%s: required not allowed here", ent->name,
                                fp->name);
        fd->label = PROTOBUF_C_LABEL_REQUIRED;
        break;
    case AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED:
        if (in_oneof)
            return ax__dyn_fail(c, AX_EPROTO, "%s.%s: repeated field in a oneof", ent->name,
                                fp->name);
        fd->label = PROTOBUF_C_LABEL_REPEATED;
        break;
    default:
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: missing or invalid label", ent->name, fp->name);
    }
    if (fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_ENUM) {
        if (!fp->type_name || fp->type_name[0] != '.')
            return ax__dyn_fail(c, AX_EPROTO, "%s.%s: type name not fully qualified", ent->name,
                                fp->name);
        struct ax__dyn_entry *ref = ax__dyn_lookup(c, fp->type_name + 1);
        if (!ref || (fd->type == PROTOBUF_C_TYPE_MESSAGE) != (ref->msg != NULL))
            return ax__dyn_fail(c, AX_EPROTO, "%s.%s: unknown type %.128s", ent->name, fp->name,
                                fp->type_name);
        fd->descriptor = ref->built;
    } else if (fp->type_name && fp->type_name[0]) {
        return ax__dyn_fail(c, AX_EPROTO, "%s.%s: type name on a scalar field", ent->name,
                            fp->name);
    }
    if (fd->label == PROTOBUF_C_LABEL_REPEATED && packable(fd->type)) {
        bool packed = ent->proto3;
        if (fp->options && fp->options->has_packed)
            packed = fp->options->packed;
        if (packed)
            fd->flags |= PROTOBUF_C_FIELD_FLAG_PACKED;
    }
    if (fp->options && fp->options->has_deprecated && fp->options->deprecated)
        fd->flags |= PROTOBUF_C_FIELD_FLAG_DEPRECATED;
    return parse_default(c, ent, fp, fd);
}

static int build_message(struct ax__dyn_ctx *c, struct ax__dyn_entry *ent)
{
    const MsgProto *m = ent->msg;
    ProtobufCMessageDescriptor *md = ent->built;
    size_t n = m->n_field;
    if (n > 65535 || m->n_oneof_decl > 65535)
        return ax__dyn_fail(c, AX_EPROTO, "%s: too many fields or oneofs", ent->name);
    if (m->n_extension)
        AX_LOG_D(AX__TYPES_LOG, "%s: extensions ignored", ent->name);
    struct ftmp *t = calloc(n ? n : 1, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        t[i].fp = m->field[i];
        rc = field_kind(c, ent, m->field[i], &t[i]);
    }

    /* Layout: plain fields in declaration order, then each oneof. */
    size_t off = sizeof(ProtobufCMessage), max_align = _Alignof(ProtobufCMessage);
#define PLACE(size, align, dst)                                                                    \
    do {                                                                                           \
        off = align_up(off, (align));                                                              \
        (dst) = (unsigned)off;                                                                     \
        off += (size);                                                                             \
        if ((align) > max_align)                                                                   \
            max_align = (align);                                                                   \
    } while (0)
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ProtobufCFieldDescriptor *fd = &t[i].fd;
        if (t[i].oneof >= 0)
            continue;
        size_t vs = ax__pbc_value_size(fd->type), va = ax__pbc_value_align(fd->type);
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            PLACE(sizeof(size_t), _Alignof(size_t), fd->quantifier_offset);
            PLACE(sizeof(void *), _Alignof(void *), fd->offset);
        } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL && fd->type != PROTOBUF_C_TYPE_STRING &&
                   fd->type != PROTOBUF_C_TYPE_MESSAGE) {
            PLACE(sizeof(protobuf_c_boolean), _Alignof(protobuf_c_boolean), fd->quantifier_offset);
            PLACE(vs, va, fd->offset);
        } else {
            PLACE(vs, va, fd->offset);
        }
    }
    /* Oneofs: one pass over the fields for each union's size and
     * alignment, one to place the unions, one to point the members at
     * them (linear: a hostile set may declare many oneofs). */
    struct oneof_slot {
        size_t size, align;
        unsigned qoff, uoff;
        bool used;
    } *os = NULL;
    if (rc == 0 && m->n_oneof_decl > 0) {
        os = calloc(m->n_oneof_decl, sizeof *os);
        if (!os)
            rc = AX_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (t[i].oneof < 0)
            continue;
        struct oneof_slot *o = &os[t[i].oneof];
        size_t vs = ax__pbc_value_size(t[i].fd.type), va = ax__pbc_value_align(t[i].fd.type);
        o->size = vs > o->size ? vs : o->size;
        o->align = va > o->align ? va : o->align;
        o->used = true;
    }
    for (size_t k = 0; rc == 0 && k < m->n_oneof_decl; k++) {
        if (!os[k].used)
            continue; /* the synthetic oneof of a proto3 optional, or empty */
        PLACE(sizeof(uint32_t), _Alignof(uint32_t), os[k].qoff);
        PLACE(os[k].size, os[k].align, os[k].uoff);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (t[i].oneof >= 0) {
            t[i].fd.quantifier_offset = os[t[i].oneof].qoff;
            t[i].fd.offset = os[t[i].oneof].uoff;
        }
    }
    free(os);
#undef PLACE
    if (rc == 0 && off > UINT_MAX / 2)
        rc = ax__dyn_fail(c, AX_EPROTO, "%s: message too large", ent->name);

    ProtobufCFieldDescriptor *fields = NULL;
    unsigned *by_name = NULL;
    ProtobufCIntRange *ranges = NULL;
    unsigned n_ranges = 0;
    if (rc == 0) {
        fields = ax__dyn_array(c->dyn, n ? n : 1, sizeof *fields);
        by_name = ax__dyn_array(c->dyn, n ? n : 1, sizeof *by_name);
        int *ids = calloc(n ? n : 1, sizeof *ids);
        struct name_idx *ni = calloc(n ? n : 1, sizeof *ni);
        if (!fields || !by_name || !ids || !ni)
            rc = AX_ENOMEM;
        if (rc == 0) {
            for (size_t i = 0; i < n; i++)
                fields[i] = t[i].fd;
            qsort(fields, n, sizeof *fields, cmp_fnum);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                if (i > 0 && fields[i].id == fields[i - 1].id)
                    rc = ax__dyn_fail(c, AX_EPROTO, "%s: field number %u used twice", ent->name,
                                      (unsigned)fields[i].id);
                ids[i] = (int)fields[i].id;
                ni[i] = (struct name_idx){fields[i].name, (unsigned)i};
            }
        }
        if (rc == 0) {
            qsort(ni, n, sizeof *ni, cmp_name_idx);
            for (size_t i = 0; rc == 0 && i < n; i++) {
                if (i > 0 && strcmp(ni[i].name, ni[i - 1].name) == 0)
                    rc = ax__dyn_fail(c, AX_EPROTO, "%s: field name %s used twice", ent->name,
                                      ni[i].name);
                by_name[i] = ni[i].idx;
            }
        }
        if (rc == 0) {
            ranges = make_ranges(c->dyn, ids, n, &n_ranges);
            if (!ranges)
                rc = AX_ENOMEM;
        }
        free(ids);
        free(ni);
    }
    if (rc == 0) {
        md->magic = PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
        md->name = ent->name;
        md->short_name = short_name(ent->name);
        md->c_name = ent->name;
        md->package_name = ent->package;
        md->sizeof_message = align_up(off, max_align);
        md->n_fields = (unsigned)n;
        md->fields = fields;
        md->fields_sorted_by_name = by_name;
        md->n_field_ranges = n_ranges;
        md->field_ranges = ranges;
        /* NULL: protobuf_c_message_unpack() then uses its generic init,
         * which is what we want; protobuf_c_message_init() cannot work
         * without knowing the descriptor (use ax_msg_init()). */
        md->message_init = NULL;
    }
    free(t);
    return rc;
}

/* Every type reachable from @root, in a work list (no recursion an
 * attacker can deepen). */
int ax__dyn_build_closure(struct ax__dyn_ctx *c, struct ax__dyn_entry *root)
{
    struct ax__dyn_entry **todo = malloc(c->n * sizeof *todo);
    if (!todo)
        return AX_ENOMEM;
    size_t nt = 0;
    int rc = 0;
    /* Pass 1: allocate a descriptor for each reachable type, so fields can
     * point at descriptors that are not filled yet (recursive types). */
    root->built = ax__dyn_alloc(c->dyn, sizeof(ProtobufCMessageDescriptor));
    if (!root->built)
        rc = AX_ENOMEM;
    else
        todo[nt++] = root;
    for (size_t i = 0; rc == 0 && i < nt; i++) {
        const MsgProto *m = todo[i]->msg;
        for (size_t j = 0; m && rc == 0 && j < m->n_field; j++) {
            const FieldProto *fp = m->field[j];
            if (!fp->type_name || fp->type_name[0] != '.')
                continue; /* reported when the field is built */
            struct ax__dyn_entry *ref = ax__dyn_lookup(c, fp->type_name + 1);
            if (!ref || ref->built)
                continue;
            ref->built = ax__dyn_alloc(c->dyn, ref->msg ? sizeof(ProtobufCMessageDescriptor)
                                                        : sizeof(ProtobufCEnumDescriptor));
            if (!ref->built)
                rc = AX_ENOMEM;
            else
                todo[nt++] = ref;
        }
    }
    /* Pass 2: enums first (proto2 enum defaults look their values up). */
    for (size_t i = 0; rc == 0 && i < nt; i++)
        if (todo[i]->en)
            rc = build_enum(c, todo[i]);
    for (size_t i = 0; rc == 0 && i < nt; i++)
        if (todo[i]->msg)
            rc = build_message(c, todo[i]);
    free(todo);
    return rc;
}
