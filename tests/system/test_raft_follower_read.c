/* System: follower reads in a three-member Raft broker group (real
 * processes on loopback). A follower serves pulls up to its applied end,
 * byte-identical to the leader's answer; it suggests itself as the broker to
 * keep pulling from (suggestWhichBrokerId = its member id; the leader says
 * 0); a pull past a follower's applied end is PULL_NOT_FOUND keeping the
 * consumer's offset (never OFFSET_MOVED back to the follower's end, which
 * the leader answers for a truly bad offset); a suspended pull held at a
 * follower's end is answered when the next committed message is applied. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/limits.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define N_MSGS 50
#define TOPIC "FollowerRead"

static char dir[512];
static struct proc member[3];
static int bport[3], rport[3];

static void start_members(void)
{
    char bin[512], peers[256];
    proc_bin("tern-broker", bin, sizeof bin);
    for (int i = 0; i < 3; i++) {
        bport[i] = proc_free_port(true);
        rport[i] = proc_free_port(false);
    }
    snprintf(peers, sizeof peers, "raftPeers=1@127.0.0.1:%d;2@127.0.0.1:%d;3@127.0.0.1:%d", rport[0], rport[1],
             rport[2]);
    for (int i = 0; i < 3; i++) {
        char log[700], set_port[64], set_dir[700], set_id[32], set_raddr[64];
        snprintf(log, sizeof log, "%s/b%d.log", dir, i + 1);
        snprintf(set_port, sizeof set_port, "listenPort=%d", bport[i]);
        snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/b%d", dir, i + 1);
        snprintf(set_id, sizeof set_id, "raftId=%d", i + 1);
        snprintf(set_raddr, sizeof set_raddr, "raftAddress=127.0.0.1:%d", rport[i]);
        const char *argv[] = {bin, "--set", set_port, "--set", set_dir, "--set", "namesrvAddr=",
                              "--set", "listenHost=127.0.0.1", "--set", "brokerIP1=127.0.0.1",
                              "--set", "diskMinFreeBytes=0", "--set", "autoCreateTopicEnable=true",
                              "--set", set_id, "--set", set_raddr, "--set", peers, NULL};
        proc_start(&member[i], argv, log);
    }
    for (int i = 0; i < 3; i++)
        assert_true(proc_wait_port(bport[i], 10000));
}

static void pull_resp(const struct rpcsync *s, struct headers_pull_resp *h)
{
    char err[ERRMSG_SIZE];
    assert_int_equal(headers_pull_resp_decode(h, &s->resp, &limits_default, err), 0);
}

/* A suspended pull (the way push consumers wait at the end of a queue). */
static void pull_suspended(int64_t offset, struct remoting_cmd *req)
{
    remoting_cmd_init(req);
    remoting_cmd_init_request(req, CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {
        .consumer_group = slice_of("fr"),
        .topic = slice_of(TOPIC),
        .queue_id = 0,
        .queue_offset = offset,
        .max_msg_nums = 32,
        .sys_flag = HEADERS_PULL_FLAG_SUBSCRIPTION | HEADERS_PULL_FLAG_SUSPEND,
        .commit_offset = -1,
        .suspend_timeout_millis = 15000,
        .subscription = slice_of("*"),
        .expression_type = slice_of("TAG"),
    };
    assert_int_equal(headers_pull_req_encode(&h, req), 0);
}

static void test_follower_reads(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "raft-follower-read");
    start_members();
    struct rpcsync s[3];
    for (int i = 0; i < 3; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", bport[i]);
        rpcsync_open(&s[i], addr);
    }

    /* The ready leader is the member that takes a send (bounded wait). */
    int leader = -1;
    char body[64];
    for (int round = 0; round < 150 && leader < 0; round++) {
        for (int i = 0; i < 3 && leader < 0; i++) {
            snprintf(body, sizeof body, "fr-%d", 0);
            if (tclient_send(&s[i], TOPIC, 0, NULL, body, strlen(body), NULL) == CODES_RESP_SUCCESS)
                leader = i;
        }
        if (leader < 0)
            rpcsync_run_for(&s[0], 100);
    }
    assert_true(leader >= 0);
    for (int n = 1; n < N_MSGS; n++) {
        snprintf(body, sizeof body, "fr-%d", n);
        int64_t off = -1;
        assert_int_equal(tclient_send(&s[leader], TOPIC, 0, NULL, body, strlen(body), &off), CODES_RESP_SUCCESS);
        assert_int_equal(off, n);
    }
    /* A follower refuses sends (only the leader writes). */
    int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
    assert_int_equal(tclient_send(&s[f1], TOPIC, 0, NULL, "x", 1, NULL), CODES_RESP_SERVICE_NOT_AVAILABLE);

    /* The leader's answer, then each follower's once it has applied all. */
    assert_int_equal(tclient_pull(&s[leader], "fr", TOPIC, 0, 0, 32), CODES_RESP_SUCCESS);
    assert_int_equal(tclient_count_records(&s[leader]), 32);
    struct headers_pull_resp h;
    pull_resp(&s[leader], &h);
    assert_int_equal(h.suggest_which_broker_id, 0);
    static char lead_body[1 << 16];
    size_t lead_len = s[leader].resp.body.len;
    assert_true(lead_len < sizeof lead_body);
    memcpy(lead_body, s[leader].resp.body.p, lead_len);

    int followers[2] = {f1, f2};
    for (int k = 0; k < 2; k++) {
        int f = followers[k];
        int64_t end = 0;
        for (int i = 0; i < 100 && end < N_MSGS; i++) {
            end = tclient_queue_offset(&s[f], CODES_REQ_GET_MAX_OFFSET, TOPIC, 0);
            if (end < N_MSGS)
                rpcsync_run_for(&s[f], 50);
        }
        /* Never more than was committed (= acknowledged here). */
        assert_int_equal(end, N_MSGS);
        assert_int_equal(tclient_pull(&s[f], "fr", TOPIC, 0, 0, 32), CODES_RESP_SUCCESS);
        assert_int_equal(tclient_count_records(&s[f]), 32);
        pull_resp(&s[f], &h);
        assert_int_equal(h.suggest_which_broker_id, f + 1);
        assert_int_equal(h.next_begin_offset, 32);
        assert_int_equal(h.max_offset, N_MSGS);
        assert_int_equal(s[f].resp.body.len, lead_len);
        assert_memory_equal(s[f].resp.body.p, lead_body, lead_len);
        /* The rest, then the end. */
        assert_int_equal(tclient_pull(&s[f], "fr", TOPIC, 0, 32, 32), CODES_RESP_SUCCESS);
        assert_int_equal(tclient_count_records(&s[f]), N_MSGS - 32);
        assert_int_equal(tclient_pull(&s[f], "fr", TOPIC, 0, N_MSGS, 32), CODES_RESP_PULL_NOT_FOUND);
        /* Past the applied end: keep the consumer's offset. */
        assert_int_equal(tclient_pull(&s[f], "fr", TOPIC, 0, N_MSGS + 1000, 32), CODES_RESP_PULL_NOT_FOUND);
        pull_resp(&s[f], &h);
        assert_int_equal(h.next_begin_offset, N_MSGS + 1000);
    }
    /* The leader corrects a truly bad offset. */
    assert_int_equal(tclient_pull(&s[leader], "fr", TOPIC, 0, N_MSGS + 1000, 32), CODES_RESP_PULL_OFFSET_MOVED);
    pull_resp(&s[leader], &h);
    assert_int_equal(h.next_begin_offset, N_MSGS);

    /* A pull suspended at a follower's end is answered by the next commit:
     * a child process sends to the leader while the follower holds it. */
    struct remoting_cmd req;
    pull_suspended(N_MSGS, &req);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        usleep(500 * 1000);
        char addr[64];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", bport[leader]);
        struct rpcsync c;
        rpcsync_open(&c, addr);
        snprintf(body, sizeof body, "fr-%d", N_MSGS);
        int rc = tclient_send(&c, TOPIC, 0, NULL, body, strlen(body), NULL);
        _exit(rc == CODES_RESP_SUCCESS ? 0 : 1);
    }
    int64_t t0 = clock_mono_ms();
    int rv = rpcsync_call(&s[f1], &req, NULL, 0, 20000);
    int64_t waited = clock_mono_ms() - t0;
    int cst = 0;
    assert_int_equal(waitpid(child, &cst, 0), child);
    assert_true(WIFEXITED(cst) && WEXITSTATUS(cst) == 0);
    assert_int_equal(rv, 0);
    assert_int_equal(s[f1].resp.code, CODES_RESP_SUCCESS);
    assert_int_equal(tclient_count_records(&s[f1]), 1);
    /* Answered by the apply, not by the 15 s hold expiry. */
    assert_true(waited < 10000);
    remoting_cmd_free(&req);

    for (int i = 0; i < 3; i++)
        rpcsync_close(&s[i]);
    for (int i = 0; i < 3; i++) {
        proc_stop(&member[i], 15000);
        assert_true(WIFEXITED(member[i].status) && WEXITSTATUS(member[i].status) == 0);
        proc_release(&member[i]);
    }
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        if (member[i].pid) {
            proc_dump_log(&member[i], 20);
            proc_stop(&member[i], 5000);
        }
    if (dir[0])
        testlib_rmtree(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_follower_reads, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
