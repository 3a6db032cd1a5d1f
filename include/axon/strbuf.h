/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/strbuf.h: a growable text buffer (the printer writes into one; so
 * can an application).
 *
 * Thread rules: a buffer belongs to its caller; the functions keep no
 * state of their own and may be called from any thread.
 */
#ifndef AXON_STRBUF_H
#define AXON_STRBUF_H

#include <stdarg.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A growable text buffer. The caller owns the struct (usually on its stack)
 * and, through it, the memory: ax_strbuf_fini() frees it, or
 * ax_strbuf_release() hands it over. data is always NUL-terminated once
 * anything was appended (len excludes the NUL); it is NULL before.
 */
struct ax_strbuf {
    char *data;
    size_t len;
    size_t cap;
    /* Appends that would grow len beyond this fail with AX_EMSGSIZE
     * (default SIZE_MAX / 2: unlimited in practice). */
    size_t max;
};

/** ax_strbuf_init() - an empty buffer; allocates nothing. */
AX_API void ax_strbuf_init(struct ax_strbuf *sb);

/** ax_strbuf_fini() - free the buffer's memory and make it empty again. */
AX_API void ax_strbuf_fini(struct ax_strbuf *sb);

/** ax_strbuf_reset() - make it empty, keeping its memory for reuse. */
AX_API void ax_strbuf_reset(struct ax_strbuf *sb);

/**
 * ax_strbuf_release() - hand the text over: returns data (malloc'ed,
 * NUL-terminated; the caller free()s it; an empty buffer gives a fresh
 * empty string, or NULL if that allocation fails) and leaves @sb empty.
 */
AX_API char *ax_strbuf_release(struct ax_strbuf *sb);

/**
 * ax_strbuf_append() - append @n bytes of @s.
 *
 * Returns 0, AX_ENOMEM or AX_EMSGSIZE (beyond max); on error the buffer is
 * unchanged.
 */
AX_API int ax_strbuf_append(struct ax_strbuf *sb, const char *s, size_t n);

/** ax_strbuf_printf() - append formatted text. Returns as ax_strbuf_append(). */
AX_API int ax_strbuf_printf(struct ax_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** ax_strbuf_vprintf() - as ax_strbuf_printf(), with a va_list. */
AX_API int ax_strbuf_vprintf(struct ax_strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#ifdef __cplusplus
}
#endif

#endif /* AXON_STRBUF_H */
