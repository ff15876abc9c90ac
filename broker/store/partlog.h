/* One partition log: a directory of segments named by base offset, the
 * partition metadata and checkpoint files (broker/STORAGE.md §1, §5, §6).
 *
 * All functions run on one thread (the loop thread when used by struct
 * store), except partlog_sync_run, which only touches the job it is given.
 *
 * Offsets: next_offset is the next logical offset to assign; appended units
 * sit in a pending buffer until partlog_write puts them into the segment
 * (written), then a sync makes them durable (synced). Readers see up to the
 * visible end: written or synced, per opts.visible_on_write. */
#ifndef TERN_PARTLOG_H
#define TERN_PARTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/record.h"
#include "src/buf.h"
#include "src/errmsg.h"

struct partlog;

struct partlog_opts {
    uint64_t segment_bytes;    /* max bytes per segment file (default 64 MiB, 4 KiB..1 GiB) */
    uint64_t prealloc_initial; /* first fallocate step, doubled up to segment_bytes (1 MiB) */
    uint32_t index_interval;   /* bytes between sparse index entries (4 KiB) */
    uint32_t max_unit_bytes;   /* largest unit on disk (16 MiB, clipped to the segment) */
    uint32_t max_raw_bytes;    /* largest uncompressed unit body (64 MiB) */
    uint64_t max_pending_bytes; /* appends beyond this before a write get TERN_E_BUSY (64 MiB) */
    int64_t retention_ms;      /* delete closed segments older than this; 0 = keep (7 days) */
    uint64_t retention_bytes;  /* keep the partition under this many bytes; 0 = no limit */
    bool visible_on_write;     /* readers see written bytes (raft mode) instead of synced */
};

void partlog_opts_default(struct partlog_opts *o);

/* What open found and repaired; readable for the life of the partlog. */
struct partlog_recovery {
    bool cut;               /* a torn/corrupt tail was cut from the active segment */
    uint64_t cut_bytes;     /* non-zero bytes removed by the cut */
    uint64_t cut_offset;    /* logical offset at which the log now ends */
    bool checkpoint_used;   /* the active segment was scanned from the checkpoint */
    uint64_t scanned_bytes; /* bytes of units verified by the open scan */
    uint32_t segments;      /* segment files found */
    uint32_t indexes_rebuilt;
    uint32_t damaged_segments; /* closed segments with a bad unit inside */
};

/* Open or create the partition in dir (created if missing). part_id
 * (< 2^19) is persisted in the metadata file on creation and must match on
 * reopen (TERN_E_INVAL otherwise). Recovers per STORAGE.md §7. */
int partlog_open(const char *dir, uint32_t part_id, const struct partlog_opts *opts, struct partlog **out,
                 char *errmsg);
/* Write a final checkpoint if the synced end moved, close files, free. The
 * caller must have no sync job running; unwritten/unsynced data is not
 * flushed (call partlog_flush first for that). */
void partlog_close(struct partlog *pl);

uint32_t partlog_id(const struct partlog *pl);
/* One pointer for the owner (struct store keeps its bookkeeping there). */
void partlog_set_user(struct partlog *pl, void *user);
void *partlog_user(const struct partlog *pl);
const char *partlog_dir(const struct partlog *pl);
const struct partlog_recovery *partlog_recovery(const struct partlog *pl);
const char *partlog_errmsg(const struct partlog *pl);
/* Lowest readable offset (base of the oldest segment). */
uint64_t partlog_min_offset(const struct partlog *pl);
/* Visible end: the offset after the last readable message. */
uint64_t partlog_end_offset(const struct partlog *pl);
/* Next offset an append would get (includes pending and unsynced appends). */
uint64_t partlog_next_offset(const struct partlog *pl);
uint64_t partlog_synced_offset(const struct partlog *pl);
/* Store time of the oldest message, 0 if the log is empty. */
int64_t partlog_earliest_time(const struct partlog *pl);
/* Highest source (raft) index durably stored; 0 if none. */
uint64_t partlog_last_source_index(const struct partlog *pl);
uint32_t partlog_segment_count(const struct partlog *pl);
/* Total bytes of unit data in all segments. */
uint64_t partlog_size_bytes(const struct partlog *pl);

struct partlog_append_info {
    uint64_t source_index; /* raft index that produced the unit, 0 if none */
    uint16_t flags;        /* opaque caller flags stored in the unit */
    enum record_codec codec;
    /* Store time for the unit; 0 = now. Raised to keep store times
     * nondecreasing. Callers that embed the time in their payloads get it
     * from partlog_store_time first so both agree. */
    int64_t store_ts;
};

/* The store time an append at wall time now_ms would get. */
int64_t partlog_store_time(const struct partlog *pl, int64_t now_ms);

/* Encode one unit holding msgs[0..n) into the pending buffer and assign its
 * offsets (*first_offset .. +n-1). The store time is clock_now_ms(), raised
 * to keep store times nondecreasing within the partition. Payloads are
 * copied. TERN_E_TOOBIG if the unit exceeds the limits, TERN_E_BUSY past
 * max_pending_bytes, TERN_E_INVAL on n == 0. */
int partlog_append(struct partlog *pl, const struct record_msg *msgs, uint32_t n,
                   const struct partlog_append_info *info, uint64_t *first_offset);
bool partlog_has_pending(const struct partlog *pl);
/* Write the pending buffer into the segment(s): one pwrite per segment
 * touched (one, or two across a roll). On error the units not written are
 * dropped, the end rolls back to the last unit written and those offsets will
 * be reused; partlog_next_offset() tells where. */
int partlog_write(struct partlog *pl);
/* Synchronous write + fdatasync + (every call) checkpoint: for tests,
 * benchmarks and tools without a loop. */
int partlog_flush(struct partlog *pl);

/* A sync of everything written so far, split for a worker thread. */
struct partlog_sync {
    int *fds;
    uint32_t n_fds, cap_fds;
    uint32_t n_data_fds;
    bool sync_dir;
    bool checkpoint;
    uint8_t ckpt[64];
    size_t ckpt_len;
    /* background preallocation of the active segment's next step */
    int grow_fd;
    uint64_t grow_base, grow_from, grow_to;
    bool grow_ok;
    /* target synced end */
    uint64_t offset, seg_base, pos, src;
    int64_t ts;
    struct partlog *pl;
    const char *dir;
    int status;
    char errmsg[ERRMSG_SIZE];
};
void partlog_sync_init(struct partlog_sync *job);
void partlog_sync_free(struct partlog_sync *job);
/* Loop thread: true if written data awaits a sync. */
bool partlog_needs_sync(const struct partlog *pl);
/* Loop thread: fill job with the files to sync (pinning their segments).
 * with_checkpoint also syncs the index and writes the checkpoint. */
int partlog_sync_begin(struct partlog *pl, struct partlog_sync *job, bool with_checkpoint);
/* Any thread: fdatasync the files, then maybe the directory and checkpoint. */
void partlog_sync_run(struct partlog_sync *job);
/* Loop thread: apply the result. On failure (job->status) everything after
 * the last synced position is cut from the files and dropped (fsyncgate: the
 * failed pages are never trusted again), next_offset rolls back to the
 * synced end, and the status is returned. */
int partlog_sync_end(struct partlog *pl, struct partlog_sync *job);

/* One message returned by a read. data points into the read buffer and is
 * valid until the next read with the same buffer. */
struct partlog_msg {
    uint64_t offset;
    int64_t store_ts;
    uint64_t tag_hash;
    uint64_t source_index;
    uint16_t flags;
    const uint8_t *data;
    uint32_t len;
    /* private */
    uint8_t in_dec;
    size_t at;
};

/* Reusable storage for reads (file bytes and decompressed bodies). */
struct partlog_readbuf {
    struct buf raw;
    struct buf dec;
};
void partlog_readbuf_init(struct partlog_readbuf *rb);
void partlog_readbuf_free(struct partlog_readbuf *rb);

/* Optional tag filter: return true to keep a message. */
struct partlog_filter {
    bool (*match)(uint64_t tag_hash, void *arg);
    void *arg;
};

struct partlog_read_result {
    uint32_t n;           /* messages stored into msgs */
    uint64_t next_offset; /* where the next read should start (scanned up to) */
    bool end_reached;     /* next_offset is the visible end */
    uint64_t min_offset;  /* set on TERN_E_RANGE */
};

/* Read up to max_msgs messages (at least one if any, then up to max_bytes of
 * payload) starting at offset, skipping messages the filter rejects. Reads
 * stop at a segment boundary. Every unit used is checksum-verified.
 * Returns 0; TERN_E_RANGE (offset below min, res->min_offset set);
 * TERN_E_CORRUPT if the unit at res->next_offset is damaged and nothing was
 * read before it; or an fs error. At or past the end: 0 messages,
 * end_reached. With a filter and nothing matching, n == 0 and next_offset
 * says how far the scan got (bounded to about max(4*max_bytes, 1 MiB)). */
int partlog_read(struct partlog *pl, uint64_t offset, uint32_t max_msgs, size_t max_bytes,
                 const struct partlog_filter *filter, struct partlog_readbuf *rb, struct partlog_msg *msgs,
                 struct partlog_read_result *res);

enum partlog_time_boundary {
    PARTLOG_TIME_FIRST_GE, /* first offset whose store time >= ts */
    PARTLOG_TIME_LAST_LE,  /* last offset whose store time <= ts */
};
/* Search by store time among visible messages. If none qualifies, returns
 * TERN_E_NOTFOUND with *offset = end offset (FIRST_GE) or min offset
 * (LAST_LE). TERN_E_CORRUPT if a unit on the way is damaged. */
int partlog_search_time(struct partlog *pl, int64_t ts, enum partlog_time_boundary b, uint64_t *offset);

/* Delete whole closed segments past retention (age by the newest store time
 * in the segment, then size), oldest first, never the active one nor one
 * holding unsynced data. *deleted counts them. */
int partlog_retain(struct partlog *pl, int64_t now_ms, uint32_t *deleted);

/* ---- verbatim units: catch-up of a replica (broker/segfetch.c) ---- */

/* Copy whole stored units verbatim into out (appended), starting with the
 * unit whose base offset is `from`: only units that end at or below `end`
 * (clipped to the visible end), up to max_bytes (at least one unit if any
 * qualifies), stopping at a segment boundary. Every unit copied is
 * checksum-verified. *next = the offset after the last unit copied (== from
 * if none). Returns 0; TERN_E_RANGE if from is below the minimum offset;
 * TERN_E_INVAL if from falls inside a unit; TERN_E_CORRUPT (damaged unit);
 * TERN_E_NOMEM; or an fs error. */
int partlog_read_units(struct partlog *pl, uint64_t from, uint64_t end, size_t max_bytes,
                       struct partlog_readbuf *rb, struct buf *out, uint64_t *next);

/* Stage units copied from another replica (partlog_read_units) for writing,
 * byte for byte: same offsets, store times, source indexes. The whole chunk is
 * checked first (header bounds, checksum, base offsets contiguous from
 * partlog_next_offset, store times nondecreasing); if any unit fails, nothing
 * is staged and TERN_E_CORRUPT names it in partlog_errmsg. Then the bytes go
 * into the pending buffer (written by partlog_write, like appends).
 * *end_offset = the next offset after the chunk. */
int partlog_import(struct partlog *pl, const uint8_t *units, size_t n, uint64_t *end_offset);

/* Loop thread: fdatasync, now and on this thread, every segment that may
 * hold written bytes not yet synced (and the directory if segments were
 * created). Bookkeeping is left to the regular sync job, which still runs
 * and acknowledges appends; this only makes the bytes durable early (for a
 * raft snapshot). Returns 0 or an fs error. */
int partlog_datasync_now(struct partlog *pl);

#endif
