/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCAP writer: open, schemas, channels, metadata, stats, close.
 *
 * Design: the file is written strictly front to back (no seek), so it can be
 * a pipe or a device and a crash leaves a clean prefix. Records go to one of
 * three places:
 *
 *  - the open chunk, an in-memory buffer of uncompressed records (Schema and
 *    Channel records when they are added, Message records as they come);
 *    when it reaches chunk_size it is compressed and written as one Chunk
 *    record followed by one Message Index record per channel it holds, in a
 *    single writev() (mcap_writer_chunk.c);
 *  - the file directly: the Header at open, Metadata records at once;
 *  - summary buffers, written at close after Data End: the Schema and Channel
 *    records again, one Chunk Index record per chunk and one Metadata Index
 *    record per Metadata record, which are serialized as each chunk or
 *    metadata record is written, then the Statistics record and the Summary
 *    Offsets (mcap_writer_summary.c).
 *
 * A running CRC of every byte written before Data End becomes Data End's
 * data_section_crc. Any failure to write is sticky (see mcap.h): the writer
 * never writes again after a failed write, so the file stays a clean prefix
 * that the reader's recovery can read (mcap_writer_io.c).
 * ax__mcap_writer.h says which file calls which.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ax__mcap_writer.h"

#ifndef AXON_MCAP_VERSION
#define AXON_MCAP_VERSION "0"
#endif

/* Serialized size of a Map<string,string>, without its uint32 length. */
static uint64_t kv_size(const struct ax_mcap_kv *kv, size_t n)
{
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += 8 + (uint64_t)strlen(kv[i].key) + strlen(kv[i].value);
    return size;
}

static bool kv_valid(const struct ax_mcap_kv *kv, size_t n)
{
    if (n && !kv)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!kv[i].key || !kv[i].value)
            return false;
    return true;
}

static void buf_kv(struct ax__mcap_buf *b, const struct ax_mcap_kv *kv, size_t n, uint64_t size)
{
    ax__mcap_buf_u32(b, (uint32_t)size);
    for (size_t i = 0; i < n; i++) {
        ax__mcap_buf_str(b, kv[i].key, strlen(kv[i].key));
        ax__mcap_buf_str(b, kv[i].value, strlen(kv[i].value));
    }
}

void ax_mcap_writer_options_init(struct ax_mcap_writer_options *opt)
{
    memset(opt, 0, sizeof(*opt));
#if defined(AXON_MCAP_HAVE_ZSTD)
    opt->compression = AX_MCAP_COMPRESSION_ZSTD;
#elif defined(AXON_MCAP_HAVE_LZ4)
    opt->compression = AX_MCAP_COMPRESSION_LZ4;
#else
    opt->compression = AX_MCAP_COMPRESSION_NONE;
#endif
    opt->chunk_size = 1u << 20;
    opt->profile = "";
    opt->library = "axon " AXON_MCAP_VERSION;
}

static void writer_free(ax_mcap_writer *w)
{
    for (size_t i = 0; i < w->n_schemas; i++)
        free(w->schemas[i].rec.p);
    for (size_t i = 0; i < w->n_channels; i++) {
        free(w->channels[i].rec.p);
        free(w->channels[i].idx);
    }
    free(w->schemas);
    free(w->channels);
    free(w->touched);
    free(w->chunk.p);
    free(w->cbuf.p);
    free(w->scratch.p);
    free(w->sum_chunk_idx.p);
    free(w->sum_meta_idx.p);
#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_freeCCtx(w->zctx);
#endif
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}

int ax_mcap_writer_open(ax_mcap_writer **out, const char *path,
                        const struct ax_mcap_writer_options *opt)
{
    struct ax_mcap_writer_options defaults;
    if (!out || !path)
        return AX_EINVAL;
    if (!opt) {
        ax_mcap_writer_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->chunk_size == 0 || !ax_mcap_compression_name(opt->compression))
        return AX_EINVAL;
    if (!ax_mcap_compression_supported(opt->compression))
        return AX_ENOTSUP;
    const char *profile = opt->profile ? opt->profile : "";
    const char *library = opt->library ? opt->library : "axon " AXON_MCAP_VERSION;
    size_t plen = strlen(profile), llen = strlen(library);
    if (plen > UINT16_MAX || llen > UINT16_MAX)
        return AX_EINVAL;

    ax_mcap_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return AX_ENOMEM;
    w->fd = -1;
    w->compression = opt->compression;
    w->level = opt->compression_level;
    w->chunk_size = opt->chunk_size;
    w->fsync_chunks = opt->fsync_chunks;

    int rc = AX_ENOMEM;
#ifdef AXON_MCAP_HAVE_ZSTD
    if (w->compression == AX_MCAP_COMPRESSION_ZSTD && !(w->zctx = ZSTD_createCCtx()))
        goto fail;
#endif
    struct ax__mcap_buf *b = &w->scratch;
    if (ax__mcap_buf_reserve(b, AX__MCAP_MAGIC_LEN + AX__MCAP_RECORD_HEADER + 8 + plen + llen) != 0)
        goto fail;
    ax__mcap_buf_mem(b, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN);
    size_t at = ax__mcap_rec_begin(b, AX__OP_HEADER);
    ax__mcap_buf_str(b, profile, plen);
    ax__mcap_buf_str(b, library, llen);
    ax__mcap_rec_end(b, at);

    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = ax__mcap_err_from_errno(errno);
        goto fail;
    }
    if ((rc = ax__mcap_write_buf(w, b, true)) != 0)
        goto fail;
    b->len = 0;
    *out = w;
    return 0;
fail:
    writer_free(w);
    return rc;
}

int ax_mcap_writer_add_schema(ax_mcap_writer *w, const char *name, const char *encoding,
                              const void *data, size_t len, uint16_t *id)
{
    if (!w || !name || !id || (!data && len))
        return AX_EINVAL;
    if (w->err)
        return w->err;
    if (!encoding)
        encoding = "protobuf";
    size_t nlen = strlen(name), elen = strlen(encoding);
    if ((uint64_t)len > AX__MCAP_MAX_MESSAGE || nlen > UINT16_MAX || elen > UINT16_MAX)
        return AX_EMSGSIZE;

    struct ax__mcap_buf rec = {0};
    if (ax__mcap_buf_reserve(&rec, AX__MCAP_RECORD_HEADER + 2 + 12 + nlen + elen + len) != 0)
        return AX_ENOMEM;
    size_t at = ax__mcap_rec_begin(&rec, AX__OP_SCHEMA);
    ax__mcap_buf_u16(&rec, 0); /* id, set below */
    ax__mcap_buf_str(&rec, name, nlen);
    ax__mcap_buf_str(&rec, encoding, elen);
    ax__mcap_buf_str(&rec, data, len);
    ax__mcap_rec_end(&rec, at);

    /* The same schema again: its id (everything after the id field equal). */
    const size_t skip = AX__MCAP_RECORD_HEADER + 2;
    for (size_t i = 0; i < w->n_schemas; i++) {
        const struct ax__mcap_buf *o = &w->schemas[i].rec;
        if (o->len == rec.len && memcmp(o->p + skip, rec.p + skip, rec.len - skip) == 0) {
            free(rec.p);
            *id = (uint16_t)(i + 1);
            return 0;
        }
    }
    if (w->n_schemas >= UINT16_MAX) {
        free(rec.p);
        return AX_EOVERFLOW;
    }
    struct ax__mcap_wschema *s = realloc(w->schemas, (w->n_schemas + 1) * sizeof(*s));
    if (!s) {
        free(rec.p);
        return AX_ENOMEM;
    }
    w->schemas = s;
    uint16_t sid = (uint16_t)(w->n_schemas + 1);
    ax__put_u16(rec.p + AX__MCAP_RECORD_HEADER, sid);
    int rc = ax__mcap_chunk_append(w, &rec);
    if (rc != 0) {
        free(rec.p);
        return rc;
    }
    s[w->n_schemas++].rec = rec;
    *id = sid;
    return 0;
}

int ax_mcap_writer_add_channel(ax_mcap_writer *w, uint16_t schema_id, const char *topic,
                               const char *message_encoding, const struct ax_mcap_kv *metadata,
                               size_t n_metadata, uint16_t *id)
{
    if (!w || !topic || !id || !kv_valid(metadata, n_metadata))
        return AX_EINVAL;
    if (w->err)
        return w->err;
    if (schema_id > w->n_schemas)
        return AX_ENOTFOUND;
    if (w->n_channels >= UINT16_MAX)
        return AX_EOVERFLOW;
    if (!message_encoding)
        message_encoding = "protobuf";
    size_t tlen = strlen(topic), elen = strlen(message_encoding);
    uint64_t msize = kv_size(metadata, n_metadata);
    if (tlen > UINT16_MAX || elen > UINT16_MAX || msize > UINT16_MAX * (uint64_t)64)
        return AX_EMSGSIZE;

    struct ax__mcap_wchannel *c = realloc(w->channels, (w->n_channels + 1) * sizeof(*c));
    if (!c)
        return AX_ENOMEM;
    w->channels = c;
    uint16_t *t = realloc(w->touched, (w->n_channels + 1) * sizeof(*t));
    if (!t)
        return AX_ENOMEM;
    w->touched = t;

    uint16_t cid = (uint16_t)(w->n_channels + 1);
    struct ax__mcap_wchannel ch = {0};
    struct ax__mcap_buf *rec = &ch.rec;
    if (ax__mcap_buf_reserve(rec, AX__MCAP_RECORD_HEADER + 4 + 12 + tlen + elen + msize) != 0)
        return AX_ENOMEM;
    size_t at = ax__mcap_rec_begin(rec, AX__OP_CHANNEL);
    ax__mcap_buf_u16(rec, cid);
    ax__mcap_buf_u16(rec, schema_id);
    ax__mcap_buf_str(rec, topic, tlen);
    ax__mcap_buf_str(rec, message_encoding, elen);
    buf_kv(rec, metadata, n_metadata, msize);
    ax__mcap_rec_end(rec, at);
    int rc = ax__mcap_chunk_append(w, rec);
    if (rc != 0) {
        free(rec->p);
        return rc;
    }
    c[w->n_channels++] = ch;
    *id = cid;
    return 0;
}

int ax_mcap_writer_write_metadata(ax_mcap_writer *w, const char *name, const struct ax_mcap_kv *kv,
                                  size_t n)
{
    if (!w || !name || !kv_valid(kv, n))
        return AX_EINVAL;
    if (w->err)
        return w->err;
    size_t nlen = strlen(name);
    uint64_t msize = kv_size(kv, n);
    if (nlen > UINT16_MAX || msize > AX__MCAP_MAX_MESSAGE)
        return AX_EMSGSIZE;
    struct ax__mcap_buf *s = &w->scratch;
    s->len = 0;
    if (ax__mcap_buf_reserve(s, AX__MCAP_RECORD_HEADER + 8 + nlen + (size_t)msize) != 0 ||
        ax__mcap_buf_reserve(&w->sum_meta_idx, AX__MCAP_RECORD_HEADER + 20 + nlen) != 0)
        return AX_ENOMEM;
    size_t at = ax__mcap_rec_begin(s, AX__OP_METADATA);
    ax__mcap_buf_str(s, name, nlen);
    buf_kv(s, kv, n, msize);
    ax__mcap_rec_end(s, at);

    uint64_t offset = w->offset;
    int rc = ax__mcap_write_buf(w, s, true);
    if (rc != 0)
        return rc;
    struct ax__mcap_buf *mi = &w->sum_meta_idx;
    at = ax__mcap_rec_begin(mi, AX__OP_METADATA_INDEX);
    ax__mcap_buf_u64(mi, offset);
    ax__mcap_buf_u64(mi, s->len);
    ax__mcap_buf_str(mi, name, nlen);
    ax__mcap_rec_end(mi, at);
    w->metadata_written++;
    return 0;
}

int ax_mcap_writer_flush(ax_mcap_writer *w)
{
    if (!w)
        return AX_EINVAL;
    return ax__mcap_chunk_flush(w);
}

void ax_mcap_writer_stats(const ax_mcap_writer *w, struct ax_mcap_writer_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!w)
        return;
    out->bytes_written = w->offset;
    out->messages_accepted = w->messages_accepted;
    out->messages_written = w->messages_written;
    out->chunks_written = w->chunks_written;
    out->metadata_written = w->metadata_written;
    out->chunk_bytes_pending = w->chunk.len;
    out->error = w->err;
    out->sys_errno = w->sys_errno;
}

int ax_mcap_writer_close(ax_mcap_writer *w, struct ax_mcap_writer_stats *stats)
{
    if (!w)
        return 0;
    int rc = w->err ? w->err : ax__mcap_write_tail(w);
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0 && rc == 0) {
        w->sys_errno = errno;
        rc = w->err = AX_EIO;
    }
    if (stats)
        ax_mcap_writer_stats(w, stats);
    writer_free(w);
    return rc;
}
