/* tern-broker: stores topic partitions as segmented logs and serves RocketMQ clients. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "broker/broker.h"
#include "broker/grouprepl.h"
#include "src/errmsg.h"
#include "src/log.h"

static const char usage[] = "usage: tern-broker -c FILE [--set key=value]... | --print-config\n"
                            "  -c FILE          configuration file (key = value lines; see --print-config)\n"
                            "  --set key=value  override one configuration key (applied in order)\n"
                            "  --print-config   print every key with its default and meaning\n";

static struct broker broker;
static uv_signal_t sigterm, sigint;

/* Bound on a SIGTERM'd leader's wait for a successor (then it stops anyway). */
#define HANDOFF_MS 3000

static bool stopping;

static void handoff_done(struct broker *b)
{
    static bool done;
    if (done) /* the hand-off ending after a second signal stopped us */
        return;
    done = true;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    broker_close(b, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    if (stopping) {
        /* A second signal during the hand-off: stop now. */
        LOGI("broker", "signal %d again: shutting down now", signum);
        handoff_done(&broker);
        return;
    }
    stopping = true;
    LOGI("broker", "signal %d: shutting down", signum);
    /* A leader first hands leadership to its most up-to-date follower so the
     * group keeps taking writes without waiting for an election timeout. */
    grouprepl_handoff(&broker, HANDOFF_MS, handoff_done);
}

int main(int argc, char **argv)
{
    struct brokerconf conf;
    char err[ERRMSG_SIZE];
    if (brokerconf_defaults(&conf, err)) {
        fprintf(stderr, "tern-broker: %s\n", err);
        return 1;
    }
    size_t nkeys;
    const struct config_key *keys = brokerconf_keys(&nkeys);
    int rv = config_parse_args(keys, nkeys, &conf, argc, argv, NULL, 0, "tern-broker", usage, brokerconf_print);
    if (rv)
        return rv == 1 ? 0 : 2;
    log_set_level(log_level_from_name(conf.log_level));
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    if (broker_start(&broker, loop, &conf) != 0) {
        fprintf(stderr, "tern-broker: %s\n", broker.errmsg);
        /* Release what did start, then exit non-zero. */
        broker_close(&broker, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return 1;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    LOGI("broker", "stopped");
    return 0;
}
