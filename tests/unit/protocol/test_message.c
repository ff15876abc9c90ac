/* Unit tests for stored messages, message ids and batch bodies (PROTOCOL.md §M.2-§M.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/batch.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/properties.h"
#include "src/buf.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

/* §M.2 IPv4 vector, written field by field from the §5.1 table. Body
 * "123456789" has CRC-32 0xCBF43926, so the stored CRC shows the mask. */
static const char V4_HEX[] = "00000077"          /* TOTALSIZE 119 = 91 + 9 + 9 + 10 */
                             "DAA320A7"          /* MAGICCODE V1 */
                             "4BF43926"          /* BODYCRC 0xCBF43926 & 0x7FFFFFFF */
                             "00000003"          /* QUEUEID */
                             "00000007"          /* FLAG */
                             "0000000000000010"  /* QUEUEOFFSET @20 */
                             "0000000000001234"  /* PHYSICALOFFSET @28 */
                             "00000000"          /* SYSFLAG @36 */
                             "0000018BCFE56800"  /* BORNTIMESTAMP 1700000000000 */
                             "0A000005 0000C350" /* BORNHOST 10.0.0.5:50000 */
                             "0000018BCFE56BE8"  /* STORETIMESTAMP @56 1700000001000 */
                             "0A000002 00002A9F" /* STOREHOST 10.0.0.2:10911 */
                             "00000001"          /* RECONSUMETIMES */
                             "0000000000000000"  /* PREPAREDTRANSACTIONOFFSET */
                             "00000009 313233343536373839"      /* BODY @84 */
                             "09 546F70696354657374"            /* TOPIC "TopicTest" */
                             "000A 54414753 01 54616741 02";    /* "TAGS\1TagA\2" */

/* §M.2 IPv6 vector: both hosts 16 bytes, SYSFLAG 0x30 | 0x1 (compressed). */
static const char V6_HEX[] = "0000008F" /* 143 = 119 + 2 * 12 */
                             "DAA320A7"
                             "4BF43926"
                             "00000003"
                             "00000007"
                             "0000000000000010"
                             "0000000000001234"
                             "00000031" /* COMPRESSED | BORNHOST_V6 | STOREHOST_V6 */
                             "0000018BCFE56800"
                             "00000000000000000000000000000001 0000C350" /* [::1]:50000 */
                             "0000018BCFE56BE8"                          /* @68 */
                             "FE800000000000000000000000000002 00002A9F" /* [fe80::2]:10911 */
                             "00000001"
                             "0000000000000000"
                             "00000009 313233343536373839"
                             "09 546F70696354657374"
                             "000A 54414753 01 54616741 02";

static void fill_v4(struct msg_stored *m)
{
    memset(m, 0, sizeof *m);
    m->queue_id = 3;
    m->flag = 7;
    m->queue_offset = 0x10;
    m->physical_offset = 0x1234;
    m->born_timestamp = 1700000000000;
    m->born_host.family = MSG_HOST_IPV4;
    memcpy(m->born_host.addr, "\x0a\x00\x00\x05", 4);
    m->born_host.port = 50000;
    m->store_timestamp = 1700000001000;
    m->store_host.family = MSG_HOST_IPV4;
    memcpy(m->store_host.addr, "\x0a\x00\x00\x02", 4);
    m->store_host.port = 10911;
    m->reconsume_times = 1;
    m->body = (struct slice){"123456789", 9};
    m->topic = slice_of("TopicTest");
    m->properties = (struct slice){"TAGS\x01TagA\x02", 10};
}

static void test_encode_ipv4_vector(void **state)
{
    (void)state;
    uint8_t want[256];
    size_t wn = testlib_unhex(V4_HEX, want, sizeof want);
    assert_int_equal(wn, 119);
    struct msg_stored m;
    fill_v4(&m);
    m.sysflag = MSG_SYSFLAG_STOREHOST_V6; /* stale bit: the encoder derives it from the host */
    assert_int_equal(message_size(&m), 119);
    struct buf b;
    buf_init(&b);
    assert_int_equal(message_encode(&m, &b), 0);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    buf_free(&b);
}

static void test_encode_ipv6_vector(void **state)
{
    (void)state;
    uint8_t want[256];
    size_t wn = testlib_unhex(V6_HEX, want, sizeof want);
    assert_int_equal(wn, 143);
    struct msg_stored m;
    fill_v4(&m);
    m.sysflag = MSG_SYSFLAG_COMPRESSED;
    m.born_host.family = MSG_HOST_IPV6;
    memset(m.born_host.addr, 0, 16);
    m.born_host.addr[15] = 1;
    m.store_host.family = MSG_HOST_IPV6;
    memset(m.store_host.addr, 0, 16);
    m.store_host.addr[0] = 0xfe;
    m.store_host.addr[1] = 0x80;
    m.store_host.addr[15] = 2;
    struct buf b;
    buf_init(&b);
    assert_int_equal(message_encode(&m, &b), 0);
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);

    struct msg_stored d;
    size_t used;
    char err[ERRMSG_SIZE];
    assert_int_equal(message_decode(want, wn, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &d, &used,
                                    err),
                     0);
    assert_int_equal(used, 143);
    assert_int_equal(d.born_host.family, MSG_HOST_IPV6);
    assert_int_equal(d.store_host.family, MSG_HOST_IPV6);
    assert_memory_equal(d.store_host.addr, m.store_host.addr, 16);
    assert_int_equal(d.store_host.port, 10911);
    assert_int_equal(d.store_timestamp, 1700000001000);
    assert_int_equal(d.sysflag, 0x31);

    /* Patch finds STORETIMESTAMP at 68 when the born host is IPv6. */
    assert_int_equal(message_patch(want, wn, 99, 0x5555, 42), 0);
    assert_int_equal(be64_load(want + 20), 99);
    assert_int_equal(be64_load(want + 28), 0x5555);
    assert_int_equal(be64_load(want + 68), 42);
    assert_int_equal(message_off_store_timestamp(0x31), 68);
    buf_free(&b);
}

static void test_decode_ipv4_fields(void **state)
{
    (void)state;
    uint8_t rec[256];
    size_t n = testlib_unhex(V4_HEX, rec, sizeof rec);
    struct msg_stored d;
    size_t used = 0;
    char err[ERRMSG_SIZE];
    assert_int_equal(
        message_decode(rec, n, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &d, &used, err), 0);
    assert_int_equal(used, 119);
    assert_int_equal(d.magic, MESSAGE_MAGIC_V1);
    assert_int_equal(d.body_crc, 0x4BF43926);
    assert_int_equal(d.queue_id, 3);
    assert_int_equal(d.flag, 7);
    assert_int_equal(d.queue_offset, 16);
    assert_int_equal(d.physical_offset, 0x1234);
    assert_int_equal(d.born_timestamp, 1700000000000);
    assert_int_equal(d.born_host.port, 50000);
    assert_memory_equal(d.born_host.addr, "\x0a\x00\x00\x05", 4);
    assert_int_equal(d.reconsume_times, 1);
    assert_true(slice_eq(d.topic, "TopicTest"));
    assert_int_equal(d.body.len, 9);
    assert_memory_equal(d.body.p, "123456789", 9);
    struct slice tag;
    assert_true(properties_get(d.properties.p, d.properties.len, MSG_PROP_TAGS, &tag));
    assert_true(slice_eq(tag, "TagA"));

    /* CRC verification catches a flipped body byte only when asked. */
    rec[88] ^= 1;
    assert_int_equal(message_decode(rec, n, &limits_default, 0, &d, &used, err), 0);
    assert_int_equal(
        message_decode(rec, n, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &d, &used, err),
        TERN_E_MALFORMED);
    assert_non_null(strstr(err, "body crc"));
}

static void test_crc_mask(void **state)
{
    (void)state;
    assert_int_equal(message_body_crc("123456789", 9), 0x4BF43926u);
    /* crc32("a") = 0xE8B7BE43: high bit set, masked off. */
    assert_int_equal(message_body_crc("a", 1), 0x68B7BE43u);
    assert_int_equal(message_body_crc("", 0), 0);
}

static void test_decode_v2_magic(void **state)
{
    (void)state;
    /* V2: same layout with a 2-byte topic length (total + 1). */
    struct msg_stored m;
    fill_v4(&m);
    m.magic = MESSAGE_MAGIC_V2;
    struct buf b;
    buf_init(&b);
    assert_int_equal(message_encode(&m, &b), 0);
    assert_int_equal(b.len, 120);
    assert_int_equal(be32_load(b.data + 4), 0xDAA320AB);
    assert_int_equal(be16_load(b.data + 84 + 4 + 9), 9); /* topic length as int16 */
    struct msg_stored d;
    size_t used;
    char err[ERRMSG_SIZE];
    assert_int_equal(message_decode(b.data, b.len, &limits_default, 0, &d, &used, err), 0);
    assert_int_equal(d.magic, MESSAGE_MAGIC_V2);
    assert_true(slice_eq(d.topic, "TopicTest"));
    assert_int_equal(d.properties.len, 10);

    /* A 200-byte %RETRY% topic fits V2 only. */
    char topic[201];
    memset(topic, 'a', 200);
    memcpy(topic, "%RETRY%", 7);
    topic[200] = 0;
    m.topic = slice_of(topic);
    buf_reset(&b);
    assert_int_equal(message_encode(&m, &b), 0);
    assert_int_equal(message_decode(b.data, b.len, &limits_default, 0, &d, &used, err), 0);
    assert_int_equal(d.topic.len, 200);
    m.magic = 0;
    buf_reset(&b);
    assert_int_equal(message_encode(&m, &b), TERN_E_INVAL);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void expect_malformed(const uint8_t *p, size_t n, const char *needle)
{
    struct msg_stored d;
    size_t used = 7;
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(message_decode(p, n, &limits_default, 0, &d, &used, err), TERN_E_MALFORMED);
    assert_int_equal(used, 0);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s'", err, needle);
    assert_non_null(strstr(err, "stored message:"));
}

static void test_decode_rejects(void **state)
{
    (void)state;
    uint8_t rec[256], bad[256];
    size_t n = testlib_unhex(V4_HEX, rec, sizeof rec);

    /* Truncated: every proper prefix fails, none reads past it (ASan). */
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1);
        memcpy(cut, rec, k);
        struct msg_stored d;
        size_t used;
        char err[ERRMSG_SIZE];
        assert_int_equal(message_decode(cut, k, &limits_default, 0, &d, &used, err),
                         TERN_E_MALFORMED);
        free(cut);
    }
    expect_malformed(rec, 3, "truncated total size");
    expect_malformed(rec, n - 1, "total size 119 exceeds available 118");

    /* Oversized body length claim: refused by the limit before anything else. */
    memcpy(bad, rec, n);
    be32_store(bad + 84, 5000000);
    expect_malformed(bad, n, "stored message: body length 5000000 exceeds 4194304");
    /* Within the limit but beyond the record. */
    be32_store(bad + 84, 1000);
    expect_malformed(bad, n, "body length 1000 exceeds 31 bytes left");

    memcpy(bad, rec, n);
    be32_store(bad + 4, 0xCBD43194); /* BLANK magic */
    expect_malformed(bad, n, "bad magic code 0xcbd43194");

    memcpy(bad, rec, n);
    bad[84 + 4 + 9] = 50; /* topic length */
    expect_malformed(bad, n, "topic length 50 exceeds 21 bytes left");

    memcpy(bad, rec, n);
    bad[84 + 4 + 9 + 1] = ' '; /* " opicTest" */
    expect_malformed(bad, n, "topic: illegal character 0x20");

    memcpy(bad, rec, n);
    be16_store(bad + 107, 0x8000); /* properties length as negative int16 */
    expect_malformed(bad, n, "properties length 32768 exceeds 32767");
    be16_store(bad + 107, 11);
    expect_malformed(bad, n, "properties length 11 exceeds 10 bytes left");
    be16_store(bad + 107, 9);
    expect_malformed(bad, n, "leaves 1 bytes after properties");

    /* TOTALSIZE too small for the IPv6 hosts SYSFLAG claims. */
    memcpy(bad, rec, n);
    be32_store(bad + 36, MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6);
    expect_malformed(bad, n, "exceeds");

    memcpy(bad, rec, n);
    be32_store(bad, 40);
    expect_malformed(bad, n, "total size 40 below minimum 92");

    /* A huge TOTALSIZE claim with 8 bytes present: rejected, nothing allocated. */
    expect_malformed((const uint8_t *)"\x7f\xff\xff\xff\xda\xa3\x20\xa7", 8,
                     "total size 2147483647 exceeds available 8");

    /* A tighter configured body limit applies. */
    struct limits l = limits_default;
    l.max_body = 8;
    struct msg_stored d;
    size_t used;
    char err[ERRMSG_SIZE];
    assert_int_equal(message_decode(rec, n, &l, 0, &d, &used, err), TERN_E_MALFORMED);
    assert_string_equal(err, "stored message: body length 9 exceeds 8");
}

static void test_iterate_concatenated(void **state)
{
    (void)state;
    uint8_t rec[256];
    size_t n = testlib_unhex(V4_HEX, rec, sizeof rec);
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 3; i++) {
        size_t at = b.len;
        buf_append(&b, rec, n);
        assert_int_equal(message_patch(b.data + at, n, i, 1000 + i, 77), 0);
    }
    struct message_iter it;
    struct msg_stored d;
    char err[ERRMSG_SIZE];
    message_iter_init(&it, b.data, b.len, &limits_default, MESSAGE_DECODE_VERIFY_CRC);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(message_iter_next(&it, &d, err), 1);
        assert_int_equal(d.queue_offset, i);
        assert_int_equal(d.physical_offset, 1000 + i);
        assert_int_equal(d.store_timestamp, 77);
    }
    assert_int_equal(message_iter_next(&it, &d, err), 0);

    /* A torn third record: two good ones, then an error naming its offset. */
    message_iter_init(&it, b.data, b.len - 5, &limits_default, 0);
    assert_int_equal(message_iter_next(&it, &d, err), 1);
    assert_int_equal(message_iter_next(&it, &d, err), 1);
    assert_int_equal(message_iter_next(&it, &d, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "record at byte 238: stored message: total size 119 exceeds"));
    assert_int_equal(message_iter_next(&it, &d, err), TERN_E_MALFORMED);

    assert_int_equal(message_patch(b.data, 40, 1, 2, 3), TERN_E_INVAL);
    buf_free(&b);
}

static void test_offset_msgid(void **state)
{
    (void)state;
    struct msg_host h = {.family = MSG_HOST_IPV4, .addr = {10, 0, 0, 2}, .port = 10911};
    char id[MSGID_MAX_STR];
    assert_int_equal(msgid_offset_encode(&h, 0x1234, id), 32);
    assert_string_equal(id, "0A00000200002A9F0000000000001234"); /* ROCKETMQ-PROTOCOL.md §3.6 */

    struct msg_host d;
    int64_t off;
    char err[ERRMSG_SIZE];
    assert_int_equal(msgid_offset_decode("0a00000200002a9f0000000000001234", 32, &d, &off, err), 0);
    assert_int_equal(d.family, MSG_HOST_IPV4);
    assert_memory_equal(d.addr, h.addr, 4);
    assert_int_equal(d.port, 10911);
    assert_int_equal(off, 0x1234);

    struct msg_host h6 = {.family = MSG_HOST_IPV6, .port = 10911};
    h6.addr[0] = 0x20;
    h6.addr[1] = 0x01;
    h6.addr[15] = 0x09;
    assert_int_equal(msgid_offset_encode(&h6, INT64_MAX, id), 56);
    assert_string_equal(id, "2001000000000000000000000000000900002A9F7FFFFFFFFFFFFFFF");
    assert_int_equal(msgid_offset_decode(id, 56, &d, &off, err), 0);
    assert_int_equal(d.family, MSG_HOST_IPV6);
    assert_memory_equal(d.addr, h6.addr, 16);
    assert_true(off == INT64_MAX);

    assert_int_equal(msgid_offset_decode(id, 31, &d, &off, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "length 31"));
    assert_int_equal(msgid_offset_decode("0A00000200002A9F00000000000012G4", 32, &d, &off, err),
                     TERN_E_MALFORMED);
    assert_non_null(strstr(err, "non-hex character at 30"));
}

static void test_uniq_key(void **state)
{
    (void)state;
    struct msg_host ip = {.family = MSG_HOST_IPV4, .addr = {192, 168, 1, 7}};
    struct msgid_gen g;
    msgid_gen_init(&g, &ip, 0x12345, 0xCAFEBABE);
    /* 2023-11-14T22:13:20Z; the month starts 2023-11-01T00:00:00Z = 1698796800000. */
    int64_t now = 1700000000000;
    assert_int_equal(msgid_month_start(now, 0), 1698796800000);
    assert_int_equal(msgid_month_start(now, 1), 1701388800000);
    assert_int_equal(msgid_month_start(now, -1), 1696118400000);
    assert_int_equal(msgid_month_start(1701388800000 + 5, -11), 1672531200000); /* 2023-01-01 */
    char id[MSGID_MAX_STR];
    assert_int_equal(msgid_uniq_next(&g, now, id), 32);
    /* ip C0A80107, pid 0x2345 (int16), hash, 1203200000 ms = 0x47B76000, counter 0 */
    assert_string_equal(id, "C0A801072345CAFEBABE47B760000000");
    assert_int_equal(msgid_uniq_next(&g, now, id), 32);
    assert_string_equal(id + 28, "0001");
    g.counter = 0xFFFF;
    msgid_uniq_next(&g, now, id);
    msgid_uniq_next(&g, now, id);
    assert_string_equal(id + 28, "0000"); /* wraps like Java's (short) cast */

    struct msgid_uniq u;
    char err[ERRMSG_SIZE];
    assert_int_equal(msgid_uniq_decode("C0A801072345CAFEBABE47B760000005", 32, now + 60000, &u, err),
                     0);
    assert_memory_equal(u.ip.addr, ip.addr, 4);
    assert_int_equal(u.pid, 0x2345);
    assert_int_equal(u.hash, 0xCAFEBABE);
    assert_int_equal(u.counter, 5);
    assert_int_equal(u.timestamp_ms, now);
    /* Decoded early next month: the id still resolves to last month. */
    assert_int_equal(msgid_uniq_decode("C0A801072345CAFEBABE47B760000005", 32, 1701388800000 + 1000,
                                       &u, err),
                     0);
    assert_int_equal(u.timestamp_ms, now);
    assert_int_equal(msgid_uniq_decode("C0A80107", 8, now, &u, err), TERN_E_MALFORMED);
    assert_int_equal(msgid_uniq_decode("C0A801072345CAFEBABE47B76000000Z", 32, now, &u, err),
                     TERN_E_MALFORMED);
}

static void test_batch_three_and_corrupt(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    assert_int_equal(batch_encode_item(&b, 0, "a", 1, "TAGS\x01x\x02", 7), 0);
    assert_int_equal(batch_encode_item(&b, 5, "", 0, "", 0), 0);
    assert_int_equal(batch_encode_item(&b, -1, "hello", 5, "KEYS\x01k1 k2\x02", 11), 0);
    assert_int_equal(b.len, 30 + 22 + 38);
    /* First record byte for byte (§4.2 layout). */
    uint8_t want[64];
    size_t wn = testlib_unhex("0000001E 00000000 00000000 00000000 00000001 61 0007 544147530178 02",
                              want, sizeof want);
    assert_memory_equal(b.data, want, wn);

    struct batch_iter it;
    struct batch_item item;
    char err[ERRMSG_SIZE];
    batch_iter_init(&it, b.data, b.len, &limits_default);
    assert_int_equal(batch_iter_next(&it, &item, err), 1);
    assert_int_equal(item.body.len, 1);
    assert_int_equal(item.properties.len, 7);
    assert_int_equal(batch_iter_next(&it, &item, err), 1);
    assert_int_equal(item.flag, 5);
    assert_int_equal(item.body.len, 0);
    assert_int_equal(batch_iter_next(&it, &item, err), 1);
    assert_int_equal(item.flag, -1);
    assert_memory_equal(item.body.p, "hello", 5);
    assert_true(slice_eq(item.properties, "KEYS\x01k1 k2\x02"));
    assert_int_equal(batch_iter_next(&it, &item, err), 0);

    /* Second record's body length claims more than its TOTALSIZE holds. */
    be32_store(b.data + 30 + 16, 100);
    batch_iter_init(&it, b.data, b.len, &limits_default);
    assert_int_equal(batch_iter_next(&it, &item, err), 1);
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);
    assert_string_equal(err, "batch record at byte 30: body length 100 exceeds 2 bytes left");
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);

    /* Over the body limit, and TOTALSIZE not matching the fields. */
    be32_store(b.data + 30 + 16, 5000000);
    batch_iter_init(&it, b.data, b.len, &limits_default);
    batch_iter_next(&it, &item, err);
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "body length 5000000 exceeds 4194304"));
    be32_store(b.data + 30 + 16, 0);
    be32_store(b.data + 30, 23);
    batch_iter_init(&it, b.data, b.len, &limits_default);
    batch_iter_next(&it, &item, err);
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "does not fill total size 23"));
    be32_store(b.data + 30, 0x7FFFFFFF);
    batch_iter_init(&it, b.data, b.len, &limits_default);
    batch_iter_next(&it, &item, err);
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "total size 2147483647 outside 22.."));

    /* Trailing 3 bytes: too short for a TOTALSIZE. */
    batch_iter_init(&it, (const uint8_t *)"\0\0\0", 3, &limits_default);
    assert_int_equal(batch_iter_next(&it, &item, err), TERN_E_MALFORMED);
    assert_non_null(strstr(err, "truncated total size"));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_ipv4_vector),
        cmocka_unit_test(test_encode_ipv6_vector),
        cmocka_unit_test(test_decode_ipv4_fields),
        cmocka_unit_test(test_crc_mask),
        cmocka_unit_test(test_decode_v2_magic),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_iterate_concatenated),
        cmocka_unit_test(test_offset_msgid),
        cmocka_unit_test(test_uniq_key),
        cmocka_unit_test(test_batch_three_and_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
