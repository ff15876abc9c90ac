/* TCP_NODELAY wrapper around raft_uv_tcp.
 *
 * Happy path: raft_uv calls our init/listen/connect/close; each forwards to
 * the stock TCP transport, and every stream handed back (accepted or
 * connected, after the stock handshake) gets uv_tcp_nodelay before raft_uv
 * sees it.
 * Failure modes: a failed nodelay is counted and the stream used anyway
 * (slower, still correct); connect requests cancelled by close come back
 * through our callback with the stock status, so the wrapper request is
 * always freed exactly once. */
#include "broker/replica_transport.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct connect_req {
    struct raft_uv_connect inner;
    struct raft_uv_connect *outer;
    struct replica_transport *t;
};

static struct replica_transport *of_outer(struct raft_uv_transport *o)
{
    return o->impl;
}

static struct replica_transport *of_inner(struct raft_uv_transport *i)
{
    return (struct replica_transport *)((char *)i - offsetof(struct replica_transport, inner));
}

static void nodelay(struct replica_transport *t, struct uv_stream_s *s)
{
    if (s && s->type == UV_TCP && uv_tcp_nodelay((uv_tcp_t *)s, 1) != 0)
        t->nodelay_fail++;
}

static int tr_init(struct raft_uv_transport *o, raft_id id, const char *address)
{
    struct replica_transport *t = of_outer(o);
    int rv = t->inner.init(&t->inner, id, address);
    if (rv != 0)
        memcpy(o->errmsg, t->inner.errmsg, sizeof o->errmsg);
    return rv;
}

static void accept_cb(struct raft_uv_transport *i, raft_id id, const char *address,
                      struct uv_stream_s *stream)
{
    struct replica_transport *t = of_inner(i);
    nodelay(t, stream);
    t->accept_cb(&t->outer, id, address, stream);
}

static int tr_listen(struct raft_uv_transport *o, raft_uv_accept_cb cb)
{
    struct replica_transport *t = of_outer(o);
    t->accept_cb = cb;
    int rv = t->inner.listen(&t->inner, accept_cb);
    if (rv != 0)
        memcpy(o->errmsg, t->inner.errmsg, sizeof o->errmsg);
    return rv;
}

static void connect_cb(struct raft_uv_connect *ireq, struct uv_stream_s *stream, int status)
{
    struct connect_req *req = ireq->data;
    struct raft_uv_connect *outer = req->outer;
    if (status == 0)
        nodelay(req->t, stream);
    free(req);
    outer->cb(outer, stream, status);
}

static int tr_connect(struct raft_uv_transport *o, struct raft_uv_connect *oreq, raft_id id,
                      const char *address, raft_uv_connect_cb cb)
{
    struct replica_transport *t = of_outer(o);
    struct connect_req *req = malloc(sizeof *req);
    if (!req)
        return RAFT_NOMEM;
    oreq->cb = cb;
    req->outer = oreq;
    req->t = t;
    req->inner.data = req;
    int rv = t->inner.connect(&t->inner, &req->inner, id, address, connect_cb);
    if (rv != 0) {
        memcpy(o->errmsg, t->inner.errmsg, sizeof o->errmsg);
        free(req);
    }
    return rv;
}

static void close_cb(struct raft_uv_transport *i)
{
    struct replica_transport *t = of_inner(i);
    if (t->close_cb)
        t->close_cb(&t->outer);
}

static void tr_close(struct raft_uv_transport *o, raft_uv_transport_close_cb cb)
{
    struct replica_transport *t = of_outer(o);
    t->close_cb = cb;
    t->inner.close(&t->inner, close_cb);
}

int replica_transport_init(struct replica_transport *t, uv_loop_t *loop)
{
    memset(t, 0, sizeof *t);
    int rv = raft_uv_tcp_init(&t->inner, loop);
    if (rv != 0) {
        memcpy(t->outer.errmsg, t->inner.errmsg, sizeof t->outer.errmsg);
        return rv;
    }
    t->outer.impl = t;
    t->outer.init = tr_init;
    t->outer.listen = tr_listen;
    t->outer.connect = tr_connect;
    t->outer.close = tr_close;
    return 0;
}

void replica_transport_free(struct replica_transport *t)
{
    raft_uv_tcp_close(&t->inner);
}
