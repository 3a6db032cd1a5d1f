/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/glob.c: the topic glob of the access policy (core/ax__policy.h).
 *
 * Design note. This is the classic wildcard matcher that remembers only the
 * last star and, on a mismatch, lets that star swallow one more character
 * and retries what follows it. Remembering one star is enough for a
 * pattern with one kind of star: what matched before the last star matched
 * as early as it could, and any later placement would only leave the star
 * less to do. With two kinds it needs one more rule. A '*' cannot grow past
 * a '/'; when it would have to, no other placement of the '*'s since the
 * last '**' helps either (each '/' of the string can only be met by the
 * same '/' of the pattern, since nothing else there crosses one), so the
 * matcher goes back to the last '**' instead, lets it swallow one more
 * character and forgets the '*'. Seeing a new '**' forgets both older
 * stars, as in the classic algorithm.
 *
 * Cost: each retry moves a remembered position forward by one and then
 * compares at most |pattern| bytes. A '*' moves at most |s| times between
 * two moves of the '**' before it, and the '**' at most |s| times: O(|p| *
 * |s|) with one kind of star, O(|p| * |s|^2) at worst with both, never
 * exponential. The unit test checks it against a plain recursive matcher.
 */
#include <stddef.h>

#include "core/ax__policy.h"

bool ax__glob_match(const char *p, const char *s)
{
    const char *seg_p = NULL, *seg_s = NULL; /* after the last '*', where it ends in s */
    const char *any_p = NULL, *any_s = NULL; /* after the last '**', where it ends in s */

    if (!p || !s)
        return false;
    for (;;) {
        if (*p == '*') {
            if (p[1] == '*') {
                while (*p == '*')
                    p++;
                any_p = p;
                any_s = s;
                seg_p = NULL; /* every '*' before this '**' is settled */
            } else {
                p++;
                seg_p = p;
                seg_s = s;
            }
            continue;
        }
        if (*s && *p && (*p == '?' ? *s != '/' : *p == *s)) {
            p++;
            s++;
            continue;
        }
        if (!*p && !*s)
            return true;
        /* Mismatch: the last '*' takes one more character, unless that is a
         * '/' or there is none; then the last '**' does. */
        if (seg_p && *seg_s && *seg_s != '/') {
            p = seg_p;
            s = ++seg_s;
        } else if (any_p && *any_s) {
            seg_p = NULL;
            p = any_p;
            s = ++any_s;
        } else {
            return false;
        }
    }
}
