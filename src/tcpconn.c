/* Length-prefixed frame connections over libuv TCP, with backpressure.
 *
 * Happy path: reads land in rbuf; every complete frame is handed to on_frame;
 * the remainder is moved to the front once per read. Writes append to wbuf and
 * one uv_write at a time sends it (wbuf and inflight swap).
 * Failure modes: a declared frame length over max_frame, a read error or EOF
 * closes the connection with a reason; a write error closes it too. Memory is
 * freed only in the uv_close callback, never while a read callback runs. */
#include "src/tcpconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"

#define READ_CHUNK (64 * 1024)

static int uv_to_err(int uverr)
{
    switch (uverr) {
    case 0:
        return 0;
    case UV_ENOMEM:
        return TERN_E_NOMEM;
    case UV_ECONNREFUSED:
    case UV_ETIMEDOUT:
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
    case UV_ECONNRESET:
        return TERN_E_CONNECT;
    case UV_EADDRINUSE:
        return TERN_E_EXISTS;
    case UV_EINVAL:
        return TERN_E_INVAL;
    default:
        return TERN_E_IO;
    }
}

static void conn_free(struct tcp_conn *c)
{
    buf_free(&c->rbuf);
    buf_free(&c->wbuf);
    buf_free(&c->inflight);
    free(c);
}

static void server_maybe_finish_close(struct tcp_server *s)
{
    if (s->closing && s->nconns == 0 && s->on_closed && !uv_is_active((uv_handle_t *)&s->handle)) {
        void (*cb)(struct tcp_server *) = s->on_closed;
        s->on_closed = NULL;
        cb(s);
    }
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct tcp_conn *c = h->data;
    struct tcp_server *s = c->server;
    if (s) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        s->nconns--;
    }
    if (c->connected && c->on_close)
        c->on_close(c, c->close_err, c->close_reason);
    conn_free(c);
    if (s)
        server_maybe_finish_close(s);
}

void tcp_conn_close(struct tcp_conn *c, int err, const char *reason)
{
    if (c->closing)
        return;
    c->closing = true;
    c->close_err = err;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    uv_close((uv_handle_t *)&c->handle, handle_closed_cb);
}

static void start_reading(struct tcp_conn *c);

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *out)
{
    (void)suggested;
    struct tcp_conn *c = h->data;
    if (buf_reserve(&c->rbuf, READ_CHUNK) != 0) {
        out->base = NULL;
        out->len = 0;
        return;
    }
    out->base = (char *)c->rbuf.data + c->rbuf.len;
    out->len = c->rbuf.cap - c->rbuf.len;
}

/* Deliver every complete frame in rbuf; returns false if the connection closed. */
static bool deliver_frames(struct tcp_conn *c)
{
    size_t pos = 0;
    while (!c->closing && c->rbuf.len - pos >= 4) {
        uint32_t body = be32_load(c->rbuf.data + pos);
        size_t total = (size_t)body + 4;
        if (total > c->limits.max_frame) {
            char why[128];
            snprintf(why, sizeof why, "frame length %zu exceeds max %zu", total, c->limits.max_frame);
            tcp_conn_close(c, TERN_E_MALFORMED, why);
            break;
        }
        if (c->rbuf.len - pos < total)
            break;
        c->frames_in++;
        c->on_frame(c, c->rbuf.data + pos, total);
        pos += total;
    }
    if (c->closing)
        return false;
    buf_consume(&c->rbuf, pos);
    return true;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    struct tcp_conn *c = st->data;
    if (c->closing)
        return;
    if (nread == UV_ENOBUFS) {
        tcp_conn_close(c, TERN_E_NOMEM, "out of memory for read buffer");
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF)
            tcp_conn_close(c, 0, "peer closed");
        else
            tcp_conn_close(c, uv_to_err((int)nread), uv_strerror((int)nread));
        return;
    }
    c->rbuf.len += (size_t)nread;
    c->last_read_ms = uv_now(st->loop);
    c->in_read_cb = true;
    uint64_t frames_before = c->frames_in;
    if (deliver_frames(c)) {
        /* Remember when the frame still incomplete began, so a peer that
         * holds a partial frame open can be timed out (rpc sweep). */
        if (c->rbuf.len == 0)
            c->partial_since_ms = 0;
        else if (c->partial_since_ms == 0 || c->frames_in != frames_before)
            c->partial_since_ms = c->last_read_ms;
    }
    c->in_read_cb = false;
}

static void start_reading(struct tcp_conn *c)
{
    if (c->reading || c->closing)
        return;
    int rv = uv_read_start((uv_stream_t *)&c->handle, alloc_cb, read_cb);
    if (rv != 0) {
        tcp_conn_close(c, uv_to_err(rv), uv_strerror(rv));
        return;
    }
    c->reading = true;
}

static void stop_reading(struct tcp_conn *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->handle);
    c->reading = false;
}

static void flush(struct tcp_conn *c);

static void write_cb(uv_write_t *req, int status)
{
    struct tcp_conn *c = req->data;
    c->writing = false;
    buf_reset(&c->inflight);
    if (c->closing)
        return;
    if (status != 0) {
        tcp_conn_close(c, uv_to_err(status), uv_strerror(status));
        return;
    }
    if (c->wbuf.len > 0)
        flush(c);
    if (!c->reading && tcp_conn_backlog(c) <= c->limits.max_write_backlog / 2)
        start_reading(c);
}

static void flush(struct tcp_conn *c)
{
    if (c->writing || c->closing || c->wbuf.len == 0 || !c->connected)
        return;
    struct buf tmp = c->inflight;
    c->inflight = c->wbuf;
    c->wbuf = tmp;
    buf_reset(&c->wbuf);
    uv_buf_t ub = uv_buf_init((char *)c->inflight.data, (unsigned)c->inflight.len);
    c->wreq.data = c;
    int rv = uv_write(&c->wreq, (uv_stream_t *)&c->handle, &ub, 1, write_cb);
    if (rv != 0) {
        tcp_conn_close(c, uv_to_err(rv), uv_strerror(rv));
        return;
    }
    c->writing = true;
}

size_t tcp_conn_backlog(const struct tcp_conn *c)
{
    return c->wbuf.len + c->inflight.len;
}

int tcp_conn_writev(struct tcp_conn *c, const struct iovec *iov, int iovcnt)
{
    if (c->closing)
        return TERN_E_CLOSED;
    for (int i = 0; i < iovcnt; i++)
        buf_append(&c->wbuf, iov[i].iov_base, iov[i].iov_len);
    if (c->wbuf.err) {
        tcp_conn_close(c, TERN_E_NOMEM, "out of memory for write buffer");
        return TERN_E_NOMEM;
    }
    if (tcp_conn_backlog(c) > c->limits.max_write_backlog)
        stop_reading(c);
    flush(c);
    return 0;
}

int tcp_conn_write(struct tcp_conn *c, const void *p, size_t n)
{
    struct iovec iov = {(void *)p, n};
    return tcp_conn_writev(c, &iov, 1);
}

static void fill_peer(struct tcp_conn *c)
{
    int len = sizeof c->peer_addr;
    c->peer[0] = '\0';
    if (uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer_addr, &len) != 0)
        return;
    char ip[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (c->peer_addr.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&c->peer_addr;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    } else if (c->peer_addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&c->peer_addr;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
    }
}

static struct tcp_conn *conn_new(uv_loop_t *loop, const struct tcp_limits *limits)
{
    struct tcp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->limits = *limits;
    buf_init(&c->rbuf);
    buf_init(&c->wbuf);
    buf_init(&c->inflight);
    /* A frame never needs more than max_frame plus one read chunk of lookahead. */
    c->rbuf.max = limits->max_frame + READ_CHUNK;
    if (uv_tcp_init(loop, &c->handle) != 0) {
        free(c);
        return NULL;
    }
    c->handle.data = c;
    c->last_read_ms = uv_now(loop);
    return c;
}

static void accept_cb(uv_stream_t *st, int status)
{
    struct tcp_server *s = st->data;
    if (status != 0 || s->closing)
        return;
    struct tcp_conn *c = conn_new(s->loop, &s->limits);
    if (!c)
        return;
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(st, (uv_stream_t *)&c->handle) != 0) {
        tcp_conn_close(c, TERN_E_IO, "accept failed");
        return;
    }
    if (s->max_conns && s->nconns > s->max_conns) {
        tcp_conn_close(c, TERN_E_BUSY, "too many connections");
        return;
    }
    uv_tcp_nodelay(&c->handle, 1);
    c->connected = true;
    fill_peer(c);
    s->on_accept(s, c);
    if (!c->closing)
        start_reading(c);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return TERN_E_INVAL;
}

int tcp_server_listen(struct tcp_server *s, uv_loop_t *loop, const char *host, int port,
                      const struct tcp_limits *limits, tcp_accept_cb on_accept, char *errmsg)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->limits = *limits;
    s->on_accept = on_accept;
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss) != 0) {
        errmsg_printf(errmsg, "listen %s:%d: not a numeric address", host, port);
        return TERN_E_INVAL;
    }
    int rv = uv_tcp_init(loop, &s->handle);
    if (rv == 0) {
        s->handle.data = s;
        rv = uv_tcp_bind(&s->handle, (struct sockaddr *)&ss, 0);
        if (rv == 0)
            rv = uv_listen((uv_stream_t *)&s->handle, 511, accept_cb);
        if (rv != 0) {
            errmsg_printf(errmsg, "listen %s:%d: %s", host, port, uv_strerror(rv));
            s->closing = true;
            uv_close((uv_handle_t *)&s->handle, NULL);
            return uv_to_err(rv);
        }
    } else {
        errmsg_printf(errmsg, "listen %s:%d: %s", host, port, uv_strerror(rv));
        return uv_to_err(rv);
    }
    return 0;
}

int tcp_server_port(struct tcp_server *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&s->handle, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void server_handle_closed_cb(uv_handle_t *h)
{
    server_maybe_finish_close(h->data);
}

void tcp_server_close(struct tcp_server *s, void (*on_closed)(struct tcp_server *s))
{
    if (s->closing)
        return;
    s->closing = true;
    s->on_closed = on_closed;
    for (struct tcp_conn *c = s->conns; c; c = c->next)
        tcp_conn_close(c, TERN_E_CANCELED, "server closing");
    uv_close((uv_handle_t *)&s->handle, server_handle_closed_cb);
}

static void connect_cb(uv_connect_t *req, int status)
{
    struct tcp_conn *c = req->data;
    if (status == 0 && !c->closing) {
        uv_tcp_nodelay(&c->handle, 1);
        c->connected = true;
        fill_peer(c);
        c->on_connect(c, 0);
        if (!c->closing) {
            start_reading(c);
            flush(c);
        }
        return;
    }
    /* Failed (or canceled by an early close): report it, then free without on_close. */
    c->connected = false;
    c->on_connect(c, status == 0 ? TERN_E_CANCELED : uv_to_err(status));
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->handle, handle_closed_cb);
    }
}

int tcp_conn_connect(uv_loop_t *loop, const char *host, int port, const struct tcp_limits *limits,
                     tcp_connect_cb on_connect, void *data, struct tcp_conn **out, char *errmsg)
{
    struct sockaddr_storage ss;
    if (resolve(host, port, &ss) != 0) {
        errmsg_printf(errmsg, "connect %s:%d: not a numeric address", host, port);
        return TERN_E_INVAL;
    }
    struct tcp_conn *c = conn_new(loop, limits);
    if (!c) {
        errmsg_printf(errmsg, "connect %s:%d: out of memory", host, port);
        return TERN_E_NOMEM;
    }
    c->on_connect = on_connect;
    c->data = data;
    c->creq.data = c;
    int rv = uv_tcp_connect(&c->creq, &c->handle, (struct sockaddr *)&ss, connect_cb);
    if (rv != 0) {
        errmsg_printf(errmsg, "connect %s:%d: %s", host, port, uv_strerror(rv));
        c->connected = false;
        c->closing = true;
        uv_close((uv_handle_t *)&c->handle, handle_closed_cb);
        return uv_to_err(rv);
    }
    *out = c;
    return 0;
}

int tcp_split_addr(const char *addr, char *host, size_t host_cap, int *port)
{
    const char *colon;
    const char *hs = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return TERN_E_INVAL;
        hs = addr + 1;
        hl = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return TERN_E_INVAL;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= host_cap)
        return TERN_E_INVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535 || end == colon + 1)
        return TERN_E_INVAL;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}
