/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The argument parser: a verb's options and positional arguments (from its
 * entry in the verb table), the global options every verb accepts, a verb's
 * --help, and usage errors.
 *
 * Options may come anywhere on the line, long (--window 5, --window=5) or
 * short (-w 5); "--" ends them. A word that starts with '-' followed by a
 * digit or '.' is a positional argument (a negative number), not an option.
 * A repeated option keeps its last value for cli_opt() and up to 16 values
 * for cli_opt_all().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "axon/units.h"
#include "cli.h"

const struct cli_opt cli_global_opts[] = {
    {"domain", 0, "N", "domain to join (0..232; default: node.domain, AXON_DOMAIN)", NULL},
    {"config", 0, "FILE", "configuration file (YAML; see 'axon config --defaults')", "file"},
    {"json", 0, NULL, "machine-readable output: JSON (one object per line when streaming)", NULL},
    {"wait", 0, "S", "how long to wait for discovery to settle (default 1.5 s)", NULL},
    {"log-level", 0, "LEVEL", "library log level: off, error (default), warn, info, debug",
     "=off|error|warn|info|debug|trace"},
    {"help", 'h', NULL, "show this help", NULL},
    {0},
};

int cli_usage_error(const struct cli_verb *v, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("axon: usage error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr,
            "\nUsage: axon %s %s%s[options]\nRun 'axon %s --help' for the options and an "
            "example.\n",
            v->path, v->synopsis, *v->synopsis ? " " : "", v->path);
    return CLI_EXIT_USAGE;
}

/* ---- help ---- */

static size_t nopts(const struct cli_opt *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

static void print_opts(FILE *f, const struct cli_opt *o)
{
    for (; o && o->name; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        /* The help wrapped at 79 columns, continuation lines under it. */
        fprintf(f, "  %-24s", left);
        const char *h = o->help;
        int col = 27;
        while (*h) {
            size_t w = strcspn(h, " ");
            if (col > 27 && col + 1 + (int)w > 79) {
                fprintf(f, "\n%26s", "");
                col = 27;
            }
            fprintf(f, " %.*s", (int)w, h);
            col += 1 + (int)w;
            h += w;
            while (*h == ' ')
                h++;
        }
        fputc('\n', f);
    }
}

static void print_help(const struct cli_verb *v)
{
    printf("Usage: axon %s %s%s[options]\n\n%s\n", v->path, v->synopsis, *v->synopsis ? " " : "",
           v->about ? v->about : v->summary);
    if (v->details)
        printf("\n%s\n", v->details);
    if (nopts(v->opts)) {
        printf("\nOptions:\n");
        print_opts(stdout, v->opts);
    }
    printf("\nGlobal options:\n");
    print_opts(stdout, cli_global_opts);
    if (v->example)
        printf("\nExample:\n%s\n", v->example);
}

/* ---- looking options up ---- */

/* The index of an option of @v or a global one (after @v's own), by long
 * name (@name, @len) or by @short_name; -1 when there is none. */
static int find_opt(const struct cli_verb *v, const char *name, size_t len, char short_name,
                    const struct cli_opt **o)
{
    size_t n = nopts(v->opts);
    for (size_t i = 0; i < n + nopts(cli_global_opts); i++) {
        const struct cli_opt *x = i < n ? &v->opts[i] : &cli_global_opts[i - n];
        if ((name && strlen(x->name) == len && strncmp(x->name, name, len) == 0) ||
            (!name && short_name && x->short_name == short_name)) {
            *o = x;
            return (int)i;
        }
    }
    return -1;
}

static int index_of(const struct cli_args *a, const char *name)
{
    const struct cli_opt *o;
    return find_opt(a->verb, name, strlen(name), 0, &o);
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i >= 0 ? a->val[i] : NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i >= 0 && a->count[i] > 0;
}

size_t cli_opt_all(const struct cli_args *a, const char *name, const char **out, size_t cap)
{
    int i = index_of(a, name);
    if (i < 0)
        return 0;
    size_t n = (size_t)a->count[i];
    if (n > 16)
        n = 16;
    for (size_t k = 0; k < n && k < cap; k++)
        out[k] = a->multi[i][k];
    return n < cap ? n : cap;
}

bool cli_opt_double(const struct cli_args *a, const char *name, double min, double max, double *out)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= min && d <= max)) {
        cli_usage_error(a->verb, "--%s %s: expected a number from %g to %g", name, v, min, max);
        return false;
    }
    *out = d;
    return true;
}

bool cli_opt_long(const struct cli_args *a, const char *name, long min, long max, long *out)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    char *end;
    errno = 0;
    long l = strtol(v, &end, 10);
    if (errno || end == v || *end || l < min || l > max) {
        cli_usage_error(a->verb, "--%s %s: expected a whole number from %ld to %ld", name, v, min,
                        max);
        return false;
    }
    *out = l;
    return true;
}

bool cli_opt_seconds(const struct cli_args *a, const char *name, int64_t *out_ns)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    /* The library's grammar, so `--wait 1.5` and `heartbeat: 1.5s` in a
     * configuration file read alike; a bare number is seconds here. */
    char why[192];
    if (ax_duration_parse(v, AX_NS_PER_S, out_ns, why, sizeof why) < 0) {
        cli_usage_error(a->verb, "--%s: %s", name, why);
        return false;
    }
    return true;
}

bool cli_opt_size(const struct cli_args *a, const char *name, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    const char *v = cli_opt(a, name);
    if (!v)
        return true;
    /* The library's grammar too: `--queue-size 64MiB` as in a configuration
     * file's `queue_bytes: 64MiB`. */
    char why[192], lo[AX_UNITS_STRLEN], hi[AX_UNITS_STRLEN];
    uint64_t b;
    if (ax_size_parse(v, &b, why, sizeof why) < 0) {
        cli_usage_error(a->verb, "--%s: %s", name, why);
        return false;
    }
    if (b < min || b > max) {
        cli_usage_error(a->verb, "--%s %s: from %s to %s", name, v,
                        ax_size_format(min, lo, sizeof lo), ax_size_format(max, hi, sizeof hi));
        return false;
    }
    *out = b;
    return true;
}

/* ---- the global options ---- */

static int apply_globals(struct cli *c, const struct cli_args *a)
{
    c->json = cli_flag(a, "json");
    if (!cli_opt_seconds(a, "wait", &c->wait_ns))
        return CLI_EXIT_USAGE;
    const char *lv = cli_opt(a, "log-level");
    int level = AX_LOG_WARN;
    if (lv && ax_log_level_parse(lv, &level) < 0)
        return cli_usage_error(a->verb,
                               "--log-level %s: one of off, error, warn, info, debug, trace", lv);
    struct ax_config_error err;
    char buf[512];
    c->config_path = cli_opt(a, "config");
    if (c->config_path) {
        int rc = ax_config_load_file(&c->cfg, c->config_path, &err);
        if (rc < 0)
            return cli_error("cannot load the configuration: %s (%s)",
                             ax_config_error_str(&err, buf, sizeof buf), ax_strerror(rc));
    }
    int rc = ax_config_apply_env(&c->cfg, &err);
    if (rc < 0)
        return cli_error("bad configuration from the environment: %s",
                         ax_config_error_str(&err, buf, sizeof buf));
    if (!lv && !getenv("AXON_LOG_LEVEL") && !c->config_path)
        c->cfg.log_level = AX_LOG_ERROR;
    if (lv)
        c->cfg.log_level = level;
    ax_log_set_level(c->cfg.log_level);
    long domain = -1;
    if (!cli_opt_long(a, "domain", 0, 232, &domain))
        return CLI_EXIT_USAGE;
    if (domain >= 0) {
        c->cfg.domain = (uint32_t)domain;
        c->domain_set = true;
    }
    return 0;
}

/* ---- parsing ---- */

int cli_parse(struct cli *c, const struct cli_verb *v, int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->verb = v;
    a->argc = argc;
    a->argv = argv;
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || s[1] == '\0' ||
            ((s[1] >= '0' && s[1] <= '9') || s[1] == '.')) {
            if (a->npos >= CLI_MAX_POS)
                return cli_usage_error(v, "too many arguments");
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        const struct cli_opt *o = NULL;
        const char *val = NULL;
        int idx;
        if (s[1] == '-') {
            const char *name = s + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            idx = find_opt(v, name, len, 0, &o);
            if (idx < 0)
                return cli_usage_error(v, "unknown option %s", s);
            if (eq) {
                if (!o->arg)
                    return cli_usage_error(v, "option --%s takes no value", o->name);
                val = eq + 1;
            }
        } else {
            if (s[2] != '\0')
                return cli_usage_error(v, "unknown option %s (long options start with --)", s);
            idx = find_opt(v, NULL, 0, s[1], &o);
            if (idx < 0)
                return cli_usage_error(v, "unknown option %s", s);
        }
        if (o->arg && !val) {
            if (i + 1 >= argc)
                return cli_usage_error(v, "option --%s needs a value (%s)", o->name, o->arg);
            val = argv[++i];
        }
        if (strcmp(o->name, "help") == 0) {
            print_help(v);
            return CLI_HELP_SHOWN;
        }
        a->val[idx] = o->arg ? val : "1";
        if (a->count[idx] < 16)
            a->multi[idx][a->count[idx]] = a->val[idx];
        a->count[idx]++;
    }
    if (a->npos < v->min_pos)
        return cli_usage_error(v, "missing argument%s", v->min_pos - a->npos > 1 ? "s" : "");
    if (v->max_pos >= 0 && a->npos > v->max_pos)
        return cli_usage_error(v, "unexpected argument '%s'", a->pos[v->max_pos]);
    return apply_globals(c, a);
}
