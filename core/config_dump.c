/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writing a configuration out: the YAML dump (`axon config --defaults`) and
 * the Markdown key reference of docs/configuration.md. Both iterate the key
 * table; the dump is written so that loading it gives back an equal config.
 */
#include <inttypes.h>
#include <string.h>

#include "core/ax__config.h"

/* Size of a formatted scalar: a quoted string may escape every byte. */
#define VALBUF (4 * (AX_CONFIG_TOPIC_MAX + AX_CONFIG_PEER_MAX) + 16)

/* Write @text as comment lines of at most ~78 columns after @indent;
 * lines after the first are indented by @hang more spaces. */
static void comment_hang(FILE *out, const char *indent, int hang, const char *text)
{
    size_t width = 76 - strlen(indent);
    const char *pad = "";
    while (*text) {
        size_t len = strlen(text), cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        fprintf(out, "%s# %s%.*s\n", indent, pad, (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
        if (!*pad && hang > 0) {
            pad = "    ";
            pad += 4 - (hang > 4 ? 4 : hang);
            width -= (size_t)(hang > 4 ? 4 : hang);
        }
    }
}

static void comment(FILE *out, const char *indent, const char *text)
{
    comment_hang(out, indent, 0, text);
}

static void type_line(const struct ax__cfg_key *k, char *buf, size_t size)
{
    char range[160], def[64];
    ax__cfg_describe_range(k, range, sizeof range);
    if (k->type == AX__CFG_LIST || k->type == AX__CFG_QOSMAP)
        snprintf(def, sizeof def, "%s", k->type == AX__CFG_LIST ? "[]" : "{}");
    else
        snprintf(def, sizeof def, "%s", k->def && *k->def ? k->def : "\"\"");
    snprintf(buf, size, "Type: %s%s%s%s, %s. Default: %s.%s%s%s", ax__cfg_type_name(k->type),
             k->unit ? " (" : "", k->unit ? k->unit : "", k->unit ? ")" : "", range, def,
             k->env ? " Environment: " : "", k->env ? k->env : "", k->env ? "." : "");
}

static void dump_qos_entry(FILE *out, const struct ax_qos_override *q)
{
    char buf[VALBUF];
    ax__cfg_quote(q->topic, buf, sizeof buf);
    fprintf(out, "  %s: {", buf);
    const char *sep = "";
    for (size_t i = 0; i < ax__cfg_nqos_keys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_qos_keys[i];
        union ax__cfg_val v;
        char msg[128];
        if (k->flags & AX__CFG_F_NOSTORE)
            continue;
        if (ax__cfg_load(k, &q->qos, &v, msg, sizeof msg) != 0)
            continue;
        ax__cfg_format(k, &v, buf, sizeof buf);
        fprintf(out, "%s%s: %s", sep, k->path, buf);
        sep = ", ";
    }
    fprintf(out, "}\n");
}

int ax_config_dump(const struct ax_config *cfg, FILE *out, unsigned flags)
{
    if (!cfg || !out || (flags & ~(unsigned)AX_CONFIG_DUMP_COMMENTS))
        return AX_EINVAL;
    const bool comments = flags & AX_CONFIG_DUMP_COMMENTS;
    char section[64] = "", buf[VALBUF], line[400];
    if (comments)
        fprintf(out,
                "# axon configuration. Every key with its value; see docs/configuration.md.\n");
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        const char *dot = strchr(k->path, '.');
        const char *indent = dot ? "  " : "";
        const char *name = dot ? dot + 1 : k->path;
        if (dot && (strncmp(section, k->path, (size_t)(dot - k->path)) != 0 ||
                    section[dot - k->path] != 0)) {
            snprintf(section, sizeof section, "%.*s", (int)(dot - k->path), k->path);
            fprintf(out, "%s%s:\n", comments && i ? "\n" : "", section);
        } else if (!dot) {
            section[0] = 0;
            if (comments && i)
                fprintf(out, "\n");
        }
        if (comments) {
            comment(out, indent, k->desc);
            type_line(k, line, sizeof line);
            comment(out, indent, line);
        }
        if (k->type == AX__CFG_LIST) {
            char *const *items =
                *(char *const *const *)(const void *)((const char *)cfg + k->offset);
            size_t n = *(const size_t *)(const void *)((const char *)cfg + k->count_offset);
            fprintf(out, "%s%s:%s\n", indent, name, n ? "" : " []");
            for (size_t j = 0; j < n; j++) {
                ax__cfg_quote(items[j], buf, sizeof buf);
                fprintf(out, "%s  - %s\n", indent, buf);
            }
        } else if (k->type == AX__CFG_QOSMAP) {
            fprintf(out, "%s%s:%s\n", indent, name, cfg->nqos ? "" : " {}");
            if (comments && cfg->nqos == 0) {
                comment(out, "  ", "For example:");
                comment(out, "  ", "\"/map\": {profile: latched}");
                comment(out, "  ", "\"/sensors/lidar\": {profile: sensor_data, history: 2}");
            }
            for (size_t j = 0; j < cfg->nqos; j++)
                dump_qos_entry(out, &cfg->qos[j]);
        } else {
            union ax__cfg_val v;
            if (ax__cfg_load(k, cfg, &v, buf, sizeof buf) != 0)
                return AX_EINVAL;
            ax__cfg_format(k, &v, buf, sizeof buf);
            fprintf(out, "%s%s: %s\n", indent, name, buf);
        }
    }
    if (comments) {
        fprintf(out, "\n");
        comment(out, "", "QoS keys of a qos entry (profile applied first):");
        for (size_t i = 0; i < ax__cfg_nqos_keys; i++) {
            const struct ax__cfg_key *k = &ax__cfg_qos_keys[i];
            char range[160];
            ax__cfg_describe_range(k, range, sizeof range);
            snprintf(line, sizeof line, "  %s: %s, %s. %s", k->path, ax__cfg_type_name(k->type),
                     range, k->desc);
            comment_hang(out, "", 4, line);
        }
    }
    return fflush(out) != 0 || ferror(out) ? AX_EIO : 0;
}

/* A Markdown table cell: '|' escaped, newlines as spaces. */
static void cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

static void reference_row(FILE *out, const char *key, const struct ax__cfg_key *k, bool env_col)
{
    char range[160], type[64];
    ax__cfg_describe_range(k, range, sizeof range);
    snprintf(type, sizeof type, "%s%s%s%s", ax__cfg_type_name(k->type), k->unit ? " (" : "",
             k->unit ? k->unit : "", k->unit ? ")" : "");
    fprintf(out, "| `%s` | ", key);
    cell(out, type);
    fputs(" | ", out);
    if (k->type == AX__CFG_LIST)
        fputs("`[]`", out);
    else if (k->type == AX__CFG_QOSMAP)
        fputs("`{}`", out);
    else if (!k->def)
        fputs("from the profile", out);
    else if (!*k->def)
        fputs("`\"\"`", out);
    else
        fprintf(out, "`%s`", k->def);
    fputs(" | ", out);
    cell(out, range);
    if (env_col) {
        fputs(" | ", out);
        if (k->env)
            fprintf(out, "`%s`", k->env);
    }
    fputs(" | ", out);
    cell(out, k->desc);
    fputs(" |\n", out);
}

int ax_config_write_reference(FILE *out)
{
    if (!out)
        return AX_EINVAL;
    fputs("| Key | Type | Default | Allowed | Environment | Description |\n", out);
    fputs("|-----|------|---------|---------|-------------|-------------|\n", out);
    for (size_t i = 0; i < ax__cfg_nkeys; i++)
        reference_row(out, ax__cfg_keys[i].path, &ax__cfg_keys[i], true);
    fputs("\nKeys of one entry of the `qos` map (`qos: {<topic>: {<key>: <value>, ...}}`); "
          "`profile` is applied first, the other keys override it:\n\n",
          out);
    fputs("| Key | Type | Default | Allowed | Description |\n", out);
    fputs("|-----|------|---------|---------|-------------|\n", out);
    for (size_t i = 0; i < ax__cfg_nqos_keys; i++) {
        char key[64];
        snprintf(key, sizeof key, "qos.<topic>.%s", ax__cfg_qos_keys[i].path);
        reference_row(out, key, &ax__cfg_qos_keys[i], false);
    }
    return fflush(out) != 0 || ferror(out) ? AX_EIO : 0;
}
