/* TCP connections on libuv carrying length-prefixed frames (4-byte big-endian
 * length, as RocketMQ remoting and Tern's own links use), with bounded buffers.
 *
 * Contracts:
 * - All calls happen on the loop thread.
 * - on_frame receives each complete frame (including its 4-byte length word);
 *   the bytes are valid only during the call. It may write and may close the
 *   connection; once closed, no further frames are delivered.
 * - on_close fires exactly once per connection that was accepted or whose
 *   connect succeeded, after the handle is closed; the connection is freed right
 *   after on_close returns. Never inside on_frame.
 * - Writes are copied into a per-connection buffer and coalesced: one uv_write in
 *   flight per connection. When buffered output exceeds max_write_backlog the
 *   connection stops reading (backpressure) until it drains below half. */
#ifndef TERN_TCPCONN_H
#define TERN_TCPCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "src/buf.h"

struct tcp_conn;
struct tcp_server;

typedef void (*tcp_frame_cb)(struct tcp_conn *c, const uint8_t *frame, size_t len);
/* err is 0 for an orderly close or EOF, else a TERN_E_* code; reason is text. */
typedef void (*tcp_close_cb)(struct tcp_conn *c, int err, const char *reason);
typedef void (*tcp_accept_cb)(struct tcp_server *s, struct tcp_conn *c);
/* status 0: connected (on_close will fire later); else failed and c is freed
 * after this callback returns (on_close does not fire). */
typedef void (*tcp_connect_cb)(struct tcp_conn *c, int status);

struct tcp_limits {
    size_t max_frame;         /* larger declared frames close the connection */
    size_t max_write_backlog; /* buffered output before reading pauses */
};

struct tcp_conn {
    uv_tcp_t handle;
    uv_write_t wreq;
    uv_connect_t creq;
    struct tcp_limits limits;
    struct buf rbuf;
    struct buf wbuf;     /* bytes waiting for the next write */
    struct buf inflight; /* bytes handed to uv_write */
    bool writing;
    bool closing;
    bool reading;
    bool in_read_cb;
    bool connected;
    int close_err;
    char close_reason[160];
    char peer[64]; /* "ip:port" */
    struct sockaddr_storage peer_addr;
    tcp_frame_cb on_frame;
    tcp_close_cb on_close;
    tcp_connect_cb on_connect;
    struct tcp_server *server; /* NULL for outgoing connections */
    struct tcp_conn *prev, *next; /* server's list of live connections */
    uint64_t frames_in;
    uint64_t last_read_ms;     /* loop time of the last bytes read (or of the accept) */
    uint64_t partial_since_ms; /* loop time an incomplete frame started arriving; 0: none */
    void *data; /* owner's */
};

struct tcp_server {
    uv_tcp_t handle;
    uv_loop_t *loop;
    struct tcp_limits limits;
    tcp_accept_cb on_accept;
    struct tcp_conn *conns;
    size_t nconns;
    size_t max_conns; /* 0 = unlimited; excess connections are closed at once */
    bool closing;
    void (*on_closed)(struct tcp_server *s);
    void *data;
};

/* Listen on host:port (port 0 picks one; read it back with tcp_server_port).
 * Returns 0 or a TERN_E_* code with errmsg filled. */
int tcp_server_listen(struct tcp_server *s, uv_loop_t *loop, const char *host, int port,
                      const struct tcp_limits *limits, tcp_accept_cb on_accept, char *errmsg);
int tcp_server_port(struct tcp_server *s);
/* Stop listening and close every connection; on_closed fires once all are gone. */
void tcp_server_close(struct tcp_server *s, void (*on_closed)(struct tcp_server *s));

/* Start an outgoing connection to host:port (numeric IPv4/IPv6). The returned
 * connection is owned by the module; set c->on_frame/on_close/data before the
 * loop runs again. Returns 0 or TERN_E_* (nothing allocated on failure). */
int tcp_conn_connect(uv_loop_t *loop, const char *host, int port, const struct tcp_limits *limits,
                     tcp_connect_cb on_connect, void *data, struct tcp_conn **out, char *errmsg);

/* Queue bytes for sending (copied). Returns 0, TERN_E_CLOSED if closing, or
 * TERN_E_NOMEM. */
int tcp_conn_write(struct tcp_conn *c, const void *p, size_t n);
int tcp_conn_writev(struct tcp_conn *c, const struct iovec *iov, int iovcnt);
/* Bytes queued and not yet written. */
size_t tcp_conn_backlog(const struct tcp_conn *c);
/* Close (idempotent): pending output is dropped. err/reason go to on_close. */
void tcp_conn_close(struct tcp_conn *c, int err, const char *reason);

/* Split "host:port" (IPv6 as "[::1]:port") into parts. */
int tcp_split_addr(const char *addr, char *host, size_t host_cap, int *port);

#endif
