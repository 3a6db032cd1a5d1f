/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCAP writer's open chunk: Schema, Channel and Message records are
 * appended to an in-memory buffer of uncompressed records; when it reaches
 * chunk_size (or on flush) it is compressed and written as one Chunk
 * record followed by one Message Index record per channel it holds, in a
 * single writev(), and its Chunk Index record is serialized into the
 * summary at once. Every chunk stays under the record limit: a record that
 * would take it over is preceded by a flush.
 */
#include <stdlib.h>
#include <unistd.h>

#ifdef AXON_MCAP_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "ax__mcap_writer.h"

int ax__mcap_chunk_append(ax_mcap_writer *w, const struct ax__mcap_buf *rec)
{
    int rc;
    if (w->chunk.len && (uint64_t)w->chunk.len + rec->len > AX__MCAP_MAX_MESSAGE &&
        (rc = ax__mcap_chunk_flush(w)) != 0)
        return rc;
    rc = ax__mcap_buf_reserve(&w->chunk, rec->len);
    if (rc == 0)
        ax__mcap_buf_mem(&w->chunk, rec->p, rec->len);
    return rc;
}

static int cmp_idx(const void *a, const void *b)
{
    const struct ax__mcap_idx_ent *x = a, *y = b;
    if (x->log_time != y->log_time)
        return x->log_time < y->log_time ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Compress the open chunk's records into w->cbuf; sets @out and @out_len. */
static int compress_chunk(ax_mcap_writer *w, const uint8_t **out, size_t *out_len)
{
    const uint8_t *src = w->chunk.p;
    size_t len = w->chunk.len;
    switch (w->compression) {
    case AX_MCAP_COMPRESSION_NONE:
        *out = src;
        *out_len = len;
        return 0;
#ifdef AXON_MCAP_HAVE_LZ4
    case AX_MCAP_COMPRESSION_LZ4: {
        LZ4F_preferences_t prefs;
        memset(&prefs, 0, sizeof(prefs));
        prefs.frameInfo.contentSize = len;
        prefs.frameInfo.blockSizeID = LZ4F_max4MB;
        prefs.compressionLevel = w->level;
        size_t bound = LZ4F_compressFrameBound(len, &prefs);
        w->cbuf.len = 0;
        if (ax__mcap_buf_reserve(&w->cbuf, bound) != 0)
            return AX_ENOMEM;
        size_t n = LZ4F_compressFrame(w->cbuf.p, bound, src, len, &prefs);
        if (LZ4F_isError(n))
            return AX_ESYS;
        *out = w->cbuf.p;
        *out_len = n;
        return 0;
    }
#endif
#ifdef AXON_MCAP_HAVE_ZSTD
    case AX_MCAP_COMPRESSION_ZSTD: {
        size_t bound = ZSTD_compressBound(len);
        w->cbuf.len = 0;
        if (ax__mcap_buf_reserve(&w->cbuf, bound) != 0)
            return AX_ENOMEM;
        int level = w->level ? w->level : ZSTD_CLEVEL_DEFAULT;
        size_t n = ZSTD_compressCCtx(w->zctx, w->cbuf.p, bound, src, len, level);
        if (ZSTD_isError(n))
            return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? AX_ENOMEM : AX_ESYS;
        *out = w->cbuf.p;
        *out_len = n;
        return 0;
    }
#endif
    default:
        return AX_ENOTSUP;
    }
}

/*
 * Write the open chunk and its Message Index records, and serialize its
 * Chunk Index record into the summary. Any failure here is sticky: the
 * chunk's messages were accepted and cannot be handed back.
 */
int ax__mcap_chunk_flush(ax_mcap_writer *w)
{
    if (w->err)
        return w->err;
    if (w->chunk.len == 0)
        return 0;
    const char *cname = ax_mcap_compression_name(w->compression);
    size_t cnlen = strlen(cname);
    uint32_t crc = ax_mcap_crc32(0, w->chunk.p, w->chunk.len);
    const uint8_t *cdata;
    size_t clen;
    int rc = compress_chunk(w, &cdata, &clen);
    if (rc != 0)
        return w->err = rc;

    /* The chunk header, then the Message Index records, in w->scratch. */
    size_t mi_size = 0;
    for (size_t i = 0; i < w->n_touched; i++)
        mi_size += AX__MCAP_RECORD_HEADER + 6 + w->channels[w->touched[i]].n_idx * 16;
    struct ax__mcap_buf *s = &w->scratch;
    s->len = 0;
    size_t hdr_size = AX__MCAP_RECORD_HEADER + 8 + 8 + 8 + 4 + 4 + cnlen + 8;
    if (ax__mcap_buf_reserve(s, hdr_size + mi_size) != 0)
        return w->err = AX_ENOMEM;
    bool has_msgs = w->chunk_msgs > 0;
    ax__mcap_buf_u8(s, AX__OP_CHUNK);
    ax__mcap_buf_u64(s, (uint64_t)(hdr_size - AX__MCAP_RECORD_HEADER + clen));
    ax__mcap_buf_u64(s, has_msgs ? w->chunk_start : 0);
    ax__mcap_buf_u64(s, has_msgs ? w->chunk_end : 0);
    ax__mcap_buf_u64(s, w->chunk.len);
    ax__mcap_buf_u32(s, crc);
    ax__mcap_buf_str(s, cname, cnlen);
    ax__mcap_buf_u64(s, clen);

    uint64_t chunk_offset = w->offset;
    uint64_t chunk_length = hdr_size + clen;
    uint64_t mi_offset = chunk_offset + chunk_length;
    for (size_t i = 0; i < w->n_touched; i++) {
        struct ax__mcap_wchannel *c = &w->channels[w->touched[i]];
        if (c->unsorted)
            qsort(c->idx, c->n_idx, sizeof(*c->idx), cmp_idx);
        size_t at = ax__mcap_rec_begin(s, AX__OP_MESSAGE_INDEX);
        ax__mcap_buf_u16(s, (uint16_t)(w->touched[i] + 1));
        ax__mcap_buf_u32(s, (uint32_t)(c->n_idx * 16));
        for (size_t k = 0; k < c->n_idx; k++) {
            ax__mcap_buf_u64(s, c->idx[k].log_time);
            ax__mcap_buf_u64(s, c->idx[k].offset);
        }
        ax__mcap_rec_end(s, at);
    }

    /* The Chunk Index record, reserved before writing so that nothing can
     * fail between the write and the bookkeeping. */
    struct ax__mcap_buf *ci = &w->sum_chunk_idx;
    size_t ci_size = AX__MCAP_RECORD_HEADER + 8 * 4 + 4 + w->n_touched * 10 + 8 + 4 + cnlen + 16;
    if (ax__mcap_buf_reserve(ci, ci_size) != 0)
        return w->err = AX_ENOMEM;

    struct iovec iov[3] = {
        {.iov_base = s->p, .iov_len = hdr_size},
        {.iov_base = (void *)cdata, .iov_len = clen},
        {.iov_base = s->p + hdr_size, .iov_len = mi_size},
    };
    if ((rc = ax__mcap_write_all(w, iov, 3, true)) != 0)
        return rc;
    if (w->fsync_chunks && fdatasync(w->fd) != 0)
        return ax__mcap_fail_errno(w);

    size_t at = ax__mcap_rec_begin(ci, AX__OP_CHUNK_INDEX);
    ax__mcap_buf_u64(ci, has_msgs ? w->chunk_start : 0);
    ax__mcap_buf_u64(ci, has_msgs ? w->chunk_end : 0);
    ax__mcap_buf_u64(ci, chunk_offset);
    ax__mcap_buf_u64(ci, chunk_length);
    ax__mcap_buf_u32(ci, (uint32_t)(w->n_touched * 10));
    for (size_t i = 0; i < w->n_touched; i++) {
        struct ax__mcap_wchannel *c = &w->channels[w->touched[i]];
        ax__mcap_buf_u16(ci, (uint16_t)(w->touched[i] + 1));
        ax__mcap_buf_u64(ci, mi_offset);
        mi_offset += AX__MCAP_RECORD_HEADER + 6 + c->n_idx * 16;
        c->n_idx = 0;
        c->unsorted = false;
    }
    ax__mcap_buf_u64(ci, mi_size);
    ax__mcap_buf_str(ci, cname, cnlen);
    ax__mcap_buf_u64(ci, clen);
    ax__mcap_buf_u64(ci, w->chunk.len);
    ax__mcap_rec_end(ci, at);

    w->messages_written += w->chunk_msgs;
    w->chunks_written++;
    w->chunk.len = 0;
    w->chunk_msgs = 0;
    w->n_touched = 0;
    return 0;
}

int ax_mcap_writer_write_message(ax_mcap_writer *w, uint16_t channel_id, uint32_t sequence,
                                 uint64_t log_time, uint64_t publish_time, const void *data,
                                 size_t len)
{
    if (!w || (!data && len))
        return AX_EINVAL;
    if (w->err)
        return w->err;
    if (channel_id == 0 || channel_id > w->n_channels)
        return AX_ENOTFOUND;
    if ((uint64_t)len > AX__MCAP_MAX_MESSAGE)
        return AX_EMSGSIZE;
    size_t rec_len = AX__MCAP_RECORD_HEADER + AX__MCAP_MESSAGE_FIXED + len;
    int rc;
    /* Keep every chunk under the record limit: a chunk that this message
     * would push over it is written first. */
    if (w->chunk.len && (uint64_t)w->chunk.len + rec_len > AX__MCAP_MAX_MESSAGE &&
        (rc = ax__mcap_chunk_flush(w)) != 0)
        return rc;

    /* Reserve everything, then commit: a failed allocation leaves no trace. */
    struct ax__mcap_wchannel *c = &w->channels[channel_id - 1];
    if (ax__array_reserve(&c->idx, &c->cap_idx, c->n_idx + 1, 64) != 0)
        return AX_ENOMEM;
    if (ax__mcap_buf_reserve(&w->chunk, rec_len) != 0)
        return AX_ENOMEM;

    uint64_t offset = w->chunk.len;
    ax__mcap_buf_u8(&w->chunk, AX__OP_MESSAGE);
    ax__mcap_buf_u64(&w->chunk, AX__MCAP_MESSAGE_FIXED + (uint64_t)len);
    ax__mcap_buf_u16(&w->chunk, channel_id);
    ax__mcap_buf_u32(&w->chunk, sequence);
    ax__mcap_buf_u64(&w->chunk, log_time);
    ax__mcap_buf_u64(&w->chunk, publish_time);
    ax__mcap_buf_mem(&w->chunk, data, len);

    if (c->n_idx == 0)
        w->touched[w->n_touched++] = (uint16_t)(channel_id - 1);
    else if (log_time < c->idx[c->n_idx - 1].log_time)
        c->unsorted = true;
    c->idx[c->n_idx++] = (struct ax__mcap_idx_ent){.log_time = log_time, .offset = offset};
    c->count++;
    if (w->chunk_msgs == 0 || log_time < w->chunk_start)
        w->chunk_start = log_time;
    if (w->chunk_msgs == 0 || log_time > w->chunk_end)
        w->chunk_end = log_time;
    w->chunk_msgs++;
    if (w->messages_accepted == 0 || log_time < w->msg_start)
        w->msg_start = log_time;
    if (w->messages_accepted == 0 || log_time > w->msg_end)
        w->msg_end = log_time;
    w->messages_accepted++;

    if (w->chunk.len >= w->chunk_size)
        return ax__mcap_chunk_flush(w);
    return 0;
}
