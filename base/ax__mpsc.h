/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base/ax__mpsc.h: a lock-free, intrusive, multi-producer single-consumer
 * queue (after Dmitry Vyukov's). Producers on any thread push with one
 * atomic exchange; one consumer pops. Nodes live inside the queued objects
 * (container_of gets them back): pushing never allocates.
 *
 * A pop may return NULL while a producer is between its two steps (the
 * item is queued but not linked yet): whoever pushed must then wake the
 * consumer, which tries again. The queue never loses an item.
 */
#ifndef AX__MPSC_H
#define AX__MPSC_H

#include <stdatomic.h>

struct ax__mpsc_node {
    _Atomic(struct ax__mpsc_node *) next;
};

/* Producers write `head` with every push, the consumer `tail` with every
 * pop: apart by a cache line, or each push and pop would take the line
 * from the other core. */
struct ax__mpsc {
    _Atomic(struct ax__mpsc_node *) head; /* producers exchange here */
    char pad_[64];
    struct ax__mpsc_node *tail; /* the consumer reads here */
    struct ax__mpsc_node stub;
};

/* An empty queue. Not thread-safe: before any push or pop. */
void ax__mpsc_init(struct ax__mpsc *q);

/* Append @n (any thread). @n must not be in a queue. */
void ax__mpsc_push(struct ax__mpsc *q, struct ax__mpsc_node *n);

/* The oldest node, or NULL when empty or a push is half done (the
 * consumer's thread only). */
struct ax__mpsc_node *ax__mpsc_pop(struct ax__mpsc *q);

#endif /* AX__MPSC_H */
