/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP listener: accept4() until EAGAIN on each edge (edge-triggered: one
 * edge may stand for many pending connections), parking after the loop's
 * budget so a connection storm cannot starve the other fds.
 *
 * Running out of fds: accept4() then fails with EMFILE and leaves the
 * connection pending, so the listening socket stays readable. Under
 * level-triggered polling that is a busy loop; under ET it is a stall (no
 * new edge until yet another connection arrives). Neither is acceptable, so
 * the listener keeps one spare fd: it closes the spare, accepts the pending
 * connection, closes it at once (the peer sees a reset, not a hang), and
 * reopens the spare. Each shed connection is counted and logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "axon/log.h"
#include "transport/ax__sys.h"
#include "transport/stream/ax__stream.h"

struct ax__stream_listener {
    ax_io io;
    ax_loop *loop;
    ax__stream_accept_cb cb;
    void *user;
    int spare_fd;
    uint16_t port;
    struct ax__addr bound; /* where it listens (an autobound name, a chosen port) */
    uint64_t rejected;
    bool closed;
};

static void shed_one(ax__stream_listener *l)
{
    if (l->spare_fd < 0)
        return;
    close(l->spare_fd);
    l->spare_fd = -1;
    int fd = ax__sys.accept4(ax_io_fd(&l->io), NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        l->rejected++;
    }
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void accept_cb(ax_io *io, unsigned events, void *user)
{
    ax__stream_listener *l = user;
    (void)events;
    unsigned budget = ax_loop_io_budget(l->loop);
    for (unsigned i = 0; i < budget; i++) {
        struct ax__addr peer = {.len = sizeof peer.ss};
        int fd = ax__sys.accept4(ax_io_fd(io), (struct sockaddr *)&peer.ss, &peer.len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            l->cb(l, fd, &peer, l->user);
            if (l->closed)
                return;
            continue;
        }
        switch (errno) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return;
        case EINTR:
        case ECONNABORTED: /* the peer gave up while queued: next one */
            continue;
        case EMFILE:
        case ENFILE: {
            uint64_t before = l->rejected;
            shed_one(l);
            AX_LOG_W("tcp", "listener :%u: out of file descriptors (%s), shed a connection",
                     l->port, errno == EMFILE ? "EMFILE" : "ENFILE");
            if (l->rejected == before)
                return; /* could not shed either: the next connection retries */
            continue;
        }
        default:
            AX_LOG_W("tcp", "listener :%u: accept: %s", l->port,
                     ax_strerror(ax_err_from_errno(errno)));
            return;
        }
    }
    ax_io_park(io, AX_IO_READABLE);
}

int ax__stream_listen(ax_loop *loop, const struct ax__addr *addr, int backlog,
                      ax__stream_accept_cb cb, void *user, ax__stream_listener **out)
{
    if (!loop || !addr || !cb || !out)
        return AX_EINVAL;
    ax__stream_listener *l = calloc(1, sizeof *l);
    if (!l)
        return AX_ENOMEM;
    int rc;
    int fd = ax__sys.socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = ax_err_from_errno(errno);
        free(l);
        return rc;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct ax__addr bound = {.len = sizeof bound.ss};
    if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
        listen(fd, backlog > 0 ? backlog : 128) < 0 ||
        getsockname(fd, (struct sockaddr *)&bound.ss, &bound.len) < 0) {
        rc = ax_err_from_errno(errno);
        close(fd);
        free(l);
        return rc;
    }
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l->loop = loop;
    l->cb = cb;
    l->user = user;
    l->port = ax__addr_port(&bound);
    l->bound = bound;
    rc = ax_io_init(loop, &l->io, fd, AX_IO_READABLE, accept_cb, l);
    if (rc < 0) {
        close(fd);
        if (l->spare_fd >= 0)
            close(l->spare_fd);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

uint16_t ax__stream_listener_port(const ax__stream_listener *l)
{
    return l->port;
}

const struct ax__addr *ax__stream_listener_addr(const ax__stream_listener *l)
{
    return &l->bound;
}

uint64_t ax__stream_listener_rejected(const ax__stream_listener *l)
{
    return l->rejected;
}

static void listener_freed(ax_io *io, void *user)
{
    (void)io;
    free(user);
}

void ax__stream_listener_close(ax__stream_listener *l)
{
    if (l->closed)
        return;
    l->closed = true;
    if (l->spare_fd >= 0)
        close(l->spare_fd);
    ax_io_close(&l->io, listener_freed);
}
