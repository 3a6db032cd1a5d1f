/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/ax__array.h: growing a heap array by doubling, with the overflow
 * checks a hand-written loop forgets.
 *
 *     struct item *items = NULL;
 *     size_t n = 0, cap = 0;
 *     if (ax__array_reserve(&items, &cap, n + 1, 8) < 0)
 *         return AX_ENOMEM;
 *     items[n++] = x;
 *
 * The capacity doubles from @min until it holds @need elements (or up to
 * a bound: ax__array_reserve_max); neither the doubling nor cap * sizeof
 * element may wrap (SIZE_MAX bytes is the ceiling). On failure the array
 * and its capacity are unchanged. Header only, so the CLI and tools can
 * use it without linking internals.
 */
#ifndef AX__ARRAY_H
#define AX__ARRAY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon/common.h" /* AX_ENOMEM */

/* The capacity after growing @cap to hold @need elements of @size bytes
 * (doubling from @min), or 0 when it cannot be represented. */
static inline size_t ax__array_next_cap(size_t cap, size_t need, size_t size, size_t min)
{
    size_t n = cap ? cap : (min ? min : 1);
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            n = need;
            break;
        }
        n *= 2;
    }
    if (size && n > SIZE_MAX / size)
        return 0;
    return n;
}

/* @arrp points at the array pointer (any object pointer type). The
 * capacity stops at @max elements (at least @need). */
static inline int ax__array_reserve_max_(void *arrp, size_t *cap, size_t need, size_t size,
                                         size_t min, size_t max)
{
    if (need <= *cap)
        return 0;
    if (need > max)
        return AX_ENOMEM;
    size_t ncap = ax__array_next_cap(*cap, need, size, min);
    if (ncap == 0)
        return AX_ENOMEM;
    if (ncap > max)
        ncap = max;
    void *old;
    memcpy(&old, arrp, sizeof old); /* through memcpy: no type-punned void ** */
    void *grown = realloc(old, ncap * size);
    if (!grown)
        return AX_ENOMEM;
    memcpy(arrp, &grown, sizeof grown);
    *cap = ncap;
    return 0;
}

static inline int ax__array_reserve_(void *arrp, size_t *cap, size_t need, size_t size, size_t min)
{
    return ax__array_reserve_max_(arrp, cap, need, size, min, SIZE_MAX);
}

/* ax__array_reserve(&arr, &cap, need, min): 0, or AX_ENOMEM with nothing
 * changed. @cap is a size_t. */
#define ax__array_reserve(arrp, capp, need, min)                                                   \
    ax__array_reserve_((arrp), (capp), (need), sizeof **(arrp), (min))

/* ax__array_reserve_max(&arr, &cap, need, min, max): the same, for an array
 * whose length is bounded by @max: doubling stops there, so nothing is
 * allocated beyond the bound; AX_ENOMEM when @need exceeds it. */
#define ax__array_reserve_max(arrp, capp, need, min, max)                                          \
    ax__array_reserve_max_((arrp), (capp), (need), sizeof **(arrp), (min), (max))

#endif /* AX__ARRAY_H */
