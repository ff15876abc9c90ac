/* The broker's replicated-command path (broker/fsm.c) on an in-process
 * broker: APPEND commands are applied with offsets, physical offsets and
 * store times patched into the stored records, replays of an index the
 * partition already holds are skipped, and malformed commands change nothing. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/topics.h"
#include "protocol/message.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/testlib.h"

static struct broker b;
static uv_loop_t loop;
static char dir[512];
static int acks;

static void acked(struct store_append_req *req, int status)
{
    (void)req;
    assert_int_equal(status, 0);
    acks++;
}

static void closed(struct broker *bb)
{
    (void)bb;
}

/* Two stored-format records with blank offsets, as a send handler makes them. */
static void make_records(struct buf *rec, struct record_msg *msgs, const char *topic)
{
    buf_reset(rec);
    size_t at[2];
    for (int i = 0; i < 2; i++) {
        char body[16];
        snprintf(body, sizeof body, "body-%d", i);
        struct msg_stored m = {.queue_id = 1, .born_timestamp = 1, .born_host = {.family = MSG_HOST_IPV4},
                               .store_host = {.family = MSG_HOST_IPV4}, .body = slice_of(body),
                               .topic = slice_of(topic)};
        at[i] = rec->len;
        assert_int_equal(message_encode(&m, rec), 0);
    }
    for (int i = 0; i < 2; i++) {
        msgs[i].data = rec->data + at[i];
        msgs[i].len = (uint32_t)((i == 1 ? rec->len : at[1]) - at[i]);
        msgs[i].tag_hash = 7;
    }
}

static void test_apply_patches_and_skips_replays(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "fsm");
    struct brokerconf conf;
    char err[ERRMSG_SIZE], v[700];
    assert_int_equal(brokerconf_defaults(&conf, err), 0);
    snprintf(v, sizeof v, "%s/data", dir);
    assert_int_equal(brokerconf_set(&conf, "storePathRootDir", v, err), 0);
    snprintf(v, sizeof v, "%d", proc_free_port(true));
    assert_int_equal(brokerconf_set(&conf, "listenPort", v, err), 0);
    assert_int_equal(brokerconf_set(&conf, "namesrvAddr", "", err), 0);
    assert_int_equal(brokerconf_set(&conf, "listenHost", "127.0.0.1", err), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(broker_start(&b, &loop, &conf), 0);
    /* Topics are created by TOPIC commands too. */
    struct topic_conf tc = {.read_queues = 2, .write_queues = 2, .perm = 6, .multi_tag = true};
    struct buf tcmd;
    buf_init(&tcmd);
    assert_int_equal(fsm_encode_topic(&tcmd, "FsmTopic", &tc, false), 0);
    struct fsm_result tres;
    assert_int_equal(fsm_apply(&b, 1, tcmd.data, tcmd.len, NULL, NULL, &tres), 0);
    assert_int_equal(tres.status, 0);
    struct topic *tp = topics_find(b.topics, "FsmTopic");
    assert_non_null(tp);
    assert_int_equal(tp->write_queues, 2);
    assert_true(tp->multi_tag);
    assert_int_equal(fsm_apply(&b, 2, tcmd.data, tcmd.len - 1, NULL, NULL, &tres), TERN_E_MALFORMED);
    /* OFFSET commands set a group's committed offset. */
    buf_reset(&tcmd);
    assert_int_equal(fsm_encode_offset(&tcmd, "g1", "FsmTopic", 1, 42), 0);
    assert_int_equal(fsm_apply(&b, 3, tcmd.data, tcmd.len, NULL, NULL, &tres), 0);
    assert_int_equal(offsets_get(&b, "g1", "FsmTopic", 1), 42);
    assert_int_equal(fsm_apply(&b, 4, tcmd.data, tcmd.len + 1, NULL, NULL, &tres), TERN_E_MALFORMED);
    buf_free(&tcmd);

    struct buf rec, cmd;
    buf_init(&rec);
    buf_init(&cmd);
    struct record_msg msgs[2];
    make_records(&rec, msgs, "FsmTopic");
    int64_t ts = clock_now_ms();
    assert_int_equal(fsm_encode_append(&cmd, "FsmTopic", 1, ts, false, msgs, 2), 0);

    struct store_append_req reqs[3];
    struct fsm_result res;
    assert_int_equal(fsm_apply(&b, 5, cmd.data, cmd.len, &reqs[0], acked, &res), 0);
    assert_int_equal(res.status, 0);
    assert_false(res.skipped);
    assert_int_equal(res.first_offset, 0);
    assert_int_equal(res.count, 2);
    for (int i = 0; i < 1000 && acks < 1; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(acks, 1);

    struct partlog *pl = store_partition_find(b.store, "FsmTopic", 1);
    assert_non_null(pl);
    assert_int_equal(partlog_last_source_index(pl), 5);
    /* The same raft index again (a replay after restart): skipped. */
    assert_int_equal(fsm_apply(&b, 5, cmd.data, cmd.len, &reqs[1], acked, &res), 0);
    assert_true(res.skipped);
    assert_int_equal(partlog_next_offset(pl), 2);
    /* The next index continues the queue. */
    assert_int_equal(fsm_apply(&b, 6, cmd.data, cmd.len, &reqs[2], acked, &res), 0);
    assert_int_equal(res.first_offset, 2);
    for (int i = 0; i < 1000 && acks < 2; i++)
        uv_run(&loop, UV_RUN_ONCE);

    /* Two commands of one raft entry to the same partition both apply, and a
     * replay skips exactly the ones already stored. */
    struct store_append_req more[2];
    assert_int_equal(fsm_apply(&b, fsm_source(9, 0), cmd.data, cmd.len, &more[0], acked, &res), 0);
    assert_int_equal(res.first_offset, 4);
    assert_int_equal(fsm_apply(&b, fsm_source(9, 1), cmd.data, cmd.len, &more[1], acked, &res), 0);
    assert_int_equal(res.first_offset, 6);
    for (int i = 0; i < 1000 && acks < 4; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(acks, 4);
    assert_int_equal(partlog_last_source_index(pl), fsm_source(9, 1));
    assert_int_equal(fsm_apply(&b, fsm_source(9, 1), cmd.data, cmd.len, NULL, NULL, &res), 0);
    assert_true(res.skipped);

    /* Stored records carry the offsets and the store time they were given. */
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg out[8];
    struct partlog_read_result rr;
    assert_int_equal(partlog_read(pl, 0, 8, 1 << 20, NULL, &rb, out, &rr), 0);
    assert_int_equal(rr.n, 8);
    for (uint32_t i = 0; i < rr.n; i++) {
        struct msg_stored m;
        size_t used;
        assert_int_equal(message_decode(out[i].data, out[i].len, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &m,
                                        &used, err),
                         0);
        assert_int_equal(m.queue_offset, i);
        assert_int_equal((uint64_t)m.physical_offset, store_phys_encode(partlog_id(pl), i));
        assert_int_equal(m.store_timestamp, out[i].store_ts);
        assert_true(m.store_timestamp >= ts);
    }
    partlog_readbuf_free(&rb);

    /* Malformed commands: refused, nothing stored. */
    assert_int_equal(fsm_apply(&b, fsm_source(10, 0), cmd.data, 10, NULL, NULL, &res), TERN_E_MALFORMED);
    cmd.data[0] = 99;
    assert_int_equal(fsm_apply(&b, fsm_source(10, 0), cmd.data, cmd.len, NULL, NULL, &res), TERN_E_MALFORMED);
    assert_int_equal(partlog_next_offset(pl), 8);
    /* An unknown topic is a refused command, not an error of the log. */
    buf_reset(&cmd);
    assert_int_equal(fsm_encode_append(&cmd, "Nope", 0, ts, false, msgs, 2), 0);
    assert_int_equal(fsm_apply(&b, fsm_source(11, 0), cmd.data, cmd.len, NULL, NULL, &res), 0);
    assert_int_equal(res.status, TERN_E_TOPIC_NOT_EXIST);

    buf_free(&rec);
    buf_free(&cmd);
    broker_close(&b, closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_patches_and_skips_replays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
