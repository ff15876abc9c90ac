/* The delay lane time index (broker/delayidx.c, DELAY.md §2): on-disk
 * buckets, restart, idempotent re-insert, clamping, cursor moves, torn tail
 * and a damaged meta file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "broker/delay.h"
#include "broker/delayidx.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static char dir[512];

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "delayidx");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testlib_rmtree(dir);
    return 0;
}

static void bucket_file(int64_t bucket, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020lld.idx", dir, (long long)bucket);
}

static void test_insert_read_restart(void **state)
{
    (void)state;
    struct delayidx x;
    char err[ERRMSG_SIZE];
    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(x.cur_bucket, -1);
    /* 3 messages due in second 100, 2 in second 102 (interleaved). */
    assert_int_equal(delayidx_insert(&x, 0, 100100), 0);
    assert_int_equal(delayidx_insert(&x, 1, 102500), 0);
    assert_int_equal(delayidx_insert(&x, 2, 100900), 0);
    assert_int_equal(delayidx_insert(&x, 3, 102000), 0);
    assert_int_equal(delayidx_insert(&x, 4, 100000), 0);
    assert_int_equal(delayidx_save(&x), 0);
    assert_int_equal(x.cur_bucket, 100); /* the first insert sets the cursor */
    delayidx_close(&x);

    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(x.cur_bucket, 100);
    assert_int_equal(x.indexed_next, 5);
    struct delayidx_ent e[8];
    uint32_t n, count;
    assert_int_equal(delayidx_read(&x, 100, 0, e, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].lane_off, 0);
    assert_int_equal(e[0].due_ms, 100100);
    assert_int_equal(e[1].lane_off, 2);
    assert_int_equal(e[2].lane_off, 4);
    assert_int_equal(delayidx_read(&x, 102, 1, e, 8, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].lane_off, 3);
    assert_int_equal(delayidx_count(&x, 101, &count), 0);
    assert_int_equal(count, 0);

    /* A replay re-inserts offsets already indexed: nothing changes. */
    assert_int_equal(delayidx_insert(&x, 2, 100900), 0);
    assert_int_equal(delayidx_insert(&x, 4, 100000), 0);
    assert_int_equal(delayidx_count(&x, 100, &count), 0);
    assert_int_equal(count, 3);
    delayidx_close(&x);
}

static void test_cursor_and_clamp(void **state)
{
    (void)state;
    struct delayidx x;
    char err[ERRMSG_SIZE];
    char path[600];
    struct stat st;
    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(delayidx_insert(&x, 0, 5000), 0);
    assert_int_equal(delayidx_insert(&x, 1, 5500), 0);
    assert_int_equal(delayidx_insert(&x, 2, 7000), 0);
    assert_int_equal(delayidx_set_cursor(&x, 5, 1, 11), 0);
    assert_int_equal(delayidx_set_cursor(&x, 6, 0, 12), 0);
    bucket_file(5, path, sizeof path);
    assert_int_not_equal(stat(path, &st), 0); /* passed buckets are deleted */
    /* Due before the cursor: lands in the cursor bucket, after its records. */
    assert_int_equal(delayidx_insert(&x, 3, 1000), 0);
    uint32_t count, n;
    assert_int_equal(delayidx_count(&x, 6, &count), 0);
    assert_int_equal(count, 1);
    struct delayidx_ent e[4];
    assert_int_equal(delayidx_read(&x, 6, 0, e, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(e[0].lane_off, 3);
    assert_int_equal(e[0].due_ms, 1000);
    assert_int_equal(delayidx_save(&x), 0);
    delayidx_close(&x);
    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(x.cur_bucket, 6);
    assert_int_equal(x.cur_idx, 0);
    assert_int_equal(x.last_source, 12);
    delayidx_close(&x);
    /* A different bucket width would misplace every record: refused. */
    assert_int_equal(delayidx_open(&x, dir, 500, err), TERN_E_CORRUPT);
}

static void test_torn_tail_and_crash_between_writes(void **state)
{
    (void)state;
    struct delayidx x;
    char err[ERRMSG_SIZE], path[600];
    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(delayidx_insert(&x, 0, 9000), 0);
    assert_int_equal(delayidx_insert(&x, 1, 9100), 0);
    assert_int_equal(delayidx_save(&x), 0);
    /* Record 2 reached the bucket but the meta update did not (kill -9
     * between the two writes): the replay must not index it twice. */
    assert_int_equal(delayidx_insert(&x, 2, 9200), 0);
    delayidx_close(&x);
    /* And a torn partial record after it. */
    bucket_file(9, path, sizeof path);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x01\x02\x03\x04\x05\x06\x07", 7), 7);
    close(fd);

    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(x.indexed_next, 2);
    uint32_t count, n;
    assert_int_equal(delayidx_count(&x, 9, &count), 0);
    assert_int_equal(count, 3); /* the partial record was cut */
    assert_int_equal(delayidx_insert(&x, 2, 9200), 0); /* replay */
    assert_int_equal(delayidx_insert(&x, 3, 9300), 0);
    struct delayidx_ent e[8];
    assert_int_equal(delayidx_read(&x, 9, 0, e, 8, &n), 0);
    assert_int_equal(n, 4);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(e[i].lane_off, i);
    delayidx_close(&x);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4 * DELAYIDX_REC);
}

static void test_bad_meta(void **state)
{
    (void)state;
    struct delayidx x;
    char err[ERRMSG_SIZE], path[600];
    assert_int_equal(delayidx_open(&x, dir, 1000, err), 0);
    assert_int_equal(delayidx_insert(&x, 0, 9000), 0);
    assert_int_equal(delayidx_save(&x), 0);
    delayidx_close(&x);
    snprintf(path, sizeof path, "%s/meta", dir);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "\xff", 1, 20), 1);
    close(fd);
    assert_int_equal(delayidx_open(&x, dir, 1000, err), TERN_E_CORRUPT);
    assert_non_null(strstr(err, "checksum"));
}

static void test_parse_levels(void **state)
{
    (void)state;
    int64_t l[DELAY_MAX_LEVELS];
    assert_int_equal(delay_parse_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", l,
                                        DELAY_MAX_LEVELS),
                     18);
    assert_int_equal(l[0], 1000);
    assert_int_equal(l[4], 60000);
    assert_int_equal(l[17], 7200000);
    assert_int_equal(delay_parse_levels("200ms 1d", l, DELAY_MAX_LEVELS), 2);
    assert_int_equal(l[0], 200);
    assert_int_equal(l[1], 86400000);
    assert_int_equal(delay_parse_levels("1s 5x", l, DELAY_MAX_LEVELS), -1);
    assert_int_equal(delay_parse_levels("10", l, DELAY_MAX_LEVELS), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_read_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_and_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_and_crash_between_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_meta, setup, teardown),
        cmocka_unit_test(test_parse_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
