/* A log-linear latency histogram (HdrHistogram-style buckets) for tern-bench.
 *
 * Values are unsigned 64-bit integers (tern-bench records nanoseconds). Values
 * below 256 are counted exactly; above, each power-of-two range is split into
 * 128 equal buckets, so a bucket is at most 1/128 (0.78%) of its lower bound
 * wide and a reported percentile (the bucket's midpoint, clamped to the exact
 * minimum and maximum) is within 0.4% of a value that was recorded. The whole
 * uint64 range fits in TERN_BENCH_HIST_BUCKETS counters (58 KiB); recording is
 * a count-leading-zeros, a shift and an increment, with no allocation. */
#ifndef TERN_BENCH_HIST_H
#define TERN_BENCH_HIST_H

#include <stdint.h>

/* log2 of the number of sub-buckets per power of two, plus one. */
#define TERN_BENCH_HIST_SUB_BITS 8
#define TERN_BENCH_HIST_HALF (1u << (TERN_BENCH_HIST_SUB_BITS - 1))
/* Exact buckets 0..255, then 128 per exponent 1..56. */
#define TERN_BENCH_HIST_BUCKETS ((64 - TERN_BENCH_HIST_SUB_BITS + 2) * TERN_BENCH_HIST_HALF)

struct tern_bench_hist {
    uint64_t total;
    uint64_t min, max; /* exact; min is UINT64_MAX while empty */
    double sum;        /* for the mean */
    uint64_t counts[TERN_BENCH_HIST_BUCKETS];
};

/* Empty the histogram (also the initialiser). */
void tern_bench_hist_reset(struct tern_bench_hist *h);
/* Count value v once / n times. */
void tern_bench_hist_record(struct tern_bench_hist *h, uint64_t v);
void tern_bench_hist_record_n(struct tern_bench_hist *h, uint64_t v, uint64_t n);
/* Add every count of src into dst. */
void tern_bench_hist_merge(struct tern_bench_hist *dst, const struct tern_bench_hist *src);
/* The value at or below which a fraction q (0..1) of the recorded values lie:
 * the midpoint of that bucket, clamped to [min, max]; q >= 1 gives the exact
 * max, q <= 0 the exact min. 0 when empty. */
uint64_t tern_bench_hist_quantile(const struct tern_bench_hist *h, double q);
/* Arithmetic mean of the recorded values (0 when empty). */
double tern_bench_hist_mean(const struct tern_bench_hist *h);

/* Bucket arithmetic, exposed for the unit test: the bucket of v, and the
 * lowest value and the width of bucket i. */
unsigned tern_bench_hist_bucket(uint64_t v);
uint64_t tern_bench_hist_bucket_low(unsigned i);
uint64_t tern_bench_hist_bucket_width(unsigned i);

#endif
