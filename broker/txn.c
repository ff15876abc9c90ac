/* END_TRANSACTION (37) and the check-back service (CHECK_TRANSACTION_STATE,
 * 39), on the group's leader.
 *
 * Happy path: the producer's END names the half message by commitLogOffset;
 * the leader checks it against the table, reads the half message, rebuilds
 * the real one (REAL_TOPIC/REAL_QID, sysFlag COMMIT, preparedTransactionOffset
 * as RocketMQ's EndTransactionProcessor does) and proposes one END command
 * that appends it and closes the entry. Rollback proposes an END without a
 * message. A timer walks the table: an entry past its immunity time (or its
 * last check plus the interval) gets CHECK_TRANSACTION_STATE sent to a live
 * producer of its group and a CHECK command; past the maximum number of
 * checks it is parked in TRANS_CHECK_MAX_TIME_TOPIC. Checks per second are
 * capped (transactionCheckRate).
 * Failure modes: malformed headers get INVALID_PARAMETER naming the field;
 * an END for a message that is not a half message or was never prepared
 * gets SYSTEM_ERROR; a duplicate END succeeds and changes nothing; off the
 * leader END gets SERVICE_NOT_AVAILABLE. */
#include "broker/txn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "broker/txn_int.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/log.h"
#include "tern/error.h"

#define TICK_MS 200
#define MAX_DUE_PER_TICK 4096

int txn_init(struct broker *b)
{
    struct txn *x = calloc(1, sizeof *x);
    if (!x)
        return TERN_E_NOMEM;
    b->txn = x;
    x->b = b;
    txn_table_init(&x->t);
    buf_init(&x->file);
    buf_init(&x->cmd);
    buf_init(&x->rec);
    buf_init(&x->props);
    buf_init(&x->props2);
    partlog_readbuf_init(&x->rb);
    snprintf(x->dir, sizeof x->dir, "%s", b->conf.data_dir);
    int rv = txn_table_load(&x->t, x->dir, b->errmsg);
    if (rv)
        return rv;
    if (x->t.open)
        LOGI("txn", "%zu open transactions loaded (commands up to %llu)", x->t.open,
             (unsigned long long)x->t.applied);
    return 0;
}

static void tick_cb(uv_timer_t *tm);

/* Start the check-back timer (after the subsystems it uses exist). */
void txn_start(struct broker *b)
{
    struct txn *x = b->txn;
    if (!x || x->timer_open)
        return;
    uv_timer_init(b->loop, &x->timer);
    uv_timer_init(b->loop, &x->defer_timer);
    x->timer.data = x;
    x->defer_timer.data = x;
    x->timer_open = true;
    x->handles_open = 2;
    uv_timer_start(&x->timer, tick_cb, TICK_MS, TICK_MS);
}

int txn_flush(struct broker *b)
{
    struct txn *x = b->txn;
    if (!x)
        return 0;
    char err[ERRMSG_SIZE];
    int rv = txn_table_save(&x->t, x->dir, &x->file, err);
    if (rv)
        LOGE("txn", "%s", err);
    return rv;
}

static void timer_closed_cb(uv_handle_t *h)
{
    struct txn *x = h->data;
    if (--x->handles_open == 0)
        free(x);
}

void txn_close(struct broker *b)
{
    struct txn *x = b->txn;
    if (!x)
        return;
    b->txn = NULL;
    txn_table_free(&x->t);
    buf_free(&x->file);
    buf_free(&x->cmd);
    buf_free(&x->rec);
    buf_free(&x->props);
    buf_free(&x->props2);
    partlog_readbuf_free(&x->rb);
    while (x->deferred) {
        struct txn_op *op = x->deferred;
        x->deferred = op->next;
        rpc_reply_drop(&op->reply);
        free(op);
    }
    while (x->spare) {
        struct txn_op *op = x->spare;
        x->spare = op->next;
        free(op);
    }
    free(x->due);
    if (x->timer_open) {
        uv_close((uv_handle_t *)&x->timer, timer_closed_cb);
        uv_close((uv_handle_t *)&x->defer_timer, timer_closed_cb);
    } else {
        free(x);
    }
}

size_t txn_open_count(const struct broker *b)
{
    return b->txn ? b->txn->t.open : 0;
}

size_t txn_table_bytes(const struct broker *b)
{
    return b->txn ? b->txn->t.cap * sizeof(struct txn_entry) : 0;
}

int txn_ensure_topic(struct broker *b, const char *name)
{
    if (topics_find(b->topics, name))
        return 0;
    struct topic_conf c = {.read_queues = 1, .write_queues = 1, .perm = TOPIC_PERM_READ | TOPIC_PERM_WRITE};
    return broker_put_topic(b, name, &c, true, NULL);
}

/* ---- ops: proposals with a callback ------------------------------------- */

static struct txn_op *op_get(struct txn *x)
{
    struct txn_op *op = x->spare;
    if (op)
        x->spare = op->next;
    else if (!(op = malloc(sizeof *op)))
        return NULL;
    memset(op, 0, sizeof *op);
    op->x = x;
    return op;
}

static void op_put(struct txn_op *op)
{
    op->next = op->x->spare;
    op->x->spare = op;
}

static void clear_pending(struct txn *x, uint64_t offset)
{
    struct txn_entry *e = txn_table_find(&x->t, offset);
    if (e)
        e->pending = 0;
}

static void op_done(void *arg, int status, const struct fsm_result *res)
{
    struct txn_op *op = arg;
    struct txn *x = op->x;
    struct broker *b = x->b;
    clear_pending(x, op->offset);
    if (op->has_reply) {
        int code = CODES_RESP_SUCCESS;
        char remark[128] = "";
        if (status != 0) {
            code = status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR;
            snprintf(remark, sizeof remark, "transaction decision not stored: %s", tern_strerror(status));
        } else if (res->status != 0) {
            code = CODES_RESP_SYSTEM_ERROR;
            snprintf(remark, sizeof remark, "transaction decision failed: %s", tern_strerror(res->status));
        } else if (res->skipped) {
            snprintf(remark, sizeof remark, "transaction already decided; nothing done");
        }
        if (rpc_reply_begin(&op->reply, &b->resp, code, remark[0] ? remark : NULL) == 0)
            rpc_reply_finish(&op->reply, &b->resp, NULL, 0);
        else
            rpc_reply_drop(&op->reply);
    }
    op_put(op);
}

/* Replicate x->cmd (or apply it here without replication); op_done fires
 * exactly once unless this fails now. */
static int submit(struct txn *x, struct txn_op *op)
{
    struct broker *b = x->b;
    if (grouprepl_enabled(b))
        return grouprepl_propose(b, x->cmd.data, x->cmd.len, op_done, op);
    struct fsm_result res;
    int rv = fsm_apply(b, 0, x->cmd.data, x->cmd.len, NULL, NULL, &res);
    if (rv)
        return rv;
    op_done(op, 0, &res);
    return 0;
}

/* ---- half messages ------------------------------------------------------- */

/* Read the half message at offset into x->msg and decode it. */
static int read_half(struct txn *x, uint64_t offset, struct msg_stored *m, char *err, size_t cap)
{
    struct broker *b = x->b;
    struct topic *tp = topics_find(b->topics, TXN_HALF_TOPIC);
    struct partlog *pl;
    if (!tp || topics_partition(b->topics, tp, 0, &pl) != 0) {
        snprintf(err, cap, "no half topic on this broker");
        return TERN_E_NOTFOUND;
    }
    struct partlog_read_result rr = {0};
    int rv = partlog_read(pl, offset, 1, 1, NULL, &x->rb, &x->msg, &rr);
    if (rv != 0 || rr.n != 1 || x->msg.offset != offset) {
        snprintf(err, cap, "half message %" PRIu64 " not readable: %s", offset,
                 rv ? tern_strerror(rv) : "not found");
        return rv ? rv : TERN_E_NOTFOUND;
    }
    char derr[ERRMSG_SIZE];
    size_t used;
    if (message_decode(x->msg.data, x->msg.len, &b->limits, 0, m, &used, derr) != 0) {
        snprintf(err, cap, "half message %" PRIu64 ": %s", offset, derr);
        return TERN_E_CORRUPT;
    }
    return 0;
}

static bool prop_str(const struct msg_stored *m, const struct limits *l, const char *key, char *out, size_t cap)
{
    struct properties p;
    char err[ERRMSG_SIZE];
    struct slice v;
    if (properties_parse(m->properties.p, m->properties.len, l, &p, err) != 0 || !properties_find(&p, key, &v) ||
        v.len >= cap)
        return false;
    memcpy(out, v.p, v.len);
    out[v.len] = '\0';
    return true;
}

/* Re-encode half message m as a message of topic/qid into x->rec, with
 * sysflag and properties (x->props) chosen by the caller. */
static int encode_as(struct txn *x, const struct msg_stored *m, const char *topic, int32_t qid, int32_t sysflag,
                     int64_t prepared_off)
{
    struct msg_stored o = *m;
    o.topic = slice_of(topic);
    o.queue_id = qid;
    o.sysflag = sysflag & ~(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6);
    o.prepared_transaction_offset = prepared_off;
    o.properties = (struct slice){(const char *)x->props.data, x->props.len};
    o.queue_offset = 0;
    o.physical_offset = 0;
    buf_reset(&x->rec);
    int rv = message_encode(&o, &x->rec);
    return rv ? rv : x->rec.err;
}

/* Append an END command for offset with the message in x->rec (if any). */
static int encode_end(struct txn *x, uint8_t decision, uint64_t offset, const char *topic, int32_t qid,
                      const struct limits *l, const struct msg_stored *m)
{
    buf_reset(&x->cmd);
    buf_append_u8(&x->cmd, FSM_CMD_TXN_END);
    buf_append_u8(&x->cmd, decision);
    buf_append_u8(&x->cmd, 0);
    buf_append_u8(&x->cmd, 0);
    buf_append_le64(&x->cmd, offset);
    if (decision == TXN_DECIDE_ROLLBACK)
        return x->cmd.err;
    char tag[256];
    struct record_msg rm = {
        .data = x->rec.data,
        .len = (uint32_t)x->rec.len,
        .tag_hash = prop_str(m, l, MSG_PROP_TAGS, tag, sizeof tag) ? (uint64_t)(uint32_t)tags_hash(tag, strlen(tag))
                                                                  : 0,
    };
    return fsm_encode_append(&x->cmd, topic, qid, clock_now_ms(), false, &rm, 1);
}

/* ---- END_TRANSACTION ----------------------------------------------------- */

static void end_error(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req, int code, const char *remark)
{
    /* Stock producers send END oneway: leave a trace of what was refused. */
    LOGW("txn", "END_TRANSACTION refused: %s", remark);
    broker_respond_error(b, rc, req, code, remark);
}

/* Answer a held END and release the op. */
static void op_reply(struct txn_op *op, int code, const char *remark)
{
    struct broker *b = op->x->b;
    if (code != CODES_RESP_SUCCESS)
        LOGW("txn", "END_TRANSACTION refused: %s", remark);
    if (rpc_reply_begin(&op->reply, &b->resp, code, remark) == 0)
        rpc_reply_finish(&op->reply, &b->resp, NULL, 0);
    else
        rpc_reply_drop(&op->reply);
    op_put(op);
}

static void end_try(struct txn *x, struct txn_op *op);

static void defer_cb(uv_timer_t *tm)
{
    struct txn *x = tm->data;
    struct txn_op *list = x->deferred;
    x->deferred = NULL;
    while (list) {
        struct txn_op *op = list;
        list = op->next;
        op->next = NULL;
        end_try(x, op);
    }
}

/* Decide a held END: read the half message, build the command, submit.
 * With replication a half message is readable once written, which can be
 * a loop pass after its send was acknowledged; an END arriving in between
 * waits here (DEFER_MS at a time, DEFER_TRIES times). */
#define DEFER_MS 2
#define DEFER_TRIES 1000
static void end_try(struct txn *x, struct txn_op *op)
{
    struct broker *b = x->b;
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 128];
    if (!grouprepl_writable(b)) {
        snprintf(remark, sizeof remark, "broker %s is not the leader of its group, try again", b->addr);
        op_reply(op, CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
        return;
    }
    uint64_t off = op->offset;
    struct txn_entry *e = txn_table_find(&x->t, off);
    if (!e) {
        op_reply(op, CODES_RESP_SUCCESS, "transaction already decided; nothing done");
        return;
    }
    struct topic *tp = topics_find(b->topics, TXN_HALF_TOPIC);
    struct partlog *pl = NULL;
    if (tp && topics_partition(b->topics, tp, 0, &pl) == 0 && off >= partlog_end_offset(pl) &&
        off < partlog_next_offset(pl)) {
        if (++op->tries > DEFER_TRIES) {
            op_reply(op, CODES_RESP_SYSTEM_ERROR, "half message still not written; try again");
            return;
        }
        op->next = x->deferred;
        x->deferred = op;
        if (!uv_is_active((uv_handle_t *)&x->defer_timer))
            uv_timer_start(&x->defer_timer, defer_cb, DEFER_MS, 0);
        return;
    }
    struct msg_stored m;
    int rv = read_half(x, off, &m, err, sizeof err);
    if (rv) {
        op_reply(op, CODES_RESP_SYSTEM_ERROR, err);
        return;
    }
    char group[256], topic[TOPICS_NAME_MAX], qs[16];
    if (!prop_str(&m, &b->limits, MSG_PROP_PGROUP, group, sizeof group) || strcmp(op->group, group) != 0) {
        snprintf(remark, sizeof remark, "The producer group wrong: %s", op->group);
        op_reply(op, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    if (op->decision == TXN_DECIDE_COMMIT) {
        if (!prop_str(&m, &b->limits, MSG_PROP_REAL_TOPIC, topic, sizeof topic) ||
            !prop_str(&m, &b->limits, MSG_PROP_REAL_QID, qs, sizeof qs)) {
            op_reply(op, CODES_RESP_SYSTEM_ERROR, "half message has no REAL_TOPIC/REAL_QID");
            return;
        }
        /* As EndTransactionProcessor: drop REAL_TOPIC, REAL_QID, TRAN_MSG. */
        buf_reset(&x->props);
        buf_reset(&x->props2);
        properties_remove(m.properties.p, m.properties.len, MSG_PROP_REAL_TOPIC, &x->props2);
        properties_remove((const char *)x->props2.data, x->props2.len, MSG_PROP_REAL_QID, &x->props);
        buf_reset(&x->props2);
        properties_remove((const char *)x->props.data, x->props.len, MSG_PROP_TRAN_MSG, &x->props2);
        buf_reset(&x->props);
        buf_append(&x->props, x->props2.data, x->props2.len);
        int32_t sysflag = (m.sysflag & ~MSG_SYSFLAG_TRANSACTION_MASK) | MSG_SYSFLAG_TRANSACTION_COMMIT;
        rv = x->props.err ? x->props.err : encode_as(x, &m, topic, atoi(qs), sysflag, op->commit_off);
        if (rv == 0)
            rv = encode_end(x, op->decision, off, topic, atoi(qs), &b->limits, &m);
    } else {
        rv = encode_end(x, op->decision, off, NULL, 0, &b->limits, &m);
    }
    if (rv) {
        snprintf(remark, sizeof remark, "build committed message: %s", tern_strerror(rv));
        op_reply(op, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    e->pending = 1;
    rv = submit(x, op);
    if (rv) {
        clear_pending(x, off);
        snprintf(remark, sizeof remark, "transaction decision not accepted: %s", tern_strerror(rv));
        op_reply(op, rv == TERN_E_BUSY ? CODES_RESP_SYSTEM_BUSY : CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
    }
}

void txn_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct txn *x = b->txn;
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 128];
    struct headers_client_endtx_req h;
    if (headers_client_endtx_req_decode(&h, req, &b->limits, err) != 0) {
        end_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    uint8_t decision;
    switch (h.commit_or_rollback) {
    case HEADERS_TX_NOT_TYPE:
        broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, "transaction state unknown: the broker will check back");
        return;
    case HEADERS_TX_COMMIT:
        decision = TXN_DECIDE_COMMIT;
        break;
    case HEADERS_TX_ROLLBACK:
        decision = TXN_DECIDE_ROLLBACK;
        break;
    default:
        snprintf(remark, sizeof remark, "commitOrRollback %d: must be 0 (unknown), 8 (commit) or 12 (rollback)",
                 h.commit_or_rollback);
        end_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, remark);
        return;
    }
    if (!grouprepl_writable(b)) {
        snprintf(remark, sizeof remark, "broker %s is not the leader of its group, try again", b->addr);
        end_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
        return;
    }
    if (h.commit_log_offset < 0 || h.tran_state_table_offset < 0) {
        end_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "commitLogOffset and tranStateTableOffset must be >= 0");
        return;
    }
    if (h.producer_group.len >= sizeof ((struct txn_op *)0)->group) {
        end_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "producerGroup too long");
        return;
    }
    struct topic *tp = topics_find(b->topics, TXN_HALF_TOPIC);
    struct partlog *pl = NULL;
    uint32_t part_id;
    uint64_t off;
    store_phys_decode((uint64_t)h.commit_log_offset, &part_id, &off);
    if (!tp || topics_partition(b->topics, tp, 0, &pl) != 0 || partlog_id(pl) != part_id) {
        snprintf(remark, sizeof remark,
                 "Find prepared transaction message failed: commitLogOffset %" PRId64 " is not a half message",
                 h.commit_log_offset);
        end_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    if ((uint64_t)h.tran_state_table_offset != off) {
        snprintf(remark, sizeof remark,
                 "The transaction state table offset wrong: %" PRId64 ", half message is at %" PRIu64,
                 h.tran_state_table_offset, off);
        end_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, remark);
        return;
    }
    if (!txn_table_find(&x->t, off)) {
        if (off < x->t.half_next) {
            LOGD("txn", "half offset %" PRIu64 ": duplicate END_TRANSACTION ignored", off);
            broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, "transaction already decided; nothing done");
        } else {
            snprintf(remark, sizeof remark, "Find prepared transaction message failed: no half message at %" PRIu64,
                     off);
            end_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        }
        return;
    }
    struct txn_op *op = op_get(x);
    if (!op) {
        end_error(b, rc, req, CODES_RESP_SYSTEM_BUSY, "out of memory");
        return;
    }
    op->offset = off;
    op->has_reply = true;
    op->commit_off = h.commit_log_offset;
    op->decision = decision;
    memcpy(op->group, h.producer_group.p, h.producer_group.len);
    op->group[h.producer_group.len] = '\0';
    rpc_reply_hold(&op->reply, rc, req);
    end_try(x, op);
}

/* ---- check-back ---------------------------------------------------------- */

static int propose_simple(struct txn *x, uint64_t off)
{
    struct txn_op *op = op_get(x);
    if (!op)
        return TERN_E_NOMEM;
    op->offset = off;
    struct txn_entry *e = txn_table_find(&x->t, off);
    if (e)
        e->pending = 1;
    int rv = submit(x, op);
    if (rv) {
        clear_pending(x, off);
        op_put(op);
    }
    return rv;
}

/* Park a transaction checked too often (RocketMQ 5: TRANS_CHECK_MAX_TIME_TOPIC). */
static void park(struct txn *x, uint64_t off, uint16_t checks)
{
    struct broker *b = x->b;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    int rv = read_half(x, off, &m, err, sizeof err);
    if (rv == 0 && (rv = txn_ensure_topic(b, TXN_PARK_TOPIC)) == 0) {
        char n[16];
        int nl = snprintf(n, sizeof n, "%u", checks);
        buf_reset(&x->props);
        properties_set(m.properties.p, m.properties.len, MSG_PROP_TRANSACTION_CHECK_TIMES, n, (size_t)nl, &x->props);
        rv = x->props.err ? x->props.err : encode_as(x, &m, TXN_PARK_TOPIC, 0, m.sysflag, 0);
        if (rv == 0)
            rv = encode_end(x, TXN_DECIDE_PARK, off, TXN_PARK_TOPIC, 0, &b->limits, &m);
    } else if (rv != 0 && rv != TERN_E_NOTLEADER && rv != TERN_E_BUSY) {
        /* The half message is gone (retention, damage): nothing to park. */
        LOGW("txn", "%s: closing the transaction without a message", err);
        rv = encode_end(x, TXN_DECIDE_ROLLBACK, off, NULL, 0, &b->limits, &m);
    }
    if (rv == 0)
        rv = propose_simple(x, off);
    if (rv)
        LOGW("txn", "half offset %" PRIu64 ": park after %u checks: %s", off, checks, tern_strerror(rv));
    else
        LOGI("txn", "half offset %" PRIu64 ": no decision after %u checks, parked in %s", off, checks, TXN_PARK_TOPIC);
}

static void check(struct txn *x, uint64_t off)
{
    struct broker *b = x->b;
    struct msg_stored m;
    char err[ERRMSG_SIZE], group[256], topic[TOPICS_NAME_MAX], qs[16], uniq[MSGID_MAX_STR], offid[MSGID_MAX_STR];
    if (read_half(x, off, &m, err, sizeof err) != 0) {
        LOGW("txn", "check: %s", err);
        return;
    }
    if (!prop_str(&m, &b->limits, MSG_PROP_PGROUP, group, sizeof group) ||
        !prop_str(&m, &b->limits, MSG_PROP_REAL_TOPIC, topic, sizeof topic) ||
        !prop_str(&m, &b->limits, MSG_PROP_REAL_QID, qs, sizeof qs))
        group[0] = topic[0] = qs[0] = '\0';
    if (!prop_str(&m, &b->limits, MSG_PROP_UNIQ_KEY, uniq, sizeof uniq))
        uniq[0] = '\0';
    struct rpc_conn *rc = group[0] ? clients_producer_conn(b, group, x->rr++) : NULL;
    if (rc) {
        /* The body is the message as the producer sent it (real topic and
         * queue), as AbstractTransactionalMessageCheckListener sends it. */
        buf_reset(&x->props);
        buf_append(&x->props, m.properties.p, m.properties.len);
        struct topic *htp = topics_find(b->topics, TXN_HALF_TOPIC);
        struct partlog *pl = NULL;
        uint64_t commit_off = 0;
        if (htp && topics_partition(b->topics, htp, 0, &pl) == 0)
            commit_off = store_phys_encode(partlog_id(pl), off);
        msgid_offset_encode(&b->store_host, (int64_t)commit_off, offid);
        int rv = encode_as(x, &m, topic, atoi(qs), m.sysflag, 0);
        struct remoting_cmd req;
        remoting_cmd_init(&req);
        remoting_cmd_init_request(&req, CODES_REQ_CHECK_TRANSACTION_STATE);
        struct headers_client_checktx_req h = {
            .topic = slice_of(topic),
            .tran_state_table_offset = (int64_t)off,
            .commit_log_offset = (int64_t)commit_off,
            .msg_id = slice_of(uniq),
            .transaction_id = slice_of(uniq),
            .offset_msg_id = slice_of(offid),
            .bname = slice_of(b->conf.name),
        };
        if (rv == 0)
            rv = headers_client_checktx_req_encode(&h, &req);
        struct iovec iov = {x->rec.data, x->rec.len};
        if (rv == 0)
            rv = rpc_oneway(rc, &req, &iov, 1);
        remoting_cmd_free(&req);
        if (rv == 0)
            x->checks_sent++;
        LOGD("txn", "half offset %" PRIu64 ": check sent to a producer of %s (%s)", off, group, tern_strerror(rv));
    } else {
        LOGD("txn", "half offset %" PRIu64 ": no live producer of group '%s' to check", off, group);
    }
    /* A check counts whether or not a producer answered (as RocketMQ). */
    buf_reset(&x->cmd);
    buf_append_u8(&x->cmd, FSM_CMD_TXN_CHECK);
    buf_append_u8(&x->cmd, 0);
    buf_append_u8(&x->cmd, 0);
    buf_append_u8(&x->cmd, 0);
    buf_append_le64(&x->cmd, off);
    buf_append_le64(&x->cmd, (uint64_t)clock_now_ms());
    if (x->cmd.err == 0)
        propose_simple(x, off);
}

static void tick_cb(uv_timer_t *tm)
{
    struct txn *x = tm->data;
    struct broker *b = x->b;
    if (x->t.open == 0 || !grouprepl_writable(b))
        return;
    int64_t now = clock_now_ms();
    size_t budget = (size_t)(b->conf.txn_check_rate * TICK_MS / 1000);
    if (budget == 0)
        budget = 1;
    if (budget > MAX_DUE_PER_TICK)
        budget = MAX_DUE_PER_TICK;
    if (x->due_cap < budget) {
        uint64_t *nd = realloc(x->due, budget * sizeof *nd);
        if (!nd)
            return;
        x->due = nd;
        x->due_cap = budget;
    }
    /* Collect first: applying without replication changes the table. */
    size_t n = 0;
    for (size_t i = x->t.head; i < x->t.n && n < budget; i++) {
        const struct txn_entry *e = &x->t.e[i];
        if (e->state != TXN_STATE_OPEN || e->pending)
            continue;
        int64_t immunity = e->immunity_ms ? (int64_t)e->immunity_ms : b->conf.txn_timeout_ms;
        int64_t due = e->checks == 0 ? e->prepared_ms + immunity : e->last_check_ms + b->conf.txn_check_interval_ms;
        if (now >= due)
            x->due[n++] = e->offset;
    }
    for (size_t i = 0; i < n; i++) {
        struct txn_entry *e = txn_table_find(&x->t, x->due[i]);
        if (!e || e->pending)
            continue;
        if (e->checks >= b->conf.txn_check_max)
            park(x, e->offset, e->checks);
        else
            check(x, e->offset);
    }
}
