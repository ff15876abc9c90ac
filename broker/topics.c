/* Topic table: lookup, creation, partition ids, and crash-safe persistence.
 *
 * The file is rewritten whole (write temp, fsync, rename, fsync dir) on each
 * change: topic changes are rare and the table is small. A torn write leaves
 * the previous file intact. */
#include "broker/topics.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/metafile.h"
#include "src/fs.h"
#include "src/jsonw.h"
#include "tern/error.h"

#define TOPICS_FILE "topics.json"
#define TOPICS_FILE_MAX (64u << 20)

static void topic_free(struct topic *tp)
{
    free(tp->part_ids);
    free(tp->parts);
    free(tp);
}

struct topic *topics_find(struct topics *t, const char *name)
{
    struct topic *tp;
    HASH_FIND_STR(t->table, name, tp);
    return tp;
}

/* Make room for n partitions, giving new queues fresh partition ids. */
static int grow_parts(struct topics *t, struct topic *tp, uint32_t n)
{
    if (n <= tp->nparts)
        return 0;
    uint32_t *ids = realloc(tp->part_ids, n * sizeof *ids);
    if (!ids)
        return TERN_E_NOMEM;
    tp->part_ids = ids;
    struct partlog **parts = realloc(tp->parts, n * sizeof *parts);
    if (!parts)
        return TERN_E_NOMEM;
    tp->parts = parts;
    for (uint32_t i = tp->nparts; i < n; i++) {
        if (t->next_part_id > STORE_MAX_PARTITION_ID)
            return TERN_E_TOOBIG;
        ids[i] = t->next_part_id++;
        parts[i] = NULL;
    }
    tp->nparts = n;
    return 0;
}

static int save(struct topics *t)
{
    struct buf b;
    buf_init(&b);
    struct jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj_begin(&w);
    jsonw_kv_int(&w, "formatVersion", 1);
    jsonw_kv_int(&w, "nextPartitionId", t->next_part_id);
    jsonw_kv_int(&w, "dataVersion", (int64_t)t->version);
    jsonw_key(&w, "topics");
    jsonw_obj_begin(&w);
    struct topic *tp, *tmp;
    HASH_ITER(hh, t->table, tp, tmp)
    {
        jsonw_key(&w, tp->name);
        jsonw_obj_begin(&w);
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
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    int rv = b.err;
    if (rv == 0)
        rv = fs_write_atomic(t->path_dir, TOPICS_FILE, b.data, b.len, t->errmsg);
    buf_free(&b);
    return rv;
}

static int load(struct topics *t)
{
    json_t *root;
    int rv = metafile_load(t->path_dir, TOPICS_FILE, TOPICS_FILE_MAX, &root, t->errmsg);
    if (rv || !root)
        return rv;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", t->path_dir, TOPICS_FILE);
    rv = TERN_E_CORRUPT;
    json_t *topics = json_object_get(root, "topics");
    json_t *next = json_object_get(root, "nextPartitionId");
    if (!json_is_object(topics) || !json_is_integer(next)) {
        errmsg_printf(t->errmsg, "%s: missing topics or nextPartitionId", path);
        goto out;
    }
    t->next_part_id = (uint32_t)json_integer_value(next);
    t->version = (uint64_t)json_integer_value(json_object_get(root, "dataVersion"));
    const char *name;
    json_t *o;
    json_object_foreach(topics, name, o)
    {
        json_t *ids = json_object_get(o, "partitionIds");
        if (strlen(name) >= TOPICS_NAME_MAX || !json_is_array(ids) || json_array_size(ids) > TOPICS_MAX_QUEUES) {
            errmsg_printf(t->errmsg, "%s: topic '%s': bad entry", path, name);
            goto out;
        }
        struct topic *tp = calloc(1, sizeof *tp);
        if (!tp) {
            rv = TERN_E_NOMEM;
            goto out;
        }
        strcpy(tp->name, name);
        tp->read_queues = (int32_t)json_integer_value(json_object_get(o, "readQueueNums"));
        tp->write_queues = (int32_t)json_integer_value(json_object_get(o, "writeQueueNums"));
        tp->perm = (int32_t)json_integer_value(json_object_get(o, "perm"));
        tp->sys_flag = (int32_t)json_integer_value(json_object_get(o, "topicSysFlag"));
        tp->order = json_is_true(json_object_get(o, "order"));
        tp->multi_tag = json_is_true(json_object_get(o, "multiTag"));
        tp->system = json_is_true(json_object_get(o, "system"));
        size_t n = json_array_size(ids);
        tp->part_ids = calloc(n ? n : 1, sizeof *tp->part_ids);
        tp->parts = calloc(n ? n : 1, sizeof *tp->parts);
        if (!tp->part_ids || !tp->parts) {
            topic_free(tp);
            rv = TERN_E_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_int_t id = json_integer_value(json_array_get(ids, i));
            if (id < 0 || id > STORE_MAX_PARTITION_ID || (uint32_t)id >= t->next_part_id) {
                errmsg_printf(t->errmsg, "%s: topic '%s': bad partition id", path, name);
                topic_free(tp);
                goto out;
            }
            tp->part_ids[i] = (uint32_t)id;
        }
        tp->nparts = (uint32_t)n;
        if (tp->read_queues < 0 || tp->write_queues < 0 || (uint32_t)topic_max_queues(tp) > tp->nparts) {
            errmsg_printf(t->errmsg, "%s: topic '%s': queue counts exceed partitions", path, name);
            topic_free(tp);
            goto out;
        }
        HASH_ADD_STR(t->table, name, tp);
    }
    rv = 0;
out:
    json_decref(root);
    return rv;
}

int topics_open(struct topics *t, const char *dir, struct store *store)
{
    memset(t, 0, sizeof *t);
    t->store = store;
    snprintf(t->path_dir, sizeof t->path_dir, "%s", dir);
    return load(t);
}

void topics_close(struct topics *t)
{
    struct topic *tp, *tmp;
    HASH_ITER(hh, t->table, tp, tmp)
    {
        HASH_DEL(t->table, tp);
        topic_free(tp);
    }
}

size_t topics_count(const struct topics *t)
{
    return HASH_COUNT(t->table);
}

int topics_put(struct topics *t, const char *name, const struct topic_conf *c, bool system, struct topic **out)
{
    if (strlen(name) >= TOPICS_NAME_MAX || c->read_queues < 0 || c->write_queues < 0 ||
        c->read_queues > TOPICS_MAX_QUEUES || c->write_queues > TOPICS_MAX_QUEUES) {
        errmsg_printf(t->errmsg, "topic '%s': invalid queue counts %d/%d (max %d)", name, c->read_queues,
                      c->write_queues, TOPICS_MAX_QUEUES);
        return TERN_E_INVAL;
    }
    struct topic *tp = topics_find(t, name);
    bool created = false;
    if (!tp) {
        tp = calloc(1, sizeof *tp);
        if (!tp)
            return TERN_E_NOMEM;
        strcpy(tp->name, name);
        created = true;
    }
    int32_t maxq = c->read_queues > c->write_queues ? c->read_queues : c->write_queues;
    int rv = grow_parts(t, tp, (uint32_t)maxq);
    if (rv) {
        if (created)
            topic_free(tp);
        errmsg_printf(t->errmsg, "topic '%s': %s", name, tern_strerror(rv));
        return rv;
    }
    tp->read_queues = c->read_queues;
    tp->write_queues = c->write_queues;
    tp->perm = c->perm;
    tp->sys_flag = c->sys_flag;
    tp->order = c->order;
    tp->multi_tag = c->multi_tag;
    tp->system = system;
    if (created)
        HASH_ADD_STR(t->table, name, tp);
    t->version++;
    rv = save(t);
    if (out)
        *out = tp;
    return rv;
}

int topics_partition(struct topics *t, struct topic *tp, int32_t queue_id, struct partlog **out)
{
    if (queue_id < 0 || (uint32_t)queue_id >= tp->nparts) {
        errmsg_printf(t->errmsg, "topic '%s': queue %d out of range", tp->name, queue_id);
        return TERN_E_RANGE;
    }
    if (!tp->parts[queue_id]) {
        int rv = store_partition_open(t->store, tp->name, (uint32_t)queue_id, tp->part_ids[queue_id],
                                      &tp->parts[queue_id], t->errmsg);
        if (rv)
            return rv;
    }
    *out = tp->parts[queue_id];
    return 0;
}

struct topic *topics_by_partition(struct topics *t, struct partlog *pl, int32_t *queue_id)
{
    uint32_t id = partlog_id(pl);
    struct topic *tp, *tmp;
    HASH_ITER(hh, t->table, tp, tmp)
    {
        for (uint32_t i = 0; i < tp->nparts; i++) {
            if (tp->part_ids[i] == id) {
                *queue_id = (int32_t)i;
                return tp;
            }
        }
    }
    return NULL;
}
