/* Topic route cache: GET_ROUTEINFO_BY_TOPIC against the name servers (each
 * tried in turn), publish and subscribe queue lists derived per §4.15, the
 * TBW102 fallback for topics a producer is about to auto-create, and the
 * periodic refresh.
 *
 * Failure modes: a name server that does not answer (connect refused,
 * timeout, closed) -> the next one is asked, each at most once per call; an
 * unknown topic -> TERN_E_TOPIC_NOT_EXIST, or for producers the TBW102 route;
 * a refresh that fails keeps the old route. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/libtern.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define ROUTES_TBW "TBW102"
/* Routes that came from TBW102 are re-asked often: the broker registers the
 * auto-created topic right after the first send. */
#define ROUTES_TBW_REFRESH_MS 1000

struct route_wait {
    routes_cb cb;
    void *arg;
    bool tbw;
    struct route_wait *next;
};

/* ---- name-server calls -------------------------------------------------- */

struct nscall {
    struct tern_client *c;
    struct remoting_cmd cmd;
    size_t tries;
    libtern_call_cb cb;
    void *arg;
};

static void nscall_free(struct nscall *n)
{
    remoting_cmd_free(&n->cmd);
    free(n);
}

static int nscall_send(struct nscall *n);

static void nscall_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct nscall *n = arg;
    struct tern_client *c = n->c;
    if (status != 0 && status != TERN_E_CANCELED && !c->closing && n->tries < c->nns) {
        c->ns_cur = (c->ns_cur + 1) % c->nns;
        if (nscall_send(n) == 0)
            return;
    }
    n->cb(status, errmsg, resp, n->arg);
    nscall_free(n);
}

static int nscall_send(struct nscall *n)
{
    struct tern_client *c = n->c;
    int rv = TERN_E_CONNECT;
    while (n->tries < c->nns) {
        n->tries++;
        const char *addr = c->ns[c->ns_cur];
        rv = peer_call(c, addr, &n->cmd, NULL, 0, c->timeout_ms, nscall_done, n);
        if (rv == 0)
            return 0;
        c->ns_cur = (c->ns_cur + 1) % c->nns;
    }
    return rv;
}

int routes_ns_call(struct tern_client *c, struct remoting_cmd *cmd, libtern_call_cb cb, void *arg)
{
    struct nscall *n = calloc(1, sizeof *n);
    if (!n) {
        errmsg_printf(c->errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    n->c = c;
    n->cb = cb;
    n->arg = arg;
    remoting_cmd_init(&n->cmd);
    remoting_cmd_init_request(&n->cmd, cmd->code);
    n->cmd.serialize = cmd->serialize;
    for (size_t i = 0; i < cmd->n_ext; i++) {
        if (remoting_ext_set(&n->cmd, cmd->ext[i].key, cmd->ext[i].val) != 0) {
            nscall_free(n);
            errmsg_printf(c->errmsg, "out of memory");
            return TERN_E_NOMEM;
        }
    }
    int rv = nscall_send(n);
    if (rv != 0) {
        nscall_free(n);
        return rv;
    }
    return 0;
}

/* ---- route table ---------------------------------------------------------- */

struct routes_topic *routes_find(struct tern_client *c, const char *topic)
{
    for (struct routes_topic *r = c->routes; r; r = r->next)
        if (strcmp(r->topic, topic) == 0)
            return r->have ? r : NULL;
    return NULL;
}

static struct routes_topic *route_get(struct tern_client *c, const char *topic)
{
    for (struct routes_topic *r = c->routes; r; r = r->next)
        if (strcmp(r->topic, topic) == 0)
            return r;
    struct routes_topic *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->topic, sizeof r->topic, "%s", topic);
    buf_init(&r->arena);
    r->next = c->routes;
    c->routes = r;
    return r;
}

static const struct route_broker *find_broker(const struct route_data *rd, const char *name)
{
    for (size_t i = 0; i < rd->broker_count; i++)
        if (rd->brokers[i].broker_name && strcmp(rd->brokers[i].broker_name, name) == 0)
            return &rd->brokers[i];
    return NULL;
}

const char *routes_member(const struct routes_topic *r, const char *broker, int64_t broker_id)
{
    const struct route_broker *b = find_broker(&r->rd, broker);
    if (!b)
        return NULL;
    for (size_t i = 0; i < b->addr_count; i++)
        if (b->addrs[i].broker_id == broker_id)
            return b->addrs[i].addr;
    return NULL;
}

const char *routes_master(const struct routes_topic *r, const char *broker)
{
    return routes_member(r, broker, 0);
}

const char *routes_any_addr(const struct routes_topic *r, const char *broker)
{
    const struct route_broker *b = find_broker(&r->rd, broker);
    if (!b || b->addr_count == 0)
        return NULL;
    const struct route_addr *best = &b->addrs[0];
    for (size_t i = 1; i < b->addr_count; i++)
        if (b->addrs[i].broker_id < best->broker_id)
            best = &b->addrs[i];
    return best->addr;
}

static int keyed_cmp(const void *a, const void *b)
{
    const struct routes_keyed *x = a, *y = b;
    int c = strcmp(x->broker, y->broker);
    return c ? c : (x->qid > y->qid) - (x->qid < y->qid);
}

static int mq_cmp(const void *a, const void *b)
{
    const struct routes_mq *x = a, *y = b;
    int d = strcmp(x->broker, y->broker);
    if (d)
        return d;
    return (x->qid > y->qid) - (x->qid < y->qid);
}

static int derive_keyed(struct routes_topic *r, int clamp);

/* Derive the queue lists (§4.15). clamp > 0 limits write queues (TBW102). */
static int derive(struct routes_topic *r, int clamp)
{
    size_t npub = 0, nsub = 0;
    const struct route_data *rd = &r->rd;
    for (size_t i = 0; i < rd->queue_count; i++) {
        const struct route_queue *q = &rd->queues[i];
        if (q->write_queue_nums > 0)
            npub += (size_t)q->write_queue_nums;
        if (q->read_queue_nums > 0)
            nsub += (size_t)q->read_queue_nums;
    }
    struct routes_mq *pub = calloc(npub ? npub : 1, sizeof *pub);
    struct routes_mq *sub = calloc(nsub ? nsub : 1, sizeof *sub);
    if (!pub || !sub) {
        free(pub);
        free(sub);
        return TERN_E_NOMEM;
    }
    npub = nsub = 0;
    for (size_t i = 0; i < rd->queue_count; i++) {
        const struct route_queue *q = &rd->queues[i];
        if (!q->broker_name)
            continue;
        if ((q->perm & ROUTE_PERM_WRITE) && routes_master(r, q->broker_name)) {
            int n = q->write_queue_nums;
            if (clamp > 0 && n > clamp)
                n = clamp;
            for (int k = 0; k < n; k++)
                pub[npub++] = (struct routes_mq){q->broker_name, k};
        }
        if ((q->perm & ROUTE_PERM_READ) && !r->via_tbw)
            for (int k = 0; k < q->read_queue_nums; k++)
                sub[nsub++] = (struct routes_mq){q->broker_name, k};
    }
    qsort(pub, npub, sizeof *pub, mq_cmp);
    qsort(sub, nsub, sizeof *sub, mq_cmp);
    free(r->pub);
    free(r->sub);
    r->pub = pub;
    r->npub = npub;
    r->sub = sub;
    r->nsub = nsub;
    return derive_keyed(r, clamp);
}

/* Update the sticky keyed list from the route just derived (pub built). */
static int derive_keyed(struct routes_topic *r, int clamp)
{
    const struct route_data *rd = &r->rd;
    int64_t now = clock_mono_ms();
    if (r->keyed_tbw != r->via_tbw) /* TBW102's queues are not the topic's */
        r->nkeyed = 0;
    r->keyed_tbw = r->via_tbw;
    for (size_t i = 0; i < rd->queue_count; i++) {
        const struct route_queue *q = &rd->queues[i];
        if (!q->broker_name || !(q->perm & ROUTE_PERM_WRITE) || strlen(q->broker_name) >= LIBTERN_NAME_MAX)
            continue;
        int n = q->write_queue_nums;
        if (clamp > 0 && n > clamp)
            n = clamp;
        for (int k = 0; k < n; k++) {
            size_t j = 0;
            while (j < r->nkeyed && !(r->keyed[j].qid == k && strcmp(r->keyed[j].broker, q->broker_name) == 0))
                j++;
            if (j == r->nkeyed) {
                if (r->nkeyed == r->capkeyed) {
                    size_t cap = r->capkeyed ? r->capkeyed * 2 : 16;
                    struct routes_keyed *nk = realloc(r->keyed, cap * sizeof *nk);
                    if (!nk)
                        return TERN_E_NOMEM;
                    r->keyed = nk;
                    r->capkeyed = cap;
                }
                snprintf(r->keyed[j].broker, sizeof r->keyed[j].broker, "%s", q->broker_name);
                r->keyed[j].qid = k;
                r->nkeyed++;
            }
            r->keyed[j].seen_mono = now;
        }
    }
    /* A queue not seen now stays only while its whole broker is missing from
     * the route (a group re-registering after a name server restart), for at
     * most the grace period; a broker listed with fewer queues shrank. */
    size_t w = 0;
    for (size_t i = 0; i < r->nkeyed; i++) {
        bool listed = false;
        for (size_t j = 0; j < rd->queue_count && !listed; j++)
            listed = rd->queues[j].broker_name && strcmp(rd->queues[j].broker_name, r->keyed[i].broker) == 0;
        bool keep = r->keyed[i].seen_mono == now || (!listed && now - r->keyed[i].seen_mono <= ROUTES_KEYED_GRACE_MS);
        if (keep)
            r->keyed[w++] = r->keyed[i];
    }
    r->nkeyed = w;
    qsort(r->keyed, r->nkeyed, sizeof *r->keyed, keyed_cmp);
    for (size_t i = 0; i < r->nkeyed; i++) {
        r->keyed[i].pub = -1;
        for (size_t j = 0; j < r->npub; j++)
            if (r->pub[j].qid == r->keyed[i].qid && strcmp(r->pub[j].broker, r->keyed[i].broker) == 0)
                r->keyed[i].pub = (long)j;
    }
    return 0;
}

const struct routes_mq *routes_keyed_pick(const struct routes_topic *r, int32_t hash)
{
    if (r->nkeyed == 0)
        return NULL;
    int64_t v = (int64_t)hash % (int64_t)r->nkeyed;
    long j = r->keyed[v < 0 ? -v : v].pub;
    return j >= 0 ? &r->pub[j] : NULL;
}

struct fetch {
    struct tern_client *c;
    struct routes_topic *r;
    bool tbw_stage; /* asking for TBW102 after TOPIC_NOT_EXIST */
    bool tbw_allowed;
};

static void finish(struct routes_topic *r, int err, const char *errmsg)
{
    r->fetching = false;
    struct route_wait *w = r->waiters;
    r->waiters = NULL;
    while (w) {
        struct route_wait *next = w->next;
        w->cb(err, errmsg, err == 0 ? r : NULL, w->arg);
        free(w);
        w = next;
    }
}

static int fetch_send(struct fetch *f, const char *topic);

static void fetch_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct fetch *f = arg;
    struct tern_client *c = f->c;
    struct routes_topic *r = f->r;
    char why[TERN_ERRMSG_SIZE];
    int err = status;
    if (status == 0 && resp->code == CODES_RESP_TOPIC_NOT_EXIST && !f->tbw_stage) {
        bool tbw_wanted = f->tbw_allowed;
        for (struct route_wait *w = r->waiters; w; w = w->next)
            tbw_wanted = tbw_wanted || w->tbw;
        if (tbw_wanted && !c->closing) {
            f->tbw_stage = true;
            if (fetch_send(f, ROUTES_TBW) == 0)
                return;
        }
        /* A topic that vanished from the name server loses its route. */
        r->have = false;
        snprintf(why, sizeof why, "route of %s: topic does not exist", r->topic);
        free(f);
        finish(r, TERN_E_TOPIC_NOT_EXIST, why);
        return;
    }
    if (status != 0) {
        snprintf(why, sizeof why, "route of %s: %s", r->topic, errmsg);
    } else if (resp->code != CODES_RESP_SUCCESS) {
        err = libtern_code_err(resp->code);
        snprintf(why, sizeof why, "route of %s: name server answered %d %.*s", r->topic, resp->code,
                 (int)resp->remark.len, resp->remark.p ? resp->remark.p : "");
    } else {
        struct buf arena;
        buf_init(&arena);
        struct route_data rd;
        char derr[ERRMSG_SIZE];
        err = route_decode(resp->body.p, resp->body.len, &rd, &arena, derr);
        if (err != 0) {
            buf_free(&arena);
            snprintf(why, sizeof why, "route of %s: %s", r->topic, derr);
        } else {
            buf_free(&r->arena);
            r->arena = arena;
            r->rd = rd;
            r->via_tbw = f->tbw_stage;
            err = derive(r, f->tbw_stage ? 4 : 0);
            if (err == 0) {
                r->have = true;
                r->version++;
                r->fetched_mono = clock_mono_ms();
                why[0] = 0;
            } else {
                r->have = false;
                snprintf(why, sizeof why, "route of %s: out of memory", r->topic);
            }
        }
    }
    free(f);
    finish(r, err, why);
}

static int fetch_send(struct fetch *f, const char *topic)
{
    struct tern_client *c = f->c;
    struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_GET_ROUTEINFO_BY_TOPIC);
    struct headers_admin_route_req h = {
        .topic = slice_of(topic),
        .has_accept_standard_json_only = true,
        .accept_standard_json_only = true,
    };
    int rv = headers_admin_route_req_encode(&h, cmd);
    if (rv == 0)
        rv = routes_ns_call(c, cmd, fetch_done, f);
    return rv;
}

int routes_fetch(struct tern_client *c, const char *topic, bool tbw, routes_cb cb, void *arg)
{
    if (c->closing) {
        errmsg_printf(c->errmsg, "client closed");
        return TERN_E_CLOSED;
    }
    struct routes_topic *r = route_get(c, topic);
    struct route_wait *w = calloc(1, sizeof *w);
    if (!r || !w) {
        free(w);
        errmsg_printf(c->errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    w->cb = cb;
    w->arg = arg;
    w->tbw = tbw;
    r->used_mono = clock_mono_ms();
    if (!r->fetching) {
        struct fetch *f = calloc(1, sizeof *f);
        if (!f) {
            free(w);
            errmsg_printf(c->errmsg, "out of memory");
            return TERN_E_NOMEM;
        }
        f->c = c;
        f->r = r;
        f->tbw_allowed = tbw;
        int rv = fetch_send(f, topic);
        if (rv != 0) {
            free(f);
            free(w);
            return rv;
        }
        r->fetching = true;
    }
    /* Waiters are answered in arrival order, so sends queued behind the
     * first lookup keep their order. */
    w->next = NULL;
    struct route_wait **tail = &r->waiters;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    return 0;
}

static void refresh_done(int err, const char *errmsg, struct routes_topic *r, void *arg)
{
    if (err != 0 && err != TERN_E_CANCELED)
        LOGD("client", "route refresh: %s", errmsg);
}

void routes_tick(struct tern_client *c)
{
    int64_t now = clock_mono_ms();
    for (struct routes_topic *r = c->routes; r; r = r->next) {
        if (r->fetching || !r->have)
            continue;
        int64_t every = r->via_tbw ? ROUTES_TBW_REFRESH_MS : c->route_refresh_ms;
        if (now - r->fetched_mono >= every)
            routes_fetch(c, r->topic, r->via_tbw, refresh_done, NULL);
    }
}

void routes_free_all(struct tern_client *c)
{
    struct routes_topic *r = c->routes;
    c->routes = NULL;
    while (r) {
        struct routes_topic *next = r->next;
        finish(r, TERN_E_CANCELED, "client closing");
        buf_free(&r->arena);
        free(r->pub);
        free(r->sub);
        free(r->keyed);
        free(r);
        r = next;
    }
}
