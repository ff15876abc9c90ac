/* Typed request and response headers carried in extFields (PROTOCOL.md §4).
 *
 * For every header H:
 *   int headers_H_decode(struct headers_H *h, const struct remoting_cmd *c,
 *                        const struct limits *l, char *errmsg);
 *     Zeroes *h and fills it from c's extFields. String fields are slices
 *     into c (valid as long as c and the frame it was decoded from). Returns
 *     TERN_E_MALFORMED with errmsg such as "pull header: missing 'queueOffset'"
 *     when a required field is absent, a number or bool does not parse, or a
 *     topic fails limits_check_topic.
 *   int headers_H_encode(const struct headers_H *h, struct remoting_cmd *c);
 *     Sets h's fields into c's extFields (c already initialised with
 *     remoting_cmd_init_request/_response; the code selects V1/V2 names for
 *     sends). Values are copied. Returns 0, TERN_E_TOOBIG or TERN_E_NOMEM.
 *
 * Optional fields: a string is absent when p == NULL; numbers and bools have a
 * has_<field> flag. Fields marked "default" are optional on decode (0/false
 * when absent) and always encoded, as Java always writes them. */
#ifndef TERN_HEADERS_H
#define TERN_HEADERS_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "protocol/remoting.h"
#include "src/slice.h"

#define HEADERS_DECLARE(prefix, st)                                                                \
    int prefix##_decode(struct st *h, const struct remoting_cmd *c, const struct limits *l,         \
                        char *errmsg);                                                             \
    int prefix##_encode(const struct st *h, struct remoting_cmd *c)

/* §4.1 SEND_MESSAGE (10, long names) and SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE
 * (310/320, short names a..n). */
struct headers_send_req {
    struct slice producer_group;      /* a producerGroup */
    struct slice topic;               /* b topic */
    struct slice default_topic;       /* c defaultTopic */
    int32_t default_topic_queue_nums; /* d defaultTopicQueueNums */
    int32_t queue_id;                 /* e queueId (< 0: broker picks) */
    int32_t sys_flag;                 /* f sysFlag */
    int64_t born_timestamp;           /* g bornTimestamp (ms) */
    int32_t flag;                     /* h flag */
    struct slice properties;          /* i properties (opt) */
    bool has_reconsume_times;
    int32_t reconsume_times; /* j reconsumeTimes (opt) */
    bool has_unit_mode;
    bool unit_mode; /* k unitMode (opt) */
    bool has_max_reconsume_times;
    int32_t max_reconsume_times; /* l maxReconsumeTimes (opt) */
    bool has_batch;
    bool batch;               /* m batch (opt) */
    struct slice broker_name; /* n brokerName (opt) */
    struct slice bname;       /* bname, 5.x RPC base field (opt) */
};
HEADERS_DECLARE(headers_send_req, headers_send_req);

/* §4.1 send response. Encode always writes MSG_REGION ("DefaultRegion" when
 * msg_region is NULL: the Java client NPEs without it) and TRACE_ON. */
struct headers_send_resp {
    struct slice msg_id;         /* msgId: offsetMsgId(s), comma-joined for batches */
    int32_t queue_id;            /* queueId */
    int64_t queue_offset;        /* queueOffset */
    struct slice transaction_id; /* transactionId (opt) */
    struct slice batch_uniq_id;  /* batchUniqId (opt) */
    struct slice msg_region;     /* MSG_REGION (opt on decode) */
    bool trace_on;               /* TRACE_ON (default) */
};
HEADERS_DECLARE(headers_send_resp, headers_send_resp);

/* §4.2 PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361). */
struct headers_pull_req {
    struct slice consumer_group;    /* consumerGroup */
    struct slice topic;             /* topic */
    int32_t queue_id;               /* queueId */
    int64_t queue_offset;           /* queueOffset */
    int32_t max_msg_nums;           /* maxMsgNums */
    int32_t sys_flag;               /* sysFlag (HEADERS_PULL_FLAG_*) */
    int64_t commit_offset;          /* commitOffset */
    int64_t suspend_timeout_millis; /* suspendTimeoutMillis */
    struct slice subscription;      /* subscription (opt) */
    int64_t sub_version;            /* subVersion */
    struct slice expression_type;   /* expressionType (opt; TAG when absent) */
    bool has_max_msg_bytes;
    int32_t max_msg_bytes; /* maxMsgBytes (opt, 5.x) */
    struct slice bname;    /* bname (opt) */
};
HEADERS_DECLARE(headers_pull_req, headers_pull_req);

#define HEADERS_PULL_FLAG_COMMIT_OFFSET 0x1
#define HEADERS_PULL_FLAG_SUSPEND 0x2
#define HEADERS_PULL_FLAG_SUBSCRIPTION 0x4
#define HEADERS_PULL_FLAG_CLASS_FILTER 0x8
#define HEADERS_PULL_FLAG_LITE_PULL 0x10

/* §4.2 pull response: the first four are always written and required. */
struct headers_pull_resp {
    int64_t suggest_which_broker_id; /* suggestWhichBrokerId */
    int64_t next_begin_offset;       /* nextBeginOffset */
    int64_t min_offset;              /* minOffset */
    int64_t max_offset;              /* maxOffset */
    bool has_offset_delta;
    int64_t offset_delta; /* offsetDelta (opt) */
    bool has_topic_sys_flag;
    int32_t topic_sys_flag; /* topicSysFlag (opt) */
    bool has_group_sys_flag;
    int32_t group_sys_flag; /* groupSysFlag (opt) */
    bool has_forbidden_type;
    int32_t forbidden_type; /* forbiddenType (opt) */
};
HEADERS_DECLARE(headers_pull_resp, headers_pull_resp);

/* §4.3 QUERY_CONSUMER_OFFSET (14). */
struct headers_offset_query_req {
    struct slice consumer_group; /* consumerGroup */
    struct slice topic;          /* topic */
    int32_t queue_id;            /* queueId */
    bool has_set_zero_if_not_found;
    bool set_zero_if_not_found; /* setZeroIfNotFound (opt, 5.x) */
};
HEADERS_DECLARE(headers_offset_query_req, headers_offset_query_req);

/* §4.3 UPDATE_CONSUMER_OFFSET (15). */
struct headers_offset_update_req {
    struct slice consumer_group; /* consumerGroup */
    struct slice topic;          /* topic */
    int32_t queue_id;            /* queueId */
    int64_t commit_offset;       /* commitOffset */
};
HEADERS_DECLARE(headers_offset_update_req, headers_offset_update_req);

/* §4.3 GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME
 * (32): topic and queue; `committed` only for 30 (Java default true). */
struct headers_offset_queue_req {
    struct slice topic; /* topic */
    int32_t queue_id;   /* queueId */
    bool has_committed;
    bool committed; /* committed (opt) */
};
HEADERS_DECLARE(headers_offset_queue_req, headers_offset_queue_req);

/* §4.3 SEARCH_OFFSET_BY_TIMESTAMP (29). */
struct headers_offset_search_req {
    struct slice topic;         /* topic */
    int32_t queue_id;           /* queueId */
    int64_t timestamp;          /* timestamp (ms) */
    struct slice boundary_type; /* boundaryType: "lower" (default) / "upper" (opt) */
};
HEADERS_DECLARE(headers_offset_search_req, headers_offset_search_req);

/* INVOKE_BROKER_TO_RESET_OFFSET (222, tools -> broker) and
 * RESET_CONSUMER_CLIENT_OFFSET (220, broker -> consumer): RocketMQ
 * ResetOffsetRequestHeader. timestamp -1 means "the max offset"; 5.x tools
 * may name one queue and an offset instead. */
struct headers_offset_reset_req {
    struct slice topic; /* topic */
    struct slice group; /* group */
    int64_t timestamp;  /* timestamp (ms) */
    bool has_is_force;
    bool is_force; /* isForce (opt) */
    bool has_queue_id;
    int32_t queue_id; /* queueId (opt, -1 = all) */
    bool has_offset;
    int64_t offset; /* offset (opt) */
};
HEADERS_DECLARE(headers_offset_reset_req, headers_offset_reset_req);

/* §4.3 response of 14, 29, 30, 31. */
struct headers_offset_resp {
    int64_t offset; /* offset */
};
HEADERS_DECLARE(headers_offset_resp, headers_offset_resp);

/* §4.3 response of 32. */
struct headers_offset_time_resp {
    int64_t timestamp; /* timestamp */
};
HEADERS_DECLARE(headers_offset_time_resp, headers_offset_time_resp);

/* §4.4 UNREGISTER_CLIENT (35). HEART_BEAT (34) has no header. */
struct headers_client_unregister_req {
    struct slice client_id;      /* clientID */
    struct slice producer_group; /* producerGroup (opt) */
    struct slice consumer_group; /* consumerGroup (opt) */
};
HEADERS_DECLARE(headers_client_unregister_req, headers_client_unregister_req);

/* §4.4 GET_CONSUMER_LIST_BY_GROUP (38) and NOTIFY_CONSUMER_IDS_CHANGED (40). */
struct headers_client_group_req {
    struct slice consumer_group; /* consumerGroup */
};
HEADERS_DECLARE(headers_client_group_req, headers_client_group_req);

/* §4.4 CONSUMER_SEND_MSG_BACK (36). */
struct headers_client_sendback_req {
    int64_t offset;            /* offset: commitlog physical offset */
    struct slice group;        /* group */
    int32_t delay_level;       /* delayLevel: 0 broker chooses, -1 DLQ */
    struct slice origin_msg_id; /* originMsgId (opt) */
    struct slice origin_topic; /* originTopic (opt) */
    bool has_unit_mode;
    bool unit_mode; /* unitMode (opt) */
    bool has_max_reconsume_times;
    int32_t max_reconsume_times; /* maxReconsumeTimes (opt) */
    struct slice bname;          /* bname (opt) */
};
HEADERS_DECLARE(headers_client_sendback_req, headers_client_sendback_req);

#define HEADERS_TX_NOT_TYPE 0
#define HEADERS_TX_COMMIT 8
#define HEADERS_TX_ROLLBACK 12

/* §4.4 END_TRANSACTION (37), oneway. */
struct headers_client_endtx_req {
    struct slice topic;             /* topic (opt, 5.x) */
    struct slice producer_group;    /* producerGroup */
    int64_t tran_state_table_offset; /* tranStateTableOffset */
    int64_t commit_log_offset;      /* commitLogOffset */
    int32_t commit_or_rollback;     /* commitOrRollback: HEADERS_TX_* */
    bool has_from_transaction_check;
    bool from_transaction_check; /* fromTransactionCheck (opt) */
    struct slice msg_id;         /* msgId (UNIQ_KEY) */
    struct slice transaction_id; /* transactionId (opt) */
    struct slice bname;          /* bname (opt) */
};
HEADERS_DECLARE(headers_client_endtx_req, headers_client_endtx_req);

/* §4.4 CHECK_TRANSACTION_STATE (39), broker -> producer, oneway. */
struct headers_client_checktx_req {
    struct slice topic;              /* topic (opt) */
    int64_t tran_state_table_offset; /* tranStateTableOffset */
    int64_t commit_log_offset;       /* commitLogOffset */
    struct slice msg_id;             /* msgId (opt) */
    struct slice transaction_id;     /* transactionId (opt) */
    struct slice offset_msg_id;      /* offsetMsgId (opt) */
    struct slice bname;              /* bname (opt) */
};
HEADERS_DECLARE(headers_client_checktx_req, headers_client_checktx_req);

/* §4.4 QUERY_MESSAGE (12). */
struct headers_client_query_req {
    struct slice topic;     /* topic */
    struct slice key;       /* key */
    int32_t max_num;        /* maxNum */
    int64_t begin_timestamp; /* beginTimestamp */
    int64_t end_timestamp;  /* endTimestamp */
    bool has_unique_key_query;
    bool unique_key_query; /* _UNIQUE_KEY_QUERY (opt): key is a UNIQ_KEY */
};
HEADERS_DECLARE(headers_client_query_req, headers_client_query_req);

struct headers_client_query_resp {
    int64_t index_last_update_timestamp; /* indexLastUpdateTimestamp */
    int64_t index_last_update_phyoffset; /* indexLastUpdatePhyoffset */
};
HEADERS_DECLARE(headers_client_query_resp, headers_client_query_resp);

/* §4.4 VIEW_MESSAGE_BY_ID (33). */
struct headers_client_view_req {
    int64_t offset;     /* offset: commitlog physical offset */
    struct slice topic; /* topic (opt) */
};
HEADERS_DECLARE(headers_client_view_req, headers_client_view_req);

/* §4.5 UPDATE_AND_CREATE_TOPIC (17). */
struct headers_admin_topic_req {
    struct slice topic;             /* topic */
    struct slice default_topic;     /* defaultTopic */
    int32_t read_queue_nums;        /* readQueueNums */
    int32_t write_queue_nums;       /* writeQueueNums */
    int32_t perm;                   /* perm */
    struct slice topic_filter_type; /* topicFilterType: SINGLE_TAG / MULTI_TAG */
    bool has_topic_sys_flag;
    int32_t topic_sys_flag; /* topicSysFlag (opt) */
    bool order;             /* order (default) */
    struct slice attributes; /* attributes (opt) */
    bool has_force;
    bool force; /* force (opt) */
};
HEADERS_DECLARE(headers_admin_topic_req, headers_admin_topic_req);

/* §4.5 REGISTER_BROKER (103). */
struct headers_admin_register_req {
    struct slice broker_name;    /* brokerName */
    struct slice broker_addr;    /* brokerAddr */
    struct slice cluster_name;   /* clusterName */
    struct slice ha_server_addr; /* haServerAddr */
    int64_t broker_id;           /* brokerId: 0 master */
    bool has_heartbeat_timeout_millis;
    int64_t heartbeat_timeout_millis; /* heartbeatTimeoutMillis (opt) */
    bool has_enable_acting_master;
    bool enable_acting_master; /* enableActingMaster (opt) */
    bool compressed;           /* compressed (default) */
    int32_t body_crc32;        /* bodyCrc32 (default; 0 = unchecked) */
    struct slice zone_name;    /* __ZONE_NAME (opt) */
};
HEADERS_DECLARE(headers_admin_register_req, headers_admin_register_req);

struct headers_admin_register_resp {
    struct slice ha_server_addr; /* haServerAddr (opt) */
    struct slice master_addr;    /* masterAddr (opt) */
};
HEADERS_DECLARE(headers_admin_register_resp, headers_admin_register_resp);

/* §4.5 UNREGISTER_BROKER (104). */
struct headers_admin_unregister_req {
    struct slice broker_name;  /* brokerName */
    struct slice broker_addr;  /* brokerAddr */
    struct slice cluster_name; /* clusterName */
    int64_t broker_id;         /* brokerId */
};
HEADERS_DECLARE(headers_admin_unregister_req, headers_admin_unregister_req);

/* §4.5 GET_ROUTEINFO_BY_TOPIC (105). */
struct headers_admin_route_req {
    struct slice topic; /* topic */
    bool has_accept_standard_json_only;
    bool accept_standard_json_only; /* acceptStandardJsonOnly (opt) */
};
HEADERS_DECLARE(headers_admin_route_req, headers_admin_route_req);

/* §4.5 PUT_KV_CONFIG (100), GET_KV_CONFIG (101), DELETE_KV_CONFIG (102):
 * value is required for PUT only (decided by c->code). */
struct headers_admin_kv_req {
    struct slice namespace_; /* namespace */
    struct slice key;        /* key */
    struct slice value;      /* value (PUT) */
};
HEADERS_DECLARE(headers_admin_kv_req, headers_admin_kv_req);

/* §4.5 GET_KV_CONFIG response. */
struct headers_admin_kv_resp {
    struct slice value; /* value (opt) */
};
HEADERS_DECLARE(headers_admin_kv_resp, headers_admin_kv_resp);

/* §4.6 Tern raft group operations (codes.h CODES_REQ_TERN_GROUP_*).
 * TRANSFER_LEADER (9001): target raft id, absent = the most up-to-date voter. */
struct headers_group_transfer_req {
    bool has_to;
    int64_t to; /* to (opt) */
};
HEADERS_DECLARE(headers_group_transfer_req, headers_group_transfer_req);

/* ADD_REPLICA (9002) and REMOVE_REPLICA (9003). */
struct headers_group_member_req {
    int64_t raft_id;          /* raftId */
    struct slice raft_address; /* raftAddress (opt; ADD requires it) */
};
HEADERS_DECLARE(headers_group_member_req, headers_group_member_req);

/* Response header of 9001-9003: the group and who leads it (after a
 * transfer: the new leader; on a refusal by a non-leader: the leader this
 * member knows of, when it knows one). */
struct headers_group_resp {
    struct slice broker_name; /* brokerName (opt) */
    bool has_leader_id;
    int64_t leader_id;           /* leaderId (opt) */
    struct slice leader_address; /* leaderRaftAddress (opt) */
};
HEADERS_DECLARE(headers_group_resp, headers_group_resp);

#endif
