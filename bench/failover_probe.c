/* tern-failover-probe: one failover measurement for bench/failover.sh.
 *
 * Usage: tern-failover-probe --namesrv ADDR --topic T --kill PID [--warm-ms MS]
 *
 * Sends one message at a time through libtern (blocking layer, default
 * producer options: what an application gets) for --warm-ms (default 500),
 * then sends SIGKILL to PID (the group's leader) right after an
 * acknowledgement, and keeps sending. Prints one line:
 *
 *   failover_ms=F first_ok_attempts=A warm_sends=W kill_at_ms=K
 *
 * F = milliseconds (CLOCK_MONOTONIC) from the kill to the first send
 * acknowledged after it; that send retried internally (libtern follows the
 * new leader for up to 10 s), so usually F is the duration of one
 * tern_sync_send call. K is the wall-clock time of the kill (ms since the
 * epoch) to line up with the brokers' log stamps. Exit 1 if no send succeeded within 30 s. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "tern/tern.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
    const char *ns = NULL, *topic = NULL;
    long pid = 0, warm_ms = 500;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--namesrv") == 0)
            ns = argv[i + 1];
        else if (strcmp(argv[i], "--topic") == 0)
            topic = argv[i + 1];
        else if (strcmp(argv[i], "--kill") == 0)
            pid = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--warm-ms") == 0)
            warm_ms = strtol(argv[i + 1], NULL, 10);
    }
    if (!ns || !topic || pid <= 0) {
        fprintf(stderr, "usage: tern-failover-probe --namesrv ADDR --topic T --kill PID [--warm-ms MS]\n");
        return 64;
    }
    struct tern_client_opts co;
    tern_client_opts_init(&co);
    co.namesrv_addr = ns;
    char err[TERN_ERRMSG_SIZE];
    struct tern_sync *s;
    if (tern_sync_open(&co, &s, err) != 0) {
        fprintf(stderr, "tern-failover-probe: open: %s\n", err);
        return 1;
    }
    struct tern_producer_opts po;
    tern_producer_opts_init(&po);
    po.group = "failover-probe";
    struct tern_producer *p;
    if (tern_sync_producer(s, &po, &p) != 0) {
        fprintf(stderr, "tern-failover-probe: producer: %s\n", tern_sync_errmsg(s));
        tern_sync_close(s);
        return 1;
    }
    char body[64];
    struct tern_send_msg m = {.topic = topic, .body = body};
    struct tern_send_result res;
    long warm = 0;
    int64_t start = mono_us();
    while (mono_us() - start < warm_ms * 1000) {
        m.body_len = (size_t)snprintf(body, sizeof body, "warm-%ld", warm);
        if (tern_sync_send(s, p, &m, &res) != 0) {
            fprintf(stderr, "tern-failover-probe: send before the kill: %s\n", tern_sync_errmsg(s));
            tern_sync_close(s);
            return 1;
        }
        warm++;
    }
    if (kill((pid_t)pid, SIGKILL) != 0) {
        perror("tern-failover-probe: kill");
        tern_sync_close(s);
        return 1;
    }
    int64_t t0 = mono_us();
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t kill_at_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    int rc = 1;
    for (long n = 0; mono_us() - t0 < 30000000; n++) {
        m.body_len = (size_t)snprintf(body, sizeof body, "after-%ld", n);
        if (tern_sync_send(s, p, &m, &res) == 0) {
            printf("failover_ms=%.1f first_ok_attempts=%d warm_sends=%ld kill_at_ms=%" PRId64 "\n",
                   (double)(mono_us() - t0) / 1000.0, res.attempts, warm, kill_at_ms);
            rc = 0;
            break;
        }
    }
    if (rc != 0)
        fprintf(stderr, "tern-failover-probe: no send succeeded within 30 s: %s\n", tern_sync_errmsg(s));
    tern_sync_close(s);
    return rc;
}
