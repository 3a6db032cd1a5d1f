/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the MCAP writer writes at close, after the last chunk: Data End
 * (with the CRC of every byte before it), the summary section (the Schema
 * and Channel records again, Statistics, the Chunk Index and Metadata
 * Index records serialized as the file was written), one Summary Offset
 * per group, and the Footer, whose CRC covers the summary.
 */
#include <unistd.h>

#include "ax__mcap_writer.h"

int ax__mcap_write_tail(ax_mcap_writer *w)
{
    int rc = ax__mcap_chunk_flush(w);
    if (rc != 0)
        return rc;

    uint8_t de[AX__MCAP_RECORD_HEADER + 4];
    de[0] = AX__OP_DATA_END;
    ax__put_u64(de + 1, 4);
    ax__put_u32(de + AX__MCAP_RECORD_HEADER, w->data_crc);
    struct iovec iov = {.iov_base = de, .iov_len = sizeof(de)};
    if ((rc = ax__mcap_write_all(w, &iov, 1, false)) != 0)
        return rc;

    /* Size everything first so one reservation covers it. */
    size_t size = w->sum_chunk_idx.len + w->sum_meta_idx.len;
    for (size_t i = 0; i < w->n_schemas; i++)
        size += w->schemas[i].rec.len;
    for (size_t i = 0; i < w->n_channels; i++)
        size += w->channels[i].rec.len;
    size += AX__MCAP_RECORD_HEADER + 46 + w->n_channels * 10; /* Statistics */
    size += 5 * (AX__MCAP_RECORD_HEADER + 17);                /* Summary Offsets */
    size += AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN;
    struct ax__mcap_buf *s = &w->scratch;
    s->len = 0;
    if (ax__mcap_buf_reserve(s, size) != 0)
        return w->err = AX_ENOMEM;

    uint64_t summary_start = w->offset;
    struct {
        uint8_t op;
        uint64_t start;
        uint64_t len;
    } groups[5];
    int n_groups = 0;
#define GROUP_BEGIN(opcode) size_t g_at_ = s->len
#define GROUP_END(opcode)                                                                          \
    if (s->len > g_at_)                                                                            \
        groups[n_groups].op = (opcode), groups[n_groups].start = summary_start + g_at_,            \
        groups[n_groups++].len = s->len - g_at_;

    {
        GROUP_BEGIN(AX__OP_SCHEMA);
        for (size_t i = 0; i < w->n_schemas; i++)
            ax__mcap_buf_mem(s, w->schemas[i].rec.p, w->schemas[i].rec.len);
        GROUP_END(AX__OP_SCHEMA);
    }
    {
        GROUP_BEGIN(AX__OP_CHANNEL);
        for (size_t i = 0; i < w->n_channels; i++)
            ax__mcap_buf_mem(s, w->channels[i].rec.p, w->channels[i].rec.len);
        GROUP_END(AX__OP_CHANNEL);
    }
    {
        GROUP_BEGIN(AX__OP_STATISTICS);
        size_t at = ax__mcap_rec_begin(s, AX__OP_STATISTICS);
        bool any = w->messages_written > 0;
        ax__mcap_buf_u64(s, w->messages_written);
        ax__mcap_buf_u16(s, (uint16_t)w->n_schemas);
        ax__mcap_buf_u32(s, (uint32_t)w->n_channels);
        ax__mcap_buf_u32(s, 0); /* attachments */
        ax__mcap_buf_u32(s, (uint32_t)w->metadata_written);
        ax__mcap_buf_u32(s, (uint32_t)w->chunks_written);
        ax__mcap_buf_u64(s, any ? w->msg_start : 0);
        ax__mcap_buf_u64(s, any ? w->msg_end : 0);
        ax__mcap_buf_u32(s, (uint32_t)(w->n_channels * 10));
        for (size_t i = 0; i < w->n_channels; i++) {
            ax__mcap_buf_u16(s, (uint16_t)(i + 1));
            ax__mcap_buf_u64(s, w->channels[i].count);
        }
        ax__mcap_rec_end(s, at);
        GROUP_END(AX__OP_STATISTICS);
    }
    {
        GROUP_BEGIN(AX__OP_CHUNK_INDEX);
        ax__mcap_buf_mem(s, w->sum_chunk_idx.p, w->sum_chunk_idx.len);
        GROUP_END(AX__OP_CHUNK_INDEX);
    }
    {
        GROUP_BEGIN(AX__OP_METADATA_INDEX);
        ax__mcap_buf_mem(s, w->sum_meta_idx.p, w->sum_meta_idx.len);
        GROUP_END(AX__OP_METADATA_INDEX);
    }
#undef GROUP_BEGIN
#undef GROUP_END

    uint64_t summary_offset_start = summary_start + s->len;
    for (int i = 0; i < n_groups; i++) {
        size_t at = ax__mcap_rec_begin(s, AX__OP_SUMMARY_OFFSET);
        ax__mcap_buf_u8(s, groups[i].op);
        ax__mcap_buf_u64(s, groups[i].start);
        ax__mcap_buf_u64(s, groups[i].len);
        ax__mcap_rec_end(s, at);
    }
    ax__mcap_buf_u8(s, AX__OP_FOOTER);
    ax__mcap_buf_u64(s, AX__MCAP_FOOTER_CONTENT);
    ax__mcap_buf_u64(s, summary_start);
    ax__mcap_buf_u64(s, summary_offset_start);
    /* The summary CRC covers the summary and the footer up to this field. */
    ax__mcap_buf_u32(s, ax_mcap_crc32(0, s->p, s->len));
    ax__mcap_buf_mem(s, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN);
    if ((rc = ax__mcap_write_buf(w, s, false)) != 0)
        return rc;
    if (w->fsync_chunks && fsync(w->fd) != 0)
        return ax__mcap_fail_errno(w);
    return 0;
}
