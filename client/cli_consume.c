/* `tern consume`: receive messages with a push-consumer group and print one per line.
 *
 * Happy path: a libtern push consumer (clustering model, offsets committed on
 * the brokers) delivers messages one at a time; each is printed and counted.
 * After --max messages the consumer stops accepting: later deliveries are
 * answered SUSPEND so they are neither printed nor committed, and a
 * second run of the same group continues exactly after the last printed
 * message. Closing the consumer commits its offsets. --fail-tag / --fail-times
 * make the callback answer RETRY_LATER (for trying retries: the message goes
 * back to the broker, returns from %RETRY%<group> with reconsumeTimes + 1,
 * and after --max-reconsume attempts lands in %DLQ%<group>); failed
 * deliveries are printed to stderr, not stdout.
 *
 * Failure modes: no message for --idle-exit seconds ends the run (exit 0; the
 * summary shows the count). Ctrl-C ends it the same way. stdout is flushed
 * once per loop iteration, so pipes see messages promptly without a write
 * per message. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client/cli.h"

enum format { FMT_TEXT, FMT_JSON };

struct consume {
    struct tern_sync *s;
    struct tern_consumer *cons;
    uv_loop_t *loop;
    enum format fmt;
    int64_t max;     /* 0: unlimited */
    int64_t idle_ms; /* 0: never */
    uint64_t count, bytes;
    bool done;
    uint64_t t_start, t_first, t_last;
    uv_timer_t idle;
    uv_check_t flush;
    uv_signal_t sigint;
    bool idle_open, flush_open, sig_open;
    bool dirty;
    const char *fail_tag; /* NULL: any tag fails (with fail_times) */
    int64_t fail_times;   /* fail while reconsumeTimes < this; 0: no failures */
};

static void finish(struct consume *c)
{
    if (c->done)
        return;
    c->done = true;
    tern_sync_stop(c->s);
}

static void idle_cb(uv_timer_t *t)
{
    finish(t->data);
}

static void flush_cb(uv_check_t *h)
{
    struct consume *c = h->data;
    if (c->dirty) {
        fflush(stdout);
        c->dirty = false;
    }
}

static void sigint_cb(uv_signal_t *h, int signum)
{
    (void)signum;
    finish(h->data);
}

static void print_json(const struct tern_msg *m)
{
    size_t len;
    const char *body = tern_msg_body(m, &len);
    const char *s;
    fputs("{\"topic\":", stdout);
    s = tern_msg_topic(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"brokerName\":", stdout);
    s = tern_msg_broker_name(m);
    cli_json_str(stdout, s, strlen(s));
    printf(",\"queueId\":%d,\"queueOffset\":%" PRId64 ",\"msgId\":", tern_msg_queue_id(m),
           tern_msg_queue_offset(m));
    s = tern_msg_id(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"keys\":", stdout);
    s = tern_msg_keys(m);
    cli_json_str(stdout, s, strlen(s));
    fputs(",\"tags\":", stdout);
    s = tern_msg_tags(m);
    cli_json_str(stdout, s, strlen(s));
    printf(",\"bornTimestamp\":%" PRId64 ",\"storeTimestamp\":%" PRId64
           ",\"reconsumeTimes\":%d,\"body\":",
           tern_msg_born_timestamp(m), tern_msg_store_timestamp(m), tern_msg_reconsume_times(m));
    cli_json_str(stdout, body ? body : "", body ? len : 0);
    fputs("}\n", stdout);
}

static int consume_cb(const struct tern_msg *const *msgs, size_t n, void *arg)
{
    struct consume *c = arg;
    /* Past --max (or stopping): leave the rest for the next consumer. */
    if (c->done || (c->max > 0 && c->count + n > (uint64_t)c->max))
        return TERN_CONSUME_SUSPEND;
    for (size_t i = 0; c->fail_times > 0 && i < n; i++) {
        const struct tern_msg *m = msgs[i];
        if ((!c->fail_tag || strcmp(tern_msg_tags(m), c->fail_tag) == 0) &&
            tern_msg_reconsume_times(m) < c->fail_times) {
            fprintf(stderr, "tern: consume: failing %s (topic %s, reconsumeTimes %d)\n", tern_msg_id(m),
                    tern_msg_topic(m), tern_msg_reconsume_times(m));
            return TERN_CONSUME_RETRY_LATER;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct tern_msg *m = msgs[i];
        size_t len;
        const char *body = tern_msg_body(m, &len);
        if (c->fmt == FMT_JSON) {
            print_json(m);
        } else {
            if (len)
                fwrite(body, 1, len, stdout);
            putchar('\n');
        }
        c->count++;
        c->bytes += len;
    }
    c->dirty = true;
    c->t_last = cli_now_ns();
    if (c->count == n)
        c->t_first = c->t_last;
    if (c->idle_open)
        uv_timer_again(&c->idle);
    if (c->max > 0 && c->count >= (uint64_t)c->max)
        finish(c);
    return TERN_CONSUME_SUCCESS;
}

/* --from last for a group that never committed on a queue: commit the
 * queue's current max offset first. RocketMQ brokers (and Tern's) start such
 * a group at 0 when the queue still holds offset 0, whatever the consumer's
 * consumeFromWhere says, so libtern's TERN_FROM_LAST alone would replay a
 * young queue from the start. Best effort: on any error the consumer starts
 * where the broker says. */
static void seek_new_group_to_end(struct tern_sync *s, const char *group, const char *topic)
{
    const struct tern_route *r;
    if (tern_sync_topic_route(s, topic, &r) != 0)
        return;
    size_t nq = r->queue_count;
    struct {
        char broker[128];
        char addr[128];
        int queues;
    } *qs = calloc(nq + 1, sizeof *qs);
    if (!qs)
        return;
    for (size_t i = 0; i < nq; i++) {
        const char *addr = cli_route_master(r, r->queues[i].broker_name);
        snprintf(qs[i].broker, sizeof qs[i].broker, "%s", r->queues[i].broker_name);
        snprintf(qs[i].addr, sizeof qs[i].addr, "%s", addr ? addr : "");
        qs[i].queues = r->queues[i].read_queues;
    }
    struct cli_rpc *raw;
    if (cli_rpc_open(s, &raw) != 0) {
        free(qs);
        return;
    }
    for (size_t i = 0; i < nq; i++) {
        for (int q = 0; q < qs[i].queues && qs[i].addr[0]; q++) {
            char e[TERN_ERRMSG_SIZE] = "";
            int64_t off, maxo;
            int err = cli_rpc_committed_offset(raw, qs[i].addr, group, topic, q, &off, e);
            if (err != TERN_E_NOTFOUND)
                continue;
            if (tern_sync_max_offset(s, topic, qs[i].broker, q, &maxo) == 0 && maxo > 0)
                tern_sync_commit_offset(s, group, topic, qs[i].broker, q, maxo);
        }
    }
    cli_rpc_close(raw);
    free(qs);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int cli_consume_main(int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"namesrv", "ADDR", "name server (default $TERN_NAMESRV or " CLI_DEFAULT_NAMESRV ")", NULL},
        {"topic", "T", "topic (required)", NULL},
        {"group", "G", "consumer group (required); offsets are committed for it", NULL},
        {"tags", "EXPR", "tag filter: '*' (default) or 'a||b'", NULL},
        {"from", "WHERE", "first|last: where a group starts on queues it never committed "
                          "(default last: only new messages)", NULL},
        {"max", "N", "exit after N messages", NULL},
        {"idle-exit", "SECONDS", "exit after SECONDS without a message", NULL},
        {"format", "FMT", "text (the body, default) or json (one object per line)", NULL},
        {"orderly", NULL, "orderly: lock each owned queue on its broker and consume it strictly in order "
                          "(per sharding key), retrying a failure in place", NULL},
        {"broadcast", NULL, "broadcasting: receive every message of the topic whatever the group's other "
                            "members do; offsets kept in a local file", NULL},
        {"offsets-file", "PATH", "with --broadcast: the offsets file (default ./tern-offsets-<group>.txt); "
                                 "a restart resumes from it", NULL},
        {"fail-tag", "TAG", "testing retries: the callback fails (RETRY_LATER) messages tagged TAG "
                            "(always, unless --fail-times)", NULL},
        {"fail-times", "N", "testing retries: the callback fails each message (of --fail-tag, else any) "
                            "while its reconsumeTimes < N", NULL},
        {"max-reconsume", "N", "failed deliveries before a message goes to %DLQ%<group> (default 16)", NULL},
    };
    struct cli_cmd cmd = {
        "tern consume --topic T --group G [--tags 'a||b'] [--from first|last] [--max N] "
        "[--idle-exit SECONDS] [--format text|json] [--orderly | --broadcast [--offsets-file PATH]] "
        "[--fail-tag TAG] [--fail-times N] [--max-reconsume N] [--namesrv ADDR]",
        "Consume a topic as a member of consumer group G and print one message per line:\n"
        "text prints the body; json prints {topic, brokerName, queueId, queueOffset, msgId,\n"
        "keys, tags, bornTimestamp, storeTimestamp, reconsumeTimes, body}. Offsets are\n"
        "committed on the brokers, so the next run of the group continues where this one\n"
        "stopped. Ends after --max messages, after --idle-exit seconds without one, or on\n"
        "Ctrl-C, then prints a summary line to stderr (count, seconds, msgs/s).",
        opts, sizeof opts / sizeof opts[0],
        "  tern consume --topic orders --group g1 --from first --idle-exit 5\n"
        "  tern consume --topic orders --group g2 --tags 'new||paid' --max 10 --format json\n"
        "  tern consume --topic orders --group g3 --orderly --format json\n"
        "  tern consume --topic orders --group g4 --broadcast --offsets-file /var/lib/app/g4.offsets\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;

    struct consume c;
    memset(&c, 0, sizeof c);
    const char *topic, *group;
    int64_t idle_s, max_reconsume;
    if ((rv = cli_require(&cmd, "topic", &topic)) || (rv = cli_require(&cmd, "group", &group)) ||
        (rv = cli_get_int(&cmd, "max", 1, INT64_MAX, 0, &c.max)) ||
        (rv = cli_get_int(&cmd, "idle-exit", 1, 86400 * 365, 0, &idle_s)) ||
        (rv = cli_get_int(&cmd, "fail-times", 1, INT32_MAX, 0, &c.fail_times)) ||
        (rv = cli_get_int(&cmd, "max-reconsume", 0, 16 * 1024, 16, &max_reconsume)))
        return rv;
    c.fail_tag = cli_get(&cmd, "fail-tag");
    if (c.fail_tag && c.fail_times == 0)
        c.fail_times = INT32_MAX;
    c.idle_ms = idle_s * 1000;
    const char *from = cli_get(&cmd, "from");
    enum tern_consume_from where = TERN_FROM_LAST;
    if (from && strcmp(from, "first") == 0) {
        where = TERN_FROM_FIRST;
    } else if (from && strcmp(from, "last") != 0) {
        fprintf(stderr, "tern: consume: --from wants first or last, got '%s'\n", from);
        return CLI_EXIT_USAGE;
    }
    const char *fmt = cli_get(&cmd, "format");
    if (!fmt || strcmp(fmt, "text") == 0) {
        c.fmt = FMT_TEXT;
    } else if (strcmp(fmt, "json") == 0) {
        c.fmt = FMT_JSON;
    } else {
        fprintf(stderr, "tern: consume: --format wants text or json, got '%s'\n", fmt);
        return CLI_EXIT_USAGE;
    }
    const char *tags = cli_get(&cmd, "tags");
    bool orderly = cli_flag(&cmd, "orderly"), broadcast = cli_flag(&cmd, "broadcast");
    const char *offsets_file = cli_get(&cmd, "offsets-file");
    if (orderly && broadcast) {
        fprintf(stderr, "tern: consume: --orderly and --broadcast exclude each other\n");
        return CLI_EXIT_USAGE;
    }
    if (offsets_file && !broadcast) {
        fprintf(stderr, "tern: consume: --offsets-file only applies with --broadcast\n");
        return CLI_EXIT_USAGE;
    }

    if ((rv = cli_open(&cmd, &c.s)))
        return rv;
    c.loop = tern_sync_loop(c.s);
    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    /* A consumer retries a missing route forever; a tool says so at once. */
    const struct tern_route *route;
    int err = tern_sync_topic_route(c.s, topic, &route);
    if (err) {
        char what[300];
        snprintf(what, sizeof what, "consume: topic %s", topic);
        rv = cli_fail(what, err, tern_sync_errmsg(c.s));
        tern_sync_close(c.s);
        return rv;
    }
    if (where == TERN_FROM_LAST && !broadcast)
        seek_new_group_to_end(c.s, group, topic);

    struct tern_consumer_opts co;
    tern_consumer_opts_init(&co);
    co.group = group;
    co.topic = topic;
    co.expression = tags && *tags ? tags : "*";
    co.from = where;
    co.model = broadcast ? TERN_BROADCASTING : TERN_CLUSTERING;
    co.orderly = orderly;
    co.offset_path = offsets_file;
    co.batch_max = 1;
    co.max_reconsume_times = (int)max_reconsume;
    co.cb = consume_cb;
    co.arg = &c;
    err = tern_consumer_new(tern_sync_client(c.s), &co, &c.cons);
    if (err) {
        rv = cli_fail("consume: start consumer", err, NULL);
        tern_sync_close(c.s);
        return rv;
    }

    if (c.idle_ms > 0 && uv_timer_init(c.loop, &c.idle) == 0) {
        c.idle_open = true;
        c.idle.data = &c;
        uv_timer_start(&c.idle, idle_cb, (uint64_t)c.idle_ms, (uint64_t)c.idle_ms);
    }
    if (uv_check_init(c.loop, &c.flush) == 0) {
        c.flush_open = true;
        c.flush.data = &c;
        uv_check_start(&c.flush, flush_cb);
    }
    if (uv_signal_init(c.loop, &c.sigint) == 0) {
        c.sig_open = true;
        c.sigint.data = &c;
        uv_signal_start(&c.sigint, sigint_cb, SIGINT);
    }

    c.t_start = cli_now_ns();
    tern_sync_run(c.s, -1);
    uint64_t t_end = cli_now_ns();
    fflush(stdout);

    if (c.idle_open)
        close_handle((uv_handle_t *)&c.idle);
    if (c.flush_open)
        close_handle((uv_handle_t *)&c.flush);
    if (c.sig_open)
        close_handle((uv_handle_t *)&c.sigint);
    uv_run(c.loop, UV_RUN_NOWAIT);
    /* Commits the offsets of everything printed, then unregisters. */
    tern_sync_consumer_close(c.s, c.cons);
    tern_sync_close(c.s);

    double secs = (double)(t_end - c.t_start) / 1e9;
    /* Rate over the span messages actually flowed (first to last), so idle
     * waiting at the end does not dilute it. */
    double active = c.count > 1 ? (double)(c.t_last - c.t_first) / 1e9 : 0;
    fprintf(stderr,
            "tern: consume: %" PRIu64 " messages (%.2f MB) in %.3f s; %.0f msgs/s, %.2f MB/s "
            "while receiving\n",
            c.count, (double)c.bytes / 1e6, secs, active > 0 ? (double)(c.count - 1) / active : 0,
            active > 0 ? (double)c.bytes / 1e6 / active : 0);
    return CLI_EXIT_OK;
}
