/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reactor's I/O contract, on real fds: socketpairs, pipes and loopback
 * TCP. Each test ends by freeing the loop with nothing left open.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ax_test.h"
#include "transport/ax__loop.h" /* polling counters, ax__loop_note_sent() */

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void make_socketpair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* A connected loopback TCP pair; the port is chosen by the kernel. */
static void make_tcp_pair(int *client, int *server)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 1), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
    *client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*client >= 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof a), 0);
    *server = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    assert_true(*server >= 0);
    set_nonblock(*client);
    close(lfd);
}

static void write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        assert_true(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* ---- a reader that obeys (or, as a control, breaks) the ET contract ---- */

struct reader {
    ax_io io;
    size_t chunk;    /* bytes per read() */
    unsigned budget; /* reads per callback before parking */
    bool park;       /* false: the broken handler that just returns */
    size_t total;
    unsigned calls;
    unsigned calls_with_hangup;
    bool saw_eof;
    bool closed;
    unsigned all_events;
};

static void reader_cb(ax_io *io, unsigned events, void *user)
{
    struct reader *r = user;
    char buf[65536];
    r->calls++;
    r->all_events |= events;
    if (events & AX_IO_HANGUP)
        r->calls_with_hangup++;
    if (events & AX_IO_READABLE) {
        for (unsigned i = 0;; i++) {
            if (i == r->budget) {
                if (r->park)
                    ax_io_park(io, AX_IO_READABLE | (events & AX_IO_HANGUP));
                return; /* stopped before EAGAIN: no new edge will come */
            }
            ssize_t n = read(ax_io_fd(io), buf, r->chunk);
            if (n > 0) {
                r->total += (size_t)n;
                continue;
            }
            if (n == 0)
                r->saw_eof = true;
            break; /* EAGAIN or EOF */
        }
    }
}

static void count_close(ax_io *io, void *user)
{
    (void)io;
    ((struct reader *)user)->closed = true;
}

static ax_loop *new_loop(void)
{
    ax_loop *loop;
    AX_OK_OR_FAIL(ax_loop_new(&loop, NULL));
    return loop;
}

static void test_bursts_all_read(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 100, .budget = 1000, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));

    char data[3000];
    memset(data, 'x', sizeof data);
    size_t sent = 0;
    for (int burst = 0; burst < 5; burst++) {
        write_all(sv[1], data, sizeof data);
        sent += sizeof data;
        AX_STEP_UNTIL(loop, r.total == sent, 2000);
    }
    assert_int_equal(r.total, 5 * sizeof data);

    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* One write, one edge, and a handler whose budget stops it after one small
 * read: the ready list must bring it back until everything is read. */
static void test_budget_park_gets_rest_without_new_edge(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 64, .budget = 1, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));

    char data[8192];
    memset(data, 'y', sizeof data);
    write_all(sv[1], data, sizeof data); /* the only write: a single edge */
    AX_STEP_UNTIL(loop, r.total == sizeof data, 2000);
    /* 8192 / 64 reads at one read per call: at least 128 calls, all but the
     * first from the ready list. */
    assert_true(r.calls >= sizeof data / 64);

    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* Control for the test above: a handler that stops early and does not park
 * is never called again, which proves the loop really is edge-triggered
 * (and that the previous test passes because of the ready list). */
static void test_no_park_stalls_under_et(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 64, .budget = 1, .park = false};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));
    char data[1024];
    memset(data, 'z', sizeof data);
    write_all(sv[1], data, sizeof data);
    AX_STEP_UNTIL(loop, r.calls == 1, 2000);
    for (int i = 0; i < 20; i++)
        assert_true(ax_loop_step(loop, 0) >= 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.total, 64);

    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* EPOLLIN | EPOLLOUT | EPOLLRDHUP in one event, on loopback TCP: the data is
 * delivered before the hangup is acted on, and the writable bit is not lost. */
static void test_in_out_rdhup_in_one_event(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int client, server;
    make_tcp_pair(&client, &server);
    /* Make everything happen before the loop looks: data, then FIN. */
    char data[5000];
    memset(data, 'q', sizeof data);
    write_all(client, data, sizeof data);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    /* Wait until the FIN has arrived (poll reports POLLRDHUP). */
    struct pollfd p = {.fd = server, .events = POLLRDHUP};
    assert_int_equal(poll(&p, 1, 2000), 1);

    struct reader r = {.chunk = 65536, .budget = 1000, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, server, AX_IO_READABLE | AX_IO_WRITABLE, reader_cb, &r));
    AX_STEP_UNTIL(loop, r.calls >= 1, 2000);
    assert_int_equal(r.calls, 1);
    assert_true(r.all_events & AX_IO_READABLE);
    assert_true(r.all_events & AX_IO_WRITABLE);
    assert_true(r.all_events & AX_IO_HANGUP);
    /* The handler read everything, and only then the EOF. */
    assert_int_equal(r.total, sizeof data);
    assert_true(r.saw_eof);

    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(client);
    AX_ASSERT_LOOP_FREE(loop);
}

/* EPOLLOUT is registered only while asked for. */
struct writer_probe {
    ax_io io;
    unsigned writable_calls;
    bool closed;
};

static void writer_probe_cb(ax_io *io, unsigned events, void *user)
{
    (void)io;
    struct writer_probe *w = user;
    if (events & AX_IO_WRITABLE)
        w->writable_calls++;
}

static void writer_probe_close(ax_io *io, void *user)
{
    (void)io;
    ((struct writer_probe *)user)->closed = true;
}

static void test_writable_only_while_asked(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int sv[2];
    make_socketpair(sv);
    struct writer_probe w = {0};
    AX_OK_OR_FAIL(ax_io_init(loop, &w.io, sv[0], AX_IO_READABLE, writer_probe_cb, &w));
    for (int i = 0; i < 5; i++)
        assert_true(ax_loop_step(loop, 0) >= 0);
    assert_int_equal(w.writable_calls, 0);

    AX_OK_OR_FAIL(ax_io_set_events(&w.io, AX_IO_READABLE | AX_IO_WRITABLE));
    assert_int_equal(ax_io_events(&w.io), AX_IO_READABLE | AX_IO_WRITABLE);
    AX_STEP_UNTIL(loop, w.writable_calls == 1, 1000);

    /* Fill the socket, disarm, then let the peer drain it: that is a new
     * writable edge, which must not be reported now. */
    char buf[4096];
    memset(buf, 0, sizeof buf);
    while (write(sv[0], buf, sizeof buf) > 0) {
    }
    AX_OK_OR_FAIL(ax_io_set_events(&w.io, AX_IO_READABLE));
    while (read(sv[1], buf, sizeof buf) > 0) {
    }
    for (int i = 0; i < 5; i++)
        assert_true(ax_loop_step(loop, 0) >= 0);
    assert_int_equal(w.writable_calls, 1);

    ax_io_close(&w.io, writer_probe_close);
    assert_int_equal(ax_io_set_events(&w.io, AX_IO_READABLE), AX_ECLOSED);
    AX_STEP_UNTIL(loop, w.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* A handler closed inside another handler's callback while its own event
 * sits later in the same batch; its fd number is reused at once. */
struct victim {
    ax_io io;
    int id;
    unsigned calls;
    struct victim *other;  /* closed by whichever runs first */
    struct victim **fresh; /* the new handler on the reused fd */
    int *reused_fd;
    int closed_fd;
    ax_loop *loop;
};

static int fresh_calls;
static int freed_count;
static int victim_calls;
static struct victim *victim_ran; /* the one that ran (and survived) */

static void fresh_cb(ax_io *io, unsigned events, void *user)
{
    (void)user;
    char b[16];
    fresh_calls++;
    if (events & AX_IO_READABLE)
        while (read(ax_io_fd(io), b, sizeof b) > 0) {
        }
}

static void victim_free(ax_io *io, void *user)
{
    (void)io;
    freed_count++;
    free(user);
}

static void victim_cb(ax_io *io, unsigned events, void *user)
{
    struct victim *v = user;
    char b[16];
    v->calls++;
    victim_calls++;
    victim_ran = v;
    while (read(ax_io_fd(io), b, sizeof b) > 0) {
    }
    if (v->other) {
        struct victim *o = v->other;
        o->other = NULL;
        v->other = NULL;
        *v->reused_fd = ax_io_fd(&o->io);
        ax_io_close(&o->io, victim_free);
        /* The lowest free fd is handed out next: the victim's number. */
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        struct victim *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->closed_fd = sv[1];
        AX_OK_OR_FAIL(ax_io_init(v->loop, &f->io, sv[0], AX_IO_READABLE, fresh_cb, f));
        *v->fresh = f;
    }
    (void)events;
}

static void test_close_in_callback_same_batch_fd_reuse(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int a[2], b[2];
    make_socketpair(a);
    make_socketpair(b);
    struct victim *va = calloc(1, sizeof *va), *vb = calloc(1, sizeof *vb);
    struct victim *fresh = NULL;
    int reused = -1;
    assert_non_null(va);
    assert_non_null(vb);
    *va =
        (struct victim){.id = 1, .other = vb, .fresh = &fresh, .reused_fd = &reused, .loop = loop};
    *vb =
        (struct victim){.id = 2, .other = va, .fresh = &fresh, .reused_fd = &reused, .loop = loop};
    AX_OK_OR_FAIL(ax_io_init(loop, &va->io, a[0], AX_IO_READABLE, victim_cb, va));
    AX_OK_OR_FAIL(ax_io_init(loop, &vb->io, b[0], AX_IO_READABLE, victim_cb, vb));
    /* Both readable before the loop looks: both events land in one batch. */
    write_all(a[1], "1", 1);
    write_all(b[1], "2", 1);
    fresh_calls = 0;
    freed_count = 0;
    victim_calls = 0;
    victim_ran = NULL;
    assert_true(ax_loop_step(loop, 1000) >= 0);

    /* Exactly one victim ran; the other was closed (and freed in the closes
     * phase of the same step, so ASan would flag any later touch) without
     * its stale event being dispatched, to it or to the fd's new owner. */
    assert_int_equal(victim_calls, 1);
    assert_int_equal(freed_count, 1);
    struct victim *survivor = victim_ran;
    assert_non_null(survivor);
    assert_non_null(fresh);
    assert_int_equal(ax_io_fd(&fresh->io), reused);
    assert_int_equal(fresh_calls, 0);

    /* The new handler on the reused fd works with its own events. */
    write_all(fresh->closed_fd, "n", 1);
    AX_STEP_UNTIL(loop, fresh_calls == 1, 1000);

    close(fresh->closed_fd);
    ax_io_close(&fresh->io, victim_free);
    ax_io_close(&survivor->io, victim_free);
    AX_STEP_UNTIL(loop, freed_count == 3, 1000);
    close(a[1]);
    close(b[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* The loop's own fd can be embedded in an outer poll() loop. */
static bool embed_task_ran;

static void embed_task(void *arg)
{
    (void)arg;
    embed_task_ran = true;
}

static void *embed_poster(void *arg)
{
    ax_loop_post(arg, embed_task, NULL);
    return NULL;
}

static void test_embed_fd_wakes_outer_poll(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int fd = ax_loop_fd(loop);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0); /* idle: not readable */

    pthread_t th;
    embed_task_ran = false;
    assert_int_equal(pthread_create(&th, NULL, embed_poster, loop), 0);
    assert_int_equal(poll(&p, 1, 5000), 1); /* a post from elsewhere wakes it */
    pthread_join(th, NULL);
    while (ax_loop_step(loop, 0) > 0) {
    }
    assert_true(embed_task_ran);

    AX_ASSERT_LOOP_FREE(loop);
}

static void embed_timer_cb(ax_timer *t, void *user)
{
    (void)t;
    (*(int *)user)++;
}

static void test_embed_timer_wakes_outer_poll(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int fired = 0;
    ax_timer t;
    AX_OK_OR_FAIL(ax_timer_init(loop, &t, embed_timer_cb, &fired));
    int64_t t0 = ax_clock_mono_ns(); /* before the start: the deadline is >= t0 + 20 ms */
    AX_OK_OR_FAIL(ax_timer_start(&t, 20 * AX_NS_PER_MS, 0));
    struct pollfd p = {.fd = ax_loop_fd(loop), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(ax_clock_mono_ns() - t0 >= 20 * AX_NS_PER_MS);
    while (ax_loop_step(loop, 0) > 0) {
    }
    assert_int_equal(fired, 1);
    AX_ASSERT_LOOP_FREE(loop);
}

/* Busy polling (struct ax_loop_options.busy_poll_ns): I/O, timers and the
 * step's timeout all end the polling phase. The poll window here is 10 s,
 * so a phase that ignored them would hold a step for 10 s; 5 s is the
 * bound asserted. */
static ax_loop *new_busy_loop(void)
{
    struct ax_loop_options o;
    ax_loop_options_init(&o);
    o.busy_poll_ns = -1;
    ax_loop *loop = NULL;
    assert_int_equal(ax_loop_new(&loop, &o), AX_EINVAL);
    o.busy_poll_ns = 10 * AX_NS_PER_S;
    AX_OK_OR_FAIL(ax_loop_new(&loop, &o));
    return loop;
}

static void *busy_writer(void *arg)
{
    write_all(*(int *)arg, "ping", 4);
    return NULL;
}

static void test_busy_poll_ends_on_io_timer_and_timeout(void **state)
{
    (void)state;
    ax_loop *loop = new_busy_loop();

    /* I/O written by another thread while the loop polls. */
    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 100, .budget = 1000, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));
    pthread_t th;
    int64_t t0 = ax_clock_mono_ns();
    assert_int_equal(pthread_create(&th, NULL, busy_writer, &sv[1]), 0);
    while (r.total < 4 && ax_clock_mono_ns() - t0 < 5 * AX_NS_PER_S)
        assert_true(ax_loop_step(loop, -1) >= 0);
    pthread_join(th, NULL);
    assert_int_equal(r.total, 4);

    /* A timer that falls due while the loop polls. */
    int fired = 0;
    ax_timer t;
    AX_OK_OR_FAIL(ax_timer_init(loop, &t, embed_timer_cb, &fired));
    AX_OK_OR_FAIL(ax_timer_start(&t, 20 * AX_NS_PER_MS, 0));
    t0 = ax_clock_mono_ns();
    while (!fired && ax_clock_mono_ns() - t0 < 5 * AX_NS_PER_S)
        assert_true(ax_loop_step(loop, -1) >= 0);
    assert_int_equal(fired, 1);
    assert_true(ax_clock_mono_ns() - t0 < 5 * AX_NS_PER_S);

    /* Nothing at all: the step's own timeout bounds the polling. */
    t0 = ax_clock_mono_ns();
    assert_int_equal(ax_loop_step(loop, 20), 0);
    int64_t took = ax_clock_mono_ns() - t0;
    assert_true(took >= 20 * AX_NS_PER_MS);
    assert_true(took < 5 * AX_NS_PER_S);
    assert_int_equal(r.total, 4);

    ax_timer_stop(&t); /* fired: a no-op, for symmetry with the start */
    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

/* Adaptive polling (struct ax_loop_options.adaptive_poll_ns): a loop polls
 * only after it sent something and only while answers have come back
 * within the limit; one wait without an answer stops it. The limit here is
 * 200 ms so that a slow machine (sanitizers, qemu) still answers "quickly";
 * nothing below depends on how fast the answers really are, except that
 * each comes within 200 ms. */
struct echo {
    int fd;
    int rounds;
};

static void *echo_main(void *arg)
{
    struct echo *e = arg;
    int64_t end = ax_clock_mono_ns() + 20 * AX_NS_PER_S;
    for (int i = 0; i < e->rounds && ax_clock_mono_ns() < end;) {
        struct pollfd p = {.fd = e->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char c;
        if (read(e->fd, &c, 1) == 1) {
            write_all(e->fd, &c, 1);
            i++;
        }
    }
    return NULL;
}

static void test_adaptive_poll_follows_answers(void **state)
{
    (void)state;
    struct ax_loop_options o;
    ax_loop_options_init(&o);
    assert_int_equal(o.adaptive_poll_ns, AX_LOOP_ADAPTIVE_POLL_DEFAULT_NS);
    ax_loop *loop = NULL;
    o.adaptive_poll_ns = -1;
    assert_int_equal(ax_loop_new(&loop, &o), AX_EINVAL);
    o.adaptive_poll_ns = 2 * AX_NS_PER_S;
    assert_int_equal(ax_loop_new(&loop, &o), AX_EINVAL);
    o.adaptive_poll_ns = 200 * AX_NS_PER_MS;
    AX_OK_OR_FAIL(ax_loop_new(&loop, &o));

    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 100, .budget = 1000, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));

    /* Waits that follow no send never poll. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(ax_loop_step(loop, 1), 0);
    assert_int_equal(loop->polled_waits, 0);

    /* Request/answer rounds: once a few answers came quickly, the waits
     * for the next ones poll (and, when the echo thread is scheduled in
     * time, get their answer while polling). */
    enum { ROUNDS = 40 };
    struct echo e = {.fd = sv[1], .rounds = ROUNDS};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, echo_main, &e), 0);
    for (int i = 0; i < ROUNDS; i++) {
        write_all(sv[0], "x", 1);
        ax__loop_note_sent(loop);
        int64_t end = ax_clock_mono_ns() + 10 * AX_NS_PER_S;
        while (r.total < (size_t)i + 1 && ax_clock_mono_ns() < end)
            assert_true(ax_loop_step(loop, 100) >= 0);
        assert_int_equal(r.total, (size_t)i + 1);
    }
    pthread_join(th, NULL);
    /* The average starts at 4 limits and falls by a quarter per quick
     * answer: under the limit after at most 5 rounds. */
    assert_true(loop->polled_waits >= ROUNDS - 6);
    assert_true(loop->poll_hits >= 1);

    /* A send with no answer: this wait polls, misses, and sleeps to its
     * timeout; the miss counts as four limits, so the next wait after a
     * send does not poll. */
    uint64_t polled = loop->polled_waits;
    ax__loop_note_sent(loop);
    assert_int_equal(ax_loop_step(loop, 10), 0);
    assert_int_equal(loop->polled_waits, polled + 1);
    ax__loop_note_sent(loop);
    assert_int_equal(ax_loop_step(loop, 10), 0);
    assert_int_equal(loop->polled_waits, polled + 1);

    ax_io_close(&r.io, count_close);
    AX_STEP_UNTIL(loop, r.closed, 1000);
    close(sv[1]);
    AX_ASSERT_LOOP_FREE(loop);
}

static void test_free_refuses_open_handles(void **state)
{
    (void)state;
    ax_loop *loop = new_loop();
    int sv[2];
    make_socketpair(sv);
    struct reader r = {.chunk = 16, .budget = 4, .park = true};
    AX_OK_OR_FAIL(ax_io_init(loop, &r.io, sv[0], AX_IO_READABLE, reader_cb, &r));
    assert_int_equal(ax_loop_open_count(loop), 1);
    assert_int_equal(ax_loop_free(loop), AX_EBUSY);

    /* Invalid registrations fail cleanly and leave nothing behind. */
    struct reader bad = {0};
    assert_int_equal(ax_io_init(loop, &bad.io, -1, AX_IO_READABLE, reader_cb, &bad), AX_EINVAL);
    assert_int_equal(ax_io_init(loop, &bad.io, sv[0], AX_IO_READABLE, reader_cb, &bad), AX_EEXIST);
    char path[] = "/tmp/axon-loop-test-XXXXXX";
    int file = mkstemp(path);
    assert_true(file >= 0);
    unlink(path);
    assert_int_equal(ax_io_init(loop, &bad.io, file, AX_IO_READABLE, reader_cb, &bad), AX_ENOTSUP);
    close(file);
    assert_int_equal(ax_loop_open_count(loop), 1);

    /* Closing outside any callback: the close callback runs in the next
     * step, or in ax_loop_free itself. */
    ax_io_close(&r.io, count_close);
    ax_io_close(&r.io, count_close); /* second close: no-op */
    assert_false(r.closed);
    close(sv[1]);
    AX_OK_OR_FAIL(ax_loop_free(loop));
    assert_true(r.closed);
}

static void test_error_table(void **state)
{
    (void)state;
    assert_string_equal(ax_err_name(0), "AX_OK");
    assert_string_equal(ax_err_name(AX_EINVAL), "AX_EINVAL");
    assert_int_equal(AX_EINVAL, -1);
    assert_string_equal(ax_err_name(AX_ESYS), "AX_ESYS");
    assert_string_equal(ax_err_name(12345), "AX_EUNKNOWN");
    assert_string_equal(ax_strerror(-100000), "unknown error");
    assert_string_equal(ax_strerror(AX_ECONNREFUSED), "connection refused");
    assert_int_equal(ax_err_from_errno(ECONNREFUSED), AX_ECONNREFUSED);
    assert_int_equal(ax_err_from_errno(EWOULDBLOCK), AX_EAGAIN);
    assert_int_equal(ax_err_from_errno(EMFILE), AX_EMFILE);
    assert_int_equal(ax_err_from_errno(EXDEV), AX_ESYS);
    /* Every code has a distinct name and a message. */
    for (int e = -1; e >= AX_ESYS; e--) {
        assert_string_not_equal(ax_err_name(e), "AX_EUNKNOWN");
        assert_string_not_equal(ax_strerror(e), "unknown error");
        for (int f = e - 1; f >= AX_ESYS; f--)
            assert_string_not_equal(ax_err_name(e), ax_err_name(f));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bursts_all_read),
        cmocka_unit_test(test_budget_park_gets_rest_without_new_edge),
        cmocka_unit_test(test_no_park_stalls_under_et),
        cmocka_unit_test(test_in_out_rdhup_in_one_event),
        cmocka_unit_test(test_writable_only_while_asked),
        cmocka_unit_test(test_close_in_callback_same_batch_fd_reuse),
        cmocka_unit_test(test_embed_fd_wakes_outer_poll),
        cmocka_unit_test(test_embed_timer_wakes_outer_poll),
        cmocka_unit_test(test_busy_poll_ends_on_io_timer_and_timeout),
        cmocka_unit_test(test_adaptive_poll_follows_answers),
        cmocka_unit_test(test_free_refuses_open_handles),
        cmocka_unit_test(test_error_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
