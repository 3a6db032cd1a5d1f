/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tools/mcap/mcap.h: reading and writing MCAP files, the recording format of
 * `axon record`, `axon play` and `axon bag info`.
 *
 * MCAP (https://mcap.dev/spec) is the container ROS 2 and Foxglove use. This
 * library writes what docs/mcap.md describes: profile "" (or the caller's),
 * one Schema per protobuf type (encoding "protobuf", data a binary
 * FileDescriptorSet), one Channel per topic (message encoding "protobuf"),
 * messages in compressed, CRC-checked Chunks each followed by its Message
 * Index records, Metadata records for the recorder's gaps and drops, and a
 * summary section (Schemas, Channels, Statistics, Chunk Indexes, Metadata
 * Indexes, Summary Offsets) before the Footer.
 *
 * It is plain file I/O: no node, no loop, no threads. Neither object is
 * thread-safe; use each from one thread at a time. Different objects may be
 * used on different threads at once.
 *
 * ## Errors
 *
 * Every fallible call returns 0 or a negative AX_E* code (axon/common.h).
 * Errors that come from the file system are mapped explicitly: ENOENT and
 * ENOTDIR give AX_ENOENT, EACCES, EPERM and EROFS give AX_EACCES, ENOMEM
 * gives AX_ENOMEM, EMFILE/ENFILE give AX_EMFILE/AX_ENFILE, and every other
 * failure of open/write/read/fsync/close (ENOSPC, EDQUOT, EFBIG, EIO, ...)
 * gives AX_EIO. The writer keeps the errno of its first failure in
 * ax_mcap_writer_stats.sys_errno so a caller can say "No space left on
 * device" rather than only "input/output error".
 *
 * ## Damaged files
 *
 * A file cut off while it was written (kill -9, power loss, full disk) has
 * no summary and no footer. The reader then scans the data section from the
 * start and keeps every record up to the first one that is truncated or
 * corrupt; a chunk counts only if it is complete, decompresses to its
 * declared size and matches its CRC. ax_mcap_info.recovered says that this
 * happened and why. Every length read from a file is checked against the
 * file's size and against the limits in ax_mcap_reader_options before
 * anything is allocated: a hostile file gives AX_EPROTO (or AX_ECRC,
 * AX_EMSGSIZE), never a crash or an unbounded allocation.
 */
#ifndef AXON_TOOLS_MCAP_H
#define AXON_TOOLS_MCAP_H

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_mcap_writer ax_mcap_writer;
typedef struct ax_mcap_reader ax_mcap_reader;
typedef struct ax_mcap_iter ax_mcap_iter;

/* The largest record this library reads by default: 1 GiB. */
#define AX_MCAP_MAX_RECORD_SIZE  (UINT64_C(1) << 30)
/* The largest message (and uncompressed chunk) the writer writes: 512 MiB,
 * so a chunk stays under the record limit even when compression grows it. */
#define AX_MCAP_MAX_MESSAGE_SIZE (AX_MCAP_MAX_RECORD_SIZE / 2)

/* Chunk compression. The values are stable (they may be stored in config). */
enum ax_mcap_compression {
    AX_MCAP_COMPRESSION_NONE = 0,
    AX_MCAP_COMPRESSION_LZ4 = 1, /* LZ4 frame format, as MCAP specifies */
    AX_MCAP_COMPRESSION_ZSTD = 2
};

/* A key/value pair of a Channel's or a Metadata record's map. Both are
 * NUL-terminated UTF-8 strings. */
struct ax_mcap_kv {
    const char *key;
    const char *value;
};

/**
 * ax_mcap_compression_supported() - whether this build can write and read
 * chunks compressed with @c (NONE always is). Any thread.
 */
bool ax_mcap_compression_supported(enum ax_mcap_compression c);

/**
 * ax_mcap_compression_name() - MCAP's name for @c: "", "lz4" or "zstd";
 * NULL for a value outside the enum. Any thread.
 */
const char *ax_mcap_compression_name(enum ax_mcap_compression c);

/**
 * ax_mcap_compression_parse() - the compression named @name ("none" or ""
 * for none, "lz4", "zstd"), for command lines.
 *
 * Returns 0 and sets @out; AX_EINVAL for an unknown name or NULL arguments;
 * AX_ENOTSUP when the name is known but this build lacks it. Any thread.
 */
int ax_mcap_compression_parse(const char *name, enum ax_mcap_compression *out);

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

/* Options for ax_mcap_writer_open(); set with ax_mcap_writer_options_init(). */
struct ax_mcap_writer_options {
    /* Chunk compression (default: zstd if this build has it, else lz4, else
     * none). */
    enum ax_mcap_compression compression;
    /* Compression level; 0 (default) uses the library's default level. */
    int compression_level;
    /* A chunk is closed and written once its uncompressed records reach this
     * many bytes (default 1 MiB). A message larger than this gets a chunk of
     * its own, as large as the message. Must be at least 1. */
    size_t chunk_size;
    /* fdatasync() after each chunk and fsync() at close (default false): a
     * power cut then loses at most the chunk being built. */
    bool fsync_chunks;
    /* The Header record's profile (default ""). Copied. */
    const char *profile;
    /* The Header record's library (default "axon <version>"). Copied. */
    const char *library;
};

/* What a writer did so far (ax_mcap_writer_stats()). */
struct ax_mcap_writer_stats {
    uint64_t bytes_written;       /* bytes written to the file */
    uint64_t messages_accepted;   /* write_message calls that returned 0 */
    uint64_t messages_written;    /* of those, messages in chunks in the file */
    uint64_t chunks_written;      /* complete chunks in the file */
    uint64_t metadata_written;    /* Metadata records in the file */
    uint64_t chunk_bytes_pending; /* uncompressed bytes of the open chunk */
    int error;                    /* the writer's sticky error, 0 if none */
    int sys_errno;                /* errno of the failed system call, 0 if none */
};

/** ax_mcap_writer_options_init() - fill @opt with the defaults. */
void ax_mcap_writer_options_init(struct ax_mcap_writer_options *opt);

/**
 * ax_mcap_writer_open() - create (or truncate) @path and write the magic and
 * the Header record.
 * @out: receives the writer.
 * @path: the file; created with mode 0644 (less the umask).
 * @opt: options, or NULL for the defaults.
 *
 * Returns 0; AX_EINVAL (NULL @out or @path, chunk_size 0, bad compression);
 * AX_ENOTSUP (compression not in this build); AX_ENOMEM; AX_ENOENT,
 * AX_EACCES, AX_EMFILE or AX_ENFILE (cannot create the file); AX_EIO (any
 * other open or write failure, e.g. /dev/full; nothing is left open).
 */
int ax_mcap_writer_open(ax_mcap_writer **out, const char *path,
                        const struct ax_mcap_writer_options *opt);

/**
 * ax_mcap_writer_add_schema() - register a schema and get its id (1, 2, ...).
 * @name: the fully qualified message type, e.g. "axon.perception.Obstacles".
 * @encoding: the schema encoding; NULL means "protobuf".
 * @data: the schema; for "protobuf" a binary FileDescriptorSet that holds
 *        @name and every file it imports. Copied; borrowed for the call.
 * @len: bytes at @data.
 * @id: receives the schema id.
 *
 * A schema equal to one registered before (same name, encoding and data)
 * gets that one's id. The Schema record goes into the open chunk at once, so
 * a truncated file still describes its messages, and into the summary.
 *
 * Returns 0; AX_EINVAL (NULL arguments, @data NULL with @len > 0);
 * AX_EMSGSIZE (@len over the record limit); AX_EOVERFLOW (65535 schemas
 * already); AX_ENOMEM; or the writer's sticky error (AX_EIO).
 */
int ax_mcap_writer_add_schema(ax_mcap_writer *w, const char *name, const char *encoding,
                              const void *data, size_t len, uint16_t *id);

/**
 * ax_mcap_writer_add_channel() - register a channel (a topic with one type)
 * and get its id (1, 2, ...).
 * @schema_id: an id from ax_mcap_writer_add_schema(), or 0 for none.
 * @topic: the topic, e.g. "/perception/obstacles". Copied.
 * @message_encoding: NULL means "protobuf". Copied.
 * @metadata: @n_metadata key/value pairs stored with the channel (may be
 *            NULL when @n_metadata is 0). Copied.
 * @id: receives the channel id.
 *
 * Every call makes a new channel. The Channel record goes into the open
 * chunk at once and into the summary.
 *
 * Returns 0; AX_EINVAL (NULL arguments); AX_ENOTFOUND (no such schema);
 * AX_EOVERFLOW (65535 channels already); AX_EMSGSIZE (record over the
 * limit); AX_ENOMEM; or the writer's sticky error (AX_EIO).
 */
int ax_mcap_writer_add_channel(ax_mcap_writer *w, uint16_t schema_id, const char *topic,
                               const char *message_encoding, const struct ax_mcap_kv *metadata,
                               size_t n_metadata, uint16_t *id);

/**
 * ax_mcap_writer_write_message() - append one message to the open chunk.
 * @channel_id: an id from ax_mcap_writer_add_channel().
 * @sequence: the publisher's sequence number (0 if none).
 * @log_time: when the recorder received it, ns (the time `play` replays by).
 * @publish_time: when it was published, ns (@log_time if unknown).
 * @data: the serialized message; borrowed for the call (copied).
 * @len: bytes at @data, at most AX_MCAP_MAX_MESSAGE_SIZE.
 *
 * When the chunk reaches chunk_size it is compressed and written, with its
 * Message Index records, before this call returns. Messages need not come in
 * log-time order; readers sort them.
 *
 * Returns 0; AX_EINVAL (NULL @data with @len > 0); AX_ENOTFOUND (no such
 * channel); AX_EMSGSIZE (@len too large); AX_ENOMEM; AX_EIO when writing the
 * chunk failed. A write failure is sticky: the chunk that failed and every
 * later call are lost, each later call returns the same error, and the
 * messages of earlier chunks stay readable by recovery. So a message is
 * safely in the file only once stats.messages_written counts it.
 */
int ax_mcap_writer_write_message(ax_mcap_writer *w, uint16_t channel_id, uint32_t sequence,
                                 uint64_t log_time, uint64_t publish_time, const void *data,
                                 size_t len);

/**
 * ax_mcap_writer_write_metadata() - write a Metadata record (a name and a
 * map of strings) to the data section, outside chunks, at once.
 * @name: e.g. "axon.gap" (see docs/mcap.md for the names axon uses).
 * @kv: @n key/value pairs (may be NULL when @n is 0). Borrowed for the call.
 *
 * The open chunk is not flushed, so in the file the record may come before
 * messages received earlier; its own keys carry its time.
 *
 * Returns 0; AX_EINVAL (NULL arguments); AX_EMSGSIZE (over the record
 * limit); AX_ENOMEM; AX_EIO (write failed; sticky as above).
 */
int ax_mcap_writer_write_metadata(ax_mcap_writer *w, const char *name, const struct ax_mcap_kv *kv,
                                  size_t n);

/**
 * ax_mcap_writer_flush() - close the open chunk now and write it (with
 * fdatasync when fsync_chunks is set), even if it is below chunk_size.
 * A recorder may call it periodically to bound what a crash can lose.
 *
 * Returns 0 (also when no chunk is open); AX_ENOMEM; AX_EIO (sticky).
 */
int ax_mcap_writer_flush(ax_mcap_writer *w);

/**
 * ax_mcap_writer_stats() - fill @out with what @w did so far. Never fails.
 */
void ax_mcap_writer_stats(const ax_mcap_writer *w, struct ax_mcap_writer_stats *out);

/**
 * ax_mcap_writer_close() - finish the file and free the writer.
 *
 * Writes the open chunk, the Data End record, the summary section (Schemas,
 * Channels, Statistics, Chunk Indexes, Metadata Indexes, Summary Offsets),
 * the Footer and the closing magic; fsyncs when fsync_chunks is set; closes
 * the file. @w is freed in every case (NULL is a no-op returning 0).
 * @stats: if not NULL, receives the final statistics before @w is freed.
 *
 * Returns 0; the sticky error of an earlier failed call (then nothing more
 * is written: the file is left as a truncated recording, which the reader
 * recovers up to its last complete chunk); AX_ENOMEM; AX_EIO (writing,
 * fsync or close failed).
 */
int ax_mcap_writer_close(ax_mcap_writer *w, struct ax_mcap_writer_stats *stats);

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

/* Options for ax_mcap_reader_open(); set with ax_mcap_reader_options_init(). */
struct ax_mcap_reader_options {
    /* Largest record accepted, compressed chunk included (default
     * AX_MCAP_MAX_RECORD_SIZE). The summary section is bounded by it too. */
    uint64_t max_record_size;
    /* Largest declared uncompressed size of a chunk (default
     * AX_MCAP_MAX_RECORD_SIZE). This bounds what one chunk can allocate. */
    uint64_t max_chunk_size;
};

struct ax_mcap_schema {
    uint16_t id;
    const char *name;
    const char *encoding;
    const uint8_t *data;
    size_t data_len;
};

struct ax_mcap_channel {
    uint16_t id;
    uint16_t schema_id; /* 0: no schema */
    const char *topic;
    const char *message_encoding;
    const struct ax_mcap_kv *metadata;
    size_t n_metadata;
    uint64_t message_count; /* messages on this channel in the file */
};

struct ax_mcap_metadata {
    const char *name;
    const struct ax_mcap_kv *kv;
    size_t n_kv;
};

/* One chunk of the file. */
struct ax_mcap_chunk {
    uint64_t offset;             /* of the Chunk record in the file */
    uint64_t length;             /* of the record, opcode and length included */
    uint64_t message_start_time; /* earliest log_time in it (0 if none) */
    uint64_t message_end_time;   /* latest log_time in it (0 if none) */
    uint64_t compressed_size;    /* of its records field */
    uint64_t uncompressed_size;
    const char *compression; /* "", "lz4", "zstd" (or what the file says) */
};

/* Whether the reader could use the summary section, and if not why
 * (ax_mcap_info.summary). */
enum ax_mcap_summary_state {
    AX_MCAP_SUMMARY_USED = 0,     /* everything came from it */
    AX_MCAP_SUMMARY_ABSENT = 1,   /* a closed file without a (usable) index, as
                                     other writers may leave: scanned, not damage */
    AX_MCAP_SUMMARY_UNCLOSED = 2, /* no footer: the file was not closed (cut off) */
    AX_MCAP_SUMMARY_CRC = 3,      /* the footer is intact, the summary CRC is wrong */
    AX_MCAP_SUMMARY_DAMAGED = 4   /* the footer is intact, the summary is malformed or
                                     its offsets are out of range */
};

/* What a file holds (ax_mcap_reader_info()). Every pointer is owned by the
 * reader and valid until ax_mcap_reader_free(). Arrays are sorted by id
 * (schemas, channels) or by file offset (chunks, metadata). */
struct ax_mcap_info {
    const char *profile;
    const char *library;
    uint64_t file_size;
    uint64_t message_count;
    uint64_t message_start_time; /* earliest log_time (0 if no messages) */
    uint64_t message_end_time;   /* latest log_time (0 if no messages) */
    const struct ax_mcap_schema *schemas;
    size_t n_schemas;
    const struct ax_mcap_channel *channels;
    size_t n_channels;
    const struct ax_mcap_chunk *chunks;
    size_t n_chunks;
    /* The chunks' compression: "", "lz4", "zstd", "mixed" when they differ;
     * "" when there are no chunks. */
    const char *compression;
    uint64_t compressed_bytes;   /* sum of the chunks' compressed sizes */
    uint64_t uncompressed_bytes; /* sum of their uncompressed sizes */
    const struct ax_mcap_metadata *metadata;
    size_t n_metadata;
    /* true: everything above came from the summary section (fast path).
     * false: from a linear scan of the data section. */
    bool from_summary;
    /* Why the summary was not used (USED when from_summary). UNCLOSED, CRC
     * and DAMAGED make the file recovered. */
    enum ax_mcap_summary_state summary;
    /* true: the file is damaged (no footer, bad summary, or a truncated or
     * corrupt record); the info and the messages are what the linear scan
     * recovered: every record before @valid_end. */
    bool recovered;
    /* Why the scan was needed, or why it stopped ("" when neither). */
    const char *recovery_reason;
    /* End of the last good record the scan kept (file_size when whole). */
    uint64_t valid_end;
};

/* A message from ax_mcap_iter_next(). @data is valid until the next call on
 * the iterator or its free. */
struct ax_mcap_message {
    const struct ax_mcap_channel *channel;
    uint16_t channel_id;
    uint32_t sequence;
    uint64_t log_time;
    uint64_t publish_time;
    const uint8_t *data;
    size_t len;
};

/* Which messages an iterator yields; set with ax_mcap_iter_options_init(). */
struct ax_mcap_iter_options {
    /* Only messages on these @n_topics topics; all when @n_topics is 0.
     * Borrowed for the ax_mcap_iter_new() call. */
    const char *const *topics;
    size_t n_topics;
    /* Only messages with start_time <= log_time <= end_time (defaults 0 and
     * UINT64_MAX). */
    uint64_t start_time;
    uint64_t end_time;
};

/** ax_mcap_reader_options_init() - fill @opt with the defaults. */
void ax_mcap_reader_options_init(struct ax_mcap_reader_options *opt);

/**
 * ax_mcap_reader_open() - open @path and load what it holds.
 * @out: receives the reader.
 * @opt: limits, or NULL for the defaults.
 *
 * Reads the header, then the footer and the summary; when those are missing
 * or damaged, or the summary has no Statistics record, scans the data
 * section instead (see "Damaged files" above and ax_mcap_info). The scan
 * reads, decompresses and CRC-checks every chunk, so it costs a pass over
 * the file.
 *
 * Returns 0; AX_EINVAL (NULL arguments, zero limits); AX_ENOENT, AX_EACCES,
 * AX_EMFILE, AX_ENFILE (cannot open); AX_EPROTO (not an MCAP file: bad magic, or no complete
 * Header record); AX_ENOMEM; AX_EIO (read error).
 */
int ax_mcap_reader_open(ax_mcap_reader **out, const char *path,
                        const struct ax_mcap_reader_options *opt);

/** ax_mcap_reader_free() - close the file and free the reader (NULL is a
 * no-op). Iterators of the reader must be freed first. */
void ax_mcap_reader_free(ax_mcap_reader *r);

/** ax_mcap_reader_info() - what the file holds; never NULL, owned by @r. */
const struct ax_mcap_info *ax_mcap_reader_info(const ax_mcap_reader *r);

/**
 * ax_mcap_reader_schema() / ax_mcap_reader_channel() - look up by id.
 *
 * Returns 0 and sets @out (owned by @r); AX_ENOTFOUND; AX_EINVAL (NULL).
 */
int ax_mcap_reader_schema(const ax_mcap_reader *r, uint16_t id, const struct ax_mcap_schema **out);
int ax_mcap_reader_channel(const ax_mcap_reader *r, uint16_t id,
                           const struct ax_mcap_channel **out);

/** ax_mcap_iter_options_init() - all topics, all times. */
void ax_mcap_iter_options_init(struct ax_mcap_iter_options *opt);

/**
 * ax_mcap_iter_new() - iterate over the messages of @r in log-time order
 * (ties in file order), filtered by @opt.
 * @opt: filters, or NULL for every message.
 * @out: receives the iterator.
 *
 * Chunks are read lazily; only chunks whose time range (and, when the file
 * says, whose channels) match are read. Several iterators of one reader may
 * exist at once.
 *
 * Returns 0; AX_EINVAL (NULL arguments); AX_ENOMEM. A topic that is not in
 * the file is not an error (it matches nothing).
 */
int ax_mcap_iter_new(ax_mcap_reader *r, const struct ax_mcap_iter_options *opt, ax_mcap_iter **out);

/**
 * ax_mcap_iter_next() - the next message.
 * @msg: filled when the call returns 1.
 *
 * Returns 1 (a message), 0 (no more messages) or a negative code: AX_EPROTO
 * (a malformed chunk, a message on an unknown channel or outside its
 * chunk's declared time range), AX_ECRC (chunk CRC mismatch), AX_EMSGSIZE
 * (a chunk over the limits), AX_ENOTSUP (compression not in this build),
 * AX_ENOMEM, AX_EIO. After an error the iterator stays at the failed chunk:
 * every later call returns the same error.
 */
int ax_mcap_iter_next(ax_mcap_iter *it, struct ax_mcap_message *msg);

/** ax_mcap_iter_free() - free an iterator (NULL is a no-op). */
void ax_mcap_iter_free(ax_mcap_iter *it);

/* ------------------------------------------------------------------------ */
/* Verification                                                             */
/* ------------------------------------------------------------------------ */

/* One problem ax_mcap_verify() found; valid during the callback only. */
struct ax_mcap_problem {
    uint64_t offset;    /* of the record concerned (or where one was due) */
    const char *record; /* its type as the spec names it: "Chunk", "DataEnd" */
    const char *what;   /* what is wrong, in words, with the values compared */
};

typedef void ax_mcap_problem_fn(const struct ax_mcap_problem *p, void *user);

/* What ax_mcap_verify() checked. */
struct ax_mcap_verify_report {
    uint64_t file_size;
    uint64_t records;         /* records of the data section read */
    uint64_t chunks;          /* Chunk records */
    uint64_t chunk_crcs;      /* of those, with a CRC (checked) */
    uint64_t messages;        /* Message records, in chunks or not */
    uint64_t metadata;        /* Metadata records */
    uint64_t message_indexes; /* Message Index records */
    bool data_end;            /* a Data End record closes the data section */
    bool data_crc;            /* ... with a data section CRC (checked) */
    bool footer;              /* a footer and the closing magic */
    bool summary;             /* the footer points to a summary section */
    bool summary_crc;         /* the footer has the summary's CRC (checked) */
    uint64_t summary_records; /* records of the summary read */
    uint64_t problems;        /* problems reported */
};

/**
 * ax_mcap_verify() - check every CRC of the MCAP file @path and its
 * structure, reading every byte once.
 * @opt: limits, or NULL for the defaults (as ax_mcap_reader_open()).
 * @fn: called with each problem, in file order (may be NULL).
 * @out: what was checked, and how many problems.
 *
 * Checks each Chunk's CRC (after decompressing it) and that its records
 * lie within it; the data section CRC of the Data End record; the summary
 * CRC of the Footer; that every record's length lies within the file (or
 * its chunk, or the summary section); that Schema, Channel, Metadata and
 * Message Index records parse; that the Footer's offsets, the Chunk,
 * Message Index and Metadata Indexes and the Summary Offsets point at
 * records of their type; that the Statistics counts match the file. A CRC
 * of 0 means "not computed" (MCAP): it is counted as not checked, not as a
 * problem. A file without a Data End record or footer (not closed) is a
 * problem.
 *
 * Returns 0 when the file could be read (@out->problems says whether it is
 * sound); AX_EINVAL (NULL @path or @out, zero limits); AX_ENOENT,
 * AX_EACCES, AX_EMFILE, AX_ENFILE (cannot open); AX_ENOMEM; AX_EIO.
 */
int ax_mcap_verify(const char *path, const struct ax_mcap_reader_options *opt,
                   ax_mcap_problem_fn *fn, void *user, struct ax_mcap_verify_report *out);

/* ------------------------------------------------------------------------ */

/**
 * ax_mcap_crc32() - CRC-32/ISO-HDLC (zlib's crc32) of @len bytes, continuing
 * from @crc (0 to start). ax_mcap_crc32(0, "123456789", 9) == 0xCBF43926.
 * Any thread.
 */
uint32_t ax_mcap_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* AXON_TOOLS_MCAP_H */
