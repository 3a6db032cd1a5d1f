/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/types.h: message types: the type registry, type hashes and dynamic
 * types built at run time from a schema.
 *
 * axon carries protobuf messages. A *type* is a protobuf message type known
 * by its full name ("axon.sensor.Imu"): its protobuf-c descriptor (which
 * protobuf_c_message_pack()/unpack() and axon's printer and parser work
 * from), the serialized FileDescriptorSet of the .proto that defines it (all
 * imports included; what a tool that was not built with the type needs to
 * decode it), and its type hash.
 *
 * ## The registry
 *
 * A process-wide table from full name to type. axon's standard messages
 * (include/axon/msgs/\*.pb-c.h, docs/messages.md, libaxon_msgs) are in it
 * from the start when the program links libaxon_msgs (axon/msgs.h). An application adds its own
 * types with the code that axon_protobuf_c_generate() generates (one call,
 * ax_types_<name>_register()) or with ax_type_register(). Registered types
 * live until the process exits; lookups return pointers that stay valid
 * that long.
 *
 * ## The type hash
 *
 * 32 bytes: SHA-256 over a canonical text form of the message's schema and,
 * recursively, of every message and enum type it uses (full names, field
 * numbers, names, labels, types, type names, packed, oneof membership; fields
 * sorted by number). Two programs built from the same .proto agree on it on
 * every architecture; adding, renaming, renumbering or retyping a field
 * changes it. Comments, field order in the file, options other than packed,
 * and the names of oneofs do not count. docs/messages.md defines the form
 * exactly. Printed as "AXH1-" followed by 64 hex digits, or shortened to
 * its first 16 hex digits for tables.
 *
 * ## Dynamic types
 *
 * ax_type_from_fds() builds a type from a serialized FileDescriptorSet at
 * run time (the CLI uses it to decode types it was not built with). The
 * descriptors it synthesizes work with protobuf_c_message_unpack(),
 * protobuf_c_message_pack(), protobuf_c_message_free_unpacked() and axon's
 * printer and parser exactly like generated ones, with one exception:
 * protobuf_c_message_init() must not be called on them (their init hook is
 * NULL, since a hook is not told its descriptor); use ax_msg_init(), which
 * works for every descriptor.
 *
 * ## Thread rules
 *
 * Every function here may be called from any thread. Registration and
 * lookup are serialized by a process-wide lock; the types they return are
 * immutable.
 */
#ifndef AXON_TYPES_H
#define AXON_TYPES_H

#include <protobuf-c/protobuf-c.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a type hash in bytes. */
#define AX_TYPE_HASH_SIZE     32
/* Buffer size for ax_type_hash_format(): "AXH1-" + 64 hex digits + NUL. */
#define AX_TYPE_HASH_STRLEN   70
/* Buffer size for ax_type_hash_short(): 16 hex digits + NUL. */
#define AX_TYPE_HASH_SHORTLEN 17

/* A type hash (see above). Compare with ax_type_hash_equal() or memcmp. */
struct ax_type_hash {
    uint8_t bytes[AX_TYPE_HASH_SIZE];
};

/* A type: opaque. Registered types are owned by the registry; dynamic types
 * by the caller of ax_type_from_fds(), who frees them with ax_type_free(). */
typedef struct ax_type ax_type;

/* One .proto file of a type set: its FileDescriptorSet (the file and all its
 * imports) and the descriptors of the messages it defines (nested ones
 * included). Made by axon_protobuf_c_generate(); static data. */
struct ax_type_file {
    const char *proto; /* path as imported, "axon/msgs/sensor.proto" */
    const uint8_t *fds;
    size_t fds_len;
    const ProtobufCMessageDescriptor *const *messages;
    size_t n_messages;
};

/* The files of one axon_protobuf_c_generate() call. */
struct ax_type_set {
    const char *name;
    const struct ax_type_file *files;
    size_t n_files;
};

/**
 * ax_type_register() - add a compiled message type to the registry.
 * @desc: its protobuf-c descriptor; must stay valid for the life of the
 *        process (generated descriptors are static data).
 * @fds: the serialized FileDescriptorSet of the file that defines the type,
 *       with all its imports, or NULL (then tools cannot get the schema from
 *       this process). Borrowed for the life of the process, not copied.
 * @fds_len: its length in bytes.
 *
 * Computes the type hash. Registering the same descriptor again is a no-op
 * returning 0.
 *
 * Returns 0; AX_EINVAL (NULL @desc, or a descriptor with a bad magic number
 * or no field names); AX_EEXIST when another type with the same full name
 * but a different hash is registered; AX_ENOMEM.
 */
AX_API int ax_type_register(const ProtobufCMessageDescriptor *desc, const uint8_t *fds,
                            size_t fds_len);

/**
 * ax_type_register_set() - register every message of every file of @set
 * (what the generated ax_types_<name>_register() calls).
 * @set: static data from axon_protobuf_c_generate(); borrowed for the life
 *       of the process.
 *
 * Returns 0, or the first error of ax_type_register(); the types registered
 * before the error stay registered.
 */
AX_API int ax_type_register_set(const struct ax_type_set *set);

/**
 * ax_type_find() - look a registered type up by full name.
 * @full_name: "axon.sensor.Imu" (no leading dot).
 * @out: receives the type; valid for the life of the process.
 *
 * Returns 0; AX_EINVAL (NULL argument); AX_ENOTFOUND.
 */
AX_API int ax_type_find(const char *full_name, const ax_type **out);

/**
 * ax_type_find_descriptor() - the registered type of a descriptor.
 *
 * Returns 0; AX_EINVAL; AX_ENOTFOUND when @desc was not registered.
 */
AX_API int ax_type_find_descriptor(const ProtobufCMessageDescriptor *desc, const ax_type **out);

/**
 * ax_type_foreach_fn - called by ax_type_foreach() for each registered type;
 * return 0 to go on, anything else to stop (ax_type_foreach() returns it).
 * Must not register types itself.
 */
typedef int (*ax_type_foreach_fn)(const ax_type *type, void *user);

/**
 * ax_type_foreach() - call @fn for every registered type, sorted by full
 * name. The registry lock is held during the walk.
 *
 * Returns 0 when every call returned 0, else the first non-zero return.
 */
AX_API int ax_type_foreach(ax_type_foreach_fn fn, void *user);

/** ax_type_name() - the full name ("axon.sensor.Imu"); valid as long as @type. */
AX_API const char *ax_type_name(const ax_type *type);

/** ax_type_descriptor() - the protobuf-c descriptor; valid as long as @type. */
AX_API const ProtobufCMessageDescriptor *ax_type_descriptor(const ax_type *type);

/** ax_type_hash() - the type hash; valid as long as @type. */
AX_API const struct ax_type_hash *ax_type_hash(const ax_type *type);

/**
 * ax_type_fds() - the serialized FileDescriptorSet the type comes from.
 * @data, @len: receive the bytes (owned by the type; valid as long as it).
 *
 * Returns 0, or AX_ENOTFOUND when the type was registered without one.
 */
AX_API int ax_type_fds(const ax_type *type, const uint8_t **data, size_t *len);

/**
 * ax_type_from_fds() - build a type at run time from a FileDescriptorSet.
 * @fds: a serialized google.protobuf.FileDescriptorSet (protoc
 *       --include_imports --descriptor_set_out) that contains @full_name and
 *       every type it uses. Untrusted input: everything is validated. Copied;
 *       the caller keeps it.
 * @len: its length; at most 16 MiB.
 * @full_name: the message type to build ("axon.sensor.Imu").
 * @out: receives the new type, owned by the caller: free it with
 *       ax_type_free() once no message of this type exists any more.
 *
 * The type is not registered. Its hash equals that of the compiled type of
 * the same schema. proto2 and proto3 are supported, except groups
 * (AX_ENOTSUP) and extensions (ignored).
 *
 * Returns 0; AX_EINVAL (NULL argument); AX_EMSGSIZE (@len too large);
 * AX_EPROTO (malformed set, unresolved or inconsistent types, invalid names
 * or numbers: the reason is logged at debug level under "types");
 * AX_ENOTFOUND (no message @full_name in the set); AX_ENOTSUP (groups);
 * AX_ENOMEM.
 */
AX_API int ax_type_from_fds(const uint8_t *fds, size_t len, const char *full_name, ax_type **out);

/**
 * ax_type_proto_text() - a type's schema as .proto source text.
 * @fds, @len: a serialized FileDescriptorSet that holds @full_name and every
 *        type it uses (ax_type_fds(), or one a node served); untrusted input,
 *        read and checked as by ax_type_from_fds(). Borrowed for the call.
 * @full_name: the message or enum type ("axon.sensor.Imu").
 * @text: receives NUL-terminated text allocated with malloc(); the caller
 *        frees it.
 *
 * The text holds @full_name and every type it uses, each top-level
 * declaration whole (nested types inside their parent), grouped by file:
 * one section per file, @full_name's own file first, each opening with a
 * line "// file: NAME" and then syntax, package, the imports of the other
 * sections it uses, and its declarations; each section is a .proto that
 * protoc accepts, and they define a type of the same type hash. Comments,
 * reserved ranges and options other than packed, deprecated and proto2
 * defaults are not in a FileDescriptorSet and are not printed.
 *
 * Returns 0; AX_EINVAL (NULL argument); AX_EMSGSIZE (@len over 16 MiB);
 * AX_EPROTO (malformed set, an unresolved type or an invalid name: the reason
 * is logged at debug level under "types"); AX_ENOTFOUND (no type
 * @full_name in the set); AX_ENOTSUP (groups, or a syntax other than proto2
 * and proto3); AX_ENOMEM.
 */
AX_API int ax_type_proto_text(const uint8_t *fds, size_t len, const char *full_name, char **text);

/**
 * ax_type_free() - free a type made by ax_type_from_fds(). NULL is a no-op.
 * Registered types are not freed (the call does nothing for them).
 */
AX_API void ax_type_free(ax_type *type);

/**
 * ax_type_hash_compute() - the type hash of any message descriptor,
 * registered or not, compiled or dynamic.
 *
 * Returns 0; AX_EINVAL (NULL argument, bad magic, a field without a name, or
 * a type graph deeper or larger than 4096 types); AX_ENOMEM.
 */
AX_API int ax_type_hash_compute(const ProtobufCMessageDescriptor *desc, struct ax_type_hash *out);

/**
 * ax_type_schema_text() - the canonical text the type hash is computed over
 * (see docs/messages.md), for debugging and for other implementations.
 * @text: receives a NUL-terminated string allocated with malloc(); the
 *        caller frees it.
 *
 * Returns 0, or the errors of ax_type_hash_compute().
 */
AX_API int ax_type_schema_text(const ProtobufCMessageDescriptor *desc, char **text);

/** ax_type_hash_equal() - whether two hashes are the same. */
AX_API bool ax_type_hash_equal(const struct ax_type_hash *a, const struct ax_type_hash *b);

/** ax_type_hash_format() - "AXH1-" and 64 lower-case hex digits. */
AX_API void ax_type_hash_format(const struct ax_type_hash *h, char out[AX_TYPE_HASH_STRLEN]);

/** ax_type_hash_short() - the first 8 bytes as 16 lower-case hex digits. */
AX_API void ax_type_hash_short(const struct ax_type_hash *h, char out[AX_TYPE_HASH_SHORTLEN]);

/**
 * ax_type_hash_parse() - parse the "AXH1-<64 hex>" form (hex digits in
 * either case).
 *
 * Returns 0, or AX_EINVAL for anything else.
 */
AX_API int ax_type_hash_parse(const char *s, struct ax_type_hash *out);

/**
 * ax_msg_wire_check() - check that @data is well-formed protobuf wire data
 * for a message of type @desc, with message fields nested at most
 * @max_depth levels below the top.
 * @desc: the type (compiled or dynamic).
 * @data, @len: the encoded message; untrusted.
 * @max_depth: e.g. 64; the standard messages nest at most 4 deep.
 *
 * protobuf_c_message_unpack() recurses once per nesting level without a
 * limit, so for a type that contains itself (directly or not) a small
 * hostile input can exhaust the stack; call this first on untrusted data of
 * such types. It checks tags, wire types, lengths and nesting only, not
 * values (unpack does that).
 *
 * Returns 0; AX_EPROTO (malformed, a group, or nested deeper than
 * @max_depth); AX_EINVAL (NULL @desc, or NULL @data with @len > 0).
 */
AX_API int ax_msg_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                             size_t len, unsigned max_depth);

/**
 * ax_msg_init() - initialise @mem as an empty message of type @desc: zero
 * it, set its descriptor and the fields' default values; what
 * protobuf_c_message_init() does for generated types, but for dynamic types
 * too. @mem must hold desc->sizeof_message bytes.
 */
AX_API void ax_msg_init(const ProtobufCMessageDescriptor *desc, void *mem);

#ifdef __cplusplus
}
#endif

#endif /* AXON_TYPES_H */
