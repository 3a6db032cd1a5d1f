/* SPDX-License-Identifier: Apache-2.0 */
/* Running `axon` from the CLI tests (see clirun.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/ax__array.h"
#include "clirun.h"
#include "proc.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cli_proc_start(struct cli_proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
        return -1;
    char *words[96];
    char *emu_copy = proc_exec_words(argv, words, 96);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(words[0], words);
        fprintf(stderr, "exec %s: %s\n", words[0], strerror(errno));
        _exit(127);
    }
    free(emu_copy);
    close(out[1]);
    close(err[1]);
    p->fd[0] = out[0];
    p->fd[1] = err[0];
    for (int i = 0; i < 2; i++) {
        fcntl(p->fd[i], F_SETFL, O_NONBLOCK);
        p->cap[i] = 4096;
        p->buf[i] = calloc(1, p->cap[i]);
    }
    return 0;
}

/* Read what is available, waiting at most @ms for something. */
static void pump(struct cli_proc *p, int ms)
{
    struct pollfd pf[2];
    int n = 0, map[2];
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0) {
            pf[n] = (struct pollfd){.fd = p->fd[i], .events = POLLIN};
            map[n++] = i;
        }
    }
    if (n == 0) {
        struct pollfd none = {.fd = -1};
        poll(&none, 0, ms < 10 ? ms : 10);
        return;
    }
    if (poll(pf, (nfds_t)n, ms) <= 0)
        return;
    for (int k = 0; k < n; k++) {
        int i = map[k];
        if (!pf[k].revents)
            continue;
        for (;;) {
            if (ax__array_reserve(&p->buf[i], &p->cap[i], p->len[i] + 4097, 4096) < 0) {
                fprintf(stderr, "clirun: out of memory after %zu bytes of output\n", p->len[i]);
                abort();
            }
            ssize_t r = read(p->fd[i], p->buf[i] + p->len[i], 4096);
            if (r > 0) {
                p->len[i] += (size_t)r;
                p->buf[i][p->len[i]] = '\0';
                continue;
            }
            if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(p->fd[i]);
                p->fd[i] = -1;
            }
            break;
        }
    }
}

bool cli_proc_wait_line(struct cli_proc *p, int stream, const char *needle, int ms, char *line,
                        size_t size)
{
    long long end = now_ms() + ms;
    for (;;) {
        char *start = p->buf[stream] + p->seen[stream];
        char *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            bool hit = !needle || strstr(start, needle);
            if (hit && line)
                snprintf(line, size, "%s", start);
            *nl = '\n';
            p->seen[stream] = (size_t)(nl + 1 - p->buf[stream]);
            start = nl + 1;
            if (hit)
                return true;
        }
        long long left = end - now_ms();
        if (left <= 0 || (p->fd[stream] < 0))
            return false;
        pump(p, (int)(left > 100 ? 100 : left));
    }
}

void cli_proc_signal(struct cli_proc *p, int sig)
{
    if (!p->exited)
        kill(p->pid, sig);
}

bool cli_proc_poll(struct cli_proc *p, int ms)
{
    if (p->exited)
        return true;
    pump(p, ms);
    int st;
    if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->exited = true;
        p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        while (p->fd[0] >= 0 || p->fd[1] >= 0)
            pump(p, 100);
    }
    return p->exited;
}

int cli_proc_finish(struct cli_proc *p, int ms)
{
    long long end = now_ms() + ms;
    bool killed = false;
    while (!p->exited) {
        pump(p, 20);
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->exited = true;
            p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (now_ms() > end && !killed) {
            kill(p->pid, SIGKILL);
            killed = true;
        }
    }
    while (p->fd[0] >= 0 || p->fd[1] >= 0)
        pump(p, 100);
    return killed ? -1 : p->status;
}

void cli_proc_free(struct cli_proc *p)
{
    if (!p->exited)
        cli_proc_finish(p, 0);
    for (int i = 0; i < 2; i++) {
        if (p->fd[i] >= 0)
            close(p->fd[i]);
        free(p->buf[i]);
        p->buf[i] = NULL;
    }
}

bool cli_proc_last_line(const struct cli_proc *p, int stream, const char *needle, char *line,
                        size_t size)
{
    const char *s = p->buf[stream];
    bool found = false;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char tmp[65536];
        size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
        memcpy(tmp, s, k);
        tmp[k] = '\0';
        if (!needle || strstr(tmp, needle)) {
            snprintf(line, size, "%s", tmp);
            found = true;
        }
        s = nl ? nl + 1 : s + n;
    }
    return found;
}

static const char *find_key(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *s = strstr(json, pat);
    if (!s)
        return NULL;
    s += strlen(pat);
    while (*s == ' ')
        s++;
    return s;
}

bool json_num(const char *json, const char *key, double *out)
{
    const char *s = find_key(json, key);
    if (!s)
        return false;
    char *end;
    double d = strtod(s, &end);
    if (end == s)
        return false;
    *out = d;
    return true;
}

bool json_str(const char *json, const char *key, char *out, size_t size)
{
    const char *s = find_key(json, key);
    if (!s || *s != '"')
        return false;
    s++;
    size_t n = 0;
    while (s[n] && s[n] != '"')
        n++;
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}
