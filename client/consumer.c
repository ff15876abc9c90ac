/* struct tern_consumer: the push consumer's lifecycle, heartbeat
 * subscription, rebalance (AllocateMessageQueueAveragely over sorted queues
 * and sorted consumer ids, every rebalance_ms and on
 * NOTIFY_CONSUMER_IDS_CHANGED), local offsets for broadcasting, and close.
 *
 * Happy path of a rebalance: cached or fetched route -> heartbeat to its
 * brokers if the route changed -> GET_CONSUMER_LIST_BY_GROUP on one master
 * -> allocate -> queues no longer ours are committed and dropped, new ones
 * start at their committed offset (cqueue.c). A clustering, not orderly,
 * consumer also subscribes to %RETRY%<group> ("*") and allocates its queues
 * with the same member list, after the topic's own (retryback.c).
 * Failure modes: no route or no consumer list (the broker has not seen our
 * heartbeat yet, SYSTEM_ERROR) -> try again in a second, keeping the current
 * queues; a notify during a round -> one more round right after it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/consumer.h"
#include "protocol/allocate.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/heartbeat.h"
#include "protocol/lockbody.h"
#include "protocol/resetbody.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define CONSUMER_RETRY_MS 1000

static char *tag_copies(struct tern_consumer *cons);

void tern_consumer_opts_init(struct tern_consumer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->expression = "*";
    o->batch_max = 1;
    o->pull_batch = 32;
    o->suspend_ms = 15000;
    o->rebalance_ms = 20000;
    o->commit_ms = 5000;
    o->retry_delay_ms = 1000;
    o->max_reconsume_times = 16;
}

/* ---- tickets ---------------------------------------------------------------- */

struct ticket *consumer_ticket(struct tern_consumer *cons, struct cqueue *q)
{
    struct ticket *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->cons = cons;
    t->q = q;
    t->c = cons->c;
    t->next = cons->tickets;
    if (cons->tickets)
        cons->tickets->prev = t;
    cons->tickets = t;
    return t;
}

bool consumer_ticket_take(struct ticket *t)
{
    struct tern_consumer *cons = t->cons;
    if (!cons) {
        free(t);
        return false;
    }
    if (t->prev)
        t->prev->next = t->next;
    else
        cons->tickets = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    return true;
}

void consumer_detach_queue(struct tern_consumer *cons, struct cqueue *q)
{
    for (struct ticket *t = cons->tickets; t; t = t->next)
        if (t->q == q)
            t->q = NULL;
}

static void detach_all(struct tern_consumer *cons)
{
    struct ticket *t = cons->tickets;
    cons->tickets = NULL;
    while (t) {
        struct ticket *next = t->next;
        t->cons = NULL;
        t->q = NULL;
        t->prev = t->next = NULL;
        t = next;
    }
}

/* ---- broadcasting offsets file ------------------------------------------------ */

int64_t consumer_boffset_get(struct tern_consumer *cons, const char *broker, int qid)
{
    for (size_t i = 0; i < cons->nboffs; i++)
        if (cons->boffs[i].qid == qid && strcmp(cons->boffs[i].broker, broker) == 0)
            return cons->boffs[i].offset;
    return -1;
}

void consumer_boffset_set(struct tern_consumer *cons, const char *broker, int qid, int64_t off)
{
    for (size_t i = 0; i < cons->nboffs; i++) {
        if (cons->boffs[i].qid == qid && strcmp(cons->boffs[i].broker, broker) == 0) {
            if (cons->boffs[i].offset != off)
                cons->boffs_dirty = true;
            cons->boffs[i].offset = off;
            return;
        }
    }
    struct boffset *b = realloc(cons->boffs, (cons->nboffs + 1) * sizeof *b);
    if (!b)
        return;
    cons->boffs = b;
    struct boffset *e = &b[cons->nboffs++];
    snprintf(e->broker, sizeof e->broker, "%s", broker);
    e->qid = qid;
    e->offset = off;
    cons->boffs_dirty = true;
}

/* File format: one "topic broker queueId offset" line per queue. */
static void boffsets_load(struct tern_consumer *cons)
{
    FILE *f = fopen(cons->offset_path, "r");
    if (!f)
        return;
    char topic[300], broker[LIBTERN_NAME_MAX];
    int qid;
    long long off;
    while (fscanf(f, "%299s %127s %d %lld", topic, broker, &qid, &off) == 4)
        if (strcmp(topic, cons->topic) == 0)
            consumer_boffset_set(cons, broker, qid, off);
    fclose(f);
    cons->boffs_dirty = false;
}

static void boffsets_save(struct tern_consumer *cons)
{
    if (!cons->boffs_dirty)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", cons->offset_path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        LOGW("client", "offsets file %s: cannot write", tmp);
        return;
    }
    for (size_t i = 0; i < cons->nboffs; i++)
        fprintf(f, "%s %s %d %lld\n", cons->topic, cons->boffs[i].broker, cons->boffs[i].qid,
                (long long)cons->boffs[i].offset);
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, cons->offset_path) == 0)
        cons->boffs_dirty = false;
    else
        LOGW("client", "offsets file %s: write failed", cons->offset_path);
}

/* ---- creation ------------------------------------------------------------------ */

static void consumer_destroy(struct tern_consumer *cons)
{
    detach_all(cons);
    while (cons->queues) {
        struct cqueue *q = cons->queues;
        cons->queues = q->next;
        cqueue_free(q);
    }
    free(cons->expr);
    free((void *)cons->tagv[0]);
    free(cons->offset_path);
    free(cons->boffs);
    free(cons);
}

static char *tag_copies(struct tern_consumer *cons)
{
    size_t total = 0;
    for (size_t i = 0; i < cons->tags.count; i++)
        total += cons->tags.tags[i].len + 1;
    char *block = malloc(total ? total : 1);
    if (!block)
        return NULL;
    char *p = block;
    for (size_t i = 0; i < cons->tags.count; i++) {
        memcpy(p, cons->tags.tags[i].p, cons->tags.tags[i].len);
        p[cons->tags.tags[i].len] = 0;
        cons->tagv[i] = p;
        cons->codes[i] = cons->tags.codes[i];
        p += cons->tags.tags[i].len + 1;
    }
    if (cons->tags.count == 0)
        cons->tagv[0] = block;
    return block;
}

int tern_consumer_new(struct tern_client *c, const struct tern_consumer_opts *o,
                      struct tern_consumer **out)
{
    if (!c || !o || !out || !o->group || !*o->group || !o->topic || !o->cb ||
        strlen(o->group) >= LIBTERN_NAME_MAX) {
        if (c)
            errmsg_printf(c->errmsg, "consumer needs a group, a topic and a callback");
        return TERN_E_INVAL;
    }
    char e[ERRMSG_SIZE];
    if (limits_check_topic(&limits_default, o->topic, strlen(o->topic), e) != 0) {
        errmsg_printf(c->errmsg, "%s", e);
        return TERN_E_INVAL;
    }
    if (c->closing)
        return TERN_E_CLOSED;
    for (struct tern_consumer *x = c->consumers; x; x = x->next) {
        if (strcmp(x->group, o->group) == 0 && !x->closing) {
            errmsg_printf(c->errmsg, "group %s is already consumed on this client", o->group);
            return TERN_E_EXISTS;
        }
    }
    struct tern_consumer *cons = calloc(1, sizeof *cons);
    if (!cons)
        return TERN_E_NOMEM;
    cons->c = c;
    snprintf(cons->group, sizeof cons->group, "%s", o->group);
    snprintf(cons->topic, sizeof cons->topic, "%s", o->topic);
    cons->expr = strdup(o->expression && *o->expression ? o->expression : "*");
    if (!cons->expr) {
        free(cons);
        return TERN_E_NOMEM;
    }
    if (tags_parse(cons->expr, strlen(cons->expr), &cons->tags, e) != 0) {
        errmsg_printf(c->errmsg, "expression: %s", e);
        free(cons->expr);
        free(cons);
        return TERN_E_INVAL;
    }
    if (!tag_copies(cons)) {
        free(cons->expr);
        free(cons);
        return TERN_E_NOMEM;
    }
    cons->from = o->from;
    cons->from_ts = o->from_timestamp_ms;
    cons->model = o->model;
    cons->batch_max = o->batch_max ? o->batch_max : 1;
    cons->pull_batch = o->pull_batch > 0 ? o->pull_batch : 32;
    cons->suspend_ms = o->suspend_ms > 0 ? o->suspend_ms : 15000;
    cons->rebalance_ms = o->rebalance_ms > 0 ? o->rebalance_ms : 20000;
    cons->commit_ms = o->commit_ms > 0 ? o->commit_ms : 5000;
    cons->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 1000;
    cons->cb = o->cb;
    cons->arg = o->arg;
    cons->sub_version = clock_now_ms();
    cons->orderly = o->orderly && o->model == TERN_CLUSTERING;
    cons->max_reconsume = o->max_reconsume_times;
    /* RocketMQ's clustering push consumer subscribes to its group's retry
     * topic; orderly consumers retry in place, broadcasting ones locally. */
    cons->use_retry = cons->model == TERN_CLUSTERING && !cons->orderly;
    snprintf(cons->retry_topic, sizeof cons->retry_topic, "%%RETRY%%%s", cons->group);
    if (cons->model == TERN_BROADCASTING) {
        char def[LIBTERN_NAME_MAX + 40];
        snprintf(def, sizeof def, "./tern-offsets-%s.txt", cons->group);
        cons->offset_path = strdup(o->offset_path && *o->offset_path ? o->offset_path : def);
        if (!cons->offset_path) {
            consumer_destroy(cons);
            return TERN_E_NOMEM;
        }
        boffsets_load(cons);
    }
    int64_t now = clock_mono_ms();
    cons->next_rebalance = now; /* first round on the next tick */
    cons->next_commit = now + cons->commit_ms;
    cons->next = c->consumers;
    c->consumers = cons;
    *out = cons;
    return 0;
}

/* ---- heartbeat data ------------------------------------------------------------ */

size_t consumer_heartbeat(struct tern_client *c, struct heartbeat_consumer *out,
                          struct heartbeat_sub *subs, size_t cap)
{
    size_t n = 0;
    for (struct tern_consumer *cons = c->consumers; cons && n < cap; cons = cons->next) {
        if (cons->closing)
            continue;
        struct heartbeat_sub *s = &subs[2 * n]; /* two per consumer: topic, retry topic */
        memset(s, 0, sizeof *s);
        s->topic = cons->topic;
        s->sub_string = cons->tags.all ? "*" : cons->expr;
        s->expression_type = "TAG";
        s->sub_version = cons->sub_version;
        s->tags = cons->tags.all ? NULL : cons->tagv;
        s->tag_count = cons->tags.all ? 0 : cons->tags.count;
        s->codes = cons->tags.all ? NULL : cons->codes;
        s->code_count = s->tag_count;
        struct heartbeat_consumer *hc = &out[n];
        memset(hc, 0, sizeof *hc);
        hc->group = cons->group;
        hc->consume_type = HEARTBEAT_CONSUME_PASSIVELY;
        hc->message_model =
            cons->model == TERN_BROADCASTING ? HEARTBEAT_BROADCASTING : HEARTBEAT_CLUSTERING;
        hc->from_where = cons->from == TERN_FROM_FIRST   ? HEARTBEAT_FROM_FIRST_OFFSET
                         : cons->from == TERN_FROM_TIMESTAMP ? HEARTBEAT_FROM_TIMESTAMP
                                                             : HEARTBEAT_FROM_LAST_OFFSET;
        hc->subs = s;
        hc->sub_count = 1;
        if (cons->use_retry) {
            struct heartbeat_sub *rs = &subs[2 * n + 1];
            memset(rs, 0, sizeof *rs);
            rs->topic = cons->retry_topic;
            rs->sub_string = "*";
            rs->expression_type = "TAG";
            rs->sub_version = cons->sub_version;
            hc->sub_count = 2;
        }
        n++;
    }
    return n;
}

static void heartbeat_route(struct tern_consumer *cons, struct routes_topic *r)
{
    const char *done[64];
    size_t nd = 0;
    for (size_t i = 0; i < r->rd.broker_count; i++) {
        const struct route_broker *b = &r->rd.brokers[i];
        for (size_t k = 0; k < b->addr_count; k++) {
            bool dup = false;
            for (size_t j = 0; j < nd; j++)
                dup = dup || strcmp(done[j], b->addrs[k].addr) == 0;
            if (dup || nd == 64)
                continue;
            done[nd++] = b->addrs[k].addr;
            libtern_heartbeat(cons->c, b->addrs[k].addr);
        }
    }
}

/* ---- rebalance ------------------------------------------------------------------- */

static void rebalance_end(struct tern_consumer *cons, bool ok)
{
    cons->rebalancing = false;
    int64_t now = clock_mono_ms();
    if (!ok && cons->next_rebalance > now + CONSUMER_RETRY_MS)
        cons->next_rebalance = now + CONSUMER_RETRY_MS;
    if (cons->rebalance_again) {
        cons->rebalance_again = false;
        cons->next_rebalance = now;
    }
}

/* Make the owned set equal to mqs[0..n) (sorted, same topic). */
static void apply(struct tern_consumer *cons, const struct lockbody_mq *mqs, size_t n)
{
    struct cqueue **pp = &cons->queues;
    struct cqueue *keep = NULL, **kt = &keep;
    /* Drop what is no longer ours; keep the rest in order. */
    while (*pp) {
        struct cqueue *q = *pp;
        bool mine = false;
        for (size_t i = 0; i < n && !mine; i++)
            mine = mqs[i].queue_id == q->qid && strcmp(mqs[i].broker_name, q->broker) == 0 &&
                   strcmp(mqs[i].topic, q->topic) == 0;
        *pp = q->next;
        if (mine) {
            q->next = NULL;
            *kt = q;
            kt = &q->next;
        } else {
            LOGI("client", "consumer %s: queue %s%s/%d released", cons->group, q->retry ? "%RETRY% " : "", q->broker,
                 q->qid);
            cqueue_drop(q);
        }
    }
    /* Merge in the new ones, keeping the list sorted. */
    struct cqueue *list = NULL, **lt = &list;
    struct cqueue *k = keep;
    for (size_t i = 0; i < n; i++) {
        if (k && k->qid == mqs[i].queue_id && strcmp(k->broker, mqs[i].broker_name) == 0 &&
            strcmp(k->topic, mqs[i].topic) == 0) {
            struct cqueue *next = k->next;
            k->next = NULL;
            *lt = k;
            lt = &k->next;
            k = next;
            continue;
        }
        struct cqueue *q = cqueue_new(cons, mqs[i].topic, mqs[i].broker_name, mqs[i].queue_id);
        if (!q)
            continue; /* next round retries */
        LOGI("client", "consumer %s: queue %s%s/%d acquired", cons->group, q->retry ? "%RETRY% " : "", q->broker,
             q->qid);
        *lt = q;
        lt = &q->next;
    }
    /* Anything left in keep was not in mqs (cannot happen); drop it. */
    while (k) {
        struct cqueue *next = k->next;
        cqueue_drop(k);
        k = next;
    }
    cons->queues = list;
    cons->rebalances++;
    if (cons->orderly)
        cons->next_lock = clock_mono_ms(); /* lock new queues at once */
}

/* The group's retry topic, once some broker created it (on the first
 * send-back) and the name server knows it. */
static struct routes_topic *retry_route(struct tern_consumer *cons)
{
    if (!cons->use_retry)
        return NULL;
    struct routes_topic *r = routes_find(cons->c, cons->retry_topic);
    return r && !r->via_tbw && r->nsub > 0 ? r : NULL;
}

/* Allocate the retry topic's queues like the topic's own (same member
 * list), after them in mqs[n..]; returns how many are ours. */
static size_t allocate_retry(struct tern_consumer *cons, struct routes_topic *rr, const char **ids, size_t nids,
                             long self, struct lockbody_mq *out)
{
    size_t n = rr->nsub;
    for (size_t i = 0; i < n; i++)
        out[i] = (struct lockbody_mq){cons->retry_topic, rr->sub[i].broker, rr->sub[i].qid};
    allocate_sort_mqs(out, n);
    cons->retry_nsub_seen = n;
    size_t start = 0, count = 0;
    if (!allocate_averagely(n, nids, (size_t)self, &start, &count))
        return 0;
    memmove(out, out + start, count * sizeof *out);
    return count;
}

static void allocate_and_apply(struct tern_consumer *cons, struct routes_topic *r, const char **ids,
                               size_t nids)
{
    size_t n = r->nsub;
    struct routes_topic *rr = retry_route(cons);
    size_t nr = rr ? rr->nsub : 0;
    struct lockbody_mq *mqs = calloc(n + nr ? n + nr : 1, sizeof *mqs);
    if (!mqs) {
        rebalance_end(cons, false);
        return;
    }
    for (size_t i = 0; i < n; i++)
        mqs[i] = (struct lockbody_mq){cons->topic, r->sub[i].broker, r->sub[i].qid};
    allocate_sort_mqs(mqs, n);
    size_t start = 0, count = n;
    if (cons->model == TERN_CLUSTERING) {
        allocate_sort_ids(ids, nids);
        long self = allocate_find(ids, nids, cons->c->id);
        if (self < 0) {
            /* The broker does not know us (yet, or any more: restarted).
             * Keep what we have, introduce ourselves, ask again soon. */
            free(mqs);
            heartbeat_route(cons, r);
            rebalance_end(cons, false);
            return;
        }
        if (!allocate_averagely(n, nids, (size_t)self, &start, &count))
            count = 0;
        memmove(mqs, mqs + start, count * sizeof *mqs);
        start = 0;
        if (rr)
            count += allocate_retry(cons, rr, ids, nids, self, mqs + count);
    }
    apply(cons, mqs + start, count);
    free(mqs);
    rebalance_end(cons, true);
}

static void ids_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct tern_consumer *cons = t->cons;
    free(t);
    if (cons->closing) {
        cons->rebalancing = false;
        return;
    }
    struct routes_topic *r = routes_find(cons->c, cons->topic);
    if (status != 0 || resp->code != CODES_RESP_SUCCESS || !r || r->via_tbw) {
        LOGD("client", "consumer %s: consumer list: %s", cons->group,
             status ? errmsg : "not available yet");
        /* "no consumer for this group": the broker lost our heartbeat. */
        if (status == 0 && r && !r->via_tbw)
            heartbeat_route(cons, r);
        rebalance_end(cons, false);
        return;
    }
    struct buf arena;
    buf_init(&arena);
    const char **ids;
    size_t nids;
    char e[ERRMSG_SIZE];
    if (lockbody_ids_decode(resp->body.p, resp->body.len, &ids, &nids, &arena, e) != 0) {
        LOGW("client", "consumer %s: consumer list: %s", cons->group, e);
        buf_free(&arena);
        rebalance_end(cons, false);
        return;
    }
    allocate_and_apply(cons, r, ids, nids);
    buf_free(&arena);
}

static void route_done(int err, const char *errmsg, struct routes_topic *r, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct tern_consumer *cons = t->cons;
    free(t);
    if (cons->closing) {
        cons->rebalancing = false;
        return;
    }
    if (err != 0 || r->via_tbw || r->nsub == 0) {
        LOGD("client", "consumer %s: route of %s: %s", cons->group, cons->topic,
             err ? errmsg : "no readable queues");
        rebalance_end(cons, false);
        return;
    }
    if (cons->hb_route_version != r->version) {
        cons->hb_route_version = r->version;
        heartbeat_route(cons, r);
    }
    if (cons->model == TERN_BROADCASTING) {
        allocate_and_apply(cons, r, NULL, 0);
        return;
    }
    /* Ask one master (the first in name order) for the group's members. */
    const char *addr = NULL;
    for (size_t i = 0; i < r->nsub && !addr; i++)
        addr = routes_master(r, r->sub[i].broker);
    for (size_t i = 0; i < r->nsub && !addr; i++)
        addr = routes_any_addr(r, r->sub[i].broker);
    struct ticket *t2 = addr ? consumer_ticket(cons, NULL) : NULL;
    if (!t2) {
        rebalance_end(cons, false);
        return;
    }
    struct remoting_cmd *cmd = libtern_cmd(cons->c, CODES_REQ_GET_CONSUMER_LIST_BY_GROUP);
    struct headers_client_group_req h = {.consumer_group = slice_of(cons->group)};
    if (headers_client_group_req_encode(&h, cmd) != 0 ||
        peer_call(cons->c, addr, cmd, NULL, 0, cons->c->timeout_ms, ids_done, t2) != 0) {
        consumer_ticket_take(t2);
        free(t2);
        rebalance_end(cons, false);
    }
}

static void retry_route_done(int err, const char *errmsg, struct routes_topic *r, void *arg)
{
    struct ticket *t = arg;
    if (!consumer_ticket_take(t))
        return;
    struct tern_consumer *cons = t->cons;
    free(t);
    cons->retry_fetching = false;
    if (cons->closing || err != 0 || r->via_tbw || r->nsub == cons->retry_nsub_seen)
        return;
    /* The retry topic appeared (or changed): allocate its queues now. */
    LOGD("client", "consumer %s: %s has %zu readable queues, rebalancing", cons->group, cons->retry_topic, r->nsub);
    cons->next_rebalance = clock_mono_ms();
    if (cons->rebalancing)
        cons->rebalance_again = true;
}

/* Refresh the retry topic's route unless fresh. The broker creates it on
 * our heartbeat (or at the first send-back), and the name server learns it
 * a moment later, so a failure here is expected and quiet. */
static void retry_route_refresh(struct tern_consumer *cons)
{
    if (!cons->use_retry || cons->retry_fetching)
        return;
    struct routes_topic *r = routes_find(cons->c, cons->retry_topic);
    if (r && (r->fetching || clock_mono_ms() - r->fetched_mono < 2000))
        return;
    struct ticket *t = consumer_ticket(cons, NULL);
    if (!t)
        return;
    cons->retry_fetching = true;
    if (routes_fetch(cons->c, cons->retry_topic, false, retry_route_done, t) != 0) {
        cons->retry_fetching = false;
        consumer_ticket_take(t);
        free(t);
    }
}

void consumer_retry_topic_used(struct tern_consumer *cons)
{
    /* A send-back succeeded, so the retry topic exists (or will as soon as
     * the broker registers it with the name server): probe its route every
     * second until a rebalance saw its queues. */
    if (cons->retry_nsub_seen == 0 && !cons->retry_wanted) {
        cons->retry_wanted = true;
        cons->next_retry_probe = clock_mono_ms();
    }
}

static void rebalance_start(struct tern_consumer *cons)
{
    retry_route_refresh(cons);
    if (cons->rebalancing) {
        cons->rebalance_again = true;
        return;
    }
    struct tern_client *c = cons->c;
    struct routes_topic *r = routes_find(c, cons->topic);
    struct ticket *t = consumer_ticket(cons, NULL);
    if (!t)
        return;
    cons->rebalancing = true;
    if (r && !r->via_tbw && !r->fetching && clock_mono_ms() - r->fetched_mono < 2000) {
        /* Fresh enough: no need to ask the name server again. Deliver from
         * the tick, not from inside our caller. */
        route_done(0, "", r, t);
        return;
    }
    if (routes_fetch(c, cons->topic, false, route_done, t) != 0) {
        consumer_ticket_take(t);
        free(t);
        rebalance_end(cons, false);
    }
}

void consumer_notify(struct tern_client *c, const char *group)
{
    for (struct tern_consumer *cons = c->consumers; cons; cons = cons->next) {
        if (strcmp(cons->group, group) != 0 || cons->closing)
            continue;
        LOGD("client", "consumer %s: members changed, rebalancing", group);
        cons->next_rebalance = clock_mono_ms();
        if (cons->rebalancing)
            cons->rebalance_again = true;
    }
}

/* ---- RESET_CONSUMER_CLIENT_OFFSET ------------------------------------------------ */

/* Move one queue of the consumer to off: buffered messages are dropped and
 * an in-flight pull is forgotten (its answer would carry the old place). */
static void reset_queue(struct tern_consumer *cons, struct cqueue *q, int64_t off)
{
    consumer_detach_queue(cons, q);
    q->busy = false;
    if (q->pending) {
        rmsg_batch_free(q->pending);
        free(q->pending);
        q->pending = NULL;
    }
    q->next_pull = off;
    q->consumed = off;
    q->committed = off; /* the broker committed it before telling us */
    q->state = CQ_READY;
    q->due = clock_mono_ms();
}

void consumer_reset_offsets(struct tern_client *c, struct remoting_cmd *req)
{
    struct slice g = remoting_ext_get(req, "group");
    char group[LIBTERN_NAME_MAX];
    if (!g.p || g.len >= sizeof group)
        return;
    memcpy(group, g.p, g.len);
    group[g.len] = '\0';
    /* Body: {"offsetTable":{{"brokerName":B,"queueId":Q,"topic":T}:OFF,...}}. */
    struct resetbody_entry e;
    size_t pos = 0;
    int moved = 0, rv;
    while ((rv = resetbody_next(req->body.p, req->body.len, &pos, &e)) == 1) {
        if (e.offset < 0)
            continue;
        for (struct tern_consumer *cons = c->consumers; cons; cons = cons->next) {
            if (cons->closing || strcmp(cons->group, group) != 0)
                continue;
            for (struct cqueue *q = cons->queues; q; q = q->next)
                if (q->qid == e.queue_id && strlen(q->topic) == e.topic.len &&
                    memcmp(q->topic, e.topic.p, e.topic.len) == 0 && strlen(q->broker) == e.broker.len &&
                    memcmp(q->broker, e.broker.p, e.broker.len) == 0) {
                    if (cons->model == TERN_BROADCASTING)
                        consumer_boffset_set(cons, q->broker, q->qid, e.offset);
                    reset_queue(cons, q, e.offset);
                    moved++;
                }
        }
    }
    if (rv < 0)
        LOGW("client", "consumer group %s: reset offset body is malformed; applied %d queues before it", group,
             moved);
    LOGI("client", "consumer group %s: offsets reset by the broker (%d queues moved)", group, moved);
}

void consumer_tick(struct tern_client *c, int64_t now)
{
    struct tern_consumer *next;
    for (struct tern_consumer *cons = c->consumers; cons; cons = next) {
        next = cons->next;
        if (cons->closing) {
            consumer_maybe_finish(cons);
            continue;
        }
        if (now >= cons->next_rebalance) {
            cons->next_rebalance = now + cons->rebalance_ms;
            rebalance_start(cons);
        }
        if (cons->retry_wanted && cons->retry_nsub_seen > 0)
            cons->retry_wanted = false;
        if (cons->retry_wanted && now >= cons->next_retry_probe) {
            cons->next_retry_probe = now + CONSUMER_RETRY_MS;
            retry_route_refresh(cons);
        }
        orderly_tick(cons, now);
        for (struct cqueue *q = cons->queues; q && !cons->closing;) {
            struct cqueue *qn = q->next;
            cqueue_tick(q, now);
            q = qn;
        }
        if (!cons->closing && now >= cons->next_commit) {
            cons->next_commit = now + cons->commit_ms;
            for (struct cqueue *q = cons->queues; q; q = q->next)
                cqueue_commit(q, false);
            if (cons->model == TERN_BROADCASTING)
                boffsets_save(cons);
        }
    }
}

/* ---- queries ------------------------------------------------------------------- */

size_t tern_consumer_owned(const struct tern_consumer *cons, struct tern_queue *out, size_t cap)
{
    size_t n = 0;
    for (const struct cqueue *q = cons->queues; q; q = q->next) {
        if (q->retry)
            continue;
        if (n < cap)
            out[n] = (struct tern_queue){q->topic, q->broker, q->qid};
        n++;
    }
    return n;
}

uint64_t tern_consumer_rebalances(const struct tern_consumer *cons)
{
    return cons->rebalances;
}

int64_t tern_consumer_offset(const struct tern_consumer *cons, const char *broker_name, int queue_id)
{
    for (const struct cqueue *q = cons->queues; q; q = q->next)
        if (q->qid == queue_id && !q->retry && strcmp(q->broker, broker_name) == 0)
            return q->consumed;
    return -1;
}

/* ---- close ---------------------------------------------------------------------- */

static void unlink_consumer(struct tern_consumer *cons)
{
    struct tern_consumer **pp = &cons->c->consumers;
    while (*pp && *pp != cons)
        pp = &(*pp)->next;
    if (*pp)
        *pp = cons->next;
}

void consumer_maybe_finish(struct tern_consumer *cons)
{
    if (!cons->closing || !cons->close_started || cons->close_ops > 0 || cons->in_deliver > 0 ||
        cons->client_closing)
        return;
    tern_close_cb cb = cons->close_cb;
    void *arg = cons->close_arg;
    unlink_consumer(cons);
    consumer_destroy(cons);
    if (cb)
        cb(arg);
}

void consumer_close_op_done(struct ticket *t)
{
    struct tern_client *c = t->c;
    bool client_op = t->client_close_op;
    if (consumer_ticket_take(t)) {
        struct tern_consumer *cons = t->cons;
        cons->close_ops--;
        free(t);
        consumer_maybe_finish(cons);
    }
    if (client_op)
        libtern_close_op_done(c);
}

static void close_op_cb(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    if (status != 0 && status != TERN_E_CANCELED)
        LOGD("client", "consumer close: %s", errmsg);
    consumer_close_op_done(arg);
}

static void unregister(struct tern_consumer *cons)
{
    struct tern_client *c = cons->c;
    struct routes_topic *r = routes_find(c, cons->topic);
    if (!r)
        return;
    const char *done[64];
    size_t nd = 0;
    for (size_t i = 0; i < r->rd.broker_count; i++) {
        const struct route_broker *b = &r->rd.brokers[i];
        for (size_t k = 0; k < b->addr_count; k++) {
            const char *a = b->addrs[k].addr;
            bool dup = false;
            for (size_t j = 0; j < nd; j++)
                dup = dup || strcmp(done[j], a) == 0;
            if (dup || nd == 64)
                continue;
            done[nd++] = a;
            struct ticket *t = consumer_ticket(cons, NULL);
            if (!t)
                continue;
            t->client_close_op = cons->client_closing;
            struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_UNREGISTER_CLIENT);
            struct headers_client_unregister_req h = {
                .client_id = slice_of(c->id),
                .consumer_group = slice_of(cons->group),
            };
            if (headers_client_unregister_req_encode(&h, cmd) != 0 ||
                peer_call(c, a, cmd, NULL, 0, c->timeout_ms, close_op_cb, t) != 0) {
                consumer_ticket_take(t);
                free(t);
                continue;
            }
            cons->close_ops++;
            if (t->client_close_op)
                c->close_ops++;
        }
    }
}

static void close_begin(struct tern_consumer *cons)
{
    cons->closing = true;
    /* Offsets first: same connections, so they land before the unregister. */
    for (struct cqueue *q = cons->queues; q; q = q->next)
        cqueue_commit(q, true);
    for (struct cqueue *q = cons->queues; q; q = q->next)
        orderly_unlock(q);
    if (cons->model == TERN_BROADCASTING)
        boffsets_save(cons);
    unregister(cons);
    cons->close_started = true;
}

void tern_consumer_close(struct tern_consumer *cons, tern_close_cb cb, void *arg)
{
    if (cons->closing)
        return;
    cons->close_cb = cb;
    cons->close_arg = arg;
    close_begin(cons);
    /* Finishes from the tick once the commits and unregisters are answered,
     * never inside this call. */
}

void consumer_close_all(struct tern_client *c)
{
    for (struct tern_consumer *cons = c->consumers; cons; cons = cons->next) {
        cons->client_closing = true;
        if (!cons->closing)
            close_begin(cons);
    }
}

void consumer_free_all(struct tern_client *c)
{
    struct tern_consumer *cons = c->consumers;
    c->consumers = NULL;
    while (cons) {
        struct tern_consumer *next = cons->next;
        tern_close_cb cb = cons->close_cb;
        void *arg = cons->close_arg;
        consumer_destroy(cons);
        if (cb)
            cb(arg);
        cons = next;
    }
}
