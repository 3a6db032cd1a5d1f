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
 * Files, each calling only those before it:
 *   pool.c   the publisher's pool: segments (memfd, sealed), chunks, loans
 *   rx.c     the subscriber's side: mapped segments and views of chunks
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
