/* tern-broker: stores topic partitions as segmented logs and serves RocketMQ clients. */
#include <signal.h>
#include <stdio.h>
#include <uv.h>

#include "broker/broker.h"
#include "src/errmsg.h"
#include "src/log.h"

static const char usage[] = "usage: tern-broker -c FILE [--set key=value]... | --print-config\n"
                            "  -c FILE          configuration file (key = value lines; see --print-config)\n"
                            "  --set key=value  override one configuration key (applied in order)\n"
                            "  --print-config   print every key with its default and meaning\n";

static struct broker broker;
static uv_signal_t sigterm, sigint;

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    LOGI("broker", "signal %d: shutting down", signum);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    broker_close(&broker, NULL);
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
