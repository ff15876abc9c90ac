/* `tern group transfer-leader|add-replica|remove-replica` and the raft
 * section of `tern cluster`: Tern-only requests 9000-9003 sent straight to a
 * broker (PROTOCOL.md §4.6). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cli.h"
#include "protocol/codes.h"
#include "protocol/groupbody.h"
#include "protocol/headers.h"
#include "protocol/remoting.h"

#define NAMESRV_OPT                                                                                \
    {"namesrv", "ADDR",                                                                            \
     "name server host:port[;host:port], for hints (default $TERN_NAMESRV or " CLI_DEFAULT_NAMESRV \
     ")", NULL}
#define BROKER_OPT {"broker", "HOST:PORT", "a member of the broker group: its leader (required)", NULL}
#define TIMEOUT_OPT(def)                                                                           \
    {"timeout", "SEC", "how long to wait for the broker's answer (default " def ")", NULL}

#define STATUS_TIMEOUT_MS 3000

/* What a group operation's answer said. */
struct answer {
    int code;
    char remark[512];
    char broker_name[128];
    int64_t leader_id; /* 0 unknown */
    char leader_address[64];
    struct groupbody_status *status; /* STATUS only */
    int decode_err;
    char errmsg[TERN_ERRMSG_SIZE];
};

static void copy_slice(char *dst, size_t cap, struct slice s)
{
    size_t n = s.p ? (s.len < cap - 1 ? s.len : cap - 1) : 0;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
}

static void answer_cb(void *arg, const struct remoting_cmd *resp)
{
    struct answer *a = arg;
    a->code = resp->code;
    copy_slice(a->remark, sizeof a->remark, resp->remark);
    if (a->status) {
        if (resp->code == CODES_RESP_SUCCESS)
            a->decode_err = groupbody_decode((const char *)resp->body.p, resp->body.len, a->status,
                                             a->errmsg);
        return;
    }
    struct headers_group_resp h;
    char e[256];
    if (headers_group_resp_decode(&h, resp, &limits_default, e) == 0) {
        copy_slice(a->broker_name, sizeof a->broker_name, h.broker_name);
        a->leader_id = h.has_leader_id ? h.leader_id : 0;
        copy_slice(a->leader_address, sizeof a->leader_address, h.leader_address);
    }
}

/* After a refusal by a non-leader: the leader's client address as the name
 * server has it (brokerId 0 of the same broker group), if it has one. */
static void hint_leader(struct tern_sync *s, const struct answer *a)
{
    const struct tern_cluster_info *ci;
    if (!a->broker_name[0] || tern_sync_cluster_info(s, &ci) != 0)
        return;
    for (size_t i = 0; i < ci->broker_count; i++) {
        if (strcmp(ci->brokers[i].name, a->broker_name) != 0)
            continue;
        for (size_t j = 0; j < ci->brokers[i].addr_count; j++)
            if (ci->brokers[i].addrs[j].id == 0)
                fprintf(stderr, "tern: hint: the name server lists %s as the leader of %s: "
                                "retry with --broker %s\n",
                        ci->brokers[i].addrs[j].addr, a->broker_name,
                        ci->brokers[i].addrs[j].addr);
    }
}

/* Send one group operation and report its answer. */
static int run_op(struct cli_cmd *cmd, const char *what, struct remoting_cmd *req, int timeout_ms,
                  const char *broker, struct answer *a)
{
    struct tern_sync *s;
    int rv;
    if ((rv = cli_open(cmd, &s)))
        return rv;
    struct cli_rpc *r;
    int err = cli_rpc_open(s, &r);
    if (err) {
        tern_sync_close(s);
        return cli_fail(what, err, "rpc session");
    }
    char errmsg[TERN_ERRMSG_SIZE] = "";
    err = cli_rpc_request(r, broker, req, timeout_ms, answer_cb, a, errmsg);
    cli_rpc_close(r);
    if (err) {
        tern_sync_close(s);
        return cli_fail(what, err, errmsg);
    }
    if (a->code != CODES_RESP_SUCCESS) {
        const char *name = codes_response_name(a->code);
        fprintf(stderr, "tern: %s: %s refused (%d %s): %s\n", what, broker, a->code,
                name ? name : "?", a->remark);
        if (a->code == CODES_RESP_SERVICE_NOT_AVAILABLE)
            hint_leader(s, a);
        tern_sync_close(s);
        return CLI_EXIT_FAIL;
    }
    tern_sync_close(s);
    return CLI_EXIT_OK;
}

static int parse_timeout(struct cli_cmd *cmd, int64_t def_s, int *ms)
{
    int64_t sec;
    int rv = cli_get_int(cmd, "timeout", 1, 3600, def_s, &sec);
    *ms = (int)(sec * 1000);
    return rv;
}

int cli_group_transfer_leader(int argc, char **argv)
{
    struct cli_opt opts[] = {BROKER_OPT,
                             {"to", "RAFT_ID", "the member to hand leadership to (default: the "
                                               "most up-to-date follower)", NULL},
                             TIMEOUT_OPT("10"), NAMESRV_OPT};
    struct cli_cmd cmd = {
        "tern group transfer-leader --broker HOST:PORT [--to RAFT_ID]",
        "Ask the raft leader of a broker group (--broker is its client address) to hand\n"
        "leadership to another voter. Prints the new leader. A member that is not the leader\n"
        "refuses and names the leader.",
        opts, sizeof opts / sizeof opts[0],
        "  tern group transfer-leader --broker 127.0.0.1:10911\n"
        "  tern group transfer-leader --broker 127.0.0.1:10911 --to 3\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *broker;
    int64_t to;
    int timeout_ms;
    if ((rv = cli_require(&cmd, "broker", &broker)) ||
        (rv = cli_get_int(&cmd, "to", 1, INT64_MAX, 0, &to)) ||
        (rv = parse_timeout(&cmd, 10, &timeout_ms)))
        return rv;
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_TERN_GROUP_TRANSFER_LEADER);
    struct headers_group_transfer_req h = {.has_to = to > 0, .to = to};
    if (headers_group_transfer_req_encode(&h, &req) != 0) {
        remoting_cmd_free(&req);
        return cli_fail("transfer leader", TERN_E_NOMEM, NULL);
    }
    struct answer a = {0};
    rv = run_op(&cmd, "transfer leader", &req, timeout_ms, broker, &a);
    remoting_cmd_free(&req);
    if (rv == CLI_EXIT_OK)
        printf("%s: leader is now raft member %" PRId64 " (raft address %s)\n", a.broker_name,
               a.leader_id, a.leader_address[0] ? a.leader_address : "?");
    return rv;
}

static int member_op(int argc, char **argv, bool add)
{
    struct cli_opt opts[] = {BROKER_OPT,
                             {"id", "N", "raft member id (raftId of the member's broker)", NULL},
                             {"address", "HOST:RAFTPORT",
                              "the new member's raftAddress (IPv4; add-replica only)", NULL},
                             TIMEOUT_OPT("120"), NAMESRV_OPT};
    struct cli_cmd cmd = {
        add ? "tern group add-replica --broker HOST:PORT --id N --address HOST:RAFTPORT"
            : "tern group remove-replica --broker HOST:PORT --id N",
        add ? "Add raft member N to a broker group. --broker is the group leader's client\n"
              "address. Start the new member's tern-broker first: same brokerName, raftId=N,\n"
              "its own raftAddress, raftPeers listing the group (without itself). It joins as a\n"
              "non-voter, receives the log and becomes a voter once caught up; the command\n"
              "returns then (docs/CLI.md, broker/REPLICATION.md §6)."
            : "Remove raft member N from a broker group (--broker: the leader). The leader\n"
              "itself cannot be removed: transfer leadership first. Stop the removed member's\n"
              "process afterwards.",
        opts, sizeof opts / sizeof opts[0],
        add ? "  tern group add-replica --broker 127.0.0.1:10911 --id 4 --address 127.0.0.1:10942\n"
            : "  tern group remove-replica --broker 127.0.0.1:10911 --id 3\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;
    const char *broker, *address = NULL, *idstr;
    int64_t id;
    int timeout_ms;
    if ((rv = cli_require(&cmd, "broker", &broker)) || (rv = cli_require(&cmd, "id", &idstr)) ||
        (rv = cli_get_int(&cmd, "id", 1, INT64_MAX, 0, &id)) ||
        (add && (rv = cli_require(&cmd, "address", &address))) ||
        (rv = parse_timeout(&cmd, 120, &timeout_ms)))
        return rv;
    if (!add && cli_get(&cmd, "address")) {
        fprintf(stderr, "tern: --address is for add-replica only\n");
        return CLI_EXIT_USAGE;
    }
    const char *what = add ? "add replica" : "remove replica";
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, add ? CODES_REQ_TERN_GROUP_ADD_REPLICA
                                        : CODES_REQ_TERN_GROUP_REMOVE_REPLICA);
    struct headers_group_member_req h = {.raft_id = id,
                                         .raft_address = address ? slice_of(address) : (struct slice){0}};
    if (headers_group_member_req_encode(&h, &req) != 0) {
        remoting_cmd_free(&req);
        return cli_fail(what, TERN_E_NOMEM, NULL);
    }
    struct answer a = {0};
    rv = run_op(&cmd, what, &req, timeout_ms, broker, &a);
    remoting_cmd_free(&req);
    if (rv == CLI_EXIT_OK) {
        if (add)
            printf("%s: raft member %" PRId64 " (%s) added and promoted to voter\n", a.broker_name,
                   id, address);
        else
            printf("%s: raft member %" PRId64 " removed\n", a.broker_name, id);
    }
    return rv;
}

int cli_group_add_replica(int argc, char **argv)
{
    return member_op(argc, argv, true);
}

int cli_group_remove_replica(int argc, char **argv)
{
    return member_op(argc, argv, false);
}

/* ---- tern cluster: raft section ---------------------------------------- */

struct answered {
    char addr[128];
    struct groupbody_status st;
};

static const struct answered *find_member(const struct answered *v, size_t n, const char *group,
                                          int64_t raft_id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].st.raft_id == raft_id && strcmp(v[i].st.broker_name, group) == 0)
            return &v[i];
    return NULL;
}

static void print_group(const struct answered *v, size_t n, const char *group)
{
    /* The leader's view is authoritative for the configuration and the
     * match indexes; the highest term wins if two claim leadership. */
    const struct answered *leader = NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].st.broker_name, group) == 0 && strcmp(v[i].st.role, "leader") == 0 &&
            (!leader || v[i].st.term > leader->st.term))
            leader = &v[i];
    if (leader)
        printf("%-16s %-6" PRId64 " %-8" PRIu64 " %-12" PRIu64 " %" PRIu64 "\n", group,
               leader->st.raft_id, leader->st.term, leader->st.commit_index, leader->st.last_index);
    else
        printf("%-16s %-6s %-8s %-12s %s\n", group, "none", "-", "-", "-");
    printf("  %-6s %-8s %-10s %-22s %-22s %-10s %-10s %s\n", "MEMBER", "ROLE", "STATE", "BROKER",
           "RAFT ADDRESS", "APPLIED", "MATCH", "LAG");
    /* Members: the leader's configuration, then anyone else answering for
     * this group (a joining member not added yet, or all without a leader). */
    int64_t shown[GROUPBODY_MAX_MEMBERS * 4];
    size_t nshown = 0;
    unsigned nconf = leader ? leader->st.n_members : 0;
    for (size_t k = 0; k < nconf + n; k++) {
        int64_t id;
        const struct groupbody_member *m = NULL;
        const struct answered *a;
        if (k < nconf) {
            m = &leader->st.members[k];
            id = m->raft_id;
            a = find_member(v, n, group, id);
        } else {
            a = &v[k - nconf];
            if (strcmp(a->st.broker_name, group) != 0 || a->st.raft_id == 0)
                continue;
            id = a->st.raft_id;
        }
        bool dup = false;
        for (size_t j = 0; j < nshown; j++)
            dup = dup || shown[j] == id;
        if (dup || nshown == sizeof shown / sizeof shown[0])
            continue;
        shown[nshown++] = id;
        char applied[24] = "-", match[24] = "-", lag[24] = "-";
        if (a)
            snprintf(applied, sizeof applied, "%" PRIu64, a->st.last_applied);
        if (m && m->has_match)
            snprintf(match, sizeof match, "%" PRIu64, m->match_index);
        /* Lag: committed entries this member has not applied yet (from its
         * own answer), else not yet replicated to it (leader's match). */
        if (leader && a)
            snprintf(lag, sizeof lag, "%" PRIu64,
                     leader->st.commit_index > a->st.last_applied
                         ? leader->st.commit_index - a->st.last_applied
                         : 0);
        else if (leader && m && m->has_match)
            snprintf(lag, sizeof lag, "%" PRIu64,
                     leader->st.last_index > m->match_index ? leader->st.last_index - m->match_index
                                                            : 0);
        printf("  %-6" PRId64 " %-8s %-10s %-22s %-22s %-10s %-10s %s\n", id,
               m ? m->role : "(none)", a ? a->st.role : "unreachable", a ? a->addr : "-",
               m ? m->raft_address : a->st.raft_address, applied, match, lag);
    }
}

void cli_group_print_status(struct tern_sync *s, const struct tern_cluster_info *ci)
{
    size_t naddr = 0;
    for (size_t i = 0; i < ci->broker_count; i++)
        naddr += ci->brokers[i].addr_count;
    if (naddr == 0)
        return;
    struct answered *v = calloc(naddr, sizeof *v);
    struct cli_rpc *r = NULL;
    if (!v || cli_rpc_open(s, &r) != 0) {
        free(v);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < ci->broker_count; i++)
        for (size_t j = 0; j < ci->brokers[i].addr_count; j++) {
            const char *addr = ci->brokers[i].addrs[j].addr;
            bool seen = false;
            for (size_t k = 0; k < n; k++)
                seen = seen || strcmp(v[k].addr, addr) == 0;
            if (seen)
                continue;
            struct remoting_cmd req;
            remoting_cmd_init(&req);
            remoting_cmd_init_request(&req, CODES_REQ_TERN_GROUP_STATUS);
            struct answer a = {.status = &v[n].st};
            char errmsg[TERN_ERRMSG_SIZE];
            int err = cli_rpc_request(r, addr, &req, STATUS_TIMEOUT_MS, answer_cb, &a, errmsg);
            remoting_cmd_free(&req);
            /* Not answering (down, a stock RocketMQ broker): left out. */
            if (err || a.code != CODES_RESP_SUCCESS || a.decode_err) {
                if (a.decode_err)
                    fprintf(stderr, "tern: %s: %s\n", addr, a.errmsg);
                memset(&v[n].st, 0, sizeof v[n].st);
                continue;
            }
            if (v[n].st.raft_id == 0)
                continue;
            snprintf(v[n].addr, sizeof v[n].addr, "%s", addr);
            n++;
        }
    cli_rpc_close(r);
    if (n > 0) {
        printf("\n%-16s %-6s %-8s %-12s %s\n", "RAFT GROUP", "LEADER", "TERM", "COMMIT INDEX",
               "LAST INDEX");
        for (size_t i = 0; i < n; i++) {
            bool first = true;
            for (size_t k = 0; k < i; k++)
                first = first && strcmp(v[k].st.broker_name, v[i].st.broker_name) != 0;
            if (first)
                print_group(v, n, v[i].st.broker_name);
        }
    }
    free(v);
}
