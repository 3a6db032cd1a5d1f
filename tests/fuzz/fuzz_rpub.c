/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the subscriber side of a link (core/sub_link.c):
 * what a publisher sends once SUBSCRIBE went out — SUBSCRIBE_ACK (accepted,
 * refused, a next_seq anywhere), history and live DATA with any sequence
 * numbers (gaps, repeats, going back), frames that do not belong.
 *
 * Over real TCP on loopback: a real node (no threads, discovery off) with
 * a subscription learns from one injected discovery datagram of a remote
 * publisher whose address is this target's own listener, on the node's
 * loop; the node's link connects, says HELLO and SUBSCRIBE, and the input
 * is then sent to it as frames: 1 type byte, 4 sequence bytes, 2 length
 * bytes (little-endian), the payload. Type 5 goes as SUBSCRIBE_ACK (a
 * control frame), anything else as a data frame of that type.
 *
 * Properties, besides "no crash, no leak, no undefined behaviour": the
 * subscription never receives more messages than DATA frames were sent,
 * and the node closes with nothing left open.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/axon.h"
#include "axt_node.h"
#include "transport/tcp/ax__tcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct peer {
    ax__link *link;
    bool subscribed, closed;
};

static uint64_t delivered;

static void on_msg(ax_sub *sub, const struct ax_msg *m, void *user)
{
    (void)sub;
    (void)m;
    (void)user;
    delivered++;
}

static void p_frame(ax__link *l, const struct ax__frame_hdr *h, const uint8_t *payload,
                    ax__buf *buf, void *user)
{
    struct peer *p = user;
    (void)l;
    (void)payload;
    (void)buf;
    if (h->type == AX__FRAME_SUBSCRIBE)
        p->subscribed = true;
}

static void p_close(ax__link *l, int status, void *user)
{
    struct peer *p = user;
    (void)l;
    (void)status;
    p->closed = true;
    p->link = NULL;
}

static const struct ax__link_callbacks peer_cbs = {.on_frame = p_frame, .on_close = p_close};

static int p_accept(ax__listener *ln, ax__link *l, void *user)
{
    struct peer *p = user;
    (void)ln;
    if (p->link)
        return AX_EBUSY;
    p->link = l;
    ax__link_bind(l, &peer_cbs, p);
    return 0;
}

/* Run the node's loop (which is also ours) until @cond or @steps pass,
 * waiting at most @ms for events each time (loopback answers at once). */
#define SPIN_UNTIL(node, cond, steps, ms)                                                          \
    for (int spin_ = 0; spin_ < (steps) && !(cond); spin_++)                                       \
    ax_node_spin_once((node), (ms))

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    ax_log_set_level(AX_LOG_OFF);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ax_node *node = axt_quiet_node(7, AX_LOG_OFF);
    struct ax_sub_options so;
    ax_sub_options_init(&so);
    if (size > 0 && (data[0] & 1))
        so.qos = AX_QOS_LATCHED; /* a transient-local subscription: history replays */
    ax_sub *sub;
    if (ax_sub_new_raw(&sub, node, "/fuzz", "fuzz.Raw", on_msg, NULL, &so) < 0)
        abort();

    struct peer p = {0};
    ax__listener *ln;
    struct ax__listen_options lo = {.on_accept = p_accept, .user = &p};
    ax__link_options_init(&lo.link);
    lo.link.self.node_id = 0x5150;
    lo.link.self.incarnation = 9;
    lo.link.self.domain = 7;
    lo.link.linger_ns = 10 * AX_NS_PER_MS;
    if (ax__tcp_transport.listen(node->loops[0], "127.0.0.1:0", &lo, &ln) < 0)
        abort();
    const char *addr = ln->ops->address(ln);
    axt_announce_publisher(node, 0x5150, addr, (uint16_t)atoi(strrchr(addr, ':') + 1), "/fuzz",
                           "fuzz.Raw");
    SPIN_UNTIL(node, p.subscribed || p.closed, 2000, 1);

    uint64_t sent = 0;
    size_t off = size > 0 ? 1 : 0; /* the first byte chose the QoS */
    while (p.link && !p.closed && size - off >= 7) {
        struct ax__frame_hdr h = {.type = data[off], .stream = 1};
        h.seq = (uint64_t)data[off + 1] | (uint64_t)data[off + 2] << 8 |
                (uint64_t)data[off + 3] << 16 | (uint64_t)data[off + 4] << 24;
        size_t len = (size_t)data[off + 5] | (size_t)data[off + 6] << 8;
        off += 7;
        if (len > size - off)
            len = size - off;
        if (h.type == AX__FRAME_SUBSCRIBE_ACK)
            ax__link_send_control(p.link, h.type, data + off, len);
        else if (h.type != AX__FRAME_HELLO && h.type != AX__FRAME_ERROR &&
                 ax__link_send_bytes(p.link, &h, data + off, len) == 0 && h.type == AX__FRAME_DATA)
            sent++;
        off += len;
        SPIN_UNTIL(node, false, 3, 0);
    }
    SPIN_UNTIL(node, p.closed, 5, 0);
    if (delivered > sent)
        abort();
    if (p.link)
        ax__link_close(p.link, AX__LINK_ABORT, 0);
    ln->ops->close(ln);
    SPIN_UNTIL(node, p.closed, 200, 1);
    ax_sub_free(sub);
    ax_node_destroy(node);
    delivered = 0;
    return 0;
}
