/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration rules between keys: what no single row can check (a lease
 * longer than the heartbeat, a port range in order). They run after every
 * load, after the environment overrides and in ax_config_validate(); each
 * names the key to blame first and the other key to blame when the first
 * was not set by the source being loaded.
 */
#include <stdio.h>

#include "axon/units.h"
#include "core/ax__config.h"

static int rule_lease(const struct ax_config *c, char *msg, size_t n)
{
    if (c->discovery.lease_ns > c->discovery.heartbeat_ns)
        return 0;
    char l[32], h[32];
    ax_duration_format(c->discovery.lease_ns, l, sizeof l);
    ax_duration_format(c->discovery.heartbeat_ns, h, sizeof h);
    snprintf(msg, n,
             "discovery.lease (%s) must be longer than discovery.heartbeat (%s), or every peer "
             "expires between two heartbeats",
             l, h);
    return -1;
}

static int rule_max_lease(const struct ax_config *c, char *msg, size_t n)
{
    if (c->discovery.max_lease_ns >= c->discovery.lease_ns)
        return 0;
    char m[32], l[32];
    ax_duration_format(c->discovery.max_lease_ns, m, sizeof m);
    ax_duration_format(c->discovery.lease_ns, l, sizeof l);
    snprintf(msg, n,
             "discovery.max_lease (%s) must be at least discovery.lease (%s), or a peer "
             "configured like this node gets a shorter lease here than it asks for",
             m, l);
    return -1;
}

static int rule_disc_port(const struct ax_config *c, char *msg, size_t n)
{
    if ((uint32_t)c->discovery.port + 10u * c->domain + 8u <= 65535)
        return 0;
    snprintf(msg, n, "discovery.port (%u) + 10 * node.domain (%u) + 8 exceeds 65535",
             (unsigned)c->discovery.port, (unsigned)c->domain);
    return -1;
}

static int rule_port_range(const struct ax_config *c, char *msg, size_t n)
{
    unsigned lo = c->transport.port_min, hi = c->transport.port_max;
    if ((lo == 0) != (hi == 0)) {
        snprintf(msg, n,
                 "transport.port_min (%u) and transport.port_max (%u) must both be 0 (the "
                 "kernel chooses) or both be set",
                 lo, hi);
        return -1;
    }
    if (lo > hi) {
        snprintf(msg, n, "transport.port_min (%u) is above transport.port_max (%u)", lo, hi);
        return -1;
    }
    return 0;
}

static int rule_reconnect(const struct ax_config *c, char *msg, size_t n)
{
    if (c->transport.reconnect_min_ns <= c->transport.reconnect_max_ns)
        return 0;
    char a[32], b[32];
    ax_duration_format(c->transport.reconnect_min_ns, a, sizeof a);
    ax_duration_format(c->transport.reconnect_max_ns, b, sizeof b);
    snprintf(msg, n, "transport.reconnect_min (%s) is above transport.reconnect_max (%s)", a, b);
    return -1;
}

const struct ax__cfg_rule ax__cfg_rules[] = {
    {"discovery.lease", "discovery.heartbeat", rule_lease},
    {"discovery.max_lease", "discovery.lease", rule_max_lease},
    {"discovery.port", "node.domain", rule_disc_port},
    {"transport.port_max", "transport.port_min", rule_port_range},
    {"transport.reconnect_min", "transport.reconnect_max", rule_reconnect},
};
const size_t ax__cfg_nrules = sizeof ax__cfg_rules / sizeof ax__cfg_rules[0];

/* The error points at a key the source being loaded wrote: a file that
 * raises discovery.heartbeat above the default lease is told so at its
 * heartbeat line, not at a lease it never mentions. */
int ax__cfg_check_rules(const struct ax_config *cfg, const int *set, size_t *blame, char *msg,
                        size_t msglen)
{
    for (size_t r = 0; r < ax__cfg_nrules; r++) {
        if (ax__cfg_rules[r].check(cfg, msg, msglen) == 0)
            continue;
        const struct ax__cfg_key *a =
            ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, ax__cfg_rules[r].key);
        const struct ax__cfg_key *b =
            ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, ax__cfg_rules[r].other);
        size_t ia = (size_t)(a - ax__cfg_keys), ib = (size_t)(b - ax__cfg_keys);
        *blame = (set && !set[ia] && set[ib]) ? ib : ia;
        return (int)r;
    }
    return -1;
}
