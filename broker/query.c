/* QUERY_MESSAGE (12): messages of a topic by a KEYS token, or by UNIQ_KEY
 * when the request carries _UNIQUE_KEY_QUERY=true (RocketMQ
 * QueryMessageProcessor; ROCKETMQ-PROTOCOL.md §4.20).
 *
 * Happy path: for each queue of the topic, ask the key index (msgindex.c)
 * for candidate offsets in the time window, read each candidate and keep it
 * only if it really carries the key (the index holds hashes), until maxNum
 * messages; answer them back to back in stored format. Nothing found (or an
 * unknown topic) is QUERY_NOT_FOUND, as RocketMQ answers. Failure modes: a
 * malformed header is INVALID_PARAMETER; an index that cannot be read is
 * SYSTEM_ERROR with the reason. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/msgindex.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "tern/error.h"

/* RocketMQ's defaultQueryMaxNum is 32; more than this is clipped. */
#define QUERY_MAX_NUM 256
#define QUERY_DEFAULT_NUM 32
/* Candidates looked at per queue: collisions and stale entries are
 * rejected after a read, so allow some beyond maxNum. */
#define QUERY_CANDIDATES 1024

void query_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], topic[TOPICS_NAME_MAX], remark[ERRMSG_SIZE + 64];
    struct headers_client_query_req h;
    if (headers_client_query_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.topic.len == 0 || h.topic.len >= sizeof topic || h.key.len == 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "topic and key are required");
        return;
    }
    if (!b->msgindex) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "message index disabled (messageIndexEnable)");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    enum msgindex_kind kind = h.has_unique_key_query && h.unique_key_query ? MSGINDEX_UNIQ : MSGINDEX_KEY;
    int32_t max = h.max_num <= 0 ? QUERY_DEFAULT_NUM : h.max_num > QUERY_MAX_NUM ? QUERY_MAX_NUM : h.max_num;
    /* An end of 0 means "no upper bound" (tools that only know the key). */
    int64_t end = h.end_timestamp <= 0 ? INT64_MAX : h.end_timestamp;
    size_t max_body = b->limits.max_body / 2;

    buf_reset(&b->body);
    int32_t found = 0;
    int64_t last_ts = 0;
    uint64_t last_phys = 0;
    uint64_t cand[QUERY_CANDIDATES];
    struct topic *tp = topics_find(b->topics, topic);
    for (int32_t q = 0; tp && q < topic_max_queues(tp) && found < max; q++) {
        struct partlog *pl;
        if (topics_partition(b->topics, tp, q, &pl) != 0) {
            snprintf(remark, sizeof remark, "query %s/%d: %s", topic, q, b->topics->errmsg);
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
            return;
        }
        uint32_t n = 0;
        int rv = msgindex_lookup(b->msgindex, pl, kind, h.key.p, h.key.len, h.begin_timestamp, end, cand,
                                 QUERY_CANDIDATES, &n);
        if (rv) {
            snprintf(remark, sizeof remark, "query %s/%d: key index: %s", topic, q, msgindex_errmsg(b->msgindex));
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
            return;
        }
        for (uint32_t i = 0; i < n && found < max && b->body.len < max_body; i++) {
            const struct partlog_msg *m = msgindex_read_one(b->msgindex, pl, cand[i]);
            if (!m || !msgindex_msg_has_key(m->data, m->len, kind, h.key.p, h.key.len))
                continue;
            buf_append(&b->body, m->data, m->len);
            found++;
            if (m->store_ts >= last_ts) {
                last_ts = m->store_ts;
                last_phys = store_phys_encode(partlog_id(pl), m->offset);
            }
        }
    }
    if (b->body.err) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    if (found == 0) {
        broker_respond_error(b, rc, req, CODES_RESP_QUERY_NOT_FOUND,
                             "can not find message, maybe time range not correct");
        return;
    }
    /* The index is caught up to every queue's visible end; report the
     * newest message returned as the index position. */
    struct headers_client_query_resp hr = {.index_last_update_timestamp = last_ts,
                                           .index_last_update_phyoffset = (int64_t)last_phys};
    if (remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL) != 0 ||
        headers_client_query_resp_encode(&hr, &b->resp) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    broker_respond(b, rc, b->body.data, b->body.len);
}
