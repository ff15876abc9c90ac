/* Unit tests for the broker's ACL table (broker/acl.h): plain_acl.yml
 * parsing and its errors, permission strings and checks, address patterns,
 * what each request code needs, and whole decisions on signed requests. */
#include <stdio.h>
#include <string.h>

#include "broker/acl.h"
#include "protocol/aclsign.h"
#include "protocol/codes.h"
#include "protocol/heartbeat.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static const char yml[] = "globalWhiteRemoteAddresses:\n"
                          "  - 10.10.103.*\n"
                          "accounts:\n"
                          "  - accessKey: RocketMQ\n"
                          "    secretKey: 12345678\n"
                          "    whiteRemoteAddress: 192.168.0.{1,2}\n"
                          "    admin: false\n"
                          "    defaultTopicPerm: DENY\n"
                          "    defaultGroupPerm: SUB\n"
                          "    topicPerms:\n"
                          "      - topicA=DENY\n"
                          "      - topicB=PUB|SUB\n"
                          "      - topicC=SUB\n"
                          "    groupPerms:\n"
                          "      - groupA=DENY\n"
                          "      - groupB=PUB|SUB\n"
                          "  - accessKey: rocketmq2\n"
                          "    secretKey: 12345678\n"
                          "    admin: true\n";

static struct acl_table *load(const char *text)
{
    struct acl_table *t = NULL;
    char err[ERRMSG_SIZE] = "";
    int rv = acl_table_parse(text, strlen(text), &t, err);
    if (rv != 0)
        fail_msg("parse: %s", err);
    return t;
}

static void test_parse_and_errors(void **state)
{
    (void)state;
    struct acl_table *t = load(yml);
    assert_int_equal(acl_table_accounts(t), 2);
    acl_table_free(t);

    struct {
        const char *text;
        const char *want;
    } bad[] = {
        {"accounts: [\n", "YAML error"},
        {"- a\n- b\n", "must be a mapping"},
        {"accounts:\n  - accessKey: x\n", "lacks accessKey or secretKey"},
        {"accounts:\n  - accessKey: x\n    secretKey: 123\n", "shorter than 6"},
        {"accounts:\n  - accessKey: x\n    secretKey: 1234567\n  - accessKey: x\n    secretKey: 1234567\n",
         "appears twice"},
        {"accounts:\n  - accessKey: x\n    secretKey: 1234567\n    topicPerms:\n      - nopermhere\n",
         "not name=PERM"},
        {"accounts: 5\n", NULL}, /* a scalar: no accounts, accepted */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[ERRMSG_SIZE] = "";
        struct acl_table *x = NULL;
        int rv = acl_table_parse(bad[i].text, strlen(bad[i].text), &x, err);
        if (!bad[i].want) {
            assert_int_equal(rv, 0);
            assert_int_equal(acl_table_accounts(x), 0);
            acl_table_free(x);
            continue;
        }
        assert_int_equal(rv, TERN_E_MALFORMED);
        if (!strstr(err, bad[i].want))
            fail_msg("case %zu: '%s' lacks '%s'", i, err, bad[i].want);
    }
}

static void test_perms_and_addresses(void **state)
{
    (void)state;
    assert_int_equal(acl_perm_parse("PUB", 3), ACL_PERM_PUB);
    assert_int_equal(acl_perm_parse("SUB|PUB", 7), ACL_PERM_PUB | ACL_PERM_SUB);
    assert_int_equal(acl_perm_parse("pub", 3), ACL_PERM_DENY);
    assert_true(acl_perm_allows(ACL_PERM_PUB, ACL_PERM_PUB | ACL_PERM_SUB));
    assert_false(acl_perm_allows(ACL_PERM_PUB, ACL_PERM_SUB));
    assert_false(acl_perm_allows(ACL_PERM_SUB, ACL_PERM_DENY | ACL_PERM_SUB));
    assert_true(acl_perm_allows(ACL_PERM_ANY, ACL_PERM_SUB));

    assert_true(acl_addr_match("*", "1.2.3.4"));
    assert_true(acl_addr_match("10.10.103.*", "10.10.103.7"));
    assert_true(acl_addr_match("10.10.*", "10.10.1.7"));
    assert_false(acl_addr_match("10.10.103.*", "10.10.104.7"));
    assert_true(acl_addr_match("192.168.0.{1,2}", "192.168.0.2"));
    assert_false(acl_addr_match("192.168.0.{1,2}", "192.168.0.3"));
    assert_true(acl_addr_match("192.168.1.10-20", "192.168.1.15"));
    assert_false(acl_addr_match("192.168.1.10-20", "192.168.1.21"));
    assert_true(acl_addr_match("127.0.0.1", "127.0.0.1"));
    assert_false(acl_addr_match("127.0.0.1", "127.0.0.11"));
    assert_false(acl_addr_match("127.0.0", "127.0.0.1"));
    assert_false(acl_addr_match("", "127.0.0.1"));
}

static void test_resources(void **state)
{
    (void)state;
    struct remoting_cmd c;
    struct acl_need need;
    char err[ERRMSG_SIZE];

    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, CODES_REQ_SEND_MESSAGE_V2);
    remoting_ext_set_str(&c, "b", "topicB");
    assert_int_equal(acl_request_resources(&c, &need, err), 0);
    assert_int_equal(need.n, 1);
    assert_string_equal(need.res[0].name, "topicB");
    assert_int_equal(need.res[0].perm, ACL_PERM_PUB);
    remoting_cmd_free(&c);

    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, CODES_REQ_PULL_MESSAGE);
    remoting_ext_set_str(&c, "topic", "topicC");
    remoting_ext_set_str(&c, "consumerGroup", "groupB");
    assert_int_equal(acl_request_resources(&c, &need, err), 0);
    assert_int_equal(need.n, 2);
    assert_string_equal(need.res[1].name, "%RETRY%groupB");
    assert_int_equal(need.res[1].perm, ACL_PERM_SUB);
    remoting_cmd_free(&c);

    /* INVOKE_BROKER_TO_RESET_OFFSET: the topic and the group ("group"). */
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, CODES_REQ_INVOKE_BROKER_TO_RESET_OFFSET);
    remoting_ext_set_str(&c, "topic", "topicC");
    remoting_ext_set_str(&c, "group", "groupR");
    assert_int_equal(acl_request_resources(&c, &need, err), 0);
    assert_int_equal(need.n, 2);
    assert_string_equal(need.res[0].name, "topicC");
    assert_string_equal(need.res[1].name, "%RETRY%groupR");
    assert_int_equal(need.res[1].perm, ACL_PERM_SUB);
    remoting_cmd_free(&c);

    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, CODES_REQ_UPDATE_AND_CREATE_TOPIC);
    assert_int_equal(acl_request_resources(&c, &need, err), 0);
    assert_true(need.admin);
    remoting_cmd_free(&c);

    /* HEART_BEAT: the group and every subscribed topic, from the body. */
    struct heartbeat_sub subs[2] = {{.topic = "topicC", .sub_string = "*"}, {.topic = "%RETRY%groupB", .sub_string = "*"}};
    struct heartbeat_consumer cons = {.group = "groupB", .consume_type = HEARTBEAT_CONSUME_PASSIVELY,
                                      .message_model = HEARTBEAT_CLUSTERING,
                                      .from_where = HEARTBEAT_FROM_LAST_OFFSET, .subs = subs, .sub_count = 2};
    struct heartbeat hb = {.client_id = "c1", .consumers = &cons, .consumer_count = 1};
    struct buf body;
    buf_init(&body);
    assert_int_equal(heartbeat_encode(&hb, &body), 0);
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, CODES_REQ_HEART_BEAT);
    c.body.p = (const char *)body.data;
    c.body.len = body.len;
    if (acl_request_resources(&c, &need, err) != 0)
        fail_msg("heartbeat: %s", err);
    assert_int_equal(need.n, 2);
    assert_string_equal(need.res[0].name, "%RETRY%groupB");
    assert_string_equal(need.res[1].name, "topicC");
    c.body.len = 3; /* truncated JSON */
    assert_int_equal(acl_request_resources(&c, &need, err), TERN_E_MALFORMED);
    remoting_cmd_free(&c);
    buf_free(&body);
}

/* A signed request as a server decodes it. */
static int check(struct acl_table *t, const char *ip, int code, const char *ak, const char *secret,
                 const char *k1, const char *v1, const char *k2, const char *v2)
{
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, code);
    if (k1)
        remoting_ext_set_str(&c, k1, v1);
    if (k2)
        remoting_ext_set_str(&c, k2, v2);
    if (ak)
        assert_int_equal(aclsign_sign(&c, NULL, 0, ak, secret), 0);
    char err[ERRMSG_SIZE] = "";
    int rv = acl_table_check(t, ip, &c, err);
    if (rv != 0)
        assert_true(err[0] != '\0');
    remoting_cmd_free(&c);
    return rv;
}

static void test_decisions(void **state)
{
    (void)state;
    struct acl_table *t = load(yml);
    const char *ip = "127.0.0.1";
    int send = CODES_REQ_SEND_MESSAGE_V2, pull = CODES_REQ_PULL_MESSAGE;
    /* Topic permissions for PUB. */
    assert_int_equal(check(t, ip, send, "RocketMQ", "12345678", "b", "topicB", NULL, NULL), 0);
    assert_int_equal(check(t, ip, send, "RocketMQ", "12345678", "b", "topicA", NULL, NULL), TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, send, "RocketMQ", "12345678", "b", "topicC", NULL, NULL), TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, send, "RocketMQ", "12345678", "b", "other", NULL, NULL), TERN_E_NO_PERMISSION);
    /* Wrong secret, unknown key, no key. */
    assert_int_equal(check(t, ip, send, "RocketMQ", "87654321", "b", "topicB", NULL, NULL), TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, send, "nobody", "12345678", "b", "topicB", NULL, NULL), TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, send, NULL, NULL, "b", "topicB", NULL, NULL), TERN_E_NO_PERMISSION);
    /* Pull needs SUB on the topic and on the group (default group SUB). */
    assert_int_equal(check(t, ip, pull, "RocketMQ", "12345678", "topic", "topicC", "consumerGroup", "g9"), 0);
    assert_int_equal(check(t, ip, pull, "RocketMQ", "12345678", "topic", "topicC", "consumerGroup", "groupA"),
                     TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, pull, "RocketMQ", "12345678", "topic", "topicA", "consumerGroup", "g9"),
                     TERN_E_NO_PERMISSION);
    /* Admin-only codes, and an admin account. */
    assert_int_equal(check(t, ip, CODES_REQ_UPDATE_AND_CREATE_TOPIC, "RocketMQ", "12345678", "topic", "x", NULL, NULL),
                     TERN_E_NO_PERMISSION);
    assert_int_equal(check(t, ip, CODES_REQ_UPDATE_AND_CREATE_TOPIC, "rocketmq2", "12345678", "topic", "x", NULL, NULL),
                     0);
    assert_int_equal(check(t, ip, send, "rocketmq2", "12345678", "b", "topicA", NULL, NULL), 0);
    /* White addresses: the account's (signature not checked) and the global list (no key at all). */
    assert_int_equal(check(t, "192.168.0.1", send, "RocketMQ", "wrong-secret", "b", "topicA", NULL, NULL), 0);
    assert_int_equal(check(t, "10.10.103.9", send, NULL, NULL, "b", "topicA", NULL, NULL), 0);
    assert_int_equal(check(t, "10.10.104.9", send, NULL, NULL, "b", "topicA", NULL, NULL), TERN_E_NO_PERMISSION);
    acl_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_errors),
        cmocka_unit_test(test_perms_and_addresses),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
