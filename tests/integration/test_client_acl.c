/* Integration: a real tern-broker with aclEnable. Unsigned, wrongly signed
 * and out-of-permission requests get NO_PERMISSION; signed ones within
 * their permissions work in both header forms and through libtern; the ACL
 * file is re-read without a restart, and a broken edit keeps the previous
 * table. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "src/clock.h"
#include "tern/error.h"
#include "tern/tern.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

static struct proc ns, broker;
static char dir[512], ns_addr[64], broker_addr[64], acl_path[600];
static int broker_port;

static void write_acl(const char *topic_a_perm)
{
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", acl_path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fprintf(f,
            "accounts:\n"
            "  - accessKey: app\n"
            "    secretKey: app-secret\n"
            "    defaultTopicPerm: DENY\n"
            "    defaultGroupPerm: SUB\n"
            "    topicPerms:\n"
            "      - allowed=PUB|SUB\n"
            "      - topicA=%s\n"
            "    groupPerms:\n"
            "      - badgroup=DENY\n"
            "  - accessKey: ops\n"
            "    secretKey: ops-secret\n"
            "    admin: true\n",
            topic_a_perm);
    fclose(f);
    assert_int_equal(rename(tmp, acl_path), 0);
}

static int setup(void **state)
{
    (void)state;
    char bin[512], log[600], port_s[16];
    testlib_tmpdir(dir, sizeof dir, "client-acl");
    snprintf(acl_path, sizeof acl_path, "%s/plain_acl.yml", dir);
    write_acl("DENY");
    int nsport = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", nsport);
    snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", nsport);
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    const char *nargv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s, NULL};
    proc_start(&ns, nargv, log);
    assert_true(proc_wait_port(nsport, 10000));

    broker_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", broker_port);
    char set_port[64], set_dir[600], set_ns[96], set_acl[700];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", broker_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", ns_addr);
    snprintf(set_acl, sizeof set_acl, "aclFile=%s", acl_path);
    const char *bargv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                           "--set", set_ns, "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                           "--set", "aclEnable=true", "--set", set_acl, "--set", "aclReloadInterval=200ms",
                           NULL};
    proc_start(&broker, bargv, log);
    if (!proc_wait_port(broker_port, 10000)) {
        proc_dump_log(&broker, 50);
        fail_msg("broker did not start");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&broker, 5000);
    proc_stop(&ns, 5000);
    testlib_rmtree(dir);
    return 0;
}

static int send_as(const char *ak, const char *sk, uint8_t ser, const char *topic)
{
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    if (ak)
        assert_int_equal(rpc_hub_set_credentials(&s.hub, ak, sk), 0);
    int code = tclient_send_ex(&s, CODES_REQ_SEND_MESSAGE_V2, ser, topic, 0, NULL, "x", 1, NULL);
    if (code == CODES_RESP_NO_PERMISSION)
        assert_true(s.resp.remark.len > 0); /* says why */
    rpcsync_close(&s);
    return code;
}

static void test_signatures_and_permissions(void **state)
{
    (void)state;
    uint8_t bin = REMOTING_SER_ROCKETMQ, json = REMOTING_SER_JSON;
    assert_int_equal(send_as(NULL, NULL, bin, "allowed"), CODES_RESP_NO_PERMISSION);
    assert_int_equal(send_as("app", "wrong-secret", bin, "allowed"), CODES_RESP_NO_PERMISSION);
    assert_int_equal(send_as("stranger", "app-secret", bin, "allowed"), CODES_RESP_NO_PERMISSION);
    assert_int_equal(send_as("app", "app-secret", bin, "allowed"), CODES_RESP_SUCCESS);
    assert_int_equal(send_as("app", "app-secret", json, "allowed"), CODES_RESP_SUCCESS);
    assert_int_equal(send_as("app", "app-secret", bin, "topicA"), CODES_RESP_NO_PERMISSION);
    assert_int_equal(send_as("app", "app-secret", bin, "elsewhere"), CODES_RESP_NO_PERMISSION);
    assert_int_equal(send_as("ops", "ops-secret", bin, "elsewhere"), CODES_RESP_SUCCESS);

    /* Pull: SUB on the topic and on the group. */
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    assert_int_equal(rpc_hub_set_credentials(&s.hub, "app", "app-secret"), 0);
    assert_int_equal(tclient_pull(&s, "goodgroup", "allowed", 0, 0, 32), CODES_RESP_SUCCESS);
    assert_true(tclient_count_records(&s) >= 2);
    assert_int_equal(tclient_pull(&s, "badgroup", "allowed", 0, 0, 32), CODES_RESP_NO_PERMISSION);
    rpcsync_close(&s);
}

static void test_reload_without_restart(void **state)
{
    (void)state;
    assert_int_equal(send_as("app", "app-secret", REMOTING_SER_ROCKETMQ, "topicA"), CODES_RESP_NO_PERMISSION);
    write_acl("PUB");
    int64_t deadline = clock_mono_ms() + 10000;
    int code;
    while ((code = send_as("app", "app-secret", REMOTING_SER_ROCKETMQ, "topicA")) != CODES_RESP_SUCCESS &&
           clock_mono_ms() < deadline)
        usleep(100 * 1000);
    assert_int_equal(code, CODES_RESP_SUCCESS);

    /* A broken file is logged and the previous table stays. */
    FILE *f = fopen(acl_path, "w");
    assert_non_null(f);
    fputs("accounts: [ broken\n", f);
    fclose(f);
    usleep(800 * 1000);
    assert_int_equal(send_as("app", "app-secret", REMOTING_SER_ROCKETMQ, "topicA"), CODES_RESP_SUCCESS);
    assert_int_equal(send_as("app", "app-secret", REMOTING_SER_ROCKETMQ, "elsewhere"), CODES_RESP_NO_PERMISSION);
    write_acl("DENY");
}

static int libtern_send(const char *ak, const char *sk, const char *topic)
{
    struct tern_client_opts o;
    tern_client_opts_init(&o);
    o.namesrv_addr = ns_addr;
    o.client_ip = "127.0.0.1";
    o.access_key = ak;
    o.secret_key = sk;
    struct tern_sync *s;
    char err[TERN_ERRMSG_SIZE];
    if (tern_sync_open(&o, &s, err) != 0)
        fail_msg("tern_sync_open: %s", err);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "acl-producer";
    struct tern_producer *p;
    assert_int_equal(tern_sync_producer(s, &po, &p), 0);
    struct tern_send_msg m = {.topic = topic, .body = "hi", .body_len = 2};
    struct tern_send_result res;
    /* The broker registers within a second or two; route lookups before
     * that fail with "no route", which is not what this test is about. */
    int rv = TERN_E_NOTFOUND;
    int64_t deadline = clock_mono_ms() + 15000;
    while (clock_mono_ms() < deadline) {
        rv = tern_sync_send(s, p, &m, &res);
        if (rv == 0 || rv == TERN_E_NO_PERMISSION)
            break;
        tern_sync_run(s, 200);
    }
    tern_sync_close(s);
    return rv;
}

static void test_libtern_signs(void **state)
{
    (void)state;
    assert_int_equal(libtern_send("app", "app-secret", "allowed"), 0);
    assert_int_equal(libtern_send("app", "not-the-secret", "allowed"), TERN_E_NO_PERMISSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signatures_and_permissions),
        cmocka_unit_test(test_reload_without_restart),
        cmocka_unit_test(test_libtern_signs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
