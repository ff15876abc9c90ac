/* Minimal RocketMQ client calls for integration tests, over rpcsync: send one
 * message, pull a queue with an inline subscription, read a queue offset. */
#ifndef TERN_TCLIENT_H
#define TERN_TCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"
#include "tests/lib/rpcsync.h"

/* SEND_MESSAGE_V2 of body to (topic, queue_id) (-1: broker picks) with an
 * optional tag. Returns the response code; on success *queue_offset is set
 * (if not NULL). Fails the test only on transport errors. */
int tclient_send(struct rpcsync *s, const char *topic, int queue_id, const char *tag, const void *body, size_t n,
                 int64_t *queue_offset);
/* The same with the request code (SEND_MESSAGE 10 or SEND_MESSAGE_V2 310)
 * and header form (REMOTING_SER_JSON / REMOTING_SER_ROCKETMQ) chosen. */
int tclient_send_ex(struct rpcsync *s, int code, uint8_t ser, const char *topic, int queue_id, const char *tag,
                    const void *body, size_t n, int64_t *queue_offset);
/* SEND_MESSAGE_V2 (JSON header) of body with the message properties props
 * (built with properties_append; may be empty) and default_topic_queue_nums =
 * default_queues. Returns the response code; on success *queue_offset is set
 * (if not NULL). Fails the test only on transport errors. */
int tclient_send_props(struct rpcsync *s, const char *topic, int queue_id, int default_queues, const struct buf *props,
                       const void *body, size_t n, int64_t *queue_offset);
/* PULL_MESSAGE without suspension, subscription "*" sent inline. Returns the
 * response code; s->resp holds the response (body = stored records). */
int tclient_pull(struct rpcsync *s, const char *group, const char *topic, int queue_id, int64_t offset,
                 int max_msgs);
/* Count the stored records in a pull response body (fails the test if malformed). */
int tclient_count_records(const struct rpcsync *s);
/* GET_MAX_OFFSET (code 30) or GET_MIN_OFFSET (31) of a queue. */
int64_t tclient_queue_offset(struct rpcsync *s, int code, const char *topic, int queue_id);

/* SEND_MESSAGE_V2 of body to (topic, queue_id) that tolerates a broker that
 * never answers (a partitioned Raft leader): returns the response code, or a
 * negative TERN_E_* (TERN_E_TIMEOUT, TERN_E_CLOSED) when no response came
 * within timeout_ms; the caller should reopen s after an error. */
int tclient_send_timed(struct rpcsync *s, const char *topic, int queue_id, const void *body, size_t n,
                       int timeout_ms, int64_t *queue_offset);
/* Call fn(body, len, queue_offset, arg) for every stored record of the last
 * pull response in s (fails the test if malformed); returns their number. */
int tclient_each_record(const struct rpcsync *s, void (*fn)(const void *body, size_t len, int64_t off, void *arg),
                        void *arg);

#endif
