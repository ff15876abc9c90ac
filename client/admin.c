/* Admin and tool helpers: routes, cluster info and topic lists from the name
 * servers; topic creation on every master of a cluster; per-queue offsets
 * and one-shot pulls on the master of a broker name found in the topic's
 * route. Each call owns a struct areq until its callback has fired. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/admin.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/msgid.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

_Static_assert(sizeof(struct route_addr) == sizeof(struct tern_broker_addr) &&
                   offsetof(struct route_addr, addr) == offsetof(struct tern_broker_addr, addr),
               "route_addr and tern_broker_addr must share their layout");

enum areq_kind {
    AREQ_ROUTE,
    AREQ_CLUSTER,
    AREQ_TOPICS,
    AREQ_CREATE,
    AREQ_OFFSET,
    AREQ_DONE,
    AREQ_PULL,
};

struct areq {
    struct tern_client *c;
    enum areq_kind kind;
    union {
        tern_route_cb route;
        tern_cluster_cb cluster;
        tern_topics_cb topics;
        tern_done_cb done;
        tern_offset_cb offset;
        tern_pull_cb pull;
    } cb;
    void *arg;
    struct admin_hold **keep;
    struct admin_hold *hold;
    /* Broker-targeted requests. */
    int code;
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    char group[LIBTERN_NAME_MAX];
    char broker[LIBTERN_NAME_MAX];
    int qid;
    int64_t value;
    int64_t value2; /* QUERY_MESSAGE: end of the time window */
    bool flag;      /* QUERY_MESSAGE: key is a UNIQ_KEY; reset: isForce */
    int max;
    char *expr; /* pull: tag expression; QUERY_MESSAGE: the key */
    struct tags_expr tags;
    /* Topic creation. */
    char cluster[LIBTERN_NAME_MAX];
    char addr[LIBTERN_ADDR_MAX];
    int rq, wq, perm;
    bool order;
    int outstanding;
    int first_err;
    char errmsg[TERN_ERRMSG_SIZE];
};

void admin_hold_free(struct admin_hold *h)
{
    if (!h)
        return;
    buf_free(&h->arena);
    free(h->brokers);
    free(h->queues);
    free(h->clusters);
    rmsg_batch_free(&h->batch);
    free(h);
}

static struct areq *areq_new(struct tern_client *c, enum areq_kind kind, void *arg,
                             struct admin_hold **keep)
{
    struct areq *a = calloc(1, sizeof *a);
    if (!a) {
        errmsg_printf(c->errmsg, "out of memory");
        return NULL;
    }
    a->hold = calloc(1, sizeof *a->hold);
    if (!a->hold) {
        free(a);
        errmsg_printf(c->errmsg, "out of memory");
        return NULL;
    }
    buf_init(&a->hold->arena);
    a->c = c;
    a->kind = kind;
    a->arg = arg;
    a->keep = keep;
    return a;
}

static void areq_free(struct areq *a)
{
    if (a->keep) {
        *a->keep = a->hold;
    } else {
        admin_hold_free(a->hold);
    }
    free(a->expr);
    free(a);
}

/* Report an error through the kind's callback and free a. */
static void areq_fail(struct areq *a, int err, const char *errmsg)
{
    switch (a->kind) {
    case AREQ_ROUTE:
        a->cb.route(err, errmsg, NULL, a->arg);
        break;
    case AREQ_CLUSTER:
        a->cb.cluster(err, errmsg, NULL, a->arg);
        break;
    case AREQ_TOPICS:
        a->cb.topics(err, errmsg, NULL, 0, a->arg);
        break;
    case AREQ_CREATE:
    case AREQ_DONE:
        a->cb.done(err, errmsg, a->arg);
        break;
    case AREQ_OFFSET:
        a->cb.offset(err, errmsg, -1, a->arg);
        break;
    case AREQ_PULL:
        a->cb.pull(err, errmsg, NULL, a->arg);
        break;
    }
    areq_free(a);
}

/* Common failure handling of a response: returns true (a freed) if it was
 * an error. */
static bool failed(struct areq *a, int status, const char *errmsg, struct remoting_cmd *resp,
                   const char *what)
{
    char why[TERN_ERRMSG_SIZE];
    if (status != 0) {
        snprintf(why, sizeof why, "%s: %s", what, errmsg);
        areq_fail(a, status, why);
        return true;
    }
    if (resp->code != CODES_RESP_SUCCESS) {
        snprintf(why, sizeof why, "%s: answered %d %.*s", what, resp->code, (int)resp->remark.len,
                 resp->remark.p ? resp->remark.p : "");
        areq_fail(a, libtern_code_err(resp->code), why);
        return true;
    }
    return false;
}

static void convert_brokers(struct admin_hold *h, const struct route_broker *src, size_t n)
{
    h->brokers = calloc(n ? n : 1, sizeof *h->brokers);
    if (!h->brokers)
        return;
    for (size_t i = 0; i < n; i++) {
        h->brokers[i].name = src[i].broker_name ? src[i].broker_name : "";
        h->brokers[i].cluster = src[i].cluster ? src[i].cluster : "";
        h->brokers[i].addrs = (const struct tern_broker_addr *)(const void *)src[i].addrs;
        h->brokers[i].addr_count = src[i].addr_count;
    }
}

/* ---- name-server requests ------------------------------------------------------- */

static void route_resp(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct areq *a = arg;
    if (failed(a, status, errmsg, resp, "topic route"))
        return;
    struct admin_hold *h = a->hold;
    struct route_data rd;
    char e[ERRMSG_SIZE];
    int rv = route_decode(resp->body.p, resp->body.len, &rd, &h->arena, e);
    if (rv != 0) {
        areq_fail(a, rv, e);
        return;
    }
    convert_brokers(h, rd.brokers, rd.broker_count);
    h->queues = calloc(rd.queue_count ? rd.queue_count : 1, sizeof *h->queues);
    if (!h->brokers || !h->queues) {
        areq_fail(a, TERN_E_NOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < rd.queue_count; i++)
        h->queues[i] = (struct tern_queue_data){rd.queues[i].broker_name ? rd.queues[i].broker_name : "",
                                                rd.queues[i].read_queue_nums,
                                                rd.queues[i].write_queue_nums, rd.queues[i].perm};
    h->route = (struct tern_route){h->brokers, rd.broker_count, h->queues, rd.queue_count};
    a->cb.route(0, "", &h->route, a->arg);
    areq_free(a);
}

int admin_topic_route(struct tern_client *c, const char *topic, tern_route_cb cb, void *arg,
                      struct admin_hold **keep)
{
    if (!c || !topic || !cb)
        return TERN_E_INVAL;
    if (c->closing)
        return TERN_E_CLOSED;
    struct areq *a = areq_new(c, AREQ_ROUTE, arg, keep);
    if (!a)
        return TERN_E_NOMEM;
    a->cb.route = cb;
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_GET_ROUTEINFO_BY_TOPIC);
    struct headers_admin_route_req h = {
        .topic = slice_of(topic),
        .has_accept_standard_json_only = true,
        .accept_standard_json_only = true,
    };
    int rv = headers_admin_route_req_encode(&h, cmd);
    if (rv == 0)
        rv = routes_ns_call(c, cmd, route_resp, a);
    if (rv != 0) {
        a->keep = NULL;
        areq_free(a);
    }
    return rv;
}

int tern_client_topic_route(struct tern_client *c, const char *topic, tern_route_cb cb, void *arg)
{
    return admin_topic_route(c, topic, cb, arg, NULL);
}

static int decode_cluster(struct areq *a, struct remoting_cmd *resp, char *e)
{
    struct admin_hold *h = a->hold;
    struct route_cluster_info ci;
    int rv = route_cluster_decode(resp->body.p, resp->body.len, &ci, &h->arena, e);
    if (rv != 0)
        return rv;
    convert_brokers(h, ci.brokers, ci.broker_count);
    h->clusters = calloc(ci.cluster_count ? ci.cluster_count : 1, sizeof *h->clusters);
    if (!h->brokers || !h->clusters) {
        errmsg_printf(e, "out of memory");
        return TERN_E_NOMEM;
    }
    for (size_t i = 0; i < ci.cluster_count; i++)
        h->clusters[i] = (struct tern_cluster){ci.clusters[i].cluster_name,
                                               (const char *const *)ci.clusters[i].broker_names,
                                               ci.clusters[i].broker_name_count};
    h->ci = (struct tern_cluster_info){h->brokers, ci.broker_count, h->clusters, ci.cluster_count};
    return 0;
}

static void cluster_resp(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct areq *a = arg;
    if (failed(a, status, errmsg, resp, "cluster info"))
        return;
    char e[ERRMSG_SIZE];
    int rv = decode_cluster(a, resp, e);
    if (rv != 0) {
        areq_fail(a, rv, e);
        return;
    }
    a->cb.cluster(0, "", &a->hold->ci, a->arg);
    areq_free(a);
}

static int ns_simple(struct areq *a, int code, libtern_call_cb done)
{
    struct remoting_cmd *cmd = libtern_cmd(a->c, code);
    int rv = routes_ns_call(a->c, cmd, done, a);
    if (rv != 0) {
        a->keep = NULL;
        areq_free(a);
    }
    return rv;
}

int admin_cluster_info(struct tern_client *c, tern_cluster_cb cb, void *arg,
                       struct admin_hold **keep)
{
    if (!c || !cb)
        return TERN_E_INVAL;
    if (c->closing)
        return TERN_E_CLOSED;
    struct areq *a = areq_new(c, AREQ_CLUSTER, arg, keep);
    if (!a)
        return TERN_E_NOMEM;
    a->cb.cluster = cb;
    return ns_simple(a, CODES_REQ_GET_BROKER_CLUSTER_INFO, cluster_resp);
}

int tern_client_cluster_info(struct tern_client *c, tern_cluster_cb cb, void *arg)
{
    return admin_cluster_info(c, cb, arg, NULL);
}

static void topics_resp(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct areq *a = arg;
    if (failed(a, status, errmsg, resp, "topic list"))
        return;
    struct route_topic_list tl;
    char e[ERRMSG_SIZE];
    int rv = route_topics_decode(resp->body.p, resp->body.len, &tl, &a->hold->arena, e);
    if (rv != 0) {
        areq_fail(a, rv, e);
        return;
    }
    a->hold->topics = tl.topics;
    a->hold->ntopics = tl.count;
    a->cb.topics(0, "", (const char *const *)tl.topics, tl.count, a->arg);
    areq_free(a);
}

int admin_topic_list(struct tern_client *c, tern_topics_cb cb, void *arg, struct admin_hold **keep)
{
    if (!c || !cb)
        return TERN_E_INVAL;
    if (c->closing)
        return TERN_E_CLOSED;
    struct areq *a = areq_new(c, AREQ_TOPICS, arg, keep);
    if (!a)
        return TERN_E_NOMEM;
    a->cb.topics = cb;
    return ns_simple(a, CODES_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, topics_resp);
}

int tern_client_topic_list(struct tern_client *c, tern_topics_cb cb, void *arg)
{
    return admin_topic_list(c, cb, arg, NULL);
}

/* ---- topic creation ------------------------------------------------------------ */

static void create_one_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct areq *a = arg;
    if (a->first_err == 0) {
        if (status != 0) {
            a->first_err = status;
            snprintf(a->errmsg, sizeof a->errmsg, "create topic: %s", errmsg);
        } else if (resp->code != CODES_RESP_SUCCESS) {
            a->first_err = libtern_code_err(resp->code);
            snprintf(a->errmsg, sizeof a->errmsg, "create topic: broker answered %d %.*s",
                     resp->code, (int)resp->remark.len, resp->remark.p ? resp->remark.p : "");
        }
    }
    if (--a->outstanding > 0)
        return;
    a->cb.done(a->first_err, a->first_err ? a->errmsg : "", a->arg);
    areq_free(a);
}

static int create_on(struct areq *a, const char *addr)
{
    struct remoting_cmd *cmd = libtern_cmd(a->c, CODES_REQ_UPDATE_AND_CREATE_TOPIC);
    struct headers_admin_topic_req h = {
        .topic = slice_of(a->topic),
        .default_topic = slice_of("TBW102"),
        .read_queue_nums = a->rq,
        .write_queue_nums = a->wq,
        .perm = a->perm,
        .topic_filter_type = slice_of("SINGLE_TAG"),
        .order = a->order,
    };
    int rv = headers_admin_topic_req_encode(&h, cmd);
    if (rv == 0)
        rv = peer_call(a->c, addr, cmd, NULL, 0, a->c->timeout_ms, create_one_done, a);
    if (rv == 0)
        a->outstanding++;
    return rv;
}

static void create_cluster_resp(int status, const char *errmsg, struct remoting_cmd *resp,
                                void *arg)
{
    struct areq *a = arg;
    if (failed(a, status, errmsg, resp, "cluster info"))
        return;
    char e[ERRMSG_SIZE];
    int rv = decode_cluster(a, resp, e);
    if (rv != 0) {
        areq_fail(a, rv, e);
        return;
    }
    const struct tern_cluster_info *ci = &a->hold->ci;
    a->outstanding = 1; /* held while sending */
    for (size_t i = 0; i < ci->cluster_count; i++) {
        if (a->cluster[0] && strcmp(ci->clusters[i].name, a->cluster) != 0)
            continue;
        for (size_t k = 0; k < ci->clusters[i].broker_count; k++) {
            const char *bn = ci->clusters[i].broker_names[k];
            for (size_t b = 0; b < ci->broker_count; b++) {
                if (strcmp(ci->brokers[b].name, bn) != 0)
                    continue;
                for (size_t x = 0; x < ci->brokers[b].addr_count; x++) {
                    if (ci->brokers[b].addrs[x].id != 0)
                        continue;
                    rv = create_on(a, ci->brokers[b].addrs[x].addr);
                    if (rv != 0 && a->first_err == 0) {
                        a->first_err = rv;
                        snprintf(a->errmsg, sizeof a->errmsg, "create topic on %s: %s",
                                 ci->brokers[b].addrs[x].addr, a->c->errmsg);
                    }
                }
            }
        }
    }
    if (a->outstanding == 1 && a->first_err == 0) {
        a->first_err = TERN_E_NOTFOUND;
        snprintf(a->errmsg, sizeof a->errmsg, "create topic: no master found%s%s",
                 a->cluster[0] ? " in cluster " : "", a->cluster);
    }
    /* Drop the hold (a callback can fire now: we are in a response). */
    create_one_done(0, "", &(struct remoting_cmd){.code = 0}, a);
}

int tern_client_create_topic(struct tern_client *c, const struct tern_topic_opts *o,
                             tern_done_cb cb, void *arg)
{
    if (!c || !o || !o->topic || !cb)
        return TERN_E_INVAL;
    char e[ERRMSG_SIZE];
    if (limits_check_topic(&limits_default, o->topic, strlen(o->topic), e) != 0) {
        errmsg_printf(c->errmsg, "%s", e);
        return TERN_E_INVAL;
    }
    if (c->closing)
        return TERN_E_CLOSED;
    struct areq *a = areq_new(c, AREQ_CREATE, arg, NULL);
    if (!a)
        return TERN_E_NOMEM;
    a->cb.done = cb;
    snprintf(a->topic, sizeof a->topic, "%s", o->topic);
    snprintf(a->cluster, sizeof a->cluster, "%s", o->cluster ? o->cluster : "");
    a->rq = o->read_queues > 0 ? o->read_queues : 8;
    a->wq = o->write_queues > 0 ? o->write_queues : 8;
    a->perm = o->perm > 0 ? o->perm : 6;
    a->order = o->order;
    int rv;
    if (o->broker_addr && *o->broker_addr) {
        rv = create_on(a, o->broker_addr);
    } else {
        struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_GET_BROKER_CLUSTER_INFO);
        rv = routes_ns_call(c, cmd, create_cluster_resp, a);
    }
    if (rv != 0)
        areq_free(a);
    return rv;
}

/* ---- requests to one broker of a topic's route ------------------------------------- */

static void broker_resp(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct areq *a = arg;
    char what[64];
    snprintf(what, sizeof what, "%s on %s/%d", codes_request_name(a->code), a->broker, a->qid);
    if ((a->code == CODES_REQ_QUERY_MESSAGE || a->code == CODES_REQ_VIEW_MESSAGE_BY_ID) && status == 0 &&
        (resp->code == CODES_RESP_SUCCESS || resp->code == CODES_RESP_QUERY_NOT_FOUND)) {
        struct tern_pull_result *res = &a->hold->pull;
        char e[ERRMSG_SIZE];
        memset(res, 0, sizeof *res);
        res->status = TERN_PULL_NO_NEW_MSG;
        if (resp->code == CODES_RESP_SUCCESS) {
            int rv = rmsg_batch_decode(&a->hold->batch, (const uint8_t *)resp->body.p, resp->body.len,
                                       a->broker, &a->tags, e);
            if (rv != 0) {
                areq_fail(a, rv, e);
                return;
            }
            res->status = TERN_PULL_FOUND;
            res->msgs = a->hold->batch.ptrs;
            res->n = a->hold->batch.n;
        }
        a->cb.pull(0, "", res, a->arg);
        areq_free(a);
        return;
    }
    if (a->kind == AREQ_PULL && status == 0 &&
        (resp->code == CODES_RESP_PULL_NOT_FOUND || resp->code == CODES_RESP_PULL_RETRY_IMMEDIATELY ||
         resp->code == CODES_RESP_PULL_OFFSET_MOVED || resp->code == CODES_RESP_SUCCESS)) {
        struct headers_pull_resp h;
        char e[ERRMSG_SIZE];
        if (headers_pull_resp_decode(&h, resp, &limits_default, e) != 0) {
            areq_fail(a, TERN_E_MALFORMED, e);
            return;
        }
        struct tern_pull_result *res = &a->hold->pull;
        res->next_offset = h.next_begin_offset;
        res->min_offset = h.min_offset;
        res->max_offset = h.max_offset;
        res->status = resp->code == CODES_RESP_SUCCESS        ? TERN_PULL_FOUND
                      : resp->code == CODES_RESP_PULL_NOT_FOUND ? TERN_PULL_NO_NEW_MSG
                      : resp->code == CODES_RESP_PULL_RETRY_IMMEDIATELY ? TERN_PULL_NO_MATCHED_MSG
                                                                        : TERN_PULL_OFFSET_ILLEGAL;
        if (resp->code == CODES_RESP_SUCCESS) {
            int rv = rmsg_batch_decode(&a->hold->batch, (const uint8_t *)resp->body.p, resp->body.len,
                                       a->broker, &a->tags, e);
            if (rv != 0) {
                areq_fail(a, rv, e);
                return;
            }
            res->msgs = a->hold->batch.ptrs;
            res->n = a->hold->batch.n;
        }
        a->cb.pull(0, "", res, a->arg);
        areq_free(a);
        return;
    }
    if (failed(a, status, errmsg, resp, what))
        return;
    if (a->kind == AREQ_DONE) {
        a->cb.done(0, "", a->arg);
        areq_free(a);
        return;
    }
    struct headers_offset_resp h;
    char e[ERRMSG_SIZE];
    if (headers_offset_resp_decode(&h, resp, &limits_default, e) != 0) {
        areq_fail(a, TERN_E_MALFORMED, e);
        return;
    }
    a->cb.offset(0, "", h.offset, a->arg);
    areq_free(a);
}

/* Build and send a's request to the master of a->broker in r. */
static int broker_send(struct areq *a, struct routes_topic *r)
{
    struct tern_client *c = a->c;
    const char *addr = routes_master(r, a->broker);
    if (!addr) {
        errmsg_printf(c->errmsg, "broker %s has no master in the route of %s", a->broker, a->topic);
        return TERN_E_NOTFOUND;
    }
    struct remoting_cmd *cmd = libtern_cmd(c, a->code);
    int rv;
    int64_t timeout = c->timeout_ms;
    switch (a->code) {
    case CODES_REQ_QUERY_CONSUMER_OFFSET: {
        struct headers_offset_query_req h = {slice_of(a->group), slice_of(a->topic), a->qid, false, false};
        rv = headers_offset_query_req_encode(&h, cmd);
        break;
    }
    case CODES_REQ_UPDATE_CONSUMER_OFFSET: {
        struct headers_offset_update_req h = {slice_of(a->group), slice_of(a->topic), a->qid, a->value};
        rv = headers_offset_update_req_encode(&h, cmd);
        break;
    }
    case CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP: {
        struct headers_offset_search_req h = {.topic = slice_of(a->topic), .queue_id = a->qid,
                                              .timestamp = a->value};
        rv = headers_offset_search_req_encode(&h, cmd);
        break;
    }
    case CODES_REQ_QUERY_MESSAGE: {
        struct headers_client_query_req h = {.topic = slice_of(a->topic),
                                             .key = slice_of(a->expr),
                                             .max_num = a->max,
                                             .begin_timestamp = a->value,
                                             .end_timestamp = a->value2,
                                             .has_unique_key_query = a->flag,
                                             .unique_key_query = a->flag};
        rv = headers_client_query_req_encode(&h, cmd);
        break;
    }
    case CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET: {
        struct headers_offset_reset_req h = {.topic = slice_of(a->topic),
                                             .group = slice_of(a->group),
                                             .timestamp = a->value,
                                             .has_is_force = true,
                                             .is_force = a->flag};
        rv = headers_offset_reset_req_encode(&h, cmd);
        break;
    }
    case CODES_REQ_PULL_MESSAGE: {
        struct headers_pull_req h = {
            .consumer_group = slice_of(a->group),
            .topic = slice_of(a->topic),
            .queue_id = a->qid,
            .queue_offset = a->value,
            .max_msg_nums = a->max,
            .sys_flag = HEADERS_PULL_FLAG_SUBSCRIPTION,
            .subscription = slice_of(a->tags.all ? "*" : a->expr),
            .expression_type = slice_of("TAG"),
        };
        rv = headers_pull_req_encode(&h, cmd);
        break;
    }
    default: {
        struct headers_offset_queue_req h = {.topic = slice_of(a->topic), .queue_id = a->qid};
        rv = headers_offset_queue_req_encode(&h, cmd);
        break;
    }
    }
    if (rv == 0)
        rv = peer_call(c, addr, cmd, NULL, 0, timeout, broker_resp, a);
    return rv;
}

static void broker_route(int err, const char *errmsg, struct routes_topic *r, void *arg)
{
    struct areq *a = arg;
    if (err != 0) {
        areq_fail(a, err, errmsg);
        return;
    }
    int rv = broker_send(a, r);
    if (rv != 0)
        areq_fail(a, rv, a->c->errmsg);
}

static int broker_op(struct areq *a)
{
    struct tern_client *c = a->c;
    struct routes_topic *r = routes_find(c, a->topic);
    int rv = (r && !r->via_tbw) ? broker_send(a, r) : routes_fetch(c, a->topic, false, broker_route, a);
    if (rv != 0) {
        a->keep = NULL;
        areq_free(a);
    }
    return rv;
}

static struct areq *broker_areq(struct tern_client *c, enum areq_kind kind, int code,
                                const char *group, const char *topic, const char *broker, int qid,
                                void *arg, struct admin_hold **keep, int *err)
{
    *err = TERN_E_INVAL;
    if (!c || !topic || !broker || qid < 0 || strlen(broker) >= LIBTERN_NAME_MAX ||
        (group && strlen(group) >= LIBTERN_NAME_MAX))
        return NULL;
    char e[ERRMSG_SIZE];
    if (limits_check_topic(&limits_default, topic, strlen(topic), e) != 0) {
        errmsg_printf(c->errmsg, "%s", e);
        return NULL;
    }
    if (c->closing) {
        *err = TERN_E_CLOSED;
        return NULL;
    }
    struct areq *a = areq_new(c, kind, arg, keep);
    if (!a) {
        *err = TERN_E_NOMEM;
        return NULL;
    }
    a->code = code;
    snprintf(a->topic, sizeof a->topic, "%s", topic);
    snprintf(a->group, sizeof a->group, "%s", group ? group : "");
    snprintf(a->broker, sizeof a->broker, "%s", broker);
    a->qid = qid;
    return a;
}

int tern_client_committed_offset(struct tern_client *c, const char *group, const char *topic,
                                 const char *broker_name, int queue_id, tern_offset_cb cb, void *arg)
{
    int err;
    if (!group || !cb)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_OFFSET, CODES_REQ_QUERY_CONSUMER_OFFSET, group, topic,
                                 broker_name, queue_id, arg, NULL, &err);
    if (!a)
        return err;
    a->cb.offset = cb;
    return broker_op(a);
}

static int queue_offset_op(struct tern_client *c, int code, const char *topic, const char *broker,
                           int qid, int64_t value, tern_offset_cb cb, void *arg)
{
    int err;
    if (!cb)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_OFFSET, code, NULL, topic, broker, qid, arg, NULL, &err);
    if (!a)
        return err;
    a->cb.offset = cb;
    a->value = value;
    return broker_op(a);
}

int tern_client_max_offset(struct tern_client *c, const char *topic, const char *broker_name,
                           int queue_id, tern_offset_cb cb, void *arg)
{
    return queue_offset_op(c, CODES_REQ_GET_MAX_OFFSET, topic, broker_name, queue_id, 0, cb, arg);
}

int tern_client_min_offset(struct tern_client *c, const char *topic, const char *broker_name,
                           int queue_id, tern_offset_cb cb, void *arg)
{
    return queue_offset_op(c, CODES_REQ_GET_MIN_OFFSET, topic, broker_name, queue_id, 0, cb, arg);
}

int tern_client_search_offset(struct tern_client *c, const char *topic, const char *broker_name,
                              int queue_id, int64_t ts_ms, tern_offset_cb cb, void *arg)
{
    return queue_offset_op(c, CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP, topic, broker_name, queue_id,
                           ts_ms, cb, arg);
}

int tern_client_commit_offset(struct tern_client *c, const char *group, const char *topic,
                              const char *broker_name, int queue_id, int64_t offset,
                              tern_done_cb cb, void *arg)
{
    int err;
    if (!group || !cb)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_DONE, CODES_REQ_UPDATE_CONSUMER_OFFSET, group, topic,
                                 broker_name, queue_id, arg, NULL, &err);
    if (!a)
        return err;
    a->cb.done = cb;
    a->value = offset;
    return broker_op(a);
}

int admin_pull(struct tern_client *c, const char *group, const char *topic, const char *broker,
               int qid, int64_t offset, int max, const char *expression, tern_pull_cb cb, void *arg,
               struct admin_hold **keep)
{
    int err;
    if (!group || !cb || max <= 0)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_PULL, CODES_REQ_PULL_MESSAGE, group, topic, broker, qid,
                                 arg, keep, &err);
    if (!a)
        return err;
    a->cb.pull = cb;
    a->value = offset;
    a->max = max;
    a->expr = strdup(expression && *expression ? expression : "*");
    char e[ERRMSG_SIZE];
    if (!a->expr || tags_parse(a->expr, strlen(a->expr), &a->tags, e) != 0) {
        int rv = a->expr ? TERN_E_INVAL : TERN_E_NOMEM;
        errmsg_printf(c->errmsg, "expression: %s", a->expr ? e : "out of memory");
        a->keep = NULL;
        areq_free(a);
        return rv;
    }
    return broker_op(a);
}

int tern_client_pull(struct tern_client *c, const char *group, const char *topic,
                     const char *broker_name, int queue_id, int64_t offset, int max,
                     const char *expression, tern_pull_cb cb, void *arg)
{
    return admin_pull(c, group, topic, broker_name, queue_id, offset, max, expression, cb, arg, NULL);
}

int admin_query_message(struct tern_client *c, const char *topic, const char *broker, const char *key,
                        bool unique, int max, int64_t begin_ms, int64_t end_ms, tern_pull_cb cb, void *arg,
                        struct admin_hold **keep)
{
    int err;
    if (!cb || !key || !*key || max <= 0)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_PULL, CODES_REQ_QUERY_MESSAGE, NULL, topic, broker, 0, arg, keep, &err);
    if (!a)
        return err;
    a->cb.pull = cb;
    a->value = begin_ms;
    a->value2 = end_ms;
    a->flag = unique;
    a->max = max;
    a->expr = strdup(key);
    char e[ERRMSG_SIZE];
    if (!a->expr || tags_parse("*", 1, &a->tags, e) != 0) {
        a->keep = NULL;
        areq_free(a);
        return TERN_E_NOMEM;
    }
    return broker_op(a);
}

int tern_client_query_message(struct tern_client *c, const char *topic, const char *broker_name,
                              const char *key, bool unique, int max, int64_t begin_ms, int64_t end_ms,
                              tern_pull_cb cb, void *arg)
{
    return admin_query_message(c, topic, broker_name, key, unique, max, begin_ms, end_ms, cb, arg, NULL);
}

int tern_client_reset_offset(struct tern_client *c, const char *group, const char *topic,
                             const char *broker_name, int64_t ts_ms, bool force, tern_done_cb cb, void *arg)
{
    int err;
    if (!group || !cb)
        return TERN_E_INVAL;
    struct areq *a = broker_areq(c, AREQ_DONE, CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET, group, topic,
                                 broker_name, 0, arg, NULL, &err);
    if (!a)
        return err;
    a->cb.done = cb;
    a->value = ts_ms;
    a->flag = force;
    return broker_op(a);
}

int admin_view_message(struct tern_client *c, const char *offset_msg_id, tern_pull_cb cb, void *arg,
                       struct admin_hold **keep)
{
    if (!c || !cb || !offset_msg_id)
        return TERN_E_INVAL;
    struct msg_host host;
    int64_t phys;
    char e[ERRMSG_SIZE];
    if (msgid_offset_decode(offset_msg_id, strlen(offset_msg_id), &host, &phys, e) != 0) {
        errmsg_printf(c->errmsg, "%s", e);
        return TERN_E_INVAL;
    }
    char ip[64];
    if (host.family == MSG_HOST_IPV4)
        snprintf(ip, sizeof ip, "%u.%u.%u.%u", host.addr[0], host.addr[1], host.addr[2], host.addr[3]);
    else if (uv_inet_ntop(AF_INET6, host.addr, ip, sizeof ip) != 0)
        return TERN_E_INVAL;
    if (c->closing)
        return TERN_E_CLOSED;
    struct areq *a = areq_new(c, AREQ_PULL, arg, keep);
    if (!a)
        return TERN_E_NOMEM;
    a->cb.pull = cb;
    a->code = CODES_REQ_VIEW_MESSAGE_BY_ID;
    snprintf(a->addr, sizeof a->addr, host.family == MSG_HOST_IPV4 ? "%s:%u" : "[%s]:%u", ip, host.port);
    snprintf(a->broker, sizeof a->broker, "%s", a->addr);
    if (tags_parse("*", 1, &a->tags, e) != 0) {
        a->keep = NULL;
        areq_free(a);
        return TERN_E_NOMEM;
    }
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_VIEW_MESSAGE_BY_ID);
    struct headers_client_view_req h = {.offset = phys};
    int rv = headers_client_view_req_encode(&h, cmd);
    if (rv == 0)
        rv = peer_call(c, a->addr, cmd, NULL, 0, c->timeout_ms, broker_resp, a);
    if (rv != 0) {
        a->keep = NULL;
        areq_free(a);
    }
    return rv;
}

int tern_client_view_message(struct tern_client *c, const char *offset_msg_id, tern_pull_cb cb, void *arg)
{
    return admin_view_message(c, offset_msg_id, cb, arg, NULL);
}
