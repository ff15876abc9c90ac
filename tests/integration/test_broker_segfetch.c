/* Integration: FETCH_SEGMENT (Tern-only code 9010, broker/segfetch.h) against
 * a real tern-broker process: the answer is whole stored units, verbatim
 * (STORAGE.md §3), that a replica imports with the same offsets, store times
 * and bytes; bounds (maxBytes, endOffset, past the end) and the refusals
 * (missing field, unknown partition, another partition id); a chunk damaged
 * on the way is refused whole by the importing side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/store/partlog.h"
#include "broker/store/record.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define NMSG 40

static struct proc broker;
static char dir[512], broker_addr[64];
static int broker_port;

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "broker-segfetch");
    broker_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", broker_port);
    char bin[512], log[600], set_port[64], set_dir[600];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", broker_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                          NULL};
    proc_start(&broker, argv, log);
    if (!proc_wait_port(broker_port, 10000)) {
        proc_dump_log(&broker, 50);
        fail_msg("broker did not start");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&broker, 10000);
    assert_true(WIFEXITED(broker.status) && WEXITSTATUS(broker.status) == 0);
    testlib_rmtree(dir);
    return 0;
}

static int fetch(struct rpcsync *s, const char *topic, int qid, int64_t pid, int64_t from, int64_t end,
                 int64_t max_bytes, const char *omit)
{
    struct remoting_cmd req;
    remoting_cmd_init(&req);
    remoting_cmd_init_request(&req, CODES_TERN_FETCH_SEGMENT);
    if (!omit || strcmp(omit, "topic"))
        assert_int_equal(remoting_ext_set_str(&req, "topic", topic), 0);
    assert_int_equal(remoting_ext_set_int(&req, "queueId", qid), 0);
    if (!omit || strcmp(omit, "partitionId"))
        assert_int_equal(remoting_ext_set_int(&req, "partitionId", pid), 0);
    assert_int_equal(remoting_ext_set_int(&req, "fromOffset", from), 0);
    assert_int_equal(remoting_ext_set_int(&req, "endOffset", end), 0);
    assert_int_equal(remoting_ext_set_int(&req, "maxBytes", max_bytes), 0);
    assert_int_equal(rpcsync_call(s, &req, NULL, 0, 10000), 0);
    remoting_cmd_free(&req);
    return s->resp.code;
}

static int64_t next_offset(struct rpcsync *s)
{
    int64_t v = -1;
    char err[ERRMSG_SIZE];
    assert_int_equal(remoting_ext_get_i64(&s->resp, "nextOffset", &v, err), 0);
    return v;
}

/* Walk the units of a body: checksums, contiguous offsets from `from`. */
static uint64_t check_units(const uint8_t *p, size_t n, uint64_t from, uint32_t *units)
{
    struct record_limits lim = {16u << 20, 64u << 20};
    *units = 0;
    for (size_t at = 0; at < n;) {
        struct record_hdr h;
        assert_int_equal(record_decode_hdr(p + at, n - at, &lim, true, &h), 0);
        assert_true(record_verify(p + at, &h));
        assert_int_equal(h.base_offset, from);
        from += h.count;
        at += h.unit_len;
        (*units)++;
    }
    return from;
}

static void test_fetch_units_and_import(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    char body[64];
    int64_t off, phys = -1;
    for (int i = 0; i < NMSG; i++) {
        snprintf(body, sizeof body, "segfetch-body-%03d", i);
        assert_int_equal(tclient_send(&s, "SegTopic", 1, "t", body, strlen(body), &off), CODES_RESP_SUCCESS);
        assert_int_equal(off, i);
        if (i == 0) {
            struct headers_send_resp r;
            struct msg_host host;
            char err[ERRMSG_SIZE];
            assert_int_equal(headers_send_resp_decode(&r, &s.resp, &limits_default, err), 0);
            assert_int_equal(msgid_offset_decode(r.msg_id.p, r.msg_id.len, &host, &phys, err), 0);
        }
    }
    int64_t pid = phys >> 44; /* STORAGE.md §11 */

    /* Everything in one chunk: NMSG single-message units. */
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 0, NMSG, 1 << 20, NULL), CODES_RESP_SUCCESS);
    assert_int_equal(next_offset(&s), NMSG);
    uint32_t units;
    assert_int_equal(check_units((const uint8_t *)s.resp.body.p, s.resp.body.len, 0, &units), NMSG);
    assert_int_equal(units, NMSG);

    /* Imported into a replica's partition: same messages, same bytes. */
    char rdir[700], err[ERRMSG_SIZE];
    snprintf(rdir, sizeof rdir, "%s/replica", dir);
    struct partlog *pl;
    assert_int_equal(partlog_open(rdir, (uint32_t)pid, NULL, &pl, err), 0);
    size_t len = s.resp.body.len;
    uint8_t *copy = malloc(len);
    memcpy(copy, s.resp.body.p, len);
    /* Damaged on the way (one byte of the last unit): refused, nothing appended. */
    copy[len - 3] ^= 1;
    uint64_t end;
    assert_int_equal(partlog_import(pl, copy, len, &end), TERN_E_CORRUPT);
    assert_int_equal(partlog_next_offset(pl), 0);
    assert_false(partlog_has_pending(pl));
    copy[len - 3] ^= 1;
    assert_int_equal(partlog_import(pl, copy, len, &end), 0);
    assert_int_equal(end, NMSG);
    assert_int_equal(partlog_flush(pl), 0);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg m[NMSG];
    struct partlog_read_result res;
    assert_int_equal(partlog_read(pl, 0, NMSG, 1 << 20, NULL, &rb, m, &res), 0);
    assert_int_equal(res.n, NMSG);
    for (int i = 0; i < NMSG; i++) {
        struct msg_stored ms;
        size_t used;
        assert_int_equal(message_decode(m[i].data, m[i].len, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &ms, &used,
                                        err),
                         0);
        snprintf(body, sizeof body, "segfetch-body-%03d", i);
        assert_int_equal(ms.queue_offset, i);
        assert_int_equal(ms.body.len, strlen(body));
        assert_memory_equal(ms.body.p, body, ms.body.len);
    }
    partlog_readbuf_free(&rb);
    partlog_close(pl);
    free(copy);

    /* maxBytes below one unit: exactly one unit. endOffset inside the log:
     * nothing past it. fromOffset at the end: empty, nextOffset unchanged. */
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 5, NMSG, 1, NULL), CODES_RESP_SUCCESS);
    assert_int_equal(next_offset(&s), 6);
    assert_int_equal(check_units((const uint8_t *)s.resp.body.p, s.resp.body.len, 5, &units), 6);
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 10, 17, 1 << 20, NULL), CODES_RESP_SUCCESS);
    assert_int_equal(next_offset(&s), 17);
    assert_int_equal(check_units((const uint8_t *)s.resp.body.p, s.resp.body.len, 10, &units), 17);
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, NMSG, NMSG + 100, 1 << 20, NULL), CODES_RESP_SUCCESS);
    assert_int_equal(next_offset(&s), NMSG);
    assert_int_equal(s.resp.body.len, 0);

    /* Refusals. */
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 0, NMSG, 1 << 20, "partitionId"), CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 0, NMSG, 1 << 20, "topic"), CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(fetch(&s, "SegTopic", 1, pid, 9, 3, 1 << 20, NULL), CODES_RESP_INVALID_PARAMETER);
    assert_int_equal(fetch(&s, "NoSuchTopic", 0, pid, 0, 1, 1 << 20, NULL), CODES_RESP_TOPIC_NOT_EXIST);
    assert_int_equal(fetch(&s, "SegTopic", 1, pid + 1, 0, NMSG, 1 << 20, NULL), CODES_RESP_SYSTEM_ERROR);
    assert_non_null(s.resp.remark.p);
    rpcsync_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_units_and_import),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
