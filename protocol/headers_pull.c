/* Typed headers of PULL_MESSAGE / LITE_PULL_MESSAGE and the pull response (PROTOCOL.md §4.2). */
#include "protocol/headers.h"
#include "protocol/headers_fields.h"

#define S headers_pull_req
static const struct headers_field pull_req_fields[] = {
    HEADERS_F(S, consumer_group, "consumerGroup", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, queue_offset, "queueOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, max_msg_nums, "maxMsgNums", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, sys_flag, "sysFlag", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, commit_offset, "commitOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, suspend_timeout_millis, "suspendTimeoutMillis", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, subscription, "subscription", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, sub_version, "subVersion", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, expression_type, "expressionType", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_FH(S, max_msg_bytes, "maxMsgBytes", NULL, HEADERS_I32),
    HEADERS_F(S, bname, "bname", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(pull_req_desc, "pull header", pull_req_fields);
HEADERS_DEFINE(headers_pull_req, headers_pull_req, pull_req_desc)

#define S headers_pull_resp
static const struct headers_field pull_resp_fields[] = {
    HEADERS_F(S, suggest_which_broker_id, "suggestWhichBrokerId", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, next_begin_offset, "nextBeginOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, min_offset, "minOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, max_offset, "maxOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_FH(S, offset_delta, "offsetDelta", NULL, HEADERS_I64),
    HEADERS_FH(S, topic_sys_flag, "topicSysFlag", NULL, HEADERS_I32),
    HEADERS_FH(S, group_sys_flag, "groupSysFlag", NULL, HEADERS_I32),
    HEADERS_FH(S, forbidden_type, "forbiddenType", NULL, HEADERS_I32),
};
#undef S
HEADERS_DESC(pull_resp_desc, "pull response header", pull_resp_fields);
HEADERS_DEFINE(headers_pull_resp, headers_pull_resp, pull_resp_desc)
