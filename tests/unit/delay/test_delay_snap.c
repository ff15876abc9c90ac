/* The delay lanes' part of the catch-up snapshot (broker/delay_snap.c,
 * DELAY.md §6): encode/decode round trip of a lane's cursor and cursor-bucket
 * head, a rebuilt index that agrees with the source at and after the cursor
 * (so DELIVER positions mean the same records), and malformed lane objects
 * refused with TERN_E_MALFORMED and a message. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "broker/delay_snap.h"
#include "broker/delayidx.h"
#include "src/buf.h"
#include "src/jsonw.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static char dir[512], dir2[512];

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "delaysnap_a");
    testlib_tmpdir(dir2, sizeof dir2, "delaysnap_b");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testlib_rmtree(dir);
    testlib_rmtree(dir2);
    return 0;
}

/* Source index: the cursor bucket 100 holds records due there and overdue
 * ones clamped into it; buckets 101 and 105 hold their own. */
static void build_source(struct delayidx *x)
{
    char err[ERRMSG_SIZE];
    assert_int_equal(delayidx_open(x, dir, 1000, err), 0);
    assert_int_equal(delayidx_insert(x, 0, 100100), 0); /* bucket 100 pos 0 */
    assert_int_equal(delayidx_insert(x, 1, 101500), 0); /* 101 */
    assert_int_equal(delayidx_insert(x, 2, 100900), 0); /* 100 pos 1 */
    assert_int_equal(delayidx_insert(x, 3, 105000), 0); /* 105 */
    assert_int_equal(delayidx_insert(x, 4, 90000), 0);  /* overdue: 100 pos 2 */
    assert_int_equal(delayidx_insert(x, 5, 0), 0);      /* undecodable: 100 pos 3 */
    assert_int_equal(delayidx_insert(x, 6, 100500), 0); /* 100 pos 4 */
    assert_int_equal(delayidx_insert(x, 7, 101000), 0); /* 101 */
    assert_int_equal(delayidx_save(x), 0);
    assert_int_equal(delayidx_set_cursor(x, 100, 2, 77), 0); /* two delivered */
}

static json_t *encode(struct delayidx *x)
{
    struct buf b;
    buf_init(&b);
    struct jsonw w;
    jsonw_init(&w, &b);
    assert_int_equal(delay_snap_encode(x, &w), 0);
    assert_int_equal(b.err, 0);
    json_error_t je;
    json_t *j = json_loadb((const char *)b.data, b.len, 0, &je);
    assert_non_null(j);
    buf_free(&b);
    return j;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct delayidx x;
    build_source(&x);
    json_t *j = encode(&x);
    struct delay_snap_lane s;
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(delay_snap_decode(j, 1000, &s, err), 0);
    assert_int_equal(s.cur_bucket, 100);
    assert_int_equal(s.cur_idx, 2);
    assert_int_equal(s.indexed_next, 8);
    assert_int_equal(s.last_source, 77);
    /* The undelivered rest of bucket 100: offsets 4, 5, 6. */
    assert_int_equal(s.nhead, 3);
    assert_int_equal(s.head[0].lane_off, 4);
    assert_int_equal(s.head[0].due_ms, 90000);
    assert_int_equal(s.head[1].lane_off, 5);
    assert_int_equal(s.head[1].due_ms, 0);
    assert_int_equal(s.head[2].lane_off, 6);
    assert_int_equal(s.head[2].due_ms, 100500);
    delay_snap_lane_free(&s);
    json_decref(j);
    delayidx_close(&x);
}

static void assert_same_from(struct delayidx *a, struct delayidx *b, int64_t bucket, uint32_t from)
{
    uint32_t ca, cb;
    assert_int_equal(delayidx_count(a, bucket, &ca), 0);
    assert_int_equal(delayidx_count(b, bucket, &cb), 0);
    assert_int_equal(ca, cb);
    struct delayidx_ent ea[16], eb[16];
    uint32_t na, nb;
    assert_int_equal(delayidx_read(a, bucket, from, ea, 16, &na), 0);
    assert_int_equal(delayidx_read(b, bucket, from, eb, 16, &nb), 0);
    assert_int_equal(na, nb);
    for (uint32_t i = 0; i < na; i++) {
        assert_int_equal(ea[i].lane_off, eb[i].lane_off);
        assert_int_equal(ea[i].due_ms, eb[i].due_ms);
    }
}

/* A member with a stale index of its own resets to the snapshot and re-adds
 * the records due after the cursor bucket (what restore does while scanning
 * the lane partition): at and after the cursor it equals the source. */
static void test_reset_matches_source(void **state)
{
    (void)state;
    struct delayidx x, y;
    char err[ERRMSG_SIZE] = "";
    build_source(&x);
    json_t *j = encode(&x);
    struct delay_snap_lane s;
    assert_int_equal(delay_snap_decode(j, 1000, &s, err), 0);

    assert_int_equal(delayidx_open(&y, dir2, 1000, err), 0);
    assert_int_equal(delayidx_insert(&y, 0, 50000), 0); /* stale state */
    assert_int_equal(delayidx_save(&y), 0);
    assert_int_equal(delayidx_reset(&y, s.cur_bucket, s.cur_idx, s.head, s.nhead), 0);
    uint32_t c;
    assert_int_equal(delayidx_count(&y, 50, &c), 0);
    assert_int_equal(c, 0); /* stale bucket gone */
    static const int64_t due[8] = {100100, 101500, 100900, 105000, 90000, 0, 100500, 101000};
    for (uint64_t off = 0; off < 8; off++)
        if (delayidx_bucket_of(&y, due[off]) > s.cur_bucket)
            assert_int_equal(delayidx_insert(&y, off, due[off]), 0);
    y.indexed_next = s.indexed_next;
    y.last_source = s.last_source;
    assert_int_equal(delayidx_save(&y), 0);
    delayidx_close(&y);
    assert_int_equal(delayidx_open(&y, dir2, 1000, err), 0); /* persisted */
    assert_int_equal(y.cur_bucket, 100);
    assert_int_equal(y.cur_idx, 2);
    assert_int_equal(y.indexed_next, 8);
    assert_int_equal(y.last_source, 77);
    assert_same_from(&x, &y, 100, 2);
    for (int64_t b = 101; b <= 106; b++)
        assert_same_from(&x, &y, b, 0);
    /* A later apply lands the same on both (clamped into the cursor bucket). */
    assert_int_equal(delayidx_insert(&x, 8, 1000), 0);
    assert_int_equal(delayidx_insert(&y, 8, 1000), 0);
    assert_same_from(&x, &y, 100, 2);
    /* Resetting again is idempotent. */
    assert_int_equal(delayidx_reset(&y, s.cur_bucket, s.cur_idx, s.head, s.nhead), 0);
    assert_int_equal(delayidx_count(&y, 100, &c), 0);
    assert_int_equal(c, 5);
    delay_snap_lane_free(&s);
    json_decref(j);
    delayidx_close(&x);
    delayidx_close(&y);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[]",
        "{}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1}", /* no head */
        "{\"bucketMs\":500,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":\"100\",\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":-2,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":4294967296,\"indexedNext\":5,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":-1,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":-1,\"curIdx\":3,\"indexedNext\":5,\"lastSource\":1,\"head\":[]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[[100000,3],[100000,2]]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[[100000,5]]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[[101000,1]]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[[100000]]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[7]}",
        "{\"bucketMs\":1000,\"curBucket\":100,\"curIdx\":0,\"indexedNext\":5,\"lastSource\":1,\"head\":[[1.5,1]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i], 0, &je);
        assert_non_null(j);
        struct delay_snap_lane s;
        char err[ERRMSG_SIZE] = "";
        int rv = delay_snap_decode(j, 1000, &s, err);
        if (rv != TERN_E_MALFORMED)
            fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_true(strlen(err) > 0);
        assert_null(s.head);
        json_decref(j);
    }
    /* Minimal valid one: an unused lane. */
    json_t *j = json_loads(
        "{\"bucketMs\":1000,\"curBucket\":-1,\"curIdx\":0,\"indexedNext\":0,\"lastSource\":0,\"head\":[]}", 0, NULL);
    struct delay_snap_lane s;
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(delay_snap_decode(j, 1000, &s, err), 0);
    assert_int_equal(s.cur_bucket, -1);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_matches_source, setup, teardown),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
