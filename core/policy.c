/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core/policy.c: loading the access policy (core/ax__policy.h), and freeing
 * it. The format (in line comments, since its patterns put a slash before
 * a star):
 */
//     # axon access policy
//     version: 1
//     default: deny          # deny | allow (default deny)
//     shm_uids: [1000]       # optional (default: only our own uid)
//     shm_gids: []           # optional (default: none)
//     nodes:
//       planner:
//         publish: ["/plan/**"]
//         subscribe: ["/sensors/**", "/perception/*"]
//         call: ["/planner/*"]
//         set_param: ["planner.*"]
//         shm_uids: [1001]   # optional per-node override of both shm lists
//       "*":                 # any identity not listed (overrides default)
//         subscribe: ["/diagnostics/**"]
/*
 * Design note. Like the configuration loader (core/config_load.c) this
 * walks libyaml's event stream, not a document tree: the shape is fixed
 * (root -> nodes -> identity -> list -> string), so the first event that
 * does not fit is reported where it is, aliases are refused where they are
 * written (no expansion bombs), and every count is checked before the
 * array grows, so a hostile file costs at most its bounds. Errors read
 * "FILE:LINE:COL: KEY: message" with KEY the dotted path of the key
 * ("nodes.planner.publish"); core/policy_yaml.c has the event helpers.
 * Duplicate identities are found with a hash per entry, in file order;
 * the entries are then sorted once so a lookup is a binary search
 * (core/policy_query.c). A failed load frees everything it built.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/common.h"
#include "base/ax__array.h"
#include "core/ax__policy_impl.h"
#include "msgs/ax__yaml.h"

/* The keys of a node entry; the first four are indexed by action. */
static const char *const rule_keys[] = {"publish",   "subscribe", "call",
                                        "set_param", "shm_uids",  "shm_gids"};
#define NRULE_KEYS (sizeof rule_keys / sizeof rule_keys[0])
static const char *const root_keys[] = {"version", "default", "shm_uids", "shm_gids", "nodes"};
#define NROOT_KEYS (sizeof root_keys / sizeof root_keys[0])

/* Key @k of a mapping whose keys are @keys[0..n): its index in *@i, or a
 * failure naming @key (unknown: the keys @expected; or seen before, whose
 * lines @seen records). */
static int take_key(struct ax__policy_loader *L, const yaml_event_t *ev, const char *k,
                    const char *key, const char *const *keys, size_t n, int *seen,
                    const char *expected, int *i)
{
    *i = -1;
    for (size_t j = 0; j < n && *i < 0; j++)
        if (strcmp(keys[j], k) == 0)
            *i = (int)j;
    if (*i < 0)
        return ax__policy_fail_at(L, &ev->start_mark, key, "unknown key \"%s\" (expected %s)", k,
                                  expected);
    if (seen[*i])
        return ax__policy_fail_at(L, &ev->start_mark, key, "duplicate key (first at line %d)",
                                  seen[*i]);
    seen[*i] = ax__yaml_line(&ev->start_mark);
    return 0;
}

/* ---- the document ---- */

/* The value of a node entry (or "*"): a mapping of rule_keys, or null for
 * an identity that may do nothing. */
static int load_rules(struct ax__policy_loader *L, const char *path, struct ax__policy_rules *r)
{
    char key[512];
    int seen[NRULE_KEYS] = {0};
    yaml_event_t ev;
    int rc = ax__policy_next(L, &ev);
    if (rc)
        return rc;
    bool null = ax__yaml_event_is_null(&ev);
    if (!null && ev.type != YAML_MAPPING_START_EVENT)
        rc = ax__policy_fail_at(L, &ev.start_mark, path, "expected a mapping of %s, got %s",
                                "publish, subscribe, call, set_param, shm_uids, shm_gids",
                                ax__policy_shape(&ev));
    yaml_event_delete(&ev);
    if (rc || null)
        return rc;
    while ((rc = ax__policy_next_string(L, path, "a key", YAML_MAPPING_END_EVENT, &ev)) == 1) {
        rc = 0; /* a key came */
        const char *k = (const char *)ev.data.scalar.value;
        snprintf(key, sizeof key, "%s.%s", path, k);
        int i;
        rc = take_key(L, &ev, k, key, rule_keys, NRULE_KEYS, seen,
                      "publish, subscribe, call, set_param, shm_uids or shm_gids", &i);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
        if (i < AX__POLICY_NACTIONS) {
            struct ax__policy_strs *s = &r->pat[i];
            rc = ax__policy_load_list(L, key, ax__policy_add_pattern, s, &s->n);
        } else {
            struct ax__policy_ids *d = i == AX__POLICY_NACTIONS ? &r->uids : &r->gids;
            r->own_shm = true;
            rc = ax__policy_load_list(L, key, ax__policy_add_id, d, &d->n);
        }
        if (rc)
            return rc;
    }
    return rc;
}

static uint32_t hash_of(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int load_nodes(struct ax__policy_loader *L)
{
    ax__policy *p = L->p;
    char path[512];
    yaml_event_t ev;
    int rc = ax__policy_next(L, &ev);
    if (rc)
        return rc;
    bool null = ax__yaml_event_is_null(&ev);
    if (!null && ev.type != YAML_MAPPING_START_EVENT)
        rc = ax__policy_fail_at(L, &ev.start_mark, "nodes",
                                "expected a mapping of identities, got %s", ax__policy_shape(&ev));
    yaml_event_delete(&ev);
    if (rc || null)
        return rc;
    while ((rc = ax__policy_next_string(L, "nodes", "an identity", YAML_MAPPING_END_EVENT, &ev)) ==
           1) {
        rc = 0; /* an identity came */
        const char *id = (const char *)ev.data.scalar.value;
        int line = ax__yaml_line(&ev.start_mark);
        struct ax__policy_rules *r = NULL;
        snprintf(path, sizeof path, "nodes.%s", id);
        if (strcmp(id, "*") == 0) {
            if (L->star_line)
                rc = ax__policy_fail_at(L, &ev.start_mark, path,
                                        "duplicate node (first at line %d)", L->star_line);
            L->star_line = line;
            p->has_star = true;
            r = &p->star;
        } else if (p->nnodes >= AX__POLICY_NODES_MAX) {
            rc = ax__policy_fail_at(L, &ev.start_mark, path, "too many nodes: at most %d",
                                    AX__POLICY_NODES_MAX);
        } else {
            uint32_t h = hash_of(id);
            for (size_t i = 0; i < p->nnodes && !rc; i++)
                if (p->nodes[i].hash == h && strcmp(p->nodes[i].identity, id) == 0)
                    rc = ax__policy_fail_at(L, &ev.start_mark, path,
                                            "duplicate node (first at line %d)", p->nodes[i].line);
            if (!rc &&
                ax__array_reserve_max(&p->nodes, &p->cap, p->nnodes + 1, 16, AX__POLICY_NODES_MAX))
                rc = ax__policy_nomem(L);
            if (!rc) {
                struct ax__policy_entry *e = &p->nodes[p->nnodes];
                memset(e, 0, sizeof *e);
                if (!(e->identity = strdup(id)))
                    rc = ax__policy_nomem(L);
                e->hash = h;
                e->line = line;
                p->nnodes++;
                r = &e->r;
            }
        }
        yaml_event_delete(&ev);
        if (rc || (rc = load_rules(L, path, r)))
            return rc;
    }
    return rc;
}

static int load_root(struct ax__policy_loader *L)
{
    int seen[NROOT_KEYS] = {0};
    yaml_event_t ev;
    int rc;
    while ((rc = ax__policy_next_string(L, NULL, "a key", YAML_MAPPING_END_EVENT, &ev)) == 1) {
        rc = 0; /* a key came */
        const char *k = (const char *)ev.data.scalar.value;
        int i;
        rc = take_key(L, &ev, k, k, root_keys, NROOT_KEYS, seen,
                      "version, default, shm_uids, shm_gids or nodes", &i);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
        const char *key = root_keys[i];
        if (strcmp(key, "nodes") == 0) {
            rc = load_nodes(L);
        } else if (strcmp(key, "shm_uids") == 0) {
            L->p->has_uids = true;
            rc = ax__policy_load_list(L, key, ax__policy_add_id, &L->p->uids, &L->p->uids.n);
        } else if (strcmp(key, "shm_gids") == 0) {
            rc = ax__policy_load_list(L, key, ax__policy_add_id, &L->p->gids, &L->p->gids.n);
        } else if ((rc = ax__policy_next_string(L, key, "a value", YAML_NO_EVENT, &ev)) == 1) {
            const char *v = (const char *)ev.data.scalar.value;
            rc = 0;
            if (strcmp(key, "version") == 0 && strcmp(v, "1") != 0)
                rc = ax__policy_fail_at(L, &ev.start_mark, key,
                                        "unsupported version %s (expected 1)", v);
            else if (strcmp(key, "default") == 0 && strcmp(v, "deny") != 0 &&
                     strcmp(v, "allow") != 0)
                rc = ax__policy_fail_at(L, &ev.start_mark, key,
                                        "expected deny or allow, got \"%s\"", v);
            else if (strcmp(key, "default") == 0)
                L->p->default_allow = strcmp(v, "allow") == 0;
            yaml_event_delete(&ev);
        }
        if (rc)
            return rc;
    }
    return rc;
}

static int load_stream(struct ax__policy_loader *L)
{
    yaml_event_t ev;
    int rc;
    for (int i = 0; i < 3; i++) { /* STREAM-START, DOCUMENT-START, the root */
        if ((rc = ax__policy_next(L, &ev)))
            return rc;
        if (ev.type == YAML_STREAM_END_EVENT || ax__yaml_event_is_null(&ev)) {
            yaml_event_delete(&ev);
            return ax__policy_fail(L, 0, 0, NULL, "empty policy");
        }
        if (i == 2 && ev.type != YAML_MAPPING_START_EVENT)
            rc = ax__policy_fail_at(L, &ev.start_mark, NULL,
                                    "expected a mapping at the top level, got %s",
                                    ax__policy_shape(&ev));
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
    if ((rc = load_root(L)) || (rc = ax__policy_next(L, &ev))) /* DOCUMENT-END */
        return rc;
    yaml_event_delete(&ev);
    if ((rc = ax__policy_next(L, &ev)))
        return rc;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = ax__policy_fail_at(L, &ev.start_mark, NULL,
                                "only one YAML document is allowed per file");
    yaml_event_delete(&ev);
    return rc;
}

/* ---- the object ---- */

static void rules_fini(struct ax__policy_rules *r)
{
    for (size_t a = 0; a < AX__POLICY_NACTIONS; a++) {
        for (size_t i = 0; i < r->pat[a].n; i++)
            free(r->pat[a].v[i]);
        free(r->pat[a].v);
    }
    free(r->uids.v);
    free(r->gids.v);
}

void ax__policy_free(ax__policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nnodes; i++) {
        free(p->nodes[i].identity);
        rules_fini(&p->nodes[i].r);
    }
    free(p->nodes);
    rules_fini(&p->star);
    free(p->uids.v);
    free(p->gids.v);
    free(p);
}

int ax__policy_parse(const char *text, size_t len, const char *name, ax__policy **out, char *err,
                     size_t err_len)
{
    struct ax__policy_loader L = {.name = name ? name : "<string>", .err = err, .err_len = err_len};
    if (!text || !out)
        return ax__policy_fail(&L, 0, 0, NULL, "invalid argument");
    if (len > AX__POLICY_FILE_MAX)
        return ax__policy_fail(&L, 0, 0, NULL, "larger than %d bytes", AX__POLICY_FILE_MAX);
    if (!(L.p = calloc(1, sizeof *L.p)))
        return ax__policy_nomem(&L);
    int rc = ax__yaml_parser_init(&L.parser, text, len);
    if (rc) {
        free(L.p);
        return ax__policy_nomem(&L);
    }
    rc = load_stream(&L);
    yaml_parser_delete(&L.parser);
    if (rc == 0 && !L.p->has_uids) { /* default: only our own uid */
        if (ax__array_reserve(&L.p->uids.v, &L.p->uids.cap, 1, 1))
            rc = ax__policy_nomem(&L);
        else
            L.p->uids.v[L.p->uids.n++] = (uint32_t)getuid();
    }
    if (rc) {
        ax__policy_free(L.p);
        return rc;
    }
    if (L.p->nnodes > 1)
        qsort(L.p->nodes, L.p->nnodes, sizeof *L.p->nodes, ax__policy_entry_cmp);
    *out = L.p;
    return 0;
}

int ax__policy_load(const char *path, ax__policy **out, char *err, size_t err_len)
{
    struct ax__policy_loader L = {.name = path ? path : "<null>", .err = err, .err_len = err_len};
    if (!path || !out)
        return ax__policy_fail(&L, 0, 0, NULL, "invalid argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ax__policy_fail(&L, 0, 0, NULL, "cannot open: %s", strerror(e));
        return ax_err_from_errno(e);
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ax__policy_fail(&L, 0, 0, NULL, "cannot stat: %s", strerror(e));
        rc = ax_err_from_errno(e);
    } else if (!S_ISREG(st.st_mode))
        rc = ax__policy_fail(&L, 0, 0, NULL, "not a regular file");
    /* The size is only a hint (the file may change): read at most one byte
     * past the limit, which is enough to know it is exceeded. */
    size_t cap = 0, len = 0;
    char *buf = NULL;
    while (rc == 0) {
        if (ax__array_reserve(&buf, &cap, len + 4096, 4096)) {
            rc = ax__policy_nomem(&L);
            break;
        }
        size_t room = cap - len;
        if (room > (size_t)AX__POLICY_FILE_MAX + 1 - len)
            room = (size_t)AX__POLICY_FILE_MAX + 1 - len;
        ssize_t n = read(fd, buf + len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            ax__policy_fail(&L, 0, 0, NULL, "cannot read: %s", strerror(e));
            rc = ax_err_from_errno(e);
        } else if (n == 0 || (len += (size_t)n) > AX__POLICY_FILE_MAX) {
            break;
        }
    }
    close(fd);
    if (rc == 0)
        rc = ax__policy_parse(buf ? buf : "", len, path, out, err, err_len);
    free(buf);
    return rc;
}
