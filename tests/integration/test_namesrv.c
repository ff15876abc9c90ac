/* Integration: a real tern-namesrv process on loopback. Brokers register (JSON
 * and binary headers), clients read routes, cluster info and topic lists,
 * KV config works, a closed broker connection drops its routes, and a bad
 * frame closes only the offending connection. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol/brokerbody.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/route.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/testlib.h"

static struct proc ns;
static char addr[64];
static char dir[512];

static int setup(void **state)
{
    (void)state;
    char bin[512], log[600], port_s[16];
    testlib_tmpdir(dir, sizeof dir, "namesrv");
    int port = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    const char *argv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s,
                          "--set", "scanNotActiveBrokerInterval=200ms", NULL};
    proc_start(&ns, argv, log);
    if (!proc_wait_port(port, 10000)) {
        proc_dump_log(&ns, 50);
        fail_msg("name server did not start");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&ns, 5000);
    assert_true(WIFEXITED(ns.status) && WEXITSTATUS(ns.status) == 0);
    testlib_rmtree(dir);
    return 0;
}

static int register_broker(struct rpcsync *s, const char *name, const char *baddr, int64_t id,
                           const char *const *topics, size_t ntopics, uint8_t ser, int64_t timeout_ms)
{
    struct brokerbody_topic bt[8];
    memset(bt, 0, sizeof bt);
    for (size_t i = 0; i < ntopics; i++) {
        bt[i].topic_name = topics[i];
        bt[i].read_queue_nums = bt[i].write_queue_nums = 4;
        bt[i].perm = 6;
    }
    struct brokerbody bb = {.data_version = {1, 0, 1700000000000}, .topics = bt, .topic_count = ntopics};
    struct buf body;
    buf_init(&body);
    assert_int_equal(brokerbody_encode(&bb, &body), 0);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_REGISTER_BROKER);
    req.serialize = ser;
    struct headers_admin_register_req h = {
        .broker_name = slice_of(name),
        .broker_addr = slice_of(baddr),
        .cluster_name = slice_of("TestCluster"),
        .ha_server_addr = slice_of("127.0.0.1:10912"),
        .broker_id = id,
        .has_heartbeat_timeout_millis = timeout_ms > 0,
        .heartbeat_timeout_millis = timeout_ms,
    };
    assert_int_equal(headers_admin_register_req_encode(&h, &req), 0);
    int rv = rpcsync_call(s, &req, body.data, body.len, 5000);
    if (rv == 0 && s->resp.code != 0)
        fprintf(stderr, "register: %d %.*s\n", s->resp.code, (int)s->resp.remark.len, s->resp.remark.p);
    remoting_cmd_free(&req);
    buf_free(&body);
    return rv == 0 ? s->resp.code : rv;
}

/* Returns the response code; on success decodes the route into rd/arena. */
static int get_route(struct rpcsync *s, const char *topic, int version, struct route_data *rd, struct buf *arena)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_GET_ROUTEINFO_BY_TOPIC);
    req.version = version;
    remoting_ext_set_str(&req, "topic", topic);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 5000), 0);
    remoting_cmd_free(&req);
    if (s->resp.code == 0 && rd) {
        char err[ERRMSG_SIZE];
        assert_int_equal(route_decode(s->resp.body.p, s->resp.body.len, rd, arena, err), 0);
    }
    return s->resp.code;
}

static void test_register_and_route(void **state)
{
    (void)state;
    struct rpcsync broker, client;
    rpcsync_open(&broker, addr);
    rpcsync_open(&client, addr);
    const char *topics[] = {"OrderEvents", "TBW102"};
    assert_int_equal(register_broker(&broker, "broker-a", "127.0.0.1:10911", 0, topics, 2, REMOTING_SER_JSON, 0), 0);
    /* A second member of the group, binary header form. */
    assert_int_equal(register_broker(&broker, "broker-a", "127.0.0.1:10921", 1, NULL, 0, REMOTING_SER_ROCKETMQ, 0), 0);
    assert_int_equal(broker.resp.serialize, REMOTING_SER_ROCKETMQ);
    struct slice master = remoting_ext_get(&broker.resp, "masterAddr");
    assert_true(slice_eq(master, "127.0.0.1:10911"));

    struct route_data rd;
    struct buf arena;
    buf_init(&arena);
    assert_int_equal(get_route(&client, "OrderEvents", 479, &rd, &arena), 0);
    assert_int_equal(rd.queue_count, 1);
    assert_string_equal(rd.queues[0].broker_name, "broker-a");
    assert_int_equal(rd.queues[0].write_queue_nums, 4);
    assert_int_equal(rd.broker_count, 1);
    assert_int_equal(rd.brokers[0].addr_count, 2);
    /* An old client (version < 401) gets fastjson's bare numeric keys. */
    assert_int_equal(get_route(&client, "OrderEvents", 300, NULL, NULL), 0);
    assert_non_null(memmem(client.resp.body.p, client.resp.body.len, "{0:\"127.0.0.1:10911\"", 20));
    assert_int_equal(get_route(&client, "NoSuchTopic", 479, NULL, NULL), CODES_RESP_TOPIC_NOT_EXIST);
    assert_non_null(memmem(client.resp.remark.p, client.resp.remark.len, "NoSuchTopic", 11));

    /* Topic list and cluster info. */
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    assert_int_equal(rpcsync_call(&client, &req, NULL, 0, 5000), 0);
    struct route_topic_list tl;
    char err[ERRMSG_SIZE];
    assert_int_equal(route_topics_decode(client.resp.body.p, client.resp.body.len, &tl, &arena, err), 0);
    assert_int_equal(tl.count, 2);
    remoting_cmd_init_request(&req, CODES_REQ_GET_BROKER_CLUSTER_INFO);
    assert_int_equal(rpcsync_call(&client, &req, NULL, 0, 5000), 0);
    struct route_cluster_info ci;
    assert_int_equal(route_cluster_decode(client.resp.body.p, client.resp.body.len, &ci, &arena, err), 0);
    assert_int_equal(ci.cluster_count, 1);
    assert_string_equal(ci.clusters[0].cluster_name, "TestCluster");
    assert_int_equal(ci.broker_count, 1);

    /* The broker's connection closes: its routes disappear at once. */
    rpcsync_close(&broker);
    int code = 0;
    for (int i = 0; i < 100; i++) {
        code = get_route(&client, "OrderEvents", 479, NULL, NULL);
        if (code == CODES_RESP_TOPIC_NOT_EXIST)
            break;
        usleep(20000);
    }
    assert_int_equal(code, CODES_RESP_TOPIC_NOT_EXIST);
    remoting_cmd_free(&req);
    buf_free(&arena);
    rpcsync_close(&client);
}

static void test_expiry_without_heartbeat(void **state)
{
    (void)state;
    struct rpcsync broker;
    rpcsync_open(&broker, addr);
    const char *topics[] = {"Expiring"};
    assert_int_equal(register_broker(&broker, "broker-x", "127.0.0.1:11911", 0, topics, 1, REMOTING_SER_JSON, 300), 0);
    assert_int_equal(get_route(&broker, "Expiring", 479, NULL, NULL), 0);
    /* Registered with a 300 ms timeout and never refreshed: the scan (every
     * 200 ms) drops it although the connection stays open. */
    int code = 0;
    for (int i = 0; i < 100; i++) {
        rpcsync_run_for(&broker, 50);
        code = get_route(&broker, "Expiring", 479, NULL, NULL);
        if (code == CODES_RESP_TOPIC_NOT_EXIST)
            break;
    }
    assert_int_equal(code, CODES_RESP_TOPIC_NOT_EXIST);
    rpcsync_close(&broker);
}

static void test_kv_and_unknown_code(void **state)
{
    (void)state;
    struct rpcsync c;
    rpcsync_open(&c, addr);
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_PUT_KV_CONFIG);
    remoting_ext_set_str(&req, "namespace", "ORDER_TOPIC_CONFIG");
    remoting_ext_set_str(&req, "key", "OrderEvents");
    remoting_ext_set_str(&req, "value", "broker-a:4");
    assert_int_equal(rpcsync_call(&c, &req, NULL, 0, 5000), 0);
    assert_int_equal(c.resp.code, 0);
    remoting_cmd_init_request(&req, CODES_REQ_GET_KV_CONFIG);
    remoting_ext_set_str(&req, "namespace", "ORDER_TOPIC_CONFIG");
    remoting_ext_set_str(&req, "key", "OrderEvents");
    assert_int_equal(rpcsync_call(&c, &req, NULL, 0, 5000), 0);
    assert_true(slice_eq(remoting_ext_get(&c.resp, "value"), "broker-a:4"));
    remoting_ext_set_str(&req, "key", "Missing");
    assert_int_equal(rpcsync_call(&c, &req, NULL, 0, 5000), 0);
    assert_int_equal(c.resp.code, CODES_RESP_QUERY_NOT_FOUND);
    remoting_cmd_init_request(&req, 12345);
    assert_int_equal(rpcsync_call(&c, &req, NULL, 0, 5000), 0);
    assert_int_equal(c.resp.code, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED);
    remoting_cmd_free(&req);
    rpcsync_close(&c);
}

static void test_bad_frame_closes_only_that_connection(void **state)
{
    (void)state;
    struct rpcsync good, bad;
    rpcsync_open(&good, addr);
    rpcsync_open(&bad, addr);
    /* JSON header that is not JSON. */
    uint8_t frame[8 + 5];
    be32_store(frame, 4 + 5);
    be32_store(frame + 4, 5);
    memcpy(frame + 8, "{oops", 5);
    tcp_conn_write(bad.conn->tc, frame, sizeof frame);
    for (int i = 0; i < 200 && !bad.closed; i++)
        rpcsync_run_for(&bad, 10);
    assert_true(bad.closed);
    assert_int_equal(get_route(&good, "Nothing", 479, NULL, NULL), CODES_RESP_TOPIC_NOT_EXIST);
    rpcsync_close(&bad);
    rpcsync_close(&good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_and_route),
        cmocka_unit_test(test_expiry_without_heartbeat),
        cmocka_unit_test(test_kv_and_unknown_code),
        cmocka_unit_test(test_bad_frame_closes_only_that_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
