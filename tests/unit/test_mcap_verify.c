/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ax_mcap_verify(): a whole file passes; one flipped byte anywhere the
 * file carries a CRC for is caught by that CRC and reported at the record
 * it hit (a chunk's payload: its chunk CRC; a Metadata record or a Message
 * Index: the data section CRC; the summary: the summary CRC); lying
 * lengths and offsets are structural problems; a file not closed is a
 * problem. And the reader says why it could not use a summary
 * (ax_mcap_info.summary): a CRC mismatch with the footer intact is not an
 * unclosed file.
 */
#include "ax_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mcap/ax__mcap.h"
#include "tools/mcap/mcap.h"
#include "mcap_files.h"

static char tmpdir[64];

/* Every problem reported, "Record@offset: what\n" each. */
struct seen {
    char text[8192];
    size_t len;
};

static void on_problem(const struct ax_mcap_problem *p, void *user)
{
    struct seen *s = user;
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s@%llu: %s\n", p->record,
                     (unsigned long long)p->offset, p->what);
    if (n > 0 && (size_t)n < sizeof s->text - s->len)
        s->len += (size_t)n;
}

/* A small closed file: uncompressed chunks, so a flipped payload byte
 * reaches the chunk CRC as it is; and metadata records. */
static void write_file(const char *path, enum ax_mcap_compression comp)
{
    struct ax_mcap_writer_options o;
    ax_mcap_writer_options_init(&o);
    o.compression = comp;
    o.chunk_size = 2000;
    ax_mcap_writer *w;
    AX_OK_OR_FAIL(ax_mcap_writer_open(&w, path, &o));
    uint16_t sid, cid[2];
    AX_OK_OR_FAIL(ax_mcap_writer_add_schema(w, "t.A", NULL, "schema", 6, &sid));
    AX_OK_OR_FAIL(ax_mcap_writer_add_channel(w, sid, "/a", NULL, NULL, 0, &cid[0]));
    AX_OK_OR_FAIL(ax_mcap_writer_add_channel(w, sid, "/b", NULL, NULL, 0, &cid[1]));
    uint8_t data[100];
    for (uint32_t i = 0; i < 200; i++) {
        memset(data, (int)i, sizeof data);
        AX_OK_OR_FAIL(
            ax_mcap_writer_write_message(w, cid[i % 2], i, 1000 + i, 1000 + i, data, sizeof data));
        if (i % 50 == 7) {
            struct ax_mcap_kv kv[] = {{"seq", "12345"}, {"why", "a gap"}};
            AX_OK_OR_FAIL(ax_mcap_writer_write_metadata(w, "axon.gap", kv, 2));
        }
    }
    AX_OK_OR_FAIL(ax_mcap_writer_close(w, NULL));
}

/* The offset of the @nth record of type @op in the data section. */
static uint64_t find_record(const uint8_t *f, size_t len, uint8_t op, int nth)
{
    for (size_t pos = AX__MCAP_MAGIC_LEN; pos + AX__MCAP_RECORD_HEADER <= len;) {
        uint64_t rlen = ax__get_u64(f + pos + 1);
        if (f[pos] == op && nth-- == 0)
            return pos;
        if (f[pos] == AX__OP_DATA_END)
            break;
        pos += AX__MCAP_RECORD_HEADER + rlen;
    }
    fail_msg("no record %u in the file", op);
    return 0;
}

/* Verify @f (written to a file) and return the problems seen. */
static uint64_t verify_bytes(const uint8_t *f, size_t len, struct seen *s,
                             struct ax_mcap_verify_report *rep)
{
    char path[128];
    snprintf(path, sizeof path, "%s/v.mcap", tmpdir);
    spit(path, f, len);
    memset(s, 0, sizeof *s);
    AX_OK_OR_FAIL(ax_mcap_verify(path, NULL, on_problem, s, rep));
    print_message("%s", s->text);
    return rep->problems;
}

/* The reader's view of @f. */
static enum ax_mcap_summary_state reader_summary(const uint8_t *f, size_t len, bool *recovered)
{
    char path[128];
    snprintf(path, sizeof path, "%s/r.mcap", tmpdir);
    spit(path, f, len);
    ax_mcap_reader *r;
    AX_OK_OR_FAIL(ax_mcap_reader_open(&r, path, NULL));
    enum ax_mcap_summary_state s = ax_mcap_reader_info(r)->summary;
    *recovered = ax_mcap_reader_info(r)->recovered;
    ax_mcap_reader_free(r);
    return s;
}

static void t_whole(void **state)
{
    (void)state;
    static const enum ax_mcap_compression comps[] = {
        AX_MCAP_COMPRESSION_NONE, AX_MCAP_COMPRESSION_LZ4, AX_MCAP_COMPRESSION_ZSTD};
    for (size_t k = 0; k < 3; k++) {
        if (!ax_mcap_compression_supported(comps[k]))
            continue;
        char path[128];
        snprintf(path, sizeof path, "%s/whole.mcap", tmpdir);
        write_file(path, comps[k]);
        struct ax_mcap_verify_report rep;
        struct seen s = {0};
        AX_OK_OR_FAIL(ax_mcap_verify(path, NULL, on_problem, &s, &rep));
        print_message("%s", s.text);
        assert_int_equal(rep.problems, 0);
        assert_true(rep.chunks > 5);
        assert_int_equal(rep.chunk_crcs, rep.chunks);
        assert_int_equal(rep.messages, 200);
        assert_int_equal(rep.metadata, 4);
        assert_int_equal(rep.message_indexes, 2 * rep.chunks);
        assert_true(rep.data_end && rep.data_crc && rep.footer && rep.summary && rep.summary_crc);
        assert_true(rep.summary_records > rep.chunks);
        bool rec;
        size_t len;
        uint8_t *f = slurp(path, &len);
        assert_int_equal(reader_summary(f, len, &rec), AX_MCAP_SUMMARY_USED);
        assert_false(rec);
        free(f);
    }
    struct ax_mcap_verify_report rep;
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.mcap", tmpdir);
    assert_int_equal(ax_mcap_verify(missing, NULL, NULL, NULL, &rep), AX_ENOENT);
    assert_int_equal(ax_mcap_verify(NULL, NULL, NULL, NULL, &rep), AX_EINVAL);
}

static void t_flipped_bytes(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/f.mcap", tmpdir);
    write_file(path, AX_MCAP_COMPRESSION_NONE);
    size_t len;
    uint8_t *f = slurp(path, &len);
    struct seen s;
    struct ax_mcap_verify_report rep;
    char want[128];
    bool rec;

    /* (a) a chunk's payload: its CRC, and the data section's. */
    uint64_t at = find_record(f, len, AX__OP_CHUNK, 2);
    uint64_t clen = ax__get_u64(f + at + 1);
    f[at + AX__MCAP_RECORD_HEADER + clen - 30] ^= 0x10;
    assert_int_equal(verify_bytes(f, len, &s, &rep), 2);
    snprintf(want, sizeof want, "Chunk@%llu: chunk CRC mismatch", (unsigned long long)at);
    assert_non_null(strstr(s.text, want));
    assert_non_null(strstr(s.text, "DataEnd@"));
    assert_non_null(strstr(s.text, "data section CRC mismatch"));
    f[at + AX__MCAP_RECORD_HEADER + clen - 30] ^= 0x10;

    /* (b) a Metadata record's value, and a Message Index: the data section
     * CRC; the reader, reading from the summary, does not look. */
    static const uint8_t ops[] = {AX__OP_METADATA, AX__OP_MESSAGE_INDEX};
    for (size_t k = 0; k < 2; k++) {
        /* The last byte of a value; the first log time of an index. */
        at = find_record(f, len, ops[k], 1);
        uint64_t rlen = ax__get_u64(f + at + 1);
        uint64_t byte = at + AX__MCAP_RECORD_HEADER + (k == 0 ? rlen - 1 : 6);
        f[byte] ^= 0x01;
        assert_int_equal(verify_bytes(f, len, &s, &rep), 1);
        assert_non_null(strstr(s.text, "DataEnd@"));
        assert_non_null(strstr(s.text, "data section CRC mismatch: the Data End record says"));
        assert_int_equal(reader_summary(f, len, &rec), AX_MCAP_SUMMARY_USED);
        assert_false(rec);
        f[byte] ^= 0x01;
    }

    /* (c) the summary: the summary CRC; the reader scans and says so. */
    uint64_t footer = len - AX__MCAP_MAGIC_LEN - AX__MCAP_FOOTER_CONTENT - AX__MCAP_RECORD_HEADER;
    uint64_t ss = ax__get_u64(f + footer + 9);
    f[ss + (footer - ss) / 2] ^= 0x04;
    assert_true(verify_bytes(f, len, &s, &rep) >= 1);
    snprintf(want, sizeof want, "Footer@%llu: summary CRC mismatch", (unsigned long long)footer);
    assert_non_null(strstr(s.text, want));
    assert_null(strstr(s.text, "data section CRC"));
    assert_int_equal(reader_summary(f, len, &rec), AX_MCAP_SUMMARY_CRC);
    assert_true(rec);
    f[ss + (footer - ss) / 2] ^= 0x04;
    assert_int_equal(verify_bytes(f, len, &s, &rep), 0);
    free(f);
}

static void t_structure(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/s.mcap", tmpdir);
    write_file(path, AX_MCAP_COMPRESSION_ZSTD);
    size_t len;
    uint8_t *f = slurp(path, &len);
    struct seen s;
    struct ax_mcap_verify_report rep;
    bool rec;
    uint64_t footer = len - AX__MCAP_MAGIC_LEN - AX__MCAP_FOOTER_CONTENT - AX__MCAP_RECORD_HEADER;
    uint64_t ss = ax__get_u64(f + footer + 9);

    /* Not closed: no Data End, no footer; the reader calls it unclosed. */
    uint64_t cut = find_record(f, len, AX__OP_CHUNK, 3) + 20;
    assert_int_equal(verify_bytes(f, (size_t)cut, &s, &rep), 2);
    assert_non_null(strstr(s.text, "runs past the end of the file"));
    assert_non_null(strstr(s.text, "it was not closed"));
    assert_false(rep.footer);
    assert_int_equal(reader_summary(f, (size_t)cut, &rec), AX_MCAP_SUMMARY_UNCLOSED);
    assert_true(rec);

    /* A record length past the end of the file. */
    uint64_t at = find_record(f, len, AX__OP_MESSAGE_INDEX, 0);
    uint8_t keep[8];
    memcpy(keep, f + at + 1, 8);
    ax__put_u64(f + at + 1, (uint64_t)len);
    assert_true(verify_bytes(f, len, &s, &rep) >= 1);
    char want[160];
    snprintf(want, sizeof want, "MessageIndex@%llu: its length %llu runs past the end",
             (unsigned long long)at, (unsigned long long)len);
    assert_non_null(strstr(s.text, want));
    memcpy(f + at + 1, keep, 8);

    /* A Chunk Index pointing beside its chunk, the summary CRC made to
     * match: a structural problem only. */
    uint64_t ci = 0;
    for (uint64_t pos = ss; pos < footer; pos += AX__MCAP_RECORD_HEADER + ax__get_u64(f + pos + 1))
        if (f[pos] == AX__OP_CHUNK_INDEX) {
            ci = pos;
            break;
        }
    assert_true(ci > 0);
    uint64_t chunk_at = ax__get_u64(f + ci + AX__MCAP_RECORD_HEADER + 16);
    ax__put_u64(f + ci + AX__MCAP_RECORD_HEADER + 16, chunk_at + 1);
    ax__put_u32(f + footer + 25,
                ax_mcap_crc32(ax_mcap_crc32(0, f + ss, (size_t)(footer - ss)), f + footer, 25));
    assert_int_equal(verify_bytes(f, len, &s, &rep), 1);
    snprintf(want, sizeof want, "ChunkIndex@%llu: points to %llu", (unsigned long long)ci,
             (unsigned long long)(chunk_at + 1));
    assert_non_null(strstr(s.text, want));
    ax__put_u64(f + ci + AX__MCAP_RECORD_HEADER + 16, chunk_at);

    /* The footer's summary start elsewhere (CRC 0: not computed). */
    ax__put_u32(f + footer + 25, 0);
    assert_int_equal(verify_bytes(f, len, &s, &rep), 0);
    assert_false(rep.summary_crc);
    ax__put_u64(f + footer + 9, ss + 1);
    assert_true(verify_bytes(f, len, &s, &rep) >= 1);
    assert_non_null(strstr(s.text, "is not where the data section ends"));
    assert_int_equal(reader_summary(f, len, &rec), AX_MCAP_SUMMARY_DAMAGED);
    assert_true(rec);

    /* Not an MCAP file. */
    f[0] = 'X';
    assert_int_equal(verify_bytes(f, len, &s, &rep), 1);
    assert_non_null(strstr(s.text, "not an MCAP file"));
    free(f);
}

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/axon_mcapv_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_whole),
        cmocka_unit_test(t_flipped_bytes),
        cmocka_unit_test(t_structure),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
