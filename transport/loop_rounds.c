/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A loop's rounds: how many ended, and waiting for the next
 * (ax_loop_rounds(), ax_loop_wait_round()).
 *
 * A thread that waits for what a callback will do (ax_sub_wait()) serves
 * the loop itself when it can; when it cannot (the loop's thread is busy,
 * maybe running that very callback) it sleeps until the round ends and
 * looks again. The counter is the futex word. A waiter raises want_wake,
 * then reads the count; an ender adds to the count, then takes want_wake
 * back (an exchange) and wakes every waiter if it was up. All four are
 * sequentially consistent: either the ender sees the flag, or the waiter
 * sees the new count and does not sleep. A waiter writes nothing after it
 * wakes, so a loop freed meanwhile (its node destroyed) is not touched. A
 * round nobody waits for costs one atomic add and one exchange.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "transport/ax__loop.h"

void ax__loop_round_done(ax_loop *loop)
{
    atomic_fetch_add(&loop->rounds, 1);
    if (atomic_load(&loop->want_wake) && atomic_exchange(&loop->want_wake, false))
        syscall(SYS_futex, &loop->rounds, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

unsigned ax_loop_rounds(const ax_loop *loop)
{
    return atomic_load(&loop->rounds);
}

int ax_loop_wait_round(ax_loop *loop, unsigned seen, int timeout_ms)
{
    if (!loop)
        return AX_EINVAL;
    int rc = 0;
    atomic_store(&loop->want_wake, true);
    if (atomic_load(&loop->rounds) == seen) {
        struct timespec ts = {.tv_sec = timeout_ms / 1000,
                              .tv_nsec = (timeout_ms % 1000) * 1000000L};
        int saved = errno;
        if (syscall(SYS_futex, &loop->rounds, FUTEX_WAIT_PRIVATE, seen, timeout_ms < 0 ? NULL : &ts,
                    NULL, 0) < 0 &&
            errno == ETIMEDOUT)
            rc = AX_ETIMEDOUT;
        errno = saved;
    }
    return rc;
}
