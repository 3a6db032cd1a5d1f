/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates for security.tls: cert (axon/security.h): a fleet CA and
 * node certificates it signs, with OpenSSL 3, so a fleet needs no other
 * tool. Keys are ECDSA P-256 (small, fast to verify, in every TLS stack);
 * a node certificate's common name is the node's name and it may act as
 * both client and server, since a node both dials and accepts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "axon/security.h"

#define CERT_NAME_MAX 63 /* a node name in a HELLO */

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && len)
        vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Create @path, new, with @mode: a FILE, or NULL with *@err set and the
 * reason in @why. */
static FILE *create(const char *path, mode_t mode, int *err, char *why, size_t why_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f)
        return f;
    *err = errno == EEXIST ? AX_EEXIST : ax_err_from_errno(errno);
    if (fd >= 0)
        close(fd);
    if (*err == AX_EEXIST)
        say(why, why_len, "%s exists: never overwritten", path);
    else
        say(why, why_len, "cannot create %s: %s", path, ax_strerror(*err));
    return NULL;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A certificate for @name and @key, signed by @ca_key (@ca NULL: by @key
 * itself, as a CA). */
static X509 *make(const char *name, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, int days)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    bool ok = x && serial && X509_set_version(x, 2) && BN_rand(serial, 63, BN_RAND_TOP_ANY, 0) &&
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
              X509_set_pubkey(x, key) &&
              X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                         (const unsigned char *)name, -1, -1, 0) &&
              X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
    X509 *issuer = ca ? ca : x;
    if (ok && !ca)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
             add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
             add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0;
    if (ok && ca)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") == 0 &&
             add_ext(x, issuer, NID_ext_key_usage, "serverAuth,clientAuth") == 0 &&
             add_ext(x, issuer, NID_authority_key_identifier, "keyid") == 0;
    ok = ok && X509_sign(x, ca ? ca_key : key, EVP_sha256()) > 0;
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Write @x to @cert_path (0644) and @key to @key_path (0600), both new. */
static int save(X509 *x, EVP_PKEY *key, const char *cert_path, const char *key_path, char *why,
                size_t why_len)
{
    int e = 0;
    FILE *kf = create(key_path, 0600, &e, why, why_len);
    if (!kf)
        return e;
    FILE *cf = create(cert_path, 0644, &e, why, why_len);
    if (!cf) {
        fclose(kf);
        unlink(key_path);
        return e;
    }
    bool ok = PEM_write_PrivateKey(kf, key, NULL, NULL, 0, NULL, NULL) == 1;
    ok = PEM_write_X509(cf, x) == 1 && ok;
    ok = fclose(kf) == 0 && ok;
    ok = fclose(cf) == 0 && ok;
    if (!ok) {
        unlink(key_path);
        unlink(cert_path);
        say(why, why_len, "cannot write %s", cert_path);
        return AX_EIO;
    }
    return 0;
}

static int check_name(const char *name, char *why, size_t why_len)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > CERT_NAME_MAX) {
        say(why, why_len, "a certificate names a node: 1 to 63 characters, not '%s'",
            name ? name : "");
        return AX_EINVAL;
    }
    return 0;
}

int ax_cert_make_ca(const char *name, int days, const char *cert_path, const char *key_path,
                    char *why, size_t why_len)
{
    if (!cert_path || !key_path || days <= 0)
        return AX_EINVAL;
    int rc = check_name(name, why, why_len);
    if (rc < 0)
        return rc;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? make(name, key, NULL, NULL, days) : NULL;
    rc = x ? save(x, key, cert_path, key_path, why, why_len) : AX_ENOMEM;
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

static EVP_PKEY *read_key(const char *path)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

int ax_cert_make_node(const char *ca_cert_path, const char *ca_key_path, const char *name, int days,
                      const char *cert_path, const char *key_path, char *why, size_t why_len)
{
    if (!ca_cert_path || !ca_key_path || !cert_path || !key_path || days <= 0)
        return AX_EINVAL;
    int rc = check_name(name, why, why_len);
    if (rc < 0)
        return rc;
    X509 *ca = read_cert(ca_cert_path);
    EVP_PKEY *ca_key = ca ? read_key(ca_key_path) : NULL;
    if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1) {
        say(why, why_len, "%s and its key: not a CA certificate and its private key (PEM)",
            ca_cert_path);
        X509_free(ca);
        EVP_PKEY_free(ca_key);
        return AX_EINVAL;
    }
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? make(name, key, ca, ca_key, days) : NULL;
    rc = x ? save(x, key, cert_path, key_path, why, why_len) : AX_ENOMEM;
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}
