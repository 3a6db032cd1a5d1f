/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: the transport interface. Core talks to its peers through links
 * and never names a transport; a transport is one folder under transport/
 * and one `const struct ax__transport` (after nng's transport ops tables).
 *
 * A link is one connection to one peer node: it carries frames (a logical
 * header, struct ax__frame_hdr, and a payload) both ways, after a handshake
 * that tells each side who the other is (struct ax__link_peer). Core
 * encodes its own protocol (SUBSCRIBE, SUBSCRIBE_ACK, schemas, data) and
 * hands the transport bytes or payload buffers; the transport owns its
 * handshake, its framing on the wire, its write queue and its counters.
 *
 * Threads: a link, a listener and every callback belong to the thread of
 * the loop they were made on; call them only from there.
 *
 * Buffers: send() takes its own reference to a payload buffer (the caller
 * keeps its one); send_bytes() and send_control() copy. A payload given to
 * on_frame() is valid during the call; when @buf is not NULL the payload
 * lives in that refcounted buffer, which the callee may ax__buf_hold() to
 * keep. A transport whose peers read memory in place (shared memory)
 * offers pools (AX__TP_LOANS): core packs a large message into a buffer of
 * the publisher's pool and sends that buffer on every link, so nothing is
 * copied on the way; any link can send any buffer (others copy it).
 *
 * Errors and teardown: close() is deferred: it marks the link, and
 * on_close(status) runs exactly once, later, from the loop (never inside a
 * call into the link); the link's memory is gone after on_close returns.
 * Calls on a closing link fail with AX_ECLOSED. status 0 means a clean
 * close (the peer closed between frames, or we closed without error);
 * otherwise it is why: AX_ECONNREFUSED, AX_ETIMEDOUT (connect or
 * handshake), AX_EPROTO (a malformed frame: the link is aborted at once),
 * AX_EMSGSIZE (a frame over max_frame), AX_EVERSION, AX_EDOMAIN, AX_EACCES
 * (the guard refused the peer), a refusal code the peer sent in an ERROR
 * frame, or an OS error. A link closed for a reason (a close with a
 * non-zero status, or a refusal it sent) reports that reason, whatever
 * happens while it finishes closing (the peer's reset, a write error, the
 * linger timing out).
 */
#ifndef AX__LINK_H
#define AX__LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/loop.h"
#include "axon/qos.h"
#include "transport/ax__buf.h"
#include "transport/ax__frame.h"

struct ax__hmac;    /* base/ax__sha256.h */
struct ax__tls_ctx; /* transport/tls/ax__tls.h */

typedef struct ax__link ax__link;
typedef struct ax__listener ax__listener;
struct ax__transport;

#define AX__LINK_ADDR_MAX 64 /* peer addresses as text ("ip:port") */
#define AX__LINK_NAME_MAX 64 /* node names in a handshake */

/* What a link is for, stated by the side that opened it. */
enum ax__link_purpose {
    AX__LINK_DATA = 1, /* a subscribing node receiving one publisher's data */
    AX__LINK_TOOL = 2, /* a tool asking for schemas */
};

/* Who a peer says it is, from its handshake. */
struct ax__link_peer {
    uint64_t node_id;
    uint64_t incarnation;
    uint32_t domain;
    uint32_t purpose; /* enum ax__link_purpose */
    uint32_t capabilities;
    uint32_t max_frame; /* the largest payload it accepts */
    bool has_nonce;     /* with a domain key: its HELLO's nonce */
    uint8_t nonce[16];
    char node_name[AX__LINK_NAME_MAX];
    /* Who the peer is for access control: with TLS certificates, the name
     * its certificate proves (its HELLO must assert the same); otherwise
     * the node name it asserts. */
    char identity[AX__LINK_NAME_MAX];
    bool identity_verified; /* from a certificate */
    /* Unix-socket links: the peer process's credentials (SO_PEERCRED),
     * from the kernel, not from the peer. */
    bool has_cred;
    uint32_t uid, gid;
};

/*
 * The security hook (room for authentication and TLS): called on the
 * link's thread once the peer's handshake has arrived, before on_ready.
 * Return 0 to accept the peer, or an AX_E* code to refuse it: the link
 * then tells the peer @why and closes with that code. NULL in the options:
 * any peer of our domain is accepted.
 */
struct ax__link_guard {
    int (*check_peer)(void *ctx, const struct ax__link_peer *peer, const char *peer_addr, char *why,
                      size_t why_len);
    void *ctx;
};

/* The largest control frame (HELLO, ERROR, SUBSCRIBE, RELEASE, ...): all a
 * connection may send before its handshake, and all a subscriber sends. */
#define AX__LINK_CONTROL_MAX 1024u

struct ax__link_options {
    uint32_t max_frame;           /* largest payload accepted or sent, default 64 MiB */
    uint32_t max_frame_in;        /* largest accepted after the handshake (0: max_frame);
                                     before it: AX__STREAM_CONTROL_MAX */
    int64_t frame_timeout_ns;     /* a frame begun must end by then, else close (0: never) */
    uint64_t queue_bytes;         /* write queue bound in bytes, default 64 MiB */
    uint32_t queue_frames;        /* write queue bound in frames, default 65536 */
    enum ax_overload overload;    /* what a full queue does, default drop_oldest */
    uint32_t sndbuf, rcvbuf;      /* socket buffer sizes, 0 = kernel default */
    bool crc_payload;             /* ask for payload CRCs (either side can) */
    bool handshake;               /* exchange identities first (default true) */
    struct ax__link_peer self;    /* what our handshake says */
    int64_t connect_timeout_ns;   /* 0: no limit (default 5 s) */
    int64_t handshake_timeout_ns; /* no handshake by then: close, default 5 s */
    int64_t linger_ns; /* graceful close: wait this long for the peer's EOF, default 2 s */
    const struct ax__link_guard *guard; /* NULL: accept any peer; borrowed */
    /* The domain's link key (HMAC pads, borrowed; NULL: none). With it the
     * HELLO carries a nonce, and the link is ready only once the peer has
     * proved the same key for this connection (an AUTH frame); a peer
     * without it, or with another, is refused with AX_EACCES. */
    const struct ax__hmac *auth;
    unsigned nauth; /* keys at @auth: the first proves, any verifies (rotation) */
    /* TLS on TCP links (borrowed; NULL: plaintext). A handshake failure
     * (another key, an untrusted certificate) closes with AX_EACCES. */
    struct ax__tls_ctx *tls;
    bool pass_fds;             /* stream links on Unix sockets: descriptors travel with frames */
    uint32_t loan_quota;       /* shm links: chunks the peer may hold at once (0: 256) */
    uint64_t loan_quota_bytes; /* shm links: and their bytes (0: 16 MiB; two chunks always) */
};

/* Defaults for every field (see above). */
void ax__link_options_init(struct ax__link_options *o);

/* CLOCK_REALTIME when the frame being handed to this thread's frame
 * callback arrived: taken once per read of the transport that completed
 * it (a read brings hundreds of small frames; a clock per frame cost a
 * subscriber ~60 % of its time at 64 B in a VM). Outside a frame callback,
 * the clock now. The link's implementation stamps it (ax__link_rx_stamp()). */
int64_t ax__link_received_ns(void);
void ax__link_rx_stamp(int64_t real_ns);

struct ax__link_callbacks {
    /* Handshake done (never called without a handshake): the peer is known
     * (also in l->peer) and frames may be sent. */
    void (*on_ready)(ax__link *l, const struct ax__link_peer *peer, void *user);
    /* One frame from the peer; see "Buffers" above. */
    void (*on_frame)(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user);
    /* Frames were written: the write queue shrank, or became empty
     * (optional; at most once per flush). */
    void (*on_drain)(ax__link *l, void *user);
    /* @n data frames were dropped for @reason (optional): the overload
     * policy, a disconnect, or a close with frames still queued. */
    void (*on_drop)(ax__link *l, enum ax_drop_reason reason, uint64_t n, void *user);
    /* Once, from the loop, after close or failure: see "Errors" above. */
    void (*on_close)(ax__link *l, int status, void *user);
    /* Stream links (transport/stream): a frame queued with a hold buffer
     * was written; the hold's reference is the callee's now (optional:
     * released when absent). */
    void (*on_written)(ax__link *l, ax__buf *hold, void *user);
};

struct ax__link_stats {
    uint64_t frames_in, bytes_in;
    uint64_t frames_out, bytes_out;
    uint64_t reads, writes; /* syscalls made (0 where none) */
    uint64_t queued_frames, queued_bytes;
    uint64_t queue_high_bytes; /* largest queued_bytes seen */
    uint64_t drops[AX_DROP_REASON_COUNT_];
    /* Data payload bytes the link copied when queueing (send_bytes); a
     * payload given by reference (send) is never copied, so a frame the
     * overload policy drops cost no copy. */
    uint64_t copied_bytes;
};

enum ax__link_close {
    AX__LINK_GRACEFUL = 0, /* send what is queued, then close */
    AX__LINK_ABORT = 1,    /* now; queued frames count as dropped */
};

/* The operations of one link. Every transport fills all of them but loan. */
struct ax__link_ops {
    /* Queue one data frame. @h gives type, stream, seq and timestamp (the
     * rest is filled in); @payload may be NULL. Returns 0 when queued;
     * AX_EOVERFLOW when the overload policy dropped it (counted, and
     * reported through on_drop); AX_ECLOSED; AX_EAGAIN before on_ready;
     * AX_EMSGSIZE above the peer's max_frame; AX_ENOMEM. */
    int (*send)(ax__link *l, const struct ax__frame_hdr *h, ax__buf *payload);
    /* As send(), copying @len bytes. */
    int (*send_bytes)(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len);
    /* Queue a control frame of @type (at most 1 KiB): never dropped by the
     * overload policy. AX_EAGAIN before on_ready, AX_ECLOSED, AX_ENOMEM. */
    int (*send_control)(ax__link *l, uint8_t type, const void *data, size_t len);
    /* Tell the peer why (@code, @reason), then close gracefully with @code
     * as the status. Idempotent while closing. */
    void (*send_error)(ax__link *l, int code, const char *reason);
    void (*close)(ax__link *l, enum ax__link_close how, int status);
    /* Stop or resume reading from the peer (backpressure). */
    int (*set_reading)(ax__link *l, bool on);
    /* The write queue's overload policy and bounds (data frames already
     * queued beyond new bounds stay). */
    void (*set_queue)(ax__link *l, enum ax_overload policy, uint64_t bytes, uint32_t frames);
    /* Frames and bytes in the write queue now (cheap: per message). */
    void (*queued)(const ax__link *l, uint64_t *frames, uint64_t *bytes);
    void (*stats)(const ax__link *l, struct ax__link_stats *out);
    /* From now on accept payloads up to @max from the peer (never above
     * max_frame), and tell the peer so (a LIMIT frame, queued in order:
     * what it sends after reading it may be that large). For a peer that
     * proved what it is for, e.g. a service client once its BIND passed,
     * where an accepted link otherwise takes control frames only. */
    int (*set_max_in)(ax__link *l, uint32_t max);
};

/* The head of every link: transports embed it first in their own object. */
struct ax__link {
    const struct ax__link_ops *ops;
    const struct ax__transport *transport;
    const struct ax__link_callbacks *cb;
    void *user;
    bool ready;                /* the handshake is done */
    bool crc;                  /* payload CRCs negotiated */
    struct ax__link_peer peer; /* valid once ready */
    char peer_addr[AX__LINK_ADDR_MAX];
};

/* Give an accepted link its owner (inside on_accept, before any event). */
static inline void ax__link_bind(ax__link *l, const struct ax__link_callbacks *cb, void *user)
{
    l->cb = cb;
    l->user = user;
}

static inline int ax__link_send(ax__link *l, const struct ax__frame_hdr *h, ax__buf *payload)
{
    return l->ops->send(l, h, payload);
}

static inline int ax__link_send_bytes(ax__link *l, const struct ax__frame_hdr *h, const void *data,
                                      size_t len)
{
    return l->ops->send_bytes(l, h, data, len);
}

static inline int ax__link_send_control(ax__link *l, uint8_t type, const void *data, size_t len)
{
    return l->ops->send_control(l, type, data, len);
}

static inline void ax__link_send_error(ax__link *l, int code, const char *reason)
{
    l->ops->send_error(l, code, reason);
}

static inline void ax__link_close(ax__link *l, enum ax__link_close how, int status)
{
    l->ops->close(l, how, status);
}

static inline void ax__link_queued(const ax__link *l, uint64_t *frames, uint64_t *bytes)
{
    l->ops->queued(l, frames, bytes);
}

static inline void ax__link_get_stats(const ax__link *l, struct ax__link_stats *out)
{
    l->ops->stats(l, out);
}

static inline int ax__link_set_reading(ax__link *l, bool on)
{
    return l->ops->set_reading(l, on);
}

static inline int ax__link_set_max_in(ax__link *l, uint32_t max)
{
    return l->ops->set_max_in(l, max);
}

/* ---- listeners ---- */

/*
 * A new link arrived: its owner must ax__link_bind() it and return 0, or
 * return an error (the listener then closes it). No event of the link
 * comes before this returns.
 */
typedef int (*ax__accept_fn)(ax__listener *ln, ax__link *l, void *user);

struct ax__listen_options {
    struct ax__link_options link; /* for every accepted link */
    int backlog;                  /* default 128 */
    ax__accept_fn on_accept;
    void *user;
};

struct ax__listener_ops {
    /* Where peers reach it, as text for the transport's connect(). */
    const char *(*address)(const ax__listener *ln);
    /* Connections refused for lack of resources (fds), counted. */
    uint64_t (*rejected)(const ax__listener *ln);
    /* Stop accepting; memory goes in the loop's closes phase. */
    void (*close)(ax__listener *ln);
};

struct ax__listener {
    const struct ax__listener_ops *ops;
    const struct ax__transport *transport;
};

/* ---- pools (transports with AX__TP_LOANS) ---- */

typedef struct ax__pool ax__pool;

struct ax__pool_options {
    uint64_t budget;  /* bytes of segments at most */
    size_t min_chunk; /* the smallest chunk class; classes grow by 4x */
    size_t max_chunk; /* the largest message */
    size_t segment;   /* bytes of a segment of small chunks (large: one each) */
};

struct ax__pool_stats {
    uint64_t mapped;    /* bytes of segments */
    uint64_t out;       /* chunks lent and not back */
    uint64_t loans;     /* chunks lent so far */
    uint64_t exhausted; /* loans refused: over the budget */
};

/* Any thread: a pool is locked inside; chunks come back on whatever
 * thread releases them last. */
struct ax__pool_ops {
    /* A buffer of @len bytes (len = @len) with one reference. AX_EMSGSIZE
     * above max_chunk, AX_ENOBUFS when the budget is spent (counted),
     * AX_ENOMEM or a memfd error. */
    int (*loan)(ax__pool *p, size_t len, ax__buf **out);
    void (*stats)(ax__pool *p, struct ax__pool_stats *out);
    /* No more loans; the memory goes when the last chunk comes back. */
    void (*close)(ax__pool *p);
};

struct ax__pool {
    const struct ax__pool_ops *ops;
    const struct ax__transport *transport;
};

/* ---- transports ---- */

enum ax__transport_caps {
    AX__TP_NETWORK = 1u << 0, /* reaches other hosts: what a node announces */
    AX__TP_LOANS = 1u << 1,   /* offers pools its peers read in place */
    AX__TP_HOST = 1u << 2,    /* reaches only processes on this host */
};

struct ax__transport {
    const char *name; /* "tcp": configuration, logs, `axon topic info` */
    unsigned caps;    /* enum ax__transport_caps */
    /* Listen at @address (for TCP "ip:port", port 0: the kernel chooses).
     * Returns 0, AX_EINVAL (a bad address), AX_EADDRINUSE, AX_EACCES,
     * AX_EMFILE, AX_ENOMEM. */
    int (*listen)(ax_loop *loop, const char *address, const struct ax__listen_options *opt,
                  ax__listener **out);
    /* Open a link to @address. The link exists at once (not ready): its
     * callbacks run later, on_ready when the handshake is done, on_close if
     * connecting or the handshake fails (with why). Returns 0, or AX_EINVAL
     * (a bad address) or AX_ENOMEM with no link and no callback. */
    int (*connect)(ax_loop *loop, const char *address, const struct ax__link_options *opt,
                   const struct ax__link_callbacks *cb, void *user, ax__link **out);
    /* AX__TP_HOST: the address a node of @domain and @node_id listens at
     * for the links of its loop whose network port is @port (so a peer
     * derives it from what discovery says), into @out. */
    int (*host_address)(uint32_t domain, uint64_t node_id, uint16_t port, char *out, size_t len);
    /* AX__TP_HOST: what identifies this host's kernel (the boot id), or ""
     * when it cannot be known; two nodes with the same one may try it. */
    const char *(*host_id)(void);
    /* AX__TP_LOANS: a pool of buffers its peers read in place. */
    int (*pool_new)(const struct ax__pool_options *opt, ax__pool **out);
    /* AX__TP_LOANS: read now what the peers of @loop's links gave back,
     * for a pool that ran dry (peers give chunks back without waking the
     * publisher until it runs short). @loop's thread. */
    void (*reclaim)(ax_loop *loop);
    /* An address to listen at when any will do ("127.0.0.1:0"). */
    const char *any_address;
};

/* The transports built in, in order of preference; *n their count. */
const struct ax__transport *const *ax__transports(size_t *n);

/* The first transport with every capability in @caps, or NULL. */
const struct ax__transport *ax__transport_with(unsigned caps);

#endif /* AX__LINK_H */
