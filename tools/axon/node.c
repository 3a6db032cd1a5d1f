/* SPDX-License-Identifier: Apache-2.0 */
/* axon node list | info NAME: the nodes of the domain, from the table. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmp_node(const void *a, const void *b)
{
    const struct ax_node_info *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->id < y->id ? -1 : x->id > y->id);
}

static int cmp_ep(const void *a, const void *b)
{
    const struct ax_endpoint_info *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->id < y->id ? -1 : x->id > y->id);
}

static void settle_note(struct cli *c)
{
    if (!c->settled)
        cli_note("note: discovery was still changing after %.1f s (--wait); the list may be "
                 "incomplete",
                 (double)c->wait_ns / 1e9);
}

int cli_verb_node_list(struct cli *c, const struct cli_args *a)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;
    struct cli_snap s;
    if ((rc = cli_snap_take(c, NULL, &s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    qsort(s.nodes, s.nnodes, sizeof *s.nodes, cmp_node);
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_uint(&j, "domain", c->cfg.domain);
        cj_bool(&j, "settled", c->settled);
        cj_arr(&j, "nodes");
        for (size_t i = 0; i < s.nnodes; i++)
            cj_node(&j, NULL, &s.nodes[i]);
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else if (s.nnodes == 0) {
        printf("No nodes in domain %u (discovery mode %s).\n", (unsigned)c->cfg.domain,
               cli_mode_name(c->cfg.discovery.mode));
        printf("If nodes should be running: check that they use the same domain (axon doctor "
               "scans every domain) and discovery mode.\n");
    } else {
        static const char *const cols[] = {"NAME",    "ID",     "HOST",  ">PID",  "TCP",
                                           ">UPTIME", ">HEARD", ">PUBS", ">SUBS", "MODE"};
        struct cli_table *t = cli_table_new(cols, 10);
        for (size_t i = 0; i < s.nnodes; i++) {
            const struct ax_node_info *n = &s.nodes[i];
            char b1[32], b2[32];
            cli_table_row(t);
            cli_table_cell(t, "%s", n->name);
            cli_table_cell(t, "%016llx", (unsigned long long)n->id);
            cli_table_cell(t, "%s", n->host);
            cli_table_cell(t, "%u", (unsigned)n->pid);
            cli_table_cell(t, "%s", n->tcp[0] ? n->tcp : "-");
            cli_table_cell(t, "%s", cli_fmt_dur(n->uptime_ns, b1, sizeof b1));
            cli_table_cell(t, "%s ago", cli_fmt_dur(n->heard_age_ns, b2, sizeof b2));
            cli_table_cell(t, "%u", (unsigned)n->publishers);
            cli_table_cell(t, "%u", (unsigned)n->subscribers);
            cli_table_cell(t, "%s", cli_mode_name(n->mode));
        }
        cli_table_print(t, stdout, NULL);
        cli_table_free(t);
        printf("%zu node%s in domain %u.\n", s.nnodes, s.nnodes == 1 ? "" : "s",
               (unsigned)c->cfg.domain);
    }
    settle_note(c);
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}

/* Whether @arg names node @n: its name, or its id in hex (16 digits or a
 * unique prefix of at least 4). */
static bool names_node(const char *arg, const struct ax_node_info *n)
{
    if (strcmp(arg, n->name) == 0)
        return true;
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)n->id);
    size_t len = strlen(arg);
    return len >= 4 && len <= 16 && strncmp(id, arg, len) == 0;
}

static void print_endpoints(const struct cli_snap *s, uint64_t node_id)
{
    static const char *const cols[] = {"KIND",  "TOPIC",  "TYPE",  "QOS",  ">CONN",
                                       ">MSGS", ">BYTES", "DROPS", "GAPS", "LAST ERROR"};
    struct cli_table *t = cli_table_new(cols, 10);
    size_t n = 0;
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *e = &s->eps[i];
        if (e->node_id != node_id)
            continue;
        char q[128], b[32], d[160];
        cli_table_row(t);
        cli_table_cell(t, "%s", e->kind == AX_ENDPOINT_PUBLISHER ? "pub" : "sub");
        cli_table_cell(t, "%s", e->topic);
        cli_table_cell(t, "%s", e->type_name);
        cli_table_cell(t, "%s", cli_fmt_qos(&e->qos, q, sizeof q));
        cli_table_cell(t, "%u", (unsigned)e->counters.connections);
        cli_table_cell(t, "%llu", (unsigned long long)e->counters.messages);
        cli_table_cell(t, "%s", cli_fmt_size((double)e->counters.bytes, b, sizeof b));
        cli_table_cell(t, "%s", cli_fmt_drops(&e->counters, d, sizeof d));
        if (e->kind == AX_ENDPOINT_SUBSCRIBER)
            cli_table_cell(t, "%llu", (unsigned long long)e->counters.gaps);
        else
            cli_table_cell(t, "-");
        cli_table_cell(t, "%s",
                       e->kind == AX_ENDPOINT_SUBSCRIBER && e->counters.last_error
                           ? ax_strerror(e->counters.last_error)
                           : "-");
        n++;
    }
    if (n)
        cli_table_print(t, stdout, "  ");
    else
        printf("  (no publishers or subscribers)\n");
    cli_table_free(t);
}

/* The node's services and service clients: one line each. */
static void print_services(const struct cli_snap *sv, uint64_t node_id)
{
    for (size_t i = 0; i < sv->neps; i++) {
        const struct ax_endpoint_info *e = &sv->eps[i];
        if (e->node_id != node_id)
            continue;
        printf("  %-12s %s (%s -> %s)",
               e->kind == AX_ENDPOINT_SERVICE ? "service:" : "client:", e->topic, e->type_name,
               e->reply_type_name);
        if (e->kind == AX_ENDPOINT_SERVICE)
            printf(", %llu calls answered, %u clients\n", (unsigned long long)e->counters.messages,
                   (unsigned)e->counters.connections);
        else
            printf(", %llu calls made%s\n", (unsigned long long)e->counters.messages,
                   e->counters.connections ? ", linked" : "");
    }
}

int cli_verb_node_info(struct cli *c, const struct cli_args *a)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;
    struct cli_snap s;
    if ((rc = cli_snap_take(c, NULL, &s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    qsort(s.nodes, s.nnodes, sizeof *s.nodes, cmp_node);
    qsort(s.eps, s.neps, sizeof *s.eps, cmp_ep);
    struct cli_snap sv; /* services and clients (kept apart from the topics) */
    if (cli_snap_take_kind(c, NULL, true, &sv) < 0)
        memset(&sv, 0, sizeof sv);
    qsort(sv.eps, sv.neps, sizeof *sv.eps, cmp_ep);
    const char *want = a->pos[0];
    size_t found = 0;
    struct cli_json j;
    cj_init(&j, stdout);
    if (c->json) {
        cj_obj(&j, NULL);
        cj_arr(&j, "nodes");
    }
    for (size_t i = 0; i < s.nnodes; i++) {
        const struct ax_node_info *n = &s.nodes[i];
        if (!names_node(want, n))
            continue;
        found++;
        if (c->json) {
            cj_obj(&j, NULL);
            cj_node(&j, "node", n);
            cj_arr(&j, "endpoints");
            for (size_t k = 0; k < s.neps; k++)
                if (s.eps[k].node_id == n->id)
                    cj_endpoint(&j, NULL, &s.eps[k]);
            cj_end_arr(&j);
            cj_arr(&j, "services");
            for (size_t k = 0; k < sv.neps; k++)
                if (sv.eps[k].node_id == n->id)
                    cj_endpoint(&j, NULL, &sv.eps[k]);
            cj_end_arr(&j);
            cj_end_obj(&j);
            continue;
        }
        char b1[32], b2[32], b3[32], b4[32];
        if (found > 1)
            printf("\n");
        printf("Node %s (id %016llx)\n", n->name, (unsigned long long)n->id);
        printf("  host:        %s, pid %u\n", n->host, (unsigned)n->pid);
        printf("  tcp:         %s\n", n->tcp[0] ? n->tcp : "- (no data listener)");
        printf("  discovery:   mode %s, unicast %s, domain %u\n", cli_mode_name(n->mode),
               n->unicast, (unsigned)n->domain);
        printf("  uptime:      %s\n", cli_fmt_dur(n->uptime_ns, b1, sizeof b1));
        printf("  heard:       %s ago (heartbeat %s, lease %s)%s\n",
               cli_fmt_dur(n->heard_age_ns, b2, sizeof b2),
               cli_fmt_dur(n->heartbeat_ns, b3, sizeof b3), cli_fmt_dur(n->lease_ns, b4, sizeof b4),
               n->heartbeat_ns && n->heard_age_ns > 2 * n->heartbeat_ns ? "  <- stale" : "");
        printf("  version:     %s\n", n->version);
        printf("  endpoints:   %u publisher%s, %u subscriber%s%s\n", (unsigned)n->publishers,
               n->publishers == 1 ? "" : "s", (unsigned)n->subscribers,
               n->subscribers == 1 ? "" : "s", n->complete ? "" : " (still arriving)");
        print_endpoints(&s, n->id);
        print_services(&sv, n->id);
    }
    if (c->json) {
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    }
    cli_snap_free(&s);
    cli_snap_free(&sv);
    if (!found) {
        settle_note(c);
        return cli_error("no node named '%s' in domain %u. 'axon node list' shows the nodes; "
                         "'axon doctor' also looks in other domains",
                         want, (unsigned)c->cfg.domain);
    }
    return CLI_EXIT_OK;
}
