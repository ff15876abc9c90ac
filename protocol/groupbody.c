/* TERN_GROUP_STATUS body codec (PROTOCOL.md §4.6). */
#include "protocol/groupbody.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

static const char *const roles[] = {"none", "follower", "candidate", "leader", "unavailable"};
static const char *const member_roles[] = {"voter", "standby", "spare"};

static bool in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

bool groupbody_valid_role(const char *role)
{
    return in(role, roles, sizeof roles / sizeof roles[0]);
}

bool groupbody_valid_member_role(const char *role)
{
    return in(role, member_roles, sizeof member_roles / sizeof member_roles[0]);
}

int groupbody_encode(const struct groupbody_status *s, struct buf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kv_str(&w, "brokerName", s->broker_name);
    jsonw_kv_str(&w, "brokerAddr", s->broker_addr);
    jsonw_kv_int(&w, "raftId", s->raft_id);
    jsonw_kv_str(&w, "raftAddress", s->raft_address);
    jsonw_kv_str(&w, "role", s->role);
    jsonw_kv_bool(&w, "ready", s->ready);
    jsonw_key(&w, "term");
    jsonw_uint(&w, s->term);
    jsonw_key(&w, "commitIndex");
    jsonw_uint(&w, s->commit_index);
    jsonw_key(&w, "lastApplied");
    jsonw_uint(&w, s->last_applied);
    jsonw_key(&w, "lastIndex");
    jsonw_uint(&w, s->last_index);
    jsonw_kv_int(&w, "leaderId", s->leader_id);
    jsonw_kv_str(&w, "leaderRaftAddress", s->leader_address);
    jsonw_key(&w, "members");
    jsonw_arr_begin(&w);
    for (unsigned i = 0; i < s->n_members && i < GROUPBODY_MAX_MEMBERS; i++) {
        const struct groupbody_member *m = &s->members[i];
        jsonw_obj_begin(&w);
        jsonw_kv_int(&w, "raftId", m->raft_id);
        jsonw_kv_str(&w, "raftAddress", m->raft_address);
        jsonw_kv_str(&w, "role", m->role);
        if (m->has_match) {
            jsonw_key(&w, "matchIndex");
            jsonw_uint(&w, m->match_index);
        }
        jsonw_obj_end(&w);
    }
    jsonw_arr_end(&w);
    jsonw_obj_end(&w);
    return out->err ? TERN_E_NOMEM : 0;
}

/* ---- decode ------------------------------------------------------------- */

static int get_str(const json_t *o, const char *where, const char *key, bool required, char *dst,
                   size_t cap, char *errmsg)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        errmsg_printf(errmsg, "%s%s: missing", where, key);
        return TERN_E_MALFORMED;
    }
    if (!json_is_string(v)) {
        errmsg_printf(errmsg, "%s%s: expected a string", where, key);
        return TERN_E_MALFORMED;
    }
    size_t n = json_string_length(v);
    if (n >= cap || memchr(json_string_value(v), '\0', n)) {
        errmsg_printf(errmsg, "%s%s: longer than %zu bytes or holds NUL", where, key, cap - 1);
        return TERN_E_MALFORMED;
    }
    memcpy(dst, json_string_value(v), n + 1);
    return 0;
}

static int get_num(const json_t *o, const char *where, const char *key, bool required, bool *has,
                   int64_t *out, char *errmsg)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (has)
        *has = false;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        errmsg_printf(errmsg, "%s%s: missing", where, key);
        return TERN_E_MALFORMED;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        errmsg_printf(errmsg, "%s%s: expected a non-negative integer", where, key);
        return TERN_E_MALFORMED;
    }
    *out = json_integer_value(v);
    if (has)
        *has = true;
    return 0;
}

static int get_u64(const json_t *o, const char *key, uint64_t *out, char *errmsg)
{
    int64_t v;
    int rc = get_num(o, "", key, true, NULL, &v, errmsg);
    *out = (uint64_t)v;
    return rc;
}

static int decode_member(const json_t *o, unsigned i, struct groupbody_member *m, char *errmsg)
{
    char where[32];
    snprintf(where, sizeof where, "members[%u].", i);
    if (!json_is_object(o)) {
        errmsg_printf(errmsg, "members[%u]: expected an object", i);
        return TERN_E_MALFORMED;
    }
    int64_t match;
    int rc;
    if ((rc = get_num(o, where, "raftId", true, NULL, &m->raft_id, errmsg)) ||
        (rc = get_str(o, where, "raftAddress", true, m->raft_address, sizeof m->raft_address,
                      errmsg)) ||
        (rc = get_str(o, where, "role", true, m->role, sizeof m->role, errmsg)) ||
        (rc = get_num(o, where, "matchIndex", false, &m->has_match, &match, errmsg)))
        return rc;
    m->match_index = (uint64_t)match;
    if (m->raft_id == 0) {
        errmsg_printf(errmsg, "%sraftId: must be > 0", where);
        return TERN_E_MALFORMED;
    }
    if (!groupbody_valid_member_role(m->role)) {
        errmsg_printf(errmsg, "%srole: unknown '%s'", where, m->role);
        return TERN_E_MALFORMED;
    }
    return 0;
}

int groupbody_decode(const char *json, size_t n, struct groupbody_status *s, char *errmsg)
{
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &je);
    int rc = TERN_E_MALFORMED;
    if (!root) {
        errmsg_printf(errmsg, "group status: bad JSON at %d: %s", je.position, je.text);
        return TERN_E_MALFORMED;
    }
    if (!json_is_object(root)) {
        errmsg_printf(errmsg, "group status: expected a JSON object");
        goto err;
    }
    bool ready_set = false;
    json_t *ready = json_object_get(root, "ready");
    if (ready && json_is_boolean(ready)) {
        s->ready = json_is_true(ready);
        ready_set = true;
    }
    if ((rc = get_str(root, "", "brokerName", true, s->broker_name, sizeof s->broker_name,
                      errmsg)) ||
        (rc = get_str(root, "", "brokerAddr", true, s->broker_addr, sizeof s->broker_addr,
                      errmsg)) ||
        (rc = get_num(root, "", "raftId", true, NULL, &s->raft_id, errmsg)) ||
        (rc = get_str(root, "", "raftAddress", true, s->raft_address, sizeof s->raft_address,
                      errmsg)) ||
        (rc = get_str(root, "", "role", true, s->role, sizeof s->role, errmsg)) ||
        (rc = get_u64(root, "term", &s->term, errmsg)) ||
        (rc = get_u64(root, "commitIndex", &s->commit_index, errmsg)) ||
        (rc = get_u64(root, "lastApplied", &s->last_applied, errmsg)) ||
        (rc = get_u64(root, "lastIndex", &s->last_index, errmsg)) ||
        (rc = get_num(root, "", "leaderId", true, NULL, &s->leader_id, errmsg)) ||
        (rc = get_str(root, "", "leaderRaftAddress", true, s->leader_address,
                      sizeof s->leader_address, errmsg)))
        goto err;
    rc = TERN_E_MALFORMED;
    if (!ready_set) {
        errmsg_printf(errmsg, "group status: ready: expected a boolean");
        goto err;
    }
    if (!groupbody_valid_role(s->role)) {
        errmsg_printf(errmsg, "group status: role: unknown '%s'", s->role);
        goto err;
    }
    json_t *members = json_object_get(root, "members");
    if (!json_is_array(members)) {
        errmsg_printf(errmsg, "group status: members: expected an array");
        goto err;
    }
    if (json_array_size(members) > GROUPBODY_MAX_MEMBERS) {
        errmsg_printf(errmsg, "group status: members: more than %d", GROUPBODY_MAX_MEMBERS);
        goto err;
    }
    for (size_t i = 0; i < json_array_size(members); i++) {
        rc = decode_member(json_array_get(members, i), (unsigned)i, &s->members[i], errmsg);
        if (rc) {
            errmsg_wrapf(errmsg, "group status");
            goto err;
        }
        s->n_members++;
    }
    json_decref(root);
    return 0;
err:
    if (rc && errmsg[0] && strncmp(errmsg, "group status", 12) != 0)
        errmsg_wrapf(errmsg, "group status");
    json_decref(root);
    memset(s, 0, sizeof *s);
    return rc ? rc : TERN_E_MALFORMED;
}
