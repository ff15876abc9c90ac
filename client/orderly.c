/* Orderly consumption: queue locks and in-place retries (RocketMQ's
 * ConsumeMessageOrderlyService and RebalanceImpl.lock/unlock).
 *
 * Happy path: a rebalance gives the consumer its queues -> one
 * LOCK_BATCH_MQ per broker asks for all of them -> granted queues may pull
 * and deliver for ORDERLY_LOCK_LIVE_MS after the request was sent -> every
 * ORDERLY_LOCK_MS the locks are renewed -> a queue rebalanced away has its
 * offset committed and then its lock released (UNLOCK_BATCH_MQ on the same
 * connection, so the broker orders the commit before the release).
 * Failure modes: a queue not granted (another member still holds it) is
 * asked for again every second; a lock that is refused after having been
 * ours, or that lapsed client-side, restarts the queue from its committed
 * offset once granted again (someone else may have consumed meanwhile); a
 * failed lock request retries in a second and refreshes the route (the
 * broker group may have a new leader). A batch the callback fails
 * max_reconsume times goes message by message to the dead-letter queue
 * (CONSUMER_SEND_MSG_BACK, delayLevel -1); until the broker accepts, the
 * send-back is retried every retry_delay_ms and the queue does not move. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/consumer.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/lockbody.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define ORDERLY_LOCK_MS 20000      /* renewal period (RocketMQ: 20 s) */
#define ORDERLY_LOCK_RETRY_MS 1000 /* while some owned queue is not locked */
#define ORDERLY_LOCK_LIVE_MS 30000 /* client-side validity (broker: 60 s) */
#define ORDERLY_MAX_MQS 1024

bool orderly_may_consume(const struct cqueue *q, int64_t now)
{
    return q->locked && now < q->lock_until;
}

static const char *broker_addr(struct tern_consumer *cons, const char *broker)
{
    struct routes_topic *r = routes_find(cons->c, cons->topic);
    return r ? routes_master(r, broker) : NULL;
}

/* ---- lock rounds ---------------------------------------------------------------- */

struct lockcall {
    struct ticket *t;
    uint64_t gen;
    int64_t sent; /* monotonic ms */
    char broker[LIBTERN_NAME_MAX];
};

static void lock_retry_soon(struct tern_consumer *cons, int64_t now)
{
    if (cons->next_lock > now + ORDERLY_LOCK_RETRY_MS)
        cons->next_lock = now + ORDERLY_LOCK_RETRY_MS;
}

/* The broker group may have a new leader (or the route none yet): rebalance
 * soon, which fetches the route again once it is 2 s old. */
static void route_refresh_soon(struct tern_consumer *cons, int64_t now)
{
    if (cons->next_rebalance > now + ORDERLY_LOCK_RETRY_MS)
        cons->next_rebalance = now + ORDERLY_LOCK_RETRY_MS;
}

static void lock_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct lockcall *lc = arg;
    if (!consumer_ticket_take(lc->t)) {
        free(lc);
        return;
    }
    struct tern_consumer *cons = lc->t->cons;
    free(lc->t);
    int64_t now = clock_mono_ms();
    if (cons->closing) {
        free(lc);
        return;
    }
    struct buf arena;
    buf_init(&arena);
    struct lockbody_mq *ok = NULL;
    size_t nok = 0;
    char e[ERRMSG_SIZE];
    if (status != 0 || resp->code != CODES_RESP_SUCCESS ||
        lockbody_ok_decode(resp->body.p, resp->body.len, &ok, &nok, &arena, e) != 0) {
        LOGI("client", "consumer %s: lock on %s: %s", cons->group, lc->broker,
             status ? errmsg : resp->code != CODES_RESP_SUCCESS ? "refused" : e);
        /* Keep what we hold until it lapses; ask again (maybe at a new
         * leader: the rebalance refreshes the route). */
        lock_retry_soon(cons, now);
        route_refresh_soon(cons, now);
        buf_free(&arena);
        free(lc);
        return;
    }
    for (struct cqueue *q = cons->queues; q; q = q->next) {
        if (q->lock_gen != lc->gen || strcmp(q->broker, lc->broker) != 0)
            continue;
        bool granted = false;
        for (size_t i = 0; i < nok && !granted; i++)
            granted = ok[i].queue_id == q->qid && strcmp(ok[i].topic, cons->topic) == 0;
        if (granted) {
            if (!orderly_may_consume(q, now) && q->state != CQ_INIT) {
                /* Ours again after a lapse: others may have consumed. */
                LOGI("client", "consumer %s: queue %s/%d relocked after a lapse, restarting at the committed offset",
                     cons->group, q->broker, q->qid);
                cqueue_reset(q);
            }
            if (!q->locked)
                LOGD("client", "consumer %s: queue %s/%d locked", cons->group, q->broker, q->qid);
            q->locked = true;
            q->lock_until = lc->sent + ORDERLY_LOCK_LIVE_MS;
        } else {
            if (q->locked) {
                LOGI("client", "consumer %s: queue %s/%d: lock lost", cons->group, q->broker, q->qid);
                cqueue_reset(q);
            }
            q->locked = false;
            lock_retry_soon(cons, now);
        }
    }
    buf_free(&arena);
    free(lc);
}

static void lock_broker(struct tern_consumer *cons, const char *broker, struct lockbody_mq *mqs, size_t n,
                        int64_t now)
{
    const char *addr = broker_addr(cons, broker);
    struct lockcall *lc = calloc(1, sizeof *lc);
    struct buf body;
    buf_init(&body);
    struct lockbody_req req = {cons->group, cons->c->id, true, mqs, n};
    if (!addr || !lc || lockbody_req_encode(&req, &body) != 0 || !(lc->t = consumer_ticket(cons, NULL)))
        goto fail;
    lc->gen = cons->lock_gen;
    lc->sent = now;
    snprintf(lc->broker, sizeof lc->broker, "%s", broker);
    struct remoting_cmd *cmd = libtern_cmd(cons->c, CODES_REQ_LOCK_BATCH_MQ);
    struct iovec iov = {body.data, body.len};
    if (peer_call(cons->c, addr, cmd, &iov, 1, cons->c->timeout_ms, lock_done, lc) != 0) {
        consumer_ticket_take(lc->t);
        free(lc->t);
        goto fail;
    }
    buf_free(&body);
    return;
fail:
    free(lc);
    buf_free(&body);
    lock_retry_soon(cons, now);
    if (!addr)
        route_refresh_soon(cons, now); /* no leader in the route (yet) */
}

void orderly_tick(struct tern_consumer *cons, int64_t now)
{
    if (!cons->orderly || now < cons->next_lock || !cons->queues)
        return;
    cons->next_lock = now + ORDERLY_LOCK_MS;
    cons->lock_gen++;
    struct lockbody_mq mqs[ORDERLY_MAX_MQS];
    /* Queues are sorted by broker: one request per run of a broker. */
    for (struct cqueue *q = cons->queues; q;) {
        const char *broker = q->broker;
        size_t n = 0;
        for (; q && strcmp(q->broker, broker) == 0; q = q->next) {
            if (n < ORDERLY_MAX_MQS) {
                mqs[n++] = (struct lockbody_mq){cons->topic, q->broker, q->qid};
                q->lock_gen = cons->lock_gen;
            }
        }
        lock_broker(cons, broker, mqs, n, now);
    }
}

void orderly_broker_trouble(struct tern_consumer *cons)
{
    int64_t now = clock_mono_ms();
    lock_retry_soon(cons, now);
    route_refresh_soon(cons, now);
}

void orderly_unlock(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    if (!cons->orderly || q->lock_gen == 0)
        return;
    q->locked = false;
    const char *addr = broker_addr(cons, q->broker);
    if (!addr)
        return; /* the broker lets it lapse after 60 s */
    struct lockbody_mq mq = {cons->topic, q->broker, q->qid};
    struct lockbody_req req = {cons->group, cons->c->id, true, &mq, 1};
    struct buf body;
    buf_init(&body);
    if (lockbody_req_encode(&req, &body) == 0) {
        struct remoting_cmd *cmd = libtern_cmd(cons->c, CODES_REQ_UNLOCK_BATCH_MQ);
        struct iovec iov = {body.data, body.len};
        if (peer_oneway(cons->c, addr, cmd, &iov, 1) == 0)
            LOGD("client", "consumer %s: queue %s/%d unlocked", cons->group, q->broker, q->qid);
    }
    buf_free(&body);
}

/* ---- retries in place and the dead-letter queue ------------------------------- */

bool orderly_consumed(struct cqueue *q, int rv, size_t k)
{
    struct tern_consumer *cons = q->cons;
    if (rv != TERN_CONSUME_RETRY_LATER) {
        q->attempts = 0;
        return false;
    }
    q->attempts++;
    if (cons->max_reconsume < 0 || q->attempts <= cons->max_reconsume) {
        /* SUSPEND_CURRENT_QUEUE_A_MOMENT: the same batch again, nothing after it. */
        q->state = CQ_WAIT;
        q->due = clock_mono_ms() + cons->retry_delay_ms;
        return true;
    }
    LOGW("client", "consumer %s: queue %s/%d: %zu message(s) failed %d times, sending to the dead-letter queue",
         cons->group, q->broker, q->qid, k, q->attempts);
    q->state = CQ_SENDBACK;
    q->sb_refused = false;
    q->sb_next = q->pending->next;
    q->sb_end = q->pending->next + k;
    q->due = clock_mono_ms();
    return true;
}

static void sendback_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
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
    if (cons->closing || q->state != CQ_SENDBACK)
        return;
    if (status != 0 || resp->code != CODES_RESP_SUCCESS) {
        if (q->sb_refused) {
            q->due = clock_mono_ms() + cons->retry_delay_ms;
            return;
        }
        q->sb_refused = true;
        LOGW("client", "consumer %s: queue %s/%d: dead-letter send-back: %s%.*s; retrying every %lld ms", cons->group, q->broker,
             q->qid, status ? errmsg : "refused: ", status ? 0 : (int)resp->remark.len,
             status ? "" : resp->remark.p ? resp->remark.p : "", (long long)cons->retry_delay_ms);
        q->due = clock_mono_ms() + cons->retry_delay_ms;
        return;
    }
    q->sb_next++;
    if (q->sb_next < q->sb_end) {
        q->due = clock_mono_ms();
        return;
    }
    /* The whole batch is dead-lettered: consumed, move on. */
    struct rmsg_batch *b = q->pending;
    b->next = q->sb_end;
    q->consumed = b->msgs[b->next - 1].st.queue_offset + 1;
    q->attempts = 0;
    q->state = CQ_WAIT; /* deliver the rest from the next tick */
    q->due = clock_mono_ms();
}

void orderly_sendback(struct cqueue *q)
{
    struct tern_consumer *cons = q->cons;
    struct tern_client *c = cons->c;
    const struct tern_msg *m = q->pending->ptrs[q->sb_next];
    const char *addr = broker_addr(cons, q->broker);
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_CONSUMER_SEND_MSG_BACK);
    struct headers_client_sendback_req h = {
        .offset = m->st.physical_offset,
        .group = slice_of(cons->group),
        .delay_level = -1, /* straight to %DLQ%group */
        .origin_msg_id = slice_of(m->uniq ? m->uniq : m->offset_id),
        .origin_topic = slice_of(cons->topic),
        .has_max_reconsume_times = true,
        .max_reconsume_times = cons->max_reconsume,
        .bname = slice_of(q->broker),
    };
    struct ticket *t = addr ? consumer_ticket(cons, q) : NULL;
    if (!t || headers_client_sendback_req_encode(&h, cmd) != 0 ||
        peer_call(c, addr, cmd, NULL, 0, c->timeout_ms, sendback_done, t) != 0) {
        if (t) {
            consumer_ticket_take(t);
            free(t);
        }
        q->due = clock_mono_ms() + cons->retry_delay_ms;
        return;
    }
    q->busy = true;
}
