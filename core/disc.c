/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery: UDP announcements (docs/discovery.md).
 *
 * Sockets, by mode:
 * - local (default): multicast confined to the loopback. The receiving
 *   socket joins the group on 127.0.0.1 (struct ip_mreq, which qemu-user
 *   also translates); the sending socket is bound to 127.0.0.1 and never
 *   sends unbound, so the kernel routes the group out of lo even where a
 *   default route points elsewhere and IP_MULTICAST_IF is unavailable
 *   (qemu-user). TTL 0: looped back to this host, never on a wire.
 * - network: the same on discovery.interface, with discovery.ttl.
 * - peers: unicast to discovery.peers from a socket bound to the first free
 *   of the domain's 8 unicast ports, plus host-local multicast so nodes on
 *   one host always find each other. A bare peer host is tried on all 8
 *   ports; a peer that announced itself to us is answered at its source.
 * - off: no sockets; only this process's own endpoints are known.
 *
 * Traffic: a heartbeat every discovery.heartbeat (tiny: the generation of
 * our endpoint set and its page count: a digest, so an unchanged node costs
 * a receiver one small datagram), every page of our endpoint set every
 * discovery.refresh (a safety net), and all pages soon after a change,
 * rate-limited to one full round per 50 ms on average with a burst of
 * FULL_BURST. Both periods are jittered so that nodes started together do
 * not stay in step. Announcements carry no live counters: a tool asks for
 * them (StateRequest.counters, every discovery.counters) and each node
 * answers it alone. Liveness is mostly not discovery's business any more:
 * same-host peers are watched (disc_watch.c), data links carry
 * keep-alives (core/sub_link.c), and the lease is only the last resort.
 *
 * Direct answers: a node that joins (its first announcement) or asks for
 * state (StateRequest) over multicast is answered by unicast, to the
 * address its datagram came from: its sender socket, which it reads too.
 * So a join costs every other node one datagram received and the joiner
 * one answer from each, O(N) in all, where a multicast answer from each
 * node to everyone made it O(N^2) and overflowed receive buffers when
 * dozens of nodes started at once. Peers mode answers its unicast peers
 * as before (a full round to its targets and the peers that found it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "axon/version.h"
#include "base/ax__log_limit.h"
#include "core/ax__disc.h"
#include "transport/ax__addr.h"
#include "transport/ax__sys.h"

#define LOG_MODULE        "disc"
#define FULL_MIN_INTERVAL (50 * AX_NS_PER_MS)
#define FULL_COALESCE     (5 * AX_NS_PER_MS)
#define FULL_BURST        4
#define REQUEST_INTERVAL  (250 * AX_NS_PER_MS)

static void send_full(struct ax__disc *d);
static void read_pending(struct ax__disc *d);

/* A period jittered by up to a quarter either way (xorshift64; the state
 * is seeded from the node id). */
static int64_t jittered(struct ax__disc *d, int64_t period)
{
    d->rng ^= d->rng << 13;
    d->rng ^= d->rng >> 7;
    d->rng ^= d->rng << 17;
    int64_t span = period / 2;
    return span > 0 ? period - period / 4 + (int64_t)(d->rng % (uint64_t)span) : period;
}

/* ---- sending (the datagrams are built in disc_compose.c) ---- */

static void send_to(struct ax__disc *d, int fd, const struct sockaddr_in *to, const uint8_t *buf,
                    size_t n)
{
    ssize_t r = ax__sys.sendto(fd, buf, n, 0, (const struct sockaddr *)to, sizeof *to);
    if (r < 0) {
        /* A full socket buffer or an unreachable peer host: the datagram is
         * lost, which the protocol tolerates (the next round repeats it). */
        char a[INET_ADDRSTRLEN];
        AX_LOG_D(LOG_MODULE, "sendto %s:%u: %s", inet_ntop(AF_INET, &to->sin_addr, a, sizeof a),
                 ntohs(to->sin_port), ax_strerror(ax_err_from_errno(errno)));
        return;
    }
    d->stats.tx_datagrams++;
    d->stats.tx_bytes += (uint64_t)r;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
    return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

/* Encode d->tx and send it everywhere this node announces. Called with
 * node->lock held (stats and the table are read). */
/* d->tx into d->txbuf, with its MAC when the domain has a key. Returns
 * the length, 0 on failure (logged: a bug, not the peer's doing). */
static size_t encode_tx(struct ax__disc *d)
{
    pb_ostream_t os = pb_ostream_from_buffer(d->txbuf, sizeof d->txbuf);
    if (!pb_encode(&os, axon_ctl_Discovery_fields, &d->tx)) {
        AX_LOG_E(LOG_MODULE, "cannot encode an announcement: %s", PB_GET_ERROR(&os));
        return 0;
    }
    size_t n = ax__keyring_seal(&d->node->keyring, d->txbuf, os.bytes_written, sizeof d->txbuf);
    if (!n)
        AX_LOG_E(LOG_MODULE, "no room for the MAC of a %zu-byte datagram", os.bytes_written);
    return n;
}

static void send_tx(struct ax__disc *d)
{
    size_t n = encode_tx(d);
    if (!n)
        return;
    if (d->mc_on)
        send_to(d, d->mc_tx_fd, &d->group, d->txbuf, n);
    if (d->uc_on) {
        int fd = ax_io_fd(&d->uc);
        for (size_t i = 0; i < d->ntargets; i++)
            send_to(d, fd, &d->targets[i], d->txbuf, n);
        /* Peers that found us, though not in our list: answer them too. */
        for (size_t i = 0; i < d->npeers; i++) {
            const struct ax__peer *p = d->peers[i];
            if (!p->unicast_known)
                continue;
            bool listed = false;
            for (size_t k = 0; k < d->ntargets && !listed; k++)
                listed = same_addr(&d->targets[k], &p->unicast);
            if (!listed)
                send_to(d, fd, &p->unicast, d->txbuf, n);
        }
    }
}

/* Every page of our state to @to alone, from socket @fd (with the live
 * counters when a tool asked); at most once per FULL_MIN_INTERVAL to one
 * address (a joiner's request and its first announcement arrive
 * together). Called with node->lock held. */
static void answer_direct(struct ax__disc *d, int fd, const struct sockaddr_in *to, bool counters)
{
    int64_t now = ax_clock_mono_ns();
    for (size_t i = 0; i < sizeof d->answered / sizeof d->answered[0]; i++)
        if (same_addr(&d->answered[i].to, to) && d->answered[i].counters == counters &&
            now - d->answered[i].at < FULL_MIN_INTERVAL)
            return;
    unsigned k = d->answered_next++ % (sizeof d->answered / sizeof d->answered[0]);
    d->answered[k].to = *to;
    d->answered[k].at = now;
    d->answered[k].counters = counters;
    if (d->stopped || ax__disc_compose(d) < 0)
        return;
    for (uint32_t p = 0; p < d->npages; p++) {
        ax__disc_fill_page(d, p, counters);
        size_t n = encode_tx(d);
        if (!n)
            return;
        send_to(d, fd, to, d->txbuf, n);
    }
    if (counters)
        d->stats.counter_answers++;
    else
        d->stats.direct_answers++;
}

/* Someone joined or asked: answer it alone when it came over multicast or
 * to our sender socket (and is not itself an answer to us), else with a
 * full round. A tool's request for counters is always answered to it
 * alone, on the socket it came in by. Called with node->lock held. */
static void answer(struct ax__disc *d, const struct sockaddr_in *from, bool via_unicast,
                   bool counters, bool request)
{
    if (d->rx_reply && !request)
        return; /* an answer to our own join: nothing to answer */
    if (counters && from && from->sin_port) {
        if (via_unicast && d->uc_on)
            answer_direct(d, ax_io_fd(&d->uc), from, true);
        else if (d->mc_on)
            answer_direct(d, d->mc_tx_fd, from, true);
    } else if (!via_unicast && d->mc_on && from && from->sin_port) {
        answer_direct(d, d->mc_tx_fd, from, false);
    } else {
        ax__disc_schedule_full(d);
    }
}

static void send_full(struct ax__disc *d)
{
    ax_node *n = d->node;
    pthread_mutex_lock(&n->lock);
    if (!d->stopped && ax__disc_compose(d) == 0)
        for (uint32_t p = 0; p < d->npages; p++) {
            ax__disc_fill_page(d, p, false);
            send_tx(d);
        }
    /* The rate limit as a virtual schedule (GCRA): each round moves it one
     * interval on from now or from where it was, whichever is later. */
    int64_t now = ax_clock_mono_ns();
    d->full_tat = (d->full_tat > now ? d->full_tat : now) + FULL_MIN_INTERVAL;
    pthread_mutex_unlock(&n->lock);
}

/* Whether periodic datagrams would tell nobody anything: local mode (so
 * every receiver is on this host), we are in the host table, and no node
 * outside it was heard for a lease. */
static bool host_quiet(const struct ax__disc *d)
{
    return d->host && d->mode == AX_DISCOVERY_LOCAL && ax_clock_mono_ns() >= d->outsider_until;
}

/* A peer's beat, from a heartbeat or the host table: it is alive as of
 * @beat_ns (our CLOCK_MONOTONIC) and its endpoint set is at @generation;
 * ask for the set if we are behind. node->lock held. */
static void peer_beat(struct ax__disc *d, struct ax__peer *p, int64_t beat_ns, uint64_t generation)
{
    if (beat_ns > p->last_heard) {
        p->last_heard = beat_ns;
        ax_timer_start_at(&p->lease, beat_ns + p->info.lease_ns, 0);
    }
    bool behind =
        generation > p->gen_pending || (!p->has_committed || p->gen_committed < generation);
    int64_t now = ax_clock_mono_ns();
    if (behind && now - p->last_request >= REQUEST_INTERVAL) {
        p->last_request = now;
        ax__disc_request_state(d, p->info.id);
    }
}

static void request_unknown(struct ax__disc *d, uint64_t id, const struct sockaddr_in *from,
                            bool via_unicast);

/* A node of our host table (disc_host.c), at each of our beats. */
static void host_visit(struct ax__disc *d, const struct ax__host_peer *hp)
{
    struct ax__peer *p = ax__table_find(d, hp->id);
    if (p && p->info.incarnation == hp->incarnation)
        peer_beat(d, p, hp->beat_ns, hp->generation);
    else if (ax_clock_mono_ns() - hp->beat_ns < d->node->cfg.discovery.lease_ns)
        request_unknown(d, hp->id, NULL, false);
}

/* Network mode, the owner of the host table: one HostBeat (per 32
 * nodes) for every node of the table beating within its lease, instead of
 * a heartbeat from each, so that a node on another host receives one
 * datagram per host and period. node->lock held. */
static void send_host_beats(struct ax__disc *d)
{
    struct ax__host_peer hp[32];
    size_t next = 0;
    do {
        size_t n = ax__host_members(d, next, hp, 32, &next);
        if (!n)
            break;
        ax__disc_begin(d);
        d->tx.which_body = axon_ctl_Discovery_host_beat_tag;
        axon_ctl_HostBeat *b = &d->tx.body.host_beat;
        for (size_t i = 0; i < n; i++)
            b->members[b->members_count++] =
                (axon_ctl_HostMember){hp[i].id, hp[i].incarnation, hp[i].generation, hp[i].pages};
        send_tx(d);
        d->stats.host_beats_sent++;
    } while (next < AX__HOST_SLOTS);
}

/* A HostBeat from another host's table owner: each member's heartbeat.
 * Members we do not know yet are asked for, a few per datagram (the
 * others at the next one), so that a newcomer's first HostBeats do not
 * set off a burst of requests while the answers to its join are on the
 * way. node->lock held. */
static void receive_host_beat(struct ax__disc *d, const axon_ctl_Discovery *m)
{
    if (ax__host_has(d, m->node_id))
        return; /* our own table's owner: we read the table itself */
    int64_t now = ax_clock_mono_ns();
    unsigned asked = 0;
    const axon_ctl_HostBeat *b = &m->body.host_beat;
    for (pb_size_t i = 0; i < b->members_count; i++) {
        const axon_ctl_HostMember *hm = &b->members[i];
        if (hm->node_id == d->node->id)
            continue;
        struct ax__peer *p = ax__table_find(d, hm->node_id);
        if (p && p->info.incarnation == hm->incarnation)
            peer_beat(d, p, now, hm->generation);
        else if (asked++ < 4)
            request_unknown(d, hm->node_id, NULL, false);
    }
}

static void send_heartbeat(struct ax__disc *d)
{
    ax_node *n = d->node;
    pthread_mutex_lock(&n->lock);
    if (!d->stopped && ax__disc_compose(d) == 0) {
        ax__host_beat(d, d->composed_gen, d->npages, host_visit);
        /* On one host, with everyone in the table, a heartbeat would tell
         * nobody anything; one outsider (another user, heartbeats only)
         * and we send them again for a lease. */
        bool network = d->mode == AX_DISCOVERY_NETWORK;
        if (network && ax__host_is_owner(d)) {
            send_host_beats(d); /* ours included */
        } else if (host_quiet(d) || (network && ax__host_covered(d))) {
            d->stats.heartbeats_skipped++;
        } else {
            ax__disc_begin(d);
            d->tx.which_body = axon_ctl_Discovery_heartbeat_tag;
            d->tx.body.heartbeat.generation = d->composed_gen;
            d->tx.body.heartbeat.pages = d->npages;
            send_tx(d);
        }
    }
    pthread_mutex_unlock(&n->lock);
    if (!d->stopped)
        ax__host_keep(d);
}

/* A StateRequest for @target (0: everyone). To one node whose address we
 * know (@to, or where its announcements come from), it goes by unicast
 * alone: a digest that differs costs the others nothing. */
static void request_state_at(struct ax__disc *d, uint64_t target, const struct sockaddr_in *to,
                             bool to_unicast)
{
    ax__disc_begin(d);
    d->tx.which_body = axon_ctl_Discovery_request_tag;
    d->tx.body.request.target = target;
    /* A tool's first look at the domain wants the counters too. */
    d->tx.body.request.counters = target == 0 && d->node->cfg.discovery.counters_ns > 0;
    d->stats.state_requests_sent++;
    struct ax__peer *p = target && !to ? ax__table_find(d, target) : NULL;
    if (p && p->from.sin_port) {
        to = &p->from;
        to_unicast = p->unicast_known && same_addr(&p->from, &p->unicast);
    }
    int fd = !to ? -1 : to_unicast ? (d->uc_on ? ax_io_fd(&d->uc) : -1) : d->mc_tx_fd;
    if (fd < 0) {
        send_tx(d);
        return;
    }
    size_t n = encode_tx(d);
    if (n)
        send_to(d, fd, to, d->txbuf, n);
}

void ax__disc_request_state(struct ax__disc *d, uint64_t target)
{
    request_state_at(d, target, NULL, false);
}

static void soon_cb(ax_timer *t, void *user)
{
    (void)t;
    send_full(user);
}

void ax__disc_schedule_full(struct ax__disc *d)
{
    if (d->stopped || ax_timer_active(&d->soon_timer))
        return;
    int64_t now = ax_clock_mono_ns();
    int64_t at = now + FULL_COALESCE;
    /* The schedule may run up to FULL_BURST - 1 intervals ahead of now. */
    int64_t earliest = d->full_tat - (FULL_BURST - 1) * FULL_MIN_INTERVAL;
    if (earliest > at)
        at = earliest;
    ax_timer_start_at(&d->soon_timer, at, 0);
}

static void local_changed_task(void *arg)
{
    ax__disc_schedule_full(arg);
}

void ax__disc_local_changed(struct ax__disc *d)
{
    if (d)
        ax_loop_post(d->loop, local_changed_task, d);
}

static void hb_cb(ax_timer *t, void *user)
{
    struct ax__disc *d = user;
    send_heartbeat(d);
    ax_timer_start(t, jittered(d, d->node->cfg.discovery.heartbeat_ns), 0);
}

static void refresh_cb(ax_timer *t, void *user)
{
    struct ax__disc *d = user;
    /* Everyone on the host in the table (local mode): it carries our
     * generation to every peer, which asks if it lacks it; a refresh would
     * only cost each of them a datagram. */
    if (!host_quiet(d))
        send_full(d);
    ax_timer_start(t, jittered(d, d->node->cfg.discovery.refresh_ns), 0);
}

/* A tool's periodic request for everyone's live counters. */
static void counters_cb(ax_timer *t, void *user)
{
    struct ax__disc *d = user;
    (void)t;
    pthread_mutex_lock(&d->node->lock);
    if (!d->stopped)
        ax__disc_request_state(d, 0);
    pthread_mutex_unlock(&d->node->lock);
}

/* ---- receiving ---- */

/* Ask a node we cannot place for its state, at most every 250 ms per node. */
static void request_unknown(struct ax__disc *d, uint64_t id, const struct sockaddr_in *from,
                            bool via_unicast)
{
    if (!ax__table_admits(d, id))
        return; /* the table is full: it could not be added */
    int64_t now = ax_clock_mono_ns();
    size_t slot = 0;
    for (size_t i = 0; i < 16; i++) {
        if (d->unknown_req[i].id == id) {
            if (now - d->unknown_req[i].at < REQUEST_INTERVAL)
                return;
            slot = i;
            break;
        }
        if (d->unknown_req[i].at < d->unknown_req[slot].at)
            slot = i;
    }
    d->unknown_req[slot].id = id;
    d->unknown_req[slot].at = now;
    /* Where its heartbeat came from is where it reads. */
    request_state_at(d, id, from && from->sin_port ? from : NULL, via_unicast);
}

void ax__disc_receive(struct ax__disc *d, const uint8_t *data, size_t len,
                      const struct sockaddr_in *from, bool via_unicast)
{
    ax_node *n = d->node;
    struct ax__events evs = {0};
    /* With a key, a datagram without a valid MAC is dropped before it is
     * decoded: it costs one HMAC and changes nothing. */
    size_t body = len;
    bool authentic = !n->keyring.on || ax__keyring_open(&n->keyring, data, len, &body);
    pb_istream_t is = pb_istream_from_buffer(data, body);
    memset(&d->rx, 0, sizeof d->rx);
    bool ok = authentic && pb_decode(&is, axon_ctl_Discovery_fields, &d->rx);
    const axon_ctl_Discovery *m = &d->rx;

    pthread_mutex_lock(&n->lock);
    d->stats.rx_datagrams++;
    d->stats.rx_bytes += len;
    if (!authentic) {
        d->stats.rx_unauthenticated++;
        char a[INET_ADDRSTRLEN];
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                       "discovery datagram without a valid MAC from %s:%u dropped (wrong or no "
                       "domain key: security.key_file)",
                       inet_ntop(AF_INET, &from->sin_addr, a, sizeof a), ntohs(from->sin_port));
        goto out;
    }
    if (!ok) {
        d->stats.rx_undecodable++;
        char a[INET_ADDRSTRLEN];
        AX_LOG_D(LOG_MODULE, "undecodable datagram (%zu bytes) from %s: %s", len,
                 inet_ntop(AF_INET, &from->sin_addr, a, sizeof a), PB_GET_ERROR(&is));
        goto out;
    }
    if (m->protocol_version != 1) {
        d->stats.rx_bad_version++;
        goto out;
    }
    if (m->domain != n->cfg.domain) {
        d->stats.rx_other_domain++;
        goto out;
    }
    if (m->node_id == n->id) {
        d->stats.rx_self++;
        goto out;
    }
    struct ax__peer *p = ax__table_find(d, m->node_id);
    if (n->keyring.on && !ax__table_fresh(d, p, m)) {
        d->stats.rx_replayed++;
        goto out;
    }
    switch (m->which_body) {
    case axon_ctl_Discovery_announce_tag: {
        const axon_ctl_Announce *a = &m->body.announce;
        if (!a->has_node || a->pages > AX__PAGES_MAX || a->page >= (a->pages ? a->pages : 1)) {
            d->stats.rx_undecodable++;
            break;
        }
        if (ax__table_apply_announce(d, m, from, via_unicast, &evs))
            answer(d, from, via_unicast, false, false);
        break;
    }
    case axon_ctl_Discovery_heartbeat_tag: {
        const axon_ctl_Heartbeat *h = &m->body.heartbeat;
        /* A node that sends heartbeats on our host but is not in our host
         * table needs ours too (ax__host_has is false without a table). */
        if (d->host && !via_unicast && !ax__host_has(d, m->node_id))
            d->outsider_until = ax_clock_mono_ns() + n->cfg.discovery.lease_ns;
        if (!p || p->info.incarnation != m->incarnation) {
            request_unknown(d, m->node_id, from, via_unicast);
            break;
        }
        if (via_unicast) {
            p->unicast = *from;
            p->unicast_known = true;
        }
        /* Behind on its endpoint set: ask rather than wait for a refresh. */
        peer_beat(d, p, ax_clock_mono_ns(), h->generation);
        break;
    }
    case axon_ctl_Discovery_host_beat_tag:
        receive_host_beat(d, m);
        break;
    case axon_ctl_Discovery_bye_tag:
        if (p && p->info.incarnation == m->incarnation) {
            AX_LOG_I(LOG_MODULE, "node '%s' (%016llx) left", p->info.name,
                     (unsigned long long)p->info.id);
            ax__table_remove(d, p, AX__LEFT_BYE, &evs);
        }
        break;
    case axon_ctl_Discovery_request_tag:
        if (m->body.request.target == 0 || m->body.request.target == n->id)
            answer(d, from, via_unicast, m->body.request.counters, true);
        break;
    default:
        d->stats.rx_undecodable++;
        break;
    }
out:
    pthread_mutex_unlock(&n->lock);
    d->emit(n, evs.ev, evs.n);
    ax__events_free(&evs);
}

/* A peer is gone, seen otherwise than by discovery (d->gone_cb): its
 * process exited (disc_watch.c), or a data link says so
 * (ax__disc_peer_gone). */
static void peer_gone(struct ax__disc *d, uint64_t id, uint64_t incarnation, int why)
{
    /* A process that leaves in order sends a Bye before it exits: read
     * what is waiting first, so that its departure is an orderly one (its
     * data links drain) and not an exit. */
    if (why == AX__LEFT_EXITED)
        read_pending(d);
    struct ax__events evs = {0};
    pthread_mutex_lock(&d->node->lock);
    struct ax__peer *p = d->stopped ? NULL : ax__table_find(d, id);
    if (p && p->info.incarnation == incarnation) {
        if (why == AX__LEFT_EXITED) {
            AX_LOG_I(LOG_MODULE, "node '%s' (%016llx): process %u exited", p->info.name,
                     (unsigned long long)p->info.id, (unsigned)p->info.pid);
            d->stats.exits_seen++;
        } else if (why == AX__LEFT_REFUSED) {
            AX_LOG_I(LOG_MODULE, "node '%s' (%016llx): its data port refuses connections",
                     p->info.name, (unsigned long long)p->info.id);
            d->stats.links_refused++;
        } else {
            AX_LOG_I(LOG_MODULE, "node '%s' (%016llx): its data link went silent", p->info.name,
                     (unsigned long long)p->info.id);
            d->stats.links_silent++;
        }
        ax__table_remove(d, p, (enum ax__left)why, &evs);
    }
    pthread_mutex_unlock(&d->node->lock);
    d->emit(d->node, evs.ev, evs.n);
    ax__events_free(&evs);
}

struct gone_peer {
    struct ax__disc *d;
    uint64_t id, incarnation;
    int why;
};

static void gone_task(void *arg)
{
    struct gone_peer gp = *(struct gone_peer *)arg;
    free(arg);
    peer_gone(gp.d, gp.id, gp.incarnation, gp.why);
}

void ax__disc_peer_gone(struct ax__disc *d, uint64_t node_id, uint64_t incarnation, bool refused)
{
    if (!d)
        return;
    struct gone_peer *gp = malloc(sizeof *gp);
    if (!gp)
        return; /* its lease will do */
    *gp = (struct gone_peer){d, node_id, incarnation, refused ? AX__LEFT_REFUSED : AX__LEFT_SILENT};
    if (ax_loop_post(d->loop, gone_task, gp) < 0)
        free(gp);
}

/* A peer's lease timer (the table arms it with d->lease_cb). */
static void lease_expired(ax_timer *t, void *user)
{
    struct ax__peer *p = user;
    struct ax__disc *d = p->disc;
    uint64_t id = p->info.id;
    (void)t;
    /* Timers run before I/O in an iteration: after a long callback the
     * peer's heartbeats may be waiting, unread, in our socket. Read them
     * first; only a peer still silent has really gone. The peer may be
     * refreshed (its timer restarted) or removed (a Bye) meanwhile. */
    read_pending(d);
    struct ax__events evs = {0};
    pthread_mutex_lock(&d->node->lock);
    p = ax__table_find(d, id);
    if (p && !ax_timer_active(&p->lease)) {
        AX_LOG_I(LOG_MODULE, "node '%s' (%016llx) not heard for %lld ms: lease expired",
                 p->info.name, (unsigned long long)p->info.id,
                 (long long)(p->info.lease_ns / AX_NS_PER_MS));
        d->stats.leases_expired++;
        ax__table_remove(d, p, AX__LEFT_LEASE, &evs);
    }
    pthread_mutex_unlock(&d->node->lock);
    d->emit(d->node, evs.ev, evs.n);
    ax__events_free(&evs);
}

/* Read up to @budget datagrams from @io; returns whether it stopped early. */
static bool read_some(struct ax__disc *d, ax_io *io, unsigned budget)
{
    bool via_unicast = io == &d->uc, early = true;
    d->rx_reply = io == &d->mc_reply;
    for (unsigned i = 0; i < budget; i++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t r = ax__sys.recvfrom(ax_io_fd(io), d->rxbuf, sizeof d->rxbuf, 0,
                                     (struct sockaddr *)&from, &fl);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                AX_LOG_D(LOG_MODULE, "recvfrom: %s", ax_strerror(ax_err_from_errno(errno)));
            early = false;
            break;
        }
        ax__disc_receive(d, d->rxbuf, (size_t)r, &from, via_unicast);
        if (d->stopped) {
            early = false;
            break;
        }
    }
    d->rx_reply = false;
    return early;
}

static void rx_cb(ax_io *io, unsigned events, void *user)
{
    struct ax__disc *d = user;
    (void)events;
    if (read_some(d, io, ax_loop_io_budget(d->loop)))
        ax_io_park(io, AX_IO_READABLE);
}

static void read_pending(struct ax__disc *d)
{
    /* Bounded, so a flood cannot keep the timers phase busy forever; what
     * is left is read in the I/O phase as usual. */
    if (d->mc_on && !d->stopped)
        read_some(d, &d->mc_rx, 256);
    if (d->mc_on && !d->stopped)
        read_some(d, &d->mc_reply, 256);
    if (d->uc_on && !d->stopped)
        read_some(d, &d->uc, 256);
}

/* ---- setup ---- */

int ax__disc_start(ax_node *node, ax__graph_emit_fn emit, struct ax__disc **out)
{
    struct ax__disc *d = calloc(1, sizeof *d);
    if (!d)
        return AX_ENOMEM;
    d->node = node;
    d->emit = emit;
    d->lease_cb = lease_expired;
    d->gone_cb = peer_gone;
    d->loop = node->loops[0];
    d->mode = node->cfg.discovery.mode;
    d->mc_tx_fd = -1;
    d->group_port = (uint16_t)(node->cfg.discovery.port + AX__DOMAIN_PORT_GAP * node->cfg.domain);
    ax_timer_init(d->loop, &d->hb_timer, hb_cb, d);
    ax_timer_init(d->loop, &d->refresh_timer, refresh_cb, d);
    ax_timer_init(d->loop, &d->soon_timer, soon_cb, d);
    ax_timer_init(d->loop, &d->counters_timer, counters_cb, d);
    d->rng = node->id | 1;
    ax__disc_self_process(&d->pid_ns, &d->proc_start);
    snprintf(d->unicast_str, sizeof d->unicast_str, "-");

    int rc = 0;
    struct in_addr lo = {.s_addr = htonl(INADDR_LOOPBACK)};
    switch (d->mode) {
    case AX_DISCOVERY_LOCAL:
        rc = ax__disc_open_multicast(d, lo, true, rx_cb);
        break;
    case AX_DISCOVERY_NETWORK: {
        struct in_addr ifaddr;
        rc = ax__disc_resolve_interface(node->cfg.discovery.interface, &ifaddr);
        if (rc < 0) {
            AX_LOG_E(LOG_MODULE, "discovery.interface '%s': no such IPv4 interface",
                     node->cfg.discovery.interface);
            break;
        }
        rc = ax__disc_open_multicast(d, ifaddr, false, rx_cb);
        break;
    }
    case AX_DISCOVERY_PEERS:
        rc = ax__disc_open_multicast(d, lo, true, rx_cb);
        if (rc == 0)
            rc = ax__disc_open_unicast(d, rx_cb);
        break;
    case AX_DISCOVERY_OFF:
        break;
    }
    if (rc < 0) {
        ax__disc_stop(d);
        *out = d; /* the caller frees it once the loop ran the closes */
        return rc;
    }
    if (d->mode != AX_DISCOVERY_OFF) {
        ax__host_open(d);
        ax_timer_start(&d->hb_timer, jittered(d, node->cfg.discovery.heartbeat_ns), 0);
        ax_timer_start(&d->refresh_timer, jittered(d, node->cfg.discovery.refresh_ns), 0);
        int64_t cn = node->cfg.discovery.counters_ns;
        if (cn > 0)
            ax_timer_start(&d->counters_timer, cn, cn);
        /* Announce at once and ask everyone for their state: a node
         * started after another finds it within one round trip. */
        pthread_mutex_lock(&node->lock);
        ax__disc_request_state(d, 0);
        pthread_mutex_unlock(&node->lock);
        send_full(d);
    }
    *out = d;
    return 0;
}

void ax__disc_stop(struct ax__disc *d)
{
    ax_node *n = d->node;
    if (d->stopped)
        return;
    if (d->mc_on || d->uc_on) {
        pthread_mutex_lock(&n->lock);
        ax__disc_begin(d);
        d->tx.which_body = axon_ctl_Discovery_bye_tag;
        send_tx(d);
        pthread_mutex_unlock(&n->lock);
    }
    d->stopped = true;
    ax__host_close(d);
    ax_timer_stop(&d->hb_timer);
    ax_timer_stop(&d->refresh_timer);
    ax_timer_stop(&d->soon_timer);
    ax_timer_stop(&d->counters_timer);
    if (d->mc_on) {
        ax_io_close(&d->mc_rx, NULL);
        ax_io_close(&d->mc_reply, NULL); /* closes mc_tx_fd */
        d->mc_tx_fd = -1;
    } else if (d->mc_rx.loop && !ax_io_is_closing(&d->mc_rx)) {
        ax_io_close(&d->mc_rx, NULL); /* registered, then setup failed */
    }
    if (d->uc.loop && !ax_io_is_closing(&d->uc))
        ax_io_close(&d->uc, NULL);
    pthread_mutex_lock(&n->lock);
    ax__table_free_all(d);
    pthread_mutex_unlock(&n->lock);
}

void ax__disc_free(struct ax__disc *d)
{
    if (!d)
        return;
    free(d->targets);
    free(d->snap);
    free(d->snap_ctr);
    free(d->page_start);
    free(d);
}

void ax__disc_stats(struct ax__disc *d, struct ax_discovery_stats *out)
{
    pthread_mutex_lock(&d->node->lock);
    *out = d->stats;
    pthread_mutex_unlock(&d->node->lock);
}
