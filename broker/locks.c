/* Queue locks for orderly consumers (see locks.h for the guarantees).
 *
 * Happy path of LOCK_BATCH_MQ: decode the JSON body -> encode a LOCK command
 * stamped with the leader's clock -> apply it directly (single broker) or
 * propose it and wait for its commit (replication) -> answer lockOKMQSet with
 * the requested queues the client now holds. UNLOCK_BATCH_MQ is the same
 * with an UNLOCK command and an empty answer.
 * Failure modes: a malformed body or over-long names -> INVALID_PARAMETER
 * (nothing proposed); not the ready leader -> SERVICE_NOT_AVAILABLE (the
 * client re-locks at the leader after a route refresh); a command lost to a
 * leader change -> SYSTEM_ERROR, nothing granted as far as the client knows.
 * Expired entries are removed when touched (lock or unlock of that queue). */
#include "broker/locks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <uthash.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "protocol/codes.h"
#include "protocol/lockbody.h"
#include "src/clock.h"
#include "src/cursor.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "src/log.h"
#include "tern/error.h"

#define LOCKS_MAX_MQS 4096

/* ---- the table ------------------------------------------------------------- */

struct lockent {
    char *key; /* group \x01 topic \x01 queue id */
    char client[LOCKS_NAME_MAX];
    int64_t last_ms; /* time of the last grant or renewal */
    int64_t since_ms; /* time of the grant that began the current hold */
    UT_hash_handle hh;
};

struct locktab {
    struct lockent *map;
};

struct locktab *locktab_new(void)
{
    return calloc(1, sizeof(struct locktab));
}

void locktab_free(struct locktab *t)
{
    if (!t)
        return;
    struct lockent *e, *tmp;
    HASH_ITER(hh, t->map, e, tmp)
    {
        HASH_DEL(t->map, e);
        free(e->key);
        free(e);
    }
    free(t);
}

static int make_key(char *key, size_t cap, const char *group, const char *topic, int32_t qid)
{
    int n = snprintf(key, cap, "%s\x01%s\x01%d", group, topic, (int)qid);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static struct lockent *find(const struct locktab *t, const char *group, const char *topic, int32_t qid)
{
    char key[2 * LOCKS_NAME_MAX + 16];
    int n = make_key(key, sizeof key, group, topic, qid);
    if (n < 0)
        return NULL;
    struct lockent *e = NULL;
    HASH_FIND(hh, t->map, key, (size_t)n, e);
    return e;
}

static bool expired(const struct lockent *e, int64_t now_ms)
{
    return now_ms - e->last_ms > LOCKS_EXPIRE_MS;
}

bool locktab_lock(struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client,
                  int64_t now_ms)
{
    if (strlen(client) >= LOCKS_NAME_MAX)
        return false;
    struct lockent *e = find(t, group, topic, qid);
    if (e) {
        if (strcmp(e->client, client) != 0 && !expired(e, now_ms))
            return false;
        if (strcmp(e->client, client) != 0) {
            LOGI("broker", "lock %s/%s/%d: %s expired, now held by %s", group, topic, (int)qid, e->client, client);
            e->since_ms = now_ms;
        }
        snprintf(e->client, sizeof e->client, "%s", client);
        /* Commands apply in log order; never move the stamp backwards. */
        if (now_ms > e->last_ms)
            e->last_ms = now_ms;
        return true;
    }
    char key[2 * LOCKS_NAME_MAX + 16];
    int n = make_key(key, sizeof key, group, topic, qid);
    if (n < 0 || !(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
        free(e);
        return false;
    }
    snprintf(e->client, sizeof e->client, "%s", client);
    e->last_ms = now_ms;
    e->since_ms = now_ms;
    HASH_ADD_KEYPTR(hh, t->map, e->key, (size_t)n, e);
    return true;
}

void locktab_unlock(struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client)
{
    struct lockent *e = find(t, group, topic, qid);
    if (!e || strcmp(e->client, client) != 0)
        return;
    HASH_DEL(t->map, e);
    free(e->key);
    free(e);
}

bool locktab_held(const struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client,
                  int64_t now_ms)
{
    const struct lockent *e = find(t, group, topic, qid);
    return e && strcmp(e->client, client) == 0 && !expired(e, now_ms);
}

int64_t locktab_since(const struct locktab *t, const char *group, const char *topic, int32_t qid,
                      const char *client)
{
    const struct lockent *e = find(t, group, topic, qid);
    return e && strcmp(e->client, client) == 0 ? e->since_ms : -1;
}

size_t locktab_count(const struct locktab *t)
{
    return HASH_COUNT(t->map);
}

/* ---- commands ---------------------------------------------------------------- */

static void put_le16(struct buf *out, uint16_t v)
{
    uint8_t *p = buf_extend(out, 2);
    if (p)
        le16_store(p, v);
}

int locks_encode(struct buf *out, int type, const struct lockbody_req *req, int64_t now_ms)
{
    size_t gl = strlen(req->consumer_group), cl = strlen(req->client_id);
    /* 0x01 separates the table key's parts: refuse it in names. */
    if (gl == 0 || gl >= LOCKS_NAME_MAX || cl == 0 || cl >= LOCKS_NAME_MAX || req->mq_count > LOCKS_MAX_MQS ||
        memchr(req->consumer_group, 1, gl))
        return TERN_E_INVAL;
    buf_append_u8(out, (uint8_t)type);
    buf_append_u8(out, 0);
    put_le16(out, (uint16_t)gl);
    put_le16(out, (uint16_t)cl);
    put_le16(out, (uint16_t)req->mq_count);
    buf_append_le64(out, (uint64_t)now_ms);
    buf_append(out, req->consumer_group, gl);
    buf_append(out, req->client_id, cl);
    for (size_t i = 0; i < req->mq_count; i++) {
        size_t tl = strlen(req->mqs[i].topic);
        if (tl == 0 || tl >= LOCKS_NAME_MAX || memchr(req->mqs[i].topic, 1, tl))
            return TERN_E_INVAL;
        put_le16(out, (uint16_t)tl);
        buf_append_le32(out, (uint32_t)req->mqs[i].queue_id);
        buf_append(out, req->mqs[i].topic, tl);
    }
    return out->err;
}

/* A decoded command; strings are NUL-terminated copies. */
struct lockcmd {
    int type;
    char group[LOCKS_NAME_MAX];
    char client[LOCKS_NAME_MAX];
    int64_t now_ms;
    uint16_t count;
    struct cursor mqs; /* positioned at the first queue */
};

static int take_str(struct cursor *c, size_t n, char *out)
{
    const uint8_t *p = cursor_take(c, n);
    if (!p || n == 0 || n >= LOCKS_NAME_MAX)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int cmd_decode(const uint8_t *cmd, size_t len, struct lockcmd *lc)
{
    struct cursor c;
    cursor_init(&c, cmd, len);
    lc->type = cursor_u8(&c);
    cursor_u8(&c);
    const uint8_t *h = cursor_take(&c, 6);
    lc->now_ms = (int64_t)cursor_le64(&c);
    if (!h || c.err)
        return -1;
    uint16_t gl = le16_load(h), cl = le16_load(h + 2);
    lc->count = le16_load(h + 4);
    if (take_str(&c, gl, lc->group) || take_str(&c, cl, lc->client))
        return -1;
    lc->mqs = c;
    return 0;
}

/* Next queue of a decoded command; -1 at a malformed entry. */
static int cmd_next(struct lockcmd *lc, char *topic, int32_t *qid)
{
    const uint8_t *p = cursor_take(&lc->mqs, 2);
    uint16_t tl = p ? le16_load(p) : 0;
    *qid = (int32_t)cursor_le32(&lc->mqs);
    if (lc->mqs.err)
        return -1;
    return take_str(&lc->mqs, tl, topic);
}

int locks_apply(struct broker *b, const uint8_t *cmd, size_t len)
{
    struct lockcmd lc;
    char topic[LOCKS_NAME_MAX];
    int32_t qid;
    if (cmd_decode(cmd, len, &lc) != 0)
        goto malformed;
    /* Validate the whole command before changing anything. */
    struct cursor start = lc.mqs;
    for (uint16_t i = 0; i < lc.count; i++)
        if (cmd_next(&lc, topic, &qid) != 0)
            goto malformed;
    if (cursor_left(&lc.mqs) != 0)
        goto malformed;
    lc.mqs = start;
    for (uint16_t i = 0; i < lc.count; i++) {
        cmd_next(&lc, topic, &qid);
        if (lc.type == FSM_CMD_LOCK)
            locktab_lock(b->locks, lc.group, topic, qid, lc.client, lc.now_ms);
        else
            locktab_unlock(b->locks, lc.group, topic, qid, lc.client);
    }
    return 0;
malformed:
    LOGE("broker", "malformed LOCK/UNLOCK command (%zu bytes)", len);
    return TERN_E_MALFORMED;
}

/* ---- requests ------------------------------------------------------------------ */

/* A request waiting for its command's commit. */
struct lockwait {
    struct broker *b;
    struct rpc_reply reply;
    size_t len;
    uint8_t cmd[]; /* the command, to build the answer from */
};

int locks_answer(struct broker *b, const uint8_t *cmd, size_t len, struct buf *out)
{
    struct lockcmd lc;
    if (cmd_decode(cmd, len, &lc) != 0)
        return TERN_E_MALFORMED;
    struct lockbody_mq *ok = calloc(lc.count ? lc.count : 1, sizeof *ok);
    char *topics = malloc((size_t)(lc.count ? lc.count : 1) * LOCKS_NAME_MAX);
    int rv = ok && topics ? 0 : TERN_E_NOMEM;
    size_t n = 0;
    for (uint16_t i = 0; rv == 0 && i < lc.count; i++) {
        char *topic = topics + (size_t)i * LOCKS_NAME_MAX;
        int32_t qid;
        if (cmd_next(&lc, topic, &qid) != 0) {
            rv = TERN_E_MALFORMED;
            break;
        }
        /* Blind (restored from a snapshot without locks): grant nothing. */
        if (lc.now_ms < b->locks_blind_until)
            continue;
        if (locktab_held(b->locks, lc.group, topic, qid, lc.client, lc.now_ms))
            ok[n++] = (struct lockbody_mq){topic, b->conf.name, qid};
    }
    if (rv == 0)
        rv = lockbody_ok_encode(ok, n, out);
    free(ok);
    free(topics);
    return rv;
}

static void respond_result(struct broker *b, struct rpc_conn *rc, const struct remoting_cmd *req,
                           struct rpc_reply *reply, int code, const char *remark, const uint8_t *cmd, size_t len)
{
    buf_reset(&b->body);
    if (code == CODES_RESP_SUCCESS && cmd[0] == FSM_CMD_LOCK && locks_answer(b, cmd, len, &b->body) != 0) {
        code = CODES_RESP_SYSTEM_ERROR;
        remark = "lock answer: out of memory";
        buf_reset(&b->body);
    }
    struct iovec iov = {b->body.data, b->body.len};
    if (reply) {
        if (rpc_reply_begin(reply, &b->resp, code, remark) == 0)
            rpc_reply_finish(reply, &b->resp, b->body.len ? &iov : NULL, b->body.len ? 1 : 0);
        else
            rpc_reply_drop(reply);
        return;
    }
    if (remoting_is_oneway(req))
        return;
    if (code != CODES_RESP_SUCCESS || b->body.len == 0) {
        broker_respond_error(b, rc, req, code, remark);
        return;
    }
    remoting_cmd_init_response(&b->resp, req, code, NULL);
    broker_respond(b, rc, b->body.data, b->body.len);
}

static void committed(void *arg, int status, const struct fsm_result *res)
{
    struct lockwait *w = arg;
    (void)res;
    int code = CODES_RESP_SUCCESS;
    const char *remark = NULL;
    if (status != 0) {
        code = status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR;
        remark = tern_strerror(status);
    }
    respond_result(w->b, NULL, NULL, &w->reply, code, remark, w->cmd, w->len);
    free(w);
}

void locks_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    int type = req->code == CODES_REQ_LOCK_BATCH_MQ ? FSM_CMD_LOCK : FSM_CMD_UNLOCK;
    char err[ERRMSG_SIZE];
    struct lockbody_req lr;
    if (req->body.len == 0 ||
        lockbody_req_decode(req->body.p, req->body.len, &lr, &b->arena, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, req->body.len ? err : "lock: no body");
        return;
    }
    buf_reset(&b->cmd);
    int rv = locks_encode(&b->cmd, type, &lr, clock_now_ms());
    if (rv) {
        broker_respond_error(b, rc, req, rv == TERN_E_INVAL ? CODES_RESP_INVALID_PARAMETER : CODES_RESP_SYSTEM_ERROR,
                             rv == TERN_E_INVAL ? "lock: group, clientId or topic empty, too long or with a 0x01 byte, or too many queues"
                                                : tern_strerror(rv));
        return;
    }
    if (!grouprepl_enabled(b)) {
        locks_apply(b, b->cmd.data, b->cmd.len);
        respond_result(b, rc, req, NULL, CODES_RESP_SUCCESS, NULL, b->cmd.data, b->cmd.len);
        return;
    }
    struct lockwait *w = malloc(sizeof *w + b->cmd.len);
    if (!w) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "lock: out of memory");
        return;
    }
    w->b = b;
    w->len = b->cmd.len;
    memcpy(w->cmd, b->cmd.data, b->cmd.len);
    rv = grouprepl_propose(b, w->cmd, w->len, committed, w);
    if (rv) {
        free(w);
        char remark[160];
        snprintf(remark, sizeof remark, "%s: broker group %s has no writable leader here", tern_strerror(rv),
                 b->conf.name);
        broker_respond_error(b, rc, req,
                             rv == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR,
                             remark);
        return;
    }
    rpc_reply_hold(&w->reply, rc, req);
}

int locks_init(struct broker *b)
{
    b->locks = locktab_new();
    return b->locks ? 0 : TERN_E_NOMEM;
}

/* ---- snapshots ------------------------------------------------------------------- */

int locks_snapshot(struct broker *b, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_arr_begin(&w);
    struct lockent *e, *tmp;
    HASH_ITER(hh, b->locks->map, e, tmp)
    {
        jsonw_obj_begin(&w);
        jsonw_kv_str(&w, "k", e->key);
        jsonw_kv_str(&w, "c", e->client);
        jsonw_kv_int(&w, "l", e->last_ms);
        jsonw_kv_int(&w, "s", e->since_ms);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    return out->err;
}

static void go_blind(struct broker *b, const char *why)
{
    b->locks_blind_until = clock_now_ms() + LOCKS_EXPIRE_MS;
    LOGW("broker", "queue locks: %s; no lock granted for %d s", why, LOCKS_EXPIRE_MS / 1000);
}

static int restore_entry(struct locktab *t, json_t *o)
{
    const char *key = json_string_value(json_object_get(o, "k"));
    const char *client = json_string_value(json_object_get(o, "c"));
    json_t *l = json_object_get(o, "l"), *since = json_object_get(o, "s");
    if (!key || !client || !json_is_integer(l) || !json_is_integer(since) || !*key ||
        strlen(key) >= 2 * LOCKS_NAME_MAX + 16 || !*client || strlen(client) >= LOCKS_NAME_MAX)
        return TERN_E_CORRUPT;
    struct lockent *e = NULL;
    HASH_FIND(hh, t->map, key, strlen(key), e);
    if (e)
        return TERN_E_CORRUPT;
    if (!(e = calloc(1, sizeof *e)) || !(e->key = strdup(key))) {
        free(e);
        return TERN_E_NOMEM;
    }
    snprintf(e->client, sizeof e->client, "%s", client);
    e->last_ms = json_integer_value(l);
    e->since_ms = json_integer_value(since);
    HASH_ADD_KEYPTR(hh, t->map, e->key, strlen(e->key), e);
    return 0;
}

void locks_restore(struct broker *b, const char *json, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    json_t *arr = root ? json_object_get(root, "locks") : NULL;
    if (!json_is_array(arr)) {
        go_blind(b, root ? "snapshot without a lock table" : "snapshot is not JSON");
        json_decref(root);
        return;
    }
    struct locktab *t = locktab_new();
    int rv = t ? 0 : TERN_E_NOMEM;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (rv == 0)
            rv = json_is_object(o) ? restore_entry(t, o) : TERN_E_CORRUPT;
    }
    json_decref(root);
    if (rv) {
        locktab_free(t);
        go_blind(b, rv == TERN_E_NOMEM ? "out of memory restoring the lock table"
                                       : "snapshot lock table is corrupt");
        return;
    }
    locktab_free(b->locks);
    b->locks = t;
    LOGI("broker", "queue locks: %zu restored from the snapshot", locktab_count(t));
}

void locks_free(struct broker *b)
{
    locktab_free(b->locks);
    b->locks = NULL;
}
