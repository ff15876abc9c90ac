/* Unit tests for broker/store/record.c: the unit layout of STORAGE.md §3. */
#include <stdint.h>
#include <string.h>

#include "broker/store/record.h"
#include "src/endian.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static const struct record_limits lim = {1u << 20, 4u << 20};

static void test_roundtrip_single(void **state)
{
    (void)state;
    struct buf out, scratch;
    buf_init(&out);
    buf_init(&scratch);
    struct record_msg m = {"hello", 5, 0xabcdef};
    struct record_hdr h, d;
    assert_int_equal(record_encode(&out, &scratch, &m, 1, 42, 1000, 7, 3, RECORD_CODEC_NONE, &lim, &h), 0);
    /* §3: 64-byte header + 8-byte tag + 4-byte length + payload */
    assert_int_equal(out.len, 64 + 8 + 4 + 5);
    assert_int_equal(le32_load(out.data), out.len);
    assert_int_equal(le32_load(out.data + 4), RECORD_MAGIC);
    assert_int_equal(record_decode_hdr(out.data, out.len, &lim, true, &d), 0);
    assert_true(record_verify(out.data, &d));
    assert_int_equal(d.base_offset, 42);
    assert_int_equal(d.store_ts, 1000);
    assert_int_equal(d.source_index, 7);
    assert_int_equal(d.flags, 3);
    assert_int_equal(d.count, 1);
    assert_true(record_tag(out.data, 0) == 0xabcdef);
    const uint8_t *data;
    uint32_t len, pos = 0;
    assert_int_equal(record_next_msg(record_body(out.data, &d), d.raw_len, &pos, &data, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    buf_free(&out);
    buf_free(&scratch);
}

static void test_batch_lz4_and_tags_uncompressed(void **state)
{
    (void)state;
    struct buf out, scratch;
    buf_init(&out);
    buf_init(&scratch);
    char payload[100][200];
    struct record_msg m[100];
    for (int i = 0; i < 100; i++) {
        memset(payload[i], 'a' + i % 3, sizeof payload[i]);
        m[i] = (struct record_msg){payload[i], sizeof payload[i], (uint64_t)i * 11};
    }
    struct record_hdr h;
    assert_int_equal(record_encode(&out, &scratch, m, 100, 0, 1, 0, 0, RECORD_CODEC_LZ4, &lim, &h), 0);
    assert_int_equal(h.codec, RECORD_CODEC_LZ4);
    assert_true(h.body_len < h.raw_len);
    assert_int_equal(h.raw_len, 100 * 204);
    /* Tags stay readable without decompression (§3). */
    for (int i = 0; i < 100; i++)
        assert_true(record_tag(out.data, (uint32_t)i) == (uint64_t)i * 11);
    struct record_hdr d;
    assert_int_equal(record_decode_hdr(out.data, out.len, &lim, true, &d), 0);
    assert_true(record_verify(out.data, &d));
    /* Flip one bit of the compressed body: checksum catches it. */
    out.data[out.len - 3] ^= 0x10;
    assert_false(record_verify(out.data, &d));
    buf_free(&out);
    buf_free(&scratch);
}

static void test_limits_on_every_length(void **state)
{
    (void)state;
    struct buf out, scratch;
    buf_init(&out);
    buf_init(&scratch);
    struct record_msg m = {"x", 1, 1};
    struct record_hdr h, d;
    assert_int_equal(record_encode(&out, &scratch, &m, 1, 0, 1, 0, 0, RECORD_CODEC_NONE, &lim, &h), 0);
    uint8_t u[256];
    memcpy(u, out.data, out.len);
    /* A unit claiming 4 GiB is rejected before anything is allocated. */
    le32_store(u, 0xFFFFFFF0u);
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    le32_store(u + 40, 0); /* count 0 */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    le32_store(u + 40, 1u << 30); /* huge count */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    le32_store(u + 52, 0xFFFFFFFFu); /* raw_len past max_raw */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    le32_store(u + 48, 2); /* body_len disagrees with unit_len */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    u[46] = 9; /* unknown codec */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    memcpy(u, out.data, out.len);
    u[5] ^= 1; /* magic */
    assert_int_equal(record_decode_hdr(u, out.len, &lim, false, &d), TERN_E_CORRUPT);
    /* Zero length = end of data; short input = need more. */
    memset(u, 0, sizeof u);
    assert_int_equal(record_decode_hdr(u, sizeof u, &lim, false, &d), RECORD_END);
    assert_int_equal(record_decode_hdr(out.data, 10, &lim, false, &d), RECORD_SHORT);
    assert_int_equal(record_decode_hdr(out.data, out.len - 1, &lim, true, &d), RECORD_SHORT);
    /* A message length inside the body running past it. */
    uint32_t pos = 0;
    const uint8_t *data;
    uint32_t len;
    uint8_t body[8] = {100, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(record_next_msg(body, sizeof body, &pos, &data, &len), TERN_E_CORRUPT);
    pos = 6;
    assert_int_equal(record_next_msg(body, sizeof body, &pos, &data, &len), TERN_E_CORRUPT);
    /* Encoding past the limits fails cleanly and leaves out unchanged. */
    size_t before = out.len;
    static char big[2u << 20];
    struct record_msg bm = {big, sizeof big, 0};
    assert_int_equal(record_encode(&out, &scratch, &bm, 1, 0, 1, 0, 0, RECORD_CODEC_NONE, &lim, &h),
                     TERN_E_TOOBIG);
    assert_int_equal(out.len, before);
    assert_int_equal(record_encode(&out, &scratch, &bm, 0, 0, 1, 0, 0, RECORD_CODEC_NONE, &lim, &h),
                     TERN_E_INVAL);
    buf_free(&out);
    buf_free(&scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_single),
        cmocka_unit_test(test_batch_lz4_and_tags_uncompressed),
        cmocka_unit_test(test_limits_on_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
