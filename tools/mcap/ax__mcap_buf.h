/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the MCAP writer's files: a growing byte buffer records are
 * serialized into (little-endian, as MCAP is). Inline, because the writer
 * appends every field of every message through it.
 */
#ifndef AX__MCAP_BUF_H
#define AX__MCAP_BUF_H

#include "ax__mcap.h"
#include "base/ax__array.h"

struct ax__mcap_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Make room for @extra more bytes (doubling from 4 KiB); 0 or AX_ENOMEM
 * with nothing changed. */
static inline int ax__mcap_buf_reserve(struct ax__mcap_buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return AX_ENOMEM;
    return ax__array_reserve(&b->p, &b->cap, b->len + extra, 4096);
}

/* Append helpers; the caller reserved the room. */
static inline uint8_t *ax__mcap_buf_tail(struct ax__mcap_buf *b, size_t n)
{
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

static inline void ax__mcap_buf_u8(struct ax__mcap_buf *b, uint8_t v)
{
    *ax__mcap_buf_tail(b, 1) = v;
}

static inline void ax__mcap_buf_u16(struct ax__mcap_buf *b, uint16_t v)
{
    ax__put_u16(ax__mcap_buf_tail(b, 2), v);
}

static inline void ax__mcap_buf_u32(struct ax__mcap_buf *b, uint32_t v)
{
    ax__put_u32(ax__mcap_buf_tail(b, 4), v);
}

static inline void ax__mcap_buf_u64(struct ax__mcap_buf *b, uint64_t v)
{
    ax__put_u64(ax__mcap_buf_tail(b, 8), v);
}

static inline void ax__mcap_buf_mem(struct ax__mcap_buf *b, const void *p, size_t n)
{
    if (n)
        memcpy(ax__mcap_buf_tail(b, n), p, n);
}

static inline void ax__mcap_buf_str(struct ax__mcap_buf *b, const char *s, size_t n)
{
    ax__mcap_buf_u32(b, (uint32_t)n);
    ax__mcap_buf_mem(b, s, n);
}

/* Opens a record; returns the offset of its length field for ax__mcap_rec_end(). */
static inline size_t ax__mcap_rec_begin(struct ax__mcap_buf *b, uint8_t op)
{
    ax__mcap_buf_u8(b, op);
    size_t at = b->len;
    ax__mcap_buf_u64(b, 0);
    return at;
}

static inline void ax__mcap_rec_end(struct ax__mcap_buf *b, size_t at)
{
    ax__put_u64(b->p + at, (uint64_t)(b->len - at - 8));
}

#endif /* AX__MCAP_BUF_H */
