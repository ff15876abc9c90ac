/* Producer behaviour of libtern against an in-process mock name server and
 * broker (one rpc hub playing both): retries on another broker for
 * retryable codes only, the TBW102 route for unknown topics, binary and JSON
 * headers, LZ4 sysFlag, batch bodies, and TERN_E_CANCELED on close
 * (ROCKETMQ-PROTOCOL.md §3.3, §4.1, §4.2, §4.15). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client/msgbuild.h"
#include "protocol/batch.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "protocol/route.h"
#include "rpc/rpc.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/tern.h"
#include "tests/lib/testlib.h"

#define MAX_SCRIPT 8
#define MAX_SEEN 16

struct seen_send {
    int code;
    uint8_t serialize;
    char topic[64];
    char broker[32];
    int qid;
    int32_t sysflag;
    struct buf props;
    struct buf body;
};

struct mock {
    uv_loop_t loop;
    struct rpc_hub hub;
    char addr[64];
    int script[MAX_SCRIPT]; /* response codes for successive sends; -1 = never answer */
    int nscript;
    int next;
    struct seen_send seen[MAX_SEEN];
    int nseen;
    int route_queries;
    bool hub_closed;
};

static struct mock M;

static void respond_route(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct slice topic = remoting_ext_get(req, "topic");
    M.route_queries++;
    struct route_addr addrs[] = {{0, M.addr}};
    struct route_broker brokers[] = {
        {.cluster = "c", .broker_name = "b1", .addrs = addrs, .addr_count = 1},
        {.cluster = "c", .broker_name = "b2", .addrs = addrs, .addr_count = 1},
    };
    struct route_queue known[] = {{"b1", 2, 2, 6, 0}, {"b2", 2, 2, 6, 0}};
    struct route_queue tbw[] = {{"b1", 8, 8, 7, 0}};
    struct route_data rd;
    if (slice_eq(topic, "Known"))
        rd = (struct route_data){brokers, 2, known, 2, NULL};
    else if (slice_eq(topic, "TBW102"))
        rd = (struct route_data){brokers, 1, tbw, 1, NULL};
    else {
        rpc_respond_simple(rc, req, CODES_RESP_TOPIC_NOT_EXIST, "no route");
        return;
    }
    struct buf b;
    buf_init(&b);
    assert_int_equal(route_encode(&rd, true, &b), 0);
    struct remoting_cmd resp;
    remoting_cmd_init(&resp);
    remoting_cmd_init_response(&resp, req, CODES_RESP_SUCCESS, NULL);
    struct iovec iov = {b.data, b.len};
    rpc_send(rc, &resp, &iov, 1);
    remoting_cmd_free(&resp);
    buf_free(&b);
}

static void respond_send(struct rpc_conn *rc, struct remoting_cmd *req)
{
    assert_true(M.nseen < MAX_SEEN);
    struct seen_send *s = &M.seen[M.nseen++];
    struct headers_send_req h;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_send_req_decode(&h, req, &limits_default, err), 0);
    s->code = req->code;
    s->serialize = req->serialize;
    snprintf(s->topic, sizeof s->topic, "%.*s", (int)h.topic.len, h.topic.p);
    snprintf(s->broker, sizeof s->broker, "%.*s", (int)h.broker_name.len,
             h.broker_name.p ? h.broker_name.p : "");
    s->qid = h.queue_id;
    s->sysflag = h.sys_flag;
    buf_init(&s->props);
    buf_init(&s->body);
    buf_append(&s->props, h.properties.p, h.properties.len);
    buf_append(&s->body, req->body.p, req->body.len);
    int code = M.next < M.nscript ? M.script[M.next] : CODES_RESP_SUCCESS;
    M.next++;
    if (code < 0)
        return; /* hold forever */
    struct remoting_cmd resp;
    remoting_cmd_init(&resp);
    remoting_cmd_init_response(&resp, req, code, code ? "scripted failure" : NULL);
    if (code == CODES_RESP_SUCCESS) {
        struct headers_send_resp r = {
            .msg_id = slice_of("7F00000100002A9F0000000000000010"),
            .queue_id = h.queue_id,
            .queue_offset = 41,
        };
        assert_int_equal(headers_send_resp_encode(&r, &resp), 0);
    }
    rpc_send(rc, &resp, NULL, 0);
    remoting_cmd_free(&resp);
}

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    switch (req->code) {
    case CODES_REQ_GET_ROUTEINFO_BY_TOPIC:
        respond_route(rc, req);
        break;
    case CODES_REQ_SEND_MESSAGE_V2:
    case CODES_REQ_SEND_BATCH_MESSAGE:
        respond_send(rc, req);
        break;
    default:
        rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
    }
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
}

static const struct rpc_ops mock_ops = {on_request, on_close};

static int setup(void **state)
{
    (void)state;
    memset(&M, 0, sizeof M);
    assert_int_equal(uv_loop_init(&M.loop), 0);
    assert_int_equal(rpc_hub_init(&M.hub, &M.loop, &limits_default, 1u << 20), 0);
    char err[ERRMSG_SIZE];
    assert_int_equal(rpc_hub_listen(&M.hub, "127.0.0.1", 0, &mock_ops, err), 0);
    snprintf(M.addr, sizeof M.addr, "127.0.0.1:%d", rpc_hub_port(&M.hub, 0));
    return 0;
}

static void hub_closed(struct rpc_hub *hub)
{
    M.hub_closed = true;
}

static int teardown(void **state)
{
    (void)state;
    rpc_hub_close(&M.hub, hub_closed);
    uv_run(&M.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&M.loop), 0);
    for (int i = 0; i < M.nseen; i++) {
        buf_free(&M.seen[i].props);
        buf_free(&M.seen[i].body);
    }
    return 0;
}

/* ---- client side ---- */

struct outcome {
    bool done;
    int err;
    char errmsg[TERN_ERRMSG_SIZE];
    struct tern_send_result res;
    char msg_id[400];
    char broker[32];
};

static void send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct outcome *o = arg;
    assert_false(o->done); /* exactly once */
    o->done = true;
    o->err = err;
    snprintf(o->errmsg, sizeof o->errmsg, "%s", errmsg);
    if (res) {
        o->res = *res;
        snprintf(o->msg_id, sizeof o->msg_id, "%s", res->msg_id);
        snprintf(o->broker, sizeof o->broker, "%s", res->broker_name);
    }
}

static void run_until_done(bool *flag)
{
    int64_t deadline = clock_mono_ms() + 10000;
    while (!*flag && clock_mono_ms() < deadline)
        uv_run(&M.loop, UV_RUN_ONCE);
    assert_true(*flag);
}

static bool closed_flag;

static void client_closed(void *arg)
{
    closed_flag = true;
}

static struct tern_client *new_client(enum tern_header_form form, struct tern_producer **p)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    /* The first name server is dead: the client must move on to the next. */
    char list[160];
    snprintf(list, sizeof list, "127.0.0.1:1;%s", M.addr);
    o.namesrv_addr = list;
    o.header_form = form;
    o.request_timeout_ms = 1000;
    struct tern_client *c;
    char err[TERN_ERRMSG_SIZE];
    if (tern_client_new(&M.loop, &o, &c, err) != 0)
        fail_msg("%s", err);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg";
    assert_int_equal(tern_producer_new(c, &po, p), 0);
    return c;
}

static void close_client(struct tern_client *c)
{
    closed_flag = false;
    tern_client_close(c, client_closed, NULL);
    run_until_done(&closed_flag);
}

static void script(int n, const int *codes)
{
    M.nscript = n;
    if (n > 0)
        memcpy(M.script, codes, (size_t)n * sizeof *codes);
    M.next = 0;
    for (int i = 0; i < M.nseen; i++) {
        buf_free(&M.seen[i].props);
        buf_free(&M.seen[i].body);
    }
    M.nseen = 0;
}

static void test_retryable_code_moves_to_another_broker(void **state)
{
    (void)state;
    struct tern_producer *p;
    struct tern_client *c = new_client(TERN_HEADER_BINARY, &p);
    int codes[] = {CODES_RESP_SYSTEM_BUSY, CODES_RESP_SUCCESS};
    script(2, codes);
    struct outcome o = {0};
    struct tern_send_msg m = {.topic = "Known", .body = "hi", .body_len = 2, .tags = "T"};
    assert_int_equal(tern_producer_send(p, &m, send_cb, &o), 0);
    assert_false(o.done); /* never inside the call */
    run_until_done(&o.done);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.res.attempts, 2);
    assert_int_equal(M.nseen, 2);
    assert_string_not_equal(M.seen[0].broker, M.seen[1].broker);
    assert_string_equal(o.broker, M.seen[1].broker);
    assert_int_equal(o.res.queue_offset, 41);
    assert_int_equal(M.seen[0].code, CODES_REQ_SEND_MESSAGE_V2);
    assert_int_equal(M.seen[0].serialize, REMOTING_SER_ROCKETMQ);
    /* The same UNIQ_KEY on both attempts, and it is the result's msgId. */
    struct slice u0, u1;
    assert_true(properties_get((const char *)M.seen[0].props.data, M.seen[0].props.len, "UNIQ_KEY", &u0));
    assert_true(properties_get((const char *)M.seen[1].props.data, M.seen[1].props.len, "UNIQ_KEY", &u1));
    assert_true(slice_eq_slice(u0, u1));
    assert_true(slice_eq(u0, o.msg_id));
    close_client(c);
}

static void test_non_retryable_and_exhausted(void **state)
{
    (void)state;
    struct tern_producer *p;
    struct tern_client *c = new_client(TERN_HEADER_JSON, &p);
    int illegal[] = {CODES_RESP_MESSAGE_ILLEGAL};
    script(1, illegal);
    struct outcome o = {0};
    struct tern_send_msg m = {.topic = "Known", .body = "hi", .body_len = 2};
    assert_int_equal(tern_producer_send(p, &m, send_cb, &o), 0);
    run_until_done(&o.done);
    assert_int_equal(o.err, TERN_E_MESSAGE_ILLEGAL);
    assert_int_equal(M.nseen, 1);
    assert_int_equal(M.seen[0].serialize, REMOTING_SER_JSON);

    int errors[] = {CODES_RESP_SYSTEM_ERROR, CODES_RESP_SERVICE_NOT_AVAILABLE, CODES_RESP_SYSTEM_ERROR};
    script(3, errors);
    struct outcome o2 = {0};
    assert_int_equal(tern_producer_send(p, &m, send_cb, &o2), 0);
    run_until_done(&o2.done);
    assert_int_equal(o2.err, TERN_E_SYSTEM);
    assert_int_equal(M.nseen, 3); /* 1 + 2 retries */
    assert_non_null(strstr(o2.errmsg, "scripted failure"));
    close_client(c);
}

static void test_unknown_topic_uses_tbw102_route(void **state)
{
    (void)state;
    struct tern_producer *p;
    struct tern_client *c = new_client(TERN_HEADER_BINARY, &p);
    script(0, NULL);
    for (int i = 0; i < 6; i++) {
        struct outcome o = {0};
        struct tern_send_msg m = {.topic = "BrandNew", .body = "x", .body_len = 1};
        assert_int_equal(tern_producer_send(p, &m, send_cb, &o), 0);
        run_until_done(&o.done);
        assert_int_equal(o.err, 0);
    }
    assert_int_equal(M.nseen, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(M.seen[i].topic, "BrandNew");
        assert_string_equal(M.seen[i].broker, "b1");
        assert_true(M.seen[i].qid >= 0 && M.seen[i].qid < 4); /* clamped to defaultTopicQueueNums */
    }
    close_client(c);
}

static void test_compressed_and_batch_bodies(void **state)
{
    (void)state;
    struct tern_producer *p;
    struct tern_client *c = new_client(TERN_HEADER_BINARY, &p);
    script(0, NULL);
    static char big[8192];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 7);
    struct outcome o = {0};
    struct tern_send_msg m = {.topic = "Known", .body = big, .body_len = sizeof big,
                              .use_queue_id = true, .queue_id = 1, .broker_name = "b2"};
    assert_int_equal(tern_producer_send(p, &m, send_cb, &o), 0);
    run_until_done(&o.done);
    assert_int_equal(o.err, 0);
    assert_int_equal(M.seen[0].sysflag, 0x1); /* zlib by default */
    assert_int_equal(M.seen[0].qid, 1);
    assert_string_equal(M.seen[0].broker, "b2");
    struct buf d;
    buf_init(&d);
    assert_int_equal(msgbuild_decompress(0x1, M.seen[0].body.data, M.seen[0].body.len, 1u << 20, &d), 0);
    assert_int_equal(d.len, sizeof big);
    assert_memory_equal(d.data, big, sizeof big);
    buf_free(&d);

    /* Batch: code 320, one record per message, each with its own UNIQ_KEY
     * and tags; msgId lists them in order; never compressed. */
    struct tern_send_msg batch[3] = {
        {.topic = "Known", .body = "a", .body_len = 1, .tags = "x"},
        {.topic = "Known", .body = big, .body_len = sizeof big, .tags = "y"},
        {.topic = "Known", .body = "c", .body_len = 1, .keys = "k"},
    };
    struct outcome ob = {0};
    assert_int_equal(tern_producer_send_batch(p, batch, 3, send_cb, &ob), 0);
    run_until_done(&ob.done);
    assert_int_equal(ob.err, 0);
    assert_int_equal(M.seen[1].code, CODES_REQ_SEND_BATCH_MESSAGE);
    assert_int_equal(M.seen[1].sysflag, 0);
    struct batch_iter it;
    struct batch_item item;
    char err[ERRMSG_SIZE];
    batch_iter_init(&it, M.seen[1].body.data, M.seen[1].body.len, &limits_default);
    int n = 0;
    const char *cursor = ob.msg_id;
    while (batch_iter_next(&it, &item, err) == 1) {
        struct slice u, t;
        assert_true(properties_get(item.properties.p, item.properties.len, "UNIQ_KEY", &u));
        assert_memory_equal(cursor, u.p, u.len);
        cursor += u.len + 1;
        if (n == 0) {
            assert_true(properties_get(item.properties.p, item.properties.len, "TAGS", &t));
            assert_true(slice_eq(t, "x"));
        }
        if (n == 1)
            assert_int_equal(item.body.len, sizeof big);
        n++;
    }
    assert_int_equal(n, 3);
    /* Mixed topics and delayed messages are refused now. */
    batch[1].topic = "Other";
    assert_int_equal(tern_producer_send_batch(p, batch, 3, send_cb, &ob), TERN_E_INVAL);
    batch[1].topic = "Known";
    batch[2].delay_level = 2;
    assert_int_equal(tern_producer_send_batch(p, batch, 3, send_cb, &ob), TERN_E_INVAL);
    close_client(c);
}

static void test_close_cancels_in_flight_sends(void **state)
{
    (void)state;
    struct tern_producer *p;
    struct tern_client *c = new_client(TERN_HEADER_BINARY, &p);
    int hold[] = {-1};
    script(1, hold);
    struct outcome o = {0};
    struct tern_send_msg m = {.topic = "Known", .body = "hi", .body_len = 2};
    assert_int_equal(tern_producer_send(p, &m, send_cb, &o), 0);
    /* Wait until the broker has it, then close. */
    int64_t deadline = clock_mono_ms() + 5000;
    while (M.nseen == 0 && clock_mono_ms() < deadline)
        uv_run(&M.loop, UV_RUN_ONCE);
    assert_int_equal(M.nseen, 1);
    closed_flag = false;
    tern_client_close(c, client_closed, NULL);
    run_until_done(&closed_flag);
    assert_true(o.done);
    assert_int_equal(o.err, TERN_E_CANCELED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retryable_code_moves_to_another_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_retryable_and_exhausted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_topic_uses_tbw102_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_and_batch_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_cancels_in_flight_sends, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
