/* Integration: a libtern clustering push consumer retries through the broker
 * (client/retryback.c) against a real name server and broker whose
 * messageDelayLevel is all 1 s. A message whose callback always fails is sent
 * back (CONSUMER_SEND_MSG_BACK), comes back from %RETRY%<group> under its
 * original topic with reconsumeTimes 1, 2, 3, and then lands in %DLQ%<group>
 * (maxReconsumeTimes 3) and is never delivered again; a message failing once
 * comes back once (reconsumeTimes 1, original topic) and is consumed; the
 * other messages are delivered exactly once and the topic's offset moves past
 * the failed ones; a send-back that fails (the broker is stopped) falls back
 * to local redelivery with reconsumeTimes 1 and loses nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
#include "src/clock.h"
#include "tern/tern.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

static struct {
    struct proc ns, broker;
    char dir[512];
    char ns_addr[64];
    char broker_addr[64];
    int broker_port;
} env;

static int setup(void **state)
{
    (void)state;
    char bin[512], log[600], port_s[16];
    testlib_tmpdir(env.dir, sizeof env.dir, "client-retry");
    int nsport = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", nsport);
    snprintf(env.ns_addr, sizeof env.ns_addr, "127.0.0.1:%d", nsport);
    snprintf(log, sizeof log, "%s/namesrv.log", env.dir);
    const char *nargv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s, NULL};
    proc_start(&env.ns, nargv, log);
    if (!proc_wait_port(nsport, 10000)) {
        proc_dump_log(&env.ns, 50);
        fail_msg("name server did not start");
    }
    int bport = proc_free_port(true);
    env.broker_port = bport;
    snprintf(env.broker_addr, sizeof env.broker_addr, "127.0.0.1:%d", bport);
    char set_port[64], set_dir[600], set_ns[96];
    snprintf(log, sizeof log, "%s/broker.log", env.dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", bport);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", env.dir);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", env.ns_addr);
    const char *bargv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                           "--set", set_ns, "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                           "--set", "messageDelayLevel=1s 1s 1s 1s 1s", NULL};
    proc_start(&env.broker, bargv, log);
    if (!proc_wait_port(bport, 10000)) {
        proc_dump_log(&env.broker, 50);
        fail_msg("broker did not start");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&env.broker, 10000);
    proc_stop(&env.ns, 5000);
    proc_release(&env.broker);
    proc_release(&env.ns);
    if (!getenv("TERN_TEST_KEEP"))
        testlib_rmtree(env.dir);
    return 0;
}

static struct tern_client_opts client_opts(void)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = env.ns_addr;
    o.client_ip = "127.0.0.1";
    return o;
}

/* Create topic (one queue) and send bodies[0..n) with tag "t". */
static void produce(const char *topic, const char *const *bodies, int n)
{
    struct tern_client_opts o = client_opts();
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    if (tern_sync_open(&o, &s, err) != 0)
        fail_msg("tern_sync_open: %s", err);
    const struct tern_cluster_info *ci = NULL;
    int64_t deadline = clock_mono_ms() + 15000;
    while ((tern_sync_cluster_info(s, &ci) != 0 || ci->broker_count == 0) && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_true(ci && ci->broker_count > 0);
    struct tern_topic_opts to = {.topic = topic, .read_queues = 1, .write_queues = 1};
    assert_int_equal(tern_sync_create_topic(s, &to), 0);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg-retry";
    struct tern_producer *p;
    assert_int_equal(tern_sync_producer(s, &po, &p), 0);
    for (int i = 0; i < n; i++) {
        struct tern_send_msg m = {.topic = topic, .body = bodies[i], .body_len = strlen(bodies[i]), .tags = "t"};
        struct tern_send_result res;
        deadline = clock_mono_ms() + 15000;
        int rv;
        while ((rv = tern_sync_send(s, p, &m, &res)) != 0 && clock_mono_ms() < deadline)
            tern_sync_run(s, 200);
        assert_int_equal(rv, 0);
    }
    tern_sync_close(s);
}

#define MAX_SEEN 64

struct seen {
    const char *fail_body; /* fails while reconsumeTimes < fail_below */
    int fail_below;
    bool stop_broker; /* stop the broker on a failure, restart it on the next delivery */
    bool stopped;
    int n;
    char body[MAX_SEEN][16];
    char topic[MAX_SEEN][64];
    int reconsume[MAX_SEEN];
    bool ok[MAX_SEEN]; /* answered SUCCESS */
};

static void restart_broker(void)
{
    proc_restart(&env.broker);
    if (!proc_wait_port(env.broker_port, 15000)) {
        proc_dump_log(&env.broker, 50);
        fail_msg("broker did not restart");
    }
}

static int record_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct seen *st = arg;
    assert_int_equal(n, 1);
    size_t len;
    const char *body = tern_msg_body(msgs[0], &len);
    assert_true(st->n < MAX_SEEN);
    int i = st->n++;
    snprintf(st->body[i], sizeof st->body[i], "%.*s", (int)len, body);
    snprintf(st->topic[i], sizeof st->topic[i], "%s", tern_msg_topic(msgs[0]));
    st->reconsume[i] = tern_msg_reconsume_times(msgs[0]);
    bool fail = strcmp(st->body[i], st->fail_body) == 0 && st->reconsume[i] < st->fail_below;
    st->ok[i] = !fail;
    if (st->stopped) {
        restart_broker();
        st->stopped = false;
    } else if (fail && st->stop_broker) {
        /* The send-back that follows this answer finds no broker. */
        proc_stop(&env.broker, 10000);
        st->stopped = true;
    }
    return fail ? TERN_CONSUME_RETRY_LATER : TERN_CONSUME_SUCCESS;
}

/* Deliveries of body so far; their reconsumeTimes in order into rt. */
static int deliveries(const struct seen *st, const char *body, int *rt, int cap)
{
    int k = 0;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->body[i], body) == 0) {
            if (k < cap)
                rt[k] = st->reconsume[i];
            k++;
        }
    return k;
}

struct wait_arg {
    const struct seen *st;
    const char *body;
    int count;
};

static bool delivered_n(void *arg)
{
    const struct wait_arg *w = arg;
    int rt[MAX_SEEN];
    return deliveries(w->st, w->body, rt, MAX_SEEN) >= w->count;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static int closed_n;
static void closed_cb(void *arg)
{
    (void)arg;
    closed_n++;
}
static bool is_closed(void *arg)
{
    (void)arg;
    return closed_n > 0;
}

static bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    while (!pred(arg)) {
        if (clock_mono_ms() > deadline)
            return false;
        uv_run(loop, UV_RUN_ONCE);
    }
    return true;
}

/* Tick-driven loop: run for ms whatever happens (to see that nothing more
 * is delivered). uv_run(ONCE) returns at least every client tick. */
static void run_for(uv_loop_t *loop, int64_t ms)
{
    run_until(loop, never, NULL, ms);
}

struct run {
    uv_loop_t loop;
    struct tern_client *c;
    struct tern_consumer *cons;
};

static void start_consumer(struct run *r, const char *name, const char *group, const char *topic, struct seen *st)
{
    assert_int_equal(uv_loop_init(&r->loop), 0);
    struct tern_client_opts o = client_opts();
    o.instance_name = name;
    o.request_timeout_ms = 1500;
    assert_int_equal(tern_client_new(&r->loop, &o, &r->c, NULL), 0);
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = group;
    co.topic = topic;
    co.from = TERN_FROM_FIRST;
    co.retry_delay_ms = 300;
    co.max_reconsume_times = 3;
    co.cb = record_cb;
    co.arg = st;
    assert_int_equal(tern_consumer_new(r->c, &co, &r->cons), 0);
}

static void stop_consumer(struct run *r)
{
    closed_n = 0;
    tern_consumer_close(r->cons, closed_cb, NULL);
    assert_true(run_until(&r->loop, is_closed, NULL, 15000));
    tern_client_close(r->c, NULL, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

/* Every delivery of a body other than skip happened once, succeeded, under topic. */
static void assert_others_once(const struct seen *st, const char *const *bodies, int n, const char *skip,
                               const char *topic)
{
    for (int b = 0; b < n; b++) {
        if (strcmp(bodies[b], skip) == 0)
            continue;
        int rt[MAX_SEEN];
        assert_int_equal(deliveries(st, bodies[b], rt, MAX_SEEN), 1);
        assert_int_equal(rt[0], 0);
    }
    for (int i = 0; i < st->n; i++)
        assert_string_equal(st->topic[i], topic);
}

static void dlq_bodies_cb(const void *body, size_t len, int64_t off, void *arg)
{
    (void)off;
    char *out = arg;
    snprintf(out, 64, "%.*s", (int)len, (const char *)body);
}

static void test_always_failing_lands_in_dead_letter_queue(void **state)
{
    (void)state;
    const char *bodies[] = {"a-1", "bad", "a-2", "a-3"};
    produce("RetryAlways", bodies, 4);
    struct seen st = {.fail_body = "bad", .fail_below = 1000};
    struct run r;
    start_consumer(&r, "retry-always", "rg-always", "RetryAlways", &st);
    /* First try + 3 retries through %RETRY%rg-always (delay 1 s each). */
    struct wait_arg w = {&st, "bad", 4};
    assert_true(run_until(&r.loop, delivered_n, &w, 40000));
    /* The 4th failure sends it to %DLQ%rg-always: no 5th delivery. */
    run_for(&r.loop, 4000);
    int rt[MAX_SEEN];
    assert_int_equal(deliveries(&st, "bad", rt, MAX_SEEN), 4);
    for (int k = 0; k < 4; k++)
        assert_int_equal(rt[k], k);
    assert_others_once(&st, bodies, 4, "bad", "RetryAlways");
    /* The topic's own queue moved past everything. */
    assert_int_equal(tern_consumer_offset(r.cons, "broker-a", 0), 4);
    assert_int_equal(tern_consumer_owned(r.cons, NULL, 0), 1); /* the topic's queue only */
    stop_consumer(&r);

    /* Exactly the failing message sits in the dead-letter queue. */
    struct rpcsync s;
    rpcsync_open(&s, env.broker_addr);
    assert_int_equal(tclient_queue_offset(&s, CODES_REQ_GET_MAX_OFFSET, "%DLQ%rg-always", 0), 1);
    int code = tclient_pull(&s, "dlq-reader", "%DLQ%rg-always", 0, 0, 8);
    if (code == CODES_RESP_SUCCESS) {
        char got[64] = "";
        assert_int_equal(tclient_each_record(&s, dlq_bodies_cb, got), 1);
        assert_string_equal(got, "bad");
    } else {
        print_message("dead-letter queue not readable by pull (code %d): checked by its max offset only\n", code);
    }
    rpcsync_close(&s);
}

static void test_failing_once_is_redelivered_once(void **state)
{
    (void)state;
    const char *bodies[] = {"b-1", "once", "b-2"};
    produce("RetryOnce", bodies, 3);
    struct seen st = {.fail_body = "once", .fail_below = 1};
    struct run r;
    start_consumer(&r, "retry-once", "rg-once", "RetryOnce", &st);
    struct wait_arg w = {&st, "once", 2};
    assert_true(run_until(&r.loop, delivered_n, &w, 30000));
    run_for(&r.loop, 3000);
    int rt[MAX_SEEN];
    assert_int_equal(deliveries(&st, "once", rt, MAX_SEEN), 2);
    assert_int_equal(rt[0], 0);
    assert_int_equal(rt[1], 1);
    /* The retried delivery succeeded and shows the original topic. */
    assert_others_once(&st, bodies, 3, "once", "RetryOnce");
    int last = -1;
    for (int i = 0; i < st.n; i++)
        if (strcmp(st.body[i], "once") == 0)
            last = i;
    assert_true(st.ok[last]);
    assert_int_equal(tern_consumer_offset(r.cons, "broker-a", 0), 3);
    stop_consumer(&r);

    /* Nothing was dead-lettered; a new member of the group gets nothing
     * again (both queues' offsets were committed). */
    struct tern_client_opts o = client_opts();
    struct tern_sync *sy;
    char err[TERN_ERRMSG_SIZE];
    if (tern_sync_open(&o, &sy, err) != 0)
        fail_msg("tern_sync_open: %s", err);
    const struct tern_route *route = NULL;
    assert_int_not_equal(tern_sync_topic_route(sy, "%DLQ%rg-once", &route), 0);
    assert_int_equal(tern_sync_topic_route(sy, "%RETRY%rg-once", &route), 0);
    tern_sync_close(sy);
    struct seen st2 = {.fail_body = "", .fail_below = 0};
    start_consumer(&r, "retry-once-2", "rg-once", "RetryOnce", &st2);
    run_for(&r.loop, 4000);
    assert_int_equal(st2.n, 0);
    stop_consumer(&r);
}

static void test_failed_send_back_redelivers_locally(void **state)
{
    (void)state;
    const char *bodies[] = {"c-1", "local", "c-2"};
    produce("RetryLocal", bodies, 3);
    struct seen st = {.fail_body = "local", .fail_below = 1, .stop_broker = true};
    struct run r;
    start_consumer(&r, "retry-local", "rg-local", "RetryLocal", &st);
    struct wait_arg w = {&st, "c-2", 1};
    bool done = run_until(&r.loop, delivered_n, &w, 30000);
    if (st.stopped)
        restart_broker();
    assert_true(done);
    run_for(&r.loop, 3000);
    int rt[MAX_SEEN];
    /* Redelivered in place (the broker was down at that time, so it cannot
     * have come from %RETRY%), counted as a reconsume, then consumed; the
     * send-back never reached the broker, so no second copy follows. */
    assert_int_equal(deliveries(&st, "local", rt, MAX_SEEN), 2);
    assert_int_equal(rt[0], 0);
    assert_int_equal(rt[1], 1);
    assert_false(st.stopped);
    assert_others_once(&st, bodies, 3, "local", "RetryLocal");
    assert_int_equal(tern_consumer_offset(r.cons, "broker-a", 0), 3);
    stop_consumer(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_failing_lands_in_dead_letter_queue),
        cmocka_unit_test(test_failing_once_is_redelivered_once),
        cmocka_unit_test(test_failed_send_back_redelivers_locally),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
