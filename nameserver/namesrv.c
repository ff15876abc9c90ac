/* Name server request handlers: broker registration, routes, cluster info, KV. */
#include "nameserver/namesrv.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/brokerbody.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/route.h"
#include "src/checksum.h"
#include "src/clock.h"
#include "src/config.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define ORDER_TOPIC_NS "ORDER_TOPIC_CONFIG"

#define K(name, type, field, size, def, doc, min, max) \
    {name, type, offsetof(struct namesrv_conf, field), size, def, doc, min, max}

static const struct config_key conf_keys[] = {
    K("listenHost", CONFIG_STRING, listen_host, 64, "0.0.0.0", "Address to listen on.", 0, 0),
    K("listenPort", CONFIG_INT, port, 0, "9876", "Port to listen on (0 picks a free one).", 0, 65535),
    K("scanNotActiveBrokerInterval", CONFIG_MS, scan_interval_ms, 0, "5s",
      "How often brokers whose registration expired are dropped.", 100, 600000),
    K("maxFrameSize", CONFIG_BYTES, max_frame, 0, "16m", "Largest remoting frame accepted.", 1024, 1 << 30),
    K("logLevel", CONFIG_STRING, log_level, 16, "info", "debug, info, warn or error.", 0, 0),
    K("connectionIdleTimeout", CONFIG_MS, idle_timeout_ms, 0, "120s",
      "Close a connection that sends nothing for this long (brokers register every 30 s). 0: never.", 0,
      0x7fffffffffffLL),
    K("partialFrameTimeout", CONFIG_MS, partial_frame_ms, 0, "30s",
      "Close a connection that holds an incomplete frame this long. 0: never.", 0, 0x7fffffffffffLL),
};
#define NKEYS (sizeof conf_keys / sizeof conf_keys[0])

int namesrv_conf_defaults(struct namesrv_conf *c, char *errmsg)
{
    return config_defaults(conf_keys, NKEYS, c, errmsg);
}
int namesrv_conf_load(struct namesrv_conf *c, const char *path, char *errmsg)
{
    return config_load_file(conf_keys, NKEYS, c, path, errmsg);
}
int namesrv_conf_set(struct namesrv_conf *c, const char *key, const char *value, char *errmsg)
{
    return config_set(conf_keys, NKEYS, c, key, value, errmsg);
}
const struct config_key *namesrv_conf_keys(size_t *n)
{
    *n = NKEYS;
    return conf_keys;
}

void namesrv_conf_print(FILE *out)
{
    fprintf(out, "# tern-namesrv configuration: every key with its default.\n\n");
    config_print_doc(conf_keys, NKEYS, out);
}

/* Copy a slice into a fixed buffer as a C string; false if it does not fit. */
static bool slice_to_cstr(struct slice s, char *out, size_t cap)
{
    if (!s.p || s.len >= cap)
        return false;
    memcpy(out, s.p, s.len);
    out[s.len] = '\0';
    return true;
}

static void respond(struct namesrv *ns, struct rpc_conn *rc, const void *body, size_t n)
{
    struct iovec iov = {(void *)body, n};
    rpc_send(rc, &ns->resp, n ? &iov : NULL, n ? 1 : 0);
}

static void respond_error(struct namesrv *ns, struct rpc_conn *rc, const struct remoting_cmd *req, int code,
                          const char *remark)
{
    (void)ns;
    rpc_respond_simple(rc, req, code, remark);
}

static void handle_register(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE];
    struct headers_admin_register_req h;
    int rv = headers_admin_register_req_decode(&h, req, &ns->hub.limits, err);
    if (rv) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.body_crc32 != 0) {
        uint32_t crc = checksum_crc32(0, req->body.p, req->body.len) & 0x7FFFFFFFu;
        if ((int32_t)crc != h.body_crc32) {
            respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "register body: crc32 mismatch");
            return;
        }
    }
    struct brokerbody bb;
    memset(&bb, 0, sizeof bb);
    if (req->body.len > 0) {
        rv = brokerbody_decode(req->body.p, req->body.len, h.compressed, &bb, &ns->arena, err);
        if (rv) {
            respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, err);
            return;
        }
    }
    char cluster[RT_NAME_MAX], name[RT_NAME_MAX], addr[RT_ADDR_MAX], ha[RT_ADDR_MAX] = "";
    if (!slice_to_cstr(h.cluster_name, cluster, sizeof cluster) ||
        !slice_to_cstr(h.broker_name, name, sizeof name) || !slice_to_cstr(h.broker_addr, addr, sizeof addr)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, "register: bad cluster, broker name or address");
        return;
    }
    slice_to_cstr(h.ha_server_addr, ha, sizeof ha);
    struct rt_topic_conf *topics = NULL;
    if (bb.topic_count > 0) {
        topics = calloc(bb.topic_count, sizeof *topics);
        if (!topics) {
            respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
            return;
        }
    }
    size_t nt = 0;
    for (size_t i = 0; i < bb.topic_count; i++) {
        const struct brokerbody_topic *t = &bb.topics[i];
        if (!t->topic_name || strlen(t->topic_name) >= RT_NAME_MAX)
            continue;
        strcpy(topics[nt].name, t->topic_name);
        topics[nt].read_queues = t->read_queue_nums;
        topics[nt].write_queues = t->write_queue_nums;
        topics[nt].perm = t->perm;
        topics[nt].topic_sys_flag = t->topic_sys_flag;
        nt++;
    }
    struct rt_register r = {
        .cluster = cluster,
        .broker_name = name,
        .broker_addr = addr,
        .ha_addr = ha,
        .broker_id = h.broker_id,
        .timeout_ms = h.has_heartbeat_timeout_millis ? h.heartbeat_timeout_millis : 0,
        .dv = {bb.data_version.counter, bb.data_version.state_version, bb.data_version.timestamp},
        .topics = topics,
        .ntopics = nt,
        .conn = rc,
    };
    struct rt_register_result res;
    rv = routetable_register(&ns->rt, &r, clock_mono_ms(), &res);
    free(topics);
    if (rv) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, tern_strerror(rv));
        return;
    }
    LOGD("namesrv", "registered %s %s id %lld (%zu topics)", name, addr, (long long)h.broker_id, nt);
    if (remoting_is_oneway(req))
        return;
    remoting_cmd_init_response(&ns->resp, req, CODES_RESP_SUCCESS, NULL);
    struct headers_admin_register_resp hr = {
        .ha_server_addr = slice_of(res.ha_addr),
        .master_addr = slice_of(res.master_addr),
    };
    headers_admin_register_resp_encode(&hr, &ns->resp);
    respond(ns, rc, NULL, 0);
}

static void handle_unregister(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE];
    struct headers_admin_unregister_req h;
    if (headers_admin_unregister_req_decode(&h, req, &ns->hub.limits, err)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    char name[RT_NAME_MAX], addr[RT_ADDR_MAX];
    if (slice_to_cstr(h.broker_name, name, sizeof name) && slice_to_cstr(h.broker_addr, addr, sizeof addr)) {
        routetable_unregister(&ns->rt, name, addr);
        LOGI("namesrv", "unregistered %s %s", name, addr);
    }
    rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
}

/* Fill a route_broker from a group; addrs come from the caller's array. */
static void fill_broker(struct route_broker *out, struct rt_broker *b, struct route_addr *addrs)
{
    memset(out, 0, sizeof *out);
    out->cluster = b->cluster;
    out->broker_name = b->name;
    out->addrs = addrs;
    for (size_t i = 0; i < b->nmembers; i++) {
        addrs[i].broker_id = b->members[i].id;
        addrs[i].addr = b->members[i].addr;
    }
    out->addr_count = b->nmembers;
}

static void handle_route(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], topic[RT_NAME_MAX];
    struct headers_admin_route_req h;
    if (headers_admin_route_req_decode(&h, req, &ns->hub.limits, err)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (!slice_to_cstr(h.topic, topic, sizeof topic)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, "route: topic too long");
        return;
    }
    struct rt_topic *t = routetable_topic(&ns->rt, topic);
    if (!t) {
        char remark[RT_NAME_MAX + 80];
        snprintf(remark, sizeof remark, "No topic route info in name server for the topic: %s", topic);
        respond_error(ns, rc, req, CODES_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    struct route_queue *queues = calloc(t->nqd, sizeof *queues);
    struct route_broker *brokers = calloc(t->nqd, sizeof *brokers);
    struct route_addr *addrs = calloc(t->nqd * RT_MAX_MEMBERS, sizeof *addrs);
    if (!queues || !brokers || !addrs) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        goto out;
    }
    struct route_data rd = {.brokers = brokers, .queues = queues};
    for (size_t i = 0; i < t->nqd; i++) {
        queues[i].broker_name = t->qd[i].broker_name;
        queues[i].read_queue_nums = t->qd[i].read_queues;
        queues[i].write_queue_nums = t->qd[i].write_queues;
        queues[i].perm = t->qd[i].perm;
        queues[i].topic_sys_flag = t->qd[i].topic_sys_flag;
        struct rt_broker *b = routetable_broker(&ns->rt, t->qd[i].broker_name);
        if (b)
            fill_broker(&brokers[rd.broker_count++], b, addrs + i * RT_MAX_MEMBERS);
    }
    rd.queue_count = t->nqd;
    rd.order_topic_conf = routetable_kv_get(&ns->rt, ORDER_TOPIC_NS, topic);
    buf_reset(&ns->body);
    bool quoted = route_quoted_keys(req->version, h.has_accept_standard_json_only && h.accept_standard_json_only);
    if (route_encode(&rd, quoted, &ns->body) != 0) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "route: encode failed");
        goto out;
    }
    remoting_cmd_init_response(&ns->resp, req, CODES_RESP_SUCCESS, NULL);
    respond(ns, rc, ns->body.data, ns->body.len);
out:
    free(queues);
    free(brokers);
    free(addrs);
}

static void handle_cluster_info(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    size_t nb = HASH_COUNT(ns->rt.brokers);
    struct route_broker *brokers = calloc(nb ? nb : 1, sizeof *brokers);
    struct route_addr *addrs = calloc((nb ? nb : 1) * RT_MAX_MEMBERS, sizeof *addrs);
    struct route_cluster *clusters = calloc(nb ? nb : 1, sizeof *clusters);
    const char **names = calloc(nb ? nb : 1, sizeof *names);
    if (!brokers || !addrs || !clusters || !names) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        goto out;
    }
    struct route_cluster_info ci = {.brokers = brokers, .clusters = clusters};
    size_t i = 0;
    struct rt_broker *b, *bt;
    HASH_ITER(hh, ns->rt.brokers, b, bt)
    {
        fill_broker(&brokers[i], b, addrs + i * RT_MAX_MEMBERS);
        i++;
    }
    ci.broker_count = i;
    /* Group broker names by cluster: names[] is carved into per-cluster runs. */
    size_t used = 0;
    for (size_t k = 0; k < ci.broker_count; k++) {
        const char *cl = brokers[k].cluster;
        bool seen = false;
        for (size_t c = 0; c < ci.cluster_count; c++)
            if (strcmp(clusters[c].cluster_name, cl) == 0)
                seen = true;
        if (seen)
            continue;
        struct route_cluster *rcl = &clusters[ci.cluster_count++];
        rcl->cluster_name = cl;
        rcl->broker_names = names + used;
        for (size_t m = k; m < ci.broker_count; m++)
            if (strcmp(brokers[m].cluster, cl) == 0)
                names[used++] = brokers[m].broker_name;
        rcl->broker_name_count = (size_t)(names + used - rcl->broker_names);
    }
    buf_reset(&ns->body);
    if (route_cluster_encode(&ci, route_quoted_keys(req->version, false), &ns->body) != 0) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "cluster info: encode failed");
        goto out;
    }
    remoting_cmd_init_response(&ns->resp, req, CODES_RESP_SUCCESS, NULL);
    respond(ns, rc, ns->body.data, ns->body.len);
out:
    free(brokers);
    free(addrs);
    free(clusters);
    free(names);
}

static void handle_topic_list(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    size_t n = HASH_COUNT(ns->rt.topics);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    size_t i = 0;
    struct rt_topic *t, *tt;
    HASH_ITER(hh, ns->rt.topics, t, tt)
    {
        names[i++] = t->name;
    }
    struct route_topic_list tl = {.topics = names, .count = i};
    buf_reset(&ns->body);
    if (route_topics_encode(&tl, &ns->body) == 0) {
        remoting_cmd_init_response(&ns->resp, req, CODES_RESP_SUCCESS, NULL);
        respond(ns, rc, ns->body.data, ns->body.len);
    } else {
        respond_error(ns, rc, req, CODES_RESP_SYSTEM_ERROR, "topic list: encode failed");
    }
    free(names);
}

static void handle_kv(struct namesrv *ns, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE];
    struct headers_admin_kv_req h;
    if (headers_admin_kv_req_decode(&h, req, &ns->hub.limits, err)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    char nsname[RT_NAME_MAX], key[RT_NAME_MAX];
    if (!slice_to_cstr(h.namespace_, nsname, sizeof nsname) || !slice_to_cstr(h.key, key, sizeof key)) {
        respond_error(ns, rc, req, CODES_RESP_INVALID_PARAMETER, "kv: namespace or key too long");
        return;
    }
    if (req->code == CODES_REQ_PUT_KV_CONFIG) {
        char *value = strndup(h.value.p ? h.value.p : "", h.value.len);
        int rv = value ? routetable_kv_put(&ns->rt, nsname, key, value) : TERN_E_NOMEM;
        free(value);
        rpc_respond_simple(rc, req, rv ? CODES_RESP_SYSTEM_ERROR : CODES_RESP_SUCCESS, NULL);
    } else if (req->code == CODES_REQ_DELETE_KV_CONFIG) {
        routetable_kv_delete(&ns->rt, nsname, key);
        rpc_respond_simple(rc, req, CODES_RESP_SUCCESS, NULL);
    } else {
        const char *v = routetable_kv_get(&ns->rt, nsname, key);
        if (!v) {
            char remark[2 * RT_NAME_MAX + 40];
            snprintf(remark, sizeof remark, "No config item, Namespace: %s Key: %s", nsname, key);
            respond_error(ns, rc, req, CODES_RESP_QUERY_NOT_FOUND, remark);
            return;
        }
        remoting_cmd_init_response(&ns->resp, req, CODES_RESP_SUCCESS, NULL);
        struct headers_admin_kv_resp hr = {.value = slice_of(v)};
        headers_admin_kv_resp_encode(&hr, &ns->resp);
        respond(ns, rc, NULL, 0);
    }
}

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct namesrv *ns = rc->hub->data;
    switch (req->code) {
    case CODES_REQ_REGISTER_BROKER:
        handle_register(ns, rc, req);
        break;
    case CODES_REQ_UNREGISTER_BROKER:
        handle_unregister(ns, rc, req);
        break;
    case CODES_REQ_GET_ROUTEINFO_BY_TOPIC:
        handle_route(ns, rc, req);
        break;
    case CODES_REQ_GET_BROKER_CLUSTER_INFO:
        handle_cluster_info(ns, rc, req);
        break;
    case CODES_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER:
        handle_topic_list(ns, rc, req);
        break;
    case CODES_REQ_PUT_KV_CONFIG:
    case CODES_REQ_GET_KV_CONFIG:
    case CODES_REQ_DELETE_KV_CONFIG:
        handle_kv(ns, rc, req);
        break;
    default: {
        char remark[64];
        snprintf(remark, sizeof remark, " request type %d not supported", req->code);
        respond_error(ns, rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, remark);
    }
    }
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    (void)err;
    (void)reason;
    struct namesrv *ns = rc->hub->data;
    int n = routetable_conn_closed(&ns->rt, rc);
    if (n > 0)
        LOGI("namesrv", "connection %s closed: dropped %d broker address(es)", rc->peer, n);
}

static const struct rpc_ops ops = {on_request, on_close};

static void scan_cb(uv_timer_t *t)
{
    struct namesrv *ns = t->data;
    int n = routetable_expire(&ns->rt, clock_mono_ms());
    if (n > 0)
        LOGI("namesrv", "expired %d broker address(es) without registration", n);
}

int namesrv_start(struct namesrv *ns, uv_loop_t *loop, const struct namesrv_conf *conf)
{
    memset(ns, 0, sizeof *ns);
    ns->loop = loop;
    ns->conf = *conf;
    routetable_init(&ns->rt);
    remoting_cmd_init(&ns->resp);
    buf_init(&ns->body);
    buf_init(&ns->arena);
    struct limits l = limits_default;
    l.max_frame = (uint32_t)conf->max_frame;
    /* Register bodies carry whole topic tables: allow them the frame size. */
    l.max_body = (uint32_t)conf->max_frame;
    int rv = rpc_hub_init(&ns->hub, loop, &l, 64u << 20);
    if (rv) {
        errmsg_printf(ns->errmsg, "init: %s", tern_strerror(rv));
        return rv;
    }
    ns->hub.data = ns;
    rpc_hub_set_timeouts(&ns->hub, conf->idle_timeout_ms, conf->partial_frame_ms);
    rv = rpc_hub_listen(&ns->hub, conf->listen_host, (int)conf->port, &ops, ns->errmsg);
    if (rv)
        return rv;
    uv_timer_init(loop, &ns->scan);
    ns->scan.data = ns;
    uv_timer_start(&ns->scan, scan_cb, (uint64_t)conf->scan_interval_ms, (uint64_t)conf->scan_interval_ms);
    return 0;
}

int namesrv_port(struct namesrv *ns)
{
    return rpc_hub_port(&ns->hub, 0);
}

static void maybe_closed(struct namesrv *ns)
{
    if (--ns->closes_pending > 0)
        return;
    routetable_free(&ns->rt);
    remoting_cmd_free(&ns->resp);
    buf_free(&ns->body);
    buf_free(&ns->arena);
    if (ns->on_closed)
        ns->on_closed(ns);
}

static void hub_closed_cb(struct rpc_hub *hub)
{
    maybe_closed(hub->data);
}

static void scan_closed_cb(uv_handle_t *h)
{
    maybe_closed(h->data);
}

void namesrv_close(struct namesrv *ns, void (*on_closed)(struct namesrv *ns))
{
    if (ns->closing)
        return;
    ns->closing = true;
    ns->on_closed = on_closed;
    ns->closes_pending = 2;
    uv_close((uv_handle_t *)&ns->scan, scan_closed_cb);
    rpc_hub_close(&ns->hub, hub_closed_cb);
}
