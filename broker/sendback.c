/* CONSUMER_SEND_MSG_BACK (36): a consumer gives a message back for a later
 * retry, as RocketMQ's SendMessageProcessor.consumerSendMsgBack does.
 *
 * Happy path: find the original by its physical offset, copy it with
 * reconsumeTimes + 1, RETRY_TOPIC (the original topic, kept from the first
 * retry on) and ORIGIN_MESSAGE_ID, and store it into %RETRY%<group> after
 * delay level 3 + reconsumeTimes (or the level asked for) through the retry
 * delay lane; once reconsumeTimes >= maxReconsumeTimes (default 16) or the
 * level is negative, store it into %DLQ%<group> at once (created on demand,
 * write-only like RocketMQ's). Answer once the command committed.
 * Failure modes: an offset that names no message gets SYSTEM_ERROR with a
 * remark (RocketMQ's answer); not the leader gets SERVICE_NOT_AVAILABLE. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/delay.h"
#include "broker/fsm.h"
#include "broker/grouprepl.h"
#include "broker/topics.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/clock.h"
#include "src/log.h"
#include "tern/error.h"

#define SENDBACK_MAX_RECONSUME 16

struct sendback_ctx {
    struct broker *b;
    struct rpc_reply reply;
};

static int find_message(struct broker *b, uint64_t phys, struct partlog_readbuf *rb, struct partlog_msg *msg)
{
    struct partlog *pl = NULL;
    uint64_t off = 0;
    if (store_locate(b->store, phys, &pl, &off) != 0) {
        uint32_t id;
        store_phys_decode(phys, &id, &off);
        struct topic *tp, *tmp;
        HASH_ITER(hh, b->topics->table, tp, tmp)
        {
            for (uint32_t i = 0; i < tp->nparts && !pl; i++)
                if (tp->part_ids[i] == id && topics_partition(b->topics, tp, (int32_t)i, &pl) != 0)
                    pl = NULL;
        }
        if (!pl)
            return TERN_E_NOTFOUND;
    }
    struct partlog_read_result res = {0};
    int rv = partlog_read(pl, off, 1, 1, NULL, rb, msg, &res);
    if (rv == 0 && (res.n != 1 || msg->offset != off))
        rv = TERN_E_NOTFOUND;
    return rv;
}

/* The retry or dead-letter topic, created through the state machine if
 * missing (in log order before the append that follows). */
static int ensure_topic(struct broker *b, const char *name, int32_t perm)
{
    if (topics_find(b->topics, name))
        return 0;
    struct topic_conf c = {.read_queues = 1, .write_queues = 1, .perm = perm};
    int rv = broker_put_topic(b, name, &c, false, NULL);
    if (rv == 0)
        registrar_kick(b);
    return rv;
}

static void committed(void *arg, int status, const struct fsm_result *res)
{
    struct sendback_ctx *c = arg;
    struct broker *b = c->b;
    if (status == 0 && res->status != 0)
        status = res->status;
    int code = status == 0 ? CODES_RESP_SUCCESS
               : status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE
                                            : CODES_RESP_SYSTEM_ERROR;
    if (rpc_reply_begin(&c->reply, &b->resp, code, status ? tern_strerror(status) : NULL) == 0)
        rpc_reply_finish(&c->reply, &b->resp, NULL, 0);
    else
        rpc_reply_drop(&c->reply);
    free(c);
}

void sendback_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 96];
    struct headers_client_sendback_req h;
    if (headers_client_sendback_req_decode(&h, req, &b->limits, err) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, err);
        return;
    }
    if (!grouprepl_writable(b)) {
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE,
                             "not the leader of this broker group, try again");
        return;
    }
    if (h.group.len == 0 || h.group.len + sizeof "%RETRY%" > TOPICS_NAME_MAX) {
        broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, "group missing or too long");
        return;
    }
    struct partlog_readbuf rb;
    struct partlog_msg pm;
    partlog_readbuf_init(&rb);
    struct buf props, rec, cmd;
    buf_init(&props);
    buf_init(&rec);
    buf_init(&cmd);
    struct msg_stored m;
    size_t used;
    int rv = h.offset >= 0 ? find_message(b, (uint64_t)h.offset, &rb, &pm) : TERN_E_NOTFOUND;
    if (rv == 0 && message_decode(pm.data, pm.len, &b->limits, 0, &m, &used, err) != 0)
        rv = TERN_E_CORRUPT;
    if (rv != 0) {
        snprintf(remark, sizeof remark, "look message by offset failed, %" PRId64, h.offset);
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        goto out;
    }
    char topic[TOPICS_NAME_MAX];
    int max = h.has_max_reconsume_times && h.max_reconsume_times >= 0 ? h.max_reconsume_times
                                                                       : SENDBACK_MAX_RECONSUME;
    int level = h.delay_level;
    bool dlq = m.reconsume_times >= max || level < 0;
    snprintf(topic, sizeof topic, "%s%.*s", dlq ? "%DLQ%" : "%RETRY%", (int)h.group.len, h.group.p);
    rv = ensure_topic(b, topic, dlq ? TOPIC_PERM_WRITE : TOPIC_PERM_READ | TOPIC_PERM_WRITE);
    if (rv) {
        snprintf(remark, sizeof remark, "create topic %s: %s", topic, tern_strerror(rv));
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        goto out;
    }
    /* Properties: RETRY_TOPIC from the first retry on, ORIGIN_MESSAGE_ID,
     * and for a retry where and when it goes. */
    struct slice v;
    char oid[MSGID_MAX_STR];
    struct slice origin = h.origin_msg_id;
    if (origin.len == 0)
        origin = (struct slice){oid, msgid_offset_encode(&b->store_host, h.offset, oid)};
    buf_append(&props, m.properties.p, m.properties.len);
    struct buf tmp;
    buf_init(&tmp);
    properties_set((const char *)props.data, props.len, MSG_PROP_ORIGIN_MESSAGE_ID, origin.p, origin.len, &tmp);
    if (!properties_get(m.properties.p, m.properties.len, MSG_PROP_RETRY_TOPIC, &v)) {
        buf_reset(&props);
        properties_set((const char *)tmp.data, tmp.len, MSG_PROP_RETRY_TOPIC, m.topic.p, m.topic.len, &props);
    } else {
        buf_reset(&props);
        buf_append(&props, tmp.data, tmp.len);
    }
    buf_free(&tmp);
    int64_t now = clock_now_ms();
    int64_t due = 0;
    if (!dlq) {
        if (level == 0)
            level = 3 + m.reconsume_times;
        due = now + delay_level_ms(b, level);
        char num[24];
        int nl = snprintf(num, sizeof num, "%d", level);
        properties_append(&props, MSG_PROP_DELAY, num, (size_t)nl);
        properties_append(&props, MSG_PROP_REAL_TOPIC, topic, strlen(topic));
        properties_append(&props, MSG_PROP_REAL_QID, "0", 1);
        nl = snprintf(num, sizeof num, "%lld", (long long)due);
        properties_append(&props, MSG_PROP_TIMER_OUT_MS, num, (size_t)nl);
    }
    struct msg_stored nm = m;
    nm.topic = dlq ? slice_of(topic) : slice_of(DELAY_TOPIC);
    nm.queue_id = dlq ? 0 : DELAY_LANE_RETRY;
    nm.reconsume_times = m.reconsume_times + 1;
    nm.store_host = b->store_host;
    nm.store_timestamp = now;
    nm.properties = (struct slice){(const char *)props.data, props.len};
    struct slice tag;
    struct record_msg r = {0};
    if (props.err || message_encode(&nm, &rec) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "cannot build the retry message");
        goto out;
    }
    r.data = rec.data;
    r.len = (uint32_t)rec.len;
    r.tag_hash = properties_get(nm.properties.p, nm.properties.len, MSG_PROP_TAGS, &tag)
                     ? (uint64_t)(uint32_t)tags_hash(tag.p, tag.len)
                     : 0;
    if (fsm_encode_append(&cmd, dlq ? topic : DELAY_TOPIC, nm.queue_id, now, false, &r, 1) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        goto out;
    }
    if (dlq)
        LOGI("sendback", "message %.*s of group %.*s to %s after %d attempts", (int)origin.len, origin.p,
             (int)h.group.len, h.group.p, topic, m.reconsume_times);
    if (grouprepl_enabled(b)) {
        struct sendback_ctx *c = calloc(1, sizeof *c);
        rv = c ? grouprepl_propose(b, cmd.data, cmd.len, committed, c) : TERN_E_NOMEM;
        if (rv) {
            free(c);
            broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, tern_strerror(rv));
            goto out;
        }
        c->b = b;
        rpc_reply_hold(&c->reply, rc, req);
        goto out;
    }
    struct fsm_result res;
    rv = fsm_apply(b, 0, cmd.data, cmd.len, NULL, NULL, &res);
    if (rv == 0)
        rv = res.status;
    broker_respond_error(b, rc, req, rv ? CODES_RESP_SYSTEM_ERROR : CODES_RESP_SUCCESS,
                         rv ? tern_strerror(rv) : NULL);
out:
    partlog_readbuf_free(&rb);
    buf_free(&props);
    buf_free(&rec);
    buf_free(&cmd);
}
