/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a publisher's messages are written: its shared-memory pool
 * (transport pools, AX__TP_LOANS), or ordinary refcounted buffers.
 *
 * A message goes into a chunk when some subscriber reads this publisher
 * in place (a shared-memory link) and it is at least
 * transport.shm_threshold bytes: one serialization, into memory every
 * same-host subscriber maps, and the TCP links send from the same chunk.
 * Shorter messages cost less copied through the socket than a chunk's
 * descriptor and release. A loan (ax_pub_loan()) of at least the threshold
 * takes a chunk whenever there is a pool (the application asked to write
 * in place, and subscribers may come), a shorter one never: a chunk's
 * size class (transport.shm_chunk_min at least) would be spent on it.
 *
 * The pool is made with the publisher and freed with it (its memory when
 * the last chunk comes back, from wherever the last subscriber releases
 * it); segments are mapped on demand within transport.shm_budget.
 */
#include <stdlib.h>

#include "axon/log.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE "pubsub"

int ax__pub_pool_open(struct ax_pub *pub)
{
    const struct ax_config *c = &pub->node->cfg;
    const struct ax__transport *tp = ax__transport_with(AX__TP_LOANS);
    if (!pub->node->shm || !tp)
        return 0;
    struct ax__pool_options o = {
        .budget = c->transport.shm_budget,
        .min_chunk = c->transport.shm_chunk_min < c->transport.max_frame
                         ? c->transport.shm_chunk_min
                         : c->transport.max_frame,
        .max_chunk = c->transport.max_frame,
        .segment = c->transport.shm_segment,
    };
    int rc = tp->pool_new(&o, &pub->pool);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "%s: no shared-memory pool (%s): messages go as copies", pub->ep.topic,
                 ax_strerror(rc));
        pub->pool = NULL;
    }
    return 0;
}

static void reclaim_task(void *arg)
{
    struct ax__shard *s = arg;
    atomic_store(&s->reclaim_posted, false);
    const struct ax__transport *tp = ax__transport_with(AX__TP_LOANS);
    if (!s->closing && tp && tp->reclaim)
        tp->reclaim(s->loop);
}

/* The pool ran dry, maybe with chunks given back already: subscribers give
 * them back without waking the publisher until it runs short (transport/
 * stream, quiet frames). They are read now, so that the caller's next try
 * finds them: on the shard, or by this thread while the loop's thread
 * sleeps (the leave reads what the look found: no user code runs there,
 * releases only), as a direct publish does (core/pub.c), or else by a task
 * posted to the loop, once at a time however often the caller tries. A
 * posted task would also keep this thread from publishing directly until
 * it ran (ax_loop_try_enter()). */
static void reclaim(struct ax_pub *pub)
{
    struct ax__shard *s = pub->shard;
    if (ax__on_shard(s)) {
        reclaim_task(s);
    } else if (s->node->cfg.sched_policy == AX_SCHED_OTHER && ax__shard_enter(s)) {
        reclaim_task(s);
        ax__shard_leave(s);
    } else if (!atomic_exchange(&s->reclaim_posted, true) &&
               ax_loop_post(s->loop, reclaim_task, s) < 0) {
        atomic_store(&s->reclaim_posted, false); /* the next dry loan posts again */
    }
}

int ax__pub_payload_new(struct ax_pub *pub, size_t len, bool always_chunk, ax__buf **out)
{
    if (pub->pool &&
        (always_chunk || (len >= pub->node->cfg.transport.shm_threshold &&
                          atomic_load_explicit(&pub->shm_links, memory_order_relaxed) > 0))) {
        int rc = pub->pool->ops->loan(pub->pool, len, out);
        if (rc == AX_ENOBUFS)
            reclaim(pub);
        if (rc == 0 || always_chunk)
            return rc;
        atomic_fetch_add_explicit(&pub->copied, 1, memory_order_relaxed);
    }
    return ax__buf_new(len, out);
}

int ax_pub_loan(ax_pub *pub, size_t size, struct ax_loan *out)
{
    if (!pub || !out)
        return AX_EINVAL;
    if (size > pub->node->cfg.transport.max_frame)
        return AX_EMSGSIZE;
    ax__buf *b;
    bool chunk = size >= pub->node->cfg.transport.shm_threshold;
    int rc = chunk ? ax__pub_payload_new(pub, size, true, &b) : ax__buf_new(size, &b);
    if (rc < 0)
        return rc; /* AX_ENOBUFS: the pool counted it */
    out->data = b->data;
    out->size = size;
    out->priv_ = b;
    return 0;
}

void ax_pub_loan_discard(struct ax_loan *loan)
{
    if (!loan || !loan->priv_)
        return;
    ax__buf_release(loan->priv_);
    loan->priv_ = NULL;
    loan->data = NULL;
}

int ax_pub_pool_stats(const ax_pub *pub, struct ax_pool_stats *out)
{
    if (!pub || !out)
        return AX_EINVAL;
    struct ax__pool_stats s = {0};
    if (pub->pool)
        pub->pool->ops->stats(pub->pool, &s);
    out->mapped = s.mapped;
    out->in_use = s.out;
    out->loans = s.loans;
    out->exhausted = s.exhausted;
    out->copied = atomic_load_explicit(&pub->copied, memory_order_relaxed);
    return 0;
}
