/* SPDX-License-Identifier: Apache-2.0 */
/* Socket address helpers. Only numeric addresses: the reactor must never
 * block in a DNS lookup; names are resolved once, up front, by the caller. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/common.h"
#include "transport/ax__addr.h"

#include <sys/un.h>

/* "@name": the abstract namespace (no file, gone with the socket, scoped
 * by the network namespace); "@": autobind. */
static int from_abstract(struct ax__addr *a, const char *name)
{
    struct sockaddr_un *su = (struct sockaddr_un *)&a->ss;
    size_t n = strlen(name);
    memset(a, 0, sizeof *a);
    if (n > 100)
        return AX_EINVAL;
    su->sun_family = AF_UNIX;
    memcpy(su->sun_path + 1, name, n); /* sun_path[0] = 0: abstract */
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (n ? 1 + n : 0));
    return 0;
}

int ax__addr_from_host(struct ax__addr *a, const char *host, uint16_t port)
{
    memset(a, 0, sizeof *a);
    if (!host || !*host) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        a->len = sizeof *s4;
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        a->len = sizeof *s4;
        return 0;
    }
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        a->len = sizeof *s6;
        return 0;
    }
    return AX_EINVAL;
}

int ax__addr_parse(struct ax__addr *a, const char *text, uint16_t default_port)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port_text = NULL;
    size_t hlen;
    if (!text)
        return AX_EINVAL;
    if (text[0] == '@')
        return from_abstract(a, text + 1);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return AX_EINVAL;
        hlen = (size_t)(close - text - 1);
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            return AX_EINVAL;
        text++;
    } else {
        const char *colon = strchr(text, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* bare IPv6 without brackets: no port */
        hlen = colon ? (size_t)(colon - text) : strlen(text);
        if (colon)
            port_text = colon + 1;
    }
    if (hlen >= sizeof host)
        return AX_EINVAL;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    uint16_t port = default_port;
    if (port_text) {
        char *end;
        unsigned long p = strtoul(port_text, &end, 10);
        if (*port_text == '\0' || *end != '\0' || p > 65535)
            return AX_EINVAL;
        port = (uint16_t)p;
    }
    return ax__addr_from_host(a, host, port);
}

uint16_t ax__addr_port(const struct ax__addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

const char *ax__addr_format(const struct ax__addr *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    if (a->ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, ip, sizeof ip);
        snprintf(buf, size, "%s:%u", ip, ax__addr_port(a));
    } else if (a->ss.ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, ip, sizeof ip);
        snprintf(buf, size, "[%s]:%u", ip, ax__addr_port(a));
    } else if (a->ss.ss_family == AF_UNIX && a->len > offsetof(struct sockaddr_un, sun_path) + 1 &&
               ((const struct sockaddr_un *)&a->ss)->sun_path[0] == '\0') {
        const char *p = ((const struct sockaddr_un *)&a->ss)->sun_path + 1;
        int n = (int)(a->len - offsetof(struct sockaddr_un, sun_path) - 1);
        snprintf(buf, size, "@%.*s", n, p);
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}

void ax__addr_peer_name(int fd, char *buf, size_t size)
{
    struct ax__addr pa = {.len = sizeof pa.ss};
    struct ucred cr;
    socklen_t crlen = sizeof cr;
    if (getpeername(fd, (struct sockaddr *)&pa.ss, &pa.len) < 0)
        snprintf(buf, size, "fd %d", fd);
    else if (pa.ss.ss_family != AF_UNIX)
        ax__addr_format(&pa, buf, size);
    else if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0)
        snprintf(buf, size, "unix:pid %d", (int)cr.pid);
    else
        snprintf(buf, size, "unix:fd %d", fd);
}
