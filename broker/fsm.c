/* Decoding and deterministic application of the broker's replicated commands.
 *
 * Happy path: decode the APPEND header, find the partition, skip it if the
 * partition already holds this raft index, copy the records into scratch,
 * patch queue offset, physical offset and store time into each, and append
 * them as one unit. Failure modes: malformed bytes are reported and change
 * nothing; an unknown topic or queue is a refused command (res->status); a
 * full write buffer is TERN_E_BUSY from the store. */
#include "broker/fsm.h"

#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delay.h"
#include "broker/locks.h"
#include "broker/topics.h"
#include "broker/txn.h"
#include "protocol/message.h"
#include "src/cursor.h"
#include "src/log.h"
#include "tern/error.h"

/* An append applied from the log whose sync is still outstanding. */
struct fsm_pending {
    struct store_append_req req;
    struct fsm *f;
    uint64_t source;
    bool done;
    bool tracked; /* on the durable-position list (applied from the log) */
    struct fsm_pending *next;
};

struct fsm {
    /* Reused by every apply: patched records and their descriptors. */
    struct buf rec;
    struct record_msg msgs[FSM_MAX_BATCH];
    /* Log-driven appends in apply order, for the durable position. */
    struct fsm_pending *head, *tail;
    struct fsm_pending *spare; /* reused entries: no allocation per append */
    uint64_t applied; /* highest source applied */
    bool failed;      /* a log-driven append failed after apply returned */
};

int fsm_init(struct broker *b)
{
    b->fsm = calloc(1, sizeof *b->fsm);
    if (!b->fsm)
        return TERN_E_NOMEM;
    buf_init(&b->fsm->rec);
    return 0;
}

static struct fsm_pending *pending_get(struct fsm *f)
{
    struct fsm_pending *p = f->spare;
    if (p)
        f->spare = p->next;
    else if (!(p = malloc(sizeof *p)))
        return NULL;
    memset(p, 0, sizeof *p);
    p->f = f;
    p->req.data = p;
    return p;
}

static void pending_put(struct fsm *f, struct fsm_pending *p)
{
    p->next = f->spare;
    f->spare = p;
}

static void pending_free_list(struct fsm_pending *p)
{
    while (p) {
        struct fsm_pending *next = p->next;
        free(p);
        p = next;
    }
}

uint64_t fsm_durable_source(struct broker *b)
{
    struct fsm *f = b->fsm;
    while (f->head && f->head->done) {
        struct fsm_pending *p = f->head;
        f->head = p->next;
        if (!f->head)
            f->tail = NULL;
        pending_put(f, p);
    }
    return f->head ? f->head->source - 1 : f->applied;
}

bool fsm_failed(const struct broker *b)
{
    return b->fsm && b->fsm->failed;
}

void fsm_free(struct broker *b)
{
    if (!b->fsm)
        return;
    /* The store closed first: every append's callback has fired. */
    pending_free_list(b->fsm->head);
    pending_free_list(b->fsm->spare);
    buf_free(&b->fsm->rec);
    free(b->fsm);
    b->fsm = NULL;
}

int fsm_encode_append(struct buf *out, const char *topic, int32_t queue_id, int64_t store_ts, bool lz4,
                      const struct record_msg *msgs, uint32_t n)
{
    size_t tlen = strlen(topic);
    buf_append_u8(out, FSM_CMD_APPEND);
    buf_append_u8(out, lz4 ? FSM_APPEND_LZ4 : 0);
    uint8_t *p = buf_extend(out, 2);
    if (p)
        le16_store(p, (uint16_t)tlen);
    buf_append_le32(out, (uint32_t)queue_id);
    buf_append_le64(out, (uint64_t)store_ts);
    buf_append_le32(out, n);
    buf_append(out, topic, tlen);
    for (uint32_t i = 0; i < n; i++) {
        buf_append_le32(out, msgs[i].len);
        buf_append_le32(out, (uint32_t)msgs[i].tag_hash);
    }
    for (uint32_t i = 0; i < n; i++)
        buf_append(out, msgs[i].data, msgs[i].len);
    return out->err;
}

int fsm_encode_topic(struct buf *out, const char *name, const struct topic_conf *c, bool system)
{
    size_t n = strlen(name);
    buf_append_u8(out, FSM_CMD_TOPIC);
    buf_append_u8(out, (uint8_t)((c->order ? 1 : 0) | (c->multi_tag ? 2 : 0) | (system ? 4 : 0)));
    uint8_t *p = buf_extend(out, 2);
    if (p)
        le16_store(p, (uint16_t)n);
    buf_append_le32(out, (uint32_t)c->read_queues);
    buf_append_le32(out, (uint32_t)c->write_queues);
    buf_append_le32(out, (uint32_t)c->perm);
    buf_append_le32(out, (uint32_t)c->sys_flag);
    buf_append(out, name, n);
    return out->err;
}

int fsm_encode_offset(struct buf *out, const char *group, const char *topic, int32_t queue_id, int64_t offset)
{
    size_t gl = strlen(group), tl = strlen(topic);
    uint8_t *p = buf_extend(out, 8);
    if (p) {
        p[0] = FSM_CMD_OFFSET;
        p[1] = 0;
        le16_store(p + 2, (uint16_t)gl);
        le16_store(p + 4, (uint16_t)tl);
        le16_store(p + 6, 0);
    }
    buf_append_le32(out, (uint32_t)queue_id);
    buf_append_le64(out, (uint64_t)offset);
    buf_append(out, group, gl);
    buf_append(out, topic, tl);
    return out->err;
}

static int apply_topic(struct broker *b, uint64_t index, const uint8_t *cmd, size_t len, struct fsm_result *res)
{
    struct cursor c;
    cursor_init(&c, cmd, len);
    cursor_u8(&c);
    uint8_t flags = cursor_u8(&c);
    const uint8_t *nl = cursor_take(&c, 2);
    uint16_t n = nl ? le16_load(nl) : 0;
    struct topic_conf tc = {
        .read_queues = (int32_t)cursor_le32(&c),
        .write_queues = (int32_t)cursor_le32(&c),
        .perm = (int32_t)cursor_le32(&c),
        .sys_flag = (int32_t)cursor_le32(&c),
        .order = (flags & 1) != 0,
        .multi_tag = (flags & 2) != 0,
    };
    const uint8_t *name_p = cursor_take(&c, n);
    if (c.err || n == 0 || n >= TOPICS_NAME_MAX || cursor_left(&c) != 0) {
        LOGE("broker", "log position %llu: malformed TOPIC command", (unsigned long long)index);
        return TERN_E_MALFORMED;
    }
    char name[TOPICS_NAME_MAX];
    memcpy(name, name_p, n);
    name[n] = '\0';
    res->status = topics_put(b->topics, name, &tc, (flags & 4) != 0, NULL);
    if (res->status)
        LOGE("broker", "topic %s: %s", name, b->topics->errmsg);
    return 0;
}

static int apply_offset(struct broker *b, uint64_t index, const uint8_t *cmd, size_t len, struct fsm_result *res)
{
    if (len < 20) {
        LOGE("broker", "log position %llu: malformed OFFSET command", (unsigned long long)index);
        return TERN_E_MALFORMED;
    }
    uint16_t gl = le16_load(cmd + 2), tl = le16_load(cmd + 4);
    int32_t qid = (int32_t)le32_load(cmd + 8);
    int64_t off = (int64_t)le64_load(cmd + 12);
    if (gl == 0 || tl == 0 || gl >= 256 || tl >= TOPICS_NAME_MAX || len != 20u + gl + tl) {
        LOGE("broker", "log position %llu: malformed OFFSET command", (unsigned long long)index);
        return TERN_E_MALFORMED;
    }
    char group[256], topic[TOPICS_NAME_MAX];
    memcpy(group, cmd + 20, gl);
    group[gl] = '\0';
    memcpy(topic, cmd + 20 + gl, tl);
    topic[tl] = '\0';
    offsets_store(b, group, topic, qid, off);
    res->status = 0;
    return 0;
}

static void background_append_cb(struct store_append_req *req, int status)
{
    struct fsm_pending *p = req->data;
    if (status != 0) {
        /* The log says this was applied, the partition says it was not:
         * this member has diverged until it restarts and re-applies. */
        LOGE("broker", "log position %llu: append failed after apply: %s; this member must restart",
             (unsigned long long)p->source, tern_strerror(status));
        p->f->failed = true;
    }
    if (p->tracked)
        p->done = true; /* released by fsm_durable_source, in log order */
    else
        pending_put(p->f, p);
}

static int apply_append(struct broker *b, uint64_t index, const uint8_t *cmd, size_t len,
                        struct store_append_req *req, store_append_cb cb, struct fsm_result *res)
{
    struct cursor c;
    cursor_init(&c, cmd, len);
    cursor_u8(&c);
    uint8_t flags = cursor_u8(&c);
    const uint8_t *tl = cursor_take(&c, 2);
    uint16_t tlen = tl ? le16_load(tl) : 0;
    int32_t qid = (int32_t)cursor_le32(&c);
    int64_t store_ts = (int64_t)cursor_le64(&c);
    uint32_t n = cursor_le32(&c);
    const uint8_t *topic_p = cursor_take(&c, tlen);
    if (c.err || n == 0 || n > FSM_MAX_BATCH || tlen == 0 || tlen >= TOPICS_NAME_MAX ||
        cursor_left(&c) < (size_t)n * 8) {
        LOGE("broker", "log position %llu: malformed APPEND command (%zu bytes)", (unsigned long long)index, len);
        return TERN_E_MALFORMED;
    }
    const uint8_t *dir = cursor_take(&c, (size_t)n * 8);
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += le32_load(dir + 8 * i);
    if (total != cursor_left(&c)) {
        LOGE("broker", "log position %llu: APPEND lengths do not add up", (unsigned long long)index);
        return TERN_E_MALFORMED;
    }
    char topic[TOPICS_NAME_MAX];
    memcpy(topic, topic_p, tlen);
    topic[tlen] = '\0';

    struct topic *tp = topics_find(b->topics, topic);
    struct partlog *pl;
    if (!tp || topics_partition(b->topics, tp, qid, &pl) != 0) {
        res->status = TERN_E_TOPIC_NOT_EXIST;
        return 0;
    }
    res->part_id = partlog_id(pl);
    res->count = n;
    if (index > 0 && index <= partlog_last_source_index(pl)) {
        /* Replayed after a restart: the partition stored it already
         * (index is the command's log position, fsm_source). */
        res->skipped = true;
        return 0;
    }
    /* Raft's buffer is read-only: patch a copy. */
    struct fsm *f = b->fsm;
    buf_reset(&f->rec);
    buf_append(&f->rec, c.p, total);
    if (f->rec.err) {
        res->status = TERN_E_NOMEM;
        return 0;
    }
    int64_t ts = partlog_store_time(pl, store_ts);
    uint64_t next = partlog_next_offset(pl);
    size_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t rl = le32_load(dir + 8 * i);
        uint8_t *rec = f->rec.data + at;
        uint64_t off = next + i;
        if (message_patch(rec, rl, (int64_t)off, (int64_t)store_phys_encode(res->part_id, off), ts) != 0) {
            LOGE("broker", "log position %llu: record %u too short to patch", (unsigned long long)index, i);
            return TERN_E_MALFORMED;
        }
        f->msgs[i].data = rec;
        f->msgs[i].len = rl;
        f->msgs[i].tag_hash = le32_load(dir + 8 * i + 4);
        at += rl;
    }
    struct partlog_append_info info = {
        .source_index = index,
        .store_ts = ts,
        .codec = (flags & FSM_APPEND_LZ4) ? RECORD_CODEC_LZ4 : RECORD_CODEC_NONE,
    };
    bool own = req == NULL;
    struct fsm_pending *pend = NULL;
    if (own) {
        pend = pending_get(f);
        if (!pend) {
            res->status = TERN_E_NOMEM;
            return 0;
        }
        pend->source = index;
        req = &pend->req;
        cb = background_append_cb;
    }
    uint64_t first;
    int rv = store_append(b->store, pl, f->msgs, n, &info, req, cb, &first);
    if (rv != 0) {
        if (pend)
            pending_put(f, pend);
        res->status = rv;
        return 0;
    }
    if (pend && index > 0) {
        pend->tracked = true;
        if (f->tail)
            f->tail->next = pend;
        else
            f->head = pend;
        f->tail = pend;
    }
    res->first_offset = first;
    if (strcmp(topic, DELAY_TOPIC) == 0) /* index the lane's pending messages */
        delay_on_append(b, qid, first, f->msgs, n);
    return 0;
}

int fsm_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct store_append_req *req,
              store_append_cb cb, struct fsm_result *res)
{
    uint64_t index = source;
    memset(res, 0, sizeof *res);
    if (source > b->fsm->applied)
        b->fsm->applied = source;
    if (len < 1)
        return TERN_E_MALFORMED;
    switch (cmd[0]) {
    case FSM_CMD_APPEND:
        return apply_append(b, index, cmd, len, req, cb, res);
    case FSM_CMD_TOPIC:
        return apply_topic(b, index, cmd, len, res);
    case FSM_CMD_OFFSET:
        return apply_offset(b, index, cmd, len, res);
    case FSM_CMD_TXN_PREPARE:
    case FSM_CMD_TXN_END:
    case FSM_CMD_TXN_CHECK:
        return txn_apply(b, index, cmd, len, req, cb, res);
    case FSM_CMD_LOCK:
    case FSM_CMD_UNLOCK:
        return locks_apply(b, cmd, len);
    case FSM_CMD_DELAY_DELIVER:
        return delay_apply(b, index, cmd, len, res);
    default:
        LOGE("broker", "log position %llu: unknown command type %u", (unsigned long long)index, cmd[0]);
        return TERN_E_MALFORMED;
    }
}
