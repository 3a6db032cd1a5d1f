/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a connection's owner may set and read without touching its state
 * machine (transport/stream/conn.c): the write queue's bounds and policy,
 * its backlog, the counters and the largest payload accepted (with the
 * LIMIT frame that tells the peer); and the two reports on the write queue
 * (drops, frames gone) the state machine makes to the owner. Reads are of
 * the loop thread's own fields, from that thread.
 */
#include "transport/stream/ax__stream_conn.h"

void ax__stream_conn_set_queue(ax__link *l, enum ax_overload policy, uint64_t bytes,
                               uint32_t frames)
{
    stream_conn *c = conn_of(l);
    c->wq.policy = policy;
    c->wq.max_bytes = bytes ? bytes : 1;
    c->wq.max_frames = frames ? frames : 1;
}

void ax__stream_conn_queued(const ax__link *l, uint64_t *frames, uint64_t *bytes)
{
    const stream_conn *c = (const stream_conn *)l;
    *frames = c->wq.data; /* data frames: what the policy bounds, and what a backlog is */
    *bytes = c->wq.bytes;
}

void ax__stream_conn_stats(const ax__link *l, struct ax__link_stats *out)
{
    const stream_conn *c = (const stream_conn *)l;
    *out = c->st;
    out->frames_in = c->rd.frames_in;
    out->bytes_in = c->rd.bytes_in;
    out->reads = c->rd.reads;
    out->frames_out = c->wq.frames_out;
    out->bytes_out = c->wq.bytes_out;
    out->writes = c->wq.writes;
    out->copied_bytes = c->wq.copied_bytes;
    out->queued_frames = c->wq.count;
    out->queued_bytes = c->wq.bytes;
}

void ax__stream_conn_report_drops(stream_conn *c)
{
    uint64_t d[AX_DROP_REASON_COUNT_];
    if (!c->wq.dropped || !ax__stream_wq_take_drops(&c->wq, d)) /* the common case: none */
        return;
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++) {
        if (!d[r])
            continue;
        c->st.drops[r] += d[r];
        if (c->link.cb && c->link.cb->on_drop)
            c->link.cb->on_drop(&c->link, (enum ax_drop_reason)r, d[r], c->link.user);
    }
}

/* Frames went out: the owner hears that its queue shrank (a publisher
 * waiting for room at a subscriber with overload block goes on). */
void ax__stream_conn_shrank(stream_conn *c, uint64_t frames_before)
{
    if (!c->closed && c->state == ST_READY && c->wq.frames_out != frames_before && c->link.cb &&
        c->link.cb->on_drain)
        c->link.cb->on_drain(&c->link, c->link.user);
}

int ax__stream_conn_set_max_in(ax__link *l, uint32_t max)
{
    stream_conn *c = conn_of(l);
    if (c->closed || c->state >= ST_FLUSHING)
        return AX_ECLOSED;
    if (c->state != ST_READY)
        return AX_EAGAIN;
    if (max > c->opt.max_frame)
        max = c->opt.max_frame;
    if (max <= c->rd.max_frame)
        return 0; /* only raised: the peer may already send what it was told */
    uint8_t le[4] = {(uint8_t)max, (uint8_t)(max >> 8), (uint8_t)(max >> 16), (uint8_t)(max >> 24)};
    int rc = ax__link_send_control(l, AX__FRAME_LIMIT, le, sizeof le);
    if (rc == 0)
        ax__stream_reader_set_max_frame(&c->rd, max);
    return rc;
}

bool ax__stream_conn_peer_limit(stream_conn *c, const uint8_t *p, size_t n)
{
    if (n != 4)
        return false;
    uint32_t max =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    /* What we send stays within our own max_frame whatever the peer says. */
    c->peer_max_frame = max < c->opt.max_frame ? max : c->opt.max_frame;
    return true;
}
