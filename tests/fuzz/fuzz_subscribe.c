/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the publisher side of a link (core/pub_link.c):
 * SUBSCRIBE (and SUBSCRIBE again), SCHEMA_REQUEST and whatever else a
 * subscribing peer may send once its handshake is done.
 *
 * The frames go through a fake link (transport/ax__link.h is the seam
 * every transport plugs into) accepted by a real node's shard, with a real
 * transient-local publisher that keeps history and publishes between the
 * frames. Each input is a sequence of frames: 1 type byte, 2 length bytes
 * (little-endian), the payload.
 *
 * Properties, besides "no crash, no leak, no undefined behaviour": every
 * control frame core sends back is a SUBSCRIBE_ACK that decodes, and no
 * frame is sent after the link was closed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>

#include "axon/axon.h"
#include "axt_node.h"
#include "control.pb.h"
#include "core/ax__pubsub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct fake {
    ax__link link; /* first */
    bool closed;
    int status;
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
    (void)h;
    (void)data;
    (void)len;
    if (((struct fake *)l)->closed)
        abort();
    return 0;
}

static int f_send_control(ax__link *l, uint8_t type, const void *data, size_t len)
{
    if (((struct fake *)l)->closed || type != AX__FRAME_SUBSCRIBE_ACK)
        abort();
    axon_ctl_SubscribeAck ack = axon_ctl_SubscribeAck_init_zero;
    pb_istream_t is = pb_istream_from_buffer(data, len);
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
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ax_log_set_level(AX_LOG_OFF);
    return 0;
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
        struct ax__frame_hdr h = {.type = data[off]};
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
    ax_pub_free(pub);
    ax_node_destroy(node);
    return 0;
}
