/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to transport/stream: a connection's state (conn.c), shared with
 * conn_send.c (queueing a frame), conn_stats.c (counters) and conn_fd.c,
 * which adds what the shared-memory transport needs on top of
 * it (descriptors, held frames) through the two functions below.
 */
#ifndef AX__STREAM_CONN_H
#define AX__STREAM_CONN_H

#include "base/ax__list.h"
#include "transport/ax__loop.h"
#include "transport/stream/ax__stream.h"
#include "transport/stream/ax__stream_reader.h"
#include "transport/stream/ax__stream_wq.h"

enum conn_state {
    ST_CONNECTING, /* connect() in progress: no socket registered yet */
    ST_HANDSHAKE,  /* waiting for the peer's HELLO */
    ST_READY,
    ST_FLUSHING, /* graceful close: flushing what is queued */
    ST_LINGER,   /* shut down for writing; reading until EOF or the timer */
};

typedef struct stream_conn {
    ax__link link; /* first: the connection is a link */
    struct ax__link_options opt;
    ax_loop *loop;
    ax_io io;
    bool io_live;     /* io registered (not while connecting) */
    ax_io bell;       /* with a channel: the eventfd the peer writes (ax__stream_chan_bell()) */
    bool bell_live;   /* bell registered */
    bool chan_full;   /* a flush stopped at a full channel: the bell resumes it */
    ax__qnode bells;  /* on the loop's list of them, while bell_live */
    bool bell_looked; /* the bell's handler runs for a look (parked), not a ring */
    ax_timer nudge;   /* with a bell: quiet frames the peer has not read yet */
    unsigned ios;     /* handlers registered and not yet closed: the last frees */
    ax_timer timer;   /* connect/handshake timeout, linger, a close without a socket */
    ax__stream_connector *connector;
    enum conn_state state;
    int close_status;
    bool closed;          /* finish() ran; on_close is pending */
    bool flush_scheduled; /* parked for AX_IO_WRITABLE */
    bool want_write;      /* EPOLLOUT armed */
    bool write_full;      /* an early write (conn_send.c) found no room: until the next flush */
    bool writing;         /* inside the write queue's write: no early write */
    bool reading;
    uint32_t peer_max_frame;
    uint64_t frame_mark;         /* frames_in when the frame timer was armed */
    uint8_t nonce[16];           /* with opt.auth: ours, sent in our HELLO */
    bool dialer;                 /* this side connected (the other accepted) */
    bool hello_ok;               /* with opt.auth: the peer's HELLO passed, its AUTH is awaited */
    uint32_t flush_types;        /* 1 << type: frames that still reach the owner while flushing */
    ax__tls *tls;                /* with opt.tls: the session under the frames */
    struct ax__link_peer kernel; /* Unix sockets: has_cred, uid, gid (SO_PEERCRED) */
    struct ax__stream_reader rd;
    struct ax__stream_wq wq;
    struct ax__link_stats st; /* drops and the high-water mark; the rest is read live */
} stream_conn;

static inline stream_conn *conn_of(ax__link *l)
{
    return (stream_conn *)l;
}

/* conn_send.c: queue @it (its header is completed here); its fd is the
 * queue's from here on, closed on any error. Returns as a link's send(). */
int ax__stream_conn_enqueue(stream_conn *c, struct ax__stream_wq_item *it);

/* Make sure what is queued is written (this iteration, or on EPOLLOUT). */
void ax__stream_conn_kick(stream_conn *c);

/* conn_stats.c: drops the write queue made, told to the owner (on_drop). */
void ax__stream_conn_report_drops(stream_conn *c);
/* conn_stats.c: frames went out since @frames_before: the owner hears that
 * its queue shrank (a publisher blocked on a slow subscriber goes on). */
void ax__stream_conn_shrank(stream_conn *c, uint64_t frames_before);

/* conn_stats.c: the link operations set_queue, queued and stats. */
void ax__stream_conn_set_queue(ax__link *l, enum ax_overload policy, uint64_t bytes,
                               uint32_t frames);
void ax__stream_conn_queued(const ax__link *l, uint64_t *frames, uint64_t *bytes);
/* The link's set_max_in(), and a LIMIT frame from the peer (false when it
 * is malformed). */
int ax__stream_conn_set_max_in(ax__link *l, uint32_t max);
bool ax__stream_conn_peer_limit(stream_conn *c, const uint8_t *p, size_t n);
void ax__stream_conn_stats(const ax__link *l, struct ax__link_stats *out);

/* conn.c: the socket's handler, also called for the channel's bell
 * (conn_fd.c) with the events the bell stands for. */
void ax__stream_conn_io_cb(ax_io *io, unsigned events, void *user);
/* conn_quiet.c: read the channel in this step's ready phase if bytes
 * wait there (quiet frames come without a ring); @want: and ask the peer
 * to ring for them from now on (this side waits for them). */
void ax__stream_conn_look_in(stream_conn *c, bool want);
/* conn_quiet.c: the same for the channels of @loop but @c's (@c's bell
 * rang). */
void ax__stream_conn_look_around(ax_loop *loop, stream_conn *c);
/* conn_quiet.c: after a flush of a connection with a bell, whose frames
 * out were @before it. */
void ax__stream_conn_wrote(stream_conn *c, uint64_t before);
/* conn_quiet.c: @c's bell is registered (bell_live) / goes (finish()). */
void ax__stream_conn_quiet_start(stream_conn *c);
void ax__stream_conn_quiet_stop(stream_conn *c);

#endif /* AX__STREAM_CONN_H */
