/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/ax__sha256.h: SHA-256 (FIPS 180-4), the digest behind type hashes.
 * Small and portable: bytes in, bytes out, no endianness assumptions.
 */
#ifndef AX__SHA256_H
#define AX__SHA256_H

#include <stddef.h>
#include <stdint.h>

#define AX__SHA256_SIZE 32

struct ax__sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t fill; /* bytes waiting in block */
};

void ax__sha256_init(struct ax__sha256 *s);
void ax__sha256_update(struct ax__sha256 *s, const void *data, size_t len);
void ax__sha256_final(struct ax__sha256 *s, uint8_t out[AX__SHA256_SIZE]);
/* One call: init, update, final. */
void ax__sha256(const void *data, size_t len, uint8_t out[AX__SHA256_SIZE]);

/* HMAC-SHA256 (RFC 2104): init with the key (any length), update with the
 * message, final writes the 32-byte tag. The context holds the key's pads:
 * one per key can be kept and copied for each message. */
struct ax__hmac {
    struct ax__sha256 inner, outer;
};

void ax__hmac_init(struct ax__hmac *h, const void *key, size_t key_len);
void ax__hmac_update(struct ax__hmac *h, const void *data, size_t len);
void ax__hmac_final(struct ax__hmac *h, uint8_t out[AX__SHA256_SIZE]);

/* Whether @a and @b (@len bytes) are equal, in time that does not depend
 * on where they differ (for comparing MACs). */
int ax__equal_ct(const void *a, const void *b, size_t len);

#endif /* AX__SHA256_H */
