/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to transport/tcp: the write queue of a connection (wq.c), used
 * by conn.c. The queue knows nothing of the connection: conn.c calls
 * it and acts on what it returns, so the two files do not call each other
 * in a circle.
 */
#ifndef AX__TCP_WQ_H
#define AX__TCP_WQ_H

#include "transport/tcp/ax__tcp.h"

#define AX__TCP_WQ_INLINE 160u /* header (48) + up to 112 payload bytes copied inline */

struct ax__tcp_wq_entry {
    ax__buf *buf;  /* NULL: the payload is inline in bytes[] */
    uint32_t len;  /* header + payload */
    uint32_t done; /* bytes already written */
    bool control;
    uint8_t bytes[AX__TCP_WQ_INLINE]; /* the header, then an inline payload */
};

/* A ring of frames waiting to be written, bounded for data frames. */
struct ax__tcp_wq {
    struct ax__tcp_wq_entry *q;
    uint32_t cap, head, count; /* cap: a power of two */
    uint32_t data;             /* data frames queued (the bound counts only these) */
    uint64_t bytes;
    uint64_t max_bytes;
    uint32_t max_frames;
    enum ax_overload policy;
    uint64_t high_bytes;                        /* largest `bytes` seen */
    uint64_t frames_out, bytes_out, writes;     /* what left, and writev calls */
    uint64_t unreported[AX_DROP_REASON_COUNT_]; /* drops the owner has not taken yet */
    bool dropped;                               /* some of them are not zero */
    uint32_t cut_frames;                        /* the queue when the policy said disconnect */
    uint64_t cut_bytes;
};

/* An empty queue with room for a first batch: 0 or AX_ENOMEM. */
int ax__tcp_wq_init(struct ax__tcp_wq *w, uint64_t max_bytes, uint32_t max_frames,
                    enum ax_overload policy);

/* Release every frame (data frames count as AX_DROP_CLOSED) and the ring. */
void ax__tcp_wq_fini(struct ax__tcp_wq *w);

#define AX__TCP_WQ_DISCONNECT 1 /* ax__tcp_wq_push(): the policy says cut the peer off */

/*
 * Queue one frame: @h is complete (flags and payload CRC set); the payload
 * is @buf (referenced when large, else copied inline) or @data (copied).
 * Control frames are never dropped. A data frame that does not fit meets
 * the overload policy: returns 0 when queued, AX_EOVERFLOW when it was
 * dropped, AX__TCP_WQ_DISCONNECT (everything droppable dropped, the frame
 * too), or AX_ENOMEM. Drops are counted in `unreported`.
 */
int ax__tcp_wq_push(struct ax__tcp_wq *w, const struct ax__frame_hdr *h, ax__buf *buf,
                    const void *data, size_t len, bool control);

/*
 * Write what is queued to @fd with writev, at most @budget calls. Returns
 * 0 when the queue is empty, 1 when the budget ran out first, AX_EAGAIN
 * when the socket is full, or the error of a failed write.
 */
int ax__tcp_wq_write(struct ax__tcp_wq *w, ax_loop *loop, int fd, unsigned budget);

/* The drops not yet reported, by reason, into @out; forgets them. Returns
 * whether there were any. */
bool ax__tcp_wq_take_drops(struct ax__tcp_wq *w, uint64_t out[AX_DROP_REASON_COUNT_]);

#endif /* AX__TCP_WQ_H */
