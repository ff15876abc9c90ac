/* LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies, the lock response and the consumer
 * id list of GET_CONSUMER_LIST_BY_GROUP (PROTOCOL.md §M.9). */
#ifndef TERN_LOCKBODY_H
#define TERN_LOCKBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

/* RocketMQ MessageQueue. */
struct lockbody_mq {
    const char *topic;
    const char *broker_name;
    int32_t queue_id;
};

/* LockBatchRequestBody and UnlockBatchRequestBody share these fields. */
struct lockbody_req {
    const char *consumer_group;
    const char *client_id;
    bool only_this_broker;
    struct lockbody_mq *mqs;
    size_t mq_count;
};

/* All encoders append compact JSON in fastjson key order and return 0 or
 * out->err. All decoders keep strings and arrays in arena (see
 * route_arena_begin) and return 0, TERN_E_MALFORMED ("lock body: ...",
 * "lock response: ...", "consumer list: ...") or the arena's NOMEM/TOOBIG. */

int lockbody_req_encode(const struct lockbody_req *req, struct buf *out);
/* consumerGroup and clientId are required; mqSet entries need topic and
 * brokerName. */
int lockbody_req_decode(const char *json, size_t n, struct lockbody_req *out, struct buf *arena,
                        char *errmsg);

/* {"lockOKMQSet":[...]} */
int lockbody_ok_encode(const struct lockbody_mq *mqs, size_t n, struct buf *out);
int lockbody_ok_decode(const char *json, size_t n, struct lockbody_mq **mqs, size_t *count,
                       struct buf *arena, char *errmsg);

/* {"consumerIdList":[...]} */
int lockbody_ids_encode(const char *const *ids, size_t n, struct buf *out);
int lockbody_ids_decode(const char *json, size_t n, const char ***ids, size_t *count,
                        struct buf *arena, char *errmsg);

#endif
