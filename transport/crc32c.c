/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC32C. Three implementations behind one function pointer chosen once:
 * the SSE4.2 crc32 instruction (x86_64), the ARMv8 CRC32 extension
 * (aarch64, when HWCAP says the CPU has it), and a slicing-by-8 table that
 * works everywhere. The choice is made at run time, not compile time, so
 * one aarch64 binary runs on cores with and without the extension.
 */
#include <pthread.h>
#include <string.h>

#include "transport/ax__crc32c.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint32_t load32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t ax__crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, make_table);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len >= 8) {
        uint32_t lo = load32le(p) ^ c;
        uint32_t hi = load32le(p + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                            size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* unaligned-safe; x86 is little-endian */
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

static int have_hw(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}
#define HW_NAME "sse4.2"
#elif defined(__aarch64__)
__attribute__((target("+crc"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                          size_t len)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_aarch64_crc32cx(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = __builtin_aarch64_crc32cb(c, *p++);
    return ~c;
}

static int have_hw(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#define HW_NAME "armv8-crc"
#else
static int have_hw(void)
{
    return 0;
}
#define HW_NAME   "table"
#define crc32c_hw ax__crc32c_sw
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static crc_fn impl;
static const char *impl_name;
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    if (have_hw()) {
        impl = crc32c_hw;
        impl_name = HW_NAME;
    } else {
        impl = ax__crc32c_sw;
        impl_name = "table";
    }
}

uint32_t ax__crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&impl_once, choose);
    return impl(crc, data, len);
}

const char *ax__crc32c_impl(void)
{
    pthread_once(&impl_once, choose);
    return impl_name;
}
