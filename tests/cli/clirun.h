/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running the `axon` binary from tests: start it (under AXON_TEST_EMULATOR
 * when set, as tests/integration/proc.c does), collect its stdout and
 * stderr separately, wait for a line with a deadline, send it a signal,
 * wait for its exit with a deadline (killing it past the deadline).
 */
#ifndef AX_TEST_CLIRUN_H
#define AX_TEST_CLIRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cli_proc {
    pid_t pid;
    int fd[2];    /* stdout, stderr (-1 once at EOF) */
    char *buf[2]; /* everything read so far, NUL-terminated */
    size_t len[2], cap[2];
    size_t seen[2]; /* cli_proc_wait_line() consumed up to here */
    bool exited;
    int status; /* exit code, or 128 + signal */
};

/* Start @argv (argv[0] a path). Returns 0 or -1. */
int cli_proc_start(struct cli_proc *p, char *const argv[]);

/* Wait up to @ms for a new complete line of stdout (@stream 0) or stderr
 * (1) containing @needle; copies it to @line. Returns true when found. */
bool cli_proc_wait_line(struct cli_proc *p, int stream, const char *needle, int ms, char *line,
                        size_t size);

void cli_proc_signal(struct cli_proc *p, int sig);

/* Read what is there (waiting at most @ms) and reap it if it exited.
 * Returns true once it has exited. */
bool cli_proc_poll(struct cli_proc *p, int ms);

/* Wait up to @ms for the exit (reading everything); kill -9 past it.
 * Returns the exit code, 128 + signal, or -1 when it had to be killed. */
int cli_proc_finish(struct cli_proc *p, int ms);

void cli_proc_free(struct cli_proc *p);

/* The last line of @stream containing @needle, copied to @line. */
bool cli_proc_last_line(const struct cli_proc *p, int stream, const char *needle, char *line,
                        size_t size);

/* Numbers and strings out of one JSON object's text, by key (first match). */
bool json_num(const char *json, const char *key, double *out);
bool json_str(const char *json, const char *key, char *out, size_t size);

#endif
