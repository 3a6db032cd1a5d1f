/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Queueing a frame on a stream connection (conn.c's state machine owns the
 * flush): the header completed, the overload policy met, the flush
 * scheduled.
 *
 * Early writes. The overload policy is for a peer that does not keep up:
 * frames waiting for its socket beyond the queue's bound. A frame queued
 * while the socket still takes bytes waits only for this iteration's flush
 * phase; yet a burst handed over from another thread (a publisher's
 * hand-over queue delivers a thousand messages between two flushes) met
 * the policy against an idle peer: a latest_only queue of 5 (the
 * sensor_data preset) let 5 messages of each thousand through, and the
 * subscriber sat idle while 99.6 % were dropped. So a data frame that does
 * not fit first writes what is queued, now, until the socket says it is
 * full; from then until the next flush (or EPOLLOUT) the policy applies as
 * before. Nothing changes for block (it never drops) or control frames.
 *
 * The owner hears of frames written early at the next flush (on_drain),
 * not here: this runs inside its send, and on_drain may publish.
 */
#include <unistd.h>

#include "axon/log.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__loop.h"
#include "transport/stream/ax__stream_conn.h"

#define LOG_MODULE "link"

void ax__stream_conn_kick(stream_conn *c)
{
    /* With EPOLLOUT armed the kernel will say when there is room; otherwise
     * the ready-list phase of this iteration flushes everything queued. */
    if (c->io_live && !c->flush_scheduled && !c->want_write) {
        c->flush_scheduled = true;
        ax_io_park(&c->io, AX_IO_WRITABLE);
    }
}

/* One writev of what is queued (see the note above). A full socket, a
 * frame at the hold gate or an error stop early writes until the next
 * flush, which meets the same condition and acts on it. */
static void write_early(stream_conn *c)
{
    if (!c->io_live || c->want_write || c->write_full || c->writing)
        return;
    c->writing = true;
    int rc = ax__stream_wq_write(&c->wq, c->loop, ax_io_fd(&c->io), 1);
    c->writing = false;
    if (rc != 0 && rc != 1)
        c->write_full = true;
    if (c->wq.count > 0)
        ax__stream_conn_kick(c);
}

int ax__stream_conn_enqueue(stream_conn *c, struct ax__stream_wq_item *it)
{
    int rc = 0;
    if (c->closed || c->state >= ST_FLUSHING)
        rc = AX_ECLOSED;
    else if (!it->control && c->state != ST_READY)
        rc = AX_EAGAIN;
    else if (it->len > c->peer_max_frame)
        rc = AX_EMSGSIZE;
    if (rc < 0) {
        if (it->fd >= 0)
            close(it->fd);
        return rc;
    }
    struct ax__frame_hdr hh = *it->h;
    hh.payload_len = (uint32_t)it->len;
    hh.flags = (uint16_t)((hh.flags & ~AX__FRAME_F_PAYLOAD_CRC) |
                          (c->link.crc ? AX__FRAME_F_PAYLOAD_CRC : 0));
    hh.payload_crc = 0;
    if (c->link.crc)
        hh.payload_crc = it->buf ? ax__buf_payload_crc(it->buf) : ax__crc32c(0, it->data, it->len);
    it->h = &hh;
    if (ax__stream_wq_would_overflow(&c->wq, it))
        write_early(c);
    rc = ax__stream_wq_push(&c->wq, it);
    if (rc == AX__STREAM_WQ_DISCONNECT) {
        AX_LOG_W(LOG_MODULE,
                 "%s: write queue full (%u frames, %llu bytes), disconnecting slow peer",
                 c->link.peer_addr, c->wq.cut_frames, (unsigned long long)c->wq.cut_bytes);
        ax__stream_conn_report_drops(c);
        ax__link_close(&c->link, AX__LINK_ABORT, AX_EOVERFLOW);
        return AX_ECLOSED;
    }
    ax__stream_conn_report_drops(c); /* may close us: on_drop is the owner's code */
    if (c->closed)
        return AX_ECLOSED;
    if (rc < 0)
        return rc;
    if (c->wq.high_bytes > c->st.queue_high_bytes)
        c->st.queue_high_bytes = c->wq.high_bytes;
    ax__stream_conn_kick(c);
    return 0;
}
