/* Start and stop a name server and a broker for integration tests. */
#include "tests/lib/cluster.h"

#include <stdio.h>
#include <string.h>

#include "tests/lib/testlib.h"

void testcluster_start(struct testcluster *tc, const char *name)
{
    memset(tc, 0, sizeof *tc);
    char bin[512], log[600], port_s[16];
    testlib_tmpdir(tc->dir, sizeof tc->dir, name);
    int nsport = proc_free_port(false);
    snprintf(port_s, sizeof port_s, "%d", nsport);
    snprintf(tc->ns_addr, sizeof tc->ns_addr, "127.0.0.1:%d", nsport);
    snprintf(log, sizeof log, "%s/namesrv.log", tc->dir);
    const char *nargv[] = {proc_bin("tern-namesrv", bin, sizeof bin), "--port", port_s, NULL};
    proc_start(&tc->ns, nargv, log);
    if (!proc_wait_port(nsport, 10000)) {
        proc_dump_log(&tc->ns, 50);
        fail_msg("name server did not start");
    }

    tc->broker_port = proc_free_port(true);
    snprintf(tc->broker_addr, sizeof tc->broker_addr, "127.0.0.1:%d", tc->broker_port);
    char set_port[64], set_dir[600], set_ns[96];
    snprintf(log, sizeof log, "%s/broker.log", tc->dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", tc->broker_port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", tc->dir);
    snprintf(set_ns, sizeof set_ns, "namesrvAddr=%s", tc->ns_addr);
    const char *bargv[] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set", set_dir,
                           "--set", set_ns, "--set", "brokerIP1=127.0.0.1", "--set", "diskMinFreeBytes=0",
                           NULL};
    proc_start(&tc->broker, bargv, log);
    if (!proc_wait_port(tc->broker_port, 10000)) {
        proc_dump_log(&tc->broker, 50);
        fail_msg("broker did not start");
    }
}

void testcluster_stop(struct testcluster *tc)
{
    proc_stop(&tc->broker, 10000);
    proc_stop(&tc->ns, 5000);
    proc_release(&tc->broker);
    proc_release(&tc->ns);
    testlib_rmtree(tc->dir);
}
