/* nats-bench: a tern-bench workload against NATS JetStream (the nats.c client).
 *
 * One file-storage stream with --replicas replicas holds subjects
 * bench<pid>.0 .. bench<pid>.<partitionsPerTopic-1>, the queues. The producer
 * publishes asynchronously round-robin over the subjects with at most
 * producerWindow unacknowledged (the library's MaxPending); each publish
 * acknowledgement arrives on the library's reply thread with the original
 * message, whose body carries its due time. The consumer is a push
 * subscription with AckNone on the stream. The stream is deleted at the end.
 *
 *   nats-bench --url nats://127.0.0.1:4222 --workload FILE [--replicas 3] ... */
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/peers/peer_driver.h"
#include "bench/tern_bench_common.h"

#define DRAIN_NS 10000000000ull

static struct peer_driver d; /* two histograms: too big for the stack */

static void die(const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf(stderr, "nats-bench: %s: %s (%s, JetStream error %d)\n", what, natsStatus_GetText(s),
            nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "", (int)jerr);
    exit(1);
}

static void ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    uint64_t now = tern_bench_now_ns();
    if (pa)
        peer_driver_acked(&d, peer_driver_body_due(natsMsg_GetData(msg),
                                                   (size_t)natsMsg_GetDataLength(msg)),
                          now);
    else
        peer_driver_failed(&d, pae && pae->ErrText ? pae->ErrText : "publish failed");
    natsMsg_Destroy(msg);
}

static void msg_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    peer_driver_received(&d, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg),
                         tern_bench_now_ns());
    natsMsg_Destroy(msg);
}

static void sleep_until(uint64_t t)
{
    uint64_t now = tern_bench_now_ns();
    if (t <= now)
        return;
    struct timespec ts = {.tv_sec = (time_t)((t - now) / 1000000000u),
                          .tv_nsec = (long)((t - now) % 1000000000u)};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    peer_driver_init(&d, "nats-bench", argc, argv);
    int nq = (int)d.w.partitions_per_topic;
    char stream[64], filter[64];
    char(*subjects)[64] = calloc((size_t)nq, sizeof *subjects);
    unsigned char *body = malloc(d.w.message_size);
    if (!subjects || !body)
        return 1;
    snprintf(stream, sizeof stream, "BENCH%d", (int)getpid());
    snprintf(filter, sizeof filter, "bench%d.*", (int)getpid());
    for (int i = 0; i < nq; i++)
        snprintf(subjects[i], sizeof subjects[i], "bench%d.%d", (int)getpid(), i);

    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsErrCode jerr = 0;
    natsStatus s = natsConnection_ConnectTo(&nc, d.url);
    if (s != NATS_OK)
        die("connect", s, 0);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = d.w.producer_window;
    jo.PublishAsync.AckHandler = ack_cb;
    jo.Wait = 10000;
    if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK)
        die("JetStream context", s, 0);

    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *filters[] = {filter};
    sc.Name = stream;
    sc.Subjects = filters;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Replicas = d.replicas;
    sc.MaxMsgs = 2000000; /* bound the disk a long run takes; old ones go first */
    jsStreamInfo *si = NULL;
    /* A cluster that just started may still be electing its meta leader. */
    uint64_t give_up = tern_bench_now_ns() + 30000000000ull;
    while ((s = js_AddStream(&si, js, &sc, NULL, &jerr)) != NATS_OK) {
        if (tern_bench_now_ns() > give_up)
            die("add stream", s, jerr);
        sleep_until(tern_bench_now_ns() + 500000000);
    }
    jsStreamInfo_Destroy(si);

    natsSubscription *sub = NULL;
    if (d.w.consumers_per_topic > 0) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = stream;
        so.Config.AckPolicy = js_AckNone;
        so.Config.DeliverPolicy = js_DeliverAll;
        if ((s = js_Subscribe(&sub, js, filter, msg_cb, NULL, NULL, &so, &jerr)) != NATS_OK)
            die("subscribe", s, jerr);
        natsSubscription_SetPendingLimits(sub, -1, -1);
    }

    d.cpu0 = tern_bench_cpu_s();
    peer_driver_start(&d);
    uint64_t k = 0;
    for (;; k++) {
        uint64_t due = peer_driver_due(&d, k);
        if (due >= d.t_end)
            break;
        sleep_until(due);
        peer_driver_fill(&d, body, due);
        /* Blocks (StallWait) while MaxPending are unacknowledged. */
        s = js_PublishAsync(js, subjects[k % (uint64_t)nq], body, (int)d.w.message_size, NULL);
        if (s == NATS_TIMEOUT) { /* stalled: try the same send again */
            k--;
            continue;
        }
        if (s != NATS_OK)
            die("publish", s, 0);
        atomic_store(&d.sent, k + 1);
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = (int64_t)(DRAIN_NS / 1000000);
    js_PublishAsyncComplete(js, &po);
    atomic_store(&d.stop, true);
    while (sub && atomic_load(&d.consumed) < atomic_load(&d.acked) &&
           tern_bench_now_ns() < d.t_end + DRAIN_NS)
        sleep_until(tern_bench_now_ns() + 10000000);
    d.cpu1 = tern_bench_cpu_s();
    if (sub) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    js_DeleteStream(js, stream, NULL, &jerr);
    int rv = peer_driver_report(&d);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    free(subjects);
    free(body);
    return rv;
}
