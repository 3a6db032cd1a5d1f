/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mcap_sample_writer: writes a recording the way `axon record` will (real
 * protobuf schemas from protoc, real protobuf messages), plus a copy cut in
 * the middle of a chunk, and for each the JSON that the reference reader
 * (verify_mcap.mjs) must find in it.
 *
 *   mcap_sample_writer OUT_DIR none|lz4|zstd DESCRIPTOR_SET
 *
 * writes OUT_DIR/sample-<c>.mcap, sample-<c>.expected.json,
 * sample-<c>-cut.mcap and sample-<c>-cut.expected.json. The expected JSON
 * comes from what this program wrote, not from reading the file back; the
 * program also reads the cut file with axon's own reader and fails unless
 * its recovery finds exactly the messages of the complete chunks.
 *
 * Exit status: 0, or 1 with a message on stderr.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcap.h"

#define N_MSGS 3000
#define N_CHAN 4
#define T0     UINT64_C(1700000000000000000)

static const char *const topics[N_CHAN] = {"/perception/obstacles", "/camera/front", "/camera/rear",
                                           "/planning/obstacles_filtered"};
/* Which schema each channel uses: 0 Obstacles, 1 Image. */
static const int chan_schema[N_CHAN] = {0, 1, 1, 0};
static const char *const schema_names[2] = {"axon.sample.Obstacles", "axon.sample.Image"};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mcap_sample_writer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Only axon_mcap is linked (it must stand alone), so no ax_strerror(). */
static void check(int rc, const char *what)
{
    if (rc != 0)
        die("%s: axon error %d (see include/axon/common.h)", what, rc);
}

/* ---- a minimal protobuf encoder, enough for the sample types ---- */

struct pb {
    uint8_t *p;
    size_t len, cap;
};

static void pb_raw(struct pb *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        if (!(b->p = realloc(b->p, b->cap)))
            die("out of memory");
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, t, n);
}

static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
    pb_varint(b, (uint64_t)field << 3 | 0);
    pb_varint(b, v);
}

static void pb_double(struct pb *b, unsigned field, double d)
{
    uint64_t v;
    uint8_t t[8];
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    pb_varint(b, (uint64_t)field << 3 | 1);
    pb_raw(b, t, 8);
}

static void pb_bytes(struct pb *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, p, n);
}

static void pb_header(struct pb *b, unsigned field, uint64_t seq, uint64_t stamp, const char *frame)
{
    struct pb h = {0};
    pb_uint(&h, 1, seq);
    pb_uint(&h, 2, stamp);
    pb_bytes(&h, 3, frame, strlen(frame));
    pb_bytes(b, field, h.p, h.len);
    free(h.p);
}

/* The message @i: its channel, log time and serialized bytes. */
static int msg_chan(unsigned i)
{
    return (int)(i * 7 % N_CHAN);
}

static uint64_t msg_time(unsigned i)
{
    return T0 + (uint64_t)i * 2000000; /* 500 Hz overall */
}

static void msg_encode(unsigned i, struct pb *b)
{
    b->len = 0;
    pb_header(b, 1, i, msg_time(i), topics[msg_chan(i)]);
    if (chan_schema[msg_chan(i)] == 0) { /* Obstacles */
        for (unsigned k = 0; k < i % 6; k++) {
            struct pb o = {0};
            pb_uint(&o, 1, k + 1);
            pb_double(&o, 2, i * 0.5 + k);
            pb_double(&o, 3, -(double)k);
            pb_bytes(b, 2, o.p, o.len);
            free(o.p);
        }
    } else { /* Image: 2 to 16 KiB of pixels */
        static uint8_t px[16 << 10];
        size_t n = 2048 + (i * 7919u) % (sizeof(px) - 2048);
        for (size_t k = 0; k < n; k++)
            px[k] = (uint8_t)(k * 3 + i);
        pb_uint(b, 2, 64);
        pb_uint(b, 3, (uint32_t)(n / 64));
        pb_bytes(b, 4, px, n);
    }
}

/* ---- expected JSON ---- */

struct chan_stat {
    uint64_t count, first, last;
};

static void write_expected(const char *path, const unsigned *chunk_of, unsigned below,
                           bool complete, size_t n_meta_names, const char *const *meta_names)
{
    struct chan_stat st[N_CHAN] = {{0}};
    uint64_t total = 0;
    for (unsigned i = 0; i < N_MSGS; i++) {
        if (chunk_of[i] >= below)
            continue;
        struct chan_stat *s = &st[msg_chan(i)];
        if (s->count == 0 || msg_time(i) < s->first)
            s->first = msg_time(i);
        if (s->count == 0 || msg_time(i) > s->last)
            s->last = msg_time(i);
        s->count++;
        total++;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write %s", path);
    fprintf(f, "{\n  \"complete\": %s,\n  \"messageCount\": %llu,\n  \"channels\": [\n",
            complete ? "true" : "false", (unsigned long long)total);
    bool first = true;
    for (int c = 0; c < N_CHAN; c++) {
        if (!st[c].count)
            continue; /* a cut file may not define it; the check skips it too */
        fprintf(f,
                "%s    {\"topic\": \"%s\", \"messageEncoding\": \"protobuf\", \"schemaName\": "
                "\"%s\", \"schemaEncoding\": \"protobuf\", \"messageCount\": %llu, "
                "\"firstLogTime\": \"%llu\", \"lastLogTime\": \"%llu\"}",
                first ? "" : ",\n", topics[c], schema_names[chan_schema[c]],
                (unsigned long long)st[c].count, (unsigned long long)st[c].first,
                (unsigned long long)st[c].last);
        first = false;
    }
    fprintf(f, "\n  ],\n  \"metadata\": [");
    for (size_t k = 0; k < n_meta_names; k++)
        fprintf(f, "%s\"%s\"", k ? ", " : "", meta_names[k]);
    fprintf(f, "]\n}\n");
    if (fclose(f) != 0)
        die("cannot write %s", path);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
        die("cannot read %s", path);
    fclose(f);
    *len = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        die("usage: mcap_sample_writer OUT_DIR none|lz4|zstd DESCRIPTOR_SET");
    const char *dir = argv[1], *cname = argv[2];
    enum ax_mcap_compression comp;
    check(ax_mcap_compression_parse(cname, &comp), "compression");
    size_t fds_len;
    uint8_t *fds = slurp(argv[3], &fds_len);

    char path[512], cut_path[512], json[512];
    snprintf(path, sizeof(path), "%s/sample-%s.mcap", dir, cname);
    snprintf(cut_path, sizeof(cut_path), "%s/sample-%s-cut.mcap", dir, cname);

    struct ax_mcap_writer_options opt;
    ax_mcap_writer_options_init(&opt);
    opt.compression = comp;
    opt.chunk_size = 256 << 10;
    ax_mcap_writer *w;
    check(ax_mcap_writer_open(&w, path, &opt), path);
    uint16_t sid[2], cid[N_CHAN];
    for (int s = 0; s < 2; s++)
        check(ax_mcap_writer_add_schema(w, schema_names[s], "protobuf", fds, fds_len, &sid[s]),
              "add_schema");
    for (int c = 0; c < N_CHAN; c++) {
        const struct ax_mcap_kv meta[] = {{"qos", c == 1 ? "best_effort" : "reliable"}};
        check(ax_mcap_writer_add_channel(w, sid[chan_schema[c]], topics[c], "protobuf", meta, 1,
                                         &cid[c]),
              "add_channel");
    }

    static unsigned chunk_of[N_MSGS]; /* the chunk each message went into */
    struct pb b = {0};
    for (unsigned i = 0; i < N_MSGS; i++) {
        struct ax_mcap_writer_stats st;
        ax_mcap_writer_stats(w, &st);
        chunk_of[i] = (unsigned)st.chunks_written;
        msg_encode(i, &b);
        check(ax_mcap_writer_write_message(w, cid[msg_chan(i)], i, msg_time(i), msg_time(i) - 1000,
                                           b.p, b.len),
              "write_message");
        if (i == 1000) {
            const struct ax_mcap_kv gap[] = {{"topic", topics[1]},
                                             {"from_seq", "990"},
                                             {"to_seq", "994"},
                                             {"time", "1700000002000000000"}};
            check(ax_mcap_writer_write_metadata(w, "axon.gap", gap, 4), "metadata");
        }
    }
    free(b.p);
    const struct ax_mcap_kv info[] = {{"axon_version", "sample"}, {"host", "test"}};
    check(ax_mcap_writer_write_metadata(w, "axon.recording", info, 2), "metadata");
    struct ax_mcap_writer_stats st;
    check(ax_mcap_writer_close(w, &st), "close");
    const char *const metas[] = {"axon.gap", "axon.recording"};
    snprintf(json, sizeof(json), "%s/sample-%s.expected.json", dir, cname);
    write_expected(json, chunk_of, UINT32_MAX, true, 2, metas);

    /* Cut the file in the middle of a chunk past the middle of the file. */
    ax_mcap_reader *r;
    check(ax_mcap_reader_open(&r, path, NULL), path);
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    if (in->n_chunks < 4 || in->message_count != N_MSGS)
        die("%s: %zu chunks, %llu messages", path, in->n_chunks,
            (unsigned long long)in->message_count);
    size_t k = in->n_chunks / 2 + 1;
    uint64_t cut = in->chunks[k].offset + in->chunks[k].length / 2;
    ax_mcap_reader_free(r);
    size_t len;
    uint8_t *whole = slurp(path, &len);
    FILE *f = fopen(cut_path, "wb");
    if (!f || fwrite(whole, 1, (size_t)cut, f) != cut || fclose(f) != 0)
        die("cannot write %s", cut_path);
    free(whole);
    snprintf(json, sizeof(json), "%s/sample-%s-cut.expected.json", dir, cname);
    write_expected(json, chunk_of, (unsigned)k, false, 1, metas);

    /* axon's own recovery must agree with what was written. */
    uint64_t want = 0;
    for (unsigned i = 0; i < N_MSGS; i++)
        want += chunk_of[i] < k;
    check(ax_mcap_reader_open(&r, cut_path, NULL), cut_path);
    in = ax_mcap_reader_info(r);
    if (!in->recovered || in->message_count != want || in->n_chunks != k || in->n_metadata != 1)
        die("%s: recovered=%d, %llu messages in %zu chunks, %zu metadata; want %llu in %zu, 1",
            cut_path, in->recovered, (unsigned long long)in->message_count, in->n_chunks,
            in->n_metadata, (unsigned long long)want, k);
    ax_mcap_iter *it;
    struct ax_mcap_message m;
    uint64_t n = 0;
    int rc;
    check(ax_mcap_iter_new(r, NULL, &it), "iter_new");
    while ((rc = ax_mcap_iter_next(it, &m)) == 1) {
        if (m.sequence != n || m.log_time != msg_time((unsigned)n))
            die("%s: message %llu out of place", cut_path, (unsigned long long)n);
        n++;
    }
    if (rc != 0 || n != want)
        die("%s: read %llu of %llu messages (error %d)", cut_path, (unsigned long long)n,
            (unsigned long long)want, rc);
    ax_mcap_iter_free(it);
    printf("%s: %llu messages in %llu chunks (%s); cut at %llu of %llu bytes: axon's recovery "
           "read %llu messages of %zu complete chunks (%s)\n",
           path, (unsigned long long)st.messages_written, (unsigned long long)st.chunks_written,
           cname[0] ? cname : "none", (unsigned long long)cut, (unsigned long long)len,
           (unsigned long long)want, k, in->recovery_reason);
    ax_mcap_reader_free(r);
    free(fds);
    return 0;
}
