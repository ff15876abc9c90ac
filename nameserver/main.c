/* tern-namesrv: maps topics to broker groups; brokers register, clients look up routes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nameserver/namesrv.h"
#include "src/errmsg.h"
#include "src/log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tern-namesrv [-c FILE] [--port N] [--set key=value]... [--print-config]\n"
            "  -c FILE          configuration file (key = value lines)\n"
            "  --port N         listen port (default 9876; 0 picks one and prints it)\n"
            "  --set key=value  override one configuration key\n"
            "  --print-config   print every key with its default and meaning\n");
}

static struct namesrv ns;
static uv_signal_t sigterm, sigint;

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    LOGI("namesrv", "signal %d: shutting down", signum);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    namesrv_close(&ns, NULL);
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
    struct namesrv_conf conf;
    char err[ERRMSG_SIZE];
    if (namesrv_conf_defaults(&conf, err)) {
        fprintf(stderr, "tern-namesrv: %s\n", err);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rv = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--print-config") == 0) {
            namesrv_conf_print(stdout);
            return 0;
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            rv = namesrv_conf_load(&conf, argv[++i], err);
        } else if (strcmp(a, "--port") == 0 && i + 1 < argc) {
            rv = namesrv_conf_set(&conf, "listenPort", argv[++i], err);
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            char kv[1024];
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "tern-namesrv: --set wants key=value\n");
                return 2;
            }
            *eq = '\0';
            rv = namesrv_conf_set(&conf, kv, eq + 1, err);
        } else {
            usage(stderr);
            return 2;
        }
        if (rv) {
            fprintf(stderr, "tern-namesrv: %s\n", err);
            return 2;
        }
    }
    log_set_level(parse_level(conf.log_level));
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t *loop = uv_default_loop();
    if (namesrv_start(&ns, loop, &conf)) {
        fprintf(stderr, "tern-namesrv: %s\n", ns.errmsg);
        return 1;
    }
    LOGI("namesrv", "listening on %s:%d", conf.listen_host, namesrv_port(&ns));
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    LOGI("namesrv", "stopped");
    return 0;
}
