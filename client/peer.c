/* Broker and name-server connections of a client: one per address, opened on
 * first use and reopened after a failure.
 *
 * Happy path: peer_call finds the connected rpc_conn and hands the command to
 * rpc_request; the response (or timeout) reaches the caller's callback.
 * Failure modes: not connected yet -> the command is copied into a waiter and
 * sent once connected; the connect fails -> every waiter gets TERN_E_CONNECT;
 * the connection drops -> rpc fails its pending requests with TERN_E_CLOSED
 * and the next call reconnects; client close -> waiters get TERN_E_CANCELED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/libtern.h"
#include "protocol/codes.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

struct peer_wait {
    struct remoting_cmd cmd;
    struct buf body;
    int64_t timeout_ms;
    bool oneway;
    libtern_call_cb cb;
    rpc_response_cb raw; /* instead of cb: passed to rpc as is */
    void *arg;
    int64_t deadline; /* monotonic ms: fail with TERN_E_TIMEOUT if still waiting */
    struct peer_wait *next;
};

/* The callback of a request must never fire inside peer_call; rpc_request
 * guarantees that, and waiters only flush from the connect callback. */

static struct peer *peer_find(struct tern_client *c, const char *addr, bool create)
{
    for (struct peer *p = c->peers; p; p = p->next)
        if (strcmp(p->addr, addr) == 0)
            return p;
    if (!create)
        return NULL;
    struct peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->c = c;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->next = c->peers;
    c->peers = p;
    return p;
}

static int copy_cmd(struct remoting_cmd *dst, const struct remoting_cmd *src)
{
    remoting_cmd_init(dst);
    remoting_cmd_init_request(dst, src->code);
    dst->serialize = src->serialize;
    dst->language = src->language;
    dst->version = src->version;
    dst->flag = src->flag;
    for (size_t i = 0; i < src->n_ext; i++) {
        int rv = remoting_ext_set(dst, src->ext[i].key, src->ext[i].val);
        if (rv != 0)
            return rv;
    }
    return 0;
}

static void wait_free(struct peer_wait *w)
{
    remoting_cmd_free(&w->cmd);
    buf_free(&w->body);
    free(w);
}

static void fail_waiters(struct peer *p, int err, const char *why)
{
    struct peer_wait *w = p->wait_head;
    p->wait_head = p->wait_tail = NULL;
    while (w) {
        struct peer_wait *next = w->next;
        if (w->cb)
            w->cb(err, why, NULL, w->arg);
        else if (w->raw)
            w->raw(err, NULL, w->arg);
        wait_free(w);
        w = next;
    }
}

const char *peer_strerror(int status)
{
    switch (status) {
    case TERN_E_TIMEOUT:
        return "request timed out";
    case TERN_E_CLOSED:
        return "connection closed";
    case TERN_E_CANCELED:
        return "client closing";
    case TERN_E_CONNECT:
        return "connection failed";
    default:
        return tern_strerror(status);
    }
}

struct call_ctx {
    libtern_call_cb cb;
    void *arg;
};

static void response_cb(int status, struct remoting_cmd *resp, void *arg)
{
    struct call_ctx ctx = *(struct call_ctx *)arg;
    free(arg);
    ctx.cb(status, status ? peer_strerror(status) : "", resp, ctx.arg);
}

static int send_now(struct peer *p, struct remoting_cmd *cmd, const struct iovec *body, int iovcnt,
                    int64_t timeout_ms, bool oneway, libtern_call_cb cb, rpc_response_cb raw,
                    void *arg)
{
    if (oneway)
        return rpc_oneway(p->rc, cmd, body, iovcnt);
    if (raw)
        return rpc_request(p->rc, cmd, body, iovcnt, timeout_ms, raw, arg);
    struct call_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx)
        return TERN_E_NOMEM;
    ctx->cb = cb;
    ctx->arg = arg;
    int rv = rpc_request(p->rc, cmd, body, iovcnt, timeout_ms, response_cb, ctx);
    if (rv != 0)
        free(ctx);
    return rv;
}

static void connected_cb(struct rpc_conn *rc, int status, void *arg)
{
    struct peer *p = arg;
    p->connecting = false;
    if (status != 0) {
        char why[TERN_ERRMSG_SIZE];
        snprintf(why, sizeof why, "connect %s: %s", p->addr, tern_strerror(status));
        LOGD("client", "%s", why);
        fail_waiters(p, p->c->closing && p->c->hub_closing ? TERN_E_CANCELED : TERN_E_CONNECT, why);
        return;
    }
    rc->data = p;
    p->rc = rc;
    struct peer_wait *w = p->wait_head;
    p->wait_head = p->wait_tail = NULL;
    while (w) {
        struct peer_wait *next = w->next;
        struct iovec iov = {w->body.data, w->body.len};
        int rv = p->rc ? send_now(p, &w->cmd, &iov, w->body.len ? 1 : 0, w->timeout_ms, w->oneway,
                                  w->cb, w->raw, w->arg)
                       : TERN_E_CLOSED;
        if (rv != 0 && w->cb)
            w->cb(rv, "send failed", NULL, w->arg);
        else if (rv != 0 && w->raw)
            w->raw(rv, NULL, w->arg);
        wait_free(w);
        w = next;
    }
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    struct peer *p = rc->data;
    if (p && p->rc == rc) {
        LOGD("client", "connection to %s closed: %s", p->addr, reason ? reason : "");
        p->rc = NULL;
    }
}

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct peer *p = rc->data;
    if (!p)
        return;
    struct tern_client *c = p->c;
    if (req->code == CODES_REQ_NOTIFY_CONSUMER_IDS_CHANGED) {
        struct slice g = remoting_ext_get(req, "consumerGroup");
        char group[LIBTERN_NAME_MAX * 2];
        snprintf(group, sizeof group, "%.*s", (int)g.len, g.p ? g.p : "");
        consumer_notify(c, group);
        return;
    }
    if (req->code == CODES_REQ_RESET_CONSUMER_CLIENT_OFFSET) {
        consumer_reset_offsets(c, req);
        return;
    }
    if (req->code == CODES_REQ_CHECK_TRANSACTION_STATE) {
        txn_producer_on_check(c, rc, req);
        return;
    }
    rpc_respond_simple(rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not supported by libtern");
}

const struct rpc_ops peer_ops = {on_request, on_close};

static int enqueue(struct tern_client *c, struct peer *p, struct remoting_cmd *cmd,
                   const struct iovec *body, int iovcnt, int64_t timeout_ms, bool oneway,
                   libtern_call_cb cb, rpc_response_cb raw, void *arg)
{
    struct peer_wait *w = calloc(1, sizeof *w);
    if (!w)
        return TERN_E_NOMEM;
    buf_init(&w->body);
    int rv = copy_cmd(&w->cmd, cmd);
    for (int i = 0; i < iovcnt; i++)
        buf_append(&w->body, body[i].iov_base, body[i].iov_len);
    if (rv == 0)
        rv = w->body.err;
    if (rv != 0) {
        wait_free(w);
        return rv;
    }
    w->timeout_ms = timeout_ms;
    w->oneway = oneway;
    w->cb = cb;
    w->raw = raw;
    w->arg = arg;
    w->deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : c->timeout_ms);
    if (!p->connecting) {
        rv = rpc_connect(&c->hub, p->addr, &peer_ops, connected_cb, p, c->errmsg);
        if (rv != 0) {
            wait_free(w);
            return rv;
        }
        p->connecting = true;
    }
    if (p->wait_tail)
        p->wait_tail->next = w;
    else
        p->wait_head = w;
    p->wait_tail = w;
    return 0;
}

static int call(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
                const struct iovec *body, int iovcnt, int64_t timeout_ms, bool oneway,
                libtern_call_cb cb, rpc_response_cb raw, void *arg)
{
    if (c->hub_closing) {
        errmsg_printf(c->errmsg, "client closed");
        return TERN_E_CLOSED;
    }
    struct peer *p = peer_find(c, addr, true);
    if (!p) {
        errmsg_printf(c->errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    if (p->rc && !p->rc->closed) {
        int rv = send_now(p, cmd, body, iovcnt, timeout_ms, oneway, cb, raw, arg);
        if (rv == 0)
            return 0;
        if (rv != TERN_E_CLOSED) {
            errmsg_printf(c->errmsg, "send to %s: %s", addr, tern_strerror(rv));
            return rv;
        }
        p->rc = NULL; /* closing: reconnect below */
    }
    int rv = enqueue(c, p, cmd, body, iovcnt, timeout_ms, oneway, cb, raw, arg);
    if (rv != 0)
        errmsg_printf(c->errmsg, "connect %s: %s", addr, tern_strerror(rv));
    return rv;
}

int peer_call(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
              const struct iovec *body, int iovcnt, int64_t timeout_ms, libtern_call_cb cb,
              void *arg)
{
    return call(c, addr, cmd, body, iovcnt, timeout_ms, false, cb, NULL, arg);
}

int peer_request(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
                 const struct iovec *body, int iovcnt, int64_t timeout_ms, rpc_response_cb cb,
                 void *arg)
{
    return call(c, addr, cmd, body, iovcnt, timeout_ms, false, NULL, cb, arg);
}

int peer_oneway(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
                const struct iovec *body, int iovcnt)
{
    return call(c, addr, cmd, body, iovcnt, 0, true, NULL, NULL, NULL);
}

void peer_tick(struct tern_client *c, int64_t now)
{
    /* A connect that hangs (no RST from a dead host) must not hold requests
     * past their timeout; the attempt itself continues. Expired waiters are
     * unlinked first and failed afterwards: their callbacks may queue new
     * requests on these very lists. */
    struct peer_wait *expired = NULL, **et = &expired;
    for (struct peer *p = c->peers; p; p = p->next) {
        struct peer_wait **pp = &p->wait_head, *last = NULL;
        while (*pp) {
            struct peer_wait *w = *pp;
            if (now < w->deadline) {
                last = w;
                pp = &w->next;
                continue;
            }
            *pp = w->next;
            w->next = NULL;
            *et = w;
            et = &w->next;
        }
        p->wait_tail = last;
    }
    while (expired) {
        struct peer_wait *w = expired;
        expired = w->next;
        if (w->cb)
            w->cb(TERN_E_TIMEOUT, "connect timed out", NULL, w->arg);
        else if (w->raw)
            w->raw(TERN_E_TIMEOUT, NULL, w->arg);
        wait_free(w);
    }
}

void peer_free_all(struct tern_client *c)
{
    struct peer *p = c->peers;
    c->peers = NULL;
    while (p) {
        struct peer *next = p->next;
        fail_waiters(p, TERN_E_CANCELED, "client closing");
        free(p);
        p = next;
    }
}
