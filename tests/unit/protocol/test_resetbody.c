/* Unit tests for protocol/resetbody.c (PROTOCOL.md §4.3): our encoding
 * round-trips, fastjson's rendering (keys in any order, spaces) scans, and
 * broken bodies are MALFORMED without reading past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/resetbody.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static void test_roundtrip(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    resetbody_begin(&b);
    resetbody_add(&b, "broker-a", "orders", 0, 42);
    resetbody_add(&b, "broker-a", "orders", 3, 0);
    resetbody_add(&b, "broker-b", "%RETRY%g1", 1, 9007199254740993LL);
    assert_int_equal(resetbody_end(&b), 0);
    assert_true(b.len > 0);
    assert_memory_equal(b.data,
                        "{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"orders\"}:42,",
                        strlen("{\"offsetTable\":{{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"orders\"}:42,"));
    struct resetbody_entry e;
    size_t pos = 0;
    assert_int_equal(resetbody_next((const char *)b.data, b.len, &pos, &e), 1);
    assert_int_equal(e.broker.len, 8);
    assert_memory_equal(e.broker.p, "broker-a", 8);
    assert_int_equal(e.queue_id, 0);
    assert_int_equal(e.offset, 42);
    assert_int_equal(resetbody_next((const char *)b.data, b.len, &pos, &e), 1);
    assert_int_equal(e.queue_id, 3);
    assert_int_equal(e.offset, 0);
    assert_int_equal(resetbody_next((const char *)b.data, b.len, &pos, &e), 1);
    assert_int_equal(e.topic.len, 9);
    assert_memory_equal(e.topic.p, "%RETRY%g1", 9);
    assert_int_equal(e.offset, 9007199254740993LL);
    assert_int_equal(resetbody_next((const char *)b.data, b.len, &pos, &e), 0);
    assert_int_equal(resetbody_next((const char *)b.data, b.len, &pos, &e), 0);
    buf_free(&b);
}

static void test_fastjson_variants(void **state)
{
    (void)state;
    const char *s = "{ \"offsetTable\" : { { \"topic\" : \"T\", \"queueId\" : 7 , \"brokerName\":\"b\" } : 5 } }";
    struct resetbody_entry e;
    size_t pos = 0;
    assert_int_equal(resetbody_next(s, strlen(s), &pos, &e), 1);
    assert_int_equal(e.queue_id, 7);
    assert_int_equal(e.offset, 5);
    assert_int_equal(e.topic.len, 1);
    assert_int_equal(resetbody_next(s, strlen(s), &pos, &e), 0);
    const char *empty = "{\"offsetTable\":{}}";
    pos = 0;
    assert_int_equal(resetbody_next(empty, strlen(empty), &pos, &e), 0);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "{}",
        "{\"offsetTable\":[]}",
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1}:5}}",          /* no topic */
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"topic\":\"t\"}:5}}",         /* no queueId */
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t\"}}}", /* no offset */
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t\"}:99999999999999999999}}",
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":4294967296,\"topic\":\"t\"}:1}}",
        "{\"offsetTable\":{{\"brokerName\":\"b\\\"x\",\"queueId\":1,\"topic\":\"t\"}:1}}", /* escaped name */
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t\"}:1",          /* cut */
        "{\"offsetTable\":{{\"brokerName\":\"b\",\"queueId\":1,\"topic\":\"t",               /* cut */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* A heap copy of exactly the bytes: ASan catches any read past them. */
        size_t n = strlen(bad[i]);
        char *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, bad[i], n);
        struct resetbody_entry e;
        size_t pos = 0;
        int rv;
        while ((rv = resetbody_next(p, n, &pos, &e)) == 1)
            ;
        assert_int_equal(rv, TERN_E_MALFORMED);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_fastjson_variants),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
