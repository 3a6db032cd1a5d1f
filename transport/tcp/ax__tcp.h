/*
 * Private: framed TCP on the reactor — connections, listeners, connectors.
 * The wire format and every error reaction are in docs/protocol.md.
 *
 * Thread rules: every function here runs on the loop thread of the loop the
 * object belongs to; callbacks run there too.
 *
 * Ownership: a connection owns its fd from ax__tcp_conn_new() on. Closing is
 * deferred: ax__tcp_conn_close() marks the connection, and on_close(status)
 * runs exactly once, later, from the loop's closes phase; the connection's
 * memory is released right after on_close returns. Calls on a closing
 * connection fail with AX_ECLOSED.
 */
#ifndef AX__TCP_H
#define AX__TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/loop.h"
#include "axon/qos.h"
#include "transport/ax__addr.h"
#include "transport/ax__buf.h"
#include "transport/ax__frame.h"

typedef struct ax__tcp_conn ax__tcp_conn;
typedef struct ax__tcp_listener ax__tcp_listener;
typedef struct ax__tcp_connector ax__tcp_connector;

#define AX__TCP_PROTOCOL_VERSION 1u

/* The HELLO each side sends (axon.ctl.Hello, without the protocol version,
 * which is always AX__TCP_PROTOCOL_VERSION). */
struct ax__tcp_hello {
    uint64_t node_id;
    uint64_t incarnation;
    uint32_t domain;
    uint32_t purpose; /* axon.ctl.Purpose */
    uint32_t capabilities;
    uint32_t max_frame;
    char node_name[64];
};

struct ax__tcp_conn_options {
    uint32_t rbuf_size;           /* per-connection read buffer, default 256 KiB */
    uint32_t max_frame;           /* largest payload accepted, default 64 MiB */
    uint64_t queue_bytes;         /* write queue bound in bytes, default 64 MiB */
    uint32_t queue_frames;        /* write queue bound in frames, default 65536 */
    enum ax_overload overload;    /* what a full queue does, default drop_oldest */
    uint32_t sndbuf;              /* SO_SNDBUF, 0 = kernel default */
    uint32_t rcvbuf;              /* SO_RCVBUF, 0 = kernel default */
    bool crc_payload;             /* ask for payload CRCs (either side can) */
    bool handshake;               /* exchange HELLO first (default true) */
    struct ax__tcp_hello hello;   /* our HELLO */
    int64_t handshake_timeout_ns; /* no HELLO by then: close, default 5 s */
    int64_t linger_ns; /* graceful close: wait this long for the peer's EOF, default 2 s */
};

void ax__tcp_conn_options_init(struct ax__tcp_conn_options *o);

struct ax__tcp_conn_callbacks {
    /* Handshake done (never called when handshake is off). @peer is valid
     * during the call. */
    void (*on_ready)(ax__tcp_conn *c, const struct ax__tcp_hello *peer, void *user);
    /* One frame other than HELLO/ERROR. @payload is valid during the call
     * only; @buf is non-NULL when the payload lives in its own refcounted
     * buffer (large frames), which the callee may ax__buf_hold() to keep. */
    void (*on_frame)(ax__tcp_conn *c, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user);
    /* The write queue became empty (optional). */
    void (*on_drain)(ax__tcp_conn *c, void *user);
    /* @n data frames were dropped for @reason (optional): the overload
     * policy, a disconnect, or a close with frames still queued. */
    void (*on_drop)(ax__tcp_conn *c, enum ax_drop_reason reason, uint64_t n, void *user);
    /* Called once, from the closes phase: 0 when the peer closed cleanly
     * between frames or we closed without error, else the AX_E* reason. */
    void (*on_close)(ax__tcp_conn *c, int status, void *user);
};

struct ax__tcp_stats {
    uint64_t frames_in, bytes_in;
    uint64_t frames_out, bytes_out;
    uint64_t reads, writevs; /* syscalls made */
    uint64_t queued_frames, queued_bytes;
    uint64_t queue_high_bytes; /* largest queued_bytes seen */
    uint64_t drops[AX_DROP_REASON_COUNT_];
};

/**
 * ax__tcp_conn_new() - wrap a connected, non-blocking socket.
 *
 * Sets TCP_NODELAY and the buffer sizes, registers the fd with @loop and,
 * with the handshake on, queues our HELLO. Returns 0, AX_EINVAL, AX_ENOMEM
 * or a registration error; on failure the fd still belongs to the caller.
 */
int ax__tcp_conn_new(ax_loop *loop, int fd, const struct ax__tcp_conn_options *opt,
                     const struct ax__tcp_conn_callbacks *cb, void *user, ax__tcp_conn **out);

/**
 * ax__tcp_conn_send() - queue one frame; it leaves at the end of this loop
 * iteration, gathered with the others into few writev calls.
 * @h: type, stream, seq, timestamp_ns (other fields are filled in).
 * @payload: the payload, or NULL for none. Small payloads are copied into
 *           the queue; larger ones are referenced (ax__buf_hold), so one
 *           buffer can be queued on many connections without a copy.
 *
 * Returns 0 when queued; AX_EOVERFLOW when the overload policy dropped this
 * frame (counted); AX_ECLOSED (closing, or the disconnect policy just closed
 * it); AX_EAGAIN (a DATA frame before the handshake completed); AX_EMSGSIZE
 * (larger than the peer's maximum frame); AX_ENOMEM.
 */
int ax__tcp_conn_send(ax__tcp_conn *c, const struct ax__frame_hdr *h, ax__buf *payload);

/** ax__tcp_conn_send_bytes() - as ax__tcp_conn_send(), copying @len bytes. */
int ax__tcp_conn_send_bytes(ax__tcp_conn *c, const struct ax__frame_hdr *h, const void *data,
                            size_t len);

/**
 * ax__tcp_conn_send_error() - queue an ERROR frame (@code, @reason), then
 * close gracefully with @code as the status. Idempotent while closing.
 */
void ax__tcp_conn_send_error(ax__tcp_conn *c, int code, const char *reason);

enum ax__tcp_close_how {
    AX__TCP_CLOSE_GRACEFUL = 0, /* flush, shutdown(SHUT_WR), wait for EOF or linger */
    AX__TCP_CLOSE_ABORT = 1,    /* now, with RST; queued frames count as dropped */
};

/** ax__tcp_conn_close() - close with @status reported to on_close. */
void ax__tcp_conn_close(ax__tcp_conn *c, enum ax__tcp_close_how how, int status);

/** ax__tcp_conn_set_reading() - stop or resume reading (backpressure). */
int ax__tcp_conn_set_reading(ax__tcp_conn *c, bool on);

/** ax__tcp_conn_set_overload() - change the overload policy. */
void ax__tcp_conn_set_overload(ax__tcp_conn *c, enum ax_overload policy);

/** ax__tcp_conn_set_queue_bounds() - change the write queue bounds (data
 * frames already queued beyond them stay; new ones see the new bounds). */
void ax__tcp_conn_set_queue_bounds(ax__tcp_conn *c, uint64_t bytes, uint32_t frames);

/**
 * ax__tcp_conn_send_pb() - queue a control frame of @type whose payload is
 * the nanopb message @msg of @fields (at most 1 KiB encoded). Control frames
 * are never dropped by the overload policy. Returns 0, AX_ECLOSED,
 * AX_EAGAIN (before the handshake), AX_EPROTO (does not encode), AX_ENOMEM.
 */
int ax__tcp_conn_send_pb(ax__tcp_conn *c, uint8_t type, const void *fields, const void *msg);

void ax__tcp_conn_stats(const ax__tcp_conn *c, struct ax__tcp_stats *out);

/* ax__tcp_conn_queued() - frames and bytes in the write queue now (the
 * cheap part of ax__tcp_conn_stats(), for per-message use). Loop thread. */
void ax__tcp_conn_queued(const ax__tcp_conn *c, uint64_t *frames, uint64_t *bytes);
const char *ax__tcp_conn_peer(const ax__tcp_conn *c); /* "ip:port" */
bool ax__tcp_conn_is_ready(const ax__tcp_conn *c);
bool ax__tcp_conn_crc_payload(const ax__tcp_conn *c);                       /* negotiated */
const struct ax__tcp_hello *ax__tcp_conn_peer_hello(const ax__tcp_conn *c); /* NULL before ready */
void *ax__tcp_conn_user(const ax__tcp_conn *c);
void ax__tcp_conn_set_user(ax__tcp_conn *c, void *user);

/* ---- listener ---- */

/* @fd is connected, non-blocking and close-on-exec; the callee owns it. */
typedef void (*ax__tcp_accept_cb)(ax__tcp_listener *l, int fd, const struct ax__addr *peer,
                                  void *user);

/**
 * ax__tcp_listen() - listen on @addr (port 0: the kernel chooses), with
 * accept4() until EAGAIN on each edge (parking after the loop's budget).
 * When the process runs out of fds (EMFILE/ENFILE) the listener sheds the
 * pending connections using a reserved fd instead of spinning on a level it
 * cannot clear, and counts them.
 * Returns 0, AX_EADDRINUSE, AX_EACCES, AX_EMFILE, AX_ENOMEM, ...
 */
int ax__tcp_listen(ax_loop *loop, const struct ax__addr *addr, int backlog, ax__tcp_accept_cb cb,
                   void *user, ax__tcp_listener **out);
uint16_t ax__tcp_listener_port(const ax__tcp_listener *l);
uint64_t ax__tcp_listener_rejected(const ax__tcp_listener *l); /* shed for lack of fds */
/* Close; memory is released in the loop's closes phase. */
void ax__tcp_listener_close(ax__tcp_listener *l);

/* ---- connector ---- */

/* status 0: @fd is connected (non-blocking, close-on-exec) and the callee
 * owns it; else AX_ECONNREFUSED, AX_ETIMEDOUT, AX_ENETUNREACH, ... and
 * @fd is -1. The connector is freed after the callback returns. */
typedef void (*ax__tcp_connect_cb)(ax__tcp_connector *cn, int status, int fd, void *user);

/**
 * ax__tcp_connect() - non-blocking connect to @addr; completion comes via
 * EPOLLOUT and SO_ERROR, or AX_ETIMEDOUT after @timeout_ns (0: no limit).
 * Retrying, with back-off, is the caller's choice. The callback never runs
 * inside this call. Returns 0 or an immediate error (then no callback).
 */
int ax__tcp_connect(ax_loop *loop, const struct ax__addr *addr, int64_t timeout_ns,
                    ax__tcp_connect_cb cb, void *user, ax__tcp_connector **out);
/* Cancel: the callback will not run; the memory goes in the closes phase. */
void ax__tcp_connect_cancel(ax__tcp_connector *cn);

#endif /* AX__TCP_H */
