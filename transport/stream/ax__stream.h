/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: framed stream connections on the reactor — links
 * (transport/ax__link.h) over a connected stream socket of any family,
 * listeners, connectors and the handshake codec. The TCP transport
 * (transport/tcp/) and the shared-memory one (transport/shm/, over Unix
 * sockets) are built on them. The wire format and every error reaction are
 * in docs/protocol.md.
 *
 * Core reaches all of it through the transports and the link operations;
 * the functions below are for the transports and their tests. Thread
 * rules: every function runs on the loop thread of the loop the object
 * belongs to; callbacks run there too.
 */
#ifndef AX__STREAM_H
#define AX__STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "axon/loop.h"
#include "transport/ax__addr.h"
#include "transport/ax__link.h"

#define AX__STREAM_PROTOCOL_VERSION 1u

/* Hello.capabilities bits a transport may add to its own (handshake.proto). */
#define AX__STREAM_CAP_SHM_CHANNEL 2u /* frames may move to a shared-memory channel */

/**
 * ax__stream_conn_new() - a link on a connected, non-blocking socket.
 *
 * Sets TCP_NODELAY and the buffer sizes, registers the fd with @loop and,
 * with the handshake on, queues our HELLO. Returns 0, AX_EINVAL, AX_ENOMEM
 * or a registration error; on failure the fd still belongs to the caller.
 * The link's `transport` is left NULL: tcp.c, which made it, sets it.
 */
int ax__stream_conn_new(ax_loop *loop, int fd, const struct ax__link_options *opt,
                        const struct ax__link_callbacks *cb, void *user, ax__link **out);

/**
 * ax__stream_conn_connect() - a link to @addr: connects (within
 * opt->connect_timeout_ns), then handshakes. The link exists at once; its
 * on_close tells a failure (AX_ECONNREFUSED, AX_ETIMEDOUT, ...). Returns 0,
 * or AX_EINVAL / AX_ENOMEM / a socket error with no link and no callback.
 */
int ax__stream_conn_connect(ax_loop *loop, const struct ax__addr *addr,
                            const struct ax__link_options *opt, const struct ax__link_callbacks *cb,
                            void *user, ax__link **out);

/* ---- for transports built on streams (the shared-memory one) ---- */

/* Queue a control frame of @type that passes a copy of descriptor @fd
 * with it (SCM_RIGHTS; the link needs opt->pass_fds and a Unix socket).
 * The caller keeps @fd. Returns 0, AX_EINVAL, AX_EAGAIN (not ready),
 * AX_ECLOSED, AX_ENOMEM or the dup's error. */
int ax__stream_send_fd(ax__link *l, uint8_t type, const void *data, size_t len, int fd);

/* Inside on_frame: the descriptor that came with this frame's first byte
 * (the oldest not taken), owned by the caller; -1 if none came. */
int ax__stream_take_fd(ax__link *l);

/* How many frames queued with a hold may start to be written (the peer's
 * quota of chunks; AX__STREAM_HOLD_ROOM_ANY, the default: no bound), and
 * how many bytes of held buffers may be out at once (0, the default: no
 * bound; one frame always may when none is out). Each that starts takes
 * one and its hold's length; the rest wait in the queue, where the
 * overload policy applies to them. */
#define AX__STREAM_HOLD_ROOM_ANY UINT32_MAX

/* A control frame (never dropped) that goes before every queued frame not
 * yet started: a release must not wait behind descriptors that wait for
 * the peer's releases (both sides sending chunks would never move).
 * Returns as send_control(). */
int ax__stream_send_urgent(ax__link *l, uint8_t type, const void *data, size_t len);
/* Frames of @release_type (the peer's releases; 0: none) still reach the
 * owner while a graceful close flushes, so that held frames queued behind
 * the quota still go out. */
void ax__stream_hold_room(ax__link *l, uint32_t room, uint64_t bytes, uint8_t release_type);
/* Frames of @type also reach the owner while a graceful close flushes (a
 * channel's setup: the peer's releases may come through it). */
void ax__stream_flush_pass(ax__link *l, uint8_t type);
/* The peer gave @n frames of @bytes back: that much more room, and
 * writing resumes. */
void ax__stream_hold_release(ax__link *l, uint32_t n, uint64_t bytes);

/* As send_bytes(), and the frame holds a reference to @hold while queued:
 * released if the frame is dropped, handed to the owner's on_written once
 * it is written (released there when there is no on_written). How a
 * shared-memory descriptor keeps its chunk until the peer is done. */
int ax__stream_send_held(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len,
                         ax__buf *hold);

/*
 * A byte channel that replaces the socket for the frames of one direction
 * (transport/shm/chan.c: a ring in shared memory). The socket stays: the
 * handshake, descriptors (each passed with one byte of its own, before the
 * frame that announces it goes into the channel) and the end (EOF) still
 * travel there. A channel wakes its peer itself; what wakes this side is
 * its bell (ax__stream_chan_bell()).
 */
struct ax__stream_chan_ops {
    /* Write what fits of @iov: the bytes written, or -1 with errno EAGAIN
     * when none fit (the bell rings when room comes), EPROTO for a peer
     * that broke the channel. @quiet: every frame in @iov is of a type the
     * link called quiet (ax__stream_quiet()), which the peer need not be
     * woken for. */
    ssize_t (*writev)(void *chan, const struct iovec *iov, int n_iov, bool quiet);
    /* Read up to @room bytes: the bytes read, or -1 with errno EAGAIN
     * when there are none, EPROTO as above. Fewer than @room means there
     * are no more now, and the bell rings when some come (quiet frames:
     * see @want). */
    ssize_t (*read)(void *chan, void *dst, size_t room);
    /* Whether bytes wait to be read (any thread: a look, no change). */
    bool (*unread)(void *chan);
    /* This side waits for what its peer writes quietly (@writev's @quiet:
     * frames its peer may write without the bell): from now on the bell
     * rings for those too, until bytes are read. Whether bytes wait
     * already (then nothing will ring for them: read them). */
    bool (*want)(void *chan);
    /* What this side wrote quietly is still unread: wake the peer if it
     * sleeps (so that it does not keep what it would give back unasked). */
    void (*nudge)(void *chan);
};

/* Frames queued from now on go into @chan (borrowed until the link
 * closes), after a control frame of @type and @data that passes a copy of
 * @fd (-1: none) and is the last frame on the socket: the peer switches
 * to reading the channel after it (ax__stream_chan_in()). Returns as
 * ax__stream_send_fd(); AX_EINVAL for a second channel. */
int ax__stream_chan_out(ax__link *l, uint8_t type, const void *data, size_t len, int fd,
                        const struct ax__stream_chan_ops *ops, void *chan);
/* Inside on_frame of the peer's switch frame: frames after it come from
 * @chan (borrowed until the link closes). */
void ax__stream_chan_in(ax__link *l, const struct ax__stream_chan_ops *ops, void *chan);
/* Watch @fd (taken; an eventfd the peer writes): its every edge means the
 * incoming channel has bytes, or the outgoing one room. 0, or a
 * registration error (@fd closed). */
int ax__stream_chan_bell(ax__link *l, int fd);
/* Frames of @type need not wake the peer when they go through a channel:
 * it finds them with the next frame that does, or when it waits for them
 * (struct ax__stream_chan_ops, want). For what the peer needs only when it
 * runs short: a subscriber's RELEASE. Loop thread. */
void ax__stream_quiet(ax__link *l, uint8_t type);
/* Read what every channel of @loop holds, quiet frames included: for a
 * publisher whose pool ran dry. @loop's thread. */
void ax__stream_reclaim(ax_loop *loop);
/* How long quiet frames may stay unread before their writer rings after
 * all (100 ms); 0: never, for tests that show the other ways they are
 * found. Set on the loops' thread, or before any link exists. */
extern int64_t ax__stream_nudge_ns;

/* ---- listener (listener.c) ---- */

typedef struct ax__stream_listener ax__stream_listener;

/* @fd is connected, non-blocking and close-on-exec; the callee owns it. */
typedef void (*ax__stream_accept_cb)(ax__stream_listener *l, int fd, const struct ax__addr *peer,
                                     void *user);

/**
 * ax__stream_listen() - listen on @addr (port 0: the kernel chooses), with
 * accept4() until EAGAIN on each edge (parking after the loop's budget).
 * When the process runs out of fds (EMFILE/ENFILE) the listener sheds the
 * pending connections using a reserved fd instead of spinning on a level it
 * cannot clear, and counts them.
 * Returns 0, AX_EADDRINUSE, AX_EACCES, AX_EMFILE, AX_ENOMEM, ...
 */
int ax__stream_listen(ax_loop *loop, const struct ax__addr *addr, int backlog,
                      ax__stream_accept_cb cb, void *user, ax__stream_listener **out);
uint16_t ax__stream_listener_port(const ax__stream_listener *l);
/* Where it listens, as bound (a port or a Unix name the kernel chose). */
const struct ax__addr *ax__stream_listener_addr(const ax__stream_listener *l);
uint64_t ax__stream_listener_rejected(const ax__stream_listener *l); /* shed for lack of fds */
/* Close; memory is released in the loop's closes phase. */
void ax__stream_listener_close(ax__stream_listener *l);

/* ---- a transport's listener (serve.c) ---- */

/* Make the link of an accepted socket @fd with @opt (0), or fail with the
 * fd still the caller's. */
typedef int (*ax__stream_link_fn)(ax_loop *loop, int fd, const struct ax__link_options *opt,
                                  ax__link **out);

/* Listen at @a for transport @tp: each accepted socket becomes a link by
 * @make_link and goes to opt->on_accept. Its address() is the host given
 * with the port bound, or the Unix name bound. Returns as
 * ax__stream_listen(), or AX_EINVAL. */
int ax__stream_serve(ax_loop *loop, const struct ax__addr *a, const struct ax__listen_options *opt,
                     const struct ax__transport *tp, ax__stream_link_fn make_link,
                     ax__listener **out);

/* ---- connector (connector.c) ---- */

typedef struct ax__stream_connector ax__stream_connector;

/* status 0: @fd is connected (non-blocking, close-on-exec) and the callee
 * owns it; else AX_ECONNREFUSED, AX_ETIMEDOUT, AX_ENETUNREACH, ... and
 * @fd is -1. The connector is freed after the callback returns. */
typedef void (*ax__stream_connect_cb)(ax__stream_connector *cn, int status, int fd, void *user);

/**
 * ax__stream_connect() - non-blocking connect to @addr; completion comes via
 * EPOLLOUT and SO_ERROR, or AX_ETIMEDOUT after @timeout_ns (0: no limit).
 * Retrying, with back-off, is the caller's choice. The callback never runs
 * inside this call. Returns 0 or an immediate error (then no callback).
 */
int ax__stream_connect(ax_loop *loop, const struct ax__addr *addr, int64_t timeout_ns,
                       ax__stream_connect_cb cb, void *user, ax__stream_connector **out);
/* Cancel: the callback will not run; the memory goes in the closes phase. */
void ax__stream_connect_cancel(ax__stream_connector *cn);

/* ---- the handshake codec (handshake.c): pure, bounded, fuzzed ---- */

#define AX__STREAM_CONTROL_MAX AX__LINK_CONTROL_MAX /* an encoded HELLO or ERROR fits */

/* conn_auth.c: the handshake's proof of the domain key (options' auth).
 * auth_nonce: a fresh nonce, 0 or AX_EIO without randomness. auth_hello:
 * NULL when @peer's HELLO may go on to AUTH, else the reason to refuse it
 * (no nonce, or our own identity). auth_prove: our AUTH, as the dialer or
 * the acceptor. auth_check: whether @p[0..n) is @peer's AUTH, made in its
 * role, under any of our keys: NULL, or the reason. */
#define AX__STREAM_NONCE_SIZE 16
#define AX__STREAM_AUTH_SIZE  16
int ax__stream_auth_nonce(uint8_t out[AX__STREAM_NONCE_SIZE]);
const char *ax__stream_auth_hello(const struct ax__link_options *o,
                                  const struct ax__link_peer *peer);
void ax__stream_auth_prove(const struct ax__link_options *o, bool dialer,
                           const uint8_t own_nonce[AX__STREAM_NONCE_SIZE],
                           const struct ax__link_peer *peer, uint8_t out[AX__STREAM_AUTH_SIZE]);
const char *ax__stream_auth_check(const struct ax__link_options *o, bool peer_dialer,
                                  const uint8_t own_nonce[AX__STREAM_NONCE_SIZE],
                                  const struct ax__link_peer *peer, const uint8_t *p, size_t n);

/* Fill @peer's identity: with TLS certificates (@tls in certificate mode)
 * the name the peer's certificate proves, which its HELLO's node name must
 * equal; otherwise the node name it asserts. The credentials in @kernel
 * (ax__stream_peer_cred()) are copied too. NULL, or why it is refused
 * (written to @why). */
struct ax__tls;
/* On the Unix socket @fd, note the peer process's credentials
 * (SO_PEERCRED) in @peer, before its HELLO fills in the rest. */
void ax__stream_peer_cred(int fd, struct ax__link_peer *peer);
const char *ax__stream_identity(const struct ax__tls *tls, const struct ax__link_peer *kernel,
                                struct ax__link_peer *peer, char *why, size_t why_len);

/* Encode our HELLO (@self; @want_crc adds the payload-CRC capability)
 * into @out. Returns the length, or AX_EPROTO when it does not fit. */
int ax__stream_hello_encode(const struct ax__link_peer *self, bool want_crc, uint8_t *out,
                            size_t cap);

/* Decode a peer's HELLO: 0 with *@version and @peer filled in, or
 * AX_EPROTO with @why saying what is wrong. The version is not checked. */
int ax__stream_hello_decode(const uint8_t *p, size_t n, uint32_t *version,
                            struct ax__link_peer *peer, char *why, size_t why_len);

/* Whether a decoded HELLO asks for payload CRCs. */
bool ax__stream_hello_wants_crc(const struct ax__link_peer *peer);

/* Encode an ERROR frame's payload: @code is a negative AX_E* code. */
int ax__stream_error_encode(int code, const char *reason, uint8_t *out, size_t cap);

/* Decode one: 0 with *@code (always a negative code from the error table;
 * an unknown one becomes AX_EPROTO) and @reason, or AX_EPROTO. */
int ax__stream_error_decode(const uint8_t *p, size_t n, int *code, char *reason, size_t reason_len);

/* An ERROR frame arrived on @l: log the peer's reason and abort the link
 * with its code (AX_EPROTO when it does not decode). */
void ax__stream_error_frame(ax__link *l, const uint8_t *p, size_t n);

#endif /* AX__STREAM_H */
