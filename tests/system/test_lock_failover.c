/* System: queue locks survive a kill -9 of the leader of a 3-member Raft broker
 * group (broker/REPLICATION.md §8). Client A locks two queues at the leader;
 * the leader is killed; at the new leader client B still cannot take A's
 * queues (only a free one), A's renewal is granted, and after A releases a
 * queue B gets it. With RocketMQ's in-memory table B would get all three. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "protocol/codes.h"
#include "protocol/lockbody.h"
#include "protocol/remoting.h"
#include "src/buf.h"
#include "src/clock.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/testlib.h"

#define MEMBERS 3

static struct proc brokers[MEMBERS];
static int ports[MEMBERS];
static char dir[512];

static void start_group(void)
{
    testlib_tmpdir(dir, sizeof dir, "lock-failover");
    int rports[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        ports[i] = proc_free_port(true);
        rports[i] = proc_free_port(false);
    }
    char peers[256];
    snprintf(peers, sizeof peers, "raftPeers=1@127.0.0.1:%d;2@127.0.0.1:%d;3@127.0.0.1:%d", rports[0], rports[1],
             rports[2]);
    for (int i = 0; i < MEMBERS; i++) {
        char bin[600], log[700], set_port[64], set_dir[700], set_id[32], set_raddr[64];
        snprintf(log, sizeof log, "%s/b%d.log", dir, i + 1);
        snprintf(set_port, sizeof set_port, "listenPort=%d", ports[i]);
        snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/b%d", dir, i + 1);
        snprintf(set_id, sizeof set_id, "raftId=%d", i + 1);
        snprintf(set_raddr, sizeof set_raddr, "raftAddress=127.0.0.1:%d", rports[i]);
        const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                              "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set",
                              "listenHost=127.0.0.1", "--set", "diskMinFreeBytes=0", "--set", set_id, "--set",
                              set_raddr, "--set", peers, NULL};
        proc_start(&brokers[i], argv, log);
    }
    for (int i = 0; i < MEMBERS; i++)
        if (!proc_wait_port(ports[i], 15000)) {
            proc_dump_log(&brokers[i], 40);
            fail_msg("broker %d did not listen", i + 1);
        }
}

/* LOCK or UNLOCK at member i; returns the answer code, *granted the granted
 * queue ids as a bit mask. Connection failures count as -1. */
static int lock_at(int i, int code, const char *client, const int *qids, size_t n, unsigned *granted)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ports[i]);
    struct rpcsync s;
    rpcsync_open(&s, addr);
    struct lockbody_mq mqs[8];
    for (size_t k = 0; k < n; k++)
        mqs[k] = (struct lockbody_mq){"LockFo", "broker-a", qids[k]};
    struct lockbody_req req = {"ofg", client, true, mqs, n};
    struct buf body;
    buf_init(&body);
    assert_int_equal(lockbody_req_encode(&req, &body), 0);
    struct remoting_cmd cmd;
    remoting_cmd_init(&cmd);
    remoting_cmd_init_request(&cmd, code);
    int rc = rpcsync_call(&s, &cmd, body.data, body.len, 10000) == 0 ? s.resp.code : -1;
    remoting_cmd_free(&cmd);
    buf_free(&body);
    *granted = 0;
    if (rc == CODES_RESP_SUCCESS && code == CODES_REQ_LOCK_BATCH_MQ) {
        struct buf arena;
        buf_init(&arena);
        struct lockbody_mq *ok;
        size_t nok;
        char err[256];
        assert_int_equal(lockbody_ok_decode(s.resp.body.p, s.resp.body.len, &ok, &nok, &arena, err), 0);
        for (size_t k = 0; k < nok; k++)
            *granted |= 1u << ok[k].queue_id;
        buf_free(&arena);
    }
    rpcsync_close(&s);
    return rc;
}

/* The member that answers a LOCK (the ready leader), skipping `not`. */
static int find_leader(int not, const char *client, const int *qids, size_t n, unsigned *granted)
{
    int64_t deadline = clock_mono_ms() + 30000;
    while (clock_mono_ms() < deadline) {
        for (int i = 0; i < MEMBERS; i++) {
            if (i == not)
                continue;
            if (lock_at(i, CODES_REQ_LOCK_BATCH_MQ, client, qids, n, granted) == CODES_RESP_SUCCESS)
                return i;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void test_locks_survive_leader_kill(void **state)
{
    (void)state;
    start_group();
    const int q01[] = {0, 1}, q012[] = {0, 1, 2}, q0[] = {0};
    unsigned got;
    int leader = find_leader(-1, "client-A", q01, 2, &got);
    assert_true(leader >= 0);
    assert_int_equal(got, 0x3);
    /* A follower refuses to grant anything. */
    int follower = (leader + 1) % MEMBERS;
    assert_int_equal(lock_at(follower, CODES_REQ_LOCK_BATCH_MQ, "client-B", q012, 3, &got),
                     CODES_RESP_SERVICE_NOT_AVAILABLE);

    proc_kill9(&brokers[leader]);
    int next = find_leader(leader, "client-B", q012, 3, &got);
    assert_true(next >= 0 && next != leader);
    /* A's queues stayed A's through the failover: B gets only queue 2. */
    assert_int_equal(got, 0x4);
    assert_int_equal(lock_at(next, CODES_REQ_LOCK_BATCH_MQ, "client-A", q01, 2, &got), CODES_RESP_SUCCESS);
    assert_int_equal(got, 0x3);
    assert_int_equal(lock_at(next, CODES_REQ_UNLOCK_BATCH_MQ, "client-A", q0, 1, &got), CODES_RESP_SUCCESS);
    assert_int_equal(lock_at(next, CODES_REQ_LOCK_BATCH_MQ, "client-B", q012, 3, &got), CODES_RESP_SUCCESS);
    assert_int_equal(got, 0x5);

    for (int i = 0; i < MEMBERS; i++) {
        proc_stop(&brokers[i], 10000);
        proc_release(&brokers[i]);
    }
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locks_survive_leader_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
