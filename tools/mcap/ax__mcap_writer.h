/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the MCAP writer's files (tools/mcap): the writer's state and
 * what its parts share.
 *
 *   mcap_writer_io.c       every byte to the file: short writes, the data
 *                          section CRC, the sticky error
 *   mcap_writer_chunk.c    the open chunk: messages in; compressed chunks,
 *                          their Message Index and Chunk Index records out
 *   mcap_writer_summary.c  at close: Data End, the summary, the footer
 *   mcap_writer.c          open, schemas, channels, metadata, stats, close
 *
 * Each file calls only files listed above it, so no two of them call each
 * other in a circle (the test arch_cycles_mcap checks it).
 */
#ifndef AX__MCAP_WRITER_H
#define AX__MCAP_WRITER_H

#include <sys/uio.h>

#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#endif

#include "ax__mcap_buf.h"

/* The largest uncompressed chunk, and so the largest message: half the
 * record limit, so that a chunk whose data does not compress (zstd and lz4
 * then add a little) still fits a record a reader accepts by default. */
#define AX__MCAP_MAX_MESSAGE AX_MCAP_MAX_MESSAGE_SIZE

/* One Message Index entry. */
struct ax__mcap_idx_ent {
    uint64_t log_time;
    uint64_t offset; /* in the uncompressed chunk */
};

struct ax__mcap_wschema {
    struct ax__mcap_buf rec; /* the whole Schema record, for the summary */
};

struct ax__mcap_wchannel {
    struct ax__mcap_buf rec; /* the whole Channel record, for the summary */
    uint64_t count;          /* messages accepted */
    /* This channel's Message Index for the open chunk. */
    struct ax__mcap_idx_ent *idx;
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

    struct ax__mcap_wschema *schemas;
    size_t n_schemas;
    struct ax__mcap_wchannel *channels;
    size_t n_channels;

    /* The open chunk. */
    struct ax__mcap_buf chunk;
    uint64_t chunk_start; /* earliest/latest log_time in it */
    uint64_t chunk_end;
    uint64_t chunk_msgs;
    uint16_t *touched; /* channel indexes with messages in it, first use order */
    size_t n_touched;

    struct ax__mcap_buf cbuf;    /* compressed chunk */
    struct ax__mcap_buf scratch; /* chunk header + message index records */

    /* The summary, built as we go. */
    struct ax__mcap_buf sum_chunk_idx;
    struct ax__mcap_buf sum_meta_idx;

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

/* ---- mcap_writer_io.c ---- */

/* Marks the writer failed (AX_EIO, sticky) after a system call failed
 * with errno; returns AX_EIO. */
int ax__mcap_fail_errno(ax_mcap_writer *w);

/*
 * Write every byte of @iov (short writes and EINTR are retried; @iov is
 * consumed), account for them and fold them into the data section CRC
 * while @data_section. 0, or AX_EIO (sticky).
 */
int ax__mcap_write_all(ax_mcap_writer *w, struct iovec *iov, int n, bool data_section);
int ax__mcap_write_buf(ax_mcap_writer *w, const struct ax__mcap_buf *b, bool data_section);

/* ---- mcap_writer_chunk.c ---- */

/* Append @rec (a whole record) to the open chunk, writing the chunk first
 * if @rec would take it over the record limit. */
int ax__mcap_chunk_append(ax_mcap_writer *w, const struct ax__mcap_buf *rec);

/* Write the open chunk (if any) with its Message Index records and add its
 * Chunk Index record to the summary. Any failure is sticky. */
int ax__mcap_chunk_flush(ax_mcap_writer *w);

/* ---- mcap_writer_summary.c ---- */

/* The open chunk, Data End, the summary section, the Summary Offsets, the
 * Footer and the closing magic. */
int ax__mcap_write_tail(ax_mcap_writer *w);

#endif /* AX__MCAP_WRITER_H */
