/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an MCAP reader keeps from a file, whichever way it was loaded (the
 * summary or the scan): schemas and channels sorted by id, metadata,
 * chunks, and the blocks messages are read from; the lookups on them; and
 * the reads of the file itself, each a pread() of a length the caller
 * checked against the file size and the reader's limits.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "ax__mcap_reader.h"
#include "base/ax__array.h"

int ax__mcap_read_at(ax_mcap_reader *r, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ax__mcap_err_from_errno(errno);
        }
        if (n == 0)
            return AX_EPROTO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

const char *ax__mcap_intern_compression(ax_mcap_reader *r, const uint8_t *s, uint32_t len)
{
    static const char *const known[] = {"", "lz4", "zstd"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(known[i]) == len && memcmp(known[i], s, len) == 0)
            return known[i];
    for (size_t i = 0; i < r->n_strs; i++)
        if (strlen(r->strs[i]) == len && memcmp(r->strs[i], s, len) == 0)
            return r->strs[i];
    char **strs = realloc(r->strs, (r->n_strs + 1) * sizeof(*strs));
    if (!strs)
        return NULL;
    r->strs = strs;
    if (!(strs[r->n_strs] = ax__mcap_dup_str(s, len)))
        return NULL;
    return strs[r->n_strs++];
}

static bool schema_equal(const struct ax_mcap_schema *a, const struct ax_mcap_schema *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->encoding, b->encoding) == 0 &&
           a->data_len == b->data_len && (!a->data_len || !memcmp(a->data, b->data, a->data_len));
}

static bool channel_equal(const struct ax_mcap_channel *a, const struct ax_mcap_channel *b)
{
    if (a->schema_id != b->schema_id || strcmp(a->topic, b->topic) != 0 ||
        strcmp(a->message_encoding, b->message_encoding) != 0 || a->n_metadata != b->n_metadata)
        return false;
    for (size_t i = 0; i < a->n_metadata; i++)
        if (strcmp(a->metadata[i].key, b->metadata[i].key) != 0 ||
            strcmp(a->metadata[i].value, b->metadata[i].value) != 0)
            return false;
    return true;
}

/* Index of the first schema (channel) with an id >= @id; the arrays are
 * sorted by id. */
static size_t schema_pos(const ax_mcap_reader *r, uint16_t id)
{
    size_t lo = 0, hi = r->n_schemas;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->schemas[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t channel_pos(const ax_mcap_reader *r, uint16_t id)
{
    size_t lo = 0, hi = r->n_channels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->channels[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct ax_mcap_schema *ax__mcap_find_schema(const ax_mcap_reader *r, uint16_t id)
{
    size_t i = schema_pos(r, id);
    return i < r->n_schemas && r->schemas[i].id == id ? &r->schemas[i] : NULL;
}

struct ax_mcap_channel *ax__mcap_find_channel(const ax_mcap_reader *r, uint16_t id)
{
    size_t i = channel_pos(r, id);
    return i < r->n_channels && r->channels[i].id == id ? &r->channels[i] : NULL;
}

/* A schema with id 0 is invalid and ignored, as the specification says. */
int ax__mcap_add_schema(ax_mcap_reader *r, struct ax_mcap_schema *s)
{
    size_t i = schema_pos(r, s->id);
    if (s->id == 0 || (i < r->n_schemas && r->schemas[i].id == s->id)) {
        bool ok = s->id == 0 || schema_equal(&r->schemas[i], s);
        ax__mcap_schema_fini(s);
        return ok ? 0 : AX_EPROTO;
    }
    if (ax__array_reserve(&r->schemas, &r->cap_schemas, r->n_schemas + 1, 8) != 0) {
        ax__mcap_schema_fini(s);
        return AX_ENOMEM;
    }
    memmove(&r->schemas[i + 1], &r->schemas[i], (r->n_schemas - i) * sizeof(*s));
    r->schemas[i] = *s;
    r->n_schemas++;
    return 0;
}

int ax__mcap_add_channel(ax_mcap_reader *r, struct ax_mcap_channel *ch)
{
    size_t i = channel_pos(r, ch->id);
    if (i < r->n_channels && r->channels[i].id == ch->id) {
        bool ok = channel_equal(&r->channels[i], ch);
        ax__mcap_channel_fini(ch);
        return ok ? 0 : AX_EPROTO;
    }
    if (ch->schema_id != 0 && !ax__mcap_find_schema(r, ch->schema_id)) {
        ax__mcap_channel_fini(ch);
        return AX_EPROTO;
    }
    if (ax__array_reserve(&r->channels, &r->cap_channels, r->n_channels + 1, 8) != 0) {
        ax__mcap_channel_fini(ch);
        return AX_ENOMEM;
    }
    memmove(&r->channels[i + 1], &r->channels[i], (r->n_channels - i) * sizeof(*ch));
    r->channels[i] = *ch;
    r->n_channels++;
    return 0;
}

int ax__mcap_add_metadata(ax_mcap_reader *r, struct ax_mcap_metadata *m)
{
    if (ax__array_reserve(&r->metadata, &r->cap_metadata, r->n_metadata + 1, 8) != 0) {
        ax__mcap_metadata_fini(m);
        return AX_ENOMEM;
    }
    r->metadata[r->n_metadata++] = *m;
    return 0;
}

int ax__mcap_add_block(ax_mcap_reader *r, const struct ax__mcap_block *b)
{
    if (ax__array_reserve(&r->blocks, &r->cap_blocks, r->n_blocks + 1, 8) != 0)
        return AX_ENOMEM;
    r->blocks[r->n_blocks++] = *b;
    return 0;
}

int ax__mcap_add_chunk(ax_mcap_reader *r, const struct ax_mcap_chunk *c)
{
    if (ax__array_reserve(&r->chunks, &r->cap_chunks, r->n_chunks + 1, 8) != 0)
        return AX_ENOMEM;
    r->chunks[r->n_chunks++] = *c;
    return 0;
}

void ax__mcap_content_clear(ax_mcap_reader *r)
{
    for (size_t i = 0; i < r->n_schemas; i++)
        ax__mcap_schema_fini(&r->schemas[i]);
    for (size_t i = 0; i < r->n_channels; i++)
        ax__mcap_channel_fini(&r->channels[i]);
    for (size_t i = 0; i < r->n_metadata; i++)
        ax__mcap_metadata_fini(&r->metadata[i]);
    for (size_t i = 0; i < r->n_blocks; i++)
        free(r->blocks[i].chans);
    r->n_schemas = r->n_channels = r->n_metadata = r->n_blocks = r->n_chunks = 0;
    memset(&r->info, 0, sizeof(r->info));
}

/* The public lookups. */

int ax_mcap_reader_schema(const ax_mcap_reader *r, uint16_t id, const struct ax_mcap_schema **out)
{
    if (!r || !out)
        return AX_EINVAL;
    const struct ax_mcap_schema *s = ax__mcap_find_schema(r, id);
    if (!s)
        return AX_ENOTFOUND;
    *out = s;
    return 0;
}

int ax_mcap_reader_channel(const ax_mcap_reader *r, uint16_t id, const struct ax_mcap_channel **out)
{
    if (!r || !out)
        return AX_EINVAL;
    const struct ax_mcap_channel *c = ax__mcap_find_channel(r, id);
    if (!c)
        return AX_ENOTFOUND;
    *out = c;
    return 0;
}
