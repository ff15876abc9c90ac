/* Delay lanes <-> catch-up snapshot (delay_snap.h).
 *
 * Why the head is carried: a record lands in bucket max(due bucket, cursor
 * bucket at its apply), so the cursor bucket also holds overdue records
 * whose position depends on history; later buckets hold exactly the records
 * due in them, in lane-offset order, and can be rebuilt from the lane
 * partition alone. Restore rebuilds the index so every position at or after
 * the cursor is the same as on the snapshot's source, and DELIVER commands
 * (which name bucket and positions) apply identically.
 * Failure modes: a malformed lane object is TERN_E_MALFORMED; a lane
 * partition that cannot be read is the partition's error; the member's
 * index is replaced only after the snapshot parsed. */
#include "broker/delay_snap.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delay.h"
#include "broker/topics.h"
#include "protocol/properties.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define SCAN_BATCH 256

int delay_snap_encode(struct delayidx *x, struct jsonw *w)
{
    jsonw_obj_begin(w);
    jsonw_kv_int(w, "bucketMs", x->bucket_ms);
    jsonw_kv_int(w, "curBucket", x->cur_bucket);
    jsonw_kv_int(w, "curIdx", x->cur_idx);
    jsonw_key(w, "indexedNext");
    jsonw_uint(w, x->indexed_next);
    jsonw_key(w, "lastSource");
    jsonw_uint(w, x->last_source);
    jsonw_key(w, "head");
    jsonw_arr_begin(w);
    int rv = 0;
    if (x->cur_bucket >= 0) {
        struct delayidx_ent e[SCAN_BATCH];
        uint32_t at = x->cur_idx, n;
        do {
            rv = delayidx_read(x, x->cur_bucket, at, e, SCAN_BATCH, &n);
            for (uint32_t i = 0; rv == 0 && i < n; i++) {
                jsonw_arr_begin(w);
                jsonw_int(w, e[i].due_ms);
                jsonw_uint(w, e[i].lane_off);
                jsonw_arr_end(w);
            }
            at += n;
        } while (rv == 0 && n == SCAN_BATCH);
    }
    jsonw_arr_end(w);
    jsonw_obj_end(w);
    return rv;
}

static bool get_i64(json_t *j, int64_t lo, int64_t hi, int64_t *v)
{
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return *v >= lo && *v <= hi;
}

void delay_snap_lane_free(struct delay_snap_lane *l)
{
    free(l->head);
    l->head = NULL;
    l->nhead = 0;
}

int delay_snap_decode(json_t *o, int64_t bucket_ms, struct delay_snap_lane *out, char *errmsg)
{
    memset(out, 0, sizeof *out);
    int64_t bms, cb, ci, in, ls;
    json_t *head = json_object_get(o, "head");
    if (!json_is_object(o) || !get_i64(json_object_get(o, "bucketMs"), 1, INT64_MAX, &bms) ||
        !get_i64(json_object_get(o, "curBucket"), -1, INT64_MAX, &cb) ||
        !get_i64(json_object_get(o, "curIdx"), 0, UINT32_MAX, &ci) ||
        !get_i64(json_object_get(o, "indexedNext"), 0, INT64_MAX, &in) ||
        !get_i64(json_object_get(o, "lastSource"), 0, INT64_MAX, &ls) || !json_is_array(head)) {
        errmsg_printf(errmsg, "delay lane: expected bucketMs, curBucket, curIdx, indexedNext, lastSource, head");
        return TERN_E_MALFORMED;
    }
    if (bms != bucket_ms) {
        errmsg_printf(errmsg, "delay lane: built with %" PRId64 " ms buckets, this member uses %" PRId64, bms,
                      bucket_ms);
        return TERN_E_MALFORMED;
    }
    size_t n = json_array_size(head);
    if ((uint64_t)ci + n > UINT32_MAX || (cb < 0 && (ci != 0 || n != 0))) {
        errmsg_printf(errmsg, "delay lane: cursor %" PRId64 "/%" PRId64 " with %zu head records is impossible", cb,
                      ci, n);
        return TERN_E_MALFORMED;
    }
    struct delayidx_ent *e = n ? malloc(n * sizeof *e) : NULL;
    if (n && !e)
        return TERN_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(head, i);
        int64_t due, off;
        /* Head records sit in the cursor bucket: due there or before. */
        if (!json_is_array(r) || json_array_size(r) != 2 || !get_i64(json_array_get(r, 0), INT64_MIN, INT64_MAX, &due) ||
            !get_i64(json_array_get(r, 1), 0, in - 1, &off) || (i > 0 && (uint64_t)off <= e[i - 1].lane_off) ||
            (due > 0 && due / bms > cb)) {
            errmsg_printf(errmsg, "delay lane: head record %zu malformed, out of order or not in the cursor bucket", i);
            free(e);
            return TERN_E_MALFORMED;
        }
        e[i] = (struct delayidx_ent){.due_ms = due, .lane_off = (uint64_t)off};
    }
    *out = (struct delay_snap_lane){.cur_bucket = cb,
                                    .cur_idx = (uint32_t)ci,
                                    .indexed_next = (uint64_t)in,
                                    .last_source = (uint64_t)ls,
                                    .head = e,
                                    .nhead = (uint32_t)n};
    return 0;
}

int delay_snap_write(struct broker *b, struct jsonw *w)
{
    jsonw_arr_begin(w);
    int rv = 0;
    for (int l = 0; l < DELAY_LANES && rv == 0; l++) {
        struct delayidx *x = delay_lane_index(b, l);
        if (x)
            rv = delay_snap_encode(x, w);
        if (rv)
            LOGE("delay", "snapshot: lane %d: %s", l, x->errmsg);
    }
    jsonw_arr_end(w);
    return rv;
}

/* Due time of a lane record as delay_on_append computes it (0 if none). */
static int64_t record_due(struct broker *b, const struct partlog_msg *pm, int64_t *store_ts)
{
    char err[ERRMSG_SIZE], tmp[32];
    struct msg_stored m;
    size_t used;
    struct slice v;
    *store_ts = -1;
    if (message_decode(pm->data, pm->len, &b->limits, 0, &m, &used, err) != 0)
        return 0;
    *store_ts = m.store_timestamp;
    if (!properties_get(m.properties.p, m.properties.len, MSG_PROP_TIMER_OUT_MS, &v) || v.len == 0 ||
        v.len >= sizeof tmp)
        return 0;
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    char *end;
    long long due = strtoll(tmp, &end, 10);
    return *end ? 0 : due;
}

/* Re-index the lane records due after the cursor bucket (below the
 * snapshot's indexedNext) and index any record past it as apply would. */
static int reindex(struct broker *b, struct delayidx *x, struct partlog *pl, const struct delay_snap_lane *s,
                   uint64_t *scanned, char *errmsg)
{
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg *msgs = calloc(SCAN_BATCH, sizeof *msgs);
    if (!msgs) {
        partlog_readbuf_free(&rb);
        return TERN_E_NOMEM;
    }
    int rv = 0;
    uint64_t off = partlog_min_offset(pl), end = partlog_next_offset(pl);
    bool tail = false;
    while (off < end) {
        struct partlog_read_result rr = {0};
        rv = partlog_read(pl, off, SCAN_BATCH, 1u << 20, NULL, &rb, msgs, &rr);
        if (rv == TERN_E_RANGE && rr.min_offset > off) {
            off = rr.min_offset;
            rv = 0;
            continue;
        }
        if (rv) {
            errmsg_printf(errmsg, "delay lane: read lane partition at %" PRIu64 ": %s", off, partlog_errmsg(pl));
            break;
        }
        if (rr.n == 0)
            break;
        for (uint32_t i = 0; i < rr.n && rv == 0; i++) {
            const struct partlog_msg *pm = &msgs[i];
            int64_t ts;
            int64_t due = record_due(b, pm, &ts);
            (*scanned)++;
            if (pm->offset < s->indexed_next) {
                if (s->cur_bucket >= 0 && delayidx_bucket_of(x, due) > s->cur_bucket)
                    rv = delayidx_insert(x, pm->offset, due);
                continue;
            }
            if (!tail) { /* applied after the snapshot (a start-time rebuild) */
                tail = true;
                if (x->indexed_next < s->indexed_next)
                    x->indexed_next = s->indexed_next;
            }
            if (x->cur_bucket < 0 && ts >= 0)
                x->cur_bucket = delayidx_bucket_of(x, ts);
            rv = delayidx_insert(x, pm->offset, due);
        }
        if (rv) {
            errmsg_printf(errmsg, "delay lane: index: %s", x->errmsg);
            break;
        }
        off = msgs[rr.n - 1].offset + 1;
    }
    free(msgs);
    partlog_readbuf_free(&rb);
    return rv;
}

static int restore_lane(struct broker *b, int lane, struct delayidx *x, const struct delay_snap_lane *s,
                        bool starting, char *errmsg)
{
    if (starting ? x->last_source >= s->last_source && x->indexed_next >= s->indexed_next
                 : x->cur_bucket == s->cur_bucket && x->cur_idx == s->cur_idx &&
                       x->indexed_next == s->indexed_next && x->last_source == s->last_source)
        return 0; /* this member's own index is at or past the snapshot */
    struct partlog *pl = NULL;
    struct topic *tp = topics_find(b->topics, DELAY_TOPIC);
    if (tp && (uint32_t)lane < tp->nparts && topics_partition(b->topics, tp, lane, &pl) != 0) {
        errmsg_printf(errmsg, "delay lane %d: %s", lane, b->topics->errmsg);
        return TERN_E_IO;
    }
    if (!pl && s->indexed_next > 0) {
        errmsg_printf(errmsg, "delay lane %d: the snapshot indexed %" PRIu64 " records but the lane partition is absent",
                      lane, s->indexed_next);
        return TERN_E_CORRUPT;
    }
    int rv = delayidx_reset(x, s->cur_bucket, s->cur_idx, s->head, s->nhead);
    uint64_t scanned = 0;
    if (rv == 0 && pl)
        rv = reindex(b, x, pl, s, &scanned, errmsg);
    else if (rv)
        errmsg_printf(errmsg, "delay lane %d: %s", lane, x->errmsg);
    if (rv)
        return rv;
    if (x->indexed_next < s->indexed_next)
        x->indexed_next = s->indexed_next;
    x->last_source = s->last_source;
    rv = delayidx_save(x);
    if (rv) {
        errmsg_printf(errmsg, "delay lane %d: %s", lane, x->errmsg);
        return rv;
    }
    LOGI("delay", "lane %d: index rebuilt from the snapshot: cursor %" PRId64 "/%u, %u head records, %" PRIu64
         " lane records scanned, next %" PRIu64,
         lane, x->cur_bucket, x->cur_idx, s->nhead, scanned, x->indexed_next);
    return 0;
}

int delay_snap_restore(struct broker *b, json_t *arr, bool starting, char *errmsg)
{
    if (!delay_lane_index(b, 0))
        return 0;
    if (!arr) {
        LOGW("delay", "snapshot has no delay lane cursors (older format): keeping this member's index");
        return 0;
    }
    if (!json_is_array(arr) || json_array_size(arr) != DELAY_LANES) {
        errmsg_printf(errmsg, "snapshot: delay: expected %d lanes", DELAY_LANES);
        return TERN_E_MALFORMED;
    }
    struct delay_snap_lane s[DELAY_LANES];
    memset(s, 0, sizeof s);
    int rv = 0;
    for (int l = 0; l < DELAY_LANES && rv == 0; l++) {
        rv = delay_snap_decode(json_array_get(arr, l), delay_lane_index(b, l)->bucket_ms, &s[l], errmsg);
        if (rv)
            errmsg_wrapf(errmsg, "snapshot: lane %d", l);
    }
    for (int l = 0; l < DELAY_LANES && rv == 0; l++)
        rv = restore_lane(b, l, delay_lane_index(b, l), &s[l], starting, errmsg);
    for (int l = 0; l < DELAY_LANES; l++)
        delay_snap_lane_free(&s[l]);
    return rv;
}
