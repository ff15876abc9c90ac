/* raft_fsm adapter: committed raft entries -> per-command replica_fsm calls.
 *
 * Happy path: raft applies entry i (last_applied + 1) -> decode -> apply each
 * command with its result slot -> raft fires the leader's request callback,
 * which reads the results via replica_sm_results.
 * Failure modes: a malformed entry is logged loudly and skipped on every
 * member alike (same bytes everywhere), its commands reported E_CORRUPT; a
 * caller apply that returns non-zero stops raft, which retries the entry
 * later; a snapshot while the caller is not durable far enough returns
 * RAFT_BUSY and raft retries after a later apply. */
#include "broker/replica_sm.h"

#include <stdlib.h>
#include <string.h>

#include "broker/replica_entry.h"
#include "src/endian.h"
#include "src/log.h"
#include "tern/error.h"

#define TUNE_EVERY 64
#define MIN_THRESHOLD 16u
#define MAX_THRESHOLD (1u << 20)

static struct replica_sm *sm_of(struct raft_fsm *f)
{
    return f->data;
}

static int ensure_results(struct replica_sm *sm, uint32_t n)
{
    if (n <= sm->results_cap)
        return 0;
    uint32_t cap = sm->results_cap ? sm->results_cap : 16;
    while (cap < n)
        cap *= 2;
    struct replica_result *p = realloc(sm->results, cap * sizeof *p);
    if (!p)
        return -1;
    sm->results = p;
    sm->results_cap = cap;
    return 0;
}

static int sm_apply(struct raft_fsm *f, const struct raft_buffer *rb, void **result)
{
    struct replica_sm *sm = sm_of(f);
    uint64_t index = raft_last_applied(sm->raft) + 1;
    struct replica_entry_view v;
    *result = NULL;
    int rc = replica_entry_decode(rb->base, rb->len, &v, sm->errmsg);
    if (rc == TERN_E_NOMEM)
        return RAFT_NOMEM; /* transient: raft retries */
    if (rc != 0) {
        /* Every member holds the same bytes, so skipping is deterministic. */
        sm->malformed++;
        LOGE("replica", "entry %llu (%zu bytes) skipped: %s", (unsigned long long)index, rb->len,
             sm->errmsg);
        sm->results_index = index;
        sm->results_n = 0;
        return 0;
    }
    if (ensure_results(sm, v.count) != 0) {
        replica_entry_view_free(&v);
        return RAFT_NOMEM;
    }
    struct replica_entry_iter it;
    replica_entry_iter_init(&it, &v);
    const uint8_t *cmd;
    size_t len;
    uint32_t i = 0;
    while (replica_entry_iter_next(&it, &cmd, &len)) {
        struct replica_result *res = &sm->results[i];
        memset(res, 0, sizeof *res);
        if (sm->fsm.apply(sm->arg, index, i, cmd, len, res) != 0) {
            replica_entry_view_free(&v);
            sm->results_n = 0;
            return RAFT_IOERR;
        }
        i++;
    }
    replica_entry_view_free(&v);
    sm->results_index = index;
    sm->results_n = i;
    sm->bytes_applied += rb->len;
    sm->entries_applied++;
    *result = sm;
    if (sm->entries_applied % TUNE_EVERY == 0)
        replica_sm_tune(sm);
    return 0;
}

static int sm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct replica_sm *sm = sm_of(f);
    uint64_t index = raft_last_applied(sm->raft);
    uint64_t durable = 0;
    if (sm->fsm.durable_index(sm->arg, &durable) != 0 || durable < index) {
        /* Raft would delete log entries whose effects could still be lost;
         * it retries after a later apply (RAFT-NOTES §5). */
        sm->snapshots_busy++;
        return RAFT_BUSY;
    }
    struct buf b;
    buf_init(&b);
    uint8_t *h = buf_extend(&b, REPLICA_SM_SNAP_HDR);
    if (h) {
        le32_store(h, REPLICA_SM_SNAP_MAGIC);
        le32_store(h + 4, 1);
        le64_store(h + 8, index);
    }
    int rc = sm->fsm.snapshot(sm->arg, &b);
    if (rc != 0 || b.err) {
        buf_free(&b);
        return RAFT_NOMEM;
    }
    /* Raft frees both with raft_free (fsm version 2, no finalize). */
    struct raft_buffer *arr = raft_malloc(sizeof *arr);
    void *data = raft_malloc(b.len);
    if (!arr || !data) {
        raft_free(arr);
        raft_free(data);
        buf_free(&b);
        return RAFT_NOMEM;
    }
    memcpy(data, b.data, b.len);
    arr[0].base = data;
    arr[0].len = b.len;
    buf_free(&b);
    *bufs = arr;
    *n_bufs = 1;
    return 0;
}

static int sm_restore(struct raft_fsm *f, struct raft_buffer *rb)
{
    struct replica_sm *sm = sm_of(f);
    const uint8_t *p = rb->base;
    int rv = 0;
    if (rb->len < REPLICA_SM_SNAP_HDR || le32_load(p) != REPLICA_SM_SNAP_MAGIC ||
        le32_load(p + 4) != 1) {
        LOGE("replica", "snapshot rejected: bad envelope (%zu bytes)", rb->len);
        rv = RAFT_MALFORMED;
    } else if (sm->fsm.restore(sm->arg, le64_load(p + 8), p + REPLICA_SM_SNAP_HDR,
                               rb->len - REPLICA_SM_SNAP_HDR) != 0) {
        rv = RAFT_MALFORMED;
    }
    /* On success the buffer is ours to free (raft.h); on failure raft keeps it. */
    if (rv == 0)
        raft_free(rb->base);
    return rv;
}

void replica_sm_init(struct replica_sm *sm, const struct replica_fsm *fsm, void *arg,
                     uint64_t snapshot_budget)
{
    memset(sm, 0, sizeof *sm);
    sm->fsm = *fsm;
    sm->arg = arg;
    sm->snapshot_budget = snapshot_budget;
    sm->raft_fsm.version = 2;
    sm->raft_fsm.data = sm;
    sm->raft_fsm.apply = sm_apply;
    sm->raft_fsm.snapshot = sm_snapshot;
    sm->raft_fsm.restore = sm_restore;
    sm->raft_fsm.snapshot_finalize = NULL;
}

void replica_sm_bind(struct replica_sm *sm, struct raft *raft)
{
    sm->raft = raft;
    replica_sm_tune(sm);
}

void replica_sm_close(struct replica_sm *sm)
{
    free(sm->results);
    sm->results = NULL;
    sm->results_cap = 0;
}

const struct replica_result *replica_sm_results(struct replica_sm *sm, uint64_t index, uint32_t *n)
{
    if (sm->results_index != index)
        return NULL;
    *n = sm->results_n;
    return sm->results;
}

void replica_sm_tune(struct replica_sm *sm)
{
    if (!sm->raft || sm->snapshot_budget == 0)
        return;
    /* Until entries were seen assume 64 KiB entries (a typical batch). */
    uint64_t avg = sm->entries_applied ? sm->bytes_applied / sm->entries_applied : 65536;
    if (avg == 0)
        avg = 1;
    uint64_t n = sm->snapshot_budget / avg;
    if (n < MIN_THRESHOLD)
        n = MIN_THRESHOLD;
    if (n > MAX_THRESHOLD)
        n = MAX_THRESHOLD;
    /* Same for trailing: memory ~ (threshold + trailing) * avg = 2 budgets. */
    raft_set_snapshot_threshold(sm->raft, (unsigned)n);
    raft_set_snapshot_trailing(sm->raft, (unsigned)n);
}
