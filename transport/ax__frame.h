/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: the frame codec (docs/protocol.md specifies the format).
 *
 * The decoder is pure: it looks only at the bytes it is given, keeps no
 * state, never reads past them, and answers with a length ("one complete
 * header/frame of this many bytes"), 0 ("need more bytes") or a negative
 * AX_E* code with a reason. Lengths are checked against the caller's
 * maximum before anyone allocates.
 */
#ifndef AX__FRAME_H
#define AX__FRAME_H

#include <stddef.h>
#include <stdint.h>

#define AX__FRAME_MAGIC               0x4E4F5841u /* "AXON" read as little-endian u32 */
#define AX__FRAME_VERSION             1u
#define AX__FRAME_HEADER_SIZE         48u /* version 1 */
#define AX__FRAME_HEADER_MAX          1024u
#define AX__FRAME_DEFAULT_MAX_PAYLOAD (64u * 1024u * 1024u)

enum ax__frame_type {
    AX__FRAME_HELLO = 1,
    AX__FRAME_ERROR = 2,
    AX__FRAME_DATA = 3,
    AX__FRAME_SUBSCRIBE = 4,      /* axon.ctl.Subscribe */
    AX__FRAME_SUBSCRIBE_ACK = 5,  /* axon.ctl.SubscribeAck */
    AX__FRAME_SCHEMA_REQUEST = 6, /* payload: a full type name */
    AX__FRAME_SCHEMA_REPLY = 7,   /* payload: its serialized FileDescriptorSet */
    AX__FRAME_SHM_SEGMENT = 8,    /* shm links: a segment, its memfd passed with it */
    AX__FRAME_SHM_RELEASE = 9,    /* shm links: chunks the subscriber is done with */
    AX__FRAME_KEEPALIVE = 10,     /* data links: "still here" on an idle link, no payload */
    AX__FRAME_AUTH = 11,          /* with a domain key: 16 bytes proving it (after HELLO) */
    AX__FRAME_LIMIT = 12,         /* the sender now accepts payloads up to this (u32 LE) */
    AX__FRAME_BIND = 13,          /* axon.ctl.ServiceBind: a client names a service */
    AX__FRAME_BIND_ACK = 14,      /* axon.ctl.ServiceBindAck */
    AX__FRAME_REQUEST = 15,       /* a call: stream = service id, seq = call id */
    AX__FRAME_REPLY = 16,         /* its answer, or with F_ERROR an axon.ctl.CallError */
    AX__FRAME_SHM_BELL = 17,      /* shm links: the sender's eventfd, passed with it */
    AX__FRAME_SHM_CHAN = 18,      /* shm links: the sender's ring; its frames go there after */
    /* 19..31: reserved */
    AX__FRAME_TYPE_MAX = 31
};

enum ax__frame_flags {
    AX__FRAME_F_PAYLOAD_CRC = 1u << 0,
    /* Shared-memory links: the payload is a descriptor of a chunk the
     * receiver maps, not the message (transport/shm). */
    AX__FRAME_F_SHM = 1u << 1,
    /* REPLY: the call failed; the payload says why (axon.ctl.CallError). */
    AX__FRAME_F_ERROR = 1u << 2,
};

struct ax__frame_hdr {
    uint8_t version;
    uint8_t type;
    uint16_t flags;
    uint16_t header_len;
    uint32_t payload_len;
    uint32_t stream;
    uint32_t payload_crc;
    uint64_t seq;
    int64_t timestamp_ns;
};

/* Write the 48-byte version-1 header for @h (version and header_len are
 * filled in; payload_crc is taken as given) into @out, with its header CRC. */
void ax__frame_encode_header(uint8_t out[AX__FRAME_HEADER_SIZE], const struct ax__frame_hdr *h);

/* Decode a header from @p[0..n). Returns the header length (> 0) when a
 * complete, valid header is there; 0 when more bytes are needed; or
 * AX_EPROTO (bad magic, header length, unknown type), AX_EVERSION,
 * AX_ECRC (header CRC), AX_EMSGSIZE (payload_len > @max_payload), with
 * *@why set to a static reason. */
int ax__frame_decode_header(const uint8_t *p, size_t n, uint32_t max_payload,
                            struct ax__frame_hdr *h, const char **why);

/* Decode one whole frame. Returns header_len + payload_len when complete
 * (with *@payload pointing into @p), 0 when more bytes are needed, or an
 * error as above, plus AX_ECRC when PAYLOAD_CRC is set and the payload does
 * not match. */
long ax__frame_decode(const uint8_t *p, size_t n, uint32_t max_payload, struct ax__frame_hdr *h,
                      const uint8_t **payload, const char **why);

/* Check a payload against a decoded header's payload_crc (when its
 * PAYLOAD_CRC flag is set). 0 or AX_ECRC. */
int ax__frame_check_payload(const struct ax__frame_hdr *h, const uint8_t *payload);

#endif /* AX__FRAME_H */
