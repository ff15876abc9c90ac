/* Overload on an in-process broker: while syncs cannot complete (the libuv
 * threadpool is held busy by the test), sends beyond maxInflightBytes are
 * answered SYSTEM_BUSY at once, and every send that was accepted is
 * acknowledged — and stored — once the disk catches up. */
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "broker/broker.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/testlib.h"

#define MAX_THREADPOOL 1024
#define SENDS 8
#define BODY (512 * 1024)

static uv_loop_t loop;
static struct broker b;
static struct rpc_hub client;
static struct rpc_conn *conn;
static sem_t hold;
static int codes[SENDS], answered;
static char remarks[SENDS][96];

static void block_work(uv_work_t *w)
{
    (void)w;
    sem_wait(&hold);
}

static void block_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
}

static void connected(struct rpc_conn *rc, int status, void *arg)
{
    (void)arg;
    assert_int_equal(status, 0);
    conn = rc;
}

static void answered_cb(int status, struct remoting_cmd *resp, void *arg)
{
    int i = (int)(intptr_t)arg;
    assert_int_equal(status, 0);
    codes[i] = resp->code;
    snprintf(remarks[i], sizeof remarks[i], "%.*s", (int)resp->remark.len, resp->remark.p ? resp->remark.p : "");
    answered++;
}

static void closed(struct broker *bb)
{
    (void)bb;
}

static void hub_closed(struct rpc_hub *h)
{
    (void)h;
}

static void test_busy_beyond_inflight_limit(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE], v[700];
    testlib_tmpdir(dir, sizeof dir, "overload");
    struct brokerconf conf;
    assert_int_equal(brokerconf_defaults(&conf, err), 0);
    snprintf(v, sizeof v, "%s/data", dir);
    assert_int_equal(brokerconf_set(&conf, "storePathRootDir", v, err), 0);
    int port = proc_free_port(true);
    snprintf(v, sizeof v, "%d", port);
    assert_int_equal(brokerconf_set(&conf, "listenPort", v, err), 0);
    assert_int_equal(brokerconf_set(&conf, "listenHost", "127.0.0.1", err), 0);
    assert_int_equal(brokerconf_set(&conf, "namesrvAddr", "", err), 0);
    assert_int_equal(brokerconf_set(&conf, "maxInflightBytes", "1m", err), 0);
    assert_int_equal(brokerconf_set(&conf, "diskMinFreeBytes", "0", err), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(broker_start(&b, &loop, &conf), 0);

    assert_int_equal(rpc_hub_init(&client, &loop, &limits_default, 64u << 20), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    static const struct rpc_ops ops = {NULL, NULL};
    assert_int_equal(rpc_connect(&client, addr, &ops, connected, NULL, err), 0);
    for (int i = 0; i < 1000 && !conn; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_non_null(conn);

    /* Hold every threadpool thread: the store's sync jobs cannot run. */
    assert_int_equal(sem_init(&hold, 0, 0), 0);
    /* libuv's pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise. */
    const char *env = getenv("UV_THREADPOOL_SIZE");
    int threads = env && atoi(env) > 0 ? atoi(env) : 4;
    if (threads > MAX_THREADPOOL)
        threads = MAX_THREADPOOL;
    static uv_work_t blockers[MAX_THREADPOOL];
    for (int i = 0; i < threads; i++)
        assert_int_equal(uv_queue_work(&loop, &blockers[i], block_work, block_done), 0);

    static char body[BODY];
    memset(body, 'o', sizeof body);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    for (int i = 0; i < SENDS; i++) {
        remoting_cmd_init_request(&req, CODES_REQ_SEND_MESSAGE_V2);
        struct headers_send_req h = {.producer_group = slice_of("pg"), .topic = slice_of("Busy"),
                                     .default_topic = slice_of("TBW102"), .default_topic_queue_nums = 1,
                                     .queue_id = 0, .born_timestamp = clock_now_ms()};
        assert_int_equal(headers_send_req_encode(&h, &req), 0);
        struct iovec iov = {body, sizeof body};
        assert_int_equal(rpc_request(conn, &req, &iov, 1, 30000, answered_cb, (void *)(intptr_t)i), 0);
    }
    remoting_cmd_free(&req);
    /* The over-limit sends are refused while the accepted ones wait. */
    int64_t deadline = clock_mono_ms() + 10000;
    int busy = 0;
    while (clock_mono_ms() < deadline) {
        uv_run(&loop, UV_RUN_NOWAIT);
        busy = 0;
        for (int i = 0; i < SENDS; i++)
            busy += codes[i] == CODES_RESP_SYSTEM_BUSY;
        if (answered == busy && busy >= SENDS - 2)
            break;
    }
    assert_true(busy >= SENDS - 2);
    assert_int_equal(answered, busy); /* nothing acknowledged before its sync */
    for (int i = 0; i < SENDS; i++)
        if (codes[i] == CODES_RESP_SYSTEM_BUSY)
            assert_non_null(strstr(remarks[i], "[OVERLOAD]"));

    /* Let the disk catch up: every accepted send is acknowledged. */
    for (int i = 0; i < threads; i++)
        sem_post(&hold);
    for (int i = 0; i < 100000 && answered < SENDS; i++)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(answered, SENDS);
    int ok = 0;
    for (int i = 0; i < SENDS; i++)
        ok += codes[i] == CODES_RESP_SUCCESS;
    assert_int_equal(ok + busy, SENDS);
    assert_true(ok >= 1);
    struct partlog *pl = store_partition_find(b.store, "Busy", 0);
    assert_non_null(pl);
    assert_int_equal(partlog_end_offset(pl), (uint64_t)ok);

    rpc_hub_close(&client, hub_closed);
    broker_close(&b, closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    sem_destroy(&hold);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_busy_beyond_inflight_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
