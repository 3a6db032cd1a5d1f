/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seed corpora for fuzz_hello, fuzz_disc, fuzz_subscribe, fuzz_rpub and
 * fuzz_shm, written into the build tree (generated files stay out of git):
 * well-formed HELLO and ERROR payloads, discovery datagrams of every kind,
 * and SUBSCRIBE / SCHEMA_REQUEST frame sequences, all made with the
 * encoders the nodes use, so the fuzzers start from what real peers send;
 * and for fuzz_shm, operation sequences that map segments, read views of
 * them and release chunks the way a real peer does, and a few that break
 * one rule each.
 *
 *     make_seeds DIR     writes DIR/corpus_hello, DIR/corpus_disc,
 *                        DIR/corpus_subscribe, DIR/corpus_rpub and
 *                        DIR/corpus_shm
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pb_encode.h>

#include "axon/axon.h"
#include "axon/msgs.h"
#include "control.pb.h"
#include "core/ax__endpoint.h"
#include "transport/ax__frame.h"
#include "transport/stream/ax__stream.h"

static const char *dir;

static void put(const char *corpus, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/corpus_%s", dir, corpus);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/corpus_%s/%s", dir, corpus, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static size_t encode(const pb_msgdesc_t *fields, const void *msg, uint8_t *out, size_t cap)
{
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    if (!pb_encode(&os, fields, msg)) {
        fprintf(stderr, "make_seeds: %s\n", PB_GET_ERROR(&os));
        exit(1);
    }
    return os.bytes_written;
}

static void hello_seeds(void)
{
    struct ax__link_peer p = {.node_id = 0x1122334455667788ull,
                              .incarnation = 7,
                              .domain = 3,
                              .purpose = AX__LINK_DATA,
                              .max_frame = 64u << 20};
    snprintf(p.node_name, sizeof p.node_name, "planner");
    uint8_t buf[AX__STREAM_CONTROL_MAX];
    int n = ax__stream_hello_encode(&p, true, buf, sizeof buf);
    put("hello", "hello_crc", buf, (size_t)n);
    p.purpose = AX__LINK_TOOL;
    n = ax__stream_hello_encode(&p, false, buf, sizeof buf);
    put("hello", "hello_tool", buf, (size_t)n);
    n = ax__stream_error_encode(AX_ETYPE, "type mismatch", buf, sizeof buf);
    put("hello", "error_type", buf, (size_t)n);
}

/* A datagram for fuzz_disc: flags (bit 0: unicast), 2 length bytes, the
 * bytes. */
static size_t framed(uint8_t *out, const uint8_t *p, size_t n, bool unicast)
{
    out[0] = unicast ? 1 : 0;
    out[1] = (uint8_t)n;
    out[2] = (uint8_t)(n >> 8);
    memcpy(out + 3, p, n);
    return n + 3;
}

static void disc_seeds(void)
{
    static axon_ctl_Discovery m;
    static uint8_t one[2048], seq[8192];
    size_t total = 0;
    memset(&m, 0, sizeof m);
    m.protocol_version = 1;
    m.domain = 7;
    m.node_id = 0xabcdef;
    m.incarnation = 5;
    m.seq = 1;
    m.which_body = axon_ctl_Discovery_announce_tag;
    axon_ctl_Announce *a = &m.body.announce;
    a->generation = 3;
    a->page = 0;
    a->pages = 1;
    a->has_node = true;
    snprintf(a->node.name, sizeof a->node.name, "perception");
    snprintf(a->node.host, sizeof a->node.host, "board");
    a->node.pid = 1234;
    a->node.tcp_count = 1;
    snprintf(a->node.tcp[0], sizeof a->node.tcp[0], "127.0.0.1:7411");
    a->node.lease_ms = 800;
    a->node.heartbeat_ms = 100;
    snprintf(a->node.version, sizeof a->node.version, "0.1.0");
    a->endpoints_count = 2;
    for (int i = 0; i < 2; i++) {
        axon_ctl_Endpoint *e = &a->endpoints[i];
        e->id = (uint32_t)i + 1;
        e->kind = i ? axon_ctl_EndpointKind_ENDPOINT_SUBSCRIBER
                    : axon_ctl_EndpointKind_ENDPOINT_PUBLISHER;
        snprintf(e->topic, sizeof e->topic, "/perception/obstacles");
        snprintf(e->type_name, sizeof e->type_name, "axon.perception.ObstacleList");
        e->type_hash.size = 32;
        e->has_qos = true;
        e->qos.history = 16;
        e->has_counters = true;
        e->counters.messages = 10;
        e->port = 7411;
    }
    size_t n = encode(axon_ctl_Discovery_fields, &m, one, sizeof one);
    total += framed(seq + total, one, n, false);
    put("disc", "announce", seq, total);
    m.seq = 2;
    m.which_body = axon_ctl_Discovery_heartbeat_tag;
    m.body.heartbeat.generation = 4;
    m.body.heartbeat.pages = 1;
    n = encode(axon_ctl_Discovery_fields, &m, one, sizeof one);
    total += framed(seq + total, one, n, true);
    m.seq = 3;
    m.which_body = axon_ctl_Discovery_request_tag;
    m.body.request.target = 0;
    n = encode(axon_ctl_Discovery_fields, &m, one, sizeof one);
    total += framed(seq + total, one, n, false);
    put("disc", "announce_heartbeat_request", seq, total);
    m.seq = 4;
    m.which_body = axon_ctl_Discovery_bye_tag;
    n = encode(axon_ctl_Discovery_fields, &m, one, sizeof one);
    total += framed(seq + total, one, n, false);
    put("disc", "announce_then_bye", seq, total);
}

/* A frame for fuzz_subscribe: type, 2 length bytes, payload. */
static size_t frame(uint8_t *out, uint8_t type, const uint8_t *p, size_t n)
{
    out[0] = type;
    out[1] = (uint8_t)n;
    out[2] = (uint8_t)(n >> 8);
    memcpy(out + 3, p, n);
    return n + 3;
}

static void subscribe_seeds(void)
{
    uint8_t hash[32];
    ax__raw_type_hash("fuzz.Raw", hash); /* fuzz_subscribe's publisher */
    static uint8_t one[1024], seq[4096];
    axon_ctl_Subscribe s = axon_ctl_Subscribe_init_zero;
    s.publisher_id = 1;
    snprintf(s.topic, sizeof s.topic, "/fuzz");
    snprintf(s.type_name, sizeof s.type_name, "fuzz.Raw");
    s.type_hash.size = 32;
    memcpy(s.type_hash.bytes, hash, 32);
    s.has_qos = true;
    s.qos.durability = 1;
    s.qos.history = 4;
    size_t total = 0, n = encode(axon_ctl_Subscribe_fields, &s, one, sizeof one);
    total += frame(seq + total, AX__FRAME_SUBSCRIBE, one, n);
    put("subscribe", "subscribe", seq, total);
    s.replay = true;
    n = encode(axon_ctl_Subscribe_fields, &s, one, sizeof one);
    total += frame(seq + total, AX__FRAME_SUBSCRIBE, one, n);
    put("subscribe", "subscribe_twice", seq, total);
    static const char type[] = "fuzz.Raw";
    total = frame(seq, AX__FRAME_SCHEMA_REQUEST, (const uint8_t *)type, sizeof type - 1);
    put("subscribe", "schema_request", seq, total);
    s.publisher_id = 99;
    n = encode(axon_ctl_Subscribe_fields, &s, one, sizeof one);
    total = frame(seq, AX__FRAME_SUBSCRIBE, one, n);
    put("subscribe", "subscribe_unknown", seq, total);

    /* A service client: BIND to fuzz_subscribe's "/fuzz/svc" (endpoint 2,
     * axon.geometry.Point both ways), then calls: x = 1, x = -1 (refused),
     * and bytes that do not decode. */
    const ax_type *pt;
    if (ax_msgs_register() < 0 || ax_type_find("axon.geometry.Point", &pt) < 0)
        abort();
    axon_ctl_ServiceBind b = axon_ctl_ServiceBind_init_zero;
    b.service_id = 2;
    snprintf(b.name, sizeof b.name, "/fuzz/svc");
    snprintf(b.request_type, sizeof b.request_type, "axon.geometry.Point");
    snprintf(b.reply_type, sizeof b.reply_type, "axon.geometry.Point");
    b.request_hash.size = b.reply_hash.size = 32;
    memcpy(b.request_hash.bytes, ax_type_hash(pt)->bytes, 32);
    memcpy(b.reply_hash.bytes, ax_type_hash(pt)->bytes, 32);
    n = encode(axon_ctl_ServiceBind_fields, &b, one, sizeof one);
    total = frame(seq, AX__FRAME_BIND, one, n);
    static const uint8_t x_one[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    static const uint8_t x_minus[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf};
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0x01};
    total += frame(seq + total, AX__FRAME_REQUEST, x_one, sizeof x_one);
    total += frame(seq + total, AX__FRAME_REQUEST, x_minus, sizeof x_minus);
    total += frame(seq + total, AX__FRAME_REQUEST, junk, sizeof junk);
    put("subscribe", "service_calls", seq, total);
    b.reply_hash.bytes[0] ^= 1;
    n = encode(axon_ctl_ServiceBind_fields, &b, one, sizeof one);
    total = frame(seq, AX__FRAME_BIND, one, n);
    put("subscribe", "service_bind_other_type", seq, total);
}

/* A frame for fuzz_rpub: type, 4 sequence bytes, 2 length bytes, payload. */
static size_t rframe(uint8_t *out, uint8_t type, uint32_t seq, const uint8_t *p, size_t n)
{
    out[0] = type;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(seq >> (8 * i));
    out[5] = (uint8_t)n;
    out[6] = (uint8_t)(n >> 8);
    memcpy(out + 7, p, n);
    return n + 7;
}

static void rpub_seeds(void)
{
    static uint8_t one[1024], seq[8192];
    static const uint8_t msg[40] = {7, 7, 7};
    axon_ctl_SubscribeAck ack = axon_ctl_SubscribeAck_init_zero;
    ack.publisher_id = 1;
    snprintf(ack.type_name, sizeof ack.type_name, "fuzz.Raw");
    ack.type_hash.size = 32;
    ax__raw_type_hash("fuzz.Raw", ack.type_hash.bytes);
    ack.has_qos = true;
    ack.next_seq = 3;
    size_t n = encode(axon_ctl_SubscribeAck_fields, &ack, one, sizeof one);
    for (int tl = 0; tl < 2; tl++) {
        size_t total = 0;
        seq[total++] = (uint8_t)tl; /* bit 0: a transient-local subscription */
        total += rframe(seq + total, AX__FRAME_SUBSCRIBE_ACK, 0, one, n);
        static const uint32_t seqs[] = {1, 2, 3, 4, 6, 7, 7, 5, 9};
        for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
            total += rframe(seq + total, AX__FRAME_DATA, seqs[i], msg, sizeof msg);
        put("rpub", tl ? "ack_history_live_gaps_tl" : "ack_history_live_gaps", seq, total);
    }
    ack.error = (uint32_t)-AX_ETYPE;
    snprintf(ack.reason, sizeof ack.reason, "type mismatch");
    n = encode(axon_ctl_SubscribeAck_fields, &ack, one, sizeof one);
    size_t total = 1;
    seq[0] = 0;
    total += rframe(seq + total, AX__FRAME_SUBSCRIBE_ACK, 0, one, n);
    put("rpub", "refused", seq, total);
}

/* fuzz_shm's operations (its OP_* and argument layouts): an opcode byte is
 * the operation, the CRC mode << 4 and the variant << 6. */
enum {
    S_SEGMENT,
    S_DESC,
    S_RELEASE,
    S_INLINE,
    S_CONTROL,
    S_GARBAGE,
    S_STEP,
    S_SEND,
    S_UNKEEP,
    S_KEEP,
    S_PAUSE,
    S_SPLIT
};
#define SOP(op, crc, var) (uint8_t)((op) | (crc) << 4 | (var) << 6)

/* cfg: bit 0 CRCs, bit 1 batched writes, bit 2 keep, bits 3-4 the close,
 * bits 5-7 chunks the link sends first. */
#define SCFG(crc, batch, keep, close, chunks)                                                      \
    (uint8_t)((crc) | (batch) << 1 | (keep) << 2 | (close) << 3 | (chunks) << 5)

static size_t shm_segment(uint8_t *o, uint8_t idsel, uint16_t size16, uint8_t mode)
{
    size_t n = 0;
    o[n++] = SOP(S_SEGMENT, 0, 0);
    o[n++] = idsel;
    o[n++] = (uint8_t)size16;
    o[n++] = (uint8_t)(size16 >> 8);
    o[n++] = mode;
    return n;
}

/* A descriptor inside the @segsel-th segment announced: offset a % (size + 1),
 * length b % what is left. */
static size_t shm_desc(uint8_t *o, uint8_t crc, uint8_t segsel, uint8_t chunk, uint32_t a,
                       uint32_t b)
{
    size_t n = 0;
    o[n++] = SOP(S_DESC, crc, 0);
    o[n++] = segsel;
    o[n++] = chunk;
    for (int i = 0; i < 4; i++)
        o[n++] = (uint8_t)(a >> (8 * i));
    for (int i = 0; i < 4; i++)
        o[n++] = (uint8_t)(b >> (8 * i));
    o[n++] = 0; /* a 24-byte payload */
    return n;
}

static void shm_seeds(void)
{
    static uint8_t s[512];
    size_t n = 0;
    /* Segments as a publisher makes them, views of them, plain frames. */
    s[n++] = SCFG(0, 0, 0, 0, 0);
    n += shm_segment(s + n, 0, 256, 0);  /* id 1, 4 KiB */
    n += shm_segment(s + n, 1, 4096, 0); /* id 2, 64 KiB */
    n += shm_desc(s + n, 0, 0, 1, 0, 100);
    n += shm_desc(s + n, 0, 1, 2, 60000, 9000);
    n += shm_desc(s + n, 0, 0, 3, 4000, 0xffffffffu);
    s[n++] = SOP(S_INLINE, 0, 0);
    s[n++] = 0; /* DATA */
    s[n++] = 40;
    s[n++] = SOP(S_STEP, 0, 0);
    s[n++] = 1;
    put("shm", "segments_views", s, n);

    /* The same with payload CRCs, batched writes, views kept and released,
     * a large inline frame and one cut in two; the link closes gracefully. */
    n = 0;
    s[n++] = SCFG(1, 1, 1, 1, 0);
    n += shm_segment(s + n, 2, 0xffff, 0); /* 1 MiB */
    n += shm_desc(s + n, 0, 0, 7, 1000, 500000);
    n += shm_desc(s + n, 0, 0, 8, 0, 0);
    s[n++] = SOP(S_SPLIT, 0, 0);
    s[n++] = 100;
    n += shm_desc(s + n, 0, 0, 9, 12345, 678);
    s[n++] = SOP(S_INLINE, 0, 1);
    s[n++] = 0;
    s[n++] = 200; /* 256000 bytes */
    s[n++] = SOP(S_STEP, 0, 0);
    s[n++] = 0;
    s[n++] = SOP(S_UNKEEP, 0, 1);
    s[n++] = 0;
    s[n++] = SOP(S_PAUSE, 0, 0);
    s[n++] = SOP(S_UNKEEP, 0, 0);
    s[n++] = SOP(S_STEP, 0, 0);
    s[n++] = 3;
    put("shm", "crc_batched_kept", s, n);

    /* The link sends chunks (more than the quota of 3), the peer releases
     * them, more come, one twice; then a release of one twice (closes). */
    n = 0;
    s[n++] = SCFG(0, 0, 0, 2, 5);
    s[n++] = SOP(S_RELEASE, 0, 0);
    s[n++] = 1;
    s[n++] = 0;
    s[n++] = SOP(S_RELEASE, 0, 0);
    s[n++] = 2;
    s[n++] = 0;
    s[n++] = 4;
    s[n++] = SOP(S_SEND, 0, 1); /* twice */
    s[n++] = 100;
    s[n++] = SOP(S_SEND, 0, 2); /* as bytes */
    s[n++] = 3;
    s[n++] = SOP(S_RELEASE, 0, 0);
    s[n++] = 3;
    s[n++] = 0;
    s[n++] = 0;
    s[n++] = 0;
    s[n++] = SOP(S_RELEASE, 0, 0);
    s[n++] = 2;
    s[n++] = 0;
    s[n++] = 3; /* the same again */
    put("shm", "chunks_released", s, n);

    /* One broken rule each. */
    static const uint8_t modes[] = {1, 2, 3, 4, 5, 6, 7, 0x08, 0x10, 0x60, 0xe0};
    for (size_t i = 0; i < sizeof modes; i++) {
        char name[32];
        n = 0;
        s[n++] = SCFG(0, 0, 0, 0, 0);
        n += shm_segment(s + n, 0, 512, modes[i]);
        if (modes[i] & 0x08)
            for (int k = 0; k < 8; k++)
                s[n++] = k == 1 ? 0x30 : 0; /* says 12 KiB */
        n += shm_desc(s + n, 0, 0, 1, 0, 10);
        snprintf(name, sizeof name, "segment_mode_%02x", modes[i]);
        put("shm", name, s, n);
    }
    n = 0;
    s[n++] = SCFG(0, 0, 0, 0, 0);
    n += shm_segment(s + n, 0, 256, 0);
    n += shm_segment(s + n, 0, 256, 0); /* the same id */
    put("shm", "segment_twice", s, n);
    n = 0;
    s[n++] = SCFG(0, 0, 0, 0, 0);
    n += shm_segment(s + n, 0, 256, 0);
    s[n++] = SOP(S_DESC, 0, 2); /* at the end, 2 past */
    s[n++] = 0;
    s[n++] = 1;
    s[n++] = 16;
    s[n++] = 0;
    s[n++] = 2;
    s[n++] = 0;
    put("shm", "desc_past_end", s, n);
    n = 0;
    s[n++] = SCFG(0, 0, 0, 0, 0);
    s[n++] = SOP(S_DESC, 0, 3); /* no segment, an offset near 2^64 */
    s[n++] = 0xff;
    s[n++] = 1;
    s[n++] = 0;
    s[n++] = 0;
    s[n++] = 0;
    s[n++] = 5;
    s[n++] = 8;
    s[n++] = 0;
    put("shm", "desc_unknown", s, n);
    n = 0;
    s[n++] = SCFG(1, 0, 0, 0, 0);
    s[n++] = SOP(S_CONTROL, 0, 0); /* ERROR */
    s[n++] = 26;
    put("shm", "error_frame", s, n);
    n = 0;
    s[n++] = SCFG(1, 0, 0, 0, 0);
    s[n++] = SOP(S_INLINE, 1, 0); /* no CRC where one was agreed */
    s[n++] = 0;
    s[n++] = 8;
    put("shm", "crc_missing", s, n);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    hello_seeds();
    disc_seeds();
    subscribe_seeds();
    rpub_seeds();
    shm_seeds();
    return 0;
}
