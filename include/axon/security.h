/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/security.h: the domain key (docs/security.md).
 *
 * A domain key authenticates discovery: every datagram carries a MAC and a
 * replay counter, and a node with the key drops datagrams without a valid
 * one. A node loads it from the file named by security.key_file when it is
 * created (ax_node_new() fails with the reason logged if the file is
 * missing, malformed, or readable by group or others).
 *
 * Certificates (security.tls: cert) are made by ax_cert_make_ca() and
 * ax_cert_make_node() (the CLI's `axon cert`).
 *
 * Thread rules: any thread; nothing here touches a node.
 */
#ifndef AXON_SECURITY_H
#define AXON_SECURITY_H

#include <stddef.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * ax_key_generate() - write a new random domain key to @path.
 * @path: the file to create, mode 0600; it must not exist.
 *
 * 32 bytes from getrandom(), written as one line ("axon-key-1" and 64 hex
 * digits). Copy the file to every host of the domain by a channel you trust.
 *
 * Returns 0, AX_EINVAL (@path NULL or empty), AX_EEXIST (the file exists:
 * it is never overwritten), AX_EACCES or AX_ENOENT (cannot create it), AX_EIO
 * (no randomness, or the write failed; the file is removed).
 */
AX_API int ax_key_generate(const char *path);

/**
 * ax_key_fingerprint() - check a key file as a node would, and name it.
 * @path: the key file.
 * @out: receives 16 hex digits that identify the key without revealing it
 *       (the first 8 bytes of its SHA-256), NUL-terminated.
 * @why: receives the reason of a failure (may be NULL).
 * @why_len: its size.
 *
 * Returns 0, or AX_ENOENT, AX_EACCES, AX_EINVAL as ax_node_new() would
 * refuse the file.
 */
AX_API int ax_key_fingerprint(const char *path, char out[17], char *why, size_t why_len);

/**
 * ax_cert_make_ca() - create a fleet CA for security.tls: cert.
 * @name: the CA's common name (1 to 63 characters).
 * @days: how long it is valid, from an hour ago.
 * @cert_path: the CA certificate to create (PEM, mode 0644): every node's
 *             security.ca_file.
 * @key_path: its private key to create (PEM, ECDSA P-256, mode 0600): keep
 *            it off the vehicles; only ax_cert_make_node() needs it.
 * @why: receives the reason of a failure (may be NULL); @why_len its size.
 *
 * Neither file may exist: nothing is ever overwritten.
 * Returns 0, AX_EINVAL (a bad argument), AX_EEXIST, AX_EACCES or AX_ENOENT
 * (cannot create a file), AX_EIO (a write failed: both files removed),
 * AX_ENOMEM.
 */
AX_API int ax_cert_make_ca(const char *name, int days, const char *cert_path, const char *key_path,
                           char *why, size_t why_len);

/**
 * ax_cert_make_node() - create a node's certificate, signed by the CA.
 * @ca_cert_path, @ca_key_path: the CA from ax_cert_make_ca().
 * @name: the node's name (node.name): its identity, proved by the
 *        certificate (1 to 63 characters).
 * @days: how long it is valid, from an hour ago.
 * @cert_path, @key_path: the certificate (0644) and its private key (0600)
 *        to create: the node's security.cert_file and security.cert_key_file.
 * @why, @why_len: as above.
 *
 * The certificate serves both ends of a connection (client and server).
 * Returns as ax_cert_make_ca(); AX_EINVAL also when the CA files do not
 * load or do not match.
 */
AX_API int ax_cert_make_node(const char *ca_cert_path, const char *ca_key_path, const char *name,
                             int days, const char *cert_path, const char *key_path, char *why,
                             size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* AXON_SECURITY_H */
