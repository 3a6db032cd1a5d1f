/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS 1.3 sessions on non-blocking sockets (ax__tls.h).
 *
 * OpenSSL drives the socket itself (sock_bio.c: the connection's fd, written
 * with MSG_NOSIGNAL): the stream code sees plaintext in and out and EAGAIN
 * as before. Notes:
 *
 * - Only TLS 1.3, no session tickets, no session cache: nothing is sent
 *   after the handshake that the stream did not ask for, so a read never
 *   has to write once the connection is up.
 * - A graceful close sends close_notify; an EOF without it is a reset
 *   (ECONNRESET), so a stream cut by someone on the path is never taken
 *   for the peer's clean end, even at a frame boundary.
 * - A fatal failure after some bytes were read or written returns those
 *   bytes first; the failure comes at the next call, and no more I/O is
 *   tried on the session.
 * - Partial writes and moving write buffers are on: a large payload is
 *   sealed in place record by record, and a write retried after EAGAIN may
 *   pass the same bytes from another address (the write queue rebuilds
 *   its iovec array each time).
 * - PSK mode keeps forward secrecy: TLS 1.3's psk_dhe_ke mixes an ECDHE
 *   exchange into the key derived from the domain key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "axon/common.h"
#include "transport/tls/ax__tls.h"

/* Small pieces are gathered up to one full record. */
#define STAGE_CAP  (16 * 1024)
/* Read-ahead: one read() takes up to this much ciphertext (four full
 * records), instead of two reads (header, body) per record. */
#define READ_AHEAD (64 * 1024)

struct ax__tls_ctx {
    SSL_CTX *ssl;
    struct ax__tls_config cfg; /* the PSKs (file names are not kept) */
    char own_name[AX__TLS_NAME_MAX];
};

struct ax__tls {
    SSL *ssl;
    const ax__tls_ctx *ctx;
    int fd;
    uint8_t *stage; /* sealed pieces not yet fully written */
    size_t stage_len, stage_off;
    bool want_read, want_write;
    bool established;
    bool got_data; /* plaintext has arrived: the peer accepted us */
    int dead;      /* errno of a fatal failure reported after the bytes before it */
    char peer[AX__TLS_NAME_MAX];
    char why[192];
};

static const unsigned char TLS13_AES128GCM[2] = {0x13, 0x01};

static void openssl_why(char *why, size_t len, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char reason[160] = "";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    snprintf(why, len, "%s%s%s", what, reason[0] ? ": " : "", reason);
    ERR_clear_error();
}

/* The certificate's one common name, as UTF-8, if it fits @len and holds
 * no NUL (a name with one could pass for another). */
static bool common_name(X509 *x, char *out, size_t len)
{
    out[0] = '\0';
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
        return false; /* none, or two */
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    bool ok = n > 0 && (size_t)n < len && memchr(utf8, 0, (size_t)n) == NULL;
    if (ok) {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    return ok;
}

/* ---- PSK: a session made from the derived key, offered or looked up ---- */

static SSL_SESSION *psk_session(SSL *ssl, const uint8_t *key)
{
    const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, TLS13_AES128GCM);
    SSL_SESSION *s = cipher ? SSL_SESSION_new() : NULL;
    if (!s)
        return NULL;
    if (!SSL_SESSION_set1_master_key(s, key, AX__TLS_PSK_SIZE) ||
        !SSL_SESSION_set_cipher(s, cipher) ||
        !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

static int psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                   SSL_SESSION **sess)
{
    const ax__tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    *sess = NULL;
    /* After a HelloRetryRequest the hash is fixed: ours is SHA-256. */
    if (md && EVP_MD_get_type(md) != NID_sha256)
        return 1;
    *sess = psk_session(ssl, c->cfg.psk[0]);
    if (!*sess)
        return 0;
    *id = (const unsigned char *)c->cfg.psk_id[0];
    *idlen = strlen(c->cfg.psk_id[0]);
    return 1;
}

static int psk_find(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
    const ax__tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    *sess = NULL;
    for (unsigned i = 0; i < c->cfg.npsk; i++) {
        if (strlen(c->cfg.psk_id[i]) == idlen && memcmp(c->cfg.psk_id[i], id, idlen) == 0) {
            *sess = psk_session(ssl, c->cfg.psk[i]);
            return *sess ? 1 : 0;
        }
    }
    return 1; /* not ours: the handshake fails for want of a key */
}

/* ---- contexts ---- */

static int load_certs(ax__tls_ctx *c, const struct ax__tls_config *cfg, char *why, size_t why_len)
{
    if (!cfg->ca_file || !cfg->ca_file[0] || !cfg->cert_file || !cfg->cert_file[0] ||
        !cfg->key_file || !cfg->key_file[0]) {
        snprintf(why, why_len,
                 "certificate mode needs security.ca_file, security.cert_file and "
                 "security.cert_key_file");
        return AX_EINVAL;
    }
    char what[320];
    if (SSL_CTX_use_certificate_chain_file(c->ssl, cfg->cert_file) != 1) {
        snprintf(what, sizeof what, "certificate %s", cfg->cert_file);
        openssl_why(why, why_len, what);
        return AX_EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(c->ssl, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(c->ssl) != 1) {
        snprintf(what, sizeof what, "private key %s (for %s)", cfg->key_file, cfg->cert_file);
        openssl_why(why, why_len, what);
        return AX_EINVAL;
    }
    if (SSL_CTX_load_verify_locations(c->ssl, cfg->ca_file, NULL) != 1) {
        snprintf(what, sizeof what, "CA certificate %s", cfg->ca_file);
        openssl_why(why, why_len, what);
        return AX_EINVAL;
    }
    if (!common_name(SSL_CTX_get0_certificate(c->ssl), c->own_name, sizeof c->own_name)) {
        snprintf(why, why_len, "certificate %s has no common name (the node's identity)",
                 cfg->cert_file);
        return AX_EINVAL;
    }
    /* Both ends present a certificate and verify the other's. */
    SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    return 0;
}

int ax__tls_ctx_new(const struct ax__tls_config *cfg, ax__tls_ctx **out, char *why, size_t why_len)
{
    if (!cfg || !out || cfg->mode == AX__TLS_OFF)
        return AX_EINVAL;
    if (cfg->mode == AX__TLS_PSK && (cfg->npsk == 0 || cfg->npsk > AX__TLS_PSKS_MAX)) {
        snprintf(why, why_len, "TLS with a pre-shared key needs security.key_file");
        return AX_EINVAL;
    }
    ax__tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return AX_ENOMEM;
    c->cfg = *cfg;
    c->cfg.ca_file = c->cfg.cert_file = c->cfg.key_file = NULL;
    c->ssl = SSL_CTX_new(TLS_method());
    if (!c->ssl) {
        free(c);
        return AX_ENOMEM;
    }
    SSL_CTX_set_app_data(c->ssl, c);
    SSL_CTX_set_min_proto_version(c->ssl, TLS1_3_VERSION);
    SSL_CTX_set_options(c->ssl, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c->ssl, 0);
    SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(c->ssl, 1);
    SSL_CTX_set_default_read_buffer_len(c->ssl, READ_AHEAD);
    /* AES-128-GCM first: the fastest where the CPU has AES instructions,
     * and the PSK's suite. */
    SSL_CTX_set_ciphersuites(c->ssl, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"
                                     "TLS_AES_256_GCM_SHA384");
    int rc = 0;
    if (cfg->mode == AX__TLS_PSK) {
        SSL_CTX_set_psk_use_session_callback(c->ssl, psk_use);
        SSL_CTX_set_psk_find_session_callback(c->ssl, psk_find);
    } else {
        rc = load_certs(c, cfg, why, why_len);
    }
    if (rc < 0) {
        ax__tls_ctx_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ax__tls_ctx_free(ax__tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ssl);
    OPENSSL_cleanse(c->cfg.psk, sizeof c->cfg.psk);
    free(c);
}

enum ax__tls_mode ax__tls_ctx_mode(const ax__tls_ctx *c)
{
    return c->cfg.mode;
}

const char *ax__tls_ctx_own_name(const ax__tls_ctx *c)
{
    return c->own_name;
}

/* ---- sessions ---- */

ax__tls *ax__tls_new(ax__tls_ctx *ctx, int fd, bool dialer)
{
    ax__tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ctx = ctx;
    t->fd = fd;
    t->ssl = SSL_new(ctx->ssl);
    BIO *bio = t->ssl ? ax__tls_sock_bio(fd) : NULL;
    if (!bio) {
        ax__tls_free(t);
        return NULL;
    }
    SSL_set_bio(t->ssl, bio, bio); /* the session owns it now */
    if (dialer)
        SSL_set_connect_state(t->ssl);
    else
        SSL_set_accept_state(t->ssl);
    return t;
}

void ax__tls_free(ax__tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* and its BIO, which does not close the fd */
    free(t->stage);
    free(t);
}

static void note_established(ax__tls *t)
{
    if (t->established || !SSL_is_init_finished(t->ssl))
        return;
    t->established = true;
    if (t->ctx->cfg.mode == AX__TLS_CERT)
        common_name(SSL_get0_peer_certificate(t->ssl), t->peer, sizeof t->peer);
}

/* A call returned @r <= 0: set errno and say whether to stop for good. */
static void failed(ax__tls *t, int r, bool reading)
{
    int e = SSL_get_error(t->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ: /* a write waiting for the peer stays marked */
        t->want_read = t->want_read || !reading;
        errno = EAGAIN;
        return;
    case SSL_ERROR_WANT_WRITE:
        t->want_write = t->want_write || reading;
        errno = EAGAIN;
        return;
    case SSL_ERROR_ZERO_RETURN:
        errno = 0;
        return;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN)
            errno = EPIPE;
        ERR_clear_error();
        t->dead = errno;
        return;
    default: {
        if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING &&
            t->got_data) {
            ERR_clear_error(); /* the peer went without close_notify */
            errno = ECONNRESET;
            t->dead = errno;
            return;
        }
        /* In TLS 1.3 the client is done before the server has checked its
         * certificate: a refusal comes as an alert after "established",
         * but before any data. */
        bool refused = !t->got_data;
        const char *what = !refused ? "TLS"
                           : t->ctx->cfg.mode == AX__TLS_PSK
                               ? "TLS handshake (a pre-shared key from another domain key?)"
                               : "TLS handshake (certificate)";
        openssl_why(t->why, sizeof t->why, what);
        errno = refused ? EACCES : EPROTO;
        t->dead = errno;
        return;
    }
    }
}

ssize_t ax__tls_read(ax__tls *t, void *dst, size_t room)
{
    size_t got = 0;
    t->want_write = false;
    if (t->dead) {
        errno = t->dead;
        return -1;
    }
    ERR_clear_error(); /* SSL_get_error() reads the thread's error queue */
    while (got < room) {
        size_t n = 0;
        int r = SSL_read_ex(t->ssl, (uint8_t *)dst + got, room - got, &n);
        note_established(t);
        if (r > 0) {
            got += n;
            t->got_data = true;
            continue;
        }
        failed(t, r, true);
        if (errno == 0) /* close_notify */
            return (ssize_t)got;
        if (got > 0)
            break; /* short: the socket has no more, or a failure comes next */
        return -1;
    }
    return (ssize_t)got;
}

/* Write the staged bytes: 0 when all are out, else -1 (errno). */
static int flush_stage(ax__tls *t)
{
    while (t->stage_off < t->stage_len) {
        size_t n = 0;
        int r = SSL_write_ex(t->ssl, t->stage + t->stage_off, t->stage_len - t->stage_off, &n);
        note_established(t);
        if (r <= 0) {
            failed(t, r, false);
            if (errno == 0)
                errno = EPIPE;
            return -1;
        }
        t->stage_off += n;
    }
    t->stage_off = t->stage_len = 0;
    return 0;
}

int ax__tls_flush(ax__tls *t)
{
    t->want_read = false;
    if (t->dead) {
        errno = t->dead;
        return -1;
    }
    ERR_clear_error();
    return flush_stage(t);
}

bool ax__tls_pending(const ax__tls *t)
{
    return t->stage_off < t->stage_len;
}

ssize_t ax__tls_writev(ax__tls *t, const struct iovec *iov, int n_iov)
{
    t->want_read = false;
    if (t->dead) {
        errno = t->dead;
        return -1;
    }
    ERR_clear_error();
    if (ax__tls_pending(t) && flush_stage(t) < 0)
        return -1;
    if (n_iov <= 0)
        return 0;
    if (iov[0].iov_len >= STAGE_CAP) {
        /* A large payload already started: sealed in place, record by
         * record. After EAGAIN the same bytes come back (the frame is
         * the queue's head, mid-write, and cannot move or be dropped). */
        const uint8_t *p = iov[0].iov_base;
        size_t done = 0;
        /* Corked, the kernel sends full segments of these 16 KiB records
         * instead of one push (and one wake-up at the reader) each. */
        int on = 1, off = 0;
        setsockopt(t->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
        while (done < iov[0].iov_len) {
            size_t n = 0;
            int r = SSL_write_ex(t->ssl, p + done, iov[0].iov_len - done, &n);
            note_established(t);
            if (r <= 0) {
                failed(t, r, false);
                if (errno == 0)
                    errno = EPIPE;
                break;
            }
            done += n;
        }
        int e = errno;
        setsockopt(t->fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
        errno = e;
        return done > 0 ? (ssize_t)done : -1;
    }
    if (!t->stage && !(t->stage = malloc(STAGE_CAP))) {
        errno = ENOMEM;
        return -1;
    }
    size_t len = 0;
    for (int i = 0; i < n_iov && len < STAGE_CAP; i++) {
        size_t k = iov[i].iov_len < STAGE_CAP - len ? iov[i].iov_len : STAGE_CAP - len;
        memcpy(t->stage + len, iov[i].iov_base, k);
        len += k;
    }
    t->stage_len = len;
    t->stage_off = 0;
    /* Taken whatever happens now: a part still unwritten goes first next
     * time (ax__tls_pending). */
    if (flush_stage(t) < 0 && errno != EAGAIN)
        return -1;
    return (ssize_t)len;
}

bool ax__tls_wants_read(const ax__tls *t)
{
    return t->want_read;
}

bool ax__tls_wants_write(const ax__tls *t)
{
    return t->want_write;
}

bool ax__tls_established(const ax__tls *t)
{
    return t->established;
}

bool ax__tls_proves_names(const ax__tls *t)
{
    return t->ctx->cfg.mode == AX__TLS_CERT;
}

const char *ax__tls_peer_name(const ax__tls *t)
{
    return t->peer;
}

const char *ax__tls_why(const ax__tls *t)
{
    return t->why;
}

void ax__tls_close_notify(ax__tls *t)
{
    /* Best effort, once: a full socket or a dead session sends nothing,
     * and the peer then sees a reset rather than a clean end. */
    if (t->dead || !t->established || ax__tls_pending(t))
        return;
    ERR_clear_error();
    SSL_shutdown(t->ssl);
    ERR_clear_error();
}
