/* Internals shared by txn.c (END_TRANSACTION, check-back) and txn_fsm.c
 * (command application). */
#ifndef TERN_TXN_INT_H
#define TERN_TXN_INT_H

#include <uv.h>

#include "broker/store/partlog.h"
#include "broker/txn_table.h"
#include "rpc/rpc.h"
#include "src/buf.h"

struct broker;

/* A decision or check in flight (pooled: no allocation per transaction). */
struct txn_op {
    struct txn *x;
    uint64_t offset;
    bool has_reply;
    struct rpc_reply reply;
    /* END_TRANSACTION being decided (kept while it waits for its half
     * message to be written). */
    int64_t commit_off;
    uint8_t decision;
    int tries;
    char group[256];
    struct txn_op *next;
};

struct txn {
    struct broker *b;
    struct txn_table t;
    uv_timer_t timer;
    uv_timer_t defer_timer;
    bool timer_open;
    int handles_open;
    struct txn_op *deferred; /* ENDs waiting for their half message's write */
    struct buf file;  /* table file image */
    struct buf cmd;   /* commands built by the handler and the checker */
    struct buf rec;   /* one re-encoded record */
    struct buf props; /* its properties */
    struct buf props2; /* properties being rewritten */
    struct partlog_readbuf rb;
    struct partlog_msg msg;
    struct txn_op *spare;
    uint64_t *due;    /* offsets due for a check in one tick */
    size_t due_cap;
    uint32_t rr;
    uint64_t decided[4];  /* per TXN_DECIDE_* (applied on this member) */
    uint64_t checks_sent; /* CHECK_TRANSACTION_STATE sent by this member */
    char dir[1100];
};

#endif
