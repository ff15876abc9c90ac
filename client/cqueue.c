/* One owned queue of a push consumer: find the start offset, long-poll
 * PULL_MESSAGE, deliver in queue order, commit the consumed offset.
 *
 * Happy path: INIT -> QUERY_CONSUMER_OFFSET (or the local file) -> READY ->
 * pull (SUSPEND | SUBSCRIPTION [| COMMIT_OFFSET]) -> FOUND -> messages
 * re-filtered by exact tag and handed to the callback batch_max at a time ->
 * consumed offset = nextBeginOffset -> pull again.
 * Failure modes: no committed offset -> from first / last (GET_MAX_OFFSET) /
 * timestamp (SEARCH_OFFSET_BY_TIMESTAMP); NO_NEW_MSG / NO_MATCHED_MSG -> pull
 * again from nextBeginOffset; OFFSET_MOVED -> jump to nextBeginOffset and
 * commit it; RETRY_LATER -> clustering (not orderly): sent back to the
 * broker's retry topic and consumed (retryback.c), otherwise the same
 * messages again after retry_delay_ms; SUSPEND -> the same messages again
 * after retry_delay_ms;
 * request errors -> retry after a pause; dropped by a rebalance -> pending
 * requests are detached (their answers ignored) and the offset committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/consumer.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define CQ_ERROR_PAUSE_MS 1000
#define CQ_SLOW_PAUSE_MS 3000

struct cqueue *cqueue_new(struct tern_consumer *cons, const char *topic, const char *broker, int qid)
{
    struct cqueue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cons = cons;
    q->topic = topic;
    q->retry = topic == cons->retry_topic;
    snprintf(q->broker, sizeof q->broker, "%s", broker);
    q->qid = qid;
    q->state = CQ_INIT;
    q->consumed = -1;
    q->committed = -1;
    q->next_pull = -1;
    q->due = clock_mono_ms();
    return q;
}

void cqueue_free(struct cqueue *q)
{
    if (q->pending) {
        rmsg_batch_free(q->pending);
        free(q->pending);
    }
    free(q);
}

void cqueue_drop(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    consumer_detach_queue(cons, q);
    cqueue_commit(q, false);
    orderly_unlock(q); /* after the commit, on the same connection */
    if (cons->model == TERN_BROADCASTING && q->consumed >= 0)
        consumer_boffset_set(cons, q->broker, q->qid, q->consumed);
    cqueue_free(q);
}

static const char *master(struct cqueue *q)
{
    struct routes_topic *r = routes_find(q->cons->c, q->topic);
    return r ? routes_master(r, q->broker) : NULL;
}

/* Where pulls go: the member the last answer suggested (a follower while
 * this queue is far behind, when the broker allows slave reads), else the
 * master. */
#define CQ_SHUN_MS 10000

static const char *pull_addr(struct cqueue *q)
{
    struct routes_topic *r = routes_find(q->cons->c, q->topic);
    if (!r)
        return NULL;
    bool shunned = q->pull_from == q->shun && clock_mono_ms() < q->shun_until;
    const char *addr = q->pull_from && !shunned ? routes_member(r, q->broker, q->pull_from) : NULL;
    return addr ? addr : routes_master(r, q->broker);
}

static void pause_for(struct cqueue *q, int64_t ms)
{
    q->due = clock_mono_ms() + ms;
}

/* ---- commits -------------------------------------------------------------------- */

static void commit_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    if (status != 0 && status != TERN_E_CANCELED)
        LOGD("client", "offset commit: %s", errmsg);
    consumer_close_op_done(arg);
}

void cqueue_commit(struct cqueue *q, bool close_op)
{
    struct tern_consumer *cons = q->cons;
    if (q->consumed < 0)
        return;
    if (cons->model == TERN_BROADCASTING) {
        consumer_boffset_set(cons, q->broker, q->qid, q->consumed);
        q->committed = q->consumed;
        return;
    }
    if (q->consumed == q->committed)
        return;
    const char *addr = master(q);
    if (!addr)
        return;
    struct tern_client *c = cons->c;
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_UPDATE_CONSUMER_OFFSET);
    struct headers_offset_update_req h = {
        .consumer_group = slice_of(cons->group),
        .topic = slice_of(q->topic),
        .queue_id = q->qid,
        .commit_offset = q->consumed,
    };
    if (headers_offset_update_req_encode(&h, cmd) != 0)
        return;
    if (!close_op) {
        if (peer_oneway(c, addr, cmd, NULL, 0) == 0)
            q->committed = q->consumed;
        return;
    }
    struct ticket *t = consumer_ticket(cons, NULL);
    if (!t)
        return;
    t->client_close_op = cons->client_closing;
    if (peer_call(c, addr, cmd, NULL, 0, c->timeout_ms, commit_done, t) != 0) {
        consumer_ticket_take(t);
        free(t);
        return;
    }
    q->committed = q->consumed;
    cons->close_ops++;
    if (t->client_close_op)
        c->close_ops++;
}

/* ---- start offset ------------------------------------------------------------------ */

static void start_at(struct cqueue *q, int64_t off)
{
    if (off < 0)
        off = 0;
    q->next_pull = off;
    q->consumed = off;
    q->state = CQ_READY;
    q->due = clock_mono_ms();
}

static int offset_request(struct cqueue *q, int code);

static void offset_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct cqueue *q = t->q;
    int code = resp ? resp->code : -1;
    free(t);
    if (!q)
        return;
    q->busy = false;
    if (q->cons->closing)
        return;
    if (status != 0) {
        LOGD("client", "queue %s/%d: offset: %s", q->broker, q->qid, errmsg);
        pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    struct headers_offset_resp h;
    char e[ERRMSG_SIZE];
    if (code == CODES_RESP_SUCCESS && headers_offset_resp_decode(&h, resp, &limits_default, e) == 0) {
        if (q->state == CQ_INIT) {
            LOGD("client", "queue %s/%d: starting at %lld", q->broker, q->qid, (long long)h.offset);
            start_at(q, h.offset);
        }
        return;
    }
    if (code == CODES_RESP_QUERY_NOT_FOUND) {
        /* No committed offset: where to start is the consumer's choice. */
        struct tern_consumer *cons = q->cons;
        int next = cons->from == TERN_FROM_FIRST       ? 0
                   : cons->from == TERN_FROM_TIMESTAMP ? CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP
                                                       : CODES_REQ_GET_MAX_OFFSET;
        if (next == 0) {
            start_at(q, 0);
            return;
        }
        if (offset_request(q, next) != 0)
            pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    LOGD("client", "queue %s/%d: offset query answered %d", q->broker, q->qid, code);
    pause_for(q, CQ_ERROR_PAUSE_MS);
}

static int offset_request(struct cqueue *q, int code)
{
    struct tern_consumer *cons = q->cons;
    struct tern_client *c = cons->c;
    const char *addr = master(q);
    if (!addr)
        return TERN_E_NOTFOUND;
    struct remoting_cmd *cmd = libtern_cmd(c, code);
    int rv;
    if (code == CODES_REQ_QUERY_CONSUMER_OFFSET) {
        struct headers_offset_query_req h = {
            .consumer_group = slice_of(cons->group),
            .topic = slice_of(q->topic),
            .queue_id = q->qid,
        };
        rv = headers_offset_query_req_encode(&h, cmd);
    } else if (code == CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP) {
        struct headers_offset_search_req h = {
            .topic = slice_of(q->topic),
            .queue_id = q->qid,
            .timestamp = cons->from_ts,
        };
        rv = headers_offset_search_req_encode(&h, cmd);
    } else {
        struct headers_offset_queue_req h = {
            .topic = slice_of(q->topic),
            .queue_id = q->qid,
        };
        rv = headers_offset_queue_req_encode(&h, cmd);
    }
    if (rv != 0)
        return rv;
    struct ticket *t = consumer_ticket(cons, q);
    if (!t)
        return TERN_E_NOMEM;
    rv = peer_call(c, addr, cmd, NULL, 0, c->timeout_ms, offset_done, t);
    if (rv != 0) {
        consumer_ticket_take(t);
        free(t);
        return rv;
    }
    q->busy = true;
    return 0;
}

static void find_start(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    if (cons->model == TERN_BROADCASTING) {
        int64_t off = consumer_boffset_get(cons, q->broker, q->qid);
        if (off >= 0) {
            start_at(q, off);
            return;
        }
        if (cons->from == TERN_FROM_FIRST) {
            start_at(q, 0);
            return;
        }
        if (offset_request(q, cons->from == TERN_FROM_TIMESTAMP ? CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP
                                                                : CODES_REQ_GET_MAX_OFFSET) != 0)
            pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    if (offset_request(q, CODES_REQ_QUERY_CONSUMER_OFFSET) != 0)
        pause_for(q, CQ_ERROR_PAUSE_MS);
}

/* ---- delivery ------------------------------------------------------------------------ */

static void pull(struct cqueue *q);

/* Hand pending messages to the callback. Returns when they are all
 * consumed (then pulls again), on RETRY_LATER, or when the consumer closes
 * or drops the queue from inside the callback. */
static void deliver(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    struct rmsg_batch *b = q->pending;
    /* The callback may close the consumer; q itself stays alive while
     * in_deliver > 0 because rebalances do not run from inside callbacks. */
    cons->in_deliver++;
    while (b && b->next < b->n && !cons->closing) {
        size_t k = b->n - b->next;
        if (k > cons->batch_max)
            k = cons->batch_max;
        if (cons->orderly && !orderly_may_consume(q, clock_mono_ms())) {
            q->state = CQ_WAIT; /* the lock lapsed: wait for a renewal */
            cons->in_deliver--;
            return;
        }
        int rv = cons->cb(b->ptrs + b->next, k, cons->arg);
        if (rv == TERN_CONSUME_SUSPEND) {
            /* Not consumed, not failed: the same messages again later. */
            q->state = CQ_WAIT;
            pause_for(q, cons->retry_delay_ms);
            cons->in_deliver--;
            return;
        }
        if (cons->orderly && orderly_consumed(q, rv, k)) {
            cons->in_deliver--;
            return;
        }
        if (rv == TERN_CONSUME_RETRY_LATER && cons->use_retry) {
            retryback_start(q, k);
            cons->in_deliver--;
            return;
        }
        if (rv == TERN_CONSUME_RETRY_LATER) {
            q->state = CQ_WAIT;
            pause_for(q, cons->retry_delay_ms);
            cons->in_deliver--;
            return;
        }
        b->next += k;
        q->consumed = b->msgs[b->next - 1].st.queue_offset + 1;
    }
    bool closing = cons->closing;
    if (b && b->next >= b->n) {
        if (b->next_offset > q->consumed)
            q->consumed = b->next_offset;
        rmsg_batch_free(b);
        free(b);
        q->pending = NULL;
        q->state = CQ_READY;
    }
    cons->in_deliver--;
    /* A close requested from the callback completes on the next tick. */
    if (closing)
        return;
    if (!q->pending)
        pull(q);
}

/* ---- pulls -------------------------------------------------------------------------- */

static void pull_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct cqueue *q = t->q;
    free(t);
    if (!q)
        return;
    q->busy = false;
    struct tern_consumer *cons = q->cons;
    if (cons->closing)
        return;
    if (status != 0) {
        LOGD("client", "queue %s/%d: pull: %s", q->broker, q->qid, errmsg);
        if (q->pull_from) {
            /* A suggested member that fails: back to the master, and not
             * that member again for a while even if suggested (the
             * broker's view of it may lag). */
            q->shun = q->pull_from;
            q->shun_until = clock_mono_ms() + CQ_SHUN_MS;
            q->pull_from = 0;
        }
        if (cons->orderly && status != TERN_E_TIMEOUT)
            orderly_broker_trouble(cons);
        pause_for(q, status == TERN_E_TIMEOUT ? 0 : CQ_ERROR_PAUSE_MS);
        return;
    }
    int code = resp->code;
    struct headers_pull_resp h;
    char e[ERRMSG_SIZE];
    bool have_h = headers_pull_resp_decode(&h, resp, &limits_default, e) == 0;
    int64_t from = have_h && h.suggest_which_broker_id > 0 ? h.suggest_which_broker_id : 0;
    if (from != q->pull_from)
        LOGI("client", "queue %s/%d: pulls go to %s%lld, as the broker suggests", q->broker, q->qid,
             from ? "member " : "the master, brokerId ", (long long)from);
    q->pull_from = from;
    switch (code) {
    case CODES_RESP_SUCCESS: {
        if (!have_h)
            break;
        struct rmsg_batch *b = calloc(1, sizeof *b);
        if (!b) {
            pause_for(q, CQ_ERROR_PAUSE_MS);
            return;
        }
        /* A retry queue is subscribed with "*": what failed is retried
         * whatever its tag (it matched the filter when first pulled). */
        int rv = rmsg_batch_decode(b, (const uint8_t *)resp->body.p, resp->body.len, q->broker,
                                   q->retry ? NULL : &cons->tags, e);
        if (rv != 0) {
            LOGW("client", "queue %s/%d: pull body: %s", q->broker, q->qid, e);
            rmsg_batch_free(b);
            free(b);
            pause_for(q, CQ_SLOW_PAUSE_MS);
            return;
        }
        if (q->retry)
            retryback_reset_topics(b);
        b->next_offset = h.next_begin_offset;
        q->next_pull = h.next_begin_offset;
        q->pending = b;
        deliver(q);
        return;
    }
    case CODES_RESP_PULL_NOT_FOUND:
    case CODES_RESP_PULL_RETRY_IMMEDIATELY:
        if (!have_h)
            break;
        q->next_pull = h.next_begin_offset;
        if (!q->pending)
            q->consumed = h.next_begin_offset;
        if (code == CODES_RESP_PULL_RETRY_IMMEDIATELY)
            pull(q);
        else
            q->due = clock_mono_ms(); /* next tick: a broker that does not hold cannot spin us */
        return;
    case CODES_RESP_PULL_OFFSET_MOVED:
        if (!have_h)
            break;
        LOGI("client", "queue %s/%d: offset %lld moved to %lld", q->broker, q->qid,
             (long long)q->next_pull, (long long)h.next_begin_offset);
        q->next_pull = h.next_begin_offset;
        q->consumed = h.next_begin_offset;
        cqueue_commit(q, false);
        q->due = clock_mono_ms();
        return;
    case CODES_RESP_SUBSCRIPTION_NOT_EXIST:
    case CODES_RESP_SUBSCRIPTION_NOT_LATEST: {
        const char *addr = master(q);
        if (addr)
            libtern_heartbeat(cons->c, addr);
        pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    default:
        break;
    }
    LOGD("client", "queue %s/%d: pull answered %d %.*s", q->broker, q->qid, code,
         (int)resp->remark.len, resp->remark.p ? resp->remark.p : "");
    pause_for(q, CQ_SLOW_PAUSE_MS);
}

static void pull(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    struct tern_client *c = cons->c;
    if (q->busy || cons->closing || q->state != CQ_READY)
        return;
    if (cons->orderly && !orderly_may_consume(q, clock_mono_ms()))
        return; /* the tick pulls once the lock is ours */
    const char *addr = pull_addr(q);
    if (!addr) {
        if (cons->orderly)
            orderly_broker_trouble(cons);
        pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    int32_t flags = HEADERS_PULL_FLAG_SUSPEND | HEADERS_PULL_FLAG_SUBSCRIPTION;
    if (cons->model == TERN_CLUSTERING && q->consumed > 0)
        flags |= HEADERS_PULL_FLAG_COMMIT_OFFSET;
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {
        .consumer_group = slice_of(cons->group),
        .topic = slice_of(q->topic),
        .queue_id = q->qid,
        .queue_offset = q->next_pull,
        .max_msg_nums = cons->pull_batch,
        .sys_flag = flags,
        .commit_offset = q->consumed > 0 ? q->consumed : 0,
        .suspend_timeout_millis = cons->suspend_ms,
        .subscription = slice_of(cons->tags.all || q->retry ? "*" : cons->expr),
        .sub_version = cons->sub_version,
        .expression_type = slice_of("TAG"),
    };
    struct ticket *t = consumer_ticket(cons, q);
    if (!t || headers_pull_req_encode(&h, cmd) != 0 ||
        peer_call(c, addr, cmd, NULL, 0, cons->suspend_ms + 15000, pull_done, t) != 0) {
        if (t) {
            consumer_ticket_take(t);
            free(t);
        }
        pause_for(q, CQ_ERROR_PAUSE_MS);
        return;
    }
    q->busy = true;
}

void cqueue_tick(struct cqueue *q, int64_t now)
{
    if (q->busy || now < q->due)
        return;
    if (q->cons->orderly && !orderly_may_consume(q, now))
        return;
    switch (q->state) {
    case CQ_INIT:
        find_start(q);
        break;
    case CQ_READY:
        pull(q);
        break;
    case CQ_WAIT:
        q->state = CQ_READY;
        deliver(q);
        break;
    case CQ_SENDBACK:
        orderly_sendback(q);
        break;
    case CQ_RETRYBACK:
        retryback_send(q);
        break;
    }
}

void cqueue_reset(struct cqueue *q)
{
    consumer_detach_queue(q->cons, q);
    if (q->pending) {
        rmsg_batch_free(q->pending);
        free(q->pending);
        q->pending = NULL;
    }
    q->busy = false;
    q->state = CQ_INIT;
    q->consumed = -1;
    q->committed = -1;
    q->next_pull = -1;
    q->attempts = 0;
    q->due = clock_mono_ms();
}
