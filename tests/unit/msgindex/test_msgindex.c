/* Unit tests for broker/msgindex.c (STORAGE.md §14): insert and lookup by
 * KEYS token and UNIQ_KEY, slot collisions, rollover into sealed files,
 * restart with an unsealed or damaged file, an index ahead of a shorter log,
 * retention. Real partition logs and index files in a temp dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/msgindex.h"
#include "broker/store/partlog.h"
#include "protocol/message.h"
#include "src/buf.h"
#include "src/fs.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define N_MSGS 100

/* One stored-format record with KEYS "k<i%10> all" and UNIQ_KEY "U<i>". */
static void make_record(struct buf *out, int i)
{
    char props[128];
    int n = snprintf(props, sizeof props, "KEYS\001k%d all\002UNIQ_KEY\001U%d\002TAGS\001t\002", i % 10, i);
    struct msg_stored m = {0};
    m.magic = MESSAGE_MAGIC_V1;
    m.born_host.family = MSG_HOST_IPV4;
    m.store_host.family = MSG_HOST_IPV4;
    m.topic = slice_of("T");
    m.body = slice_of("body");
    m.properties = (struct slice){props, (size_t)n};
    buf_reset(out);
    assert_int_equal(message_encode(&m, out), 0);
}

/* Append records [from, to) to pl, one unit each, and sync them. */
static void fill(struct partlog *pl, int from, int to)
{
    struct buf b;
    buf_init(&b);
    for (int i = from; i < to; i++) {
        make_record(&b, i);
        struct record_msg rm = {b.data, (uint32_t)b.len, 0};
        uint64_t off;
        assert_int_equal(partlog_append(pl, &rm, 1, NULL, &off), 0);
        assert_int_equal(off, (uint64_t)i);
    }
    assert_int_equal(partlog_flush(pl), 0);
    buf_free(&b);
}

/* Offsets really carrying key (candidates checked against the messages). */
static uint32_t query(struct msgindex *mi, struct partlog *pl, enum msgindex_kind kind, const char *key,
                      uint64_t *out, uint32_t max)
{
    uint64_t cand[1024];
    uint32_t n = 0, got = 0;
    assert_int_equal(msgindex_lookup(mi, pl, kind, key, strlen(key), 0, INT64_MAX, cand, 1024, &n), 0);
    for (uint32_t i = 0; i < n && got < max; i++) {
        const struct partlog_msg *m = msgindex_read_one(mi, pl, cand[i]);
        if (cand[i] < partlog_min_offset(pl))
            continue; /* retention deleted it; the index may lag a file */
        assert_non_null(m);
        if (msgindex_msg_has_key(m->data, m->len, kind, key, strlen(key)))
            out[got++] = cand[i];
    }
    return got;
}

/* k<r> must be exactly the offsets in [lo, hi) with i % 10 == r, newest first. */
static void expect_key(struct msgindex *mi, struct partlog *pl, int r, int lo, int hi)
{
    char key[16];
    snprintf(key, sizeof key, "k%d", r);
    uint64_t offs[256];
    uint32_t n = query(mi, pl, MSGINDEX_KEY, key, offs, 256);
    uint32_t want = 0;
    for (int i = hi - 1; i >= lo; i--)
        if (i % 10 == r) {
            assert_true(want < n);
            assert_int_equal(offs[want], (uint64_t)i);
            want++;
        }
    assert_int_equal(n, want);
}

/* (Re)open the index of dir/idx. */
static void open_index(const char *dir, const struct msgindex_opts *o, struct msgindex **mi)
{
    char p[600], err[ERRMSG_SIZE];
    snprintf(p, sizeof p, "%s/idx", dir);
    assert_int_equal(msgindex_open(p, o, mi, err), 0);
}

/* Partition 7's log in dir/log (po may be NULL: defaults) and the index. */
static void open_both_po(const char *dir, const struct partlog_opts *po, const struct msgindex_opts *o,
                         struct partlog **pl, struct msgindex **mi)
{
    char p[600], err[ERRMSG_SIZE];
    snprintf(p, sizeof p, "%s/log", dir);
    assert_int_equal(partlog_open(p, 7, po, pl, err), 0);
    open_index(dir, o, mi);
}

static void open_both(const char *dir, const struct msgindex_opts *o, struct partlog **pl, struct msgindex **mi)
{
    open_both_po(dir, NULL, o, pl, mi);
}

/* Overwrite n bytes at off of index file idx/7/<first>.kidx. */
static void scribble(const char *dir, int first, const void *bytes, size_t n, off_t off)
{
    char p[600];
    snprintf(p, sizeof p, "%s/idx/7/%020d.kidx", dir, first);
    int fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

/* Close both and remove the test's directory. */
static void close_all(const char *dir, struct partlog *pl, struct msgindex *mi)
{
    msgindex_close(mi);
    partlog_close(pl);
    testlib_rmtree(dir);
}

static int count_files(const char *dir)
{
    char p[600];
    snprintf(p, sizeof p, "%s/idx/7", dir);
    DIR *d = opendir(p);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".kidx") != NULL;
    closedir(d);
    return n;
}

static void test_insert_lookup(void **state)
{
    (void)state;
    char dir[512];
    testlib_tmpdir(dir, sizeof dir, "mi-basic");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    struct partlog *pl;
    struct msgindex *mi;
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, N_MSGS);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    assert_int_equal(msgindex_indexed(mi, pl), N_MSGS);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, N_MSGS);
    uint64_t offs[256];
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U42", offs, 256), 1);
    assert_int_equal(offs[0], 42);
    assert_int_equal(query(mi, pl, MSGINDEX_KEY, "all", offs, 256), N_MSGS);
    /* Kinds are apart: a UNIQ_KEY value is not a KEYS token. */
    uint64_t cand[16];
    uint32_t n;
    assert_int_equal(msgindex_lookup(mi, pl, MSGINDEX_KEY, "U42", 3, 0, INT64_MAX, cand, 16, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(query(mi, pl, MSGINDEX_KEY, "absent", offs, 256), 0);
    /* A time window before every message finds nothing. */
    assert_int_equal(msgindex_lookup(mi, pl, MSGINDEX_UNIQ, "U42", 3, 0, 1000, cand, 16, &n), 0);
    assert_int_equal(n, 0);
    /* Appends after the first catch-up are indexed by the next one. */
    fill(pl, N_MSGS, N_MSGS + 10);
    expect_key(mi, pl, 4, 0, N_MSGS + 10);
    struct msgindex_stats st;
    msgindex_stats(mi, &st);
    assert_int_equal(st.indexed_keys, 3 * (N_MSGS + 10));
    close_all(dir, pl, mi);
}

/* One hash slot: every key shares one chain, lookups still separate them. */
static void test_slot_collisions(void **state)
{
    (void)state;
    char dir[512];
    testlib_tmpdir(dir, sizeof dir, "mi-coll");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    o.slots = 1;
    struct partlog *pl;
    struct msgindex *mi;
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, N_MSGS);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, N_MSGS);
    uint64_t offs[4];
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U7", offs, 4), 1);
    assert_int_equal(offs[0], 7);
    /* max bounds the candidates. */
    uint64_t cand[5];
    uint32_t n;
    assert_int_equal(msgindex_lookup(mi, pl, MSGINDEX_KEY, "all", 3, 0, INT64_MAX, cand, 5, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(cand[0], N_MSGS - 1);
    close_all(dir, pl, mi);
}

/* Small files roll: sealed files are read with pread, results span them. */
static void test_rollover_and_restart(void **state)
{
    (void)state;
    char dir[512];
    testlib_tmpdir(dir, sizeof dir, "mi-roll");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    o.slots = 8;
    o.entries = 16; /* 5 messages (3 keys each) per file */
    struct partlog *pl;
    struct msgindex *mi;
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, N_MSGS);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    struct msgindex_stats st;
    msgindex_stats(mi, &st);
    assert_int_equal(st.files_sealed, N_MSGS / 5 - 1);
    assert_int_equal(count_files(dir), N_MSGS / 5);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, N_MSGS);
    uint64_t offs[4];
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U3", offs, 4), 1);
    assert_int_equal(offs[0], 3);

    /* Restart: the active (unsealed) file is rebuilt from the log. */
    msgindex_close(mi);
    open_index(dir, &o, &mi);
    expect_key(mi, pl, 9, 0, N_MSGS);
    msgindex_stats(mi, &st);
    assert_int_equal(st.files_rebuilt, 1);

    /* Damage the header of a sealed file in the middle: it and every later
     * file are rebuilt, results unchanged. */
    msgindex_close(mi);
    scribble(dir, 50, "XXXX", 4, 24);
    open_index(dir, &o, &mi);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, N_MSGS);
    msgindex_stats(mi, &st);
    assert_int_equal(st.files_rebuilt, N_MSGS / 5 - 10);

    /* A torn active file (garbage over its slots and entries) is rebuilt too. */
    msgindex_close(mi);
    char junk[600];
    memset(junk, 0xA5, sizeof junk);
    scribble(dir, N_MSGS - 5, junk, sizeof junk, 64);
    open_index(dir, &o, &mi);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, N_MSGS);
    close_all(dir, pl, mi);
}

/* The index never trusts what the log no longer holds: sealed files past a
 * shorter log (its tail was cut) are dropped and rebuilt from the log. */
static void test_index_ahead_of_log(void **state)
{
    (void)state;
    char dir[512], p[600], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "mi-ahead");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    o.entries = 16;
    struct partlog *pl;
    struct msgindex *mi;
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, N_MSGS);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    msgindex_close(mi);
    partlog_close(pl);
    /* A new log of the same partition holding only the first 42. */
    snprintf(p, sizeof p, "%s/log", dir);
    testlib_rmtree(p);
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, 42);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, 42);
    uint64_t offs[4];
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U77", offs, 4), 0);
    (void)err;
    close_all(dir, pl, mi);
}

/* Retention: files whose messages are all deleted are dropped. */
static void test_retention(void **state)
{
    (void)state;
    char dir[512];
    testlib_tmpdir(dir, sizeof dir, "mi-ret");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    o.entries = 16;
    struct partlog_opts po;
    partlog_opts_default(&po);
    po.segment_bytes = 4096;
    po.prealloc_initial = 4096;
    po.retention_ms = 1;
    struct partlog *pl;
    struct msgindex *mi;
    open_both_po(dir, &po, &o, &pl, &mi);
    fill(pl, 0, N_MSGS);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    int before = count_files(dir);
    uint32_t deleted = 0;
    assert_int_equal(partlog_retain(pl, INT64_MAX / 2, &deleted), 0);
    assert_true(deleted > 0);
    uint64_t min = partlog_min_offset(pl);
    assert_true(min > 10);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    struct msgindex_stats st;
    msgindex_stats(mi, &st);
    assert_true(st.files_dropped > 0);
    assert_int_equal(count_files(dir), before - (int)st.files_dropped);
    /* What is left is still found; what retention removed is not. */
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, (int)min, N_MSGS);
    close_all(dir, pl, mi);
}

/* Raft mode: written data is visible before it is synced; a failed sync
 * moves the visible end back and the offsets are reused by other messages.
 * The index re-indexes them; entries of the rolled-back messages stay but
 * fail the key check, and no offset is returned twice. */
static void visible_end_moves_back(uint32_t entries, int synced)
{
    char dir[512];
    testlib_tmpdir(dir, sizeof dir, "mi-back");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    o.entries = entries;
    struct partlog_opts po;
    partlog_opts_default(&po);
    po.visible_on_write = true;
    struct partlog *pl;
    struct msgindex *mi;
    open_both_po(dir, &po, &o, &pl, &mi);
    fill(pl, 0, synced);
    struct buf b;
    buf_init(&b);
    for (int i = synced; i < 20; i++) {
        make_record(&b, i);
        struct record_msg rm = {b.data, (uint32_t)b.len, 0};
        uint64_t off;
        assert_int_equal(partlog_append(pl, &rm, 1, NULL, &off), 0);
    }
    assert_int_equal(partlog_write(pl), 0); /* visible, not synced */
    assert_int_equal(partlog_end_offset(pl), 20);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    uint64_t offs[8];
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U15", offs, 8), 1);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U13", offs, 8), 1);

    fs_fault_arm(FS_FAULT_SYNC, 0, EIO, 0);
    struct partlog_sync job;
    partlog_sync_init(&job);
    assert_int_equal(partlog_sync_begin(pl, &job, false), 0);
    partlog_sync_run(&job);
    assert_true(partlog_sync_end(pl, &job) != 0);
    partlog_sync_free(&job);
    fs_fault_reset();
    assert_int_equal(partlog_end_offset(pl), (uint64_t)synced);
    /* The store's visible callback reports the lower end (store.c
     * check_visible right after the failed sync): the broker catches up. */
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    assert_true(msgindex_indexed(mi, pl) <= (uint64_t)synced);

    /* Offsets synced..19 now hold other messages (U1xx, same KEYS). */
    for (int i = synced; i < 20; i++) {
        make_record(&b, i + 100);
        struct record_msg rm = {b.data, (uint32_t)b.len, 0};
        uint64_t off;
        assert_int_equal(partlog_append(pl, &rm, 1, NULL, &off), 0);
        assert_int_equal(off, (uint64_t)i);
    }
    assert_int_equal(partlog_flush(pl), 0);
    assert_int_equal(msgindex_catch_up(mi, pl), 0);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U15", offs, 8), 0);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U115", offs, 8), 1);
    assert_int_equal(offs[0], 15);
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, 20); /* each offset once */
    /* And after a restart (sealed files past the rollback were dropped, so
     * none outlives it with stale entries only). */
    msgindex_close(mi);
    open_index(dir, &o, &mi);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U15", offs, 8), 0);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U115", offs, 8), 1);
    assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, "U3", offs, 8), 1);
    for (int i = synced; i < 20; i++) {
        char u[16];
        snprintf(u, sizeof u, "U%d", i + 100);
        assert_int_equal(query(mi, pl, MSGINDEX_UNIQ, u, offs, 8), 1);
        assert_int_equal(offs[0], (uint64_t)i);
    }
    for (int r = 0; r < 10; r++)
        expect_key(mi, pl, r, 0, 20);
    buf_free(&b);
    close_all(dir, pl, mi);
}

static void test_visible_end_moves_back(void **state)
{
    (void)state;
    visible_end_moves_back(262144, 10); /* inside the active file */
    visible_end_moves_back(16, 12);     /* into the middle of a sealed file (5 messages each) */
    visible_end_moves_back(16, 10);     /* to a file boundary */
}

/* A partition whose index cannot be created (a file where its directory
 * should be): catch-up and lookups report an error every time, nothing
 * crashes, other partitions are unaffected. */
static void test_unwritable_partition(void **state)
{
    (void)state;
    char dir[512], p[600], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "mi-fail");
    struct msgindex_opts o;
    msgindex_opts_default(&o);
    struct partlog *pl;
    struct msgindex *mi;
    open_both(dir, &o, &pl, &mi);
    fill(pl, 0, 10);
    msgindex_close(mi);
    snprintf(p, sizeof p, "%s/idx/7", dir);
    testlib_rmtree(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    open_index(dir, &o, &mi);
    assert_true(msgindex_catch_up(mi, pl) < 0);
    assert_true(msgindex_catch_up(mi, pl) < 0);
    uint64_t cand[4];
    uint32_t n = 99;
    assert_true(msgindex_lookup(mi, pl, MSGINDEX_KEY, "k1", 2, 0, INT64_MAX, cand, 4, &n) < 0);
    assert_int_equal(n, 0);
    /* Another partition still works. */
    struct partlog *pl2;
    snprintf(p, sizeof p, "%s/log2", dir);
    assert_int_equal(partlog_open(p, 8, NULL, &pl2, err), 0);
    fill(pl2, 0, 20);
    expect_key(mi, pl2, 5, 0, 20);
    msgindex_close(mi);
    partlog_close(pl2);
    partlog_close(pl);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_lookup),      cmocka_unit_test(test_slot_collisions),
        cmocka_unit_test(test_rollover_and_restart), cmocka_unit_test(test_index_ahead_of_log),
        cmocka_unit_test(test_retention),          cmocka_unit_test(test_unwritable_partition),
        cmocka_unit_test(test_visible_end_moves_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
