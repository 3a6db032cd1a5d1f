/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/proto_text.c: ax_type_proto_text(), a type's schema as .proto text.
 *
 * Design note. The schema a tool has of a type is a FileDescriptorSet (the
 * registry's, or one a node served), so that is what is printed from:
 * unlike a protobuf-c descriptor it still knows the files, packages, oneof
 * names, maps and proto2 defaults. What is printed is the type and every
 * type it uses, at the granularity of top-level declarations (a nested type
 * is printed inside its parent, as in the file), grouped by file: one
 * section per file, the type's own file first, each section a .proto that
 * protoc accepts once cut out under its name (its imports are the other
 * sections it uses). Comments, reserved ranges and options other than
 * packed, deprecated and default are not in the set, so they are not
 * printed.
 *
 * The set is untrusted (it may come from the network): it is read and
 * indexed exactly as ax_type_from_fds() does, every type reference must
 * resolve, and every name printed must be an identifier, so a hostile
 * schema cannot put control characters on the user's terminal. Message
 * nesting is bounded by the wire check (at most 100 levels), which bounds
 * the recursion of print_message().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "axon/strbuf.h"
#include "msgs/ax__dyntype.h"

typedef Axon__Pbdesc__EnumValueDescriptorProto ValueProto;

struct pt {
    struct ax__dyn_ctx *c;
    const FdSet *set;
    struct ax_strbuf *sb;
    bool *want;    /* per entry: a top-level type to print */
    size_t *queue; /* entries whose references are still to follow */
    size_t nqueue;
    int rc;
};

static void out(struct pt *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out(struct pt *p, const char *fmt, ...)
{
    if (p->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    p->rc = ax_strbuf_vprintf(p->sb, fmt, ap);
    va_end(ap);
}

static void indent(struct pt *p, int depth)
{
    out(p, "%*s", 2 * depth, "");
}

static int fail(struct pt *p, int rc, const char *what, const char *name)
{
    if (!p->rc)
        p->rc = ax__dyn_fail(p->c, rc, "%s \"%.64s\"", what, name ? name : "(none)");
    return p->rc;
}

/* The entry a field's type_name (".pkg.Msg") refers to, or NULL. */
static struct ax__dyn_entry *ref_entry(struct pt *p, const FieldProto *f)
{
    if (!f->type_name || f->type_name[0] != '.')
        return NULL;
    return ax__dyn_lookup(p->c, f->type_name + 1);
}

/* The top-level declaration @e is, or is nested in. */
static struct ax__dyn_entry *top_of(struct pt *p, const struct ax__dyn_entry *e)
{
    size_t lp = strlen(e->package);
    const char *rest = e->name + lp + (lp ? 1 : 0);
    const char *dot = strchr(rest, '.');
    if (!dot)
        return (struct ax__dyn_entry *)e;
    char name[600];
    snprintf(name, sizeof name, "%.*s", (int)(dot - e->name), e->name);
    return ax__dyn_lookup(p->c, name);
}

static void want(struct pt *p, struct ax__dyn_entry *e)
{
    size_t i = (size_t)(e - p->c->e);
    if (p->want[i])
        return;
    p->want[i] = true;
    p->queue[p->nqueue++] = i;
}

/* Mark the top-level declarations the messages under @top use. Nested
 * messages are walked with a work list of their own. */
static int follow(struct pt *p, const struct ax__dyn_entry *top)
{
    if (!top->msg)
        return 0;
    size_t n = 1, cap = 16;
    const MsgProto **stack = malloc(cap * sizeof *stack);
    if (!stack)
        return AX_ENOMEM;
    stack[0] = top->msg;
    int rc = 0;
    while (n && rc == 0) {
        const MsgProto *m = stack[--n];
        for (size_t i = 0; i < m->n_field && rc == 0; i++) {
            const FieldProto *f = m->field[i];
            if (!f->has_type ||
                (f->type != AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE &&
                 f->type != AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM))
                continue;
            struct ax__dyn_entry *e = ref_entry(p, f);
            struct ax__dyn_entry *t = e ? top_of(p, e) : NULL;
            if (!t)
                rc = fail(p, AX_EPROTO, "unresolved type", f->type_name);
            else
                want(p, t);
        }
        if (rc == 0 && m->n_nested_type > cap - n) {
            const MsgProto **grown = realloc(stack, (n + m->n_nested_type) * sizeof *stack);
            if (!grown) {
                rc = AX_ENOMEM;
                break;
            }
            stack = grown;
            cap = n + m->n_nested_type;
        }
        for (size_t i = 0; rc == 0 && i < m->n_nested_type; i++)
            stack[n++] = m->nested_type[i];
    }
    free(stack);
    return rc;
}

/* ---- printing ---- */

static const char *scalar_name(int type)
{
    static const char *const names[] = {
        [1] = "double",  [2] = "float",     [3] = "int64",     [4] = "uint64",  [5] = "int32",
        [6] = "fixed64", [7] = "fixed32",   [8] = "bool",      [9] = "string",  [12] = "bytes",
        [13] = "uint32", [15] = "sfixed32", [16] = "sfixed64", [17] = "sint32", [18] = "sint64",
    };
    return type > 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : NULL;
}

/* The name a field of file package @pkg writes for type @e: relative to
 * the package when it is the same one, else fully qualified. */
static const char *type_ref(const struct ax__dyn_entry *e, const char *pkg)
{
    size_t lp = strlen(pkg);
    if (lp && strncmp(e->name, pkg, lp) == 0 && e->name[lp] == '.')
        return e->name + lp + 1;
    return e->name;
}

/* A field's type as written: a scalar, a message or enum, or NULL. */
static const char *type_text(struct pt *p, const FieldProto *f, const char *pkg)
{
    if (f->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE ||
        f->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_ENUM) {
        struct ax__dyn_entry *e = ref_entry(p, f);
        if (!e) {
            fail(p, AX_EPROTO, "unresolved type", f->type_name);
            return NULL;
        }
        return type_ref(e, pkg);
    }
    if (f->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP) {
        fail(p, AX_ENOTSUP, "group field", f->name);
        return NULL;
    }
    const char *s = scalar_name(f->has_type ? (int)f->type : 0);
    if (!s)
        fail(p, AX_EPROTO, "field of unknown type", f->name);
    return s;
}

/* A proto2 default value as written in the file. protoc keeps strings raw
 * and bytes C-escaped; anything else is a number, a bool or an enum
 * value. Whatever is not printable ASCII is escaped, so the text stays on
 * its line whatever the set holds. */
static void default_text(struct pt *p, const FieldProto *f)
{
    bool str = f->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_STRING;
    bool quoted = str || f->type == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_BYTES;
    out(p, "default = %s", quoted ? "\"" : "");
    for (const unsigned char *s = (const unsigned char *)f->default_value; *s; s++) {
        if (str && (*s == '"' || *s == '\\'))
            out(p, "\\%c", *s);
        else if (*s < 0x20 || *s >= 0x7f || (!quoted && *s == '"'))
            out(p, "\\%03o", *s);
        else
            out(p, "%c", *s);
    }
    out(p, "%s", quoted ? "\"" : "");
}

static void print_field(struct pt *p, const FieldProto *f, bool proto3, bool in_oneof,
                        const char *pkg, int depth)
{
    if (!ax__dyn_ident_ok(f->name) || !f->has_number) {
        fail(p, AX_EPROTO, "invalid field", f->name);
        return;
    }
    indent(p, depth);
    bool repeated =
        f->has_label && f->label == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
    struct ax__dyn_entry *e = repeated ? ref_entry(p, f) : NULL;
    if (e && e->msg && e->msg->options && e->msg->options->map_entry && e->msg->n_field == 2) {
        /* map<K, V>: its entry message holds key = 1 and value = 2. */
        const char *k = type_text(p, e->msg->field[0], pkg);
        const char *v = type_text(p, e->msg->field[1], pkg);
        out(p, "map<%s, %s> %s = %d", k ? k : "", v ? v : "", f->name, f->number);
    } else {
        const char *label = ""; /* a oneof's members have none */
        if (in_oneof)
            ;
        else if (repeated)
            label = "repeated ";
        else if (!proto3 || (f->has_proto3_optional && f->proto3_optional))
            label = f->has_label &&
                            f->label == AXON__PBDESC__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED
                        ? "required "
                        : "optional ";
        const char *t = type_text(p, f, pkg);
        out(p, "%s%s %s = %d", label, t ? t : "", f->name, f->number);
    }
    const char *sep = " [";
    if (f->default_value && !proto3) {
        out(p, "%s", sep);
        default_text(p, f);
        sep = ", ";
    }
    if (f->options && f->options->has_packed) {
        out(p, "%spacked = %s", sep, f->options->packed ? "true" : "false");
        sep = ", ";
    }
    if (f->options && f->options->has_deprecated && f->options->deprecated) {
        out(p, "%sdeprecated = true", sep);
        sep = ", ";
    }
    out(p, "%s;\n", sep[0] == ',' ? "]" : "");
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void print_enum(struct pt *p, const EnumProto *en, int depth)
{
    indent(p, depth);
    out(p, "enum %s {\n", en->name);
    /* Two names for one number: protoc accepted the enum, so it had
     * allow_alias, an option the set does not keep. Sorted, since a
     * hostile enum may have many values. */
    bool alias = false;
    int32_t *nums = malloc((en->n_value ? en->n_value : 1) * sizeof *nums);
    if (!nums) {
        p->rc = AX_ENOMEM;
        return;
    }
    for (size_t i = 0; i < en->n_value; i++)
        nums[i] = en->value[i]->number;
    qsort(nums, en->n_value, sizeof *nums, cmp_i32);
    for (size_t i = 1; i < en->n_value; i++)
        alias |= nums[i] == nums[i - 1];
    free(nums);
    if (alias) {
        indent(p, depth + 1);
        out(p, "option allow_alias = true;\n");
    }
    for (size_t i = 0; i < en->n_value; i++) {
        const ValueProto *v = en->value[i];
        if (!ax__dyn_ident_ok(v->name)) {
            fail(p, AX_EPROTO, "invalid enum value", v->name);
            return;
        }
        indent(p, depth + 1);
        out(p, "%s = %d;\n", v->name, v->number);
    }
    indent(p, depth);
    out(p, "}\n");
}

/* A real oneof (not the synthetic one of a proto3 `optional` field). */
static bool in_real_oneof(const FieldProto *f)
{
    return f->has_oneof_index && !(f->has_proto3_optional && f->proto3_optional);
}

static void print_message(struct pt *p, const MsgProto *m, bool proto3, const char *pkg, int depth)
{
    indent(p, depth);
    out(p, "message %s {\n", m->name);
    for (size_t i = 0; i < m->n_field && !p->rc; i++) {
        const FieldProto *f = m->field[i];
        if (!in_real_oneof(f)) {
            print_field(p, f, proto3, false, pkg, depth + 1);
            continue;
        }
        /* A oneof is printed where its first member is. */
        int k = f->oneof_index;
        bool first = true;
        for (size_t j = 0; j < i; j++)
            first &= !(in_real_oneof(m->field[j]) && m->field[j]->oneof_index == k);
        if (!first)
            continue;
        if (k < 0 || (size_t)k >= m->n_oneof_decl || !ax__dyn_ident_ok(m->oneof_decl[k]->name)) {
            fail(p, AX_EPROTO, "invalid oneof in", m->name);
            return;
        }
        indent(p, depth + 1);
        out(p, "oneof %s {\n", m->oneof_decl[k]->name);
        for (size_t j = i; j < m->n_field; j++)
            if (in_real_oneof(m->field[j]) && m->field[j]->oneof_index == k)
                print_field(p, m->field[j], proto3, true, pkg, depth + 2);
        indent(p, depth + 1);
        out(p, "}\n");
    }
    for (size_t i = 0; i < m->n_enum_type && !p->rc; i++)
        print_enum(p, m->enum_type[i], depth + 1);
    for (size_t i = 0; i < m->n_nested_type && !p->rc; i++) {
        const MsgProto *n = m->nested_type[i];
        if (!(n->options && n->options->map_entry)) /* written as map<K, V> */
            print_message(p, n, proto3, pkg, depth + 1);
    }
    indent(p, depth);
    out(p, "}\n");
}

/* The index of @file in the set: the first file of that name. */
static size_t file_index(const FdSet *set, const FileProto *file)
{
    for (size_t f = 0; f < set->n_file; f++)
        if (set->file[f] == file || strcmp(set->file[f]->name, file->name) == 0)
            return f;
    return set->n_file;
}

/* The entry of a top-level declaration @name of @file, if it is wanted. */
static bool wanted(struct pt *p, const FileProto *file, const char *name)
{
    char full[600];
    const char *pkg = file->package ? file->package : "";
    snprintf(full, sizeof full, "%s%s%s", pkg, *pkg ? "." : "", name);
    struct ax__dyn_entry *e = ax__dyn_lookup(p->c, full);
    return e && e->file == file && p->want[e - p->c->e];
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '"')
            return false;
    return true;
}

static void print_file(struct pt *p, const FileProto *file, bool *imports)
{
    if (!printable(file->name)) {
        fail(p, AX_EPROTO, "invalid file name", "");
        return;
    }
    const char *pkg = file->package ? file->package : "";
    bool proto3 = file->syntax && strcmp(file->syntax, "proto3") == 0;
    out(p, "// file: %s\nsyntax = \"%s\";\n", file->name, proto3 ? "proto3" : "proto2");
    if (*pkg)
        out(p, "package %s;\n", pkg);
    /* Its imports: the other files its printed types use. */
    size_t self = file_index(p->set, file);
    memset(imports, 0, p->set->n_file * sizeof *imports);
    for (size_t i = 0; i < p->c->n; i++) {
        const struct ax__dyn_entry *e = &p->c->e[i];
        const struct ax__dyn_entry *t = e->msg && e->file == file ? top_of(p, e) : NULL;
        if (!t || !p->want[t - p->c->e])
            continue;
        for (size_t j = 0; j < e->msg->n_field; j++) {
            struct ax__dyn_entry *r = ref_entry(p, e->msg->field[j]);
            if (r && r->file != file)
                imports[file_index(p->set, r->file)] = true;
        }
    }
    bool any = false;
    for (size_t f = 0; f < p->set->n_file; f++) {
        if (!imports[f] || f == self)
            continue;
        if (!printable(p->set->file[f]->name))
            fail(p, AX_EPROTO, "invalid file name", "");
        out(p, "%simport \"%s\";\n", any ? "" : "\n", p->set->file[f]->name);
        any = true;
    }
    for (size_t j = 0; j < file->n_message_type && !p->rc; j++)
        if (wanted(p, file, file->message_type[j]->name)) {
            out(p, "\n");
            print_message(p, file->message_type[j], proto3, pkg, 0);
        }
    for (size_t j = 0; j < file->n_enum_type && !p->rc; j++)
        if (wanted(p, file, file->enum_type[j]->name)) {
            out(p, "\n");
            print_enum(p, file->enum_type[j], 0);
        }
}

/* Whether a type of @file is wanted; a file repeated in the set counts
 * once (the index keeps the first). */
static bool file_wanted(struct pt *p, const FileProto *file)
{
    for (size_t i = 0; i < p->c->n; i++)
        if (p->want[i] && p->c->e[i].file == file)
            return true;
    return false;
}

int ax_type_proto_text(const uint8_t *fds, size_t len, const char *full_name, char **text)
{
    if (!fds || !full_name || !text)
        return AX_EINVAL;
    *text = NULL;
    struct ax__dyn_ctx c = {0};
    if (!(c.dyn = ax__dyn_new()))
        return AX_ENOMEM;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    FdSet *set = NULL;
    struct pt p = {.c = &c, .sb = &sb};
    int rc = ax__dyn_read_set(&c, fds, len, &set);
    p.set = set;
    struct ax__dyn_entry *root = NULL, *top = NULL;
    bool *imports = NULL;
    if (rc == 0) {
        root = ax__dyn_lookup(&c, full_name);
        if (!root || !(top = top_of(&p, root)))
            rc = ax__dyn_fail(&c, AX_ENOTFOUND, "no type %.128s in the set", full_name);
    }
    if (rc == 0) {
        p.want = calloc(c.n, sizeof *p.want);
        p.queue = calloc(c.n, sizeof *p.queue);
        imports = calloc(set->n_file ? set->n_file : 1, sizeof *imports);
        if (!p.want || !p.queue || !imports)
            rc = AX_ENOMEM;
    }
    if (rc == 0) {
        want(&p, top);
        for (size_t i = 0; i < p.nqueue && rc == 0; i++)
            rc = follow(&p, &c.e[p.queue[i]]);
    }
    if (rc == 0) {
        /* The type's own file first, then the others in the set's order
         * (protoc's: every file after those it imports). */
        print_file(&p, top->file, imports);
        for (size_t f = 0; f < set->n_file && !p.rc; f++) {
            const FileProto *file = set->file[f];
            if (file != top->file && file_wanted(&p, file)) {
                out(&p, "\n");
                print_file(&p, file, imports);
            }
        }
        rc = p.rc;
    }
    if (rc == 0 && !(*text = ax_strbuf_release(&sb)))
        rc = AX_ENOMEM;
    if (rc && c.why[0])
        AX_LOG_D(AX__TYPES_LOG, "schema text of %.128s: %s", full_name, c.why);
    ax_strbuf_fini(&sb);
    free(p.want);
    free(p.queue);
    free(imports);
    if (set)
        axon__pbdesc__file_descriptor_set__free_unpacked(set, NULL);
    free(c.e);
    ax__dyn_free(c.dyn);
    return rc;
}
