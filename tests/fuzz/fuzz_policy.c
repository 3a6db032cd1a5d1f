/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the access policy loader (core/policy.c): a policy
 * file is not network input, but it is YAML an operator writes and copies
 * between machines, and the loader must refuse anything malformed with a
 * reason, never crash, leak or take unbounded time.
 *
 * Properties, besides "no crash, no leak, no UB": a refused document says
 * why (a message naming the input); an accepted one answers questions
 * (the decisions are total functions) and the same text parses to the same
 * decisions again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ax__policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const probes[] = {"", "/", "/a", "/a/b", "*", "**", "lidar", "planner", "x"};
#define NPROBES (sizeof probes / sizeof probes[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char err[512] = "";
    ax__policy *p = NULL, *q = NULL;
    int rc = ax__policy_parse((const char *)data, size, "fuzz", &p, err, sizeof err);
    if (rc != 0) {
        if (p || !strstr(err, "fuzz"))
            abort(); /* a refusal without a reason, or a policy anyway */
        return 0;
    }
    if (ax__policy_parse((const char *)data, size, "fuzz", &q, err, sizeof err) != 0)
        abort(); /* accepted once, refused the second time */
    for (size_t i = 0; i < NPROBES; i++)
        for (size_t k = 0; k < NPROBES; k++)
            for (int act = 0; act < AX__POLICY_NACTIONS; act++)
                if (ax__policy_allows(p, probes[i], (enum ax__policy_action)act, probes[k]) !=
                    ax__policy_allows(q, probes[i], (enum ax__policy_action)act, probes[k]))
                    abort();
    for (size_t i = 0; i < NPROBES; i++)
        if (ax__policy_allows_shm(p, probes[i], 1000, 1000) !=
            ax__policy_allows_shm(q, probes[i], 1000, 1000))
            abort();
    ax__policy_free(p);
    ax__policy_free(q);
    return 0;
}
