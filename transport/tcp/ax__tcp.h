/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: axon's TCP transport — framed connections on the reactor
 * (links, transport/ax__link.h), listeners, connectors and the handshake
 * codec. The wire format and every error reaction are in docs/protocol.md.
 *
 * Core reaches all of it through ax__tcp_transport and the link
 * operations; the functions below are for the transport itself and its
 * tests. Thread rules: every function runs on the loop thread of the loop
 * the object belongs to; callbacks run there too.
 */
#ifndef AX__TCP_H
#define AX__TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "axon/loop.h"
#include "transport/ax__addr.h"
#include "transport/ax__link.h"

#define AX__TCP_PROTOCOL_VERSION 1u

/* The transport: listen() and connect() take "ip:port". */
extern const struct ax__transport ax__tcp_transport;

/**
 * ax__tcp_conn_new() - a link on a connected, non-blocking socket.
 *
 * Sets TCP_NODELAY and the buffer sizes, registers the fd with @loop and,
 * with the handshake on, queues our HELLO. Returns 0, AX_EINVAL, AX_ENOMEM
 * or a registration error; on failure the fd still belongs to the caller.
 * The link's `transport` is left NULL: tcp.c, which made it, sets it.
 */
int ax__tcp_conn_new(ax_loop *loop, int fd, const struct ax__link_options *opt,
                     const struct ax__link_callbacks *cb, void *user, ax__link **out);

/**
 * ax__tcp_conn_connect() - a link to @addr: connects (within
 * opt->connect_timeout_ns), then handshakes. The link exists at once; its
 * on_close tells a failure (AX_ECONNREFUSED, AX_ETIMEDOUT, ...). Returns 0,
 * or AX_EINVAL / AX_ENOMEM / a socket error with no link and no callback.
 */
int ax__tcp_conn_connect(ax_loop *loop, const struct ax__addr *addr,
                         const struct ax__link_options *opt, const struct ax__link_callbacks *cb,
                         void *user, ax__link **out);

/* ---- listener (listener.c) ---- */

typedef struct ax__tcp_listener ax__tcp_listener;

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

/* ---- connector (connector.c) ---- */

typedef struct ax__tcp_connector ax__tcp_connector;

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

/* ---- the handshake codec (handshake.c): pure, bounded, fuzzed ---- */

#define AX__TCP_CONTROL_MAX 1024u /* an encoded HELLO or ERROR fits */

/* Encode our HELLO (@self; @want_crc adds the payload-CRC capability)
 * into @out. Returns the length, or AX_EPROTO when it does not fit. */
int ax__tcp_hello_encode(const struct ax__link_peer *self, bool want_crc, uint8_t *out, size_t cap);

/* Decode a peer's HELLO: 0 with *@version and @peer filled in, or
 * AX_EPROTO with @why saying what is wrong. The version is not checked. */
int ax__tcp_hello_decode(const uint8_t *p, size_t n, uint32_t *version, struct ax__link_peer *peer,
                         char *why, size_t why_len);

/* Whether a decoded HELLO asks for payload CRCs. */
bool ax__tcp_hello_wants_crc(const struct ax__link_peer *peer);

/* Encode an ERROR frame's payload: @code is a negative AX_E* code. */
int ax__tcp_error_encode(int code, const char *reason, uint8_t *out, size_t cap);

/* Decode one: 0 with *@code (always a negative code from the error table;
 * an unknown one becomes AX_EPROTO) and @reason, or AX_EPROTO. */
int ax__tcp_error_decode(const uint8_t *p, size_t n, int *code, char *reason, size_t reason_len);

#endif /* AX__TCP_H */
