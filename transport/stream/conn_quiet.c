/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Quiet frames on a connection with a channel (transport/shm/chan.c): what
 * the peer need not be woken for, and the looks that find it instead.
 *
 * A subscriber that gives a chunk back (RELEASE) used to wake the
 * publisher for it: in a round trip of two 8 MiB messages that was two
 * thread switches of four, and a tenth of the CPU. The publisher needs
 * its chunks only when it runs short, so such frames go quietly
 * (ax__stream_quiet()) and are found:
 * - with the next frame any peer wakes this loop for: a bell that rang
 *   looks at the loop's other channels too (ax__stream_conn_look_around());
 * - after each flush that wrote something: a publisher's chunks come back
 *   with its next message;
 * - when it runs short: its queue stops at the peer's quota (the gate:
 *   it asks the peer to ring again, chan `want`), or its pool is dry
 *   (ax__stream_reclaim(), from core);
 * - and at the latest ax__stream_nudge_ns after the write, when the writer rings
 *   after all if nothing read them (a publisher gone quiet).
 * A look that finds bytes parks the bell's handler: they are read in this
 * step's ready phase, as if it had rung.
 */
#include "axon/clock.h"
#include "transport/stream/ax__stream_conn.h"

void ax__stream_quiet(ax__link *l, uint8_t type)
{
    if (type <= AX__FRAME_TYPE_MAX)
        conn_of(l)->wq.quiet_types |= 1u << type;
}

void ax__stream_conn_look_in(stream_conn *c, bool want)
{
    if (!c->bell_live || c->closed || !c->reading || !c->rd.chan || !c->rd.chan_ops->unread)
        return;
    /* Only a side that lent chunks gets releases: a look elsewhere would
     * cost a cache line another process writes, per channel. */
    if (!want && c->wq.hold_n == 0)
        return;
    bool unread = want && c->rd.chan_ops->want ? c->rd.chan_ops->want(c->rd.chan)
                                               : c->rd.chan_ops->unread(c->rd.chan);
    if (unread) {
        c->bell_looked = true;
        ax_io_park(&c->bell, AX_IO_READABLE);
    }
}

/* Quiet frames wait for the peer's next wake-up, or for it to want them;
 * a peer that has neither for this long (a publisher gone quiet) is woken,
 * so that what it would get back is not kept from it indefinitely. Rarely
 * enough to cost nothing beside the wake-ups quiet frames save. */
int64_t ax__stream_nudge_ns = 100 * AX_NS_PER_MS;

static void nudge_fired(ax_timer *t, void *user)
{
    stream_conn *c = user;
    (void)t;
    if (!c->closed && c->wq.chan && c->wq.chan_ops->nudge)
        c->wq.chan_ops->nudge(c->wq.chan);
}

void ax__stream_conn_wrote(stream_conn *c, uint64_t before)
{
    if (c->wq.quiet_written) {
        c->wq.quiet_written = false;
        if (ax__stream_nudge_ns > 0 && !ax_timer_active(&c->nudge))
            (void)ax_timer_start(&c->nudge, ax__stream_nudge_ns, 0); /* none: the next frame */
    }
    /* What the peer gave back quietly, while we are at it: a publisher's
     * chunks come back with its next message, not a message later. */
    if (c->wq.frames_out != before)
        ax__stream_conn_look_in(c, false);
}

void ax__stream_conn_look_around(ax_loop *loop, stream_conn *c)
{
    for (ax__qnode *n = loop->bells.next; n != &loop->bells; n = n->next)
        if (n != &c->bells)
            ax__stream_conn_look_in(ax__container_of(n, stream_conn, bells), false);
}

void ax__stream_conn_quiet_start(stream_conn *c)
{
    ax__list_push_back(&c->loop->bells, &c->bells);
    ax_timer_init(c->loop, &c->nudge, nudge_fired, c);
}

void ax__stream_conn_quiet_stop(stream_conn *c)
{
    ax__list_remove(&c->bells);
    ax_timer_stop(&c->nudge);
}

void ax__stream_reclaim(ax_loop *loop)
{
    for (ax__qnode *n = loop->bells.next; n != &loop->bells; n = n->next)
        ax__stream_conn_look_in(ax__container_of(n, stream_conn, bells), false);
}
