/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write queue of a TCP connection: a ring of frames, written with
 * writev calls of up to WQ_IOV iovecs.
 *
 * A frame that comes with a refcounted payload references it, whatever its
 * size: N connections queue one buffer without N copies, and a frame the
 * overload policy drops was never copied (copied_bytes counts the data
 * payloads that were: given as bytes, send_bytes, copied into the entry
 * when small; control frames always are, and are not counted). Nothing is written at push time: the
 * connection flushes once per loop iteration, which is what turns one syscall per small frame into
 * one per batch.
 *
 * Writing gathers: a referenced frame of up to WQ_STAGE_FRAME bytes is
 * copied, header and payload, into the loop's stage (ax__loop_stage()) at
 * write time, so a run of small frames is one iovec and one copy each (the
 * copy an inline entry made at push time, made only for frames being
 * written now); larger frames are written from their buffers. Referencing
 * small payloads with two iovecs each instead cost ~40 % of the 64-byte
 * rate (bench_transport). What a short write left in the stage is copied
 * again at the next call: the stage is scratch, the queue is the truth.
 *
 * Bounds: at most max_frames data frames and max_bytes bytes; beyond that
 * the overload policy drops (and counts) or asks for a disconnect. Control
 * frames (HELLO, ERROR, SUBSCRIBE...) are never dropped. A frame already
 * partly written is never dropped: that would corrupt the stream.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/ax__array.h"
#include "transport/ax__loop.h"
#include "transport/ax__sys.h"
#include "transport/stream/ax__stream_wq.h"

#define WQ_IOV         512
#define WQ_STAGE_FRAME 4096u /* frames up to this size (header included) are staged */

static struct ax__stream_wq_entry *qat(struct ax__stream_wq *w, uint32_t i)
{
    return &w->q[(w->head + i) & (w->cap - 1)];
}

/* Room for one more entry. The ring doubles, so it stays a power of two;
 * its entries are unwrapped into the new space. */
static int reserve(struct ax__stream_wq *w)
{
    if (w->count < w->cap)
        return 0;
    size_t cap = w->cap;
    if (cap >= (1u << 31))
        return AX_ENOMEM;
    size_t old = cap;
    int rc = ax__array_reserve(&w->q, &cap, old + 1, 64);
    if (rc < 0)
        return rc;
    /* Entries [head, old) stay, [0, head) move to [old, ...). */
    if (w->head + w->count > old)
        memcpy(w->q + old, w->q, (size_t)(w->head + w->count - old) * sizeof *w->q);
    w->cap = (uint32_t)cap;
    return 0;
}

int ax__stream_wq_init(struct ax__stream_wq *w, uint64_t max_bytes, uint32_t max_frames,
                       enum ax_overload policy)
{
    memset(w, 0, sizeof *w);
    w->max_bytes = max_bytes ? max_bytes : 1;
    w->max_frames = max_frames ? max_frames : 1;
    w->policy = policy;
    w->hold_room = AX__STREAM_HOLD_ROOM_ANY;
    return reserve(w);
}

/* A frame leaves the queue: @written says whether it went out whole
 * (its hold then passes on), or was dropped. */
static void entry_release(struct ax__stream_wq *w, struct ax__stream_wq_entry *e, bool written)
{
    w->bytes -= e->len + (e->hold ? e->hold->len : 0);
    if (!e->control)
        w->data--;
    if (e->buf)
        ax__buf_release(e->buf);
    e->buf = NULL;
    if (e->fd >= 0)
        close(e->fd);
    e->fd = -1;
    if (e->hold) {
        if (written && w->on_written)
            w->on_written(w->ctx, e->hold);
        else
            ax__buf_release(e->hold);
        e->hold = NULL;
    }
}

static void pop_head(struct ax__stream_wq *w)
{
    w->head = (w->head + 1) & (w->cap - 1);
    w->count--;
}

void ax__stream_wq_fini(struct ax__stream_wq *w)
{
    while (w->count > 0) {
        struct ax__stream_wq_entry *e = qat(w, 0);
        if (!e->control) {
            w->unreported[AX_DROP_CLOSED]++;
            w->dropped = true;
        }
        entry_release(w, e, false);
        pop_head(w);
    }
    free(w->q);
    w->q = NULL;
    w->cap = 0;
}

static bool droppable(const struct ax__stream_wq_entry *e)
{
    return !e->control && e->done == 0;
}

/* Drop the oldest data frame not yet started. Entries before it (a partly
 * written head, control frames) slide up one slot to keep the ring dense. */
static bool drop_oldest_one(struct ax__stream_wq *w, enum ax_drop_reason reason)
{
    uint32_t k;
    for (k = 0; k < w->count; k++)
        if (droppable(qat(w, k)))
            break;
    if (k == w->count)
        return false;
    entry_release(w, qat(w, k), false);
    for (uint32_t i = k; i > 0; i--)
        *qat(w, i) = *qat(w, i - 1);
    pop_head(w);
    w->unreported[reason]++;
    w->dropped = true;
    return true;
}

/* Drop every data frame not yet started, keeping the order of the rest. */
static void drop_all_droppable(struct ax__stream_wq *w, enum ax_drop_reason reason)
{
    uint32_t kept = 0;
    for (uint32_t r = 0; r < w->count; r++) {
        struct ax__stream_wq_entry *e = qat(w, r);
        if (droppable(e)) {
            entry_release(w, e, false);
            w->unreported[reason]++;
            w->dropped = true;
        } else {
            if (kept != r)
                *qat(w, kept) = *e;
            kept++;
        }
    }
    w->count = kept;
}

static bool fits(const struct ax__stream_wq *w, size_t flen)
{
    return w->data + 1 <= w->max_frames && w->bytes + flen <= w->max_bytes;
}

/* The queue is full for a data frame of @flen bytes: apply the policy. */
static int overload(struct ax__stream_wq *w, size_t flen)
{
    switch (w->policy) {
    case AX_OVERLOAD_DROP_OLDEST:
        while (!fits(w, flen))
            if (!drop_oldest_one(w, AX_DROP_QUEUE_OLDEST))
                break;
        break;
    case AX_OVERLOAD_LATEST_ONLY:
        drop_all_droppable(w, AX_DROP_QUEUE_LATEST);
        break;
    case AX_OVERLOAD_DISCONNECT:
        w->cut_frames = w->data; /* for the owner's log line */
        w->cut_bytes = w->bytes;
        drop_all_droppable(w, AX_DROP_DISCONNECT);
        w->unreported[AX_DROP_DISCONNECT]++; /* the frame being sent */
        w->dropped = true;
        return AX__STREAM_WQ_DISCONNECT;
    case AX_OVERLOAD_BLOCK:
        /* Lossless: the publisher waits for room before it sends; what it
         * sent anyway (a race with a drain) is queued beyond the bound. */
        return 0;
    case AX_OVERLOAD_DROP_NEWEST:
    default:
        break;
    }
    if (fits(w, flen))
        return 0;
    w->unreported[AX_DROP_QUEUE_NEWEST]++;
    w->dropped = true;
    return AX_EOVERFLOW;
}

bool ax__stream_wq_would_overflow(const struct ax__stream_wq *w,
                                  const struct ax__stream_wq_item *it)
{
    if (it->control || w->policy == AX_OVERLOAD_BLOCK)
        return false;
    return !fits(w, AX__FRAME_HEADER_SIZE + it->len + (it->hold ? it->hold->len : 0));
}

int ax__stream_wq_push(struct ax__stream_wq *w, const struct ax__stream_wq_item *it)
{
    size_t len = it->len;
    size_t flen = AX__FRAME_HEADER_SIZE + len;
    /* A frame that holds a buffer (a shared-memory descriptor) weighs what
     * it holds: the queue's byte bound bounds the memory it keeps. */
    size_t weight = flen + (it->hold ? it->hold->len : 0);
    int rc = 0;
    if (!it->control && !fits(w, weight))
        rc = overload(w, weight);
    if (rc == 0)
        rc = reserve(w);
    if (rc != 0) {
        if (it->fd >= 0)
            close(it->fd);
        return rc;
    }
    struct ax__stream_wq_entry *e = qat(w, w->count);
    e->buf = NULL;
    if (it->buf) { /* referenced whatever its size: see the note at the top */
        ax__buf_hold(it->buf);
        e->buf = it->buf;
    } else if (flen <= AX__STREAM_WQ_INLINE) {
        if (len)
            memcpy(e->bytes + AX__FRAME_HEADER_SIZE, it->data, len);
        w->copied_bytes += it->control ? 0 : len;
    } else {
        rc = ax__buf_new(len, &e->buf);
        if (rc < 0) {
            if (it->fd >= 0)
                close(it->fd);
            return rc;
        }
        memcpy(e->buf->data, it->data, len);
        w->copied_bytes += it->control ? 0 : len;
    }
    ax__frame_encode_header(e->bytes, it->h);
    e->len = (uint32_t)flen;
    e->done = 0;
    e->control = it->control;
    e->switch_out = it->switch_out && it->control;
    e->fd = it->fd;
    e->hold = it->hold;
    if (e->hold)
        ax__buf_hold(e->hold);
    if (it->urgent && it->control) {
        /* Before every frame not started (only the head can be): an
         * urgent frame must not wait behind held frames at the gate. */
        uint32_t k = w->count > 0 && qat(w, 0)->done > 0 ? 1 : 0;
        struct ax__stream_wq_entry tmp = *e;
        for (uint32_t i = w->count; i > k; i--)
            *qat(w, i) = *qat(w, i - 1);
        *qat(w, k) = tmp;
    }
    w->count++;
    w->bytes += weight;
    if (!it->control)
        w->data++;
    if (w->bytes > w->high_bytes)
        w->high_bytes = w->bytes;
    return 0;
}

/* Account for @n bytes written from the head of the queue. */
static void consume(struct ax__stream_wq *w, size_t n)
{
    while (n > 0) {
        struct ax__stream_wq_entry *e = qat(w, 0);
        size_t rem = e->len - e->done;
        if (e->hold && e->done == 0) { /* a held frame started: it goes to the peer */
            if (w->hold_room != AX__STREAM_HOLD_ROOM_ANY)
                w->hold_room--;
            if (w->hold_bytes_max) {
                w->hold_bytes += e->hold->len;
                w->hold_n++;
            }
        }
        if (n < rem) {
            e->done += (uint32_t)n;
            return;
        }
        n -= rem;
        w->frames_out++;
        w->bytes_out += e->len;
        if (e->switch_out) { /* its last byte went on the socket: the channel's turn */
            w->chan_ops = w->chan_next_ops;
            w->chan = w->chan_next;
        }
        entry_release(w, e, true);
        pop_head(w);
    }
}

/* One sendmsg for the head frame, with its descriptor: on a stream
 * socket the descriptor travels with the first byte sent, so it must start
 * a call of its own. */
static ssize_t send_with_fd(int sock, struct iovec *iov, int n_iov, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr mh = {.msg_iov = iov,
                        .msg_iovlen = (size_t)n_iov,
                        .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

int ax__stream_wq_write(struct ax__stream_wq *w, ax_loop *loop, int fd, unsigned budget)
{
    struct iovec iov[WQ_IOV];
    uint8_t *stage = ax__loop_stage(loop); /* NULL: every frame its own iovecs */
    /* Sealed bytes left from the last call go before anything else. */
    if (w->tls && ax__tls_pending(w->tls) && ax__tls_flush(w->tls) < 0)
        return errno == EAGAIN ? AX_EAGAIN : ax_err_from_errno(errno);
    for (unsigned round = 0; round < budget && w->count > 0; round++) {
        int n_iov = 0;
        size_t staged = 0, stage_from = 0;
        uint32_t room = w->hold_room;
        uint64_t held = w->hold_bytes;
        uint32_t held_n = w->hold_n;
        bool quiet = w->quiet_types != 0; /* every frame of this write is */
        for (uint32_t i = 0; i < w->count && n_iov < WQ_IOV - 1; i++) {
            struct ax__stream_wq_entry *e = qat(w, i);
            if (i > 0 && (e->fd >= 0 || e->switch_out || qat(w, i - 1)->switch_out))
                break; /* its descriptor goes with a call of its own; the switch alone */
            /* The peer holds its quota (in chunks or in bytes): this one
             * waits, and may be dropped there by the overload policy. */
            if (e->hold && e->done == 0) {
                if (room != AX__STREAM_HOLD_ROOM_ANY && room-- == 0)
                    break;
                if (w->hold_bytes_max && held_n >= 2 && held + e->hold->len > w->hold_bytes_max)
                    break;
                held += e->hold->len;
                held_n++;
            }
            quiet = quiet && e->bytes[5] <= AX__FRAME_TYPE_MAX && /* the header's type */
                    ((w->quiet_types >> e->bytes[5]) & 1u);
            if (!e->buf) {
                iov[n_iov++] = (struct iovec){e->bytes + e->done, e->len - e->done};
            } else if (e->len <= WQ_STAGE_FRAME && stage && staged + e->len <= AX__LOOP_STAGE) {
                /* Small: header and payload copied into the stage, one
                 * iovec for the run of them (see the note at the top). */
                uint8_t *to = stage + staged;
                uint32_t rem = e->len - e->done;
                if (e->done < AX__FRAME_HEADER_SIZE) {
                    uint32_t h = AX__FRAME_HEADER_SIZE - e->done;
                    memcpy(to, e->bytes + e->done, h);
                    memcpy(to + h, e->buf->data, e->buf->len);
                } else {
                    memcpy(to, e->buf->data + (e->done - AX__FRAME_HEADER_SIZE), rem);
                }
                if (n_iov > 0 && iov[n_iov - 1].iov_base == stage + stage_from &&
                    stage_from + iov[n_iov - 1].iov_len == staged)
                    iov[n_iov - 1].iov_len += rem;
                else {
                    stage_from = staged;
                    iov[n_iov++] = (struct iovec){to, rem};
                }
                staged += rem;
            } else if (e->done < AX__FRAME_HEADER_SIZE) {
                iov[n_iov++] = (struct iovec){e->bytes + e->done, AX__FRAME_HEADER_SIZE - e->done};
                iov[n_iov++] = (struct iovec){e->buf->data, e->buf->len};
            } else {
                iov[n_iov++] = (struct iovec){e->buf->data + (e->done - AX__FRAME_HEADER_SIZE),
                                              e->len - e->done};
            }
        }
        w->gated = n_iov == 0;
        if (n_iov == 0)
            return AX__STREAM_WQ_GATED;
        struct ax__stream_wq_entry *head = qat(w, 0);
        ssize_t n;
        if (w->chan) {
            /* The descriptor first, on the socket with a byte of its own:
             * the peer takes it from there when the frame that announces
             * it comes through the channel, after it. */
            if (head->fd >= 0) {
                static uint8_t carrier = 'F';
                struct iovec one = {&carrier, 1};
                ssize_t k = send_with_fd(fd, &one, 1, head->fd);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k < 0)
                    return errno == EAGAIN || errno == EWOULDBLOCK ? AX_EAGAIN
                                                                   : ax_err_from_errno(errno);
                close(head->fd);
                head->fd = -1;
            }
            n = w->chan_ops->writev(w->chan, iov, n_iov, quiet);
            w->quiet_written |= quiet && n > 0;
            if (n < 0 && errno == EAGAIN)
                return AX__STREAM_WQ_CHAN_FULL;
        } else {
            n = head->fd >= 0 ? send_with_fd(fd, iov, n_iov, head->fd)
                : w->tls      ? ax__tls_writev(w->tls, iov, n_iov)
                              : ax__sys.writev(fd, iov, n_iov);
        }
        w->writes++;
        if (n > 0 && head->fd >= 0) { /* sent with the first byte: ours to close */
            close(head->fd);
            head->fd = -1;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return AX_EAGAIN;
            return ax_err_from_errno(errno);
        }
        consume(w, (size_t)n);
        ax__loop_note_sent(loop);
        if (w->tls && ax__tls_pending(w->tls))
            return AX_EAGAIN; /* taken, not all out: EPOLLOUT */
        /* A short write usually means the socket buffer is full; the next
         * writev then says EAGAIN and EPOLLOUT is armed. Trying once more
         * costs one syscall per full buffer and never stalls on a short
         * write that had another cause. */
    }
    return w->count > 0 ? 1 : 0;
}

bool ax__stream_wq_mid_frame(struct ax__stream_wq *w)
{
    return w->count > 0 && qat(w, 0)->done > 0;
}

bool ax__stream_wq_take_drops(struct ax__stream_wq *w, uint64_t out[AX_DROP_REASON_COUNT_])
{
    bool any = false;
    for (int r = 0; r < AX_DROP_REASON_COUNT_; r++) {
        out[r] = w->unreported[r];
        w->unreported[r] = 0;
        any = any || out[r];
    }
    w->dropped = false;
    return any;
}
