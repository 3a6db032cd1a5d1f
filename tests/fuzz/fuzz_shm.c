/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the receiving side of a shared-memory link
 * (transport/shm: link.c, rx.c, with the stream connection under it): what
 * a hostile peer on the Unix socket can send. SHM_SEGMENT frames with or
 * without a memfd (sealed as a publisher seals it, sealed otherwise or not
 * at all, of another size than it says, not a memfd, descriptors that no
 * frame asks for, more of them than a read takes), F_SHM descriptors inside
 * and outside their segments, SHM_RELEASE of chunks it holds, of chunks it
 * does not hold and of one twice, plain frames of every type and size (the
 * reader's large-payload path included), HELLO and ERROR again, frames cut
 * anywhere, garbage.
 *
 * Over a real socket, on one loop: one shm listener for the whole run; per
 * input, a raw AF_UNIX socket (this target's side, the "peer") connects,
 * says HELLO and writes frames it encodes by hand, passing descriptors with
 * SCM_RIGHTS. The accepted link is the side under test; it may send chunks
 * of a pool of its own to the peer first, and on request later, so that
 * the peer's RELEASE frames can name real chunks.
 *
 * Input: one configuration byte (see LLVMFuzzerTestOneInput), then up to
 * OPS_MAX operations, each an opcode byte (the operation, how the frame's
 * payload CRC is done, a variant) and its arguments (see the op_*
 * functions); missing bytes read as 0. make_seeds.c writes a seed corpus.
 *
 * Properties, besides "no crash, no leak, no undefined behaviour":
 *  - a model of the receiver (the descriptors passed and not yet taken,
 *    the segments mapped, the chunks the peer holds) predicts, until
 *    garbage is sent, whether the link must close and with which status,
 *    and which frames it hands to its owner; each of those is compared
 *    byte for byte with what was sent (a view with the memfd's contents at
 *    the descriptor's offset), which also reads every byte of every view;
 *  - every SHM_RELEASE the link sends names a view it handed out and that
 *    was released, once; when nothing went wrong it sent all of them;
 *  - what the link sends is well-formed: each segment with a memfd of its
 *    size, sealed, announced once; each descriptor inside a segment
 *    announced before; never more chunks held by the peer than its quota;
 *  - the link closes exactly once, with status 0 when nothing went wrong;
 *    the pool gets every chunk back; no descriptor and no mapping of a
 *    memfd is left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "axon/loop.h"
#include "transport/ax__crc32c.h"
#include "transport/shm/ax__shm.h"
#include "transport/stream/ax__stream.h"
#include "transport/stream/ax__stream_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define OPS_MAX   64
#define SEG_MAX   (1u << 20)    /* largest memfd the peer makes (and one page more) */
#define BIG_MAX   (320u * 1024) /* inline payloads: past half the reader's buffer */
#define QUOTA     3             /* chunks the peer may hold */
#define DOMAIN    5
#define FDS_READ  4  /* descriptors one read of the link takes (reader.c's control buffer) */
#define KEPT_MAX  16 /* buffers the link's owner keeps past on_frame */
#define SENDS_MAX 32 /* chunks the link sends per input */
#define STEPS_MAX 2000
#define HDR       AX__FRAME_HEADER_SIZE

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_shm: " __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

static ax_loop *loop;
static ax__listener *listener;
static struct ax__addr listen_addr;
/* What memfds and inline payloads hold: a segment made with key k has
 * pat[k + i] at offset i, so views of different segments differ. */
static uint8_t pat[SEG_MAX + 4096 + 256];
static volatile uint8_t sink;
static bool verbose; /* FUZZ_SHM_VERBOSE set: a line per input, what the model said */

/* ---- the input ---- */

struct in {
    const uint8_t *p;
    size_t n, off;
};

static uint8_t u8(struct in *in)
{
    return in->off < in->n ? in->p[in->off++] : 0;
}

static uint16_t u16(struct in *in)
{
    return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct in *in)
{
    return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

static uint64_t u64(struct in *in)
{
    return (uint64_t)u32(in) | (uint64_t)u32(in) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* ---- the model of the link under test ---- */

/* A descriptor the peer passed: what the link will find when it checks it. */
struct fdmeta {
    uint64_t size; /* st_size */
    bool shrink_sealed;
    uint8_t key;
};

struct pair {
    uint32_t seg, chunk, n;
};

/* A frame the link must hand to its owner, in this order. */
struct expect {
    uint64_t seq;
    uint8_t type;
    const uint8_t *data;
    uint32_t len;
    bool view;
    uint32_t seg, chunk;
};

static struct {
    bool known;                             /* no garbage sent: the model predicts the link */
    bool crc;                               /* payload CRCs negotiated */
    int fatal;                              /* 0, or the status the link must close with */
    int op, fatal_op;                       /* the operation running, the one that was fatal */
    struct fdmeta ring[AX__STREAM_FDS_MAX]; /* passed, not yet taken, oldest first */
    unsigned nring;
    struct map {
        uint32_t id;
        uint64_t size;
        uint8_t key;
    } maps[OPS_MAX];
    unsigned nmaps;
    struct expect exp[OPS_MAX];
    unsigned nexp, ndelivered;
    struct pair held[2 * SENDS_MAX]; /* the link's chunks the peer holds */
    unsigned nheld;
    struct pair echo[2 * OPS_MAX]; /* views released: RELEASE frames the link owes */
    unsigned necho;
    struct { /* segments the peer announced, mapped or not: what descriptors name */
        uint32_t id;
        uint64_t size;
    } sent[OPS_MAX];
    unsigned nsent;
} m;

static bool live(void)
{
    return m.known && !m.fatal;
}

static void fatal(int status)
{
    if (live()) {
        m.fatal = status;
        m.fatal_op = m.op;
    }
}

static void pair_add(struct pair *v, unsigned *n, unsigned cap, uint32_t seg, uint32_t chunk)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i].seg == seg && v[i].chunk == chunk) {
            v[i].n++;
            return;
        }
    if (*n == cap)
        FAIL("pair table full");
    v[(*n)++] = (struct pair){seg, chunk, 1};
}

static bool pair_take(struct pair *v, unsigned *n, uint32_t seg, uint32_t chunk)
{
    for (unsigned i = 0; i < *n; i++)
        if (v[i].seg == seg && v[i].chunk == chunk) {
            if (--v[i].n == 0)
                v[i] = v[--*n];
            return true;
        }
    return false;
}

static unsigned pairs_total(const struct pair *v, unsigned n)
{
    unsigned t = 0;
    for (unsigned i = 0; i < n; i++)
        t += v[i].n;
    return t;
}

/* What the stream connection does with a frame before its type matters
 * (crc as in put_frame): 0 when it goes on. */
static int crc_verdict(uint8_t type, unsigned crc)
{
    bool flag = crc >= 2 || (crc == 0 && m.crc);
    if (crc == 3)
        return AX_ECRC;
    if (type == AX__FRAME_HELLO)
        return AX_EPROTO;
    if (type != AX__FRAME_ERROR && m.crc && !flag)
        return AX_EPROTO;
    return 0;
}

/* ---- the side under test ---- */

struct kept {
    ax__buf *buf;
    bool view;
    uint32_t seg, chunk;
};

static struct {
    ax__link *link;
    bool ready, closed, keep;
    int closes, status;
    struct kept kept[KEPT_MAX];
    unsigned nkept;
    ax__pool *pool;
    unsigned sends;
} ut;

static void ut_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    (void)l;
    (void)peer;
    (void)user;
    ut.ready = true;
}

/* Read every byte (a view past its mapping faults here). Not traced for
 * coverage: a call per byte would cost more than the rest of the input. */
__attribute__((noinline, no_sanitize("coverage"))) static void touch(const uint8_t *p, size_t n)
{
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= p[i];
    sink ^= x;
}

static void ut_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    (void)l;
    (void)user;
    if (buf && (buf->data != payload || buf->len != h->payload_len))
        FAIL("a frame's buffer is not its payload");
    touch(payload, h->payload_len);
    unsigned i = m.ndelivered++;
    const struct expect *e = i < m.nexp ? &m.exp[i] : NULL;
    if (!e && m.known)
        FAIL("frame %u (type %u, seq %llu) handed over, but the link should not have", i,
             (unsigned)h->type, (unsigned long long)h->seq);
    if (e) {
        if (h->type != e->type || h->seq != e->seq || h->payload_len != e->len)
            FAIL("frame %u: type %u seq %llu len %u, expected type %u seq %llu len %u", i,
                 (unsigned)h->type, (unsigned long long)h->seq, (unsigned)h->payload_len,
                 (unsigned)e->type, (unsigned long long)e->seq, (unsigned)e->len);
        if (e->view && (!buf || (h->flags & AX__FRAME_F_SHM)))
            FAIL("frame %u: a view without its buffer, or still flagged F_SHM", i);
        if (memcmp(payload, e->data, e->len) != 0)
            FAIL("frame %u: payload differs from what was sent", i);
    }
    bool view = e && e->view;
    if (ut.keep && buf && ut.nkept < KEPT_MAX) {
        ax__buf_hold(buf);
        ut.kept[ut.nkept++] = (struct kept){buf, view, view ? e->seg : 0, view ? e->chunk : 0};
    } else if (view) {
        /* The link's reference is the last: its RELEASE goes out now. */
        pair_add(m.echo, &m.necho, 2 * OPS_MAX, e->seg, e->chunk);
    }
}

static void ut_close(ax__link *l, int status, void *user)
{
    (void)l;
    (void)user;
    ut.closes++;
    ut.closed = true;
    ut.status = status;
    ut.link = NULL;
}

static const struct ax__link_callbacks ut_cbs = {
    .on_ready = ut_ready, .on_frame = ut_frame, .on_close = ut_close};

static int ut_accept(ax__listener *ln, ax__link *l, void *user)
{
    (void)ln;
    (void)user;
    if (ut.link || ut.closes)
        return AX_EBUSY;
    ut.link = l;
    ax__link_bind(l, &ut_cbs, NULL);
    return 0;
}

static void ut_release_kept(unsigned i)
{
    struct kept k = ut.kept[i];
    ut.kept[i] = ut.kept[--ut.nkept];
    if (k.view && !ut.closed)
        pair_add(m.echo, &m.necho, 2 * OPS_MAX, k.seg, k.chunk);
    ax__buf_release(k.buf); /* off the loop: the RELEASE is posted to it */
}

/* The link sends a chunk of its pool (or, @plain, a buffer that goes as
 * bytes), once or @twice. */
static void ut_send(size_t len, bool twice, bool plain)
{
    if (!ut.link || ut.closed || ut.sends == SENDS_MAX)
        return;
    ut.sends++;
    ax__buf *b;
    if (plain ? ax__buf_new(len, &b) < 0 : ut.pool->ops->loan(ut.pool, len, &b) < 0)
        return;
    memset(b->data, 0x5A, len < 64 ? len : 64);
    struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1, .seq = ut.sends};
    for (int i = 0; i < (twice ? 2 : 1); i++)
        (void)ax__link_send(ut.link, &h, b);
    ax__buf_release(b);
}

/* ---- the peer: a raw socket ---- */

struct attach {
    size_t at; /* the frame's first byte in out[] */
    int fds[8];
    unsigned n;
};

static uint8_t out[2 * (BIG_MAX + HDR)];
static struct {
    int fd;
    bool dead, eof, hello;
    size_t out_len, out_off;
    struct attach att[OPS_MAX];
    unsigned natt;
    uint64_t sent, seq;
    int split;                   /* -1, or where (in 256ths) the next frame is cut */
    bool batch;                  /* frames wait for a STEP (or a full buffer) */
    int corrupt_at, corrupt_xor; /* a header byte of the next frame to spoil */
    uint8_t in[1 << 16];
    size_t in_len;
    int in_fds[64];
    unsigned in_nfds;
    struct {
        uint32_t id;
        uint64_t size;
    } segs[2 * SENDS_MAX];
    unsigned nsegs;
} pr;

static void peer_drain_fds(struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (pr.in_nfds == 64)
                FAIL("the link passed descriptors no frame announces");
            pr.in_fds[pr.in_nfds++] = fd;
        }
    }
}

/* A frame the link sent: check it, and learn the chunks the peer holds. */
static void peer_frame(const struct ax__frame_hdr *h, const uint8_t *p)
{
    if (!pr.hello) {
        if (h->type != AX__FRAME_HELLO)
            FAIL("the link's first frame is of type %u", (unsigned)h->type);
        pr.hello = true;
        return;
    }
    switch (h->type) {
    case AX__FRAME_SHM_SEGMENT: {
        if (h->payload_len != sizeof(struct ax__shm_segment_msg) || pr.in_nfds == 0)
            FAIL("SHM_SEGMENT of %u bytes, %u descriptors", (unsigned)h->payload_len, pr.in_nfds);
        int fd = pr.in_fds[0];
        memmove(pr.in_fds, pr.in_fds + 1, --pr.in_nfds * sizeof(int));
        struct stat st;
        int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
        if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != get64(p + 8) ||
            fcntl(fd, F_GET_SEALS) != want)
            FAIL("a segment whose memfd is not as announced");
        close(fd);
        uint32_t id = get32(p);
        for (unsigned i = 0; i < pr.nsegs; i++)
            if (pr.segs[i].id == id)
                FAIL("segment %u announced twice", id);
        if (pr.nsegs == 2 * SENDS_MAX)
            FAIL("more segments than chunks sent");
        pr.segs[pr.nsegs].id = id;
        pr.segs[pr.nsegs++].size = get64(p + 8);
        return;
    }
    case AX__FRAME_DATA: {
        if (!(h->flags & AX__FRAME_F_SHM))
            return; /* a plain buffer, as bytes */
        if (h->payload_len != sizeof(struct ax__shm_desc))
            FAIL("a descriptor of %u bytes", (unsigned)h->payload_len);
        uint32_t seg = get32(p), chunk = get32(p + 4), len = get32(p + 16);
        uint64_t off = get64(p + 8);
        unsigned i = 0;
        while (i < pr.nsegs && pr.segs[i].id != seg)
            i++;
        if (i == pr.nsegs || off > pr.segs[i].size || len > pr.segs[i].size - off)
            FAIL("a descriptor outside the segments announced");
        pair_add(m.held, &m.nheld, 2 * SENDS_MAX, seg, chunk);
        if (m.known && pairs_total(m.held, m.nheld) > QUOTA)
            FAIL("the peer holds more chunks than its quota");
        return;
    }
    case AX__FRAME_SHM_RELEASE:
        if (h->payload_len % 8 || h->payload_len > AX__STREAM_CONTROL_MAX)
            FAIL("a RELEASE of %u bytes", (unsigned)h->payload_len);
        for (uint32_t i = 0; m.known && i < h->payload_len; i += 8)
            if (!pair_take(m.echo, &m.necho, get32(p + i), get32(p + i + 4)))
                FAIL("RELEASE of (%u, %u): no view of it was released", get32(p + i),
                     get32(p + i + 4));
        return;
    case AX__FRAME_ERROR:
        return; /* why it closes */
    default:
        FAIL("the link sent a frame of type %u", (unsigned)h->type);
    }
}

/* Read what the link sent. Whether anything came. */
static bool peer_drain(void)
{
    bool got = false;
    while (pr.fd >= 0 && !pr.eof) {
        if (pr.in_len == sizeof pr.in)
            FAIL("the link sent a frame larger than it should");
        union {
            char buf[CMSG_SPACE(16 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {pr.in + pr.in_len, sizeof pr.in - pr.in_len};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl};
        ssize_t n = recvmsg(pr.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) { /* EOF, or a reset */
            pr.eof = true;
            break;
        }
        peer_drain_fds(&mh);
        got = true;
        pr.in_len += (size_t)n;
        size_t off = 0;
        for (;;) {
            struct ax__frame_hdr h;
            const uint8_t *payload;
            const char *why = NULL;
            long k = ax__frame_decode(pr.in + off, pr.in_len - off, 1u << 20, &h, &payload, &why);
            if (k < 0)
                FAIL("the link sent a malformed frame: %s", why);
            if (k == 0)
                break;
            peer_frame(&h, payload);
            off += (size_t)k;
        }
        memmove(pr.in, pr.in + off, pr.in_len - off);
        pr.in_len -= off;
    }
    return got;
}

static void peer_drop_pending(void)
{
    for (unsigned i = 0; i < pr.natt; i++)
        for (unsigned j = 0; j < pr.att[i].n; j++)
            close(pr.att[i].fds[j]);
    pr.natt = 0;
    pr.out_len = pr.out_off = 0;
}

/* Write out[] up to @upto, each descriptor with its frame's first byte.
 * A full socket: the loop runs, so that the link reads. */
static void peer_flush(size_t upto)
{
    for (int spins = 0; pr.out_off < upto && !pr.dead;) {
        size_t end = upto;
        struct attach *a = NULL;
        for (unsigned i = 0; i < pr.natt; i++) {
            if (pr.att[i].n == 0)
                continue;
            if (pr.att[i].at == pr.out_off)
                a = &pr.att[i];
            else if (pr.att[i].at > pr.out_off && pr.att[i].at < end)
                end = pr.att[i].at;
        }
        union {
            char buf[CMSG_SPACE(8 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = {out + pr.out_off, end - pr.out_off};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (a) {
            memset(&ctl, 0, sizeof ctl);
            mh.msg_control = ctl.buf;
            mh.msg_controllen = CMSG_SPACE(a->n * sizeof(int));
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(a->n * sizeof(int));
            memcpy(CMSG_DATA(cm), a->fds, a->n * sizeof(int));
        }
        ssize_t n = sendmsg(pr.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            for (unsigned j = 0; a && j < a->n; j++)
                close(a->fds[j]); /* in flight now: the socket holds them */
            if (a)
                a->n = 0;
            pr.out_off += (size_t)n;
            pr.sent += (uint64_t)n;
            spins = 0;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (++spins == STEPS_MAX)
                FAIL("the link stopped reading");
            ax_loop_step(loop, 0);
            peer_drain();
        } else {
            pr.dead = true; /* the link is gone (EPIPE, ECONNRESET) */
        }
    }
    if (pr.dead || pr.out_off == pr.out_len)
        peer_drop_pending();
}

/* Run until the link has read all that was written to it, the peer has read
 * its answers, and nothing is left to do; a link that stops reading fails. */
static void settle(void)
{
    peer_flush(pr.out_len);
    for (int i = 0, quiet = 0; quiet < 2; i++) {
        if (i == STEPS_MAX)
            FAIL("the link does not settle");
        int rc = ax_loop_step(loop, 0);
        bool got = peer_drain();
        bool done = ut.closed;
        if (!done) {
            struct ax__link_stats st;
            ax__link_get_stats(ut.link, &st);
            done = st.bytes_in == pr.sent;
        }
        quiet = done && rc == 0 && !got ? quiet + 1 : 0;
    }
}

static void steps(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        ax_loop_step(loop, 0);
        peer_drain();
    }
}

/* Queue raw bytes (garbage). */
static void put_raw(const uint8_t *p, size_t n)
{
    if (pr.out_len + n > sizeof out)
        peer_flush(pr.out_len);
    memcpy(out + pr.out_len, p, n);
    pr.out_len += n;
    if (!pr.batch)
        peer_flush(pr.out_len);
}

/* Queue one frame, with @nfds descriptors (ours until sent). @crc: 0 as
 * negotiated, 1 without the PAYLOAD_CRC flag, 2 with a right CRC, 3 with a
 * wrong one. */
static void put_frame(uint8_t type, uint16_t flags, const void *payload, uint32_t len, unsigned crc,
                      const int *fds, unsigned nfds)
{
    if (pr.out_len + HDR + len > sizeof out)
        peer_flush(pr.out_len);
    bool flag = crc >= 2 || (crc == 0 && m.crc);
    struct ax__frame_hdr h = {.type = type,
                              .flags = (uint16_t)((flags & ~AX__FRAME_F_PAYLOAD_CRC) |
                                                  (flag ? AX__FRAME_F_PAYLOAD_CRC : 0)),
                              .payload_len = len,
                              .stream = 1,
                              .seq = ++pr.seq};
    if (flag)
        h.payload_crc = ax__crc32c(0, payload, len) ^ (crc == 3);
    size_t at = pr.out_len;
    ax__frame_encode_header(out + at, &h);
    if (len)
        memcpy(out + at + HDR, payload, len);
    pr.out_len += HDR + len;
    if (pr.corrupt_at >= 0) {
        out[at + (size_t)pr.corrupt_at] ^= (uint8_t)pr.corrupt_xor;
        pr.corrupt_at = -1;
    }
    if (nfds) {
        struct attach *a = &pr.att[pr.natt++];
        a->at = at;
        a->n = nfds;
        memcpy(a->fds, fds, nfds * sizeof(int));
    }
    if (pr.split >= 0) {
        /* The frame in two writes, the link running in between. */
        size_t cut = at + 1 + (HDR + len - 1) * (size_t)pr.split / 256;
        pr.split = -1;
        peer_flush(cut);
        steps(2);
    }
    if (!pr.batch)
        peer_flush(pr.out_len);
}

/* ---- the operations ---- */

/* A memfd of @size bytes holding pat[key...], with @seals added (-1: made
 * without MFD_ALLOW_SEALING); @meta says what the link will find. */
static int make_memfd(uint64_t size, uint8_t key, int seals, struct fdmeta *meta)
{
    int fd = memfd_create("fz", MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0 ||
        (size && pwrite(fd, pat + key, size, 0) != (ssize_t)size) ||
        (seals > 0 && fcntl(fd, F_ADD_SEALS, seals) < 0))
        FAIL("cannot make a memfd: %s", strerror(errno));
    *meta = (struct fdmeta){
        .size = size, .shrink_sealed = seals > 0 && (seals & F_SEAL_SHRINK), .key = key};
    return fd;
}

#define SEALS_ALL (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)

/*
 * SHM_SEGMENT. Arguments: an id (< 0xF0: one of 1..8; else 4 bytes), a size
 * (2 bytes: up to 1 MiB), a mode byte: bits 0-2 the descriptor (0 a memfd
 * sealed as a publisher seals it, 1 sealed against shrinking only, 2 not
 * sealed, 3 sealed but not against shrinking, 4 none, 5 a memfd that cannot
 * be sealed, 6 not a memfd, 7 a page larger than said), bit 3 the size said
 * from 8 more bytes, bit 4 a payload of 12 or 24 bytes (variant bit 0),
 * bits 5-6 that many more sealed memfds with the frame, bit 7 two more.
 */
static void op_segment(struct in *in, unsigned k, unsigned crc, unsigned var)
{
    uint8_t idsel = u8(in);
    uint32_t id = idsel < 0xF0 ? 1u + idsel % 8 : u32(in);
    uint16_t s = u16(in);
    uint64_t size = (uint64_t)s * 16 + (s >> 12);
    uint8_t mode = u8(in);
    uint64_t said = mode & 0x08 ? u64(in) : size;
    uint32_t plen = mode & 0x10 ? (var & 1 ? 24 : 12) : 16;
    unsigned extra = (mode >> 5 & 3) + (mode & 0x80 ? 2 : 0);
    uint8_t key = (uint8_t)(k * 41 + 7);

    /* Everything before is read and handled first: which descriptor a
     * SEGMENT takes (the oldest not taken) is then the model's. */
    settle();
    int fds[8];
    struct fdmeta meta[8];
    unsigned nfds = 0;
    static const int seals[8] = {SEALS_ALL, F_SEAL_SHRINK, 0, F_SEAL_GROW | F_SEAL_SEAL, 0, -1,
                                 0,         SEALS_ALL};
    switch (mode & 7) {
    case 4:
        break;
    case 6:
        fds[nfds] = eventfd(0, EFD_CLOEXEC);
        if (fds[nfds] < 0)
            FAIL("eventfd: %s", strerror(errno));
        meta[nfds++] = (struct fdmeta){0};
        break;
    case 7:
        fds[nfds] = make_memfd(size + 4096, key, SEALS_ALL, &meta[nfds]);
        nfds++;
        break;
    default:
        fds[nfds] = make_memfd(size, key, seals[mode & 7], &meta[nfds]);
        nfds++;
    }
    for (unsigned j = 0; j < extra; j++, nfds++)
        fds[nfds] = make_memfd(4096 * (j + 1), (uint8_t)(key + j + 1), SEALS_ALL, &meta[nfds]);

    uint8_t msg[24] = {0};
    put32(msg, id);
    put64(msg + 8, said);
    if (m.nsent < OPS_MAX) {
        m.sent[m.nsent].id = id;
        m.sent[m.nsent++].size = said < size ? said : size;
    }
    /* The descriptors arrive with the frame's first byte. */
    if (nfds > FDS_READ || m.nring + nfds > AX__STREAM_FDS_MAX)
        fatal(AX_EPROTO);
    for (unsigned j = 0; live() && j < nfds; j++)
        m.ring[m.nring++] = meta[j];
    int v = crc_verdict(AX__FRAME_SHM_SEGMENT, crc);
    if (v)
        fatal(v);
    if (live()) {
        bool have = m.nring > 0;
        struct fdmeta t = m.ring[0];
        if (have)
            memmove(m.ring, m.ring + 1, --m.nring * sizeof m.ring[0]);
        bool dup = false;
        for (unsigned j = 0; j < m.nmaps; j++)
            dup |= m.maps[j].id == id;
        if (plen != 16 || !have || t.size != said || said == 0 || !t.shrink_sealed || dup)
            fatal(AX_EPROTO);
        else
            m.maps[m.nmaps++] = (struct map){.id = id, .size = said, .key = t.key};
    }
    put_frame(AX__FRAME_SHM_SEGMENT, 0, msg, plen, crc, fds, nfds);
}

/*
 * A DATA frame flagged F_SHM. Arguments: a segment (< 0xE0: one announced
 * before; else 4 bytes), a chunk number, where (variant 0: inside, from 8
 * bytes; 1: anywhere, 12 bytes; 2: at the end and up to 2 past it, 3
 * bytes; 3: an offset near 2^64, 2 bytes), a payload length byte (>= 0xF0:
 * its low 5 bits; else 24, right).
 */
static void op_desc(struct in *in, unsigned crc, unsigned var)
{
    uint8_t segsel = u8(in);
    uint32_t seg;
    uint64_t size = SEG_MAX;
    if (segsel < 0xE0 && m.nsent) {
        seg = m.sent[segsel % m.nsent].id;
        size = m.sent[segsel % m.nsent].size;
    } else {
        seg = u32(in);
    }
    uint32_t chunk = u8(in);
    uint64_t off;
    uint32_t len;
    switch (var) {
    case 0: {
        uint32_t a = u32(in), b = u32(in);
        off = a % (size + 1);
        len = (uint32_t)(b % (size - off + 1));
        break;
    }
    case 1:
        off = u64(in);
        len = u32(in);
        break;
    case 2:
        len = (uint32_t)(u16(in) % (size + 1));
        off = size - len + u8(in) % 3;
        break;
    default:
        off = UINT64_MAX - u8(in);
        len = u8(in);
    }
    uint8_t pl = u8(in);
    uint32_t plen = pl >= 0xF0 ? pl & 31u : 24;
    uint8_t d[32] = {0};
    put32(d, seg);
    put32(d + 4, chunk);
    put64(d + 8, off);
    put32(d + 16, len);
    int v = crc_verdict(AX__FRAME_DATA, crc);
    if (v)
        fatal(v);
    if (live()) {
        unsigned j = m.nmaps;
        while (j > 0 && m.maps[j - 1].id != seg)
            j--;
        if (plen != 24 || j == 0 || off > m.maps[j - 1].size || len > m.maps[j - 1].size - off) {
            fatal(AX_EPROTO);
        } else {
            m.exp[m.nexp++] = (struct expect){.seq = pr.seq + 1,
                                              .type = AX__FRAME_DATA,
                                              .data = pat + m.maps[j - 1].key + off,
                                              .len = len,
                                              .view = true,
                                              .seg = seg,
                                              .chunk = chunk};
        }
    }
    put_frame(AX__FRAME_DATA, AX__FRAME_F_SHM, d, plen, crc, NULL, 0);
}

/*
 * SHM_RELEASE. Arguments: a count byte (bits 0-3 pairs; bit 4: 1-7 bytes
 * more, bits 5-7), then per pair a selector: 0 a chunk the peer holds, 1
 * one of its segments with a chunk byte, 2 anything (8 bytes), 3 the
 * previous pair again.
 */
static void op_release(struct in *in, unsigned crc)
{
    /* Everything the link wrote is read: the chunks the peer holds are
     * those the link thinks it holds. */
    settle();
    uint8_t c = u8(in);
    unsigned n = c & 15, odd = c & 0x10 ? (c >> 5 | 1) : 0;
    uint8_t p[15 * 8 + 8] = {0};
    int v = crc_verdict(AX__FRAME_SHM_RELEASE, crc);
    if (v)
        fatal(v);
    if (odd)
        fatal(AX_EPROTO);
    uint32_t seg = 0, chunk = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t sel = u8(in);
        const struct pair *h = m.nheld ? &m.held[(sel >> 2) % m.nheld] : NULL;
        switch (sel & 3) {
        case 0:
            seg = h ? h->seg : 0;
            chunk = h ? h->chunk : 0;
            break;
        case 1:
            seg = h ? h->seg : 0;
            chunk = u8(in);
            break;
        case 2:
            seg = u32(in);
            chunk = u32(in);
            break;
        default:
            break; /* the previous one */
        }
        put32(p + 8 * i, seg);
        put32(p + 8 * i + 4, chunk);
        /* Not held (never, twice, or (0, 0)): the link closes. */
        if (!pair_take(m.held, &m.nheld, seg, chunk))
            fatal(AX_EPROTO);
    }
    put_frame(AX__FRAME_SHM_RELEASE, 0, p, 8 * n + odd, crc, NULL, 0);
}

/*
 * A plain frame. Arguments: a type byte (< 0xC0: DATA; else its bits 0-4,
 * bit 5 adding F_SHM), a length (variant 0: one byte, 1: one byte times
 * 1280, 2: two bytes, 3: none).
 */
static void op_inline(struct in *in, unsigned k, unsigned crc, unsigned var)
{
    uint8_t t = u8(in);
    uint8_t type = t < 0xC0 ? AX__FRAME_DATA : t & 0x1F;
    uint16_t flags = t >= 0xC0 && (t & 0x20) ? AX__FRAME_F_SHM : 0;
    /* Types the connection itself acts on (HELLO, AUTH, LIMIT: the
     * handshake's; a stray one closes it) or other operations send. */
    if (type == AX__FRAME_HELLO || type == AX__FRAME_ERROR || type == AX__FRAME_AUTH ||
        type == AX__FRAME_LIMIT || type == AX__FRAME_SHM_SEGMENT || type == AX__FRAME_SHM_RELEASE ||
        type == AX__FRAME_SHM_BELL || type == AX__FRAME_SHM_CHAN ||
        (type == AX__FRAME_DATA && flags)) {
        type = AX__FRAME_DATA; /* other operations' */
        flags = 0;
    }
    uint32_t len = var == 0 ? u8(in) : var == 1 ? u8(in) * 1280u : var == 2 ? u16(in) : 0;
    const uint8_t *payload = pat + (uint8_t)(k * 41 + 7);
    if (type < AX__FRAME_HELLO || type > AX__FRAME_TYPE_MAX) {
        fatal(AX_EPROTO); /* the header decoder's: before any CRC */
    } else {
        int v = crc_verdict(type, crc);
        if (v)
            fatal(v);
    }
    if (live())
        m.exp[m.nexp++] =
            (struct expect){.seq = pr.seq + 1, .type = type, .data = payload, .len = len};
    put_frame(type, flags, payload, len, crc, NULL, 0);
}

/*
 * A frame the handshake owns, or a broken one. Variant 0: ERROR with a code
 * from the table (a byte); 1: HELLO again; 2: ERROR with a payload from
 * the input (a length byte, the bytes); 3: a DATA frame with one header
 * byte changed (where, and an xor byte).
 */
static void op_control(struct in *in, unsigned crc, unsigned var)
{
    uint8_t buf[AX__STREAM_CONTROL_MAX];
    int n;
    switch (var) {
    case 0: {
        int code = -(1 + u8(in) % -AX_ESYS);
        n = ax__stream_error_encode(code, "fuzz", buf, sizeof buf);
        fatal(crc == 3 ? AX_ECRC : code);
        put_frame(AX__FRAME_ERROR, 0, buf, (uint32_t)n, crc, NULL, 0);
        return;
    }
    case 1: {
        struct ax__link_peer self = {.node_id = 0xF022, .domain = DOMAIN, .max_frame = 1u << 20};
        n = ax__stream_hello_encode(&self, false, buf, sizeof buf);
        fatal(crc == 3 ? AX_ECRC : AX_EPROTO);
        put_frame(AX__FRAME_HELLO, 0, buf, (uint32_t)n, crc, NULL, 0);
        return;
    }
    case 2:
        n = u8(in);
        for (int i = 0; i < n; i++)
            buf[i] = u8(in);
        m.known = false;
        put_frame(AX__FRAME_ERROR, 0, buf, (uint32_t)n, crc, NULL, 0);
        return;
    default:
        pr.corrupt_at = u8(in) % HDR;
        pr.corrupt_xor = u8(in) | 1;
        m.known = false;
        put_frame(AX__FRAME_DATA, 0, pat, 16, crc, NULL, 0);
    }
}

/* Garbage: a length byte, that many bytes. */
static void op_garbage(struct in *in)
{
    uint8_t buf[256];
    unsigned n = u8(in);
    for (unsigned i = 0; i < n; i++)
        buf[i] = u8(in);
    m.known = false;
    put_raw(buf, n);
}

enum {
    OP_SEGMENT,
    OP_DESC,
    OP_RELEASE,
    OP_INLINE,
    OP_CONTROL,
    OP_GARBAGE,
    OP_STEP,   /* write what waits, run the loop 1-4 times (a byte) */
    OP_SEND,   /* the link sends a chunk (a length byte; variant bit 0: twice, 1: as bytes) */
    OP_UNKEEP, /* release what the owner kept (variant 0: all; else one, a byte) */
    OP_KEEP,   /* the owner keeps buffers, or stops keeping them */
    OP_PAUSE,  /* the link stops reading for two iterations */
    OP_SPLIT,  /* the next frame goes in two writes, cut where a byte says */
    OP_COUNT_
};

static void run_op(struct in *in, unsigned k)
{
    uint8_t o = u8(in);
    unsigned op = (o & 15u) % OP_COUNT_, crc = o >> 4 & 3u, var = o >> 6;
    switch (op) {
    case OP_SEGMENT:
        op_segment(in, k, crc, var);
        break;
    case OP_DESC:
        op_desc(in, crc, var);
        break;
    case OP_RELEASE:
        op_release(in, crc);
        break;
    case OP_INLINE:
        op_inline(in, k, crc, var);
        break;
    case OP_CONTROL:
        op_control(in, crc, var);
        break;
    case OP_GARBAGE:
        op_garbage(in);
        break;
    case OP_STEP:
        peer_flush(pr.out_len);
        steps(1 + u8(in) % 4u);
        break;
    case OP_SEND:
        ut_send(1 + u8(in) * 64u, var & 1, var & 2);
        break;
    case OP_UNKEEP:
        if (var == 0)
            while (ut.nkept)
                ut_release_kept(ut.nkept - 1);
        else if (ut.nkept)
            ut_release_kept(u8(in) % ut.nkept);
        break;
    case OP_KEEP:
        ut.keep = !ut.keep;
        break;
    case OP_PAUSE:
        if (ut.link && !ut.closed) {
            ax__link_set_reading(ut.link, false);
            steps(2);
            if (ut.link && !ut.closed)
                ax__link_set_reading(ut.link, true);
        }
        break;
    default:
        pr.split = u8(in);
    }
}

/* ---- per input ---- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        FAIL("opendir /proc/self/fd: %s", strerror(errno));
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Mappings of memfds (the peer's segments as the link maps them, and the
 * pool's): none may outlive an input. */
static int count_memfd_maps(void)
{
    static char buf[1 << 20];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        FAIL("open /proc/self/maps: %s", strerror(errno));
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    int count = 0;
    for (const char *p = buf; (p = strstr(p, "/memfd:")) != NULL; p++)
        count++;
    return count;
}

static void connect_peer(bool crc)
{
    pr.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (pr.fd < 0 || connect(pr.fd, (const struct sockaddr *)&listen_addr.ss, listen_addr.len) < 0)
        FAIL("cannot connect to the listener: %s", strerror(errno));
    struct ax__link_peer self = {.node_id = 0xF022,
                                 .incarnation = 1,
                                 .domain = DOMAIN,
                                 .purpose = AX__LINK_DATA,
                                 .max_frame = 1u << 20};
    snprintf(self.node_name, sizeof self.node_name, "fuzz");
    uint8_t hello[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_hello_encode(&self, crc, hello, sizeof hello);
    if (n < 0)
        FAIL("cannot encode a HELLO");
    put_frame(AX__FRAME_HELLO, 0, hello, (uint32_t)n, 1, NULL, 0);
    peer_flush(pr.out_len);
    for (int i = 0; !(ut.ready && pr.hello); i++) {
        if (i == STEPS_MAX || ut.closed)
            FAIL("no handshake");
        ax_loop_step(loop, 0);
        peer_drain();
    }
    m.crc = crc;
}

/* Close the link: 0 the peer closes first, 1 the link closes gracefully,
 * 2 the link aborts, 3 both at once. Then everything must go. */
static void close_all(unsigned how)
{
    if (!ut.closed) {
        if (how == 1 || how == 3)
            ax__link_close(ut.link, AX__LINK_GRACEFUL, 0);
        if (how == 2)
            ax__link_close(ut.link, AX__LINK_ABORT, 0);
        /* Gracefully: the link writes what it can (not the descriptors the
         * quota holds back), then shuts its side down. */
        for (int i = 0, quiet = 0; how == 1 && !pr.eof && !ut.closed && quiet < 2; i++) {
            if (i == STEPS_MAX)
                FAIL("a graceful close does not go on");
            int rc = ax_loop_step(loop, 0);
            quiet = !peer_drain() && rc == 0 ? quiet + 1 : 0;
        }
        if (how != 2) {
            peer_drain(); /* unread bytes would make the close a reset */
            close(pr.fd);
            pr.fd = -1;
        }
    }
    for (int i = 0; !ut.closed; i++) {
        if (i == STEPS_MAX)
            FAIL("the link does not close");
        ax_loop_step(loop, i < STEPS_MAX / 2 ? 0 : 1); /* the linger timer, at worst */
        peer_drain();
    }
    if (pr.fd >= 0) {
        peer_drain();
        close(pr.fd);
        pr.fd = -1;
    }
    for (unsigned i = 0; i < pr.in_nfds; i++)
        close(pr.in_fds[i]); /* a segment's descriptor whose frame was cut short */
    peer_drop_pending();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ax_log_set_level(getenv("FUZZ_SHM_LOG") ? AX_LOG_DEBUG : AX_LOG_OFF);
    verbose = getenv("FUZZ_SHM_VERBOSE") != NULL;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < sizeof pat; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pat[i] = (uint8_t)x;
    }
    struct ax_loop_options lo;
    ax_loop_options_init(&lo);
    lo.adaptive_poll_ns = 0;
    if (ax_loop_new(&loop, &lo) < 0)
        FAIL("ax_loop_new");
    struct ax__listen_options opt = {.on_accept = ut_accept};
    ax__link_options_init(&opt.link);
    opt.link.self.node_id = 0x5150;
    opt.link.self.domain = DOMAIN;
    opt.link.linger_ns = 10 * AX_NS_PER_MS;
    opt.link.loan_quota = QUOTA;
    if (ax__shm_transport.listen(loop, "@", &opt, &listener) < 0 ||
        ax__addr_parse(&listen_addr, listener->ops->address(listener), 0) < 0)
        FAIL("cannot listen");
    return 0;
}

/*
 * The configuration byte: bit 0 the peer asks for payload CRCs; bit 1
 * frames wait for OP_STEP (else each is written at once); bit 2 the owner
 * keeps what it is handed; bits 3-4 how the link closes (close_all); bits
 * 5-7 chunks the link sends before the operations.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct in in = {data, size, 1};
    uint8_t cfg = data[0];
    int fds_before = count_fds(), maps_before = count_memfd_maps();
    memset(&m, 0, sizeof m);
    memset(&ut, 0, sizeof ut);
    memset(&pr, 0, sizeof pr);
    m.known = true;
    pr.fd = -1;
    pr.split = -1;
    pr.corrupt_at = -1;
    struct ax__pool_options po = {
        .budget = 1u << 20, .min_chunk = 4096, .max_chunk = 16384, .segment = 65536};
    if (ax__shm_transport.pool_new(&po, &ut.pool) < 0)
        FAIL("pool_new");

    connect_peer(cfg & 1);
    pr.batch = cfg & 2;
    ut.keep = cfg & 4;
    for (unsigned i = 0; i < (cfg >> 5 & 7u); i++)
        ut_send(1000 * (i + 1) * (i + 1), false, false);
    settle();
    for (unsigned k = 0; k < OPS_MAX && in.off < in.n; k++) {
        m.op = (int)k;
        run_op(&in, k);
    }
    settle();

    if (m.known) {
        if (m.fatal && (!ut.closed || ut.status != m.fatal))
            FAIL("the link should have closed with %s; %s %s", ax_err_name(m.fatal),
                 ut.closed ? "it closed with" : "it is open",
                 ut.closed ? ax_err_name(ut.status) : "");
        if (!m.fatal && ut.closed)
            FAIL("the link closed with %s, for nothing", ax_err_name(ut.status));
        if (m.ndelivered != m.nexp)
            FAIL("%u frames handed over, %u expected", m.ndelivered, m.nexp);
        if (!m.fatal && m.necho)
            FAIL("%u views released and not told to the peer", pairs_total(m.echo, m.necho));
    }
    if (verbose)
        fprintf(stderr,
                "fuzz_shm: %s, %s (op %d); %u frames handed over; %u segments mapped; link %s %s; "
                "%u chunks sent by it\n",
                m.known ? "model known" : "model lost (garbage)",
                m.fatal ? ax_err_name(m.fatal) : "no error", m.fatal_op, m.ndelivered, m.nmaps,
                ut.closed ? "closed" : "open", ut.closed ? ax_err_name(ut.status) : "", ut.sends);
    bool clean = live() && !ut.closed;
    unsigned how = cfg >> 3 & 3u;
    close_all(how);
    if (ut.closes != 1)
        FAIL("on_close ran %d times", ut.closes);
    if (clean && how != 3 && ut.status != 0)
        FAIL("a clean close reported %s", ax_err_name(ut.status));
    while (ut.nkept)
        ut_release_kept(ut.nkept - 1); /* after the link: they only unmap */
    steps(2);
    struct ax__pool_stats ps;
    ut.pool->ops->stats(ut.pool, &ps);
    if (ps.out != 0)
        FAIL("%llu chunks not back in the pool", (unsigned long long)ps.out);
    ut.pool->ops->close(ut.pool);
    if (count_fds() != fds_before)
        FAIL("descriptors leaked: %d before, %d after", fds_before, count_fds());
    if (count_memfd_maps() != maps_before)
        FAIL("memfd mappings left: %d before, %d after", maps_before, count_memfd_maps());
    return 0;
}
