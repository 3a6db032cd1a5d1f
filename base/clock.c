/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks in nanoseconds. clock_gettime() on these clocks is a vDSO call and
 * cannot fail for valid clock ids, so the results are not checked. */
#include <time.h>

#include "axon/clock.h"

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * AX_NS_PER_S + ts.tv_nsec;
}

int64_t ax_clock_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t ax_clock_real_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t ax_clock_cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}
