/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon bridge foxglove: axon's standard messages offered as Foxglove's
 * well-known schemas (foxglove.PointCloud, foxglove.RawImage, ...), which
 * Foxglove's and Lichtblick's panels recognise by name; axon's own types
 * show in the generic panels only. The bridge advertises a topic of a type
 * that has a conversion twice, as itself and as the foxglove schema, and
 * converts each message for the subscribers of the second.
 *
 * The schemas are .proto files of our own (tools/axon/foxglove/proto) with
 * the field names, numbers and types of Foxglove's; foxglove.cmake compiles
 * them into the static library axon_bridge_convert with this file's code.
 *
 * Conversions: axon.sensor.Image -> foxglove.RawImage, CompressedImage ->
 * foxglove.CompressedImage, PointCloud -> foxglove.PointCloud, LaserScan ->
 * foxglove.LaserScan, GnssFix -> foxglove.LocationFix;
 * axon.geometry.PoseStamped and axon.localization.LocalizationEstimate ->
 * foxglove.PoseInFrame; axon.geometry.TransformStamped ->
 * foxglove.FrameTransforms; axon.perception.ObstacleList ->
 * foxglove.SceneUpdate (a cube per obstacle). bridge_convert.c says what
 * each one maps and drops.
 *
 * Everything here is stateless and may be called from any thread.
 */
#ifndef AXON_CLI_BRIDGE_CONVERT_H
#define AXON_CLI_BRIDGE_CONVERT_H

#include <stddef.h>
#include <stdint.h>

/* One conversion: an axon type to a foxglove schema. Static data. */
struct bridge_conv;

/* The conversion of the axon type @type_name ("axon.sensor.PointCloud"),
 * or NULL when it has none. */
const struct bridge_conv *bridge_conv_find(const char *type_name);

/* The foxglove schema's full name ("foxglove.PointCloud"). */
const char *bridge_conv_schema_name(const struct bridge_conv *cv);

/* The schema as a serialized google.protobuf.FileDescriptorSet: its .proto
 * file and every file it imports. Static data; *len receives its length. */
const uint8_t *bridge_conv_fds(const struct bridge_conv *cv, size_t *len);

/*
 * Convert one serialized axon message into a serialized foxglove message.
 * @in, @len: the axon message (borrowed for the call).
 * @headroom: bytes reserved in front of the message, for the caller's frame
 *            header: the message starts at *out + @headroom.
 * @out: receives the buffer (malloc'd, @headroom + *out_len bytes; the
 *       caller frees it), @out_len the message's length.
 *
 * The bulk bytes of images and point clouds are copied once, straight from
 * @in into *out (except rare layouts that need rewriting: big-endian pixels
 * or points, padded point rows).
 *
 * Returns 0; AX_EPROTO when @in does not decode as the axon type;
 * AX_EMSGSIZE when the result would pass protobuf's 2 GiB; AX_ENOMEM. *out is
 * NULL on failure.
 */
int bridge_conv_run(const struct bridge_conv *cv, const uint8_t *in, size_t len, size_t headroom,
                    uint8_t **out, size_t *out_len);

#endif
