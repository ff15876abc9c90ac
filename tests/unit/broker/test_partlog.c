/* Unit tests for broker/store/partlog.c: append/read, rolls, index lookups,
 * time search, filters, retention (STORAGE.md §2-§4, §9, §10). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/partlog.h"
#include "src/clock.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static struct partlog_opts small_opts(void)
{
    struct partlog_opts o;
    partlog_opts_default(&o);
    o.segment_bytes = 16384;
    o.prealloc_initial = 4096;
    o.index_interval = 512;
    return o;
}

static uint64_t append_one(struct partlog *pl, const char *s, uint64_t tag)
{
    struct record_msg m = {s, (uint32_t)strlen(s), tag};
    uint64_t off;
    assert_int_equal(partlog_append(pl, &m, 1, NULL, &off), 0);
    return off;
}

static void fmt_payload(char *p, size_t cap, uint64_t i)
{
    snprintf(p, cap, "message-%06llu-padding-padding-padding", (unsigned long long)i);
}

static void test_roundtrip_single_and_batch(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "pl-rt");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 5, NULL, &pl, err), 0);
    assert_int_equal(partlog_end_offset(pl), 0);
    assert_int_equal(append_one(pl, "first", 1), 0);
    /* A batch of 50, compressed, then one uncompressed batch of 3. */
    char payload[50][64];
    struct record_msg m[50];
    for (int i = 0; i < 50; i++) {
        fmt_payload(payload[i], sizeof payload[i], (uint64_t)i);
        m[i] = (struct record_msg){payload[i], (uint32_t)strlen(payload[i]), (uint64_t)(i % 5)};
    }
    struct partlog_append_info lz = {.source_index = 9, .flags = 2, .codec = RECORD_CODEC_LZ4};
    uint64_t off;
    assert_int_equal(partlog_append(pl, m, 50, &lz, &off), 0);
    assert_int_equal(off, 1);
    struct partlog_append_info pl3 = {.source_index = 10};
    assert_int_equal(partlog_append(pl, m, 3, &pl3, &off), 0);
    assert_int_equal(off, 51);
    /* Not visible before it is written and synced (standalone mode). */
    assert_int_equal(partlog_end_offset(pl), 0);
    assert_int_equal(partlog_flush(pl), 0);
    assert_int_equal(partlog_end_offset(pl), 54);
    assert_int_equal(partlog_last_source_index(pl), 10);

    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[100];
    struct partlog_read_result res;
    assert_int_equal(partlog_read(pl, 0, 100, 1 << 20, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 54);
    assert_int_equal(res.next_offset, 54);
    assert_true(res.end_reached);
    assert_int_equal(msgs[0].len, 5);
    assert_memory_equal(msgs[0].data, "first", 5);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(msgs[1 + i].offset, 1 + i);
        assert_int_equal(msgs[1 + i].len, strlen(payload[i]));
        assert_memory_equal(msgs[1 + i].data, payload[i], msgs[1 + i].len);
        assert_int_equal(msgs[1 + i].tag_hash, i % 5);
        assert_int_equal(msgs[1 + i].source_index, 9);
        assert_int_equal(msgs[1 + i].flags, 2);
    }
    assert_memory_equal(msgs[53].data, payload[2], msgs[53].len);
    /* Start inside a compressed batch, and limits on count and bytes. */
    assert_int_equal(partlog_read(pl, 10, 5, 1 << 20, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 5);
    assert_int_equal(msgs[0].offset, 10);
    assert_memory_equal(msgs[0].data, payload[9], msgs[0].len);
    assert_int_equal(res.next_offset, 15);
    assert_false(res.end_reached);
    assert_int_equal(partlog_read(pl, 10, 100, 1, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 1); /* at least one message even past max_bytes */
    assert_int_equal(res.next_offset, 11);
    /* At/after end: empty. */
    assert_int_equal(partlog_read(pl, 54, 10, 1000, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 0);
    assert_true(res.end_reached);
    assert_int_equal(partlog_read(pl, 999, 10, 1000, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 0);
    partlog_readbuf_free(&rb);
    partlog_close(pl);

    /* Reopen: same content, id checked. */
    assert_int_equal(partlog_open(dir, 6, NULL, &pl, err), TERN_E_INVAL);
    assert_int_equal(partlog_open(dir, 5, NULL, &pl, err), 0);
    assert_int_equal(partlog_end_offset(pl), 54);
    assert_int_equal(partlog_last_source_index(pl), 10);
    assert_int_equal(append_one(pl, "after", 0), 54);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static bool tag_is_3(uint64_t tag, void *arg)
{
    (void)arg;
    return tag == 3;
}

static void test_filter_skips_and_reports_scan(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "pl-filter");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    for (int i = 0; i < 100; i++)
        append_one(pl, "payload", (uint64_t)(i % 10));
    assert_int_equal(partlog_flush(pl), 0);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[100];
    struct partlog_read_result res;
    struct partlog_filter f = {tag_is_3, NULL};
    assert_int_equal(partlog_read(pl, 0, 100, 1 << 20, &f, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 10);
    for (uint32_t i = 0; i < res.n; i++)
        assert_int_equal(msgs[i].offset, i * 10 + 3);
    /* Nothing matching after offset 94: n == 0 and the scan position moves. */
    assert_int_equal(partlog_read(pl, 94, 100, 1 << 20, &f, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.next_offset, 100);
    assert_true(res.end_reached);
    partlog_readbuf_free(&rb);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name), s = strlen(suffix);
        if (l > s && strcmp(de->d_name + l - s, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void test_roll_and_index_across_segments(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "pl-roll");
    struct partlog_opts o = small_opts();
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 2, &o, &pl, err), 0);
    char p[64];
    for (uint64_t i = 0; i < 2000; i++) {
        fmt_payload(p, sizeof p, i);
        assert_int_equal(append_one(pl, p, i), i);
        if (i % 37 == 0)
            assert_int_equal(partlog_flush(pl), 0);
    }
    assert_int_equal(partlog_flush(pl), 0);
    uint32_t nseg = partlog_segment_count(pl);
    assert_true(nseg > 10); /* ~130 KB of units in 16 KiB segments */
    assert_int_equal(count_files(dir, ".log"), (int)nseg);
    assert_int_equal(count_files(dir, ".index"), (int)nseg);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[8];
    struct partlog_read_result res;
    /* Random point reads land on the right message in every segment. */
    for (int k = 0; k < 2; k++) {
        for (uint64_t i = 0; i < 2000; i += 7) {
            assert_int_equal(partlog_read(pl, i, 1, 1 << 20, NULL, &rb, msgs, &res), 0);
            assert_int_equal(res.n, 1);
            assert_int_equal(msgs[0].offset, i);
            fmt_payload(p, sizeof p, i);
            assert_int_equal(msgs[0].len, strlen(p));
            assert_memory_equal(msgs[0].data, p, msgs[0].len);
        }
        /* Second round after reopen: closed segments load their index files. */
        partlog_close(pl);
        assert_int_equal(partlog_open(dir, 2, &o, &pl, err), 0);
        assert_int_equal(partlog_segment_count(pl), nseg);
        assert_int_equal(partlog_recovery(pl)->indexes_rebuilt, 0);
        assert_false(partlog_recovery(pl)->cut);
        /* open verified only index tails + the checkpoint tail, not everything */
        assert_true(partlog_recovery(pl)->scanned_bytes < (uint64_t)nseg * 2 * o.index_interval + 16384);
    }
    /* Sequential read hops segment by segment. */
    uint64_t at = 0, total = 0;
    while (at < 2000) {
        assert_int_equal(partlog_read(pl, at, 8, 1 << 20, NULL, &rb, msgs, &res), 0);
        assert_true(res.n > 0);
        for (uint32_t i = 0; i < res.n; i++)
            assert_int_equal(msgs[i].offset, at + i);
        total += res.n;
        at = res.next_offset;
    }
    assert_int_equal(total, 2000);
    partlog_readbuf_free(&rb);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static void test_time_search_both_boundaries(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "pl-time");
    struct partlog_opts o = small_opts();
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 3, &o, &pl, err), 0);
    /* Offsets 0..999, store time 10000 + 10 * (i / 2): two messages per tick. */
    char p[64];
    for (uint64_t i = 0; i < 1000; i++) {
        clock_set_fake_ms(10000 + 10 * (int64_t)(i / 2));
        fmt_payload(p, sizeof p, i);
        append_one(pl, p, 0);
        if (i % 50 == 0)
            assert_int_equal(partlog_flush(pl), 0);
    }
    assert_int_equal(partlog_flush(pl), 0);
    assert_true(partlog_segment_count(pl) > 3);
    uint64_t off;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(partlog_search_time(pl, 10000, PARTLOG_TIME_FIRST_GE, &off), 0);
        assert_int_equal(off, 0);
        assert_int_equal(partlog_search_time(pl, 12345, PARTLOG_TIME_FIRST_GE, &off), 0);
        assert_int_equal(off, 470); /* first tick >= 12345 is 12350 = i/2 == 235 */
        assert_int_equal(partlog_search_time(pl, 12350, PARTLOG_TIME_FIRST_GE, &off), 0);
        assert_int_equal(off, 470);
        assert_int_equal(partlog_search_time(pl, 12350, PARTLOG_TIME_LAST_LE, &off), 0);
        assert_int_equal(off, 471);
        assert_int_equal(partlog_search_time(pl, 12349, PARTLOG_TIME_LAST_LE, &off), 0);
        assert_int_equal(off, 469);
        assert_int_equal(partlog_search_time(pl, 14990, PARTLOG_TIME_LAST_LE, &off), 0);
        assert_int_equal(off, 999);
        assert_int_equal(partlog_search_time(pl, 99999, PARTLOG_TIME_LAST_LE, &off), 0);
        assert_int_equal(off, 999);
        assert_int_equal(partlog_search_time(pl, 99999, PARTLOG_TIME_FIRST_GE, &off), TERN_E_NOTFOUND);
        assert_int_equal(off, 1000);
        assert_int_equal(partlog_search_time(pl, 5, PARTLOG_TIME_LAST_LE, &off), TERN_E_NOTFOUND);
        assert_int_equal(off, 0);
        assert_int_equal(partlog_search_time(pl, 5, PARTLOG_TIME_FIRST_GE, &off), 0);
        assert_int_equal(off, 0);
        assert_int_equal(partlog_earliest_time(pl), 10000);
        partlog_close(pl);
        assert_int_equal(partlog_open(dir, 3, &o, &pl, err), 0);
    }
    /* A clock going backwards cannot break the order: times stay monotonic. */
    clock_set_fake_ms(500);
    uint64_t o1 = append_one(pl, "late", 0);
    assert_int_equal(partlog_flush(pl), 0);
    assert_int_equal(partlog_search_time(pl, 14990, PARTLOG_TIME_LAST_LE, &off), 0);
    assert_int_equal(off, o1);
    clock_set_fake_ms(0);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static void test_retention_age_and_size(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "pl-ret");
    struct partlog_opts o = small_opts();
    o.retention_ms = 1000;
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 4, &o, &pl, err), 0);
    char p[64];
    /* Old data at t=1000.., new data at t=100000.. */
    for (uint64_t i = 0; i < 600; i++) {
        clock_set_fake_ms(i < 300 ? 1000 + (int64_t)i : 100000 + (int64_t)i);
        fmt_payload(p, sizeof p, i);
        append_one(pl, p, 0);
        assert_int_equal(partlog_flush(pl), 0);
    }
    uint32_t nseg = partlog_segment_count(pl);
    assert_true(nseg >= 4);
    uint32_t deleted;
    /* Nothing is old yet at t=100000+600 relative to the newest in each segment... */
    assert_int_equal(partlog_retain(pl, 1500, &deleted), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(partlog_min_offset(pl), 0);
    /* At t=100000 every segment whose newest time is < 99000 goes. */
    assert_int_equal(partlog_retain(pl, 100000, &deleted), 0);
    assert_true(deleted >= 1);
    uint64_t min = partlog_min_offset(pl);
    assert_true(min > 0 && min <= 300);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[4];
    struct partlog_read_result res;
    assert_int_equal(partlog_read(pl, 0, 4, 1000, NULL, &rb, msgs, &res), TERN_E_RANGE);
    assert_int_equal(res.min_offset, min);
    assert_int_equal(partlog_read(pl, min, 4, 1000, NULL, &rb, msgs, &res), 0);
    assert_int_equal(msgs[0].offset, min);
    /* Far future: everything but the active segment goes, never the active one. */
    assert_int_equal(partlog_retain(pl, INT64_MAX / 2, &deleted), 0);
    assert_int_equal(partlog_segment_count(pl), 1);
    assert_int_equal(partlog_end_offset(pl), 600);
    assert_int_equal(partlog_read(pl, partlog_min_offset(pl), 4, 1000, NULL, &rb, msgs, &res), 0);
    partlog_close(pl);
    assert_int_equal(count_files(dir, ".log"), 1);

    /* Size: keep under 3 segments' worth. */
    o.retention_ms = 0;
    o.retention_bytes = 3 * 16384;
    assert_int_equal(partlog_open(dir, 4, &o, &pl, err), 0);
    uint64_t min0 = partlog_min_offset(pl);
    for (uint64_t i = 0; i < 1500; i++) {
        fmt_payload(p, sizeof p, i);
        append_one(pl, p, 0);
        if (i % 10 == 0)
            assert_int_equal(partlog_flush(pl), 0);
    }
    assert_int_equal(partlog_flush(pl), 0);
    assert_true(partlog_size_bytes(pl) > o.retention_bytes);
    assert_int_equal(partlog_retain(pl, clock_now_ms(), &deleted), 0);
    assert_true(deleted > 0);
    assert_true(partlog_size_bytes(pl) <= o.retention_bytes);
    assert_true(partlog_min_offset(pl) > min0);
    assert_int_equal(partlog_end_offset(pl), 2100);
    partlog_readbuf_free(&rb);
    partlog_close(pl);
    clock_set_fake_ms(0);
    testlib_rmtree(dir);
}

static void test_geometric_preallocation(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "pl-prealloc");
    struct partlog_opts o;
    partlog_opts_default(&o);
    o.segment_bytes = 8u << 20;
    o.prealloc_initial = 64 << 10;
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 7, &o, &pl, err), 0);
    snprintf(path, sizeof path, "%s/%020d.log", dir, 0);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    assert_int_equal(ftell(f), 64 << 10); /* an idle partition reserves only the first step */
    fclose(f);
    static char big[100000];
    struct record_msg m = {big, sizeof big, 0};
    uint64_t off;
    assert_int_equal(partlog_append(pl, &m, 1, NULL, &off), 0);
    assert_int_equal(partlog_flush(pl), 0);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    /* Doubled to 128 KiB for the write, and the sync job already reserved the
     * next step (256 KiB) because less than half was free: never 8 MiB. */
    assert_int_equal(ftell(f), 256 << 10);
    fclose(f);
    partlog_close(pl);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_single_and_batch),
        cmocka_unit_test(test_filter_skips_and_reports_scan),
        cmocka_unit_test(test_roll_and_index_across_segments),
        cmocka_unit_test(test_time_search_both_boundaries),
        cmocka_unit_test(test_retention_age_and_size),
        cmocka_unit_test(test_geometric_preallocation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
