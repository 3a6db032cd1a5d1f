/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the CLI tells the user on stderr: errors, warnings and notes, each
 * prefixed "axon:". stdout is flushed first so that, on a terminal, a
 * message lands after the output it comments on.
 */
#include <stdarg.h>

#include "cli.h"

static void say(const char *prefix, const char *fmt, va_list ap)
{
    fflush(stdout);
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("axon: error: ", fmt, ap);
    va_end(ap);
    return CLI_EXIT_ERR;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("axon: warning: ", fmt, ap);
    va_end(ap);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("axon: ", fmt, ap);
    va_end(ap);
}
