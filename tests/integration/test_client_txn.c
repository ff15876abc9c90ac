/* Integration: transactional half messages (broker/TRANSACTIONS.md) with
 * libtern against a real tern-namesrv and tern-broker.
 *  - committed: visible once in its real topic with the original body, keys,
 *    tags and user properties, sysFlag COMMIT, no TRAN_MSG/REAL_* left, and
 *    never checked back;
 *  - rolled back: never visible, never checked back;
 *  - unknown: the broker checks back (CHECK_IMMUNITY_TIME_IN_SECONDS=1
 *    honoured) and the check's commit makes it visible once;
 *  - producer killed with kill -9 (the `tern` CLI, --txn unknown): the check
 *    goes to another live producer of the group, whose commit makes the
 *    message visible once;
 *  - END_TRANSACTION on the wire: malformed or wrong headers get
 *    INVALID_PARAMETER / SYSTEM_ERROR with a remark naming the problem; a
 *    duplicate commit and a rollback after the commit succeed and change
 *    nothing; a batch of half messages is refused with MESSAGE_ILLEGAL. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/batch.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/msgid.h"
#include "protocol/properties.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/tern.h"
#include "tests/lib/cluster.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/testlib.h"

#define GROUP "txn-test-group"

static struct testcluster tc;

static struct tern_sync *open_sync(void)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = tc.ns_addr;
    o.client_ip = "127.0.0.1";
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    if (tern_sync_open(&o, &s, err) != 0)
        fail_msg("tern_sync_open: %s", err);
    return s;
}

static void create_topic(const char *topic)
{
    struct tern_sync *s = open_sync();
    const struct tern_cluster_info *ci = NULL;
    int64_t deadline = clock_mono_ms() + 15000;
    while ((tern_sync_cluster_info(s, &ci) != 0 || ci->broker_count == 0) && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    struct tern_topic_opts to = {.topic = topic, .read_queues = 1, .write_queues = 1};
    if (tern_sync_create_topic(s, &to) != 0)
        fail_msg("create %s: %s", topic, tern_sync_errmsg(s));
    const struct tern_route *r = NULL;
    while (tern_sync_topic_route(s, topic, &r) != 0 && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_non_null(r);
    tern_sync_close(s);
}

static int setup(void **state)
{
    (void)state;
    testcluster_start(&tc, "client-txn");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcluster_stop(&tc);
    return 0;
}

/* ---- a transactional producer under test ---- */

struct tx {
    struct tern_sync *s;
    struct tern_txn_producer *tp;
    enum tern_txn_state local;  /* what the local transaction answers */
    enum tern_txn_state answer; /* what a check answers */
    int sent, failed;
    struct tern_send_result res;
    char msg_id[64], offset_msg_id[64], broker[64];
    int checks;
    char checked_body[64], checked_topic[64], checked_id[64];
};

static enum tern_txn_state local_cb(const struct tern_send_result *res, void *arg)
{
    struct tx *t = arg;
    snprintf(t->msg_id, sizeof t->msg_id, "%s", res->msg_id);
    return t->local;
}

static enum tern_txn_state check_cb(const struct tern_msg *m, void *arg)
{
    struct tx *t = arg;
    size_t n;
    const char *body = tern_msg_body(m, &n);
    snprintf(t->checked_body, sizeof t->checked_body, "%.*s", (int)n, body);
    snprintf(t->checked_topic, sizeof t->checked_topic, "%s", tern_msg_topic(m));
    snprintf(t->checked_id, sizeof t->checked_id, "%s", tern_msg_id(m));
    t->checks++;
    return t->answer;
}

static void sent_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct tx *t = arg;
    if (err) {
        print_error("txn send failed: %s\n", errmsg);
        t->failed++;
        return;
    }
    t->res = *res;
    snprintf(t->offset_msg_id, sizeof t->offset_msg_id, "%s", res->offset_msg_id);
    snprintf(t->broker, sizeof t->broker, "%s", res->broker_name);
    t->sent++;
}

static void tx_open(struct tx *t)
{
    memset(t, 0, sizeof *t);
    t->s = open_sync();
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = GROUP;
    assert_int_equal(tern_txn_producer_new(tern_sync_client(t->s), &po, check_cb, t, &t->tp), 0);
    t->answer = TERN_TXN_COMMIT;
}

static void run_ms(struct tern_sync *s, int64_t ms)
{
    int64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end)
        tern_sync_run(s, end - clock_mono_ms());
}

static void tx_send(struct tx *t, const char *topic, const char *body, const char *immunity_s)
{
    struct tern_prop props[2] = {{"color", "blue"}, {"CHECK_IMMUNITY_TIME_IN_SECONDS", immunity_s}};
    struct tern_send_msg m = {
        .topic = topic,
        .body = body,
        .body_len = strlen(body),
        .tags = "tg",
        .keys = "k1 k2",
        .props = props,
        .prop_count = immunity_s ? 2 : 1,
        .use_queue_id = true,
        .queue_id = 0,
    };
    int want = t->sent + 1;
    assert_int_equal(tern_txn_producer_send(t->tp, &m, local_cb, sent_cb, t), 0);
    int64_t deadline = clock_mono_ms() + 10000;
    while (t->sent < want && t->failed == 0 && clock_mono_ms() < deadline)
        tern_sync_run(t->s, 100);
    assert_int_equal(t->failed, 0);
    assert_int_equal(t->sent, want);
}

/* Messages visible in queue 0 of topic (pulled from offset 0). */
struct seen {
    int n;
    char body[8][64];
    char id[8][64];
    const struct tern_msg *last; /* valid only inside the pull */
    int sysflag;
    bool props_ok;
};

static void pull_cb(int err, const char *errmsg, const struct tern_pull_result *res, void *arg)
{
    (void)errmsg;
    struct seen *sn = arg;
    if (err || res->status != TERN_PULL_FOUND)
        return;
    for (size_t i = 0; i < res->n && sn->n < 8; i++) {
        const struct tern_msg *m = res->msgs[i];
        size_t n;
        const char *b = tern_msg_body(m, &n);
        snprintf(sn->body[sn->n], 64, "%.*s", (int)n, b);
        snprintf(sn->id[sn->n], 64, "%s", tern_msg_id(m));
        sn->sysflag = tern_msg_sysflag(m);
        const char *color = tern_msg_property(m, "color");
        sn->props_ok = color && strcmp(color, "blue") == 0 && strcmp(tern_msg_tags(m), "tg") == 0 &&
                       strcmp(tern_msg_keys(m), "k1 k2") == 0 && !tern_msg_property(m, "TRAN_MSG") &&
                       !tern_msg_property(m, "REAL_TOPIC") && !tern_msg_property(m, "REAL_QID");
        sn->n++;
    }
}

static struct seen visible(struct tern_sync *s, const char *topic)
{
    struct seen sn;
    memset(&sn, 0, sizeof sn);
    bool done = false;
    struct tern_client *c = tern_sync_client(s);
    (void)done;
    assert_int_equal(tern_client_pull(c, "txn-checker", topic, "broker-a", 0, 0, 32, NULL, pull_cb, &sn), 0);
    run_ms(s, 300);
    return sn;
}

static struct seen wait_visible(struct tern_sync *s, const char *topic, int n, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    struct seen sn;
    do {
        sn = visible(s, topic);
    } while (sn.n < n && clock_mono_ms() < deadline);
    return sn;
}

/* ---- tests ---- */

static void test_commit_visible_once(void **state)
{
    (void)state;
    create_topic("TxnCommit");
    struct tx t;
    tx_open(&t);
    t.local = TERN_TXN_COMMIT;
    tx_send(&t, "TxnCommit", "commit-body", "1");
    struct seen sn = wait_visible(t.s, "TxnCommit", 1, 10000);
    assert_int_equal(sn.n, 1);
    assert_string_equal(sn.body[0], "commit-body");
    assert_string_equal(sn.id[0], t.msg_id);
    assert_true(sn.props_ok);
    assert_int_equal(sn.sysflag & 0xC, 0x8); /* TRANSACTION_COMMIT_TYPE */
    /* Past the 1 s immunity: still exactly once, and never checked back. */
    run_ms(t.s, 2500);
    sn = visible(t.s, "TxnCommit");
    assert_int_equal(sn.n, 1);
    assert_int_equal(t.checks, 0);
    tern_sync_close(t.s);
}

static void test_rollback_never_visible(void **state)
{
    (void)state;
    create_topic("TxnRollback");
    struct tx t;
    tx_open(&t);
    t.local = TERN_TXN_ROLLBACK;
    tx_send(&t, "TxnRollback", "rollback-body", "1");
    run_ms(t.s, 3000);
    struct seen sn = visible(t.s, "TxnRollback");
    assert_int_equal(sn.n, 0);
    assert_int_equal(t.checks, 0);
    int64_t max = -1;
    assert_int_equal(tern_sync_max_offset(t.s, "TxnRollback", "broker-a", 0, &max), 0);
    assert_int_equal(max, 0);
    tern_sync_close(t.s);
}

static void test_unknown_resolved_by_check(void **state)
{
    (void)state;
    create_topic("TxnCheck");
    struct tx t;
    tx_open(&t);
    t.local = TERN_TXN_UNKNOWN;
    t.answer = TERN_TXN_COMMIT;
    int64_t t0 = clock_mono_ms();
    tx_send(&t, "TxnCheck", "check-body", "1");
    /* Not visible before the decision. */
    struct seen sn = visible(t.s, "TxnCheck");
    assert_int_equal(sn.n, 0);
    sn = wait_visible(t.s, "TxnCheck", 1, 15000);
    assert_int_equal(sn.n, 1);
    assert_string_equal(sn.body[0], "check-body");
    assert_true(sn.props_ok);
    assert_true(t.checks >= 1);
    assert_string_equal(t.checked_body, "check-body");
    assert_string_equal(t.checked_topic, "TxnCheck"); /* the real topic, not the half topic */
    assert_string_equal(t.checked_id, t.msg_id);
    /* The immunity property (1 s) was honoured, not the 6 s default. */
    assert_true(clock_mono_ms() - t0 < 5500);
    run_ms(t.s, 1500);
    assert_int_equal(visible(t.s, "TxnCheck").n, 1);
    tern_sync_close(t.s);
}

static void test_dead_producer_resolved_by_another(void **state)
{
    (void)state;
    create_topic("TxnDead");
    /* B: a live producer of the group, registered by one committed send. */
    struct tx b;
    tx_open(&b);
    b.local = TERN_TXN_COMMIT;
    b.answer = TERN_TXN_COMMIT;
    tx_send(&b, "TxnDead", "b-own", NULL);
    assert_int_equal(wait_visible(b.s, "TxnDead", 1, 10000).n, 1);

    /* A: the CLI leaves its transaction unknown and is killed before the
     * broker's first check (transactionTimeOut 6 s). */
    char bin[600], logp[700];
    snprintf(logp, sizeof logp, "%s/cli-a.log", tc.dir);
    const char *argv[] = {proc_bin("tern", bin, sizeof bin), "produce", "--namesrv", tc.ns_addr, "--topic",
                          "TxnDead", "--group", GROUP, "--txn", "unknown", "--count", "1", "--size", "16",
                          "--queue", "0", NULL};
    struct proc a;
    memset(&a, 0, sizeof a);
    proc_start(&a, argv, logp);
    run_ms(b.s, 2000);
    assert_true(a.pid != 0);
    proc_kill9(&a);
    proc_release(&a);

    struct seen sn = wait_visible(b.s, "TxnDead", 2, 20000);
    assert_int_equal(sn.n, 2);
    assert_string_equal(sn.body[0], "b-own");
    assert_memory_equal(sn.body[1], "0000000000", 10); /* the CLI's generated body */
    assert_true(b.checks >= 1);
    assert_memory_equal(b.checked_body, "0000000000", 10);
    run_ms(b.s, 1000);
    assert_int_equal(visible(b.s, "TxnDead").n, 2);
    tern_sync_close(b.s);
}

static int end_call(struct rpcsync *r, const char *group, const int64_t *table_off, const int64_t *commit_off,
                    int decision, const char *msg_id)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_END_TRANSACTION);
    if (group)
        remoting_ext_set_str(&req, "producerGroup", group);
    if (table_off)
        remoting_ext_set_int(&req, "tranStateTableOffset", *table_off);
    if (commit_off)
        remoting_ext_set_int(&req, "commitLogOffset", *commit_off);
    remoting_ext_set_int(&req, "commitOrRollback", decision);
    remoting_ext_set_bool(&req, "fromTransactionCheck", false);
    if (msg_id)
        remoting_ext_set_str(&req, "msgId", msg_id);
    assert_int_equal(rpcsync_call(r, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    return r->resp.code;
}

static bool remark_has(const struct rpcsync *r, const char *s)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)r->resp.remark.len, r->resp.remark.p ? r->resp.remark.p : "");
    if (!strstr(buf, s)) {
        print_error("remark '%s' lacks '%s'\n", buf, s);
        return false;
    }
    return true;
}

static void test_end_transaction_wire(void **state)
{
    (void)state;
    create_topic("TxnWire");
    struct tx t;
    tx_open(&t);
    t.local = TERN_TXN_UNKNOWN;
    t.answer = TERN_TXN_UNKNOWN;
    tx_send(&t, "TxnWire", "wire-body", "600"); /* no check-back during this test */
    int64_t table = t.res.queue_offset, phys;
    struct msg_host host;
    char err[ERRMSG_SIZE];
    assert_int_equal(msgid_offset_decode(t.offset_msg_id, strlen(t.offset_msg_id), &host, &phys, err), 0);
    /* A plain message's offset, to name something that is not a half message. */
    struct tern_producer *pp;
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "plain";
    assert_int_equal(tern_sync_producer(t.s, &po, &pp), 0);
    struct tern_send_msg pm = {.topic = "TxnWire", .body = "plain", .body_len = 5, .use_queue_id = true};
    struct tern_send_result pr;
    assert_int_equal(tern_sync_send(t.s, pp, &pm, &pr), 0);
    int64_t plain_phys;
    assert_int_equal(msgid_offset_decode(pr.offset_msg_id, strlen(pr.offset_msg_id), &host, &plain_phys, err), 0);

    struct rpcsync r;
    rpcsync_open(&r, tc.broker_addr);
    int64_t wrong_table = table + 7;
    assert_int_equal(end_call(&r, GROUP, &table, NULL, 8, t.msg_id), CODES_RESP_INVALID_PARAMETER);
    assert_true(remark_has(&r, "commitLogOffset"));
    assert_int_equal(end_call(&r, NULL, &table, &phys, 8, t.msg_id), CODES_RESP_INVALID_PARAMETER);
    assert_true(remark_has(&r, "producerGroup"));
    assert_int_equal(end_call(&r, GROUP, &table, &phys, 5, t.msg_id), CODES_RESP_INVALID_PARAMETER);
    assert_true(remark_has(&r, "commitOrRollback"));
    assert_int_equal(end_call(&r, GROUP, &wrong_table, &phys, 8, t.msg_id), CODES_RESP_INVALID_PARAMETER);
    assert_true(remark_has(&r, "state table offset wrong"));
    assert_int_equal(end_call(&r, GROUP, &table, &plain_phys, 8, t.msg_id), CODES_RESP_SYSTEM_ERROR);
    assert_true(remark_has(&r, "not a half message"));
    int64_t beyond = phys + 1000, beyond_table = table + 1000;
    assert_int_equal(end_call(&r, GROUP, &beyond_table, &beyond, 8, t.msg_id), CODES_RESP_SYSTEM_ERROR);
    assert_true(remark_has(&r, "no half message"));
    assert_int_equal(end_call(&r, "other-group", &table, &phys, 8, t.msg_id), CODES_RESP_SYSTEM_ERROR);
    assert_true(remark_has(&r, "producer group wrong"));
    /* Unknown: accepted, left for the check-back. */
    assert_int_equal(end_call(&r, GROUP, &table, &phys, 0, t.msg_id), CODES_RESP_SUCCESS);
    assert_int_equal(visible(t.s, "TxnWire").n, 1); /* the plain one only */

    /* The commit, then a duplicate and a late rollback: nothing changes. */
    assert_int_equal(end_call(&r, GROUP, &table, &phys, 8, t.msg_id), CODES_RESP_SUCCESS);
    assert_int_equal(r.resp.remark.len, 0);
    struct seen sn = wait_visible(t.s, "TxnWire", 2, 5000);
    assert_int_equal(sn.n, 2);
    assert_string_equal(sn.body[1], "wire-body");
    assert_int_equal(end_call(&r, GROUP, &table, &phys, 8, t.msg_id), CODES_RESP_SUCCESS);
    assert_true(remark_has(&r, "already decided"));
    assert_int_equal(end_call(&r, GROUP, &table, &phys, 12, t.msg_id), CODES_RESP_SUCCESS);
    assert_true(remark_has(&r, "already decided"));
    run_ms(t.s, 500);
    assert_int_equal(visible(t.s, "TxnWire").n, 2);
    int64_t max = -1;
    assert_int_equal(tern_sync_max_offset(t.s, "TxnWire", "broker-a", 0, &max), 0);
    assert_int_equal(max, 2);

    /* Batches cannot be transactional (as in RocketMQ). */
    struct buf body, props;
    buf_init(&body);
    buf_init(&props);
    properties_append(&props, MSG_PROP_TRAN_MSG, "true", 4);
    properties_append(&props, MSG_PROP_PGROUP, GROUP, strlen(GROUP));
    for (int i = 0; i < 2; i++)
        assert_int_equal(batch_encode_item(&body, 0, "b", 1, (const char *)props.data, props.len), 0);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_SEND_BATCH_MESSAGE);
    struct headers_send_req h = {
        .producer_group = slice_of(GROUP), .topic = slice_of("TxnWire"), .default_topic = slice_of("TBW102"),
        .default_topic_queue_nums = 1, .queue_id = 0, .sys_flag = 0x4, .born_timestamp = clock_now_ms(),
        .has_batch = true, .batch = true,
    };
    assert_int_equal(headers_send_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(&r, &req, body.data, body.len, 10000), 0);
    assert_int_equal(r.resp.code, CODES_RESP_MESSAGE_ILLEGAL);
    assert_true(remark_has(&r, "does not support transaction"));
    remoting_cmd_free(&req);
    buf_free(&body);
    buf_free(&props);
    assert_int_equal(tern_sync_max_offset(t.s, "TxnWire", "broker-a", 0, &max), 0);
    assert_int_equal(max, 2);

    rpcsync_close(&r);
    tern_sync_close(t.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_visible_once),
        cmocka_unit_test(test_rollback_never_visible),
        cmocka_unit_test(test_unknown_resolved_by_check),
        cmocka_unit_test(test_dead_producer_resolved_by_another),
        cmocka_unit_test(test_end_transaction_wire),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
