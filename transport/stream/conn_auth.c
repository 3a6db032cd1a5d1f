/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake with a domain key (docs/protocol.md, "AUTH"): each side's
 * HELLO carries a fresh 16-byte nonce, and each then sends
 *
 *   AUTH = HMAC-SHA256(link key, "axon auth v1" | own nonce | peer's nonce |
 *                      own node id | own incarnation), first 16 bytes
 *
 * The receiver computes what the peer must have sent, from the nonces and
 * the identity of the peer's HELLO. Both nonces make a proof good for one
 * connection only (a recorded handshake cannot be replayed); the order
 * "own, then peer's" makes a proof reflected back to its sender fail; the
 * identity binds the proof to the node id and incarnation the HELLO
 * claimed. Nothing but HELLO, AUTH and ERROR passes before both proofs
 * have, and the handshake timeout bounds the wait.
 */
#include <string.h>
#include <sys/random.h>

#include "base/ax__sha256.h"
#include "transport/stream/ax__stream_conn.h"

#define AUTH_SIZE 16
#define LABEL     "axon auth v1"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void proof(const struct ax__hmac *key, const uint8_t *sender_nonce,
                  const uint8_t *receiver_nonce, uint64_t sender_id, uint64_t sender_inc,
                  uint8_t out[AUTH_SIZE])
{
    struct ax__hmac h = *key; /* the key's pads, computed once per node */
    uint8_t ids[16], full[AX__SHA256_SIZE];
    put64(ids, sender_id);
    put64(ids + 8, sender_inc);
    ax__hmac_update(&h, LABEL, sizeof LABEL - 1);
    ax__hmac_update(&h, sender_nonce, 16);
    ax__hmac_update(&h, receiver_nonce, 16);
    ax__hmac_update(&h, ids, sizeof ids);
    ax__hmac_final(&h, full);
    memcpy(out, full, AUTH_SIZE);
}

int ax__stream_auth_begin(stream_conn *c)
{
    return getrandom(c->nonce, sizeof c->nonce, 0) == (ssize_t)sizeof c->nonce ? 0 : AX_EIO;
}

void ax__stream_auth_hello(stream_conn *c)
{
    const struct ax__link_peer *ph = &c->link.peer;
    if (!ph->has_nonce) {
        ax__stream_conn_refuse(c, AX_EACCES,
                               "this domain requires authentication and the peer has no domain "
                               "key (security.key_file)");
        return;
    }
    uint8_t mine[AUTH_SIZE];
    proof(c->opt.auth, c->nonce, ph->nonce, c->opt.self.node_id, c->opt.self.incarnation, mine);
    c->hello_ok = true;
    ax__stream_conn_control(c, AX__FRAME_AUTH, mine, sizeof mine);
}

void ax__stream_auth_frame(stream_conn *c, const uint8_t *p, size_t n)
{
    const struct ax__link_peer *ph = &c->link.peer;
    uint8_t want[AUTH_SIZE];
    proof(c->opt.auth, ph->nonce, c->nonce, ph->node_id, ph->incarnation, want);
    if (n != AUTH_SIZE || !ax__equal_ct(want, p, AUTH_SIZE)) {
        ax__stream_conn_refuse(c, AX_EACCES,
                               "authentication failed: the peer holds another domain key");
        return;
    }
    c->hello_ok = false;
    ax__stream_conn_ready(c);
}
