/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The printer's exact output for small messages (YAML, JSON, pretty JSON),
 * its bounds (bytes, list elements), path selection, enums, floats, NaN and
 * infinities; and the parser's leniency (JSON names, enums by number, hex
 * bytes, quoted numbers) and its errors, which must name the field and the
 * position.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "axtest_types.h"
#include "axtest/demo.pb-c.h"
#include "axon/msgs/diagnostics.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"
#include "axon/msgs/std.pb-c.h"

static char *print(const ProtobufCMessage *m, const struct ax_print_options *o)
{
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    AX_OK_OR_FAIL(ax_msg_print(m, o, &sb));
    return ax_strbuf_release(&sb);
}

static char *print_fmt(const ProtobufCMessage *m, enum ax_text_format f)
{
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.format = f;
    return print(m, &o);
}

static void t_print_forms(void **state)
{
    Axon__Std__Header h = AXON__STD__HEADER__INIT;
    h.stamp_ns = 1700000000123456789;
    h.frame_id = "base_link";
    h.seq = 7;
    Axon__Diagnostics__DiagnosticStatus st = AXON__DIAGNOSTICS__DIAGNOSTIC_STATUS__INIT;
    Axon__Std__KeyValue kv1 = AXON__STD__KEY_VALUE__INIT, kv2 = AXON__STD__KEY_VALUE__INIT;
    kv1.key = "temp";
    kv1.value = "41.5";
    kv2.key = "fan";
    kv2.value = "on";
    Axon__Std__KeyValue *kvs[] = {&kv1, &kv2};
    st.level = AXON__DIAGNOSTICS__DIAGNOSTIC_STATUS__LEVEL__WARN;
    st.name = "lidar";
    st.n_values = 2;
    st.values = kvs;
    Axon__Diagnostics__DiagnosticArray arr = AXON__DIAGNOSTICS__DIAGNOSTIC_ARRAY__INIT;
    Axon__Diagnostics__DiagnosticStatus *sts[] = {&st};
    arr.header = &h;
    arr.n_status = 1;
    arr.status = sts;

    char *y = print_fmt(&arr.base, AX_TEXT_YAML);
    assert_string_equal(y, "header:\n"
                           "  stamp_ns: 1700000000123456789\n"
                           "  frame_id: \"base_link\"\n"
                           "  seq: 7\n"
                           "status:\n"
                           "  - level: WARN\n"
                           "    name: \"lidar\"\n"
                           "    message: \"\"\n"
                           "    hardware_id: \"\"\n"
                           "    values:\n"
                           "      - key: \"temp\"\n"
                           "        value: \"41.5\"\n"
                           "      - key: \"fan\"\n"
                           "        value: \"on\"\n");
    free(y);
    char *j = print_fmt(&arr.base, AX_TEXT_JSON);
    assert_string_equal(j, "{\"header\":{\"stamp_ns\":1700000000123456789,\"frame_id\":"
                           "\"base_link\",\"seq\":7},\"status\":[{\"level\":\"WARN\",\"name\":"
                           "\"lidar\",\"message\":\"\",\"hardware_id\":\"\",\"values\":[{\"key\":"
                           "\"temp\",\"value\":\"41.5\"},{\"key\":\"fan\",\"value\":\"on\"}]}]}\n");
    free(j);
    char *p = print_fmt(&h.base, AX_TEXT_JSON_PRETTY);
    assert_string_equal(p, "{\n  \"stamp_ns\": 1700000000123456789,\n  \"frame_id\": "
                           "\"base_link\",\n  \"seq\": 7\n}\n");
    free(p);

    /* Unset sub-message, empty list. */
    Axon__Diagnostics__DiagnosticArray empty = AXON__DIAGNOSTICS__DIAGNOSTIC_ARRAY__INIT;
    y = print_fmt(&empty.base, AX_TEXT_YAML);
    assert_string_equal(y, "header: null\nstatus: []\n");
    free(y);
    j = print_fmt(&empty.base, AX_TEXT_JSON);
    assert_string_equal(j, "{\"header\":null,\"status\":[]}\n");
    free(j);
}

static void t_print_bounds_and_path(void **state)
{
    Axon__Sensor__Image img = AXON__SENSOR__IMAGE__INIT;
    uint8_t px[100];
    for (int i = 0; i < 100; i++)
        px[i] = (uint8_t)i;
    img.data.data = px;
    img.data.len = sizeof px;
    img.height = 10;
    img.width = 10;
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.path = "data";
    char *s = print(&img.base, &o);
    /* base64 of bytes 0..15, then the size. */
    assert_string_equal(s, "\"AAECAwQFBgcICQoLDA0ODw==... (100 bytes)\"\n");
    free(s);
    o.max_bytes = 3;
    s = print(&img.base, &o);
    assert_string_equal(s, "\"AAEC... (100 bytes)\"\n");
    free(s);
    o.path = "width";
    s = print(&img.base, &o);
    assert_string_equal(s, "10\n");
    free(s);

    /* Paths through sub-messages, list elements and unset messages. */
    o.path = "header.frame_id";
    s = print(&img.base, &o);
    assert_string_equal(s, "null\n"); /* header unset */
    free(s);
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    o.path = "header.no_such_field";
    assert_int_equal(ax_msg_print(&img.base, &o, &sb), AX_ENOTFOUND);
    o.path = "width.x";
    assert_int_equal(ax_msg_print(&img.base, &o, &sb), AX_ENOTFOUND);
    o.path = "nope";
    assert_int_equal(ax_msg_print(&img.base, &o, &sb), AX_ENOTFOUND);
    ax_strbuf_fini(&sb);

    Axon__Sensor__LaserScan scan = AXON__SENSOR__LASER_SCAN__INIT;
    float ranges[5] = {1.5f, NAN, INFINITY, -INFINITY, 0.1f};
    scan.n_ranges = 5;
    scan.ranges = ranges;
    ax_print_options_init(&o);
    o.path = "ranges";
    s = print(&scan.base, &o);
    assert_string_equal(s, "- 1.5\n- .nan\n- .inf\n- -.inf\n- 0.1\n");
    free(s);
    o.path = "ranges.4";
    s = print(&scan.base, &o);
    assert_string_equal(s, "0.1\n");
    free(s);
    o.path = "ranges.5";
    ax_strbuf_init(&sb);
    assert_int_equal(ax_msg_print(&scan.base, &o, &sb), AX_ENOTFOUND);
    ax_strbuf_fini(&sb);
    o.path = "ranges";
    o.format = AX_TEXT_JSON;
    o.max_elems = 2;
    s = print(&scan.base, &o);
    assert_string_equal(s, "[1.5,\"NaN\",\"... (5 elements)\"]\n");
    free(s);

    /* NaN and infinities read back, in both notations. */
    o.max_elems = SIZE_MAX;
    o.path = NULL;
    for (int f = 0; f < 2; f++) {
        o.format = f ? AX_TEXT_JSON : AX_TEXT_YAML;
        s = print(&scan.base, &o);
        ProtobufCMessage *back;
        AX_OK_OR_FAIL(
            ax_msg_parse(&axon__sensor__laser_scan__descriptor, s, strlen(s), &back, NULL));
        Axon__Sensor__LaserScan *b = (Axon__Sensor__LaserScan *)back;
        assert_int_equal(b->n_ranges, 5);
        assert_true(b->ranges[0] == 1.5f && isnan(b->ranges[1]) && b->ranges[2] == INFINITY &&
                    b->ranges[3] == -INFINITY && b->ranges[4] == 0.1f);
        protobuf_c_message_free_unpacked(back, NULL);
        free(s);
    }
}

static void t_print_enums_oneof(void **state)
{
    Axtest__AllTypes m = AXTEST__ALL_TYPES__INIT;
    m.f_color = 99; /* no name */
    m.choice_case = AXTEST__ALL_TYPES__CHOICE_C_TEXT;
    m.c_text = "hi";
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.path = "f_color";
    char *s = print(&m.base, &o);
    assert_string_equal(s, "99\n");
    free(s);
    m.f_color = AXTEST__ALL_TYPES__COLOR__BLUE;
    s = print(&m.base, &o);
    assert_string_equal(s, "BLUE\n");
    free(s);
    o.path = NULL;
    o.format = AX_TEXT_JSON;
    s = print(&m.base, &o);
    assert_non_null(strstr(s, "\"f_color\":\"BLUE\""));
    assert_non_null(strstr(s, "\"c_text\":\"hi\""));
    assert_null(strstr(s, "c_int")); /* unset oneof members are left out */
    free(s);
}

/* Whether @s is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF): what a strict JSON reader requires. */
static bool utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned char b = *s, lo = 0x80, hi = 0xBF;
        size_t n;
        if (b < 0x80)
            n = 1;
        else if (b >= 0xC2 && b <= 0xDF)
            n = 2;
        else if (b >= 0xE0 && b <= 0xEF)
            n = 3, lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        else if (b >= 0xF0 && b <= 0xF4)
            n = 4, lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        else
            return false;
        for (size_t i = 1; i < n; i++)
            if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xBF))
                return false;
        s += n;
    }
    return true;
}

/* Strings are bytes on the wire, not checked to be UTF-8: JSON and pretty
 * JSON stay valid whatever they hold. Each byte that does not start a
 * well-formed sequence prints as \ufffd (a stray 0xff, a cut sequence, a
 * surrogate, an overlong form, a code point above U+10FFFF); controls,
 * DEL, C1 and the line separator are escaped; valid UTF-8 passes as is. */
static void t_print_invalid_utf8(void **state)
{
    Axon__Std__KeyValue kv = AXON__STD__KEY_VALUE__INIT;
    kv.key = "caf\xc3\xa9 \xff|\xe2\x82|\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80";
    kv.value = "tab\there\x01\x7f\xc2\x85 \xe2\x80\xa8";
    static const char key[] = "\"caf\xc3\xa9 \\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                              "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\"";
    static const char value[] = "\"tab\\there\\u0001\\u007f\\u0085 \\u2028\"";
    char want[512];
    char *j = print_fmt(&kv.base, AX_TEXT_JSON);
    snprintf(want, sizeof want, "{\"key\":%s,\"value\":%s}\n", key, value);
    assert_string_equal(j, want);
    assert_true(utf8_valid(j));
    free(j);
    j = print_fmt(&kv.base, AX_TEXT_JSON_PRETTY);
    snprintf(want, sizeof want, "{\n  \"key\": %s,\n  \"value\": %s\n}\n", key, value);
    assert_string_equal(j, want);
    assert_true(utf8_valid(j));
    free(j);
    char *y = print_fmt(&kv.base, AX_TEXT_YAML);
    snprintf(want, sizeof want, "key: %s\nvalue: %s\n", key, value);
    assert_string_equal(y, want);
    free(y);
}

static ProtobufCMessage *parse_ok(const ProtobufCMessageDescriptor *d, const char *text)
{
    ProtobufCMessage *m = NULL;
    struct ax_parse_error err;
    int rc = ax_msg_parse(d, text, strlen(text), &m, &err);
    if (rc)
        fail_msg("parse of <%s> failed: %s (%s)", text, err.message, ax_err_name(rc));
    return m;
}

static void parse_bad(const ProtobufCMessageDescriptor *d, const char *text, const char *path,
                      const char *message)
{
    ProtobufCMessage *m = (ProtobufCMessage *)1;
    struct ax_parse_error err;
    int rc = ax_msg_parse(d, text, strlen(text), &m, &err);
    if (rc != AX_EPROTO)
        fail_msg("<%s>: expected AX_EPROTO, got %s", text, ax_err_name(rc));
    assert_null(m);
    assert_string_equal(err.path, path);
    assert_string_equal(err.message, message);
}

static void t_parse_lenient(void **state)
{
    /* JSON names, enum by number, quoted 64-bit numbers, hex bytes, omitted
     * fields at their defaults, null. */
    ProtobufCMessage *m = parse_ok(&axtest__all_types__descriptor,
                                   "{\"fInt64\": \"-9223372036854775808\", \"f_uint64\": "
                                   "18446744073709551615, \"fColor\": 2, \"f_bytes\": "
                                   "\"hex:00ff10\", \"r_color\": [RED, -3, 7], "
                                   "\"f_inner\": null, \"cInner\": {\"id\": 0x10}}");
    Axtest__AllTypes *a = (Axtest__AllTypes *)m;
    assert_true(a->f_int64 == INT64_MIN);
    assert_true(a->f_uint64 == UINT64_MAX);
    assert_int_equal(a->f_color, AXTEST__ALL_TYPES__COLOR__GREEN);
    assert_int_equal(a->f_bytes.len, 3);
    assert_memory_equal(a->f_bytes.data, "\x00\xff\x10", 3);
    assert_int_equal(a->n_r_color, 3);
    assert_int_equal(a->r_color[1], AXTEST__ALL_TYPES__COLOR__BLUE);
    assert_int_equal(a->r_color[2], 7);
    assert_null(a->f_inner);
    assert_int_equal(a->choice_case, AXTEST__ALL_TYPES__CHOICE_C_INNER);
    assert_int_equal(a->c_inner->id, 16);
    assert_string_equal(a->f_string, "");
    protobuf_c_message_free_unpacked(m, NULL);

    /* YAML, base64 without padding, URL-safe alphabet. */
    m = parse_ok(&axtest__all_types__descriptor, "f_bytes: _-8\nr_bytes: [AAE, \"AAE=\"]\n"
                                                 "f_bool: True\n# comment\n");
    a = (Axtest__AllTypes *)m;
    assert_int_equal(a->f_bytes.len, 2);
    assert_memory_equal(a->f_bytes.data, "\xff\xef", 2);
    assert_int_equal(a->n_r_bytes, 2);
    assert_int_equal(a->r_bytes[1].len, 2);
    assert_true(a->f_bool);
    protobuf_c_message_free_unpacked(m, NULL);

    /* Empty text: an empty message. */
    m = parse_ok(&axon__std__header__descriptor, "");
    assert_int_equal(((Axon__Std__Header *)m)->stamp_ns, 0);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void t_parse_errors(void **state)
{
    const ProtobufCMessageDescriptor *img = &axon__sensor__image__descriptor;
    parse_bad(img, "{\"header\": {\"stamp_ns\": \"soon\"}}", "header.stamp_ns",
              "header.stamp_ns: expected an integer (int64 range) at line 1 column 25");
    parse_bad(img, "header:\n  stamp_ns: 1\n  frame: x\n", "header.frame",
              "header.frame: unknown field \"frame\" in axon.std.Header at line 3 column 3");
    parse_bad(img, "width: -1\n", "width",
              "width: expected a non-negative integer at line 1 column 8");
    parse_bad(img, "width: 4294967296\n", "width",
              "width: integer out of range for uint32 at line 1 column 8");
    parse_bad(img, "width: 1\nwidth: 2\n", "width", "width: field given twice at line 2 column 1");
    parse_bad(img, "data: \"AAEC... (100 bytes)\"\n", "data",
              "data: bytes value was truncated by the printer (print with max_bytes SIZE_MAX to "
              "read it back) at line 1 column 7");
    parse_bad(img, "data: \"!!\"\n", "data",
              "data: expected base64 (or hex:...) at line 1 column 7");
    parse_bad(img, "header: [1, 2]\n", "header",
              "header: expected a mapping (message axon.std.Header) at line 1 column 9");
    parse_bad(img, "[1, 2]\n", "",
              "expected a mapping (message axon.sensor.Image) at line 1 column 1");
    parse_bad(
        &axon__sensor__point_cloud__descriptor,
        "fields:\n  - name: x\n  - name: y\n    datatype: FLOAT99\n", "fields.1.datatype",
        "fields.1.datatype: unknown value \"FLOAT99\" of enum axon.sensor.PointField.DataType "
        "at line 4 column 15");
    parse_bad(&axtest__all_types__descriptor, "c_int: 1\nc_text: x\n", "c_text",
              "c_text: another member of its oneof is already set at line 2 column 1");
    parse_bad(&axtest__all_types__descriptor, "a: &x {id: 1}\nf_inner: *x\n", "a",
              "a: unknown field \"a\" in axtest.AllTypes at line 1 column 1");
    parse_bad(&axtest__all_types__descriptor, "f_inner: &x {id: 1}\nc_inner: *x\n", "c_inner",
              "c_inner: YAML aliases are not supported at line 1 column 10");
    parse_bad(&axtest__all_types__descriptor, "f_float: 1e39\n", "f_float",
              "f_float: number out of range for float at line 1 column 10");
    parse_bad(&axtest__all_types__descriptor, "f_string: \"a\\0b\"\n", "f_string",
              "f_string: string contains a NUL character at line 1 column 11");

    /* Syntax errors carry the position too. */
    ProtobufCMessage *m = NULL;
    struct ax_parse_error err;
    const char *bad = "header: {stamp_ns: 1\n";
    assert_int_equal(ax_msg_parse(img, bad, strlen(bad), &m, &err), AX_EPROTO);
    assert_int_equal(err.line, 2);
    assert_non_null(strstr(err.message, "at line 2 column"));
    bad = "a: 1\n---\nb: 2\n";
    assert_int_equal(ax_msg_parse(&axon__std__key_value__descriptor, bad, strlen(bad), &m, &err),
                     AX_EPROTO);
    /* Nesting bound (a recursive type). */
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    for (int i = 0; i < 100; i++)
        AX_OK_OR_FAIL(ax_strbuf_printf(&sb, "{\"children\": ["));
    for (int i = 0; i < 100; i++)
        AX_OK_OR_FAIL(ax_strbuf_printf(&sb, "]}"));
    assert_int_equal(ax_msg_parse(&axtest__all_types__descriptor, sb.data, sb.len, &m, &err),
                     AX_EPROTO);
    assert_non_null(strstr(err.message, "nested more than 64 deep"));
    ax_strbuf_fini(&sb);
    assert_int_equal(ax_msg_parse(img, "", (size_t)65 << 20, &m, &err), AX_EMSGSIZE);
    assert_int_equal(ax_msg_parse(NULL, "", 0, &m, &err), AX_EINVAL);
}

static void t_strbuf(void **state)
{
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    assert_null(sb.data);
    char *s = ax_strbuf_release(&sb);
    assert_string_equal(s, "");
    free(s);
    sb.max = 10;
    AX_OK_OR_FAIL(ax_strbuf_printf(&sb, "%d", 12345));
    assert_int_equal(ax_strbuf_append(&sb, "123456", 6), AX_EMSGSIZE);
    assert_string_equal(sb.data, "12345");
    AX_OK_OR_FAIL(ax_strbuf_append(&sb, "12345", 5));
    ax_strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    sb.max = SIZE_MAX / 2;
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[299] = '\0';
    AX_OK_OR_FAIL(ax_strbuf_printf(&sb, "<%s>", big));
    assert_int_equal(sb.len, 301);
    ax_strbuf_fini(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_print_forms),
        cmocka_unit_test(t_print_bounds_and_path),
        cmocka_unit_test(t_print_enums_oneof),
        cmocka_unit_test(t_print_invalid_utf8),
        cmocka_unit_test(t_parse_lenient),
        cmocka_unit_test(t_parse_errors),
        cmocka_unit_test(t_strbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
