/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read side of a TCP connection: bytes from the socket to frames.
 *
 * One read buffer per connection. Each edge reads until the socket is
 * drained (a short read counts: data arriving after it raises a new edge)
 * or the loop's budget is spent (then the owner parks itself). Every
 * complete frame in the buffer is parsed per read. A frame whose payload is
 * too large for the buffer gets a buffer of its own, and the rest of its
 * payload is read straight into it: no second copy. While it fills,
 * SO_RCVLOWAT asks the kernel not to signal the socket readable before
 * min(what is missing, 128 KiB) has arrived: bytes of a large payload are
 * of no use before the whole of it is there, and without it the loop woke
 * and read once per few kilobytes (docs/performance.md).
 *
 * Memory follows what arrived, not what a header announced: a peer that
 * has proved nothing must not make the node reserve 64 MiB with 48 bytes.
 * The read buffer starts small and doubles when a read fills it; a large
 * payload gets a buffer of its full size only up to the largest payload
 * this connection has already delivered whole ("proven"); beyond that it
 * is read into memory that doubles as it fills, so what is held is at most
 * twice what came. A steady stream of large frames pays the doubling once,
 * on its first frame.
 *
 * The reader calls no connection code: frames go to the function its owner
 * passes in, and every outcome comes back as a return value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/common.h"
#include "transport/ax__sys.h"
#include "transport/stream/ax__stream.h"
#include "transport/stream/ax__stream_reader.h"

#define RBUF_SIZE    (256 * 1024) /* the read buffer's largest size */
#define RBUF_FIRST   (16 * 1024)  /* and its first */
#define GROW_FIRST   (256 * 1024) /* first size of an unproven large payload's memory */
#define RCVLOWAT_MAX (128 * 1024)

/* Frames of at most @max_frame: a read buffer that holds a few dozen of
 * them is enough (a peer that may only send control frames cannot make
 * the node hold 256 KiB). */
static size_t rbuf_limit(uint32_t max_frame)
{
    return (size_t)max_frame + AX__FRAME_HEADER_MAX <= RBUF_FIRST / 4 ? RBUF_FIRST : RBUF_SIZE;
}

int ax__stream_reader_init(struct ax__stream_reader *r, uint32_t max_frame)
{
    memset(r, 0, sizeof *r);
    r->max_frame = max_frame;
    r->rbuf_max = rbuf_limit(max_frame);
    r->proven = RBUF_SIZE / 2;
    return 0;
}

void ax__stream_reader_set_max_frame(struct ax__stream_reader *r, uint32_t max_frame)
{
    r->max_frame = max_frame;
    r->rbuf_max = rbuf_limit(max_frame);
}

/* The payload being read into its own memory: its bytes and capacity. */
static uint8_t *big_data(const struct ax__stream_reader *r)
{
    return r->big ? r->big->data : r->grow;
}

static size_t big_cap(const struct ax__stream_reader *r)
{
    return r->big ? r->big->len : r->grow_cap;
}

static bool in_big(const struct ax__stream_reader *r)
{
    return r->big || r->grow;
}

static void drop_big(struct ax__stream_reader *r)
{
    if (r->big)
        ax__buf_release(r->big);
    r->big = NULL;
    free(r->grow);
    r->grow = NULL;
    r->grow_cap = 0;
}

static void free_grown(void *data, void *arg)
{
    (void)arg;
    free(data);
}

void ax__stream_reader_fini(struct ax__stream_reader *r)
{
    /* Not through take_fd: with a channel that reads the socket, which
     * is closed by now (its number may be another file's already). */
    for (; r->fd_count > 0; r->fd_count--) {
        close(r->fds[r->fd_head]);
        r->fd_head = (r->fd_head + 1) % AX__STREAM_FDS_MAX;
    }
    drop_big(r);
    free(r->rbuf);
    r->rbuf = NULL;
}

bool ax__stream_reader_mid_frame(const struct ax__stream_reader *r)
{
    return r->have_hdr || in_big(r) || r->rlen > r->roff;
}

/* The read buffer: allocated at the first read, doubled when the last
 * read filled it (the peer sends faster than one small buffer per wake-up
 * takes), up to rbuf_max. An idle or refused connection holds none. */
static int grow_rbuf(struct ax__stream_reader *r)
{
    size_t want = r->rcap ? r->rcap : RBUF_FIRST;
    if (r->filled && want < r->rbuf_max)
        want *= 2;
    if (r->have_hdr) /* a frame that cannot fit yet (large ones do not come here) */
        while (want < (size_t)r->hdr_len + r->cur.payload_len && want < RBUF_SIZE)
            want *= 2;
    r->filled = false;
    if (want == r->rcap)
        return 0;
    uint8_t *p = realloc(r->rbuf, want);
    if (!p)
        return r->rbuf ? 0 : AX_ENOMEM; /* the smaller buffer still works */
    r->rbuf = p;
    r->rcap = want;
    return 0;
}

/* Every complete frame in the buffer; a large payload moves to its own
 * buffer. Returns 0, STOPPED, or a protocol error with *@why. */
static int parse(struct ax__stream_reader *r, ax__stream_frame_fn fn, void *ctx, const char **why)
{
    int rc = 0;
    while (r->roff < r->rlen) {
        /* Frames run the owner's callbacks inline, and a subscriber's may
         * be slow: past the time slice, leave the rest buffered and let
         * the loop run its timers (heartbeats) and other handlers first.
         * The clock is read once per 16 frames, so small frames pay ~1 ns. */
        if ((r->frames_in & 15) == 0 && r->frames_in != r->slice_frames &&
            ax_clock_mono_ns() > r->slice_end) {
            rc = AX__STREAM_RD_MORE;
            break;
        }
        if (!r->have_hdr) {
            int n = ax__frame_decode_header(r->rbuf + r->roff, r->rlen - r->roff, r->max_frame,
                                            &r->cur, why);
            if (n == 0)
                break;
            if (n < 0)
                return n;
            r->have_hdr = true;
            r->hdr_len = n;
        }
        size_t avail = r->rlen - r->roff - (size_t)r->hdr_len;
        if (avail >= r->cur.payload_len) {
            const uint8_t *payload = r->rbuf + r->roff + r->hdr_len;
            r->roff += (size_t)r->hdr_len + r->cur.payload_len;
            r->have_hdr = false;
            r->frames_in++;
            /* A frame left from an earlier slice arrived with the read that
             * brought it. */
            ax__link_rx_stamp(r->read_real_ns);
            bool go_on = fn(ctx, &r->cur, payload, NULL);
            ax__link_rx_stamp(0);
            if (!go_on) {
                rc = AX__STREAM_RD_STOPPED;
                break;
            }
            continue;
        }
        if ((size_t)r->hdr_len + r->cur.payload_len > RBUF_SIZE / 2) {
            /* Large: give the payload its own memory and read the rest of it
             * straight there; all of it at once only when this connection
             * has delivered one as large before. */
            if (r->cur.payload_len <= r->proven) {
                int e = ax__buf_new(r->cur.payload_len, &r->big);
                if (e < 0)
                    return e; /* not the peer's fault: *why stays NULL */
            } else {
                size_t cap = avail > GROW_FIRST / 2 ? 2 * avail : GROW_FIRST;
                if (cap > r->cur.payload_len)
                    cap = r->cur.payload_len;
                r->grow = malloc(cap);
                if (!r->grow)
                    return AX_ENOMEM;
                r->grow_cap = cap;
            }
            memcpy(big_data(r), r->rbuf + r->roff + r->hdr_len, avail);
            r->big_fill = avail;
            r->roff = r->rlen;
        }
        break;
    }
    if (r->roff == r->rlen)
        r->roff = r->rlen = 0;
    return rc;
}

/* The socket's SO_RCVLOWAT for the large payload being read: what is
 * still missing, at most RCVLOWAT_MAX (so that the kernel keeps the window
 * open and the reads large); back to 1 once there is none. Returns true
 * when it was lowered during a payload: data that arrived between the last
 * read and this call may already satisfy the new mark, and kernels before
 * 4.20 do not signal that, so the caller reads once more. */
static bool update_lowat(struct ax__stream_reader *r, int fd)
{
    int want = 0;
    if (r->chan) /* the socket carries no payload bytes */
        return false;
    if (in_big(r)) {
        size_t left = r->cur.payload_len - r->big_fill;
        /* Under TLS part of the rest may already wait inside OpenSSL (at
         * most its read-ahead buffer and one record): the mark leaves that
         * much out, so the kernel always gets more than it asks for. */
        if (r->tls)
            left = left > AX__TLS_BUFFERED_MAX ? left - AX__TLS_BUFFERED_MAX : 0;
        want = left > RCVLOWAT_MAX ? RCVLOWAT_MAX : (int)left;
    }
    if (want == r->lowat)
        return false;
    bool lowered = want && r->lowat && want < r->lowat;
    int v = want ? want : 1;
    /* Best effort: failing leaves the kernel default, which only costs
     * more wake-ups. */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v);
    r->lowat = want;
    return lowered;
}

void ax__stream_reader_discard(struct ax__stream_reader *r, int fd)
{
    drop_big(r);
    r->have_hdr = false;
    r->rlen = r->roff = 0;
    update_lowat(r, fd);
}

static int drain_socket(struct ax__stream_reader *r);

int ax__stream_reader_take_fd(struct ax__stream_reader *r)
{
    /* With a channel the descriptor was sent, on the socket, before the
     * frame that asks for it went into the channel: it is there. */
    if (r->fd_count == 0 && r->chan)
        (void)drain_socket(r); /* a failure is kept for the next read */
    if (r->fd_count == 0)
        return -1;
    int fd = r->fds[r->fd_head];
    r->fd_head = (r->fd_head + 1) % AX__STREAM_FDS_MAX;
    r->fd_count--;
    return fd;
}

/* recvmsg(), keeping what SCM_RIGHTS brings. More than the ring holds
 * means a peer sending descriptors no frame asks for: they are closed and
 * the read fails. */
static ssize_t recv_fds(struct ax__stream_reader *r, int fd, void *dst, size_t room,
                        const char **why)
{
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {dst, room};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    bool too_many = (mh.msg_flags & MSG_CTRUNC) != 0;
    r->got_fds = false;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof got);
            if (r->fd_count == AX__STREAM_FDS_MAX) {
                close(got);
                too_many = true;
                continue;
            }
            r->fds[(r->fd_head + r->fd_count) % AX__STREAM_FDS_MAX] = got;
            r->fd_count++;
            r->got_fds = true;
        }
    }
    if (too_many) {
        *why = "more file descriptors than frames that announce them";
        errno = EPROTO;
        return -1;
    }
    return n;
}

/* With a channel: the descriptors the socket has, each with its one
 * carrier byte, while there is room for them (the rest wait there for
 * the frames that take them: take_fd() reads again), and whether it
 * ended. A byte without exactly one descriptor is the peer's lie; a read
 * error ends the stream as an EOF would. Bounded: at most one call per
 * free slot, and one more. Returns 0, or AX_EPROTO (kept in sock_err). */
static int drain_socket(struct ax__stream_reader *r)
{
    while (!r->sock_eof && !r->sock_err) {
        if (r->fd_count == AX__STREAM_FDS_MAX)
            return 0;
        uint8_t carrier;
        const char *why = NULL;
        unsigned before = r->fd_count;
        ssize_t n = recv_fds(r, r->sock, &carrier, 1, &why);
        if (n == 1 && r->fd_count == before + 1)
            continue;
        if (n == 1 || (n < 0 && why)) {
            r->sock_err = AX_EPROTO;
            break;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        r->sock_eof = true;
    }
    return r->sock_err;
}

void ax__stream_reader_chan(struct ax__stream_reader *r, int sock,
                            const struct ax__stream_chan_ops *ops, void *chan)
{
    r->chan_ops = ops;
    r->chan = chan;
    r->sock = sock;
    r->rlen = r->roff; /* the rest came on the socket after the switch */
    r->sock_edge = true;
}

/* With the channel empty: whether the stream ended. The socket's EOF, or
 * its hang-up when descriptors no frame took fill the reader and hide the
 * EOF behind them (only a peer that sends them for nothing does that). */
static bool chan_ended(const struct ax__stream_reader *r)
{
    return r->sock_eof || (r->peer_hup && r->fd_count == AX__STREAM_FDS_MAX);
}

/* read(), or with descriptors recv_fds(), or from the channel. */
static ssize_t read_some(struct ax__stream_reader *r, int fd, void *dst, size_t room,
                         const char **why)
{
    if (r->chan) {
        ssize_t n = r->chan_ops->read(r->chan, dst, room);
        if (n < 0 && errno == EPROTO)
            *why = "a shared-memory channel broken by the peer";
        return n;
    }
    if (r->tls) {
        /* Short only when the socket is empty, as read() on TCP. */
        ssize_t n = ax__tls_read(r->tls, dst, room);
        if (n < 0 && (errno == EPROTO || errno == EACCES))
            *why = ax__tls_why(r->tls);
        return n;
    }
    if (!r->pass_fds)
        return ax__sys.read(fd, dst, room);
    return recv_fds(r, fd, dst, room, why);
}

int ax__stream_reader_read(struct ax__stream_reader *r, int fd, unsigned budget,
                           ax__stream_frame_fn fn, void *ctx, const char **why)
{
    *why = NULL;
    r->slice_end = ax_clock_mono_ns() + AX__STREAM_READ_SLICE_NS;
    r->slice_frames = r->frames_in;
    /* Frames left buffered when the last slice ended come first: the
     * buffer may be full of them, and a read into no room would look
     * like EOF. */
    if (!in_big(r) && r->roff < r->rlen) {
        int rc = parse(r, fn, ctx, why);
        if (rc != 0)
            return rc;
    }
    for (unsigned i = 0; i < budget; i++) {
        uint8_t *dst;
        size_t room;
        /* With a channel, what the socket raised an edge for first (also
         * right after the switch: the end may have come with it). */
        if (r->chan && r->sock_edge) {
            r->sock_edge = false;
            (void)drain_socket(r);
        }
        if (r->chan && r->sock_err) {
            *why = "a byte on the socket without its one file descriptor";
            return r->sock_err;
        }
        if (in_big(r)) {
            if (r->grow && r->big_fill == r->grow_cap) {
                /* Full and still short: double, never past the payload. */
                size_t cap = r->grow_cap * 2;
                if (cap > r->cur.payload_len)
                    cap = r->cur.payload_len;
                uint8_t *p = realloc(r->grow, cap);
                if (!p)
                    return AX_ENOMEM;
                r->grow = p;
                r->grow_cap = cap;
            }
            dst = big_data(r) + r->big_fill;
            room = big_cap(r) - r->big_fill;
        } else {
            if (grow_rbuf(r) < 0)
                return AX_ENOMEM;
            if (r->roff > 0 && r->rcap - r->rlen < r->rcap / 4) {
                memmove(r->rbuf, r->rbuf + r->roff, r->rlen - r->roff);
                r->rlen -= r->roff;
                r->roff = 0;
            }
            dst = r->rbuf + r->rlen;
            room = r->rcap - r->rlen;
        }
        bool was_chan = r->chan != NULL;
        ssize_t n = read_some(r, fd, dst, room, why);
        r->reads++;
        if (n < 0 && *why)
            return errno == EACCES ? AX_EACCES : AX_EPROTO;
        if (n > 0) {
            r->bytes_in += (uint64_t)n;
            r->read_real_ns = ax_clock_real_ns();
            bool again = false;
            if (in_big(r)) {
                r->big_fill += (size_t)n;
                if (r->big_fill == r->cur.payload_len) {
                    ax__buf *b = r->big;
                    if (!b) {
                        int e = ax__buf_wrap(r->grow, r->big_fill, free_grown, NULL, &b);
                        if (e < 0)
                            return e;
                        r->grow = NULL;
                        r->grow_cap = 0;
                        if (r->cur.payload_len > r->proven)
                            r->proven = r->cur.payload_len;
                    }
                    r->big = NULL;
                    r->have_hdr = false;
                    r->frames_in++;
                    ax__link_rx_stamp(r->read_real_ns);
                    bool go_on = fn(ctx, &r->cur, b->data, b);
                    ax__link_rx_stamp(0);
                    ax__buf_release(b);
                    if (!go_on)
                        return AX__STREAM_RD_STOPPED;
                }
                again = update_lowat(r, fd);
            } else {
                r->filled = (size_t)n == room;
                r->rlen += (size_t)n;
                int rc = parse(r, fn, ctx, why);
                if (rc != 0)
                    return rc;
                if (in_big(r))
                    update_lowat(r, fd);
            }
            /* Switched to a channel by a frame just read: read it now, and
             * so ask for its bell (no edge would come for what is there). */
            if (again || (!was_chan && r->chan))
                continue;
            /* A short read from a non-blocking TCP socket means its queue
             * is empty, and data arriving later raises a new edge, so the
             * EAGAIN read can be skipped (as nginx does). Not once the peer
             * hung up: its FIN came with this edge and will raise no other,
             * so read on until EOF. Nor after descriptors: a Unix socket
             * ends a read at the message that carried them, with more
             * behind it and no new edge to come. */
            if (r->chan && (size_t)n < room) /* empty now: see struct ax__stream_chan_ops */
                return chan_ended(r) ? AX__STREAM_RD_EOF : AX__STREAM_RD_DRAINED;
            if ((size_t)n < room && !r->peer_hup && !r->got_fds)
                return AX__STREAM_RD_DRAINED;
            continue;
        }
        if (n == 0)
            return AX__STREAM_RD_EOF;
        if (errno == EINTR)
            continue;
        /* A channel is empty: the stream ends when the socket has (the
         * peer wrote everything before it closed). */
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return r->chan && chan_ended(r) ? AX__STREAM_RD_EOF : AX__STREAM_RD_DRAINED;
        return ax_err_from_errno(errno);
    }
    return AX__STREAM_RD_MORE;
}
