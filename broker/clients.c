/* Client registry: producer and consumer groups learned from HEART_BEAT,
 * their members' connections and subscriptions (RocketMQ ConsumerManager,
 * ProducerManager).
 *
 * A consumer group's membership changes when a client joins (first
 * heartbeat), leaves (UNREGISTER_CLIENT, connection close) or expires (no
 * heartbeat for channelExpiredTimeout); then every remaining member of a
 * clustering group gets NOTIFY_CONSUMER_IDS_CHANGED so it rebalances at once
 * instead of at its next 20 s timer. Subscriptions are per group: the latest
 * heartbeat's set replaces the previous one (a changed set also notifies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "broker/broker.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/heartbeat.h"
#include "protocol/lockbody.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define SCAN_INTERVAL_MS 10000
#define RETRY_PREFIX "%RETRY%"

struct member {
    char *client_id;
    struct rpc_conn *rc; /* referenced */
    int64_t last_ms;
    int language;
    int version;
    struct member *next;
};

struct sub {
    char *topic;
    char *expr;  /* owned; tags slices point into it */
    int64_t version;
    struct tags_expr tags;
    UT_hash_handle hh;
};

struct group {
    char *name;
    bool consumer; /* else producer group */
    bool broadcast;
    struct member *members;
    size_t nmembers;
    struct sub *subs;
    UT_hash_handle hh;
};

struct clients {
    struct broker *b;
    struct group *consumers;
    struct group *producers;
    uv_timer_t scan;
};

static void member_free(struct member *m)
{
    rpc_conn_unref(m->rc);
    free(m->client_id);
    free(m);
}

static void subs_clear(struct group *g)
{
    struct sub *s, *tmp;
    HASH_ITER(hh, g->subs, s, tmp)
    {
        HASH_DEL(g->subs, s);
        free(s->topic);
        free(s->expr);
        free(s);
    }
}

static void group_free(struct group *g)
{
    while (g->members) {
        struct member *m = g->members;
        g->members = m->next;
        member_free(m);
    }
    subs_clear(g);
    free(g->name);
    free(g);
}

static struct group *group_get(struct group **table, const char *name, bool consumer, bool create)
{
    struct group *g;
    HASH_FIND_STR(*table, name, g);
    if (g || !create)
        return g;
    g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name);
    if (!g->name) {
        free(g);
        return NULL;
    }
    g->consumer = consumer;
    HASH_ADD_KEYPTR(hh, *table, g->name, strlen(g->name), g);
    return g;
}

/* Tell every member of a clustering consumer group to rebalance now. */
static void notify_group(struct clients *cl, struct group *g)
{
    if (!g->consumer || g->broadcast)
        return;
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    for (struct member *m = g->members; m; m = m->next) {
        if (m->rc->closed)
            continue;
        remoting_cmd_init_request(&req, CODES_REQ_NOTIFY_CONSUMER_IDS_CHANGED);
        struct headers_client_group_req h = {.consumer_group = slice_of(g->name)};
        if (headers_client_group_req_encode(&h, &req) == 0)
            rpc_oneway(m->rc, &req, NULL, 0);
    }
    remoting_cmd_free(&req);
    (void)cl;
}

/* Remove members matching (rc or client_id); returns how many. */
static int remove_members(struct group *g, const struct rpc_conn *rc, const char *client_id)
{
    int n = 0;
    struct member **pp = &g->members;
    while (*pp) {
        struct member *m = *pp;
        if ((rc && m->rc == rc) || (client_id && strcmp(m->client_id, client_id) == 0)) {
            *pp = m->next;
            member_free(m);
            g->nmembers--;
            n++;
        } else {
            pp = &m->next;
        }
    }
    return n;
}

/* Drop empty groups; notify the others that lost members. */
static void settle_group(struct clients *cl, struct group **table, struct group *g, int removed)
{
    if (removed == 0)
        return;
    if (g->nmembers == 0) {
        HASH_DEL(*table, g);
        group_free(g);
        return;
    }
    notify_group(cl, g);
}

/* Upsert a member; true if it is new to the group. */
static bool touch_member(struct group *g, const char *client_id, struct rpc_conn *rc,
                         const struct remoting_cmd *req, int64_t now, bool *oom)
{
    for (struct member *m = g->members; m; m = m->next) {
        if (strcmp(m->client_id, client_id) == 0) {
            if (m->rc != rc) {
                rpc_conn_unref(m->rc);
                m->rc = rc;
                rpc_conn_ref(rc);
            }
            m->last_ms = now;
            return false;
        }
    }
    struct member *m = calloc(1, sizeof *m);
    if (!m || !(m->client_id = strdup(client_id))) {
        free(m);
        *oom = true;
        return false;
    }
    m->rc = rc;
    rpc_conn_ref(rc);
    m->last_ms = now;
    m->language = req->language;
    m->version = req->version;
    m->next = g->members;
    g->members = m;
    g->nmembers++;
    return true;
}

/* Replace the group's subscriptions; true if the set changed. */
static bool set_subs(struct group *g, const struct heartbeat_consumer *hc)
{
    bool changed = HASH_COUNT(g->subs) != hc->sub_count;
    for (size_t i = 0; !changed && i < hc->sub_count; i++) {
        struct sub *s;
        HASH_FIND_STR(g->subs, hc->subs[i].topic, s);
        const char *expr = hc->subs[i].sub_string ? hc->subs[i].sub_string : "*";
        if (!s || strcmp(s->expr, expr) != 0)
            changed = true;
        else
            s->version = hc->subs[i].sub_version;
    }
    if (!changed)
        return false;
    subs_clear(g);
    for (size_t i = 0; i < hc->sub_count; i++) {
        const struct heartbeat_sub *hs = &hc->subs[i];
        struct sub *s = calloc(1, sizeof *s);
        const char *expr = hs->sub_string ? hs->sub_string : "*";
        if (!s || !(s->topic = strdup(hs->topic)) || !(s->expr = strdup(expr))) {
            if (s)
                free(s->topic);
            free(s);
            continue;
        }
        char err[ERRMSG_SIZE];
        if (tags_parse(s->expr, strlen(s->expr), &s->tags, err) != 0) {
            /* Unparseable (e.g. SQL92): keep it, matching everything; the
             * client filters again. */
            memset(&s->tags, 0, sizeof s->tags);
            s->tags.all = true;
        }
        s->version = hs->sub_version;
        HASH_ADD_KEYPTR(hh, g->subs, s->topic, strlen(s->topic), s);
    }
    return true;
}

static void ensure_retry_topic(struct broker *b, const char *group)
{
    char name[TOPICS_NAME_MAX];
    if (snprintf(name, sizeof name, "%s%s", RETRY_PREFIX, group) >= (int)sizeof name)
        return;
    if (topics_find(b->topics, name))
        return;
    struct topic_conf c = {.read_queues = 1, .write_queues = 1, .perm = TOPIC_PERM_READ | TOPIC_PERM_WRITE};
    if (broker_put_topic(b, name, &c, false, NULL) == 0)
        registrar_kick(b);
}

static void handle_heartbeat(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct clients *cl = b->clients;
    char err[ERRMSG_SIZE];
    struct heartbeat hb;
    if (heartbeat_decode(req->body.p, req->body.len, &hb, &b->arena, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    int64_t now = clock_mono_ms();
    bool oom = false;
    for (size_t i = 0; i < hb.consumer_count; i++) {
        const struct heartbeat_consumer *hc = &hb.consumers[i];
        struct group *g = group_get(&cl->consumers, hc->group, true, true);
        if (!g) {
            oom = true;
            continue;
        }
        g->broadcast = hc->message_model == HEARTBEAT_BROADCASTING;
        bool joined = touch_member(g, hb.client_id, rc, req, now, &oom);
        bool subs_changed = set_subs(g, hc);
        if (!g->broadcast)
            ensure_retry_topic(b, hc->group);
        if (joined)
            LOGI("broker", "consumer %s joined group %s (%zu members)", hb.client_id, g->name, g->nmembers);
        if (joined || subs_changed)
            notify_group(cl, g);
    }
    for (size_t i = 0; i < hb.producer_count; i++) {
        struct group *g = group_get(&cl->producers, hb.producers[i].group, false, true);
        if (g)
            touch_member(g, hb.client_id, rc, req, now, &oom);
        else
            oom = true;
    }
    if (oom)
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
    else
        broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, NULL);
}

static void handle_unregister(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct clients *cl = b->clients;
    char err[ERRMSG_SIZE], id[256], group[256];
    struct headers_client_unregister_req h;
    if (headers_client_unregister_req_decode(&h, req, &b->limits, err) != 0 || h.client_id.len >= sizeof id) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    memcpy(id, h.client_id.p, h.client_id.len);
    id[h.client_id.len] = '\0';
    if (h.consumer_group.p && h.consumer_group.len < sizeof group) {
        memcpy(group, h.consumer_group.p, h.consumer_group.len);
        group[h.consumer_group.len] = '\0';
        struct group *g = group_get(&cl->consumers, group, true, false);
        if (g) {
            int n = remove_members(g, NULL, id);
            if (n)
                LOGI("broker", "consumer %s left group %s", id, group);
            settle_group(cl, &cl->consumers, g, n);
        }
    }
    if (h.producer_group.p && h.producer_group.len < sizeof group) {
        memcpy(group, h.producer_group.p, h.producer_group.len);
        group[h.producer_group.len] = '\0';
        struct group *g = group_get(&cl->producers, group, false, false);
        if (g)
            settle_group(cl, &cl->producers, g, remove_members(g, NULL, id));
    }
    broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, NULL);
}

static void handle_consumer_list(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct clients *cl = b->clients;
    char err[ERRMSG_SIZE], group[256];
    struct headers_client_group_req h;
    if (headers_client_group_req_decode(&h, req, &b->limits, err) != 0 || h.consumer_group.len >= sizeof group) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    memcpy(group, h.consumer_group.p, h.consumer_group.len);
    group[h.consumer_group.len] = '\0';
    struct group *g = group_get(&cl->consumers, group, true, false);
    if (!g || g->nmembers == 0) {
        char remark[320];
        snprintf(remark, sizeof remark, "no consumer for this group, %s", group);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    const char **ids = calloc(g->nmembers, sizeof *ids);
    if (!ids) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    size_t n = 0;
    for (struct member *m = g->members; m; m = m->next)
        ids[n++] = m->client_id;
    buf_reset(&b->body);
    int rv = lockbody_ids_encode(ids, n, &b->body);
    free(ids);
    if (rv != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "encode consumer list");
        return;
    }
    remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL);
    broker_respond(b, rc, b->body.data, b->body.len);
}

void clients_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    switch (req->code) {
    case CODES_REQ_HEART_BEAT:
        handle_heartbeat(b, rc, req);
        break;
    case CODES_REQ_UNREGISTER_CLIENT:
        handle_unregister(b, rc, req);
        break;
    case CODES_REQ_GET_CONSUMER_LIST_BY_GROUP:
        handle_consumer_list(b, rc, req);
        break;
    default:
        broker_respond_error(b, rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not a client request");
    }
}

static void remove_everywhere(struct clients *cl, const struct rpc_conn *rc, int64_t expire_before)
{
    struct group **tables[2] = {&cl->consumers, &cl->producers};
    for (int t = 0; t < 2; t++) {
        struct group *g, *tmp;
        HASH_ITER(hh, *tables[t], g, tmp)
        {
            int n = 0;
            if (rc) {
                n = remove_members(g, rc, NULL);
            } else {
                struct member **pp = &g->members;
                while (*pp) {
                    struct member *m = *pp;
                    if (m->last_ms < expire_before) {
                        LOGI("broker", "client %s of group %s expired", m->client_id, g->name);
                        *pp = m->next;
                        member_free(m);
                        g->nmembers--;
                        n++;
                    } else {
                        pp = &m->next;
                    }
                }
            }
            settle_group(cl, tables[t], g, n);
        }
    }
}

void clients_conn_closed(struct broker *b, struct rpc_conn *rc)
{
    if (b->clients)
        remove_everywhere(b->clients, rc, 0);
}

static void scan_cb(uv_timer_t *t)
{
    struct clients *cl = t->data;
    remove_everywhere(cl, NULL, clock_mono_ms() - cl->b->conf.client_expiry_ms);
}

const struct tags_expr *clients_subscription(struct broker *b, const char *group, const char *topic,
                                             int64_t *sub_version)
{
    struct group *g = group_get(&b->clients->consumers, group, true, false);
    if (!g)
        return NULL;
    struct sub *s;
    HASH_FIND_STR(g->subs, topic, s);
    if (!s)
        return NULL;
    if (sub_version)
        *sub_version = s->version;
    return &s->tags;
}

int clients_init(struct broker *b)
{
    struct clients *cl = calloc(1, sizeof *cl);
    if (!cl)
        return TERN_E_NOMEM;
    cl->b = b;
    b->clients = cl;
    uv_timer_init(b->loop, &cl->scan);
    cl->scan.data = cl;
    uv_timer_start(&cl->scan, scan_cb, SCAN_INTERVAL_MS, SCAN_INTERVAL_MS);
    uv_unref((uv_handle_t *)&cl->scan);
    return 0;
}

static void scan_closed_cb(uv_handle_t *h)
{
    free(h->data);
}

void clients_close(struct broker *b)
{
    struct clients *cl = b->clients;
    if (!cl)
        return;
    struct group *g, *tmp;
    HASH_ITER(hh, cl->consumers, g, tmp)
    {
        HASH_DEL(cl->consumers, g);
        group_free(g);
    }
    HASH_ITER(hh, cl->producers, g, tmp)
    {
        HASH_DEL(cl->producers, g);
        group_free(g);
    }
    b->clients = NULL;
    uv_close((uv_handle_t *)&cl->scan, scan_closed_cb);
}

size_t clients_oneway_group(struct broker *b, const char *group, struct remoting_cmd *req, const void *body,
                            size_t n)
{
    struct group *g = group_get(&b->clients->consumers, group, true, false);
    size_t sent = 0;
    struct iovec iov = {(void *)body, n};
    for (struct member *m = g ? g->members : NULL; m; m = m->next)
        if (!m->rc->closed && rpc_oneway(m->rc, req, n ? &iov : NULL, n ? 1 : 0) == 0)
            sent++;
    return sent;
}

struct rpc_conn *clients_producer_conn(struct broker *b, const char *group, uint32_t rr)
{
    struct clients *cl = b->clients;
    struct group *g = cl ? group_get(&cl->producers, group, false, false) : NULL;
    if (!g || g->nmembers == 0)
        return NULL;
    /* Start at a rotating member and take the first live connection. */
    size_t skip = rr % g->nmembers;
    for (int pass = 0; pass < 2; pass++) {
        size_t i = 0;
        for (struct member *m = g->members; m; m = m->next, i++) {
            if (pass == 0 && i < skip)
                continue;
            if (!m->rc->closed && m->rc->tc)
                return m->rc;
        }
    }
    return NULL;
}
