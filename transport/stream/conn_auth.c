/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handshake with a domain key (docs/protocol.md, "Connection
 * handshake"): each side's HELLO carries a fresh 16-byte nonce, and each
 * then sends
 *
 *   AUTH = HMAC-SHA256(link key, "axon auth v1" | own nonce | peer's nonce |
 *                      own node id | own incarnation), first 16 bytes
 *
 * (the label names the sender's role: "axon auth v1 dialer" or "... acceptor").
 * The receiver computes what the peer must have sent, from the nonces and
 * the identity of the peer's HELLO. Both nonces make a proof good for one
 * connection only; the role in the label means a proof made by one side
 * never passes as the other's, and the acceptor sends its proof only once
 * the dialer's has passed, so a node does not sign for a stranger that
 * dials it (a proof asked for on one connection and replayed on another
 * fails: the attacker would have to dial first and prove first). A peer
 * claiming the node's own identity is refused. The identity binds the
 * proof to the node id and incarnation the HELLO claimed. What this cannot
 * stop is a relay between two key holders where the attacker sits on the
 * path of a connection a node opens (it needs TLS's channel binding).
 * These are pure functions: conn.c sends, refuses and opens the link.
 * Also here, the rest of who the peer is: its identity for access control
 * (the name a TLS certificate proves, else the node name it asserts) and,
 * on a Unix socket, its process's credentials as the kernel gives them.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>

#include "base/ax__sha256.h"
#include "transport/stream/ax__stream.h"
#include "transport/tls/ax__tls.h"

#define LABEL_DIALER   "axon auth v1 dialer"
#define LABEL_ACCEPTOR "axon auth v1 acceptor"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void proof(const struct ax__hmac *key, bool dialer, const uint8_t *sender_nonce,
                  const uint8_t *receiver_nonce, uint64_t sender_id, uint64_t sender_inc,
                  uint8_t out[AX__STREAM_AUTH_SIZE])
{
    struct ax__hmac h = *key; /* the key's pads, computed once per node */
    uint8_t ids[16], full[AX__SHA256_SIZE];
    put64(ids, sender_id);
    put64(ids + 8, sender_inc);
    const char *label = dialer ? LABEL_DIALER : LABEL_ACCEPTOR;
    ax__hmac_update(&h, label, strlen(label));
    ax__hmac_update(&h, sender_nonce, AX__STREAM_NONCE_SIZE);
    ax__hmac_update(&h, receiver_nonce, AX__STREAM_NONCE_SIZE);
    ax__hmac_update(&h, ids, sizeof ids);
    ax__hmac_final(&h, full);
    memcpy(out, full, AX__STREAM_AUTH_SIZE);
}

int ax__stream_auth_nonce(uint8_t out[AX__STREAM_NONCE_SIZE])
{
    return getrandom(out, AX__STREAM_NONCE_SIZE, 0) == AX__STREAM_NONCE_SIZE ? 0 : AX_EIO;
}

const char *ax__stream_auth_hello(const struct ax__link_options *o,
                                  const struct ax__link_peer *peer)
{
    if (!peer->has_nonce)
        return "this domain requires authentication and the peer has no domain key "
               "(security.key_file)";
    if (peer->node_id == o->self.node_id && peer->incarnation == o->self.incarnation)
        return "the peer claims this node's own identity";
    return NULL;
}

void ax__stream_auth_prove(const struct ax__link_options *o, bool dialer,
                           const uint8_t own_nonce[AX__STREAM_NONCE_SIZE],
                           const struct ax__link_peer *peer, uint8_t out[AX__STREAM_AUTH_SIZE])
{
    proof(&o->auth[0], dialer, own_nonce, peer->nonce, o->self.node_id, o->self.incarnation, out);
}

const char *ax__stream_auth_check(const struct ax__link_options *o, bool peer_dialer,
                                  const uint8_t own_nonce[AX__STREAM_NONCE_SIZE],
                                  const struct ax__link_peer *peer, const uint8_t *p, size_t n)
{
    for (unsigned i = 0; i < o->nauth && n == AX__STREAM_AUTH_SIZE; i++) {
        uint8_t want[AX__STREAM_AUTH_SIZE];
        proof(&o->auth[i], peer_dialer, peer->nonce, own_nonce, peer->node_id, peer->incarnation,
              want);
        if (ax__equal_ct(want, p, AX__STREAM_AUTH_SIZE))
            return NULL;
    }
    return "authentication failed: the peer holds another domain key";
}

const char *ax__stream_identity(const struct ax__tls *tls, const struct ax__link_peer *kernel,
                                struct ax__link_peer *peer, char *why, size_t why_len)
{
    peer->has_cred = kernel->has_cred;
    peer->uid = kernel->uid;
    peer->gid = kernel->gid;
    const char *proved = tls ? ax__tls_peer_name(tls) : "";
    if (tls && ax__tls_proves_names(tls) && !proved[0]) {
        /* Never the asserted name instead: that would be no proof. */
        snprintf(why, why_len,
                 "the peer's certificate has no single common name that fits a "
                 "node name (1 to 63 bytes, no NUL)");
        return why;
    }
    peer->identity_verified = proved[0] != '\0';
    if (!peer->identity_verified) {
        snprintf(peer->identity, sizeof peer->identity, "%s", peer->node_name);
        return NULL;
    }
    snprintf(peer->identity, sizeof peer->identity, "%s", proved);
    if (strcmp(proved, peer->node_name) == 0)
        return NULL;
    snprintf(why, why_len, "the certificate is for node '%s', the HELLO says '%s'", proved,
             peer->node_name);
    return why;
}

void ax__stream_peer_cred(int fd, struct ax__link_peer *peer)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return; /* not a Unix socket: nothing the kernel vouches for */
    peer->has_cred = true;
    peer->uid = cred.uid;
    peer->gid = cred.gid;
}
