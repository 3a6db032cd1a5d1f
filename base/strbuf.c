/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/strbuf.c: the growable text buffer (axon/strbuf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/strbuf.h"
#include "base/ax__array.h"

void ax_strbuf_init(struct ax_strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->max = SIZE_MAX / 2;
}

void ax_strbuf_fini(struct ax_strbuf *sb)
{
    size_t max = sb->max;
    free(sb->data);
    ax_strbuf_init(sb);
    sb->max = max;
}

void ax_strbuf_reset(struct ax_strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

char *ax_strbuf_release(struct ax_strbuf *sb)
{
    char *p = sb->data;
    size_t max = sb->max;
    if (!p)
        p = calloc(1, 1);
    ax_strbuf_init(sb);
    sb->max = max;
    return p;
}

/* Make room for @n more bytes plus the NUL. */
static int reserve(struct ax_strbuf *sb, size_t n)
{
    if (n > sb->max || sb->len > sb->max - n)
        return AX_EMSGSIZE;
    size_t need = sb->len + n + 1;
    if (need <= sb->cap)
        return 0;
    return ax__array_reserve(&sb->data, &sb->cap, need, 64);
}

int ax_strbuf_append(struct ax_strbuf *sb, const char *s, size_t n)
{
    int rc = reserve(sb, n);
    if (rc)
        return rc;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return 0;
}

int ax_strbuf_vprintf(struct ax_strbuf *sb, const char *fmt, va_list ap)
{
    char small[128];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return AX_EINVAL;
    if ((size_t)n < sizeof small)
        return ax_strbuf_append(sb, small, (size_t)n);
    int rc = reserve(sb, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int ax_strbuf_printf(struct ax_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ax_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return rc;
}
