/* INVOKE_BROKER_TO_RESET_OFFSET (222): move a consumer group's committed
 * offsets on this broker's queues of a topic to a point in time (RocketMQ
 * Broker2Client.resetOffset), and tell the group's live consumers with
 * RESET_CONSUMER_CLIENT_OFFSET (220) so they jump there without a restart.
 *
 * Happy path: per queue, the offset is the first message stored at or
 * after timestamp (the max offset when there is none, or when timestamp is
 * -1); without isForce an offset is only moved back, never forward (as
 * RocketMQ). Each new offset is committed with an OFFSET command through the
 * state machine (replicated, survives failover), then the table
 * {"offsetTable":{{"brokerName":..,"queueId":..,"topic":..}:offset,...}}
 * (fastjson's rendering of a map keyed by MessageQueue, what RocketMQ
 * clients parse) goes oneway to every member of the group and back to the
 * caller. Failure modes: bad header INVALID_PARAMETER; unknown topic
 * TOPIC_NOT_EXIST; a follower of a replicated group SYSTEM_ERROR "not the
 * leader"; a failed time search SYSTEM_ERROR with the reason. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/resetbody.h"
#include "src/log.h"
#include "tern/error.h"

#define RESETOFFSET_GROUP_MAX 255

void resetoffset_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 128], topic[TOPICS_NAME_MAX], group[RESETOFFSET_GROUP_MAX + 1];
    struct headers_offset_reset_req h;
    if (headers_offset_reset_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.topic.len >= sizeof topic || h.group.len == 0 || h.group.len >= sizeof group) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad topic or group");
        return;
    }
    memcpy(topic, h.topic.p, h.topic.len);
    topic[h.topic.len] = '\0';
    memcpy(group, h.group.p, h.group.len);
    group[h.group.len] = '\0';
    for (size_t i = 0; i < h.group.len; i++)
        if ((unsigned char)group[i] < 0x20) {
            broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad group");
            return;
        }
    if (grouprepl_enabled(b) && !grouprepl_writable(b)) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "not the leader of its broker group");
        return;
    }
    struct topic *tp = topics_find(b->topics, topic);
    if (!tp) {
        snprintf(remark, sizeof remark, "topic %s does not exist on this broker", topic);
        broker_respond_error(b, rc, req, CODES_RESP_TOPIC_NOT_EXIST, remark);
        return;
    }
    bool one_queue = h.has_queue_id && h.queue_id >= 0 && h.has_offset;
    if (one_queue && (h.queue_id >= topic_max_queues(tp) || h.offset < 0)) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad queueId or offset");
        return;
    }
    bool force = !h.has_is_force || h.is_force;

    buf_reset(&b->body);
    resetbody_begin(&b->body);
    int nq = 0;
    for (int32_t q = 0; q < tp->read_queues; q++) {
        if (one_queue && q != h.queue_id)
            continue;
        struct partlog *pl;
        if (topics_partition(b->topics, tp, q, &pl) != 0) {
            snprintf(remark, sizeof remark, "reset offset %s/%d: %s", topic, q, b->topics->errmsg);
            broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
            return;
        }
        uint64_t end = partlog_end_offset(pl), min = partlog_min_offset(pl);
        uint64_t off = end;
        if (one_queue) {
            off = (uint64_t)h.offset < min ? min : (uint64_t)h.offset > end ? end : (uint64_t)h.offset;
        } else if (h.timestamp >= 0 && end > min) {
            int rv = partlog_search_time(pl, h.timestamp, PARTLOG_TIME_FIRST_GE, &off);
            if (rv != 0 && rv != TERN_E_NOTFOUND) {
                snprintf(remark, sizeof remark, "reset offset %s/%d: search by time: %s", topic, q,
                         partlog_errmsg(pl));
                LOGE("resetoffset", "%s", remark);
                broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
                return;
            }
        }
        int64_t committed = offsets_get(b, group, topic, q);
        if (!force && committed >= 0 && (int64_t)off > committed)
            off = (uint64_t)committed; /* only forced resets move forward */
        offsets_commit(b, group, topic, q, (int64_t)off);
        resetbody_add(&b->body, b->conf.name, topic, q, (int64_t)off);
        nq++;
    }
    if (resetbody_end(&b->body) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    /* Tell the live consumers (oneway, as RocketMQ's broker does). */
    struct remoting_cmd push;
    remoting_cmd_init(&push);
    remoting_cmd_init_request(&push, CODES_REQ_RESET_CONSUMER_CLIENT_OFFSET);
    struct headers_offset_reset_req ph = {.topic = h.topic,
                                          .group = h.group,
                                          .timestamp = h.timestamp,
                                          .has_is_force = true,
                                          .is_force = force};
    size_t told = 0;
    if (headers_offset_reset_req_encode(&ph, &push) == 0)
        told = clients_oneway_group(b, group, &push, b->body.data, b->body.len);
    remoting_cmd_free(&push);
    LOGI("resetoffset", "group %s topic %s: %d queues reset to time %" PRId64 ", %zu consumers told", group, topic,
         nq, h.timestamp, told);
    if (remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    broker_respond(b, rc, b->body.data, b->body.len);
}
