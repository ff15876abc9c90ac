#include "tests/lib/tbroker.h"

#include <stdio.h>

#include "tests/lib/testlib.h"

void tbroker_spawn(struct proc *p, const char *dir, int port, const char *const *extra)
{
    if (p->argv[0]) {
        proc_restart(p);
        return;
    }
    char bin[512], log[600], set_port[64], set_dir[600];
    snprintf(log, sizeof log, "%s/broker.log", dir);
    snprintf(set_port, sizeof set_port, "listenPort=%d", port);
    snprintf(set_dir, sizeof set_dir, "storePathRootDir=%s/data", dir);
    const char *argv[PROC_MAX_ARGS + 1] = {proc_bin("tern-broker", bin, sizeof bin), "--set", set_port, "--set",
                                           set_dir, "--set", "namesrvAddr=", "--set", "brokerIP1=127.0.0.1"};
    int n = 9;
    for (size_t i = 0; extra && extra[i]; i++) {
        assert_true(n + 2 <= PROC_MAX_ARGS - 2);
        argv[n++] = "--set";
        argv[n++] = extra[i];
    }
    argv[n++] = "--set";
    argv[n++] = "diskMinFreeBytes=0";
    argv[n] = NULL;
    proc_start(p, argv, log);
}

void tbroker_wait(struct proc *p, int port)
{
    if (!proc_wait_port(port, 10000)) {
        proc_dump_log(p, 50);
        fail_msg("broker did not start");
    }
}

void tbroker_stop_clean(struct proc *p)
{
    proc_stop(p, 10000);
    assert_true(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
}
