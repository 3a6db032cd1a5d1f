/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bounded queue of messages from subscription callbacks (the node's
 * thread, which must never block) to one consumer thread (printing for
 * `echo`, writing the file for `record`).
 *
 * One ring of bytes holds each message's header and data, 8-byte aligned;
 * an entry that does not fit before the end of the ring goes to its start,
 * leaving a wrap marker. A message larger than a quarter of the ring is
 * kept in its own allocation, counted against the same bound. Producers copy
 * under a mutex (the copy is the only work done in a callback); the
 * consumer reads an entry in place and releases it with cli_msgq_pop(), so
 * it holds the lock only to move the tail. A full queue refuses the message
 * (the caller counts it: nothing is dropped silently).
 *
 * Wake-ups: an eventfd, written only when the consumer said it is about to
 * wait (under the mutex), so a steady stream costs no syscall per message.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli.h"

struct entry {
    uint32_t total; /* bytes of the entry in the ring; 0 = wrap marker */
    uint32_t pad_;
    struct cli_qmsg m; /* m.data unused in the ring */
    uint8_t *ext;      /* out-of-ring data, or NULL */
};

struct cli_msgq {
    pthread_mutex_t mu;
    uint8_t *ring;
    size_t cap;
    size_t head, tail; /* write and read offsets */
    size_t entries;
    size_t bytes; /* in the ring (entries' totals) and out of it */
    bool consumer_waiting;
    int efd;
};

#define ALIGN8(x) (((x) + 7u) & ~(size_t)7u)

int cli_msgq_new(struct cli_msgq **out, size_t capacity)
{
    struct cli_msgq *q = calloc(1, sizeof *q);
    if (!q)
        return AX_ENOMEM;
    q->cap = ALIGN8(capacity < 4096 ? 4096 : capacity);
    q->ring = malloc(q->cap);
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!q->ring || q->efd < 0) {
        free(q->ring);
        if (q->efd >= 0)
            close(q->efd);
        free(q);
        return AX_ENOMEM;
    }
    pthread_mutex_init(&q->mu, NULL);
    *out = q;
    return 0;
}

void cli_msgq_free(struct cli_msgq *q)
{
    if (!q)
        return;
    struct cli_qmsg m;
    while (cli_msgq_peek(q, &m))
        cli_msgq_pop(q);
    pthread_mutex_destroy(&q->mu);
    close(q->efd);
    free(q->ring);
    free(q);
}

/* Where an entry of @need bytes goes, or SIZE_MAX when it does not fit.
 * @wrap: set when it goes to the start of the ring. */
static size_t place(const struct cli_msgq *q, size_t need, bool *wrap)
{
    *wrap = false;
    if (q->entries == 0)
        return need <= q->cap ? 0 : SIZE_MAX;
    if (q->head > q->tail) {
        if (q->cap - q->head >= need)
            return q->head;
        if (q->tail >= need) {
            *wrap = true;
            return 0;
        }
        return SIZE_MAX;
    }
    /* head <= tail with entries: the free space is [head, tail). */
    if (q->head < q->tail && q->tail - q->head >= need)
        return q->head;
    return SIZE_MAX;
}

bool cli_msgq_push(struct cli_msgq *q, const struct cli_qmsg *m, bool force)
{
    bool big = m->len > q->cap / 4;
    size_t need = ALIGN8(sizeof(struct entry) + (big ? 0 : m->len));
    uint8_t *ext = NULL;
    if (big) {
        pthread_mutex_lock(&q->mu);
        bool fits = q->bytes + m->len + need <= q->cap;
        pthread_mutex_unlock(&q->mu);
        if (!fits && !force)
            return false;
        ext = malloc(m->len ? m->len : 1);
        if (!ext)
            return false;
        memcpy(ext, m->data, m->len);
    }
    pthread_mutex_lock(&q->mu);
    bool wrap;
    size_t at = place(q, need, &wrap);
    if (at == SIZE_MAX && force && !big) {
        /* An event that must not be lost: out of the ring. */
        pthread_mutex_unlock(&q->mu);
        ext = malloc(m->len ? m->len : 1);
        if (!ext)
            return false;
        memcpy(ext, m->data, m->len);
        big = true;
        need = ALIGN8(sizeof(struct entry));
        pthread_mutex_lock(&q->mu);
        at = place(q, need, &wrap);
    }
    if (at == SIZE_MAX || (!force && q->bytes + need + (big ? m->len : 0) > q->cap)) {
        pthread_mutex_unlock(&q->mu);
        free(ext);
        return false;
    }
    if (wrap && q->cap - q->head >= sizeof(uint32_t)) {
        uint32_t zero = 0;
        memcpy(q->ring + q->head, &zero, sizeof zero);
    }
    struct entry e = {.total = (uint32_t)need, .m = *m, .ext = ext};
    e.m.data = NULL;
    memcpy(q->ring + at, &e, sizeof e);
    if (!big && m->len)
        memcpy(q->ring + at + sizeof e, m->data, m->len);
    q->head = at + need;
    if (q->entries == 0)
        q->tail = at;
    q->entries++;
    q->bytes += need + (big ? m->len : 0);
    bool wake = q->consumer_waiting;
    q->consumer_waiting = false;
    pthread_mutex_unlock(&q->mu);
    if (wake) {
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof one);
        (void)w;
    }
    return true;
}

bool cli_msgq_peek(struct cli_msgq *q, struct cli_qmsg *m)
{
    pthread_mutex_lock(&q->mu);
    if (q->entries == 0) {
        /* Drain the eventfd before saying we wait: a producer that sees
         * consumer_waiting writes it after this, so no wake-up is lost. */
        pthread_mutex_unlock(&q->mu);
        uint64_t v;
        ssize_t r = read(q->efd, &v, sizeof v);
        (void)r;
        pthread_mutex_lock(&q->mu);
        if (q->entries == 0) {
            q->consumer_waiting = true;
            pthread_mutex_unlock(&q->mu);
            return false;
        }
    }
    if (q->cap - q->tail < sizeof(struct entry))
        q->tail = 0;
    else {
        uint32_t total;
        memcpy(&total, q->ring + q->tail, sizeof total);
        if (total == 0)
            q->tail = 0;
    }
    struct entry e;
    memcpy(&e, q->ring + q->tail, sizeof e);
    pthread_mutex_unlock(&q->mu);
    *m = e.m;
    m->data = e.ext ? e.ext : q->ring + q->tail + sizeof e;
    return true;
}

void cli_msgq_pop(struct cli_msgq *q)
{
    pthread_mutex_lock(&q->mu);
    struct entry e;
    memcpy(&e, q->ring + q->tail, sizeof e);
    q->tail += e.total;
    q->entries--;
    q->bytes -= e.total + (e.ext ? e.m.len : 0);
    if (q->entries == 0)
        q->head = q->tail = 0;
    pthread_mutex_unlock(&q->mu);
    free(e.ext);
}

int cli_msgq_fd(const struct cli_msgq *q)
{
    return q->efd;
}

size_t cli_msgq_bytes(struct cli_msgq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t b = q->bytes;
    pthread_mutex_unlock(&q->mu);
    return b;
}

size_t cli_msgq_capacity(const struct cli_msgq *q)
{
    return q->cap;
}
