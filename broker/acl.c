/* Access control on the broker: what each request needs (RocketMQ's
 * PlainAccessValidator mapping) and the reloading table. */
#include "broker/acl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "broker/broker.h"
#include "protocol/codes.h"
#include "protocol/heartbeat.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

#define RETRY_PREFIX "%RETRY%"

static void need_add(struct acl_need *need, const char *prefix, struct slice name, uint8_t perm)
{
    if (!name.p || name.len == 0 || need->n == ACL_MAX_RESOURCES)
        return;
    size_t pl = strlen(prefix);
    if (pl + name.len >= sizeof need->res[0].name)
        name.len = sizeof need->res[0].name - pl - 1; /* such a name fails any lookup anyway */
    char *dst = need->res[need->n].name;
    memcpy(dst, prefix, pl);
    memcpy(dst + pl, name.p, name.len);
    dst[pl + name.len] = '\0';
    need->res[need->n].perm = perm;
    need->n++;
}

/* The first present of two extFields names (long header name, V2 letter). */
static struct slice ext2(const struct remoting_cmd *req, const char *a, const char *b)
{
    struct slice v = remoting_ext_get(req, a);
    return v.p ? v : remoting_ext_get(req, b);
}

static bool is_retry(struct slice topic)
{
    return topic.len >= strlen(RETRY_PREFIX) && memcmp(topic.p, RETRY_PREFIX, strlen(RETRY_PREFIX)) == 0;
}

static int heartbeat_resources(const struct remoting_cmd *req, struct acl_need *need, char *errmsg)
{
    struct heartbeat hb;
    struct buf arena;
    buf_init(&arena);
    int rv = heartbeat_decode(req->body.p, req->body.len, &hb, &arena, errmsg);
    if (rv == 0) {
        for (size_t i = 0; i < hb.consumer_count; i++) {
            const struct heartbeat_consumer *c = &hb.consumers[i];
            need_add(need, RETRY_PREFIX, slice_of(c->group), ACL_PERM_SUB);
            for (size_t j = 0; j < c->sub_count; j++)
                if (!is_retry(slice_of(c->subs[j].topic)))
                    need_add(need, "", slice_of(c->subs[j].topic), ACL_PERM_SUB);
        }
    }
    buf_free(&arena);
    return rv;
}

int acl_request_resources(const struct remoting_cmd *req, struct acl_need *need, char *errmsg)
{
    need->admin = false;
    need->n = 0;
    struct slice topic = ext2(req, "topic", "b");
    struct slice group = remoting_ext_get(req, "consumerGroup");
    switch (req->code) {
    case CODES_REQ_SEND_MESSAGE:
    case CODES_REQ_SEND_MESSAGE_V2:
    case CODES_REQ_SEND_BATCH_MESSAGE:
        /* A send to a retry topic is a consumer's: it needs its group. */
        if (is_retry(topic))
            need_add(need, "", topic, ACL_PERM_SUB);
        else
            need_add(need, "", topic, ACL_PERM_PUB);
        break;
    case CODES_REQ_CONSUMER_SEND_MSG_BACK:
        need_add(need, RETRY_PREFIX, remoting_ext_get(req, "group"), ACL_PERM_SUB);
        break;
    case CODES_REQ_PULL_MESSAGE:
    case CODES_REQ_LITE_PULL_MESSAGE:
    case CODES_REQ_QUERY_CONSUMER_OFFSET:
    case CODES_REQ_UPDATE_CONSUMER_OFFSET:
        need_add(need, "", topic, ACL_PERM_SUB);
        need_add(need, RETRY_PREFIX, group, ACL_PERM_SUB);
        break;
    case CODES_REQ_QUERY_MESSAGE:
        need_add(need, "", topic, ACL_PERM_SUB);
        break;
    case CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET:
        /* Moves a group's offsets, like UPDATE_CONSUMER_OFFSET. */
        need_add(need, "", topic, ACL_PERM_SUB);
        need_add(need, RETRY_PREFIX, remoting_ext_get(req, "group"), ACL_PERM_SUB);
        break;
    case CODES_REQ_UNREGISTER_CLIENT:
    case CODES_REQ_GET_CONSUMER_LIST_BY_GROUP:
        need_add(need, RETRY_PREFIX, group, ACL_PERM_SUB);
        break;
    case CODES_REQ_HEART_BEAT:
        return heartbeat_resources(req, need, errmsg);
    case CODES_REQ_UPDATE_AND_CREATE_TOPIC:
        need->admin = true;
        break;
    default:
        /* Tern's own codes are broker-group operations (membership,
         * replication); only admins and the brokers themselves send them. */
        if (req->code >= CODES_TERN_FIRST && req->code <= CODES_TERN_LAST)
            need->admin = true;
        break;
    }
    return 0;
}

/* ---- the broker's reloading table ---- */

struct acl {
    struct broker *b;
    char path[1024];
    struct acl_table *table; /* NULL until a file parsed */
    uv_timer_t timer;
    struct timespec mtime;
    off_t size;
    void (*on_stopped)(struct broker *b);
};

static void acl_reload(struct acl *a, bool at_start)
{
    struct stat st;
    if (stat(a->path, &st) != 0) {
        if (at_start || a->table)
            LOGE("acl", "cannot stat %s: %s; %s", a->path, strerror(errno),
                 a->table ? "keeping the previous table" : "refusing every request");
        return;
    }
    if (!at_start && st.st_mtim.tv_sec == a->mtime.tv_sec && st.st_mtim.tv_nsec == a->mtime.tv_nsec &&
        st.st_size == a->size)
        return;
    a->mtime = st.st_mtim;
    a->size = st.st_size;
    char err[ERRMSG_SIZE] = "";
    struct acl_table *t;
    if (acl_table_load(a->path, &t, err) != 0) {
        LOGE("acl", "%s: %s; %s", a->path, err, a->table ? "keeping the previous table" : "refusing every request");
        return;
    }
    acl_table_free(a->table);
    a->table = t;
    LOGI("acl", "loaded %s: %zu accounts", a->path, acl_table_accounts(t));
}

static void timer_cb(uv_timer_t *t)
{
    acl_reload(t->data, false);
}

int acl_start(struct broker *b)
{
    if (!b->conf.acl_enable)
        return 0;
    struct acl *a = calloc(1, sizeof *a);
    if (!a)
        return TERN_E_NOMEM;
    a->b = b;
    if (b->conf.acl_file[0])
        snprintf(a->path, sizeof a->path, "%s", b->conf.acl_file);
    else
        snprintf(a->path, sizeof a->path, "%s/plain_acl.yml", b->conf.data_dir);
    acl_reload(a, true);
    uv_timer_init(b->loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, timer_cb, (uint64_t)b->conf.acl_reload_ms, (uint64_t)b->conf.acl_reload_ms);
    b->acl = a;
    if (b->conf.acl_access_key[0])
        return rpc_hub_set_credentials(&b->hub, b->conf.acl_access_key, b->conf.acl_secret_key);
    return 0;
}

static void timer_closed(uv_handle_t *h)
{
    struct acl *a = h->data;
    struct broker *b = a->b;
    void (*cb)(struct broker *) = a->on_stopped;
    acl_table_free(a->table);
    free(a);
    if (cb)
        cb(b);
}

void acl_stop(struct broker *b, void (*cb)(struct broker *b))
{
    struct acl *a = b->acl;
    if (!a)
        return;
    b->acl = NULL;
    a->on_stopped = cb;
    uv_close((uv_handle_t *)&a->timer, timer_closed);
}

int acl_check(struct broker *b, const char *peer, const struct remoting_cmd *req, char *errmsg)
{
    struct acl *a = b->acl;
    if (!a)
        return 0;
    if (!a->table) {
        errmsg_printf(errmsg, "ACL is on but %s did not load", a->path);
        return TERN_E_NO_PERMISSION;
    }
    /* peer is "ip:port" or "[ipv6]:port". */
    char ip[64];
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    if (n >= sizeof ip)
        n = sizeof ip - 1;
    memcpy(ip, peer, n);
    ip[n] = '\0';
    return acl_table_check(a->table, ip, req, errmsg);
}
