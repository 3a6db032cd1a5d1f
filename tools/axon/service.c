/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon service list | info NAME | call NAME TEXT: the services of the
 * domain, from the discovery table, and calling one with a request written
 * as text (the syntax of `axon topic pub`). Types the CLI was not built
 * with come from the server's node, as topics' types do from publishers.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_service(const void *a, const void *b)
{
    const struct ax_endpoint_info *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : strcmp(x->node_name, y->node_name);
}

/* The snapshot's services (of @name when not NULL), sorted, at the front
 * of s->eps; returns how many. */
static size_t services_of(struct cli_snap *s, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < s->neps; i++) {
        if (s->eps[i].kind != AX_ENDPOINT_SERVICE || (name && strcmp(s->eps[i].topic, name) != 0))
            continue;
        struct ax_endpoint_info tmp = s->eps[n];
        s->eps[n++] = s->eps[i];
        s->eps[i] = tmp;
    }
    qsort(s->eps, n, sizeof *s->eps, cmp_service);
    return n;
}

static void json_service(struct cli_json *j, const struct ax_endpoint_info *e)
{
    char h[80];
    cj_obj(j, NULL);
    cj_str(j, "name", e->topic);
    cj_str(j, "node", e->node_name);
    cj_str(j, "request_type", e->type_name);
    cj_str(j, "request_hash", cli_fmt_hash(e->type_hash, h, sizeof h));
    cj_str(j, "reply_type", e->reply_type_name);
    cj_str(j, "reply_hash", cli_fmt_hash(e->reply_type_hash, h, sizeof h));
    cj_uint(j, "max_request", e->max_request);
    cj_uint(j, "calls", e->counters.messages);
    cj_uint(j, "clients", e->counters.connections);
    cj_end_obj(j);
}

static int open_snap(struct cli *c, const char *name, struct cli_snap *s)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;
    if ((rc = cli_snap_take_kind(c, name, true, s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    return -1; /* go on */
}

int cli_verb_service_list(struct cli *c, const struct cli_args *a)
{
    (void)a;
    struct cli_snap s;
    int rc = open_snap(c, NULL, &s);
    if (rc >= 0)
        return rc;
    size_t n = services_of(&s, NULL);
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_uint(&j, "domain", c->cfg.domain);
        cj_arr(&j, "services");
        for (size_t i = 0; i < n; i++)
            json_service(&j, &s.eps[i]);
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else if (n == 0) {
        printf("No services in domain %u.\n", (unsigned)c->cfg.domain);
    } else {
        static const char *const cols[] = {"NAME", "REQUEST", "REPLY",
                                           "NODE", ">CALLS",  ">CLIENTS"};
        struct cli_table *t = cli_table_new(cols, 6);
        for (size_t i = 0; i < n; i++) {
            const struct ax_endpoint_info *e = &s.eps[i];
            cli_table_row(t);
            cli_table_cell(t, "%s", e->topic);
            cli_table_cell(t, "%s", e->type_name);
            cli_table_cell(t, "%s", e->reply_type_name);
            cli_table_cell(t, "%s", e->node_name);
            cli_table_cell(t, "%llu", (unsigned long long)e->counters.messages);
            cli_table_cell(t, "%u", (unsigned)e->counters.connections);
        }
        cli_table_print(t, stdout, NULL);
        cli_table_free(t);
        printf("%zu service%s in domain %u.\n", n, n == 1 ? "" : "s", (unsigned)c->cfg.domain);
    }
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}

static int no_server(struct cli *c, const char *name)
{
    return cli_error("no server of %s in domain %u ('axon service list' shows those there are)",
                     name, (unsigned)c->cfg.domain);
}

/* The servers of @name (s->eps[0..n)), or an exit code. */
static int open_servers(struct cli *c, const char *name, struct cli_snap *s, size_t *n)
{
    int rc = open_snap(c, name, s);
    if (rc >= 0)
        return rc;
    *n = services_of(s, name);
    if (*n == 0) {
        cli_snap_free(s);
        return no_server(c, name);
    }
    return -1; /* go on */
}

int cli_verb_service_info(struct cli *c, const struct cli_args *a)
{
    const char *name = a->pos[0];
    struct cli_snap s;
    size_t n;
    int rc = open_servers(c, name, &s, &n);
    if (rc >= 0)
        return rc;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_arr(&j, NULL);
        for (size_t i = 0; i < n; i++)
            json_service(&j, &s.eps[i]);
        cj_end_arr(&j);
        cj_done(&j);
    } else {
        for (size_t i = 0; i < n; i++) {
            const struct ax_endpoint_info *e = &s.eps[i];
            const struct ax_node_info *ni = cli_snap_node(&s, e->node_id);
            char h1[40], h2[40], sz[32];
            printf("%s\n  server:   node '%s' (%s, pid %u)\n", e->topic, e->node_name,
                   ni ? ni->host : "?", ni ? (unsigned)ni->pid : 0u);
            printf("  request:  %s (%s), at most %s\n", e->type_name,
                   cli_fmt_hash_short(e->type_hash, h1, sizeof h1),
                   cli_fmt_size((double)e->max_request, sz, sizeof sz));
            printf("  reply:    %s (%s)\n", e->reply_type_name,
                   cli_fmt_hash_short(e->reply_type_hash, h2, sizeof h2));
            printf("  calls:    %llu answered, %u client%s connected\n",
                   (unsigned long long)e->counters.messages, (unsigned)e->counters.connections,
                   e->counters.connections == 1 ? "" : "s");
        }
        if (n > 1)
            cli_warn("%zu nodes serve %s: a client calls one of them (its own process's first)", n,
                     name);
    }
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}

/* One of the two types of the server @e, from the registry or its node. */
static int resolve(struct cli *c, const struct cli_snap *s, const struct ax_endpoint_info *e,
                   bool reply, struct cli_type *t)
{
    const char *name = reply ? e->reply_type_name : e->type_name;
    int rc = cli_type_resolve(c, name, reply ? e->reply_type_hash : e->type_hash, s, e->node_id, t);
    if (rc == 0 && !t->type) {
        cli_type_fini(t);
        rc = AX_ENOTFOUND;
    }
    if (rc == AX_ETYPE)
        return cli_error("the %s type %s of %s differs from the one axon was built with, and "
                         "node '%s' gave no schema for it",
                         reply ? "reply" : "request", name, e->topic, e->node_name);
    if (rc < 0)
        return cli_error("cannot get the schema of %s (the %s type of %s) from node '%s': %s", name,
                         reply ? "reply" : "request", e->topic, e->node_name, ax_strerror(rc));
    return 0;
}

int cli_verb_service_call(struct cli *c, const struct cli_args *a)
{
    const char *name = a->pos[0], *text = a->pos[1];
    int64_t timeout = 5 * AX_NS_PER_S;
    if (!cli_opt_seconds(a, "timeout", &timeout))
        return CLI_EXIT_USAGE;
    struct cli_snap s;
    size_t n;
    int rc = open_servers(c, name, &s, &n);
    if (rc >= 0)
        return rc;
    const struct ax_endpoint_info *e = &s.eps[0];
    struct cli_type rq, rp;
    if ((rc = resolve(c, &s, e, false, &rq)) != 0) {
        cli_snap_free(&s);
        return rc;
    }
    if ((rc = resolve(c, &s, e, true, &rp)) != 0) {
        cli_type_fini(&rq);
        cli_snap_free(&s);
        return rc;
    }
    int result = CLI_EXIT_OK;
    ProtobufCMessage *req = NULL, *rep = NULL;
    ax_client *cl = NULL;
    struct ax_parse_error perr;
    rc = ax_msg_parse(ax_type_descriptor(rq.type), text, strlen(text), &req, &perr);
    if (rc < 0) {
        result = rc == AX_EPROTO
                     ? cli_error("bad %s text: %s", rq.name, perr.message)
                     : cli_error("cannot parse the %s text: %s", rq.name, ax_strerror(rc));
        goto out;
    }
    if ((rc = ax_client_new(&cl, c->node, name, rq.type, rp.type, NULL)) < 0) {
        result = cli_error("cannot make a client of %s: %s", name, ax_strerror(rc));
        goto out;
    }
    struct ax_call_result res;
    rc = ax_client_call(cl, req, &rep, timeout, &res);
    if (rc < 0) {
        if (rc == AX_EREFUSED)
            result = cli_error("%s refused the call (%s): %s", e->node_name,
                               ax_err_name(res.handler_error), res.reason);
        else
            result = cli_error("%s (%s)", res.reason, ax_err_name(rc));
        goto out;
    }
    if (c->json) {
        struct ax_print_options po;
        ax_print_options_init(&po);
        po.format = AX_TEXT_JSON;
        ax_msg_fprint(rep, &po, stdout);
        fputc('\n', stdout);
    } else {
        ax_msg_fprint(rep, NULL, stdout);
        fputc('\n', stdout);
    }
out:
    if (rep)
        protobuf_c_message_free_unpacked(rep, NULL);
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
    ax_client_free(cl);
    cli_type_fini(&rp);
    cli_type_fini(&rq);
    cli_snap_free(&s);
    return result;
}
