/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the publisher side of a link (core/pub_link.c):
 * SUBSCRIBE (and SUBSCRIBE again), SCHEMA_REQUEST, a service client's BIND
 * and REQUEST (core/service.c), and whatever else a peer may send once its
 * handshake is done.
 *
 * The frames go through a fake link (transport/ax__link.h is the seam
 * every transport plugs into) accepted by a real node's shard, with a real
 * transient-local publisher that keeps history and publishes between the
 * frames, and a real service "/fuzz/svc" (endpoint 2, axon.geometry.Point
 * both ways). Each input is a sequence of frames: 1 type byte, 2 length
 * bytes (little-endian), the payload; a REQUEST goes to stream 2.
 *
 * Properties, besides "no crash, no leak, no undefined behaviour": every
 * control frame core sends back is a SUBSCRIBE_ACK or a BIND_ACK that
 * decodes, every error reply a CallError that decodes, the inbound limit
 * is raised only after a BIND, and no frame is sent after the link was
 * closed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "axon/axon.h"
#include "axon/msgs.h"
#include "axt_node.h"
#include "control.pb.h"
#include "core/ax__pubsub.h"
#include "core/ax__service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fake {
    ax__link link; /* first */
    bool closed;
    int status;
    bool bind_acked; /* a BIND_ACK without error went out */
    uint32_t max_in;
};

static int f_send(ax__link *l, const struct ax__frame_hdr *h, ax__buf *payload)
{
    (void)h;
    (void)payload;
    if (((struct fake *)l)->closed)
        abort();
    return 0;
}

static int f_send_bytes(ax__link *l, const struct ax__frame_hdr *h, const void *data, size_t len)
{
    if (((struct fake *)l)->closed)
        abort();
    if (h->type == AX__FRAME_REPLY && (h->flags & AX__FRAME_F_ERROR)) {
        axon_ctl_CallError e = axon_ctl_CallError_init_zero;
        pb_istream_t is = pb_istream_from_buffer(data, len);
        if (!pb_decode(&is, axon_ctl_CallError_fields, &e) || e.error == 0)
            abort();
    }
    return 0;
}

static int f_send_control(ax__link *l, uint8_t type, const void *data, size_t len)
{
    struct fake *f = (struct fake *)l;
    pb_istream_t is = pb_istream_from_buffer(data, len);
    if (f->closed)
        abort();
    if (type == AX__FRAME_BIND_ACK) {
        axon_ctl_ServiceBindAck ack = axon_ctl_ServiceBindAck_init_zero;
        if (!pb_decode(&is, axon_ctl_ServiceBindAck_fields, &ack))
            abort();
        if (ack.error == 0) {
            if (f->max_in != ack.max_request) /* raised first, to what it says */
                abort();
            f->bind_acked = true;
        }
        return 0;
    }
    if (type != AX__FRAME_SUBSCRIBE_ACK)
        abort();
    axon_ctl_SubscribeAck ack = axon_ctl_SubscribeAck_init_zero;
    if (!pb_decode(&is, axon_ctl_SubscribeAck_fields, &ack))
        abort();
    return 0;
}

static void f_close(ax__link *l, enum ax__link_close how, int status)
{
    struct fake *f = (struct fake *)l;
    (void)how;
    if (!f->closed) {
        f->closed = true;
        f->status = status;
    }
}

static void f_send_error(ax__link *l, int code, const char *reason)
{
    (void)reason;
    f_close(l, AX__LINK_GRACEFUL, code);
}

static int f_set_reading(ax__link *l, bool on)
{
    (void)l;
    (void)on;
    return 0;
}

static void f_set_queue(ax__link *l, enum ax_overload policy, uint64_t bytes, uint32_t frames)
{
    (void)l;
    (void)policy;
    (void)bytes;
    (void)frames;
}

static void f_queued(const ax__link *l, uint64_t *frames, uint64_t *bytes)
{
    (void)l;
    *frames = *bytes = 0;
}

static void f_stats(const ax__link *l, struct ax__link_stats *out)
{
    (void)l;
    memset(out, 0, sizeof *out);
}

static int f_set_max_in(ax__link *l, uint32_t max)
{
    struct fake *f = (struct fake *)l;
    if (f->closed || f->bind_acked)
        abort();
    f->max_in = max;
    return 0;
}

static const struct ax__link_ops fake_ops = {
    .send = f_send,
    .send_bytes = f_send_bytes,
    .send_control = f_send_control,
    .send_error = f_send_error,
    .close = f_close,
    .set_reading = f_set_reading,
    .set_queue = f_set_queue,
    .queued = f_queued,
    .stats = f_stats,
    .set_max_in = f_set_max_in,
};

static int add(const ProtobufCMessage *req, ProtobufCMessage *rep, struct ax_service_call *call,
               void *user)
{
    (void)user;
    (void)rep;
    const ProtobufCFieldDescriptor *x = &req->descriptor->fields[0];
    double v;
    memcpy(&v, (const uint8_t *)req + x->offset, sizeof v);
    if (v < 0) {
        snprintf(call->why, call->why_size, "negative");
        return AX_EINVAL;
    }
    return v > 1e9 ? AX_EREFUSED : 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ax_log_set_level(AX_LOG_OFF);
    return ax_msgs_register() < 0; /* axon.geometry.Point, for the service */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ax_node *node = axt_quiet_node(0, AX_LOG_OFF);
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = AX_QOS_LATCHED;
    po.qos.history = 4;
    ax_pub *pub;
    if (ax_pub_new_raw(&pub, node, "/fuzz", "fuzz.Raw", &po) < 0)
        abort();
    const ax_type *pt;
    ax_service *svc;
    if (ax_type_find("axon.geometry.Point", &pt) < 0 ||
        ax_service_new(&svc, node, "/fuzz/svc", pt, pt, add, NULL, NULL) < 0)
        abort();
    static const uint8_t msg[200] = {1, 2, 3};
    ax_pub_publish_bytes(pub, msg, sizeof msg); /* history for a replay */

    struct fake f = {0};
    f.link.ops = &fake_ops;
    f.link.ready = true;
    f.link.peer.node_id = 42;
    f.link.peer.purpose = AX__LINK_DATA;
    snprintf(f.link.peer_addr, sizeof f.link.peer_addr, "fuzz");
    struct ax__shard *s = ax__shard_for(node, "/fuzz");
    if (node->ps_ops->accept(s, &f.link) < 0)
        abort();
    if (f.link.cb->on_ready)
        f.link.cb->on_ready(&f.link, &f.link.peer, f.link.user);

    size_t off = 0;
    while (size - off >= 3 && !f.closed) {
        struct ax__frame_hdr h = {.type = data[off], .seq = off};
        if (h.type == AX__FRAME_REQUEST)
            h.stream = 2;
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        h.payload_len = (uint32_t)len;
        f.link.cb->on_frame(&f.link, &h, data + off, NULL, f.link.user);
        off += len;
        if (!f.closed)
            ax_pub_publish_bytes(pub, msg, (size_t)(off % sizeof msg));
    }
    /* The transport's side of a close: on_close once, later. */
    if (!f.closed)
        f_close(&f.link, AX__LINK_ABORT, 0);
    f.link.cb->on_close(&f.link, f.status, f.link.user);
    ax_service_free(svc);
    ax_pub_free(pub);
    ax_node_destroy(node);
    return 0;
}
