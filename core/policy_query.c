/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/policy_query.c: the decisions of an access policy
 * (core/ax__policy.h). Read-only on a loaded policy, no allocation, so any
 * number of threads may ask at once.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ax__policy_impl.h"

/* The rules for @identity: its entry, else "*", else NULL for `default`. */
static const struct ax__policy_rules *rules_of(const ax__policy *p, const char *identity)
{
    if (identity && p->nnodes) {
        struct ax__policy_entry key = {.identity = (char *)identity};
        const struct ax__policy_entry *e =
            bsearch(&key, p->nodes, p->nnodes, sizeof *p->nodes, ax__policy_entry_cmp);
        if (e)
            return &e->r;
    }
    return p->has_star ? &p->star : NULL;
}

bool ax__policy_allows(const ax__policy *p, const char *identity, enum ax__policy_action act,
                       const char *name)
{
    if (!p || !name || (unsigned)act >= AX__POLICY_NACTIONS)
        return false;
    const struct ax__policy_rules *r = rules_of(p, identity);
    if (!r)
        return p->default_allow;
    if (strnlen(name, AX__POLICY_NAME_MAX + 1) > AX__POLICY_NAME_MAX)
        return false;
    const struct ax__policy_strs *s = &r->pat[act];
    for (size_t i = 0; i < s->n; i++)
        if (ax__glob_match(s->v[i], name))
            return true;
    return false;
}

static bool has_id(const struct ax__policy_ids *d, uint32_t id)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i] == id)
            return true;
    return false;
}

bool ax__policy_allows_shm(const ax__policy *p, const char *identity, uint32_t uid, uint32_t gid)
{
    if (!p)
        return false;
    const struct ax__policy_rules *r = rules_of(p, identity);
    if (r && r->own_shm)
        return has_id(&r->uids, uid) || has_id(&r->gids, gid);
    return has_id(&p->uids, uid) || has_id(&p->gids, gid);
}
