/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP handshake codec: HELLO and ERROR payloads (handshake.proto,
 * nanopb). Pure functions on bounded buffers: nanopb's static sizes mean
 * decoding never allocates, and every string is cut to its buffer, so
 * whatever a peer sends costs nothing but the bytes it sent.
 */
#include <stdio.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "axon/log.h"
#include "base/ax__log_limit.h"
#include "handshake.pb.h"
#include "transport/stream/ax__stream.h"

#define LOG_MODULE "link"

_Static_assert((int)AX__LINK_DATA == (int)axon_ctl_Purpose_PURPOSE_DATA,
               "purpose values are the wire's");
_Static_assert((int)AX__LINK_TOOL == (int)axon_ctl_Purpose_PURPOSE_TOOL,
               "purpose values are the wire's");
_Static_assert(AX__STREAM_CONTROL_MAX >= axon_ctl_Hello_size &&
                   AX__STREAM_CONTROL_MAX >= axon_ctl_Error_size,
               "a HELLO and an ERROR fit a control frame");

_Static_assert(AX__STREAM_CAP_SHM_CHANNEL == axon_ctl_Capability_CAPABILITY_SHM_CHANNEL,
               "the capability bit is the protocol's");

int ax__stream_hello_encode(const struct ax__link_peer *self, bool want_crc, uint8_t *out,
                            size_t cap)
{
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    h.protocol_version = AX__STREAM_PROTOCOL_VERSION;
    h.node_id = self->node_id;
    h.incarnation = self->incarnation;
    h.domain = self->domain;
    h.purpose = (axon_ctl_Purpose)self->purpose;
    h.capabilities =
        self->capabilities | (want_crc ? axon_ctl_Capability_CAPABILITY_PAYLOAD_CRC : 0);
    h.max_frame = self->max_frame;
    if (self->has_nonce) {
        h.nonce.size = sizeof self->nonce;
        memcpy(h.nonce.bytes, self->nonce, sizeof self->nonce);
    }
    snprintf(h.node_name, sizeof h.node_name, "%s", self->node_name);
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    if (!pb_encode(&os, axon_ctl_Hello_fields, &h))
        return AX_EPROTO;
    return (int)os.bytes_written;
}

int ax__stream_hello_decode(const uint8_t *p, size_t n, uint32_t *version,
                            struct ax__link_peer *peer, char *why, size_t why_len)
{
    axon_ctl_Hello h = axon_ctl_Hello_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (!pb_decode(&is, axon_ctl_Hello_fields, &h)) {
        snprintf(why, why_len, "undecodable HELLO: %s", PB_GET_ERROR(&is));
        return AX_EPROTO;
    }
    memset(peer, 0, sizeof *peer);
    *version = h.protocol_version;
    peer->node_id = h.node_id;
    peer->incarnation = h.incarnation;
    peer->domain = h.domain;
    peer->purpose = (uint32_t)h.purpose;
    peer->capabilities = h.capabilities;
    peer->max_frame = h.max_frame;
    peer->has_nonce = h.nonce.size == sizeof peer->nonce;
    if (peer->has_nonce)
        memcpy(peer->nonce, h.nonce.bytes, sizeof peer->nonce);
    snprintf(peer->node_name, sizeof peer->node_name, "%s", h.node_name);
    return 0;
}

bool ax__stream_hello_wants_crc(const struct ax__link_peer *peer)
{
    return (peer->capabilities & axon_ctl_Capability_CAPABILITY_PAYLOAD_CRC) != 0;
}

int ax__stream_error_encode(int code, const char *reason, uint8_t *out, size_t cap)
{
    axon_ctl_Error err = axon_ctl_Error_init_zero;
    err.code = (uint32_t)(code < 0 ? -code : code);
    snprintf(err.reason, sizeof err.reason, "%s", reason ? reason : "");
    pb_ostream_t os = pb_ostream_from_buffer(out, cap);
    if (!pb_encode(&os, axon_ctl_Error_fields, &err))
        return AX_EPROTO;
    return (int)os.bytes_written;
}

int ax__stream_error_decode(const uint8_t *p, size_t n, int *code, char *reason, size_t reason_len)
{
    axon_ctl_Error e = axon_ctl_Error_init_zero;
    pb_istream_t is = pb_istream_from_buffer(p, n);
    if (!pb_decode(&is, axon_ctl_Error_fields, &e))
        return AX_EPROTO;
    /* Only codes from the table, never 0: a peer cannot make a close look
     * clean, nor hand us a code no caller knows. */
    int c = e.code > (uint32_t)-AX_ESYS ? AX_EPROTO : -(int)e.code;
    *code = c >= 0 ? AX_EPROTO : c;
    snprintf(reason, reason_len, "%s", e.reason);
    return 0;
}

void ax__stream_error_frame(ax__link *l, const uint8_t *p, size_t n)
{
    int code;
    char reason[256];
    if (ax__stream_error_decode(p, n, &code, reason, sizeof reason) < 0) {
        AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: undecodable ERROR frame; closing",
                       l->peer_addr);
        ax__link_close(l, AX__LINK_ABORT, AX_EPROTO);
        return;
    }
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s: peer closed the connection: %s (%s)", l->peer_addr,
                   reason, ax_err_name(code));
    ax__link_close(l, AX__LINK_ABORT, code);
}
