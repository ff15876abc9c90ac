/* Replication of the broker's commands through one libraft (0.15) group.
 *
 * Design A of RAFT-NOTES: raft_uv's own segmented log is the replicated
 * write-ahead log. Proposals made on the leader during one loop pass are
 * coalesced into one raft entry (broker/replica_entry.h); once committed, every
 * member calls the caller's replica_fsm.apply for each command, in log order,
 * on the loop thread. The caller's state machine makes its effects durable on
 * its own schedule and reports how far through durable_index; snapshots are
 * metadata only and never cover more than that.
 *
 * Everything runs on the loop thread given to replica_start; no call is
 * thread-safe. replica_start sets SIGPIPE to SIG_IGN if it is still SIG_DFL
 * (raft_uv writes to sockets with write()). */
#ifndef TERN_REPLICA_H
#define TERN_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "src/buf.h"

#define REPLICA_MAX_MEMBERS 16
#define REPLICA_ADDR_MAX 64

/* What a command's application produced, handed back to its proposer on the
 * leader. Fixed size so it costs nothing on followers. */
struct replica_result {
    int status;      /* the command's own outcome (0 or a TERN_E_* code) */
    int64_t val[4];  /* e.g. assigned offsets */
};

/* The caller's state machine. Every callback runs on the loop thread. */
struct replica_fsm {
    /* Apply command cmd_no (0-based position in its entry) of the committed
     * entry at raft index `index`. Called on every member, in log order.
     * After a restart raft re-applies everything after its last snapshot, so
     * this must be idempotent keyed by (index, cmd_no): skip what is already
     * durable. Deterministic: the outcome goes into *res (zeroed before the
     * call) and must be the same on every member. Return 0; a non-zero return
     * means "cannot apply now" (e.g. out of memory): raft stops applying and
     * retries the whole entry later, so commands before cmd_no will be seen
     * again. cmd is only valid during the call. */
    int (*apply)(void *arg, uint64_t index, uint32_t cmd_no, const uint8_t *cmd, size_t len,
                 struct replica_result *res);
    /* Append the caller's metadata snapshot (offsets, "durable up to") to out.
     * Called only when durable_index >= the index being snapshotted. */
    int (*snapshot)(void *arg, struct buf *out);
    /* Highest raft index whose effects are durable on this member. */
    int (*durable_index)(void *arg, uint64_t *index);
    /* Replace the caller's state with a snapshot taken at raft index `index`
     * (at start-up, or when the leader installs one). Must not block. */
    int (*restore)(void *arg, uint64_t index, const uint8_t *buf, size_t len);
};

/* Member roles, libraft's values (RAFT_STANDBY/RAFT_VOTER/RAFT_SPARE). */
#define REPLICA_STANDBY 0 /* replicates the log, does not vote */
#define REPLICA_VOTER 1
#define REPLICA_SPARE 2   /* in the configuration only */

struct replica_member {
    uint64_t id;
    char address[REPLICA_ADDR_MAX]; /* "a.b.c.d:port" (raft_uv parses IPv4 only) */
};

enum replica_role {
    REPLICA_UNAVAILABLE = 0, /* raft gave up (I/O error): close and reopen */
    REPLICA_FOLLOWER = 1,
    REPLICA_CANDIDATE = 2,
    REPLICA_LEADER = 3,
};

struct replica;

/* Snapshot of the observable state, passed to on_state and replica_status. */
struct replica_state {
    enum replica_role role;
    bool ready;      /* leader whose post-election barrier committed */
    uint64_t term;
    uint64_t leader_id; /* 0 if unknown */
    char leader_address[REPLICA_ADDR_MAX];
};

typedef void (*replica_state_cb)(void *arg, const struct replica_state *st);

struct replica_opts {
    uint64_t id;
    const char *address;  /* this member's raft address, host:port */
    const char *dir;      /* data directory (created if missing, one level) */
    /* Initial configuration, same on every member. A pristine member
     * bootstraps with it only if its own id is among them; otherwise it is a
     * joining member: it starts empty and waits for the leader to add it
     * (replica_add) and send it the log. */
    const struct replica_member *voters;
    unsigned n_voters;
    unsigned election_timeout_ms;  /* 0: 1000 */
    unsigned heartbeat_ms;         /* 0: 100 */
    uint64_t snapshot_budget;      /* bytes of log between snapshots; 0: 64 MiB */
    uint64_t segment_size;         /* raft segment size; 0: 64 MiB */
    size_t max_entry_bytes;        /* split batches above this; 0: 1 MiB */
    size_t max_inflight_bytes;     /* proposals beyond fail with E_BUSY; 0: 64 MiB */
    bool compress;                 /* try LZ4 on large entries */
    replica_state_cb on_state;     /* optional: role/leader/term/ready changes */
    void *state_arg;
};

/* Fill defaults (zeroes, compress on). */
void replica_opts_init(struct replica_opts *o);

/* Open the data directory, check its file system, bootstrap it with
 * opts->voters if pristine, and start raft on loop. fsm/arg stay borrowed
 * until the close callback. Returns 0 and *out, or a TERN_E_* code with
 * errmsg (ERRMSG_SIZE) filled from raft's own message. On failure after raft
 * was initialised the half-built replica finishes closing on the loop. */
int replica_start(uv_loop_t *loop, const struct replica_opts *opts, const struct replica_fsm *fsm,
                  void *arg, struct replica **out, char *errmsg);

/* Called once per proposal: status 0 with the command's result after its
 * entry is committed and applied on this (leader) member; TERN_E_NOTLEADER if
 * leadership was lost first (the command may still commit under the next
 * leader: the outcome is unknown), TERN_E_IO/E_NOSPACE on a leader disk error,
 * TERN_E_CANCELED on close. res is NULL unless status is 0. */
typedef void (*replica_propose_cb)(void *arg, int status, const struct replica_result *res);

/* Propose one command made of n iov pieces (copied now). Only a ready leader
 * accepts: otherwise fails now with TERN_E_NOTLEADER; TERN_E_BUSY when the
 * bytes in flight exceed max_inflight_bytes, TERN_E_CLOSED while closing,
 * TERN_E_TOOBIG for a command above max_entry_bytes. On 0, cb fires exactly
 * once, never from inside this call. */
int replica_propose(struct replica *r, const uv_buf_t *iov, unsigned n, replica_propose_cb cb,
                    void *arg);

/* Observable state. */
struct replica_peer {
    uint64_t id;
    int role;           /* RAFT_VOTER / RAFT_STANDBY / RAFT_SPARE */
    uint64_t match_index; /* leader only: highest index known replicated */
    char address[REPLICA_ADDR_MAX]; /* its raft address */
};
struct replica_status {
    struct replica_state state;
    uint64_t commit_index;
    uint64_t last_applied;
    uint64_t last_index;
    uint64_t entries_proposed; /* raft entries this member proposed */
    uint64_t commands_proposed;
    uint64_t entries_applied;  /* entries applied since start (all members) */
    uint64_t malformed;        /* committed entries that failed to decode */
    uint64_t first_index;      /* oldest entry still in the log (1 until the
                                * first compaction after a snapshot) */
    uint64_t snapshot_index;   /* last index of the latest snapshot, 0 = none */
    unsigned n_peers;
    struct replica_peer peers[REPLICA_MAX_MEMBERS];
};
/* Fill *st from raft's current state (no callbacks fire). match_index is
 * only known on the leader (0 elsewhere). */
void replica_status(struct replica *r, struct replica_status *st);

/* Generic completion of operations below: 0 or a TERN_E_* code. */
typedef void (*replica_op_cb)(void *arg, int status);

/* Leader only: hand leadership to target_id (0 = the voter with the highest
 * match index, i.e. the most up-to-date follower). cb status 0 if another
 * member became leader, TERN_E_TIMEOUT otherwise (libraft gives up after one
 * election timeout). Fails now with TERN_E_NOTFOUND when there is no other
 * voter, TERN_E_INVAL for a target that is not a voter of the group. */
int replica_transfer(struct replica *r, uint64_t target_id, replica_op_cb cb, void *arg);

/* Leader only: add a member as SPARE, then for RAFT_STANDBY or RAFT_VOTER
 * assign STANDBY (it replicates without voting), then for RAFT_VOTER wait
 * until its match index reaches the leader's last index (checked every
 * 50 ms, at most 30 s, after which raft's own catch-up rounds decide) and
 * assign VOTER. cb fires once at the end (TERN_E_CONNECT if raft judged the
 * member too slow, TERN_E_NOTLEADER if leadership was lost on the way). One
 * change at a time: TERN_E_BUSY while another is pending. */
int replica_add(struct replica *r, uint64_t id, const char *address, int role, replica_op_cb cb,
                void *arg);

/* Leader only: remove a member. */
int replica_remove(struct replica *r, uint64_t id, replica_op_cb cb, void *arg);

typedef void (*replica_close_cb)(void *arg);

/* Close: safe from any context, including replica callbacks. Proposals not
 * yet handed to raft complete with TERN_E_CANCELED at once; raft's pending
 * disk writes are allowed to finish (up to 2 s: libraft 0.15 corrupts its
 * log when several are cancelled), so entries already in flight may still
 * complete with 0 before the rest are cancelled. raft, its I/O and the
 * transport close in that order; then cb fires on a later loop turn and the
 * replica's memory is gone. Call once. */
void replica_close(struct replica *r, replica_close_cb cb, void *arg);

#endif
