/* Tests for rpc/rpc.c over loopback: request/response matching in both header
 * forms, held (late) replies, timeouts, oneway, bad frames, close semantics. */
#include <string.h>
#include <uv.h>

#include "protocol/codes.h"
#include "rpc/rpc.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

struct fx {
    uv_loop_t loop;
    struct rpc_hub server, client;
    struct rpc_conn *conn; /* client side */
    struct rpc_reply held;
    bool have_held;
    int oneways;
    int server_closes;
    int responses;
    int last_status;
    int last_code;
    char last_echo[64];
    bool hubs_closed[2];
};

static void server_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct fx *f = rc->hub->data;
    if (remoting_is_oneway(req)) {
        f->oneways++;
        return;
    }
    switch (req->code) {
    case 1000: { /* echo the "v" extField back */
        struct remoting_cmd resp;
        remoting_cmd_init(&resp);
        remoting_cmd_init_response(&resp, req, CODES_RESP_SUCCESS, NULL);
        struct slice v = remoting_ext_get(req, "v");
        remoting_ext_set(&resp, slice_of("echo"), v);
        rpc_send(rc, &resp, NULL, 0);
        remoting_cmd_free(&resp);
        break;
    }
    case 1001: /* answer later */
        rpc_reply_hold(&f->held, rc, req);
        f->have_held = true;
        break;
    case 1002: /* never answer */
        break;
    default:
        rpc_respond_simple(rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not supported");
    }
}

static void server_close(struct rpc_conn *rc, int err, const char *reason)
{
    (void)err;
    (void)reason;
    struct fx *f = rc->hub->data;
    f->server_closes++;
}

static const struct rpc_ops server_ops = {server_request, server_close};
static const struct rpc_ops client_ops = {NULL, NULL};

static void connected(struct rpc_conn *rc, int status, void *arg)
{
    struct fx *f = arg;
    assert_int_equal(status, 0);
    f->conn = rc;
}

static void got_response(int status, struct remoting_cmd *resp, void *arg)
{
    struct fx *f = arg;
    f->responses++;
    f->last_status = status;
    f->last_code = resp ? resp->code : -1;
    f->last_echo[0] = '\0';
    if (resp) {
        struct slice e = remoting_ext_get(resp, "echo");
        if (e.p)
            snprintf(f->last_echo, sizeof f->last_echo, "%.*s", (int)e.len, e.p);
    }
}

static void spin(struct fx *f, int *counter, int want)
{
    for (int i = 0; i < 20000 && *counter < want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(*counter >= want);
}

static void setup(struct fx *f)
{
    memset(f, 0, sizeof *f);
    char err[ERRMSG_SIZE];
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(rpc_hub_init(&f->server, &f->loop, &limits_default, 1 << 20), 0);
    assert_int_equal(rpc_hub_init(&f->client, &f->loop, &limits_default, 1 << 20), 0);
    f->server.data = f;
    f->client.data = f;
    assert_int_equal(rpc_hub_listen(&f->server, "127.0.0.1", 0, &server_ops, err), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", rpc_hub_port(&f->server, 0));
    assert_int_equal(rpc_connect(&f->client, addr, &client_ops, connected, f, err), 0);
    for (int i = 0; i < 1000 && !f->conn; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_non_null(f->conn);
}

static void hub_closed(struct rpc_hub *hub)
{
    struct fx *f = hub->data;
    f->hubs_closed[hub == &f->server ? 0 : 1] = true;
}

static void teardown(struct fx *f)
{
    rpc_hub_close(&f->client, hub_closed);
    rpc_hub_close(&f->server, hub_closed);
    for (int i = 0; i < 1000 && !(f->hubs_closed[0] && f->hubs_closed[1]); i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->hubs_closed[0] && f->hubs_closed[1]);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void send_req(struct fx *f, int code, const char *v, uint8_t ser, int64_t timeout)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, code);
    req.serialize = ser;
    if (v)
        remoting_ext_set_str(&req, "v", v);
    assert_int_equal(rpc_request(f->conn, &req, NULL, 0, timeout, got_response, f), 0);
    remoting_cmd_free(&req);
}

static void test_request_response_both_forms(void **state)
{
    (void)state;
    struct fx f;
    setup(&f);
    send_req(&f, 1000, "json \x01 value", REMOTING_SER_JSON, 5000);
    spin(&f, &f.responses, 1);
    assert_int_equal(f.last_status, 0);
    assert_string_equal(f.last_echo, "json \x01 value");
    send_req(&f, 1000, "binary", REMOTING_SER_ROCKETMQ, 5000);
    spin(&f, &f.responses, 2);
    assert_string_equal(f.last_echo, "binary");
    send_req(&f, 4242, NULL, REMOTING_SER_JSON, 5000);
    spin(&f, &f.responses, 3);
    assert_int_equal(f.last_code, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED);
    teardown(&f);
}

static void test_held_reply_and_timeout(void **state)
{
    (void)state;
    struct fx f;
    setup(&f);
    send_req(&f, 1002, NULL, REMOTING_SER_JSON, 100); /* never answered */
    send_req(&f, 1001, NULL, REMOTING_SER_ROCKETMQ, 5000);
    for (int i = 0; i < 1000 && !f.have_held; i++)
        uv_run(&f.loop, UV_RUN_ONCE);
    assert_true(f.have_held);
    spin(&f, &f.responses, 1);
    assert_int_equal(f.last_status, TERN_E_TIMEOUT);
    struct remoting_cmd resp;
    remoting_cmd_init(&resp);
    assert_int_equal(rpc_reply_begin(&f.held, &resp, CODES_RESP_SUCCESS, "late"), 0);
    remoting_ext_set_str(&resp, "echo", "held");
    assert_int_equal(rpc_reply_finish(&f.held, &resp, NULL, 0), 0);
    remoting_cmd_free(&resp);
    spin(&f, &f.responses, 2);
    assert_int_equal(f.last_status, 0);
    assert_string_equal(f.last_echo, "held");
    teardown(&f);
}

static void test_oneway_and_close_fails_pending(void **state)
{
    (void)state;
    struct fx f;
    setup(&f);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, 1000);
    assert_int_equal(rpc_oneway(f.conn, &req, NULL, 0), 0);
    remoting_cmd_free(&req);
    spin(&f, &f.oneways, 1);
    send_req(&f, 1002, NULL, REMOTING_SER_JSON, 60000);
    for (int i = 0; i < 20; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    rpc_conn_close(f.conn, 0, "test");
    spin(&f, &f.responses, 1);
    assert_int_equal(f.last_status, TERN_E_CLOSED);
    spin(&f, &f.server_closes, 1);
    teardown(&f);
}

static void test_garbage_frame_closes_connection(void **state)
{
    (void)state;
    struct fx f;
    setup(&f);
    /* A frame whose header length exceeds the frame: the server must close
     * the connection, failing our pending request. */
    send_req(&f, 1002, NULL, REMOTING_SER_JSON, 60000);
    uint8_t bad[12];
    be32_store(bad, 8);
    be32_store(bad + 4, 0x00000FFF);
    memset(bad + 8, 'x', 4);
    assert_int_equal(tcp_conn_write(f.conn->tc, bad, sizeof bad), 0);
    spin(&f, &f.server_closes, 1);
    spin(&f, &f.responses, 1);
    assert_int_equal(f.last_status, TERN_E_CLOSED);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_response_both_forms),
        cmocka_unit_test(test_held_reply_and_timeout),
        cmocka_unit_test(test_oneway_and_close_fails_pending),
        cmocka_unit_test(test_garbage_frame_closes_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
