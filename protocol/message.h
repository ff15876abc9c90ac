/* The stored message record (PROTOCOL.md §M.2): the byte layout of PULL,
 * QUERY_MESSAGE and VIEW_MESSAGE_BY_ID bodies and of Tern's partition logs. */
#ifndef TERN_MESSAGE_H
#define TERN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "src/buf.h"
#include "src/slice.h"

#define MESSAGE_MAGIC_V1 0xDAA320A7u
#define MESSAGE_MAGIC_V2 0xDAA320ABu
/* Commitlog tail padding in RocketMQ; never valid in a body. */
#define MESSAGE_MAGIC_BLANK 0xCBD43194u

/* Fixed field offsets that do not depend on the host address sizes. */
#define MESSAGE_OFF_TOTALSIZE 0
#define MESSAGE_OFF_MAGIC 4
#define MESSAGE_OFF_BODYCRC 8
#define MESSAGE_OFF_QUEUEID 12
#define MESSAGE_OFF_FLAG 16
#define MESSAGE_OFF_QUEUEOFFSET 20
#define MESSAGE_OFF_PHYSICALOFFSET 28
#define MESSAGE_OFF_SYSFLAG 36
#define MESSAGE_OFF_BORNTIMESTAMP 40
#define MESSAGE_OFF_BORNHOST 48
/* Smallest V1 record: IPv4 hosts, empty body, 1-byte topic, no properties. */
#define MESSAGE_MIN_SIZE 92u
/* Everything but body, topic and properties, IPv4 hosts, V1. */
#define MESSAGE_FIXED_V1 91u

#define MESSAGE_CRC_MASK 0x7FFFFFFFu

/* message_decode flags. */
#define MESSAGE_DECODE_VERIFY_CRC 0x1u

enum msg_host_family {
    MSG_HOST_IPV4 = 4,
    MSG_HOST_IPV6 = 6,
};

/* A host as stored: 4- or 16-byte address (network order) + int32 port. */
struct msg_host {
    uint8_t family; /* enum msg_host_family */
    uint8_t addr[16];
    uint32_t port; /* int32 on the wire; kept whole so garbage round-trips */
};

/* One stored message. topic, body and properties point into the decoded
 * input (or, for encoding, into caller memory). */
struct msg_stored {
    uint32_t magic; /* decode: as found; encode: V2 selects V2, anything else V1 */
    uint32_t body_crc; /* decode: as stored; ignored by encode (computed) */
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t physical_offset;
    int32_t sysflag; /* encode recomputes the two IPv6 bits from the hosts */
    int64_t born_timestamp;
    struct msg_host born_host;
    int64_t store_timestamp;
    struct msg_host store_host;
    int32_t reconsume_times;
    int64_t prepared_transaction_offset;
    struct slice body;
    struct slice topic;
    struct slice properties;
};

/* Masked body CRC as stored in BODYCRC: crc32(body) & 0x7FFFFFFF. */
uint32_t message_body_crc(const void *body, size_t n);

/* Encoded size of m, or 0 if m cannot be encoded (see message_encode). */
size_t message_size(const struct msg_stored *m);

/* Append m to out, computing TOTALSIZE, BODYCRC and the IPv6 sysFlag bits.
 * Returns 0; TERN_E_INVAL if a host family is unknown, the topic is empty or
 * too long for the magic (V1: 127 bytes, V2: 32767), the properties exceed
 * 32767 bytes or the body INT32_MAX; or out->err. Nothing is appended on
 * TERN_E_INVAL. */
int message_encode(const struct msg_stored *m, struct buf *out);

/* Decode the record at the start of p[0..n). Slices in out point into p.
 * Accepts V1 and V2 magic. Checks TOTALSIZE against n and against the sum of
 * the fields, every length against l and the bytes left, and the topic
 * charset; with MESSAGE_DECODE_VERIFY_CRC also the body CRC. Never
 * allocates. Sets *consumed to TOTALSIZE. Returns 0 or TERN_E_MALFORMED with
 * errmsg starting "stored message:" and naming the field. */
int message_decode(const uint8_t *p, size_t n, const struct limits *l, unsigned flags,
                   struct msg_stored *out, size_t *consumed, char *errmsg);

/* Iterator over records back to back (pull/query bodies). */
struct message_iter {
    const uint8_t *p;
    size_t n;
    size_t off;
    const struct limits *l;
    unsigned flags;
};

void message_iter_init(struct message_iter *it, const uint8_t *p, size_t n, const struct limits *l,
                       unsigned flags);
/* Returns 1 with *out filled, 0 at the clean end of the input, or
 * TERN_E_MALFORMED (errmsg names the record's byte offset); after an error
 * every later call returns the same error. */
int message_iter_next(struct message_iter *it, struct msg_stored *out, char *errmsg);

/* Overwrite QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP of an encoded
 * record in place: the broker learns them only at append time. n is the
 * record's length. Returns 0, or TERN_E_INVAL if rec is too short for the
 * host sizes its SYSFLAG announces. */
int message_patch(uint8_t *rec, size_t n, int64_t queue_offset, int64_t physical_offset,
                  int64_t store_timestamp);

/* Byte offset of STORETIMESTAMP for a given sysFlag (born host size varies). */
size_t message_off_store_timestamp(int32_t sysflag);

#endif
