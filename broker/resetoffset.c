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
 * caller — with replication only once every OFFSET command has committed, so a
 * success survives a failover. Failure modes: bad header INVALID_PARAMETER; unknown topic
 * TOPIC_NOT_EXIST; a follower of a replicated group SYSTEM_ERROR "not the
 * leader"; a failed time search SYSTEM_ERROR with the reason. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "broker/broker.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/resetbody.h"
#include "src/log.h"
#include "tern/error.h"

#define RESETOFFSET_GROUP_MAX 255

/* One reset in flight: answered (and consumers told) once every OFFSET
 * command committed. One allocation per admin request, not per message. */
struct reset_job {
    struct broker *b;
    struct rpc_reply reply;
    int outstanding;
    int status; /* first failure */
    char topic[TOPICS_NAME_MAX];
    char group[RESETOFFSET_GROUP_MAX + 1];
    int64_t timestamp;
    bool force;
    int nq;
    struct buf body; /* ResetOffsetBody */
};

static void job_finish(struct reset_job *j)
{
    struct broker *b = j->b;
    int code = CODES_RESP_SUCCESS;
    const char *remark = NULL;
    if (j->status) {
        code = j->status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR;
        remark = tern_strerror(j->status);
        LOGW("resetoffset", "group %s topic %s: reset not committed: %s", j->group, j->topic, remark);
    } else {
        /* Tell the live consumers (oneway, as RocketMQ's broker does). */
        struct remoting_cmd push;
        remoting_cmd_init(&push);
        remoting_cmd_init_request(&push, CODES_REQ_RESET_CONSUMER_CLIENT_OFFSET);
        struct headers_offset_reset_req ph = {.topic = slice_of(j->topic),
                                              .group = slice_of(j->group),
                                              .timestamp = j->timestamp,
                                              .has_is_force = true,
                                              .is_force = j->force};
        size_t told = 0;
        if (headers_offset_reset_req_encode(&ph, &push) == 0)
            told = clients_oneway_group(b, j->group, &push, j->body.data, j->body.len);
        remoting_cmd_free(&push);
        LOGI("resetoffset", "group %s topic %s: %d queues reset (time %" PRId64 "), %zu consumers told", j->group,
             j->topic, j->nq, j->timestamp, told);
    }
    struct iovec iov = {j->body.data, j->body.len};
    if (rpc_reply_begin(&j->reply, &b->resp, code, remark) == 0)
        rpc_reply_finish(&j->reply, &b->resp, code == CODES_RESP_SUCCESS ? &iov : NULL,
                         code == CODES_RESP_SUCCESS ? 1 : 0);
    else
        rpc_reply_drop(&j->reply);
    buf_free(&j->body);
    free(j);
}

static void offset_committed(void *arg, int status, const struct fsm_result *res)
{
    struct reset_job *j = arg;
    if (!j->status && (status || res->status))
        j->status = status ? status : res->status;
    if (--j->outstanding == 0)
        job_finish(j);
}

/* Commit one queue's offset: through the log (counted) or applied now. */
static void job_commit(struct reset_job *j, int32_t q, int64_t off)
{
    struct broker *b = j->b;
    if (!grouprepl_enabled(b)) {
        offsets_commit(b, j->group, j->topic, q, off);
        return;
    }
    buf_reset(&b->cmd);
    int rv = fsm_encode_offset(&b->cmd, j->group, j->topic, q, off);
    if (rv == 0)
        rv = grouprepl_propose(b, b->cmd.data, b->cmd.len, offset_committed, j);
    if (rv == 0)
        j->outstanding++;
    else if (!j->status)
        j->status = rv;
}

void resetoffset_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 128];
    struct headers_offset_reset_req h;
    if (headers_offset_reset_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (h.topic.len >= TOPICS_NAME_MAX || h.group.len == 0 || h.group.len > RESETOFFSET_GROUP_MAX) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad topic or group");
        return;
    }
    for (size_t i = 0; i < h.group.len; i++)
        if ((unsigned char)h.group.p[i] < 0x20) {
            broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "bad group");
            return;
        }
    if (grouprepl_enabled(b) && !grouprepl_writable(b)) {
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, "not the leader of its broker group");
        return;
    }
    struct reset_job *j = calloc(1, sizeof *j);
    if (!j) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    j->b = b;
    memcpy(j->topic, h.topic.p, h.topic.len);
    memcpy(j->group, h.group.p, h.group.len);
    j->timestamp = h.timestamp;
    buf_init(&j->body);
    struct topic *tp = topics_find(b->topics, j->topic);
    bool one_queue = h.has_queue_id && h.queue_id >= 0 && h.has_offset;
    int code = CODES_RESP_SUCCESS;
    if (!tp) {
        snprintf(remark, sizeof remark, "topic %s does not exist on this broker", j->topic);
        code = CODES_RESP_TOPIC_NOT_EXIST;
    } else if (one_queue && (h.queue_id >= topic_max_queues(tp) || h.offset < 0)) {
        snprintf(remark, sizeof remark, "bad queueId or offset");
        code = CODES_RESP_INVALID_PARAMETER;
    }
    j->force = !h.has_is_force || h.is_force;

    resetbody_begin(&j->body);
    for (int32_t q = 0; tp && code == CODES_RESP_SUCCESS && q < tp->read_queues; q++) {
        if (one_queue && q != h.queue_id)
            continue;
        struct partlog *pl;
        if (topics_partition(b->topics, tp, q, &pl) != 0) {
            snprintf(remark, sizeof remark, "reset offset %s/%d: %s", j->topic, q, b->topics->errmsg);
            code = CODES_RESP_SYSTEM_ERROR;
            break;
        }
        uint64_t end = partlog_end_offset(pl), min = partlog_min_offset(pl);
        uint64_t off = end;
        if (one_queue) {
            off = (uint64_t)h.offset < min ? min : (uint64_t)h.offset > end ? end : (uint64_t)h.offset;
        } else if (h.timestamp >= 0 && end > min) {
            int rv = partlog_search_time(pl, h.timestamp, PARTLOG_TIME_FIRST_GE, &off);
            if (rv != 0 && rv != TERN_E_NOTFOUND) {
                snprintf(remark, sizeof remark, "reset offset %s/%d: search by time: %s", j->topic, q,
                         partlog_errmsg(pl));
                LOGE("resetoffset", "%s", remark);
                code = CODES_RESP_SYSTEM_ERROR;
                break;
            }
        }
        int64_t committed = offsets_get(b, j->group, j->topic, q);
        if (!j->force && committed >= 0 && (int64_t)off > committed)
            off = (uint64_t)committed; /* only forced resets move forward */
        resetbody_add(&j->body, b->conf.name, j->topic, q, (int64_t)off);
        j->nq++;
    }
    if (code == CODES_RESP_SUCCESS && resetbody_end(&j->body) != 0) {
        snprintf(remark, sizeof remark, "out of memory");
        code = CODES_RESP_SYSTEM_ERROR;
    }
    if (code != CODES_RESP_SUCCESS) {
        /* Nothing committed yet: every check ran before the first commit. */
        broker_respond_error(b, rc, req, code, remark);
        buf_free(&j->body);
        free(j);
        return;
    }
    rpc_reply_hold(&j->reply, rc, req);
    /* Commit from the body just built (queue ids and offsets). */
    struct resetbody_entry e;
    size_t pos = 0;
    j->outstanding++; /* guard: finish only after the loop */
    while (resetbody_next((const char *)j->body.data, j->body.len, &pos, &e) == 1)
        job_commit(j, e.queue_id, e.offset);
    if (--j->outstanding == 0)
        job_finish(j);
}
