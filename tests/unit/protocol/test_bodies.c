/* Unit tests for the JSON bodies and queue allocation (PROTOCOL.md §M.6-§M.10). */
#include <stdio.h>
#include <string.h>

#include "protocol/allocate.h"
#include "protocol/brokerbody.h"
#include "protocol/heartbeat.h"
#include "protocol/lockbody.h"
#include "protocol/route.h"
#include "protocol/tags.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define S(lit) lit, sizeof(lit) - 1

static void assert_buf_str(const struct buf *b, const char *want)
{
    assert_int_equal(b->err, 0);
    if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
        fail_msg("got  %.*s\nwant %s", (int)b->len, (const char *)b->data, want);
}

static struct route_addr sample_addrs[] = {{0, "10.0.0.2:10911"}, {1, "10.0.0.3:10911"}};
static struct route_broker sample_brokers[] = {{
    .cluster = "DefaultCluster",
    .broker_name = "broker-a",
    .addrs = sample_addrs,
    .addr_count = 2,
}};
static struct route_queue sample_queues[] = {{"broker-a", 4, 4, 6, 0}};

/* §M.6: byte-exact output for a 4.9.3 client (version 400): bare keys. */
static void test_route_v400_unquoted(void **state)
{
    (void)state;
    struct route_data rd = {sample_brokers, 1, sample_queues, 1, NULL};
    struct buf b;
    buf_init(&b);
    assert_false(route_quoted_keys(400, false));
    assert_int_equal(route_encode(&rd, route_quoted_keys(400, false), &b), 0);
    assert_buf_str(&b, "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"10.0.0.2:10911\",1:\"10.0.0.3:"
                       "10911\"},\"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\","
                       "\"enableActingMaster\":false}],\"filterServerTable\":{},\"queueDatas\":[{"
                       "\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":4,\"topicSynFlag\":"
                       "0,\"topicSysFlag\":0,\"writeQueueNums\":4}]}");
    buf_free(&b);
}

/* §M.6: version 479 (5.x) and acceptStandardJsonOnly get quoted keys. */
static void test_route_v479_quoted_and_decode(void **state)
{
    (void)state;
    struct route_data rd = {sample_brokers, 1, sample_queues, 1, "broker-a:4"};
    struct buf b, arena;
    buf_init(&b);
    buf_init(&arena);
    assert_true(route_quoted_keys(479, false));
    assert_true(route_quoted_keys(300, true));
    assert_int_equal(route_encode(&rd, true, &b), 0);
    assert_buf_str(&b, "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"10.0.0.2:10911\",\"1\":\"10.0.0."
                       "3:10911\"},\"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\","
                       "\"enableActingMaster\":false}],\"filterServerTable\":{},\"orderTopicConf\":"
                       "\"broker-a:4\",\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,"
                       "\"readQueueNums\":4,\"topicSynFlag\":0,\"topicSysFlag\":0,"
                       "\"writeQueueNums\":4}]}");

    struct route_data d;
    char err[ERRMSG_SIZE];
    assert_int_equal(route_decode((const char *)b.data, b.len, &d, &arena, err), 0);
    buf_free(&b); /* decoded strings live in the arena, not the input */
    assert_int_equal(d.broker_count, 1);
    assert_string_equal(d.brokers[0].broker_name, "broker-a");
    assert_string_equal(d.brokers[0].cluster, "DefaultCluster");
    assert_null(d.brokers[0].zone_name);
    assert_int_equal(d.brokers[0].addr_count, 2);
    assert_int_equal(d.brokers[0].addrs[1].broker_id, 1);
    assert_string_equal(d.brokers[0].addrs[1].addr, "10.0.0.3:10911");
    assert_int_equal(d.queue_count, 1);
    assert_int_equal(d.queues[0].perm, 6);
    assert_int_equal(d.queues[0].write_queue_nums, 4);
    assert_string_equal(d.order_topic_conf, "broker-a:4");

    /* Go/old Java field name topicSynFlag alone; empty lists. */
    assert_int_equal(route_decode(S("{\"brokerDatas\":[],\"queueDatas\":[{\"brokerName\":\"b\","
                                    "\"topicSynFlag\":3}]}"),
                                  &d, &arena, err),
                     0);
    assert_int_equal(d.queues[0].topic_sys_flag, 3);
    assert_int_equal(d.broker_count, 0);

    assert_int_equal(route_decode(S("{\"brokerDatas\":[{\"brokerName\":\"b\",\"brokerAddrs\":{"
                                    "\"x\":\"1.2.3.4:1\"}}]}"),
                                  &d, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "topic route: brokerDatas[0]: brokerAddrs: bad broker id \"x\"");
    assert_int_equal(route_decode(S("{\"queueDatas\":[{\"perm\":6}]}"), &d, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "topic route: queueDatas[0]: brokerName: missing");
    assert_int_equal(route_decode(S("{brokerDatas:[]}"), &d, &arena, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "topic route: bad JSON"));
    assert_int_equal(route_decode(S("[]"), &d, &arena, err), TERN_E_MALFORMED);
    buf_free(&arena);
}

static void test_cluster_info_and_topic_list(void **state)
{
    (void)state;
    const char *names[] = {"broker-a"};
    struct route_cluster cl = {"DefaultCluster", names, 1};
    struct route_cluster_info ci = {sample_brokers, 1, &cl, 1};
    struct buf b, arena;
    buf_init(&b);
    buf_init(&arena);
    assert_int_equal(route_cluster_encode(&ci, false, &b), 0);
    assert_buf_str(&b, "{\"brokerAddrTable\":{\"broker-a\":{\"brokerAddrs\":{0:\"10.0.0.2:10911\","
                       "1:\"10.0.0.3:10911\"},\"brokerName\":\"broker-a\",\"cluster\":"
                       "\"DefaultCluster\",\"enableActingMaster\":false}},\"clusterAddrTable\":{"
                       "\"DefaultCluster\":[\"broker-a\"]}}");
    buf_reset(&b);
    assert_int_equal(route_cluster_encode(&ci, true, &b), 0);
    struct route_cluster_info d;
    char err[ERRMSG_SIZE];
    assert_int_equal(route_cluster_decode((const char *)b.data, b.len, &d, &arena, err), 0);
    assert_int_equal(d.broker_count, 1);
    assert_int_equal(d.brokers[0].addr_count, 2);
    assert_int_equal(d.cluster_count, 1);
    assert_string_equal(d.clusters[0].cluster_name, "DefaultCluster");
    assert_int_equal(d.clusters[0].broker_name_count, 1);
    assert_string_equal(d.clusters[0].broker_names[0], "broker-a");

    const char *topics[] = {"T1", "%RETRY%cg"};
    struct route_topic_list tl = {topics, 2, NULL};
    buf_reset(&b);
    assert_int_equal(route_topics_encode(&tl, &b), 0);
    assert_buf_str(&b, "{\"topicList\":[\"T1\",\"%RETRY%cg\"]}");
    struct route_topic_list tld;
    assert_int_equal(route_topics_decode((const char *)b.data, b.len, &tld, &arena, err), 0);
    assert_int_equal(tld.count, 2);
    assert_string_equal(tld.topics[1], "%RETRY%cg");
    assert_null(tld.broker_addr);
    assert_int_equal(route_topics_decode(S("{\"topicList\":[1]}"), &tld, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "topic list: topicList[0]: expected a string");
    buf_free(&b);
    buf_free(&arena);
}

/* The ROCKETMQ-PROTOCOL.md §4.7 sample with mixed-case enum values and an
 * unknown key. */
static const char HB_SAMPLE[] =
    "{\"clientID\":\"10.0.0.5@12345#987654321\","
    "\"consumerDataSet\":[{\"groupName\":\"cg1\",\"consumeType\":\"CONSUME_PASSIVELY\","
    "\"messageModel\":\"Clustering\",\"consumeFromWhere\":\"consume_from_last_offset\","
    "\"subscriptionDataSet\":[{\"classFilterMode\":false,\"topic\":\"T1\",\"subString\":\"TagA || "
    "TagB\",\"tagsSet\":[\"TagA\",\"TagB\"],\"codeSet\":[2598919,2598920],"
    "\"subVersion\":1700000000000,\"expressionType\":\"TAG\"},{\"classFilterMode\":false,\"topic\":"
    "\"%RETRY%cg1\",\"subString\":\"*\",\"tagsSet\":[],\"codeSet\":[],\"subVersion\":"
    "1700000000001,\"expressionType\":\"TAG\"}],\"unitMode\":false}],"
    "\"producerDataSet\":[{\"groupName\":\"pg1\"},{\"groupName\":\"CLIENT_INNER_PRODUCER\"}],"
    "\"heartbeatFingerprint\":0,\"withoutSub\":false,\"someFutureKey\":{\"x\":[1,2]}}";

static void test_heartbeat_sample(void **state)
{
    (void)state;
    struct heartbeat hb;
    struct buf arena, b;
    buf_init(&arena);
    buf_init(&b);
    char err[ERRMSG_SIZE];
    assert_int_equal(heartbeat_decode(S(HB_SAMPLE), &hb, &arena, err), 0);
    assert_string_equal(hb.client_id, "10.0.0.5@12345#987654321");
    assert_int_equal(hb.consumer_count, 1);
    const struct heartbeat_consumer *c = &hb.consumers[0];
    assert_string_equal(c->group, "cg1");
    assert_int_equal(c->consume_type, HEARTBEAT_CONSUME_PASSIVELY);
    assert_int_equal(c->message_model, HEARTBEAT_CLUSTERING);
    assert_int_equal(c->from_where, HEARTBEAT_FROM_LAST_OFFSET);
    assert_int_equal(c->sub_count, 2);
    assert_string_equal(c->subs[0].topic, "T1");
    assert_string_equal(c->subs[0].sub_string, "TagA || TagB");
    assert_int_equal(c->subs[0].tag_count, 2);
    assert_string_equal(c->subs[0].tags[1], "TagB");
    assert_int_equal(c->subs[0].code_count, 2);
    assert_int_equal(c->subs[0].codes[0], tags_hash(S("TagA")));
    assert_int_equal(c->subs[0].sub_version, 1700000000000);
    assert_string_equal(c->subs[1].topic, "%RETRY%cg1");
    assert_int_equal(c->subs[1].tag_count, 0);
    assert_int_equal(hb.producer_count, 2);
    assert_string_equal(hb.producers[1].group, "CLIENT_INNER_PRODUCER");

    /* Encode then decode again: same content. */
    assert_int_equal(heartbeat_encode(&hb, &b), 0);
    assert_non_null(strstr((const char *)b.data, "\"messageModel\":\"CLUSTERING\""));
    struct buf arena2;
    buf_init(&arena2);
    struct heartbeat hb2;
    assert_int_equal(heartbeat_decode((const char *)b.data, b.len, &hb2, &arena2, err), 0);
    assert_int_equal(hb2.consumers[0].sub_count, 2);
    assert_int_equal(hb2.consumers[0].subs[0].codes[1], 2598920);
    assert_string_equal(hb2.producers[0].group, "pg1");

    /* Bad inputs name the field. */
    assert_int_equal(heartbeat_decode(S("{\"consumerDataSet\":[]}"), &hb, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "heartbeat: clientID: missing");
    assert_int_equal(heartbeat_decode(S("{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":"
                                        "\"g\",\"messageModel\":\"BOTH\"}]}"),
                                      &hb, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "heartbeat: consumerDataSet[0]: messageModel: unknown value \"BOTH\"");
    assert_int_equal(heartbeat_decode(S("{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":"
                                        "\"g\",\"subscriptionDataSet\":[{\"topic\":\"t\","
                                        "\"codeSet\":[4294967296]}]}]}"),
                                      &hb, &arena, err),
                     TERN_E_MALFORMED);
    assert_non_null(strstr(err, "subscriptionDataSet[0]: codeSet[0]: expected an int32"));
    /* A tight arena limit fails cleanly instead of growing. */
    struct buf small;
    buf_init(&small);
    small.max = 64;
    assert_int_equal(heartbeat_decode(S(HB_SAMPLE), &hb, &small, err), TERN_E_TOOBIG);
    assert_non_null(strstr(err, "arena"));
    buf_free(&small);
    buf_free(&arena2);
    buf_free(&arena);
    buf_free(&b);
}

/* Go client heartbeats: rocketmq-client-go v2 sends codeSet as decimal
 * strings and "UNKNOWN" for an unset consumeFromWhere; v1 sent PUSH/PULL,
 * CamelCase enum names and uint32 codes. */
static void test_heartbeat_go_clients(void **state)
{
    (void)state;
    struct heartbeat hb;
    struct buf arena;
    buf_init(&arena);
    char err[ERRMSG_SIZE];
    assert_int_equal(
        heartbeat_decode(S("{\"clientID\":\"10.0.0.9@go\",\"producerDataSet\":[],"
                           "\"consumerDataSet\":[{\"groupName\":\"g\",\"consumeType\":"
                           "\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\","
                           "\"consumeFromWhere\":\"UNKNOWN\",\"subscriptionDataSet\":[{"
                           "\"classFilterMode\":false,\"topic\":\"T\",\"subString\":\"TagA||TagB\","
                           "\"tagsSet\":[\"TagA\",\"TagB\"],\"codeSet\":[\"2598919\",\"-5\"],"
                           "\"subVersion\":1,\"expressionType\":\"TAG\"}],\"unitMode\":false}]}"),
                         &hb, &arena, err),
        0);
    assert_int_equal(hb.consumers[0].from_where, HEARTBEAT_FROM_UNKNOWN);
    assert_int_equal(hb.consumers[0].subs[0].code_count, 2);
    assert_int_equal(hb.consumers[0].subs[0].codes[0], 2598919);
    assert_int_equal(hb.consumers[0].subs[0].codes[1], -5);
    assert_int_equal(
        heartbeat_decode(S("{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":\"g\","
                           "\"consumeType\":\"PULL\",\"messageModel\":\"Broadcasting\","
                           "\"consumeFromWhere\":\"ConsumeFromFirstOffset\",\"subscriptionDataSet\":"
                           "[{\"topic\":\"T\",\"codeSet\":[4294967295]}]}]}"),
                         &hb, &arena, err),
        0);
    assert_int_equal(hb.consumers[0].consume_type, HEARTBEAT_CONSUME_ACTIVELY);
    assert_int_equal(hb.consumers[0].message_model, HEARTBEAT_BROADCASTING);
    assert_int_equal(hb.consumers[0].from_where, HEARTBEAT_FROM_FIRST_OFFSET);
    assert_int_equal(hb.consumers[0].subs[0].codes[0], -1);
    assert_string_equal(hb.consumers[0].subs[0].expression_type, "TAG");
    assert_int_equal(
        heartbeat_decode(S("{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":\"g\","
                           "\"subscriptionDataSet\":[{\"topic\":\"T\",\"codeSet\":[\"12x\"]}]}]}"),
                         &hb, &arena, err),
        TERN_E_MALFORMED);
    assert_non_null(strstr(err, "codeSet[0]: expected an int32"));
    buf_free(&arena);
}

static void test_register_body(void **state)
{
    (void)state;
    struct brokerbody_attr attrs[] = {{"+message.type", "NORMAL"}};
    struct brokerbody_topic topics[] = {
        {"TopicTest", 4, 4, 6, 0, BROKERBODY_SINGLE_TAG, false, attrs, 1},
        {"TBW102", 8, 8, 7, 0, BROKERBODY_MULTI_TAG, true, NULL, 0},
    };
    struct brokerbody bb = {{12, 0, 1700000000000}, topics, 2, NULL, 0};
    struct buf b, arena;
    buf_init(&b);
    buf_init(&arena);
    assert_int_equal(brokerbody_encode(&bb, &b), 0);
    assert_buf_str(
        &b, "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":"
            "12,\"stateVersion\":0,\"timestamp\":1700000000000},\"mappingDataVersion\":{\"counter\":"
            "0,\"stateVersion\":0,\"timestamp\":1700000000000},\"topicConfigTable\":{\"TopicTest\":{"
            "\"attributes\":{\"+message.type\":\"NORMAL\"},\"order\":false,\"perm\":6,"
            "\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"TopicTest\","
            "\"topicSysFlag\":0,\"writeQueueNums\":4},\"TBW102\":{\"attributes\":{},\"order\":true,"
            "\"perm\":7,\"readQueueNums\":8,\"topicFilterType\":\"MULTI_TAG\",\"topicName\":"
            "\"TBW102\",\"topicSysFlag\":0,\"writeQueueNums\":8}},\"topicQueueMappingDetailMap\":{},"
            "\"topicQueueMappingInfoMap\":{}}}");

    struct brokerbody d;
    char err[ERRMSG_SIZE];
    assert_int_equal(brokerbody_decode((const char *)b.data, b.len, false, &d, &arena, err), 0);
    assert_int_equal(d.data_version.counter, 12);
    assert_int_equal(d.data_version.timestamp, 1700000000000);
    assert_int_equal(d.topic_count, 2);
    assert_string_equal(d.topics[0].topic_name, "TopicTest");
    assert_int_equal(d.topics[0].attr_count, 1);
    assert_string_equal(d.topics[0].attrs[0].val, "NORMAL");
    assert_int_equal(d.topics[1].perm, 7);
    assert_int_equal(d.topics[1].filter_type, BROKERBODY_MULTI_TAG);
    assert_true(d.topics[1].order);

    /* 4.x body: no stateVersion, table key only. */
    assert_int_equal(brokerbody_decode(S("{\"topicConfigSerializeWrapper\":{\"dataVersion\":{"
                                         "\"counter\":3,\"timestamp\":5},\"topicConfigTable\":{"
                                         "\"T\":{\"perm\":6,\"readQueueNums\":1,"
                                         "\"writeQueueNums\":2}}}}"),
                                       false, &d, &arena, err),
                     0);
    assert_int_equal(d.data_version.counter, 3);
    assert_string_equal(d.topics[0].topic_name, "T");
    assert_int_equal(d.topics[0].write_queue_nums, 2);

    assert_int_equal(brokerbody_decode((const char *)b.data, b.len, true, &d, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "register body: compressed register body not supported");
    assert_int_equal(brokerbody_decode(S("{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{"
                                         "\"T\":{\"readQueueNums\":-1}}}}"),
                                       false, &d, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err,
                        "register body: topicConfigTable[T]: readQueueNums: -1 out of range");

    struct brokerbody_version dv;
    buf_reset(&b);
    assert_int_equal(brokerbody_version_encode(&bb.data_version, &b), 0);
    assert_int_equal(brokerbody_version_decode((const char *)b.data, b.len, &dv, err), 0);
    assert_int_equal(dv.counter, 12);
    buf_free(&b);
    buf_free(&arena);
}

static void test_lock_bodies(void **state)
{
    (void)state;
    struct lockbody_mq mqs[] = {{"T", "broker-a", 0}, {"T", "broker-a", 3}};
    struct lockbody_req req = {"cg", "10.0.0.5@1", false, mqs, 2};
    struct buf b, arena;
    buf_init(&b);
    buf_init(&arena);
    assert_int_equal(lockbody_req_encode(&req, &b), 0);
    assert_buf_str(&b, "{\"clientId\":\"10.0.0.5@1\",\"consumerGroup\":\"cg\",\"mqSet\":[{"
                       "\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"T\"},{\"brokerName\":"
                       "\"broker-a\",\"queueId\":3,\"topic\":\"T\"}],\"onlyThisBroker\":false}");
    struct lockbody_req d;
    char err[ERRMSG_SIZE];
    assert_int_equal(lockbody_req_decode((const char *)b.data, b.len, &d, &arena, err), 0);
    assert_string_equal(d.consumer_group, "cg");
    assert_string_equal(d.client_id, "10.0.0.5@1");
    assert_int_equal(d.mq_count, 2);
    assert_int_equal(d.mqs[1].queue_id, 3);
    assert_string_equal(d.mqs[1].broker_name, "broker-a");
    assert_int_equal(lockbody_req_decode(S("{\"consumerGroup\":\"cg\",\"clientId\":\"c\","
                                           "\"mqSet\":[{\"topic\":\"T\",\"brokerName\":\"b\"}]}"),
                                         &d, &arena, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "lock body: mqSet[0]: queueId: missing");

    buf_reset(&b);
    assert_int_equal(lockbody_ok_encode(mqs, 1, &b), 0);
    assert_buf_str(&b, "{\"lockOKMQSet\":[{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":"
                       "\"T\"}]}");
    struct lockbody_mq *ok;
    size_t nok;
    assert_int_equal(lockbody_ok_decode((const char *)b.data, b.len, &ok, &nok, &arena, err), 0);
    assert_int_equal(nok, 1);
    assert_string_equal(ok[0].topic, "T");

    const char *ids[] = {"c1", "c2"};
    buf_reset(&b);
    assert_int_equal(lockbody_ids_encode(ids, 2, &b), 0);
    assert_buf_str(&b, "{\"consumerIdList\":[\"c1\",\"c2\"]}");
    const char **dids;
    size_t nids;
    assert_int_equal(lockbody_ids_decode((const char *)b.data, b.len, &dids, &nids, &arena, err),
                     0);
    assert_int_equal(nids, 2);
    assert_string_equal(dids[1], "c2");
    assert_int_equal(lockbody_ids_decode(S("{\"consumerIdList\":\"c1\"}"), &dids, &nids, &arena,
                                         err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "consumer list: consumerIdList: expected an array");
    buf_free(&b);
    buf_free(&arena);
}

/* §M.10 / ROCKETMQ-PROTOCOL.md §6.2 example: n=8, c=3 -> 3, 3, 2. */
static void test_allocate_example(void **state)
{
    (void)state;
    size_t start, count;
    size_t want[3][2] = {{0, 3}, {3, 3}, {6, 2}};
    for (size_t i = 0; i < 3; i++) {
        assert_true(allocate_averagely(8, 3, i, &start, &count));
        assert_int_equal(start, want[i][0]);
        assert_int_equal(count, want[i][1]);
    }
    /* More clients than queues: the last ones get nothing. */
    assert_true(allocate_averagely(2, 3, 1, &start, &count));
    assert_int_equal(start, 1);
    assert_int_equal(count, 1);
    assert_true(allocate_averagely(2, 3, 2, &start, &count));
    assert_int_equal(count, 0);
    /* Even split, and not in the list. */
    assert_true(allocate_averagely(8, 4, 3, &start, &count));
    assert_int_equal(start, 6);
    assert_int_equal(count, 2);
    assert_false(allocate_averagely(8, 3, 3, &start, &count));
    assert_int_equal(count, 0);

    /* Every queue assigned exactly once for a range of shapes. */
    for (size_t n = 0; n < 20; n++) {
        for (size_t c = 1; c < 8; c++) {
            size_t next = 0;
            for (size_t i = 0; i < c; i++) {
                allocate_averagely(n, c, i, &start, &count);
                if (count) {
                    assert_int_equal(start, next);
                    next += count;
                }
            }
            assert_int_equal(next, n);
        }
    }

    const char *ids[] = {"10.0.0.7@b", "10.0.0.5@a", "10.0.0.6@c"};
    allocate_sort_ids(ids, 3);
    assert_string_equal(ids[0], "10.0.0.5@a");
    assert_int_equal(allocate_find(ids, 3, "10.0.0.7@b"), 2);
    assert_int_equal(allocate_find(ids, 3, "x"), -1);
    struct lockbody_mq mqs[] = {{"T", "b", 1}, {"T", "a", 2}, {"S", "z", 0}, {"T", "a", 1}};
    allocate_sort_mqs(mqs, 4);
    assert_string_equal(mqs[0].topic, "S");
    assert_string_equal(mqs[1].broker_name, "a");
    assert_int_equal(mqs[1].queue_id, 1);
    assert_int_equal(mqs[2].queue_id, 2);
    assert_string_equal(mqs[3].broker_name, "b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_v400_unquoted),
        cmocka_unit_test(test_route_v479_quoted_and_decode),
        cmocka_unit_test(test_cluster_info_and_topic_list),
        cmocka_unit_test(test_heartbeat_sample),
        cmocka_unit_test(test_heartbeat_go_clients),
        cmocka_unit_test(test_register_body),
        cmocka_unit_test(test_lock_bodies),
        cmocka_unit_test(test_allocate_example),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
