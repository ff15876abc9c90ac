/* Unit tests for partition recovery (STORAGE.md §7): torn tails, bit flips,
 * checkpoint-bounded scans, length limits, source index, index rebuilds. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "broker/store/partlog.h"
#include "src/endian.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define PAYLOAD 40
#define UNIT (64 + 8 + 4 + PAYLOAD) /* §3: header + one tag + length + payload */
#define SEGHDR 32                    /* §2 */

static void payload(char *p, uint64_t i)
{
    memset(p, 'a' + (int)(i % 26), PAYLOAD);
    memcpy(p, &i, sizeof i);
}

static void append_n(struct partlog *pl, uint64_t from, uint64_t n, uint64_t src0)
{
    for (uint64_t i = from; i < from + n; i++) {
        char p[PAYLOAD];
        payload(p, i);
        struct record_msg m = {p, PAYLOAD, i};
        struct partlog_append_info info = {.source_index = src0 ? src0 + (i - from) : 0};
        uint64_t off;
        assert_int_equal(partlog_append(pl, &m, 1, &info, &off), 0);
        assert_int_equal(off, i);
    }
}

static void seg_path(char *out, size_t cap, const char *dir, uint64_t base)
{
    snprintf(out, cap, "%s/%020llu.log", dir, (unsigned long long)base);
}

static void flip(const char *path, off_t at, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void put32(const char *path, off_t at, uint32_t v)
{
    int fd = open(path, O_RDWR);
    uint8_t b[4];
    le32_store(b, v);
    assert_int_equal(pwrite(fd, b, 4, at), 4);
    close(fd);
}

static int read_at(struct partlog *pl, uint64_t off, uint32_t max, struct partlog_read_result *res)
{
    static struct partlog_msg msgs[256];
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    int rv = partlog_read(pl, off, max, 1 << 20, NULL, &rb, msgs, res);
    for (uint32_t i = 0; rv == 0 && i < res->n; i++) {
        char p[PAYLOAD];
        payload(p, msgs[i].offset);
        assert_int_equal(msgs[i].len, PAYLOAD);
        assert_memory_equal(msgs[i].data, p, PAYLOAD); /* never garbage */
    }
    partlog_readbuf_free(&rb);
    return rv;
}

/* A unit cut in the middle (file truncated past the checkpoint). */
static void test_truncated_tail_mid_unit(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-trunc");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    append_n(pl, 0, 100, 1);
    assert_int_equal(partlog_flush(pl), 0);
    partlog_close(pl);
    seg_path(path, sizeof path, dir, 0);
    assert_int_equal(truncate(path, SEGHDR + 99 * UNIT + 100), 0); /* inside the payload */
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    const struct partlog_recovery *r = partlog_recovery(pl);
    assert_true(r->cut);
    assert_int_equal(r->cut_offset, 99);
    assert_int_equal(r->cut_bytes, 100);
    assert_false(r->checkpoint_used); /* the checkpoint pointed past the file */
    assert_int_equal(partlog_end_offset(pl), 99);
    assert_int_equal(partlog_last_source_index(pl), 99); /* unit 98 had source 99 */
    struct partlog_read_result res;
    assert_int_equal(read_at(pl, 90, 100, &res), 0);
    assert_int_equal(res.n, 9);
    /* The offset is reused and the log continues cleanly. */
    append_n(pl, 99, 5, 0);
    assert_int_equal(partlog_flush(pl), 0);
    partlog_close(pl);
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    assert_false(partlog_recovery(pl)->cut);
    assert_int_equal(partlog_end_offset(pl), 104);
    assert_int_equal(read_at(pl, 95, 100, &res), 0);
    assert_int_equal(res.n, 9);
    partlog_close(pl);
    testlib_rmtree(dir);
}

/* A bit flip in the unsynced tail after the checkpoint: cut and reported. */
static void test_bitflip_in_tail_is_cut(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-flip");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    append_n(pl, 0, 50, 1);
    assert_int_equal(partlog_flush(pl), 0); /* checkpoint at 50 */
    append_n(pl, 50, 10, 51);
    assert_int_equal(partlog_write(pl), 0); /* written, not synced: no checkpoint */
    partlog_close(pl);
    seg_path(path, sizeof path, dir, 0);
    flip(path, SEGHDR + 55 * UNIT + 100, 0x04);
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    const struct partlog_recovery *r = partlog_recovery(pl);
    assert_true(r->checkpoint_used);
    assert_int_equal(r->scanned_bytes, 5 * UNIT); /* only units after the checkpoint */
    assert_true(r->cut);
    assert_int_equal(r->cut_offset, 55);
    assert_int_equal(r->cut_bytes, 5 * UNIT);
    assert_int_equal(partlog_end_offset(pl), 55);
    assert_int_equal(partlog_last_source_index(pl), 55);
    partlog_close(pl);
    testlib_rmtree(dir);
}

/* Corruption before the checkpoint is not scanned at open (startup does not
 * grow with data), but reads of it fail with CORRUPT, never garbage. */
static void test_restart_scans_only_from_checkpoint(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-ckpt");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    append_n(pl, 0, 200, 0);
    assert_int_equal(partlog_flush(pl), 0);
    partlog_close(pl);
    seg_path(path, sizeof path, dir, 0);
    flip(path, SEGHDR + 10 * UNIT + 90, 0x80);        /* payload of unit 10 */
    put32(path, SEGHDR + 150 * UNIT, 0xFFFFFFF0u);    /* unit 150 claims 4 GiB */
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    const struct partlog_recovery *r = partlog_recovery(pl);
    assert_true(r->checkpoint_used);
    assert_false(r->cut);
    assert_int_equal(r->scanned_bytes, 0);
    assert_int_equal(partlog_end_offset(pl), 200);
    struct partlog_read_result res;
    assert_int_equal(read_at(pl, 0, 100, &res), 0);
    assert_int_equal(res.n, 10); /* stops before the bad unit */
    assert_int_equal(res.next_offset, 10);
    assert_int_equal(read_at(pl, 10, 100, &res), TERN_E_CORRUPT);
    assert_int_equal(res.next_offset, 10);
    assert_int_equal(read_at(pl, 150, 10, &res), TERN_E_CORRUPT);
    assert_int_equal(read_at(pl, 120, 100, &res), 0);
    assert_int_equal(res.n, 30);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static void test_bitflip_in_closed_segment(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-closed");
    struct partlog_opts o;
    partlog_opts_default(&o);
    o.segment_bytes = 8192;
    o.prealloc_initial = 4096;
    o.index_interval = 512;
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    append_n(pl, 0, 300, 0);
    assert_int_equal(partlog_flush(pl), 0);
    assert_true(partlog_segment_count(pl) >= 4);
    partlog_close(pl);
    seg_path(path, sizeof path, dir, 0);
    flip(path, SEGHDR + 20 * UNIT + 70, 0x01); /* tag hash of unit 20 */
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    assert_false(partlog_recovery(pl)->cut);
    struct partlog_read_result res;
    assert_int_equal(read_at(pl, 15, 100, &res), 0);
    assert_int_equal(res.n, 5);
    assert_int_equal(read_at(pl, 20, 100, &res), TERN_E_CORRUPT);
    /* The index entry after the bad unit lets later data be read. */
    assert_int_equal(read_at(pl, 30, 100, &res), 0);
    assert_true(res.n > 0);
    assert_int_equal(read_at(pl, 200, 1, &res), 0);
    assert_int_equal(res.n, 1);
    /* Truncated closed segment: data missing where the log says it is. */
    partlog_close(pl);
    assert_int_equal(truncate(path, SEGHDR + 60 * UNIT + 3), 0);
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    assert_int_equal(partlog_recovery(pl)->damaged_segments, 1);
    assert_int_equal(read_at(pl, 60, 5, &res), TERN_E_CORRUPT);
    uint64_t next_seg_base = 0;
    /* Offsets of the following segment are intact. */
    for (uint64_t off = 61; off < 300; off++) {
        if (read_at(pl, off, 1, &res) == 0) {
            next_seg_base = off;
            break;
        }
    }
    assert_true(next_seg_base > 60);
    assert_int_equal(read_at(pl, 299, 1, &res), 0);
    assert_int_equal(res.n, 1);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static void test_missing_index_rebuilt_and_source_index(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-index");
    struct partlog_opts o;
    partlog_opts_default(&o);
    o.segment_bytes = 8192;
    o.prealloc_initial = 4096;
    o.index_interval = 512;
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    append_n(pl, 0, 100, 1000);      /* sources 1000..1099 */
    assert_int_equal(partlog_flush(pl), 0);
    append_n(pl, 100, 5, 0);         /* units without a source index */
    assert_int_equal(partlog_flush(pl), 0);
    assert_int_equal(partlog_last_source_index(pl), 1099);
    partlog_close(pl);
    snprintf(path, sizeof path, "%s/%020d.index", dir, 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    assert_int_equal(partlog_recovery(pl)->indexes_rebuilt, 1);
    assert_int_equal(partlog_last_source_index(pl), 1099);
    struct partlog_read_result res;
    assert_int_equal(read_at(pl, 33, 3, &res), 0);
    assert_int_equal(res.n, 3);
    partlog_close(pl);
    assert_int_equal(access(path, F_OK), 0); /* rewritten */
    /* Without a checkpoint the source index still comes from the tail units. */
    snprintf(path, sizeof path, "%s/checkpoint", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(partlog_open(dir, 1, &o, &pl, err), 0);
    assert_false(partlog_recovery(pl)->checkpoint_used);
    assert_int_equal(partlog_last_source_index(pl), 1099);
    assert_int_equal(partlog_end_offset(pl), 105);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static void test_torn_segment_header_and_garbage_behind_zeros(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], path[600];
    testlib_tmpdir(dir, sizeof dir, "rec-hdr");
    struct partlog *pl;
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    append_n(pl, 0, 10, 0);
    assert_int_equal(partlog_flush(pl), 0);
    partlog_close(pl);
    seg_path(path, sizeof path, dir, 0);
    /* Stray bytes far behind the data end (a lost page in between). */
    int fd = open(path, O_RDWR);
    assert_int_equal(pwrite(fd, "junk", 4, SEGHDR + 20 * UNIT), 4);
    close(fd);
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    assert_int_equal(partlog_end_offset(pl), 10);
    append_n(pl, 10, 12, 0); /* overwrites where the junk was */
    assert_int_equal(partlog_flush(pl), 0);
    partlog_close(pl);
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    assert_false(partlog_recovery(pl)->cut);
    assert_int_equal(partlog_end_offset(pl), 22);
    partlog_close(pl);
    /* A bad header on the active segment is rewritten; units are kept. */
    flip(path, 3, 0xff);
    assert_int_equal(partlog_open(dir, 1, NULL, &pl, err), 0);
    assert_int_equal(partlog_end_offset(pl), 22);
    struct partlog_read_result res;
    assert_int_equal(read_at(pl, 0, 100, &res), 0);
    assert_int_equal(res.n, 22);
    partlog_close(pl);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_tail_mid_unit),
        cmocka_unit_test(test_bitflip_in_tail_is_cut),
        cmocka_unit_test(test_restart_scans_only_from_checkpoint),
        cmocka_unit_test(test_bitflip_in_closed_segment),
        cmocka_unit_test(test_missing_index_rebuilt_and_source_index),
        cmocka_unit_test(test_torn_segment_header_and_garbage_behind_zeros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
