/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests tools make of other nodes over a TOOL connection: for now, a
 * type's schema (docs/protocol.md, SCHEMA_REQUEST / SCHEMA_REPLY).
 *
 * The exchange runs on the node's shard 0 loop; the caller waits for it.
 * The loop side owns its own deadline (a timer), so it always finishes and
 * the caller never abandons state that callbacks still use.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__pubsub.h"

struct fetch {
    ax_node *node;
    char address[AX__LINK_ADDR_MAX];
    char type_name[AX_TYPE_NAME_MAX];
    int64_t timeout_ns;
    ax_timer timer;
    ax__link *link;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    uint8_t *fds;
    size_t len;
};

static void finish(struct fetch *f, int status)
{
    ax_timer_stop(&f->timer);
    pthread_mutex_lock(&f->mu);
    if (!f->done) {
        f->done = true;
        f->status = status;
    }
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void on_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    struct fetch *f = user;
    (void)peer;
    struct ax__frame_hdr h = {.type = AX__FRAME_SCHEMA_REQUEST};
    ax__link_send_bytes(l, &h, f->type_name, strlen(f->type_name));
}

static void on_frame(ax__link *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    struct fetch *f = user;
    (void)buf;
    if (h->type != AX__FRAME_SCHEMA_REPLY || f->fds)
        return;
    f->fds = malloc(h->payload_len ? h->payload_len : 1);
    if (f->fds) {
        memcpy(f->fds, payload, h->payload_len);
        f->len = h->payload_len;
    }
    ax__link_close(c, AX__LINK_GRACEFUL, f->fds ? 0 : AX_ENOMEM);
}

static void on_close(ax__link *c, int status, void *user)
{
    struct fetch *f = user;
    (void)c;
    f->link = NULL;
    /* A refusal comes as an ERROR frame whose code is the close status. */
    finish(f, f->fds ? 0 : (status ? status : AX_ECONNRESET));
}

static const struct ax__link_callbacks fetch_cbs = {
    .on_ready = on_ready, .on_frame = on_frame, .on_close = on_close};

static void on_timeout(ax_timer *t, void *user)
{
    struct fetch *f = user;
    (void)t;
    if (f->link) {
        f->status = AX_ETIMEDOUT;
        ax__link_close(f->link, AX__LINK_ABORT, AX_ETIMEDOUT); /* on_close finishes */
    }
}

static void start_task(void *arg)
{
    struct fetch *f = arg;
    ax_timer_init(f->node->loops[0], &f->timer, on_timeout, f);
    ax_timer_start(&f->timer, f->timeout_ns, 0);
    struct ax__link_options o;
    ax__link_options_for(f->node, AX__LINK_TOOL, &o);
    o.connect_timeout_ns = f->timeout_ns;
    const struct ax__transport *tp = ax__transport_with(AX__TP_NETWORK);
    int rc = tp->connect(f->node->loops[0], f->address, &o, &fetch_cbs, f, &f->link);
    if (rc < 0) /* AX_EINVAL: the node announced no usable address */
        finish(f, rc == AX_EINVAL ? AX_ENOTFOUND : rc);
}

int ax_node_fetch_schema(ax_node *node, uint64_t node_id, const char *type_name, uint8_t **fds,
                         size_t *len, int timeout_ms)
{
    if (!node || !type_name || !*type_name || strlen(type_name) >= AX_TYPE_NAME_MAX || !fds ||
        !len || timeout_ms <= 0)
        return AX_EINVAL;
    if (node->threads && ax_loop_current() != NULL)
        return AX_EINVAL; /* a node thread cannot wait for itself */
    /* Where: the node's announced TCP endpoint. */
    struct ax_node_info *infos = NULL;
    size_t n = 0;
    if (ax__node_snapshot_nodes(node, &infos, &n) < 0)
        return AX_ENOMEM;
    int rc = AX_ENOTFOUND;
    struct fetch *f = calloc(1, sizeof *f);
    if (!f) {
        free(infos);
        return AX_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (infos[i].id == node_id && infos[i].tcp[0]) {
            snprintf(f->address, sizeof f->address, "%s", infos[i].tcp);
            rc = 0;
        }
    }
    free(infos);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->node = node;
    snprintf(f->type_name, sizeof f->type_name, "%s", type_name);
    f->timeout_ns = (int64_t)timeout_ms * AX_NS_PER_MS;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (!node->threads) {
        /* The caller runs the node: drive its loop until done. */
        start_task(f);
        while (!f->done)
            ax_loop_step(node->loops[0], 10);
    } else {
        rc = ax_loop_post(node->loops[0], start_task, f);
        if (rc < 0) {
            pthread_cond_destroy(&f->cv);
            pthread_mutex_destroy(&f->mu);
            free(f);
            return rc;
        }
        pthread_mutex_lock(&f->mu);
        while (!f->done)
            pthread_cond_wait(&f->cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
    }
    /* Done means the connection's close already ran: nothing refers to f.
     * (finish() from on_close is the last touch; a connector failure or
     * timeout before a connection is the same.) */
    rc = f->status;
    if (rc == 0) {
        *fds = f->fds;
        *len = f->len;
    } else {
        free(f->fds);
    }
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
    return rc;
}
