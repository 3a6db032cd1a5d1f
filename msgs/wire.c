/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/wire.c: a structural check of protobuf wire data before
 * protobuf-c decodes it.
 *
 * protobuf_c_message_unpack() recurses once per level of message nesting
 * with a sizeable stack frame and no depth limit, so a small input that
 * nests a recursive type deeply enough (a FileDescriptorSet, or any user
 * type that contains itself) crashes the process. This walk is iterative
 * within a message and recurses only into fields the schema says are
 * messages, up to a caller-given depth.
 */
#include "msgs/ax__types.h"

static bool varint(const uint8_t *p, size_t n, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*i >= n)
            return false;
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool walk(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, unsigned depth,
                 unsigned max_depth)
{
    if (depth > max_depth)
        return false;
    size_t i = 0;
    while (i < n) {
        uint64_t key, v;
        if (!varint(p, n, &i, &key))
            return false;
        uint64_t number = key >> 3;
        if (number == 0 || number > 536870911)
            return false;
        switch (key & 7) {
        case 0: /* varint */
            if (!varint(p, n, &i, &v))
                return false;
            break;
        case 1: /* 64-bit */
            if (n - i < 8)
                return false;
            i += 8;
            break;
        case 5: /* 32-bit */
            if (n - i < 4)
                return false;
            i += 4;
            break;
        case 2: { /* length-delimited */
            if (!varint(p, n, &i, &v) || v > n - i)
                return false;
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)number);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !walk(f->descriptor, p + i, (size_t)v, depth + 1, max_depth))
                return false;
            i += (size_t)v;
            break;
        }
        default: /* groups (3, 4), which protobuf-c cannot read, and 6, 7 */
            return false;
        }
    }
    return true;
}

int ax_msg_wire_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                      unsigned max_depth)
{
    if (!desc || (!data && len) || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return AX_EINVAL;
    return walk(desc, data, len, 0, max_depth) ? 0 : AX_EPROTO;
}
