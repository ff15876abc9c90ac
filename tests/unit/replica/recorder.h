/* A recording replica_fsm shared by the replica tests: it remembers every
 * (index, command) it applied, checks they arrive in strictly increasing
 * order, and can pretend to have made everything up to `durable` durable so
 * it skips re-applies after a restart the way the broker's partition logs do. */
#ifndef TERN_TEST_REPLICA_RECORDER_H
#define TERN_TEST_REPLICA_RECORDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/replica.h"
#include "src/endian.h"

#define REC_DATA_MAX 64

struct rec_item {
    uint64_t index;
    uint32_t cmd_no;
    uint32_t len;
    uint8_t data[REC_DATA_MAX];
};

struct recorder {
    struct rec_item *v;
    size_t n, cap;
    uint64_t last_index; /* (last_index, last_cmd) of the last apply seen */
    int64_t last_cmd;
    uint64_t durable;     /* applies at or below this index are skipped */
    bool durable_follows; /* durable tracks every apply (in-memory "durable") */
    uint64_t durable_lag; /* durable_index reports durable - lag */
    uint64_t skipped;     /* re-applies skipped because already durable */
    uint64_t violations;  /* out-of-order or repeated applies above durable */
    uint64_t restores;
    uint64_t snapshots;
    uint64_t restore_skipped;
};

static inline void rec_init(struct recorder *c, bool durable_follows)
{
    memset(c, 0, sizeof *c);
    c->last_cmd = -1;
    c->durable_follows = durable_follows;
}

static inline void rec_free(struct recorder *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Payloads are "<id>:<filler>"; the result carries the id back. */
static inline int64_t rec_payload_id(const uint8_t *p, size_t len)
{
    int64_t id = 0;
    for (size_t i = 0; i < len && p[i] != ':'; i++)
        id = id * 10 + (p[i] - '0');
    return id;
}

static inline int rec_apply(void *arg, uint64_t index, uint32_t cmd_no, const uint8_t *cmd,
                            size_t len, struct replica_result *res)
{
    struct recorder *c = arg;
    res->val[0] = rec_payload_id(cmd, len);
    res->val[1] = (int64_t)index;
    res->val[2] = cmd_no;
    if (index <= c->durable) {
        c->skipped++;
        return 0;
    }
    if (index < c->last_index || (index == c->last_index && (int64_t)cmd_no <= c->last_cmd))
        c->violations++;
    c->last_index = index;
    c->last_cmd = cmd_no;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
    }
    struct rec_item *it = &c->v[c->n++];
    memset(it, 0, sizeof *it);
    it->index = index;
    it->cmd_no = cmd_no;
    it->len = (uint32_t)len;
    memcpy(it->data, cmd, len < REC_DATA_MAX ? len : REC_DATA_MAX);
    return 0;
}

/* Called by the adapter after an entry's commands: in-memory durability. */
static inline int rec_durable_index(void *arg, uint64_t *index)
{
    struct recorder *c = arg;
    uint64_t d = c->durable_follows ? c->last_index : c->durable;
    if (c->durable_follows && c->durable > d)
        d = c->durable;
    *index = d > c->durable_lag ? d - c->durable_lag : 0;
    return 0;
}

static inline int rec_snapshot(void *arg, struct buf *out)
{
    struct recorder *c = arg;
    c->snapshots++;
    buf_append_le64(out, c->n);
    for (size_t i = 0; i < c->n; i++)
        buf_append(out, &c->v[i], sizeof c->v[i]);
    return out->err;
}

static inline int rec_restore(void *arg, uint64_t index, const uint8_t *p, size_t len)
{
    struct recorder *c = arg;
    if (len < 8)
        return -1;
    uint64_t n = le64_load(p);
    if (n > (len - 8) / sizeof(struct rec_item) || (len - 8) != n * sizeof(struct rec_item))
        return -1;
    c->restores++;
    if (index <= c->last_index && c->n > 0) {
        /* Our own state is at least as new. */
        c->restore_skipped++;
        return 0;
    }
    free(c->v);
    c->cap = n ? n : 1;
    c->v = malloc(c->cap * sizeof *c->v);
    memcpy(c->v, p + 8, n * sizeof *c->v);
    c->n = n;
    c->last_index = index;
    c->last_cmd = INT64_MAX; /* everything at `index` is covered */
    if (c->durable < index && c->durable_follows)
        c->durable = index;
    return 0;
}

static inline struct replica_fsm rec_fsm(void)
{
    struct replica_fsm f = {
        .apply = rec_apply,
        .snapshot = rec_snapshot,
        .durable_index = rec_durable_index,
        .restore = rec_restore,
    };
    return f;
}

/* How many records hold payload id. */
static inline unsigned rec_count_id(const struct recorder *c, int64_t id)
{
    unsigned k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (rec_payload_id(c->v[i].data, c->v[i].len < REC_DATA_MAX ? c->v[i].len : REC_DATA_MAX) ==
            id)
            k++;
    return k;
}

#endif
