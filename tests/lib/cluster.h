/* A name server and one broker as real processes for integration tests: free
 * loopback ports, a fresh temp dir, logs beside the data. */
#ifndef TERN_TESTCLUSTER_H
#define TERN_TESTCLUSTER_H

#include "tests/lib/proc.h"

struct testcluster {
    struct proc ns;
    struct proc broker;
    char dir[512];
    char ns_addr[64];
    char broker_addr[64];
    int broker_port;
};

/* Start both (name: temp dir prefix); waits until each accepts connections.
 * The broker registers with the name server, listens on 127.0.0.1 and runs
 * with diskMinFreeBytes=0 so a nearly full test disk does not refuse sends. */
void testcluster_start(struct testcluster *tc, const char *name);
/* Stop both (SIGTERM, then SIGKILL) and remove the temp dir. */
void testcluster_stop(struct testcluster *tc);

#endif
