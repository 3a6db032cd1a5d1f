/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the cases of the CLI test driver (test_cli.c, test_cli_bag.c) share:
 * the paths and domain main() sets, running axon and talkers, and the
 * checks on their output. Every wait has a deadline.
 */
#ifndef AX_TEST_CLI_FIXTURE_H
#define AX_TEST_CLI_FIXTURE_H

#include <stdbool.h>

#include "clirun.h"
#include "proc.h"

extern const char *axon_bin, *talker_bin, *node_dir, *work_dir;
extern bool emulated;
extern char domain[8];
extern const char *wait_s;
/* The reference reader could not run: the test exits 77 (skipped) if
 * nothing else failed, after printing why. */
extern bool reference_skipped;

/* Milliseconds, stretched under emulation. */
int ms(int n);
/* Start axon with the NULL-terminated arguments plus --domain and --wait. */
void axon_start(struct cli_proc *p, const char *first, ...);
/* Start axon with exactly the NULL-terminated arguments (no --domain or
 * --wait added: for verbs that need no node, and for testing --wait). */
void axon_start_bare(struct cli_proc *p, const char *first, ...);
void dump(const struct cli_proc *p);
int count_of(const char *hay, const char *needle);
/* Start a talker with --name and --domain and the NULL-terminated extra
 * arguments; wait for READY. */
void talker(struct proc *p, const char *name, ...);
void say_to(struct proc *p, const char *line);
/* WORK_DIR/name, in one of four rotating buffers. */
char *path_in_work(const char *name);

/* Run axon to completion; returns its exit code, output in @p. */
#define AXON(p, timeout, ...)                                                                      \
    (axon_start((p), __VA_ARGS__, NULL), cli_proc_finish((p), ms(timeout)))

#define AXON_BARE(p, timeout, ...)                                                                 \
    (axon_start_bare((p), __VA_ARGS__, NULL), cli_proc_finish((p), ms(timeout)))

#define EXPECT_EXIT(p, code)                                                                       \
    do {                                                                                           \
        if ((p)->status != (code) || !(p)->exited) {                                               \
            dump(p);                                                                               \
            fail_msg("axon exited with %d, expected %d", (p)->exited ? (p)->status : -1, (code));  \
        }                                                                                          \
    } while (0)

#define EXPECT_OUT(p, stream, text)                                                                \
    do {                                                                                           \
        if (!(p)->buf[stream] || !strstr((p)->buf[stream], (text))) {                              \
            dump(p);                                                                               \
            fail_msg("%s does not contain: %s", (stream) ? "stderr" : "stdout", (text));           \
        }                                                                                          \
    } while (0)

#define EXPECT_NOT_OUT(p, stream, text)                                                            \
    do {                                                                                           \
        if ((p)->buf[stream] && strstr((p)->buf[stream], (text))) {                                \
            dump(p);                                                                               \
            fail_msg("%s contains: %s", (stream) ? "stderr" : "stdout", (text));                   \
        }                                                                                          \
    } while (0)

#endif
