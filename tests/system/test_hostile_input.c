/* System: a live broker under hostile input while a well-behaved client keeps
 * sending. Random and mutated frames (built from real requests in both
 * header forms), huge declared lengths, half-sent frames held open, a
 * thousand idle connections, and a flood of unknown request codes. The
 * broker must keep serving the good client (every send acknowledged), close
 * each bad connection with a logged reason, close stalled and idle ones by
 * its timeouts, and keep its memory bounded. Prints the figures (frames
 * sent, RSS before and after). Bounded: about a minute. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "protocol/remoting.h"
#include "src/buf.h"
#include "src/clock.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define IDLE_CONNS 1000

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static struct proc ns, broker;
static char dir[512], broker_addr[64];
static int broker_port;
static struct rpcsync good;
static int good_sends, good_failures;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)broker_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("connect: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Read and discard what the broker sent; true if it closed the connection. */
static bool drain_closed(int fd, int wait_ms)
{
    char tmp[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, wait_ms) == 1) {
        ssize_t n = recv(fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return true;
        if (n < 0)
            return false;
        wait_ms = 0;
    }
    return false;
}

/* The good client: one acknowledged send, counted. */
static void good_send(void)
{
    int64_t off;
    int code = tclient_send(&good, "hostile-good", 0, NULL, "ok", 2, &off);
    good_sends++;
    if (code != CODES_RESP_SUCCESS)
        good_failures++;
}

/* Well-formed requests as seeds: SEND_MESSAGE_V2, PULL, GET_MAX_OFFSET,
 * HEART_BEAT, in JSON and binary header forms. */
static size_t make_seeds(struct buf *seeds, size_t *offs, size_t *lens, size_t cap)
{
    static const int codes[] = {CODES_REQ_SEND_MESSAGE_V2, CODES_REQ_PULL_MESSAGE, CODES_REQ_GET_MAX_OFFSET,
                                CODES_REQ_HEART_BEAT, CODES_REQ_UPDATE_AND_CREATE_TOPIC, 30000};
    size_t n = 0;
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0] && n + 2 <= cap; i++) {
        for (int ser = 0; ser < 2; ser++) {
            remoting_cmd_init_request(&c, codes[i]);
            c.serialize = (uint8_t)ser;
            remoting_ext_set_str(&c, "a", "pg");
            remoting_ext_set_str(&c, "b", "hostile-fuzz");
            remoting_ext_set_str(&c, "topic", "hostile-fuzz");
            remoting_ext_set_str(&c, "consumerGroup", "cg");
            remoting_ext_set_str(&c, "queueId", "0");
            remoting_ext_set_str(&c, "e", "0");
            remoting_ext_set_str(&c, "queueOffset", "0");
            remoting_ext_set_str(&c, "maxMsgNums", "32");
            remoting_ext_set_str(&c, "sysFlag", "0");
            remoting_ext_set_str(&c, "f", "0");
            remoting_ext_set_str(&c, "i", "TAGS\001x\002");
            static const char body[] = "{\"clientID\":\"h\",\"consumerDataSet\":[],\"producerDataSet\":[]}";
            size_t start = seeds->len;
            assert_int_equal(remoting_encode(&c, sizeof body - 1, seeds), 0);
            buf_append(seeds, body, sizeof body - 1);
            offs[n] = start;
            lens[n] = seeds->len - start;
            n++;
        }
    }
    remoting_cmd_free(&c);
    return n;
}

static int setup(void **state)
{
    (void)state;
    /* A thousand idle connections need descriptors here and in the broker
     * (it inherits this limit). */
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char bin[512], log[600], port_s[16], ns_addr[64];
    testlib_tmpdir(dir, sizeof dir, "hostile");
    int nsport = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", nsport);
    snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", nsport);
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    const char *nargv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s, NULL};
    proc_start(&ns, nargv, log);
    assert_true(proc_wait_port(nsport, 10000));
    broker_port = proc_free_port(true);
    snprintf(broker_addr, sizeof broker_addr, "127.0.0.1:%d", broker_port);
    char set_port[64], set_dir[600], set_ns[96];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", broker_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", ns_addr);
    const char *bargv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                           "--set", set_ns, "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                           "--set", "partialFrameTimeout=2s", "--set", "connectionIdleTimeout=6s",
                           "--set", "maxFrameSize=1m", "--set", "maxTopics=64", NULL};
    proc_start(&broker, bargv, log);
    if (!proc_wait_port(broker_port, 10000)) {
        proc_dump_log(&broker, 50);
        fail_msg("broker did not start");
    }
    rpcsync_open(&good, broker_addr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rpcsync_close(&good);
    proc_stop(&broker, 5000);
    proc_stop(&ns, 5000);
    testlib_rmtree(dir);
    return 0;
}

static int count_log(const char *needle)
{
    FILE *f = fopen(broker.log, "r");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle))
            n++;
    fclose(f);
    return n;
}

static void test_hostile_input(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++)
        good_send();
    long rss_before = rss_kb(broker.pid);

    /* 1. Mutated and random frames, a fresh connection whenever the broker
     * drops one. */
    struct buf seeds;
    buf_init(&seeds);
    size_t offs[16], lens[16];
    size_t nseeds = make_seeds(&seeds, offs, lens, 16);
    uint8_t frame[4096];
    int fd = raw_connect();
    long frames = 0, reconnects = 0;
    int64_t until = clock_mono_ms() + 12000;
    while (clock_mono_ms() < until) {
        size_t k = rnd() % nseeds, n = lens[k];
        memcpy(frame, seeds.data + offs[k], n);
        switch (rnd() % 4) {
        case 0: /* flip bits anywhere but the length prefix */
            for (int f = 0, m = 1 + (int)(rnd() % 8); f < m; f++)
                frame[4 + rnd() % (n - 4)] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* random bytes under a consistent length prefix */
            n = 8 + rnd() % 512;
            for (size_t j = 4; j < n; j++)
                frame[j] = (uint8_t)rnd();
            frame[0] = 0, frame[1] = 0, frame[2] = (uint8_t)((n - 4) >> 8), frame[3] = (uint8_t)(n - 4);
            break;
        case 2: /* a header length larger than the frame */
            frame[4] = (uint8_t)(rnd() % 2), frame[5] = 0xff, frame[6] = 0xff, frame[7] = (uint8_t)rnd();
            break;
        default: /* a valid request (the broker answers it) */
            break;
        }
        if (send(fd, frame, n, MSG_NOSIGNAL) < 0 || drain_closed(fd, 0)) {
            close(fd);
            fd = raw_connect();
            reconnects++;
        }
        frames++;
        if (frames % 500 == 0)
            good_send();
    }
    close(fd);

    /* 2. Huge declared lengths: closed at once. */
    int huge_closed = 0;
    for (int i = 0; i < 50; i++) {
        fd = raw_connect();
        uint8_t h[8] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 16};
        send(fd, h, sizeof h, MSG_NOSIGNAL);
        if (drain_closed(fd, 2000))
            huge_closed++;
        close(fd);
    }
    assert_int_equal(huge_closed, 50);
    good_send();

    /* 3. Half-sent frames held open, and 4. idle connections. */
    int half[100], idle[IDLE_CONNS];
    for (int i = 0; i < 100; i++) {
        half[i] = raw_connect();
        uint8_t h[64] = {0, 0, 0x03, 0xe8}; /* declares 1000 bytes, sends 64 */
        send(half[i], h, sizeof h, MSG_NOSIGNAL);
    }
    for (int i = 0; i < IDLE_CONNS; i++)
        idle[i] = raw_connect();
    for (int i = 0; i < 20; i++)
        good_send();

    /* 5. A flood of unknown request codes on one connection, answers read. */
    struct remoting_cmd c;
    remoting_cmd_init(&c);
    remoting_cmd_init_request(&c, 30000);
    struct buf unk;
    buf_init(&unk);
    for (int i = 0; i < 200; i++) {
        c.opaque = i;
        assert_int_equal(remoting_encode(&c, 0, &unk), 0);
    }
    fd = raw_connect();
    long unknown = 0;
    until = clock_mono_ms() + 5000;
    while (clock_mono_ms() < until) {
        if (send(fd, unk.data, unk.len, MSG_NOSIGNAL) < 0)
            fail_msg("the broker dropped a connection sending only unknown codes");
        unknown += 200;
        if (drain_closed(fd, 0))
            fail_msg("the broker closed a connection sending only unknown codes");
        if (unknown % 20000 == 0)
            good_send();
    }
    close(fd);
    remoting_cmd_free(&c);
    buf_free(&unk);

    /* The stalled and idle connections are closed by the broker's timeouts. */
    int half_closed = 0, idle_closed = 0;
    for (int i = 0; i < 100; i++)
        half_closed += drain_closed(half[i], 5000);
    int64_t idle_deadline = clock_mono_ms() + 15000;
    for (int i = 0; i < IDLE_CONNS; i++) {
        int64_t left = idle_deadline - clock_mono_ms();
        idle_closed += drain_closed(idle[i], left > 0 ? (int)left : 0);
    }
    for (int i = 0; i < 100; i++)
        close(half[i]);
    for (int i = 0; i < IDLE_CONNS; i++)
        close(idle[i]);
    /* The good client sat idle through that wait too: it reconnects, as a
     * RocketMQ client does after its channel is closed. */
    rpcsync_close(&good);
    rpcsync_open(&good, broker_addr);
    for (int i = 0; i < 100; i++)
        good_send();

    long rss_after = rss_kb(broker.pid);
    printf("hostile: %ld fuzz frames (%ld reconnects), %ld unknown-code requests, %d huge-length, "
           "100 half frames, %d idle connections; good client %d sends, %d failed; broker RSS %ld kB -> %ld kB\n",
           frames, reconnects, unknown, huge_closed, IDLE_CONNS, good_sends, good_failures, rss_before, rss_after);
    fflush(stdout);

    assert_true(kill(broker.pid, 0) == 0); /* still running */
    assert_int_equal(good_failures, 0);
    assert_int_equal(half_closed, 100);
    assert_int_equal(idle_closed, IDLE_CONNS);
    assert_true(reconnects > 0); /* bad frames did close their connections */
    assert_true(count_log("incomplete frame") >= 100);
    assert_true(count_log("idle for") >= IDLE_CONNS);
    assert_true(count_log("frame length") >= 50);
    /* Bounded memory: buffers of closed connections are returned. 64 MiB of
     * slack covers allocator caching. Under AddressSanitizer freed memory sits
     * in its quarantine (256 MiB by default) and RSS says nothing about the
     * broker's own bounds, so the bound is checked in normal builds only. */
#if !SANITIZED
    assert_true(rss_after - rss_before < 64 * 1024);
#endif
    buf_free(&seeds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
