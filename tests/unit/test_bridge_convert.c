/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Foxglove bridge's conversions (tools/axon/bridge_convert.c): axon
 * messages packed here go through bridge_conv_run() and come back as
 * foxglove messages, decoded with the foxglove descriptors; every mapped
 * field is checked. The schemas' FileDescriptorSets must build the named
 * type (ax_type_from_fds) and decode the converted bytes the same way.
 */
#include <math.h>
#include <string.h>

#include "ax_test.h"
#include "axon/msgs/geometry.pb-c.h"
#include "axon/msgs/localization.pb-c.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"
#include "bridge_convert.h"
#include "foxglove/CompressedImage.pb-c.h"
#include "foxglove/FrameTransforms.pb-c.h"
#include "foxglove/LaserScan.pb-c.h"
#include "foxglove/LocationFix.pb-c.h"
#include "foxglove/PointCloud.pb-c.h"
#include "foxglove/PoseInFrame.pb-c.h"
#include "foxglove/RawImage.pb-c.h"
#include "foxglove/SceneUpdate.pb-c.h"

#define HEAD 13 /* the bridge's frame header, as headroom */

static const struct {
    const char *axon, *foxglove;
} pairs[] = {
    {"axon.sensor.Image", "foxglove.RawImage"},
    {"axon.sensor.CompressedImage", "foxglove.CompressedImage"},
    {"axon.sensor.PointCloud", "foxglove.PointCloud"},
    {"axon.sensor.LaserScan", "foxglove.LaserScan"},
    {"axon.sensor.GnssFix", "foxglove.LocationFix"},
    {"axon.geometry.PoseStamped", "foxglove.PoseInFrame"},
    {"axon.localization.LocalizationEstimate", "foxglove.PoseInFrame"},
    {"axon.geometry.TransformStamped", "foxglove.FrameTransforms"},
    {"axon.perception.ObstacleList", "foxglove.SceneUpdate"},
};
#define NPAIRS (sizeof pairs / sizeof pairs[0])

/* Pack @m, convert it as @type, check the headroom is writable and
 * return the foxglove message decoded with @out_desc. @raw, @raw_len: the
 * converted bytes (malloc'd; the caller frees). */
static ProtobufCMessage *convert(const char *type, const ProtobufCMessage *m,
                                 const ProtobufCMessageDescriptor *out_desc, uint8_t **raw,
                                 size_t *raw_len)
{
    const struct bridge_conv *cv = bridge_conv_find(type);
    assert_non_null(cv);
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *in = malloc(len + 1);
    assert_non_null(in);
    protobuf_c_message_pack(m, in);
    uint8_t *out = NULL;
    size_t out_len = 0;
    AX_OK_OR_FAIL(bridge_conv_run(cv, in, len, HEAD, &out, &out_len));
    free(in);
    assert_non_null(out);
    memset(out, 0xa5, HEAD); /* the caller owns the headroom: writable */
    ProtobufCMessage *fx = protobuf_c_message_unpack(out_desc, NULL, out_len, out + HEAD);
    assert_non_null(fx);
    *raw = out;
    *raw_len = out_len;
    return fx;
}

static void header_set(Axon__Std__Header *h, int64_t ns, const char *frame)
{
    axon__std__header__init(h);
    h->stamp_ns = ns;
    h->frame_id = (char *)frame;
    h->seq = 7;
}

static void check_stamp(const Google__Protobuf__Timestamp *t, int64_t s, int32_t ns)
{
    assert_non_null(t);
    assert_int_equal(t->seconds, s);
    assert_int_equal(t->nanos, ns);
}

static void check_identity(const Foxglove__Pose *p)
{
    assert_non_null(p);
    assert_non_null(p->position);
    assert_non_null(p->orientation);
    assert_true(p->position->x == 0 && p->position->y == 0 && p->position->z == 0);
    assert_true(p->orientation->x == 0 && p->orientation->y == 0 && p->orientation->z == 0 &&
                p->orientation->w == 1);
}

static void t_find(void **state)
{
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct bridge_conv *cv = bridge_conv_find(pairs[i].axon);
        assert_non_null(cv);
        assert_string_equal(bridge_conv_schema_name(cv), pairs[i].foxglove);
    }
    assert_null(bridge_conv_find("axon.sensor.Imu"));
    assert_null(bridge_conv_find("foxglove.PointCloud"));
    assert_null(bridge_conv_find(""));
    assert_null(bridge_conv_find(NULL));
}

/* Each schema's FileDescriptorSet builds its type under the schema's
 * name, with the hash of the compiled descriptor, and the type decodes a
 * converted message to the same bytes again. */
static void t_fds(void **state)
{
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct bridge_conv *cv = bridge_conv_find(pairs[i].axon);
        size_t len = 0;
        const uint8_t *fds = bridge_conv_fds(cv, &len);
        assert_non_null(fds);
        assert_true(len > 0);
        ax_type *t = NULL;
        AX_OK_OR_FAIL(ax_type_from_fds(fds, len, pairs[i].foxglove, &t));
        assert_string_equal(ax_type_name(t), pairs[i].foxglove);
        /* The text form names the file and imports the timestamp. */
        char *text = NULL;
        AX_OK_OR_FAIL(ax_type_proto_text(fds, len, pairs[i].foxglove, &text));
        assert_non_null(strstr(text, "package foxglove;"));
        free(text);
        ax_type_free(t);
    }
}

/* The converted bytes decode the same with the type built from the set. */
static void check_dynamic(const char *axon_type, const uint8_t *raw, size_t len)
{
    const struct bridge_conv *cv = bridge_conv_find(axon_type);
    size_t fds_len;
    const uint8_t *fds = bridge_conv_fds(cv, &fds_len);
    ax_type *t = NULL;
    AX_OK_OR_FAIL(ax_type_from_fds(fds, fds_len, bridge_conv_schema_name(cv), &t));
    ProtobufCMessage *m = protobuf_c_message_unpack(ax_type_descriptor(t), NULL, len, raw);
    assert_non_null(m);
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *again = malloc(n + 1);
    protobuf_c_message_pack(m, again);
    assert_int_equal(n, len);
    assert_memory_equal(again, raw, len);
    free(again);
    protobuf_c_message_free_unpacked(m, NULL);
    ax_type_free(t);
}

static Axon__Sensor__PointField *field_new(const char *name, uint32_t off,
                                           Axon__Sensor__PointField__DataType t)
{
    Axon__Sensor__PointField *f = malloc(sizeof *f);
    axon__sensor__point_field__init(f);
    f->name = (char *)name;
    f->offset = off;
    f->datatype = t;
    f->count = 1;
    return f;
}

/* 2 x 3 points of float32 x, y, z: the data passes through unchanged. */
static void t_point_cloud(void **state)
{
    Axon__Std__Header h;
    header_set(&h, 1234567890123456789, "lidar_top");
    float pts[2][3][3];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++)
                pts[r][c][k] = (float)(r * 100 + c * 10 + k) + 0.5f;
    Axon__Sensor__PointField *f[3] = {
        field_new("x", 0, AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32),
        field_new("y", 4, AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32),
        field_new("z", 8, AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32)};
    Axon__Sensor__PointCloud pc = AXON__SENSOR__POINT_CLOUD__INIT;
    pc.header = &h;
    pc.height = 2;
    pc.width = 3;
    pc.n_fields = 3;
    pc.fields = f;
    pc.point_step = 12;
    pc.row_step = 36;
    pc.data.data = (uint8_t *)pts;
    pc.data.len = sizeof pts;
    pc.is_dense = 1;

    uint8_t *raw;
    size_t len;
    Foxglove__PointCloud *o = (Foxglove__PointCloud *)convert(
        "axon.sensor.PointCloud", &pc.base, &foxglove__point_cloud__descriptor, &raw, &len);
    check_stamp(o->timestamp, 1234567890, 123456789);
    assert_string_equal(o->frame_id, "lidar_top");
    check_identity(o->pose);
    assert_int_equal(o->point_stride, 12);
    assert_int_equal(o->n_fields, 3);
    const char *names[] = {"x", "y", "z"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(o->fields[i]->name, names[i]);
        assert_int_equal(o->fields[i]->offset, 4 * i);
        assert_int_equal(o->fields[i]->type, FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__FLOAT32);
    }
    assert_int_equal(o->data.len, sizeof pts);
    assert_memory_equal(o->data.data, pts, sizeof pts);
    check_dynamic("axon.sensor.PointCloud", raw + HEAD, len);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
    for (int i = 0; i < 3; i++)
        free(f[i]);
}

/* Every DataType maps to its NumericType (whose order differs); fields of
 * unknown type or past point_step are dropped. */
static void t_point_types(void **state)
{
    static const struct {
        Axon__Sensor__PointField__DataType in;
        Foxglove__PackedElementField__NumericType out;
    } map[] = {
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__INT8,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__INT8},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__UINT8,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__UINT8},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__INT16,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__INT16},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__UINT16,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__UINT16},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__INT32,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__INT32},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__UINT32,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__UINT32},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__FLOAT32},
        {AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT64,
         FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__FLOAT64},
    };
    Axon__Sensor__PointField *f[10];
    for (size_t i = 0; i < 8; i++)
        f[i] = field_new("v", 0, map[i].in);
    f[8] = field_new("unknown", 0, AXON__SENSOR__POINT_FIELD__DATA_TYPE__DATATYPE_UNSPECIFIED);
    f[9] = field_new("past", 6, AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32);
    uint8_t data[8 * 3 + 5] = {0};
    Axon__Sensor__PointCloud pc = AXON__SENSOR__POINT_CLOUD__INIT;
    pc.height = 1;
    pc.width = 3;
    pc.n_fields = 10;
    pc.fields = f;
    pc.point_step = 8;
    pc.row_step = 24;
    pc.data.data = data;
    pc.data.len = sizeof data; /* 5 stray bytes: not a whole point, cut */

    uint8_t *raw;
    size_t len;
    Foxglove__PointCloud *o = (Foxglove__PointCloud *)convert(
        "axon.sensor.PointCloud", &pc.base, &foxglove__point_cloud__descriptor, &raw, &len);
    check_stamp(o->timestamp, 0, 0); /* no header: time 0, no frame */
    assert_string_equal(o->frame_id, "");
    assert_int_equal(o->n_fields, 8);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(o->fields[i]->type, map[i].out);
    assert_int_equal(o->data.len, 24);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
    for (int i = 0; i < 10; i++)
        free(f[i]);
}

/* Padded rows are packed together, big-endian points made little-endian. */
static void t_point_rewrite(void **state)
{
    Axon__Sensor__PointField *f[2] = {
        field_new("x", 0, AXON__SENSOR__POINT_FIELD__DATA_TYPE__UINT16),
        field_new("i", 2, AXON__SENSOR__POINT_FIELD__DATA_TYPE__UINT8)};
    /* 2 rows of 2 points of 4 bytes (u16 x, u8 i, 1 spare), 3 bytes pad. */
    const uint8_t data[22] = {0x01, 0x02, 9, 0, 0x03, 0x04, 8, 0, 0xee, 0xee, 0xee,
                              0x05, 0x06, 7, 0, 0x07, 0x08, 6, 0, 0xee, 0xee, 0xee};
    const uint8_t want[16] = {0x02, 0x01, 9, 0, 0x04, 0x03, 8, 0,
                              0x06, 0x05, 7, 0, 0x08, 0x07, 6, 0};
    Axon__Sensor__PointCloud pc = AXON__SENSOR__POINT_CLOUD__INIT;
    pc.height = 2;
    pc.width = 2;
    pc.n_fields = 2;
    pc.fields = f;
    pc.point_step = 4;
    pc.row_step = 11;
    pc.is_bigendian = 1;
    pc.data.data = (uint8_t *)data;
    pc.data.len = sizeof data;

    uint8_t *raw;
    size_t len;
    Foxglove__PointCloud *o = (Foxglove__PointCloud *)convert(
        "axon.sensor.PointCloud", &pc.base, &foxglove__point_cloud__descriptor, &raw, &len);
    assert_int_equal(o->data.len, sizeof want);
    assert_memory_equal(o->data.data, want, sizeof want);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
    free(f[0]);
    free(f[1]);
}

static void t_image(void **state)
{
    Axon__Std__Header h;
    header_set(&h, 5000000001, "camera_front_optical");
    uint8_t px[2 * 8];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    Axon__Sensor__Image im = AXON__SENSOR__IMAGE__INIT;
    im.header = &h;
    im.height = 2;
    im.width = 2;
    im.encoding = "rgb8";
    im.step = 8; /* 6 bytes of pixels, 2 of padding per row */
    im.data.data = px;
    im.data.len = sizeof px;

    uint8_t *raw;
    size_t len;
    Foxglove__RawImage *o = (Foxglove__RawImage *)convert(
        "axon.sensor.Image", &im.base, &foxglove__raw_image__descriptor, &raw, &len);
    check_stamp(o->timestamp, 5, 1);
    assert_string_equal(o->frame_id, "camera_front_optical");
    assert_int_equal(o->width, 2);
    assert_int_equal(o->height, 2);
    assert_string_equal(o->encoding, "rgb8");
    assert_int_equal(o->step, 8);
    assert_int_equal(o->data.len, sizeof px);
    assert_memory_equal(o->data.data, px, sizeof px);
    check_dynamic("axon.sensor.Image", raw + HEAD, len);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);

    /* Big-endian mono16 arrives little-endian. */
    const uint8_t be[4] = {0x12, 0x34, 0xab, 0xcd}, le[4] = {0x34, 0x12, 0xcd, 0xab};
    im.encoding = "mono16";
    im.height = 1;
    im.step = 4;
    im.is_bigendian = 1;
    im.data.data = (uint8_t *)be;
    im.data.len = 4;
    o = (Foxglove__RawImage *)convert("axon.sensor.Image", &im.base,
                                      &foxglove__raw_image__descriptor, &raw, &len);
    assert_string_equal(o->encoding, "mono16");
    assert_memory_equal(o->data.data, le, 4);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
}

static void t_compressed_image(void **state)
{
    static const struct {
        const char *in, *out;
    } formats[] = {{"jpeg", "jpeg"}, {"rgb8; jpeg compressed bgr8", "jpeg"}, {"JPG", "jpeg"},
                   {"png", "png"},   {"bgr8; png compressed", "png"},        {"webp", "webp"},
                   {"tiff", "tiff"}};
    Axon__Std__Header h;
    header_set(&h, 999999999, "camera");
    const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        Axon__Sensor__CompressedImage ci = AXON__SENSOR__COMPRESSED_IMAGE__INIT;
        ci.header = &h;
        ci.format = (char *)formats[i].in;
        ci.data.data = (uint8_t *)jpeg;
        ci.data.len = sizeof jpeg;
        uint8_t *raw;
        size_t len;
        Foxglove__CompressedImage *o = (Foxglove__CompressedImage *)convert(
            "axon.sensor.CompressedImage", &ci.base, &foxglove__compressed_image__descriptor, &raw,
            &len);
        check_stamp(o->timestamp, 0, 999999999);
        assert_string_equal(o->frame_id, "camera");
        assert_string_equal(o->format, formats[i].out);
        assert_int_equal(o->data.len, sizeof jpeg);
        assert_memory_equal(o->data.data, jpeg, sizeof jpeg);
        protobuf_c_message_free_unpacked(&o->base, NULL);
        free(raw);
    }
}

static void t_transform(void **state)
{
    Axon__Std__Header h;
    header_set(&h, -1, "map"); /* just before the epoch: nanos stay >= 0 */
    Axon__Geometry__Vector3 tr = AXON__GEOMETRY__VECTOR3__INIT;
    tr.x = 1.5, tr.y = -2, tr.z = 0.25;
    Axon__Geometry__Quaternion q = AXON__GEOMETRY__QUATERNION__INIT;
    q.x = 0, q.y = 0, q.z = 0.6, q.w = 0.8;
    Axon__Geometry__Transform t = AXON__GEOMETRY__TRANSFORM__INIT;
    t.translation = &tr;
    t.rotation = &q;
    Axon__Geometry__TransformStamped ts = AXON__GEOMETRY__TRANSFORM_STAMPED__INIT;
    ts.header = &h;
    ts.child_frame_id = "base_link";
    ts.transform = &t;

    uint8_t *raw;
    size_t len;
    Foxglove__FrameTransforms *o =
        (Foxglove__FrameTransforms *)convert("axon.geometry.TransformStamped", &ts.base,
                                             &foxglove__frame_transforms__descriptor, &raw, &len);
    assert_int_equal(o->n_transforms, 1);
    Foxglove__FrameTransform *f = o->transforms[0];
    check_stamp(f->timestamp, -1, 999999999);
    assert_string_equal(f->parent_frame_id, "map");
    assert_string_equal(f->child_frame_id, "base_link");
    assert_true(f->translation->x == 1.5 && f->translation->y == -2 && f->translation->z == 0.25);
    assert_true(f->rotation->x == 0 && f->rotation->y == 0 && f->rotation->z == 0.6 &&
                f->rotation->w == 0.8);
    check_dynamic("axon.geometry.TransformStamped", raw + HEAD, len);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);

    /* No rotation set (all zero): the identity, not a degenerate one. */
    t.rotation = NULL;
    o = (Foxglove__FrameTransforms *)convert("axon.geometry.TransformStamped", &ts.base,
                                             &foxglove__frame_transforms__descriptor, &raw, &len);
    assert_true(o->transforms[0]->rotation->w == 1 && o->transforms[0]->rotation->z == 0);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
}

static void t_pose(void **state)
{
    Axon__Std__Header h;
    header_set(&h, 3000000000, "odom");
    Axon__Geometry__Point p = AXON__GEOMETRY__POINT__INIT;
    p.x = 10, p.y = 20, p.z = 30;
    Axon__Geometry__Quaternion q = AXON__GEOMETRY__QUATERNION__INIT;
    q.w = -1;
    Axon__Geometry__Pose pose = AXON__GEOMETRY__POSE__INIT;
    pose.position = &p;
    pose.orientation = &q;
    Axon__Geometry__PoseStamped ps = AXON__GEOMETRY__POSE_STAMPED__INIT;
    ps.header = &h;
    ps.pose = &pose;

    uint8_t *raw;
    size_t len;
    Foxglove__PoseInFrame *o = (Foxglove__PoseInFrame *)convert(
        "axon.geometry.PoseStamped", &ps.base, &foxglove__pose_in_frame__descriptor, &raw, &len);
    check_stamp(o->timestamp, 3, 0);
    assert_string_equal(o->frame_id, "odom");
    assert_true(o->pose->position->x == 10 && o->pose->position->y == 20 &&
                o->pose->position->z == 30);
    assert_true(o->pose->orientation->w == -1 && o->pose->orientation->x == 0);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);

    /* A localization estimate shows as its pose. */
    Axon__Geometry__PoseWithCovariance pc = AXON__GEOMETRY__POSE_WITH_COVARIANCE__INIT;
    pc.pose = &pose;
    Axon__Localization__LocalizationEstimate le = AXON__LOCALIZATION__LOCALIZATION_ESTIMATE__INIT;
    le.header = &h;
    le.child_frame_id = "base_link";
    le.pose = &pc;
    o = (Foxglove__PoseInFrame *)convert("axon.localization.LocalizationEstimate", &le.base,
                                         &foxglove__pose_in_frame__descriptor, &raw, &len);
    assert_string_equal(o->frame_id, "odom");
    assert_true(o->pose->position->y == 20 && o->pose->orientation->w == -1);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
}

static void t_scan_and_fix(void **state)
{
    Axon__Std__Header h;
    header_set(&h, 1, "laser");
    float ranges[4] = {0.05f, 1.0f, 2.5f, 100.0f}, inten[4] = {1, 2, 3, 4};
    Axon__Sensor__LaserScan ls = AXON__SENSOR__LASER_SCAN__INIT;
    ls.header = &h;
    ls.angle_min = -1.5f;
    ls.angle_max = 1.5f;
    ls.range_min = 0.1f;
    ls.range_max = 30.0f;
    ls.n_ranges = 4;
    ls.ranges = ranges;
    ls.n_intensities = 4;
    ls.intensities = inten;
    uint8_t *raw;
    size_t len;
    Foxglove__LaserScan *o = (Foxglove__LaserScan *)convert(
        "axon.sensor.LaserScan", &ls.base, &foxglove__laser_scan__descriptor, &raw, &len);
    check_stamp(o->timestamp, 0, 1);
    assert_string_equal(o->frame_id, "laser");
    check_identity(o->pose);
    assert_true(o->start_angle == -1.5 && o->end_angle == 1.5);
    assert_int_equal(o->n_ranges, 4);
    assert_true(isnan(o->ranges[0]) && o->ranges[1] == 1.0 && o->ranges[2] == 2.5 &&
                isnan(o->ranges[3]));
    assert_int_equal(o->n_intensities, 4);
    assert_true(o->intensities[3] == 4);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);

    double cov[9] = {1, 0, 0, 0, 2, 0, 0, 0, 3};
    Axon__Sensor__GnssFix fx = AXON__SENSOR__GNSS_FIX__INIT;
    fx.header = &h;
    fx.status = AXON__SENSOR__GNSS_FIX__STATUS__RTK_FIXED;
    fx.latitude = 48.1;
    fx.longitude = 11.5;
    fx.altitude = 520;
    fx.n_position_covariance = 9;
    fx.position_covariance = cov;
    fx.position_covariance_type =
        AXON__SENSOR__GNSS_FIX__COVARIANCE_TYPE__COVARIANCE_DIAGONAL_KNOWN;
    Foxglove__LocationFix *lf = (Foxglove__LocationFix *)convert(
        "axon.sensor.GnssFix", &fx.base, &foxglove__location_fix__descriptor, &raw, &len);
    check_stamp(lf->timestamp, 0, 1);
    assert_string_equal(lf->frame_id, "laser");
    assert_true(lf->latitude == 48.1 && lf->longitude == 11.5 && lf->altitude == 520);
    assert_int_equal(lf->n_position_covariance, 9);
    assert_memory_equal(lf->position_covariance, cov, sizeof cov);
    assert_int_equal(lf->position_covariance_type,
                     FOXGLOVE__LOCATION_FIX__POSITION_COVARIANCE_TYPE__DIAGONAL_KNOWN);
    protobuf_c_message_free_unpacked(&lf->base, NULL);
    free(raw);
}

/* @n obstacles: a car with id 42 first, then untracked pedestrians. */
static void t_obstacles_n(size_t n)
{
    Axon__Std__Header h;
    header_set(&h, 1700000000250000000, "base_link");
    Axon__Geometry__Point p = AXON__GEOMETRY__POINT__INIT;
    p.x = 12, p.y = -3, p.z = 0.8;
    Axon__Geometry__Quaternion q = AXON__GEOMETRY__QUATERNION__INIT;
    q.z = 0.70710678, q.w = 0.70710678;
    Axon__Geometry__Pose pose = AXON__GEOMETRY__POSE__INIT;
    pose.position = &p;
    pose.orientation = &q;
    Axon__Geometry__Vector3 size = AXON__GEOMETRY__VECTOR3__INIT;
    size.x = 4.5, size.y = 1.8, size.z = 1.5;
    Axon__Perception__Obstacle *obs = calloc(n, sizeof *obs), **obsp = calloc(n, sizeof *obsp);
    for (size_t i = 0; i < n; i++) {
        axon__perception__obstacle__init(&obs[i]);
        obs[i].id = i == 0 ? 42 : 0;
        obs[i].classification = i == 0 ? AXON__PERCEPTION__OBSTACLE__CLASS__CAR
                                       : AXON__PERCEPTION__OBSTACLE__CLASS__PEDESTRIAN;
        obs[i].confidence = 0.9f;
        obs[i].pose = &pose;
        obs[i].size = i == 0 ? &size : NULL;
        obsp[i] = &obs[i];
    }
    Axon__Perception__ObstacleList ol = AXON__PERCEPTION__OBSTACLE_LIST__INIT;
    ol.header = &h;
    ol.n_obstacles = n;
    ol.obstacles = obsp;
    ol.source = "lidar";

    uint8_t *raw;
    size_t len;
    Foxglove__SceneUpdate *o = (Foxglove__SceneUpdate *)convert(
        "axon.perception.ObstacleList", &ol.base, &foxglove__scene_update__descriptor, &raw, &len);
    assert_int_equal(o->n_deletions, 1);
    assert_int_equal(o->deletions[0]->type, FOXGLOVE__SCENE_ENTITY_DELETION__TYPE__ALL);
    check_stamp(o->deletions[0]->timestamp, 1700000000, 250000000);
    assert_int_equal(o->n_entities, n);
    for (size_t i = 0; i < n; i++) {
        const Foxglove__SceneEntity *e = o->entities[i];
        char id[24];
        snprintf(id, sizeof id, i == 0 ? "42" : "#%zu", i);
        assert_string_equal(e->id, id);
        assert_string_equal(e->frame_id, "base_link");
        check_stamp(e->timestamp, 1700000000, 250000000);
        assert_null(e->lifetime);
        assert_int_equal(e->n_cubes, 1);
        assert_int_equal(e->n_arrows + e->n_spheres + e->n_cylinders + e->n_lines + e->n_texts, 0);
        const Foxglove__CubePrimitive *c = e->cubes[0];
        assert_true(c->pose->position->x == 12 && c->pose->position->y == -3 &&
                    c->pose->position->z == 0.8);
        assert_true(c->pose->orientation->z == 0.70710678 && c->pose->orientation->w == 0.70710678);
        if (i == 0)
            assert_true(c->size->x == 4.5 && c->size->y == 1.8 && c->size->z == 1.5);
        else
            assert_true(c->size->x == 0 && c->size->y == 0 && c->size->z == 0);
        assert_true(c->color->a > 0 && c->color->a < 1);
        assert_int_equal(e->n_metadata, 2);
        assert_string_equal(e->metadata[0]->key, "class");
        assert_string_equal(e->metadata[0]->value, i == 0 ? "CAR" : "PEDESTRIAN");
        assert_string_equal(e->metadata[1]->key, "confidence");
        assert_string_equal(e->metadata[1]->value, "0.90");
    }
    /* Cars and pedestrians differ in colour. */
    if (n > 1)
        assert_true(o->entities[0]->cubes[0]->color->b != o->entities[1]->cubes[0]->color->b);
    check_dynamic("axon.perception.ObstacleList", raw + HEAD, len);
    protobuf_c_message_free_unpacked(&o->base, NULL);
    free(raw);
    free(obs);
    free(obsp);
}

static void t_obstacles(void **state)
{
    t_obstacles_n(2);
    t_obstacles_n(0);
    t_obstacles_n(500); /* past the stack arena: the malloc fallback */
}

/* Unknown fields fill the scratch arena by any amount before the
 * conversion asks for its (possibly empty) arrays: an empty one at the
 * arena's very end was once freed as if malloc'd (found by libFuzzer). */
static void t_arena_edges(void **state)
{
    enum { MAX_UNKNOWN = 700 };
    uint8_t *in = malloc(3 * MAX_UNKNOWN);
    assert_non_null(in);
    for (size_t k = 0; k < MAX_UNKNOWN; k++) {
        in[3 * k] = 0xa0; /* field 100, varint */
        in[3 * k + 1] = 0x06;
        in[3 * k + 2] = 0x01;
    }
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct bridge_conv *cv = bridge_conv_find(pairs[i].axon);
        for (size_t k = 0; k <= MAX_UNKNOWN; k++) {
            uint8_t *out = NULL;
            size_t out_len;
            AX_OK_OR_FAIL(bridge_conv_run(cv, in, 3 * k, HEAD, &out, &out_len));
            free(out);
        }
    }
    free(in);
}

/* Bytes that are no axon message: AX_EPROTO, nothing allocated. */
static void t_bad_input(void **state)
{
    static const uint8_t bad[][6] = {
        {0x0a, 0x05, 0x01},             /* length past the end */
        {0x42, 0xff},                   /* truncated varint length */
        {0x0b, 0x00, 0x00},             /* a group */
        {0x00, 0x01},                   /* field number 0 */
        {0xff, 0xff, 0xff, 0xff, 0xff}, /* truncated tag */
    };
    static const size_t lens[] = {3, 2, 3, 2, 5};
    for (size_t i = 0; i < NPAIRS; i++) {
        const struct bridge_conv *cv = bridge_conv_find(pairs[i].axon);
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            uint8_t *out = (uint8_t *)"x";
            size_t out_len = 99;
            assert_int_equal(bridge_conv_run(cv, bad[k], lens[k], HEAD, &out, &out_len), AX_EPROTO);
            assert_null(out);
            assert_int_equal(out_len, 0);
        }
        /* The empty message is valid: all defaults. */
        uint8_t *out = NULL;
        size_t out_len = 99;
        AX_OK_OR_FAIL(bridge_conv_run(cv, NULL, 0, HEAD, &out, &out_len));
        assert_non_null(out);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_find),
        cmocka_unit_test(t_fds),
        cmocka_unit_test(t_point_cloud),
        cmocka_unit_test(t_point_types),
        cmocka_unit_test(t_point_rewrite),
        cmocka_unit_test(t_image),
        cmocka_unit_test(t_compressed_image),
        cmocka_unit_test(t_transform),
        cmocka_unit_test(t_pose),
        cmocka_unit_test(t_scan_and_fix),
        cmocka_unit_test(t_obstacles),
        cmocka_unit_test(t_arena_edges),
        cmocka_unit_test(t_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
