/* Route table operations: registration, member replacement, expiry, queue data. */
#include "nameserver/routetable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tern/error.h"

void routetable_init(struct routetable *rt)
{
    memset(rt, 0, sizeof *rt);
}

static void topic_free(struct rt_topic *t)
{
    free(t->qd);
    free(t);
}

void routetable_free(struct routetable *rt)
{
    struct rt_broker *b, *bt;
    HASH_ITER(hh, rt->brokers, b, bt)
    {
        HASH_DEL(rt->brokers, b);
        free(b);
    }
    struct rt_topic *t, *tt;
    HASH_ITER(hh, rt->topics, t, tt)
    {
        HASH_DEL(rt->topics, t);
        topic_free(t);
    }
    struct rt_live *l, *lt;
    HASH_ITER(hh, rt->live, l, lt)
    {
        HASH_DEL(rt->live, l);
        free(l);
    }
    struct rt_kv *k, *kt;
    HASH_ITER(hh, rt->kv, k, kt)
    {
        HASH_DEL(rt->kv, k);
        free(k->key);
        free(k->value);
        free(k);
    }
}

struct rt_topic *routetable_topic(struct routetable *rt, const char *name)
{
    struct rt_topic *t;
    HASH_FIND_STR(rt->topics, name, t);
    return t;
}

struct rt_broker *routetable_broker(struct routetable *rt, const char *name)
{
    struct rt_broker *b;
    HASH_FIND_STR(rt->brokers, name, b);
    return b;
}

static int copy_name(char *dst, size_t cap, const char *src)
{
    if (!src || !*src || strlen(src) >= cap)
        return TERN_E_INVAL;
    strcpy(dst, src);
    return 0;
}

/* Remove the group's queue data from one topic; drop the topic if empty. */
static void topic_remove_group(struct routetable *rt, struct rt_topic *t, const char *broker_name)
{
    for (size_t i = 0; i < t->nqd; i++) {
        if (strcmp(t->qd[i].broker_name, broker_name) == 0) {
            t->qd[i] = t->qd[--t->nqd];
            break;
        }
    }
    if (t->nqd == 0) {
        HASH_DEL(rt->topics, t);
        topic_free(t);
    }
}

static int topic_put_group(struct routetable *rt, const struct rt_topic_conf *tc, const char *broker_name)
{
    struct rt_topic *t = routetable_topic(rt, tc->name);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t)
            return TERN_E_NOMEM;
        if (copy_name(t->name, sizeof t->name, tc->name) != 0) {
            free(t);
            return TERN_E_INVAL;
        }
        HASH_ADD_STR(rt->topics, name, t);
    }
    struct rt_queue_data *qd = NULL;
    for (size_t i = 0; i < t->nqd; i++)
        if (strcmp(t->qd[i].broker_name, broker_name) == 0)
            qd = &t->qd[i];
    if (!qd) {
        if (t->nqd == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 2;
            struct rt_queue_data *n = realloc(t->qd, cap * sizeof *n);
            if (!n)
                return TERN_E_NOMEM;
            t->qd = n;
            t->cap = cap;
        }
        qd = &t->qd[t->nqd++];
        memset(qd, 0, sizeof *qd);
        strcpy(qd->broker_name, broker_name);
    }
    qd->read_queues = tc->read_queues;
    qd->write_queues = tc->write_queues;
    qd->perm = tc->perm;
    qd->topic_sys_flag = tc->topic_sys_flag;
    return 0;
}

static bool conf_has_topic(const struct rt_register *r, const char *name)
{
    for (size_t i = 0; i < r->ntopics; i++)
        if (strcmp(r->topics[i].name, name) == 0)
            return true;
    return false;
}

int routetable_register(struct routetable *rt, const struct rt_register *r, int64_t now_ms,
                        struct rt_register_result *res)
{
    memset(res, 0, sizeof *res);
    if (!r->cluster || !*r->cluster || !r->broker_name || !*r->broker_name || !r->broker_addr ||
        !*r->broker_addr || strlen(r->broker_addr) >= RT_ADDR_MAX || strlen(r->broker_name) >= RT_NAME_MAX ||
        strlen(r->cluster) >= RT_NAME_MAX || r->broker_id < 0)
        return TERN_E_INVAL;

    struct rt_broker *b = routetable_broker(rt, r->broker_name);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return TERN_E_NOMEM;
        strcpy(b->name, r->broker_name);
        HASH_ADD_STR(rt->brokers, name, b);
    }
    strcpy(b->cluster, r->cluster);

    /* The address lives under exactly one id: drop it elsewhere, and drop
     * whatever other address held this id (a stale leader). */
    for (size_t i = 0; i < b->nmembers;) {
        if (strcmp(b->members[i].addr, r->broker_addr) == 0 || b->members[i].id == r->broker_id)
            b->members[i] = b->members[--b->nmembers];
        else
            i++;
    }
    if (b->nmembers == RT_MAX_MEMBERS)
        return TERN_E_INVAL;
    b->members[b->nmembers].id = r->broker_id;
    strcpy(b->members[b->nmembers].addr, r->broker_addr);
    b->nmembers++;

    if (r->broker_id == 0) {
        struct rt_topic *t, *tt;
        HASH_ITER(hh, rt->topics, t, tt)
        {
            if (!conf_has_topic(r, t->name))
                topic_remove_group(rt, t, r->broker_name);
        }
        for (size_t i = 0; i < r->ntopics; i++) {
            int rv = topic_put_group(rt, &r->topics[i], r->broker_name);
            if (rv == TERN_E_NOMEM)
                return rv;
        }
    }

    struct rt_live *l;
    HASH_FIND_STR(rt->live, r->broker_addr, l);
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l)
            return TERN_E_NOMEM;
        strcpy(l->addr, r->broker_addr);
        HASH_ADD_STR(rt->live, addr, l);
    }
    strcpy(l->broker_name, r->broker_name);
    strcpy(l->cluster, r->cluster);
    snprintf(l->ha_addr, sizeof l->ha_addr, "%s", r->ha_addr ? r->ha_addr : "");
    l->broker_id = r->broker_id;
    l->last_ms = now_ms;
    l->timeout_ms = r->timeout_ms > 0 ? r->timeout_ms : RT_DEFAULT_TIMEOUT_MS;
    l->dv = r->dv;
    l->conn = r->conn;

    if (r->broker_id != 0) {
        for (size_t i = 0; i < b->nmembers; i++) {
            if (b->members[i].id == 0) {
                strcpy(res->master_addr, b->members[i].addr);
                struct rt_live *ml;
                HASH_FIND_STR(rt->live, b->members[i].addr, ml);
                if (ml)
                    strcpy(res->ha_addr, ml->ha_addr);
            }
        }
    }
    return 0;
}

void routetable_unregister(struct routetable *rt, const char *broker_name, const char *broker_addr)
{
    struct rt_live *l;
    HASH_FIND_STR(rt->live, broker_addr, l);
    if (l) {
        HASH_DEL(rt->live, l);
        free(l);
    }
    struct rt_broker *b = routetable_broker(rt, broker_name);
    if (!b)
        return;
    for (size_t i = 0; i < b->nmembers; i++) {
        if (strcmp(b->members[i].addr, broker_addr) == 0) {
            b->members[i] = b->members[--b->nmembers];
            break;
        }
    }
    if (b->nmembers > 0)
        return;
    struct rt_topic *t, *tt;
    HASH_ITER(hh, rt->topics, t, tt)
    {
        topic_remove_group(rt, t, b->name);
    }
    HASH_DEL(rt->brokers, b);
    free(b);
}

int routetable_conn_closed(struct routetable *rt, void *conn)
{
    int n = 0;
    struct rt_live *l, *lt;
    char name[RT_NAME_MAX], addr[RT_ADDR_MAX];
    HASH_ITER(hh, rt->live, l, lt)
    {
        if (l->conn != conn)
            continue;
        strcpy(name, l->broker_name);
        strcpy(addr, l->addr);
        routetable_unregister(rt, name, addr); /* frees l */
        n++;
    }
    return n;
}

int routetable_expire(struct routetable *rt, int64_t now_ms)
{
    int n = 0;
    struct rt_live *l, *lt;
    char name[RT_NAME_MAX], addr[RT_ADDR_MAX];
    HASH_ITER(hh, rt->live, l, lt)
    {
        if (now_ms - l->last_ms <= l->timeout_ms)
            continue;
        strcpy(name, l->broker_name);
        strcpy(addr, l->addr);
        routetable_unregister(rt, name, addr);
        n++;
    }
    return n;
}

static char *kv_key(const char *ns, const char *key)
{
    size_t a = strlen(ns), b = strlen(key);
    char *k = malloc(a + b + 2);
    if (!k)
        return NULL;
    memcpy(k, ns, a);
    k[a] = '\x01';
    memcpy(k + a + 1, key, b + 1);
    return k;
}

static struct rt_kv *kv_find(struct routetable *rt, const char *ns, const char *key)
{
    char *k = kv_key(ns, key);
    if (!k)
        return NULL;
    struct rt_kv *e;
    HASH_FIND_STR(rt->kv, k, e);
    free(k);
    return e;
}

int routetable_kv_put(struct routetable *rt, const char *ns, const char *key, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return TERN_E_NOMEM;
    struct rt_kv *e = kv_find(rt, ns, key);
    if (e) {
        free(e->value);
        e->value = v;
        return 0;
    }
    e = calloc(1, sizeof *e);
    char *k = kv_key(ns, key);
    if (!e || !k) {
        free(e);
        free(k);
        free(v);
        return TERN_E_NOMEM;
    }
    e->key = k;
    e->value = v;
    HASH_ADD_KEYPTR(hh, rt->kv, e->key, strlen(e->key), e);
    return 0;
}

const char *routetable_kv_get(struct routetable *rt, const char *ns, const char *key)
{
    struct rt_kv *e = kv_find(rt, ns, key);
    return e ? e->value : NULL;
}

int routetable_kv_delete(struct routetable *rt, const char *ns, const char *key)
{
    struct rt_kv *e = kv_find(rt, ns, key);
    if (!e)
        return TERN_E_NOTFOUND;
    HASH_DEL(rt->kv, e);
    free(e->key);
    free(e->value);
    free(e);
    return 0;
}
