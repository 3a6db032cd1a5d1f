/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon topic echo TOPIC: print a topic's messages, decoded.
 *
 * The type comes from the table (the publisher's type name and hash): the
 * registry when this program was built with it, else the publisher's own
 * schema (its FileDescriptorSet, fetched over a TOOL connection) turned
 * into a type at run time, so any protobuf type prints, including types the
 * CLI has never seen. A topic whose publishers have no schema is raw bytes:
 * size and a hex prefix.
 *
 * The callback only copies into a bounded queue (the node's thread must not
 * block on a slow terminal); the main thread decodes and prints. Messages
 * the queue had no room for are counted and reported, never skipped quietly.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct echo {
    struct cli_msgq *q;
    atomic_ullong skipped;
};

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct echo *e = user;
    (void)sub;
    struct cli_qmsg q = {.kind = CLI_Q_MSG,
                         .seq = m->seq,
                         .source_ns = m->source_ns,
                         .received_ns = m->received_ns,
                         .publisher_node = m->publisher_node,
                         .data = m->data,
                         .len = m->len};
    if (!cli_msgq_push(e->q, &q, false))
        atomic_fetch_add(&e->skipped, 1);
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct echo *e = user;
    (void)self;
    struct cli_qmsg q = {.publisher_node = ev->node_id,
                         .data = (const uint8_t *)ev->node_name,
                         .len = strlen(ev->node_name)};
    if (ev->kind == AX_PS_GAP) {
        q.kind = CLI_Q_GAP;
        q.a = ev->expected_seq;
        q.b = ev->received_seq;
        q.c = ev->missing;
        q.seq = ev->restarted;
    } else if (ev->kind == AX_PS_DROPPED) {
        q.kind = CLI_Q_DROP;
        q.a = ev->dropped;
        q.b = (uint64_t)ev->reason;
    } else {
        return;
    }
    cli_msgq_push(e->q, &q, true);
}

static void print_hex(FILE *f, const uint8_t *d, size_t len, size_t max)
{
    size_t n = max && len > max ? max : len;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", d[i]);
}

/* Print one message; returns 0, or an error code to stop with. */
static int print_one(struct cli *c, const struct cli_type *t, const struct cli_qmsg *m,
                     const struct ax_print_options *po, bool raw, bool meta, const char *topic)
{
    char tb[40];
    if (raw || !t->type) {
        size_t max = po->max_bytes == SIZE_MAX ? 0 : po->max_bytes;
        if (c->json) {
            struct cli_json j;
            cj_init(&j, stdout);
            cj_obj(&j, NULL);
            if (meta) {
                cj_str(&j, "topic", topic);
                cj_uint(&j, "seq", m->seq);
                cj_int(&j, "source_ns", m->source_ns);
                cj_int(&j, "received_ns", m->received_ns);
            }
            cj_uint(&j, "size", m->len);
            size_t n = max && m->len > max ? max : m->len;
            char *hex = malloc(2 * n + 1);
            for (size_t i = 0; hex && i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", m->data[i]);
            if (hex)
                hex[2 * n] = '\0';
            cj_str(&j, "data_hex", hex ? hex : "");
            free(hex);
            cj_bool(&j, "truncated", max && m->len > max);
            cj_end_obj(&j);
            fputc('\n', stdout);
        } else {
            if (meta)
                printf("# seq %llu, published %s\n", (unsigned long long)m->seq,
                       cli_fmt_time(m->source_ns, tb, sizeof tb));
            printf("size: %zu\ndata: ", m->len);
            print_hex(stdout, m->data, m->len, max);
            if (max && m->len > max)
                printf("... (%zu bytes)", m->len);
            printf("\n---\n");
        }
        return 0;
    }
    struct ax_msg am = {.data = m->data, .len = m->len};
    ProtobufCMessage *pm = NULL;
    int rc = ax_msg_unpack(&am, ax_type_descriptor(t->type), &pm);
    if (rc < 0) {
        cli_warn("message %llu does not decode as %s (%s); printing it raw",
                 (unsigned long long)m->seq, t->name, ax_strerror(rc));
        return print_one(c, t, m, po, true, meta, topic);
    }
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    rc = ax_msg_print(pm, po, &sb);
    protobuf_c_message_free_unpacked(pm, NULL);
    if (rc == AX_ENOTFOUND) {
        ax_strbuf_fini(&sb);
        return cli_error("%s has no field '%s' (or the index is out of range). The fields are "
                         "those of the .proto; 'axon topic echo %s -n 1' shows them",
                         t->name, po->path, topic);
    }
    if (rc < 0) {
        ax_strbuf_fini(&sb);
        return cli_error("printing a %s: %s", t->name, ax_strerror(rc));
    }
    if (c->json) {
        if (meta) {
            struct cli_json j;
            char id[24];
            snprintf(id, sizeof id, "%016llx", (unsigned long long)m->publisher_node);
            cj_init(&j, stdout);
            cj_obj(&j, NULL);
            cj_str(&j, "topic", topic);
            cj_uint(&j, "seq", m->seq);
            cj_int(&j, "source_ns", m->source_ns);
            cj_int(&j, "received_ns", m->received_ns);
            cj_str(&j, "publisher_node", id);
            cj_raw(&j, "message", sb.data ? sb.data : "null", sb.len);
            cj_end_obj(&j);
            printf("\n");
        } else {
            fwrite(sb.data, 1, sb.len, stdout);
        }
    } else {
        if (meta)
            printf("# seq %llu, published %s, received %s\n", (unsigned long long)m->seq,
                   cli_fmt_time(m->source_ns, tb, sizeof tb),
                   cli_fmt_time(m->received_ns, tb, sizeof tb));
        fwrite(sb.data, 1, sb.len, stdout);
        printf("---\n");
    }
    ax_strbuf_fini(&sb);
    return 0;
}

int cli_verb_topic_echo(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *topic = a->pos[0];
    long count = 0, max_bytes = 16, max_elems = -1;
    int64_t timeout_ns = 0;
    if (!cli_opt_long(a, "count", 1, 1000000000L, &count) ||
        !cli_opt_long(a, "max-bytes", 0, 1L << 30, &max_bytes) ||
        !cli_opt_long(a, "max-elems", 0, 1L << 30, &max_elems) ||
        !cli_opt_seconds(a, "timeout", &timeout_ns))
        return CLI_EXIT_USAGE;
    struct ax_qos qos_override;
    const char *qos_name = cli_opt(a, "qos");
    if (qos_name && ax_qos_preset(qos_name, &qos_override) < 0)
        return cli_usage_error(a->verb, "--qos %s: one of default, sensor_data, control, latched",
                               qos_name);
    bool raw = cli_flag(a, "raw"), meta = cli_flag(a, "meta");
    const char *field = cli_opt(a, "field");
    if (raw && field)
        return cli_usage_error(a->verb, "--field needs a decoded message; drop --raw");

    int64_t end = timeout_ns ? ax_clock_mono_ns() + timeout_ns : INT64_MAX;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    if (cli_settle(c) < 0)
        return CLI_EXIT_OK;

    /* A publisher to take the type from. */
    struct cli_snap s = {0};
    const struct ax_endpoint_info *pub = NULL;
    bool said = false;
    for (;;) {
        cli_snap_free(&s);
        if ((rc = cli_snap_take(c, topic, &s)) < 0)
            return cli_error("reading the discovery table: %s", ax_strerror(rc));
        for (size_t i = 0; i < s.neps && !pub; i++)
            if (s.eps[i].kind == AX_ENDPOINT_PUBLISHER)
                pub = &s.eps[i];
        if (pub)
            break;
        if (!said)
            cli_note("no publisher of %s in domain %u yet: waiting (Ctrl-C to stop)", topic,
                     (unsigned)c->cfg.domain);
        said = true;
        if (ax_clock_mono_ns() >= end) {
            cli_snap_free(&s);
            return cli_error("no publisher of %s appeared within --timeout. 'axon topic list' "
                             "shows the topics; 'axon doctor %s' explains what it can",
                             topic, topic);
        }
        if (cli_sleep(c, 100 * AX_NS_PER_MS)) {
            cli_snap_free(&s);
            return CLI_EXIT_OK;
        }
    }
    for (size_t i = 0; i < s.neps; i++) {
        const struct ax_endpoint_info *e = &s.eps[i];
        if (e->kind == AX_ENDPOINT_PUBLISHER &&
            (strcmp(e->type_name, pub->type_name) != 0 ||
             memcmp(e->type_hash, pub->type_hash, AX_TYPE_HASH_SIZE) != 0)) {
            char h1[24], h2[24];
            cli_warn("publishers of %s differ in type: showing %s (%s) of node '%s', not %s (%s) "
                     "of node '%s'",
                     topic, pub->type_name, cli_fmt_hash_short(pub->type_hash, h1, sizeof h1),
                     pub->node_name, e->type_name, cli_fmt_hash_short(e->type_hash, h2, sizeof h2),
                     e->node_name);
        }
    }

    struct cli_type t;
    rc = cli_type_resolve(c, pub->type_name, pub->type_hash, &s, pub->node_id, &t);
    if (rc == AX_ETYPE) {
        cli_snap_free(&s);
        return cli_error("the schema of %s that node '%s' serves does not match the hash it "
                         "announces; rebuild it from one .proto. Use --raw to see the bytes",
                         pub->type_name, pub->node_name);
    }
    if (rc < 0 && !raw) {
        cli_snap_free(&s);
        return cli_error("cannot get the schema of %s from node '%s' (%s); --raw prints the "
                         "bytes without it",
                         pub->type_name, pub->node_name, ax_strerror(rc));
    }
    if (!t.type && field) {
        cli_snap_free(&s);
        cli_type_fini(&t);
        return cli_error("%s on %s has no schema (raw bytes): --field cannot select a field",
                         pub->type_name, topic);
    }

    struct echo e = {0};
    if ((rc = cli_msgq_new(&e.q, 16u << 20)) < 0) {
        cli_snap_free(&s);
        cli_type_fini(&t);
        return cli_error("%s", ax_strerror(rc));
    }
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    so.qos.reliability = pub->qos.reliability;
    so.qos.durability = pub->qos.durability;
    so.qos.history = pub->qos.history ? pub->qos.history : 1;
    if (qos_name)
        so.qos = qos_override;
    so.on_event = on_event;
    ax_sub *sub = NULL;
    rc = ax_sub_new_hash(&sub, c->node, topic, pub->type_name, pub->type_hash, on_msg, &e, &so);
    cli_snap_free(&s);
    pub = NULL;
    if (rc < 0) {
        cli_msgq_free(e.q);
        cli_type_fini(&t);
        return cli_error("cannot subscribe to %s: %s", topic, ax_strerror(rc));
    }

    struct ax_print_options po;
    ax_print_options_init(&po);
    po.format = c->json ? AX_TEXT_JSON : AX_TEXT_YAML;
    po.max_bytes = max_bytes == 0 ? SIZE_MAX : (size_t)max_bytes;
    if (max_elems >= 0)
        po.max_elems = (size_t)max_elems;
    po.path = field;

    long printed = 0;
    int result = CLI_EXIT_OK;
    uint64_t skipped_said = 0;
    while (!c->stop && (count == 0 || printed < count)) {
        struct cli_qmsg m;
        if (!cli_msgq_peek(e.q, &m)) {
            if (ax_clock_mono_ns() >= end) {
                if (count)
                    result = cli_error("only %ld of %ld messages within --timeout", printed, count);
                break;
            }
            int64_t wait = end - ax_clock_mono_ns();
            cli_wait_fd(c, cli_msgq_fd(e.q), wait < 200 * AX_NS_PER_MS ? wait : 200 * AX_NS_PER_MS);
            continue;
        }
        if (m.kind == CLI_Q_GAP && m.seq) {
            cli_warn("%s: the publisher on node '%.*s' restarted: what it sent after sequence "
                     "%llu is unknown; the new process starts at %llu",
                     topic, (int)m.len, (const char *)m.data, (unsigned long long)m.a - 1,
                     (unsigned long long)m.b);
        } else if (m.kind == CLI_Q_GAP) {
            cli_warn("%s: %llu message%s of node '%.*s' never arrived (sequence %llu..%llu)", topic,
                     (unsigned long long)m.c, m.c == 1 ? "" : "s", (int)m.len, (const char *)m.data,
                     (unsigned long long)m.a, (unsigned long long)m.b - 1);
        } else if (m.kind == CLI_Q_DROP) {
            cli_warn("%s: %llu message%s dropped (%s)", topic, (unsigned long long)m.a,
                     m.a == 1 ? "" : "s", ax_drop_reason_name((enum ax_drop_reason)m.b));
        } else {
            rc = print_one(c, &t, &m, &po, raw, meta, topic);
            if (rc) {
                result = rc;
                cli_msgq_pop(e.q);
                break;
            }
            printed++;
            if (fflush(stdout) != 0) { /* stdout closed (| head): done */
                cli_msgq_pop(e.q);
                break;
            }
        }
        cli_msgq_pop(e.q);
        uint64_t sk = atomic_load(&e.skipped);
        if (sk > skipped_said) {
            cli_warn("%llu message%s of %s not printed: printing could not keep up",
                     (unsigned long long)(sk - skipped_said), sk - skipped_said == 1 ? "" : "s",
                     topic);
            skipped_said = sk;
        }
    }
    ax_sub_free(sub);
    uint64_t sk = atomic_load(&e.skipped);
    if (sk > skipped_said)
        cli_warn("%llu message%s of %s not printed: printing could not keep up",
                 (unsigned long long)(sk - skipped_said), sk - skipped_said == 1 ? "" : "s", topic);
    cli_msgq_free(e.q);
    cli_type_fini(&t);
    return result;
}
