/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the TCP handshake codec (transport/tcp/handshake.c):
 * the first bytes any peer sends (HELLO) and the last (ERROR).
 *
 * Properties, besides "no crash, no out-of-bounds access" (ASan+UBSan):
 *  - a HELLO that decodes re-encodes into at most AX__STREAM_CONTROL_MAX
 *    bytes, and decodes again to the same identity (the name cut to its
 *    buffer and NUL-terminated) and the same nonce (a domain key's
 *    handshake: only exactly 16 bytes count as one);
 *  - an ERROR that decodes carries a negative code from the error table
 *    (never 0: a peer cannot make a close look clean) and a terminated
 *    reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/stream/ax__stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ax__link_peer peer;
    uint32_t version;
    char why[200];
    if (ax__stream_hello_decode(data, size, &version, &peer, why, sizeof why) == 0) {
        if (memchr(peer.node_name, 0, sizeof peer.node_name) == NULL)
            abort();
        uint8_t buf[AX__STREAM_CONTROL_MAX];
        int n = ax__stream_hello_encode(&peer, false, buf, sizeof buf);
        if (n < 0)
            abort();
        struct ax__link_peer again;
        uint32_t v2;
        if (ax__stream_hello_decode(buf, (size_t)n, &v2, &again, why, sizeof why) != 0)
            abort();
        if (again.node_id != peer.node_id || again.incarnation != peer.incarnation ||
            again.domain != peer.domain || again.purpose != peer.purpose ||
            again.capabilities != peer.capabilities || again.max_frame != peer.max_frame ||
            strcmp(again.node_name, peer.node_name) != 0 || v2 != AX__STREAM_PROTOCOL_VERSION ||
            again.has_nonce != peer.has_nonce ||
            (peer.has_nonce && memcmp(again.nonce, peer.nonce, sizeof peer.nonce) != 0))
            abort();
    } else if (memchr(why, 0, sizeof why) == NULL) {
        abort();
    }
    int code = 0;
    char reason[256];
    if (ax__stream_error_decode(data, size, &code, reason, sizeof reason) == 0) {
        if (code >= 0 || code < AX_ESYS || memchr(reason, 0, sizeof reason) == NULL)
            abort();
    }
    return 0;
}
