/* FETCH_SEGMENT: the serving side (any member's loop) and the blocking
 * client a far-behind member runs inside its snapshot restore.
 *
 * Happy path: the client asks for [from, end) of one partition in chunks of
 * at most SEGFETCH_CHUNK_DEFAULT bytes; the server copies whole stored units
 * verbatim (checksums verified on read); the client checks every unit again
 * (partlog_import: checksum, contiguous offsets, monotonic store times) and
 * writes the chunk at once (store_import), so at most one chunk is in memory.
 * Failure modes: a refused or damaged chunk writes nothing and fails the
 * fetch; a server error answers SYSTEM_ERROR/TOPIC_NOT_EXIST with a remark;
 * socket errors and timeouts are retried by reconnecting until the deadline. */
#include "broker/segfetch.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/topics.h"
#include "protocol/aclsign.h"
#include "protocol/codes.h"
#include "protocol/remoting.h"
#include "src/clock.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

/* ---- serving side ---- */

void segfetch_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE] = "";
    int32_t qid = 0, pid = 0, max = (int32_t)SEGFETCH_CHUNK_DEFAULT;
    int64_t from = 0, end = 0;
    struct slice topic = remoting_ext_get(req, "topic");
    if (!topic.p || topic.len == 0 || topic.len >= TOPICS_NAME_MAX || remoting_ext_get_i32(req, "queueId", &qid, err) ||
        remoting_ext_get_i32(req, "partitionId", &pid, err) || remoting_ext_get_i64(req, "fromOffset", &from, err) ||
        remoting_ext_get_i64(req, "endOffset", &end, err) || from < 0 || end < from) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err[0] ? err : "bad FETCH_SEGMENT header");
        return;
    }
    if (remoting_ext_get_i32(req, "maxBytes", &max, err) == TERN_E_MALFORMED || max <= 0)
        max = (int32_t)SEGFETCH_CHUNK_DEFAULT;
    if ((uint32_t)max > SEGFETCH_CHUNK_MAX)
        max = (int32_t)SEGFETCH_CHUNK_MAX;
    char name[TOPICS_NAME_MAX];
    memcpy(name, topic.p, topic.len);
    name[topic.len] = '\0';
    struct topic *tp = topics_find(b->topics, name);
    struct partlog *pl;
    if (!tp || qid < 0 || topics_partition(b->topics, tp, qid, &pl) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_TOPIC_NOT_EXIST, "no such partition");
        return;
    }
    if (partlog_id(pl) != (uint32_t)pid) {
        /* Units embed physical offsets built from the partition id: a copy
         * under another id would not be byte-identical. */
        snprintf(err, sizeof err, "partition %s/%d has id %u here, %d asked", name, qid, partlog_id(pl), pid);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, err);
        return;
    }
    struct partlog_readbuf rb; /* catch-up only: not a hot path */
    partlog_readbuf_init(&rb);
    buf_reset(&b->body);
    uint64_t next;
    int rv = partlog_read_units(pl, (uint64_t)from, (uint64_t)end, (size_t)max, &rb, &b->body, &next);
    partlog_readbuf_free(&rb);
    if (rv) {
        snprintf(err, sizeof err, "%s: %s", tern_strerror(rv), partlog_errmsg(pl));
        LOGW("broker", "FETCH_SEGMENT %s/%d from %" PRId64 ": %s", name, qid, from, err);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, err);
        return;
    }
    if (remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL) ||
        remoting_ext_set_int(&b->resp, "nextOffset", (int64_t)next)) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    broker_respond(b, rc, b->body.data, b->body.len);
}

/* ---- blocking client ---- */

struct fetch_conn {
    int fd;
    struct buf in; /* one response frame at a time */
    struct buf out;
    struct remoting_cmd cmd;
    int32_t opaque;
};

static int wait_fd(int fd, short ev, int64_t deadline, char *errmsg)
{
    for (;;) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0) {
            errmsg_printf(errmsg, "timed out");
            return TERN_E_TIMEOUT;
        }
        struct pollfd p = {.fd = fd, .events = ev};
        int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR) {
            errmsg_printf(errmsg, "poll: %s", strerror(errno));
            return TERN_E_IO;
        }
    }
}

static int conn_open(struct fetch_conn *c, const char *addr, int64_t deadline, char *errmsg)
{
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) {
        errmsg_printf(errmsg, "bad address '%s'", addr);
        return TERN_E_INVAL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai) {
        errmsg_printf(errmsg, "cannot resolve '%s'", addr);
        return TERN_E_INVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        errmsg_printf(errmsg, "socket: %s", strerror(errno));
        return TERN_E_IO;
    }
    int rv = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rv != 0 && errno != EINPROGRESS) {
        errmsg_printf(errmsg, "connect %s: %s", addr, strerror(errno));
        close(fd);
        return TERN_E_IO;
    }
    if (rv != 0) {
        int e = 0;
        socklen_t el = sizeof e;
        rv = wait_fd(fd, POLLOUT, deadline, errmsg);
        if (rv == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0)) {
            errmsg_printf(errmsg, "connect %s: %s", addr, strerror(e ? e : errno));
            rv = TERN_E_IO;
        }
        if (rv) {
            close(fd);
            return rv;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    return 0;
}

static void conn_close(struct fetch_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int send_all(int fd, const uint8_t *p, size_t n, int64_t deadline, char *errmsg)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            errmsg_printf(errmsg, "send: %s", strerror(errno));
            return TERN_E_IO;
        }
        int rv = wait_fd(fd, POLLOUT, deadline, errmsg);
        if (rv)
            return rv;
    }
    return 0;
}

/* Read until `want` bytes are buffered in c->in. */
static int recv_until(struct fetch_conn *c, size_t want, int64_t deadline, char *errmsg)
{
    while (c->in.len < want) {
        if (buf_reserve(&c->in, want - c->in.len))
            return TERN_E_NOMEM;
        ssize_t r = recv(c->fd, c->in.data + c->in.len, want - c->in.len, 0);
        if (r > 0) {
            c->in.len += (size_t)r;
            continue;
        }
        if (r == 0) {
            errmsg_printf(errmsg, "connection closed by peer");
            return TERN_E_IO;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            errmsg_printf(errmsg, "recv: %s", strerror(errno));
            return TERN_E_IO;
        }
        int rv = wait_fd(c->fd, POLLIN, deadline, errmsg);
        if (rv)
            return rv;
    }
    return 0;
}

/* One request/response round trip; the response is decoded into c->cmd (its
 * body points into c->in). */
static int round_trip(struct broker *b, struct fetch_conn *c, const char *topic, int32_t qid, uint32_t pid,
                      uint64_t from, uint64_t end, int64_t deadline, char *errmsg)
{
    remoting_cmd_init_request(&c->cmd, CODES_TERN_FETCH_SEGMENT);
    c->cmd.opaque = ++c->opaque;
    int rv = 0;
    rv = rv ? rv : remoting_ext_set_str(&c->cmd, "topic", topic);
    rv = rv ? rv : remoting_ext_set_int(&c->cmd, "queueId", qid);
    rv = rv ? rv : remoting_ext_set_int(&c->cmd, "partitionId", pid);
    rv = rv ? rv : remoting_ext_set_int(&c->cmd, "fromOffset", (int64_t)from);
    rv = rv ? rv : remoting_ext_set_int(&c->cmd, "endOffset", (int64_t)end);
    rv = rv ? rv : remoting_ext_set_int(&c->cmd, "maxBytes", SEGFETCH_CHUNK_DEFAULT);
    /* With ACL on, Tern-only codes need an admin: sign as the broker does on
     * its hub (aclAccessKey). */
    if (rv == 0 && b->conf.acl_access_key[0])
        rv = aclsign_sign(&c->cmd, NULL, 0, b->conf.acl_access_key, b->conf.acl_secret_key);
    buf_reset(&c->out);
    rv = rv ? rv : remoting_encode(&c->cmd, 0, &c->out);
    if (rv) {
        errmsg_printf(errmsg, "encode request: %s", tern_strerror(rv));
        return rv;
    }
    rv = send_all(c->fd, c->out.data, c->out.len, deadline, errmsg);
    if (rv)
        return rv;
    buf_reset(&c->in);
    rv = recv_until(c, 4, deadline, errmsg);
    if (rv)
        return rv;
    size_t frame_len = 0;
    for (;;) {
        rv = remoting_frame_check(c->in.data, c->in.len, &b->limits, &frame_len, errmsg);
        if (rv != TERN_E_AGAIN)
            break;
        /* The length word tells how much is missing. */
        uint32_t total = (uint32_t)c->in.data[0] << 24 | (uint32_t)c->in.data[1] << 16 |
                         (uint32_t)c->in.data[2] << 8 | c->in.data[3];
        size_t want = (size_t)total + 4 > c->in.len ? (size_t)total + 4 : c->in.len + 1;
        rv = recv_until(c, want, deadline, errmsg);
        if (rv)
            return rv;
    }
    if (rv)
        return rv;
    rv = remoting_decode(&c->cmd, c->in.data, frame_len, &b->limits, errmsg);
    if (rv)
        return rv;
    if (c->cmd.opaque != c->opaque) {
        errmsg_printf(errmsg, "response opaque %d, expected %d", c->cmd.opaque, c->opaque);
        return TERN_E_MALFORMED;
    }
    return 0;
}

int segfetch_partition(struct broker *b, const char *addr, const char *topic, int32_t queue_id,
                       struct partlog *pl, uint64_t end, int64_t deadline, struct segfetch_stats *stats,
                       char *errmsg)
{
    struct fetch_conn c = {.fd = -1};
    buf_init(&c.in);
    buf_init(&c.out);
    remoting_cmd_init(&c.cmd);
    int rv = 0;
    int64_t backoff = 50;
    while (partlog_next_offset(pl) < end) {
        uint64_t from = partlog_next_offset(pl);
        if (c.fd < 0) {
            rv = conn_open(&c, addr, deadline, errmsg);
            if (rv == 0)
                rv = round_trip(b, &c, topic, queue_id, partlog_id(pl), from, end, deadline, errmsg);
        } else {
            rv = round_trip(b, &c, topic, queue_id, partlog_id(pl), from, end, deadline, errmsg);
        }
        if (rv == TERN_E_IO || rv == TERN_E_TIMEOUT) {
            /* The source may be restarting or busy: reconnect until the deadline. */
            conn_close(&c);
            if (clock_mono_ms() + backoff >= deadline)
                break;
            LOGW("broker", "catch-up %s/%d from %s: %s; retrying", topic, queue_id, addr, errmsg);
            usleep((useconds_t)backoff * 1000);
            backoff = backoff < 1000 ? backoff * 2 : 1000;
            continue;
        }
        if (rv)
            break;
        if (c.cmd.code != CODES_RESP_SUCCESS) {
            errmsg_printf(errmsg, "%s answered %d: %.*s", addr, c.cmd.code, (int)c.cmd.remark.len,
                          c.cmd.remark.p ? c.cmd.remark.p : "");
            rv = TERN_E_IO;
            break;
        }
        if (c.cmd.body.len == 0) {
            errmsg_printf(errmsg, "%s has nothing at offset %" PRIu64 " (below %" PRIu64 ")", addr, from, end);
            rv = TERN_E_NOTFOUND;
            break;
        }
        uint64_t before = partlog_next_offset(pl);
        rv = store_import(b->store, pl, (const uint8_t *)c.cmd.body.p, c.cmd.body.len);
        if (rv) {
            errmsg_printf(errmsg, "%s", partlog_errmsg(pl));
            break;
        }
        if (stats) {
            stats->bytes += c.cmd.body.len;
            stats->messages += partlog_next_offset(pl) - before;
            for (size_t at = 0; at + 4 <= c.cmd.body.len;) {
                uint32_t ul = le32_load((const uint8_t *)c.cmd.body.p + at);
                stats->units++;
                at += ul ? ul : c.cmd.body.len;
            }
        }
        if (partlog_next_offset(pl) > end) {
            errmsg_printf(errmsg, "%s sent units past offset %" PRIu64, addr, end);
            rv = TERN_E_CORRUPT;
            break;
        }
        backoff = 50;
    }
    conn_close(&c);
    remoting_cmd_free(&c.cmd);
    buf_free(&c.in);
    buf_free(&c.out);
    if (rv == 0 && partlog_next_offset(pl) < end) {
        if (!errmsg[0])
            errmsg_printf(errmsg, "timed out");
        rv = TERN_E_TIMEOUT;
    }
    if (rv)
        errmsg_wrapf(errmsg, "catch-up %s/%d from %s", topic, queue_id, addr);
    return rv;
}
