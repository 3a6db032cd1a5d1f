/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/registry.c: the process-wide type registry, and ax_msg_init().
 *
 * A sorted array of pointers to ax_type, behind one mutex. Entries are never
 * removed, so the pointers lookups hand out stay valid for the life of the
 * process. axon's standard messages are registered by libaxon_msgs when
 * it loads (msgs/std/msgs.c): the registry itself knows no types.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "base/ax__array.h"
#include "msgs/ax__types.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ax_type **types; /* sorted by name */
static size_t n_types, cap_types;

/* Index of the first entry whose name is >= @name. */
static size_t lower_bound(const char *name)
{
    size_t lo = 0, hi = n_types;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(types[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int register_locked(const ProtobufCMessageDescriptor *desc, const uint8_t *fds,
                           size_t fds_len)
{
    struct ax_type_hash h;
    int rc = ax_type_hash_compute(desc, &h);
    if (rc)
        return rc;
    size_t i = lower_bound(desc->name);
    if (i < n_types && strcmp(types[i]->name, desc->name) == 0) {
        if (types[i]->desc == desc || ax_type_hash_equal(&types[i]->hash, &h))
            return 0;
        char a[AX_TYPE_HASH_SHORTLEN], b[AX_TYPE_HASH_SHORTLEN];
        ax_type_hash_short(&types[i]->hash, a);
        ax_type_hash_short(&h, b);
        AX_LOG_W(AX__TYPES_LOG, "type %s registered twice with different schemas (%s, then %s)",
                 desc->name, a, b);
        return AX_EEXIST;
    }
    if (ax__array_reserve(&types, &cap_types, n_types + 1, 64) < 0)
        return AX_ENOMEM;
    ax_type *t = calloc(1, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    t->name = desc->name;
    t->desc = desc;
    t->hash = h;
    t->fds = fds;
    t->fds_len = fds ? fds_len : 0;
    memmove(&types[i + 1], &types[i], (n_types - i) * sizeof *types);
    types[i] = t;
    n_types++;
    return 0;
}

static int register_set_locked(const struct ax_type_set *set)
{
    for (size_t f = 0; f < set->n_files; f++) {
        const struct ax_type_file *file = &set->files[f];
        for (size_t m = 0; m < file->n_messages; m++) {
            int rc = register_locked(file->messages[m], file->fds, file->fds_len);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int ax_type_register(const ProtobufCMessageDescriptor *desc, const uint8_t *fds, size_t fds_len)
{
    if (!desc || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return AX_EINVAL;
    pthread_mutex_lock(&lock);
    int rc = register_locked(desc, fds, fds_len);
    pthread_mutex_unlock(&lock);
    return rc;
}

int ax_type_register_set(const struct ax_type_set *set)
{
    if (!set || (set->n_files && !set->files))
        return AX_EINVAL;
    pthread_mutex_lock(&lock);
    int rc = register_set_locked(set);
    pthread_mutex_unlock(&lock);
    return rc;
}

int ax_type_find(const char *full_name, const ax_type **out)
{
    if (!full_name || !out)
        return AX_EINVAL;
    pthread_mutex_lock(&lock);
    size_t i = lower_bound(full_name);
    int rc = AX_ENOTFOUND;
    if (i < n_types && strcmp(types[i]->name, full_name) == 0) {
        *out = types[i];
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int ax_type_find_descriptor(const ProtobufCMessageDescriptor *desc, const ax_type **out)
{
    if (!desc || !out || !desc->name)
        return AX_EINVAL;
    const ax_type *t;
    int rc = ax_type_find(desc->name, &t);
    if (rc == 0 && t->desc != desc)
        rc = AX_ENOTFOUND;
    if (rc == 0)
        *out = t;
    return rc;
}

int ax_type_foreach(ax_type_foreach_fn fn, void *user)
{
    if (!fn)
        return AX_EINVAL;
    pthread_mutex_lock(&lock);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_types; i++)
        rc = fn(types[i], user);
    pthread_mutex_unlock(&lock);
    return rc;
}

const char *ax_type_name(const ax_type *type)
{
    return type->name;
}

const ProtobufCMessageDescriptor *ax_type_descriptor(const ax_type *type)
{
    return type->desc;
}

const struct ax_type_hash *ax_type_hash(const ax_type *type)
{
    return &type->hash;
}

int ax_type_fds(const ax_type *type, const uint8_t **data, size_t *len)
{
    if (!type || !data || !len)
        return AX_EINVAL;
    if (!type->fds)
        return AX_ENOTFOUND;
    *data = type->fds;
    *len = type->fds_len;
    return 0;
}

void ax_type_free(ax_type *type)
{
    if (!type || !type->dyn)
        return; /* registered types live as long as the process */
    ax__dyn_free(type->dyn);
}

/* What protobuf-c's own (internal) generic init does when it unpacks: zero,
 * descriptor, then each non-repeated field's default value. */
void ax_msg_init(const ProtobufCMessageDescriptor *desc, void *mem)
{
    memset(mem, 0, desc->sizeof_message);
    ((ProtobufCMessage *)mem)->descriptor = desc;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!f->default_value || f->label == PROTOBUF_C_LABEL_REPEATED)
            continue;
        /* A oneof has one slot for all members: leave it zero (no member
         * set), as generated init macros do. */
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            continue;
        void *p = AX__MEMBER(mem, f->offset);
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            *(const void **)p = f->default_value;
        else
            memcpy(p, f->default_value, ax__pbc_value_size(f->type));
    }
}
