/* Unit tests for properties strings, tag hashes and TAG expressions (PROTOCOL.md §M.1, §M.5). */
#include <stdio.h>
#include <string.h>

#include "protocol/properties.h"
#include "protocol/tags.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_parse_basic_and_dropped(void **state)
{
    (void)state;
    struct properties p;
    char err[ERRMSG_SIZE];
    /* Dropped: empty value, empty key, no separator, too short, trailing item
     * without 0x02 is kept. */
    const char s[] = "TAGS\x01TagA\x02"
                     "EMPTY\x01\x02"
                     "\x01novalue\x02"
                     "nosep\x02"
                     "a\x02"
                     "\x02"
                     "KEYS\x01k1 k2\x02"
                     "X\x01y";
    assert_int_equal(properties_parse(S(s), &limits_default, &p, err), 0);
    assert_int_equal(p.count, 3);
    struct slice v;
    assert_true(properties_find(&p, MSG_PROP_TAGS, &v));
    assert_true(slice_eq(v, "TagA"));
    assert_true(properties_find(&p, "KEYS", &v));
    assert_true(slice_eq(v, "k1 k2"));
    assert_true(properties_find(&p, "X", &v));
    assert_true(slice_eq(v, "y"));
    assert_false(properties_find(&p, "EMPTY", &v));
    assert_false(properties_find(&p, "TAG", &v));

    /* A value may contain 0x01; only the first separates the name. */
    assert_int_equal(properties_parse(S("k\x01v\x01w\x02"), &limits_default, &p, err), 0);
    assert_int_equal(p.count, 1);
    assert_true(slice_eq(p.items[0].val, "v\x01w"));

    /* Duplicate key: the last value wins (HashMap.put), one entry. */
    assert_int_equal(properties_parse(S("A\x01" "1\x02" "B\x01" "2\x02" "A\x01" "3\x02"),
                                      &limits_default, &p, err),
                     0);
    assert_int_equal(p.count, 2);
    assert_true(properties_find(&p, "A", &v));
    assert_true(slice_eq(v, "3"));
    assert_true(properties_get(S("A\x01" "1\x02" "B\x01" "2\x02" "A\x01" "3\x02"), "A", &v));
    assert_true(slice_eq(v, "3"));

    assert_int_equal(properties_parse("", 0, &limits_default, &p, err), 0);
    assert_int_equal(p.count, 0);
}

static void test_parse_limits(void **state)
{
    (void)state;
    static struct properties p;
    char err[ERRMSG_SIZE];
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < PROPERTIES_MAX_ITEMS + 1; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        properties_append(&b, k, "v", 1);
    }
    assert_int_equal(properties_parse((const char *)b.data, b.len, &limits_default, &p, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "properties: more than 256 items");
    assert_int_equal(p.count, 0);

    struct limits l = limits_default;
    l.max_properties = 10;
    assert_int_equal(properties_parse(S("TAGS\x01TagA\x02X\x01y\x02"), &l, &p, err),
                     TERN_E_MALFORMED);
    assert_string_equal(err, "properties: length 14 exceeds 10");
    buf_free(&b);
}

static void test_build_and_edit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    properties_append(&b, MSG_PROP_UNIQ_KEY, "ABC", 3);
    properties_append(&b, MSG_PROP_WAIT, "", 0); /* empty: not written */
    properties_append(&b, MSG_PROP_TAGS, "T", 1);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, "UNIQ_KEY\x01" "ABC\x02TAGS\x01T\x02", 20);

    struct properties p;
    char err[ERRMSG_SIZE];
    assert_int_equal(properties_parse((const char *)b.data, b.len, &limits_default, &p, err), 0);
    struct buf r;
    buf_init(&r);
    properties_build(&p, &r);
    assert_int_equal(r.len, b.len);
    assert_memory_equal(r.data, b.data, b.len);

    /* Replace in place of the old item, keeping the others. */
    buf_reset(&r);
    assert_int_equal(
        properties_set((const char *)b.data, b.len, MSG_PROP_UNIQ_KEY, "XYZW", 4, &r), 0);
    assert_int_equal(r.len, 21);
    assert_memory_equal(r.data, "TAGS\x01T\x02UNIQ_KEY\x01XYZW\x02", 21);
    /* Add a new key to a string with a dropped item: the item is cleaned out. */
    buf_reset(&r);
    assert_int_equal(properties_set(S("A\x01\x02" "B\x01" "b"), MSG_PROP_CLUSTER, "c1", 2, &r), 0);
    assert_int_equal(r.len, 15);
    assert_memory_equal(r.data, "B\x01" "b\x02" "CLUSTER\x01" "c1\x02", 15);
    buf_reset(&r);
    assert_int_equal(properties_remove((const char *)b.data, b.len, MSG_PROP_TAGS, &r), 0);
    assert_memory_equal(r.data, "UNIQ_KEY\x01" "ABC\x02", 13);
    assert_int_equal(r.len, 13);
    buf_reset(&r);
    assert_int_equal(properties_set(S("A\x01" "1\x02"), "bad\x01key", "v", 1, &r), TERN_E_INVAL);
    assert_int_equal(properties_set(S("A\x01" "1\x02"), "k", "v\x02", 2, &r), TERN_E_INVAL);
    buf_free(&r);
    buf_free(&b);
}

static void test_sysflag_helpers(void **state)
{
    (void)state;
    int32_t f = MSG_SYSFLAG_COMPRESSED | (MSG_COMPRESSION_LZ4 << MSG_SYSFLAG_COMPRESSION_SHIFT) |
                MSG_SYSFLAG_TRANSACTION_COMMIT | MSG_SYSFLAG_BORNHOST_V6;
    assert_int_equal(f, 0x119);
    assert_int_equal(msg_sysflag_compression(f), MSG_COMPRESSION_LZ4);
    assert_int_equal(msg_sysflag_transaction(f), MSG_SYSFLAG_TRANSACTION_COMMIT);
    assert_int_equal(msg_sysflag_compression(0x301), MSG_COMPRESSION_ZLIB);
}

static void test_tag_hash(void **state)
{
    (void)state;
    assert_int_equal(tags_hash(S("TagA")), 2598919); /* Java "TagA".hashCode() */
    assert_int_equal(tags_hash(S("TagB")), 2598920);
    assert_int_equal(tags_hash("", 0), 0);
    /* "标签A": two BMP code points (3-byte UTF-8) + 'A'. */
    assert_int_equal(tags_hash(S("\xe6\xa0\x87\xe7\xad\xbe" "A")), 26572490);
    /* "tag😀": U+1F600 counts as the surrogates D83D DE00. */
    assert_int_equal(tags_hash(S("tag\xf0\x9f\x98\x80")), 111890045);
    /* int32 wrap-around: a long ASCII tag hashes as Java does. */
    assert_int_equal(tags_hash(S("abcdefghijklmnopqrstuvwxyz")), 958031277);
    /* Malformed UTF-8 counts as U+FFFD ("\xff" alone == "\xef\xbf\xbd"). */
    assert_int_equal(tags_hash(S("a\xff")), tags_hash(S("a\xef\xbf\xbd")));
    assert_int_equal(tags_hash(S("\xe6\xa0")), 0xFFFD); /* truncated sequence, one U+FFFD */
}

static void test_tag_expression(void **state)
{
    (void)state;
    struct tags_expr e;
    char err[ERRMSG_SIZE];
    assert_int_equal(tags_parse(S("*"), &e, err), 0);
    assert_true(e.all);
    assert_true(tags_match_code(&e, 12345));
    assert_int_equal(tags_parse("", 0, &e, err), 0);
    assert_true(e.all);

    assert_int_equal(tags_parse(S(" TagA ||TagB|| ||TagA|| \tTagC\t"), &e, err), 0);
    assert_false(e.all);
    assert_int_equal(e.count, 3);
    assert_true(slice_eq(e.tags[0], "TagA"));
    assert_true(slice_eq(e.tags[1], "TagB"));
    assert_true(slice_eq(e.tags[2], "TagC"));
    assert_int_equal(e.codes[0], 2598919);
    assert_true(tags_match_code(&e, 2598920));
    assert_false(tags_match_code(&e, 0));
    assert_true(tags_match(&e, S("TagC")));
    assert_false(tags_match(&e, S("TagD")));
    /* A single '|' is part of a tag. */
    assert_int_equal(tags_parse(S("a|b||c"), &e, err), 0);
    assert_int_equal(e.count, 2);
    assert_true(slice_eq(e.tags[0], "a|b"));
    assert_int_equal(tags_parse(S("||"), &e, err), 0);
    assert_false(e.all);
    assert_int_equal(e.count, 0);

    char many[TAGS_MAX * 8];
    size_t n = 0;
    for (int i = 0; i <= TAGS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, "t%d||", i);
    assert_int_equal(tags_parse(many, n, &e, err), TERN_E_MALFORMED);
    assert_string_equal(err, "tags: more than 64 tags in expression");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_basic_and_dropped),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_build_and_edit),
        cmocka_unit_test(test_sysflag_helpers),
        cmocka_unit_test(test_tag_hash),
        cmocka_unit_test(test_tag_expression),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
