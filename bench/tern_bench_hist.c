/* Log-linear latency histogram for tern-bench: exact below 256, 128 buckets per octave above. */
#include "bench/tern_bench_hist.h"

#include <math.h>
#include <string.h>

void tern_bench_hist_reset(struct tern_bench_hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned tern_bench_hist_bucket(uint64_t v)
{
    if (v < 2 * TERN_BENCH_HIST_HALF)
        return (unsigned)v;
    /* v has its top bit at msb >= SUB_BITS: keep SUB_BITS significant bits. */
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned e = msb - (TERN_BENCH_HIST_SUB_BITS - 1);
    return e * TERN_BENCH_HIST_HALF + (unsigned)(v >> e);
}

uint64_t tern_bench_hist_bucket_low(unsigned i)
{
    if (i < 2 * TERN_BENCH_HIST_HALF)
        return i;
    unsigned e = i / TERN_BENCH_HIST_HALF - 1;
    uint64_t mant = i - e * TERN_BENCH_HIST_HALF;
    return mant << e;
}

uint64_t tern_bench_hist_bucket_width(unsigned i)
{
    if (i < 2 * TERN_BENCH_HIST_HALF)
        return 1;
    return (uint64_t)1 << (i / TERN_BENCH_HIST_HALF - 1);
}

void tern_bench_hist_record_n(struct tern_bench_hist *h, uint64_t v, uint64_t n)
{
    if (n == 0)
        return;
    h->counts[tern_bench_hist_bucket(v)] += n;
    h->total += n;
    h->sum += (double)v * (double)n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void tern_bench_hist_record(struct tern_bench_hist *h, uint64_t v)
{
    tern_bench_hist_record_n(h, v, 1);
}

void tern_bench_hist_merge(struct tern_bench_hist *dst, const struct tern_bench_hist *src)
{
    if (src->total == 0)
        return;
    for (unsigned i = 0; i < TERN_BENCH_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t tern_bench_hist_quantile(const struct tern_bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    /* The rank-th smallest value, rank = ceil(q * total), at least 1. */
    double r = ceil(q * (double)h->total);
    uint64_t rank = r < 1 ? 1 : (uint64_t)r;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (unsigned i = 0; i < TERN_BENCH_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = tern_bench_hist_bucket_low(i) + tern_bench_hist_bucket_width(i) / 2;
            if (v < h->min)
                v = h->min;
            if (v > h->max)
                v = h->max;
            return v;
        }
    }
    return h->max;
}

double tern_bench_hist_mean(const struct tern_bench_hist *h)
{
    return h->total ? h->sum / (double)h->total : 0.0;
}
