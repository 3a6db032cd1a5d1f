/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parameter files (`axon param load NODE FILE.yaml`, ax_param_load_yaml()):
 * one YAML mapping of names to scalars; a nested mapping joins its keys
 * with '.' ("controller: {kp: 1}" is "controller.kp"). What `axon param
 * dump` writes reads back. Anything else (a sequence, an alias, a second
 * document, a name too long) is an error naming its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "axon/param.h"

struct acc {
    char **names, **values;
    size_t n, cap;
};

static int push(struct acc *a, const char *name, const char *value)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **nn = realloc(a->names, cap * sizeof *nn);
        if (!nn)
            return AX_ENOMEM;
        a->names = nn;
        char **vv = realloc(a->values, cap * sizeof *vv);
        if (!vv)
            return AX_ENOMEM;
        a->values = vv;
        a->cap = cap;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return AX_ENOMEM;
    }
    a->names[a->n] = n;
    a->values[a->n++] = v;
    return 0;
}

static int walk(yaml_document_t *doc, yaml_node_t *map, const char *prefix, struct acc *a,
                char *why, size_t len, int depth)
{
    if (depth > 8) {
        snprintf(why, len, "line %zu: mappings nested too deep", map->start_mark.line + 1);
        return AX_ECONFIG;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE) {
            snprintf(why, len, "line %zu: a key must be a name",
                     (k ? k->start_mark.line : map->start_mark.line) + 1);
            return AX_ECONFIG;
        }
        char name[AX_PARAM_NAME_MAX];
        int n = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "",
                         (const char *)k->data.scalar.value);
        if (n < 0 || (size_t)n >= sizeof name) {
            snprintf(why, len, "line %zu: the name is longer than %d bytes", k->start_mark.line + 1,
                     AX_PARAM_NAME_MAX - 1);
            return AX_ECONFIG;
        }
        int rc;
        if (v->type == YAML_MAPPING_NODE) {
            rc = walk(doc, v, name, a, why, len, depth + 1);
        } else if (v->type == YAML_SCALAR_NODE) {
            rc = push(a, name, (const char *)v->data.scalar.value);
        } else {
            snprintf(why, len, "line %zu: %s: a sequence is not a parameter value",
                     v->start_mark.line + 1, name);
            rc = AX_ECONFIG;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ax_param_load_yaml(const char *path, char ***names, char ***values, size_t *n, char *why,
                       size_t why_size)
{
    char dummy[8];
    if (!why || !why_size) {
        why = dummy;
        why_size = sizeof dummy;
    }
    why[0] = '\0';
    if (!path || !names || !values || !n)
        return AX_EINVAL;
    *names = *values = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_size, "%s: cannot open it", path);
        return AX_ENOENT;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    struct acc a = {0};
    int rc = 0;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return AX_ENOMEM;
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(why, why_size, "%s: line %zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "not YAML");
        rc = AX_ECONFIG;
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type != YAML_MAPPING_NODE) {
            snprintf(why, why_size, "%s: line %zu: the file must be a mapping of names to values",
                     path, root->start_mark.line + 1);
            rc = AX_ECONFIG;
        } else if (root) {
            char inner[200] = "";
            rc = walk(&doc, root, "", &a, inner, sizeof inner, 0);
            if (rc < 0)
                snprintf(why, why_size, "%s: %s", path, inner);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    if (rc < 0) {
        ax_param_yaml_free(a.names, a.values, a.n);
        return rc;
    }
    *names = a.names;
    *values = a.values;
    *n = a.n;
    return 0;
}

void ax_param_yaml_free(char **names, char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names ? names[i] : NULL);
        free(values ? values[i] : NULL);
    }
    free(names);
    free(values);
}
