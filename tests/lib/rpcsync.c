/* Blocking request/response over rpc/ for tests. */
#include "tests/lib/rpcsync.h"

#include <string.h>

#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static void on_push(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct rpcsync *s = rc->hub->data;
    s->pushed++;
    s->last_push_code = req->code;
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    (void)err;
    (void)reason;
    struct rpcsync *s = rc->hub->data;
    s->closed = true;
    s->conn = NULL;
}

static const struct rpc_ops ops = {on_push, on_close};

static void connected(struct rpc_conn *rc, int status, void *arg)
{
    struct rpcsync *s = arg;
    if (status == 0)
        s->conn = rc;
    else
        s->closed = true;
}

void rpcsync_open(struct rpcsync *s, const char *addr)
{
    memset(s, 0, sizeof *s);
    char err[ERRMSG_SIZE];
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(rpc_hub_init(&s->hub, &s->loop, &limits_default, 64u << 20), 0);
    s->hub.data = s;
    buf_init(&s->frame);
    remoting_cmd_init(&s->resp);
    assert_int_equal(rpc_connect(&s->hub, addr, &ops, connected, s, err), 0);
    for (int i = 0; i < 5000 && !s->conn && !s->closed; i++)
        uv_run(&s->loop, UV_RUN_ONCE);
    assert_non_null(s->conn);
}

static void hub_closed(struct rpc_hub *hub)
{
    struct rpcsync *s = hub->data;
    s->conn = NULL;
}

void rpcsync_close(struct rpcsync *s)
{
    rpc_hub_close(&s->hub, hub_closed);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    buf_free(&s->frame);
    remoting_cmd_free(&s->resp);
}

struct call {
    struct rpcsync *s;
    bool done;
    int status;
};

static void on_response(int status, struct remoting_cmd *resp, void *arg)
{
    struct call *c = arg;
    c->done = true;
    c->status = status;
    if (status != 0)
        return;
    /* Re-encode the response into our own frame so it outlives the callback. */
    struct rpcsync *s = c->s;
    buf_reset(&s->frame);
    if (remoting_encode(resp, resp->body.len, &s->frame) != 0) {
        c->status = TERN_E_NOMEM;
        return;
    }
    buf_append(&s->frame, resp->body.p, resp->body.len);
    char err[ERRMSG_SIZE];
    if (remoting_decode(&s->resp, s->frame.data, s->frame.len, &s->hub.limits, err) != 0)
        c->status = TERN_E_MALFORMED;
}

int rpcsync_call(struct rpcsync *s, struct remoting_cmd *req, const void *body, size_t n, int timeout_ms)
{
    if (!s->conn)
        return TERN_E_CLOSED;
    struct call c = {s, false, 0};
    struct iovec iov = {(void *)body, n};
    int rv = rpc_request(s->conn, req, n ? &iov : NULL, n ? 1 : 0, timeout_ms, on_response, &c);
    if (rv)
        return rv;
    while (!c.done)
        uv_run(&s->loop, UV_RUN_ONCE);
    return c.status;
}

static void stop_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

void rpcsync_run_for(struct rpcsync *s, int ms)
{
    uv_timer_t t;
    uv_timer_init(&s->loop, &t);
    uv_timer_start(&t, stop_cb, (uint64_t)ms, 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&s->loop, UV_RUN_NOWAIT);
}
