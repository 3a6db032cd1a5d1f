/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-32/ISO-HDLC, the checksum MCAP uses: zlib's crc32 (reflected
 * polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF).
 *
 * zlib's, rather than a table of our own: one less piece of code to keep
 * right, and zlib's braided implementation is built for the same job the
 * slicing-by-8 table it replaces did (the writer checksums every chunk and
 * the whole data section). crc32_z takes a size_t length, so a chunk or a
 * summary over 4 GiB needs no loop.
 */
#include <zlib.h>

#include "ax__mcap.h"

uint32_t ax_mcap_crc32(uint32_t crc, const void *data, size_t len)
{
    /* zlib answers 0 for a NULL buffer whatever @crc; an empty update must
     * leave the running CRC as it is. */
    if (len == 0)
        return crc;
    return (uint32_t)crc32_z(crc, data, len);
}
