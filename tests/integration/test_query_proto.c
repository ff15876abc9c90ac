/* Integration, wire level, against a real tern-broker process:
 * QUERY_MESSAGE (12) by KEYS token and with _UNIQUE_KEY_QUERY, its
 * QUERY_NOT_FOUND and INVALID_PARAMETER answers, and survival of kill -9;
 * INVOKE_BROKER_TO_RESET_OFFSET (222) by time, isForce rules, -1 = max, the
 * ResetOffsetBody answer and the RESET_CONSUMER_CLIENT_OFFSET (220) push to a
 * consumer of the group; and the broker's tag filter by hash code (a
 * colliding tag passes the broker: exactness is the client's job, see
 * test_query.sh). ROCKETMQ-PROTOCOL.md §4.20, PROTOCOL.md §4.3. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/heartbeat.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "protocol/resetbody.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tbroker.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

static struct proc broker;
static char dir[512], broker_addr[64];
static int broker_port;

static void start_broker(void)
{
    tbroker_spawn(&broker, dir, broker_port, NULL);
    tbroker_wait(&broker, broker_port);
}

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "query-proto");
    broker_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", broker_port);
    start_broker();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tbroker_stop_clean(&broker);
    testlib_rmtree(dir);
    return 0;
}

/* SEND_MESSAGE_V2 with KEYS, UNIQ_KEY and TAGS. */
static void send_keyed(struct rpcsync *s, const char *topic, int qid, const char *keys, const char *uniq,
                       const char *tag, const char *body)
{
    struct buf props;
    buf_init(&props);
    if (keys)
        properties_append(&props, MSG_PROP_KEYS, keys, strlen(keys));
    if (uniq)
        properties_append(&props, MSG_PROP_UNIQ_KEY, uniq, strlen(uniq));
    if (tag)
        properties_append(&props, MSG_PROP_TAGS, tag, strlen(tag));
    assert_int_equal(tclient_send_props(s, topic, qid, 4, &props, body, strlen(body), NULL), CODES_RESP_SUCCESS);
    buf_free(&props);
}

/* QUERY_MESSAGE; returns the response code. */
static int query(struct rpcsync *s, const char *topic, const char *key, bool unique, int max)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_QUERY_MESSAGE);
    struct headers_client_query_req h = {.topic = slice_of(topic),
                                         .key = slice_of(key),
                                         .max_num = max,
                                         .begin_timestamp = 0,
                                         .end_timestamp = INT64_MAX,
                                         .has_unique_key_query = unique,
                                         .unique_key_query = unique};
    assert_int_equal(headers_client_query_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    return s->resp.code;
}

/* Every record of the response body must carry (kind) key; returns count. */
static int check_records(struct rpcsync *s, const char *prop, const char *key)
{
    struct message_iter it;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    int n = 0, rv;
    message_iter_init(&it, (const uint8_t *)s->resp.body.p, s->resp.body.len, &limits_default, 0);
    while ((rv = message_iter_next(&it, &m, err)) == 1) {
        struct slice v;
        assert_true(properties_get(m.properties.p, m.properties.len, prop, &v));
        bool found = false;
        for (size_t i = 0; i < v.len;) {
            size_t j = i;
            while (j < v.len && v.p[j] != ' ')
                j++;
            if (j - i == strlen(key) && memcmp(v.p + i, key, j - i) == 0)
                found = true;
            i = j + 1;
        }
        assert_true(found);
        n++;
    }
    assert_int_equal(rv, 0);
    return n;
}

static void test_query_message(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    char uniq[32], body[32];
    for (int i = 0; i < 12; i++) {
        snprintf(uniq, sizeof uniq, "UNIQ-%02d", i);
        snprintf(body, sizeof body, "m%d", i);
        send_keyed(&s, "QTopic", i % 3, i % 2 ? "odd all" : "even all", uniq, NULL, body);
    }
    assert_int_equal(query(&s, "QTopic", "odd", false, 32), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_KEYS, "odd"), 6);
    struct headers_client_query_resp hr;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_client_query_resp_decode(&hr, &s.resp, &limits_default, err), 0);
    assert_true(hr.index_last_update_timestamp > 0);
    assert_true(hr.index_last_update_phyoffset > 0);
    assert_int_equal(query(&s, "QTopic", "all", false, 32), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_KEYS, "all"), 12);
    assert_int_equal(query(&s, "QTopic", "all", false, 5), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_KEYS, "all"), 5);
    assert_int_equal(query(&s, "QTopic", "UNIQ-07", true, 32), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_UNIQ_KEY, "UNIQ-07"), 1);
    /* A UNIQ_KEY is not a KEYS token, a KEYS token is not a UNIQ_KEY. */
    assert_int_equal(query(&s, "QTopic", "UNIQ-07", false, 32), CODES_RESP_QUERY_NOT_FOUND);
    assert_int_equal(query(&s, "QTopic", "odd", true, 32), CODES_RESP_QUERY_NOT_FOUND);
    assert_int_equal(query(&s, "QTopic", "od", false, 32), CODES_RESP_QUERY_NOT_FOUND);
    assert_int_equal(query(&s, "NoSuchTopic", "odd", false, 32), CODES_RESP_QUERY_NOT_FOUND);
    assert_int_equal(query(&s, "QTopic", "", false, 32), CODES_RESP_INVALID_PARAMETER);
    rpcsync_close(&s);

    /* kill -9: the index comes back from the partition logs. */
    proc_kill9(&broker);
    start_broker();
    rpcsync_open(&s, broker_addr);
    assert_int_equal(query(&s, "QTopic", "even", false, 32), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_KEYS, "even"), 6);
    assert_int_equal(query(&s, "QTopic", "UNIQ-10", true, 32), CODES_RESP_SUCCESS);
    assert_int_equal(check_records(&s, MSG_PROP_UNIQ_KEY, "UNIQ-10"), 1);
    rpcsync_close(&s);
}

/* Tags "Aa" and "BB" share Java's hashCode 2112: the broker, which filters
 * on the stored hash, passes both for "Aa"; "C" it drops. */
static void test_broker_tag_filter_is_by_hash(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    const char *tags[] = {"Aa", "BB", "C", "Aa", "BB", "C"};
    for (int i = 0; i < 6; i++)
        assert_int_equal(tclient_send(&s, "CollTopic", 0, tags[i], "x", 1, NULL), CODES_RESP_SUCCESS);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {.consumer_group = slice_of("cg"),
                                 .topic = slice_of("CollTopic"),
                                 .queue_id = 0,
                                 .queue_offset = 0,
                                 .max_msg_nums = 32,
                                 .sys_flag = HEADERS_PULL_FLAG_SUBSCRIPTION,
                                 .commit_offset = -1,
                                 .subscription = slice_of("Aa"),
                                 .expression_type = slice_of("TAG")};
    assert_int_equal(headers_pull_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(&s, &req, NULL, 0, 10000), 0);
    assert_int_equal(s.resp.code, CODES_RESP_SUCCESS);
    struct message_iter it;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    int aa = 0, bb = 0, other = 0;
    message_iter_init(&it, (const uint8_t *)s.resp.body.p, s.resp.body.len, &limits_default, 0);
    while (message_iter_next(&it, &m, err) == 1) {
        struct slice t;
        assert_true(properties_get(m.properties.p, m.properties.len, MSG_PROP_TAGS, &t));
        if (t.len == 2 && memcmp(t.p, "Aa", 2) == 0)
            aa++;
        else if (t.len == 2 && memcmp(t.p, "BB", 2) == 0)
            bb++;
        else
            other++;
    }
    assert_int_equal(aa, 2);
    assert_int_equal(bb, 2);
    assert_int_equal(other, 0);
    remoting_cmd_free(&req);
    rpcsync_close(&s);
}

static void heartbeat(struct rpcsync *s, const char *group, const char *topic)
{
    struct heartbeat_sub sub = {.topic = topic, .sub_string = "*", .expression_type = "TAG"};
    struct heartbeat_consumer hc = {.group = group,
                                    .consume_type = HEARTBEAT_CONSUME_PASSIVELY,
                                    .message_model = HEARTBEAT_CLUSTERING,
                                    .from_where = HEARTBEAT_FROM_LAST_OFFSET,
                                    .subs = &sub,
                                    .sub_count = 1};
    struct heartbeat hb = {.client_id = "127.0.0.1@reset", .consumers = &hc, .consumer_count = 1};
    struct buf body;
    buf_init(&body);
    assert_int_equal(heartbeat_encode(&hb, &body), 0);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_HEART_BEAT);
    assert_int_equal(rpcsync_call(s, &req, body.data, body.len, 10000), 0);
    assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    remoting_cmd_free(&req);
    buf_free(&body);
}

/* 222; returns the code, body offsets per queue in offs (-1 if absent). */
static int reset(struct rpcsync *s, const char *group, const char *topic, int64_t ts, bool force, int64_t offs[4])
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET);
    struct headers_offset_reset_req h = {.topic = slice_of(topic),
                                         .group = slice_of(group),
                                         .timestamp = ts,
                                         .has_is_force = true,
                                         .is_force = force};
    assert_int_equal(headers_offset_reset_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    for (int i = 0; i < 4; i++)
        offs[i] = -1;
    if (s->resp.code != CODES_RESP_SUCCESS)
        return s->resp.code;
    struct resetbody_entry e;
    size_t pos = 0;
    int rv;
    while ((rv = resetbody_next(s->resp.body.p, s->resp.body.len, &pos, &e)) == 1) {
        assert_true(e.broker.len == 8 && memcmp(e.broker.p, "broker-a", 8) == 0);
        assert_true(e.topic.len == strlen(topic) && memcmp(e.topic.p, topic, e.topic.len) == 0);
        assert_true(e.queue_id >= 0 && e.queue_id < 4);
        offs[e.queue_id] = e.offset;
    }
    assert_int_equal(rv, 0);
    return CODES_RESP_SUCCESS;
}

static int64_t committed(struct rpcsync *s, const char *group, const char *topic, int qid)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_QUERY_CONSUMER_OFFSET);
    struct headers_offset_query_req h = {.consumer_group = slice_of(group),
                                         .topic = slice_of(topic),
                                         .queue_id = qid,
                                         .has_set_zero_if_not_found = true,
                                         .set_zero_if_not_found = false};
    assert_int_equal(headers_offset_query_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    if (s->resp.code != CODES_RESP_SUCCESS)
        return -1;
    struct headers_offset_resp r;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_offset_resp_decode(&r, &s->resp, &limits_default, err), 0);
    return r.offset;
}

static void test_reset_offset(void **state)
{
    (void)state;
    struct rpcsync admin, cons;
    rpcsync_open(&admin, broker_addr);
    rpcsync_open(&cons, broker_addr);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tclient_send(&admin, "RTopic", 0, NULL, "early", 5, NULL), CODES_RESP_SUCCESS);
    usleep(30000);
    int64_t t_mid = clock_now_ms();
    usleep(30000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tclient_send(&admin, "RTopic", 0, NULL, "late", 4, NULL), CODES_RESP_SUCCESS);
    heartbeat(&cons, "rg", "RTopic");
    rpcsync_run_for(&cons, 200);
    int pushes_before = cons.pushed;

    int64_t offs[4];
    assert_int_equal(reset(&admin, "rg", "RTopic", t_mid, true, offs), CODES_RESP_SUCCESS);
    assert_int_equal(offs[0], 5); /* the first "late" message */
    assert_int_equal(offs[1], 0); /* empty queues: their end */
    assert_int_equal(committed(&admin, "rg", "RTopic", 0), 5);
    rpcsync_run_for(&cons, 500);
    assert_true(cons.pushed > pushes_before);
    assert_int_equal(cons.last_push_code, CODES_REQ_RESET_CONSUMER_CLIENT_OFFSET);

    /* -1: the max offset. */
    assert_int_equal(reset(&admin, "rg", "RTopic", -1, true, offs), CODES_RESP_SUCCESS);
    assert_int_equal(offs[0], 10);
    assert_int_equal(committed(&admin, "rg", "RTopic", 0), 10);
    /* Without isForce an offset only moves back. */
    assert_int_equal(reset(&admin, "rg", "RTopic", 0, false, offs), CODES_RESP_SUCCESS);
    assert_int_equal(offs[0], 0);
    assert_int_equal(reset(&admin, "rg", "RTopic", -1, false, offs), CODES_RESP_SUCCESS);
    assert_int_equal(offs[0], 0);
    assert_int_equal(committed(&admin, "rg", "RTopic", 0), 0);
    /* Errors. */
    assert_int_equal(reset(&admin, "rg", "NoSuchTopic", 0, true, offs), CODES_RESP_TOPIC_NOT_EXIST);
    rpcsync_close(&cons);
    rpcsync_close(&admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_message),
        cmocka_unit_test(test_broker_tag_filter_is_by_hash),
        cmocka_unit_test(test_reset_offset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
