/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon play FILE.mcap: publish a recording again, with its original types
 * and timing.
 *
 * Each channel becomes a publisher of its recorded type: the type is built
 * from the channel's schema (its FileDescriptorSet), so its hash equals the
 * original and subscribers built with the type accept it; a channel without a
 * schema is published as raw bytes under the recorded type name. Messages go
 * out in log-time order on an absolute schedule from the first one
 * (t0 + (log_time - first) / rate), so a slow publish never accumulates
 * drift.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mcap.h"

struct play_chan {
    const struct ax_mcap_channel *ch;
    ax_type *type;
    ax_pub *pub;
    uint64_t published;
    bool selected;
};

static bool topic_selected(const char *topic, const char *const *pats, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(pats[i], topic) == 0 || fnmatch(pats[i], topic, 0) == 0)
            return true;
    return false;
}

static uint64_t connections(struct play_chan *pc, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct ax_endpoint_counters ctr;
        if (pc[i].pub && ax_pub_counters(pc[i].pub, &ctr) == 0)
            k += ctr.connections;
    }
    return k;
}

/* Subscriber nodes in the table that would accept what @pc publishes. */
static uint64_t expected_subscribers(struct cli *c, struct play_chan *pc, size_t n)
{
    struct cli_snap s;
    uint64_t k = 0;
    if (cli_snap_take(c, NULL, &s) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!pc[i].pub)
            continue;
        uint64_t seen[64];
        size_t ns = 0;
        for (size_t e = 0; e < s.neps; e++) {
            const struct ax_endpoint_info *ep = &s.eps[e];
            if (ep->kind != AX_ENDPOINT_SUBSCRIBER || strcmp(ep->topic, pc[i].ch->topic) != 0)
                continue;
            bool dup = false;
            for (size_t x = 0; x < ns; x++)
                dup |= seen[x] == ep->node_id;
            if (!dup && ns < 64)
                seen[ns++] = ep->node_id;
        }
        k += ns;
    }
    cli_snap_free(&s);
    return k;
}

/* --clock: the recording's time on node.clock_topic (docs/time.md). */
#define CLOCK_TICK_NS (10 * AX_NS_PER_MS) /* between messages, every 10 ms of wall time */

static void publish_clock(ax_pub *clock, uint64_t t)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(t >> (8 * i));
    ax_pub_publish_bytes(clock, b, sizeof b); /* a tick lost is made up by the next */
}

/* Sleep until @target (monotonic); with a clock, tick it meanwhile: the
 * recording's time that far, at @rate. Nonzero when interrupted. */
static int wait_ticking(struct cli *c, ax_pub *clock, int64_t target, uint64_t l0, int64_t t0,
                        double rate)
{
    for (;;) {
        int64_t now = ax_clock_mono_ns();
        if (now >= target)
            return 0;
        int64_t step = target - now;
        if (clock && step > CLOCK_TICK_NS)
            step = CLOCK_TICK_NS;
        if (cli_sleep(c, step))
            return 1;
        if (clock && ax_clock_mono_ns() < target)
            publish_clock(clock, l0 + (uint64_t)((double)(ax_clock_mono_ns() - t0) * rate));
    }
}

int cli_verb_play(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *path = a->pos[0];
    double rate = 1;
    long wait_subs = -1;
    int64_t start = 0;
    if (!cli_opt_double(a, "rate", 0.001, 1000, &rate) ||
        !cli_opt_long(a, "wait-subs", 0, 100000, &wait_subs) ||
        !cli_opt_seconds(a, "start", &start))
        return CLI_EXIT_USAGE;
    struct ax_qos qos = AX_QOS_DEFAULT;
    const char *qos_name = cli_opt(a, "qos");
    if (qos_name && ax_qos_preset(qos_name, &qos) < 0)
        return cli_usage_error(a->verb, "--qos %s: one of default, sensor_data, control, latched",
                               qos_name);
    const char *pats[16];
    size_t npats = cli_opt_all(a, "topics", pats, 16);
    bool quiet = cli_flag(a, "quiet"), loop = cli_flag(a, "loop");
    ax_pub *clock = NULL;
    int64_t sub_wait = cli_opt(a, "wait") ? c->wait_ns : (wait_subs >= 0 ? 10 : 3) * AX_NS_PER_S;

    ax_mcap_reader *r;
    rc = ax_mcap_reader_open(&r, path, NULL);
    if (rc == AX_EPROTO)
        return cli_error("%s is not an MCAP file (or its header is damaged)", path);
    if (rc < 0)
        return cli_error("cannot open %s: %s", path, ax_strerror(rc));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    if (in->recovered && !quiet)
        cli_note("%s: %s; playing what can be read (%llu messages up to byte %llu)", path,
                 cli_bag_damage(in), (unsigned long long)in->message_count,
                 (unsigned long long)in->valid_end);

    int result = CLI_EXIT_OK;
    struct play_chan *pc = calloc(in->n_channels ? in->n_channels : 1, sizeof *pc);
    uint16_t *by_id = calloc(65536, sizeof *by_id); /* channel id -> index + 1 */
    const char **sel = calloc(in->n_channels ? in->n_channels : 1, sizeof *sel);
    size_t nsel = 0;
    ax_mcap_iter *it = NULL;
    if (!pc || !by_id || !sel) {
        result = cli_error("out of memory");
        goto out;
    }
    if ((rc = cli_node_open(c)) != 0) {
        result = rc;
        goto out;
    }
    for (size_t i = 0; i < in->n_channels; i++) {
        const struct ax_mcap_channel *ch = &in->channels[i];
        pc[i].ch = ch;
        by_id[ch->id] = (uint16_t)(i + 1);
        if (!topic_selected(ch->topic, pats, npats))
            continue;
        const struct ax_mcap_schema *sc = NULL;
        const char *type_name = cli_channel_type(r, ch);
        struct ax_pub_options po;
        ax_pub_options_init(&po);
        po.qos = qos;
        if (ch->schema_id && ax_mcap_reader_schema(r, ch->schema_id, &sc) == 0 &&
            strcmp(sc->encoding, "protobuf") == 0) {
            rc = ax_type_from_fds(sc->data, sc->data_len, sc->name, &pc[i].type);
            if (rc < 0) {
                cli_warn("%s: the recorded schema of %s is unusable (%s); channel skipped",
                         ch->topic, sc->name, ax_strerror(rc));
                continue;
            }
            rc = ax_pub_new(&pc[i].pub, c->node, ch->topic, pc[i].type, &po);
        } else {
            rc = ax_pub_new_raw(&pc[i].pub, c->node, ch->topic, type_name[0] ? type_name : "raw",
                                &po);
        }
        if (rc < 0) {
            cli_warn("%s: cannot publish (%s); channel skipped", ch->topic, ax_strerror(rc));
            continue;
        }
        pc[i].selected = true;
        sel[nsel++] = ch->topic;
    }
    if (nsel == 0) {
        result = cli_error("nothing to play: %s", in->n_channels ? "no channel matches --topics"
                                                                 : "the file has no channels");
        goto out;
    }
    if (cli_flag(a, "clock") &&
        (rc = ax_pub_new_raw(&clock, c->node, c->cfg.clock_topic, AX_CLOCK_TYPE, NULL)) < 0) {
        result = cli_error("--clock: cannot publish %s: %s", c->cfg.clock_topic, ax_strerror(rc));
        goto out;
    }

    /* Let the subscribers connect before the first message. */
    if (cli_settle(c) < 0)
        goto out;
    uint64_t want =
        wait_subs >= 0 ? (uint64_t)wait_subs : expected_subscribers(c, pc, in->n_channels);
    int64_t wend = ax_clock_mono_ns() + sub_wait;
    while (connections(pc, in->n_channels) < want) {
        if (ax_clock_mono_ns() >= wend) {
            if (wait_subs >= 0) {
                result = cli_error("only %llu of %ld subscriber connections within %.1f s "
                                   "(--wait); nothing was played",
                                   (unsigned long long)connections(pc, in->n_channels), wait_subs,
                                   (double)sub_wait / 1e9);
                goto out;
            }
            cli_warn("only %llu of the %llu subscriber connections expected were made; playing "
                     "anyway",
                     (unsigned long long)connections(pc, in->n_channels), (unsigned long long)want);
            break;
        }
        if (cli_sleep(c, 10 * AX_NS_PER_MS))
            goto out;
    }

    struct ax_mcap_iter_options io;
    ax_mcap_iter_options_init(&io);
    io.topics = sel;
    io.n_topics = nsel;
    io.start_time = in->message_start_time + (uint64_t)start;
    uint64_t total = 0, rounds = 0;
    int64_t t_begin = ax_clock_mono_ns();
    do {
        if ((rc = ax_mcap_iter_new(r, &io, &it)) < 0) {
            result = cli_error("reading %s: %s", path, ax_strerror(rc));
            goto out;
        }
        struct ax_mcap_message m;
        bool first = true;
        uint64_t l0 = 0, n = 0;
        int64_t t0 = 0, next_note = ax_clock_mono_ns() + AX_NS_PER_S;
        while ((rc = ax_mcap_iter_next(it, &m)) == 1) {
            size_t idx = by_id[m.channel_id];
            if (!idx || !pc[idx - 1].pub)
                continue;
            if (first) {
                l0 = m.log_time;
                t0 = ax_clock_mono_ns();
                first = false;
            }
            int64_t target = t0 + (int64_t)((double)(m.log_time - l0) / rate);
            if (wait_ticking(c, clock, target, l0, t0, rate))
                break;
            if (clock) /* the message's own time, before the message */
                publish_clock(clock, m.log_time);
            while ((rc = ax_pub_publish_bytes(pc[idx - 1].pub, m.data, m.len)) == AX_EAGAIN)
                if (cli_sleep(c, AX_NS_PER_MS))
                    break;
            if (c->stop)
                break;
            if (rc < 0) {
                cli_warn("%s: publishing a message of %zu bytes failed: %s", pc[idx - 1].ch->topic,
                         m.len, ax_strerror(rc));
                continue;
            }
            pc[idx - 1].published++;
            n++;
            total++;
            if (!quiet && !c->json && ax_clock_mono_ns() >= next_note) {
                fprintf(stderr, "axon: played %llu messages, %.1f s into the recording\n",
                        (unsigned long long)n, (double)(m.log_time - in->message_start_time) / 1e9);
                next_note += AX_NS_PER_S;
            }
        }
        if (rc < 0 && !c->stop)
            result = cli_error("%s: reading stopped early: %s (%llu messages played)", path,
                               ax_strerror(rc), (unsigned long long)n);
        ax_mcap_iter_free(it);
        it = NULL;
        rounds++;
    } while (loop && !c->stop && result == CLI_EXIT_OK);

    double el = (double)(ax_clock_mono_ns() - t_begin) / 1e9;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "file", path);
        cj_uint(&j, "published", total);
        cj_uint(&j, "rounds", rounds);
        cj_num(&j, "elapsed_s", el);
        cj_bool(&j, "interrupted", c->stop);
        cj_arr(&j, "channels");
        for (size_t i = 0; i < in->n_channels; i++) {
            if (!pc[i].selected)
                continue;
            cj_obj(&j, NULL);
            cj_str(&j, "topic", pc[i].ch->topic);
            cj_str(&j, "type", cli_channel_type(r, pc[i].ch));
            cj_uint(&j, "published", pc[i].published);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_end_obj(&j);
        cj_done(&j);
    } else {
        printf("Played %llu message%s from %s in %.1f s%s%s\n", (unsigned long long)total,
               total == 1 ? "" : "s", path, el, rounds > 1 ? " (looped)" : "",
               c->stop ? " (interrupted)" : "");
        static const char *const cols[] = {"TOPIC", "TYPE", ">PUBLISHED"};
        struct cli_table *t = cli_table_new(cols, 3);
        for (size_t i = 0; i < in->n_channels; i++) {
            if (!pc[i].selected)
                continue;
            cli_table_row(t);
            cli_table_cell(t, "%s", pc[i].ch->topic);
            cli_table_cell(t, "%s", cli_channel_type(r, pc[i].ch));
            cli_table_cell(t, "%llu", (unsigned long long)pc[i].published);
        }
        cli_table_print(t, stdout, "  ");
        cli_table_free(t);
    }
out:
    ax_mcap_iter_free(it);
    ax_pub_free(clock);
    /* Publishers first (each flushes what it queued), then their types. */
    for (size_t i = 0; pc && i < in->n_channels; i++)
        ax_pub_free(pc[i].pub);
    for (size_t i = 0; pc && i < in->n_channels; i++)
        ax_type_free(pc[i].type);
    free(pc);
    free(by_id);
    free(sel);
    ax_mcap_reader_free(r);
    return result;
}
