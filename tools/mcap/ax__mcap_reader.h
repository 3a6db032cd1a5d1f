/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the reader's files (tools/mcap): the reader's state and what
 * its parts share.
 *
 *   mcap_records.c        one record at a time: parse, check, decode a chunk
 *   mcap_reader_tables.c  what a reader keeps: schemas, channels, metadata,
 *                         chunks and blocks, and the lookups
 *   mcap_recover.c        the scan of a file without a usable summary
 *   mcap_reader.c         open: header, footer and summary, or the scan
 *   mcap_iter.c           message iteration over the blocks
 *   mcap_verify.c         every CRC and the structure, byte by byte (it
 *                         shares the record parsers, not the tables)
 *
 * Each file calls only files listed above it, so no two of them call each
 * other in a circle (the test arch_cycles_mcap checks it).
 */
#ifndef AX__MCAP_READER_H
#define AX__MCAP_READER_H

#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#endif

#include "ax__mcap.h"

/* A unit messages are read from: a Chunk record, or a run of Message records
 * outside chunks. */
struct ax__mcap_block {
    uint64_t offset; /* of the Chunk record, or of the run's first record */
    uint64_t length; /* of the record, or of the run */
    uint64_t start;  /* earliest and latest log_time in it */
    uint64_t end;
    uint16_t *chans; /* channels with messages in it, if known */
    size_t n_chans;
    bool chans_known;
    bool loose;         /* a run of Message records, not a chunk */
    bool times_checked; /* its times come from the index: check them */
};

struct ax_mcap_reader {
    int fd;
    uint64_t size;
    uint64_t header_end;
    struct ax_mcap_reader_options opt;
    struct ax_mcap_info info;
    char *profile;
    char *library;

    struct ax_mcap_schema *schemas; /* sorted by id */
    size_t n_schemas, cap_schemas;
    struct ax_mcap_channel *channels; /* sorted by id */
    size_t n_channels, cap_channels;
    struct ax_mcap_metadata *metadata;
    size_t n_metadata, cap_metadata;
    struct ax_mcap_chunk *chunks;
    size_t n_chunks, cap_chunks;
    struct ax__mcap_block *blocks;
    size_t n_blocks, cap_blocks;
    char **strs; /* interned strings the chunks point to */
    size_t n_strs;

    uint8_t *scratch; /* reusable record buffer for the scan */
    size_t scratch_cap;
    char reason[200];
};

/* ---- mcap_records.c ---- */

/* A NUL-terminated copy of @len bytes, or NULL. */
char *ax__mcap_dup_str(const uint8_t *s, size_t len);

/* The record type's name in the MCAP specification ("Chunk"), for
 * messages; "unknown" past the specified opcodes. */
const char *ax__mcap_op_name(uint8_t op);

/* What went wrong with a record (an AX_E* code), in words, for
 * recovery_reason. */
const char *ax__mcap_problem(int rc);

/* Schema, Channel and Metadata record content → an owning struct (free it
 * with the matching _fini). Return 0, AX_EPROTO or AX_ENOMEM. */
int ax__mcap_parse_schema(const uint8_t *p, size_t len, struct ax_mcap_schema *s);
int ax__mcap_parse_channel(const uint8_t *p, size_t len, struct ax_mcap_channel *ch);
int ax__mcap_parse_metadata(const uint8_t *p, size_t len, struct ax_mcap_metadata *m);
void ax__mcap_schema_fini(struct ax_mcap_schema *s);
void ax__mcap_channel_fini(struct ax_mcap_channel *c);
void ax__mcap_metadata_fini(struct ax_mcap_metadata *m);

/* A Chunk record's content, pointing into the record. */
struct ax__mcap_chunk_hdr {
    uint64_t start;
    uint64_t end;
    uint64_t usize;
    uint32_t crc;
    const uint8_t *compression;
    uint32_t compression_len;
    const uint8_t *records;
    uint64_t csize;
};

int ax__mcap_parse_chunk_hdr(const uint8_t *p, size_t len, struct ax__mcap_chunk_hdr *h);

/* A decompression context kept across chunks (zstd's costs an allocation
 * and a clear of ~100 KiB when made per call). Zero-initialise it. */
struct ax__mcap_dctx {
#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_DCtx *zstd;
#else
    int unused;
#endif
};

void ax__mcap_dctx_fini(struct ax__mcap_dctx *d);

/*
 * Decompress and CRC-check a chunk's records into *@bufp (of *@capp bytes,
 * grown to h->usize after checking it against @max_size; reused from chunk
 * to chunk to spare an allocation and its page faults each time). A chunk
 * that decompresses to any other size is malformed. The buffer stays the
 * caller's, also on failure. Returns 0, AX_EMSGSIZE, AX_ENOMEM, AX_EPROTO,
 * AX_ENOTSUP or AX_ECRC.
 */
int ax__mcap_chunk_decode(uint64_t max_size, struct ax__mcap_dctx *d,
                          const struct ax__mcap_chunk_hdr *h, uint8_t **bufp, size_t *capp);

/* The next record in @c: its opcode and content. Returns false at the end;
 * sets c->bad when a record is cut off. */
static inline bool ax__mcap_next_record(struct ax__cur *c, uint8_t *op, const uint8_t **p,
                                        uint64_t *len)
{
    if (ax__cur_left(c) == 0)
        return false;
    *op = ax__cur_u8(c);
    *len = ax__cur_u64(c);
    *p = ax__cur_bytes(c, *len);
    return !c->bad;
}

/* ---- mcap_reader_tables.c ---- */

/* pread exactly @len bytes at @off; AX_EPROTO if the file is shorter. */
int ax__mcap_read_at(ax_mcap_reader *r, void *buf, size_t len, uint64_t off);

/* The string for a chunk's compression, owned by @r (static for the known
 * ones); NULL when out of memory. */
const char *ax__mcap_intern_compression(ax_mcap_reader *r, const uint8_t *s, uint32_t len);

struct ax_mcap_schema *ax__mcap_find_schema(const ax_mcap_reader *r, uint16_t id);
struct ax_mcap_channel *ax__mcap_find_channel(const ax_mcap_reader *r, uint16_t id);

/* Keep a schema, channel or metadata record, taking ownership in every case
 * (it is freed on failure). A schema with id 0 is ignored; a repeat of a
 * known schema or channel id must be identical (AX_EPROTO otherwise) and is
 * dropped; a channel's schema must be known (or 0). */
int ax__mcap_add_schema(ax_mcap_reader *r, struct ax_mcap_schema *s);
int ax__mcap_add_channel(ax_mcap_reader *r, struct ax_mcap_channel *ch);
int ax__mcap_add_metadata(ax_mcap_reader *r, struct ax_mcap_metadata *m);
/* Keep a copy of @b (which then owns b->chans) or of @c; 0 or AX_ENOMEM. */
int ax__mcap_add_block(ax_mcap_reader *r, const struct ax__mcap_block *b);
int ax__mcap_add_chunk(ax_mcap_reader *r, const struct ax_mcap_chunk *c);

/* Forget everything loaded from the summary or the scan (not the header). */
void ax__mcap_content_clear(ax_mcap_reader *r);

/* ---- mcap_recover.c ---- */

/*
 * Walk the data section from the Header on, record by record, keeping
 * what is sound (see mcap_recover.c). @damaged: the summary was missing or
 * damaged, so the file counts as recovered. Writes where and why the scan
 * stopped to @why ("" when it ended cleanly). Returns 0 (r->info says how
 * it ended) or AX_ENOMEM / AX_EIO, which are not about the file's content.
 */
int ax__mcap_scan(ax_mcap_reader *r, bool damaged, char *why, size_t why_len);

#endif /* AX__MCAP_READER_H */
