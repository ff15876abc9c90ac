/* The group's metadata snapshot and its restore (REPLICATION.md §7).
 *
 * Happy path (write): called by raft right after applying the snapshot's
 * index (replica_sm refuses while appends up to it are not synced), so every
 * partition's next offset is exactly its end at that index. Restore: topics
 * first (in partition-id order, so ids come out the same and are verified),
 * then consumer offsets, then each partition behind the snapshot is fetched
 * from the snapshot's source member (segfetch_partition).
 * Failure modes: a snapshot that does not parse, a partition id that differs,
 * a partition past the snapshot's end on install, or a fetch that fails or
 * times out: TERN_E_* with errmsg, nothing is faked. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delay_snap.h"
#include "broker/locks.h"
#include "broker/segfetch.h"
#include "broker/topics.h"
#include "broker/txn_snap.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "src/log.h"
#include "tern/error.h"

#define SNAP_FORMAT 2
/* Metadata only: a table this large means something is wrong. */
#define SNAP_MAX_BYTES (64u << 20)

int segfetch_snapshot_write(struct broker *b, struct buf *out)
{
    struct buf ofs;
    buf_init(&ofs);
    int rv = offsets_snapshot(b, &ofs);
    if (rv) {
        buf_free(&ofs);
        return rv;
    }
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kv_int(&w, "format", SNAP_FORMAT);
    jsonw_kv_str(&w, "source", b->addr);
    jsonw_key(&w, "topics");
    jsonw_arr_begin(&w);
    struct topic *tp, *tmp;
    HASH_ITER(hh, b->topics->table, tp, tmp)
    {
        jsonw_obj_begin(&w);
        jsonw_kv_str(&w, "name", tp->name);
        jsonw_kv_int(&w, "readQueueNums", tp->read_queues);
        jsonw_kv_int(&w, "writeQueueNums", tp->write_queues);
        jsonw_kv_int(&w, "perm", tp->perm);
        jsonw_kv_int(&w, "topicSysFlag", tp->sys_flag);
        jsonw_kv_bool(&w, "order", tp->order);
        jsonw_kv_bool(&w, "multiTag", tp->multi_tag);
        jsonw_kv_bool(&w, "system", tp->system);
        jsonw_key(&w, "partitionIds");
        jsonw_arr_begin(&w);
        for (uint32_t i = 0; i < tp->nparts; i++)
            jsonw_uint(&w, tp->part_ids[i]);
        jsonw_arr_end(&w);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_key(&w, "partitions");
    jsonw_arr_begin(&w);
    HASH_ITER(hh, b->topics->table, tp, tmp)
    {
        for (uint32_t q = 0; q < tp->nparts; q++) {
            struct partlog *pl;
            /* Lazily opened partitions are opened here: an unopened one may
             * hold data from before a restart. */
            rv = topics_partition(b->topics, tp, (int32_t)q, &pl);
            if (rv) {
                LOGE("broker", "snapshot: %s", b->topics->errmsg);
                goto out;
            }
            jsonw_obj_begin(&w);
            jsonw_kv_str(&w, "topic", tp->name);
            jsonw_kv_int(&w, "queueId", q);
            jsonw_kv_int(&w, "id", partlog_id(pl));
            jsonw_kv_int(&w, "end", (int64_t)partlog_next_offset(pl));
            jsonw_kv_int(&w, "lastSource", (int64_t)partlog_last_source_index(pl));
            jsonw_obj_end(&w);
        }
    }
    jsonw_arr_end(&w);
    jsonw_key(&w, "offsets");
    buf_append(out, ofs.data, ofs.len); /* consumer_offsets.json text, a JSON object */
    w.after_key = false;
    /* Queue locks live only in the log and here (broker/locks.h). */
    jsonw_key(&w, "locks");
    locks_snapshot(b, out);
    w.after_key = false;
    /* Transaction table and delay cursors at this index (restored after the
     * partitions, which the delay index is rebuilt from). */
    jsonw_key(&w, "txn");
    txn_snap_write(b, &w);
    jsonw_key(&w, "delay");
    rv = delay_snap_write(b, &w);
    if (rv)
        goto out;
    jsonw_obj_end(&w);
    rv = out->err;
    if (rv == 0 && out->len > SNAP_MAX_BYTES)
        rv = TERN_E_TOOBIG;
out:
    buf_free(&ofs);
    return rv;
}

static bool geti(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *v)
{
    json_t *j = json_object_get(o, k);
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return *v >= lo && *v <= hi;
}

static int first_id_cmp(const void *a, const void *b)
{
    json_t *x = json_array_get(json_object_get(*(json_t *const *)a, "partitionIds"), 0);
    json_t *y = json_array_get(json_object_get(*(json_t *const *)b, "partitionIds"), 0);
    json_int_t i = json_is_integer(x) ? json_integer_value(x) : 0;
    json_int_t j = json_is_integer(y) ? json_integer_value(y) : 0;
    return i < j ? -1 : i > j;
}

static int restore_topics(struct broker *b, json_t *arr, char *errmsg)
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return TERN_E_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(arr, i);
    /* Ids are handed out in creation order: recreate in id order. */
    qsort(v, n, sizeof *v, first_id_cmp);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++) {
        json_t *o = v[i], *ids = json_object_get(o, "partitionIds");
        const char *name = json_string_value(json_object_get(o, "name"));
        struct topic_conf c;
        int64_t rq, wq, perm, sf;
        if (!name || !*name || strlen(name) >= TOPICS_NAME_MAX || !json_is_array(ids) ||
            !geti(o, "readQueueNums", 0, TOPICS_MAX_QUEUES, &rq) || !geti(o, "writeQueueNums", 0, TOPICS_MAX_QUEUES, &wq) ||
            !geti(o, "perm", 0, 0xff, &perm) || !geti(o, "topicSysFlag", INT32_MIN, INT32_MAX, &sf)) {
            errmsg_printf(errmsg, "snapshot: topic %zu malformed", i);
            rv = TERN_E_MALFORMED;
            break;
        }
        c.read_queues = (int32_t)rq;
        c.write_queues = (int32_t)wq;
        c.perm = (int32_t)perm;
        c.sys_flag = (int32_t)sf;
        c.order = json_is_true(json_object_get(o, "order"));
        c.multi_tag = json_is_true(json_object_get(o, "multiTag"));
        bool sys = json_is_true(json_object_get(o, "system"));
        struct topic *tp = topics_find(b->topics, name);
        if (!tp || tp->read_queues != c.read_queues || tp->write_queues != c.write_queues || tp->perm != c.perm ||
            tp->sys_flag != c.sys_flag || tp->order != c.order || tp->multi_tag != c.multi_tag || tp->system != sys) {
            rv = topics_put(b->topics, name, &c, sys, &tp);
            if (rv) {
                errmsg_printf(errmsg, "snapshot: topic %s: %s", name, b->topics->errmsg);
                break;
            }
        }
        size_t nid = json_array_size(ids);
        for (size_t q = 0; q < nid; q++) {
            json_t *id = json_array_get(ids, q);
            if (q >= tp->nparts || !json_is_integer(id) || (uint32_t)json_integer_value(id) != tp->part_ids[q]) {
                errmsg_printf(errmsg, "snapshot: topic %s queue %zu: partition id differs from this member's", name,
                              q);
                rv = TERN_E_CORRUPT;
                break;
            }
        }
    }
    free(v);
    return rv;
}

static int restore_offsets(struct broker *b, json_t *root, char *errmsg)
{
    json_t *arr = json_object_get(root, "offsets");
    if (!json_is_array(arr)) {
        errmsg_printf(errmsg, "snapshot: offsets malformed");
        return TERN_E_MALFORMED;
    }
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        const char *topic = json_string_value(json_object_get(it, "topic"));
        const char *group = json_string_value(json_object_get(it, "group"));
        json_t *qs = json_object_get(it, "queues");
        if (!topic || !group || !json_is_object(qs))
            continue; /* offsets_store validates names itself */
        const char *k;
        json_t *v;
        json_object_foreach(qs, k, v)
        {
            char *e;
            long q = strtol(k, &e, 10);
            if (*e || q < 0 || q >= TOPICS_MAX_QUEUES || !json_is_integer(v))
                continue;
            offsets_store(b, group, topic, (int32_t)q, (int64_t)json_integer_value(v));
        }
    }
    return 0;
}

int segfetch_restore(struct broker *b, uint64_t index, const uint8_t *p, size_t n, bool starting,
                     int64_t timeout_ms, struct segfetch_stats *stats, char *errmsg)
{
    memset(stats, 0, sizeof *stats);
    int64_t t0 = clock_mono_ms();
    if (n == 12 && memcmp(p, "{\"format\":1}", 12) == 0)
        return 0; /* format 1 (before catch-up): offsets were flushed, nothing else */
    json_error_t je;
    json_t *root = json_loadb((const char *)p, n, 0, &je);
    int64_t fmt = 0;
    if (!root || !geti(root, "format", SNAP_FORMAT, SNAP_FORMAT, &fmt)) {
        errmsg_printf(errmsg, "snapshot at %" PRIu64 ": not format %d (%s)", index, SNAP_FORMAT,
                      root ? "format" : je.text);
        json_decref(root);
        return TERN_E_MALFORMED;
    }
    const char *source = json_string_value(json_object_get(root, "source"));
    json_t *topics = json_object_get(root, "topics"), *parts = json_object_get(root, "partitions");
    json_t *offsets = json_object_get(root, "offsets");
    int rv = TERN_E_MALFORMED;
    if (!source || !json_is_array(topics) || !json_is_array(parts) || !json_is_object(offsets)) {
        errmsg_printf(errmsg, "snapshot at %" PRIu64 ": missing source, topics, partitions or offsets", index);
        goto out;
    }
    rv = restore_topics(b, topics, errmsg);
    if (rv == 0)
        rv = restore_offsets(b, offsets, errmsg);
    size_t i;
    json_t *it;
    json_array_foreach(parts, i, it)
    {
        if (rv)
            break;
        const char *topic = json_string_value(json_object_get(it, "topic"));
        int64_t q, id, end;
        struct topic *tp = topic ? topics_find(b->topics, topic) : NULL;
        struct partlog *pl;
        if (!tp || !geti(it, "queueId", 0, TOPICS_MAX_QUEUES - 1, &q) || !geti(it, "id", 0, INT32_MAX, &id) ||
            !geti(it, "end", 0, INT64_MAX, &end)) {
            errmsg_printf(errmsg, "snapshot at %" PRIu64 ": partition %zu malformed", index, i);
            rv = TERN_E_MALFORMED;
            break;
        }
        rv = topics_partition(b->topics, tp, (int32_t)q, &pl);
        if (rv) {
            errmsg_printf(errmsg, "snapshot: %s", b->topics->errmsg);
            break;
        }
        if (partlog_id(pl) != (uint32_t)id) {
            errmsg_printf(errmsg, "snapshot: %s/%" PRId64 ": partition id %u here, %" PRId64 " in the snapshot", topic, q,
                          partlog_id(pl), id);
            rv = TERN_E_CORRUPT;
            break;
        }
        uint64_t local = partlog_next_offset(pl);
        if (local > (uint64_t)end) {
            if (starting)
                continue; /* entries after this snapshot were applied and kept */
            /* Design A applies only committed entries, so a member cannot
             * hold more than the leader had at the snapshot's index. */
            errmsg_printf(errmsg,
                          "snapshot at %" PRIu64 ": %s/%" PRId64 " holds offsets up to %" PRIu64
                          " here, past the snapshot's end %" PRId64 "; refusing",
                          index, topic, q, local, end);
            rv = TERN_E_CORRUPT;
            break;
        }
        if (local == (uint64_t)end)
            continue;
        if (strcmp(source, b->addr) == 0) {
            errmsg_printf(errmsg, "snapshot at %" PRIu64 ": %s/%" PRId64 " ends at %" PRIu64
                          " here, below the snapshot's %" PRId64 ", and the snapshot is this member's own",
                          index, topic, q, local, end);
            rv = TERN_E_CORRUPT;
            break;
        }
        LOGI("broker", "catch-up: %s/%" PRId64 " behind the snapshot at %" PRIu64 ": fetching [%" PRIu64 ", %" PRId64
             ") from %s", topic, q, index, local, end, source);
        rv = segfetch_partition(b, source, topic, (int32_t)q, pl, (uint64_t)end, t0 + timeout_ms, stats, errmsg);
        if (rv == 0)
            stats->partitions_fetched++;
    }
    /* Older snapshots lack these two: the callees keep local state and log. */
    if (rv == 0)
        rv = txn_snap_restore(b, json_object_get(root, "txn"), starting, errmsg);
    if (rv == 0)
        rv = delay_snap_restore(b, json_object_get(root, "delay"), starting, errmsg);
out:
    stats->ms = clock_mono_ms() - t0;
    json_decref(root);
    return rv;
}
