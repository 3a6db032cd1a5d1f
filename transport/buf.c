/*
 * Refcounted payload buffers with per-thread caches.
 *
 * Why per-thread caches rather than one locked pool: buffers are allocated
 * by the publishing thread and released by whichever loop thread wrote them
 * last. A lock-free shared stack has the ABA problem; a mutex costs two
 * lock round trips per message. A small bounded cache per thread and size
 * class needs no synchronisation at all: a buffer released on thread B
 * simply joins B's cache. Caches are bounded, and freed when their thread
 * exits (pthread key destructor), so nothing grows without limit.
 */
#include <pthread.h>
#include <stdlib.h>

#include "axon/common.h"
#include "transport/ax__buf.h"
#include "transport/ax__crc32c.h"

#define NCLASS 5
static const uint32_t class_cap[NCLASS] = {256, 1024, 4096, 16384, 65536};
static const unsigned class_keep[NCLASS] = {256, 128, 64, 32, 16};

struct cache {
    ax_buf *free[NCLASS]; /* singly linked through free_arg */
    unsigned count[NCLASS];
};

static __thread struct cache *tl_cache;
static pthread_key_t cache_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static atomic_ullong stat_mallocs, stat_hits;

static void cache_destroy(void *p)
{
    struct cache *c = p;
    for (int k = 0; k < NCLASS; k++) {
        while (c->free[k]) {
            ax_buf *b = c->free[k];
            c->free[k] = b->free_arg;
            free(b);
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

static void init_buf(ax_buf *b, uint32_t len, uint32_t cap, uint8_t cls)
{
    atomic_init(&b->refs, 1);
    atomic_init(&b->crc_state, 0);
    b->len = len;
    b->cap = cap;
    b->cls = cls;
    atomic_init(&b->payload_crc, 0);
    b->free_fn = NULL;
    b->free_arg = NULL;
    b->data = (uint8_t *)(b + 1) + AX_BUF_HEADROOM;
}

int ax_buf_new(size_t len, ax_buf **out)
{
    if (len > UINT32_MAX - AX_BUF_HEADROOM)
        return AX_EMSGSIZE;
    int k = class_for(len);
    if (k >= 0) {
        struct cache *c = get_cache();
        if (c && c->free[k]) {
            ax_buf *b = c->free[k];
            c->free[k] = b->free_arg;
            c->count[k]--;
            init_buf(b, (uint32_t)len, class_cap[k], (uint8_t)k);
            atomic_fetch_add_explicit(&stat_hits, 1, memory_order_relaxed);
            *out = b;
            return 0;
        }
    }
    uint32_t cap = k >= 0 ? class_cap[k] : (uint32_t)len;
    ax_buf *b = malloc(sizeof *b + AX_BUF_HEADROOM + cap);
    if (!b)
        return AX_ENOMEM;
    atomic_fetch_add_explicit(&stat_mallocs, 1, memory_order_relaxed);
    init_buf(b, (uint32_t)len, cap, k >= 0 ? (uint8_t)k : AX__BUF_NOCLASS);
    *out = b;
    return 0;
}

int ax_buf_wrap(void *data, size_t len, ax_buf_free_fn free_fn, void *arg, ax_buf **out)
{
    if (len > UINT32_MAX || (!data && len))
        return AX_EINVAL;
    ax_buf *b = malloc(sizeof *b);
    if (!b)
        return AX_ENOMEM;
    init_buf(b, (uint32_t)len, (uint32_t)len, AX__BUF_NOCLASS);
    b->data = data;
    b->free_fn = free_fn;
    b->free_arg = arg;
    *out = b;
    return 0;
}

void ax_buf_release(ax_buf *b)
{
    /* acq_rel: the thread that frees must see every write made by threads
     * that released earlier. */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->free_fn) {
        b->free_fn(b->data, b->free_arg);
        free(b);
        return;
    }
    if (b->cls != AX__BUF_NOCLASS) {
        struct cache *c = get_cache();
        if (c && c->count[b->cls] < class_keep[b->cls]) {
            b->free_arg = c->free[b->cls];
            c->free[b->cls] = b;
            c->count[b->cls]++;
            return;
        }
    }
    free(b);
}

uint32_t ax_buf_payload_crc(ax_buf *b)
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

void ax_buf_stats(struct ax_buf_stats *out)
{
    out->mallocs = atomic_load_explicit(&stat_mallocs, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&stat_hits, memory_order_relaxed);
}
