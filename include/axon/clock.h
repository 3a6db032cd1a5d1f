/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon/clock.h: time in nanoseconds.
 *
 * Timeouts, timers, leases and rates use the monotonic clock (never wall
 * clock: it jumps). Source timestamps carried in messages use the real-time
 * clock so that hosts with synchronised clocks can compute end-to-end delay.
 * All functions may be called from any thread.
 */
#ifndef AXON_CLOCK_H
#define AXON_CLOCK_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_NS_PER_US INT64_C(1000)
#define AX_NS_PER_MS INT64_C(1000000)
#define AX_NS_PER_S  INT64_C(1000000000)

/** ax_clock_mono_ns() - CLOCK_MONOTONIC in nanoseconds. */
AX_API int64_t ax_clock_mono_ns(void);

/** ax_clock_real_ns() - CLOCK_REALTIME in nanoseconds since the Unix epoch. */
AX_API int64_t ax_clock_real_ns(void);

/** ax_clock_cpu_ns() - CPU time consumed by the whole process, in nanoseconds. */
AX_API int64_t ax_clock_cpu_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* AXON_CLOCK_H */
