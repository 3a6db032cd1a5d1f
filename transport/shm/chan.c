/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A shared-memory channel: the frames of a shared-memory link, after its
 * handshake, through two byte rings in shared memory instead of the Unix
 * socket (struct ax__stream_chan_ops; transport/stream does the framing,
 * the queue and the parsing as on the socket).
 *
 * Why: a frame through a Unix socket costs its writer a sendmsg() and its
 * reader an epoll_wait() and a recvmsg(), and the kernel's wake-up in
 * between; a 64-byte ping-pong measured here took 28.6 µs that way and
 * 21.6 µs with a flag in shared memory and an eventfd (tests/bench/
 * bench_wake.c, docs/performance.md). Here
 * a writer copies the frame into the ring and makes a syscall only when
 * the reader said it sleeps: one eventfd write. The reader reads the ring
 * when its eventfd (registered with the loop: ax__stream_chan_bell())
 * rings, and makes no syscall at all for it.
 *
 * Each direction is a ring its writer makes (a memfd sealed against
 * resizing, passed once with SHM_CHAN) and its reader maps writable (to
 * move its tail and set the flags). Each side makes one eventfd, its bell,
 * and passes it to the other (SHM_BELL): the other writes it when this
 * side's incoming ring got bytes while it slept, or its outgoing ring got
 * room while it waited.
 *
 * Layout and ordering: struct ax__shm_chan_ring (ax__shm.h). Each side
 * keeps its own index in private memory and believes the other's only
 * after a bounds check (used bytes never more than the ring holds: else
 * EPROTO, and the link closes); a reader copies bytes out before it
 * parses them. A peer that scribbles on a ring garbles its own frames,
 * which fail their CRC or parse, and closes its own link.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport/shm/ax__shm.h"

/* Retries in a row of a read or write that found the other side's index
 * moved and then no bytes (or no room) after all: only a peer flipping
 * its index back and forth does that, and it gets EAGAIN (and no bell:
 * its loss) after these, not a loop spinning on it. */
#define RETRIES 4

struct ax__shm_chan {
    struct ax__shm_chan_ring *out, *in;
    dev_t bell_dev; /* our bell's inode: every eventfd's (one anonymous inode) */
    ino_t bell_ino;
    size_t out_map, in_map;     /* mapped bytes */
    uint32_t out_size, in_size; /* data bytes: powers of two */
    uint32_t out_head;          /* ours; the shared one is what the reader sees */
    uint32_t in_tail;           /* ours too */
    int out_fd;                 /* the outgoing ring's memfd, until passed */
    int peer_bell;              /* the peer's eventfd; -1 until SHM_BELL */
};

static void ring_bell(int fd)
{
    uint64_t one = 1;
    /* Non-blocking (set when it came): a full counter, which only the
     * peer can have made, means it is not woken: its loss. */
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
}

int ax__shm_chan_new(uint32_t size, struct ax__shm_chan **out, int *bell)
{
    if (size < 4096 || size > AX__SHM_CHAN_SIZE_MAX || (size & (size - 1)))
        return AX_EINVAL;
    struct ax__shm_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        return AX_ENOMEM;
    ch->peer_bell = -1;
    ch->out_size = size;
    ch->out_map = sizeof(struct ax__shm_chan_ring) + size;
    ch->out_fd = memfd_create("axon-chan", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    void *m = MAP_FAILED;
    if (ch->out_fd >= 0 && ftruncate(ch->out_fd, (off_t)ch->out_map) == 0 &&
        fcntl(ch->out_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0)
        m = mmap(NULL, ch->out_map, PROT_READ | PROT_WRITE, MAP_SHARED, ch->out_fd, 0);
    *bell = m != MAP_FAILED ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
    if (*bell < 0) {
        int rc = ax_err_from_errno(errno);
        if (m != MAP_FAILED)
            munmap(m, ch->out_map);
        if (ch->out_fd >= 0)
            close(ch->out_fd);
        free(ch);
        return rc;
    }
    struct stat st;
    if (fstat(*bell, &st) == 0) {
        ch->bell_dev = st.st_dev;
        ch->bell_ino = st.st_ino;
    }
    ch->out = m; /* zeroed by ftruncate: head = tail = 0, nobody waits */
    *out = ch;
    return 0;
}

int ax__shm_chan_out_fd(const struct ax__shm_chan *ch)
{
    return ch->out_fd;
}

void ax__shm_chan_free(struct ax__shm_chan *ch)
{
    if (!ch)
        return;
    if (ch->out)
        munmap(ch->out, ch->out_map);
    if (ch->in)
        munmap(ch->in, ch->in_map);
    if (ch->out_fd >= 0)
        close(ch->out_fd);
    if (ch->peer_bell >= 0)
        close(ch->peer_bell);
    free(ch);
}

int ax__shm_chan_peer_bell(struct ax__shm_chan *ch, int fd, const char **why)
{
    /* An eventfd, nothing else: a pipe or a socket would raise SIGPIPE
     * at our write once its reader is gone. Its inode is the anonymous
     * one every eventfd shares (so do timerfds and the like, which a
     * write cannot harm), and /proc, when there is one, names it. */
    char link[64] = "";
    char path[48];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = fd >= 0 ? readlink(path, link, sizeof link - 1) : -1;
    if (n > 0)
        link[n] = 0;
    struct stat st;
    int rc = AX_EPROTO;
    if (fd < 0)
        *why = "a bell without its file descriptor";
    else if (ch->peer_bell >= 0)
        *why = "a second bell";
    else if (fstat(fd, &st) < 0 || st.st_dev != ch->bell_dev || st.st_ino != ch->bell_ino ||
             (n > 0 && strcmp(link, "anon_inode:[eventfd]") != 0))
        *why = "a bell that is not an eventfd";
    else if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        *why = "a bell that cannot be made non-blocking";
    else
        rc = 0;
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    ch->peer_bell = fd;
    return 0;
}

int ax__shm_chan_map_in(struct ax__shm_chan *ch, uint32_t size, int fd, const char **why)
{
    size_t map = sizeof(struct ax__shm_chan_ring) + (size_t)size;
    struct stat st;
    int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
    int rc = AX_EPROTO;
    if (fd < 0)
        *why = "a channel without its file descriptor";
    else if (ch->in)
        *why = "a second channel";
    else if (ch->peer_bell < 0)
        *why = "a channel before its bell";
    else if (size < 4096 || size > AX__SHM_CHAN_SIZE_MAX || (size & (size - 1)))
        *why = "a channel whose size is not a power of two from 4 KiB to 16 MiB";
    else if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != map)
        *why = "a channel whose size is not what it says";
    else if (seals < 0 || !(seals & F_SEAL_SHRINK))
        *why = "a channel not sealed against shrinking";
    else
        rc = 0;
    if (rc == 0) {
        void *m = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            rc = ax_err_from_errno(errno);
            *why = "cannot map the channel";
        } else {
            ch->in = m;
            ch->in_map = map;
            ch->in_size = size;
            /* From where the writer is: it may have written already. */
            ch->in_tail = atomic_load_explicit(&ch->in->tail, memory_order_acquire);
            /* Before any quiet frame: the writer looks at it when it writes
             * one, and this side looks at the ring with its loop's every
             * bell (transport/stream/conn_fd.c). */
            atomic_store_explicit(&ch->in->reader_caps, AX__SHM_CHAN_READS_QUIET,
                                  memory_order_seq_cst);
        }
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

/* ---- the byte channel (struct ax__stream_chan_ops) ---- */

static ssize_t chan_writev(void *arg, const struct iovec *iov, int n_iov, bool quiet)
{
    struct ax__shm_chan *ch = arg;
    struct ax__shm_chan_ring *r = ch->out;
    uint32_t mask = ch->out_size - 1;
    size_t done = 0, off = 0;
    int i = 0, retries = 0;
    for (;;) {
        uint32_t used = ch->out_head - atomic_load_explicit(&r->tail, memory_order_acquire);
        if (used > ch->out_size) {
            errno = EPROTO; /* a tail the reader cannot have written */
            return -1;
        }
        uint32_t room = ch->out_size - used, put = 0;
        while (put < room && i < n_iov) {
            size_t k = iov[i].iov_len - off;
            if (k > room - put)
                k = room - put;
            uint32_t at = (ch->out_head + put) & mask;
            size_t first = k < ch->out_size - at ? k : ch->out_size - at;
            memcpy(r->data + at, (const uint8_t *)iov[i].iov_base + off, first);
            memcpy(r->data, (const uint8_t *)iov[i].iov_base + off + first, k - first);
            put += (uint32_t)k;
            off += k;
            if (off == iov[i].iov_len) {
                i++;
                off = 0;
            }
        }
        if (put) {
            retries = 0;
            ch->out_head += put;
            done += put;
            /* The head, then the flags (all seq_cst): see the ring's note.
             * Quiet frames leave a sleeping reader asleep unless it waits
             * for them (want), and leave sleep set for the next frame. */
            atomic_store_explicit(&r->head, ch->out_head, memory_order_seq_cst);
            bool ring = !quiet ||
                        !(atomic_load_explicit(&r->reader_caps, memory_order_relaxed) &
                          AX__SHM_CHAN_READS_QUIET) ||
                        atomic_load_explicit(&r->want, memory_order_seq_cst);
            if (ring && atomic_load_explicit(&r->sleep, memory_order_seq_cst) &&
                atomic_exchange_explicit(&r->sleep, 0, memory_order_seq_cst))
                ring_bell(ch->peer_bell);
        }
        if (i == n_iov)
            return (ssize_t)done;
        /* Full: ask for the bell, then look once more (the reader may have
         * made room before it could see the request). A reader asleep on
         * quiet bytes is woken first: else nothing would make room. */
        if (atomic_load_explicit(&r->sleep, memory_order_seq_cst) &&
            atomic_exchange_explicit(&r->sleep, 0, memory_order_seq_cst))
            ring_bell(ch->peer_bell);
        atomic_store_explicit(&r->wait, 1, memory_order_seq_cst);
        if (ch->out_head - atomic_load_explicit(&r->tail, memory_order_seq_cst) < ch->out_size &&
            retries++ < RETRIES) {
            atomic_store_explicit(&r->wait, 0, memory_order_relaxed);
            continue;
        }
        if (done)
            return (ssize_t)done;
        errno = EAGAIN;
        return -1;
    }
}

static ssize_t chan_read(void *arg, void *dst, size_t room)
{
    struct ax__shm_chan *ch = arg;
    struct ax__shm_chan_ring *r = ch->in;
    uint32_t mask = ch->in_size - 1;
    size_t got = 0;
    int retries = 0;
    for (;;) {
        uint32_t avail = atomic_load_explicit(&r->head, memory_order_seq_cst) - ch->in_tail;
        if (avail > ch->in_size) {
            errno = EPROTO; /* a head the writer cannot have written */
            return -1;
        }
        size_t k = avail < room - got ? avail : room - got;
        if (k) {
            retries = 0;
            uint32_t at = ch->in_tail & mask;
            size_t first = k < ch->in_size - at ? k : ch->in_size - at;
            memcpy((uint8_t *)dst + got, r->data + at, first);
            memcpy((uint8_t *)dst + got + first, r->data, k - first);
            ch->in_tail += (uint32_t)k;
            got += k;
            /* The tail, then the flag (both seq_cst). */
            atomic_store_explicit(&r->tail, ch->in_tail, memory_order_seq_cst);
            if (atomic_load_explicit(&r->want, memory_order_relaxed))
                atomic_store_explicit(&r->want, 0, memory_order_seq_cst);
            if (atomic_load_explicit(&r->wait, memory_order_seq_cst) &&
                atomic_exchange_explicit(&r->wait, 0, memory_order_seq_cst))
                ring_bell(ch->peer_bell);
        }
        if (got == room)
            return (ssize_t)got;
        /* Empty: ask for the bell, then look once more. A short read
         * promises the caller that the bell rings when bytes come. */
        atomic_store_explicit(&r->sleep, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&r->head, memory_order_seq_cst) != ch->in_tail &&
            retries++ < RETRIES) {
            atomic_store_explicit(&r->sleep, 0, memory_order_relaxed);
            continue;
        }
        if (got)
            return (ssize_t)got;
        errno = EAGAIN;
        return -1;
    }
}

static bool chan_unread(void *arg)
{
    struct ax__shm_chan *ch = arg;
    return atomic_load_explicit(&ch->in->head, memory_order_seq_cst) != ch->in_tail;
}

/* The flag, then the head (both seq_cst): a writer that stored its head
 * before this store sees want and rings, or this load sees its head. */
static bool chan_want(void *arg)
{
    struct ax__shm_chan *ch = arg;
    atomic_store_explicit(&ch->in->want, 1, memory_order_seq_cst);
    return chan_unread(ch);
}

/* As a write's end, for the bytes written so far (the peer read all of
 * them, or it is awake and reads on until the ring is empty). */
static void chan_nudge(void *arg)
{
    struct ax__shm_chan *ch = arg;
    struct ax__shm_chan_ring *r = ch->out;
    if (atomic_load_explicit(&r->tail, memory_order_seq_cst) != ch->out_head &&
        atomic_load_explicit(&r->sleep, memory_order_seq_cst) &&
        atomic_exchange_explicit(&r->sleep, 0, memory_order_seq_cst))
        ring_bell(ch->peer_bell);
}

const struct ax__stream_chan_ops ax__shm_chan_ops = {
    .writev = chan_writev,
    .read = chan_read,
    .unread = chan_unread,
    .want = chan_want,
    .nudge = chan_nudge,
};
