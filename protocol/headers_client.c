/* Typed headers of client management, send-back, transactions and message queries (PROTOCOL.md §4.4). */
#include "protocol/headers.h"
#include "protocol/headers_fields.h"

#define S headers_client_unregister_req
static const struct headers_field unregister_fields[] = {
    HEADERS_F(S, client_id, "clientID", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, producer_group, "producerGroup", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, consumer_group, "consumerGroup", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(unregister_desc, "unregister client header", unregister_fields);
HEADERS_DEFINE(headers_client_unregister_req, headers_client_unregister_req, unregister_desc)

#define S headers_client_group_req
static const struct headers_field group_fields[] = {
    HEADERS_F(S, consumer_group, "consumerGroup", NULL, HEADERS_STR, HEADERS_REQ),
};
#undef S
HEADERS_DESC(group_desc, "consumer group header", group_fields);
HEADERS_DEFINE(headers_client_group_req, headers_client_group_req, group_desc)

#define S headers_client_sendback_req
static const struct headers_field sendback_fields[] = {
    HEADERS_F(S, offset, "offset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, group, "group", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, delay_level, "delayLevel", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, origin_msg_id, "originMsgId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, origin_topic, "originTopic", NULL, HEADERS_TOPIC, HEADERS_OPT),
    HEADERS_FH(S, unit_mode, "unitMode", NULL, HEADERS_BOOL),
    HEADERS_FH(S, max_reconsume_times, "maxReconsumeTimes", NULL, HEADERS_I32),
    HEADERS_F(S, bname, "bname", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(sendback_desc, "send back header", sendback_fields);
HEADERS_DEFINE(headers_client_sendback_req, headers_client_sendback_req, sendback_desc)

#define S headers_client_endtx_req
static const struct headers_field endtx_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_OPT),
    HEADERS_F(S, producer_group, "producerGroup", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, tran_state_table_offset, "tranStateTableOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, commit_log_offset, "commitLogOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, commit_or_rollback, "commitOrRollback", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_FH(S, from_transaction_check, "fromTransactionCheck", NULL, HEADERS_BOOL),
    HEADERS_F(S, msg_id, "msgId", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, transaction_id, "transactionId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, bname, "bname", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(endtx_desc, "end transaction header", endtx_fields);
HEADERS_DEFINE(headers_client_endtx_req, headers_client_endtx_req, endtx_desc)

#define S headers_client_checktx_req
static const struct headers_field checktx_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_OPT),
    HEADERS_F(S, tran_state_table_offset, "tranStateTableOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, commit_log_offset, "commitLogOffset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, msg_id, "msgId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, transaction_id, "transactionId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, offset_msg_id, "offsetMsgId", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, bname, "bname", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(checktx_desc, "check transaction header", checktx_fields);
HEADERS_DEFINE(headers_client_checktx_req, headers_client_checktx_req, checktx_desc)

#define S headers_client_query_req
static const struct headers_field query_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, key, "key", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, max_num, "maxNum", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, begin_timestamp, "beginTimestamp", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, end_timestamp, "endTimestamp", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_FH(S, unique_key_query, "_UNIQUE_KEY_QUERY", NULL, HEADERS_BOOL),
};
#undef S
HEADERS_DESC(query_desc, "query message header", query_fields);
HEADERS_DEFINE(headers_client_query_req, headers_client_query_req, query_desc)

#define S headers_client_query_resp
static const struct headers_field query_resp_fields[] = {
    HEADERS_F(S, index_last_update_timestamp, "indexLastUpdateTimestamp", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, index_last_update_phyoffset, "indexLastUpdatePhyoffset", NULL, HEADERS_I64, HEADERS_REQ),
};
#undef S
HEADERS_DESC(query_resp_desc, "query message response header", query_resp_fields);
HEADERS_DEFINE(headers_client_query_resp, headers_client_query_resp, query_resp_desc)

#define S headers_client_view_req
static const struct headers_field view_fields[] = {
    HEADERS_F(S, offset, "offset", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_OPT),
};
#undef S
HEADERS_DESC(view_desc, "view message header", view_fields);
HEADERS_DEFINE(headers_client_view_req, headers_client_view_req, view_desc)
