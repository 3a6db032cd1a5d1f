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
 * Buffers above the largest class (point clouds, images) come from malloc,
 * which hands out fresh mmap'd pages for them: an 8 MiB message would cost
 * ~2000 page faults each time. A few of them are kept for reuse instead
 * (at most LARGE_KEEP buffers and LARGE_KEEP_BYTES in all, under a mutex:
 * large messages are few per second), taken when their capacity fits the
 * request within a factor of two.
 */
#include <pthread.h>
#include <stdlib.h>

#include "axon/common.h"
#include "transport/ax__buf.h"
#include "transport/ax__crc32c.h"

#define NCLASS 5
#define BATCH  32u
static const uint32_t class_cap[NCLASS] = {256, 1024, 4096, 16384, 65536};
static const unsigned depot_keep[NCLASS] = {8192, 4096, 1024, 256, 64};

/* Singly linked through free_arg, with a count. */
struct stack {
    ax__buf *top;
    unsigned n;
};

struct cache {
    struct stack s[NCLASS];
};

static struct {
    pthread_mutex_t lock;
    struct stack s[NCLASS];
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

static __thread struct cache *tl_cache;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static atomic_ullong stat_mallocs, stat_hits;

static void push(struct stack *st, ax__buf *b)
{
    b->free_arg = st->top;
    st->top = b;
    st->n++;
}

static ax__buf *pop(struct stack *st)
{
    ax__buf *b = st->top;
    if (b) {
        st->top = b->free_arg;
        st->n--;
    }
    return b;
}

/* Move up to @n buffers from @from to @to. */
static void move(struct stack *from, struct stack *to, unsigned n)
{
    while (n-- > 0 && from->top)
        push(to, pop(from));
}

/* A thread's cache goes back to the depot (or to free) when it exits. */
static void cache_destroy(void *p)
{
    struct cache *c = p;
    pthread_mutex_lock(&depot.lock);
    for (int k = 0; k < NCLASS; k++) {
        unsigned room = depot.s[k].n < depot_keep[k] ? depot_keep[k] - depot.s[k].n : 0;
        move(&c->s[k], &depot.s[k], room);
    }
    pthread_mutex_unlock(&depot.lock);
    for (int k = 0; k < NCLASS; k++) {
        ax__buf *b;
        while ((b = pop(&c->s[k])) != NULL)
            free(b);
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
    if (pthread_setspecific(cache_key, c) != 0) {
        free(c);
        return NULL;
    }
    tl_cache = c;
    return c;
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
        if (c && !c->s[k].top) { /* refill a batch from the depot */
            pthread_mutex_lock(&depot.lock);
            move(&depot.s[k], &c->s[k], BATCH);
            pthread_mutex_unlock(&depot.lock);
        }
        ax__buf *b = c ? pop(&c->s[k]) : NULL;
        if (b) {
            init_buf(b, (uint32_t)len, class_cap[k], (uint8_t)k);
            atomic_fetch_add_explicit(&stat_hits, 1, memory_order_relaxed);
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
        if (c) {
            struct stack *st = &c->s[b->cls];
            push(st, b);
            if (st->n >= 2 * BATCH) { /* return a batch to the depot */
                struct stack spill = {0};
                move(st, &spill, BATCH);
                pthread_mutex_lock(&depot.lock);
                unsigned room = depot.s[b->cls].n < depot_keep[b->cls]
                                    ? depot_keep[b->cls] - depot.s[b->cls].n
                                    : 0;
                move(&spill, &depot.s[b->cls], room);
                pthread_mutex_unlock(&depot.lock);
                ax__buf *x;
                while ((x = pop(&spill)) != NULL)
                    free(x);
            }
            return;
        }
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
    out->mallocs = atomic_load_explicit(&stat_mallocs, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&stat_hits, memory_order_relaxed);
}
