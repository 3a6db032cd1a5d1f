/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/ax__keyring.h: the domain key (security.key_file) and what is
 * derived from it: the MAC of discovery datagrams and their replay windows
 * (docs/security.md).
 *
 * The key file holds one line, "axon-key-1 " and 64 hex digits (32 random
 * bytes), or two while keys are rotated: the first signs, either verifies
 * (docs/security.md, "Rotating the key"). It must not be readable by group
 * or others. Sub-keys are derived
 * per use (HMAC-SHA256 of a label), so a MAC of one kind never verifies as
 * another. Nothing here allocates; a keyring is written once, when the
 * node is created, and only read afterwards (any thread).
 */
#ifndef AX__KEYRING_H
#define AX__KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/ax__sha256.h"

#define AX__KEY_SIZE          32
#define AX__MAC_SIZE          16
/* The MAC travels as field 15 of Discovery (bytes, 16), always last: tag
 * 0x7a, length 0x10, then the MAC over every byte before the tag. */
#define AX__DGRAM_MAC_TRAILER (2 + AX__MAC_SIZE)

#define AX__KEYS_MAX 2

struct ax__keyring {
    bool on;                               /* a key was loaded */
    unsigned n;                            /* keys: [0] signs, all verify */
    struct ax__hmac disc[AX__KEYS_MAX];    /* keyed with each discovery sub-key */
    struct ax__hmac link[AX__KEYS_MAX];    /* ... link sub-key (the data handshake's AUTH) */
    char fingerprint[AX__KEYS_MAX][17];    /* hex of the first 8 bytes of SHA-256(key) */
    uint8_t tls_psk[AX__KEYS_MAX][AX__KEY_SIZE]; /* TLS's pre-shared key (security.tls: psk) */
};

/* Load @path into @k (@path "" or NULL: no key, k->on false, returns 0).
 * AX_ENOENT, AX_EACCES (unreadable, or readable by group or others),
 * AX_EINVAL (not a key file), with the reason in @why. */
int ax__keyring_load(struct ax__keyring *k, const char *path, char *why, size_t why_len);

/* Append the MAC trailer to the datagram @buf[0..n) (room @cap). Returns
 * the new length, or @n unchanged without a key; 0 when it does not fit. */
size_t ax__keyring_seal(const struct ax__keyring *k, uint8_t *buf, size_t n, size_t cap);

/* Whether @buf[0..n) ends with a valid MAC trailer; *@body_len is then
 * the length of what it covers (the datagram to decode). */
bool ax__keyring_open(const struct ax__keyring *k, const uint8_t *buf, size_t n, size_t *body_len);

/* A sliding window over a sender's datagram counters (Discovery.seq, per
 * incarnation): datagrams may arrive out of order (multicast and unicast
 * paths), but none twice, and none older than 64 behind the newest. */
struct ax__seq_window {
    uint64_t top;  /* newest counter accepted */
    uint64_t seen; /* bit i: top - i was accepted */
    bool any;
};

/* Whether @seq is new (and then it is recorded). */
bool ax__seq_window_take(struct ax__seq_window *w, uint64_t seq);

#endif /* AX__KEYRING_H */
