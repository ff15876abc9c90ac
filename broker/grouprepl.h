/* The broker group's replication: with raftId > 0 every state change is a
 * command proposed through the group's Raft log (broker/replica.h) and applied
 * by every member (broker/fsm.c); without, commands are applied directly.
 * Handlers ask this module whether they may write, and submit commands. */
#ifndef TERN_GROUPREPL_H
#define TERN_GROUPREPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/fsm.h"

struct broker;

/* Start replication if configured (after the store and tables are open). */
int grouprepl_init(struct broker *b);
/* Replication configured? */
bool grouprepl_enabled(const struct broker *b);
/* May this member accept writes: always without replication, else only as
 * the ready leader (its post-election barrier committed). */
bool grouprepl_writable(const struct broker *b);
/* The brokerId to register with the name servers: the configured id without
 * replication; 0 for the ready leader; the raft id for everyone else. */
int64_t grouprepl_member_id(const struct broker *b);
/* Leader: the member a consumer reading far behind in a queue should pull
 * from (slaveReadEnable): a voting follower that is keeping up, the same
 * one for a given salt (the partition) while the set is unchanged; 0 (the
 * leader itself) when there is none. */
int64_t grouprepl_read_member(struct broker *b, uint32_t salt);

/* status 0: res is the command's outcome on the leader (res->status may still
 * refuse it); else TERN_E_NOTLEADER / E_BUSY / E_IO / E_CANCELED. */
typedef void (*grouprepl_cb)(void *arg, int status, const struct fsm_result *res);
/* Propose a command (replication only; copied now). Fails now with
 * TERN_E_NOTLEADER, TERN_E_BUSY or TERN_E_CLOSED; else cb fires once. cb may
 * be NULL for fire-and-forget commands. */
int grouprepl_propose(struct broker *b, const void *cmd, size_t len, grouprepl_cb cb, void *arg);

/* Close replication; cb fires when done (at once without replication). */
void grouprepl_close(struct broker *b, void (*cb)(struct broker *b));

/* ---- Group operations (broker/groupadmin.c, SIGTERM in main.c) ---- */

struct replica_status;
/* This member's raft state (role, term, indexes, configuration with match
 * indexes on the leader). False without replication. */
bool grouprepl_status(const struct broker *b, struct replica_status *st);

/* Completion of the operations below: 0 or a TERN_E_* code. */
typedef void (*grouprepl_op_cb)(void *arg, int status);
/* Leader only (else TERN_E_NOTLEADER now): hand leadership to raft member
 * `to` (0 = the most up-to-date follower); see replica_transfer. */
int grouprepl_transfer(struct broker *b, uint64_t to, grouprepl_op_cb cb, void *arg);
/* Leader only: add member id at its raft address as a non-voter, promote it
 * to voter once it has caught up; see replica_add. */
int grouprepl_add(struct broker *b, uint64_t id, const char *address, grouprepl_op_cb cb, void *arg);
/* Leader only: remove member id from the configuration. */
int grouprepl_remove(struct broker *b, uint64_t id, grouprepl_op_cb cb, void *arg);
/* Planned shutdown: a leader hands leadership to its most up-to-date
 * follower and waits for that at most wait_ms; then (or at once on a
 * non-leader or without replication) cb fires, exactly once. */
void grouprepl_handoff(struct broker *b, unsigned wait_ms, void (*cb)(struct broker *b));

#endif
