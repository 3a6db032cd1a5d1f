/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a transport built on streams adds to a connection
 * (transport/stream/ax__stream.h): descriptors passed with frames, frames
 * that hold a buffer until the peer has it, the peer's quota of held
 * frames, and a channel's bell. The shared-memory transport's links are
 * made of these.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "transport/stream/ax__stream_conn.h"

int ax__stream_send_fd(ax__link *l, uint8_t type, const void *data, size_t len, int fd)
{
    stream_conn *c = conn_of(l);
    if (!c->opt.pass_fds || fd < 0 || len > AX__STREAM_CONTROL_MAX)
        return AX_EINVAL;
    if (c->state != ST_READY && !c->closed && c->state < ST_FLUSHING)
        return AX_EAGAIN;
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* the queue sends (and closes) its own */
    if (dup < 0)
        return ax_err_from_errno(errno);
    struct ax__frame_hdr h = {.type = type};
    struct ax__stream_wq_item it = {.h = &h, .data = data, .len = len, .control = true, .fd = dup};
    return ax__stream_conn_enqueue(c, &it);
}

int ax__stream_send_held(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len,
                         ax__buf *hold)
{
    if (!l || !h || (!data && len) || !hold)
        return AX_EINVAL;
    struct ax__stream_wq_item it = {
        .h = h, .data = data, .len = len, .control = false, .fd = -1, .hold = hold};
    return ax__stream_conn_enqueue(conn_of(l), &it);
}

int ax__stream_send_urgent(ax__link *l, uint8_t type, const void *data, size_t len)
{
    if (!l || (!data && len) || len > AX__STREAM_CONTROL_MAX)
        return AX_EINVAL;
    stream_conn *c = conn_of(l);
    if (c->state != ST_READY && !c->closed && c->state < ST_FLUSHING)
        return AX_EAGAIN;
    struct ax__frame_hdr h = {.type = type};
    struct ax__stream_wq_item it = {
        .h = &h, .data = data, .len = len, .control = true, .urgent = true, .fd = -1};
    return ax__stream_conn_enqueue(c, &it);
}

void ax__stream_hold_room(ax__link *l, uint32_t room, uint64_t bytes, uint8_t release_type)
{
    conn_of(l)->wq.hold_room = room;
    conn_of(l)->wq.hold_bytes_max = bytes;
    if (release_type)
        conn_of(l)->flush_types |= 1u << release_type;
}

void ax__stream_hold_release(ax__link *l, uint32_t n, uint64_t bytes)
{
    stream_conn *c = conn_of(l);
    struct ax__stream_wq *w = &c->wq;
    if (w->hold_room != AX__STREAM_HOLD_ROOM_ANY)
        w->hold_room += n;
    /* More than was counted is the peer's lie; the link closes on it, and
     * the gate must not wrap meanwhile. */
    w->hold_bytes = bytes < w->hold_bytes ? w->hold_bytes - bytes : 0;
    w->hold_n = n < w->hold_n ? w->hold_n - n : 0;
    if (w->gated && n > 0 && w->count > 0 && !c->closed && c->state <= ST_FLUSHING) {
        w->gated = false; /* writing stopped at the gate: resume it */
        ax__stream_conn_kick(c);
    }
}

int ax__stream_chan_out(ax__link *l, uint8_t type, const void *data, size_t len, int fd,
                        const struct ax__stream_chan_ops *ops, void *chan)
{
    stream_conn *c = conn_of(l);
    if (!ops || !chan || c->wq.chan || c->wq.chan_next || len > AX__STREAM_CONTROL_MAX ||
        (fd >= 0 && !c->opt.pass_fds))
        return AX_EINVAL;
    if (c->state != ST_READY)
        return c->closed || c->state >= ST_FLUSHING ? AX_ECLOSED : AX_EAGAIN;
    int dup = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (fd >= 0 && dup < 0)
        return ax_err_from_errno(errno);
    struct ax__frame_hdr h = {.type = type};
    struct ax__stream_wq_item it = {
        .h = &h, .data = data, .len = len, .control = true, .switch_out = true, .fd = dup};
    c->wq.chan_next_ops = ops;
    c->wq.chan_next = chan;
    int rc = ax__stream_conn_enqueue(c, &it);
    if (rc < 0) {
        c->wq.chan_next_ops = NULL;
        c->wq.chan_next = NULL;
    }
    return rc;
}

void ax__stream_chan_in(ax__link *l, const struct ax__stream_chan_ops *ops, void *chan)
{
    stream_conn *c = conn_of(l);
    ax__stream_reader_chan(&c->rd, ax_io_fd(&c->io), ops, chan);
}

void ax__stream_flush_pass(ax__link *l, uint8_t type)
{
    if (type <= AX__FRAME_TYPE_MAX)
        conn_of(l)->flush_types |= 1u << type;
}

int ax__stream_take_fd(ax__link *l)
{
    return ax__stream_reader_take_fd(&conn_of(l)->rd);
}

/* The peer rang: its channel has bytes for us, or ours has room. Or this
 * is a look (ax__stream_conn_look_in()): bytes came without a ring.
 *
 * A ring is also the time to look at the loop's other channels: a peer
 * writes its quiet frames (a subscriber's RELEASE) without waking this
 * side, which finds them here, with the next frame any peer woke it for,
 * instead of with a wake-up of their own (a round trip of two 8 MiB
 * messages took four thread switches, two of them for releases). Parking
 * runs them in this step's ready phase; a look does not look further. */
static void bell_cb(ax_io *io, unsigned events, void *user)
{
    stream_conn *c = user;
    (void)io;
    (void)events;
    bool rang = !c->bell_looked;
    c->bell_looked = false;
    unsigned ev = AX_IO_READABLE;
    if (c->chan_full) {
        c->chan_full = false;
        ev |= AX_IO_WRITABLE;
    }
    ax_loop *loop = c->loop; /* c stays until the closes phase; the loop longer */
    ax__stream_conn_io_cb(&c->bell, ev, c);
    if (rang)
        ax__stream_conn_look_around(loop, c);
}

int ax__stream_chan_bell(ax__link *l, int fd)
{
    stream_conn *c = conn_of(l);
    int rc = AX_EINVAL;
    if (c->bell_live || !c->io_live || c->closed ||
        (rc = ax_io_init(c->loop, &c->bell, fd, AX_IO_READABLE, bell_cb, c)) < 0) {
        close(fd);
        return rc;
    }
    c->bell_live = true;
    c->ios++;
    ax__stream_conn_quiet_start(c);
    return 0;
}
