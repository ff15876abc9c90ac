/* Far-behind member catch-up (REPLICATION.md §7): the metadata snapshot of a
 * broker group member and the broker-to-broker FETCH_SEGMENT request that
 * copies missing partition units from a member that has them.
 *
 * Snapshot body (after replica_sm's envelope): JSON, metadata only —
 * {"format":2,"source":"ip:port","topics":[...],"partitions":[{"topic","queueId",
 * "id","end","lastSource"}],"offsets":<consumer_offsets.json>} — a few hundred
 * bytes per topic, never message data.
 *
 * Restore runs on the loop thread and BLOCKS it while partitions are fetched
 * (synchronous sockets, bounded chunks streamed to disk): no raft timer fires
 * and no later entry is applied meanwhile, so the member cannot serve, vote
 * for itself or apply on top of a hole. Why not a background fetch: see
 * REPLICATION.md §7. */
#ifndef TERN_SEGFETCH_H
#define TERN_SEGFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

struct broker;
struct rpc_conn;
struct remoting_cmd;
struct partlog;

/* Request FETCH_SEGMENT (Tern-only, PROTOCOL.md §3.3). extFields: topic,
 * queueId, partitionId, fromOffset, endOffset, maxBytes. Response SUCCESS:
 * extFields nextOffset; body = whole stored units (STORAGE.md §3) verbatim,
 * from the unit at fromOffset, all ending at or below endOffset. */
#define SEGFETCH_CHUNK_DEFAULT (1u << 20)
#define SEGFETCH_CHUNK_MAX (8u << 20)

/* Answer a FETCH_SEGMENT request (on the loop, from the member's store). */
void segfetch_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* What one restore did, for logs and tests. */
struct segfetch_stats {
    uint32_t partitions_fetched;
    uint64_t units;
    uint64_t bytes;
    uint64_t messages;
    int64_t ms;
};

/* Append this member's metadata snapshot (topics, consumer offsets, every
 * partition's end and last source index) to out. Returns 0 or TERN_E_*. */
int segfetch_snapshot_write(struct broker *b, struct buf *out);

/* Apply a snapshot taken at raft index `index`: topic table (same partition
 * ids, verified), consumer offsets, then every partition whose local end is
 * behind the snapshot's is fetched from the snapshot's source member up to
 * that end. starting: the member's own snapshot at start-up, where local
 * partitions past the snapshot's end are normal (entries after it are
 * replayed and skipped); otherwise (a leader's InstallSnapshot) such a
 * partition cannot happen under Design A and is refused with TERN_E_CORRUPT.
 * Blocks for at most timeout_ms. Returns 0 or TERN_E_* with errmsg. */
int segfetch_restore(struct broker *b, uint64_t index, const uint8_t *p, size_t n, bool starting,
                     int64_t timeout_ms, struct segfetch_stats *stats, char *errmsg);

/* Blocking client: copy units of one partition [from, end) from the member at
 * addr ("host:port") into pl via store_import, chunk by chunk. Returns 0 once
 * the partition's next offset reaches end, or TERN_E_* with errmsg. */
int segfetch_partition(struct broker *b, const char *addr, const char *topic, int32_t queue_id,
                       struct partlog *pl, uint64_t end, int64_t deadline_ms, struct segfetch_stats *stats,
                       char *errmsg);

#endif
