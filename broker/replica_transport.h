/* A raft_uv_transport that wraps libraft's stock TCP transport and sets
 * TCP_NODELAY on every stream: the stock one leaves Nagle on, which costs
 * 10-40 ms per round trip with delayed ACKs (RAFT-NOTES trap b). */
#ifndef TERN_REPLICA_TRANSPORT_H
#define TERN_REPLICA_TRANSPORT_H

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

struct replica_transport {
    struct raft_uv_transport outer; /* what raft_uv_init is given */
    struct raft_uv_transport inner; /* stock raft_uv_tcp */
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    unsigned nodelay_fail; /* streams where setting TCP_NODELAY failed */
};

/* Initialise on loop. Returns 0 or a RAFT_* code (message in t->outer.errmsg).
 * Pass &t->outer to raft_uv_init. */
int replica_transport_init(struct replica_transport *t, uv_loop_t *loop);

/* Release memory once raft_uv has closed the transport (after raft's close
 * callback, or after a failed raft_init). */
void replica_transport_free(struct replica_transport *t);

#endif
