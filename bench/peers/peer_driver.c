/* Options, schedule, bodies, recording and report shared by the peer drivers. */
#include "bench/peers/peer_driver.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/tern_bench_common.h"
#include "src/errmsg.h"

#define NS 1000000000.0

static void usage(const char *tool, int status)
{
    fprintf(status ? stderr : stdout,
            "usage: %s --url ADDR --workload FILE [options]\n"
            "  --url ADDR       server (nats: nats://127.0.0.1:4222; redis: 127.0.0.1:6379)\n"
            "  --workload FILE  a tern-bench workload (bench/workloads/*.conf)\n"
            "  --duration S     measured seconds (default: the workload's testDuration)\n"
            "  --warmup S       seconds before measuring (default: warmupDuration)\n"
            "  --rate R         msgs/s; 0 = max-rate, closed loop with producerWindow in\n"
            "                   flight (default: the workload's producerRate)\n"
            "  --replicas N     stream replicas (nats only, default 1)\n"
            "  --label TEXT     system under test, for the report\n"
            "  --ack TEXT       what an acknowledgement means, for the report\n"
            "  --json FILE      write the result as JSON\n",
            tool);
    exit(status);
}

void peer_driver_init(struct peer_driver *d, const char *tool, int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, 0, 'u'},      {"workload", required_argument, 0, 'w'},
        {"duration", required_argument, 0, 'd'}, {"warmup", required_argument, 0, 'W'},
        {"rate", required_argument, 0, 'r'},     {"replicas", required_argument, 0, 'R'},
        {"label", required_argument, 0, 'l'},    {"ack", required_argument, 0, 'a'},
        {"json", required_argument, 0, 'j'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(d, 0, sizeof *d);
    d->tool = tool;
    d->label = tool;
    d->ack = "";
    d->replicas = 1;
    double duration = -1, warmup = -1, rate = -1;
    const char *workload = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': d->url = optarg; break;
        case 'w': workload = optarg; break;
        case 'd': duration = atof(optarg); break;
        case 'W': warmup = atof(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'R': d->replicas = atoi(optarg); break;
        case 'l': d->label = optarg; break;
        case 'a': d->ack = optarg; break;
        case 'j': d->json_path = optarg; break;
        case 'h': usage(tool, 0); break;
        default: usage(tool, 2);
        }
    }
    if (!d->url || !workload)
        usage(tool, 2);
    char errmsg[ERRMSG_SIZE];
    if (tern_bench_workload_load(&d->w, workload, errmsg) != 0) {
        fprintf(stderr, "%s: %s\n", tool, errmsg);
        exit(2);
    }
    d->duration_s = duration > 0 ? duration : (double)d->w.test_duration_ms / 1e3;
    d->warmup_s = warmup >= 0 ? warmup : (double)d->w.warmup_ms / 1e3;
    d->rate = rate >= 0 ? rate : (double)d->w.producer_rate;
    if (d->replicas < 1 || d->w.producer_window < 1) {
        fprintf(stderr, "%s: --replicas and producerWindow must be at least 1\n", tool);
        exit(2);
    }
    tern_bench_hist_reset(&d->pub_lat);
    tern_bench_hist_reset(&d->e2e_lat);
}

void peer_driver_start(struct peer_driver *d)
{
    d->t_begin = tern_bench_now_ns();
    d->t_measure = d->t_begin + (uint64_t)(d->warmup_s * NS);
    d->t_end = d->t_measure + (uint64_t)(d->duration_s * NS);
}

uint64_t peer_driver_due(const struct peer_driver *d, uint64_t k)
{
    if (d->rate <= 0)
        return tern_bench_now_ns();
    return d->t_begin + (uint64_t)((double)k * NS / d->rate);
}

void peer_driver_fill(const struct peer_driver *d, unsigned char *body, uint64_t due)
{
    memcpy(body, &due, sizeof due);
    memset(body + sizeof due, 'x', d->w.message_size - sizeof due);
}

uint64_t peer_driver_body_due(const void *body, size_t len)
{
    uint64_t due = 0;
    if (len >= sizeof due)
        memcpy(&due, body, sizeof due);
    return due;
}

static bool measured(const struct peer_driver *d, uint64_t due)
{
    return due >= d->t_measure && due < d->t_end;
}

void peer_driver_acked(struct peer_driver *d, uint64_t due, uint64_t now)
{
    atomic_fetch_add(&d->acked, 1);
    if (measured(d, due)) {
        d->acked_measured++;
        tern_bench_hist_record(&d->pub_lat, now > due ? now - due : 0);
    }
}

void peer_driver_failed(struct peer_driver *d, const char *what)
{
    if (atomic_fetch_add(&d->errors, 1) == 0)
        snprintf(d->first_error, sizeof d->first_error, "%s", what);
}

void peer_driver_received(struct peer_driver *d, const void *body, size_t len, uint64_t now)
{
    uint64_t due = peer_driver_body_due(body, len);
    atomic_fetch_add(&d->consumed, 1);
    if (measured(d, due)) {
        d->consumed_measured++;
        tern_bench_hist_record(&d->e2e_lat, now > due ? now - due : 0);
    }
}

int peer_driver_report(struct peer_driver *d)
{
    double secs = d->duration_s;
    double pub_rate = (double)d->acked_measured / secs;
    double cons_rate = (double)d->consumed_measured / secs;
    double mb = (double)d->w.message_size / 1e6;
    uint64_t sent = atomic_load(&d->sent), acked = atomic_load(&d->acked);
    uint64_t consumed = atomic_load(&d->consumed), errors = atomic_load(&d->errors);
    bool max_rate = d->rate <= 0;
    FILE *out = stdout;

    fprintf(out, "\n%s (%s): workload %s, %" PRIu64 " B messages, %" PRId64 " queues\n", d->label,
            d->tool, d->w.name, d->w.message_size, d->w.partitions_per_topic);
    if (max_rate)
        fprintf(out, "mode     max-rate (closed loop, %" PRId64 " in flight); measured %.1f s\n",
                d->w.producer_window, secs);
    else
        fprintf(out, "mode     fixed rate %.0f msgs/s; measured %.1f s\n", d->rate, secs);
    fprintf(out, "ack      %s\n", d->ack);
    fprintf(out, "\n  %-22s %12s %10s %12s\n", "", "msgs/s", "MB/s", "messages");
    fprintf(out, "  %-22s %12.1f %10.2f %12" PRIu64 "\n", "publish (acknowledged)", pub_rate,
            pub_rate * mb, d->acked_measured);
    fprintf(out, "  %-22s %12.1f %10.2f %12" PRIu64 "\n", "consume", cons_rate, cons_rate * mb,
            d->consumed_measured);
    fprintf(out, "\n  %-22s %9s %9s %9s %9s %9s %10s\n", "latency (ms)", "p50", "p99", "p99.9",
            "max", "mean", "samples");
    tern_bench_lat_row(out, "publish", &d->pub_lat);
    tern_bench_lat_row(out, "end-to-end", &d->e2e_lat);
    double cpu = (d->cpu1 - d->cpu0) / (secs + d->warmup_s);
    fprintf(out, "\n  the driver used %.0f%% of one CPU core; sent %" PRIu64 ", acknowledged %" PRIu64
                 ", consumed %" PRIu64 ", errors %" PRIu64 "%s%s\n",
            cpu * 100, sent, acked, consumed, errors, errors ? ": " : "", d->first_error);

    int rv = d->acked_measured > 0 ? 0 : 1;
    if (!d->json_path)
        return rv;
    json_t *doc = json_pack(
        "{s:s,s:i,s:s,s:s,s:s,s:i,s:s,s:f,s:f,s:I,"
        "s:{s:I,s:f,s:f,s:o},s:{s:I,s:f,s:f,s:o},"
        "s:{s:I,s:I,s:I,s:I,s:s},s:f}",
        "tool", d->tool, "format", 1, "system", d->label, "ack", d->ack, "workload_name",
        d->w.name, "replicas", d->replicas, "mode", max_rate ? "max-rate" : "fixed-rate",
        "target_rate", d->rate, "measured_s", secs, "message_size", (json_int_t)d->w.message_size,
        "publish", "count", (json_int_t)d->acked_measured, "rate", pub_rate, "mb_per_s",
        pub_rate * mb, "latency_ms", tern_bench_lat_json(&d->pub_lat),
        "consume", "count", (json_int_t)d->consumed_measured, "rate", cons_rate, "mb_per_s",
        cons_rate * mb, "e2e_latency_ms", tern_bench_lat_json(&d->e2e_lat),
        "totals", "sent", (json_int_t)sent, "acknowledged", (json_int_t)acked, "consumed",
        (json_int_t)consumed, "errors", (json_int_t)errors, "first_error", d->first_error,
        "bench_cpu", cpu);
    if (!doc || json_dump_file(doc, d->json_path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf(stderr, "%s: cannot write %s\n", d->tool, d->json_path);
        rv = 1;
    }
    json_decref(doc);
    return rv;
}
