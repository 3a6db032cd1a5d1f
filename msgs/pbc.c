/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/pbc.c: what protobuf-c's field types and labels mean in a message
 * struct and in text. One place for them, below everything else in msgs/,
 * so the registry, dynamic types, the type hash, the printer and the parser
 * use the same answers and no two of them have to call each other for one.
 */
#include <stdint.h>

#include "msgs/ax__pbc.h"

/* The C types protoc-c generates: (u)int32_t, enums as int, (u)int64_t,
 * float, double, protobuf_c_boolean, char *, ProtobufCBinaryData and
 * message pointers. The sizes are fixed by those types, so a dynamic type's
 * layout (msgs/dyntype_build.c) matches what compiled code would use. */
size_t ax__pbc_value_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* _Alignof the same C types. Not the size: ProtobufCBinaryData is larger
 * than its alignment, and on i386 so are 64-bit integers and doubles. */
size_t ax__pbc_value_align(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return _Alignof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE:
        return _Alignof(double);
    case PROTOBUF_C_TYPE_FLOAT:
        return _Alignof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return _Alignof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return _Alignof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return _Alignof(ProtobufCBinaryData);
    default:
        return _Alignof(int32_t);
    }
}

/* The names are the .proto keywords, which the type hash's text
 * (docs/messages.md) and the parser's error messages use. */
const char *ax__pbc_type_name(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return NULL;
}

/* protobuf-c's own labels, NONE (proto3 singular) included: the type hash
 * tells proto3 singular fields from proto2 optional ones. */
const char *ax__pbc_label_name(ProtobufCLabel l)
{
    switch (l) {
    case PROTOBUF_C_LABEL_REQUIRED:
        return "required";
    case PROTOBUF_C_LABEL_OPTIONAL:
        return "optional";
    case PROTOBUF_C_LABEL_REPEATED:
        return "repeated";
    case PROTOBUF_C_LABEL_NONE:
        return "none";
    }
    return NULL;
}
