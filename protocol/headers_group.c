/* Typed headers of Tern's raft group operations (PROTOCOL.md §4.6). */
#include "protocol/headers.h"

#include "protocol/headers_fields.h"

#define S headers_group_transfer_req
static const struct headers_field transfer_fields[] = {
    HEADERS_FH(S, to, "to", NULL, HEADERS_I64),
};
#undef S
HEADERS_DESC(transfer_desc, "transfer leader header", transfer_fields);
HEADERS_DEFINE(headers_group_transfer_req, headers_group_transfer_req, transfer_desc)

#define S headers_group_member_req
static const struct headers_field member_fields[] = {
    HEADERS_F(S, raft_id, "raftId", NULL, HEADERS_I64, HEADERS_REQ),
    HEADERS_F(S, raft_address, "raftAddress", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(member_desc, "group member header", member_fields);
HEADERS_DEFINE(headers_group_member_req, headers_group_member_req, member_desc)

#define S headers_group_resp
static const struct headers_field resp_fields[] = {
    HEADERS_F(S, broker_name, "brokerName", NULL, HEADERS_STR, HEADERS_OPT),
    HEADERS_FH(S, leader_id, "leaderId", NULL, HEADERS_I64),
    HEADERS_F(S, leader_address, "leaderRaftAddress", NULL, HEADERS_STR, HEADERS_OPT),
};
#undef S
HEADERS_DESC(resp_desc, "group response header", resp_fields);
HEADERS_DEFINE(headers_group_resp, headers_group_resp, resp_desc)
