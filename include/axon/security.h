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

#ifdef __cplusplus
}
#endif

#endif /* AXON_SECURITY_H */
