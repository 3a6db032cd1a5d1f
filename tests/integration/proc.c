/* SPDX-License-Identifier: Apache-2.0 */
/* Integration test harness (see proc.h). */
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

#include "proc.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *proc_exec_words(char *const argv[], char **words, int cap)
{
    int nw = 0;
    char *emu = getenv("AXON_TEST_EMULATOR");
    char *emu_copy = emu && *emu ? strdup(emu) : NULL;
    if (emu_copy) {
        char *save = NULL;
        for (char *t = strtok_r(emu_copy, " ;", &save); t && nw < 16 && nw < cap - 1;
             t = strtok_r(NULL, " ;", &save))
            words[nw++] = t;
    }
    for (int i = 0; argv[i] && nw < cap - 1; i++)
        words[nw++] = argv[i];
    words[nw] = NULL;
    return emu_copy;
}

int proc_start(struct proc *p, const char *name, char *const argv[])
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
        return -1;
    char *words[64];
    char *emu_copy = proc_exec_words(argv, words, 64);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execv(words[0], words);
        fprintf(stderr, "exec %s: %s\n", words[0], strerror(errno));
        _exit(127);
    }
    free(emu_copy);
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];
    p->out_fd = out[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    return 0;
}

bool proc_wait_line(struct proc *p, const char *prefix, const char *needle, int ms, char *line,
                    size_t size)
{
    long long end = now_ms() + ms;
    for (;;) {
        /* Look at every complete line in the buffer. */
        char *nl;
        while ((nl = memchr(p->buf, '\n', p->len)) != NULL) {
            *nl = '\0';
            bool hit =
                strncmp(p->buf, prefix, strlen(prefix)) == 0 && (!needle || strstr(p->buf, needle));
            if (hit && line)
                snprintf(line, size, "%s", p->buf);
            size_t used = (size_t)(nl - p->buf) + 1;
            memmove(p->buf, nl + 1, p->len - used);
            p->len -= used;
            if (hit)
                return true;
        }
        long long left = end - now_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
        if (poll(&pf, 1, (int)(left > 100 ? 100 : left)) <= 0)
            continue;
        ssize_t n = read(p->out_fd, p->buf + p->len, sizeof p->buf - 1 - p->len);
        if (n > 0)
            p->len += (size_t)n;
        else if (n == 0)
            return false; /* the process closed its stdout */
    }
}

int proc_stop(struct proc *p, int ms)
{
    if (p->in_fd >= 0)
        close(p->in_fd);
    p->in_fd = -1;
    long long end = now_ms() + ms;
    while (now_ms() < end) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            close(p->out_fd);
            p->exited = true;
            return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
        }
        struct pollfd none = {.fd = -1};
        poll(&none, 0, 10);
    }
    proc_kill9(p);
    return -1;
}

void proc_kill9(struct proc *p)
{
    if (p->exited)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &p->status, 0);
    if (p->in_fd >= 0)
        close(p->in_fd);
    close(p->out_fd);
    p->in_fd = -1;
    p->exited = true;
}

bool proc_sigstop(struct proc *p, int ms)
{
    if (p->exited || kill(p->pid, SIGSTOP) < 0)
        return false;
    for (int waited = 0; waited <= ms; waited++) {
        int st;
        pid_t r = waitpid(p->pid, &st, WUNTRACED | WNOHANG);
        if (r == p->pid && WIFSTOPPED(st))
            return true;   /* the whole group: waitpid says so only then */
        if (r == p->pid) { /* it ended instead */
            p->status = st;
            p->exited = true;
            return false;
        }
        struct timespec ts = {0, 1000 * 1000}; /* polling the kernel's answer */
        nanosleep(&ts, NULL);
    }
    return false;
}

bool line_field(const char *line, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *s = line;
    while ((s = strstr(s, pat)) != NULL) {
        if (s == line || s[-1] == ' ') {
            s += strlen(pat);
            size_t n = strcspn(s, " ");
            if (n >= size)
                n = size - 1;
            memcpy(out, s, n);
            out[n] = '\0';
            return true;
        }
        s++;
    }
    return false;
}
