/* Delayed messages against a real broker (broker/DELAY.md): DELAY levels
 * (a small messageDelayLevel table for speed), TIMER_DELIVER_MS,
 * TIMER_DELAY_MS and __STARTDELIVERTIME are delivered to their topic not
 * before their time and within a tolerance, once each, with DELAY removed;
 * a delay above timerMaxDelaySec is MESSAGE_ILLEGAL; pending messages survive
 * a restart and a kill -9 without loss or duplicate; CONSUMER_SEND_MSG_BACK
 * retries through %RETRY%<group> with growing reconsume times and ends in
 * %DLQ%<group> after maxReconsumeTimes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

/* Bucket width 1 s + scanner tick + group commit. */
#define TOLERANCE_MS 1600
#define MAXMSG 64

struct env {
    struct proc broker;
    char dir[512];
    char addr[64];
    int port;
};

static void start_broker(struct env *e)
{
    char bin[512], log[600], set_port[64], set_dir[600];
    snprintf(log, sizeof log, "%s/broker.log", e->dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", e->port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", e->dir);
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                          "--set", "messageDelayLevel=1s 2s 3s", "--set", "timerMaxDelaySec=3600", NULL};
    proc_start(&e->broker, argv, log);
    if (!proc_wait_port(e->port, 10000)) {
        proc_dump_log(&e->broker, 50);
        fail_msg("broker did not start");
    }
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    testlib_tmpdir(e->dir, sizeof e->dir, "delay");
    e->port = proc_free_port(true);
    snprintf(e->addr, sizeof e->addr, "127.0.0.1:%d", e->port);
    start_broker(e);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    proc_stop(&e->broker, 10000);
    proc_release(&e->broker);
    if (!getenv("TERN_TEST_KEEP"))
        testlib_rmtree(e->dir);
    free(e);
    return 0;
}

/* SEND_MESSAGE_V2 with up to two extra properties (keys may be NULL). */
static int send_prop2(struct rpcsync *s, const char *topic, const char *key, const char *val, const char *key2,
                      const char *val2, const char *body)
{
    struct buf props;
    buf_init(&props);
    if (key)
        properties_append(&props, key, val, strlen(val));
    if (key2)
        properties_append(&props, key2, val2, strlen(val2));
    properties_append(&props, MSG_PROP_KEYS, body, strlen(body));
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_SEND_MESSAGE_V2);
    struct headers_send_req h = {
        .producer_group = slice_of("test-producer"),
        .topic = slice_of(topic),
        .default_topic = slice_of("TBW102"),
        .default_topic_queue_nums = 1,
        .queue_id = 0,
        .born_timestamp = clock_now_ms(),
        .properties = {(const char *)props.data, props.len},
    };
    assert_int_equal(headers_send_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, body, strlen(body), 10000), 0);
    remoting_cmd_free(&req);
    buf_free(&props);
    return s->resp.code;
}

static int send_prop(struct rpcsync *s, const char *topic, const char *key, const char *val, const char *body)
{
    return send_prop2(s, topic, key, val, NULL, NULL, body);
}

struct seen {
    char body[32];
    int64_t at;
    int copies;
    bool has_delay_prop;
    bool has_real_topic;
};

/* Pull topic queue 0 from *next on and record new messages by body. */
static void poll_once(struct rpcsync *s, const char *topic, int64_t *next, struct seen *seen, int *nseen)
{
    int code = tclient_pull(s, "delay-test", topic, 0, *next, 32);
    if (code != CODES_RESP_SUCCESS)
        return;
    struct message_iter it;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    message_iter_init(&it, (const uint8_t *)s->resp.body.p, s->resp.body.len, &limits_default, 0);
    int64_t now = clock_now_ms();
    while (message_iter_next(&it, &m, err) == 1) {
        assert_true(slice_eq(m.topic, topic));
        *next = m.queue_offset + 1;
        char body[32] = "";
        memcpy(body, m.body.p, m.body.len < 31 ? m.body.len : 31);
        struct seen *x = NULL;
        for (int i = 0; i < *nseen; i++)
            if (strcmp(seen[i].body, body) == 0)
                x = &seen[i];
        if (!x) {
            assert_true(*nseen < MAXMSG);
            x = &seen[(*nseen)++];
            memset(x, 0, sizeof *x);
            strcpy(x->body, body);
            x->at = now;
        }
        x->copies++;
        struct slice v;
        x->has_delay_prop = properties_get(m.properties.p, m.properties.len, MSG_PROP_DELAY, &v);
        x->has_real_topic = properties_get(m.properties.p, m.properties.len, MSG_PROP_REAL_TOPIC, &v) &&
                            slice_eq(v, topic);
    }
}

static void poll_until(struct rpcsync *s, const char *topic, int64_t *next, struct seen *seen, int *nseen,
                       int want, int64_t deadline)
{
    while (*nseen < want && clock_now_ms() < deadline) {
        poll_once(s, topic, next, seen, nseen);
        rpcsync_run_for(s, 20);
    }
}

static const struct seen *find(const struct seen *seen, int n, const char *body)
{
    for (int i = 0; i < n; i++)
        if (strcmp(seen[i].body, body) == 0)
            return &seen[i];
    fail_msg("message %s was never delivered", body);
    return NULL;
}

static void check_on_time(const struct seen *x, int64_t due)
{
    print_message("%s: delivered %lld ms after its due time\n", x->body, (long long)(x->at - due));
    assert_true(x->at >= due);
    assert_true(x->at - due <= TOLERANCE_MS);
    assert_int_equal(x->copies, 1);
    assert_false(x->has_delay_prop);
    assert_true(x->has_real_topic);
}

static void test_delay_kinds(void **state)
{
    struct env *e = *state;
    struct rpcsync s;
    rpcsync_open(&s, e->addr);
    char v[32];
    assert_int_equal(send_prop(&s, "DelayT", NULL, NULL, "now"), CODES_RESP_SUCCESS);
    int64_t t0 = clock_now_ms();
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_DELAY, "2", "level2"), CODES_RESP_SUCCESS);
    snprintf(v, sizeof v, "%lld", (long long)(t0 + 1500));
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_TIMER_DELIVER_MS, v, "deliverms"), CODES_RESP_SUCCESS);
    snprintf(v, sizeof v, "%lld", (long long)(t0 + 2500));
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_STARTDELIVERTIME, v, "ons"), CODES_RESP_SUCCESS);
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_TIMER_DELAY_MS, "700", "delayms"), CODES_RESP_SUCCESS);
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_DELAY, "99", "levelmax"), CODES_RESP_SUCCESS); /* clamped: 3 s */
    int64_t t1 = clock_now_ms();
    /* Above timerMaxDelaySec (3600): refused with a clear error. */
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_TIMER_DELAY_SEC, "7200", "toolate"),
                     CODES_RESP_MESSAGE_ILLEGAL);
    assert_non_null(strstr(s.resp.remark.p, "timerMaxDelaySec"));
    assert_int_equal(send_prop(&s, "DelayT", MSG_PROP_DELAY, "x", "bad"), CODES_RESP_MESSAGE_ILLEGAL);
    /* A transactional message cannot also be delayed. */
    assert_int_equal(send_prop2(&s, "DelayT", MSG_PROP_TRAN_MSG, "true", MSG_PROP_DELAY, "1", "txn"),
                     CODES_RESP_MESSAGE_ILLEGAL);
    assert_non_null(strstr(s.resp.remark.p, "transactional"));

    struct seen seen[MAXMSG];
    int nseen = 0;
    int64_t next = 0;
    poll_until(&s, "DelayT", &next, seen, &nseen, 6, t1 + 3000 + 5000);
    assert_int_equal(nseen, 6);
    /* Due times are computed by the broker at receipt, between t0 and t1. */
    const struct seen *now = find(seen, nseen, "now");
    assert_true(now->at - t0 < 1000);
    check_on_time(find(seen, nseen, "level2"), t0 + 2000);
    check_on_time(find(seen, nseen, "deliverms"), t0 + 1500);
    check_on_time(find(seen, nseen, "ons"), t0 + 2500);
    const struct seen *dm = find(seen, nseen, "delayms");
    assert_true(dm->at >= t0 + 700 && dm->at <= t1 + 700 + TOLERANCE_MS);
    const struct seen *lm = find(seen, nseen, "levelmax");
    assert_true(lm->at >= t0 + 3000 && lm->at <= t1 + 3000 + TOLERANCE_MS);
    /* Nothing more arrives (no duplicate deliveries). */
    rpcsync_run_for(&s, 1500);
    poll_once(&s, "DelayT", &next, seen, &nseen);
    assert_int_equal(nseen, 6);
    for (int i = 0; i < nseen; i++)
        assert_int_equal(seen[i].copies, 1);
    rpcsync_close(&s);
}

/* Pending messages survive a graceful restart and a kill -9; messages
 * delivered before the kill are not delivered again. */
static void test_restart_and_kill(void **state)
{
    struct env *e = *state;
    struct rpcsync s;
    rpcsync_open(&s, e->addr);
    char v[32], body[16];
    int64_t t0 = clock_now_ms();
    /* 10 due in 1 s (delivered before the kill), 10 due in 4 s (pending). */
    for (int i = 0; i < 20; i++) {
        snprintf(v, sizeof v, "%lld", (long long)(t0 + (i < 10 ? 1000 : 4000)));
        snprintf(body, sizeof body, "m%02d", i);
        assert_int_equal(send_prop(&s, "DelayR", MSG_PROP_TIMER_DELIVER_MS, v, body), CODES_RESP_SUCCESS);
    }
    struct seen seen[MAXMSG];
    int nseen = 0;
    int64_t next = 0;
    poll_until(&s, "DelayR", &next, seen, &nseen, 10, t0 + 1000 + 5000);
    assert_int_equal(nseen, 10);
    rpcsync_close(&s);
    proc_kill9(&e->broker);
    start_broker(e);
    rpcsync_open(&s, e->addr);
    poll_until(&s, "DelayR", &next, seen, &nseen, 20, t0 + 4000 + 8000);
    assert_int_equal(nseen, 20);
    for (int i = 10; i < 20; i++) {
        snprintf(body, sizeof body, "m%02d", i);
        assert_true(find(seen, nseen, body)->at >= t0 + 4000);
    }
    /* Graceful restart with nothing pending: still no duplicate. */
    rpcsync_close(&s);
    proc_stop(&e->broker, 10000);
    start_broker(e);
    rpcsync_open(&s, e->addr);
    rpcsync_run_for(&s, 1500);
    int64_t again = 0;
    struct seen all[MAXMSG];
    int nall = 0;
    poll_once(&s, "DelayR", &again, all, &nall);
    assert_int_equal(nall, 20);
    for (int i = 0; i < nall; i++)
        assert_int_equal(all[i].copies, 1);
    rpcsync_close(&s);
}

static int sendback(struct rpcsync *s, int64_t phys, const char *group, int level, int max)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_CONSUMER_SEND_MSG_BACK);
    struct headers_client_sendback_req h = {
        .offset = phys,
        .group = slice_of(group),
        .delay_level = level,
        .origin_msg_id = slice_of("ORIGIN-ID-1"),
        .origin_topic = slice_of("RetryT"),
        .has_max_reconsume_times = true,
        .max_reconsume_times = max,
    };
    assert_int_equal(headers_client_sendback_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    return s->resp.code;
}

/* Pull one message at offset of topic queue 0, waiting up to ms for it. */
static bool pull_one(struct rpcsync *s, const char *topic, int64_t offset, int ms, struct msg_stored *m,
                     struct buf *keep)
{
    int64_t end = clock_now_ms() + ms;
    char err[ERRMSG_SIZE];
    while (clock_now_ms() < end) {
        if (tclient_pull(s, "delay-test", topic, 0, offset, 1) == CODES_RESP_SUCCESS && s->resp.body.len > 0) {
            buf_reset(keep);
            buf_append(keep, s->resp.body.p, s->resp.body.len);
            struct message_iter it;
            message_iter_init(&it, keep->data, keep->len, &limits_default, 0);
            assert_int_equal(message_iter_next(&it, m, err), 1);
            return true;
        }
        rpcsync_run_for(s, 20);
    }
    return false;
}

static void test_sendback_retry_then_dlq(void **state)
{
    struct env *e = *state;
    struct rpcsync s;
    rpcsync_open(&s, e->addr);
    struct buf keep;
    buf_init(&keep);
    struct msg_stored m;
    struct slice v;
    assert_int_equal(send_prop(&s, "RetryT", MSG_PROP_TAGS, "tagA", "retry-me"), CODES_RESP_SUCCESS);
    assert_true(pull_one(&s, "RetryT", 0, 5000, &m, &keep));
    int64_t phys = m.physical_offset;
    assert_int_equal(sendback(&s, 1LL << 60, "g1", 0, 2), CODES_RESP_SYSTEM_ERROR); /* no such message */
    /* Two retries (level 3 + reconsumeTimes, clamped to the 3 s level). */
    for (int attempt = 1; attempt <= 2; attempt++) {
        int64_t t = clock_now_ms();
        assert_int_equal(sendback(&s, phys, "g1", 0, 2), CODES_RESP_SUCCESS);
        assert_true(pull_one(&s, "%RETRY%g1", attempt - 1, 3000 + TOLERANCE_MS + 2000, &m, &keep));
        int64_t took = clock_now_ms() - t;
        print_message("retry %d arrived after %lld ms\n", attempt, (long long)took);
        assert_true(took >= 3000 - 50);
        assert_true(slice_eq(m.topic, "%RETRY%g1"));
        assert_int_equal(m.reconsume_times, attempt);
        assert_true(properties_get(m.properties.p, m.properties.len, MSG_PROP_RETRY_TOPIC, &v) &&
                    slice_eq(v, "RetryT"));
        assert_true(properties_get(m.properties.p, m.properties.len, MSG_PROP_ORIGIN_MESSAGE_ID, &v) &&
                    slice_eq(v, "ORIGIN-ID-1"));
        assert_false(properties_get(m.properties.p, m.properties.len, MSG_PROP_DELAY, &v));
        assert_true(properties_get(m.properties.p, m.properties.len, MSG_PROP_TAGS, &v) && slice_eq(v, "tagA"));
        assert_true(slice_eq(m.body, "retry-me"));
        phys = m.physical_offset;
    }
    /* reconsumeTimes 2 >= maxReconsumeTimes 2: dead letter, at once. */
    assert_int_equal(sendback(&s, phys, "g1", 0, 2), CODES_RESP_SUCCESS);
    /* delayLevel -1: dead letter whatever the count. */
    assert_int_equal(sendback(&s, phys, "g1", -1, 16), CODES_RESP_SUCCESS);
    int64_t dlq = 0;
    for (int i = 0; i < 100 && dlq < 2; i++) {
        rpcsync_run_for(&s, 20);
        dlq = tclient_queue_offset(&s, CODES_REQ_GET_MAX_OFFSET, "%DLQ%g1", 0);
    }
    assert_int_equal(dlq, 2);
    /* No third retry was scheduled. */
    rpcsync_run_for(&s, 3000 + TOLERANCE_MS);
    assert_int_equal(tclient_queue_offset(&s, CODES_REQ_GET_MAX_OFFSET, "%RETRY%g1", 0), 2);
    buf_free(&keep);
    rpcsync_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_delay_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sendback_retry_then_dlq, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
