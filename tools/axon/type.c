/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon type list | show NAME: the message types the CLI knows, compiled in
 * (the registry) or announced by the live nodes of the domain.
 *
 * A type is found the way `topic echo` finds one (cli_type_resolve()): the
 * registry first, else the schema a node that uses it serves. So `type
 * show` prints exactly the schema echo would decode with.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One (name, hash) the CLI knows, and where from. */
struct trow {
    char name[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
    bool compiled, live;
    char nodes[256]; /* the live nodes using it, comma-separated */
};

struct tlist {
    struct trow *v;
    size_t n, cap;
};

static struct trow *row_for(struct tlist *l, const char *name, const uint8_t *hash)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0 && memcmp(l->v[i].hash, hash, AX_TYPE_HASH_SIZE) == 0)
            return &l->v[i];
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct trow *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct trow *r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    memcpy(r->hash, hash, AX_TYPE_HASH_SIZE);
    return r;
}

static int add_compiled(const ax_type *t, void *user)
{
    struct trow *r = row_for(user, ax_type_name(t), ax_type_hash(t)->bytes);
    if (!r)
        return AX_ENOMEM;
    r->compiled = true;
    return 0;
}

static void add_node(struct trow *r, const char *node)
{
    size_t off = strlen(r->nodes);
    char word[128];
    snprintf(word, sizeof word, ",%s,", node);
    char have[sizeof r->nodes + 2];
    snprintf(have, sizeof have, ",%s,", r->nodes);
    if (strstr(have, word))
        return;
    snprintf(r->nodes + off, sizeof r->nodes - off, "%s%s", off ? "," : "", node);
}

static int cmp_row(const void *a, const void *b)
{
    const struct trow *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : memcmp(x->hash, y->hash, AX_TYPE_HASH_SIZE);
}

/* Open the CLI's node and take a snapshot of the settled table. */
static int live_snap(struct cli *c, struct cli_snap *s)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) == AX_ECLOSED)
        return CLI_EXIT_OK;
    if ((rc = cli_snap_take(c, NULL, s)) < 0)
        return cli_error("cannot read the discovery table: %s", ax_strerror(rc));
    return 0;
}

int cli_verb_type_list(struct cli *c, const struct cli_args *a)
{
    struct tlist l = {0};
    int rc = ax_type_foreach(add_compiled, &l);
    bool live = !cli_flag(a, "local");
    struct cli_snap s = {0};
    if (rc == 0 && live && (rc = live_snap(c, &s)) != 0) {
        free(l.v);
        return rc;
    }
    /* Services and clients use two types each. */
    struct cli_snap sv = {0};
    if (rc == 0 && live && cli_snap_take_kind(c, NULL, true, &sv) < 0)
        memset(&sv, 0, sizeof sv);
    for (size_t i = 0; rc == 0 && i < s.neps + 2 * sv.neps; i++) {
        const struct ax_endpoint_info *e = i < s.neps ? &s.eps[i] : &sv.eps[(i - s.neps) / 2];
        bool reply = i >= s.neps && (i - s.neps) % 2 == 1;
        struct trow *r = row_for(&l, reply ? e->reply_type_name : e->type_name,
                                 reply ? e->reply_type_hash : e->type_hash);
        if (!r)
            rc = AX_ENOMEM;
        else {
            r->live = true;
            add_node(r, e->node_name);
        }
    }
    cli_snap_free(&sv);
    cli_snap_free(&s);
    if (rc < 0) {
        free(l.v);
        return cli_error("%s", ax_strerror(rc));
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_row);
    char h[AX_TYPE_HASH_STRLEN];
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_arr(&j, "types");
        for (size_t i = 0; i < l.n; i++) {
            cj_obj(&j, NULL);
            cj_str(&j, "name", l.v[i].name);
            cj_str(&j, "hash", cli_fmt_hash(l.v[i].hash, h, sizeof h));
            cj_bool(&j, "compiled", l.v[i].compiled);
            cj_bool(&j, "live", l.v[i].live);
            cj_str(&j, "live_nodes", l.v[i].nodes);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        static const char *const cols[] = {"TYPE", "SOURCE", "HASH", "LIVE NODES"};
        struct cli_table *t = cli_table_new(cols, live ? 4 : 3);
        for (size_t i = 0; i < l.n; i++) {
            const struct trow *r = &l.v[i];
            /* A name with two hashes: the versions disagree ('!', as in
             * topic list). */
            bool twice = (i > 0 && strcmp(l.v[i - 1].name, r->name) == 0) ||
                         (i + 1 < l.n && strcmp(l.v[i + 1].name, r->name) == 0);
            cli_table_row(t);
            cli_table_cell(t, "%s%s", r->name, twice ? "  !" : "");
            cli_table_cell(t, "%s",
                           r->compiled && r->live ? "compiled, live"
                           : r->compiled          ? "compiled"
                                                  : "live");
            cli_table_cell(t, "%s", cli_fmt_hash_short(r->hash, h, sizeof h));
            if (live)
                cli_table_cell(t, "%s", r->nodes[0] ? r->nodes : "-");
        }
        cli_table_print(t, stdout, "");
        cli_table_free(t);
    }
    free(l.v);
    return CLI_EXIT_OK;
}

int cli_verb_type_show(struct cli *c, const struct cli_args *a)
{
    const char *name = a->pos[0];
    struct cli_type t;
    struct cli_snap s = {0};
    /* The registry alone first: no node, no discovery wait. */
    int rc = cli_type_resolve(c, name, NULL, NULL, 0, &t);
    if (rc == AX_ENOTFOUND && !cli_flag(a, "local")) {
        if ((rc = live_snap(c, &s)) != 0)
            return rc;
        rc = cli_type_resolve(c, name, NULL, &s, 0, &t);
    }
    cli_snap_free(&s);
    if (rc == AX_ENOTFOUND && cli_flag(a, "local"))
        return cli_error("unknown type '%s': it is not compiled into axon (without --local the "
                         "live nodes are asked too)",
                         name);
    if (rc == AX_ENOTFOUND)
        return cli_error("unknown type '%s': it is not compiled into axon and no node of domain "
                         "%u announces it (axon type list)",
                         name, (unsigned)c->cfg.domain);
    if (rc < 0)
        return cli_error("cannot get the schema of type '%s': %s", name, ax_strerror(rc));
    int result = CLI_EXIT_OK;
    char *text = NULL;
    if (!t.type)
        result = cli_error("type '%s': the nodes that use it publish it raw and none serves a "
                           "schema for it",
                           name);
    else if (!t.fds)
        result = cli_error("type '%s' is compiled in without its schema", name);
    else if ((rc = ax_type_proto_text(t.fds, t.fds_len, name, &text)) < 0)
        result = cli_error("type '%s': its schema (%s) cannot be printed: %s", name, t.source,
                           ax_strerror(rc));
    char h[AX_TYPE_HASH_STRLEN];
    if (result == CLI_EXIT_OK && c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "name", name);
        cj_str(&j, "hash", cli_fmt_hash(t.hash, h, sizeof h));
        cj_str(&j, "source", t.source);
        cj_str(&j, "proto", text);
        cj_end_obj(&j);
        cj_done(&j);
    } else if (result == CLI_EXIT_OK) {
        /* Comments, so the whole output is still .proto text. */
        printf("// %s %s\n// %s\n\n%s", name, cli_fmt_hash(t.hash, h, sizeof h), t.source, text);
    }
    free(text);
    cli_type_fini(&t);
    return result;
}
