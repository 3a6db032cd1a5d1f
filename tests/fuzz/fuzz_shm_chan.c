/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the shared-memory channel's rings
 * (transport/shm/chan.c) against a hostile peer: the peer shares the
 * rings' memory, so it can set any index and any flag at any moment, and
 * write what it likes where it likes. This side reads and writes through
 * the channel's operations as the link's stream does.
 *
 * Input: a sequence of operations, each an opcode byte and its arguments
 * (missing bytes read as 0):
 *   0  the peer writes n bytes (a byte: n and whether quietly) honestly
 *      into our incoming ring
 *   1  we read up to n bytes (two bytes)
 *   2  we write n bytes (two bytes; odd n quietly), in up to three iovecs
 *   3  the peer reads n bytes (a byte) honestly from our outgoing ring
 *   4  the peer sets an index or a flag (which: a byte; value: four bytes)
 *   5  we want quiet frames, look for bytes, or nudge the peer (a byte)
 *   6  the peer scribbles a byte anywhere in a ring's data (offset, value)
 *
 * Properties, besides "no crash, no undefined behaviour, no leak":
 *  - a read returns at most what was asked, a write at most what was given;
 *  - while the peer has not touched an index, what we read is exactly what
 *    it wrote, in order (unless it scribbled over the data), and a read or
 *    a write fails only with EAGAIN (nothing, no room);
 *  - once it has, a failure is EAGAIN or EPROTO, nothing else.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "transport/shm/ax__shm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIZE 4096u
#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "fuzz_shm_chan: " __VA_ARGS__);                                            \
        abort();                                                                                   \
    } while (0)

struct in {
    const uint8_t *p;
    size_t n;
};

static uint8_t u8(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint32_t u32(struct in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)u8(in) << (8 * i);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};
    /* Ours (us) and the peer's (them), set up as two links would. */
    struct ax__shm_chan *us, *them;
    int bell_us, bell_them;
    const char *why;
    if (ax__shm_chan_new(SIZE, &us, &bell_us) < 0)
        return 0;
    if (ax__shm_chan_new(SIZE, &them, &bell_them) < 0) {
        ax__shm_chan_free(us);
        close(bell_us);
        return 0;
    }
    if (ax__shm_chan_peer_bell(us, dup(bell_them), &why) < 0 ||
        ax__shm_chan_peer_bell(them, dup(bell_us), &why) < 0 ||
        ax__shm_chan_map_in(us, SIZE, dup(ax__shm_chan_out_fd(them)), &why) < 0 ||
        ax__shm_chan_map_in(them, SIZE, dup(ax__shm_chan_out_fd(us)), &why) < 0)
        FAIL("setup: %s\n", why);
    /* The peer's own view of both rings, for its tampering. */
    size_t map = sizeof(struct ax__shm_chan_ring) + SIZE;
    struct ax__shm_chan_ring *r[2] = {
        mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, ax__shm_chan_out_fd(them), 0),
        mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, ax__shm_chan_out_fd(us), 0)};
    if (r[0] == MAP_FAILED || r[1] == MAP_FAILED)
        FAIL("mmap\n");
    static uint8_t buf[65536];
    uint64_t sent = 0, got = 0; /* bytes the honest peer wrote to us, and we read */
    bool lied = false, scribbled = false;
    for (int ops = 0; ops < 256 && in.n; ops++) {
        uint8_t op = u8(&in) % 7;
        ssize_t k;
        switch (op) {
        case 0: { /* the peer writes */
            uint8_t x = u8(&in);
            size_t n = (x >> 1) + 1u;
            for (size_t i = 0; i < n; i++)
                buf[i] = (uint8_t)((sent + i) * 7 + 1);
            struct iovec iov = {buf, n};
            k = ax__shm_chan_ops.writev(them, &iov, 1, x & 1); /* quiet or not */
            if (k > 0)
                sent += (uint64_t)k;
            break;
        }
        case 1: { /* we read */
            size_t n = (size_t)u8(&in) << 8 | u8(&in);
            n = n % sizeof buf + 1;
            k = ax__shm_chan_ops.read(us, buf, n);
            if (k > (ssize_t)n)
                FAIL("read %zd of %zu\n", k, n);
            if (k < 0 && errno != EAGAIN && !(lied && errno == EPROTO))
                FAIL("read failed with %d\n", errno);
            for (ssize_t i = 0; k > 0 && !lied && !scribbled && i < k; i++)
                if (buf[i] != (uint8_t)((got + (uint64_t)i) * 7 + 1))
                    FAIL("byte %llu is not what was written\n",
                         (unsigned long long)(got + (uint64_t)i));
            if (k > 0)
                got += (uint64_t)k;
            if (!lied && got > sent)
                FAIL("read more than was written\n");
            break;
        }
        case 2: { /* we write */
            size_t n = ((size_t)u8(&in) << 8 | u8(&in)) % sizeof buf + 1;
            size_t a = n / 3, b = n / 2;
            struct iovec iov[3] = {{buf, a}, {buf + a, b - a}, {buf + b, n - b}};
            k = ax__shm_chan_ops.writev(us, iov, 3, n & 1);
            if (k > (ssize_t)n)
                FAIL("wrote %zd of %zu\n", k, n);
            if (k < 0 && errno != EAGAIN && !(lied && errno == EPROTO))
                FAIL("write failed with %d\n", errno);
            break;
        }
        case 3: { /* the peer reads */
            size_t n = u8(&in) + 1u;
            (void)ax__shm_chan_ops.read(them, buf, n);
            break;
        }
        case 4: { /* the peer sets an index or a flag */
            uint8_t which = u8(&in);
            uint32_t v = u32(&in);
            struct ax__shm_chan_ring *ring = r[which & 1];
            _Atomic uint32_t *f[6] = {&ring->head, &ring->tail, &ring->sleep,
                                      &ring->wait, &ring->want, &ring->reader_caps};
            atomic_store(f[(which >> 1) % 6], v);
            lied = true;
            break;
        }
        case 5: { /* we wait for quiet frames, look, or nudge the peer */
            uint8_t which = u8(&in) % 3;
            if (which == 0)
                (void)ax__shm_chan_ops.want(us);
            else if (which == 1)
                (void)ax__shm_chan_ops.unread(us);
            else
                ax__shm_chan_ops.nudge(us);
            break;
        }
        default: { /* the peer scribbles on the data */
            uint8_t which = u8(&in);
            uint32_t at = u32(&in) % SIZE;
            r[which & 1]->data[at] = u8(&in);
            scribbled = true;
            break;
        }
        }
    }
    munmap(r[0], map);
    munmap(r[1], map);
    ax__shm_chan_free(us);
    ax__shm_chan_free(them);
    close(bell_us);
    close(bell_them);
    return 0;
}
