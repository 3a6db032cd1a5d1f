/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon doctor: what is wrong with the services of the table. Servers and
 * clients are both announced with their request and reply types, so a
 * client whose server is missing, or has other types, is seen from here
 * without calling anything.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool same_types(const struct ax_endpoint_info *a, const struct ax_endpoint_info *b)
{
    return memcmp(a->type_hash, b->type_hash, AX_TYPE_HASH_SIZE) == 0 &&
           memcmp(a->reply_type_hash, b->reply_type_hash, AX_TYPE_HASH_SIZE) == 0;
}

static void check_name(const struct cli_snap *s, const char *name, cli_doctor_add_fn add, void *r)
{
    size_t servers = 0;
    const struct ax_endpoint_info *server = NULL;
    for (size_t i = 0; i < s->neps; i++) {
        if (s->eps[i].kind == AX_ENDPOINT_SERVICE && strcmp(s->eps[i].topic, name) == 0) {
            servers++;
            server = &s->eps[i];
        }
    }
    char summary[768], fix[768];
    if (servers > 1) {
        snprintf(summary, sizeof summary, "%zu nodes serve %s; each client calls one of them",
                 servers, name);
        snprintf(fix, sizeof fix,
                 "run one server per name, or give each its own name ('axon service info %s' "
                 "lists them)",
                 name);
        add(r, "several_servers", name, summary, fix);
    }
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *cl = &s->eps[i];
        if (cl->kind != AX_ENDPOINT_CLIENT || strcmp(cl->topic, name) != 0)
            continue;
        const struct ax_endpoint_info *match = NULL;
        for (size_t k = 0; k < s->neps && !match; k++)
            if (s->eps[k].kind == AX_ENDPOINT_SERVICE && strcmp(s->eps[k].topic, name) == 0 &&
                same_types(&s->eps[k], cl))
                match = &s->eps[k];
        if (match)
            continue;
        if (!server) {
            snprintf(summary, sizeof summary,
                     "client of %s on node '%s': no node serves %s in this domain", name,
                     cl->node_name, name);
            snprintf(fix, sizeof fix,
                     "start the server, or check the name ('axon service list') and that the "
                     "server runs in the same domain and discovery mode");
            add(r, "no_server", name, summary, fix);
        } else {
            snprintf(summary, sizeof summary,
                     "client of %s on node '%s' sends %s and expects %s; the server on node '%s' "
                     "takes %s and answers %s: every call fails with AX_ETYPE",
                     name, cl->node_name, cl->type_name, cl->reply_type_name, server->node_name,
                     server->type_name, server->reply_type_name);
            snprintf(fix, sizeof fix,
                     "build both from the same .proto files ('axon type show %s' prints the "
                     "server's schema)",
                     server->type_name);
            add(r, "service_type_mismatch", name, summary, fix);
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool cli_doctor_services(struct cli *c, const char *name, cli_doctor_add_fn add, void *r)
{
    struct cli_snap s;
    if (cli_snap_take_kind(c, name, true, &s) < 0)
        return false;
    bool any = s.neps > 0;
    if (name) {
        check_name(&s, name, add, r);
    } else {
        const char **names = calloc(s.neps + 1, sizeof *names);
        size_t n = 0;
        for (size_t i = 0; names && i < s.neps; i++) {
            bool have = false;
            for (size_t k = 0; k < n && !have; k++)
                have = strcmp(names[k], s.eps[i].topic) == 0;
            if (!have)
                names[n++] = s.eps[i].topic;
        }
        if (names)
            qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++)
            check_name(&s, names[i], add, r);
        free(names);
    }
    cli_snap_free(&s);
    return any;
}
