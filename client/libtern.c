/* struct tern_client: options, client id, the rpc hub, the periodic tick that
 * drives route refresh, heartbeats and consumers, and the two-phase close.
 *
 * Close: (1) stop new work, consumers commit offsets and every group is
 * unregistered from every broker with acknowledged requests (bounded by the
 * request timeout); (2) the hub closes, failing whatever is still in flight
 * with TERN_E_CANCELED; (3) when the hub and the tick timer are closed,
 * everything is freed and the close callback fires. */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/libtern.h"
#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/heartbeat.h"
#include "src/clock.h"
#include "src/errmsg.h"
#include "src/log.h"

#define LIBTERN_MAX_HB_GROUPS 256

void tern_client_opts_init(struct tern_client_opts *o)
{
    memset(o, 0, sizeof *o);
    o->request_timeout_ms = 3000;
    o->route_refresh_ms = 30000;
    o->heartbeat_ms = 30000;
    o->header_form = TERN_HEADER_BINARY;
}

const char *tern_client_id(const struct tern_client *c)
{
    return c->id;
}

void tern_log_set_level(enum tern_log_level level)
{
    static const enum log_level map[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    if ((int)level >= 0 && (int)level < 4)
        log_set_level(map[level]);
}

const char *tern_client_errmsg(const struct tern_client *c)
{
    return c->errmsg;
}

int libtern_code_err(int code)
{
    if (code == CODES_RESP_QUERY_NOT_FOUND)
        return TERN_E_NOTFOUND;
    return code;
}

struct remoting_cmd *libtern_cmd(struct tern_client *c, int code)
{
    remoting_cmd_init_request(&c->cmd, code);
    c->cmd.serialize = c->serialize;
    return &c->cmd;
}

static void detect_ip(char *out, size_t cap)
{
    snprintf(out, cap, "127.0.0.1");
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) != 0)
        return;
    for (int i = 0; i < n; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET)
            continue;
        uv_ip4_name(&ifs[i].address.address4, out, cap);
        break;
    }
    uv_free_interface_addresses(ifs, n);
}

static int parse_ns(struct tern_client *c, const char *list, char *errmsg)
{
    const char *p = list;
    while (*p) {
        while (*p == ';' || *p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ';' && *e != ',' && !isspace((unsigned char)*e))
            e++;
        size_t n = (size_t)(e - p);
        if (n >= LIBTERN_ADDR_MAX || !memchr(p, ':', n)) {
            errmsg_printf(errmsg, "bad name server address '%.*s' (want host:port)", (int)n, p);
            return TERN_E_INVAL;
        }
        char **ns = realloc(c->ns, (c->nns + 1) * sizeof *ns);
        if (!ns)
            return TERN_E_NOMEM;
        c->ns = ns;
        c->ns[c->nns] = strndup(p, n);
        if (!c->ns[c->nns])
            return TERN_E_NOMEM;
        c->nns++;
        p = e;
    }
    if (c->nns == 0) {
        errmsg_printf(errmsg, "no name server address");
        return TERN_E_INVAL;
    }
    return 0;
}

static void tick_cb(uv_timer_t *t);

static void free_client(struct tern_client *c)
{
    for (size_t i = 0; i < c->nns; i++)
        free(c->ns[i]);
    free(c->ns);
    remoting_cmd_free(&c->cmd);
    buf_free(&c->scratch);
    free(c);
}

int tern_client_new(uv_loop_t *loop, const struct tern_client_opts *opts, struct tern_client **out,
                    char *errmsg)
{
    char scratch[TERN_ERRMSG_SIZE];
    if (!errmsg)
        errmsg = scratch;
    errmsg[0] = 0;
    if (!loop || !opts || !out || !opts->namesrv_addr) {
        errmsg_printf(errmsg, "loop, options and namesrv_addr are required");
        return TERN_E_INVAL;
    }
    struct tern_client *c = calloc(1, sizeof *c);
    if (!c) {
        errmsg_printf(errmsg, "out of memory");
        return TERN_E_NOMEM;
    }
    c->loop = loop;
    /* A write to a connection the broker just dropped raises SIGPIPE; with
     * the default disposition that kills the process. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    remoting_cmd_init(&c->cmd);
    buf_init(&c->scratch);
    int rv = parse_ns(c, opts->namesrv_addr, errmsg);
    if (rv != 0) {
        if (rv == TERN_E_NOMEM)
            errmsg_printf(errmsg, "out of memory");
        free_client(c);
        return rv;
    }
    c->timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 3000;
    c->route_refresh_ms = opts->route_refresh_ms > 0 ? opts->route_refresh_ms : 30000;
    c->heartbeat_ms = opts->heartbeat_ms > 0 ? opts->heartbeat_ms : 30000;
    c->serialize = opts->header_form == TERN_HEADER_JSON ? REMOTING_SER_JSON : REMOTING_SER_ROCKETMQ;
    if (opts->client_ip && *opts->client_ip)
        snprintf(c->ip, sizeof c->ip, "%s", opts->client_ip);
    else
        detect_ip(c->ip, sizeof c->ip);
    char inst[LIBTERN_NAME_MAX];
    if (!opts->instance_name || !*opts->instance_name || strcmp(opts->instance_name, "DEFAULT") == 0)
        snprintf(inst, sizeof inst, "%d#%llu", (int)getpid(), (unsigned long long)uv_hrtime());
    else
        snprintf(inst, sizeof inst, "%s", opts->instance_name);
    snprintf(c->id, sizeof c->id, "%s@%s", c->ip, inst);

    struct msg_host host = {.family = MSG_HOST_IPV4};
    struct sockaddr_in sin;
    if (uv_ip4_addr(c->ip, 0, &sin) == 0)
        memcpy(host.addr, &sin.sin_addr, 4);
    msgid_gen_init(&c->gen, &host, (uint32_t)getpid(), (uint32_t)(uv_hrtime() ^ (uintptr_t)c));

    rv = rpc_hub_init(&c->hub, loop, &limits_default, 64u << 20);
    if (rv != 0) {
        errmsg_printf(errmsg, "rpc hub: %s", tern_strerror(rv));
        free_client(c);
        return rv;
    }
    c->hub.data = c;
    if (opts->access_key && *opts->access_key) {
        rv = rpc_hub_set_credentials(&c->hub, opts->access_key, opts->secret_key ? opts->secret_key : "");
        if (rv != 0) {
            errmsg_printf(errmsg, "credentials: %s", tern_strerror(rv));
            free_client(c);
            return rv;
        }
    }
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, tick_cb, LIBTERN_TICK_MS, LIBTERN_TICK_MS);
    c->handles = 1;
    uv_idle_init(loop, &c->batch_idle);
    c->batch_idle.data = c;
    c->handles++;
    c->next_heartbeat = clock_mono_ms() + c->heartbeat_ms;
    *out = c;
    return 0;
}

/* ---- heartbeat ------------------------------------------------------------- */

static void hb_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    if (status != 0 && status != TERN_E_CANCELED)
        LOGD("client", "heartbeat: %s", errmsg);
}

static bool seen(const char **addrs, size_t n, const char *a)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(addrs[i], a) == 0)
            return true;
    return false;
}

void libtern_heartbeat(struct tern_client *c, const char *addr)
{
    if (c->closing)
        return;
    struct heartbeat_consumer cons[LIBTERN_MAX_HB_GROUPS];
    struct heartbeat_sub subs[2 * LIBTERN_MAX_HB_GROUPS];
    struct heartbeat_producer prods[LIBTERN_MAX_HB_GROUPS];
    const char *pg[LIBTERN_MAX_HB_GROUPS];
    struct heartbeat hb = {.client_id = c->id};
    hb.consumer_count = consumer_heartbeat(c, cons, subs, LIBTERN_MAX_HB_GROUPS);
    hb.consumers = cons;
    size_t np = producer_groups(c, pg, LIBTERN_MAX_HB_GROUPS);
    for (size_t i = 0; i < np; i++)
        prods[i].group = pg[i];
    hb.producers = prods;
    hb.producer_count = np;
    if (hb.consumer_count == 0 && np == 0)
        return;
    buf_reset(&c->scratch);
    if (heartbeat_encode(&hb, &c->scratch) != 0)
        return;
    struct iovec iov = {c->scratch.data, c->scratch.len};
    if (addr) {
        libtern_cmd(c, CODES_REQ_HEART_BEAT);
        peer_call(c, addr, &c->cmd, &iov, 1, c->timeout_ms, hb_done, NULL);
        return;
    }
    const char *done[256];
    size_t ndone = 0;
    for (struct routes_topic *r = c->routes; r; r = r->next) {
        if (!r->have)
            continue;
        for (size_t i = 0; i < r->rd.broker_count; i++) {
            const struct route_broker *b = &r->rd.brokers[i];
            for (size_t k = 0; k < b->addr_count; k++) {
                const char *a = b->addrs[k].addr;
                if (!a || seen(done, ndone, a) || ndone == 256)
                    continue;
                done[ndone++] = a;
                libtern_cmd(c, CODES_REQ_HEART_BEAT);
                peer_call(c, a, &c->cmd, &iov, 1, c->timeout_ms, hb_done, NULL);
            }
        }
    }
}

static void tick_cb(uv_timer_t *t)
{
    struct tern_client *c = t->data;
    if (c->closing)
        return;
    int64_t now = clock_mono_ms();
    peer_tick(c, now);
    routes_tick(c);
    if (now >= c->next_heartbeat) {
        c->next_heartbeat = now + c->heartbeat_ms;
        libtern_heartbeat(c, NULL);
    }
    consumer_tick(c, now);
    producer_tick(c, now);
}

/* ---- close ------------------------------------------------------------------- */

static void maybe_finish(struct tern_client *c)
{
    if (c->handles > 0)
        return;
    consumer_free_all(c);
    producer_free_all(c);
    routes_free_all(c);
    peer_free_all(c);
    txn_producer_free_all(c);
    tern_close_cb cb = c->close_cb;
    void *arg = c->close_arg;
    free_client(c);
    if (cb)
        cb(arg);
}

static void tick_closed(uv_handle_t *h)
{
    struct tern_client *c = h->data;
    c->handles--;
    maybe_finish(c);
}

static void hub_closed(struct rpc_hub *hub)
{
    struct tern_client *c = hub->data;
    c->handles--;
    maybe_finish(c);
}

static void close_stage2(struct tern_client *c)
{
    if (c->hub_closing)
        return;
    c->hub_closing = true;
    c->handles++; /* the hub */
    uv_close((uv_handle_t *)&c->tick, tick_closed);
    uv_close((uv_handle_t *)&c->batch_idle, tick_closed);
    rpc_hub_close(&c->hub, hub_closed);
}

void libtern_close_op_done(struct tern_client *c)
{
    c->close_ops--;
    if (c->closing && c->close_ops == 0)
        close_stage2(c);
}

static void unreg_done(int status, const char *errmsg, struct remoting_cmd *resp, void *arg)
{
    libtern_close_op_done(arg);
}

void tern_client_close(struct tern_client *c, tern_close_cb cb, void *arg)
{
    if (c->closing)
        return;
    c->close_cb = cb;
    c->close_arg = arg;
    c->closing = true;
    c->close_ops = 1; /* held until everything is started */
    producer_cancel_delayed(c);
    consumer_close_all(c);
    /* Producer groups leave every broker they may have talked to. */
    const char *pg[LIBTERN_MAX_HB_GROUPS];
    size_t np = producer_groups(c, pg, LIBTERN_MAX_HB_GROUPS);
    for (size_t g = 0; g < np; g++) {
        for (struct peer *p = c->peers; p; p = p->next) {
            if (!p->rc)
                continue;
            bool is_ns = false;
            for (size_t i = 0; i < c->nns; i++)
                is_ns = is_ns || strcmp(c->ns[i], p->addr) == 0;
            if (is_ns)
                continue;
            struct remoting_cmd *cmd = libtern_cmd(c, CODES_REQ_UNREGISTER_CLIENT);
            struct headers_client_unregister_req h = {
                .client_id = slice_of(c->id),
                .producer_group = slice_of(pg[g]),
            };
            if (headers_client_unregister_req_encode(&h, cmd) == 0 &&
                peer_call(c, p->addr, cmd, NULL, 0, c->timeout_ms, unreg_done, c) == 0)
                c->close_ops++;
        }
    }
    libtern_close_op_done(c);
}
