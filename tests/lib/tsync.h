/* libtern set-up shared by the client integration tests (test_client_*.c):
 * client options aimed at a test cluster's name server, a blocking tern_sync
 * handle, the wait for the broker's registration, and running a loop until
 * a condition holds. Link with tern_client. */
#ifndef TERN_TSYNC_H
#define TERN_TSYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "tern/tern.h"

/* Client options with namesrv_addr = ns_addr and client_ip 127.0.0.1. */
struct tern_client_opts tsync_opts(const char *ns_addr);
/* A tern_sync handle on ns_addr (fails the test if it cannot be opened). */
struct tern_sync *tsync_open(const char *ns_addr);
/* Poll the cluster info for up to 15 s until a broker is registered (fails
 * the test otherwise). */
void tsync_wait_broker(const char *ns_addr);
/* Run loop (UV_RUN_ONCE at a time) until pred(arg) holds; false if it still
 * does not after ms milliseconds. */
bool tsync_loop_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int64_t ms);

#endif
