/* Integration: restoring a broker group snapshot on a far-behind member
 * (broker/segfetch_snap.c, REPLICATION.md §6) with the member's real store,
 * topic table and consumer offsets in this process and a real tern-broker as
 * the snapshot's source: topics come back with the source's partition ids,
 * offsets are applied, the missing partition range is fetched and equals the
 * source's units byte for byte. Refusals: a partition already past the
 * snapshot's end on install (allowed at start-up), a partition id that
 * differs, bytes that are not a snapshot; an unreachable source fails within
 * the timeout with nothing appended, and a later restore resumes from the
 * partition's local end. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/segfetch.h"
#include "broker/store/partlog.h"
#include "broker/store/store.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define NMSG 30

static struct proc source;
static char dir[512], src_addr[64];

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "segfetch-restore");
    int port = proc_free_port(true);
    snprintf(src_addr, sizeof src_addr, "127.0.0.1:%d", port);
    char bin[512], log[600], set_port[64], set_dir[600];
    snprintf(log, sizeof log, "%s/source.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/source", dir);
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                          NULL};
    proc_start(&source, argv, log);
    if (!proc_wait_port(port, 10000)) {
        proc_dump_log(&source, 50);
        fail_msg("source broker did not start");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&source, 10000);
    assert_true(WIFEXITED(source.status) && WEXITSTATUS(source.status) == 0);
    testlib_rmtree(dir);
    return 0;
}

/* The far-behind member: store, topics, offsets on a private loop. */
struct member {
    uv_loop_t loop;
    struct broker b;
    struct topics topics;
    bool closed;
};

static void member_open(struct member *m, const char *sub)
{
    char err[ERRMSG_SIZE];
    memset(m, 0, sizeof *m);
    assert_int_equal(uv_loop_init(&m->loop), 0);
    m->b.loop = &m->loop;
    m->b.limits = limits_default;
    snprintf(m->b.conf.data_dir, sizeof m->b.conf.data_dir, "%s/%s", dir, sub);
    snprintf(m->b.addr, sizeof m->b.addr, "127.0.0.1:1"); /* never the source */
    m->b.conf.offset_flush_ms = 1000;
    char root[1200];
    snprintf(root, sizeof root, "%s/queues", m->b.conf.data_dir);
    struct store_opts o;
    store_opts_default(&o);
    o.part.visible_on_write = true;
    assert_int_equal(store_open(&m->loop, root, &o, &m->b.store, err), 0);
    assert_int_equal(topics_open(&m->topics, m->b.conf.data_dir, m->b.store), 0);
    m->b.topics = &m->topics;
    assert_int_equal(offsets_init(&m->b), 0);
}

static void member_closed_cb(void *arg)
{
    ((struct member *)arg)->closed = true;
}

static void member_close(struct member *m)
{
    offsets_close(&m->b);
    topics_close(&m->topics);
    store_close(m->b.store, member_closed_cb, m);
    assert_int_equal(uv_run(&m->loop, UV_RUN_DEFAULT), 0);
    assert_true(m->closed);
    assert_int_equal(uv_loop_close(&m->loop), 0);
}

/* A format-2 snapshot as the source would take it: its topics.json table,
 * one partition entry and one consumer offset. */
static void make_snapshot(struct buf *out, const char *topic, int64_t pid_delta, int64_t end)
{
    char path[700];
    snprintf(path, sizeof path, "%s/source/topics.json", dir);
    json_error_t je;
    json_t *src = json_load_file(path, 0, &je);
    assert_non_null(src);
    json_t *snap = json_object(), *topics = json_array(), *parts = json_array();
    const char *name;
    json_t *t;
    int64_t pid = -1;
    json_object_foreach(json_object_get(src, "topics"), name, t)
    {
        json_t *o = json_deep_copy(t);
        json_object_set_new(o, "name", json_string(name));
        json_array_append_new(topics, o);
        if (strcmp(name, topic) == 0)
            pid = json_integer_value(json_array_get(json_object_get(t, "partitionIds"), 0));
    }
    assert_true(pid >= 0);
    json_t *p = json_object();
    json_object_set_new(p, "topic", json_string(topic));
    json_object_set_new(p, "queueId", json_integer(0));
    json_object_set_new(p, "id", json_integer(pid + pid_delta));
    json_object_set_new(p, "end", json_integer(end));
    json_object_set_new(p, "lastSource", json_integer(0));
    json_array_append_new(parts, p);
    json_object_set_new(snap, "format", json_integer(2));
    json_object_set_new(snap, "source", json_string(src_addr));
    json_object_set_new(snap, "topics", topics);
    json_object_set_new(snap, "partitions", parts);
    json_t *ofs = json_pack("{s:i, s:[{s:s, s:s, s:{s:i}}]}", "formatVersion", 1, "offsets", "topic", topic, "group",
                            "g1", "queues", "0", 7);
    json_object_set_new(snap, "offsets", ofs);
    char *txt = json_dumps(snap, JSON_COMPACT);
    buf_reset(out);
    buf_append_str(out, txt);
    free(txt);
    json_decref(snap);
    json_decref(src);
}

static void test_restore_fetches_and_refuses(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, src_addr);
    char body[64];
    int64_t off;
    for (int i = 0; i < NMSG; i++) {
        snprintf(body, sizeof body, "restore-body-%03d", i);
        assert_int_equal(tclient_send(&s, "RTopic", 0, "t", body, strlen(body), &off), CODES_RESP_SUCCESS);
    }
    rpcsync_close(&s);

    struct member m;
    member_open(&m, "member");
    struct buf snap;
    buf_init(&snap);
    struct segfetch_stats st;
    char err[ERRMSG_SIZE] = "";
    /* The source unreachable: bounded by the timeout, nothing appended. */
    char saved[64];
    snprintf(saved, sizeof saved, "%s", src_addr);
    snprintf(src_addr, sizeof src_addr, "127.0.0.1:%d", proc_free_port(false));
    make_snapshot(&snap, "RTopic", 0, NMSG);
    snprintf(src_addr, sizeof src_addr, "%s", saved);
    int rv = segfetch_restore(&m.b, 39, snap.data, snap.len, false, 600, &st, err);
    assert_true(rv == TERN_E_IO || rv == TERN_E_TIMEOUT);
    assert_true(st.ms >= 300 && st.ms < 5000);
    struct topic *tp = topics_find(m.b.topics, "RTopic");
    assert_non_null(tp);
    struct partlog *pl;
    assert_int_equal(topics_partition(m.b.topics, tp, 0, &pl), 0);
    assert_int_equal(partlog_next_offset(pl), 0);
    /* A snapshot ending at 12, then one at NMSG: each fetch resumes from the
     * partition's local end (as after a member stopped mid-fetch). */
    make_snapshot(&snap, "RTopic", 0, 12);
    assert_int_equal(segfetch_restore(&m.b, 40, snap.data, snap.len, false, 10000, &st, err), 0);
    assert_int_equal(partlog_next_offset(pl), 12);
    assert_int_equal(st.messages, 12);
    make_snapshot(&snap, "RTopic", 0, NMSG);
    assert_int_equal(segfetch_restore(&m.b, 40, snap.data, snap.len, false, 10000, &st, err), 0);
    assert_int_equal(st.partitions_fetched, 1);
    assert_int_equal(st.messages, NMSG - 12);
    assert_int_equal(partlog_next_offset(pl), NMSG);
    assert_int_equal(offsets_get(&m.b, "g1", "RTopic", 0), 7);
    /* Byte for byte what the source stores. */
    struct rpcsync s2;
    rpcsync_open(&s2, src_addr);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_TERN_FETCH_SEGMENT);
    remoting_ext_set_str(&req, "topic", "RTopic");
    remoting_ext_set_int(&req, "queueId", 0);
    remoting_ext_set_int(&req, "partitionId", partlog_id(pl));
    remoting_ext_set_int(&req, "fromOffset", 0);
    remoting_ext_set_int(&req, "endOffset", NMSG);
    remoting_ext_set_int(&req, "maxBytes", 1 << 20);
    assert_int_equal(rpcsync_call(&s2, &req, NULL, 0, 10000), 0);
    assert_int_equal(s2.resp.code, CODES_RESP_SUCCESS);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct buf local;
    buf_init(&local);
    uint64_t next;
    assert_int_equal(partlog_read_units(pl, 0, NMSG, 1 << 20, &rb, &local, &next), 0);
    assert_int_equal(next, NMSG);
    assert_int_equal(local.len, s2.resp.body.len);
    assert_memory_equal(local.data, s2.resp.body.p, local.len);
    remoting_cmd_free(&req);
    rpcsync_close(&s2);

    /* The same snapshot again: nothing left to fetch. */
    assert_int_equal(segfetch_restore(&m.b, 40, snap.data, snap.len, false, 10000, &st, err), 0);
    assert_int_equal(st.partitions_fetched, 0);
    /* A snapshot whose end is below this member's partition: refused on
     * install, normal at start-up (entries after it were applied here). */
    make_snapshot(&snap, "RTopic", 0, NMSG - 10);
    err[0] = '\0';
    assert_int_equal(segfetch_restore(&m.b, 41, snap.data, snap.len, false, 10000, &st, err), TERN_E_CORRUPT);
    assert_non_null(strstr(err, "refusing"));
    assert_int_equal(segfetch_restore(&m.b, 41, snap.data, snap.len, true, 10000, &st, err), 0);
    assert_int_equal(partlog_next_offset(pl), NMSG);
    /* Another partition id for the queue: refused. */
    make_snapshot(&snap, "RTopic", 1, NMSG);
    err[0] = '\0';
    assert_int_equal(segfetch_restore(&m.b, 42, snap.data, snap.len, false, 10000, &st, err), TERN_E_CORRUPT);
    assert_non_null(strstr(err, "in the snapshot"));
    /* Not a snapshot. */
    const char junk[] = "{\"format\":7}";
    assert_int_equal(segfetch_restore(&m.b, 43, (const uint8_t *)junk, strlen(junk), false, 10000, &st, err),
                     TERN_E_MALFORMED);
    assert_int_equal(segfetch_restore(&m.b, 43, (const uint8_t *)"\xff\x00garbage", 9, false, 10000, &st, err),
                     TERN_E_MALFORMED);
    buf_free(&local);
    partlog_readbuf_free(&rb);
    buf_free(&snap);
    member_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_fetches_and_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
