/* tern-bench results: what one run measured, printed as a table, written as
 * JSON, and the progress line printed while it runs. */
#ifndef TERN_BENCH_REPORT_H
#define TERN_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/tern_bench_hist.h"
#include "bench/tern_bench_workload.h"

#define TERN_BENCH_MAX_ERRS 16
#define TERN_BENCH_MAX_STEPS 128

/* Failed sends of one kind: a TERN_E_* code, or a broker's non-OK send
 * status (TERN_BENCH_STATUS_BASE + status). */
#define TERN_BENCH_STATUS_BASE 100000
struct tern_bench_err {
    int code;
    uint64_t count;
    char sample[160]; /* detail of the first occurrence */
};

/* One step of a max-rate ramp. */
struct tern_bench_step {
    double t_s;            /* start, seconds since the run began */
    double rate;           /* rate asked for, msgs/s */
    double pub_rate;       /* acknowledged during the step, msgs/s */
    double cons_rate;      /* received during the step, msgs/s */
    uint64_t pub_backlog;  /* scheduled - acknowledged at the end */
    uint64_t cons_backlog; /* acknowledged - received at the end */
    uint64_t errors;
    bool ok;
};

struct tern_bench_result {
    const struct tern_bench_workload *w;
    const char *namesrv;
    const char *topic_prefix;
    bool max_rate;
    bool interrupted;

    double target_rate;       /* fixed-rate: producerRate; max-rate: the rate measured at */
    double measured_s;        /* length of the measured phase */
    uint64_t intended;        /* sends due during the measured phase */
    uint64_t published;       /* acknowledged during it */
    uint64_t consumed;        /* received during it */
    double publish_rate, consume_rate; /* msgs/s */
    double publish_mbps, consume_mbps; /* 10^6 bytes/s of bodies */
    double bench_cpu; /* CPU seconds of tern-bench per second while measuring (1 = one core) */
    const struct tern_bench_hist *pub_lat; /* ns, sends due in the measured phase */
    const struct tern_bench_hist *e2e_lat; /* ns, messages sent in the measured phase */

    uint64_t pub_backlog_end, cons_backlog_end; /* when the measured phase ended */
    uint64_t sent_total, acked_total, consumed_total; /* whole run, warm-up included */
    uint64_t not_acked;        /* sends still unanswered after the drain */
    uint64_t not_consumed;     /* acknowledged but never received after the drain */
    uint64_t order_violations; /* keyed: a key's message at or behind its predecessor */
    uint64_t errors;           /* failed sends, whole run */
    struct tern_bench_err errs[TERN_BENCH_MAX_ERRS];
    size_t nerrs;

    struct tern_bench_step steps[TERN_BENCH_MAX_STEPS];
    size_t nsteps;
    double ramp_best_rate; /* highest rate a ramp step sustained */

    /* backlog (backlogSize > 0): the measured phase is the drain; consume_* is the drain rate. */
    uint64_t backlog_msgs;  /* acknowledged (or in flight) when consumers started */
    bool backlog_drained;   /* consumers caught up before testDuration */
    /* A second group that reads from the start of the run (caught up when the
     * drain starts): end-to-end latency of live messages while the backlog drains. */
    const struct tern_bench_hist *live_lat; /* ns, messages sent in the measured phase */
    uint64_t live_consumed;                 /* messages the live group received, whole run */
    /* delay-burst (burstMessages > 0); e2e_lat is then each message's lateness. */
    uint64_t burst_received, burst_within_1s, burst_early;
    uint64_t broker_rss_peak_kb[16]; /* per TERN_BENCH_BROKER_PIDS entry, 0 = unknown */
    int nbrokers;

    bool target_reached;
    char verdict[512];
};

/* Name of an error code of struct tern_bench_err. */
const char *tern_bench_report_err_name(int code);
/* The final table (human-readable). */
void tern_bench_report_table(FILE *out, const struct tern_bench_result *r);
/* Write the result as JSON to path ("-" = stdout). Returns 0 or TERN_E_IO /
 * TERN_E_NOMEM with errmsg (ERRMSG_SIZE) set. */
int tern_bench_report_json(const struct tern_bench_result *r, const char *path, char *errmsg);

/* One progress line: rates and latencies over the last interval. */
struct tern_bench_progress {
    double t_s;
    const char *phase;
    double rate; /* paced rate, 0 = paused */
    double pub_rate, cons_rate;
    const struct tern_bench_hist *pub_lat, *e2e_lat; /* interval histograms, ns */
    uint64_t pub_backlog, cons_backlog, errors;
};
void tern_bench_report_progress(FILE *out, const struct tern_bench_progress *p);

#endif
