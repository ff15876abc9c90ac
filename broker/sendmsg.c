/* Sends: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320).
 *
 * Happy path: validate, find or auto-create the topic, pick the queue, encode
 * every message in RocketMQ's stored format with the offsets it will get,
 * append them to the partition as one unit (lz4 for batches), and answer
 * from the store's durability callback: the producer is acknowledged only
 * once the bytes are synced.
 * Failure modes: bad headers or topics get INVALID_PARAMETER/TOPIC_NOT_EXIST
 * at once; a disk below diskMinFreeBytes or a failed write gets
 * SERVICE_NOT_AVAILABLE (stock clients retry another broker) and nothing is
 * acknowledged; too many bytes in flight gets SYSTEM_BUSY. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delay.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "broker/txn.h"
#include "protocol/batch.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define MAX_BATCH FSM_MAX_BATCH
#define POOL_MAX 1024
#define RETRY_PREFIX "%RETRY%"
#define DLQ_PREFIX "%DLQ%"

struct send_ctx {
    struct store_append_req req;
    struct broker *b;
    struct rpc_reply reply;
    uint32_t part_id;
    int32_t queue_id;
    uint64_t first_offset;
    uint32_t count;
    uint64_t bytes;
    char uniq[MSGID_MAX_STR];
    struct send_ctx *next_free;
};

struct sendmsg {
    struct send_ctx *pool;
    size_t npool;
    uint64_t inflight_bytes;
    uint32_t round_robin;
    struct buf rec;   /* encoded stored-format records of one send */
    struct buf props; /* rebuilt properties of one message */
    struct buf ids;   /* msgId list of a response */
    struct buf cmd;   /* the APPEND command of one send */
    size_t *rec_off;  /* start of each record in rec */
    uint32_t *rec_len;
    struct record_msg *msgs;
    /* TRAN_MSG: the message of this send goes to the half topic. */
    bool txn;
    uint32_t txn_immunity_ms;
    struct buf txn_cmd; /* the PREPARE command wrapping s->cmd */
};

int sendmsg_init(struct broker *b)
{
    struct sendmsg *s = calloc(1, sizeof *s);
    if (!s)
        return TERN_E_NOMEM;
    s->rec_off = calloc(MAX_BATCH, sizeof *s->rec_off);
    s->rec_len = calloc(MAX_BATCH, sizeof *s->rec_len);
    s->msgs = calloc(MAX_BATCH, sizeof *s->msgs);
    buf_init(&s->rec);
    buf_init(&s->props);
    buf_init(&s->ids);
    buf_init(&s->cmd);
    buf_init(&s->txn_cmd);
    b->sendmsg = s;
    if (!s->rec_off || !s->rec_len || !s->msgs)
        return TERN_E_NOMEM;
    return 0;
}

void sendmsg_free(struct broker *b)
{
    struct sendmsg *s = b->sendmsg;
    if (!s)
        return;
    while (s->pool) {
        struct send_ctx *c = s->pool;
        s->pool = c->next_free;
        free(c);
    }
    buf_free(&s->rec);
    buf_free(&s->props);
    buf_free(&s->ids);
    buf_free(&s->cmd);
    buf_free(&s->txn_cmd);
    free(s->rec_off);
    free(s->rec_len);
    free(s->msgs);
    free(s);
    b->sendmsg = NULL;
}

static struct send_ctx *ctx_get(struct sendmsg *s)
{
    struct send_ctx *c = s->pool;
    if (c) {
        s->pool = c->next_free;
        s->npool--;
        memset(c, 0, sizeof *c);
        return c;
    }
    return calloc(1, sizeof *c);
}

static void ctx_put(struct sendmsg *s, struct send_ctx *c)
{
    if (s->npool >= POOL_MAX) {
        free(c);
        return;
    }
    c->next_free = s->pool;
    s->pool = c;
    s->npool++;
}

/* The producer's address as RocketMQ stores BORNHOST (IPv4-mapped IPv6
 * peers become plain IPv4, as Java normalises them). */
static void born_host(const struct rpc_conn *rc, struct msg_host *h)
{
    memset(h, 0, sizeof *h);
    h->family = MSG_HOST_IPV4;
    if (!rc->tc)
        return;
    const struct sockaddr_storage *ss = &rc->tc->peer_addr;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        memcpy(h->addr, &a->sin_addr, 4);
        h->port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        h->port = ntohs(a->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memcpy(h->addr, a->sin6_addr.s6_addr + 12, 4);
        } else {
            h->family = MSG_HOST_IPV6;
            memcpy(h->addr, &a->sin6_addr, 16);
        }
    }
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Find the topic or create it from the template (RocketMQ
 * AbstractSendMessageProcessor.msgCheck). Returns a response code. */
/* The configuration of the topic a send goes to, creating it from the
 * template if needed (RocketMQ AbstractSendMessageProcessor.msgCheck). With
 * replication the TOPIC command is only proposed here; it commits before this
 * send's APPEND, so the send can go on with the configuration it proposed.
 * Returns a response code. */
static int find_or_create_topic(struct broker *b, const char *name, const struct headers_send_req *h,
                                struct topic_conf *out, char *remark, size_t cap)
{
    struct topic *tp = topics_find(b->topics, name);
    if (tp) {
        *out = (struct topic_conf){.read_queues = tp->read_queues, .write_queues = tp->write_queues,
                                   .perm = tp->perm};
        return CODES_RESP_SUCCESS;
    }
    struct topic_conf c = {.read_queues = 1, .write_queues = 1, .perm = TOPIC_PERM_READ | TOPIC_PERM_WRITE};
    if (!has_prefix(name, RETRY_PREFIX) && !has_prefix(name, DLQ_PREFIX)) {
        char tname[TOPICS_NAME_MAX] = TOPIC_DEFAULT;
        if (h->default_topic.p && h->default_topic.len > 0 && h->default_topic.len < sizeof tname) {
            memcpy(tname, h->default_topic.p, h->default_topic.len);
            tname[h->default_topic.len] = '\0';
        }
        struct topic *tmpl = b->conf.auto_create_topic ? topics_find(b->topics, tname) : NULL;
        if (!tmpl || !(tmpl->perm & TOPIC_PERM_INHERIT)) {
            snprintf(remark, cap, "topic[%s] not exist, apply first please!", name);
            return CODES_RESP_TOPIC_NOT_EXIST;
        }
        int32_t q = h->default_topic_queue_nums > 0 ? h->default_topic_queue_nums : tmpl->write_queues;
        if (q > tmpl->write_queues)
            q = tmpl->write_queues;
        c.read_queues = c.write_queues = q;
        c.perm = tmpl->perm & ~TOPIC_PERM_INHERIT;
    }
    int rv = broker_put_topic(b, name, &c, false, NULL);
    if (rv) {
        snprintf(remark, cap, "create topic %s: %s", name, b->topics->errmsg);
        return CODES_RESP_SYSTEM_ERROR;
    }
    LOGI("broker", "auto-created topic %s with %d queues", name, c.write_queues);
    registrar_kick(b);
    *out = c;
    return CODES_RESP_SUCCESS;
}

/* Reject combinations this broker does not store correctly. */
static int check_unsupported(const struct properties *p, char *remark, size_t cap)
{
    struct slice v;
    if (!properties_find(p, MSG_PROP_TRAN_MSG, &v) || !slice_eq(v, "true"))
        return CODES_RESP_SUCCESS;
    /* A half message goes to the transaction topic, a delayed one to a delay
     * lane: one message cannot be both here. */
    static const char *delay_keys[] = {MSG_PROP_DELAY, MSG_PROP_TIMER_DELIVER_MS, MSG_PROP_TIMER_DELAY_SEC,
                                       MSG_PROP_TIMER_DELAY_MS, MSG_PROP_STARTDELIVERTIME};
    for (size_t i = 0; i < sizeof delay_keys / sizeof delay_keys[0]; i++) {
        if (properties_find(p, delay_keys[i], &v) && !(v.len == 1 && v.p[0] == '0') &&
            !(v.len == 2 && memcmp(v.p, "-1", 2) == 0)) {
            snprintf(remark, cap, "delayed delivery (%s) is not supported for transactional messages", delay_keys[i]);
            return CODES_RESP_MESSAGE_ILLEGAL;
        }
    }
    return CODES_RESP_SUCCESS;
}

/* Encode one message into s->rec as record i. */
static int encode_one(struct broker *b, struct sendmsg *s, uint32_t i, const struct headers_send_req *h,
                      const char *topic, int32_t queue_id, int32_t flag, struct slice body, struct slice props_in,
                      const struct msg_host *born, int64_t now, char *uniq_out, int64_t *due_out, char *remark,
                      size_t cap)
{
    char err[ERRMSG_SIZE];
    struct properties props;
    if (properties_parse(props_in.p, props_in.len, &b->limits, &props, err) != 0) {
        snprintf(remark, cap, "%s", err);
        return CODES_RESP_MESSAGE_ILLEGAL;
    }
    int code = check_unsupported(&props, remark, cap);
    if (code != CODES_RESP_SUCCESS)
        return code;
    int64_t due = 0;
    code = delay_due(b, &props, now, &due, remark, cap);
    if (code != CODES_RESP_SUCCESS)
        return code;
    if (due > 0 && !due_out) {
        snprintf(remark, cap, "delayed delivery is not supported for batch messages");
        return CODES_RESP_MESSAGE_ILLEGAL;
    }
    /* UNIQ_KEY (added if missing) and CLUSTER, as a stock broker does. */
    buf_reset(&s->props);
    struct slice uniq;
    char gen[MSGID_MAX_STR];
    if (properties_find(&props, MSG_PROP_UNIQ_KEY, &uniq)) {
        buf_append(&s->props, props_in.p, props_in.len);
    } else {
        size_t n = msgid_uniq_next(&b->uniq, now, gen);
        properties_set(props_in.p, props_in.len, MSG_PROP_UNIQ_KEY, gen, n, &s->props);
        uniq = (struct slice){gen, n};
    }
    if (uniq_out) {
        size_t n = uniq.len < MSGID_MAX_STR - 1 ? uniq.len : MSGID_MAX_STR - 1;
        memcpy(uniq_out, uniq.p, n);
        uniq_out[n] = '\0';
    }
    struct slice cl;
    if (!properties_find(&props, MSG_PROP_CLUSTER, &cl))
        properties_append(&s->props, MSG_PROP_CLUSTER, b->conf.cluster, strlen(b->conf.cluster));
    /* A transactional half message is stored invisible in the half topic
     * with its destination in properties (TransactionalMessageBridge
     * .parseHalfMessageInner); END_TRANSACTION or a check-back decides it. */
    int32_t sysflag = h->sys_flag;
    struct slice tv;
    s->txn = properties_find(&props, MSG_PROP_TRAN_MSG, &tv) && slice_eq(tv, "true");
    if (s->txn) {
        char q[16];
        int ql = snprintf(q, sizeof q, "%d", (int)queue_id);
        properties_append(&s->props, MSG_PROP_REAL_TOPIC, topic, strlen(topic));
        properties_append(&s->props, MSG_PROP_REAL_QID, q, (size_t)ql);
        struct slice imm;
        s->txn_immunity_ms = 0;
        if (properties_find(&props, MSG_PROP_CHECK_IMMUNITY_TIME_IN_SECONDS, &imm) && imm.len > 0 && imm.len < 8) {
            char tmp[8];
            memcpy(tmp, imm.p, imm.len);
            tmp[imm.len] = '\0';
            long sec = strtol(tmp, NULL, 10);
            s->txn_immunity_ms = sec > 0 ? (uint32_t)(sec < 86400 ? sec : 86400) * 1000u : 0; /* at most a day */
        }
        topic = TXN_HALF_TOPIC;
        queue_id = 0;
        sysflag &= ~MSG_SYSFLAG_TRANSACTION_MASK;
    }
    if (due > 0) {
        /* Stored in a delay lane with where it goes and when (delay.h). */
        char num[24];
        int nl = snprintf(num, sizeof num, "%d", (int)queue_id);
        properties_append(&s->props, MSG_PROP_REAL_TOPIC, topic, strlen(topic));
        properties_append(&s->props, MSG_PROP_REAL_QID, num, (size_t)nl);
        nl = snprintf(num, sizeof num, "%lld", (long long)due);
        properties_append(&s->props, MSG_PROP_TIMER_OUT_MS, num, (size_t)nl);
        queue_id = has_prefix(topic, RETRY_PREFIX) ? DELAY_LANE_RETRY : DELAY_LANE_USER;
        topic = DELAY_TOPIC;
        *due_out = due;
    }
    if (s->props.err || s->props.len > b->limits.max_properties) {
        snprintf(remark, cap, "properties: length %zu exceeds %u", s->props.len, b->limits.max_properties);
        return CODES_RESP_MESSAGE_ILLEGAL;
    }
    struct slice tag;
    int32_t tag_code = properties_find(&props, MSG_PROP_TAGS, &tag) ? tags_hash(tag.p, tag.len) : 0;

    struct msg_stored m = {
        .queue_id = queue_id,
        .flag = flag,
        /* Queue offset, physical offset and store time are written when
         * the command is applied (fsm.c). */
        .sysflag = sysflag & ~(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6),
        .born_timestamp = h->born_timestamp,
        .born_host = *born,
        .store_timestamp = now,
        .store_host = b->store_host,
        .reconsume_times = h->has_reconsume_times ? h->reconsume_times : 0,
        .body = body,
        .topic = slice_of(topic),
        .properties = {(const char *)s->props.data, s->props.len},
    };
    size_t at = s->rec.len;
    int rv = message_encode(&m, &s->rec);
    if (rv) {
        snprintf(remark, cap, "encode message: %s", tern_strerror(rv));
        return CODES_RESP_MESSAGE_ILLEGAL;
    }
    s->rec_off[i] = at;
    s->rec_len[i] = (uint32_t)(s->rec.len - at);
    s->msgs[i].tag_hash = (uint64_t)(uint32_t)tag_code;
    return CODES_RESP_SUCCESS;
}

static void append_done(struct store_append_req *req, int status)
{
    struct send_ctx *c = req->data;
    struct broker *b = c->b;
    struct sendmsg *s = b->sendmsg;
    s->inflight_bytes -= c->bytes;
    struct remoting_cmd *resp = &b->resp;
    if (status != 0) {
        int code = status == TERN_E_NOSPACE || status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE
                   : status == TERN_E_BUSY                               ? CODES_RESP_SYSTEM_BUSY
                                                                         : CODES_RESP_SYSTEM_ERROR;
        char remark[160];
        snprintf(remark, sizeof remark, "%s: message not stored (%s)",
                 status == TERN_E_NOSPACE     ? "disk full"
                 : status == TERN_E_NOTLEADER ? "leadership changed"
                                              : "store failed",
                 tern_strerror(status));
        if (rpc_reply_begin(&c->reply, resp, code, remark) == 0)
            rpc_reply_finish(&c->reply, resp, NULL, 0);
        else
            rpc_reply_drop(&c->reply);
        ctx_put(s, c);
        return;
    }
    buf_reset(&s->ids);
    for (uint32_t i = 0; i < c->count; i++) {
        char id[MSGID_MAX_STR];
        size_t n = msgid_offset_encode(&b->store_host, (int64_t)store_phys_encode(c->part_id, c->first_offset + i), id);
        if (i)
            buf_append_u8(&s->ids, ',');
        buf_append(&s->ids, id, n);
    }
    if (rpc_reply_begin(&c->reply, resp, CODES_RESP_SUCCESS, NULL) == 0 && s->ids.err == 0) {
        struct headers_send_resp hr = {
            .msg_id = {(const char *)s->ids.data, s->ids.len},
            .queue_id = c->queue_id,
            .queue_offset = (int64_t)c->first_offset,
            .transaction_id = slice_of(c->uniq),
            .msg_region = slice_of(b->conf.region),
            .trace_on = true,
        };
        headers_send_resp_encode(&hr, resp);
        rpc_reply_finish(&c->reply, resp, NULL, 0);
    } else {
        rpc_reply_drop(&c->reply);
    }
    ctx_put(s, c);
}

/* Replicated send: the APPEND committed and was applied (or failed). */
static void send_committed(void *arg, int status, const struct fsm_result *res)
{
    struct send_ctx *c = arg;
    if (status == 0 && res->status != 0)
        status = res->status;
    if (status == 0) {
        c->part_id = res->part_id;
        c->first_offset = res->first_offset;
    }
    append_done(&c->req, status);
}

void sendmsg_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct sendmsg *s = b->sendmsg;
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 64], topic[TOPICS_NAME_MAX];
    struct headers_send_req h;
    if (headers_send_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (!grouprepl_writable(b)) {
        snprintf(remark, sizeof remark, "broker %s is not the leader of its group, try again", b->addr);
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
        return;
    }
    if (b->disk_full) {
        snprintf(remark, sizeof remark,
                 "disk full: %llu bytes free on the data disk, below diskMinFreeBytes; sends resume when space is freed",
                 (unsigned long long)b->disk_free);
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
        return;
    }
    if (s->inflight_bytes > b->conf.max_inflight_bytes) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_BUSY,
                             "[OVERLOAD]broker busy: too many bytes waiting to be stored, try again");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    bool batch = req->code == CODES_REQ_SEND_BATCH_MESSAGE;
    if (batch && (has_prefix(topic, RETRY_PREFIX) || has_prefix(topic, DLQ_PREFIX))) {
        broker_respond_error(b, rc, req, CODES_RESP_MESSAGE_ILLEGAL, "batch messages cannot be sent to retry or DLQ topics");
        return;
    }
    if (!batch && req->body.len > b->conf.max_message_size) {
        snprintf(remark, sizeof remark, "message body size %zu exceeds maxMessageSize %llu", req->body.len,
                 (unsigned long long)b->conf.max_message_size);
        broker_respond_error(b, rc, req, CODES_RESP_MESSAGE_ILLEGAL, remark);
        return;
    }
    struct topic_conf tp;
    int code = find_or_create_topic(b, topic, &h, &tp, remark, sizeof remark);
    if (code != CODES_RESP_SUCCESS) {
        broker_respond_error(b, rc, req, code, remark);
        return;
    }
    if (!(tp.perm & TOPIC_PERM_WRITE)) {
        snprintf(remark, sizeof remark, "the topic[%s] sending is forbidden", topic);
        broker_respond_error(b, rc, req, CODES_RESP_NO_PERMISSION, remark);
        return;
    }
    int32_t qid = h.queue_id;
    if (qid < 0)
        qid = tp.write_queues > 0 ? (int32_t)(s->round_robin++ % (uint32_t)tp.write_queues) : 0;
    if (qid >= (tp.read_queues > tp.write_queues ? tp.read_queues : tp.write_queues)) {
        snprintf(remark, sizeof remark, "queueId[%d] is illegal, topic:[%s] topicConfig.writeQueueNums:[%d]", qid,
                 topic, tp.write_queues);
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, remark);
        return;
    }
    struct msg_host born;
    born_host(rc, &born);
    int64_t now = clock_now_ms();
    char uniq[MSGID_MAX_STR] = "";
    int64_t due = 0;
    buf_reset(&s->rec);
    uint32_t n = 0;
    if (!batch) {
        code = encode_one(b, s, 0, &h, topic, qid, h.flag, req->body, h.properties, &born, now, uniq, &due,
                          remark, sizeof remark);
        n = 1;
    } else {
        struct batch_iter it;
        struct batch_item item;
        batch_iter_init(&it, (const uint8_t *)req->body.p, req->body.len, &b->limits);
        int rv;
        code = CODES_RESP_SUCCESS;
        while (code == CODES_RESP_SUCCESS && (rv = batch_iter_next(&it, &item, err)) == 1) {
            if (n == MAX_BATCH) {
                snprintf(remark, sizeof remark, "batch holds more than %d messages", MAX_BATCH);
                code = CODES_RESP_MESSAGE_ILLEGAL;
                break;
            }
            if (item.body.len > b->conf.max_message_size) {
                snprintf(remark, sizeof remark, "message body size %zu exceeds maxMessageSize %llu", item.body.len,
                         (unsigned long long)b->conf.max_message_size);
                code = CODES_RESP_MESSAGE_ILLEGAL;
                break;
            }
            code = encode_one(b, s, n, &h, topic, qid, item.flag, item.body, item.properties, &born, now,
                              n == 0 ? uniq : NULL, NULL, remark, sizeof remark);
            n++;
            if (code == CODES_RESP_SUCCESS && s->txn) {
                snprintf(remark, sizeof remark, "batch message does not support transaction");
                code = CODES_RESP_MESSAGE_ILLEGAL;
            }
        }
        if (code == CODES_RESP_SUCCESS && rv < 0) {
            snprintf(remark, sizeof remark, "%s", err);
            code = CODES_RESP_MESSAGE_ILLEGAL;
        } else if (code == CODES_RESP_SUCCESS && n == 0) {
            snprintf(remark, sizeof remark, "empty batch");
            code = CODES_RESP_MESSAGE_ILLEGAL;
        }
    }
    if (code != CODES_RESP_SUCCESS) {
        broker_respond_error(b, rc, req, code, remark);
        return;
    }
    if (s->rec.err) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory encoding messages");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        s->msgs[i].data = s->rec.data + s->rec_off[i];
        s->msgs[i].len = s->rec_len[i];
    }
    bool txn = !batch && s->txn;
    if (txn) {
        int trv = txn_ensure_topic(b, TXN_HALF_TOPIC);
        if (trv) {
            snprintf(remark, sizeof remark, "create topic %s: %s", TXN_HALF_TOPIC, tern_strerror(trv));
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
            return;
        }
        snprintf(topic, sizeof topic, "%s", TXN_HALF_TOPIC);
        qid = 0;
    }
    buf_reset(&s->cmd);
    if (fsm_encode_append(&s->cmd, due > 0 ? DELAY_TOPIC : topic,
                          due > 0 ? (has_prefix(topic, RETRY_PREFIX) ? DELAY_LANE_RETRY : DELAY_LANE_USER) : qid, now,
                          n > 1, s->msgs, n) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory encoding messages");
        return;
    }
    if (txn) {
        /* PREPARE = the half message's APPEND + an entry in the table. */
        buf_reset(&s->txn_cmd);
        if (txn_encode_prepare(&s->txn_cmd, s->txn_immunity_ms, s->cmd.data, s->cmd.len) != 0) {
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory encoding messages");
            return;
        }
        struct buf tmp = s->cmd;
        s->cmd = s->txn_cmd;
        s->txn_cmd = tmp;
    }
    struct send_ctx *c = ctx_get(s);
    if (!c) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    c->b = b;
    c->req.data = c;
    c->queue_id = qid;
    c->count = n;
    c->bytes = s->rec.len;
    memcpy(c->uniq, uniq, sizeof c->uniq);
    if (grouprepl_enabled(b)) {
        int prv = grouprepl_propose(b, s->cmd.data, s->cmd.len, send_committed, c);
        if (prv != 0) {
            ctx_put(s, c);
            broker_respond_error(b, rc, req,
                                 prv == TERN_E_BUSY ? CODES_RESP_SYSTEM_BUSY : CODES_RESP_SERVICE_NOT_AVAILABLE,
                                 prv == TERN_E_BUSY ? "[OVERLOAD]replication backlog full, try again"
                                                    : "not the leader of this broker group, try again");
            return;
        }
        s->inflight_bytes += c->bytes;
        rpc_reply_hold(&c->reply, rc, req);
        return;
    }
    struct fsm_result res;
    int rv = fsm_apply(b, 0, s->cmd.data, s->cmd.len, &c->req, append_done, &res);
    if (rv == 0)
        rv = res.status;
    if (rv != 0) {
        ctx_put(s, c);
        if (rv == TERN_E_BUSY)
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_BUSY, "[OVERLOAD]partition write buffer full, try again");
        else
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, tern_strerror(rv));
        return;
    }
    c->part_id = res.part_id;
    c->first_offset = res.first_offset;
    s->inflight_bytes += c->bytes;
    rpc_reply_hold(&c->reply, rc, req);
}
