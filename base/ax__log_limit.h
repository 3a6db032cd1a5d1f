/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/ax__log_limit.h: logging what a peer can trigger, at a bounded rate.
 *
 * A hostile or broken peer can make a node refuse thousands of connections
 * or datagrams a second; one warning per refusal would turn the peer's
 * bandwidth into the node's disk and CPU. AX_LOG_LIMITED() keeps a state per
 * call site: at most AX__LOG_LIMIT_BURST lines per AX__LOG_LIMIT_WINDOW_NS,
 * and the first line of the next window says how many were left out.
 *
 *     AX_LOG_LIMITED(AX_LOG_WARN, "tcp", "%s: too many connections", addr);
 *
 * Any thread may log through the same call site: the state is atomic, and a
 * race at a window's edge costs at most a line more or less.
 */
#ifndef AX__LOG_LIMIT_H
#define AX__LOG_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon/clock.h"
#include "axon/log.h"

#define AX__LOG_LIMIT_BURST     5u
#define AX__LOG_LIMIT_WINDOW_NS (10 * 1000000000LL)

struct ax__log_limit {
    _Atomic int64_t window_start; /* monotonic ns; 0: no window yet */
    atomic_uint used;             /* lines emitted in this window */
    atomic_uint suppressed;       /* lines left out since the last emitted one */
    atomic_uint epoch;            /* ax__log_limits_reset()'s count at the window's start */
};

/* Whether a line may go out at monotonic time @now_ns. When it may, and
 * lines were left out before it, *@suppressed is their number (else 0). */
bool ax__log_limit_take(struct ax__log_limit *lim, int64_t now_ns, unsigned *suppressed);

/* Start a new window at every call site (tests that check one line per
 * case call it between cases). */
void ax__log_limits_reset(void);

/* Log through a per-call-site limit (see above). */
#define AX_LOG_LIMITED(level, module, ...)                                                         \
    do {                                                                                           \
        static struct ax__log_limit ax_log_lim_;                                                   \
        unsigned ax_log_sup_;                                                                      \
        if (ax_log_enabled(level) &&                                                               \
            ax__log_limit_take(&ax_log_lim_, ax_clock_mono_ns(), &ax_log_sup_)) {                  \
            if (ax_log_sup_)                                                                       \
                ax_log_write((level), (module), "(%u more like the next were not logged)",         \
                             ax_log_sup_);                                                         \
            ax_log_write((level), (module), __VA_ARGS__);                                          \
        }                                                                                          \
    } while (0)

#endif /* AX__LOG_LIMIT_H */
