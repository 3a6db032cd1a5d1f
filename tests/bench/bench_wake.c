/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a same-host wake-up costs, without axon: two processes play
 * ping-pong, each message a 72-byte frame (a shared-memory descriptor's
 * size), either through a Unix stream socket (send, epoll_wait, recv: how
 * axon's shared-memory links carried frames before their channel) or as a
 * sequence number in shared memory with an eventfd to wake the other side
 * (write, epoll_wait: what the channel does when the reader sleeps). With
 * --size N each side also writes one byte per 4 KiB page of an N-byte
 * buffer before it answers and reads them after, as bench_shm does.
 * docs/performance.md quotes it.
 *
 *   bench_wake [--count N] [--size BYTES]
 *
 * Prints one RESULT line per mode. Bounded: N round trips (default 20000)
 * after 1000 of warm-up, and 10 s of waiting at most per message.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FRAME  72
#define WARMUP 1000

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct shared {
    _Atomic uint64_t seq[2]; /* the last message each side sent */
};

struct side {
    int me, peer;
    int sock;             /* socket mode */
    uint8_t frame[FRAME]; /* a frame being received */
    size_t have;
    int bell[2];       /* eventfd mode: each side's */
    struct shared *sh; /* eventfd mode */
    uint8_t *buf[2];   /* the pages each side writes */
    size_t size;
    int ep;
};

static void touch_write(uint8_t *p, size_t size, uint8_t v)
{
    for (size_t i = 0; i < size; i += 4096)
        p[i] = v;
}

static unsigned touch_read(const uint8_t *p, size_t size)
{
    unsigned s = 0;
    for (size_t i = 0; i < size; i += 4096)
        s += p[i];
    return s;
}

static void send_msg(struct side *s, int mode, uint64_t seq)
{
    if (mode == 0) {
        uint8_t f[FRAME] = {0};
        memcpy(f, &seq, sizeof seq);
        if (send(s->sock, f, sizeof f, MSG_NOSIGNAL) != (ssize_t)sizeof f)
            exit(2);
    } else {
        uint64_t one = 1;
        atomic_store(&s->sh->seq[s->me], seq);
        if (write(s->bell[s->peer], &one, sizeof one) != (ssize_t)sizeof one)
            exit(2);
    }
}

/* Wait for message @seq from the peer. */
static void wait_msg(struct side *s, int mode, uint64_t seq)
{
    for (;;) {
        if (mode == 0) {
            ssize_t n = recv(s->sock, s->frame + s->have, FRAME - s->have, 0);
            if (n > 0 && (s->have += (size_t)n) == FRAME) {
                s->have = 0;
                return;
            }
            if (n > 0)
                continue;
        } else if (atomic_load(&s->sh->seq[s->peer]) == seq) {
            return;
        }
        struct epoll_event e;
        if (epoll_wait(s->ep, &e, 1, 10000) <= 0)
            exit(3);
    }
}

static int run(int mode, int count, size_t size)
{
    struct side s = {.size = size};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        return -1;
    s.bell[0] = eventfd(0, EFD_NONBLOCK);
    s.bell[1] = eventfd(0, EFD_NONBLOCK);
    s.sh = mmap(NULL, sizeof *s.sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 2; i++)
        s.buf[i] = size ? mmap(NULL, size, PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0)
                        : NULL;
    if (s.bell[0] < 0 || s.bell[1] < 0 || s.sh == MAP_FAILED || s.buf[0] == MAP_FAILED ||
        s.buf[1] == MAP_FAILED)
        return -1;
    int64_t *rt = calloc((size_t)count, sizeof *rt);
    if (!rt)
        return -1;
    pid_t child = fork();
    if (child < 0)
        return -1;
    s.me = child == 0;
    s.peer = 1 - s.me;
    s.sock = sv[s.me];
    s.ep = epoll_create1(0);
    /* Edge-triggered, as axon's reactor: the eventfd is never read. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    epoll_ctl(s.ep, EPOLL_CTL_ADD, mode == 0 ? s.sock : s.bell[s.me], &ev);
    unsigned sink = 0;
    for (int i = 0; i < WARMUP + count; i++) {
        uint64_t seq = (uint64_t)i + 1;
        int64_t t0 = now_ns();
        if (s.me == 0) { /* ping */
            if (size)
                touch_write(s.buf[0], size, (uint8_t)seq);
            send_msg(&s, mode, seq);
        }
        wait_msg(&s, mode, seq);
        if (size)
            sink += touch_read(s.buf[s.peer], size);
        if (s.me == 1) { /* pong */
            if (size)
                touch_write(s.buf[1], size, (uint8_t)seq);
            send_msg(&s, mode, seq);
        } else if (i >= WARMUP) {
            rt[i - WARMUP] = now_ns() - t0;
        }
    }
    if (s.me == 1)
        _exit(sink == 1 ? 1 : 0); /* (sink: so the reads stay) */
    int st;
    waitpid(child, &st, 0);
    qsort(rt, (size_t)count, sizeof *rt, cmp);
    printf("RESULT impl=%s test=wake_rt size=%zu samples=%d p50_us=%.1f p99_us=%.1f\n",
           mode == 0 ? "unix_socket" : "shm_eventfd", size, count, rt[count / 2] / 1e3,
           rt[(size_t)count * 99 / 100] / 1e3);
    free(rt);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    int count = 20000;
    size_t size = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--count") == 0)
            count = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--size") == 0)
            size = (size_t)strtoull(argv[i + 1], NULL, 0);
    }
    if (count < 1 || count > 10000000) {
        fprintf(stderr, "usage: bench_wake [--count N] [--size BYTES]\n");
        return 2;
    }
    for (int mode = 0; mode < 2; mode++)
        if (run(mode, count, size) < 0) {
            fprintf(stderr, "bench_wake: mode %d failed\n", mode);
            return 1;
        }
    return 0;
}
