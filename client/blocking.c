/* struct tern_sync: the blocking convenience layer. A private loop and one
 * client; every call starts the asynchronous operation and runs the loop
 * until its callback has fired. Results are kept in the handle until the
 * next call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/admin.h"
#include "client/libtern.h"
#include "src/clock.h"
#include "src/errmsg.h"

struct tern_sync {
    uv_loop_t loop;
    struct tern_client *c;
    char errmsg[TERN_ERRMSG_SIZE];
    bool stop;
    struct admin_hold *hold;
    struct buf strs;
    /* The call in progress. */
    bool done;
    int err;
    struct tern_send_result *res;
    int64_t offset;
};

static void run_until(struct tern_sync *s, bool *flag)
{
    while (!*flag)
        uv_run(&s->loop, UV_RUN_ONCE);
}

static void begin(struct tern_sync *s)
{
    admin_hold_free(s->hold);
    s->hold = NULL;
    s->done = false;
    s->err = 0;
    s->errmsg[0] = 0;
}

/* Finish a call: rv is what the starting function returned. */
static int finish(struct tern_sync *s, int rv)
{
    if (rv != 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s", tern_client_errmsg(s->c)[0] ? tern_client_errmsg(s->c)
                                                                                : tern_strerror(rv));
        return rv;
    }
    run_until(s, &s->done);
    return s->err;
}

static void record(struct tern_sync *s, int err, const char *errmsg)
{
    s->done = true;
    s->err = err;
    if (err != 0)
        snprintf(s->errmsg, sizeof s->errmsg, "%s", errmsg && *errmsg ? errmsg : tern_strerror(err));
}

int tern_sync_open(const struct tern_client_opts *opts, struct tern_sync **out, char *errmsg)
{
    struct tern_sync *s = calloc(1, sizeof *s);
    if (!s) {
        if (errmsg)
            errmsg_printf(errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    buf_init(&s->strs);
    if (uv_loop_init(&s->loop) != 0) {
        if (errmsg)
            errmsg_printf(errmsg, "cannot create an event loop");
        free(s);
        return TERN_E_NOMEM;
    }
    int rv = tern_client_new(&s->loop, opts, &s->c, errmsg);
    if (rv != 0) {
        uv_loop_close(&s->loop);
        free(s);
        return rv;
    }
    *out = s;
    return 0;
}

static void closed_cb(void *arg)
{
    struct tern_sync *s = arg;
    s->done = true;
}

void tern_sync_close(struct tern_sync *s)
{
    if (!s)
        return;
    s->done = false;
    tern_client_close(s->c, closed_cb, s);
    run_until(s, &s->done);
    uv_run(&s->loop, UV_RUN_DEFAULT); /* let closing handles finish */
    uv_loop_close(&s->loop);
    admin_hold_free(s->hold);
    buf_free(&s->strs);
    free(s);
}

struct tern_client *tern_sync_client(struct tern_sync *s)
{
    return s->c;
}

uv_loop_t *tern_sync_loop(struct tern_sync *s)
{
    return &s->loop;
}

const char *tern_sync_errmsg(const struct tern_sync *s)
{
    return s->errmsg;
}

int tern_sync_producer(struct tern_sync *s, const struct tern_producer_opts *opts,
                       struct tern_producer **out)
{
    return tern_producer_new(s->c, opts, out);
}

/* ---- sends ------------------------------------------------------------------- */

static void send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct tern_sync *s = arg;
    record(s, err, errmsg);
    if (err != 0 || !s->res)
        return;
    buf_reset(&s->strs);
    size_t a = s->strs.len;
    buf_append(&s->strs, res->msg_id, strlen(res->msg_id) + 1);
    size_t b = s->strs.len;
    buf_append(&s->strs, res->offset_msg_id, strlen(res->offset_msg_id) + 1);
    size_t d = s->strs.len;
    buf_append(&s->strs, res->broker_name, strlen(res->broker_name) + 1);
    *s->res = *res;
    if (s->strs.err) {
        s->res->msg_id = s->res->offset_msg_id = s->res->broker_name = "";
        return;
    }
    s->res->msg_id = (const char *)s->strs.data + a;
    s->res->offset_msg_id = (const char *)s->strs.data + b;
    s->res->broker_name = (const char *)s->strs.data + d;
}

int tern_sync_send(struct tern_sync *s, struct tern_producer *p, const struct tern_send_msg *m,
                   struct tern_send_result *res)
{
    begin(s);
    s->res = res;
    return finish(s, tern_producer_send(p, m, send_cb, s));
}

int tern_sync_send_batch(struct tern_sync *s, struct tern_producer *p,
                         const struct tern_send_msg *msgs, size_t n, struct tern_send_result *res)
{
    begin(s);
    s->res = res;
    return finish(s, tern_producer_send_batch(p, msgs, n, send_cb, s));
}

/* ---- running consumers ------------------------------------------------------------ */

int tern_sync_run(struct tern_sync *s, int64_t timeout_ms)
{
    s->stop = false;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (!s->stop) {
        if (timeout_ms >= 0 && clock_mono_ms() >= deadline)
            return TERN_E_TIMEOUT;
        uv_run(&s->loop, UV_RUN_ONCE);
    }
    return 0;
}

void tern_sync_stop(struct tern_sync *s)
{
    s->stop = true;
}

void tern_sync_consumer_close(struct tern_sync *s, struct tern_consumer *cons)
{
    s->done = false;
    tern_consumer_close(cons, closed_cb, s);
    run_until(s, &s->done);
}

/* ---- admin -------------------------------------------------------------------------- */

static void route_cb(int err, const char *errmsg, const struct tern_route *route, void *arg)
{
    record(arg, err, errmsg);
}

int tern_sync_topic_route(struct tern_sync *s, const char *topic, const struct tern_route **out)
{
    begin(s);
    int rv = finish(s, admin_topic_route(s->c, topic, route_cb, s, &s->hold));
    *out = rv == 0 && s->hold ? &s->hold->route : NULL;
    return rv;
}

static void cluster_cb(int err, const char *errmsg, const struct tern_cluster_info *ci, void *arg)
{
    record(arg, err, errmsg);
}

int tern_sync_cluster_info(struct tern_sync *s, const struct tern_cluster_info **out)
{
    begin(s);
    int rv = finish(s, admin_cluster_info(s->c, cluster_cb, s, &s->hold));
    *out = rv == 0 && s->hold ? &s->hold->ci : NULL;
    return rv;
}

static void topics_cb(int err, const char *errmsg, const char *const *topics, size_t n, void *arg)
{
    record(arg, err, errmsg);
}

int tern_sync_topic_list(struct tern_sync *s, const char *const **topics, size_t *n)
{
    begin(s);
    int rv = finish(s, admin_topic_list(s->c, topics_cb, s, &s->hold));
    *topics = rv == 0 && s->hold ? (const char *const *)s->hold->topics : NULL;
    *n = rv == 0 && s->hold ? s->hold->ntopics : 0;
    return rv;
}

static void done_cb(int err, const char *errmsg, void *arg)
{
    record(arg, err, errmsg);
}

int tern_sync_create_topic(struct tern_sync *s, const struct tern_topic_opts *o)
{
    begin(s);
    return finish(s, tern_client_create_topic(s->c, o, done_cb, s));
}

static void offset_cb(int err, const char *errmsg, int64_t offset, void *arg)
{
    struct tern_sync *s = arg;
    record(s, err, errmsg);
    s->offset = offset;
}

int tern_sync_committed_offset(struct tern_sync *s, const char *group, const char *topic,
                               const char *broker_name, int queue_id, int64_t *offset)
{
    begin(s);
    int rv = finish(s, tern_client_committed_offset(s->c, group, topic, broker_name, queue_id,
                                                    offset_cb, s));
    *offset = rv == 0 ? s->offset : -1;
    return rv;
}

int tern_sync_max_offset(struct tern_sync *s, const char *topic, const char *broker_name,
                         int queue_id, int64_t *offset)
{
    begin(s);
    int rv = finish(s, tern_client_max_offset(s->c, topic, broker_name, queue_id, offset_cb, s));
    *offset = rv == 0 ? s->offset : -1;
    return rv;
}

int tern_sync_min_offset(struct tern_sync *s, const char *topic, const char *broker_name,
                         int queue_id, int64_t *offset)
{
    begin(s);
    int rv = finish(s, tern_client_min_offset(s->c, topic, broker_name, queue_id, offset_cb, s));
    *offset = rv == 0 ? s->offset : -1;
    return rv;
}

int tern_sync_commit_offset(struct tern_sync *s, const char *group, const char *topic,
                            const char *broker_name, int queue_id, int64_t offset)
{
    begin(s);
    return finish(s, tern_client_commit_offset(s->c, group, topic, broker_name, queue_id, offset,
                                               done_cb, s));
}

static void pull_cb(int err, const char *errmsg, const struct tern_pull_result *res, void *arg)
{
    record(arg, err, errmsg);
}

int tern_sync_pull(struct tern_sync *s, const char *group, const char *topic,
                   const char *broker_name, int queue_id, int64_t offset, int max,
                   const char *expression, const struct tern_pull_result **out)
{
    begin(s);
    int rv = finish(s, admin_pull(s->c, group, topic, broker_name, queue_id, offset, max, expression,
                                  pull_cb, s, &s->hold));
    *out = rv == 0 && s->hold ? &s->hold->pull : NULL;
    return rv;
}

int tern_sync_query_message(struct tern_sync *s, const char *topic, const char *broker_name, const char *key,
                            bool unique, int max, int64_t begin_ms, int64_t end_ms,
                            const struct tern_pull_result **out)
{
    begin(s);
    int rv = finish(s, admin_query_message(s->c, topic, broker_name, key, unique, max, begin_ms, end_ms, pull_cb,
                                           s, &s->hold));
    *out = rv == 0 && s->hold ? &s->hold->pull : NULL;
    return rv;
}

int tern_sync_reset_offset(struct tern_sync *s, const char *group, const char *topic, const char *broker_name,
                           int64_t ts_ms, bool force)
{
    begin(s);
    return finish(s, tern_client_reset_offset(s->c, group, topic, broker_name, ts_ms, force, done_cb, s));
}

int tern_sync_view_message(struct tern_sync *s, const char *offset_msg_id, const struct tern_pull_result **out)
{
    begin(s);
    int rv = finish(s, admin_view_message(s->c, offset_msg_id, pull_cb, s, &s->hold));
    *out = rv == 0 && s->hold ? &s->hold->pull : NULL;
    return rv;
}
