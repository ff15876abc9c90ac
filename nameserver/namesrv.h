/* The name server: a remoting server over the route table (§4.15–§4.18).
 * Stateless by design: several run side by side and brokers register with
 * each; nothing is persisted but the KV config, which lives in memory too. */
#ifndef TERN_NAMESRV_H
#define TERN_NAMESRV_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "src/config.h"

#include "nameserver/routetable.h"
#include "rpc/rpc.h"

struct namesrv_conf {
    char listen_host[64];
    int64_t port;
    int64_t scan_interval_ms;
    uint64_t max_frame;
    char log_level[16];
    int64_t idle_timeout_ms;  /* connectionIdleTimeout */
    int64_t partial_frame_ms; /* partialFrameTimeout */
};

struct namesrv {
    uv_loop_t *loop;
    struct namesrv_conf conf;
    struct rpc_hub hub;
    struct routetable rt;
    uv_timer_t scan;
    struct remoting_cmd resp;
    struct buf body;  /* response bodies */
    struct buf arena; /* decoded request bodies */
    bool closing;
    void (*on_closed)(struct namesrv *ns);
    int closes_pending;
    char errmsg[256];
};

int namesrv_conf_defaults(struct namesrv_conf *c, char *errmsg);
int namesrv_conf_load(struct namesrv_conf *c, const char *path, char *errmsg);
int namesrv_conf_set(struct namesrv_conf *c, const char *key, const char *value, char *errmsg);
void namesrv_conf_print(FILE *out);
/* The key table (for config_parse_args). */
const struct config_key *namesrv_conf_keys(size_t *n);

/* Start listening. Returns 0 or TERN_E_* with ns->errmsg. */
int namesrv_start(struct namesrv *ns, uv_loop_t *loop, const struct namesrv_conf *conf);
int namesrv_port(struct namesrv *ns);
/* Close everything; on_closed fires when the loop holds nothing of ours. */
void namesrv_close(struct namesrv *ns, void (*on_closed)(struct namesrv *ns));

#endif
