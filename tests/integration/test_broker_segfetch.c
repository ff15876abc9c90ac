/* Integration: FETCH_SEGMENT (Tern-only code 9010, broker/segfetch.h) against
 * a real tern-broker process: the answer is whole stored units, verbatim
 * (STORAGE.md §3), that a replica imports with the same offsets, store times
 * and bytes; bounds (maxBytes, endOffset, past the end) and the refusals
 * (missing field, unknown partition, another partition id); a chunk damaged
 * on the way is refused whole by the importing side; the blocking client a
 * far-behind member runs (segfetch_partition) copies a partition from the
 * real broker into a local store and fails cleanly (nothing appended, bounded
 * by its deadline) when the source refuses, has less, or is not there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/segfetch.h"
#include "broker/store/partlog.h"
#include "broker/store/store.h"
#include "broker/store/record.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/message.h"
#include "protocol/msgid.h"
#include "src/clock.h"
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
static int src_port; /* the serving broker */

static int setup(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "broker-segfetch");
    src_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", src_port);
    char bin[512], log[600], set_port[64], set_dir[600];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", src_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    const char *argv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                          "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                          NULL};
    proc_start(&broker, argv, log);
    if (!proc_wait_port(src_port, 10000)) {
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

/* A local store standing in for the far-behind member. */
struct member {
    uv_loop_t loop;
    struct broker b;
    bool closed;
};

static void member_open(struct member *m, const char *sub)
{
    char root[700], err[ERRMSG_SIZE];
    snprintf(root, sizeof root, "%s/%s", dir, sub);
    assert_int_equal(uv_loop_init(&m->loop), 0);
    memset(&m->b, 0, sizeof m->b);
    m->b.limits = limits_default;
    struct store_opts o;
    store_opts_default(&o);
    o.part.visible_on_write = true;
    assert_int_equal(store_open(&m->loop, root, &o, &m->b.store, err), 0);
}

static void member_closed_cb(void *arg)
{
    ((struct member *)arg)->closed = true;
}

static void member_close(struct member *m)
{
    store_close(m->b.store, member_closed_cb, m);
    assert_int_equal(uv_run(&m->loop, UV_RUN_DEFAULT), 0);
    assert_true(m->closed);
    assert_int_equal(uv_loop_close(&m->loop), 0);
}

static void test_client_copies_and_fails_cleanly(void **state)
{
    (void)state;
    struct rpcsync s;
    rpcsync_open(&s, broker_addr);
    char body[64];
    int64_t off;
    /* A topic of its own. Its partition id: the one small id FETCH_SEGMENT
     * accepts (every other id is refused, as the first test checks). */
    for (int i = 0; i < NMSG; i++) {
        snprintf(body, sizeof body, "client-body-%03d", i);
        assert_int_equal(tclient_send(&s, "SegClient", 2, "t", body, strlen(body), &off), CODES_RESP_SUCCESS);
    }
    int64_t pid = -1;
    for (int64_t id = 0; id < 64 && pid < 0; id++)
        if (fetch(&s, "SegClient", 2, id, 0, 1, 1, NULL) == CODES_RESP_SUCCESS)
            pid = id;
    assert_true(pid >= 0);
    rpcsync_close(&s);

    struct member m;
    member_open(&m, "member");
    char err[ERRMSG_SIZE];
    struct partlog *pl;
    assert_int_equal(store_partition_open(m.b.store, "SegClient", 2, (uint32_t)pid, &pl, err), 0);
    struct segfetch_stats st;
    memset(&st, 0, sizeof st);
    err[0] = '\0';
    /* Up to offset 25 first (a snapshot's end inside the log), then the rest. */
    assert_int_equal(segfetch_partition(&m.b, broker_addr, "SegClient", 2, pl, 25, clock_mono_ms() + 10000, &st, err),
                     0);
    assert_int_equal(partlog_next_offset(pl), 25);
    assert_int_equal(st.messages, 25);
    assert_int_equal(st.units, 25);
    assert_int_equal(segfetch_partition(&m.b, broker_addr, "SegClient", 2, pl, NMSG, clock_mono_ms() + 10000, &st,
                                        err),
                     0);
    assert_int_equal(partlog_next_offset(pl), NMSG);
    /* The source has nothing past NMSG: an error, nothing more appended. */
    err[0] = '\0';
    assert_int_equal(segfetch_partition(&m.b, broker_addr, "SegClient", 2, pl, NMSG + 5, clock_mono_ms() + 10000,
                                        &st, err),
                     TERN_E_NOTFOUND);
    assert_non_null(strstr(err, "nothing at offset"));
    assert_int_equal(partlog_next_offset(pl), NMSG);
    /* Synced by the store's job like any write; then read back. */
    for (int i = 0; i < 200 && partlog_synced_offset(pl) < NMSG; i++)
        uv_run(&m.loop, UV_RUN_NOWAIT), usleep(5000);
    assert_int_equal(partlog_synced_offset(pl), NMSG);
    struct partlog_readbuf rb;
    partlog_readbuf_init(&rb);
    struct partlog_msg msgs[NMSG];
    struct partlog_read_result res;
    assert_int_equal(partlog_read(pl, 0, NMSG, 1 << 20, NULL, &rb, msgs, &res), 0);
    assert_int_equal(res.n, NMSG);
    for (int i = 0; i < NMSG; i++) {
        struct msg_stored ms;
        size_t used;
        assert_int_equal(message_decode(msgs[i].data, msgs[i].len, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &ms,
                                        &used, err),
                         0);
        snprintf(body, sizeof body, "client-body-%03d", i);
        assert_int_equal(ms.body.len, strlen(body));
        assert_memory_equal(ms.body.p, body, ms.body.len);
    }
    partlog_readbuf_free(&rb);

    /* Another partition id here than at the source: refused, nothing appended. */
    struct partlog *other;
    assert_int_equal(store_partition_open(m.b.store, "SegClient", 3, (uint32_t)pid + 100, &other, err), 0);
    err[0] = '\0';
    assert_int_equal(segfetch_partition(&m.b, broker_addr, "SegClient", 3, other, 5, clock_mono_ms() + 10000, &st,
                                        err),
                     TERN_E_IO);
    assert_non_null(strstr(err, "answered"));
    assert_int_equal(partlog_next_offset(other), 0);
    /* Nobody listening: retried with backoff, then given up at the deadline. */
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", proc_free_port(false));
    int64_t t0 = clock_mono_ms();
    err[0] = '\0';
    int rv = segfetch_partition(&m.b, dead, "SegClient", 3, other, 5, t0 + 700, &st, err);
    int64_t took = clock_mono_ms() - t0;
    assert_true(rv == TERN_E_TIMEOUT || rv == TERN_E_IO);
    assert_true(took >= 300 && took < 3000);
    assert_int_equal(partlog_next_offset(other), 0);
    member_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_units_and_import),
        cmocka_unit_test(test_client_copies_and_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
