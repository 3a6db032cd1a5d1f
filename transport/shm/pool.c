/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A publisher's pool of shared-memory chunks.
 *
 * Chunk sizes come in classes (min_chunk, 4x, 16x, ... up to max_chunk);
 * each class has segments, one memfd each, of `segment` bytes (a segment
 * of large chunks holds one). Segments are made on demand, while the
 * pool's budget allows, and kept until the pool closes: a steady stream
 * reuses the same chunks, which stay mapped in every subscriber.
 *
 * A segment is sealed as soon as the publisher's writable mapping exists:
 * F_SEAL_SHRINK and F_SEAL_GROW (a subscriber's mapping can never lose its
 * pages under it), F_SEAL_FUTURE_WRITE (nobody else maps it writable or
 * writes it, the publisher's mapping excepted) and F_SEAL_SEAL.
 *
 * Threads: loans come from any thread (a publishing application's) and
 * chunks come back on whichever thread drops the last reference (a loop
 * that sent them, a subscriber view's release), so one mutex guards the
 * free lists. It is held for a pop or a push only; making a segment
 * (memfd, ftruncate, mmap with its pages) happens outside it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/ax__array.h"
#include "transport/shm/ax__shm.h"

#define MAX_CLASSES 12

struct ax__shm_pool {
    ax__pool base; /* first */
    struct ax__pool_options opt;
    pthread_mutex_t lock;
    size_t nclasses;
    size_t class_size[MAX_CLASSES];
    struct {
        struct ax__shm_seg **segs;
        size_t nsegs, cap;
        struct ax__shm_chunk *free;
    } cls[MAX_CLASSES];
    uint64_t mapped; /* bytes of all segments */
    uint64_t out, loans, exhausted;
    bool closed;
};

static atomic_uint next_seg_id = 1;

static void chunk_back(void *data, void *arg);

bool ax__shm_is_chunk(const ax__buf *b)
{
    return b->cls == AX__BUF_EMBEDDED && b->free_fn == chunk_back;
}

static void seg_free(struct ax__shm_seg *s)
{
    if (s->base)
        munmap(s->base, s->size);
    if (s->fd >= 0)
        close(s->fd);
    free(s->chunks);
    free(s);
}

static void pool_destroy(struct ax__shm_pool *p)
{
    for (size_t k = 0; k < p->nclasses; k++) {
        for (size_t i = 0; i < p->cls[k].nsegs; i++)
            seg_free(p->cls[k].segs[i]);
        free(p->cls[k].segs);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* A new segment of class @k: a sealed memfd, mapped writable here. */
static int seg_new(struct ax__shm_pool *p, size_t k, struct ax__shm_seg **out)
{
    size_t chunk = p->class_size[k];
    size_t size = chunk >= p->opt.segment ? chunk : p->opt.segment / chunk * chunk;
    struct ax__shm_seg *s = calloc(1, sizeof *s);
    if (!s)
        return AX_ENOMEM;
    s->fd = -1;
    s->size = size;
    s->chunk_size = chunk;
    s->nchunks = (uint32_t)(size / chunk);
    s->id = atomic_fetch_add(&next_seg_id, 1);
    s->chunks = calloc(s->nchunks, sizeof *s->chunks);
    int rc = AX_ENOMEM;
    if (!s->chunks)
        goto fail;
    char name[32];
    snprintf(name, sizeof name, "axon-seg-%u", s->id);
    s->fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (s->fd < 0 || ftruncate(s->fd, (off_t)size) < 0)
        goto fail_errno;
    /* Populated now, while the pool grows: otherwise the publisher's first
     * write of every page faults inside its publishing loop (a 1 MiB chunk
     * is 256 faults), which at 1 MiB took a sixth of its time. */
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, s->fd, 0);
    if (m == MAP_FAILED)
        goto fail_errno;
    s->base = m;
    /* Our mapping exists: from here on nobody maps it writable or resizes
     * it. A kernel without F_SEAL_FUTURE_WRITE (before 5.1) refuses the
     * lot, and so does this pool: subscribers would be able to write. */
    if (fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) <
        0)
        goto fail_errno;
    for (uint32_t i = 0; i < s->nchunks; i++) {
        s->chunks[i].seg = s;
        s->chunks[i].pool = p;
        s->chunks[i].index = i;
    }
    *out = s;
    return 0;
fail_errno:
    rc = ax_err_from_errno(errno);
fail:
    seg_free(s);
    return rc;
}

static int pool_loan(ax__pool *base, size_t len, ax__buf **out)
{
    struct ax__shm_pool *p = (struct ax__shm_pool *)base;
    if (len > p->opt.max_chunk)
        return AX_EMSGSIZE;
    size_t k = 0;
    while (k + 1 < p->nclasses && p->class_size[k] < len)
        k++;
    pthread_mutex_lock(&p->lock);
    struct ax__shm_chunk *c = p->cls[k].free;
    if (c) {
        p->cls[k].free = c->next_free;
        p->out++;
        p->loans++;
    }
    size_t segsize = p->class_size[k] >= p->opt.segment
                         ? p->class_size[k]
                         : p->opt.segment / p->class_size[k] * p->class_size[k];
    bool room = p->mapped + segsize <= p->opt.budget;
    if (!c && !room)
        p->exhausted++;
    if (!c && room)
        p->mapped += segsize; /* reserved now, so two threads cannot both pass */
    pthread_mutex_unlock(&p->lock);
    if (!c && !room)
        return AX_ENOBUFS;
    if (!c) {
        struct ax__shm_seg *s = NULL;
        int rc = seg_new(p, k, &s);
        pthread_mutex_lock(&p->lock);
        if (rc == 0)
            rc = ax__array_reserve(&p->cls[k].segs, &p->cls[k].cap, p->cls[k].nsegs + 1, 4);
        if (rc < 0) {
            p->mapped -= segsize;
            pthread_mutex_unlock(&p->lock);
            if (s)
                seg_free(s);
            return rc;
        }
        p->cls[k].segs[p->cls[k].nsegs++] = s;
        /* The first chunk is ours; the rest go on the free list. */
        for (uint32_t i = s->nchunks; i-- > 1;) {
            s->chunks[i].next_free = p->cls[k].free;
            p->cls[k].free = &s->chunks[i];
        }
        c = &s->chunks[0];
        p->out++;
        p->loans++;
        pthread_mutex_unlock(&p->lock);
    }
    ax__buf_init_embedded(&c->buf, c->seg->base + (size_t)c->index * c->seg->chunk_size, len,
                          chunk_back, c);
    *out = &c->buf;
    return 0;
}

/* The last reference to a chunk went (any thread). */
static void chunk_back(void *data, void *arg)
{
    struct ax__shm_chunk *c = arg;
    struct ax__shm_pool *p = c->pool;
    (void)data;
    size_t k = 0;
    while (p->class_size[k] != c->seg->chunk_size)
        k++;
    pthread_mutex_lock(&p->lock);
    c->next_free = p->cls[k].free;
    p->cls[k].free = c;
    bool last = --p->out == 0 && p->closed;
    pthread_mutex_unlock(&p->lock);
    if (last)
        pool_destroy(p);
}

static void pool_stats(ax__pool *base, struct ax__pool_stats *out)
{
    struct ax__shm_pool *p = (struct ax__shm_pool *)base;
    pthread_mutex_lock(&p->lock);
    out->mapped = p->mapped;
    out->out = p->out;
    out->loans = p->loans;
    out->exhausted = p->exhausted;
    pthread_mutex_unlock(&p->lock);
}

static void pool_close(ax__pool *base)
{
    struct ax__shm_pool *p = (struct ax__shm_pool *)base;
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    bool idle = p->out == 0;
    pthread_mutex_unlock(&p->lock);
    if (idle)
        pool_destroy(p);
}

static const struct ax__pool_ops pool_ops = {
    .loan = pool_loan,
    .stats = pool_stats,
    .close = pool_close,
};

int ax__shm_pool_new(const struct ax__pool_options *opt, ax__pool **out)
{
    if (!opt || !out || opt->min_chunk == 0 || opt->max_chunk < opt->min_chunk ||
        opt->segment == 0 || opt->budget == 0)
        return AX_EINVAL;
    struct ax__shm_pool *p = calloc(1, sizeof *p);
    if (!p)
        return AX_ENOMEM;
    p->base.ops = &pool_ops;
    p->opt = *opt;
    pthread_mutex_init(&p->lock, NULL);
    /* Classes: min_chunk, 4x, 16x, ..., the last one max_chunk. */
    size_t sz = opt->min_chunk;
    while (p->nclasses < MAX_CLASSES - 1 && sz < opt->max_chunk) {
        p->class_size[p->nclasses++] = sz;
        sz = sz > opt->max_chunk / 4 ? opt->max_chunk : sz * 4;
    }
    p->class_size[p->nclasses++] = opt->max_chunk;
    *out = &p->base;
    return 0;
}
