/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: loading a YAML document, from a file or a string.
 *
 * Design note. The loader walks libyaml's event stream (not its document
 * tree) against the key table: the expected shape is known at every step,
 * so the first event that does not fit is reported with its mark, aliases
 * are refused when they appear (no expansion bombs), and nothing is
 * allocated for parts of a document that will be refused anyway. Nesting is
 * fixed by the schema (section -> key -> value; qos -> topic -> key ->
 * value), so the walk never recurses deeper than that whatever the input.
 * The message text parser loads a document tree instead (its shape follows
 * a descriptor); the two share their libyaml helpers, msgs/ax__yaml.h. On
 * a tree this loader would report an alias at its anchor, a syntax error
 * in place of an earlier bad key, and would first parse all of a deeply
 * nested input, which libyaml does in quadratic time.
 *
 * Every document is applied to a deep copy of the caller's config, which
 * replaces the original only when the whole document was valid and the
 * cross-key rules hold: a failed load changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "base/ax__array.h"
#include "core/ax__config.h"
#include "msgs/ax__yaml.h"

struct loader {
    yaml_parser_t parser;
    struct ax_config *cfg; /* the copy being built */
    struct ax_config_error *err;
    const char *name;
    int *line;           /* per key: line where this document set it, 0 = not set */
    int *col;            /* per key: its column */
    size_t qos_cap;      /* capacity of cfg->qos */
    int *qos_line;       /* per qos entry: line where this document set it, 0 = not */
    size_t qos_line_cap; /* capacity of qos_line */
};

static int vfail(struct loader *L, int line, int column, const char *key, const char *fmt,
                 va_list ap) __attribute__((format(printf, 5, 0)));

static int vfail(struct loader *L, int line, int column, const char *key, const char *fmt,
                 va_list ap)
{
    if (L->err) {
        char msg[sizeof L->err->message];
        vsnprintf(msg, sizeof msg, fmt, ap);
        ax__cfg_error_set(L->err, L->name, line, column, key, "%s", msg);
    }
    return AX_ECONFIG;
}

/* An error at 1-based @line and @column (0: none). */
static int fail_pos(struct loader *L, int line, int column, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail_pos(struct loader *L, int line, int column, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(L, line, column, key, fmt, ap);
    va_end(ap);
    return rc;
}

/* An error at mark @m (NULL: no position). */
static int fail_at(struct loader *L, const yaml_mark_t *m, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct loader *L, const yaml_mark_t *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(L, m ? ax__yaml_line(m) : 0, m ? ax__yaml_column(m) : 0, key, fmt, ap);
    va_end(ap);
    return rc;
}

/* Next event; refuses aliases and turns libyaml errors into ours. */
static int next(struct loader *L, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&L->parser, ev)) {
        struct ax__yaml_error e;
        ax__yaml_error_of(&L->parser, &e);
        if (e.nomem) {
            ax__cfg_error_set(L->err, L->name, 0, 0, "", "out of memory");
            return AX_ENOMEM;
        }
        if (e.reader)
            return fail_pos(L, 0, 0, "", "YAML error: %s at byte %zu",
                            e.problem ? e.problem : "bad input", e.offset);
        if (e.context)
            return fail_pos(L, e.line, e.column, "",
                            "YAML syntax error: %s (%s that started on line %d)",
                            e.problem ? e.problem : "?", e.context, e.context_line);
        return fail_pos(L, e.line, e.column, "", "YAML syntax error: %s",
                        e.problem ? e.problem : "?");
    }
    if (ev->type == YAML_ALIAS_EVENT) {
        int rc = fail_at(L, &ev->start_mark, "", "YAML aliases (*%s) are not supported",
                         (const char *)ev->data.alias.anchor);
        yaml_event_delete(ev);
        return rc;
    }
    return 0;
}

/* A key of a mapping: the next event must be a scalar or the mapping's end.
 * Returns 1 with the key copied (truncated to @size) and its mark, 0 at
 * the end of the mapping, or an error. */
static int next_key(struct loader *L, const char *where, char *key, size_t size, yaml_mark_t *mark)
{
    yaml_event_t ev;
    int rc = next(L, &ev);
    if (rc)
        return rc;
    if (ev.type == YAML_MAPPING_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    if (ev.type != YAML_SCALAR_EVENT) {
        rc = fail_at(L, &ev.start_mark, where, "expected a key, got %s", ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    *mark = ev.start_mark;
    const char *v = (const char *)ev.data.scalar.value;
    if (ax__yaml_has_nul(ev.data.scalar.value, ev.data.scalar.length)) {
        yaml_event_delete(&ev);
        return fail_at(L, mark, where, "a key contains a NUL byte");
    }
    if (ev.data.scalar.length >= size) {
        rc = fail_at(L, mark, where, "key \"%.40s...\" is too long (%zu bytes, at most %zu)", v,
                     ev.data.scalar.length, size - 1);
        yaml_event_delete(&ev);
        return rc;
    }
    memcpy(key, v, ev.data.scalar.length + 1);
    yaml_event_delete(&ev);
    return 1;
}

/* A scalar value for @path: not null, no NUL byte. The caller deletes @ev. */
static int next_scalar(struct loader *L, const char *path, const char *expected, yaml_event_t *ev)
{
    int rc = next(L, ev);
    if (rc)
        return rc;
    if (ev->type != YAML_SCALAR_EVENT) {
        rc = fail_at(L, &ev->start_mark, path, "expected %s, got %s", expected,
                     ax__yaml_event_shape(ev));
        yaml_event_delete(ev);
        return rc;
    }
    if (ax__yaml_event_is_null(ev)) {
        rc = fail_at(L, &ev->start_mark, path, "missing value: expected %s", expected);
        yaml_event_delete(ev);
        return rc;
    }
    if (ax__yaml_has_nul(ev->data.scalar.value, ev->data.scalar.length)) {
        rc = fail_at(L, &ev->start_mark, path, "the value contains a NUL byte");
        yaml_event_delete(ev);
        return rc;
    }
    return 0;
}

static void expected_of(const struct ax__cfg_key *k, char *buf, size_t size)
{
    char range[128];
    ax__cfg_describe_range(k, range, sizeof range);
    const char *type = ax__cfg_type_name(k->type);
    snprintf(buf, size, "%s %s (%s)", strchr("aeiouAEIOU", type[0]) ? "an" : "a", type, range);
}

static int load_scalar(struct loader *L, const struct ax__cfg_key *k, void *base, const char *path)
{
    char expected[160], msg[256];
    yaml_event_t ev;
    union ax__cfg_val v;
    expected_of(k, expected, sizeof expected);
    int rc = next_scalar(L, path, expected, &ev);
    if (rc)
        return rc;
    if (ax__cfg_parse(k, (const char *)ev.data.scalar.value, &v, msg, sizeof msg) != 0)
        rc = fail_at(L, &ev.start_mark, path, "%s", msg);
    else
        ax__cfg_store(k, base, &v);
    yaml_event_delete(&ev);
    return rc;
}

static int load_list(struct loader *L, const struct ax__cfg_key *k)
{
    char msg[256];
    yaml_event_t ev;
    int rc = next(L, &ev);
    if (rc)
        return rc;
    if (ev.type != YAML_SEQUENCE_START_EVENT) {
        rc = fail_at(L, &ev.start_mark, k->path, "expected a list (write [] for none), got %s",
                     ax__yaml_event_is_null(&ev) ? "nothing" : ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    char **items = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        rc = next(L, &ev);
        if (rc)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type != YAML_SCALAR_EVENT || ax__yaml_event_is_null(&ev)) {
            rc = fail_at(L, &ev.start_mark, k->path, "expected a string entry, got %s",
                         ax__yaml_event_is_null(&ev) ? "nothing" : ax__yaml_event_shape(&ev));
        } else if (n >= k->max) {
            rc = fail_at(L, &ev.start_mark, k->path, "too many entries: at most %zu",
                         (size_t)k->max);
        } else {
            union ax__cfg_val v;
            const char *text = (const char *)ev.data.scalar.value;
            if (ax__yaml_has_nul(ev.data.scalar.value, ev.data.scalar.length))
                rc = fail_at(L, &ev.start_mark, k->path, "an entry contains a NUL byte");
            else if (ax__cfg_parse(k, text, &v, msg, sizeof msg) != 0)
                rc = fail_at(L, &ev.start_mark, k->path, "entry %zu: %s", n + 1, msg);
            else if ((rc = ax__cfg_list_add(&items, &n, &cap, text)) != 0)
                ax__cfg_error_set(L->err, L->name, 0, 0, k->path, "out of memory");
        }
        yaml_event_delete(&ev);
        if (rc)
            break;
    }
    if (rc) {
        ax__cfg_list_free(items, n);
        return rc;
    }
    ax__cfg_list_set(k, L->cfg, items, n);
    return 0;
}

/* One entry of the qos map: collect the keys, apply the profile, then the
 * other keys over it. */
static int load_qos_entry(struct loader *L, const char *topic, struct ax_qos *out)
{
    enum { MAXK = 16 };
    char path[192], key[64], msg[256];
    char *values[MAXK] = {0};
    yaml_mark_t marks[MAXK];
    yaml_event_t ev;
    int rc;
    _Static_assert(MAXK >= 7, "room for every qos key");

    rc = next(L, &ev);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "qos[%.100s]", topic);
    if (ev.type != YAML_MAPPING_START_EVENT) {
        rc = fail_at(L, &ev.start_mark, path,
                     "expected a mapping of QoS keys (profile, reliability, durability, overload, "
                     "history, deadline, lifespan), got %s",
                     ax__yaml_event_is_null(&ev) ? "nothing" : ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    yaml_mark_t kmark;
    while ((rc = next_key(L, path, key, sizeof key, &kmark)) == 1) {
        snprintf(path, sizeof path, "qos[%.100s].%s", topic, key);
        const struct ax__cfg_key *k = ax__cfg_find(ax__cfg_qos_keys, ax__cfg_nqos_keys, key);
        if (!k) {
            ax__cfg_unknown_qos_key(key, msg, sizeof msg);
            rc = fail_at(L, &kmark, path, "%s", msg);
            break;
        }
        size_t i = (size_t)(k - ax__cfg_qos_keys);
        if (values[i]) {
            rc = fail_at(L, &kmark, path, "duplicate key (first at line %d)",
                         ax__yaml_line(&marks[i]));
            break;
        }
        char expected[160];
        expected_of(k, expected, sizeof expected);
        rc = next_scalar(L, path, expected, &ev);
        if (rc)
            break;
        values[i] = strdup((const char *)ev.data.scalar.value);
        marks[i] = ev.start_mark;
        yaml_event_delete(&ev);
        if (!values[i]) {
            ax__cfg_error_set(L->err, L->name, 0, 0, path, "out of memory");
            rc = AX_ENOMEM;
            break;
        }
    }
    if (rc == 0) {
        /* The profile first, then every other key over it. */
        for (size_t i = 0; i < ax__cfg_nqos_keys && rc == 0; i++) {
            const struct ax__cfg_key *k = &ax__cfg_qos_keys[i];
            if (!(k->flags & AX__CFG_F_PROFILE))
                continue;
            union ax__cfg_val v;
            snprintf(path, sizeof path, "qos[%.100s].%s", topic, k->path);
            if (ax__cfg_parse(k, values[i] ? values[i] : k->def, &v, msg, sizeof msg) != 0)
                rc = fail_at(L, values[i] ? &marks[i] : NULL, path, "%s", msg);
            else if (ax_qos_preset(k->names[v.e], out) != 0)
                rc = fail_at(L, values[i] ? &marks[i] : NULL, path, "no such preset");
        }
        for (size_t i = 0; i < ax__cfg_nqos_keys && rc == 0; i++) {
            const struct ax__cfg_key *k = &ax__cfg_qos_keys[i];
            union ax__cfg_val v;
            if (!values[i] || (k->flags & AX__CFG_F_NOSTORE))
                continue;
            snprintf(path, sizeof path, "qos[%.100s].%s", topic, k->path);
            if (ax__cfg_parse(k, values[i], &v, msg, sizeof msg) != 0)
                rc = fail_at(L, &marks[i], path, "%s", msg);
            else
                ax__cfg_store(k, out, &v);
        }
    }
    for (size_t i = 0; i < MAXK; i++)
        free(values[i]);
    return rc > 0 ? 0 : rc;
}

static int load_qos_map(struct loader *L, const struct ax__cfg_key *k)
{
    char topic[AX_CONFIG_TOPIC_MAX + 1], msg[256];
    yaml_event_t ev;
    yaml_mark_t mark;
    int rc = next(L, &ev);
    if (rc)
        return rc;
    if (ax__yaml_event_is_null(&ev)) {
        yaml_event_delete(&ev);
        return 0;
    }
    if (ev.type != YAML_MAPPING_START_EVENT) {
        rc = fail_at(L, &ev.start_mark, k->path, "expected a mapping of topic names, got %s",
                     ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    while ((rc = next_key(L, k->path, topic, sizeof topic, &mark)) == 1) {
        char path[192];
        union ax__cfg_val v = {.s = topic};
        snprintf(path, sizeof path, "qos[%.100s]", topic);
        if (ax__cfg_check(k, &v, msg, sizeof msg) != 0)
            return fail_at(L, &mark, path, "topic name: %s", msg);
        size_t i = 0;
        while (i < L->cfg->nqos && strcmp(L->cfg->qos[i].topic, topic) != 0)
            i++;
        if (i < L->cfg->nqos && L->qos_line[i])
            return fail_at(L, &mark, path, "duplicate topic (first at line %d)", L->qos_line[i]);
        struct ax_qos q;
        rc = load_qos_entry(L, topic, &q);
        if (rc)
            return rc;
        if (i == L->cfg->nqos) { /* a new topic */
            if (L->cfg->nqos >= k->max)
                return fail_at(L, &mark, path, "too many topics: at most %zu", (size_t)k->max);
            size_t need = L->cfg->nqos + 1;
            if (ax__array_reserve(&L->cfg->qos, &L->qos_cap, need, 16) != 0 ||
                ax__array_reserve(&L->qos_line, &L->qos_line_cap, need, 16) != 0) {
                ax__cfg_error_set(L->err, L->name, 0, 0, path, "out of memory");
                return AX_ENOMEM;
            }
            char *name = strdup(topic);
            if (!name) {
                ax__cfg_error_set(L->err, L->name, 0, 0, path, "out of memory");
                return AX_ENOMEM;
            }
            L->cfg->qos[i].topic = name;
            L->cfg->nqos++;
        }
        L->cfg->qos[i].qos = q;
        L->qos_line[i] = ax__yaml_line(&mark);
    }
    return rc;
}

/* The value of row @k, whose key is at @mark. */
static int load_key(struct loader *L, const struct ax__cfg_key *k, const yaml_mark_t *mark)
{
    size_t i = (size_t)(k - ax__cfg_keys);
    if (L->line[i])
        return fail_at(L, mark, k->path, "duplicate key (first at line %d)", L->line[i]);
    L->line[i] = ax__yaml_line(mark);
    L->col[i] = ax__yaml_column(mark);
    switch (k->type) {
    case AX__CFG_LIST:
        return load_list(L, k);
    case AX__CFG_QOSMAP:
        return load_qos_map(L, k);
    default:
        return load_scalar(L, k, L->cfg, k->path);
    }
}

static int load_section(struct loader *L, const char *sec)
{
    char key[64], path[128];
    yaml_mark_t mark;
    yaml_event_t ev;
    int rc = next(L, &ev);
    if (rc)
        return rc;
    if (ax__yaml_event_is_null(&ev)) { /* "discovery:" with every key commented out */
        yaml_event_delete(&ev);
        return 0;
    }
    if (ev.type != YAML_MAPPING_START_EVENT) {
        rc = fail_at(L, &ev.start_mark, sec, "expected a mapping of %s keys, got %s", sec,
                     ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
        return rc;
    }
    yaml_event_delete(&ev);
    while ((rc = next_key(L, sec, key, sizeof key, &mark)) == 1) {
        snprintf(path, sizeof path, "%s.%s", sec, key);
        const struct ax__cfg_key *k = ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, path);
        if (!k) {
            char msg[256];
            ax__cfg_unknown_key(sec, key, msg, sizeof msg);
            return fail_at(L, &mark, path, "%s", msg);
        }
        rc = load_key(L, k, &mark);
        if (rc)
            return rc;
    }
    return rc;
}

static int load_root(struct loader *L)
{
    char key[64], seen[16][32];
    size_t nseen = 0;
    int seen_line[16];
    yaml_mark_t mark;
    int rc;
    while ((rc = next_key(L, "", key, sizeof key, &mark)) == 1) {
        const struct ax__cfg_key *k = ax__cfg_find(ax__cfg_keys, ax__cfg_nkeys, key);
        if (k) {
            rc = load_key(L, k, &mark);
            if (rc)
                return rc;
            continue;
        }
        size_t len = strlen(key);
        bool section = false;
        for (size_t i = 0; i < ax__cfg_nkeys && !section; i++)
            section =
                strncmp(ax__cfg_keys[i].path, key, len) == 0 && ax__cfg_keys[i].path[len] == '.';
        if (!section) {
            char msg[256];
            ax__cfg_unknown_key("", key, msg, sizeof msg);
            return fail_at(L, &mark, key, "%s", msg);
        }
        for (size_t i = 0; i < nseen; i++)
            if (strcmp(seen[i], key) == 0)
                return fail_at(L, &mark, key, "duplicate section (first at line %d)", seen_line[i]);
        if (nseen < sizeof seen / sizeof seen[0] && len < sizeof seen[0]) {
            memcpy(seen[nseen], key, len + 1);
            seen_line[nseen++] = ax__yaml_line(&mark);
        }
        rc = load_section(L, key);
        if (rc)
            return rc;
    }
    return rc;
}

static int load_stream(struct loader *L)
{
    yaml_event_t ev;
    int rc = next(L, &ev); /* STREAM-START */
    if (rc)
        return rc;
    yaml_event_delete(&ev);
    if ((rc = next(L, &ev)))
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty, or only comments */
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if ((rc = next(L, &ev)))
        return rc;
    if (ev.type == YAML_MAPPING_START_EVENT) {
        yaml_event_delete(&ev);
        rc = load_root(L);
    } else if (!ax__yaml_event_is_null(&ev)) {
        rc = fail_at(L, &ev.start_mark, "",
                     "expected a mapping of sections (node, discovery, transport, qos, log) at "
                     "the top level, got %s",
                     ax__yaml_event_shape(&ev));
        yaml_event_delete(&ev);
    } else {
        yaml_event_delete(&ev);
    }
    if (rc)
        return rc;
    if ((rc = next(L, &ev))) /* DOCUMENT-END */
        return rc;
    yaml_event_delete(&ev);
    if ((rc = next(L, &ev)))
        return rc;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = fail_at(L, &ev.start_mark, "", "only one YAML document is allowed per file");
    yaml_event_delete(&ev);
    return rc;
}

static int load_buffer(struct ax_config *cfg, const char *buf, size_t len, const char *name,
                       struct ax_config_error *err)
{
    struct loader L = {.err = err, .name = name};
    struct ax_config tmp;
    char msg[256];
    int rc;

    if (len > AX_CONFIG_FILE_MAX) {
        ax__cfg_error_set(err, name, 0, 0, "", "larger than %d bytes", AX_CONFIG_FILE_MAX);
        return AX_ECONFIG;
    }
    rc = ax_config_copy(&tmp, cfg);
    if (rc) {
        ax__cfg_error_set(err, name, 0, 0, "", "out of memory");
        return rc;
    }
    L.cfg = &tmp;
    L.qos_cap = tmp.nqos;
    L.line = calloc(ax__cfg_nkeys, sizeof *L.line);
    L.col = calloc(ax__cfg_nkeys, sizeof *L.col);
    L.qos_line_cap = tmp.nqos ? tmp.nqos : 1;
    L.qos_line = calloc(L.qos_line_cap, sizeof *L.qos_line);
    if (!L.line || !L.col || !L.qos_line || ax__yaml_parser_init(&L.parser, buf, len) != 0) {
        ax__cfg_error_set(err, name, 0, 0, "", "out of memory");
        rc = AX_ENOMEM;
        goto out;
    }
    rc = load_stream(&L);
    yaml_parser_delete(&L.parser);
    if (rc == 0) {
        size_t blame;
        if (ax__cfg_check_rules(&tmp, L.line, &blame, msg, sizeof msg) >= 0) {
            ax__cfg_error_set(err, name, L.line[blame], L.col[blame], ax__cfg_keys[blame].path,
                              "%s", msg);
            rc = AX_ECONFIG;
        }
    }
out:
    free(L.line);
    free(L.col);
    free(L.qos_line);
    if (rc == 0) {
        ax_config_fini(cfg);
        *cfg = tmp;
    } else {
        ax_config_fini(&tmp);
    }
    return rc;
}

int ax_config_load_string(struct ax_config *cfg, const char *yaml, const char *name_for_errors,
                          struct ax_config_error *err)
{
    const char *name = name_for_errors ? name_for_errors : "<string>";
    if (!cfg || !yaml) {
        ax__cfg_error_set(err, name, 0, 0, "", "invalid argument");
        return AX_EINVAL;
    }
    return load_buffer(cfg, yaml, strnlen(yaml, (size_t)AX_CONFIG_FILE_MAX + 1), name, err);
}

int ax_config_load_file(struct ax_config *cfg, const char *path, struct ax_config_error *err)
{
    if (!cfg || !path) {
        ax__cfg_error_set(err, path, 0, 0, "", "invalid argument");
        return AX_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ax__cfg_error_set(err, path, 0, 0, "", "cannot open: %s", strerror(e));
        return ax_err_from_errno(e);
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        ax__cfg_error_set(err, path, 0, 0, "", "is a directory");
        return AX_ECONFIG;
    }
    /* Read at most one byte past the limit: enough to know it is exceeded. */
    const size_t limit = (size_t)AX_CONFIG_FILE_MAX + 1;
    size_t cap = 0, len = 0;
    char *buf = NULL;
    int rc = 0;
    while (len < limit) {
        /* room for at least one more byte, and the NUL */
        if (ax__array_reserve(&buf, &cap, len + 2, 4096) != 0) {
            ax__cfg_error_set(err, path, 0, 0, "", "out of memory");
            rc = AX_ENOMEM;
            break;
        }
        size_t room = cap - 1 - len;
        if (room > limit - len)
            room = limit - len;
        ssize_t n = read(fd, buf + len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            ax__cfg_error_set(err, path, 0, 0, "", "cannot read: %s", strerror(e));
            rc = ax_err_from_errno(e);
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc == 0) {
        buf[len] = 0;
        rc = load_buffer(cfg, buf, len, path, err);
    }
    free(buf);
    return rc;
}
