/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tests/ax_say.h: how the programs the tests start (probes, talkers) print
 * a line on stdout: whole, from any thread, flushed at once, so the test
 * reading the pipe never sees half a line or waits on a buffer.
 * Header only; each program has its own copy of the lock.
 */
#ifndef AX_SAY_H
#define AX_SAY_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t ax_say_lock = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void say(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&ax_say_lock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&ax_say_lock);
}

#endif /* AX_SAY_H */
