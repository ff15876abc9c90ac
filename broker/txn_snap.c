/* Transaction table <-> catch-up snapshot (txn_snap.h).
 *
 * Happy path: the snapshot callback runs right after the snapshot's index is
 * applied, so the table written is exactly the state at that index. Restore
 * replaces the table and persists it as txn.bin. Failure modes: a value that
 * is not the expected shape, an entry out of order or at/after halfNext:
 * TERN_E_MALFORMED, the member's table untouched. */
#include "broker/txn_snap.h"

#include <inttypes.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/txn.h"
#include "broker/txn_int.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

void txn_snap_encode(const struct txn_table *t, struct jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "applied");
    jsonw_uint(w, t->applied);
    jsonw_key(w, "halfNext");
    jsonw_uint(w, t->half_next);
    jsonw_key(w, "open");
    jsonw_arr_begin(w);
    for (size_t i = t->head; i < t->n; i++) {
        const struct txn_entry *e = &t->e[i];
        if (e->state != TXN_STATE_OPEN)
            continue;
        jsonw_arr_begin(w);
        jsonw_uint(w, e->offset);
        jsonw_int(w, e->prepared_ms);
        jsonw_int(w, e->last_check_ms);
        jsonw_uint(w, e->immunity_ms);
        jsonw_uint(w, e->checks);
        jsonw_arr_end(w);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
}

static bool get_u64(json_t *j, uint64_t *v)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *v = (uint64_t)json_integer_value(j);
    return true;
}

int txn_snap_decode(struct txn_table *t, json_t *o, char *errmsg)
{
    uint64_t applied, half_next;
    json_t *open = json_object_get(o, "open");
    txn_table_free(t);
    if (!json_is_object(o) || !get_u64(json_object_get(o, "applied"), &applied) ||
        !get_u64(json_object_get(o, "halfNext"), &half_next) || !json_is_array(open)) {
        errmsg_printf(errmsg, "transaction table: expected applied, halfNext and open");
        return TERN_E_MALFORMED;
    }
    size_t i;
    json_t *it;
    json_array_foreach(open, i, it)
    {
        uint64_t off, prep, last, imm, checks;
        if (!json_is_array(it) || json_array_size(it) != 5 || !get_u64(json_array_get(it, 0), &off) ||
            !get_u64(json_array_get(it, 1), &prep) || !get_u64(json_array_get(it, 2), &last) ||
            !get_u64(json_array_get(it, 3), &imm) || !get_u64(json_array_get(it, 4), &checks) ||
            imm > UINT32_MAX || checks > UINT16_MAX) {
            errmsg_printf(errmsg, "transaction table: entry %zu malformed", i);
            goto bad;
        }
        int rv = off < half_next ? txn_table_add(t, off, (int64_t)prep, (uint32_t)imm) : TERN_E_INVAL;
        if (rv == TERN_E_NOMEM) {
            errmsg_printf(errmsg, "transaction table: out of memory at entry %zu", i);
            txn_table_free(t);
            return rv;
        }
        if (rv) {
            errmsg_printf(errmsg, "transaction table: entry %zu (offset %" PRIu64 ") out of order or past halfNext %" PRIu64,
                          i, off, half_next);
            goto bad;
        }
        t->e[t->n - 1].last_check_ms = (int64_t)last;
        t->e[t->n - 1].checks = (uint16_t)checks;
    }
    t->applied = applied;
    t->half_next = half_next;
    return 0;
bad:
    txn_table_free(t);
    return TERN_E_MALFORMED;
}

void txn_snap_write(struct broker *b, struct jsonw *w)
{
    static const struct txn_table empty;
    struct txn *x = b->txn;
    txn_snap_encode(x ? &x->t : &empty, w);
}

int txn_snap_restore(struct broker *b, json_t *o, bool starting, char *errmsg)
{
    struct txn *x = b->txn;
    if (!x)
        return 0;
    if (!o) {
        LOGW("txn", "snapshot has no transaction table (older format): keeping this member's (%zu open)", x->t.open);
        return 0;
    }
    struct txn_table t;
    txn_table_init(&t);
    int rv = txn_snap_decode(&t, o, errmsg);
    if (rv) {
        errmsg_wrapf(errmsg, "snapshot");
        return rv;
    }
    /* At start txn.bin was written with this very snapshot (or later):
     * keep it unless it is behind (a crash during an install). */
    if (starting && x->t.applied >= t.applied) {
        txn_table_free(&t);
        return 0;
    }
    LOGI("txn", "transaction table from the snapshot: %zu open (was %zu), half queue next %" PRIu64, t.open,
         x->t.open, t.half_next);
    txn_table_free(&x->t);
    x->t = t;
    return txn_table_save(&x->t, x->dir, &x->file, errmsg);
}
