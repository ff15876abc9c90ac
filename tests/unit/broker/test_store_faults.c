/* Unit tests for full disk and I/O errors through fs fault points
 * (STORAGE.md §8 "Errors"): failed appends get the error, the end rolls
 * back, offsets are reused, acknowledged data is untouched, and appends
 * succeed again by themselves once the disk works. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "broker/store/store.h"
#include "src/fs.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

struct req {
    struct store_append_req r;
    uint64_t off;
    int status;
    int fired;
};

static void append_cb(struct store_append_req *r, int status)
{
    struct req *q = (struct req *)r;
    q->status = status;
    q->fired++;
}

struct env {
    char dir[512];
    uv_loop_t loop;
    struct store *st;
    struct partlog *pl;
    char payload[300];
};

static void env_open(struct env *e, const char *name)
{
    char err[ERRMSG_SIZE];
    testlib_tmpdir(e->dir, sizeof e->dir, name);
    uv_loop_init(&e->loop);
    struct store_opts o;
    store_opts_default(&o);
    o.part.segment_bytes = 64 << 10;
    o.part.prealloc_initial = 4096;
    assert_int_equal(store_open(&e->loop, e->dir, &o, &e->st, err), 0);
    assert_int_equal(store_partition_open(e->st, "T", 0, 1, &e->pl, err), 0);
}

static void env_close(struct env *e)
{
    store_close(e->st, NULL, NULL);
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
}

static void batch(struct env *e, struct req *q, int n, char fill)
{
    memset(e->payload, fill, sizeof e->payload);
    for (int i = 0; i < n; i++) {
        struct record_msg m = {e->payload, sizeof e->payload, (uint64_t)fill};
        q[i].fired = 0;
        q[i].status = 99;
        assert_int_equal(store_append(e->st, e->pl, &m, 1, NULL, &q[i].r, append_cb, &q[i].off), 0);
    }
    assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(q[i].fired, 1); /* exactly once */
}

/* Every message at [0, n) has payload fill[i / per]. */
static void check_content(const char *dir, uint64_t n, const char *fills, uint64_t per)
{
    char pdir[600], err[ERRMSG_SIZE];
    snprintf(pdir, sizeof pdir, "%s/T/0", dir);
    struct partlog *pl;
    assert_int_equal(partlog_open(pdir, 1, NULL, &pl, err), 0);
    assert_false(partlog_recovery(pl)->cut);
    assert_int_equal(partlog_end_offset(pl), n);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    static struct partlog_msg msgs[64];
    struct partlog_read_result res;
    uint64_t at = 0;
    while (at < n) {
        assert_int_equal(partlog_read(pl, at, 64, 1 << 20, NULL, &rb, msgs, &res), 0);
        for (uint32_t i = 0; i < res.n; i++) {
            char want = fills[msgs[i].offset / per];
            assert_int_equal(msgs[i].len, 300);
            assert_int_equal(msgs[i].data[0], want);
            assert_int_equal(msgs[i].data[299], want);
        }
        at = res.next_offset;
    }
    partlog_readbuf_free(&rb);
    partlog_close(pl);
}

static void run_fault_case(enum fs_fault_point fp, const char *name)
{
    struct env e;
    env_open(&e, name);
    static struct req q[80];
    batch(&e, q, 20, 'a'); /* 20 acknowledged appends */
    for (int i = 0; i < 20; i++)
        assert_int_equal(q[i].status, 0);
    /* Arm a sticky ENOSPC: the whole next batch fails. 60 x 376 bytes also
     * needs a fallocate step past what is reserved (16 KiB after batch 1:
     * 8 KiB for the write, doubled once by the sync job). */
    fs_fault_arm(fp, 0, ENOSPC, 1);
    batch(&e, q, 60, 'b');
    for (int i = 0; i < 60; i++)
        assert_int_equal(q[i].status, TERN_E_NOSPACE);
    assert_int_equal(partlog_next_offset(e.pl), 20); /* rolled back */
    assert_int_equal(partlog_end_offset(e.pl), 20);
    /* Reads keep working during the outage. */
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[32];
    struct partlog_read_result res;
    assert_int_equal(partlog_read(e.pl, 0, 32, 1 << 20, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 20);
    assert_int_equal(msgs[19].data[0], 'a');
    /* Still failing while the disk is full. */
    batch(&e, q, 3, 'c');
    assert_int_equal(q[0].status, TERN_E_NOSPACE);
    /* Space returns: the very next appends succeed and reuse the offsets. */
    fs_fault_reset();
    batch(&e, q, 20, 'd');
    for (int i = 0; i < 20; i++) {
        assert_int_equal(q[i].status, 0);
        assert_int_equal(q[i].off, 20 + (uint64_t)i);
    }
    assert_int_equal(partlog_end_offset(e.pl), 40);
    assert_int_equal(partlog_read(e.pl, 15, 32, 1 << 20, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, 25);
    assert_int_equal(msgs[4].data[0], 'a');
    assert_int_equal(msgs[5].data[0], 'd');
    partlog_readbuf_free(&rb);
    env_close(&e);
    /* On disk: exactly a then d, no trace of the failed batches. */
    check_content(e.dir, 40, "ad", 20);
    testlib_rmtree(e.dir);
}

static void test_enospc_on_write(void **state)
{
    (void)state;
    run_fault_case(FS_FAULT_WRITE, "flt-write");
}

static void test_enospc_on_allocate(void **state)
{
    (void)state;
    run_fault_case(FS_FAULT_ALLOCATE, "flt-alloc");
}

/* fsyncgate: a failed fdatasync fails its appends and their bytes are cut
 * from the file; they are never acknowledged by a later successful sync. */
static void test_enospc_on_sync(void **state)
{
    (void)state;
    run_fault_case(FS_FAULT_SYNC, "flt-sync");
}

/* EIO on one sync only (not sticky): the next batch just works. */
static void test_eio_sync_once_then_recover(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, "flt-eio");
    static struct req q[10];
    batch(&e, q, 10, 'a');
    fs_fault_arm(FS_FAULT_SYNC, 0, EIO, 0);
    batch(&e, q, 10, 'b');
    for (int i = 0; i < 10; i++)
        assert_int_equal(q[i].status, TERN_E_IO);
    batch(&e, q, 10, 'c');
    for (int i = 0; i < 10; i++) {
        assert_int_equal(q[i].status, 0);
        assert_int_equal(q[i].off, 10 + (uint64_t)i);
    }
    fs_fault_reset();
    env_close(&e);
    check_content(e.dir, 20, "ac", 10);
    testlib_rmtree(e.dir);
}

/* A write failure at a segment roll: units that fit in the old segment are
 * kept and acknowledged, the rest fail and are retried later. */
static void test_failure_across_roll(void **state)
{
    (void)state;
    struct env e;
    env_open(&e, "flt-roll");
    static struct req q[400];
    /* 64 KiB segments hold 174 units of 376 bytes. */
    batch(&e, q, 150, 'a');
    fs_fault_arm(FS_FAULT_OPEN, 0, ENOSPC, 1); /* creating the next segment fails */
    batch(&e, q, 50, 'b');
    int ok = 0, bad = 0;
    for (int i = 0; i < 50; i++) {
        if (q[i].status == 0)
            ok++;
        else if (q[i].status == TERN_E_NOSPACE)
            bad++;
    }
    assert_int_equal(ok + bad, 50);
    assert_true(ok > 0 && bad > 0);
    assert_int_equal(partlog_end_offset(e.pl), 150 + (uint64_t)ok);
    fs_fault_reset();
    batch(&e, q, 50, 'c');
    for (int i = 0; i < 50; i++)
        assert_int_equal(q[i].status, 0);
    assert_true(partlog_segment_count(e.pl) == 2);
    uint64_t end = partlog_end_offset(e.pl);
    assert_int_equal(end, 200 + (uint64_t)ok);
    env_close(&e);
    testlib_rmtree(e.dir);
}

static uint64_t vis_ends[16];
static int n_vis;
static void vis_cb(struct store *st, struct partlog *pl, uint64_t end, void *arg)
{
    (void)st;
    (void)pl;
    (void)arg;
    if (n_vis < 16)
        vis_ends[n_vis++] = end;
}

/* Raft mode: data is readable once written; a failed sync moves the visible
 * end back (visible_cb says so) and the source index stays at the last
 * durable unit, so the state machine knows what to re-apply. */
static void test_sync_failure_in_visible_on_write_mode(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "flt-raft");
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct store_opts o;
    store_opts_default(&o);
    o.part.visible_on_write = true;
    o.visible_cb = vis_cb;
    struct store *st;
    struct partlog *pl;
    assert_int_equal(store_open(&loop, dir, &o, &st, err), 0);
    assert_int_equal(store_partition_open(st, "T", 0, 1, &pl, err), 0);
    static struct req q[10];
    struct record_msg m = {"entry", 5, 0};
    for (int i = 0; i < 5; i++) {
        struct partlog_append_info info = {.source_index = 100 + (uint64_t)i};
        assert_int_equal(store_append(st, pl, &m, 1, &info, &q[i].r, append_cb, &q[i].off), 0);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(partlog_last_source_index(pl), 104);
    n_vis = 0;
    fs_fault_arm(FS_FAULT_SYNC, 0, EIO, 0);
    for (int i = 5; i < 10; i++) {
        struct partlog_append_info info = {.source_index = 100 + (uint64_t)i};
        assert_int_equal(store_append(st, pl, &m, 1, &info, &q[i].r, append_cb, &q[i].off), 0);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    fs_fault_reset();
    for (int i = 5; i < 10; i++)
        assert_int_equal(q[i].status, TERN_E_IO);
    assert_int_equal(n_vis, 2);
    assert_int_equal(vis_ends[0], 10); /* visible once written */
    assert_int_equal(vis_ends[1], 5);  /* and back after the failed sync */
    assert_int_equal(partlog_end_offset(pl), 5);
    assert_int_equal(partlog_last_source_index(pl), 104);
    store_close(st, NULL, NULL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enospc_on_write),
        cmocka_unit_test(test_enospc_on_allocate),
        cmocka_unit_test(test_enospc_on_sync),
        cmocka_unit_test(test_eio_sync_once_then_recover),
        cmocka_unit_test(test_failure_across_roll),
        cmocka_unit_test(test_sync_failure_in_visible_on_write_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
