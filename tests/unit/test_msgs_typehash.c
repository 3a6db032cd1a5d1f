/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 against the FIPS 180-4 test vectors; the type hash's printable
 * forms; that the hash changes with the schema and only with it; and the
 * golden file msgs/type_hashes.txt, which every build checks (natively and
 * under qemu-user), so an x86_64 and an aarch64 build that pass agree on
 * every standard type's hash.
 *
 * Regenerate the golden file after changing a .proto (and only then):
 *   ./build/dev/tests/test_msgs_typehash --print > msgs/type_hashes.txt
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "base/ax__sha256.h"
#include "msgs_util.h"
#include "axtest_types.h"
#include "axon/msgs/sensor.pb-c.h"

static void hexs(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void check_sha(const void *data, size_t len, const char *expect)
{
    uint8_t d[32];
    char h[65];
    ax__sha256(data, len, d);
    hexs(d, 32, h);
    assert_string_equal(h, expect);
}

/* HMAC-SHA256, RFC 4231 test cases 1, 2 and 6 (a key longer than a block). */
static void check_hmac(const void *key, size_t klen, const char *msg, const char *want)
{
    struct ax__hmac h;
    ax__hmac_init(&h, key, klen);
    ax__hmac_update(&h, msg, strlen(msg));
    uint8_t d[32];
    char hex[65];
    ax__hmac_final(&h, d);
    hexs(d, 32, hex);
    assert_string_equal(hex, want);
}

static void t_hmac_vectors(void **state)
{
    (void)state;
    uint8_t k1[20], k6[131];
    memset(k1, 0x0b, sizeof k1);
    memset(k6, 0xaa, sizeof k6);
    check_hmac(k1, sizeof k1, "Hi There",
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac("Jefe", 4, "what do ya want for nothing?",
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    check_hmac(k6, sizeof k6, "Test Using Larger Than Block-Size Key - Hash Key First",
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    assert_true(ax__equal_ct("abcd", "abcd", 4));
    assert_false(ax__equal_ct("abcd", "abce", 4));
}

static void t_sha256_vectors(void **state)
{
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a', fed in pieces of awkward sizes. */
    struct ax__sha256 s;
    ax__sha256_init(&s);
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        n = n < sizeof buf ? n : sizeof buf;
        ax__sha256_update(&s, buf, n);
        left -= n;
        step = step % 997 + 13;
    }
    uint8_t d[32];
    char h[65];
    ax__sha256_final(&s, d);
    hexs(d, 32, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* Lengths around the padding boundary (55, 56, 64 bytes). */
    check_sha("0123456789012345678901234567890123456789012345678901234", 55,
              "f34d5a0f80c0cbf84c8c0b90218c22637abd199965249da736a20143c8c9c9d9");
    check_sha("01234567890123456789012345678901234567890123456789012345", 56,
              "83aa034bda83e458a0dc9cbce0d4e354716aa0ff770ed37ac0ed2b292052e4af");
    check_sha("012345678901234567890123456789012345678901234567890123456789012", 63,
              "074f6e9ac301d5d1b6df6f1dfb8c6f89c187ea945d352ce6a29279a9c630680b");
    check_sha("0123456789012345678901234567890123456789012345678901234567890123", 64,
              "9674d9e078535b7cec43284387a6ee39956188e735a85452b0050b55341cda56");
    check_sha("01234567890123456789012345678901234567890123456789012345678901234", 65,
              "52774b57c10e45040a61c14d35c1c8ebefe880082313aa0a21ebb077734cd067");
}

/* First use of the registry from several threads at once (this test runs
 * first in the process): lookups of standard types work without set-up,
 * concurrent registration is safe (TSan checks the tsan build). */
static void *hammer(void *arg)
{
    intptr_t fails = 0;
    for (int i = 0; i < 200; i++) {
        const ax_type *t;
        fails += ax_type_find("axon.sensor.PointCloud", &t) != 0;
        fails += ax_type_find("axon.std.Header", &t) != 0;
        if ((intptr_t)arg % 2 == 0 && i % 50 == 0)
            fails += ax_types_axtest_register() != 0;
        else
            (void)ax_type_find("axtest.AllTypes", &t); /* may not be there yet */
    }
    return (void *)fails;
}

static void t_first_use_threads(void **state)
{
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *fails;
        assert_int_equal(pthread_join(th[i], &fails), 0);
        assert_int_equal((intptr_t)fails, 0);
    }
    const ax_type *t;
    AX_OK_OR_FAIL(ax_type_find("axtest.AllTypes", &t));
}

static void t_hash_forms(void **state)
{
    const ax_type *t;
    AX_OK_OR_FAIL(ax_type_find("axon.sensor.Imu", &t));
    char full[AX_TYPE_HASH_STRLEN], shrt[AX_TYPE_HASH_SHORTLEN];
    ax_type_hash_format(ax_type_hash(t), full);
    ax_type_hash_short(ax_type_hash(t), shrt);
    assert_int_equal(strlen(full), 69);
    assert_memory_equal(full, "AXH1-", 5);
    assert_int_equal(strlen(shrt), 16);
    assert_memory_equal(full + 5, shrt, 16);
    struct ax_type_hash back;
    AX_OK_OR_FAIL(ax_type_hash_parse(full, &back));
    assert_true(ax_type_hash_equal(&back, ax_type_hash(t)));
    assert_int_equal(ax_type_hash_parse("AXH1-00", &back), AX_EINVAL);
    assert_int_equal(ax_type_hash_parse(shrt, &back), AX_EINVAL);
    full[10] = 'g';
    assert_int_equal(ax_type_hash_parse(full, &back), AX_EINVAL);
    /* The hash of the descriptor is the registered one. */
    struct ax_type_hash h;
    AX_OK_OR_FAIL(ax_type_hash_compute(&axon__sensor__imu__descriptor, &h));
    assert_true(ax_type_hash_equal(&h, ax_type_hash(t)));
}

static void t_schema_text(void **state)
{
    char *text = NULL;
    AX_OK_OR_FAIL(ax_type_schema_text(&axon__std__header__descriptor, &text));
    assert_string_equal(text, "AXH1\n"
                              "root axon.std.Header\n"
                              "message axon.std.Header\n"
                              "field 1 stamp_ns none int64 - 0 -\n"
                              "field 2 frame_id none string - 0 -\n"
                              "field 3 seq none uint64 - 0 -\n");
    free(text);
    /* Referenced types come sorted by name after the root line; enums too. */
    AX_OK_OR_FAIL(ax_type_schema_text(&axon__sensor__point_cloud__descriptor, &text));
    const char *order[] = {"root axon.sensor.PointCloud\nmessage axon.sensor.PointCloud\n",
                           "\nmessage axon.sensor.PointField\n",
                           "\nenum axon.sensor.PointField.DataType\nvalue 0 DATATYPE_UNSPECIFIED\n"
                           "value 1 INT8\n",
                           "\nmessage axon.std.Header\n"};
    const char *at = text;
    for (size_t i = 0; i < 4; i++) {
        const char *p = strstr(at, order[i]);
        if (!p)
            fail_msg("schema text lacks (in order) %s:\n%s", order[i], text);
        at = p + 1;
    }
    assert_non_null(strstr(text, "field 4 fields repeated message axon.sensor.PointField 0 -\n"));
    free(text);
}

static void hash_of_fds(const char *variant, struct ax_type_hash *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.fds", AXT_DATA_OUT, variant);
    size_t len;
    unsigned char *fds = axt_read_file(path, &len);
    assert_non_null(fds);
    ax_type *t;
    AX_OK_OR_FAIL(ax_type_from_fds(fds, len, "hv.Sample", &t));
    *out = *ax_type_hash(t);
    ax_type_free(t);
    free(fds);
}

static void t_hash_follows_schema(void **state)
{
    struct ax_type_hash v1, same, h;
    hash_of_fds("v1", &v1);
    hash_of_fds("v1_reordered", &same);
    assert_true(ax_type_hash_equal(&v1, &same)); /* comments, order: no change */
    static const char *changed[] = {"v2_added", "v3_renamed", "v4_retyped", "v5_renumbered",
                                    "v6_nested"};
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        hash_of_fds(changed[i], &h);
        if (ax_type_hash_equal(&v1, &h))
            fail_msg("%s has the same hash as v1", changed[i]);
    }
}

static void t_register_conflict(void **state)
{
    /* The test set registers; again is a no-op. */
    AX_OK_OR_FAIL(ax_types_axtest_register());
    AX_OK_OR_FAIL(ax_types_axtest_register());
    const ax_type *t;
    AX_OK_OR_FAIL(ax_type_find("axtest.AllTypes", &t));
    const uint8_t *fds;
    size_t len;
    AX_OK_OR_FAIL(ax_type_fds(t, &fds, &len));
    assert_true(len > 0);
    /* A different schema under a registered name is refused. */
    ProtobufCMessageDescriptor fake = axon__std__header__descriptor;
    fake.name = "axtest.AllTypes";
    assert_int_equal(ax_type_register(&fake, NULL, 0), AX_EEXIST);
    assert_int_equal(ax_type_find("no.such.Type", &t), AX_ENOTFOUND);
    assert_int_equal(ax_type_register(NULL, NULL, 0), AX_EINVAL);
}

/* "name AXH1-..." for every standard (axon.*) type, sorted by name. */
static int line_of(const ax_type *t, void *user)
{
    if (strncmp(ax_type_name(t), "axon.", 5) != 0)
        return 0;
    char h[AX_TYPE_HASH_STRLEN];
    ax_type_hash_format(ax_type_hash(t), h);
    return ax_strbuf_printf(user, "%s %s\n", ax_type_name(t), h);
}

static void t_golden_hashes(void **state)
{
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    AX_OK_OR_FAIL(ax_type_foreach(line_of, &sb));
    size_t len;
    unsigned char *golden = axt_read_file(AXT_SOURCE_DIR "/msgs/type_hashes.txt", &len);
    if (!golden)
        fail_msg("cannot read msgs/type_hashes.txt");
    /* Skip the comment lines at the top. */
    size_t off = 0;
    while (off < len && golden[off] == '#') {
        while (off < len && golden[off] != '\n')
            off++;
        off++;
    }
    if (len - off != sb.len || memcmp(golden + off, sb.data, sb.len) != 0)
        fail_msg("type hashes differ from msgs/type_hashes.txt; this build computes:\n%s\n"
                 "(if a .proto changed on purpose, regenerate the file: see its header)",
                 sb.data);
    free(golden);
    ax_strbuf_fini(&sb);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print") == 0) {
        struct ax_strbuf sb;
        ax_strbuf_init(&sb);
        if (ax_type_foreach(line_of, &sb) != 0)
            return 1;
        printf("# SPDX-License-Identifier: Apache-2.0\n"
               "# Type hashes of axon's standard messages (docs/messages.md).\n"
               "# Checked by tests/unit/test_msgs_typehash.c in every build, native and\n"
               "# cross. Changes only when a .proto in msgs/proto changes; then regenerate:\n"
               "#   ./build/dev/tests/test_msgs_typehash --print > msgs/type_hashes.txt\n%s",
               sb.data);
        ax_strbuf_fini(&sb);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_first_use_threads), /* first: nothing registered yet */
        cmocka_unit_test(t_sha256_vectors),      cmocka_unit_test(t_hmac_vectors),
        cmocka_unit_test(t_hash_forms),          cmocka_unit_test(t_schema_text),
        cmocka_unit_test(t_hash_follows_schema), cmocka_unit_test(t_register_conflict),
        cmocka_unit_test(t_golden_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
