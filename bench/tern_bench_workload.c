/* tern-bench workload files: the key table, loading, validation and the JSON echo of a workload. */
#include "bench/tern_bench_workload.h"

#include <stddef.h>
#include <string.h>

#include "src/config.h"
#include "src/errmsg.h"
#include "tern/error.h"

#define W(f) offsetof(struct tern_bench_workload, f)
#define WS(f) sizeof(((struct tern_bench_workload *)0)->f)

/* Key names follow the OpenMessaging Benchmark's workload files where one
 * exists (topics, partitionsPerTopic, messageSize, producersPerTopic,
 * keyDistributor, producerRate, testDuration). */
static const struct config_key workload_keys[] = {
    {"name", CONFIG_STRING, W(name), WS(name), "", "workload name (default: the file name)", 0, 0},
    {"topics", CONFIG_INT, W(topics), 0, "1", "number of topics (fresh ones are created per run)",
     1, 64},
    {"partitionsPerTopic", CONFIG_INT, W(partitions_per_topic), 0, "16",
     "queues per topic (write and read queues on every broker)", 1, 1024},
    {"messageSize", CONFIG_BYTES, W(message_size), 0, "1024",
     "body bytes per message (k/m suffixes are powers of 1024; at least 8)",
     TERN_BENCH_MIN_MESSAGE, 4 * 1024 * 1024},
    {"producersPerTopic", CONFIG_INT, W(producers_per_topic), 0, "1",
     "producers per topic, each with its own client connection, all on one event loop", 1, 64},
    {"consumersPerTopic", CONFIG_INT, W(consumers_per_topic), 0, "1",
     "push consumers per topic in one consumer group (clustering); 0 produces only", 0, 64},
    {"keyDistributor", CONFIG_STRING, W(key_distributor), WS(key_distributor), "NO_KEY",
     "NO_KEY (round-robin over queues) or KEY_ROUND_ROBIN (keys in turn; the queue is chosen by "
     "the key's hash, so each key stays in one queue and is checked for order)", 0, 0},
    {"keyCount", CONFIG_INT, W(key_count), 0, "10000", "distinct keys with KEY_ROUND_ROBIN", 1,
     1000000},
    {"producerRate", CONFIG_INT, W(producer_rate), 0, "0",
     "messages per second over all producers; 0 = max-rate: ramp until the backlog grows", 0,
     100000000},
    {"testDuration", CONFIG_MS, W(test_duration_ms), 0, "60s",
     "measured time (ms, s, m suffixes); --duration overrides", 1000, 86400000},
    {"warmupDuration", CONFIG_MS, W(warmup_ms), 0, "10s",
     "fixed-rate: time at the target rate before measuring (statistics discarded)", 0, 3600000},
    {"producerWindow", CONFIG_INT, W(producer_window), 0, "1000",
     "sends in flight per producer; a due send waits for a free slot and its latency still "
     "counts from its intended time",
     1, 65536},
    {"pacerResolution", CONFIG_INT, W(pacer_gap_us), 0, "100",
     "microseconds: the pacer wakes at most once per this interval and sends every message due "
     "by then, so high rates cost fewer wake-ups; the wait counts in the latencies",
     0, 100000},
    {"consumerBatch", CONFIG_INT, W(consumer_batch), 0, "32", "messages per consume callback", 1,
     1024},
    {"rampStartRate", CONFIG_INT, W(ramp_start_rate), 0, "2000",
     "max-rate: first rate tried (msgs/s over all producers)", 1, 100000000},
    {"rampStep", CONFIG_MS, W(ramp_step_ms), 0, "2s", "max-rate: length of one ramp step", 200,
     60000},
    {"rampDuration", CONFIG_MS, W(ramp_max_ms), 0, "30s",
     "max-rate: time budget of the ramp before the measured run at the best rate found", 1000,
     3600000},
    {"maxBacklog", CONFIG_MS, W(max_backlog_ms), 0, "100ms",
     "max-rate: a step fails when the publish backlog (scheduled - acknowledged) or the "
     "consume backlog (acknowledged - consumed) exceeds this much time at the step's rate",
     1, 60000},
    {"drainTimeout", CONFIG_MS, W(drain_timeout_ms), 0, "10s",
     "after the run: time to wait for outstanding acknowledgements and consumers", 0, 600000},
    {"transactional", CONFIG_BOOL, W(transactional), 0, "false",
     "each message is a transactional half message whose local transaction commits at once "
     "(END_TRANSACTION): publish latency runs to the send callback after the commit is sent, "
     "end-to-end to the consumer seeing the committed message",
     0, 0},
    {"backlogSize", CONFIG_BYTES, W(backlog_size), 0, "0",
     "backlog: with no consumer running, produce this many bytes of bodies as fast as the "
     "window allows; then consumers start and drain it while producers keep producerRate. The "
     "measured phase lasts until the consumers caught up (within maxBacklog of the rate) or "
     "testDuration; 0 = off",
     0, (int64_t)1 << 40},
    {"burstMessages", CONFIG_INT, W(burst_messages), 0, "0",
     "delay-burst: send this many messages at producerRate, all with one delivery time "
     "(TIMER_DELIVER_MS), then stop; consumers measure each one's lateness against it. 0 = off",
     0, 1000000000},
    {"deliverAfter", CONFIG_MS, W(deliver_after_ms), 0, "30s",
     "delay-burst: the common delivery time, this long after the burst starts (choose it so "
     "sending finishes first)",
     1000, 3600000},
    {"progressInterval", CONFIG_MS, W(progress_ms), 0, "5s", "interval of progress lines on stderr",
     200, 3600000},
};
#define NKEYS (sizeof workload_keys / sizeof workload_keys[0])

static void name_from_path(struct tern_bench_workload *w, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(w->name, sizeof w->name, "%s", base);
    char *dot = strrchr(w->name, '.');
    if (dot && dot != w->name)
        *dot = '\0';
}

int tern_bench_workload_load(struct tern_bench_workload *w, const char *path, char *errmsg)
{
    memset(w, 0, sizeof *w);
    int rv = config_defaults(workload_keys, NKEYS, w, errmsg);
    if (rv)
        return rv;
    if (path) {
        rv = config_load_file(workload_keys, NKEYS, w, path, errmsg);
        if (rv)
            return rv;
        if (!w->name[0])
            name_from_path(w, path);
    }
    if (!w->name[0])
        snprintf(w->name, sizeof w->name, "default");
    if (strcmp(w->key_distributor, "NO_KEY") == 0) {
        w->keys = TERN_BENCH_NO_KEY;
    } else if (strcmp(w->key_distributor, "KEY_ROUND_ROBIN") == 0) {
        w->keys = TERN_BENCH_KEY_ROUND_ROBIN;
    } else {
        errmsg_printf(errmsg, "%s: keyDistributor: '%s' is not NO_KEY or KEY_ROUND_ROBIN",
                      path ? path : "workload", w->key_distributor);
        return TERN_E_INVAL;
    }
    if (w->producer_rate > 0 && w->producer_rate < w->producers_per_topic * w->topics) {
        errmsg_printf(errmsg, "%s: producerRate %lld is below one message per second per producer",
                      path ? path : "workload", (long long)w->producer_rate);
        return TERN_E_INVAL;
    }
    if (w->backlog_size > 0 && (w->producer_rate <= 0 || w->consumers_per_topic == 0 ||
                                w->burst_messages > 0)) {
        errmsg_printf(errmsg, "%s: backlogSize needs producerRate > 0, consumers and no burst",
                      path ? path : "workload");
        return TERN_E_INVAL;
    }
    if (w->burst_messages > 0 && (w->producer_rate <= 0 || w->transactional)) {
        errmsg_printf(errmsg, "%s: burstMessages needs producerRate > 0 and no transactional",
                      path ? path : "workload");
        return TERN_E_INVAL;
    }
    return 0;
}

void tern_bench_workload_print_doc(FILE *out)
{
    config_print_doc(workload_keys, NKEYS, out);
}

json_t *tern_bench_workload_json(const struct tern_bench_workload *w)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct config_key *k = &workload_keys[i];
        const char *field = (const char *)w + k->offset;
        json_t *v = NULL;
        switch (k->type) {
        case CONFIG_STRING:
            v = json_string(field);
            break;
        case CONFIG_BYTES:
            v = json_integer((json_int_t) * (const uint64_t *)field);
            break;
        case CONFIG_BOOL:
            v = json_boolean(*(const bool *)field);
            break;
        case CONFIG_INT:
        case CONFIG_MS:
            v = json_integer((json_int_t) * (const int64_t *)field);
            break;
        }
        if (json_object_set_new(o, k->name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
