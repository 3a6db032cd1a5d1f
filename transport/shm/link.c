/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A shared-memory link: a framed stream link on a Unix socket (the
 * handshake, the write queue, the overload policy, the wake-ups: all the
 * stream's), plus chunks passed by reference.
 *
 * Sending a buffer that is a chunk of an shm pool: the first time one of
 * its segment's chunks goes to this peer, the segment's memfd goes first
 * (SHM_SEGMENT, SCM_RIGHTS); then a DATA frame flagged F_SHM whose payload
 * is a descriptor (segment, chunk, offset, length). The frame holds a
 * reference to the chunk while it is queued; once written, this link
 * keeps that reference in its held table until the peer says RELEASE.
 * A dropped frame gives its reference back at once; a link that closes
 * gives back everything its peer held (a crashed peer included: its
 * socket closes). Any other buffer goes through the socket as bytes.
 *
 * The held table is the per-peer release state: it is in this process's
 * private memory, only this peer's RELEASE frames touch it, and a RELEASE
 * for a chunk the peer does not hold closes the link. The peer's quota
 * bounds it: a descriptor starts to be written only while the peer holds
 * fewer (ax__stream_hold_room()); the others wait in the write queue, where
 * the overload policy drops the oldest, say, exactly as for a slow TCP
 * reader. So the table (open addressing, twice the quota) never fills.
 *
 * The channel (chan.c): once the handshake says the peer can, each side
 * passes its bell (SHM_BELL, an eventfd) and, once it has the peer's,
 * its outgoing ring (SHM_CHAN), the last frame it writes on the socket;
 * its frames go through the ring from there, descriptors still through
 * the socket. A side that cannot make one (no memory, no fds) sends no
 * bell, so the peer does not switch either: both ways stay on the socket.
 *
 * Receiving: SHM_SEGMENT maps the memfd (rx.c checks it), a F_SHM DATA
 * frame becomes a view of the mapping handed to the owner as a buffer,
 * and the view's last release sends RELEASE (rx.c holds releases back
 * to send them in batches).
 *
 * The link's `transport` is shm.c's to set.
 *
 * Wire: SHM_SEGMENT payload struct ax__shm_segment_msg, descriptors
 * struct ax__shm_desc, RELEASE payload (segment, chunk) pairs: all
 * little-endian u32/u64 (docs/protocol.md).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/log.h"
#include "base/ax__array.h"
#include "transport/shm/ax__shm.h"
#include "transport/stream/ax__stream.h"

#define LOG_MODULE "shm"

#define RELEASE_PAIRS_MAX (AX__STREAM_CONTROL_MAX / 8) /* pairs in one RELEASE frame */

struct held {
    uint64_t key; /* segment << 32 | chunk; 0: empty (segment ids start at 1) */
    ax__buf *buf;
    uint32_t count; /* descriptors of this chunk the peer holds */
};

struct ax__shm_link {
    ax__link link;        /* first: what the owner holds */
    ax__link *stream;     /* the framed Unix-socket link underneath */
    uint32_t quota;       /* chunks the peer may hold at once */
    uint64_t quota_bytes; /* and their bytes (two chunks always) */
    /* sending chunks */
    uint32_t *announced; /* segment ids the peer has mapped */
    size_t nannounced, announced_cap;
    struct held *held; /* 2^k slots, allocated with the first descriptor */
    uint32_t held_mask, held_n;
    /* receiving chunks */
    struct ax__shm_rx *rx;     /* made with the link; outlives it while views are out */
    struct ax__shm_chan *chan; /* NULL: frames stay on the socket */
};

static struct ax__shm_link *shm_of(ax__link *l)
{
    return (struct ax__shm_link *)l;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the held table ---- */

static struct held *held_find(struct ax__shm_link *s, uint64_t key, bool insert)
{
    if (!s->held)
        return NULL;
    for (uint32_t i = (uint32_t)(key * 0x9E3779B97F4A7C15u >> 40) & s->held_mask;;
         i = (i + 1) & s->held_mask) {
        if (s->held[i].key == key)
            return &s->held[i];
        if (s->held[i].key == 0)
            return insert ? &s->held[i] : NULL;
    }
}

/* Remove slot @h, shifting back the entries after it that probed past it
 * (no tombstones: the table stays as fast as it was). */
static void held_erase(struct ax__shm_link *s, struct held *h)
{
    uint32_t i = (uint32_t)(h - s->held);
    s->held[i].key = 0;
    for (uint32_t j = (i + 1) & s->held_mask; s->held[j].key; j = (j + 1) & s->held_mask) {
        uint32_t home = (uint32_t)(s->held[j].key * 0x9E3779B97F4A7C15u >> 40) & s->held_mask;
        /* Move j to i when its home is not in (i, j] (cyclically). */
        if (((j - home) & s->held_mask) >= ((j - i) & s->held_mask)) {
            s->held[i] = s->held[j];
            s->held[j].key = 0;
            i = j;
        }
    }
    s->held_n--;
}

static uint64_t chunk_key(const ax__buf *b)
{
    const struct ax__shm_chunk *c = b->free_arg;
    return (uint64_t)c->seg->id << 32 | c->index;
}

/* ---- the stream's callbacks ---- */

static void on_written(ax__link *sl, ax__buf *hold, void *user)
{
    struct ax__shm_link *s = user;
    (void)sl;
    /* Room is certain: no more than the quota are written and not
     * released, and the table has twice the quota's slots. */
    struct held *h = held_find(s, chunk_key(hold), true);
    if (h->key) {
        h->count++;
        ax__buf_release(hold); /* one reference per chunk is enough */
        return;
    }
    h->key = chunk_key(hold);
    h->buf = hold;
    h->count = 1;
    s->held_n++;
}

static void handle_release(struct ax__shm_link *s, const uint8_t *p, size_t n)
{
    if (n % 8) {
        ax__link_close(s->stream, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    uint32_t given = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t key = (uint64_t)le32(p + i) << 32 | le32(p + i + 4);
        struct held *h = key ? held_find(s, key, false) : NULL;
        if (!h) {
            AX_LOG_W(LOG_MODULE, "%s: released a chunk it does not hold; closing",
                     s->link.peer_addr);
            ax__stream_hold_release(s->stream, given, bytes);
            ax__link_close(s->stream, AX__LINK_ABORT, AX_EPROTO);
            return;
        }
        given++;
        bytes += h->buf->len;
        if (--h->count == 0) {
            ax__buf *b = h->buf;
            held_erase(s, h);
            ax__buf_release(b); /* the chunk goes back to its pool when it was the last */
        }
    }
    ax__stream_hold_release(s->stream, given, bytes);
}

static void handle_segment(struct ax__shm_link *s, const uint8_t *p, size_t n)
{
    int fd = ax__stream_take_fd(s->stream);
    const char *why = "a malformed SHM_SEGMENT";
    int rc = AX_EPROTO;
    if (n == sizeof(struct ax__shm_segment_msg))
        rc = ax__shm_rx_map(s->rx, le32(p), le64(p + 8), le32(p + 4), fd, &why);
    else if (fd >= 0)
        close(fd);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "%s: %s (%s); closing", s->link.peer_addr, why, ax_err_name(rc));
        ax__link_close(s->stream, AX__LINK_ABORT, rc);
    }
}

/* The peer's bell: our frames may go through our ring now. */
static void handle_bell(struct ax__shm_link *s)
{
    int fd = ax__stream_take_fd(s->stream);
    const char *why = NULL;
    if (!s->chan) { /* we could not make ours: the socket it stays, both ways */
        if (fd >= 0)
            close(fd);
        return;
    }
    int rc = ax__shm_chan_peer_bell(s->chan, fd, &why);
    if (rc == 0) {
        uint8_t m[sizeof(struct ax__shm_chan_msg)] = {0};
        put32(m, AX__SHM_CHAN_SIZE);
        rc = ax__stream_chan_out(s->stream, AX__FRAME_SHM_CHAN, m, sizeof m,
                                 ax__shm_chan_out_fd(s->chan), &ax__shm_chan_ops, s->chan);
        if (rc < 0) /* closing, or out of fds: the socket it stays */
            AX_LOG_D(LOG_MODULE, "%s: frames stay on the socket (%s)", s->link.peer_addr,
                     ax_err_name(rc));
        return;
    }
    AX_LOG_W(LOG_MODULE, "%s: %s (%s); closing", s->link.peer_addr, why, ax_err_name(rc));
    ax__link_close(s->stream, AX__LINK_ABORT, rc);
}

/* The peer's ring: its frames come from there after this one. */
static void handle_chan(struct ax__shm_link *s, const uint8_t *p, size_t n)
{
    int fd = ax__stream_take_fd(s->stream);
    const char *why = "a malformed SHM_CHAN";
    int rc = AX_EPROTO;
    if (n == sizeof(struct ax__shm_chan_msg) && s->chan)
        rc = ax__shm_chan_map_in(s->chan, le32(p), fd, &why);
    else if (fd >= 0)
        close(fd);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "%s: %s (%s); closing", s->link.peer_addr, why, ax_err_name(rc));
        ax__link_close(s->stream, AX__LINK_ABORT, rc);
        return;
    }
    ax__stream_chan_in(s->stream, &ax__shm_chan_ops, s->chan);
}

static void handle_desc(struct ax__shm_link *s, const struct ax__frame_hdr *h, const uint8_t *p)
{
    ax__buf *view;
    const char *why = "a malformed descriptor";
    int rc = AX_EPROTO;
    if (h->payload_len == sizeof(struct ax__shm_desc))
        rc = ax__shm_rx_view(s->rx, le32(p), le32(p + 4), le64(p + 8), le32(p + 16), &view, &why);
    if (rc < 0) {
        AX_LOG_W(LOG_MODULE, "%s: %s (%s); closing", s->link.peer_addr, why, ax_err_name(rc));
        ax__link_close(s->stream, AX__LINK_ABORT, rc);
        return;
    }
    struct ax__frame_hdr hh = *h;
    hh.flags = (uint16_t)(hh.flags & ~AX__FRAME_F_SHM);
    hh.payload_len = (uint32_t)view->len;
    if (s->link.cb && s->link.cb->on_frame)
        s->link.cb->on_frame(&s->link, &hh, view->data, view, s->link.user);
    /* The owner holds the view if it keeps the message; when it does not,
     * this was the last reference and its release is made now (sent with
     * its batch: rx.c). */
    ax__buf_release(view);
}

static void on_frame(ax__link *sl, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    struct ax__shm_link *s = user;
    (void)sl;
    switch (h->type) {
    case AX__FRAME_SHM_SEGMENT:
        handle_segment(s, payload, h->payload_len);
        return;
    case AX__FRAME_SHM_RELEASE:
        handle_release(s, payload, h->payload_len);
        return;
    case AX__FRAME_SHM_BELL:
        handle_bell(s);
        return;
    case AX__FRAME_SHM_CHAN:
        handle_chan(s, payload, h->payload_len);
        return;
    default:
        break;
    }
    if (h->type == AX__FRAME_DATA && (h->flags & AX__FRAME_F_SHM)) {
        handle_desc(s, h, payload);
        return;
    }
    if (s->link.cb && s->link.cb->on_frame)
        s->link.cb->on_frame(&s->link, h, payload, buf, s->link.user);
}

/* Views released: tell the peer (on the loop thread, from rx.c). */
static void send_release(void *ctx, const uint32_t *pairs, size_t n)
{
    struct ax__shm_link *s = ctx;
    uint8_t frame[RELEASE_PAIRS_MAX * 8];
    while (n > 0) {
        size_t k = n < RELEASE_PAIRS_MAX ? n : RELEASE_PAIRS_MAX;
        for (size_t i = 0; i < k; i++) {
            put32(frame + 8 * i, pairs[2 * i]);
            put32(frame + 8 * i + 4, pairs[2 * i + 1]);
        }
        /* Ahead of our own descriptors, which may wait for the peer's
         * releases. Fails only when closing: the peer takes everything
         * back then. */
        (void)ax__stream_send_urgent(s->stream, AX__FRAME_SHM_RELEASE, frame, 8 * k);
        pairs += 2 * k;
        n -= k;
    }
}

/* Offer the peer a channel: our bell now, our ring once we have its bell.
 * Without one (no memory, no descriptors) both ways stay on the socket:
 * the peer switches only once it has our bell. */
static void offer_chan(struct ax__shm_link *s)
{
    int bell = -1;
    int rc = ax__shm_chan_new(AX__SHM_CHAN_SIZE, &s->chan, &bell);
    if (rc == 0 && (rc = ax__stream_send_fd(s->stream, AX__FRAME_SHM_BELL, NULL, 0, bell)) < 0) {
        close(bell);
        ax__shm_chan_free(s->chan);
        s->chan = NULL;
    }
    if (rc < 0) {
        AX_LOG_D(LOG_MODULE, "%s: no shared-memory channel (%s): frames stay on the socket",
                 s->link.peer_addr, ax_err_name(rc));
        return;
    }
    rc = ax__stream_chan_bell(s->stream, bell); /* takes it */
    if (rc < 0) {
        /* Our bell is on its way and nobody listens to it: the peer's
         * ring would wait for nobody. Rare (out of memory): the link goes. */
        AX_LOG_W(LOG_MODULE, "%s: cannot watch the channel's bell (%s); closing", s->link.peer_addr,
                 ax_err_name(rc));
        ax__link_close(s->stream, AX__LINK_ABORT, rc);
    }
}

static void on_ready(ax__link *sl, const struct ax__link_peer *peer, void *user)
{
    struct ax__shm_link *s = user;
    if (peer->capabilities & AX__STREAM_CAP_SHM_CHANNEL)
        offer_chan(s);
    s->link.peer = sl->peer;
    s->link.ready = true;
    s->link.crc = sl->crc;
    if (s->link.cb && s->link.cb->on_ready)
        s->link.cb->on_ready(&s->link, peer, s->link.user);
}

static void on_drain(ax__link *sl, void *user)
{
    struct ax__shm_link *s = user;
    (void)sl;
    if (s->link.cb && s->link.cb->on_drain)
        s->link.cb->on_drain(&s->link, s->link.user);
}

static void on_drop(ax__link *sl, enum ax_drop_reason reason, uint64_t n, void *user)
{
    struct ax__shm_link *s = user;
    (void)sl;
    if (s->link.cb && s->link.cb->on_drop)
        s->link.cb->on_drop(&s->link, reason, n, s->link.user);
}

static void on_close(ax__link *sl, int status, void *user)
{
    struct ax__shm_link *s = user;
    (void)sl;
    s->link.ready = false;
    /* Everything the peer held comes back now: it is gone. */
    for (uint32_t i = 0; s->held && i <= s->held_mask; i++)
        if (s->held[i].key)
            ax__buf_release(s->held[i].buf);
    free(s->held);
    free(s->announced);
    ax__shm_chan_free(s->chan); /* the stream that read and wrote it is closed */
    ax__shm_rx_detach(s->rx);
    if (s->link.cb && s->link.cb->on_close)
        s->link.cb->on_close(&s->link, status, s->link.user);
    free(s);
}

static const struct ax__link_callbacks stream_cbs = {
    .on_ready = on_ready,
    .on_frame = on_frame,
    .on_drain = on_drain,
    .on_drop = on_drop,
    .on_close = on_close,
    .on_written = on_written,
};

/* ---- the link operations ---- */

static bool announced(struct ax__shm_link *s, uint32_t id)
{
    for (size_t i = s->nannounced; i-- > 0;)
        if (s->announced[i] == id)
            return true;
    return false;
}

/* How many releases of chunks of @chunk_size the peer may hold back to
 * send together: half of what its quota lets it hold (two chunks always),
 * so the chunks it holds back never stop our writes. */
static uint32_t release_batch(const struct ax__shm_link *s, size_t chunk_size)
{
    uint64_t by_bytes = s->quota_bytes / (chunk_size ? chunk_size : 1);
    uint64_t n = s->quota < by_bytes ? s->quota : by_bytes;
    return n < 2 ? 1 : (uint32_t)(n / 2);
}

/* A chunk to the peer: its segment first if new to it, then the
 * descriptor, holding the chunk. */
static int send_chunk(struct ax__shm_link *s, const struct ax__frame_hdr *h, ax__buf *b)
{
    const struct ax__shm_chunk *c = b->free_arg;
    const struct ax__shm_seg *seg = c->seg;
    if (!s->link.ready)
        return AX_EAGAIN;
    if (!s->held) {
        uint32_t slots = 16;
        while (slots < 2 * s->quota)
            slots *= 2;
        if (!(s->held = calloc(slots, sizeof *s->held)))
            return AX_ENOMEM;
        s->held_mask = slots - 1;
    }
    if (!announced(s, seg->id)) {
        uint8_t m[sizeof(struct ax__shm_segment_msg)] = {0};
        put32(m, seg->id);
        put32(m + 4, release_batch(s, seg->chunk_size));
        put64(m + 8, seg->size);
        int rc = ax__array_reserve(&s->announced, &s->announced_cap, s->nannounced + 1, 8);
        if (rc == 0)
            rc = ax__stream_send_fd(s->stream, AX__FRAME_SHM_SEGMENT, m, sizeof m, seg->fd);
        if (rc < 0)
            return rc;
        s->announced[s->nannounced++] = seg->id;
    }
    uint8_t d[sizeof(struct ax__shm_desc)] = {0};
    put32(d, seg->id);
    put32(d + 4, c->index);
    put64(d + 8, (uint64_t)((const uint8_t *)b->data - seg->base));
    put32(d + 16, (uint32_t)b->len);
    struct ax__frame_hdr hh = *h;
    hh.flags = (uint16_t)(hh.flags | AX__FRAME_F_SHM);
    return ax__stream_send_held(s->stream, &hh, d, sizeof d, b);
}

static int link_send(ax__link *l, const struct ax__frame_hdr *h, ax__buf *payload)
{
    struct ax__shm_link *s = shm_of(l);
    if (payload && ax__shm_is_chunk(payload) && h && h->type == AX__FRAME_DATA)
        return send_chunk(s, h, payload);
    return ax__link_send(s->stream, h, payload);
}

static int link_send_bytes(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len)
{
    return ax__link_send_bytes(shm_of(l)->stream, h, data, len);
}

static int link_send_control(ax__link *l, uint8_t type, const void *data, size_t len)
{
    if (type == AX__FRAME_SHM_SEGMENT || type == AX__FRAME_SHM_RELEASE ||
        type == AX__FRAME_SHM_BELL || type == AX__FRAME_SHM_CHAN)
        return AX_EINVAL; /* this file's own */
    return ax__link_send_control(shm_of(l)->stream, type, data, len);
}

static void link_send_error(ax__link *l, int code, const char *reason)
{
    ax__link_send_error(shm_of(l)->stream, code, reason);
}

static void link_close(ax__link *l, enum ax__link_close how, int status)
{
    ax__link_close(shm_of(l)->stream, how, status);
}

static int link_set_reading(ax__link *l, bool on)
{
    return ax__link_set_reading(shm_of(l)->stream, on);
}

static void link_set_queue(ax__link *l, enum ax_overload policy, uint64_t bytes, uint32_t frames)
{
    ax__link *st = shm_of(l)->stream;
    st->ops->set_queue(st, policy, bytes, frames);
}

static void link_queued(const ax__link *l, uint64_t *frames, uint64_t *bytes)
{
    ax__link_queued(((const struct ax__shm_link *)l)->stream, frames, bytes);
}

static void link_stats(const ax__link *l, struct ax__link_stats *out)
{
    ax__link_get_stats(((const struct ax__shm_link *)l)->stream, out);
}

static int link_set_max_in(ax__link *l, uint32_t max)
{
    return ax__link_set_max_in(shm_of(l)->stream, max);
}

static const struct ax__link_ops shm_link_ops = {
    .send = link_send,
    .send_bytes = link_send_bytes,
    .send_control = link_send_control,
    .send_error = link_send_error,
    .close = link_close,
    .set_reading = link_set_reading,
    .set_queue = link_set_queue,
    .queued = link_queued,
    .stats = link_stats,
    .set_max_in = link_set_max_in,
};

/* ---- making links ---- */

struct ax__shm_link *ax__shm_link_alloc(ax_loop *loop, const struct ax__link_options *opt,
                                        const struct ax__link_callbacks *cb, void *user)
{
    struct ax__shm_link *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    if (ax__shm_rx_new(loop, &s->rx) < 0) {
        free(s);
        return NULL;
    }
    ax__shm_rx_set_release(s->rx, send_release, s);
    s->link.ops = &shm_link_ops;
    s->link.cb = cb;
    s->link.user = user;
    s->quota = opt->loan_quota ? opt->loan_quota : AX__SHM_DEFAULT_QUOTA;
    s->quota_bytes = opt->loan_quota_bytes ? opt->loan_quota_bytes : AX__SHM_DEFAULT_QUOTA_BYTES;
    return s;
}

void ax__shm_link_abandon(struct ax__shm_link *s)
{
    ax__shm_rx_detach(s->rx);
    free(s);
}

const struct ax__link_callbacks *ax__shm_link_stream_cbs(void)
{
    return &stream_cbs;
}

ax__link *ax__shm_link_attach(struct ax__shm_link *s, ax__link *stream)
{
    s->stream = stream;
    ax__stream_hold_room(stream, s->quota, s->quota_bytes, AX__FRAME_SHM_RELEASE);
    ax__stream_flush_pass(stream, AX__FRAME_SHM_BELL);
    ax__stream_flush_pass(stream, AX__FRAME_SHM_CHAN);
    /* The publisher wants its chunks back when it runs short, and then
     * says so (its gate: conn.c; its pool: ax__shm_transport.reclaim);
     * till then they go with the next frame that wakes it anyway. */
    ax__stream_quiet(stream, AX__FRAME_SHM_RELEASE);
    memcpy(s->link.peer_addr, stream->peer_addr, sizeof s->link.peer_addr);
    return &s->link;
}
