/* The adapter from libraft's struct raft_fsm to Tern's per-command
 * replica_fsm: decodes committed entries, numbers them by raft index, keeps
 * snapshots behind the caller's durable index and sizes them by bytes.
 * Separate from replica.c so tests can attach it to a raft_fixture server. */
#ifndef TERN_REPLICA_SM_H
#define TERN_REPLICA_SM_H

#include <raft.h>
#include <stdint.h>

#include "broker/replica.h"
#include "src/errmsg.h"

/* Snapshot envelope: magic "TRNS", version u32, raft index u64, then the
 * caller's bytes. Little-endian. */
#define REPLICA_SM_SNAP_MAGIC 0x534e5254u
#define REPLICA_SM_SNAP_HDR 16

struct replica_sm {
    struct raft_fsm raft_fsm; /* what raft calls; data points back here */
    struct replica_fsm fsm;
    void *arg;
    struct raft *raft; /* bound after raft_init / raft_fixture_grow */
    /* Results of the entry just applied, read by the leader's apply callback
     * that raft fires right after fsm->apply returns (replication.c
     * applyCommand). Owned here so followers leak nothing. */
    uint64_t results_index;
    uint32_t results_n;
    uint32_t results_cap;
    struct replica_result *results;
    /* Byte-budget snapshot sizing (RAFT-NOTES trap c). */
    uint64_t snapshot_budget;
    uint64_t bytes_applied;
    uint64_t entries_applied;
    uint64_t malformed;
    uint64_t snapshots_busy; /* times a snapshot was refused for durability */
    char errmsg[ERRMSG_SIZE];
};

/* Initialise; snapshot_budget 0 leaves raft's threshold alone. */
void replica_sm_init(struct replica_sm *sm, const struct replica_fsm *fsm, void *arg,
                     uint64_t snapshot_budget);
/* Bind the raft instance whose fsm is &sm->raft_fsm (needed for indexes). */
void replica_sm_bind(struct replica_sm *sm, struct raft *raft);
void replica_sm_close(struct replica_sm *sm);

/* Results of entry `index` if it was the last applied, else NULL. */
const struct replica_result *replica_sm_results(struct replica_sm *sm, uint64_t index,
                                                uint32_t *n);

/* Recompute raft's snapshot threshold/trailing from the budget and the
 * running average entry size. Called by the adapter every few entries. */
void replica_sm_tune(struct replica_sm *sm);

#endif
