/* Queue locks of orderly consumption: LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ
 * (42) with RocketMQ's RebalanceLockManager semantics. A queue (group, topic,
 * queue id) is held by at most one clientId; a lock not renewed for
 * LOCKS_EXPIRE_MS lapses and anyone may take it.
 *
 * Unlike RocketMQ, where the table lives only in the master's memory, every
 * grant and release is a LOCK command through the state machine (fsm.c,
 * types FSM_CMD_LOCK/FSM_CMD_UNLOCK) carrying the leader's wall-clock time,
 * and the answer leaves only after the command is committed and applied.
 * So a new leader after a failover holds exactly the locks the old one had
 * granted, and grants nobody a queue another client holds until 60 s after
 * that client's last committed renewal (measured by the command times,
 * i.e. the leaders' clocks; see REPLICATION.md "Queue locks"). */
#ifndef TERN_LOCKS_H
#define TERN_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

#define LOCKS_EXPIRE_MS 60000
#define LOCKS_NAME_MAX 256

struct broker;
struct rpc_conn;
struct remoting_cmd;

/* The pure lock table (no I/O): unit-tested with chosen times. */
struct locktab;
struct locktab *locktab_new(void);
void locktab_free(struct locktab *t);
/* Grant or renew: true if client holds the queue after the call (it was
 * free, expired at now_ms, or already the client's). */
bool locktab_lock(struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client,
                  int64_t now_ms);
/* Release if held by client (anyone else's lock is left alone). */
void locktab_unlock(struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client);
/* Does client hold the queue at now_ms (not expired)? */
bool locktab_held(const struct locktab *t, const char *group, const char *topic, int32_t qid, const char *client,
                  int64_t now_ms);
/* Command time at which client's current hold of the queue began (its first
 * grant, renewals keep it), or -1 if client does not hold it. */
int64_t locktab_since(const struct locktab *t, const char *group, const char *topic, int32_t qid,
                      const char *client);
/* Entries in the table (expired ones included until touched). */
size_t locktab_count(const struct locktab *t);

/* Broker glue. */
int locks_init(struct broker *b);
void locks_free(struct broker *b);
void locks_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);
/* Raft snapshots carry the table (lock commands before the snapshot index
 * are compacted away): append it as a JSON array to out. */
int locks_snapshot(struct broker *b, struct buf *out);
/* Restore from a snapshot's JSON ({"locks":[...], ...}). A snapshot without
 * a lock table (older format) or with a corrupt one leaves this member
 * "blind": for LOCKS_EXPIRE_MS it answers no LOCK as granted (any hold it
 * lost has expired by then), logged. Never fails. */
void locks_restore(struct broker *b, const char *json, size_t len);

/* FSM command (fsm.c dispatches types FSM_CMD_LOCK and FSM_CMD_UNLOCK here):
 *   u8 type | u8 0 | u16 group length | u16 client length | u16 queue count |
 *   i64 time (ms, leader's wall clock) | group | client |
 *   count x (u16 topic length | i32 queue id | topic) */
struct lockbody_req;
int locks_encode(struct buf *out, int type, const struct lockbody_req *req, int64_t now_ms);
/* Apply a LOCK/UNLOCK command to b's table. Returns 0 or TERN_E_MALFORMED. */
int locks_apply(struct broker *b, const uint8_t *cmd, size_t len);
/* The answer to an applied LOCK command: {"lockOKMQSet":[...]} with the
 * command's queues its client holds at the command's time (brokerName: this
 * broker). Returns 0, TERN_E_MALFORMED or TERN_E_NOMEM. */
int locks_answer(struct broker *b, const uint8_t *cmd, size_t len, struct buf *out);

#endif
