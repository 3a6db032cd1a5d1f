/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgs/dyntype_mem.c: a dynamic type's memory and lifetime.
 *
 * Everything a dynamic type needs (descriptors, names, default values, the
 * copy of its FileDescriptorSet) is allocated here, in an arena owned by
 * the type, so a half-built type on any error path and a finished one at
 * ax_type_free() go away the same way: one walk of the block list. The
 * blocks are zeroed, which the descriptor builders rely on.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msgs/ax__dyntype.h"

/* One block of the arena: one per allocation. A build makes a few
 * allocations per field and type, so blocks of their own cost little and
 * need no size classes. */
struct ax__dyn_chunk {
    struct ax__dyn_chunk *next;
    _Alignas(max_align_t) unsigned char data[];
};

struct ax__dyn *ax__dyn_new(void)
{
    return calloc(1, sizeof(struct ax__dyn));
}

void *ax__dyn_alloc(struct ax__dyn *d, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct ax__dyn_chunk))
        return NULL;
    struct ax__dyn_chunk *ch = calloc(1, sizeof *ch + (n ? n : 1));
    if (!ch)
        return NULL;
    ch->next = d->chunks;
    d->chunks = ch;
    return ch->data;
}

void *ax__dyn_array(struct ax__dyn *d, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return ax__dyn_alloc(d, n * size);
}

char *ax__dyn_strdup(struct ax__dyn *d, const char *s, size_t n)
{
    char *p = ax__dyn_alloc(d, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

void ax__dyn_free(struct ax__dyn *dyn)
{
    if (!dyn)
        return;
    for (struct ax__dyn_chunk *ch = dyn->chunks, *next; ch; ch = next) {
        next = ch->next;
        free(ch);
    }
    free(dyn);
}

/* Only the first failure is kept: it is the one that names the cause. */
int ax__dyn_fail(struct ax__dyn_ctx *c, int rc, const char *fmt, ...)
{
    if (!c->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->why, sizeof c->why, fmt, ap);
        va_end(ap);
    }
    return rc;
}
