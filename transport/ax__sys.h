/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: every socket syscall the transport makes goes through this
 * table, so a test can swap an entry to inject short writes, EAGAIN, EINTR
 * or ECONNRESET at a chosen call (after Cyclone DDS's fakeudp). Production
 * code never changes it. Tests change it only while no loop thread runs.
 */
#ifndef AX__SYS_H
#define AX__SYS_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

struct ax__sysops {
    ssize_t (*read)(int fd, void *buf, size_t n);
    ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
    int (*accept4)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
    int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
    int (*socket)(int domain, int type, int protocol);
    ssize_t (*sendto)(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to,
                      socklen_t tolen);
    ssize_t (*recvfrom)(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
                        socklen_t *fromlen);
};

extern struct ax__sysops ax__sys;

/* Restore the libc defaults. */
void ax__sys_reset(void);

#endif /* AX__SYS_H */
