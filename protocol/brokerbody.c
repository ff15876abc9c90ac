/* Encode and decode RegisterBrokerBody (topic config table) JSON. */
#include "protocol/brokerbody.h"

#include <string.h>
#include <strings.h>

#include "protocol/route.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

static void put_version(struct jsonw *w, const struct brokerbody_version *dv)
{
    jsonw_obj_begin(w);
    jsonw_kv_int(w, "counter", dv->counter);
    jsonw_kv_int(w, "stateVersion", dv->state_version);
    jsonw_kv_int(w, "timestamp", dv->timestamp);
    jsonw_obj_end(w);
}

int brokerbody_version_encode(const struct brokerbody_version *dv, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    put_version(&w, dv);
    return out->err;
}

int brokerbody_encode(const struct brokerbody *bb, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_key(&w, "filterServerList");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < bb->filter_server_count; i++)
        jsonw_cstr(&w, bb->filter_servers[i]);
    jsonw_arr_end(&w);
    jsonw_key(&w, "topicConfigSerializeWrapper");
    jsonw_obj_begin(&w);
    jsonw_key(&w, "dataVersion");
    put_version(&w, &bb->data_version);
    jsonw_key(&w, "mappingDataVersion");
    struct brokerbody_version mv = {0, 0, bb->data_version.timestamp};
    put_version(&w, &mv);
    jsonw_key(&w, "topicConfigTable");
    jsonw_obj_begin(&w);
    for (size_t i = 0; i < bb->topic_count; i++) {
        const struct brokerbody_topic *t = &bb->topics[i];
        const char *name = t->topic_name ? t->topic_name : "";
        jsonw_key(&w, name);
        jsonw_obj_begin(&w);
        jsonw_key(&w, "attributes");
        jsonw_obj_begin(&w);
        for (size_t k = 0; k < t->attr_count; k++)
            jsonw_kv_str(&w, t->attrs[k].key, t->attrs[k].val ? t->attrs[k].val : "");
        jsonw_obj_end(&w);
        jsonw_kv_bool(&w, "order", t->order);
        jsonw_kv_int(&w, "perm", t->perm);
        jsonw_kv_int(&w, "readQueueNums", t->read_queue_nums);
        jsonw_kv_str(&w, "topicFilterType",
                     t->filter_type == BROKERBODY_MULTI_TAG ? "MULTI_TAG" : "SINGLE_TAG");
        jsonw_kv_str(&w, "topicName", name);
        jsonw_kv_int(&w, "topicSysFlag", t->topic_sys_flag);
        jsonw_kv_int(&w, "writeQueueNums", t->write_queue_nums);
        jsonw_obj_end(&w);
    }
    jsonw_obj_end(&w);
    jsonw_key(&w, "topicQueueMappingDetailMap");
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    jsonw_key(&w, "topicQueueMappingInfoMap");
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    return out->err;
}

static int decode_version(const json_t *o, struct brokerbody_version *dv, char *errmsg)
{
    int rc;
    memset(dv, 0, sizeof *dv);
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_int(o, "counter", false, INT64_MIN, INT64_MAX, &dv->counter, errmsg)) ||
        (rc = route_json_int(o, "stateVersion", false, INT64_MIN, INT64_MAX, &dv->state_version,
                             errmsg)) ||
        (rc = route_json_int(o, "timestamp", false, INT64_MIN, INT64_MAX, &dv->timestamp, errmsg)))
        return rc;
    return 0;
}

int brokerbody_version_decode(const char *json, size_t n, struct brokerbody_version *out,
                              char *errmsg)
{
    json_t *root;
    int rc = route_json_load(json, n, &root, errmsg);
    if (!rc) {
        rc = decode_version(root, out, errmsg);
        json_decref(root);
    }
    if (rc)
        errmsg_wrapf(errmsg, "data version");
    return rc;
}

static int decode_topic(struct buf *arena, const char *key, const json_t *o,
                        struct brokerbody_topic *t, char *errmsg)
{
    int rc;
    int64_t r = 0, w = 0, perm = 0, sys = 0;
    json_t *attrs, *ft;
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_str(arena, o, "topicName", false, &t->topic_name, errmsg)) ||
        (rc = route_json_int(o, "readQueueNums", false, 0, INT32_MAX, &r, errmsg)) ||
        (rc = route_json_int(o, "writeQueueNums", false, 0, INT32_MAX, &w, errmsg)) ||
        (rc = route_json_int(o, "perm", false, INT32_MIN, INT32_MAX, &perm, errmsg)) ||
        (rc = route_json_int(o, "topicSysFlag", false, INT32_MIN, INT32_MAX, &sys, errmsg)) ||
        (rc = route_json_bool(o, "order", &t->order, errmsg)) ||
        (rc = route_json_object(o, "attributes", false, &attrs, errmsg)))
        return rc;
    t->read_queue_nums = (int32_t)r;
    t->write_queue_nums = (int32_t)w;
    t->perm = (int32_t)perm;
    t->topic_sys_flag = (int32_t)sys;
    if (!t->topic_name && !(t->topic_name = route_arena_strdup(arena, key, strlen(key))))
        goto err_arena;
    ft = json_object_get(o, "topicFilterType");
    t->filter_type = BROKERBODY_SINGLE_TAG;
    if (ft && !json_is_null(ft)) {
        if (json_is_string(ft) && strcasecmp(json_string_value(ft), "MULTI_TAG") == 0) {
            t->filter_type = BROKERBODY_MULTI_TAG;
        } else if (!json_is_string(ft) || strcasecmp(json_string_value(ft), "SINGLE_TAG") != 0) {
            errmsg_printf(errmsg, "topicFilterType: expected SINGLE_TAG or MULTI_TAG");
            return TERN_E_MALFORMED;
        }
    }
    if (!attrs)
        return 0;
    t->attrs = route_arena_alloc(arena, json_object_size(attrs) * sizeof *t->attrs);
    if (!t->attrs)
        goto err_arena;
    const char *k;
    json_t *v;
    json_object_foreach(attrs, k, v)
    {
        if (!json_is_string(v)) {
            errmsg_printf(errmsg, "attributes[%.64s]: expected a string", k);
            return TERN_E_MALFORMED;
        }
        struct brokerbody_attr *a = &t->attrs[t->attr_count];
        a->key = route_arena_strdup(arena, k, strlen(k));
        a->val = route_arena_strdup(arena, json_string_value(v), json_string_length(v));
        if (!a->key || !a->val)
            goto err_arena;
        t->attr_count++;
    }
    return 0;

err_arena:
    errmsg_printf(errmsg, "arena exhausted");
    return TERN_E_NOMEM;
}

int brokerbody_decode(const char *json, size_t n, bool compressed, struct brokerbody *out,
                      struct buf *arena, char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root = NULL, *wrapper, *dv, *table, *filters;
    int rc;
    if (compressed) {
        /* Stock brokers send it only with compressedRegister=true (default
         * false); decoding it would mean inflating attacker-sized zlib input. */
        errmsg_printf(errmsg, "compressed register body not supported");
        rc = TERN_E_MALFORMED;
        goto err;
    }
    if ((rc = route_json_load(json, n, &root, errmsg)))
        goto err;
    if ((rc = route_arena_begin(arena, root, sizeof(struct brokerbody_topic), errmsg)) ||
        (rc = route_json_array(root, "filterServerList", false, &filters, errmsg)) ||
        (rc = route_json_object(root, "topicConfigSerializeWrapper", false, &wrapper, errmsg)))
        goto err_after_load;
    size_t nf = filters ? json_array_size(filters) : 0;
    out->filter_servers = route_arena_alloc(arena, nf * sizeof(char *));
    if (!out->filter_servers)
        goto err_arena;
    for (size_t i = 0; i < nf; i++) {
        json_t *s = json_array_get(filters, i);
        if (!json_is_string(s)) {
            errmsg_printf(errmsg, "filterServerList[%zu]: expected a string", i);
            rc = TERN_E_MALFORMED;
            goto err_after_load;
        }
        out->filter_servers[i] =
            route_arena_strdup(arena, json_string_value(s), json_string_length(s));
        if (!out->filter_servers[i])
            goto err_arena;
        out->filter_server_count++;
    }
    if (!wrapper) {
        out->topics = route_arena_alloc(arena, 0);
        json_decref(root);
        return 0;
    }
    if ((rc = route_json_object(wrapper, "topicConfigTable", false, &table, errmsg)))
        goto err_after_load;
    dv = json_object_get(wrapper, "dataVersion");
    if (dv && !json_is_null(dv) && (rc = decode_version(dv, &out->data_version, errmsg))) {
        errmsg_wrapf(errmsg, "dataVersion");
        goto err_after_load;
    }
    out->topics = route_arena_alloc(arena, (table ? json_object_size(table) : 0) *
                                               sizeof *out->topics);
    if (!out->topics)
        goto err_arena;
    if (table) {
        const char *k;
        json_t *v;
        json_object_foreach(table, k, v)
        {
            if ((rc = decode_topic(arena, k, v, &out->topics[out->topic_count], errmsg))) {
                errmsg_wrapf(errmsg, "topicConfigTable[%.64s]", k);
                goto err_after_load;
            }
            out->topic_count++;
        }
    }
    json_decref(root);
    return 0;

err_arena:
    errmsg_printf(errmsg, "arena exhausted");
    rc = TERN_E_NOMEM;
err_after_load:
    json_decref(root);
err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "register body");
    return rc;
}
