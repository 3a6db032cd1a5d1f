/* SPDX-License-Identifier: Apache-2.0 */
/*
 * axon param list | get | set | dump | load: a running node's parameters,
 * through its parameter service (docs/parameters.md). Values are written
 * and shown as text; the node converts them to the declared types and says
 * why it refuses one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *type_name(enum ax_param_type t)
{
    switch (t) {
    case AX_PARAM_BOOL:
        return "bool";
    case AX_PARAM_INT:
        return "int";
    case AX_PARAM_DOUBLE:
        return "double";
    default:
        return "string";
    }
}

/* The node's parameters, or an exit code (after saying why). */
static int fetch(struct cli *c, const char *node, int64_t timeout, struct ax_param_info **v,
                 size_t *n)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    char why[300];
    rc = ax_param_remote_list(c->node, node, timeout, v, n, why, sizeof why);
    if (rc < 0)
        return cli_error("%s (%s)", why, ax_err_name(rc));
    return 0;
}

static bool timeout_opt(const struct cli_args *a, int64_t *t)
{
    *t = 5 * AX_NS_PER_S;
    return cli_opt_seconds(a, "timeout", t);
}

/* The node a->pos[0]'s parameters, within the verb's --timeout. */
static int fetch_for(struct cli *c, const struct cli_args *a, struct ax_param_info **v, size_t *n)
{
    int64_t timeout;
    if (!timeout_opt(a, &timeout))
        return CLI_EXIT_USAGE;
    return fetch(c, a->pos[0], timeout, v, n);
}

static const char *limits(const struct ax_param_info *p, char *buf, size_t size)
{
    if (p->has_range)
        snprintf(buf, size, "[%g, %g]", p->min, p->max);
    else if (p->choices[0])
        snprintf(buf, size, "%s", p->choices);
    else
        snprintf(buf, size, "-");
    return buf;
}

int cli_verb_param_list(struct cli *c, const struct cli_args *a)
{
    struct ax_param_info *v;
    size_t n;
    int rc = fetch_for(c, a, &v, &n);
    if (rc)
        return rc;
    if (c->json) {
        struct cli_json j;
        cj_init(&j, stdout);
        cj_arr(&j, NULL);
        for (size_t i = 0; i < n; i++) {
            cj_obj(&j, NULL);
            cj_str(&j, "name", v[i].name);
            cj_str(&j, "type", type_name(v[i].type));
            cj_str(&j, "value", v[i].value);
            cj_str(&j, "default", v[i].default_value);
            if (v[i].has_range) {
                cj_num(&j, "min", v[i].min);
                cj_num(&j, "max", v[i].max);
            }
            if (v[i].choices[0])
                cj_str(&j, "choices", v[i].choices);
            cj_bool(&j, "read_only", v[i].read_only);
            cj_str(&j, "description", v[i].description);
            cj_end_obj(&j);
        }
        cj_end_arr(&j);
        cj_done(&j);
    } else {
        static const char *const cols[] = {"NAME",   "TYPE", "VALUE",      "DEFAULT",
                                           "LIMITS", "RO",   "DESCRIPTION"};
        struct cli_table *t = cli_table_new(cols, 7);
        for (size_t i = 0; i < n; i++) {
            char b[128];
            cli_table_row(t);
            cli_table_cell(t, "%s", v[i].name);
            cli_table_cell(t, "%s", type_name(v[i].type));
            cli_table_cell(t, "%s", v[i].value);
            cli_table_cell(t, "%s", v[i].default_value);
            cli_table_cell(t, "%s", limits(&v[i], b, sizeof b));
            cli_table_cell(t, "%s", v[i].read_only ? "ro" : "");
            cli_table_cell(t, "%s", v[i].description);
        }
        cli_table_print(t, stdout, NULL);
        cli_table_free(t);
    }
    free(v);
    return CLI_EXIT_OK;
}

int cli_verb_param_get(struct cli *c, const struct cli_args *a)
{
    struct ax_param_info *v;
    size_t n;
    int rc = fetch_for(c, a, &v, &n);
    if (rc)
        return rc;
    int result = CLI_EXIT_ERR;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].name, a->pos[1]) == 0) {
            printf("%s\n", v[i].value);
            result = CLI_EXIT_OK;
        }
    }
    if (result != CLI_EXIT_OK)
        cli_error("node '%s' has no parameter %s ('axon param list %s' shows those it has)",
                  a->pos[0], a->pos[1], a->pos[0]);
    free(v);
    return result;
}

/* Set @count names to values; print each refusal. */
static int set_many(struct cli *c, const char *node, const char *const *names,
                    const char *const *values, size_t count, int64_t timeout, bool quiet)
{
    int rc;
    if ((rc = cli_node_open(c)) != 0)
        return rc;
    struct ax_param_result *res = calloc(count ? count : 1, sizeof *res);
    if (!res)
        return cli_error("out of memory");
    char why[300];
    rc = ax_param_remote_set(c->node, node, names, values, count, timeout, res, why, sizeof why);
    if (rc < 0) {
        free(res);
        return cli_error("%s (%s)", why, ax_err_name(rc));
    }
    size_t refused = 0;
    for (size_t i = 0; i < count; i++) {
        if (res[i].error == 0) {
            if (!quiet)
                printf("%s = %s\n", names[i], values[i]);
            continue;
        }
        refused++;
        cli_error("%s: refused (%s): %s", names[i], ax_err_name(res[i].error), res[i].reason);
    }
    free(res);
    return refused ? CLI_EXIT_ERR : CLI_EXIT_OK;
}

int cli_verb_param_set(struct cli *c, const struct cli_args *a)
{
    int64_t timeout;
    if (!timeout_opt(a, &timeout))
        return CLI_EXIT_USAGE;
    const char *name = a->pos[1], *value = a->pos[2];
    return set_many(c, a->pos[0], &name, &value, 1, timeout, false);
}

/* A value as YAML: strings quoted (so that "true" stays a string). */
static void yaml_value(const struct ax_param_info *p)
{
    if (p->type != AX_PARAM_STRING) {
        printf("%s", p->value);
        return;
    }
    putchar('"');
    for (const char *s = p->value; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if (*s == '\n')
            printf("\\n");
        else
            putchar(*s);
    }
    putchar('"');
}

int cli_verb_param_dump(struct cli *c, const struct cli_args *a)
{
    struct ax_param_info *v;
    size_t n;
    int rc = fetch_for(c, a, &v, &n);
    if (rc)
        return rc;
    printf("# parameters of node '%s' (axon param load %s FILE sets them again)\n", a->pos[0],
           a->pos[0]);
    for (size_t i = 0; i < n; i++) {
        if (v[i].read_only)
            printf("# read-only: ");
        printf("%s: ", v[i].name);
        yaml_value(&v[i]);
        putchar('\n');
    }
    free(v);
    return CLI_EXIT_OK;
}

int cli_verb_param_load(struct cli *c, const struct cli_args *a)
{
    int64_t timeout;
    if (!timeout_opt(a, &timeout))
        return CLI_EXIT_USAGE;
    char **names, **values;
    size_t n;
    char why[300];
    int rc = ax_param_load_yaml(a->pos[1], &names, &values, &n, why, sizeof why);
    if (rc < 0)
        return cli_error("%s", why);
    rc = set_many(c, a->pos[0], (const char *const *)names, (const char *const *)values, n, timeout,
                  cli_flag(a, "quiet"));
    ax_param_yaml_free(names, values, n);
    return rc;
}
