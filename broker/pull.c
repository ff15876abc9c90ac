/* Pulls: PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling.
 *
 * Happy path: validate the request, resolve the tag filter (from the request
 * or from the group's heartbeat), commit the consumer's offset if asked,
 * read up to maxMsgNums / maxMsgBytes stored-format records from the
 * partition and answer FOUND with them concatenated as the body. A pull that
 * finds nothing new at the end of the queue and may be suspended is held:
 * the reply is kept (rpc_reply_hold) with a copy of what a re-run needs,
 * keyed by partition, until the store reports new visible data
 * (pull_notify) or the hold time runs out; then the read runs again and the
 * answer goes out.
 * Failure modes: bad requests get the stock codes (TOPIC_NOT_EXIST,
 * NO_PERMISSION, INVALID_PARAMETER, SUBSCRIPTION_*); a damaged unit or a
 * read error gets SYSTEM_ERROR naming the offset (never skipped: the client
 * retries and the operator sees the log); a held pull whose connection
 * closed is dropped when it would be answered; at shutdown every held pull
 * is answered PULL_NOT_FOUND (or dropped if its connection is gone).
 * Expiry: one uv_timer armed for the earliest deadline of a min-heap.
 *
 * Limits (ours; ROCKETMQ-PROTOCOL.md §4.3 notes they are not protocol): at
 * most PULL_MAX_MSGS (1024) messages per pull, where stock brokers give 32
 * from memory, because lite and batch consumers ask for more; maxMsgBytes
 * defaults to 256 KiB as in stock and is capped at PULL_MAX_BYTES (4 MiB);
 * the first message is always returned even if it alone exceeds the byte
 * limit, so a large message cannot wedge a queue. Holds last at most
 * PULL_MAX_HOLD_MS (25 s), under the client's 30 s socket timeout for
 * suspended pulls; at most PULL_MAX_HOLDS are held, beyond that a pull is
 * answered PULL_NOT_FOUND at once (the client simply pulls again).
 *
 * Held pulls and filters: when new data arrives but none of it matches a
 * held pull's filter, the pull stays held with its offset moved past the
 * scanned messages (as RocketMQ's PullRequestHoldService keeps a request
 * whose filter rejects the arrival); at the deadline it is answered from its
 * advanced offset.
 *
 * Followers (Raft members that are not the ready leader) serve pulls too,
 * from their partition logs, whose visible end is the applied end: entries
 * are applied only once committed, so nothing past the commit index is ever
 * returned. A follower answers suggestWhichBrokerId with its own member id
 * (the leader with 0), so a client that chose it keeps pulling there. A
 * follower that has not applied up to the requested offset yet answers
 * PULL_NOT_FOUND with the requested offset as nextBeginOffset (held like any
 * pull at the end), never OFFSET_MOVED: the consumer's position is ahead of
 * this replica, not wrong (stock slaves with offsetCheckInSlave=false keep
 * the offset alike). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "broker/broker.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/tags.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define PULL_MAX_MSGS 1024
#define PULL_DEFAULT_BYTES (256u << 10)
#define PULL_MAX_BYTES (4u << 20)
#define PULL_MAX_HOLD_MS 25000
#define PULL_MAX_HOLDS 65536
#define PULL_POOL_MAX 1024
/* Filtered reads that match nothing continue from where the store stopped
 * (a segment end or its scan budget) this many times before answering
 * NO_MATCHED_MSG, to save round trips on sparse tags. */
#define PULL_SCAN_ROUNDS 8
/* rpc_send takes up to 8 body iovecs; more messages are copied into one buffer. */
#define PULL_IOV_MAX 8
#define PULL_GROUP_MAX 255

/* A copy of the tag codes a pull filters on (the parsed expression points
 * into a frame or the client table, neither of which outlives a hold). */
struct pull_filter {
    bool all;
    uint32_t count;
    int32_t codes[TAGS_MAX];
};

struct pullq;

/* A suspended pull. */
struct held {
    struct rpc_reply reply;
    struct partlog *pl;
    struct pullq *q;
    struct held *prev, *next; /* the partition's list */
    size_t heap_at;
    uint64_t deadline; /* uv_now() ms */
    uint64_t offset;   /* where the re-run reads from */
    uint32_t max_msgs;
    uint32_t max_bytes;
    struct pull_filter filter;
    struct held *next_free;
};

/* Held pulls of one partition. */
struct pullq {
    uint32_t part_id;
    struct held *head;
    UT_hash_handle hh;
};

struct pullhold {
    struct broker *b;
    uv_timer_t timer;
    /* Min-heap by deadline: the timer is armed for heap[0]. */
    struct held **heap;
    size_t nheap, capheap;
    struct pullq *queues;
    struct held *pool;
    size_t npool;
    /* Reused by every read and response: no allocation per pull. */
    struct partlog_readbuf rb;
    struct partlog_msg *msgs;
    struct buf body;
    struct remoting_cmd resp;
};

struct pull_args {
    struct partlog *pl;
    uint64_t offset;
    uint32_t max_msgs;
    uint32_t max_bytes;
    const struct pull_filter *filter;
};

struct pull_result {
    int code;
    uint32_t part_id; /* salt of the follower-read choice */
    uint64_t next, min, max;
    uint32_t n;
    bool end_reached; /* NO_MATCHED_MSG: the scan reached the visible end */
    char remark[ERRMSG_SIZE + 96];
};

/* ---- reading ---- */

static bool filter_match_cb(uint64_t tag_hash, void *arg)
{
    const struct pull_filter *f = arg;
    /* The store keeps the Java hashCode zero-extended; compare as int32. */
    int32_t code = (int32_t)(uint32_t)tag_hash;
    for (uint32_t i = 0; i < f->count; i++)
        if (f->codes[i] == code)
            return true;
    return false;
}

/* Status and nextBeginOffset per ROCKETMQ-PROTOCOL.md §4.3 (master). */
static void run_pull(struct pullhold *ph, const struct pull_args *a, struct pull_result *r)
{
    struct partlog *pl = a->pl;
    uint64_t min = partlog_min_offset(pl), max = partlog_end_offset(pl);
    r->part_id = partlog_id(pl);
    r->min = min;
    r->max = max;
    r->n = 0;
    r->end_reached = false;
    if (a->offset > max && grouprepl_enabled(ph->b) && !grouprepl_writable(ph->b)) {
        r->code = CODES_RESP_PULL_NOT_FOUND;
        r->next = a->offset;
        snprintf(r->remark, sizeof r->remark, "OFFSET_OVERFLOW_BADLY on a follower: applied up to %" PRIu64, max);
        return;
    }
    if (max == 0) {
        r->code = a->offset != 0 ? CODES_RESP_PULL_OFFSET_MOVED : CODES_RESP_PULL_NOT_FOUND;
        r->next = 0;
        snprintf(r->remark, sizeof r->remark, "NO_MESSAGE_IN_QUEUE");
        return;
    }
    if (a->offset < min) {
        r->code = CODES_RESP_PULL_OFFSET_MOVED;
        r->next = min;
        snprintf(r->remark, sizeof r->remark, "OFFSET_TOO_SMALL");
        return;
    }
    if (a->offset == max) {
        r->code = CODES_RESP_PULL_NOT_FOUND;
        r->next = a->offset;
        snprintf(r->remark, sizeof r->remark, "OFFSET_OVERFLOW_ONE");
        return;
    }
    if (a->offset > max) {
        r->code = CODES_RESP_PULL_OFFSET_MOVED;
        r->next = max;
        snprintf(r->remark, sizeof r->remark, "OFFSET_OVERFLOW_BADLY");
        return;
    }
    struct partlog_filter pf = {filter_match_cb, (void *)a->filter};
    const struct partlog_filter *fp = a->filter && !a->filter->all ? &pf : NULL;
    struct partlog_read_result rr;
    uint64_t at = a->offset;
    for (int round = 0;; round++) {
        int rv = partlog_read(pl, at, a->max_msgs, a->max_bytes, fp, &ph->rb, ph->msgs, &rr);
        if (rv == TERN_E_RANGE) {
            /* Retention moved the start under the scan. */
            r->code = CODES_RESP_PULL_OFFSET_MOVED;
            r->next = rr.min_offset;
            r->min = rr.min_offset;
            snprintf(r->remark, sizeof r->remark, "OFFSET_TOO_SMALL");
            return;
        }
        if (rv != 0) {
            /* Not skipped: the consumer retries and the operator sees why. */
            r->code = CODES_RESP_SYSTEM_ERROR;
            r->next = a->offset;
            snprintf(r->remark, sizeof r->remark, "read %s at offset %" PRIu64 " failed (%s): %s",
                     partlog_dir(pl), rr.next_offset, tern_err_name(rv), partlog_errmsg(pl));
            LOGE("pull", "%s", r->remark);
            return;
        }
        if (rr.n > 0) {
            r->code = CODES_RESP_SUCCESS;
            r->n = rr.n;
            r->next = rr.next_offset;
            snprintf(r->remark, sizeof r->remark, "FOUND");
            return;
        }
        if (rr.end_reached || rr.next_offset <= at || round + 1 == PULL_SCAN_ROUNDS)
            break;
        at = rr.next_offset;
    }
    if (rr.next_offset <= a->offset) {
        /* The store made no progress without an error: never answer an
         * offset that would make the client spin on the same spot silently. */
        r->code = CODES_RESP_SYSTEM_ERROR;
        r->next = a->offset;
        snprintf(r->remark, sizeof r->remark, "read %s at offset %" PRIu64 " returned nothing", partlog_dir(pl),
                 a->offset);
        LOGE("pull", "%s", r->remark);
        return;
    }
    r->code = CODES_RESP_PULL_RETRY_IMMEDIATELY;
    r->next = rr.next_offset;
    r->end_reached = rr.end_reached;
    snprintf(r->remark, sizeof r->remark, "NO_MATCHED_MESSAGE");
}

/* suggestWhichBrokerId. Without slaveReadEnable a follower names itself,
 * so a client that chose it keeps pulling there, and the leader 0. With it
 * (RocketMQ's slave reads), while the consumer is more than followerReadLag
 * behind after this answer the leader names a follower that keeps up and a
 * follower names itself; once it is closer, every member names the leader
 * (0). A backlog then drains from a follower while the leader keeps its
 * loop for writes and live readers. */
static int64_t suggest_member(struct pullhold *ph, const struct pull_result *r)
{
    struct broker *b = ph->b;
    if (!grouprepl_enabled(b))
        return 0;
    if (!b->conf.slave_read_enable)
        return grouprepl_member_id(b);
    uint64_t behind = r->max > r->next ? r->max - r->next : 0;
    if (behind <= (uint64_t)b->conf.follower_read_lag)
        return 0;
    return grouprepl_writable(b) ? grouprepl_read_member(b, r->part_id) : grouprepl_member_id(b);
}

/* Answer with r: on rc for a request being handled (h == NULL, req set), or
 * through the held reply h. */
static void respond(struct pullhold *ph, struct rpc_conn *rc, const struct remoting_cmd *req, struct held *h,
                    const struct pull_result *r)
{
    struct remoting_cmd *resp = &ph->resp;
    int rv = h ? rpc_reply_begin(&h->reply, resp, r->code, r->remark)
               : remoting_cmd_init_response(resp, req, r->code, r->remark);
    if (rv == 0) {
        struct headers_pull_resp hr = {
            .suggest_which_broker_id = suggest_member(ph, r),
            .next_begin_offset = (int64_t)r->next,
            .min_offset = (int64_t)r->min,
            .max_offset = (int64_t)r->max,
        };
        rv = headers_pull_resp_encode(&hr, resp);
    }
    struct iovec iov[PULL_IOV_MAX];
    int iovcnt = 0;
    if (rv == 0 && r->n > 0 && r->n <= PULL_IOV_MAX) {
        for (uint32_t i = 0; i < r->n; i++)
            iov[iovcnt++] = (struct iovec){(void *)ph->msgs[i].data, ph->msgs[i].len};
    } else if (rv == 0 && r->n > 0) {
        buf_reset(&ph->body);
        for (uint32_t i = 0; i < r->n; i++)
            buf_append(&ph->body, ph->msgs[i].data, ph->msgs[i].len);
        rv = ph->body.err;
        iov[iovcnt++] = (struct iovec){ph->body.data, ph->body.len};
    }
    if (rv != 0) {
        LOGE("pull", "build pull response: %s", tern_strerror(rv));
        if (h) {
            if (rpc_reply_begin(&h->reply, resp, CODES_RESP_SYSTEM_ERROR, "out of memory") == 0)
                rpc_reply_finish(&h->reply, resp, NULL, 0);
            else
                rpc_reply_drop(&h->reply);
        } else {
            rpc_respond_simple(rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        }
        return;
    }
    if (h)
        rpc_reply_finish(&h->reply, resp, iov, iovcnt); /* TERN_E_CLOSED: the consumer left; nothing to do */
    else if (!remoting_is_oneway(req))
        rpc_send(rc, resp, iov, iovcnt);
}

/* ---- holds ---- */

static void heap_swap(struct pullhold *ph, size_t i, size_t j)
{
    struct held *t = ph->heap[i];
    ph->heap[i] = ph->heap[j];
    ph->heap[j] = t;
    ph->heap[i]->heap_at = i;
    ph->heap[j]->heap_at = j;
}

static void heap_up(struct pullhold *ph, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (ph->heap[p]->deadline <= ph->heap[i]->deadline)
            break;
        heap_swap(ph, i, p);
        i = p;
    }
}

static void heap_down(struct pullhold *ph, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < ph->nheap && ph->heap[l]->deadline < ph->heap[m]->deadline)
            m = l;
        if (r < ph->nheap && ph->heap[r]->deadline < ph->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(ph, i, m);
        i = m;
    }
}

static void heap_remove(struct pullhold *ph, struct held *h)
{
    size_t i = h->heap_at;
    ph->nheap--;
    if (i != ph->nheap) {
        ph->heap[i] = ph->heap[ph->nheap];
        ph->heap[i]->heap_at = i;
        heap_down(ph, i);
        heap_up(ph, i);
    }
}

static void timer_cb(uv_timer_t *t);

static void arm_timer(struct pullhold *ph)
{
    if (ph->nheap == 0) {
        uv_timer_stop(&ph->timer);
        return;
    }
    uint64_t now = uv_now(ph->b->loop), due = ph->heap[0]->deadline;
    uv_timer_start(&ph->timer, timer_cb, due > now ? due - now : 0, 0);
}

/* Take h out of the heap and its partition's list. */
static void unhold(struct pullhold *ph, struct held *h)
{
    heap_remove(ph, h);
    if (h->prev)
        h->prev->next = h->next;
    else
        h->q->head = h->next;
    if (h->next)
        h->next->prev = h->prev;
    h->prev = h->next = NULL;
}

static void held_put(struct pullhold *ph, struct held *h)
{
    rpc_reply_drop(&h->reply); /* no-op once answered */
    if (ph->npool >= PULL_POOL_MAX) {
        free(h);
        return;
    }
    h->next_free = ph->pool;
    ph->pool = h;
    ph->npool++;
}

/* Suspend the pull in a. Returns 0, or TERN_E_BUSY / TERN_E_NOMEM (the
 * caller answers at once instead). */
static int hold(struct pullhold *ph, struct rpc_conn *rc, const struct remoting_cmd *req, const struct pull_args *a,
                uint64_t timeout_ms)
{
    if (ph->nheap >= PULL_MAX_HOLDS)
        return TERN_E_BUSY;
    if (ph->nheap == ph->capheap) {
        size_t cap = ph->capheap ? ph->capheap * 2 : 64;
        struct held **heap = realloc(ph->heap, cap * sizeof *heap);
        if (!heap)
            return TERN_E_NOMEM;
        ph->heap = heap;
        ph->capheap = cap;
    }
    uint32_t id = partlog_id(a->pl);
    struct pullq *q;
    HASH_FIND(hh, ph->queues, &id, sizeof id, q);
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return TERN_E_NOMEM;
        q->part_id = id;
        HASH_ADD(hh, ph->queues, part_id, sizeof q->part_id, q);
    }
    struct held *h = ph->pool;
    if (h) {
        ph->pool = h->next_free;
        ph->npool--;
    } else if (!(h = malloc(sizeof *h))) {
        return TERN_E_NOMEM;
    }
    memset(h, 0, sizeof *h);
    h->pl = a->pl;
    h->q = q;
    h->offset = a->offset;
    h->max_msgs = a->max_msgs;
    h->max_bytes = a->max_bytes;
    h->filter = *a->filter;
    h->deadline = uv_now(ph->b->loop) + timeout_ms;
    rpc_reply_hold(&h->reply, rc, req);
    h->next = q->head;
    if (q->head)
        q->head->prev = h;
    q->head = h;
    h->heap_at = ph->nheap;
    ph->heap[ph->nheap++] = h;
    heap_up(ph, h->heap_at);
    if (h->heap_at == 0)
        arm_timer(ph);
    return 0;
}

static void held_args(const struct held *h, struct pull_args *a)
{
    a->pl = h->pl;
    a->offset = h->offset;
    a->max_msgs = h->max_msgs;
    a->max_bytes = h->max_bytes;
    a->filter = &h->filter;
}

static void timer_cb(uv_timer_t *t)
{
    struct pullhold *ph = t->data;
    uint64_t now = uv_now(ph->b->loop);
    while (ph->nheap > 0 && ph->heap[0]->deadline <= now) {
        struct held *h = ph->heap[0];
        unhold(ph, h);
        if (h->reply.rc && !h->reply.rc->closed) {
            /* Answer whatever a re-run finds now (PULL_NOT_FOUND normally). */
            struct pull_args a;
            struct pull_result r;
            held_args(h, &a);
            run_pull(ph, &a, &r);
            respond(ph, NULL, NULL, h, &r);
        }
        held_put(ph, h);
    }
    arm_timer(ph);
}

void pull_notify(struct broker *b, struct partlog *pl, uint64_t new_end)
{
    struct pullhold *ph = b->hold;
    if (!ph || !ph->queues)
        return;
    uint32_t id = partlog_id(pl);
    struct pullq *q;
    HASH_FIND(hh, ph->queues, &id, sizeof id, q);
    if (!q)
        return;
    struct held *nx;
    for (struct held *h = q->head; h; h = nx) {
        nx = h->next;
        if (!h->reply.rc || h->reply.rc->closed) {
            unhold(ph, h);
            held_put(ph, h);
            continue;
        }
        if (new_end == h->offset)
            continue; /* nothing new for this one */
        struct pull_args a;
        struct pull_result r;
        held_args(h, &a);
        run_pull(ph, &a, &r);
        if (r.code == CODES_RESP_PULL_NOT_FOUND)
            continue;
        if (r.code == CODES_RESP_PULL_RETRY_IMMEDIATELY && r.end_reached) {
            h->offset = r.next; /* nothing matched up to the end: keep waiting from there */
            continue;
        }
        unhold(ph, h);
        respond(ph, NULL, NULL, h, &r);
        held_put(ph, h);
    }
}

/* ---- requests ---- */

static void filter_from(struct pull_filter *f, const struct tags_expr *e)
{
    f->all = e->all;
    f->count = e->all ? 0 : (uint32_t)e->count;
    if (f->count > TAGS_MAX)
        f->count = TAGS_MAX;
    memcpy(f->codes, e->codes, f->count * sizeof f->codes[0]);
}

void pull_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct pullhold *ph = b->hold;
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 320], topic[TOPICS_NAME_MAX], group[PULL_GROUP_MAX + 1];
    struct headers_pull_req h;
    if (!ph) {
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, "broker is shutting down");
        return;
    }
    if (headers_pull_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.consumer_group.len == 0 || h.consumer_group.len > PULL_GROUP_MAX ||
        memchr(h.consumer_group.p, '\0', h.consumer_group.len) || h.topic.len >= sizeof topic) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad consumerGroup or topic");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    memcpy(group, h.consumer_group.p, h.consumer_group.len);
    group[h.consumer_group.len] = '\0';

    struct topic *tp = topics_find(b->topics, topic);
    if (!tp) {
        snprintf(remark, sizeof remark, "topic[%s] not exist, apply first please!", topic);
        broker_respond_error(b, rc, req, CODES_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    if (!(tp->perm & TOPIC_PERM_READ)) {
        snprintf(remark, sizeof remark, "the topic[%s] pulling message is forbidden", topic);
        broker_respond_error(b, rc, req, CODES_RESP_NO_PERMISSION, remark);
        return;
    }
    if (h.queue_id < 0 || h.queue_id >= topic_max_queues(tp)) {
        snprintf(remark, sizeof remark,
                 "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]", h.queue_id,
                 topic, tp->read_queues, group);
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, remark);
        return;
    }
    if (h.max_msg_nums <= 0 || h.queue_offset < 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "maxMsgNums must be > 0 and queueOffset >= 0");
        return;
    }
    if (h.expression_type.p && h.expression_type.len > 0 &&
        !(h.expression_type.len == 3 && strncasecmp(h.expression_type.p, "TAG", 3) == 0)) {
        snprintf(remark, sizeof remark,
                 "expressionType %.*s is not supported by this broker: only TAG subscriptions can be filtered",
                 (int)(h.expression_type.len > 32 ? 32 : h.expression_type.len), h.expression_type.p);
        broker_respond_error(b, rc, req, CODES_RESP_SUBSCRIPTION_PARSE_FAILED, remark);
        return;
    }

    struct pull_filter filter;
    if (h.sys_flag & HEADERS_PULL_FLAG_SUBSCRIPTION) {
        struct tags_expr e;
        if (tags_parse(h.subscription.p ? h.subscription.p : "", h.subscription.len, &e, err) != 0) {
            snprintf(remark, sizeof remark, "parse the consumer's subscription[%.*s] failed: %s",
                     (int)(h.subscription.len > 128 ? 128 : h.subscription.len), h.subscription.p, err);
            broker_respond_error(b, rc, req, CODES_RESP_SUBSCRIPTION_PARSE_FAILED, remark);
            return;
        }
        filter_from(&filter, &e);
    } else {
        int64_t ver = 0;
        const struct tags_expr *e = clients_subscription(b, group, topic, &ver);
        if (!e) {
            snprintf(remark, sizeof remark, "the consumer's subscription not exist, group: %s topic: %s", group, topic);
            broker_respond_error(b, rc, req, CODES_RESP_SUBSCRIPTION_NOT_EXIST, remark);
            return;
        }
        if (ver < h.sub_version) {
            snprintf(remark, sizeof remark, "the consumer's subscription not latest, group: %s topic: %s", group,
                     topic);
            broker_respond_error(b, rc, req, CODES_RESP_SUBSCRIPTION_NOT_LATEST, remark);
            return;
        }
        filter_from(&filter, e);
    }

    struct partlog *pl;
    if (topics_partition(b->topics, tp, h.queue_id, &pl) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, b->topics->errmsg);
        return;
    }
    /* First run only: a held pull re-runs without committing again. */
    if ((h.sys_flag & HEADERS_PULL_FLAG_COMMIT_OFFSET) && h.commit_offset >= 0)
        offsets_commit(b, group, topic, h.queue_id, h.commit_offset);

    uint32_t max_bytes = PULL_DEFAULT_BYTES;
    if (h.has_max_msg_bytes && h.max_msg_bytes > 0)
        max_bytes = (uint32_t)h.max_msg_bytes < PULL_MAX_BYTES ? (uint32_t)h.max_msg_bytes : PULL_MAX_BYTES;
    struct pull_args a = {
        .pl = pl,
        .offset = (uint64_t)h.queue_offset,
        .max_msgs = h.max_msg_nums < PULL_MAX_MSGS ? (uint32_t)h.max_msg_nums : PULL_MAX_MSGS,
        .max_bytes = max_bytes,
        .filter = &filter,
    };
    struct pull_result r;
    run_pull(ph, &a, &r);
    if (r.code == CODES_RESP_PULL_NOT_FOUND && (h.sys_flag & HEADERS_PULL_FLAG_SUSPEND) && !remoting_is_oneway(req)) {
        int64_t t = b->conf.long_polling ? h.suspend_timeout_millis : b->conf.short_polling_ms;
        if (t > PULL_MAX_HOLD_MS)
            t = PULL_MAX_HOLD_MS;
        /* The next begin offset of a NOT_FOUND is where the re-run reads. */
        a.offset = r.next;
        if (t > 0 && hold(ph, rc, req, &a, (uint64_t)t) == 0)
            return;
    }
    respond(ph, rc, req, NULL, &r);
}

int pull_init(struct broker *b)
{
    struct pullhold *ph = calloc(1, sizeof *ph);
    if (!ph)
        return TERN_E_NOMEM;
    ph->b = b;
    partlog_readbuf_init(&ph->rb);
    buf_init(&ph->body);
    remoting_cmd_init(&ph->resp);
    ph->msgs = calloc(PULL_MAX_MSGS, sizeof *ph->msgs);
    if (!ph->msgs) {
        free(ph);
        return TERN_E_NOMEM;
    }
    uv_timer_init(b->loop, &ph->timer);
    ph->timer.data = ph;
    uv_unref((uv_handle_t *)&ph->timer);
    b->hold = ph;
    return 0;
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct pullhold *ph = h->data;
    while (ph->pool) {
        struct held *x = ph->pool;
        ph->pool = x->next_free;
        free(x);
    }
    struct pullq *q, *tmp;
    HASH_ITER(hh, ph->queues, q, tmp)
    {
        HASH_DEL(ph->queues, q);
        free(q);
    }
    free(ph->heap);
    free(ph->msgs);
    partlog_readbuf_free(&ph->rb);
    buf_free(&ph->body);
    remoting_cmd_free(&ph->resp);
    free(ph);
}

void pull_close(struct broker *b)
{
    struct pullhold *ph = b->hold;
    if (!ph)
        return;
    b->hold = NULL;
    /* Answer NOT_FOUND from where each pull stands (no reads during
     * shutdown); connections already closed just drop their reply. */
    while (ph->nheap > 0) {
        struct held *h = ph->heap[0];
        unhold(ph, h);
        if (h->reply.rc && !h->reply.rc->closed) {
            struct pull_result r = {
                .code = CODES_RESP_PULL_NOT_FOUND,
                .next = h->offset,
                .min = partlog_min_offset(h->pl),
                .max = partlog_end_offset(h->pl),
            };
            snprintf(r.remark, sizeof r.remark, "broker shutting down");
            respond(ph, NULL, NULL, h, &r);
        }
        held_put(ph, h);
    }
    uv_close((uv_handle_t *)&ph->timer, timer_closed_cb);
}
