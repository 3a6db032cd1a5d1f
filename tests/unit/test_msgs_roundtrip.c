/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every standard message (and the test types covering every field kind):
 * pack -> unpack gives the same values; the printer's text (YAML, JSON,
 * pretty JSON) parses back to the same values; and the dynamic type built
 * from the embedded FileDescriptorSet has the compiled type's hash, packs
 * the same bytes and prints the same text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "msgs_util.h"
#include "axtest_types.h"

struct walk {
    size_t n;
    const ax_type *types[256];
};

static int collect(const ax_type *t, void *user)
{
    struct walk *w = user;
    if (w->n < 256)
        w->types[w->n++] = t;
    return 0;
}

static void all_types(struct walk *w)
{
    AX_OK_OR_FAIL(ax_types_axtest_register());
    w->n = 0;
    AX_OK_OR_FAIL(ax_type_foreach(collect, w));
    assert_true(w->n >= 34); /* 30 standard types + 4 test types */
}

static void t_pack_unpack(void **state)
{
    struct walk w;
    all_types(&w);
    for (size_t i = 0; i < w.n; i++) {
        const ProtobufCMessageDescriptor *d = ax_type_descriptor(w.types[i]);
        for (unsigned seed = 1; seed <= 2; seed++) {
            ProtobufCMessage *m = axt_fill_new(d, seed, 3);
            size_t len;
            unsigned char *buf = axt_pack(m, &len);
            assert_non_null(buf);
            ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, len, buf);
            if (!back)
                fail_msg("%s: unpack failed", d->name);
            char where[256] = "";
            if (!axt_msg_equal(m, back, where, sizeof where))
                fail_msg("%s: round trip differs at %s", d->name, where);
            /* And the bytes are stable. */
            size_t len2;
            unsigned char *buf2 = axt_pack(back, &len2);
            assert_int_equal(len, len2);
            assert_memory_equal(buf, buf2, len);
            free(buf2);
            free(buf);
            protobuf_c_message_free_unpacked(back, NULL);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
}

static void text_round_trip(enum ax_text_format fmt)
{
    struct walk w;
    all_types(&w);
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.format = fmt;
    o.max_bytes = SIZE_MAX;
    for (size_t i = 0; i < w.n; i++) {
        const ProtobufCMessageDescriptor *d = ax_type_descriptor(w.types[i]);
        ProtobufCMessage *m = axt_fill_new(d, 3, 3);
        struct ax_strbuf sb;
        ax_strbuf_init(&sb);
        AX_OK_OR_FAIL(ax_msg_print(m, &o, &sb));
        ProtobufCMessage *back = NULL;
        struct ax_parse_error err;
        int rc = ax_msg_parse(d, sb.data, sb.len, &back, &err);
        if (rc)
            fail_msg("%s: parse failed: %s\n%s", d->name, err.message, sb.data);
        char where[256] = "";
        if (!axt_msg_equal(m, back, where, sizeof where))
            fail_msg("%s: text round trip differs at %s\n%s", d->name, where, sb.data);
        /* An empty message too (defaults everywhere, unset sub-messages). */
        ProtobufCMessage *empty = malloc(d->sizeof_message);
        ax_msg_init(d, empty);
        ax_strbuf_reset(&sb);
        AX_OK_OR_FAIL(ax_msg_print(empty, &o, &sb));
        protobuf_c_message_free_unpacked(back, NULL);
        back = NULL;
        rc = ax_msg_parse(d, sb.data, sb.len, &back, &err);
        if (rc)
            fail_msg("%s: parse of empty failed: %s\n%s", d->name, err.message, sb.data);
        if (!axt_msg_equal(empty, back, where, sizeof where))
            fail_msg("%s: empty round trip differs at %s\n%s", d->name, where, sb.data);
        protobuf_c_message_free_unpacked(empty, NULL);
        protobuf_c_message_free_unpacked(back, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
        ax_strbuf_fini(&sb);
    }
}

static void t_text_yaml(void **state)
{
    text_round_trip(AX_TEXT_YAML);
}

static void t_text_json(void **state)
{
    text_round_trip(AX_TEXT_JSON);
}

static void t_text_json_pretty(void **state)
{
    text_round_trip(AX_TEXT_JSON_PRETTY);
}

static void t_dynamic_equals_static(void **state)
{
    struct walk w;
    all_types(&w);
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.format = AX_TEXT_JSON;
    o.max_bytes = SIZE_MAX;
    for (size_t i = 0; i < w.n; i++) {
        const ProtobufCMessageDescriptor *d = ax_type_descriptor(w.types[i]);
        const uint8_t *fds;
        size_t fds_len;
        AX_OK_OR_FAIL(ax_type_fds(w.types[i], &fds, &fds_len));
        ax_type *dyn;
        int rc = ax_type_from_fds(fds, fds_len, d->name, &dyn);
        if (rc)
            fail_msg("%s: ax_type_from_fds: %s", d->name, ax_err_name(rc));
        if (!ax_type_hash_equal(ax_type_hash(dyn), ax_type_hash(w.types[i])))
            fail_msg("%s: dynamic hash differs", d->name);
        const ProtobufCMessageDescriptor *dd = ax_type_descriptor(dyn);
        assert_string_equal(ax_type_name(dyn), d->name);

        ProtobufCMessage *m = axt_fill_new(d, 5, 3);
        size_t len;
        unsigned char *buf = axt_pack(m, &len);
        ProtobufCMessage *dm = protobuf_c_message_unpack(dd, NULL, len, buf);
        if (!dm)
            fail_msg("%s: dynamic unpack failed", d->name);
        size_t len2;
        unsigned char *buf2 = axt_pack(dm, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);

        struct ax_strbuf a, b;
        ax_strbuf_init(&a);
        ax_strbuf_init(&b);
        AX_OK_OR_FAIL(ax_msg_print(m, &o, &a));
        AX_OK_OR_FAIL(ax_msg_print(dm, &o, &b));
        assert_string_equal(a.data, b.data);

        /* The parser builds dynamic messages too. */
        ProtobufCMessage *pm = NULL;
        struct ax_parse_error err;
        rc = ax_msg_parse(dd, a.data, a.len, &pm, &err);
        if (rc)
            fail_msg("%s: dynamic parse: %s", d->name, err.message);
        size_t len3;
        unsigned char *buf3 = axt_pack(pm, &len3);
        assert_int_equal(len, len3);
        assert_memory_equal(buf, buf3, len);

        /* A dynamic message filled directly packs like a compiled one. */
        ProtobufCMessage *fm = axt_fill_new(dd, 5, 3);
        size_t len4;
        unsigned char *buf4 = axt_pack(fm, &len4);
        assert_int_equal(len, len4);
        assert_memory_equal(buf, buf4, len);

        free(buf);
        free(buf2);
        free(buf3);
        free(buf4);
        ax_strbuf_fini(&a);
        ax_strbuf_fini(&b);
        protobuf_c_message_free_unpacked(fm, NULL);
        protobuf_c_message_free_unpacked(pm, NULL);
        protobuf_c_message_free_unpacked(dm, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
        ax_type_free(dyn);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_pack_unpack),
        cmocka_unit_test(t_text_yaml),
        cmocka_unit_test(t_text_json),
        cmocka_unit_test(t_text_json_pretty),
        cmocka_unit_test(t_dynamic_equals_static),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
