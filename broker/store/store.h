/* All partition logs of a broker on one libuv loop, with group commit
 * (broker/STORAGE.md §8).
 *
 * Contract: store_append copies the unit into the partition's pending buffer,
 * assigns its offsets and returns them at once. A prepare handle writes every
 * pending buffer with one pwrite per partition per loop pass, then ONE
 * uv_queue_work fdatasyncs every file written; when it completes, the
 * callbacks of all appends covered by that sync fire with status 0, in offset
 * order per partition. Appends made while a sync runs are written in the next
 * pass and synced by the next job. A failed write, fallocate or fdatasync
 * fails the affected appends with its error (TERN_E_NOSPACE, TERN_E_IO) and
 * rolls the partition end back; their offsets are reused; later appends work
 * again as soon as the disk does. Everything runs on the loop thread except
 * the fdatasyncs. */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "broker/store/partlog.h"

struct store;

/* Fires on the loop thread when a partition's readable end changes
 * (advances normally; moves back only after a failed sync in
 * visible_on_write mode). */
typedef void (*store_visible_cb)(struct store *st, struct partlog *pl, uint64_t new_end, void *arg);

struct store_opts {
    struct partlog_opts part;        /* defaults for every partition */
    int64_t checkpoint_interval_ms;  /* checkpoint at most this often (1000) */
    int64_t retention_interval_ms;   /* run retention this often; 0 = only store_retain (60000) */
    int64_t sync_interval_ms;        /* 0: a sync job right after every write pass (appends
                                      * complete when synced); > 0: at most one job per
                                      * interval, for callers whose durability comes from
                                      * elsewhere (raft mode: the raft log is the WAL) */
    store_visible_cb visible_cb;     /* may be NULL */
    void *cb_arg;
};
void store_opts_default(struct store_opts *o);

struct store_append_req;
typedef void (*store_append_cb)(struct store_append_req *req, int status);

/* Caller-owned; must stay alive until its callback. */
struct store_append_req {
    void *data; /* for the caller */
    /* private */
    struct store_append_req *next;
    struct partlog *pl;
    uint64_t first_offset;
    uint64_t end_offset;
    int status;
    store_append_cb cb;
};

/* Create the root directory if needed and bind to loop. Partitions are opened
 * one by one with store_partition_open. */
int store_open(uv_loop_t *loop, const char *root, const struct store_opts *opts, struct store **out,
               char *errmsg);

/* Open (creating if missing) partition (topic, queue_id) in
 * <root>/<topic>/<queue_id> with the given id (< 2^19, unique in the store,
 * persisted). topic: 1..127 chars of [A-Za-z0-9_%|-]. Synchronous recovery. */
int store_partition_open(struct store *st, const char *topic, uint32_t queue_id, uint32_t part_id,
                         struct partlog **out, char *errmsg);
struct partlog *store_partition_find(const struct store *st, const char *topic, uint32_t queue_id);
struct partlog *store_partition_by_id(const struct store *st, uint32_t part_id);

/* Queue an append (see the contract above). Returns 0 and the first offset,
 * or fails now (callback never fires): TERN_E_CLOSED while closing,
 * TERN_E_INVAL/TERN_E_TOOBIG/TERN_E_BUSY from partlog_append. */
int store_append(struct store *st, struct partlog *pl, const struct record_msg *msgs, uint32_t n,
                 const struct partlog_append_info *info, struct store_append_req *req, store_append_cb cb,
                 uint64_t *first_offset);

/* Write units copied verbatim from another replica (partlog_import) into pl
 * now, on the calling thread: one pwrite, no sync. Their sync is queued like
 * any write (partlog_synced_offset tells when it is durable), so a caller
 * that blocks the loop streams a partition to disk without holding it in
 * RAM. TERN_E_CORRUPT (chunk refused, nothing written), TERN_E_CLOSED, or a
 * write error (the partition end rolls back; pending appends fail). */
int store_import(struct store *st, struct partlog *pl, const uint8_t *units, size_t n);

/* Write every pending append now and fdatasync every partition holding
 * unsynced bytes, blocking the calling (loop) thread: afterwards everything
 * appended so far is durable. Callbacks still fire from the regular sync
 * job. For raft snapshots, which may cover only durable state (about one
 * fdatasync per dirty partition per snapshot). Returns 0 or the first
 * error (a failed write fails its appends as a write pass would). */
int store_make_durable(struct store *st);

/* Physical offsets: phys = (partition_id << 44) | logical_offset, a
 * non-negative Java long for partition_id < 2^19 and offset < 2^44. */
#define STORE_PHYS_OFFSET_BITS 44
#define STORE_MAX_PARTITION_ID ((1u << 19) - 1)
uint64_t store_phys_encode(uint32_t part_id, uint64_t offset);
void store_phys_decode(uint64_t phys, uint32_t *part_id, uint64_t *offset);
/* Map phys back to the partition: TERN_E_NOTFOUND if no such partition. */
int store_locate(const struct store *st, uint64_t phys, struct partlog **pl, uint64_t *offset);

/* Run retention on every partition now. */
void store_retain(struct store *st, int64_t now_ms);

/* Counters for tests and metrics. */
struct store_stats {
    uint64_t passes_written; /* loop passes that wrote something */
    uint64_t sync_jobs;      /* uv_queue_work sync jobs completed */
    uint64_t appends_acked;
    uint64_t appends_failed;
};
void store_stats(const struct store *st, struct store_stats *out);

/* Two-phase close: new appends fail with TERN_E_CLOSED; appends already
 * accepted are still written and synced (flushed, not canceled) and their
 * callbacks fire; then checkpoints are written, files closed, memory freed
 * and cb(arg) fires. Do not use st after calling this. */
void store_close(struct store *st, void (*cb)(void *arg), void *arg);

#endif
