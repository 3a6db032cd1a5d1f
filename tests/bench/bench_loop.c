/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_loop: reactor micro-benchmark (a program, not a test).
 *
 *   bench_loop [--quick]
 *
 * Prints, one line each:
 *   - one-shot timers fired per second (100 000 due at once);
 *   - self-re-arming timers fired per second (1 000 timers, 1 s);
 *   - posted tasks per second from 1, 2 and 4 producer threads;
 *   - dispatch cost per ready fd with 1, 100 and 10 000 registered fds
 *     (one of them active): the cost must not grow with idle fds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/axon.h"

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #expr, ax_err_name(rc_));     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static bool quick;

/* ---- timers ---- */

static long fired;

static void oneshot_cb(ax_timer *t, void *user)
{
    (void)t;
    (void)user;
    fired++;
}

static void bench_oneshot(void)
{
    const int n = quick ? 10000 : 100000;
    ax_loop *loop;
    CHECK(ax_loop_new(&loop, NULL));
    ax_timer *t = calloc((size_t)n, sizeof *t);
    int64_t now = ax_clock_mono_ns();
    srand(1);
    for (int i = 0; i < n; i++) {
        CHECK(ax_timer_init(loop, &t[i], oneshot_cb, NULL));
        CHECK(ax_timer_start_at(&t[i], now - (rand() % 1000000), 0));
    }
    fired = 0;
    int64_t t0 = ax_clock_mono_ns();
    while (fired < n)
        ax_loop_step(loop, 0);
    double s = (double)(ax_clock_mono_ns() - t0) / 1e9;
    printf("timers   one-shot, %d due at once        %12.0f fired/s\n", n, n / s);
    free(t);
    CHECK(ax_loop_free(loop));
}

static void rearm_cb(ax_timer *t, void *user)
{
    (void)user;
    fired++;
    ax_timer_start(t, 0, 0);
}

static void bench_rearm(void)
{
    const int n = 1000;
    ax_loop *loop;
    CHECK(ax_loop_new(&loop, NULL));
    ax_timer *t = calloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        CHECK(ax_timer_init(loop, &t[i], rearm_cb, NULL));
        CHECK(ax_timer_start(&t[i], 0, 0));
    }
    fired = 0;
    int64_t t0 = ax_clock_mono_ns(), end = t0 + (quick ? 200 : 1000) * AX_NS_PER_MS;
    while (ax_clock_mono_ns() < end)
        ax_loop_step(loop, 0);
    double s = (double)(ax_clock_mono_ns() - t0) / 1e9;
    printf("timers   %d re-arming themselves          %12.0f fired/s\n", n, fired / s);
    for (int i = 0; i < n; i++)
        ax_timer_stop(&t[i]);
    free(t);
    CHECK(ax_loop_free(loop));
}

/* ---- posted tasks ---- */

struct post_bench {
    ax_loop *loop;
    long per_thread;
    long total;
    long ran;
};

static void post_task(void *arg)
{
    struct post_bench *b = arg;
    if (++b->ran == b->total)
        ax_loop_stop(b->loop);
}

static void *post_producer(void *arg)
{
    struct post_bench *b = arg;
    for (long i = 0; i < b->per_thread; i++)
        while (ax_loop_post(b->loop, post_task, b) != 0) {
        }
    return NULL;
}

static void bench_post(int threads)
{
    struct post_bench b = {.per_thread = (quick ? 100000 : 1000000) / threads};
    b.total = b.per_thread * threads;
    CHECK(ax_loop_new(&b.loop, NULL));
    pthread_t th[8];
    int64_t t0 = ax_clock_mono_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, post_producer, &b);
    CHECK(ax_loop_run(b.loop));
    double s = (double)(ax_clock_mono_ns() - t0) / 1e9;
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    printf("post     %d producer thread(s), %ld tasks    %12.0f tasks/s\n", threads, b.total,
           b.total / s);
    CHECK(ax_loop_free(b.loop));
}

/* ---- dispatch cost vs registered fds ---- */

struct pingfd {
    ax_io io;
    long reads;
};

static void ping_cb(ax_io *io, unsigned events, void *user)
{
    struct pingfd *p = user;
    char buf[64];
    (void)events;
    while (read(ax_io_fd(io), buf, sizeof buf) > 0)
        p->reads++;
}

static void idle_cb(ax_io *io, unsigned events, void *user)
{
    (void)io;
    (void)events;
    (void)user;
    fprintf(stderr, "idle fd became active\n");
    exit(1);
}

static int closed_count;

static void count_closed(ax_io *io, void *user)
{
    (void)io;
    (void)user;
    closed_count++;
}

/* One active socketpair plus (nfds - 1) idle eventfds: one fd each, so
 * 10 000 registered fds fit under a 20 000 fd limit. */
static void bench_dispatch(int nfds)
{
    ax_loop *loop;
    CHECK(ax_loop_new(&loop, NULL));
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
        exit(1);
    struct pingfd *h = calloc((size_t)nfds, sizeof *h);
    CHECK(ax_io_init(loop, &h[0].io, pair[0], AX_IO_READABLE, ping_cb, &h[0]));
    for (int i = 1; i < nfds; i++) {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "eventfd #%d: %s (raise the fd limit)\n", i, strerror(errno));
            exit(1);
        }
        CHECK(ax_io_init(loop, &h[i].io, fd, AX_IO_READABLE, idle_cb, &h[i]));
    }
    const long rounds = quick ? 20000 : 200000;
    char c = 'x';
    /* Warm up, then measure write + one loop iteration + read. */
    for (long r = 0; r < 1000; r++) {
        if (write(pair[1], &c, 1) != 1)
            exit(1);
        ax_loop_step(loop, -1);
    }
    int64_t t0 = ax_clock_mono_ns();
    for (long r = 0; r < rounds; r++) {
        if (write(pair[1], &c, 1) != 1)
            exit(1);
        ax_loop_step(loop, -1);
    }
    double ns = (double)(ax_clock_mono_ns() - t0) / (double)rounds;
    printf("dispatch 1 ready fd, %5d registered         %12.0f ns/iteration\n", nfds, ns);
    closed_count = 0;
    for (int i = 0; i < nfds; i++)
        ax_io_close(&h[i].io, count_closed);
    close(pair[1]);
    while (closed_count < nfds)
        ax_loop_step(loop, 0);
    free(h);
    CHECK(ax_loop_free(loop));
}

/* The same round with bare syscalls (write, epoll_wait, read) and no loop:
 * the difference to the lines above is the reactor's own cost. */
static void bench_dispatch_raw(void)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) < 0)
        exit(1);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET}, out[16];
    epoll_ctl(ep, EPOLL_CTL_ADD, pair[0], &ev);
    const long rounds = quick ? 20000 : 200000;
    char c = 'x', buf[64];
    int64_t t0 = ax_clock_mono_ns();
    for (long r = 0; r < rounds; r++) {
        if (write(pair[1], &c, 1) != 1)
            exit(1);
        if (epoll_wait(ep, out, 16, -1) == 1)
            while (read(pair[0], buf, sizeof buf) > 0) {
            }
    }
    double ns = (double)(ax_clock_mono_ns() - t0) / (double)rounds;
    printf("dispatch raw write+epoll_wait+read, no loop  %12.0f ns/iteration\n", ns);
    close(ep);
    close(pair[0]);
    close(pair[1]);
}

int main(int argc, char **argv)
{
    quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 10100) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    bench_oneshot();
    bench_rearm();
    bench_post(1);
    bench_post(2);
    bench_post(4);
    bench_dispatch_raw();
    bench_dispatch(1);
    bench_dispatch(100);
    bench_dispatch(10000);
    return 0;
}
