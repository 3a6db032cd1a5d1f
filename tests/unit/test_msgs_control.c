/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol's control messages (msgs/control.proto, nanopb): at their
 * maximum sizes they encode within the generated *_size bound and decode
 * back; input that is oversized (a string longer than its max_size) or
 * truncated anywhere fails with nanopb's error message, and ASan checks
 * that nothing is read out of bounds (every input is an exact-size heap
 * copy). Their bytes also agree with protoc, the reference implementation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "ax_test.h"
#include "control.pb.h"
#include "handshake.pb.h"
#include "msgs_util.h"

static axon_ctl_Hello max_hello(void)
{
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    h.protocol_version = UINT32_MAX;
    h.node_id = UINT64_MAX;
    h.incarnation = UINT64_MAX - 1;
    h.domain = UINT32_MAX;
    h.purpose = axon_ctl_Purpose_PURPOSE_TOOL;
    memset(h.node_name, 'n', sizeof h.node_name - 1); /* max_size 64, NUL included */
    h.node_name[sizeof h.node_name - 1] = '\0';
    h.capabilities = UINT32_MAX;
    h.max_frame = UINT32_MAX;
    return h;
}

/* Decode from an exact-size heap copy, so ASan sees any overread. */
static bool decode(const pb_msgdesc_t *fields, const uint8_t *bytes, size_t len, void *msg,
                   const char **err)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    pb_istream_t is = pb_istream_from_buffer(copy, len);
    bool ok = pb_decode(&is, fields, msg);
    *err = PB_GET_ERROR(&is);
    free(copy);
    return ok;
}

static void t_hello_max(void **state)
{
    axon_ctl_Hello h = max_hello();
    uint8_t buf[axon_ctl_Hello_size];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    assert_true(pb_encode(&os, axon_ctl_Hello_fields, &h));
    assert_true(os.bytes_written <= axon_ctl_Hello_size);
    axon_ctl_Hello back = axon_ctl_Hello_init_zero;
    const char *err;
    assert_true(decode(axon_ctl_Hello_fields, buf, os.bytes_written, &back, &err));
    assert_int_equal(back.protocol_version, h.protocol_version);
    assert_true(back.node_id == h.node_id && back.incarnation == h.incarnation);
    assert_int_equal(back.domain, h.domain);
    assert_int_equal(back.purpose, h.purpose);
    assert_string_equal(back.node_name, h.node_name);
    assert_int_equal(back.capabilities, h.capabilities);
    assert_int_equal(back.max_frame, h.max_frame);

    /* One byte short of room: a clear error, not an overflow. */
    uint8_t small[axon_ctl_Hello_size];
    pb_ostream_t os2 = pb_ostream_from_buffer(small, os.bytes_written - 1);
    assert_false(pb_encode(&os2, axon_ctl_Hello_fields, &h));
    assert_string_equal(PB_GET_ERROR(&os2), "stream full");

    /* Every truncation fails or is a shorter valid message (cut at a field
     * boundary); a cut inside the name always fails. */
    size_t failures = 0;
    for (size_t cut = 0; cut < os.bytes_written; cut++) {
        axon_ctl_Hello t = axon_ctl_Hello_init_zero;
        if (!decode(axon_ctl_Hello_fields, buf, cut, &t, &err)) {
            assert_non_null(err);
            failures++;
        }
    }
    assert_true(failures > 60); /* at least every cut inside the 63-byte name */
}

static void t_error_max(void **state)
{
    axon_ctl_Error e = axon_ctl_Error_init_zero;
    e.code = UINT32_MAX;
    memset(e.reason, 'r', sizeof e.reason - 1);
    uint8_t buf[axon_ctl_Error_size];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    assert_true(pb_encode(&os, axon_ctl_Error_fields, &e));
    assert_true(os.bytes_written <= axon_ctl_Error_size);
    axon_ctl_Error back = axon_ctl_Error_init_zero;
    const char *err;
    assert_true(decode(axon_ctl_Error_fields, buf, os.bytes_written, &back, &err));
    assert_int_equal(back.code, e.code);
    assert_string_equal(back.reason, e.reason);
}

/* A string field of @n bytes, hand-encoded: tag, length, bytes. */
static size_t string_field(uint8_t *out, unsigned field, size_t n)
{
    size_t k = 0;
    out[k++] = (uint8_t)(field << 3 | 2);
    size_t v = n;
    do {
        out[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memset(out + k, 'x', n);
    return k + n;
}

static void t_oversized(void **state)
{
    uint8_t buf[1024];
    const char *err;
    /* node_name: 63 bytes fit, 64 do not. */
    size_t len = string_field(buf, 6, 63);
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    assert_true(decode(axon_ctl_Hello_fields, buf, len, &h, &err));
    len = string_field(buf, 6, 64);
    assert_false(decode(axon_ctl_Hello_fields, buf, len, &h, &err));
    assert_string_equal(err, "string overflow");
    len = string_field(buf, 2, 900);
    axon_ctl_Error e = axon_ctl_Error_init_zero;
    assert_false(decode(axon_ctl_Error_fields, buf, len, &e, &err));
    assert_string_equal(err, "string overflow");
    /* A length that points past the end of the input. */
    len = string_field(buf, 6, 10);
    assert_false(decode(axon_ctl_Hello_fields, buf, len - 3, &h, &err));
    assert_non_null(err);
    /* A varint that never ends; an invalid wire type. */
    const uint8_t endless[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_false(decode(axon_ctl_Hello_fields, endless, sizeof endless, &h, &err));
    assert_non_null(err);
    const uint8_t wiretype[] = {0x0f, 0x00};
    assert_false(decode(axon_ctl_Hello_fields, wiretype, sizeof wiretype, &h, &err));
    assert_non_null(err);
    /* Pseudo-random garbage: any outcome but a crash. */
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 120);
        for (size_t i = 0; i < n; i++) {
            x = x * 1664525u + 1013904223u;
            buf[i] = (uint8_t)(x >> 24);
        }
        axon_ctl_Hello g = axon_ctl_Hello_init_zero;
        (void)decode(axon_ctl_Hello_fields, buf, n, &g, &err);
    }
}

static void t_protoc_agrees(void **state)
{
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    h.protocol_version = 1;
    h.node_id = 0x0102030405060708;
    h.domain = 7;
    h.purpose = axon_ctl_Purpose_PURPOSE_DATA;
    strcpy(h.node_name, "planner");
    h.capabilities = axon_ctl_Capability_CAPABILITY_PAYLOAD_CRC;
    h.max_frame = 64u << 20;
    uint8_t buf[axon_ctl_Hello_size];
    pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
    assert_true(pb_encode(&os, axon_ctl_Hello_fields, &h));
    char why[256];
    unsigned char *text;
    size_t tlen;
    const char *args[] = {"--decode=axon.ctl.Hello", "-I" AXT_SOURCE_DIR "/transport/stream",
                          "handshake.proto", NULL};
    int rc = axt_protoc(args, buf, os.bytes_written, &text, &tlen, why, sizeof why);
    if (rc < 0 || rc == 127) {
        print_message("skipped: protoc cannot be run here: %s\n", why);
        skip();
    }
    assert_int_equal(rc, 0);
    assert_string_equal((char *)text, "protocol_version: 1\n"
                                      "node_id: 72623859790382856\n"
                                      "domain: 7\n"
                                      "purpose: PURPOSE_DATA\n"
                                      "node_name: \"planner\"\n"
                                      "capabilities: 1\n"
                                      "max_frame: 67108864\n");
    free(text);

    const char *etext = "code: 24 reason: \"bad frame\"";
    unsigned char *bytes;
    size_t len;
    const char *eargs[] = {"--encode=axon.ctl.Error", "-I" AXT_SOURCE_DIR "/transport/stream",
                           "handshake.proto", NULL};
    assert_int_equal(axt_protoc(eargs, etext, strlen(etext), &bytes, &len, why, sizeof why), 0);
    axon_ctl_Error e = axon_ctl_Error_init_zero;
    const char *err;
    assert_true(decode(axon_ctl_Error_fields, bytes, len, &e, &err));
    assert_int_equal(e.code, 24);
    assert_string_equal(e.reason, "bad frame");
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_hello_max),
        cmocka_unit_test(t_error_max),
        cmocka_unit_test(t_oversized),
        cmocka_unit_test(t_protoc_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
