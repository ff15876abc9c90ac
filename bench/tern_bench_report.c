/* tern-bench output: the final table, the JSON document (jansson) and progress lines. */
#include "bench/tern_bench_report.h"

#include "bench/tern_bench_common.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>

#include "src/errmsg.h"
#include "tern/error.h"
#include "tern/tern.h"

const char *tern_bench_report_err_name(int code)
{
    switch (code - TERN_BENCH_STATUS_BASE) {
    case TERN_SEND_FLUSH_DISK_TIMEOUT:
        return "FLUSH_DISK_TIMEOUT";
    case TERN_SEND_SLAVE_NOT_AVAILABLE:
        return "SLAVE_NOT_AVAILABLE";
    case TERN_SEND_FLUSH_SLAVE_TIMEOUT:
        return "FLUSH_SLAVE_TIMEOUT";
    default:
        return tern_err_name(code);
    }
}

void tern_bench_report_table(FILE *out, const struct tern_bench_result *r)
{
    const struct tern_bench_workload *w = r->w;
    fprintf(out, "\nworkload %s: %" PRId64 " topic(s) x %" PRId64 " queues, %" PRIu64
                 " B messages, %" PRId64 " producer(s) and %" PRId64
                 " consumer(s) per topic, %s\n",
            w->name, w->topics, w->partitions_per_topic, w->message_size, w->producers_per_topic,
            w->consumers_per_topic, w->key_distributor);
    if (r->max_rate)
        fprintf(out, "mode     max-rate: ramp found %.0f msgs/s; measured %.1f s at %.0f msgs/s\n",
                r->ramp_best_rate, r->measured_s, r->target_rate);
    else
        fprintf(out, "mode     fixed rate %.0f msgs/s; measured %.1f s\n", r->target_rate,
                r->measured_s);
    fprintf(out, "\n  %-22s %12s %10s %12s\n", "", "msgs/s", "MB/s", "messages");
    fprintf(out, "  %-22s %12.1f %10.2f %12" PRIu64 "\n", "publish (acknowledged)",
            r->publish_rate, r->publish_mbps, r->published);
    if (w->consumers_per_topic > 0)
        fprintf(out, "  %-22s %12.1f %10.2f %12" PRIu64 "\n", "consume", r->consume_rate,
                r->consume_mbps, r->consumed);
    fprintf(out, "\n  %-22s %9s %9s %9s %9s %9s %10s\n", "latency (ms)", "p50", "p99", "p99.9",
            "max", "mean", "samples");
    tern_bench_lat_row(out, "publish", r->pub_lat);
    if (w->consumers_per_topic > 0)
        tern_bench_lat_row(out, "end-to-end", r->e2e_lat);
    if (w->backlog_size > 0 && r->live_lat)
        tern_bench_lat_row(out, "end-to-end, live group", r->live_lat);
    fprintf(out, "\n  publish latency counts from each send's intended time (no coordinated "
                 "omission)%s\n",
            w->consumers_per_topic > 0
                ? ";\n  end-to-end = receive time - that time, same host clock."
                : ".");
    fprintf(out, "\n  tern-bench itself used %.0f%% of one CPU core while measuring%s\n",
            r->bench_cpu * 100,
            r->bench_cpu > 0.9 ? " (near saturation: the driver may bound these figures)" : "");
    fprintf(out, "\n  sends due %" PRIu64 ", errors %" PRIu64 ", unanswered after drain %" PRIu64,
            r->intended, r->errors, r->not_acked);
    if (w->consumers_per_topic > 0)
        fprintf(out, ", acknowledged but not consumed %" PRIu64, r->not_consumed);
    if (w->keys == TERN_BENCH_KEY_ROUND_ROBIN)
        fprintf(out, ", per-key order violations %" PRIu64, r->order_violations);
    fprintf(out, "\n");
    if (w->backlog_size > 0)
        fprintf(out, "\n  backlog: %" PRIu64 " messages (%.1f MB) built with no consumer; %s in "
                     "%.1f s while producing %.0f msgs/s:\n  drain (consume) %.0f msgs/s, "
                     "%.2f MB/s; end-to-end above = messages produced during the drain, read by\n"
                     "  the draining group behind its backlog; live group = a second group that read\n"
                     "  from the start of the run, caught up when the drain starts (%" PRIu64 " received)\n",
                r->backlog_msgs, (double)r->backlog_msgs * (double)w->message_size / 1e6,
                r->backlog_drained ? "drained" : "NOT drained", r->measured_s, r->target_rate,
                r->consume_rate, r->consume_mbps, r->live_consumed);
    if (w->burst_messages > 0) {
        fprintf(out, "\n  delay-burst: %" PRIu64 " messages due %" PRId64 " ms after the burst "
                     "began; received %" PRIu64 ", %" PRIu64 " within 1 s of the due time "
                     "(%.2f%%), %" PRIu64 " early\n  (end-to-end above = lateness: receive "
                     "time - due time)\n",
                (uint64_t)w->burst_messages, w->deliver_after_ms, r->burst_received,
                r->burst_within_1s,
                100.0 * (double)r->burst_within_1s / (double)w->burst_messages, r->burst_early);
        for (int i = 0; i < r->nbrokers; i++)
            fprintf(out, "  tern-broker %d peak RSS %.1f MB\n", i,
                    (double)r->broker_rss_peak_kb[i] / 1024.0);
    }
    for (size_t i = 0; i < r->nerrs; i++)
        fprintf(out, "  error %-22s x%" PRIu64 ": %s\n",
                tern_bench_report_err_name(r->errs[i].code), r->errs[i].count, r->errs[i].sample);
    fprintf(out, "\n%s %s\n", r->target_reached ? "OK:" : "NOT REACHED:", r->verdict);
}

static json_t *result_json(const struct tern_bench_result *r)
{
    json_t *errs = json_array(), *steps = json_array();
    for (size_t i = 0; errs && i < r->nerrs; i++)
        json_array_append_new(errs, json_pack("{s:s,s:i,s:I,s:s}", "name",
                                              tern_bench_report_err_name(r->errs[i].code), "code",
                                              r->errs[i].code, "count",
                                              (json_int_t)r->errs[i].count, "sample",
                                              r->errs[i].sample));
    for (size_t i = 0; steps && i < r->nsteps; i++) {
        const struct tern_bench_step *s = &r->steps[i];
        json_array_append_new(steps, json_pack("{s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:b}", "t_s", s->t_s,
                                               "rate", s->rate, "publish_rate", s->pub_rate,
                                               "consume_rate", s->cons_rate, "publish_backlog",
                                               (json_int_t)s->pub_backlog, "consume_backlog",
                                               (json_int_t)s->cons_backlog, "errors",
                                               (json_int_t)s->errors, "ok", s->ok));
    }
    json_t *workload = tern_bench_workload_json(r->w);
    if (!errs || !steps || !workload) {
        json_decref(errs);
        json_decref(steps);
        json_decref(workload);
        return NULL;
    }
    bool consumers = r->w->consumers_per_topic > 0;
    return json_pack(
        "{s:s,s:i,s:o,s:s,s:s,s:s,s:b,s:f,s:f,"
        "s:{s:I,s:I,s:f,s:f,s:o,s:I},"
        "s:{s:I,s:f,s:f,s:o,s:I},"
        "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o},s:f,"
        "s:{s:f,s:o},"
        "s:b,s:s}",
        "tool", "tern-bench", "format", 1, "workload", workload, "namesrv", r->namesrv,
        "topic_prefix", r->topic_prefix, "mode", r->max_rate ? "max-rate" : "fixed-rate",
        "interrupted", r->interrupted, "target_rate", r->target_rate, "measured_s", r->measured_s,
        "publish", "intended", (json_int_t)r->intended, "count", (json_int_t)r->published, "rate",
        r->publish_rate, "mb_per_s", r->publish_mbps, "latency_ms", tern_bench_lat_json(r->pub_lat),
        "backlog_end", (json_int_t)r->pub_backlog_end,
        "consume", "count", (json_int_t)r->consumed, "rate", r->consume_rate, "mb_per_s",
        r->consume_mbps, "e2e_latency_ms", consumers ? tern_bench_lat_json(r->e2e_lat) : json_null(),
        "backlog_end", (json_int_t)r->cons_backlog_end,
        "totals", "sent", (json_int_t)r->sent_total, "acknowledged", (json_int_t)r->acked_total,
        "consumed", (json_int_t)r->consumed_total, "errors", (json_int_t)r->errors, "not_acked",
        (json_int_t)r->not_acked, "not_consumed", (json_int_t)r->not_consumed,
        "order_violations", (json_int_t)r->order_violations, "errors_by_kind", errs,
        "bench_cpu", r->bench_cpu,
        "ramp", "best_rate", r->ramp_best_rate, "steps", steps,
        "target_reached", r->target_reached, "verdict", r->verdict);
}

int tern_bench_report_json(const struct tern_bench_result *r, const char *path, char *errmsg)
{
    json_t *doc = result_json(r);
    if (doc && r->w->backlog_size > 0) {
        json_t *bl = json_pack("{s:I,s:I,s:b,s:f,s:f,s:f,s:I,s:o}", "messages", (json_int_t)r->backlog_msgs,
                               "bytes", (json_int_t)(r->backlog_msgs * r->w->message_size),
                               "drained", r->backlog_drained, "drain_s", r->measured_s,
                               "drain_rate", r->consume_rate, "drain_mb_per_s", r->consume_mbps,
                               "live_consumed", (json_int_t)r->live_consumed, "live_e2e_latency_ms",
                               r->live_lat ? tern_bench_lat_json(r->live_lat) : json_null());
        if (!bl || json_object_set_new(doc, "backlog", bl) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    if (doc && r->w->burst_messages > 0) {
        json_t *rss = json_array();
        for (int i = 0; rss && i < r->nbrokers; i++)
            json_array_append_new(rss, json_integer((json_int_t)r->broker_rss_peak_kb[i]));
        json_t *burst = json_pack("{s:I,s:I,s:I,s:I,s:f,s:o}", "messages",
                                  (json_int_t)r->w->burst_messages, "received",
                                  (json_int_t)r->burst_received, "within_1s",
                                  (json_int_t)r->burst_within_1s, "early",
                                  (json_int_t)r->burst_early, "within_1s_fraction",
                                  (double)r->burst_within_1s / (double)r->w->burst_messages,
                                  "broker_rss_peak_kb", rss ? rss : json_null());
        if (!burst || json_object_set_new(doc, "delay_burst", burst) != 0) {
            json_decref(doc);
            doc = NULL;
        }
    }
    if (!doc) {
        errmsg_printf(errmsg, "build JSON: out of memory");
        return TERN_E_NOMEM;
    }
    int rv = 0;
    size_t flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6);
    if (strcmp(path, "-") == 0) {
        if (json_dumpf(doc, stdout, flags) != 0 || fputc('\n', stdout) == EOF) {
            errmsg_printf(errmsg, "write JSON to stdout failed");
            rv = TERN_E_IO;
        }
    } else {
        FILE *f = fopen(path, "w");
        if (!f) {
            errmsg_printf(errmsg, "open %s: %s", path, strerror(errno));
            rv = TERN_E_IO;
        } else {
            if (json_dumpf(doc, f, flags) != 0 || fputc('\n', f) == EOF)
                rv = TERN_E_IO;
            if (fclose(f) != 0)
                rv = TERN_E_IO;
            if (rv)
                errmsg_printf(errmsg, "write %s failed", path);
        }
    }
    json_decref(doc);
    return rv;
}

void tern_bench_report_progress(FILE *out, const struct tern_bench_progress *p)
{
    fprintf(out,
            "[%6.1fs] %-7s rate %8.0f | pub %8.0f/s lat p50 %7.2f p99 %7.2f max %8.2f ms"
            " | cons %8.0f/s e2e p50 %7.2f p99 %7.2f max %8.2f ms"
            " | backlog %" PRIu64 "/%" PRIu64 " | errors %" PRIu64 "\n",
            p->t_s, p->phase, p->rate, p->pub_rate, tern_bench_ms(tern_bench_hist_quantile(p->pub_lat, 0.5)),
            tern_bench_ms(tern_bench_hist_quantile(p->pub_lat, 0.99)), tern_bench_ms(p->pub_lat->max), p->cons_rate,
            tern_bench_ms(tern_bench_hist_quantile(p->e2e_lat, 0.5)),
            tern_bench_ms(tern_bench_hist_quantile(p->e2e_lat, 0.99)), tern_bench_ms(p->e2e_lat->max), p->pub_backlog,
            p->cons_backlog, p->errors);
    fflush(out);
}
