/* Consumer offsets (group, topic, queue) -> committed offset, and the queue
 * offset queries: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
 * GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32),
 * SEARCH_OFFSET_BY_TIMESTAMP (29), VIEW_MESSAGE_BY_ID (33).
 *
 * Happy path: commits land in an in-memory table (one hash entry per
 * (topic, group) holding an array indexed by queue id) and mark it dirty.
 * Every consumerOffsetFlushInterval a timer serialises the table on the loop
 * and a uv_queue_work job replaces <data>/consumer_offsets.json crash-safely
 * (temp, fsync, rename, fsync dir) off the loop. At shutdown offsets_flush
 * writes the last state synchronously.
 * Failure modes: a failed background write is logged and retried at the next
 * tick (the table stays dirty); a crash loses at most one interval of
 * commits, which consumers re-deliver (at-least-once). A corrupt file at
 * start refuses the start: silently starting every group from scratch would
 * re-deliver or skip whole queues. A shutdown flush that finds a background
 * write running waits for it and writes after it, so an older snapshot never
 * replaces a newer one. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "broker/metafile.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "src/jsonw.h"
#include "src/log.h"
#include "tern/error.h"

#define OFFSETS_FILE "consumer_offsets.json"
#define OFFSETS_FILE_MAX (256u << 20)
/* RocketMQ caps group names at 255 characters (Validators.CHARACTER_MAX_LENGTH). */
#define OFFSETS_GROUP_MAX 255
#define OFFSETS_KEY_MAX (TOPICS_NAME_MAX + OFFSETS_GROUP_MAX + 2)

/* One (topic, group): key is "topic\0group". */
struct ofs_entry {
    UT_hash_handle hh;
    int64_t *offs; /* by queue id; -1 = never committed */
    uint32_t n;
    size_t topic_len;
    size_t keylen;
    char key[];
};

struct offsets {
    struct broker *b;
    struct ofs_entry *table;
    uv_timer_t timer;
    uv_work_t work;
    bool dirty;
    bool job_running;
    bool flush_after_job; /* offsets_flush came while a job ran */
    bool closing;
    int pending; /* timer close + running job before the struct is freed */
    struct buf snap; /* the snapshot a job writes */
    int job_status;
    char job_err[ERRMSG_SIZE];
    char dir[1024];
    /* VIEW_MESSAGE_BY_ID reads one message. */
    struct partlog_readbuf rb;
    struct partlog_msg msg;
};

/* ---- the table ---- */

static size_t make_key(char *key, const char *topic, size_t tlen, const char *group, size_t glen)
{
    memcpy(key, topic, tlen);
    key[tlen] = '\0';
    memcpy(key + tlen + 1, group, glen);
    return tlen + 1 + glen;
}

static bool valid_group(const char *g, size_t n)
{
    if (n == 0 || n > OFFSETS_GROUP_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)g[i] < 0x20)
            return false;
    return true;
}

static struct ofs_entry *entry_find(struct offsets *o, const char *topic, const char *group)
{
    char key[OFFSETS_KEY_MAX];
    size_t tlen = strlen(topic), glen = strlen(group);
    if (tlen >= TOPICS_NAME_MAX || glen > OFFSETS_GROUP_MAX)
        return NULL;
    size_t kl = make_key(key, topic, tlen, group, glen);
    struct ofs_entry *e;
    HASH_FIND(hh, o->table, key, kl, e);
    return e;
}

static struct ofs_entry *entry_get(struct offsets *o, const char *topic, size_t tlen, const char *group,
                                   size_t glen)
{
    char key[OFFSETS_KEY_MAX];
    size_t kl = make_key(key, topic, tlen, group, glen);
    struct ofs_entry *e;
    HASH_FIND(hh, o->table, key, kl, e);
    if (e)
        return e;
    e = calloc(1, sizeof *e + kl + 1);
    if (!e)
        return NULL;
    memcpy(e->key, key, kl);
    e->key[kl] = '\0';
    e->keylen = kl;
    e->topic_len = tlen;
    HASH_ADD_KEYPTR(hh, o->table, e->key, e->keylen, e);
    return e;
}

/* Set offset of queue q. Returns 0 or TERN_E_NOMEM. */
static int entry_set(struct ofs_entry *e, uint32_t q, int64_t offset)
{
    if (q >= e->n) {
        uint32_t n = e->n ? e->n : 4;
        while (n <= q)
            n *= 2;
        if (n > TOPICS_MAX_QUEUES)
            n = TOPICS_MAX_QUEUES;
        int64_t *p = realloc(e->offs, n * sizeof *p);
        if (!p)
            return TERN_E_NOMEM;
        for (uint32_t i = e->n; i < n; i++)
            p[i] = -1;
        e->offs = p;
        e->n = n;
    }
    e->offs[q] = offset;
    return 0;
}

static void table_free(struct offsets *o)
{
    struct ofs_entry *e, *tmp;
    HASH_ITER(hh, o->table, e, tmp)
    {
        HASH_DEL(o->table, e);
        free(e->offs);
        free(e);
    }
}

void offsets_commit(struct broker *b, const char *group, const char *topic, int32_t queue_id, int64_t offset)
{
    struct offsets *o = b->offsets;
    size_t tlen = strlen(topic), glen = strlen(group);
    if (!o || o->closing || queue_id < 0 || queue_id >= TOPICS_MAX_QUEUES || offset < 0 || tlen == 0 ||
        tlen >= TOPICS_NAME_MAX || !valid_group(group, glen))
        return;
    /* Unchanged offsets (most periodic commits) need no command. */
    if (offsets_get(b, group, topic, queue_id) == offset)
        return;
    buf_reset(&b->cmd);
    if (fsm_encode_offset(&b->cmd, group, topic, queue_id, offset) != 0)
        return;
    if (grouprepl_enabled(b)) {
        /* Only the leader can commit; a follower drops the commit (the
         * client commits to the leader it pulls from). */
        grouprepl_propose(b, b->cmd.data, b->cmd.len, NULL, NULL);
        return;
    }
    struct fsm_result res;
    fsm_apply(b, 0, b->cmd.data, b->cmd.len, NULL, NULL, &res);
}

void offsets_store(struct broker *b, const char *group, const char *topic, int32_t queue_id, int64_t offset)
{
    struct offsets *o = b->offsets;
    size_t tlen = strlen(topic), glen = strlen(group);
    if (!o || o->closing || queue_id < 0 || queue_id >= TOPICS_MAX_QUEUES || offset < 0 || tlen == 0 ||
        tlen >= TOPICS_NAME_MAX || !valid_group(group, glen))
        return;
    struct ofs_entry *e = entry_get(o, topic, tlen, group, glen);
    if (e && (uint32_t)queue_id < e->n && e->offs[queue_id] == offset)
        return;
    if (!e || entry_set(e, (uint32_t)queue_id, offset) != 0) {
        LOGE("offsets", "out of memory committing %s/%s/%d", group, topic, queue_id);
        return;
    }
    o->dirty = true;
}

int64_t offsets_get(struct broker *b, const char *group, const char *topic, int32_t queue_id)
{
    struct offsets *o = b->offsets;
    if (!o || queue_id < 0)
        return -1;
    struct ofs_entry *e = entry_find(o, topic, group);
    if (!e || (uint32_t)queue_id >= e->n)
        return -1;
    return e->offs[queue_id];
}

/* ---- persistence ---- */

/* {"formatVersion":1,"offsets":[{"topic":T,"group":G,"queues":{"0":12,...}},...]} */
static void serialize(struct offsets *o, struct buf *out)
{
    buf_reset(out);
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kv_int(&w, "formatVersion", 1);
    jsonw_key(&w, "offsets");
    jsonw_arr_begin(&w);
    struct ofs_entry *e, *tmp;
    HASH_ITER(hh, o->table, e, tmp)
    {
        jsonw_obj_begin(&w);
        jsonw_key(&w, "topic");
        jsonw_str(&w, e->key, e->topic_len);
        jsonw_key(&w, "group");
        jsonw_str(&w, e->key + e->topic_len + 1, e->keylen - e->topic_len - 1);
        jsonw_key(&w, "queues");
        jsonw_obj_begin(&w);
        for (uint32_t q = 0; q < e->n; q++) {
            if (e->offs[q] < 0)
                continue;
            char k[16];
            snprintf(k, sizeof k, "%" PRIu32, q);
            jsonw_kv_int(&w, k, e->offs[q]);
        }
        jsonw_obj_end(&w);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
}

/* The table as consumer_offsets.json text, for the group's Raft snapshot
 * (broker/segfetch_snap.c). */
int offsets_snapshot(struct broker *b, struct buf *out)
{
    if (!b->offsets)
        return TERN_E_CLOSED;
    serialize(b->offsets, out);
    return out->err;
}

static int load(struct offsets *o, char *errmsg)
{
    json_t *root;
    int rv = metafile_load(o->dir, OFFSETS_FILE, OFFSETS_FILE_MAX, &root, errmsg);
    if (rv || !root)
        return rv;
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", o->dir, OFFSETS_FILE);
    rv = TERN_E_CORRUPT;
    json_t *arr = json_object_get(root, "offsets");
    json_t *ver = json_object_get(root, "formatVersion");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1 || !json_is_array(arr)) {
        errmsg_printf(errmsg, "%s: not a formatVersion 1 offsets file", path);
        goto out;
    }
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it)
    {
        json_t *jt = json_object_get(it, "topic"), *jg = json_object_get(it, "group");
        json_t *qs = json_object_get(it, "queues");
        if (!json_is_string(jt) || !json_is_string(jg) || !json_is_object(qs)) {
            errmsg_printf(errmsg, "%s: entry %zu: needs topic, group and queues", path, i);
            goto out;
        }
        const char *topic = json_string_value(jt), *group = json_string_value(jg);
        size_t tlen = json_string_length(jt), glen = json_string_length(jg);
        if (tlen == 0 || tlen >= TOPICS_NAME_MAX || strlen(topic) != tlen || !valid_group(group, glen) ||
            strlen(group) != glen) {
            errmsg_printf(errmsg, "%s: entry %zu: bad topic or group name", path, i);
            goto out;
        }
        struct ofs_entry *e = entry_get(o, topic, tlen, group, glen);
        if (!e) {
            rv = TERN_E_NOMEM;
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(qs, k, v)
        {
            char *end;
            long q = strtol(k, &end, 10);
            if (*k < '0' || *k > '9' || *end || q < 0 || q >= TOPICS_MAX_QUEUES || !json_is_integer(v) ||
                json_integer_value(v) < 0) {
                errmsg_printf(errmsg, "%s: entry %zu (%s/%s): bad queue '%s'", path, i, group, topic, k);
                goto out;
            }
            if (entry_set(e, (uint32_t)q, (int64_t)json_integer_value(v)) != 0) {
                rv = TERN_E_NOMEM;
                goto out;
            }
        }
    }
    rv = 0;
out:
    json_decref(root);
    return rv;
}

static void maybe_free(struct offsets *o)
{
    if (--o->pending > 0)
        return;
    table_free(o);
    buf_free(&o->snap);
    partlog_readbuf_free(&o->rb);
    free(o);
}

static void write_work_cb(uv_work_t *w)
{
    struct offsets *o = w->data;
    o->job_status = fs_write_atomic(o->dir, OFFSETS_FILE, o->snap.data, o->snap.len, o->job_err);
}

static int write_now(struct offsets *o, char *errmsg)
{
    serialize(o, &o->snap);
    if (o->snap.err) {
        errmsg_printf(errmsg, "consumer offsets: out of memory serialising");
        return o->snap.err;
    }
    int rv = fs_write_atomic(o->dir, OFFSETS_FILE, o->snap.data, o->snap.len, errmsg);
    if (rv == 0)
        o->dirty = false;
    return rv;
}

static void write_after_cb(uv_work_t *w, int status)
{
    struct offsets *o = w->data;
    o->job_running = false;
    if (status != 0 && o->job_status == 0)
        o->job_status = TERN_E_CANCELED;
    if (o->job_status != 0) {
        LOGE("offsets", "write consumer offsets: %s (retrying)", o->job_err);
        o->dirty = true;
    }
    if (o->flush_after_job) {
        o->flush_after_job = false;
        char err[ERRMSG_SIZE];
        if (o->dirty && write_now(o, err) != 0)
            LOGE("offsets", "final write of consumer offsets: %s", err);
    }
    if (o->closing)
        maybe_free(o);
}

static void flush_timer_cb(uv_timer_t *t)
{
    struct offsets *o = t->data;
    if (!o->dirty || o->job_running)
        return;
    serialize(o, &o->snap);
    if (o->snap.err) {
        LOGE("offsets", "serialise consumer offsets: %s", tern_strerror(o->snap.err));
        return;
    }
    /* Commits after this point dirty the table again for the next tick. */
    o->dirty = false;
    o->work.data = o;
    o->job_status = 0;
    o->job_err[0] = '\0';
    int rv = uv_queue_work(o->b->loop, &o->work, write_work_cb, write_after_cb);
    if (rv) {
        LOGE("offsets", "uv_queue_work: %s", uv_strerror(rv));
        o->dirty = true;
        return;
    }
    o->job_running = true;
}

int offsets_init(struct broker *b)
{
    struct offsets *o = calloc(1, sizeof *o);
    if (!o)
        return TERN_E_NOMEM;
    o->b = b;
    buf_init(&o->snap);
    partlog_readbuf_init(&o->rb);
    snprintf(o->dir, sizeof o->dir, "%s", b->conf.data_dir);
    int rv = load(o, b->errmsg);
    if (rv) {
        errmsg_wrapf(b->errmsg, "consumer offsets");
        /* b->offsets stays NULL: shutdown must not overwrite the file. */
        o->pending = 1;
        maybe_free(o);
        return rv;
    }
    uv_timer_init(b->loop, &o->timer);
    o->timer.data = o;
    uint64_t every = b->conf.offset_flush_ms > 0 ? (uint64_t)b->conf.offset_flush_ms : 1000;
    uv_timer_start(&o->timer, flush_timer_cb, every, every);
    uv_unref((uv_handle_t *)&o->timer);
    b->offsets = o;
    return 0;
}

int offsets_flush(struct broker *b)
{
    struct offsets *o = b->offsets;
    if (!o)
        return 0;
    if (o->job_running) {
        o->flush_after_job = true;
        return 0;
    }
    if (!o->dirty)
        return 0;
    int rv = write_now(o, b->errmsg);
    if (rv)
        LOGE("offsets", "write consumer offsets: %s", b->errmsg);
    return rv;
}

static void timer_closed_cb(uv_handle_t *h)
{
    maybe_free(h->data);
}

void offsets_close(struct broker *b)
{
    struct offsets *o = b->offsets;
    if (!o)
        return;
    b->offsets = NULL;
    char err[ERRMSG_SIZE];
    if (o->dirty && !o->job_running && write_now(o, err) != 0)
        LOGE("offsets", "write consumer offsets: %s", err);
    o->closing = true;
    o->pending = 1 + (o->job_running ? 1 : 0);
    uv_close((uv_handle_t *)&o->timer, timer_closed_cb);
}

/* ---- requests ---- */

/* The partition of (topic, queue), or *pl = NULL for an unknown topic or
 * queue (answered as an empty queue, as RocketMQ does). Returns a response
 * code; SYSTEM_ERROR with remark when the partition cannot be opened. */
static int queue_partition(struct broker *b, struct slice topic, int32_t queue_id, struct partlog **pl,
                           char *remark, size_t cap)
{
    char name[TOPICS_NAME_MAX];
    *pl = NULL;
    if (topic.len >= sizeof name)
        return CODES_RESP_SUCCESS;
    memcpy(name, topic.p, topic.len);
    name[topic.len] = '\0';
    struct topic *tp = topics_find(b->topics, name);
    if (!tp || queue_id < 0 || queue_id >= topic_max_queues(tp))
        return CODES_RESP_SUCCESS;
    if (topics_partition(b->topics, tp, queue_id, pl) != 0) {
        snprintf(remark, cap, "%s", b->topics->errmsg);
        return CODES_RESP_SYSTEM_ERROR;
    }
    return CODES_RESP_SUCCESS;
}

static void respond_value(struct broker *b, struct rpc_conn *rc, const struct remoting_cmd *req, bool is_time,
                          int64_t v)
{
    if (remoting_is_oneway(req))
        return;
    int rv = remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL);
    if (rv == 0) {
        if (is_time) {
            struct headers_offset_time_resp h = {.timestamp = v};
            rv = headers_offset_time_resp_encode(&h, &b->resp);
        } else {
            struct headers_offset_resp h = {.offset = v};
            rv = headers_offset_resp_encode(&h, &b->resp);
        }
    }
    if (rv) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, tern_strerror(rv));
        return;
    }
    broker_respond(b, rc, NULL, 0);
}

static void handle_query(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 64], topic[TOPICS_NAME_MAX], group[OFFSETS_GROUP_MAX + 1];
    struct headers_offset_query_req h;
    if (headers_offset_query_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (!valid_group(h.consumer_group.p, h.consumer_group.len) || h.topic.len >= sizeof topic) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad consumerGroup or topic");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    memcpy(group, h.consumer_group.p, h.consumer_group.len);
    group[h.consumer_group.len] = '\0';
    int64_t off = offsets_get(b, group, topic, h.queue_id);
    if (off >= 0) {
        respond_value(b, rc, req, false, off);
        return;
    }
    /* RocketMQ ConsumerManageProcessor: a group without an offset starts at
     * 0 when the queue still begins at 0, so a new group on a fresh queue
     * misses nothing even with CONSUME_FROM_LAST_OFFSET. */
    if (!h.has_set_zero_if_not_found || h.set_zero_if_not_found) {
        struct partlog *pl;
        int code = queue_partition(b, h.topic, h.queue_id, &pl, remark, sizeof remark);
        if (code != CODES_RESP_SUCCESS) {
            broker_respond_error(b, rc, req, code, remark);
            return;
        }
        if (!pl || partlog_min_offset(pl) == 0) {
            respond_value(b, rc, req, false, 0);
            return;
        }
    }
    broker_respond_error(b, rc, req, CODES_RESP_QUERY_NOT_FOUND,
                         "Not found, V3_0_6_SNAPSHOT maybe not set the consumer offset");
}

static void handle_update(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], topic[TOPICS_NAME_MAX], group[OFFSETS_GROUP_MAX + 1];
    struct headers_offset_update_req h;
    if (headers_offset_update_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (!valid_group(h.consumer_group.p, h.consumer_group.len) || h.topic.len >= sizeof topic ||
        h.queue_id < 0 || h.queue_id >= TOPICS_MAX_QUEUES || h.commit_offset < 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER,
                             "bad consumerGroup, topic, queueId or commitOffset");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    memcpy(group, h.consumer_group.p, h.consumer_group.len);
    group[h.consumer_group.len] = '\0';
    offsets_commit(b, group, topic, h.queue_id, h.commit_offset);
    broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, NULL);
}

static void handle_queue(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 64];
    struct headers_offset_queue_req h;
    if (headers_offset_queue_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    struct partlog *pl;
    int code = queue_partition(b, h.topic, h.queue_id, &pl, remark, sizeof remark);
    if (code != CODES_RESP_SUCCESS) {
        broker_respond_error(b, rc, req, code, remark);
        return;
    }
    switch (req->code) {
    case CODES_REQ_GET_MAX_OFFSET:
        /* `committed` does not matter: readers only ever see synced data. */
        respond_value(b, rc, req, false, pl ? (int64_t)partlog_end_offset(pl) : 0);
        break;
    case CODES_REQ_GET_MIN_OFFSET:
        respond_value(b, rc, req, false, pl ? (int64_t)partlog_min_offset(pl) : 0);
        break;
    default:
        respond_value(b, rc, req, true, pl ? partlog_earliest_time(pl) : 0);
        break;
    }
}

static void handle_search(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 64];
    struct headers_offset_search_req h;
    if (headers_offset_search_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    struct partlog *pl;
    int code = queue_partition(b, h.topic, h.queue_id, &pl, remark, sizeof remark);
    if (code != CODES_RESP_SUCCESS) {
        broker_respond_error(b, rc, req, code, remark);
        return;
    }
    if (!pl || partlog_end_offset(pl) == partlog_min_offset(pl)) {
        respond_value(b, rc, req, false, pl ? (int64_t)partlog_end_offset(pl) : 0);
        return;
    }
    /* RocketMQ BoundaryType.getType: "upper" in any case, else lower. */
    bool upper = h.boundary_type.p && h.boundary_type.len == 5 && strncasecmp(h.boundary_type.p, "upper", 5) == 0;
    uint64_t off = 0;
    int rv = partlog_search_time(pl, h.timestamp, upper ? PARTLOG_TIME_LAST_LE : PARTLOG_TIME_FIRST_GE, &off);
    if (rv != 0 && rv != TERN_E_NOTFOUND) {
        /* lower: nothing at or after ts -> the max offset; upper: nothing at
         * or before ts -> the min offset (set by the store on NOTFOUND). */
        snprintf(remark, sizeof remark, "search by time in %s/%d: %s", partlog_dir(pl), h.queue_id,
                 partlog_errmsg(pl));
        LOGE("offsets", "%s", remark);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    respond_value(b, rc, req, false, (int64_t)off);
}

/* store_locate, opening the partition first if it was not used since start. */
static int locate(struct broker *b, uint64_t phys, struct partlog **pl, uint64_t *off)
{
    if (store_locate(b->store, phys, pl, off) == 0)
        return 0;
    uint32_t id;
    store_phys_decode(phys, &id, off);
    struct topic *tp, *tmp;
    HASH_ITER(hh, b->topics->table, tp, tmp)
    {
        for (uint32_t i = 0; i < tp->nparts; i++)
            if (tp->part_ids[i] == id)
                return topics_partition(b->topics, tp, (int32_t)i, pl);
    }
    return TERN_E_NOTFOUND;
}

static void handle_view(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct offsets *o = b->offsets;
    char err[ERRMSG_SIZE];
    struct headers_client_view_req h;
    if (headers_client_view_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    struct partlog *pl = NULL;
    uint64_t off = 0;
    struct partlog_read_result res = {0};
    int rv = TERN_E_NOTFOUND;
    if (h.offset >= 0 && locate(b, (uint64_t)h.offset, &pl, &off) == 0)
        rv = partlog_read(pl, off, 1, 1, NULL, &o->rb, &o->msg, &res);
    if (pl && (rv == TERN_E_CORRUPT || (rv != 0 && rv != TERN_E_RANGE && rv != TERN_E_NOTFOUND))) {
        char remark[ERRMSG_SIZE + 64];
        snprintf(remark, sizeof remark, "can not find message by the offset %" PRId64 ": %s", h.offset,
                 partlog_errmsg(pl));
        LOGE("offsets", "%s", remark);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    if (rv != 0 || res.n != 1 || o->msg.offset != off) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "can not find message by the offset");
        return;
    }
    if (remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    broker_respond(b, rc, o->msg.data, o->msg.len);
}

void offsets_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    switch (req->code) {
    case CODES_REQ_QUERY_CONSUMER_OFFSET:
        handle_query(b, rc, req);
        break;
    case CODES_REQ_UPDATE_CONSUMER_OFFSET:
        handle_update(b, rc, req);
        break;
    case CODES_REQ_GET_MAX_OFFSET:
    case CODES_REQ_GET_MIN_OFFSET:
    case CODES_REQ_GET_EARLIEST_MSG_STORETIME:
        handle_queue(b, rc, req);
        break;
    case CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP:
        handle_search(b, rc, req);
        break;
    case CODES_REQ_VIEW_MESSAGE_BY_ID:
        handle_view(b, rc, req);
        break;
    default:
        broker_respond_error(b, rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not an offset request");
    }
}
