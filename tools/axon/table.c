/* SPDX-License-Identifier: Apache-2.0 */
/* Output: aligned text tables for people, JSON for scripts. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/ax__array.h"
#include "cli.h"

/* ---- tables ---- */

struct cli_table {
    size_t ncols;
    char **cols;
    bool *right;
    char **cells;           /* rows * ncols */
    size_t nrows, cap, cur; /* cap: cells */
};

struct cli_table *cli_table_new(const char *const *cols, size_t ncols)
{
    struct cli_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->cols = calloc(ncols, sizeof *t->cols);
    t->right = calloc(ncols, sizeof *t->right);
    if (!t->cols || !t->right) {
        cli_table_free(t);
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++) {
        t->right[i] = cols[i][0] == '>';
        t->cols[i] = strdup(cols[i] + (t->right[i] ? 1 : 0));
    }
    return t;
}

void cli_table_row(struct cli_table *t)
{
    if (!t)
        return;
    if (t->nrows + 1 > SIZE_MAX / t->ncols ||
        ax__array_reserve(&t->cells, &t->cap, (t->nrows + 1) * t->ncols, 16 * t->ncols) < 0)
        return;
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
    t->nrows++;
    t->cur = 0;
}

void cli_table_cell(struct cli_table *t, const char *fmt, ...)
{
    if (!t || !t->nrows || t->cur >= t->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    t->cells[(t->nrows - 1) * t->ncols + t->cur++] = s;
}

/* Display width of UTF-8 text (code points; good enough for names). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static void pad(FILE *out, size_t n)
{
    while (n--)
        fputc(' ', out);
}

void cli_table_print(struct cli_table *t, FILE *out, const char *indent)
{
    if (!t)
        return;
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = width(t->cols[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t x = width(t->cells[r * t->ncols + c]);
            if (x > w[c])
                w[c] = x;
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent ? indent : "", out);
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = r == 0 ? t->cols[c] : t->cells[(r - 1) * t->ncols + c];
            if (!s)
                s = "";
            size_t x = width(s);
            bool last = c + 1 == t->ncols;
            if (t->right[c])
                pad(out, w[c] - x);
            fputs(s, out);
            if (!t->right[c] && !last)
                pad(out, w[c] - x);
            if (!last)
                fputs("  ", out);
        }
        fputc('\n', out);
    }
    free(w);
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    for (size_t i = 0; t->cols && i < t->ncols; i++)
        free(t->cols[i]);
    free(t->cells);
    free(t->cols);
    free(t->right);
    free(t);
}

/* ---- JSON ---- */

void cj_init(struct cli_json *j, FILE *f)
{
    memset(j, 0, sizeof *j);
    j->f = f;
}

/* The UTF-8 sequence at @s (NUL-terminated): its length when it is
 * well-formed (*ok), else the length of its maximal subpart, the bytes one
 * U+FFFD replaces (Unicode's recommended practice, as browsers decode).
 * Well-formed as in Unicode's table 3-7: no overlong forms, no surrogates,
 * nothing above U+10FFFF. A NUL is never a continuation byte, so the scan
 * stops at the end of the string. */
static size_t utf8_seq(const unsigned char *s, bool *ok)
{
    unsigned char b = s[0], lo = 0x80, hi = 0xBF;
    size_t n;
    *ok = true;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        lo = b == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F would be overlong */
        hi = b == 0xED ? 0x9F : 0xBF; /* ED A0..BF would be a surrogate */
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        lo = b == 0xF0 ? 0x90 : 0x80; /* F0 80..8F would be overlong */
        hi = b == 0xF4 ? 0x8F : 0xBF; /* F4 90.. is above U+10FFFF */
    } else {
        *ok = false; /* a continuation byte, C0, C1 or F5..FF */
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (s[i] < l || s[i] > h) {
            *ok = false;
            return i;
        }
    }
    return n;
}

/* A JSON string that is valid whatever the bytes: names and topics come
 * from other nodes and are not checked to be UTF-8. Bytes that are not
 * UTF-8 become U+FFFD (as the library's message printer does), controls
 * (C0, DEL, C1) are escaped. */
static void put_string(FILE *f, const char *str)
{
    const unsigned char *p = (const unsigned char *)(str ? str : "");
    fputc('"', f);
    while (*p) {
        bool ok;
        size_t n = utf8_seq(p, &ok);
        if (!ok)
            fputs("\\ufffd", f);
        else if (*p == '"')
            fputs("\\\"", f);
        else if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7F)
            fprintf(f, "\\u%04x", *p);
        else if (*p == 0xC2 && p[1] <= 0x9F) /* U+0080..U+009F (n == 2: p[1] >= 0x80) */
            fprintf(f, "\\u%04x", p[1]);
        else
            fwrite(p, 1, n, f);
        p += n;
    }
    fputc('"', f);
}

static void key(struct cli_json *j, const char *k)
{
    if (j->need_comma[j->depth])
        fputc(',', j->f);
    j->need_comma[j->depth] = true;
    if (k) {
        put_string(j->f, k);
        fputc(':', j->f);
    }
}

void cj_obj(struct cli_json *j, const char *k)
{
    key(j, k);
    fputc('{', j->f);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void cj_end_obj(struct cli_json *j)
{
    fputc('}', j->f);
    if (j->depth > 0)
        j->depth--;
}

void cj_arr(struct cli_json *j, const char *k)
{
    key(j, k);
    fputc('[', j->f);
    if (j->depth < 31)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void cj_end_arr(struct cli_json *j)
{
    fputc(']', j->f);
    if (j->depth > 0)
        j->depth--;
}

void cj_str(struct cli_json *j, const char *k, const char *v)
{
    key(j, k);
    put_string(j->f, v);
}

void cj_int(struct cli_json *j, const char *k, int64_t v)
{
    key(j, k);
    fprintf(j->f, "%lld", (long long)v);
}

void cj_uint(struct cli_json *j, const char *k, uint64_t v)
{
    key(j, k);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void cj_num(struct cli_json *j, const char *k, double v)
{
    key(j, k);
    if (isfinite(v))
        fprintf(j->f, "%.9g", v);
    else
        fputs("null", j->f);
}

void cj_bool(struct cli_json *j, const char *k, bool v)
{
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void cj_null(struct cli_json *j, const char *k)
{
    key(j, k);
    fputs("null", j->f);
}

void cj_raw(struct cli_json *j, const char *k, const char *json, size_t len)
{
    key(j, k);
    while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == ' '))
        len--;
    fwrite(json, 1, len, j->f);
}

void cj_done(struct cli_json *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}

void cj_qos(struct cli_json *j, const char *k, const struct ax_qos *q)
{
    cj_obj(j, k);
    cj_str(j, "reliability", cli_reliability_name(q->reliability));
    cj_str(j, "durability", cli_durability_name(q->durability));
    cj_str(j, "overload", ax_overload_name(q->overload));
    cj_uint(j, "history", q->history);
    cj_int(j, "deadline_ns", q->deadline_ns);
    cj_int(j, "lifespan_ns", q->lifespan_ns);
    cj_end_obj(j);
}

void cj_counters(struct cli_json *j, const char *k, const struct ax_endpoint_counters *c,
                 enum ax_endpoint_kind kind)
{
    cj_obj(j, k);
    cj_uint(j, "messages", c->messages);
    cj_uint(j, "bytes", c->bytes);
    cj_obj(j, "drops");
    for (int i = 0; i < AX_DROP_REASON_COUNT_; i++)
        cj_uint(j, ax_drop_reason_name((enum ax_drop_reason)i), c->drops[i]);
    cj_end_obj(j);
    cj_uint(j, "gaps", c->gaps);
    cj_uint(j, "restarts", c->restarts);
    cj_uint(j, "connections", c->connections);
    if (kind == AX_ENDPOINT_PUBLISHER) {
        cj_uint(j, "queued_messages", c->queued_messages);
        cj_uint(j, "queued_bytes", c->queued_bytes);
    }
    if (kind == AX_ENDPOINT_SUBSCRIBER) {
        if (c->last_error)
            cj_str(j, "last_error", ax_err_name(c->last_error));
        else
            cj_null(j, "last_error");
        cj_arr(j, "links");
        for (uint32_t i = 0; i < c->nlinks && i < AX_LINKS_SHOWN; i++) {
            char id[24];
            snprintf(id, sizeof id, "%016llx", (unsigned long long)c->links[i].node_id);
            cj_obj(j, NULL);
            cj_str(j, "publisher_node_id", id);
            cj_uint(j, "publisher_id", c->links[i].endpoint_id);
            cj_str(j, "transport", ax_link_transport_name(c->links[i].transport));
            if (c->links[i].reason)
                cj_str(j, "not_shm", ax_shm_reason_text(c->links[i].reason));
            else
                cj_null(j, "not_shm");
            cj_end_obj(j);
        }
        cj_end_arr(j);
        cj_uint(j, "links_total", c->links_total);
    }
    cj_int(j, "stamp_ns", c->stamp_ns);
    cj_int(j, "age_ns", ax_clock_mono_ns() - c->received_ns);
    cj_end_obj(j);
}

void cj_node(struct cli_json *j, const char *k, const struct ax_node_info *n)
{
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)n->id);
    cj_obj(j, k);
    cj_str(j, "name", n->name);
    cj_str(j, "id", id);
    cj_str(j, "host", n->host);
    cj_uint(j, "pid", n->pid);
    cj_uint(j, "domain", n->domain);
    cj_str(j, "tcp", n->tcp);
    cj_str(j, "unicast", n->unicast);
    cj_str(j, "discovery_mode", cli_mode_name(n->mode));
    cj_str(j, "version", n->version);
    cj_bool(j, "shm", n->shm);
    cj_str(j, "host_id", n->host_id);
    cj_int(j, "uptime_ns", n->uptime_ns);
    cj_int(j, "heard_age_ns", n->heard_age_ns);
    cj_int(j, "heartbeat_ns", n->heartbeat_ns);
    cj_int(j, "lease_ns", n->lease_ns);
    cj_uint(j, "publishers", n->publishers);
    cj_uint(j, "subscribers", n->subscribers);
    cj_bool(j, "complete", n->complete);
    cj_end_obj(j);
}

void cj_endpoint(struct cli_json *j, const char *k, const struct ax_endpoint_info *e)
{
    char h[AX_TYPE_HASH_STRLEN], id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)e->node_id);
    cj_obj(j, k);
    static const char *const kinds[] = {"publisher", "subscriber", "service", "client"};
    cj_str(j, "kind", e->kind <= AX_ENDPOINT_CLIENT ? kinds[e->kind] : "?");
    cj_str(j, "topic", e->topic);
    cj_str(j, "type", e->type_name);
    cj_str(j, "type_hash", cli_fmt_hash(e->type_hash, h, sizeof h));
    cj_str(j, "node", e->node_name);
    cj_str(j, "node_id", id);
    cj_uint(j, "endpoint_id", e->id);
    if (e->kind == AX_ENDPOINT_PUBLISHER || e->kind == AX_ENDPOINT_SERVICE)
        cj_uint(j, "port", e->port);
    if (e->kind == AX_ENDPOINT_SERVICE || e->kind == AX_ENDPOINT_CLIENT) {
        cj_str(j, "reply_type", e->reply_type_name);
        cj_str(j, "reply_type_hash", cli_fmt_hash(e->reply_type_hash, h, sizeof h));
    }
    cj_qos(j, "qos", &e->qos);
    cj_counters(j, "counters", &e->counters, e->kind);
    cj_end_obj(j);
}
