/* SPDX-License-Identifier: Apache-2.0 */
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
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/* Wait until @cond holds (another thread makes it true: a node's loop
 * thread), polling every 2 ms; fail the test after @ms milliseconds. */
#define WAIT_FOR(cond, ms)                                                                         \
    do {                                                                                           \
        int64_t wf_end_ = ax_clock_mono_ns() + (int64_t)(ms)*AX_NS_PER_MS;                         \
        while (!(cond)) {                                                                          \
            if (ax_clock_mono_ns() > wf_end_)                                                      \
                fail_msg("timed out after %d ms waiting for: %s", (int)(ms), #cond);               \
            struct timespec wf_ts_ = {0, 2 * 1000 * 1000};                                         \
            nanosleep(&wf_ts_, NULL);                                                              \
        }                                                                                          \
    } while (0)

/*
 * Discovery domains (0..232) of the tests.
 *
 * Nodes in one domain and one network namespace find each other, so two
 * tests that run at the same time (ctest -j) must never use the same
 * domain: each would see the other's nodes and endpoints (and a host has
 * only 8 unicast discovery ports per domain). Each test binary therefore
 * owns a block of domains that no other binary touches, cut into `slots`
 * slots of `width` consecutive domains, one per domain the binary uses
 * (its k, 0..width-1). A process picks its slot from its pid, so two
 * copies of the same binary (run by hand, or by `ctest --repeat` next to
 * another run) usually differ as well; two binaries never meet, whatever
 * their pids. The blocks follow each other from domain 10 in the order of
 * enum axt_domain_block, so they cannot overlap; axt_domain() aborts if
 * they no longer fit below 233 or k is outside the width.
 *
 *   block                     width slots  domains   runs
 *   (defaults, examples, tools run by hand)  0..9
 *   AXT_DOMAINS_NODE            7     7    10..58    in parallel
 *   AXT_DOMAINS_PUBSUB          6     8    59..106   in parallel
 *   AXT_DOMAINS_DISC_SCAN       2     8    107..122  in parallel
 *   AXT_DOMAINS_DISC_PROCS      6     6    123..158  RUN_SERIAL
 *   AXT_DOMAINS_PUBSUB_PROCS    1     3    159..161  RUN_SERIAL
 *   AXT_DOMAINS_CLI            15     2    162..191  k = the case; cli_help
 *                                                    and cli_config in
 *                                                    parallel, the rest
 *                                                    RUN_SERIAL
 *   AXT_DOMAINS_SHM_PROCS       1     2    192..193  RUN_SERIAL
 *   AXT_DOMAINS_BLOCK           2     2    194..197  in parallel
 *   AXT_DOMAINS_SHM_STRESS      1     2    198..199  in parallel
 *   AXT_DOMAINS_GAPS_PROCS      1     2    200..201  RUN_SERIAL
 *   AXT_DOMAINS_HOST_PROCS      3     2    202..207  RUN_SERIAL
 *   AXT_DOMAINS_CHURN_PROCS     1     2    208..209  RUN_SERIAL
 *   AXT_DOMAINS_DISC_BOUNDS     1     2    210..211  in parallel
 *   AXT_DOMAINS_TLS             2     2    212..215  in parallel
 *   AXT_DOMAINS_SERVICE         3     2    216..221  in parallel
 *   AXT_DOMAINS_SERVICE_PROCS   1     2    222..223  RUN_SERIAL
 *   AXT_DOMAINS_PARAM           1     1    224       in parallel
 *   AXT_DOMAINS_PIPELINE_PROCS  1     1    225       RUN_SERIAL
 *   AXT_DOMAINS_DIRECT          2     2    226..229  in parallel
 *   (230..232 free; beyond, a new block means narrowing one above)
 *
 * RUN_SERIAL tests run alone, so their blocks only matter for runs by
 * hand; they get blocks of their own all the same, so this is the one
 * place to look. tests/integration/disc_netns.sh and disc_loss.sh use
 * domains 7, 8 and 9, inside network namespaces of their own. A new test
 * binary that starts nodes adds a block at the end of the enum.
 */
enum axt_domain_block {
    AXT_DOMAINS_NODE,          /* tests/unit/test_node.c */
    AXT_DOMAINS_PUBSUB,        /* tests/unit/test_pubsub.c */
    AXT_DOMAINS_DISC_SCAN,     /* tests/unit/test_disc_scan.c */
    AXT_DOMAINS_DISC_PROCS,    /* tests/integration/test_disc_procs.c */
    AXT_DOMAINS_PUBSUB_PROCS,  /* tests/integration/test_pubsub_procs.c */
    AXT_DOMAINS_CLI,           /* tests/cli/test_cli.c */
    AXT_DOMAINS_SHM_PROCS,     /* tests/integration/test_shm_procs.c */
    AXT_DOMAINS_BLOCK,         /* tests/unit/test_block.c */
    AXT_DOMAINS_SHM_STRESS,    /* tests/unit/test_shm_stress.c */
    AXT_DOMAINS_GAPS_PROCS,    /* tests/integration/test_gaps_procs.c */
    AXT_DOMAINS_HOST_PROCS,    /* tests/integration/test_host_procs.c */
    AXT_DOMAINS_CHURN_PROCS,   /* tests/integration/test_churn_procs.c */
    AXT_DOMAINS_DISC_BOUNDS,   /* tests/unit/test_disc_bounds.c */
    AXT_DOMAINS_TLS,           /* tests/unit/test_tls.c */
    AXT_DOMAINS_SERVICE,       /* tests/unit/test_service.c */
    AXT_DOMAINS_SERVICE_PROCS, /* tests/integration/test_service_procs.c */
    AXT_DOMAINS_PARAM,         /* tests/unit/test_param.c */
    AXT_DOMAINS_PIPELINE_PROCS, /* tests/integration/test_pipeline_procs.c */
    AXT_DOMAINS_DIRECT,         /* tests/unit/test_publish_direct.c */
    AXT_DOMAINS_COUNT_
};

/* Domain @k of this process in block @b (see above). */
static inline uint32_t axt_domain(enum axt_domain_block b, unsigned k)
{
    static const struct {
        uint32_t width, slots;
    } blocks[AXT_DOMAINS_COUNT_] = {
        [AXT_DOMAINS_NODE] = {7, 7},         [AXT_DOMAINS_PUBSUB] = {6, 8},
        [AXT_DOMAINS_DISC_SCAN] = {2, 8},    [AXT_DOMAINS_DISC_PROCS] = {6, 6},
        [AXT_DOMAINS_PUBSUB_PROCS] = {1, 3}, [AXT_DOMAINS_CLI] = {15, 2},
        [AXT_DOMAINS_SHM_PROCS] = {1, 2},    [AXT_DOMAINS_BLOCK] = {2, 2},
        [AXT_DOMAINS_SHM_STRESS] = {1, 2},   [AXT_DOMAINS_GAPS_PROCS] = {1, 2},
        [AXT_DOMAINS_HOST_PROCS] = {3, 2},   [AXT_DOMAINS_CHURN_PROCS] = {1, 2},
        [AXT_DOMAINS_DISC_BOUNDS] = {1, 2},  [AXT_DOMAINS_TLS] = {2, 2},
        [AXT_DOMAINS_SERVICE] = {3, 2},      [AXT_DOMAINS_SERVICE_PROCS] = {1, 2},
        [AXT_DOMAINS_PARAM] = {1, 1},         [AXT_DOMAINS_PIPELINE_PROCS] = {1, 1},
        [AXT_DOMAINS_DIRECT] = {2, 2},
    };
    uint32_t first = 10, end = 10;
    for (int i = 0; i < AXT_DOMAINS_COUNT_; i++) {
        if (i == (int)b)
            first = end;
        end += blocks[i].width * blocks[i].slots;
    }
    if ((unsigned)b >= AXT_DOMAINS_COUNT_ || k >= blocks[b].width || end > 233) {
        fprintf(stderr, "axt_domain(%d, %u): outside the blocks of tests/ax_test.h\n", (int)b, k);
        abort();
    }
    return first + (uint32_t)getpid() % blocks[b].slots * blocks[b].width + k;
}

#endif /* AX_TEST_H */
