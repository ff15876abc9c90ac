/* Tests for src/tcpconn.c over real loopback sockets: framing across partial
 * writes, echo, oversized frames closing the connection, close ordering. */
#include <string.h>
#include <uv.h>

#include "src/endian.h"
#include "src/errmsg.h"
#include "src/tcpconn.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

struct fixture {
    uv_loop_t loop;
    struct tcp_server server;
    struct tcp_conn *client;
    int server_frames;
    int client_frames;
    size_t client_bytes;
    int server_close_err;
    char server_close_reason[160];
    int server_closes;
    int client_closes;
    int connected;
    bool server_closed;
};

static const struct tcp_limits limits = {.max_frame = 1024, .max_write_backlog = 1 << 20};

static void server_frame_cb(struct tcp_conn *c, const uint8_t *frame, size_t len)
{
    struct fixture *f = c->server->data;
    f->server_frames++;
    tcp_conn_write(c, frame, len); /* echo */
}

static void server_close_cb(struct tcp_conn *c, int err, const char *reason)
{
    struct fixture *f = c->server->data;
    f->server_closes++;
    f->server_close_err = err;
    snprintf(f->server_close_reason, sizeof f->server_close_reason, "%s", reason);
}

static void accept_cb(struct tcp_server *s, struct tcp_conn *c)
{
    (void)s;
    c->on_frame = server_frame_cb;
    c->on_close = server_close_cb;
}

static void client_frame_cb(struct tcp_conn *c, const uint8_t *frame, size_t len)
{
    struct fixture *f = c->data;
    f->client_frames++;
    f->client_bytes += len;
    assert_int_equal(be32_load(frame) + 4, len);
}

static void client_close_cb(struct tcp_conn *c, int err, const char *reason)
{
    (void)err;
    (void)reason;
    struct fixture *f = c->data;
    f->client_closes++;
    f->client = NULL;
}

static void connect_cb(struct tcp_conn *c, int status)
{
    struct fixture *f = c->data;
    assert_int_equal(status, 0);
    f->connected = 1;
    c->on_frame = client_frame_cb;
    c->on_close = client_close_cb;
}

static void run_until(struct fixture *f, int *flag, int want)
{
    for (int i = 0; i < 10000 && *flag < want; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(*flag >= want);
}

static void setup_pair(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(tcp_server_listen(&f->server, &f->loop, "127.0.0.1", 0, &limits, accept_cb, err), 0);
    f->server.data = f;
    int port = tcp_server_port(&f->server);
    assert_true(port > 0);
    assert_int_equal(tcp_conn_connect(&f->loop, "127.0.0.1", port, &limits, connect_cb, f, &f->client, err), 0);
    run_until(f, &f->connected, 1);
}

static void server_closed_cb(struct tcp_server *s)
{
    struct fixture *f = s->data;
    f->server_closed = true;
}

static void teardown_pair(struct fixture *f)
{
    if (f->client)
        tcp_conn_close(f->client, 0, "done");
    tcp_server_close(&f->server, server_closed_cb);
    for (int i = 0; i < 1000 && !f->server_closed; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_true(f->server_closed);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_frames_split_across_writes_are_reassembled(void **state)
{
    (void)state;
    struct fixture f;
    setup_pair(&f);
    uint8_t frame[4 + 100];
    be32_store(frame, 100);
    memset(frame + 4, 'x', 100);
    /* Two frames, the second sent in three pieces over several loop passes. */
    tcp_conn_write(f.client, frame, sizeof frame);
    tcp_conn_write(f.client, frame, 3);
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    tcp_conn_write(f.client, frame + 3, 50);
    for (int i = 0; i < 5; i++)
        uv_run(&f.loop, UV_RUN_NOWAIT);
    tcp_conn_write(f.client, frame + 53, sizeof frame - 53);
    run_until(&f, &f.client_frames, 2);
    assert_int_equal(f.server_frames, 2);
    assert_int_equal(f.client_bytes, 2 * sizeof frame);
    teardown_pair(&f);
}

static void test_oversized_frame_closes_with_reason(void **state)
{
    (void)state;
    struct fixture f;
    setup_pair(&f);
    uint8_t hdr[4];
    be32_store(hdr, 0xFFFFFFF0u); /* declares ~4 GiB: must not be buffered */
    tcp_conn_write(f.client, hdr, sizeof hdr);
    run_until(&f, &f.server_closes, 1);
    assert_int_equal(f.server_close_err, TERN_E_MALFORMED);
    assert_non_null(strstr(f.server_close_reason, "exceeds max 1024"));
    assert_int_equal(f.server_frames, 0);
    run_until(&f, &f.client_closes, 1);
    teardown_pair(&f);
}

static void refused_cb(struct tcp_conn *c, int status)
{
    *(int *)c->data = status;
}

static void test_connect_refused_reports_error(void **state)
{
    (void)state;
    struct fixture f;
    setup_pair(&f);
    int port = tcp_server_port(&f.server);
    teardown_pair(&f);
    /* The port is closed now: connecting fails through the callback. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct tcp_conn *c;
    char err[ERRMSG_SIZE];
    int status = 1;
    assert_int_equal(tcp_conn_connect(&loop, "127.0.0.1", port, &limits, refused_cb, &status, &c, err), 0);
    for (int i = 0; i < 1000 && status == 1; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(status, TERN_E_CONNECT);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_split_addr(void **state)
{
    (void)state;
    char host[64];
    int port;
    assert_int_equal(tcp_split_addr("127.0.0.1:9876", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9876);
    assert_int_equal(tcp_split_addr("[::1]:10911", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 10911);
    assert_int_equal(tcp_split_addr("nocolon", host, sizeof host, &port), TERN_E_INVAL);
    assert_int_equal(tcp_split_addr("h:99999", host, sizeof host, &port), TERN_E_INVAL);
    assert_int_equal(tcp_split_addr("h:", host, sizeof host, &port), TERN_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_split_across_writes_are_reassembled),
        cmocka_unit_test(test_oversized_frame_closes_with_reason),
        cmocka_unit_test(test_connect_refused_reports_error),
        cmocka_unit_test(test_split_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
