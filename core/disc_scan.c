/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening to the discovery traffic of every domain at once, for tools
 * (`axon doctor`: "the subscriber is in domain 3, the publisher in 0").
 *
 * Why it is not a node: a node belongs to one domain and would add itself to
 * the tables it is scanning. The scanner only listens, plus one StateRequest
 * per domain so the nodes there answer now rather than at their next refresh
 * (an Announce carries the node's info and endpoints; heartbeats do not).
 *
 * Sockets: the recipe of core/disc.c. One receiver per domain bound to
 * group:(port + 10 * domain) with SO_REUSEPORT beside the nodes' own, joined
 * with the 8-byte struct ip_mreq (qemu-user translates it); one sender bound
 * to the interface address (127.0.0.1 in local and peers modes), never
 * unbound, TTL 0 on the loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__array.h"
#include "core/ax__disc.h"
#include "core/ax__keyring.h"

#define LOG_MODULE     "disc"
#define SCAN_DOMAINS   233u /* node.domain is 0..232 */
#define SCAN_NODES_MAX 4096u

struct scan_node {
    struct ax_node_info info;
    int64_t start_real_ns;
    int64_t last_heard;
    struct ax_endpoint_info *eps;
    size_t neps, cap;
};

struct scan {
    struct scan_node *nodes;
    size_t n, cap;
    size_t max_eps; /* discovery.max_endpoints, as a node's table */
    bool oom;
};

static struct scan_node *scan_find(struct scan *s, uint32_t domain, uint64_t id,
                                   uint64_t incarnation)
{
    for (size_t i = 0; i < s->n; i++) {
        struct scan_node *sn = &s->nodes[i];
        if (sn->info.id == id && sn->info.domain == domain && sn->info.incarnation == incarnation)
            return sn;
    }
    if (s->n >= SCAN_NODES_MAX)
        return NULL;
    if (ax__array_reserve(&s->nodes, &s->cap, s->n + 1, 16) < 0) {
        s->oom = true;
        return NULL;
    }
    struct scan_node *sn = &s->nodes[s->n++];
    memset(sn, 0, sizeof *sn);
    sn->info.id = id;
    sn->info.domain = domain;
    sn->info.incarnation = incarnation;
    return sn;
}

static void scan_add_endpoint(struct scan *s, struct scan_node *sn, const axon_ctl_Endpoint *w)
{
    struct ax_endpoint_info e;
    ax__disc_endpoint_from_wire(&e, w, sn->info.id, sn->info.name);
    for (size_t i = 0; i < sn->neps; i++) {
        if (sn->eps[i].id == e.id) {
            sn->eps[i] = e;
            return;
        }
    }
    if (sn->neps >= s->max_eps)
        return;
    if (ax__array_reserve_max(&sn->eps, &sn->cap, sn->neps + 1, 8, s->max_eps) < 0) {
        s->oom = true;
        return;
    }
    sn->eps[sn->neps++] = e;
}

static void scan_datagram(struct scan *s, axon_ctl_Discovery *m, const uint8_t *buf, size_t len,
                          const struct sockaddr_in *from)
{
    memset(m, 0, sizeof *m);
    pb_istream_t is = pb_istream_from_buffer(buf, len);
    if (!pb_decode(&is, axon_ctl_Discovery_fields, m) || m->protocol_version != 1)
        return;
    if (m->which_body != axon_ctl_Discovery_announce_tag || !m->body.announce.has_node ||
        m->domain >= SCAN_DOMAINS)
        return;
    struct scan_node *sn = scan_find(s, m->domain, m->node_id, m->incarnation);
    if (!sn)
        return;
    const axon_ctl_Announce *a = &m->body.announce;
    ax__disc_node_info_from_wire(&sn->info, m, &a->node, from);
    sn->start_real_ns = a->node.start_time_ns;
    sn->last_heard = ax_clock_mono_ns();
    for (pb_size_t i = 0; i < a->endpoints_count; i++)
        scan_add_endpoint(s, sn, &a->endpoints[i]);
}

static int udp_socket(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? ax_err_from_errno(errno) : fd;
}

/* The receiver of one domain's group port, or a negative error. */
static int open_receiver(struct in_addr group, uint16_t port, struct in_addr ifaddr)
{
    int fd = udp_socket();
    if (fd < 0)
        return fd;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = group};
    struct ip_mreq mreq = {.imr_multiaddr = group, .imr_interface = ifaddr};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) {
        int rc = ax_err_from_errno(errno);
        close(fd);
        return rc;
    }
    return fd;
}

static int open_sender(struct in_addr ifaddr, unsigned char ttl)
{
    int fd = udp_socket();
    if (fd < 0)
        return fd;
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr = ifaddr};
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
        int rc = ax_err_from_errno(errno);
        close(fd);
        return rc;
    }
    unsigned char loop = 1;
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (ifaddr.s_addr != htonl(INADDR_ANY))
        (void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
    return fd;
}

static void send_request(int fd, axon_ctl_Discovery *m, uint32_t domain, uint64_t id,
                         const struct sockaddr_in *to, const struct ax__keyring *key)
{
    uint8_t buf[128];
    memset(m, 0, sizeof *m);
    m->protocol_version = 1;
    m->domain = domain;
    m->node_id = id;
    m->incarnation = id;
    m->seq = domain + 1;
    m->which_body = axon_ctl_Discovery_request_tag;
    m->body.request.target = 0; /* everyone */
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    /* Signed with this configuration's key, if any: nodes of a domain with
     * that key answer, the others drop it (and those of an open domain
     * answer either way). */
    size_t n = pb_encode(&os, axon_ctl_Discovery_fields, m)
                   ? ax__keyring_seal(key, buf, os.bytes_written, sizeof buf)
                   : 0;
    if (n)
        (void)sendto(fd, buf, n, 0, (const struct sockaddr *)to, sizeof *to);
}

int ax_discovery_scan(const struct ax_config *cfg, int64_t duration_ns, ax_discovery_scan_fn fn,
                      void *user)
{
    if (!fn || duration_ns < 0)
        return AX_EINVAL;
    struct ax_config own;
    ax_config_init(&own);
    if (!cfg) {
        struct ax_config_error err;
        int rc = ax_config_apply_env(&own, &err);
        if (rc < 0) {
            ax_config_fini(&own);
            return rc;
        }
        cfg = &own;
    }
    int rc = 0;
    struct in_addr ifaddr = {.s_addr = htonl(INADDR_LOOPBACK)}, group;
    unsigned char ttl = 0;
    if (cfg->discovery.mode == AX_DISCOVERY_OFF)
        rc = AX_ENOTSUP;
    else if (inet_pton(AF_INET, cfg->discovery.group, &group) != 1)
        rc = AX_EINVAL;
    else if (cfg->discovery.mode == AX_DISCOVERY_NETWORK) {
        rc = ax__disc_resolve_interface(cfg->discovery.interface, &ifaddr);
        ttl = cfg->discovery.ttl;
    }
    uint16_t base = cfg->discovery.port;
    struct ax__keyring key;
    char why[300];
    if (ax__keyring_load(&key, cfg->security.key_file, why, sizeof why) < 0)
        AX_LOG_W(LOG_MODULE, "scan: security.key_file: %s; asking unsigned", why);
    ax_config_fini(&own);
    if (rc < 0)
        return rc;

    struct pollfd *pfd = calloc(SCAN_DOMAINS + 1, sizeof *pfd); /* + the sender */
    uint32_t *dom = calloc(SCAN_DOMAINS, sizeof *dom);
    axon_ctl_Discovery *m = malloc(sizeof *m);
    uint8_t *buf = malloc(65536);
    struct scan s = {.max_eps = cfg->discovery.max_endpoints};
    nfds_t nfd = 0;
    int sender = -1, last_err = 0;
    if (!pfd || !dom || !m || !buf) {
        rc = AX_ENOMEM;
        goto out;
    }
    for (uint32_t d = 0; d < SCAN_DOMAINS; d++) {
        uint32_t port = base + AX__DOMAIN_PORT_GAP * d;
        if (port > 65535)
            break;
        int fd = open_receiver(group, (uint16_t)port, ifaddr);
        if (fd < 0) {
            last_err = fd;
            AX_LOG_D(LOG_MODULE, "scan: domain %u (port %u) skipped: %s", d, port, ax_strerror(fd));
            continue;
        }
        pfd[nfd] = (struct pollfd){.fd = fd, .events = POLLIN};
        dom[nfd++] = d;
    }
    if (nfd == 0) {
        rc = last_err ? last_err : AX_EADDRNOTAVAIL;
        goto out;
    }
    sender = open_sender(ifaddr, ttl);
    if (sender >= 0) {
        uint64_t id = 0;
        if (getrandom(&id, sizeof id, 0) != sizeof id)
            id = (uint64_t)ax_clock_mono_ns() ^ ((uint64_t)getpid() << 32);
        for (nfds_t i = 0; i < nfd; i++) {
            struct sockaddr_in to = {.sin_family = AF_INET,
                                     .sin_port =
                                         htons((uint16_t)(base + AX__DOMAIN_PORT_GAP * dom[i])),
                                     .sin_addr = group};
            send_request(sender, m, dom[i], id | 1, &to, &key);
        }
    } else {
        AX_LOG_D(LOG_MODULE, "scan: no sender (%s): listening only", ax_strerror(sender));
    }
    /* Nodes answer a StateRequest by unicast to where it came from: the
     * sender, read with the rest (not closed with them). */
    nfds_t npoll = nfd;
    if (sender >= 0)
        pfd[npoll++] = (struct pollfd){.fd = sender, .events = POLLIN};

    int64_t end = ax_clock_mono_ns() + duration_ns;
    for (;;) {
        int64_t left = end - ax_clock_mono_ns();
        if (left <= 0)
            break;
        int ms = (int)((left + AX_NS_PER_MS - 1) / AX_NS_PER_MS);
        int n = poll(pfd, npoll, ms);
        if (n < 0 && errno != EINTR) {
            rc = ax_err_from_errno(errno);
            goto out;
        }
        for (nfds_t i = 0; n > 0 && i < npoll; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            for (;;) { /* until EAGAIN */
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t r = recvfrom(pfd[i].fd, buf, 65536, 0, (struct sockaddr *)&from, &fl);
                if (r < 0)
                    break;
                scan_datagram(&s, m, buf, (size_t)r, &from);
            }
        }
    }
    if (s.oom) {
        rc = AX_ENOMEM;
        goto out;
    }

    int64_t now = ax_clock_mono_ns(), now_real = ax_clock_real_ns();
    for (size_t i = 0; i < s.n; i++) {
        struct scan_node *sn = &s.nodes[i];
        sn->info.heard_age_ns = now - sn->last_heard;
        sn->info.uptime_ns =
            sn->start_real_ns && now_real > sn->start_real_ns ? now_real - sn->start_real_ns : 0;
        for (size_t k = 0; k < sn->neps; k++) {
            if (sn->eps[k].kind == AX_ENDPOINT_PUBLISHER)
                sn->info.publishers++;
            else if (sn->eps[k].kind == AX_ENDPOINT_SUBSCRIBER)
                sn->info.subscribers++;
        }
        fn(sn->info.domain, &sn->info, sn->eps, sn->neps, user);
    }
out:
    for (nfds_t i = 0; i < nfd; i++)
        close(pfd[i].fd);
    if (sender >= 0)
        close(sender);
    for (size_t i = 0; i < s.n; i++)
        free(s.nodes[i].eps);
    free(s.nodes);
    free(pfd);
    free(dom);
    free(m);
    free(buf);
    return rc;
}
