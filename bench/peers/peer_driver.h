/* The part of a peer driver (nats_bench, redis_bench) that is not about the
 * peer: options, the workload file (the same files and parser as tern-bench),
 * send schedule, message bodies, the measured window, histograms and the
 * report (tern-bench's JSON keys for publish/consume, so compare.sh reads every
 * system the same way).
 *
 * A driver has one producer thread and one consumer thread. Acknowledgements
 * are recorded by exactly one thread (peer_driver_acked), receipts by exactly
 * one other (peer_driver_received); counters shared between them are atomic.
 * Max-rate here is closed-loop: producerWindow sends in flight, as fast as the
 * peer answers (tern-bench ramps instead; compare.sh says so). */
#ifndef PEER_DRIVER_H
#define PEER_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench/tern_bench_hist.h"
#include "bench/tern_bench_workload.h"

struct peer_driver {
    /* Options. */
    const char *tool;     /* "nats-bench" / "redis-bench" */
    const char *url;      /* server address, the driver's own syntax */
    const char *label;    /* system under test, for the report */
    const char *ack;      /* what an acknowledgement means, for the report */
    const char *json_path;
    int replicas;         /* NATS stream replicas */
    double rate;          /* msgs/s, 0 = max-rate (closed loop) */
    double duration_s, warmup_s;
    struct tern_bench_workload w;

    /* Schedule: sends due in [t_begin, t_end); measured if due in
     * [t_measure, t_end). */
    uint64_t t_begin, t_measure, t_end;
    atomic_bool stop;            /* the producer has sent its last message */
    atomic_uint_fast64_t sent, acked, consumed, errors;
    uint64_t acked_measured, consumed_measured; /* recording threads only */
    struct tern_bench_hist pub_lat, e2e_lat;    /* ns, measured sends only */
    double cpu0, cpu1;
    char first_error[256];
};

/* Parse argv (see usage in peer_driver.c) and load the workload; exits with
 * status 2 on a usage error. */
void peer_driver_init(struct peer_driver *d, const char *tool, int argc, char **argv);
/* Fix t_begin/t_measure/t_end from now. */
void peer_driver_start(struct peer_driver *d);
/* When send number k is due (max-rate: now). */
uint64_t peer_driver_due(const struct peer_driver *d, uint64_t k);
/* Fill body (w.message_size bytes) for a send due at due. */
void peer_driver_fill(const struct peer_driver *d, unsigned char *body, uint64_t due);
/* The due time written into a body (0 if shorter than 8 bytes). */
uint64_t peer_driver_body_due(const void *body, size_t len);
/* An acknowledgement / a failed send / a received message. */
void peer_driver_acked(struct peer_driver *d, uint64_t due, uint64_t now);
void peer_driver_failed(struct peer_driver *d, const char *what);
void peer_driver_received(struct peer_driver *d, const void *body, size_t len, uint64_t now);
/* Print the table and write the JSON; returns the exit status (0, or 1 when
 * nothing was acknowledged or the JSON could not be written). */
int peer_driver_report(struct peer_driver *d);

#endif
