/* Message properties string (PROTOCOL.md §M.1): name 0x01 value 0x02 ...,
 * the well-known property keys and the message sysFlag bits. */
#ifndef TERN_PROPERTIES_H
#define TERN_PROPERTIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "src/buf.h"
#include "src/slice.h"

#define PROPERTIES_NAME_SEP '\x01'
#define PROPERTIES_ITEM_SEP '\x02'
/* Most items one parsed string may hold. Stock producers send about ten; the
 * bound keeps struct properties a fixed size without rejecting real traffic. */
#define PROPERTIES_MAX_ITEMS 256

/* Well-known keys (RocketMQ MessageConst, ROCKETMQ-PROTOCOL.md §3.2). */
#define MSG_PROP_KEYS "KEYS"
#define MSG_PROP_TAGS "TAGS"
#define MSG_PROP_WAIT "WAIT"
#define MSG_PROP_DELAY "DELAY"
#define MSG_PROP_RETRY_TOPIC "RETRY_TOPIC"
#define MSG_PROP_REAL_TOPIC "REAL_TOPIC"
#define MSG_PROP_REAL_QID "REAL_QID"
#define MSG_PROP_TRAN_MSG "TRAN_MSG"
#define MSG_PROP_PGROUP "PGROUP"
#define MSG_PROP_MIN_OFFSET "MIN_OFFSET"
#define MSG_PROP_MAX_OFFSET "MAX_OFFSET"
#define MSG_PROP_UNIQ_KEY "UNIQ_KEY"
#define MSG_PROP_ORIGIN_MESSAGE_ID "ORIGIN_MESSAGE_ID"
#define MSG_PROP_RECONSUME_TIME "RECONSUME_TIME"
#define MSG_PROP_MAX_RECONSUME_TIMES "MAX_RECONSUME_TIMES"
#define MSG_PROP_CONSUME_START_TIME "CONSUME_START_TIME"
#define MSG_PROP_TRANSACTION_CHECK_TIMES "TRANSACTION_CHECK_TIMES"
#define MSG_PROP_CHECK_IMMUNITY_TIME_IN_SECONDS "CHECK_IMMUNITY_TIME_IN_SECONDS"
#define MSG_PROP_TRAN_PREPARED_QUEUE_OFFSET "TRAN_PREPARED_QUEUE_OFFSET"
#define MSG_PROP_TRANSACTION_ID "__transactionId__"
#define MSG_PROP_CLUSTER "CLUSTER"
#define MSG_PROP_MSG_REGION "MSG_REGION"
#define MSG_PROP_TRACE_ON "TRACE_ON"
#define MSG_PROP_INSTANCE_ID "INSTANCE_ID"
#define MSG_PROP_TIMER_DELIVER_MS "TIMER_DELIVER_MS"
#define MSG_PROP_TIMER_DELAY_SEC "TIMER_DELAY_SEC"
#define MSG_PROP_TIMER_DELAY_MS "TIMER_DELAY_MS"
#define MSG_PROP_TIMER_OUT_MS "TIMER_OUT_MS"
#define MSG_PROP_TIMER_ENQUEUE_MS "TIMER_ENQUEUE_MS"
#define MSG_PROP_TIMER_DEQUEUE_MS "TIMER_DEQUEUE_MS"
#define MSG_PROP_TIMER_ROLL_TIMES "TIMER_ROLL_TIMES"
#define MSG_PROP_TIMER_DEL_UNIQKEY "TIMER_DEL_UNIQKEY"
#define MSG_PROP_STARTDELIVERTIME "__STARTDELIVERTIME"
#define MSG_PROP_SHARDING_KEY "__SHARDINGKEY"
#define MSG_PROP_MSG_TYPE "MSG_TYPE"
#define MSG_PROP_CORRELATION_ID "CORRELATION_ID"
#define MSG_PROP_REPLY_TO_CLIENT "REPLY_TO_CLIENT"
#define MSG_PROP_TTL "TTL"
#define MSG_PROP_ARRIVE_TIME "ARRIVE_TIME"
#define MSG_PROP_INNER_NUM "INNER_NUM"
#define MSG_PROP_INNER_BASE "INNER_BASE"
#define MSG_PROP_CRC32 "__CRC32#"
#define MSG_PROP_DLQ_ORIGIN_TOPIC "DLQ_ORIGIN_TOPIC"
#define MSG_PROP_DLQ_ORIGIN_MESSAGE_ID "DLQ_ORIGIN_MESSAGE_ID"
/* KEYS holds several keys separated by one space. */
#define MSG_PROP_KEY_SEPARATOR ' '

/* Message sysFlag bits (RocketMQ MessageSysFlag, ROCKETMQ-PROTOCOL.md §3.3). */
#define MSG_SYSFLAG_COMPRESSED 0x1
#define MSG_SYSFLAG_MULTI_TAGS 0x2
#define MSG_SYSFLAG_TRANSACTION_MASK 0xC
#define MSG_SYSFLAG_TRANSACTION_NOT_TYPE 0x0
#define MSG_SYSFLAG_TRANSACTION_PREPARED 0x4
#define MSG_SYSFLAG_TRANSACTION_COMMIT 0x8
#define MSG_SYSFLAG_TRANSACTION_ROLLBACK 0xC
#define MSG_SYSFLAG_BORNHOST_V6 0x10
#define MSG_SYSFLAG_STOREHOST_V6 0x20
#define MSG_SYSFLAG_NEED_UNWRAP 0x40
#define MSG_SYSFLAG_INNER_BATCH 0x80
#define MSG_SYSFLAG_COMPRESSION_SHIFT 8
#define MSG_SYSFLAG_COMPRESSION_MASK 0x700
/* Compression type in bits 8-10; 0 (legacy) means zlib like 3. */
#define MSG_COMPRESSION_LEGACY_ZLIB 0
#define MSG_COMPRESSION_LZ4 1
#define MSG_COMPRESSION_ZSTD 2
#define MSG_COMPRESSION_ZLIB 3

static inline int msg_sysflag_compression(int32_t sysflag)
{
    return (int)(((uint32_t)sysflag >> MSG_SYSFLAG_COMPRESSION_SHIFT) & 7);
}

static inline int32_t msg_sysflag_transaction(int32_t sysflag)
{
    return sysflag & MSG_SYSFLAG_TRANSACTION_MASK;
}

struct properties_item {
    struct slice key;
    struct slice val;
};

/* A parsed properties string. Keys and values point into the input string,
 * which must outlive this struct. Keys are unique: a repeated key keeps its
 * first position and its last value, as RocketMQ's HashMap does. */
struct properties {
    size_t count;
    struct properties_item items[PROPERTIES_MAX_ITEMS];
};

/* Parse n bytes of properties string. Items whose value is empty or whose
 * total length is below 3 are dropped (RocketMQ string2messageProperties).
 * Returns 0, or TERN_E_MALFORMED with errmsg starting "properties:" when the
 * string is longer than l->max_properties or has more than
 * PROPERTIES_MAX_ITEMS items. */
int properties_parse(const char *s, size_t n, const struct limits *l, struct properties *out,
                     char *errmsg);

/* Look up a key in a parsed set. Returns true and sets *val when present. */
bool properties_find(const struct properties *props, const char *key, struct slice *val);

/* Look up a key directly in a raw properties string without parsing it into
 * a struct (no item bound; last occurrence wins, as in properties_parse). */
bool properties_get(const char *s, size_t n, const char *key, struct slice *val);

/* Append one item "key 0x01 val 0x02" to out. Empty values are not written
 * (a reader would drop them). Keys must not contain 0x01/0x02. */
void properties_append(struct buf *out, const char *key, const char *val, size_t val_len);

/* Append every item of a parsed set to out. */
void properties_build(const struct properties *props, struct buf *out);

/* Write a copy of the raw string s to out with key set to val (replacing any
 * existing value, or appended at the end). Dropped items (see
 * properties_parse) are not copied. val NULL or empty removes the key.
 * Returns 0, TERN_E_INVAL for a key containing a separator, or out->err. */
int properties_set(const char *s, size_t n, const char *key, const char *val, size_t val_len,
                   struct buf *out);

/* properties_set with no value: copy s to out without key. */
int properties_remove(const char *s, size_t n, const char *key, struct buf *out);

#endif
