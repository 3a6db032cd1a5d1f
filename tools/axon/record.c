/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon record -o FILE.mcap [TOPICS... | --all]: record topics to MCAP.
 *
 * Design (why it looks like this):
 * - The subscription callbacks run on the CLI node's thread, which also
 *   runs its discovery: a callback that blocked on the disk longer than the
 *   lease would make every peer drop the recorder. So callbacks only copy
 *   into a bounded queue (cli_msgq); one writer thread owns the MCAP writer
 *   and is the only thread that touches the file.
 * - When the queue is full (the disk, or compression, cannot keep up), the
 *   message is counted as a recorder drop, the writer writes an
 *   `axon.recorder_drop` metadata record with the count, and the progress
 *   line says so on stderr. Nothing is lost without a trace.
 * - Sequence gaps the subscription reports (messages of a publisher that
 *   never reached the recorder, including those its overload policy dropped
 *   on the way) become `axon.gap` records; drops reported to the
 *   subscription (lifespan) become `axon.drop` records. They travel through
 *   the same queue, so they sit in the file in order with the messages.
 * - Each (topic, type) gets a channel whose schema is the type's
 *   FileDescriptorSet (from the registry, or fetched from a publisher), so
 *   Foxglove Studio decodes it. Raw topics (no schema anywhere) get a channel
 *   without a schema, with the type name in its metadata.
 * - Topics that appear later are picked up: the table is polled every 250 ms.
 * - The open chunk is flushed every --flush seconds (default 1), so a
 *   recorder killed with -9 loses at most that much: the reader recovers the
 *   file up to its last complete chunk.
 * - SIGINT/SIGTERM: unsubscribe, let the writer drain the queue, write the
 *   summary and footer, exit 0.
 */
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mcap.h"

#define REC_MAX_CHANS 1024

struct recorder;

struct rec_chan {
    struct recorder *rec;
    uint32_t index;
    char topic[AX_TOPIC_MAX];
    char type[AX_TYPE_NAME_MAX];
    uint8_t hash[AX_TYPE_HASH_SIZE];
    struct cli_type t;
    struct ax_qos qos;
    ax_sub *sub;
    uint16_t mcap_id;             /* writer thread */
    uint64_t queue_drops_written; /* writer thread */
    atomic_ullong received, bytes, queue_drops, missing;
};

struct recorder {
    struct cli *c;
    ax_mcap_writer *w;
    struct cli_msgq *q;
    struct rec_chan *chans[REC_MAX_CHANS];
    atomic_size_t nchans;
    atomic_bool stopping;
    atomic_int error, sys_errno;
    atomic_ullong written, file_bytes, metadata, accepted;
    int64_t flush_ns;
    bool quiet;
    pthread_t thread;
};

/* ---- callbacks (the node's thread: never block) ---- */

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    struct rec_chan *ch = user;
    (void)sub;
    struct cli_qmsg q = {.kind = CLI_Q_MSG,
                         .chan = ch->index,
                         .seq = m->seq,
                         .source_ns = m->source_ns,
                         .received_ns = m->received_ns,
                         .publisher_node = m->publisher_node,
                         .data = m->data,
                         .len = m->len};
    atomic_fetch_add(&ch->received, 1);
    atomic_fetch_add(&ch->bytes, m->len);
    if (!cli_msgq_push(ch->rec->q, &q, false))
        atomic_fetch_add(&ch->queue_drops, 1);
}

static void on_event(void *self, const struct ax_pubsub_event *ev, void *user)
{
    struct rec_chan *ch = user;
    (void)self;
    struct cli_qmsg q = {.chan = ch->index,
                         .received_ns = ax_clock_real_ns(),
                         .publisher_node = ev->node_id,
                         .data = (const uint8_t *)ev->node_name,
                         .len = strlen(ev->node_name)};
    if (ev->kind == AX_PS_GAP) {
        q.kind = CLI_Q_GAP;
        q.a = ev->expected_seq;
        q.b = ev->received_seq;
        q.c = ev->missing;
        q.seq = ev->restarted;
        atomic_fetch_add(&ch->missing, ev->missing);
    } else if (ev->kind == AX_PS_DROPPED) {
        q.kind = CLI_Q_DROP;
        q.a = ev->dropped;
        q.b = (uint64_t)ev->reason;
    } else {
        return;
    }
    cli_msgq_push(ch->rec->q, &q, true); /* events are rare: never refused */
}

/* ---- the writer thread ---- */

static void set_error(struct recorder *r, int rc)
{
    if (atomic_load(&r->error) == 0) {
        struct ax_mcap_writer_stats st;
        ax_mcap_writer_stats(r->w, &st);
        atomic_store(&r->sys_errno, st.sys_errno);
        atomic_store(&r->error, rc);
    }
}

static void write_meta(struct recorder *r, const char *name, const struct ax_mcap_kv *kv, size_t n)
{
    int rc = ax_mcap_writer_write_metadata(r->w, name, kv, n);
    if (rc < 0)
        set_error(r, rc);
    else
        atomic_fetch_add(&r->metadata, 1);
}

static void add_channel(struct recorder *r, struct rec_chan *ch)
{
    uint16_t schema = 0;
    int rc = 0;
    if (ch->t.type && ch->t.fds)
        rc = ax_mcap_writer_add_schema(r->w, ch->type, "protobuf", ch->t.fds, ch->t.fds_len,
                                       &schema);
    char hash[AX_TYPE_HASH_STRLEN], qos[128];
    struct ax_mcap_kv md[4] = {
        {"type_name", ch->type},
        {"type_hash", cli_fmt_hash(ch->hash, hash, sizeof hash)},
        {"qos", cli_fmt_qos(&ch->qos, qos, sizeof qos)},
        {"schema", ch->t.source},
    };
    if (rc == 0)
        rc = ax_mcap_writer_add_channel(r->w, schema, ch->topic, schema ? "protobuf" : "", md, 4,
                                        &ch->mcap_id);
    if (rc < 0)
        set_error(r, rc);
}

static void u64s(char *buf, size_t n, uint64_t v)
{
    snprintf(buf, n, "%llu", (unsigned long long)v);
}

static void handle(struct recorder *r, const struct cli_qmsg *m)
{
    if (atomic_load(&r->error))
        return; /* the file is finished; keep draining */
    struct rec_chan *ch = r->chans[m->chan];
    char a[24], b[24], c[24], t[24], d[24], pub[80];
    switch (m->kind) {
    case CLI_Q_CHAN:
        add_channel(r, ch);
        break;
    case CLI_Q_MSG: {
        int rc = ax_mcap_writer_write_message(
            r->w, ch->mcap_id, (uint32_t)m->seq, (uint64_t)m->received_ns,
            (uint64_t)(m->source_ns > 0 ? m->source_ns : m->received_ns), m->data, m->len);
        if (rc < 0)
            set_error(r, rc);
        else
            atomic_fetch_add(&r->accepted, 1);
        break;
    }
    case CLI_Q_GAP: {
        snprintf(pub, sizeof pub, "%.*s (%016llx)", (int)(m->len < 64 ? m->len : 64),
                 (const char *)m->data, (unsigned long long)m->publisher_node);
        u64s(a, sizeof a, m->a);
        u64s(b, sizeof b, m->b ? m->b - 1 : 0);
        u64s(c, sizeof c, m->c);
        u64s(d, sizeof d, m->b);
        u64s(t, sizeof t, (uint64_t)m->received_ns);
        struct ax_mcap_kv kv[] = {{"topic", ch->topic}, {"publisher", pub},
                                  {"from_seq", a},      {"to_seq", b},
                                  {"expected", a},      {"received", d},
                                  {"missing", c},       {"restarted", m->seq ? "true" : "false"},
                                  {"time", t}};
        write_meta(r, "axon.gap", kv, sizeof kv / sizeof kv[0]);
        break;
    }
    case CLI_Q_DROP: {
        snprintf(pub, sizeof pub, "%.*s (%016llx)", (int)(m->len < 64 ? m->len : 64),
                 (const char *)m->data, (unsigned long long)m->publisher_node);
        u64s(a, sizeof a, m->a);
        u64s(t, sizeof t, (uint64_t)m->received_ns);
        struct ax_mcap_kv kv[] = {{"topic", ch->topic},
                                  {"publisher", pub},
                                  {"count", a},
                                  {"reason", ax_drop_reason_name((enum ax_drop_reason)m->b)},
                                  {"time", t}};
        write_meta(r, "axon.drop", kv, sizeof kv / sizeof kv[0]);
        break;
    }
    }
}

/* Write an axon.recorder_drop record for what each channel lost in the
 * queue since the last one. */
static void write_queue_drops(struct recorder *r)
{
    size_t n = atomic_load(&r->nchans);
    for (size_t i = 0; i < n; i++) {
        struct rec_chan *ch = r->chans[i];
        uint64_t d = atomic_load(&ch->queue_drops);
        if (d == ch->queue_drops_written || atomic_load(&r->error))
            continue;
        char cnt[24], tot[24], t[24];
        u64s(cnt, sizeof cnt, d - ch->queue_drops_written);
        u64s(tot, sizeof tot, d);
        u64s(t, sizeof t, (uint64_t)ax_clock_real_ns());
        struct ax_mcap_kv kv[] = {{"topic", ch->topic},
                                  {"count", cnt},
                                  {"total", tot},
                                  {"reason", "queue_full: the disk or compression could not "
                                             "keep up"},
                                  {"time", t}};
        write_meta(r, "axon.recorder_drop", kv, sizeof kv / sizeof kv[0]);
        ch->queue_drops_written = d;
    }
}

static void publish_stats(struct recorder *r)
{
    struct ax_mcap_writer_stats st;
    ax_mcap_writer_stats(r->w, &st);
    atomic_store(&r->written, st.messages_written);
    atomic_store(&r->file_bytes, st.bytes_written);
}

static void *writer_main(void *arg)
{
    struct recorder *r = arg;
    int64_t last_flush = ax_clock_mono_ns();
    for (;;) {
        struct cli_qmsg m;
        if (cli_msgq_peek(r->q, &m)) {
            handle(r, &m);
            cli_msgq_pop(r->q);
        } else if (atomic_load(&r->stopping)) {
            /* Stopping is set after the last callback returned: one more
             * look sees everything they queued. */
            if (!cli_msgq_peek(r->q, &m))
                break;
            continue;
        } else {
            struct pollfd p = {.fd = cli_msgq_fd(r->q), .events = POLLIN};
            poll(&p, 1, 100);
        }
        int64_t now = ax_clock_mono_ns();
        if (now - last_flush >= r->flush_ns) {
            write_queue_drops(r);
            if (!atomic_load(&r->error)) {
                int rc = ax_mcap_writer_flush(r->w);
                if (rc < 0)
                    set_error(r, rc);
            }
            publish_stats(r);
            last_flush = now;
        }
    }
    write_queue_drops(r);
    publish_stats(r);
    return NULL;
}

/* ---- the main thread ---- */

static bool selected(const char *topic, const char *const *pats, size_t n, bool all)
{
    if (all)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(pats[i], topic) == 0 || fnmatch(pats[i], topic, 0) == 0)
            return true;
    return false;
}

/* Subscribe to every selected (topic, type) not recorded yet. */
static void discover(struct recorder *r, const char *const *pats, size_t npats, bool all)
{
    struct cli *c = r->c;
    struct cli_snap s;
    if (cli_snap_take(c, NULL, &s) < 0)
        return;
    for (size_t i = 0; i < s.neps && !c->stop; i++) {
        const struct ax_endpoint_info *e = &s.eps[i];
        if (e->kind != AX_ENDPOINT_PUBLISHER || !selected(e->topic, pats, npats, all))
            continue;
        size_t n = atomic_load(&r->nchans);
        bool have = false;
        for (size_t k = 0; k < n && !have; k++)
            have = strcmp(r->chans[k]->topic, e->topic) == 0 &&
                   strcmp(r->chans[k]->type, e->type_name) == 0 &&
                   memcmp(r->chans[k]->hash, e->type_hash, AX_TYPE_HASH_SIZE) == 0;
        if (have)
            continue;
        if (n >= REC_MAX_CHANS) {
            cli_warn("more than %d channels: %s is not recorded", REC_MAX_CHANS, e->topic);
            continue;
        }
        struct rec_chan *ch = calloc(1, sizeof *ch);
        if (!ch) {
            cli_warn("out of memory: %s is not recorded", e->topic);
            continue;
        }
        ch->rec = r;
        ch->index = (uint32_t)n;
        snprintf(ch->topic, sizeof ch->topic, "%s", e->topic);
        snprintf(ch->type, sizeof ch->type, "%s", e->type_name);
        memcpy(ch->hash, e->type_hash, AX_TYPE_HASH_SIZE);
        ch->qos = e->qos;
        int rc = cli_type_resolve(c, e->type_name, e->type_hash, &s, e->node_id, &ch->t);
        if (rc < 0) {
            cli_warn("%s: no usable schema for %s (%s): recording its bytes without a schema",
                     e->topic, e->type_name, ax_strerror(rc));
            memset(&ch->t, 0, sizeof ch->t);
            snprintf(ch->t.source, sizeof ch->t.source, "unavailable: %s", ax_strerror(rc));
        }
        r->chans[n] = ch;
        atomic_store(&r->nchans, n + 1);
        /* The channel goes into the file before any of its messages. */
        struct cli_qmsg reg = {.kind = CLI_Q_CHAN, .chan = ch->index};
        cli_msgq_push(r->q, &reg, true);
        struct ax_sub_options so;
        ax_sub_options_init(&so);
        /* The publisher's reliability and durability: a latched topic's
         * history is recorded too. */
        so.qos.reliability = e->qos.reliability;
        so.qos.durability = e->qos.durability;
        so.qos.history = e->qos.history ? e->qos.history : 1;
        so.on_event = on_event;
        rc = ax_sub_new_hash(&ch->sub, c->node, ch->topic, ch->type, ch->hash, on_msg, ch, &so);
        if (rc < 0)
            cli_warn("cannot subscribe to %s: %s", ch->topic, ax_strerror(rc));
        else if (!r->quiet && !c->json)
            cli_note("recording %s (%s; %s)", ch->topic, ch->type, ch->t.source);
    }
    cli_snap_free(&s);
}

static void totals(struct recorder *r, uint64_t *recv, uint64_t *bytes, uint64_t *drops,
                   uint64_t *missing)
{
    *recv = *bytes = *drops = *missing = 0;
    size_t n = atomic_load(&r->nchans);
    for (size_t i = 0; i < n; i++) {
        *recv += atomic_load(&r->chans[i]->received);
        *bytes += atomic_load(&r->chans[i]->bytes);
        *drops += atomic_load(&r->chans[i]->queue_drops);
        *missing += atomic_load(&r->chans[i]->missing);
    }
}

static void progress(struct recorder *r, const char *path, int64_t t0, uint64_t *drops_said,
                     bool final)
{
    struct cli *c = r->c;
    uint64_t recv, bytes, drops, missing;
    totals(r, &recv, &bytes, &drops, &missing);
    double fill = (double)cli_msgq_bytes(r->q) / (double)cli_msgq_capacity(r->q);
    double el = (double)(ax_clock_mono_ns() - t0) / 1e9;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_obj(&j, NULL);
        cj_str(&j, "event", final ? "summary" : "progress");
        cj_str(&j, "file", path);
        cj_num(&j, "elapsed_s", el);
        cj_uint(&j, "channels", atomic_load(&r->nchans));
        cj_uint(&j, "received", recv);
        cj_uint(&j, "received_bytes", bytes);
        cj_uint(&j, "written", atomic_load(&r->written));
        cj_uint(&j, "file_bytes", atomic_load(&r->file_bytes));
        cj_num(&j, "queue_fill", fill);
        cj_uint(&j, "recorder_drops", drops);
        cj_uint(&j, "gap_missing", missing);
        cj_uint(&j, "metadata", atomic_load(&r->metadata));
        if (atomic_load(&r->error))
            cj_str(&j, "error", ax_err_name(atomic_load(&r->error)));
        cj_end_obj(&j);
        cj_done(&j);
    } else if (!r->quiet || final) {
        char b1[32], b2[32];
        bool tty = isatty(2) && !final;
        fprintf(stderr,
                "%srecording %zu channel%s: %llu msgs (%s) received, %llu msgs on disk (%s), "
                "queue %.0f%%, dropped %llu, missing (gaps) %llu, %.0f s%s",
                tty ? "\r" : "", atomic_load(&r->nchans), atomic_load(&r->nchans) == 1 ? "" : "s",
                (unsigned long long)recv, cli_fmt_size((double)bytes, b1, sizeof b1),
                (unsigned long long)atomic_load(&r->written),
                cli_fmt_size((double)atomic_load(&r->file_bytes), b2, sizeof b2), fill * 100,
                (unsigned long long)drops, (unsigned long long)missing, el, tty ? "  " : "\n");
    }
    if (drops > *drops_said) {
        if (isatty(2) && !c->json && !r->quiet)
            fputc('\n', stderr);
        cli_warn("the disk cannot keep up: %llu message%s dropped since the last report (queue "
                 "full at %s); each loss is written to the file as axon.recorder_drop. Use "
                 "--compression lz4 or none, a larger --queue-size, or a faster disk",
                 (unsigned long long)(drops - *drops_said), drops - *drops_said == 1 ? "" : "s",
                 cli_fmt_size((double)cli_msgq_capacity(r->q), (char[32]){0}, 32));
        *drops_said = drops;
    }
}

int cli_verb_record(struct cli *c, const struct cli_args *a)
{
    int rc;
    const char *path = cli_opt(a, "output");
    bool all = cli_flag(a, "all");
    if (!path)
        return cli_usage_error(a->verb, "-o FILE.mcap is required");
    if (!all && a->npos == 0)
        return cli_usage_error(a->verb, "name the topics to record, or --all");
    struct ax_mcap_writer_options wo;
    ax_mcap_writer_options_init(&wo);
    const char *comp = cli_opt(a, "compression");
    if (!comp)
        comp = "zstd";
    rc = ax_mcap_compression_parse(comp, &wo.compression);
    if (rc == AX_ENOTSUP)
        return cli_error("--compression %s is not in this build (liblz4 / libzstd missing)", comp);
    if (rc < 0)
        return cli_usage_error(a->verb, "--compression %s: one of none, lz4, zstd", comp);
    uint64_t chunk = wo.chunk_size, qsize = 64u << 20;
    if (!cli_opt_size(a, "chunk-size", 1024, 256u << 20, &chunk) ||
        !cli_opt_size(a, "queue-size", 4096, (uint64_t)16 << 30, &qsize))
        return CLI_EXIT_USAGE;
    wo.chunk_size = chunk;
    int64_t flush = AX_NS_PER_S, duration = 0;
    if (!cli_opt_seconds(a, "flush", &flush) || !cli_opt_seconds(a, "duration", &duration))
        return CLI_EXIT_USAGE;
    if (flush < 10 * AX_NS_PER_MS)
        return cli_usage_error(a->verb, "--flush must be at least 0.01 s");
    struct stat sb;
    if (stat(path, &sb) == 0 && !cli_flag(a, "force"))
        return cli_error("%s already exists; choose another name or add --force to overwrite it",
                         path);

    struct recorder *r = calloc(1, sizeof *r);
    if (!r)
        return cli_error("out of memory");
    r->c = c;
    r->flush_ns = flush;
    r->quiet = cli_flag(a, "quiet");
    int result = CLI_EXIT_OK;
    bool thread = false;
    int64_t t0 = ax_clock_mono_ns();
    uint64_t drops_said = 0;
    if ((rc = cli_node_open(c)) != 0) {
        free(r);
        return rc;
    }
    if ((rc = cli_msgq_new(&r->q, (size_t)qsize)) < 0) {
        free(r);
        return cli_error("cannot allocate the %llu-byte queue: %s", (unsigned long long)qsize,
                         ax_strerror(rc));
    }
    rc = ax_mcap_writer_open(&r->w, path, &wo);
    if (rc < 0) {
        result = cli_error("cannot create %s: %s", path, ax_strerror(rc));
        goto out;
    }

    /* What this recording is, first in the file. */
    {
        char host[64] = "", pid[24], dom[24], t[24], cmdline[1024] = "axon record";
        gethostname(host, sizeof host - 1);
        u64s(pid, sizeof pid, (uint64_t)getpid());
        u64s(dom, sizeof dom, c->cfg.domain);
        u64s(t, sizeof t, (uint64_t)ax_clock_real_ns());
        size_t off = strlen(cmdline);
        for (int i = 0; i < a->argc && off < sizeof cmdline - 2; i++) {
            int n = snprintf(cmdline + off, sizeof cmdline - off, " %s", a->argv[i]);
            if (n < 0)
                break;
            off += (size_t)n;
        }
        struct ax_node_info self[1];
        size_t n = 0;
        ax_node_list_nodes(c->node, self, 1, &n);
        struct ax_mcap_kv kv[] = {{"axon_version", n ? self[0].version : ""},
                                  {"host", host},
                                  {"pid", pid},
                                  {"domain", dom},
                                  {"command", cmdline},
                                  {"start_time", t},
                                  {"compression", comp}};
        write_meta(r, "axon.recording", kv, sizeof kv / sizeof kv[0]);
    }
    if (pthread_create(&r->thread, NULL, writer_main, r) != 0) {
        result = cli_error("cannot start the writer thread");
        goto out;
    }
    thread = true;

    if (cli_settle(c) < 0)
        goto stop;
    const char *pats[CLI_MAX_POS];
    for (int i = 0; i < a->npos; i++)
        pats[i] = a->pos[i];
    t0 = ax_clock_mono_ns();
    int64_t end = duration ? t0 + duration : INT64_MAX;
    int64_t next_progress = t0 + AX_NS_PER_S;
    bool waiting_said = false;
    if (!r->quiet && !c->json)
        cli_note("writing %s (compression %s); Ctrl-C to stop", path, comp);
    for (;;) {
        discover(r, pats, (size_t)a->npos, all);
        if (!waiting_said && atomic_load(&r->nchans) == 0 && !r->quiet) {
            cli_note("no matching publisher yet: waiting for one");
            waiting_said = true;
        }
        int64_t now = ax_clock_mono_ns();
        if (now >= next_progress) {
            progress(r, path, t0, &drops_said, false);
            next_progress += AX_NS_PER_S;
            if (next_progress < now)
                next_progress = now + AX_NS_PER_S;
        }
        if (atomic_load(&r->error) || now >= end)
            break;
        int64_t nap = 250 * AX_NS_PER_MS;
        if (end - now < nap)
            nap = end - now;
        if (cli_sleep(c, nap))
            break;
    }
stop:
    /* No callback runs after ax_sub_free() returns; then the writer drains
     * what they queued. */
    for (size_t i = 0; i < atomic_load(&r->nchans); i++) {
        ax_sub_free(r->chans[i]->sub);
        r->chans[i]->sub = NULL;
    }
    atomic_store(&r->stopping, true);
    if (thread)
        pthread_join(r->thread, NULL);
    thread = false;
    if (!atomic_load(&r->error)) {
        uint64_t recv, bytes, drops, missing;
        totals(r, &recv, &bytes, &drops, &missing);
        char v1[24], v2[24], v3[24], v4[24], v5[24];
        u64s(v1, sizeof v1, (uint64_t)ax_clock_real_ns());
        u64s(v2, sizeof v2, recv);
        u64s(v3, sizeof v3, drops);
        u64s(v4, sizeof v4, missing);
        u64s(v5, sizeof v5, atomic_load(&r->nchans));
        struct ax_mcap_kv kv[] = {{"end_time", v1},
                                  {"messages_received", v2},
                                  {"recorder_drops", v3},
                                  {"gap_missing", v4},
                                  {"channels", v5}};
        write_meta(r, "axon.recording_summary", kv, sizeof kv / sizeof kv[0]);
    }
    {
        struct ax_mcap_writer_stats st;
        rc = ax_mcap_writer_close(r->w, &st);
        r->w = NULL;
        atomic_store(&r->written, st.messages_written);
        atomic_store(&r->file_bytes, st.bytes_written);
        if (rc < 0 && !atomic_load(&r->error)) {
            atomic_store(&r->error, rc);
            atomic_store(&r->sys_errno, st.sys_errno);
        }
    }
    progress(r, path, t0, &drops_said, true);
    if (atomic_load(&r->error)) {
        int err = atomic_load(&r->error), en = atomic_load(&r->sys_errno);
        result = cli_error("writing %s failed: %s%s%s. The file is readable up to its last "
                           "complete chunk (%llu messages); 'axon bag info %s' shows what it "
                           "holds",
                           path, ax_strerror(err), en ? ": " : "", en ? strerror(en) : "",
                           (unsigned long long)atomic_load(&r->written), path);
    } else if (!c->json) {
        uint64_t recv, bytes, drops, missing;
        totals(r, &recv, &bytes, &drops, &missing);
        cli_note("%s closed: %llu messages on %zu channel%s; %llu dropped by the recorder, %llu "
                 "missing upstream (gaps)",
                 path, (unsigned long long)atomic_load(&r->written), atomic_load(&r->nchans),
                 atomic_load(&r->nchans) == 1 ? "" : "s", (unsigned long long)drops,
                 (unsigned long long)missing);
    }
out:
    if (thread) {
        atomic_store(&r->stopping, true);
        pthread_join(r->thread, NULL);
    }
    if (r->w)
        ax_mcap_writer_close(r->w, NULL);
    for (size_t i = 0; i < atomic_load(&r->nchans); i++) {
        ax_sub_free(r->chans[i]->sub);
        cli_type_fini(&r->chans[i]->t);
        free(r->chans[i]);
    }
    cli_msgq_free(r->q);
    free(r);
    return result;
}
