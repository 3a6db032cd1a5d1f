/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Refcounted payload buffers with a magazine allocator.
 *
 * Why: buffers are allocated by the publishing thread and released by the
 * loop thread that wrote them last. Per-thread caches alone fail that
 * pattern (the producer's cache is always empty, the consumer's always
 * full), and a lock per buffer costs two lock round trips per message. So
 * each thread keeps a small cache per size class and trades whole batches
 * of BATCH buffers with a global depot under one mutex: one lock per BATCH
 * messages, and buffers flow back from consumers to producers. Caches are
 * bounded and returned to the depot when their thread exits (pthread key
 * destructor); the depot is bounded too, beyond which buffers are freed.
 *
 * A batch is a magazine, an array of BATCH pointers (Bonwick's design),
 * not a list linked through the buffers: a buffer comes from another
 * core, and walking a list through 32 of them to move a batch cost 32
 * cache misses in a row, one after the other (half the publishing
 * thread's time at 64 B). Moving a magazine touches no buffer, and the
 * next buffer of one is fetched while the current one is filled. Each
 * thread holds two magazines per class (loaded and previous), so that a
 * thread that allocates and frees around a magazine's edge does not go to
 * the depot every time.
 *
 * Buffers above the largest class (point clouds, images) come from malloc,
 * which hands out fresh mmap'd pages for them: an 8 MiB message would cost
 * ~2000 page faults each time. A few of them are kept for reuse instead
 * (at most LARGE_KEEP buffers and LARGE_KEEP_BYTES in all, under a mutex:
 * large messages are few per second), taken when their capacity fits the
 * request within a factor of two.
 */
#include <pthread.h>
#include <stdlib.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

#include "axon/common.h"
#include "transport/ax__buf.h"
#include "transport/ax__crc32c.h"

#define NCLASS 5
#define BATCH  32u
static const uint32_t class_cap[NCLASS] = {256, 1024, 4096, 16384, 65536};
static const unsigned depot_keep[NCLASS] = {8192, 4096, 1024, 256, 64};

/* A magazine: up to BATCH buffers of one class; the depot links them. */
struct mag {
    struct mag *next;
    unsigned n;
    ax__buf *b[BATCH];
};

/* A thread's cache: two magazines per class (never NULL), and the buffers
 * it served since it last added them to stat_hits (no atomic per buffer). */
struct cache {
    struct mag *loaded[NCLASS], *prev[NCLASS];
    uint64_t hits;
};

/* Full magazines waiting for an allocating thread, empty ones for a
 * releasing thread; both bounded (depot_keep buffers, EMPTY_KEEP). */
#define EMPTY_KEEP 64u
static struct {
    pthread_mutex_t lock;
    struct mag *full[NCLASS], *empty[NCLASS];
    unsigned nfull[NCLASS], nempty[NCLASS];
} depot = {.lock = PTHREAD_MUTEX_INITIALIZER};

#define LARGE_KEEP       8
#define LARGE_KEEP_BYTES (128u << 20)

static struct {
    pthread_mutex_t lock;
    ax__buf *b[LARGE_KEEP];
    unsigned n;
    uint64_t bytes;
} large = {.lock = PTHREAD_MUTEX_INITIALIZER};

static ax__buf *large_take(size_t len)
{
    ax__buf *best = NULL;
    unsigned at = 0;
    pthread_mutex_lock(&large.lock);
    for (unsigned i = 0; i < large.n; i++) {
        ax__buf *b = large.b[i];
        if (b->cap >= len && b->cap / 2 <= len && (!best || b->cap < best->cap)) {
            best = b;
            at = i;
        }
    }
    if (best) {
        large.b[at] = large.b[--large.n];
        large.bytes -= best->cap;
    }
    pthread_mutex_unlock(&large.lock);
    return best;
}

static bool large_keep(ax__buf *b)
{
    bool kept = false;
    pthread_mutex_lock(&large.lock);
    if (large.n < LARGE_KEEP && large.bytes + b->cap <= LARGE_KEEP_BYTES) {
        large.b[large.n++] = b;
        large.bytes += b->cap;
        kept = true;
    }
    pthread_mutex_unlock(&large.lock);
    return kept;
}

#if defined(__x86_64__) && defined(__GNUC__)
bool ax__cpu_prefetchw;

/* CPUID leaf 0x80000001, ECX bit 8: PREFETCHW (ax__prefetch_write()). */
__attribute__((constructor)) static void detect_prefetchw(void)
{
    unsigned a, b, c, d;
    ax__cpu_prefetchw = __get_cpuid(0x80000001u, &a, &b, &c, &d) && (c & (1u << 8));
}
#endif

static __thread struct cache *tl_cache;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static atomic_ullong stat_mallocs, stat_hits;

static void flush_hits(struct cache *c)
{
    if (c->hits) {
        atomic_fetch_add_explicit(&stat_hits, c->hits, memory_order_relaxed);
        c->hits = 0;
    }
}

/* Depot, under its lock: take a full magazine or an empty one (NULL when
 * none), keep one (false when it is at its bound: the caller disposes). */
static struct mag *depot_take(struct mag **list, unsigned *n)
{
    struct mag *m = *list;
    if (m) {
        *list = m->next;
        (*n)--;
    }
    return m;
}

static bool depot_keep_mag(struct mag **list, unsigned *n, unsigned max, struct mag *m)
{
    if (*n >= max)
        return false;
    m->next = *list;
    *list = m;
    (*n)++;
    return true;
}

static void free_bufs(struct mag *m)
{
    while (m->n > 0)
        free(m->b[--m->n]);
}

/* An empty magazine goes back to the depot, or to free() beyond its bound. */
static void give_empty(int k, struct mag *m)
{
    pthread_mutex_lock(&depot.lock);
    bool kept = depot_keep_mag(&depot.empty[k], &depot.nempty[k], EMPTY_KEEP, m);
    pthread_mutex_unlock(&depot.lock);
    if (!kept)
        free(m);
}

/* A magazine with buffers goes back to the depot, or its buffers and it
 * to free() beyond the depot's bound. */
static void give_full(int k, struct mag *m)
{
    pthread_mutex_lock(&depot.lock);
    bool kept = depot_keep_mag(&depot.full[k], &depot.nfull[k], depot_keep[k] / BATCH, m);
    pthread_mutex_unlock(&depot.lock);
    if (!kept) {
        free_bufs(m);
        give_empty(k, m);
    }
}

/* A thread's cache goes back to the depot (or to free) when it exits. */
static void cache_destroy(void *p)
{
    struct cache *c = p;
    tl_cache = NULL; /* a later release on this thread (another key's destructor) starts anew */
    flush_hits(c);
    for (int k = 0; k < NCLASS; k++) {
        struct mag *two[2] = {c->loaded[k], c->prev[k]};
        for (int i = 0; i < 2; i++) {
            if (two[i] && two[i]->n)
                give_full(k, two[i]);
            else if (two[i])
                give_empty(k, two[i]);
        }
    }
    free(c);
}

static void make_key(void)
{
    pthread_key_create(&cache_key, cache_destroy);
}

static struct cache *get_cache(void)
{
    if (tl_cache)
        return tl_cache;
    pthread_once(&key_once, make_key);
    struct cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    bool ok = true;
    for (int k = 0; k < NCLASS && ok; k++) {
        c->loaded[k] = calloc(1, sizeof(struct mag));
        c->prev[k] = calloc(1, sizeof(struct mag));
        ok = c->loaded[k] && c->prev[k];
    }
    if (!ok || pthread_setspecific(cache_key, c) != 0) {
        for (int k = 0; k < NCLASS; k++) {
            free(c->loaded[k]);
            free(c->prev[k]);
        }
        free(c);
        return NULL;
    }
    tl_cache = c;
    return c;
}

/* The buffers in a magazine were released last by another thread (the
 * loop that wrote them): their lines are in that thread's core. The next
 * one is fetched while this one is filled: the header's two lines and the
 * start of the payload, what a small message touches. */
static void prefetch_buf(const ax__buf *n)
{
    const char *h = (const char *)n;
    ax__prefetch_write(h);
    ax__prefetch_write(h + 64);
    ax__prefetch_write(h + sizeof *n + AX__BUF_HEADROOM);
    ax__prefetch_write(h + sizeof *n + AX__BUF_HEADROOM + 64);
}

/* A buffer of class @k from @c, or NULL (then from malloc). */
static ax__buf *cache_take(struct cache *c, int k)
{
    struct mag *m = c->loaded[k];
    if (m->n == 0) {
        struct mag *p = c->prev[k];
        if (p->n > 0) {
            c->prev[k] = m;
            c->loaded[k] = m = p;
        } else { /* both empty: an empty one for a full one from the depot */
            flush_hits(c);
            pthread_mutex_lock(&depot.lock);
            struct mag *f = depot_take(&depot.full[k], &depot.nfull[k]);
            bool kept = f && depot_keep_mag(&depot.empty[k], &depot.nempty[k], EMPTY_KEEP, m);
            pthread_mutex_unlock(&depot.lock);
            if (!f)
                return NULL;
            if (!kept)
                free(m);
            c->loaded[k] = m = f;
        }
    }
    ax__buf *b = m->b[--m->n];
    if (m->n)
        prefetch_buf(m->b[m->n - 1]);
    c->hits++;
    return b;
}

/* Keep @b (class @k) in @c; false when no magazine could be had (the
 * caller frees it). */
static bool cache_put(struct cache *c, int k, ax__buf *b)
{
    struct mag *m = c->loaded[k];
    if (m->n == BATCH) {
        struct mag *p = c->prev[k];
        if (p->n == 0) {
            c->prev[k] = m;
            c->loaded[k] = m = p;
        } else { /* both full: the previous to the depot, an empty one here */
            pthread_mutex_lock(&depot.lock);
            struct mag *e = depot_take(&depot.empty[k], &depot.nempty[k]);
            pthread_mutex_unlock(&depot.lock);
            if (!e && !(e = calloc(1, sizeof *e)))
                return false;
            give_full(k, p);
            c->prev[k] = m;
            c->loaded[k] = m = e;
        }
    }
    m->b[m->n++] = b;
    return true;
}

static int class_for(size_t len)
{
    for (int k = 0; k < NCLASS; k++)
        if (len <= class_cap[k])
            return k;
    return -1;
}

static void init_buf(ax__buf *b, uint32_t len, uint32_t cap, uint8_t cls)
{
    atomic_init(&b->refs, 1);
    atomic_init(&b->crc_state, 0);
    b->len = len;
    b->cap = cap;
    b->cls = cls;
    atomic_init(&b->payload_crc, 0);
    b->free_fn = NULL;
    b->free_arg = NULL;
    b->data = (uint8_t *)(b + 1) + AX__BUF_HEADROOM;
    atomic_init(&b->qnode.next, NULL);
    b->qctx = NULL;
}

int ax__buf_new(size_t len, ax__buf **out)
{
    if (len > UINT32_MAX - AX__BUF_HEADROOM)
        return AX_EMSGSIZE;
    int k = class_for(len);
    if (k >= 0) {
        struct cache *c = get_cache();
        ax__buf *b = c ? cache_take(c, k) : NULL;
        if (b) {
            init_buf(b, (uint32_t)len, class_cap[k], (uint8_t)k);
            *out = b;
            return 0;
        }
    }
    if (k < 0) {
        ax__buf *b = large_take(len);
        if (b) {
            init_buf(b, (uint32_t)len, b->cap, AX__BUF_LARGE);
            atomic_fetch_add_explicit(&stat_hits, 1, memory_order_relaxed);
            *out = b;
            return 0;
        }
    }
    uint32_t cap = k >= 0 ? class_cap[k] : (uint32_t)len;
    ax__buf *b = malloc(sizeof *b + AX__BUF_HEADROOM + cap);
    if (!b)
        return AX_ENOMEM;
    atomic_fetch_add_explicit(&stat_mallocs, 1, memory_order_relaxed);
    init_buf(b, (uint32_t)len, cap, k >= 0 ? (uint8_t)k : AX__BUF_LARGE);
    *out = b;
    return 0;
}

int ax__buf_wrap(void *data, size_t len, ax__buf_free_fn free_fn, void *arg, ax__buf **out)
{
    if (len > UINT32_MAX || (!data && len))
        return AX_EINVAL;
    ax__buf *b = malloc(sizeof *b);
    if (!b)
        return AX_ENOMEM;
    init_buf(b, (uint32_t)len, (uint32_t)len, AX__BUF_NOCLASS);
    b->data = data;
    b->free_fn = free_fn;
    b->free_arg = arg;
    *out = b;
    return 0;
}

void ax__buf_init_embedded(ax__buf *b, void *data, size_t len, ax__buf_free_fn free_fn, void *arg)
{
    init_buf(b, (uint32_t)len, (uint32_t)len, AX__BUF_EMBEDDED);
    b->data = data;
    b->free_fn = free_fn;
    b->free_arg = arg;
}

void ax__buf_release(ax__buf *b)
{
    /* acq_rel: the thread that frees must see every write made by threads
     * that released earlier. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->cls == AX__BUF_EMBEDDED) { /* the header is its owner's to reuse */
        b->free_fn(b->data, b->free_arg);
        return;
    }
    if (b->free_fn) {
        b->free_fn(b->data, b->free_arg);
        free(b);
        return;
    }
    if (b->cls == AX__BUF_LARGE) {
        if (!large_keep(b))
            free(b);
        return;
    }
    if (b->cls != AX__BUF_NOCLASS) {
        struct cache *c = get_cache();
        if (c && cache_put(c, b->cls, b))
            return;
    }
    free(b);
}

uint32_t ax__buf_payload_crc(ax__buf *b)
{
    if (atomic_load_explicit(&b->crc_state, memory_order_acquire))
        return atomic_load_explicit(&b->payload_crc, memory_order_relaxed);
    /* Two threads may both compute it; they store the same value, and the
     * release store of crc_state publishes it. */
    uint32_t crc = ax__crc32c(0, b->data, b->len);
    atomic_store_explicit(&b->payload_crc, crc, memory_order_relaxed);
    atomic_store_explicit(&b->crc_state, 1, memory_order_release);
    return crc;
}

void ax__buf_stats(struct ax__buf_stats *out)
{
    if (tl_cache) /* this thread's own count is exact; others' lag by a magazine */
        flush_hits(tl_cache);
    out->mallocs = atomic_load_explicit(&stat_mallocs, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&stat_hits, memory_order_relaxed);
}
