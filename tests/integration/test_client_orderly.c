/* Integration: queue locks of orderly consumption against a real tern-broker
 * (LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42, ROCKETMQ-PROTOCOL.md; broker/locks.h):
 * two clients contend for queues over real sockets; a malformed body is
 * refused without harm; a libtern orderly consumer holds its queues on the
 * broker (nobody else can lock them), retries a failing message in place
 * with nothing after it delivered meanwhile, and releases its locks on close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/lockbody.h"
#include "protocol/remoting.h"
#include "src/buf.h"
#include "src/clock.h"
#include "tern/tern.h"
#include "tests/lib/cluster.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/testlib.h"
#include "tests/lib/tsync.h"

static struct testcluster tc;

static int setup(void **state)
{
    (void)state;
    testcluster_start(&tc, "orderly-locks");
    tsync_wait_broker(tc.ns_addr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcluster_stop(&tc);
    return 0;
}

/* LOCK (or UNLOCK) qids of topic for client; returns the granted queue ids
 * as a bit mask (LOCK) or 0, asserting a SUCCESS answer. */
static unsigned lock_call(struct rpcsync *s, int code, const char *client, const char *topic, const int *qids,
                          size_t n)
{
    struct lockbody_mq mqs[16];
    for (size_t i = 0; i < n; i++)
        mqs[i] = (struct lockbody_mq){topic, "broker-a", qids[i]};
    struct lockbody_req req = {"og", client, true, mqs, n};
    struct buf body;
    buf_init(&body);
    assert_int_equal(lockbody_req_encode(&req, &body), 0);
    struct remoting_cmd cmd;
    remoting_cmd_init(&cmd);
    remoting_cmd_init_request(&cmd, code);
    assert_int_equal(rpcsync_call(s, &cmd, body.data, body.len, 10000), 0);
    remoting_cmd_free(&cmd);
    buf_free(&body);
    assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    if (code == CODES_REQ_UNLOCK_BATCH_MQ)
        return 0;
    struct buf arena;
    buf_init(&arena);
    struct lockbody_mq *ok;
    size_t nok;
    char err[256];
    assert_int_equal(lockbody_ok_decode(s->resp.body.p, s->resp.body.len, &ok, &nok, &arena, err), 0);
    unsigned mask = 0;
    for (size_t i = 0; i < nok; i++) {
        assert_string_equal(ok[i].topic, topic);
        assert_string_equal(ok[i].broker_name, "broker-a");
        mask |= 1u << ok[i].queue_id;
    }
    buf_free(&arena);
    return mask;
}

static void test_two_clients_contend(void **state)
{
    (void)state;
    struct rpcsync a, b;
    rpcsync_open(&a, tc.broker_addr);
    rpcsync_open(&b, tc.broker_addr);
    const int q01[] = {0, 1}, q12[] = {1, 2}, q1[] = {1};
    assert_int_equal(lock_call(&a, CODES_REQ_LOCK_BATCH_MQ, "client-A", "LockT", q01, 2), 0x3);
    assert_int_equal(lock_call(&b, CODES_REQ_LOCK_BATCH_MQ, "client-B", "LockT", q12, 2), 0x4);
    /* Renewal by the holder keeps both. */
    assert_int_equal(lock_call(&a, CODES_REQ_LOCK_BATCH_MQ, "client-A", "LockT", q01, 2), 0x3);
    /* B cannot release A's queue; A can, then B gets it. */
    lock_call(&b, CODES_REQ_UNLOCK_BATCH_MQ, "client-B", "LockT", q1, 1);
    assert_int_equal(lock_call(&b, CODES_REQ_LOCK_BATCH_MQ, "client-B", "LockT", q12, 2), 0x4);
    lock_call(&a, CODES_REQ_UNLOCK_BATCH_MQ, "client-A", "LockT", q1, 1);
    assert_int_equal(lock_call(&b, CODES_REQ_LOCK_BATCH_MQ, "client-B", "LockT", q12, 2), 0x6);
    assert_int_equal(lock_call(&a, CODES_REQ_LOCK_BATCH_MQ, "client-A", "LockT", q01, 2), 0x1);

    /* Bytes that are no lock body: a clear refusal, the broker lives on. */
    struct remoting_cmd cmd;
    remoting_cmd_init(&cmd);
    remoting_cmd_init_request(&cmd, CODES_REQ_LOCK_BATCH_MQ);
    const char *junk = "{\"consumerGroup\":7,\"mqSet\":[{]";
    assert_int_equal(rpcsync_call(&a, &cmd, junk, strlen(junk), 10000), 0);
    assert_int_equal(a.resp.code, CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(rpcsync_call(&a, &cmd, NULL, 0, 10000), 0);
    assert_int_equal(a.resp.code, CODES_RESP_INVALID_PARAMETER);
    remoting_cmd_free(&cmd);
    assert_int_equal(lock_call(&a, CODES_REQ_LOCK_BATCH_MQ, "client-A", "LockT", q01, 2), 0x1);
    rpcsync_close(&a);
    rpcsync_close(&b);
}

/* ---- a libtern orderly consumer ---- */

struct orderly_state {
    int fail_first;    /* answer RETRY_LATER to message 3 this many times */
    int delivered;     /* successful deliveries */
    int attempts_of_3; /* deliveries of message 3 */
    int64_t first_try_ms, last_try_ms;
    bool order_ok;
    int last;
};

static int orderly_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct orderly_state *st = arg;
    assert_int_equal(n, 1);
    size_t len;
    const char *body = tern_msg_body(msgs[0], &len);
    char text[16];
    assert_true(len > 2 && len < sizeof text);
    memcpy(text, body, len);
    text[len] = '\0';
    int v = atoi(text + 2); /* "m-<n>" */
    if (v == 3) {
        int64_t now = clock_mono_ms();
        if (st->attempts_of_3++ == 0)
            st->first_try_ms = now;
        st->last_try_ms = now;
        if (st->attempts_of_3 <= st->fail_first)
            return TERN_CONSUME_RETRY_LATER;
    }
    if (v != st->last + 1)
        st->order_ok = false;
    st->last = v;
    st->delivered++;
    return TERN_CONSUME_SUCCESS;
}

static bool delivered_all(void *arg)
{
    struct orderly_state *st = arg;
    return st->delivered >= 8;
}

static int closed_n;
static void closed(void *arg)
{
    (void)arg;
    closed_n++;
}
static bool is_closed(void *arg)
{
    (void)arg;
    return closed_n > 0;
}

/* Create topic with one queue and send m-1..m-n to it, all with sharding
 * key "k" (each send retried for up to 15 s while the route settles). */
static void create_and_send(const char *topic, int n)
{
    struct tern_sync *s = tsync_open(tc.ns_addr);
    struct tern_topic_opts to = {.topic = topic, .read_queues = 1, .write_queues = 1};
    assert_int_equal(tern_sync_create_topic(s, &to), 0);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg-orderly";
    struct tern_producer *p;
    assert_int_equal(tern_sync_producer(s, &po, &p), 0);
    for (int i = 1; i <= n; i++) {
        char body[16];
        snprintf(body, sizeof body, "m-%d", i);
        struct tern_send_msg m = {.topic = topic, .body = body, .body_len = strlen(body), .sharding_key = "k"};
        struct tern_send_result res;
        int64_t deadline = clock_mono_ms() + 15000;
        int rv;
        while ((rv = tern_sync_send(s, p, &m, &res)) != 0 && clock_mono_ms() < deadline)
            tern_sync_run(s, 200);
        assert_int_equal(rv, 0);
    }
    tern_sync_close(s);
}

/* Close the consumer (waiting up to 15 s for its close callback), the client
 * and the loop. */
static void close_all(uv_loop_t *loop, struct tern_client *c, struct tern_consumer *cons)
{
    closed_n = 0;
    tern_consumer_close(cons, closed, NULL);
    assert_true(tsync_loop_until(loop, is_closed, NULL, 15000));
    tern_client_close(c, NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_orderly_consumer_locks_and_retries_in_place(void **state)
{
    (void)state;
    /* One queue, eight messages m-1..m-8. */
    create_and_send("OrderT", 8);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tern_client_opts o = tsync_opts(tc.ns_addr);
    o.instance_name = "orderly-1";
    struct tern_client *c;
    assert_int_equal(tern_client_new(&loop, &o, &c, NULL), 0);
    struct orderly_state st = {.fail_first = 3, .order_ok = true};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "og";
    co.topic = "OrderT";
    co.from = TERN_FROM_FIRST;
    co.orderly = true;
    co.retry_delay_ms = 300;
    co.max_reconsume_times = 5;
    co.cb = orderly_cb;
    co.arg = &st;
    struct tern_consumer *cons;
    assert_int_equal(tern_consumer_new(c, &co, &cons), 0);
    assert_true(tsync_loop_until(&loop, delivered_all, &st, 30000));
    /* Message 3 failed three times and was retried in place: nothing after it
     * came before it succeeded, and the attempts were suspended ~300 ms apart. */
    assert_true(st.order_ok);
    assert_int_equal(st.attempts_of_3, 4);
    assert_int_equal(st.delivered, 8);
    assert_true(st.last_try_ms - st.first_try_ms >= 3 * 300 - 50);

    /* The consumer holds the queue on the broker: another client cannot lock it. */
    struct rpcsync other;
    rpcsync_open(&other, tc.broker_addr);
    const int q0[] = {0};
    assert_int_equal(lock_call(&other, CODES_REQ_LOCK_BATCH_MQ, "intruder", "OrderT", q0, 1), 0);
    /* Closing releases it: the next lock succeeds at once. */
    close_all(&loop, c, cons);
    unsigned got = 0;
    for (int i = 0; i < 20 && !got; i++) {
        got = lock_call(&other, CODES_REQ_LOCK_BATCH_MQ, "intruder", "OrderT", q0, 1);
        if (!got)
            rpcsync_run_for(&other, 100);
    }
    assert_int_equal(got, 0x1);
    rpcsync_close(&other);
}

/* ---- a message that always fails: in-place retries, then the dead-letter queue ---- */

struct dlq_state {
    int attempts_of_2;
    int delivered_after; /* deliveries of m-3 */
};

static int always_fail_2_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct dlq_state *st = arg;
    assert_int_equal(n, 1);
    size_t len;
    const char *body = tern_msg_body(msgs[0], &len);
    if (len == 3 && memcmp(body, "m-2", 3) == 0) {
        st->attempts_of_2++;
        return TERN_CONSUME_RETRY_LATER;
    }
    if (len == 3 && memcmp(body, "m-3", 3) == 0)
        st->delivered_after++;
    return TERN_CONSUME_SUCCESS;
}

static bool moved_on(void *arg)
{
    struct dlq_state *st = arg;
    return st->delivered_after > 0;
}

static void test_orderly_exhausted_retries_go_to_dead_letter(void **state)
{
    (void)state;
    create_and_send("DlqT", 3);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tern_client_opts o = tsync_opts(tc.ns_addr);
    o.instance_name = "orderly-dlq";
    struct tern_client *c;
    assert_int_equal(tern_client_new(&loop, &o, &c, NULL), 0);
    struct dlq_state st = {0};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "og-dlq";
    co.topic = "DlqT";
    co.from = TERN_FROM_FIRST;
    co.orderly = true;
    co.retry_delay_ms = 200;
    co.max_reconsume_times = 2;
    co.cb = always_fail_2_cb;
    co.arg = &st;
    struct tern_consumer *cons;
    assert_int_equal(tern_consumer_new(c, &co, &cons), 0);
    bool moved = tsync_loop_until(&loop, moved_on, &st, 6000);
    /* 1 attempt + 2 retries in place, then no more deliveries of it. */
    assert_int_equal(st.attempts_of_2, 3);
    if (moved) {
        /* The broker took it (CONSUMER_SEND_MSG_BACK): the queue moved on and
         * the message sits in the group's dead-letter topic. */
        struct tern_sync *s2 = tsync_open(tc.ns_addr);
        const struct tern_route *r = NULL;
        assert_int_equal(tern_sync_topic_route(s2, "%DLQ%og-dlq", &r), 0);
        tern_sync_close(s2);
        print_message("dead-letter send-back accepted by the broker\n");
    } else {
        /* A broker without CONSUMER_SEND_MSG_BACK refuses the send-back: the
         * queue must not skip the message (nothing after it is delivered). */
        assert_int_equal(st.delivered_after, 0);
        print_message("broker refused the dead-letter send-back: queue held at the failed message\n");
    }
    close_all(&loop, c, cons);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_clients_contend),
        cmocka_unit_test(test_orderly_consumer_locks_and_retries_in_place),
        cmocka_unit_test(test_orderly_exhausted_retries_go_to_dead_letter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
