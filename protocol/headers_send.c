/* Typed headers of SEND_MESSAGE / SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE and their response (PROTOCOL.md §4.1). */
#include "protocol/headers.h"
#include "protocol/headers_fields.h"

#define S headers_send_req
static const struct headers_field send_req_fields[] = {
    HEADERS_F(S, producer_group, "producerGroup", "a", HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, topic, "topic", "b", HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, default_topic, "defaultTopic", "c", HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, default_topic_queue_nums, "defaultTopicQueueNums", "d", HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", "e", HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, sys_flag, "sysFlag", "f", HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, born_timestamp, "bornTimestamp", "g", HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, flag, "flag", "h", HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, properties, "properties", "i", HEADERS_STR, HEADERS_OPT),
    HEADERS_FH(S, reconsume_times, "reconsumeTimes", "j", HEADERS_I32),
    HEADERS_FH(S, unit_mode, "unitMode", "k", HEADERS_BOOL),
    HEADERS_FH(S, max_reconsume_times, "maxReconsumeTimes", "l", HEADERS_I32),
    HEADERS_FH(S, batch, "batch", "m", HEADERS_BOOL),
    HEADERS_F(S, broker_name, "brokerName", "n", HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, bname, "bname", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(send_req_desc, "send header", send_req_fields);
HEADERS_DEFINE(headers_send_req, headers_send_req, send_req_desc)

#define S headers_send_resp
static const struct headers_field send_resp_fields[] = {
    HEADERS_F(S, msg_id, "msgId", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, queue_offset, "queueOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, transaction_id, "transactionId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, batch_uniq_id, "batchUniqId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, msg_region, "MSG_REGION", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, trace_on, "TRACE_ON", NULL, HEADERS_BOOL, HEADERS_DEF),
};
#undef S
HEADERS_DESC(send_resp_desc, "send response header", send_resp_fields);

int headers_send_resp_decode(struct headers_send_resp *h, const struct remoting_cmd *c,
                             const struct limits *l, char *errmsg)
{
    return headers_decode(&send_resp_desc, h, sizeof *h, c, l, errmsg);
}

int headers_send_resp_encode(const struct headers_send_resp *h, struct remoting_cmd *c)
{
    struct headers_send_resp v = *h;
    if (!v.msg_region.p)
        v.msg_region = slice_of("DefaultRegion");
    return headers_encode(&send_resp_desc, &v, c);
}
