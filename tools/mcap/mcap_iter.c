/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Iterating an MCAP file's messages in log-time order across blocks (ties
 * in file order), filtered by topics and a time range.
 *
 * Design: only blocks whose time range and, when known from the chunk
 * index or the scan, whose channels match are read. The blocks are merged
 * by log time: taken in order of their earliest log time, each one decoded
 * when the merge reaches its start time, so only blocks whose time ranges
 * overlap are held in memory at once (one, for files axon writes, whose log
 * times only grow). A decoded block becomes a cursor: the offsets of its
 * selected messages, sorted by log time.
 */
#include <stdlib.h>

#include "ax__mcap_reader.h"
#include "base/ax__array.h"

struct ent {
    uint64_t log_time;
    size_t off; /* of the Message record in the cursor's buffer */
};

/* A decoded block being merged. */
struct cursor {
    const struct ax__mcap_block *b;
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
    const struct ax__mcap_block **order; /* blocks to read, by earliest log_time */
    size_t n_order, next;
    struct cursor *active;
    size_t n_active, cap_active;
    int err; /* sticky */
    /* Buffers kept from cursor to cursor: a file is read chunk after chunk,
     * and a fresh allocation of a chunk's size each time costs page faults. */
    uint8_t *raw; /* a Chunk record as read */
    size_t raw_cap;
    struct cursor spare; /* buffers of a used-up cursor */
    struct ax__mcap_dctx dctx;
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
    const struct ax__mcap_block *x = *(const struct ax__mcap_block *const *)a,
                                *y = *(const struct ax__mcap_block *const *)b;
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
        const struct ax__mcap_block *b = &r->blocks[i];
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

/* Read and decode block @b into a new cursor holding its selected messages. */
static int cursor_load(ax_mcap_iter *it, const struct ax__mcap_block *b, struct cursor *cur)
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
            (rc = ax__mcap_read_at(r, cur->buf, len, b->offset)) != 0)
            return rc;
    } else {
        struct ax__mcap_chunk_hdr h;
        uint8_t *raw;
        size_t rlen = (size_t)b->length;
        if ((rc = reserve(&it->raw, &it->raw_cap, rlen)) != 0 ||
            (rc = ax__mcap_read_at(r, it->raw, rlen, b->offset)) != 0)
            return rc;
        raw = it->raw;
        if (raw[0] != AX__OP_CHUNK || rlen < AX__MCAP_RECORD_HEADER ||
            ax__get_u64(raw + 1) != rlen - AX__MCAP_RECORD_HEADER)
            return AX_EPROTO;
        if ((rc = ax__mcap_parse_chunk_hdr(raw + 9, rlen - 9, &h)) != 0 ||
            (rc = ax__mcap_chunk_decode(r->opt.max_chunk_size, &it->dctx, &h, &cur->buf,
                                        &cur->buf_cap)) != 0)
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
    while (ax__mcap_next_record(&c, &op, &p, &rlen)) {
        if (op == AX__OP_MESSAGE) {
            if (rlen < AX__MCAP_MESSAGE_FIXED)
                return AX_EPROTO;
            uint16_t id = ax__get_u16(p);
            uint64_t t = ax__get_u64(p + 6);
            if (!ax__mcap_find_channel(r, id))
                return AX_EPROTO;
            if (b->times_checked && (t < b->start || t > b->end))
                return AX_EPROTO;
            if (selected(it, id) && t >= it->start && t <= it->end) {
                if (ax__array_reserve(&cur->ents, &cur->ents_cap, cur->n + 1, 8) != 0)
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
            int rc = ax__array_reserve(&it->active, &it->cap_active, it->n_active + 1, 8);
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
        msg->channel = ax__mcap_find_channel(it->r, msg->channel_id);
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
    ax__mcap_dctx_fini(&it->dctx);
    free(it->order);
    free(it->filter);
    free(it);
}
