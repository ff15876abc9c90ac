/* Unit tests for the raft group operations' headers and the TERN_GROUP_STATUS
 * body (PROTOCOL.md §4.6). */
#include <stdio.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/groupbody.h"
#include "protocol/headers.h"
#include "protocol/remoting.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

/* Encode cmd in wire form ser (0 JSON, 1 binary) and decode it into out. */
static void wire(struct remoting_cmd *cmd, int ser, struct remoting_cmd *out, struct buf *frame)
{
    char errmsg[ERRMSG_SIZE];
    cmd->serialize = (uint8_t)ser;
    buf_reset(frame);
    assert_int_equal(remoting_encode(cmd, 0, frame), 0);
    assert_int_equal(remoting_decode(out, frame->data, frame->len, &limits_default, errmsg), 0);
}

/* §4.6: the three headers survive both wire forms; absent optional fields
 * stay absent; a required field missing or mistyped is MALFORMED by name. */
static void test_group_headers(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c, d;
    struct buf frame;
    remoting_cmd_init(&c);
    remoting_cmd_init(&d);
    buf_init(&frame);
    for (int ser = 0; ser <= 1; ser++) {
        /* transfer: with and without a target */
        remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_TRANSFER_LEADER);
        struct headers_group_transfer_req t = {.has_to = true, .to = 3}, t2;
        assert_int_equal(headers_group_transfer_req_encode(&t, &c), 0);
        wire(&c, ser, &d, &frame);
        assert_int_equal(d.code, 9001);
        assert_int_equal(headers_group_transfer_req_decode(&t2, &d, &limits_default, errmsg), 0);
        assert_true(t2.has_to);
        assert_int_equal(t2.to, 3);
        remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_TRANSFER_LEADER);
        t.has_to = false;
        assert_int_equal(headers_group_transfer_req_encode(&t, &c), 0);
        assert_int_equal(c.n_ext, 0);
        wire(&c, ser, &d, &frame);
        assert_int_equal(headers_group_transfer_req_decode(&t2, &d, &limits_default, errmsg), 0);
        assert_false(t2.has_to);

        /* member */
        remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_ADD_REPLICA);
        struct headers_group_member_req m = {.raft_id = 4, .raft_address = slice_of("127.0.0.1:10942")}, m2;
        assert_int_equal(headers_group_member_req_encode(&m, &c), 0);
        wire(&c, ser, &d, &frame);
        assert_int_equal(headers_group_member_req_decode(&m2, &d, &limits_default, errmsg), 0);
        assert_int_equal(m2.raft_id, 4);
        assert_true(slice_eq(m2.raft_address, "127.0.0.1:10942"));
        remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_REMOVE_REPLICA);
        m.raft_address = (struct slice){0};
        assert_int_equal(headers_group_member_req_encode(&m, &c), 0);
        wire(&c, ser, &d, &frame);
        assert_int_equal(headers_group_member_req_decode(&m2, &d, &limits_default, errmsg), 0);
        assert_null(m2.raft_address.p);

        /* response */
        remoting_cmd_init_response(&c, &d, CODES_RESP_SERVICE_NOT_AVAILABLE, "not the leader");
        struct headers_group_resp r = {.broker_name = slice_of("broker-a"),
                                       .has_leader_id = true,
                                       .leader_id = 2,
                                       .leader_address = slice_of("127.0.0.1:10922")},
                                  r2;
        assert_int_equal(headers_group_resp_encode(&r, &c), 0);
        wire(&c, ser, &d, &frame);
        assert_int_equal(headers_group_resp_decode(&r2, &d, &limits_default, errmsg), 0);
        assert_true(slice_eq(r2.broker_name, "broker-a"));
        assert_true(r2.has_leader_id);
        assert_int_equal(r2.leader_id, 2);
        assert_true(slice_eq(r2.leader_address, "127.0.0.1:10922"));
    }
    /* raftId is required and must be a number. */
    remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_REMOVE_REPLICA);
    struct headers_group_member_req m;
    assert_int_equal(headers_group_member_req_decode(&m, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "group member header: missing 'raftId'"));
    remoting_ext_set_str(&c, "raftId", "4x");
    assert_int_equal(headers_group_member_req_decode(&m, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "raftId"));
    remoting_cmd_init_request(&c, CODES_REQ_TERN_GROUP_TRANSFER_LEADER);
    remoting_ext_set_str(&c, "to", "");
    struct headers_group_transfer_req t;
    assert_int_equal(headers_group_transfer_req_decode(&t, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    remoting_cmd_free(&c);
    remoting_cmd_free(&d);
    buf_free(&frame);
}

static void sample(struct groupbody_status *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->broker_name, "broker-a");
    strcpy(s->broker_addr, "127.0.0.1:10911");
    s->raft_id = 1;
    strcpy(s->raft_address, "127.0.0.1:10912");
    strcpy(s->role, "leader");
    s->ready = true;
    s->term = 7;
    s->commit_index = 1234;
    s->last_applied = 1234;
    s->last_index = 1236;
    s->leader_id = 1;
    strcpy(s->leader_address, "127.0.0.1:10912");
    s->n_members = 3;
    for (unsigned i = 0; i < 3; i++) {
        s->members[i].raft_id = i + 1;
        snprintf(s->members[i].raft_address, sizeof s->members[i].raft_address, "127.0.0.1:109%u2",
                 i + 1);
        strcpy(s->members[i].role, i == 2 ? "standby" : "voter");
        s->members[i].has_match = i != 1;
        s->members[i].match_index = 1000 + i;
    }
}

static void assert_same(const struct groupbody_status *a, const struct groupbody_status *b)
{
    assert_string_equal(a->broker_name, b->broker_name);
    assert_string_equal(a->broker_addr, b->broker_addr);
    assert_int_equal(a->raft_id, b->raft_id);
    assert_string_equal(a->raft_address, b->raft_address);
    assert_string_equal(a->role, b->role);
    assert_int_equal(a->ready, b->ready);
    assert_int_equal(a->term, b->term);
    assert_int_equal(a->commit_index, b->commit_index);
    assert_int_equal(a->last_applied, b->last_applied);
    assert_int_equal(a->last_index, b->last_index);
    assert_int_equal(a->leader_id, b->leader_id);
    assert_string_equal(a->leader_address, b->leader_address);
    assert_int_equal(a->n_members, b->n_members);
    for (unsigned i = 0; i < a->n_members; i++) {
        assert_int_equal(a->members[i].raft_id, b->members[i].raft_id);
        assert_string_equal(a->members[i].raft_address, b->members[i].raft_address);
        assert_string_equal(a->members[i].role, b->members[i].role);
        assert_int_equal(a->members[i].has_match, b->members[i].has_match);
        if (a->members[i].has_match)
            assert_int_equal(a->members[i].match_index, b->members[i].match_index);
    }
}

/* §4.6: byte-exact JSON, and decode(encode(s)) == s. */
static void test_status_roundtrip(void **state)
{
    (void)state;
    static struct groupbody_status s, t;
    char errmsg[ERRMSG_SIZE];
    struct buf b;
    buf_init(&b);
    sample(&s);
    s.n_members = 1;
    assert_int_equal(groupbody_encode(&s, &b), 0);
    const char *want =
        "{\"brokerName\":\"broker-a\",\"brokerAddr\":\"127.0.0.1:10911\",\"raftId\":1,"
        "\"raftAddress\":\"127.0.0.1:10912\",\"role\":\"leader\",\"ready\":true,\"term\":7,"
        "\"commitIndex\":1234,\"lastApplied\":1234,\"lastIndex\":1236,\"leaderId\":1,"
        "\"leaderRaftAddress\":\"127.0.0.1:10912\",\"members\":[{\"raftId\":1,"
        "\"raftAddress\":\"127.0.0.1:10912\",\"role\":\"voter\",\"matchIndex\":1000}]}";
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fail_msg("got  %.*s\nwant %s", (int)b.len, (const char *)b.data, want);

    sample(&s);
    buf_reset(&b);
    assert_int_equal(groupbody_encode(&s, &b), 0);
    assert_int_equal(groupbody_decode((const char *)b.data, b.len, &t, errmsg), 0);
    assert_same(&s, &t);
    assert_false(t.members[1].has_match);

    /* An unreplicated broker: role none, no members. */
    memset(&s, 0, sizeof s);
    strcpy(s.broker_name, "b");
    strcpy(s.role, "none");
    buf_reset(&b);
    assert_int_equal(groupbody_encode(&s, &b), 0);
    assert_int_equal(groupbody_decode((const char *)b.data, b.len, &t, errmsg), 0);
    assert_same(&s, &t);
    buf_free(&b);
}

/* Bad bodies are MALFORMED with a message naming the field, and leave *s zeroed. */
static void test_status_malformed(void **state)
{
    (void)state;
    static struct groupbody_status s;
    char errmsg[ERRMSG_SIZE];
    const char *base = "\"brokerName\":\"a\",\"brokerAddr\":\"x\",\"raftId\":1,\"raftAddress\":\"y\","
                       "\"ready\":false,\"term\":1,\"commitIndex\":1,\"lastApplied\":1,\"lastIndex\":1,"
                       "\"leaderId\":0,\"leaderRaftAddress\":\"\"";
    struct {
        const char *tail; /* after base; NULL: the whole body is `raw` */
        const char *raw;
        const char *want;
    } cases[] = {
        {NULL, "{", "bad JSON"},
        {NULL, "[1]", "expected a JSON object"},
        {NULL, "{\"brokerName\":\"a\"}", "brokerAddr: missing"},
        {",\"role\":\"boss\",\"members\":[]}", NULL, "role: unknown 'boss'"},
        {",\"role\":7,\"members\":[]}", NULL, "role: expected a string"},
        {",\"role\":\"leader\"}", NULL, "members: expected an array"},
        {",\"role\":\"leader\",\"members\":[1]}", NULL, "members[0]: expected an object"},
        {",\"role\":\"leader\",\"members\":[{\"raftId\":0,\"raftAddress\":\"a\",\"role\":\"voter\"}]}", NULL,
         "members[0].raftId: must be > 0"},
        {",\"role\":\"leader\",\"members\":[{\"raftId\":2,\"raftAddress\":\"a\",\"role\":\"king\"}]}", NULL,
         "members[0].role: unknown 'king'"},
        {",\"role\":\"leader\",\"members\":[{\"raftId\":2,\"raftAddress\":\"a\",\"role\":\"voter\","
         "\"matchIndex\":-1}]}",
         NULL, "members[0].matchIndex: expected a non-negative integer"},
        {",\"role\":\"leader\",\"members\":[{\"raftId\":2,\"role\":\"voter\"}]}", NULL,
         "members[0].raftAddress: missing"},
    };
    char json[2048];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].raw)
            snprintf(json, sizeof json, "%s", cases[i].raw);
        else
            snprintf(json, sizeof json, "{%s%s", base, cases[i].tail);
        memset(&s, 0x55, sizeof s);
        errmsg[0] = '\0';
        int rc = groupbody_decode(json, strlen(json), &s, errmsg);
        if (rc != TERN_E_MALFORMED || !strstr(errmsg, cases[i].want))
            fail_msg("case %zu: rc %d, errmsg \"%s\", want \"%s\"", i, rc, errmsg, cases[i].want);
        assert_int_equal(s.n_members, 0);
        assert_int_equal(s.raft_id, 0);
    }

    /* A negative term, a missing ready, a string longer than its field. */
    snprintf(json, sizeof json,
             "{\"brokerName\":\"a\",\"brokerAddr\":\"x\",\"raftId\":1,\"raftAddress\":\"y\",\"role\":"
             "\"leader\",\"ready\":true,\"term\":-2,\"commitIndex\":1,\"lastApplied\":1,\"lastIndex\":1,"
             "\"leaderId\":0,\"leaderRaftAddress\":\"\",\"members\":[]}");
    assert_int_equal(groupbody_decode(json, strlen(json), &s, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "term: expected a non-negative integer"));
    snprintf(json, sizeof json, "{%s,\"role\":\"leader\",\"members\":[]}", base);
    char *ready = strstr(json, "\"ready\":false,");
    memmove(ready, ready + 14, strlen(ready + 14) + 1);
    assert_int_equal(groupbody_decode(json, strlen(json), &s, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "ready: expected a boolean"));
    char longaddr[200];
    memset(longaddr, '9', sizeof longaddr - 1);
    longaddr[sizeof longaddr - 1] = '\0';
    snprintf(json, sizeof json,
             "{\"brokerName\":\"a\",\"brokerAddr\":\"%s\",\"raftId\":1,\"raftAddress\":\"y\",\"role\":"
             "\"leader\",\"ready\":true,\"term\":2,\"commitIndex\":1,\"lastApplied\":1,\"lastIndex\":1,"
             "\"leaderId\":0,\"leaderRaftAddress\":\"\",\"members\":[]}",
             longaddr);
    assert_int_equal(groupbody_decode(json, strlen(json), &s, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "brokerAddr: longer than 63 bytes"));

    /* More members than GROUPBODY_MAX_MEMBERS. */
    int n = snprintf(json, sizeof json, "{%s,\"role\":\"leader\",\"members\":[", base);
    for (int i = 0; i <= GROUPBODY_MAX_MEMBERS; i++)
        n += snprintf(json + n, sizeof json - (size_t)n,
                      "%s{\"raftId\":%d,\"raftAddress\":\"a\",\"role\":\"voter\"}", i ? "," : "", i + 1);
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    assert_int_equal(groupbody_decode(json, strlen(json), &s, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "members: more than 16"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_headers),
        cmocka_unit_test(test_status_roundtrip),
        cmocka_unit_test(test_status_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
