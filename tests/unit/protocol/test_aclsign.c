/* Unit tests for ACL request signatures (protocol/aclsign.h): a known-answer
 * vector computed independently (Python's hmac over the same bytes), key
 * order, Signature excluded from its own content, and tampering detected. */
#include <string.h>

#include "protocol/aclsign.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static void test_known_answer(void **state)
{
    (void)state;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 310);
    /* Added out of order: the content is "ak" "G" "TopicA" by key order
     * AccessKey < a < b, then the body. */
    assert_int_equal(remoting_ext_set_str(&c, "b", "TopicA"), 0);
    assert_int_equal(remoting_ext_set_str(&c, "a", "G"), 0);
    assert_int_equal(remoting_ext_set_str(&c, "AccessKey", "ak"), 0);
    struct iovec body = {(void *)"hello", 5};
    char sig[ACLSIGN_B64_LEN + 1];
    aclsign_compute(&c, &body, 1, "12345678", 8, sig);
    /* python3: base64(hmac.new(b'12345678', b'akGTopicAhello', sha1)) */
    assert_string_equal(sig, "48a9/8EvF3SXvkmLzV858oNf2VI=");

    /* Body split over two iovecs signs the same bytes. */
    struct iovec two[2] = {{(void *)"hel", 3}, {(void *)"lo", 2}};
    char sig2[ACLSIGN_B64_LEN + 1];
    aclsign_compute(&c, two, 2, "12345678", 8, sig2);
    assert_string_equal(sig, sig2);

    /* A Signature already present is not part of the content. */
    assert_int_equal(remoting_ext_set_str(&c, "Signature", "whatever"), 0);
    aclsign_compute(&c, &body, 1, "12345678", 8, sig2);
    assert_string_equal(sig, sig2);
    remoting_cmd_free(&c);

    /* Nothing at all to sign. */
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 34);
    aclsign_compute(&c, NULL, 0, "12345678", 8, sig);
    assert_string_equal(sig, "beQgVA0KNM4WtCe68fj2DEn3WWU=");
    remoting_cmd_free(&c);
}

static void test_sign_then_verify(void **state)
{
    (void)state;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 11);
    assert_int_equal(remoting_ext_set_str(&c, "topic", "T"), 0);
    assert_int_equal(remoting_ext_set_str(&c, "consumerGroup", "G"), 0);
    static const char body[] = "payload";
    struct iovec iov = {(void *)body, sizeof body - 1};
    assert_int_equal(aclsign_sign(&c, &iov, 1, "ak", "secret-1"), 0);
    assert_true(remoting_ext_get(&c, "AccessKey").len == 2);
    /* What a server decodes: the same extFields and the body slice. */
    c.body.p = body;
    c.body.len = sizeof body - 1;
    assert_true(aclsign_verify(&c, "secret-1", 8));
    assert_false(aclsign_verify(&c, "secret-2", 8));
    /* A changed body, a changed field, a missing signature: refused. */
    c.body.len--;
    assert_false(aclsign_verify(&c, "secret-1", 8));
    c.body.len++;
    assert_int_equal(remoting_ext_set_str(&c, "topic", "U"), 0);
    assert_false(aclsign_verify(&c, "secret-1", 8));
    assert_int_equal(remoting_ext_set_str(&c, "topic", "T"), 0);
    assert_true(aclsign_verify(&c, "secret-1", 8));
    assert_int_equal(remoting_ext_set_str(&c, "Signature", "short"), 0);
    assert_false(aclsign_verify(&c, "secret-1", 8));
    remoting_cmd_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answer),
        cmocka_unit_test(test_sign_then_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
