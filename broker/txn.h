/* Transactional half messages (RocketMQ TransactionalMessageService without
 * the op-topic): a TRAN_MSG send is stored invisible in the half topic, an
 * explicit state table (txn_table.c) remembers every undecided one, and
 * END_TRANSACTION or the check-back service (txn.c) decides it. Every change
 * is an FSM command (types 20-29) applied by every member of the group, so
 * the table and the decisions survive a leader failover. See
 * broker/TRANSACTIONS.md.
 *
 * Commands (little-endian, appended to fsm.h's list):
 *   u8 20 PREPARE | u8 0 | u16 0 | u32 check immunity ms (0 = default) |
 *       an APPEND command to the half topic (queue 0)
 *   u8 21 END | u8 decision (1 commit, 2 rollback, 3 park) | u16 0 |
 *       u64 half queue offset | [an APPEND command: commit -> real topic,
 *       park -> TRANS_CHECK_MAX_TIME_TOPIC; none for rollback]
 *   u8 22 CHECK | u8 0 | u16 0 | u64 half queue offset | i64 check time ms */
#ifndef TERN_TXN_H
#define TERN_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/store.h"
#include "protocol/remoting.h"
#include "rpc/rpc.h"
#include "src/buf.h"

struct broker;
struct fsm_result;

#define TXN_HALF_TOPIC "RMQ_SYS_TRANS_HALF_TOPIC"
#define TXN_PARK_TOPIC "TRANS_CHECK_MAX_TIME_TOPIC"

#define FSM_CMD_TXN_PREPARE 20
#define FSM_CMD_TXN_END 21
#define FSM_CMD_TXN_CHECK 22
#define FSM_CMD_TXN_FIRST 20
#define FSM_CMD_TXN_LAST 29

#define TXN_DECIDE_COMMIT 1
#define TXN_DECIDE_ROLLBACK 2
#define TXN_DECIDE_PARK 3

/* Fixed prefix of PREPARE (before the APPEND) and of END/CHECK. */
#define TXN_PREPARE_HDR 8
#define TXN_END_HDR 12
#define TXN_CHECK_LEN 20

/* Open the table (loads <data_dir>/txn.bin) and start the check timer. */
int txn_init(struct broker *b);
/* Start the check-back timer (once the broker's subsystems exist). */
void txn_start(struct broker *b);
/* Write the table to disk (snapshot, shutdown). */
int txn_flush(struct broker *b);
/* Stop the timer and free everything; call once nothing applies commands. */
void txn_close(struct broker *b);

/* END_TRANSACTION (37). */
void txn_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

/* Apply a command of type 20-29 (called by fsm_apply). Same contract. */
int txn_apply(struct broker *b, uint64_t source, const uint8_t *cmd, size_t len, struct store_append_req *req,
              store_append_cb cb, struct fsm_result *res);

/* Sends (sendmsg.c): make sure the half topic exists (proposed with
 * replication). Returns 0 or TERN_E_*. */
int txn_ensure_topic(struct broker *b, const char *name);
/* Wrap the APPEND command in append[0..n) into a PREPARE command in out. */
int txn_encode_prepare(struct buf *out, uint32_t immunity_ms, const void *append, size_t n);

/* Open transactions in the table, and bytes the table holds. */
size_t txn_open_count(const struct broker *b);
size_t txn_table_bytes(const struct broker *b);

#endif
