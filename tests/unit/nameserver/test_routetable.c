/* Tests for nameserver/routetable.c: registration, id replacement, queue data
 * replacement by the master, expiry, connection close, KV config. */
#include <string.h>

#include "nameserver/routetable.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static struct rt_topic_conf tc(const char *name, int q, int perm)
{
    struct rt_topic_conf c;
    memset(&c, 0, sizeof c);
    strcpy(c.name, name);
    c.read_queues = c.write_queues = q;
    c.perm = perm;
    return c;
}

static struct rt_register reg(const char *name, const char *addr, int64_t id, const struct rt_topic_conf *t,
                              size_t n, void *conn)
{
    struct rt_register r;
    memset(&r, 0, sizeof r);
    r.cluster = "DefaultCluster";
    r.broker_name = name;
    r.broker_addr = addr;
    r.ha_addr = "";
    r.broker_id = id;
    r.topics = t;
    r.ntopics = n;
    r.conn = conn;
    return r;
}

static void test_register_and_route(void **state)
{
    (void)state;
    struct routetable rt;
    routetable_init(&rt);
    struct rt_topic_conf topics[] = {tc("TopicA", 4, 6), tc("TBW102", 8, 7)};
    struct rt_register r = reg("broker-a", "127.0.0.1:10911", 0, topics, 2, NULL);
    struct rt_register_result res;
    assert_int_equal(routetable_register(&rt, &r, 1000, &res), 0);
    struct rt_topic *t = routetable_topic(&rt, "TopicA");
    assert_non_null(t);
    assert_int_equal(t->nqd, 1);
    assert_string_equal(t->qd[0].broker_name, "broker-a");
    assert_int_equal(t->qd[0].write_queues, 4);
    assert_null(routetable_topic(&rt, "Nope"));

    /* A follower (id 2) registers: its topic table does not touch queue data,
     * and it learns the master's address. */
    struct rt_register f = reg("broker-a", "127.0.0.1:10921", 2, NULL, 0, NULL);
    assert_int_equal(routetable_register(&rt, &f, 1000, &res), 0);
    assert_string_equal(res.master_addr, "127.0.0.1:10911");
    assert_non_null(routetable_topic(&rt, "TopicA"));
    assert_int_equal(routetable_broker(&rt, "broker-a")->nmembers, 2);

    /* The master re-registers without TopicA: the topic disappears. */
    r.topics = &topics[1];
    r.ntopics = 1;
    assert_int_equal(routetable_register(&rt, &r, 2000, &res), 0);
    assert_null(routetable_topic(&rt, "TopicA"));
    assert_non_null(routetable_topic(&rt, "TBW102"));
    routetable_free(&rt);
}

static void test_leader_change_replaces_id_zero(void **state)
{
    (void)state;
    struct routetable rt;
    routetable_init(&rt);
    struct rt_topic_conf topics[] = {tc("T", 2, 6)};
    struct rt_register_result res;
    struct rt_register a = reg("g", "127.0.0.1:1", 0, topics, 1, NULL);
    struct rt_register b = reg("g", "127.0.0.1:2", 1, NULL, 0, NULL);
    assert_int_equal(routetable_register(&rt, &a, 0, &res), 0);
    assert_int_equal(routetable_register(&rt, &b, 0, &res), 0);
    /* b becomes leader: it takes id 0, the old leader's address leaves id 0. */
    b.broker_id = 0;
    b.topics = topics;
    b.ntopics = 1;
    assert_int_equal(routetable_register(&rt, &b, 0, &res), 0);
    struct rt_broker *g = routetable_broker(&rt, "g");
    assert_int_equal(g->nmembers, 1);
    assert_int_equal(g->members[0].id, 0);
    assert_string_equal(g->members[0].addr, "127.0.0.1:2");
    /* The old leader comes back as a follower. */
    a.broker_id = 1;
    assert_int_equal(routetable_register(&rt, &a, 0, &res), 0);
    assert_int_equal(g->nmembers, 2);
    assert_string_equal(res.master_addr, "127.0.0.1:2");
    routetable_free(&rt);
}

static void test_expiry_and_conn_close(void **state)
{
    (void)state;
    struct routetable rt;
    routetable_init(&rt);
    int conn1, conn2;
    struct rt_topic_conf ta[] = {tc("Shared", 4, 6), tc("OnlyA", 1, 6)};
    struct rt_topic_conf tb[] = {tc("Shared", 4, 6)};
    struct rt_register a = reg("a", "127.0.0.1:1", 0, ta, 2, &conn1);
    struct rt_register b = reg("b", "127.0.0.1:2", 0, tb, 1, &conn2);
    b.timeout_ms = 10000;
    struct rt_register_result res;
    assert_int_equal(routetable_register(&rt, &a, 0, &res), 0);
    assert_int_equal(routetable_register(&rt, &b, 0, &res), 0);
    assert_int_equal(routetable_topic(&rt, "Shared")->nqd, 2);

    /* b's own timeout is 10 s; a keeps the default 120 s. */
    assert_int_equal(routetable_expire(&rt, 10000), 0);
    assert_int_equal(routetable_expire(&rt, 10001), 1);
    assert_null(routetable_broker(&rt, "b"));
    assert_int_equal(routetable_topic(&rt, "Shared")->nqd, 1);

    assert_int_equal(routetable_conn_closed(&rt, &conn2), 0);
    assert_int_equal(routetable_conn_closed(&rt, &conn1), 1);
    assert_null(routetable_broker(&rt, "a"));
    assert_null(routetable_topic(&rt, "Shared"));
    assert_null(routetable_topic(&rt, "OnlyA"));
    routetable_free(&rt);
}

static void test_invalid_registration(void **state)
{
    (void)state;
    struct routetable rt;
    routetable_init(&rt);
    struct rt_register_result res;
    struct rt_register r = reg("", "127.0.0.1:1", 0, NULL, 0, NULL);
    assert_int_equal(routetable_register(&rt, &r, 0, &res), TERN_E_INVAL);
    r = reg("a", "127.0.0.1:1", -1, NULL, 0, NULL);
    assert_int_equal(routetable_register(&rt, &r, 0, &res), TERN_E_INVAL);
    routetable_free(&rt);
}

static void test_kv(void **state)
{
    (void)state;
    struct routetable rt;
    routetable_init(&rt);
    assert_null(routetable_kv_get(&rt, "ORDER_TOPIC_CONFIG", "T"));
    assert_int_equal(routetable_kv_put(&rt, "ORDER_TOPIC_CONFIG", "T", "a:4"), 0);
    assert_int_equal(routetable_kv_put(&rt, "ORDER_TOPIC_CONFIG", "T", "a:8"), 0);
    assert_string_equal(routetable_kv_get(&rt, "ORDER_TOPIC_CONFIG", "T"), "a:8");
    assert_null(routetable_kv_get(&rt, "OTHER", "T"));
    assert_int_equal(routetable_kv_delete(&rt, "ORDER_TOPIC_CONFIG", "T"), 0);
    assert_int_equal(routetable_kv_delete(&rt, "ORDER_TOPIC_CONFIG", "T"), TERN_E_NOTFOUND);
    routetable_free(&rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_route),
        cmocka_unit_test(test_leader_change_replaces_id_zero),
        cmocka_unit_test(test_expiry_and_conn_close),
        cmocka_unit_test(test_invalid_registration),
        cmocka_unit_test(test_kv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
