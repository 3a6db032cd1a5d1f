/* SPDX-License-Identifier: Apache-2.0 */
/* The syscall table: libc by default (see ax__sys.h for why it exists). */
#include <sys/socket.h>
#include <unistd.h>

#include "transport/ax__sys.h"

/* writev() on a socket whose peer is gone raises SIGPIPE, which kills a
 * process that did not ignore it: a library must never do that (a write
 * queue writes at any time, before the loop has seen the peer's hangup).
 * Every fd written through this table is a socket, so sendmsg with
 * MSG_NOSIGNAL: the same call, and EPIPE instead of the signal. */
static ssize_t sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    return sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static int sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return accept4(fd, addr, len, flags);
}

static const struct ax__sysops libc_ops = {
    .read = read,
    .writev = sys_writev,
    .accept4 = sys_accept4,
    .connect = connect,
    .socket = socket,
    .sendto = sendto,
    .recvfrom = recvfrom,
};

struct ax__sysops ax__sys = {
    .read = read,
    .writev = sys_writev,
    .accept4 = sys_accept4,
    .connect = connect,
    .socket = socket,
    .sendto = sendto,
    .recvfrom = recvfrom,
};

void ax__sys_reset(void)
{
    ax__sys = libc_ops;
}
