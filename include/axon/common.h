/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/common.h: the export macro and the error table shared by every axon
 * module.
 *
 * Error convention: every fallible call returns int, 0 on success or a
 * negative AX_E* code on failure; results come back through pointer
 * arguments. There is no errno-style global. ax_strerror() and ax_err_name()
 * are safe to call from any thread.
 */
#ifndef AXON_COMMON_H
#define AXON_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols marked AX_API are exported from the shared library; everything
 * else is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define AX_API __attribute__((visibility("default")))
#else
#define AX_API
#endif

/* Private: a node of an intrusive doubly-linked list (base/ax__list.h),
 * embedded in public structs such as ax_io. */
struct ax__qnode {
    struct ax__qnode *prev;
    struct ax__qnode *next;
};

/*
 * The error table: X(NAME, message). Codes are negative and numbered in the
 * order of the table (AX_EINVAL == -1). Operating-system errors are mapped to
 * these codes explicitly (see core/error.c); an errno with no entry maps to
 * AX_ESYS. Append new entries at the end: the numbers are part of the ABI.
 */
#define AX_ERROR_TABLE(X)                                                                          \
    X(EINVAL, "invalid argument")                                                                  \
    X(ENOMEM, "out of memory")                                                                     \
    X(EAGAIN, "resource temporarily unavailable")                                                  \
    X(ECLOSED, "object is closed")                                                                 \
    X(EBUSY, "object is busy or still has open handles")                                           \
    X(ETIMEDOUT, "operation timed out")                                                            \
    X(ECONNREFUSED, "connection refused")                                                          \
    X(ECONNRESET, "connection reset by peer")                                                      \
    X(ECONNABORTED, "connection aborted")                                                          \
    X(EPIPE, "broken pipe")                                                                        \
    X(ENOTCONN, "not connected")                                                                   \
    X(EADDRINUSE, "address already in use")                                                        \
    X(EADDRNOTAVAIL, "address not available")                                                      \
    X(ENETUNREACH, "network unreachable")                                                          \
    X(EHOSTUNREACH, "host unreachable")                                                            \
    X(EMFILE, "too many open files in this process")                                               \
    X(ENFILE, "too many open files in the system")                                                 \
    X(ENOBUFS, "no buffer space available")                                                        \
    X(EACCES, "permission denied")                                                                 \
    X(ENOENT, "no such file or directory")                                                         \
    X(EEXIST, "already exists")                                                                    \
    X(ENOTFOUND, "not found")                                                                      \
    X(EIO, "input/output error")                                                                   \
    X(EPROTO, "protocol error")                                                                    \
    X(EMSGSIZE, "message too large")                                                               \
    X(ECRC, "checksum mismatch")                                                                   \
    X(EVERSION, "protocol version mismatch")                                                       \
    X(EDOMAIN, "domain mismatch")                                                                  \
    X(ETYPE, "type mismatch")                                                                      \
    X(EOVERFLOW, "queue full")                                                                     \
    X(ECONFIG, "bad configuration")                                                                \
    X(ENOTSUP, "operation not supported")                                                          \
    X(ESYS, "unexpected operating-system error")                                                   \
    X(EREFUSED, "refused by the peer")

enum ax_error {
    AX_OK = 0,
#define AX__ERR_ENUM(name, msg) AX__ERR_##name,
    AX__ERR_FIRST_ = 0,
    AX_ERROR_TABLE(AX__ERR_ENUM) AX__ERR_COUNT_
#undef AX__ERR_ENUM
};

/* The public codes: AX_EINVAL == -1, AX_ENOMEM == -2, ... */
#define AX__ERR_DEFINE(name, msg) AX_##name = -(int)(AX__ERR_##name),
enum { AX_ERROR_TABLE(AX__ERR_DEFINE) AX__ERR_LAST_ = 0 };
#undef AX__ERR_DEFINE

/**
 * ax_strerror() - a human-readable message for an axon error code.
 * @err: 0 or a negative AX_E* code.
 *
 * Returns a static string; never NULL. Unknown codes give "unknown error".
 * Any thread.
 */
AX_API const char *ax_strerror(int err);

/**
 * ax_err_name() - the symbolic name of an axon error code ("AX_EINVAL").
 * @err: 0 ("AX_OK") or a negative AX_E* code.
 *
 * Returns a static string; never NULL. Unknown codes give "AX_EUNKNOWN".
 * Any thread.
 */
AX_API const char *ax_err_name(int err);

/**
 * ax_err_from_errno() - map an operating-system errno value to an AX_E* code.
 * @errnum: a positive errno value (EINTR and EWOULDBLOCK included).
 *
 * Returns the negative AX_E* code; errno values with no explicit mapping give
 * AX_ESYS. Any thread.
 */
AX_API int ax_err_from_errno(int errnum);

#ifdef __cplusplus
}
#endif

#endif /* AXON_COMMON_H */
