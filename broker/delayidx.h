/* The on-disk time index of one delay lane (broker/DELAY.md §2).
 *
 * Pending delayed messages live in a lane partition (SCHEDULE_TOPIC_XXXX,
 * one queue per lane). This index says when each is due: time-bucketed
 * append-only files `<bucket>.idx` of 16-byte records (i64 due ms, u64 lane
 * offset), and a `meta` file with the replicated delivery cursor (bucket,
 * index within bucket), the next lane offset to index, and the raft source of
 * the last DELIVER applied. The index is derived state, built at apply from
 * the log, so it is identical on every replica.
 *
 * Memory is constant: a handful of cached file descriptors, never one entry
 * per pending message. Inserts are idempotent (lane offsets below
 * indexed_next, or not above the bucket's last record, are skipped), so a
 * replay after a restart does not index a message twice. A torn tail (a
 * partial record after a crash) is cut when the bucket is next opened. */
#ifndef TERN_DELAYIDX_H
#define TERN_DELAYIDX_H

#include <stdbool.h>
#include <stdint.h>

#include "src/errmsg.h"

#define DELAYIDX_REC 16
#define DELAYIDX_FDS 8

struct delayidx_ent {
    int64_t due_ms;
    uint64_t lane_off;
};

struct delayidx_fd {
    int64_t bucket; /* -1: slot empty */
    int fd;
    uint32_t count;    /* whole records in the file */
    uint64_t last_off; /* lane offset of the last record (count > 0) */
    uint64_t used;     /* LRU stamp */
};

struct delayidx {
    char dir[1024];
    int64_t bucket_ms;
    int meta_fd;
    /* Replicated state (meta file). */
    int64_t cur_bucket; /* -1 until the first insert */
    uint32_t cur_idx;
    uint64_t indexed_next;
    uint64_t last_source;
    struct delayidx_fd fds[DELAYIDX_FDS];
    uint64_t stamp;
    char errmsg[ERRMSG_SIZE];
};

/* Open (creating) the index in dir. Returns 0 or TERN_E_* with errmsg
 * (TERN_E_CORRUPT for a damaged meta file). */
int delayidx_open(struct delayidx *x, const char *dir, int64_t bucket_ms, char *errmsg);
void delayidx_close(struct delayidx *x);

/* Index the message at lane offset off, due at due_ms. Skips (returns 0) an
 * offset already indexed. The bucket is max(due bucket, cursor bucket): a
 * message due in a bucket already passed lands where delivery is. */
int delayidx_insert(struct delayidx *x, uint64_t off, int64_t due_ms);
/* Persist indexed_next and the cursor (after a batch of inserts). */
int delayidx_save(struct delayidx *x);

/* Records in bucket (0 if its file does not exist). */
int delayidx_count(struct delayidx *x, int64_t bucket, uint32_t *count);
/* Read up to max records of bucket from record idx on. */
int delayidx_read(struct delayidx *x, int64_t bucket, uint32_t idx, struct delayidx_ent *out, uint32_t max,
                  uint32_t *n);
/* Move the cursor (apply of a DELIVER); buckets left behind are deleted. */
int delayidx_set_cursor(struct delayidx *x, int64_t bucket, uint32_t idx, uint64_t source);

/* Catch-up restore (delay_snap.c): drop every bucket file and restart the
 * index at cursor (bucket, idx) with the cursor bucket's undelivered records
 * head[0..nhead) at positions idx.. (positions before idx get placeholder
 * records, never read: the cursor is past them, and the record count, which
 * DELIVER's advance compares, matches the snapshot source's). The meta is
 * left invalid (indexed_next 0, last_source 0) until the caller saves the
 * final one, so a crash part-way is seen as behind at the next start. */
int delayidx_reset(struct delayidx *x, int64_t bucket, uint32_t idx, const struct delayidx_ent *head,
                   uint32_t nhead);

static inline int64_t delayidx_bucket_of(const struct delayidx *x, int64_t ms)
{
    return ms < 0 ? 0 : ms / x->bucket_ms;
}

#endif
