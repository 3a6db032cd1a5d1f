/*
 * The MCAP writer.
 *
 * Design: the file is written strictly front to back (no seek), so it can be
 * a pipe or a device and a crash leaves a clean prefix. Records go to one of
 * three places:
 *
 *  - the open chunk, an in-memory buffer of uncompressed records (Schema and
 *    Channel records when they are added, Message records as they come);
 *    when it reaches chunk_size it is compressed and written as one Chunk
 *    record followed by one Message Index record per channel it holds, in a
 *    single writev();
 *  - the file directly: the Header at open, Metadata records at once;
 *  - summary buffers, written at close after Data End: the Schema and Channel
 *    records again, one Chunk Index record per chunk and one Metadata Index
 *    record per Metadata record, which are serialized as each chunk or
 *    metadata record is written, then the Statistics record and the Summary
 *    Offsets.
 *
 * A running CRC of every byte written before Data End becomes Data End's
 * data_section_crc. Any failure to write is sticky (see mcap.h): the writer
 * never writes again after a failed write, so the file stays a clean prefix
 * that the reader's recovery can read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef AXON_MCAP_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "ax__mcap.h"

#ifndef AXON_MCAP_VERSION
#define AXON_MCAP_VERSION "0"
#endif

/* The largest uncompressed chunk, and so the largest message: half the
 * record limit, so that a chunk whose data does not compress (zstd and lz4
 * then add a little) still fits a record a reader accepts by default. */
#define MAX_MESSAGE AX_MCAP_MAX_MESSAGE_SIZE

struct buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* Make room for @extra more bytes. */
static int buf_reserve(struct buf *b, size_t extra)
{
    if (extra <= b->cap - b->len)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return AX_ENOMEM;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return AX_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Append helpers; the caller reserved the room. */
static uint8_t *buf_tail(struct buf *b, size_t n)
{
    uint8_t *p = b->p + b->len;
    b->len += n;
    return p;
}

static void buf_u8(struct buf *b, uint8_t v)
{
    *buf_tail(b, 1) = v;
}

static void buf_u16(struct buf *b, uint16_t v)
{
    ax__put_u16(buf_tail(b, 2), v);
}

static void buf_u32(struct buf *b, uint32_t v)
{
    ax__put_u32(buf_tail(b, 4), v);
}

static void buf_u64(struct buf *b, uint64_t v)
{
    ax__put_u64(buf_tail(b, 8), v);
}

static void buf_mem(struct buf *b, const void *p, size_t n)
{
    if (n)
        memcpy(buf_tail(b, n), p, n);
}

static void buf_str(struct buf *b, const char *s, size_t n)
{
    buf_u32(b, (uint32_t)n);
    buf_mem(b, s, n);
}

/* Opens a record; returns the offset of its length field for rec_end(). */
static size_t rec_begin(struct buf *b, uint8_t op)
{
    buf_u8(b, op);
    size_t at = b->len;
    buf_u64(b, 0);
    return at;
}

static void rec_end(struct buf *b, size_t at)
{
    ax__put_u64(b->p + at, (uint64_t)(b->len - at - 8));
}

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

static void buf_kv(struct buf *b, const struct ax_mcap_kv *kv, size_t n, uint64_t size)
{
    buf_u32(b, (uint32_t)size);
    for (size_t i = 0; i < n; i++) {
        buf_str(b, kv[i].key, strlen(kv[i].key));
        buf_str(b, kv[i].value, strlen(kv[i].value));
    }
}

/* One Message Index entry. */
struct idx_ent {
    uint64_t log_time;
    uint64_t offset; /* in the uncompressed chunk */
};

struct wschema {
    struct buf rec; /* the whole Schema record, for the summary */
};

struct wchannel {
    struct buf rec; /* the whole Channel record, for the summary */
    uint64_t count; /* messages accepted */
    /* This channel's Message Index for the open chunk. */
    struct idx_ent *idx;
    size_t n_idx;
    size_t cap_idx;
    bool unsorted; /* a log_time went backwards within the chunk */
};

struct ax_mcap_writer {
    int fd;
    int err; /* sticky */
    int sys_errno;
    enum ax_mcap_compression compression;
    int level;
    size_t chunk_size;
    bool fsync_chunks;

    uint64_t offset;   /* bytes in the file */
    uint32_t data_crc; /* of every byte before Data End */

    struct wschema *schemas;
    size_t n_schemas;
    struct wchannel *channels;
    size_t n_channels;

    /* The open chunk. */
    struct buf chunk;
    uint64_t chunk_start; /* earliest/latest log_time in it */
    uint64_t chunk_end;
    uint64_t chunk_msgs;
    uint16_t *touched; /* channel indexes with messages in it, first use order */
    size_t n_touched;

    struct buf cbuf;    /* compressed chunk */
    struct buf scratch; /* chunk header + message index records */

    /* The summary, built as we go. */
    struct buf sum_chunk_idx;
    struct buf sum_meta_idx;

    /* Statistics. */
    uint64_t msg_start;
    uint64_t msg_end;
    uint64_t messages_accepted;
    uint64_t messages_written;
    uint64_t chunks_written;
    uint64_t metadata_written;

#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_CCtx *zctx;
#endif
};

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

/* Marks the writer failed after a system call failed with errno. */
static int fail_errno(ax_mcap_writer *w)
{
    w->sys_errno = errno;
    w->err = AX_EIO;
    return w->err;
}

/*
 * Write every byte of @iov (short writes and EINTR are retried), account
 * for them and fold them into the data section CRC while @data_section.
 */
static int write_all(ax_mcap_writer *w, struct iovec *iov, int n, bool data_section)
{
    if (data_section)
        for (int i = 0; i < n; i++)
            w->data_crc = ax_mcap_crc32(w->data_crc, iov[i].iov_base, iov[i].iov_len);
    while (n > 0) {
        ssize_t r = writev(w->fd, iov, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail_errno(w);
        }
        if (r == 0) {
            errno = EIO;
            return fail_errno(w);
        }
        w->offset += (uint64_t)r;
        size_t done = (size_t)r;
        while (n > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

static int write_buf(ax_mcap_writer *w, const struct buf *b, bool data_section)
{
    struct iovec iov = {.iov_base = b->p, .iov_len = b->len};
    return b->len ? write_all(w, &iov, 1, data_section) : 0;
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
    struct buf *b = &w->scratch;
    if (buf_reserve(b, AX__MCAP_MAGIC_LEN + AX__MCAP_RECORD_HEADER + 8 + plen + llen) != 0)
        goto fail;
    buf_mem(b, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN);
    size_t at = rec_begin(b, AX__OP_HEADER);
    buf_str(b, profile, plen);
    buf_str(b, library, llen);
    rec_end(b, at);

    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = ax__mcap_err_from_errno(errno);
        goto fail;
    }
    if ((rc = write_buf(w, b, true)) != 0)
        goto fail;
    b->len = 0;
    *out = w;
    return 0;
fail:
    writer_free(w);
    return rc;
}

static int chunk_flush(ax_mcap_writer *w);

/* Append @rec (a whole record) to the open chunk, writing the chunk first
 * if @rec would take it over the record limit. */
static int chunk_append(ax_mcap_writer *w, const struct buf *rec)
{
    int rc;
    if (w->chunk.len && (uint64_t)w->chunk.len + rec->len > MAX_MESSAGE &&
        (rc = chunk_flush(w)) != 0)
        return rc;
    rc = buf_reserve(&w->chunk, rec->len);
    if (rc == 0)
        buf_mem(&w->chunk, rec->p, rec->len);
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
    if ((uint64_t)len > MAX_MESSAGE || nlen > UINT16_MAX || elen > UINT16_MAX)
        return AX_EMSGSIZE;

    struct buf rec = {0};
    if (buf_reserve(&rec, AX__MCAP_RECORD_HEADER + 2 + 12 + nlen + elen + len) != 0)
        return AX_ENOMEM;
    size_t at = rec_begin(&rec, AX__OP_SCHEMA);
    buf_u16(&rec, 0); /* id, set below */
    buf_str(&rec, name, nlen);
    buf_str(&rec, encoding, elen);
    buf_str(&rec, data, len);
    rec_end(&rec, at);

    /* The same schema again: its id (everything after the id field equal). */
    const size_t skip = AX__MCAP_RECORD_HEADER + 2;
    for (size_t i = 0; i < w->n_schemas; i++) {
        const struct buf *o = &w->schemas[i].rec;
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
    struct wschema *s = realloc(w->schemas, (w->n_schemas + 1) * sizeof(*s));
    if (!s) {
        free(rec.p);
        return AX_ENOMEM;
    }
    w->schemas = s;
    uint16_t sid = (uint16_t)(w->n_schemas + 1);
    ax__put_u16(rec.p + AX__MCAP_RECORD_HEADER, sid);
    int rc = chunk_append(w, &rec);
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

    struct wchannel *c = realloc(w->channels, (w->n_channels + 1) * sizeof(*c));
    if (!c)
        return AX_ENOMEM;
    w->channels = c;
    uint16_t *t = realloc(w->touched, (w->n_channels + 1) * sizeof(*t));
    if (!t)
        return AX_ENOMEM;
    w->touched = t;

    uint16_t cid = (uint16_t)(w->n_channels + 1);
    struct wchannel ch = {0};
    struct buf *rec = &ch.rec;
    if (buf_reserve(rec, AX__MCAP_RECORD_HEADER + 4 + 12 + tlen + elen + msize) != 0)
        return AX_ENOMEM;
    size_t at = rec_begin(rec, AX__OP_CHANNEL);
    buf_u16(rec, cid);
    buf_u16(rec, schema_id);
    buf_str(rec, topic, tlen);
    buf_str(rec, message_encoding, elen);
    buf_kv(rec, metadata, n_metadata, msize);
    rec_end(rec, at);
    int rc = chunk_append(w, rec);
    if (rc != 0) {
        free(rec->p);
        return rc;
    }
    c[w->n_channels++] = ch;
    *id = cid;
    return 0;
}

static int cmp_idx(const void *a, const void *b)
{
    const struct idx_ent *x = a, *y = b;
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
        if (buf_reserve(&w->cbuf, bound) != 0)
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
        if (buf_reserve(&w->cbuf, bound) != 0)
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
static int chunk_flush(ax_mcap_writer *w)
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
    struct buf *s = &w->scratch;
    s->len = 0;
    size_t hdr_size = AX__MCAP_RECORD_HEADER + 8 + 8 + 8 + 4 + 4 + cnlen + 8;
    if (buf_reserve(s, hdr_size + mi_size) != 0)
        return w->err = AX_ENOMEM;
    bool has_msgs = w->chunk_msgs > 0;
    buf_u8(s, AX__OP_CHUNK);
    buf_u64(s, (uint64_t)(hdr_size - AX__MCAP_RECORD_HEADER + clen));
    buf_u64(s, has_msgs ? w->chunk_start : 0);
    buf_u64(s, has_msgs ? w->chunk_end : 0);
    buf_u64(s, w->chunk.len);
    buf_u32(s, crc);
    buf_str(s, cname, cnlen);
    buf_u64(s, clen);

    uint64_t chunk_offset = w->offset;
    uint64_t chunk_length = hdr_size + clen;
    uint64_t mi_offset = chunk_offset + chunk_length;
    for (size_t i = 0; i < w->n_touched; i++) {
        struct wchannel *c = &w->channels[w->touched[i]];
        if (c->unsorted)
            qsort(c->idx, c->n_idx, sizeof(*c->idx), cmp_idx);
        size_t at = rec_begin(s, AX__OP_MESSAGE_INDEX);
        buf_u16(s, (uint16_t)(w->touched[i] + 1));
        buf_u32(s, (uint32_t)(c->n_idx * 16));
        for (size_t k = 0; k < c->n_idx; k++) {
            buf_u64(s, c->idx[k].log_time);
            buf_u64(s, c->idx[k].offset);
        }
        rec_end(s, at);
    }

    /* The Chunk Index record, reserved before writing so that nothing can
     * fail between the write and the bookkeeping. */
    struct buf *ci = &w->sum_chunk_idx;
    size_t ci_size = AX__MCAP_RECORD_HEADER + 8 * 4 + 4 + w->n_touched * 10 + 8 + 4 + cnlen + 16;
    if (buf_reserve(ci, ci_size) != 0)
        return w->err = AX_ENOMEM;

    struct iovec iov[3] = {
        {.iov_base = s->p, .iov_len = hdr_size},
        {.iov_base = (void *)cdata, .iov_len = clen},
        {.iov_base = s->p + hdr_size, .iov_len = mi_size},
    };
    if ((rc = write_all(w, iov, 3, true)) != 0)
        return rc;
    if (w->fsync_chunks && fdatasync(w->fd) != 0)
        return fail_errno(w);

    size_t at = rec_begin(ci, AX__OP_CHUNK_INDEX);
    buf_u64(ci, has_msgs ? w->chunk_start : 0);
    buf_u64(ci, has_msgs ? w->chunk_end : 0);
    buf_u64(ci, chunk_offset);
    buf_u64(ci, chunk_length);
    buf_u32(ci, (uint32_t)(w->n_touched * 10));
    for (size_t i = 0; i < w->n_touched; i++) {
        struct wchannel *c = &w->channels[w->touched[i]];
        buf_u16(ci, (uint16_t)(w->touched[i] + 1));
        buf_u64(ci, mi_offset);
        mi_offset += AX__MCAP_RECORD_HEADER + 6 + c->n_idx * 16;
        c->n_idx = 0;
        c->unsorted = false;
    }
    buf_u64(ci, mi_size);
    buf_str(ci, cname, cnlen);
    buf_u64(ci, clen);
    buf_u64(ci, w->chunk.len);
    rec_end(ci, at);

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
    if ((uint64_t)len > MAX_MESSAGE)
        return AX_EMSGSIZE;
    size_t rec_len = AX__MCAP_RECORD_HEADER + AX__MCAP_MESSAGE_FIXED + len;
    int rc;
    /* Keep every chunk under the record limit: a chunk that this message
     * would push over it is written first. */
    if (w->chunk.len && (uint64_t)w->chunk.len + rec_len > MAX_MESSAGE &&
        (rc = chunk_flush(w)) != 0)
        return rc;

    /* Reserve everything, then commit: a failed allocation leaves no trace. */
    struct wchannel *c = &w->channels[channel_id - 1];
    if (c->n_idx == c->cap_idx) {
        size_t cap = c->cap_idx ? c->cap_idx * 2 : 64;
        struct idx_ent *idx = realloc(c->idx, cap * sizeof(*idx));
        if (!idx)
            return AX_ENOMEM;
        c->idx = idx;
        c->cap_idx = cap;
    }
    if (buf_reserve(&w->chunk, rec_len) != 0)
        return AX_ENOMEM;

    uint64_t offset = w->chunk.len;
    buf_u8(&w->chunk, AX__OP_MESSAGE);
    buf_u64(&w->chunk, AX__MCAP_MESSAGE_FIXED + (uint64_t)len);
    buf_u16(&w->chunk, channel_id);
    buf_u32(&w->chunk, sequence);
    buf_u64(&w->chunk, log_time);
    buf_u64(&w->chunk, publish_time);
    buf_mem(&w->chunk, data, len);

    if (c->n_idx == 0)
        w->touched[w->n_touched++] = (uint16_t)(channel_id - 1);
    else if (log_time < c->idx[c->n_idx - 1].log_time)
        c->unsorted = true;
    c->idx[c->n_idx++] = (struct idx_ent){.log_time = log_time, .offset = offset};
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
        return chunk_flush(w);
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
    if (nlen > UINT16_MAX || msize > MAX_MESSAGE)
        return AX_EMSGSIZE;
    struct buf *s = &w->scratch;
    s->len = 0;
    if (buf_reserve(s, AX__MCAP_RECORD_HEADER + 8 + nlen + (size_t)msize) != 0 ||
        buf_reserve(&w->sum_meta_idx, AX__MCAP_RECORD_HEADER + 20 + nlen) != 0)
        return AX_ENOMEM;
    size_t at = rec_begin(s, AX__OP_METADATA);
    buf_str(s, name, nlen);
    buf_kv(s, kv, n, msize);
    rec_end(s, at);

    uint64_t offset = w->offset;
    int rc = write_buf(w, s, true);
    if (rc != 0)
        return rc;
    struct buf *mi = &w->sum_meta_idx;
    at = rec_begin(mi, AX__OP_METADATA_INDEX);
    buf_u64(mi, offset);
    buf_u64(mi, s->len);
    buf_str(mi, name, nlen);
    rec_end(mi, at);
    w->metadata_written++;
    return 0;
}

int ax_mcap_writer_flush(ax_mcap_writer *w)
{
    if (!w)
        return AX_EINVAL;
    return chunk_flush(w);
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

/* Data End, the summary section, the Summary Offsets, the Footer, the magic. */
static int write_tail(ax_mcap_writer *w)
{
    int rc = chunk_flush(w);
    if (rc != 0)
        return rc;

    uint8_t de[AX__MCAP_RECORD_HEADER + 4];
    de[0] = AX__OP_DATA_END;
    ax__put_u64(de + 1, 4);
    ax__put_u32(de + AX__MCAP_RECORD_HEADER, w->data_crc);
    struct iovec iov = {.iov_base = de, .iov_len = sizeof(de)};
    if ((rc = write_all(w, &iov, 1, false)) != 0)
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
    struct buf *s = &w->scratch;
    s->len = 0;
    if (buf_reserve(s, size) != 0)
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
            buf_mem(s, w->schemas[i].rec.p, w->schemas[i].rec.len);
        GROUP_END(AX__OP_SCHEMA);
    }
    {
        GROUP_BEGIN(AX__OP_CHANNEL);
        for (size_t i = 0; i < w->n_channels; i++)
            buf_mem(s, w->channels[i].rec.p, w->channels[i].rec.len);
        GROUP_END(AX__OP_CHANNEL);
    }
    {
        GROUP_BEGIN(AX__OP_STATISTICS);
        size_t at = rec_begin(s, AX__OP_STATISTICS);
        bool any = w->messages_written > 0;
        buf_u64(s, w->messages_written);
        buf_u16(s, (uint16_t)w->n_schemas);
        buf_u32(s, (uint32_t)w->n_channels);
        buf_u32(s, 0); /* attachments */
        buf_u32(s, (uint32_t)w->metadata_written);
        buf_u32(s, (uint32_t)w->chunks_written);
        buf_u64(s, any ? w->msg_start : 0);
        buf_u64(s, any ? w->msg_end : 0);
        buf_u32(s, (uint32_t)(w->n_channels * 10));
        for (size_t i = 0; i < w->n_channels; i++) {
            buf_u16(s, (uint16_t)(i + 1));
            buf_u64(s, w->channels[i].count);
        }
        rec_end(s, at);
        GROUP_END(AX__OP_STATISTICS);
    }
    {
        GROUP_BEGIN(AX__OP_CHUNK_INDEX);
        buf_mem(s, w->sum_chunk_idx.p, w->sum_chunk_idx.len);
        GROUP_END(AX__OP_CHUNK_INDEX);
    }
    {
        GROUP_BEGIN(AX__OP_METADATA_INDEX);
        buf_mem(s, w->sum_meta_idx.p, w->sum_meta_idx.len);
        GROUP_END(AX__OP_METADATA_INDEX);
    }
#undef GROUP_BEGIN
#undef GROUP_END

    uint64_t summary_offset_start = summary_start + s->len;
    for (int i = 0; i < n_groups; i++) {
        size_t at = rec_begin(s, AX__OP_SUMMARY_OFFSET);
        buf_u8(s, groups[i].op);
        buf_u64(s, groups[i].start);
        buf_u64(s, groups[i].len);
        rec_end(s, at);
    }
    buf_u8(s, AX__OP_FOOTER);
    buf_u64(s, AX__MCAP_FOOTER_CONTENT);
    buf_u64(s, summary_start);
    buf_u64(s, summary_offset_start);
    /* The summary CRC covers the summary and the footer up to this field. */
    buf_u32(s, ax_mcap_crc32(0, s->p, s->len));
    buf_mem(s, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN);
    if ((rc = write_buf(w, s, false)) != 0)
        return rc;
    if (w->fsync_chunks && fsync(w->fd) != 0)
        return fail_errno(w);
    return 0;
}

int ax_mcap_writer_close(ax_mcap_writer *w, struct ax_mcap_writer_stats *stats)
{
    if (!w)
        return 0;
    int rc = w->err ? w->err : write_tail(w);
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
