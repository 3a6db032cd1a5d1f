/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lossless pipelines: a node that subscribes, transforms and publishes from
 * its callback passes backpressure upstream instead of dropping.
 *
 * A publish from a loop thread never waits: when a lossless (block)
 * subscriber of the publisher has no room, it is refused with AX_EAGAIN.
 * Inside the callback of a subscription that is itself lossless (its QoS
 * overload is block) that refusal would lose the message it is handling.
 * Instead the publish goes through, past the bound (the link's queue takes
 * it: under block it never drops), and the subscription's topic stops
 * reading its publishers' links until the publisher has room again. Its
 * publishers then see this node's socket fill, and their own block queues
 * make them wait: the first publisher of the chain slows down, nothing is
 * dropped anywhere. Frames the links had read before the pause are still
 * delivered, so the publisher's queue overshoots by at most what a link
 * buffers (a read slice).
 *
 * The paused topics are kept by the publisher (under its wait_mu: the
 * topic's thread adds, the publisher's removes) by shard and name, not by
 * pointer: a topic may go while paused. Resuming posts to each topic's
 * shard. Intra-process inputs cannot be paused this way (their publisher
 * delivers in its own call): a topic fed only by them gets AX_EAGAIN as
 * before.
 */
#include <stdlib.h>
#include <string.h>

#include "axon/log.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"

_Thread_local struct ax__topic *ax__lossless_input;

struct ax__paused {
    struct ax__shard *shard;
    char topic[AX_TOPIC_MAX];
};

static void set_reading(struct ax__topic *t, bool on)
{
    for (size_t i = 0; i < t->nrpubs; i++) {
        struct ax__rpub *r = t->rpubs[i];
        if (r && r->link)
            ax__link_set_reading(r->link, on);
    }
}

bool ax__pipeline_hold(struct ax_pub *pub)
{
    struct ax__topic *t = ax__lossless_input;
    /* Only an input that can be paused: without remote publishers' links
     * (a publisher of this process feeds it) the publish is refused as
     * before, or the queue would grow without bound. */
    if (!t || t->nrpubs == 0)
        return false;
    pthread_mutex_lock(&pub->wait_mu);
    bool known = false;
    for (size_t i = 0; i < pub->npaused && !known; i++)
        known = pub->paused[i].shard == t->shard && strcmp(pub->paused[i].topic, t->name) == 0;
    if (!known) {
        struct ax__paused *p = realloc(pub->paused, (pub->npaused + 1) * sizeof *p);
        if (p) {
            pub->paused = p;
            p[pub->npaused].shard = t->shard;
            snprintf(p[pub->npaused].topic, sizeof p->topic, "%s", t->name);
            pub->npaused++;
            atomic_store(&pub->any_paused, true);
        }
        known = p != NULL;
    }
    pthread_mutex_unlock(&pub->wait_mu);
    if (!known) /* out of memory: the publish goes through all the same */
        return true;
    if (!t->input_paused) {
        t->input_paused = true;
        atomic_fetch_add_explicit(&pub->pipeline_pauses, 1, memory_order_relaxed);
        AX_LOG_D(LOG_MODULE, "%s: input paused until %s has room", t->name, pub->ep.topic);
    }
    set_reading(t, false); /* again: a link made since the pause reads */
    return true;
}

struct resume {
    struct ax__shard *shard;
    char topic[AX_TOPIC_MAX];
};

static void resume_task(void *arg)
{
    struct resume *r = arg;
    struct ax__topic *t = r->shard->closing ? NULL : ax__topic_get(r->shard, r->topic, false);
    if (t && t->input_paused) {
        t->input_paused = false;
        set_reading(t, true);
    }
    free(r);
}

void ax__pipeline_resume(struct ax_pub *pub)
{
    if (!atomic_load(&pub->any_paused))
        return;
    pthread_mutex_lock(&pub->wait_mu);
    struct ax__paused *p = pub->paused;
    size_t n = pub->npaused;
    pub->paused = NULL;
    pub->npaused = 0;
    atomic_store(&pub->any_paused, false);
    pthread_mutex_unlock(&pub->wait_mu);
    for (size_t i = 0; i < n; i++) {
        struct resume *r = malloc(sizeof *r);
        if (!r)
            continue; /* that topic stays paused until its next pause and resume */
        r->shard = p[i].shard;
        memcpy(r->topic, p[i].topic, sizeof r->topic);
        if (ax__shard_run(r->shard, resume_task, r) < 0)
            free(r);
    }
    free(p);
}
