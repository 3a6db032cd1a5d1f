/*
 * Framed TCP connections (docs/protocol.md).
 *
 * Design notes:
 *
 * - Reading: one read buffer per connection. Each edge reads until the
 *   socket is drained (a short read counts: data arriving after it raises a
 *   new edge) or the loop's budget is spent (then the handler parks itself).
 *   Every complete frame in the buffer is parsed per read. A frame whose
 *   payload is too large for the buffer gets a buffer of its own, and the
 *   rest of its payload is read straight into it: no second copy. While it
 *   fills, SO_RCVLOWAT asks the kernel not to signal the socket readable
 *   before min(what is missing, 128 KiB) has arrived: bytes of a large
 *   payload are of no use before the whole of it is there, and without it
 *   the loop woke and read once per few kilobytes (docs/performance.md).
 *
 * - Writing: a ring of queue entries. A small frame (header + payload <=
 *   WQ_INLINE) is copied into its entry; a larger one references the
 *   shared refcounted payload, so N connections queue one buffer without N
 *   copies. Nothing is written at send time: the first send of an iteration
 *   parks the handler for AX_IO_WRITABLE, and the ready-list phase flushes
 *   everything queued in that iteration with writev calls of up to AX__IOV
 *   iovecs. That is what turns one syscall per small frame into one per
 *   batch. EPOLLOUT is armed only when a flush stops short (socket full).
 *
 * - Bounds: the queue holds at most queue_frames data frames and
 *   queue_bytes bytes; beyond that the overload policy drops (and counts) or
 *   disconnects. Control frames (HELLO, ERROR) are never dropped. A frame
 *   already partly written is never dropped: that would corrupt the stream.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "handshake.pb.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__loop.h"
#include "transport/ax__sys.h"
#include "transport/tcp/ax__tcp.h"

#define WQ_INLINE  160u /* header (48) + up to 112 payload bytes copied inline */
#define AX__IOV    512
#define LOG_MODULE "tcp"

struct wq_entry {
    ax__buf *buf;  /* NULL: the payload is inline in bytes[] */
    uint32_t len;  /* header + payload */
    uint32_t done; /* bytes already written */
    bool control;
    uint8_t bytes[WQ_INLINE]; /* the header, then an inline payload */
};

enum conn_state {
    ST_HANDSHAKE, /* waiting for the peer's HELLO */
    ST_READY,
    ST_FLUSHING, /* graceful close: flushing what is queued */
    ST_LINGER,   /* shut down for writing; reading until EOF or the timer */
};

struct ax__tcp_conn {
    ax_io io;
    ax_timer timer; /* handshake timeout, then linger */
    ax_loop *loop;
    struct ax__tcp_conn_callbacks cb;
    void *user;
    struct ax__tcp_conn_options opt;
    enum conn_state state;
    int close_status;
    bool closed;          /* finish() ran; waiting for the closes phase */
    bool flush_scheduled; /* parked for AX_IO_WRITABLE */
    bool want_write;      /* EPOLLOUT armed */
    bool reading;
    bool peer_hup; /* RDHUP/HUP seen: read to EOF, a short read proves nothing */
    bool crc;      /* payload CRC negotiated */
    bool have_peer_hello;
    struct ax__tcp_hello peer_hello;
    uint32_t peer_max_frame;
    char peer[AX__ADDR_STRLEN];

    /* read side */
    uint8_t *rbuf;
    size_t rlen, roff;
    bool have_hdr;
    int hdr_len;
    struct ax__frame_hdr cur;
    ax__buf *big; /* payload being read straight into its own buffer */
    size_t big_fill;
    int lowat; /* SO_RCVLOWAT while a large payload arrives; 0: not set */

    /* write side: a ring of qcap (a power of two) entries */
    struct wq_entry *q;
    uint32_t qcap, qhead, qcount;
    uint32_t qdata; /* data frames queued (the bound counts only these) */
    uint64_t qbytes;

    struct ax__tcp_stats st;
};

static void finish(ax__tcp_conn *c, int status);
static void flush(ax__tcp_conn *c);

void ax__tcp_conn_options_init(struct ax__tcp_conn_options *o)
{
    memset(o, 0, sizeof *o);
    o->rbuf_size = 256 * 1024;
    o->max_frame = AX__FRAME_DEFAULT_MAX_PAYLOAD;
    o->queue_bytes = 64ull * 1024 * 1024;
    o->queue_frames = 65536;
    o->overload = AX_OVERLOAD_DROP_OLDEST;
    o->handshake = true;
    o->handshake_timeout_ns = 5 * AX_NS_PER_S;
    o->linger_ns = 2 * AX_NS_PER_S;
}

/* ---- write queue ---- */

static struct wq_entry *qat(ax__tcp_conn *c, uint32_t i)
{
    return &c->q[(c->qhead + i) & (c->qcap - 1)];
}

static int q_reserve(ax__tcp_conn *c)
{
    if (c->qcount < c->qcap)
        return 0;
    uint32_t ncap = c->qcap ? c->qcap * 2 : 64;
    struct wq_entry *nq = realloc(c->q, (size_t)ncap * sizeof *nq);
    if (!nq)
        return AX_ENOMEM;
    /* Unwrap: entries [head, oldcap) stay, [0, head) move to [oldcap, ...). */
    if (c->qhead + c->qcount > c->qcap)
        memcpy(nq + c->qcap, nq, (size_t)(c->qhead + c->qcount - c->qcap) * sizeof *nq);
    c->q = nq;
    c->qcap = ncap;
    return 0;
}

static void entry_release(ax__tcp_conn *c, struct wq_entry *e)
{
    c->qbytes -= e->len;
    if (!e->control)
        c->qdata--;
    if (e->buf)
        ax__buf_release(e->buf);
    e->buf = NULL;
}

static void count_drop(ax__tcp_conn *c, enum ax_drop_reason reason, uint64_t n)
{
    c->st.drops[reason] += n;
    if (c->cb.on_drop && n)
        c->cb.on_drop(c, reason, n, c->user);
}

static bool droppable(const struct wq_entry *e)
{
    return !e->control && e->done == 0;
}

/* Drop the oldest data frame not yet started. Entries before it (a partly
 * written head, control frames) slide up one slot to keep the ring dense. */
static bool drop_oldest_one(ax__tcp_conn *c, enum ax_drop_reason reason)
{
    uint32_t k;
    for (k = 0; k < c->qcount; k++)
        if (droppable(qat(c, k)))
            break;
    if (k == c->qcount)
        return false;
    entry_release(c, qat(c, k));
    for (uint32_t i = k; i > 0; i--)
        *qat(c, i) = *qat(c, i - 1);
    c->qhead = (c->qhead + 1) & (c->qcap - 1);
    c->qcount--;
    count_drop(c, reason, 1);
    return true;
}

/* Drop every data frame not yet started, keeping the order of the rest. */
static void drop_all_droppable(ax__tcp_conn *c, enum ax_drop_reason reason)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < c->qcount; r++) {
        struct wq_entry *e = qat(c, r);
        if (droppable(e)) {
            entry_release(c, e);
            count_drop(c, reason, 1);
        } else {
            if (w != r)
                *qat(c, w) = *e;
            w++;
        }
    }
    c->qcount = w;
}

static bool fits(const ax__tcp_conn *c, size_t flen)
{
    return c->qdata + 1 <= c->opt.queue_frames && c->qbytes + flen <= c->opt.queue_bytes;
}

/* The queue is full for a data frame of @flen bytes: apply the policy.
 * Returns 0 when the frame may now be queued. */
static int overload(ax__tcp_conn *c, size_t flen)
{
    switch (c->opt.overload) {
    case AX_OVERLOAD_DROP_OLDEST:
        while (!fits(c, flen))
            if (!drop_oldest_one(c, AX_DROP_QUEUE_OLDEST))
                break;
        break;
    case AX_OVERLOAD_LATEST_ONLY:
        drop_all_droppable(c, AX_DROP_QUEUE_LATEST);
        break;
    case AX_OVERLOAD_DISCONNECT: {
        AX_LOG_W(LOG_MODULE,
                 "%s: write queue full (%u frames, %llu bytes), disconnecting slow peer", c->peer,
                 c->qdata, (unsigned long long)c->qbytes);
        drop_all_droppable(c, AX_DROP_DISCONNECT);
        count_drop(c, AX_DROP_DISCONNECT, 1); /* the frame being sent */
        ax__tcp_conn_close(c, AX__TCP_CLOSE_ABORT, AX_EOVERFLOW);
        return AX_ECLOSED;
    }
    case AX_OVERLOAD_DROP_NEWEST:
    default:
        break;
    }
    if (fits(c, flen))
        return 0;
    count_drop(c, AX_DROP_QUEUE_NEWEST, 1);
    return AX_EOVERFLOW;
}

static void schedule_flush(ax__tcp_conn *c)
{
    /* With EPOLLOUT armed the kernel will say when there is room; otherwise
     * the ready-list phase of this iteration flushes everything queued. */
    if (!c->flush_scheduled && !c->want_write) {
        c->flush_scheduled = true;
        ax_io_park(&c->io, AX_IO_WRITABLE);
    }
}

static int enqueue(ax__tcp_conn *c, const struct ax__frame_hdr *h, ax__buf *buf, const void *data,
                   size_t len, bool control)
{
    if (c->closed || c->state >= ST_FLUSHING)
        return AX_ECLOSED;
    if (!control && c->state != ST_READY)
        return AX_EAGAIN;
    if (len > c->peer_max_frame)
        return AX_EMSGSIZE;
    size_t flen = AX__FRAME_HEADER_SIZE + len;
    if (!control && !fits(c, flen)) {
        int rc = overload(c, flen);
        if (rc < 0)
            return rc;
    }
    int rc = q_reserve(c);
    if (rc < 0)
        return rc;

    struct wq_entry *e = qat(c, c->qcount);
    const uint8_t *src = buf ? buf->data : data;
    struct ax__frame_hdr hh = *h;
    hh.payload_len = (uint32_t)len;
    hh.flags = c->crc ? AX__FRAME_F_PAYLOAD_CRC : 0;
    hh.payload_crc = 0;
    if (c->crc)
        hh.payload_crc = buf ? ax__buf_payload_crc(buf) : ax__crc32c(0, src, len);
    e->buf = NULL;
    if (flen <= WQ_INLINE) {
        if (len)
            memcpy(e->bytes + AX__FRAME_HEADER_SIZE, src, len);
    } else if (buf) {
        ax__buf_hold(buf);
        e->buf = buf;
    } else {
        rc = ax__buf_new(len, &e->buf);
        if (rc < 0)
            return rc;
        memcpy(e->buf->data, src, len);
    }
    ax__frame_encode_header(e->bytes, &hh);
    e->len = (uint32_t)flen;
    e->done = 0;
    e->control = control;
    c->qcount++;
    c->qbytes += flen;
    if (!control)
        c->qdata++;
    if (c->qbytes > c->st.queue_high_bytes)
        c->st.queue_high_bytes = c->qbytes;
    schedule_flush(c);
    return 0;
}

int ax__tcp_conn_send(ax__tcp_conn *c, const struct ax__frame_hdr *h, ax__buf *payload)
{
    if (!c || !h || h->type == AX__FRAME_HELLO || h->type == AX__FRAME_ERROR)
        return AX_EINVAL;
    if (!payload)
        return enqueue(c, h, NULL, NULL, 0, false);
    return enqueue(c, h, payload, NULL, payload->len, false);
}

int ax__tcp_conn_send_bytes(ax__tcp_conn *c, const struct ax__frame_hdr *h, const void *data,
                            size_t len)
{
    if (!c || !h || (!data && len) || h->type == AX__FRAME_HELLO || h->type == AX__FRAME_ERROR)
        return AX_EINVAL;
    return enqueue(c, h, NULL, data, len, false);
}

static void set_interest(ax__tcp_conn *c)
{
    unsigned ev = 0;
    if (c->reading || c->state == ST_LINGER)
        ev |= AX_IO_READABLE;
    if (c->want_write)
        ev |= AX_IO_WRITABLE;
    int rc = ax_io_set_events(&c->io, ev);
    if (rc < 0)
        finish(c, rc);
}

static void arm_write(ax__tcp_conn *c, bool on)
{
    if (c->want_write == on)
        return;
    c->want_write = on;
    set_interest(c);
}

static void start_linger(ax__tcp_conn *c)
{
    c->state = ST_LINGER;
    shutdown(ax_io_fd(&c->io), SHUT_WR);
    set_interest(c);
    ax_timer_start(&c->timer, c->opt.linger_ns, 0);
}

/* Account for @n bytes written from the head of the queue. */
static void consume(ax__tcp_conn *c, size_t n)
{
    while (n > 0) {
        struct wq_entry *e = qat(c, 0);
        size_t rem = e->len - e->done;
        if (n < rem) {
            e->done += (uint32_t)n;
            return;
        }
        n -= rem;
        c->st.frames_out++;
        c->st.bytes_out += e->len;
        entry_release(c, e);
        c->qhead = (c->qhead + 1) & (c->qcap - 1);
        c->qcount--;
    }
}

static void flush(ax__tcp_conn *c)
{
    struct iovec iov[AX__IOV];
    unsigned budget = ax_loop_io_budget(c->loop);
    for (unsigned round = 0; round < budget && c->qcount > 0 && !c->closed; round++) {
        int n_iov = 0;
        for (uint32_t i = 0; i < c->qcount && n_iov < AX__IOV - 1; i++) {
            struct wq_entry *e = qat(c, i);
            if (!e->buf) {
                iov[n_iov++] = (struct iovec){e->bytes + e->done, e->len - e->done};
            } else if (e->done < AX__FRAME_HEADER_SIZE) {
                iov[n_iov++] = (struct iovec){e->bytes + e->done, AX__FRAME_HEADER_SIZE - e->done};
                iov[n_iov++] = (struct iovec){e->buf->data, e->buf->len};
            } else {
                iov[n_iov++] = (struct iovec){e->buf->data + (e->done - AX__FRAME_HEADER_SIZE),
                                              e->len - e->done};
            }
        }
        ssize_t n = ax__sys.writev(ax_io_fd(&c->io), iov, n_iov);
        c->st.writevs++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* Already armed: the writable edge that brought us here is
                 * spent. A full socket raises another when it drains, but
                 * re-arming makes progress certain whatever the cause. */
                if (c->want_write) {
                    int rc = ax_io_rearm(&c->io);
                    if (rc < 0)
                        finish(c, rc);
                } else {
                    arm_write(c, true);
                }
                return;
            }
            int err = ax_err_from_errno(errno);
            AX_LOG_D(LOG_MODULE, "%s: write: %s", c->peer, ax_strerror(err));
            finish(c, err);
            return;
        }
        consume(c, (size_t)n);
        ax__loop_note_sent(c->loop);
        /* A short write usually means the socket buffer is full; the next
         * writev then says EAGAIN and EPOLLOUT is armed. Trying once more
         * costs one syscall per full buffer and never stalls on a short
         * write that had another cause. */
    }
    if (c->closed)
        return;
    if (c->qcount > 0) { /* budget spent: come back in the ready phase */
        c->flush_scheduled = true;
        ax_io_park(&c->io, AX_IO_WRITABLE);
        return;
    }
    arm_write(c, false);
    if (c->closed)
        return;
    if (c->state == ST_FLUSHING)
        start_linger(c);
    else if (c->cb.on_drain)
        c->cb.on_drain(c, c->user);
}

/* ---- control frames ---- */

static int send_control(ax__tcp_conn *c, uint8_t type, const pb_msgdesc_t *fields, const void *msg)
{
    uint8_t buf[1024];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    if (!pb_encode(&os, fields, msg))
        return AX_EPROTO;
    struct ax__frame_hdr h = {.type = type};
    return enqueue(c, &h, NULL, buf, os.bytes_written, true);
}

void ax__tcp_conn_send_error(ax__tcp_conn *c, int code, const char *reason)
{
    if (c->closed || c->state >= ST_FLUSHING)
        return;
    axon_ctl_Error err = axon_ctl_Error_init_zero;
    err.code = (uint32_t)(code < 0 ? -code : code);
    snprintf(err.reason, sizeof err.reason, "%s", reason ? reason : "");
    send_control(c, AX__FRAME_ERROR, axon_ctl_Error_fields, &err);
    ax__tcp_conn_close(c, AX__TCP_CLOSE_GRACEFUL, code);
}

static void protocol_error(ax__tcp_conn *c, int code, const char *why)
{
    AX_LOG_W(LOG_MODULE, "%s: %s (%s); closing the connection", c->peer, why, ax_err_name(code));
    if (code == AX_EMSGSIZE) {
        /* The stream is still in sync: tell the peer why before closing. */
        ax__tcp_conn_send_error(c, code, why);
        return;
    }
    /* Anything else means the byte stream can no longer be trusted. */
    ax__tcp_conn_close(c, AX__TCP_CLOSE_ABORT, code);
}

static void handle_hello(ax__tcp_conn *c, const uint8_t *p, size_t n)
{
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    char why[200];
    if (!pb_decode(&is, axon_ctl_Hello_fields, &h)) {
        snprintf(why, sizeof why, "undecodable HELLO: %s", PB_GET_ERROR(&is));
        AX_LOG_W(LOG_MODULE, "%s: %s", c->peer, why);
        ax__tcp_conn_send_error(c, AX_EPROTO, why);
        return;
    }
    if (h.protocol_version != AX__TCP_PROTOCOL_VERSION) {
        snprintf(why, sizeof why, "protocol version %u not supported, this node speaks %u",
                 (unsigned)h.protocol_version, AX__TCP_PROTOCOL_VERSION);
        AX_LOG_W(LOG_MODULE, "%s: %s", c->peer, why);
        ax__tcp_conn_send_error(c, AX_EVERSION, why);
        return;
    }
    if (h.domain != c->opt.hello.domain) {
        snprintf(why, sizeof why, "domain %u, expected %u", (unsigned)h.domain,
                 (unsigned)c->opt.hello.domain);
        AX_LOG_W(LOG_MODULE, "%s (node '%s'): %s", c->peer, h.node_name, why);
        ax__tcp_conn_send_error(c, AX_EDOMAIN, why);
        return;
    }
    struct ax__tcp_hello *ph = &c->peer_hello;
    ph->node_id = h.node_id;
    ph->incarnation = h.incarnation;
    ph->domain = h.domain;
    ph->purpose = (uint32_t)h.purpose;
    ph->capabilities = h.capabilities;
    ph->max_frame = h.max_frame;
    snprintf(ph->node_name, sizeof ph->node_name, "%s", h.node_name);
    c->have_peer_hello = true;
    c->peer_max_frame = h.max_frame ? h.max_frame : AX__FRAME_DEFAULT_MAX_PAYLOAD;
    c->crc = c->opt.crc_payload || (h.capabilities & axon_ctl_Capability_CAPABILITY_PAYLOAD_CRC);
    c->state = ST_READY;
    ax_timer_stop(&c->timer);
    if (c->cb.on_ready)
        c->cb.on_ready(c, ph, c->user);
}

static void handle_error_frame(ax__tcp_conn *c, const uint8_t *p, size_t n)
{
    axon_ctl_Error e = axon_ctl_Error_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (!pb_decode(&is, axon_ctl_Error_fields, &e)) {
        AX_LOG_W(LOG_MODULE, "%s: undecodable ERROR frame; closing", c->peer);
        ax__tcp_conn_close(c, AX__TCP_CLOSE_ABORT, AX_EPROTO);
        return;
    }
    int code = -(int)e.code;
    if (code >= 0 || code < AX_ESYS) /* only codes from the table, never 0 */
        code = AX_EPROTO;
    AX_LOG_W(LOG_MODULE, "%s: peer closed the connection: %s (%s)", c->peer, e.reason,
             ax_err_name(code));
    ax__tcp_conn_close(c, AX__TCP_CLOSE_ABORT, code);
}

/* One complete frame (c->cur) with its payload. */
static void handle_frame(ax__tcp_conn *c, const uint8_t *payload, ax__buf *buf)
{
    const struct ax__frame_hdr *h = &c->cur;
    c->st.frames_in++;
    if (c->state == ST_LINGER || c->state == ST_FLUSHING)
        return; /* closing: what the peer still sends is discarded */
    if (ax__frame_check_payload(h, payload) < 0) {
        protocol_error(c, AX_ECRC, "payload CRC mismatch");
        return;
    }
    switch (h->type) {
    case AX__FRAME_HELLO:
        if (!c->opt.handshake || c->have_peer_hello)
            protocol_error(c, AX_EPROTO, "unexpected HELLO");
        else
            handle_hello(c, payload, h->payload_len);
        return;
    case AX__FRAME_ERROR:
        handle_error_frame(c, payload, h->payload_len);
        return;
    default:
        if (c->state != ST_READY) {
            protocol_error(c, AX_EPROTO, "frame before HELLO");
            return;
        }
        if (c->crc && !(h->flags & AX__FRAME_F_PAYLOAD_CRC)) {
            protocol_error(c, AX_EPROTO, "payload CRC negotiated but missing");
            return;
        }
        if (c->cb.on_frame)
            c->cb.on_frame(c, h, payload, buf, c->user);
    }
}

/* ---- read side ---- */

static void parse(ax__tcp_conn *c)
{
    while (!c->closed && c->roff < c->rlen) {
        if (!c->have_hdr) {
            const char *why = "?";
            int r = ax__frame_decode_header(c->rbuf + c->roff, c->rlen - c->roff, c->opt.max_frame,
                                            &c->cur, &why);
            if (r == 0)
                break;
            if (r < 0) {
                protocol_error(c, r, why);
                return;
            }
            c->have_hdr = true;
            c->hdr_len = r;
        }
        size_t avail = c->rlen - c->roff - (size_t)c->hdr_len;
        if (avail >= c->cur.payload_len) {
            const uint8_t *payload = c->rbuf + c->roff + c->hdr_len;
            c->roff += (size_t)c->hdr_len + c->cur.payload_len;
            c->have_hdr = false;
            handle_frame(c, payload, NULL);
            continue;
        }
        if ((size_t)c->hdr_len + c->cur.payload_len > c->opt.rbuf_size / 2) {
            /* Large: give the payload its own buffer and read the rest of it
             * straight there. */
            int rc = ax__buf_new(c->cur.payload_len, &c->big);
            if (rc < 0) {
                finish(c, rc);
                return;
            }
            memcpy(c->big->data, c->rbuf + c->roff + c->hdr_len, avail);
            c->big_fill = avail;
            c->roff = c->rlen;
        }
        break;
    }
    if (c->roff == c->rlen)
        c->roff = c->rlen = 0;
}

static void deliver_big(ax__tcp_conn *c)
{
    ax__buf *b = c->big;
    c->big = NULL;
    c->have_hdr = false;
    handle_frame(c, b->data, b);
    ax__buf_release(b);
}

static void on_eof(ax__tcp_conn *c)
{
    if (c->state == ST_LINGER) {
        finish(c, c->close_status);
        return;
    }
    if (c->have_hdr || c->big || c->rlen > c->roff) {
        AX_LOG_W(LOG_MODULE, "%s: peer closed mid-frame; closing", c->peer);
        finish(c, AX_EPROTO);
        return;
    }
    if (c->state == ST_HANDSHAKE) {
        AX_LOG_D(LOG_MODULE, "%s: peer closed before the handshake", c->peer);
        finish(c, AX_ECONNRESET);
        return;
    }
    finish(c, 0);
}

/* The socket's SO_RCVLOWAT for the large payload being read: what is
 * still missing, at most RCVLOWAT_MAX (so that the kernel keeps the window
 * open and the reads large); back to 1 once there is none. Returns true
 * when it was lowered during a payload: data that arrived between the last
 * read and this call may already satisfy the new mark, and kernels before
 * 4.20 do not signal that, so the caller reads once more. */
#define RCVLOWAT_MAX (128 * 1024)

static bool update_lowat(ax__tcp_conn *c)
{
    int want = 0;
    if (c->big) {
        size_t left = c->big->len - c->big_fill;
        want = left > RCVLOWAT_MAX ? RCVLOWAT_MAX : (int)left;
    }
    if (want == c->lowat)
        return false;
    bool lowered = want && c->lowat && want < c->lowat;
    int v = want ? want : 1;
    /* Best effort: failing leaves the kernel default, which only costs
     * more wake-ups. */
    (void)setsockopt(ax_io_fd(&c->io), SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
    c->lowat = want;
    return lowered;
}

static void do_read(ax__tcp_conn *c)
{
    unsigned budget = ax_loop_io_budget(c->loop);
    int fd = ax_io_fd(&c->io);
    for (unsigned i = 0; i < budget; i++) {
        if (c->closed)
            return;
        uint8_t *dst;
        size_t room;
        if (c->big) {
            dst = c->big->data + c->big_fill;
            room = c->big->len - c->big_fill;
        } else {
            if (c->roff > 0 && c->opt.rbuf_size - c->rlen < c->opt.rbuf_size / 4) {
                memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
                c->rlen -= c->roff;
                c->roff = 0;
            }
            dst = c->rbuf + c->rlen;
            room = c->opt.rbuf_size - c->rlen;
        }
        ssize_t n = ax__sys.read(fd, dst, room);
        c->st.reads++;
        if (n > 0) {
            c->st.bytes_in += (uint64_t)n;
            bool again = false;
            if (c->big) {
                c->big_fill += (size_t)n;
                if (c->big_fill == c->big->len)
                    deliver_big(c);
                again = !c->closed && update_lowat(c);
            } else {
                c->rlen += (size_t)n;
                parse(c);
                if (c->big && !c->closed)
                    update_lowat(c);
            }
            if (again)
                continue;
            /* A short read from a non-blocking TCP socket means its queue
             * is empty, and data arriving later raises a new edge, so the
             * EAGAIN read can be skipped (as nginx does). Not once the peer
             * hung up: its FIN came with this edge and will raise no other,
             * so read on until EOF. */
            if ((size_t)n < room && !c->peer_hup)
                return;
            continue;
        }
        if (n == 0) {
            on_eof(c);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        int err = ax_err_from_errno(errno);
        AX_LOG_D(LOG_MODULE, "%s: read: %s", c->peer, ax_strerror(err));
        finish(c, err);
        return;
    }
    if (!c->closed)
        ax_io_park(&c->io, AX_IO_READABLE);
}

static void io_cb(ax_io *io, unsigned events, void *user)
{
    ax__tcp_conn *c = user;
    (void)io;
    if (events & AX_IO_HANGUP)
        c->peer_hup = true;
    if (events & (AX_IO_READABLE | AX_IO_HANGUP | AX_IO_ERROR)) {
        if (c->reading || c->state == ST_LINGER)
            do_read(c);
        else if (events & (AX_IO_ERROR | AX_IO_HANGUP)) {
            /* Not reading (backpressure), but the connection died: notice. */
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(ax_io_fd(&c->io), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err || (events & AX_IO_ERROR))
                finish(c, err ? ax_err_from_errno(err) : AX_ECONNRESET);
        }
    }
    if (c->closed)
        return;
    if (events & AX_IO_WRITABLE) {
        c->flush_scheduled = false;
        flush(c);
    }
}

static void timer_cb(ax_timer *t, void *user)
{
    ax__tcp_conn *c = user;
    (void)t;
    if (c->state == ST_HANDSHAKE) {
        AX_LOG_W(LOG_MODULE, "%s: no HELLO within %lld ms; closing", c->peer,
                 (long long)(c->opt.handshake_timeout_ns / AX_NS_PER_MS));
        finish(c, AX_ETIMEDOUT);
    } else if (c->state == ST_LINGER || c->state == ST_FLUSHING) {
        finish(c, c->close_status);
    }
}

/* ---- lifecycle ---- */

static void io_closed(ax_io *io, void *user)
{
    ax__tcp_conn *c = user;
    (void)io;
    if (c->cb.on_close)
        c->cb.on_close(c, c->close_status, c->user);
    free(c->rbuf);
    free(c->q);
    free(c);
}

/* Final teardown: drop the queue, close the fd; on_close comes from the
 * loop's closes phase. */
static void finish(ax__tcp_conn *c, int status)
{
    if (c->closed)
        return;
    c->closed = true;
    c->close_status = status;
    uint64_t dropped = 0;
    while (c->qcount > 0) {
        struct wq_entry *e = qat(c, 0);
        if (!e->control)
            dropped++;
        entry_release(c, e);
        c->qhead = (c->qhead + 1) & (c->qcap - 1);
        c->qcount--;
    }
    count_drop(c, AX_DROP_CLOSED, dropped);
    if (c->big) {
        ax__buf_release(c->big);
        c->big = NULL;
    }
    ax_timer_stop(&c->timer);
    ax_io_close(&c->io, io_closed);
}

void ax__tcp_conn_close(ax__tcp_conn *c, enum ax__tcp_close_how how, int status)
{
    if (c->closed)
        return;
    if (how == AX__TCP_CLOSE_ABORT) {
        struct linger lg = {1, 0}; /* RST: do not leave the peer a half-sent frame as EOF */
        setsockopt(ax_io_fd(&c->io), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        finish(c, status);
        return;
    }
    if (c->state >= ST_FLUSHING)
        return;
    c->close_status = status;
    c->state = ST_FLUSHING;
    ax_timer_start(&c->timer, c->opt.linger_ns, 0); /* bounds the flush too */
    if (c->qcount == 0)
        start_linger(c);
    else
        schedule_flush(c);
}

int ax__tcp_conn_new(ax_loop *loop, int fd, const struct ax__tcp_conn_options *opt,
                     const struct ax__tcp_conn_callbacks *cb, void *user, ax__tcp_conn **out)
{
    struct ax__tcp_conn_options defaults;
    if (!loop || fd < 0 || !cb || !out)
        return AX_EINVAL;
    if (!opt) {
        ax__tcp_conn_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->rbuf_size < 4096 || opt->queue_frames == 0 || opt->queue_bytes == 0)
        return AX_EINVAL;
    ax__tcp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return AX_ENOMEM;
    c->rbuf = malloc(opt->rbuf_size);
    if (!c->rbuf) {
        free(c);
        return AX_ENOMEM;
    }
    c->loop = loop;
    c->cb = *cb;
    c->user = user;
    c->opt = *opt;
    c->reading = true;
    c->state = opt->handshake ? ST_HANDSHAKE : ST_READY;
    c->crc = !opt->handshake && opt->crc_payload;
    c->peer_max_frame = opt->handshake ? AX__FRAME_DEFAULT_MAX_PAYLOAD : opt->max_frame;

    struct ax__addr pa = {.len = sizeof pa.ss};
    if (getpeername(fd, (struct sockaddr *)&pa.ss, &pa.len) == 0)
        ax__addr_format(&pa, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "fd %d", fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails on non-TCP: fine */
    if (opt->sndbuf)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt->sndbuf, sizeof opt->sndbuf);
    if (opt->rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt->rcvbuf, sizeof opt->rcvbuf);

    /* Reserve the queue before registering: once the fd is registered
     * nothing may fail, so that on failure the fd is still the caller's. */
    int rc = q_reserve(c);
    if (rc == 0)
        rc = ax_io_init(loop, &c->io, fd, AX_IO_READABLE, io_cb, c);
    if (rc < 0) {
        free(c->q);
        free(c->rbuf);
        free(c);
        return rc;
    }
    ax_timer_init(loop, &c->timer, timer_cb, c);
    if (opt->handshake) {
        axon_ctl_Hello h = axon_ctl_Hello_init_zero;
        h.protocol_version = AX__TCP_PROTOCOL_VERSION;
        h.node_id = opt->hello.node_id;
        h.incarnation = opt->hello.incarnation;
        h.domain = opt->hello.domain;
        h.purpose = (axon_ctl_Purpose)opt->hello.purpose;
        h.capabilities = opt->hello.capabilities |
                         (opt->crc_payload ? axon_ctl_Capability_CAPABILITY_PAYLOAD_CRC : 0);
        h.max_frame = opt->max_frame;
        snprintf(h.node_name, sizeof h.node_name, "%s", opt->hello.node_name);
        /* Cannot fail: the queue has room and a Hello always encodes. */
        send_control(c, AX__FRAME_HELLO, axon_ctl_Hello_fields, &h);
        ax_timer_start(&c->timer, opt->handshake_timeout_ns, 0);
    }
    *out = c;
    return 0;
}

int ax__tcp_conn_set_reading(ax__tcp_conn *c, bool on)
{
    if (c->closed)
        return AX_ECLOSED;
    if (c->reading == on)
        return 0;
    c->reading = on;
    set_interest(c);
    if (on) /* data that arrived meanwhile raised no edge we acted on */
        ax_io_park(&c->io, AX_IO_READABLE);
    return 0;
}

void ax__tcp_conn_set_overload(ax__tcp_conn *c, enum ax_overload policy)
{
    c->opt.overload = policy;
}

void ax__tcp_conn_set_queue_bounds(ax__tcp_conn *c, uint64_t bytes, uint32_t frames)
{
    c->opt.queue_bytes = bytes ? bytes : 1;
    c->opt.queue_frames = frames ? frames : 1;
}

int ax__tcp_conn_send_pb(ax__tcp_conn *c, uint8_t type, const void *fields, const void *msg)
{
    if (c->state != ST_READY && !c->closed && c->state < ST_FLUSHING)
        return AX_EAGAIN;
    return send_control(c, type, fields, msg);
}

void ax__tcp_conn_stats(const ax__tcp_conn *c, struct ax__tcp_stats *out)
{
    *out = c->st;
    out->queued_frames = c->qcount;
    out->queued_bytes = c->qbytes;
}

void ax__tcp_conn_queued(const ax__tcp_conn *c, uint64_t *frames, uint64_t *bytes)
{
    *frames = c->qcount;
    *bytes = c->qbytes;
}

const char *ax__tcp_conn_peer(const ax__tcp_conn *c)
{
    return c->peer;
}

bool ax__tcp_conn_is_ready(const ax__tcp_conn *c)
{
    return c->state == ST_READY && !c->closed;
}

bool ax__tcp_conn_crc_payload(const ax__tcp_conn *c)
{
    return c->crc;
}

const struct ax__tcp_hello *ax__tcp_conn_peer_hello(const ax__tcp_conn *c)
{
    return c->have_peer_hello ? &c->peer_hello : NULL;
}

void *ax__tcp_conn_user(const ax__tcp_conn *c)
{
    return c->user;
}

void ax__tcp_conn_set_user(ax__tcp_conn *c, void *user)
{
    c->user = user;
}
