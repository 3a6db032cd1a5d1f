/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ax_mcap_verify(): every CRC an MCAP file carries, and its structure.
 *
 * Design: the reader trusts what it does not need. Read from its summary,
 * a file is only checked where the summary points (and the summary CRC),
 * so one flipped byte in a Metadata record's value or a Message Index goes
 * unnoticed, though the Data End record carries the CRC that would catch
 * it. The verifier reads every byte once, front to back, with its own
 * cursor (it shares the record parsers and the chunk decoder with the
 * reader, not the reader's tables):
 *
 *  - the data section, record by record: each length must lie within the
 *    file; each Chunk is decompressed and its CRC compared, and its inner
 *    records must lie within it; Schema, Channel, Metadata and Message
 *    Index records must parse; every byte goes into the running data
 *    section CRC, compared with the Data End record's;
 *  - the footer (with the closing magic) and the summary it points to: the
 *    summary CRC over the summary and the footer's first fields; each
 *    summary record within the section; Chunk, Message Index and Metadata
 *    Indexes pointing at records of the data section of that type and
 *    length; Summary Offsets at groups of their opcode; the Statistics
 *    counts equal to what the data section holds.
 *
 * It goes on after a mismatch (one report lists every damaged chunk) but
 * stops a section at a length it cannot trust, since the next record's
 * place then is unknown. Each problem goes to the caller with the offset
 * of the record concerned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ax__mcap_reader.h"
#include "base/ax__array.h"

/* A record of the data section a summary index may point to. */
struct target {
    uint64_t offset, length;
    uint8_t op;
};

struct verify {
    int fd;
    uint64_t size;
    struct ax_mcap_reader_options opt;
    ax_mcap_problem_fn *fn;
    void *user;
    struct ax_mcap_verify_report *rep;
    uint8_t *buf; /* one record */
    size_t cap;
    uint8_t *dec; /* one decoded chunk */
    size_t dec_cap;
    struct ax__mcap_dctx dctx;
    struct target *t; /* in file order */
    size_t nt, tcap;
    bool counts_known;   /* every chunk decoded: the message count is exact */
    uint64_t last_usize; /* of the last chunk: Message Index offsets are in it */
    bool data_whole;     /* the data section was read to its Data End record */
};

static void problem(struct verify *v, uint64_t offset, const char *record, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct verify *v, uint64_t offset, const char *record, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    v->rep->problems++;
    if (v->fn)
        v->fn(&(struct ax_mcap_problem){offset, record, what}, v->user);
}

static int read_at(struct verify *v, void *p, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(v->fd, (uint8_t *)p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ax__mcap_err_from_errno(errno);
        if (n == 0)
            return AX_EIO; /* the file shrank under us */
        done += (size_t)n;
    }
    return 0;
}

/* The @len bytes at @off in v->buf. */
static int read_buf(struct verify *v, uint64_t len, uint64_t off)
{
    if (len > v->cap) {
        free(v->buf);
        v->cap = 0;
        if (!(v->buf = malloc(len)))
            return AX_ENOMEM;
        v->cap = (size_t)len;
    }
    return read_at(v, v->buf, (size_t)len, off);
}

static const struct target *find_target(const struct verify *v, uint64_t offset)
{
    size_t lo = 0, hi = v->nt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->t[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->nt && v->t[lo].offset == offset ? &v->t[lo] : NULL;
}

static int add_target(struct verify *v, uint64_t offset, uint64_t length, uint8_t op)
{
    if (ax__array_reserve(&v->t, &v->tcap, v->nt + 1, 64) < 0)
        return AX_ENOMEM;
    v->t[v->nt++] = (struct target){offset, length, op};
    return 0;
}

/* A decoded chunk's records: each within the chunk, of a kind a chunk may
 * hold, parsing. */
static void chunk_records(struct verify *v, uint64_t at, const uint8_t *p, size_t len)
{
    struct ax__cur c;
    ax__cur_init(&c, p, len);
    while (ax__cur_left(&c)) {
        size_t rec = c.pos;
        uint8_t op = ax__cur_u8(&c);
        uint64_t rlen = ax__cur_u64(&c);
        const uint8_t *q = ax__cur_bytes(&c, rlen);
        if (c.bad) {
            problem(v, at, "Chunk",
                    "the %s record at byte %zu of its records runs past the chunk's end (%zu "
                    "bytes)",
                    ax__mcap_op_name(op), rec, len);
            return;
        }
        int rc = 0;
        if (op == AX__OP_MESSAGE) {
            v->rep->messages++;
            rc = rlen < AX__MCAP_MESSAGE_FIXED ? AX_EPROTO : 0;
        } else if (op == AX__OP_SCHEMA) {
            struct ax_mcap_schema s;
            if ((rc = ax__mcap_parse_schema(q, (size_t)rlen, &s)) == 0)
                ax__mcap_schema_fini(&s);
        } else if (op == AX__OP_CHANNEL) {
            struct ax_mcap_channel ch;
            if ((rc = ax__mcap_parse_channel(q, (size_t)rlen, &ch)) == 0)
                ax__mcap_channel_fini(&ch);
        } else if (op <= AX__OP_DATA_END) {
            problem(v, at, "Chunk",
                    "a %s record (at byte %zu of its records) is not allowed in a chunk",
                    ax__mcap_op_name(op), rec);
            continue;
        }
        if (rc == AX_ENOMEM)
            return;
        if (rc)
            problem(v, at, "Chunk", "its %s record at byte %zu of its records is malformed",
                    ax__mcap_op_name(op), rec);
    }
}

static int check_chunk(struct verify *v, uint64_t at, const uint8_t *p, uint64_t len)
{
    struct ax__mcap_chunk_hdr h;
    v->rep->chunks++;
    if (ax__mcap_parse_chunk_hdr(p, (size_t)len, &h) != 0) {
        problem(v, at, "Chunk", "malformed chunk header (its sizes disagree with its length)");
        v->counts_known = false;
        return 0;
    }
    v->last_usize = h.usize;
    int rc = ax__mcap_chunk_decode(v->opt.max_chunk_size, &v->dctx, &h, &v->dec, &v->dec_cap);
    if (rc == AX_ENOMEM)
        return rc;
    if (h.crc)
        v->rep->chunk_crcs++;
    switch (rc) {
    case 0:
    case AX_ECRC:
        if (rc)
            problem(v, at, "Chunk",
                    "chunk CRC mismatch: the chunk says %08x, its %llu uncompressed bytes give "
                    "%08x",
                    (unsigned)h.crc, (unsigned long long)h.usize,
                    (unsigned)ax_mcap_crc32(0, v->dec, (size_t)h.usize));
        chunk_records(v, at, v->dec, (size_t)h.usize);
        return 0;
    case AX_ENOTSUP:
        problem(v, at, "Chunk", "compression \"%.*s\" is not in this build: not checked",
                (int)h.compression_len, (const char *)h.compression);
        break;
    case AX_EMSGSIZE:
        problem(v, at, "Chunk", "declares %llu uncompressed bytes, over the limit: not checked",
                (unsigned long long)h.usize);
        break;
    default:
        problem(v, at, "Chunk",
                "its %llu compressed bytes do not decompress to the %llu it declares (%s)",
                (unsigned long long)h.csize, (unsigned long long)h.usize,
                h.compression_len ? "corrupt" : "sizes differ");
        break;
    }
    v->counts_known = false;
    return 0;
}

/* A record of the data section other than Chunk and Data End. */
static int check_data_record(struct verify *v, uint64_t at, uint8_t op, const uint8_t *p,
                             uint64_t len)
{
    int rc = 0;
    switch (op) {
    case AX__OP_HEADER:
        problem(v, at, "Header", "a second Header record");
        return 0;
    case AX__OP_SCHEMA: {
        struct ax_mcap_schema s;
        if ((rc = ax__mcap_parse_schema(p, (size_t)len, &s)) == 0)
            ax__mcap_schema_fini(&s);
        break;
    }
    case AX__OP_CHANNEL: {
        struct ax_mcap_channel ch;
        if ((rc = ax__mcap_parse_channel(p, (size_t)len, &ch)) == 0)
            ax__mcap_channel_fini(&ch);
        break;
    }
    case AX__OP_METADATA: {
        struct ax_mcap_metadata m;
        v->rep->metadata++;
        if ((rc = ax__mcap_parse_metadata(p, (size_t)len, &m)) == 0)
            ax__mcap_metadata_fini(&m);
        break;
    }
    case AX__OP_MESSAGE:
        v->rep->messages++;
        rc = len < AX__MCAP_MESSAGE_FIXED ? AX_EPROTO : 0;
        break;
    case AX__OP_MESSAGE_INDEX: {
        /* channel_id, then (log_time, offset) pairs; each offset is a
         * place in the chunk just before. */
        struct ax__cur c;
        uint32_t n;
        v->rep->message_indexes++;
        ax__cur_init(&c, p, (size_t)len);
        ax__cur_u16(&c);
        const uint8_t *e = ax__cur_str(&c, &n);
        if (c.bad || n % 16 || ax__cur_left(&c))
            rc = AX_EPROTO;
        for (uint32_t i = 0; rc == 0 && i < n; i += 16)
            if (ax__get_u64(e + i + 8) >= v->last_usize) {
                problem(v, at, "MessageIndex",
                        "points at byte %llu of a chunk of %llu uncompressed bytes",
                        (unsigned long long)ax__get_u64(e + i + 8),
                        (unsigned long long)v->last_usize);
                return 0;
            }
        break;
    }
    default:
        return 0; /* indexes, attachments, unknown and private records */
    }
    if (rc == AX_ENOMEM)
        return rc;
    if (rc)
        problem(v, at, ax__mcap_op_name(op), "malformed %s record", ax__mcap_op_name(op));
    return 0;
}

/* The data section from the Header on; *@end: where it ends (after the
 * Data End record), or 0 when a length could not be trusted. */
static int walk_data(struct verify *v, uint64_t *end)
{
    uint32_t crc = ax_mcap_crc32(0, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN);
    uint64_t pos = AX__MCAP_MAGIC_LEN;
    *end = 0;
    for (bool first = true;; first = false) {
        uint8_t hdr[AX__MCAP_RECORD_HEADER];
        if (v->size - pos < AX__MCAP_RECORD_HEADER) {
            problem(v, pos, "DataEnd",
                    "the file ends at %llu without a Data End record (not closed, or cut off)",
                    (unsigned long long)v->size);
            return 0;
        }
        int rc = read_at(v, hdr, sizeof hdr, pos);
        if (rc)
            return rc;
        uint8_t op = hdr[0];
        uint64_t len = ax__get_u64(hdr + 1);
        const char *name = ax__mcap_op_name(op);
        if (len > v->size - pos - AX__MCAP_RECORD_HEADER) {
            problem(v, pos, name,
                    "its length %llu runs past the end of the file (%llu bytes left): the "
                    "records after it cannot be found",
                    (unsigned long long)len,
                    (unsigned long long)(v->size - pos - AX__MCAP_RECORD_HEADER));
            return 0;
        }
        if (len > v->opt.max_record_size) {
            problem(v, pos, name, "%llu bytes, over the limit of %llu: not checked",
                    (unsigned long long)len, (unsigned long long)v->opt.max_record_size);
            return 0;
        }
        if (first && op != AX__OP_HEADER)
            problem(v, pos, name, "the first record is not a Header");
        if (op == AX__OP_FOOTER) {
            problem(v, pos, "DataEnd", "no Data End record before the footer");
            return 0;
        }
        if ((rc = read_buf(v, len, pos + AX__MCAP_RECORD_HEADER)) != 0)
            return rc;
        v->rep->records++;
        if (op == AX__OP_DATA_END) {
            v->rep->data_end = true;
            uint32_t want = len >= 4 ? ax__get_u32(v->buf) : 0;
            if (len < 4)
                problem(v, pos, "DataEnd", "malformed Data End record (%llu bytes)",
                        (unsigned long long)len);
            else if (want != 0) {
                v->rep->data_crc = true;
                if (want != crc)
                    problem(v, pos, "DataEnd",
                            "data section CRC mismatch: the Data End record says %08x, bytes 0 "
                            "to %llu give %08x",
                            (unsigned)want, (unsigned long long)pos, (unsigned)crc);
            }
            *end = pos + AX__MCAP_RECORD_HEADER + len;
            v->data_whole = true;
            return 0;
        }
        crc = ax_mcap_crc32(ax_mcap_crc32(crc, hdr, sizeof hdr), v->buf, (size_t)len);
        if (op == AX__OP_CHUNK || op == AX__OP_MESSAGE_INDEX || op == AX__OP_METADATA)
            if ((rc = add_target(v, pos, AX__MCAP_RECORD_HEADER + len, op)) != 0)
                return rc;
        if (op == AX__OP_CHUNK)
            rc = check_chunk(v, pos, v->buf, len);
        else if (!first)
            rc = check_data_record(v, pos, op, v->buf, len);
        if (rc)
            return rc;
        pos += AX__MCAP_RECORD_HEADER + len;
    }
}

/* @off, @len of an index must be a record of type @op in the data section. */
static void check_points(struct verify *v, uint64_t at, const char *index, uint64_t off,
                         uint64_t len, uint8_t op)
{
    if (!v->data_whole)
        return; /* the records past the damage are unknown, not missing */
    const struct target *t = find_target(v, off);
    if (!t || t->op != op || (len && t->length != len))
        problem(v, at, index, "points to %llu%s, where there is no %s record%s",
                (unsigned long long)off, len ? " (with a length)" : "", ax__mcap_op_name(op),
                len ? " of that length" : "");
}

struct group {
    uint64_t at, start, length;
    uint8_t op;
};

/* The summary section [@start, @end) and its records. */
static int walk_summary(struct verify *v, uint64_t start, uint64_t end, uint64_t offsets_start,
                        const uint8_t *foot)
{
    size_t len = (size_t)(end - start);
    int rc = read_buf(v, len, start);
    if (rc)
        return rc;
    uint32_t crc = ax__get_u32(foot + 25);
    if (crc) {
        v->rep->summary_crc = true;
        uint32_t got = ax_mcap_crc32(ax_mcap_crc32(0, v->buf, len), foot, 25);
        if (got != crc)
            problem(v, end, "Footer",
                    "summary CRC mismatch: the footer says %08x, the summary section (bytes %llu "
                    "to %llu) and the footer give %08x",
                    (unsigned)crc, (unsigned long long)start, (unsigned long long)end,
                    (unsigned)got);
    }
    struct group *g = NULL;
    size_t ng = 0, gcap = 0;
    struct target *recs = NULL; /* the summary's own records, for its offsets */
    size_t nrecs = 0, rcap = 0;
    struct ax__cur c;
    ax__cur_init(&c, v->buf, len);
    while (rc == 0 && ax__cur_left(&c)) {
        uint64_t at = start + c.pos;
        uint8_t op = ax__cur_u8(&c);
        uint64_t rlen = ax__cur_u64(&c);
        const uint8_t *p = ax__cur_bytes(&c, rlen);
        const char *name = ax__mcap_op_name(op);
        if (c.bad) {
            problem(v, at, name, "its length runs past the summary section's end (%llu)",
                    (unsigned long long)end);
            break;
        }
        v->rep->summary_records++;
        if ((rc = ax__array_reserve(&recs, &rcap, nrecs + 1, 64)) != 0)
            break;
        recs[nrecs++] = (struct target){at, AX__MCAP_RECORD_HEADER + rlen, op};
        struct ax__cur r;
        ax__cur_init(&r, p, (size_t)rlen);
        switch (op) {
        case AX__OP_CHUNK_INDEX: {
            ax__cur_u64(&r);
            ax__cur_u64(&r);
            uint64_t off = ax__cur_u64(&r), clen = ax__cur_u64(&r);
            uint32_t ml;
            const uint8_t *map = ax__cur_str(&r, &ml);
            if (r.bad || ml % 10) {
                problem(v, at, name, "malformed Chunk Index record");
                break;
            }
            check_points(v, at, name, off, clen, AX__OP_CHUNK);
            for (uint32_t i = 0; i < ml; i += 10)
                check_points(v, at, name, ax__get_u64(map + i + 2), 0, AX__OP_MESSAGE_INDEX);
            break;
        }
        case AX__OP_METADATA_INDEX: {
            uint64_t off = ax__cur_u64(&r), mlen = ax__cur_u64(&r);
            if (r.bad)
                problem(v, at, name, "malformed Metadata Index record");
            else
                check_points(v, at, name, off, mlen, AX__OP_METADATA);
            break;
        }
        case AX__OP_SUMMARY_OFFSET: {
            uint8_t gop = ax__cur_u8(&r);
            uint64_t gs = ax__cur_u64(&r), gl = ax__cur_u64(&r);
            if (r.bad) {
                problem(v, at, name, "malformed Summary Offset record");
                break;
            }
            if ((rc = ax__array_reserve(&g, &gcap, ng + 1, 16)) == 0)
                g[ng++] = (struct group){at, gs, gl, gop};
            break;
        }
        case AX__OP_STATISTICS: {
            uint64_t msgs = ax__cur_u64(&r);
            ax__cur_u16(&r);
            ax__cur_u32(&r);
            ax__cur_u32(&r);
            uint32_t meta = ax__cur_u32(&r), chunks = ax__cur_u32(&r);
            if (r.bad)
                problem(v, at, name, "malformed Statistics record");
            else if (v->data_whole && (chunks != v->rep->chunks || meta != v->rep->metadata ||
                                       (v->counts_known && msgs != v->rep->messages)))
                problem(v, at, name,
                        "counts %llu messages, %u chunks and %u metadata records; the data "
                        "section holds %llu, %llu and %llu",
                        (unsigned long long)msgs, chunks, meta,
                        (unsigned long long)v->rep->messages, (unsigned long long)v->rep->chunks,
                        (unsigned long long)v->rep->metadata);
            break;
        }
        case AX__OP_SCHEMA:
        case AX__OP_CHANNEL:
        case AX__OP_ATTACHMENT_INDEX:
            break;
        default:
            if (op <= AX__OP_DATA_END)
                problem(v, at, name, "a %s record is not allowed in the summary", name);
            break;
        }
    }
    /* Each Summary Offset names a run of records of one opcode. */
    for (size_t i = 0; rc == 0 && i < ng; i++) {
        size_t k = 0;
        while (k < nrecs && recs[k].offset < g[i].start)
            k++;
        uint64_t covered = 0;
        for (; k < nrecs && recs[k].offset == g[i].start + covered && covered < g[i].length; k++) {
            if (recs[k].op != g[i].op)
                break;
            covered += recs[k].length;
        }
        if (covered != g[i].length || g[i].length == 0)
            problem(v, g[i].at, "SummaryOffset",
                    "its group of %s records at %llu (%llu bytes) is not a run of such records",
                    ax__mcap_op_name(g[i].op), (unsigned long long)g[i].start,
                    (unsigned long long)g[i].length);
    }
    if (rc == 0 && offsets_start) {
        bool ok = false;
        for (size_t k = 0; k < nrecs; k++)
            ok |= recs[k].offset == offsets_start && recs[k].op == AX__OP_SUMMARY_OFFSET;
        if (!ok)
            problem(v, end, "Footer",
                    "its summary offset start %llu is not a Summary Offset record",
                    (unsigned long long)offsets_start);
    }
    free(g);
    free(recs);
    return rc;
}

/* The footer, and the summary it points to; @data_end: 0 when unknown. */
static int check_tail(struct verify *v, uint64_t data_end)
{
    enum { TAIL = AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN };
    uint8_t foot[TAIL];
    if (v->size < AX__MCAP_MAGIC_LEN + TAIL) {
        problem(v, v->size, "Footer", "no footer: the file is too short (not closed?)");
        return 0;
    }
    uint64_t at = v->size - TAIL;
    int rc = read_at(v, foot, TAIL, at);
    if (rc)
        return rc;
    if (memcmp(foot + TAIL - AX__MCAP_MAGIC_LEN, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0 ||
        foot[0] != AX__OP_FOOTER || ax__get_u64(foot + 1) != AX__MCAP_FOOTER_CONTENT) {
        problem(v, at, "Footer",
                "no footer and closing magic at the end of the file: it was not closed");
        return 0;
    }
    v->rep->footer = true;
    uint64_t ss = ax__get_u64(foot + 9), so = ax__get_u64(foot + 17);
    if (ss == 0) {
        if (data_end && data_end != at)
            problem(v, data_end, "Footer",
                    "%llu bytes between the data section's end and the footer belong to no "
                    "section",
                    (unsigned long long)(at - data_end));
        if (ax__get_u32(foot + 25))
            problem(v, at, "Footer", "a summary CRC but no summary section");
        return 0;
    }
    v->rep->summary = true;
    if (ss < AX__MCAP_MAGIC_LEN || ss > at || (data_end && ss != data_end)) {
        problem(v, at, "Footer", "its summary start %llu is not where the data section ends (%llu)",
                (unsigned long long)ss, (unsigned long long)data_end);
        if (ss < AX__MCAP_MAGIC_LEN || ss > at)
            return 0;
    }
    if (so && (so < ss || so >= at)) {
        problem(v, at, "Footer",
                "its summary offset start %llu is outside the summary (%llu to %llu)",
                (unsigned long long)so, (unsigned long long)ss, (unsigned long long)at);
        so = 0;
    }
    if (at - ss > v->opt.max_record_size) {
        problem(v, ss, "Footer", "a summary of %llu bytes, over the limit: not checked",
                (unsigned long long)(at - ss));
        return 0;
    }
    return walk_summary(v, ss, at, so, foot);
}

int ax_mcap_verify(const char *path, const struct ax_mcap_reader_options *opt,
                   ax_mcap_problem_fn *fn, void *user, struct ax_mcap_verify_report *out)
{
    if (!path || !out || (opt && (!opt->max_record_size || !opt->max_chunk_size)))
        return AX_EINVAL;
    memset(out, 0, sizeof *out);
    struct verify v = {.fn = fn, .user = user, .rep = out, .counts_known = true};
    if (opt)
        v.opt = *opt;
    else
        ax_mcap_reader_options_init(&v.opt);
    v.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (v.fd < 0)
        return ax__mcap_err_from_errno(errno);
    struct stat st;
    int rc = fstat(v.fd, &st) == 0 ? 0 : ax__mcap_err_from_errno(errno);
    uint8_t magic[AX__MCAP_MAGIC_LEN];
    v.size = out->file_size = (uint64_t)st.st_size;
    if (rc == 0 &&
        (v.size < AX__MCAP_MAGIC_LEN || (rc = read_at(&v, magic, sizeof magic, 0)) != 0 ||
         memcmp(magic, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0)) {
        if (rc == 0)
            problem(&v, 0, "magic", "not an MCAP file (no MCAP magic at its start)");
    } else if (rc == 0) {
        uint64_t data_end = 0;
        if ((rc = walk_data(&v, &data_end)) == 0)
            rc = check_tail(&v, data_end);
    }
    close(v.fd);
    free(v.buf);
    free(v.dec);
    free(v.t);
    ax__mcap_dctx_fini(&v.dctx);
    return rc;
}
