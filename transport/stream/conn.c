/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Framed stream connections: the links of the TCP transport and, on Unix
 * sockets, of the shared-memory one (docs/protocol.md).
 *
 * A connection is its socket on the reactor, a reader (reader.c: bytes to
 * frames), a write queue (wq.c: frames to writev calls) and this file's
 * state machine:
 *
 *   CONNECTING --connected--> HANDSHAKE --peer's HELLO ok--> READY
 *        (connect() only)         |                            |
 *                                 +--- close(GRACEFUL) --> FLUSHING --queue empty--> LINGER
 *
 * A peer gets frames of AX__STREAM_CONTROL_MAX bytes until its handshake
 * passed, max_frame_in after, memory that grows with what arrived
 * (reader.c), frame_timeout per frame and handshake_timeout in all.
 *
 * LINGER has shut the socket down for writing and reads (and discards)
 * until the peer's EOF or the linger timer. Any error, an ABORT or the end
 * of LINGER finishes the connection: the queue is dropped (counted), the
 * socket closed, and on_close runs from the loop's closes phase.
 *
 * Writing: nothing is written at send time (but see conn_send.c: a frame
 * that would meet the overload policy first writes what waits). The first
 * send of an iteration parks the handler for AX_IO_WRITABLE, and the
 * ready-list phase flushes everything queued in that iteration; EPOLLOUT is
 * armed only when a flush stops short (socket full).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "base/ax__log_limit.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__loop.h"
#include "transport/stream/ax__stream.h"
#include "transport/stream/ax__stream_reader.h"
#include "transport/stream/ax__stream_conn.h"

#define LOG_MODULE "link"

static const struct ax__link_ops stream_link_ops;

static void finish(stream_conn *c, int status);
static void flush(stream_conn *c);
static void ready(stream_conn *c);

/* ---- writing ---- */

static void set_interest(stream_conn *c)
{
    unsigned ev = 0;
    if (c->reading || c->state == ST_LINGER)
        ev |= AX_IO_READABLE;
    if (c->want_write)
        ev |= AX_IO_WRITABLE;
    int rc = ax_io_set_events(&c->io, ev);
    if (rc < 0)
        finish(c, rc);
}

static void arm_write(stream_conn *c, bool on)
{
    if (c->want_write == on)
        return;
    c->want_write = on;
    set_interest(c);
}

static int enqueue(stream_conn *c, const struct ax__frame_hdr *h, ax__buf *buf, const void *data,
                   size_t len, bool control)
{
    struct ax__stream_wq_item it = {
        .h = h, .buf = buf, .data = data, .len = len, .control = control, .fd = -1};
    return ax__stream_conn_enqueue(c, &it);
}

/* The write queue wrote a frame that held @hold: the owner takes it. */
static void written(void *ctx, ax__buf *hold)
{
    stream_conn *c = ctx;
    if (c->link.cb && c->link.cb->on_written)
        c->link.cb->on_written(&c->link, hold, c->link.user);
    else
        ax__buf_release(hold);
}

static void start_linger(stream_conn *c)
{
    c->state = ST_LINGER;
    if (c->tls) /* TLS's own end first, so the peer can tell it from a cut */
        ax__tls_close_notify(c->tls);
    shutdown(ax_io_fd(&c->io), SHUT_WR);
    set_interest(c);
    if (!c->closed) /* set_interest() finishes the link when epoll refuses */
        ax_timer_start(&c->timer, c->opt.linger_ns, 0);
}

static void flush(stream_conn *c)
{
    uint64_t before = c->wq.frames_out;
    c->write_full = false; /* conn_send.c's early writes may try again after this one */
    c->writing = true;
    int rc = ax__stream_wq_write(&c->wq, c->loop, ax_io_fd(&c->io), ax_loop_io_budget(c->loop));
    c->writing = false;
    if (c->bell_live)
        ax__stream_conn_wrote(c, before);
    if (rc == AX_EAGAIN && c->tls && ax__tls_wants_read(c->tls)) {
        /* The TLS handshake waits for the peer: reading resumes writing. */
        arm_write(c, false);
        ax__stream_conn_shrank(c, before);
        return;
    }
    if (rc == AX_EAGAIN) {
        /* Already armed: the writable edge that brought us here is spent. A
         * full socket raises another when it drains, but re-arming makes
         * progress certain whatever the cause. */
        if (c->want_write) {
            int e = ax_io_rearm(&c->io);
            if (e < 0)
                finish(c, e);
        } else {
            arm_write(c, true);
        }
        ax__stream_conn_shrank(c, before);
        return;
    }
    if (rc < 0) {
        if (c->tls && ax__tls_why(c->tls)[0]) /* a refused handshake, often */
            AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: %s (%s); closing the connection",
                           c->link.peer_addr, ax__tls_why(c->tls), ax_err_name(rc));
        else
            AX_LOG_D(LOG_MODULE, "%s: write: %s", c->link.peer_addr, ax_strerror(rc));
        finish(c, rc);
        return;
    }
    if (rc == AX__STREAM_WQ_GATED) { /* the peer must release first: it tells */
        arm_write(c, false);
        ax__stream_conn_look_in(c, true); /* releases are quiet until we want them */
        ax__stream_conn_shrank(c, before);
        return;
    }
    if (rc == AX__STREAM_WQ_CHAN_FULL) { /* the peer must read first: its bell tells */
        arm_write(c, false);
        c->chan_full = true;
        ax__stream_conn_shrank(c, before);
        return;
    }
    if (rc == 1) { /* budget spent: come back in the ready phase */
        c->flush_scheduled = true;
        ax_io_park(&c->io, AX_IO_WRITABLE);
        ax__stream_conn_shrank(c, before);
        return;
    }
    arm_write(c, c->tls && ax__tls_wants_write(c->tls)); /* a read may wait for room */
    if (c->closed)
        return;
    if (c->state == ST_FLUSHING)
        start_linger(c);
    else if (c->link.cb && c->link.cb->on_drain)
        c->link.cb->on_drain(&c->link, c->link.user); /* empty now */
}

static int send_control(stream_conn *c, uint8_t type, const void *data, size_t len)
{
    struct ax__frame_hdr h = {.type = type};
    return enqueue(c, &h, NULL, data, len, true);
}

/* ---- the handshake ---- */

static void send_error(ax__link *l, int code, const char *reason)
{
    stream_conn *c = conn_of(l);
    if (c->closed || c->state >= ST_FLUSHING)
        return;
    uint8_t buf[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_error_encode(code, reason, buf, sizeof buf);
    if (n >= 0)
        send_control(c, AX__FRAME_ERROR, buf, (size_t)n);
    ax__link_close(l, AX__LINK_GRACEFUL, code);
}

static void protocol_error(stream_conn *c, int code, const char *why)
{
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: %s (%s); closing the connection",
                   c->link.peer_addr, why, ax_err_name(code));
    if (code == AX_EMSGSIZE) {
        /* The stream is still in sync: tell the peer why before closing. */
        send_error(&c->link, code, why);
        return;
    }
    /* Anything else means the byte stream can no longer be trusted. */
    ax__link_close(&c->link, AX__LINK_ABORT, code);
}

static void refuse(stream_conn *c, int code, const char *why)
{
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s (node '%s'): %s", c->link.peer_addr,
                   c->link.peer.node_name, why);
    send_error(&c->link, code, why);
}

static void send_auth(stream_conn *c)
{
    uint8_t proof[AX__STREAM_AUTH_SIZE];
    ax__stream_auth_prove(&c->opt, c->dialer, c->nonce, &c->link.peer, proof);
    send_control(c, AX__FRAME_AUTH, proof, sizeof proof);
}

/* The largest payload accepted from the peer once it said HELLO. */
static uint32_t max_frame_in(const struct ax__link_options *o)
{
    return o->max_frame_in && o->max_frame_in < o->max_frame ? o->max_frame_in : o->max_frame;
}

static void handle_hello(stream_conn *c, const uint8_t *p, size_t n)
{
    struct ax__link_peer *ph = &c->link.peer;
    uint32_t version;
    char why[200];
    if (ax__stream_hello_decode(p, n, &version, ph, why, sizeof why) < 0) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: %s", c->link.peer_addr, why);
        send_error(&c->link, AX_EPROTO, why);
        return;
    }
    if (version != AX__STREAM_PROTOCOL_VERSION) {
        snprintf(why, sizeof why, "protocol version %u not supported, this node speaks %u",
                 (unsigned)version, AX__STREAM_PROTOCOL_VERSION);
        refuse(c, AX_EVERSION, why);
        return;
    }
    if (ph->domain != c->opt.self.domain) {
        snprintf(why, sizeof why, "domain %u, expected %u", (unsigned)ph->domain,
                 (unsigned)c->opt.self.domain);
        refuse(c, AX_EDOMAIN, why);
        return;
    }
    const char *no = ax__stream_identity(c->tls, &c->kernel, ph, why, sizeof why);
    if (no) {
        refuse(c, AX_EACCES, no);
        return;
    }
    if (c->opt.guard && c->opt.guard->check_peer) {
        why[0] = '\0';
        int rc =
            c->opt.guard->check_peer(c->opt.guard->ctx, ph, c->link.peer_addr, why, sizeof why);
        if (rc < 0) {
            refuse(c, rc, why[0] ? why : "refused");
            return;
        }
    }
    c->peer_max_frame = ph->max_frame ? ph->max_frame : AX__FRAME_DEFAULT_MAX_PAYLOAD;
    c->link.crc = c->opt.crc_payload || ax__stream_hello_wants_crc(ph);
    if (c->opt.auth) { /* ready once the peer's AUTH has passed */
        no = ax__stream_auth_hello(&c->opt, ph);
        c->hello_ok = !no;
        if (no)
            refuse(c, AX_EACCES, no);
        else if (c->dialer) /* the acceptor proves only to a proven dialer */
            send_auth(c);
        return;
    }
    ready(c);
}

static void ready(stream_conn *c)
{
    c->hello_ok = false;
    c->link.ready = true;
    c->state = ST_READY;
    ax__stream_reader_set_max_frame(&c->rd, max_frame_in(&c->opt));
    ax_timer_stop(&c->timer);
    if (c->link.cb && c->link.cb->on_ready)
        c->link.cb->on_ready(&c->link, &c->link.peer, c->link.user);
}

/* ---- reading ---- */

/* One complete frame from the reader. Returns false once closed. */
static bool on_frame(void *ctx, const struct ax__frame_hdr *h, const uint8_t *payload, ax__buf *buf)
{
    stream_conn *c = ctx;
    const char *why;
    /* Closing: what the peer still sends is discarded, except while
     * flushing the releases that let held frames still queued go out. */
    if (c->state == ST_LINGER || (c->state == ST_FLUSHING && !(c->flush_types & (1u << h->type))))
        return !c->closed;
    if (ax__frame_check_payload(h, payload) < 0) {
        protocol_error(c, AX_ECRC, "payload CRC mismatch");
        return !c->closed;
    }
    switch (h->type) {
    case AX__FRAME_AUTH:
        if (!c->opt.auth || !c->hello_ok || c->state != ST_HANDSHAKE) {
            protocol_error(c, AX_EPROTO, "unexpected AUTH");
        } else if ((why = ax__stream_auth_check(&c->opt, !c->dialer, c->nonce, &c->link.peer,
                                                payload, h->payload_len))) {
            refuse(c, AX_EACCES, why);
        } else {
            if (!c->dialer)
                send_auth(c);
            ready(c);
        }
        break;
    case AX__FRAME_HELLO:
        if (!c->opt.handshake || c->link.ready || c->hello_ok)
            protocol_error(c, AX_EPROTO, "unexpected HELLO");
        else
            handle_hello(c, payload, h->payload_len);
        break;
    case AX__FRAME_ERROR:
        ax__stream_error_frame(&c->link, payload, h->payload_len);
        break;
    case AX__FRAME_LIMIT:
        if (c->state != ST_READY || !ax__stream_conn_peer_limit(c, payload, h->payload_len))
            protocol_error(c, AX_EPROTO, "bad LIMIT");
        break;
    default:
        if (c->state != ST_READY && c->state != ST_FLUSHING) {
            protocol_error(c, AX_EPROTO, "frame before HELLO");
            break;
        }
        if (c->link.crc && !(h->flags & AX__FRAME_F_PAYLOAD_CRC)) {
            protocol_error(c, AX_EPROTO, "payload CRC negotiated but missing");
            break;
        }
        if (c->link.cb && c->link.cb->on_frame)
            c->link.cb->on_frame(&c->link, h, payload, buf, c->link.user);
    }
    /* The owner stopped reading (backpressure: a lossless pipeline's
     * output, a service's pending replies): the frames already read stay
     * buffered too, until it reads again. */
    return !c->closed && c->reading;
}

static void on_eof(stream_conn *c)
{
    if (c->state == ST_LINGER) {
        finish(c, c->close_status);
        return;
    }
    if (ax__stream_reader_mid_frame(&c->rd)) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: peer closed mid-frame; closing",
                       c->link.peer_addr);
        finish(c, AX_EPROTO);
        return;
    }
    if (c->state == ST_HANDSHAKE) {
        AX_LOG_D(LOG_MODULE, "%s: peer closed before the handshake", c->link.peer_addr);
        finish(c, AX_ECONNRESET);
        return;
    }
    finish(c, 0);
}

/* A frame begun must end within frame_timeout (a byte a minute holds a slot). Armed once a
 * period, not per read: at expiry a connection still in the same frame is closed, unless it
 * is we who stopped reading (backpressure); any other is watched again. */
static void watch_frame(stream_conn *c)
{
    if (c->state != ST_READY || !c->opt.frame_timeout_ns || ax_timer_active(&c->timer) ||
        !ax__stream_reader_mid_frame(&c->rd))
        return;
    c->frame_mark = c->rd.frames_in;
    ax_timer_start(&c->timer, c->opt.frame_timeout_ns, 0);
}

static void frame_timer(stream_conn *c)
{
    if (!ax__stream_reader_mid_frame(&c->rd))
        return;
    if (c->rd.frames_in == c->frame_mark && c->reading) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE,
                       "%s (node '%s'): a frame took over %lld ms; closing", c->link.peer_addr,
                       c->link.peer.node_name, (long long)(c->opt.frame_timeout_ns / AX_NS_PER_MS));
        finish(c, AX_ETIMEDOUT);
        return;
    }
    watch_frame(c);
}

static void do_read(stream_conn *c)
{
    int fd = ax_io_fd(&c->io);
    const char *why;
    int rc = ax__stream_reader_read(&c->rd, fd, ax_loop_io_budget(c->loop), on_frame, c, &why);
    if (c->closed)
        return;
    if (rc < 0 && why) {
        if (c->state < ST_FLUSHING)
            protocol_error(c, rc, why);
        if (c->closed)
            return;
        if (c->rd.chan) { /* a broken channel says the same at every read: no linger on it */
            finish(c, rc);
            return;
        }
        /* Closing (a graceful close after an oversized frame, say): the
         * rest of the stream is read only to find its end, a budget per
         * iteration like any read; bytes already buffered raise no new
         * edge, hence the park. */
        ax__stream_reader_discard(&c->rd, fd);
        ax_io_park(&c->io, AX_IO_READABLE);
        return;
    }
    if (rc < 0) {
        AX_LOG_D(LOG_MODULE, "%s: read: %s", c->link.peer_addr, ax_strerror(rc));
        /* Lingering after our close_notify: a TLS peer closing without its
         * own ends the exchange as plainly as an EOF. */
        bool tls_end = c->tls && c->state == ST_LINGER && rc == AX_ECONNRESET;
        finish(c, tls_end ? c->close_status : rc);
        return;
    }
    if (rc == AX__STREAM_RD_EOF) {
        on_eof(c);
        return;
    }
    if (rc == AX__STREAM_RD_MORE)
        ax_io_park(&c->io, AX_IO_READABLE);
    watch_frame(c);
    if (c->tls && ax__tls_wants_write(c->tls))
        arm_write(c, true); /* the handshake's reply waits for room */
    else if (c->tls && ax__tls_wants_read(c->tls))
        flush(c); /* a write waited for what was just read */
}

void ax__stream_conn_io_cb(ax_io *io, unsigned events, void *user)
{
    stream_conn *c = user;
    (void)io;
    if (events & AX_IO_HANGUP)
        c->rd.peer_hup = true;
    /* With a channel the socket brings descriptors or the end, not
     * frames: looked at only when it raised an edge (a parked flush is
     * not one; a parked read may be, and costs one recvmsg). */
    if (c->rd.chan && io == &c->io && (events & (AX_IO_READABLE | AX_IO_HANGUP | AX_IO_ERROR)))
        c->rd.sock_edge = true;
    if (events & (AX_IO_READABLE | AX_IO_HANGUP | AX_IO_ERROR)) {
        if (c->reading || c->state == ST_LINGER) {
            do_read(c);
        } else if (events & (AX_IO_ERROR | AX_IO_HANGUP)) {
            /* Not reading (backpressure), but the connection died: notice. */
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(ax_io_fd(&c->io), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err || (events & AX_IO_ERROR))
                finish(c, err ? ax_err_from_errno(err) : AX_ECONNRESET);
        }
    }
    if (c->closed)
        return;
    if (c->wq.gated && c->bell_live) /* a read took back our want: still waiting */
        ax__stream_conn_look_in(c, true);
    if (events & AX_IO_WRITABLE) {
        c->flush_scheduled = false;
        if (c->tls && ax__tls_wants_write(c->tls))
            do_read(c);
        if (!c->closed)
            flush(c);
    }
}

/* ---- lifecycle ---- */

static void release(stream_conn *c)
{
    if (c->link.cb && c->link.cb->on_close)
        c->link.cb->on_close(&c->link, c->close_status, c->link.user);
    ax__stream_reader_fini(&c->rd);
    ax__tls_free(c->tls);
    free(c);
}

static void io_closed(ax_io *io, void *user)
{
    stream_conn *c = user;
    (void)io;
    if (--c->ios == 0)
        release(c);
}

static void release_task(void *arg)
{
    release(arg);
}

static void timer_cb(ax_timer *t, void *user)
{
    stream_conn *c = user;
    (void)t;
    if (c->closed) { /* never had a socket, and no task could be posted */
        release(c);
        return;
    }
    if (c->state == ST_HANDSHAKE) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: no handshake within %lld ms; closing",
                       c->link.peer_addr, (long long)(c->opt.handshake_timeout_ns / AX_NS_PER_MS));
        finish(c, AX_ETIMEDOUT);
    } else if (c->state == ST_READY) {
        frame_timer(c);
    } else if (c->state == ST_LINGER || c->state == ST_FLUSHING) {
        finish(c, c->close_status);
    }
}

/* Final teardown: drop the queue, close the fd; on_close comes from the
 * loop's closes phase, or, for a connection that never had a socket, from
 * a posted task (which ax_loop_free() still runs, where a timer would be
 * left active). */
static void finish(stream_conn *c, int status)
{
    if (c->closed)
        return;
    /* Closing for a reason (a refusal we sent, say): that reason stands,
     * whatever the peer's reset or EOF during the linger adds. */
    if (c->state >= ST_FLUSHING && c->close_status != 0)
        status = c->close_status;
    c->closed = true;
    c->link.ready = false;
    c->close_status = status;
    ax__stream_wq_fini(&c->wq);
    ax__stream_conn_report_drops(c);
    if (c->connector) {
        ax__stream_connect_cancel(c->connector);
        c->connector = NULL;
    }
    ax_timer_stop(&c->timer);
    if (c->bell_live) { /* the bell only ever comes with a live io */
        ax__stream_conn_quiet_stop(c);
        ax_io_close(&c->bell, io_closed);
    }
    if (c->io_live)
        ax_io_close(&c->io, io_closed);
    else if (ax_loop_post(c->loop, release_task, c) < 0 && ax_timer_start(&c->timer, 0, 0) < 0)
        /* Out of memory twice: calling on_close from inside this call
         * could free what our caller still uses, so the link is leaked,
         * and said so. */
        AX_LOG_E(LOG_MODULE, "%s: out of memory: this link's close is never reported",
                 c->link.peer_addr);
}

static void link_close(ax__link *l, enum ax__link_close how, int status)
{
    stream_conn *c = conn_of(l);
    if (c->closed)
        return;
    if (how == AX__LINK_ABORT || !c->io_live) {
        if (c->io_live &&
            (ax__stream_wq_mid_frame(&c->wq) || (c->tls && ax__tls_pending(c->tls)))) {
            /* RST: do not leave the peer a half-sent frame as EOF.
             * Otherwise every frame written went whole to the kernel, and
             * a plain close lets the last of them still arrive (a node
             * destroyed right after a publish). */
            struct linger lg = {1, 0};
            setsockopt(ax_io_fd(&c->io), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        finish(c, status);
        return;
    }
    if (c->state >= ST_FLUSHING)
        return;
    c->close_status = status;
    c->state = ST_FLUSHING;
    ax_timer_start(&c->timer, c->opt.linger_ns, 0); /* bounds the flush too */
    if (c->wq.count == 0 && !(c->tls && ax__tls_pending(c->tls)))
        start_linger(c);
    else
        ax__stream_conn_kick(c); /* frames, or sealed bytes, still to go */
}

/* A connection that never reached its owner: nothing to report. */
static void conn_free_unused(stream_conn *c)
{
    ax_timer_stop(&c->timer);
    ax__stream_reader_fini(&c->rd);
    ax__stream_wq_fini(&c->wq);
    ax__tls_free(c->tls);
    free(c);
}

static stream_conn *conn_alloc(ax_loop *loop, const struct ax__link_options *opt,
                               const struct ax__link_callbacks *cb, void *user)
{
    stream_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    ax_timer_init(loop, &c->timer, timer_cb, c);
    uint32_t first_max = opt->handshake && opt->max_frame > AX__STREAM_CONTROL_MAX
                             ? AX__STREAM_CONTROL_MAX
                             : max_frame_in(opt);
    if (ax__stream_reader_init(&c->rd, first_max) < 0 ||
        ax__stream_wq_init(&c->wq, opt->queue_bytes, opt->queue_frames, opt->overload) < 0) {
        conn_free_unused(c);
        return NULL;
    }
    c->wq.on_written = written;
    c->wq.ctx = c;
    c->rd.pass_fds = opt->pass_fds;
    c->link.ops = &stream_link_ops;
    c->link.cb = cb;
    c->link.user = user;
    c->loop = loop;
    c->opt = *opt;
    c->reading = true;
    c->state = ST_CONNECTING;
    /* Before any socket: a failure here frees nothing registered. */
    if (opt->auth && ax__stream_auth_nonce(c->nonce) < 0) {
        conn_free_unused(c);
        return NULL;
    }
    c->peer_max_frame = opt->handshake ? AX__FRAME_DEFAULT_MAX_PAYLOAD : opt->max_frame;
    return c;
}

/* The socket is connected: register it and start the handshake. On
 * failure the fd still belongs to the caller. */
static int conn_attach(stream_conn *c, int fd)
{
    /* A connected Unix socket keeps the name it was given (connect()). */
    if (!c->link.peer_addr[0] || strchr(c->link.peer_addr, '@') != c->link.peer_addr)
        ax__addr_peer_name(fd, c->link.peer_addr, sizeof c->link.peer_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails on non-TCP: fine */
    if (c->opt.sndbuf)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &c->opt.sndbuf, sizeof c->opt.sndbuf);
    if (c->opt.rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &c->opt.rcvbuf, sizeof c->opt.rcvbuf);
    if (c->opt.tls && !(c->tls = ax__tls_new(c->opt.tls, fd, c->dialer)))
        return AX_ENOMEM;
    c->rd.tls = c->wq.tls = c->tls;
    if (c->opt.pass_fds) /* a Unix socket: the kernel says who the peer is */
        ax__stream_peer_cred(fd, &c->kernel);
    int rc = ax_io_init(c->loop, &c->io, fd, AX_IO_READABLE, ax__stream_conn_io_cb, c);
    if (rc < 0)
        return rc;
    c->io_live = true;
    c->ios = 1;
    if (!c->opt.handshake) {
        c->state = ST_READY;
        c->link.ready = true;
        c->link.crc = c->opt.crc_payload;
        return 0;
    }
    c->state = ST_HANDSHAKE;
    struct ax__link_peer self = c->opt.self;
    self.max_frame = max_frame_in(&c->opt);
    if (c->opt.auth) {
        self.has_nonce = true;
        memcpy(self.nonce, c->nonce, sizeof self.nonce);
    }
    uint8_t hello[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_hello_encode(&self, c->opt.crc_payload, hello, sizeof hello);
    /* Cannot fail: the queue has room and a HELLO always fits. */
    if (n >= 0)
        send_control(c, AX__FRAME_HELLO, hello, (size_t)n);
    ax_timer_start(&c->timer, c->opt.handshake_timeout_ns, 0);
    return 0;
}

int ax__stream_conn_new(ax_loop *loop, int fd, const struct ax__link_options *opt,
                        const struct ax__link_callbacks *cb, void *user, ax__link **out)
{
    struct ax__link_options defaults;
    if (!loop || fd < 0 || !out)
        return AX_EINVAL;
    if (!opt) {
        ax__link_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->queue_frames == 0 || opt->queue_bytes == 0)
        return AX_EINVAL;
    stream_conn *c = conn_alloc(loop, opt, cb, user);
    if (!c)
        return AX_ENOMEM;
    int rc = conn_attach(c, fd);
    if (rc < 0) {
        conn_free_unused(c);
        return rc;
    }
    *out = &c->link;
    return 0;
}

static void connected(ax__stream_connector *cn, int status, int fd, void *user)
{
    stream_conn *c = user;
    (void)cn;
    c->connector = NULL;
    if (status == 0 && (status = conn_attach(c, fd)) < 0)
        close(fd);
    if (status < 0)
        finish(c, status); /* the owner hears why in on_close */
}

int ax__stream_conn_connect(ax_loop *loop, const struct ax__addr *addr,
                            const struct ax__link_options *opt, const struct ax__link_callbacks *cb,
                            void *user, ax__link **out)
{
    if (!loop || !addr || !opt || !out || opt->queue_frames == 0 || opt->queue_bytes == 0)
        return AX_EINVAL;
    stream_conn *c = conn_alloc(loop, opt, cb, user);
    if (!c)
        return AX_ENOMEM;
    c->dialer = true;
    ax__addr_format(addr, c->link.peer_addr, sizeof c->link.peer_addr);
    int rc = ax__stream_connect(loop, addr, opt->connect_timeout_ns, connected, c, &c->connector);
    if (rc < 0) {
        conn_free_unused(c);
        return rc;
    }
    *out = &c->link;
    return 0;
}

/* ---- the link operations ---- */

static int link_send(ax__link *l, const struct ax__frame_hdr *h, ax__buf *payload)
{
    if (!l || !h || h->type == AX__FRAME_HELLO || h->type == AX__FRAME_ERROR)
        return AX_EINVAL;
    if (!payload)
        return enqueue(conn_of(l), h, NULL, NULL, 0, false);
    return enqueue(conn_of(l), h, payload, NULL, payload->len, false);
}

static int link_send_bytes(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len)
{
    if (!l || !h || (!data && len) || h->type == AX__FRAME_HELLO || h->type == AX__FRAME_ERROR)
        return AX_EINVAL;
    return enqueue(conn_of(l), h, NULL, data, len, false);
}

static int link_send_control(ax__link *l, uint8_t type, const void *data, size_t len)
{
    stream_conn *c = conn_of(l);
    if (type == AX__FRAME_HELLO || type == AX__FRAME_ERROR || len > AX__STREAM_CONTROL_MAX)
        return AX_EINVAL;
    if (c->state != ST_READY && !c->closed && c->state < ST_FLUSHING)
        return AX_EAGAIN;
    return send_control(c, type, data, len);
}

static int link_set_reading(ax__link *l, bool on)
{
    stream_conn *c = conn_of(l);
    if (c->closed)
        return AX_ECLOSED;
    if (c->reading == on)
        return 0;
    c->reading = on;
    if (!c->io_live)
        return 0;
    set_interest(c);
    if (on) /* data that arrived meanwhile raised no edge we acted on */
        ax_io_park(&c->io, AX_IO_READABLE);
    return 0;
}

static const struct ax__link_ops stream_link_ops = {
    .send = link_send,
    .send_bytes = link_send_bytes,
    .send_control = link_send_control,
    .send_error = send_error,
    .close = link_close,
    .set_reading = link_set_reading,
    .set_queue = ax__stream_conn_set_queue,
    .queued = ax__stream_conn_queued,
    .stats = ax__stream_conn_stats,
    .set_max_in = ax__stream_conn_set_max_in,
};
