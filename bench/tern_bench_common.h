/* What tern-bench and the peer drivers (bench/peers/) share, so every system is
 * measured with the same clock, histogram and latency report: the clock, the
 * CPU meter, and a latency histogram as a table row and as JSON. */
#ifndef TERN_BENCH_COMMON_H
#define TERN_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bench/tern_bench_hist.h"

/* CLOCK_MONOTONIC in ns: the clock of send times carried in message bodies
 * (the same clock as uv_hrtime, so libuv and plain-thread drivers agree). */
uint64_t tern_bench_now_ns(void);
/* User + system CPU seconds of this process. */
double tern_bench_cpu_s(void);
/* ns -> ms. */
double tern_bench_ms(uint64_t ns);
/* One table row: p50 p99 p99.9 max mean (ms) and the sample count. */
void tern_bench_lat_row(FILE *out, const char *what, const struct tern_bench_hist *h);
/* {"count", "p50", "p99", "p99.9", "max", "min", "mean"} in ms; JSON null for
 * h == NULL. A new reference (NULL without memory). */
json_t *tern_bench_lat_json(const struct tern_bench_hist *h);

#endif
