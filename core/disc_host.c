/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host table (docs/discovery.md, "The host table"): the nodes of one
 * host, domain and user beat in shared memory instead of sending each
 * other heartbeats, so that a node's steady cost does not grow with the
 * number of nodes on its board.
 *
 * The table is a sealed memfd of fixed size: a header and 256 slots, one
 * per node, each written only by the node that claimed it (compare and
 * swap on its node id; no lock anywhere, so no lock can be left held by a
 * node killed at the wrong moment). A node writes its beat (a
 * CLOCK_MONOTONIC stamp, meaningful to every process on the host) and the
 * generation of its endpoint set into its slot every heartbeat period;
 * every node reads all slots at the same period: a few kilobytes read, no
 * system call, no wake-up per peer.
 *
 * Finding it without a daemon, leaving nothing behind: one node, the
 * owner, listens on the abstract Unix socket "@axon/<domain>/host/<uid>"
 * and hands the memfd to whoever connects (SCM_RIGHTS), after checking
 * that the peer runs as the same user; a joiner checks the owner the same
 * way. No name exists in any file system: when the last node exits, the
 * kernel frees the memory and the socket name. When the owner goes, any
 * other node takes the name over at its next beat (the table lives on in
 * everyone's mapping). A node that started in between, found no owner and
 * made a table of its own becomes the owner of the name; the others find
 * on their next beat that the name serves another table and move to it.
 *
 * Stale slots (a node killed -9) are freed by whoever sees their beat
 * older than two periods and their process gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "axon/clock.h"
#include "axon/log.h"
#include "core/ax__disc.h"

#define LOG_MODULE   "disc"
#define HOST_MAGIC   0x54534f484e4f5841ull /* "AXONHOST" little-endian */
#define HOST_VERSION 1u

struct host_slot {
    _Atomic uint64_t seq;     /* odd while its node writes generation/pages */
    _Atomic uint64_t node_id; /* 0: free */
    _Atomic uint64_t incarnation;
    _Atomic uint64_t pid;
    _Atomic uint64_t proc_start;
    _Atomic uint64_t generation;
    _Atomic uint64_t pages;
    _Atomic int64_t beat_ns;
};

struct host_table {
    uint64_t magic;
    uint32_t version, nslots;
    uint64_t table_id; /* random: tells two tables apart */
    uint32_t domain, uid;
    _Atomic uint64_t owner_pid;  /* who holds the socket name */
    uint64_t pid_ns;             /* pids in the slots are of this namespace */
    _Atomic uint64_t host_beats; /* its owner sends HostBeats for all (network mode) */
    uint64_t reserved[1];
    struct host_slot slots[AX__HOST_SLOTS];
};

struct ax__host {
    struct ax__disc *d;
    int memfd;
    struct host_table *t;
    int slot; /* ours, or -1 */
    ax_io listen;
    bool owner, listening;
    struct sockaddr_un name;
    socklen_t namelen;
};

/* ---- the table's memory ---- */

static struct host_table *map_table(int fd, uint64_t pid_ns)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof(struct host_table))
        return NULL;
    /* The seals make the size final: no one can shrink it under us. */
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
        return NULL;
    void *p = mmap(NULL, sizeof(struct host_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct host_table *t = p;
    if (t->magic != HOST_MAGIC || t->version != HOST_VERSION || t->nslots != AX__HOST_SLOTS ||
        t->pid_ns != pid_ns) {
        munmap(p, sizeof *t);
        return NULL;
    }
    return t;
}

static int create_table(struct ax__disc *d, struct host_table **out)
{
    int fd = memfd_create("axon-host", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, sizeof(struct host_table)) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, sizeof(struct host_table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return -1;
    }
    struct host_table *t = p; /* zero-filled by the kernel */
    t->version = HOST_VERSION;
    t->nslots = AX__HOST_SLOTS;
    t->table_id = d->node->id ^ (uint64_t)ax_clock_mono_ns();
    t->domain = d->node->cfg.domain;
    t->uid = (uint32_t)getuid();
    t->pid_ns = d->pid_ns;
    atomic_store(&t->owner_pid, 0);
    t->magic = HOST_MAGIC; /* no one else sees it before the sendmsg() that shares it */
    *out = t;
    return fd;
}

/* ---- our slot ---- */

static int claim_slot(struct ax__host *h)
{
    struct ax__disc *d = h->d;
    for (int i = 0; i < AX__HOST_SLOTS; i++) {
        struct host_slot *s = &h->t->slots[i];
        uint64_t expect = 0;
        if (!atomic_compare_exchange_strong(&s->node_id, &expect, d->node->id))
            continue;
        atomic_store(&s->incarnation, d->node->incarnation);
        atomic_store(&s->pid, (uint64_t)getpid());
        atomic_store(&s->proc_start, d->proc_start);
        atomic_store(&s->generation, 0);
        atomic_store(&s->pages, 0);
        atomic_store(&s->beat_ns, ax_clock_mono_ns());
        return i;
    }
    return -1;
}

static void release_slot(struct ax__host *h)
{
    if (h->slot < 0)
        return;
    struct host_slot *s = &h->t->slots[h->slot];
    atomic_store(&s->beat_ns, 0);
    atomic_store(&s->pid, 0); /* pid 0 with an id: being claimed, never stale */
    uint64_t expect = h->d->node->id;
    atomic_compare_exchange_strong(&s->node_id, &expect, 0);
    h->slot = -1;
}

/* Leave the current table for (@fd, @t); false if it is full. */
static bool adopt(struct ax__host *h, int fd, struct host_table *t)
{
    struct ax__host old = *h;
    h->memfd = fd;
    h->t = t;
    h->slot = claim_slot(h);
    if (h->slot < 0) {
        AX_LOG_W(LOG_MODULE, "the host table of domain %u is full (%u nodes): heartbeats instead",
                 (unsigned)h->d->node->cfg.domain, AX__HOST_SLOTS);
        *h = old;
        munmap(t, sizeof *t);
        close(fd);
        return false;
    }
    if (old.t) {
        release_slot(&old);
        munmap(old.t, sizeof *old.t);
        close(old.memfd);
    }
    return true;
}

/* ---- the socket name ---- */

static void serve_cb(ax_io *io, unsigned events, void *user);

static bool same_user(int fd)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0 && cr.uid == getuid();
}

/* Take the name (the owner serves the table); false if someone has it. */
static bool take_name(struct ax__host *h)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    if (bind(fd, (struct sockaddr *)&h->name, h->namelen) < 0 || listen(fd, 64) < 0) {
        close(fd);
        return false;
    }
    if (ax_io_init(h->d->loop, &h->listen, fd, AX_IO_READABLE, serve_cb, h) < 0) {
        close(fd);
        return false;
    }
    h->owner = h->listening = true;
    atomic_store(&h->t->host_beats, h->d->mode == AX_DISCOVERY_NETWORK);
    atomic_store(&h->t->owner_pid, (uint64_t)getpid());
    return true;
}

/* Ask the owner for its table: its memfd, or -1. Blocking, bounded by a
 * receive timeout: the owner answers from its loop at once. */
static int fetch_table(struct ax__host *h)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* Bounded both ways: connect() waits (send timeout) when a stopped
     * owner's backlog is full, recvmsg() when it does not answer. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int memfd = -1;
    if (connect(fd, (struct sockaddr *)&h->name, h->namelen) == 0 && same_user(fd)) {
        uint64_t id;
        struct iovec iov = {.iov_base = &id, .iov_len = sizeof id};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
        ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
        struct cmsghdr *c = n == (ssize_t)sizeof id ? CMSG_FIRSTHDR(&m) : NULL;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&memfd, CMSG_DATA(c), sizeof memfd);
    }
    close(fd);
    return memfd;
}

/* The owner's listener: hand the table to each same-user node that asks. */
static void serve_cb(ax_io *io, unsigned events, void *user)
{
    struct ax__host *h = user;
    (void)events;
    for (unsigned i = 0; i < ax_loop_io_budget(h->d->loop); i++) {
        int c = accept4(ax_io_fd(io), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or out of descriptors: they retry at their next beat */
        }
        if (same_user(c)) {
            uint64_t id = h->t->table_id;
            struct iovec iov = {.iov_base = &id, .iov_len = sizeof id};
            union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
            } u;
            memset(&u, 0, sizeof u);
            struct msghdr m = {.msg_iov = &iov,
                               .msg_iovlen = 1,
                               .msg_control = u.buf,
                               .msg_controllen = sizeof u.buf};
            struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &h->memfd, sizeof h->memfd);
            (void)sendmsg(c, &m, MSG_NOSIGNAL);
        }
        close(c);
    }
    ax_io_park(io, AX_IO_READABLE);
}

/* ---- the life of a node's membership ---- */

static void host_free(struct ax__host *h);

void ax__host_open(struct ax__disc *d)
{
    if (!d->node->cfg.discovery.host_table || d->mode == AX_DISCOVERY_OFF || !d->pid_ns)
        return;
    struct ax__host *h = calloc(1, sizeof *h);
    if (!h)
        return;
    h->d = d;
    h->memfd = -1;
    h->slot = -1;
    h->name.sun_family = AF_UNIX;
    int n = snprintf(h->name.sun_path + 1, sizeof h->name.sun_path - 1, "axon/%u/host/%u",
                     (unsigned)d->node->cfg.domain, (unsigned)getuid());
    h->namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    /* An owner, or none (make a table and take the name); a race with
     * another newcomer is settled by the name: the loser asks again. */
    for (int attempt = 0; attempt < 4 && !h->t; attempt++) {
        int fd = fetch_table(h);
        struct host_table *t = fd >= 0 ? map_table(fd, h->d->pid_ns) : NULL;
        if (t) {
            if (!adopt(h, fd, t))
                break;
            continue;
        }
        if (fd >= 0) {
            close(fd);
            break; /* an owner that serves something else: stay out */
        }
        fd = create_table(d, &t);
        if (fd < 0)
            break;
        h->memfd = fd;
        h->t = t;
        if (take_name(h)) {
            h->slot = claim_slot(h);
            break;
        }
        munmap(t, sizeof *t);
        close(fd);
        h->t = NULL;
        h->memfd = -1;
    }
    if (!h->t || h->slot < 0) {
        AX_LOG_D(LOG_MODULE, "no host table for domain %u: heartbeats by multicast",
                 (unsigned)d->node->cfg.domain);
        host_free(h);
        return;
    }
    d->host = h;
    AX_LOG_D(LOG_MODULE, "host table %016llx, slot %d%s", (unsigned long long)h->t->table_id,
             h->slot, h->owner ? " (owner)" : "");
}

static void host_free(struct ax__host *h)
{
    if (h->t) {
        release_slot(h);
        munmap(h->t, sizeof *h->t);
    }
    if (h->memfd >= 0)
        close(h->memfd);
    free(h);
}

static void listener_closed(ax_io *io, void *user)
{
    (void)io;
    host_free(user);
}

void ax__host_close(struct ax__disc *d)
{
    struct ax__host *h = d->host;
    if (!h)
        return;
    d->host = NULL;
    release_slot(h);
    if (h->listening) {
        /* Released now, so that the others take the name over at their
         * next beat; the memory goes once the loop is done with the io. */
        atomic_store(&h->t->host_beats, 0);
        atomic_store(&h->t->owner_pid, 0);
        ax_io_close(&h->listen, listener_closed);
    } else {
        host_free(h);
    }
}

/* ---- every beat ---- */

/* Whether process @pid, started at @start, is gone. A slot whose pid is
 * 0 is being claimed (its node has not written it yet): not gone. */
static bool process_gone(uint64_t pid, uint64_t start)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%llu/stat", (unsigned long long)pid);
    return pid && (pid > INT32_MAX || (kill((pid_t)pid, 0) < 0 && errno == ESRCH) ||
                   (start && ax__disc_proc_start(path) != start));
}

void ax__host_keep(struct ax__disc *d)
{
    struct ax__host *h = d->host;
    if (!h || h->owner)
        return;
    /* The name free (its owner gone): ours. Held by another table than
     * ours while our owner is gone: a newcomer made it in between; move. */
    if (take_name(h))
        return;
    uint64_t op = atomic_load(&h->t->owner_pid);
    if (op && !process_gone(op, 0))
        return;
    int fd = fetch_table(h);
    struct host_table *t = fd >= 0 ? map_table(fd, h->d->pid_ns) : NULL;
    if (t && t->table_id != h->t->table_id && adopt(h, fd, t)) {
        AX_LOG_D(LOG_MODULE, "moved to host table %016llx", (unsigned long long)t->table_id);
        return;
    }
    if (t)
        munmap(t, sizeof *t);
    if (fd >= 0)
        close(fd);
}

void ax__host_beat(struct ax__disc *d, uint64_t generation, uint32_t pages, ax__host_visit_fn fn)
{
    struct ax__host *h = d->host;
    if (!h)
        return;
    int64_t now = ax_clock_mono_ns();
    struct host_slot *me = &h->t->slots[h->slot];
    if (atomic_load(&me->node_id) != d->node->id) {
        h->slot = claim_slot(h); /* someone freed it under us: take another */
        if (h->slot < 0) {
            ax__host_close(d);
            return;
        }
        me = &h->t->slots[h->slot];
    }
    /* A seqlock: readers retry while seq is odd or moved. Sequentially
     * consistent throughout (no fences, which TSan does not model): four
     * stores a second, and plain loads for the readers on x86. */
    atomic_fetch_add(&me->seq, 1);
    atomic_store(&me->generation, generation);
    atomic_store(&me->pages, pages);
    atomic_fetch_add(&me->seq, 1);
    atomic_store(&me->beat_ns, now);

    /* A slot silent for two periods is checked (its process gone: freed,
     * which takes a killed node out within seconds); one silent for three
     * leases is not even visited. Counted: the slots beating within the
     * lease. */
    int64_t lease = d->node->cfg.discovery.lease_ns, stale = 3 * lease;
    int64_t quiet = 2 * d->node->cfg.discovery.heartbeat_ns;
    unsigned live = 1;
    for (int i = 0; i < AX__HOST_SLOTS; i++) {
        struct host_slot *s = &h->t->slots[i];
        uint64_t id = atomic_load(&s->node_id);
        if (i == h->slot || !id)
            continue;
        struct ax__host_peer hp = {.id = id};
        bool ok = false;
        for (int tries = 0; tries < 4 && !ok; tries++) {
            uint64_t s1 = atomic_load(&s->seq);
            hp.incarnation = atomic_load(&s->incarnation);
            hp.generation = atomic_load(&s->generation);
            hp.pages = (uint32_t)atomic_load(&s->pages);
            ok = !(s1 & 1) && atomic_load(&s->seq) == s1;
        }
        hp.beat_ns = atomic_load(&s->beat_ns);
        if (!ok || atomic_load(&s->node_id) != id)
            continue;
        int64_t age = now - hp.beat_ns;
        if (age > quiet && process_gone(atomic_load(&s->pid), atomic_load(&s->proc_start))) {
            atomic_compare_exchange_strong(&s->node_id, &id, 0);
            continue;
        }
        if (age > stale)
            continue;
        if (age <= lease)
            live++;
        fn(d, &hp);
    }
    d->stats.host_table_nodes = live;
}

bool ax__host_has(struct ax__disc *d, uint64_t id)
{
    struct ax__host *h = d->host;
    if (!h || !id)
        return false;
    for (int i = 0; i < AX__HOST_SLOTS; i++)
        if (atomic_load(&h->t->slots[i].node_id) == id)
            return true;
    return false;
}

bool ax__host_is_owner(const struct ax__disc *d)
{
    return d->host && d->host->owner;
}

bool ax__host_covered(struct ax__disc *d)
{
    struct ax__host *h = d->host;
    if (!h || h->owner || !atomic_load(&h->t->host_beats))
        return false;
    uint64_t op = atomic_load(&h->t->owner_pid);
    return op && !process_gone(op, 0);
}

size_t ax__host_members(struct ax__disc *d, size_t first, struct ax__host_peer *out, size_t cap,
                        size_t *next)
{
    struct ax__host *h = d->host;
    size_t n = 0, i = first;
    int64_t now = ax_clock_mono_ns(), lease = d->node->cfg.discovery.lease_ns;
    for (; h && i < AX__HOST_SLOTS && n < cap; i++) {
        struct host_slot *s = &h->t->slots[i];
        uint64_t id = atomic_load(&s->node_id);
        if (!id)
            continue;
        uint64_t s1 = atomic_load(&s->seq);
        struct ax__host_peer hp = {.id = id,
                                   .incarnation = atomic_load(&s->incarnation),
                                   .generation = atomic_load(&s->generation),
                                   .pages = (uint32_t)atomic_load(&s->pages),
                                   .beat_ns = atomic_load(&s->beat_ns)};
        if ((s1 & 1) || atomic_load(&s->seq) != s1 || atomic_load(&s->node_id) != id ||
            now - hp.beat_ns > lease)
            continue; /* being written (next period), or not beating */
        out[n++] = hp;
    }
    *next = i;
    return n;
}
