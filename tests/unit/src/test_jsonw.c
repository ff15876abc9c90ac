/* Unit tests for the compact JSON writer (src/jsonw.c): commas, nesting, escapes. */
#include <jansson.h>
#include <string.h>

#include "src/buf.h"
#include "src/jsonw.h"
#include "tests/lib/testlib.h"

static void expect(struct buf *b, const char *want)
{
    assert_int_equal(b->err, 0);
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

static void test_structure_and_commas(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    struct jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj_begin(&w);
    jsonw_kv_int(&w, "code", -30);
    jsonw_key(&w, "ext");
    jsonw_obj_begin(&w);
    jsonw_obj_end(&w);
    jsonw_key(&w, "list");
    jsonw_arr_begin(&w);
    jsonw_cstr(&w, "a");
    jsonw_bool(&w, true);
    jsonw_null(&w);
    jsonw_arr_begin(&w);
    jsonw_arr_end(&w);
    jsonw_arr_end(&w);
    jsonw_key(&w, "addrs");
    jsonw_obj_begin(&w);
    jsonw_key_raw(&w, "0");
    jsonw_cstr(&w, "127.0.0.1:10911");
    jsonw_obj_end(&w);
    jsonw_obj_end(&w);
    expect(&b, "{\"code\":-30,\"ext\":{},\"list\":[\"a\",true,null,[]],\"addrs\":{0:\"127.0.0.1:10911\"}}");
    buf_free(&b);
}

static void test_escapes_roundtrip_through_jansson(void **state)
{
    (void)state;
    /* Properties separators 0x01/0x02, quote, backslash, newline, DEL, and a
     * 4-byte UTF-8 sequence (U+1F600). */
    const char raw[] = "K\x01v\x02\"q\"\\\n\x7f\xF0\x9F\x98\x80";
    struct buf b;
    buf_init(&b);
    jsonw_escape(&b, raw, sizeof raw - 1, false);
    expect(&b, "\"K\\u0001v\\u0002\\\"q\\\"\\\\\\n\\u007f\xF0\x9F\x98\x80\"");

    buf_reset(&b);
    jsonw_escape(&b, raw, sizeof raw - 1, true);
    expect(&b, "\"K\\u0001v\\u0002\\\"q\\\"\\\\\\n\\u007f\\ud83d\\ude00\"");

    /* Both forms decode back to the original bytes. */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), sizeof raw - 1);
    assert_memory_equal(json_string_value(j), raw, sizeof raw - 1);
    json_decref(j);

    /* Invalid UTF-8 becomes U+FFFD in ASCII mode rather than invalid JSON. */
    buf_reset(&b);
    jsonw_escape(&b, "\xC3(", 2, true);
    expect(&b, "\"\\ufffd(\"");
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure_and_commas),
        cmocka_unit_test(test_escapes_roundtrip_through_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
