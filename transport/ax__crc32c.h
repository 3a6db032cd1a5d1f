/* SPDX-License-Identifier: Apache-2.0 */
/* Private: CRC32C (Castagnoli, reflected polynomial 0x82F63B78). */
#ifndef AX__CRC32C_H
#define AX__CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend @crc (0 to start) over @len bytes, zlib-style: the pre- and
 * post-inversion happen inside, so calls chain: crc(crc(0, a), b) ==
 * crc(0, a || b). Uses the CPU's CRC32C instruction when it has one. */
uint32_t ax__crc32c(uint32_t crc, const void *data, size_t len);

/* The portable table implementation, always available (tests compare the
 * two). */
uint32_t ax__crc32c_sw(uint32_t crc, const void *data, size_t len);

/* "sse4.2", "armv8-crc" or "table": what ax__crc32c() uses here. */
const char *ax__crc32c_impl(void);

#endif /* AX__CRC32C_H */
