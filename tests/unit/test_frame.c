/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The frame codec (pure decoder), CRC32C and payload buffers.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ax_test.h"
#include "transport/ax__buf.h"
#include "transport/ax__crc32c.h"
#include "transport/ax__frame.h"

#define MAXP (1u << 20)

/* Build a frame (header + payload) into @out; returns its length. */
static size_t make_frame(uint8_t *out, uint8_t type, uint64_t seq, const void *payload,
                         uint32_t len, bool crc)
{
    struct ax__frame_hdr h = {.type = type,
                              .stream = 7,
                              .seq = seq,
                              .timestamp_ns = 1700000000123456789LL,
                              .payload_len = len,
                              .flags = crc ? AX__FRAME_F_PAYLOAD_CRC : 0,
                              .payload_crc = crc ? ax__crc32c(0, payload, len) : 0};
    ax__frame_encode_header(out, &h);
    if (len)
        memcpy(out + AX__FRAME_HEADER_SIZE, payload, len);
    return AX__FRAME_HEADER_SIZE + len;
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* The standard check value, and RFC 3720's 32 zero bytes / 32 0xff. */
    assert_int_equal(ax__crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(ax__crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t z[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(ax__crc32c(0, z, 32), 0x8A9136AAu);
    assert_int_equal(ax__crc32c(0, ff, 32), 0x62A8AB43u);
    /* Hardware and table agree on every length and alignment, and chain. */
    uint8_t buf[1100];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 37)
            assert_int_equal(ax__crc32c(0, buf + off, len), ax__crc32c_sw(0, buf + off, len));
    uint32_t chained = ax__crc32c(ax__crc32c(0, buf, 500), buf + 500, 600);
    assert_int_equal(chained, ax__crc32c(0, buf, 1100));
    print_message("crc32c implementation: %s\n", ax__crc32c_impl());
}

static void test_header_round_trip(void **state)
{
    (void)state;
    uint8_t f[AX__FRAME_HEADER_SIZE + 16];
    size_t n = make_frame(f, AX__FRAME_DATA, 0x0102030405060708ull, "0123456789abcdef", 16, true);
    /* The wire bytes are fixed, little-endian, independent of the host. */
    static const uint8_t magic[4] = {0x41, 0x58, 0x4F, 0x4E};
    assert_memory_equal(f, magic, 4);
    assert_int_equal(f[4], 1);
    assert_int_equal(f[8], 48);
    assert_int_equal(f[24], 0x08);
    assert_int_equal(f[31], 0x01);

    struct ax__frame_hdr h;
    const uint8_t *payload = NULL;
    const char *why = NULL;
    assert_int_equal(ax__frame_decode(f, n, MAXP, &h, &payload, &why), (long)n);
    assert_int_equal(h.type, AX__FRAME_DATA);
    assert_int_equal(h.stream, 7);
    assert_true(h.seq == 0x0102030405060708ull);
    assert_true(h.timestamp_ns == 1700000000123456789LL);
    assert_int_equal(h.payload_len, 16);
    assert_ptr_equal(payload, f + AX__FRAME_HEADER_SIZE);
}

/* The same stream decoded whole, one byte at a time, and split at every
 * boundary gives the same frames. */
static void test_whole_bytewise_and_split(void **state)
{
    (void)state;
    uint8_t stream[4096];
    size_t len = 0;
    const char *payloads[] = {"", "a", "hello", "a longer payload with some more bytes in it"};
    for (int i = 0; i < 12; i++) {
        const char *p = payloads[i % 4];
        len += make_frame(stream + len, AX__FRAME_DATA, (uint64_t)i + 1, p, (uint32_t)strlen(p),
                          i % 2);
    }
    /* Whole: all twelve frames, many per buffer. */
    size_t off = 0;
    int frames = 0;
    while (off < len) {
        struct ax__frame_hdr h;
        const uint8_t *pl;
        const char *why;
        long r = ax__frame_decode(stream + off, len - off, MAXP, &h, &pl, &why);
        assert_true(r > 0);
        assert_true(h.seq == (uint64_t)frames + 1);
        assert_memory_equal(pl, payloads[frames % 4], h.payload_len);
        off += (size_t)r;
        frames++;
    }
    assert_int_equal(frames, 12);

    /* Split at every boundary: with only a prefix, the decoder says "need
     * more" (never an error, never a wrong frame); with the rest appended it
     * gives the frame. Byte-by-byte is the same walk. */
    size_t first_len;
    {
        struct ax__frame_hdr h;
        const uint8_t *pl;
        const char *why;
        long r0 = ax__frame_decode(stream, len, MAXP, &h, &pl, &why);
        first_len = (size_t)r0;
    }
    for (size_t cut = 0; cut < first_len; cut++) {
        struct ax__frame_hdr h;
        const uint8_t *pl;
        const char *why = NULL;
        long r = ax__frame_decode(stream, cut, MAXP, &h, &pl, &why);
        if (r != 0)
            fail_msg("prefix of %zu bytes: got %ld (%s)", cut, r, why ? why : "");
    }
    for (size_t o = 0; o < len;) {
        size_t have = 0;
        long r = 0;
        struct ax__frame_hdr h;
        const uint8_t *pl;
        const char *why;
        while (r == 0) {
            have++;
            assert_true(o + have <= len);
            r = ax__frame_decode(stream + o, have, MAXP, &h, &pl, &why);
        }
        assert_true(r > 0);
        assert_int_equal((size_t)r, have); /* complete exactly at its last byte */
        o += have;
    }
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t f[AX__FRAME_HEADER_SIZE + 8];
    struct ax__frame_hdr h;
    const uint8_t *pl;
    const char *why;
    size_t n = make_frame(f, AX__FRAME_DATA, 1, "payload!", 8, true);

    uint8_t bad[sizeof f];
    /* Bad magic is caught on the first byte already. */
    memcpy(bad, f, n);
    bad[0] = 'X';
    assert_int_equal(ax__frame_decode(bad, 1, MAXP, &h, &pl, &why), AX_EPROTO);
    assert_string_equal(why, "bad magic");
    /* Unknown version. */
    memcpy(bad, f, n);
    bad[4] = 2;
    assert_int_equal(ax__frame_decode(bad, n, MAXP, &h, &pl, &why), AX_EVERSION);
    /* Header length out of range. */
    memcpy(bad, f, n);
    bad[8] = 40;
    assert_int_equal(ax__frame_decode(bad, n, MAXP, &h, &pl, &why), AX_EPROTO);
    /* Any flipped header bit fails the header CRC. */
    for (size_t byte = 10; byte < AX__FRAME_HEADER_SIZE; byte++) {
        memcpy(bad, f, n);
        bad[byte] ^= 0x10;
        long r = ax__frame_decode(bad, n, MAXP, &h, &pl, &why);
        assert_int_equal(r, AX_ECRC);
    }
    /* Payload CRC mismatch. */
    memcpy(bad, f, n);
    bad[AX__FRAME_HEADER_SIZE + 3] ^= 1;
    assert_int_equal(ax__frame_decode(bad, n, MAXP, &h, &pl, &why), AX_ECRC);
    assert_string_equal(why, "payload CRC mismatch");
    /* Unknown frame type (valid CRC). */
    uint8_t t[AX__FRAME_HEADER_SIZE];
    make_frame(t, 200, 1, NULL, 0, false);
    assert_int_equal(ax__frame_decode(t, sizeof t, MAXP, &h, &pl, &why), AX_EPROTO);
    assert_string_equal(why, "unknown frame type");
    /* Oversized: refused from the header alone, before any payload. */
    struct ax__frame_hdr big = {.type = AX__FRAME_DATA, .payload_len = MAXP + 1};
    ax__frame_encode_header(t, &big);
    assert_int_equal(ax__frame_decode_header(t, sizeof t, MAXP, &h, &why), AX_EMSGSIZE);
    /* A later header length (extension fields) is skipped correctly. */
    uint8_t ext[64 + 4];
    memset(ext, 0xAB, sizeof ext);
    struct ax__frame_hdr eh = {.type = AX__FRAME_DATA, .payload_len = 4, .seq = 9};
    ax__frame_encode_header(ext, &eh);
    ext[8] = 64; /* header_len = 64: 16 extension bytes */
    /* recompute the header CRC over the 64 bytes, as a v2 sender would */
    uint8_t zero4[4] = {0};
    uint32_t c = ax__crc32c(0, ext, 44);
    c = ax__crc32c(c, zero4, 4);
    c = ax__crc32c(c, ext + 48, 16);
    for (int i = 0; i < 4; i++)
        ext[44 + i] = (uint8_t)(c >> (8 * i));
    memcpy(ext + 64, "DATA", 4);
    assert_int_equal(ax__frame_decode(ext, sizeof ext, MAXP, &h, &pl, &why), 68);
    assert_memory_equal(pl, "DATA", 4);
    assert_true(h.seq == 9);
}

/* Small buffers are recycled: no malloc per message in the steady state. */
static void test_buf_pool_steady_state(void **state)
{
    (void)state;
    ax__buf *b;
    AX_OK_OR_FAIL(ax__buf_new(64, &b)); /* warm the cache */
    ax__buf_release(b);
    struct ax__buf_stats before, after;
    ax__buf_stats(&before);
    for (int i = 0; i < 100000; i++) {
        AX_OK_OR_FAIL(ax__buf_new((size_t)(i % 200), &b));
        memset(b->data, i, b->len);
        ax__buf_hold(b); /* a second "connection" */
        ax__buf_release(b);
        ax__buf_release(b);
    }
    ax__buf_stats(&after);
    assert_true(after.mallocs - before.mallocs <= 1);
    assert_true(after.cache_hits - before.cache_hits >= 99999);

    /* Headroom in front of the payload, and cached payload CRCs. */
    AX_OK_OR_FAIL(ax__buf_new(9, &b));
    assert_true(b->data - (uint8_t *)(b + 1) == AX__BUF_HEADROOM);
    memcpy(b->data, "123456789", 9);
    assert_int_equal(ax__buf_payload_crc(b), 0xE3069283u);
    assert_int_equal(ax__buf_payload_crc(b), 0xE3069283u);
    ax__buf_release(b);
    /* Large buffers come from malloc and go back to it. */
    AX_OK_OR_FAIL(ax__buf_new(8u << 20, &b));
    assert_int_equal(b->len, 8u << 20);
    ax__buf_release(b);
}

/* One thread allocates, another releases (a publisher and a loop): buffers
 * flow back through the depot, so the producer does not malloc per message. */
#define XT_N    200000
#define XT_RING 1024
static ax__buf *xt_ring[XT_RING];
static unsigned xt_head, xt_tail;
static pthread_mutex_t xt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t xt_cv = PTHREAD_COND_INITIALIZER;

static void *xt_consumer(void *arg)
{
    (void)arg;
    for (int i = 0; i < XT_N; i++) {
        pthread_mutex_lock(&xt_mu);
        while (xt_head == xt_tail)
            pthread_cond_wait(&xt_cv, &xt_mu);
        ax__buf *b = xt_ring[xt_tail++ % XT_RING];
        pthread_cond_broadcast(&xt_cv);
        pthread_mutex_unlock(&xt_mu);
        ax__buf_release(b);
    }
    return NULL;
}

static void test_buf_pool_across_threads(void **state)
{
    (void)state;
    struct ax__buf_stats before, after;
    ax__buf_stats(&before);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, xt_consumer, NULL), 0);
    for (int i = 0; i < XT_N; i++) {
        ax__buf *b;
        AX_OK_OR_FAIL(ax__buf_new(64, &b));
        pthread_mutex_lock(&xt_mu);
        while (xt_head - xt_tail == XT_RING)
            pthread_cond_wait(&xt_cv, &xt_mu);
        xt_ring[xt_head++ % XT_RING] = b;
        pthread_cond_broadcast(&xt_cv);
        pthread_mutex_unlock(&xt_mu);
    }
    pthread_join(th, NULL);
    ax__buf_stats(&after);
    uint64_t mallocs = after.mallocs - before.mallocs;
    print_message("%d buffers across threads: %llu mallocs\n", XT_N, (unsigned long long)mallocs);
    /* At most the ring in flight plus a few batches, not one per message. */
    assert_true(mallocs < XT_RING + 200);
}

static int wrapped_freed;

static void wrapped_free(void *data, void *arg)
{
    (void)arg;
    free(data);
    wrapped_freed++;
}

static void test_buf_wrap(void **state)
{
    (void)state;
    char *mem = malloc(100);
    assert_non_null(mem);
    ax__buf *b;
    AX_OK_OR_FAIL(ax__buf_wrap(mem, 100, wrapped_free, NULL, &b));
    ax__buf_hold(b);
    ax__buf_release(b);
    assert_int_equal(wrapped_freed, 0);
    ax__buf_release(b);
    assert_int_equal(wrapped_freed, 1);
    assert_int_equal(ax__buf_wrap(NULL, 5, NULL, NULL, &b), AX_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),           cmocka_unit_test(test_header_round_trip),
        cmocka_unit_test(test_whole_bytewise_and_split), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_buf_pool_steady_state),    cmocka_unit_test(test_buf_wrap),
        cmocka_unit_test(test_buf_pool_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
