/* The transaction state table: one compact entry per undecided half message,
 * in half-queue-offset order (PREPAREs append in that order), looked up by
 * binary search. Decided entries become tombstones and are squeezed out when
 * they are more than half of the array, so memory stays at
 * sizeof(struct txn_entry) = 32 bytes per open transaction (x2 worst case
 * before a compaction): 1,000,000 open transactions cost 32-64 MB.
 *
 * Everything in an entry but `pending` is replicated state: it changes only
 * when a command is applied, identically on every member. */
#ifndef TERN_TXN_TABLE_H
#define TERN_TXN_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"
#include "src/errmsg.h"

#define TXN_STATE_OPEN 1
#define TXN_STATE_DONE 2

struct txn_entry {
    uint64_t offset;      /* half queue offset */
    int64_t prepared_ms;  /* store time of the PREPARE command */
    int64_t last_check_ms; /* time of the last CHECK command, 0 = none */
    uint32_t immunity_ms; /* CHECK_IMMUNITY_TIME_IN_SECONDS * 1000, 0 = default */
    uint16_t checks;      /* CHECK commands applied */
    uint8_t state;        /* TXN_STATE_* */
    uint8_t pending;      /* local: a CHECK or END proposal is in flight */
};

struct txn_table {
    struct txn_entry *e;
    size_t head, n, cap; /* live window [head, n) */
    size_t open;
    uint64_t half_next; /* half queue offset the next PREPARE gets */
    uint64_t applied;   /* highest command source applied (0: none) */
};

void txn_table_init(struct txn_table *t);
void txn_table_free(struct txn_table *t);
/* Add an open entry at offset (>= every present one). */
int txn_table_add(struct txn_table *t, uint64_t offset, int64_t prepared_ms, uint32_t immunity_ms);
/* The entry at offset, or NULL (decided, never prepared). */
struct txn_entry *txn_table_find(struct txn_table *t, uint64_t offset);
/* Mark the entry decided (tombstone) and compact if worthwhile. */
void txn_table_done(struct txn_table *t, struct txn_entry *e);

/* File format (txn.bin, little-endian): "TTX1" | u64 applied | u64 half_next |
 * u64 count | count x (u64 offset, i64 prepared, i64 last check, u32
 * immunity, u32 checks) | u64 xxh3 of everything before. */
int txn_table_save(const struct txn_table *t, const char *dir, struct buf *scratch, char *errmsg);
/* Missing file: empty table. A damaged one: TERN_E_CORRUPT. */
int txn_table_load(struct txn_table *t, const char *dir, char *errmsg);

#endif
