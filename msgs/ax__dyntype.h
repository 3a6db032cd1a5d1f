/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/ax__dyntype.h: what the files of dynamic types (ax_type_from_fds())
 * share. One role each, and each calls only those listed below it:
 *
 *   proto_text.c     ax_type_proto_text(): a type's schema as .proto text
 *   dyntype.c        ax_type_from_fds(): checks and decodes the set, then
 *                    indexes it, builds the root's closure and hashes it
 *   dyntype_build.c  protobuf-c descriptors for every type the root reaches:
 *                    enums, messages and their struct layout, proto2 defaults
 *   dyntype_index.c  reading the set: names checked, every message and enum
 *                    indexed by full name
 *   dyntype_mem.c    the dynamic type's memory (one arena, freed by
 *                    ax_type_free()) and the reason a build failed
 *
 * The design note is in dyntype.c.
 */
#ifndef AX__DYNTYPE_H
#define AX__DYNTYPE_H

#include <stdbool.h>
#include <stddef.h>

#include "msgs/ax__types.h"

#include "ax__descriptor.pb-c.h" /* generated from descriptor.proto */

typedef Axon__Pbdesc__FileDescriptorSet FdSet;
typedef Axon__Pbdesc__FileDescriptorProto FileProto;
typedef Axon__Pbdesc__DescriptorProto MsgProto;
typedef Axon__Pbdesc__FieldDescriptorProto FieldProto;
typedef Axon__Pbdesc__EnumDescriptorProto EnumProto;
typedef Axon__Pbdesc__OneofDescriptorProto OneofProto;

struct ax__dyn_chunk; /* one block of the arena (dyntype_mem.c) */

struct ax__dyn {
    struct ax_type type; /* what the caller gets */
    struct ax__dyn_chunk *chunks;
};

/* A message or enum type found in the set. */
struct ax__dyn_entry {
    const char *name; /* full name, no leading dot */
    const char *package;
    const FileProto *file;
    const MsgProto *msg; /* one of msg, en */
    const EnumProto *en;
    bool proto3;
    void *built; /* ProtobufCMessageDescriptor or ProtobufCEnumDescriptor */
};

/* One ax_type_from_fds() call. */
struct ax__dyn_ctx {
    struct ax__dyn *dyn;
    struct ax__dyn_entry *e; /* sorted by name after indexing */
    size_t n, cap;
    char why[160]; /* the first failure, for the debug log */
};

/* ---- dyntype_mem.c ---- */

/* A new, empty dynamic type, or NULL. */
struct ax__dyn *ax__dyn_new(void);

/* Zeroed arena memory that lives as long as @d, aligned for any type; NULL
 * when out of memory or when the size overflows. */
void *ax__dyn_alloc(struct ax__dyn *d, size_t n);
void *ax__dyn_array(struct ax__dyn *d, size_t n, size_t size);

/* The first @n bytes of @s, NUL-terminated, in the arena. */
char *ax__dyn_strdup(struct ax__dyn *d, const char *s, size_t n);

/* Returns @rc, keeping the message of the first failure in @c->why. */
int ax__dyn_fail(struct ax__dyn_ctx *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- dyntype_index.c ---- */

/* An identifier: [A-Za-z_][A-Za-z0-9_]*, at most 255 characters. */
bool ax__dyn_ident_ok(const char *s);

/* Checks the files' names, packages and syntax and fills @c->e with every
 * message and enum (nested ones included), sorted by full name. */
int ax__dyn_index_set(struct ax__dyn_ctx *c, const FdSet *set);

/* The entry of full name @name (no leading dot), or NULL. */
struct ax__dyn_entry *ax__dyn_lookup(struct ax__dyn_ctx *c, const char *name);

/* ---- dyntype.c ---- */

/* Check the shape of @fds (untrusted), decode it into *@set (the caller
 * frees it with axon__pbdesc__file_descriptor_set__free_unpacked(), also
 * on failure) and index it into @c. Returns 0, AX_EMSGSIZE, AX_EPROTO,
 * AX_ENOTSUP or AX_ENOMEM. */
int ax__dyn_read_set(struct ax__dyn_ctx *c, const uint8_t *fds, size_t len, FdSet **set);

/* ---- dyntype_build.c ---- */

/* Builds the descriptors of @root and of every type it reaches. */
int ax__dyn_build_closure(struct ax__dyn_ctx *c, struct ax__dyn_entry *root);

#endif /* AX__DYNTYPE_H */
