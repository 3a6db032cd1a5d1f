/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: axon's same-host shared-memory transport (transport/shm/).
 *
 * No daemon and no names that outlive their processes: a link is a framed
 * stream (transport/stream) on an abstract Unix socket (gone with the
 * socket, scoped by the network namespace), and a payload travels as a
 * descriptor of a chunk in a memfd segment that the publisher created,
 * sealed and passed once over that socket (SCM_RIGHTS). The subscriber maps
 * it read-only; the seals stop it from mapping it writable, writing it,
 * or shrinking it under the publisher. Each chunk a subscriber holds is
 * held for it on the publisher's side by its link until it says RELEASE
 * (or its socket closes: a crashed subscriber gives everything back at
 * once). Small messages go through the socket as bytes, like TCP.
 *
 * After the handshake, frames leave the socket for a channel of two byte
 * rings in shared memory (chan.c), which costs no syscall per frame while
 * the reader is awake; the socket still carries descriptors and the end.
 *
 * Files, each calling only those before it:
 *   pool.c   the publisher's pool: segments (memfd, sealed), chunks, loans
 *   rx.c     the subscriber's side: mapped segments and views of chunks
 *   chan.c   the channel: frames through rings in shared memory, eventfd bells
 *   link.c   the link: descriptors, segments announced, holds, releases
 *   shm.c    the transport: addresses, listen, connect, the host id
 */
#ifndef AX__SHM_H
#define AX__SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "transport/ax__link.h"
#include "transport/stream/ax__stream.h"

extern const struct ax__transport ax__shm_transport;

/* ---- pool.c ---- */

struct ax__shm_pool;

/* A segment of chunks of one size, in one sealed memfd. */
struct ax__shm_seg {
    uint32_t id; /* unique in the process */
    int fd;      /* memfd; passed to subscribers */
    uint8_t *base;
    size_t size;
    size_t chunk_size;
    uint32_t nchunks;
    struct ax__shm_chunk *chunks;
};

/* A chunk's header, in the publisher's private memory (a subscriber can
 * read the chunk, never its bookkeeping). */
struct ax__shm_chunk {
    ax__buf buf; /* embedded: refcounted by whoever holds the chunk */
    struct ax__shm_seg *seg;
    struct ax__shm_pool *pool;
    uint32_t index;
    struct ax__shm_chunk *next_free;
};

/* Whether @b is a chunk of some shm pool (then its ax__shm_chunk is
 * b->free_arg). */
bool ax__shm_is_chunk(const ax__buf *b);

/* The transport's pool_new (struct ax__transport). */
int ax__shm_pool_new(const struct ax__pool_options *opt, ax__pool **out);

/* ---- rx.c (the subscriber's side) ---- */

/* A segment mapped read-only: shared by the link's table and every view
 * of one of its chunks; unmapped when the last goes. */
struct ax__shm_map {
    atomic_uint refs;
    uint32_t id;
    uint32_t batch; /* releases of its chunks that may wait to go together (1..128) */
    const uint8_t *base;
    size_t size;
};

struct ax__shm_rx;

/* The receive state of one link; outlives it while views are held. */
int ax__shm_rx_new(ax_loop *loop, struct ax__shm_rx **out);
/* The link is gone: views released later only unmap. On the loop thread. */
void ax__shm_rx_detach(struct ax__shm_rx *rx);
/* A SEGMENT frame: map @fd (taken), after checking its seals and size;
 * @batch is how many releases of its chunks may wait to be sent together
 * (clamped to 1..128). 0, AX_EPROTO (bad segment) or an mmap error. */
int ax__shm_rx_map(struct ax__shm_rx *rx, uint32_t id, uint64_t size, uint32_t batch, int fd,
                   const char **why);
/* A descriptor: a view of @len bytes at @off of segment @seg, released
 * with ax__buf_release(); @chunk goes back in a RELEASE frame then, or
 * with others of its batch, at most AX__SHM_RELEASE_DELAY_NS later.
 * 0, AX_EPROTO (unknown segment, out of its bounds), AX_ENOMEM. */
int ax__shm_rx_view(struct ax__shm_rx *rx, uint32_t seg, uint32_t chunk, uint64_t off, uint32_t len,
                    ax__buf **out, const char **why);
/* Called on the loop thread with the (seg, chunk) pairs to give back. */
typedef void (*ax__shm_release_fn)(void *ctx, const uint32_t *pairs, size_t n);
void ax__shm_rx_set_release(struct ax__shm_rx *rx, ax__shm_release_fn fn, void *ctx);

/* ---- chan.c ---- */

/*
 * One direction of a channel, in a memfd its writer made. `head` and
 * `tail` count bytes (mod 2^32; the data is `size` bytes, a power of two,
 * at most AX__SHM_CHAN_SIZE_MAX, so they never lap). Ordering (C11, the
 * atomics lock-free, so between processes too):
 * - data bytes: plain copies, published by the writer's store of head
 *   (seq_cst, so release) and read after the reader's load of it
 *   (seq_cst, so acquire); the reader's store of tail (seq_cst) orders
 *   its copies before the writer reuses that room;
 * - sleep: a reader that found nothing stores sleep = 1, then loads head;
 *   a writer stores head, then loads sleep and, when set, takes it
 *   (exchange 0) and writes the reader's eventfd;
 * - wait: the same with the roles swapped, for a writer that found no
 *   room (it stores wait, loads tail; the reader stores tail, loads wait).
 * - quiet frames (a subscriber's RELEASE: ax__stream_quiet()): written
 *   without the bell when the reader said it reads them unasked
 *   (`reader_caps`, set once when it maps the ring) and does not `want`
 *   them now; sleep stays set, so the next other frame rings. The reader
 *   finds them when any bell of its loop rings (transport/stream looks at
 *   every channel of the loop then) or when it needs them: a reader that
 *   waits for them stores want = 1, then loads head, and the writer
 *   stores head, then loads want, as for sleep. A reader that read bytes
 *   stores want = 0; it stores 1 again while it still waits.
 * Every one of these stores and loads is seq_cst, so of two sides that
 * race, at least one sees the other's store: a reader never sleeps on
 * bytes it was not told of, nor a writer on room.
 */
#define AX__SHM_CHAN_READS_QUIET 1u /* reader_caps: quiet frames are found unasked */

struct ax__shm_chan_ring {
    _Atomic uint32_t head;        /* bytes written: the writer's */
    _Atomic uint32_t sleep;       /* 1: the reader found it empty and waits for the bell */
    _Atomic uint32_t want;        /* 1: the reader waits for quiet frames too */
    _Atomic uint32_t reader_caps; /* AX__SHM_CHAN_READS_QUIET: the reader's, set once */
    uint8_t pad0[48];
    _Atomic uint32_t tail; /* bytes read: the reader's */
    _Atomic uint32_t wait; /* 1: the writer found it full and waits for the bell */
    uint8_t pad1[56];
    uint8_t data[];
};

#define AX__SHM_CHAN_SIZE     (128u * 1024)       /* each direction's ring */
#define AX__SHM_CHAN_SIZE_MAX (16u * 1024 * 1024) /* the most a peer may announce */

struct ax__shm_chan;

/* A channel with our outgoing ring of @size bytes (a power of two, 4 KiB
 * to AX__SHM_CHAN_SIZE_MAX) and our bell, an eventfd returned in @bell
 * (the caller's: it passes a copy to the peer and registers it). 0,
 * AX_EINVAL or the error of memfd, mmap or eventfd. */
int ax__shm_chan_new(uint32_t size, struct ax__shm_chan **out, int *bell);
/* The outgoing ring's memfd, to pass (SHM_CHAN); the channel keeps it. */
int ax__shm_chan_out_fd(const struct ax__shm_chan *ch);
/* The peer's bell @fd (taken): checked to be an eventfd, made
 * non-blocking. 0 or AX_EPROTO (with *@why). */
int ax__shm_chan_peer_bell(struct ax__shm_chan *ch, int fd, const char **why);
/* The peer's ring @fd (taken) of @size data bytes: checked (size, seals)
 * and mapped writable. 0, AX_EPROTO (with *@why) or mmap's error. */
int ax__shm_chan_map_in(struct ax__shm_chan *ch, uint32_t size, int fd, const char **why);
/* Unmap and close (NULL: nothing). After the link's stream is closed. */
void ax__shm_chan_free(struct ax__shm_chan *ch);
/* The byte channel, for ax__stream_chan_out() and _in() with the channel. */
extern const struct ax__stream_chan_ops ax__shm_chan_ops;

/* SHM_CHAN payload; the ring's memfd comes with it. */
struct ax__shm_chan_msg {
    uint32_t size;
    uint32_t reserved; /* 0 */
};

/* ---- the wire (link.c) ---- */

/* SHM_SEGMENT payload; the memfd comes with it. */
struct ax__shm_segment_msg {
    uint32_t id;
    uint32_t batch; /* releases that may wait to go together (0 from old senders: 1) */
    uint64_t size;
};

/* How long a release held back for its batch may wait. */
#define AX__SHM_RELEASE_DELAY_NS 1000000

/* A DATA frame with AX__FRAME_F_SHM: where the message is. */
struct ax__shm_desc {
    uint32_t seg;
    uint32_t chunk;
    uint64_t off;
    uint32_t len;
    uint32_t reserved;
};

#define AX__SHM_DEFAULT_QUOTA       256u                /* chunks a peer may hold, by default */
#define AX__SHM_DEFAULT_QUOTA_BYTES (16u * 1024 * 1024) /* and their bytes */

struct ax__shm_link;

/* A shared-memory link, in three steps (shm.c): allocate it (NULL: out of
 * memory), make its stream link with ax__shm_link_stream_cbs() and the
 * allocation as user, then attach that stream (returns the link the owner
 * sees). A stream that could not be made: abandon the allocation. */
struct ax__shm_link *ax__shm_link_alloc(ax_loop *loop, const struct ax__link_options *opt,
                                        const struct ax__link_callbacks *cb, void *user);
const struct ax__link_callbacks *ax__shm_link_stream_cbs(void);
ax__link *ax__shm_link_attach(struct ax__shm_link *s, ax__link *stream);
void ax__shm_link_abandon(struct ax__shm_link *s);

#endif /* AX__SHM_H */
