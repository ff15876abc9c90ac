/* Unit tests for tern-bench's histogram (bench/tern_bench_hist.c): buckets, precision, quantiles. */
#include <stdlib.h>
#include <string.h>

#include "bench/tern_bench_hist.h"
#include "tests/lib/testlib.h"

static struct tern_bench_hist *hist_new(void)
{
    struct tern_bench_hist *h = malloc(sizeof *h);
    assert_non_null(h);
    tern_bench_hist_reset(h);
    return h;
}

/* |got - want| <= want * rel */
static void assert_near(uint64_t got, uint64_t want, double rel)
{
    double d = (double)got - (double)want;
    if (d < 0)
        d = -d;
    if (d > (double)want * rel)
        fail_msg("got %llu, want %llu within %.3f%%", (unsigned long long)got,
                 (unsigned long long)want, rel * 100);
}

static void test_buckets_tile_the_whole_range(void **state)
{
    (void)state;
    assert_int_equal(tern_bench_hist_bucket(0), 0);
    assert_int_equal(tern_bench_hist_bucket(255), 255);
    assert_int_equal(tern_bench_hist_bucket(256), 256);
    assert_int_equal(tern_bench_hist_bucket(UINT64_MAX), TERN_BENCH_HIST_BUCKETS - 1);
    for (unsigned i = 0; i < TERN_BENCH_HIST_BUCKETS; i++) {
        uint64_t lo = tern_bench_hist_bucket_low(i), w = tern_bench_hist_bucket_width(i);
        assert_true(w >= 1);
        /* Both ends of a bucket map back to it, and buckets are contiguous. */
        assert_int_equal(tern_bench_hist_bucket(lo), i);
        assert_int_equal(tern_bench_hist_bucket(lo + (w - 1)), i);
        if (i + 1 < TERN_BENCH_HIST_BUCKETS)
            assert_true(tern_bench_hist_bucket_low(i + 1) == lo + w);
        else
            assert_true(lo + (w - 1) == UINT64_MAX);
        /* Precision: no bucket is wider than 1/128 of its lower bound. */
        if (i >= 256)
            assert_true(w * 128 <= lo);
    }
}

static void test_empty_and_single_value(void **state)
{
    (void)state;
    struct tern_bench_hist *h = hist_new();
    assert_int_equal(tern_bench_hist_quantile(h, 0.5), 0);
    assert_int_equal(tern_bench_hist_quantile(h, 1.0), 0);
    assert_true(tern_bench_hist_mean(h) == 0.0);

    /* One value: every quantile is that value exactly (clamped to min/max). */
    tern_bench_hist_record(h, 123456789);
    assert_int_equal(h->total, 1);
    assert_int_equal(tern_bench_hist_quantile(h, 0.0), 123456789);
    assert_int_equal(tern_bench_hist_quantile(h, 0.5), 123456789);
    assert_int_equal(tern_bench_hist_quantile(h, 0.999), 123456789);
    assert_int_equal(tern_bench_hist_quantile(h, 1.0), 123456789);
    assert_true(tern_bench_hist_mean(h) == 123456789.0);

    tern_bench_hist_reset(h);
    assert_int_equal(h->total, 0);
    assert_int_equal(tern_bench_hist_quantile(h, 0.99), 0);
    free(h);
}

static void test_uniform_quantiles_within_one_percent(void **state)
{
    (void)state;
    struct tern_bench_hist *h = hist_new();
    for (uint64_t v = 1; v <= 1000000; v++)
        tern_bench_hist_record(h, v);
    assert_int_equal(h->total, 1000000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 1000000);
    assert_near(tern_bench_hist_quantile(h, 0.50), 500000, 0.01);
    assert_near(tern_bench_hist_quantile(h, 0.99), 990000, 0.01);
    assert_near(tern_bench_hist_quantile(h, 0.999), 999000, 0.01);
    assert_int_equal(tern_bench_hist_quantile(h, 1.0), 1000000);
    assert_near((uint64_t)tern_bench_hist_mean(h), 500000, 0.0001);
    /* Small values are exact. */
    assert_int_equal(tern_bench_hist_quantile(h, 100.0 / 1000000), 100);
    free(h);
}

static void test_tail_is_not_averaged_away(void **state)
{
    (void)state;
    /* 990 fast sends and 10 slow ones: p99 is fast, p99.9 and max are slow. */
    struct tern_bench_hist *h = hist_new();
    tern_bench_hist_record_n(h, 1000000, 990);   /* 1 ms */
    tern_bench_hist_record_n(h, 100000000, 10);  /* 100 ms */
    assert_near(tern_bench_hist_quantile(h, 0.99), 1000000, 0.005);
    assert_near(tern_bench_hist_quantile(h, 0.991), 100000000, 0.005);
    assert_near(tern_bench_hist_quantile(h, 0.999), 100000000, 0.005);
    assert_int_equal(tern_bench_hist_quantile(h, 1.0), 100000000);
    free(h);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_matches_exact_quantiles_of_a_random_sample(void **state)
{
    (void)state;
    /* Log-spread values from 1 us to ~1 s, from a fixed LCG. */
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    struct tern_bench_hist *h = hist_new();
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned shift = (unsigned)(x >> 59) % 20; /* 2^0 .. 2^19 */
        v[i] = 1000 + ((x >> 20) & ((1ull << shift) - 1)) * 1000 / 512;
        tern_bench_hist_record(h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    const double qs[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        size_t rank = (size_t)(qs[k] * N + 0.999999); /* ceil */
        assert_near(tern_bench_hist_quantile(h, qs[k]), v[rank - 1], 0.005);
    }
    assert_int_equal(tern_bench_hist_quantile(h, 1.0), v[N - 1]);
    assert_int_equal(tern_bench_hist_quantile(h, 0.0), v[0]);
    free(v);
    free(h);
}

static void test_merge_equals_recording_together(void **state)
{
    (void)state;
    struct tern_bench_hist *a = hist_new(), *b = hist_new(), *all = hist_new();
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t val = i * i * 37 + 5;
        tern_bench_hist_record(i % 3 ? a : b, val);
        tern_bench_hist_record(all, val);
    }
    tern_bench_hist_merge(a, b);
    assert_int_equal(a->total, all->total);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->max, all->max);
    assert_memory_equal(a->counts, all->counts, sizeof a->counts);
    /* Merging an empty histogram changes nothing (its min is UINT64_MAX). */
    tern_bench_hist_reset(b);
    tern_bench_hist_merge(a, b);
    assert_int_equal(a->min, all->min);
    assert_int_equal(a->total, all->total);
    free(a);
    free(b);
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile_the_whole_range),
        cmocka_unit_test(test_empty_and_single_value),
        cmocka_unit_test(test_uniform_quantiles_within_one_percent),
        cmocka_unit_test(test_tail_is_not_averaged_away),
        cmocka_unit_test(test_matches_exact_quantiles_of_a_random_sample),
        cmocka_unit_test(test_merge_equals_recording_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
