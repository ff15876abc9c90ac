/* RocketMQ remoting over TCP: connections that decode frames into commands,
 * dispatch incoming requests, match responses to requests by opaque, time
 * requests out, and answer in the request's serialize form.
 *
 * Layering: include <- src <- protocol <- rpc <- {broker, nameserver, client}.
 * protocol/ stays free of I/O; this is the one place where remoting meets libuv.
 *
 * Contracts:
 * - Everything runs on the hub's loop thread.
 * - on_request gets a decoded request valid only during the call. To answer
 *   later (long polling, group commit), take a struct rpc_reply with
 *   rpc_reply_hold(); it keeps the connection's memory alive (not the socket).
 * - rpc_request: either fails now (callback never fires) or returns 0 and the
 *   callback fires exactly once: with the response, TERN_E_TIMEOUT, or
 *   TERN_E_CLOSED/TERN_E_CANCELED when the connection goes away.
 * - on_close fires once per connection that was established; the rpc_conn is
 *   freed when its last reference (hub's own and held replies) is dropped. */
#ifndef TERN_RPC_H
#define TERN_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "protocol/limits.h"
#include "protocol/remoting.h"
#include "src/buf.h"
#include "src/tcpconn.h"

struct rpc_conn;
struct rpc_hub;
struct rpc_pending;

struct rpc_ops {
    /* An incoming request (oneway or not). */
    void (*on_request)(struct rpc_conn *rc, struct remoting_cmd *req);
    /* The connection closed; err 0 for an orderly close. */
    void (*on_close)(struct rpc_conn *rc, int err, const char *reason);
};

/* status 0: resp is the response (valid during the call only); else resp is NULL. */
typedef void (*rpc_response_cb)(int status, struct remoting_cmd *resp, void *arg);
/* status 0: rc is ready; else rc is NULL. */
typedef void (*rpc_connect_cb)(struct rpc_conn *rc, int status, void *arg);

struct rpc_conn {
    struct rpc_hub *hub;
    struct tcp_conn *tc; /* NULL once closed */
    const struct rpc_ops *ops;
    int refs;
    bool closed;
    uint64_t id;           /* unique per hub, never reused */
    struct remoting_cmd in; /* reused for every incoming frame */
    struct remoting_cmd resp; /* scratch for rpc_respond_simple */
    struct buf out;        /* scratch for encoded headers */
    struct rpc_pending *pending; /* outgoing requests by opaque */
    size_t npending;
    char peer[64];
    bool accepted; /* an incoming connection (subject to the idle timeouts) */
    struct rpc_conn *prev, *next; /* hub's list */
    /* For outgoing connections until connected. */
    rpc_connect_cb on_connect;
    void *connect_arg;
    void *data; /* owner's */
};

struct rpc_hub {
    uv_loop_t *loop;
    struct limits limits;
    struct tcp_limits tcp_limits;
    uv_timer_t sweep; /* times out outgoing requests */
    struct tcp_server servers[2];
    int nservers;
    const struct rpc_ops *server_ops;
    struct rpc_conn *conns;
    uint64_t next_id;
    int32_t next_opaque;
    bool closing;
    int pending_closes; /* handles and connections still closing */
    void (*on_closed)(struct rpc_hub *hub);
    void *data; /* owner's */
    /* ACL credentials: when set, every request and oneway sent through this
     * hub carries AccessKey and Signature (protocol/aclsign.h). Owned. */
    char *access_key;
    char *secret_key;
    /* Accepted connections that send nothing for idle_timeout_ms, or hold an
     * incomplete frame for partial_timeout_ms, are closed (0: never). */
    int64_t idle_timeout_ms;
    int64_t partial_timeout_ms;
    int64_t next_idle_check_ms;
};

/* Bind a hub to a loop. limits: decoder limits (frame size also bounds TCP
 * reads); write_backlog: per-connection buffered output before reading pauses. */
int rpc_hub_init(struct rpc_hub *hub, uv_loop_t *loop, const struct limits *limits, size_t write_backlog);
/* Accept connections on host:port (up to two listeners: RocketMQ brokers listen
 * on port and port-2). Returns 0 or TERN_E_* with errmsg. */
int rpc_hub_listen(struct rpc_hub *hub, const char *host, int port, const struct rpc_ops *ops,
                   char *errmsg);
int rpc_hub_port(struct rpc_hub *hub, int index);
/* Sign every outgoing request with these ACL credentials (both NULL or
 * empty: stop signing). Returns 0 or TERN_E_NOMEM. */
int rpc_hub_set_credentials(struct rpc_hub *hub, const char *access_key, const char *secret_key);
/* Close accepted connections idle (no bytes) for idle_ms, or holding a
 * partial frame for partial_ms; 0 disables either. Checked every second. */
void rpc_hub_set_timeouts(struct rpc_hub *hub, int64_t idle_ms, int64_t partial_ms);
/* Set the maximum accepted connections per listener (0 = unlimited). */
void rpc_hub_set_max_conns(struct rpc_hub *hub, size_t max_conns);
/* Close listeners and every connection; pending requests fail with
 * TERN_E_CANCELED; on_closed fires when everything is released. */
void rpc_hub_close(struct rpc_hub *hub, void (*on_closed)(struct rpc_hub *hub));

/* Connect to "host:port". Returns 0 (cb fires once) or TERN_E_* now. */
int rpc_connect(struct rpc_hub *hub, const char *addr, const struct rpc_ops *ops, rpc_connect_cb cb,
                void *arg, char *errmsg);
void rpc_conn_close(struct rpc_conn *rc, int err, const char *reason);
void rpc_conn_ref(struct rpc_conn *rc);
void rpc_conn_unref(struct rpc_conn *rc);
size_t rpc_conn_backlog(const struct rpc_conn *rc);

/* Send a request and wait for its response. req's opaque is assigned here. */
int rpc_request(struct rpc_conn *rc, struct remoting_cmd *req, const struct iovec *body, int iovcnt,
                int64_t timeout_ms, rpc_response_cb cb, void *arg);
/* Send a oneway request (no response expected). */
int rpc_oneway(struct rpc_conn *rc, struct remoting_cmd *req, const struct iovec *body, int iovcnt);
/* Send a built response (or any command) with an optional body. */
int rpc_send(struct rpc_conn *rc, const struct remoting_cmd *cmd, const struct iovec *body, int iovcnt);
/* Answer req with code and remark and no extFields or body (does nothing for
 * oneway requests). */
int rpc_respond_simple(struct rpc_conn *rc, const struct remoting_cmd *req, int code, const char *remark);

/* A response to be sent later. */
struct rpc_reply {
    struct rpc_conn *rc;
    int32_t opaque;
    uint8_t serialize;
    bool oneway;
};
/* Remember how to answer req; takes a reference on rc. */
void rpc_reply_hold(struct rpc_reply *r, struct rpc_conn *rc, const struct remoting_cmd *req);
/* Start a response in resp (init_response against the remembered request). */
int rpc_reply_begin(const struct rpc_reply *r, struct remoting_cmd *resp, int code, const char *remark);
/* Send resp (unless the request was oneway or the connection has closed) and
 * drop the reference. Returns 0, or TERN_E_CLOSED if it could not be sent. */
int rpc_reply_finish(struct rpc_reply *r, struct remoting_cmd *resp, const struct iovec *body, int iovcnt);
/* Drop the reference without answering. */
void rpc_reply_drop(struct rpc_reply *r);

#endif
