/* Remoting connections: frame decode, request dispatch, response matching.
 *
 * Happy path: tcpconn hands a frame; remoting_decode fills rc->in; a request
 * goes to ops->on_request, a response to the pending entry with its opaque.
 * Failure modes: an undecodable frame closes the connection with the decoder's
 * message (logged); a response with an unknown opaque (late, after a timeout)
 * is dropped; the sweep timer fails requests past their deadline with
 * TERN_E_TIMEOUT; a closing connection fails its pending requests with
 * TERN_E_CLOSED (TERN_E_CANCELED when the hub closes). */
#include "rpc/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "protocol/aclsign.h"
#include "protocol/codes.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define SWEEP_INTERVAL_MS 50

struct rpc_pending {
    int32_t opaque;
    int64_t deadline_ms;
    rpc_response_cb cb;
    void *arg;
    UT_hash_handle hh;
};

static void hub_maybe_finish_close(struct rpc_hub *hub)
{
    if (hub->closing && hub->pending_closes == 0 && hub->conns == NULL && hub->on_closed) {
        void (*cb)(struct rpc_hub *) = hub->on_closed;
        hub->on_closed = NULL;
        rpc_hub_set_credentials(hub, NULL, NULL);
        cb(hub);
    }
}

static void conn_free(struct rpc_conn *rc)
{
    struct rpc_hub *hub = rc->hub;
    remoting_cmd_free(&rc->in);
    remoting_cmd_free(&rc->resp);
    buf_free(&rc->out);
    free(rc);
    hub_maybe_finish_close(hub);
}

void rpc_conn_ref(struct rpc_conn *rc)
{
    rc->refs++;
}

void rpc_conn_unref(struct rpc_conn *rc)
{
    if (--rc->refs == 0)
        conn_free(rc);
}

size_t rpc_conn_backlog(const struct rpc_conn *rc)
{
    return rc->tc ? tcp_conn_backlog(rc->tc) : 0;
}

static void fail_pending(struct rpc_conn *rc, int status)
{
    struct rpc_pending *p, *tmp;
    HASH_ITER(hh, rc->pending, p, tmp)
    {
        HASH_DEL(rc->pending, p);
        rc->npending--;
        rpc_response_cb cb = p->cb;
        void *arg = p->arg;
        free(p);
        cb(status, NULL, arg);
    }
}

static void conn_unlink(struct rpc_conn *rc)
{
    struct rpc_hub *hub = rc->hub;
    if (rc->prev)
        rc->prev->next = rc->next;
    else if (hub->conns == rc)
        hub->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    rc->prev = rc->next = NULL;
}

static void conn_closed_cb(struct tcp_conn *tc, int err, const char *reason)
{
    struct rpc_conn *rc = tc->data;
    rc->tc = NULL;
    rc->closed = true;
    if (err != 0 && err != TERN_E_CANCELED)
        LOGI("rpc", "connection %s closed: %s", rc->peer, reason);
    fail_pending(rc, rc->hub->closing ? TERN_E_CANCELED : TERN_E_CLOSED);
    if (rc->ops && rc->ops->on_close)
        rc->ops->on_close(rc, err, reason);
    conn_unlink(rc);
    rpc_conn_unref(rc); /* the hub's reference */
}

void rpc_conn_close(struct rpc_conn *rc, int err, const char *reason)
{
    if (rc->tc && !rc->closed)
        tcp_conn_close(rc->tc, err, reason);
}

static void handle_response(struct rpc_conn *rc, struct remoting_cmd *resp)
{
    struct rpc_pending *p;
    int32_t opaque = resp->opaque;
    HASH_FIND_INT(rc->pending, &opaque, p);
    if (!p)
        return; /* timed out earlier, or never ours */
    HASH_DEL(rc->pending, p);
    rc->npending--;
    rpc_response_cb cb = p->cb;
    void *arg = p->arg;
    free(p);
    cb(0, resp, arg);
}

static void frame_received_cb(struct tcp_conn *tc, const uint8_t *frame, size_t len)
{
    struct rpc_conn *rc = tc->data;
    char err[ERRMSG_SIZE];
    int rv = remoting_decode(&rc->in, frame, len, &rc->hub->limits, err);
    if (rv != 0) {
        LOGW("rpc", "closing %s: bad frame: %s", rc->peer, err);
        rpc_conn_close(rc, rv, err);
        return;
    }
    /* Keep rc alive across callbacks that may close it. */
    rpc_conn_ref(rc);
    if (remoting_is_response(&rc->in))
        handle_response(rc, &rc->in);
    else if (rc->ops && rc->ops->on_request)
        rc->ops->on_request(rc, &rc->in);
    rpc_conn_unref(rc);
}

static struct rpc_conn *conn_new(struct rpc_hub *hub, const struct rpc_ops *ops)
{
    struct rpc_conn *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->hub = hub;
    rc->ops = ops;
    rc->refs = 1;
    rc->id = ++hub->next_id;
    remoting_cmd_init(&rc->in);
    remoting_cmd_init(&rc->resp);
    buf_init(&rc->out);
    return rc;
}

static void conn_attach(struct rpc_conn *rc, struct tcp_conn *tc)
{
    struct rpc_hub *hub = rc->hub;
    rc->tc = tc;
    tc->data = rc;
    tc->on_frame = frame_received_cb;
    tc->on_close = conn_closed_cb;
    snprintf(rc->peer, sizeof rc->peer, "%s", tc->peer);
    rc->next = hub->conns;
    if (hub->conns)
        hub->conns->prev = rc;
    hub->conns = rc;
}

static void accept_cb(struct tcp_server *s, struct tcp_conn *tc)
{
    struct rpc_hub *hub = s->data;
    struct rpc_conn *rc = conn_new(hub, hub->server_ops);
    if (rc)
        rc->accepted = true;
    if (!rc) {
        tcp_conn_close(tc, TERN_E_NOMEM, "out of memory");
        tc->data = NULL;
        tc->on_close = NULL;
        return;
    }
    conn_attach(rc, tc);
}

void rpc_hub_set_timeouts(struct rpc_hub *hub, int64_t idle_ms, int64_t partial_ms)
{
    hub->idle_timeout_ms = idle_ms;
    hub->partial_timeout_ms = partial_ms;
}

/* Once a second: close accepted connections that are idle or stuck in the
 * middle of a frame (a peer holding half a frame open would otherwise pin
 * its buffer forever). */
static void close_stalled(struct rpc_hub *hub)
{
    uint64_t now = uv_now(hub->loop);
    for (struct rpc_conn *rc = hub->conns; rc;) {
        struct rpc_conn *next = rc->next;
        struct tcp_conn *tc = rc->tc;
        if (rc->accepted && tc && !rc->closed) {
            char why[96] = "";
            if (hub->partial_timeout_ms > 0 && tc->partial_since_ms &&
                now - tc->partial_since_ms >= (uint64_t)hub->partial_timeout_ms)
                snprintf(why, sizeof why, "incomplete frame (%zu bytes) held for %lld ms", tc->rbuf.len,
                         (long long)(now - tc->partial_since_ms));
            else if (hub->idle_timeout_ms > 0 && now - tc->last_read_ms >= (uint64_t)hub->idle_timeout_ms)
                snprintf(why, sizeof why, "idle for %lld ms", (long long)(now - tc->last_read_ms));
            if (why[0]) {
                LOGW("rpc", "closing %s: %s", rc->peer, why);
                rpc_conn_close(rc, TERN_E_TIMEOUT, why);
            }
        }
        rc = next;
    }
}

static void sweep_cb(uv_timer_t *t)
{
    struct rpc_hub *hub = t->data;
    int64_t now = clock_mono_ms();
    if ((hub->idle_timeout_ms > 0 || hub->partial_timeout_ms > 0) && now >= hub->next_idle_check_ms) {
        hub->next_idle_check_ms = now + 1000;
        close_stalled(hub);
    }
    for (struct rpc_conn *rc = hub->conns; rc;) {
        struct rpc_conn *next = rc->next;
        if (rc->npending > 0) {
            rpc_conn_ref(rc);
            struct rpc_pending *p, *tmp;
            HASH_ITER(hh, rc->pending, p, tmp)
            {
                if (p->deadline_ms > now)
                    continue;
                HASH_DEL(rc->pending, p);
                rc->npending--;
                rpc_response_cb cb = p->cb;
                void *arg = p->arg;
                free(p);
                cb(TERN_E_TIMEOUT, NULL, arg);
            }
            next = rc->next;
            rpc_conn_unref(rc);
        }
        rc = next;
    }
}

int rpc_hub_init(struct rpc_hub *hub, uv_loop_t *loop, const struct limits *limits, size_t write_backlog)
{
    memset(hub, 0, sizeof *hub);
    hub->loop = loop;
    hub->limits = *limits;
    hub->tcp_limits.max_frame = limits->max_frame;
    hub->tcp_limits.max_write_backlog = write_backlog;
    hub->next_opaque = 1;
    int rv = uv_timer_init(loop, &hub->sweep);
    if (rv != 0)
        return TERN_E_IO;
    hub->sweep.data = hub;
    uv_timer_start(&hub->sweep, sweep_cb, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    uv_unref((uv_handle_t *)&hub->sweep); /* does not keep the loop alive alone */
    return 0;
}

int rpc_hub_listen(struct rpc_hub *hub, const char *host, int port, const struct rpc_ops *ops,
                   char *errmsg)
{
    if (hub->nservers == 2) {
        errmsg_printf(errmsg, "listen %s:%d: at most two listeners", host, port);
        return TERN_E_INVAL;
    }
    struct tcp_server *s = &hub->servers[hub->nservers];
    int rv = tcp_server_listen(s, hub->loop, host, port, &hub->tcp_limits, accept_cb, errmsg);
    if (rv != 0)
        return rv;
    s->data = hub;
    hub->server_ops = ops;
    hub->nservers++;
    return 0;
}

int rpc_hub_port(struct rpc_hub *hub, int index)
{
    if (index < 0 || index >= hub->nservers)
        return -1;
    return tcp_server_port(&hub->servers[index]);
}

void rpc_hub_set_max_conns(struct rpc_hub *hub, size_t max_conns)
{
    for (int i = 0; i < hub->nservers; i++)
        hub->servers[i].max_conns = max_conns;
}

static void server_closed_cb(struct tcp_server *s)
{
    struct rpc_hub *hub = s->data;
    hub->pending_closes--;
    hub_maybe_finish_close(hub);
}

static void sweep_closed_cb(uv_handle_t *h)
{
    struct rpc_hub *hub = h->data;
    hub->pending_closes--;
    hub_maybe_finish_close(hub);
}

void rpc_hub_close(struct rpc_hub *hub, void (*on_closed)(struct rpc_hub *hub))
{
    if (hub->closing)
        return;
    hub->closing = true;
    hub->on_closed = on_closed;
    hub->pending_closes = 1 + hub->nservers;
    uv_close((uv_handle_t *)&hub->sweep, sweep_closed_cb);
    for (int i = 0; i < hub->nservers; i++)
        tcp_server_close(&hub->servers[i], server_closed_cb);
    /* Outgoing connections are not owned by a server: close them here. */
    for (struct rpc_conn *rc = hub->conns; rc; rc = rc->next)
        if (rc->tc && rc->tc->server == NULL)
            rpc_conn_close(rc, TERN_E_CANCELED, "shutting down");
}

static void connected_cb(struct tcp_conn *tc, int status)
{
    struct rpc_conn *rc = tc->data;
    rpc_connect_cb cb = rc->on_connect;
    void *arg = rc->connect_arg;
    if (status != 0) {
        struct rpc_hub *hub = rc->hub;
        hub->pending_closes--;
        rc->tc = NULL;
        rpc_conn_unref(rc);
        cb(NULL, status, arg);
        return;
    }
    rc->hub->pending_closes--;
    conn_attach(rc, tc);
    cb(rc, 0, arg);
}

int rpc_connect(struct rpc_hub *hub, const char *addr, const struct rpc_ops *ops, rpc_connect_cb cb,
                void *arg, char *errmsg)
{
    if (hub->closing) {
        errmsg_printf(errmsg, "connect %s: shutting down", addr);
        return TERN_E_CANCELED;
    }
    char host[64];
    int port;
    if (tcp_split_addr(addr, host, sizeof host, &port) != 0) {
        errmsg_printf(errmsg, "connect: bad address '%s' (want host:port)", addr);
        return TERN_E_INVAL;
    }
    struct rpc_conn *rc = conn_new(hub, ops);
    if (!rc) {
        errmsg_printf(errmsg, "connect %s: out of memory", addr);
        return TERN_E_NOMEM;
    }
    rc->on_connect = cb;
    rc->connect_arg = arg;
    snprintf(rc->peer, sizeof rc->peer, "%s", addr);
    struct tcp_conn *tc;
    int rv = tcp_conn_connect(hub->loop, host, port, &hub->tcp_limits, connected_cb, rc, &tc, errmsg);
    if (rv != 0) {
        rc->refs = 0;
        remoting_cmd_free(&rc->in);
        remoting_cmd_free(&rc->resp);
        free(rc);
        return rv;
    }
    /* Until connected, the hub must not report itself closed. */
    hub->pending_closes++;
    return 0;
}

int rpc_send(struct rpc_conn *rc, const struct remoting_cmd *cmd, const struct iovec *body, int iovcnt)
{
    if (rc->closed || !rc->tc)
        return TERN_E_CLOSED;
    size_t body_len = 0;
    for (int i = 0; i < iovcnt; i++)
        body_len += body[i].iov_len;
    buf_reset(&rc->out);
    int rv = remoting_encode(cmd, body_len, &rc->out);
    if (rv != 0)
        return rv;
    struct iovec iov[9];
    if (iovcnt > 8)
        return TERN_E_INVAL;
    iov[0].iov_base = rc->out.data;
    iov[0].iov_len = rc->out.len;
    for (int i = 0; i < iovcnt; i++)
        iov[i + 1] = body[i];
    return tcp_conn_writev(rc->tc, iov, iovcnt + 1);
}

int rpc_hub_set_credentials(struct rpc_hub *hub, const char *access_key, const char *secret_key)
{
    free(hub->access_key);
    free(hub->secret_key);
    hub->access_key = hub->secret_key = NULL;
    if (!access_key || !*access_key || !secret_key)
        return 0;
    hub->access_key = strdup(access_key);
    hub->secret_key = strdup(secret_key);
    if (!hub->access_key || !hub->secret_key)
        return rpc_hub_set_credentials(hub, NULL, NULL), TERN_E_NOMEM;
    return 0;
}

static int sign_request(struct rpc_hub *hub, struct remoting_cmd *req, const struct iovec *body, int iovcnt)
{
    if (!hub->access_key)
        return 0;
    return aclsign_sign(req, body, iovcnt, hub->access_key, hub->secret_key);
}

int rpc_request(struct rpc_conn *rc, struct remoting_cmd *req, const struct iovec *body, int iovcnt,
                int64_t timeout_ms, rpc_response_cb cb, void *arg)
{
    if (rc->closed)
        return TERN_E_CLOSED;
    struct rpc_pending *p = calloc(1, sizeof *p);
    if (!p)
        return TERN_E_NOMEM;
    struct rpc_hub *hub = rc->hub;
    int32_t opaque = hub->next_opaque++;
    if (hub->next_opaque <= 0)
        hub->next_opaque = 1;
    req->opaque = opaque;
    req->flag &= ~(REMOTING_FLAG_RESPONSE | REMOTING_FLAG_ONEWAY);
    int rv = sign_request(hub, req, body, iovcnt);
    if (rv == 0)
        rv = rpc_send(rc, req, body, iovcnt);
    if (rv != 0) {
        free(p);
        return rv;
    }
    p->opaque = opaque;
    p->deadline_ms = clock_mono_ms() + timeout_ms;
    p->cb = cb;
    p->arg = arg;
    HASH_ADD_INT(rc->pending, opaque, p);
    rc->npending++;
    return 0;
}

int rpc_oneway(struct rpc_conn *rc, struct remoting_cmd *req, const struct iovec *body, int iovcnt)
{
    struct rpc_hub *hub = rc->hub;
    req->opaque = hub->next_opaque++;
    if (hub->next_opaque <= 0)
        hub->next_opaque = 1;
    req->flag = (req->flag & ~REMOTING_FLAG_RESPONSE) | REMOTING_FLAG_ONEWAY;
    int rv = sign_request(hub, req, body, iovcnt);
    return rv ? rv : rpc_send(rc, req, body, iovcnt);
}

int rpc_respond_simple(struct rpc_conn *rc, const struct remoting_cmd *req, int code, const char *remark)
{
    if (remoting_is_oneway(req))
        return 0;
    int rv = remoting_cmd_init_response(&rc->resp, req, code, remark);
    if (rv != 0)
        return rv;
    return rpc_send(rc, &rc->resp, NULL, 0);
}

void rpc_reply_hold(struct rpc_reply *r, struct rpc_conn *rc, const struct remoting_cmd *req)
{
    r->rc = rc;
    r->opaque = req->opaque;
    r->serialize = req->serialize;
    r->oneway = remoting_is_oneway(req);
    rpc_conn_ref(rc);
}

int rpc_reply_begin(const struct rpc_reply *r, struct remoting_cmd *resp, int code, const char *remark)
{
    /* init_response reads only the request's opaque and serialize form. */
    struct remoting_cmd shell;
    shell.opaque = r->opaque;
    shell.serialize = r->serialize;
    return remoting_cmd_init_response(resp, &shell, code, remark);
}

int rpc_reply_finish(struct rpc_reply *r, struct remoting_cmd *resp, const struct iovec *body, int iovcnt)
{
    int rv = 0;
    if (!r->rc)
        return TERN_E_CLOSED;
    if (!r->oneway)
        rv = rpc_send(r->rc, resp, body, iovcnt);
    rpc_reply_drop(r);
    return rv;
}

void rpc_reply_drop(struct rpc_reply *r)
{
    if (r->rc) {
        struct rpc_conn *rc = r->rc;
        r->rc = NULL;
        rpc_conn_unref(rc);
    }
}
