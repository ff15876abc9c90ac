/* Unit tests for libtern's pure pieces: properties of outgoing messages,
 * LZ4/zlib bodies with the RocketMQ sysFlag (ROCKETMQ-PROTOCOL.md §3.3),
 * queue selection by sharding key, and received-message decoding. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "client/msgbuild.h"
#include "client/rmsg.h"
#include "protocol/batch.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tern/tern.h"
#include "tests/lib/testlib.h"

static void test_select_by_key_is_stable_and_java_compatible(void **state)
{
    (void)state;
    /* "hello".hashCode() == 99162322; % 8 == 2 (Java SelectMessageQueueByHash). */
    assert_int_equal(msgbuild_select_by_key("hello", 8), 2);
    /* Negative hash codes are made non-negative: "polygenelubricants".hashCode()
     * == Integer.MIN_VALUE, % 7 == -2 -> 2. */
    assert_int_equal(msgbuild_select_by_key("polygenelubricants", 7), 2);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "order-%d", i);
        size_t a = msgbuild_select_by_key(key, 12);
        assert_true(a < 12);
        assert_int_equal(a, msgbuild_select_by_key(key, 12)); /* stable */
    }
    /* Every queue gets some keys. */
    int seen[5] = {0};
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "k%d", i);
        seen[msgbuild_select_by_key(key, 5)]++;
    }
    for (int i = 0; i < 5; i++)
        assert_true(seen[i] > 0);
    assert_int_equal(msgbuild_select_by_key("x", 0), 0);
}

static void test_properties_of_a_message(void **state)
{
    (void)state;
    struct tern_prop props[] = {{"color", "red"}, {"empty", ""}, {"TAGS", "overridden"}};
    struct tern_send_msg m = {
        .topic = "T",
        .tags = "TagA",
        .keys = "k1 k2",
        .props = props,
        .prop_count = 3,
        .delay_level = 3,
        .sharding_key = "order-7",
    };
    struct buf b;
    buf_init(&b);
    char err[TERN_ERRMSG_SIZE];
    assert_int_equal(msgbuild_properties(&b, &m, "0A0000010001000000010002000300FF", err), 0);
    struct properties p;
    assert_int_equal(properties_parse((const char *)b.data, b.len, &limits_default, &p, err), 0);
    struct slice v;
    assert_true(properties_find(&p, "TAGS", &v));
    assert_true(slice_eq(v, "TagA")); /* reserved keys win over user properties */
    assert_true(properties_find(&p, "KEYS", &v));
    assert_true(slice_eq(v, "k1 k2"));
    assert_true(properties_find(&p, "UNIQ_KEY", &v));
    assert_true(slice_eq(v, "0A0000010001000000010002000300FF"));
    assert_true(properties_find(&p, "color", &v));
    assert_true(slice_eq(v, "red"));
    assert_true(properties_find(&p, "DELAY", &v));
    assert_true(slice_eq(v, "3"));
    assert_true(properties_find(&p, "__SHARDINGKEY", &v));
    assert_false(properties_find(&p, "empty", &v));

    /* Separator bytes are refused, as is an out-of-range delay. */
    buf_reset(&b);
    struct tern_send_msg bad = {.topic = "T", .tags = "a\x01"};
    assert_int_equal(msgbuild_properties(&b, &bad, NULL, err), TERN_E_INVAL);
    struct tern_prop badp[] = {{"k\x02", "v"}};
    struct tern_send_msg bad2 = {.topic = "T", .props = badp, .prop_count = 1};
    assert_int_equal(msgbuild_properties(&b, &bad2, NULL, err), TERN_E_INVAL);
    struct tern_send_msg bad3 = {.topic = "T", .delay_level = 19};
    assert_int_equal(msgbuild_properties(&b, &bad3, NULL, err), TERN_E_INVAL);
    buf_free(&b);
}

static void fill_text(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = "tern message body "[i % 18];
}

static void test_lz4_round_trip_with_sysflag(void **state)
{
    (void)state;
    static char body[10000];
    fill_text(body, sizeof body);
    struct buf c, d;
    buf_init(&c);
    buf_init(&d);
    int32_t sysflag = 0;
    assert_int_equal(msgbuild_compress(body, sizeof body, 4096, TERN_COMPRESS_LZ4, &c, &sysflag), 0);
    assert_int_equal(sysflag, 0x101); /* COMPRESSED | LZ4 << 8 */
    assert_true(c.len < sizeof body / 4);
    /* An LZ4 frame (magic 0x184D2204, little endian) as Java's LZ4FrameOutputStream writes. */
    assert_int_equal(c.data[0], 0x04);
    assert_int_equal(c.data[3], 0x18);
    assert_int_equal(msgbuild_decompress(sysflag, c.data, c.len, 1u << 20, &d), 0);
    assert_int_equal(d.len, sizeof body);
    assert_memory_equal(d.data, body, sizeof body);

    /* Corrupt input is an error, not a crash; limits hold. */
    buf_reset(&d);
    c.data[c.len / 2] ^= 0x55;
    c.data[c.len / 2 + 1] ^= 0x55;
    assert_int_not_equal(msgbuild_decompress(sysflag, c.data, c.len / 2, 1u << 20, &d), 0);

    /* At or below the threshold: stored as is. */
    buf_reset(&c);
    sysflag = 0;
    assert_int_equal(msgbuild_compress(body, 4096, 4096, TERN_COMPRESS_LZ4, &c, &sysflag), 0);
    assert_int_equal(sysflag, 0);
    assert_int_equal(c.len, 4096);
    buf_free(&c);
    buf_free(&d);
}

static void test_zlib_default_compression(void **state)
{
    (void)state;
    static char body[10000];
    fill_text(body, sizeof body);
    struct buf c, d;
    buf_init(&c);
    buf_init(&d);
    int32_t sysflag = 0;
    assert_int_equal(msgbuild_compress(body, sizeof body, 4096, TERN_COMPRESS_ZLIB, &c, &sysflag), 0);
    /* Legacy form: COMPRESSED with type bits 0, which every stock client reads as zlib. */
    assert_int_equal(sysflag, 0x1);
    assert_true(c.len < sizeof body / 4);
    assert_int_equal(c.data[0], 0x78); /* zlib stream header */
    assert_int_equal(msgbuild_decompress(sysflag, c.data, c.len, 1u << 20, &d), 0);
    assert_int_equal(d.len, sizeof body);
    assert_memory_equal(d.data, body, sizeof body);
    buf_free(&c);
    buf_free(&d);
}

static void test_zlib_bodies_decompress(void **state)
{
    (void)state;
    static char body[20000];
    static uint8_t z[30000];
    fill_text(body, sizeof body);
    uLongf zn = sizeof z;
    assert_int_equal(compress2(z, &zn, (const Bytef *)body, sizeof body, 5), Z_OK);
    struct buf d;
    buf_init(&d);
    /* Legacy (4.x) type bits 0 and the 5.x ZLIB type 3 both mean zlib. */
    assert_int_equal(msgbuild_decompress(0x1, z, zn, 1u << 20, &d), 0);
    assert_int_equal(d.len, sizeof body);
    assert_memory_equal(d.data, body, sizeof body);
    buf_reset(&d);
    assert_int_equal(msgbuild_decompress(0x301, z, zn, 1u << 20, &d), 0);
    assert_int_equal(d.len, sizeof body);
    buf_reset(&d);
    assert_int_equal(msgbuild_decompress(0x301, z, zn, 1000, &d), TERN_E_TOOBIG);
    buf_reset(&d);
    assert_int_equal(msgbuild_decompress(0x201, z, zn, 1u << 20, &d), TERN_E_NOT_SUPPORTED);
    buf_free(&d);
}

static void encode_stored(struct buf *out, int64_t qoff, const char *tags, const void *body,
                          size_t n, int32_t sysflag)
{
    struct buf props;
    buf_init(&props);
    if (tags)
        properties_append(&props, "TAGS", tags, strlen(tags));
    properties_append(&props, "KEYS", "a b", 3);
    properties_append(&props, "UNIQ_KEY", "ABCDEF", 6);
    properties_append(&props, "color", "blue", 4);
    struct msg_stored m = {
        .queue_id = 3,
        .flag = 7,
        .queue_offset = qoff,
        .physical_offset = 1000 + qoff,
        .sysflag = sysflag,
        .born_timestamp = 1700000000000,
        .born_host = {.family = MSG_HOST_IPV4, .addr = {127, 0, 0, 1}, .port = 5555},
        .store_timestamp = 1700000000500,
        .store_host = {.family = MSG_HOST_IPV4, .addr = {10, 0, 0, 2}, .port = 10911},
        .reconsume_times = 2,
        .body = {body, n},
        .topic = slice_of("TopicX"),
        .properties = {(const char *)props.data, props.len},
    };
    assert_int_equal(message_encode(&m, out), 0);
    buf_free(&props);
}

static void test_received_messages_decode_and_filter(void **state)
{
    (void)state;
    static char big[9000];
    fill_text(big, sizeof big);
    struct buf comp, raw;
    buf_init(&comp);
    buf_init(&raw);
    int32_t sf = 0;
    assert_int_equal(msgbuild_compress(big, sizeof big, 4096, TERN_COMPRESS_LZ4, &comp, &sf), 0);
    encode_stored(&raw, 10, "TagA", "one", 3, 0);
    encode_stored(&raw, 11, "TagB", "two", 3, 0);
    encode_stored(&raw, 12, "TagA", comp.data, comp.len, sf);
    encode_stored(&raw, 13, NULL, "none", 4, 0);

    struct tags_expr all, only_a;
    char err[ERRMSG_SIZE];
    assert_int_equal(tags_parse("*", 1, &all, err), 0);
    assert_int_equal(tags_parse("TagA || TagC", 12, &only_a, err), 0);

    struct rmsg_batch b;
    memset(&b, 0, sizeof b);
    assert_int_equal(rmsg_batch_decode(&b, raw.data, raw.len, "broker-a", &all, err), 0);
    assert_int_equal(b.n, 4);
    const struct tern_msg *m = b.ptrs[0];
    assert_string_equal(tern_msg_topic(m), "TopicX");
    assert_string_equal(tern_msg_broker_name(m), "broker-a");
    assert_int_equal(tern_msg_queue_id(m), 3);
    assert_int_equal(tern_msg_queue_offset(m), 10);
    assert_string_equal(tern_msg_tags(m), "TagA");
    assert_string_equal(tern_msg_keys(m), "a b");
    assert_string_equal(tern_msg_id(m), "ABCDEF");
    assert_string_equal(tern_msg_offset_id(m), "0A00000200002A9F00000000000003F2");
    assert_string_equal(tern_msg_property(m, "color"), "blue");
    assert_null(tern_msg_property(m, "nope"));
    assert_int_equal(tern_msg_born_timestamp(m), 1700000000000);
    assert_int_equal(tern_msg_store_timestamp(m), 1700000000500);
    assert_int_equal(tern_msg_reconsume_times(m), 2);
    assert_int_equal(tern_msg_flag(m), 7);
    size_t n;
    const void *body = tern_msg_body(m, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(body, "one", 3);
    /* The compressed one comes back decompressed. */
    body = tern_msg_body(b.ptrs[2], &n);
    assert_int_equal(n, sizeof big);
    assert_memory_equal(body, big, sizeof big);
    assert_int_equal(tern_msg_sysflag(b.ptrs[2]), 0x101);
    assert_string_equal(tern_msg_tags(b.ptrs[3]), "");
    const char *k, *v;
    size_t count = 0;
    while (tern_msg_property_at(m, count, &k, &v))
        count++;
    assert_int_equal(count, 4);
    rmsg_batch_free(&b);

    /* Exact-tag re-filtering on the client. */
    memset(&b, 0, sizeof b);
    assert_int_equal(rmsg_batch_decode(&b, raw.data, raw.len, "broker-a", &only_a, err), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(tern_msg_queue_offset(b.ptrs[0]), 10);
    assert_int_equal(tern_msg_queue_offset(b.ptrs[1]), 12);
    rmsg_batch_free(&b);

    /* A truncated body is MALFORMED. */
    memset(&b, 0, sizeof b);
    assert_int_equal(rmsg_batch_decode(&b, raw.data, raw.len - 1, "x", &all, err), TERN_E_MALFORMED);
    rmsg_batch_free(&b);
    buf_free(&raw);
    buf_free(&comp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_by_key_is_stable_and_java_compatible),
        cmocka_unit_test(test_properties_of_a_message),
        cmocka_unit_test(test_lz4_round_trip_with_sysflag),
        cmocka_unit_test(test_zlib_default_compression),
        cmocka_unit_test(test_zlib_bodies_decompress),
        cmocka_unit_test(test_received_messages_decode_and_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
