/* tern-broker: stores topic partitions as segmented logs and serves RocketMQ clients. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "broker/broker.h"
#include "src/errmsg.h"
#include "src/log.h"

static struct broker broker;
static uv_signal_t sigterm, sigint;
static int exit_code;

static void usage(FILE *out)
{
    fprintf(out, "usage: tern-broker -c FILE [--set key=value]... | --print-config\n"
                 "  -c FILE          configuration file (key = value lines; see --print-config)\n"
                 "  --set key=value  override one configuration key (after -c)\n"
                 "  --print-config   print every key with its default and meaning\n");
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    LOGI("broker", "signal %d: shutting down", signum);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    broker_close(&broker, NULL);
}

static enum log_level parse_level(const char *s)
{
    if (strcmp(s, "debug") == 0)
        return LOG_DEBUG;
    if (strcmp(s, "warn") == 0)
        return LOG_WARN;
    if (strcmp(s, "error") == 0)
        return LOG_ERROR;
    return LOG_INFO;
}

int main(int argc, char **argv)
{
    struct brokerconf conf;
    char err[ERRMSG_SIZE];
    if (brokerconf_defaults(&conf, err)) {
        fprintf(stderr, "tern-broker: %s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rv = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--print-config") == 0) {
            brokerconf_print(stdout);
            return 0;
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            rv = brokerconf_load(&conf, argv[++i], err);
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            char kv[2048];
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "tern-broker: --set wants key=value\n");
                return 2;
            }
            *eq = '\0';
            rv = brokerconf_set(&conf, kv, eq + 1, err);
        } else {
            usage(stderr);
            return 2;
        }
        if (rv) {
            fprintf(stderr, "tern-broker: %s\n", err);
            return 2;
        }
    }
    log_set_level(parse_level(conf.log_level));
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    if (broker_start(&broker, loop, &conf) != 0) {
        fprintf(stderr, "tern-broker: %s\n", broker.errmsg);
        /* Release what did start, then exit non-zero. */
        exit_code = 1;
        broker_close(&broker, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        return exit_code;
    }
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    LOGI("broker", "stopped");
    return exit_code;
}
