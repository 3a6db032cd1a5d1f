/*
 * The MCAP reader.
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
 *    Message records outside chunks (other writers) become blocks too.
 *
 * Iterating merges the blocks by log time: blocks are taken in order of
 * their earliest log time, each one decoded when the merge reaches its start
 * time, so only blocks whose time ranges overlap are held in memory at once
 * (one, for files axon writes, whose log times only grow).
 *
 * Every read is a pread() of a length already checked against the file size
 * and the reader's limits; every field is parsed through struct ax__cur,
 * which refuses to read past the record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef AXON_MCAP_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "ax__mcap.h"

/* A unit messages are read from: a Chunk record, or a run of Message records
 * outside chunks. */
struct block {
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
    struct block *blocks;
    size_t n_blocks, cap_blocks;
    char **strs; /* interned strings the chunks point to */
    size_t n_strs;

    uint8_t *scratch; /* reusable record buffer for the scan */
    size_t scratch_cap;
    char reason[200];
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

/* Grow *@p (of *@cap elements of @size bytes) to hold @need elements. */
static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
    void **p = pp;
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return AX_ENOMEM;
        n *= 2;
    }
    void *q = realloc(*p, n * size);
    if (!q)
        return AX_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* pread exactly @len bytes at @off; AX_EPROTO if the file is shorter. */
static int read_at(ax_mcap_reader *r, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return ax__mcap_err_from_errno(errno);
        }
        if (n == 0)
            return AX_EPROTO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* A NUL-terminated copy of @len bytes. */
static char *dup_str(const uint8_t *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        if (len)
            memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static void set_reason(ax_mcap_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(ax_mcap_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* What went wrong with a record, for recovery_reason. (Words of our own:
 * this library uses axon's error codes but not its library.) */
static const char *problem(int rc)
{
    switch (rc) {
    case AX_EPROTO:
        return "malformed";
    case AX_ECRC:
        return "CRC mismatch";
    case AX_EMSGSIZE:
        return "larger than the reader's limits";
    case AX_ENOTSUP:
        return "unsupported compression";
    default:
        return "unreadable";
    }
}

/* The string for a chunk's compression: static for the known ones. */
static const char *intern_compression(ax_mcap_reader *r, const uint8_t *s, uint32_t len)
{
    static const char *const known[] = {"", "lz4", "zstd"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(known[i]) == len && memcmp(known[i], s, len) == 0)
            return known[i];
    for (size_t i = 0; i < r->n_strs; i++)
        if (strlen(r->strs[i]) == len && memcmp(r->strs[i], s, len) == 0)
            return r->strs[i];
    char **strs = realloc(r->strs, (r->n_strs + 1) * sizeof(*strs));
    if (!strs)
        return NULL;
    r->strs = strs;
    if (!(strs[r->n_strs] = dup_str(s, len)))
        return NULL;
    return strs[r->n_strs++];
}

/*
 * Parse a Map<string,string> into one allocation: the kv array followed by
 * the NUL-terminated strings. Returns 0, AX_EPROTO or AX_ENOMEM.
 */
static int parse_kv(struct ax__cur *c, struct ax_mcap_kv **out, size_t *n_out)
{
    uint32_t mlen;
    const uint8_t *m = ax__cur_str(c, &mlen);
    *out = NULL;
    *n_out = 0;
    if (c->bad)
        return AX_EPROTO;
    /* Count the entries and the bytes of their strings. */
    struct ax__cur mc;
    ax__cur_init(&mc, m, mlen);
    size_t n = 0;
    while (ax__cur_left(&mc) > 0) {
        uint32_t kl, vl;
        ax__cur_str(&mc, &kl);
        ax__cur_str(&mc, &vl);
        if (mc.bad)
            return AX_EPROTO;
        n++;
    }
    if (n == 0)
        return 0;
    /* Each entry is at least 8 bytes of @mlen, so this cannot overflow. */
    struct ax_mcap_kv *kv = malloc(n * sizeof(*kv) + mlen);
    if (!kv)
        return AX_ENOMEM;
    char *str = (char *)(kv + n);
    ax__cur_init(&mc, m, mlen);
    for (size_t i = 0; i < n; i++) {
        uint32_t l;
        const uint8_t *s = ax__cur_str(&mc, &l);
        memcpy(str, s, l);
        str[l] = '\0';
        kv[i].key = str;
        str += l + 1;
        s = ax__cur_str(&mc, &l);
        memcpy(str, s, l);
        str[l] = '\0';
        kv[i].value = str;
        str += l + 1;
    }
    *out = kv;
    *n_out = n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Schemas, channels, metadata                                              */

static void schema_fini(struct ax_mcap_schema *s)
{
    free((char *)s->name); /* name, encoding and data share one block */
}

static void channel_fini(struct ax_mcap_channel *c)
{
    free((char *)c->topic); /* topic and message_encoding share one block */
    free((void *)c->metadata);
}

static void metadata_fini(struct ax_mcap_metadata *m)
{
    free((char *)m->name);
    free((void *)m->kv);
}

/* Schema record content → @s (owning). */
static int parse_schema(const uint8_t *p, size_t len, struct ax_mcap_schema *s)
{
    struct ax__cur c;
    uint32_t nl, el, dl;
    ax__cur_init(&c, p, len);
    s->id = ax__cur_u16(&c);
    const uint8_t *name = ax__cur_str(&c, &nl);
    const uint8_t *enc = ax__cur_str(&c, &el);
    const uint8_t *data = ax__cur_str(&c, &dl);
    if (c.bad)
        return AX_EPROTO;
    char *blk = malloc((size_t)nl + el + dl + 2);
    if (!blk)
        return AX_ENOMEM;
    memcpy(blk, name, nl);
    blk[nl] = '\0';
    memcpy(blk + nl + 1, enc, el);
    blk[nl + 1 + el] = '\0';
    if (dl)
        memcpy(blk + nl + el + 2, data, dl);
    s->name = blk;
    s->encoding = blk + nl + 1;
    s->data = (const uint8_t *)blk + nl + el + 2;
    s->data_len = dl;
    return 0;
}

/* Channel record content → @ch (owning). */
static int parse_channel(const uint8_t *p, size_t len, struct ax_mcap_channel *ch)
{
    struct ax__cur c;
    uint32_t tl, el;
    memset(ch, 0, sizeof(*ch));
    ax__cur_init(&c, p, len);
    ch->id = ax__cur_u16(&c);
    ch->schema_id = ax__cur_u16(&c);
    const uint8_t *topic = ax__cur_str(&c, &tl);
    const uint8_t *enc = ax__cur_str(&c, &el);
    if (c.bad)
        return AX_EPROTO;
    struct ax_mcap_kv *kv;
    size_t n;
    int rc = parse_kv(&c, &kv, &n);
    if (rc != 0)
        return rc;
    char *blk = malloc((size_t)tl + el + 2);
    if (!blk) {
        free(kv);
        return AX_ENOMEM;
    }
    memcpy(blk, topic, tl);
    blk[tl] = '\0';
    memcpy(blk + tl + 1, enc, el);
    blk[tl + 1 + el] = '\0';
    ch->topic = blk;
    ch->message_encoding = blk + tl + 1;
    ch->metadata = kv;
    ch->n_metadata = n;
    return 0;
}

static int parse_metadata(const uint8_t *p, size_t len, struct ax_mcap_metadata *m)
{
    struct ax__cur c;
    uint32_t nl;
    ax__cur_init(&c, p, len);
    const uint8_t *name = ax__cur_str(&c, &nl);
    if (c.bad)
        return AX_EPROTO;
    struct ax_mcap_kv *kv;
    size_t n;
    int rc = parse_kv(&c, &kv, &n);
    if (rc != 0)
        return rc;
    if (!(m->name = dup_str(name, nl))) {
        free(kv);
        return AX_ENOMEM;
    }
    m->kv = kv;
    m->n_kv = n;
    return 0;
}

static bool schema_equal(const struct ax_mcap_schema *a, const struct ax_mcap_schema *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->encoding, b->encoding) == 0 &&
           a->data_len == b->data_len && (!a->data_len || !memcmp(a->data, b->data, a->data_len));
}

static bool channel_equal(const struct ax_mcap_channel *a, const struct ax_mcap_channel *b)
{
    if (a->schema_id != b->schema_id || strcmp(a->topic, b->topic) != 0 ||
        strcmp(a->message_encoding, b->message_encoding) != 0 || a->n_metadata != b->n_metadata)
        return false;
    for (size_t i = 0; i < a->n_metadata; i++)
        if (strcmp(a->metadata[i].key, b->metadata[i].key) != 0 ||
            strcmp(a->metadata[i].value, b->metadata[i].value) != 0)
            return false;
    return true;
}

/* Index of the first schema (channel) with an id >= @id; the arrays are
 * sorted by id. */
static size_t schema_pos(const ax_mcap_reader *r, uint16_t id)
{
    size_t lo = 0, hi = r->n_schemas;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->schemas[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t channel_pos(const ax_mcap_reader *r, uint16_t id)
{
    size_t lo = 0, hi = r->n_channels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->channels[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct ax_mcap_schema *find_schema(const ax_mcap_reader *r, uint16_t id)
{
    size_t i = schema_pos(r, id);
    return i < r->n_schemas && r->schemas[i].id == id ? &r->schemas[i] : NULL;
}

static struct ax_mcap_channel *find_channel(const ax_mcap_reader *r, uint16_t id)
{
    size_t i = channel_pos(r, id);
    return i < r->n_channels && r->channels[i].id == id ? &r->channels[i] : NULL;
}

/*
 * Keep @s (taking ownership in every case). A schema with id 0 is invalid
 * and ignored, as the specification says; a repeat of a known id must be
 * identical (AX_EPROTO otherwise) and is dropped.
 */
static int add_schema(ax_mcap_reader *r, struct ax_mcap_schema *s)
{
    size_t i = schema_pos(r, s->id);
    if (s->id == 0 || (i < r->n_schemas && r->schemas[i].id == s->id)) {
        bool ok = s->id == 0 || schema_equal(&r->schemas[i], s);
        schema_fini(s);
        return ok ? 0 : AX_EPROTO;
    }
    if (grow(&r->schemas, &r->cap_schemas, r->n_schemas + 1, sizeof(*s)) != 0) {
        schema_fini(s);
        return AX_ENOMEM;
    }
    memmove(&r->schemas[i + 1], &r->schemas[i], (r->n_schemas - i) * sizeof(*s));
    r->schemas[i] = *s;
    r->n_schemas++;
    return 0;
}

/* Keep @ch (taking ownership); its schema must be known (or 0). */
static int add_channel(ax_mcap_reader *r, struct ax_mcap_channel *ch)
{
    size_t i = channel_pos(r, ch->id);
    if (i < r->n_channels && r->channels[i].id == ch->id) {
        bool ok = channel_equal(&r->channels[i], ch);
        channel_fini(ch);
        return ok ? 0 : AX_EPROTO;
    }
    if (ch->schema_id != 0 && !find_schema(r, ch->schema_id)) {
        channel_fini(ch);
        return AX_EPROTO;
    }
    if (grow(&r->channels, &r->cap_channels, r->n_channels + 1, sizeof(*ch)) != 0) {
        channel_fini(ch);
        return AX_ENOMEM;
    }
    memmove(&r->channels[i + 1], &r->channels[i], (r->n_channels - i) * sizeof(*ch));
    r->channels[i] = *ch;
    r->n_channels++;
    return 0;
}

static int add_metadata(ax_mcap_reader *r, struct ax_mcap_metadata *m)
{
    if (grow(&r->metadata, &r->cap_metadata, r->n_metadata + 1, sizeof(*m)) != 0) {
        metadata_fini(m);
        return AX_ENOMEM;
    }
    r->metadata[r->n_metadata++] = *m;
    return 0;
}

static int add_block(ax_mcap_reader *r, const struct block *b)
{
    if (grow(&r->blocks, &r->cap_blocks, r->n_blocks + 1, sizeof(*b)) != 0)
        return AX_ENOMEM;
    r->blocks[r->n_blocks++] = *b;
    return 0;
}

static int add_chunk(ax_mcap_reader *r, const struct ax_mcap_chunk *c)
{
    if (grow(&r->chunks, &r->cap_chunks, r->n_chunks + 1, sizeof(*c)) != 0)
        return AX_ENOMEM;
    r->chunks[r->n_chunks++] = *c;
    return 0;
}

/* Forget everything loaded from the summary or the scan (not the header). */
static void content_clear(ax_mcap_reader *r)
{
    for (size_t i = 0; i < r->n_schemas; i++)
        schema_fini(&r->schemas[i]);
    for (size_t i = 0; i < r->n_channels; i++)
        channel_fini(&r->channels[i]);
    for (size_t i = 0; i < r->n_metadata; i++)
        metadata_fini(&r->metadata[i]);
    for (size_t i = 0; i < r->n_blocks; i++)
        free(r->blocks[i].chans);
    r->n_schemas = r->n_channels = r->n_metadata = r->n_blocks = r->n_chunks = 0;
    memset(&r->info, 0, sizeof(r->info));
}

/* ------------------------------------------------------------------------ */
/* Chunks                                                                   */

struct chunk_hdr {
    uint64_t start;
    uint64_t end;
    uint64_t usize;
    uint32_t crc;
    const uint8_t *compression;
    uint32_t compression_len;
    const uint8_t *records;
    uint64_t csize;
};

static int parse_chunk_hdr(const uint8_t *p, size_t len, struct chunk_hdr *h)
{
    struct ax__cur c;
    ax__cur_init(&c, p, len);
    h->start = ax__cur_u64(&c);
    h->end = ax__cur_u64(&c);
    h->usize = ax__cur_u64(&c);
    h->crc = ax__cur_u32(&c);
    h->compression = ax__cur_str(&c, &h->compression_len);
    h->csize = ax__cur_u64(&c);
    h->records = ax__cur_bytes(&c, h->csize);
    return c.bad ? AX_EPROTO : 0;
}

static bool name_is(const uint8_t *s, uint32_t len, const char *name)
{
    return strlen(name) == len && memcmp(s, name, len) == 0;
}

/*
 * Decompress and CRC-check a chunk's records into *@bufp (of *@capp bytes,
 * grown to h->usize after checking it against max_chunk_size; reused from
 * chunk to chunk to spare an allocation and its page faults each time). A
 * chunk that decompresses to any other size is malformed. The buffer stays
 * the caller's, also on failure.
 */
/* A decompression context kept across chunks (zstd's costs an allocation
 * and a clear of ~100 KiB when made per call). */
struct dctx {
#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_DCtx *zstd;
#else
    int unused;
#endif
};

static void dctx_fini(struct dctx *d)
{
#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_freeDCtx(d->zstd);
    d->zstd = NULL;
#else
    (void)d;
#endif
}

static int chunk_decode(const ax_mcap_reader *r, struct dctx *d, const struct chunk_hdr *h,
                        uint8_t **bufp, size_t *capp)
{
    if (h->usize > r->opt.max_chunk_size || h->usize > SIZE_MAX - 1)
        return AX_EMSGSIZE;
    size_t usize = (size_t)h->usize;
    if (!*bufp || *capp < usize) {
        free(*bufp);
        *capp = 0;
        if (!(*bufp = malloc(usize ? usize : 1)))
            return AX_ENOMEM;
        *capp = usize;
    }
    uint8_t *buf = *bufp;
    int rc = 0;
    if (h->usize == 0 && h->csize == 0) {
        /* empty records, whatever the compression */
    } else if (name_is(h->compression, h->compression_len, "")) {
        if (h->csize != h->usize)
            rc = AX_EPROTO;
        else if (usize)
            memcpy(buf, h->records, usize);
    } else if (name_is(h->compression, h->compression_len, "zstd")) {
#ifdef AXON_MCAP_HAVE_ZSTD
        if (!d->zstd && !(d->zstd = ZSTD_createDCtx()))
            return AX_ENOMEM;
        size_t n = ZSTD_decompressDCtx(d->zstd, buf, usize, h->records, (size_t)h->csize);
        if (ZSTD_isError(n))
            rc = ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? AX_ENOMEM : AX_EPROTO;
        else if (n != usize)
            rc = AX_EPROTO;
#else
        rc = AX_ENOTSUP;
#endif
    } else if (name_is(h->compression, h->compression_len, "lz4")) {
#ifdef AXON_MCAP_HAVE_LZ4
        LZ4F_dctx *dctx;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
            rc = AX_ENOMEM;
        } else {
            const uint8_t *src = h->records;
            size_t src_left = (size_t)h->csize, dst_done = 0;
            size_t hint = 1;
            while (hint != 0) {
                size_t dn = usize - dst_done, sn = src_left;
                hint = LZ4F_decompress(dctx, buf + dst_done, &dn, src, &sn, NULL);
                if (LZ4F_isError(hint) || (dn == 0 && sn == 0 && hint != 0)) {
                    rc = AX_EPROTO; /* bad data, or more output than declared */
                    break;
                }
                dst_done += dn;
                src += sn;
                src_left -= sn;
            }
            if (rc == 0 && (dst_done != usize || src_left != 0))
                rc = AX_EPROTO;
            LZ4F_freeDecompressionContext(dctx);
        }
#else
        rc = AX_ENOTSUP;
#endif
    } else {
        rc = AX_ENOTSUP;
    }
    if (rc == 0 && h->crc != 0 && ax_mcap_crc32(0, buf, usize) != h->crc)
        rc = AX_ECRC;
    return rc;
}

/* The next record in @c: its opcode and content. Returns false at the end;
 * sets c->bad when a record is cut off. */
static bool next_record(struct ax__cur *c, uint8_t *op, const uint8_t **p, uint64_t *len)
{
    if (ax__cur_left(c) == 0)
        return false;
    *op = ax__cur_u8(c);
    *len = ax__cur_u64(c);
    *p = ax__cur_bytes(c, *len);
    return !c->bad;
}

/* ------------------------------------------------------------------------ */
/* Open: header, summary                                                    */

void ax_mcap_reader_options_init(struct ax_mcap_reader_options *opt)
{
    opt->max_record_size = AX_MCAP_MAX_RECORD_SIZE;
    opt->max_chunk_size = AX_MCAP_MAX_RECORD_SIZE;
}

/* Magic and Header record; any failure means "not an MCAP file". */
static int read_header(ax_mcap_reader *r)
{
    uint8_t pre[AX__MCAP_MAGIC_LEN + AX__MCAP_RECORD_HEADER];
    if (r->size < sizeof(pre) || read_at(r, pre, sizeof(pre), 0) != 0 ||
        memcmp(pre, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0 ||
        pre[AX__MCAP_MAGIC_LEN] != AX__OP_HEADER)
        return AX_EPROTO;
    uint64_t len = ax__get_u64(pre + AX__MCAP_MAGIC_LEN + 1);
    if (len > r->opt.max_record_size || len > r->size - sizeof(pre))
        return AX_EPROTO;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return AX_ENOMEM;
    int rc = read_at(r, buf, (size_t)len, sizeof(pre));
    if (rc == 0) {
        struct ax__cur c;
        uint32_t pl, ll;
        ax__cur_init(&c, buf, (size_t)len);
        const uint8_t *profile = ax__cur_str(&c, &pl);
        const uint8_t *library = ax__cur_str(&c, &ll);
        if (c.bad)
            rc = AX_EPROTO;
        else if (!(r->profile = dup_str(profile, pl)) || !(r->library = dup_str(library, ll)))
            rc = AX_ENOMEM;
    }
    free(buf);
    r->header_end = sizeof(pre) + len;
    return rc;
}

enum summary_result {
    SUMMARY_OK,     /* loaded */
    SUMMARY_ABSENT, /* a whole file without a usable index: scan, not damage */
    SUMMARY_BAD     /* missing footer or damaged summary: scan, damaged */
};

/* One Chunk Index record → a block and a chunk. */
static int summary_chunk_index(ax_mcap_reader *r, const uint8_t *p, size_t len,
                               uint64_t summary_start)
{
    struct ax__cur c;
    struct block b = {0};
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
    if (!(ch.compression = intern_compression(r, comp, cl)))
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
    int rc = add_block(r, &b);
    if (rc == 0)
        rc = add_chunk(r, &ch);
    else
        free(b.chans);
    return rc;
}

static enum summary_result load_summary(ax_mcap_reader *r)
{
    const uint64_t tail = AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN;
    uint8_t foot[AX__MCAP_RECORD_HEADER + AX__MCAP_FOOTER_CONTENT + AX__MCAP_MAGIC_LEN];
    if (r->size < r->header_end + tail || read_at(r, foot, sizeof(foot), r->size - tail) != 0 ||
        memcmp(foot + tail - AX__MCAP_MAGIC_LEN, AX__MCAP_MAGIC, AX__MCAP_MAGIC_LEN) != 0 ||
        foot[0] != AX__OP_FOOTER || ax__get_u64(foot + 1) != AX__MCAP_FOOTER_CONTENT) {
        set_reason(r, "no footer at the end of the file: it was not closed (truncated?)");
        return SUMMARY_BAD;
    }
    uint64_t footer_at = r->size - tail;
    uint64_t summary_start = ax__get_u64(foot + 9);
    uint32_t summary_crc = ax__get_u32(foot + 25);
    if (summary_start == 0) {
        set_reason(r, "the file has no summary section");
        return SUMMARY_ABSENT;
    }
    if (summary_start < r->header_end || summary_start > footer_at ||
        footer_at - summary_start > r->opt.max_record_size) {
        set_reason(r, "the footer's summary offset %llu is out of range",
                   (unsigned long long)summary_start);
        return SUMMARY_BAD;
    }
    size_t slen = (size_t)(footer_at - summary_start);
    uint8_t *sum = malloc(slen ? slen : 1);
    if (!sum) {
        set_reason(r, "out of memory reading the summary");
        return SUMMARY_BAD;
    }
    enum summary_result res = SUMMARY_BAD;
    if (read_at(r, sum, slen, summary_start) != 0) {
        set_reason(r, "cannot read the summary section");
        goto out;
    }
    if (summary_crc != 0 && ax_mcap_crc32(ax_mcap_crc32(0, sum, slen), foot, 25) != summary_crc) {
        set_reason(r, "summary CRC mismatch");
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
    while (rc == 0 && next_record(&c, &op, &p, &len)) {
        switch (op) {
        case AX__OP_SCHEMA: {
            struct ax_mcap_schema s;
            if ((rc = parse_schema(p, len, &s)) == 0)
                rc = add_schema(r, &s);
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((rc = parse_channel(p, len, &ch)) == 0)
                rc = add_channel(r, &ch);
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
            if ((rc = read_at(r, rec, (size_t)mlen, off)) == 0) {
                if (rec[0] != AX__OP_METADATA || ax__get_u64(rec + 1) != mlen - 9)
                    rc = AX_EPROTO;
                else if ((rc = parse_metadata(rec + 9, (size_t)mlen - 9, &m)) == 0)
                    rc = add_metadata(r, &m);
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
        set_reason(r, "damaged summary section (%s)", problem(rc));
        goto out;
    }
    if (!stats) {
        set_reason(r, "the summary has no Statistics record");
        res = SUMMARY_ABSENT;
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
        struct ax_mcap_channel *ch = find_channel(r, ax__get_u16(map + i));
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
        res = SUMMARY_ABSENT;
        goto out;
    }
    res = SUMMARY_OK;
out:
    free(sum);
    return res;
}

/* ------------------------------------------------------------------------ */
/* Scan                                                                     */

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
        schema_fini(&pd->schemas[i]);
    for (size_t i = 0; i < pd->n_channels; i++)
        channel_fini(&pd->channels[i]);
    pd->n_schemas = pd->n_channels = pd->n_seen = pd->last = 0;
    pd->msgs = 0;
}

static bool channel_known(const ax_mcap_reader *r, const struct pending *pd, uint16_t id)
{
    if (find_channel(r, id))
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
            if (grow(&pd->seen, &pd->cap_seen, i + 1, sizeof(*pd->seen)) != 0)
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
    while (rc == 0 && next_record(&c, &op, &p, &rlen)) {
        switch (op) {
        case AX__OP_SCHEMA: {
            struct ax_mcap_schema s;
            if ((rc = parse_schema(p, rlen, &s)) != 0)
                break;
            if ((rc = grow(&pd->schemas, &pd->cap_schemas, pd->n_schemas + 1, sizeof(s))) != 0) {
                schema_fini(&s);
                break;
            }
            pd->schemas[pd->n_schemas++] = s;
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((rc = parse_channel(p, rlen, &ch)) != 0)
                break;
            if ((rc = grow(&pd->channels, &pd->cap_channels, pd->n_channels + 1, sizeof(ch))) !=
                0) {
                channel_fini(&ch);
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
static int pending_commit(ax_mcap_reader *r, struct pending *pd, struct block *b)
{
    int rc = 0;
    size_t i;
    for (i = 0; i < pd->n_schemas && rc == 0; i++)
        rc = add_schema(r, &pd->schemas[i]);
    for (; i < pd->n_schemas; i++)
        schema_fini(&pd->schemas[i]);
    pd->n_schemas = 0;
    for (i = 0; i < pd->n_channels && rc == 0; i++)
        rc = add_channel(r, &pd->channels[i]);
    for (; i < pd->n_channels; i++)
        channel_fini(&pd->channels[i]);
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
        find_channel(r, id)->message_count += pd->seen[i].count;
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
    return read_at(r, r->scratch, (size_t)len, off);
}

static const char *op_name(uint8_t op)
{
    static const char *const names[] = {
        "invalid",  "Header",        "Footer",        "Schema",     "Channel",         "Message",
        "Chunk",    "MessageIndex",  "ChunkIndex",    "Attachment", "AttachmentIndex", "Statistics",
        "Metadata", "MetadataIndex", "SummaryOffset", "DataEnd"};
    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

/*
 * Walk the data section; see the design note. Returns 0 (the scan stopped
 * cleanly or at damage: r->info says which) or AX_ENOMEM / AX_EIO, which
 * are not about the file's content.
 */
static int scan(ax_mcap_reader *r, bool damaged, char *why, size_t why_len)
{
    struct pending pd = {0};
    struct block loose = {0}; /* the run of loose messages being built */
    uint8_t *dec = NULL;      /* decoded chunk, reused */
    struct dctx dctx = {0};
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
        if ((rc = read_at(r, hdr, sizeof(hdr), pos)) != 0)
            goto out;
        uint8_t op = hdr[0];
        uint64_t len = ax__get_u64(hdr + 1);
        uint64_t next = pos + AX__MCAP_RECORD_HEADER + len;
        if (len > r->opt.max_record_size) {
            snprintf(why, why_len, "%s record at %llu claims %llu bytes (over the limit)",
                     op_name(op), (unsigned long long)pos, (unsigned long long)len);
            break;
        }
        if (len > r->size - pos - AX__MCAP_RECORD_HEADER) {
            snprintf(why, why_len, "%s record at %llu is cut off (truncated file)", op_name(op),
                     (unsigned long long)pos);
            break;
        }
        if (op != AX__OP_MESSAGE && loose.length) {
            /* A run of loose messages ends here. */
            int rc2 = pending_commit(r, &pd, &loose);
            if (rc2 == 0)
                rc2 = add_block(r, &loose);
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
            if ((bad = parse_schema(p, len, &s)) == 0)
                bad = add_schema(r, &s);
            break;
        }
        case AX__OP_CHANNEL: {
            struct ax_mcap_channel ch;
            if ((bad = parse_channel(p, len, &ch)) == 0)
                bad = add_channel(r, &ch);
            break;
        }
        case AX__OP_METADATA: {
            struct ax_mcap_metadata m;
            if ((bad = parse_metadata(p, len, &m)) == 0)
                bad = add_metadata(r, &m);
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
            struct chunk_hdr h;
            if ((bad = parse_chunk_hdr(p, len, &h)) == 0 &&
                (bad = chunk_decode(r, &dctx, &h, &dec, &dec_cap)) == 0)
                bad = scan_chunk_records(r, &pd, dec, (size_t)h.usize);
            struct block b = {.offset = pos, .length = next - pos};
            struct ax_mcap_chunk ch = {
                .offset = pos,
                .length = next - pos,
                .message_start_time = h.start,
                .message_end_time = h.end,
                .compressed_size = h.csize,
                .uncompressed_size = h.usize,
            };
            if (bad == 0 &&
                !(ch.compression = intern_compression(r, h.compression, h.compression_len)))
                bad = AX_ENOMEM;
            if (bad == 0)
                bad = pending_commit(r, &pd, &b);
            if (bad == 0 && (bad = add_block(r, &b)) != 0)
                free(b.chans);
            if (bad == 0)
                bad = add_chunk(r, &ch);
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
            snprintf(why, why_len, "bad %s record at %llu (%s)", op_name(op),
                     (unsigned long long)pos, problem(bad));
            break;
        }
        pos = next;
    }
    if (loose.length && !clean) {
        /* Messages that ran up to the damage are whole records: keep them. */
        if (pending_commit(r, &pd, &loose) == 0 && add_block(r, &loose) == 0)
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
    dctx_fini(&dctx);
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Open, info, lookups                                                      */

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

    enum summary_result s = load_summary(r);
    if (s == SUMMARY_OK) {
        r->info.from_summary = true;
        r->info.valid_end = r->size;
        r->reason[0] = '\0';
    } else {
        /* Say why the scan ran and, if it did not end cleanly, where and
         * why it stopped. */
        char stop[160];
        content_clear(r);
        if ((rc = scan(r, s == SUMMARY_BAD, stop, sizeof(stop))) != 0)
            goto fail;
        if (stop[0]) {
            char why[sizeof(r->reason)];
            memcpy(why, r->reason, sizeof(why));
            set_reason(r, "%.80s; %.110s", why, stop);
        }
    }
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
    content_clear(r);
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

int ax_mcap_reader_schema(const ax_mcap_reader *r, uint16_t id, const struct ax_mcap_schema **out)
{
    if (!r || !out)
        return AX_EINVAL;
    const struct ax_mcap_schema *s = find_schema(r, id);
    if (!s)
        return AX_ENOTFOUND;
    *out = s;
    return 0;
}

int ax_mcap_reader_channel(const ax_mcap_reader *r, uint16_t id, const struct ax_mcap_channel **out)
{
    if (!r || !out)
        return AX_EINVAL;
    const struct ax_mcap_channel *c = find_channel(r, id);
    if (!c)
        return AX_ENOTFOUND;
    *out = c;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Iteration                                                                */

struct ent {
    uint64_t log_time;
    size_t off; /* of the Message record in the cursor's buffer */
};

/* A decoded block being merged. */
struct cursor {
    const struct block *b;
    uint8_t *buf;
    size_t buf_cap;
    struct ent *ents;
    size_t ents_cap;
    size_t n, pos;
};

struct ax_mcap_iter {
    ax_mcap_reader *r;
    uint8_t *filter; /* bitmap of selected channel ids, or NULL for all */
    uint64_t start, end;
    const struct block **order; /* blocks to read, by earliest log_time */
    size_t n_order, next;
    struct cursor *active;
    size_t n_active, cap_active;
    int err; /* sticky */
    /* Buffers kept from cursor to cursor: a file is read chunk after chunk,
     * and a fresh allocation of a chunk's size each time costs page faults. */
    uint8_t *raw; /* a Chunk record as read */
    size_t raw_cap;
    struct cursor spare; /* buffers of a used-up cursor */
    struct dctx dctx;
};

void ax_mcap_iter_options_init(struct ax_mcap_iter_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    opt->end_time = UINT64_MAX;
}

static bool selected(const ax_mcap_iter *it, uint16_t id)
{
    return !it->filter || (it->filter[id >> 3] & (1u << (id & 7)));
}

static int cmp_block(const void *a, const void *b)
{
    const struct block *x = *(const struct block *const *)a, *y = *(const struct block *const *)b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int ax_mcap_iter_new(ax_mcap_reader *r, const struct ax_mcap_iter_options *opt, ax_mcap_iter **out)
{
    struct ax_mcap_iter_options all;
    if (!r || !out)
        return AX_EINVAL;
    if (!opt) {
        ax_mcap_iter_options_init(&all);
        opt = &all;
    }
    if (opt->n_topics && !opt->topics)
        return AX_EINVAL;
    ax_mcap_iter *it = calloc(1, sizeof(*it));
    if (!it)
        return AX_ENOMEM;
    it->r = r;
    it->start = opt->start_time;
    it->end = opt->end_time;
    if (opt->n_topics) {
        if (!(it->filter = calloc(65536 / 8, 1)))
            goto nomem;
        for (size_t i = 0; i < r->n_channels; i++)
            for (size_t k = 0; k < opt->n_topics; k++)
                if (opt->topics[k] && strcmp(opt->topics[k], r->channels[i].topic) == 0) {
                    uint16_t id = r->channels[i].id;
                    it->filter[id >> 3] |= (uint8_t)(1u << (id & 7));
                }
    }
    if (r->n_blocks && !(it->order = malloc(r->n_blocks * sizeof(*it->order))))
        goto nomem;
    for (size_t i = 0; i < r->n_blocks; i++) {
        const struct block *b = &r->blocks[i];
        bool empty = b->start == 0 && b->end == 0; /* may hold no messages: read it */
        if (!empty && (b->end < it->start || b->start > it->end))
            continue;
        if (it->filter && b->chans_known) {
            bool any = false;
            for (size_t k = 0; k < b->n_chans && !any; k++)
                any = selected(it, b->chans[k]);
            if (!any)
                continue;
        }
        it->order[it->n_order++] = b;
    }
    if (it->n_order > 1)
        qsort(it->order, it->n_order, sizeof(*it->order), cmp_block);
    *out = it;
    return 0;
nomem:
    ax_mcap_iter_free(it);
    return AX_ENOMEM;
}

static int cmp_ent(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    if (x->log_time != y->log_time)
        return x->log_time < y->log_time ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Read and decode block @b into a new cursor holding its selected messages. */
/* Make *@p (of *@cap bytes) hold @len bytes; its content is not kept. */
static int reserve(uint8_t **p, size_t *cap, size_t len)
{
    if (*p && *cap >= len)
        return 0;
    free(*p);
    *cap = 0;
    if (!(*p = malloc(len ? len : 1)))
        return AX_ENOMEM;
    *cap = len;
    return 0;
}

static int cursor_load(ax_mcap_iter *it, const struct block *b, struct cursor *cur)
{
    ax_mcap_reader *r = it->r;
    *cur = it->spare;
    memset(&it->spare, 0, sizeof(it->spare));
    cur->b = b;
    cur->n = cur->pos = 0;
    if (b->length > r->opt.max_record_size + AX__MCAP_RECORD_HEADER || b->length > SIZE_MAX)
        return AX_EMSGSIZE;
    size_t len = 0;
    int rc;
    if (b->loose) {
        len = (size_t)b->length;
        if ((rc = reserve(&cur->buf, &cur->buf_cap, len)) != 0 ||
            (rc = read_at(r, cur->buf, len, b->offset)) != 0)
            return rc;
    } else {
        struct chunk_hdr h;
        uint8_t *raw;
        size_t rlen = (size_t)b->length;
        if ((rc = reserve(&it->raw, &it->raw_cap, rlen)) != 0 ||
            (rc = read_at(r, it->raw, rlen, b->offset)) != 0)
            return rc;
        raw = it->raw;
        if (raw[0] != AX__OP_CHUNK || rlen < AX__MCAP_RECORD_HEADER ||
            ax__get_u64(raw + 1) != rlen - AX__MCAP_RECORD_HEADER)
            return AX_EPROTO;
        if ((rc = parse_chunk_hdr(raw + 9, rlen - 9, &h)) != 0 ||
            (rc = chunk_decode(r, &it->dctx, &h, &cur->buf, &cur->buf_cap)) != 0)
            return rc;
        len = (size_t)h.usize;
    }

    struct ax__cur c;
    uint8_t op;
    const uint8_t *p;
    uint64_t rlen;
    bool sorted = true;
    ax__cur_init(&c, cur->buf, len);
    size_t at = 0;
    while (next_record(&c, &op, &p, &rlen)) {
        if (op == AX__OP_MESSAGE) {
            if (rlen < AX__MCAP_MESSAGE_FIXED)
                return AX_EPROTO;
            uint16_t id = ax__get_u16(p);
            uint64_t t = ax__get_u64(p + 6);
            if (!find_channel(r, id))
                return AX_EPROTO;
            if (b->times_checked && (t < b->start || t > b->end))
                return AX_EPROTO;
            if (selected(it, id) && t >= it->start && t <= it->end) {
                if (grow(&cur->ents, &cur->ents_cap, cur->n + 1, sizeof(*cur->ents)) != 0)
                    return AX_ENOMEM;
                if (cur->n && t < cur->ents[cur->n - 1].log_time)
                    sorted = false;
                cur->ents[cur->n++] = (struct ent){.log_time = t, .off = at};
            }
        }
        at = c.pos;
    }
    if (c.bad)
        return AX_EPROTO;
    if (!sorted)
        qsort(cur->ents, cur->n, sizeof(*cur->ents), cmp_ent);
    return 0;
}

/* Done with @cur: keep its buffers for the next cursor, or free them. */
static void cursor_free(ax_mcap_iter *it, struct cursor *cur)
{
    if (!it->spare.buf) {
        it->spare.buf = cur->buf;
        it->spare.buf_cap = cur->buf_cap;
    } else {
        free(cur->buf);
    }
    if (!it->spare.ents) {
        it->spare.ents = cur->ents;
        it->spare.ents_cap = cur->ents_cap;
    } else {
        free(cur->ents);
    }
    memset(cur, 0, sizeof(*cur));
}

int ax_mcap_iter_next(ax_mcap_iter *it, struct ax_mcap_message *msg)
{
    if (!it || !msg)
        return AX_EINVAL;
    if (it->err)
        return it->err;
    /* Drop cursors that are used up (their data was valid until now). */
    for (size_t i = 0; i < it->n_active;) {
        if (it->active[i].pos == it->active[i].n) {
            cursor_free(it, &it->active[i]);
            it->active[i] = it->active[--it->n_active];
        } else {
            i++;
        }
    }
    for (;;) {
        struct cursor *best = NULL;
        for (size_t i = 0; i < it->n_active; i++) {
            struct cursor *c = &it->active[i];
            if (c->pos == c->n)
                continue;
            if (!best || c->ents[c->pos].log_time < best->ents[best->pos].log_time ||
                (c->ents[c->pos].log_time == best->ents[best->pos].log_time &&
                 c->b->offset < best->b->offset))
                best = c;
        }
        /* A block that may hold an earlier message joins the merge first. */
        if (it->next < it->n_order &&
            (!best || it->order[it->next]->start <= best->ents[best->pos].log_time)) {
            int rc = grow(&it->active, &it->cap_active, it->n_active + 1, sizeof(*it->active));
            if (rc != 0)
                return it->err = rc;
            struct cursor *c = &it->active[it->n_active];
            if ((rc = cursor_load(it, it->order[it->next], c)) != 0) {
                cursor_free(it, c);
                return it->err = rc;
            }
            it->next++;
            if (c->n)
                it->n_active++;
            else
                cursor_free(it, c);
            continue;
        }
        if (!best)
            return 0;
        const uint8_t *p = best->buf + best->ents[best->pos].off;
        uint64_t len = ax__get_u64(p + 1);
        p += AX__MCAP_RECORD_HEADER;
        msg->channel_id = ax__get_u16(p);
        msg->channel = find_channel(it->r, msg->channel_id);
        msg->sequence = ax__get_u32(p + 2);
        msg->log_time = ax__get_u64(p + 6);
        msg->publish_time = ax__get_u64(p + 14);
        msg->data = p + AX__MCAP_MESSAGE_FIXED;
        msg->len = (size_t)(len - AX__MCAP_MESSAGE_FIXED);
        best->pos++;
        return 1;
    }
}

void ax_mcap_iter_free(ax_mcap_iter *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n_active; i++)
        cursor_free(it, &it->active[i]);
    free(it->active);
    free(it->spare.buf);
    free(it->spare.ents);
    free(it->raw);
    dctx_fini(&it->dctx);
    free(it->order);
    free(it->filter);
    free(it);
}
