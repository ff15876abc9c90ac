/* tern-follower-read: consume rate of one broker address, for bench/raft_figures.sh.
 *
 * Usage: tern-follower-read --addr HOST:PORT --topic T --queues N [--max M]
 *
 * Reads every queue of T from offset 0 to its end with PULL_MESSAGE sent
 * straight to ADDR (a follower or the leader: libtern consumers pull from
 * the leader only), one pull in flight per queue, up to M (default 256)
 * messages per pull, no suspension, and prints
 *
 *   messages=N bytes=B seconds=S msgs_per_s=R MB_per_s=X suggest=ID
 *
 * where bytes counts message bodies, and suggest is the suggestWhichBrokerId
 * of the last answer. Exit 1 on an error answer or transport error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/limits.h"
#include "protocol/message.h"
#include "rpc/rpc.h"
#include "src/errmsg.h"

#define FR_MAX_QUEUES 256

struct frq {
    int qid;
    int64_t offset;
    bool done;
    struct remoting_cmd req;
};

static struct {
    uv_loop_t loop;
    struct rpc_hub hub;
    struct rpc_conn *rc;
    const char *topic;
    int max;
    int nq, open_q;
    struct frq q[FR_MAX_QUEUES];
    uint64_t msgs, bytes;
    int64_t suggest;
    int failed;
} fr;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_request(struct rpc_conn *rc, struct remoting_cmd *req)
{
    rpc_respond_simple(rc, req, CODES_RESP_REQUEST_CODE_NOT_SUPPORTED, "not a consumer");
}

static void on_close(struct rpc_conn *rc, int err, const char *reason)
{
    (void)rc;
    if (err != 0 && fr.open_q > 0) {
        fprintf(stderr, "tern-follower-read: connection closed: %s\n", reason ? reason : "");
        fr.failed = 1;
    }
    fr.rc = NULL;
}

static const struct rpc_ops ops = {on_request, on_close};

static void finish(void)
{
    if (fr.open_q == 0 || fr.failed)
        rpc_hub_close(&fr.hub, NULL);
}

static void pull(struct frq *q);

static void pulled(int status, struct remoting_cmd *resp, void *arg)
{
    struct frq *q = arg;
    char err[ERRMSG_SIZE];
    if (status != 0) {
        fprintf(stderr, "tern-follower-read: queue %d: pull failed (%d)\n", q->qid, status);
        fr.failed = 1;
        finish();
        return;
    }
    struct headers_pull_resp h;
    if (resp->code == CODES_RESP_PULL_NOT_FOUND) {
        q->done = true;
        fr.open_q--;
        finish();
        return;
    }
    if (resp->code != CODES_RESP_SUCCESS || headers_pull_resp_decode(&h, resp, &limits_default, err) != 0) {
        fprintf(stderr, "tern-follower-read: queue %d offset %" PRId64 ": code %d %.*s\n", q->qid, q->offset,
                resp->code, (int)resp->remark.len, resp->remark.p);
        fr.failed = 1;
        finish();
        return;
    }
    fr.suggest = h.suggest_which_broker_id;
    struct message_iter it;
    struct msg_stored m;
    message_iter_init(&it, (const uint8_t *)resp->body.p, resp->body.len, &limits_default, 0);
    int rv;
    while ((rv = message_iter_next(&it, &m, err)) == 1) {
        fr.msgs++;
        fr.bytes += m.body.len;
    }
    if (rv != 0) {
        fprintf(stderr, "tern-follower-read: queue %d: malformed answer: %s\n", q->qid, err);
        fr.failed = 1;
        finish();
        return;
    }
    q->offset = h.next_begin_offset;
    pull(q);
}

static void pull(struct frq *q)
{
    remoting_cmd_free(&q->req);
    remoting_cmd_init(&q->req);
    remoting_cmd_init_request(&q->req, CODES_REQ_PULL_MESSAGE);
    struct headers_pull_req h = {
        .consumer_group = slice_of("tern-follower-read"),
        .topic = slice_of(fr.topic),
        .queue_id = q->qid,
        .queue_offset = q->offset,
        .max_msg_nums = fr.max,
        .sys_flag = HEADERS_PULL_FLAG_SUBSCRIPTION,
        .commit_offset = -1,
        .subscription = slice_of("*"),
        .expression_type = slice_of("TAG"),
        .has_max_msg_bytes = true,
        .max_msg_bytes = 4 << 20,
    };
    if (!fr.rc || headers_pull_req_encode(&h, &q->req) != 0 ||
        rpc_request(fr.rc, &q->req, NULL, 0, 10000, pulled, q) != 0) {
        fr.failed = 1;
        finish();
    }
}

static void connected(struct rpc_conn *rc, int status, void *arg)
{
    (void)arg;
    if (status != 0) {
        fprintf(stderr, "tern-follower-read: connect failed (%d)\n", status);
        fr.failed = 1;
        rpc_hub_close(&fr.hub, NULL);
        return;
    }
    fr.rc = rc;
    for (int i = 0; i < fr.nq; i++)
        pull(&fr.q[i]);
}

int main(int argc, char **argv)
{
    const char *addr = NULL;
    fr.max = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--addr") == 0)
            addr = argv[i + 1];
        else if (strcmp(argv[i], "--topic") == 0)
            fr.topic = argv[i + 1];
        else if (strcmp(argv[i], "--queues") == 0)
            fr.nq = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--max") == 0)
            fr.max = atoi(argv[i + 1]);
    }
    if (!addr || !fr.topic || fr.nq <= 0 || fr.nq > FR_MAX_QUEUES || fr.max <= 0) {
        fprintf(stderr, "usage: tern-follower-read --addr HOST:PORT --topic T --queues N [--max M]\n");
        return 64;
    }
    for (int i = 0; i < fr.nq; i++) {
        fr.q[i].qid = i;
        remoting_cmd_init(&fr.q[i].req);
    }
    fr.open_q = fr.nq;
    char err[ERRMSG_SIZE];
    if (uv_loop_init(&fr.loop) != 0 || rpc_hub_init(&fr.hub, &fr.loop, &limits_default, 64u << 20) != 0 ||
        rpc_connect(&fr.hub, addr, &ops, connected, NULL, err) != 0) {
        fprintf(stderr, "tern-follower-read: %s\n", err);
        return 1;
    }
    double t0 = now_s();
    uv_run(&fr.loop, UV_RUN_DEFAULT);
    double dt = now_s() - t0;
    for (int i = 0; i < fr.nq; i++)
        remoting_cmd_free(&fr.q[i].req);
    uv_loop_close(&fr.loop);
    if (fr.failed)
        return 1;
    printf("messages=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f msgs_per_s=%.0f MB_per_s=%.1f suggest=%" PRId64 "\n",
           fr.msgs, fr.bytes, dt, (double)fr.msgs / dt, (double)fr.bytes / dt / 1e6, fr.suggest);
    return 0;
}
