/* Shared by tern-bench and the peer drivers: clock, CPU meter, latency output. */
#include "bench/tern_bench_common.h"

#include <inttypes.h>
#include <sys/resource.h>
#include <time.h>

uint64_t tern_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double tern_bench_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double tern_bench_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

void tern_bench_lat_row(FILE *out, const char *what, const struct tern_bench_hist *h)
{
    if (!h || h->total == 0) {
        fprintf(out, "  %-22s (no samples)\n", what);
        return;
    }
    fprintf(out, "  %-22s %9.3f %9.3f %9.3f %9.3f %9.3f %10" PRIu64 "\n", what,
            tern_bench_ms(tern_bench_hist_quantile(h, 0.50)),
            tern_bench_ms(tern_bench_hist_quantile(h, 0.99)),
            tern_bench_ms(tern_bench_hist_quantile(h, 0.999)), tern_bench_ms(h->max),
            tern_bench_hist_mean(h) / 1e6, h->total);
}

json_t *tern_bench_lat_json(const struct tern_bench_hist *h)
{
    if (!h)
        return json_null();
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)h->total, "p50",
                     tern_bench_ms(tern_bench_hist_quantile(h, 0.50)), "p99",
                     tern_bench_ms(tern_bench_hist_quantile(h, 0.99)), "p99.9",
                     tern_bench_ms(tern_bench_hist_quantile(h, 0.999)), "max",
                     tern_bench_ms(h->max), "min", h->total ? tern_bench_ms(h->min) : 0.0, "mean",
                     tern_bench_hist_mean(h) / 1e6);
}
