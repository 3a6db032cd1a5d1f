/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CLI cases (run by test_cli.c's main): `axon type list|show`, and `axon
 * bag verify` with the recovery notices of `bag info` and `play`, on a
 * recording made by `axon record` and copies of it with one flipped byte.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ax_test.h"
#include "cli_fixture.h"
#include "test_cli_cases.h"

/* ---- type list | show ---- */

void t_type(void **state)
{
    (void)state;
    struct proc t;
    /* clitest.Secret is compiled into the talker only. */
    talker(&t, "typer", "--pub", "/t/secret=clitest.Secret@20", "--pub", "/t/raw=raw:demo.Bytes@20",
           NULL);
    struct cli_proc p;

    AXON(&p, 30000, "type", "list");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "TYPE");
    char line[512];
    assert_true(cli_proc_last_line(&p, 0, "clitest.Secret ", line, sizeof line));
    assert_non_null(strstr(line, " live "));
    assert_non_null(strstr(line, "typer"));
    assert_true(cli_proc_last_line(&p, 0, "axon.sensor.Imu ", line, sizeof line));
    assert_non_null(strstr(line, " compiled "));
    cli_proc_free(&p);

    AXON(&p, 30000, "type", "list", "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"name\":\"clitest.Secret\",\"hash\":\"AXH1-");
    EXPECT_OUT(&p, 0, "\"compiled\":false,\"live\":true,\"live_nodes\":\"typer\"");
    cli_proc_free(&p);

    /* --local: the registry only, no discovery. */
    AXON_BARE(&p, 20000, "type", "list", "--local");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "axon.std.Header ");
    EXPECT_NOT_OUT(&p, 0, "clitest.Secret");
    cli_proc_free(&p);

    /* Compiled in: no node needed. */
    AXON_BARE(&p, 20000, "type", "show", "axon.std.Header");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "// axon.std.Header AXH1-");
    EXPECT_OUT(&p, 0, "// compiled in\n");
    EXPECT_OUT(&p, 0, "// file: axon/msgs/std.proto\nsyntax = \"proto3\";\npackage axon.std;\n");
    EXPECT_OUT(&p, 0, "message Header {\n  int64 stamp_ns = 1;\n");
    cli_proc_free(&p);

    /* Fetched from the node that publishes it, as echo does. */
    AXON(&p, 30000, "type", "show", "clitest.Secret");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "// schema from node 'typer'\n");
    EXPECT_OUT(&p, 0, "// file: clitest/secret.proto\n");
    EXPECT_OUT(&p, 0, "import \"axon/msgs/std.proto\";\n");
    EXPECT_OUT(&p, 0, "message Secret {\n  axon.std.Header header = 1;\n");
    EXPECT_OUT(&p, 0, "  Mood mood = 5;\n");
    EXPECT_OUT(&p, 0, "enum Mood {\n  MOOD_UNKNOWN = 0;\n");
    EXPECT_OUT(&p, 0, "message Inner {\n");
    EXPECT_OUT(&p, 0, "// file: axon/msgs/std.proto\n");
    cli_proc_free(&p);

    AXON(&p, 30000, "type", "show", "clitest.Secret", "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"source\":\"schema from node 'typer'\",\"proto\":\"// file: clitest/");
    cli_proc_free(&p);

    AXON(&p, 30000, "type", "show", "clitest.Nope");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "unknown type 'clitest.Nope'");
    cli_proc_free(&p);

    AXON_BARE(&p, 20000, "type", "show", "clitest.Secret", "--local");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "unknown type 'clitest.Secret': it is not compiled into axon");
    cli_proc_free(&p);

    AXON(&p, 30000, "type", "show", "demo.Bytes");
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "type 'demo.Bytes': the nodes that use it publish it raw");
    cli_proc_free(&p);

    proc_stop(&t, 10000);
}

/* ---- bag verify, and the recovery notices ---- */

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void store(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The offset and content length of the @nth record with opcode @op of the
 * data section (opcodes: MCAP specification). */
static uint64_t record_at(const uint8_t *b, size_t len, uint8_t op, int nth, uint64_t *clen)
{
    for (uint64_t pos = 8; pos + 9 <= len && b[pos] != 0x0f; pos += 9 + le64(b + pos + 1))
        if (b[pos] == op && nth-- == 0) {
            *clen = le64(b + pos + 1);
            return pos;
        }
    fail_msg("no record 0x%02x in the recording", op);
    return 0;
}

/* `axon bag verify` on @b written to a copy; returns its output. */
static void verify_copy(struct cli_proc *p, const uint8_t *b, size_t len, int want_exit)
{
    char *copy = path_in_work("copy.mcap");
    store(copy, b, len);
    AXON_BARE(p, 30000, "bag", "verify", copy);
    printf("%s", p->buf[0] ? p->buf[0] : "");
    EXPECT_EXIT(p, want_exit);
}

void t_bag_verify(void **state)
{
    (void)state;
    char file[1024];
    snprintf(file, sizeof file, "%s", path_in_work("v.mcap"));
    unlink(file);
    struct cli_proc rec;
    /* Uncompressed, small chunks: a flipped payload byte reaches its
     * chunk's CRC as it is. */
    axon_start(&rec, "record", "-o", file, "--all", "--json", "--compression", "none",
               "--chunk-size", "4096", NULL);
    if (!cli_proc_wait_line(&rec, 0, "\"channels\":0", ms(30000), NULL, 0)) {
        dump(&rec);
        fail_msg("the recorder did not start");
    }
    struct proc src;
    talker(&src, "source", "--wait-subs", "1", "--pub", "/v/imu=axon.sensor.Imu@200x200", "--pub",
           "/v/secret=clitest.Secret@100x100", NULL);
    for (int i = 0; i < 2; i++)
        if (!proc_wait_line(&src, "DONE", NULL, ms(60000), NULL, 0))
            fail_msg("the source did not publish everything");
    if (!cli_proc_wait_line(&rec, 0, "\"received\":300", ms(20000), NULL, 0)) {
        dump(&rec);
        fail_msg("the recorder did not receive 300 messages");
    }
    cli_proc_signal(&rec, SIGINT);
    cli_proc_finish(&rec, ms(20000));
    EXPECT_EXIT(&rec, 0);
    cli_proc_free(&rec);
    proc_stop(&src, 10000);

    /* Intact. */
    struct cli_proc p;
    AXON_BARE(&p, 30000, "bag", "verify", file);
    printf("%s", p.buf[0]);
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "  data CRC:      checked (Data End record)\n");
    EXPECT_OUT(&p, 0, "  summary CRC:   checked (footer)\n");
    EXPECT_OUT(&p, 0, "OK: no problems\n");
    cli_proc_free(&p);
    AXON_BARE(&p, 30000, "bag", "verify", file, "--json");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "\"problems\":[]");
    EXPECT_OUT(&p, 0, "\"messages\":300,");
    EXPECT_OUT(&p, 0, "\"data_crc_checked\":true");
    EXPECT_OUT(&p, 0, "\"summary_crc_checked\":true");
    EXPECT_OUT(&p, 0, "\"ok\":true");
    double chunks = 0, crcs = -1;
    assert_true(json_num(p.buf[0], "chunks", &chunks));
    assert_true(json_num(p.buf[0], "chunk_crcs_checked", &crcs));
    assert_true(chunks >= 3);
    assert_true(crcs == chunks);
    cli_proc_free(&p);

    size_t len;
    uint8_t *b = load(file, &len);
    char want[160];
    uint64_t clen;

    /* (a) a byte of a chunk's payload: its CRC, and the data section's. */
    uint64_t at = record_at(b, len, 0x06, 1, &clen);
    b[at + 9 + clen - 20] ^= 0x20;
    verify_copy(&p, b, len, 1);
    snprintf(want, sizeof want, "  Chunk record at %llu: chunk CRC mismatch: the chunk says ",
             (unsigned long long)at);
    EXPECT_OUT(&p, 0, want);
    EXPECT_OUT(&p, 0, "data section CRC mismatch");
    EXPECT_OUT(&p, 0, "FAILED: 2 problems");
    cli_proc_free(&p);
    b[at + 9 + clen - 20] ^= 0x20;

    /* (b) the recording's Metadata record, and a Message Index: bag info
     * reads the file from its summary and sees nothing; verify's data
     * section CRC catches it. */
    static const uint8_t ops[] = {0x0c, 0x07};
    for (int k = 0; k < 2; k++) {
        at = record_at(b, len, ops[k], 0, &clen);
        /* A metadata value's last byte; a message index's first log time. */
        uint64_t byte = at + 9 + (k == 0 ? clen - 1 : 6);
        b[byte] ^= 0x01;
        verify_copy(&p, b, len, 1);
        EXPECT_OUT(&p, 0, "  DataEnd record at ");
        EXPECT_OUT(&p, 0, ": data section CRC mismatch: the Data End record says ");
        EXPECT_OUT(&p, 0, "FAILED: 1 problem");
        cli_proc_free(&p);
        AXON_BARE(&p, 30000, "bag", "info", path_in_work("copy.mcap"));
        EXPECT_EXIT(&p, 0);
        EXPECT_OUT(&p, 0, "Recovered:    no (complete file, read from its summary)");
        cli_proc_free(&p);
        b[byte] ^= 0x01;
    }

    /* (c) the summary: the summary CRC; bag info and play say so, and not
     * that the file was not closed. */
    uint64_t footer = len - 8 - 29;
    uint64_t ss = le64(b + footer + 9);
    b[ss + (footer - ss) / 3] ^= 0x08;
    verify_copy(&p, b, len, 1);
    snprintf(want, sizeof want, "  Footer record at %llu: summary CRC mismatch",
             (unsigned long long)footer);
    EXPECT_OUT(&p, 0, want);
    EXPECT_NOT_OUT(&p, 0, "data section CRC");
    cli_proc_free(&p);
    AXON_BARE(&p, 30000, "bag", "info", path_in_work("copy.mcap"));
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Recovered:    YES: summary CRC mismatch; readable up to byte");
    EXPECT_NOT_OUT(&p, 0, "not closed");
    EXPECT_OUT(&p, 0, "Messages:     300\n");
    cli_proc_free(&p);
    AXON_BARE(&p, 30000, "bag", "info", path_in_work("copy.mcap"), "--json");
    EXPECT_OUT(&p, 0, "\"recovered\":true,\"recovery_cause\":\"summary_crc\"");
    cli_proc_free(&p);
    AXON(&p, 60000, "play", path_in_work("copy.mcap"), "--rate", "20");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 1, "copy.mcap: summary CRC mismatch; playing what can be read (300 messages");
    EXPECT_NOT_OUT(&p, 1, "not closed");
    cli_proc_free(&p);
    b[ss + (footer - ss) / 3] ^= 0x08;

    /* A file that was not closed (cut in its second chunk): the old notice. */
    uint64_t cut = record_at(b, len, 0x06, 1, &clen) + clen / 2;
    verify_copy(&p, b, (size_t)cut, 1);
    EXPECT_OUT(&p, 0, "it was not closed");
    cli_proc_free(&p);
    AXON_BARE(&p, 30000, "bag", "info", path_in_work("copy.mcap"));
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 0, "Recovered:    YES: the file was not closed properly; readable up to byte");
    EXPECT_NOT_OUT(&p, 0, "summary CRC");
    cli_proc_free(&p);
    AXON(&p, 60000, "play", path_in_work("copy.mcap"), "--rate", "20");
    EXPECT_EXIT(&p, 0);
    EXPECT_OUT(&p, 1, "copy.mcap: the file was not closed properly; playing what can be read");
    cli_proc_free(&p);

    /* A file that is not there. */
    AXON_BARE(&p, 20000, "bag", "verify", path_in_work("nope.mcap"));
    EXPECT_EXIT(&p, 1);
    EXPECT_OUT(&p, 1, "cannot verify");
    cli_proc_free(&p);
    free(b);
}
