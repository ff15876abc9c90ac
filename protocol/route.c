/* TopicRouteData, ClusterInfo and TopicList JSON, plus the JSON-body arena and field helpers. */
#include "protocol/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

#define ALIGN 8u

/* Upper bound of what a decoder allocates for v: every array element or map
 * member may become one struct of elem bytes (or a pointer), every string or
 * key a copy, every allocation up to ALIGN-1 bytes of padding. Only
 * containers are charged elem, so the bound stays within a small multiple of
 * the JSON text (an element costs at least 2 bytes of input). */
static size_t measure(const json_t *v, size_t elem)
{
    size_t s = 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) + 1 + ALIGN;
    case JSON_ARRAY: {
        size_t i;
        json_t *c;
        s = ALIGN;
        json_array_foreach(v, i, c) s += elem + measure(c, elem);
        return s;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *c;
        s = ALIGN;
        json_object_foreach((json_t *)v, k, c) s += elem + strlen(k) + 1 + ALIGN + measure(c, elem);
        return s;
    }
    default:
        return 0;
    }
}

int route_arena_begin(struct buf *arena, const json_t *root, size_t elem_size, char *errmsg)
{
    buf_reset(arena);
    size_t need = measure(root, elem_size) + ALIGN;
    int rc = buf_reserve(arena, need);
    if (rc)
        errmsg_printf(errmsg, "arena: cannot reserve %zu bytes: %s", need, tern_strerror(rc));
    return rc;
}

void *route_arena_alloc(struct buf *arena, size_t n)
{
    size_t at = (arena->len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (!arena->data || at > arena->cap || n > arena->cap - at)
        return NULL;
    arena->len = at + n;
    memset(arena->data + at, 0, n);
    return arena->data + at;
}

const char *route_arena_strdup(struct buf *arena, const char *s, size_t n)
{
    if (!arena->data || n >= arena->cap - arena->len)
        return NULL;
    char *d = (char *)arena->data + arena->len;
    memcpy(d, s, n);
    d[n] = '\0';
    arena->len += n + 1;
    return d;
}

int route_json_load(const char *json, size_t n, json_t **root, char *errmsg)
{
    json_error_t je;
    *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    if (!*root) {
        errmsg_printf(errmsg, "bad JSON at %d: %s", je.position, je.text);
        return TERN_E_MALFORMED;
    }
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        errmsg_printf(errmsg, "expected a JSON object");
        return TERN_E_MALFORMED;
    }
    return 0;
}

int route_json_str(struct buf *arena, const json_t *obj, const char *key, bool required,
                   const char **out, char *errmsg)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        errmsg_printf(errmsg, "%s: missing", key);
        return TERN_E_MALFORMED;
    }
    if (!json_is_string(v)) {
        errmsg_printf(errmsg, "%s: expected a string", key);
        return TERN_E_MALFORMED;
    }
    *out = route_arena_strdup(arena, json_string_value(v), json_string_length(v));
    if (!*out) {
        errmsg_printf(errmsg, "%s: arena exhausted", key);
        return TERN_E_NOMEM;
    }
    return 0;
}

int route_json_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, char *errmsg)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        errmsg_printf(errmsg, "%s: missing", key);
        return TERN_E_MALFORMED;
    }
    if (!json_is_integer(v)) {
        errmsg_printf(errmsg, "%s: expected an integer", key);
        return TERN_E_MALFORMED;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        errmsg_printf(errmsg, "%s: %lld out of range", key, (long long)i);
        return TERN_E_MALFORMED;
    }
    *out = (int64_t)i;
    return 0;
}

int route_json_bool(const json_t *obj, const char *key, bool *out, char *errmsg)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        errmsg_printf(errmsg, "%s: expected true or false", key);
        return TERN_E_MALFORMED;
    }
    *out = json_is_true(v);
    return 0;
}

static int get_container(const json_t *obj, const char *key, bool required, bool array,
                         json_t **out, char *errmsg)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        errmsg_printf(errmsg, "%s: missing", key);
        return TERN_E_MALFORMED;
    }
    if (array ? !json_is_array(v) : !json_is_object(v)) {
        errmsg_printf(errmsg, "%s: expected an %s", key, array ? "array" : "object");
        return TERN_E_MALFORMED;
    }
    size_t n = array ? json_array_size(v) : json_object_size(v);
    if (n > ROUTE_MAX_ITEMS) {
        errmsg_printf(errmsg, "%s: %zu elements exceed %d", key, n, ROUTE_MAX_ITEMS);
        return TERN_E_MALFORMED;
    }
    *out = v;
    return 0;
}

int route_json_array(const json_t *obj, const char *key, bool required, json_t **out,
                     char *errmsg)
{
    return get_container(obj, key, required, true, out, errmsg);
}

int route_json_object(const json_t *obj, const char *key, bool required, json_t **out,
                      char *errmsg)
{
    return get_container(obj, key, required, false, out, errmsg);
}

bool route_quoted_keys(int version, bool accept_standard_json_only)
{
    return accept_standard_json_only || version >= ROUTE_STANDARD_JSON_MIN_VERSION;
}

/* ---- encoding ---------------------------------------------------------- */

static void put_str(struct jsonw *w, const char *k, const char *v)
{
    jsonw_kv_str(w, k, v ? v : "");
}

static void put_broker(struct jsonw *w, const struct route_broker *bd, bool quoted_keys)
{
    jsonw_obj_begin(w);
    jsonw_key(w, "brokerAddrs");
    jsonw_obj_begin(w);
    for (size_t i = 0; i < bd->addr_count; i++) {
        char id[24];
        snprintf(id, sizeof id, "%lld", (long long)bd->addrs[i].broker_id);
        if (quoted_keys)
            jsonw_key(w, id);
        else
            jsonw_key_raw(w, id);
        jsonw_cstr(w, bd->addrs[i].addr ? bd->addrs[i].addr : "");
    }
    jsonw_obj_end(w);
    put_str(w, "brokerName", bd->broker_name);
    put_str(w, "cluster", bd->cluster);
    jsonw_kv_bool(w, "enableActingMaster", bd->enable_acting_master);
    if (bd->zone_name)
        jsonw_kv_str(w, "zoneName", bd->zone_name);
    jsonw_obj_end(w);
}

int route_encode(const struct route_data *rd, bool quoted_keys, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "brokerDatas");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < rd->broker_count; i++)
        put_broker(&w, &rd->brokers[i], quoted_keys);
    jsonw_arr_end(&w);
    jsonw_key(&w, "filterServerTable");
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    if (rd->order_topic_conf)
        jsonw_kv_str(&w, "orderTopicConf", rd->order_topic_conf);
    jsonw_key(&w, "queueDatas");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < rd->queue_count; i++) {
        const struct route_queue *q = &rd->queues[i];
        jsonw_obj_begin(&w);
        put_str(&w, "brokerName", q->broker_name);
        jsonw_kv_int(&w, "perm", q->perm);
        jsonw_kv_int(&w, "readQueueNums", q->read_queue_nums);
        /* 4.x clients read the misspelt name, 4.9+/5.x the corrected one. */
        jsonw_kv_int(&w, "topicSynFlag", q->topic_sys_flag);
        jsonw_kv_int(&w, "topicSysFlag", q->topic_sys_flag);
        jsonw_kv_int(&w, "writeQueueNums", q->write_queue_nums);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    return out->err;
}

int route_cluster_encode(const struct route_cluster_info *ci, bool quoted_keys, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "brokerAddrTable");
    jsonw_obj_begin(&w);
    for (size_t i = 0; i < ci->broker_count; i++) {
        jsonw_key(&w, ci->brokers[i].broker_name ? ci->brokers[i].broker_name : "");
        put_broker(&w, &ci->brokers[i], quoted_keys);
    }
    jsonw_obj_end(&w);
    jsonw_key(&w, "clusterAddrTable");
    jsonw_obj_begin(&w);
    for (size_t i = 0; i < ci->cluster_count; i++) {
        const struct route_cluster *c = &ci->clusters[i];
        jsonw_key(&w, c->cluster_name ? c->cluster_name : "");
        jsonw_arr_begin(&w);
        for (size_t k = 0; k < c->broker_name_count; k++)
            jsonw_cstr(&w, c->broker_names[k]);
        jsonw_arr_end(&w);
    }
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    return out->err;
}

int route_topics_encode(const struct route_topic_list *tl, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    if (tl->broker_addr)
        jsonw_kv_str(&w, "brokerAddr", tl->broker_addr);
    jsonw_key(&w, "topicList");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < tl->count; i++)
        jsonw_cstr(&w, tl->topics[i]);
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    return out->err;
}

/* ---- decoding ---------------------------------------------------------- */

#define ELEM_MAX                                                                                   \
    (sizeof(struct route_broker) > sizeof(struct route_cluster) ? sizeof(struct route_broker)      \
                                                                : sizeof(struct route_cluster))

static int arena_fail(char *errmsg)
{
    errmsg_printf(errmsg, "arena exhausted");
    return TERN_E_NOMEM;
}

static int decode_broker(struct buf *arena, const json_t *o, struct route_broker *bd, char *errmsg)
{
    int rc;
    json_t *addrs;
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_str(arena, o, "brokerName", true, &bd->broker_name, errmsg)) ||
        (rc = route_json_str(arena, o, "cluster", false, &bd->cluster, errmsg)) ||
        (rc = route_json_str(arena, o, "zoneName", false, &bd->zone_name, errmsg)) ||
        (rc = route_json_bool(o, "enableActingMaster", &bd->enable_acting_master, errmsg)) ||
        (rc = route_json_object(o, "brokerAddrs", false, &addrs, errmsg)))
        return rc;
    if (!addrs)
        return 0;
    bd->addrs = route_arena_alloc(arena, json_object_size(addrs) * sizeof *bd->addrs);
    if (!bd->addrs)
        return arena_fail(errmsg);
    const char *k;
    json_t *v;
    json_object_foreach(addrs, k, v)
    {
        char *end;
        long long id = strtoll(k, &end, 10);
        if (*k == '\0' || *end != '\0' || id < 0) {
            errmsg_printf(errmsg, "brokerAddrs: bad broker id \"%.32s\"", k);
            return TERN_E_MALFORMED;
        }
        if (!json_is_string(v)) {
            errmsg_printf(errmsg, "brokerAddrs: %lld: expected a string", id);
            return TERN_E_MALFORMED;
        }
        struct route_addr *a = &bd->addrs[bd->addr_count++];
        a->broker_id = id;
        a->addr = route_arena_strdup(arena, json_string_value(v), json_string_length(v));
        if (!a->addr)
            return arena_fail(errmsg);
    }
    return 0;
}

static int decode_queue(struct buf *arena, const json_t *o, struct route_queue *q, char *errmsg)
{
    int rc;
    int64_t r = 0, w = 0, perm = 0, sys = 0;
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_str(arena, o, "brokerName", true, &q->broker_name, errmsg)) ||
        (rc = route_json_int(o, "readQueueNums", false, 0, INT32_MAX, &r, errmsg)) ||
        (rc = route_json_int(o, "writeQueueNums", false, 0, INT32_MAX, &w, errmsg)) ||
        (rc = route_json_int(o, "perm", false, INT32_MIN, INT32_MAX, &perm, errmsg)) ||
        (rc = route_json_int(o, "topicSynFlag", false, INT32_MIN, INT32_MAX, &sys, errmsg)) ||
        (rc = route_json_int(o, "topicSysFlag", false, INT32_MIN, INT32_MAX, &sys, errmsg)))
        return rc;
    q->read_queue_nums = (int32_t)r;
    q->write_queue_nums = (int32_t)w;
    q->perm = (int32_t)perm;
    q->topic_sys_flag = (int32_t)sys;
    return 0;
}

int route_decode(const char *json, size_t n, struct route_data *out, struct buf *arena,
                 char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root, *brokers, *queues;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, ELEM_MAX, errmsg)))
        goto err_after_load;
    if ((rc = route_json_array(root, "brokerDatas", false, &brokers, errmsg)) ||
        (rc = route_json_array(root, "queueDatas", false, &queues, errmsg)) ||
        (rc = route_json_str(arena, root, "orderTopicConf", false, &out->order_topic_conf, errmsg)))
        goto err_after_load;
    size_t nb = brokers ? json_array_size(brokers) : 0, nq = queues ? json_array_size(queues) : 0;
    out->brokers = route_arena_alloc(arena, nb * sizeof *out->brokers);
    out->queues = route_arena_alloc(arena, nq * sizeof *out->queues);
    if (!out->brokers || !out->queues) {
        rc = arena_fail(errmsg);
        goto err_after_load;
    }
    for (size_t i = 0; i < nb; i++, out->broker_count++) {
        if ((rc = decode_broker(arena, json_array_get(brokers, i), &out->brokers[i], errmsg))) {
            errmsg_wrapf(errmsg, "brokerDatas[%zu]", i);
            goto err_after_load;
        }
    }
    for (size_t i = 0; i < nq; i++, out->queue_count++) {
        if ((rc = decode_queue(arena, json_array_get(queues, i), &out->queues[i], errmsg))) {
            errmsg_wrapf(errmsg, "queueDatas[%zu]", i);
            goto err_after_load;
        }
    }
    json_decref(root);
    return 0;

err_after_load:
    json_decref(root);
err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "topic route");
    return rc;
}

int route_cluster_decode(const char *json, size_t n, struct route_cluster_info *out,
                         struct buf *arena, char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root, *bt, *ct;
    const char *k;
    json_t *v;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, ELEM_MAX, errmsg)) ||
        (rc = route_json_object(root, "brokerAddrTable", false, &bt, errmsg)) ||
        (rc = route_json_object(root, "clusterAddrTable", false, &ct, errmsg)))
        goto err_after_load;
    out->brokers = route_arena_alloc(arena, (bt ? json_object_size(bt) : 0) * sizeof *out->brokers);
    out->clusters =
        route_arena_alloc(arena, (ct ? json_object_size(ct) : 0) * sizeof *out->clusters);
    if (!out->brokers || !out->clusters) {
        rc = arena_fail(errmsg);
        goto err_after_load;
    }
    if (bt) {
        json_object_foreach(bt, k, v)
        {
            if ((rc = decode_broker(arena, v, &out->brokers[out->broker_count], errmsg))) {
                errmsg_wrapf(errmsg, "brokerAddrTable[%.64s]", k);
                goto err_after_load;
            }
            out->broker_count++;
        }
    }
    if (ct) {
        json_object_foreach(ct, k, v)
        {
            struct route_cluster *c = &out->clusters[out->cluster_count];
            if (!json_is_array(v)) {
                errmsg_printf(errmsg, "clusterAddrTable[%.64s]: expected an array", k);
                rc = TERN_E_MALFORMED;
                goto err_after_load;
            }
            c->cluster_name = route_arena_strdup(arena, k, strlen(k));
            c->broker_names = route_arena_alloc(arena, json_array_size(v) * sizeof(char *));
            if (!c->cluster_name || !c->broker_names) {
                rc = arena_fail(errmsg);
                goto err_after_load;
            }
            size_t i;
            json_t *s;
            json_array_foreach(v, i, s)
            {
                if (!json_is_string(s)) {
                    errmsg_printf(errmsg, "clusterAddrTable[%.64s][%zu]: expected a string", k, i);
                    rc = TERN_E_MALFORMED;
                    goto err_after_load;
                }
                c->broker_names[i] =
                    route_arena_strdup(arena, json_string_value(s), json_string_length(s));
                if (!c->broker_names[i]) {
                    rc = arena_fail(errmsg);
                    goto err_after_load;
                }
                c->broker_name_count++;
            }
            out->cluster_count++;
        }
    }
    json_decref(root);
    return 0;

err_after_load:
    json_decref(root);
err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "cluster info");
    return rc;
}

int route_topics_decode(const char *json, size_t n, struct route_topic_list *out,
                        struct buf *arena, char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root, *list;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, sizeof(char *), errmsg)) ||
        (rc = route_json_array(root, "topicList", false, &list, errmsg)) ||
        (rc = route_json_str(arena, root, "brokerAddr", false, &out->broker_addr, errmsg)))
        goto err_after_load;
    size_t cnt = list ? json_array_size(list) : 0;
    out->topics = route_arena_alloc(arena, cnt * sizeof(char *));
    if (!out->topics) {
        rc = arena_fail(errmsg);
        goto err_after_load;
    }
    for (size_t i = 0; i < cnt; i++) {
        json_t *s = json_array_get(list, i);
        if (!json_is_string(s)) {
            errmsg_printf(errmsg, "topicList[%zu]: expected a string", i);
            rc = TERN_E_MALFORMED;
            goto err_after_load;
        }
        out->topics[i] = route_arena_strdup(arena, json_string_value(s), json_string_length(s));
        if (!out->topics[i]) {
            rc = arena_fail(errmsg);
            goto err_after_load;
        }
        out->count++;
    }
    json_decref(root);
    return 0;

err_after_load:
    json_decref(root);
err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "topic list");
    return rc;
}
