/* Glue between the broker and its Raft group (RAFT-NOTES "Design A").
 *
 * Happy path: handlers propose commands on the ready leader; once committed,
 * every member applies them through fsm_apply at log position
 * fsm_source(index, cmd_no); the leader's proposal callback carries the
 * result (partition, first offset) back to the handler, which acknowledges.
 * Failure modes: a member that is not the ready leader refuses writes; a
 * lost leadership fails pending proposals (the command may still commit: the
 * client retries, at-least-once); the snapshot never covers more than the
 * state machine's durable position. A far-behind member restores the
 * leader's metadata snapshot and fetches the partition units it lacks
 * (broker/segfetch.h, REPLICATION.md §7). */
#include "broker/grouprepl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/locks.h"
#include "broker/replica.h"
#include "broker/segfetch.h"
#include "broker/topics.h"
#include "broker/txn.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

struct grouprepl {
    struct broker *b;
    struct replica *r;
    struct replica_state st;
    struct replica_member peers[REPLICA_MAX_MEMBERS];
    unsigned npeers;
    char dir[1100];
    struct proposal *spare; /* reused: no allocation per proposal */
    void (*on_closed)(struct broker *b);
    /* Snapshot restore (segfetch): raft_start restores the member's own
     * snapshot; any later restore is a leader's InstallSnapshot. */
    bool starting;
    /* Leader: followers slow readers may be sent to (grouprepl_read_member). */
    uint64_t readers[REPLICA_MAX_MEMBERS];
    unsigned nreaders;
    uint64_t readers_at; /* uv_now() of the last refresh, 0 never */
};

struct proposal {
    grouprepl_cb cb;
    void *arg;
    struct grouprepl *g;
    struct proposal *next; /* on the spare list */
};

static int apply_cb(void *arg, uint64_t index, uint32_t cmd_no, const uint8_t *cmd, size_t len,
                    struct replica_result *res)
{
    struct broker *b = arg;
    if (cmd_no > FSM_MAX_CMDS_PER_ENTRY) {
        res->status = TERN_E_TOOBIG;
        return 0;
    }
    /* Return appends synced since the last call to the state machine's
     * spare list (durable_cb no longer polls it on every apply). */
    fsm_durable_source(b);
    struct fsm_result fr;
    int rv = fsm_apply(b, fsm_source(index, cmd_no), cmd, len, NULL, NULL, &fr);
    /* A malformed command is skipped the same way on every member. */
    res->status = rv ? rv : fr.status;
    res->val[0] = (int64_t)fr.first_offset;
    res->val[1] = fr.part_id;
    res->val[2] = fr.count;
    res->val[3] = fr.skipped;
    return 0;
}

static int snapshot_cb(void *arg, struct buf *out)
{
    struct broker *b = arg;
    /* Topics, consumer offsets and every partition's end at this index:
     * metadata only (segfetch.h). Offsets are flushed too, for restarts. */
    offsets_flush(b);
    if (txn_flush(b) != 0)
        return TERN_E_IO; /* the log still holds the transactions */
    int rv = segfetch_snapshot_write(b, out);
    if (rv)
        LOGE("broker", "raft snapshot: %s", tern_strerror(rv));
    return rv;
}

static int durable_cb(void *arg, uint64_t *index)
{
    struct broker *b = arg;
    /* Raft asks right after applying, so the appends just applied are never
     * synced yet: waiting for the store's job would starve snapshots under
     * load. Make everything written so far durable now instead (blocking,
     * about one fdatasync per dirty partition per snapshot); this covers
     * units a catch-up restore imported too. */
    int rv = store_make_durable(b->store);
    if (rv) {
        LOGE("broker", "raft snapshot: sync: %s", tern_strerror(rv));
        *index = 0; /* no snapshot now (RAFT_BUSY); the store's job reports the failure */
        return 0;
    }
    *index = UINT64_MAX;
    return 0;
}

static int restore_cb(void *arg, uint64_t index, const uint8_t *buf, size_t len)
{
    struct broker *b = arg;
    struct grouprepl *g = b->repl;
    bool starting = g->starting;
    struct segfetch_stats st;
    char err[ERRMSG_SIZE] = "";
    /* Blocks the loop while partitions are fetched (REPLICATION.md §7). */
    int rv = segfetch_restore(b, index, buf, len, starting, b->conf.raft_catchup_ms, &st, err);
    if (rv == 0) {
        locks_restore(b, (const char *)buf, len); /* lock commands before it are gone */
        if (st.partitions_fetched > 0) {
            LOGI("broker",
                 "catch-up done: snapshot at index %llu, %u partitions, %llu messages, %llu units, %llu bytes "
                 "fetched in %lld ms",
                 (unsigned long long)index, st.partitions_fetched, (unsigned long long)st.messages,
                 (unsigned long long)st.units, (unsigned long long)st.bytes, (long long)st.ms);
        } else {
            LOGI("broker", "raft snapshot at index %llu restored (metadata only)", (unsigned long long)index);
        }
        return 0;
    }
    LOGE("broker", "raft snapshot at index %llu: %s", (unsigned long long)index, err);
    if (starting)
        return rv; /* raft_start fails: the broker reports it and exits */
    /* A failed restore during InstallSnapshot is not recoverable in libraft
     * 0.15: the log was already replaced by the snapshot while last_applied
     * stays behind it, so the next apply would read entries that do not
     * exist. Stop this member instead; at its next start raft restores the
     * installed snapshot again and the fetch resumes where it stopped. */
    LOGE("broker", "stopping: this member cannot catch up now (it retries at its next start)");
    fflush(NULL);
    _exit(3);
}

static const struct replica_fsm fsm_ops = {apply_cb, snapshot_cb, durable_cb, restore_cb};

static void propose_done(void *arg, int status, const struct replica_result *res)
{
    struct proposal *p = arg;
    struct fsm_result fr;
    memset(&fr, 0, sizeof fr);
    if (status == 0 && res) {
        fr.status = res->status;
        fr.first_offset = (uint64_t)res->val[0];
        fr.part_id = (uint32_t)res->val[1];
        fr.count = (uint32_t)res->val[2];
        fr.skipped = res->val[3] != 0;
    }
    grouprepl_cb cb = p->cb;
    void *cb_arg = p->arg;
    p->next = p->g->spare;
    p->g->spare = p;
    if (cb)
        cb(cb_arg, status, status == 0 ? &fr : NULL);
}

static void state_cb(void *arg, const struct replica_state *st)
{
    struct broker *b = arg;
    struct grouprepl *g = b->repl;
    bool was_ready = g->st.ready;
    g->st = *st;
    LOGI("broker", "raft: %s, term %llu, leader %llu%s",
         st->role == REPLICA_LEADER ? "leader" : st->role == REPLICA_FOLLOWER ? "follower" :
         st->role == REPLICA_CANDIDATE ? "candidate" : "unavailable",
         (unsigned long long)st->term, (unsigned long long)st->leader_id, st->ready ? " (ready)" : "");
    if (st->ready && !was_ready)
        broker_leader_ready(b);
    registrar_kick(b);
}

/* "1@127.0.0.1:20001;2@..." */
static int parse_peers(struct grouprepl *g, const char *spec, char *errmsg)
{
    char list[1024];
    snprintf(list, sizeof list, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(list, ";, ", &save); tok; tok = strtok_r(NULL, ";, ", &save)) {
        char *at = strchr(tok, '@');
        char *end;
        unsigned long long id = at ? strtoull(tok, &end, 10) : 0;
        if (!at || end != at || id == 0 || g->npeers == REPLICA_MAX_MEMBERS ||
            strlen(at + 1) >= REPLICA_ADDR_MAX) {
            errmsg_printf(errmsg, "raftPeers: bad member '%s' (want id@host:port)", tok);
            return TERN_E_INVAL;
        }
        g->peers[g->npeers].id = id;
        strcpy(g->peers[g->npeers].address, at + 1);
        g->npeers++;
    }
    if (g->npeers == 0) {
        errmsg_printf(errmsg, "raftPeers: empty with raftId set");
        return TERN_E_INVAL;
    }
    return 0;
}

int grouprepl_init(struct broker *b)
{
    if (b->conf.raft_id <= 0)
        return 0;
    struct grouprepl *g = calloc(1, sizeof *g);
    if (!g)
        return TERN_E_NOMEM;
    g->b = b;
    b->repl = g;
    int rv = parse_peers(g, b->conf.raft_peers, b->errmsg);
    if (rv)
        return rv;
    if (!b->conf.raft_address[0]) {
        errmsg_printf(b->errmsg, "raftAddress is required with raftId");
        return TERN_E_INVAL;
    }
    if (b->conf.raft_dir[0])
        snprintf(g->dir, sizeof g->dir, "%s", b->conf.raft_dir);
    else
        snprintf(g->dir, sizeof g->dir, "%s/raft", b->conf.data_dir);
    struct replica_opts o;
    replica_opts_init(&o);
    o.id = (uint64_t)b->conf.raft_id;
    o.address = b->conf.raft_address;
    o.dir = g->dir;
    o.voters = g->peers;
    o.n_voters = g->npeers;
    o.election_timeout_ms = (unsigned)b->conf.raft_election_ms;
    o.heartbeat_ms = (unsigned)(b->conf.raft_election_ms / 10);
    o.on_state = state_cb;
    o.state_arg = b;
    o.snapshot_budget = (uint64_t)b->conf.raft_snapshot_bytes;
    g->starting = true;
    rv = replica_start(b->loop, &o, &fsm_ops, b, &g->r, b->errmsg);
    g->starting = false;
    if (rv) {
        errmsg_wrapf(b->errmsg, "raft");
        g->r = NULL;
        return rv;
    }
    return 0;
}

bool grouprepl_enabled(const struct broker *b)
{
    return b->repl != NULL;
}

bool grouprepl_writable(const struct broker *b)
{
    if (!b->repl)
        return true;
    return b->repl->st.role == REPLICA_LEADER && b->repl->st.ready && !fsm_failed(b);
}

int64_t grouprepl_member_id(const struct broker *b)
{
    if (!b->repl)
        return b->conf.id;
    return grouprepl_writable(b) ? 0 : b->conf.raft_id;
}

/* Followers a leader may send slow readers to: voters whose match index is
 * within READ_MEMBER_LAG entries of the log's end (a dead or stalled one
 * falls out as entries accrue). Refreshed at most every READ_MEMBER_MS. */
#define READ_MEMBER_LAG 1024
#define READ_MEMBER_MS 200

int64_t grouprepl_read_member(struct broker *b, uint32_t salt)
{
    struct grouprepl *g = b->repl;
    if (!g || !g->r)
        return 0;
    uint64_t now = uv_now(b->loop);
    if (g->readers_at == 0 || now - g->readers_at >= READ_MEMBER_MS) {
        struct replica_status st;
        replica_status(g->r, &st);
        g->nreaders = 0;
        for (unsigned i = 0; i < st.n_peers; i++) {
            const struct replica_peer *p = &st.peers[i];
            if (p->id != (uint64_t)b->conf.raft_id && p->role == REPLICA_VOTER &&
                p->match_index + READ_MEMBER_LAG >= st.last_index)
                g->readers[g->nreaders++] = p->id;
        }
        g->readers_at = now;
    }
    return g->nreaders ? (int64_t)g->readers[salt % g->nreaders] : 0;
}

int grouprepl_propose(struct broker *b, const void *cmd, size_t len, grouprepl_cb cb, void *arg)
{
    struct grouprepl *g = b->repl;
    if (!g || !g->r)
        return TERN_E_CLOSED;
    if (!grouprepl_writable(b))
        return TERN_E_NOTLEADER;
    struct proposal *p = g->spare;
    if (p)
        g->spare = p->next;
    else if (!(p = malloc(sizeof *p)))
        return TERN_E_NOMEM;
    p->cb = cb;
    p->arg = arg;
    p->g = g;
    uv_buf_t iov = uv_buf_init((char *)cmd, (unsigned)len);
    int rv = replica_propose(g->r, &iov, 1, propose_done, p);
    if (rv) {
        p->next = g->spare;
        g->spare = p;
    }
    return rv;
}

static void grouprepl_free(struct grouprepl *g)
{
    while (g->spare) {
        struct proposal *p = g->spare;
        g->spare = p->next;
        free(p);
    }
    free(g);
}

static void replica_closed_cb(void *arg)
{
    struct broker *b = arg;
    struct grouprepl *g = b->repl;
    void (*cb)(struct broker *) = g->on_closed;
    b->repl = NULL;
    grouprepl_free(g); /* every proposal callback has fired */
    cb(b);
}

void grouprepl_close(struct broker *b, void (*cb)(struct broker *b))
{
    struct grouprepl *g = b->repl;
    if (!g) {
        cb(b);
        return;
    }
    if (!g->r) {
        b->repl = NULL;
        grouprepl_free(g);
        cb(b);
        return;
    }
    g->on_closed = cb;
    replica_close(g->r, replica_closed_cb, b);
}

/* ---- Group operations -------------------------------------------------- */

bool grouprepl_status(const struct broker *b, struct replica_status *st)
{
    if (!b->repl || !b->repl->r)
        return false;
    replica_status(b->repl->r, st);
    return true;
}

static struct replica *leader_replica(struct broker *b, int *rc)
{
    struct grouprepl *g = b->repl;
    *rc = 0;
    if (!g || !g->r)
        *rc = TERN_E_CLOSED;
    else if (b->closing)
        *rc = TERN_E_CLOSED;
    else if (g->st.role != REPLICA_LEADER)
        *rc = TERN_E_NOTLEADER;
    return *rc ? NULL : g->r;
}

int grouprepl_transfer(struct broker *b, uint64_t to, grouprepl_op_cb cb, void *arg)
{
    int rc;
    struct replica *r = leader_replica(b, &rc);
    return r ? replica_transfer(r, to, cb, arg) : rc;
}

int grouprepl_add(struct broker *b, uint64_t id, const char *address, grouprepl_op_cb cb, void *arg)
{
    int rc;
    struct replica *r = leader_replica(b, &rc);
    return r ? replica_add(r, id, address, REPLICA_VOTER, cb, arg) : rc;
}

int grouprepl_remove(struct broker *b, uint64_t id, grouprepl_op_cb cb, void *arg)
{
    int rc;
    struct replica *r = leader_replica(b, &rc);
    return r ? replica_remove(r, id, cb, arg) : rc;
}

/* A SIGTERM'd leader's hand-off: the transfer and a bound on the wait race;
 * the first to finish continues the shutdown; the struct lives until the
 * transfer callback fired too and the timer closed. */
struct handoff {
    uv_timer_t timer;
    struct broker *b;
    void (*cb)(struct broker *b);
    bool fired;
    bool transfer_pending;
    bool timer_open;
};

static void handoff_maybe_free(struct handoff *h)
{
    if (!h->transfer_pending && !h->timer_open)
        free(h);
}

static void handoff_timer_closed(uv_handle_t *t)
{
    struct handoff *h = t->data;
    h->timer_open = false;
    handoff_maybe_free(h);
}

static void handoff_finish(struct handoff *h, const char *how)
{
    if (h->fired)
        return;
    h->fired = true;
    LOGI("broker", "shutdown hand-off: %s", how);
    uv_close((uv_handle_t *)&h->timer, handoff_timer_closed);
    h->cb(h->b);
}

static void handoff_transfer_cb(void *arg, int status)
{
    struct handoff *h = arg;
    h->transfer_pending = false;
    char how[96];
    struct replica_status st;
    if (status == 0 && grouprepl_status(h->b, &st))
        snprintf(how, sizeof how, "leadership moved to member %llu",
                 (unsigned long long)st.state.leader_id);
    else
        snprintf(how, sizeof how, "transfer failed: %s", tern_strerror(status));
    handoff_finish(h, how);
    handoff_maybe_free(h);
}

static void handoff_timer_cb(uv_timer_t *t)
{
    handoff_finish(t->data, "no new leader in time, stopping anyway");
}

void grouprepl_handoff(struct broker *b, unsigned wait_ms, void (*cb)(struct broker *b))
{
    int rc;
    struct replica *r = leader_replica(b, &rc);
    struct handoff *h = r ? calloc(1, sizeof *h) : NULL;
    if (!h) {
        cb(b);
        return;
    }
    h->b = b;
    h->cb = cb;
    uv_timer_init(b->loop, &h->timer);
    h->timer.data = h;
    h->timer_open = true;
    h->transfer_pending = true;
    rc = replica_transfer(r, 0, handoff_transfer_cb, h);
    if (rc) {
        h->transfer_pending = false;
        char how[96];
        snprintf(how, sizeof how, "no transfer: %s", tern_strerror(rc));
        handoff_finish(h, how);
        return;
    }
    LOGI("broker", "shutdown: handing leadership to the most up-to-date follower (at most %u ms)",
         wait_ms);
    uv_timer_start(&h->timer, handoff_timer_cb, wait_ms, 0);
}
