/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small harness for integration tests: start a program as a separate
 * process with pipes on its stdin and stdout, wait for lines it prints
 * (always with a deadline), kill it. When the tests run under an emulator
 * (the aarch64 build under qemu-user), AXON_TEST_EMULATOR holds the
 * emulator command line and is put in front of every program started.
 */
#ifndef AX_TEST_PROC_H
#define AX_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int in_fd;  /* its stdin */
    int out_fd; /* its stdout */
    char buf[65536];
    size_t len;
    char name[64];
    bool exited;
    int status;
};

/* The words to execv(): the emulator's (AXON_TEST_EMULATOR, split on
 * spaces), then @argv, NULL-terminated, in @words (@cap entries). Returns
 * the string to free() after the fork (NULL when there is no emulator). */
char *proc_exec_words(char *const argv[], char **words, int cap);

/* Start @argv[0] (a path) with @argv. Returns 0 or -1 (errno). */
int proc_start(struct proc *p, const char *name, char *const argv[]);

/* Wait up to @ms for a line starting with @prefix and containing @needle
 * (NULL: any). Lines read before it are consumed. Copies the line (without
 * the newline) to @line when not NULL. Returns true if found. */
bool proc_wait_line(struct proc *p, const char *prefix, const char *needle, int ms, char *line,
                    size_t size);

/* Close its stdin (the probes then exit cleanly) and reap it within @ms,
 * killing it if needed. Returns its exit status (or -1 if killed). */
int proc_stop(struct proc *p, int ms);

/* kill -9 and reap. */
void proc_kill9(struct proc *p);

/* SIGSTOP, and wait up to @ms until every thread of it has stopped (kill()
 * only asks: a thread on another core runs on for a moment). Returns
 * true once it has. */
bool proc_sigstop(struct proc *p, int ms);

/* Extract "key=value" from a line into @out. Returns true if present. */
bool line_field(const char *line, const char *key, char *out, size_t size);

#endif
