/* A standalone tern-broker process for integration tests that talk to the
 * broker directly: no name server, 127.0.0.1, data under <dir>/data, log in
 * <dir>/broker.log, diskMinFreeBytes=0 so a nearly full test disk does not
 * refuse sends. */
#ifndef TERN_TBROKER_H
#define TERN_TBROKER_H

#include "tests/lib/proc.h"

/* Start p as that broker on port with extra "key=value" settings (a
 * NULL-terminated list, or NULL); after a first start, start it again with
 * the same arguments. Does not wait for the port. */
void tbroker_spawn(struct proc *p, const char *dir, int port, const char *const *extra);
/* Wait up to 10 s for the broker's port; fails the test (log tail on stderr)
 * if it does not accept connections. */
void tbroker_wait(struct proc *p, int port);
/* SIGTERM (SIGKILL after 10 s) and assert that it exited with status 0. */
void tbroker_stop_clean(struct proc *p);

#endif
