/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reactor_demo: the reactor on its own, before any axon messaging exists.
 *
 * A "sensor" timer writes length-prefixed samples at 100 Hz into a loopback
 * TCP connection; the accepting side reads them edge-triggered and counts;
 * another thread posts a task into the loop; after one second the demo
 * prints what arrived and frees the loop with nothing left open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>

#include "axon/axon.h"

struct demo {
    ax_loop *loop;
    ax_io listener, server, client;
    bool have_server;
    ax_timer sensor, report, finish;
    unsigned sent, received;
    size_t rx_fill;
    char rx[4096];
    int closes;
};

static void die(const char *what, int rc)
{
    fprintf(stderr, "reactor_demo: %s: %s\n", what, ax_strerror(rc));
    exit(1);
}

static void on_server(ax_io *io, unsigned events, void *user)
{
    struct demo *d = user;
    if (events & AX_IO_READABLE) {
        for (;;) { /* edge-triggered: read until EAGAIN */
            ssize_t n = read(ax_io_fd(io), d->rx + d->rx_fill, sizeof d->rx - d->rx_fill);
            if (n <= 0)
                break;
            d->rx_fill += (size_t)n;
            size_t off = 0;
            while (d->rx_fill - off >= 4) { /* frames: u32 length + payload */
                uint32_t len;
                memcpy(&len, d->rx + off, 4);
                if (d->rx_fill - off - 4 < len)
                    break;
                off += 4 + len;
                d->received++;
            }
            memmove(d->rx, d->rx + off, d->rx_fill - off);
            d->rx_fill -= off;
        }
    }
}

static void on_listener(ax_io *io, unsigned events, void *user)
{
    struct demo *d = user;
    (void)events;
    int fd = accept4(ax_io_fd(io), NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0 && !d->have_server) {
        int rc = ax_io_init(d->loop, &d->server, fd, AX_IO_READABLE, on_server, d);
        if (rc < 0)
            die("register server", rc);
        d->have_server = true;
    } else if (fd >= 0) {
        close(fd);
    }
}

static void on_client(ax_io *io, unsigned events, void *user)
{
    (void)io;
    (void)events;
    (void)user;
}

static void on_sensor(ax_timer *t, void *user)
{
    struct demo *d = user;
    (void)t;
    char frame[4 + 32];
    uint32_t len = (uint32_t)snprintf(frame + 4, 32, "sample %u", d->sent);
    memcpy(frame, &len, 4);
    if (write(ax_io_fd(&d->client), frame, 4 + len) == (ssize_t)(4 + len))
        d->sent++;
}

static void on_report(ax_timer *t, void *user)
{
    struct demo *d = user;
    (void)t;
    printf("  t=%4.0f ms  sent %3u  received %3u\n",
           (double)(ax_timer_deadline(&d->finish) - ax_loop_now(d->loop)) < 0
               ? 1000.0
               : 1000.0 - (double)(ax_timer_deadline(&d->finish) - ax_loop_now(d->loop)) / 1e6,
           d->sent, d->received);
}

static void on_closed(ax_io *io, void *user)
{
    (void)io;
    ((struct demo *)user)->closes++;
}

static void on_finish(ax_timer *t, void *user)
{
    struct demo *d = user;
    (void)t;
    ax_timer_stop(&d->sensor);
    ax_timer_stop(&d->report);
    ax_loop_stop(d->loop);
}

static void hello_task(void *arg)
{
    (void)arg;
    printf("  a task posted from another thread ran on the loop thread\n");
}

static void *poster(void *arg)
{
    ax_loop_post(arg, hello_task, NULL);
    return NULL;
}

int main(void)
{
    struct demo d = {0};
    int rc;
    if ((rc = ax_loop_new(&d.loop, NULL)) < 0)
        die("loop", rc);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 8) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
        die("listen", ax_err_from_errno(errno));
    if ((rc = ax_io_init(d.loop, &d.listener, lfd, AX_IO_READABLE, on_listener, &d)) < 0)
        die("register listener", rc);
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect", ax_err_from_errno(errno));
    if ((rc = ax_io_init(d.loop, &d.client, cfd, 0, on_client, &d)) < 0)
        die("register client", rc);
    printf("reactor_demo: loopback 127.0.0.1:%u, sensor at 100 Hz for 1 s\n", ntohs(a.sin_port));

    ax_timer_init(d.loop, &d.sensor, on_sensor, &d);
    ax_timer_init(d.loop, &d.report, on_report, &d);
    ax_timer_init(d.loop, &d.finish, on_finish, &d);
    ax_timer_start(&d.sensor, 10 * AX_NS_PER_MS, 10 * AX_NS_PER_MS);
    ax_timer_start(&d.report, 250 * AX_NS_PER_MS, 250 * AX_NS_PER_MS);
    ax_timer_start(&d.finish, AX_NS_PER_S, 0);
    pthread_t th;
    pthread_create(&th, NULL, poster, d.loop);

    if ((rc = ax_loop_run(d.loop)) < 0)
        die("run", rc);
    pthread_join(th, NULL);

    /* Let the last samples arrive, then close everything. */
    while (d.received < d.sent && ax_loop_run_once(d.loop, 500) > 0) {
    }
    ax_io_close(&d.client, on_closed);
    ax_io_close(&d.listener, on_closed);
    if (d.have_server)
        ax_io_close(&d.server, on_closed);
    rc = ax_loop_free(d.loop);
    printf("reactor_demo: sent %u, received %u, loop freed: %s\n", d.sent, d.received,
           ax_strerror(rc));
    return (rc == 0 && d.sent > 0 && d.received == d.sent) ? 0 : 1;
}
