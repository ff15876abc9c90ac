/* Message key index: KEYS tokens and UNIQ_KEY -> (partition, offset), for
 * QUERY_MESSAGE (broker/STORAGE.md §14).
 *
 * Derived state, built on every member from what its partitions make
 * visible (the store's visible callback), so it never sees a torn or
 * unsynced tail. Per partition, fixed-size files <root>/<part_id>/<first
 * offset>.kidx hold hash slots and linked entries (RocketMQ IndexFile-like);
 * the active one is mapped, full ones are sealed (synced, header written) and
 * read with pread. An unsealed file found at open is rebuilt from the
 * partition log, from the offset in its name. Lookups return candidates
 * only: callers read each message and compare the key (hash collisions,
 * stale entries after a rollback). One loop thread; no allocation per
 * indexed message. */
#ifndef TERN_MSGINDEX_H
#define TERN_MSGINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/partlog.h"
#include "src/errmsg.h"

struct msgindex;

struct msgindex_opts {
    uint32_t slots;   /* hash slots per file (65536) */
    uint32_t entries; /* entries per file before it rolls (262144) */
    uint32_t max_keys_per_msg; /* KEYS tokens indexed per message (32) */
};

void msgindex_opts_default(struct msgindex_opts *o);

/* Open the index rooted at dir (created if missing). Partitions load lazily. */
int msgindex_open(const char *dir, const struct msgindex_opts *o, struct msgindex **out, char *errmsg);
void msgindex_close(struct msgindex *mi);

/* Call whenever pl's visible end changes, also when it moves back (the
 * store's visible callback does): a rollback must be seen before its
 * offsets are reused, or the re-used offsets stay unindexed.
 * Index pl's visible messages not indexed yet (loads the partition's index
 * on first use, rebuilding an unsealed file; drops files whose messages
 * retention removed). Returns 0 or TERN_E_* with msgindex_errmsg. */
int msgindex_catch_up(struct msgindex *mi, struct partlog *pl);

enum msgindex_kind {
    MSGINDEX_KEY = 'K',  /* a token of the KEYS property */
    MSGINDEX_UNIQ = 'U', /* the UNIQ_KEY property */
};

/* Candidate offsets of messages in pl whose key of kind hashes like key and
 * whose store time is in [begin_ms, end_ms], newest first, no duplicates, at
 * most max. Catches up first. */
int msgindex_lookup(struct msgindex *mi, struct partlog *pl, enum msgindex_kind kind, const char *key,
                    size_t klen, int64_t begin_ms, int64_t end_ms, uint64_t *offs, uint32_t max, uint32_t *n);

/* True if the stored message rec (RocketMQ stored format) carries key as a
 * KEYS token (MSGINDEX_KEY) or as its UNIQ_KEY (MSGINDEX_UNIQ). */
bool msgindex_msg_has_key(const uint8_t *rec, size_t len, enum msgindex_kind kind, const char *key, size_t klen);

/* The message at offset of pl, or NULL if it cannot be read (gone,
 * beyond the end, damaged). Valid until the next call. */
const struct partlog_msg *msgindex_read_one(struct msgindex *mi, struct partlog *pl, uint64_t offset);

/* Counters for tests and logs. */
struct msgindex_stats {
    uint64_t indexed_keys;
    uint32_t files_rebuilt; /* unsealed or invalid files dropped at load */
    uint32_t files_sealed;
    uint32_t files_dropped; /* by retention */
};
void msgindex_stats(const struct msgindex *mi, struct msgindex_stats *out);
/* Next offset to be indexed in pl (0 if not loaded). */
uint64_t msgindex_indexed(struct msgindex *mi, const struct partlog *pl);
const char *msgindex_errmsg(const struct msgindex *mi);

#endif
