/* Encode and decode queue lock bodies and consumer id lists. */
#include "protocol/lockbody.h"

#include <string.h>

#include "protocol/route.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

static void put_mqs(struct jsonw *w, const char *key, const struct lockbody_mq *mqs, size_t n)
{
    jsonw_key(w, key);
    jsonw_arr_begin(w);
    for (size_t i = 0; i < n; i++) {
        jsonw_obj_begin(w);
        jsonw_kv_str(w, "brokerName", mqs[i].broker_name ? mqs[i].broker_name : "");
        jsonw_kv_int(w, "queueId", mqs[i].queue_id);
        jsonw_kv_str(w, "topic", mqs[i].topic ? mqs[i].topic : "");
        jsonw_obj_end(w);
    }
    jsonw_arr_end(w);
}

int lockbody_req_encode(const struct lockbody_req *req, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kv_str(&w, "clientId", req->client_id ? req->client_id : "");
    jsonw_kv_str(&w, "consumerGroup", req->consumer_group ? req->consumer_group : "");
    put_mqs(&w, "mqSet", req->mqs, req->mq_count);
    jsonw_kv_bool(&w, "onlyThisBroker", req->only_this_broker);
    jsonw_obj_end(&w);
    return out->err;
}

/* Decode the MessageQueue array at key into arena. */
static int get_mqs(struct buf *arena, const json_t *root, const char *key,
                   struct lockbody_mq **mqs, size_t *count, char *errmsg)
{
    json_t *arr;
    int rc = route_json_array(root, key, false, &arr, errmsg);
    *count = 0;
    if (rc)
        return rc;
    size_t n = arr ? json_array_size(arr) : 0;
    *mqs = route_arena_alloc(arena, n * sizeof **mqs);
    if (!*mqs) {
        errmsg_printf(errmsg, "arena exhausted");
        return TERN_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        struct lockbody_mq *mq = &(*mqs)[i];
        int64_t qid = 0;
        if (!json_is_object(o)) {
            errmsg_printf(errmsg, "expected an object");
            rc = TERN_E_MALFORMED;
        } else if (!(rc = route_json_str(arena, o, "topic", true, &mq->topic, errmsg)) &&
                   !(rc = route_json_str(arena, o, "brokerName", true, &mq->broker_name,
                                         errmsg))) {
            rc = route_json_int(o, "queueId", true, INT32_MIN, INT32_MAX, &qid, errmsg);
        }
        if (rc) {
            errmsg_wrapf(errmsg, "%s[%zu]", key, i);
            return rc;
        }
        mq->queue_id = (int32_t)qid;
        (*count)++;
    }
    return 0;
}

int lockbody_req_decode(const char *json, size_t n, struct lockbody_req *out, struct buf *arena,
                        char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, sizeof(struct lockbody_mq), errmsg)) ||
        (rc = route_json_str(arena, root, "consumerGroup", true, &out->consumer_group, errmsg)) ||
        (rc = route_json_str(arena, root, "clientId", true, &out->client_id, errmsg)) ||
        (rc = route_json_bool(root, "onlyThisBroker", &out->only_this_broker, errmsg)) ||
        (rc = get_mqs(arena, root, "mqSet", &out->mqs, &out->mq_count, errmsg))) {
        json_decref(root);
        goto err;
    }
    json_decref(root);
    return 0;

err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "lock body");
    return rc;
}

int lockbody_ok_encode(const struct lockbody_mq *mqs, size_t n, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    put_mqs(&w, "lockOKMQSet", mqs, n);
    jsonw_obj_end(&w);
    return out->err;
}

int lockbody_ok_decode(const char *json, size_t n, struct lockbody_mq **mqs, size_t *count,
                       struct buf *arena, char *errmsg)
{
    json_t *root;
    *mqs = NULL;
    *count = 0;
    int rc = route_json_load(json, n, &root, errmsg);
    if (!rc) {
        if (!(rc = route_arena_begin(arena, root, sizeof(struct lockbody_mq), errmsg)))
            rc = get_mqs(arena, root, "lockOKMQSet", mqs, count, errmsg);
        json_decref(root);
    }
    if (rc) {
        *mqs = NULL;
        *count = 0;
        errmsg_wrapf(errmsg, "lock response");
    }
    return rc;
}

int lockbody_ids_encode(const char *const *ids, size_t n, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "consumerIdList");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        jsonw_cstr(&w, ids[i]);
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    return out->err;
}

int lockbody_ids_decode(const char *json, size_t n, const char ***ids, size_t *count,
                        struct buf *arena, char *errmsg)
{
    json_t *root, *arr;
    *ids = NULL;
    *count = 0;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, sizeof(char *), errmsg)) ||
        (rc = route_json_array(root, "consumerIdList", false, &arr, errmsg)))
        goto err_after_load;
    size_t cnt = arr ? json_array_size(arr) : 0;
    *ids = route_arena_alloc(arena, cnt * sizeof(char *));
    if (!*ids)
        goto err_arena;
    for (size_t i = 0; i < cnt; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s)) {
            errmsg_printf(errmsg, "consumerIdList[%zu]: expected a string", i);
            rc = TERN_E_MALFORMED;
            goto err_after_load;
        }
        (*ids)[i] = route_arena_strdup(arena, json_string_value(s), json_string_length(s));
        if (!(*ids)[i])
            goto err_arena;
        (*count)++;
    }
    json_decref(root);
    return 0;

err_arena:
    errmsg_printf(errmsg, "arena exhausted");
    rc = TERN_E_NOMEM;
err_after_load:
    json_decref(root);
err:
    *ids = NULL;
    *count = 0;
    errmsg_wrapf(errmsg, "consumer list");
    return rc;
}
