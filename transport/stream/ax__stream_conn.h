/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to transport/stream: a connection's state (conn.c), shared with
 * conn_fd.c, which adds what the shared-memory transport needs on top of
 * it (descriptors, held frames) through the two functions below.
 */
#ifndef AX__STREAM_CONN_H
#define AX__STREAM_CONN_H

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
    bool io_live;   /* io registered (not while connecting) */
    ax_timer timer; /* connect/handshake timeout, linger, a close without a socket */
    ax__stream_connector *connector;
    enum conn_state state;
    int close_status;
    bool closed;          /* finish() ran; on_close is pending */
    bool flush_scheduled; /* parked for AX_IO_WRITABLE */
    bool want_write;      /* EPOLLOUT armed */
    bool reading;
    uint32_t peer_max_frame;
    uint64_t frame_mark;  /* frames_in when the frame timer was armed */
    uint8_t nonce[16];    /* with opt.auth: ours, sent in our HELLO */
    bool hello_ok;        /* with opt.auth: the peer's HELLO passed, its AUTH is awaited */
    uint8_t release_type; /* frames of it still reach the owner while flushing */
    struct ax__stream_reader rd;
    struct ax__stream_wq wq;
    struct ax__link_stats st; /* drops and the high-water mark; the rest is read live */
} stream_conn;

static inline stream_conn *conn_of(ax__link *l)
{
    return (stream_conn *)l;
}

/* Queue @it (its header is completed here); its fd is the queue's from
 * here on, closed on any error. Returns as a link's send(). */
int ax__stream_conn_enqueue(stream_conn *c, struct ax__stream_wq_item *it);

/* Make sure what is queued is written (this iteration, or on EPOLLOUT). */
void ax__stream_conn_kick(stream_conn *c);

/* conn.c: queue a control frame (never dropped); 0 or an AX_E* code. */
int ax__stream_conn_control(stream_conn *c, uint8_t type, const void *data, size_t len);
/* conn.c: the handshake is complete; the link is ready. */
void ax__stream_conn_ready(stream_conn *c);
/* conn.c: tell the peer why (an ERROR frame, logged at a bounded rate) and
 * close once it is written. */
void ax__stream_conn_refuse(stream_conn *c, int code, const char *why);

/* conn_auth.c (with opt.auth): our nonce, drawn when the socket connects
 * (0, or AX_EIO without randomness); the peer's HELLO passed every other
 * check: prove the key, or refuse a peer that has none; the peer's AUTH. */
int ax__stream_auth_begin(stream_conn *c);
void ax__stream_auth_hello(stream_conn *c);
void ax__stream_auth_frame(stream_conn *c, const uint8_t *p, size_t n);

#endif /* AX__STREAM_CONN_H */
