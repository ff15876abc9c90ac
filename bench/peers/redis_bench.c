/* redis-bench: a tern-bench workload against Redis Streams (hiredis).
 *
 * Each of the workload's partitionsPerTopic queues is a stream. The producer
 * pipelines XADDs round-robin over the streams on one connection, at most
 * producerWindow unanswered; replies come back in order, so a ring of due times
 * gives each reply its send. The consumer reads every stream with XREAD BLOCK
 * on a second connection. Streams are capped (XADD MAXLEN ~) so a run fits in
 * memory; the consumer stays far closer to the head than the cap.
 *
 *   redis-bench --url 127.0.0.1:6379 --workload FILE [--rate R] [--duration S] ... */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/peers/peer_driver.h"
#include "bench/tern_bench_common.h"

#define STREAM_CAP "20000"
#define DRAIN_NS 10000000000ull

struct redis_bench {
    struct peer_driver d;
    char host[128];
    int port;
    int nstreams;
    char (*keys)[64];
};

static redisContext *connect_to(struct redis_bench *rb)
{
    redisContext *c = redisConnect(rb->host, rb->port);
    if (!c || c->err) {
        fprintf(stderr, "redis-bench: connect %s:%d: %s\n", rb->host, rb->port,
                c ? c->errstr : "out of memory");
        exit(1);
    }
    return c;
}

/* Replies already read, in order; records each against the ring of due times. */
static int take_replies(struct redis_bench *rb, redisContext *c, uint64_t *ring, uint64_t *head,
                        uint64_t tail)
{
    void *r;
    while (*head < tail) {
        if (redisReaderGetReply(c->reader, &r) != REDIS_OK)
            return -1;
        if (!r)
            break;
        redisReply *reply = r;
        uint64_t due = ring[*head % (uint64_t)rb->d.w.producer_window];
        (*head)++;
        if (reply->type == REDIS_REPLY_ERROR)
            peer_driver_failed(&rb->d, reply->str);
        else
            peer_driver_acked(&rb->d, due, tern_bench_now_ns());
        freeReplyObject(reply);
    }
    return 0;
}

static void *producer_main(void *arg)
{
    struct redis_bench *rb = arg;
    struct peer_driver *d = &rb->d;
    redisContext *c = connect_to(rb);
    uint64_t window = (uint64_t)d->w.producer_window;
    uint64_t *ring = calloc(window, sizeof *ring);
    unsigned char *body = malloc(d->w.message_size);
    if (!ring || !body) {
        fprintf(stderr, "redis-bench: out of memory\n");
        exit(1);
    }
    uint64_t k = 0, head = 0; /* sends made, replies taken */
    for (;;) {
        uint64_t now = tern_bench_now_ns();
        bool more = now < d->t_end;
        while (more && k - head < window) {
            uint64_t due = d->rate > 0 ? peer_driver_due(d, k) : now;
            if (due > now || due >= d->t_end)
                break;
            peer_driver_fill(d, body, due);
            const char *argv[] = {"XADD", rb->keys[k % (uint64_t)rb->nstreams], "MAXLEN", "~",
                                  STREAM_CAP, "*", "d", (const char *)body};
            size_t lens[] = {4, strlen(argv[1]), 6, 1, strlen(STREAM_CAP), 1, 1,
                             d->w.message_size};
            redisAppendCommandArgv(c, 8, argv, lens);
            ring[k % window] = due;
            k++;
        }
        atomic_store(&d->sent, k);
        int done = 0;
        while (!done)
            if (redisBufferWrite(c, &done) != REDIS_OK)
                goto fail;
        if (!more && head == k)
            break;
        if (!more && now > d->t_end + DRAIN_NS)
            break;
        /* Wait for replies, or until the next send is due. */
        int timeout_ms = 10;
        if (more && d->rate > 0 && k - head < window) {
            uint64_t due = peer_driver_due(d, k);
            timeout_ms = due > now ? (int)((due - now + 999999) / 1000000) : 0;
        } else if (more && d->rate <= 0 && k - head < window) {
            timeout_ms = 0;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) > 0 && redisBufferRead(c) != REDIS_OK)
            goto fail;
        if (take_replies(rb, c, ring, &head, k) != 0)
            goto fail;
    }
    atomic_store(&d->stop, true);
    free(ring);
    free(body);
    redisFree(c);
    return NULL;
fail:
    fprintf(stderr, "redis-bench: producer connection: %s\n", c->errstr);
    exit(1);
}

static void *consumer_main(void *arg)
{
    struct redis_bench *rb = arg;
    struct peer_driver *d = &rb->d;
    redisContext *c = connect_to(rb);
    int n = rb->nstreams;
    /* XREAD COUNT c BLOCK ms STREAMS k0..kn-1 id0..idn-1 */
    const char **argv = calloc((size_t)(6 + 2 * n), sizeof *argv);
    size_t *lens = calloc((size_t)(6 + 2 * n), sizeof *lens);
    char (*ids)[48] = calloc((size_t)n, sizeof *ids);
    char count[24];
    if (!argv || !lens || !ids) {
        fprintf(stderr, "redis-bench: out of memory\n");
        exit(1);
    }
    snprintf(count, sizeof count, "%" PRId64, d->w.consumer_batch);
    argv[0] = "XREAD", argv[1] = "COUNT", argv[2] = count, argv[3] = "BLOCK", argv[4] = "100";
    argv[5] = "STREAMS";
    for (int i = 0; i < n; i++) {
        argv[6 + i] = rb->keys[i];
        strcpy(ids[i], "0");
        argv[6 + n + i] = ids[i];
    }
    for (;;) {
        if (atomic_load(&d->stop) &&
            (atomic_load(&d->consumed) >= atomic_load(&d->acked) ||
             tern_bench_now_ns() > d->t_end + DRAIN_NS))
            break;
        for (int i = 0; i < 6 + 2 * n; i++)
            lens[i] = strlen(argv[i]);
        redisReply *r = redisCommandArgv(c, 6 + 2 * n, argv, lens);
        if (!r) {
            fprintf(stderr, "redis-bench: consumer connection: %s\n", c->errstr);
            exit(1);
        }
        uint64_t now = tern_bench_now_ns();
        /* [[stream, [[id, [field, value]], ...]], ...] or nil on timeout */
        for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
            redisReply *sr = r->element[s];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2)
                continue;
            int idx = -1;
            for (int i = 0; i < n; i++)
                if (strcmp(sr->element[0]->str, rb->keys[i]) == 0)
                    idx = i;
            redisReply *entries = sr->element[1];
            for (size_t e = 0; idx >= 0 && e < entries->elements; e++) {
                redisReply *en = entries->element[e];
                if (en->elements != 2 || en->element[1]->elements < 2)
                    continue;
                redisReply *val = en->element[1]->element[1];
                peer_driver_received(d, val->str, val->len, now);
                snprintf(ids[idx], sizeof ids[idx], "%s", en->element[0]->str);
            }
        }
        freeReplyObject(r);
    }
    free(argv);
    free(lens);
    free(ids);
    redisFree(c);
    return NULL;
}

int main(int argc, char **argv)
{
    static struct redis_bench rb; /* two histograms: too big for the stack */
    peer_driver_init(&rb.d, "redis-bench", argc, argv);
    const char *colon = strrchr(rb.d.url, ':');
    if (!colon || colon == rb.d.url || (size_t)(colon - rb.d.url) >= sizeof rb.host) {
        fprintf(stderr, "redis-bench: --url must be HOST:PORT\n");
        return 2;
    }
    memcpy(rb.host, rb.d.url, (size_t)(colon - rb.d.url));
    rb.port = atoi(colon + 1);
    rb.nstreams = (int)rb.d.w.partitions_per_topic;
    rb.keys = calloc((size_t)rb.nstreams, sizeof *rb.keys);
    if (!rb.keys)
        return 1;
    for (int i = 0; i < rb.nstreams; i++)
        snprintf(rb.keys[i], sizeof rb.keys[i], "bench-%d-q%d", (int)getpid(), i);

    rb.d.cpu0 = tern_bench_cpu_s();
    peer_driver_start(&rb.d);
    pthread_t prod, cons;
    if (pthread_create(&cons, NULL, consumer_main, &rb) != 0 ||
        pthread_create(&prod, NULL, producer_main, &rb) != 0) {
        fprintf(stderr, "redis-bench: cannot start threads\n");
        return 1;
    }
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    rb.d.cpu1 = tern_bench_cpu_s();
    int rv = peer_driver_report(&rb.d);
    free(rb.keys);
    return rv;
}
