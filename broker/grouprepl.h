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

/* status 0: res is the command's outcome on the leader (res->status may still
 * refuse it); else TERN_E_NOTLEADER / E_BUSY / E_IO / E_CANCELED. */
typedef void (*grouprepl_cb)(void *arg, int status, const struct fsm_result *res);
/* Propose a command (replication only; copied now). Fails now with
 * TERN_E_NOTLEADER, TERN_E_BUSY or TERN_E_CLOSED; else cb fires once. cb may
 * be NULL for fire-and-forget commands. */
int grouprepl_propose(struct broker *b, const void *cmd, size_t len, grouprepl_cb cb, void *arg);

/* Close replication; cb fires when done (at once without replication). */
void grouprepl_close(struct broker *b, void (*cb)(struct broker *b));

#endif
