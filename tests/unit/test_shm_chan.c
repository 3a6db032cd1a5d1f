/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared-memory channel's rings (transport/shm/chan.c), without a
 * link: bytes in order across the wrap, a full ring and an empty one and
 * the bells they ring, a peer that lies about its index, a ring or a bell
 * that is not what it says. And a writer thread and a reader thread on
 * two mappings of the same rings, each waiting on its eventfd as a loop
 * would: every byte arrives, in order, and no wake-up is lost (run under
 * TSan too: the ring's ordering is C11 atomics, which it checks).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ax_test.h"
#include "transport/shm/ax__shm.h"

#define SIZE 4096u

struct pair {
    struct ax__shm_chan *a, *b; /* a writes to b, b to a */
    int bell_a, bell_b;         /* a's bell: b rings it */
};

static void pair_open(struct pair *p, uint32_t size)
{
    const char *why = NULL;
    AX_OK_OR_FAIL(ax__shm_chan_new(size, &p->a, &p->bell_a));
    AX_OK_OR_FAIL(ax__shm_chan_new(size, &p->b, &p->bell_b));
    AX_OK_OR_FAIL(ax__shm_chan_peer_bell(p->a, dup(p->bell_b), &why));
    AX_OK_OR_FAIL(ax__shm_chan_peer_bell(p->b, dup(p->bell_a), &why));
    AX_OK_OR_FAIL(ax__shm_chan_map_in(p->b, size, dup(ax__shm_chan_out_fd(p->a)), &why));
    AX_OK_OR_FAIL(ax__shm_chan_map_in(p->a, size, dup(ax__shm_chan_out_fd(p->b)), &why));
}

static void pair_close(struct pair *p)
{
    ax__shm_chan_free(p->a);
    ax__shm_chan_free(p->b);
    close(p->bell_a);
    close(p->bell_b);
}

/* How many times @bell rang since the last look (0: none). */
static uint64_t rang(int bell)
{
    uint64_t n = 0;
    return read(bell, &n, sizeof n) == (ssize_t)sizeof n ? n : 0;
}

static ssize_t put(struct ax__shm_chan *ch, const uint8_t *p, size_t n)
{
    /* Two iovecs, to cross both an iovec's end and the ring's. */
    struct iovec iov[2] = {{(void *)p, n / 3}, {(void *)(p + n / 3), n - n / 3}};
    return ax__shm_chan_ops.writev(ch, iov, 2, false);
}

static ssize_t get(struct ax__shm_chan *ch, uint8_t *p, size_t n)
{
    return ax__shm_chan_ops.read(ch, p, n);
}

/* Bytes in order across the wrap; the bells ring when, and only when,
 * the other side said it waits. */
static void t_bytes_and_bells(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, SIZE);
    uint8_t out[3 * SIZE], in[3 * SIZE];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i * 31 + 7);

    /* Empty: nothing, and b now sleeps. */
    errno = 0;
    assert_int_equal(get(p.b, in, 10), -1);
    assert_int_equal(errno, EAGAIN);
    /* A write wakes it, once. */
    assert_int_equal(put(p.a, out, 1000), 1000);
    assert_int_equal(rang(p.bell_b), 1);
    assert_int_equal(put(p.a, out + 1000, 1000), 1000);
    assert_int_equal(rang(p.bell_b), 0); /* awake: no syscall for it */
    assert_int_equal(get(p.b, in, 2000), 2000);
    assert_memory_equal(in, out, 2000);

    /* Across the wrap, and full: a short write, then none; a read makes
     * room and rings a's bell. */
    assert_int_equal(put(p.a, out + 2000, 3000), 3000); /* 2000..5000 wraps at 4096 */
    assert_int_equal(put(p.a, out + 5000, 3000), SIZE - 3000);
    errno = 0;
    assert_int_equal(put(p.a, out, 10), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(rang(p.bell_a), 0);
    size_t got = 0;
    ssize_t n = get(p.b, in, 100);
    assert_int_equal(n, 100);
    assert_int_equal(rang(p.bell_a), 1); /* a waited for room */
    got += 100;
    n = get(p.b, in + got, sizeof in - got); /* short: all there was */
    assert_int_equal(n, SIZE - 100);
    got += (size_t)n;
    assert_memory_equal(in, out + 2000, got);
    errno = 0;
    assert_int_equal(get(p.b, in, 1), -1);
    assert_int_equal(errno, EAGAIN);
    pair_close(&p);
}

/* Each side believes the other's index only within the ring's size. */
static void t_lies(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, SIZE);
    size_t map = sizeof(struct ax__shm_chan_ring) + SIZE;
    struct ax__shm_chan_ring *r =
        mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, ax__shm_chan_out_fd(p.a), 0);
    assert_true(r != MAP_FAILED);
    uint8_t buf[64] = {0};
    /* A head further than the ring holds: the reader refuses. */
    atomic_store(&r->head, SIZE + 1);
    errno = 0;
    assert_int_equal(get(p.b, buf, sizeof buf), -1);
    assert_int_equal(errno, EPROTO);
    atomic_store(&r->head, 0);
    /* A tail ahead of what was written: the writer refuses. */
    atomic_store(&r->tail, 5);
    errno = 0;
    assert_int_equal(put(p.a, buf, sizeof buf), -1);
    assert_int_equal(errno, EPROTO);
    munmap(r, map);
    pair_close(&p);
}

/* A ring or a bell that is not what it says is refused, and its
 * descriptor closed. */
static void t_bad_setup(void **state)
{
    (void)state;
    struct ax__shm_chan *a, *b;
    int bell_a, bell_b;
    const char *why = NULL;
    AX_OK_OR_FAIL(ax__shm_chan_new(SIZE, &a, &bell_a));
    AX_OK_OR_FAIL(ax__shm_chan_new(SIZE, &b, &bell_b));
    assert_int_equal(ax__shm_chan_new(3000, &a, &bell_a), AX_EINVAL);
    int out = ax__shm_chan_out_fd(a);
    /* A ring before its bell. */
    assert_int_equal(ax__shm_chan_map_in(b, SIZE, dup(out), &why), AX_EPROTO);
    /* A bell that is a pipe. */
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    close(pp[0]);
    assert_int_equal(ax__shm_chan_peer_bell(b, pp[1], &why), AX_EPROTO);
    assert_int_equal(fcntl(pp[1], F_GETFD), -1); /* closed */
    AX_OK_OR_FAIL(ax__shm_chan_peer_bell(b, dup(bell_a), &why));
    assert_int_equal(ax__shm_chan_peer_bell(b, dup(bell_a), &why), AX_EPROTO); /* a second */
    /* Sizes: not a power of two, not the memfd's, a memfd not sealed. */
    assert_int_equal(ax__shm_chan_map_in(b, 3000, dup(out), &why), AX_EPROTO);
    assert_int_equal(ax__shm_chan_map_in(b, 2 * SIZE, dup(out), &why), AX_EPROTO);
    int bare = memfd_create("test", MFD_CLOEXEC);
    assert_true(bare >= 0);
    assert_int_equal(ftruncate(bare, sizeof(struct ax__shm_chan_ring) + SIZE), 0);
    assert_int_equal(ax__shm_chan_map_in(b, SIZE, bare, &why), AX_EPROTO);
    AX_OK_OR_FAIL(ax__shm_chan_map_in(b, SIZE, dup(out), &why));
    assert_int_equal(ax__shm_chan_map_in(b, SIZE, dup(out), &why), AX_EPROTO); /* a second */
    ax__shm_chan_free(a);
    ax__shm_chan_free(b);
    close(bell_a);
    close(bell_b);
}

/* ---- two threads, as two processes' loops would be ---- */

#define STRESS_BYTES (8u << 20)

struct side {
    struct ax__shm_chan *ch;
    int bell;
    uint64_t waits; /* times it slept on its bell */
    bool ok;
};

static void wait_bell(struct side *s)
{
    struct pollfd pfd = {.fd = s->bell, .events = POLLIN};
    /* Bounded: a lost wake-up fails the test instead of hanging it. */
    int n = poll(&pfd, 1, 5000);
    assert_int_equal(n, 1);
    (void)rang(s->bell);
    s->waits++;
}

static void *writer(void *arg)
{
    struct side *s = arg;
    uint8_t chunk[1500];
    uint32_t x = 1;
    for (size_t sent = 0; sent < STRESS_BYTES;) {
        size_t n = 1 + (x = x * 1103515245u + 12345u) % sizeof chunk;
        if (n > STRESS_BYTES - sent)
            n = STRESS_BYTES - sent;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (uint8_t)((sent + i) * 13);
        size_t done = 0;
        while (done < n) {
            ssize_t k = put(s->ch, chunk + done, n - done);
            if (k < 0) {
                assert_int_equal(errno, EAGAIN);
                wait_bell(s);
                continue;
            }
            done += (size_t)k;
        }
        sent += n;
    }
    s->ok = true;
    return NULL;
}

static void *reader(void *arg)
{
    struct side *s = arg;
    uint8_t buf[2048];
    for (size_t got = 0; got < STRESS_BYTES;) {
        ssize_t k = get(s->ch, buf, sizeof buf);
        if (k < 0) {
            assert_int_equal(errno, EAGAIN);
            wait_bell(s);
            continue;
        }
        for (ssize_t i = 0; i < k; i++)
            if (buf[i] != (uint8_t)((got + (size_t)i) * 13))
                return NULL; /* s->ok stays false */
        got += (size_t)k;
    }
    s->ok = true;
    return NULL;
}

static void t_two_threads(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, SIZE);
    struct side w = {.ch = p.a, .bell = p.bell_a}, r = {.ch = p.b, .bell = p.bell_b};
    pthread_t tw, tr;
    assert_int_equal(pthread_create(&tr, NULL, reader, &r), 0);
    assert_int_equal(pthread_create(&tw, NULL, writer, &w), 0);
    pthread_join(tw, NULL);
    pthread_join(tr, NULL);
    assert_true(w.ok);
    assert_true(r.ok);
    /* 8 MiB through 4 KiB: the writer waited for room, the reader for bytes. */
    assert_true(w.waits > 0);
    pair_close(&p);
}

static ssize_t put_quiet(struct ax__shm_chan *ch, const uint8_t *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    return ax__shm_chan_ops.writev(ch, &iov, 1, true);
}

/* Quiet frames (a subscriber's RELEASE) leave a sleeping reader asleep and
 * its bell for the next ordinary frame; they wake a reader that wants
 * them, until it reads; want says whether they came already (nothing
 * rings for those); the nudge wakes a reader that left them unread, and
 * only it. */
static void t_quiet(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, SIZE);
    uint8_t out[64], in[256];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)i;

    assert_int_equal(get(p.b, in, 10), -1); /* b sleeps */
    assert_false(ax__shm_chan_ops.unread(p.b));
    assert_int_equal(put_quiet(p.a, out, 64), 64);
    assert_int_equal(rang(p.bell_b), 0);
    assert_true(ax__shm_chan_ops.unread(p.b));
    assert_int_equal(put(p.a, out, 64), 64); /* an ordinary one rings for both */
    assert_int_equal(rang(p.bell_b), 1);
    assert_int_equal(get(p.b, in, sizeof in), 128);
    assert_memory_equal(in, out, 64);
    assert_false(ax__shm_chan_ops.unread(p.b));

    /* Wanted: the quiet one rings, once; a read ends the want. */
    assert_int_equal(get(p.b, in, 10), -1);
    assert_false(ax__shm_chan_ops.want(p.b)); /* nothing there yet */
    assert_int_equal(put_quiet(p.a, out, 64), 64);
    assert_int_equal(rang(p.bell_b), 1);
    assert_int_equal(get(p.b, in, sizeof in), 64);
    assert_int_equal(get(p.b, in, 10), -1);
    assert_int_equal(put_quiet(p.a, out, 64), 64);
    assert_int_equal(rang(p.bell_b), 0);
    assert_true(ax__shm_chan_ops.want(p.b)); /* there already: read it */
    assert_int_equal(get(p.b, in, sizeof in), 64);

    /* The nudge: unread and asleep rings, once; read, it is silent. */
    assert_int_equal(get(p.b, in, 10), -1);
    assert_int_equal(put_quiet(p.a, out, 64), 64);
    assert_int_equal(rang(p.bell_b), 0);
    ax__shm_chan_ops.nudge(p.a);
    assert_int_equal(rang(p.bell_b), 1);
    ax__shm_chan_ops.nudge(p.a);
    assert_int_equal(rang(p.bell_b), 0);
    assert_int_equal(get(p.b, in, sizeof in), 64);
    assert_int_equal(get(p.b, in, 10), -1);
    ax__shm_chan_ops.nudge(p.a);
    assert_int_equal(rang(p.bell_b), 0);

    /* A reader that does not say it reads them unasked (an older one) is
     * woken for them as for any frame. */
    size_t map = sizeof(struct ax__shm_chan_ring) + SIZE;
    struct ax__shm_chan_ring *r =
        mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, ax__shm_chan_out_fd(p.a), 0);
    assert_true(r != MAP_FAILED);
    assert_int_equal(atomic_load(&r->reader_caps), AX__SHM_CHAN_READS_QUIET);
    atomic_store(&r->reader_caps, 0);
    assert_int_equal(put_quiet(p.a, out, 64), 64);
    assert_int_equal(rang(p.bell_b), 1);
    munmap(r, map);
    pair_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_bytes_and_bells), cmocka_unit_test(t_lies),
        cmocka_unit_test(t_quiet),           cmocka_unit_test(t_bad_setup),
        cmocka_unit_test(t_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
