/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subscriber's side of a shared-memory link: the publisher's segments
 * mapped read-only, and views of chunks handed to core as refcounted
 * buffers that point into those mappings (no copy).
 *
 * A view's last reference may go on any thread (an application that
 * retained a message releases it where it likes), and after the link is
 * gone: so the receive state is refcounted apart from the link, and a
 * release off the loop thread is queued and posted to it. The publisher
 * hears every release in a RELEASE frame while the link lives; after that
 * its socket has closed and it has taken its chunks back already.
 *
 * Releases on the loop thread are held back and sent together: a RELEASE
 * per message wakes the publisher's loop per message, which cost a 1 MiB
 * round trip two context switches of its five. The publisher says with
 * each segment how many of its chunks this side may hold before it sends
 * (`batch`: half of what its quota lets this peer hold, so the other half
 * keeps its writes going). Views still out (messages being read or
 * retained) count too: an application that keeps the last dozen messages
 * would otherwise fill the quota with releases held back, and the
 * publisher would wait for the timer. A release goes out when what waits
 * plus the views out reach the batch, or AX__SHM_RELEASE_DELAY_NS after
 * the first of them (so a quiet topic gives its chunks back soon),
 * whichever comes first. A
 * mapping lives while the link's table or any view refers to it: a
 * publisher that crashed leaves the memory valid until the last view goes.
 *
 * What a publisher sends is checked before it is used: a segment must be
 * sealed against shrinking (else its pages could vanish under a reader:
 * SIGBUS) and as large as it says; a descriptor must fall inside a known
 * segment.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/ax__array.h"
#include "transport/shm/ax__shm.h"

#define MAPS_MAX   4096                 /* segments one publisher may announce */
#define MAPPED_MAX (UINT64_C(64) << 30) /* bytes of them, at most */
#define BATCH_MAX  128                  /* releases held back, at most (one frame) */

struct view {
    ax__buf buf; /* embedded: points into the mapping */
    struct ax__shm_rx *rx;
    struct ax__shm_map *map;
    uint32_t seg, chunk;
    struct view *next;
};

struct ax__shm_rx {
    atomic_uint refs; /* the link, each view out, a posted flush */
    ax_loop *loop;
    ax__shm_release_fn release;
    void *release_ctx;
    ax_timer delay; /* sends what was held back; loop thread only */
    /* loop thread only */
    struct ax__shm_map **maps;
    size_t nmaps, maps_cap;
    uint64_t mapped;
    /* under lock */
    pthread_mutex_t lock;
    bool detached;
    bool flush_posted;
    struct view *free_views;
    uint32_t views_out; /* views made and not yet released */
    uint32_t *pending;  /* (seg, chunk) pairs released and not yet sent */
    size_t npending, pending_cap;
    uint32_t limit; /* send when this many pairs wait: the least batch among them */
};

static void map_release(struct ax__shm_map *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    munmap((void *)m->base, m->size);
    free(m);
}

static void rx_unref(struct ax__shm_rx *rx)
{
    if (atomic_fetch_sub_explicit(&rx->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < rx->nmaps; i++)
        map_release(rx->maps[i]);
    free(rx->maps);
    struct view *v;
    while ((v = rx->free_views) != NULL) {
        rx->free_views = v->next;
        free(v);
    }
    free(rx->pending);
    pthread_mutex_destroy(&rx->lock);
    free(rx);
}

static void delay_fired(ax_timer *t, void *user);

int ax__shm_rx_new(ax_loop *loop, struct ax__shm_rx **out)
{
    struct ax__shm_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return AX_ENOMEM;
    atomic_init(&rx->refs, 1);
    rx->loop = loop;
    rx->limit = UINT32_MAX;
    ax_timer_init(loop, &rx->delay, delay_fired, rx);
    pthread_mutex_init(&rx->lock, NULL);
    *out = rx;
    return 0;
}

void ax__shm_rx_set_release(struct ax__shm_rx *rx, ax__shm_release_fn fn, void *ctx)
{
    rx->release = fn;
    rx->release_ctx = ctx;
}

void ax__shm_rx_detach(struct ax__shm_rx *rx)
{
    ax_timer_stop(&rx->delay); /* what waits is given back by the socket's close */
    pthread_mutex_lock(&rx->lock);
    rx->detached = true;
    pthread_mutex_unlock(&rx->lock);
    rx_unref(rx); /* the link's reference; views keep theirs */
}

int ax__shm_rx_map(struct ax__shm_rx *rx, uint32_t id, uint64_t size, uint32_t batch, int fd,
                   const char **why)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    int rc = AX_EPROTO;
    if (fd < 0)
        *why = "a segment without its file descriptor";
    else if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size || size == 0)
        *why = "a segment whose size is not what it says";
    else if (seals < 0 || !(seals & F_SEAL_SHRINK))
        *why = "a segment not sealed against shrinking";
    else if (rx->nmaps >= MAPS_MAX || rx->mapped + size > MAPPED_MAX)
        *why = "more segments than a publisher may announce";
    else
        rc = 0;
    for (size_t i = 0; rc == 0 && i < rx->nmaps; i++)
        if (rx->maps[i]->id == id) {
            *why = "a segment announced twice";
            rc = AX_EPROTO;
        }
    struct ax__shm_map *m = NULL;
    if (rc == 0 && (rc = ax__array_reserve(&rx->maps, &rx->maps_cap, rx->nmaps + 1, 8)) == 0 &&
        !(m = calloc(1, sizeof *m)))
        rc = AX_ENOMEM;
    if (rc == 0) {
        /* Read-only: the seals would refuse anything else. */
        void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            rc = ax_err_from_errno(errno);
            *why = "cannot map a segment";
            free(m);
        } else {
            atomic_init(&m->refs, 1);
            m->id = id;
            m->batch = batch < 1 ? 1 : batch > BATCH_MAX ? BATCH_MAX : batch;
            m->base = p;
            m->size = size;
            rx->maps[rx->nmaps++] = m;
            rx->mapped += size;
        }
    } else {
        free(m);
    }
    if (fd >= 0)
        close(fd); /* the mapping keeps the memory */
    return rc;
}

/* Take what waits to be sent (under the lock). */
static uint32_t *take_pending(struct ax__shm_rx *rx, size_t *npairs)
{
    uint32_t *pairs = rx->pending;
    *npairs = rx->npending / 2;
    rx->pending = NULL;
    rx->npending = rx->pending_cap = 0;
    rx->limit = UINT32_MAX;
    return pairs;
}

static void send_pending(struct ax__shm_rx *rx, uint32_t *pairs, size_t n, bool live)
{
    if (live && n)
        rx->release(rx->release_ctx, pairs, n);
    free(pairs);
}

/* Posted by a release off the loop thread: everything waiting goes out. */
static void flush_task(void *arg)
{
    struct ax__shm_rx *rx = arg;
    size_t n;
    pthread_mutex_lock(&rx->lock);
    uint32_t *pairs = take_pending(rx, &n);
    rx->flush_posted = false;
    bool live = !rx->detached;
    pthread_mutex_unlock(&rx->lock);
    if (live)
        ax_timer_stop(&rx->delay);
    send_pending(rx, pairs, n, live);
    rx_unref(rx);
}

/* The first release held back has waited long enough. */
static void delay_fired(ax_timer *t, void *user)
{
    struct ax__shm_rx *rx = user;
    size_t n;
    (void)t;
    pthread_mutex_lock(&rx->lock);
    uint32_t *pairs = take_pending(rx, &n);
    bool live = !rx->detached;
    pthread_mutex_unlock(&rx->lock);
    send_pending(rx, pairs, n, live);
}

static bool pending_add(struct ax__shm_rx *rx, uint32_t seg, uint32_t chunk)
{
    if (ax__array_reserve(&rx->pending, &rx->pending_cap, rx->npending + 2, 32) < 0)
        return false;
    rx->pending[rx->npending++] = seg;
    rx->pending[rx->npending++] = chunk;
    return true;
}

/* A view's last reference went, on any thread. */
static void view_back(void *data, void *arg)
{
    struct view *v = arg;
    struct ax__shm_rx *rx = v->rx;
    uint32_t batch = v->map->batch;
    map_release(v->map);
    bool on_loop = ax_loop_current() == rx->loop;
    uint32_t one[2] = {v->seg, v->chunk}; /* v is free for reuse once it is listed */
    uint32_t *send = NULL;
    size_t nsend = 0;
    bool arm = false, lone = false;
    (void)data;
    pthread_mutex_lock(&rx->lock);
    v->next = rx->free_views;
    rx->free_views = v;
    rx->views_out--;
    if (rx->detached) {
        /* The publisher took everything back when the socket closed. */
    } else if (on_loop) {
        /* Held back until what waits and what is still out reach the
         * least batch of what waits. */
        if (batch < rx->limit)
            rx->limit = batch;
        if (!pending_add(rx, one[0], one[1]))
            lone = true; /* out of memory: this one goes at once, alone */
        else if (rx->npending / 2 + rx->views_out >= rx->limit)
            send = take_pending(rx, &nsend);
        else
            arm = true;
    } else if (pending_add(rx, one[0], one[1]) && !rx->flush_posted) {
        atomic_fetch_add(&rx->refs, 1); /* the task's */
        if (ax_loop_post(rx->loop, flush_task, rx) == 0)
            rx->flush_posted = true;
        else
            atomic_fetch_sub(&rx->refs, 1); /* lost: the socket's close gives it back */
    }
    pthread_mutex_unlock(&rx->lock);
    /* Set only when not already running: it counts from the first that
     * waits (pairs left by a lost flush task included). Set or stopped
     * before the release goes out, so nothing here follows the call out. */
    if (arm && !ax_timer_active(&rx->delay) &&
        ax_timer_start(&rx->delay, AX__SHM_RELEASE_DELAY_NS, 0) < 0)
        delay_fired(&rx->delay, rx); /* no timer: no waiting */
    if (send)
        ax_timer_stop(&rx->delay);
    if (lone)
        rx->release(rx->release_ctx, one, 1);
    if (send)
        send_pending(rx, send, nsend, true);
    rx_unref(rx); /* the view's reference */
}

int ax__shm_rx_view(struct ax__shm_rx *rx, uint32_t seg, uint32_t chunk, uint64_t off, uint32_t len,
                    ax__buf **out, const char **why)
{
    struct ax__shm_map *m = NULL;
    for (size_t i = rx->nmaps; i-- > 0;)
        if (rx->maps[i]->id == seg) {
            m = rx->maps[i];
            break;
        }
    if (!m) {
        *why = "a descriptor of a segment never announced";
        return AX_EPROTO;
    }
    if (off > m->size || len > m->size - off) {
        *why = "a descriptor outside its segment";
        return AX_EPROTO;
    }
    pthread_mutex_lock(&rx->lock);
    struct view *v = rx->free_views;
    if (v)
        rx->free_views = v->next;
    rx->views_out++;
    pthread_mutex_unlock(&rx->lock);
    if (!v && !(v = malloc(sizeof *v))) {
        pthread_mutex_lock(&rx->lock);
        rx->views_out--;
        pthread_mutex_unlock(&rx->lock);
        return AX_ENOMEM;
    }
    v->rx = rx;
    v->map = m;
    v->seg = seg;
    v->chunk = chunk;
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rx->refs, 1, memory_order_relaxed);
    /* The view is read-only memory: nothing in axon writes a received
     * payload, and the mapping would fault if it did. */
    ax__buf_init_embedded(&v->buf, (void *)(m->base + off), len, view_back, v);
    *out = &v->buf;
    return 0;
}
