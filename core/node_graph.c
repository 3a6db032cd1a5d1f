/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's view of the graph: its own endpoints (the registry discovery
 * announces) and snapshots of the discovery table, for the API and for
 * publishers and subscriptions matching remote endpoints.
 *
 * Threads: any; node->lock guards the registry and the table, and is held
 * only to copy them.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "core/ax__node.h"

int ax__node_snapshot_endpoints(ax_node *node, const char *topic, struct ax_endpoint_info **out,
                                size_t *n)
{
    struct ax_endpoint_info *a = NULL;
    size_t cap = 0;
    ax__disc_list_endpoints(node->disc, topic, NULL, 0, n);
    while (*n > cap) { /* the table may grow between the calls */
        if (ax__array_reserve(&a, &cap, *n + 8, 8) < 0) {
            free(a);
            return AX_ENOMEM;
        }
        ax__disc_list_endpoints(node->disc, topic, a, cap, n);
    }
    *out = a;
    return 0;
}

int ax__node_snapshot_nodes(ax_node *node, struct ax_node_info **out, size_t *n)
{
    struct ax_node_info *a = NULL;
    size_t cap = 0;
    ax__disc_list_nodes(node->disc, NULL, 0, n);
    while (*n > cap) { /* the table may grow between the calls */
        if (ax__array_reserve(&a, &cap, *n + 4, 4) < 0) {
            free(a);
            return AX_ENOMEM;
        }
        ax__disc_list_nodes(node->disc, a, cap, n);
    }
    *out = a;
    return 0;
}

/* ---- local endpoints ---- */

int ax__node_add_endpoint(ax_node *node, struct ax__local_ep *ep)
{
    char why[AX_TOPIC_MAX + 200];
    /* A server answers on its name as a publisher sends on a topic. */
    enum ax__policy_action act = ep->kind == AX_ENDPOINT_SUBSCRIBER ? AX__POLICY_SUBSCRIBE
                                 : ep->kind == AX_ENDPOINT_CLIENT   ? AX__POLICY_CALL
                                                                    : AX__POLICY_PUBLISH;
    if (!ax__node_policy_allows(node, node->name, act, ep->topic, why, sizeof why))
        return AX_EACCES; /* this node's own policy: refused here as it would be there */
    pthread_mutex_lock(&node->lock);
    for (size_t i = 0; ep->kind == AX_ENDPOINT_SERVICE && i < node->neps; i++) {
        if (node->eps[i]->kind == AX_ENDPOINT_SERVICE &&
            strcmp(node->eps[i]->topic, ep->topic) == 0) {
            pthread_mutex_unlock(&node->lock);
            return AX_EEXIST; /* one server per name per node: a client could not choose */
        }
    }
    if (ax__array_reserve(&node->eps, &node->eps_cap, node->neps + 1, 16) < 0) {
        pthread_mutex_unlock(&node->lock);
        return AX_ENOMEM;
    }
    ep->id = ++node->next_ep_id; /* increasing: appending keeps the array sorted */
    node->eps[node->neps++] = ep;
    node->local_gen++;
    pthread_mutex_unlock(&node->lock);
    ax__disc_local_changed(node->disc);
    return 0;
}

void ax__node_remove_endpoint(ax_node *node, struct ax__local_ep *ep)
{
    pthread_mutex_lock(&node->lock);
    for (size_t i = 0; i < node->neps; i++) {
        if (node->eps[i] == ep) {
            memmove(&node->eps[i], &node->eps[i + 1], (node->neps - i - 1) * sizeof *node->eps);
            node->neps--;
            node->local_gen++;
            break;
        }
    }
    pthread_mutex_unlock(&node->lock);
    ax__disc_local_changed(node->disc);
}

int ax_node_list_nodes(ax_node *node, struct ax_node_info *out, size_t cap, size_t *count)
{
    if (!node || !count || (cap && !out))
        return AX_EINVAL;
    return ax__disc_list_nodes(node->disc, out, cap, count);
}

int ax_node_list_endpoints(ax_node *node, const char *topic, struct ax_endpoint_info *out,
                           size_t cap, size_t *count)
{
    if (!node || !count || (cap && !out))
        return AX_EINVAL;
    return ax__disc_list_endpoints(node->disc, topic, out, cap, count);
}

int ax_node_connection_stats(ax_node *node, struct ax_connection_stats *out)
{
    if (!node || !out)
        return AX_EINVAL;
    out->accepted_now = atomic_load_explicit(&node->links_in, memory_order_relaxed);
    out->refused = atomic_load_explicit(&node->links_refused, memory_order_relaxed);
    out->refused_host = atomic_load_explicit(&node->links_refused_host, memory_order_relaxed);
    out->idle_closed = atomic_load_explicit(&node->links_idle_closed, memory_order_relaxed);
    out->timed_out = atomic_load_explicit(&node->links_timed_out, memory_order_relaxed);
    out->unauthenticated = atomic_load_explicit(&node->links_unauthenticated, memory_order_relaxed);
    out->policy_refused = atomic_load_explicit(&node->policy_refused, memory_order_relaxed);
    return 0;
}

int ax_node_discovery_stats(ax_node *node, struct ax_discovery_stats *out)
{
    if (!node || !out)
        return AX_EINVAL;
    ax__disc_stats(node->disc, out);
    return 0;
}
