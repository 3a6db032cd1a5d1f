/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/dyntype_index.c: reading a FileDescriptorSet for ax_type_from_fds().
 *
 * Every file's package and syntax, and every type name, is checked before
 * anything uses it, and every message and enum of every file (nested ones
 * included) gets an entry under its full name, sorted, so field types
 * resolve by binary search. Nesting is walked with a work list, never by
 * recursion, since the set is untrusted and its depth is the sender's.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "msgs/ax__dyntype.h"

#define MAX_ENTRIES 16384
#define MAX_NAME    512 /* a full type name */

/* An identifier: [A-Za-z_][A-Za-z0-9_]*, at most 255 characters. */
bool ax__dyn_ident_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return false;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* A package: identifiers joined by dots, or empty. */
static bool package_ok(const char *s)
{
    if (!s || !*s)
        return true;
    if (strlen(s) > 255)
        return false;
    char buf[256];
    strcpy(buf, s);
    char *save = NULL;
    size_t parts = 0, dots = 0;
    for (const char *p = s; *p; p++)
        dots += *p == '.';
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!ax__dyn_ident_ok(tok))
            return false;
        parts++;
    }
    return parts == dots + 1;
}

static int add_entry(struct ax__dyn_ctx *c, const char *prefix, const char *name,
                     const FileProto *file, const MsgProto *msg, const EnumProto *en)
{
    if (!ax__dyn_ident_ok(name))
        return ax__dyn_fail(c, AX_EPROTO, "invalid type name \"%.64s\"", name ? name : "(none)");
    if (c->n == MAX_ENTRIES)
        return ax__dyn_fail(c, AX_EPROTO, "more than %d types", MAX_ENTRIES);
    if (ax__array_reserve(&c->e, &c->cap, c->n + 1, 64) < 0)
        return AX_ENOMEM;
    size_t lp = strlen(prefix), ln = strlen(name);
    /* Nested names grow with depth: bound them, or a deep chain of long
     * names with many leaves would cost memory quadratic in the input. */
    if (lp + 1 + ln > MAX_NAME)
        return ax__dyn_fail(c, AX_EPROTO, "type name longer than %d characters", MAX_NAME);
    char *full = ax__dyn_alloc(c->dyn, lp + 1 + ln + 1);
    if (!full)
        return AX_ENOMEM;
    if (lp) {
        memcpy(full, prefix, lp);
        full[lp] = '.';
        memcpy(full + lp + 1, name, ln);
    } else {
        memcpy(full, name, ln);
    }
    const char *syntax = file->syntax ? file->syntax : "";
    const char *pkg = file->package ? file->package : "";
    char *pkg_copy = ax__dyn_strdup(c->dyn, pkg, strlen(pkg));
    if (!pkg_copy)
        return AX_ENOMEM;
    c->e[c->n++] =
        (struct ax__dyn_entry){full, pkg_copy, file, msg, en, strcmp(syntax, "proto3") == 0, NULL};
    return 0;
}

/* Index a message and, iteratively, everything nested in it. */
static int index_message(struct ax__dyn_ctx *c, const char *prefix, const MsgProto *top,
                         const FileProto *file)
{
    /* Work list of (message, its full name's prefix) pairs; the full name
     * of each message indexed becomes the prefix of its children. */
    size_t first = c->n;
    int rc = add_entry(c, prefix, top->name, file, top, NULL);
    for (size_t i = first; rc == 0 && i < c->n; i++) {
        if (!c->e[i].msg || c->e[i].file != file)
            continue;
        const MsgProto *m = c->e[i].msg;
        const char *full = c->e[i].name;
        for (size_t j = 0; rc == 0 && j < m->n_enum_type; j++)
            rc = add_entry(c, full, m->enum_type[j]->name, file, NULL, m->enum_type[j]);
        for (size_t j = 0; rc == 0 && j < m->n_nested_type; j++)
            rc = add_entry(c, full, m->nested_type[j]->name, file, m->nested_type[j], NULL);
    }
    return rc;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct ax__dyn_entry *)a)->name, ((const struct ax__dyn_entry *)b)->name);
}

struct ax__dyn_entry *ax__dyn_lookup(struct ax__dyn_ctx *c, const char *name)
{
    struct ax__dyn_entry key = {.name = name};
    if (c->n == 0)
        return NULL;
    return bsearch(&key, c->e, c->n, sizeof *c->e, cmp_entry);
}

int ax__dyn_index_set(struct ax__dyn_ctx *c, const FdSet *set)
{
    for (size_t f = 0; f < set->n_file; f++) {
        const FileProto *file = set->file[f];
        if (!file->name)
            return ax__dyn_fail(c, AX_EPROTO, "file %zu has no name", f);
        bool dup = false;
        for (size_t g = 0; g < f; g++)
            dup |= set->file[g]->name && strcmp(set->file[g]->name, file->name) == 0;
        if (dup)
            continue; /* the same file twice: use the first */
        if (!package_ok(file->package))
            return ax__dyn_fail(c, AX_EPROTO, "%s: invalid package name", file->name);
        const char *syntax = file->syntax ? file->syntax : "";
        if (*syntax && strcmp(syntax, "proto2") != 0 && strcmp(syntax, "proto3") != 0)
            return ax__dyn_fail(c, AX_ENOTSUP, "%s: syntax \"%.32s\" is not supported", file->name,
                                syntax);
        const char *pkg = file->package ? file->package : "";
        for (size_t j = 0; j < file->n_enum_type; j++) {
            int rc = add_entry(c, pkg, file->enum_type[j]->name, file, NULL, file->enum_type[j]);
            if (rc)
                return rc;
        }
        for (size_t j = 0; j < file->n_message_type; j++) {
            int rc = index_message(c, pkg, file->message_type[j], file);
            if (rc)
                return rc;
        }
    }
    if (c->n)
        qsort(c->e, c->n, sizeof *c->e, cmp_entry);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->e[i - 1].name, c->e[i].name) == 0)
            return ax__dyn_fail(c, AX_EPROTO, "type %s defined twice", c->e[i].name);
    return 0;
}
