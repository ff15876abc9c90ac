/* libtern: the public API of Tern's RocketMQ-wire-compatible client library.
 *
 * Objects (all opaque, created and freed only through these functions):
 *   struct tern_client    usually one per process: name servers, route cache,
 *                         broker connections, client id, heartbeats
 *   struct tern_producer  a producer group on a client (send, oneway, batch)
 *   struct tern_consumer  a push consumer on a client (rebalance, long-poll
 *                         pulls, offsets, callback per batch of messages)
 *   struct tern_msg       a received message, valid during a callback only
 *   struct tern_sync      a blocking wrapper: a private loop + a client
 *
 * Threading: everything of one client runs on the uv_loop_t it was created
 * on; call every function from that loop's thread. The library never blocks
 * (except tern_sync_*, which runs its own private loop).
 *
 * Async contract: a function taking a callback either fails now (returns a
 * TERN_E_* code, the callback never fires) or returns 0 and the callback
 * fires exactly once, from the loop, never from inside the call itself; with
 * TERN_E_CANCELED when the client closes first.
 *
 * Ownership: every input (messages, bodies, strings, option structs) is
 * copied before the call returns unless stated otherwise; every output
 * pointer handed to a callback is valid only during that callback.
 *
 * Errors: 0 or a TERN_E_* value of tern/error.h. Positive values are the
 * RocketMQ response code a broker or name server answered with (e.g.
 * TERN_E_TOPIC_NOT_EXIST = 17); other positive codes may appear as is.
 * Callbacks also receive a human-readable detail string (never NULL). */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tern/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of every error-detail buffer the API fills. */
#define TERN_ERRMSG_SIZE 256

struct tern_client;
struct tern_producer;
struct tern_consumer;
struct tern_msg;
struct tern_sync;

/* Fires once when a two-phase close has finished; the object is freed. */
typedef void (*tern_close_cb)(void *arg);
/* Fires once when an operation without a result finished (err 0 = ok). */
typedef void (*tern_done_cb)(int err, const char *errmsg, void *arg);

/* ======================================================================
 * Client
 * ====================================================================== */

/* Header serialization of outgoing requests. Both are RocketMQ wire forms;
 * the broker answers in the form it was asked in. */
enum tern_header_form {
    TERN_HEADER_BINARY = 0, /* "ROCKETMQ" binary header (default, faster) */
    TERN_HEADER_JSON = 1,   /* JSON header, as the Java client sends */
};

struct tern_client_opts {
    /* Name servers "host:port;host:port" (required). Tried in turn. */
    const char *namesrv_addr;
    /* Instance name; NULL or "DEFAULT" becomes "<pid>#<nanotime>" like Java. */
    const char *instance_name;
    /* Our IP in the client id "ip@instance"; NULL: first non-loopback IPv4
     * of this host (127.0.0.1 if none). */
    const char *client_ip;
    int64_t request_timeout_ms; /* per RPC; default 3000 */
    int64_t route_refresh_ms;   /* route poll interval; default 30000 */
    int64_t heartbeat_ms;       /* broker heartbeat interval; default 30000 */
    enum tern_header_form header_form; /* default TERN_HEADER_BINARY */
    /* ACL credentials (RocketMQ plain ACL): when access_key is set, every
     * request carries AccessKey and an HMAC-SHA1 Signature made with
     * secret_key. NULL: unsigned. */
    const char *access_key;
    const char *secret_key;
};

/* Fill o with the defaults (namesrv_addr NULL). Zero fields also mean
 * "default" everywhere, so a zeroed struct with namesrv_addr set is valid. */
TERN_API void tern_client_opts_init(struct tern_client_opts *o);

/* Create a client on loop. Nothing is sent until a producer sends or a
 * consumer starts. If SIGPIPE still has its default disposition it is set to
 * ignored (a write to a connection a broker just dropped would otherwise
 * kill the process). errmsg (TERN_ERRMSG_SIZE bytes, may be NULL) receives
 * the detail on failure. Returns 0 with *out set, TERN_E_INVAL (bad
 * options) or TERN_E_NOMEM. */
TERN_API int tern_client_new(uv_loop_t *loop, const struct tern_client_opts *opts,
                             struct tern_client **out, char *errmsg);

/* Two-phase close: stop new work (later calls fail with TERN_E_CLOSED),
 * fail in-flight requests with TERN_E_CANCELED, commit consumer offsets,
 * send UNREGISTER_CLIENT for every group to every broker it heartbeated,
 * close connections, then call cb(arg) and free the client together with
 * all its producers and consumers. Never fails; cb may be NULL. The loop
 * must keep running until cb has fired. */
TERN_API void tern_client_close(struct tern_client *c, tern_close_cb cb, void *arg);

enum tern_log_level {
    TERN_LOG_DEBUG = 0,
    TERN_LOG_INFO = 1, /* default */
    TERN_LOG_WARN = 2,
    TERN_LOG_ERROR = 3,
};

/* Process-wide level of the library's log lines on stderr. */
TERN_API void tern_log_set_level(enum tern_log_level level);

/* "ip@instance". Valid until the client is freed. */
TERN_API const char *tern_client_id(const struct tern_client *c);

/* Detail of the last call on this client (or its producers and consumers)
 * that failed immediately; valid until the next call. */
TERN_API const char *tern_client_errmsg(const struct tern_client *c);

/* ======================================================================
 * Producer
 * ====================================================================== */

struct tern_prop {
    const char *key;   /* must not contain 0x01/0x02 */
    const char *value; /* NULL or "" is skipped */
};

/* An outgoing message (caller-owned; copied by the send call). */
struct tern_send_msg {
    const char *topic;   /* required */
    const void *body;    /* body bytes (may be NULL if body_len is 0) */
    size_t body_len;
    const char *tags;    /* TAGS property, NULL: none */
    const char *keys;    /* KEYS property, space separated, NULL: none */
    const struct tern_prop *props; /* user properties */
    size_t prop_count;
    int32_t flag;        /* user flag, stored verbatim */
    int delay_level;     /* DELAY property 1..18, 0: none */
    int64_t delay_ms;      /* TIMER_DELAY_MS: due this long after the broker stores it; 0: none */
    int64_t deliver_at_ms; /* TIMER_DELIVER_MS: due at this epoch ms; 0: none (one delay kind per message) */

    /* Queue selection, first that applies:
     *  - use_queue_id: queue queue_id of broker broker_name (NULL: the first
     *    broker in name order that has a writable queue with that id);
     *  - sharding_key: hash of the key modulo the number of writable queues
     *    (stable while the route is unchanged; no retry on another queue);
     *  - otherwise round-robin over writable queues, skipping the broker
     *    that failed on a retry. */
    bool use_queue_id;
    int queue_id;
    const char *broker_name;
    const char *sharding_key;
};

enum tern_send_status {
    TERN_SEND_OK = 0,
    TERN_SEND_FLUSH_DISK_TIMEOUT = 10,
    TERN_SEND_SLAVE_NOT_AVAILABLE = 11,
    TERN_SEND_FLUSH_SLAVE_TIMEOUT = 12,
};

/* Result of a send; strings valid during the callback only. */
struct tern_send_result {
    enum tern_send_status status;
    const char *msg_id;        /* UNIQ_KEY (batch: comma-joined, in order) */
    const char *offset_msg_id; /* broker's offsetMsgId(s), as answered */
    const char *broker_name;
    int queue_id;
    int64_t queue_offset;      /* batch: offset of the first message */
    int attempts;              /* 1 + retries used */
};

/* err 0: res is the result. Else res is NULL and errmsg tells why (a
 * positive err is the broker's response code of the last attempt). */
typedef void (*tern_send_cb)(int err, const char *errmsg, const struct tern_send_result *res,
                             void *arg);

struct tern_producer_opts {
    const char *group;          /* required */
    int retries;                /* extra attempts on retryable errors; 0 means
                                   the default 2, -1 means none */
    size_t compress_threshold;  /* compress bodies above this; default 4096;
                                   SIZE_MAX disables */
    int compress_type;          /* TERN_COMPRESS_ZLIB (default: every stock
                                   RocketMQ consumer reads it) or
                                   TERN_COMPRESS_LZ4 (faster; only RocketMQ 5
                                   Java consumers and libtern read it) */
    int64_t send_timeout_ms;    /* per attempt; default the client's timeout */
    int default_topic_queue_nums; /* queues of auto-created topics; default 4 */
    size_t max_in_flight;       /* sends in flight; more fail with TERN_E_BUSY;
                                   default 65536 */
};

/* Body compression of struct tern_producer_opts.compress_type. */
#define TERN_COMPRESS_ZLIB 0
#define TERN_COMPRESS_LZ4 1

TERN_API void tern_producer_opts_init(struct tern_producer_opts *o);

/* Create a producer on c. The producer belongs to the client and is freed by
 * tern_client_close (no separate close). Returns 0, TERN_E_INVAL,
 * TERN_E_CLOSED or TERN_E_NOMEM. */
TERN_API int tern_producer_new(struct tern_client *c, const struct tern_producer_opts *opts,
                               struct tern_producer **out);

/* Send one message (SEND_MESSAGE_V2). The message is copied (properties,
 * UNIQ_KEY and, above the threshold, the compressed body: zlib with
 * sysFlag 0x1, or lz4 with sysFlag 0x1 | 1<<8) before returning. Route lookup (falling back to TBW102 for
 * unknown topics), retries on another broker for retryable failures
 * (SYSTEM_ERROR, SYSTEM_BUSY, SERVICE_NOT_AVAILABLE, TOPIC_NOT_EXIST after a
 * route refresh, timeouts, closed connections) happen inside. Returns 0 (cb
 * fires once) or TERN_E_INVAL / TERN_E_CLOSED / TERN_E_BUSY / TERN_E_NOMEM.
 * Sends made during one pass of the event loop to the same topic and target
 * queue leave together at the end of the pass as one SEND_BATCH_MESSAGE (up
 * to 64; not those with a compressed body, a delay level or user properties),
 * round-robin picking one queue per batch; each cb still gets its own msgId,
 * offset msgId and queue offset. A send alone in its pass goes as above. */
TERN_API int tern_producer_send(struct tern_producer *p, const struct tern_send_msg *m,
                                tern_send_cb cb, void *arg);

/* Fire and forget: same preparation, sent oneway, no retries, no result.
 * Returns 0 once queued (it may still be lost), or an error now. */
TERN_API int tern_producer_send_oneway(struct tern_producer *p, const struct tern_send_msg *m);

/* Send n messages of one topic as one SEND_BATCH_MESSAGE to one queue
 * (queue selection from msgs[0]); they get consecutive queue offsets.
 * Batches are never compressed; delay levels are rejected (TERN_E_INVAL).
 * Same contract as tern_producer_send. */
TERN_API int tern_producer_send_batch(struct tern_producer *p, const struct tern_send_msg *msgs,
                                      size_t n, tern_send_cb cb, void *arg);

/* ----------------------------------------------------------------------
 * Transactional producer (half messages, RocketMQ TransactionMQProducer)
 * ---------------------------------------------------------------------- */

struct tern_txn_producer;

/* A transaction's outcome (the wire values of commitOrRollback). */
enum tern_txn_state {
    TERN_TXN_UNKNOWN = 0,   /* undecided: the broker checks back later */
    TERN_TXN_COMMIT = 8,    /* the message becomes visible in its topic */
    TERN_TXN_ROLLBACK = 12, /* the message is dropped */
};

/* The local transaction, run once the half message is stored (res is its
 * send result, valid during the call). */
typedef enum tern_txn_state (*tern_txn_local_cb)(const struct tern_send_result *res, void *arg);
/* A broker asks about an undecided transaction (CHECK_TRANSACTION_STATE);
 * m is the half message as sent (tern_msg_id is its UNIQ_KEY). The answer
 * goes back as END_TRANSACTION with fromTransactionCheck=true. */
typedef enum tern_txn_state (*tern_txn_check_cb)(const struct tern_msg *m, void *arg);

/* Create a transactional producer of opts->group on c; check answers the
 * broker's check-backs for the group (required). Freed with the client.
 * Returns 0, TERN_E_INVAL, TERN_E_CLOSED or TERN_E_NOMEM. */
TERN_API int tern_txn_producer_new(struct tern_client *c, const struct tern_producer_opts *opts,
                                   tern_txn_check_cb check, void *check_arg,
                                   struct tern_txn_producer **out);
/* Send m as a half message (TRAN_MSG=true, PGROUP, sysFlag PREPARED), run
 * local(res, arg) when it is stored, send its answer as END_TRANSACTION
 * (oneway) to the broker that stored it, then cb(0, "", res, arg). A failed
 * send calls cb with the error and never runs local. Same return contract
 * as tern_producer_send. */
TERN_API int tern_txn_producer_send(struct tern_txn_producer *tp, const struct tern_send_msg *m,
                                    tern_txn_local_cb local, tern_send_cb cb, void *arg);
/* Check-backs this producer answered so far (tests, the CLI). */
TERN_API uint64_t tern_txn_producer_checks(const struct tern_txn_producer *tp);

/* ======================================================================
 * Received messages
 * ====================================================================== */

/* All accessors are valid while the message is (during the callback that
 * delivered it). Strings are NUL-terminated; absent ones are "" (tags,
 * keys) or NULL (tern_msg_property). */
TERN_API const char *tern_msg_topic(const struct tern_msg *m);
TERN_API const char *tern_msg_broker_name(const struct tern_msg *m);
TERN_API int tern_msg_queue_id(const struct tern_msg *m);
TERN_API int64_t tern_msg_queue_offset(const struct tern_msg *m);
/* UNIQ_KEY if present, else the offsetMsgId (Java getMsgId). */
TERN_API const char *tern_msg_id(const struct tern_msg *m);
/* The broker's offsetMsgId (store host + physical offset). */
TERN_API const char *tern_msg_offset_id(const struct tern_msg *m);
TERN_API const char *tern_msg_tags(const struct tern_msg *m);
TERN_API const char *tern_msg_keys(const struct tern_msg *m);
/* Decompressed body. */
TERN_API const void *tern_msg_body(const struct tern_msg *m, size_t *len);
/* A property value or NULL. */
TERN_API const char *tern_msg_property(const struct tern_msg *m, const char *key);
/* Iterate properties: i from 0 while it returns true. */
TERN_API bool tern_msg_property_at(const struct tern_msg *m, size_t i, const char **key,
                                   const char **value);
TERN_API int64_t tern_msg_born_timestamp(const struct tern_msg *m);
TERN_API int64_t tern_msg_store_timestamp(const struct tern_msg *m);
TERN_API int tern_msg_reconsume_times(const struct tern_msg *m);
TERN_API int32_t tern_msg_flag(const struct tern_msg *m);
TERN_API int32_t tern_msg_sysflag(const struct tern_msg *m);
TERN_API int64_t tern_msg_physical_offset(const struct tern_msg *m);

/* ======================================================================
 * Push consumer
 * ====================================================================== */

enum tern_consume_from {
    TERN_FROM_LAST = 0,  /* no committed offset: start at the queue's end */
    TERN_FROM_FIRST = 1, /* ... at the queue's start */
    TERN_FROM_TIMESTAMP = 2, /* ... at from_timestamp_ms */
};

enum tern_model {
    TERN_CLUSTERING = 0,   /* queues split among the group, offsets on brokers */
    TERN_BROADCASTING = 1, /* every member gets all, offsets in a local file */
};

enum tern_consume_status {
    TERN_CONSUME_SUCCESS = 0,
    /* Failed. Clustering (not orderly): sent back to the broker
     * (CONSUMER_SEND_MSG_BACK), redelivered from %RETRY%<group> after the
     * broker's delay with reconsumeTimes + 1, and after max_reconsume_times
     * moved to %DLQ%<group>; if the send-back fails, redelivered locally
     * after retry_delay_ms. Broadcasting: redelivered locally after
     * retry_delay_ms (no send-back). Orderly: see orderly below. */
    TERN_CONSUME_RETRY_LATER = 1,
    /* Not consumed and not failed (e.g. the application is stopping): the
     * same messages again after retry_delay_ms, never sent back, no attempt
     * counted; the offset stays before them. */
    TERN_CONSUME_SUSPEND = 2,
};

/* Messages of one queue in queue order, n <= batch_max. Return
 * TERN_CONSUME_SUCCESS or TERN_CONSUME_RETRY_LATER. The consumer may be
 * closed from inside the callback. */
typedef int (*tern_consume_cb)(const struct tern_msg *const *msgs, size_t n, void *arg);

struct tern_consumer_opts {
    const char *group;       /* required */
    const char *topic;       /* required */
    const char *expression;  /* "*" (default) or "tagA || tagB" */
    enum tern_consume_from from;
    int64_t from_timestamp_ms;
    enum tern_model model;
    size_t batch_max;        /* messages per callback; default 1 */
    int pull_batch;          /* maxMsgNums per pull; default 32 */
    int64_t suspend_ms;      /* long-poll hold; default 15000 */
    int64_t rebalance_ms;    /* default 20000 */
    int64_t commit_ms;       /* offset commit interval; default 5000 */
    int64_t retry_delay_ms;  /* redelivery delay after RETRY_LATER; default 1000 */
    const char *offset_path; /* broadcasting: offsets file; default
                                "./tern-offsets-<group>.txt", one line per queue:
                                "topic broker queueId offset" */
    tern_consume_cb cb;      /* required */
    void *arg;
    /* Orderly consumption (clustering only): each owned queue is locked on
     * its broker (LOCK_BATCH_MQ, renewed every 20 s, released when the queue
     * is rebalanced away or on close) and consumed only while the lock is
     * valid (30 s after the last successful renewal), one batch at a time.
     * RETRY_LATER redelivers the same batch in place after retry_delay_ms;
     * after max_reconsume_times failed attempts its messages go to the
     * group's dead-letter queue (CONSUMER_SEND_MSG_BACK) and the queue moves
     * on; until the broker accepts that, the batch keeps being retried. */
    bool orderly;
    int max_reconsume_times; /* orderly: default 16; < 0 never dead-letter.
                                clustering: the maxReconsumeTimes sent with
                                each send-back (default 16; < 0 the broker's
                                default) */
};

TERN_API void tern_consumer_opts_init(struct tern_consumer_opts *o);

/* Create and start a push consumer: heartbeat to every broker of the topic's
 * route, rebalance (every rebalance_ms and on NOTIFY_CONSUMER_IDS_CHANGED),
 * long-poll pull owned queues, deliver, commit offsets. One consumer per
 * group per client. Returns 0, TERN_E_INVAL, TERN_E_EXISTS (group already
 * consumed on this client), TERN_E_CLOSED or TERN_E_NOMEM. Failures after
 * start (route, brokers down) are retried quietly and logged. */
TERN_API int tern_consumer_new(struct tern_client *c, const struct tern_consumer_opts *opts,
                               struct tern_consumer **out);

/* Two-phase close of one consumer: stop pulling and delivering, commit
 * offsets (UPDATE_CONSUMER_OFFSET or the local file), UNREGISTER_CLIENT for
 * the group, then cb(arg) and free. May be called from inside the consumer's
 * own consume callback (no further batch is delivered). cb may be NULL. */
TERN_API void tern_consumer_close(struct tern_consumer *cons, tern_close_cb cb, void *arg);

struct tern_queue {
    const char *topic;
    const char *broker_name;
    int queue_id;
};

/* Copy up to cap of the topic's queues this consumer currently owns
 * (sorted; queues of %RETRY%<group> it also consumes are not listed) into
 * out; strings valid until the next loop iteration. Returns the number
 * owned (may exceed cap). */
TERN_API size_t tern_consumer_owned(const struct tern_consumer *cons, struct tern_queue *out,
                                    size_t cap);

/* Number of completed rebalance rounds (for tests and tools). */
TERN_API uint64_t tern_consumer_rebalances(const struct tern_consumer *cons);

/* Committed-to-be offset of an owned queue (next to consume), or -1. */
TERN_API int64_t tern_consumer_offset(const struct tern_consumer *cons, const char *broker_name,
                                      int queue_id);

/* ======================================================================
 * Admin and tool helpers (one-shot requests on the client's connections)
 * ====================================================================== */

struct tern_broker_addr {
    int64_t id;       /* 0 = master */
    const char *addr; /* "ip:port" */
};

struct tern_broker {
    const char *name;
    const char *cluster;
    const struct tern_broker_addr *addrs;
    size_t addr_count;
};

struct tern_queue_data {
    const char *broker_name;
    int read_queues;
    int write_queues;
    int perm; /* 4 read, 2 write, 1 inherit */
};

struct tern_route {
    const struct tern_broker *brokers;
    size_t broker_count;
    const struct tern_queue_data *queues;
    size_t queue_count;
};

struct tern_cluster {
    const char *name;
    const char *const *broker_names;
    size_t broker_count;
};

struct tern_cluster_info {
    const struct tern_broker *brokers;
    size_t broker_count;
    const struct tern_cluster *clusters;
    size_t cluster_count;
};

typedef void (*tern_route_cb)(int err, const char *errmsg, const struct tern_route *route,
                              void *arg);
typedef void (*tern_cluster_cb)(int err, const char *errmsg, const struct tern_cluster_info *ci,
                                void *arg);
typedef void (*tern_topics_cb)(int err, const char *errmsg, const char *const *topics, size_t n,
                               void *arg);
/* Offsets and timestamps. */
typedef void (*tern_offset_cb)(int err, const char *errmsg, int64_t offset, void *arg);

/* GET_ROUTEINFO_BY_TOPIC from the name servers (fresh, not the cache).
 * Unknown topic: TERN_E_TOPIC_NOT_EXIST. */
TERN_API int tern_client_topic_route(struct tern_client *c, const char *topic, tern_route_cb cb,
                                     void *arg);
/* GET_BROKER_CLUSTER_INFO. */
TERN_API int tern_client_cluster_info(struct tern_client *c, tern_cluster_cb cb, void *arg);
/* GET_ALL_TOPIC_LIST_FROM_NAMESERVER. */
TERN_API int tern_client_topic_list(struct tern_client *c, tern_topics_cb cb, void *arg);

struct tern_topic_opts {
    const char *topic;       /* required */
    const char *cluster;     /* create on every master of this cluster; NULL:
                                of every cluster */
    const char *broker_addr; /* or on this one broker only (overrides cluster) */
    int read_queues;         /* default 8 */
    int write_queues;        /* default 8 */
    int perm;                /* default 6 (read + write) */
    bool order;
};

/* UPDATE_AND_CREATE_TOPIC to every master found in GET_BROKER_CLUSTER_INFO
 * (or to broker_addr). cb gets 0 if every broker accepted, else the first
 * error. */
TERN_API int tern_client_create_topic(struct tern_client *c, const struct tern_topic_opts *o,
                                      tern_done_cb cb, void *arg);

/* QUERY_CONSUMER_OFFSET of (group, topic, queue) on the master of
 * broker_name (from the route). No committed offset: TERN_E_NOTFOUND (a
 * broker may instead answer 0 while the queue still starts at 0, §4.4). */
TERN_API int tern_client_committed_offset(struct tern_client *c, const char *group,
                                          const char *topic, const char *broker_name, int queue_id,
                                          tern_offset_cb cb, void *arg);
/* GET_MAX_OFFSET (next offset to be written) / GET_MIN_OFFSET. */
TERN_API int tern_client_max_offset(struct tern_client *c, const char *topic,
                                    const char *broker_name, int queue_id, tern_offset_cb cb,
                                    void *arg);
TERN_API int tern_client_min_offset(struct tern_client *c, const char *topic,
                                    const char *broker_name, int queue_id, tern_offset_cb cb,
                                    void *arg);
/* SEARCH_OFFSET_BY_TIMESTAMP (first offset stored at or after ts_ms). */
TERN_API int tern_client_search_offset(struct tern_client *c, const char *topic,
                                       const char *broker_name, int queue_id, int64_t ts_ms,
                                       tern_offset_cb cb, void *arg);
/* UPDATE_CONSUMER_OFFSET, acknowledged (not oneway). */
TERN_API int tern_client_commit_offset(struct tern_client *c, const char *group, const char *topic,
                                       const char *broker_name, int queue_id, int64_t offset,
                                       tern_done_cb cb, void *arg);

enum tern_pull_status {
    TERN_PULL_FOUND = 0,
    TERN_PULL_NO_NEW_MSG = 1,     /* offset == max */
    TERN_PULL_NO_MATCHED_MSG = 2, /* scanned, nothing matched the expression */
    TERN_PULL_OFFSET_ILLEGAL = 3, /* offset moved; restart at next_offset */
};

struct tern_pull_result {
    enum tern_pull_status status;
    int64_t next_offset;
    int64_t min_offset;
    int64_t max_offset;
    const struct tern_msg *const *msgs; /* FOUND: n messages, re-filtered by tag */
    size_t n;
};

typedef void (*tern_pull_cb)(int err, const char *errmsg, const struct tern_pull_result *res,
                             void *arg);

/* One PULL_MESSAGE (no long-polling, no offset commit) of up to max messages
 * from offset of (topic, broker_name, queue_id), for tools. group names the
 * consumer group the broker attributes the pull to (and filters with its
 * heartbeat subscription if it has one); expression NULL = "*". */
TERN_API int tern_client_pull(struct tern_client *c, const char *group, const char *topic,
                              const char *broker_name, int queue_id, int64_t offset, int max,
                              const char *expression, tern_pull_cb cb, void *arg);

/* QUERY_MESSAGE (12) on the master of broker_name: up to max messages of
 * topic stored in [begin_ms, end_ms] (end 0 = no bound) that carry key as a
 * KEYS token, or as their UNIQ_KEY (message id) when unique is true. res
 * ->status is TERN_PULL_FOUND with the messages, or TERN_PULL_NO_NEW_MSG
 * when the broker has none. */
TERN_API int tern_client_query_message(struct tern_client *c, const char *topic, const char *broker_name,
                                       const char *key, bool unique, int max, int64_t begin_ms,
                                       int64_t end_ms, tern_pull_cb cb, void *arg);

/* VIEW_MESSAGE_BY_ID (33): the one message an offsetMsgId (tern_msg_offset_id,
 * RocketMQ's offsetMsgId: store address + physical offset) names, read from
 * the broker at that address. res->status TERN_PULL_FOUND with n = 1. */
TERN_API int tern_client_view_message(struct tern_client *c, const char *offset_msg_id, tern_pull_cb cb,
                                      void *arg);

/* INVOKE_BROKER_TO_RESET_OFFSET (222) on the master of broker_name: commit
 * group's offsets of its queues of topic at the first message stored at or
 * after ts_ms (-1: the max offset, 0: the min offset) and tell the group's
 * live consumers to jump there (RESET_CONSUMER_CLIENT_OFFSET). Without
 * force an offset only moves back. */
TERN_API int tern_client_reset_offset(struct tern_client *c, const char *group, const char *topic,
                                      const char *broker_name, int64_t ts_ms, bool force, tern_done_cb cb,
                                      void *arg);

/* ======================================================================
 * Blocking layer: a private loop and client; each call runs that loop until
 * its result is in. Results stay valid until the next tern_sync_* call on
 * the same handle. Not for use from inside a loop callback.
 * ====================================================================== */

TERN_API int tern_sync_open(const struct tern_client_opts *opts, struct tern_sync **out,
                            char *errmsg);
/* Close the client (commits offsets, unregisters) and free everything. */
TERN_API void tern_sync_close(struct tern_sync *s);
/* The wrapped client and its loop, to create producers and consumers. */
TERN_API struct tern_client *tern_sync_client(struct tern_sync *s);
TERN_API uv_loop_t *tern_sync_loop(struct tern_sync *s);
/* Detail of the last failed call ("" after a success). */
TERN_API const char *tern_sync_errmsg(const struct tern_sync *s);

/* A producer on the wrapped client (freed with it). */
TERN_API int tern_sync_producer(struct tern_sync *s, const struct tern_producer_opts *opts,
                                struct tern_producer **out);
TERN_API int tern_sync_send(struct tern_sync *s, struct tern_producer *p,
                            const struct tern_send_msg *m, struct tern_send_result *res);
TERN_API int tern_sync_send_batch(struct tern_sync *s, struct tern_producer *p,
                                  const struct tern_send_msg *msgs, size_t n,
                                  struct tern_send_result *res);

/* Run the loop (consumers deliver from it) until tern_sync_stop is called
 * (e.g. from a consume callback) or timeout_ms passes (< 0: no timeout).
 * Returns 0 when stopped, TERN_E_TIMEOUT on timeout. */
TERN_API int tern_sync_run(struct tern_sync *s, int64_t timeout_ms);
TERN_API void tern_sync_stop(struct tern_sync *s);
/* Close one consumer and wait for it. */
TERN_API void tern_sync_consumer_close(struct tern_sync *s, struct tern_consumer *cons);

TERN_API int tern_sync_topic_route(struct tern_sync *s, const char *topic,
                                   const struct tern_route **out);
TERN_API int tern_sync_cluster_info(struct tern_sync *s, const struct tern_cluster_info **out);
TERN_API int tern_sync_topic_list(struct tern_sync *s, const char *const **topics, size_t *n);
TERN_API int tern_sync_create_topic(struct tern_sync *s, const struct tern_topic_opts *o);
/* No committed offset: TERN_E_NOTFOUND. */
TERN_API int tern_sync_committed_offset(struct tern_sync *s, const char *group, const char *topic,
                                        const char *broker_name, int queue_id, int64_t *offset);
TERN_API int tern_sync_max_offset(struct tern_sync *s, const char *topic, const char *broker_name,
                                  int queue_id, int64_t *offset);
TERN_API int tern_sync_min_offset(struct tern_sync *s, const char *topic, const char *broker_name,
                                  int queue_id, int64_t *offset);
TERN_API int tern_sync_commit_offset(struct tern_sync *s, const char *group, const char *topic,
                                     const char *broker_name, int queue_id, int64_t offset);
TERN_API int tern_sync_pull(struct tern_sync *s, const char *group, const char *topic,
                            const char *broker_name, int queue_id, int64_t offset, int max,
                            const char *expression, const struct tern_pull_result **out);
TERN_API int tern_sync_query_message(struct tern_sync *s, const char *topic, const char *broker_name,
                                     const char *key, bool unique, int max, int64_t begin_ms, int64_t end_ms,
                                     const struct tern_pull_result **out);
TERN_API int tern_sync_view_message(struct tern_sync *s, const char *offset_msg_id,
                                    const struct tern_pull_result **out);
TERN_API int tern_sync_reset_offset(struct tern_sync *s, const char *group, const char *topic,
                                    const char *broker_name, int64_t ts_ms, bool force);

#ifdef __cplusplus
}
#endif
#endif
