/* The broker's state machine: commands that every member of a broker group
 * applies in the same order, and their encoding.
 *
 * A send handler does not write to a partition itself: it encodes an APPEND
 * command (the messages in RocketMQ's stored format, offsets still blank)
 * and hands it to fsm_apply — directly on a single broker, or through the
 * group's Raft log so every replica applies it (RAFT-NOTES "Design A"). The
 * apply step is deterministic: offsets, physical offsets and store times are
 * assigned from the partition's own state and the command's store time, so
 * replicas end byte-identical. Applying is idempotent by log position: a
 * partition skips a command whose position (fsm_source) it already stored.
 *
 * Encoding (little-endian, format 1):
 *   u8 type (1 = APPEND) | u8 flags (bit 0: store as one lz4 unit) |
 *   u16 topic length | u32 queue id | i64 store time (ms) | u32 count |
 *   topic | count x (u32 record length, u32 tag hash) | records back to back
 *   u8 type (2 = TOPIC) | u8 flags (bit 0 order, bit 1 multi-tag, bit 2 system) |
 *   u16 name length | i32 read queues | i32 write queues | i32 perm | i32 sys flag | name
 *   u8 type (3 = OFFSET) | u8 0 | u16 group length | u16 topic length | u16 0 |
 *   i32 queue id | i64 offset | group | topic
 * Types 20-29: transactions, see broker/txn.h and broker/TRANSACTIONS.md. */
#ifndef TERN_FSM_H
#define TERN_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/store.h"
#include "src/buf.h"

struct broker;

#define FSM_CMD_APPEND 1
#define FSM_CMD_TOPIC 2
#define FSM_CMD_OFFSET 3
#define FSM_CMD_LOCK 30   /* queue locks: see broker/locks.h */
#define FSM_CMD_UNLOCK 31
#define FSM_APPEND_LZ4 0x1
#define FSM_MAX_BATCH 4096

struct fsm_result {
    int status;            /* 0, or a TERN_E_* code */
    uint32_t part_id;      /* partition the messages went to */
    uint64_t first_offset; /* queue offset of the first message */
    uint32_t count;
    bool skipped;          /* already applied before (replay) */
};

int fsm_init(struct broker *b);
void fsm_free(struct broker *b);

/* The highest log position (fsm_source) up to which every applied command is
 * durable: appends are synced, topics are in topics.json (offsets go into
 * snapshots). Raft may compact the log up to it. */
uint64_t fsm_durable_source(struct broker *b);
/* True once an append applied from the log failed to reach the disk. */
bool fsm_failed(const struct broker *b);

/* Append an APPEND command for msgs (stored-format records whose offsets and
 * store time are filled at apply) to out. Returns 0 or out->err. */
int fsm_encode_append(struct buf *out, const char *topic, int32_t queue_id, int64_t store_ts, bool lz4,
                      const struct record_msg *msgs, uint32_t n);

struct topic_conf;

/* Append a TOPIC command (create or update a topic). */
int fsm_encode_topic(struct buf *out, const char *name, const struct topic_conf *c, bool system);
/* Append an OFFSET command (a consumer group's committed offset). */
int fsm_encode_offset(struct buf *out, const char *group, const char *topic, int32_t queue_id, int64_t offset);

/* Where a command sits in the replicated log: its raft index and its place in
 * that entry. Partitions store it with each unit, so a replay after a restart
 * skips exactly the commands a partition already holds, even when two
 * commands of one entry append to the same partition. */
#define FSM_MAX_CMDS_PER_ENTRY 0xFFFFu
static inline uint64_t fsm_source(uint64_t raft_index, uint32_t cmd_no)
{
    return raft_index << 16 | cmd_no;
}

/* Apply one command. source is fsm_source() of the command (0 on a broker
 * without replication: no replay check). With req/cb the append's
 * durability is reported through cb (the caller owns req until then);
 * without, the store syncs in the background. Returns 0 with res filled (res
 * ->status may still report a refused command, e.g. an unknown topic) or
 * TERN_E_MALFORMED for bytes that are not a command (logged). */
int fsm_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct store_append_req *req,
              store_append_cb cb, struct fsm_result *res);

#endif
