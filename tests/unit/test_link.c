/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport interface (transport/ax__link.h), on every transport built
 * in: one conformance suite, written against the interface only, that each
 * transport in ax__transports() must pass. A new transport gets these tests
 * by being listed there.
 *
 * Each case runs a listener and a connecting link on one loop over
 * loopback and checks what core relies on: the handshake's identities, the
 * frames in order and intact (small ones copied, large ones in their own
 * buffer), control frames, every close reported exactly once with its
 * reason, refusals by the peer, by the guard (the security hook) and for a
 * domain mismatch, exact drop accounting under an overload policy, closing
 * from inside a callback, and a loop that ends with nothing left open.
 * A transport with pools (AX__TP_LOANS) carries its chunks the same way,
 * and gets every chunk back.
 */
#include <string.h>

#include "ax_test.h"
#include "transport/ax__link.h"

#define SIZES 6
static const size_t sizes[SIZES] = {0, 1, 100, 200, 70000, 1u << 20};

struct side {
    ax__link *link;
    int ready, closes, status;
    struct ax__link_peer peer;
    uint64_t frames, controls, next_seq, bad, drops;
    bool close_on_frame;
};

struct pair {
    const struct ax__transport *tp;
    ax_loop *loop;
    ax__listener *ln;
    struct side cli, srv;
    int guard_calls;
    struct ax__link_peer guard_saw;
    char guard_addr[AX__LINK_ADDR_MAX];
};

static void on_ready(ax__link *l, const struct ax__link_peer *peer, void *user)
{
    struct side *s = user;
    assert_ptr_equal(l, s->link);
    assert_true(l->ready);
    s->ready++;
    s->peer = *peer;
}

static bool payload_ok(const struct ax__frame_hdr *h, const uint8_t *p)
{
    for (uint32_t i = 0; i < h->payload_len; i++)
        if (p[i] != (uint8_t)(h->seq * 7 + i))
            return false;
    return true;
}

static void on_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                     ax__buf *buf, void *user)
{
    struct side *s = user;
    if (h->type == AX__FRAME_SUBSCRIBE) {
        s->controls++;
        if (h->payload_len != 5 || memcmp(payload, "hello", 5) != 0)
            s->bad++;
        return;
    }
    s->frames++;
    /* In order, intact; large payloads arrive in their own buffer. */
    if (h->type != AX__FRAME_DATA || h->seq != s->next_seq + 1 || !payload_ok(h, payload) ||
        (h->payload_len > 200000 && (!buf || buf->data != payload)))
        s->bad++;
    s->next_seq = h->seq;
    if (s->close_on_frame)
        ax__link_close(l, AX__LINK_ABORT, AX_ECLOSED); /* inside the callback: deferred */
}

static void on_drop(ax__link *l, enum ax_drop_reason reason, uint64_t n, void *user)
{
    struct side *s = user;
    (void)l;
    (void)reason;
    s->drops += n;
}

static void on_close(ax__link *l, int status, void *user)
{
    struct side *s = user;
    (void)l;
    s->closes++;
    s->status = status;
    s->link = NULL; /* gone after this returns */
}

static const struct ax__link_callbacks cbs = {
    .on_ready = on_ready, .on_frame = on_frame, .on_drop = on_drop, .on_close = on_close};

static int on_accept(ax__listener *ln, ax__link *l, void *user)
{
    struct pair *p = user;
    (void)ln;
    if (p->srv.link)
        return AX_EBUSY; /* one at a time here */
    p->srv.link = l;
    ax__link_bind(l, &cbs, &p->srv);
    return 0;
}

static int guard_refuses_13(void *ctx, const struct ax__link_peer *peer, const char *addr,
                            char *why, size_t why_len)
{
    struct pair *p = ctx;
    p->guard_calls++;
    p->guard_saw = *peer;
    snprintf(p->guard_addr, sizeof p->guard_addr, "%s", addr);
    if (peer->node_id != 13)
        return 0;
    snprintf(why, why_len, "node 13 is not on the list");
    return AX_EACCES;
}

static void options(struct ax__link_options *o, uint64_t id, uint32_t domain, const char *name)
{
    ax__link_options_init(o);
    o->self.node_id = id;
    o->self.domain = domain;
    o->self.purpose = AX__LINK_DATA;
    snprintf(o->self.node_name, sizeof o->self.node_name, "%s", name);
    o->linger_ns = 200 * AX_NS_PER_MS;
}

/* Listen with @srv_domain (and a guard when @guard), connect as node
 * @cli_id of @cli_domain. */
static void pair_open(struct pair *p, const struct ax__transport *tp, uint64_t cli_id,
                      uint32_t cli_domain, uint32_t srv_domain, bool guard)
{
    memset(p, 0, sizeof *p);
    p->tp = tp;
    AX_OK_OR_FAIL(ax_loop_new(&p->loop, NULL));
    static struct ax__link_guard g;
    g = (struct ax__link_guard){guard_refuses_13, p};
    struct ax__listen_options lo = {.on_accept = on_accept, .user = p};
    options(&lo.link, 2, srv_domain, "server");
    if (guard)
        lo.link.guard = &g;
    AX_OK_OR_FAIL(tp->listen(p->loop, tp->any_address, &lo, &p->ln));
    struct ax__link_options co;
    options(&co, cli_id, cli_domain, "client");
    AX_OK_OR_FAIL(
        tp->connect(p->loop, p->ln->ops->address(p->ln), &co, &cbs, &p->cli, &p->cli.link));
    assert_ptr_equal(p->cli.link->transport, tp);
    assert_false(p->cli.link->ready); /* not before the handshake */
}

static void pair_close(struct pair *p)
{
    if (p->cli.link)
        ax__link_close(p->cli.link, AX__LINK_ABORT, 0);
    if (p->srv.link)
        ax__link_close(p->srv.link, AX__LINK_ABORT, 0);
    p->ln->ops->close(p->ln);
    AX_STEP_UNTIL(p->loop, p->cli.closes && (p->srv.closes || !p->srv.link), 5000);
    for (int i = 0; i < 5; i++) /* the closes phase releases the rest */
        ax_loop_step(p->loop, 0);
    assert_int_equal(p->cli.closes, 1);
    assert_true(p->srv.closes <= 1);
    AX_ASSERT_LOOP_FREE(p->loop);
}

/* Frames of every size, numbered from @seq0 + 1, from @pool when given. */
static void send_frames(ax__link *l, ax__pool *pool, uint64_t seq0)
{
    for (unsigned i = 0; i < SIZES; i++) {
        ax__buf *b;
        if (pool)
            AX_OK_OR_FAIL(pool->ops->loan(pool, sizes[i], &b));
        else
            AX_OK_OR_FAIL(ax__buf_new(sizes[i], &b));
        struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .stream = 1, .seq = seq0 + i + 1};
        for (size_t k = 0; k < sizes[i]; k++)
            b->data[k] = (uint8_t)(h.seq * 7 + k);
        AX_OK_OR_FAIL(ax__link_send(l, &h, b));
        ax__buf_release(b); /* the link holds its own reference */
    }
}

static void t_handshake_frames_close(void **state)
{
    size_t n;
    const struct ax__transport *const *tps = ax__transports(&n);
    (void)state;
    for (size_t t = 0; t < n; t++) {
        struct pair p;
        pair_open(&p, tps[t], 1, 5, 5, false);
        AX_STEP_UNTIL(p.loop, p.cli.ready && p.srv.ready, 5000);
        /* Each side knows who the other is. */
        assert_int_equal(p.cli.peer.node_id, 2);
        assert_string_equal(p.cli.peer.node_name, "server");
        assert_int_equal(p.srv.peer.node_id, 1);
        assert_int_equal(p.srv.peer.purpose, AX__LINK_DATA);
        assert_string_equal(p.srv.link->peer.node_name, "client");
        assert_true(p.srv.link->peer_addr[0] != '\0');
        /* Control, then data of every size, both ways. */
        AX_OK_OR_FAIL(ax__link_send_control(p.cli.link, AX__FRAME_SUBSCRIBE, "hello", 5));
        send_frames(p.cli.link, NULL, 0);
        send_frames(p.srv.link, NULL, 0);
        AX_STEP_UNTIL(p.loop, p.srv.frames == SIZES && p.cli.frames == SIZES, 10000);
        assert_int_equal(p.srv.controls, 1);
        assert_int_equal(p.srv.bad + p.cli.bad, 0);
        struct ax__link_stats st;
        ax__link_get_stats(p.cli.link, &st);
        /* and HELLO, SUBSCRIBE; over shared memory SHM_BELL and SHM_CHAN,
         * which set up the channel the rest went through */
        assert_int_equal(st.frames_out, SIZES + 2 + (tps[t]->caps & AX__TP_LOANS ? 2 : 0));
        if (tps[t]->caps & AX__TP_LOANS) {
            /* Chunks of a pool, both ways, twice (the segments are known
             * to the peer the second time); all of them come back. */
            ax__pool *pool;
            struct ax__pool_options po = {
                .budget = 64u << 20, .min_chunk = 256, .max_chunk = 2u << 20, .segment = 1u << 20};
            AX_OK_OR_FAIL(tps[t]->pool_new(&po, &pool));
            for (uint64_t round = 1; round <= 2; round++) {
                send_frames(p.cli.link, pool, round * SIZES);
                send_frames(p.srv.link, pool, round * SIZES);
            }
            AX_STEP_UNTIL(p.loop, p.srv.frames == 3 * SIZES && p.cli.frames == 3 * SIZES, 10000);
            assert_int_equal(p.srv.bad + p.cli.bad, 0);
            struct ax__pool_stats ps;
            pool->ops->stats(pool, &ps);
            assert_int_equal(ps.loans, 4 * SIZES);
            AX_STEP_UNTIL(p.loop, (pool->ops->stats(pool, &ps), ps.out == 0), 5000);
            pool->ops->close(pool);
        }
        /* A graceful close: the peer sees a clean end, both hear it once. */
        ax__link_close(p.cli.link, AX__LINK_GRACEFUL, 0);
        assert_int_equal(
            ax__link_send(p.cli.link, &(struct ax__frame_hdr){.type = AX__FRAME_DATA}, NULL),
            AX_ECLOSED);
        AX_STEP_UNTIL(p.loop, p.cli.closes && p.srv.closes, 5000);
        assert_int_equal(p.cli.status, 0);
        assert_int_equal(p.srv.status, 0);
        pair_close(&p);
    }
}

static int accept_none(ax__listener *ln, ax__link *l, void *user)
{
    (void)ln;
    (void)l;
    (void)user;
    return AX_EBUSY;
}

static void t_connect_refused(void **state)
{
    size_t n;
    const struct ax__transport *const *tps = ax__transports(&n);
    (void)state;
    for (size_t t = 0; t < n; t++) {
        ax_loop *loop;
        AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
        /* An address nobody listens at any more. */
        ax__listener *ln;
        struct ax__listen_options lo = {.on_accept = accept_none};
        options(&lo.link, 2, 5, "gone");
        AX_OK_OR_FAIL(tps[t]->listen(loop, tps[t]->any_address, &lo, &ln));
        char addr[AX__LINK_ADDR_MAX];
        snprintf(addr, sizeof addr, "%s", ln->ops->address(ln));
        ln->ops->close(ln);
        ax_loop_step(loop, 0);
        /* The link exists at once; the failure comes as its on_close. */
        struct side s = {0};
        struct ax__link_options co;
        options(&co, 1, 5, "late");
        AX_OK_OR_FAIL(tps[t]->connect(loop, addr, &co, &cbs, &s, &s.link));
        assert_int_equal(s.closes, 0); /* never inside the call */
        AX_STEP_UNTIL(loop, s.closes == 1, 5000);
        assert_int_equal(s.ready, 0);
        assert_int_equal(s.status, AX_ECONNREFUSED);
        /* A bad address is refused at once, with no link and no callback. */
        ax__link *none = NULL;
        assert_int_equal(tps[t]->connect(loop, "not an address", &co, &cbs, &s, &none), AX_EINVAL);
        assert_null(none);
        for (int i = 0; i < 3; i++)
            ax_loop_step(loop, 0);
        assert_int_equal(s.closes, 1);
        AX_ASSERT_LOOP_FREE(loop);
    }
}

static void t_guard_and_domain_refuse(void **state)
{
    size_t n;
    const struct ax__transport *const *tps = ax__transports(&n);
    (void)state;
    for (size_t t = 0; t < n; t++) {
        /* The guard sees the peer's identity and address, and refuses. */
        struct pair p;
        pair_open(&p, tps[t], 13, 5, 5, true);
        AX_STEP_UNTIL(p.loop, p.cli.closes && p.srv.closes, 5000);
        assert_int_equal(p.guard_calls, 1);
        assert_int_equal(p.guard_saw.node_id, 13);
        assert_string_equal(p.guard_saw.node_name, "client");
        assert_true(p.guard_addr[0] != '\0');
        assert_int_equal(p.srv.ready, 0); /* never ready with a refused peer */
        assert_int_equal(p.srv.status, AX_EACCES);
        assert_int_equal(p.cli.status, AX_EACCES); /* told why */
        pair_close(&p);

        /* A peer it accepts gets through the same guard. */
        pair_open(&p, tps[t], 14, 5, 5, true);
        AX_STEP_UNTIL(p.loop, p.cli.ready && p.srv.ready, 5000);
        assert_int_equal(p.guard_calls, 1);
        pair_close(&p);

        /* Another domain is refused on both sides. */
        pair_open(&p, tps[t], 1, 6, 5, false);
        AX_STEP_UNTIL(p.loop, p.cli.closes && p.srv.closes, 5000);
        assert_int_equal(p.srv.ready, 0);
        assert_int_equal(p.srv.status, AX_EDOMAIN);
        assert_int_equal(p.cli.status, AX_EDOMAIN);
        pair_close(&p);
    }
}

static void t_overload_accounting(void **state)
{
    size_t n;
    const struct ax__transport *const *tps = ax__transports(&n);
    (void)state;
    for (size_t t = 0; t < n; t++) {
        struct pair p;
        pair_open(&p, tps[t], 1, 5, 5, false);
        AX_STEP_UNTIL(p.loop, p.cli.ready && p.srv.ready, 5000);
        /* The server stops reading; the client's queue holds 4 frames and
         * drops the newest beyond. Every frame is either queued or counted. */
        AX_OK_OR_FAIL(p.srv.link->ops->set_reading(p.srv.link, false));
        p.cli.link->ops->set_queue(p.cli.link, AX_OVERLOAD_DROP_NEWEST, 1u << 30, 4);
        ax__buf *b;
        AX_OK_OR_FAIL(ax__buf_new(64 * 1024, &b));
        memset(b->data, 0, b->len);
        uint64_t queued = 0, refused = 0;
        for (unsigned i = 0; i < 2000; i++) {
            struct ax__frame_hdr h = {.type = AX__FRAME_DATA, .seq = i + 1};
            int rc = ax__link_send(p.cli.link, &h, b);
            if (rc == 0)
                queued++;
            else if (rc == AX_EOVERFLOW)
                refused++;
            else
                fail_msg("send: %s", ax_err_name(rc));
            ax_loop_step(p.loop, 0);
        }
        ax__buf_release(b);
        assert_int_equal(queued + refused, 2000);
        assert_true(refused > 0);
        assert_int_equal(p.cli.drops, refused); /* every refusal reported */
        struct ax__link_stats st;
        ax__link_get_stats(p.cli.link, &st);
        assert_int_equal(st.drops[AX_DROP_QUEUE_NEWEST], refused);
        /* Closing inside on_frame is deferred; on_close comes once. */
        p.srv.close_on_frame = true;
        AX_OK_OR_FAIL(p.srv.link->ops->set_reading(p.srv.link, true));
        AX_STEP_UNTIL(p.loop, p.srv.closes == 1, 5000);
        assert_int_equal(p.srv.status, AX_ECLOSED);
        assert_int_equal(p.srv.frames, 1);
        pair_close(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_handshake_frames_close),
        cmocka_unit_test(t_connect_refused),
        cmocka_unit_test(t_guard_and_domain_refuse),
        cmocka_unit_test(t_overload_accounting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
