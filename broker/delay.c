/* Delayed messages: due-time parsing, indexing at apply, the leader's scanner
 * and the DELIVER command (DELAY.md).
 *
 * Happy path: the scanner (every DELAY_TICK_MS on the ready leader) reads the
 * cursor bucket of each lane from the cursor on, takes the entries due now,
 * reads them from the lane partition, rebuilds each as RocketMQ does
 * (original topic and queue, DELAY removed), groups them per real partition
 * and proposes one DELIVER. Only one DELIVER per lane is in flight; a full
 * batch schedules the next pass at once so a burst flows at full speed.
 * Failure modes: a lane record that does not decode or has no REAL_TOPIC is
 * logged and stepped over (never a stuck lane); a real topic deleted since is
 * refused by the APPEND (logged); a DELIVER whose starting cursor no longer
 * matches is ignored whole (stale). */
#include "broker/delay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delayidx.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/cursor.h"
#include "src/endian.h"
#include "src/log.h"
#include "tern/error.h"

#define DELAY_TICK_MS 50
#define DELAY_WAIT_MS 2 /* recheck of a partition's unwritten appends */
#define DELAY_BUCKET_MS 1000
#define DELAY_BATCH 2048
#define DELAY_BATCH_BYTES (700u << 10) /* under raft's 1 MiB entry */
#define DELAY_GROUPS 32
#define DELAY_CHAIN 256 /* empty buckets stepped over per pass */
#define DELIVER_HDR 24
#define READ_AHEAD 256

struct delay_lane_ctx {
    struct broker *b;
    int lane;
    bool inflight;
    bool more; /* the last batch was full */
    bool wait; /* a target partition still has unwritten appends */
};

struct delay {
    struct delayidx idx[DELAY_LANES];
    struct delay_lane_ctx ctx[DELAY_LANES];
    int64_t levels[DELAY_MAX_LEVELS];
    int nlevels;
    uv_timer_t timer;
    bool timer_on;
    /* Scanner scratch, reused every pass. */
    struct delayidx_ent ents[DELAY_BATCH];
    struct buf recs;  /* rebuilt records */
    struct buf props; /* properties of one record */
    struct buf cmd;
    uint32_t rec_off[DELAY_BATCH], rec_len[DELAY_BATCH];
    uint8_t rec_grp[DELAY_BATCH];
    uint32_t rec_tag[DELAY_BATCH];
    struct record_msg rm[DELAY_BATCH];
    char grp_topic[DELAY_GROUPS][TOPICS_NAME_MAX];
    int32_t grp_qid[DELAY_GROUPS];
    struct partlog_readbuf rb;
    struct partlog_msg rd[READ_AHEAD];
    uint32_t rd_n;
};

int delay_parse_levels(const char *s, int64_t *out, int max)
{
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || n == max)
            return -1;
        int64_t mul;
        if (strncmp(end, "ms", 2) == 0) {
            mul = 1;
            end += 2;
        } else if (*end == 's' || *end == 'm' || *end == 'h' || *end == 'd') {
            mul = *end == 's' ? 1000 : *end == 'm' ? 60000 : *end == 'h' ? 3600000 : 86400000;
            end++;
        } else {
            return -1;
        }
        if (*end && *end != ' ' && *end != '\t' && *end != ',')
            return -1;
        out[n++] = v * mul;
        s = end;
    }
    return n;
}

int64_t delay_level_ms(const struct broker *b, int level)
{
    const struct delay *d = b->delay;
    if (level <= 0 || d->nlevels == 0)
        return 0;
    if (level > d->nlevels)
        level = d->nlevels;
    return d->levels[level - 1];
}

static bool parse_i64(struct slice v, int64_t *out)
{
    char tmp[32];
    if (v.len == 0 || v.len >= sizeof tmp)
        return false;
    memcpy(tmp, v.p, v.len);
    tmp[v.len] = '\0';
    char *end;
    long long x = strtoll(tmp, &end, 10);
    if (*end)
        return false;
    *out = x;
    return true;
}

int delay_due(const struct broker *b, const struct properties *p, int64_t now, int64_t *due, char *remark,
              size_t cap)
{
    static const char *keys[] = {MSG_PROP_DELAY, MSG_PROP_TIMER_DELIVER_MS, MSG_PROP_TIMER_DELAY_SEC,
                                 MSG_PROP_TIMER_DELAY_MS, MSG_PROP_STARTDELIVERTIME};
    *due = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct slice v;
        int64_t x;
        if (!properties_find(p, keys[i], &v))
            continue;
        if (!parse_i64(v, &x)) {
            snprintf(remark, cap, "property %s: '%.*s' is not a number", keys[i], (int)(v.len < 40 ? v.len : 40),
                     v.p);
            return CODES_RESP_MESSAGE_ILLEGAL;
        }
        int64_t t;
        switch (i) {
        case 0: t = x > 0 ? now + delay_level_ms(b, (int)(x > 1000 ? 1000 : x)) : 0; break;
        case 1: t = x; break;
        case 2: t = x > 0 && x < INT64_MAX / 2000 ? now + x * 1000 : 0; break;
        case 3: t = x > 0 && x < INT64_MAX / 2 ? now + x : 0; break;
        default: t = x; break;
        }
        if (t <= now)
            continue; /* no delay, or a time already past: deliver now */
        if (t - now > b->conf.timer_max_delay_s * 1000) {
            snprintf(remark, cap, "delay of %" PRId64 " ms (%s) exceeds timerMaxDelaySec %" PRId64, t - now,
                     keys[i], b->conf.timer_max_delay_s);
            return CODES_RESP_MESSAGE_ILLEGAL;
        }
        *due = t;
        return CODES_RESP_SUCCESS;
    }
    return CODES_RESP_SUCCESS;
}

/* ---- apply side (every replica) ---- */

void delay_on_append(struct broker *b, int32_t lane, uint64_t first_off, const struct record_msg *msgs,
                     uint32_t n)
{
    struct delay *d = b->delay;
    if (!d || lane < 0 || lane >= DELAY_LANES)
        return;
    struct delayidx *x = &d->idx[lane];
    char err[ERRMSG_SIZE];
    for (uint32_t i = 0; i < n; i++) {
        struct msg_stored m;
        size_t used;
        struct slice v;
        int64_t due;
        bool ok = message_decode(msgs[i].data, msgs[i].len, &b->limits, 0, &m, &used, err) == 0;
        if (ok && x->cur_bucket < 0) /* a new lane starts at the store time (same on every replica) */
            x->cur_bucket = delayidx_bucket_of(x, m.store_timestamp);
        if (!ok || !properties_get(m.properties.p, m.properties.len, MSG_PROP_TIMER_OUT_MS, &v) || !parse_i64(v, &due)) {
            /* Indexed as due at once: the scanner steps over it with a log. */
            due = 0;
        }
        int rv = delayidx_insert(x, first_off + i, due);
        if (rv)
            LOGE("delay", "lane %d offset %" PRIu64 ": index: %s", lane, first_off + i, x->errmsg);
    }
    if (delayidx_save(x) != 0)
        LOGE("delay", "lane %d: %s", lane, x->errmsg);
}

struct delayidx *delay_lane_index(struct broker *b, int lane)
{
    return b->delay && lane >= 0 && lane < DELAY_LANES ? &b->delay->idx[lane] : NULL;
}

/* Nested commands of a DELIVER: u32 length + an APPEND, ngroups times. */
static int apply_groups(struct broker *b, uint64_t source, const uint8_t *p, size_t n, uint32_t ngroups)
{
    struct cursor c;
    cursor_init(&c, p, n);
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t len = cursor_le32(&c);
        const uint8_t *cmd = cursor_take(&c, len);
        if (c.err || len == 0 || cmd[0] != FSM_CMD_APPEND)
            return TERN_E_MALFORMED;
        struct fsm_result r;
        int rv = fsm_apply(b, source, cmd, len, NULL, NULL, &r);
        if (rv)
            return rv;
        if (r.status)
            LOGE("delay", "log position %" PRIu64 ": delivery group %u refused: %s", source, g,
                 tern_strerror(r.status));
    }
    return cursor_left(&c) == 0 ? 0 : TERN_E_MALFORMED;
}

int delay_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct fsm_result *res)
{
    struct delay *d = b->delay;
    if (len < DELIVER_HDR || cmd[1] >= DELAY_LANES || !d) {
        LOGE("delay", "log position %" PRIu64 ": malformed DELIVER command", source);
        return TERN_E_MALFORMED;
    }
    int lane = cmd[1];
    uint32_t ngroups = le16_load(cmd + 2);
    uint32_t from = le32_load(cmd + 4);
    int64_t bucket = (int64_t)le64_load(cmd + 8);
    uint32_t to = le32_load(cmd + 16);
    bool advance = cmd[20] != 0;
    struct delayidx *x = &d->idx[lane];
    res->status = 0;
    if (source != 0 && source <= x->last_source) {
        /* Replayed after a restart: the cursor moved already; partitions skip
         * the appends they hold and redo the ones lost with the crash. */
        res->skipped = true;
        return apply_groups(b, source, cmd + DELIVER_HDR, len - DELIVER_HDR, ngroups);
    }
    LOGD("delay", "lane %d: DELIVER bucket %" PRId64 " %u..%u%s (cursor %" PRId64 "/%u)", lane, bucket, from, to,
         advance ? " +advance" : "", x->cur_bucket, x->cur_idx);
    if (x->cur_bucket != bucket || x->cur_idx != from || to < from) {
        res->skipped = true; /* stale: another pass already moved the cursor */
        return 0;
    }
    int rv = apply_groups(b, source, cmd + DELIVER_HDR, len - DELIVER_HDR, ngroups);
    if (rv) {
        LOGE("delay", "log position %" PRIu64 ": malformed DELIVER groups", source);
        return rv;
    }
    uint32_t count = 0;
    if (advance && delayidx_count(x, bucket, &count) == 0 && count == to)
        rv = delayidx_set_cursor(x, bucket + 1, 0, source);
    else
        rv = delayidx_set_cursor(x, bucket, to, source);
    if (rv)
        LOGE("delay", "lane %d: %s", lane, x->errmsg);
    res->count = to - from;
    return 0;
}

/* ---- the leader's scanner ---- */

/* Rebuild the lane record at lane offset off as the message to deliver,
 * appended to d->recs. Returns 1 done, 0 not readable yet, -1 bad (skip). */
static int rebuild(struct broker *b, struct delay *d, struct partlog *pl, uint64_t off, uint32_t i)
{
    struct partlog_msg *pm = NULL;
    for (uint32_t k = 0; k < d->rd_n; k++) {
        if (d->rd[k].offset == off) {
            pm = &d->rd[k];
            break;
        }
    }
    if (!pm) {
        struct partlog_read_result rr = {0};
        d->rd_n = 0;
        int rv = partlog_read(pl, off, READ_AHEAD, 1u << 20, NULL, &d->rb, d->rd, &rr);
        if (rv == TERN_E_RANGE) {
            LOGE("delay", "lane record %" PRIu64 ": deleted by retention before its due time; lost", off);
            return -1;
        }
        if (rv != 0 || rr.n == 0)
            return rv == 0 ? 0 : -1;
        d->rd_n = rr.n;
        if (d->rd[0].offset != off)
            return d->rd[0].offset > off ? -1 : 0;
        pm = &d->rd[0];
    }
    char err[ERRMSG_SIZE];
    struct msg_stored m;
    size_t used;
    struct slice topic, qid_s;
    int64_t qid;
    if (message_decode(pm->data, pm->len, &b->limits, 0, &m, &used, err) != 0 ||
        !properties_get(m.properties.p, m.properties.len, MSG_PROP_REAL_TOPIC, &topic) ||
        !properties_get(m.properties.p, m.properties.len, MSG_PROP_REAL_QID, &qid_s) || !parse_i64(qid_s, &qid) ||
        topic.len == 0 || topic.len >= TOPICS_NAME_MAX) {
        LOGE("delay", "lane record %" PRIu64 ": not a delayed message (%s); skipped", off, err);
        return -1;
    }
    buf_reset(&d->props);
    properties_remove(m.properties.p, m.properties.len, MSG_PROP_DELAY, &d->props);
    m.topic = topic;
    m.queue_id = (int32_t)qid;
    m.properties = (struct slice){(const char *)d->props.data, d->props.len};
    m.store_host = b->store_host;
    size_t at = d->recs.len;
    if (message_encode(&m, &d->recs) != 0) {
        LOGE("delay", "lane record %" PRIu64 ": cannot re-encode; skipped", off);
        d->recs.len = at;
        return -1;
    }
    struct slice tag;
    d->rec_tag[i] = properties_get(m.properties.p, m.properties.len, MSG_PROP_TAGS, &tag)
                        ? (uint32_t)tags_hash(tag.p, tag.len)
                        : 0;
    d->rec_off[i] = (uint32_t)at;
    d->rec_len[i] = (uint32_t)(d->recs.len - at);
    return 1;
}

static int group_of(struct delay *d, int *ngroups, const uint8_t *rec, uint32_t len)
{
    struct msg_stored m;
    size_t used;
    char err[ERRMSG_SIZE];
    struct limits l = limits_default;
    if (message_decode(rec, len, &l, 0, &m, &used, err) != 0)
        return -1;
    for (int g = 0; g < *ngroups; g++)
        if (d->grp_qid[g] == m.queue_id && slice_eq(m.topic, d->grp_topic[g]))
            return g;
    if (*ngroups == DELAY_GROUPS)
        return -2;
    int g = (*ngroups)++;
    memcpy(d->grp_topic[g], m.topic.p, m.topic.len);
    d->grp_topic[g][m.topic.len] = '\0';
    d->grp_qid[g] = m.queue_id;
    return g;
}

static void encode_header(struct buf *out, int lane, uint32_t ngroups, int64_t bucket, uint32_t from, uint32_t to,
                          bool advance)
{
    uint8_t *h = buf_extend(out, DELIVER_HDR);
    if (!h)
        return;
    memset(h, 0, DELIVER_HDR);
    h[0] = FSM_CMD_DELAY_DELIVER;
    h[1] = (uint8_t)lane;
    le16_store(h + 2, (uint16_t)ngroups);
    le32_store(h + 4, from);
    le64_store(h + 8, (uint64_t)bucket);
    le32_store(h + 16, to);
    h[20] = advance ? 1 : 0;
}

static void tick_cb(uv_timer_t *t);

static void deliver_committed(void *arg, int status, const struct fsm_result *res)
{
    (void)res;
    struct delay_lane_ctx *lc = arg;
    lc->inflight = false;
    if (status != 0 && status != TERN_E_NOTLEADER && status != TERN_E_CANCELED)
        LOGW("delay", "lane %d: delivery not committed: %s", lc->lane, tern_strerror(status));
    struct delay *d = lc->b->delay;
    if (lc->more && d->timer_on && !lc->b->closing)
        uv_timer_start(&d->timer, tick_cb, 0, DELAY_TICK_MS);
}

/* Submit one command: propose, or apply at once without replication. The
 * callback is attached to the last command of a pass only. */
static int submit(struct broker *b, struct delay_lane_ctx *lc, bool last)
{
    struct delay *d = b->delay;
    if (d->cmd.err)
        return TERN_E_NOMEM;
    if (grouprepl_enabled(b)) {
        int rv = grouprepl_propose(b, d->cmd.data, d->cmd.len, last ? deliver_committed : NULL, last ? lc : NULL);
        if (rv == 0 && last)
            lc->inflight = true;
        return rv;
    }
    struct fsm_result res;
    int rv = fsm_apply(b, 0, d->cmd.data, d->cmd.len, NULL, NULL, &res);
    return rv;
}

/* Step over empty buckets up to the current one (chained commands; each only
 * applies if the one before it moved the cursor as planned). */
static void advance_empty(struct broker *b, struct delay_lane_ctx *lc, int64_t now_bucket)
{
    struct delay *d = b->delay;
    struct delayidx *x = &d->idx[lc->lane];
    int64_t bk = x->cur_bucket;
    uint32_t from = x->cur_idx, count = 0;
    int steps = 0;
    while (bk < now_bucket && steps < DELAY_CHAIN) {
        if (delayidx_count(x, bk, &count) != 0 || count != from)
            break;
        steps++;
        bk++;
        from = 0;
    }
    LOGD("delay", "lane %d: step over %d empty buckets from %" PRId64, lc->lane, steps, x->cur_bucket);
    for (int s = 0; s < steps; s++) {
        int64_t b0 = x->cur_bucket + s;
        buf_reset(&d->cmd);
        encode_header(&d->cmd, lc->lane, 0, b0, s == 0 ? x->cur_idx : 0, s == 0 ? x->cur_idx : 0, true);
        if (submit(b, lc, s == steps - 1) != 0)
            break;
        if (!grouprepl_enabled(b))
            break; /* applied: the cursor moved; the loop values are stale */
    }
}

static void scan_lane(struct broker *b, struct delay_lane_ctx *lc)
{
    struct delay *d = b->delay;
    struct delayidx *x = &d->idx[lc->lane];
    lc->more = false;
    lc->wait = false;
    if (lc->inflight || x->cur_bucket < 0)
        return;
    int64_t now = clock_now_ms();
    int64_t now_bucket = delayidx_bucket_of(x, now);
    struct topic *tp = topics_find(b->topics, DELAY_TOPIC);
    struct partlog *pl = NULL;
    if (!tp || topics_partition(b->topics, tp, lc->lane, &pl) != 0)
        return; /* the lane topic is created by the ready leader */
    uint32_t n = 0, count = 0;
    if (delayidx_read(x, x->cur_bucket, x->cur_idx, d->ents, DELAY_BATCH, &n) != 0 ||
        delayidx_count(x, x->cur_bucket, &count) != 0) {
        LOGE("delay", "lane %d: %s", lc->lane, x->errmsg);
        return;
    }
    if (n == 0) {
        if (x->cur_bucket < now_bucket)
            advance_empty(b, lc, now_bucket);
        return;
    }
    buf_reset(&d->recs);
    d->rd_n = 0;
    uint32_t taken = 0, kept = 0;
    int ngroups = 0;
    while (taken < n && d->ents[taken].due_ms <= now && d->recs.len < DELAY_BATCH_BYTES) {
        int r = rebuild(b, d, pl, d->ents[taken].lane_off, kept);
        if (r == 0)
            break; /* not readable yet: next pass */
        if (r == 1) {
            int g = group_of(d, &ngroups, d->recs.data + d->rec_off[kept], d->rec_len[kept]);
            if (g == -2) {
                d->recs.len = d->rec_off[kept];
                break; /* too many partitions for one batch */
            }
            if (g < 0) {
                d->recs.len = d->rec_off[kept];
            } else {
                d->rec_grp[kept] = (uint8_t)g;
                kept++;
            }
        }
        taken++;
    }
    if (taken == 0)
        return;
    if (d->recs.err) {
        LOGE("delay", "lane %d: out of memory building a delivery", lc->lane);
        return;
    }
    uint32_t to = x->cur_idx + taken;
    bool advance = to == count && x->cur_bucket < now_bucket;
    buf_reset(&d->cmd);
    encode_header(&d->cmd, lc->lane, (uint32_t)ngroups, x->cur_bucket, x->cur_idx, to, advance);
    int64_t now_store = now;
    for (int g = 0; g < ngroups; g++) {
        uint32_t k = 0;
        for (uint32_t i = 0; i < kept; i++) {
            if (d->rec_grp[i] != g)
                continue;
            d->rm[k].data = d->recs.data + d->rec_off[i];
            d->rm[k].len = d->rec_len[i];
            d->rm[k].tag_hash = d->rec_tag[i];
            k++;
        }
        size_t at = d->cmd.len;
        buf_append_le32(&d->cmd, 0);
        fsm_encode_append(&d->cmd, d->grp_topic[g], d->grp_qid[g], now_store, false, d->rm, k);
        if (!d->cmd.err)
            le32_store(d->cmd.data + at, (uint32_t)(d->cmd.len - at - 4));
    }
    /* Wait until the target partitions wrote what the last batch gave them
     * rather than run into their write buffer limit (an append refused at
     * apply would lose the messages). With Raft this is the leader's view;
     * followers apply the same batches at their own pace. */
    for (int g = 0; g < ngroups; g++) {
        struct topic *gt = topics_find(b->topics, d->grp_topic[g]);
        struct partlog *gp;
        if (gt && topics_partition(b->topics, gt, d->grp_qid[g], &gp) == 0 && partlog_has_pending(gp)) {
            lc->wait = true;
            return;
        }
    }
    lc->more = true; /* rescan at once: a batch limit may have stopped this one */
    int rv = submit(b, lc, true);
    if (rv && rv != TERN_E_NOTLEADER)
        LOGW("delay", "lane %d: delivery of %u messages not submitted: %s", lc->lane, taken, tern_strerror(rv));
}

static void tick_cb(uv_timer_t *t)
{
    struct broker *b = t->data;
    struct delay *d = b->delay;
    if (b->closing || !grouprepl_writable(b))
        return;
    bool more = false, wait = false;
    for (int l = 0; l < DELAY_LANES; l++) {
        scan_lane(b, &d->ctx[l]);
        /* Without replication the apply was immediate: go on at once. */
        more = more || (d->ctx[l].more && !grouprepl_enabled(b));
        wait = wait || d->ctx[l].wait;
    }
    if (more)
        uv_timer_start(&d->timer, tick_cb, 0, DELAY_TICK_MS);
    else if (wait)
        uv_timer_start(&d->timer, tick_cb, DELAY_WAIT_MS, DELAY_TICK_MS);
}

int delay_init(struct broker *b)
{
    struct delay *d = calloc(1, sizeof *d);
    if (!d)
        return TERN_E_NOMEM;
    b->delay = d;
    for (int l = 0; l < DELAY_LANES; l++) {
        d->idx[l].meta_fd = -1;
        for (int i = 0; i < DELAYIDX_FDS; i++)
            d->idx[l].fds[i] = (struct delayidx_fd){.bucket = -1, .fd = -1};
    }
    buf_init(&d->recs);
    buf_init(&d->props);
    buf_init(&d->cmd);
    partlog_readbuf_init(&d->rb);
    d->nlevels = delay_parse_levels(b->conf.delay_levels, d->levels, DELAY_MAX_LEVELS);
    if (d->nlevels < 0) {
        errmsg_printf(b->errmsg, "messageDelayLevel '%s': expected numbers with units ms, s, m, h, d",
                      b->conf.delay_levels);
        return TERN_E_INVAL;
    }
    for (int l = 0; l < DELAY_LANES; l++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/delay/lane%d", b->conf.data_dir, l);
        int rv = delayidx_open(&d->idx[l], dir, DELAY_BUCKET_MS, b->errmsg);
        if (rv)
            return rv;
        d->ctx[l] = (struct delay_lane_ctx){.b = b, .lane = l};
    }
    uv_timer_init(b->loop, &d->timer);
    d->timer.data = b;
    d->timer_on = true;
    uv_timer_start(&d->timer, tick_cb, DELAY_TICK_MS, DELAY_TICK_MS);
    return 0;
}

void delay_leader_ready(struct broker *b)
{
    struct topic *tp = topics_find(b->topics, DELAY_TOPIC);
    if (tp && tp->write_queues >= DELAY_LANES)
        return;
    struct topic_conf c = {.read_queues = DELAY_LANES, .write_queues = DELAY_LANES,
                           .perm = TOPIC_PERM_READ | TOPIC_PERM_WRITE};
    int rv = broker_put_topic(b, DELAY_TOPIC, &c, true, NULL);
    if (rv && rv != TERN_E_NOTLEADER)
        LOGW("delay", "create %s: %s", DELAY_TOPIC, tern_strerror(rv));
}

bool delay_close(struct broker *b, uv_close_cb cb)
{
    struct delay *d = b->delay;
    if (!d || !d->timer_on)
        return false;
    d->timer_on = false;
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, cb);
    return true;
}

void delay_free(struct broker *b)
{
    struct delay *d = b->delay;
    if (!d)
        return;
    for (int l = 0; l < DELAY_LANES; l++)
        delayidx_close(&d->idx[l]);
    buf_free(&d->recs);
    buf_free(&d->props);
    buf_free(&d->cmd);
    partlog_readbuf_free(&d->rb);
    free(d);
    b->delay = NULL;
}
