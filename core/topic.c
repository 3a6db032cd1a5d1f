/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Topics: the publishers, subscriptions and remote publishers of one topic
 * on one shard, and the rules that let callbacks free any of them while
 * the topic is being walked (see struct ax__topic).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "core/ax__pubsub.h"

struct ax__topic *ax__topic_get(struct ax__shard *s, const char *name, bool create)
{
    for (size_t i = 0; i < s->ntopics; i++)
        if (strcmp(s->topics[i]->name, name) == 0)
            return s->topics[i];
    if (!create)
        return NULL;
    if (ax__array_reserve(&s->topics, &s->topics_cap, s->ntopics + 1, 8) < 0)
        return NULL;
    struct ax__topic *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->shard = s;
    snprintf(t->name, sizeof t->name, "%s", name);
    s->topics[s->ntopics++] = t;
    return t;
}

void ax__topic_iter_begin(struct ax__topic *t)
{
    t->iterating++;
}

static void compact(void **a, size_t *n)
{
    size_t w = 0;
    for (size_t r = 0; r < *n; r++)
        if (a[r])
            a[w++] = a[r];
    *n = w;
}

void ax__topic_iter_end(struct ax__topic *t)
{
    if (--t->iterating > 0)
        return;
    if (t->holes) {
        t->holes = false;
        compact((void **)t->pubs, &t->npubs);
        compact((void **)t->subs, &t->nsubs);
    }
    ax__topic_maybe_free(t); /* the caller must not touch @t after this */
}

static void remove_from(void **a, size_t *n, void *x, struct ax__topic *t)
{
    for (size_t i = 0; i < *n; i++) {
        if (a[i] != x)
            continue;
        if (t->iterating) {
            a[i] = NULL;
            t->holes = true;
        } else {
            memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof *a); /* keeps order */
            (*n)--;
        }
        return;
    }
}

int ax__topic_add_pub(struct ax__topic *t, struct ax_pub *pub)
{
    if (ax__array_reserve(&t->pubs, &t->pubs_cap, t->npubs + 1, 4) < 0)
        return AX_ENOMEM;
    t->pubs[t->npubs++] = pub;
    return 0;
}

int ax__topic_add_sub(struct ax__topic *t, struct ax_sub *sub)
{
    if (ax__array_reserve(&t->subs, &t->subs_cap, t->nsubs + 1, 4) < 0)
        return AX_ENOMEM;
    t->subs[t->nsubs++] = sub;
    return 0;
}

int ax__topic_add_rpub(struct ax__topic *t, struct ax__rpub *r)
{
    if (ax__array_reserve(&t->rpubs, &t->rpubs_cap, t->nrpubs + 1, 4) < 0)
        return AX_ENOMEM;
    t->rpubs[t->nrpubs++] = r;
    return 0;
}

void ax__topic_remove_pub(struct ax__topic *t, struct ax_pub *pub)
{
    remove_from((void **)t->pubs, &t->npubs, pub, t);
}

void ax__topic_remove_sub(struct ax__topic *t, struct ax_sub *sub)
{
    remove_from((void **)t->subs, &t->nsubs, sub, t);
}

void ax__topic_maybe_free(struct ax__topic *t)
{
    if (t->iterating || t->npubs || t->nsubs || t->nrpubs)
        return;
    struct ax__shard *s = t->shard;
    for (size_t i = 0; i < s->ntopics; i++) {
        if (s->topics[i] == t) {
            s->topics[i] = s->topics[--s->ntopics];
            break;
        }
    }
    free(t->pubs);
    free(t->subs);
    free(t->rpubs);
    free(t->seq_mem);
    free(t);
}

void ax__topic_remove_rpub(struct ax__topic *t, struct ax__rpub *r)
{
    /* Not under the iteration regime: callers walk rpubs backwards or by
     * index with a re-check, so a swap with the last is safe. */
    for (size_t i = 0; i < t->nrpubs; i++) {
        if (t->rpubs[i] == r) {
            t->rpubs[i] = t->rpubs[--t->nrpubs];
            break;
        }
    }
    ax__topic_maybe_free(t);
}

struct ax_pub *ax__topic_find_pub(struct ax__shard *s, uint32_t id)
{
    for (size_t i = 0; i < s->ntopics; i++)
        for (size_t k = 0; k < s->topics[i]->npubs; k++)
            if (s->topics[i]->pubs[k] && s->topics[i]->pubs[k]->ep.id == id)
                return s->topics[i]->pubs[k];
    return NULL;
}

bool ax__topic_name_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;
    if (n == 0 || n >= AX_TOPIC_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || (unsigned char)t[i] < 0x20)
            return false;
    return true;
}
