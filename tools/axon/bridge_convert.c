/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon bridge foxglove: axon's standard messages as Foxglove's schemas (see
 * bridge_convert.h).
 *
 * Both sides are protobuf-c generated code: the axon message is unpacked,
 * a foxglove message is built around it (on the stack, its strings and
 * arrays pointing into the unpacked one) and packed once into the caller's
 * buffer behind the headroom. protobuf-c copies a bytes field on unpack, so
 * for the three types with a bulk field (pixels, points) the top level of
 * the input is split first: the bulk field stays where it is in the input
 * and only the rest is unpacked; the pack then copies the bulk bytes once,
 * from the input into the output.
 *
 * Unpacking allocates per submessage and string: an arena on the stack
 * takes those and the output's small arrays (malloc past it), so a typical
 * message costs one malloc, the output buffer.
 *
 * Foxglove's conventions that differ from axon's: times are a
 * google.protobuf.Timestamp (seconds, nanos) instead of int64 nanoseconds;
 * point and pixel data are little-endian only; a point cloud is a flat
 * list of points (no rows, no padding); an all-zero quaternion is not
 * "unset" but a degenerate rotation, so it becomes the identity here.
 */
#include "bridge_convert.h"

#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/common.h"
#include "axon/msgs/geometry.pb-c.h"
#include "axon/msgs/localization.pb-c.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"
#include "axon_foxglove_types.h"
#include "foxglove/CompressedImage.pb-c.h"
#include "foxglove/FrameTransforms.pb-c.h"
#include "foxglove/LaserScan.pb-c.h"
#include "foxglove/LocationFix.pb-c.h"
#include "foxglove/PointCloud.pb-c.h"
#include "foxglove/PoseInFrame.pb-c.h"
#include "foxglove/RawImage.pb-c.h"
#include "foxglove/SceneUpdate.pb-c.h"

/* ---- scratch memory ---- */

/* 8 KiB holds an unpacked image or cloud header and its fields, or a few
 * dozen obstacles with their output; the loop threads that call this have
 * the default (MiB) stacks. */
#define ARENA_SIZE  8192
#define ARENA_ALIGN alignof(max_align_t)

struct arena {
    size_t used;
    alignas(max_align_t) unsigned char buf[ARENA_SIZE];
};

static void *arena_alloc(void *ad, size_t size)
{
    struct arena *a = ad;
    /* Zero bytes take one: a block at the arena's very end would look like
     * a malloc'd one to arena_free(). */
    size = size ? size : 1;
    size_t n = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n >= size && n <= sizeof a->buf - a->used) {
        void *p = a->buf + a->used;
        a->used += n;
        return p;
    }
    return malloc(size);
}

/* Arena memory is released with the arena (the caller's stack frame); only
 * the fallback blocks are freed one by one. */
static void arena_free(void *ad, void *p)
{
    struct arena *a = ad;
    uintptr_t u = (uintptr_t)p, lo = (uintptr_t)a->buf;
    if (p && (u < lo || u >= lo + sizeof a->buf))
        free(p);
}

/* ---- the input: the bulk field apart ---- */

static bool get_varint(const uint8_t *in, size_t len, size_t *pos, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = in[(*pos)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* The top-level field at @pos: its number, its wire type, where it ends
 * and where a length-delimited one's payload starts. False when it is
 * malformed or a group (proto3 has none). */
static bool next_field(const uint8_t *in, size_t len, size_t *pos, uint32_t *no, unsigned *wt,
                       size_t *payload)
{
    uint64_t tag, n;
    if (!get_varint(in, len, pos, &tag) || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
        return false;
    *no = (uint32_t)(tag >> 3);
    *wt = (unsigned)(tag & 7);
    switch (*wt) {
    case 0:
        return get_varint(in, len, pos, &n);
    case 1:
    case 5:
        n = *wt == 1 ? 8 : 4;
        break;
    case 2:
        if (!get_varint(in, len, pos, &n))
            return false;
        break;
    default:
        return false;
    }
    if (n > len - *pos)
        return false;
    *payload = *pos;
    *pos += (size_t)n;
    return true;
}

/* Split @in into the bytes field @bulk_no, left in place (the last
 * occurrence wins, as protobuf's merge rule says), and a copy of every
 * other field in *rest (arena memory, or malloc'd when large). */
static int split_bulk(const uint8_t *in, size_t len, uint32_t bulk_no, struct arena *a,
                      uint8_t **rest, size_t *rest_len, ProtobufCBinaryData *bulk)
{
    size_t keep = 0, pos = 0, start, payload = 0;
    uint32_t no;
    unsigned wt;
    while (pos < len) {
        start = pos;
        if (!next_field(in, len, &pos, &no, &wt, &payload))
            return AX_EPROTO;
        if (no == bulk_no && wt == 2) {
            bulk->data = (uint8_t *)in + payload;
            bulk->len = pos - payload;
        } else {
            keep += pos - start;
        }
    }
    *rest_len = keep;
    *rest = arena_alloc(a, keep);
    if (!*rest)
        return AX_ENOMEM;
    keep = pos = 0;
    while (pos < len) {
        start = pos;
        next_field(in, len, &pos, &no, &wt, &payload);
        if (!(no == bulk_no && wt == 2)) {
            memcpy(*rest + keep, in + start, pos - start);
            keep += pos - start;
        }
    }
    return 0;
}

/* ---- the output ---- */

/* What a conversion gets beside the axon message (unpacked without its
 * bulk field): the bulk bytes (still in the input), the scratch arena and
 * where its packed foxglove message goes (pack_out()). */
struct conv_ctx {
    ProtobufCBinaryData bulk;
    struct arena *a;
    size_t headroom;
    uint8_t **out;
    size_t *out_len;
};
typedef int (*conv_fn)(const ProtobufCMessage *in, struct conv_ctx *x);

static int pack_out(const ProtobufCMessage *m, const struct conv_ctx *x)
{
    size_t headroom = x->headroom;
    size_t n = protobuf_c_message_get_packed_size(m);
    /* Protobuf's own limit: 2 GiB less one byte per message. */
    if (n > INT32_MAX || headroom > SIZE_MAX - n - 1)
        return AX_EMSGSIZE;
    uint8_t *p = malloc(headroom + n + 1); /* + 1: never malloc(0) */
    if (!p)
        return AX_ENOMEM;
    protobuf_c_message_pack(m, p + headroom);
    *x->out = p;
    *x->out_len = n;
    return 0;
}

/* ---- common parts ---- */

/* Unix-epoch nanoseconds as a Timestamp, whose nanos are never negative. */
static void stamp_of(Google__Protobuf__Timestamp *t, const Axon__Std__Header *h)
{
    int64_t ns = h ? h->stamp_ns : 0;
    int64_t s = ns / 1000000000, r = ns % 1000000000;
    if (r < 0) {
        r += 1000000000;
        s--;
    }
    google__protobuf__timestamp__init(t);
    t->seconds = s;
    t->nanos = (int32_t)r;
}

/* The output's strings point into the input; protobuf-c's pack only reads
 * them, but its structs are not const. */
static char *frame_of(const Axon__Std__Header *h)
{
    return (char *)(h && h->frame_id ? h->frame_id : "");
}

/* A missing or all-zero axon quaternion means "not set": the identity. */
static void quat_of(Foxglove__Quaternion *q, const Axon__Geometry__Quaternion *in)
{
    foxglove__quaternion__init(q);
    if (in && (in->x != 0 || in->y != 0 || in->z != 0 || in->w != 0)) {
        q->x = in->x;
        q->y = in->y;
        q->z = in->z;
        q->w = in->w;
    } else {
        q->w = 1;
    }
}

/* A foxglove pose and its parts, for messages that embed one. */
struct fx_pose {
    Foxglove__Pose pose;
    Foxglove__Vector3 pos;
    Foxglove__Quaternion rot;
};

static Foxglove__Pose *pose_of(struct fx_pose *p, const Axon__Geometry__Pose *in)
{
    foxglove__pose__init(&p->pose);
    foxglove__vector3__init(&p->pos);
    if (in && in->position) {
        p->pos.x = in->position->x;
        p->pos.y = in->position->y;
        p->pos.z = in->position->z;
    }
    quat_of(&p->rot, in ? in->orientation : NULL);
    p->pose.position = &p->pos;
    p->pose.orientation = &p->rot;
    return &p->pose;
}

static void vec_of(Foxglove__Vector3 *v, const Axon__Geometry__Vector3 *in)
{
    foxglove__vector3__init(v);
    if (in) {
        v->x = in->x;
        v->y = in->y;
        v->z = in->z;
    }
}

/* Reverse the @size bytes at @p (one value to the other byte order). */
static void swap_in_place(uint8_t *p, size_t size)
{
    for (size_t k = 0; k < size / 2; k++) {
        uint8_t t = p[k];
        p[k] = p[size - 1 - k];
        p[size - 1 - k] = t;
    }
}

/* ---- the conversions ---- */

/* Bytes per channel value of a ROS-style image encoding ("mono16",
 * "bgr16", "bayer_rggb16", "32FC1", "16UC3"), for byte swapping; 1 for
 * 8-bit and packed encodings and for names it does not know. */
static size_t image_elem_size(const char *enc)
{
    size_t n = strlen(enc);
    if (enc[0] >= '0' && enc[0] <= '9') {
        unsigned long bits = strtoul(enc, NULL, 10);
        return bits == 16 || bits == 32 || bits == 64 ? (size_t)bits / 8 : 1;
    }
    return n >= 2 && strcmp(enc + n - 2, "16") == 0 ? 2 : 1;
}

/* axon.sensor.Image -> foxglove.RawImage. The encoding names are the same
 * (ROS's) on both sides and pass through; Foxglove has no byte-order flag
 * and reads little-endian, so big-endian 16/32/64-bit pixels are swapped
 * (the one case that copies the pixels twice). */
static int conv_image(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Sensor__Image *in = (const Axon__Sensor__Image *)m;
    Foxglove__RawImage o = FOXGLOVE__RAW_IMAGE__INIT;
    Google__Protobuf__Timestamp ts;
    stamp_of(&ts, in->header);
    o.timestamp = &ts;
    o.frame_id = frame_of(in->header);
    o.width = in->width;
    o.height = in->height;
    o.encoding = in->encoding;
    o.step = in->step;
    o.data = x->bulk;
    uint8_t *swapped = NULL;
    size_t es = image_elem_size(in->encoding);
    if (in->is_bigendian && es > 1 && o.data.len) {
        swapped = malloc(o.data.len);
        if (!swapped)
            return AX_ENOMEM;
        memcpy(swapped, o.data.data, o.data.len);
        for (size_t i = 0; i + es <= o.data.len; i += es)
            swap_in_place(swapped + i, es);
        o.data.data = swapped;
    }
    int rc = pack_out(&o.base, x);
    free(swapped);
    return rc;
}

/* Foxglove's format names ("jpeg", "png", "webp", "avif") from axon's
 * free-form ones ("jpeg", "rgb8; jpeg compressed bgr8", "JPG", ...). */
static const char *image_format(const char *f)
{
    static const char *const known[] = {"jpeg", "png", "webp", "avif"};
    char low[64];
    size_t i = 0;
    for (; f[i] && i < sizeof low - 1; i++)
        low[i] = (char)(f[i] >= 'A' && f[i] <= 'Z' ? f[i] - 'A' + 'a' : f[i]);
    low[i] = '\0';
    if (strstr(low, "jpg"))
        return "jpeg";
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strstr(low, known[k]))
            return known[k];
    return f;
}

/* axon.sensor.CompressedImage -> foxglove.CompressedImage. */
static int conv_compressed(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Sensor__CompressedImage *in = (const Axon__Sensor__CompressedImage *)m;
    Foxglove__CompressedImage o = FOXGLOVE__COMPRESSED_IMAGE__INIT;
    Google__Protobuf__Timestamp ts;
    stamp_of(&ts, in->header);
    o.timestamp = &ts;
    o.frame_id = frame_of(in->header);
    o.format = (char *)image_format(in->format);
    o.data = x->bulk;
    return pack_out(&o.base, x);
}

/* axon.sensor.PointField.DataType (the index) -> Foxglove's NumericType
 * (whose order differs: unsigned first) and the element size. */
#define AX_DT(t)            AXON__SENSOR__POINT_FIELD__DATA_TYPE__##t
#define FX_NT(t)            FOXGLOVE__PACKED_ELEMENT_FIELD__NUMERIC_TYPE__##t
#define CLOUD_TYPE(t, size) [AX_DT(t)] = {FX_NT(t), size}
static const struct {
    uint8_t type, size;
} cloud_types[] = {
    CLOUD_TYPE(INT8, 1),  CLOUD_TYPE(UINT8, 1),  CLOUD_TYPE(INT16, 2),   CLOUD_TYPE(UINT16, 2),
    CLOUD_TYPE(INT32, 4), CLOUD_TYPE(UINT32, 4), CLOUD_TYPE(FLOAT32, 4), CLOUD_TYPE(FLOAT64, 8),
};

/* The element size of @f, or 0 when its type is unknown (not mapped). */
static size_t field_size(const Axon__Sensor__PointField *f)
{
    int t = (int)f->datatype;
    return t > 0 && t < (int)(sizeof cloud_types / sizeof cloud_types[0]) ? cloud_types[t].size : 0;
}

/* The points of @in as Foxglove wants them: whole points of point_step
 * bytes, no row padding, little-endian. Usually a slice of the input;
 * a malloc'd copy in *owned when rows are padded (an organized cloud with
 * row_step > width * point_step) or the points big-endian. */
static int cloud_data(const Axon__Sensor__PointCloud *in, ProtobufCBinaryData bulk,
                      ProtobufCBinaryData *data, uint8_t **owned)
{
    size_t stride = in->point_step, len = bulk.len;
    *owned = NULL;
    data->data = NULL;
    data->len = 0;
    if (stride == 0 || len < stride)
        return 0;
    uint64_t row = (uint64_t)in->width * stride;
    bool padded = in->height > 1 && row > 0 && in->row_step > row;
    if (!padded && !in->is_bigendian) {
        data->data = bulk.data;
        data->len = len - len % stride;
        return 0;
    }
    /* Rows of rlen bytes every rstep bytes; an unpadded cloud is one row. */
    size_t rlen = padded ? (size_t)row : len - len % stride;
    size_t rstep = padded ? in->row_step : rlen;
    size_t nrows = len < rlen ? 0 : (len - rlen) / rstep + 1;
    if (padded && nrows > in->height)
        nrows = in->height;
    uint8_t *p = malloc(nrows * rlen + 1); /* <= len: no overflow */
    if (!p)
        return AX_ENOMEM;
    for (size_t r = 0; r < nrows; r++)
        memcpy(p + r * rlen, bulk.data + r * rstep, rlen);
    size_t n = nrows * rlen;
    if (in->is_bigendian) {
        /* The size of the value at each offset of a point, for the fields
         * conv_cloud() passes on (their first element): one walk over it
         * per point keeps the work linear in the data, whatever the
         * fields (many, overlapping). */
        uint8_t *sw = calloc(stride, 1);
        if (!sw) {
            free(p);
            return AX_ENOMEM;
        }
        for (size_t i = 0; i < in->n_fields; i++) {
            size_t size = field_size(in->fields[i]), off = in->fields[i]->offset;
            if (size > 1 && off + size <= stride)
                sw[off] = (uint8_t)size;
        }
        for (size_t pt = 0; pt + stride <= n; pt += stride)
            for (size_t off = 0; off < stride; off += sw[off] ? sw[off] : 1)
                if (sw[off])
                    swap_in_place(p + pt + off, sw[off]);
        free(sw);
    }
    data->data = p;
    data->len = n;
    *owned = p;
    return 0;
}

/* axon.sensor.PointCloud -> foxglove.PointCloud: fields mapped with their
 * types (a field with count > 1 keeps its first element only: Foxglove's
 * fields have no count; fields of unknown type or past point_step are
 * dropped, since Foxglove refuses the whole cloud for them); the cloud's
 * pose is the identity in header.frame_id. */
static int conv_cloud(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Sensor__PointCloud *in = (const Axon__Sensor__PointCloud *)m;
    Foxglove__PointCloud o = FOXGLOVE__POINT_CLOUD__INIT;
    Google__Protobuf__Timestamp ts;
    struct fx_pose pose;
    stamp_of(&ts, in->header);
    o.timestamp = &ts;
    o.frame_id = frame_of(in->header);
    o.pose = pose_of(&pose, NULL);
    o.point_stride = in->point_step;

    size_t nf = in->n_fields; /* each took >= 2 input bytes: no overflow */
    Foxglove__PackedElementField *f = arena_alloc(x->a, nf * sizeof *f);
    Foxglove__PackedElementField **fp = arena_alloc(x->a, nf * sizeof *fp);
    uint8_t *owned = NULL;
    int rc = AX_ENOMEM;
    if (!f || !fp)
        goto out;
    for (size_t i = 0; i < nf; i++) {
        const Axon__Sensor__PointField *pf = in->fields[i];
        size_t size = field_size(pf);
        if (!size || (uint64_t)pf->offset + size > in->point_step)
            continue;
        Foxglove__PackedElementField *e = &f[o.n_fields];
        foxglove__packed_element_field__init(e);
        e->name = pf->name;
        e->offset = pf->offset;
        e->type = (Foxglove__PackedElementField__NumericType)cloud_types[pf->datatype].type;
        fp[o.n_fields++] = e;
    }
    o.fields = fp;
    rc = cloud_data(in, x->bulk, &o.data, &owned);
    if (rc == 0)
        rc = pack_out(&o.base, x);
out:
    free(owned);
    arena_free(x->a, fp);
    arena_free(x->a, f);
    return rc;
}

/* @n floats as doubles (arena or malloc'd); ranges outside [@lo, @hi]
 * become NaN when @hi > @lo. NULL only when out of memory with @n > 0. */
static double *doubles_of(struct arena *a, const float *v, size_t n, float lo, float hi)
{
    double *d = arena_alloc(a, n * sizeof *d); /* n floats came in: no overflow */
    for (size_t i = 0; d && i < n; i++)
        d[i] = hi > lo && (v[i] < lo || v[i] > hi) ? NAN : (double)v[i];
    return d;
}

/* axon.sensor.LaserScan -> foxglove.LaserScan: the scan's origin is the
 * identity pose in header.frame_id. Foxglove has no valid range interval,
 * so ranges outside [range_min, range_max] become NaN (drawn as nothing). */
static int conv_scan(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Sensor__LaserScan *in = (const Axon__Sensor__LaserScan *)m;
    Foxglove__LaserScan o = FOXGLOVE__LASER_SCAN__INIT;
    Google__Protobuf__Timestamp ts;
    struct fx_pose pose;
    stamp_of(&ts, in->header);
    o.timestamp = &ts;
    o.frame_id = frame_of(in->header);
    o.pose = pose_of(&pose, NULL);
    o.start_angle = in->angle_min;
    o.end_angle = in->angle_max;
    o.ranges = doubles_of(x->a, in->ranges, in->n_ranges, in->range_min, in->range_max);
    o.intensities = doubles_of(x->a, in->intensities, in->n_intensities, 0, 0);
    int rc = AX_ENOMEM;
    if (o.ranges && o.intensities) {
        o.n_ranges = in->n_ranges;
        o.n_intensities = in->n_intensities;
        rc = pack_out(&o.base, x);
    }
    arena_free(x->a, o.intensities);
    arena_free(x->a, o.ranges);
    return rc;
}

/* axon.sensor.GnssFix -> foxglove.LocationFix (the covariance types have
 * the same numbers on both sides). The fix status has no counterpart: a
 * NO_FIX message is passed on with whatever position it holds. */
static int conv_fix(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Sensor__GnssFix *in = (const Axon__Sensor__GnssFix *)m;
    Foxglove__LocationFix o = FOXGLOVE__LOCATION_FIX__INIT;
    Google__Protobuf__Timestamp ts;
    stamp_of(&ts, in->header);
    o.timestamp = &ts;
    o.frame_id = frame_of(in->header);
    o.latitude = in->latitude;
    o.longitude = in->longitude;
    o.altitude = in->altitude;
    o.n_position_covariance = in->n_position_covariance;
    o.position_covariance = in->position_covariance;
    int t = (int)in->position_covariance_type;
    o.position_covariance_type =
        (Foxglove__LocationFix__PositionCovarianceType)(t >= 0 && t <= 3 ? t : 0);
    return pack_out(&o.base, x);
}

static int pose_in_frame(const Axon__Std__Header *h, const Axon__Geometry__Pose *p,
                         struct conv_ctx *x)
{
    Foxglove__PoseInFrame o = FOXGLOVE__POSE_IN_FRAME__INIT;
    Google__Protobuf__Timestamp ts;
    struct fx_pose pose;
    stamp_of(&ts, h);
    o.timestamp = &ts;
    o.frame_id = frame_of(h);
    o.pose = pose_of(&pose, p);
    return pack_out(&o.base, x);
}

/* axon.geometry.PoseStamped -> foxglove.PoseInFrame. */
static int conv_pose(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Geometry__PoseStamped *in = (const Axon__Geometry__PoseStamped *)m;
    return pose_in_frame(in->header, in->pose, x);
}

/* axon.localization.LocalizationEstimate -> foxglove.PoseInFrame: the
 * pose only (covariance, twist, acceleration and status are dropped). */
static int conv_loc(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Localization__LocalizationEstimate *in =
        (const Axon__Localization__LocalizationEstimate *)m;
    return pose_in_frame(in->header, in->pose ? in->pose->pose : NULL, x);
}

/* axon.geometry.TransformStamped -> foxglove.FrameTransforms with one
 * transform: header.frame_id is the parent, as in axon. (axon has no list
 * type; the list schema is the one Foxglove recommends, and a bridge that
 * batched transforms later would keep it.) */
static int conv_tf(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Geometry__TransformStamped *in = (const Axon__Geometry__TransformStamped *)m;
    const Axon__Geometry__Transform *t = in->transform;
    Foxglove__FrameTransforms o = FOXGLOVE__FRAME_TRANSFORMS__INIT;
    Foxglove__FrameTransform tf = FOXGLOVE__FRAME_TRANSFORM__INIT, *tfp = &tf;
    Google__Protobuf__Timestamp ts;
    Foxglove__Vector3 tr;
    Foxglove__Quaternion rot;
    stamp_of(&ts, in->header);
    vec_of(&tr, t ? t->translation : NULL);
    quat_of(&rot, t ? t->rotation : NULL);
    tf.timestamp = &ts;
    tf.parent_frame_id = frame_of(in->header);
    tf.child_frame_id = in->child_frame_id;
    tf.translation = &tr;
    tf.rotation = &rot;
    o.n_transforms = 1;
    o.transforms = &tfp;
    return pack_out(&o.base, x);
}

/* The cube colour of an obstacle class (RGBA, translucent so that points
 * inside stay visible): vehicles blue, people red, riders orange, animals
 * purple, cones and barriers yellow, the rest grey. */
static void class_color(Foxglove__Color *c, int cls)
{
#define CLASS_RGB(cls, r, g, b) [AXON__PERCEPTION__OBSTACLE__CLASS__##cls] = { r, g, b }
    static const float rgb[][3] = {
        CLASS_RGB(CAR, 0.2f, 0.5f, 1.0f),     CLASS_RGB(TRUCK, 0.1f, 0.3f, 0.9f),
        CLASS_RGB(BUS, 0.1f, 0.3f, 0.9f),     CLASS_RGB(PEDESTRIAN, 1.0f, 0.2f, 0.2f),
        CLASS_RGB(CYCLIST, 1.0f, 0.6f, 0.1f), CLASS_RGB(MOTORCYCLIST, 1.0f, 0.6f, 0.1f),
        CLASS_RGB(ANIMAL, 0.7f, 0.3f, 0.9f),  CLASS_RGB(TRAFFIC_CONE, 1.0f, 0.9f, 0.1f),
        CLASS_RGB(BARRIER, 1.0f, 0.9f, 0.1f),
    };
    foxglove__color__init(c);
    c->r = c->g = c->b = 0.7;
    if (cls > 0 && cls < (int)(sizeof rgb / sizeof rgb[0]) && rgb[cls][0] > 0) {
        c->r = rgb[cls][0];
        c->g = rgb[cls][1];
        c->b = rgb[cls][2];
    }
    c->a = 0.5;
}

/* Everything one obstacle's entity is made of, allocated together. */
struct fx_obstacle {
    Foxglove__SceneEntity ent;
    Foxglove__CubePrimitive cube, *cubep;
    struct fx_pose pose;
    Foxglove__Vector3 size;
    Foxglove__Color color;
    Foxglove__KeyValuePair kv[2], *kvp[2];
    char id[24], conf[16];
};

static void obstacle_entity(struct fx_obstacle *x, const Axon__Perception__Obstacle *ob, size_t i,
                            Google__Protobuf__Timestamp *ts, char *frame)
{
    foxglove__scene_entity__init(&x->ent);
    foxglove__cube_primitive__init(&x->cube);
    x->cube.pose = pose_of(&x->pose, ob->pose);
    vec_of(&x->size, ob->size);
    x->cube.size = &x->size;
    class_color(&x->color, (int)ob->classification);
    x->cube.color = &x->color;
    x->cubep = &x->cube;
    /* A tracked obstacle keeps its entity across lists; an untracked one
     * (id 0) is named by its place in the list. */
    if (ob->id)
        snprintf(x->id, sizeof x->id, "%llu", (unsigned long long)ob->id);
    else
        snprintf(x->id, sizeof x->id, "#%zu", i);
    snprintf(x->conf, sizeof x->conf, "%.2f", (double)ob->confidence);
    const ProtobufCEnumValue *cls = protobuf_c_enum_descriptor_get_value(
        &axon__perception__obstacle__class__descriptor, (int)ob->classification);
    for (int k = 0; k < 2; k++) {
        foxglove__key_value_pair__init(&x->kv[k]);
        x->kvp[k] = &x->kv[k];
    }
    x->kv[0].key = "class";
    x->kv[0].value = (char *)(cls ? cls->name : "?");
    x->kv[1].key = "confidence";
    x->kv[1].value = x->conf;
    x->ent.timestamp = ts;
    x->ent.frame_id = frame;
    x->ent.id = x->id;
    x->ent.n_metadata = 2;
    x->ent.metadata = x->kvp;
    x->ent.n_cubes = 1;
    x->ent.cubes = &x->cubep;
}

/* axon.perception.ObstacleList -> foxglove.SceneUpdate: one entity per
 * obstacle, a cube of its size at its pose, coloured by class, its class
 * and confidence as metadata. The update first deletes all of the topic's
 * entities, so that an obstacle missing from the list disappears (entities
 * live until replaced or deleted). Velocity, acceleration, footprint
 * polygon and covariance are not drawn. */
static int conv_obstacles(const ProtobufCMessage *m, struct conv_ctx *x)
{
    const Axon__Perception__ObstacleList *in = (const Axon__Perception__ObstacleList *)m;
    Foxglove__SceneUpdate o = FOXGLOVE__SCENE_UPDATE__INIT;
    Foxglove__SceneEntityDeletion del = FOXGLOVE__SCENE_ENTITY_DELETION__INIT, *delp = &del;
    Google__Protobuf__Timestamp ts;
    stamp_of(&ts, in->header);
    del.timestamp = &ts;
    del.type = FOXGLOVE__SCENE_ENTITY_DELETION__TYPE__ALL;
    o.n_deletions = 1;
    o.deletions = &delp;

    size_t n = in->n_obstacles; /* each took >= 2 input bytes: no overflow */
    struct fx_obstacle *ob = arena_alloc(x->a, n * sizeof *ob);
    Foxglove__SceneEntity **ents = arena_alloc(x->a, n * sizeof *ents);
    int rc = AX_ENOMEM;
    if (ob && ents) {
        for (size_t i = 0; i < n; i++) {
            obstacle_entity(&ob[i], in->obstacles[i], i, &ts, frame_of(in->header));
            ents[i] = &ob[i].ent;
        }
        o.n_entities = n;
        o.entities = ents;
        rc = pack_out(&o.base, x);
    }
    arena_free(x->a, ents);
    arena_free(x->a, ob);
    return rc;
}

/* ---- the table ---- */

struct bridge_conv {
    const ProtobufCMessageDescriptor *in, *out;
    uint32_t bulk_field; /* the input's bytes field to leave in place; 0: none */
    conv_fn run;
};

static const struct bridge_conv convs[] = {
    {&axon__sensor__image__descriptor, &foxglove__raw_image__descriptor, 7, conv_image},
    {&axon__sensor__compressed_image__descriptor, &foxglove__compressed_image__descriptor, 3,
     conv_compressed},
    {&axon__sensor__point_cloud__descriptor, &foxglove__point_cloud__descriptor, 8, conv_cloud},
    {&axon__sensor__laser_scan__descriptor, &foxglove__laser_scan__descriptor, 0, conv_scan},
    {&axon__sensor__gnss_fix__descriptor, &foxglove__location_fix__descriptor, 0, conv_fix},
    {&axon__geometry__pose_stamped__descriptor, &foxglove__pose_in_frame__descriptor, 0, conv_pose},
    {&axon__localization__localization_estimate__descriptor, &foxglove__pose_in_frame__descriptor,
     0, conv_loc},
    {&axon__geometry__transform_stamped__descriptor, &foxglove__frame_transforms__descriptor, 0,
     conv_tf},
    {&axon__perception__obstacle_list__descriptor, &foxglove__scene_update__descriptor, 0,
     conv_obstacles},
};

const struct bridge_conv *bridge_conv_find(const char *type_name)
{
    for (size_t i = 0; type_name && i < sizeof convs / sizeof convs[0]; i++)
        if (strcmp(convs[i].in->name, type_name) == 0)
            return &convs[i];
    return NULL;
}

const char *bridge_conv_schema_name(const struct bridge_conv *cv)
{
    return cv->out->name;
}

/* The generated set has one FileDescriptorSet per .proto file (with its
 * imports) and the descriptors each file defines: the schema's is the
 * file that defines its message. */
const uint8_t *bridge_conv_fds(const struct bridge_conv *cv, size_t *len)
{
    const struct ax_type_set *set = ax_types_axon_foxglove();
    for (size_t i = 0; i < set->n_files; i++)
        for (size_t k = 0; k < set->files[i].n_messages; k++)
            if (set->files[i].messages[k] == cv->out) {
                *len = set->files[i].fds_len;
                return set->files[i].fds;
            }
    *len = 0; /* not reached: every output type is in the set */
    return NULL;
}

int bridge_conv_run(const struct bridge_conv *cv, const uint8_t *in, size_t len, size_t headroom,
                    uint8_t **out, size_t *out_len)
{
    struct arena a;
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &a};
    struct conv_ctx ctx = {{0, NULL}, &a, headroom, out, out_len};
    uint8_t *rest = NULL;
    const uint8_t *body = in;
    size_t body_len = len;
    int rc = 0;

    a.used = 0;
    *out = NULL;
    *out_len = 0;
    if (cv->bulk_field) {
        rc = split_bulk(in, len, cv->bulk_field, &a, &rest, &body_len, &ctx.bulk);
        body = rest;
    }
    if (rc == 0) {
        /* NULL for malformed input and for no memory alike: the latter is
         * rare enough to be reported as the former. */
        ProtobufCMessage *m = protobuf_c_message_unpack(cv->in, &alloc, body_len, body);
        rc = m ? cv->run(m, &ctx) : AX_EPROTO;
        if (m)
            protobuf_c_message_free_unpacked(m, &alloc);
    }
    arena_free(&a, rest);
    return rc;
}
