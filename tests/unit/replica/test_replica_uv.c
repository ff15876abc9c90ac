/* Three real replicas in one process on one uv loop: raft_uv segments in temp
 * dirs, the TCP_NODELAY transport on 127.0.0.1. Election and "ready",
 * batching of proposals from many loop passes, identical in-order apply on
 * every member, leader close and re-election, restart and catch-up with
 * durable-index skipping, and a full restart that must bring back every
 * command (odd-sized entries, RAFT-NOTES trap a). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <raft.h>

#include "broker/replica.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/proc.h"
#include "tests/lib/testlib.h"
#include "tests/unit/replica/recorder.h"

#define N 3
#define MAX_IDS 2000000

struct node {
    struct cluster *c;
    unsigned i;
    struct replica *r;
    struct recorder rec;
    struct replica_state st;
    unsigned ready_events;
    bool running;
    bool joiner; /* started without bootstrap, to be added by the leader */
    char dir[512];
};

struct cluster {
    uv_loop_t loop;
    struct node nodes[N];
    struct replica_member members[N];
    char base[512];
    /* Load generator. */
    uv_idle_t idle;
    int64_t next_id, target_id;
    unsigned node; /* proposing through */
    unsigned outstanding, max_outstanding;
    unsigned passes; /* loop passes that proposed */
    int8_t *status;  /* per id: 1 pending, 0 acked, else error */
    unsigned acked, failed, busy, canceled;
    bool result_mismatch;
    struct node *close_on_ack; /* close this node from inside a propose callback */
};

static struct cluster *C;

static void on_state(void *arg, const struct replica_state *st)
{
    struct node *n = arg;
    n->st = *st;
    if (st->ready)
        n->ready_events++;
}

static void node_start(struct cluster *c, unsigned i)
{
    struct node *n = &c->nodes[i];
    struct replica_opts o;
    replica_opts_init(&o);
    o.id = c->members[i].id;
    o.address = c->members[i].address;
    o.dir = n->dir;
    o.voters = c->members;
    o.n_voters = n->joiner ? 0 : N;
    o.election_timeout_ms = 300;
    o.heartbeat_ms = 30;
    o.snapshot_budget = 256 << 10; /* snapshots every few hundred entries */
    o.segment_size = 1 << 20;
    o.max_entry_bytes = 64 << 10;
    o.max_inflight_bytes = 8 << 20;
    o.on_state = on_state;
    o.state_arg = n;
    struct replica_fsm fsm = rec_fsm();
    char err[ERRMSG_SIZE];
    memset(&n->st, 0, sizeof n->st);
    int rc = replica_start(&c->loop, &o, &fsm, &n->rec, &n->r, err);
    if (rc != 0)
        print_error("replica_start: %s\n", err);
    assert_int_equal(rc, 0);
    n->running = true;
}

/* Run the loop until cond holds; bounded by iterations and loop time. */
static bool run_until(struct cluster *c, bool (*cond)(struct cluster *, void *), void *arg,
                      unsigned max_ms)
{
    uv_update_time(&c->loop);
    uint64_t deadline = uv_now(&c->loop) + max_ms;
    for (unsigned it = 0; it < 5000000; it++) {
        if (cond(c, arg))
            return true;
        uv_update_time(&c->loop);
        if (uv_now(&c->loop) > deadline)
            return false;
        uv_run(&c->loop, UV_RUN_ONCE);
    }
    return cond(c, arg);
}

static bool has_ready_leader(struct cluster *c, void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < N; i++)
        if (c->nodes[i].running && c->nodes[i].st.ready)
            return true;
    return false;
}

static unsigned ready_leader(struct cluster *c)
{
    for (unsigned i = 0; i < N; i++)
        if (c->nodes[i].running && c->nodes[i].st.ready)
            return i;
    return N;
}

static bool is_closed(struct cluster *c, void *arg)
{
    (void)c;
    return !((struct node *)arg)->running;
}

static void closed_cb(void *arg)
{
    struct node *n = arg;
    n->running = false;
    n->r = NULL;
}

static void prop_cb(void *arg, int status, const struct replica_result *res)
{
    int64_t id = (int64_t)(intptr_t)arg;
    struct cluster *c = C;
    c->outstanding--;
    if (status == 0) {
        c->status[id] = 0;
        c->acked++;
        if (res->val[0] != id || res->status != 0)
            c->result_mismatch = true;
        if (c->close_on_ack) {
            /* Inside raft's apply callback: close must defer (trap d). */
            struct node *n = c->close_on_ack;
            c->close_on_ack = NULL;
            replica_close(n->r, closed_cb, n);
        }
    } else {
        if (status == TERN_E_CANCELED)
            c->canceled++;
        c->status[id] = (int8_t)(status < 0 ? status : -100);
        c->failed++;
    }
}

/* Every loop pass proposes a varying number of commands. */
static void idle_cb(uv_idle_t *h)
{
    struct cluster *c = h->data;
    struct node *n = &c->nodes[c->node];
    if (!n->running || c->next_id >= c->target_id)
        return;
    if (c->outstanding >= c->max_outstanding)
        return;
    unsigned k = 1 + (unsigned)(c->passes * 7 % 60);
    if (c->passes % 9 == 0)
        k = 250; /* a large compressible batch (> 4 KiB body) */
    c->passes++;
    for (unsigned j = 0; j < k && c->next_id < c->target_id; j++) {
        if (c->outstanding >= c->max_outstanding)
            return;
        char cmd[REC_DATA_MAX];
        int64_t id = c->next_id;
        int len = snprintf(cmd, sizeof cmd, "%lld:%.*s", (long long)id, (int)(id % 41),
                           "abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc");
        uv_buf_t iov[2] = {uv_buf_init(cmd, 1), uv_buf_init(cmd + 1, (unsigned)len - 1)};
        int rc = replica_propose(n->r, iov, 2, prop_cb, (void *)(intptr_t)id);
        if (rc == TERN_E_BUSY) {
            c->busy++;
            return;
        }
        if (rc == TERN_E_CLOSED) {
            c->target_id = c->next_id; /* the load's node is closing */
            return;
        }
        assert_int_equal(rc, 0);
        c->status[id] = 1;
        c->outstanding++;
        c->next_id++;
    }
}

static bool load_done(struct cluster *c, void *arg)
{
    (void)arg;
    return c->next_id >= c->target_id && c->outstanding == 0;
}

/* Propose ids [next_id, next_id + count) through node i and wait for acks. */
static double run_load(struct cluster *c, unsigned i, int64_t count)
{
    c->node = i;
    c->target_id = c->next_id + count;
    uv_update_time(&c->loop);
    uint64_t t0 = uv_hrtime();
    uv_idle_start(&c->idle, idle_cb);
    assert_true(run_until(c, load_done, NULL, 60000));
    uv_idle_stop(&c->idle);
    return (double)(uv_hrtime() - t0) / 1e9;
}

struct applied_arg {
    uint64_t index;
};

static bool all_applied(struct cluster *c, void *arg)
{
    uint64_t want = ((struct applied_arg *)arg)->index;
    for (unsigned i = 0; i < N; i++) {
        if (!c->nodes[i].running)
            continue;
        struct replica_status st;
        replica_status(c->nodes[i].r, &st);
        if (st.last_applied < want)
            return false;
    }
    return true;
}

/* A follower applies an entry as soon as it has persisted it and heard the
 * commit index, which can be before the leader processed its append result:
 * the leader's match index for it catches up a moment later. */
static bool leader_sees_all_matched(struct cluster *c, void *arg)
{
    struct replica_status st;
    replica_status(c->nodes[*(unsigned *)arg].r, &st);
    for (unsigned k = 0; k < st.n_peers; k++)
        if (st.peers[k].match_index != st.last_index)
            return false;
    return true;
}

static void wait_all_applied(struct cluster *c, unsigned leader)
{
    struct replica_status st;
    replica_status(c->nodes[leader].r, &st);
    struct applied_arg a = {st.last_index};
    assert_true(run_until(c, all_applied, &a, 30000));
}

/* The running members hold the same records as node `ref`; every acked id
 * appears exactly once, no id twice. */
static void check_records(struct cluster *c, unsigned ref)
{
    const struct recorder *a = &c->nodes[ref].rec;
    for (unsigned i = 0; i < N; i++) {
        const struct recorder *b = &c->nodes[i].rec;
        assert_int_equal(b->violations, 0);
        if (!c->nodes[i].running)
            continue;
        assert_int_equal(b->n, a->n);
        for (size_t k = 0; k < a->n; k++) {
            assert_int_equal(a->v[k].index, b->v[k].index);
            assert_int_equal(a->v[k].cmd_no, b->v[k].cmd_no);
            assert_memory_equal(a->v[k].data, b->v[k].data, REC_DATA_MAX);
        }
    }
    uint8_t *seen = calloc((size_t)c->next_id + 1, 1);
    for (size_t k = 0; k < a->n; k++) {
        int64_t id = rec_payload_id(a->v[k].data, a->v[k].len);
        assert_true(id >= 0 && id < c->next_id);
        assert_int_equal(seen[id], 0);
        seen[id] = 1;
    }
    for (int64_t id = 0; id < c->next_id; id++)
        if (c->status[id] == 0)
            assert_int_equal(seen[id], 1);
    free(seen);
}

/* A port below the ephemeral range (tests/lib/proc.c): a port picked by
 * binding to 0 could be taken by one of the members' outgoing connections
 * before that member listens on it. */
static void free_port(char *out, size_t cap, uv_loop_t *loop)
{
    (void)loop;
    snprintf(out, cap, "127.0.0.1:%d", proc_free_port(false));
}

static void op_cb(void *arg, int status)
{
    *(int *)arg = status;
}

static bool op_done(struct cluster *c, void *arg)
{
    (void)c;
    return *(int *)arg != 1;
}

static void close_node(struct cluster *c, unsigned i)
{
    replica_close(c->nodes[i].r, closed_cb, &c->nodes[i]);
    assert_true(run_until(c, is_closed, &c->nodes[i], 20000));
}

static void test_three_replicas(void **state)
{
    (void)state;
    struct cluster *c = calloc(1, sizeof *c);
    C = c;
    c->status = calloc(MAX_IDS, 1);
    c->max_outstanding = 4000;
    assert_int_equal(uv_loop_init(&c->loop), 0);
    uv_idle_init(&c->loop, &c->idle);
    c->idle.data = c;
    testlib_tmpdir(c->base, sizeof c->base, "replica_uv");
    for (unsigned i = 0; i < N; i++) {
        c->members[i].id = i + 1;
        free_port(c->members[i].address, sizeof c->members[i].address, &c->loop);
        snprintf(c->nodes[i].dir, sizeof c->nodes[i].dir, "%s/n%u", c->base, i + 1);
        c->nodes[i].c = c;
        c->nodes[i].i = i;
        rec_init(&c->nodes[i].rec, true);
    }
    for (unsigned i = 0; i < N; i++)
        node_start(c, i);

    /* 1. Election; "ready" only on the leader, after its barrier. */
    assert_true(run_until(c, has_ready_leader, NULL, 20000));
    unsigned L = ready_leader(c);
    assert_true(L < N);
    for (unsigned i = 0; i < N; i++) {
        if (i == L)
            continue;
        uv_buf_t b = uv_buf_init("1:x", 3);
        assert_int_equal(replica_propose(c->nodes[i].r, &b, 1, prop_cb, NULL), TERN_E_NOTLEADER);
    }

    /* 2. Load from many loop passes: batched into far fewer entries. */
    int64_t n1 = getenv("TERN_REPLICA_LOAD") ? atoll(getenv("TERN_REPLICA_LOAD")) : 20000;
    if (getenv("TERN_REPLICA_WINDOW"))
        c->max_outstanding = (unsigned)atoi(getenv("TERN_REPLICA_WINDOW"));
    double secs = run_load(c, L, n1);
    struct replica_status st;
    replica_status(c->nodes[L].r, &st);
    print_message("load: %lld commands in %llu entries over %u passes, %.3f s: %.0f entries/s, "
                  "%.0f commands/s, %u busy refusals\n",
                  (long long)n1, (unsigned long long)st.entries_proposed, c->passes, secs,
                  st.entries_proposed / secs, n1 / secs, c->busy);
    assert_int_equal(c->acked, n1);
    assert_int_equal(c->failed, 0);
    assert_false(c->result_mismatch);
    assert_true(st.entries_proposed < st.commands_proposed / 4);
    assert_int_equal(st.n_peers, N);
    wait_all_applied(c, L);
    check_records(c, L);
    assert_int_equal(c->nodes[L].rec.n, (size_t)n1);
    assert_true(run_until(c, leader_sees_all_matched, &L, 5000));

    /* 2b. Back-pressure: large commands proposed in one pass without
     * running the loop hit max_inflight_bytes (8 MiB) and fail E_BUSY; the
     * accepted ones are split into entries of <= max_entry_bytes. */
    {
        static char big[60000];
        memset(big, 'z', sizeof big);
        unsigned accepted = 0, acked_before = c->acked;
        int rc = 0;
        while (accepted < 1000) {
            char head[24];
            int64_t id = c->next_id;
            int hl = snprintf(head, sizeof head, "%lld:", (long long)id);
            uv_buf_t iov[2] = {uv_buf_init(head, (unsigned)hl), uv_buf_init(big, sizeof big)};
            rc = replica_propose(c->nodes[L].r, iov, 2, prop_cb, (void *)(intptr_t)id);
            if (rc != 0)
                break;
            c->status[id] = 1;
            c->outstanding++;
            c->next_id++;
            accepted++;
        }
        assert_int_equal(rc, TERN_E_BUSY);
        assert_true(accepted > 100 && accepted < 140);
        uv_buf_t huge = uv_buf_init(big, sizeof big);
        char *toobig = calloc(1, 70000);
        uv_buf_t tb = uv_buf_init(toobig, 70000);
        assert_int_equal(replica_propose(c->nodes[L].r, &tb, 1, prop_cb, NULL), TERN_E_TOOBIG);
        free(toobig);
        (void)huge;
        c->target_id = c->next_id;
        assert_true(run_until(c, load_done, NULL, 60000));
        assert_int_equal(c->acked - acked_before, accepted);
        replica_status(c->nodes[L].r, &st);
        print_message("back-pressure: %u x 60 KB accepted before E_BUSY\n", accepted);
        wait_all_applied(c, L);
        check_records(c, L);
    }

    /* 3. Close the leader from inside a proposal's callback while more
     * proposals are in flight: every callback fires once, acked or
     * canceled, and later proposals fail now with E_CLOSED; then the other two elect a new leader that accepts work. */
    unsigned old = L;
    uint64_t old_term = c->nodes[L].st.term;
    unsigned acked0 = c->acked, failed0 = c->failed;
    int64_t first = c->next_id;
    c->close_on_ack = &c->nodes[L];
    run_load(c, L, 5000);
    assert_true(run_until(c, is_closed, &c->nodes[old], 20000));
    assert_int_equal(c->acked - acked0 + c->failed - failed0, c->next_id - first);
    assert_int_equal(c->failed - failed0, c->canceled);
    /* In-flight entries are allowed to finish writing before raft_close
     * (libraft 0.15 workaround), so most complete; none is left hanging. */
    for (int64_t id = first; id < c->next_id; id++)
        assert_true(c->status[id] == 0 || c->status[id] == TERN_E_CANCELED);
    print_message("closed leader mid-load: %u acked, %u canceled\n", c->acked - acked0,
                  c->canceled);
    assert_true(run_until(c, has_ready_leader, NULL, 20000));
    L = ready_leader(c);
    assert_true(L != old && L < N);
    assert_true(c->nodes[L].st.term > old_term);
    unsigned acked1 = c->acked;
    run_load(c, L, 3000);
    assert_int_equal(c->acked, acked1 + 3000);
    wait_all_applied(c, L);
    check_records(c, L);

    /* 4. Restart the closed member from its directory. Its recorder kept
     * what it had (as if durable): after the restart raft restores the last
     * snapshot and re-applies the tail; everything at or below the durable
     * mark must be skipped and nothing above it seen twice. */
    struct recorder *orec = &c->nodes[old].rec;
    uint64_t had = orec->last_index;
    orec->durable = had;
    node_start(c, old);
    wait_all_applied(c, L);
    assert_int_equal(orec->violations, 0);
    assert_true(orec->skipped > 0);
    print_message("restarted member: durable %llu, skipped %llu re-applies, restores %llu "
                  "(%llu kept own state)\n",
                  (unsigned long long)had, (unsigned long long)orec->skipped,
                  (unsigned long long)orec->restores, (unsigned long long)orec->restore_skipped);
    check_records(c, L);
    orec->durable = 0;

    /* 5. Restart all three with recorders that persisted nothing: state
     * comes back from the snapshot plus the re-applied tail, in order, and
     * must equal the history byte for byte (8-byte padding, trap a). */
    struct recorder before = c->nodes[L].rec;
    c->nodes[L].rec.v = NULL;
    c->nodes[L].rec.n = c->nodes[L].rec.cap = 0;
    for (unsigned i = 0; i < N; i++)
        close_node(c, i);
    for (unsigned i = 0; i < N; i++) {
        rec_free(&c->nodes[i].rec);
        rec_init(&c->nodes[i].rec, true);
    }
    for (unsigned i = 0; i < N; i++)
        node_start(c, i);
    assert_true(run_until(c, has_ready_leader, NULL, 20000));
    L = ready_leader(c);
    wait_all_applied(c, L);
    for (unsigned i = 0; i < N; i++) {
        const struct recorder *b = &c->nodes[i].rec;
        assert_int_equal(b->violations, 0);
        assert_int_equal(b->n, before.n);
        for (size_t k = 0; k < before.n; k++) {
            assert_int_equal(before.v[k].index, b->v[k].index);
            assert_int_equal(before.v[k].len, b->v[k].len);
            assert_memory_equal(before.v[k].data, b->v[k].data, REC_DATA_MAX);
        }
        assert_true(b->restores > 0);
        struct replica_status s;
        replica_status(c->nodes[i].r, &s);
        assert_int_equal(s.malformed, 0);
    }
    rec_free(&before);

    /* 6. Operations: transfer leadership to a chosen member; remove a
     * follower and add a new member as a voter (SPARE, STANDBY, promoted
     * once caught up: it starts from an empty log, so the leader sends it
     * the last snapshot and the tail). */
    unsigned target = (L + 1) % N;
    int op = 1;
    assert_int_equal(replica_transfer(c->nodes[L].r, target + 1, op_cb, &op), 0);
    assert_int_equal(replica_transfer(c->nodes[L].r, target + 1, op_cb, &op), TERN_E_BUSY);
    assert_true(run_until(c, op_done, &op, 20000));
    assert_int_equal(op, 0);
    assert_true(run_until(c, has_ready_leader, NULL, 20000));
    assert_int_equal(ready_leader(c), target);
    L = target;
    unsigned victim = (L + 1) % N;
    op = 1;
    assert_int_equal(replica_remove(c->nodes[L].r, victim + 1, op_cb, &op), 0);
    assert_true(run_until(c, op_done, &op, 20000));
    assert_int_equal(op, 0);
    replica_status(c->nodes[L].r, &st);
    assert_int_equal(st.n_peers, N - 1);
    close_node(c, victim);
    /* A brand-new member (id 4, fresh directory and port) takes its slot. */
    c->members[victim].id = 4;
    free_port(c->members[victim].address, sizeof c->members[victim].address, &c->loop);
    snprintf(c->nodes[victim].dir, sizeof c->nodes[victim].dir, "%s/n4", c->base);
    c->nodes[victim].joiner = true;
    rec_free(&c->nodes[victim].rec);
    rec_init(&c->nodes[victim].rec, true);
    node_start(c, victim);
    op = 1;
    assert_int_equal(replica_add(c->nodes[L].r, 4, c->members[victim].address, RAFT_VOTER, op_cb,
                                 &op),
                     0);
    if (!run_until(c, op_done, &op, 40000)) {
        replica_status(c->nodes[L].r, &st);
        for (unsigned k = 0; k < st.n_peers; k++)
            print_message("peer %llu role %d match %llu (leader last %llu)\n",
                          (unsigned long long)st.peers[k].id, st.peers[k].role,
                          (unsigned long long)st.peers[k].match_index,
                          (unsigned long long)st.last_index);
        fail();
    }
    assert_int_equal(op, 0);
    replica_status(c->nodes[L].r, &st);
    assert_int_equal(st.n_peers, N);
    for (unsigned k = 0; k < st.n_peers; k++)
        assert_int_equal(st.peers[k].role, RAFT_VOTER);
    run_load(c, L, 500);
    wait_all_applied(c, L);
    check_records(c, L);

    for (unsigned i = 0; i < N; i++)
        close_node(c, i);
    uv_close((uv_handle_t *)&c->idle, NULL);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&c->loop), 0);
    for (unsigned i = 0; i < N; i++)
        rec_free(&c->nodes[i].rec);
    testlib_rmtree(c->base);
    free(c->status);
    free(c);
}

static void test_start_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char base[512], file[600], err[ERRMSG_SIZE];
    testlib_tmpdir(base, sizeof base, "replica_err");
    struct recorder rec;
    rec_init(&rec, true);
    struct replica_fsm fsm = rec_fsm();
    struct replica *r = NULL;
    struct replica_opts o;
    replica_opts_init(&o);
    /* Missing fields. */
    err[0] = 0;
    assert_int_equal(replica_start(&loop, &o, &fsm, &rec, &r, err), TERN_E_INVAL);
    assert_true(strlen(err) > 0);
    /* A data directory that is a regular file: reported, nothing leaks. */
    snprintf(file, sizeof file, "%s/afile", base);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    o.id = 1;
    o.address = "127.0.0.1:1";
    o.dir = file;
    err[0] = 0;
    int rc = replica_start(&loop, &o, &fsm, &rec, &r, err);
    assert_int_not_equal(rc, 0);
    assert_null(r);
    print_message("start on a file: %s: %s\n", tern_err_name(rc), err);
    assert_true(strlen(err) > 0);
    /* Run the loop dry: a half-built replica finishes closing. */
    for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++)
        ;
    assert_int_equal(uv_loop_close(&loop), 0);
    rec_free(&rec);
    testlib_rmtree(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_three_replicas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
