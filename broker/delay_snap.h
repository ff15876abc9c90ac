/* The delay lanes' replicated state in the catch-up snapshot (DELAY.md §6,
 * REPLICATION.md §7). Per lane: the cursor (bucket, index in bucket), the
 * next lane offset to index, the log position of the last DELIVER applied,
 * and the cursor bucket's undelivered records ("head", [due ms, lane
 * offset] pairs). Every other undelivered message is due in a later bucket
 * and is re-indexed from the lane partition at restore, so the snapshot
 * stays metadata plus at most one bucket's remainder (about 25 bytes per
 * record). */
#ifndef TERN_DELAY_SNAP_H
#define TERN_DELAY_SNAP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/delayidx.h"
#include "src/buf.h"
#include "src/jsonw.h"

struct broker;

struct delay_snap_lane {
    int64_t cur_bucket; /* -1: the lane never had a message */
    uint32_t cur_idx;
    uint64_t indexed_next;
    uint64_t last_source;
    struct delayidx_ent *head; /* owned (free()) */
    uint32_t nhead;
};

/* One lane's object; the head is read from the index (x). */
int delay_snap_encode(struct delayidx *x, struct jsonw *w);
/* Parse one lane's object. bucket_ms: this member's bucket size (a snapshot
 * built with another is refused). Malformed: TERN_E_MALFORMED with errmsg,
 * nothing allocated. */
int delay_snap_decode(json_t *o, int64_t bucket_ms, struct delay_snap_lane *out, char *errmsg);
void delay_snap_lane_free(struct delay_snap_lane *l);

int delay_snap_write(struct broker *b, struct jsonw *w);
/* Restore from the snapshot's "delay" array (NULL: an older snapshot, kept
 * as is and logged). Runs after the partitions were fetched. */
int delay_snap_restore(struct broker *b, json_t *arr, bool starting, char *errmsg);

#endif
