/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery's sockets (docs/discovery.md): the multicast receiver and
 * sender of local and network mode, the unicast socket and the targets of
 * peers mode. disc.c opens them with its receive callback and owns them
 * from then on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/log.h"
#include "core/ax__disc.h"
#include "transport/ax__sys.h"

#define LOG_MODULE "disc"

int ax__disc_resolve_interface(const char *name, struct in_addr *out)
{
    if (!name[0]) {
        out->s_addr = htonl(INADDR_ANY);
        return 0;
    }
    if (inet_pton(AF_INET, name, out) == 1)
        return 0;
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0)
        return ax_err_from_errno(errno);
    int rc = AX_ENOTFOUND;
    for (i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && strcmp(i->ifa_name, name) == 0) {
            *out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            rc = 0;
            break;
        }
    }
    freeifaddrs(ifs);
    return rc;
}

static int udp_socket(void)
{
    int fd = ax__sys.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return ax_err_from_errno(errno);
    /* When dozens of nodes start at once their announcements, and the
     * answers to them, arrive in a burst: the default buffer (208 KiB,
     * ~160 small datagrams) overflowed (tools/scale.sh, 100 nodes: 400 to
     * 1 000 drops with direct answers, 6 000 before). Ask for more; the
     * kernel caps it at net.core.rmem_max, 208 KiB on a stock kernel
     * (docs/discovery.md says how to raise it). Memory is only taken
     * while datagrams wait. */
    int want = AX__DISC_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    return fd;
}

static int fail_errno(int fd, const char *what, const char *where)
{
    int rc = ax_err_from_errno(errno);
    AX_LOG_E(LOG_MODULE, "%s %s: %s", what, where, ax_strerror(rc));
    if (fd >= 0)
        close(fd);
    return rc;
}

int ax__disc_open_multicast(struct ax__disc *d, struct in_addr ifaddr, bool local, ax_io_cb rx_cb)
{
    ax_node *n = d->node;
    char where[96], ifs[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ifaddr, ifs, sizeof ifs);
    snprintf(where, sizeof where, "%s:%u on %s", n->cfg.discovery.group, d->group_port, ifs);
    memset(&d->group, 0, sizeof d->group);
    d->group.sin_family = AF_INET;
    d->group.sin_port = htons(d->group_port);
    inet_pton(AF_INET, n->cfg.discovery.group, &d->group.sin_addr);

    /* Receiver: bound to the group so unicast to this port is not mixed in;
     * SO_REUSEPORT so every node on the host gets a copy. */
    int fd = udp_socket();
    if (fd < 0)
        return fd;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&d->group, sizeof d->group) < 0)
        return fail_errno(fd, "cannot bind the discovery socket to", where);
    struct ip_mreq mreq = {.imr_multiaddr = d->group.sin_addr, .imr_interface = ifaddr};
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0)
        return fail_errno(fd, "cannot join the discovery group", where);
    int rc = ax_io_init(d->loop, &d->mc_rx, fd, AX_IO_READABLE, rx_cb, d);
    if (rc < 0) {
        close(fd);
        return rc;
    }

    /* Sender: bound to the interface address (127.0.0.1 in local mode). */
    fd = udp_socket();
    if (fd < 0)
        return fd;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = ifaddr};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
        return fail_errno(fd, "cannot bind the discovery sender to", ifs);
    unsigned char loop = 1, ttl = local ? 0 : n->cfg.discovery.ttl;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (ifaddr.s_addr != htonl(INADDR_ANY) &&
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr) < 0)
        AX_LOG_D(LOG_MODULE, "IP_MULTICAST_IF %s: %s (relying on the bound source address)", ifs,
                 ax_strerror(ax_err_from_errno(errno)));
    d->mc_tx_fd = fd;
    rc = ax_io_init(d->loop, &d->mc_reply, fd, AX_IO_READABLE, rx_cb, d);
    if (rc < 0) {
        close(fd);
        d->mc_tx_fd = -1;
        return rc;
    }
    d->mc_on = true;
    return 0;
}

static int add_target(struct ax__disc *d, struct in_addr ip, uint16_t port)
{
    struct sockaddr_in *t = realloc(d->targets, (d->ntargets + 1) * sizeof *t);
    if (!t)
        return AX_ENOMEM;
    d->targets = t;
    t[d->ntargets++] =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip};
    return 0;
}

int ax__disc_open_unicast(struct ax__disc *d, ax_io_cb rx_cb)
{
    ax_node *n = d->node;
    struct in_addr any = {.s_addr = htonl(INADDR_ANY)};
    if (n->cfg.transport.listen_address[0])
        inet_pton(AF_INET, n->cfg.transport.listen_address, &any);
    int fd = udp_socket();
    if (fd < 0)
        return fd;
    uint16_t port = 0;
    for (unsigned k = 1; k <= AX__UNICAST_PORTS; k++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)(d->group_port + k)),
                                .sin_addr = any};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            port = (uint16_t)(d->group_port + k);
            break;
        }
        if (errno != EADDRINUSE)
            return fail_errno(fd, "cannot bind the discovery unicast socket", "");
    }
    if (!port) {
        close(fd);
        AX_LOG_E(LOG_MODULE,
                 "peers mode: all %u unicast ports (%u..%u) of domain %u are taken on this host",
                 AX__UNICAST_PORTS, d->group_port + 1, d->group_port + AX__UNICAST_PORTS,
                 (unsigned)n->cfg.domain);
        return AX_EADDRINUSE;
    }
    int rc = ax_io_init(d->loop, &d->uc, fd, AX_IO_READABLE, rx_cb, d);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    d->uc_on = true;
    d->uc_port = port;
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &any, ip, sizeof ip);
    snprintf(d->unicast_str, sizeof d->unicast_str, "%s:%u", ip, port);

    /* Targets: names are resolved once, here, never from the loop. */
    for (size_t i = 0; i < n->cfg.discovery.npeers; i++) {
        const char *peer = n->cfg.discovery.peers[i];
        char host[256];
        unsigned explicit_port = 0;
        snprintf(host, sizeof host, "%s", peer);
        char *colon = strrchr(host, ':');
        if (colon) {
            *colon = '\0';
            explicit_port = (unsigned)strtoul(colon + 1, NULL, 10);
        }
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
        int gai = getaddrinfo(host, NULL, &hints, &res);
        if (gai != 0 || !res) {
            AX_LOG_W(LOG_MODULE, "peer '%s': cannot resolve: %s (ignored)", peer,
                     gai_strerror(gai));
            continue;
        }
        struct in_addr ipa = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
        freeaddrinfo(res);
        if (explicit_port) {
            if ((rc = add_target(d, ipa, (uint16_t)explicit_port)) < 0)
                return rc;
        } else {
            for (unsigned k = 1; k <= AX__UNICAST_PORTS; k++)
                if ((rc = add_target(d, ipa, (uint16_t)(d->group_port + k))) < 0)
                    return rc;
        }
    }
    return 0;
}
