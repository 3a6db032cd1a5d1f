/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_hostile: what a hostile peer can make a running node hold
 * (docs/security.md, "The budget"). The attacks of issue 15, against the
 * data port of a node the caller started, measuring that node's memory
 * and open connections from /proc:
 *
 *   bench_hostile --target 127.0.0.1:PORT --pid PID [--domain D]
 *
 *   big      4 connections say HELLO, announce a 64 MiB frame and send
 *            60 MiB of it
 *   hold     600 connections say HELLO and then nothing, for 12 s
 *   silent   100 connections say nothing at all, for 7 s
 *
 * Each prints the node's VmRSS and VmSize before, at the worst moment and
 * after, and how many of the attacker's connections the node still had
 * open. Bounded: every attack ends by itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/axon.h"
#include "transport/ax__frame.h"
#include "transport/stream/ax__stream.h"

static struct sockaddr_in target;
static int target_pid;
static uint32_t domain;

/* VmRSS and VmSize of the target, in KiB. */
static void vm(long *rss, long *size)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", target_pid);
    FILE *f = fopen(path, "r");
    *rss = *size = -1;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss);
        sscanf(line, "VmSize: %ld", size);
    }
    fclose(f);
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&target, sizeof target) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void send_header(int fd, uint8_t type, uint32_t len)
{
    uint8_t h[AX__FRAME_HEADER_SIZE];
    struct ax__frame_hdr fh = {.type = type, .payload_len = len};
    ax__frame_encode_header(h, &fh);
    (void)!send(fd, h, sizeof h, MSG_NOSIGNAL);
}

static void send_hello(int fd)
{
    struct ax__link_peer self = {
        .node_id = 0xbad, .incarnation = 1, .domain = domain, .max_frame = 64u << 20};
    snprintf(self.node_name, sizeof self.node_name, "hostile");
    uint8_t body[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_hello_encode(&self, false, body, sizeof body);
    send_header(fd, AX__FRAME_HELLO, (uint32_t)n);
    (void)!send(fd, body, (size_t)n, MSG_NOSIGNAL);
}

/* How many of @fds the node has not closed (read what it sent; EOF or
 * a reset means closed). */
static int still_open(int *fds, int n)
{
    int open_ = 0;
    char buf[4096];
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            continue;
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        ssize_t k;
        while ((k = read(fds[i], buf, sizeof buf)) > 0) {
        }
        if (k < 0 && errno == EAGAIN) {
            open_++;
        } else {
            close(fds[i]);
            fds[i] = -1;
        }
    }
    return open_;
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void report(const char *what, int open_, int of)
{
    long rss, size;
    vm(&rss, &size);
    printf("  %-34s VmRSS %7ld KiB  VmSize %8ld KiB  attacker connections open %d/%d\n", what, rss,
           size, open_, of);
    fflush(stdout);
}

static void wait_ms(int ms)
{
    poll(NULL, 0, ms); /* a bench, not a test: the attack holds for a set time */
}

static void attack_big(void)
{
    enum { N = 4 };
    int fds[N];
    static uint8_t chunk[1 << 20];
    memset(chunk, 'x', sizeof chunk);
    printf("big: %d connections, HELLO, a 64 MiB frame announced, 60 MiB sent\n", N);
    report("before", 0, N);
    for (int i = 0; i < N; i++) {
        fds[i] = dial();
        if (fds[i] < 0)
            continue;
        send_hello(fds[i]);
        send_header(fds[i], AX__FRAME_DATA, 64u << 20);
        struct timeval tv = {.tv_sec = 1};
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        for (int m = 0; m < 60; m++)
            if (send(fds[i], chunk, sizeof chunk, MSG_NOSIGNAL) < 0)
                break; /* closed, or stopped reading */
    }
    report("after sending", still_open(fds, N), N);
    close_all(fds, N);
    wait_ms(500);
    report("500 ms after closing", 0, N);
}

static void attack_hold(int n, bool hello, int hold_ms, const char *name)
{
    int *fds = calloc((size_t)n, sizeof *fds);
    printf("%s: %d connections, %s, held %d s\n", name, n, hello ? "HELLO then nothing" : "nothing",
           hold_ms / 1000);
    report("before", 0, n);
    for (int i = 0; i < n; i++) {
        fds[i] = dial();
        if (fds[i] >= 0 && hello)
            send_hello(fds[i]);
    }
    wait_ms(1000);
    report("1 s after connecting", still_open(fds, n), n);
    wait_ms(hold_ms - 1000);
    report("at the end", still_open(fds, n), n);
    close_all(fds, n);
    free(fds);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"target", 1, 0, 't'}, {"pid", 1, 0, 'p'}, {"domain", 1, 0, 'd'}, {0, 0, 0, 0}};
    const char *t = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 't')
            t = optarg;
        else if (c == 'p')
            target_pid = atoi(optarg);
        else if (c == 'd')
            domain = (uint32_t)atoi(optarg);
        else
            return 2;
    }
    char host[64];
    const char *colon = t ? strrchr(t, ':') : NULL;
    if (!colon || !target_pid || (size_t)(colon - t) >= sizeof host) {
        fprintf(stderr, "usage: bench_hostile --target IP:PORT --pid PID [--domain D]\n");
        return 2;
    }
    memcpy(host, t, (size_t)(colon - t));
    host[colon - t] = '\0';
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
        return 2;
    struct rlimit rl = {4096, 4096};
    setrlimit(RLIMIT_NOFILE, &rl);
    attack_big();
    attack_hold(600, true, 12000, "hold");
    attack_hold(100, false, 7000, "silent");
    return 0;
}
