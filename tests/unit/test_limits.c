/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a peer can make a node hold (docs/security.md, "The budget"), one
 * limit per test: raw TCP clients that speak just enough of the protocol
 * against a real node's listener, and the stream reader on a real socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ax_test.h"
#include "core/ax__keyring.h"
#include "core/ax__node.h"
#include "transport/stream/ax__stream.h"
#include "transport/stream/ax__stream_reader.h"

/* Discovery is off in these nodes: no UDP port, no host table, nothing
 * another test could hear. The domain only has to match the raw clients'
 * HELLO, so any will do. */
static uint32_t dom(unsigned k)
{
    (void)k;
    return 3;
}

/* A node that runs when the test spins it, with discovery off (nobody but
 * the test's raw clients talks to it) and the given limits. */
static const char *key_file; /* set: the next limited_node() has this domain key */

static ax_node *limited_node(unsigned k, int64_t frame_timeout, int64_t idle_timeout,
                             uint32_t max_links, uint32_t per_host)
{
    struct ax_config cfg;
    ax_config_init(&cfg);
    cfg.threads = 0;
    cfg.domain = dom(k);
    cfg.discovery.mode = AX_DISCOVERY_OFF;
    cfg.transport.shm = AX_SHM_OFF;
    cfg.log_level = AX_LOG_ERROR;
    cfg.transport.frame_timeout_ns = frame_timeout;
    cfg.transport.idle_timeout_ns = idle_timeout;
    cfg.transport.max_links = max_links;
    cfg.transport.max_links_per_host = per_host;
    if (key_file)
        snprintf(cfg.security.key_file, sizeof cfg.security.key_file, "%s", key_file);
    ax_node *n;
    AX_OK_OR_FAIL(ax_node_new(&n, &cfg));
    ax_config_fini(&cfg);
    return n;
}

#define SPIN_UNTIL(node, cond, ms)                                                                 \
    do {                                                                                           \
        int64_t end_ = ax_clock_mono_ns() + (int64_t)(ms)*AX_NS_PER_MS;                            \
        while (!(cond)) {                                                                          \
            if (ax_clock_mono_ns() > end_)                                                         \
                fail_msg("timed out after %d ms waiting for: %s", (int)(ms), #cond);               \
            ax_node_spin_once((node), 5);                                                          \
        }                                                                                          \
    } while (0)

static struct ax_connection_stats stats(ax_node *n)
{
    struct ax_connection_stats s;
    AX_OK_OR_FAIL(ax_node_connection_stats(n, &s));
    return s;
}

/* A TCP connection to @n's data listener (non-blocking once connected). */
static int dial(ax_node *n)
{
    char host[64];
    snprintf(host, sizeof host, "%s", n->tcp_endpoint);
    char *colon = strrchr(host, ':');
    assert_non_null(colon);
    *colon = '\0';
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    assert_int_equal(inet_pton(AF_INET, host, &a.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void send_header(int fd, uint8_t type, uint32_t payload_len)
{
    uint8_t h[AX__FRAME_HEADER_SIZE];
    struct ax__frame_hdr fh = {.type = type, .payload_len = payload_len};
    ax__frame_encode_header(h, &fh);
    send_all(fd, h, sizeof h);
}

/* A valid HELLO of a subscribing node in @domain, with @nonce if not NULL. */
static void send_hello_nonce(int fd, uint32_t domain, const uint8_t *nonce)
{
    struct ax__link_peer self = {
        .node_id = 0x5eed, .incarnation = 1, .domain = domain, .max_frame = 1u << 20};
    if (nonce) {
        self.has_nonce = true;
        memcpy(self.nonce, nonce, sizeof self.nonce);
    }
    snprintf(self.node_name, sizeof self.node_name, "raw-client");
    uint8_t body[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_hello_encode(&self, false, body, sizeof body);
    assert_true(n > 0);
    send_header(fd, AX__FRAME_HELLO, (uint32_t)n);
    send_all(fd, body, (size_t)n);
}

static void send_hello(int fd, uint32_t domain)
{
    send_hello_nonce(fd, domain, NULL);
}

/* Whether the node has closed @fd's connection (what it sent is read and
 * dropped: its HELLO, an ERROR). */
static bool closed_by_node(int fd)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n == 0)
            return true;
        return errno == ECONNRESET || errno == EPIPE;
    }
}

/* Before its HELLO a peer may send 1 KiB frames and no more: a header
 * announcing 64 MiB closes the connection, and nothing of that size is
 * ever reserved. */
static void test_before_hello_only_small_frames(void **state)
{
    (void)state;
    ax_node *n = limited_node(0, 10 * AX_NS_PER_S, 10 * AX_NS_PER_S, 16, 16);
    int fd = dial(n);
    send_header(fd, AX__FRAME_DATA, 64u << 20);
    SPIN_UNTIL(n, closed_by_node(fd), 5000);
    SPIN_UNTIL(n, stats(n).accepted_now == 0, 5000);
    close(fd);
    ax_node_destroy(n);
}

/* Everything the node sent until it closed @fd (its HELLO, an ERROR). */
static bool node_said(ax_node *n, int fd, const char *text)
{
    static uint8_t all[65536];
    size_t len = 0;
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (ax_clock_mono_ns() < end) {
        ssize_t k = read(fd, all + len, sizeof all - len);
        if (k == 0)
            break;
        if (k > 0) {
            len += (size_t)k;
            continue;
        }
        if (errno != EAGAIN)
            break;
        ax_node_spin_once(n, 5);
    }
    return memmem(all, len, text, strlen(text)) != NULL;
}

/* After its HELLO a subscriber still sends control frames only: 2 KiB
 * is refused on a connection the node accepted, 1 KiB reaches the
 * protocol (here, a schema request for a type name that is too long). */
static void test_subscriber_sends_control_frames_only(void **state)
{
    (void)state;
    ax_node *n = limited_node(1, 10 * AX_NS_PER_S, 10 * AX_NS_PER_S, 16, 16);
    int fd = dial(n);
    send_hello(fd, dom(1));
    send_header(fd, AX__FRAME_SCHEMA_REQUEST, 2048);
    assert_true(node_said(n, fd, "larger than the maximum"));
    close(fd);
    fd = dial(n);
    send_hello(fd, dom(1));
    static uint8_t name[1024];
    memset(name, 'x', sizeof name);
    send_header(fd, AX__FRAME_SCHEMA_REQUEST, sizeof name);
    send_all(fd, name, sizeof name);
    assert_true(node_said(n, fd, "bad type name in SCHEMA_REQUEST"));
    close(fd);
    ax_node_destroy(n);
}

/* A frame begun must end within transport.frame_timeout. */
static void test_partial_frame_times_out(void **state)
{
    (void)state;
    ax_node *n = limited_node(2, 200 * AX_NS_PER_MS, 10 * AX_NS_PER_S, 16, 16);
    int fd = dial(n);
    send_hello(fd, dom(2));
    send_header(fd, AX__FRAME_SUBSCRIBE, 100);
    send_all(fd, "0123456789", 10);
    SPIN_UNTIL(n, closed_by_node(fd), 5000);
    SPIN_UNTIL(n, stats(n).timed_out == 1, 5000);
    assert_int_equal(stats(n).idle_closed, 0);
    close(fd);
    ax_node_destroy(n);
}

/* A connection that says HELLO and subscribes to nothing is closed after
 * transport.idle_timeout. */
static void test_idle_connection_closed(void **state)
{
    (void)state;
    ax_node *n = limited_node(3, 10 * AX_NS_PER_S, 200 * AX_NS_PER_MS, 16, 16);
    int fd = dial(n);
    send_hello(fd, dom(3));
    SPIN_UNTIL(n, stats(n).accepted_now == 1, 5000);
    SPIN_UNTIL(n, closed_by_node(fd), 5000);
    SPIN_UNTIL(n, stats(n).accepted_now == 0, 5000);
    struct ax_connection_stats s = stats(n);
    assert_int_equal(s.idle_closed, 1);
    assert_int_equal(s.timed_out, 0);
    close(fd);
    ax_node_destroy(n);
}

/* transport.max_links: the connections past it are closed at once and
 * counted, and their slots come back when the others close. */
static void test_max_links(void **state)
{
    (void)state;
    ax_node *n = limited_node(4, 10 * AX_NS_PER_S, 10 * AX_NS_PER_S, 3, 256);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = dial(n);
    SPIN_UNTIL(n, stats(n).refused == 2, 5000);
    assert_int_equal(stats(n).accepted_now, 3);
    assert_int_equal(stats(n).refused_host, 0);
    int closed = 0;
    for (int i = 0; i < 5; i++)
        closed += closed_by_node(fds[i]);
    assert_int_equal(closed, 2);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    SPIN_UNTIL(n, stats(n).accepted_now == 0, 5000);
    int again = dial(n);
    SPIN_UNTIL(n, stats(n).accepted_now == 1, 5000);
    assert_int_equal(stats(n).refused, 2);
    close(again);
    ax_node_destroy(n);
}

/* transport.max_links_per_host: counted per IP address. */
static void test_max_links_per_host(void **state)
{
    (void)state;
    ax_node *n = limited_node(5, 10 * AX_NS_PER_S, 10 * AX_NS_PER_S, 100, 2);
    int fds[3];
    for (int i = 0; i < 3; i++)
        fds[i] = dial(n);
    SPIN_UNTIL(n, stats(n).refused_host == 1, 5000);
    assert_int_equal(stats(n).refused, 1);
    assert_int_equal(stats(n).accepted_now, 2);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    ax_node_destroy(n);
}

/* ---- the handshake with a domain key ---- */

/* The node's HELLO, read from @fd: its nonce and identity. */
static void read_hello(ax_node *n, int fd, struct ax__link_peer *out)
{
    uint8_t buf[2048];
    size_t len = 0;
    struct ax__frame_hdr h;
    const char *why;
    int hl = 0;
    int64_t end = ax_clock_mono_ns() + 5 * AX_NS_PER_S;
    while (ax_clock_mono_ns() < end) {
        ssize_t k = read(fd, buf + len, sizeof buf - len);
        if (k > 0)
            len += (size_t)k;
        hl = ax__frame_decode_header(buf, len, 4096, &h, &why);
        if (hl > 0 && len >= (size_t)hl + h.payload_len)
            break;
        ax_node_spin_once(n, 5);
    }
    assert_true(hl > 0);
    assert_int_equal(h.type, AX__FRAME_HELLO);
    uint32_t version;
    char reason[200];
    AX_OK_OR_FAIL(
        ax__stream_hello_decode(buf + hl, h.payload_len, &version, out, reason, sizeof reason));
}

/* AUTH as a peer holding @key computes it (transport/stream/conn_auth.c). */
static void auth_proof(const struct ax__hmac *key, const uint8_t *own, const uint8_t *peer,
                       uint64_t id, uint64_t inc, uint8_t out[16])
{
    struct ax__hmac h = *key;
    uint8_t ids[16], full[32];
    for (int i = 0; i < 8; i++) {
        ids[i] = (uint8_t)(id >> (8 * i));
        ids[8 + i] = (uint8_t)(inc >> (8 * i));
    }
    ax__hmac_update(&h, "axon auth v1 dialer", 19); /* the raw client dials */
    ax__hmac_update(&h, own, 16);
    ax__hmac_update(&h, peer, 16);
    ax__hmac_update(&h, ids, sizeof ids);
    ax__hmac_final(&h, full);
    memcpy(out, full, 16);
}

static void send_auth(int fd, const struct ax__hmac *key, const uint8_t *nonce,
                      const struct ax__link_peer *ph)
{
    uint8_t proof[16];
    auth_proof(key, nonce, ph->nonce, 0x5eed, 1, proof);
    send_header(fd, AX__FRAME_AUTH, sizeof proof);
    send_all(fd, proof, sizeof proof);
}

/* With a domain key the node's HELLO carries a nonce, and a connection is
 * served only once its peer proved the key: no nonce, or a proof made
 * with another key, is refused (AX_EACCES, counted); the right proof
 * passes. */
static void test_handshake_needs_the_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/axon_test_limits_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], other[64];
    snprintf(path, sizeof path, "%s/domain.key", dir);
    snprintf(other, sizeof other, "%s/other.key", dir);
    AX_OK_OR_FAIL(ax_key_generate(path));
    AX_OK_OR_FAIL(ax_key_generate(other));
    key_file = path;
    ax_node *n = limited_node(6, 10 * AX_NS_PER_S, 10 * AX_NS_PER_S, 16, 16);
    key_file = NULL;
    struct ax__keyring right, wrong;
    char why[300];
    AX_OK_OR_FAIL(ax__keyring_load(&right, path, why, sizeof why));
    AX_OK_OR_FAIL(ax__keyring_load(&wrong, other, why, sizeof why));
    uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

    int fd = dial(n); /* no key: refused at the HELLO */
    send_hello(fd, dom(6));
    assert_true(node_said(n, fd, "requires authentication"));
    close(fd);

    struct ax__link_peer ph;
    fd = dial(n); /* another key: refused at the AUTH */
    read_hello(n, fd, &ph);
    assert_true(ph.has_nonce);
    send_hello_nonce(fd, dom(6), nonce);
    send_auth(fd, &wrong.link[0], nonce, &ph);
    assert_true(node_said(n, fd, "authentication failed"));
    close(fd);
    SPIN_UNTIL(n, stats(n).unauthenticated == 2, 5000);

    /* The node proves nothing to a dialer that has not proved first: its
     * AUTH cannot be harvested on one connection to pass on another. */
    fd = dial(n);
    read_hello(n, fd, &ph);
    send_hello_nonce(fd, dom(6), nonce);
    for (int i = 0; i < 40; i++)
        ax_node_spin_once(n, 5);
    uint8_t extra[256];
    assert_true(read(fd, extra, sizeof extra) < 0); /* nothing after its HELLO */
    close(fd);
    /* A peer claiming the node's own identity is refused. */
    fd = dial(n);
    read_hello(n, fd, &ph);
    struct ax__link_peer self = ph;
    memcpy(self.nonce, nonce, sizeof nonce);
    uint8_t body[AX__STREAM_CONTROL_MAX];
    int len = ax__stream_hello_encode(&self, false, body, sizeof body);
    send_header(fd, AX__FRAME_HELLO, (uint32_t)len);
    send_all(fd, body, (size_t)len);
    assert_true(node_said(n, fd, "own identity"));
    close(fd);
    SPIN_UNTIL(n, stats(n).unauthenticated == 3, 5000);

    fd = dial(n); /* the key: served (a schema request gets the protocol's answer) */
    read_hello(n, fd, &ph);
    send_hello_nonce(fd, dom(6), nonce);
    send_auth(fd, &right.link[0], nonce, &ph);
    send_header(fd, AX__FRAME_SCHEMA_REQUEST, 7);
    send_all(fd, "no.Such", 7);
    assert_true(node_said(n, fd, "has no schema for no.Such"));
    close(fd);
    assert_int_equal(stats(n).unauthenticated, 3);

    ax_node_destroy(n);
    unlink(path);
    unlink(other);
    rmdir(dir);
}

/* ---- the reader: memory follows what arrived ---- */

struct got {
    int frames;
    uint32_t len;
    bool intact;
};

static bool on_frame(void *ctx, const struct ax__frame_hdr *h, const uint8_t *payload, ax__buf *buf)
{
    struct got *g = ctx;
    (void)buf;
    g->frames++;
    g->len = h->payload_len;
    g->intact = true;
    for (uint32_t i = 0; i < h->payload_len; i++)
        if (payload[i] != (uint8_t)(i * 7))
            g->intact = false;
    return true;
}

/* Write @len pattern bytes from @from while the reader drains them. */
static void feed(int wfd, int rfd, struct ax__stream_reader *r, struct got *g, size_t from,
                 size_t len)
{
    uint8_t chunk[65536];
    const char *why;
    while (len) {
        size_t k = len < sizeof chunk ? len : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = (uint8_t)((from + i) * 7);
        ssize_t w = write(wfd, chunk, k);
        if (w < 0) {
            assert_int_equal(errno, EAGAIN);
            w = 0;
        }
        from += (size_t)w;
        len -= (size_t)w;
        int rc = ax__stream_reader_read(r, rfd, 64, on_frame, g, &why);
        assert_true(rc >= 0);
    }
    int rc = ax__stream_reader_read(r, rfd, 64, on_frame, g, &why);
    assert_true(rc >= 0);
}

/* A header announcing 4 MiB followed by 300 KiB holds at most twice what
 * came, not 4 MiB; the whole frame arrives intact; the next frame as large
 * gets its buffer at once (the connection proved it sends such frames). */
static void test_reader_memory_follows_arrival(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct ax__stream_reader r;
    AX_OK_OR_FAIL(ax__stream_reader_init(&r, 64u << 20));
    assert_null(r.rbuf); /* nothing before the first read */
    struct got g = {0};
    const uint32_t big = 4u << 20;
    uint8_t h[AX__FRAME_HEADER_SIZE];
    struct ax__frame_hdr fh = {.type = AX__FRAME_DATA, .payload_len = big};
    ax__frame_encode_header(h, &fh);
    assert_int_equal(write(sv[0], h, sizeof h), (ssize_t)sizeof h);
    feed(sv[0], sv[1], &r, &g, 0, 300 * 1024);
    assert_null(r.big);
    assert_non_null(r.grow);
    assert_true(r.big_fill >= 200 * 1024); /* most of it was read */
    assert_true(r.grow_cap <= 2 * r.big_fill);
    assert_true(r.grow_cap < big);
    feed(sv[0], sv[1], &r, &g, 300 * 1024, big - 300 * 1024);
    assert_int_equal(g.frames, 1);
    assert_int_equal(g.len, big);
    assert_true(g.intact);
    assert_int_equal(r.proven, big);
    /* The next one of that size: one buffer of its size at once. */
    assert_int_equal(write(sv[0], h, sizeof h), (ssize_t)sizeof h);
    feed(sv[0], sv[1], &r, &g, 0, 1024);
    assert_non_null(r.big);
    assert_null(r.grow);
    feed(sv[0], sv[1], &r, &g, 1024, big - 1024);
    assert_int_equal(g.frames, 2);
    assert_true(g.intact);
    ax__stream_reader_fini(&r);
    close(sv[0]);
    close(sv[1]);
}

/* A reader that accepts only control frames keeps a 16 KiB buffer however
 * fast they come; one that accepts large frames grows it to 256 KiB. */
static void test_reader_buffer_bounded_by_frame_size(void **state)
{
    (void)state;
    for (int large = 0; large < 2; large++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        int big = 1 << 20;
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        struct ax__stream_reader r;
        AX_OK_OR_FAIL(ax__stream_reader_init(&r, large ? 64u << 20 : AX__LINK_CONTROL_MAX));
        static uint8_t burst[4000 * AX__FRAME_HEADER_SIZE];
        struct ax__frame_hdr fh = {.type = AX__FRAME_KEEPALIVE};
        for (size_t i = 0; i < 4000; i++)
            ax__frame_encode_header(burst + i * AX__FRAME_HEADER_SIZE, &fh);
        struct got g = {0};
        size_t off = 0;
        const char *why;
        while (off < sizeof burst || g.frames < 4000) {
            ssize_t w = off < sizeof burst ? write(sv[0], burst + off, sizeof burst - off) : 0;
            if (w > 0)
                off += (size_t)w;
            assert_true(ax__stream_reader_read(&r, sv[1], 64, on_frame, &g, &why) >= 0);
        }
        assert_int_equal(g.frames, 4000);
        if (large)
            assert_true(r.rcap > 16 * 1024);
        else
            assert_int_equal(r.rcap, 16 * 1024);
        ax__stream_reader_fini(&r);
        close(sv[0]);
        close(sv[1]);
    }
}

/* A channel that is always empty (the peer wrote nothing into it). */
static ssize_t empty_read(void *chan, void *dst, size_t room)
{
    (void)chan;
    (void)dst;
    (void)room;
    errno = EAGAIN;
    return -1;
}

static ssize_t no_writev(void *chan, const struct iovec *iov, int n_iov, bool quiet)
{
    (void)chan;
    (void)iov;
    (void)n_iov;
    errno = EAGAIN;
    return -1;
}

/* Send one carrier byte with @fd attached, as a channel's peer does. */
static void send_carrier(int sock, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    uint8_t byte = 0;
    struct iovec iov = {&byte, 1};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    assert_int_equal(sendmsg(sock, &mh, 0), 1);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

/* With a channel, a peer that sends more descriptors than any frame asks
 * for and hangs up: the reader keeps AX__STREAM_FDS_MAX of them (the rest
 * wait in the socket, in front of its EOF), and once the channel is empty
 * the stream has ended all the same (the hang-up says so): EOF, within a
 * bounded number of reads, not "drained" forever with no edge to come. The
 * descriptors it kept are closed with it. */
static void test_reader_channel_unclaimed_fds_then_hangup(void **state)
{
    (void)state;
    int before = open_fds();
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct ax__stream_reader r;
    AX_OK_OR_FAIL(ax__stream_reader_init(&r, 64u << 20));
    r.pass_fds = true;
    static const struct ax__stream_chan_ops ops = {.writev = no_writev, .read = empty_read};
    ax__stream_reader_chan(&r, sv[1], &ops, &r);
    int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(spare >= 0);
    for (int i = 0; i < AX__STREAM_FDS_MAX + 4; i++)
        send_carrier(sv[0], spare);
    close(spare);
    close(sv[0]);
    r.peer_hup = true; /* the owner saw EPOLLRDHUP with the edge */
    r.sock_edge = true;
    struct got g = {0};
    const char *why = NULL;
    int rc = -1;
    for (int i = 0; i < 4 && rc != AX__STREAM_RD_EOF; i++)
        rc = ax__stream_reader_read(&r, sv[1], 64, on_frame, &g, &why);
    assert_int_equal(rc, AX__STREAM_RD_EOF);
    assert_int_equal(g.frames, 0);
    assert_int_equal(r.fd_count, AX__STREAM_FDS_MAX);
    ax__stream_reader_fini(&r);
    close(sv[1]);
    assert_int_equal(open_fds(), before); /* what it kept, closed; the rest with the socket */
}

int main(void)
{
    ax_log_set_level(AX_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_before_hello_only_small_frames),
        cmocka_unit_test(test_subscriber_sends_control_frames_only),
        cmocka_unit_test(test_partial_frame_times_out),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_max_links),
        cmocka_unit_test(test_max_links_per_host),
        cmocka_unit_test(test_handshake_needs_the_key),
        cmocka_unit_test(test_reader_memory_follows_arrival),
        cmocka_unit_test(test_reader_buffer_bounded_by_frame_size),
        cmocka_unit_test(test_reader_channel_unclaimed_fds_then_hangup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
