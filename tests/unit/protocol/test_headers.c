/* Unit tests for the typed headers of protocol/headers*.c (PROTOCOL.md §4). */
#include <stdio.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/remoting.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define S(x) slice_of(x)

/* ---- fill functions: every field set, optional ones included ---- */

static void fill_send_req(void *v)
{
    struct headers_send_req *h = v;
    h->producer_group = S("pg1");
    h->topic = S("TopicTest");
    h->default_topic = S("TBW102");
    h->default_topic_queue_nums = 4;
    h->queue_id = 3;
    h->sys_flag = 4;
    h->born_timestamp = 1700000000123LL;
    h->flag = 7;
    h->properties = S("KEYS\001k1\002TAGS\001TagA\002UNIQ_KEY\001ABC\002");
    h->has_reconsume_times = true;
    h->reconsume_times = 2;
    h->has_unit_mode = true;
    h->unit_mode = false;
    h->has_max_reconsume_times = true;
    h->max_reconsume_times = 16;
    h->has_batch = true;
    h->batch = true;
    h->broker_name = S("broker-a");
    h->bname = S("broker-a");
}

static void fill_send_resp(void *v)
{
    struct headers_send_resp *h = v;
    h->msg_id = S("0A00000500002A9F0000000000000000");
    h->queue_id = 1;
    h->queue_offset = 99;
    h->transaction_id = S("UNIQ");
    h->batch_uniq_id = S("B1");
    h->msg_region = S("DefaultRegion");
    h->trace_on = true;
}

static void fill_pull_req(void *v)
{
    struct headers_pull_req *h = v;
    h->consumer_group = S("cg1");
    h->topic = S("%RETRY%cg1");
    h->queue_id = 2;
    h->queue_offset = 1234567890123LL;
    h->max_msg_nums = 32;
    h->sys_flag = HEADERS_PULL_FLAG_SUSPEND | HEADERS_PULL_FLAG_SUBSCRIPTION;
    h->commit_offset = -1;
    h->suspend_timeout_millis = 15000;
    h->subscription = S("TagA || TagB");
    h->sub_version = 1700000000000LL;
    h->expression_type = S("TAG");
    h->has_max_msg_bytes = true;
    h->max_msg_bytes = 262144;
    h->bname = S("broker-a");
}

static void fill_pull_resp(void *v)
{
    struct headers_pull_resp *h = v;
    h->suggest_which_broker_id = 0;
    h->next_begin_offset = 42;
    h->min_offset = 0;
    h->max_offset = 100;
    h->has_offset_delta = true;
    h->offset_delta = 5;
    h->has_topic_sys_flag = true;
    h->topic_sys_flag = 1;
    h->has_group_sys_flag = true;
    h->group_sys_flag = 2;
    h->has_forbidden_type = true;
    h->forbidden_type = 3;
}

static void fill_offset_query(void *v)
{
    struct headers_offset_query_req *h = v;
    h->consumer_group = S("cg");
    h->topic = S("T");
    h->queue_id = 0;
    h->has_set_zero_if_not_found = true;
    h->set_zero_if_not_found = true;
}

static void fill_offset_update(void *v)
{
    struct headers_offset_update_req *h = v;
    h->consumer_group = S("cg");
    h->topic = S("T");
    h->queue_id = 1;
    h->commit_offset = 77;
}

static void fill_offset_queue(void *v)
{
    struct headers_offset_queue_req *h = v;
    h->topic = S("T");
    h->queue_id = 5;
    h->has_committed = true;
    h->committed = false;
}

static void fill_offset_search(void *v)
{
    struct headers_offset_search_req *h = v;
    h->topic = S("T");
    h->queue_id = 5;
    h->timestamp = 1700000000000LL;
    h->boundary_type = S("upper");
}

static void fill_offset_resp(void *v)
{
    ((struct headers_offset_resp *)v)->offset = -9;
}

static void fill_time_resp(void *v)
{
    ((struct headers_offset_time_resp *)v)->timestamp = 1700000000001LL;
}

static void fill_unregister_client(void *v)
{
    struct headers_client_unregister_req *h = v;
    h->client_id = S("10.0.0.5@123#456");
    h->producer_group = S("pg");
    h->consumer_group = S("cg");
}

static void fill_group(void *v)
{
    ((struct headers_client_group_req *)v)->consumer_group = S("cg");
}

static void fill_sendback(void *v)
{
    struct headers_client_sendback_req *h = v;
    h->offset = 4096;
    h->group = S("cg");
    h->delay_level = -1;
    h->origin_msg_id = S("ORIG");
    h->origin_topic = S("T");
    h->has_unit_mode = true;
    h->unit_mode = true;
    h->has_max_reconsume_times = true;
    h->max_reconsume_times = 16;
    h->bname = S("b");
}

static void fill_endtx(void *v)
{
    struct headers_client_endtx_req *h = v;
    h->topic = S("T");
    h->producer_group = S("pg");
    h->tran_state_table_offset = 10;
    h->commit_log_offset = 20;
    h->commit_or_rollback = HEADERS_TX_COMMIT;
    h->has_from_transaction_check = true;
    h->from_transaction_check = true;
    h->msg_id = S("UNIQ");
    h->transaction_id = S("TX");
    h->bname = S("b");
}

static void fill_checktx(void *v)
{
    struct headers_client_checktx_req *h = v;
    h->topic = S("T");
    h->tran_state_table_offset = 10;
    h->commit_log_offset = 20;
    h->msg_id = S("UNIQ");
    h->transaction_id = S("TX");
    h->offset_msg_id = S("OFF");
    h->bname = S("b");
}

static void fill_query(void *v)
{
    struct headers_client_query_req *h = v;
    h->topic = S("T");
    h->key = S("order-1");
    h->max_num = 32;
    h->begin_timestamp = 1;
    h->end_timestamp = 2;
    h->has_unique_key_query = true;
    h->unique_key_query = true;
}

static void fill_query_resp(void *v)
{
    struct headers_client_query_resp *h = v;
    h->index_last_update_timestamp = 3;
    h->index_last_update_phyoffset = 4;
}

static void fill_view(void *v)
{
    struct headers_client_view_req *h = v;
    h->offset = 123;
    h->topic = S("T");
}

static void fill_topic(void *v)
{
    struct headers_admin_topic_req *h = v;
    h->topic = S("NewTopic");
    h->default_topic = S("TBW102");
    h->read_queue_nums = 8;
    h->write_queue_nums = 8;
    h->perm = 6;
    h->topic_filter_type = S("SINGLE_TAG");
    h->has_topic_sys_flag = true;
    h->topic_sys_flag = 0;
    h->order = true;
    h->attributes = S("+message.type=NORMAL");
    h->has_force = true;
    h->force = false;
}

static void fill_register(void *v)
{
    struct headers_admin_register_req *h = v;
    h->broker_name = S("broker-a");
    h->broker_addr = S("10.0.0.2:10911");
    h->cluster_name = S("DefaultCluster");
    h->ha_server_addr = S("10.0.0.2:10912");
    h->broker_id = 0;
    h->has_heartbeat_timeout_millis = true;
    h->heartbeat_timeout_millis = 120000;
    h->has_enable_acting_master = true;
    h->enable_acting_master = false;
    h->compressed = false;
    h->body_crc32 = 0x12345678;
    h->zone_name = S("zone1");
}

static void fill_register_resp(void *v)
{
    struct headers_admin_register_resp *h = v;
    h->ha_server_addr = S("10.0.0.2:10912");
    h->master_addr = S("10.0.0.2:10911");
}

static void fill_unregister_broker(void *v)
{
    struct headers_admin_unregister_req *h = v;
    h->broker_name = S("broker-a");
    h->broker_addr = S("10.0.0.2:10911");
    h->cluster_name = S("DefaultCluster");
    h->broker_id = 1;
}

static void fill_route(void *v)
{
    struct headers_admin_route_req *h = v;
    h->topic = S("T");
    h->has_accept_standard_json_only = true;
    h->accept_standard_json_only = true;
}

static void fill_kv(void *v)
{
    struct headers_admin_kv_req *h = v;
    h->namespace_ = S("ORDER_TOPIC_CONFIG");
    h->key = S("T");
    h->value = S("broker-a:4");
}

static void fill_kv_resp(void *v)
{
    ((struct headers_admin_kv_resp *)v)->value = S("broker-a:4");
}

/* ---- table of every header ---- */

typedef int (*enc_fn)(const void *h, struct remoting_cmd *c);
typedef int (*dec_fn)(void *h, const struct remoting_cmd *c, const struct limits *l, char *errmsg);

#define ADAPT(prefix)                                                                              \
    static int prefix##_enc_v(const void *h, struct remoting_cmd *c)                               \
    {                                                                                              \
        return prefix##_encode(h, c);                                                              \
    }                                                                                              \
    static int prefix##_dec_v(void *h, const struct remoting_cmd *c, const struct limits *l,        \
                              char *errmsg)                                                        \
    {                                                                                              \
        return prefix##_decode(h, c, l, errmsg);                                                   \
    }
ADAPT(headers_send_req)
ADAPT(headers_send_resp)
ADAPT(headers_pull_req)
ADAPT(headers_pull_resp)
ADAPT(headers_offset_query_req)
ADAPT(headers_offset_update_req)
ADAPT(headers_offset_queue_req)
ADAPT(headers_offset_search_req)
ADAPT(headers_offset_resp)
ADAPT(headers_offset_time_resp)
ADAPT(headers_client_unregister_req)
ADAPT(headers_client_group_req)
ADAPT(headers_client_sendback_req)
ADAPT(headers_client_endtx_req)
ADAPT(headers_client_checktx_req)
ADAPT(headers_client_query_req)
ADAPT(headers_client_query_resp)
ADAPT(headers_client_view_req)
ADAPT(headers_admin_topic_req)
ADAPT(headers_admin_register_req)
ADAPT(headers_admin_register_resp)
ADAPT(headers_admin_unregister_req)
ADAPT(headers_admin_route_req)
ADAPT(headers_admin_kv_req)
ADAPT(headers_admin_kv_resp)

struct hcase {
    const char *what; /* error prefix */
    int code;         /* request code the cmd carries (selects V1/V2 names) */
    size_t size;
    void (*fill)(void *h);
    enc_fn enc;
    dec_fn dec;
    const char *required[12]; /* wire keys that must be present */
    size_t n_all;             /* how many keys the filled header encodes to */
};

#define HC(what, code, st, prefix, fill, nall, ...)                                                \
    {what, code, sizeof(struct st), fill, prefix##_enc_v, prefix##_dec_v, {__VA_ARGS__}, nall}

static const struct hcase cases[] = {
    HC("send header", 10, headers_send_req, headers_send_req, fill_send_req, 15, "producerGroup", "topic",
       "defaultTopic", "defaultTopicQueueNums", "queueId", "sysFlag", "bornTimestamp", "flag"),
    HC("send header", 310, headers_send_req, headers_send_req, fill_send_req, 15, "a", "b", "c", "d", "e", "f",
       "g", "h"),
    HC("send header", 320, headers_send_req, headers_send_req, fill_send_req, 15, "a", "b", "c", "d", "e", "f",
       "g", "h"),
    HC("send response header", 0, headers_send_resp, headers_send_resp, fill_send_resp, 7, "msgId", "queueId",
       "queueOffset"),
    HC("pull header", 11, headers_pull_req, headers_pull_req, fill_pull_req, 13, "consumerGroup", "topic",
       "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis", "subVersion"),
    HC("pull header", 361, headers_pull_req, headers_pull_req, fill_pull_req, 13, "consumerGroup", "topic",
       "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis", "subVersion"),
    HC("pull response header", 0, headers_pull_resp, headers_pull_resp, fill_pull_resp, 8,
       "suggestWhichBrokerId", "nextBeginOffset", "minOffset", "maxOffset"),
    HC("query consumer offset header", 14, headers_offset_query_req, headers_offset_query_req,
       fill_offset_query, 4, "consumerGroup", "topic", "queueId"),
    HC("update consumer offset header", 15, headers_offset_update_req, headers_offset_update_req,
       fill_offset_update, 4, "consumerGroup", "topic", "queueId", "commitOffset"),
    HC("queue offset header", 30, headers_offset_queue_req, headers_offset_queue_req, fill_offset_queue, 3,
       "topic", "queueId"),
    HC("search offset header", 29, headers_offset_search_req, headers_offset_search_req, fill_offset_search,
       4, "topic", "queueId", "timestamp"),
    HC("offset response header", 0, headers_offset_resp, headers_offset_resp, fill_offset_resp, 1, "offset"),
    HC("store time response header", 0, headers_offset_time_resp, headers_offset_time_resp, fill_time_resp,
       1, "timestamp"),
    HC("unregister client header", 35, headers_client_unregister_req, headers_client_unregister_req,
       fill_unregister_client, 3, "clientID"),
    HC("consumer group header", 38, headers_client_group_req, headers_client_group_req, fill_group, 1,
       "consumerGroup"),
    HC("send back header", 36, headers_client_sendback_req, headers_client_sendback_req, fill_sendback, 8,
       "offset", "group", "delayLevel"),
    HC("end transaction header", 37, headers_client_endtx_req, headers_client_endtx_req, fill_endtx, 9,
       "producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "msgId"),
    HC("check transaction header", 39, headers_client_checktx_req, headers_client_checktx_req, fill_checktx,
       7, "tranStateTableOffset", "commitLogOffset"),
    HC("query message header", 12, headers_client_query_req, headers_client_query_req, fill_query, 6,
       "topic", "key", "maxNum", "beginTimestamp", "endTimestamp"),
    HC("query message response header", 0, headers_client_query_resp, headers_client_query_resp,
       fill_query_resp, 2, "indexLastUpdateTimestamp", "indexLastUpdatePhyoffset"),
    HC("view message header", 33, headers_client_view_req, headers_client_view_req, fill_view, 2, "offset"),
    HC("create topic header", 17, headers_admin_topic_req, headers_admin_topic_req, fill_topic, 10, "topic",
       "defaultTopic", "readQueueNums", "writeQueueNums", "perm", "topicFilterType"),
    HC("register broker header", 103, headers_admin_register_req, headers_admin_register_req, fill_register,
       10, "brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId"),
    HC("register broker response header", 0, headers_admin_register_resp, headers_admin_register_resp,
       fill_register_resp, 2, NULL),
    HC("unregister broker header", 104, headers_admin_unregister_req, headers_admin_unregister_req,
       fill_unregister_broker, 4, "brokerName", "brokerAddr", "clusterName", "brokerId"),
    HC("route header", 105, headers_admin_route_req, headers_admin_route_req, fill_route, 2, "topic"),
    HC("kv config header", 100, headers_admin_kv_req, headers_admin_kv_req, fill_kv, 3, "namespace", "key",
       "value"),
    HC("kv config header", 101, headers_admin_kv_req, headers_admin_kv_req, fill_kv, 3, "namespace", "key"),
    HC("kv config header", 102, headers_admin_kv_req, headers_admin_kv_req, fill_kv, 3, "namespace", "key"),
    HC("kv config response header", 0, headers_admin_kv_resp, headers_admin_kv_resp, fill_kv_resp, 1, NULL),
};

/* Same extFields, in any order. */
static void assert_same_ext(const struct remoting_cmd *a, const struct remoting_cmd *b)
{
    assert_int_equal(a->n_ext, b->n_ext);
    for (size_t i = 0; i < a->n_ext; i++) {
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)a->ext[i].key.len, a->ext[i].key.p);
        struct slice v = remoting_ext_get(b, key);
        if (!v.p || !slice_eq_slice(v, a->ext[i].val))
            fail_msg("extFields '%s' differs", key);
    }
}

/* Copy src's extFields into dst (a fresh request of src's code) except one key. */
static void copy_without(struct remoting_cmd *dst, const struct remoting_cmd *src, const char *skip)
{
    remoting_cmd_init_request(dst, src->code);
    for (size_t i = 0; i < src->n_ext; i++) {
        if (skip && slice_eq(src->ext[i].key, skip))
            continue;
        assert_int_equal(remoting_ext_set(dst, src->ext[i].key, src->ext[i].val), 0);
    }
}

/* §4: every header round-trips through both wire forms, reports each
 * missing required field by name, and decodes with only its required fields. */
static void test_all_headers(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c, d, e;
    remoting_cmd_init(&c);
    remoting_cmd_init(&d);
    remoting_cmd_init(&e);
    struct buf out;
    buf_init(&out);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct hcase *hc = &cases[k];
        _Alignas(16) unsigned char h[512], h2[512];
        assert_true(hc->size <= sizeof h);
        memset(h, 0, sizeof h);
        hc->fill(h);
        remoting_cmd_init_request(&c, hc->code);
        assert_int_equal(hc->enc(h, &c), 0);
        if (c.n_ext != hc->n_all)
            fail_msg("%s (code %d): %zu keys encoded, want %zu", hc->what, hc->code, c.n_ext, hc->n_all);

        for (int ser = 0; ser <= 1; ser++) {
            c.serialize = (uint8_t)ser;
            buf_reset(&out);
            assert_int_equal(remoting_encode(&c, 0, &out), 0);
            assert_int_equal(remoting_decode(&d, out.data, out.len, &limits_default, errmsg), 0);
            int rc = hc->dec(h2, &d, &limits_default, errmsg);
            if (rc)
                fail_msg("%s (code %d, form %d): %s", hc->what, hc->code, ser, errmsg);
            remoting_cmd_init_request(&e, hc->code);
            assert_int_equal(hc->enc(h2, &e), 0);
            assert_same_ext(&c, &e);
        }

        for (size_t r = 0; r < 12 && hc->required[r]; r++) {
            copy_without(&d, &c, hc->required[r]);
            errmsg[0] = 0;
            int rc = hc->dec(h2, &d, &limits_default, errmsg);
            char want[128];
            snprintf(want, sizeof want, "%s: missing '%s'", hc->what, hc->required[r]);
            if (rc != TERN_E_MALFORMED || strncmp(errmsg, want, strlen(want)) != 0)
                fail_msg("code %d without %s: rc %d, \"%s\"", hc->code, hc->required[r], rc, errmsg);
        }

        /* Only the required keys: still decodes. */
        remoting_cmd_init_request(&d, hc->code);
        for (size_t r = 0; r < 12 && hc->required[r]; r++) {
            struct slice v = remoting_ext_get(&c, hc->required[r]);
            assert_non_null(v.p);
            remoting_ext_set(&d, slice_of(hc->required[r]), v);
        }
        int rc = hc->dec(h2, &d, &limits_default, errmsg);
        if (rc)
            fail_msg("%s (code %d) with required keys only: %s", hc->what, hc->code, errmsg);
    }
    buf_free(&out);
    remoting_cmd_free(&c);
    remoting_cmd_free(&d);
    remoting_cmd_free(&e);
}

/* §4.1: V1 long names for 10, V2 short names for 310; values land in the
 * right fields; optional fields absent when not sent. */
static void test_send_names_and_fields(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    struct headers_send_req h, g;
    memset(&h, 0, sizeof h);
    fill_send_req(&h);

    remoting_cmd_init_request(&c, CODES_REQ_SEND_MESSAGE);
    assert_int_equal(headers_send_req_encode(&h, &c), 0);
    assert_true(slice_eq(remoting_ext_get(&c, "producerGroup"), "pg1"));
    assert_null(remoting_ext_get(&c, "a").p);
    assert_true(slice_eq(remoting_ext_get(&c, "bornTimestamp"), "1700000000123"));

    remoting_cmd_init_request(&c, CODES_REQ_SEND_MESSAGE_V2);
    assert_int_equal(headers_send_req_encode(&h, &c), 0);
    assert_true(slice_eq(remoting_ext_get(&c, "a"), "pg1"));
    assert_true(slice_eq(remoting_ext_get(&c, "m"), "true"));
    assert_true(slice_eq(remoting_ext_get(&c, "bname"), "broker-a"));
    assert_null(remoting_ext_get(&c, "producerGroup").p);
    assert_int_equal(headers_send_req_decode(&g, &c, &limits_default, errmsg), 0);
    assert_true(slice_eq(g.topic, "TopicTest"));
    assert_true(slice_eq(g.default_topic, "TBW102"));
    assert_int_equal(g.default_topic_queue_nums, 4);
    assert_int_equal(g.queue_id, 3);
    assert_int_equal(g.sys_flag, 4);
    assert_true(g.born_timestamp == 1700000000123LL);
    assert_int_equal(g.flag, 7);
    assert_true(slice_eq_slice(g.properties, h.properties));
    assert_true(g.has_reconsume_times && g.reconsume_times == 2);
    assert_true(g.has_unit_mode && !g.unit_mode);
    assert_true(g.has_max_reconsume_times && g.max_reconsume_times == 16);
    assert_true(g.has_batch && g.batch);
    assert_true(slice_eq(g.broker_name, "broker-a"));

    /* Required only: optional fields report absent. */
    struct headers_send_req m = {0};
    m.producer_group = S("pg");
    m.topic = S("T");
    m.default_topic = S("TBW102");
    remoting_cmd_init_request(&c, CODES_REQ_SEND_MESSAGE_V2);
    assert_int_equal(headers_send_req_encode(&m, &c), 0);
    assert_int_equal(c.n_ext, 8);
    assert_int_equal(headers_send_req_decode(&g, &c, &limits_default, errmsg), 0);
    assert_null(g.properties.p);
    assert_false(g.has_reconsume_times || g.has_unit_mode || g.has_max_reconsume_times || g.has_batch);
    assert_null(g.bname.p);

    /* A V2 name missing is reported with its long name too. */
    remoting_ext_set_str(&c, "b", "bad topic!");
    assert_int_equal(headers_send_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "send header: topic: illegal character 0x20"));
    remoting_cmd_init_request(&c, CODES_REQ_SEND_BATCH_MESSAGE);
    remoting_ext_set_str(&c, "a", "pg");
    assert_int_equal(headers_send_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_string_equal(errmsg, "send header: missing 'b' (topic)");
    remoting_cmd_free(&c);
}

/* §4.1 as the C++ client sends it: numbers and booleans in JSON extFields. */
static void test_send_v2_cpp_json(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    const char *json = "{\"code\":310,\"language\":\"CPP\",\"version\":335,\"opaque\":3,\"flag\":0,"
                       "\"extFields\":{\"a\":\"pg\",\"b\":\"T\",\"c\":\"TBW102\",\"d\":4,\"e\":-1,\"f\":0,"
                       "\"g\":1700000000000,\"h\":0,\"i\":\"TAGS\\u0001x\\u0002\",\"j\":0,\"k\":false,"
                       "\"l\":16,\"m\":false,\"Signature\":\"\",\"AccessKey\":\"\",\"OnsChannel\":\"ALIYUN\"}}";
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    assert_int_equal(remoting_decode_json(&c, (const uint8_t *)json, strlen(json), errmsg), 0);
    struct headers_send_req g;
    assert_int_equal(headers_send_req_decode(&g, &c, &limits_default, errmsg), 0);
    assert_int_equal(g.queue_id, -1);
    assert_int_equal(g.default_topic_queue_nums, 4);
    assert_true(g.born_timestamp == 1700000000000LL);
    assert_true(g.has_unit_mode && !g.unit_mode);
    assert_true(slice_eq(g.properties, "TAGS\001x\002"));
    remoting_cmd_free(&c);
}

/* §4.1: the send response always carries MSG_REGION and TRACE_ON. */
static void test_send_resp_defaults(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    struct headers_send_resp h = {0}, g;
    h.msg_id = S("ID");
    h.queue_offset = 5;
    remoting_cmd_init_request(&c, 0);
    assert_int_equal(headers_send_resp_encode(&h, &c), 0);
    assert_true(slice_eq(remoting_ext_get(&c, "MSG_REGION"), "DefaultRegion"));
    assert_true(slice_eq(remoting_ext_get(&c, "TRACE_ON"), "false"));
    assert_null(remoting_ext_get(&c, "transactionId").p);
    assert_int_equal(c.n_ext, 5);
    assert_int_equal(headers_send_resp_decode(&g, &c, &limits_default, errmsg), 0);
    assert_true(slice_eq(g.msg_id, "ID"));
    assert_true(g.queue_offset == 5);
    remoting_cmd_free(&c);
}

/* §4.2: bad numbers and topics are MALFORMED with the field named. */
static void test_pull_bad_values(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    struct headers_pull_req h = {0}, g;
    fill_pull_req(&h);
    remoting_cmd_init_request(&c, CODES_REQ_PULL_MESSAGE);
    assert_int_equal(headers_pull_req_encode(&h, &c), 0);
    assert_int_equal(headers_pull_req_decode(&g, &c, &limits_default, errmsg), 0);
    assert_true(slice_eq(g.topic, "%RETRY%cg1"));
    assert_true(g.queue_offset == 1234567890123LL);
    assert_true(g.commit_offset == -1);
    assert_int_equal(g.sys_flag, HEADERS_PULL_FLAG_SUSPEND | HEADERS_PULL_FLAG_SUBSCRIPTION);
    assert_true(g.has_max_msg_bytes && g.max_msg_bytes == 262144);

    remoting_ext_set_str(&c, "queueId", "1x");
    assert_int_equal(headers_pull_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_string_equal(errmsg, "pull header: 'queueId': not an int32: \"1x\"");
    remoting_ext_set_str(&c, "queueId", "1");
    remoting_ext_set_str(&c, "maxMsgBytes", "99999999999");
    assert_int_equal(headers_pull_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "'maxMsgBytes'"));
    remoting_ext_set_str(&c, "maxMsgBytes", "1");
    remoting_ext_set_str(&c, "topic", "");
    assert_int_equal(headers_pull_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_string_equal(errmsg, "pull header: topic: empty");
    char longt[200];
    memset(longt, 'a', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    remoting_ext_set_str(&c, "topic", longt);
    assert_int_equal(headers_pull_req_decode(&g, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "exceeds 127"));

    /* A bad optional topic names its key. */
    struct headers_client_sendback_req sb = {0}, sg;
    fill_sendback(&sb);
    sb.origin_topic = S("a/b");
    remoting_cmd_init_request(&c, CODES_REQ_CONSUMER_SEND_MSG_BACK);
    assert_int_equal(headers_client_sendback_req_encode(&sb, &c), 0);
    assert_int_equal(headers_client_sendback_req_decode(&sg, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "send back header: 'originTopic': topic: illegal character"));
    remoting_cmd_free(&c);
}

/* §4.2: the pull response always carries all four offsets. */
static void test_pull_resp_all_four(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    struct headers_pull_resp h = {0}, g;
    remoting_cmd_init_request(&c, 0);
    assert_int_equal(headers_pull_resp_encode(&h, &c), 0);
    assert_int_equal(c.n_ext, 4);
    assert_true(slice_eq(remoting_ext_get(&c, "suggestWhichBrokerId"), "0"));
    assert_true(slice_eq(remoting_ext_get(&c, "maxOffset"), "0"));
    h.next_begin_offset = 10;
    h.max_offset = 11;
    h.min_offset = 1;
    remoting_cmd_init_request(&c, 0);
    headers_pull_resp_encode(&h, &c);
    assert_int_equal(headers_pull_resp_decode(&g, &c, &limits_default, errmsg), 0);
    assert_true(g.next_begin_offset == 10 && g.max_offset == 11 && g.min_offset == 1);
    assert_false(g.has_offset_delta);
    remoting_cmd_free(&c);
}

/* §4.5: the registration header with the 5.x optional fields, and KV PUT needing a value. */
static void test_admin(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE];
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    struct headers_admin_register_req h = {0}, g;
    fill_register(&h);
    remoting_cmd_init_request(&c, CODES_REQ_REGISTER_BROKER);
    assert_int_equal(headers_admin_register_req_encode(&h, &c), 0);
    assert_true(slice_eq(remoting_ext_get(&c, "bodyCrc32"), "305419896"));
    assert_true(slice_eq(remoting_ext_get(&c, "compressed"), "false"));
    assert_int_equal(headers_admin_register_req_decode(&g, &c, &limits_default, errmsg), 0);
    assert_true(g.has_heartbeat_timeout_millis && g.heartbeat_timeout_millis == 120000);
    assert_int_equal(g.body_crc32, 0x12345678);
    assert_true(slice_eq(g.zone_name, "zone1"));

    struct headers_admin_kv_req kv = {0}, kg;
    kv.namespace_ = S("NS");
    kv.key = S("K");
    remoting_cmd_init_request(&c, CODES_REQ_PUT_KV_CONFIG);
    assert_int_equal(headers_admin_kv_req_encode(&kv, &c), 0);
    assert_int_equal(headers_admin_kv_req_decode(&kg, &c, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_string_equal(errmsg, "kv config header: missing 'value'");
    c.code = CODES_REQ_GET_KV_CONFIG;
    assert_int_equal(headers_admin_kv_req_decode(&kg, &c, &limits_default, errmsg), 0);
    assert_null(kg.value.p);
    assert_true(slice_eq(kg.namespace_, "NS"));
    remoting_cmd_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_headers),
        cmocka_unit_test(test_send_names_and_fields),
        cmocka_unit_test(test_send_v2_cpp_json),
        cmocka_unit_test(test_send_resp_defaults),
        cmocka_unit_test(test_pull_bad_values),
        cmocka_unit_test(test_pull_resp_all_four),
        cmocka_unit_test(test_admin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
