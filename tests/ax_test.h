/* Shared helpers for axon's cmocka tests. */
#ifndef AX_TEST_H
#define AX_TEST_H

/* cmocka needs these before it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "axon/axon.h"

/* Assert an axon call returned 0, printing the error's name otherwise. */
#define AX_OK_OR_FAIL(expr)                                                                        \
    do {                                                                                           \
        int ax_t_rc_ = (expr);                                                                     \
        if (ax_t_rc_ != 0)                                                                         \
            fail_msg("%s -> %s (%s)", #expr, ax_err_name(ax_t_rc_), ax_strerror(ax_t_rc_));        \
    } while (0)

/* Every loop test ends here: the loop must close with nothing left open. */
#define AX_ASSERT_LOOP_FREE(loop)                                                                  \
    do {                                                                                           \
        assert_int_equal(ax_loop_open_count(loop), 0);                                             \
        AX_OK_OR_FAIL(ax_loop_free(loop));                                                         \
    } while (0)

/* Step @loop until @cond holds, failing the test after @ms milliseconds.
 * This is how tests wait: on a condition with a deadline, never a sleep. */
#define AX_STEP_UNTIL(loop, cond, ms)                                                              \
    do {                                                                                           \
        int64_t ax_t_end_ = ax_clock_mono_ns() + (int64_t)(ms)*AX_NS_PER_MS;                       \
        while (!(cond)) {                                                                          \
            if (ax_clock_mono_ns() > ax_t_end_)                                                    \
                fail_msg("timed out after %d ms waiting for: %s", (int)(ms), #cond);               \
            int ax_t_rc_ = ax_loop_step((loop), 10);                                               \
            if (ax_t_rc_ < 0)                                                                      \
                fail_msg("ax_loop_step: %s", ax_err_name(ax_t_rc_));                               \
        }                                                                                          \
    } while (0)

#endif /* AX_TEST_H */
