/* Registration with every name server: at start, every
 * registerNameServerPeriod (the broker's heartbeat), soon after a topic
 * changes, and UNREGISTER_BROKER at shutdown.
 *
 * Each name server has its own connection; a failed connection is retried at
 * the next period (or kick). Registration failures are logged, never fatal:
 * a name server that is down simply learns about us when it comes back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/brokerbody.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/checksum.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define MAX_NAMESRV 16
#define REQUEST_TIMEOUT_MS 3000
#define UNREGISTER_TIMEOUT_MS 1000
#define KICK_DELAY_MS 50
/* Until a name server has accepted us once, retry this often instead of
 * waiting a whole registration period (it may simply start after us). */
#define FIRST_RETRY_MS 1000

struct ns_link {
    struct registrar *reg;
    char addr[128];
    struct rpc_conn *conn;
    bool connecting;
    bool failed_logged;
    bool registered; /* at least one registration succeeded */
};

struct registrar {
    struct broker *b;
    struct ns_link links[MAX_NAMESRV];
    int nlinks;
    uv_timer_t period;
    uv_timer_t kick;
    bool closing;
    int unregister_pending;
    int register_pending; /* REGISTER_BROKER requests awaiting an answer */
    void (*on_closed)(struct broker *b);
    int handles_open;
};

static const struct rpc_ops link_ops = {NULL, NULL};

static int build_body(struct broker *b, struct buf *out)
{
    struct topics *t = b->topics;
    size_t n = HASH_COUNT(t->table);
    struct brokerbody_topic *bt = calloc(n ? n : 1, sizeof *bt);
    if (!bt)
        return TERN_E_NOMEM;
    size_t i = 0;
    struct topic *tp, *tmp;
    HASH_ITER(hh, t->table, tp, tmp)
    {
        bt[i].topic_name = tp->name;
        bt[i].read_queue_nums = tp->read_queues;
        bt[i].write_queue_nums = tp->write_queues;
        bt[i].perm = tp->perm;
        bt[i].topic_sys_flag = tp->sys_flag;
        bt[i].order = tp->order;
        bt[i].filter_type = tp->multi_tag ? BROKERBODY_MULTI_TAG : BROKERBODY_SINGLE_TAG;
        i++;
    }
    struct brokerbody bb = {
        .data_version = {(int64_t)t->version, 0, 0},
        .topics = bt,
        .topic_count = i,
    };
    buf_reset(out);
    int rv = brokerbody_encode(&bb, out);
    free(bt);
    return rv;
}

static void finish(struct registrar *r);
static void kick_cb(uv_timer_t *t);

/* A name server we never registered with: try again soon. */
static void retry_soon(struct ns_link *l)
{
    struct registrar *r = l->reg;
    if (!r->closing && !l->registered && !uv_is_active((uv_handle_t *)&r->kick))
        uv_timer_start(&r->kick, kick_cb, FIRST_RETRY_MS, 0);
}

static void register_done(int status, struct remoting_cmd *resp, void *arg)
{
    struct ns_link *l = arg;
    l->reg->register_pending--;
    if (status == 0 && resp->code == CODES_RESP_SUCCESS)
        l->registered = true;
    else
        retry_soon(l);
    if (status != 0)
        LOGW("broker", "register with %s: %s", l->addr, tern_strerror(status));
    else if (resp->code != CODES_RESP_SUCCESS)
        LOGW("broker", "register with %s: code %d %.*s", l->addr, resp->code, (int)resp->remark.len,
             resp->remark.p ? resp->remark.p : "");
    else
        LOGD("broker", "registered with %s", l->addr);
    finish(l->reg);
}

static void send_register(struct ns_link *l)
{
    struct broker *b = l->reg->b;
    struct buf body;
    buf_init(&body);
    if (build_body(b, &body) != 0) {
        buf_free(&body);
        return;
    }
    char ha[96];
    snprintf(ha, sizeof ha, "%s:%d", b->conf.advertise_ip, (int)b->conf.port + 1);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_REGISTER_BROKER);
    struct headers_admin_register_req h = {
        .broker_name = slice_of(b->conf.name),
        .broker_addr = slice_of(b->addr),
        .cluster_name = slice_of(b->conf.cluster),
        .ha_server_addr = slice_of(ha),
        .broker_id = grouprepl_member_id(b),
        .has_heartbeat_timeout_millis = true,
        .heartbeat_timeout_millis = 4 * b->conf.register_period_ms,
        .compressed = false,
        .body_crc32 = (int32_t)(checksum_crc32(0, body.data, body.len) & 0x7FFFFFFFu),
    };
    struct iovec iov = {body.data, body.len};
    if (headers_admin_register_req_encode(&h, &req) == 0 &&
        rpc_request(l->conn, &req, &iov, 1, REQUEST_TIMEOUT_MS, register_done, l) == 0)
        l->reg->register_pending++;
    remoting_cmd_free(&req);
    buf_free(&body);
}

static void connected(struct rpc_conn *rc, int status, void *arg)
{
    struct ns_link *l = arg;
    l->connecting = false;
    if (l->reg->closing) {
        if (status == 0)
            rpc_conn_close(rc, 0, "shutting down");
        finish(l->reg);
        return;
    }
    if (status != 0) {
        if (!l->failed_logged)
            LOGW("broker", "name server %s unreachable: %s", l->addr, tern_strerror(status));
        l->failed_logged = true;
        retry_soon(l);
        return;
    }
    l->failed_logged = false;
    l->conn = rc;
    rpc_conn_ref(rc); /* released when we notice the close */
    send_register(l);
}

static void register_all(struct registrar *r)
{
    if (r->closing)
        return;
    char err[ERRMSG_SIZE];
    for (int i = 0; i < r->nlinks; i++) {
        struct ns_link *l = &r->links[i];
        if (l->conn && l->conn->closed) {
            rpc_conn_unref(l->conn);
            l->conn = NULL;
        }
        if (l->conn) {
            send_register(l);
        } else if (!l->connecting) {
            if (rpc_connect(&r->b->hub, l->addr, &link_ops, connected, l, err) == 0)
                l->connecting = true;
            else
                LOGW("broker", "name server %s: %s", l->addr, err);
        }
    }
}

static void period_cb(uv_timer_t *t)
{
    register_all(t->data);
}

static void kick_cb(uv_timer_t *t)
{
    register_all(t->data);
}

void registrar_kick(struct broker *b)
{
    struct registrar *r = b->registrar;
    if (r && !r->closing)
        uv_timer_start(&r->kick, kick_cb, KICK_DELAY_MS, 0);
}

int registrar_init(struct broker *b)
{
    struct registrar *r = calloc(1, sizeof *r);
    if (!r)
        return TERN_E_NOMEM;
    r->b = b;
    b->registrar = r;
    char list[sizeof b->conf.namesrv];
    snprintf(list, sizeof list, "%s", b->conf.namesrv);
    char *save = NULL;
    for (char *tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
        if (r->nlinks == MAX_NAMESRV) {
            errmsg_printf(b->errmsg, "namesrvAddr: more than %d name servers", MAX_NAMESRV);
            return TERN_E_INVAL;
        }
        struct ns_link *l = &r->links[r->nlinks++];
        l->reg = r;
        snprintf(l->addr, sizeof l->addr, "%s", tok);
    }
    uv_timer_init(b->loop, &r->period);
    uv_timer_init(b->loop, &r->kick);
    r->period.data = r->kick.data = r;
    r->handles_open = 2;
    uv_timer_start(&r->period, period_cb, 0, (uint64_t)b->conf.register_period_ms);
    return 0;
}

static void finish(struct registrar *r)
{
    if (!r->closing || r->unregister_pending > 0 || r->register_pending > 0 || r->handles_open > 0)
        return;
    for (int i = 0; i < r->nlinks; i++)
        if (r->links[i].connecting)
            return;
    struct broker *b = r->b;
    for (int i = 0; i < r->nlinks; i++) {
        if (r->links[i].conn) {
            rpc_conn_close(r->links[i].conn, 0, "shutting down");
            rpc_conn_unref(r->links[i].conn);
            r->links[i].conn = NULL;
        }
    }
    void (*cb)(struct broker *) = r->on_closed;
    b->registrar = NULL;
    free(r);
    if (cb)
        cb(b);
}

static void unregister_done(int status, struct remoting_cmd *resp, void *arg)
{
    (void)status;
    (void)resp;
    struct ns_link *l = arg;
    l->reg->unregister_pending--;
    finish(l->reg);
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct registrar *r = h->data;
    r->handles_open--;
    finish(r);
}

void registrar_close(struct broker *b, void (*cb)(struct broker *b))
{
    struct registrar *r = b->registrar;
    if (!r) {
        cb(b);
        return;
    }
    r->closing = true;
    r->on_closed = cb;
    for (int i = 0; i < r->nlinks; i++) {
        struct ns_link *l = &r->links[i];
        if (!l->conn || l->conn->closed)
            continue;
        struct remoting_cmd req;
        remoting_cmd_init(&req);
        remoting_cmd_init_request(&req, CODES_REQ_UNREGISTER_BROKER);
        struct headers_admin_unregister_req h = {
            .broker_name = slice_of(b->conf.name),
            .broker_addr = slice_of(b->addr),
            .cluster_name = slice_of(b->conf.cluster),
            .broker_id = grouprepl_member_id(b),
        };
        if (headers_admin_unregister_req_encode(&h, &req) == 0 &&
            rpc_request(l->conn, &req, NULL, 0, UNREGISTER_TIMEOUT_MS, unregister_done, l) == 0)
            r->unregister_pending++;
        remoting_cmd_free(&req);
    }
    uv_close((uv_handle_t *)&r->period, handle_closed_cb);
    uv_close((uv_handle_t *)&r->kick, handle_closed_cb);
}
