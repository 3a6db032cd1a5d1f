/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Same-host peers' processes, watched (docs/discovery.md, "Liveness").
 *
 * A peer that announces our boot id and our pid namespace runs on this
 * kernel, and its pid means the same here: a pidfd of it becomes readable
 * the moment the process exits, however it exits (kill -9 included). So
 * such a peer is dropped at once instead of when its lease runs out, and
 * the lease can be long and the heartbeats rare.
 *
 * A pid can be reused: the peer also announces its process's start time
 * (field 22 of /proc/PID/stat), which is read again after pidfd_open() pins
 * the process; a mismatch means the peer's process is already gone. A
 * kernel or emulator without pidfd_open (ENOSYS) leaves the lease to do
 * the work, as does a peer in another pid namespace (a container). Each
 * watch is a descriptor: beyond AX__EXIT_WATCH_MAX same-host peers, the
 * others are left to their leases, so that a crowded host does not run a
 * node out of descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "axon/log.h"
#include "core/ax__disc.h"

#define LOG_MODULE "disc"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif

struct ax__exit_watch {
    ax_io io;
    struct ax__disc *d;
    uint64_t id, incarnation;
};

/* Field 22 (starttime) of /proc/@pid/stat; 0 when unreadable. The command
 * name (field 2) may hold spaces and parentheses: count from the last ')'. */
uint64_t ax__disc_proc_start(const char *path)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* After ") ": field 3 (state) onwards; starttime is the 20th of them. */
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return 0;
    }
    return strtoull(p + 1, NULL, 10);
}

void ax__disc_self_process(uint64_t *pid_ns, uint64_t *proc_start)
{
    struct stat st;
    *pid_ns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
    *proc_start = ax__disc_proc_start("/proc/self/stat");
}

static void watch_free(ax_io *io, void *user)
{
    struct ax__exit_watch *w = user;
    (void)io;
    w->d->nwatch--;
    free(w);
}

static void exited_cb(ax_io *io, unsigned events, void *user)
{
    struct ax__exit_watch *w = user;
    (void)events;
    /* The watch goes with the peer: closed now, freed after this callback. */
    ax_io_close(io, watch_free);
    w->d->gone_cb(w->d, w->id, w->incarnation, AX__LEFT_EXITED);
}

void ax__disc_watch(struct ax__disc *d, struct ax__peer *p, uint64_t pid_ns, uint64_t proc_start)
{
    if (p->exit_watch || !d->pid_ns || pid_ns != d->pid_ns || !proc_start || !p->info.pid ||
        !p->info.host_id[0] || strcmp(p->info.host_id, d->node->host_id) != 0 || d->no_pidfd ||
        d->nwatch >= AX__EXIT_WATCH_MAX)
        return;
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)p->info.pid, 0);
    if (fd < 0) {
        if (errno == ENOSYS || errno == EPERM) {
            d->no_pidfd = true; /* the lease will do */
            AX_LOG_D(LOG_MODULE, "pidfd_open: %s: same-host peers expire by lease",
                     strerror(errno));
        }
        /* ESRCH: gone already; its lease runs out as usual. */
        return;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    char path[64];
    snprintf(path, sizeof path, "/proc/%u/stat", (unsigned)p->info.pid);
    if (ax__disc_proc_start(path) != proc_start) {
        close(fd); /* the pid belongs to another process now */
        return;
    }
    struct ax__exit_watch *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        return;
    }
    w->d = d;
    d->nwatch++;
    w->id = p->info.id;
    w->incarnation = p->info.incarnation;
    if (ax_io_init(d->loop, &w->io, fd, AX_IO_READABLE, exited_cb, w) < 0) {
        close(fd);
        free(w);
        return;
    }
    p->exit_watch = w;
}

void ax__disc_unwatch(struct ax__peer *p)
{
    if (p->exit_watch && !ax_io_is_closing(&p->exit_watch->io))
        ax_io_close(&p->exit_watch->io, watch_free);
    p->exit_watch = NULL;
}
