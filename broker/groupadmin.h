/* Tern-only raft group operations on a broker (PROTOCOL.md §4.6):
 * TERN_GROUP_STATUS (9000) answered by every member (and by an unreplicated
 * broker, as role "none"), TERN_GROUP_TRANSFER_LEADER (9001),
 * TERN_GROUP_ADD_REPLICA (9002) and TERN_GROUP_REMOVE_REPLICA (9003)
 * answered by the leader only: a follower refuses with SERVICE_NOT_AVAILABLE,
 * naming the leader it knows of. Membership changes are raft configuration
 * entries, so they are in the replicated log like every other state change. */
#ifndef TERN_GROUPADMIN_H
#define TERN_GROUPADMIN_H

#include "protocol/remoting.h"
#include "rpc/rpc.h"

struct broker;

/* Answer one of the codes above (now, or once the operation completed). */
void groupadmin_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req);

#endif
