/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: refcounted payload buffers.
 *
 * One ax__buf holds one message's payload, with AX__BUF_HEADROOM bytes in
 * front of it. A message serialized once is queued on N connections by
 * taking N references; the last release frees it (or returns it to a pool).
 * Small buffers come from per-size-class, per-thread caches, so the steady
 * state does not call malloc per message.
 *
 * Thread rules: hold/release are atomic and may happen on any thread. The
 * payload must not be written once the buffer is shared.
 */
#ifndef AX__BUF_H
#define AX__BUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ax__mpsc.h"

#define AX__BUF_HEADROOM 64u

typedef struct ax__buf ax__buf;
typedef void (*ax__buf_free_fn)(void *data, void *arg);

struct ax__buf {
    atomic_uint refs;
    uint32_t len;            /* payload bytes */
    uint32_t cap;            /* payload capacity */
    uint8_t cls;             /* pool size class, AX__BUF_NOCLASS when malloc'd or external */
    atomic_uint crc_state;   /* 0: not computed, 1: payload_crc valid */
    atomic_uint payload_crc; /* CRC32C of the payload, cached for all connections */
    ax__buf_free_fn free_fn; /* external memory: called with (data, free_arg) */
    void *free_arg;
    uint8_t *data; /* payload start (inline: after the headroom) */
    /* For whoever queues the buffer (the publish queue): a link and the
     * message's metadata. */
    struct ax__mpsc_node qnode; /* on a publish queue */
    void *qctx;
    uint64_t qseq;
    int64_t qts;
};

#define AX__BUF_NOCLASS  0xffu /* wrapped caller memory */
#define AX__BUF_LARGE    0xfeu /* above the largest class: malloc, a few kept for reuse */
#define AX__BUF_EMBEDDED 0xfdu /* header in its owner's storage (a pool's chunk, a view) */

/* A buffer with room for @len payload bytes (len = @len, contents
 * undefined) and one reference. AX_ENOMEM, or AX_EMSGSIZE above 4 GiB - 1. */
int ax__buf_new(size_t len, ax__buf **out);

/* A buffer referring to caller memory (zero copy): @free_fn(@data, @arg) is
 * called when the last reference goes; NULL @free_fn means the memory is
 * borrowed and outlives the buffer. No headroom. */
int ax__buf_wrap(void *data, size_t len, ax__buf_free_fn free_fn, void *arg, ax__buf **out);

/* A buffer whose header @b is the caller's storage (a pool keeps one per
 * chunk): one reference, @len bytes at @data. When the last reference
 * goes, @free_fn(@data, @arg) is called (on that thread) and @b is not
 * freed: the owner may initialise it again. @free_fn is required. */
void ax__buf_init_embedded(ax__buf *b, void *data, size_t len, ax__buf_free_fn free_fn, void *arg);

/* Fetch the cache line at @p to be written soon, taken exclusive (a plain
 * prefetch takes it shared, and the write, often a locked one, then waits
 * for the other core all the same). x86-64: PREFETCHW where CPUID says the
 * CPU has it (compilers emit it only with -mprfchw, so it is an asm
 * statement; buf.c looks once, at load), else a plain prefetch; elsewhere
 * the compiler's write prefetch (PRFM PSTL1KEEP on aarch64). Never faults:
 * @p may point anywhere. */
#if defined(__x86_64__) && defined(__GNUC__)
extern bool ax__cpu_prefetchw;
#endif
static inline void ax__prefetch_write(const void *p)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (ax__cpu_prefetchw)
        __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
    else
        __builtin_prefetch(p, 1);
#else
    __builtin_prefetch(p, 1);
#endif
}

static inline void ax__buf_hold(ax__buf *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void ax__buf_release(ax__buf *b);

/* CRC32C of the payload, computed once and cached (any thread). */
uint32_t ax__buf_payload_crc(ax__buf *b);

/* Counters for tests: buffers obtained from malloc and from the caches.
 * The calling thread's cache hits are exact; another thread's are added
 * when it next trades a magazine with the depot, or when it exits. */
struct ax__buf_stats {
    uint64_t mallocs;
    uint64_t cache_hits;
};
void ax__buf_stats(struct ax__buf_stats *out);

#endif /* AX__BUF_H */
