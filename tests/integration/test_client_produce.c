/* Integration: libtern against a real tern-namesrv and tern-broker. Sync,
 * async, oneway, batch and compressed sends (binary and JSON headers) are
 * all consumed by a push consumer with exact content, matching queue
 * offsets and per-queue order; a tag expression filters; admin helpers see
 * the topic, its offsets and the group's committed offsets. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/clock.h"
#include "tern/tern.h"
#include "tests/lib/cluster.h"
#include "tests/lib/proc.h"
#include "tests/lib/testlib.h"

#define TOPIC "ClientTopic"
#define QUEUES 4
#define MAX_MSGS 256

static struct testcluster tc;

static bool run_until(struct tern_sync *s, bool (*pred)(void *), void *arg, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    while (!pred(arg)) {
        if (clock_mono_ms() > deadline)
            return false;
        uv_run(tern_sync_loop(s), UV_RUN_ONCE);
    }
    return true;
}

static struct tern_sync *open_sync(enum tern_header_form form)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = tc.ns_addr;
    o.header_form = form;
    o.client_ip = "127.0.0.1";
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    int rv = tern_sync_open(&o, &s, err);
    if (rv != 0)
        fail_msg("tern_sync_open: %s", err);
    return s;
}

static int setup(void **state)
{
    (void)state;
    testcluster_start(&tc, "client-produce");
    /* Wait until the broker's registration is visible, then create the topic
     * on every master and wait for its route. */
    struct tern_sync *s = open_sync(TERN_HEADER_BINARY);
    const struct tern_cluster_info *ci = NULL;
    int64_t deadline = clock_mono_ms() + 15000;
    while ((tern_sync_cluster_info(s, &ci) != 0 || ci->broker_count == 0) && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_non_null(ci);
    assert_true(ci->broker_count > 0);
    struct tern_topic_opts to = {.topic = TOPIC, .read_queues = QUEUES, .write_queues = QUEUES};
    int rv = tern_sync_create_topic(s, &to);
    if (rv != 0)
        fail_msg("create topic: %s", tern_sync_errmsg(s));
    const struct tern_route *r = NULL;
    while ((tern_sync_topic_route(s, TOPIC, &r) != 0) && clock_mono_ms() < deadline)
        tern_sync_run(s, 200);
    assert_non_null(r);
    assert_int_equal(r->queue_count, 1);
    assert_int_equal(r->queues[0].write_queues, QUEUES);
    tern_sync_close(s);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    testcluster_stop(&tc);
    return 0;
}

/* ---- what was sent ---- */

struct sent {
    char body[32];
    size_t big; /* > 0: a compressed body of this size, pattern from body */
    const char *tags;
    int qid;
    int64_t offset; /* -1: not known (oneway) */
    int seen;
};

static struct sent sent[MAX_MSGS];
static size_t nsent;
static int async_done, async_failed;

static char *big_body(const char *seed, size_t n)
{
    char *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = seed[i % strlen(seed)];
    return b;
}

static struct sent *add(const char *body, const char *tags)
{
    assert_true(nsent < MAX_MSGS);
    struct sent *x = &sent[nsent++];
    snprintf(x->body, sizeof x->body, "%s", body);
    x->tags = tags;
    x->qid = -1;
    x->offset = -1;
    return x;
}

static void async_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct sent *x = arg;
    if (err != 0) {
        print_error("async send failed: %s\n", errmsg);
        async_failed++;
    } else {
        x->qid = res->queue_id;
        x->offset = res->queue_offset;
        assert_int_equal(res->status, TERN_SEND_OK);
        assert_int_equal(strlen(res->msg_id), 32);
    }
    async_done++;
}

static bool async_all(void *arg)
{
    return async_done == *(int *)arg;
}

static void produce_all(void)
{
    struct tern_sync *s = open_sync(TERN_HEADER_BINARY);
    struct tern_sync *sj = open_sync(TERN_HEADER_JSON);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "pg-client";
    struct tern_producer *p, *pj;
    assert_int_equal(tern_sync_producer(s, &po, &p), 0);
    assert_int_equal(tern_sync_producer(sj, &po, &pj), 0);
    struct tern_send_result res;
    char body[32];

    /* Synchronous, binary and JSON headers, tags alternating, with keys
     * and a user property. */
    struct tern_prop props[] = {{"origin", "sync"}};
    for (int i = 0; i < 30; i++) {
        snprintf(body, sizeof body, "sync-%d", i);
        const char *tags = i % 2 ? "TagB" : "TagA";
        struct sent *x = add(body, tags);
        struct tern_send_msg m = {.topic = TOPIC, .body = body, .body_len = strlen(body),
                                  .tags = tags, .keys = "k1 k2", .props = props, .prop_count = 1};
        struct tern_sync *which = i % 3 == 2 ? sj : s;
        int rv = tern_sync_send(which, i % 3 == 2 ? pj : p, &m, &res);
        if (rv != 0)
            fail_msg("send %d: %s", i, tern_sync_errmsg(which));
        assert_int_equal(res.status, TERN_SEND_OK);
        assert_true(res.queue_id >= 0 && res.queue_id < QUEUES);
        assert_string_equal(res.broker_name, "broker-a");
        assert_int_equal(strlen(res.msg_id), 32);
        assert_int_equal(strlen(res.offset_msg_id), 32);
        x->qid = res.queue_id;
        x->offset = res.queue_offset;
    }

    /* Explicit queue and sharding key. */
    snprintf(body, sizeof body, "explicit-q2");
    struct sent *x = add(body, "TagA");
    struct tern_send_msg mq = {.topic = TOPIC, .body = body, .body_len = strlen(body), .tags = "TagA",
                               .use_queue_id = true, .queue_id = 2};
    assert_int_equal(tern_sync_send(s, p, &mq, &res), 0);
    assert_int_equal(res.queue_id, 2);
    x->qid = res.queue_id;
    x->offset = res.queue_offset;
    int key_q = -1;
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "keyed-%d", i);
        x = add(body, "TagB");
        struct tern_send_msg mk = {.topic = TOPIC, .body = body, .body_len = strlen(body),
                                   .tags = "TagB", .sharding_key = "order-42"};
        assert_int_equal(tern_sync_send(s, p, &mk, &res), 0);
        if (key_q < 0)
            key_q = res.queue_id;
        assert_int_equal(res.queue_id, key_q); /* same key, same queue */
        x->qid = res.queue_id;
        x->offset = res.queue_offset;
    }

    /* Asynchronous: many in flight at once. */
    int want = 0;
    async_done = async_failed = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(body, sizeof body, "async-%d", i);
        x = add(body, "TagA");
        struct tern_send_msg m = {.topic = TOPIC, .body = body, .body_len = strlen(body), .tags = "TagA"};
        assert_int_equal(tern_producer_send(p, &m, async_cb, x), 0);
        want++;
    }
    assert_true(run_until(s, async_all, &want, 20000));
    assert_int_equal(async_failed, 0);

    /* A batch: one queue, consecutive offsets. */
    struct tern_send_msg batch[10];
    char bodies[10][32];
    struct sent *first = NULL;
    for (int i = 0; i < 10; i++) {
        snprintf(bodies[i], sizeof bodies[i], "batch-%d", i);
        struct sent *bx = add(bodies[i], "TagB");
        if (!first)
            first = bx;
        batch[i] = (struct tern_send_msg){.topic = TOPIC, .body = bodies[i],
                                          .body_len = strlen(bodies[i]), .tags = "TagB"};
    }
    if (tern_sync_send_batch(s, p, batch, 10, &res) != 0)
        fail_msg("batch: %s", tern_sync_errmsg(s));
    assert_int_equal(strlen(res.msg_id), 10 * 32 + 9);
    for (int i = 0; i < 10; i++) {
        first[i].qid = res.queue_id;
        first[i].offset = res.queue_offset + i;
    }

    /* Compressed bodies (over the 4 KiB threshold). */
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof body, "big-%d-", i);
        x = add(body, "TagA");
        x->big = 20000 + (size_t)i * 1000;
        char *b = big_body(body, x->big);
        struct tern_send_msg m = {.topic = TOPIC, .body = b, .body_len = x->big, .tags = "TagA"};
        assert_int_equal(tern_sync_send(s, p, &m, &res), 0);
        x->qid = res.queue_id;
        x->offset = res.queue_offset;
        free(b);
    }

    /* Oneway: no result; they still arrive. */
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "oneway-%d", i);
        add(body, "TagB");
        struct tern_send_msg m = {.topic = TOPIC, .body = body, .body_len = strlen(body), .tags = "TagB"};
        assert_int_equal(tern_producer_send_oneway(p, &m), 0);
    }
    /* Invalid messages fail now. */
    struct tern_send_msg bad = {.topic = "bad topic!", .body = "x", .body_len = 1};
    assert_int_equal(tern_producer_send(p, &bad, async_cb, NULL), TERN_E_INVAL);
    tern_sync_close(sj);
    tern_sync_close(s);
}

/* ---- consuming ---- */

struct consume_state {
    size_t received;
    size_t expected;
    int64_t last_offset[QUEUES];
    bool order_ok;
    bool content_ok;
    const char *only_tag;
    char problem[256];
};

static struct sent *find_sent(const char *body, size_t n)
{
    for (size_t i = 0; i < nsent; i++) {
        struct sent *x = &sent[i];
        size_t bl = strlen(x->body);
        if (x->big ? (n == x->big && memcmp(body, x->body, bl) == 0)
                   : (n == bl && memcmp(body, x->body, n) == 0))
            return x;
    }
    return NULL;
}

static int consume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct consume_state *st = arg;
    for (size_t i = 0; i < n; i++) {
        const struct tern_msg *m = msgs[i];
        int q = tern_msg_queue_id(m);
        int64_t off = tern_msg_queue_offset(m);
        if (q < 0 || q >= QUEUES || off <= st->last_offset[q]) {
            st->order_ok = false;
            snprintf(st->problem, sizeof st->problem, "queue %d: offset %" PRId64 " after %" PRId64, q,
                     off, q >= 0 && q < QUEUES ? st->last_offset[q] : -1);
        } else {
            st->last_offset[q] = off;
        }
        size_t len;
        const char *body = tern_msg_body(m, &len);
        struct sent *x = find_sent(body, len);
        if (!x) {
            st->content_ok = false;
            snprintf(st->problem, sizeof st->problem, "unknown body '%.*s' (%zu bytes)",
                     (int)(len < 40 ? len : 40), body, len);
            continue;
        }
        if (x->big) {
            char *want = big_body(x->body, x->big);
            if (memcmp(want, body, len) != 0)
                st->content_ok = false;
            free(want);
            if (!(tern_msg_sysflag(m) & 1))
                st->content_ok = false; /* must have travelled compressed */
        }
        if (strcmp(tern_msg_topic(m), TOPIC) != 0 || strcmp(tern_msg_tags(m), x->tags) != 0 ||
            (x->offset >= 0 && (x->qid != q || x->offset != off)) || strlen(tern_msg_id(m)) != 32) {
            st->content_ok = false;
            snprintf(st->problem, sizeof st->problem, "%s: q %d off %" PRId64 " tags %s, sent q %d off %" PRId64,
                     x->body, q, off, tern_msg_tags(m), x->qid, x->offset);
        }
        if (strncmp(x->body, "sync-", 5) == 0 &&
            (!tern_msg_property(m, "origin") || strcmp(tern_msg_keys(m), "k1 k2") != 0))
            st->content_ok = false;
        if (st->only_tag && strcmp(tern_msg_tags(m), st->only_tag) != 0)
            st->content_ok = false;
        x->seen++;
        st->received++;
    }
    return TERN_CONSUME_SUCCESS;
}

static bool received_all(void *arg)
{
    struct consume_state *st = arg;
    return st->received >= st->expected;
}

static void consume_group(const char *group, const char *expr, const char *only_tag, size_t expected)
{
    for (size_t i = 0; i < nsent; i++)
        sent[i].seen = 0;
    struct consume_state st = {.expected = expected, .order_ok = true, .content_ok = true,
                               .only_tag = only_tag};
    for (int q = 0; q < QUEUES; q++)
        st.last_offset[q] = -1;
    struct tern_sync *s = open_sync(TERN_HEADER_BINARY);
    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = group;
    co.topic = TOPIC;
    co.expression = expr;
    co.from = TERN_FROM_FIRST;
    co.batch_max = 4;
    co.commit_ms = 200;
    co.cb = consume_cb;
    co.arg = &st;
    struct tern_consumer *cons;
    assert_int_equal(tern_consumer_new(tern_sync_client(s), &co, &cons), 0);
    /* A second consumer of the same group on one client is refused. */
    struct tern_consumer *dup;
    assert_int_equal(tern_consumer_new(tern_sync_client(s), &co, &dup), TERN_E_EXISTS);
    bool ok = run_until(s, received_all, &st, 60000);
    if (!ok) {
        proc_dump_log(&tc.broker, 40);
        fail_msg("group %s: received %zu of %zu (%s)", group, st.received, expected, st.problem);
    }
    assert_true(st.order_ok);
    if (!st.content_ok)
        fail_msg("content: %s", st.problem);
    for (size_t i = 0; i < nsent; i++)
        if (!only_tag || strcmp(sent[i].tags, only_tag) == 0)
            if (sent[i].seen != 1)
                fail_msg("%s seen %d times", sent[i].body, sent[i].seen);
    assert_int_equal(tern_consumer_owned(cons, NULL, 0), QUEUES);
    tern_sync_close(s);
}

static void test_produce_then_consume_everything(void **state)
{
    (void)state;
    nsent = 0;
    produce_all();
    consume_group("cg-all", "*", NULL, nsent);

    /* Committed offsets reached the broker on close and equal the queue ends. */
    struct tern_sync *s = open_sync(TERN_HEADER_BINARY);
    int64_t total_max = 0, total_committed = 0;
    for (int q = 0; q < QUEUES; q++) {
        int64_t max, committed;
        if (tern_sync_max_offset(s, TOPIC, "broker-a", q, &max) != 0)
            fail_msg("max offset q%d: %s", q, tern_sync_errmsg(s));
        if (tern_sync_committed_offset(s, "cg-all", TOPIC, "broker-a", q, &committed) != 0)
            fail_msg("committed offset q%d: %s", q, tern_sync_errmsg(s));
        assert_int_equal(committed, max);
        total_max += max;
        total_committed += committed;
    }
    assert_int_equal(total_max, (int64_t)nsent);
    assert_int_equal(total_committed, total_max);

    /* A one-shot pull for tools. */
    const struct tern_pull_result *pr;
    if (tern_sync_pull(s, "tool-group", TOPIC, "broker-a", 0, 0, 5, NULL, &pr) != 0)
        fail_msg("pull: %s", tern_sync_errmsg(s));
    assert_int_equal(pr->status, TERN_PULL_FOUND);
    assert_true(pr->n >= 1 && pr->n <= 5);
    assert_int_equal(tern_msg_queue_offset(pr->msgs[0]), 0);
    assert_int_equal(pr->next_offset, tern_msg_queue_offset(pr->msgs[pr->n - 1]) + 1);
    int64_t max0;
    assert_int_equal(tern_sync_max_offset(s, TOPIC, "broker-a", 0, &max0), 0);
    assert_int_equal(tern_sync_pull(s, "tool-group", TOPIC, "broker-a", 0, max0, 5, NULL, &pr), 0);
    assert_int_equal(pr->status, TERN_PULL_NO_NEW_MSG);

    /* Topic list holds the topic. */
    const char *const *topics;
    size_t nt;
    assert_int_equal(tern_sync_topic_list(s, &topics, &nt), 0);
    bool found = false;
    for (size_t i = 0; i < nt; i++)
        found = found || strcmp(topics[i], TOPIC) == 0;
    assert_true(found);
    /* Unknown groups have no committed offset; a broker may answer 0 while
     * the queue still starts at 0 (ROCKETMQ-PROTOCOL.md §4.4). */
    int64_t none;
    int rv = tern_sync_committed_offset(s, "never-used", TOPIC, "broker-a", 0, &none);
    assert_true(rv == TERN_E_NOTFOUND || (rv == 0 && none == 0));
    tern_sync_close(s);

    /* Tag filtering: only TagA, each exactly once. */
    size_t tag_a = 0;
    for (size_t i = 0; i < nsent; i++)
        tag_a += strcmp(sent[i].tags, "TagA") == 0;
    consume_group("cg-tag", "TagA", "TagA", tag_a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_then_consume_everything),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
