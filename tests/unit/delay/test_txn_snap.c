/* The transaction table's part of the catch-up snapshot (broker/txn_snap.c,
 * TRANSACTIONS.md): round trip of open entries with their check state
 * (decided ones are left out), and malformed values refused with
 * TERN_E_MALFORMED and a message, the table left empty. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "broker/txn_snap.h"
#include "src/buf.h"
#include "src/jsonw.h"
#include "tern/error.h"

static void test_round_trip(void **state)
{
    (void)state;
    struct txn_table t, u;
    txn_table_init(&t);
    txn_table_init(&u);
    for (uint64_t i = 0; i < 300; i++)
        assert_int_equal(txn_table_add(&t, 3 * i, 1700000000000 + (int64_t)i, i % 2 ? 6000 : 0), 0);
    for (uint64_t i = 0; i < 300; i += 4)
        txn_table_done(&t, txn_table_find(&t, 3 * i));
    struct txn_entry *e = txn_table_find(&t, 3 * 5);
    e->checks = 7;
    e->last_check_ms = 1700000009999;
    t.applied = 123456789;
    t.half_next = 900;

    struct buf b;
    buf_init(&b);
    struct jsonw w;
    jsonw_init(&w, &b);
    txn_snap_encode(&t, &w);
    json_t *j = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_non_null(j);
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(txn_snap_decode(&u, j, err), 0);
    assert_int_equal(u.open, t.open);
    assert_int_equal(u.open, 225);
    assert_int_equal(u.applied, 123456789);
    assert_int_equal(u.half_next, 900);
    for (uint64_t i = 0; i < 300; i++) {
        struct txn_entry *a = txn_table_find(&t, 3 * i), *c = txn_table_find(&u, 3 * i);
        assert_true((a == NULL) == (c == NULL));
        if (!a)
            continue;
        assert_int_equal(a->prepared_ms, c->prepared_ms);
        assert_int_equal(a->immunity_ms, c->immunity_ms);
        assert_int_equal(a->checks, c->checks);
        assert_int_equal(a->last_check_ms, c->last_check_ms);
        assert_int_equal(c->pending, 0);
    }
    json_decref(j);
    buf_free(&b);
    txn_table_free(&t);
    txn_table_free(&u);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[]",
        "{}",
        "{\"applied\":1,\"halfNext\":10}",
        "{\"applied\":-1,\"halfNext\":10,\"open\":[]}",
        "{\"applied\":1,\"halfNext\":\"10\",\"open\":[]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":{}}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,2,3,4]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,2,3,4,5,6]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[5,0,0,0,0],[5,0,0,0,0]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[6,0,0,0,0],[5,0,0,0,0]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[10,0,0,0,0]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,0,0,0,65536]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,0,0,4294967296,0]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,-5,0,0,0]]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1,0,0,0,0],null]}",
        "{\"applied\":1,\"halfNext\":10,\"open\":[[1.0,0,0,0,0]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        struct txn_table t;
        txn_table_init(&t);
        assert_int_equal(txn_table_add(&t, 1, 0, 0), 0); /* replaced either way */
        char err[ERRMSG_SIZE] = "";
        if (txn_snap_decode(&t, j, err) != TERN_E_MALFORMED)
            fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_true(strlen(err) > 0);
        assert_int_equal(t.open, 0);
        assert_null(txn_table_find(&t, 1));
        txn_table_free(&t);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
