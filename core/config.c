/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: the entry points that are neither loading nor the
 * environment. Errors (ax_config_error_str() and the setter every config
 * file reports through), the lifecycle (init from the key table, fini,
 * deep copy, the per-topic QoS lookup) and the validation of a config built
 * in code.
 *
 * Where the rest lives: config_table.c (the keys), config_value.c (values
 * of each type), config_rules.c (rules between keys), config_load.c (YAML
 * documents), config_env.c (AXON_* variables), config_suggest.c ("did you
 * mean"), config_dump.c (the YAML dump and the Markdown reference).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "core/ax__config.h"

/* ---- errors ---- */

void ax__cfg_error_set(struct ax_config_error *err, const char *file, int line, int column,
                       const char *key, const char *fmt, ...)
{
    if (!err)
        return;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    err->line = line;
    err->column = column;
    snprintf(err->key, sizeof err->key, "%s", key ? key : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

const char *ax_config_error_str(const struct ax_config_error *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = 0;
    if (!err)
        return buf;
    size_t o = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        if (o < size)                                                                              \
            o += (size_t)snprintf(buf + o, size - o, __VA_ARGS__);                                 \
    } while (0)
    if (err->file[0])
        ADD("%s:", err->file);
    if (err->line > 0)
        ADD("%d:", err->line);
    if (err->line > 0 && err->column > 0)
        ADD("%d:", err->column);
    if (o > 0)
        ADD(" ");
    if (err->key[0])
        ADD("%s: ", err->key);
    ADD("%s", err->message);
#undef ADD
    return buf;
}

/* ---- LIST fields ---- */

void ax__cfg_list_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

int ax__cfg_list_add(char ***items, size_t *n, size_t *cap, const char *text)
{
    if (ax__array_reserve(items, cap, *n + 1, 4) != 0)
        return AX_ENOMEM;
    char *copy = strdup(text);
    if (!copy)
        return AX_ENOMEM;
    (*items)[(*n)++] = copy;
    return 0;
}

void ax__cfg_list_set(const struct ax__cfg_key *k, void *base, char **items, size_t n)
{
    char ***field = (char ***)(void *)((char *)base + k->offset);
    size_t *count = (size_t *)(void *)((char *)base + k->count_offset);
    ax__cfg_list_free(*field, *count);
    *field = items;
    *count = n;
}

/* ---- lifecycle ---- */

static void free_qos(struct ax_qos_override *q, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(q[i].topic);
    free(q);
}

void ax_config_init(struct ax_config *cfg)
{
    char msg[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        union ax__cfg_val v;
        /* Lists and the qos map default to empty (test_config checks the
         * table says so); scalars parse their default text. A default that
         * does not parse is a bug in the table, caught by the tests. */
        if (k->type == AX__CFG_LIST || k->type == AX__CFG_QOSMAP)
            continue;
        if (ax__cfg_parse(k, k->def, &v, msg, sizeof msg) != 0)
            abort();
        ax__cfg_store(k, cfg, &v);
    }
}

void ax_config_fini(struct ax_config *cfg)
{
    if (!cfg)
        return;
    ax__cfg_list_free(cfg->discovery.peers, cfg->discovery.npeers);
    free_qos(cfg->qos, cfg->nqos);
    ax_config_init(cfg);
}

int ax_config_copy(struct ax_config *dst, const struct ax_config *src)
{
    if (!dst || !src)
        return AX_EINVAL;
    if (dst == src)
        return 0;
    *dst = *src;
    dst->discovery.peers = NULL;
    dst->discovery.npeers = 0;
    dst->qos = NULL;
    dst->nqos = 0;
    if (src->discovery.npeers) {
        dst->discovery.peers = calloc(src->discovery.npeers, sizeof(char *));
        if (!dst->discovery.peers)
            goto nomem;
        for (size_t i = 0; i < src->discovery.npeers; i++) {
            dst->discovery.peers[i] = strdup(src->discovery.peers[i]);
            dst->discovery.npeers++;
            if (!dst->discovery.peers[i])
                goto nomem;
        }
    }
    if (src->nqos) {
        dst->qos = calloc(src->nqos, sizeof *dst->qos);
        if (!dst->qos)
            goto nomem;
        for (size_t i = 0; i < src->nqos; i++) {
            dst->qos[i] = src->qos[i];
            dst->qos[i].topic = strdup(src->qos[i].topic);
            dst->nqos++;
            if (!dst->qos[i].topic)
                goto nomem;
        }
    }
    return 0;
nomem:
    ax_config_fini(dst);
    return AX_ENOMEM;
}

int ax_config_qos_for(const struct ax_config *cfg, const char *topic, struct ax_qos *qos)
{
    if (!cfg || !topic || !qos)
        return AX_EINVAL;
    for (size_t i = 0; i < cfg->nqos; i++) {
        if (strcmp(cfg->qos[i].topic, topic) == 0) {
            *qos = cfg->qos[i].qos;
            return 0;
        }
    }
    return AX_ENOTFOUND;
}

/* ---- validation of a config built in code ---- */

int ax_config_validate(const struct ax_config *cfg, struct ax_config_error *err)
{
    char msg[200];
    if (!cfg) {
        ax__cfg_error_set(err, "", 0, 0, "", "invalid argument");
        return AX_EINVAL;
    }
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        union ax__cfg_val v;
        if (k->type == AX__CFG_LIST) {
            char *const *items =
                *(char *const *const *)(const void *)((const char *)cfg + k->offset);
            size_t n = *(const size_t *)(const void *)((const char *)cfg + k->count_offset);
            if (n > k->max || (n && !items)) {
                ax__cfg_error_set(err, "", 0, 0, k->path, "%zu entries, at most %zu", n,
                                  (size_t)k->max);
                return AX_ECONFIG;
            }
            for (size_t j = 0; j < n; j++) {
                v.s = items[j] ? items[j] : "";
                if (ax__cfg_check(k, &v, msg, sizeof msg) != 0) {
                    ax__cfg_error_set(err, "", 0, 0, k->path, "entry %zu: %s", j + 1, msg);
                    return AX_ECONFIG;
                }
            }
        } else if (k->type == AX__CFG_QOSMAP) {
            if (cfg->nqos > k->max || (cfg->nqos && !cfg->qos)) {
                ax__cfg_error_set(err, "", 0, 0, k->path, "%zu topics, at most %zu", cfg->nqos,
                                  (size_t)k->max);
                return AX_ECONFIG;
            }
            for (size_t j = 0; j < cfg->nqos; j++) {
                const struct ax_qos_override *q = &cfg->qos[j];
                v.s = q->topic ? q->topic : "";
                if (ax__cfg_check(k, &v, msg, sizeof msg) != 0) {
                    ax__cfg_error_set(err, "", 0, 0, k->path, "entry %zu: topic name: %s", j + 1,
                                      msg);
                    return AX_ECONFIG;
                }
                for (size_t m = 0; m < ax__cfg_nqos_keys; m++) {
                    const struct ax__cfg_key *qk = &ax__cfg_qos_keys[m];
                    char path[sizeof err->key];
                    if (qk->flags & AX__CFG_F_NOSTORE)
                        continue;
                    snprintf(path, sizeof path, "qos[%.100s].%s", q->topic, qk->path);
                    if (ax__cfg_load(qk, &q->qos, &v, msg, sizeof msg) != 0 ||
                        ax__cfg_check(qk, &v, msg, sizeof msg) != 0) {
                        ax__cfg_error_set(err, "", 0, 0, path, "%s", msg);
                        return AX_ECONFIG;
                    }
                }
            }
        } else if (ax__cfg_load(k, cfg, &v, msg, sizeof msg) != 0 ||
                   ax__cfg_check(k, &v, msg, sizeof msg) != 0) {
            ax__cfg_error_set(err, "", 0, 0, k->path, "%s", msg);
            return AX_ECONFIG;
        }
    }
    size_t blame;
    if (ax__cfg_check_rules(cfg, NULL, &blame, msg, sizeof msg) >= 0) {
        ax__cfg_error_set(err, "", 0, 0, ax__cfg_keys[blame].path, "%s", msg);
        return AX_ECONFIG;
    }
    return 0;
}
