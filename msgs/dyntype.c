/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/dyntype.c: message types built at run time from a FileDescriptorSet.
 *
 * Design note. protobuf-c's runtime (pack, unpack, free_unpacked) is driven
 * entirely by descriptors: names, numbers, labels, types, and the offsets of
 * each member and its quantifier (has_/n_/oneof case) inside the message
 * struct. So a type nobody compiled can be used with the stock runtime as
 * long as we synthesize those descriptors and choose a struct layout that
 * obeys the host's alignment rules. We mirror protoc-c's choices wherever
 * they are visible (labels, the PACKED and ONEOF flags, default values,
 * sorted field and enum tables), so the type hash (computed from the
 * descriptor) equals the compiled type's, and pick our own layout:
 *
 *   ProtobufCMessage base;
 *   then each field in declaration order (oneof members excepted):
 *     repeated:           size_t n_x; T *x;
 *     optional scalar:    protobuf_c_boolean has_x; T x;   (proto2, and
 *                         proto3 `optional`; not strings/messages)
 *     otherwise:          T x;
 *   then each oneof:      uint32_t x_case; union { members };
 *
 * with every member aligned to _Alignof its C type, and the whole struct
 * padded to its largest alignment. The layout is computed on the machine
 * that runs, so it is right for that machine's ABI by construction.
 *
 * The input is untrusted (it may come from the network): every name,
 * number, label, type, type reference and index is checked before use, the
 * type graph is walked with an explicit work list (no recursion an attacker
 * can deepen), and everything a type needs lives in one arena freed by
 * ax_type_free().
 *
 * This file is the entry point; reading the set, building the descriptors
 * and the arena are files of their own (msgs/ax__dyntype.h lists them).
 */
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "msgs/ax__dyntype.h"

#define MAX_FDS_LEN (16u << 20)
#define MAX_NESTING 100 /* message nesting in the set's encoding */

int ax__dyn_read_set(struct ax__dyn_ctx *c, const uint8_t *fds, size_t len, FdSet **set)
{
    *set = NULL;
    if (len > MAX_FDS_LEN)
        return AX_EMSGSIZE;
    /* protobuf-c's unpack recurses once per nesting level: a small hostile
     * input nested deeply enough exhausts the stack (a 400 KB set of
     * 100000 nested messages does), so the shape is checked first. */
    if (ax_msg_wire_check(&axon__pbdesc__file_descriptor_set__descriptor, fds, len, MAX_NESTING) !=
        0)
        return ax__dyn_fail(c, AX_EPROTO, "not a FileDescriptorSet (malformed or nested too deep)");
    *set = axon__pbdesc__file_descriptor_set__unpack(NULL, len, fds);
    if (!*set)
        return ax__dyn_fail(c, AX_EPROTO, "not a FileDescriptorSet");
    return ax__dyn_index_set(c, *set);
}

int ax_type_from_fds(const uint8_t *fds, size_t len, const char *full_name, ax_type **out)
{
    if (!fds || !full_name || !out)
        return AX_EINVAL;
    if (len > MAX_FDS_LEN)
        return AX_EMSGSIZE;
    struct ax__dyn_ctx c = {0};
    c.dyn = ax__dyn_new();
    if (!c.dyn)
        return AX_ENOMEM;
    FdSet *set = NULL;
    int rc = ax__dyn_read_set(&c, fds, len, &set);
    struct ax__dyn_entry *root = NULL;
    if (rc == 0) {
        root = ax__dyn_lookup(&c, full_name);
        if (!root || !root->msg)
            rc = ax__dyn_fail(&c, AX_ENOTFOUND, "no message %.128s in the set", full_name);
    }
    if (rc == 0)
        rc = ax__dyn_build_closure(&c, root);
    if (rc == 0) {
        struct ax_type *t = &c.dyn->type;
        t->desc = root->built;
        t->name = t->desc->name;
        t->dyn = c.dyn;
        uint8_t *copy = ax__dyn_alloc(c.dyn, len);
        if (!copy)
            rc = AX_ENOMEM;
        else {
            if (len)
                memcpy(copy, fds, len);
            t->fds = copy;
            t->fds_len = len;
            rc = ax_type_hash_compute(t->desc, &t->hash);
            if (rc == AX_EINVAL)
                rc = ax__dyn_fail(&c, AX_EPROTO, "%s: cannot hash the type", t->name);
        }
    }
    if (set)
        axon__pbdesc__file_descriptor_set__free_unpacked(set, NULL);
    free(c.e);
    if (rc) {
        if (c.why[0])
            AX_LOG_D(AX__TYPES_LOG, "type from FileDescriptorSet: %s", c.why);
        ax__dyn_free(c.dyn);
        return rc;
    }
    *out = &c.dyn->type;
    return 0;
}
