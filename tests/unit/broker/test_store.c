/* Unit tests for broker/store/store.c: group commit on a real uv loop,
 * callback ordering, visibility, close, physical offsets (STORAGE.md §8). */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "broker/store/store.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

struct ctx {
    struct store *st;
    int acked[2];
    uint64_t last_off[2];
    int bad_order;
    int before_sync; /* callbacks that fired while not yet synced: must stay 0 */
    int failed;
    int events[64];  /* 1 = visible, 2 = append callback */
    int n_events;
    uint64_t vis_end;
    int closed;
};

struct req {
    struct store_append_req r;
    struct ctx *c;
    int part;
    uint64_t off;
};

static void append_cb(struct store_append_req *r, int status)
{
    struct req *q = (struct req *)r;
    struct ctx *c = q->c;
    if (status) {
        c->failed++;
        return;
    }
    struct partlog *pl = store_partition_by_id(c->st, (uint32_t)q->part + 1);
    if (partlog_synced_offset(pl) < q->off + 1)
        c->before_sync++;
    if (c->acked[q->part] && q->off <= c->last_off[q->part])
        c->bad_order++;
    c->last_off[q->part] = q->off;
    c->acked[q->part]++;
    if (c->n_events < 64)
        c->events[c->n_events++] = 2;
}

static void visible_cb(struct store *st, struct partlog *pl, uint64_t end, void *arg)
{
    (void)st;
    (void)pl;
    struct ctx *c = arg;
    c->vis_end = end;
    if (c->n_events < 64)
        c->events[c->n_events++] = 1;
}

static void close_cb(void *arg)
{
    ((struct ctx *)arg)->closed = 1;
}

static void do_append(struct ctx *c, struct partlog *pl, struct req *q, int part)
{
    struct record_msg m = {"0123456789", 10, 7};
    q->c = c;
    q->part = part;
    assert_int_equal(store_append(c->st, pl, &m, 1, NULL, &q->r, append_cb, &q->off), 0);
}

static void test_group_commit_one_sync_per_pass(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "st-gc");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = {0};
    struct store_opts o;
    store_opts_default(&o);
    o.visible_cb = visible_cb;
    o.cb_arg = &c;
    assert_int_equal(store_open(&loop, dir, &o, &c.st, err), 0);
    struct partlog *a, *b;
    assert_int_equal(store_partition_open(c.st, "TopicA", 0, 1, &a, err), 0);
    assert_int_equal(store_partition_open(c.st, "TopicB", 3, 2, &b, err), 0);
    assert_int_equal(store_partition_open(c.st, "TopicB", 3, 9, &b, err), TERN_E_EXISTS);
    assert_int_equal(store_partition_open(c.st, "bad/topic", 0, 9, &b, err), TERN_E_INVAL);
    static struct req qa[300], qb[300];
    for (int i = 0; i < 200; i++)
        do_append(&c, a, &qa[i], 0);
    for (int i = 0; i < 100; i++)
        do_append(&c, b, &qb[i], 1);
    assert_int_equal(qa[199].off, 199);
    assert_int_equal(qb[99].off, 99);
    /* Nothing is acknowledged or visible before the loop runs the pass. */
    assert_int_equal(c.acked[0] + c.acked[1], 0);
    assert_int_equal(partlog_end_offset(a), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.acked[0], 200);
    assert_int_equal(c.acked[1], 100);
    assert_int_equal(c.bad_order, 0);
    assert_int_equal(c.before_sync, 0);
    struct store_stats s;
    store_stats(c.st, &s);
    assert_int_equal(s.passes_written, 1);
    assert_int_equal(s.sync_jobs, 1); /* 300 appends, two partitions, one fdatasync job */
    assert_int_equal(partlog_end_offset(a), 200);
    assert_int_equal(partlog_end_offset(b), 100);
    /* Standalone mode: visibility advances at sync, before the acks fire. */
    assert_int_equal(c.events[0], 1);

    /* Appends made while a sync is in flight go to the next pass and job. */
    for (int i = 200; i < 250; i++)
        do_append(&c, a, &qa[i], 0);
    uv_run(&loop, UV_RUN_NOWAIT); /* writes + queues job 2 */
    int acked_before = c.acked[0];
    for (int i = 250; i < 300; i++)
        do_append(&c, a, &qa[i], 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.acked[0], 300);
    assert_int_equal(c.bad_order, 0);
    assert_int_equal(c.before_sync, 0);
    store_stats(c.st, &s);
    print_message("second batch appended while job 2 in flight: %s\n", acked_before == 200 ? "yes" : "no");
    if (acked_before == 200) { /* job 2 was still in flight at the second batch */
        assert_int_equal(s.passes_written, 3);
        assert_int_equal(s.sync_jobs, 3);
    }
    store_close(c.st, close_cb, &c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    testlib_rmtree(dir);
}

static void test_visible_on_write_and_close_flushes(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "st-vis");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = {0};
    struct store_opts o;
    store_opts_default(&o);
    o.part.visible_on_write = true;
    o.visible_cb = visible_cb;
    o.cb_arg = &c;
    assert_int_equal(store_open(&loop, dir, &o, &c.st, err), 0);
    struct partlog *a;
    assert_int_equal(store_partition_open(c.st, "T", 1, 1, &a, err), 0);
    static struct req q[20];
    for (int i = 0; i < 20; i++)
        do_append(&c, a, &q[i], 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    /* Written: readable now in raft mode, before any ack. */
    assert_int_equal(partlog_end_offset(a), 20);
    assert_int_equal(c.vis_end, 20);
    assert_int_equal(c.events[0], 1);
    /* Close with appends queued but not yet written: they are flushed. */
    static struct req q2[10];
    for (int i = 0; i < 10; i++)
        do_append(&c, a, &q2[i], 0);
    store_close(c.st, close_cb, &c);
    struct req late;
    struct record_msg m = {"x", 1, 0};
    assert_int_equal(store_append(c.st, a, &m, 1, NULL, &late.r, append_cb, &late.off), TERN_E_CLOSED);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(c.acked[0], 30);
    assert_int_equal(c.failed, 0);
    assert_int_equal(c.closed, 1);
    assert_int_equal(c.before_sync, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    /* Everything acknowledged is there after reopen. */
    struct partlog *pl;
    char pdir[600];
    snprintf(pdir, sizeof pdir, "%s/T/1", dir);
    assert_int_equal(partlog_open(pdir, 1, NULL, &pl, err), 0);
    assert_int_equal(partlog_end_offset(pl), 30);
    assert_true(partlog_recovery(pl)->checkpoint_used);
    assert_int_equal(partlog_recovery(pl)->scanned_bytes, 0); /* close wrote a final checkpoint */
    partlog_close(pl);
    testlib_rmtree(dir);
}

/* sync_interval_ms (raft mode): passes within the interval share one deferred
 * job; the first job is immediate, the next waits for the interval; close
 * runs a deferred job at once. */
static void test_sync_interval_defers_jobs(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "st-sint");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ctx c = {0};
    struct store_opts o;
    store_opts_default(&o);
    o.part.visible_on_write = true;
    o.sync_interval_ms = 1500;
    assert_int_equal(store_open(&loop, dir, &o, &c.st, err), 0);
    struct partlog *a;
    assert_int_equal(store_partition_open(c.st, "T", 0, 1, &a, err), 0);
    static struct req q[40];
    do_append(&c, a, &q[0], 0);
    uint64_t t0 = uv_now(&loop);
    while (c.acked[0] < 1)
        uv_run(&loop, UV_RUN_ONCE);
    /* Ten more passes, each written at once but synced by one later job. */
    for (int i = 1; i <= 10; i++) {
        do_append(&c, a, &q[i], 0);
        uv_run(&loop, UV_RUN_NOWAIT);
        assert_int_equal(partlog_end_offset(a), (uint64_t)i + 1); /* readable when written */
    }
    while (c.acked[0] < 11)
        uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
    assert_true(uv_now(&loop) - t0 >= 1490); /* the second job waited for the interval */
    struct store_stats s;
    store_stats(c.st, &s);
    assert_int_equal(s.passes_written, 11);
    assert_int_equal(s.sync_jobs, 2);
    assert_int_equal(c.before_sync, 0);
    assert_int_equal(c.bad_order, 0);
    /* A pass right after a job is deferred; close does not wait the interval. */
    for (int i = 11; i < 20; i++)
        do_append(&c, a, &q[i], 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(c.acked[0], 11);
    uv_update_time(&loop);
    uint64_t t1 = uv_now(&loop);
    store_close(c.st, close_cb, &c);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    uv_update_time(&loop);
    assert_int_equal(c.acked[0], 20);
    assert_int_equal(c.closed, 1);
    assert_true(uv_now(&loop) - t1 < 1000); /* not the 1.5 s interval */
    assert_int_equal(uv_loop_close(&loop), 0);
    testlib_rmtree(dir);
}

static void test_phys_offsets_locate(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "st-phys");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct store *st;
    assert_int_equal(store_open(&loop, dir, NULL, &st, err), 0);
    struct partlog *a, *b, *pl;
    assert_int_equal(store_partition_open(st, "A", 0, 7, &a, err), 0);
    assert_int_equal(store_partition_open(st, "A", 1, STORE_MAX_PARTITION_ID, &b, err), 0);
    assert_int_equal(store_partition_open(st, "A", 2, STORE_MAX_PARTITION_ID + 1, &pl, err), TERN_E_EXISTS);
    uint64_t phys = store_phys_encode(7, 12345);
    assert_true(phys == ((7ull << 44) | 12345));
    uint64_t off;
    assert_int_equal(store_locate(st, phys, &pl, &off), 0);
    assert_ptr_equal(pl, a);
    assert_int_equal(off, 12345);
    phys = store_phys_encode(STORE_MAX_PARTITION_ID, (1ull << 44) - 1);
    assert_true((int64_t)phys > 0); /* stays a non-negative Java long */
    assert_int_equal(store_locate(st, phys, &pl, &off), 0);
    assert_ptr_equal(pl, b);
    assert_true(off == (1ull << 44) - 1);
    uint32_t id;
    store_phys_decode(phys, &id, &off);
    assert_int_equal(id, STORE_MAX_PARTITION_ID);
    assert_int_equal(store_locate(st, store_phys_encode(8, 0), &pl, &off), TERN_E_NOTFOUND);
    assert_ptr_equal(store_partition_find(st, "A", 1), b);
    assert_null(store_partition_find(st, "A", 5));
    store_close(st, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_one_sync_per_pass),
        cmocka_unit_test(test_visible_on_write_and_close_flushes),
        cmocka_unit_test(test_sync_interval_defers_jobs),
        cmocka_unit_test(test_phys_offsets_locate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
