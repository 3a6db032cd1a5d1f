/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon doctor [TOPIC]: explain why publishers and subscribers do not talk.
 *
 * Everything comes from what the system already says about itself: the
 * discovery table of this domain (types, QoS, counters with drops by reason,
 * sequence gaps, each subscription's connection count and last connection
 * error, each node's heartbeat age) and a short scan of every other domain
 * (ax_discovery_scan) for nodes that use the same topic in the wrong domain.
 * Each finding is one line saying what is wrong and one saying what to
 * change. Exit status 0: nothing wrong; 1: findings.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "cli.h"

/* ---- what the scan heard in other domains ---- */

struct far_node {
    uint32_t domain;
    struct ax_node_info info;
    struct ax_endpoint_info *eps;
    size_t neps;
};

struct far {
    uint32_t own;
    struct far_node *n;
    size_t count, cap;
};

static void on_scan(uint32_t domain, const struct ax_node_info *node,
                    const struct ax_endpoint_info *eps, size_t neps, void *user)
{
    struct far *f = user;
    if (domain == f->own)
        return;
    if (ax__array_reserve(&f->n, &f->cap, f->count + 1, 8) < 0)
        return;
    struct far_node *x = &f->n[f->count];
    x->eps = malloc((neps ? neps : 1) * sizeof *eps);
    if (!x->eps)
        return;
    memcpy(x->eps, eps, neps * sizeof *eps);
    x->neps = neps;
    x->domain = domain;
    x->info = *node;
    f->count++;
}

/* ---- heartbeats watched while the doctor runs ---- */

/* The largest heard age seen for each node while the doctor ran (the table
 * is sampled every 50 ms), and the nodes whose lease expired meanwhile: a
 * node that goes silent after answering the doctor shows up here even if it
 * answered just before the last snapshot. */
struct watch {
    pthread_mutex_t mu;
    struct {
        uint64_t id;
        int64_t max_age;
    } seen[256];
    size_t nseen;
    struct ax_node_info left[32]; /* lease expired during the run */
    size_t nleft;
};

static void watch_sample(struct cli *c, struct watch *w)
{
    struct ax_node_info nodes[256];
    size_t n = 0;
    if (ax_node_list_nodes(c->node, nodes, 256, &n) < 0)
        return;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < n && i < 256; i++) {
        if (nodes[i].is_self)
            continue;
        size_t k;
        for (k = 0; k < w->nseen; k++)
            if (w->seen[k].id == nodes[i].id)
                break;
        if (k == w->nseen) {
            if (w->nseen == 256)
                continue;
            w->seen[w->nseen].id = nodes[i].id;
            w->seen[w->nseen++].max_age = 0;
        }
        if (nodes[i].heard_age_ns > w->seen[k].max_age)
            w->seen[k].max_age = nodes[i].heard_age_ns;
    }
    pthread_mutex_unlock(&w->mu);
}

static int64_t watch_max_age(struct watch *w, const struct ax_node_info *n)
{
    int64_t age = n->heard_age_ns;
    pthread_mutex_lock(&w->mu);
    for (size_t k = 0; k < w->nseen; k++)
        if (w->seen[k].id == n->id && w->seen[k].max_age > age)
            age = w->seen[k].max_age;
    pthread_mutex_unlock(&w->mu);
    return age;
}

static void on_graph(ax_node *node, const struct ax_graph_event *ev, void *user)
{
    struct watch *w = user;
    (void)node;
    if (ev->kind != AX_EVENT_NODE_LEAVE || !ev->lease_expired)
        return;
    pthread_mutex_lock(&w->mu);
    if (w->nleft < 32)
        w->left[w->nleft++] = ev->node;
    pthread_mutex_unlock(&w->mu);
}

struct scan_job {
    const struct ax_config *cfg;
    int64_t duration;
    struct far *far;
    int rc;
    atomic_bool done;
};

static void *scan_main(void *arg)
{
    struct scan_job *j = arg;
    j->rc = ax_discovery_scan(j->cfg, j->duration, on_scan, j->far);
    atomic_store(&j->done, true);
    return NULL;
}

/* ---- findings ---- */

struct finding {
    const char *kind;
    char topic[AX_TOPIC_MAX];
    char summary[768];
    char fix[768];
};

struct report {
    struct finding *f;
    size_t n, cap;
    char (*ok)[512];
    size_t nok, okcap;
};

static struct finding *add(struct report *r, const char *kind, const char *topic)
{
    if (ax__array_reserve(&r->f, &r->cap, r->n + 1, 8) < 0)
        return NULL;
    struct finding *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    snprintf(f->topic, sizeof f->topic, "%s", topic ? topic : "");
    return f;
}

static void add_ok(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_ok(struct report *r, const char *fmt, ...)
{
    if (ax__array_reserve(&r->ok, &r->okcap, r->nok + 1, 8) < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->ok[r->nok++], 512, fmt, ap);
    va_end(ap);
}

static void add_service_finding(void *report, const char *kind, const char *name,
                                const char *summary, const char *fix)
{
    struct finding *f = add(report, kind, name);
    if (f) {
        snprintf(f->summary, sizeof f->summary, "%s", summary);
        snprintf(f->fix, sizeof f->fix, "%s", fix);
    }
}

static bool same_hash(const struct ax_endpoint_info *a, const struct ax_endpoint_info *b)
{
    return memcmp(a->type_hash, b->type_hash, AX_TYPE_HASH_SIZE) == 0;
}

static const char *node_desc(const struct cli_snap *s, uint64_t id, char *buf, size_t size)
{
    const struct ax_node_info *n = cli_snap_node(s, id);
    if (n)
        snprintf(buf, size, "'%s' (host %s, pid %u, discovery %s)", n->name, n->host,
                 (unsigned)n->pid, cli_mode_name(n->mode));
    else
        snprintf(buf, size, "(unknown node %016llx)", (unsigned long long)id);
    return buf;
}

static void check_topic(struct cli *c, const char *topic, const struct cli_snap *s,
                        const struct far *far, struct report *r)
{
    char d1[256], d2[256], h1[24], h2[24];
    size_t npub = 0, nsub = 0;
    for (size_t i = 0; i < s->neps; i++) {
        if (strcmp(s->eps[i].topic, topic) != 0)
            continue;
        if (s->eps[i].kind == AX_ENDPOINT_PUBLISHER)
            npub++;
        else
            nsub++;
    }
    size_t nfound = r->n;

    /* Other domains. */
    for (size_t k = 0; k < far->count; k++) {
        const struct far_node *fn = &far->n[k];
        for (size_t e = 0; e < fn->neps; e++) {
            const struct ax_endpoint_info *ep = &fn->eps[e];
            if (strcmp(ep->topic, topic) != 0)
                continue;
            bool pub = ep->kind == AX_ENDPOINT_PUBLISHER;
            struct finding *f = add(r, "other_domain", topic);
            if (!f)
                return;
            size_t counterparts = pub ? nsub : npub;
            char where[160];
            if (counterparts)
                snprintf(where, sizeof where, "its %s (%zu) are in domain %u",
                         pub ? "subscribers" : "publishers", counterparts, (unsigned)c->cfg.domain);
            else
                snprintf(where, sizeof where, "not in domain %u, where this tool looks",
                         (unsigned)c->cfg.domain);
            snprintf(f->summary, sizeof f->summary,
                     "domain mismatch: node '%s' (host %s, pid %u) %s %s in domain %u, %s",
                     fn->info.name, fn->info.host, (unsigned)fn->info.pid,
                     pub ? "publishes" : "subscribes to", topic, (unsigned)fn->domain, where);
            snprintf(f->fix, sizeof f->fix,
                     "give every node of %s the same domain: node.domain in its configuration "
                     "file or AXON_DOMAIN=<n> in its environment (e.g. AXON_DOMAIN=%u for "
                     "node '%s', or run the others with domain %u; this tool: --domain %u)",
                     topic, (unsigned)c->cfg.domain, fn->info.name, (unsigned)fn->domain,
                     (unsigned)fn->domain);
        }
    }

    /* Nobody on the other side in this domain. */
    if (nsub && !npub) {
        bool far_pub = false;
        for (size_t k = 0; k < far->count; k++)
            for (size_t e = 0; e < far->n[k].neps; e++)
                far_pub |= far->n[k].eps[e].kind == AX_ENDPOINT_PUBLISHER &&
                           strcmp(far->n[k].eps[e].topic, topic) == 0;
        if (!far_pub) {
            struct finding *f = add(r, "not_discovered", topic);
            if (!f)
                return;
            size_t off = 0;
            char subs[512] = "";
            for (size_t i = 0; i < s->neps; i++) {
                const struct ax_endpoint_info *e = &s->eps[i];
                if (e->kind != AX_ENDPOINT_SUBSCRIBER || strcmp(e->topic, topic) != 0)
                    continue;
                int w = snprintf(subs + off, sizeof subs - off, "%s%s", off ? ", " : "",
                                 node_desc(s, e->node_id, d1, sizeof d1));
                if (w > 0 && (size_t)w < sizeof subs - off)
                    off += (size_t)w;
            }
            snprintf(f->summary, sizeof f->summary,
                     "no publisher of %s is discovered in domain %u (nor in any other domain "
                     "this host hears); subscribed by %s",
                     topic, (unsigned)c->cfg.domain, subs);
            snprintf(f->fix, sizeof f->fix,
                     "start the publisher, or check that it uses domain %u and a discovery mode "
                     "that reaches these nodes: 'local' (the default) only finds nodes on the "
                     "same host; across hosts use 'network' (multicast on discovery.interface) "
                     "or 'peers' (discovery.peers lists the other hosts). This tool runs in "
                     "mode '%s'",
                     (unsigned)c->cfg.domain, cli_mode_name(c->cfg.discovery.mode));
        }
    }

    /* Pairs. */
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *sub = &s->eps[i];
        if (sub->kind != AX_ENDPOINT_SUBSCRIBER || strcmp(sub->topic, topic) != 0)
            continue;
        size_t matching = 0;
        for (size_t k = 0; k < s->neps; k++) {
            const struct ax_endpoint_info *pub = &s->eps[k];
            if (pub->kind != AX_ENDPOINT_PUBLISHER || strcmp(pub->topic, topic) != 0)
                continue;
            if (!same_hash(pub, sub)) {
                struct finding *f = add(r, "type_mismatch", topic);
                if (!f)
                    return;
                bool same_name = strcmp(pub->type_name, sub->type_name) == 0;
                snprintf(f->summary, sizeof f->summary,
                         "type mismatch on %s: publisher %s sends %s (hash %s), subscriber %s "
                         "expects %s (hash %s); each refuses the other",
                         topic, node_desc(s, pub->node_id, d1, sizeof d1), pub->type_name,
                         cli_fmt_hash_short(pub->type_hash, h1, sizeof h1),
                         node_desc(s, sub->node_id, d2, sizeof d2), sub->type_name,
                         cli_fmt_hash_short(sub->type_hash, h2, sizeof h2));
                if (same_name)
                    snprintf(f->fix, sizeof f->fix,
                             "both use %s but were built from different versions of its .proto "
                             "(a field was added, renamed, renumbered or retyped): rebuild both "
                             "from the same .proto",
                             pub->type_name);
                else
                    snprintf(f->fix, sizeof f->fix,
                             "make both sides use one type for %s: change the subscriber to %s "
                             "or the publisher to %s (or use different topics)",
                             topic, pub->type_name, sub->type_name);
                continue;
            }
            matching++;
            if (sub->qos.durability == AX_TRANSIENT_LOCAL && pub->qos.durability == AX_VOLATILE) {
                struct finding *f = add(r, "qos_incompatible", topic);
                if (!f)
                    return;
                snprintf(f->summary, sizeof f->summary,
                         "incompatible QoS on %s: subscriber %s asks for transient_local (the "
                         "last messages on joining) but publisher %s is volatile and keeps "
                         "none: it gets live messages only",
                         topic, node_desc(s, sub->node_id, d1, sizeof d1),
                         node_desc(s, pub->node_id, d2, sizeof d2));
                snprintf(f->fix, sizeof f->fix,
                         "make the publisher transient_local (in its configuration: qos: {%s: "
                         "{profile: latched}} or durability: transient_local with a history), "
                         "or make the subscriber volatile",
                         topic);
            }
        }
        if (matching && sub->counters.connections == 0 && sub->counters.last_error) {
            struct finding *f = add(r, "connection_failing", topic);
            if (!f)
                return;
            const struct ax_endpoint_info *pub = NULL;
            for (size_t k = 0; k < s->neps && !pub; k++)
                if (s->eps[k].kind == AX_ENDPOINT_PUBLISHER &&
                    strcmp(s->eps[k].topic, topic) == 0 && same_hash(&s->eps[k], sub))
                    pub = &s->eps[k];
            const struct ax_node_info *pn = pub ? cli_snap_node(s, pub->node_id) : NULL;
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s has no connection to the %zu publisher%s of %s; last "
                     "error: %s (%s)%s%s%s",
                     node_desc(s, sub->node_id, d1, sizeof d1), matching, matching == 1 ? "" : "s",
                     topic, ax_strerror(sub->counters.last_error),
                     ax_err_name(sub->counters.last_error), pn ? ", connecting to " : "",
                     pn ? pn->tcp : "", pn ? "" : "");
            snprintf(f->fix, sizeof f->fix, "%s", cli_doctor_connect_fix(sub->counters.last_error));
        } else if (matching && sub->counters.last_error && sub->counters.connections < matching) {
            struct finding *f = add(r, "connection_failing", topic);
            if (!f)
                return;
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s is connected to %u of the %zu publishers of %s; last "
                     "error: %s (%s)",
                     node_desc(s, sub->node_id, d1, sizeof d1), (unsigned)sub->counters.connections,
                     matching, topic, ax_strerror(sub->counters.last_error),
                     ax_err_name(sub->counters.last_error));
            snprintf(f->fix, sizeof f->fix, "%s", cli_doctor_connect_fix(sub->counters.last_error));
        }
        for (uint32_t k = 0; k < sub->counters.nlinks && k < AX_LINKS_SHOWN; k++) {
            const struct ax_link_info *li = &sub->counters.links[k];
            if (li->reason != AX_SHM_R_UNREACHABLE && li->reason != AX_SHM_R_FAILED)
                continue;
            /* Same host, both willing, and yet TCP: worth knowing. */
            struct finding *f = add(r, "shm_not_used", topic);
            if (!f)
                return;
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s reads %s from %s over TCP although both run on this host: "
                     "%s",
                     node_desc(s, sub->node_id, d1, sizeof d1), topic,
                     node_desc(s, li->node_id, d2, sizeof d2), ax_shm_reason_text(li->reason));
            snprintf(f->fix, sizeof f->fix,
                     li->reason == AX_SHM_R_UNREACHABLE
                         ? "shared-memory links go through an abstract Unix socket, which is "
                           "per network namespace: run both in one (containers: the host's "
                           "network, or a shared one); see docs/pubsub.md, Transports"
                         : "see both nodes' logs for why the shared-memory link failed; the "
                           "link stays on TCP until the publisher restarts");
        }
        if (sub->counters.gaps) {
            struct finding *f = add(r, "gaps", topic);
            if (!f)
                return;
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s missed %llu message%s of %s (sequence gaps: dropped on the "
                     "way by its publisher's overload policy, or lost when a connection "
                     "closed)",
                     node_desc(s, sub->node_id, d1, sizeof d1),
                     (unsigned long long)sub->counters.gaps, sub->counters.gaps == 1 ? "" : "s",
                     topic);
            char q[128];
            snprintf(f->fix, sizeof f->fix,
                     "its QoS is %s: if every message matters make the subscriber faster "
                     "(callbacks must not block) or give it a larger history / "
                     "transport.queue_bytes; for sensor data latest_only may be what you want",
                     cli_fmt_qos(&sub->qos, q, sizeof q));
        }
        if (sub->counters.restarts) {
            struct finding *f = add(r, "restarts", topic);
            if (!f)
                return;
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s saw %llu publisher restart%s on %s: what a publisher sent "
                     "after the last message received before it restarted is unknown",
                     node_desc(s, sub->node_id, d1, sizeof d1),
                     (unsigned long long)sub->counters.restarts,
                     sub->counters.restarts == 1 ? "" : "s", topic);
            snprintf(f->fix, sizeof f->fix,
                     "look in the publisher's log for why its process ended (a crash, kill -9, "
                     "an orderly restart); `axon topic echo` and `axon record` show each "
                     "restart with the last sequence number received");
        }
        if (sub->counters.drops[AX_DROP_LIFESPAN]) {
            struct finding *f = add(r, "drops", topic);
            if (!f)
                return;
            char dl[32];
            snprintf(f->summary, sizeof f->summary,
                     "subscriber %s dropped %llu message%s of %s older than its lifespan (%s) "
                     "on delivery",
                     node_desc(s, sub->node_id, d1, sizeof d1),
                     (unsigned long long)sub->counters.drops[AX_DROP_LIFESPAN],
                     sub->counters.drops[AX_DROP_LIFESPAN] == 1 ? "" : "s", topic,
                     cli_fmt_dur(sub->qos.lifespan_ns, dl, sizeof dl));
            snprintf(f->fix, sizeof f->fix,
                     "the messages arrive late: the subscriber lags behind, the publisher's "
                     "queue is long, or the hosts' clocks differ (lifespan uses real-time "
                     "stamps); raise the lifespan or fix what delays them");
        }
    }

    /* Publishers that dropped. */
    for (size_t k = 0; k < s->neps; k++) {
        const struct ax_endpoint_info *pub = &s->eps[k];
        if (pub->kind != AX_ENDPOINT_PUBLISHER || strcmp(pub->topic, topic) != 0)
            continue;
        uint64_t queue = pub->counters.drops[AX_DROP_QUEUE_OLDEST] +
                         pub->counters.drops[AX_DROP_QUEUE_NEWEST] +
                         pub->counters.drops[AX_DROP_QUEUE_LATEST];
        uint64_t total = cli_drops_total(&pub->counters) - pub->counters.drops[AX_DROP_LIFESPAN];
        if (!total)
            continue;
        struct finding *f = add(r, "drops", topic);
        if (!f)
            return;
        char dr[256], pol[512] = "";
        size_t off = 0;
        for (size_t i = 0; i < s->neps; i++) {
            const struct ax_endpoint_info *sub = &s->eps[i];
            if (sub->kind != AX_ENDPOINT_SUBSCRIBER || strcmp(sub->topic, topic) != 0 ||
                !same_hash(sub, pub))
                continue;
            int w = snprintf(pol + off, sizeof pol - off, "%s'%s' %s depth %u", off ? ", " : "",
                             sub->node_name, ax_overload_name(sub->qos.overload),
                             (unsigned)sub->qos.history);
            if (w > 0 && (size_t)w < sizeof pol - off)
                off += (size_t)w;
        }
        snprintf(f->summary, sizeof f->summary,
                 "publisher %s dropped %llu message%s of %s (%s) by the subscribers' overload "
                 "policies (%s)",
                 node_desc(s, pub->node_id, d1, sizeof d1), (unsigned long long)total,
                 total == 1 ? "" : "s", topic, cli_fmt_drops(&pub->counters, dr, sizeof dr),
                 off ? pol : "no subscriber now");
        if (pub->counters.drops[AX_DROP_DISCONNECT])
            snprintf(f->fix, sizeof f->fix,
                     "a subscriber with overload 'disconnect' could not keep up and was cut "
                     "off: make its callback faster, or use drop_oldest / latest_only if it may "
                     "skip messages");
        else if (queue)
            snprintf(f->fix, sizeof f->fix,
                     "a subscriber cannot keep up with %s: make its callback faster (it must "
                     "not block), give it a larger history (best effort) or "
                     "transport.queue_bytes/queue_frames (reliable), or choose latest_only "
                     "when only the newest message matters",
                     topic);
        else
            snprintf(f->fix, sizeof f->fix,
                     "messages were queued when a connection closed (a subscriber left or "
                     "was restarted): expected when nodes stop; if not, look for "
                     "reconnects in the subscriber's log");
    }

    if (r->n == nfound && (npub || nsub)) {
        uint32_t conns = 0;
        for (size_t i = 0; i < s->neps; i++)
            if (s->eps[i].kind == AX_ENDPOINT_SUBSCRIBER && strcmp(s->eps[i].topic, topic) == 0)
                conns += s->eps[i].counters.connections;
        add_ok(r, "%s: %zu publisher%s, %zu subscriber%s, %u connection%s, no drops%s", topic, npub,
               npub == 1 ? "" : "s", nsub, nsub == 1 ? "" : "s", (unsigned)conns,
               conns == 1 ? "" : "s", npub && !nsub ? " (nobody subscribes)" : "");
    }
}

static void stale_finding(struct report *r, const char *topic, const struct ax_node_info *n,
                          int64_t age, bool dropped)
{
    char b1[32], b2[32], b3[32];
    struct finding *f = add(r, "stale_heartbeat", topic);
    if (!f)
        return;
    if (dropped)
        snprintf(f->summary, sizeof f->summary,
                 "node '%s' (host %s, pid %u) stopped heartbeating while this check ran and was "
                 "dropped when its lease (%s) expired",
                 n->name, n->host, (unsigned)n->pid, cli_fmt_dur(n->lease_ns, b3, sizeof b3));
    else
        snprintf(f->summary, sizeof f->summary,
                 "node '%s' (host %s, pid %u) went %s without a heartbeat while this check ran "
                 "(it heartbeats every %s and is dropped after %s)",
                 n->name, n->host, (unsigned)n->pid, cli_fmt_dur(age, b1, sizeof b1),
                 cli_fmt_dur(n->heartbeat_ns, b2, sizeof b2),
                 cli_fmt_dur(n->lease_ns, b3, sizeof b3));
    snprintf(f->fix, sizeof f->fix,
             "check that the process runs (not stopped, not starved of CPU) and that no callback "
             "blocks its node's thread (callbacks share it with the heartbeats); if the network "
             "loses discovery datagrams, raise discovery.lease");
}

static void check_nodes(struct watch *w, const struct cli_snap *s, const char *topic,
                        struct report *r)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct ax_node_info *n = &s->nodes[i];
        if (topic) {
            bool involved = false;
            for (size_t e = 0; e < s->neps; e++)
                involved |= s->eps[e].node_id == n->id && strcmp(s->eps[e].topic, topic) == 0;
            if (!involved)
                continue;
        }
        /* Three heartbeats missed, or half the lease: whichever is longer,
         * so a busy but healthy node is not flagged. */
        int64_t limit = 3 * n->heartbeat_ns;
        if (limit < n->lease_ns / 2)
            limit = n->lease_ns / 2;
        int64_t age = watch_max_age(w, n);
        if (n->heartbeat_ns && age > limit)
            stale_finding(r, topic, n, age, false);
    }
    /* Dropped during the run: for a topic only if it is gone from it. */
    pthread_mutex_lock(&w->mu);
    for (size_t k = 0; k < w->nleft; k++)
        if (!topic || !cli_snap_node(s, w->left[k].id))
            stale_finding(r, topic, &w->left[k], w->left[k].lease_ns, true);
    pthread_mutex_unlock(&w->mu);
}

/* Whether the domain is open, and what the key dropped while we listened. */
static void check_security(struct cli *c, const struct ax_discovery_stats *ds, struct report *r)
{
    const char *file = c->cfg.security.key_file;
    char fp[17];
    if (!file[0])
        add_ok(r, "the domain is open: no domain key (security.key_file), so any process that "
                  "reaches it can join, publish and subscribe (docs/security.md)");
    else if (ax_key_fingerprint(file, fp, NULL, 0) == 0)
        add_ok(r, "discovery is authenticated with the domain key %s (%s)", fp, file);
    if (ds->rx_unauthenticated) {
        struct finding *f = add(r, "unauthenticated", NULL);
        if (f) {
            snprintf(f->summary, sizeof f->summary,
                     "%llu discovery datagram%s without a valid MAC arrived and were dropped",
                     (unsigned long long)ds->rx_unauthenticated,
                     ds->rx_unauthenticated == 1 ? "" : "s");
            snprintf(f->fix, sizeof f->fix,
                     "a node in domain %u has no domain key or another one: give every node of "
                     "the domain the same security.key_file (compare 'axon doctor' fingerprints)",
                     (unsigned)c->cfg.domain);
        }
    }
    static const char *const tls[] = {"off", "psk", "cert"};
    if (c->cfg.security.tls != AX_TLS_OFF)
        add_ok(r, "TCP links use TLS 1.3 (security.tls: %s)", tls[c->cfg.security.tls]);
    if (c->cfg.security.policy_file[0])
        add_ok(r, "access is controlled by the policy %s", c->cfg.security.policy_file);
    if (ds->rx_replayed)
        add_ok(r, "%llu discovery datagram%s heard twice or replayed were dropped",
               (unsigned long long)ds->rx_replayed, ds->rx_replayed == 1 ? "" : "s");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cli_verb_doctor(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *topic = a->npos ? a->pos[0] : NULL;
    int64_t scan = AX_NS_PER_S;
    if (!cli_opt_seconds(a, "scan", &scan))
        return CLI_EXIT_USAGE;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    static struct watch w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ax_node_set_graph_listener(c->node, on_graph, &w, NULL);

    /* The scan of the other domains runs on a thread of its own while this
     * one waits for discovery to settle and then watches the heartbeats. */
    struct far far = {.own = c->cfg.domain};
    struct scan_job job = {.cfg = &c->cfg, .duration = scan, .far = &far};
    pthread_t th;
    int64_t scan_end = ax_clock_mono_ns() + scan;
    bool scanning = scan > 0 && pthread_create(&th, NULL, scan_main, &job) == 0;
    if (scan > 0 && !scanning)
        job.rc = AX_EAGAIN;
    bool interrupted = cli_settle(c) < 0;
    /* A long scan would otherwise be a silent wait; say what it is doing
     * (on stderr: --json output stays one object). */
    int64_t left = scan_end - ax_clock_mono_ns();
    if (scanning && !interrupted && scan >= 2 * AX_NS_PER_S && left > 0) {
        char b[32];
        cli_note("watching heartbeats and listening to the other domains for %s more",
                 cli_fmt_dur(left, b, sizeof b));
    }
    while (scanning && !interrupted && !atomic_load(&job.done)) {
        watch_sample(c, &w);
        interrupted = cli_sleep(c, 50 * AX_NS_PER_MS);
    }
    if (scanning)
        pthread_join(th, NULL); /* at most --scan seconds */
    ax_node_set_graph_listener(c->node, NULL, NULL, NULL);
    if (interrupted) {
        for (size_t k = 0; k < far.count; k++)
            free(far.n[k].eps);
        free(far.n);
        return CLI_EXIT_OK;
    }
    watch_sample(c, &w);
    int scan_rc = job.rc;
    struct cli_snap s;
    if ((rc = cli_snap_take(c, NULL, &s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    struct report r = {0};

    /* The topics to look at. */
    const char **topics = calloc(s.neps + 1, sizeof *topics);
    size_t nt = 0;
    if (!topics) {
        cli_snap_free(&s);
        return cli_error("out of memory");
    }
    if (topic) {
        topics[nt++] = topic;
    } else {
        for (size_t i = 0; i < s.neps; i++) {
            bool have = false;
            for (size_t k = 0; k < nt && !have; k++)
                have = strcmp(topics[k], s.eps[i].topic) == 0;
            if (!have)
                topics[nt++] = s.eps[i].topic;
        }
        qsort(topics, nt, sizeof *topics, cmp_str);
    }
    for (size_t i = 0; i < nt; i++)
        check_topic(c, topics[i], &s, &far, &r);
    bool a_service = cli_doctor_services(c, topic, add_service_finding, &r);
    if (topic && !a_service) {
        bool anywhere = false;
        for (size_t i = 0; i < s.neps; i++)
            anywhere |= strcmp(s.eps[i].topic, topic) == 0;
        for (size_t k = 0; k < far.count; k++)
            for (size_t e = 0; e < far.n[k].neps; e++)
                anywhere |= strcmp(far.n[k].eps[e].topic, topic) == 0;
        if (!anywhere) {
            struct finding *f = add(&r, "not_discovered", topic);
            if (f) {
                snprintf(f->summary, sizeof f->summary,
                         "no node publishes or subscribes %s, in domain %u or in any domain "
                         "this host hears",
                         topic, (unsigned)c->cfg.domain);
                snprintf(f->fix, sizeof f->fix,
                         "check the topic's name ('axon topic list'), that the nodes run, and "
                         "their discovery mode: 'local' only reaches this host; nodes on other "
                         "hosts need 'network' or 'peers' (discovery.peers) on both sides");
            }
        }
    }
    check_nodes(&w, &s, topic, &r);
    struct ax_discovery_stats ds = {0};
    if (ax_node_discovery_stats(c->node, &ds) == 0 && ds.rx_other_domain) {
        struct finding *f = add(&r, "other_domain", NULL);
        if (f) {
            snprintf(f->summary, sizeof f->summary,
                     "%llu discovery datagram%s of another domain arrived on domain %u's port",
                     (unsigned long long)ds.rx_other_domain, ds.rx_other_domain == 1 ? "" : "s",
                     (unsigned)c->cfg.domain);
            snprintf(f->fix, sizeof f->fix,
                     "some node uses another discovery.port so that its domain lands on this "
                     "one's port: use the same discovery.port everywhere");
        }
    }
    check_security(c, &ds, &r);

    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_uint(&j, "domain", c->cfg.domain);
        cj_bool(&j, "domain_open", !c->cfg.security.key_file[0]);
        cj_uint(&j, "nodes", s.nnodes);
        cj_uint(&j, "topics", nt);
        cj_num(&j, "scan_s", scan_rc == 0 ? (double)scan / 1e9 : 0);
        if (scan_rc < 0)
            cj_str(&j, "scan_error", ax_strerror(scan_rc));
        cj_arr(&j, "other_domains");
        for (size_t k = 0; k < far.count; k++) {
            cj_obj(&j, NULL);
            cj_uint(&j, "domain", far.n[k].domain);
            cj_str(&j, "node", far.n[k].info.name);
            cj_uint(&j, "endpoints", far.n[k].neps);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_arr(&j, "findings");
        for (size_t i = 0; i < r.n; i++) {
            cj_obj(&j, NULL);
            cj_str(&j, "kind", r.f[i].kind);
            cj_str(&j, "topic", r.f[i].topic);
            cj_str(&j, "summary", r.f[i].summary);
            cj_str(&j, "fix", r.f[i].fix);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_arr(&j, "ok");
        for (size_t i = 0; i < r.nok; i++)
            cj_str(&j, NULL, r.ok[i]);
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        printf("axon doctor: domain %u, %zu node%s, %zu topic%s%s", (unsigned)c->cfg.domain,
               s.nnodes, s.nnodes == 1 ? "" : "s", nt, nt == 1 ? "" : "s",
               topic ? " (one asked for)" : "");
        if (scan_rc == 0 && scan > 0)
            printf("; listened to every other domain for %.1f s: %zu node%s there\n",
                   (double)scan / 1e9, far.count, far.count == 1 ? "" : "s");
        else if (scan > 0)
            printf("; could not scan the other domains: %s\n", ax_strerror(scan_rc));
        else
            printf("; other domains not scanned (--scan 0)\n");
        if (!c->settled)
            printf("note: discovery was still changing after %.1f s (--wait): what follows may "
                   "be incomplete\n",
                   (double)c->wait_ns / 1e9);
        printf("\n");
        for (size_t i = 0; i < r.n; i++) {
            printf("PROBLEM [%s] %s\n", r.f[i].kind, r.f[i].summary);
            printf("  fix: %s\n\n", r.f[i].fix);
        }
        for (size_t i = 0; i < r.nok; i++)
            printf("ok      %s\n", r.ok[i]);
        if (r.nok)
            printf("\n");
        if (r.n)
            printf("%zu problem%s found.\n", r.n, r.n == 1 ? "" : "s");
        else
            printf("No problems found.\n");
    }
    int result = r.n ? CLI_EXIT_ERR : CLI_EXIT_OK;
    free(topics);
    free(r.f);
    free(r.ok);
    for (size_t k = 0; k < far.count; k++)
        free(far.n[k].eps);
    free(far.n);
    cli_snap_free(&s);
    return result;
}
