/* Typed headers of topic administration and name server requests (PROTOCOL.md §4.5). */
#include "protocol/headers.h"

#include "protocol/codes.h"
#include "protocol/headers_fields.h"
#include "src/errmsg.h"
#include "tern/error.h"

#define S headers_admin_topic_req
static const struct headers_field topic_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_F(S, default_topic, "defaultTopic", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, read_queue_nums, "readQueueNums", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, write_queue_nums, "writeQueueNums", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, perm, "perm", NULL, HEADERS_I32, HEADERS_REQ),
    HEADERS_F(S, topic_filter_type, "topicFilterType", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_FH(S, topic_sys_flag, "topicSysFlag", NULL, HEADERS_I32),
    HEADERS_F(S, order, "order", NULL, HEADERS_BOOL, HEADERS_DEF),
    HEADERS_F(S, attributes, "attributes", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_FH(S, force, "force", NULL, HEADERS_BOOL),
};
#undef S
HEADERS_DESC(topic_desc, "create topic header", topic_fields);
HEADERS_DEFINE(headers_admin_topic_req, headers_admin_topic_req, topic_desc)

#define S headers_admin_register_req
static const struct headers_field register_fields[] = {
    HEADERS_F(S, broker_name, "brokerName", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, broker_addr, "brokerAddr", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, cluster_name, "clusterName", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, ha_server_addr, "haServerAddr", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, broker_id, "brokerId", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_FH(S, heartbeat_timeout_millis, "heartbeatTimeoutMillis", NULL, HEADERS_I64),
    HEADERS_FH(S, enable_acting_master, "enableActingMaster", NULL, HEADERS_BOOL),
    HEADERS_F(S, compressed, "compressed", NULL, HEADERS_BOOL, HEADERS_DEF),
    HEADERS_F(S, body_crc32, "bodyCrc32", NULL, HEADERS_I32, HEADERS_DEF),
    HEADERS_F(S, zone_name, "__ZONE_NAME", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(register_desc, "register broker header", register_fields);
HEADERS_DEFINE(headers_admin_register_req, headers_admin_register_req, register_desc)

#define S headers_admin_register_resp
static const struct headers_field register_resp_fields[] = {
    HEADERS_F(S, ha_server_addr, "haServerAddr", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_F(S, master_addr, "masterAddr", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(register_resp_desc, "register broker response header", register_resp_fields);
HEADERS_DEFINE(headers_admin_register_resp, headers_admin_register_resp, register_resp_desc)

#define S headers_admin_unregister_req
static const struct headers_field unregister_fields[] = {
    HEADERS_F(S, broker_name, "brokerName", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, broker_addr, "brokerAddr", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, cluster_name, "clusterName", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, broker_id, "brokerId", NULL, HEADERS_I64, HEADERS_REQ),
};
#undef S
HEADERS_DESC(unregister_desc, "unregister broker header", unregister_fields);
HEADERS_DEFINE(headers_admin_unregister_req, headers_admin_unregister_req, unregister_desc)

#define S headers_admin_route_req
static const struct headers_field route_fields[] = {
    HEADERS_F(S, topic, "topic", NULL, HEADERS_TOPIC, HEADERS_REQ),
    HEADERS_FH(S, accept_standard_json_only, "acceptStandardJsonOnly", NULL, HEADERS_BOOL),
};
#undef S
HEADERS_DESC(route_desc, "route header", route_fields);
HEADERS_DEFINE(headers_admin_route_req, headers_admin_route_req, route_desc)

#define S headers_admin_kv_req
static const struct headers_field kv_fields[] = {
    HEADERS_F(S, namespace_, "namespace", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, key, "key", NULL, HEADERS_STR, HEADERS_REQ),
    HEADERS_F(S, value, "value", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(kv_desc, "kv config header", kv_fields);

int headers_admin_kv_req_decode(struct headers_admin_kv_req *h, const struct remoting_cmd *c,
                                const struct limits *l, char *errmsg)
{
    int rc = headers_decode(&kv_desc, h, sizeof *h, c, l, errmsg);
    if (rc == 0 && c->code == CODES_REQ_PUT_KV_CONFIG && !h->value.p) {
        errmsg_printf(errmsg, "kv config header: missing 'value'");
        return TERN_E_MALFORMED;
    }
    return rc;
}

int headers_admin_kv_req_encode(const struct headers_admin_kv_req *h, struct remoting_cmd *c)
{
    return headers_encode(&kv_desc, h, c);
}

#define S headers_admin_kv_resp
static const struct headers_field kv_resp_fields[] = {
    HEADERS_F(S, value, "value", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(kv_resp_desc, "kv config response header", kv_resp_fields);
HEADERS_DEFINE(headers_admin_kv_resp, headers_admin_kv_resp, kv_resp_desc)
