/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCAP reader: open (the Header, then the footer and summary, or the
 * scan) and what it tells about the file.
 *
 * Design: a reader loads everything but the messages at open, in one of two
 * ways, into the same tables (schemas, channels, metadata, and "blocks", the
 * units messages are read from):
 *
 *  - summary: read the Footer, then the summary section it points to (CRC
 *    checked), then the Metadata records its Metadata Index points to. Each
 *    Chunk Index becomes a block, with its time range and, from its Message
 *    Index offsets, the channels it holds. Nothing else is read.
 *  - scan: when the footer or summary is missing, damaged or incomplete,
 *    walk the data section record by record from the Header on. A Chunk is
 *    read, decompressed, CRC-checked and parsed in full, and its Schemas,
 *    Channels and message counts are kept only if all of it is sound; the
 *    scan stops at the first record that is cut off or corrupt. Runs of
 *    Message records outside chunks (other writers) become blocks too
 *    (mcap_recover.c).
 *
 * Iterating (mcap_iter.c) merges the blocks by log time: blocks are taken in order of
 * their earliest log time, each one decoded when the merge reaches its start
 * time, so only blocks whose time ranges overlap are held in memory at once
 * (one, for files axon writes, whose log times only grow).
 *
 * Every read is a pread() of a length already checked against the file size
 * and the reader's limits; every field is parsed through struct ax__cur,
 * which refuses to read past the record (mcap_records.c). The tables live
 * in mcap_reader_tables.c; ax__mcap_reader.h says which file calls which.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ax__mcap_reader.h"

static void set_reason(ax_mcap_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(ax_mcap_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

void ax_mcap_reader_options_init(struct ax_mcap_reader_options *opt)
{
    opt->max_record_size = AX_MCAP_MAX_RECORD_SIZE;
    opt->max_chunk_size = AX_MCAP_MAX_RECORD_SIZE;
}

/* Magic and Header record; any failure means "not an MCAP file". */
static int read_header(ax_mcap_reader *r)
{
    uint8_t pre[AX__MCAP_MAGIC_LEN + AX__MCAP_RECORD_HEADER];
    if (r->size < sizeof(pre) || ax__mcap_read_at(r, pre, sizeof(pre), 0) != 0 ||
        memcmp(pre, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0 ||
        pre[AX__MCAP_MAGIC_LEN] != AX__OP_HEADER)
        return AX_EPROTO;
    uint64_t len = ax__get_u64(pre + AX__MCAP_MAGIC_LEN + 1);
    if (len > r->opt.max_record_size || len > r->size - sizeof(pre))
        return AX_EPROTO;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return AX_ENOMEM;
    int rc = ax__mcap_read_at(r, buf, (size_t)len, sizeof(pre));
    if (rc == 0) {
        struct ax__cur c;
        uint32_t pl, ll;
        ax__cur_init(&c, buf, (size_t)len);
        const uint8_t *profile = ax__cur_str(&c, &pl);
        const uint8_t *library = ax__cur_str(&c, &ll);
        if (c.bad)
            rc = AX_EPROTO;
        else if (!(r->profile = ax__mcap_dup_str(profile, pl)) ||
                 !(r->library = ax__mcap_dup_str(library, ll)))
            rc = AX_ENOMEM;
    }
    free(buf);
    r->header_end = sizeof(pre) + len;
    return rc;
}

/* One Chunk Index record → a block and a chunk. */
static int summary_chunk_index(ax_mcap_reader *r, const uint8_t *p, size_t len,
                               uint64_t summary_start)
{
    struct ax__cur c;
    struct ax__mcap_block b = {0};
    struct ax_mcap_chunk ch = {0};
    ax__cur_init(&c, p, len);
    b.start = ch.message_start_time = ax__cur_u64(&c);
    b.end = ch.message_end_time = ax__cur_u64(&c);
    b.offset = ch.offset = ax__cur_u64(&c);
    b.length = ch.length = ax__cur_u64(&c);
    uint32_t mlen;
    const uint8_t *map = ax__cur_str(&c, &mlen);
    ax__cur_u64(&c); /* message_index_length */
    uint32_t cl;
    const uint8_t *comp = ax__cur_str(&c, &cl);
    ch.compressed_size = ax__cur_u64(&c);
    ch.uncompressed_size = ax__cur_u64(&c);
    if (c.bad || mlen % 10 != 0 || b.start > b.end || b.offset < r->header_end ||
        b.length < AX__MCAP_RECORD_HEADER || b.length > r->opt.max_record_size + 9 ||
        b.offset > summary_start || b.length > summary_start - b.offset)
        return AX_EPROTO;
    if (!(ch.compression = ax__mcap_intern_compression(r, comp, cl)))
        return AX_ENOMEM;
    /* The channels of its Message Index records: the chunk's channels. An
     * empty map means "not indexed", so the chunk is never skipped. */
    b.n_chans = mlen / 10;
    b.chans_known = b.n_chans > 0;
    b.times_checked = true;
    if (b.n_chans) {
        if (!(b.chans = malloc(b.n_chans * sizeof(*b.chans))))
            return AX_ENOMEM;
        for (size_t i = 0; i < b.n_chans; i++)
            b.chans[i] = ax__get_u16(map + 10 * i);
    }
    int rc = ax__mcap_add_block(r, &b);
    if (rc == 0)
        rc = ax__mcap_add_chunk(r, &ch);
    else
        free(b.chans);
    return rc;
}

static enum ax_mcap_summary_state load_summary(ax_mcap_reader *r)
{
    const uint64_t tail = AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN;
    uint8_t foot[AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN];
    if (r->size < r->header_end + tail ||
        ax__mcap_read_at(r, foot, sizeof(foot), r->size - tail) != 0 ||
        memcmp(foot + tail - AX__MCAP_MAGIC_LEN, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0 ||
        foot[0] != AX__OP_FOOTER || ax__get_u64(foot + 1) != AX__MCAP_FOOTER_CONTENT) {
        set_reason(r, "no footer at the end of the file: it was not closed (truncated?)");
        return AX_MCAP_SUMMARY_UNCLOSED;
    }
    uint64_t footer_at = r->size - tail;
    uint64_t summary_start = ax__get_u64(foot + 9);
    uint32_t summary_crc = ax__get_u32(foot + 25);
    if (summary_start == 0) {
        set_reason(r, "the file has no summary section");
        return AX_MCAP_SUMMARY_ABSENT;
    }
    if (summary_start < r->header_end || summary_start > footer_at ||
        footer_at - summary_start > r->opt.max_record_size) {
        set_reason(r, "the footer's summary offset %llu is out of range",
                   (unsigned long long)summary_start);
        return AX_MCAP_SUMMARY_DAMAGED;
    }
    size_t slen = (size_t)(footer_at - summary_start);
    uint8_t *sum = malloc(slen ? slen : 1);
    if (!sum) {
        set_reason(r, "out of memory reading the summary");
        return AX_MCAP_SUMMARY_DAMAGED;
    }
    enum ax_mcap_summary_state res = AX_MCAP_SUMMARY_DAMAGED;
    if (ax__mcap_read_at(r, sum, slen, summary_start) != 0) {
        set_reason(r, "cannot read the summary section");
        goto out;
    }
    if (summary_crc != 0 && ax_mcap_crc32(ax_mcap_crc32(0, sum, slen), foot, 25) != summary_crc) {
        set_reason(r, "summary CRC mismatch");
        res = AX_MCAP_SUMMARY_CRC;
        goto out;
    }

    struct ax__cur c;
    ax__cur_init(&c, sum, slen);
    uint8_t op;
    const uint8_t *p;
    uint64_t len;
    const uint8_t *stats = NULL;
    uint64_t stats_len = 0;
    int rc = 0;
    while (rc == 0 && ax__mcap_next_record(&c, &op, &p, &len)) {
        switch (op) {
        case AX__OP_SCHEMA: {
            struct ax_mcap_schema s;
            if ((rc = ax__mcap_parse_schema(p, len, &s)) == 0)
                rc = ax__mcap_add_schema(r, &s);
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((rc = ax__mcap_parse_channel(p, len, &ch)) == 0)
                rc = ax__mcap_add_channel(r, &ch);
            break;
        }
        case AX__OP_CHUNK_INDEX:
            rc = summary_chunk_index(r, p, len, summary_start);
            break;
        case AX__OP_STATISTICS:
            if (stats)
                rc = AX_EPROTO; /* at most one */
            stats = p;
            stats_len = len;
            break;
        case AX__OP_METADATA_INDEX: {
            struct ax__cur mc;
            ax__cur_init(&mc, p, len);
            uint64_t off = ax__cur_u64(&mc), mlen = ax__cur_u64(&mc);
            if (mc.bad || off < r->header_end || off > summary_start ||
                mlen > summary_start - off || mlen < AX__MCAP_RECORD_HEADER ||
                mlen - AX__MCAP_RECORD_HEADER > r->opt.max_record_size) {
                rc = AX_EPROTO;
                break;
            }
            uint8_t *rec = malloc(mlen);
            if (!rec) {
                rc = AX_ENOMEM;
                break;
            }
            struct ax_mcap_metadata m;
            if ((rc = ax__mcap_read_at(r, rec, (size_t)mlen, off)) == 0) {
                if (rec[0] != AX__OP_METADATA || ax__get_u64(rec + 1) != mlen - 9)
                    rc = AX_EPROTO;
                else if ((rc = ax__mcap_parse_metadata(rec + 9, (size_t)mlen - 9, &m)) == 0)
                    rc = ax__mcap_add_metadata(r, &m);
            }
            free(rec);
            break;
        }
        case AX__OP_SUMMARY_OFFSET:
        case AX__OP_ATTACHMENT_INDEX:
            break;
        case AX__OP_HEADER:
        case AX__OP_FOOTER:
        case AX__OP_MESSAGE:
        case AX__OP_CHUNK:
        case AX__OP_MESSAGE_INDEX:
        case AX__OP_ATTACHMENT:
        case AX__OP_METADATA:
        case AX__OP_DATA_END:
        case 0:
            rc = AX_EPROTO; /* not allowed in the summary */
            break;
        default:
            break; /* unknown or private: skip */
        }
    }
    if (rc == 0 && c.bad)
        rc = AX_EPROTO;
    if (rc != 0) {
        set_reason(r, "damaged summary section (%s)", ax__mcap_problem(rc));
        goto out;
    }
    if (!stats) {
        set_reason(r, "the summary has no Statistics record");
        res = AX_MCAP_SUMMARY_ABSENT;
        goto out;
    }

    /* Statistics: totals and per-channel message counts. */
    struct ax__cur sc;
    ax__cur_init(&sc, stats, stats_len);
    r->info.message_count = ax__cur_u64(&sc);
    ax__cur_u16(&sc);
    ax__cur_u32(&sc);
    ax__cur_u32(&sc);
    ax__cur_u32(&sc);
    ax__cur_u32(&sc);
    r->info.message_start_time = ax__cur_u64(&sc);
    r->info.message_end_time = ax__cur_u64(&sc);
    uint32_t mlen;
    const uint8_t *map = ax__cur_str(&sc, &mlen);
    if (sc.bad || mlen % 10 != 0) {
        set_reason(r, "damaged Statistics record");
        goto out;
    }
    for (uint32_t i = 0; i < mlen; i += 10) {
        struct ax_mcap_channel *ch = ax__mcap_find_channel(r, ax__get_u16(map + i));
        if (!ch) {
            set_reason(r, "the Statistics record counts an unknown channel");
            goto out;
        }
        ch->message_count = ax__get_u64(map + i + 2);
    }
    if (r->n_blocks == 0 && r->info.message_count > 0) {
        /* Messages outside chunks, or chunks without Chunk Index records
         * (other writers): only a scan finds them. */
        set_reason(r, "the summary does not index the file's messages");
        res = AX_MCAP_SUMMARY_ABSENT;
        goto out;
    }
    res = AX_MCAP_SUMMARY_USED;
out:
    free(sum);
    return res;
}

static void fill_info(ax_mcap_reader *r)
{
    struct ax_mcap_info *in = &r->info;
    in->profile = r->profile;
    in->library = r->library;
    in->file_size = r->size;
    in->schemas = r->schemas;
    in->n_schemas = r->n_schemas;
    in->channels = r->channels;
    in->n_channels = r->n_channels;
    in->chunks = r->chunks;
    in->n_chunks = r->n_chunks;
    in->metadata = r->metadata;
    in->n_metadata = r->n_metadata;
    in->recovery_reason = r->reason;
    in->compression = "";
    for (size_t i = 0; i < r->n_chunks; i++) {
        in->compressed_bytes += r->chunks[i].compressed_size;
        in->uncompressed_bytes += r->chunks[i].uncompressed_size;
        if (i == 0)
            in->compression = r->chunks[i].compression;
        else if (strcmp(in->compression, r->chunks[i].compression) != 0)
            in->compression = "mixed";
    }
}

int ax_mcap_reader_open(ax_mcap_reader **out, const char *path,
                        const struct ax_mcap_reader_options *opt)
{
    if (!out || !path || (opt && (!opt->max_record_size || !opt->max_chunk_size)))
        return AX_EINVAL;
    ax_mcap_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return AX_ENOMEM;
    if (opt)
        r->opt = *opt;
    else
        ax_mcap_reader_options_init(&r->opt);
    int rc;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = ax__mcap_err_from_errno(errno);
        goto fail;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        rc = ax__mcap_err_from_errno(errno);
        goto fail;
    }
    r->size = (uint64_t)st.st_size;
    if ((rc = read_header(r)) != 0)
        goto fail;

    enum ax_mcap_summary_state s = load_summary(r);
    if (s == AX_MCAP_SUMMARY_USED) {
        r->info.from_summary = true;
        r->info.valid_end = r->size;
        r->reason[0] = '\0';
    } else {
        /* Say why the scan ran and, if it did not end cleanly, where and
         * why it stopped. */
        char stop[160];
        ax__mcap_content_clear(r);
        if ((rc = ax__mcap_scan(r, s != AX_MCAP_SUMMARY_ABSENT, stop, sizeof(stop))) != 0)
            goto fail;
        if (stop[0]) {
            char why[sizeof(r->reason)];
            memcpy(why, r->reason, sizeof(why));
            set_reason(r, "%.80s; %.110s", why, stop);
        }
    }
    r->info.summary = s; /* after the scan, which starts from a clear info */
    fill_info(r);
    *out = r;
    return 0;
fail:
    ax_mcap_reader_free(r);
    return rc;
}

void ax_mcap_reader_free(ax_mcap_reader *r)
{
    if (!r)
        return;
    ax__mcap_content_clear(r);
    free(r->schemas);
    free(r->channels);
    free(r->metadata);
    free(r->chunks);
    free(r->blocks);
    for (size_t i = 0; i < r->n_strs; i++)
        free(r->strs[i]);
    free(r->strs);
    free(r->profile);
    free(r->library);
    free(r->scratch);
    if (r->fd >= 0)
        close(r->fd);
    free(r);
}

const struct ax_mcap_info *ax_mcap_reader_info(const ax_mcap_reader *r)
{
    return &r->info;
}
