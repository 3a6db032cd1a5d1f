/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: what an unknown key's error says. The closest key of the
 * same section by edit distance ("did you mean"), else a key of that exact
 * name in another section, else the list of the section's keys. Only the
 * loader reports unknown keys; the environment names its keys itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/ax__config.h"

/* Levenshtein distance, for keys of at most 64 bytes (longer: "far"). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

struct suggest {
    const char *word;
    char best[128];
    size_t dist;
    int ties;
};

static void suggest_init(struct suggest *s, const char *word)
{
    s->word = word;
    s->best[0] = 0;
    s->dist = SIZE_MAX;
    s->ties = 0;
}

/* Offer @cand (shown as @shown) for the unknown word. */
static void suggest_offer(struct suggest *s, const char *cand, const char *shown)
{
    size_t len = strlen(s->word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    size_t d = edit_distance(s->word, cand);
    if (d > limit || d > s->dist)
        return;
    if (d == s->dist) {
        if (strcmp(s->best, shown) != 0)
            s->ties++;
        return;
    }
    s->dist = d;
    s->ties = 0;
    snprintf(s->best, sizeof s->best, "%s", shown);
}

static const char *leaf(const char *path)
{
    const char *dot = strchr(path, '.');
    return dot ? dot + 1 : path;
}

/* Whether row @k belongs to section @sec ("" = the top level). */
static bool in_section(const struct ax__cfg_key *k, const char *sec, size_t seclen)
{
    if (seclen == 0)
        return strchr(k->path, '.') == NULL;
    return strncmp(k->path, sec, seclen) == 0 && k->path[seclen] == '.';
}

/* "did you mean" for an unknown key @word in section @sec ("" = top
 * level): the closest key of that section, else a key of that exact name
 * in another section (heartbeat under transport -> discovery.heartbeat). */
static void suggest_key(const char *sec, const char *word, char *out, size_t size)
{
    struct suggest s;
    size_t seclen = strlen(sec);
    suggest_init(&s, word);
    for (size_t i = 0; i < ax__cfg_nkeys; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        if (seclen == 0) {
            /* top level: section names and top-level keys */
            const char *dot = strchr(k->path, '.');
            char name[64];
            size_t n = dot ? (size_t)(dot - k->path) : strlen(k->path);
            snprintf(name, sizeof name, "%.*s", (int)n, k->path);
            suggest_offer(&s, name, name);
        } else if (in_section(k, sec, seclen)) {
            suggest_offer(&s, leaf(k->path), k->path);
        }
    }
    if (s.dist == SIZE_MAX) {
        for (size_t i = 0; i < ax__cfg_nkeys; i++) {
            const struct ax__cfg_key *k = &ax__cfg_keys[i];
            if (strchr(k->path, '.') && strcmp(leaf(k->path), word) == 0)
                suggest_offer(&s, word, k->path);
        }
    }
    out[0] = 0;
    if (s.dist != SIZE_MAX && s.ties == 0)
        snprintf(out, size, " (did you mean \"%s\"?)", s.best);
}

static void suggest_qos_key(const char *word, char *out, size_t size)
{
    struct suggest s;
    suggest_init(&s, word);
    for (size_t i = 0; i < ax__cfg_nqos_keys; i++)
        suggest_offer(&s, ax__cfg_qos_keys[i].path, ax__cfg_qos_keys[i].path);
    out[0] = 0;
    if (s.dist != SIZE_MAX && s.ties == 0)
        snprintf(out, size, " (did you mean \"%s\"?)", s.best);
}

/* The keys of a section, for an unknown key with no close match. */
static void list_section(const char *sec, char *out, size_t size)
{
    size_t o = 0, seclen = strlen(sec);
    out[0] = 0;
    for (size_t i = 0; i < ax__cfg_nkeys && o < size; i++) {
        const struct ax__cfg_key *k = &ax__cfg_keys[i];
        if (seclen == 0) {
            const char *dot = strchr(k->path, '.');
            size_t n = dot ? (size_t)(dot - k->path) : strlen(k->path);
            if (i > 0 && strncmp(ax__cfg_keys[i - 1].path, k->path, n) == 0 &&
                ax__cfg_keys[i - 1].path[n] == (dot ? '.' : 0))
                continue; /* same section as the previous row */
            o += (size_t)snprintf(out + o, size - o, "%s%.*s", o ? ", " : "", (int)n, k->path);
        } else if (in_section(k, sec, seclen)) {
            o += (size_t)snprintf(out + o, size - o, "%s%s", o ? ", " : "", leaf(k->path));
        }
    }
}

void ax__cfg_unknown_key(const char *sec, const char *word, char *msg, size_t size)
{
    char hint[128], known[200];
    suggest_key(sec, word, hint, sizeof hint);
    if (hint[0]) {
        snprintf(msg, size, "unknown key%s", hint);
        return;
    }
    list_section(sec, known, sizeof known);
    snprintf(msg, size, "unknown key (known: %s)", known);
}

void ax__cfg_unknown_qos_key(const char *word, char *msg, size_t size)
{
    char hint[128];
    suggest_qos_key(word, hint, sizeof hint);
    snprintf(msg, size, "unknown QoS key \"%s\"%s", word, hint);
}
