/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/units.c: the duration and size grammar of axon/units.h.
 *
 * Values are read exactly, in integers: "<digits>[.<digits>][ ]<unit>"
 * becomes whole * unit + fraction * unit / 10^digits, and a fraction that
 * does not come out whole is refused rather than rounded (a configuration
 * that says 1.5ns means something the node cannot do). At most 9 fraction
 * digits keep every intermediate product below 2^64 for these units: the
 * fraction's denominator cancels against the unit's powers of ten or two.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "axon/clock.h"
#include "axon/units.h"

struct unit {
    const char *name;
    uint64_t mult;
};

/* Ascending; formatting picks the last exact one, so "m" (after "min")
 * is what a minute prints as. */
static const struct unit duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"ms", 1000000},
    {"s", 1000000000},
    {"min", 60000000000},
    {"m", 60000000000},
    {"h", 3600000000000},
};

static const struct unit size_units[] = {
    {"B", 1},
    {"", 1}, /* after "B": a plain number of bytes is what formatting writes */
    {"KiB", UINT64_C(1) << 10},
    {"MiB", UINT64_C(1) << 20},
    {"GiB", UINT64_C(1) << 30},
    {"TiB", UINT64_C(1) << 40},
    {"kB", 1000},
    {"MB", 1000000},
    {"GB", 1000000000},
    {"TB", 1000000000000},
};

#define N_DURATION (sizeof duration_units / sizeof duration_units[0])
#define N_SIZE     (sizeof size_units / sizeof size_units[0])
#define N_BINARY   6 /* the first rows of size_units: B, bytes, KiB .. TiB */

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

enum { NUM_OK = 0, NUM_SYNTAX, NUM_NOUNIT, NUM_UNIT, NUM_RANGE, NUM_INEXACT };

/* @bare: the unit a number without one takes, or NULL when one is needed. */
static int parse_number_unit(const char *s, const struct unit *units, size_t nunits,
                             const struct unit *bare, uint64_t *out)
{
    const char *p = s;
    uint64_t whole = 0, frac = 0, den = 1;
    if (*p < '0' || *p > '9')
        return NUM_SYNTAX;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return NUM_RANGE;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return NUM_SYNTAX;
        for (int nd = 0; *p >= '0' && *p <= '9'; p++, nd++) {
            if (nd == 9)
                return NUM_INEXACT;
            frac = frac * 10 + (uint64_t)(*p - '0');
            den *= 10;
        }
    }
    if (*p == ' ')
        p++;
    const struct unit *u = NULL;
    for (size_t i = 0; i < nunits; i++)
        if (strcmp(p, units[i].name) == 0)
            u = &units[i];
    if (!u && *p == 0 && p[-1] != ' ')
        u = bare;
    if (!u)
        return *p == 0 ? NUM_NOUNIT : NUM_UNIT;
    if (whole > UINT64_MAX / u->mult)
        return NUM_RANGE;
    uint64_t v = whole * u->mult;
    if (frac) {
        uint64_t g = gcd(u->mult, den);
        uint64_t num = frac * (u->mult / g);
        if (num % (den / g) != 0)
            return NUM_INEXACT;
        if (v > UINT64_MAX - num / (den / g))
            return NUM_RANGE;
        v += num / (den / g);
    }
    *out = v;
    return NUM_OK;
}

__attribute__((format(printf, 3, 4))) static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

int ax_duration_parse(const char *text, int64_t bare_unit_ns, int64_t *ns, char *why,
                      size_t why_len)
{
    static const char units[] = "ns, us, ms, s, m, h";
    if (!text || !ns || bare_unit_ns < 0) {
        say(why, why_len, "%s%s", "no duration given", "");
        return AX_EINVAL;
    }
    struct unit bare = {"", (uint64_t)bare_unit_ns};
    uint64_t v = 0;
    switch (parse_number_unit(text, duration_units, N_DURATION, bare_unit_ns ? &bare : NULL, &v)) {
    case NUM_OK:
        if (v > (uint64_t)INT64_MAX)
            break;
        *ns = (int64_t)v;
        return 0;
    case NUM_NOUNIT:
        say(why, why_len, "\"%s\" has no unit: write a duration like 100ms (units: %s)", text,
            units);
        return AX_EINVAL;
    case NUM_INEXACT:
        say(why, why_len, "\"%s\" is not a whole number of nanoseconds%s", text, "");
        return AX_EINVAL;
    case NUM_RANGE:
        break;
    default:
        say(why, why_len,
            "\"%s\" is not a duration: write a number and a unit like 100ms, 1.5s or 2m "
            "(units: %s)",
            text, units);
        return AX_EINVAL;
    }
    say(why, why_len, "\"%s\" is too large%s", text, "");
    return AX_EINVAL;
}

int ax_size_parse(const char *text, uint64_t *bytes, char *why, size_t why_len)
{
    if (!text || !bytes) {
        say(why, why_len, "%s%s", "no size given", "");
        return AX_EINVAL;
    }
    switch (parse_number_unit(text, size_units, N_SIZE, NULL, bytes)) {
    case NUM_OK:
        return 0;
    case NUM_INEXACT:
        say(why, why_len, "\"%s\" is not a whole number of bytes%s", text, "");
        return AX_EINVAL;
    case NUM_RANGE:
        say(why, why_len, "\"%s\" is too large%s", text, "");
        return AX_EINVAL;
    default:
        say(why, why_len,
            "\"%s\" is not a size: write bytes or a number and a unit like 64MiB "
            "(units: %s)",
            text, "B, KiB, MiB, GiB, TiB, kB, MB, GB, TB");
        return AX_EINVAL;
    }
}

/* Largest unit that represents @v exactly. */
static char *format_units(uint64_t v, const struct unit *units, size_t n, const char *zero,
                          char *buf, size_t size)
{
    if (!buf || !size)
        return buf;
    if (v == 0) {
        snprintf(buf, size, "%s", zero);
        return buf;
    }
    for (size_t i = n; i-- > 0;) {
        if (v % units[i].mult == 0) {
            snprintf(buf, size, "%" PRIu64 "%s", v / units[i].mult, units[i].name);
            return buf;
        }
    }
    snprintf(buf, size, "%" PRIu64, v);
    return buf;
}

char *ax_duration_format(int64_t ns, char *buf, size_t len)
{
    return format_units(ns < 0 ? 0 : (uint64_t)ns, duration_units, N_DURATION, "0s", buf, len);
}

char *ax_size_format(uint64_t bytes, char *buf, size_t len)
{
    /* Binary units only: 64MiB, not 67.108864MB. */
    return format_units(bytes, size_units, N_BINARY, "0", buf, len);
}
