/* SPDX-License-Identifier: Apache-2.0 */
/* The frame codec. Byte order is explicit (little-endian on the wire) so
 * the same code is right on any host; on x86_64 and aarch64 the compiler
 * turns the shifts into plain loads and stores. */
#include <string.h>

#include "axon/common.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__frame.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* CRC of [0, len) with the header_crc field (offset 44) taken as zero. */
static uint32_t header_crc(const uint8_t *p, size_t len)
{
    static const uint8_t zero[4];
    uint32_t c = ax__crc32c(0, p, 44);
    c = ax__crc32c(c, zero, 4);
    return ax__crc32c(c, p + 48, len - 48);
}

void ax__frame_encode_header(uint8_t out[AX__FRAME_HEADER_SIZE], const struct ax__frame_hdr *h)
{
    put32(out + 0, AX__FRAME_MAGIC);
    out[4] = AX__FRAME_VERSION;
    out[5] = h->type;
    put16(out + 6, h->flags);
    put16(out + 8, AX__FRAME_HEADER_SIZE);
    put16(out + 10, 0);
    put32(out + 12, h->payload_len);
    put32(out + 16, h->stream);
    put32(out + 20, h->payload_crc);
    put64(out + 24, h->seq);
    put64(out + 32, (uint64_t)h->timestamp_ns);
    put32(out + 40, 0);
    put32(out + 44, header_crc(out, AX__FRAME_HEADER_SIZE));
}

int ax__frame_decode_header(const uint8_t *p, size_t n, uint32_t max_payload,
                            struct ax__frame_hdr *h, const char **why)
{
    /* Reject garbage as early as the bytes allow, so a peer sending junk is
     * cut off on its first bytes, not after 48 of them. */
    static const uint8_t magic[4] = {0x41, 0x58, 0x4F, 0x4E};
    size_t m = n < 4 ? n : 4;
    if (memcmp(p, magic, m) != 0) {
        *why = "bad magic";
        return AX_EPROTO;
    }
    if (n < 10)
        return 0;
    if (p[4] != AX__FRAME_VERSION) {
        *why = "unsupported protocol version";
        return AX_EVERSION;
    }
    uint16_t hlen = get16(p + 8);
    if (hlen < AX__FRAME_HEADER_SIZE || hlen > AX__FRAME_HEADER_MAX) {
        *why = "bad header length";
        return AX_EPROTO;
    }
    if (n < hlen)
        return 0;
    if (get32(p + 44) != header_crc(p, hlen)) {
        *why = "header CRC mismatch";
        return AX_ECRC;
    }
    h->version = p[4];
    h->type = p[5];
    h->flags = get16(p + 6);
    h->header_len = hlen;
    h->payload_len = get32(p + 12);
    h->stream = get32(p + 16);
    h->payload_crc = get32(p + 20);
    h->seq = get64(p + 24);
    h->timestamp_ns = (int64_t)get64(p + 32);
    if (h->type < AX__FRAME_HELLO || h->type > AX__FRAME_TYPE_MAX) {
        *why = "unknown frame type";
        return AX_EPROTO;
    }
    if (h->payload_len > max_payload) {
        *why = "payload larger than the maximum frame size";
        return AX_EMSGSIZE;
    }
    return hlen;
}

int ax__frame_check_payload(const struct ax__frame_hdr *h, const uint8_t *payload)
{
    if ((h->flags & AX__FRAME_F_PAYLOAD_CRC) &&
        ax__crc32c(0, payload, h->payload_len) != h->payload_crc)
        return AX_ECRC;
    return 0;
}

long ax__frame_decode(const uint8_t *p, size_t n, uint32_t max_payload, struct ax__frame_hdr *h,
                      const uint8_t **payload, const char **why)
{
    int hl = ax__frame_decode_header(p, n, max_payload, h, why);
    if (hl <= 0)
        return hl;
    if (n - (size_t)hl < h->payload_len)
        return 0;
    if (ax__frame_check_payload(h, p + hl) < 0) {
        *why = "payload CRC mismatch";
        return AX_ECRC;
    }
    *payload = p + hl;
    return (long)hl + (long)h->payload_len;
}
