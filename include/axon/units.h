/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/units.h: durations and sizes written as text, the one grammar the
 * YAML configuration and the axon CLI share.
 *
 * A duration is a number and a unit: "100ms", "1.5s", "2m", "250 us"
 * (units ns, us, ms, s, m or min, h; one optional space before the unit).
 * A size is bytes or a number and a unit: "65536", "64MiB", "1.5KiB",
 * "10MB" (units B, KiB, MiB, GiB, TiB, kB, MB, GB, TB). A fraction is
 * accepted when the value comes out as a whole number of nanoseconds or
 * bytes (1.5s is 1500000000 ns; 1.5ns is refused), with at most 9
 * fraction digits. Nothing else is accepted: no sign, no exponent, no
 * leading or trailing blanks.
 *
 * Thread rules: every function here is pure and may be called from any
 * thread.
 */
#ifndef AXON_UNITS_H
#define AXON_UNITS_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Buffer size that always fits ax_duration_format() and ax_size_format(). */
#define AX_UNITS_STRLEN 32

/**
 * ax_duration_parse() - read a duration.
 * @text: the text, NUL-terminated.
 * @bare_unit_ns: what a number without a unit means, in nanoseconds
 *                (AX_NS_PER_S: seconds, as the CLI takes "--wait 1.5");
 *                0 when a unit is required (the configuration file).
 * @ns: receives the duration in nanoseconds (at most INT64_MAX).
 * @why: when not NULL, receives a one-line reason on failure that quotes
 *       @text and lists the units; @why_len is its size.
 *
 * Returns 0, or AX_EINVAL (not a duration, no unit where one is required,
 * not a whole number of nanoseconds, or larger than INT64_MAX ns).
 */
AX_API int ax_duration_parse(const char *text, int64_t bare_unit_ns, int64_t *ns, char *why,
                             size_t why_len);

/**
 * ax_size_parse() - read a size in bytes ("64MiB"). Parameters and the
 * reason as ax_duration_parse(); a number without unit is bytes.
 * Returns 0 or AX_EINVAL.
 */
AX_API int ax_size_parse(const char *text, uint64_t *bytes, char *why, size_t why_len);

/**
 * ax_duration_format() - @ns in the largest unit that states it exactly
 * ("100ms", "2m", "0s"; negative durations print as "0s").
 * @buf: receives the text, cut to @len bytes (AX_UNITS_STRLEN always fits).
 * Returns @buf.
 */
AX_API char *ax_duration_format(int64_t ns, char *buf, size_t len);

/**
 * ax_size_format() - @bytes in the largest binary unit that states it
 * exactly ("64MiB", "1000", "0"). Returns @buf, as ax_duration_format().
 */
AX_API char *ax_size_format(uint64_t bytes, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* AXON_UNITS_H */
