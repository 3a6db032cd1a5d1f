/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Seed corpora for fuzz_hello, fuzz_disc, fuzz_subscribe and fuzz_rpub, written into
 * the build tree (generated files stay out of git): well-formed HELLO and
 * ERROR payloads, discovery datagrams of every kind, and SUBSCRIBE /
 * SCHEMA_REQUEST frame sequences, all made with the encoders the nodes
 * use, so the fuzzers start from what real peers send.
 *
 *     make_seeds DIR     writes DIR/corpus_hello, DIR/corpus_disc,
 *                        DIR/corpus_subscribe and DIR/corpus_rpub
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pb_encode.h>

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
    return 0;
}
