/* Unit tests for the verbatim-unit path of a replica catch-up
 * (broker/store/partlog.c partlog_read_units / partlog_import; STORAGE.md §3,
 * REPLICATION.md §6): units copied chunk by chunk land byte-identical with
 * the same offsets, store times and source indexes; a damaged, truncated or
 * misplaced chunk is refused whole and nothing is appended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/partlog.h"
#include "src/endian.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static struct partlog_opts small_opts(void)
{
    struct partlog_opts o;
    partlog_opts_default(&o);
    o.segment_bytes = 16384; /* many segments: chunks stop at their ends */
    o.prealloc_initial = 4096;
    o.index_interval = 512;
    return o;
}

/* ~2000 messages in singles and lz4/plain batches; source index per unit. */
static uint64_t fill_source(struct partlog *pl)
{
    char payload[16][80];
    struct record_msg m[16];
    uint64_t off, src = 1;
    for (int round = 0; round < 300; round++) {
        uint32_t n = (uint32_t)(round % 3 == 0 ? 1 : 10);
        for (uint32_t i = 0; i < n; i++) {
            unsigned h = (unsigned)round * 2654435761u ^ i * 40503u; /* barely compressible */
            snprintf(payload[i], sizeof payload[i], "r%03d-m%02u-%08x-%08x-%08x", round, i, h, h * 7919u, h ^ 0x5bd1e995u);
            m[i] = (struct record_msg){payload[i], (uint32_t)strlen(payload[i]), (uint64_t)i};
        }
        struct partlog_append_info info = {
            .source_index = src++ << 16, .store_ts = 1700000000000 + round, .codec = round % 2 ? RECORD_CODEC_LZ4 : RECORD_CODEC_NONE};
        assert_int_equal(partlog_append(pl, m, n, &info, &off), 0);
        if (round % 7 == 0)
            assert_int_equal(partlog_flush(pl), 0);
    }
    assert_int_equal(partlog_flush(pl), 0);
    return partlog_next_offset(pl);
}

/* Every unit of both logs, concatenated: must be equal byte for byte. */
static void all_units(struct partlog *pl, struct partlog_readbuf *rb, struct buf *out)
{
    uint64_t at = 0, next;
    buf_reset(out);
    while (at < partlog_end_offset(pl)) {
        assert_int_equal(partlog_read_units(pl, at, UINT64_MAX, 1 << 20, rb, out, &next), 0);
        assert_true(next > at);
        at = next;
    }
}

static void test_copy_chunks_byte_identical(void **state)
{
    (void)state;
    char sdir[512], ddir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(sdir, sizeof sdir, "imp-src");
    testlib_tmpdir(ddir, sizeof ddir, "imp-dst");
    struct partlog_opts o = small_opts();
    struct partlog *src, *dst;
    assert_int_equal(partlog_open(sdir, 7, &o, &src, err), 0);
    assert_int_equal(partlog_open(ddir, 7, &o, &dst, err), 0);
    uint64_t end = fill_source(src);
    assert_true(partlog_segment_count(src) > 2);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct buf chunk;
    buf_init(&chunk);
    /* Copy up to a point inside the log first: units past `mid` are not sent. */
    uint64_t mid = 300, next;
    int chunks = 0;
    while (partlog_next_offset(dst) < mid) {
        buf_reset(&chunk);
        assert_int_equal(partlog_read_units(src, partlog_next_offset(dst), mid, 2048, &rb, &chunk, &next), 0);
        if (chunk.len == 0)
            break; /* the unit straddling mid is not sent */
        assert_true(next <= mid);
        uint64_t e;
        assert_int_equal(partlog_import(dst, chunk.data, chunk.len, &e), 0);
        assert_int_equal(e, next);
        assert_int_equal(partlog_flush(dst), 0);
        chunks++;
    }
    assert_true(partlog_next_offset(dst) <= mid && partlog_next_offset(dst) > mid - 10);
    /* Then the rest, across segment ends. */
    while (partlog_next_offset(dst) < end) {
        buf_reset(&chunk);
        assert_int_equal(partlog_read_units(src, partlog_next_offset(dst), end, 2048, &rb, &chunk, &next), 0);
        assert_true(chunk.len > 0);
        uint64_t e;
        assert_int_equal(partlog_import(dst, chunk.data, chunk.len, &e), 0);
        assert_int_equal(partlog_flush(dst), 0);
        chunks++;
    }
    assert_true(chunks > 4);
    assert_int_equal(partlog_next_offset(dst), end);
    assert_int_equal(partlog_last_source_index(dst), partlog_last_source_index(src));
    /* Reopen: recovery accepts the imported units as its own. */
    partlog_close(dst);
    assert_int_equal(partlog_open(ddir, 7, &o, &dst, err), 0);
    assert_false(partlog_recovery(dst)->cut);
    assert_int_equal(partlog_end_offset(dst), end);
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    all_units(src, &rb, &a);
    all_units(dst, &rb, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* Messages read back the same, store times and source indexes included. */
    struct partlog_msg ms[4], md[4];
    struct partlog_read_result rs, rd;
    struct partlog_readbuf rb2;
    partlog_readbuf_init(&rb2);
    for (uint64_t i = 0; i < end; i += 13) {
        assert_int_equal(partlog_read(src, i, 1, 1 << 20, NULL, &rb, ms, &rs), 0);
        assert_int_equal(partlog_read(dst, i, 1, 1 << 20, NULL, &rb2, md, &rd), 0);
        assert_int_equal(ms[0].offset, md[0].offset);
        assert_int_equal(ms[0].store_ts, md[0].store_ts);
        assert_int_equal(ms[0].source_index, md[0].source_index);
        assert_int_equal(ms[0].len, md[0].len);
        assert_memory_equal(ms[0].data, md[0].data, ms[0].len);
    }
    partlog_readbuf_free(&rb2);
    buf_free(&a);
    buf_free(&b);
    buf_free(&chunk);
    partlog_readbuf_free(&rb);
    partlog_close(src);
    partlog_close(dst);
    testlib_rmtree(sdir);
    testlib_rmtree(ddir);
}

static void assert_refused(struct partlog *dst, const uint8_t *p, size_t n, uint64_t at)
{
    uint64_t e = 12345;
    assert_int_equal(partlog_import(dst, p, n, &e), TERN_E_CORRUPT);
    assert_int_equal(e, 12345);
    assert_false(partlog_has_pending(dst));
    assert_int_equal(partlog_next_offset(dst), at);
    assert_int_equal(partlog_flush(dst), 0);
    assert_int_equal(partlog_end_offset(dst), at);
}

static void test_bad_chunks_refused_whole(void **state)
{
    (void)state;
    char sdir[512], ddir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(sdir, sizeof sdir, "imp-bad-src");
    testlib_tmpdir(ddir, sizeof ddir, "imp-bad-dst");
    struct partlog_opts o = small_opts();
    struct partlog *src, *dst;
    assert_int_equal(partlog_open(sdir, 3, &o, &src, err), 0);
    assert_int_equal(partlog_open(ddir, 3, &o, &dst, err), 0);
    fill_source(src);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct buf chunk;
    buf_init(&chunk);
    uint64_t next;
    assert_int_equal(partlog_read_units(src, 0, UINT64_MAX, 4096, &rb, &chunk, &next), 0);
    assert_true(next > 11); /* several units */
    size_t first_len = le32_load(chunk.data);
    assert_true(first_len < chunk.len);
    uint8_t *bad = malloc(chunk.len);
    /* 1. A flipped byte in the body of the second unit: checksum mismatch,
     *    and the first (good) unit is not appended either. */
    memcpy(bad, chunk.data, chunk.len);
    bad[first_len + le32_load(chunk.data + first_len) - 1] ^= 0x40;
    assert_refused(dst, bad, chunk.len, 0);
    assert_non_null(strstr(partlog_errmsg(dst), "checksum"));
    /* 2. Truncated: the last unit is cut short. */
    assert_refused(dst, chunk.data, chunk.len - 5, 0);
    assert_non_null(strstr(partlog_errmsg(dst), "truncated"));
    /* 3. A unit whose length field lies. */
    memcpy(bad, chunk.data, chunk.len);
    bad[0] = 3;
    assert_refused(dst, bad, chunk.len, 0);
    /* 4. Units that do not start at this log's end (a gap). */
    assert_refused(dst, chunk.data + first_len, chunk.len - first_len, 0);
    assert_non_null(strstr(partlog_errmsg(dst), "contiguous"));
    /* The intact chunk is then accepted. */
    uint64_t e;
    assert_int_equal(partlog_import(dst, chunk.data, chunk.len, &e), 0);
    assert_int_equal(e, next);
    assert_int_equal(partlog_flush(dst), 0);
    assert_int_equal(partlog_end_offset(dst), next);
    /* 5. The same chunk again: offsets already present, refused. */
    assert_refused(dst, chunk.data, chunk.len, next);
    free(bad);
    buf_free(&chunk);
    partlog_readbuf_free(&rb);
    partlog_close(src);
    partlog_close(dst);
    testlib_rmtree(sdir);
    testlib_rmtree(ddir);
}

static void test_read_units_bounds(void **state)
{
    (void)state;
    char sdir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(sdir, sizeof sdir, "imp-bounds");
    struct partlog_opts o = small_opts();
    struct partlog *src;
    assert_int_equal(partlog_open(sdir, 4, &o, &src, err), 0);
    uint64_t end = fill_source(src);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct buf chunk;
    buf_init(&chunk);
    uint64_t next;
    /* Offset 2 is inside the first batch (offsets 1..10). */
    assert_int_equal(partlog_read_units(src, 2, end, 4096, &rb, &chunk, &next), TERN_E_INVAL);
    assert_int_equal(chunk.len, 0);
    /* An end inside a batch sends only the units before it. */
    assert_int_equal(partlog_read_units(src, 0, 5, 4096, &rb, &chunk, &next), 0);
    assert_int_equal(next, 1);
    assert_int_equal(le32_load(chunk.data), chunk.len);
    /* At or past the end: nothing, no error. */
    buf_reset(&chunk);
    assert_int_equal(partlog_read_units(src, end, end + 100, 4096, &rb, &chunk, &next), 0);
    assert_int_equal(chunk.len, 0);
    assert_int_equal(next, end);
    /* max_bytes below one unit still returns that one unit. */
    assert_int_equal(partlog_read_units(src, 1, end, 1, &rb, &chunk, &next), 0);
    assert_int_equal(next, 11);
    buf_free(&chunk);
    partlog_readbuf_free(&rb);
    partlog_close(src);
    testlib_rmtree(sdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_chunks_byte_identical),
        cmocka_unit_test(test_bad_chunks_refused_whole),
        cmocka_unit_test(test_read_units_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
