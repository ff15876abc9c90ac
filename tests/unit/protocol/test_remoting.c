/* Unit tests for protocol/remoting, hdr_json, hdr_binary and codes (PROTOCOL.md §2, §3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/remoting.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static const char EXAMPLE_JSON[] =
    "{\"code\":30,\"extFields\":{\"queueId\":\"0\",\"topic\":\"T\"},\"flag\":0,\"language\":\"JAVA\","
    "\"opaque\":7,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":479}";

static const char EXAMPLE_BINARY_HEX[] = "00 00 00 33 | 01 00 00 2F | 00 1E | 00 | 01 DF | 00 00 00 07 |"
                                         "00 00 00 00 | 00 00 00 00 | 00 00 00 1A |"
                                         "00 05 746f706963 00 00 00 01 54 | 00 07 71756575654964 00 00 00 01 30";

/* Wrap header bytes into a frame: length word, header word, header, body. */
static size_t make_frame(uint8_t *out, size_t cap, int type, const void *hdr, size_t hlen, const void *body,
                         size_t blen)
{
    assert_true(8 + hlen + blen <= cap);
    be32_store(out, (uint32_t)(4 + hlen + blen));
    be32_store(out + 4, (uint32_t)type << 24 | (uint32_t)hlen);
    memcpy(out + 8, hdr, hlen);
    if (blen)
        memcpy(out + 8 + hlen, body, blen);
    return 8 + hlen + blen;
}

static size_t make_json_frame(uint8_t *out, size_t cap, const char *json)
{
    return make_frame(out, cap, REMOTING_SER_JSON, json, strlen(json), NULL, 0);
}

static void assert_ext(const struct remoting_cmd *c, const char *key, const char *want)
{
    struct slice v = remoting_ext_get(c, key);
    assert_non_null(v.p);
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
}

/* §2.1 / ROCKETMQ-PROTOCOL §1.3 worked example, JSON form, both directions. */
static void test_example_json(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    uint8_t frame[512];
    size_t n = make_json_frame(frame, sizeof frame, EXAMPLE_JSON);
    uint8_t prefix[8];
    testlib_unhex("00 00 00 8C | 00 00 00 88", prefix, sizeof prefix);
    assert_memory_equal(frame, prefix, 8);

    struct remoting_cmd c;
    remoting_cmd_init(&c);
    int rc = remoting_decode(&c, frame, n, &limits_default, errmsg);
    assert_int_equal(rc, 0);
    assert_int_equal(c.code, CODES_REQ_GET_MAX_OFFSET);
    assert_int_equal(c.opaque, 7);
    assert_int_equal(c.version, 479);
    assert_int_equal(c.language, CODES_LANG_JAVA);
    assert_int_equal(c.flag, 0);
    assert_int_equal(c.serialize, REMOTING_SER_JSON);
    assert_null(c.remark.p);
    assert_int_equal(c.n_ext, 2);
    assert_ext(&c, "topic", "T");
    assert_ext(&c, "queueId", "0");
    assert_int_equal(c.body.len, 0);

    /* Build the same request; topic set first to show extFields get sorted. */
    struct remoting_cmd r;
    remoting_cmd_init(&r);
    remoting_cmd_init_request(&r, CODES_REQ_GET_MAX_OFFSET);
    r.opaque = 7;
    assert_int_equal(remoting_ext_set_str(&r, "topic", "T"), 0);
    assert_int_equal(remoting_ext_set_int(&r, "queueId", 0), 0);
    struct buf out;
    buf_init(&out);
    assert_int_equal(remoting_encode(&r, 0, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, frame, n);
    buf_free(&out);
    remoting_cmd_free(&r);
    remoting_cmd_free(&c);
}

/* §2.2 worked example, binary form, both directions. */
static void test_example_binary(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    uint8_t frame[128];
    size_t n = testlib_unhex(EXAMPLE_BINARY_HEX, frame, sizeof frame);
    assert_int_equal(n, 55);

    size_t flen = 0;
    assert_int_equal(remoting_frame_check(frame, n, &limits_default, &flen, errmsg), 0);
    assert_int_equal(flen, 55);

    struct remoting_cmd c;
    remoting_cmd_init(&c);
    assert_int_equal(remoting_decode(&c, frame, n, &limits_default, errmsg), 0);
    assert_int_equal(c.serialize, REMOTING_SER_ROCKETMQ);
    assert_int_equal(c.code, 30);
    assert_int_equal(c.opaque, 7);
    assert_int_equal(c.version, 479);
    assert_int_equal(c.language, CODES_LANG_JAVA);
    assert_null(c.remark.p);
    assert_int_equal(c.n_ext, 2);
    assert_ext(&c, "topic", "T");
    assert_ext(&c, "queueId", "0");
    /* Binary strings are not copied: they point into the frame. */
    struct slice t = remoting_ext_get(&c, "topic");
    assert_true((const uint8_t *)t.p > frame && (const uint8_t *)t.p < frame + n);
    assert_int_equal(c.arena.cap, 0);

    struct remoting_cmd r;
    remoting_cmd_init(&r);
    remoting_cmd_init_request(&r, 30);
    r.serialize = REMOTING_SER_ROCKETMQ;
    r.opaque = 7;
    remoting_ext_set_str(&r, "topic", "T");
    remoting_ext_set_str(&r, "queueId", "0");
    struct buf out;
    buf_init(&out);
    assert_int_equal(remoting_encode(&r, 0, &out), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, frame, n);
    buf_free(&out);
    remoting_cmd_free(&r);
    remoting_cmd_free(&c);
}

/* §2.2 (decode rules 2-5): scalars in extFields, escapes, surrogates,
 * negative opaque, unknown keys, language as int. */
static void test_json_lenient(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    const char *json = "{\"code\":310,\"language\":\"CPP\",\"version\":317,\"opaque\":-5,\"flag\":2,"
                       "\"unknownKey\":{\"nested\":[1,2,{}]},\"remark\":\"r\\u00e9\","
                       "\"extFields\":{\"d\":4,\"e\":-3,\"k\":true,\"m\":false,\"big\":9007199254740993,"
                       "\"i\":\"KEYS\\u0001a b\\u0002TAGS\\u0001t\\u0002\",\"emoji\":\"\\ud83d\\ude00\","
                       "\"nul\":\"a\\u0000b\",\"gone\":null,\"real\":1.5}}";
    uint8_t frame[1024];
    size_t n = make_json_frame(frame, sizeof frame, json);
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    int rc = remoting_decode(&c, frame, n, &limits_default, errmsg);
    assert_int_equal(rc, 0);
    assert_int_equal(c.code, 310);
    assert_int_equal(c.language, CODES_LANG_CPP);
    assert_int_equal(c.opaque, -5);
    assert_true(remoting_is_oneway(&c));
    assert_false(remoting_is_response(&c));
    assert_int_equal(c.remark.len, 3);
    assert_memory_equal(c.remark.p, "r\xc3\xa9", 3);
    assert_ext(&c, "d", "4");
    assert_ext(&c, "e", "-3");
    assert_ext(&c, "k", "true");
    assert_ext(&c, "m", "false");
    assert_ext(&c, "big", "9007199254740993");
    assert_ext(&c, "i", "KEYS\x01" "a b\x02TAGS\x01t\x02");
    assert_ext(&c, "emoji", "\xf0\x9f\x98\x80");
    assert_ext(&c, "real", "1.5");
    struct slice nul = remoting_ext_get(&c, "nul");
    assert_int_equal(nul.len, 3);
    assert_memory_equal(nul.p, "a\0b", 3);
    assert_null(remoting_ext_get(&c, "gone").p);
    assert_null(remoting_ext_get(&c, "unknownKey").p);

    int32_t d = 0;
    bool k = false;
    assert_int_equal(remoting_ext_get_i32(&c, "d", &d, errmsg), 0);
    assert_int_equal(d, 4);
    assert_int_equal(remoting_ext_get_bool(&c, "k", &k, errmsg), 0);
    assert_true(k);

    /* Language as an integer, unknown language name, extFields null, no remark. */
    n = make_json_frame(frame, sizeof frame, "{\"code\":34,\"language\":9,\"extFields\":null,\"opaque\":1}");
    assert_int_equal(remoting_decode(&c, frame, n, &limits_default, errmsg), 0);
    assert_int_equal(c.language, CODES_LANG_GO);
    assert_int_equal(c.n_ext, 0);
    assert_null(c.remark.p);
    n = make_json_frame(frame, sizeof frame, "{\"code\":34,\"language\":\"COBOL\"}");
    assert_int_equal(remoting_decode(&c, frame, n, &limits_default, errmsg), 0);
    assert_int_equal(c.language, CODES_LANG_OTHER);
    assert_int_equal(c.opaque, 0);
    remoting_cmd_free(&c);
}

/* §2.1 output: escapes on emit, remark omitted when null, language name. */
static void test_json_encode_escapes(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    struct remoting_cmd c, d;
    remoting_cmd_init(&c);
    remoting_cmd_init(&d);
    remoting_cmd_init_request(&c, 310);
    c.opaque = -2147483647 - 1;
    c.language = CODES_LANG_GO;
    remoting_ext_set_str(&c, "i", "K\x01v\x02\"q\\\xf0\x9f\x98\x80");
    struct buf out;
    buf_init(&out);
    assert_int_equal(remoting_encode(&c, 0, &out), 0);
    const char *want = "{\"code\":310,\"extFields\":{\"i\":\"K\\u0001v\\u0002\\\"q\\\\\\ud83d\\ude00\"},"
                       "\"flag\":0,\"language\":\"GO\",\"opaque\":-2147483648,"
                       "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":479}";
    assert_int_equal(out.len - 8, strlen(want));
    assert_memory_equal(out.data + 8, want, strlen(want));
    /* And it reads back to the same bytes. */
    assert_int_equal(remoting_decode(&d, out.data, out.len, &limits_default, errmsg), 0);
    assert_int_equal(d.opaque, INT32_MIN);
    assert_ext(&d, "i", "K\x01v\x02\"q\\\xf0\x9f\x98\x80");
    buf_free(&out);
    remoting_cmd_free(&c);
    remoting_cmd_free(&d);
}

/* A built command survives encode/decode in both forms, body included. */
static void roundtrip(int ser)
{
    char errmsg[ERRMSG_SIZE] = "";
    struct remoting_cmd c, d;
    remoting_cmd_init(&c);
    remoting_cmd_init(&d);
    remoting_cmd_init_request(&c, CODES_REQ_SEND_MESSAGE_V2);
    c.serialize = (uint8_t)ser;
    c.opaque = 123456;
    c.flag = REMOTING_FLAG_ONEWAY;
    c.language = CODES_LANG_RUST;
    assert_int_equal(remoting_set_remark(&c, slice_of("some remark")), 0);
    char key[16];
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        assert_int_equal(remoting_ext_set_int(&c, key, (int64_t)i * 1000000007LL), 0);
    }
    struct buf out;
    buf_init(&out);
    const char body[] = "hello body";
    assert_int_equal(remoting_encode(&c, sizeof body - 1, &out), 0);
    buf_append(&out, body, sizeof body - 1);
    assert_int_equal(be32_load(out.data), out.len - 4);
    assert_int_equal(out.data[4], ser);

    assert_int_equal(remoting_decode(&d, out.data, out.len, &limits_default, errmsg), 0);
    assert_int_equal(d.serialize, ser);
    assert_int_equal(d.code, CODES_REQ_SEND_MESSAGE_V2);
    assert_int_equal(d.opaque, 123456);
    assert_int_equal(d.flag, REMOTING_FLAG_ONEWAY);
    assert_int_equal(d.language, CODES_LANG_RUST);
    assert_int_equal(d.version, CODES_VERSION_TERN);
    assert_int_equal(d.remark.len, 11);
    assert_memory_equal(d.remark.p, "some remark", 11);
    assert_int_equal(d.n_ext, 40);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        int64_t v = -1;
        assert_int_equal(remoting_ext_get_i64(&d, key, &v, errmsg), 0);
        assert_true(v == (int64_t)i * 1000000007LL);
    }
    assert_int_equal(d.body.len, sizeof body - 1);
    assert_memory_equal(d.body.p, body, d.body.len);
    buf_free(&out);
    remoting_cmd_free(&c);
    remoting_cmd_free(&d);
}

static void test_roundtrip_json(void **state)
{
    (void)state;
    roundtrip(REMOTING_SER_JSON);
}

static void test_roundtrip_binary(void **state)
{
    (void)state;
    roundtrip(REMOTING_SER_ROCKETMQ);
}

/* §2.5: a response copies opaque, sets the response bit, keeps the form. */
static void test_response_keeps_form(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    uint8_t frame[128];
    size_t n = testlib_unhex(EXAMPLE_BINARY_HEX, frame, sizeof frame);
    struct remoting_cmd req, resp, back;
    remoting_cmd_init(&req);
    remoting_cmd_init(&resp);
    remoting_cmd_init(&back);
    assert_int_equal(remoting_decode(&req, frame, n, &limits_default, errmsg), 0);
    req.opaque = -9;
    assert_int_equal(remoting_cmd_init_response(&resp, &req, CODES_RESP_SUCCESS, NULL), 0);
    assert_int_equal(resp.serialize, REMOTING_SER_ROCKETMQ);
    assert_true(remoting_is_response(&resp));
    assert_int_equal(resp.opaque, -9);
    assert_int_equal(resp.version, 479);
    remoting_ext_set_int(&resp, "offset", 42);
    struct buf out;
    buf_init(&out);
    assert_int_equal(remoting_encode(&resp, 0, &out), 0);
    assert_int_equal(out.data[4], REMOTING_SER_ROCKETMQ);
    assert_int_equal(remoting_decode(&back, out.data, out.len, &limits_default, errmsg), 0);
    assert_int_equal(back.opaque, -9);
    assert_int_equal(back.flag, REMOTING_FLAG_RESPONSE);
    assert_ext(&back, "offset", "42");

    /* A JSON request gets a JSON response with the remark. */
    n = make_json_frame(frame, sizeof frame, "{\"code\":99,\"opaque\":77,\"flag\":0}");
    assert_int_equal(remoting_decode(&req, frame, n, &limits_default, errmsg), 0);
    assert_int_equal(remoting_cmd_init_response(&resp, &req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED,
                                                " request type 99 not supported"),
                     0);
    buf_reset(&out);
    assert_int_equal(remoting_encode(&resp, 0, &out), 0);
    assert_int_equal(out.data[4], REMOTING_SER_JSON);
    const char *want = "{\"code\":3,\"extFields\":{},\"flag\":1,\"language\":\"JAVA\",\"opaque\":77,"
                       "\"remark\":\" request type 99 not supported\",\"serializeTypeCurrentRPC\":\"JSON\","
                       "\"version\":479}";
    assert_int_equal(out.len - 8, strlen(want));
    assert_memory_equal(out.data + 8, want, strlen(want));
    buf_free(&out);
    remoting_cmd_free(&req);
    remoting_cmd_free(&resp);
    remoting_cmd_free(&back);
}

/* §2.3: a stream reader gets AGAIN for every strict prefix of a frame. */
static void test_frame_incremental(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    uint8_t frame[256];
    size_t n = testlib_unhex(EXAMPLE_BINARY_HEX, frame, sizeof frame);
    /* A second frame follows in the buffer: only the first is reported. */
    memcpy(frame + n, frame, n);
    size_t flen = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(remoting_frame_check(frame, i, &limits_default, &flen, errmsg), TERN_E_AGAIN);
    assert_int_equal(remoting_frame_check(frame, 2 * n, &limits_default, &flen, errmsg), 0);
    assert_int_equal(flen, n);
    /* A truncated frame handed to decode is MALFORMED, not AGAIN. */
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    assert_int_equal(remoting_decode(&c, frame, n - 1, &limits_default, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "truncated"));
    assert_int_equal(remoting_decode(&c, frame, n + 3, &limits_default, errmsg), TERN_E_MALFORMED);
    remoting_cmd_free(&c);
}

/* §2.4: every declared length is checked before anything is allocated. */
static void test_frame_limits(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    size_t flen = 0;
    uint8_t p[16];

    testlib_unhex("FF FF FF FF", p, sizeof p);
    assert_int_equal(remoting_frame_check(p, 4, &limits_default, &flen, errmsg), TERN_E_TOOBIG);
    assert_string_equal(errmsg, "frame: length 4294967295 exceeds max 16777216");

    /* Exactly max_frame including the length word is accepted so far. */
    be32_store(p, LIMITS_DEFAULT_MAX_FRAME - 4);
    be32_store(p + 4, 0);
    struct limits big = limits_default;
    big.max_body = LIMITS_DEFAULT_MAX_FRAME;
    assert_int_equal(remoting_frame_check(p, 8, &big, &flen, errmsg), TERN_E_AGAIN);
    be32_store(p, LIMITS_DEFAULT_MAX_FRAME - 3);
    assert_int_equal(remoting_frame_check(p, 8, &big, &flen, errmsg), TERN_E_TOOBIG);

    testlib_unhex("00 00 00 33 | 00 00 27 0F", p, sizeof p); /* header 9999 > 47 */
    errmsg[0] = 0;
    assert_int_equal(remoting_frame_check(p, 8, &limits_default, &flen, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "header length 9999 exceeds frame"));

    testlib_unhex("00 00 00 02", p, sizeof p);
    assert_int_equal(remoting_frame_check(p, 4, &limits_default, &flen, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "length 2"));

    testlib_unhex("00 00 00 10 | 02 00 00 04", p, sizeof p);
    assert_int_equal(remoting_frame_check(p, 8, &limits_default, &flen, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "serialize type 2"));

    struct limits l = limits_default;
    l.max_header = 100;
    testlib_unhex("00 00 10 00 | 00 00 00 65", p, sizeof p); /* header 101 */
    assert_int_equal(remoting_frame_check(p, 8, &l, &flen, errmsg), TERN_E_TOOBIG);
    assert_string_equal(errmsg, "frame: header length 101 exceeds max 100");

    l = limits_default;
    l.max_body = 1000;
    testlib_unhex("00 00 10 00 | 00 00 00 10", p, sizeof p); /* body 4096-4-16 */
    assert_int_equal(remoting_frame_check(p, 8, &l, &flen, errmsg), TERN_E_TOOBIG);
    assert_string_equal(errmsg, "frame: body length 4076 exceeds max 1000");
}

static void expect_decode_fail(const uint8_t *frame, size_t n, int want, const char *needle)
{
    char errmsg[ERRMSG_SIZE] = "";
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    int rc = remoting_decode(&c, frame, n, &limits_default, errmsg);
    if (rc != want || !strstr(errmsg, needle))
        fail_msg("rc %d (want %d), errmsg \"%s\" (want \"%s\")", rc, want, errmsg, needle);
    /* Failure allocates nothing beyond what the header text could need. */
    assert_true(c.arena.cap <= 4096);
    remoting_cmd_free(&c);
}

/* §2.3: bad binary lengths are MALFORMED, naming the field. */
static void test_binary_malformed(void **state)
{
    (void)state;
    uint8_t f[256];
    size_t n;
    /* Header shorter than the fixed part. */
    n = testlib_unhex("00 00 00 08 | 01 00 00 04 | 00 1E 00 01", f, sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "fixed part");
    /* Remark length 0x7FFFFFFF and negative. */
    n = testlib_unhex("00 00 00 19 | 01 00 00 15 | 00 1E 00 01DF 00000007 00000000 7FFFFFFF 00000000", f,
                      sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "remark length 2147483647");
    n = testlib_unhex("00 00 00 19 | 01 00 00 15 | 00 1E 00 01DF 00000007 00000000 FFFFFFFF 00000000", f,
                      sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "remark length -1");
    /* extFields length beyond the header. */
    n = testlib_unhex("00 00 00 19 | 01 00 00 15 | 00 1E 00 01DF 00000007 00000000 00000000 00000001", f,
                      sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "extFields length 1");
    /* Key length past the area, negative key length, value length past the area. */
    n = testlib_unhex("00 00 00 1C | 01 00 00 18 | 00 1E 00 01DF 00000007 00000000 00000000 00000003 00 09 41",
                      f, sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "key length 9");
    n = testlib_unhex("00 00 00 1B | 01 00 00 17 | 00 1E 00 01DF 00000007 00000000 00000000 00000002 FF FF", f,
                      sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "key length -1");
    n = testlib_unhex("00 00 00 20 | 01 00 00 1C | 00 1E 00 01DF 00000007 00000000 00000000 00000007"
                      "00 01 41 00 00 00 05",
                      f, sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "value length 5");
    n = testlib_unhex("00 00 00 1E | 01 00 00 1A | 00 1E 00 01DF 00000007 00000000 00000000 00000005"
                      "00 01 41 00 00",
                      f, sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "value length truncated");
    /* Bytes left over after the extFields area. */
    n = testlib_unhex("00 00 00 1A | 01 00 00 16 | 00 1E 00 01DF 00000007 00000000 00000000 00000000 EE", f,
                      sizeof f);
    expect_decode_fail(f, n, TERN_E_MALFORMED, "1 trailing bytes");
}

/* §2.3: zero-length key or value is Java's null, i.e. absent. */
static void test_binary_null_entries(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    uint8_t f[256];
    size_t n;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 34);
    c.serialize = REMOTING_SER_ROCKETMQ;
    struct buf out;
    buf_init(&out);
    remoting_ext_set_str(&c, "A", "");
    remoting_ext_set_str(&c, "B", "b");
    assert_int_equal(remoting_encode(&c, 0, &out), 0);
    assert_int_equal(remoting_decode(&c, out.data, out.len, &limits_default, errmsg), 0);
    assert_int_equal(c.n_ext, 1);
    assert_null(remoting_ext_get(&c, "A").p);
    assert_ext(&c, "B", "b");
    buf_free(&out);

    /* Hand-built: remark "hi", entries (""->"A"), ("B"->null), ("B"->"x"), ("B"->"y"): last B wins. */
    n = testlib_unhex("00 00 00 39 | 01 00 00 35 | 00 22 09 013D FFFFFFFF 00000001 00000002 6869"
                      "0000001E | 0000 00000001 41 | 0001 42 00000000 | 0001 42 00000001 78 |"
                      "0001 42 00000001 79",
                      f, sizeof f);
    assert_int_equal(remoting_decode(&c, f, n, &limits_default, errmsg), 0);
    assert_int_equal(c.code, 34);
    assert_int_equal(c.language, CODES_LANG_GO);
    assert_int_equal(c.version, 317);
    assert_int_equal(c.opaque, -1);
    assert_int_equal(c.flag, 1);
    assert_int_equal(c.remark.len, 2);
    assert_memory_equal(c.remark.p, "hi", 2);
    assert_int_equal(c.n_ext, 1);
    assert_ext(&c, "B", "y");
    remoting_cmd_free(&c);
}

/* §2.4: more than REMOTING_MAX_EXT extFields is MALFORMED in both forms. */
static void test_too_many_ext(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    struct buf js;
    buf_init(&js);
    buf_append_str(&js, "{\"code\":1,\"extFields\":{");
    for (int i = 0; i <= REMOTING_MAX_EXT; i++)
        buf_printf(&js, "%s\"k%d\":\"v\"", i ? "," : "", i);
    buf_append_str(&js, "}}");
    struct buf f;
    buf_init(&f);
    buf_append_be32(&f, (uint32_t)(4 + js.len));
    buf_append_be32(&f, (uint32_t)js.len);
    buf_append(&f, js.data, js.len);
    expect_decode_fail(f.data, f.len, TERN_E_MALFORMED, "more than 128");

    /* Binary: 129 distinct keys. */
    struct buf h;
    buf_init(&h);
    uint8_t fixed[17] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    buf_append(&h, fixed, sizeof fixed);
    buf_append_be32(&h, (REMOTING_MAX_EXT + 1) * 9);
    for (int i = 0; i <= REMOTING_MAX_EXT; i++) {
        buf_append_be16(&h, 2);
        buf_append_u8(&h, 'a' + (uint8_t)(i / 26));
        buf_append_u8(&h, 'a' + (uint8_t)(i % 26));
        buf_append_be32(&h, 1);
        buf_append_u8(&h, 'v');
    }
    buf_reset(&f);
    buf_append_be32(&f, (uint32_t)(4 + h.len));
    buf_append_be32(&f, 1u << 24 | (uint32_t)h.len);
    buf_append(&f, h.data, h.len);
    expect_decode_fail(f.data, f.len, TERN_E_MALFORMED, "more than 128");

    /* Exactly the maximum decodes; one more set is refused. */
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    f.len -= 9;
    be32_store(f.data, (uint32_t)(f.len - 4));
    be32_store(f.data + 4, 1u << 24 | (uint32_t)(f.len - 8));
    be32_store(f.data + 8 + 17, REMOTING_MAX_EXT * 9);
    assert_int_equal(remoting_decode(&c, f.data, f.len, &limits_default, errmsg), 0);
    assert_int_equal(c.n_ext, REMOTING_MAX_EXT);
    assert_int_equal(remoting_ext_set_str(&c, "new", "x"), TERN_E_TOOBIG);
    assert_int_equal(remoting_ext_set_str(&c, "aa", "replaced"), 0);
    assert_ext(&c, "aa", "replaced");
    remoting_cmd_free(&c);
    buf_free(&h);
    buf_free(&f);
    buf_free(&js);
}

/* §2.2: malformed JSON headers are MALFORMED with a message. */
static void test_json_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *needle;
    } cases[] = {
        {"", "json header"},
        {"[1,2]", "not an object"},
        {"{\"code\":\"30\"}", "'code' is not an integer"},
        {"{\"code\":2147483648}", "outside int32"},
        {"{\"opaque\":-2147483649}", "outside int32"},
        {"{\"language\":[]}", "language"},
        {"{\"language\":256}", "language"},
        {"{\"remark\":5}", "remark"},
        {"{\"extFields\":[]}", "extFields"},
        {"{\"extFields\":{\"a\":{}}}", "extFields 'a' is not a scalar"},
        {"{\"code\":1}x", "json header"},
        {"{\"code\":1,\"remark\":\"\\ud800\"}", "json header"},
        {"{\"code\":99999999999999999999}", "json header"},
        {"{\"remark\":\"\xff\"}", "json header"},
    };
    uint8_t frame[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = make_json_frame(frame, sizeof frame, cases[i].json);
        expect_decode_fail(frame, n, TERN_E_MALFORMED, cases[i].needle);
    }
}

static void test_typed_getters(void **state)
{
    (void)state;
    char errmsg[ERRMSG_SIZE] = "";
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 11);
    remoting_ext_set_str(&c, "max32", "2147483647");
    remoting_ext_set_str(&c, "over32", "2147483648");
    remoting_ext_set_str(&c, "min64", "-9223372036854775808");
    remoting_ext_set_str(&c, "over64", "9223372036854775808");
    remoting_ext_set_str(&c, "plus", "+7");
    remoting_ext_set_str(&c, "space", " 7");
    remoting_ext_set_str(&c, "empty", "");
    remoting_ext_set_str(&c, "sign", "-");
    remoting_ext_set_str(&c, "hex", "0x10");
    remoting_ext_set_str(&c, "T", "TRUE");
    remoting_ext_set_str(&c, "yes", "yes");
    int32_t i32 = 99;
    int64_t i64 = 99;
    bool b = false;
    assert_int_equal(remoting_ext_get_i32(&c, "max32", &i32, errmsg), 0);
    assert_int_equal(i32, INT32_MAX);
    assert_int_equal(remoting_ext_get_i32(&c, "over32", &i32, errmsg), TERN_E_MALFORMED);
    assert_string_equal(errmsg, "'over32': not an int32: \"2147483648\"");
    assert_int_equal(remoting_ext_get_i64(&c, "over32", &i64, errmsg), 0);
    assert_true(i64 == 2147483648LL);
    assert_int_equal(remoting_ext_get_i64(&c, "min64", &i64, errmsg), 0);
    assert_true(i64 == INT64_MIN);
    assert_int_equal(remoting_ext_get_i64(&c, "over64", &i64, errmsg), TERN_E_MALFORMED);
    assert_int_equal(remoting_ext_get_i32(&c, "plus", &i32, errmsg), 0);
    assert_int_equal(i32, 7);
    const char *bad[] = {"space", "empty", "sign", "hex"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(remoting_ext_get_i64(&c, bad[i], &i64, errmsg), TERN_E_MALFORMED);
    i32 = 5;
    assert_int_equal(remoting_ext_get_i32(&c, "absent", &i32, errmsg), TERN_E_NOTFOUND);
    assert_string_equal(errmsg, "missing 'absent'");
    assert_int_equal(i32, 5);
    assert_int_equal(remoting_ext_get_bool(&c, "T", &b, errmsg), 0);
    assert_true(b);
    assert_int_equal(remoting_ext_get_bool(&c, "yes", &b, errmsg), TERN_E_MALFORMED);
    assert_non_null(strstr(errmsg, "'yes'"));
    remoting_cmd_free(&c);
}

/* Setters copy, replace, and keep slices valid while the arena grows,
 * including a value taken from the same command. */
static void test_setters_arena(void **state)
{
    (void)state;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 10);
    remoting_set_remark(&c, slice_of("remark-text"));
    char key[8], big[300];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        struct slice v = {big, (size_t)(i + 1) * 3};
        assert_int_equal(remoting_ext_set(&c, slice_of(key), v), 0);
        /* Self-aliasing copy: value of k0 into self<i>. */
        snprintf(key, sizeof key, "s%d", i % 20);
        assert_int_equal(remoting_ext_set(&c, slice_of(key), remoting_ext_get(&c, "k0")), 0);
    }
    assert_int_equal(c.n_ext, 120);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "k%d", i);
        struct slice v = remoting_ext_get(&c, key);
        assert_int_equal(v.len, (size_t)(i + 1) * 3);
        assert_memory_equal(v.p, big, v.len);
    }
    assert_ext(&c, "s7", "xxx");
    assert_int_equal(c.remark.len, 11);
    assert_memory_equal(c.remark.p, "remark-text", 11);
    /* Reset keeps the allocation for reuse. */
    size_t cap = c.arena.cap;
    assert_true(cap > 0);
    remoting_cmd_init_request(&c, 10);
    assert_int_equal(c.n_ext, 0);
    assert_null(c.remark.p);
    assert_int_equal(c.arena.cap, cap);
    remoting_cmd_free(&c);
}

static void test_encode_limits(void **state)
{
    (void)state;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 200050); /* POP code: JSON only */
    c.serialize = REMOTING_SER_ROCKETMQ;
    struct buf out;
    buf_init(&out);
    buf_append_str(&out, "keep");
    assert_int_equal(remoting_encode(&c, 0, &out), TERN_E_INVAL);
    assert_int_equal(out.len, 4);
    assert_int_equal(out.err, 0);
    c.serialize = 7;
    assert_int_equal(remoting_encode(&c, 0, &out), TERN_E_INVAL);
    assert_int_equal(out.len, 4);
    c.serialize = REMOTING_SER_JSON;
    assert_int_equal(remoting_encode(&c, 0, &out), 0);
    size_t at = out.len;
    assert_int_equal(remoting_encode(&c, (size_t)INT32_MAX, &out), TERN_E_TOOBIG);
    assert_int_equal(out.len, at);
    buf_free(&out);
    remoting_cmd_free(&c);
}

/* §3: code tables. */
static void test_codes(void **state)
{
    (void)state;
    assert_string_equal(codes_request_name(310), "SEND_MESSAGE_V2");
    assert_string_equal(codes_request_name(361), "LITE_PULL_MESSAGE");
    assert_null(codes_request_name(9000));
    assert_string_equal(codes_response_name(19), "PULL_NOT_FOUND");
    assert_string_equal(codes_response_name(2016), "CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS");
    assert_null(codes_response_name(5));
    assert_string_equal(codes_language_name(13), "NODE_JS");
    assert_null(codes_language_name(14));
    assert_int_equal(codes_language_from_name("GO", 2), 9);
    assert_int_equal(codes_language_from_name("GOX", 2), 9);
    assert_int_equal(codes_language_from_name("go", 2), -1);
    assert_true(codes_is_tern(9000) && codes_is_tern(9099));
    assert_false(codes_is_tern(8999) || codes_is_tern(9100));
    /* No RocketMQ code in the table falls in the Tern range. */
    for (int i = CODES_TERN_FIRST; i <= CODES_TERN_LAST; i++)
        assert_null(codes_request_name(i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_json),
        cmocka_unit_test(test_example_binary),
        cmocka_unit_test(test_json_lenient),
        cmocka_unit_test(test_json_encode_escapes),
        cmocka_unit_test(test_roundtrip_json),
        cmocka_unit_test(test_roundtrip_binary),
        cmocka_unit_test(test_response_keeps_form),
        cmocka_unit_test(test_frame_incremental),
        cmocka_unit_test(test_frame_limits),
        cmocka_unit_test(test_binary_malformed),
        cmocka_unit_test(test_binary_null_entries),
        cmocka_unit_test(test_too_many_ext),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_setters_arena),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
