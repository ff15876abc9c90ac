/* struct tern_txn_producer: half-message sends, the local transaction, and
 * answers to the broker's check-backs (RocketMQ TransactionMQProducer).
 *
 * Happy path: the message goes out through an ordinary tern_producer with
 * TRAN_MSG=true and PGROUP added (producer.c sets sysFlag PREPARED for
 * it); when the broker stored it, the local callback decides and the
 * decision goes to the same broker group's master as a oneway
 * END_TRANSACTION naming the half message (commitLogOffset from the
 * offsetMsgId, tranStateTableOffset = its queue offset). A
 * CHECK_TRANSACTION_STATE from a broker is answered on the connection it
 * came in on, with fromTransactionCheck=true.
 * Failure modes: a lost END (oneway) or an UNKNOWN answer leaves the
 * transaction to the broker's check-back; a check for a group this client
 * does not produce is ignored (the broker asks another producer later). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/libtern.h"
#include "client/rmsg.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "src/errmsg.h"
#include "src/log.h"

#define TXN_POOL_MAX 256

struct txn_send {
    struct tern_txn_producer *tp;
    tern_txn_local_cb local;
    tern_send_cb cb;
    void *arg;
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    struct txn_send *next;
};

struct tern_txn_producer {
    struct tern_client *c;
    struct tern_producer *p;
    char group[LIBTERN_NAME_MAX];
    tern_txn_check_cb check;
    void *check_arg;
    struct tern_prop *props; /* the user's properties + TRAN_MSG + PGROUP */
    size_t props_cap;
    struct txn_send *pool;
    size_t npool;
    uint64_t checks;
    char hb_addr[LIBTERN_ADDR_MAX]; /* broker last told about this group */
    struct tern_txn_producer *next;
};

int tern_txn_producer_new(struct tern_client *c, const struct tern_producer_opts *opts, tern_txn_check_cb check,
                          void *check_arg, struct tern_txn_producer **out)
{
    if (!c || !opts || !check || !out)
        return TERN_E_INVAL;
    struct tern_txn_producer *tp = calloc(1, sizeof *tp);
    if (!tp)
        return TERN_E_NOMEM;
    int rv = tern_producer_new(c, opts, &tp->p);
    if (rv) {
        free(tp);
        return rv;
    }
    tp->c = c;
    snprintf(tp->group, sizeof tp->group, "%s", opts->group);
    tp->check = check;
    tp->check_arg = check_arg;
    tp->next = c->txn_producers;
    c->txn_producers = tp;
    *out = tp;
    return 0;
}

uint64_t tern_txn_producer_checks(const struct tern_txn_producer *tp)
{
    return tp ? tp->checks : 0;
}

void txn_producer_free_all(struct tern_client *c)
{
    struct tern_txn_producer *tp = c->txn_producers;
    c->txn_producers = NULL;
    while (tp) {
        struct tern_txn_producer *next = tp->next;
        while (tp->pool) {
            struct txn_send *ts = tp->pool;
            tp->pool = ts->next;
            free(ts);
        }
        free(tp->props);
        free(tp);
        tp = next;
    }
}

static void send_put(struct txn_send *ts)
{
    struct tern_txn_producer *tp = ts->tp;
    if (tp->npool >= TXN_POOL_MAX) {
        free(ts);
        return;
    }
    ts->next = tp->pool;
    tp->pool = ts;
    tp->npool++;
}

/* Send END_TRANSACTION oneway on rc, or to addr when rc is NULL. */
static int send_end(struct tern_client *c, struct rpc_conn *rc, const char *addr, const char *group,
                    int64_t table_offset, int64_t commit_offset, enum tern_txn_state st, bool from_check,
                    const char *msg_id, const char *txn_id)
{
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_END_TRANSACTION);
    struct headers_client_endtx_req h = {
        .producer_group = slice_of(group),
        .tran_state_table_offset = table_offset,
        .commit_log_offset = commit_offset,
        .commit_or_rollback = (int32_t)st,
        .has_from_transaction_check = true,
        .from_transaction_check = from_check,
        .msg_id = slice_of(msg_id),
        .transaction_id = slice_of(txn_id && *txn_id ? txn_id : msg_id),
    };
    int rv = headers_client_endtx_req_encode(&h, cmd);
    if (rv)
        return rv;
    return rc ? rpc_oneway(rc, cmd, NULL, 0) : peer_oneway(c, addr, cmd, NULL, 0);
}

static void half_sent(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct txn_send *ts = arg;
    struct tern_txn_producer *tp = ts->tp;
    struct tern_client *c = tp->c;
    if (err) {
        ts->cb(err, errmsg, NULL, ts->arg);
        send_put(ts);
        return;
    }
    enum tern_txn_state st = ts->local ? ts->local(res, ts->arg) : TERN_TXN_UNKNOWN;
    struct msg_host host;
    int64_t phys = -1;
    const char *oid = res->offset_msg_id ? res->offset_msg_id : "";
    struct routes_topic *r = routes_find(c, ts->topic);
    const char *addr = r ? routes_master(r, res->broker_name) : NULL;
    int rv = 0;
    char derr[ERRMSG_SIZE];
    if (msgid_offset_decode(oid, strlen(oid), &host, &phys, derr) != 0 || !addr) {
        rv = TERN_E_NOTFOUND;
    } else if (st != TERN_TXN_UNKNOWN) {
        rv = send_end(c, NULL, addr, tp->group, res->queue_offset, phys, st, false, res->msg_id, res->msg_id);
    }
    if (rv)
        LOGW("client", "transaction %s: END_TRANSACTION not sent (%s); the broker will check back", res->msg_id,
             tern_strerror(rv));
    if (addr && strcmp(addr, tp->hb_addr) != 0) {
        /* Register the group with this broker now, not at the next periodic
         * heartbeat: its check-backs need a live producer to ask. */
        snprintf(tp->hb_addr, sizeof tp->hb_addr, "%s", addr);
        libtern_heartbeat(c, addr);
    }
    ts->cb(0, "", res, ts->arg);
    send_put(ts);
}

int tern_txn_producer_send(struct tern_txn_producer *tp, const struct tern_send_msg *m, tern_txn_local_cb local,
                           tern_send_cb cb, void *arg)
{
    if (!tp || !m || !cb || !m->topic || strlen(m->topic) > LIMITS_MAX_TOPIC_SYSTEM)
        return TERN_E_INVAL;
    if (m->delay_level != 0) {
        errmsg_printf(tp->c->errmsg, "transactional messages cannot be delayed");
        return TERN_E_INVAL;
    }
    if (tp->props_cap < m->prop_count + 2) {
        struct tern_prop *np = realloc(tp->props, (m->prop_count + 2) * sizeof *np);
        if (!np)
            return TERN_E_NOMEM;
        tp->props = np;
        tp->props_cap = m->prop_count + 2;
    }
    for (size_t i = 0; i < m->prop_count; i++)
        tp->props[i] = m->props[i];
    tp->props[m->prop_count] = (struct tern_prop){MSG_PROP_TRAN_MSG, "true"};
    tp->props[m->prop_count + 1] = (struct tern_prop){MSG_PROP_PGROUP, tp->group};
    struct tern_send_msg hm = *m;
    hm.props = tp->props;
    hm.prop_count = m->prop_count + 2;
    struct txn_send *ts = tp->pool;
    if (ts) {
        tp->pool = ts->next;
        tp->npool--;
    } else if (!(ts = malloc(sizeof *ts))) {
        return TERN_E_NOMEM;
    }
    memset(ts, 0, sizeof *ts);
    ts->tp = tp;
    ts->local = local;
    ts->cb = cb;
    ts->arg = arg;
    snprintf(ts->topic, sizeof ts->topic, "%s", m->topic);
    int rv = tern_producer_send(tp->p, &hm, half_sent, ts);
    if (rv)
        send_put(ts);
    return rv;
}

/* CHECK_TRANSACTION_STATE from a broker (peer.c). */
void txn_producer_on_check(struct tern_client *c, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE];
    struct headers_client_checktx_req h;
    if (headers_client_checktx_req_decode(&h, req, &limits_default, err) != 0) {
        LOGW("client", "CHECK_TRANSACTION_STATE ignored: %s", err);
        return;
    }
    struct rmsg_batch batch;
    memset(&batch, 0, sizeof batch);
    if (rmsg_batch_decode(&batch, (const uint8_t *)req->body.p, req->body.len, "", NULL, err) != 0 ||
        batch.n != 1) {
        LOGW("client", "CHECK_TRANSACTION_STATE ignored: %s", batch.n != 1 ? "body is not one message" : err);
        rmsg_batch_free(&batch);
        return;
    }
    const struct tern_msg *m = &batch.msgs[0];
    const char *group = tern_msg_property(m, MSG_PROP_PGROUP);
    struct tern_txn_producer *tp = c->txn_producers;
    while (tp && (!group || strcmp(tp->group, group) != 0))
        tp = tp->next;
    if (!tp) {
        LOGW("client", "CHECK_TRANSACTION_STATE for group %s: no transactional producer here", group ? group : "?");
        rmsg_batch_free(&batch);
        return;
    }
    enum tern_txn_state st = tp->check(m, tp->check_arg);
    tp->checks++;
    char txn_id[MSGID_MAX_STR + 64];
    snprintf(txn_id, sizeof txn_id, "%.*s", (int)h.transaction_id.len, h.transaction_id.p ? h.transaction_id.p : "");
    const char *uniq = m->uniq ? m->uniq : txn_id;
    if (st != TERN_TXN_UNKNOWN) {
        int rv = send_end(c, rc, NULL, tp->group, h.tran_state_table_offset, h.commit_log_offset, st, true, uniq,
                          txn_id);
        if (rv)
            LOGW("client", "transaction %s: answer to the check not sent: %s", uniq, tern_strerror(rv));
    }
    rmsg_batch_free(&batch);
}
