/* One libraft group: start-up, proposal batching, leadership tracking, close.
 *
 * Happy path: replica_propose copies a command into the open batch; the
 * prepare/check handles (run before and after every poll) cut the batch into
 * entries of at most max_entry_bytes, encode them (LZ4 when it pays, padded
 * to 8) and raft_apply each one; raft commits it, replica_sm applies it on
 * every member, and on the leader apply_done_cb hands each proposer its
 * command's result.
 * Leadership: 0.15 has no state callback, so a 50 ms timer polls raft_state;
 * a new leader appends a barrier and only reports "ready" (and accepts
 * proposals) once the barrier applied, so entries of earlier terms are
 * committed and applied first (0.15 appends no no-op on election).
 * Failure modes: leadership lost -> pending and in-flight proposals fail
 * with TERN_E_NOTLEADER (outcome unknown); leader disk error -> TERN_E_IO /
 * E_NOSPACE; raft UNAVAILABLE is reported through on_state (the owner closes
 * and reopens); close -> TERN_E_CANCELED. raft_close is never called from a
 * raft callback (RAFT-NOTES trap d): replica_close only arms a zero timer. */
#include "broker/replica.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <raft.h>
#include <raft/uv.h>

#include "broker/replica_entry.h"
#include "broker/replica_sm.h"
#include "broker/replica_transport.h"
#include "src/errmsg.h"
#include "src/log.h"
#include "tern/error.h"

_Static_assert(REPLICA_STANDBY == RAFT_STANDBY && REPLICA_VOTER == RAFT_VOTER &&
                   REPLICA_SPARE == RAFT_SPARE,
               "replica.h role values are libraft's");

#define POLL_MS 50
#define CLOSE_DRAIN_MS 2000
#define CATCH_UP_WAIT_MS 30000
#define TMPFS_MAGIC_ 0x01021994

/* A proposal waiting for its entry. */
struct waiter {
    replica_propose_cb cb;
    void *arg;
    uint32_t len; /* command bytes, for splitting and accounting */
};

/* One raft entry in flight. */
struct inflight {
    struct raft_apply req;
    struct replica *r;
    struct inflight *prev, *next;
    size_t bytes;
    uint32_t n;
    struct waiter w[];
};

struct op {
    struct raft_change change;
    struct raft_transfer transfer;
    struct replica *r;
    replica_op_cb cb;
    void *arg;
    uint64_t id;
    int role;
    bool awaiting_catch_up; /* STANDBY, waiting to be promoted to VOTER */
    uint64_t deadline;      /* loop time to stop waiting and let raft's
                             * own catch-up rounds decide */
};

struct replica {
    uv_loop_t *loop;
    struct raft raft;
    struct raft_io io;
    struct replica_transport tr;
    struct replica_sm sm;
    struct replica_opts opts;
    char *address;
    char *dir;

    uv_timer_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_timer_t close_timer;
    int handles_open;

    /* Open batch: framed commands and their waiters. */
    struct buf batch;
    struct waiter *waiters;
    uint32_t n_waiters, cap_waiters;
    uint8_t *enc; /* scratch: raft_malloc'd per entry */

    struct inflight *inflight; /* doubly linked, oldest first not needed */
    size_t bytes_inflight;     /* open batch + submitted entries */

    struct replica_state st;
    uint64_t barrier_term; /* term in which the barrier was issued */
    bool barrier_pending;
    struct raft_barrier barrier;
    struct op *op; /* the one membership/transfer op in flight */

    uint64_t entries_proposed, commands_proposed;

    bool raft_inited;
    bool closing;
    uint64_t close_deadline; /* stop waiting for disk writes (loop time) */
    replica_close_cb close_cb;
    void *close_arg;
};

void replica_opts_init(struct replica_opts *o)
{
    memset(o, 0, sizeof *o);
    o->compress = true;
}

static int map_raft(int rv)
{
    switch (rv) {
    case 0: return 0;
    case RAFT_NOMEM: return TERN_E_NOMEM;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST: return TERN_E_NOTLEADER;
    case RAFT_NOSPACE: return TERN_E_NOSPACE;
    case RAFT_IOERR: return TERN_E_IO;
    case RAFT_CORRUPT: return TERN_E_CORRUPT;
    case RAFT_CANCELED:
    case RAFT_SHUTDOWN: return TERN_E_CANCELED;
    case RAFT_CANTCHANGE: return TERN_E_BUSY;
    case RAFT_BADID:
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_BADROLE:
    case RAFT_INVALID: return TERN_E_INVAL;
    case RAFT_NOCONNECTION: return TERN_E_CONNECT;
    case RAFT_TOOBIG: return TERN_E_TOOBIG;
    case RAFT_BUSY: return TERN_E_BUSY;
    default: return TERN_E_IO;
    }
}

/* ---- proposals ---------------------------------------------------------- */

static void fail_waiters(struct waiter *w, uint32_t n, int status)
{
    for (uint32_t i = 0; i < n; i++)
        w[i].cb(w[i].arg, status, NULL);
}

/* Fail the open batch (not yet handed to raft). */
static void fail_batch(struct replica *r, int status)
{
    uint32_t n = r->n_waiters;
    if (n == 0)
        return;
    /* Detach first: a callback may propose again (and fail: not ready). */
    struct waiter *w = r->waiters;
    r->waiters = NULL;
    r->n_waiters = r->cap_waiters = 0;
    r->bytes_inflight -= r->batch.len;
    buf_reset(&r->batch);
    fail_waiters(w, n, status);
    free(w);
}

static void apply_done_cb(struct raft_apply *req, int status, void *result)
{
    struct inflight *f = req->data;
    struct replica *r = f->r;
    if (f->prev)
        f->prev->next = f->next;
    else
        r->inflight = f->next;
    if (f->next)
        f->next->prev = f->prev;
    r->bytes_inflight -= f->bytes;

    if (status == 0) {
        uint32_t n = 0;
        const struct replica_result *res = replica_sm_results(&r->sm, req->index, &n);
        if (res == NULL || n != f->n) {
            /* Malformed on apply (cannot happen for entries we encoded). */
            fail_waiters(f->w, f->n, TERN_E_CORRUPT);
        } else {
            for (uint32_t i = 0; i < f->n; i++)
                f->w[i].cb(f->w[i].arg, 0, &res[i]);
        }
    } else {
        fail_waiters(f->w, f->n, r->closing ? TERN_E_CANCELED : map_raft(status));
    }
    (void)result;
    free(f);
}

/* Encode the n framed commands in body as one entry and raft_apply it; w
 * are their proposers. */
static int submit_entry(struct replica *r, const uint8_t *body, size_t body_len,
                        const struct waiter *w, uint32_t n)
{
    struct inflight *f = malloc(sizeof *f + n * sizeof f->w[0]);
    size_t cap = replica_entry_bound(body_len);
    uint8_t *enc = raft_malloc(cap);
    size_t len = 0;
    int rc = TERN_E_NOMEM;
    if (!f || !enc)
        goto err;
    rc = replica_entry_encode(body, body_len, n, r->opts.compress, enc, cap, &len);
    if (rc != 0)
        goto err;
    memcpy(f->w, w, n * sizeof f->w[0]);
    f->n = n;
    f->r = r;
    f->bytes = body_len;
    f->req.data = f;
    struct raft_buffer rb = {.base = enc, .len = len};
    int rv = raft_apply(&r->raft, &f->req, &rb, 1, apply_done_cb);
    if (rv != 0) {
        rc = map_raft(rv);
        goto err;
    }
    f->prev = NULL;
    f->next = r->inflight;
    if (r->inflight)
        r->inflight->prev = f;
    r->inflight = f;
    r->entries_proposed++;
    r->commands_proposed += n;
    return 0;
err:
    raft_free(enc);
    free(f);
    return rc;
}

/* Cut the open batch into entries and hand them to raft. */
static void flush(struct replica *r)
{
    if (r->n_waiters == 0)
        return;
    if (raft_state(&r->raft) != RAFT_LEADER) {
        fail_batch(r, TERN_E_NOTLEADER);
        return;
    }
    struct buf body = r->batch;
    struct waiter *w = r->waiters;
    uint32_t n = r->n_waiters;
    buf_init(&r->batch);
    r->waiters = NULL;
    r->n_waiters = r->cap_waiters = 0;

    size_t off = 0;
    uint32_t i = 0;
    while (i < n) {
        size_t start = off;
        uint32_t j = i;
        do {
            off += REPLICA_ENTRY_CMD_HDR + w[j].len;
            j++;
        } while (j < n && off - start + REPLICA_ENTRY_CMD_HDR + w[j].len <= r->opts.max_entry_bytes);
        int rc = submit_entry(r, body.data + start, off - start, w + i, j - i);
        if (rc != 0) {
            r->bytes_inflight -= off - start;
            fail_waiters(w + i, j - i, rc);
        }
        i = j;
    }
    /* Submitted entries' bytes now count through their inflight records;
     * the open-batch share was counted at propose time and moved with them. */
    free(w);
    buf_free(&body);
}

static void prepare_cb(uv_prepare_t *h)
{
    flush(h->data);
}

static void check_cb(uv_check_t *h)
{
    flush(h->data);
}

int replica_propose(struct replica *r, const uv_buf_t *iov, unsigned n, replica_propose_cb cb,
                    void *arg)
{
    if (r->closing)
        return TERN_E_CLOSED;
    if (!r->st.ready || raft_state(&r->raft) != RAFT_LEADER ||
        r->raft.current_term != r->barrier_term)
        return TERN_E_NOTLEADER;
    size_t len = 0;
    for (unsigned i = 0; i < n; i++)
        len += iov[i].len;
    if (len + REPLICA_ENTRY_CMD_HDR > r->opts.max_entry_bytes)
        return TERN_E_TOOBIG;
    if (r->bytes_inflight + len + REPLICA_ENTRY_CMD_HDR > r->opts.max_inflight_bytes)
        return TERN_E_BUSY;
    if (r->n_waiters == r->cap_waiters) {
        uint32_t cap = r->cap_waiters ? r->cap_waiters * 2 : 64;
        struct waiter *w = realloc(r->waiters, cap * sizeof *w);
        if (!w)
            return TERN_E_NOMEM;
        r->waiters = w;
        r->cap_waiters = cap;
    }
    uint8_t *p = buf_extend(&r->batch, REPLICA_ENTRY_CMD_HDR + len);
    if (!p) {
        r->batch.err = 0;
        return TERN_E_NOMEM;
    }
    p += replica_entry_put_cmd_hdr(p, (uint32_t)len);
    for (unsigned i = 0; i < n; i++) {
        memcpy(p, iov[i].base, iov[i].len);
        p += iov[i].len;
    }
    r->waiters[r->n_waiters++] = (struct waiter){.cb = cb, .arg = arg, .len = (uint32_t)len};
    r->bytes_inflight += REPLICA_ENTRY_CMD_HDR + len;
    return 0;
}

/* ---- leadership --------------------------------------------------------- */

static void notify(struct replica *r)
{
    if (r->opts.on_state)
        r->opts.on_state(r->opts.state_arg, &r->st);
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct replica *r = req->data;
    r->barrier_pending = false;
    if (r->closing)
        return;
    if (status != 0) {
        /* Still leader after e.g. a disk error: the next poll retries. */
        r->barrier_term = 0;
        return;
    }
    if (status == 0 && raft_state(&r->raft) == RAFT_LEADER &&
        r->raft.current_term == r->barrier_term) {
        r->st.ready = true;
        LOGI("replica", "%llu: leader ready in term %llu at index %llu",
             (unsigned long long)r->opts.id, (unsigned long long)r->barrier_term,
             (unsigned long long)req->index);
        notify(r);
    }
}

/* Raft's state as of now, without side effects. */
static void sample(struct replica *r, struct replica_state *now)
{
    memset(now, 0, sizeof *now);
    now->role = (enum replica_role)raft_state(&r->raft);
    now->term = r->raft.current_term;
    raft_id lid = 0;
    const char *laddr = NULL;
    raft_leader(&r->raft, &lid, &laddr);
    now->leader_id = lid;
    if (laddr)
        snprintf(now->leader_address, sizeof now->leader_address, "%s", laddr);
    now->ready = r->st.ready && !r->closing && now->role == REPLICA_LEADER &&
                 now->term == r->barrier_term;
}

/* Sample raft's state; report changes; issue the post-election barrier. */
static void observe(struct replica *r)
{
    if (r->closing)
        return;
    struct replica_state now;
    sample(r, &now);

    if (now.role != REPLICA_LEADER || now.term != r->barrier_term)
        fail_batch(r, TERN_E_NOTLEADER);
    if (now.role == REPLICA_LEADER && !now.ready && !r->barrier_pending &&
        r->barrier_term != now.term) {
        r->barrier.data = r;
        int rv = raft_barrier(&r->raft, &r->barrier, barrier_cb);
        if (rv == 0) {
            r->barrier_pending = true;
            r->barrier_term = now.term;
        } else {
            LOGW("replica", "%llu: barrier: %s", (unsigned long long)r->opts.id,
                 raft_strerror(rv));
        }
    }
    if (now.role == REPLICA_UNAVAILABLE && r->st.role != REPLICA_UNAVAILABLE)
        LOGE("replica", "%llu: raft unavailable: %s", (unsigned long long)r->opts.id,
             raft_errmsg(&r->raft));
    bool changed = now.role != r->st.role || now.term != r->st.term ||
                   now.leader_id != r->st.leader_id || now.ready != r->st.ready;
    r->st = now;
    if (changed)
        notify(r);
}

static void maybe_promote(struct replica *r);

static void poll_cb(uv_timer_t *h)
{
    observe(h->data);
    maybe_promote(h->data);
}

/* ---- status ------------------------------------------------------------- */

void replica_status(struct replica *r, struct replica_status *st)
{
    memset(st, 0, sizeof *st);
    sample(r, &st->state);
    st->commit_index = r->raft.commit_index;
    st->last_applied = raft_last_applied(&r->raft);
    st->last_index = raft_last_index(&r->raft);
    st->entries_proposed = r->entries_proposed;
    st->commands_proposed = r->commands_proposed;
    st->entries_applied = r->sm.entries_applied;
    st->malformed = r->sm.malformed;
    st->first_index = r->raft.log.offset + 1;
    st->snapshot_index = r->raft.log.snapshot.last_index;
    const struct raft_configuration *c = &r->raft.configuration;
    bool leader = raft_state(&r->raft) == RAFT_LEADER && r->raft.leader_state.progress;
    for (unsigned i = 0; i < c->n && i < REPLICA_MAX_MEMBERS; i++) {
        st->peers[i].id = c->servers[i].id;
        st->peers[i].role = c->servers[i].role;
        snprintf(st->peers[i].address, sizeof st->peers[i].address, "%s",
                 c->servers[i].address ? c->servers[i].address : "");
        if (leader)
            st->peers[i].match_index = c->servers[i].id == r->opts.id
                                           ? r->raft.last_stored
                                           : r->raft.leader_state.progress[i].match_index;
        st->n_peers++;
    }
}

/* ---- membership and transfer ------------------------------------------- */

static void op_done(struct replica *r, int status)
{
    struct op *op = r->op;
    r->op = NULL;
    if (r->closing && status != 0)
        status = TERN_E_CANCELED;
    op->cb(op->arg, status);
    free(op);
}

static void assign_cb(struct raft_change *req, int status)
{
    struct op *op = req->data;
    if (status != 0)
        LOGW("replica", "%llu: promoting %llu to voter: %s", (unsigned long long)op->r->opts.id,
             (unsigned long long)op->id, raft_strerror(status));
    op_done(op->r, map_raft(status));
}

/* Promote a caught-up STANDBY: raft_assign(VOTER) of a member whose match
 * index equals the leader's last index commits at once, skipping 0.15's
 * catch-up rounds (which give up after 10 rounds longer than an election
 * timeout, easily hit on a busy host). Called from the poll timer. */
static void maybe_promote(struct replica *r)
{
    struct op *op = r->op;
    if (!op || !op->awaiting_catch_up || r->closing)
        return;
    if (raft_state(&r->raft) != RAFT_LEADER) {
        op_done(r, TERN_E_NOTLEADER);
        return;
    }
    const struct raft_configuration *c = &r->raft.configuration;
    unsigned i;
    for (i = 0; i < c->n && c->servers[i].id != op->id; i++)
        ;
    if (i == c->n) {
        op_done(r, TERN_E_NOTFOUND);
        return;
    }
    bool caught_up = r->raft.leader_state.progress[i].match_index == raft_last_index(&r->raft);
    if (!caught_up && uv_now(r->loop) < op->deadline)
        return;
    op->awaiting_catch_up = false;
    LOGI("replica", "%llu: promoting %llu to voter (%s)", (unsigned long long)r->opts.id,
         (unsigned long long)op->id, caught_up ? "caught up" : "catch-up wait timed out");
    int rv = raft_assign(&r->raft, &op->change, op->id, RAFT_VOTER, assign_cb);
    if (rv != 0)
        op_done(r, map_raft(rv));
}

static void standby_cb(struct raft_change *req, int status)
{
    struct op *op = req->data;
    struct replica *r = op->r;
    if (status != 0 || op->role == RAFT_STANDBY || r->closing) {
        if (status != 0)
            LOGW("replica", "%llu: making %llu standby: %s", (unsigned long long)r->opts.id,
                 (unsigned long long)op->id, raft_strerror(status));
        op_done(r, map_raft(status));
        return;
    }
    op->awaiting_catch_up = true;
    op->deadline = uv_now(r->loop) + CATCH_UP_WAIT_MS;
}

static void add_cb(struct raft_change *req, int status)
{
    struct op *op = req->data;
    struct replica *r = op->r;
    if (status != 0 || op->role == RAFT_SPARE || r->closing) {
        if (status != 0)
            LOGW("replica", "%llu: adding %llu: %s", (unsigned long long)r->opts.id,
                 (unsigned long long)op->id, raft_strerror(status));
        op_done(r, map_raft(status));
        return;
    }
    /* SPARE -> STANDBY (replicates, does not vote) -> VOTER once caught up. */
    int rv = raft_assign(&r->raft, &op->change, op->id, RAFT_STANDBY, standby_cb);
    if (rv != 0)
        op_done(r, map_raft(rv));
}

static struct op *op_new(struct replica *r, replica_op_cb cb, void *arg, int *rc)
{
    *rc = 0;
    if (r->closing)
        *rc = TERN_E_CLOSED;
    else if (r->op)
        *rc = TERN_E_BUSY;
    else if (raft_state(&r->raft) != RAFT_LEADER)
        *rc = TERN_E_NOTLEADER;
    if (*rc)
        return NULL;
    struct op *op = calloc(1, sizeof *op);
    if (!op) {
        *rc = TERN_E_NOMEM;
        return NULL;
    }
    op->r = r;
    op->cb = cb;
    op->arg = arg;
    op->change.data = op;
    op->transfer.data = op;
    return op;
}

int replica_add(struct replica *r, uint64_t id, const char *address, int role, replica_op_cb cb,
                void *arg)
{
    int rc;
    if (role != RAFT_SPARE && role != RAFT_STANDBY && role != RAFT_VOTER)
        return TERN_E_INVAL;
    struct op *op = op_new(r, cb, arg, &rc);
    if (!op)
        return rc;
    op->id = id;
    op->role = role;
    int rv = raft_add(&r->raft, &op->change, id, address, add_cb);
    if (rv != 0) {
        free(op);
        return map_raft(rv);
    }
    r->op = op;
    return 0;
}

static void remove_cb(struct raft_change *req, int status)
{
    struct op *op = req->data;
    op_done(op->r, map_raft(status));
}

int replica_remove(struct replica *r, uint64_t id, replica_op_cb cb, void *arg)
{
    int rc;
    struct op *op = op_new(r, cb, arg, &rc);
    if (!op)
        return rc;
    int rv = raft_remove(&r->raft, &op->change, id, remove_cb);
    if (rv != 0) {
        free(op);
        return map_raft(rv);
    }
    r->op = op;
    return 0;
}

static void transfer_cb(struct raft_transfer *req)
{
    struct op *op = req->data;
    struct replica *r = op->r;
    raft_id lid = 0;
    const char *addr = NULL;
    raft_leader(&r->raft, &lid, &addr);
    /* The callback has no status: it fires when the target won or the
     * transfer timed out. Leadership moved iff someone else leads now. */
    bool moved = raft_state(&r->raft) != RAFT_LEADER && lid != 0 && lid != r->opts.id &&
                 (op->id == 0 || lid == op->id);
    op_done(r, moved ? 0 : TERN_E_TIMEOUT);
    /* Report the lost leadership now rather than at the next poll. */
    observe(r);
}

int replica_transfer(struct replica *r, uint64_t target_id, replica_op_cb cb, void *arg)
{
    int rc;
    struct op *op = op_new(r, cb, arg, &rc);
    if (!op)
        return rc;
    if (target_id == 0) {
        /* libraft 0.15 picks the first up-to-date voter, else any voter; we
         * want the one with the most of the log, so a follower that is down
         * or behind is never chosen over one that is current. */
        const struct raft_configuration *c = &r->raft.configuration;
        uint64_t best = 0;
        for (unsigned i = 0; i < c->n; i++) {
            if (c->servers[i].id == r->opts.id || c->servers[i].role != RAFT_VOTER)
                continue;
            uint64_t m = r->raft.leader_state.progress[i].match_index;
            if (target_id == 0 || m > best) {
                target_id = c->servers[i].id;
                best = m;
            }
        }
        if (target_id == 0) {
            free(op);
            return TERN_E_NOTFOUND;
        }
    }
    op->id = target_id;
    /* Proposals would fail with NOTLEADER during the transfer anyway. */
    fail_batch(r, TERN_E_NOTLEADER);
    int rv = raft_transfer(&r->raft, &op->transfer, target_id, transfer_cb);
    if (rv != 0) {
        free(op);
        return map_raft(rv);
    }
    r->op = op;
    return 0;
}

/* ---- start and close ---------------------------------------------------- */

static void free_replica(struct replica *r)
{
    replica_sm_close(&r->sm);
    buf_free(&r->batch);
    free(r->waiters);
    free(r->address);
    free(r->dir);
    free(r);
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct replica *r = h->data;
    if (--r->handles_open > 0)
        return;
    replica_close_cb cb = r->close_cb;
    void *arg = r->close_arg;
    free_replica(r);
    if (cb)
        cb(arg);
}

static void close_handles(struct replica *r)
{
    uv_close((uv_handle_t *)&r->poll, handle_closed_cb);
    uv_close((uv_handle_t *)&r->prepare, handle_closed_cb);
    uv_close((uv_handle_t *)&r->check, handle_closed_cb);
    uv_close((uv_handle_t *)&r->close_timer, handle_closed_cb);
}

static void raft_closed_cb(struct raft *raft)
{
    struct replica *r = raft->data;
    /* raft_uv and the transport closed before this fired; free them. */
    raft_uv_close(&r->io);
    replica_transport_free(&r->tr);
    /* Requests raft never answered cannot exist now, but be exact. */
    if (r->op)
        op_done(r, TERN_E_CANCELED);
    while (r->inflight) {
        struct inflight *f = r->inflight;
        r->inflight = f->next;
        fail_waiters(f->w, f->n, TERN_E_CANCELED);
        free(f);
    }
    close_handles(r);
}

static void close_timer_cb(uv_timer_t *h)
{
    struct replica *r = h->data;
    fail_batch(r, TERN_E_CANCELED);
    uv_timer_stop(&r->poll);
    uv_prepare_stop(&r->prepare);
    uv_check_stop(&r->check);
    /* libraft 0.15 bug: raft_close cancels pending leader disk writes and
     * each cancelled write truncates the in-memory log from its own index;
     * with two or more pending, the second truncates past the end
     * (removeSuffix assertion, memory corruption with NDEBUG). So let the
     * writes finish first: nothing new is proposed while closing. Followers'
     * writes are safe to cancel, hence the bound for a follower under load. */
    if (r->raft_inited && r->raft.last_stored < raft_last_index(&r->raft) &&
        uv_now(r->loop) < r->close_deadline) {
        uv_timer_start(&r->close_timer, close_timer_cb, 1, 0);
        return;
    }
    if (r->raft_inited) {
        raft_close(&r->raft, raft_closed_cb);
    } else {
        close_handles(r);
    }
}

void replica_close(struct replica *r, replica_close_cb cb, void *arg)
{
    if (r->closing)
        return;
    r->closing = true;
    r->close_cb = cb;
    r->close_arg = arg;
    r->st.ready = false;
    r->close_deadline = uv_now(r->loop) + CLOSE_DRAIN_MS;
    /* A fresh loop turn: we may be inside a raft callback (trap d). */
    uv_timer_start(&r->close_timer, close_timer_cb, 0, 0);
}

static int ensure_dir(const char *dir, char *errmsg)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        errmsg_printf(errmsg, "replica dir %s: mkdir: %s", dir, strerror(errno));
        return TERN_E_IO;
    }
    struct statfs sfs;
    if (statfs(dir, &sfs) != 0) {
        errmsg_printf(errmsg, "replica dir %s: statfs: %s", dir, strerror(errno));
        return TERN_E_IO;
    }
    /* raft_uv refuses file systems without O_DIRECT other than tmpfs/ZFS
     * (its own probe at raft_init reports which); tmpfs is not durable. */
    if ((unsigned long)sfs.f_type == TMPFS_MAGIC_)
        LOGW("replica", "%s is on tmpfs: the replicated log is not durable", dir);
    return 0;
}

int replica_start(uv_loop_t *loop, const struct replica_opts *opts, const struct replica_fsm *fsm,
                  void *arg, struct replica **out, char *errmsg)
{
    int rv, rc;
    *out = NULL;
    if (!opts->address || !opts->dir || opts->id == 0 || !fsm->apply || !fsm->snapshot ||
        !fsm->durable_index || !fsm->restore) {
        errmsg_printf(errmsg, "replica: id, address, dir and every fsm callback are required");
        return TERN_E_INVAL;
    }
    rc = ensure_dir(opts->dir, errmsg);
    if (rc)
        return rc;
    /* raft_uv writes to peer sockets with plain write(): a peer that just
     * closed would raise SIGPIPE and kill the process. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    struct replica *r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    r->loop = loop;
    r->opts = *opts;
    r->opts.voters = NULL;
    r->opts.n_voters = 0;
    r->address = strdup(opts->address);
    r->dir = strdup(opts->dir);
    if (!r->address || !r->dir) {
        free_replica(r);
        goto nomem;
    }
    r->opts.address = r->address;
    r->opts.dir = r->dir;
    if (!r->opts.election_timeout_ms)
        r->opts.election_timeout_ms = 1000;
    if (!r->opts.heartbeat_ms)
        r->opts.heartbeat_ms = 100;
    if (!r->opts.snapshot_budget)
        r->opts.snapshot_budget = 64u << 20;
    if (!r->opts.segment_size)
        r->opts.segment_size = 64u << 20;
    if (!r->opts.max_entry_bytes)
        r->opts.max_entry_bytes = 1u << 20;
    if (!r->opts.max_inflight_bytes)
        r->opts.max_inflight_bytes = 64u << 20;
    buf_init(&r->batch);
    replica_sm_init(&r->sm, fsm, arg, r->opts.snapshot_budget);

    uv_timer_init(loop, &r->poll);
    uv_prepare_init(loop, &r->prepare);
    uv_check_init(loop, &r->check);
    uv_timer_init(loop, &r->close_timer);
    r->poll.data = r->prepare.data = r->check.data = r->close_timer.data = r;
    r->handles_open = 4;

    rv = replica_transport_init(&r->tr, loop);
    if (rv != 0) {
        errmsg_printf(errmsg, "replica %s: transport: %s", r->dir, r->tr.outer.errmsg);
        rc = map_raft(rv);
        goto err_after_handles;
    }
    rv = raft_uv_init(&r->io, loop, r->dir, &r->tr.outer);
    if (rv != 0) {
        errmsg_printf(errmsg, "replica %s: raft_uv_init: %s", r->dir, r->io.errmsg);
        replica_transport_free(&r->tr);
        rc = map_raft(rv);
        goto err_after_handles;
    }
    rv = raft_init(&r->raft, &r->io, &r->sm.raft_fsm, opts->id, r->address);
    if (rv != 0) {
        /* Includes raft_uv's file-system probe ("unsupported file system"). */
        errmsg_printf(errmsg, "replica %s: raft_init: %s", r->dir,
                      rv < 0 ? "io/fsm version mismatch" : raft_errmsg(&r->raft));
        raft_uv_close(&r->io);
        replica_transport_free(&r->tr);
        rc = rv < 0 ? TERN_E_INVAL : map_raft(rv);
        goto err_after_handles;
    }
    r->raft_inited = true;
    r->raft.data = r;
    replica_sm_bind(&r->sm, &r->raft);
    raft_uv_set_segment_size(&r->io, (size_t)r->opts.segment_size);
    /* Fail loudly on a bad segment instead of renaming it corrupt-* and
     * silently dropping committed entries (trap a). */
    raft_uv_set_auto_recovery(&r->io, false);
    raft_set_election_timeout(&r->raft, r->opts.election_timeout_ms);
    raft_set_heartbeat_timeout(&r->raft, r->opts.heartbeat_ms);
    raft_set_pre_vote(&r->raft, true);

    bool listed = false;
    for (unsigned i = 0; i < opts->n_voters; i++)
        listed = listed || opts->voters[i].id == opts->id;
    if (opts->n_voters > 0 && !listed)
        LOGI("replica", "%llu: not in the initial configuration: joining, waiting to be added",
             (unsigned long long)opts->id);
    if (opts->n_voters > 0 && listed) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        rv = 0;
        for (unsigned i = 0; i < opts->n_voters && rv == 0; i++)
            rv = raft_configuration_add(&conf, opts->voters[i].id, opts->voters[i].address,
                                        RAFT_VOTER);
        if (rv == 0)
            rv = raft_bootstrap(&r->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
            errmsg_printf(errmsg, "replica %s: bootstrap: %s", r->dir, raft_errmsg(&r->raft));
            rc = map_raft(rv);
            goto err_after_raft;
        }
    }
    rv = raft_start(&r->raft);
    if (rv != 0) {
        errmsg_printf(errmsg, "replica %s: start: %s", r->dir, raft_errmsg(&r->raft));
        rc = map_raft(rv);
        goto err_after_raft;
    }
    uv_timer_start(&r->poll, poll_cb, POLL_MS, POLL_MS);
    uv_prepare_start(&r->prepare, prepare_cb);
    uv_check_start(&r->check, check_cb);
    /* Only raft's own handles keep the loop alive. */
    uv_unref((uv_handle_t *)&r->prepare);
    uv_unref((uv_handle_t *)&r->check);
    uv_unref((uv_handle_t *)&r->poll);
    LOGI("replica", "%llu: started at %s in %s (last index %llu)", (unsigned long long)opts->id,
         r->address, r->dir, (unsigned long long)raft_last_index(&r->raft));
    observe(r);
    *out = r;
    return 0;

err_after_raft:
    /* raft_close is asynchronous: the replica finishes closing on the loop. */
    r->closing = true;
    r->close_deadline = 0;
    uv_timer_start(&r->close_timer, close_timer_cb, 0, 0);
    return rc;
err_after_handles:
    r->closing = true;
    close_handles(r);
    return rc;
nomem:
    errmsg_printf(errmsg, "replica: out of memory");
    return TERN_E_NOMEM;
}
