/* Integration: consumer groups with libtern against a real tern-namesrv and
 * tern-broker: a consumer restarted mid-stream resumes at its committed
 * offset; two consumers of one group split the queues and a third joining
 * triggers a rebalance after which every queue is owned exactly once
 * (ROCKETMQ-PROTOCOL.md §6.1-§6.2); a consumer that returns RETRY_LATER gets
 * the same messages again; broadcasting consumers each get everything. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/clock.h"
#include "tern/tern.h"
#include "tests/lib/cluster.h"
#include "tests/lib/proc.h"
#include "tests/lib/testlib.h"
#include "tests/lib/tsync.h"

static struct testcluster tc;

static void create_topic(const char *topic, int queues)
{
    struct tern_sync *s = tsync_open(tc.ns_addr);
    struct tern_topic_opts to = {.topic = topic, .read_queues = queues, .write_queues = queues};
    if (tern_sync_create_topic(s, &to) != 0)
        fail_msg("create %s: %s", topic, tern_sync_errmsg(s));
    const struct tern_route *r = NULL;
    int64_t deadline = clock_mono_ms() + 15000;
    while (tern_sync_topic_route(s, topic, &r) != 0 && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_non_null(r);
    tern_sync_close(s);
}

static void produce(const char *topic, const char *prefix, int n)
{
    struct tern_sync *s = tsync_open(tc.ns_addr);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg-groups";
    struct tern_producer *p;
    assert_int_equal(tern_sync_producer(s, &po, &p), 0);
    for (int i = 0; i < n; i++) {
        char body[64];
        snprintf(body, sizeof body, "%s-%d", prefix, i);
        struct tern_send_msg m = {.topic = topic, .body = body, .body_len = strlen(body)};
        struct tern_send_result res;
        if (tern_sync_send(s, p, &m, &res) != 0)
            fail_msg("send: %s", tern_sync_errmsg(s));
    }
    tern_sync_close(s);
}

static int setup(void **state)
{
    (void)state;
    testcluster_start(&tc, "client-groups");
    /* Wait for the broker's registration. */
    tsync_wait_broker(tc.ns_addr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcluster_stop(&tc);
    return 0;
}

/* ---- restart resumes at the committed offset ---- */

struct resume {
    int limit;   /* consume this many, then refuse the rest */
    int count;
    char seen[64][32];
    struct tern_sync *s;
};

static int resume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct resume *r = arg;
    assert_int_equal(n, 1);
    if (r->count >= r->limit) {
        tern_sync_stop(r->s);
        return TERN_CONSUME_RETRY_LATER;
    }
    size_t len;
    const char *body = tern_msg_body(msgs[0], &len);
    assert_true(len < 32);
    snprintf(r->seen[r->count], 32, "%.*s", (int)len, body);
    r->count++;
    return TERN_CONSUME_SUCCESS;
}

static bool reached(void *arg)
{
    struct resume *r = arg;
    return r->count >= r->limit;
}

static void test_restart_resumes_at_committed_offset(void **state)
{
    (void)state;
    create_topic("ResumeTopic", 2);
    produce("ResumeTopic", "r", 20);

    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "cg-resume";
    co.topic = "ResumeTopic";
    co.from = TERN_FROM_FIRST;
    co.cb = resume_cb;
    co.retry_delay_ms = 60000; /* refused messages stay refused in this run */

    struct resume first = {.limit = 12};
    first.s = tsync_open(tc.ns_addr);
    co.arg = &first;
    struct tern_consumer *c1;
    assert_int_equal(tern_consumer_new(tern_sync_client(first.s), &co, &c1), 0);
    assert_true(tsync_loop_until(tern_sync_loop(first.s), reached, &first, 30000));
    tern_sync_close(first.s); /* commits what was consumed */

    /* The broker holds exactly the consumed count as committed offsets. */
    struct tern_sync *s = tsync_open(tc.ns_addr);
    int64_t committed_total = 0;
    for (int q = 0; q < 2; q++) {
        int64_t off;
        if (tern_sync_committed_offset(s, "cg-resume", "ResumeTopic", "broker-a", q, &off) != 0)
            fail_msg("committed q%d: %s", q, tern_sync_errmsg(s));
        committed_total += off;
    }
    assert_int_equal(committed_total, 12);
    tern_sync_close(s);

    struct resume second = {.limit = 8};
    second.s = tsync_open(tc.ns_addr);
    co.arg = &second;
    co.retry_delay_ms = 1000;
    assert_int_equal(tern_consumer_new(tern_sync_client(second.s), &co, &c1), 0);
    assert_true(tsync_loop_until(tern_sync_loop(second.s), reached, &second, 30000));
    /* Run a little longer: nothing more may arrive (only 20 were sent). */
    second.limit = 100;
    tern_sync_run(second.s, 1500);
    assert_int_equal(second.count, 8);
    tern_sync_close(second.s);

    /* Together: every message exactly once. */
    for (int i = 0; i < 20; i++) {
        char want[32];
        snprintf(want, sizeof want, "r-%d", i);
        int hits = 0;
        for (int k = 0; k < first.count; k++)
            hits += strcmp(first.seen[k], want) == 0;
        for (int k = 0; k < second.count; k++)
            hits += strcmp(second.seen[k], want) == 0;
        if (hits != 1)
            fail_msg("%s consumed %d times", want, hits);
    }
}

/* ---- rebalance ---- */

#define RB_QUEUES 8

static int ignore_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    return TERN_CONSUME_SUCCESS;
}

struct members {
    struct tern_consumer *cons[3];
    int n;
    size_t want[3];
};

/* Every queue owned exactly once, and each member owns its share. */
static bool balanced(void *arg)
{
    struct members *m = arg;
    int owners[RB_QUEUES] = {0};
    for (int i = 0; i < m->n; i++) {
        struct tern_queue qs[RB_QUEUES + 1];
        size_t n = tern_consumer_owned(m->cons[i], qs, RB_QUEUES + 1);
        if (n != m->want[i])
            return false;
        for (size_t k = 0; k < n; k++) {
            if (qs[k].queue_id < 0 || qs[k].queue_id >= RB_QUEUES)
                return false;
            owners[qs[k].queue_id]++;
        }
    }
    for (int q = 0; q < RB_QUEUES; q++)
        if (owners[q] != 1)
            return false;
    return true;
}

static int closed_count;

static void closed(void *arg)
{
    closed_count++;
}

static bool all_closed(void *arg)
{
    return closed_count == *(int *)arg;
}

static void test_group_members_split_queues_and_rebalance(void **state)
{
    (void)state;
    create_topic("RebalanceTopic", RB_QUEUES);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tern_client *clients[3];
    struct members m = {.n = 0};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "cg-rebalance";
    co.topic = "RebalanceTopic";
    co.cb = ignore_cb;
    for (int i = 0; i < 3; i++) {
        struct tern_client_opts o = tsync_opts(tc.ns_addr);
        char inst[32];
        snprintf(inst, sizeof inst, "member-%d", i);
        o.instance_name = inst;
        char err[TERN_ERRMSG_SIZE];
        if (tern_client_new(&loop, &o, &clients[i], err) != 0)
            fail_msg("client: %s", err);
    }
    /* Two members: 4 + 4. */
    for (int i = 0; i < 2; i++)
        assert_int_equal(tern_consumer_new(clients[i], &co, &m.cons[i]), 0);
    m.n = 2;
    m.want[0] = m.want[1] = 4;
    if (!tsync_loop_until(&loop, balanced, &m, 30000))
        fail_msg("two members never split 8 queues 4/4 (%zu, %zu)", tern_consumer_owned(m.cons[0], NULL, 0),
                 tern_consumer_owned(m.cons[1], NULL, 0));
    uint64_t before = tern_consumer_rebalances(m.cons[0]);

    /* A third joins: 3 + 3 + 2 in client-id order (member-0 < member-1 < member-2). */
    assert_int_equal(tern_consumer_new(clients[2], &co, &m.cons[2]), 0);
    m.n = 3;
    m.want[0] = 3;
    m.want[1] = 3;
    m.want[2] = 2;
    if (!tsync_loop_until(&loop, balanced, &m, 30000))
        fail_msg("three members never balanced (%zu, %zu, %zu)", tern_consumer_owned(m.cons[0], NULL, 0),
                 tern_consumer_owned(m.cons[1], NULL, 0), tern_consumer_owned(m.cons[2], NULL, 0));
    assert_true(tern_consumer_rebalances(m.cons[0]) > before);

    /* One leaves (its close unregisters it): the other two take everything. */
    closed_count = 0;
    int want_closed = 1;
    tern_consumer_close(m.cons[2], closed, NULL);
    assert_true(tsync_loop_until(&loop, all_closed, &want_closed, 10000));
    m.n = 2;
    m.want[0] = m.want[1] = 4;
    if (!tsync_loop_until(&loop, balanced, &m, 30000))
        fail_msg("after a member left: (%zu, %zu)", tern_consumer_owned(m.cons[0], NULL, 0),
                 tern_consumer_owned(m.cons[1], NULL, 0));

    closed_count = 0;
    want_closed = 3;
    for (int i = 0; i < 3; i++)
        tern_client_close(clients[i], closed, NULL);
    assert_true(tsync_loop_until(&loop, all_closed, &want_closed, 15000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- retry later and broadcasting ---- */

struct counting {
    int count;
    int refusals;
    int first_refused_offset;
    int redelivered;
};

static int refuse_once_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct counting *c = arg;
    int64_t off = tern_msg_queue_offset(msgs[0]);
    if (c->refusals == 0) {
        c->refusals++;
        c->first_refused_offset = (int)off;
        return TERN_CONSUME_RETRY_LATER;
    }
    if (off == c->first_refused_offset && c->redelivered == 0)
        c->redelivered = 1;
    c->count += (int)n;
    return TERN_CONSUME_SUCCESS;
}

static int count_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    ((struct counting *)arg)->count += (int)n;
    return TERN_CONSUME_SUCCESS;
}

struct both {
    struct counting *a, *b;
    int want;
};

static bool both_have(void *arg)
{
    struct both *x = arg;
    return x->a->count >= x->want && x->b->count >= x->want;
}

static void test_retry_later_and_broadcasting(void **state)
{
    (void)state;
    create_topic("BroadcastTopic", 2);
    produce("BroadcastTopic", "b", 10);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tern_client *c1, *c2;
    struct tern_client_opts o = tsync_opts(tc.ns_addr);
    o.instance_name = "bc-1";
    assert_int_equal(tern_client_new(&loop, &o, &c1, NULL), 0);
    o.instance_name = "bc-2";
    assert_int_equal(tern_client_new(&loop, &o, &c2, NULL), 0);
    char path1[700], path2[700];
    snprintf(path1, sizeof path1, "%s/offsets-1.txt", tc.dir);
    snprintf(path2, sizeof path2, "%s/offsets-2.txt", tc.dir);
    struct counting a = {0}, b = {0};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "cg-broadcast";
    co.topic = "BroadcastTopic";
    co.model = TERN_BROADCASTING;
    co.from = TERN_FROM_FIRST;
    co.retry_delay_ms = 200;
    co.cb = refuse_once_cb;
    co.arg = &a;
    co.offset_path = path1;
    struct tern_consumer *x, *y;
    assert_int_equal(tern_consumer_new(c1, &co, &x), 0);
    co.cb = count_cb;
    co.arg = &b;
    co.offset_path = path2;
    assert_int_equal(tern_consumer_new(c2, &co, &y), 0);
    struct both w = {&a, &b, 10};
    assert_true(tsync_loop_until(&loop, both_have, &w, 30000));
    assert_int_equal(a.count, 10); /* the refused message came back once */
    assert_int_equal(a.redelivered, 1);
    assert_int_equal(b.count, 10); /* broadcasting: both members get all */
    assert_int_equal(tern_consumer_owned(x, NULL, 0), 2);
    assert_int_equal(tern_consumer_owned(y, NULL, 0), 2);
    closed_count = 0;
    int want_closed = 2;
    tern_client_close(c1, closed, NULL);
    tern_client_close(c2, closed, NULL);
    assert_true(tsync_loop_until(&loop, all_closed, &want_closed, 15000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    /* The local offsets file records both queues fully consumed (5 + 5 or
     * however the 10 were spread: the sum is 10). */
    FILE *f = fopen(path2, "r");
    assert_non_null(f);
    char topic[64], bname[64];
    int qid;
    long long off, sum = 0;
    int lines = 0;
    while (fscanf(f, "%63s %63s %d %lld", topic, bname, &qid, &off) == 4) {
        assert_string_equal(topic, "BroadcastTopic");
        sum += off;
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, 2);
    assert_int_equal(sum, 10);
}

/* ---- broker restart: producers and consumers reconnect ---- */

struct restart_state {
    int received;
    bool dup;
    bool seen[40];
    int sent_ok;
    int sent_done;
    int target;
};

static int restart_consume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct restart_state *st = arg;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *body = tern_msg_body(msgs[i], &len);
        int k = atoi(body + 2);
        if (len < 3 || k < 0 || k >= 40 || st->seen[k])
            st->dup = true;
        else
            st->seen[k] = true;
        st->received++;
    }
    return TERN_CONSUME_SUCCESS;
}

static void restart_send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct restart_state *st = arg;
    if (err == 0)
        st->sent_ok++;
    else
        print_error("send after restart: %s\n", errmsg);
    st->sent_done++;
}

static bool got(void *arg)
{
    struct restart_state *st = arg;
    return st->received >= st->target;
}

static bool sends_done(void *arg)
{
    struct restart_state *st = arg;
    return st->sent_done >= st->target;
}

static void send_batch_of_20(struct tern_producer *p, struct restart_state *st, int base, uv_loop_t *loop)
{
    int before = st->sent_done;
    st->target = before + 20;
    for (int i = base; i < base + 20; i++) {
        char body[16];
        snprintf(body, sizeof body, "x-%d", i);
        struct tern_send_msg m = {.topic = "RestartTopic", .body = body, .body_len = strlen(body)};
        assert_int_equal(tern_producer_send(p, &m, restart_send_cb, st), 0);
    }
    assert_true(tsync_loop_until(loop, sends_done, st, 30000));
    assert_int_equal(st->sent_done, before + 20);
}

static void test_clients_survive_broker_restart(void **state)
{
    (void)state;
    create_topic("RestartTopic", 2);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct tern_client *pc, *cc;
    struct tern_client_opts o = tsync_opts(tc.ns_addr);
    o.request_timeout_ms = 2000;
    o.instance_name = "restart-p";
    assert_int_equal(tern_client_new(&loop, &o, &pc, NULL), 0);
    o.instance_name = "restart-c";
    assert_int_equal(tern_client_new(&loop, &o, &cc, NULL), 0);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg-restart";
    po.retries = 5;
    struct tern_producer *p;
    assert_int_equal(tern_producer_new(pc, &po, &p), 0);
    struct restart_state st = {0};
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = "cg-restart";
    co.topic = "RestartTopic";
    co.from = TERN_FROM_FIRST;
    co.cb = restart_consume_cb;
    co.arg = &st;
    struct tern_consumer *cons;
    assert_int_equal(tern_consumer_new(cc, &co, &cons), 0);

    send_batch_of_20(p, &st, 0, &loop);
    assert_int_equal(st.sent_ok, 20);
    assert_true(tsync_loop_until(&loop, got, &st, 30000));

    /* Restart the broker under both clients. */
    proc_stop(&tc.broker, 10000);
    proc_restart(&tc.broker);
    assert_true(proc_wait_port(tc.broker_port, 10000));

    send_batch_of_20(p, &st, 20, &loop);
    assert_int_equal(st.sent_ok, 40);
    if (!tsync_loop_until(&loop, got, &st, 30000))
        fail_msg("after restart received %d of %d", st.received, st.sent_ok);
    assert_false(st.dup);
    assert_int_equal(st.received, 40);

    closed_count = 0;
    int want_closed = 2;
    tern_client_close(pc, closed, NULL);
    tern_client_close(cc, closed, NULL);
    assert_true(tsync_loop_until(&loop, all_closed, &want_closed, 15000));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_resumes_at_committed_offset),
        cmocka_unit_test(test_group_members_split_queues_and_rebalance),
        cmocka_unit_test(test_retry_later_and_broadcasting),
        cmocka_unit_test(test_clients_survive_broker_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
