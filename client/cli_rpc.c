/* Raw remoting requests the CLI needs and libtern does not offer yet.
 *
 * QUERY_CONSUMER_OFFSET with setZeroIfNotFound=false: RocketMQ brokers answer
 * a group without a committed offset with 0 when the queue still starts at 0
 * (unless the request says setZeroIfNotFound=false), and
 * tern_sync_committed_offset does not send that field, so it cannot tell
 * "committed 0" from "never committed". `tern group offsets` and
 * `tern consume --from last` need the difference.
 *
 * Happy path: one rpc_hub on the blocking client's loop, one connection per
 * broker address (kept for the session), requests run to completion by
 * running that loop. Failure modes: connect or request errors and a 10 s
 * guard per operation return TERN_E_* with a detail string; closing the
 * session runs the loop until the hub has released everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client/cli.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/limits.h"
#include "protocol/remoting.h"
#include "rpc/rpc.h"

#define CLI_RPC_TIMEOUT_MS 10000
#define CLI_RPC_MAX_CONNS 64

struct cli_rpc_conn {
    char addr[128];
    struct rpc_conn *rc; /* NULL once closed */
};

struct cli_rpc {
    uv_loop_t *loop;
    struct rpc_hub hub;
    bool hub_closed;
    struct cli_rpc_conn conns[CLI_RPC_MAX_CONNS];
    size_t nconns;
    uv_timer_t guard;
    bool guard_fired;
    /* Result of the operation in progress. */
    bool done;
    int status;
    int code;
    int64_t offset;
    struct rpc_conn *connected;
    char detail[TERN_ERRMSG_SIZE];
};

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    /* Brokers may notify consumers; this session is not one. */
    rpc_respond_simple(rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not a consumer");
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    struct cli_rpc *r = rc->hub->data;
    (void)err;
    (void)reason;
    for (size_t i = 0; i < r->nconns; i++)
        if (r->conns[i].rc == rc)
            r->conns[i].rc = NULL;
}

static const struct rpc_ops ops = {on_request, on_close};

static void guard_cb(uv_timer_t *t)
{
    struct cli_rpc *r = t->data;
    r->guard_fired = true;
}

/* Run the loop until r->done or the guard fires. */
static int run(struct cli_rpc *r)
{
    r->guard_fired = false;
    uv_timer_start(&r->guard, guard_cb, CLI_RPC_TIMEOUT_MS, 0);
    while (!r->done && !r->guard_fired)
        uv_run(r->loop, UV_RUN_ONCE);
    uv_timer_stop(&r->guard);
    if (!r->done) {
        snprintf(r->detail, sizeof r->detail, "no answer within %d ms", CLI_RPC_TIMEOUT_MS);
        return TERN_E_TIMEOUT;
    }
    return 0;
}

int cli_rpc_open(struct tern_sync *s, struct cli_rpc **out)
{
    struct cli_rpc *r = calloc(1, sizeof *r);
    if (!r)
        return TERN_E_NOMEM;
    r->loop = tern_sync_loop(s);
    if (rpc_hub_init(&r->hub, r->loop, &limits_default, 1 << 20) != 0) {
        free(r);
        return TERN_E_IO;
    }
    r->hub.data = r;
    const char *ak = getenv("TERN_ACCESS_KEY");
    if (ak && *ak && rpc_hub_set_credentials(&r->hub, ak, getenv("TERN_SECRET_KEY") ? getenv("TERN_SECRET_KEY") : "") != 0) {
        free(r);
        return TERN_E_NOMEM;
    }
    uv_timer_init(r->loop, &r->guard);
    r->guard.data = r;
    *out = r;
    return 0;
}

static void hub_closed_cb(struct rpc_hub *hub)
{
    struct cli_rpc *r = hub->data;
    r->hub_closed = true;
}

static void guard_closed_cb(uv_handle_t *h)
{
    struct cli_rpc *r = h->data;
    free(r);
}

void cli_rpc_close(struct cli_rpc *r)
{
    if (!r)
        return;
    rpc_hub_close(&r->hub, hub_closed_cb);
    for (int i = 0; i < 1000 && !r->hub_closed; i++)
        uv_run(r->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&r->guard, guard_closed_cb);
    uv_run(r->loop, UV_RUN_NOWAIT);
}

static void connect_cb(struct rpc_conn *rc, int status, void *arg)
{
    struct cli_rpc *r = arg;
    r->done = true;
    r->status = status;
    r->connected = rc;
}

static int conn_for(struct cli_rpc *r, const char *addr, struct rpc_conn **out, char *errmsg)
{
    for (size_t i = 0; i < r->nconns; i++)
        if (strcmp(r->conns[i].addr, addr) == 0 && r->conns[i].rc) {
            *out = r->conns[i].rc;
            return 0;
        }
    if (r->nconns == CLI_RPC_MAX_CONNS) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "too many brokers");
        return TERN_E_TOOBIG;
    }
    r->done = false;
    r->connected = NULL;
    char e[TERN_ERRMSG_SIZE] = "";
    int rv = rpc_connect(&r->hub, addr, &ops, connect_cb, r, e);
    if (rv) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "connect %s: %s", addr, e);
        return rv;
    }
    rv = run(r);
    if (rv == 0 && r->status)
        rv = r->status;
    if (rv) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "connect %s: %s", addr,
                 r->status ? tern_strerror(r->status) : r->detail);
        return rv;
    }
    struct cli_rpc_conn *c = &r->conns[r->nconns++];
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    c->rc = r->connected;
    *out = c->rc;
    return 0;
}

static void offset_cb(int status, struct remoting_cmd *resp, void *arg)
{
    struct cli_rpc *r = arg;
    r->done = true;
    r->status = status;
    if (status)
        return;
    r->code = resp->code;
    if (resp->code == CODES_RESP_SUCCESS) {
        struct headers_offset_resp h;
        char e[256];
        if (headers_offset_resp_decode(&h, resp, &limits_default, e) != 0) {
            r->status = TERN_E_MALFORMED;
            snprintf(r->detail, sizeof r->detail, "offset response: %s", e);
            return;
        }
        r->offset = h.offset;
    } else if (resp->remark.p) {
        snprintf(r->detail, sizeof r->detail, "%.*s", (int)resp->remark.len,
                 (const char *)resp->remark.p);
    }
}

int cli_rpc_committed_offset(struct cli_rpc *r, const char *broker_addr, const char *group,
                             const char *topic, int queue_id, int64_t *offset, char *errmsg)
{
    struct rpc_conn *rc;
    int rv = conn_for(r, broker_addr, &rc, errmsg);
    if (rv)
        return rv;
    struct remoting_cmd cmd;
    remoting_cmd_init(&cmd);
    remoting_cmd_init_request(&cmd, CODES_REQ_QUERY_CONSUMER_OFFSET);
    struct headers_offset_query_req h = {
        .consumer_group = slice_of(group),
        .topic = slice_of(topic),
        .queue_id = queue_id,
        .has_set_zero_if_not_found = true,
        .set_zero_if_not_found = false,
    };
    rv = headers_offset_query_req_encode(&h, &cmd);
    if (rv == 0) {
        r->done = false;
        r->status = 0;
        r->code = -1;
        r->detail[0] = '\0';
        rv = rpc_request(rc, &cmd, NULL, 0, CLI_RPC_TIMEOUT_MS, offset_cb, r);
        if (rv == 0) {
            rv = run(r);
            if (rv == 0)
                rv = r->status;
        }
    }
    remoting_cmd_free(&cmd);
    if (rv) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "query consumer offset at %s: %s", broker_addr,
                 r->detail[0] ? r->detail : tern_strerror(rv));
        return rv;
    }
    if (r->code == CODES_RESP_QUERY_NOT_FOUND)
        return TERN_E_NOTFOUND;
    if (r->code != CODES_RESP_SUCCESS) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "query consumer offset at %s: answered %d %s",
                 broker_addr, r->code, r->detail);
        return r->code > 0 ? r->code : TERN_E_MALFORMED;
    }
    *offset = r->offset;
    return 0;
}

/* ---- Any request (cli_group.c) ------------------------------------------ */

struct raw_call {
    struct cli_rpc *r;
    cli_rpc_resp_fn fn;
    void *arg;
};

static void raw_cb(int status, struct remoting_cmd *resp, void *arg)
{
    struct raw_call *c = arg;
    c->r->done = true;
    c->r->status = status;
    if (status == 0)
        c->fn(c->arg, resp);
}

int cli_rpc_request(struct cli_rpc *r, const char *addr, struct remoting_cmd *cmd, int timeout_ms,
                    cli_rpc_resp_fn fn, void *arg, char *errmsg)
{
    struct rpc_conn *rc;
    int rv = conn_for(r, addr, &rc, errmsg);
    if (rv)
        return rv;
    struct raw_call c = {r, fn, arg};
    r->done = false;
    r->status = 0;
    r->detail[0] = '\0';
    rv = rpc_request(rc, cmd, NULL, 0, timeout_ms, raw_cb, &c);
    if (rv) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "request to %s: %s", addr, tern_strerror(rv));
        return rv;
    }
    /* The rpc layer's own timeout answers first; the guard only backs it up. */
    r->guard_fired = false;
    uv_timer_start(&r->guard, guard_cb, (uint64_t)timeout_ms + 2000, 0);
    while (!r->done && !r->guard_fired)
        uv_run(r->loop, UV_RUN_ONCE);
    uv_timer_stop(&r->guard);
    if (!r->done) {
        /* raw_cb may still fire later: it must not touch this stack frame. */
        snprintf(errmsg, TERN_ERRMSG_SIZE, "request to %s: no answer", addr);
        return TERN_E_TIMEOUT;
    }
    if (r->status) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "request to %s: %s", addr, tern_strerror(r->status));
        return r->status;
    }
    return 0;
}
