/* SPDX-License-Identifier: Apache-2.0 */
/* The syscall table: libc by default (see ax__sys.h for why it exists). */
#include <unistd.h>

#include "transport/ax__sys.h"

static int sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return accept4(fd, addr, len, flags);
}

static const struct ax__sysops libc_ops = {
    .read = read,
    .writev = writev,
    .accept4 = sys_accept4,
    .connect = connect,
    .socket = socket,
    .sendto = sendto,
    .recvfrom = recvfrom,
};

struct ax__sysops ax__sys = {
    .read = read,
    .writev = writev,
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
