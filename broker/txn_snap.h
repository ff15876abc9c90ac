/* The transaction table in the catch-up snapshot (REPLICATION.md §7,
 * TRANSACTIONS.md): written with the snapshot's index, restored in place of
 * a member's stale table. Form: {"applied":N,"halfNext":N,"open":[[offset,
 * prepared ms, last check ms, immunity ms, checks], ...]}, about 50 bytes per
 * open transaction, so the 64 MiB snapshot bound holds roughly 1.2 million
 * open transactions. */
#ifndef TERN_TXN_SNAP_H
#define TERN_TXN_SNAP_H

#include <jansson.h>
#include <stdbool.h>

#include "broker/txn_table.h"
#include "src/jsonw.h"

struct broker;

void txn_snap_encode(const struct txn_table *t, struct jsonw *w);
/* Parse o into t (which is replaced). Malformed or out-of-order input:
 * TERN_E_MALFORMED with errmsg, t left empty. */
int txn_snap_decode(struct txn_table *t, json_t *o, char *errmsg);

/* The broker's table into the snapshot being written. */
void txn_snap_write(struct broker *b, struct jsonw *w);
/* Restore from the snapshot's "txn" value (NULL: an older snapshot, the
 * member's table is kept and that is logged). starting: the member's own
 * snapshot at start; its txn.bin is kept unless it is behind. */
int txn_snap_restore(struct broker *b, json_t *o, bool starting, char *errmsg);

#endif
