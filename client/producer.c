/* struct tern_producer: SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE with queue
 * selection, client-side UNIQ_KEY, LZ4 compression and retries.
 *
 * Happy path: the message is encoded once into a pooled struct psend
 * (properties, body, ids), a writable queue is picked from the cached route,
 * the header is built in the client's scratch command and the request goes
 * out on the master's connection; the response becomes a tern_send_result.
 * Failure modes: no cached route -> fetched first (TBW102 for unknown
 * topics); SYSTEM_ERROR, SYSTEM_BUSY, SERVICE_NOT_AVAILABLE, timeouts,
 * closed or refused connections -> retried on another broker when there is
 * one; TOPIC_NOT_EXIST -> route refreshed, then retried; anything else
 * (MESSAGE_ILLEGAL, NO_PERMISSION, ...) fails at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/libtern.h"
#include "client/msgbuild.h"
#include "protocol/batch.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define PRODUCER_POOL_MAX 256
/* How long a send keeps retrying while its broker group has no reachable
 * leader (a Raft election plus the new leader's registration takes a second
 * or two); each retry first refreshes the route from the name servers. */
#define PRODUCER_FAILOVER_MS 10000
#define PRODUCER_BACKOFF_MS 100
#define PRODUCER_BACKOFF_STEPS 1

struct psend {
    struct tern_producer *p;
    struct buf props; /* single: properties string; reused for the result */
    struct buf body;  /* single: (compressed) body; batch: batch body */
    struct buf ids;   /* UNIQ_KEY(s), comma-joined, NUL-terminated */
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    int32_t sysflag;
    int32_t flag;
    int64_t born;
    bool batch;
    bool oneway;
    bool use_qid;
    int qid;
    char broker[LIBTERN_NAME_MAX];
    bool has_key;
    int32_t key_hash;
    int attempts;
    int max_attempts;
    bool refreshed;
    int64_t deadline; /* give up leader-following retries after this */
    int64_t retry_at; /* while on the producer's delayed list */
    char last_broker[LIBTERN_NAME_MAX];
    tern_send_cb cb;
    void *arg;
    struct psend *next;
    /* Coalescing (end of file): a carrier's members, linked through next. */
    struct psend *members;
    size_t nmembers;
};

struct tern_producer {
    struct tern_client *c;
    char group[LIBTERN_NAME_MAX];
    int retries;
    size_t threshold;
    int compress_type;
    int64_t timeout_ms;
    int dtqn;
    size_t max_in_flight;
    size_t in_flight;
    struct psend *pool;
    size_t npool;
    struct psend *delayed; /* sends waiting to retry after a route refresh */
    struct psend *pending, **pending_tail; /* sends to coalesce at the end of this loop pass */
    struct tern_producer *next;
};

void tern_producer_opts_init(struct tern_producer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->retries = 2;
    o->compress_threshold = 4096;
    o->default_topic_queue_nums = 4;
    o->max_in_flight = 65536;
}

int tern_producer_new(struct tern_client *c, const struct tern_producer_opts *o,
                      struct tern_producer **out)
{
    if (!c || !o || !out || !o->group || !*o->group || strlen(o->group) >= LIBTERN_NAME_MAX)
        return TERN_E_INVAL;
    if (c->closing)
        return TERN_E_CLOSED;
    struct tern_producer *p = calloc(1, sizeof *p);
    if (!p)
        return TERN_E_NOMEM;
    p->c = c;
    snprintf(p->group, sizeof p->group, "%s", o->group);
    p->retries = o->retries < 0 ? 0 : (o->retries == 0 ? 2 : o->retries);
    p->threshold = o->compress_threshold ? o->compress_threshold : 4096;
    p->compress_type = o->compress_type;
    p->timeout_ms = o->send_timeout_ms > 0 ? o->send_timeout_ms : c->timeout_ms;
    p->dtqn = o->default_topic_queue_nums > 0 ? o->default_topic_queue_nums : 4;
    p->max_in_flight = o->max_in_flight ? o->max_in_flight : 65536;
    p->next = c->producers;
    c->producers = p;
    *out = p;
    return 0;
}

size_t producer_groups(struct tern_client *c, const char **out, size_t cap)
{
    size_t n = 0;
    for (struct tern_producer *p = c->producers; p && n < cap; p = p->next) {
        bool dup = false;
        for (size_t i = 0; i < n; i++)
            dup = dup || strcmp(out[i], p->group) == 0;
        if (!dup)
            out[n++] = p->group;
    }
    return n;
}

static void psend_destroy(struct psend *ps)
{
    buf_free(&ps->props);
    buf_free(&ps->body);
    buf_free(&ps->ids);
    free(ps);
}

void producer_free_all(struct tern_client *c)
{
    struct tern_producer *p = c->producers;
    c->producers = NULL;
    while (p) {
        struct tern_producer *next = p->next;
        while (p->pool) {
            struct psend *ps = p->pool;
            p->pool = ps->next;
            psend_destroy(ps);
        }
        free(p);
        p = next;
    }
}

static struct psend *psend_get(struct tern_producer *p)
{
    struct psend *ps = p->pool;
    if (ps) {
        p->pool = ps->next;
        p->npool--;
    } else {
        ps = calloc(1, sizeof *ps);
        if (!ps)
            return NULL;
        buf_init(&ps->props);
        buf_init(&ps->body);
        buf_init(&ps->ids);
    }
    struct buf props = ps->props, body = ps->body, ids = ps->ids;
    memset(ps, 0, sizeof *ps);
    ps->props = props;
    ps->body = body;
    ps->ids = ids;
    buf_reset(&ps->props);
    buf_reset(&ps->body);
    buf_reset(&ps->ids);
    ps->p = p;
    p->in_flight++;
    return ps;
}

static void psend_put(struct psend *ps)
{
    struct tern_producer *p = ps->p;
    p->in_flight--;
    if (p->npool >= PRODUCER_POOL_MAX || ps->body.cap > (1u << 20)) {
        psend_destroy(ps);
        return;
    }
    ps->next = p->pool;
    p->pool = ps;
    p->npool++;
}

static void fail(struct psend *ps, int err, const char *errmsg)
{
    if (ps->cb)
        ps->cb(err, errmsg, NULL, ps->arg);
    psend_put(ps);
}

/* ---- preparation --------------------------------------------------------- */

static int check_msg(struct tern_client *c, const struct tern_send_msg *m)
{
    if (!m || !m->topic || (!m->body && m->body_len)) {
        errmsg_printf(c->errmsg, "message needs a topic and a body");
        return TERN_E_INVAL;
    }
    char e[ERRMSG_SIZE];
    if (limits_check_topic(&limits_default, m->topic, strlen(m->topic), e) != 0) {
        errmsg_printf(c->errmsg, "%s", e);
        return TERN_E_INVAL;
    }
    if (m->body_len > limits_default.max_body) {
        errmsg_printf(c->errmsg, "body of %zu bytes exceeds %u", m->body_len, limits_default.max_body);
        return TERN_E_TOOBIG;
    }
    if (m->broker_name && strlen(m->broker_name) >= LIBTERN_NAME_MAX) {
        errmsg_printf(c->errmsg, "broker name too long");
        return TERN_E_INVAL;
    }
    return 0;
}

static void set_selection(struct psend *ps, const struct tern_send_msg *m)
{
    /* A plain copy: snprintf here cost ~580 instructions, a quarter of a send. */
    size_t tn = strlen(m->topic);
    if (tn >= sizeof ps->topic)
        tn = sizeof ps->topic - 1;
    memcpy(ps->topic, m->topic, tn);
    ps->topic[tn] = '\0';
    if (m->use_queue_id) {
        ps->use_qid = true;
        ps->qid = m->queue_id;
        snprintf(ps->broker, sizeof ps->broker, "%s", m->broker_name ? m->broker_name : "");
    } else if (m->sharding_key && *m->sharding_key) {
        ps->has_key = true;
        ps->key_hash = tags_hash(m->sharding_key, strlen(m->sharding_key));
    }
}

static int prepare_one(struct psend *ps, const struct tern_send_msg *m)
{
    struct tern_client *c = ps->p->c;
    int rv = check_msg(c, m);
    if (rv != 0)
        return rv;
    char uniq[MSGID_MAX_STR];
    msgid_uniq_next(&c->gen, clock_now_ms(), uniq);
    rv = msgbuild_properties(&ps->props, m, uniq, c->errmsg);
    if (rv != 0)
        return rv;
    rv = msgbuild_compress(m->body, m->body_len, ps->p->threshold, ps->p->compress_type, &ps->body,
                           &ps->sysflag);
    buf_append(&ps->ids, uniq, strlen(uniq) + 1);
    if (rv == 0)
        rv = ps->ids.err;
    if (rv != 0) {
        errmsg_printf(c->errmsg, "out of memory");
        return rv;
    }
    ps->flag = m->flag;
    ps->born = clock_now_ms();
    /* A half message (txn_producer.c) is flagged as RocketMQ's client does. */
    for (size_t i = 0; i < m->prop_count; i++)
        if (strcmp(m->props[i].key, "TRAN_MSG") == 0 && strcmp(m->props[i].value, "true") == 0)
            ps->sysflag |= 0x4; /* TRANSACTION_PREPARED_TYPE */
    set_selection(ps, m);
    return 0;
}

static int prepare_batch(struct psend *ps, const struct tern_send_msg *msgs, size_t n)
{
    struct tern_client *c = ps->p->c;
    if (n == 0 || !msgs) {
        errmsg_printf(c->errmsg, "empty batch");
        return TERN_E_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        int rv = check_msg(c, &msgs[i]);
        if (rv != 0)
            return rv;
        if (strcmp(msgs[i].topic, msgs[0].topic) != 0) {
            errmsg_printf(c->errmsg, "batch message %zu: all messages need the same topic", i);
            return TERN_E_INVAL;
        }
        if (msgs[i].delay_level != 0 || msgs[i].delay_ms != 0 || msgs[i].deliver_at_ms != 0) {
            errmsg_printf(c->errmsg, "batch message %zu: batches cannot be delayed", i);
            return TERN_E_INVAL;
        }
        char uniq[MSGID_MAX_STR];
        msgid_uniq_next(&c->gen, clock_now_ms(), uniq);
        buf_reset(&ps->props);
        rv = msgbuild_properties(&ps->props, &msgs[i], uniq, c->errmsg);
        if (rv != 0)
            return rv;
        rv = batch_encode_item(&ps->body, msgs[i].flag, msgs[i].body, msgs[i].body_len,
                               (const char *)ps->props.data, ps->props.len);
        if (rv != 0) {
            errmsg_printf(c->errmsg, "batch message %zu: %s", i, tern_strerror(rv));
            return rv;
        }
        if (i)
            buf_append(&ps->ids, ",", 1);
        buf_append(&ps->ids, uniq, strlen(uniq));
    }
    buf_append(&ps->ids, "", 1);
    if (ps->ids.err || ps->body.err) {
        errmsg_printf(c->errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    if (ps->body.len > limits_default.max_body) {
        errmsg_printf(c->errmsg, "batch body of %zu bytes exceeds %u", ps->body.len,
                      limits_default.max_body);
        return TERN_E_TOOBIG;
    }
    buf_reset(&ps->props);
    ps->batch = true;
    ps->born = clock_now_ms();
    set_selection(ps, &msgs[0]);
    return 0;
}

/* ---- attempts ---------------------------------------------------------------- */

static int attempt(struct psend *ps, bool in_call);
static bool delay_retry(struct psend *ps, int err);

static bool retryable(int err)
{
    switch (err) {
    case CODES_RESP_SYSTEM_ERROR:
    case CODES_RESP_SYSTEM_BUSY:
    case CODES_RESP_SERVICE_NOT_AVAILABLE:
    case CODES_RESP_TOPIC_NOT_EXIST:
    case TERN_E_TIMEOUT:
    case TERN_E_CLOSED:
    case TERN_E_CONNECT:
        return true;
    default:
        return false;
    }
}

static void route_ready(int err, const char *errmsg, struct routes_topic *r, void *arg)
{
    struct psend *ps = arg;
    if (err != 0) {
        if (!delay_retry(ps, err))
            fail(ps, err, errmsg);
        return;
    }
    int rv = attempt(ps, false);
    if (rv != 0 && !delay_retry(ps, rv))
        fail(ps, rv, ps->p->c->errmsg);
}

void producer_tick(struct tern_client *c, int64_t now)
{
    for (struct tern_producer *p = c->producers; p; p = p->next) {
        struct psend **pp = &p->delayed;
        while (*pp) {
            struct psend *ps = *pp;
            if (ps->retry_at > now) {
                pp = &ps->next;
                continue;
            }
            *pp = ps->next;
            ps->next = NULL;
            if (routes_fetch(c, ps->topic, true, route_ready, ps) != 0) {
                int rv = attempt(ps, false);
                if (rv != 0 && !delay_retry(ps, rv))
                    fail(ps, rv, c->errmsg);
            }
        }
    }
}

void producer_cancel_delayed(struct tern_client *c)
{
    for (struct tern_producer *p = c->producers; p; p = p->next) {
        while (p->pending) { /* not yet coalesced */
            struct psend *ps = p->pending;
            p->pending = ps->next;
            fail(ps, TERN_E_CANCELED, "client closed");
        }
        while (p->delayed) {
            struct psend *ps = p->delayed;
            p->delayed = ps->next;
            fail(ps, TERN_E_CANCELED, "client closed");
        }
    }
}

/* Errors that mean "the leader moved or is being elected". */
static bool leader_moved(int err)
{
    return err == CODES_RESP_SERVICE_NOT_AVAILABLE || err == TERN_E_CONNECT || err == TERN_E_CLOSED ||
           err == TERN_E_TIMEOUT || err == TERN_E_NOTFOUND;
}

/* Retry after a pause and a fresh route, until the send's deadline. */
static bool delay_retry(struct psend *ps, int err)
{
    int64_t now = clock_mono_ms();
    if (ps->oneway || ps->p->c->closing || !leader_moved(err) || now >= ps->deadline)
        return false;
    /* A retry every 100 ms (the client tick): a linear backoff up to 1 s
     * made a send that had failed a few times during the election wait up
     * to 500 ms more after the new leader registered (bench/failover.sh).
     * Route lookups are shared per topic and a refused connect is cheap, so
     * the name server sees about ten lookups a second per topic, and only
     * while the sends have no leader, for at most PRODUCER_FAILOVER_MS. */
    int n = ps->attempts < PRODUCER_BACKOFF_STEPS ? ps->attempts : PRODUCER_BACKOFF_STEPS;
    ps->retry_at = now + PRODUCER_BACKOFF_MS * (n > 0 ? n : 1);
    ps->next = ps->p->delayed;
    ps->p->delayed = ps;
    return true;
}

static void retry_or_fail(struct psend *ps, int err, const char *errmsg)
{
    struct tern_client *c = ps->p->c;
    if (c->closing || !retryable(err) || ps->attempts >= ps->max_attempts) {
        if (!c->closing && delay_retry(ps, err)) {
            LOGD("client", "send to %s failed (%s); retrying after a route refresh", ps->last_broker, errmsg);
            return;
        }
        fail(ps, err, errmsg);
        return;
    }
    LOGD("client", "send to %s failed (%s), retrying", ps->last_broker, errmsg);
    if (err == CODES_RESP_TOPIC_NOT_EXIST && !ps->refreshed) {
        ps->refreshed = true;
        if (routes_fetch(c, ps->topic, true, route_ready, ps) == 0)
            return;
    }
    int rv = attempt(ps, false);
    if (rv != 0)
        fail(ps, rv, c->errmsg);
}

static void send_done(int status, struct remoting_cmd *resp, void *arg)
{
    struct psend *ps = arg;
    if (status != 0) {
        char why[TERN_ERRMSG_SIZE];
        snprintf(why, sizeof why, "send to %s: %s", ps->last_broker, peer_strerror(status));
        retry_or_fail(ps, status, why);
        return;
    }
    int code = resp->code;
    if (code != CODES_RESP_SUCCESS && code != CODES_RESP_FLUSH_DISK_TIMEOUT &&
        code != CODES_RESP_FLUSH_SLAVE_TIMEOUT && code != CODES_RESP_SLAVE_NOT_AVAILABLE) {
        char why[TERN_ERRMSG_SIZE];
        snprintf(why, sizeof why, "send to %s: broker answered %d %.*s", ps->last_broker, code,
                 (int)resp->remark.len, resp->remark.p ? resp->remark.p : "");
        retry_or_fail(ps, libtern_code_err(code), why);
        return;
    }
    struct headers_send_resp h;
    char err[ERRMSG_SIZE];
    if (headers_send_resp_decode(&h, resp, &limits_default, err) != 0) {
        char why[TERN_ERRMSG_SIZE];
        snprintf(why, sizeof why, "send to %s: %s", ps->last_broker, err);
        fail(ps, TERN_E_MALFORMED, why);
        return;
    }
    buf_reset(&ps->props);
    buf_append(&ps->props, h.msg_id.p, h.msg_id.len);
    buf_append(&ps->props, "", 1);
    struct tern_send_result res = {
        .status = (enum tern_send_status)code,
        .msg_id = (const char *)ps->ids.data,
        .offset_msg_id = ps->props.err ? "" : (const char *)ps->props.data,
        .broker_name = ps->last_broker,
        .queue_id = h.queue_id,
        .queue_offset = h.queue_offset,
        .attempts = ps->attempts,
    };
    if (ps->cb)
        ps->cb(0, "", &res, ps->arg);
    psend_put(ps);
}

static const struct routes_mq *pick(struct psend *ps, struct routes_topic *r)
{
    if (r->npub == 0)
        return NULL;
    if (ps->use_qid) {
        for (size_t i = 0; i < r->npub; i++)
            if (r->pub[i].qid == ps->qid && (!ps->broker[0] || strcmp(r->pub[i].broker, ps->broker) == 0))
                return &r->pub[i];
        return NULL;
    }
    if (ps->has_key)
        return routes_keyed_pick(r, ps->key_hash);
    /* Round-robin, avoiding the broker that just failed when possible. */
    for (size_t k = 0; k < r->npub; k++) {
        const struct routes_mq *mq = &r->pub[r->rr++ % r->npub];
        if (ps->attempts == 0 || strcmp(mq->broker, ps->last_broker) != 0)
            return mq;
    }
    return &r->pub[r->rr++ % r->npub];
}

/* One attempt. in_call: inside the user's call, where errors are returned
 * rather than reported through the callback. Returns 0 or an error (with
 * c->errmsg) that the caller reports. */
static int attempt(struct psend *ps, bool in_call)
{
    struct tern_producer *p = ps->p;
    struct tern_client *c = p->c;
    if (c->closing) {
        errmsg_printf(c->errmsg, "client closed");
        return TERN_E_CLOSED;
    }
    struct routes_topic *r = routes_find(c, ps->topic);
    if (!r || r->npub == 0) {
        if (ps->refreshed || (r && !in_call && ps->attempts > 0)) {
            errmsg_printf(c->errmsg, "topic %s: no writable queue", ps->topic);
            return TERN_E_NOTFOUND;
        }
        ps->refreshed = true;
        return routes_fetch(c, ps->topic, true, route_ready, ps);
    }
    const struct routes_mq *mq = pick(ps, r);
    if (!mq) {
        errmsg_printf(c->errmsg, "topic %s: no writable queue%s", ps->topic,
                      ps->use_qid ? " with that id" : ps->has_key ? " for the key (its broker has no master now)" : "");
        return TERN_E_NOTFOUND;
    }
    const char *addr = routes_master(r, mq->broker);
    if (!addr) {
        errmsg_printf(c->errmsg, "broker %s has no master", mq->broker);
        return TERN_E_NOTFOUND;
    }
    struct remoting_cmd *cmd =
        libtern_cmd(c, ps->batch ? CODES_REQ_SEND_BATCH_MESSAGE : CODES_REQ_SEND_MESSAGE_V2);
    struct headers_send_req h = {
        .producer_group = slice_of(p->group),
        .topic = slice_of(ps->topic),
        .default_topic = slice_of("TBW102"),
        .default_topic_queue_nums = p->dtqn,
        .queue_id = mq->qid,
        .sys_flag = ps->sysflag,
        .born_timestamp = ps->born,
        .flag = ps->flag,
        .properties = {(const char *)ps->props.data, ps->props.len},
        .has_batch = ps->batch,
        .batch = ps->batch,
        .broker_name = slice_of(mq->broker),
    };
    if (ps->props.len == 0)
        h.properties.p = NULL;
    int rv = headers_send_req_encode(&h, cmd);
    if (rv != 0) {
        errmsg_printf(c->errmsg, "send header: %s", tern_strerror(rv));
        return rv;
    }
    snprintf(ps->last_broker, sizeof ps->last_broker, "%s", mq->broker);
    ps->attempts++;
    struct iovec iov = {ps->body.data, ps->body.len};
    if (ps->oneway) {
        rv = peer_oneway(c, addr, cmd, &iov, ps->body.len ? 1 : 0);
        if (rv == 0 && !in_call)
            psend_put(ps); /* done: nobody to tell */
        return rv;
    }
    return peer_request(c, addr, cmd, &iov, ps->body.len ? 1 : 0, p->timeout_ms, send_done, ps);
}

static bool coalescible(const struct psend *ps, const struct tern_send_msg *m);
static int coalesce(struct tern_producer *p, struct psend *ps);

static int start(struct tern_producer *p, struct psend *ps)
{
    int rv = attempt(ps, true);
    if (rv != 0) {
        psend_put(ps);
        return rv;
    }
    /* A oneway send that went out at once is finished. */
    if (ps->oneway && ps->attempts > 0)
        psend_put(ps);
    return 0;
}

static struct psend *begin(struct tern_producer *p, tern_send_cb cb, void *arg, int *err)
{
    if (p->c->closing) {
        *err = TERN_E_CLOSED;
        return NULL;
    }
    if (p->in_flight >= p->max_in_flight) {
        errmsg_printf(p->c->errmsg, "%zu sends in flight", p->in_flight);
        *err = TERN_E_BUSY;
        return NULL;
    }
    struct psend *ps = psend_get(p);
    if (!ps) {
        *err = TERN_E_NOMEM;
        return NULL;
    }
    ps->cb = cb;
    ps->arg = arg;
    ps->max_attempts = 1 + p->retries;
    ps->deadline = clock_mono_ms() + PRODUCER_FAILOVER_MS;
    return ps;
}

int tern_producer_send(struct tern_producer *p, const struct tern_send_msg *m, tern_send_cb cb,
                       void *arg)
{
    if (!p || !cb)
        return TERN_E_INVAL;
    int rv;
    struct psend *ps = begin(p, cb, arg, &rv);
    if (!ps)
        return rv;
    rv = prepare_one(ps, m);
    if (rv != 0) {
        psend_put(ps);
        return rv;
    }
    if (coalescible(ps, m))
        return coalesce(p, ps);
    return start(p, ps);
}

int tern_producer_send_oneway(struct tern_producer *p, const struct tern_send_msg *m)
{
    if (!p)
        return TERN_E_INVAL;
    int rv;
    struct psend *ps = begin(p, NULL, NULL, &rv);
    if (!ps)
        return rv;
    ps->oneway = true;
    ps->max_attempts = 1;
    rv = prepare_one(ps, m);
    if (rv != 0) {
        psend_put(ps);
        return rv;
    }
    return start(p, ps);
}

int tern_producer_send_batch(struct tern_producer *p, const struct tern_send_msg *msgs, size_t n,
                             tern_send_cb cb, void *arg)
{
    if (!p || !cb)
        return TERN_E_INVAL;
    int rv;
    struct psend *ps = begin(p, cb, arg, &rv);
    if (!ps)
        return rv;
    rv = prepare_batch(ps, msgs, n);
    if (rv != 0) {
        psend_put(ps);
        return rv;
    }
    return start(p, ps);
}

/* ---- coalescing -------------------------------------------------------------
 *
 * Asynchronous single sends made during one pass of the event loop are held
 * on the producer's pending list; at the loop's idle phase (the client's
 * batch_idle handle, started only while something is pending, so the loop
 * does not block in poll meanwhile) the sends of each producer are grouped by
 * topic and target, and a group of two or more goes out as one
 * SEND_BATCH_MESSAGE request: a "carrier" psend whose body is the RocketMQ
 * batch encoding of its members' already-built properties and bodies. A group
 * of one goes out exactly as before (SEND_MESSAGE_V2), so a lone send looks
 * the same to any broker. The broker answers a batch with the first queue
 * offset and the comma-joined offset message ids; each member's callback gets
 * its own offset (first + index) and id. The carrier retries like any send;
 * its failure fails every member. Members and carriers are pooled psends and
 * reuse their buffers: nothing is allocated per message once warm. */

#define COALESCE_GROUPS 32        /* open groups per flush; more start alone */
/* Messages per batch. The broker stores a batch as one unit, lz4-compressed as
 * a whole (broker/STORAGE.md), and a pull of 32 from a unit decompresses all
 * of it: with 1024-message batches its pulls cost 12k instructions a message
 * (callgrind, bench/RESULTS.md); 64 keeps most of the per-request saving of
 * batching and bounds that waste. */
#define COALESCE_MAX_MSGS 64
#define COALESCE_MAX_BYTES (1u << 20) /* encoded batch body */

struct coalesce_group {
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    bool keyed;   /* a fixed queue: use_qid or a sharding key's queue */
    char broker[LIBTERN_NAME_MAX];
    int qid;
    struct psend *head, **tail;
    size_t n, bytes;
};

/* Only what a batch carries unchanged: no delay (batches reject DELAY), no
 * compression (sysflag is per request), no user properties (they could hold
 * DELAY or TRAN_MSG, which the batch path refuses). */
static bool coalescible(const struct psend *ps, const struct tern_send_msg *m)
{
    return m->delay_level == 0 && m->delay_ms == 0 && m->deliver_at_ms == 0 && m->prop_count == 0 &&
           ps->sysflag == 0 && !ps->oneway;
}

static void flush_idle_cb(uv_idle_t *h);

static int coalesce(struct tern_producer *p, struct psend *ps)
{
    struct tern_client *c = p->c;
    if (!p->pending)
        p->pending_tail = &p->pending;
    ps->next = NULL;
    *p->pending_tail = ps;
    p->pending_tail = &ps->next;
    if (!uv_is_active((uv_handle_t *)&c->batch_idle))
        uv_idle_start(&c->batch_idle, flush_idle_cb);
    return 0;
}

/* A send that goes out alone from the idle phase: errors go to its callback. */
static void launch(struct psend *ps)
{
    int rv = attempt(ps, false);
    if (rv != 0 && !delay_retry(ps, rv))
        fail(ps, rv, ps->p->c->errmsg);
}

/* The field of a comma-separated list at *cursor into out (NUL-terminated);
 * *cursor moves past it and its comma. */
static void next_field(const char **cursor, struct buf *out)
{
    const char *s = *cursor;
    size_t len = strcspn(s, ",");
    buf_reset(out);
    buf_append(out, s, len);
    buf_append(out, "", 1);
    *cursor = s[len] ? s + len + 1 : s + len;
}

static void carrier_done_cb(int err, const char *errmsg, const struct tern_send_result *res,
                            void *arg)
{
    struct psend *carrier = arg;
    struct psend *m = carrier->members;
    carrier->members = NULL;
    const char *ids = res && res->offset_msg_id ? res->offset_msg_id : "";
    for (size_t i = 0; m; i++) {
        struct psend *next = m->next;
        if (err != 0 || !res) {
            m->cb(err ? err : TERN_E_MALFORMED, errmsg, NULL, m->arg);
        } else {
            next_field(&ids, &m->props);
            struct tern_send_result r = *res;
            r.msg_id = (const char *)m->ids.data;
            r.offset_msg_id = m->props.err ? "" : (const char *)m->props.data;
            r.queue_offset = res->queue_offset + (int64_t)i;
            m->cb(0, "", &r, m->arg);
        }
        psend_put(m);
        m = next;
    }
    carrier->p->in_flight++; /* see send_group */
}

/* Send group g: alone if it has one member, else as one batch. */
static void send_group(struct tern_producer *p, struct coalesce_group *g)
{
    struct tern_client *c = p->c;
    if (g->n == 1) {
        launch(g->head);
        return;
    }
    struct psend *carrier = psend_get(p);
    if (!carrier) { /* out of memory: send them one by one */
        for (struct psend *m = g->head, *next; m; m = next) {
            next = m->next;
            m->next = NULL;
            launch(m);
        }
        return;
    }
    /* The members are the sends in flight; the carrier must not take one of
     * the caller's max_in_flight places (carrier_done_cb gives it back
     * before psend_put takes it). */
    p->in_flight--;
    snprintf(carrier->topic, sizeof carrier->topic, "%s", g->topic);
    carrier->batch = true;
    carrier->born = clock_now_ms();
    carrier->max_attempts = g->head->max_attempts;
    carrier->deadline = g->head->deadline;
    if (g->keyed) {
        carrier->use_qid = true;
        carrier->qid = g->qid;
        snprintf(carrier->broker, sizeof carrier->broker, "%s", g->broker);
    }
    carrier->cb = carrier_done_cb;
    carrier->arg = carrier;
    carrier->members = g->head;
    carrier->nmembers = g->n;
    int rv = 0;
    for (struct psend *m = g->head; m && rv == 0; m = m->next)
        rv = batch_encode_item(&carrier->body, m->flag, m->body.data, m->body.len,
                               (const char *)m->props.data, m->props.len);
    if (rv != 0) {
        errmsg_printf(c->errmsg, "batch of %zu: %s", g->n, tern_strerror(rv));
        fail(carrier, rv, c->errmsg);
        return;
    }
    launch(carrier);
}

static void flush_producer(struct tern_producer *p)
{
    struct tern_client *c = p->c;
    struct coalesce_group g[COALESCE_GROUPS];
    size_t ng = 0;
    struct psend *ps = p->pending;
    p->pending = NULL;
    while (ps) {
        struct psend *next = ps->next;
        ps->next = NULL;
        struct routes_topic *r = routes_find(c, ps->topic);
        if (!r || r->npub == 0) { /* attempt() fetches the route */
            launch(ps);
            ps = next;
            continue;
        }
        bool keyed = ps->use_qid || ps->has_key;
        const char *broker = ps->broker;
        int qid = ps->qid;
        if (ps->has_key) {
            const struct routes_mq *mq = routes_keyed_pick(r, ps->key_hash);
            if (!mq) { /* its broker has no master now: attempt() waits */
                launch(ps);
                ps = next;
                continue;
            }
            broker = mq->broker;
            qid = mq->qid;
        }
        size_t bytes = ps->body.len + ps->props.len + 32;
        struct coalesce_group *grp = NULL;
        for (size_t i = 0; i < ng && !grp; i++)
            if (g[i].keyed == keyed && strcmp(g[i].topic, ps->topic) == 0 &&
                (!keyed || (g[i].qid == qid && strcmp(g[i].broker, broker) == 0)))
                grp = &g[i];
        if (grp && (grp->n >= COALESCE_MAX_MSGS || grp->bytes + bytes > COALESCE_MAX_BYTES)) {
            send_group(p, grp); /* full: send it and start it afresh */
            grp->head = NULL, grp->tail = &grp->head, grp->n = 0, grp->bytes = 0;
        }
        if (!grp && ng < COALESCE_GROUPS) {
            grp = &g[ng++];
            snprintf(grp->topic, sizeof grp->topic, "%s", ps->topic);
            grp->keyed = keyed;
            grp->qid = qid;
            snprintf(grp->broker, sizeof grp->broker, "%s", keyed ? broker : "");
            grp->head = NULL, grp->tail = &grp->head, grp->n = 0, grp->bytes = 0;
        }
        if (!grp) {
            launch(ps);
        } else {
            *grp->tail = ps;
            grp->tail = &ps->next;
            grp->n++;
            grp->bytes += bytes;
        }
        ps = next;
    }
    for (size_t i = 0; i < ng; i++)
        if (g[i].n > 0)
            send_group(p, &g[i]);
}

static void flush_idle_cb(uv_idle_t *h)
{
    struct tern_client *c = h->data;
    uv_idle_stop(h);
    for (struct tern_producer *p = c->producers; p; p = p->next)
        if (p->pending)
            flush_producer(p);
}
