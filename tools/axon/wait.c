/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signals and waiting: the only places the main thread waits, and so the
 * only places a Ctrl-C is acted on.
 *
 * SIGINT and SIGTERM are blocked before any thread starts, so every thread
 * inherits the mask and none is ever interrupted by them. The main thread
 * waits only in ppoll() with a mask that lets them in (cli_sleep,
 * cli_wait_fd): the handler runs there, sets a flag and ppoll returns. So a
 * Ctrl-C is acted on at the next wait, at a well-defined point of each
 * verb. (A signalfd would do the same natively, but under qemu-user a
 * signal is taken by the emulator's own handler and never reaches the
 * guest's signalfd; ppoll's mask is emulated faithfully.) A second signal
 * exits at once with 130. SIGPIPE is ignored: a closed stdout
 * (`axon topic echo /x | head`) ends the verb through EPIPE.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static volatile sig_atomic_t got_signal;
static sigset_t wait_mask; /* the main thread's mask inside ppoll() */

static void on_signal(int sig)
{
    (void)sig;
    if (got_signal) {
        static const char msg[] = "\naxon: interrupted again: exiting now\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    got_signal = 1;
}

void cli_signals_init(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &wait_mask);
    sigdelset(&wait_mask, SIGINT);
    sigdelset(&wait_mask, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool cli_wait_fd(struct cli *c, int fd, int64_t ns)
{
    if (got_signal)
        c->stop = true;
    if (c->stop)
        return true;
    int64_t end = ax_clock_mono_ns() + (ns > 0 ? ns : 0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = end - ax_clock_mono_ns();
        if (left < 0)
            left = 0;
        struct timespec ts = {.tv_sec = left / AX_NS_PER_S, .tv_nsec = left % AX_NS_PER_S};
        int n = ppoll(&p, fd >= 0 ? 1 : 0, &ts, &wait_mask);
        if (got_signal) {
            c->stop = true;
            return true;
        }
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0 && fd >= 0 && p.revents)
            return false;
        if (ax_clock_mono_ns() >= end)
            return false;
    }
}

bool cli_sleep(struct cli *c, int64_t ns)
{
    return cli_wait_fd(c, -1, ns);
}
