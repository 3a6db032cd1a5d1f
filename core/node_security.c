/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A node's security settings made real once, when it is created: the
 * domain key (keyring.c), the TLS context its TCP links share, and the
 * access policy (policy.c; docs/security.md); and the policy's decisions
 * as the rest of core asks for them, counted. All of it is read-only
 * after creation, so every loop thread reads it without a lock.
 */
#include <stdio.h>
#include <string.h>

#include "axon/log.h"
#include "base/ax__log_limit.h"
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
    const char *pf = node->cfg.security.policy_file;
    if (pf[0] && (rc = ax__policy_load(pf, &node->policy, why, sizeof why)) < 0) {
        AX_LOG_E(LOG_MODULE, "security.policy_file: %s", why);
        ax__node_security_fini(node);
        return rc;
    }
    if (node->policy && node->cfg.security.tls != AX_TLS_CERT)
        AX_LOG_W(LOG_MODULE,
                 "security.policy_file without security.tls: cert: peers' node names are "
                 "asserted, not proved, so the policy holds only against mistakes");
    return 0;
}

static const char *const action_names[] = {"publish to", "subscribe to", "call", "set"};

bool ax__node_policy_allows(ax_node *node, const char *identity, enum ax__policy_action act,
                            const char *name, char *why, size_t why_len)
{
    if (!node->policy || ax__policy_allows(node->policy, identity, act, name))
        return true;
    atomic_fetch_add_explicit(&node->policy_refused, 1, memory_order_relaxed);
    snprintf(why, why_len, "access policy of node '%s': node '%s' may not %s %s", node->name,
             identity, action_names[act], name);
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s (security.policy_file)", why);
    return false;
}

bool ax__node_policy_allows_shm(ax_node *node, const char *identity, uint32_t uid, uint32_t gid,
                                char *why, size_t why_len)
{
    if (!node->policy || ax__policy_allows_shm(node->policy, identity, uid, gid))
        return true;
    atomic_fetch_add_explicit(&node->policy_refused, 1, memory_order_relaxed);
    snprintf(why, why_len,
             "access policy of node '%s': node '%s' (uid %u, gid %u) may not share memory "
             "with it; use TCP",
             node->name, identity, (unsigned)uid, (unsigned)gid);
    AX_LOG_LIMITED(AX_LOG_WARN, LOG_MODULE, "%s (security.policy_file)", why);
    return false;
}

void ax__node_security_fini(ax_node *node)
{
    ax__policy_free(node->policy);
    node->policy = NULL;
    ax__tls_ctx_free(node->tls);
    node->tls = NULL;
    memset(&node->keyring, 0, sizeof node->keyring);
}
