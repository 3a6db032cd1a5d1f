/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CLI's node, waiting for discovery to settle, table snapshots and
 * finding a type for what the table shows.
 *
 * Not perturbing: the CLI's node is a node like any other (it announces
 * itself, so peers send it their state), but it creates no endpoint unless
 * a verb needs one, and listings leave it out.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_node_open(struct cli *c)
{
    if (c->node)
        return 0;
    struct ax_config cfg;
    int rc = ax_config_copy(&cfg, &c->cfg);
    if (rc < 0)
        return cli_error("%s", ax_strerror(rc));
    /* With TLS certificates the name is the certificate's: kept as
     * configured (docs/security.md, "The CLI"). */
    if (cfg.security.tls != AX_TLS_CERT || !cfg.node_name[0])
        snprintf(cfg.node_name, sizeof cfg.node_name, "%s-%ld",
                 c->node_prefix ? c->node_prefix : "axon-cli", (long)getpid());
    cfg.threads = 1;
    /* Rates, drops and gaps are not in announcements: the CLI asks every
     * node for them, unless the configuration already asks more often. */
    if (cfg.discovery.counters_ns == 0 || cfg.discovery.counters_ns > CLI_COUNTERS_NS)
        cfg.discovery.counters_ns = CLI_COUNTERS_NS;
    rc = ax_node_new(&c->node, &cfg);
    ax_config_fini(&cfg);
    if (rc < 0) {
        c->node = NULL;
        return cli_error("cannot start the CLI's node in domain %u: %s. Check the configuration "
                         "(axon config) and that discovery can bind its port (discovery.port + "
                         "10 * domain)",
                         (unsigned)c->cfg.domain, ax_strerror(rc));
    }
    c->self_id = ax_node_id(c->node);
    return 0;
}

void cli_node_close(struct cli *c)
{
    if (c->node)
        ax_node_destroy(c->node);
    c->node = NULL;
}

/* A value that changes whenever the set of nodes or of their endpoints
 * does, and whether every node's endpoint set is complete. */
static uint64_t table_fingerprint(struct cli *c, bool *complete, int64_t *max_hb)
{
    struct ax_node_info nodes[256];
    size_t n = 0;
    *complete = true;
    if (ax_node_list_nodes(c->node, nodes, 256, &n) < 0)
        return 0;
    uint64_t fp = n;
    for (size_t i = 0; i < n && i < 256; i++) {
        fp ^= (nodes[i].id * 0x9E3779B97F4A7C15ull) + nodes[i].generation * 31 +
              nodes[i].publishers * 7 + nodes[i].subscribers;
        fp = (fp << 7) | (fp >> 57);
        if (!nodes[i].is_self && !nodes[i].complete)
            *complete = false;
        if (nodes[i].heartbeat_ns > *max_hb)
            *max_hb = nodes[i].heartbeat_ns;
    }
    return fp;
}

int cli_settle(struct cli *c)
{
    int64_t start = ax_clock_mono_ns();
    int64_t end = start + c->wait_ns;
    /* Every node answers a newcomer's state request within milliseconds,
     * by unicast to it alone: the table is normally complete after one
     * round trip. Wait for it to stay unchanged for QUIET (longer on a
     * slow machine, where answers straggle), and at least MIN_WAIT. */
    const int64_t quiet = CLI_SETTLE_QUIET_NS;
    int64_t min_end = start + CLI_SETTLE_MIN_NS;
    if (min_end > end)
        min_end = end;
    bool complete;
    int64_t max_hb = 0;
    uint64_t fp = table_fingerprint(c, &complete, &max_hb);
    int64_t changed = start;
    c->settled = false;
    for (;;) {
        if (cli_sleep(c, 20 * AX_NS_PER_MS))
            return AX_ECLOSED;
        int64_t now = ax_clock_mono_ns();
        uint64_t f = table_fingerprint(c, &complete, &max_hb);
        if (f != fp) {
            fp = f;
            changed = now;
        }
        if (now >= min_end && complete && now - changed >= quiet) {
            c->settled = true;
            return 0;
        }
        if (now >= end)
            return 0;
    }
}

int cli_snap_take(struct cli *c, const char *topic, struct cli_snap *s)
{
    return cli_snap_take_kind(c, topic, false, s);
}

int cli_snap_take_kind(struct cli *c, const char *topic, bool services, struct cli_snap *s)
{
    memset(s, 0, sizeof *s);
    for (int attempt = 0; attempt < 8; attempt++) {
        size_t nn = 0, ne = 0;
        int rc = ax_node_list_nodes(c->node, NULL, 0, &nn);
        if (rc == 0)
            rc = ax_node_list_endpoints(c->node, topic, NULL, 0, &ne);
        if (rc < 0)
            return rc;
        nn += 8;
        ne += 32;
        struct ax_node_info *nodes = calloc(nn, sizeof *nodes);
        struct ax_endpoint_info *eps = calloc(ne, sizeof *eps);
        size_t gn = 0, ge = 0;
        if (!nodes || !eps) {
            free(nodes);
            free(eps);
            return AX_ENOMEM;
        }
        ax_node_list_nodes(c->node, nodes, nn, &gn);
        ax_node_list_endpoints(c->node, topic, eps, ne, &ge);
        if (gn > nn || ge > ne) { /* grew in between: again */
            free(nodes);
            free(eps);
            continue;
        }
        size_t w = 0;
        for (size_t i = 0; i < gn; i++)
            if (!nodes[i].is_self && nodes[i].id != c->self_id)
                nodes[w++] = nodes[i];
        s->nodes = nodes;
        s->nnodes = w;
        w = 0;
        for (size_t i = 0; i < ge; i++)
            if (eps[i].node_id != c->self_id && (eps[i].kind == AX_ENDPOINT_SERVICE ||
                                                 eps[i].kind == AX_ENDPOINT_CLIENT) == services)
                eps[w++] = eps[i];
        s->eps = eps;
        s->neps = w;
        return 0;
    }
    return AX_EAGAIN;
}

void cli_snap_free(struct cli_snap *s)
{
    free(s->nodes);
    free(s->eps);
    memset(s, 0, sizeof *s);
}

const struct ax_node_info *cli_snap_node(const struct cli_snap *s, uint64_t id)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (s->nodes[i].id == id)
            return &s->nodes[i];
    return NULL;
}

/* ---- types ---- */

static bool hash_ok(const ax_type *t, const uint8_t *hash)
{
    return !hash || memcmp(ax_type_hash(t)->bytes, hash, AX_TYPE_HASH_SIZE) == 0;
}

static int try_node(struct cli *c, uint64_t node_id, const char *node_name, const char *name,
                    const uint8_t *hash, struct cli_type *out, bool *hash_mismatch)
{
    uint8_t *fds = NULL;
    size_t len = 0;
    int rc = ax_node_fetch_schema(c->node, node_id, name, &fds, &len, 3000);
    if (rc < 0)
        return rc;
    ax_type *t = NULL;
    rc = ax_type_from_fds(fds, len, name, &t);
    if (rc < 0) {
        free(fds);
        cli_warn("the schema of %s from node '%s' is unusable: %s", name, node_name,
                 ax_strerror(rc));
        return rc;
    }
    if (!hash_ok(t, hash)) {
        *hash_mismatch = true;
        ax_type_free(t);
        free(fds);
        return AX_ETYPE;
    }
    out->type = out->owned = t;
    out->fds = fds;
    out->fds_len = len;
    out->fds_owned = true;
    snprintf(out->source, sizeof out->source, "schema from node '%s'", node_name);
    return 0;
}

int cli_type_resolve(struct cli *c, const char *name, const uint8_t *hash,
                     const struct cli_snap *snap, uint64_t prefer, struct cli_type *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (hash) {
        memcpy(out->hash, hash, AX_TYPE_HASH_SIZE);
        out->have_hash = true;
    }
    const ax_type *t;
    bool mismatch = false;
    if (ax_type_find(name, &t) == 0) {
        if (hash_ok(t, hash)) {
            out->type = t;
            const uint8_t *fds;
            size_t len;
            if (ax_type_fds(t, &fds, &len) == 0) {
                out->fds = (uint8_t *)fds;
                out->fds_len = len;
            }
            if (!hash)
                memcpy(out->hash, ax_type_hash(t)->bytes, AX_TYPE_HASH_SIZE);
            out->have_hash = true;
            snprintf(out->source, sizeof out->source, "compiled in");
            return 0;
        }
        mismatch = true; /* a different version; the nodes may have the right one */
    }
    /* Ask the nodes that use the type: the preferred one, then publishers,
     * then subscribers. Each is asked once. */
    uint64_t asked[64];
    size_t nasked = 0;
    int last = AX_ENOTFOUND;
    for (int pass = 0; pass < 3 && snap; pass++) {
        for (size_t i = 0; i < snap->neps; i++) {
            const struct ax_endpoint_info *e = &snap->eps[i];
            /* A service's node has both its request and reply types. */
            bool as_type = strcmp(e->type_name, name) == 0 &&
                           (!hash || memcmp(e->type_hash, hash, AX_TYPE_HASH_SIZE) == 0);
            bool as_reply = e->kind == AX_ENDPOINT_SERVICE &&
                            strcmp(e->reply_type_name, name) == 0 &&
                            (!hash || memcmp(e->reply_type_hash, hash, AX_TYPE_HASH_SIZE) == 0);
            if (!as_type && !as_reply)
                continue;
            if (pass == 0 && e->node_id != prefer)
                continue;
            if (pass == 1 && e->kind == AX_ENDPOINT_SUBSCRIBER)
                continue;
            bool done = false;
            for (size_t k = 0; k < nasked; k++)
                done |= asked[k] == e->node_id;
            if (done || nasked == 64)
                continue;
            asked[nasked++] = e->node_id;
            int rc = try_node(c, e->node_id, e->node_name, name, hash, out, &mismatch);
            if (rc == 0) {
                if (!hash)
                    memcpy(out->hash, ax_type_hash(out->type)->bytes, AX_TYPE_HASH_SIZE);
                out->have_hash = true;
                return 0;
            }
            if (rc != AX_ENOTFOUND && rc != AX_ETYPE)
                last = rc;
        }
    }
    if (mismatch)
        return AX_ETYPE;
    if (nasked > 0 && last == AX_ENOTFOUND) {
        /* Nodes use it but none has a schema: raw bytes. */
        snprintf(out->source, sizeof out->source, "raw (no node has a schema)");
        return 0;
    }
    return last;
}

void cli_type_fini(struct cli_type *t)
{
    if (t->owned)
        ax_type_free(t->owned);
    if (t->fds_owned)
        free(t->fds);
    memset(t, 0, sizeof *t);
}
