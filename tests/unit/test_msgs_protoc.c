/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wire compatibility with the reference implementation: bytes packed by
 * protobuf-c decode with `protoc --decode` (Debian's protobuf-compiler) to
 * the expected values, and bytes made by `protoc --encode` unpack in
 * protobuf-c to the same values; for every standard type, protobuf-c ->
 * protoc text -> protoc bytes -> protobuf-c gives back the same message and
 * the same bytes.
 *
 * protoc is the build host's binary. Under qemu-user (the aarch64 build)
 * the aarch64 test execs it and qemu hands a host binary to the kernel, so
 * this runs there too; if protoc cannot be run at all, the tests skip and
 * say why, rather than fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "msgs_util.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"
#include "axon/msgs/std.pb-c.h"

static char why[256];

/* protoc --decode/--encode=<type> -I<msgs/proto> <file>. */
static int run(const char *mode, const char *type, const char *file, const void *in, size_t len,
               unsigned char **out, size_t *out_len)
{
    char m[160], inc[512];
    snprintf(m, sizeof m, "--%s=%s", mode, type);
    snprintf(inc, sizeof inc, "-I%s", AXT_PROTO_DIR);
    const char *args[] = {m, inc, file, NULL};
    return axt_protoc(args, in, len, out, out_len, why, sizeof why);
}

#define RUN_OR_SKIP(mode, type, file, in, len, out, out_len)                                       \
    do {                                                                                           \
        int rc_ = run(mode, type, file, in, len, out, out_len);                                    \
        if (rc_ < 0 || rc_ == 127) {                                                               \
            print_message("skipped: protoc cannot be run here: %s\n", why);                        \
            skip();                                                                                \
        }                                                                                          \
        if (rc_ != 0)                                                                              \
            fail_msg("protoc %s %s exited %d", mode, type, rc_);                                   \
    } while (0)

static void t_decode_header(void **state)
{
    Axon__Std__Header h = AXON__STD__HEADER__INIT;
    h.stamp_ns = -1700000000123456789;
    h.frame_id = "base_link \xc3\xa9";
    h.seq = UINT64_MAX;
    size_t len;
    unsigned char *bytes = axt_pack(&h.base, &len);
    unsigned char *text;
    size_t tlen;
    RUN_OR_SKIP("decode", "axon.std.Header", "axon/msgs/std.proto", bytes, len, &text, &tlen);
    assert_string_equal((char *)text, "stamp_ns: -1700000000123456789\n"
                                      "frame_id: \"base_link \\303\\251\"\n"
                                      "seq: 18446744073709551615\n");
    free(text);
    free(bytes);
}

static void t_decode_obstacles(void **state)
{
    Axon__Perception__Obstacle ob = AXON__PERCEPTION__OBSTACLE__INIT;
    ob.id = 42;
    ob.classification = AXON__PERCEPTION__OBSTACLE__CLASS__PEDESTRIAN;
    ob.confidence = 0.75f;
    Axon__Geometry__Vector3 size = AXON__GEOMETRY__VECTOR3__INIT;
    size.x = 0.5;
    size.y = 0.25;
    size.z = 1.75;
    ob.size = &size;
    double cov[2] = {0.125, -2};
    ob.n_pose_covariance = 2;
    ob.pose_covariance = cov;
    Axon__Perception__Obstacle *obs[] = {&ob};
    Axon__Perception__ObstacleList l = AXON__PERCEPTION__OBSTACLE_LIST__INIT;
    l.n_obstacles = 1;
    l.obstacles = obs;
    l.source = "lidar";
    size_t len;
    unsigned char *bytes = axt_pack(&l.base, &len);
    unsigned char *text;
    size_t tlen;
    RUN_OR_SKIP("decode", "axon.perception.ObstacleList", "axon/msgs/perception.proto", bytes, len,
                &text, &tlen);
    assert_string_equal((char *)text, "obstacles {\n"
                                      "  id: 42\n"
                                      "  classification: PEDESTRIAN\n"
                                      "  confidence: 0.75\n"
                                      "  size {\n"
                                      "    x: 0.5\n"
                                      "    y: 0.25\n"
                                      "    z: 1.75\n"
                                      "  }\n"
                                      "  pose_covariance: 0.125\n"
                                      "  pose_covariance: -2\n"
                                      "}\n"
                                      "source: \"lidar\"\n");
    free(text);
    free(bytes);
}

static void t_encode_gnss(void **state)
{
    const char *text = "header { stamp_ns: 5 frame_id: \"gps\" }\n"
                       "status: RTK_FIXED\n"
                       "service: 5\n"
                       "latitude: 48.137154\n"
                       "longitude: -11.576124\n"
                       "altitude: 519.5\n"
                       "position_covariance: [1, 0, 0, 0, 1, 0, 0, 0, 4]\n"
                       "position_covariance_type: COVARIANCE_DIAGONAL_KNOWN\n"
                       "satellites_used: 17\n";
    unsigned char *bytes;
    size_t len;
    RUN_OR_SKIP("encode", "axon.sensor.GnssFix", "axon/msgs/sensor.proto", text, strlen(text),
                &bytes, &len);
    Axon__Sensor__GnssFix *g = axon__sensor__gnss_fix__unpack(NULL, len, bytes);
    assert_non_null(g);
    assert_int_equal(g->header->stamp_ns, 5);
    assert_string_equal(g->header->frame_id, "gps");
    assert_int_equal(g->status, AXON__SENSOR__GNSS_FIX__STATUS__RTK_FIXED);
    assert_int_equal(g->service, 5);
    assert_true(g->latitude == 48.137154 && g->longitude == -11.576124 && g->altitude == 519.5);
    assert_int_equal(g->n_position_covariance, 9);
    assert_true(g->position_covariance[8] == 4.0);
    assert_int_equal(g->position_covariance_type,
                     AXON__SENSOR__GNSS_FIX__COVARIANCE_TYPE__COVARIANCE_DIAGONAL_KNOWN);
    assert_int_equal(g->satellites_used, 17);
    axon__sensor__gnss_fix__free_unpacked(g, NULL);
    free(bytes);
}

struct walk {
    size_t n;
    const ax_type *types[64];
};

static int collect(const ax_type *t, void *user)
{
    struct walk *w = user;
    if (strncmp(ax_type_name(t), "axon.", 5) == 0 && w->n < 64)
        w->types[w->n++] = t;
    return 0;
}

/* The .proto that defines a standard type: axon.<area>.X is in
 * axon/msgs/<area>.proto. */
static void proto_of(const char *type, char *out, size_t n)
{
    const char *area = type + 5;
    const char *dot = strchr(area, '.');
    snprintf(out, n, "axon/msgs/%.*s.proto", (int)(dot - area), area);
}

static void t_every_type_through_protoc(void **state)
{
    struct walk w = {0};
    AX_OK_OR_FAIL(ax_type_foreach(collect, &w));
    assert_true(w.n >= 30);
    for (size_t i = 0; i < w.n; i++) {
        const ProtobufCMessageDescriptor *d = ax_type_descriptor(w.types[i]);
        char file[128];
        proto_of(d->name, file, sizeof file);
        ProtobufCMessage *m = axt_fill_new(d, 7, 3);
        size_t len;
        unsigned char *bytes = axt_pack(m, &len);
        unsigned char *text, *bytes2;
        size_t tlen, len2;
        RUN_OR_SKIP("decode", d->name, file, bytes, len, &text, &tlen);
        RUN_OR_SKIP("encode", d->name, file, text, tlen, &bytes2, &len2);
        ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, len2, bytes2);
        if (!back)
            fail_msg("%s: protobuf-c cannot unpack protoc's bytes", d->name);
        char where[256] = "";
        if (!axt_msg_equal(m, back, where, sizeof where))
            fail_msg("%s: values differ after protoc at %s\n%s", d->name, where, text);
        if (len != len2 || memcmp(bytes, bytes2, len) != 0)
            fail_msg("%s: protoc re-encodes to different bytes", d->name);
        protobuf_c_message_free_unpacked(back, NULL);
        protobuf_c_message_free_unpacked(m, NULL);
        free(bytes);
        free(bytes2);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_decode_header),
        cmocka_unit_test(t_decode_obstacles),
        cmocka_unit_test(t_encode_gnss),
        cmocka_unit_test(t_every_type_through_protoc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
