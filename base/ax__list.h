/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intrusive circular doubly-linked lists (after libuv's queue.h): the node
 * lives inside the object, container_of() gets the object back, insertion
 * and removal are O(1) and never allocate. A detached node points at itself.
 */
#ifndef AX__LIST_H
#define AX__LIST_H

#include <stddef.h>

#include "axon/common.h" /* struct ax__qnode */

typedef struct ax__qnode ax__qnode;

#define ax__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void ax__list_init(ax__qnode *head)
{
    head->prev = head;
    head->next = head;
}

static inline int ax__list_empty(const ax__qnode *head)
{
    return head->next == head;
}

/* Whether a node initialised with ax__list_init() is linked into a list. */
static inline int ax__list_linked(const ax__qnode *node)
{
    return node->next != node;
}

static inline void ax__list_push_back(ax__qnode *head, ax__qnode *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void ax__list_remove(ax__qnode *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node;
    node->next = node;
}

static inline ax__qnode *ax__list_pop_front(ax__qnode *head)
{
    ax__qnode *n = head->next;
    if (n == head)
        return NULL;
    ax__list_remove(n);
    return n;
}

/* Move every node of @from to the (empty) list @to; @from becomes empty. */
static inline void ax__list_move(ax__qnode *from, ax__qnode *to)
{
    if (ax__list_empty(from)) {
        ax__list_init(to);
        return;
    }
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    ax__list_init(from);
}

#define ax__list_foreach(it, head) for ((it) = (head)->next; (it) != (head); (it) = (it)->next)

#endif /* AX__LIST_H */
