/* RocketMQ remoting request codes, response codes and language codes
 * (PROTOCOL.md §3), as X-macro tables so names and values never drift apart. */
#ifndef TERN_CODES_H
#define TERN_CODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* X(NAME, value). Requests a broker or name server of Tern may see or send
 * (ROCKETMQ-PROTOCOL.md §2.1). Any other code is answered with
 * REQUEST_CODE_NOT_SUPPORTED, so the table need not be exhaustive. */
#define CODES_REQUESTS(X)                                                                          \
    X(SEND_MESSAGE, 10)                                                                            \
    X(PULL_MESSAGE, 11)                                                                            \
    X(QUERY_MESSAGE, 12)                                                                           \
    X(QUERY_BROKER_OFFSET, 13)                                                                     \
    X(QUERY_CONSUMER_OFFSET, 14)                                                                   \
    X(UPDATE_CONSUMER_OFFSET, 15)                                                                  \
    X(UPDATE_AND_CREATE_TOPIC, 17)                                                                 \
    X(SEARCH_OFFSET_BY_TIMESTAMP, 29)                                                              \
    X(GET_MAX_OFFSET, 30)                                                                          \
    X(GET_MIN_OFFSET, 31)                                                                          \
    X(GET_EARLIEST_MSG_STORETIME, 32)                                                              \
    X(VIEW_MESSAGE_BY_ID, 33)                                                                      \
    X(HEART_BEAT, 34)                                                                              \
    X(UNREGISTER_CLIENT, 35)                                                                       \
    X(CONSUMER_SEND_MSG_BACK, 36)                                                                  \
    X(END_TRANSACTION, 37)                                                                         \
    X(GET_CONSUMER_LIST_BY_GROUP, 38)                                                              \
    X(CHECK_TRANSACTION_STATE, 39)                                                                 \
    X(NOTIFY_CONSUMER_IDS_CHANGED, 40)                                                             \
    X(LOCK_BATCH_MQ, 41)                                                                           \
    X(UNLOCK_BATCH_MQ, 42)                                                                         \
    X(CHECK_CLIENT_CONFIG, 46)                                                                     \
    X(PUT_KV_CONFIG, 100)                                                                          \
    X(GET_KV_CONFIG, 101)                                                                          \
    X(DELETE_KV_CONFIG, 102)                                                                       \
    X(REGISTER_BROKER, 103)                                                                        \
    X(UNREGISTER_BROKER, 104)                                                                      \
    X(GET_ROUTEINFO_BY_TOPIC, 105)                                                                 \
    X(GET_BROKER_CLUSTER_INFO, 106)                                                                \
    X(GET_ALL_TOPIC_LIST_FROM_NAMESERVER, 206)                                                     \
    X(RESET_CONSUMER_CLIENT_OFFSET, 220)                                                           \
    X(INVOKE_BROKER_TO_RESET_OFFSET, 222)                                                          \
    X(GET_CONSUMER_RUNNING_INFO, 307)                                                              \
    X(CONSUME_MESSAGE_DIRECTLY, 309)                                                               \
    X(SEND_MESSAGE_V2, 310)                                                                        \
    X(SEND_BATCH_MESSAGE, 320)                                                                     \
    X(QUERY_DATA_VERSION, 322)                                                                     \
    X(SEND_REPLY_MESSAGE, 324)                                                                     \
    X(SEND_REPLY_MESSAGE_V2, 325)                                                                  \
    X(LITE_PULL_MESSAGE, 361)                                                                      \
    X(BROKER_HEARTBEAT, 904)

/* X(NAME, value). RemotingSysResponseCode + ResponseCode (ROCKETMQ-PROTOCOL.md §2.2). Client-local
 * pseudo codes (-1000 ...) never travel on the wire and are left out. */
#define CODES_RESPONSES(X)                                                                         \
    X(SUCCESS, 0)                                                                                  \
    X(SYSTEM_ERROR, 1)                                                                             \
    X(SYSTEM_BUSY, 2)                                                                              \
    X(REQUEST_CODE_NOT_SUPPORTED, 3)                                                               \
    X(TRANSACTION_FAILED, 4)                                                                       \
    X(FLUSH_DISK_TIMEOUT, 10)                                                                      \
    X(SLAVE_NOT_AVAILABLE, 11)                                                                     \
    X(FLUSH_SLAVE_TIMEOUT, 12)                                                                     \
    X(MESSAGE_ILLEGAL, 13)                                                                         \
    X(SERVICE_NOT_AVAILABLE, 14)                                                                   \
    X(VERSION_NOT_SUPPORTED, 15)                                                                   \
    X(NO_PERMISSION, 16)                                                                           \
    X(TOPIC_NOT_EXIST, 17)                                                                         \
    X(TOPIC_EXIST_ALREADY, 18)                                                                     \
    X(PULL_NOT_FOUND, 19)                                                                          \
    X(PULL_RETRY_IMMEDIATELY, 20)                                                                  \
    X(PULL_OFFSET_MOVED, 21)                                                                       \
    X(QUERY_NOT_FOUND, 22)                                                                         \
    X(SUBSCRIPTION_PARSE_FAILED, 23)                                                               \
    X(SUBSCRIPTION_NOT_EXIST, 24)                                                                  \
    X(SUBSCRIPTION_NOT_LATEST, 25)                                                                 \
    X(SUBSCRIPTION_GROUP_NOT_EXIST, 26)                                                            \
    X(FILTER_DATA_NOT_EXIST, 27)                                                                   \
    X(FILTER_DATA_NOT_LATEST, 28)                                                                  \
    X(INVALID_PARAMETER, 29)                                                                       \
    X(TRANSACTION_SHOULD_COMMIT, 200)                                                              \
    X(TRANSACTION_SHOULD_ROLLBACK, 201)                                                            \
    X(TRANSACTION_STATE_UNKNOW, 202)                                                               \
    X(TRANSACTION_STATE_GROUP_WRONG, 203)                                                          \
    X(NO_BUYER_ID, 204)                                                                            \
    X(NOT_IN_CURRENT_UNIT, 205)                                                                    \
    X(CONSUMER_NOT_ONLINE, 206)                                                                    \
    X(CONSUME_MSG_TIMEOUT, 207)                                                                    \
    X(NO_MESSAGE, 208)                                                                             \
    X(POLLING_FULL, 209)                                                                           \
    X(POLLING_TIMEOUT, 210)                                                                        \
    X(BROKER_NOT_EXIST, 211)                                                                       \
    X(BROKER_DISPATCH_NOT_COMPLETE, 212)                                                           \
    X(BROADCAST_CONSUMPTION, 213)                                                                  \
    X(FLOW_CONTROL, 215)                                                                           \
    X(NOT_LEADER_FOR_QUEUE, 501)                                                                   \
    X(ILLEGAL_OPERATION, 604)                                                                      \
    X(GO_AWAY, 1500)                                                                               \
    X(CONTROLLER_FENCED_MASTER_EPOCH, 2000)                                                        \
    X(CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH, 2001)                                                \
    X(CONTROLLER_INVALID_MASTER, 2002)                                                             \
    X(CONTROLLER_INVALID_REPLICAS, 2003)                                                           \
    X(CONTROLLER_MASTER_NOT_AVAILABLE, 2004)                                                       \
    X(CONTROLLER_INVALID_REQUEST, 2005)                                                            \
    X(CONTROLLER_BROKER_NOT_ALIVE, 2006)                                                           \
    X(CONTROLLER_NOT_LEADER, 2007)                                                                 \
    X(CONTROLLER_BROKER_METADATA_NOT_EXIST, 2008)                                                  \
    X(CONTROLLER_INVALID_CLEAN_BROKER_METADATA, 2009)                                              \
    X(CONTROLLER_BROKER_NEED_TO_BE_REGISTERED, 2010)                                               \
    X(CONTROLLER_MASTER_STILL_EXIST, 2011)                                                         \
    X(CONTROLLER_ELECT_MASTER_FAILED, 2012)                                                        \
    X(CONTROLLER_ALTER_SYNC_STATE_SET_FAILED, 2013)                                                \
    X(CONTROLLER_BROKER_ID_INVALID, 2014)                                                          \
    X(CONTROLLER_JRAFT_INTERNAL_ERROR, 2015)                                                       \
    X(CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS, 2016)                                                \
    X(USER_NOT_EXIST, 3001)                                                                        \
    X(POLICY_NOT_EXIST, 3002)

/* X(NAME, byte). LanguageCode (PROTOCOL.md §3.4): JSON headers carry the name, binary
 * headers the byte. */
#define CODES_LANGUAGES(X)                                                                         \
    X(JAVA, 0)                                                                                     \
    X(CPP, 1)                                                                                      \
    X(DOTNET, 2)                                                                                   \
    X(PYTHON, 3)                                                                                   \
    X(DELPHI, 4)                                                                                   \
    X(ERLANG, 5)                                                                                   \
    X(RUBY, 6)                                                                                     \
    X(OTHER, 7)                                                                                    \
    X(HTTP, 8)                                                                                     \
    X(GO, 9)                                                                                       \
    X(PHP, 10)                                                                                     \
    X(OMS, 11)                                                                                     \
    X(RUST, 12)                                                                                    \
    X(NODE_JS, 13)

enum codes_request {
#define CODES_REQ_ENUM(name, value) CODES_REQ_##name = value,
    CODES_REQUESTS(CODES_REQ_ENUM)
#undef CODES_REQ_ENUM
};

enum codes_response {
#define CODES_RESP_ENUM(name, value) CODES_RESP_##name = value,
    CODES_RESPONSES(CODES_RESP_ENUM)
#undef CODES_RESP_ENUM
};

enum codes_language {
#define CODES_LANG_ENUM(name, value) CODES_LANG_##name = value,
    CODES_LANGUAGES(CODES_LANG_ENUM)
#undef CODES_LANG_ENUM
};

/* Tern-only request codes live in [CODES_TERN_FIRST, CODES_TERN_LAST]
 * (PROTOCOL.md §3.3). RocketMQ uses nothing in this range; stock clients never
 * send it. None are defined in format version 1. */
#define CODES_TERN_FIRST 9000
#define CODES_TERN_LAST 9099
/* Broker-to-broker catch-up of a far-behind replica (broker/segfetch.h). */
#define CODES_TERN_FETCH_SEGMENT 9010

/* Raft group operations (9000-9009, PROTOCOL.md §3.3.1): answered by every
 * Tern broker (broker/groupadmin.c); kept out of CODES_REQUESTS, whose names
 * are RocketMQ's. */
enum codes_tern_group {
    CODES_REQ_TERN_GROUP_STATUS = 9000,
    CODES_REQ_TERN_GROUP_TRANSFER_LEADER = 9001,
    CODES_REQ_TERN_GROUP_ADD_REPLICA = 9002,
    CODES_REQ_TERN_GROUP_REMOVE_REPLICA = 9003,
};

/* MQVersion ordinal Tern puts in everything it emits (V5_3_3, PROTOCOL.md §2.5): clients
 * gate SQL92 filtering and standard route JSON on version >= 401. */
#define CODES_VERSION_TERN 479

/* Name of a request code ("SEND_MESSAGE_V2"), or NULL if not in the table. */
const char *codes_request_name(int code);
/* Name of a response code ("PULL_NOT_FOUND"), or NULL if not in the table. */
const char *codes_response_name(int code);
/* Name of a language byte ("GO"), or NULL if unknown. */
const char *codes_language_name(int lang);
/* Language byte for a name of n bytes (exact, case-sensitive as Java's enum
 * valueOf); -1 if unknown. */
int codes_language_from_name(const char *name, size_t n);
/* True for a code in the Tern-only range. */
bool codes_is_tern(int code);

#endif
