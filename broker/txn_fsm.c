/* Applying the transaction commands (types 20-29) on every member.
 *
 * PREPARE appends the half message (an embedded APPEND to the half topic)
 * and adds an open entry; END appends the decided message (embedded APPEND:
 * the real topic on commit, the park topic after too many checks) and closes
 * the entry, or does nothing when the entry is already closed, which makes a
 * duplicate decision harmless; CHECK counts a check-back.
 *
 * Replay after a restart: the table file records the last command source it
 * holds; older commands are skipped whole. Newer ones re-apply; their
 * embedded APPEND may be skipped by a partition that stored it already, so
 * the half offset of a PREPARE is taken from the table's own counter
 * (half_next), which advances in log order exactly like the half queue. */
#include <string.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/txn.h"
#include "broker/txn_int.h"
#include "src/endian.h"
#include "src/log.h"
#include "tern/error.h"

#define APPEND_TS_AT 8 /* i64 store time inside an APPEND command */

static bool replayed(struct txn *x, uint64_t source)
{
    return source > 0 && source <= x->t.applied;
}

static void mark_applied(struct txn *x, uint64_t source)
{
    if (source > x->t.applied)
        x->t.applied = source;
}

static int apply_prepare(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len,
                         struct store_append_req *req, store_append_cb cb, struct fsm_result *res)
{
    struct txn *x = b->txn;
    if (len < TXN_PREPARE_HDR + 20 || cmd[TXN_PREPARE_HDR] != FSM_CMD_APPEND) {
        LOGE("txn", "log position %llu: malformed PREPARE command", (unsigned long long)source);
        return TERN_E_MALFORMED;
    }
    uint32_t immunity = le32_load(cmd + 4);
    const uint8_t *inner = cmd + TXN_PREPARE_HDR;
    int rv = fsm_apply(b, source, inner, len - TXN_PREPARE_HDR, req, cb, res);
    if (rv != 0 || res->status != 0 || replayed(x, source))
        return rv;
    uint64_t first = x->t.half_next;
    if (!res->skipped && res->first_offset != first) {
        /* The half queue moved without us (e.g. the table file is older
         * than a partition restored from elsewhere): trust the queue. */
        LOGW("txn", "half queue at %llu, transaction table expected %llu", (unsigned long long)res->first_offset,
             (unsigned long long)first);
        first = res->first_offset;
    }
    int64_t ts = (int64_t)le64_load(inner + APPEND_TS_AT);
    for (uint32_t i = 0; i < res->count; i++) {
        int arv = txn_table_add(&x->t, first + i, ts, immunity);
        if (arv)
            LOGE("txn", "half offset %llu: cannot track transaction: %s", (unsigned long long)(first + i),
                 tern_strerror(arv));
    }
    x->t.half_next = first + res->count;
    mark_applied(x, source);
    return 0;
}

static int apply_end(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct fsm_result *res)
{
    struct txn *x = b->txn;
    uint8_t decision = len >= TXN_END_HDR ? cmd[1] : 0;
    if (len < TXN_END_HDR || decision < TXN_DECIDE_COMMIT || decision > TXN_DECIDE_PARK ||
        (decision == TXN_DECIDE_ROLLBACK) != (len == TXN_END_HDR) ||
        (len > TXN_END_HDR && cmd[TXN_END_HDR] != FSM_CMD_APPEND)) {
        LOGE("txn", "log position %llu: malformed END command", (unsigned long long)source);
        return TERN_E_MALFORMED;
    }
    uint64_t off = le64_load(cmd + 4);
    if (replayed(x, source)) {
        res->skipped = true;
        return 0;
    }
    struct txn_entry *e = txn_table_find(&x->t, off);
    if (!e) {
        /* Decided before: a duplicate END does nothing. */
        res->skipped = true;
        mark_applied(x, source);
        return 0;
    }
    if (len > TXN_END_HDR) {
        int rv = fsm_apply(b, source, cmd + TXN_END_HDR, len - TXN_END_HDR, NULL, NULL, res);
        if (rv != 0)
            return rv;
        if (res->status == TERN_E_TOPIC_NOT_EXIST) {
            /* Deterministic on every member: the transaction stays open
             * and the check-back will ask again. */
            e->pending = 0;
            mark_applied(x, source);
            return 0;
        }
        if (res->status != 0)
            LOGE("txn", "half offset %llu: decided, but the append failed: %s", (unsigned long long)off,
                 tern_strerror(res->status));
        res->skipped = false;
    }
    txn_table_done(&x->t, e);
    x->decided[decision]++;
    mark_applied(x, source);
    return 0;
}

static int apply_check(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct fsm_result *res)
{
    struct txn *x = b->txn;
    if (len != TXN_CHECK_LEN) {
        LOGE("txn", "log position %llu: malformed CHECK command", (unsigned long long)source);
        return TERN_E_MALFORMED;
    }
    if (replayed(x, source)) {
        res->skipped = true;
        return 0;
    }
    struct txn_entry *e = txn_table_find(&x->t, le64_load(cmd + 4));
    if (e) {
        if (e->checks < UINT16_MAX)
            e->checks++;
        e->last_check_ms = (int64_t)le64_load(cmd + 12);
        e->pending = 0;
    } else {
        res->skipped = true;
    }
    mark_applied(x, source);
    return 0;
}

int txn_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct store_append_req *req,
              store_append_cb cb, struct fsm_result *res)
{
    if (!b->txn)
        return TERN_E_MALFORMED;
    switch (cmd[0]) {
    case FSM_CMD_TXN_PREPARE:
        return apply_prepare(b, source, cmd, len, req, cb, res);
    case FSM_CMD_TXN_END:
        return apply_end(b, source, cmd, len, res);
    case FSM_CMD_TXN_CHECK:
        return apply_check(b, source, cmd, len, res);
    default:
        LOGE("txn", "log position %llu: unknown transaction command %u", (unsigned long long)source, cmd[0]);
        return TERN_E_MALFORMED;
    }
}

int txn_encode_prepare(struct buf *out, uint32_t immunity_ms, const void *append, size_t n)
{
    buf_append_u8(out, FSM_CMD_TXN_PREPARE);
    buf_append_u8(out, 0);
    buf_append_u8(out, 0);
    buf_append_u8(out, 0);
    buf_append_le32(out, immunity_ms);
    buf_append(out, append, n);
    return out->err;
}
