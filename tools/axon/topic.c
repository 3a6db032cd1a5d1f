/* SPDX-License-Identifier: Apache-2.0 */
/* axon topic list | info TOPIC | type TOPIC: topics, from the table only. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct ttype {
    char name[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
};

struct topic {
    char name[AX_TOPIC_MAX];
    struct ttype types[8];
    size_t ntypes;
    unsigned pubs, subs;
};

static void add_type(struct topic *t, const struct ax_endpoint_info *e)
{
    for (size_t i = 0; i < t->ntypes; i++)
        if (strcmp(t->types[i].name, e->type_name) == 0 &&
            memcmp(t->types[i].hash, e->type_hash, AX_TYPE_HASH_SIZE) == 0)
            return;
    if (t->ntypes < 8) {
        snprintf(t->types[t->ntypes].name, sizeof t->types[0].name, "%s", e->type_name);
        memcpy(t->types[t->ntypes].hash, e->type_hash, AX_TYPE_HASH_SIZE);
        t->ntypes++;
    }
}

static int cmp_topic(const void *a, const void *b)
{
    return strcmp(((const struct topic *)a)->name, ((const struct topic *)b)->name);
}

/* The topics of a snapshot, sorted by name; caller frees. */
static struct topic *collect(const struct cli_snap *s, size_t *n)
{
    struct topic *t = calloc(s->neps ? s->neps : 1, sizeof *t);
    size_t k = 0;
    if (!t)
        return NULL;
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *e = &s->eps[i];
        size_t j;
        for (j = 0; j < k; j++)
            if (strcmp(t[j].name, e->topic) == 0)
                break;
        if (j == k)
            snprintf(t[k++].name, sizeof t->name, "%s", e->topic);
        add_type(&t[j], e);
        if (e->kind == AX_ENDPOINT_PUBLISHER)
            t[j].pubs++;
        else
            t[j].subs++;
    }
    qsort(t, k, sizeof *t, cmp_topic);
    *n = k;
    return t;
}

static void node_names(const struct cli_snap *s, const char *topic, enum ax_endpoint_kind kind,
                       char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *e = &s->eps[i];
        if (e->kind != kind || strcmp(e->topic, topic) != 0)
            continue;
        int n = snprintf(buf + off, size - off, "%s%s", off ? "," : "", e->node_name);
        if (n < 0 || (size_t)n >= size - off)
            break;
        off += (size_t)n;
    }
    if (!off)
        snprintf(buf, size, "-");
}

int cli_verb_topic_list(struct cli *c, const struct cli_args *a)
{
    int rc;
    bool verbose = cli_flag(a, "verbose");
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;
    struct cli_snap s;
    if ((rc = cli_snap_take(c, NULL, &s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    size_t n = 0;
    struct topic *t = collect(&s, &n);
    if (!t) {
        cli_snap_free(&s);
        return cli_error("out of memory");
    }
    bool any_conflict = false;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_uint(&j, "domain", c->cfg.domain);
        cj_bool(&j, "settled", c->settled);
        cj_arr(&j, "topics");
        for (size_t i = 0; i < n; i++) {
            char h[AX_TYPE_HASH_STRLEN];
            cj_obj(&j, NULL);
            cj_str(&j, "topic", t[i].name);
            cj_arr(&j, "types");
            for (size_t k = 0; k < t[i].ntypes; k++) {
                cj_obj(&j, NULL);
                cj_str(&j, "name", t[i].types[k].name);
                cj_str(&j, "hash", cli_fmt_hash(t[i].types[k].hash, h, sizeof h));
                cj_end_obj(&j);
            }
            cj_end_arr(&j);
            cj_uint(&j, "publishers", t[i].pubs);
            cj_uint(&j, "subscribers", t[i].subs);
            cj_bool(&j, "type_conflict", t[i].ntypes > 1);
            if (verbose) {
                for (int kind = 0; kind < 2; kind++) {
                    cj_arr(&j, kind == 0 ? "publisher_nodes" : "subscriber_nodes");
                    for (size_t e = 0; e < s.neps; e++)
                        if ((int)s.eps[e].kind == kind && strcmp(s.eps[e].topic, t[i].name) == 0)
                            cj_str(&j, NULL, s.eps[e].node_name);
                    cj_end_arr(&j);
                }
            }
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else if (n == 0) {
        printf("No topics in domain %u.\n", (unsigned)c->cfg.domain);
    } else {
        static const char *const cols[] = {"TOPIC", "TYPE",       ">PUBS",      ">SUBS",
                                           "HASH",  "PUBLISHERS", "SUBSCRIBERS"};
        struct cli_table *tb = cli_table_new(cols, verbose ? 7 : 4);
        for (size_t i = 0; i < n; i++) {
            char types[512] = "", hashes[256] = "";
            size_t off = 0, hoff = 0;
            for (size_t k = 0; k < t[i].ntypes; k++) {
                char h[24];
                int w = snprintf(types + off, sizeof types - off, "%s%s", k ? ", " : "",
                                 t[i].types[k].name);
                if (w > 0 && (size_t)w < sizeof types - off)
                    off += (size_t)w;
                w = snprintf(hashes + hoff, sizeof hashes - hoff, "%s%s", k ? "," : "",
                             cli_fmt_hash_short(t[i].types[k].hash, h, sizeof h));
                if (w > 0 && (size_t)w < sizeof hashes - hoff)
                    hoff += (size_t)w;
            }
            if (t[i].ntypes > 1)
                any_conflict = true;
            cli_table_row(tb);
            cli_table_cell(tb, "%s", t[i].name);
            cli_table_cell(tb, "%s%s", types, t[i].ntypes > 1 ? "  !" : "");
            cli_table_cell(tb, "%u", t[i].pubs);
            cli_table_cell(tb, "%u", t[i].subs);
            if (verbose) {
                char p[512], sb[512];
                node_names(&s, t[i].name, AX_ENDPOINT_PUBLISHER, p, sizeof p);
                node_names(&s, t[i].name, AX_ENDPOINT_SUBSCRIBER, sb, sizeof sb);
                cli_table_cell(tb, "%s", hashes);
                cli_table_cell(tb, "%s", p);
                cli_table_cell(tb, "%s", sb);
            }
        }
        cli_table_print(tb, stdout, NULL);
        cli_table_free(tb);
        if (any_conflict)
            printf("! endpoints of this topic disagree on the type: they do not exchange "
                   "messages (run 'axon doctor TOPIC').\n");
    }
    if (!c->settled)
        cli_note("note: discovery was still changing after %.1f s (--wait); the list may be "
                 "incomplete",
                 (double)c->wait_ns / 1e9);
    free(t);
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}

static int cmp_ep(const void *a, const void *b)
{
    const struct ax_endpoint_info *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->node_name, y->node_name);
    return c ? c : (x->id < y->id ? -1 : x->id > y->id);
}

/* Take a snapshot of @topic's endpoints after settling; prints the error. */
static int topic_snap(struct cli *c, const char *topic, struct cli_snap *s)
{
    int rc = cli_node_open(c);
    if (rc)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_HELP_SHOWN; /* interrupted: exit 0 quietly */
    if ((rc = cli_snap_take(c, topic, s)) < 0)
        return cli_error("reading the discovery table: %s", ax_strerror(rc));
    if (s->neps == 0) {
        cli_snap_free(s);
        return cli_error("no publisher or subscriber of '%s' in domain %u%s. 'axon topic list' "
                         "shows the topics; 'axon doctor %s' also looks in other domains",
                         topic, (unsigned)c->cfg.domain,
                         c->settled ? "" : " (discovery had not settled: try a longer --wait)",
                         topic);
    }
    qsort(s->eps, s->neps, sizeof *s->eps, cmp_ep);
    return 0;
}

/* Each subscription's links to the publishers: the transport, and why
 * not shared memory. */
static void print_links(const struct cli_snap *s)
{
    bool any = false;
    for (size_t i = 0; i < s->neps; i++) {
        const struct ax_endpoint_info *e = &s->eps[i];
        if (e->kind != AX_ENDPOINT_SUBSCRIBER || e->counters.nlinks == 0)
            continue;
        if (!any)
            printf("\n  Links (subscriber <- publisher: transport):\n");
        any = true;
        for (uint32_t k = 0; k < e->counters.nlinks && k < AX_LINKS_SHOWN; k++) {
            const struct ax_link_info *li = &e->counters.links[k];
            const struct ax_node_info *pn = cli_snap_node(s, li->node_id);
            char pname[80];
            if (pn)
                snprintf(pname, sizeof pname, "%s", pn->name);
            else
                snprintf(pname, sizeof pname, "%016llx", (unsigned long long)li->node_id);
            printf("    %s <- %s: %s", e->node_name, pname,
                   li->transport == AX_LINK_NONE ? "not connected"
                                                 : ax_link_transport_name(li->transport));
            if (li->reason)
                printf(" (%s)", ax_shm_reason_text(li->reason));
            printf("\n");
        }
        if (e->counters.links_total > e->counters.nlinks)
            printf("    %s: and %u more\n", e->node_name,
                   (unsigned)(e->counters.links_total - e->counters.nlinks));
    }
}

int cli_verb_topic_info(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *topic = a->pos[0];
    struct cli_snap s;
    if ((rc = topic_snap(c, topic, &s)) != 0)
        return rc;
    size_t n = 0;
    struct topic *t = collect(&s, &n);
    if (!t) {
        cli_snap_free(&s);
        return cli_error("out of memory");
    }
    if (c->json) {
        struct cli_json j;
        char h[AX_TYPE_HASH_STRLEN];
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "topic", topic);
        cj_arr(&j, "types");
        for (size_t k = 0; k < t[0].ntypes; k++) {
            cj_obj(&j, NULL);
            cj_str(&j, "name", t[0].types[k].name);
            cj_str(&j, "hash", cli_fmt_hash(t[0].types[k].hash, h, sizeof h));
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_uint(&j, "publishers", t[0].pubs);
        cj_uint(&j, "subscribers", t[0].subs);
        cj_arr(&j, "endpoints");
        for (size_t i = 0; i < s.neps; i++)
            cj_endpoint(&j, NULL, &s.eps[i]);
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        printf("Topic %s\n", topic);
        for (size_t k = 0; k < t[0].ntypes; k++) {
            char h[AX_TYPE_HASH_STRLEN];
            printf("  type:  %s  (%s)\n", t[0].types[k].name,
                   cli_fmt_hash(t[0].types[k].hash, h, sizeof h));
        }
        if (t[0].ntypes > 1)
            printf("  !! the endpoints disagree on the type; mismatched pairs do not talk "
                   "(axon doctor %s)\n",
                   topic);
        printf("  %u publisher%s, %u subscriber%s\n", t[0].pubs, t[0].pubs == 1 ? "" : "s",
               t[0].subs, t[0].subs == 1 ? "" : "s");
        for (int kind = 0; kind < 2; kind++) {
            bool pub = kind == AX_ENDPOINT_PUBLISHER;
            if (pub ? !t[0].pubs : !t[0].subs)
                continue;
            printf("\n%s:\n", pub ? "Publishers" : "Subscribers");
            static const char *const pc[] = {
                "NODE",    "TYPE",  "RELIABILITY", "DURABILITY", "OVERLOAD", ">DEPTH",     ">CONN",
                ">QUEUED", ">MSGS", ">BYTES",      "DROPS",      "GAPS",     "LAST ERROR", ">AGE"};
            struct cli_table *tb = cli_table_new(pc, 14);
            for (size_t i = 0; i < s.neps; i++) {
                const struct ax_endpoint_info *e = &s.eps[i];
                if ((int)e->kind != kind)
                    continue;
                char h[24], b[32], d[160], ag[32];
                cli_table_row(tb);
                cli_table_cell(tb, "%s", e->node_name);
                cli_table_cell(tb, "%s%s%s", e->type_name, t[0].ntypes > 1 ? " " : "",
                               t[0].ntypes > 1 ? cli_fmt_hash_short(e->type_hash, h, sizeof h)
                                               : "");
                cli_table_cell(tb, "%s", cli_reliability_name(e->qos.reliability));
                cli_table_cell(tb, "%s", cli_durability_name(e->qos.durability));
                cli_table_cell(tb, "%s", ax_overload_name(e->qos.overload));
                cli_table_cell(tb, "%u", (unsigned)e->qos.history);
                cli_table_cell(tb, "%u", (unsigned)e->counters.connections);
                if (pub)
                    cli_table_cell(tb, "%llu", (unsigned long long)e->counters.queued_messages);
                else
                    cli_table_cell(tb, "-");
                cli_table_cell(tb, "%llu", (unsigned long long)e->counters.messages);
                cli_table_cell(tb, "%s", cli_fmt_size((double)e->counters.bytes, b, sizeof b));
                cli_table_cell(tb, "%s", cli_fmt_drops(&e->counters, d, sizeof d));
                if (pub)
                    cli_table_cell(tb, "-");
                else
                    cli_table_cell(tb, "%llu", (unsigned long long)e->counters.gaps);
                cli_table_cell(tb, "%s",
                               !pub && e->counters.last_error ? ax_strerror(e->counters.last_error)
                                                              : "-");
                cli_table_cell(
                    tb, "%s",
                    cli_fmt_dur(ax_clock_mono_ns() - e->counters.received_ns, ag, sizeof ag));
            }
            cli_table_print(tb, stdout, "  ");
            cli_table_free(tb);
            if (!pub)
                print_links(&s);
            for (size_t i = 0; i < s.neps; i++) {
                const struct ax_endpoint_info *e = &s.eps[i];
                if ((int)e->kind == kind && (e->qos.deadline_ns || e->qos.lifespan_ns)) {
                    char q[128];
                    printf("  %s: %s\n", e->node_name, cli_fmt_qos(&e->qos, q, sizeof q));
                }
            }
        }
    }
    free(t);
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}

int cli_verb_topic_type(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *topic = a->pos[0];
    struct cli_snap s;
    if ((rc = topic_snap(c, topic, &s)) != 0)
        return rc;
    size_t n = 0;
    struct topic *t = collect(&s, &n);
    if (!t) {
        cli_snap_free(&s);
        return cli_error("out of memory");
    }
    char h[AX_TYPE_HASH_STRLEN];
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "topic", topic);
        cj_arr(&j, "types");
        for (size_t k = 0; k < t[0].ntypes; k++) {
            cj_obj(&j, NULL);
            cj_str(&j, "name", t[0].types[k].name);
            cj_str(&j, "hash", cli_fmt_hash(t[0].types[k].hash, h, sizeof h));
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        for (size_t k = 0; k < t[0].ntypes; k++) {
            if (cli_flag(a, "hash"))
                printf("%s %s\n", t[0].types[k].name,
                       cli_fmt_hash(t[0].types[k].hash, h, sizeof h));
            else
                printf("%s\n", t[0].types[k].name);
        }
    }
    if (t[0].ntypes > 1)
        cli_warn("the endpoints of %s disagree on the type (axon doctor %s)", topic, topic);
    free(t);
    cli_snap_free(&s);
    return CLI_EXIT_OK;
}
