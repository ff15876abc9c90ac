/* Push-consumer behaviour of libtern against an in-process mock broker and
 * name server: the start offset from QUERY_CONSUMER_OFFSET, the pull status
 * rules of ROCKETMQ-PROTOCOL.md §4.3 (OFFSET_MOVED, FOUND, NO_MATCHED_MSG,
 * held pulls), the pull header (SUSPEND | SUBSCRIPTION with the
 * expression), exact-tag re-filtering on the client, and offset commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/lockbody.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "protocol/route.h"
#include "rpc/rpc.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/tern.h"
#include "tests/lib/testlib.h"

#define CLIENT_ID "127.0.0.1@mock-1"

static struct {
    uv_loop_t loop;
    struct rpc_hub hub;
    char addr[64];
    int pulls;
    int64_t pull_offsets[16];
    int32_t pull_flags;
    char pull_sub[64];
    int64_t commits[64];
    int ncommits;
    int heartbeats;
    int unregisters;
    struct rpc_reply held;
    bool have_held;
} M;

static void respond(struct rpc_conn *rc, struct remoting_cmd *req, int code, struct remoting_cmd *resp,
                    struct buf *body)
{
    struct iovec iov = {body ? body->data : NULL, body ? body->len : 0};
    rpc_send(rc, resp, body ? &iov : NULL, body ? 1 : 0);
}

static void add_msg(struct buf *out, int64_t qoff, const char *tags)
{
    struct buf props;
    buf_init(&props);
    properties_append(&props, "TAGS", tags, strlen(tags));
    char body[16];
    snprintf(body, sizeof body, "m%lld", (long long)qoff);
    struct msg_stored m = {
        .queue_id = 0,
        .queue_offset = qoff,
        .physical_offset = 100 + qoff,
        .born_timestamp = 1,
        .born_host = {.family = MSG_HOST_IPV4, .addr = {127, 0, 0, 1}, .port = 1},
        .store_timestamp = 2,
        .store_host = {.family = MSG_HOST_IPV4, .addr = {127, 0, 0, 1}, .port = 2},
        .body = {body, strlen(body)},
        .topic = slice_of("CT"),
        .properties = {(const char *)props.data, props.len},
    };
    assert_int_equal(message_encode(&m, out), 0);
    buf_free(&props);
}

static void pull_response(struct rpc_conn *rc, struct remoting_cmd *req, int code, int64_t next,
                          struct buf *body)
{
    struct remoting_cmd resp;
    remoting_cmd_init(&resp);
    remoting_cmd_init_response(&resp, req, code, NULL);
    struct headers_pull_resp h = {.next_begin_offset = next, .min_offset = 5, .max_offset = 10};
    assert_int_equal(headers_pull_resp_encode(&h, &resp), 0);
    respond(rc, req, code, &resp, body);
    remoting_cmd_free(&resp);
}

static void on_pull(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct headers_pull_req h;
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_pull_req_decode(&h, req, &limits_default, err), 0);
    assert_true(M.pulls < 16);
    M.pull_offsets[M.pulls++] = h.queue_offset;
    M.pull_flags = h.sys_flag;
    snprintf(M.pull_sub, sizeof M.pull_sub, "%.*s", (int)h.subscription.len, h.subscription.p);
    switch (M.pulls) {
    case 1: /* the committed offset 2 is gone: move to 5 */
        pull_response(rc, req, CODES_RESP_PULL_OFFSET_MOVED, 5, NULL);
        break;
    case 2: { /* the broker's tag-hash filter let a TagB through */
        struct buf b;
        buf_init(&b);
        add_msg(&b, 5, "TagA");
        add_msg(&b, 6, "TagB");
        add_msg(&b, 7, "TagA");
        pull_response(rc, req, CODES_RESP_SUCCESS, 8, &b);
        buf_free(&b);
        break;
    }
    case 3: /* scanned up to 9, nothing matched */
        pull_response(rc, req, CODES_RESP_PULL_RETRY_IMMEDIATELY, 9, NULL);
        break;
    default: /* long poll: hold */
        if (!M.have_held) {
            rpc_reply_hold(&M.held, rc, req);
            M.have_held = true;
        }
        break;
    }
}

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct remoting_cmd resp;
    remoting_cmd_init(&resp);
    switch (req->code) {
    case CODES_REQ_GET_ROUTEINFO_BY_TOPIC: {
        struct slice t = remoting_ext_get(req, "topic");
        if (t.len >= 7 && memcmp(t.p, "%RETRY%", 7) == 0) {
            /* This mock broker has no retry topic: only CT is pulled. */
            remoting_cmd_init_response(&resp, req, CODES_RESP_TOPIC_NOT_EXIST, "no route");
            respond(rc, req, 0, &resp, NULL);
            break;
        }
        struct route_addr addrs[] = {{0, M.addr}};
        struct route_broker brokers[] = {{.cluster = "c", .broker_name = "b1", .addrs = addrs, .addr_count = 1}};
        struct route_queue queues[] = {{"b1", 1, 1, 6, 0}};
        struct route_data rd = {brokers, 1, queues, 1, NULL};
        struct buf b;
        buf_init(&b);
        assert_int_equal(route_encode(&rd, true, &b), 0);
        remoting_cmd_init_response(&resp, req, CODES_RESP_SUCCESS, NULL);
        respond(rc, req, 0, &resp, &b);
        buf_free(&b);
        break;
    }
    case CODES_REQ_HEART_BEAT:
        M.heartbeats++;
        rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
        break;
    case CODES_REQ_GET_CONSUMER_LIST_BY_GROUP: {
        const char *ids[] = {CLIENT_ID};
        struct buf b;
        buf_init(&b);
        assert_int_equal(lockbody_ids_encode(ids, 1, &b), 0);
        remoting_cmd_init_response(&resp, req, CODES_RESP_SUCCESS, NULL);
        respond(rc, req, 0, &resp, &b);
        buf_free(&b);
        break;
    }
    case CODES_REQ_QUERY_CONSUMER_OFFSET: {
        remoting_cmd_init_response(&resp, req, CODES_RESP_SUCCESS, NULL);
        struct headers_offset_resp h = {.offset = 2};
        assert_int_equal(headers_offset_resp_encode(&h, &resp), 0);
        respond(rc, req, 0, &resp, NULL);
        break;
    }
    case CODES_REQ_PULL_MESSAGE:
        on_pull(rc, req);
        break;
    case CODES_REQ_UPDATE_CONSUMER_OFFSET: {
        struct headers_offset_update_req h;
        char err[ERRMSG_SIZE];
        assert_int_equal(headers_offset_update_req_decode(&h, req, &limits_default, err), 0);
        if (M.ncommits < 64)
            M.commits[M.ncommits++] = h.commit_offset;
        rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
        break;
    }
    case CODES_REQ_UNREGISTER_CLIENT:
        M.unregisters++;
        rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
        break;
    default:
        rpc_respond_simple(rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, NULL);
    }
    remoting_cmd_free(&resp);
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
}

static const struct rpc_ops ops = {on_request, on_close};

struct delivered {
    int n;
    int64_t offsets[16];
    char bodies[16][8];
};

static int consume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct delivered *d = arg;
    for (size_t i = 0; i < n && d->n < 16; i++) {
        size_t len;
        const char *b = tern_msg_body(msgs[i], &len);
        snprintf(d->bodies[d->n], 8, "%.*s", (int)len, b);
        d->offsets[d->n++] = tern_msg_queue_offset(msgs[i]);
    }
    return TERN_CONSUME_SUCCESS;
}

static bool committed_9(void)
{
    for (int i = 0; i < M.ncommits; i++)
        if (M.commits[i] == 9)
            return true;
    return false;
}

static bool closed;

static void hub_closed(struct rpc_hub *hub)
{
}

static void closed_cb(void *arg)
{
    closed = true;
}

static void test_pull_statuses_filter_and_commits(void **state)
{
    (void)state;
    memset(&M, 0, sizeof M);
    assert_int_equal(uv_loop_init(&M.loop), 0);
    assert_int_equal(rpc_hub_init(&M.hub, &M.loop, &limits_default, 1u << 20), 0);
    char err[ERRMSG_SIZE];
    assert_int_equal(rpc_hub_listen(&M.hub, "127.0.0.1", 0, &ops, err), 0);
    snprintf(M.addr, sizeof M.addr, "127.0.0.1:%d", rpc_hub_port(&M.hub, 0));

    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = M.addr;
    o.client_ip = "127.0.0.1";
    o.instance_name = "mock-1";
    struct tern_client *c;
    assert_int_equal(tern_client_new(&M.loop, &o, &c, NULL), 0);
    assert_string_equal(tern_client_id(c), CLIENT_ID);
    struct delivered d = {0};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "g";
    co.topic = "CT";
    co.expression = "TagA";
    co.commit_ms = 100;
    co.cb = consume_cb;
    co.arg = &d;
    struct tern_consumer *cons;
    assert_int_equal(tern_consumer_new(c, &co, &cons), 0);

    int64_t deadline = clock_mono_ms() + 10000;
    while ((M.pulls < 4 || !committed_9()) && clock_mono_ms() < deadline)
        uv_run(&M.loop, UV_RUN_ONCE);
    assert_true(M.heartbeats >= 1);
    assert_int_equal(M.pulls, 4);
    assert_int_equal(M.pull_offsets[0], 2); /* the committed offset */
    assert_int_equal(M.pull_offsets[1], 5); /* OFFSET_MOVED -> nextBeginOffset */
    assert_int_equal(M.pull_offsets[2], 8); /* after FOUND */
    assert_int_equal(M.pull_offsets[3], 9); /* NO_MATCHED -> at once from nextBeginOffset */
    assert_true(M.pull_flags & 0x2);        /* SUSPEND */
    assert_true(M.pull_flags & 0x4);        /* SUBSCRIPTION */
    assert_string_equal(M.pull_sub, "TagA");
    /* TagB at 6 was dropped on the client. */
    assert_int_equal(d.n, 2);
    assert_int_equal(d.offsets[0], 5);
    assert_int_equal(d.offsets[1], 7);
    assert_string_equal(d.bodies[0], "m5");
    assert_true(committed_9());
    /* Commits never go backwards. */
    for (int i = 1; i < M.ncommits; i++)
        assert_true(M.commits[i] >= M.commits[i - 1]);
    assert_int_equal(tern_consumer_offset(cons, "b1", 0), 9);
    struct tern_queue q[2];
    assert_int_equal(tern_consumer_owned(cons, q, 2), 1);
    assert_string_equal(q[0].broker_name, "b1");

    /* Close: the held pull is canceled, the group unregistered. */
    tern_client_close(c, closed_cb, NULL);
    deadline = clock_mono_ms() + 10000;
    while (!closed && clock_mono_ms() < deadline)
        uv_run(&M.loop, UV_RUN_ONCE);
    assert_true(closed);
    assert_int_equal(M.unregisters, 1);
    if (M.have_held)
        rpc_reply_drop(&M.held);
    rpc_hub_close(&M.hub, hub_closed);
    uv_run(&M.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&M.loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_statuses_filter_and_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
