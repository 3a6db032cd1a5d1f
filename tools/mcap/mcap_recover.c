/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recovering an MCAP file whose footer or summary is missing, damaged or
 * incomplete (the recorder was killed, the disk filled up, another writer
 * left no index): the data section is walked record by record from the
 * Header on.
 *
 * Design: every record length is checked against the bytes left in the
 * file and against max_record_size before anything is read or allocated.
 * A Chunk is read, decompressed, CRC-checked and parsed in full into a
 * "pending" set, and its Schemas, Channels and message counts are kept only
 * if all of it is sound, so a chunk cut off or corrupt leaves no trace.
 * Runs of Message records outside chunks (other writers) become blocks
 * too. The scan stops at the first record that is cut off or corrupt and
 * says where and why; everything before it stays readable.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ax__mcap_reader.h"
#include "base/ax__array.h"

/* What a chunk holds, checked before any of it is kept. */
struct pending {
    struct ax_mcap_schema *schemas;
    size_t n_schemas, cap_schemas;
    struct ax_mcap_channel *channels;
    size_t n_channels, cap_channels;
    /* Message counts of the channels seen, in first-seen order. A chunk
     * rarely holds more than a few dozen channels, and runs of messages
     * share one: a list with a last-hit cache beats a 65536-entry table
     * that every open would allocate and clear. */
    struct seen {
        uint16_t id;
        uint64_t count;
    } * seen;
    size_t n_seen, cap_seen, last;
    uint64_t start, end, msgs;
};

static void pending_reset(struct pending *pd)
{
    for (size_t i = 0; i < pd->n_schemas; i++)
        ax__mcap_schema_fini(&pd->schemas[i]);
    for (size_t i = 0; i < pd->n_channels; i++)
        ax__mcap_channel_fini(&pd->channels[i]);
    pd->n_schemas = pd->n_channels = pd->n_seen = pd->last = 0;
    pd->msgs = 0;
}

static bool channel_known(const ax_mcap_reader *r, const struct pending *pd, uint16_t id)
{
    if (ax__mcap_find_channel(r, id))
        return true;
    for (size_t i = 0; i < pd->n_channels; i++)
        if (pd->channels[i].id == id)
            return true;
    return false;
}

static int pending_count(struct pending *pd, uint16_t channel, uint64_t log_time)
{
    size_t i = pd->last;
    if (i >= pd->n_seen || pd->seen[i].id != channel) {
        for (i = 0; i < pd->n_seen && pd->seen[i].id != channel; i++)
            ;
        if (i == pd->n_seen) {
            if (ax__array_reserve(&pd->seen, &pd->cap_seen, i + 1, 8) != 0)
                return AX_ENOMEM;
            pd->seen[pd->n_seen++] = (struct seen){.id = channel, .count = 0};
        }
        pd->last = i;
    }
    pd->seen[i].count++;
    if (pd->msgs == 0 || log_time < pd->start)
        pd->start = log_time;
    if (pd->msgs == 0 || log_time > pd->end)
        pd->end = log_time;
    pd->msgs++;
    return 0;
}

/* Check a message record's content; count it. */
static int scan_message(const ax_mcap_reader *r, struct pending *pd, const uint8_t *p, size_t len)
{
    if (len < AX__MCAP_MESSAGE_FIXED)
        return AX_EPROTO;
    uint16_t id = ax__get_u16(p);
    if (!channel_known(r, pd, id))
        return AX_EPROTO;
    return pending_count(pd, id, ax__get_u64(p + 6));
}

/* Parse a decoded chunk's records into @pd. */
static int scan_chunk_records(ax_mcap_reader *r, struct pending *pd, const uint8_t *buf, size_t len)
{
    struct ax__cur c;
    uint8_t op;
    const uint8_t *p;
    uint64_t rlen;
    int rc = 0;
    ax__cur_init(&c, buf, len);
    while (rc == 0 && ax__mcap_next_record(&c, &op, &p, &rlen)) {
        switch (op) {
        case AX__OP_SCHEMA: {
            struct ax_mcap_schema s;
            if ((rc = ax__mcap_parse_schema(p, rlen, &s)) != 0)
                break;
            if ((rc = ax__array_reserve(&pd->schemas, &pd->cap_schemas, pd->n_schemas + 1, 8)) !=
                0) {
                ax__mcap_schema_fini(&s);
                break;
            }
            pd->schemas[pd->n_schemas++] = s;
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((rc = ax__mcap_parse_channel(p, rlen, &ch)) != 0)
                break;
            if ((rc = ax__array_reserve(&pd->channels, &pd->cap_channels, pd->n_channels + 1, 8)) !=
                0) {
                ax__mcap_channel_fini(&ch);
                break;
            }
            pd->channels[pd->n_channels++] = ch;
            break;
        }
        case AX__OP_MESSAGE:
            rc = scan_message(r, pd, p, rlen);
            break;
        case 0:
        case AX__OP_HEADER:
        case AX__OP_FOOTER:
        case AX__OP_CHUNK:
        case AX__OP_MESSAGE_INDEX:
        case AX__OP_CHUNK_INDEX:
        case AX__OP_ATTACHMENT:
        case AX__OP_ATTACHMENT_INDEX:
        case AX__OP_STATISTICS:
        case AX__OP_METADATA:
        case AX__OP_METADATA_INDEX:
        case AX__OP_SUMMARY_OFFSET:
        case AX__OP_DATA_END:
            rc = AX_EPROTO; /* not allowed inside a chunk */
            break;
        default:
            break;
        }
    }
    if (rc == 0 && c.bad)
        rc = AX_EPROTO;
    return rc;
}

/* Keep what @pd holds: schemas, channels (in record order, so a channel's
 * schema comes first), and message counts. Conflicts are corruption. */
static int pending_commit(ax_mcap_reader *r, struct pending *pd, struct ax__mcap_block *b)
{
    int rc = 0;
    size_t i;
    for (i = 0; i < pd->n_schemas && rc == 0; i++)
        rc = ax__mcap_add_schema(r, &pd->schemas[i]);
    for (; i < pd->n_schemas; i++)
        ax__mcap_schema_fini(&pd->schemas[i]);
    pd->n_schemas = 0;
    for (i = 0; i < pd->n_channels && rc == 0; i++)
        rc = ax__mcap_add_channel(r, &pd->channels[i]);
    for (; i < pd->n_channels; i++)
        ax__mcap_channel_fini(&pd->channels[i]);
    pd->n_channels = 0;
    if (rc != 0)
        return rc;
    if (pd->n_seen) {
        if (!(b->chans = malloc(pd->n_seen * sizeof(*b->chans))))
            return AX_ENOMEM;
        b->n_chans = pd->n_seen;
        b->chans_known = true;
    }
    for (i = 0; i < pd->n_seen; i++) {
        uint16_t id = pd->seen[i].id;
        ax__mcap_find_channel(r, id)->message_count += pd->seen[i].count;
        b->chans[i] = id;
    }
    b->start = pd->msgs ? pd->start : 0;
    b->end = pd->msgs ? pd->end : 0;
    r->info.message_count += pd->msgs;
    if (pd->msgs && (r->info.message_count == pd->msgs || pd->start < r->info.message_start_time))
        r->info.message_start_time = pd->start;
    if (pd->msgs && pd->end > r->info.message_end_time)
        r->info.message_end_time = pd->end;
    return 0;
}

/* Read @len bytes at @off into the reusable scratch buffer. */
static int read_scratch(ax_mcap_reader *r, uint64_t len, uint64_t off, uint8_t **out)
{
    if (len > r->scratch_cap) {
        free(r->scratch);
        r->scratch_cap = 0;
        if (!(r->scratch = malloc(len)))
            return AX_ENOMEM;
        r->scratch_cap = (size_t)len;
    }
    *out = r->scratch;
    return ax__mcap_read_at(r, r->scratch, (size_t)len, off);
}

/* Walk the data section; see the design note and ax__mcap_reader.h. */
int ax__mcap_scan(ax_mcap_reader *r, bool damaged, char *why, size_t why_len)
{
    struct pending pd = {0};
    struct ax__mcap_block loose = {0}; /* the run of loose messages being built */
    uint8_t *dec = NULL;               /* decoded chunk, reused */
    struct ax__mcap_dctx dctx = {0};
    size_t dec_cap = 0;
    uint64_t pos = r->header_end;
    bool clean = false;
    int rc = 0;
    why[0] = '\0';
    for (;;) {
        uint8_t hdr[AX__MCAP_RECORD_HEADER];
        if (r->size - pos < AX__MCAP_RECORD_HEADER) {
            snprintf(why, why_len, "the file ends at %llu without a footer (truncated)",
                     (unsigned long long)r->size);
            break;
        }
        if ((rc = ax__mcap_read_at(r, hdr, sizeof(hdr), pos)) != 0)
            goto out;
        uint8_t op = hdr[0];
        uint64_t len = ax__get_u64(hdr + 1);
        uint64_t next = pos + AX__MCAP_RECORD_HEADER + len;
        if (len > r->opt.max_record_size) {
            snprintf(why, why_len, "%s record at %llu claims %llu bytes (over the limit)",
                     ax__mcap_op_name(op), (unsigned long long)pos, (unsigned long long)len);
            break;
        }
        if (len > r->size - pos - AX__MCAP_RECORD_HEADER) {
            snprintf(why, why_len, "%s record at %llu is cut off (truncated file)",
                     ax__mcap_op_name(op), (unsigned long long)pos);
            break;
        }
        if (op != AX__OP_MESSAGE && loose.length) {
            /* A run of loose messages ends here. */
            int rc2 = pending_commit(r, &pd, &loose);
            if (rc2 == 0)
                rc2 = ax__mcap_add_block(r, &loose);
            if (rc2 != 0) {
                free(loose.chans);
                memset(&loose, 0, sizeof(loose));
                if (rc2 == AX_ENOMEM) {
                    rc = rc2;
                    goto out;
                }
                snprintf(why, why_len, "bad message before %llu", (unsigned long long)pos);
                break;
            }
            memset(&loose, 0, sizeof(loose));
            pending_reset(&pd);
        }
        if (op == AX__OP_FOOTER || op == AX__OP_DATA_END) {
            clean = true;
            pos = r->size; /* the rest is summary, footer, magic */
            break;
        }
        uint8_t *p = NULL;
        int bad = 0;
        switch (op) {
        case AX__OP_SCHEMA:
        case AX__OP_CHANNEL:
        case AX__OP_METADATA:
        case AX__OP_MESSAGE:
        case AX__OP_CHUNK:
            if ((rc = read_scratch(r, len, pos + AX__MCAP_RECORD_HEADER, &p)) != 0)
                goto out;
            break;
        default:
            break;
        }
        switch (op) {
        case AX__OP_SCHEMA: {
            struct ax_mcap_schema s;
            if ((bad = ax__mcap_parse_schema(p, len, &s)) == 0)
                bad = ax__mcap_add_schema(r, &s);
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((bad = ax__mcap_parse_channel(p, len, &ch)) == 0)
                bad = ax__mcap_add_channel(r, &ch);
            break;
        }
        case AX__OP_METADATA: {
            struct ax_mcap_metadata m;
            if ((bad = ax__mcap_parse_metadata(p, len, &m)) == 0)
                bad = ax__mcap_add_metadata(r, &m);
            break;
        }
        case AX__OP_MESSAGE:
            if ((bad = scan_message(r, &pd, p, len)) == 0) {
                if (!loose.length)
                    loose.offset = pos, loose.loose = true;
                loose.length = next - loose.offset;
            }
            break;
        case AX__OP_CHUNK: {
            struct ax__mcap_chunk_hdr h;
            if ((bad = ax__mcap_parse_chunk_hdr(p, len, &h)) == 0 &&
                (bad = ax__mcap_chunk_decode(r->opt.max_chunk_size, &dctx, &h, &dec, &dec_cap)) ==
                    0)
                bad = scan_chunk_records(r, &pd, dec, (size_t)h.usize);
            struct ax__mcap_block b = {.offset = pos, .length = next - pos};
            struct ax_mcap_chunk ch = {
                .offset = pos,
                .length = next - pos,
                .message_start_time = h.start,
                .message_end_time = h.end,
                .compressed_size = h.csize,
                .uncompressed_size = h.usize,
            };
            if (bad == 0 && !(ch.compression =
                                  ax__mcap_intern_compression(r, h.compression, h.compression_len)))
                bad = AX_ENOMEM;
            if (bad == 0)
                bad = pending_commit(r, &pd, &b);
            if (bad == 0 && (bad = ax__mcap_add_block(r, &b)) != 0)
                free(b.chans);
            if (bad == 0)
                bad = ax__mcap_add_chunk(r, &ch);
            pending_reset(&pd);
            break;
        }
        case AX__OP_HEADER:
        case 0:
            bad = AX_EPROTO;
            break;
        default:
            break; /* indexes, attachments, unknown and private records */
        }
        if (bad == AX_ENOMEM) {
            rc = bad;
            goto out;
        }
        if (bad != 0) {
            snprintf(why, why_len, "bad %s record at %llu (%s)", ax__mcap_op_name(op),
                     (unsigned long long)pos, ax__mcap_problem(bad));
            break;
        }
        pos = next;
    }
    if (loose.length && !clean) {
        /* Messages that ran up to the damage are whole records: keep them. */
        if (pending_commit(r, &pd, &loose) == 0 && ax__mcap_add_block(r, &loose) == 0)
            memset(&loose, 0, sizeof(loose));
        free(loose.chans);
    }
    r->info.valid_end = pos;
    r->info.recovered = damaged || !clean;
    if (clean)
        why[0] = '\0';
out:
    pending_reset(&pd);
    free(pd.schemas);
    free(pd.channels);
    free(pd.seen);
    free(dec);
    ax__mcap_dctx_fini(&dctx);
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
    return rc;
}
