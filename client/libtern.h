/* Private internals of libtern shared by its source files: struct tern_client,
 * broker connections (peer.c), the name-server route cache (routes.c), and
 * the hooks the client calls into producers and consumers. */
#ifndef TERN_LIBTERN_H
#define TERN_LIBTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <uv.h>

#include "protocol/msgid.h"
#include "protocol/remoting.h"
#include "protocol/route.h"
#include "rpc/rpc.h"
#include "src/buf.h"
#include "tern/tern.h"

#define LIBTERN_ADDR_MAX 64
#define LIBTERN_NAME_MAX 128
#define LIBTERN_TICK_MS 100
#define ROUTES_KEYED_GRACE_MS 60000

/* status 0: resp is the response (valid during the call). Else a TERN_E_*
 * (TIMEOUT, CLOSED, CONNECT, CANCELED) and resp is NULL; errmsg says why. */
typedef void (*libtern_call_cb)(int status, const char *errmsg, struct remoting_cmd *resp,
                               void *arg);

/* ---- peer.c: one connection per "ip:port", connected lazily ----------- */

struct peer_wait;

struct peer {
    struct tern_client *c;
    char addr[LIBTERN_ADDR_MAX];
    struct rpc_conn *rc; /* NULL when not connected */
    bool connecting;
    struct peer_wait *wait_head, *wait_tail;
    struct peer *next;
};

/* Send cmd (built by the caller, e.g. in c->cmd) with body to addr and call
 * cb once with the response. Connects (or reconnects) lazily: the command is
 * copied while waiting. Returns 0 (cb fires later, never inside this call)
 * or a TERN_E_* with c->errmsg set (cb never fires). */
int peer_call(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
              const struct iovec *body, int iovcnt, int64_t timeout_ms, libtern_call_cb cb,
              void *arg);
/* Same with rpc's own callback type: no allocation per request (the
 * produce path). The callback gets TERN_E_CONNECT when the connect fails. */
int peer_request(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
                 const struct iovec *body, int iovcnt, int64_t timeout_ms, rpc_response_cb cb,
                 void *arg);
/* Text for a request status (TERN_E_TIMEOUT: "request timed out", ...). */
const char *peer_strerror(int status);
/* Same without a response. */
int peer_oneway(struct tern_client *c, const char *addr, struct remoting_cmd *cmd,
                const struct iovec *body, int iovcnt);
/* Fail requests that waited for a connection longer than their timeout. */
void peer_tick(struct tern_client *c, int64_t now);
/* Fail queued waiters with TERN_E_CANCELED and free every peer (close). */
void peer_free_all(struct tern_client *c);
extern const struct rpc_ops peer_ops;

/* ---- routes.c: topic route cache from the name servers ----------------- */

struct routes_mq {
    const char *broker; /* broker name */
    int qid;
};

/* A queue of the sticky list sharding keys hash over (routes.c derive). */
struct routes_keyed {
    char broker[LIBTERN_NAME_MAX];
    int qid;
    int64_t seen_mono; /* last refresh whose route listed it */
    long pub;          /* index into pub, -1 while its broker has no master */
};

struct routes_topic {
    char topic[LIMITS_MAX_TOPIC_SYSTEM + 1];
    bool have;     /* rd is valid */
    bool via_tbw;  /* unknown topic: publish queues come from TBW102 */
    bool fetching;
    int64_t fetched_mono; /* when rd was last refreshed */
    int64_t used_mono;
    struct buf arena;
    struct route_data rd;
    struct routes_mq *pub; /* writable queues of masters, sorted */
    size_t npub;
    struct routes_mq *sub; /* readable queues, sorted */
    size_t nsub;
    /* Writable queues whether or not their broker has a master now, kept
     * ROUTES_KEYED_GRACE_MS after a route stops listing their broker, sorted: a
     * sharding key keeps its queue while its group elects a leader or a
     * name server restarts (routes_keyed_pick). */
    struct routes_keyed *keyed;
    size_t nkeyed, capkeyed;
    bool keyed_tbw; /* the list was derived from TBW102's route */
    uint32_t rr;
    uint64_t version; /* bumped on every refresh */
    struct route_wait *waiters;
    struct routes_topic *next;
};

/* err 0: r is the route (has r->have). */
typedef void (*routes_cb)(int err, const char *errmsg, struct routes_topic *r, void *arg);

/* The cached route of topic, or NULL if none yet. */
struct routes_topic *routes_find(struct tern_client *c, const char *topic);
/* Fetch (or refresh) the route of topic from the name servers, then cb.
 * tbw: an unknown topic gets the TBW102 publish route (producers).
 * Returns 0 (cb fires later) or an error now. */
int routes_fetch(struct tern_client *c, const char *topic, bool tbw, routes_cb cb, void *arg);
/* Address of broker_name's master (id 0) in r, or NULL. */
const char *routes_master(const struct routes_topic *r, const char *broker);
/* The queue sharding-key hash goes to: the same queue as long as the topic's
 * queues stay (a group without a master, or missing from a route for less
 * than ROUTES_KEYED_GRACE_MS, keeps its queues in the list). NULL when that
 * queue's broker has no master now: the send waits and retries rather than
 * go to another queue, which would break the key's order. */
const struct routes_mq *routes_keyed_pick(const struct routes_topic *r, int32_t hash);
/* Address of member broker_id of a broker group; NULL if the route has none. */
const char *routes_member(const struct routes_topic *r, const char *broker, int64_t broker_id);
/* Master if present, else the lowest id, or NULL. */
const char *routes_any_addr(const struct routes_topic *r, const char *broker);
/* Periodic refresh of stale routes. */
void routes_tick(struct tern_client *c);
void routes_free_all(struct tern_client *c);

/* A request to the name servers, tried in turn until one answers. cmd is
 * copied. Same contract as peer_call. */
int routes_ns_call(struct tern_client *c, struct remoting_cmd *cmd, libtern_call_cb cb, void *arg);

/* ---- client.c ------------------------------------------------------- */

struct tern_client {
    uv_loop_t *loop;
    struct rpc_hub hub;
    char id[LIBTERN_NAME_MAX * 2];
    char ip[LIBTERN_ADDR_MAX];
    char **ns;
    size_t nns;
    size_t ns_cur;
    int64_t timeout_ms;
    int64_t route_refresh_ms;
    int64_t heartbeat_ms;
    int64_t next_heartbeat;
    uint8_t serialize;
    struct peer *peers;
    struct routes_topic *routes;
    struct tern_producer *producers;
    struct tern_consumer *consumers;
    struct tern_txn_producer *txn_producers;
    struct msgid_gen gen;
    uv_timer_t tick;
    uv_idle_t batch_idle; /* coalesces a loop pass's sends (producer.c) */
    struct remoting_cmd cmd; /* scratch for building one request at a time */
    struct buf scratch;      /* scratch for bodies */
    bool closing;
    int close_ops;  /* acknowledged requests of the close still out */
    bool hub_closing;
    int handles;    /* open uv handles (tick) + hub */
    tern_close_cb close_cb;
    void *close_arg;
    char errmsg[TERN_ERRMSG_SIZE];
};

/* Start a request in c->cmd (code, our serialize form). */
struct remoting_cmd *libtern_cmd(struct tern_client *c, int code);
/* Send HEART_BEAT with every group to every broker of every cached route
 * (or only to addr when not NULL). */
void libtern_heartbeat(struct tern_client *c, const char *addr);
/* Decremented by close-time requests as they finish. */
void libtern_close_op_done(struct tern_client *c);
/* TERN_E_* for a response code (0 stays 0). */
int libtern_code_err(int code);

/* ---- producer.c / consumer.c hooks ----------------------------------- */

void producer_free_all(struct tern_client *c);
/* txn_producer.c: free transactional producers (close); answer a broker's
 * CHECK_TRANSACTION_STATE. */
void txn_producer_free_all(struct tern_client *c);
void txn_producer_on_check(struct tern_client *c, struct rpc_conn *rc, struct remoting_cmd *req);
/* Retry sends whose delayed (leader-following) retry is due. */
void producer_tick(struct tern_client *c, int64_t now);
/* Fail every delayed send with TERN_E_CANCELED (client closing). */
void producer_cancel_delayed(struct tern_client *c);
/* Collect producer groups for the heartbeat. */
size_t producer_groups(struct tern_client *c, const char **out, size_t cap);

void consumer_tick(struct tern_client *c, int64_t now);
/* NOTIFY_CONSUMER_IDS_CHANGED for group. */
void consumer_notify(struct tern_client *c, const char *group);
/* RESET_CONSUMER_CLIENT_OFFSET (220) from a broker: the group's queues of
 * the topic named in the body restart at the given offsets. */
void consumer_reset_offsets(struct tern_client *c, struct remoting_cmd *req);
/* Client close: start closing every consumer (commits, unregister), using
 * client close ops. */
void consumer_close_all(struct tern_client *c);
void consumer_free_all(struct tern_client *c);
/* Append heartbeat consumer entries (group, subscriptions) to hb arrays:
 * out has cap entries, subs 2 * cap (the topic and the group's retry topic). */
struct heartbeat_consumer;
struct heartbeat_sub;
size_t consumer_heartbeat(struct tern_client *c, struct heartbeat_consumer *out,
                          struct heartbeat_sub *subs, size_t cap);

#endif
