/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's security settings made real once, when it is created: the
 * domain key (keyring.c), the TLS context its TCP links share, and the
 * access policy (docs/security.md). All of it is read-only afterwards, so
 * every loop thread reads it without a lock.
 */
#include <stdio.h>
#include <string.h>

#include "axon/log.h"
#include "core/ax__node.h"

#define LOG_MODULE "node"

static int make_tls(ax_node *node, char *why, size_t why_len)
{
    const struct ax_config *cfg = &node->cfg;
    if (cfg->security.tls == AX_TLS_OFF)
        return 0;
    struct ax__tls_config tc = {0};
    if (cfg->security.tls == AX_TLS_PSK) {
        tc.mode = AX__TLS_PSK;
        tc.npsk = node->keyring.on ? node->keyring.n : 0;
        for (unsigned i = 0; i < tc.npsk; i++) {
            memcpy(tc.psk[i], node->keyring.tls_psk[i], AX__TLS_PSK_SIZE);
            snprintf(tc.psk_id[i], sizeof tc.psk_id[i], "axon-%s", node->keyring.fingerprint[i]);
        }
    } else {
        tc.mode = AX__TLS_CERT;
        tc.ca_file = cfg->security.ca_file;
        tc.cert_file = cfg->security.cert_file;
        tc.key_file = cfg->security.cert_key_file;
    }
    int rc = ax__tls_ctx_new(&tc, &node->tls, why, why_len);
    memset(tc.psk, 0, sizeof tc.psk);
    if (rc < 0)
        return rc;
    /* The certificate's name is the identity peers check against our
     * HELLO: a node named otherwise would be refused by every peer. */
    if (tc.mode == AX__TLS_CERT && strcmp(ax__tls_ctx_own_name(node->tls), node->name) != 0) {
        snprintf(why, why_len,
                 "security.cert_file is for node '%s' but this node is named '%s' (node.name)",
                 ax__tls_ctx_own_name(node->tls), node->name);
        return AX_EINVAL;
    }
    return 0;
}

int ax__node_security_init(ax_node *node)
{
    char why[400];
    int rc = ax__keyring_load(&node->keyring, node->cfg.security.key_file, why, sizeof why);
    if (rc < 0) {
        AX_LOG_E(LOG_MODULE, "security.key_file: %s", why);
        return rc;
    }
    why[0] = '\0';
    rc = make_tls(node, why, sizeof why);
    if (rc < 0) {
        AX_LOG_E(LOG_MODULE, "security.tls: %s", why[0] ? why : ax_strerror(rc));
        ax__node_security_fini(node);
        return rc;
    }
    return 0;
}

void ax__node_security_fini(ax_node *node)
{
    ax__tls_ctx_free(node->tls);
    node->tls = NULL;
    memset(&node->keyring, 0, sizeof node->keyring);
}
