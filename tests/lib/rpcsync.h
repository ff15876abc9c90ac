/* Blocking remoting calls for tests: a private loop and hub, one connection,
 * requests that run the loop until their response arrives. */
#ifndef TERN_RPCSYNC_H
#define TERN_RPCSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/remoting.h"
#include "rpc/rpc.h"
#include "src/buf.h"

struct rpcsync {
    uv_loop_t loop;
    struct rpc_hub hub;
    struct rpc_conn *conn;
    bool closed;
    /* Last response: a copy of its frame, decoded into resp. */
    struct buf frame;
    struct remoting_cmd resp;
    /* Server-initiated requests seen (code of the last one, count). */
    int pushed;
    int last_push_code;
};

/* Connect to addr ("host:port"); fails the test on error. */
void rpcsync_open(struct rpcsync *s, const char *addr);
void rpcsync_close(struct rpcsync *s);
/* Send req with body and wait; returns 0 with s->resp filled, or the error
 * (TERN_E_TIMEOUT, TERN_E_CLOSED). req's serialize form is kept. */
int rpcsync_call(struct rpcsync *s, struct remoting_cmd *req, const void *body, size_t n, int timeout_ms);
/* Run the loop for up to ms milliseconds (to receive pushes or closes). */
void rpcsync_run_for(struct rpcsync *s, int ms);

#endif
