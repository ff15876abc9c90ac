/* `tern produce`: send stdin lines, or --count generated messages, with many sends in flight.
 *
 * Happy path: sends go out through tern_producer_send with up to --window in
 * flight; results are retired in submission order (so stdin mode prints one
 * line per input line, in order), and each retired slot makes room for the
 * next message. Stdin pipes and ttys are read through libuv with
 * backpressure (reading stops while the window is full); regular files are
 * read with plain read(2), which never blocks for long.
 *
 * Failure modes: a failed send prints the line number and the error to
 * stderr and the command exits 1 at the end; the other messages still go
 * out. Ctrl-C stops reading new input, waits for the sends in flight and
 * prints the summary. */
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "client/cli.h"

#define RESULT_TEXT 200
#define MAX_LAT_SAMPLES (16u * 1024u * 1024u)
#define STDIN_CHUNK 65536
#define STDIN_MAX_BUFFERED (4u * 1024u * 1024u)

struct slot {
    struct produce *pr;
    uint64_t seq;    /* 0-based message number (line number - 1 on stdin) */
    uint64_t t0;     /* submit time, ns */
    bool done;
    int err;
    char text[RESULT_TEXT]; /* result line, or error detail */
};

enum source_kind {
    SRC_COUNT,  /* generated messages */
    SRC_FILE,   /* stdin is a regular file: blocking read(2) */
    SRC_STREAM, /* stdin is a pipe/tty/socket: libuv stream */
};

struct produce {
    struct tern_sync *s;
    struct tern_producer *p;
    uv_loop_t *loop;

    /* Options. */
    const char *topic, *key, *keys, *tag;
    int64_t count, size, window, queue;
    int delay;
    /* --txn: half messages decided by the local callback (-1: plain sends). */
    int txn;
    struct tern_txn_producer *tp;
    int64_t txn_wait_ms;
    bool txn_waiting;
    int64_t delay_ms, deliver_at;

    /* Source. */
    enum source_kind kind;
    union {
        uv_pipe_t pipe;
        uv_tty_t tty;
    } in;
    bool in_open, reading, eof, interrupted;
    char *buf; /* stdin bytes not yet sent, from buf_off to buf_len */
    size_t buf_len, buf_off, buf_cap;
    char *body; /* generated body (count mode) */

    /* Window. */
    struct slot *ring;
    uint64_t submitted, retired;
    uint64_t ok, failed;
    uint64_t bytes;
    bool stopped;

    /* Latency samples (count mode), microseconds. */
    uint32_t *lat;
    size_t nlat;

    uv_signal_t sigint;
    bool sig_open;
    uint64_t t_start, t_end;
};

static void pump(struct produce *pr);

static enum tern_txn_state txn_local_cb(const struct tern_send_result *res, void *arg)
{
    struct slot *sl = arg;
    (void)res;
    return (enum tern_txn_state)sl->pr->txn;
}

/* --txn unknown leaves every decision to the broker's check-back: answer
 * commit on the first check, so the check path is exercised end to end. */
static enum tern_txn_state txn_check_cb(const struct tern_msg *m, void *arg)
{
    struct produce *pr = arg;
    (void)m;
    if (pr->txn_waiting && tern_txn_producer_checks(pr->tp) + 1 >= pr->ok)
        tern_sync_stop(pr->s);
    return TERN_TXN_COMMIT;
}

static void send_cb(int err, const char *errmsg, const struct tern_send_result *res, void *arg)
{
    struct slot *sl = arg;
    struct produce *pr = sl->pr;
    sl->done = true;
    sl->err = err;
    if (err) {
        snprintf(sl->text, sizeof sl->text, "%s", errmsg && *errmsg ? errmsg : tern_strerror(err));
    } else {
        snprintf(sl->text, sizeof sl->text, "broker=%s queue=%d offset=%" PRId64 " msgId=%s",
                 res->broker_name, res->queue_id, res->queue_offset, res->msg_id);
        if (pr->lat && pr->nlat < MAX_LAT_SAMPLES) {
            uint64_t us = (cli_now_ns() - sl->t0) / 1000;
            pr->lat[pr->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        }
    }
    pump(pr);
}

/* ---- stdin ---------------------------------------------------------------- */

static int buf_reserve(struct produce *pr, size_t extra)
{
    if (pr->buf_off > 0 && (pr->buf_off > pr->buf_cap / 2 || pr->buf_len + extra > pr->buf_cap)) {
        memmove(pr->buf, pr->buf + pr->buf_off, pr->buf_len - pr->buf_off);
        pr->buf_len -= pr->buf_off;
        pr->buf_off = 0;
    }
    if (pr->buf_len + extra <= pr->buf_cap)
        return 0;
    size_t cap = pr->buf_cap ? pr->buf_cap : STDIN_CHUNK * 2;
    while (cap < pr->buf_len + extra)
        cap *= 2;
    char *nb = realloc(pr->buf, cap);
    if (!nb)
        return TERN_E_NOMEM;
    pr->buf = nb;
    pr->buf_cap = cap;
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct produce *pr = h->data;
    (void)suggested;
    if (buf_reserve(pr, STDIN_CHUNK)) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = pr->buf + pr->buf_len;
    b->len = pr->buf_cap - pr->buf_len;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct produce *pr = st->data;
    (void)b;
    if (n > 0) {
        pr->buf_len += (size_t)n;
    } else if (n < 0) {
        if (n != UV_EOF)
            fprintf(stderr, "tern: produce: reading stdin: %s\n", uv_strerror((int)n));
        pr->eof = true;
        uv_read_stop(st);
        pr->reading = false;
    }
    pump(pr);
}

/* Blocking read of more stdin (regular files only). */
static void read_file_more(struct produce *pr)
{
    if (buf_reserve(pr, STDIN_CHUNK)) {
        pr->eof = true;
        return;
    }
    ssize_t n;
    do
        n = read(STDIN_FILENO, pr->buf + pr->buf_len, pr->buf_cap - pr->buf_len);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        if (n < 0)
            fprintf(stderr, "tern: produce: reading stdin: %s\n", strerror(errno));
        pr->eof = true;
        return;
    }
    pr->buf_len += (size_t)n;
}

/* Next line from the buffer: 1 with line and len set, 0 if none is complete
 * yet (at EOF a final unterminated line counts). Empty lines are skipped. */
static int next_line(struct produce *pr, const char **line, size_t *len)
{
    for (;;) {
        char *start = pr->buf + pr->buf_off;
        size_t avail = pr->buf_len - pr->buf_off;
        if (avail == 0)
            return 0;
        char *nl = memchr(start, '\n', avail);
        size_t n;
        if (nl) {
            n = (size_t)(nl - start);
            pr->buf_off += n + 1;
        } else if (pr->eof) {
            n = avail;
            pr->buf_off += n;
        } else {
            return 0;
        }
        if (n > 0 && start[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        *line = start;
        *len = n;
        return 1;
    }
}

/* ---- window --------------------------------------------------------------- */

static void fill_body(struct produce *pr, uint64_t seq)
{
    /* "<seq, 10 digits> xxxx..." so a consumer can tell messages apart. */
    char head[24];
    int n = snprintf(head, sizeof head, "%010" PRIu64 " ", seq);
    size_t m = (size_t)n < (size_t)pr->size ? (size_t)n : (size_t)pr->size;
    memcpy(pr->body, head, m);
}

static bool submit_one(struct produce *pr)
{
    const char *data = NULL;
    size_t len = 0;
    if (pr->interrupted)
        return false;
    if (pr->kind == SRC_COUNT) {
        if ((int64_t)pr->submitted >= pr->count)
            return false;
        fill_body(pr, pr->submitted);
        data = pr->body;
        len = (size_t)pr->size;
    } else {
        if (!next_line(pr, &data, &len)) {
            if (pr->kind == SRC_FILE && !pr->eof) {
                read_file_more(pr);
                if (!next_line(pr, &data, &len))
                    return false;
            } else {
                return false;
            }
        }
    }
    struct slot *sl = &pr->ring[pr->submitted % (uint64_t)pr->window];
    sl->pr = pr;
    sl->seq = pr->submitted;
    sl->done = false;
    sl->err = 0;
    sl->t0 = cli_now_ns();
    pr->submitted++;
    pr->bytes += len;

    struct tern_send_msg m;
    memset(&m, 0, sizeof m);
    m.topic = pr->topic;
    m.body = data;
    m.body_len = len;
    m.tags = pr->tag;
    m.keys = pr->keys ? pr->keys : pr->key;
    m.sharding_key = pr->key;
    m.delay_level = pr->delay;
    m.delay_ms = pr->delay_ms;
    m.deliver_at_ms = pr->deliver_at;
    if (pr->queue >= 0) {
        m.use_queue_id = true;
        m.queue_id = (int)pr->queue;
    }
    int err = pr->tp ? tern_txn_producer_send(pr->tp, &m, txn_local_cb, send_cb, sl)
                     : tern_producer_send(pr->p, &m, send_cb, sl);
    if (err) {
        sl->done = true;
        sl->err = err;
        snprintf(sl->text, sizeof sl->text, "%s", tern_strerror(err));
    }
    return true;
}

static void retire(struct produce *pr)
{
    while (pr->retired < pr->submitted) {
        struct slot *sl = &pr->ring[pr->retired % (uint64_t)pr->window];
        if (!sl->done)
            break;
        if (sl->err) {
            pr->failed++;
            if (pr->kind == SRC_COUNT) {
                if (pr->failed <= 10)
                    fprintf(stderr, "tern: produce: message %" PRIu64 ": %s (%s)\n", sl->seq,
                            sl->text, tern_err_name(sl->err));
            } else {
                fprintf(stderr, "tern: produce: line %" PRIu64 ": %s (%s)\n", sl->seq + 1,
                        sl->text, tern_err_name(sl->err));
            }
        } else {
            pr->ok++;
            if (pr->kind != SRC_COUNT)
                printf("%s\n", sl->text);
        }
        pr->retired++;
    }
}

static bool source_done(struct produce *pr)
{
    if (pr->interrupted)
        return true;
    if (pr->kind == SRC_COUNT)
        return (int64_t)pr->submitted >= pr->count;
    return pr->eof && pr->buf_off >= pr->buf_len;
}

static void pump(struct produce *pr)
{
    if (pr->stopped)
        return;
    for (;;) {
        bool progress = false;
        /* The first send goes out alone: it fetches the route, and sends
         * queued behind a route lookup could leave in any order. */
        uint64_t window = pr->retired == 0 ? 1 : (uint64_t)pr->window;
        while (pr->submitted - pr->retired < window && submit_one(pr))
            progress = true;
        uint64_t before = pr->retired;
        retire(pr);
        if (pr->retired != before)
            progress = true;
        if (!progress)
            break;
    }
    if (pr->kind == SRC_STREAM && pr->in_open && !pr->eof && !pr->interrupted) {
        bool want = pr->submitted - pr->retired < (uint64_t)pr->window &&
                    pr->buf_len - pr->buf_off < STDIN_MAX_BUFFERED;
        if (want && !pr->reading) {
            if (uv_read_start((uv_stream_t *)&pr->in, alloc_cb, read_cb) == 0)
                pr->reading = true;
            else
                pr->eof = true;
        } else if (!want && pr->reading) {
            uv_read_stop((uv_stream_t *)&pr->in);
            pr->reading = false;
        }
    }
    if (source_done(pr) && pr->retired == pr->submitted) {
        pr->stopped = true;
        pr->t_end = cli_now_ns();
        tern_sync_stop(pr->s);
    }
}

static void sigint_cb(uv_signal_t *h, int signum)
{
    struct produce *pr = h->data;
    (void)signum;
    if (pr->interrupted) {
        fprintf(stderr, "tern: produce: interrupted twice, exiting\n");
        exit(CLI_EXIT_FAIL);
    }
    fprintf(stderr, "tern: produce: interrupted; waiting for %" PRIu64 " sends in flight\n",
            pr->submitted - pr->retired);
    pr->interrupted = true;
    if (pr->reading) {
        uv_read_stop((uv_stream_t *)&pr->in);
        pr->reading = false;
    }
    pump(pr);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static void summary(struct produce *pr)
{
    double secs = (double)(pr->t_end - pr->t_start) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    if (pr->kind == SRC_COUNT) {
        qsort(pr->lat, pr->nlat, sizeof *pr->lat, cmp_u32);
        printf("sent %" PRIu64 " messages of %" PRId64 " bytes to %s in %.3f s: %.0f msgs/s, "
               "%.2f MB/s; send latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; window %" PRId64
               "; %" PRIu64 " failed\n",
               pr->ok, pr->size, pr->topic, secs, (double)pr->ok / secs,
               (double)pr->ok * (double)pr->size / 1e6 / secs, pct_ms(pr->lat, pr->nlat, 0.50),
               pct_ms(pr->lat, pr->nlat, 0.99), pct_ms(pr->lat, pr->nlat, 1.0), pr->window,
               pr->failed);
    } else {
        fprintf(stderr,
                "tern: produce: sent %" PRIu64 " messages (%" PRIu64 " failed) in %.3f s, "
                "%.0f msgs/s\n",
                pr->ok, pr->failed, secs, (double)pr->ok / secs);
    }
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static int open_source(struct produce *pr)
{
    if (pr->count > 0) {
        pr->kind = SRC_COUNT;
        pr->body = malloc((size_t)pr->size + 1);
        if (!pr->body)
            return TERN_E_NOMEM;
        memset(pr->body, 'x', (size_t)pr->size);
        return 0;
    }
    uv_handle_type t = uv_guess_handle(STDIN_FILENO);
    int rv = -1;
    if (t == UV_TTY) {
        rv = uv_tty_init(pr->loop, &pr->in.tty, STDIN_FILENO, 1);
    } else if (t == UV_NAMED_PIPE) {
        rv = uv_pipe_init(pr->loop, &pr->in.pipe, 0);
        if (rv == 0 && (rv = uv_pipe_open(&pr->in.pipe, STDIN_FILENO)) != 0)
            uv_close((uv_handle_t *)&pr->in.pipe, NULL);
    }
    if (rv == 0) {
        pr->kind = SRC_STREAM;
        pr->in_open = true;
        ((uv_handle_t *)&pr->in)->data = pr;
    } else {
        pr->kind = SRC_FILE;
    }
    return 0;
}

int cli_produce_main(int argc, char **argv)
{
    struct cli_opt opts[] = {
        {"namesrv", "ADDR", "name server (default $TERN_NAMESRV or " CLI_DEFAULT_NAMESRV ")", NULL},
        {"topic", "T", "topic (required)", NULL},
        {"key", "K", "sharding key of every message (queue = hash(K) mod writable queues, so one key's "
                     "messages keep their order); also the KEYS property unless --keys is given", NULL},
        {"keys", "KEYS", "KEYS property only (space separates several keys; no queue choice)", NULL},
        {"tag", "TAG", "TAGS property of every message", NULL},
        {"count", "N", "send N generated messages instead of reading stdin", NULL},
        {"size", "BYTES", "body size with --count (default 128; k/m suffixes)", NULL},
        {"window", "W", "sends in flight at most (default 1000)", NULL},
        {"queue", "Q", "send every message to queue Q (of the first broker with it)", NULL},
        {"delay", "LEVEL", "delay level 1..18 (1s 5s 10s 30s 1m ...)", NULL},
        {"delay-level", "LEVEL", "same as --delay", NULL},
        {"delay-ms", "MS", "deliver MS milliseconds after the broker stores the message (TIMER_DELAY_MS)", NULL},
        {"deliver-at", "EPOCH_MS", "deliver at this time, ms since the epoch (TIMER_DELIVER_MS)", NULL},
        {"group", "G", "producer group (default tern-cli-producer)", NULL},
        {"compress-over", "BYTES", "compress bodies above BYTES (default 4096, as Java producers)", NULL},
        {"txn", "commit|rollback|unknown", "send transactional half messages; the local transaction answers "
                                           "this (unknown: the broker checks back and gets commit)", NULL},
        {"txn-wait", "MS", "with --txn unknown: wait this long for the check-backs (default 60000)", NULL},
        {"compress", "zlib|lz4", "body compression: zlib (default; every RocketMQ consumer reads it) or "
                                 "lz4 (RocketMQ 5 Java and libtern consumers only)", NULL},
    };
    struct cli_cmd cmd = {
        "tern produce --topic T [--key K] [--tag TAG] [--count N [--size BYTES]] [--namesrv ADDR]",
        "Without --count: send one message per stdin line (empty lines are skipped) and print\n"
        "one line per result, in input order: broker=B queue=Q offset=O msgId=ID. Errors go\n"
        "to stderr with the line number.\n"
        "With --count: send N generated messages of --size bytes (each body starts with its\n"
        "10-digit sequence number) and print a summary: messages, seconds, msgs/s, MB/s\n"
        "(10^6 bytes) and send latency percentiles.\n"
        "Either way up to --window sends are in flight; exit status 1 if any send failed,\n"
        "130 after Ctrl-C (which stops reading and waits for the sends in flight).",
        opts, sizeof opts / sizeof opts[0],
        "  printf 'hello\\nworld\\n' | tern produce --topic orders --tag new --key order-1\n"
        "  tern produce --topic bench --count 100000 --size 1k\n"};
    int rv = cli_parse(&cmd, argc, argv);
    if (rv)
        return rv < 0 ? CLI_EXIT_OK : rv;

    struct produce *pr = calloc(1, sizeof *pr);
    if (!pr)
        return cli_fail("produce", TERN_E_NOMEM, NULL);
    int64_t delay, compress_over;
    if ((rv = cli_require(&cmd, "topic", &pr->topic)) ||
        (rv = cli_get_int(&cmd, "count", 1, INT64_MAX, 0, &pr->count)) ||
        (rv = cli_get_int(&cmd, "size", 1, 4 * 1024 * 1024, 128, &pr->size)) ||
        (rv = cli_get_int(&cmd, "window", 1, 65536, 1000, &pr->window)) ||
        (rv = cli_get_int(&cmd, "queue", 0, 65535, -1, &pr->queue)) ||
        (rv = cli_get_int(&cmd, "delay", 0, 18, 0, &delay)) ||
        (rv = cli_get_int(&cmd, "delay-ms", 0, INT64_MAX, 0, &pr->delay_ms)) ||
        (rv = cli_get_int(&cmd, "deliver-at", 0, INT64_MAX, 0, &pr->deliver_at)) ||
        (!delay && (rv = cli_get_int(&cmd, "delay-level", 0, 18, 0, &delay))) ||
        (rv = cli_get_int(&cmd, "compress-over", 0, INT64_MAX, 4096, &compress_over)) ||
        (rv = cli_get_int(&cmd, "txn-wait", 0, INT64_MAX, 60000, &pr->txn_wait_ms))) {
        free(pr);
        return rv;
    }
    if (cli_get(&cmd, "size") && pr->count == 0) {
        fprintf(stderr, "tern: produce: --size only applies with --count\n");
        free(pr);
        return CLI_EXIT_USAGE;
    }
    pr->delay = (int)delay;
    const char *txn = cli_get(&cmd, "txn");
    pr->txn = -1;
    if (txn) {
        pr->txn = strcmp(txn, "commit") == 0     ? TERN_TXN_COMMIT
                  : strcmp(txn, "rollback") == 0 ? TERN_TXN_ROLLBACK
                  : strcmp(txn, "unknown") == 0  ? TERN_TXN_UNKNOWN
                                                 : -2;
        if (pr->txn == -2 || delay) {
            fprintf(stderr, "tern: produce: --txn wants commit, rollback or unknown, without --delay\n");
            free(pr);
            return CLI_EXIT_USAGE;
        }
    }
    pr->key = cli_get(&cmd, "key");
    pr->keys = cli_get(&cmd, "keys");
    if (pr->key && pr->queue >= 0) {
        fprintf(stderr, "tern: produce: --key chooses the queue; it cannot be combined with --queue\n");
        free(pr);
        return CLI_EXIT_USAGE;
    }
    pr->tag = cli_get(&cmd, "tag");
    const char *group = cli_get(&cmd, "group");

    if ((rv = cli_open(&cmd, &pr->s))) {
        free(pr);
        return rv;
    }
    pr->loop = tern_sync_loop(pr->s);
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = group ? group : "tern-cli-producer";
    po.compress_threshold = (size_t)compress_over;
    const char *ctype = cli_get(&cmd, "compress");
    if (ctype && strcmp(ctype, "lz4") != 0 && strcmp(ctype, "zlib") != 0) {
        fprintf(stderr, "tern: produce: --compress wants zlib or lz4\n");
        tern_sync_close(pr->s);
        free(pr);
        return CLI_EXIT_USAGE;
    }
    po.compress_type = ctype && strcmp(ctype, "lz4") == 0 ? TERN_COMPRESS_LZ4 : TERN_COMPRESS_ZLIB;
    if ((size_t)pr->window > po.max_in_flight)
        po.max_in_flight = (size_t)pr->window;
    int err = pr->txn >= 0 ? tern_txn_producer_new(tern_sync_client(pr->s), &po, txn_check_cb, pr, &pr->tp)
                           : tern_sync_producer(pr->s, &po, &pr->p);
    if (err) {
        rv = cli_fail("produce: create producer", err, tern_sync_errmsg(pr->s));
        goto out;
    }
    pr->ring = calloc((size_t)pr->window, sizeof *pr->ring);
    if (!pr->ring || open_source(pr)) {
        rv = cli_fail("produce", TERN_E_NOMEM, NULL);
        goto out;
    }
    if (pr->kind == SRC_COUNT) {
        size_t n = (uint64_t)pr->count < MAX_LAT_SAMPLES ? (size_t)pr->count : MAX_LAT_SAMPLES;
        pr->lat = malloc(n * sizeof *pr->lat);
    }
    if (uv_signal_init(pr->loop, &pr->sigint) == 0) {
        pr->sig_open = true;
        pr->sigint.data = pr;
        uv_signal_start(&pr->sigint, sigint_cb, SIGINT);
    }

    pr->t_start = cli_now_ns();
    pump(pr);
    if (!pr->stopped)
        tern_sync_run(pr->s, -1);
    if (!pr->t_end)
        pr->t_end = cli_now_ns();
    if (pr->txn == TERN_TXN_UNKNOWN && pr->ok > 0 && !pr->interrupted) {
        /* Stay to answer the broker's check-backs (every message once). */
        pr->txn_waiting = true;
        if (tern_txn_producer_checks(pr->tp) < pr->ok)
            tern_sync_run(pr->s, pr->txn_wait_ms);
        uint64_t answered = tern_txn_producer_checks(pr->tp);
        fprintf(stderr, "tern: produce: answered %" PRIu64 " transaction check-backs with commit\n", answered);
        if (answered < pr->ok)
            pr->failed += pr->ok - answered;
    }
    fflush(stdout);
    summary(pr);
    rv = pr->failed ? CLI_EXIT_FAIL : pr->interrupted ? 128 + SIGINT : CLI_EXIT_OK;
    if (pr->ok == 0 && pr->failed == 0 && pr->kind != SRC_COUNT)
        fprintf(stderr, "tern: produce: no input lines on stdin\n");

out:
    if (pr->in_open)
        close_handle((uv_handle_t *)&pr->in);
    if (pr->sig_open)
        close_handle((uv_handle_t *)&pr->sigint);
    uv_run(pr->loop, UV_RUN_NOWAIT);
    tern_sync_close(pr->s);
    free(pr->ring);
    free(pr->buf);
    free(pr->body);
    free(pr->lat);
    free(pr);
    return rv;
}
