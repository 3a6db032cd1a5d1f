/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the message tests: a descriptor-driven filler that
 * gives every field of any message a non-trivial value, and a deep
 * comparison. Both work for compiled and dynamic types. */
#ifndef AX_TEST_MSGS_UTIL_H
#define AX_TEST_MSGS_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* A new message of type @desc (malloc'ed; free with
 * protobuf_c_message_free_unpacked(m, NULL)) with every field set: scalars
 * to values derived from @seed and the field number (64-bit extremes,
 * negative numbers, non-ASCII and escaped characters in strings, 0x00/0xff
 * in bytes, the last value of enums), repeated fields with 3 elements,
 * sub-messages down to @depth levels, the first member of each oneof. */
ProtobufCMessage *axt_fill_new(const ProtobufCMessageDescriptor *desc, unsigned seed,
                               unsigned depth);

/* Whether @a and @b hold the same values (floats compared bit for bit).
 * On a difference, writes the path of the first one to @where (may be
 * NULL). */
bool axt_msg_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, char *where,
                   size_t where_len);

/* pack() into a new malloc'ed buffer. */
unsigned char *axt_pack(const ProtobufCMessage *m, size_t *len);

/* Read a whole file into a malloc'ed buffer. Returns NULL on failure. */
unsigned char *axt_read_file(const char *path, size_t *len);

#endif

/* Run the host's protoc (AXT_PROTOC) with @args (NULL-terminated, without
 * argv[0]) in a clean environment, @in on its stdin; its stdout is returned
 * in *@out (malloc'ed, NUL-terminated; *@out_len bytes). Returns protoc's
 * exit status, or -1 with @why filled when it could not be run at all. */
int axt_protoc(const char *const *args, const void *in, size_t in_len, unsigned char **out,
               size_t *out_len, char *why, size_t why_len);
