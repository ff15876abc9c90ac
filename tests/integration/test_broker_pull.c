/* Integration: pulls and offsets against a real tern-broker process
 * (ROCKETMQ-PROTOCOL.md §4.3-§4.6, §4.20): FOUND with exact records and
 * offsets, the status/nextBeginOffset table, tag filtering (request and
 * heartbeat subscriptions), long polling woken by a send and answered at its
 * timeout, consumer offsets (COMMIT_OFFSET flag, QUERY/UPDATE with the
 * QUERY_NOT_FOUND rule), queue offset queries, VIEW_MESSAGE_BY_ID, and
 * offsets and messages surviving kill -9 and SIGTERM restarts. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/heartbeat.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/properties.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tbroker.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define FLAG_COMMIT HEADERS_PULL_FLAG_COMMIT_OFFSET
#define FLAG_SUSPEND HEADERS_PULL_FLAG_SUSPEND
#define FLAG_SUB HEADERS_PULL_FLAG_SUBSCRIPTION

static struct proc broker;
static char dir[512], broker_addr[64];
static int broker_port;

/* First start with proc_start; restarts reuse its argv (proc_restart). */
static void start_broker_proc(void)
{
    static const char *const extra[] = {"consumerOffsetFlushInterval=200ms", NULL};
    tbroker_spawn(&broker, dir, broker_port, extra);
}

static void start_broker(void)
{
    start_broker_proc();
    tbroker_wait(&broker, broker_port);
}

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "broker-pull");
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

/* ---- helpers ---- */

/* Send one message; returns its queue offset and (if phys) its physical offset. */
static int64_t send_msg(struct rpcsync *s, const char *topic, int queue_id, const char *tags, const char *body,
                        int64_t *phys)
{
    int64_t off = -1;
    assert_int_equal(tclient_send(s, topic, queue_id, tags, body, strlen(body), &off), CODES_RESP_SUCCESS);
    struct headers_send_resp r;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_send_resp_decode(&r, &s->resp, &limits_default, err), 0);
    assert_int_equal(r.queue_id, queue_id);
    if (phys) {
        struct msg_host host;
        assert_int_equal(msgid_offset_decode(r.msg_id.p, r.msg_id.len, &host, phys, err), 0);
    }
    return off;
}

struct pull_opts {
    int code; /* request code: 0 = PULL_MESSAGE */
    const char *group;
    int32_t max_msgs;
    int32_t sys_flag;
    int64_t commit_offset;
    int64_t suspend_ms;
    const char *sub; /* NULL: no subscription field */
    const char *expr_type;
    int64_t sub_version;
    int32_t max_bytes; /* 0: absent */
};

static void build_pull(struct remoting_cmd *req, const char *topic, int queue_id, int64_t offset,
                       const struct pull_opts *o)
{
    remoting_cmd_init_request(req, o->code ? o->code : CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {
        .consumer_group = slice_of(o->group ? o->group : "cg"),
        .topic = slice_of(topic),
        .queue_id = queue_id,
        .queue_offset = offset,
        .max_msg_nums = o->max_msgs ? o->max_msgs : 32,
        .sys_flag = o->sys_flag,
        .commit_offset = o->commit_offset,
        .suspend_timeout_millis = o->suspend_ms,
        .subscription = {o->sub, o->sub ? strlen(o->sub) : 0},
        .sub_version = o->sub_version,
        .expression_type = {o->expr_type, o->expr_type ? strlen(o->expr_type) : 0},
        .has_max_msg_bytes = o->max_bytes != 0,
        .max_msg_bytes = o->max_bytes,
    };
    assert_int_equal(headers_pull_req_encode(&h, req), 0);
}

#define MAX_GOT 64

struct pulled {
    int code;
    struct headers_pull_resp h;
    int n;
    int64_t offsets[MAX_GOT];
    int64_t store_ts[MAX_GOT];
    int32_t queue_ids[MAX_GOT];
    char bodies[MAX_GOT][32];
    char tags[MAX_GOT][16];
    char remark[256];
};

/* Decode a pull response into p (header for 0/19/20/21, records for 0). */
static void decode_pull(const struct remoting_cmd *resp, struct pulled *p)
{
    memset(p, 0, sizeof *p);
    p->code = resp->code;
    if (resp->remark.p)
        snprintf(p->remark, sizeof p->remark, "%.*s", (int)resp->remark.len, resp->remark.p);
    char err[ERRMSG_SIZE];
    if (p->code == 0 || p->code == 19 || p->code == 20 || p->code == 21)
        assert_int_equal(headers_pull_resp_decode(&p->h, resp, &limits_default, err), 0);
    if (p->code != 0) {
        assert_int_equal(resp->body.len, 0);
        return;
    }
    struct message_iter it;
    message_iter_init(&it, (const uint8_t *)resp->body.p, resp->body.len, &limits_default,
                      MESSAGE_DECODE_VERIFY_CRC);
    struct msg_stored m;
    int rv;
    while ((rv = message_iter_next(&it, &m, err)) == 1) {
        assert_true(p->n < MAX_GOT);
        p->offsets[p->n] = m.queue_offset;
        p->store_ts[p->n] = m.store_timestamp;
        p->queue_ids[p->n] = m.queue_id;
        snprintf(p->bodies[p->n], sizeof p->bodies[0], "%.*s", (int)m.body.len, m.body.p);
        struct properties props;
        struct slice tag;
        assert_int_equal(properties_parse(m.properties.p, m.properties.len, &limits_default, &props, err), 0);
        if (properties_find(&props, MSG_PROP_TAGS, &tag))
            snprintf(p->tags[p->n], sizeof p->tags[0], "%.*s", (int)tag.len, tag.p);
        p->n++;
    }
    assert_int_equal(rv, 0);
}

static void pull(struct rpcsync *s, const char *topic, int queue_id, int64_t offset, const struct pull_opts *o,
                 struct pulled *p)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    build_pull(&req, topic, queue_id, offset, o);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 30000), 0);
    remoting_cmd_free(&req);
    decode_pull(&s->resp, p);
}

/* A pull with "*" in the request: every message. */
static const struct pull_opts ALL = {.sys_flag = FLAG_SUB, .sub = "*"};

struct async_pull {
    bool done;
    int status;
    struct pulled p;
    int64_t sent_ms;
    int64_t done_ms;
};

static void async_cb(int status, struct remoting_cmd *resp, void *arg)
{
    struct async_pull *a = arg;
    a->done = true;
    a->done_ms = clock_mono_ms();
    a->status = status;
    if (status == 0)
        decode_pull(resp, &a->p);
}

static void pull_async(struct rpcsync *s, const char *topic, int queue_id, int64_t offset, const struct pull_opts *o,
                       struct async_pull *a)
{
    memset(a, 0, sizeof *a);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    build_pull(&req, topic, queue_id, offset, o);
    a->sent_ms = clock_mono_ms();
    assert_int_equal(rpc_request(s->conn, &req, NULL, 0, 30000, async_cb, a), 0);
    remoting_cmd_free(&req);
}

/* Run s's loop until a is answered, at most ms. */
static void wait_async(struct rpcsync *s, struct async_pull *a, int ms)
{
    for (int i = 0; i < ms / 10 && !a->done; i++)
        rpcsync_run_for(s, 10);
}

static int query_offset(struct rpcsync *s, const char *group, const char *topic, int queue_id, int set_zero,
                        int64_t *out)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_QUERY_CONSUMER_OFFSET);
    struct headers_offset_query_req h = {
        .consumer_group = slice_of(group),
        .topic = slice_of(topic),
        .queue_id = queue_id,
        .has_set_zero_if_not_found = set_zero >= 0,
        .set_zero_if_not_found = set_zero > 0,
    };
    assert_int_equal(headers_offset_query_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    if (s->resp.code == CODES_RESP_SUCCESS) {
        struct headers_offset_resp r;
        char err[ERRMSG_SIZE];
        assert_int_equal(headers_offset_resp_decode(&r, &s->resp, &limits_default, err), 0);
        *out = r.offset;
    }
    return s->resp.code;
}

static void update_offset(struct rpcsync *s, const char *group, const char *topic, int queue_id, int64_t off,
                          bool oneway)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_UPDATE_CONSUMER_OFFSET);
    struct headers_offset_update_req h = {
        .consumer_group = slice_of(group), .topic = slice_of(topic), .queue_id = queue_id, .commit_offset = off};
    assert_int_equal(headers_offset_update_req_encode(&h, &req), 0);
    if (oneway) {
        assert_int_equal(rpc_oneway(s->conn, &req, NULL, 0), 0);
    } else {
        assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
        assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    }
    remoting_cmd_free(&req);
}

/* GET_MAX/MIN_OFFSET, GET_EARLIEST_MSG_STORETIME: the header value. */
static int64_t queue_value(struct rpcsync *s, int code, const char *topic, int queue_id)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, code);
    struct headers_offset_queue_req h = {.topic = slice_of(topic), .queue_id = queue_id};
    assert_int_equal(headers_offset_queue_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    char err[ERRMSG_SIZE];
    if (code == CODES_REQ_GET_EARLIEST_MSG_STORETIME) {
        struct headers_offset_time_resp r;
        assert_int_equal(headers_offset_time_resp_decode(&r, &s->resp, &limits_default, err), 0);
        return r.timestamp;
    }
    struct headers_offset_resp r;
    assert_int_equal(headers_offset_resp_decode(&r, &s->resp, &limits_default, err), 0);
    return r.offset;
}

static int64_t search_offset(struct rpcsync *s, const char *topic, int queue_id, int64_t ts, const char *boundary)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP);
    struct headers_offset_search_req h = {.topic = slice_of(topic),
                                          .queue_id = queue_id,
                                          .timestamp = ts,
                                          .boundary_type = {boundary, boundary ? strlen(boundary) : 0}};
    assert_int_equal(headers_offset_search_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    struct headers_offset_resp r;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_offset_resp_decode(&r, &s->resp, &limits_default, err), 0);
    return r.offset;
}

/* ---- tests ---- */

static int64_t first_phys; /* physical offset of PullTopic/0 message 0 */

/* PullTopic queue 0: m0..m4, tags TagA, TagB, TagA, TagB, TagA. */
static void test_pull_found_with_exact_records(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    for (int i = 0; i < 5; i++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", i);
        assert_int_equal(send_msg(&s, "PullTopic", 0, i % 2 ? "TagB" : "TagA", body, i ? NULL : &first_phys), i);
    }
    struct pulled p;
    pull(&s, "PullTopic", 0, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 5);
    for (int i = 0; i < 5; i++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", i);
        assert_int_equal(p.offsets[i], i);
        assert_int_equal(p.queue_ids[i], 0);
        assert_string_equal(p.bodies[i], body);
        assert_string_equal(p.tags[i], i % 2 ? "TagB" : "TagA");
    }
    assert_int_equal(p.h.next_begin_offset, 5);
    assert_int_equal(p.h.min_offset, 0);
    assert_int_equal(p.h.max_offset, 5);
    assert_int_equal(p.h.suggest_which_broker_id, 0);

    /* A window in the middle: maxMsgNums bounds the count. */
    struct pull_opts two = ALL;
    two.max_msgs = 2;
    pull(&s, "PullTopic", 0, 2, &two, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.offsets[0], 2);
    assert_int_equal(p.offsets[1], 3);
    assert_int_equal(p.h.next_begin_offset, 4);

    /* maxMsgBytes below one message still returns the first one. */
    struct pull_opts tiny = ALL;
    tiny.max_bytes = 1;
    pull(&s, "PullTopic", 0, 1, &tiny, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.bodies[0], "m1");
    assert_int_equal(p.h.next_begin_offset, 2);

    /* LITE_PULL_MESSAGE answers the same way. */
    struct pull_opts lite = ALL;
    lite.code = CODES_REQ_LITE_PULL_MESSAGE;
    lite.sys_flag |= HEADERS_PULL_FLAG_LITE_PULL;
    pull(&s, "PullTopic", 0, 3, &lite, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.bodies[1], "m4");

    /* More records than the iovec fast path: 20 on queue 1, one pull. */
    for (int i = 0; i < 20; i++) {
        char body[16];
        snprintf(body, sizeof body, "q1-%d", i);
        assert_int_equal(send_msg(&s, "PullTopic", 1, NULL, body, NULL), i);
    }
    pull(&s, "PullTopic", 1, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 20);
    for (int i = 0; i < 20; i++) {
        char body[16];
        snprintf(body, sizeof body, "q1-%d", i);
        assert_int_equal(p.offsets[i], i);
        assert_string_equal(p.bodies[i], body);
    }
    assert_int_equal(p.h.next_begin_offset, 20);
    rpcsync_close(&s);
}

static void test_pull_status_table_and_errors(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    struct pulled p;
    /* offset == max: NO_NEW_MSG, next = offset (no SUSPEND: answered now). */
    pull(&s, "PullTopic", 0, 5, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_PULL_NOT_FOUND);
    assert_int_equal(p.h.next_begin_offset, 5);
    assert_int_equal(p.h.max_offset, 5);
    /* offset > max: OFFSET_MOVED to max. */
    pull(&s, "PullTopic", 0, 100, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_PULL_OFFSET_MOVED);
    assert_int_equal(p.h.next_begin_offset, 5);
    /* Empty queue: 19 at offset 0, 21 (next 0) elsewhere. */
    pull(&s, "PullTopic", 2, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_PULL_NOT_FOUND);
    assert_int_equal(p.h.next_begin_offset, 0);
    pull(&s, "PullTopic", 2, 3, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_PULL_OFFSET_MOVED);
    assert_int_equal(p.h.next_begin_offset, 0);
    assert_int_equal(p.h.max_offset, 0);
    /* Validation. */
    pull(&s, "NoSuchTopic", 0, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_TOPIC_NOT_EXIST);
    pull(&s, "PullTopic", 99, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_INVALID_PARAMETER);
    struct pull_opts nosub = {.sys_flag = 0};
    pull(&s, "PullTopic", 0, 0, &nosub, &p);
    assert_int_equal(p.code, CODES_RESP_SUBSCRIPTION_NOT_EXIST);
    assert_non_null(strstr(p.remark, "subscription not exist"));
    struct pull_opts sql = {.sys_flag = FLAG_SUB, .sub = "a > 1", .expr_type = "SQL92"};
    pull(&s, "PullTopic", 0, 0, &sql, &p);
    assert_int_equal(p.code, CODES_RESP_SUBSCRIPTION_PARSE_FAILED);
    assert_non_null(strstr(p.remark, "SQL92"));
    rpcsync_close(&s);
}

static void test_pull_tag_filter(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    struct pulled p;
    struct pull_opts a = {.sys_flag = FLAG_SUB, .sub = "TagA"};
    pull(&s, "PullTopic", 0, 0, &a, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p.offsets[i], 2 * i);
        assert_string_equal(p.tags[i], "TagA");
    }
    assert_int_equal(p.h.next_begin_offset, 5);
    /* From offset 1 with TagB: skips nothing it should return. */
    struct pull_opts bb = {.sys_flag = FLAG_SUB, .sub = " TagB || TagX "};
    pull(&s, "PullTopic", 0, 1, &bb, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.offsets[0], 1);
    assert_int_equal(p.offsets[1], 3);
    /* Nothing matches: NO_MATCHED_MSG, next = where the scan stopped (the end). */
    struct pull_opts none = {.sys_flag = FLAG_SUB, .sub = "TagC"};
    pull(&s, "PullTopic", 0, 0, &none, &p);
    assert_int_equal(p.code, CODES_RESP_PULL_RETRY_IMMEDIATELY);
    assert_int_equal(p.h.next_begin_offset, 5);
    /* Both tags: everything. */
    struct pull_opts ab = {.sys_flag = FLAG_SUB, .sub = "TagA||TagB"};
    pull(&s, "PullTopic", 0, 0, &ab, &p);
    assert_int_equal(p.n, 5);
    rpcsync_close(&s);
}

/* Without SUBSCRIPTION in the request the broker filters with what the
 * group registered by heartbeat on this connection. */
static void test_pull_uses_heartbeat_subscription(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    struct heartbeat_sub sub = {.topic = "PullTopic", .sub_string = "TagB", .expression_type = "TAG",
                                .sub_version = 100};
    struct heartbeat_consumer hc = {.group = "hbgroup",
                                    .consume_type = HEARTBEAT_CONSUME_PASSIVELY,
                                    .message_model = HEARTBEAT_CLUSTERING,
                                    .from_where = HEARTBEAT_FROM_LAST_OFFSET,
                                    .subs = &sub,
                                    .sub_count = 1};
    struct heartbeat hb = {.client_id = "127.0.0.1@test", .consumers = &hc, .consumer_count = 1};
    struct buf body;
    buf_init(&body);
    assert_int_equal(heartbeat_encode(&hb, &body), 0);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_HEART_BEAT);
    assert_int_equal(rpcsync_call(&s, &req, body.data, body.len, 10000), 0);
    assert_int_equal(s.resp.code, CODES_RESP_SUCCESS);
    remoting_cmd_free(&req);
    buf_free(&body);

    struct pulled p;
    struct pull_opts o = {.group = "hbgroup", .sys_flag = 0, .sub_version = 100};
    pull(&s, "PullTopic", 0, 0, &o, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.tags[0], "TagB");
    assert_string_equal(p.tags[1], "TagB");
    /* A newer subscription than the heartbeat told us: not latest. */
    o.sub_version = 200;
    pull(&s, "PullTopic", 0, 0, &o, &p);
    assert_int_equal(p.code, CODES_RESP_SUBSCRIPTION_NOT_LATEST);
    rpcsync_close(&s);
}

static void test_long_poll_answered_when_message_arrives(void **state)
{
    (void)state;
    struct rpcsync a, b;
    rpcsync_open(&a, broker_addr);
    rpcsync_open(&b, broker_addr);
    assert_int_equal(send_msg(&b, "HoldTopic", 0, "TagA", "first", NULL), 0);
    struct pull_opts o = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "TagA", .suspend_ms = 20000};
    struct async_pull ap;
    pull_async(&a, "HoldTopic", 0, 1, &o, &ap);
    /* Held, not answered. */
    rpcsync_run_for(&a, 300);
    assert_false(ap.done);
    /* A message the filter rejects keeps it held. */
    assert_int_equal(send_msg(&b, "HoldTopic", 0, "TagB", "other", NULL), 1);
    rpcsync_run_for(&a, 300);
    assert_false(ap.done);
    /* A matching one answers it at once. */
    assert_int_equal(send_msg(&b, "HoldTopic", 0, "TagA", "wake", NULL), 2);
    wait_async(&a, &ap, 5000);
    assert_true(ap.done);
    assert_int_equal(ap.status, 0);
    assert_int_equal(ap.p.code, CODES_RESP_SUCCESS);
    assert_int_equal(ap.p.n, 1);
    assert_int_equal(ap.p.offsets[0], 2);
    assert_string_equal(ap.p.bodies[0], "wake");
    assert_int_equal(ap.p.h.next_begin_offset, 3);
    assert_true(ap.done_ms - ap.sent_ms < 10000); /* far below the 20 s suspend */

    /* Unfiltered: woken by the next send on the queue. */
    struct pull_opts all_suspend = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "*", .suspend_ms = 20000};
    pull_async(&a, "HoldTopic", 0, 3, &all_suspend, &ap);
    rpcsync_run_for(&a, 200);
    assert_false(ap.done);
    assert_int_equal(send_msg(&b, "HoldTopic", 0, NULL, "plain", NULL), 3);
    wait_async(&a, &ap, 5000);
    assert_true(ap.done);
    assert_int_equal(ap.p.code, CODES_RESP_SUCCESS);
    assert_string_equal(ap.p.bodies[0], "plain");
    rpcsync_close(&a);
    rpcsync_close(&b);
}

static void test_long_poll_times_out_with_not_found(void **state)
{
    (void)state;
    struct rpcsync a, b;
    rpcsync_open(&a, broker_addr);
    rpcsync_open(&b, broker_addr);
    struct pull_opts o = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "*", .suspend_ms = 1000};
    struct async_pull ap;
    pull_async(&a, "HoldTopic", 0, 4, &o, &ap);
    wait_async(&a, &ap, 10000);
    assert_true(ap.done);
    assert_int_equal(ap.p.code, CODES_RESP_PULL_NOT_FOUND);
    assert_int_equal(ap.p.h.next_begin_offset, 4);
    assert_int_equal(ap.p.h.max_offset, 4);
    assert_true(ap.done_ms - ap.sent_ms >= 900);
    assert_true(ap.done_ms - ap.sent_ms < 8000);

    /* A held filtered pull whose filter rejects every arrival is answered at
     * its deadline from past the rejected messages. */
    struct pull_opts z = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "TagZ", .suspend_ms = 1500};
    pull_async(&a, "HoldTopic", 0, 4, &z, &ap);
    rpcsync_run_for(&a, 200);
    assert_false(ap.done);
    assert_int_equal(send_msg(&b, "HoldTopic", 0, "TagB", "skip", NULL), 4);
    wait_async(&a, &ap, 10000);
    assert_true(ap.done);
    assert_int_equal(ap.p.code, CODES_RESP_PULL_NOT_FOUND);
    assert_int_equal(ap.p.h.next_begin_offset, 5);
    assert_true(ap.done_ms - ap.sent_ms >= 1400);

    /* A consumer that disconnects while held does not disturb the broker. */
    struct rpcsync c;
    rpcsync_open(&c, broker_addr);
    struct pull_opts longer = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "*", .suspend_ms = 20000};
    pull_async(&c, "HoldTopic", 0, 5, &longer, &ap);
    rpcsync_run_for(&c, 100);
    rpcsync_close(&c);
    assert_int_equal(send_msg(&b, "HoldTopic", 0, NULL, "after-close", NULL), 5);
    struct pulled p;
    pull(&b, "HoldTopic", 0, 5, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_string_equal(p.bodies[0], "after-close");
    rpcsync_close(&a);
    rpcsync_close(&b);
}

static void test_consumer_offsets(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    int64_t off = -1;
    /* No commit yet, queue starts at 0: SUCCESS 0 ... */
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, -1, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 0);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 1, &off), CODES_RESP_SUCCESS);
    /* ... unless the client says setZeroIfNotFound=false. */
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 0, &off), CODES_RESP_QUERY_NOT_FOUND);
    update_offset(&s, "cg1", "PullTopic", 0, 3, false);
    off = -1;
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 3);
    /* Oneway update (how clients send it), then read back on the same connection. */
    update_offset(&s, "cg1", "PullTopic", 1, 17, true);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 1, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 17);
    /* Another group is independent. */
    assert_int_equal(query_offset(&s, "cg-other", "PullTopic", 1, 0, &off), CODES_RESP_QUERY_NOT_FOUND);
    /* COMMIT_OFFSET on a pull. */
    struct pull_opts o = {.group = "cg1", .sys_flag = FLAG_SUB | FLAG_COMMIT, .sub = "*", .commit_offset = 4};
    struct pulled p;
    pull(&s, "PullTopic", 0, 4, &o, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 4);
    /* Without the flag commitOffset is ignored. */
    o.sys_flag = FLAG_SUB;
    o.commit_offset = 1;
    pull(&s, "PullTopic", 0, 4, &o, &p);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 4);
    rpcsync_close(&s);
}

static void test_queue_offset_queries(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    assert_int_equal(queue_value(&s, CODES_REQ_GET_MAX_OFFSET, "PullTopic", 0), 5);
    assert_int_equal(queue_value(&s, CODES_REQ_GET_MAX_OFFSET, "PullTopic", 1), 20);
    assert_int_equal(queue_value(&s, CODES_REQ_GET_MIN_OFFSET, "PullTopic", 0), 0);
    assert_int_equal(queue_value(&s, CODES_REQ_GET_MAX_OFFSET, "NoSuchTopic", 0), 0);
    assert_int_equal(queue_value(&s, CODES_REQ_GET_MAX_OFFSET, "PullTopic", 2), 0);

    /* TimeTopic: four messages sent 20 ms apart, so store times differ
     * between messages by far more than the skew below. */
    for (int i = 0; i < 4; i++) {
        if (i)
            usleep(20000); /* spaces store times apart; not synchronisation */
        assert_int_equal(send_msg(&s, "TimeTopic", 0, NULL, "t", NULL), i);
    }
    struct pulled p;
    pull(&s, "TimeTopic", 0, 0, &ALL, &p);
    assert_int_equal(p.n, 4);
    /* The record's STORETIMESTAMP is taken by the send path just before the
     * store stamps its unit, so the two may differ by a millisecond or so. */
    int64_t earliest = queue_value(&s, CODES_REQ_GET_EARLIEST_MSG_STORETIME, "TimeTopic", 0);
    assert_true(earliest >= p.store_ts[0] - 5 && earliest <= p.store_ts[0] + 5);
    /* Search: lower = first offset with store time >= ts, else max; upper =
     * last offset with store time <= ts. ts falls between messages k and k+1. */
    for (int k = 0; k < 3; k++) {
        assert_true(p.store_ts[k + 1] - p.store_ts[k] >= 15);
        int64_t ts = p.store_ts[k] + 8;
        assert_int_equal(search_offset(&s, "TimeTopic", 0, ts, NULL), k + 1);
        assert_int_equal(search_offset(&s, "TimeTopic", 0, ts, "lower"), k + 1);
        assert_int_equal(search_offset(&s, "TimeTopic", 0, ts, "UPPER"), k);
    }
    assert_int_equal(search_offset(&s, "TimeTopic", 0, p.store_ts[3] + 60000, NULL), 4);
    assert_int_equal(search_offset(&s, "TimeTopic", 0, p.store_ts[3] + 60000, "upper"), 3);
    assert_int_equal(search_offset(&s, "TimeTopic", 0, 1, NULL), 0);
    assert_int_equal(search_offset(&s, "TimeTopic", 0, 1, "upper"), 0);
    /* Unknown queue: 0. */
    assert_int_equal(search_offset(&s, "NoSuchTopic", 0, 1, NULL), 0);
    rpcsync_close(&s);
}

static int view(struct rpcsync *s, int64_t phys, struct msg_stored *m)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_VIEW_MESSAGE_BY_ID);
    struct headers_client_view_req h = {.offset = phys};
    assert_int_equal(headers_client_view_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    if (s->resp.code == CODES_RESP_SUCCESS) {
        size_t used;
        char err[ERRMSG_SIZE];
        assert_int_equal(message_decode((const uint8_t *)s->resp.body.p, s->resp.body.len, &limits_default,
                                        MESSAGE_DECODE_VERIFY_CRC, m, &used, err),
                         0);
        assert_int_equal(used, s->resp.body.len);
    }
    return s->resp.code;
}

static void test_view_message_by_id(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    struct msg_stored m;
    assert_int_equal(view(&s, first_phys, &m), CODES_RESP_SUCCESS);
    assert_int_equal(m.queue_offset, 0);
    assert_int_equal(m.physical_offset, first_phys);
    assert_true(slice_eq(m.body, "m0"));
    assert_true(slice_eq(m.topic, "PullTopic"));
    /* Message 3 of the same partition: phys + 3. */
    assert_int_equal(view(&s, first_phys + 3, &m), CODES_RESP_SUCCESS);
    assert_true(slice_eq(m.body, "m3"));
    /* Past the end, and an unknown partition. */
    assert_int_equal(view(&s, first_phys + 5, &m), CODES_RESP_SYSTEM_ERROR);
    assert_non_null(memmem(s.resp.remark.p, s.resp.remark.len, "can not find message by the offset", 34));
    assert_int_equal(view(&s, (int64_t)4000 << 44, &m), CODES_RESP_SYSTEM_ERROR);
    assert_int_equal(view(&s, -1, &m), CODES_RESP_SYSTEM_ERROR);
    rpcsync_close(&s);
}

static bool file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static void test_offsets_and_messages_survive_restarts(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/data/consumer_offsets.json", dir);
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    update_offset(&s, "cg-crash", "PullTopic", 2, 7, false);
    rpcsync_close(&s);
    /* The flush timer (200 ms here) writes it without a shutdown. */
    bool written = false;
    for (int i = 0; i < 500 && !written; i++) {
        written = file_contains(path, "cg-crash");
        if (!written)
            usleep(10000);
    }
    assert_true(written);
    proc_kill9(&broker);
    start_broker();
    rpcsync_open(&s, broker_addr);
    int64_t off = -1;
    assert_int_equal(query_offset(&s, "cg-crash", "PullTopic", 2, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 7);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 4);
    /* A commit right before SIGTERM is written by the shutdown flush. */
    update_offset(&s, "cg-term", "PullTopic", 0, 2, false);
    rpcsync_close(&s);
    tbroker_stop_clean(&broker);
    start_broker();
    rpcsync_open(&s, broker_addr);
    assert_int_equal(query_offset(&s, "cg-term", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 2);
    assert_int_equal(query_offset(&s, "cg1", "PullTopic", 1, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 17);
    /* Messages too, and a view by id before the partition was touched. */
    struct msg_stored m;
    assert_int_equal(view(&s, first_phys + 4, &m), CODES_RESP_SUCCESS);
    assert_true(slice_eq(m.body, "m4"));
    struct pulled p;
    pull(&s, "PullTopic", 0, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.bodies[4], "m4");
    rpcsync_close(&s);
}

/* A damaged unit is reported, never skipped or sent as garbage; the units
 * around it stay readable. */
static void test_corrupt_unit_gets_system_error(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    for (int i = 0; i < 3; i++) {
        char body[32];
        snprintf(body, sizeof body, "CORRUPT-ME-%d", i);
        assert_int_equal(send_msg(&s, "CorruptTopic", 0, NULL, body, NULL), i);
    }
    rpcsync_close(&s);
    tbroker_stop_clean(&broker);
    /* Flip one byte inside the body of message 1 (each send is one unit). */
    char path[700];
    snprintf(path, sizeof path, "%s/data/queues/CorruptTopic/0/00000000000000000000.log", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    static uint8_t data[1 << 20];
    size_t n = fread(data, 1, sizeof data, f);
    uint8_t *at = memmem(data, n, "CORRUPT-ME-1", 12);
    assert_non_null(at);
    assert_int_equal(fseek(f, (long)(at - data), SEEK_SET), 0);
    assert_int_equal(fputc('X', f), 'X');
    fclose(f);
    start_broker();
    rpcsync_open(&s, broker_addr);
    struct pulled p;
    pull(&s, "CorruptTopic", 0, 1, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SYSTEM_ERROR);
    assert_non_null(strstr(p.remark, "offset 1"));
    /* Before the damage: message 0 only, next stops at the damaged one. */
    pull(&s, "CorruptTopic", 0, 0, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.bodies[0], "CORRUPT-ME-0");
    assert_int_equal(p.h.next_begin_offset, 1);
    /* After it: readable. */
    pull(&s, "CorruptTopic", 0, 2, &ALL, &p);
    assert_int_equal(p.code, CODES_RESP_SUCCESS);
    assert_string_equal(p.bodies[0], "CORRUPT-ME-2");
    rpcsync_close(&s);
}

/* A corrupt offsets file stops the start (exit status 1, clean shutdown)
 * instead of forgetting every group's position, and is left as it was. */
static void test_corrupt_offsets_file_refuses_start(void **state)
{
    (void)state;
    char path[700], saved[720];
    snprintf(path, sizeof path, "%s/data/consumer_offsets.json", dir);
    snprintf(saved, sizeof saved, "%s.saved", path);
    proc_stop(&broker, 10000);
    assert_int_equal(rename(path, saved), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"formatVersion\":1,\"offsets\":[{\"topic\":", f);
    fclose(f);
    start_broker_proc();
    bool exited = proc_wait(&broker, 10000);
    int status = broker.status;
    if (!exited)
        proc_kill9(&broker);
    bool untouched = file_contains(path, "{\"formatVersion\":1,\"offsets\":[{\"topic\":");
    /* Restore and restart before asserting, so teardown finds a broker. */
    assert_int_equal(rename(saved, path), 0);
    start_broker();
    assert_true(exited);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(untouched);
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    int64_t off = -1;
    assert_int_equal(query_offset(&s, "cg-term", "PullTopic", 0, 0, &off), CODES_RESP_SUCCESS);
    assert_int_equal(off, 2);
    rpcsync_close(&s);
}

/* Many pulls held on several queues at once are each answered by the send
 * to their queue; a shutdown with pulls still held exits cleanly. */
static void test_many_holds_and_shutdown_while_held(void **state)
{
    (void)state;
    enum { QUEUES = 4, HOLDS = 40 };
    struct rpcsync a, b;
    rpcsync_open(&a, broker_addr);
    rpcsync_open(&b, broker_addr);
    for (int q = 0; q < QUEUES; q++)
        assert_int_equal(send_msg(&b, "ManyTopic", q, NULL, "seed", NULL), 0);
    static struct async_pull ap[HOLDS];
    struct pull_opts star = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "*", .suspend_ms = 20000};
    struct pull_opts taga = {.sys_flag = FLAG_SUB | FLAG_SUSPEND, .sub = "TagA", .suspend_ms = 20000};
    for (int i = 0; i < HOLDS; i++)
        pull_async(&a, "ManyTopic", i % QUEUES, 1, i % 2 ? &taga : &star, &ap[i]);
    rpcsync_run_for(&a, 300);
    for (int i = 0; i < HOLDS; i++)
        assert_false(ap[i].done);
    for (int q = 0; q < QUEUES; q++) {
        char body[16];
        snprintf(body, sizeof body, "wake-%d", q);
        assert_int_equal(send_msg(&b, "ManyTopic", q, "TagA", body, NULL), 1);
    }
    for (int k = 0; k < 500; k++) {
        int done = 0;
        for (int i = 0; i < HOLDS; i++)
            done += ap[i].done;
        if (done == HOLDS)
            break;
        rpcsync_run_for(&a, 10);
    }
    for (int i = 0; i < HOLDS; i++) {
        char body[16];
        snprintf(body, sizeof body, "wake-%d", i % QUEUES);
        assert_true(ap[i].done);
        assert_int_equal(ap[i].p.code, CODES_RESP_SUCCESS);
        assert_int_equal(ap[i].p.n, 1);
        assert_int_equal(ap[i].p.queue_ids[0], i % QUEUES);
        assert_string_equal(ap[i].p.bodies[0], body);
    }
    /* Held again, then SIGTERM: the broker exits 0 and every pull ends
     * (answered or failed by the closed connection), none hangs. */
    for (int i = 0; i < 10; i++)
        pull_async(&a, "ManyTopic", i % QUEUES, 2, &star, &ap[i]);
    rpcsync_run_for(&a, 200);
    tbroker_stop_clean(&broker);
    for (int k = 0; k < 500; k++) {
        int done = 0;
        for (int i = 0; i < 10; i++)
            done += ap[i].done;
        if (done == 10)
            break;
        rpcsync_run_for(&a, 10);
    }
    for (int i = 0; i < 10; i++) {
        assert_true(ap[i].done);
        assert_true(ap[i].status != 0 || ap[i].p.code == CODES_RESP_PULL_NOT_FOUND);
    }
    rpcsync_close(&a);
    rpcsync_close(&b);
    start_broker();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_found_with_exact_records),
        cmocka_unit_test(test_pull_status_table_and_errors),
        cmocka_unit_test(test_pull_tag_filter),
        cmocka_unit_test(test_pull_uses_heartbeat_subscription),
        cmocka_unit_test(test_long_poll_answered_when_message_arrives),
        cmocka_unit_test(test_long_poll_times_out_with_not_found),
        cmocka_unit_test(test_consumer_offsets),
        cmocka_unit_test(test_queue_offset_queries),
        cmocka_unit_test(test_view_message_by_id),
        cmocka_unit_test(test_offsets_and_messages_survive_restarts),
        cmocka_unit_test(test_corrupt_unit_gets_system_error),
        cmocka_unit_test(test_many_holds_and_shutdown_while_held),
        cmocka_unit_test(test_corrupt_offsets_file_refuses_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
