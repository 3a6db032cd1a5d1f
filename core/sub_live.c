/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Silent links (docs/discovery.md, "Liveness"): the subscriber side of the
 * link keep-alives.
 *
 * A publisher that promised keep-alives (its SUBSCRIBE_ACK) sends a frame
 * at least every quarter of our discovery.liveness, data or KEEPALIVE. A
 * scan every fifth of it counts the frames each ACTIVE link received since
 * the last scan; five empty scans in a row (silent for at least the
 * liveness) mean the publisher's process is stopped, hung or cut off from
 * us: the link is aborted and its node dropped from the table, much sooner
 * than its lease (several seconds) would. What it sent after the last
 * message received is reported when it comes back (sub_seq.c).
 *
 * A scan that runs late says that our own loop was stalled (a long
 * callback): the frames may be waiting unread, so that round counts for
 * nothing. Timers run before I/O in an iteration, so the scan that would
 * decide always follows an I/O phase that read what had arrived.
 */
#include <stdio.h>
#include <stdlib.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__pubsub.h"

#define LOG_MODULE   "pubsub"
#define SILENT_SCANS 5u

static void silence_scan(ax_timer *timer, void *user)
{
    struct ax__shard *s = user;
    int64_t now = ax_clock_mono_ns(), period = s->node->cfg.discovery.liveness_ns / SILENT_SCANS;
    bool late = s->silence_last && now - s->silence_last > 2 * period;
    s->silence_last = now;
    bool any = false;
    /* Closing a link may free a topic, which moves the last one into its
     * slot: backwards, as in ax__shards_close(). */
    for (size_t i = s->ntopics; i-- > 0;) {
        if (i >= s->ntopics)
            continue;
        struct ax__topic *t = s->topics[i];
        ax__topic_iter_begin(t);
        for (size_t k = 0; k < t->nrpubs; k++) {
            struct ax__rpub *l = t->rpubs[k];
            if (!l || !l->keepalive || !l->link || l->state != AX__RPUB_ACTIVE || l->draining ||
                l->removed)
                continue;
            any = true;
            if (late || l->rx_frames != l->seen_frames) {
                l->seen_frames = l->rx_frames;
                l->silent_scans = 0;
                continue;
            }
            if (++l->silent_scans < SILENT_SCANS)
                continue;
            AX_LOG_W(LOG_MODULE,
                     "%s: nothing from publisher '%s' for %lld ms (discovery.liveness): "
                     "taking its node for dead",
                     t->name, l->pub.node_name, (long long)(period * SILENT_SCANS / AX_NS_PER_MS));
            l->silent_scans = 0;
            ax__disc_peer_gone(s->node->disc, l->pub.node_id, l->incarnation, false);
            ax__link_close(l->link, AX__LINK_ABORT, AX_ETIMEDOUT);
        }
        ax__topic_iter_end(t); /* may free the topic */
    }
    if (!any)
        ax_timer_stop(timer); /* the next ACTIVE link with keep-alives starts it again */
}

void ax__sub_live_arm(struct ax__shard *s)
{
    if (!s->silence_on) {
        ax_timer_init(s->loop, &s->silence_timer, silence_scan, s);
        s->silence_on = true;
    }
    if (!ax_timer_active(&s->silence_timer)) {
        int64_t period = s->node->cfg.discovery.liveness_ns / SILENT_SCANS;
        s->silence_last = 0;
        ax_timer_start(&s->silence_timer, period, period);
    }
}
