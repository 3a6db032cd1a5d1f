/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to transport/stream: the read side of a connection (reader.c):
 * socket bytes in, frames out through the owner's function. It knows
 * nothing of the connection, so the two do not call each other in a
 * circle.
 */
#ifndef AX__STREAM_READER_H
#define AX__STREAM_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/ax__buf.h"
#include "transport/ax__frame.h"
#include "transport/tls/ax__tls.h"

#define AX__STREAM_FDS_MAX 16 /* descriptors received and not yet taken */

struct ax__stream_reader {
    uint8_t *rbuf; /* NULL until the first read */
    size_t rcap, rlen, roff;
    size_t rbuf_max; /* 16 KiB while only small frames are accepted, else 256 KiB */
    bool filled;     /* the last read filled it: double it before the next */
    bool have_hdr;
    int hdr_len;
    struct ax__frame_hdr cur;
    ax__buf *big;    /* payload being read straight into its own buffer */
    uint8_t *grow;   /* or, larger than any before it, into memory doubling as it fills */
    size_t grow_cap; /* its size */
    size_t big_fill; /* bytes of that payload so far */
    uint32_t proven; /* the largest payload delivered whole (at least 128 KiB) */
    int lowat;       /* SO_RCVLOWAT while a large payload arrives; 0: not set */
    uint32_t max_frame;
    bool peer_hup; /* set by the owner: read to EOF, a short read proves nothing */
    bool pass_fds; /* Unix sockets: take descriptors passed with the bytes */
    ax__tls *tls;  /* TLS: plaintext comes from here (borrowed), else read() */
    bool got_fds;  /* the last read brought some */
    /* A channel (ax__stream_chan_in()): frames come from there; the socket
     * brings only descriptors, each with one byte, and the end. */
    const struct ax__stream_chan_ops *chan_ops;
    void *chan;
    int sock;       /* the socket, for the descriptors */
    bool sock_edge; /* set by the owner: the socket raised an edge since the last read */
    bool sock_eof;  /* the socket ended: once the channel is empty, so does the stream */
    int sock_err;   /* AX_EPROTO: the socket brought a byte without a descriptor */
    int fds[AX__STREAM_FDS_MAX]; /* received, not yet taken: a ring */
    unsigned fd_head, fd_count;
    uint64_t reads, bytes_in, frames_in;
    int64_t read_real_ns;  /* CLOCK_REALTIME of the last read that brought bytes */
    int64_t slice_end;     /* monotonic ns: this call's frames stop after it */
    uint64_t slice_frames; /* frames_in when this call began */
};

/* How long one read call hands frames to the owner before it returns
 * AX__STREAM_RD_MORE with the rest buffered (callbacks run inline). */
#define AX__STREAM_READ_SLICE_NS (2 * 1000 * 1000)

/* One complete frame: @payload is valid during the call; @buf is its own
 * refcounted buffer for large payloads (NULL otherwise). Return false to
 * stop reading (the owner closed). */
typedef bool (*ax__stream_frame_fn)(void *ctx, const struct ax__frame_hdr *h,
                                    const uint8_t *payload, ax__buf *buf);

/* A reader accepting payloads up to @max_frame: 0 or AX_ENOMEM. */
int ax__stream_reader_init(struct ax__stream_reader *r, uint32_t max_frame);
void ax__stream_reader_fini(struct ax__stream_reader *r);

/* Frames announcing a payload longer than @max_frame are refused from now
 * on (a connection accepts only small frames before its handshake). */
void ax__stream_reader_set_max_frame(struct ax__stream_reader *r, uint32_t max_frame);

enum {
    AX__STREAM_RD_DRAINED = 0, /* the socket has nothing more now */
    AX__STREAM_RD_MORE = 1,    /* the budget or the time slice ran out first: park, come back */
    AX__STREAM_RD_EOF = 2,     /* the peer closed (mid-frame or not: see below) */
    AX__STREAM_RD_STOPPED = 3, /* the frame function said stop */
};

/*
 * Read from @fd, at most @budget reads, handing every complete frame to
 * @fn, for at most AX__STREAM_READ_SLICE_NS (the rest stays buffered for
 * the next call). Returns one of the values above, or a negative AX_E* code: with
 * *@why set, a protocol error in the byte stream (AX_EPROTO, AX_EVERSION,
 * AX_ECRC, AX_EMSGSIZE: the frame header's, see transport/ax__frame.h);
 * with *@why NULL, the read failed (an OS error) or a large payload's
 * buffer could not be had (AX_ENOMEM).
 */
int ax__stream_reader_read(struct ax__stream_reader *r, int fd, unsigned budget,
                           ax__stream_frame_fn fn, void *ctx, const char **why);

/* Whether an EOF now would cut a frame short. */
bool ax__stream_reader_mid_frame(const struct ax__stream_reader *r);

/* The oldest descriptor received and not taken yet (the caller owns it),
 * or -1. A frame that announces one takes it while it is handled: the
 * descriptor arrived with the frame's first byte. */
int ax__stream_reader_take_fd(struct ax__stream_reader *r);

/* From the next frame on, read from @chan (see struct ax__stream_chan_ops);
 * what the socket sent after the current frame is dropped (bytes that
 * carried descriptors). Called inside the frame function. */
void ax__stream_reader_chan(struct ax__stream_reader *r, int sock,
                            const struct ax__stream_chan_ops *ops, void *chan);

/* Forget everything buffered (a closing connection reads only to EOF). */
void ax__stream_reader_discard(struct ax__stream_reader *r, int fd);

#endif /* AX__STREAM_READER_H */
