/* tern-bench: OpenMessaging-style benchmark driver on libtern, for Tern or any RocketMQ cluster.
 *
 * Happy path: create fresh topics (partitionsPerTopic queues each), start
 * consumersPerTopic push consumers per topic (one group per topic,
 * clustering) and wait until they own every queue, prime each producer's
 * route with one send, then pace the producers on one libuv loop:
 *   - fixed rate: warm-up, then the measured phase at producerRate;
 *   - max-rate: ramp steps (double the rate while a step keeps both
 *     backlogs small, then bisect between the best good and the lowest bad
 *     rate), then the measured phase at the best rate found;
 * then stop producing, drain (acknowledgements and consumers, bounded), close
 * the clients, print the table and write the JSON.
 *
 * Pacing: message k of a producer is due at base + k * interval. A timerfd
 * (absolute CLOCK_MONOTONIC, the clock of uv_hrtime) wakes the loop at the
 * next due time with microsecond precision; every due message is sent at
 * once if the producer's window has room, else as soon as an acknowledgement
 * frees a slot. Publish latency is measured from the due time, so a stalled
 * broker or a full window shows up as latency instead of silently lowering
 * the offered load (no coordinated omission). Bodies carry the due time in
 * their first 8 bytes; consumers in this process subtract it from the
 * receive time.
 *
 * Failure modes: a failed send is counted by error kind (first detail kept)
 * and the run goes on; setup failures (topic creation, route, consumers not
 * owning every queue within 30 s) end the run with status 1. Ctrl-C ends the
 * current phase early and still reports (marked "interrupted"); a second
 * Ctrl-C exits at once. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench/tern_bench_common.h"
#include "bench/tern_bench_hist.h"
#include "bench/tern_bench_report.h"
#include "bench/tern_bench_workload.h"
#include "src/errmsg.h"
#include "tern/tern.h"

#define EXIT_USAGE 2
#define TICK_MS 50
#define READY_TIMEOUT_NS (30ull * 1000000000ull)
#define PRIME_TIMEOUT_NS (15ull * 1000000000ull)
#define RECOVER_TIMEOUT_NS (5ull * 1000000000ull)
#define NS 1000000000.0

enum phase {
    PH_READY,   /* consumers joining */
    PH_PRIME,   /* one send per producer to fetch its route */
    PH_WARMUP,  /* fixed rate, statistics discarded */
    PH_RAMP,    /* max-rate search */
    PH_RECOVER, /* max-rate: paused after a failed step until the backlog drains */
    PH_FILL,    /* backlog: producing as fast as the window allows, no consumers */
    PH_MEASURE,
    PH_DRAIN,
    PH_DONE,
};

static const char *phase_names[] = {"ready", "prime", "warmup", "ramp", "recover",
                                    "fill", "measure", "drain", "done"};

struct bench;

struct slot {
    struct producer *pr;
    uint64_t due_ns;
    struct slot *next_free;
};

struct producer {
    struct bench *b;
    int index; /* over all topics */
    int topic;
    struct tern_client *client;
    struct tern_producer *p;
    struct tern_txn_producer *txp; /* transactional workloads instead of p */
    char *body;
    struct slot *slots, *free_slots;
    int64_t inflight;

    /* Pacing: message k (since the last rebase) is due at base_ns + k * interval_ns. */
    bool paused;
    double interval_ns;
    uint64_t base_ns;
    uint64_t k; /* next message to submit since the rebase */

    uint32_t key_next;
    uint64_t *key_seq; /* keyed: next sequence per key */
    uint64_t sent, acked, failed;
    bool primed;
};

struct consumer {
    struct bench *b;
    int topic;
    bool live; /* backlog: the caught-up group, counted apart */
    struct tern_client *client;
    struct tern_consumer *cons;
};

struct bench {
    const struct tern_bench_workload *w;
    const char *namesrv;
    char prefix[96];
    char (*topics)[128];
    size_t queues_per_topic; /* readable queues over all brokers, from the route */
    uv_loop_t loop;
    uv_timer_t tick;
    uv_poll_t pacer;
    uv_signal_t sigint;
    int tfd;
    uint64_t armed_ns; /* 0 = timerfd disarmed */

    struct producer *prods;
    int nprods;
    struct consumer *conss;
    int nconss;
    /* backlog: a second group per topic that reads from the start of the
     * run, so it is caught up (live) when the other group starts draining. */
    struct consumer *live;
    int nlive;
    int open_clients;

    enum phase phase;
    uint64_t t0_ns, phase_ns, last_progress_ns;
    double rate; /* total paced rate, msgs/s */
    int interrupts;
    bool failed_setup;
    char errmsg[ERRMSG_SIZE];

    /* Counters over the whole run. */
    uint64_t sent, acked, failed, consumed;
    uint64_t order_violations;
    uint64_t *last_seq; /* keyed: [producer * keyCount + key] = last seq + 1 */

    /* Measured phase. */
    uint64_t measure_start_ns, measure_end_ns; /* end UINT64_MAX while running */
    uint64_t m_acked0, m_consumed0, m_sched0;
    struct tern_bench_hist *pub_lat, *e2e_lat;
    struct tern_bench_hist *live_lat; /* backlog: the live group's end-to-end latency */
    uint64_t live_consumed;
    /* Progress interval. */
    struct tern_bench_hist *pub_iv, *e2e_iv;
    uint64_t iv_acked0, iv_consumed0, iv_failed0;

    /* Ramp. */
    uint64_t ramp_start_ns; /* 0 until the first step */
    double lo, hi; /* best good rate, lowest bad rate (0 = none yet) */
    uint64_t step_acked0, step_consumed0, step_failed0;
    uint64_t step_mid_backlog; /* pub + cons backlog at half the step, or UINT64_MAX */

    /* CPU time of this process during the measured phase. */
    double cpu0_s;

    /* delay-burst: every message carries deliver_at = burst_due_epoch_ms and
     * its body the same time on the monotonic clock, so e2e = lateness. */
    uint64_t burst_due_ns;
    int64_t burst_due_epoch_ms;
    uint64_t burst_left; /* messages of the burst not yet submitted */
    /* tern-broker pids (TERN_BENCH_BROKER_PIDS), their VmRSS sampled every tick. */
    int broker_pids[16];
    int nbroker_pids;

    struct tern_bench_result res;
};

static double secs_since(const struct bench *b, uint64_t t)
{
    return (double)(t - b->t0_ns) / NS;
}

/* ---- errors --------------------------------------------------------------- */

static void count_error(struct bench *b, int code, const char *detail)
{
    b->res.errors++;
    struct tern_bench_result *r = &b->res;
    for (size_t i = 0; i < r->nerrs; i++) {
        if (r->errs[i].code == code) {
            r->errs[i].count++;
            return;
        }
    }
    if (r->nerrs < TERN_BENCH_MAX_ERRS) {
        struct tern_bench_err *e = &r->errs[r->nerrs++];
        e->code = code;
        e->count = 1;
        snprintf(e->sample, sizeof e->sample, "%s", detail && *detail ? detail : "");
        fprintf(stderr, "tern-bench: send failed: %s: %s (first of its kind)\n",
                tern_bench_report_err_name(code), e->sample);
    }
}

/* ---- pacing --------------------------------------------------------------- */

static uint64_t due_of(const struct producer *pr, uint64_t k)
{
    return pr->base_ns + (uint64_t)((double)k * pr->interval_ns);
}

/* Messages due by now since the rebase (scheduled), and not yet submitted. */
static uint64_t scheduled(const struct producer *pr, uint64_t now)
{
    if (pr->paused || now < pr->base_ns)
        return pr->k;
    uint64_t n = (uint64_t)((double)(now - pr->base_ns) / pr->interval_ns) + 1;
    return n > pr->k ? n : pr->k;
}

static uint64_t pub_backlog(const struct bench *b, uint64_t now)
{
    uint64_t sum = 0;
    for (int i = 0; i < b->nprods; i++) {
        const struct producer *pr = &b->prods[i];
        sum += (scheduled(pr, now) - pr->k) + (uint64_t)pr->inflight;
    }
    return sum;
}

static uint64_t cons_backlog(const struct bench *b)
{
    if (b->nconss == 0)
        return 0;
    return b->acked > b->consumed ? b->acked - b->consumed : 0;
}

/* Sends due in [measure start, t) over all producers, counted at rebase-free
 * fixed rates (the measured phase never rebases). */
static uint64_t sched_total(const struct bench *b, uint64_t now)
{
    uint64_t sum = 0;
    for (int i = 0; i < b->nprods; i++)
        sum += b->prods[i].sent + (scheduled(&b->prods[i], now) - b->prods[i].k);
    return sum;
}

/* Pace every producer at total msgs/s from now on (0 pauses); unsent due
 * messages of the old rate are dropped. Producers are staggered so their
 * sends interleave. */
static void set_rate(struct bench *b, double total)
{
    uint64_t now = tern_bench_now_ns();
    b->rate = total;
    for (int i = 0; i < b->nprods; i++) {
        struct producer *pr = &b->prods[i];
        pr->k = 0;
        if (total <= 0) {
            pr->paused = true;
            continue;
        }
        pr->paused = false;
        pr->interval_ns = NS * (double)b->nprods / total;
        pr->base_ns = now + (uint64_t)(pr->interval_ns * i / b->nprods);
    }
}

/* Coalesce wake-ups closer than pacerResolution: the messages due in
 * between go out together, their wait counted in their latency. */
static uint64_t pacer_time(const struct bench *b, uint64_t due, uint64_t now)
{
    uint64_t earliest = now + (uint64_t)b->w->pacer_gap_us * 1000u;
    return due && due < earliest ? earliest : due;
}

/* Wake the pacer at at (CLOCK_MONOTONIC ns; 0 disarms). */
static void arm_pacer(struct bench *b, uint64_t at)
{
    if (b->armed_ns == at)
        return;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    if (at) {
        its.it_value.tv_sec = (time_t)(at / 1000000000ull);
        its.it_value.tv_nsec = (long)(at % 1000000000ull);
    }
    if (timerfd_settime(b->tfd, at ? TFD_TIMER_ABSTIME : 0, &its, NULL) == 0)
        b->armed_ns = at;
}

static void send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg);

static void fill_body(struct producer *pr, uint64_t due)
{
    const struct tern_bench_workload *w = pr->b->w;
    memcpy(pr->body, &due, 8);
    if (w->message_size >= TERN_BENCH_ORDER_HEADER) {
        uint32_t p = (uint32_t)pr->index, key = 0;
        uint64_t seq = 0;
        if (w->keys == TERN_BENCH_KEY_ROUND_ROBIN) {
            key = pr->key_next;
            seq = pr->key_seq[key]++;
        }
        memcpy(pr->body + 8, &p, 4);
        memcpy(pr->body + 12, &key, 4);
        memcpy(pr->body + 16, &seq, 8);
    }
}

/* Transactional workloads: the local transaction always commits. */
static enum tern_txn_state txn_commit_cb(const struct tern_send_result *res, void *arg)
{
    (void)res;
    (void)arg;
    return TERN_TXN_COMMIT;
}

/* A check-back can only come for a commit lost on the way; it committed. */
static enum tern_txn_state txn_check_cb(const struct tern_msg *m, void *arg)
{
    (void)m;
    (void)arg;
    return TERN_TXN_COMMIT;
}

/* Submit one message due at due (0: the priming send). */
static void submit(struct producer *pr, uint64_t due)
{
    struct bench *b = pr->b;
    struct slot *sl = pr->free_slots;
    pr->free_slots = sl->next_free;
    sl->due_ns = due;
    bool burst = due != 0 && b->w->burst_messages > 0;
    fill_body(pr, burst ? b->burst_due_ns : due);
    char key[16];
    struct tern_send_msg m;
    memset(&m, 0, sizeof m);
    m.topic = b->topics[pr->topic];
    m.body = pr->body;
    m.body_len = (size_t)b->w->message_size;
    if (burst) {
        m.deliver_at_ms = b->burst_due_epoch_ms;
        b->burst_left--;
    }
    if (b->w->keys == TERN_BENCH_KEY_ROUND_ROBIN) {
        snprintf(key, sizeof key, "k%" PRIu32, pr->key_next);
        m.keys = key;
        m.sharding_key = key;
        pr->key_next = (pr->key_next + 1) % (uint32_t)b->w->key_count;
    }
    pr->inflight++;
    pr->sent++;
    b->sent++;
    int err = pr->txp ? tern_txn_producer_send(pr->txp, &m, txn_commit_cb, send_cb, sl)
                      : tern_producer_send(pr->p, &m, send_cb, sl);
    if (err) {
        pr->inflight--;
        pr->failed++;
        b->failed++;
        sl->next_free = pr->free_slots;
        pr->free_slots = sl;
        count_error(b, err, tern_client_errmsg(pr->client));
    }
}

/* Send what is due; returns the due time of the next message if the window
 * has room for it (0 when paused or full). */
static uint64_t pump(struct producer *pr, uint64_t now)
{
    if (pr->paused || !pr->primed)
        return 0;
    for (;;) {
        if (pr->inflight >= pr->b->w->producer_window)
            return 0;
        if (pr->b->w->burst_messages > 0 && pr->b->burst_left == 0)
            return 0;
        uint64_t due = due_of(pr, pr->k);
        if (due > now)
            return due;
        pr->k++;
        submit(pr, due);
    }
}

static void pump_all(struct bench *b)
{
    uint64_t now = tern_bench_now_ns(), next = 0;
    for (int i = 0; i < b->nprods; i++) {
        uint64_t d = pump(&b->prods[i], now);
        if (d && (!next || d < next))
            next = d;
    }
    arm_pacer(b, pacer_time(b, next, now));
}

static void pacer_cb(uv_poll_t *h, int status, int events)
{
    struct bench *b = h->data;
    uint64_t expirations;
    while (read(b->tfd, &expirations, sizeof expirations) < 0 && errno == EINTR)
        ;
    b->armed_ns = 0;
    pump_all(b);
}

static void send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct slot *sl = arg;
    struct producer *pr = sl->pr;
    struct bench *b = pr->b;
    uint64_t now = tern_bench_now_ns();
    pr->inflight--;
    sl->next_free = pr->free_slots;
    pr->free_slots = sl;
    if (b->phase == PH_DONE)
        return;
    if (!err && res->status != TERN_SEND_OK) {
        err = TERN_BENCH_STATUS_BASE + (int)res->status;
        errmsg = "broker answered a non-OK send status";
    }
    if (err) {
        pr->failed++;
        b->failed++;
        count_error(b, err, errmsg);
    } else {
        pr->acked++;
        b->acked++;
        if (sl->due_ns == 0) {
            pr->primed = true;
        } else {
            uint64_t lat = now > sl->due_ns ? now - sl->due_ns : 0;
            tern_bench_hist_record(b->pub_iv, lat);
            if (sl->due_ns >= b->measure_start_ns && sl->due_ns < b->measure_end_ns)
                tern_bench_hist_record(b->pub_lat, lat);
        }
    }
    uint64_t next = pacer_time(b, pump(pr, now), now);
    if (next && (!b->armed_ns || next < b->armed_ns))
        arm_pacer(b, next);
}

/* ---- consumers ------------------------------------------------------------ */

static int consume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct consumer *c = arg;
    struct bench *b = c->b;
    uint64_t now = tern_bench_now_ns();
    const struct tern_bench_workload *w = b->w;
    if (c->live) {
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const uint8_t *body = tern_msg_body(msgs[i], &len);
            uint64_t due;
            if (len < 8)
                continue;
            memcpy(&due, body, 8);
            b->live_consumed++;
            if (due >= b->measure_start_ns && due < b->measure_end_ns)
                tern_bench_hist_record(b->live_lat, now > due ? now - due : 0);
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *body = tern_msg_body(msgs[i], &len);
        b->consumed++;
        if (len < 8)
            continue;
        uint64_t due;
        memcpy(&due, body, 8);
        if (due == 0)
            continue; /* priming message */
        uint64_t lat = now > due ? now - due : 0;
        tern_bench_hist_record(b->e2e_iv, lat);
        if (w->burst_messages > 0) {
            /* Lateness against the delivery time; nothing may come early. */
            tern_bench_hist_record(b->e2e_lat, lat);
            b->res.burst_received++;
            /* TIMER_DELIVER_MS has ms resolution and the realtime and monotonic
             * clocks were read apart: 2 ms of slack before "early". */
            if (now + 2000000ull < due)
                b->res.burst_early++;
            else if (lat <= 1000000000ull)
                b->res.burst_within_1s++;
        } else if (due >= b->measure_start_ns && due < b->measure_end_ns) {
            tern_bench_hist_record(b->e2e_lat, lat);
        }
        if (b->last_seq && len >= TERN_BENCH_ORDER_HEADER) {
            uint32_t p, key;
            uint64_t seq;
            memcpy(&p, body + 8, 4);
            memcpy(&key, body + 12, 4);
            memcpy(&seq, body + 16, 8);
            if ((int)p < b->nprods && key < (uint32_t)w->key_count) {
                uint64_t *last = &b->last_seq[(uint64_t)p * (uint64_t)w->key_count + key];
                if (seq + 1 <= *last)
                    b->order_violations++;
                else
                    *last = seq + 1;
            }
        }
    }
    return TERN_CONSUME_SUCCESS;
}

/* True when, for every topic, the group's consumers own each queue exactly once. */
static bool consumers_ready(struct bench *b, size_t queues_per_topic)
{
    for (int t = 0; t < (int)b->w->topics; t++) {
        size_t owned = 0;
        int members = 0;
        for (int i = 0; i < b->nconss; i++) {
            if (b->conss[i].topic != t)
                continue;
            members++;
            size_t n = tern_consumer_owned(b->conss[i].cons, NULL, 0);
            if (n == 0 && (size_t)members <= queues_per_topic)
                return false; /* this member has not rebalanced yet */
            owned += n;
        }
        if (members && owned != queues_per_topic)
            return false;
    }
    return true;
}

/* ---- phases --------------------------------------------------------------- */

static void enter(struct bench *b, enum phase ph)
{
    uint64_t now = tern_bench_now_ns();
    b->phase = ph;
    b->phase_ns = now;
    if (ph != PH_DONE && ph != PH_READY)
        fprintf(stderr, "[%6.1fs] phase %s\n", secs_since(b, now), phase_names[ph]);
}

static void progress(struct bench *b, uint64_t now, bool force)
{
    if (!force && now - b->last_progress_ns < (uint64_t)b->w->progress_ms * 1000000ull)
        return;
    double dt = (double)(now - b->last_progress_ns) / NS;
    if (dt <= 0)
        dt = 1e-9;
    struct tern_bench_progress p = {
        .t_s = secs_since(b, now),
        .phase = phase_names[b->phase],
        .rate = b->phase == PH_RECOVER || b->phase == PH_DRAIN || b->phase == PH_FILL ? 0 : b->rate,
        .pub_rate = (double)(b->acked - b->iv_acked0) / dt,
        .cons_rate = (double)(b->consumed - b->iv_consumed0) / dt,
        .pub_lat = b->pub_iv,
        .e2e_lat = b->e2e_iv,
        /* fill paces nothing (every send is due at once): its backlog is what is in flight */
        .pub_backlog = b->phase == PH_FILL ? b->sent - b->acked - b->failed : pub_backlog(b, now),
        .cons_backlog = cons_backlog(b),
        .errors = b->failed - b->iv_failed0,
    };
    tern_bench_report_progress(stderr, &p);
    tern_bench_hist_reset(b->pub_iv);
    tern_bench_hist_reset(b->e2e_iv);
    b->iv_acked0 = b->acked;
    b->iv_consumed0 = b->consumed;
    b->iv_failed0 = b->failed;
    b->last_progress_ns = now;
}

static void start_measure(struct bench *b, double rate)
{
    if (rate != b->rate || b->phase == PH_RECOVER)
        set_rate(b, rate);
    enter(b, PH_MEASURE);
    uint64_t now = b->phase_ns;
    b->measure_start_ns = now;
    b->measure_end_ns = UINT64_MAX;
    b->m_acked0 = b->acked;
    b->m_consumed0 = b->consumed;
    b->m_sched0 = sched_total(b, now);
    tern_bench_hist_reset(b->pub_lat);
    tern_bench_hist_reset(b->e2e_lat);
    b->res.target_rate = rate;
    b->cpu0_s = tern_bench_cpu_s();
    if (b->w->burst_messages > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        b->burst_left = (uint64_t)b->w->burst_messages;
        b->burst_due_ns = now + (uint64_t)b->w->deliver_after_ms * 1000000ull;
        b->burst_due_epoch_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
                                b->w->deliver_after_ms;
    }
    pump_all(b);
}

static void end_measure(struct bench *b)
{
    uint64_t now = tern_bench_now_ns();
    struct tern_bench_result *r = &b->res;
    b->measure_end_ns = now;
    double dt = (double)(now - b->measure_start_ns) / NS;
    r->measured_s = dt;
    r->bench_cpu = dt > 0 ? (tern_bench_cpu_s() - b->cpu0_s) / dt : 0;
    r->intended = sched_total(b, now) - b->m_sched0;
    r->published = b->acked - b->m_acked0;
    r->consumed = b->consumed - b->m_consumed0;
    r->publish_rate = dt > 0 ? (double)r->published / dt : 0;
    r->consume_rate = dt > 0 ? (double)r->consumed / dt : 0;
    r->publish_mbps = r->publish_rate * (double)b->w->message_size / 1e6;
    r->consume_mbps = r->consume_rate * (double)b->w->message_size / 1e6;
    r->pub_backlog_end = pub_backlog(b, now);
    r->cons_backlog_end = cons_backlog(b);
    set_rate(b, 0);
    arm_pacer(b, 0);
    enter(b, PH_DRAIN);
}

static double backlog_allowed(const struct bench *b, double rate)
{
    double a = rate * (double)b->w->max_backlog_ms / 1000.0;
    return a < 100 ? 100 : a;
}

static bool ramp_over(const struct bench *b, uint64_t now)
{
    return b->interrupts || now - b->ramp_start_ns >= (uint64_t)b->w->ramp_max_ms * 1000000ull ||
           (b->hi > 0 && b->lo > 0 && (b->hi - b->lo) / b->hi < 0.05);
}

static void start_step(struct bench *b, double rate)
{
    set_rate(b, rate);
    enter(b, PH_RAMP);
    if (!b->ramp_start_ns)
        b->ramp_start_ns = b->phase_ns;
    b->step_acked0 = b->acked;
    b->step_consumed0 = b->consumed;
    b->step_failed0 = b->failed;
    b->step_mid_backlog = UINT64_MAX;
    pump_all(b);
}

/* End of a ramp step: judge it and choose the next rate. */
static void end_step(struct bench *b, uint64_t now)
{
    struct tern_bench_result *r = &b->res;
    double dt = (double)(now - b->phase_ns) / NS;
    struct tern_bench_step s = {
        .t_s = secs_since(b, b->phase_ns),
        .rate = b->rate,
        .pub_rate = (double)(b->acked - b->step_acked0) / dt,
        .cons_rate = (double)(b->consumed - b->step_consumed0) / dt,
        .pub_backlog = pub_backlog(b, now),
        .cons_backlog = cons_backlog(b),
        .errors = b->failed - b->step_failed0,
    };
    /* Sustained: no errors, 97% of the rate acknowledged, both backlogs
     * within bounds at the end and not growing since the middle of the step. */
    double allowed = backlog_allowed(b, s.rate);
    uint64_t end_backlog = s.pub_backlog + s.cons_backlog;
    bool growing = b->step_mid_backlog != UINT64_MAX &&
                   (double)end_backlog > (double)b->step_mid_backlog + allowed / 4;
    s.ok = s.errors == 0 && (double)s.pub_backlog <= allowed &&
           (double)s.cons_backlog <= allowed && s.pub_rate >= 0.97 * s.rate && !growing;
    if (r->nsteps < TERN_BENCH_MAX_STEPS)
        r->steps[r->nsteps++] = s;
    fprintf(stderr,
            "[%6.1fs] ramp step %.0f msgs/s: %s (acknowledged %.0f/s, consumed %.0f/s, "
            "backlog %" PRIu64 "/%" PRIu64 " allowed %.0f, errors %" PRIu64 ")\n",
            secs_since(b, now), s.rate, s.ok ? "sustained" : "NOT sustained", s.pub_rate,
            s.cons_rate, s.pub_backlog, s.cons_backlog, allowed, s.errors);
    if (s.ok) {
        if (s.rate > b->lo)
            b->lo = s.rate;
    } else if (!b->hi || s.rate < b->hi) {
        b->hi = s.rate;
    }
    if (b->lo > r->ramp_best_rate)
        r->ramp_best_rate = b->lo;
    if (ramp_over(b, now)) {
        double rate = b->lo ? b->lo : (b->hi ? b->hi / 2 : s.rate);
        if (s.ok) {
            start_measure(b, rate);
        } else {
            set_rate(b, 0);
            b->rate = rate;
            enter(b, PH_RECOVER);
        }
        return;
    }
    double next = !b->hi ? s.rate * 2 : (b->lo ? (b->lo + b->hi) / 2 : b->hi / 2);
    if (s.ok) {
        start_step(b, next);
    } else {
        /* Pause until the backlog is gone, then try next. */
        set_rate(b, 0);
        b->rate = next;
        enter(b, PH_RECOVER);
    }
}

static void close_done_cb(void *arg)
{
    struct bench *b = arg;
    b->open_clients--;
}

static void finish(struct bench *b)
{
    struct tern_bench_result *r = &b->res;
    r->sent_total = b->sent;
    r->acked_total = b->acked;
    r->consumed_total = b->consumed;
    r->order_violations = b->order_violations;
    r->not_acked = 0;
    for (int i = 0; i < b->nprods; i++)
        r->not_acked += (uint64_t)b->prods[i].inflight;
    r->not_consumed = cons_backlog(b);
    enter(b, PH_DONE);
    uv_timer_stop(&b->tick);
    uv_poll_stop(&b->pacer);
    arm_pacer(b, 0);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->pacer, NULL);
    uv_close((uv_handle_t *)&b->sigint, NULL);
    /* Each client was counted in open_clients when it was created. */
    for (int i = 0; i < b->nconss; i++)
        if (b->conss[i].client)
            tern_client_close(b->conss[i].client, close_done_cb, b);
    for (int i = 0; i < b->nlive; i++)
        if (b->live[i].client)
            tern_client_close(b->live[i].client, close_done_cb, b);
    for (int i = 0; i < b->nprods; i++)
        if (b->prods[i].client)
            tern_client_close(b->prods[i].client, close_done_cb, b);
}

static void fail_setup(struct bench *b, const char *what)
{
    fprintf(stderr, "tern-bench: %s\n", what);
    b->failed_setup = true;
    finish(b);
}

static int start_consumers(struct bench *b);

/* Highest VmRSS (kB) of each tern-broker this run was told about; delay-burst
 * reports it as the broker's memory at the peak of pending messages. */
static void sample_rss(struct bench *b)
{
    for (int i = 0; i < b->nbroker_pids; i++) {
        char path[64], line[128];
        snprintf(path, sizeof path, "/proc/%d/status", b->broker_pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long long kb;
            if (sscanf(line, "VmRSS: %llu", &kb) == 1) {
                if (kb > b->res.broker_rss_peak_kb[i])
                    b->res.broker_rss_peak_kb[i] = kb;
                break;
            }
        }
        fclose(f);
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct bench *b = t->data;
    const struct tern_bench_workload *w = b->w;
    uint64_t now = tern_bench_now_ns();
    uint64_t in_phase = now - b->phase_ns;
    sample_rss(b);
    switch (b->phase) {
    case PH_READY: {
        if (consumers_ready(b, b->queues_per_topic)) {
            fprintf(stderr, "[%6.1fs] consumers own every queue\n", secs_since(b, now));
            enter(b, PH_PRIME);
            for (int i = 0; i < b->nprods; i++)
                submit(&b->prods[i], 0);
        } else if (in_phase > READY_TIMEOUT_NS || b->interrupts) {
            fail_setup(b, b->interrupts ? "interrupted while consumers joined"
                                        : "consumers did not own every queue within 30 s");
        }
        return;
    }
    case PH_PRIME: {
        bool all = true;
        for (int i = 0; i < b->nprods; i++)
            all = all && b->prods[i].primed;
        if (all) {
            b->last_progress_ns = now;
            b->iv_acked0 = b->acked;
            b->iv_consumed0 = b->consumed;
            if (w->backlog_size > 0) {
                set_rate(b, 1e9); /* every send due at once: the window paces */
                enter(b, PH_FILL);
                pump_all(b);
            } else if (w->producer_rate > 0) {
                if (w->warmup_ms > 0 && w->burst_messages == 0) {
                    set_rate(b, (double)w->producer_rate);
                    enter(b, PH_WARMUP);
                    pump_all(b);
                } else {
                    start_measure(b, (double)w->producer_rate);
                }
            } else {
                start_step(b, (double)w->ramp_start_rate);
            }
        } else if (in_phase > PRIME_TIMEOUT_NS || b->interrupts || b->failed > 0) {
            fail_setup(b, "the first send of every producer did not succeed (see errors above)");
        }
        return;
    }
    case PH_WARMUP:
        progress(b, now, false);
        if (in_phase >= (uint64_t)w->warmup_ms * 1000000ull || b->interrupts)
            start_measure(b, b->rate);
        return;
    case PH_RAMP:
        progress(b, now, false);
        if (b->step_mid_backlog == UINT64_MAX &&
            in_phase >= (uint64_t)w->ramp_step_ms * 500000ull)
            b->step_mid_backlog = pub_backlog(b, now) + cons_backlog(b);
        if (in_phase >= (uint64_t)w->ramp_step_ms * 1000000ull || b->interrupts)
            end_step(b, now);
        return;
    case PH_RECOVER: {
        progress(b, now, false);
        bool drained = pub_backlog(b, now) == 0 &&
                       (double)cons_backlog(b) <= backlog_allowed(b, b->rate) / 4;
        if (drained || in_phase > RECOVER_TIMEOUT_NS || b->interrupts) {
            if (ramp_over(b, now))
                start_measure(b, b->lo ? b->lo : b->rate);
            else
                start_step(b, b->rate);
        }
        return;
    }
    case PH_FILL:
        progress(b, now, false);
        if (b->interrupts) {
            end_measure(b);
        } else if ((b->acked - (uint64_t)b->nprods) * w->message_size >= w->backlog_size) {
            b->res.backlog_msgs = b->sent - (uint64_t)b->nprods;
            fprintf(stderr, "[%6.1fs] backlog of %" PRIu64 " messages; consumers start\n",
                    secs_since(b, now), b->res.backlog_msgs);
            if (start_consumers(b) != 0) {
                fail_setup(b, "could not start the consumers");
                return;
            }
            start_measure(b, (double)w->producer_rate);
        }
        return;
    case PH_MEASURE:
        progress(b, now, false);
        if (w->backlog_size > 0) {
            /* Drained: every queue owned and the consumers within maxBacklog of the rate. */
            bool caught_up = consumers_ready(b, b->queues_per_topic) &&
                             (double)cons_backlog(b) <= backlog_allowed(b, b->rate);
            if (caught_up)
                b->res.backlog_drained = true;
            if (caught_up || in_phase >= (uint64_t)w->test_duration_ms * 1000000ull ||
                b->interrupts)
                end_measure(b);
        } else if (w->burst_messages > 0) {
            if (b->burst_left == 0 || b->interrupts)
                end_measure(b);
        } else if (in_phase >= (uint64_t)w->test_duration_ms * 1000000ull || b->interrupts) {
            end_measure(b);
        }
        return;
    case PH_DRAIN: {
        progress(b, now, false);
        bool acks = true;
        for (int i = 0; i < b->nprods; i++)
            acks = acks && b->prods[i].inflight == 0;
        if ((acks && cons_backlog(b) == 0) ||
            in_phase >= (uint64_t)w->drain_timeout_ms * 1000000ull || b->interrupts > 1) {
            if (now - b->last_progress_ns > 100000000ull)
                progress(b, now, true);
            finish(b);
        }
        return;
    }
    case PH_DONE:
        return;
    }
}

static void sigint_cb(uv_signal_t *h, int signum)
{
    struct bench *b = h->data;
    (void)signum;
    b->interrupts++;
    b->res.interrupted = true;
    if (b->interrupts > 2) {
        fprintf(stderr, "tern-bench: interrupted three times, exiting\n");
        exit(130);
    }
    fprintf(stderr, "tern-bench: interrupted; ending the %s phase\n", phase_names[b->phase]);
}

/* ---- setup ---------------------------------------------------------------- */

/* Create the topics and wait until the name server routes every queue. */
static int create_topics(struct bench *b)
{
    struct tern_client_opts co;
    tern_client_opts_init(&co);
    co.namesrv_addr = b->namesrv;
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    int rv = tern_sync_open(&co, &s, err);
    if (rv) {
        fprintf(stderr, "tern-bench: connect: %s (%s)\n", err, tern_err_name(rv));
        return rv;
    }
    /* The topics go to every master; wait until each of them routes them. */
    size_t masters = 0;
    const struct tern_cluster_info *ci;
    rv = tern_sync_cluster_info(s, &ci);
    if (rv)
        fprintf(stderr, "tern-bench: %s (%s)\n", tern_sync_errmsg(s), tern_err_name(rv));
    for (size_t i = 0; rv == 0 && i < ci->broker_count; i++)
        for (size_t j = 0; j < ci->brokers[i].addr_count; j++)
            if (ci->brokers[i].addrs[j].id == 0)
                masters++;
    for (int t = 0; t < (int)b->w->topics && rv == 0; t++) {
        struct tern_topic_opts to = {0};
        to.topic = b->topics[t];
        to.read_queues = to.write_queues = (int)b->w->partitions_per_topic;
        to.perm = 6;
        rv = tern_sync_create_topic(s, &to);
        if (rv) {
            fprintf(stderr, "tern-bench: create topic %s: %s (%s)\n", to.topic,
                    tern_sync_errmsg(s), tern_err_name(rv));
            break;
        }
        /* Every broker that took the topic registers it with the name server. */
        uint64_t deadline = tern_bench_now_ns() + 15ull * 1000000000ull;
        for (;;) {
            const struct tern_route *route;
            int r2 = tern_sync_topic_route(s, to.topic, &route);
            /* Every broker that routes the topic must show all its queues. */
            bool complete = r2 == 0 && route->queue_count >= masters && route->queue_count > 0;
            size_t readable = 0;
            for (size_t i = 0; complete && i < route->queue_count; i++) {
                complete = route->queues[i].write_queues >= to.write_queues &&
                           route->queues[i].read_queues >= to.read_queues;
                readable += (size_t)route->queues[i].read_queues;
            }
            if (complete) {
                b->queues_per_topic = readable;
                break;
            }
            if (tern_bench_now_ns() > deadline) {
                fprintf(stderr,
                        "tern-bench: topic %s is not routed with %d queues on %zu broker(s) "
                        "after 15 s\n",
                        to.topic, to.write_queues, masters);
                rv = TERN_E_TIMEOUT;
                break;
            }
            uv_sleep(100);
        }
    }
    tern_sync_close(s);
    return rv;
}

static int new_client(struct bench *b, const char *role, int i, struct tern_client **out)
{
    struct tern_client_opts co;
    tern_client_opts_init(&co);
    co.namesrv_addr = b->namesrv;
    char inst[64];
    snprintf(inst, sizeof inst, "tern-bench-%d-%s%d", (int)getpid(), role, i);
    co.instance_name = inst;
    char err[TERN_ERRMSG_SIZE];
    int rv = tern_client_new(&b->loop, &co, out, err);
    if (rv)
        fprintf(stderr, "tern-bench: client: %s (%s)\n", err, tern_err_name(rv));
    else
        b->open_clients++;
    return rv;
}

/* consumersPerTopic consumers per topic into *arr (*n of them); live: the
 * backlog's caught-up group. */
static int open_consumers(struct bench *b, struct consumer **arr, int *n, bool live)
{
    const struct tern_bench_workload *w = b->w;
    *n = (int)(w->topics * w->consumers_per_topic);
    *arr = calloc((size_t)*n + 1, sizeof **arr);
    if (!*arr) {
        *n = 0;
        return TERN_E_NOMEM;
    }
    for (int i = 0; i < *n; i++) {
        struct consumer *c = &(*arr)[i];
        c->b = b;
        c->live = live;
        c->topic = i / (int)w->consumers_per_topic;
        int rv = new_client(b, live ? "l" : "c", i, &c->client);
        if (rv)
            return rv;
        char group[160];
        snprintf(group, sizeof group, "%s-g%d%s", b->prefix, c->topic, live ? "-live" : "");
        struct tern_consumer_opts o;
        tern_consumer_opts_init(&o);
        o.group = group;
        o.topic = b->topics[c->topic];
        o.from = TERN_FROM_FIRST; /* fresh topic: everything produced is ours */
        o.batch_max = (size_t)w->consumer_batch;
        o.pull_batch = w->consumer_batch > 32 ? (int)w->consumer_batch : 32;
        o.rebalance_ms = 2000;
        o.commit_ms = 1000;
        o.cb = consume_cb;
        o.arg = c;
        rv = tern_consumer_new(c->client, &o, &c->cons);
        if (rv) {
            fprintf(stderr, "tern-bench: consumer: %s (%s)\n", tern_client_errmsg(c->client),
                    tern_err_name(rv));
            return rv;
        }
    }
    return 0;
}

static int start_consumers(struct bench *b)
{
    return open_consumers(b, &b->conss, &b->nconss, false);
}

/* backlog: the live group, started with the producers. */
static int start_live_consumers(struct bench *b)
{
    return open_consumers(b, &b->live, &b->nlive, true);
}

static int start_producers(struct bench *b)
{
    const struct tern_bench_workload *w = b->w;
    b->nprods = (int)(w->topics * w->producers_per_topic);
    b->prods = calloc((size_t)b->nprods, sizeof *b->prods);
    if (!b->prods)
        return TERN_E_NOMEM;
    for (int i = 0; i < b->nprods; i++) {
        struct producer *pr = &b->prods[i];
        pr->b = b;
        pr->index = i;
        pr->topic = i / (int)w->producers_per_topic;
        pr->paused = true;
        pr->body = malloc((size_t)w->message_size);
        pr->slots = calloc((size_t)w->producer_window + 1, sizeof *pr->slots);
        if (w->keys == TERN_BENCH_KEY_ROUND_ROBIN)
            pr->key_seq = calloc((size_t)w->key_count, sizeof *pr->key_seq);
        if (!pr->body || !pr->slots || (w->keys == TERN_BENCH_KEY_ROUND_ROBIN && !pr->key_seq))
            return TERN_E_NOMEM;
        for (size_t j = 0; j < (size_t)w->producer_window + 1; j++) {
            pr->slots[j].pr = pr;
            pr->slots[j].next_free = pr->free_slots;
            pr->free_slots = &pr->slots[j];
        }
        /* Printable filler after the header, so bodies are not trivially compressible. */
        for (size_t j = 0; j < (size_t)w->message_size; j++)
            pr->body[j] = (char)('a' + (j * 7 + (size_t)i) % 26);
        int rv = new_client(b, "p", i, &pr->client);
        if (rv)
            return rv;
        struct tern_producer_opts po;
        tern_producer_opts_init(&po);
        char group[160];
        snprintf(group, sizeof group, "%s-producer", b->prefix);
        po.group = group;
        po.compress_threshold = SIZE_MAX; /* measure the broker, not zlib */
        po.max_in_flight = (size_t)w->producer_window + 1;
        rv = w->transactional ? tern_txn_producer_new(pr->client, &po, txn_check_cb, NULL, &pr->txp)
                              : tern_producer_new(pr->client, &po, &pr->p);
        if (rv) {
            fprintf(stderr, "tern-bench: producer: %s (%s)\n", tern_client_errmsg(pr->client),
                    tern_err_name(rv));
            return rv;
        }
    }
    return 0;
}

/* ---- verdict -------------------------------------------------------------- */

static void judge(struct bench *b)
{
    struct tern_bench_result *r = &b->res;
    const struct tern_bench_workload *w = b->w;
    double target = r->target_rate;
    double allowed = backlog_allowed(b, target);
    bool pub_ok = r->published > 0 && r->publish_rate >= 0.98 * target &&
                  (double)r->pub_backlog_end <= allowed;
    bool cons_ok = w->consumers_per_topic == 0 ||
                   (r->consume_rate >= 0.98 * target && (double)r->cons_backlog_end <= allowed);
    bool clean = r->errors == 0 && r->order_violations == 0;
    if (w->backlog_size > 0) {
        /* The backlog's own checks: drained before testDuration, nothing lost. */
        bool ok = r->backlog_drained && r->backlog_msgs > 0 && r->not_consumed == 0 &&
                  r->not_acked == 0 && clean && !r->interrupted;
        r->target_reached = ok;
        snprintf(r->verdict, sizeof r->verdict,
                 "backlog %s: %" PRIu64 " messages %s in %.1f s, %.0f msgs/s (%.2f MB/s) while "
                 "producing %.0f msgs/s",
                 ok ? "passed" : "FAILED", r->backlog_msgs,
                 r->backlog_drained ? "drained" : "NOT drained", r->measured_s, r->consume_rate,
                 r->consume_mbps, r->target_rate);
        return;
    }
    if (w->burst_messages > 0) {
        /* The burst's own checks: all of it acknowledged and delivered, none early. */
        uint64_t n = (uint64_t)w->burst_messages;
        /* Acks of the burst over the whole run (the measured phase ends at the last
         * send, before its ack): every send but the producers' priming ones. */
        uint64_t acked = r->acked_total - (r->sent_total > n ? r->sent_total - n : 0);
        bool ok = acked == n && r->not_acked == 0 && r->burst_received == n && r->burst_early == 0 && clean &&
                  !r->interrupted;
        r->target_reached = ok;
        snprintf(r->verdict, sizeof r->verdict,
                 "delay-burst %s: %" PRIu64 " of %" PRIu64 " acknowledged, %" PRIu64
                 " delivered (%" PRIu64 " early), %.2f%% within 1 s of the due time",
                 ok ? "passed" : "FAILED", acked, n, r->burst_received, r->burst_early,
                 r->burst_received ? 100.0 * (double)r->burst_within_1s / (double)n : 0.0);
        return;
    }
    r->target_reached = pub_ok && cons_ok && clean && !r->interrupted;
    char why[256] = "";
    if (!pub_ok)
        snprintf(why, sizeof why, "; publishers fell behind (%.0f of %.0f msgs/s, backlog %" PRIu64
                                  " at the end, %.0f allowed)",
                 r->publish_rate, target, r->pub_backlog_end, allowed);
    else if (!cons_ok)
        snprintf(why, sizeof why, "; consumers fell behind (%.0f of %.0f msgs/s, backlog %" PRIu64
                                  " at the end, %.0f allowed)",
                 r->consume_rate, target, r->cons_backlog_end, allowed);
    else if (!clean)
        snprintf(why, sizeof why, "; %" PRIu64 " failed sends, %" PRIu64 " order violations",
                 r->errors, r->order_violations);
    else if (r->interrupted)
        snprintf(why, sizeof why, "; interrupted");
    char consumed[64] = "";
    if (w->consumers_per_topic > 0)
        snprintf(consumed, sizeof consumed, ", consumed %.0f msgs/s", r->consume_rate);
    if (r->max_rate && r->target_reached)
        snprintf(r->verdict, sizeof r->verdict,
                 "max-rate: %.0f msgs/s sustained (ramp best %.0f msgs/s): published %.0f "
                 "msgs/s%s in the measured run",
                 target, r->ramp_best_rate, r->publish_rate, consumed);
    else if (r->max_rate)
        snprintf(r->verdict, sizeof r->verdict,
                 "max-rate: %.0f msgs/s was NOT sustained in the measured run (ramp best %.0f "
                 "msgs/s): published %.0f msgs/s%s%s",
                 target, r->ramp_best_rate, r->publish_rate, consumed, why);
    else
        snprintf(r->verdict, sizeof r->verdict, "target %.0f msgs/s %s: published %.0f msgs/s%s%s",
                 target, r->target_reached ? "reached" : "NOT reached", r->publish_rate, consumed,
                 r->target_reached ? "" : why);
}

/* ---- main ----------------------------------------------------------------- */

static const char usage_text[] =
    "usage: tern-bench --workload FILE [--namesrv ADDR] [--duration S] [--json FILE]\n"
    "\n"
    "Runs one OpenMessaging-style workload against a Tern (or RocketMQ-compatible)\n"
    "cluster: creates fresh topics, starts push consumers and paced producers on one\n"
    "event loop, and reports publish and consume rates and publish and end-to-end\n"
    "latency percentiles (p50, p99, p99.9, max). Progress goes to stderr every\n"
    "progressInterval, the final table to stdout.\n"
    "\n"
    "  --namesrv ADDR     name server host:port (default $TERN_NAMESRV or 127.0.0.1:9876)\n"
    "  --workload FILE    workload file (key = value; see --print-workload)\n"
    "  --duration S       measured seconds (overrides testDuration)\n"
    "  --warmup S         warm-up seconds (overrides warmupDuration)\n"
    "  --rate R           msgs/s over all producers (overrides producerRate; 0 = max-rate)\n"
    "  --json FILE        also write the result as JSON (\"-\" = stdout)\n"
    "  --print-workload   print every workload key with its default and meaning\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 the run completed (whether or not the target was reached: see the\n"
    "verdict line and \"target_reached\"), 1 setup failed or nothing was published,\n"
    "2 usage error.\n";

/* Free what main allocated (the loop and clients are closed by then). */
static void bench_free(struct bench *b)
{
    for (int i = 0; i < b->nprods; i++) {
        free(b->prods[i].body);
        free(b->prods[i].slots);
        free(b->prods[i].key_seq);
    }
    free(b->prods);
    free(b->conss);
    free(b->live);
    free(b->live_lat);
    free(b->last_seq);
    free(b->topics);
    free(b->pub_lat);
    free(b->e2e_lat);
    free(b->pub_iv);
    free(b->e2e_iv);
    free(b);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"namesrv", required_argument, NULL, 'n'}, {"workload", required_argument, NULL, 'w'},
        {"duration", required_argument, NULL, 'd'}, {"warmup", required_argument, NULL, 'W'},
        {"rate", required_argument, NULL, 'r'},     {"json", required_argument, NULL, 'j'},
        {"print-workload", no_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *namesrv = getenv("TERN_NAMESRV"), *wpath = NULL, *json = NULL;
    double duration = -1, warmup = -1, rate = -1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'n':
            namesrv = optarg;
            break;
        case 'w':
            wpath = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'd':
        case 'W':
        case 'r': {
            double v = strtod(optarg, &end);
            if (end == optarg || *end || v < 0 || v > 1e9) {
                fprintf(stderr, "tern-bench: bad number '%s'\n%s", optarg, usage_text);
                return EXIT_USAGE;
            }
            *(c == 'd' ? &duration : c == 'W' ? &warmup : &rate) = v;
            break;
        }
        case 'P':
            tern_bench_workload_print_doc(stdout);
            return 0;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc || !wpath) {
        fprintf(stderr, "tern-bench: %s\n%s",
                wpath ? "unexpected argument" : "--workload is required", usage_text);
        return EXIT_USAGE;
    }
    if (!namesrv || !*namesrv)
        namesrv = "127.0.0.1:9876";

    struct tern_bench_workload w;
    char err[ERRMSG_SIZE];
    if (tern_bench_workload_load(&w, wpath, err)) {
        fprintf(stderr, "tern-bench: workload: %s\n", err);
        return EXIT_USAGE;
    }
    if (duration >= 0)
        w.test_duration_ms = duration < 1 ? 1000 : (int64_t)(duration * 1000);
    if (warmup >= 0)
        w.warmup_ms = (int64_t)(warmup * 1000);
    if (rate >= 0)
        w.producer_rate = (int64_t)rate;

    tern_log_set_level(TERN_LOG_WARN);
    struct bench *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    b->w = &w;
    b->namesrv = namesrv;
    b->tfd = -1;
    b->measure_start_ns = UINT64_MAX;
    b->measure_end_ns = UINT64_MAX;
    snprintf(b->prefix, sizeof b->prefix, "bench-%lld-%d", (long long)time(NULL), (int)getpid());
    b->topics = calloc((size_t)w.topics, sizeof *b->topics);
    b->pub_lat = malloc(sizeof *b->pub_lat);
    b->e2e_lat = malloc(sizeof *b->e2e_lat);
    b->pub_iv = malloc(sizeof *b->pub_iv);
    b->e2e_iv = malloc(sizeof *b->e2e_iv);
    b->live_lat = malloc(sizeof *b->live_lat);
    if (!b->topics || !b->pub_lat || !b->e2e_lat || !b->pub_iv || !b->e2e_iv || !b->live_lat) {
        fprintf(stderr, "tern-bench: out of memory\n");
        bench_free(b);
        return 1;
    }
    tern_bench_hist_reset(b->pub_lat);
    tern_bench_hist_reset(b->e2e_lat);
    tern_bench_hist_reset(b->pub_iv);
    tern_bench_hist_reset(b->e2e_iv);
    tern_bench_hist_reset(b->live_lat);
    for (int t = 0; t < (int)w.topics; t++)
        snprintf(b->topics[t], sizeof b->topics[t], "%s-t%d", b->prefix, t);
    if (w.keys == TERN_BENCH_KEY_ROUND_ROBIN && w.message_size >= TERN_BENCH_ORDER_HEADER) {
        b->last_seq = calloc((size_t)(w.topics * w.producers_per_topic * w.key_count),
                             sizeof *b->last_seq);
        if (!b->last_seq) {
            fprintf(stderr, "tern-bench: out of memory\n");
            bench_free(b);
            return 1;
        }
    }
    struct tern_bench_result *r = &b->res;
    r->w = &w;
    r->namesrv = namesrv;
    r->topic_prefix = b->prefix;
    r->max_rate = w.producer_rate == 0;
    /* bench/run.sh exports the pids of the tern-brokers it started. */
    for (const char *pids = getenv("TERN_BENCH_BROKER_PIDS"); pids && *pids && b->nbroker_pids < 16;) {
        char *end;
        long pid = strtol(pids, &end, 10);
        if (end == pids)
            break;
        if (pid > 0)
            b->broker_pids[b->nbroker_pids++] = (int)pid;
        pids = end;
    }
    r->nbrokers = b->nbroker_pids;

    fprintf(stderr, "tern-bench: workload %s against %s: %" PRId64 " topic(s) x %" PRId64
                    " queues, %" PRIu64 " B, %" PRId64 "+%" PRId64
                    " producers+consumers per topic, %s\n",
            w.name, namesrv, w.topics, w.partitions_per_topic, w.message_size,
            w.producers_per_topic, w.consumers_per_topic,
            w.producer_rate ? "fixed rate" : "max-rate");
    b->t0_ns = tern_bench_now_ns();
    if (create_topics(b) != 0) {
        bench_free(b);
        return 1;
    }

    int rv = uv_loop_init(&b->loop);
    b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (rv || b->tfd < 0) {
        fprintf(stderr, "tern-bench: event loop: %s\n", rv ? uv_strerror(rv) : strerror(errno));
        if (rv == 0)
            uv_loop_close(&b->loop);
        bench_free(b);
        return 1;
    }
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_poll_init(&b->loop, &b->pacer, b->tfd);
    b->pacer.data = b;
    uv_poll_start(&b->pacer, UV_READABLE, pacer_cb);
    uv_signal_init(&b->loop, &b->sigint);
    b->sigint.data = b;
    uv_signal_start(&b->sigint, sigint_cb, SIGINT);

    b->phase = PH_READY;
    b->phase_ns = tern_bench_now_ns();
    /* backlog: the draining group starts once the backlog is built
     * (PH_FILL); the live group starts now. */
    if ((w.backlog_size == 0 ? start_consumers(b) : start_live_consumers(b)) != 0 || start_producers(b) != 0) {
        fail_setup(b, "could not start the clients");
    } else {
        uv_timer_start(&b->tick, tick_cb, TICK_MS, TICK_MS);
    }
    uv_run(&b->loop, UV_RUN_DEFAULT);
    /* Client closes may still be finishing if run returned early. */
    while (b->open_clients > 0 && uv_run(&b->loop, UV_RUN_ONCE))
        ;
    if (uv_loop_close(&b->loop) != 0)
        fprintf(stderr, "tern-bench: warning: event loop still had handles at exit\n");
    close(b->tfd);

    int status = 0;
    if (b->failed_setup) {
        status = 1;
    } else {
        r->pub_lat = b->pub_lat;
        r->e2e_lat = b->e2e_lat;
        r->live_lat = b->live_lat;
        r->live_consumed = b->live_consumed;
        judge(b);
        tern_bench_report_table(stdout, r);
        fflush(stdout);
        if (json && tern_bench_report_json(r, json, err) != 0) {
            fprintf(stderr, "tern-bench: json: %s\n", err);
            status = 1;
        }
        if (r->published == 0)
            status = 1;
    }

    bench_free(b);
    return status;
}
