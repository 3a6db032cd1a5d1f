/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to tools/mcap: record opcodes, little-endian helpers, a bounded
 * parse cursor and the errno map shared by the writer and the reader.
 */
#ifndef AX__MCAP_H
#define AX__MCAP_H

#include <string.h>

#include "mcap.h"

/* The magic that opens and closes every MCAP file (major version '0'). */
#define AX__MCAP_MAGIC     "\x89MCAP0\r\n"
#define AX__MCAP_MAGIC_LEN 8

/* Record opcodes (MCAP specification, "Records"). */
enum {
    AX__OP_HEADER = 0x01,
    AX__OP_FOOTER = 0x02,
    AX__OP_SCHEMA = 0x03,
    AX__OP_CHANNEL = 0x04,
    AX__OP_MESSAGE = 0x05,
    AX__OP_CHUNK = 0x06,
    AX__OP_MESSAGE_INDEX = 0x07,
    AX__OP_CHUNK_INDEX = 0x08,
    AX__OP_ATTACHMENT = 0x09,
    AX__OP_ATTACHMENT_INDEX = 0x0A,
    AX__OP_STATISTICS = 0x0B,
    AX__OP_METADATA = 0x0C,
    AX__OP_METADATA_INDEX = 0x0D,
    AX__OP_SUMMARY_OFFSET = 0x0E,
    AX__OP_DATA_END = 0x0F
};

/* Opcode + uint64 content length. */
#define AX__MCAP_RECORD_HEADER  9u
/* Footer content: summary_start, summary_offset_start, summary_crc. */
#define AX__MCAP_FOOTER_CONTENT 20u
/* Message content before its data: channel_id, sequence, log and publish time. */
#define AX__MCAP_MESSAGE_FIXED  22u

static inline void ax__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void ax__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ax__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t ax__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t ax__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t ax__get_u64(const uint8_t *p)
{
    return (uint64_t)ax__get_u32(p) | ((uint64_t)ax__get_u32(p + 4) << 32);
}

/*
 * A bounded cursor over a record's bytes. Every getter checks the bytes left
 * first; on a short read it sets ->bad, returns zeros and never moves past
 * the end, so a parser can read all fields and check ->bad once.
 */
struct ax__cur {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
};

static inline void ax__cur_init(struct ax__cur *c, const void *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->pos = 0;
    c->bad = false;
}

static inline size_t ax__cur_left(const struct ax__cur *c)
{
    return c->len - c->pos;
}

static inline bool ax__cur_need(struct ax__cur *c, uint64_t n)
{
    if (c->bad || n > ax__cur_left(c)) {
        c->bad = true;
        return false;
    }
    return true;
}

static inline uint8_t ax__cur_u8(struct ax__cur *c)
{
    if (!ax__cur_need(c, 1))
        return 0;
    return c->p[c->pos++];
}

static inline uint16_t ax__cur_u16(struct ax__cur *c)
{
    if (!ax__cur_need(c, 2))
        return 0;
    c->pos += 2;
    return ax__get_u16(c->p + c->pos - 2);
}

static inline uint32_t ax__cur_u32(struct ax__cur *c)
{
    if (!ax__cur_need(c, 4))
        return 0;
    c->pos += 4;
    return ax__get_u32(c->p + c->pos - 4);
}

static inline uint64_t ax__cur_u64(struct ax__cur *c)
{
    if (!ax__cur_need(c, 8))
        return 0;
    c->pos += 8;
    return ax__get_u64(c->p + c->pos - 8);
}

/* @n raw bytes; NULL (and ->bad) if fewer are left. */
static inline const uint8_t *ax__cur_bytes(struct ax__cur *c, uint64_t n)
{
    if (!ax__cur_need(c, n))
        return NULL;
    c->pos += (size_t)n;
    return c->p + c->pos - n;
}

/* A uint32-length-prefixed string or byte array, not NUL-terminated. */
static inline const uint8_t *ax__cur_str(struct ax__cur *c, uint32_t *len)
{
    *len = ax__cur_u32(c);
    const uint8_t *s = ax__cur_bytes(c, *len);
    if (!s)
        *len = 0;
    return s;
}

/* errno after a failed file-system call → AX_E* (see mcap.h, "Errors"). */
int ax__mcap_err_from_errno(int errnum);

#endif /* AX__MCAP_H */
