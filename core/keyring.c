/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The domain key and the discovery MAC (core/ax__keyring.h).
 *
 * A MAC of 16 bytes (HMAC-SHA256 cut to 128 bits, as in IPsec and TLS
 * cipher suites of the same family) over the whole encoded datagram: the
 * receiver checks it before decoding anything, so an unauthenticated
 * datagram costs one HMAC and touches no state. Replay protection needs no
 * clock: every sender numbers its datagrams (Discovery.seq, per
 * incarnation) and the receiver keeps a window per sender.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/common.h"
#include "axon/security.h"
#include "core/ax__keyring.h"

#define KEY_MAGIC "axon-key-1 "

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A sub-key: HMAC(key, label), so that each use has its own. */
static void derive_raw(const uint8_t key[AX__KEY_SIZE], const char *label,
                       uint8_t sub[AX__SHA256_SIZE])
{
    struct ax__hmac h;
    ax__hmac_init(&h, key, AX__KEY_SIZE);
    ax__hmac_update(&h, label, strlen(label));
    ax__hmac_final(&h, sub);
}

/* ... ready to MAC with. */
static void derive(const uint8_t key[AX__KEY_SIZE], const char *label, struct ax__hmac *out)
{
    uint8_t sub[AX__SHA256_SIZE];
    derive_raw(key, label, sub);
    ax__hmac_init(out, sub, sizeof sub);
    memset(sub, 0, sizeof sub);
}

int ax__keyring_load(struct ax__keyring *k, const char *path, char *why, size_t why_len)
{
    memset(k, 0, sizeof *k);
    if (!path || !path[0])
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "cannot open the key file %s: %s", path, strerror(e));
        return e == ENOENT ? AX_ENOENT : AX_EACCES;
    }
    struct stat st = {0};
    bool stat_ok = fstat(fd, &st) == 0;
    bool private_ = stat_ok && !(st.st_mode & 077);
    char text[512]; /* two lines of 76 bytes, and room to tell a longer file */
    ssize_t n = -1;
    if (private_)
        n = read(fd, text, sizeof text - 1);
    close(fd);
    if (stat_ok && !private_) {
        snprintf(why, why_len, "the key file %s is readable by others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        return AX_EACCES;
    }
    if (n < 0) {
        snprintf(why, why_len, "cannot read the key file %s", path);
        return AX_EACCES;
    }
    text[n] = '\0';
    /* One or two lines of KEY_MAGIC and 64 hex digits, the last newline
     * optional. */
    const char *line = text;
    bool ok = true;
    while (ok && *line && k->n < AX__KEYS_MAX) {
        uint8_t key[AX__KEY_SIZE];
        const char *hex = line + strlen(KEY_MAGIC);
        ok = strncmp(line, KEY_MAGIC, strlen(KEY_MAGIC)) == 0 &&
             strlen(line) >= strlen(KEY_MAGIC) + 2 * AX__KEY_SIZE;
        for (size_t i = 0; ok && i < AX__KEY_SIZE; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            key[i] = (uint8_t)(hi << 4 | lo);
        }
        if (!ok)
            break;
        line = hex + 2 * AX__KEY_SIZE;
        if (*line == '\n')
            line++;
        else
            ok = *line == '\0';
        derive(key, "axon discovery v1", &k->disc[k->n]);
        derive(key, "axon link v1", &k->link[k->n]);
        derive_raw(key, "axon tls psk v1", k->tls_psk[k->n]);
        uint8_t digest[AX__SHA256_SIZE];
        ax__sha256(key, sizeof key, digest);
        for (int i = 0; i < 8; i++)
            snprintf(k->fingerprint[k->n] + 2 * i, 3, "%02x", digest[i]);
        memset(key, 0, sizeof key);
        k->n++;
    }
    ok = ok && k->n > 0 && *line == '\0';
    memset(text, 0, sizeof text);
    if (!ok) {
        memset(k, 0, sizeof *k);
        snprintf(why, why_len,
                 "%s is not an axon key file (one line, or two while rotating: \"axon-key-1\" "
                 "and 64 hex digits; `axon keygen` writes one)",
                 path);
        return AX_EINVAL;
    }
    k->on = true;
    return 0;
}

static void mac(const struct ax__hmac *key, const uint8_t *buf, size_t n, uint8_t out[AX__MAC_SIZE])
{
    struct ax__hmac h = *key; /* the key's pads, precomputed */
    uint8_t full[AX__SHA256_SIZE];
    ax__hmac_update(&h, buf, n);
    ax__hmac_final(&h, full);
    memcpy(out, full, AX__MAC_SIZE);
}

size_t ax__keyring_seal(const struct ax__keyring *k, uint8_t *buf, size_t n, size_t cap)
{
    if (!k || !k->on)
        return n;
    if (cap < n + AX__DGRAM_MAC_TRAILER)
        return 0;
    uint8_t tag[AX__MAC_SIZE];
    mac(&k->disc[0], buf, n, tag);
    buf[n] = 0x7a; /* field 15, length-delimited */
    buf[n + 1] = AX__MAC_SIZE;
    memcpy(buf + n + 2, tag, AX__MAC_SIZE);
    return n + AX__DGRAM_MAC_TRAILER;
}

bool ax__keyring_open(const struct ax__keyring *k, const uint8_t *buf, size_t n, size_t *body_len)
{
    if (n < AX__DGRAM_MAC_TRAILER)
        return false;
    size_t body = n - AX__DGRAM_MAC_TRAILER;
    if (buf[body] != 0x7a || buf[body + 1] != AX__MAC_SIZE)
        return false;
    for (unsigned i = 0; i < k->n; i++) {
        uint8_t tag[AX__MAC_SIZE];
        mac(&k->disc[i], buf, body, tag);
        if (ax__equal_ct(tag, buf + body + 2, AX__MAC_SIZE)) {
            *body_len = body;
            return true;
        }
    }
    return false;
}

bool ax__seq_window_take(struct ax__seq_window *w, uint64_t seq)
{
    if (!w->any) {
        w->any = true;
        w->top = seq;
        w->seen = 1;
        return true;
    }
    if (seq > w->top) {
        uint64_t shift = seq - w->top;
        w->seen = shift >= 64 ? 1 : (w->seen << shift) | 1;
        w->top = seq;
        return true;
    }
    uint64_t back = w->top - seq;
    if (back >= 64 || (w->seen >> back) & 1)
        return false;
    w->seen |= UINT64_C(1) << back;
    return true;
}

int ax_key_generate(const char *path)
{
    if (!path || !path[0])
        return AX_EINVAL;
    uint8_t key[AX__KEY_SIZE];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        return AX_EIO;
    char line[sizeof KEY_MAGIC + 2 * AX__KEY_SIZE + 2];
    int n = snprintf(line, sizeof line, "%s", KEY_MAGIC);
    for (size_t i = 0; i < sizeof key; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%02x", key[i]);
    line[n++] = '\n';
    memset(key, 0, sizeof key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        memset(line, 0, sizeof line);
        return e == EEXIST ? AX_EEXIST : e == ENOENT ? AX_ENOENT : AX_EACCES;
    }
    bool ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    memset(line, 0, sizeof line);
    if (!ok) {
        unlink(path);
        return AX_EIO;
    }
    return 0;
}

int ax_key_fingerprint(const char *path, char out[17], char *why, size_t why_len)
{
    char scratch[8];
    if (!why) {
        why = scratch;
        why_len = sizeof scratch;
    }
    if (!path || !path[0] || !out) {
        snprintf(why, why_len, "no key file given");
        return AX_EINVAL;
    }
    struct ax__keyring k;
    int rc = ax__keyring_load(&k, path, why, why_len);
    if (rc < 0)
        return rc;
    memcpy(out, k.fingerprint[0], sizeof k.fingerprint[0]);
    memset(&k, 0, sizeof k);
    return 0;
}
