/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the frame decoder (transport/frame.c).
 *
 * Properties checked on every input, besides "no crash, no out-of-bounds
 * read" (ASan+UBSan):
 *  - decoding the input as a stream consumes whole frames only, each within
 *    the bytes given, with payload_len <= the maximum;
 *  - the decoder is pure: feeding the same bytes as growing prefixes gives
 *    "need more" until exactly the same frame length, or the same error.
 *
 * Each input is decoded twice: as it is, and with every header's CRC
 * repaired first, so mutations of the other fields get past the header CRC
 * and reach the checks behind it (type, lengths, payload CRC).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon/common.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__frame.h"

#define MAXP 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_stream(const uint8_t *data, size_t size, bool repair)
{
    size_t off = 0;
    while (off < size) {
        struct ax__frame_hdr h;
        const uint8_t *payload = NULL;
        const char *why = NULL;
        if (repair && size - off >= AX__FRAME_HEADER_SIZE) {
            /* data is a private copy in this mode */
            uint8_t *p = (uint8_t *)data + off;
            size_t hl = (size_t)(p[8] | p[9] << 8);
            if (hl >= AX__FRAME_HEADER_SIZE && hl <= size - off) {
                static const uint8_t zero[4];
                uint32_t c = ax__crc32c(0, p, 44);
                c = ax__crc32c(c, zero, 4);
                c = ax__crc32c(c, p + 48, hl - 48);
                for (int i = 0; i < 4; i++)
                    p[44 + i] = (uint8_t)(c >> (8 * i));
            }
        }
        long r = ax__frame_decode(data + off, size - off, MAXP, &h, &payload, &why);
        if (r < 0) {
            if (!why)
                abort(); /* every error has a reason */
            return;
        }
        if (r == 0)
            return;
        if ((size_t)r > size - off || h.payload_len > MAXP || h.header_len < AX__FRAME_HEADER_SIZE)
            abort();
        if (payload < data + off || payload + h.payload_len > data + off + (size_t)r)
            abort();

        /* Incremental: every shorter prefix of this frame says "need more". */
        for (size_t n = 0; n < (size_t)r; n += 1 + n / 8) {
            struct ax__frame_hdr h2;
            const uint8_t *p2;
            const char *w2;
            long r2 = ax__frame_decode(data + off, n, MAXP, &h2, &p2, &w2);
            if (r2 != 0)
                abort();
        }
        off += (size_t)r;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_stream(data, size, false);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    decode_stream(copy, size, true);
    free(copy);
    return 0;
}
