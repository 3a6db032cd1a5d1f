/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCAP reader's records, one at a time: Schema, Channel, Metadata and
 * Chunk content parsed into the reader's structs, and a chunk's records
 * decompressed and CRC-checked. Nothing here knows the file or the reader's
 * tables, so the summary, the scan and the iterator all parse through it.
 *
 * Every field is read through struct ax__cur, which refuses to read past
 * the record; every length is checked before anything is allocated.
 */
#include <stdlib.h>

#ifdef AXON_MCAP_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef AXON_MCAP_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "ax__mcap_reader.h"

/* A NUL-terminated copy of @len bytes. */
char *ax__mcap_dup_str(const uint8_t *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        if (len)
            memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* What went wrong with a record, for recovery_reason. (Words of our own:
 * this library uses axon's error codes but not its library.) */
const char *ax__mcap_op_name(uint8_t op)
{
    static const char *const names[] = {
        "invalid",  "Header",        "Footer",        "Schema",     "Channel",         "Message",
        "Chunk",    "MessageIndex",  "ChunkIndex",    "Attachment", "AttachmentIndex", "Statistics",
        "Metadata", "MetadataIndex", "SummaryOffset", "DataEnd"};
    return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

const char *ax__mcap_problem(int rc)
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

void ax__mcap_schema_fini(struct ax_mcap_schema *s)
{
    free((char *)s->name); /* name, encoding and data share one block */
}

void ax__mcap_channel_fini(struct ax_mcap_channel *c)
{
    free((char *)c->topic); /* topic and message_encoding share one block */
    free((void *)c->metadata);
}

void ax__mcap_metadata_fini(struct ax_mcap_metadata *m)
{
    free((char *)m->name);
    free((void *)m->kv);
}

/* Schema record content → @s (owning). */
int ax__mcap_parse_schema(const uint8_t *p, size_t len, struct ax_mcap_schema *s)
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
int ax__mcap_parse_channel(const uint8_t *p, size_t len, struct ax_mcap_channel *ch)
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

int ax__mcap_parse_metadata(const uint8_t *p, size_t len, struct ax_mcap_metadata *m)
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
    if (!(m->name = ax__mcap_dup_str(name, nl))) {
        free(kv);
        return AX_ENOMEM;
    }
    m->kv = kv;
    m->n_kv = n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Chunks                                                                   */

int ax__mcap_parse_chunk_hdr(const uint8_t *p, size_t len, struct ax__mcap_chunk_hdr *h)
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

void ax__mcap_dctx_fini(struct ax__mcap_dctx *d)
{
#ifdef AXON_MCAP_HAVE_ZSTD
    ZSTD_freeDCtx(d->zstd);
    d->zstd = NULL;
#else
    (void)d;
#endif
}

/* Sizes are checked before anything is allocated; see the header. */
int ax__mcap_chunk_decode(uint64_t max_size, struct ax__mcap_dctx *d,
                          const struct ax__mcap_chunk_hdr *h, uint8_t **bufp, size_t *capp)
{
    if (h->usize > max_size || h->usize > SIZE_MAX - 1)
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
