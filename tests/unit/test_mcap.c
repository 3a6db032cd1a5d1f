/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tools/mcap: the MCAP writer and reader.
 *
 * Round trips with each compression (several schemas and channels, 10 000
 * messages of varying sizes, one of 2 MiB, log times not always increasing,
 * metadata records); files cut at many offsets (every 1/20th, and around
 * each chunk's end) must give back exactly the messages of the complete
 * chunks and say they were recovered; flipped bytes and hand-made hostile
 * files must give an error or a recovery, never a crash (this binary runs
 * under ASan/UBSan); a full disk must surface as AX_EIO, with the writer's
 * count of messages in the file matching what the reader recovers.
 */
#include "ax_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/mcap/mcap.h"
#include "tools/mcap/ax__mcap.h"
#include "mcap_files.h"

#define N_CHAN    5
#define N_SCHEMA  3
#define BIG_INDEX 4321u
#define T0        UINT64_C(1700000000000000000)

static const char *const topics[N_CHAN] = {"/a", "/b", "/c", "/d", "/e"};
static const char *const schema_names[N_SCHEMA] = {"axon.test.A", "axon.test.B", "axon.test.C"};
static const int chan_schema[N_CHAN] = {0, 0, 1, 2, 1};

/* ------------------------------------------------------------------------ */
/* The messages: everything is a function of the message's index.          */

static size_t msg_size(uint32_t i, bool big)
{
    if (big && i == BIG_INDEX)
        return (size_t)2 << 20;
    return 4 + (i * 7919u) % 700;
}

static int msg_chan(uint32_t i)
{
    return (int)((i * 13u) % N_CHAN);
}

/* Mostly increasing; every 100th goes back in time, every 250th ties with
 * the one before. */
static uint64_t msg_time(uint32_t i)
{
    if (i % 250 == 0 && i)
        return msg_time(i - 1);
    uint64_t t = T0 + (uint64_t)i * 1000;
    return i % 100 == 50 ? t - 1500 : t;
}

static void msg_fill(uint32_t i, uint8_t *p, size_t n)
{
    ax__put_u32(p, i);
    for (size_t k = 4; k < n; k++)
        p[k] = (uint8_t)(i * 131u + k * 17u);
}

/* The message's index, after checking every field of @m against it; all
 * of its bytes when @all_bytes, else the last one (the cut tests read the
 * same messages over and over, and the full read checks every byte). */
static uint32_t check_msg_bytes(const struct ax_mcap_message *m, const uint16_t *chan_ids, bool big,
                                bool all_bytes)
{
    assert_true(m->len >= 4);
    uint32_t i = ax__get_u32(m->data);
    assert_int_equal(m->len, msg_size(i, big));
    assert_int_equal(m->sequence, i);
    assert_int_equal(m->log_time, msg_time(i));
    assert_int_equal(m->publish_time, msg_time(i) + 7);
    assert_int_equal(m->channel_id, chan_ids[msg_chan(i)]);
    assert_non_null(m->channel);
    assert_string_equal(m->channel->topic, topics[msg_chan(i)]);
    for (size_t k = all_bytes ? 4 : m->len - 1; k < m->len && k >= 4; k++)
        if (m->data[k] != (uint8_t)(i * 131u + k * 17u))
            fail_msg("message %u: byte %zu differs", i, k);
    return i;
}

static uint32_t check_msg(const struct ax_mcap_message *m, const uint16_t *chan_ids, bool big)
{
    return check_msg_bytes(m, chan_ids, big, true);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                    */

static char tmpdir[64];

static int setup_dir(void **state)
{
    strcpy(tmpdir, "/tmp/axon_mcap_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

/* What the writer said while writing, to know what a cut file must hold. */
struct written {
    uint32_t n_msgs;
    bool big;
    uint16_t chan_ids[N_CHAN];
    uint16_t schema_ids[N_SCHEMA];
    uint64_t per_chan[N_CHAN];
    uint64_t *msgs_after_chunk; /* [k]: messages in the first k chunks */
    size_t n_chunks;
    uint64_t meta_end[64]; /* end offset of each metadata record */
    size_t n_meta;
    uint64_t size;
};

static void written_free(struct written *wr)
{
    free(wr->msgs_after_chunk);
}

static void note_stats(ax_mcap_writer *w, struct written *wr)
{
    struct ax_mcap_writer_stats st;
    ax_mcap_writer_stats(w, &st);
    while (wr->n_chunks < st.chunks_written)
        wr->msgs_after_chunk[++wr->n_chunks] = st.messages_written;
}

static void write_sample(const char *path, enum ax_mcap_compression c, size_t chunk_size,
                         uint32_t n_msgs, bool big, bool fsync_chunks, struct written *wr)
{
    memset(wr, 0, sizeof(*wr));
    wr->n_msgs = n_msgs;
    wr->big = big;
    wr->msgs_after_chunk = calloc(n_msgs + 2, sizeof(uint64_t));
    assert_non_null(wr->msgs_after_chunk);

    struct ax_mcap_writer_options opt;
    ax_mcap_writer_options_init(&opt);
    opt.compression = c;
    opt.chunk_size = chunk_size;
    opt.fsync_chunks = fsync_chunks;
    ax_mcap_writer *w;
    AX_OK_OR_FAIL(ax_mcap_writer_open(&w, path, &opt));

    for (int s = 0; s < N_SCHEMA; s++) {
        /* Stand-ins for FileDescriptorSets: binary, with NULs. */
        uint8_t fds[64];
        for (size_t k = 0; k < sizeof(fds); k++)
            fds[k] = (uint8_t)(k % 7 == 0 ? 0 : s * 50 + k);
        AX_OK_OR_FAIL(ax_mcap_writer_add_schema(w, schema_names[s], NULL, fds, sizeof(fds),
                                                &wr->schema_ids[s]));
        uint16_t again;
        AX_OK_OR_FAIL(
            ax_mcap_writer_add_schema(w, schema_names[s], "protobuf", fds, sizeof(fds), &again));
        assert_int_equal(again, wr->schema_ids[s]); /* the same schema: the same id */
    }
    const struct ax_mcap_kv meta[] = {{"qos", "reliable"}, {"type_hash", "0123abcd"}};
    for (int ch = 0; ch < N_CHAN; ch++)
        AX_OK_OR_FAIL(ax_mcap_writer_add_channel(w, wr->schema_ids[chan_schema[ch]], topics[ch],
                                                 NULL, ch == 0 ? meta : NULL, ch == 0 ? 2 : 0,
                                                 &wr->chan_ids[ch]));

    uint8_t *buf = malloc(msg_size(BIG_INDEX, true));
    assert_non_null(buf);
    for (uint32_t i = 0; i < n_msgs; i++) {
        size_t n = msg_size(i, big);
        msg_fill(i, buf, n);
        AX_OK_OR_FAIL(ax_mcap_writer_write_message(w, wr->chan_ids[msg_chan(i)], i, msg_time(i),
                                                   msg_time(i) + 7, buf, n));
        wr->per_chan[msg_chan(i)]++;
        note_stats(w, wr);
        if (i % 1500 == 700 && wr->n_meta < 64) {
            char from[24], to[24], t[24];
            snprintf(from, sizeof(from), "%u", i);
            snprintf(to, sizeof(to), "%u", i + 3);
            snprintf(t, sizeof(t), "%llu", (unsigned long long)msg_time(i));
            const struct ax_mcap_kv gap[] = {
                {"topic", topics[msg_chan(i)]}, {"from_seq", from}, {"to_seq", to}, {"time", t}};
            AX_OK_OR_FAIL(ax_mcap_writer_write_metadata(w, "axon.gap", gap, 4));
            struct ax_mcap_writer_stats st;
            ax_mcap_writer_stats(w, &st);
            wr->meta_end[wr->n_meta++] = st.bytes_written;
        }
    }
    free(buf);
    struct ax_mcap_writer_stats st;
    ax_mcap_writer_stats(w, &st);
    assert_int_equal(st.messages_accepted, n_msgs);
    assert_true(st.messages_written <= n_msgs);
    AX_OK_OR_FAIL(ax_mcap_writer_close(w, &st));
    assert_int_equal(st.messages_written, n_msgs);
    assert_int_equal(st.metadata_written, wr->n_meta);
    while (wr->n_chunks < st.chunks_written)
        wr->msgs_after_chunk[++wr->n_chunks] = st.messages_written;
    wr->size = st.bytes_written;
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, wr->size);
}

/* Message indexes in the order a reader must give them: by log time, ties
 * in writing order. */
static uint32_t *expected_order(uint32_t n)
{
    uint32_t *o = malloc(n * sizeof(*o));
    assert_non_null(o);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = i;
        while (k > 0 && msg_time(o[k - 1]) > msg_time(i)) {
            o[k] = o[k - 1];
            k--;
        }
        o[k] = i;
    }
    return o;
}

static void check_info(const struct ax_mcap_info *in, const struct written *wr,
                       enum ax_mcap_compression c)
{
    assert_true(in->from_summary);
    assert_false(in->recovered);
    assert_string_equal(in->recovery_reason, "");
    assert_string_equal(in->profile, "");
    assert_true(strncmp(in->library, "axon ", 5) == 0);
    assert_int_equal(in->file_size, wr->size);
    assert_int_equal(in->valid_end, wr->size);
    assert_int_equal(in->message_count, wr->n_msgs);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < wr->n_msgs; i++) {
        lo = msg_time(i) < lo ? msg_time(i) : lo;
        hi = msg_time(i) > hi ? msg_time(i) : hi;
    }
    assert_int_equal(in->message_start_time, lo);
    assert_int_equal(in->message_end_time, hi);
    assert_int_equal(in->n_schemas, N_SCHEMA);
    for (int s = 0; s < N_SCHEMA; s++) {
        assert_int_equal(in->schemas[s].id, wr->schema_ids[s]);
        assert_string_equal(in->schemas[s].name, schema_names[s]);
        assert_string_equal(in->schemas[s].encoding, "protobuf");
        assert_int_equal(in->schemas[s].data_len, 64);
        assert_int_equal(in->schemas[s].data[1], (uint8_t)(s * 50 + 1));
    }
    assert_int_equal(in->n_channels, N_CHAN);
    for (int ch = 0; ch < N_CHAN; ch++) {
        const struct ax_mcap_channel *c2 = &in->channels[ch]; /* sorted by id */
        assert_int_equal(c2->id, wr->chan_ids[ch]);
        assert_string_equal(c2->topic, topics[ch]);
        assert_string_equal(c2->message_encoding, "protobuf");
        assert_int_equal(c2->schema_id, wr->schema_ids[chan_schema[ch]]);
        assert_int_equal(c2->message_count, wr->per_chan[ch]);
        assert_int_equal(c2->n_metadata, ch == 0 ? 2 : 0);
    }
    assert_string_equal(in->channels[0].metadata[1].key, "type_hash");
    assert_string_equal(in->channels[0].metadata[1].value, "0123abcd");
    assert_int_equal(in->n_chunks, wr->n_chunks);
    assert_string_equal(in->compression, ax_mcap_compression_name(c));
    for (size_t k = 0; k < in->n_chunks; k++)
        assert_string_equal(in->chunks[k].compression, ax_mcap_compression_name(c));
    assert_int_equal(in->n_metadata, wr->n_meta);
    for (size_t k = 0; k < in->n_metadata; k++) {
        assert_string_equal(in->metadata[k].name, "axon.gap");
        assert_int_equal(in->metadata[k].n_kv, 4);
        assert_string_equal(in->metadata[k].kv[0].key, "topic");
        assert_string_equal(in->metadata[k].kv[3].key, "time");
    }
}

/* Read all of @path and check each message and the order. */
static void check_all_messages(ax_mcap_reader *r, const struct written *wr)
{
    uint32_t *order = expected_order(wr->n_msgs);
    ax_mcap_iter *it;
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
    struct ax_mcap_message m;
    uint32_t n = 0;
    int rc;
    while ((rc = ax_mcap_iter_next(it, &m)) == 1) {
        assert_true(n < wr->n_msgs);
        uint32_t i = check_msg(&m, wr->chan_ids, wr->big);
        if (i != order[n])
            fail_msg("message %u: got index %u, want %u", n, i, order[n]);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, wr->n_msgs);
    assert_int_equal(ax_mcap_iter_next(it, &m), 0); /* stays at the end */
    ax_mcap_iter_free(it);
    free(order);
}

/* Topic and time filters. */
static void check_filtered(ax_mcap_reader *r, const struct written *wr)
{
    const char *want[] = {"/b", "/d", "/nope"};
    struct ax_mcap_iter_options o;
    ax_mcap_iter_options_init(&o);
    o.topics = want;
    o.n_topics = 3;
    o.start_time = msg_time(wr->n_msgs / 2);
    o.end_time = msg_time(wr->n_msgs - 100);
    ax_mcap_iter *it;
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, &o, &it));
    uint32_t expect = 0;
    for (uint32_t i = 0; i < wr->n_msgs; i++)
        if ((msg_chan(i) == 1 || msg_chan(i) == 3) && msg_time(i) >= o.start_time &&
            msg_time(i) <= o.end_time)
            expect++;
    struct ax_mcap_message m;
    uint32_t n = 0;
    uint64_t last = 0;
    int rc;
    while ((rc = ax_mcap_iter_next(it, &m)) == 1) {
        uint32_t i = check_msg(&m, wr->chan_ids, wr->big);
        assert_true(msg_chan(i) == 1 || msg_chan(i) == 3);
        assert_true(m.log_time >= o.start_time && m.log_time <= o.end_time);
        assert_true(m.log_time >= last);
        last = m.log_time;
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, expect);
    ax_mcap_iter_free(it);

    /* A topic the file does not have matches nothing. */
    const char *none[] = {"/nope"};
    o = (struct ax_mcap_iter_options){.topics = none, .n_topics = 1, .end_time = UINT64_MAX};
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, &o, &it));
    assert_int_equal(ax_mcap_iter_next(it, &m), 0);
    ax_mcap_iter_free(it);
}

/*
 * Open @path (a prefix of a file written as @wr describes, @cut bytes long)
 * and check it holds exactly the messages of the chunks that end by @cut.
 */
static void check_cut(const char *path, const struct written *wr, const struct ax_mcap_info *full,
                      uint64_t cut, bool read_messages)
{
    ax_mcap_reader *r;
    int rc = ax_mcap_reader_open(&r, path, NULL);
    /* magic (8) + Header record: profile "" and library "axon x.y.z" */
    uint64_t header_end = 8 + 9 + 8 + strlen(full->library);
    if (cut < header_end) {
        assert_int_equal(rc, AX_EPROTO);
        return;
    }
    AX_OK_OR_FAIL(rc);
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    assert_false(in->from_summary);
    assert_true(in->recovered);
    assert_true(in->recovery_reason[0] != '\0');
    size_t k = 0;
    while (k < full->n_chunks && full->chunks[k].offset + full->chunks[k].length <= cut)
        k++;
    uint64_t want = wr->msgs_after_chunk[k];
    if (in->message_count != want || in->n_chunks != k)
        fail_msg("cut at %llu: %llu messages in %zu chunks, want %llu in %zu (%s)",
                 (unsigned long long)cut, (unsigned long long)in->message_count, in->n_chunks,
                 (unsigned long long)want, k, in->recovery_reason);
    assert_true(in->valid_end <= cut);
    size_t metas = 0;
    for (size_t j = 0; j < wr->n_meta; j++)
        metas += wr->meta_end[j] <= cut;
    assert_int_equal(in->n_metadata, metas);
    uint64_t sum = 0;
    for (size_t j = 0; j < in->n_channels; j++)
        sum += in->channels[j].message_count;
    assert_int_equal(sum, want);

    if (!read_messages) {
        ax_mcap_reader_free(r);
        return;
    }
    /* Exactly the first @want messages written, each intact, in order. */
    uint8_t *seen = calloc(wr->n_msgs, 1);
    assert_non_null(seen);
    ax_mcap_iter *it;
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
    struct ax_mcap_message m;
    uint64_t n = 0, last = 0;
    while ((rc = ax_mcap_iter_next(it, &m)) == 1) {
        uint32_t i = check_msg_bytes(&m, wr->chan_ids, wr->big, false);
        assert_true(i < want);
        assert_false(seen[i]);
        seen[i] = 1;
        assert_true(m.log_time >= last);
        last = m.log_time;
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, want);
    ax_mcap_iter_free(it);
    free(seen);
    ax_mcap_reader_free(r);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void test_crc32(void **state)
{
    assert_int_equal(ax_mcap_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(ax_mcap_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
                     0x414FA339u);
    assert_int_equal(ax_mcap_crc32(0, "", 0), 0);
    /* An empty update leaves a running CRC as it is, even with no buffer. */
    assert_int_equal(ax_mcap_crc32(0xCBF43926u, NULL, 0), 0xCBF43926u);
    /* A longer buffer (its CRC from a bitwise reference implementation),
     * and incremental equals one-shot across an unaligned split. */
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t one = ax_mcap_crc32(0, buf, sizeof(buf));
    assert_int_equal(one, 0x17BC2A46u);
    uint32_t inc = ax_mcap_crc32(ax_mcap_crc32(0, buf, 13), buf + 13, sizeof(buf) - 13);
    assert_int_equal(one, inc);
}

static void test_compression_names(void **state)
{
    enum ax_mcap_compression c;
    AX_OK_OR_FAIL(ax_mcap_compression_parse("none", &c));
    assert_int_equal(c, AX_MCAP_COMPRESSION_NONE);
    assert_int_equal(ax_mcap_compression_parse("gzip", &c), AX_EINVAL);
    assert_string_equal(ax_mcap_compression_name(AX_MCAP_COMPRESSION_LZ4), "lz4");
    assert_string_equal(ax_mcap_compression_name(AX_MCAP_COMPRESSION_ZSTD), "zstd");
    struct ax_mcap_writer_options o;
    ax_mcap_writer_options_init(&o);
    assert_int_equal(o.chunk_size, 1u << 20);
    if (ax_mcap_compression_supported(AX_MCAP_COMPRESSION_ZSTD))
        assert_int_equal(o.compression, AX_MCAP_COMPRESSION_ZSTD);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void roundtrip(enum ax_mcap_compression c)
{
    char path[128];
    path_of(path, sizeof(path), "rt.mcap");
    if (!ax_mcap_compression_supported(c)) {
        /* A build without this library must say so, not write garbage. */
        struct ax_mcap_writer_options o;
        ax_mcap_writer_options_init(&o);
        o.compression = c;
        ax_mcap_writer *w;
        assert_int_equal(ax_mcap_writer_open(&w, path, &o), AX_ENOTSUP);
        print_message("compression %s is not in this build: checked AX_ENOTSUP only\n",
                      ax_mcap_compression_name(c));
        return;
    }
    struct written wr;
    /* 256 KiB chunks so that the cut tests below have many chunk ends. */
    write_sample(path, c, 256 << 10, 10000, true, false, &wr);
    assert_true(wr.n_chunks > 10);

    ax_mcap_reader *r;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    check_info(in, &wr, c);
    /* The 2 MiB message got a chunk larger than the target. */
    bool large = false;
    for (size_t k = 0; k < in->n_chunks; k++)
        large |= in->chunks[k].uncompressed_size > (size_t)2 << 20;
    assert_true(large);
    check_all_messages(r, &wr);
    check_filtered(r, &wr);

    const struct ax_mcap_schema *s;
    AX_OK_OR_FAIL(ax_mcap_reader_schema(r, wr.schema_ids[2], &s));
    assert_string_equal(s->name, schema_names[2]);
    assert_int_equal(ax_mcap_reader_schema(r, 77, &s), AX_ENOTFOUND);
    const struct ax_mcap_channel *ch;
    assert_int_equal(ax_mcap_reader_channel(r, 77, &ch), AX_ENOTFOUND);

    /* Cut the file: every 1/20th, around the end of each chunk, and just
     * before the end. Longest cut first, so each cut is one truncate(). */
    size_t len;
    uint8_t *whole = slurp(path, &len);
    size_t n_cuts = 0;
    uint64_t *cuts = malloc((21 + 3 * in->n_chunks) * sizeof(*cuts));
    assert_non_null(cuts);
    for (int k = 0; k < 20; k++)
        cuts[n_cuts++] = (uint64_t)len * k / 20;
    for (size_t k = 0; k < in->n_chunks; k++)
        for (int d = -1; d <= 1; d++)
            cuts[n_cuts++] = in->chunks[k].offset + in->chunks[k].length + d;
    cuts[n_cuts++] = len - 1; /* only the last magic byte missing */
    qsort(cuts, n_cuts, sizeof(*cuts), cmp_desc);
    char cut_path[128];
    path_of(cut_path, sizeof(cut_path), "cut.mcap");
    spit(cut_path, whole, len);
    for (size_t k = 0; k < n_cuts; k++) {
        assert_int_equal(truncate(cut_path, (off_t)cuts[k]), 0);
        /* Reading the messages back costs a pass over the file; every third
         * cut does it (the counts above are checked at every cut). */
        check_cut(cut_path, &wr, in, cuts[k], k % 3 == 0);
    }
    free(cuts);
    free(whole);
    ax_mcap_reader_free(r);
    written_free(&wr);
}

static void test_roundtrip_none(void **state)
{
    roundtrip(AX_MCAP_COMPRESSION_NONE);
}

static void test_roundtrip_lz4(void **state)
{
    roundtrip(AX_MCAP_COMPRESSION_LZ4);
}

static void test_roundtrip_zstd(void **state)
{
    roundtrip(AX_MCAP_COMPRESSION_ZSTD);
}

/* Defaults (1 MiB chunks, default compression), fsync on, and a file with
 * no messages at all. */
static void test_defaults_and_empty(void **state)
{
    char path[128];
    path_of(path, sizeof(path), "defaults.mcap");
    struct written wr;
    struct ax_mcap_writer_options o;
    ax_mcap_writer_options_init(&o);
    write_sample(path, o.compression, o.chunk_size, 3000, false, true, &wr);
    ax_mcap_reader *r;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    check_all_messages(r, &wr);
    ax_mcap_reader_free(r);
    written_free(&wr);

    ax_mcap_writer *w;
    AX_OK_OR_FAIL(ax_mcap_writer_open(&w, path, NULL));
    AX_OK_OR_FAIL(ax_mcap_writer_close(w, NULL));
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    assert_true(in->from_summary);
    assert_int_equal(in->message_count, 0);
    assert_int_equal(in->n_chunks, 0);
    assert_int_equal(in->n_channels, 0);
    ax_mcap_iter *it;
    struct ax_mcap_message m;
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
    assert_int_equal(ax_mcap_iter_next(it, &m), 0);
    ax_mcap_iter_free(it);
    ax_mcap_reader_free(r);
}

static void test_writer_arguments(void **state)
{
    char path[128];
    path_of(path, sizeof(path), "args.mcap");
    ax_mcap_writer *w;
    struct ax_mcap_writer_options o;
    ax_mcap_writer_options_init(&o);
    o.chunk_size = 0;
    assert_int_equal(ax_mcap_writer_open(&w, path, &o), AX_EINVAL);
    o.chunk_size = 1;
    o.compression = (enum ax_mcap_compression)9;
    assert_int_equal(ax_mcap_writer_open(&w, path, &o), AX_EINVAL);
    assert_int_equal(ax_mcap_writer_open(&w, "/nonexistent/dir/x.mcap", NULL), AX_ENOENT);

    AX_OK_OR_FAIL(ax_mcap_writer_open(&w, path, NULL));
    uint16_t id;
    assert_int_equal(ax_mcap_writer_add_channel(w, 5, "/x", NULL, NULL, 0, &id), AX_ENOTFOUND);
    assert_int_equal(ax_mcap_writer_write_message(w, 1, 0, 0, 0, "x", 1), AX_ENOTFOUND);
    AX_OK_OR_FAIL(ax_mcap_writer_add_channel(w, 0, "/x", "json", NULL, 0, &id));
    assert_int_equal(ax_mcap_writer_write_message(w, id, 0, 0, 0, NULL, 1), AX_EINVAL);
    const struct ax_mcap_kv bad[] = {{"k", NULL}};
    assert_int_equal(ax_mcap_writer_write_metadata(w, "m", bad, 1), AX_EINVAL);
    /* Too large: refused before a byte is read (so a short buffer is fine). */
    assert_int_equal(
        ax_mcap_writer_write_message(w, id, 0, 0, 0, "x", (size_t)AX_MCAP_MAX_MESSAGE_SIZE + 1),
        AX_EMSGSIZE);
    assert_int_equal(
        ax_mcap_writer_add_schema(w, "t", NULL, "x", (size_t)AX_MCAP_MAX_MESSAGE_SIZE + 1, &id),
        AX_EMSGSIZE);
    AX_OK_OR_FAIL(ax_mcap_writer_write_message(w, id, 1, 5, 5, NULL, 0)); /* empty is fine */
    AX_OK_OR_FAIL(ax_mcap_writer_flush(w));
    AX_OK_OR_FAIL(ax_mcap_writer_flush(w)); /* nothing open: no-op */
    struct ax_mcap_writer_stats st;
    ax_mcap_writer_stats(w, &st);
    assert_int_equal(st.chunks_written, 1);
    assert_int_equal(st.messages_written, 1);
    AX_OK_OR_FAIL(ax_mcap_writer_close(w, NULL));
    assert_int_equal(ax_mcap_writer_close(NULL, NULL), 0);

    ax_mcap_reader *r;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    assert_int_equal(in->message_count, 1);
    assert_int_equal(in->channels[0].schema_id, 0);
    assert_string_equal(in->channels[0].message_encoding, "json");
    ax_mcap_reader_free(r);
}

/* A full disk: open on /dev/full fails at once; a file that hits a size
 * limit mid-way fails in write_message, stays failed, and keeps exactly the
 * messages the writer counted as written. */
static void test_write_errors(void **state)
{
    ax_mcap_writer *w;
    assert_int_equal(ax_mcap_writer_open(&w, "/dev/full", NULL), AX_EIO);

    char path[128];
    path_of(path, sizeof(path), "full.mcap");
    struct ax_mcap_writer_options o;
    ax_mcap_writer_options_init(&o);
    o.compression = AX_MCAP_COMPRESSION_NONE;
    o.chunk_size = 8 << 10;
    AX_OK_OR_FAIL(ax_mcap_writer_open(&w, path, &o));
    uint16_t sid, cid;
    AX_OK_OR_FAIL(ax_mcap_writer_add_schema(w, "t.T", NULL, "fds", 3, &sid));
    AX_OK_OR_FAIL(ax_mcap_writer_add_channel(w, sid, "/a", NULL, NULL, 0, &cid));

    /* RLIMIT_FSIZE makes write() fail with EFBIG past 100 000 bytes, like a
     * full disk; SIGXFSZ is ignored so the error is returned instead. */
    struct rlimit old, lim = {.rlim_cur = 100000, .rlim_max = RLIM_INFINITY};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim.rlim_max = old.rlim_max;
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t buf[1000];
    int rc = 0;
    uint32_t i;
    for (i = 0; i < 10000 && rc == 0; i++) {
        msg_fill(i, buf, sizeof(buf));
        rc = ax_mcap_writer_write_message(w, cid, i, T0 + i, T0 + i, buf, sizeof(buf));
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_sig);
    assert_int_equal(rc, AX_EIO);
    struct ax_mcap_writer_stats st;
    ax_mcap_writer_stats(w, &st);
    assert_int_equal(st.error, AX_EIO);
    assert_int_equal(st.sys_errno, EFBIG);
    assert_true(st.messages_written < st.messages_accepted);
    /* Sticky: every later call fails the same way. */
    assert_int_equal(ax_mcap_writer_write_message(w, cid, 0, 0, 0, buf, 1), AX_EIO);
    assert_int_equal(ax_mcap_writer_write_metadata(w, "x", NULL, 0), AX_EIO);
    assert_int_equal(ax_mcap_writer_flush(w), AX_EIO);
    assert_int_equal(ax_mcap_writer_close(w, &st), AX_EIO);

    ax_mcap_reader *r;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    assert_true(in->recovered);
    assert_int_equal(in->message_count, st.messages_written);
    assert_int_equal(in->n_chunks, st.chunks_written);
    ax_mcap_reader_free(r);
}

/* Flip bytes all over a file: every open and read must end in a result or
 * an error, with ASan watching. */
static void test_corrupt_bytes(void **state)
{
    char path[128], bad[128];
    path_of(path, sizeof(path), "small.mcap");
    path_of(bad, sizeof(bad), "bad.mcap");
    static const enum ax_mcap_compression cs[] = {AX_MCAP_COMPRESSION_NONE, AX_MCAP_COMPRESSION_LZ4,
                                                  AX_MCAP_COMPRESSION_ZSTD};
    for (size_t ci = 0; ci < 3; ci++) {
        if (!ax_mcap_compression_supported(cs[ci]))
            continue;
        struct written wr;
        write_sample(path, cs[ci], 4 << 10, 300, false, false, &wr);
        size_t len;
        uint8_t *whole = slurp(path, &len);
        unsigned opened = 0, errors = 0;
        /* One copy; each round flips one byte in place and puts it back. */
        spit(bad, whole, len);
        int fd = open(bad, O_WRONLY);
        assert_true(fd >= 0);
        /* Every byte of the head and the tail, a spread in between. */
        for (size_t pos = 0; pos < len; pos += pos < 64 || pos + 64 > len ? 1 : 5 + pos % 53) {
            uint8_t flipped = whole[pos] ^ 0x5A;
            assert_int_equal(pwrite(fd, &flipped, 1, (off_t)pos), 1);
            ax_mcap_reader *r;
            if (ax_mcap_reader_open(&r, bad, NULL) != 0) {
                errors++;
                assert_int_equal(pwrite(fd, &whole[pos], 1, (off_t)pos), 1);
                continue;
            }
            opened++;
            ax_mcap_iter *it;
            AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
            struct ax_mcap_message m;
            uint32_t n = 0;
            int rc;
            while ((rc = ax_mcap_iter_next(it, &m)) == 1 && n <= wr.n_msgs)
                n++;
            assert_true(rc <= 0);
            assert_true(n <= wr.n_msgs);
            if (rc < 0)
                assert_int_equal(ax_mcap_iter_next(it, &m), rc); /* sticky */
            ax_mcap_iter_free(it);
            ax_mcap_reader_free(r);
            assert_int_equal(pwrite(fd, &whole[pos], 1, (off_t)pos), 1);
        }
        close(fd);
        assert_true(opened > 0);
        assert_true(errors > 0); /* the header's bytes at least */

        /* A flipped payload byte in an uncompressed chunk is a CRC error
         * when read through the index, and ends the scan of a cut file. */
        if (cs[ci] == AX_MCAP_COMPRESSION_NONE) {
            ax_mcap_reader *r;
            AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
            const struct ax_mcap_info *in = ax_mcap_reader_info(r);
            assert_true(in->n_chunks > 4);
            uint64_t at = in->chunks[3].offset + in->chunks[3].length - 10;
            uint64_t cut = in->chunks[5].offset + in->chunks[5].length;
            uint64_t want = wr.msgs_after_chunk[3];
            ax_mcap_reader_free(r);
            whole[at] ^= 1;
            spit(bad, whole, len);
            AX_OK_OR_FAIL(ax_mcap_reader_open(&r, bad, NULL));
            assert_true(ax_mcap_reader_info(r)->from_summary);
            ax_mcap_iter *it;
            struct ax_mcap_message m;
            AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
            uint64_t n = 0;
            int rc;
            while ((rc = ax_mcap_iter_next(it, &m)) == 1)
                n++;
            assert_int_equal(rc, AX_ECRC);
            assert_int_equal(n, want);
            ax_mcap_iter_free(it);
            ax_mcap_reader_free(r);

            spit(bad, whole, (size_t)cut);
            AX_OK_OR_FAIL(ax_mcap_reader_open(&r, bad, NULL));
            in = ax_mcap_reader_info(r);
            assert_true(in->recovered);
            assert_int_equal(in->message_count, want);
            assert_int_equal(in->n_chunks, 3);
            assert_non_null(strstr(in->recovery_reason, "CRC mismatch"));
            ax_mcap_reader_free(r);
        }
        free(whole);
        written_free(&wr);
    }
}

/* Hand-made files whose lengths lie. */
static void put_record_header(uint8_t *p, uint8_t op, uint64_t len)
{
    p[0] = op;
    ax__put_u64(p + 1, len);
}

static size_t hostile_prefix(uint8_t *p)
{
    memcpy(p, AX__MCAP_MAGIC, 8);
    put_record_header(p + 8, AX__OP_HEADER, 8);
    memset(p + 17, 0, 8); /* profile "", library "" */
    return 25;
}

static void test_hostile_files(void **state)
{
    char path[128];
    path_of(path, sizeof(path), "hostile.mcap");
    uint8_t f[512];
    ax_mcap_reader *r;

    /* Not MCAP at all; an empty file; a Header longer than the file. */
    spit(path, (const uint8_t *)"hello world, not mcap....", 25);
    assert_int_equal(ax_mcap_reader_open(&r, path, NULL), AX_EPROTO);
    spit(path, f, 0);
    assert_int_equal(ax_mcap_reader_open(&r, path, NULL), AX_EPROTO);
    size_t n = hostile_prefix(f);
    put_record_header(f + 8, AX__OP_HEADER, UINT64_MAX);
    spit(path, f, n);
    assert_int_equal(ax_mcap_reader_open(&r, path, NULL), AX_EPROTO);
    assert_int_equal(ax_mcap_reader_open(&r, "/nonexistent.mcap", NULL), AX_ENOENT);

    /* A chunk that declares 2^40 uncompressed bytes: refused, not allocated. */
    n = hostile_prefix(f);
    uint8_t *c = f + n;
    put_record_header(c, AX__OP_CHUNK, 8 + 8 + 8 + 4 + 4 + 8 + 4);
    ax__put_u64(c + 9, 1);
    ax__put_u64(c + 17, 2);
    ax__put_u64(c + 25, UINT64_C(1) << 40);
    ax__put_u32(c + 33, 0);
    ax__put_u32(c + 37, 0); /* compression "" */
    ax__put_u64(c + 41, 4);
    memcpy(c + 49, "abcd", 4);
    n += 53;
    spit(path, f, n);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    const struct ax_mcap_info *in = ax_mcap_reader_info(r);
    assert_true(in->recovered);
    assert_int_equal(in->n_chunks, 0);
    assert_int_equal(in->valid_end, 25);
    assert_non_null(strstr(in->recovery_reason, "limits"));
    ax_mcap_reader_free(r);

    /* A record claiming more than the limit, and one claiming more than the
     * file holds. */
    n = hostile_prefix(f);
    put_record_header(f + n, AX__OP_SCHEMA, UINT64_C(1) << 62);
    spit(path, f, n + 9);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    assert_non_null(strstr(ax_mcap_reader_info(r)->recovery_reason, "over the limit"));
    ax_mcap_reader_free(r);
    put_record_header(f + n, AX__OP_SCHEMA, 1000);
    spit(path, f, n + 9 + 10);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    assert_non_null(strstr(ax_mcap_reader_info(r)->recovery_reason, "cut off"));
    ax_mcap_reader_free(r);

    /* A channel whose strings run past its record; a map with a bad length. */
    n = hostile_prefix(f);
    put_record_header(f + n, AX__OP_CHANNEL, 12);
    ax__put_u16(f + n + 9, 1);
    ax__put_u16(f + n + 11, 0);
    ax__put_u32(f + n + 13, 0xFFFFFFF0u); /* topic length */
    ax__put_u32(f + n + 17, 0);
    spit(path, f, n + 21);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    assert_int_equal(ax_mcap_reader_info(r)->n_channels, 0);
    assert_non_null(strstr(ax_mcap_reader_info(r)->recovery_reason, "Channel"));
    ax_mcap_reader_free(r);

    /* A message on a channel that was never defined. */
    n = hostile_prefix(f);
    put_record_header(f + n, AX__OP_MESSAGE, 22);
    memset(f + n + 9, 0, 22);
    ax__put_u16(f + n + 9, 9);
    spit(path, f, n + 31);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    assert_int_equal(ax_mcap_reader_info(r)->message_count, 0);
    ax_mcap_reader_free(r);

    /* A good file read with limits below its chunk sizes. */
    struct written wr;
    write_sample(path, AX_MCAP_COMPRESSION_NONE, 64 << 10, 500, false, false, &wr);
    struct ax_mcap_reader_options ro;
    ax_mcap_reader_options_init(&ro);
    ro.max_chunk_size = 1000;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, &ro));
    ax_mcap_iter *it;
    struct ax_mcap_message m;
    AX_OK_OR_FAIL(ax_mcap_iter_new(r, NULL, &it));
    assert_int_equal(ax_mcap_iter_next(it, &m), AX_EMSGSIZE);
    ax_mcap_iter_free(it);
    ax_mcap_reader_free(r);
    ro.max_chunk_size = 0;
    assert_int_equal(ax_mcap_reader_open(&r, path, &ro), AX_EINVAL);

    /* A Chunk Index pointing past the data section, in a summary whose CRC
     * is 0 ("not available"): the summary is not trusted, the file is
     * scanned instead (and found whole). */
    size_t len;
    uint8_t *whole = slurp(path, &len);
    uint64_t summary_start = ax__get_u64(whole + len - 8 - 20);
    ax__put_u32(whole + len - 8 - 4, 0);
    uint8_t *p = whole + summary_start;
    while (p[0] != AX__OP_CHUNK_INDEX) {
        p += 9 + ax__get_u64(p + 1);
        assert_true(p < whole + len);
    }
    ax__put_u64(p + 9 + 16, len * 2); /* chunk_start_offset */
    spit(path, whole, len);
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    in = ax_mcap_reader_info(r);
    assert_false(in->from_summary);
    assert_true(in->recovered);
    assert_int_equal(in->message_count, 500);
    check_all_messages(r, &wr);
    ax_mcap_reader_free(r);
    free(whole);
    written_free(&wr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_compression_names),
        cmocka_unit_test(test_roundtrip_none),
        cmocka_unit_test(test_roundtrip_lz4),
        cmocka_unit_test(test_roundtrip_zstd),
        cmocka_unit_test(test_defaults_and_empty),
        cmocka_unit_test(test_writer_arguments),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_corrupt_bytes),
        cmocka_unit_test(test_hostile_files),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
