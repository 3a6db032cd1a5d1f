/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/ax__types.h: what the registry, dynamic types, the printer and the
 * parser share inside msgs/.
 */
#ifndef AX__TYPES_H
#define AX__TYPES_H

#include "axon/types.h"
#include "msgs/ax__pbc.h" /* ax__pbc_value_size(), ax__pbc_type_name(), ... */

/* Log module name of msgs/. */
#define AX__TYPES_LOG "types"

struct ax__dyn; /* a dynamic type's memory (msgs/ax__dyntype.h) */

struct ax_type {
    const char *name;
    const ProtobufCMessageDescriptor *desc;
    struct ax_type_hash hash;
    const uint8_t *fds;
    size_t fds_len;
    struct ax__dyn *dyn; /* NULL for registered (compiled) types */
};

/* Frees a dynamic type's memory (msgs/dyntype_mem.c). */
void ax__dyn_free(struct ax__dyn *dyn);

/* Address of the member at @offset in message @m. */
#define AX__MEMBER(m, offset)  ((void *)((char *)(m) + (offset)))
#define AX__CMEMBER(m, offset) ((const void *)((const char *)(m) + (offset)))

#endif /* AX__TYPES_H */
