/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: the environment overrides of ax_config_apply_env(). The
 * file named by AXON_CONFIG is loaded first, then every row that names a
 * variable (AXON_DOMAIN, AXON_PEERS, AXON_LOG_LEVEL) takes the variable's
 * value, parsed exactly as in a file; errors name the variable instead of a
 * file and have no line. As with a load, the overrides go to a copy that
 * replaces the caller's config only when all of them and the rules hold.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ax__config.h"

/* Split a comma-separated AXON_PEERS value into the list of row @k. */
static int env_list(struct ax_config *cfg, const struct ax__cfg_key *k, const char *val,
                    struct ax_config_error *err)
{
    char msg[256], item[AX_CONFIG_PEER_MAX + 2];
    char **items = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    const char *p = val;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        union ax__cfg_val v = {.s = item};
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item - 1 ? len : sizeof item - 1),
                 p);
        if (len == 0) {
            ax__cfg_error_set(err, k->env, 0, 0, k->path, "entry %zu is empty", n + 1);
            rc = AX_ECONFIG;
        } else if (n >= k->max) {
            ax__cfg_error_set(err, k->env, 0, 0, k->path, "too many entries: at most %zu",
                              (size_t)k->max);
            rc = AX_ECONFIG;
        } else if (len >= sizeof item - 1 || ax__cfg_check(k, &v, msg, sizeof msg) != 0) {
            if (len >= sizeof item - 1)
                snprintf(msg, sizeof msg, "too long: at most %zu bytes", k->size - 1);
            ax__cfg_error_set(err, k->env, 0, 0, k->path, "entry %zu: %s", n + 1, msg);
            rc = AX_ECONFIG;
        } else if ((rc = ax__cfg_list_add(&items, &n, &cap, item)) != 0) {
            ax__cfg_error_set(err, k->env, 0, 0, k->path, "out of memory");
        }
        if (rc || !end)
            break;
        p = end + 1;
    }
    if (rc) {
        ax__cfg_list_free(items, n);
        return rc;
    }
    ax__cfg_list_set(k, cfg, items, n);
    return 0;
}

int ax_config_apply_env(struct ax_config *cfg, struct ax_config_error *err)
{
    if (!cfg) {
        ax__cfg_error_set(err, "", 0, 0, "", "invalid argument");
        return AX_EINVAL;
    }
    struct ax_config tmp;
    char msg[256];
    int rc = ax_config_copy(&tmp, cfg);
    if (rc) {
        ax__cfg_error_set(err, "", 0, 0, "", "out of memory");
        return rc;
    }
    const char *path = getenv("AXON_CONFIG");
    if (path && *path) {
        rc = ax_config_load_file(&tmp, path, err);
        if (rc && err) { /* say where the path came from */
            char m[sizeof err->message];
            snprintf(m, sizeof m, "%s", err->message);
            snprintf(err->message, sizeof err->message, "%.200s (file named by AXON_CONFIG)", m);
        }
    }
    int *set = calloc(ax__cfg_nkeys, sizeof *set);
    if (!rc && !set) {
        ax__cfg_error_set(err, "", 0, 0, "", "out of memory");
        rc = AX_ENOMEM;
    }
    for (size_t i = 0; i < ax__cfg_nkeys && rc == 0; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        const char *val = k->env ? getenv(k->env) : NULL;
        if (!val || !*val)
            continue;
        set[i] = 1;
        if (k->type == AX__CFG_LIST) {
            rc = env_list(&tmp, k, val, err);
            continue;
        }
        union ax__cfg_val v;
        if (ax__cfg_parse(k, val, &v, msg, sizeof msg) != 0) {
            ax__cfg_error_set(err, k->env, 0, 0, k->path, "%s", msg);
            rc = AX_ECONFIG;
        } else {
            ax__cfg_store(k, &tmp, &v);
        }
    }
    if (rc == 0) {
        size_t blame;
        if (ax__cfg_check_rules(&tmp, set, &blame, msg, sizeof msg) >= 0) {
            const struct ax__cfg_key *k = &ax__cfg_keys[blame];
            ax__cfg_error_set(err, set[blame] ? k->env : "environment", 0, 0, k->path, "%s", msg);
            rc = AX_ECONFIG;
        }
    }
    free(set);
    if (rc == 0) {
        ax_config_fini(cfg);
        *cfg = tmp;
    } else {
        ax_config_fini(&tmp);
    }
    return rc;
}
