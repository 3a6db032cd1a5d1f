/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node: its loops and threads, its identity, the registry of local
 * endpoints, the graph listener, and teardown.
 *
 * Teardown: everything a node owns lives on its loops, so destruction runs
 * "close everything" on each loop's thread, stops and joins the threads,
 * and frees the loops, which fails loudly (AX_EBUSY) if anything was left
 * open. From inside a node callback the loop thread cannot join itself:
 * destruction then continues on a short-lived detached thread (node
 * threads), or at the end of the ax_node_spin*() call (node.threads = 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__disc.h"
#include "core/ax__node.h"
#include "core/ax__pubsub.h"
#include "core/ax__service.h"

#define LOG_MODULE "node"

static uint64_t random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v) /* fallback: time and pid */
        v = (uint64_t)ax_clock_real_ns() * 6364136223846793005ull ^ (uint64_t)getpid();
    return v ? v : 1;
}

/* ---- graph listener ---- */

struct listener_change {
    ax_node *node;
    ax_graph_event_fn fn;
    void *user;
    void (*drop)(void *);
};

/* What shards call in pub/sub: the node is the one file above both. */
static const struct ax__pubsub_ops pubsub_ops = {
    .accept = ax__pub_accept,
    .remote_pub = ax__sub_remote_pub,
    .remote_sub = ax__pub_remote_sub,
    .deliver = ax__pub_deliver,
    .free_sub = ax__sub_free_now,
    .free_pub = ax__pub_free_now,
    .close_rpubs = ax__sub_close_links,
    .close_psubs = ax__pub_close_all,
    .remote_service = ax__service_remote,
    .close_services = ax__services_close,
    .close_clients = ax__clients_close,
};

/* Discovery's table changed: matching hears it first, then the listener. */
static void node_emit(ax_node *node, const struct ax_graph_event *evs, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&node->lock);
    ax_graph_event_fn fn = node->listener_fn;
    void *user = node->listener_user;
    pthread_mutex_unlock(&node->lock);
    /* Publish/subscribe matching hears the table's changes first. */
    ax__pubsub_graph_events(node, evs, n);
    if (!fn)
        return;
    for (size_t i = 0; i < n; i++)
        fn(node, &evs[i], user);
}

/* On loops[0], where events are emitted: swapping here means an event is
 * delivered to exactly one of the old and the new listener, and the old
 * one's drop() runs after any call into it has returned. The new listener
 * first hears the table as it stands (a JOIN per known node and endpoint),
 * so setting it late loses nothing. */
static void listener_change_task(void *arg)
{
    struct listener_change *lc = arg;
    ax_node *node = lc->node;
    struct ax__events replay = {0};
    pthread_mutex_lock(&node->lock);
    void *old_user = node->listener_user;
    void (*old_drop)(void *) = node->listener_fn ? node->listener_drop : NULL;
    node->listener_fn = lc->fn;
    node->listener_user = lc->user;
    node->listener_drop = lc->drop;
    if (lc->fn && node->disc) {
        struct ax__disc *d = node->disc;
        for (size_t i = 0; i < d->npeers; i++) {
            struct ax__peer *p = d->peers[i];
            struct ax_graph_event ev;
            memset(&ev, 0, sizeof ev);
            ev.kind = AX_EVENT_NODE_JOIN;
            ev.node = p->info;
            ev.node.heard_age_ns = ax_clock_mono_ns() - p->last_heard;
            ax__events_push(&replay, &ev);
            for (size_t k = 0; k < p->neps; k++) {
                ev.kind = AX_EVENT_ENDPOINT_JOIN;
                ev.endpoint = p->eps[k].info;
                ax__events_push(&replay, &ev);
            }
        }
    }
    pthread_mutex_unlock(&node->lock);
    if (old_drop)
        old_drop(old_user);
    for (size_t i = 0; i < replay.n && lc->fn; i++)
        lc->fn(node, &replay.ev[i], lc->user);
    ax__events_free(&replay);
    free(lc);
}

int ax_node_set_graph_listener(ax_node *node, ax_graph_event_fn fn, void *user,
                               void (*drop)(void *user))
{
    if (!node)
        return AX_EINVAL;
    struct listener_change *lc = malloc(sizeof *lc);
    if (!lc)
        return AX_ENOMEM;
    *lc = (struct listener_change){node, fn, user, drop};
    int rc = ax_loop_post(node->loops[0], listener_change_task, lc);
    if (rc < 0)
        free(lc);
    return rc;
}

/* ---- lifecycle ---- */

static void set_current_task(void *arg)
{
    ax__current_node = arg;
}

/* Close what lives on one loop: its shard (publishers, subscriptions,
 * connections, listener), and on loops[0] discovery too. */
struct close_ctx {
    ax_node *node;
    unsigned index;
};

static void close_loop(ax_node *node, unsigned i)
{
    if (node->shards && node->shards[i])
        ax__shards_close(node->shards[i]);
    if (i == 0 && node->disc)
        ax__disc_stop(node->disc);
    if (i == 0)
        ax__node_clock_close(node);
}

static void close_loop_task(void *arg)
{
    struct close_ctx *c = arg;
    close_loop(c->node, c->index);
}

static void free_node(ax_node *node)
{
    for (unsigned i = 0; i < node->nloops; i++) {
        if (!node->loops[i])
            continue;
        /* Close callbacks still pending run inside ax_loop_free. */
        int rc = ax_loop_free(node->loops[i]);
        if (rc < 0)
            AX_LOG_E(LOG_MODULE, "node '%s': loop %u still has %zu open handles; leaking it",
                     node->name, i, ax_loop_open_count(node->loops[i]));
    }
    ax__disc_free(node->disc);
    ax__shards_free(node);
    ax__node_clock_free(node);
    ax__params_free(node);
    if (node->listener_fn && node->listener_drop)
        node->listener_drop(node->listener_user);
    pthread_mutex_destroy(&node->lock);
    ax__node_security_fini(node);
    ax_config_fini(&node->cfg);
    free(node->eps);
    free(node->loops);
    free(node->threads);
    free(node);
}

static void destroy_now(ax_node *node)
{
    node->destroying = true;
    struct close_ctx ctx[64];
    for (unsigned i = 0; i < node->nloops && i < 64; i++) {
        ctx[i] = (struct close_ctx){node, i};
        if (node->threads && node->threads[i]) {
            /* The close runs before the stop (tasks run in order); the
             * closes it starts complete in that same iteration. */
            ax_loop_post(node->loops[i], close_loop_task, &ctx[i]);
            ax_loop_thread_stop(node->threads[i]);
            node->threads[i] = NULL;
        } else if (node->loops[i]) {
            close_loop(node, i);
        }
    }
    free_node(node);
}

static void *destroy_thread(void *arg)
{
    destroy_now(arg);
    return NULL;
}

void ax_node_destroy(ax_node *node)
{
    if (!node)
        return;
    if (ax__current_node == node) {
        atomic_store(&node->destroy_requested, true);
        if (node->threads) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &attr, destroy_thread, node) != 0)
                AX_LOG_E(LOG_MODULE, "node '%s': cannot start the destroy thread", node->name);
            pthread_attr_destroy(&attr);
        }
        return; /* node.threads = 0: ax_node_spin_once() finishes it */
    }
    destroy_now(node);
}

int ax_node_new(ax_node **out, const struct ax_config *cfg)
{
    if (!out)
        return AX_EINVAL;
    struct ax_config defaults;
    if (!cfg) {
        struct ax_config_error err;
        ax_config_init(&defaults);
        int rc = ax_config_apply_env(&defaults, &err);
        if (rc < 0) {
            char buf[512];
            AX_LOG_E(LOG_MODULE, "%s", ax_config_error_str(&err, buf, sizeof buf));
            ax_config_fini(&defaults);
            return rc;
        }
        cfg = &defaults;
    }
    struct ax_config_error verr;
    if (ax_config_validate(cfg, &verr) < 0) {
        char buf[512];
        AX_LOG_E(LOG_MODULE, "bad configuration: %s", ax_config_error_str(&verr, buf, sizeof buf));
        if (cfg == &defaults)
            ax_config_fini(&defaults);
        return AX_EINVAL;
    }
    ax_node *node = calloc(1, sizeof *node);
    if (!node)
        return AX_ENOMEM;
    int rc = ax_config_copy(&node->cfg, cfg);
    if (cfg == &defaults)
        ax_config_fini(&defaults);
    if (rc < 0) {
        free(node);
        return rc;
    }
    ax_log_set_level(node->cfg.log_level);
    pthread_mutex_init(&node->lock, NULL);
    pthread_mutex_init(&node->clock_lock, NULL);
    node->id = random64();
    node->incarnation = random64();
    node->pid = (uint32_t)getpid();
    node->start_real_ns = ax_clock_real_ns();
    if (node->cfg.node_name[0])
        snprintf(node->name, sizeof node->name, "%s", node->cfg.node_name);
    else
        snprintf(node->name, sizeof node->name, "%.40s-%u", program_invocation_short_name,
                 node->pid);
    if (gethostname(node->host, sizeof node->host) < 0)
        snprintf(node->host, sizeof node->host, "?");
    node->host[sizeof node->host - 1] = '\0';
    if ((rc = ax__node_security_init(node)) < 0)
        goto fail;
    if (node->cfg.mlockall && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
        rc = errno == EPERM || errno == ENOMEM ? AX_EACCES : ax_err_from_errno(errno);
        AX_LOG_E(LOG_MODULE,
                 "node.mlockall: %s: needs CAP_IPC_LOCK (root, or setcap cap_ipc_lock+ep) or "
                 "a memory lock limit above the process's size (ulimit -l)",
                 strerror(errno));
        goto fail;
    }
    node->ps_ops = &pubsub_ops;
    node->nloops = node->cfg.threads ? node->cfg.threads : 1;
    node->loops = calloc(node->nloops, sizeof *node->loops);
    if (!node->loops)
        goto nomem;
    struct ax_loop_options lopt;
    ax_loop_options_init(&lopt);
    lopt.busy_poll_ns = node->cfg.busy_poll_ns;
    lopt.adaptive_poll_ns = node->cfg.adaptive_poll_ns;
    for (unsigned i = 0; i < node->nloops; i++)
        if ((rc = ax_loop_new(&node->loops[i], &lopt)) < 0)
            goto fail;
    if ((rc = ax__shards_start(node)) < 0)
        goto fail;
    rc = ax__disc_start(node, node_emit, &node->disc);
    if (rc < 0)
        goto fail;
    if (!node->cfg.threads && (node->cfg.sched_policy != AX_SCHED_OTHER || node->cfg.cpus[0]))
        AX_LOG_W(LOG_MODULE, "node.sched_policy and node.cpus set the node's loop threads, and "
                             "with node.threads 0 it has none: call ax_thread_set_rt() on the "
                             "thread that spins the node");
    if (node->cfg.threads) {
        node->threads = calloc(node->nloops, sizeof *node->threads);
        if (!node->threads)
            goto nomem;
        struct ax_thread_rt rt = {(enum ax_sched_policy)node->cfg.sched_policy,
                                  (int)node->cfg.sched_priority, node->cfg.cpus};
        for (unsigned i = 0; i < node->nloops; i++) {
            ax_loop_post(node->loops[i], set_current_task, node);
            char name[16], why[300] = "";
            snprintf(name, sizeof name, "axon-%u", i);
            rc = ax_loop_thread_start_rt(&node->threads[i], node->loops[i], name, &rt, why,
                                         sizeof why);
            if (rc < 0) {
                AX_LOG_E(LOG_MODULE, "node.sched_policy/sched_priority/cpus: %s",
                         why[0] ? why : ax_strerror(rc));
                goto fail;
            }
        }
    }
    if ((rc = ax__node_clock_start(node)) < 0)
        goto fail;
    AX_LOG_I(LOG_MODULE, "node '%s' (%016llx) up: domain %u, data on %s, discovery %s", node->name,
             (unsigned long long)node->id, (unsigned)node->cfg.domain, node->tcp_endpoint,
             node->disc->unicast_str);
    *out = node;
    return 0;

nomem:
    rc = AX_ENOMEM;
fail:
    destroy_now(node);
    return rc;
}

int ax_node_new_from_file(ax_node **out, const char *path, struct ax_config_error *err)
{
    struct ax_config cfg;
    struct ax_config_error local;
    if (!err)
        err = &local;
    ax_config_init(&cfg);
    int rc = ax_config_load_file(&cfg, path, err);
    if (rc == 0)
        rc = ax_config_apply_env(&cfg, err);
    if (rc == 0)
        rc = ax_node_new(out, &cfg);
    ax_config_fini(&cfg);
    return rc;
}

int ax_node_spin_once(ax_node *node, int timeout_ms)
{
    if (!node || node->threads)
        return AX_EINVAL;
    ax_node *prev = ax__current_node;
    ax__current_node = node;
    int rc = ax_loop_step(node->loops[0], timeout_ms);
    ax__current_node = prev;
    if (atomic_load(&node->destroy_requested)) {
        destroy_now(node);
        return AX_ECLOSED;
    }
    return rc;
}

int ax_node_spin(ax_node *node)
{
    if (!node || node->threads)
        return AX_EINVAL;
    while (!atomic_exchange(&node->shutdown_requested, false)) {
        int rc = ax_node_spin_once(node, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void noop_task(void *arg)
{
    (void)arg;
}

void ax_node_shutdown(ax_node *node)
{
    if (!node)
        return;
    atomic_store(&node->shutdown_requested, true);
    ax_loop_post(node->loops[0], noop_task, NULL); /* wake a blocked spin */
}

int ax_node_fd(const ax_node *node)
{
    return node && !node->threads ? ax_loop_fd(node->loops[0]) : -1;
}

uint64_t ax_node_id(const ax_node *node)
{
    return node->id;
}

const char *ax_node_name(const ax_node *node)
{
    return node->name;
}

const struct ax_config *ax_node_config(const ax_node *node)
{
    return &node->cfg;
}
