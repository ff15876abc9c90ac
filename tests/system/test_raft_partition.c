/* System: a Raft leader cut off from the rest of its group, on real
 * processes in network namespaces this test creates and removes itself.
 *
 * Network: three namespaces, each with two veth links: a "client" link on a
 * bridge the root namespace also sits on (10.C.D.254: the name server and
 * this test's client), and a "raft" link on a second bridge that carries only
 * Raft traffic. Each broker binds and advertises its client address
 * (listenHost, brokerIP1) and its raft address (raftAddress) in its
 * namespace. Cutting the leader's raft link (ip link set down) isolates it
 * from the other members while clients can still reach it.
 *
 * Checks: the brokers register the namespace addresses; the isolated leader
 * acknowledges nothing and soon refuses sends (it steps down); the majority
 * elects a new leader that takes writes and registers as brokerId 0; after
 * healing, the old leader rejoins as a follower (not leader again, refuses
 * sends, catches up); every acknowledged message is on every member exactly
 * once at the same offset, nothing sent to the isolated leader is anywhere;
 * after a clean stop tern-logsum prints the same lines for all three data
 * directories.
 *
 * Needs root and iproute2: exits 77 (skipped) otherwise. Everything it
 * creates (namespaces, bridges, veths, processes, temp dir) is removed in
 * teardown, also when a check fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/codes.h"
#include "src/clock.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/rpcsync.h"
#include "tests/lib/tclient.h"
#include "tests/lib/testlib.h"

#define TOPIC "Part"
#define QUEUES 4
#define N_BEFORE 200
#define N_AFTER 200
#define N_HEALED 50
#define BROKER_PORT 10911
#define RAFT_PORT 10921
#define MAX_MSGS (N_BEFORE + N_AFTER + N_HEALED + 64)

static const char *ipbin;
static char dir[512];
static char nsname[3][32], vc[3][16], vr[3][16], brc[16], brr[16];
static char cip[3][32], rip[3][32], rootip[32], ns_addr[64];
static bool net_made[3], br_made[2];
static struct proc member[3], nsrv;

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "command failed (%d): %s\n", st, cmd);
    return st;
}

static void net_names(void)
{
    int pid = (int)getpid();
    int c = 200 + pid % 50, d = (pid / 50) % 127 * 2;
    snprintf(brc, sizeof brc, "tpc%d", pid % 1000000);
    snprintf(brr, sizeof brr, "tpr%d", pid % 1000000);
    snprintf(rootip, sizeof rootip, "10.%d.%d.254", c, d);
    for (int i = 0; i < 3; i++) {
        snprintf(nsname[i], sizeof nsname[i], "tern-part-%d-%d", pid, i + 1);
        snprintf(vc[i], sizeof vc[i], "tc%d_%d", pid % 100000, i + 1);
        snprintf(vr[i], sizeof vr[i], "tr%d_%d", pid % 100000, i + 1);
        snprintf(cip[i], sizeof cip[i], "10.%d.%d.%d", c, d, i + 1);
        snprintf(rip[i], sizeof rip[i], "10.%d.%d.%d", c, d + 1, i + 1);
    }
}

static void net_up(void)
{
    assert_int_equal(sh("%s link add %s type bridge", ipbin, brc), 0);
    br_made[0] = true;
    assert_int_equal(sh("%s link add %s type bridge", ipbin, brr), 0);
    br_made[1] = true;
    assert_int_equal(sh("%s addr add %s/24 dev %s && %s link set %s up && %s link set %s up", ipbin, rootip, brc,
                        ipbin, brc, ipbin, brr),
                     0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sh("%s netns add %s", ipbin, nsname[i]), 0);
        net_made[i] = true;
        assert_int_equal(sh("%s -n %s link set lo up", ipbin, nsname[i]), 0);
        assert_int_equal(sh("%s link add %s type veth peer name c0 netns %s && %s link set %s master %s up", ipbin,
                            vc[i], nsname[i], ipbin, vc[i], brc),
                         0);
        assert_int_equal(sh("%s link add %s type veth peer name r0 netns %s && %s link set %s master %s up", ipbin,
                            vr[i], nsname[i], ipbin, vr[i], brr),
                         0);
        const char *ns = nsname[i];
        assert_int_equal(sh("%s -n %s addr add %s/24 dev c0 && %s -n %s link set c0 up && "
                            "%s -n %s addr add %s/24 dev r0 && %s -n %s link set r0 up",
                            ipbin, ns, cip[i], ipbin, ns, ipbin, ns, rip[i], ipbin, ns),
                         0);
    }
}

static void net_down(void)
{
    for (int i = 0; i < 3; i++)
        if (net_made[i]) {
            /* Deleting the namespace deletes the veth pairs with it. */
            sh("%s netns del %s", ipbin, nsname[i]);
            net_made[i] = false;
        }
    if (br_made[0])
        sh("%s link del %s", ipbin, brc);
    if (br_made[1])
        sh("%s link del %s", ipbin, brr);
    br_made[0] = br_made[1] = false;
}

/* A run killed by the ctest timeout (SIGKILL) cannot clean up: remove what
 * runs whose process is gone left behind (names carry their pid). */
static void remove_stale(void)
{
    char cmd[256], line[256];
    snprintf(cmd, sizeof cmd, "%s netns list 2>/dev/null", ipbin);
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        int pid, idx;
        if (sscanf(line, "tern-part-%d-%d", &pid, &idx) != 2 || pid == (int)getpid())
            continue;
        char proc_path[64], st[256] = "";
        snprintf(proc_path, sizeof proc_path, "/proc/%d/stat", pid);
        FILE *pf = fopen(proc_path, "r");
        if (pf) {
            size_t n = fread(st, 1, sizeof st - 1, pf);
            st[n] = '\0';
            fclose(pf);
            const char *rp = strrchr(st, ')');
            if (!rp || rp[1] != ' ' || rp[2] != 'Z')
                continue; /* that run is still going (a zombie is not) */
        }
        /* Its brokers outlived it (they run in their own process groups). */
        sh("%s netns pids tern-part-%d-%d | xargs -r kill -9", ipbin, pid, idx);
        sh("%s netns del tern-part-%d-%d", ipbin, pid, idx);
        sh("%s link del tpc%d 2>/dev/null; %s link del tpr%d 2>/dev/null; true", ipbin, pid % 1000000, ipbin,
           pid % 1000000);
    }
    pclose(f);
}

static void on_signal(int sig)
{
    /* SIGTERM/SIGINT (ctest interrupted): processes die with their parent's
     * group kill or on their own; the network must not outlive the test. */
    net_down();
    _exit(128 + sig);
}

static bool tcp_up(const char *ip, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void start_member(int i)
{
    char bin[512], log[700], set_dir[700], set_id[32], set_host[64], set_ip[64], set_raddr[64], peers[256],
        set_ns[128];
    proc_bin("tern-broker", bin, sizeof bin);
    snprintf(log, sizeof log, "%s/b%d.log", dir, i + 1);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/b%d", dir, i + 1);
    snprintf(set_id, sizeof set_id, "raftId=%d", i + 1);
    snprintf(set_host, sizeof set_host, "listenHost=%s", cip[i]);
    snprintf(set_ip, sizeof set_ip, "brokerIP1=%s", cip[i]);
    snprintf(set_raddr, sizeof set_raddr, "raftAddress=%s:%d", rip[i], RAFT_PORT);
    snprintf(peers, sizeof peers, "raftPeers=1@%s:%d;2@%s:%d;3@%s:%d", rip[0], RAFT_PORT, rip[1], RAFT_PORT,
             rip[2], RAFT_PORT);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", ns_addr);
    const char *argv[] = {ipbin, "netns", "exec", nsname[i], bin,
                          "--set", "listenPort=10911", "--set", set_host, "--set", set_ip,
                          "--set", set_dir, "--set", set_ns, "--set", "diskMinFreeBytes=0",
                          "--set", "autoCreateTopicEnable=true", "--set", set_id, "--set", set_raddr,
                          "--set", peers, NULL};
    proc_start(&member[i], argv, log);
}

static struct rpcsync cl[3];
static bool cl_open[3];

static void client_open(int i)
{
    char addr[64];
    snprintf(addr, sizeof addr, "%s:%d", cip[i], BROKER_PORT);
    rpcsync_open(&cl[i], addr);
    cl_open[i] = true;
}

static void client_reopen(int i)
{
    if (cl_open[i])
        rpcsync_close(&cl[i]);
    cl_open[i] = false;
    client_open(i);
}

/* One send; transport errors reopen the connection and come back < 0. */
static int send_to(int i, int qid, const char *body, int timeout_ms)
{
    int rv = tclient_send_timed(&cl[i], TOPIC, qid, body, strlen(body), timeout_ms, NULL);
    if (rv < 0)
        client_reopen(i);
    return rv;
}

/* The member that acknowledges a send of body among those in mask (bounded). */
static int find_leader(unsigned mask, const char *body, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < 3; i++)
            if ((mask & (1u << i)) && send_to(i, 0, body, 2000) == CODES_RESP_SUCCESS)
                return i;
        usleep(100 * 1000);
    }
    return -1;
}

/* `tern cluster` output has a line for addr with member id id (-1: any). */
static bool registered(const char *addr, int id)
{
    char bin[512], cmd[1024], line[512];
    proc_bin("tern", bin, sizeof bin);
    snprintf(cmd, sizeof cmd, "timeout 5 %s cluster --namesrv %s 2>/dev/null", bin, ns_addr);
    FILE *f = popen(cmd, "r");
    if (!f)
        return false;
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        char c[64], b[64], role[32], a[128];
        int mid;
        if (sscanf(line, "%63s %63s %d %31s %127s", c, b, &mid, role, a) == 5 && strcmp(a, addr) == 0 &&
            (id < 0 || mid == id))
            found = true;
    }
    pclose(f);
    return found;
}

static bool wait_registered(const char *addr, int id)
{
    for (int i = 0; i < 100; i++) {
        if (registered(addr, id))
            return true;
        usleep(100 * 1000);
    }
    return false;
}

/* Everything a member holds: per queue, bodies in offset order. */
struct content {
    int n[QUEUES];
    char body[QUEUES][MAX_MSGS][24];
};
static struct content got[3];

struct collect {
    struct content *c;
    int q;
};

static void collect_cb(const void *body, size_t len, int64_t off, void *arg)
{
    struct collect *k = arg;
    struct content *c = k->c;
    assert_int_equal(off, c->n[k->q]);
    assert_true(c->n[k->q] < MAX_MSGS);
    assert_true(len < sizeof c->body[0][0]);
    memcpy(c->body[k->q][c->n[k->q]], body, len);
    c->body[k->q][c->n[k->q]][len] = '\0';
    c->n[k->q]++;
}

static void read_all(int i, struct content *c)
{
    memset(c, 0, sizeof *c);
    for (int q = 0; q < QUEUES; q++) {
        struct collect k = {c, q};
        for (int guard = 0; guard < 1000; guard++) {
            int code = tclient_pull(&cl[i], "part-check", TOPIC, q, c->n[q], 32);
            if (code == CODES_RESP_PULL_NOT_FOUND)
                break;
            assert_int_equal(code, CODES_RESP_SUCCESS);
            tclient_each_record(&cl[i], collect_cb, &k);
        }
    }
}

static int count_body(const struct content *c, const char *body)
{
    int n = 0;
    for (int q = 0; q < QUEUES; q++)
        for (int k = 0; k < c->n[q]; k++)
            n += strcmp(c->body[q][k], body) == 0;
    return n;
}

static int64_t end_offset(int i, int q)
{
    return tclient_queue_offset(&cl[i], CODES_REQ_GET_MAX_OFFSET, TOPIC, q);
}

static void test_partitioned_leader(void **state)
{
    (void)state;
    testlib_tmpdir(dir, sizeof dir, "raft-partition");
    remove_stale();
    net_names();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    net_up();

    char bin[512], log[700], set_port[64];
    int nsport = proc_free_port(false);
    snprintf(log, sizeof log, "%s/namesrv.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", nsport);
    const char *nargv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--set", set_port, "--set",
                           "listenHost=0.0.0.0", NULL};
    proc_start(&nsrv, nargv, log);
    assert_true(proc_wait_port(nsport, 10000));
    snprintf(ns_addr, sizeof ns_addr, "%s:%d", rootip, nsport);

    for (int i = 0; i < 3; i++)
        start_member(i);
    for (int i = 0; i < 3; i++) {
        bool up = false;
        for (int k = 0; k < 100 && !up; k++) {
            up = tcp_up(cip[i], BROKER_PORT);
            if (!up)
                usleep(100 * 1000);
        }
        assert_true(up);
        client_open(i);
    }

    int L = find_leader(7, "warm", 150);
    assert_true(L >= 0);
    char addr[3][64], body[32];
    for (int i = 0; i < 3; i++)
        snprintf(addr[i], sizeof addr[i], "%s:%d", cip[i], BROKER_PORT);
    /* Registered with the namespace addresses; the leader as brokerId 0. */
    for (int i = 0; i < 3; i++)
        assert_true(wait_registered(addr[i], i == L ? 0 : i + 1));

    static char acked[N_BEFORE + N_AFTER + N_HEALED + 1][24];
    int nacked = 0;
    snprintf(acked[nacked++], sizeof acked[0], "warm");
    for (int k = 0; k < N_BEFORE; k++) {
        snprintf(body, sizeof body, "before-%d", k);
        assert_int_equal(send_to(L, k % QUEUES, body, 5000), CODES_RESP_SUCCESS);
        snprintf(acked[nacked++], sizeof acked[0], "%s", body);
    }

    /* Cut the leader's raft link. */
    assert_int_equal(sh("%s link set %s down", ipbin, vr[L]), 0);
    int64_t t0 = clock_mono_ms();
    /* It acknowledges nothing, and refuses once it has stepped down. */
    int refused = 0, timeouts = 0, n_iso = 0;
    while (clock_mono_ms() - t0 < 8000 && refused == 0) {
        snprintf(body, sizeof body, "isolated-%d", n_iso++);
        int rv = send_to(L, n_iso % QUEUES, body, 1500);
        assert_int_not_equal(rv, CODES_RESP_SUCCESS);
        if (rv == CODES_RESP_SERVICE_NOT_AVAILABLE)
            refused++;
        else if (rv < 0)
            timeouts++;
    }
    fprintf(stderr, "# isolated leader: %d sends, %d unanswered, refused after %lld ms\n", n_iso, timeouts,
            (long long)(clock_mono_ms() - t0));
    assert_true(refused > 0);

    /* The majority elects a new leader that takes writes. */
    unsigned others = 7u & ~(1u << L);
    int NL = find_leader(others, "after-0", 150);
    assert_true(NL >= 0 && NL != L);
    snprintf(acked[nacked++], sizeof acked[0], "after-0");
    for (int k = 1; k < N_AFTER; k++) {
        snprintf(body, sizeof body, "after-%d", k);
        assert_int_equal(send_to(NL, k % QUEUES, body, 5000), CODES_RESP_SUCCESS);
        snprintf(acked[nacked++], sizeof acked[0], "%s", body);
    }
    assert_true(wait_registered(addr[NL], 0));
    /* Still cut off: it takes nothing. */
    assert_int_not_equal(send_to(L, 0, "isolated-late", 1500), CODES_RESP_SUCCESS);

    /* Heal. The old leader rejoins as a follower and catches up. */
    assert_int_equal(sh("%s link set %s up", ipbin, vr[L]), 0);
    bool caught_up = false;
    for (int k = 0; k < 200 && !caught_up; k++) {
        caught_up = true;
        for (int q = 0; q < QUEUES && caught_up; q++) {
            int64_t want = end_offset(NL, q);
            caught_up = want > 0 && end_offset(L, q) == want;
        }
        if (!caught_up)
            usleep(100 * 1000);
    }
    assert_true(caught_up);
    /* A leader among the two that kept the log (the old one can rejoin with
     * a higher term and force an election, but never win it). */
    int HL = find_leader(others, "healed-0", 150);
    assert_true(HL >= 0);
    snprintf(acked[nacked++], sizeof acked[0], "healed-0");
    for (int k = 1; k < N_HEALED; k++) {
        snprintf(body, sizeof body, "healed-%d", k);
        assert_int_equal(send_to(HL, k % QUEUES, body, 5000), CODES_RESP_SUCCESS);
        snprintf(acked[nacked++], sizeof acked[0], "%s", body);
    }
    assert_int_equal(send_to(L, 0, "to-old-leader", 3000), CODES_RESP_SERVICE_NOT_AVAILABLE);
    assert_true(wait_registered(addr[L], L + 1));

    /* Same content everywhere; each acknowledged message once; nothing of
     * what the isolated leader was sent. */
    for (int k = 0; k < 200; k++) {
        bool same = true;
        for (int q = 0; q < QUEUES; q++)
            for (int i = 0; i < 3; i++)
                same = same && end_offset(i, q) == end_offset(HL, q);
        if (same)
            break;
        usleep(100 * 1000);
    }
    for (int i = 0; i < 3; i++)
        read_all(i, &got[i]);
    for (int i = 1; i < 3; i++)
        for (int q = 0; q < QUEUES; q++) {
            assert_int_equal(got[i].n[q], got[0].n[q]);
            for (int k = 0; k < got[0].n[q]; k++)
                assert_string_equal(got[i].body[q][k], got[0].body[q][k]);
        }
    int total = 0;
    for (int q = 0; q < QUEUES; q++)
        total += got[0].n[q];
    assert_int_equal(total, nacked);
    for (int k = 0; k < nacked; k++)
        assert_int_equal(count_body(&got[0], acked[k]), 1);
    for (int k = 0; k < n_iso; k++) {
        snprintf(body, sizeof body, "isolated-%d", k);
        assert_int_equal(count_body(&got[0], body), 0);
    }
    assert_int_equal(count_body(&got[0], "isolated-late"), 0);
    assert_int_equal(count_body(&got[0], "to-old-leader"), 0);

    /* Clean stop; identical checksums of the three data directories. */
    for (int i = 0; i < 3; i++) {
        rpcsync_close(&cl[i]);
        cl_open[i] = false;
    }
    for (int i = 0; i < 3; i++) {
        proc_stop(&member[i], 15000);
        assert_true(WIFEXITED(member[i].status) && WEXITSTATUS(member[i].status) == 0);
        proc_release(&member[i]);
    }
    char sums[3][4096];
    for (int i = 0; i < 3; i++) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%s --no-header %s/b%d", proc_bin("tern-logsum", bin, sizeof bin), dir, i + 1);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        size_t n = fread(sums[i], 1, sizeof sums[i] - 1, f);
        sums[i][n] = '\0';
        assert_int_equal(pclose(f), 0);
        assert_non_null(strstr(sums[i], " ok\n"));
    }
    fprintf(stderr, "# tern-logsum:\n%s", sums[0]);
    assert_string_equal(sums[1], sums[0]);
    assert_string_equal(sums[2], sums[0]);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        if (cl_open[i])
            rpcsync_close(&cl[i]);
        cl_open[i] = false;
        if (member[i].pid) {
            proc_dump_log(&member[i], 30);
            proc_stop(&member[i], 5000);
        }
    }
    if (nsrv.pid)
        proc_stop(&nsrv, 5000);
    net_down();
    if (dir[0])
        testlib_rmtree(dir);
    return 0;
}

int main(void)
{
    static const char *const cands[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0] && !ipbin; i++)
        if (access(cands[i], X_OK) == 0)
            ipbin = cands[i];
    if (geteuid() != 0 || !ipbin) {
        printf("skipped: needs root and iproute2's ip (network namespaces)\n");
        return 77;
    }
    char probe[64];
    snprintf(probe, sizeof probe, "tern-part-probe-%d", (int)getpid());
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s netns add %s 2>/dev/null && %s netns del %s", ipbin, probe, ipbin, probe);
    if (system(cmd) != 0) {
        printf("skipped: cannot create network namespaces here\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_partitioned_leader, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
