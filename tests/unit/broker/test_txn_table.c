/* Unit: the transaction state table (broker/txn_table.c): ordered adds,
 * lookups across tombstones and compactions, bounded memory for 1,000,000
 * open transactions, and the table file (round trip; a damaged, truncated or
 * reordered file is CORRUPT, never trusted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/txn_table.h"
#include "src/fs.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static void test_add_find_done(void **state)
{
    (void)state;
    struct txn_table t;
    txn_table_init(&t);
    for (uint64_t i = 0; i < 5000; i++)
        assert_int_equal(txn_table_add(&t, 10 + 2 * i, (int64_t)i, 0), 0);
    assert_int_equal(txn_table_add(&t, 5, 0, 0), TERN_E_INVAL); /* offsets only grow */
    assert_int_equal(t.open, 5000);
    /* Close every third, in a scattered order. */
    for (uint64_t i = 0; i < 5000; i += 3) {
        struct txn_entry *e = txn_table_find(&t, 10 + 2 * ((i * 7919) % 5000));
        if (e)
            txn_table_done(&t, e);
    }
    size_t open = 0;
    for (uint64_t i = 0; i < 5000; i++) {
        struct txn_entry *e = txn_table_find(&t, 10 + 2 * i);
        if (e) {
            assert_int_equal(e->prepared_ms, (int64_t)i);
            open++;
        }
        assert_null(txn_table_find(&t, 11 + 2 * i)); /* never prepared */
    }
    assert_int_equal(open, t.open);
    /* Close the rest from the front: the table empties and rewinds. */
    for (uint64_t i = 0; i < 5000; i++) {
        struct txn_entry *e = txn_table_find(&t, 10 + 2 * i);
        if (e)
            txn_table_done(&t, e);
    }
    assert_int_equal(t.open, 0);
    assert_int_equal(t.n, 0);
    assert_int_equal(t.head, 0);
    txn_table_free(&t);
}

/* 1,000,000 open transactions; then a steady state where every new one is
 * matched by a decision: memory stays bounded by the open count. */
static void test_memory_bound(void **state)
{
    (void)state;
    struct txn_table t;
    txn_table_init(&t);
    const uint64_t n = 1000000;
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(txn_table_add(&t, i, 1, 0), 0);
    size_t bytes = t.cap * sizeof(struct txn_entry);
    printf("# 1,000,000 open transactions: %zu bytes of table (%zu per entry)\n", bytes, sizeof(struct txn_entry));
    assert_int_equal(sizeof(struct txn_entry), 32);
    assert_true(bytes <= 2 * n * sizeof(struct txn_entry));
    size_t cap = t.cap;
    /* Decide in random-ish order while adding as many again. */
    for (uint64_t i = 0; i < 3 * n; i++) {
        uint64_t victim = i < n ? (i * 2654435761u) % n : n + i - n;
        struct txn_entry *e = txn_table_find(&t, victim);
        if (e)
            txn_table_done(&t, e);
        assert_int_equal(txn_table_add(&t, n + i, 1, 0), 0);
    }
    assert_true(t.open <= n);
    assert_true(t.cap <= 2 * cap);
    txn_table_free(&t);
}

static void test_file_round_trip_and_damage(void **state)
{
    (void)state;
    char dir[512], path[600], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "txn-table");
    snprintf(path, sizeof path, "%s/txn.bin", dir);
    struct txn_table t, u;
    txn_table_init(&t);
    txn_table_init(&u);
    assert_int_equal(txn_table_load(&u, dir, err), 0); /* missing: empty */
    assert_int_equal(u.open, 0);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(txn_table_add(&t, i, 1000 + (int64_t)i, (uint32_t)i * 10), 0);
    for (uint64_t i = 0; i < 100; i += 2)
        txn_table_done(&t, txn_table_find(&t, i));
    txn_table_find(&t, 51)->checks = 7;
    txn_table_find(&t, 51)->last_check_ms = 424242;
    t.applied = 987654321;
    t.half_next = 100;
    struct buf scratch;
    buf_init(&scratch);
    assert_int_equal(txn_table_save(&t, dir, &scratch, err), 0);
    assert_int_equal(txn_table_load(&u, dir, err), 0);
    assert_int_equal(u.open, 50);
    assert_int_equal(u.applied, 987654321);
    assert_int_equal(u.half_next, 100);
    for (uint64_t i = 0; i < 100; i++) {
        struct txn_entry *e = txn_table_find(&u, i);
        if (i % 2 == 0) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        assert_int_equal(e->prepared_ms, 1000 + (int64_t)i);
        assert_int_equal(e->immunity_ms, i * 10);
        assert_int_equal(e->checks, i == 51 ? 7 : 0);
        assert_int_equal(e->last_check_ms, i == 51 ? 424242 : 0);
    }
    /* Every single flipped bit or a truncation is refused. */
    struct buf img;
    buf_init(&img);
    assert_int_equal(fs_read_file(path, &img, 1 << 20, err), 0);
    for (size_t at = 0; at < img.len; at += 7) {
        img.data[at] ^= 0x10;
        assert_int_equal(fs_write_atomic(dir, "txn.bin", img.data, img.len, err), 0);
        assert_int_equal(txn_table_load(&u, dir, err), TERN_E_CORRUPT);
        img.data[at] ^= 0x10;
    }
    assert_int_equal(fs_write_atomic(dir, "txn.bin", img.data, img.len - 9, err), 0);
    assert_int_equal(txn_table_load(&u, dir, err), TERN_E_CORRUPT);
    assert_int_equal(fs_write_atomic(dir, "txn.bin", img.data, 3, err), 0);
    assert_int_equal(txn_table_load(&u, dir, err), TERN_E_CORRUPT);
    buf_free(&img);
    buf_free(&scratch);
    txn_table_free(&t);
    txn_table_free(&u);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_done),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_file_round_trip_and_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
