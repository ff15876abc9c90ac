/* Broker life cycle and request dispatch.
 *
 * Start: store, topics (with the TBW102 template when auto-create is on),
 * subsystems, then the listeners on port and port-2, then registration.
 * Close: stop registering (unregister), close listeners and connections,
 * flush offsets, close the store (pending appends are written and synced),
 * then fire on_closed. */
#include "broker/broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/acl.h"
#include "broker/delay.h"
#include "broker/fsm.h"
#include "broker/groupadmin.h"
#include "broker/grouprepl.h"
#include "broker/msgindex.h"
#include "broker/locks.h"
#include "broker/segfetch.h"
#include "broker/topics.h"
#include "broker/txn.h"
#include <arpa/inet.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "src/log.h"
#include "tern/error.h"

#define DISK_CHECK_MS 1000
#define DISK_HANDOFF_MS 30000

/* The configured bounds of the topic table, checked wherever a client's
 * request creates or grows a topic (system topics are exempt). */
static int topic_admissible(struct broker *b, const char *name, const struct topic_conf *c, char *errmsg)
{
    if (c->read_queues > b->conf.max_queues || c->write_queues > b->conf.max_queues) {
        errmsg_printf(errmsg, "topic '%s': %d/%d queues exceed maxQueuesPerTopic=%lld", name, c->read_queues,
                      c->write_queues, (long long)b->conf.max_queues);
        return TERN_E_INVAL;
    }
    if (!topics_find(b->topics, name) && topics_count(b->topics) >= (size_t)b->conf.max_topics) {
        errmsg_printf(errmsg, "topic '%s' refused: this broker already holds maxTopics=%lld topics", name,
                      (long long)b->conf.max_topics);
        return TERN_E_TOOBIG;
    }
    return 0;
}

int broker_put_topic(struct broker *b, const char *name, const struct topic_conf *c, bool system,
                     struct topic **out)
{
    if (!system) {
        int rv = topic_admissible(b, name, c, b->topics->errmsg);
        if (rv) {
            LOGW("broker", "%s", b->topics->errmsg);
            return rv;
        }
    }
    buf_reset(&b->cmd);
    if (fsm_encode_topic(&b->cmd, name, c, system) != 0)
        return TERN_E_NOMEM;
    if (grouprepl_enabled(b)) {
        if (out)
            *out = NULL;
        return grouprepl_propose(b, b->cmd.data, b->cmd.len, NULL, NULL);
    }
    struct fsm_result res;
    int rv = fsm_apply(b, 0, b->cmd.data, b->cmd.len, NULL, NULL, &res);
    if (rv == 0)
        rv = res.status;
    if (rv == 0 && out)
        *out = topics_find(b->topics, name);
    return rv;
}

void broker_respond_error(struct broker *b, struct rpc_conn *rc, const struct remoting_cmd *req, int code,
                          const char *remark)
{
    (void)b;
    rpc_respond_simple(rc, req, code, remark);
}

void broker_respond(struct broker *b, struct rpc_conn *rc, const void *body, size_t n)
{
    struct iovec iov = {(void *)body, n};
    rpc_send(rc, &b->resp, n ? &iov : NULL, n ? 1 : 0);
}

static void handle_create_topic(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct broker *b = rc->hub->data;
    if (b->acl && acl_check(b, rc->peer, req, b->errmsg) != 0) {
        LOGW("acl", "refused request %d from %s: %s", req->code, rc->peer, b->errmsg);
        broker_respond_error(b, rc, req, CODES_RESP_NO_PERMISSION, b->errmsg);
        return;
    }
    switch (req->code) {
    case CODES_REQ_SEND_MESSAGE:
    case CODES_REQ_SEND_MESSAGE_V2:
    case CODES_REQ_SEND_BATCH_MESSAGE:
        sendmsg_handle(b, rc, req);
        break;
    case CODES_REQ_PULL_MESSAGE:
    case CODES_REQ_LITE_PULL_MESSAGE:
        pull_handle(b, rc, req);
        break;
    case CODES_REQ_QUERY_CONSUMER_OFFSET:
    case CODES_REQ_UPDATE_CONSUMER_OFFSET:
    case CODES_REQ_GET_MAX_OFFSET:
    case CODES_REQ_GET_MIN_OFFSET:
    case CODES_REQ_GET_EARLIEST_MSG_STORETIME:
    case CODES_REQ_SEARCH_OFFSET_BY_TIMESTAMP:
    case CODES_REQ_VIEW_MESSAGE_BY_ID:
        offsets_handle(b, rc, req);
        break;
    case CODES_REQ_HEART_BEAT:
    case CODES_REQ_UNREGISTER_CLIENT:
    case CODES_REQ_GET_CONSUMER_LIST_BY_GROUP:
        clients_handle(b, rc, req);
        break;
    case CODES_REQ_LOCK_BATCH_MQ:
    case CODES_REQ_UNLOCK_BATCH_MQ:
        locks_handle(b, rc, req);
        break;
    case CODES_REQ_UPDATE_AND_CREATE_TOPIC:
        handle_create_topic(b, rc, req);
        break;
    case CODES_REQ_QUERY_MESSAGE:
        query_handle(b, rc, req);
        break;
    case CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET:
        resetoffset_handle(b, rc, req);
        break;
    case CODES_REQ_END_TRANSACTION:
        txn_handle(b, rc, req);
        break;
    case CODES_REQ_TERN_GROUP_STATUS:
    case CODES_REQ_TERN_GROUP_TRANSFER_LEADER:
    case CODES_REQ_TERN_GROUP_ADD_REPLICA:
    case CODES_REQ_TERN_GROUP_REMOVE_REPLICA:
        groupadmin_handle(b, rc, req);
        break;
    case CODES_TERN_FETCH_SEGMENT:
        segfetch_handle(b, rc, req);
        break;
    case CODES_REQ_CONSUMER_SEND_MSG_BACK:
        sendback_handle(b, rc, req);
        break;
    default: {
        char remark[64];
        snprintf(remark, sizeof remark, " request type %d not supported", req->code);
        broker_respond_error(b, rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, remark);
    }
    }
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    (void)err;
    (void)reason;
    struct broker *b = rc->hub->data;
    clients_conn_closed(b, rc);
}

static const struct rpc_ops ops = {on_request, on_close};

struct topic_reply {
    struct broker *b;
    struct rpc_reply reply;
};

static void topic_committed(void *arg, int status, const struct fsm_result *res)
{
    struct topic_reply *t = arg;
    struct broker *b = t->b;
    int code = CODES_RESP_SUCCESS;
    const char *remark = NULL;
    if (status != 0 || res->status != 0) {
        code = status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR;
        remark = tern_strerror(status ? status : res->status);
    } else {
        registrar_kick(b);
    }
    if (rpc_reply_begin(&t->reply, &b->resp, code, remark) == 0)
        rpc_reply_finish(&t->reply, &b->resp, NULL, 0);
    else
        rpc_reply_drop(&t->reply);
    free(t);
}

/* With replication a topic exists once its TOPIC command committed. */
static void create_topic_replicated(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req,
                                    const char *name, const struct topic_conf *c)
{
    struct topic_reply *t = calloc(1, sizeof *t);
    buf_reset(&b->cmd);
    int rv = t ? fsm_encode_topic(&b->cmd, name, c, false) : TERN_E_NOMEM;
    if (rv == 0)
        rv = grouprepl_propose(b, b->cmd.data, b->cmd.len, topic_committed, t);
    if (rv) {
        free(t);
        char remark[160];
        snprintf(remark, sizeof remark, "%s: broker group %s has no writable leader here",
                 tern_strerror(rv), b->conf.name);
        broker_respond_error(b, rc, req,
                             rv == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR,
                             remark);
        return;
    }
    t->b = b;
    rpc_reply_hold(&t->reply, rc, req);
    LOGI("broker", "topic %s: %d/%d queues, perm %d (proposed)", name, c->read_queues, c->write_queues, c->perm);
}

static void handle_create_topic(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], name[TOPICS_NAME_MAX];
    struct headers_admin_topic_req h;
    if (headers_admin_topic_req_decode(&h, req, &b->limits, err)) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.topic.len >= sizeof name || slice_eq(h.topic, TOPIC_DEFAULT)) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "topic name is reserved or too long");
        return;
    }
    memcpy(name, h.topic.p, h.topic.len);
    name[h.topic.len] = '\0';
    struct topic_conf c = {
        .read_queues = h.read_queue_nums,
        .write_queues = h.write_queue_nums,
        .perm = h.perm,
        .sys_flag = h.has_topic_sys_flag ? h.topic_sys_flag : 0,
        .order = h.order,
        .multi_tag = slice_eq(h.topic_filter_type, "MULTI_TAG"),
    };
    if (c.read_queues <= 0 || c.write_queues <= 0 || (c.perm & ~7) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "queue counts must be > 0 and perm in 0..7");
        return;
    }
    if (topic_admissible(b, name, &c, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (grouprepl_enabled(b)) {
        create_topic_replicated(b, rc, req, name, &c);
        return;
    }
    int rv = broker_put_topic(b, name, &c, false, NULL);
    if (rv) {
        broker_respond_error(b, rc, req, rv == TERN_E_INVAL ? CODES_RESP_INVALID_PARAMETER : CODES_RESP_SYSTEM_ERROR,
                             b->topics->errmsg);
        return;
    }
    LOGI("broker", "topic %s: %d/%d queues, perm %d", name, c.read_queues, c.write_queues, c.perm);
    registrar_kick(b);
    broker_respond_error(b, rc, req, CODES_RESP_SUCCESS, NULL);
}

static void visible_cb(struct store *st, struct partlog *pl, uint64_t new_end, void *arg)
{
    (void)st;
    struct broker *b = arg;
    /* Derived state: index what just became visible (errors are logged once
     * by the index and reported to queries). */
    if (b->msgindex)
        msgindex_catch_up(b->msgindex, pl);
    pull_notify(arg, pl, new_end);
}

static void disk_handoff_cb(void *arg, int status)
{
    struct broker *b = arg;
    b->disk_handoff_pending = false;
    if (status == 0)
        LOGW("broker", "data disk full: leadership handed to another member");
    else if (status != TERN_E_CANCELED)
        LOGW("broker", "data disk full: leadership hand-off failed (%s); sends stay refused until space is freed",
             tern_strerror(status));
}

/* A leader whose disk is full refuses every send; a follower with space can
 * take them. Tried again after DISK_HANDOFF_MS while the disk stays full (all
 * members full: leadership moves at most that often). */
static void disk_handoff(struct broker *b)
{
    uint64_t now = uv_now(b->loop);
    if (!grouprepl_enabled(b) || !grouprepl_writable(b) || b->disk_handoff_pending ||
        (b->disk_handoff_at && now - b->disk_handoff_at < DISK_HANDOFF_MS))
        return;
    b->disk_handoff_at = now;
    if (grouprepl_transfer(b, 0, disk_handoff_cb, b) == 0)
        b->disk_handoff_pending = true;
}

static void disk_check_cb(uv_timer_t *t)
{
    struct broker *b = t->data;
    char err[ERRMSG_SIZE];
    uint64_t free_bytes;
    if (fs_free_bytes(b->conf.data_dir, &free_bytes, err) != 0)
        return;
    bool full = free_bytes < b->conf.disk_min_free;
    if (full != b->disk_full)
        LOGW("broker", "data disk %s: %llu bytes free (minimum %llu)", full ? "full" : "has space again",
             (unsigned long long)free_bytes, (unsigned long long)b->conf.disk_min_free);
    b->disk_full = full;
    b->disk_free = free_bytes;
    if (full)
        disk_handoff(b);
}

static int ensure_system_topics(struct broker *b);

void broker_leader_ready(struct broker *b)
{
    int rv = ensure_system_topics(b);
    if (rv && rv != TERN_E_NOTLEADER)
        LOGW("broker", "system topics: %s", tern_strerror(rv));
    delay_leader_ready(b);
}

static int ensure_system_topics(struct broker *b)
{
    struct topic_conf tbw = {
        .read_queues = (int32_t)b->conf.default_queues,
        .write_queues = (int32_t)b->conf.default_queues,
        .perm = TOPIC_PERM_READ | TOPIC_PERM_WRITE | (b->conf.auto_create_topic ? TOPIC_PERM_INHERIT : 0),
    };
    struct topic *tp = topics_find(b->topics, TOPIC_DEFAULT);
    if (!b->conf.auto_create_topic) {
        /* Without auto-creation the template must not advertise INHERIT. */
        if (tp && (tp->perm & TOPIC_PERM_INHERIT))
            return broker_put_topic(b, TOPIC_DEFAULT, &tbw, true, NULL);
        return 0;
    }
    if (tp && tp->perm == tbw.perm && tp->write_queues == tbw.write_queues)
        return 0;
    return broker_put_topic(b, TOPIC_DEFAULT, &tbw, true, NULL);
}

static int host_from_ip(const char *ip, int port, struct msg_host *h)
{
    memset(h, 0, sizeof *h);
    h->port = (uint32_t)port;
    if (inet_pton(AF_INET, ip, h->addr) == 1) {
        h->family = MSG_HOST_IPV4;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, h->addr) == 1) {
        h->family = MSG_HOST_IPV6;
        return 0;
    }
    return TERN_E_INVAL;
}

int broker_start(struct broker *b, uv_loop_t *loop, const struct brokerconf *conf)
{
    memset(b, 0, sizeof *b);
    b->loop = loop;
    /* Closable from the first failure on: broker_close closes it. */
    uv_timer_init(loop, &b->disk_timer);
    b->disk_timer.data = b;
    b->hub.data = b;
    b->conf = *conf;
    remoting_cmd_init(&b->resp);
    buf_init(&b->body);
    buf_init(&b->arena);
    buf_init(&b->cmd);
    b->limits = limits_default;
    b->limits.max_frame = (uint32_t)conf->max_frame_size;
    b->limits.max_body = (uint32_t)(conf->max_frame_size > conf->max_message_size ? conf->max_frame_size
                                                                                  : conf->max_message_size);
    int rv;
    if (host_from_ip(conf->advertise_ip, (int)conf->port, &b->store_host) != 0) {
        errmsg_printf(b->errmsg, "brokerIP1 '%s' is not a numeric IP address", conf->advertise_ip);
        return TERN_E_INVAL;
    }
    snprintf(b->addr, sizeof b->addr, b->store_host.family == MSG_HOST_IPV6 ? "[%s]:%d" : "%s:%d",
             conf->advertise_ip, (int)conf->port);
    msgid_gen_init(&b->uniq, &b->store_host, (uint32_t)getpid(), (uint32_t)clock_now_ms());

    rv = fs_mkdir_p(conf->data_dir, b->errmsg);
    if (rv)
        return rv;
    struct store_opts so;
    store_opts_default(&so);
    so.part.segment_bytes = conf->segment_bytes;
    so.part.retention_ms = conf->retention_ms;
    so.part.retention_bytes = conf->retention_bytes;
    so.part.max_unit_bytes = (uint32_t)(conf->max_frame_size + (1u << 20));
    so.visible_cb = visible_cb;
    /* With replication entries are committed before they are applied, so
     * readers may see them once written; alone, only once synced. */
    so.part.visible_on_write = conf->raft_id > 0;
    /* Raft mode: the raft log is the write-ahead log and acknowledgements
     * never wait for partition syncs; partition files are synced in the
     * background and made durable before each raft snapshot (grouprepl.c
     * durable_cb), so a lost unsynced tail is re-applied from the log. */
    so.sync_interval_ms = conf->raft_id > 0 ? 200 : 0;
    so.cb_arg = b;
    char store_dir[1100];
    snprintf(store_dir, sizeof store_dir, "%s/queues", conf->data_dir);
    rv = store_open(loop, store_dir, &so, &b->store, b->errmsg);
    if (rv) {
        errmsg_wrapf(b->errmsg, "open store %s", store_dir);
        return rv;
    }
    if (conf->msg_index) {
        struct msgindex_opts mio;
        msgindex_opts_default(&mio);
        mio.slots = (uint32_t)conf->msg_index_slots;
        mio.entries = (uint32_t)conf->msg_index_entries;
        snprintf(store_dir, sizeof store_dir, "%s/msgindex", conf->data_dir);
        rv = msgindex_open(store_dir, &mio, &b->msgindex, b->errmsg);
        if (rv)
            return rv;
    }
    b->topics = calloc(1, sizeof *b->topics);
    if (!b->topics || fsm_init(b) != 0 || locks_init(b) != 0)
        return TERN_E_NOMEM;
    rv = txn_init(b); /* before replication replays the log into it */
    if (rv) {
        errmsg_wrapf(b->errmsg, "transaction table");
        return rv;
    }
    rv = topics_open(b->topics, conf->data_dir, b->store);
    if (rv == 0 && b->conf.raft_id <= 0)
        rv = ensure_system_topics(b); /* with replication the ready leader does it */
    if (rv) {
        errmsg_printf(b->errmsg, "topics: %s", b->topics->errmsg);
        return rv;
    }
    if ((rv = sendmsg_init(b)) || (rv = offsets_init(b)) || (rv = clients_init(b)) || (rv = pull_init(b)))
        return rv;
    if ((rv = delay_init(b)) != 0)
        return rv;
    if (b->conf.raft_id <= 0)
        delay_leader_ready(b); /* with replication the ready leader does it */

    rv = rpc_hub_init(&b->hub, loop, &b->limits, conf->conn_write_backlog);
    if (rv) {
        errmsg_printf(b->errmsg, "rpc: %s", tern_strerror(rv));
        return rv;
    }
    b->hub.data = b;
    rv = acl_start(b);
    if (rv) {
        errmsg_printf(b->errmsg, "acl: %s", tern_strerror(rv));
        return rv;
    }
    rv = rpc_hub_listen(&b->hub, conf->listen_host, (int)conf->port, &ops, b->errmsg);
    if (rv == 0)
        rv = rpc_hub_listen(&b->hub, conf->listen_host, (int)conf->port - 2, &ops, b->errmsg);
    if (rv)
        return rv;
    rpc_hub_set_max_conns(&b->hub, (size_t)conf->max_connections);
    rpc_hub_set_timeouts(&b->hub, conf->idle_timeout_ms, conf->partial_frame_ms);

    disk_check_cb(&b->disk_timer);
    uv_timer_start(&b->disk_timer, disk_check_cb, DISK_CHECK_MS, DISK_CHECK_MS);

    rv = grouprepl_init(b);
    if (rv)
        return rv;
    txn_start(b);
    rv = registrar_init(b);
    if (rv)
        return rv;
    LOGI("broker", "%s (cluster %s, id %lld) listening on %s:%d and :%d, data in %s", conf->name, conf->cluster,
         (long long)conf->id, conf->listen_host, broker_port(b, 0), broker_port(b, 1), conf->data_dir);
    return 0;
}

int broker_port(struct broker *b, int index)
{
    return rpc_hub_port(&b->hub, index);
}

static void finish_close(struct broker *b)
{
    if (--b->closes_pending > 0)
        return;
    if (b->topics) {
        topics_close(b->topics);
        free(b->topics);
    }
    sendmsg_free(b);
    msgindex_close(b->msgindex);
    b->msgindex = NULL;
    delay_free(b);
    fsm_free(b);
    locks_free(b);
    remoting_cmd_free(&b->resp);
    buf_free(&b->body);
    buf_free(&b->arena);
    buf_free(&b->cmd);
    if (b->on_closed)
        b->on_closed(b);
}

static void store_closed_cb(void *arg)
{
    finish_close(arg);
}

static void repl_closed_cb(struct broker *b)
{
    /* Nothing applies commands any more: settle the tables and the store. */
    offsets_flush(b);
    offsets_close(b);
    txn_flush(b);
    txn_close(b);
    if (b->store)
        store_close(b->store, store_closed_cb, b);
    else
        finish_close(b);
}

static void hub_closed_cb(struct rpc_hub *hub)
{
    struct broker *b = hub->data;
    /* No client can send or pull any more. */
    pull_close(b);
    clients_close(b);
    grouprepl_close(b, repl_closed_cb);
}

static void disk_timer_closed_cb(uv_handle_t *h)
{
    finish_close(h->data);
}

static void registrar_closed_cb(struct broker *b)
{
    if (b->hub.loop)
        rpc_hub_close(&b->hub, hub_closed_cb);
    else
        hub_closed_cb(&b->hub); /* start failed before the listeners existed */
}

void broker_close(struct broker *b, void (*on_closed)(struct broker *b))
{
    if (b->closing)
        return;
    b->closing = true;
    b->on_closed = on_closed;
    b->closes_pending = 2; /* store, disk timer */
    uv_close((uv_handle_t *)&b->disk_timer, disk_timer_closed_cb);
    if (b->acl) {
        b->closes_pending++;
        acl_stop(b, finish_close);
    }
    if (delay_close(b, disk_timer_closed_cb))
        b->closes_pending++;
    registrar_close(b, registrar_closed_cb);
}
