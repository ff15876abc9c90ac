/* tern-bench workloads: OpenMessaging-Benchmark-style parameters read from
 * "key = value" files (src/config.h), with their defaults and validation. */
#ifndef TERN_BENCH_WORKLOAD_H
#define TERN_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

enum tern_bench_keys {
    TERN_BENCH_NO_KEY = 0,
    TERN_BENCH_KEY_ROUND_ROBIN = 1, /* keys k0..k(keyCount-1) in turn, sharding by key */
};

struct tern_bench_workload {
    char name[128];              /* default: the file's basename without extension */
    int64_t topics;
    int64_t partitions_per_topic;
    uint64_t message_size;       /* bytes, at least TERN_BENCH_MIN_MESSAGE */
    int64_t producers_per_topic;
    int64_t consumers_per_topic; /* one consumer group per topic; 0: produce only */
    char key_distributor[32];    /* NO_KEY | KEY_ROUND_ROBIN */
    int64_t key_count;
    int64_t producer_rate;       /* msgs/s over all producers; 0 = max-rate (ramp) */
    int64_t test_duration_ms;
    int64_t warmup_ms;           /* fixed-rate: run at the rate, discard the stats */
    int64_t producer_window;     /* sends in flight per producer */
    int64_t pacer_gap_us;        /* least time between two pacer wake-ups */
    int64_t consumer_batch;      /* messages per consume callback */
    int64_t ramp_start_rate;     /* max-rate: first rate tried */
    int64_t ramp_step_ms;        /* max-rate: length of one ramp step */
    int64_t ramp_max_ms;         /* max-rate: time budget of the ramp */
    int64_t max_backlog_ms;      /* a backlog worth more than this many ms of the
                                    rate (or growing by more during a step) fails */
    int64_t drain_timeout_ms;    /* after the run: wait this long for acks and consumers */
    int64_t progress_ms;         /* progress line interval */
    bool transactional;          /* half message + commit per message (libtern txn producer) */
    uint64_t backlog_size;       /* backlog: bytes of bodies produced before consumers start; 0 = off */
    int64_t burst_messages;      /* delay-burst: messages sent with one delivery time; 0 = off */
    int64_t deliver_after_ms;    /* delay-burst: that time, this long after the burst starts */

    /* Derived by tern_bench_workload_load. */
    enum tern_bench_keys keys;
};

/* Body layout: send time (8 bytes, ns, host order), producer index (4),
 * key index (4), per-(producer, key) sequence (8); the rest is filler. The
 * order check needs all 24 bytes, latency only the first 8. */
#define TERN_BENCH_MIN_MESSAGE 8
#define TERN_BENCH_ORDER_HEADER 24

/* Defaults, then the file at path (if not NULL), then validation. errmsg
 * (ERRMSG_SIZE) names the file, line and key on failure. Returns 0 or
 * TERN_E_INVAL / TERN_E_NOTFOUND / TERN_E_IO. */
int tern_bench_workload_load(struct tern_bench_workload *w, const char *path, char *errmsg);
/* Every key with its default and meaning, as a commented workload file. */
void tern_bench_workload_print_doc(FILE *out);
/* The workload as a new JSON object (keys as in the file, durations in ms),
 * or NULL without memory. */
json_t *tern_bench_workload_json(const struct tern_bench_workload *w);

#endif
