/* All partitions of a broker on one libuv loop: group commit and callbacks.
 *
 * Happy path: store_append -> pending buffer; prepare_cb (before the loop
 * blocks) writes each dirty partition with one pwrite and queues one sync job
 * for every partition with unsynced data; after_sync_cb releases the
 * callbacks of the appends that job covered and queues the next job if more
 * data was written meanwhile.
 * Failure modes: a write error fails that partition's unwritten appends at
 * once; a sync error fails every append of the partition past its last
 * synced position (partlog cuts the files back). Neither touches other
 * partitions or acknowledged data. */
#include "broker/store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/clock.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "src/log.h"
#include "tern/error.h"

struct store_part {
    struct partlog *pl;
    char *topic;
    uint32_t qid;
    struct store_append_req *head, *tail; /* in offset order */
    uint64_t last_vis;
    bool in_pending, in_unsynced, in_job;
    struct partlog_sync job;
    struct store_part *hnext; /* id hash chain */
};

struct store {
    uv_loop_t *loop;
    char *root;
    struct store_opts o;
    uv_prepare_t prepare;
    uv_timer_t timer;
    uv_timer_t sync_timer; /* sync_interval_ms > 0: the deferred job */
    uv_work_t work;
    bool prepare_on, job_running, closing, handles_closing;
    int handles_open;
    void (*close_cb)(void *);
    void *close_arg;

    struct store_part **parts;
    uint32_t n_parts, cap_parts;
    struct store_part **by_id; /* hash buckets */
    uint32_t n_buckets;

    struct store_part **pending; /* partitions with pending bytes */
    uint32_t n_pending, cap_pending;
    struct store_part **unsynced;
    uint32_t n_unsynced, cap_unsynced;
    struct store_part **job; /* partitions in the running job */
    uint32_t n_job, cap_job;
    int64_t last_ckpt_ms;
    int64_t last_job_ms;

    struct store_append_req *fire_head, *fire_tail; /* callbacks to run */
    int firing;
    struct store_stats stats;
};

void store_opts_default(struct store_opts *o)
{
    memset(o, 0, sizeof *o);
    partlog_opts_default(&o->part);
    o->checkpoint_interval_ms = 1000;
    o->retention_interval_ms = 60000;
}

static int push(struct store_part ***v, uint32_t *n, uint32_t *cap, struct store_part *sp)
{
    if (*n == *cap) {
        uint32_t c = *cap ? *cap * 2 : 16;
        struct store_part **nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            return TERN_E_NOMEM;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = sp;
    return 0;
}

static void retention_timer_cb(uv_timer_t *t)
{
    store_retain(t->data, clock_now_ms());
}

int store_open(uv_loop_t *loop, const char *root, const struct store_opts *opts, struct store **out,
               char *errmsg)
{
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return TERN_E_NOMEM;
    st->loop = loop;
    if (opts)
        st->o = *opts;
    else
        store_opts_default(&st->o);
    st->root = strdup(root);
    st->n_buckets = 1024;
    st->by_id = calloc(st->n_buckets, sizeof *st->by_id);
    if (!st->root || !st->by_id) {
        free(st->root);
        free(st->by_id);
        free(st);
        return TERN_E_NOMEM;
    }
    int rv = fs_mkdir_p(root, errmsg);
    if (rv) {
        errmsg_wrapf(errmsg, "open store %s", root);
        free(st->root);
        free(st->by_id);
        free(st);
        return rv;
    }
    uv_prepare_init(loop, &st->prepare);
    st->prepare.data = st;
    uv_timer_init(loop, &st->timer);
    st->timer.data = st;
    uv_timer_init(loop, &st->sync_timer);
    st->sync_timer.data = st;
    st->handles_open = 3;
    if (st->o.retention_interval_ms > 0) {
        uv_timer_start(&st->timer, retention_timer_cb, (uint64_t)st->o.retention_interval_ms,
                       (uint64_t)st->o.retention_interval_ms);
        uv_unref((uv_handle_t *)&st->timer);
    }
    st->last_ckpt_ms = clock_mono_ms();
    *out = st;
    return 0;
}

static bool topic_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 127)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '%' || c == '|'))
            return false;
    }
    return true;
}

struct partlog *store_partition_by_id(const struct store *st, uint32_t part_id)
{
    for (struct store_part *sp = st->by_id[part_id % st->n_buckets]; sp; sp = sp->hnext)
        if (partlog_id(sp->pl) == part_id)
            return sp->pl;
    return NULL;
}

struct partlog *store_partition_find(const struct store *st, const char *topic, uint32_t queue_id)
{
    for (uint32_t i = 0; i < st->n_parts; i++)
        if (st->parts[i]->qid == queue_id && strcmp(st->parts[i]->topic, topic) == 0)
            return st->parts[i]->pl;
    return NULL;
}

int store_partition_open(struct store *st, const char *topic, uint32_t queue_id, uint32_t part_id,
                         struct partlog **out, char *errmsg)
{
    if (st->closing) {
        errmsg_printf(errmsg, "open partition %s/%u: store is closing", topic, queue_id);
        return TERN_E_CLOSED;
    }
    if (!topic_ok(topic)) {
        errmsg_printf(errmsg, "open partition: bad topic name");
        return TERN_E_INVAL;
    }
    if (part_id > STORE_MAX_PARTITION_ID || store_partition_by_id(st, part_id) ||
        store_partition_find(st, topic, queue_id)) {
        errmsg_printf(errmsg, "open partition %s/%u: id %u invalid or already open", topic, queue_id, part_id);
        return TERN_E_EXISTS;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s/%u", st->root, topic, queue_id);
    struct store_part *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->topic = strdup(topic))) {
        free(sp);
        return TERN_E_NOMEM;
    }
    int rv = partlog_open(dir, part_id, &st->o.part, &sp->pl, errmsg);
    if (rv) {
        free(sp->topic);
        free(sp);
        return rv;
    }
    if (push(&st->parts, &st->n_parts, &st->cap_parts, sp)) {
        partlog_close(sp->pl);
        free(sp->topic);
        free(sp);
        return TERN_E_NOMEM;
    }
    sp->qid = queue_id;
    sp->last_vis = partlog_end_offset(sp->pl);
    partlog_sync_init(&sp->job);
    partlog_set_user(sp->pl, sp);
    sp->hnext = st->by_id[part_id % st->n_buckets];
    st->by_id[part_id % st->n_buckets] = sp;
    *out = sp->pl;
    return 0;
}

uint64_t store_phys_encode(uint32_t part_id, uint64_t offset)
{
    return (uint64_t)part_id << STORE_PHYS_OFFSET_BITS | (offset & ((1ull << STORE_PHYS_OFFSET_BITS) - 1));
}

void store_phys_decode(uint64_t phys, uint32_t *part_id, uint64_t *offset)
{
    *part_id = (uint32_t)(phys >> STORE_PHYS_OFFSET_BITS);
    *offset = phys & ((1ull << STORE_PHYS_OFFSET_BITS) - 1);
}

int store_locate(const struct store *st, uint64_t phys, struct partlog **pl, uint64_t *offset)
{
    uint32_t id;
    store_phys_decode(phys, &id, offset);
    if (id > STORE_MAX_PARTITION_ID)
        return TERN_E_NOTFOUND;
    *pl = store_partition_by_id(st, id);
    return *pl ? 0 : TERN_E_NOTFOUND;
}

void store_stats(const struct store *st, struct store_stats *out)
{
    *out = st->stats;
}

/* ---- callbacks ---- */

static void fire_later(struct store *st, struct store_append_req *r)
{
    r->next = NULL;
    if (st->fire_tail)
        st->fire_tail->next = r;
    else
        st->fire_head = r;
    st->fire_tail = r;
}

/* Move requests of sp that are settled to the fire list: with status 0 the
 * prefix now covered by the synced end; with an error the suffix at or past
 * the rolled-back end (their offsets will be reused). */
static void collect(struct store *st, struct store_part *sp, int status)
{
    if (status == 0) {
        uint64_t synced = partlog_synced_offset(sp->pl);
        while (sp->head && sp->head->end_offset <= synced) {
            struct store_append_req *r = sp->head;
            sp->head = r->next;
            r->status = 0;
            fire_later(st, r);
            st->stats.appends_acked++;
        }
        if (!sp->head)
            sp->tail = NULL;
        return;
    }
    uint64_t next = partlog_next_offset(sp->pl);
    struct store_append_req **pp = &sp->head, *prev = NULL;
    while (*pp && (*pp)->first_offset < next) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    struct store_append_req *r = *pp;
    *pp = NULL;
    sp->tail = prev;
    while (r) {
        struct store_append_req *nx = r->next;
        r->status = status;
        fire_later(st, r);
        st->stats.appends_failed++;
        r = nx;
    }
}

static void maybe_finish_close(struct store *st);

static void run_callbacks(struct store *st)
{
    if (st->firing)
        return; /* the outer loop picks the new ones up */
    st->firing++;
    while (st->fire_head) {
        struct store_append_req *r = st->fire_head;
        st->fire_head = r->next;
        if (!st->fire_head)
            st->fire_tail = NULL;
        r->next = NULL;
        r->cb(r, r->status);
    }
    st->firing--;
    maybe_finish_close(st);
}

static void check_visible(struct store *st, struct store_part *sp)
{
    uint64_t v = partlog_end_offset(sp->pl);
    if (v != sp->last_vis) {
        sp->last_vis = v;
        if (st->o.visible_cb)
            st->o.visible_cb(st, sp->pl, v, st->o.cb_arg);
    }
}

/* ---- the sync job ---- */

static void sync_work_cb(uv_work_t *w)
{
    struct store *st = w->data;
    for (uint32_t i = 0; i < st->n_job; i++)
        partlog_sync_run(&st->job[i]->job);
}

static void start_job(struct store *st);

static void sync_after_cb(uv_work_t *w, int status)
{
    struct store *st = w->data;
    st->job_running = false;
    st->stats.sync_jobs++;
    for (uint32_t i = 0; i < st->n_job; i++) {
        struct store_part *sp = st->job[i];
        sp->in_job = false;
        if (status < 0 && sp->job.status == 0)
            sp->job.status = TERN_E_CANCELED;
        int rv = partlog_sync_end(sp->pl, &sp->job);
        if (rv) {
            collect(st, sp, rv);
            /* The pending buffer was dropped with the rollback. */
        }
        collect(st, sp, 0);
        check_visible(st, sp);
        if (partlog_needs_sync(sp->pl) && !sp->in_unsynced) {
            sp->in_unsynced = true;
            push(&st->unsynced, &st->n_unsynced, &st->cap_unsynced, sp);
        }
    }
    st->n_job = 0;
    if (st->n_unsynced > 0)
        start_job(st);
    run_callbacks(st);
}

static void sync_timer_cb(uv_timer_t *t)
{
    start_job(t->data);
}

static void start_job(struct store *st)
{
    if (st->job_running || st->n_unsynced == 0)
        return;
    int64_t now = clock_mono_ms();
    if (st->o.sync_interval_ms > 0 && !st->closing) {
        /* Nobody waits for these syncs; one job per interval keeps the
         * fdatasyncs (and the journal commits they force) off the disk the
         * raft log shares, instead of one per write pass. */
        int64_t due = st->last_job_ms + st->o.sync_interval_ms;
        if (now < due) {
            if (!uv_is_active((uv_handle_t *)&st->sync_timer))
                uv_timer_start(&st->sync_timer, sync_timer_cb, (uint64_t)(due - now), 0);
            return;
        }
    }
    st->last_job_ms = now;
    bool ckpt = st->closing || now - st->last_ckpt_ms >= st->o.checkpoint_interval_ms;
    if (ckpt)
        st->last_ckpt_ms = now;
    st->n_job = 0;
    for (uint32_t i = 0; i < st->n_unsynced; i++) {
        struct store_part *sp = st->unsynced[i];
        sp->in_unsynced = false;
        if (partlog_sync_begin(sp->pl, &sp->job, ckpt) != 0) {
            /* Out of memory for the fd list: fail like a sync error. */
            sp->job.status = TERN_E_NOMEM;
        }
        sp->in_job = true;
        push(&st->job, &st->n_job, &st->cap_job, sp);
    }
    st->n_unsynced = 0;
    st->work.data = st;
    st->job_running = true;
    int rv = uv_queue_work(st->loop, &st->work, sync_work_cb, sync_after_cb);
    if (rv) {
        /* Only fails on invalid arguments; treat as a failed sync. */
        LOGE("store", "uv_queue_work: %s", uv_strerror(rv));
        for (uint32_t i = 0; i < st->n_job; i++)
            st->job[i]->job.status = TERN_E_IO;
        sync_after_cb(&st->work, 0);
    }
}

static void prepare_cb(uv_prepare_t *h)
{
    struct store *st = h->data;
    if (st->n_pending)
        st->stats.passes_written++;
    for (uint32_t i = 0; i < st->n_pending; i++) {
        struct store_part *sp = st->pending[i];
        sp->in_pending = false;
        int rv = partlog_write(sp->pl);
        if (rv) {
            LOGE("store", "%s", partlog_errmsg(sp->pl));
            collect(st, sp, rv);
        }
        if (partlog_needs_sync(sp->pl) && !sp->in_unsynced) {
            sp->in_unsynced = true;
            push(&st->unsynced, &st->n_unsynced, &st->cap_unsynced, sp);
        }
        check_visible(st, sp);
    }
    st->n_pending = 0;
    uv_prepare_stop(&st->prepare);
    st->prepare_on = false;
    start_job(st);
    run_callbacks(st);
}

int store_append(struct store *st, struct partlog *pl, const struct record_msg *msgs, uint32_t n,
                 const struct partlog_append_info *info, struct store_append_req *req, store_append_cb cb,
                 uint64_t *first_offset)
{
    if (st->closing)
        return TERN_E_CLOSED;
    struct store_part *sp = partlog_user(pl);
    /* Register the partition first so a failure leaves nothing half done. */
    if (!sp->in_pending) {
        if (push(&st->pending, &st->n_pending, &st->cap_pending, sp))
            return TERN_E_NOMEM;
        sp->in_pending = true;
        if (!st->prepare_on) {
            uv_prepare_start(&st->prepare, prepare_cb);
            st->prepare_on = true;
        }
    }
    uint64_t first;
    int rv = partlog_append(pl, msgs, n, info, &first);
    if (rv)
        return rv;
    req->next = NULL;
    req->pl = pl;
    req->first_offset = first;
    req->end_offset = first + n;
    req->cb = cb;
    if (sp->tail)
        sp->tail->next = req;
    else
        sp->head = req;
    sp->tail = req;
    if (!st->prepare_on) {
        uv_prepare_start(&st->prepare, prepare_cb);
        st->prepare_on = true;
    }
    *first_offset = first;
    return 0;
}

void store_retain(struct store *st, int64_t now_ms)
{
    for (uint32_t i = 0; i < st->n_parts; i++) {
        uint32_t deleted;
        if (partlog_retain(st->parts[i]->pl, now_ms, &deleted))
            LOGW("store", "retention: %s", partlog_errmsg(st->parts[i]->pl));
    }
}

/* ---- close ---- */

static void handle_closed_cb(uv_handle_t *h)
{
    struct store *st = h->data;
    if (--st->handles_open > 0)
        return;
    for (uint32_t i = 0; i < st->n_parts; i++) {
        struct store_part *sp = st->parts[i];
        partlog_close(sp->pl);
        partlog_sync_free(&sp->job);
        free(sp->topic);
        free(sp);
    }
    void (*cb)(void *) = st->close_cb;
    void *arg = st->close_arg;
    free(st->parts);
    free(st->by_id);
    free(st->pending);
    free(st->unsynced);
    free(st->job);
    free(st->root);
    free(st);
    if (cb)
        cb(arg);
}

static void maybe_finish_close(struct store *st)
{
    if (!st->closing || st->handles_closing || st->firing || st->job_running || st->n_pending ||
        st->n_unsynced || st->fire_head)
        return;
    st->handles_closing = true;
    uv_close((uv_handle_t *)&st->prepare, handle_closed_cb);
    uv_close((uv_handle_t *)&st->timer, handle_closed_cb);
    uv_close((uv_handle_t *)&st->sync_timer, handle_closed_cb);
}

void store_close(struct store *st, void (*cb)(void *arg), void *arg)
{
    st->closing = true;
    st->close_cb = cb;
    st->close_arg = arg;
    uv_timer_stop(&st->timer);
    uv_timer_stop(&st->sync_timer);
    start_job(st); /* a deferred job runs now */
    /* Accepted appends are flushed: the prepare pass and the sync job run as
     * usual; maybe_finish_close waits for them. */
    maybe_finish_close(st);
}

int store_import(struct store *st, struct partlog *pl, const uint8_t *units, size_t n)
{
    if (st->closing)
        return TERN_E_CLOSED;
    struct store_part *sp = partlog_user(pl);
    uint64_t end;
    int rv = partlog_import(pl, units, n, &end);
    if (rv)
        return rv; /* nothing staged */
    /* Written now (pending appends of this partition go first, as in a pass):
     * a caller streaming a partition never holds more than one chunk. */
    rv = partlog_write(pl);
    if (rv) {
        LOGE("store", "%s", partlog_errmsg(pl));
        collect(st, sp, rv);
    }
    if (partlog_needs_sync(pl) && !sp->in_unsynced) {
        sp->in_unsynced = true;
        if (push(&st->unsynced, &st->n_unsynced, &st->cap_unsynced, sp))
            sp->in_unsynced = false; /* the next append's pass syncs it */
    }
    check_visible(st, sp);
    start_job(st);
    run_callbacks(st);
    return rv;
}

int store_make_durable(struct store *st)
{
    if (st->prepare_on)
        prepare_cb(&st->prepare); /* the write pass now instead of before the poll */
    int rv = 0;
    for (uint32_t i = 0; i < st->n_unsynced && rv == 0; i++)
        rv = partlog_datasync_now(st->unsynced[i]->pl);
    for (uint32_t i = 0; i < st->n_job && rv == 0; i++)
        rv = partlog_datasync_now(st->job[i]->pl);
    return rv;
}
