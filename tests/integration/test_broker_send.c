/* Integration: sends to a real tern-broker process (and its registration with
 * a real tern-namesrv): V1, V2 and batch sends acknowledged with offsets and
 * ids, auto-creation, validation errors, hostile frames that close only their
 * own connection, and messages surviving a restart. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol/batch.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/properties.h"
#include "protocol/route.h"
#include "src/clock.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

static struct proc ns, broker;
static char dir[512], ns_addr[64], broker_addr[64];
static int broker_port;

static void start_broker(bool auto_create)
{
    char bin[512], log[600], set_port[64], set_dir[600], set_ns[96], set_auto[64];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", broker_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", ns_addr);
    snprintf(set_auto, sizeof set_auto, "autoCreateTopicEnable=%s", auto_create ? "true" : "false");
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", set_ns, "--set", "brokerIP1=127.0.0.1", "--set", set_auto,
                          "--set", "maxMessageSize=64k", "--set", "diskMinFreeBytes=0", NULL};
    proc_start(&broker, argv, log);
    if (!proc_wait_port(broker_port, 10000)) {
        proc_dump_log(&broker, 50);
        fail_msg("broker did not start");
    }
}

static int setup(void **state)
{
    (void)state;
    char bin[512], log[600], port_s[16];
    testlib_tmpdir(dir, sizeof dir, "broker-send");
    int nsport = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", nsport);
    snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", nsport);
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    const char *argv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s, NULL};
    proc_start(&ns, argv, log);
    assert_true(proc_wait_port(nsport, 10000));
    broker_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", broker_port);
    start_broker(true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&broker, 10000);
    assert_true(WIFEXITED(broker.status) && WEXITSTATUS(broker.status) == 0);
    proc_stop(&ns, 5000);
    testlib_rmtree(dir);
    return 0;
}

/* Send one message (code 10 or 310) and return the response code. */
static int send_one(struct rpcsync *s, int code, uint8_t ser, const char *topic, int queue_id, const char *tags,
                    const void *body, size_t n)
{
    return tclient_send_ex(s, code, ser, topic, queue_id, tags, body, n, NULL);
}

static void test_send_acknowledged_with_offsets_and_ids(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    char err[ERRMSG_SIZE];
    int64_t prev_phys = -1;
    for (int i = 0; i < 20; i++) {
        int code = send_one(&s, i % 2 ? CODES_REQ_SEND_MESSAGE_V2 : CODES_REQ_SEND_MESSAGE,
                            i % 3 ? REMOTING_SER_JSON : REMOTING_SER_ROCKETMQ, "SendTopic", 1, "TagA", "hello", 5);
        assert_int_equal(code, CODES_RESP_SUCCESS);
        struct headers_send_resp r;
        assert_int_equal(headers_send_resp_decode(&r, &s.resp, &limits_default, err), 0);
        assert_int_equal(r.queue_id, 1);
        assert_int_equal(r.queue_offset, i); /* consecutive offsets in the queue */
        assert_true(r.transaction_id.len == MSGID_UNIQ_LEN_V4);
        assert_true(r.msg_region.p != NULL);
        struct msg_host host;
        int64_t phys;
        assert_int_equal(msgid_offset_decode(r.msg_id.p, r.msg_id.len, &host, &phys, err), 0);
        assert_int_equal(host.port, broker_port);
        assert_true(phys > prev_phys);
        prev_phys = phys;
    }
    rpcsync_close(&s);
}

static void test_batch_send(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    struct buf body, props;
    buf_init(&body);
    buf_init(&props);
    for (int i = 0; i < 10; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "batch-%d", i);
        buf_reset(&props);
        properties_append(&props, MSG_PROP_KEYS, msg, (size_t)n);
        assert_int_equal(batch_encode_item(&body, 0, msg, (size_t)n, (const char *)props.data, props.len), 0);
    }
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_SEND_BATCH_MESSAGE);
    struct headers_send_req h = {
        .producer_group = slice_of("pg"), .topic = slice_of("BatchTopic"), .default_topic = slice_of("TBW102"),
        .default_topic_queue_nums = 2, .queue_id = 0, .born_timestamp = clock_now_ms(),
        .has_batch = true, .batch = true,
    };
    assert_int_equal(headers_send_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(&s, &req, body.data, body.len, 10000), 0);
    assert_int_equal(s.resp.code, CODES_RESP_SUCCESS);
    struct headers_send_resp r;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_send_resp_decode(&r, &s.resp, &limits_default, err), 0);
    assert_int_equal(r.queue_offset, 0);
    /* Ten comma-separated offsetMsgIds. */
    int commas = 0;
    for (size_t i = 0; i < r.msg_id.len; i++)
        commas += r.msg_id.p[i] == ',';
    assert_int_equal(commas, 9);
    /* A corrupt batch body is refused without storing anything. */
    body.data[3] ^= 0x40;
    assert_int_equal(rpcsync_call(&s, &req, body.data, body.len, 10000), 0);
    assert_int_equal(s.resp.code, CODES_RESP_MESSAGE_ILLEGAL);
    remoting_cmd_free(&req);
    buf_free(&body);
    buf_free(&props);
    rpcsync_close(&s);
}

static void test_validation_errors(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    static char big[65 * 1024];
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "Bad/Topic", -1, NULL, "x", 1),
                     CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 99, NULL, "x", 1),
                     CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 0, NULL, big, sizeof big),
                     CODES_RESP_MESSAGE_ILLEGAL);
    assert_non_null(memmem(s.resp.remark.p, s.resp.remark.len, "maxMessageSize", 14));
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, 4444);
    assert_int_equal(rpcsync_call(&s, &req, NULL, 0, 5000), 0);
    assert_int_equal(s.resp.code, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED);
    remoting_cmd_free(&req);
    rpcsync_close(&s);
}

static void test_hostile_frames_close_only_their_connection(void **state)
{
    (void)state;
    struct rpcsync good;
    rpcsync_open(&good, broker_addr);
    /* 1: a declared length far above the frame limit; 2: a header length
     * beyond the frame; 3: a JSON header that is not JSON. */
    uint8_t frames[3][16];
    be32_store(frames[0], 0x7FFFFFF0u);
    be32_store(frames[1], 8);
    be32_store(frames[1] + 4, 0x00FFFFFF);
    be32_store(frames[2], 4 + 8);
    be32_store(frames[2] + 4, 8);
    memcpy(frames[2] + 8, "not json", 8);
    size_t lens[3] = {8, 12, 16};
    for (int i = 0; i < 3; i++) {
        struct rpcsync bad;
        rpcsync_open(&bad, broker_addr);
        tcp_conn_write(bad.conn->tc, frames[i], lens[i]);
        for (int k = 0; k < 500 && !bad.closed; k++)
            rpcsync_run_for(&bad, 10);
        assert_true(bad.closed);
        rpcsync_close(&bad);
    }
    /* A truncated frame held open does not disturb others either. */
    struct rpcsync half;
    rpcsync_open(&half, broker_addr);
    uint8_t partial[6];
    be32_store(partial, 100);
    tcp_conn_write(half.conn->tc, partial, sizeof partial);
    rpcsync_run_for(&half, 50);
    assert_int_equal(send_one(&good, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 2, NULL, "ok", 2),
                     CODES_RESP_SUCCESS);
    rpcsync_close(&half);
    rpcsync_close(&good);
}

static void test_route_registered_with_name_server(void **state)
{
    (void)state;
    struct rpcsync c;
    rpcsync_open(&c, ns_addr);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    int code = -1;
    for (int i = 0; i < 200 && code != 0; i++) {
        remoting_cmd_init_request(&req, CODES_REQ_GET_ROUTEINFO_BY_TOPIC);
        remoting_ext_set_str(&req, "topic", "SendTopic");
        assert_int_equal(rpcsync_call(&c, &req, NULL, 0, 5000), 0);
        code = c.resp.code;
        if (code != 0)
            rpcsync_run_for(&c, 50);
    }
    assert_int_equal(code, 0);
    struct route_data rd;
    struct buf arena;
    buf_init(&arena);
    char err[ERRMSG_SIZE];
    assert_int_equal(route_decode(c.resp.body.p, c.resp.body.len, &rd, &arena, err), 0);
    assert_int_equal(rd.broker_count, 1);
    assert_int_equal(rd.brokers[0].addrs[0].broker_id, 0);
    assert_string_equal(rd.brokers[0].addrs[0].addr, broker_addr);
    assert_int_equal(rd.queues[0].write_queue_nums, 4);
    buf_free(&arena);
    remoting_cmd_free(&req);
    rpcsync_close(&c);
}

static void test_restart_keeps_messages_and_auto_create_off(void **state)
{
    (void)state;
    proc_stop(&broker, 10000);
    assert_true(WIFEXITED(broker.status) && WEXITSTATUS(broker.status) == 0);
    start_broker(false);
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    /* Known topic: the next send continues after the 20 stored ones. */
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 1, NULL, "again", 5),
                     CODES_RESP_SUCCESS);
    struct headers_send_resp r;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_send_resp_decode(&r, &s.resp, &limits_default, err), 0);
    assert_int_equal(r.queue_offset, 20);
    /* Auto-creation is off now. */
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "BrandNewTopic", -1, NULL, "x", 1),
                     CODES_RESP_TOPIC_NOT_EXIST);
    rpcsync_close(&s);
    /* kill -9: acknowledged messages survive a crash too. */
    rpcsync_open(&s, broker_addr);
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 1, NULL, "acked", 5),
                     CODES_RESP_SUCCESS);
    rpcsync_close(&s);
    proc_kill9(&broker);
    start_broker(true);
    rpcsync_open(&s, broker_addr);
    assert_int_equal(send_one(&s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, "SendTopic", 1, NULL, "after", 5),
                     CODES_RESP_SUCCESS);
    assert_int_equal(headers_send_resp_decode(&r, &s.resp, &limits_default, err), 0);
    assert_int_equal(r.queue_offset, 22);
    rpcsync_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_acknowledged_with_offsets_and_ids),
        cmocka_unit_test(test_batch_send),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_hostile_frames_close_only_their_connection),
        cmocka_unit_test(test_route_registered_with_name_server),
        cmocka_unit_test(test_restart_keeps_messages_and_auto_create_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
