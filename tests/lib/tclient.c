/* Test-side RocketMQ calls built from the protocol library's typed headers. */
#include "tests/lib/tclient.h"

#include <string.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

int tclient_send(struct rpcsync *s, const char *topic, int queue_id, const char *tag, const void *body, size_t n,
                 int64_t *queue_offset)
{
    return tclient_send_ex(s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, topic, queue_id, tag, body, n,
                           queue_offset);
}

/* One SEND request of body with encoded properties props; rpcsync's result
 * (0, or TERN_E_CLOSED without a call when s is closed). On a SUCCESS answer
 * *queue_offset is set (if not NULL). */
static int send_call(struct rpcsync *s, int code, uint8_t ser, const char *topic, int queue_id, int default_queues,
                     const void *props, size_t props_len, const void *body, size_t n, int timeout_ms,
                     int64_t *queue_offset)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, code);
    req.serialize = ser;
    struct headers_send_req h = {
        .producer_group = slice_of("test-producer"),
        .topic = slice_of(topic),
        .default_topic = slice_of("TBW102"),
        .default_topic_queue_nums = default_queues,
        .queue_id = queue_id,
        .born_timestamp = clock_now_ms(),
        .properties = {(const char *)props, props_len},
    };
    assert_int_equal(headers_send_req_encode(&h, &req), 0);
    int rv = s->closed ? TERN_E_CLOSED : rpcsync_call(s, &req, body, n, timeout_ms);
    remoting_cmd_free(&req);
    if (rv != 0)
        return rv;
    if (s->resp.code == CODES_RESP_SUCCESS && queue_offset) {
        struct headers_send_resp r;
        char err[ERRMSG_SIZE];
        assert_int_equal(headers_send_resp_decode(&r, &s->resp, &limits_default, err), 0);
        *queue_offset = r.queue_offset;
    }
    return 0;
}

int tclient_send_ex(struct rpcsync *s, int code, uint8_t ser, const char *topic, int queue_id, const char *tag,
                    const void *body, size_t n, int64_t *queue_offset)
{
    struct buf props;
    buf_init(&props);
    if (tag)
        properties_append(&props, MSG_PROP_TAGS, tag, strlen(tag));
    assert_int_equal(send_call(s, code, ser, topic, queue_id, 4, props.data, props.len, body, n, 10000, queue_offset),
                     0);
    buf_free(&props);
    return s->resp.code;
}

int tclient_send_props(struct rpcsync *s, const char *topic, int queue_id, int default_queues, const struct buf *props,
                       const void *body, size_t n, int64_t *queue_offset)
{
    assert_int_equal(send_call(s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, topic, queue_id, default_queues,
                               props->data, props->len, body, n, 10000, queue_offset),
                     0);
    return s->resp.code;
}

int tclient_pull(struct rpcsync *s, const char *group, const char *topic, int queue_id, int64_t offset,
                 int max_msgs)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {
        .consumer_group = slice_of(group),
        .topic = slice_of(topic),
        .queue_id = queue_id,
        .queue_offset = offset,
        .max_msg_nums = max_msgs,
        .sys_flag = HEADERS_PULL_FLAG_SUBSCRIPTION,
        .commit_offset = -1,
        .subscription = slice_of("*"),
        .expression_type = slice_of("TAG"),
    };
    assert_int_equal(headers_pull_req_encode(&h, &req), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    return s->resp.code;
}

int tclient_count_records(const struct rpcsync *s)
{
    struct message_iter it;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    message_iter_init(&it, (const uint8_t *)s->resp.body.p, s->resp.body.len, &limits_default, 0);
    int n = 0, rv;
    while ((rv = message_iter_next(&it, &m, err)) == 1)
        n++;
    assert_int_equal(rv, 0);
    return n;
}

int64_t tclient_queue_offset(struct rpcsync *s, int code, const char *topic, int queue_id)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, code);
    remoting_ext_set_str(&req, "topic", topic);
    remoting_ext_set_int(&req, "queueId", queue_id);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    assert_int_equal(s->resp.code, CODES_RESP_SUCCESS);
    int64_t off = -1;
    char err[ERRMSG_SIZE];
    assert_int_equal(remoting_ext_get_i64(&s->resp, "offset", &off, err), 0);
    return off;
}

int tclient_send_timed(struct rpcsync *s, const char *topic, int queue_id, const void *body, size_t n,
                       int timeout_ms, int64_t *queue_offset)
{
    int rv = send_call(s, CODES_REQ_SEND_MESSAGE_V2, REMOTING_SER_JSON, topic, queue_id, 4, NULL, 0, body, n,
                       timeout_ms, queue_offset);
    return rv != 0 ? rv : s->resp.code;
}

int tclient_each_record(const struct rpcsync *s, void (*fn)(const void *body, size_t len, int64_t off, void *arg),
                        void *arg)
{
    struct message_iter it;
    struct msg_stored m;
    char err[ERRMSG_SIZE];
    message_iter_init(&it, (const uint8_t *)s->resp.body.p, s->resp.body.len, &limits_default, 0);
    int n = 0, rv;
    while ((rv = message_iter_next(&it, &m, err)) == 1) {
        fn(m.body.p, m.body.len, m.queue_offset, arg);
        n++;
    }
    assert_int_equal(rv, 0);
    return n;
}
