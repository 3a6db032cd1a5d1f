/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: TLS 1.3 (OpenSSL 3) under the framed stream of a TCP link
 * (docs/security.md, "Encrypted links").
 *
 * A context (struct ax__tls_ctx) is made once per node from its security
 * settings, in one of two identity modes:
 *   - PSK: the pre-shared key is derived from the domain key (one per key
 *     while keys rotate). Every key holder is equally trusted; the node
 *     name a peer sends is only asserted.
 *   - certificates: each node has a certificate signed by the fleet CA and
 *     its private key; both sides verify the other's chain, and the name
 *     in the certificate (its common name) is the node's identity.
 * A session (struct ax__tls) is one connection's TLS state on a connected
 * non-blocking socket. The handshake is implicit: the first reads and
 * writes drive it, so the stream code does not know it happens, except
 * that a write may wait for the peer's bytes (ax__tls_wants_read) and a
 * read for room to write (ax__tls_wants_write).
 *
 * Writes are batched: small pieces (frame headers, small frames) are
 * copied into one buffer and sealed as one record of up to 16 KiB; a large
 * payload is sealed in place, record by record. A session whose write
 * returned EAGAIN may hold sealed bytes that are not on the wire yet
 * (ax__tls_pending); they go first at the next write or flush.
 *
 * Threads: a context is created and freed by one thread and only read
 * afterwards (sessions on any loop thread use it); a session belongs to its
 * connection's loop thread.
 */
#ifndef AX__TLS_H
#define AX__TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum ax__tls_mode {
    AX__TLS_OFF = 0,
    AX__TLS_PSK = 1,
    AX__TLS_CERT = 2,
};

#define AX__TLS_PSK_SIZE     32
#define AX__TLS_PSKS_MAX     2
#define AX__TLS_NAME_MAX     64 /* identities (certificate common names) */
/* Bytes a session may hold read from the socket and not yet returned:
 * its read-ahead buffer and one decrypted record, with room to spare. */
#define AX__TLS_BUFFERED_MAX (128 * 1024)

struct ax__tls_config {
    enum ax__tls_mode mode;
    /* PSK mode: the keys (the first is offered, any is accepted) and a
     * short public id of each (the key's fingerprint). */
    unsigned npsk;
    uint8_t psk[AX__TLS_PSKS_MAX][AX__TLS_PSK_SIZE];
    char psk_id[AX__TLS_PSKS_MAX][24];
    /* Certificate mode: PEM files. */
    const char *ca_file;   /* the fleet CA: peers' chains must end there */
    const char *cert_file; /* this node's certificate (chain) */
    const char *key_file;  /* and its private key */
};

typedef struct ax__tls_ctx ax__tls_ctx;
typedef struct ax__tls ax__tls;

/* A context for @cfg (copied; mode not OFF). 0, AX_EINVAL (a file that
 * does not load, a key that does not match its certificate, no PSK) or
 * AX_ENOMEM, with the reason in @why. Free with ax__tls_ctx_free(). */
int ax__tls_ctx_new(const struct ax__tls_config *cfg, ax__tls_ctx **out, char *why, size_t why_len);
void ax__tls_ctx_free(ax__tls_ctx *ctx);
enum ax__tls_mode ax__tls_ctx_mode(const ax__tls_ctx *ctx);
/* Certificate mode: the common name of this node's own certificate. */
const char *ax__tls_ctx_own_name(const ax__tls_ctx *ctx);

/* A session on the connected socket @fd (borrowed: closing it is the
 * caller's), as the client (@dialer) or the server. NULL: no memory. */
ax__tls *ax__tls_new(ax__tls_ctx *ctx, int fd, bool dialer);
void ax__tls_free(ax__tls *t);

/* sock_bio.c: a BIO reading and writing socket @fd (borrowed) with
 * MSG_NOSIGNAL, so a dead peer is EPIPE, never SIGPIPE. NULL: no memory. */
struct bio_st;
struct bio_st *ax__tls_sock_bio(int fd);

/* Read up to @room plaintext bytes, several records if they are there.
 * Returns the count (short only when the socket had no more), 0 at the end
 * of the stream, or -1 with errno: EAGAIN (nothing now; see
 * ax__tls_wants_write), or EPROTO/EACCES for a TLS failure (EACCES: the
 * handshake refused the peer or was refused), with ax__tls_why() saying
 * what OpenSSL said. */
ssize_t ax__tls_read(ax__tls *t, void *dst, size_t room);

/* Write from @iov: returns the bytes taken (sealed; perhaps not all on
 * the wire yet), or -1 with errno EAGAIN (nothing taken: the socket is
 * full or the handshake waits for the peer), EPIPE, EPROTO or EACCES. */
ssize_t ax__tls_writev(ax__tls *t, const struct iovec *iov, int n_iov);

/* Sealed bytes not on the wire yet: write them. 0 when none are left,
 * -1 with errno EAGAIN when some still are, or an error as above. */
int ax__tls_flush(ax__tls *t);
bool ax__tls_pending(const ax__tls *t);

/* Send close_notify (best effort: a graceful close, before SHUT_WR). */
void ax__tls_close_notify(ax__tls *t);

/* The last write (read) stopped for want of the peer's bytes (of room to
 * write): retry it when readable (writable). Reading clears it. */
bool ax__tls_wants_read(const ax__tls *t);
bool ax__tls_wants_write(const ax__tls *t);

/* Whether the handshake is done; then, in certificate mode, the peer's
 * verified name ("" in PSK mode). */
bool ax__tls_established(const ax__tls *t);
/* Whether the session's context proves names (certificate mode). */
bool ax__tls_proves_names(const ax__tls *t);
const char *ax__tls_peer_name(const ax__tls *t);

/* Why the last call failed, in words (OpenSSL's reason); "" if it did not. */
const char *ax__tls_why(const ax__tls *t);

#endif /* AX__TLS_H */
