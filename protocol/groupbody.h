/* Body of TERN_GROUP_STATUS (9000) responses: one broker's view of its raft
 * group as JSON (PROTOCOL.md §4.6). Fixed-size structs: decoding allocates
 * nothing that outlives the call. */
#ifndef TERN_GROUPBODY_H
#define TERN_GROUPBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

#define GROUPBODY_MAX_MEMBERS 16
#define GROUPBODY_ADDR_MAX 64
#define GROUPBODY_NAME_MAX 128
#define GROUPBODY_ROLE_MAX 12

/* A member of the raft configuration as the answering broker knows it. */
struct groupbody_member {
    int64_t raft_id;                      /* raftId, > 0 */
    char raft_address[GROUPBODY_ADDR_MAX]; /* raftAddress */
    char role[GROUPBODY_ROLE_MAX];        /* role: "voter", "standby" or "spare" */
    bool has_match;                       /* only the leader knows match indexes */
    uint64_t match_index;                 /* matchIndex (opt) */
};

struct groupbody_status {
    char broker_name[GROUPBODY_NAME_MAX];  /* brokerName */
    char broker_addr[GROUPBODY_ADDR_MAX];  /* brokerAddr: host:port of its clients */
    int64_t raft_id;                       /* raftId: 0 = not replicated */
    char raft_address[GROUPBODY_ADDR_MAX]; /* raftAddress */
    /* role: "none" (no replication), "follower", "candidate", "leader",
     * "unavailable" */
    char role[GROUPBODY_ROLE_MAX];
    bool ready;                            /* ready: leader taking writes */
    uint64_t term;                         /* term */
    uint64_t commit_index;                 /* commitIndex */
    uint64_t last_applied;                 /* lastApplied */
    uint64_t last_index;                   /* lastIndex */
    int64_t leader_id;                     /* leaderId: 0 = unknown */
    char leader_address[GROUPBODY_ADDR_MAX]; /* leaderRaftAddress ("" = unknown) */
    unsigned n_members;
    struct groupbody_member members[GROUPBODY_MAX_MEMBERS]; /* members */
};

/* Append s as JSON to out. Returns 0 or TERN_E_NOMEM (out->err). */
int groupbody_encode(const struct groupbody_status *s, struct buf *out);
/* Parse n bytes of JSON into *s (zeroed first). Returns 0, or
 * TERN_E_MALFORMED with errmsg ("members[1].role: unknown 'boss'") on bad
 * JSON, a missing or mistyped field, a string too long for its field, a
 * negative number, an unknown role or more than GROUPBODY_MAX_MEMBERS. */
int groupbody_decode(const char *json, size_t n, struct groupbody_status *s, char *errmsg);

/* True for the role strings the format allows. */
bool groupbody_valid_role(const char *role);
bool groupbody_valid_member_role(const char *role);

#endif
