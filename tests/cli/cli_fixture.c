/* SPDX-License-Identifier: Apache-2.0 */
/* What the CLI test cases share (cli_fixture.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_test.h"
#include "cli_fixture.h"

const char *axon_bin, *talker_bin, *node_dir, *work_dir;
bool emulated;
char domain[8];
const char *wait_s = "1.5";
/* The reference reader could not run: the test exits 77 (skipped) if
 * nothing else failed, after printing why. */
bool reference_skipped;

/* ---- helpers ---- */

/* Milliseconds, stretched under emulation. */
int ms(int n)
{
    return emulated ? n * 4 : n;
}

/* Start axon with the NULL-terminated arguments plus --domain and --wait. */
void axon_start(struct cli_proc *p, const char *first, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)axon_bin;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 58; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n++] = "--domain";
    argv[n++] = domain;
    argv[n++] = "--wait";
    argv[n++] = (char *)wait_s;
    argv[n] = NULL;
    if (cli_proc_start(p, argv) < 0)
        fail_msg("cannot start %s: %s", axon_bin, strerror(errno));
}

/* Start axon with exactly the NULL-terminated arguments (no --domain or
 * --wait added: for verbs that need no node, and for testing --wait). */
void axon_start_bare(struct cli_proc *p, const char *first, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)axon_bin;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 62; a = va_arg(ap, const char *))
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    if (cli_proc_start(p, argv) < 0)
        fail_msg("cannot start %s: %s", axon_bin, strerror(errno));
}

void dump(const struct cli_proc *p)
{
    fprintf(stderr, "---- stdout:\n%s---- stderr:\n%s----\n", p->buf[0] ? p->buf[0] : "",
            p->buf[1] ? p->buf[1] : "");
}

int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *s = hay; s && (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    return n;
}

/* Start a talker with --name and --domain and the NULL-terminated extra
 * arguments; wait for READY. */
void talker(struct proc *p, const char *name, ...)
{
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)talker_bin;
    argv[n++] = "--name";
    argv[n++] = (char *)name;
    argv[n++] = "--domain";
    argv[n++] = domain;
    va_list ap;
    va_start(ap, name);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && n < 62;)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    if (proc_start(p, name, argv) < 0)
        fail_msg("cannot start the talker: %s", strerror(errno));
    if (!proc_wait_line(p, "READY", NULL, ms(20000), NULL, 0))
        fail_msg("talker %s did not start", name);
}

void say_to(struct proc *p, const char *line)
{
    ssize_t w = write(p->in_fd, line, strlen(line));
    (void)w;
}

char *path_in_work(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", work_dir, name);
    return b;
}
