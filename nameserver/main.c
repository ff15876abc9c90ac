/* tern-namesrv: maps topics to broker groups; brokers register, clients look up routes. */
#include <signal.h>
#include <stdio.h>
#include <uv.h>

#include "nameserver/namesrv.h"
#include "src/errmsg.h"
#include "src/log.h"

static const char usage[] = "usage: tern-namesrv [-c FILE] [--port N] [--set key=value]... [--print-config]\n"
                            "  -c FILE          configuration file (key = value lines)\n"
                            "  --port N         listen port (default 9876; 0 picks one and logs it)\n"
                            "  --set key=value  override one configuration key (applied in order)\n"
                            "  --print-config   print every key with its default and meaning\n";

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

int main(int argc, char **argv)
{
    struct namesrv_conf conf;
    char err[ERRMSG_SIZE];
    if (namesrv_conf_defaults(&conf, err)) {
        fprintf(stderr, "tern-namesrv: %s\n", err);
        return 1;
    }
    static const struct config_alias aliases[] = {{"--port", "listenPort"}};
    size_t nkeys;
    const struct config_key *keys = namesrv_conf_keys(&nkeys);
    int rv = config_parse_args(keys, nkeys, &conf, argc, argv, aliases, 1, "tern-namesrv", usage,
                               namesrv_conf_print);
    if (rv)
        return rv == 1 ? 0 : 2;
    log_set_level(log_level_from_name(conf.log_level));
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
