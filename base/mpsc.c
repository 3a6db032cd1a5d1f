/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/mpsc.c: Vyukov's intrusive MPSC queue (base/ax__mpsc.h).
 *
 * The stub node keeps the list non-empty, so a producer only ever touches
 * `head` and the previous head's `next`, and the consumer only `tail`.
 */
#include <stddef.h>

#include "base/ax__mpsc.h"

void ax__mpsc_init(struct ax__mpsc *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->head, &q->stub);
    q->tail = &q->stub;
}

void ax__mpsc_push(struct ax__mpsc *q, struct ax__mpsc_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* One exchange makes the node the new head; the link from the old head
     * follows. Between the two a consumer sees a "not yet linked" tail and
     * stops: the producer's wake-up brings it back. */
    struct ax__mpsc_node *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

struct ax__mpsc_node *ax__mpsc_pop(struct ax__mpsc *q)
{
    struct ax__mpsc_node *tail = q->tail;
    struct ax__mpsc_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* a producer is between its two steps */
    ax__mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}
