/*
 * CRC-32/ISO-HDLC, the checksum MCAP uses (zlib's crc32: reflected
 * polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF).
 *
 * Slicing-by-8: eight 256-entry tables let the loop fold eight input bytes
 * per step, several times faster than the byte-wise table, which matters
 * because the writer checksums every chunk and the whole data section. The
 * tables are built once, on first use, under pthread_once.
 */
#include <pthread.h>

#include "ax__mcap.h"

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

uint32_t ax_mcap_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    pthread_once(&crc_once, crc_build);
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ax__get_u32(p);
        uint32_t hi = ax__get_u32(p + 4);
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^
              crc_table[2][(hi >> 8) & 0xFF] ^ crc_table[1][(hi >> 16) & 0xFF] ^
              crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
