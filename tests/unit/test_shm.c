/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-memory transport (transport/shm) below the node: chunks by
 * reference, the isolation a subscriber cannot break, per-peer release
 * state, the quota, an exhausted pool. Crashes of either side, with real
 * processes, are tests/integration/test_shm_procs.c's.
 *
 * "Publisher" here is the side that listens and sends chunks of its pool;
 * "subscriber" the side that connects and receives them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "ax_test.h"
#include "transport/shm/ax__shm.h"
#include "transport/stream/ax__stream.h"

#define CHUNK (256u * 1024)

struct peer {
    ax__link *link;
    int ready, closes, status;
    uint64_t frames, drops[AX_DROP_REASON_COUNT_];
    ax__buf *kept[64]; /* views retained past the callback */
    unsigned nkept;
    bool keep;
    uint8_t first_byte[64];
    /* a hostile subscriber's own view of the wire */
    int seg_fd;
    uint32_t seg_id, chunk;
};

static void p_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    struct peer *p = user;
    (void)l;
    (void)peer;
    p->ready++;
}

static void p_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                    ax__buf *buf, void *user)
{
    struct peer *p = user;
    (void)l;
    if (h->type != AX__FRAME_DATA)
        return;
    if (p->keep && buf && p->nkept < 64) {
        ax__buf_hold(buf);
        p->first_byte[p->nkept] = payload[0];
        p->kept[p->nkept++] = buf;
    }
    p->frames++;
}

static void p_drop(ax__link *l, enum ax_drop_reason r, uint64_t n, void *user)
{
    struct peer *p = user;
    (void)l;
    p->drops[r] += n;
}

static void p_close(ax__link *l, int status, void *user)
{
    struct peer *p = user;
    (void)l;
    p->closes++;
    p->status = status;
    p->link = NULL;
}

static const struct ax__link_callbacks peer_cbs = {
    .on_ready = p_ready, .on_frame = p_frame, .on_drop = p_drop, .on_close = p_close};

/* The publisher: a listener taking up to 4 subscribers, and a pool. */
struct pub {
    ax_loop *loop;
    ax__listener *ln;
    ax__pool *pool;
    struct peer subs[4];
    unsigned nsubs;
};

static int pub_accept(ax__listener *ln, ax__link *l, void *user)
{
    struct pub *pb = user;
    (void)ln;
    if (pb->nsubs == 4)
        return AX_EBUSY;
    struct peer *p = &pb->subs[pb->nsubs++];
    p->link = l;
    ax__link_bind(l, &peer_cbs, p);
    return 0;
}

static void link_opts(struct ax__link_options *o, uint64_t id, uint32_t quota)
{
    ax__link_options_init(o);
    o->self.node_id = id;
    o->self.domain = 3;
    o->self.purpose = AX__LINK_DATA;
    snprintf(o->self.node_name, sizeof o->self.node_name, "n%llu", (unsigned long long)id);
    o->linger_ns = 200 * AX_NS_PER_MS;
    o->loan_quota = quota;
}

static void pub_open_bytes(struct pub *pb, ax_loop *loop, uint64_t budget, uint32_t quota,
                           uint64_t quota_bytes)
{
    memset(pb, 0, sizeof *pb);
    pb->loop = loop;
    struct ax__listen_options lo = {.on_accept = pub_accept, .user = pb};
    link_opts(&lo.link, 1, quota);
    lo.link.loan_quota_bytes = quota_bytes;
    AX_OK_OR_FAIL(ax__shm_transport.listen(loop, "@", &lo, &pb->ln));
    struct ax__pool_options po = {
        .budget = budget, .min_chunk = 4096, .max_chunk = CHUNK, .segment = 1u << 20};
    AX_OK_OR_FAIL(ax__shm_transport.pool_new(&po, &pb->pool));
}

static void pub_open(struct pub *pb, ax_loop *loop, uint64_t budget, uint32_t quota)
{
    pub_open_bytes(pb, loop, budget, quota, 64u << 20);
}

/* Publish one chunk with every byte @v to every subscriber: how many took it. */
static unsigned pub_send(struct pub *pb, uint8_t v, uint64_t seq)
{
    ax__buf *b;
    AX_OK_OR_FAIL(pb->pool->ops->loan(pb->pool, CHUNK, &b));
    memset(b->data, v, b->len);
    unsigned ok = 0;
    struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1, .seq = seq};
    for (unsigned i = 0; i < pb->nsubs; i++)
        if (pb->subs[i].link && ax__link_send(pb->subs[i].link, &h, b) == 0)
            ok++;
    ax__buf_release(b);
    return ok;
}

static uint64_t pool_out(ax__pool *p)
{
    struct ax__pool_stats s;
    p->ops->stats(p, &s);
    return s.out;
}

/* The subscriber @s closes its link; then the publisher's listener and
 * pool close. */
static void close_pair(ax_loop *loop, struct pub *pb, struct peer *s)
{
    ax__link_close(s->link, AX__LINK_GRACEFUL, 0);
    AX_STEP_UNTIL(loop, s->closes && pb->subs[0].closes, 5000);
    pb->ln->ops->close(pb->ln);
    pb->pool->ops->close(pb->pool);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
}

static void connect_sub(ax_loop *loop, const char *addr, struct peer *p, uint64_t id)
{
    struct ax__link_options o;
    link_opts(&o, id, 0);
    AX_OK_OR_FAIL(ax__shm_transport.connect(loop, addr, &o, &peer_cbs, p, &p->link));
}

static bool view_is(const ax__buf *b, uint8_t v)
{
    for (size_t i = 0; i < b->len; i += 4096)
        if (b->data[i] != v)
            return false;
    return b->data[b->len - 1] == v;
}

/* ---- a hostile subscriber: a bare stream link that sees the wire ---- */

static void h_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                    ax__buf *buf, void *user)
{
    struct peer *p = user;
    (void)buf;
    if (h->type == AX__FRAME_SHM_SEGMENT) {
        p->seg_fd = ax__stream_take_fd(l);
        memcpy(&p->seg_id, payload, 4);
    } else if (h->type == AX__FRAME_DATA && (h->flags & AX__FRAME_F_SHM)) {
        memcpy(&p->chunk, payload + 4, 4);
        p->frames++;
    }
}

static const struct ax__link_callbacks hostile_cbs = {
    .on_ready = p_ready, .on_frame = h_frame, .on_close = p_close};

static void connect_hostile(ax_loop *loop, const char *addr, struct peer *p)
{
    struct ax__link_options o;
    link_opts(&o, 66, 0);
    o.pass_fds = true;
    struct ax__addr a;
    AX_OK_OR_FAIL(ax__addr_parse(&a, addr, 0));
    p->seg_fd = -1;
    AX_OK_OR_FAIL(ax__stream_conn_connect(loop, &a, &o, &hostile_cbs, p, &p->link));
}

static void send_release(struct peer *p, uint32_t seg, uint32_t chunk)
{
    uint32_t pair[2] = {seg, chunk};
    AX_OK_OR_FAIL(ax__link_send_control(p->link, AX__FRAME_SHM_RELEASE, pair, sizeof pair));
}

/* A subscriber holding the segment's descriptor can neither map it
 * writable nor write, resize or punch it; and its RELEASE of a chunk it
 * does not hold costs it its link, not another subscriber its view. */
static void t_isolation(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 16);
    const char *addr = pb.ln->ops->address(pb.ln);
    struct peer good = {0}, bad = {0};
    good.keep = true;
    connect_sub(loop, addr, &good, 10);
    AX_STEP_UNTIL(loop, good.ready && pb.nsubs == 1, 5000);
    connect_hostile(loop, addr, &bad);
    AX_STEP_UNTIL(loop, bad.ready && pb.nsubs == 2, 5000);

    assert_int_equal(pub_send(&pb, 0xA5, 1), 2);
    AX_STEP_UNTIL(loop, good.frames == 1 && bad.frames == 1 && bad.seg_fd >= 0, 5000);
    assert_true(view_is(good.kept[0], 0xA5));

    /* The segment, as the hostile side holds it. */
    int fd = bad.seg_fd;
    errno = 0;
    assert_true(mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
    assert_int_equal(errno, EPERM);
    assert_int_equal(write(fd, "x", 1), -1);
    assert_int_equal(pwrite(fd, "x", 1, 0), -1);
    assert_int_equal(ftruncate(fd, 0), -1);
    assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), -1);
    assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), -1); /* F_SEAL_SEAL: no seal comes off or on */
    void *ro = mmap(NULL, CHUNK, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(ro != MAP_FAILED);
    assert_int_equal(mprotect(ro, 4096, PROT_READ | PROT_WRITE), -1);
    munmap(ro, CHUNK);
    /* The receiving side's own view is read-only memory too. */
    assert_int_equal(mprotect((void *)((uintptr_t)good.kept[0]->data & ~(uintptr_t)4095), 4096,
                              PROT_READ | PROT_WRITE),
                     -1);

    /* A RELEASE of its chunk twice: the first is its own, the second is
     * not (it holds it once), and its link goes; the good subscriber
     * still holds the same chunk, intact and not lent again. */
    uint64_t out_before = pool_out(pb.pool);
    send_release(&bad, bad.seg_id, bad.chunk);
    send_release(&bad, bad.seg_id, bad.chunk);
    AX_STEP_UNTIL(loop, pb.subs[1].closes == 1, 5000);
    assert_int_equal(pb.subs[1].status, AX_EPROTO);
    assert_int_equal(pool_out(pb.pool), out_before); /* the good one's hold is still there */
    assert_int_equal(pub_send(&pb, 0x3C, 2), 1);     /* a new chunk, not the held one */
    AX_STEP_UNTIL(loop, good.frames == 2, 5000);
    assert_true(view_is(good.kept[0], 0xA5));
    assert_true(view_is(good.kept[1], 0x3C));
    close(fd);

    for (unsigned i = 0; i < good.nkept; i++)
        ax__buf_release(good.kept[i]);
    AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0, 5000);
    ax__link_close(good.link, AX__LINK_GRACEFUL, 0);
    AX_STEP_UNTIL(loop, good.closes && pb.subs[0].closes && bad.closes, 5000);
    pb.ln->ops->close(pb.ln);
    pb.pool->ops->close(pb.pool);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
    AX_ASSERT_LOOP_FREE(loop);
}

/* After a test that turned the writer's late ring off, failed or not. */
static int nudge_back(void **state)
{
    (void)state;
    ax__stream_nudge_ns = 100 * AX_NS_PER_MS;
    return 0;
}

/* A subscriber that keeps every message holds its quota and no more: the
 * rest waits in the publisher's queue to it, where the overload policy
 * drops the oldest (counted); each release lets the next one through. */
static void t_quota(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 4);
    struct peer s = {.keep = true};
    connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    ax__link *pl = pb.subs[0].link;
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
    AX_STEP_UNTIL(loop, s.frames == 4, 5000);
    pl->ops->set_queue(pl, AX_OVERLOAD_DROP_OLDEST, 1u << 30, 3);
    /* The releases below are quiet frames: the publisher, waiting at the
     * quota, asks to be woken for them (want). Shown with the writer's
     * late ring turned off, so that nothing else brings them. */
    ax__stream_nudge_ns = 0;
    for (unsigned i = 4; i < 10; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
    uint64_t fr = 0, by = 0;
    for (int i = 0; i < 20; i++) /* they would have gone through by now */
        ax_loop_step(loop, 1);
    assert_int_equal(s.frames, 4);
    ax__link_queued(pl, &fr, &by);
    assert_int_equal(fr, 3); /* waiting, within the queue's bound */
    assert_int_equal(pb.subs[0].drops[AX_DROP_QUEUE_OLDEST], 3);
    assert_int_equal(pool_out(pb.pool), 4 + 3);
    /* Each release lets one more through: the newest three, in order. */
    for (unsigned k = 0; k < 3; k++) {
        ax__buf_release(s.kept[k]);
        AX_STEP_UNTIL(loop, s.frames == 5 + k, 5000);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(s.first_byte[i], i);
    for (unsigned i = 4; i < 7; i++)
        assert_int_equal(s.first_byte[i], i + 3);
    /* Then nothing waits: these come back with the writer's late ring. */
    ax__stream_nudge_ns = 100 * AX_NS_PER_MS;
    for (unsigned i = 3; i < s.nkept; i++)
        ax__buf_release(s.kept[i]);
    AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0, 5000);
    close_pair(loop, &pb, &s);
    AX_ASSERT_LOOP_FREE(loop);
}

/* The quota in bytes: a subscriber that keeps everything holds as many
 * chunks as fit in it, and two always, even larger than it (one kept and
 * the next). */
static void t_quota_bytes(void **state)
{
    (void)state;
    static const uint64_t bounds[2] = {2 * CHUNK + CHUNK / 2, CHUNK / 2};
    static const unsigned fit[2] = {2, 2};
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    for (int t = 0; t < 2; t++) {
        struct pub pb;
        pub_open_bytes(&pb, loop, 64u << 20, 100, bounds[t]);
        struct peer s = {.keep = true};
        connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
        AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
        for (unsigned i = 0; i < 5; i++)
            assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
        AX_STEP_UNTIL(loop, s.frames == fit[t], 5000);
        for (int i = 0; i < 20; i++) /* more would have come by now */
            ax_loop_step(loop, 1);
        assert_int_equal(s.frames, fit[t]);
        /* Each release lets the next through, in order. */
        for (unsigned k = 0; k < 5 - fit[t]; k++) {
            ax__buf_release(s.kept[k]);
            AX_STEP_UNTIL(loop, s.frames == fit[t] + k + 1, 5000);
        }
        for (unsigned i = 0; i < 5; i++)
            assert_int_equal(s.first_byte[i], i);
        for (unsigned i = 5 - fit[t]; i < s.nkept; i++)
            ax__buf_release(s.kept[i]);
        AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0, 5000);
        close_pair(loop, &pb, &s);
    }
    AX_ASSERT_LOOP_FREE(loop);
}

/* Chunks both ways on one link, each side's quota 1: the second chunk of
 * each side waits at its gate for the other's release, and each release
 * must get past its own side's waiting chunk (else neither ever moves). */
static void t_both_ways(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 1);
    struct peer s = {0};
    struct ax__link_options o;
    link_opts(&o, 10, 1);
    AX_OK_OR_FAIL(
        ax__shm_transport.connect(loop, pb.ln->ops->address(pb.ln), &o, &peer_cbs, &s, &s.link));
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    ax__pool *spool;
    struct ax__pool_options po = {
        .budget = 64u << 20, .min_chunk = 4096, .max_chunk = CHUNK, .segment = 1u << 20};
    AX_OK_OR_FAIL(ax__shm_transport.pool_new(&po, &spool));
    struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1};
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
        ax__buf *b;
        AX_OK_OR_FAIL(spool->ops->loan(spool, CHUNK, &b));
        memset(b->data, 0x40 + i, b->len);
        h.seq = i + 1;
        AX_OK_OR_FAIL(ax__link_send(s.link, &h, b));
        ax__buf_release(b);
    }
    AX_STEP_UNTIL(loop, s.frames == 2 && pb.subs[0].frames == 2, 5000);
    AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0 && pool_out(spool) == 0, 5000);
    ax__link_close(s.link, AX__LINK_GRACEFUL, 0);
    AX_STEP_UNTIL(loop, s.closes && pb.subs[0].closes, 5000);
    pb.ln->ops->close(pb.ln);
    pb.pool->ops->close(pb.pool);
    spool->ops->close(spool);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
    AX_ASSERT_LOOP_FREE(loop);
}

/* A graceful close flushes what waits behind the quota: the releases
 * that let it go still count while the link closes. */
static void t_close_flushes(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 1);
    struct peer s = {0};
    connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
    ax__link_close(pb.subs[0].link, AX__LINK_GRACEFUL, 0);
    AX_STEP_UNTIL(loop, s.closes && pb.subs[0].closes, 5000);
    assert_int_equal(s.frames, 6);
    assert_int_equal(pb.subs[0].drops[AX_DROP_CLOSED], 0);
    assert_int_equal(pb.subs[0].status, 0);
    AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0, 5000);
    pb.ln->ops->close(pb.ln);
    pb.pool->ops->close(pb.pool);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
    AX_ASSERT_LOOP_FREE(loop);
}

static uint64_t frames_in(const ax__link *l)
{
    struct ax__link_stats st;
    ax__link_get_stats(l, &st);
    return st.frames_in;
}

static uint64_t frames_out(const ax__link *l)
{
    struct ax__link_stats st;
    ax__link_get_stats(l, &st);
    return st.frames_out;
}

/* Releases made in the subscriber's callbacks go back together, not one
 * RELEASE frame per message (each would wake the publisher's loop); and
 * one that waits for its batch on a quiet topic still goes back (after
 * at most AX__SHM_RELEASE_DELAY_NS). */
static void t_releases_together(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 16); /* 16 chunks: the batch is 8 */
    struct peer s = {0};
    connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    ax__link *pl = pb.subs[0].link;
    uint64_t before = frames_in(pl);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
    AX_STEP_UNTIL(loop, s.frames == 16 && pool_out(pb.pool) == 0, 5000);
    /* No more than a batch in a frame: two at least; one per message before. */
    uint64_t releases = frames_in(pl) - before;
    assert_true(releases >= 2);
    assert_true(releases < 16);
    /* One message, released in its callback: nothing else will come to
     * fill its batch, and it goes back all the same. */
    assert_int_equal(pub_send(&pb, 0x77, 17), 1);
    AX_STEP_UNTIL(loop, s.frames == 17 && pool_out(pb.pool) == 0, 5000);
    close_pair(loop, &pb, &s);
    AX_ASSERT_LOOP_FREE(loop);
}

/* ---- the subscriber's releases, at the level of rx.c ---- */

struct batch_case {
    struct ax__shm_rx *rx;
    unsigned calls; /* RELEASE frames that would have gone */
    size_t pairs;   /* chunks in them */
    ax__buf *kept[12];
    bool done;
};

static void count_release(void *ctx, const uint32_t *pairs, size_t n)
{
    struct batch_case *c = ctx;
    (void)pairs;
    c->calls++;
    c->pairs += n;
}

static ax__buf *view_of(struct ax__shm_rx *rx, uint32_t chunk)
{
    ax__buf *b;
    const char *why = NULL;
    AX_OK_OR_FAIL(ax__shm_rx_view(rx, 1, chunk, (chunk % 16) * 4096u, 4096, &b, &why));
    return b;
}

/* On the loop thread, as the link's reads are. */
static void batch_rules_task(void *arg)
{
    struct batch_case *c = arg;
    /* Read and released at once: nothing goes before the eighth. */
    for (uint32_t i = 0; i < 7; i++)
        ax__buf_release(view_of(c->rx, i));
    assert_int_equal(c->calls, 0);
    ax__buf_release(view_of(c->rx, 7));
    assert_int_equal(c->calls, 1);
    assert_int_equal(c->pairs, 8);
    /* An application that keeps the last twelve: with that many views out,
     * the release of the oldest goes at once each time. Held back, they
     * would fill the publisher's quota of 16 and stop it until the timer. */
    for (uint32_t i = 0; i < 12; i++)
        c->kept[i] = view_of(c->rx, 100 + i);
    for (uint32_t i = 0; i < 12; i++) {
        ax__buf *newest = view_of(c->rx, 200 + i);
        ax__buf_release(c->kept[i]);
        c->kept[i] = newest;
        assert_int_equal(c->calls, 2 + i);
    }
    for (uint32_t i = 0; i < 12; i++)
        ax__buf_release(c->kept[i]);
    c->done = true;
}

/* The rules of the batch, counted where the RELEASE frames would be sent:
 * what waits plus the views out reach the batch, or the timer fires. */
static void t_release_batch_rules(void **state)
{
    (void)state;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct batch_case c = {0};
    AX_OK_OR_FAIL(ax__shm_rx_new(loop, &c.rx));
    ax__shm_rx_set_release(c.rx, count_release, &c);
    int fd = memfd_create("axon-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 16 * 4096), 0);
    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    const char *why = NULL;
    AX_OK_OR_FAIL(ax__shm_rx_map(c.rx, 1, 16 * 4096, 8, fd, &why));
    AX_OK_OR_FAIL(ax_loop_post(loop, batch_rules_task, &c));
    AX_STEP_UNTIL(loop, c.done, 5000);
    /* The last few wait for a batch that no message will fill: the timer
     * sends them. */
    AX_STEP_UNTIL(loop, c.pairs == 8 + 12 + 12, 5000);
    ax__shm_rx_detach(c.rx);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
    AX_ASSERT_LOOP_FREE(loop);
}

/* Once frames go through the channel, descriptors still come on the
 * socket, each with a byte of its own: a burst of more of them than the
 * reader keeps at once (16) waits there for the frames that take them,
 * and the link lives. Here every chunk is a segment of its own. */
static void t_channel_many_segments(void **state)
{
    (void)state;
    ax_loop *loop;
    struct ax_loop_options lo;
    ax_loop_options_init(&lo);
    lo.io_budget = 256; /* a flush writes all 24 before the reader looks */
    AX_OK_OR_FAIL(ax_loop_new(&loop, &lo));
    struct pub pb;
    pub_open(&pb, loop, 64u << 20, 32);
    pb.pool->ops->close(pb.pool);
    struct ax__pool_options po = {
        .budget = 64u << 20, .min_chunk = CHUNK, .max_chunk = CHUNK, .segment = CHUNK};
    AX_OK_OR_FAIL(ax__shm_transport.pool_new(&po, &pb.pool));
    struct peer s = {0};
    s.keep = true;
    connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    /* Each side has read the other's HELLO, SHM_BELL and SHM_CHAN. */
    AX_STEP_UNTIL(loop, frames_in(s.link) >= 3 && frames_in(pb.subs[0].link) >= 3, 5000);
    for (unsigned i = 0; i < 24; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)(i + 1), i + 1), 1);
    AX_STEP_UNTIL(loop, s.frames == 24, 5000);
    assert_int_equal(s.closes, 0);
    for (unsigned i = 0; i < 24; i++)
        assert_true(view_is(s.kept[i], (uint8_t)(i + 1)));
    for (unsigned i = 0; i < s.nkept; i++)
        ax__buf_release(s.kept[i]);
    AX_STEP_UNTIL(loop, pool_out(pb.pool) == 0, 5000);
    close_pair(loop, &pb, &s);
    AX_ASSERT_LOOP_FREE(loop);
}

/* The budget spent: a clear error and a count, at once. */
static void t_pool_exhausted(void **state)
{
    (void)state;
    ax__pool *pool;
    struct ax__pool_options po = {
        .budget = 2u << 20, .min_chunk = 4096, .max_chunk = 1u << 20, .segment = 1u << 20};
    AX_OK_OR_FAIL(ax__shm_pool_new(&po, &pool));
    ax__buf *a, *b, *c;
    AX_OK_OR_FAIL(pool->ops->loan(pool, 1u << 20, &a));
    AX_OK_OR_FAIL(pool->ops->loan(pool, 600000, &b));
    assert_int_equal(pool->ops->loan(pool, 1u << 20, &c), AX_ENOBUFS);
    assert_int_equal(pool->ops->loan(pool, (1u << 20) + 1, &c), AX_EMSGSIZE);
    struct ax__pool_stats st;
    pool->ops->stats(pool, &st);
    assert_int_equal(st.exhausted, 1);
    assert_int_equal(st.out, 2);
    assert_int_equal(st.mapped, 2u << 20);
    ax__buf_release(a);
    AX_OK_OR_FAIL(pool->ops->loan(pool, 1u << 20, &c)); /* the same chunk again */
    assert_ptr_equal(c, a);
    ax__buf_release(b);
    pool->ops->close(pool); /* freed with the last chunk */
    ax__buf_release(c);
}

/* A dry pool gets back what its subscriber gave back quietly: the
 * transport's reclaim (core calls it when a loan fails) reads it. With the
 * writer's late ring off nothing else rings for those releases here: the
 * pool stays dry without it. */
static void t_reclaim(void **state)
{
    (void)state;
    ax__stream_nudge_ns = 0;
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    struct pub pb;
    pub_open(&pb, loop, 1u << 20, 4); /* one segment: four chunks */
    struct peer s = {0};
    connect_sub(loop, pb.ln->ops->address(pb.ln), &s, 10);
    AX_STEP_UNTIL(loop, s.ready && pb.nsubs == 1, 5000);
    /* The channel is up (HELLO, SHM_BELL, SHM_CHAN each way): releases
     * go through the ring, not the socket, which always wakes. */
    AX_STEP_UNTIL(loop, frames_in(s.link) >= 3 && frames_in(pb.subs[0].link) >= 3, 5000);
    uint64_t out0 = frames_out(s.link);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pub_send(&pb, (uint8_t)i, i + 1), 1);
    AX_STEP_UNTIL(loop, s.frames == 4, 5000);
    /* Its releases are written (in two frames at least: its batch is half
     * the quota of four), and nothing rang for them: the pool is dry. */
    AX_STEP_UNTIL(loop, frames_out(s.link) >= out0 + 2, 5000);
    for (int i = 0; i < 5; i++)
        ax_loop_step(loop, 0);
    ax__buf *b;
    assert_int_equal(pb.pool->ops->loan(pb.pool, CHUNK, &b), AX_ENOBUFS);
    AX_STEP_UNTIL(loop, (ax__stream_reclaim(loop), pool_out(pb.pool) == 0), 5000);
    AX_OK_OR_FAIL(pb.pool->ops->loan(pb.pool, CHUNK, &b));
    ax__buf_release(b);
    close_pair(loop, &pb, &s);
    AX_ASSERT_LOOP_FREE(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_isolation),
        cmocka_unit_test_teardown(t_quota, nudge_back),
        cmocka_unit_test_teardown(t_reclaim, nudge_back),
        cmocka_unit_test(t_quota_bytes),
        cmocka_unit_test(t_both_ways),
        cmocka_unit_test(t_close_flushes),
        cmocka_unit_test(t_releases_together),
        cmocka_unit_test(t_release_batch_rules),
        cmocka_unit_test(t_pool_exhausted),
        cmocka_unit_test(t_channel_many_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
