/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dynamic types (ax_type_from_fds) beyond what test_msgs_roundtrip checks
 * for every standard type: bad and hostile FileDescriptorSets give a clear
 * error and never crash (ASan watches), proto2 defaults and proto3
 * `optional` behave as protobuf-c's generated code does, recursive types
 * work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "ax__descriptor.pb-c.h"
#include "axtest_types.h"
#include "axtest/demo.pb-c.h"
#include "axtest/legacy.pb-c.h"
#include "msgs_util.h"

typedef Axon__Pbdesc__FieldDescriptorProto FieldP;

/* A one-file set with one message "t.M" of the given fields (and an enum
 * "t.E" with @n_values values), serialized. */
static uint8_t *make_fds(FieldP **fields, size_t n_fields, size_t n_values, const char *syntax,
                         size_t *len)
{
    Axon__Pbdesc__EnumValueDescriptorProto ev[2];
    Axon__Pbdesc__EnumValueDescriptorProto *evp[2] = {&ev[0], &ev[1]};
    for (int i = 0; i < 2; i++) {
        axon__pbdesc__enum_value_descriptor_proto__init(&ev[i]);
        ev[i].name = i ? "E_ONE" : "E_ZERO";
        ev[i].has_number = 1;
        ev[i].number = i;
    }
    Axon__Pbdesc__EnumDescriptorProto en;
    axon__pbdesc__enum_descriptor_proto__init(&en);
    en.name = "E";
    en.n_value = n_values;
    en.value = evp;
    Axon__Pbdesc__EnumDescriptorProto *enp = &en;
    Axon__Pbdesc__OneofDescriptorProto oneof;
    axon__pbdesc__oneof_descriptor_proto__init(&oneof);
    oneof.name = "o";
    Axon__Pbdesc__OneofDescriptorProto *oneofp = &oneof;
    Axon__Pbdesc__DescriptorProto msg;
    axon__pbdesc__descriptor_proto__init(&msg);
    msg.name = "M";
    msg.n_field = n_fields;
    msg.field = fields;
    msg.n_oneof_decl = 1;
    msg.oneof_decl = &oneofp;
    Axon__Pbdesc__DescriptorProto *msgp = &msg;
    Axon__Pbdesc__FileDescriptorProto file;
    axon__pbdesc__file_descriptor_proto__init(&file);
    file.name = "t.proto";
    file.package = "t";
    file.syntax = (char *)syntax;
    file.n_message_type = 1;
    file.message_type = &msgp;
    file.n_enum_type = 1;
    file.enum_type = &enp;
    Axon__Pbdesc__FileDescriptorProto *filep = &file;
    Axon__Pbdesc__FileDescriptorSet set;
    axon__pbdesc__file_descriptor_set__init(&set);
    set.n_file = 1;
    set.file = &filep;
    return axt_pack(&set.base, len);
}

static FieldP field(const char *name, int number, int label, int type, const char *type_name)
{
    FieldP f;
    axon__pbdesc__field_descriptor_proto__init(&f);
    f.name = (char *)name;
    f.has_number = 1;
    f.number = number;
    f.has_label = 1;
    f.label = label;
    f.has_type = 1;
    f.type = type;
    f.type_name = (char *)type_name;
    return f;
}

#define OPT     1
#define REQ     2
#define REP     3
#define T_INT32 5
#define T_GROUP 10
#define T_MSG   11
#define T_ENUM  14

static int try_fields(FieldP *fs, size_t n, size_t n_values, const char *syntax)
{
    FieldP *ptrs[8];
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &fs[i];
    size_t len;
    uint8_t *fds = make_fds(ptrs, n, n_values, syntax, &len);
    ax_type *t = NULL;
    int rc = ax_type_from_fds(fds, len, "t.M", &t);
    if (rc == 0) {
        assert_non_null(t);
        ax_type_free(t);
    }
    free(fds);
    return rc;
}

static void t_handmade(void **state)
{
    FieldP f[3];
    f[0] = field("a", 1, OPT, T_INT32, NULL);
    f[1] = field("e", 2, OPT, T_ENUM, ".t.E");
    f[2] = field("self", 3, REP, T_MSG, ".t.M");
    assert_int_equal(try_fields(f, 3, 2, "proto3"), 0); /* valid, recursive */

    f[1].type_name = ".t.Nope";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* unresolved */
    f[1].type_name = "t.E";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* not fully qualified */
    f[1].type_name = ".t.M";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* enum field -> message */
    f[1].type_name = ".t.E";
    assert_int_equal(try_fields(f, 3, 0, "proto3"), AX_EPROTO); /* enum without values */

    f[0].number = 2;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* number used twice */
    f[0].number = 0;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO);
    f[0].number = 536870912;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO);
    f[0].number = 1;
    f[0].name = "b";
    f[1].name = "b";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* name used twice */
    f[1].name = "e";
    f[0].name = "a b";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* invalid name */
    f[0].name = "a";

    f[0].type = T_GROUP;
    assert_int_equal(try_fields(f, 3, 2, "proto2"), AX_ENOTSUP);
    f[0].type = 19;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO);
    f[0].type = T_INT32;
    f[0].label = REQ;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* required in proto3 */
    assert_int_equal(try_fields(f, 3, 2, "proto2"), 0);
    f[0].label = 7;
    assert_int_equal(try_fields(f, 3, 2, "proto2"), AX_EPROTO);
    f[0].label = OPT;
    f[0].has_oneof_index = 1;
    f[0].oneof_index = 1;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* no such oneof */
    f[0].oneof_index = 0;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), 0);
    f[2].has_oneof_index = 1;
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* repeated in a oneof */
    f[2].has_oneof_index = 0;
    f[0].default_value = "5";
    assert_int_equal(try_fields(f, 3, 2, "proto3"), AX_EPROTO); /* default in proto3 */
    assert_int_equal(try_fields(f, 3, 2, "proto2"), 0);
    f[0].default_value = "5x";
    assert_int_equal(try_fields(f, 3, 2, "proto2"), AX_EPROTO);
    f[0].default_value = "4294967296";
    assert_int_equal(try_fields(f, 3, 2, "proto2"), AX_EPROTO);
    f[0].default_value = NULL;
    assert_int_equal(try_fields(f, 3, 2, "editions"), AX_ENOTSUP);

    /* Not a set at all; the root missing; the root an enum. */
    ax_type *t;
    const uint8_t junk[] = {0x0a, 0x05, 0x0a, 0x03, 'a', 'b'};
    assert_int_equal(ax_type_from_fds(junk, sizeof junk, "t.M", &t), AX_EPROTO);
    FieldP *one = &f[0];
    size_t len;
    uint8_t *fds = make_fds(&one, 1, 2, "proto3", &len);
    assert_int_equal(ax_type_from_fds(fds, len, "t.X", &t), AX_ENOTFOUND);
    assert_int_equal(ax_type_from_fds(fds, len, "t.E", &t), AX_ENOTFOUND);
    assert_int_equal(ax_type_from_fds(fds, (size_t)17 << 20, "t.M", &t), AX_EMSGSIZE);
    assert_int_equal(ax_type_from_fds(NULL, len, "t.M", &t), AX_EINVAL);
    free(fds);
    ax_type_free(NULL);
}

/* Truncations and byte flips of a real set: an error or a type, never a
 * crash or a leak. */
static void t_mutations(void **state)
{
    const ax_type *ref;
    AX_OK_OR_FAIL(ax_type_find("axon.perception.ObstacleList", &ref));
    const uint8_t *fds;
    size_t len;
    AX_OK_OR_FAIL(ax_type_fds(ref, &fds, &len));
    uint8_t *buf = malloc(len);
    size_t errors = 0, oks = 0;
    for (size_t cut = 0; cut < len; cut += cut < 300 ? 1 : 7) {
        ax_type *t;
        /* An exact-size copy, so ASan sees any read past the end. */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, fds, cut);
        int rc = ax_type_from_fds(part, cut, "axon.perception.ObstacleList", &t);
        free(part);
        if (rc == 0) {
            oks++;
            ax_type_free(t);
        } else {
            errors++;
        }
    }
    assert_true(errors > 0);
    for (size_t i = 0; i < len; i += 2) {
        for (int k = 0; k < 3; k++) {
            static const uint8_t flips[] = {0x01, 0x80, 0xff};
            memcpy(buf, fds, len);
            buf[i] ^= flips[k];
            ax_type *t;
            int rc = ax_type_from_fds(buf, len, "axon.perception.ObstacleList", &t);
            if (rc == 0) {
                /* Whatever was built must still work. */
                ProtobufCMessage *m = axt_fill_new(ax_type_descriptor(t), 1, 2);
                size_t n;
                uint8_t *bytes = axt_pack(m, &n);
                ProtobufCMessage *back =
                    protobuf_c_message_unpack(ax_type_descriptor(t), NULL, n, bytes);
                assert_non_null(back);
                protobuf_c_message_free_unpacked(back, NULL);
                protobuf_c_message_free_unpacked(m, NULL);
                free(bytes);
                ax_type_free(t);
                oks++;
            } else {
                assert_true(rc == AX_EPROTO || rc == AX_ENOTFOUND || rc == AX_ENOTSUP);
                errors++;
            }
        }
    }
    print_message("mutations: %zu built, %zu refused\n", oks, errors);
    free(buf);
}

/* Append a length-delimited field (tag, varint length, payload) in front
 * of nothing: builds nested encodings from the inside out. */
static uint8_t *wrap(unsigned field, const uint8_t *payload, size_t n, size_t *out_len)
{
    uint8_t *out = malloc(n + 16);
    size_t k = 0;
    size_t v = field << 3 | 2;
    do {
        out[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    v = n;
    do {
        out[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(out + k, payload, n);
    *out_len = k + n;
    return out;
}

/* A set whose one file holds message "N" with @depth levels of nested
 * messages, each named @name. */
static uint8_t *nested_set(unsigned depth, const char *name, size_t *len)
{
    size_t nl = strlen(name), n, m;
    uint8_t *msg = wrap(1, (const uint8_t *)name, nl, &n); /* innermost: name only */
    for (unsigned i = 0; i < depth; i++) {
        uint8_t *nested = wrap(3, msg, n, &m); /* nested_type */
        uint8_t *nm = wrap(1, (const uint8_t *)name, nl, &n);
        uint8_t *both = malloc(n + m);
        memcpy(both, nm, n);
        memcpy(both + n, nested, m);
        free(msg);
        free(nested);
        free(nm);
        msg = both;
        n += m;
    }
    uint8_t *mt = wrap(4, msg, n, &m); /* FileDescriptorProto.message_type */
    uint8_t *fname = wrap(1, (const uint8_t *)"d.proto", 7, &n);
    uint8_t *file = malloc(n + m);
    memcpy(file, fname, n);
    memcpy(file + n, mt, m);
    uint8_t *set = wrap(1, file, n + m, len); /* FileDescriptorSet.file */
    free(msg);
    free(mt);
    free(fname);
    free(file);
    return set;
}

static void t_hostile_shapes(void **state)
{
    ax_type *t;
    size_t len;
    uint8_t *fds = nested_set(20, "N", &len);
    AX_OK_OR_FAIL(ax_type_from_fds(fds, len, "N.N.N", &t));
    ax_type_free(t);
    free(fds);
    /* Nested beyond the limit (100): refused before protobuf-c's recursive
     * decoder sees it (at 10^5 levels that decoder would exhaust the
     * stack; 1000 keeps this test fast). */
    fds = nested_set(1000, "N", &len);
    assert_int_equal(ax_type_from_fds(fds, len, "N", &t), AX_EPROTO);
    free(fds);
    /* Long names nested: full names are bounded. */
    char longname[201];
    memset(longname, 'a', 200);
    longname[200] = '\0';
    fds = nested_set(3, longname, &len);
    assert_int_equal(ax_type_from_fds(fds, len, longname, &t), AX_EPROTO);
    free(fds);
}

static void t_wire_check(void **state)
{
    /* A well-formed message of every shape passes. */
    ProtobufCMessage *m = axt_fill_new(&axtest__all_types__descriptor, 1, 3);
    size_t len;
    uint8_t *bytes = axt_pack(m, &len);
    AX_OK_OR_FAIL(ax_msg_wire_check(&axtest__all_types__descriptor, bytes, len, 64));
    assert_int_equal(ax_msg_wire_check(&axtest__all_types__descriptor, bytes, len, 2), AX_EPROTO);
    /* Truncations: a cut that ends inside a key, a value or a payload must
     * be refused, one on a boundary between top-level fields accepted.
     * protobuf-c's decoder tells the two apart independently of ours (the
     * type is proto3: no required field makes a boundary cut fail). */
    size_t cuts = 0, refused = 0, must_refuse = 0;
    for (size_t cut = 0; cut < len; cut += cut < 1024 ? 1 : 5) {
        /* An exact-size copy, so ASan sees any read past the cut. */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, bytes, cut);
        ProtobufCMessage *back =
            protobuf_c_message_unpack(&axtest__all_types__descriptor, NULL, cut, part);
        int rc = ax_msg_wire_check(&axtest__all_types__descriptor, part, cut, 64);
        bool readable = back != NULL;
        if (back)
            protobuf_c_message_free_unpacked(back, NULL);
        free(part);
        cuts++;
        must_refuse += !readable;
        refused += rc == AX_EPROTO;
        if (rc != 0 && rc != AX_EPROTO)
            fail_msg("cut at %zu of %zu: %s", cut, len, ax_err_name(rc));
        if ((rc == 0) != readable)
            fail_msg("cut at %zu of %zu: the wire check %s it, protobuf-c %s it", cut, len,
                     rc ? "refused" : "accepted", readable ? "read" : "refused");
    }
    assert_int_equal(refused, must_refuse);
    assert_true(refused > cuts / 2); /* most cuts fall inside a field */
    assert_true(refused < cuts - 1); /* and some, besides 0, between two */
    free(bytes);
    protobuf_c_message_free_unpacked(m, NULL);
    /* AllTypes.children (field 60) nested 300 deep. */
    uint8_t *deep = malloc(1), *next;
    size_t n = 0;
    for (int i = 0; i < 300; i++) {
        next = wrap(60, deep, n, &n);
        free(deep);
        deep = next;
    }
    assert_int_equal(ax_msg_wire_check(&axtest__all_types__descriptor, deep, n, 64), AX_EPROTO);
    AX_OK_OR_FAIL(ax_msg_wire_check(&axtest__all_types__descriptor, deep, n, 300));
    free(deep);
    const uint8_t group[] = {0x0b, 0x0c};
    assert_int_equal(ax_msg_wire_check(&axtest__all_types__descriptor, group, 2, 64), AX_EPROTO);
    const uint8_t past_end[] = {0x7a, 0x05, 0x00};
    assert_int_equal(ax_msg_wire_check(&axtest__all_types__descriptor, past_end, 3, 64), AX_EPROTO);
    assert_int_equal(ax_msg_wire_check(NULL, past_end, 3, 64), AX_EINVAL);
}

static char *json(const ProtobufCMessage *m)
{
    struct ax_print_options o;
    ax_print_options_init(&o);
    o.format = AX_TEXT_JSON;
    struct ax_strbuf sb;
    ax_strbuf_init(&sb);
    AX_OK_OR_FAIL(ax_msg_print(m, &o, &sb));
    return ax_strbuf_release(&sb);
}

static void t_proto2_defaults(void **state)
{
    AX_OK_OR_FAIL(ax_types_axtest_register());
    const ax_type *ref;
    AX_OK_OR_FAIL(ax_type_find("axtest.legacy.Legacy", &ref));
    const uint8_t *fds;
    size_t len;
    AX_OK_OR_FAIL(ax_type_fds(ref, &fds, &len));
    ax_type *t;
    AX_OK_OR_FAIL(ax_type_from_fds(fds, len, "axtest.legacy.Legacy", &t));
    assert_true(ax_type_hash_equal(ax_type_hash(t), ax_type_hash(ref)));

    Axtest__Legacy__Legacy compiled = AXTEST__LEGACY__LEGACY__INIT;
    void *mem = malloc(ax_type_descriptor(t)->sizeof_message);
    ax_msg_init(ax_type_descriptor(t), mem);
    char *a = json(&compiled.base), *b = json(mem);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\"name\":null")); /* not set, whatever its default */
    assert_non_null(strstr(a, "\"mode\":null")); /* has_mode is false: not set */
    free(a);
    free(b);
    /* Unpacking nothing gives the defaults; required id is missing, so
     * protobuf-c refuses it, for both. */
    assert_null(protobuf_c_message_unpack(ax_type_descriptor(t), NULL, 0, (const uint8_t *)""));
    const uint8_t id7[] = {0x08, 0x07};
    ProtobufCMessage *dm = protobuf_c_message_unpack(ax_type_descriptor(t), NULL, 2, id7);
    ProtobufCMessage *cm =
        protobuf_c_message_unpack(&axtest__legacy__legacy__descriptor, NULL, 2, id7);
    a = json(cm);
    b = json(dm);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "\"gain\":null")); /* optional, not present */
    Axtest__Legacy__Legacy *l = (Axtest__Legacy__Legacy *)cm;
    assert_true(l->gain == 1.5 && l->blob.len == 3 && l->s64 == -42); /* the defaults */
    free(a);
    free(b);
    protobuf_c_message_free_unpacked(cm, NULL);
    protobuf_c_message_free_unpacked(dm, NULL);
    free(mem);
    ax_type_free(t);
}

static void t_proto3_optional(void **state)
{
    size_t len;
    uint8_t *fds = axt_read_file(AXT_DATA_OUT "/p3opt.fds", &len);
    assert_non_null(fds);
    ax_type *t;
    AX_OK_OR_FAIL(ax_type_from_fds(fds, len, "p3.Opt", &t));
    const ProtobufCMessageDescriptor *d = ax_type_descriptor(t);
    /* x: 0 is set (explicit presence), so it is on the wire. */
    ProtobufCMessage *m;
    const char *text = "x: 0\nnext: {next: {s: deep}}\nsub: {u: 3}\n";
    AX_OK_OR_FAIL(ax_msg_parse(d, text, strlen(text), &m, NULL));
    size_t n;
    uint8_t *bytes = axt_pack(m, &n);
    assert_true(n >= 2);
    assert_int_equal(bytes[0], 0x08);
    assert_int_equal(bytes[1], 0x00);
    ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, n, bytes);
    assert_non_null(back);
    char *a = json(m), *b = json(back);
    assert_string_equal(a, b);
    assert_string_equal(a, "{\"x\":0,\"s\":null,\"next\":{\"x\":null,\"s\":null,\"next\":{\"x\":"
                           "null,\"s\":\"deep\",\"next\":null}},\"sub\":{\"x\":null,\"s\":null,"
                           "\"next\":null,\"u\":3}}\n");
    free(a);
    free(b);
    free(bytes);
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    ax_type_free(t);
    free(fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_handmade),        cmocka_unit_test(t_mutations),
        cmocka_unit_test(t_hostile_shapes),  cmocka_unit_test(t_wire_check),
        cmocka_unit_test(t_proto2_defaults), cmocka_unit_test(t_proto3_optional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
