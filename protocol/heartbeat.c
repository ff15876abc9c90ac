/* Decode and encode HeartbeatData JSON bodies. */
#include "protocol/heartbeat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/route.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

struct enum_name {
    int value;
    const char *name;
};

static const struct enum_name consume_types[] = {
    {HEARTBEAT_CONSUME_ACTIVELY, "CONSUME_ACTIVELY"},
    {HEARTBEAT_CONSUME_PASSIVELY, "CONSUME_PASSIVELY"},
    {HEARTBEAT_CONSUME_POP, "CONSUME_POP"},
    /* Old Go clients. */
    {HEARTBEAT_CONSUME_ACTIVELY, "PULL"},
    {HEARTBEAT_CONSUME_PASSIVELY, "PUSH"},
    {0, NULL},
};

static const struct enum_name models[] = {
    {HEARTBEAT_CLUSTERING, "CLUSTERING"},
    {HEARTBEAT_BROADCASTING, "BROADCASTING"},
    {0, NULL},
};

static const struct enum_name from_wheres[] = {
    {HEARTBEAT_FROM_UNKNOWN, "UNKNOWN"},
    {HEARTBEAT_FROM_LAST_OFFSET, "CONSUME_FROM_LAST_OFFSET"},
    {HEARTBEAT_FROM_FIRST_OFFSET, "CONSUME_FROM_FIRST_OFFSET"},
    {HEARTBEAT_FROM_TIMESTAMP, "CONSUME_FROM_TIMESTAMP"},
    {HEARTBEAT_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
     "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"},
    {HEARTBEAT_FROM_MIN_OFFSET, "CONSUME_FROM_MIN_OFFSET"},
    {HEARTBEAT_FROM_MAX_OFFSET, "CONSUME_FROM_MAX_OFFSET"},
    {0, NULL},
};

static const char *enum_to_name(const struct enum_name *t, int v)
{
    for (; t->name; t++) {
        if (t->value == v)
            return t->name;
    }
    return "";
}

const char *heartbeat_consume_type_name(enum heartbeat_consume_type t)
{
    return enum_to_name(consume_types, (int)t);
}

const char *heartbeat_model_name(enum heartbeat_model m)
{
    return enum_to_name(models, (int)m);
}

const char *heartbeat_from_where_name(enum heartbeat_from_where w)
{
    return enum_to_name(from_wheres, (int)w);
}

/* Compare ignoring ASCII case and underscores: Java writes
 * CONSUME_FROM_LAST_OFFSET, old Go clients ConsumeFromLastOffset. */
static bool enum_name_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        if (!*a || !*b)
            return !*a && !*b;
        char ca = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char cb = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (ca != cb)
            return false;
        a++;
        b++;
    }
}

/* Optional enum field: absent keeps *out; an unknown name is MALFORMED
 * unless unknown_ok, which selects value 0. */
static int get_enum(const json_t *o, const char *key, const struct enum_name *t, bool unknown_ok,
                    int *out, char *errmsg)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        errmsg_printf(errmsg, "%s: expected a string", key);
        return TERN_E_MALFORMED;
    }
    for (; t->name; t++) {
        if (enum_name_eq(json_string_value(v), t->name)) {
            *out = t->value;
            return 0;
        }
    }
    if (unknown_ok) {
        *out = 0;
        return 0;
    }
    errmsg_printf(errmsg, "%s: unknown value \"%.48s\"", key, json_string_value(v));
    return TERN_E_MALFORMED;
}

/* A tag hash code: a JSON integer (Java) or a decimal string (Go v2 sends
 * its code set as strings), within int32..uint32. Returns 0 or -1. */
static int get_code(const json_t *c, int64_t *out)
{
    int64_t v;
    if (json_is_integer(c)) {
        v = json_integer_value(c);
    } else if (json_is_string(c) && json_string_length(c) > 0 && json_string_length(c) < 16) {
        char *end;
        errno = 0;
        long long ll = strtoll(json_string_value(c), &end, 10);
        if (errno || *end != '\0')
            return -1;
        v = ll;
    } else {
        return -1;
    }
    if (v < INT32_MIN || v > (int64_t)UINT32_MAX)
        return -1;
    *out = v;
    return 0;
}

static int decode_sub(struct buf *arena, const json_t *o, struct heartbeat_sub *s, char *errmsg)
{
    int rc;
    json_t *tags, *codes;
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_str(arena, o, "topic", true, &s->topic, errmsg)) ||
        (rc = route_json_str(arena, o, "subString", false, &s->sub_string, errmsg)) ||
        (rc = route_json_str(arena, o, "expressionType", false, &s->expression_type, errmsg)) ||
        (rc = route_json_bool(o, "classFilterMode", &s->class_filter_mode, errmsg)) ||
        (rc = route_json_int(o, "subVersion", false, INT64_MIN, INT64_MAX, &s->sub_version,
                             errmsg)) ||
        (rc = route_json_array(o, "tagsSet", false, &tags, errmsg)) ||
        (rc = route_json_array(o, "codeSet", false, &codes, errmsg)))
        return rc;
    if (!s->sub_string)
        s->sub_string = route_arena_strdup(arena, "", 0);
    if (!s->expression_type)
        s->expression_type = route_arena_strdup(arena, "TAG", 3);
    size_t nt = tags ? json_array_size(tags) : 0, nc = codes ? json_array_size(codes) : 0;
    if (nt > HEARTBEAT_MAX_TAGS || nc > HEARTBEAT_MAX_TAGS) {
        errmsg_printf(errmsg, "%zu tags / %zu codes exceed %d", nt, nc, HEARTBEAT_MAX_TAGS);
        return TERN_E_MALFORMED;
    }
    s->tags = route_arena_alloc(arena, nt * sizeof(char *));
    s->codes = route_arena_alloc(arena, nc * sizeof(int32_t));
    if (!s->sub_string || !s->expression_type || !s->tags || !s->codes) {
        errmsg_printf(errmsg, "arena exhausted");
        return TERN_E_NOMEM;
    }
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(tags, i);
        if (!json_is_string(t)) {
            errmsg_printf(errmsg, "tagsSet[%zu]: expected a string", i);
            return TERN_E_MALFORMED;
        }
        s->tags[i] = route_arena_strdup(arena, json_string_value(t), json_string_length(t));
        if (!s->tags[i]) {
            errmsg_printf(errmsg, "arena exhausted");
            return TERN_E_NOMEM;
        }
        s->tag_count++;
    }
    for (size_t i = 0; i < nc; i++) {
        int64_t code;
        if (get_code(json_array_get(codes, i), &code)) {
            errmsg_printf(errmsg, "codeSet[%zu]: expected an int32", i);
            return TERN_E_MALFORMED;
        }
        /* uint32 values (old Go) wrap to the int32 Java would have. */
        s->codes[s->code_count++] = (int32_t)(uint32_t)code;
    }
    return 0;
}

static int decode_consumer(struct buf *arena, const json_t *o, struct heartbeat_consumer *c,
                           char *errmsg)
{
    int rc;
    int ct = HEARTBEAT_CONSUME_PASSIVELY, mm = HEARTBEAT_CLUSTERING, fw = HEARTBEAT_FROM_LAST_OFFSET;
    json_t *subs;
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "expected an object");
        return TERN_E_MALFORMED;
    }
    if ((rc = route_json_str(arena, o, "groupName", true, &c->group, errmsg)) ||
        (rc = get_enum(o, "consumeType", consume_types, false, &ct, errmsg)) ||
        (rc = get_enum(o, "messageModel", models, false, &mm, errmsg)) ||
        (rc = get_enum(o, "consumeFromWhere", from_wheres, true, &fw, errmsg)) ||
        (rc = route_json_bool(o, "unitMode", &c->unit_mode, errmsg)) ||
        (rc = route_json_array(o, "subscriptionDataSet", false, &subs, errmsg)))
        return rc;
    c->consume_type = (enum heartbeat_consume_type)ct;
    c->message_model = (enum heartbeat_model)mm;
    c->from_where = (enum heartbeat_from_where)fw;
    size_t ns = subs ? json_array_size(subs) : 0;
    c->subs = route_arena_alloc(arena, ns * sizeof *c->subs);
    if (!c->subs) {
        errmsg_printf(errmsg, "arena exhausted");
        return TERN_E_NOMEM;
    }
    for (size_t i = 0; i < ns; i++, c->sub_count++) {
        if ((rc = decode_sub(arena, json_array_get(subs, i), &c->subs[i], errmsg))) {
            errmsg_wrapf(errmsg, "subscriptionDataSet[%zu]", i);
            return rc;
        }
    }
    return 0;
}

#define ELEM_MAX                                                                                   \
    (sizeof(struct heartbeat_consumer) > sizeof(struct heartbeat_sub)                              \
         ? sizeof(struct heartbeat_consumer)                                                       \
         : sizeof(struct heartbeat_sub))

int heartbeat_decode(const char *json, size_t n, struct heartbeat *out, struct buf *arena,
                     char *errmsg)
{
    memset(out, 0, sizeof *out);
    json_t *root, *cons, *prods;
    int rc = route_json_load(json, n, &root, errmsg);
    if (rc)
        goto err;
    if ((rc = route_arena_begin(arena, root, ELEM_MAX, errmsg)) ||
        (rc = route_json_str(arena, root, "clientID", true, &out->client_id, errmsg)) ||
        (rc = route_json_array(root, "consumerDataSet", false, &cons, errmsg)) ||
        (rc = route_json_array(root, "producerDataSet", false, &prods, errmsg)) ||
        (rc = route_json_int(root, "heartbeatFingerprint", false, INT64_MIN, INT64_MAX,
                             &out->fingerprint, errmsg)) ||
        (rc = route_json_bool(root, "withoutSub", &out->without_sub, errmsg)))
        goto err_after_load;
    size_t nc = cons ? json_array_size(cons) : 0, np = prods ? json_array_size(prods) : 0;
    out->consumers = route_arena_alloc(arena, nc * sizeof *out->consumers);
    out->producers = route_arena_alloc(arena, np * sizeof *out->producers);
    if (!out->consumers || !out->producers) {
        errmsg_printf(errmsg, "arena exhausted");
        rc = TERN_E_NOMEM;
        goto err_after_load;
    }
    for (size_t i = 0; i < nc; i++, out->consumer_count++) {
        if ((rc = decode_consumer(arena, json_array_get(cons, i), &out->consumers[i], errmsg))) {
            errmsg_wrapf(errmsg, "consumerDataSet[%zu]", i);
            goto err_after_load;
        }
    }
    for (size_t i = 0; i < np; i++, out->producer_count++) {
        json_t *p = json_array_get(prods, i);
        if (!json_is_object(p)) {
            errmsg_printf(errmsg, "producerDataSet[%zu]: expected an object", i);
            rc = TERN_E_MALFORMED;
            goto err_after_load;
        }
        if ((rc = route_json_str(arena, p, "groupName", true, &out->producers[i].group, errmsg))) {
            errmsg_wrapf(errmsg, "producerDataSet[%zu]", i);
            goto err_after_load;
        }
    }
    json_decref(root);
    return 0;

err_after_load:
    json_decref(root);
err:
    memset(out, 0, sizeof *out);
    errmsg_wrapf(errmsg, "heartbeat");
    return rc;
}

static void put_sub(struct jsonw *w, const struct heartbeat_sub *s)
{
    jsonw_obj_begin(w);
    jsonw_kv_bool(w, "classFilterMode", s->class_filter_mode);
    jsonw_key(w, "codeSet");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < s->code_count; i++)
        jsonw_int(w, s->codes[i]);
    jsonw_arr_end(w);
    jsonw_kv_str(w, "expressionType", s->expression_type ? s->expression_type : "TAG");
    jsonw_kv_str(w, "subString", s->sub_string ? s->sub_string : "*");
    jsonw_kv_int(w, "subVersion", s->sub_version);
    jsonw_key(w, "tagsSet");
    jsonw_arr_begin(w);
    for (size_t i = 0; i < s->tag_count; i++)
        jsonw_cstr(w, s->tags[i]);
    jsonw_arr_end(w);
    jsonw_kv_str(w, "topic", s->topic ? s->topic : "");
    jsonw_obj_end(w);
}

int heartbeat_encode(const struct heartbeat *hb, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kv_str(&w, "clientID", hb->client_id ? hb->client_id : "");
    jsonw_key(&w, "consumerDataSet");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < hb->consumer_count; i++) {
        const struct heartbeat_consumer *c = &hb->consumers[i];
        jsonw_obj_begin(&w);
        jsonw_kv_str(&w, "consumeFromWhere", heartbeat_from_where_name(c->from_where));
        jsonw_kv_str(&w, "consumeType", heartbeat_consume_type_name(c->consume_type));
        jsonw_kv_str(&w, "groupName", c->group ? c->group : "");
        jsonw_kv_str(&w, "messageModel", heartbeat_model_name(c->message_model));
        jsonw_key(&w, "subscriptionDataSet");
        jsonw_arr_begin(&w);
        for (size_t k = 0; k < c->sub_count; k++)
            put_sub(&w, &c->subs[k]);
        jsonw_arr_end(&w);
        jsonw_kv_bool(&w, "unitMode", c->unit_mode);
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    if (hb->fingerprint)
        jsonw_kv_int(&w, "heartbeatFingerprint", hb->fingerprint);
    jsonw_key(&w, "producerDataSet");
    jsonw_arr_begin(&w);
    for (size_t i = 0; i < hb->producer_count; i++) {
        jsonw_obj_begin(&w);
        jsonw_kv_str(&w, "groupName", hb->producers[i].group ? hb->producers[i].group : "");
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    if (hb->without_sub)
        jsonw_kv_bool(&w, "withoutSub", true);
    jsonw_obj_end(&w);
    return out->err;
}
