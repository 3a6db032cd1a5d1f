/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/ax__pbc.h: facts about protobuf-c's field types and labels that
 * several msgs/ files need (msgs/pbc.c). It sits below the registry and
 * dynamic types and calls nothing of theirs.
 */
#ifndef AX__PBC_H
#define AX__PBC_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Size in bytes of one value of a field of type @t in a message struct;
 * 0 for a value outside ProtobufCType. */
size_t ax__pbc_value_size(ProtobufCType t);

/* Alignment of one value of a field of type @t in a message struct. */
size_t ax__pbc_value_align(ProtobufCType t);

/* "int32", "message", ...; NULL for a value outside ProtobufCType. */
const char *ax__pbc_type_name(ProtobufCType t);

/* "required", "optional", "repeated", "none"; NULL for a value outside
 * ProtobufCLabel. */
const char *ax__pbc_label_name(ProtobufCLabel l);

#endif /* AX__PBC_H */
