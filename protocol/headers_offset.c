/* Typed headers of the consumer-offset and queue-offset requests and responses (PROTOCOL.md §4.3). */
#include "protocol/headers.h"
#include "protocol/headers_fields.h"

#define S headers_offset_query_req
static const struct headers_field query_req_fields[] = {
    HEADERS_F(S, consumer_group, "consumerGroup", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_FH(S, set_zero_if_not_found, "setZeroIfNotFound", NULL, HEADERS_BOOL),
};
#undef S
HEADERS_DESC(query_req_desc, "query consumer offset header", query_req_fields);
HEADERS_DEFINE(headers_offset_query_req, headers_offset_query_req, query_req_desc)

#define S headers_offset_update_req
static const struct headers_field update_req_fields[] = {
    HEADERS_F(S, consumer_group, "consumerGroup", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, commit_offset, "commitOffset", NULL, HEADERS_I64, HEADERS_REQ),
};
#undef S
HEADERS_DESC(update_req_desc, "update consumer offset header", update_req_fields);
HEADERS_DEFINE(headers_offset_update_req, headers_offset_update_req, update_req_desc)

#define S headers_offset_queue_req
static const struct headers_field queue_req_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_FH(S, committed, "committed", NULL, HEADERS_BOOL),
};
#undef S
HEADERS_DESC(queue_req_desc, "queue offset header", queue_req_fields);
HEADERS_DEFINE(headers_offset_queue_req, headers_offset_queue_req, queue_req_desc)

#define S headers_offset_search_req
static const struct headers_field search_req_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, queue_id, "queueId", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, timestamp, "timestamp", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, boundary_type, "boundaryType", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(search_req_desc, "search offset header", search_req_fields);
HEADERS_DEFINE(headers_offset_search_req, headers_offset_search_req, search_req_desc)

#define S headers_offset_resp
static const struct headers_field resp_fields[] = {
    HEADERS_F(S, offset, "offset", NULL, HEADERS_I64, HEADERS_REQ),
};
#undef S
HEADERS_DESC(resp_desc, "offset response header", resp_fields);
HEADERS_DEFINE(headers_offset_resp, headers_offset_resp, resp_desc)

#define S headers_offset_time_resp
static const struct headers_field time_resp_fields[] = {
    HEADERS_F(S, timestamp, "timestamp", NULL, HEADERS_I64, HEADERS_REQ),
};
#undef S
HEADERS_DESC(time_resp_desc, "store time response header", time_resp_fields);
HEADERS_DEFINE(headers_offset_time_resp, headers_offset_time_resp, time_resp_desc)

#define S headers_offset_reset_req
static const struct headers_field reset_req_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, group, "group", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, timestamp, "timestamp", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_FH(S, is_force, "isForce", NULL, HEADERS_BOOL),
    HEADERS_FH(S, queue_id, "queueId", NULL, HEADERS_I32),
    HEADERS_FH(S, offset, "offset", NULL, HEADERS_I64),
};
#undef S
HEADERS_DESC(reset_req_desc, "reset offset header", reset_req_fields);
HEADERS_DEFINE(headers_offset_reset_req, headers_offset_reset_req, reset_req_desc)
