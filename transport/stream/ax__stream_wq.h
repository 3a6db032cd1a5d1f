/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to transport/stream: the write queue of a connection (wq.c),
 * used by conn.c. The queue knows nothing of the connection: conn.c calls
 * it and acts on what it returns, so the two files do not call each other
 * in a circle.
 */
#ifndef AX__STREAM_WQ_H
#define AX__STREAM_WQ_H

#include "transport/stream/ax__stream.h"
#include "transport/tls/ax__tls.h"

#define AX__STREAM_WQ_INLINE 160u /* header (48) + up to 112 payload bytes copied inline */

struct ax__stream_wq_entry {
    ax__buf *buf;  /* NULL: the payload is inline in bytes[] */
    ax__buf *hold; /* kept while queued; handed over once written (or NULL) */
    uint32_t len;  /* header + payload */
    uint32_t done; /* bytes already written */
    int fd;        /* a descriptor to pass with the frame (Unix sockets), -1: none */
    bool control;
    bool switch_out; /* the last frame on the socket: the channel takes what follows */
    uint8_t bytes[AX__STREAM_WQ_INLINE]; /* the header, then an inline payload */
};

/* One frame to queue (ax__stream_wq_push()). */
struct ax__stream_wq_item {
    const struct ax__frame_hdr *h; /* complete: flags and payload CRC set */
    ax__buf *buf;                  /* the payload, referenced (never copied), or NULL */
    const void *data;              /* or these @len bytes, copied */
    size_t len;
    bool control;    /* never dropped */
    bool urgent;     /* control only: goes before every frame not yet started */
    bool switch_out; /* control only: see ax__stream_wq_entry */
    int fd;          /* passed with the frame; the queue owns it from here (-1: none) */
    ax__buf *hold;   /* a reference the queue takes, released if the frame is
                      * dropped, handed to on_written once it is written */
};

/* A ring of frames waiting to be written, bounded for data frames. */
struct ax__stream_wq {
    struct ax__stream_wq_entry *q;
    uint32_t cap, head, count; /* cap: a power of two */
    uint32_t data;             /* data frames queued (the bound counts only these) */
    /* Held frames that may still start (the peer's quota, less what it
     * holds); AX__STREAM_HOLD_ROOM_ANY: no bound. */
    uint32_t hold_room;
    /* Bytes of held frames started and not given back, their number, and
     * the bytes' bound (0: none): a held frame may start whatever its size
     * while fewer than two are out, so frames larger than the bound still
     * go, and a peer that keeps the latest message still gets the next. */
    uint64_t hold_bytes, hold_bytes_max;
    uint32_t hold_n;
    bool gated; /* the last write stopped at the hold gate */
    /* 1 << type: frames the peer need not be woken for (ax__stream_quiet()) */
    uint32_t quiet_types;
    bool quiet_written; /* some went without waking it: the owner clears it */
    uint64_t bytes;
    uint64_t max_bytes;
    uint32_t max_frames;
    enum ax_overload policy;
    uint64_t high_bytes;                        /* largest `bytes` seen */
    uint64_t frames_out, bytes_out, writes;     /* what left, and writev calls */
    uint64_t copied_bytes;                      /* data payload bytes copied in (not referenced) */
    uint64_t unreported[AX_DROP_REASON_COUNT_]; /* drops the owner has not taken yet */
    bool dropped;                               /* some of them are not zero */
    uint32_t cut_frames;                        /* the queue when the policy said disconnect */
    uint64_t cut_bytes;
    /* A written frame's hold goes here (NULL: released). */
    void (*on_written)(void *ctx, ax__buf *hold);
    void *ctx;
    ax__tls *tls; /* TLS: frames are sealed here (borrowed), else writev() */
    /* A channel (ax__stream_chan_out()): frames go there, once the switch
     * frame is written; descriptors still go on the socket. */
    const struct ax__stream_chan_ops *chan_ops, *chan_next_ops;
    void *chan, *chan_next;
};

/* An empty queue with room for a first batch: 0 or AX_ENOMEM. */
int ax__stream_wq_init(struct ax__stream_wq *w, uint64_t max_bytes, uint32_t max_frames,
                       enum ax_overload policy);

/* Release every frame (data frames count as AX_DROP_CLOSED) and the ring. */
void ax__stream_wq_fini(struct ax__stream_wq *w);

#define AX__STREAM_WQ_DISCONNECT 1 /* ax__stream_wq_push(): the policy says cut the peer off */
/* Whether the head frame is partly written. */
bool ax__stream_wq_mid_frame(struct ax__stream_wq *w);

#define AX__STREAM_WQ_GATED     2 /* ax__stream_wq_write(): the next frame waits for hold_room */
#define AX__STREAM_WQ_CHAN_FULL 3 /* ax__stream_wq_write(): the channel is full; its bell tells */

/*
 * Queue one frame (@it). Control frames are never dropped. A data frame
 * that does not fit meets the overload policy: returns 0 when queued,
 * AX_EOVERFLOW when it was dropped, AX__STREAM_WQ_DISCONNECT (everything
 * droppable dropped, the frame too), or AX_ENOMEM. Drops are counted in
 * `unreported`. On any error the item's fd is closed.
 */
int ax__stream_wq_push(struct ax__stream_wq *w, const struct ax__stream_wq_item *it);

/* Whether data frame @it would meet the overload policy if pushed now (a
 * policy that drops or disconnects, and no room); false for control
 * frames and for block. */
bool ax__stream_wq_would_overflow(const struct ax__stream_wq *w,
                                  const struct ax__stream_wq_item *it);

/*
 * Write what is queued to @fd with writev (sendmsg, with SCM_RIGHTS, for a
 * frame that passes a descriptor: it starts a call of its own), at most
 * @budget calls, and no held frame beyond hold_room. Returns 0 when the
 * queue is empty, 1 when the budget ran out first, AX__STREAM_WQ_GATED
 * when the next frame waits for hold_room, AX_EAGAIN when the socket is
 * full, AX__STREAM_WQ_CHAN_FULL when the channel is, or the error of a
 * failed write.
 */
int ax__stream_wq_write(struct ax__stream_wq *w, ax_loop *loop, int fd, unsigned budget);

/* The drops not yet reported, by reason, into @out; forgets them. Returns
 * whether there were any. */
bool ax__stream_wq_take_drops(struct ax__stream_wq *w, uint64_t out[AX_DROP_REASON_COUNT_]);

#endif /* AX__STREAM_WQ_H */
