/* SPDX-License-Identifier: Apache-2.0 */
/* Private: socket address helpers (numeric, never blocking on DNS). */
#ifndef AX__ADDR_H
#define AX__ADDR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

struct ax__addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

/* Longest string ax__addr_format() writes: "[v6]:port" and a NUL. */
#define AX__ADDR_STRLEN 64

/* Parse a numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "" = any IPv4)
 * with @port. AX_EINVAL when @host is not numeric. */
int ax__addr_from_host(struct ax__addr *a, const char *host, uint16_t port);

/* Parse "host:port", "[v6]:port" or "host" (then @default_port); or a
 * Unix socket in the abstract namespace: "@name" (at most 100 bytes), or
 * "@" alone, which binds to a name the kernel picks (autobind). */
int ax__addr_parse(struct ax__addr *a, const char *text, uint16_t default_port);

/* "a.b.c.d:port", "[v6]:port" or "@name" into @buf (AX__ADDR_STRLEN
 * bytes: a longer abstract name is cut). */
const char *ax__addr_format(const struct ax__addr *a, char *buf, size_t size);

uint16_t ax__addr_port(const struct ax__addr *a);

/* Who is at the other end of connected socket @fd, for logs: "ip:port";
 * for a Unix socket (whose peer has no name) "unix:pid N"; else "fd N". */
void ax__addr_peer_name(int fd, char *buf, size_t size);

#endif /* AX__ADDR_H */
