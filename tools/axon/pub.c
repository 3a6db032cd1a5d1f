/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon topic pub TOPIC TYPE TEXT: publish a message written as YAML/JSON.
 *
 * TYPE comes from the registry or, when axon was not built with it, from
 * the schema of a node that already publishes or subscribes it. A one-shot
 * publish waits for the subscribers the table shows to connect first, and
 * after publishing waits (bounded) until their counters in the table show
 * the message arrived, so `pub` followed by exit does not lose it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "cli.h"

/* All of stdin, at most 64 MiB (a message written as text is far less);
 * NULL when out of memory or larger. */
static char *read_stdin(size_t *len)
{
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap && (cap >= (64u << 20) || ax__array_reserve(&buf, &cap, n + 1, 4096) < 0)) {
            free(buf);
            return NULL;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0)
            break;
    }
    *len = n;
    return buf;
}

static int print_known_types(const ax_type *t, void *user)
{
    size_t *n = user;
    if ((*n)++ < 12)
        fprintf(stderr, "    %s\n", ax_type_name(t));
    return 0;
}

/* Subscribers of @topic that accept @hash: their total received count and
 * how many distinct nodes they are on. */
static void sub_state(struct cli *c, const char *topic, const uint8_t *hash, uint64_t *received,
                      size_t *nodes, size_t *eps, size_t *mismatched)
{
    struct cli_snap s;
    *received = 0;
    *nodes = 0;
    *eps = 0;
    *mismatched = 0;
    if (cli_snap_take(c, topic, &s) < 0)
        return;
    uint64_t seen[64];
    for (size_t i = 0; i < s.neps; i++) {
        const struct ax_endpoint_info *e = &s.eps[i];
        if (e->kind != AX_ENDPOINT_SUBSCRIBER)
            continue;
        if (memcmp(e->type_hash, hash, AX_TYPE_HASH_SIZE) != 0) {
            (*mismatched)++;
            continue;
        }
        *received += e->counters.messages;
        (*eps)++;
        bool dup = false;
        for (size_t k = 0; k < *nodes; k++)
            dup |= seen[k] == e->node_id;
        if (!dup && *nodes < 64)
            seen[(*nodes)++] = e->node_id;
    }
    cli_snap_free(&s);
}

int cli_verb_topic_pub(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *topic = a->pos[0], *type_name = a->pos[1], *text = a->pos[2];
    double rate = 0;
    long count = 0, wait_subs = -1;
    int64_t timeout = 5 * AX_NS_PER_S;
    if (!cli_opt_double(a, "rate", 0.001, 1e6, &rate) ||
        !cli_opt_long(a, "count", 1, 1000000000L, &count) ||
        !cli_opt_long(a, "wait-subs", 0, 10000, &wait_subs) ||
        !cli_opt_seconds(a, "timeout", &timeout))
        return CLI_EXIT_USAGE;
    if (cli_flag(a, "once") && (rate > 0 || count > 1))
        return cli_usage_error(a->verb, "--once cannot be combined with --rate or --count");
    if (count && rate == 0)
        return cli_usage_error(a->verb, "--count needs --rate");
    struct ax_qos qos = AX_QOS_DEFAULT;
    const char *qos_name = cli_opt(a, "qos");
    if (qos_name && ax_qos_preset(qos_name, &qos) < 0)
        return cli_usage_error(a->verb, "--qos %s: one of default, sensor_data, control, latched",
                               qos_name);
    bool quiet = cli_flag(a, "quiet");

    char *owned_text = NULL;
    size_t text_len = strlen(text);
    if (strcmp(text, "-") == 0) {
        owned_text = read_stdin(&text_len);
        if (!owned_text)
            return cli_error("cannot read the message text from stdin (at most 64 MiB)");
        text = owned_text;
    }

    /* The type: compiled in, or from a node that uses it. */
    struct cli_type t;
    const ax_type *reg;
    int result = CLI_EXIT_OK;
    ProtobufCMessage *msg = NULL;
    ax_pub *pub = NULL;
    if ((rc = cli_node_open(c)) != 0) {
        free(owned_text);
        return rc;
    }
    if (ax_type_find(type_name, &reg) == 0) {
        rc = cli_type_resolve(c, type_name, NULL, NULL, 0, &t);
    } else {
        if (cli_settle(c) < 0) {
            free(owned_text);
            return CLI_EXIT_OK;
        }
        struct cli_snap s;
        if ((rc = cli_snap_take(c, NULL, &s)) < 0) {
            free(owned_text);
            return cli_error("reading the discovery table: %s", ax_strerror(rc));
        }
        rc = cli_type_resolve(c, type_name, NULL, &s, 0, &t);
        cli_snap_free(&s);
    }
    if (rc == AX_ENOTFOUND || (rc == 0 && !t.type)) {
        if (rc == 0)
            cli_type_fini(&t);
        fprintf(stderr,
                "axon: error: unknown type '%s': axon was not built with it and no node in "
                "domain %u publishes or subscribes it with a schema.\n"
                "  'axon topic type TOPIC' shows a topic's type. Types compiled in include:\n",
                type_name, (unsigned)c->cfg.domain);
        size_t n = 0;
        ax_type_foreach(print_known_types, &n);
        if (n > 12)
            fprintf(stderr, "    ... (%zu in all)\n", n);
        free(owned_text);
        return CLI_EXIT_ERR;
    }
    if (rc < 0) {
        free(owned_text);
        return cli_error("cannot get the schema of %s: %s", type_name, ax_strerror(rc));
    }

    struct ax_parse_error perr;
    rc = ax_msg_parse(ax_type_descriptor(t.type), text, text_len, &msg, &perr);
    free(owned_text);
    if (rc < 0) {
        cli_type_fini(&t);
        if (rc == AX_EPROTO)
            return cli_error("bad %s text: %s", type_name, perr.message);
        return cli_error("cannot parse the %s text: %s", type_name, ax_strerror(rc));
    }

    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = qos;
    if ((rc = ax_pub_new(&pub, c->node, topic, t.type, &po)) < 0) {
        result = cli_error("cannot publish on %s: %s", topic, ax_strerror(rc));
        goto out;
    }

    /* Who should get it: the subscribers the table shows (settled). */
    if (cli_settle(c) < 0)
        goto out;
    uint64_t before = 0;
    size_t expect = 0, expect_eps = 0, mismatched = 0;
    sub_state(c, topic, t.hash, &before, &expect, &expect_eps, &mismatched);
    if (mismatched)
        cli_warn("%zu subscriber%s of %s expect%s another type than %s and will refuse these "
                 "messages (axon doctor %s)",
                 mismatched, mismatched == 1 ? "" : "s", topic, mismatched == 1 ? "s" : "",
                 type_name, topic);
    size_t want = wait_subs >= 0 ? (size_t)wait_subs : expect;
    int64_t end = ax_clock_mono_ns() + timeout;
    struct ax_endpoint_counters pc;
    for (;;) {
        ax_pub_counters(pub, &pc);
        if (pc.connections >= want)
            break;
        if (ax_clock_mono_ns() >= end) {
            cli_warn("only %u of %zu subscriber%s connected within %.1f s; publishing anyway",
                     (unsigned)pc.connections, want, want == 1 ? "" : "s", (double)timeout / 1e9);
            break;
        }
        if (cli_sleep(c, 10 * AX_NS_PER_MS))
            goto out;
    }

    long sent = 0;
    int64_t period = rate > 0 ? (int64_t)(1e9 / rate) : 0;
    int64_t next = ax_clock_mono_ns();
    for (;;) {
        while ((rc = ax_pub_publish(pub, msg)) == AX_EAGAIN)
            if (cli_sleep(c, AX_NS_PER_MS))
                goto out;
        if (rc < 0) {
            result = cli_error("publishing on %s: %s", topic, ax_strerror(rc));
            goto out;
        }
        sent++;
        if (!quiet && !c->json)
            printf("published #%ld on %s\n", sent, topic);
        fflush(stdout);
        if (rate == 0 || (count && sent >= count))
            break;
        next += period;
        int64_t now = ax_clock_mono_ns();
        if (next > now && cli_sleep(c, next - now))
            break;
        if (c->stop)
            break;
    }
    ax_pub_counters(pub, &pc);
    size_t conns = pc.connections;
    /* Flush: ax_pub_free() sends what is queued before closing. */
    ax_pub_free(pub);
    pub = NULL;

    uint64_t after = before;
    bool confirmed = false;
    if (!cli_flag(a, "no-confirm") && expect > 0 && !c->stop) {
        /* Subscribers' counters arrive every CLI_COUNTERS_NS (cli_node_open). */
        int64_t cend = ax_clock_mono_ns() + 4 * CLI_COUNTERS_NS;
        for (;;) {
            size_t n, ne, mm;
            sub_state(c, topic, t.hash, &after, &n, &ne, &mm);
            if (after >= before + (uint64_t)sent * expect_eps) {
                confirmed = true;
                break;
            }
            if (ax_clock_mono_ns() >= cend || cli_sleep(c, 50 * AX_NS_PER_MS))
                break;
        }
    }
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "topic", topic);
        cj_str(&j, "type", type_name);
        cj_uint(&j, "published", (uint64_t)sent);
        cj_uint(&j, "subscribers_connected", conns);
        cj_uint(&j, "subscribers_expected", expect);
        cj_bool(&j, "confirmed", confirmed);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        cli_note("published %ld message%s of %s on %s to %zu subscriber node%s%s", sent,
                 sent == 1 ? "" : "s", type_name, topic, conns, conns == 1 ? "" : "s",
                 confirmed                   ? " (receipt confirmed)"
                 : expect == 0               ? " (no subscribers in the table)"
                 : cli_flag(a, "no-confirm") ? ""
                                             : " (receipt not confirmed in the table yet)");
    }
out:
    ax_pub_free(pub);
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    cli_type_fini(&t);
    return result;
}
