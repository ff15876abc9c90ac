/* Raft group operations requested by `tern group ...` and `tern cluster`.
 *
 * Happy path: STATUS fills a groupbody from replica_status and answers at
 * once; TRANSFER/ADD/REMOVE check the request against the current
 * configuration, start the replica operation, hold the reply and answer from
 * its callback (a transfer within one election timeout; an add once the new
 * member caught up and was promoted to voter, which may take seconds).
 * Failure modes: not the leader -> SERVICE_NOT_AVAILABLE naming the leader
 * (id and raft address, also in the response header); a malformed header or
 * an impossible request (unknown member, duplicate id, removing the leader
 * itself) -> INVALID_PARAMETER; another change in flight, leadership lost on
 * the way, catch-up abandoned by raft -> SYSTEM_ERROR with the reason; the
 * client connection gone before the end -> the answer is dropped, the
 * operation still completes. */
#include "broker/groupadmin.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/grouprepl.h"
#include "broker/replica.h"
#include "protocol/codes.h"
#include "protocol/groupbody.h"
#include "protocol/headers.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

struct gop {
    struct broker *b;
    struct rpc_reply reply;
    int code;     /* request code */
    uint64_t id;  /* member concerned (0: transfer to any) */
};

static const char *role_name(enum replica_role r)
{
    switch (r) {
    case REPLICA_FOLLOWER: return "follower";
    case REPLICA_CANDIDATE: return "candidate";
    case REPLICA_LEADER: return "leader";
    default: return "unavailable";
    }
}

static const char *member_role_name(int role)
{
    return role == REPLICA_VOTER ? "voter" : role == REPLICA_STANDBY ? "standby" : "spare";
}

static void handle_status(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    static struct groupbody_status gs; /* large; the loop thread is the only user */
    static struct replica_status st;
    memset(&gs, 0, sizeof gs);
    snprintf(gs.broker_name, sizeof gs.broker_name, "%s", b->conf.name);
    snprintf(gs.broker_addr, sizeof gs.broker_addr, "%s", b->addr);
    snprintf(gs.role, sizeof gs.role, "none");
    if (grouprepl_status(b, &st)) {
        gs.raft_id = b->conf.raft_id;
        snprintf(gs.raft_address, sizeof gs.raft_address, "%s", b->conf.raft_address);
        snprintf(gs.role, sizeof gs.role, "%s", role_name(st.state.role));
        gs.ready = st.state.ready;
        gs.term = st.state.term;
        gs.commit_index = st.commit_index;
        gs.last_applied = st.last_applied;
        gs.last_index = st.last_index;
        gs.leader_id = (int64_t)st.state.leader_id;
        snprintf(gs.leader_address, sizeof gs.leader_address, "%s", st.state.leader_address);
        for (unsigned i = 0; i < st.n_peers && i < GROUPBODY_MAX_MEMBERS; i++) {
            struct groupbody_member *m = &gs.members[gs.n_members++];
            m->raft_id = (int64_t)st.peers[i].id;
            snprintf(m->raft_address, sizeof m->raft_address, "%s", st.peers[i].address);
            snprintf(m->role, sizeof m->role, "%s", member_role_name(st.peers[i].role));
            m->has_match = st.state.role == REPLICA_LEADER;
            m->match_index = st.peers[i].match_index;
        }
    }
    buf_reset(&b->body);
    if (groupbody_encode(&gs, &b->body) != 0 ||
        remoting_cmd_init_response(&b->resp, req, CODES_RESP_SUCCESS, NULL) != 0) {
        b->body.err = 0;
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    broker_respond(b, rc, b->body.data, b->body.len);
}

/* Response header naming the group and its leader as this member sees it. */
static void set_leader_header(struct broker *b, struct remoting_cmd *resp)
{
    struct replica_status st;
    struct headers_group_resp h = {.broker_name = slice_of(b->conf.name)};
    if (grouprepl_status(b, &st) && st.state.leader_id != 0) {
        h.has_leader_id = true;
        h.leader_id = (int64_t)st.state.leader_id;
        h.leader_address = slice_of(st.state.leader_address);
        headers_group_resp_encode(&h, resp);
        return;
    }
    headers_group_resp_encode(&h, resp);
}

/* Refuse on a member that is not the leader, naming the leader. */
static void refuse_not_leader(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    struct replica_status st;
    char remark[320];
    if (!grouprepl_status(b, &st)) {
        snprintf(remark, sizeof remark,
                 "broker %s at %s is not replicated (raftId = 0): no raft group to operate on",
                 b->conf.name, b->addr);
    } else if (st.state.leader_id != 0 && st.state.leader_id != (uint64_t)b->conf.raft_id) {
        snprintf(remark, sizeof remark,
                 "not the leader: broker %s at %s is raft member %lld (%s); the leader is raft "
                 "member %llu at raft address %s",
                 b->conf.name, b->addr, (long long)b->conf.raft_id, role_name(st.state.role),
                 (unsigned long long)st.state.leader_id, st.state.leader_address);
    } else {
        snprintf(remark, sizeof remark,
                 "not the leader: broker %s at %s is raft member %lld (%s); no leader is known "
                 "right now (election in progress?)",
                 b->conf.name, b->addr, (long long)b->conf.raft_id, role_name(st.state.role));
    }
    if (remoting_cmd_init_response(&b->resp, req, CODES_RESP_SERVICE_NOT_AVAILABLE, remark) != 0) {
        broker_respond_error(b, rc, req, CODES_RESP_SERVICE_NOT_AVAILABLE, remark);
        return;
    }
    set_leader_header(b, &b->resp);
    broker_respond(b, rc, NULL, 0);
}

static void op_done_cb(void *arg, int status)
{
    struct gop *op = arg;
    struct broker *b = op->b;
    char remark[256] = "";
    int code = CODES_RESP_SUCCESS;
    const char *what = op->code == CODES_REQ_TERN_GROUP_TRANSFER_LEADER ? "transfer leader"
                       : op->code == CODES_REQ_TERN_GROUP_ADD_REPLICA  ? "add replica"
                                                                        : "remove replica";
    if (status != 0) {
        code = status == TERN_E_NOTLEADER ? CODES_RESP_SERVICE_NOT_AVAILABLE : CODES_RESP_SYSTEM_ERROR;
        snprintf(remark, sizeof remark, "%s %llu: %s%s", what, (unsigned long long)op->id,
                 tern_strerror(status),
                 status == TERN_E_TIMEOUT  ? " (no new leader within an election timeout)"
                 : status == TERN_E_CONNECT ? " (raft gave up: the new member did not catch up; "
                                              "is it running with this raft address?)"
                 : status == TERN_E_NOTLEADER ? " (leadership was lost on the way; the change "
                                                "may still commit: check tern cluster)"
                                              : "");
        LOGW("broker", "%s", remark);
    } else {
        LOGI("broker", "%s %llu: done", what, (unsigned long long)op->id);
    }
    if (rpc_reply_begin(&op->reply, &b->resp, code, remark[0] ? remark : NULL) == 0) {
        set_leader_header(b, &b->resp);
        rpc_reply_finish(&op->reply, &b->resp, NULL, 0);
    } else {
        rpc_reply_drop(&op->reply);
    }
    free(op);
}

static bool valid_raft_address(struct slice a, char *out, size_t cap)
{
    if (a.len == 0 || a.len >= cap || a.len >= REPLICA_ADDR_MAX)
        return false;
    memcpy(out, a.p, a.len);
    out[a.len] = '\0';
    char host[64];
    const char *colon = strrchr(out, ':');
    if (!colon || (size_t)(colon - out) >= sizeof host)
        return false;
    memcpy(host, out, (size_t)(colon - out));
    host[colon - out] = '\0';
    struct in_addr ia;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    /* raft_uv's TCP transport parses IPv4 addresses only. */
    return inet_pton(AF_INET, host, &ia) == 1 && *end == '\0' && colon[1] != '\0' && port > 0 &&
           port <= 65535;
}

static void invalid(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req, const char *msg)
{
    broker_respond_error(b, rc, req, CODES_RESP_INVALID_PARAMETER, msg);
}

void groupadmin_handle(struct broker *b, struct rpc_conn *rc, struct remoting_cmd *req)
{
    if (req->code == CODES_REQ_TERN_GROUP_STATUS) {
        handle_status(b, rc, req);
        return;
    }
    char err[ERRMSG_SIZE], remark[ERRMSG_SIZE + 64];
    struct replica_status st;
    if (!grouprepl_status(b, &st) || st.state.role != REPLICA_LEADER) {
        refuse_not_leader(b, rc, req);
        return;
    }
    /* Where a member stands in the current configuration. */
    uint64_t id = 0;
    int role = -1;
    char address[REPLICA_ADDR_MAX] = "";
    if (req->code == CODES_REQ_TERN_GROUP_TRANSFER_LEADER) {
        struct headers_group_transfer_req h;
        if (headers_group_transfer_req_decode(&h, req, &b->limits, err)) {
            invalid(b, rc, req, err);
            return;
        }
        if (h.has_to && h.to < 0) {
            invalid(b, rc, req, "transfer leader: 'to' must be a raft member id > 0");
            return;
        }
        id = h.has_to ? (uint64_t)h.to : 0;
    } else {
        struct headers_group_member_req h;
        if (headers_group_member_req_decode(&h, req, &b->limits, err)) {
            invalid(b, rc, req, err);
            return;
        }
        if (h.raft_id <= 0) {
            invalid(b, rc, req, "raftId must be > 0");
            return;
        }
        id = (uint64_t)h.raft_id;
        if (req->code == CODES_REQ_TERN_GROUP_ADD_REPLICA &&
            !valid_raft_address(h.raft_address, address, sizeof address)) {
            invalid(b, rc, req, "add replica: raftAddress must be IPv4 a.b.c.d:port");
            return;
        }
    }
    for (unsigned i = 0; i < st.n_peers; i++) {
        if (st.peers[i].id == id)
            role = st.peers[i].role;
        if (req->code == CODES_REQ_TERN_GROUP_ADD_REPLICA && st.peers[i].id != id &&
            strcmp(st.peers[i].address, address) == 0) {
            snprintf(remark, sizeof remark, "add replica %llu: raft member %llu already uses %s",
                     (unsigned long long)id, (unsigned long long)st.peers[i].id, address);
            invalid(b, rc, req, remark);
            return;
        }
    }
    const char *bad = NULL;
    switch (req->code) {
    case CODES_REQ_TERN_GROUP_TRANSFER_LEADER:
        if (id == (uint64_t)b->conf.raft_id)
            bad = "is the leader already";
        else if (id != 0 && role != REPLICA_VOTER)
            bad = role < 0 ? "is not a member of the group" : "is not a voter";
        break;
    case CODES_REQ_TERN_GROUP_ADD_REPLICA:
        if (role >= 0)
            bad = "is already a member of the group (remove it first)";
        else if (st.n_peers >= REPLICA_MAX_MEMBERS)
            bad = "cannot join: the group is full";
        break;
    case CODES_REQ_TERN_GROUP_REMOVE_REPLICA:
        if (role < 0)
            bad = "is not a member of the group";
        else if (id == (uint64_t)b->conf.raft_id)
            bad = "is the leader: transfer leadership first (tern group transfer-leader)";
        break;
    default:
        break;
    }
    if (bad) {
        snprintf(remark, sizeof remark, "raft member %llu %s", (unsigned long long)id, bad);
        invalid(b, rc, req, remark);
        return;
    }
    struct gop *op = calloc(1, sizeof *op);
    if (!op) {
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, "out of memory");
        return;
    }
    op->b = b;
    op->code = req->code;
    op->id = id;
    int rv;
    if (req->code == CODES_REQ_TERN_GROUP_TRANSFER_LEADER)
        rv = grouprepl_transfer(b, id, op_done_cb, op);
    else if (req->code == CODES_REQ_TERN_GROUP_ADD_REPLICA)
        rv = grouprepl_add(b, id, address, op_done_cb, op);
    else
        rv = grouprepl_remove(b, id, op_done_cb, op);
    if (rv) {
        free(op);
        if (rv == TERN_E_NOTLEADER) {
            refuse_not_leader(b, rc, req);
            return;
        }
        snprintf(remark, sizeof remark, "raft member %llu: %s%s", (unsigned long long)id,
                 tern_strerror(rv),
                 rv == TERN_E_BUSY ? " (another membership change or transfer is in progress)"
                 : rv == TERN_E_NOTFOUND ? " (no other voter to hand leadership to)"
                                         : "");
        broker_respond_error(b, rc, req, CODES_RESP_SYSTEM_ERROR, remark);
        return;
    }
    LOGI("broker", "%s raft member %llu%s%s: started",
         req->code == CODES_REQ_TERN_GROUP_TRANSFER_LEADER ? "transfer leadership to"
         : req->code == CODES_REQ_TERN_GROUP_ADD_REPLICA    ? "add"
                                                             : "remove",
         (unsigned long long)id, address[0] ? " at " : "", address);
    rpc_reply_hold(&op->reply, rc, req);
}
