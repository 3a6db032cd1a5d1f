/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Non-blocking TCP connect. Completion (success or failure) always arrives
 * through the loop, never inside ax__stream_connect(): the socket is registered
 * for AX_IO_WRITABLE, and the result is read from SO_ERROR when it fires
 * (a failed connect also reports writable/hangup). A timer bounds the wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/ax__sys.h"
#include "transport/stream/ax__stream.h"

struct ax__stream_connector {
    ax_io io;
    ax_timer timer;
    ax__stream_connect_cb cb;
    void *user;
    bool done;
};

static void connector_freed(ax_io *io, void *user)
{
    (void)io;
    free(user);
}

static void complete(ax__stream_connector *cn, int status)
{
    cn->done = true;
    ax_timer_stop(&cn->timer);
    if (status == 0) {
        int fd = ax_io_detach(&cn->io, connector_freed);
        cn->cb(cn, 0, fd, cn->user);
    } else {
        ax_io_close(&cn->io, connector_freed);
        cn->cb(cn, status, -1, cn->user);
    }
}

static void connect_io_cb(ax_io *io, unsigned events, void *user)
{
    ax__stream_connector *cn = user;
    if (cn->done)
        return;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(ax_io_fd(io), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0 && (events & (AX_IO_HANGUP | AX_IO_ERROR)))
        err = ECONNREFUSED;
    complete(cn, err ? ax_err_from_errno(err) : 0);
}

static void connect_timer_cb(ax_timer *t, void *user)
{
    ax__stream_connector *cn = user;
    (void)t;
    if (!cn->done)
        complete(cn, AX_ETIMEDOUT);
}

int ax__stream_connect(ax_loop *loop, const struct ax__addr *addr, int64_t timeout_ns,
                       ax__stream_connect_cb cb, void *user, ax__stream_connector **out)
{
    if (!loop || !addr || !cb || timeout_ns < 0)
        return AX_EINVAL;
    ax__stream_connector *cn = calloc(1, sizeof *cn);
    if (!cn)
        return AX_ENOMEM;
    int fd = ax__sys.socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int rc = ax_err_from_errno(errno);
        free(cn);
        return rc;
    }
    /* EINPROGRESS is the normal answer; an immediate failure (e.g. refused
     * on loopback) leaves the socket in a state epoll reports at once, so
     * it is delivered through the loop like any other outcome. */
    int rc = ax__sys.connect(fd, (const struct sockaddr *)&addr->ss, addr->len);
    if (rc < 0 && errno != EINPROGRESS && errno != EINTR && errno != ECONNREFUSED &&
        errno != ENETUNREACH && errno != EHOSTUNREACH && errno != ETIMEDOUT) {
        rc = ax_err_from_errno(errno);
        close(fd);
        free(cn);
        return rc;
    }
    cn->cb = cb;
    cn->user = user;
    rc = ax_io_init(loop, &cn->io, fd, AX_IO_WRITABLE, connect_io_cb, cn);
    if (rc < 0) {
        close(fd);
        free(cn);
        return rc;
    }
    ax_timer_init(loop, &cn->timer, connect_timer_cb, cn);
    if (timeout_ns > 0)
        ax_timer_start(&cn->timer, timeout_ns, 0);
    if (out)
        *out = cn;
    return 0;
}

void ax__stream_connect_cancel(ax__stream_connector *cn)
{
    if (cn->done)
        return;
    cn->done = true;
    ax_timer_stop(&cn->timer);
    ax_io_close(&cn->io, connector_freed);
}
