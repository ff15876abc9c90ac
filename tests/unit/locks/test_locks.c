/* Unit tests for the orderly-consumption lock table and its state-machine
 * command (broker/locks.h), driven by the fake clock (src/clock.h). */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/locks.h"
#include "protocol/lockbody.h"
#include "src/clock.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define T0 1700000000000LL

static int64_t at(int64_t ms)
{
    clock_set_fake_ms(T0 + ms);
    return clock_now_ms();
}

static void test_expiry(void **state)
{
    (void)state;
    struct locktab *t = locktab_new();
    assert_non_null(t);
    assert_true(locktab_lock(t, "g", "T", 0, "A", at(0)));
    assert_false(locktab_lock(t, "g", "T", 0, "B", at(1000)));
    assert_true(locktab_held(t, "g", "T", 0, "A", at(1000)));
    assert_false(locktab_held(t, "g", "T", 0, "B", at(1000)));
    /* Exactly 60 s after the grant the lock still stands; a moment later it lapses. */
    assert_false(locktab_lock(t, "g", "T", 0, "B", at(LOCKS_EXPIRE_MS)));
    assert_true(locktab_held(t, "g", "T", 0, "A", at(LOCKS_EXPIRE_MS)));
    assert_false(locktab_held(t, "g", "T", 0, "A", at(LOCKS_EXPIRE_MS + 1)));
    assert_true(locktab_lock(t, "g", "T", 0, "B", at(LOCKS_EXPIRE_MS + 1)));
    assert_true(locktab_held(t, "g", "T", 0, "B", at(LOCKS_EXPIRE_MS + 1)));
    assert_false(locktab_held(t, "g", "T", 0, "A", at(LOCKS_EXPIRE_MS + 1)));
    assert_int_equal(locktab_count(t), 1);
    locktab_free(t);
    clock_set_fake_ms(0);
}

static void test_renewal(void **state)
{
    (void)state;
    struct locktab *t = locktab_new();
    assert_true(locktab_lock(t, "g", "T", 3, "A", at(0)));
    assert_true(locktab_lock(t, "g", "T", 3, "A", at(20000))); /* renewal */
    assert_true(locktab_lock(t, "g", "T", 3, "A", at(40000)));
    assert_false(locktab_lock(t, "g", "T", 3, "B", at(90000)));
    assert_true(locktab_held(t, "g", "T", 3, "A", at(100000)));
    assert_true(locktab_lock(t, "g", "T", 3, "B", at(100001)));
    /* A stale command time never moves a stamp backwards. */
    assert_true(locktab_lock(t, "g", "T", 3, "B", at(50000)));
    assert_true(locktab_held(t, "g", "T", 3, "B", at(160001)));
    locktab_free(t);
    clock_set_fake_ms(0);
}

static void test_unlock_and_independence(void **state)
{
    (void)state;
    struct locktab *t = locktab_new();
    assert_true(locktab_lock(t, "g", "T", 0, "A", at(0)));
    assert_true(locktab_lock(t, "g", "T", 1, "B", at(0)));
    assert_true(locktab_lock(t, "h", "T", 0, "B", at(0))); /* another group */
    assert_true(locktab_lock(t, "g", "U", 0, "B", at(0))); /* another topic */
    locktab_unlock(t, "g", "T", 0, "B"); /* not B's: ignored */
    assert_false(locktab_lock(t, "g", "T", 0, "B", at(10)));
    locktab_unlock(t, "g", "T", 0, "A");
    assert_int_equal(locktab_count(t), 3);
    assert_true(locktab_lock(t, "g", "T", 0, "B", at(20)));
    assert_false(locktab_held(t, "g", "T", 0, "A", at(20)));
    /* A client id too long for the table is refused, not truncated into someone else's. */
    char longid[LOCKS_NAME_MAX + 10];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_false(locktab_lock(t, "g", "T", 9, longid, at(30)));
    locktab_free(t);
    clock_set_fake_ms(0);
}

static void encode(struct buf *out, int type, const char *client, const struct lockbody_mq *mqs, size_t n,
                   int64_t now)
{
    struct lockbody_req req = {"grp", client, true, (struct lockbody_mq *)mqs, n};
    buf_reset(out);
    assert_int_equal(locks_encode(out, type, &req, now), 0);
}

/* The state-machine command: applied in order, results follow its time. */
static void test_command(void **state)
{
    (void)state;
    struct broker b;
    memset(&b, 0, sizeof b);
    assert_int_equal(locks_init(&b), 0);
    struct buf cmd;
    buf_init(&cmd);
    struct lockbody_mq mqs[] = {{"T", "bk", 0}, {"T", "bk", 1}, {"Other", "bk", 7}};
    encode(&cmd, FSM_CMD_LOCK, "A", mqs, 3, T0);
    assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
    assert_true(locktab_held(b.locks, "grp", "T", 0, "A", T0));
    assert_true(locktab_held(b.locks, "grp", "T", 1, "A", T0));
    assert_true(locktab_held(b.locks, "grp", "Other", 7, "A", T0));
    /* B asks for queues 1 and 2 a minute later: only 2 is free. */
    struct lockbody_mq mb[] = {{"T", "bk", 1}, {"T", "bk", 2}};
    encode(&cmd, FSM_CMD_LOCK, "B", mb, 2, T0 + LOCKS_EXPIRE_MS);
    assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
    assert_true(locktab_held(b.locks, "grp", "T", 1, "A", T0 + LOCKS_EXPIRE_MS));
    assert_true(locktab_held(b.locks, "grp", "T", 2, "B", T0 + LOCKS_EXPIRE_MS));
    /* A releases 1; B's next command takes it. */
    encode(&cmd, FSM_CMD_UNLOCK, "A", mb, 1, T0 + LOCKS_EXPIRE_MS + 5);
    assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
    encode(&cmd, FSM_CMD_LOCK, "B", mb, 2, T0 + LOCKS_EXPIRE_MS + 6);
    assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
    assert_true(locktab_held(b.locks, "grp", "T", 1, "B", T0 + LOCKS_EXPIRE_MS + 6));

    /* Every truncation and a trailing byte are refused without a change. */
    encode(&cmd, FSM_CMD_LOCK, "C", mqs, 3, T0 + 10 * LOCKS_EXPIRE_MS);
    size_t before = locktab_count(b.locks);
    for (size_t n = 0; n < cmd.len; n++)
        assert_int_equal(locks_apply(&b, cmd.data, n), TERN_E_MALFORMED);
    buf_append_u8(&cmd, 0);
    assert_int_equal(locks_apply(&b, cmd.data, cmd.len), TERN_E_MALFORMED);
    assert_int_equal(locktab_count(b.locks), before);
    assert_false(locktab_held(b.locks, "grp", "T", 0, "C", T0 + 10 * LOCKS_EXPIRE_MS));
    /* Random bytes never crash. */
    srand(7);
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[64];
        size_t n = (size_t)(rand() % (int)sizeof junk);
        for (size_t k = 0; k < n; k++)
            junk[k] = (uint8_t)rand();
        if (n)
            junk[0] = (uint8_t)(i & 1 ? FSM_CMD_LOCK : FSM_CMD_UNLOCK);
        (void)locks_apply(&b, junk, n);
    }
    /* Names the command cannot carry are refused at encode time. */
    struct lockbody_req bad = {"", "A", true, mqs, 1};
    buf_reset(&cmd);
    assert_int_equal(locks_encode(&cmd, FSM_CMD_LOCK, &bad, T0), TERN_E_INVAL);
    struct lockbody_mq sep = {"a\x01" "b", "bk", 0};
    struct lockbody_req bad2 = {"grp", "A", true, &sep, 1};
    buf_reset(&cmd);
    assert_int_equal(locks_encode(&cmd, FSM_CMD_LOCK, &bad2, T0), TERN_E_INVAL);
    buf_free(&cmd);
    locks_free(&b);
}

static void test_since(void **state)
{
    (void)state;
    struct locktab *t = locktab_new();
    assert_true(locktab_lock(t, "g", "T", 0, "A", 100));
    assert_true(locktab_lock(t, "g", "T", 0, "A", 20100)); /* renewal keeps the start */
    assert_int_equal(locktab_since(t, "g", "T", 0, "A"), 100);
    assert_int_equal(locktab_since(t, "g", "T", 0, "B"), -1);
    assert_true(locktab_lock(t, "g", "T", 0, "B", 20100 + LOCKS_EXPIRE_MS + 1));
    assert_int_equal(locktab_since(t, "g", "T", 0, "B"), 20100 + LOCKS_EXPIRE_MS + 1);
    locktab_free(t);
}

static unsigned answer_mask(struct broker *b, const struct buf *cmd)
{
    struct buf out, arena;
    buf_init(&out);
    buf_init(&arena);
    assert_int_equal(locks_answer(b, cmd->data, cmd->len, &out), 0);
    struct lockbody_mq *ok;
    size_t n;
    char err[256];
    assert_int_equal(lockbody_ok_decode((const char *)out.data, out.len, &ok, &n, &arena, err), 0);
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(ok[i].broker_name, "bk");
        mask |= 1u << ok[i].queue_id;
    }
    buf_free(&out);
    buf_free(&arena);
    return mask;
}

/* Raft snapshots carry the table: a member restored from one answers like
 * the member that took it. */
static void test_snapshot_roundtrip(void **state)
{
    (void)state;
    struct broker a, r;
    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    snprintf(a.conf.name, sizeof a.conf.name, "bk");
    snprintf(r.conf.name, sizeof r.conf.name, "bk");
    assert_int_equal(locks_init(&a), 0);
    assert_int_equal(locks_init(&r), 0);
    struct buf cmd, snap;
    buf_init(&cmd);
    buf_init(&snap);
    struct lockbody_mq q01[] = {{"T", "bk", 0}, {"T", "bk", 1}}, q12[] = {{"T", "bk", 1}, {"T", "bk", 2}};
    encode(&cmd, FSM_CMD_LOCK, "A", q01, 2, T0);
    assert_int_equal(locks_apply(&a, cmd.data, cmd.len), 0);
    encode(&cmd, FSM_CMD_LOCK, "A", q01, 2, T0 + 20000); /* a renewal: since stays T0 */
    assert_int_equal(locks_apply(&a, cmd.data, cmd.len), 0);
    buf_append_str(&snap, "{\"format\":1,\"locks\":");
    assert_int_equal(locks_snapshot(&a, &snap), 0);
    buf_append_str(&snap, "}");
    locks_restore(&r, (const char *)snap.data, snap.len);
    assert_int_equal(locktab_count(r.locks), 2);
    assert_int_equal(locktab_since(r.locks, "grp", "T", 1, "A"), T0);
    /* The same later command gives the same answer on both. */
    encode(&cmd, FSM_CMD_LOCK, "B", q12, 2, T0 + 30000);
    assert_int_equal(locks_apply(&a, cmd.data, cmd.len), 0);
    assert_int_equal(locks_apply(&r, cmd.data, cmd.len), 0);
    assert_int_equal(answer_mask(&a, &cmd), 0x4);
    assert_int_equal(answer_mask(&r, &cmd), 0x4);
    encode(&cmd, FSM_CMD_LOCK, "B", q12, 2, T0 + 20000 + LOCKS_EXPIRE_MS + 1); /* A's expired */
    assert_int_equal(locks_apply(&r, cmd.data, cmd.len), 0);
    assert_int_equal(answer_mask(&r, &cmd), 0x6);
    buf_free(&cmd);
    buf_free(&snap);
    locks_free(&a);
    locks_free(&r);
}

/* A snapshot without a lock table (older format) or with a corrupt one:
 * nothing is granted for 60 s (a lost hold has expired by then). */
static void test_blind_after_snapshot_without_locks(void **state)
{
    (void)state;
    static const char *const snaps[] = {
        "{\"format\":1}",
        "{\"format\":1,\"locks\":[{\"k\":\"x\",\"c\":\"A\",\"l\":\"soon\",\"s\":1}]}",
        "{\"format\":1,\"locks\":[7]}",
        "not json at all",
    };
    for (size_t k = 0; k < sizeof snaps / sizeof snaps[0]; k++) {
        struct broker b;
        memset(&b, 0, sizeof b);
        snprintf(b.conf.name, sizeof b.conf.name, "bk");
        assert_int_equal(locks_init(&b), 0);
        struct buf cmd;
        buf_init(&cmd);
        struct lockbody_mq q01[] = {{"T", "bk", 0}, {"T", "bk", 1}};
        at(5000);
        locks_restore(&b, snaps[k], strlen(snaps[k]));
        encode(&cmd, FSM_CMD_LOCK, "A", q01, 2, at(6000));
        assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
        assert_int_equal(answer_mask(&b, &cmd), 0x0);
        /* The table changed as on every member; after the window it answers. */
        assert_true(locktab_held(b.locks, "grp", "T", 1, "A", T0 + 6000));
        encode(&cmd, FSM_CMD_LOCK, "A", q01, 2, at(5000 + LOCKS_EXPIRE_MS));
        assert_int_equal(locks_apply(&b, cmd.data, cmd.len), 0);
        assert_int_equal(answer_mask(&b, &cmd), 0x3);
        buf_free(&cmd);
        locks_free(&b);
    }
    clock_set_fake_ms(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_renewal),
        cmocka_unit_test(test_unlock_and_independence),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_since),
        cmocka_unit_test(test_snapshot_roundtrip),
        cmocka_unit_test(test_blind_after_snapshot_without_locks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
