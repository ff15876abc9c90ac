/* Topic route, cluster info and topic list JSON bodies (PROTOCOL.md §M.6), and
 * the arena and field helpers every JSON body decoder of libtern_proto shares. */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

/* Request version from which the Java nameserver writes quoted brokerAddrs
 * keys (MQVersion V4_9_4). */
#define ROUTE_STANDARD_JSON_MIN_VERSION 401
/* Most elements any one array or map of a decoded body may hold. */
#define ROUTE_MAX_ITEMS 65536

/* Perm bits (RocketMQ PermName). */
#define ROUTE_PERM_PRIORITY 8
#define ROUTE_PERM_READ 4
#define ROUTE_PERM_WRITE 2
#define ROUTE_PERM_INHERIT 1

/* ---- Arena for decoded JSON bodies -------------------------------------
 * A decoded body's strings and arrays live in one caller-owned struct buf.
 * route_arena_begin sizes it once from the parsed tree (an upper bound), so
 * it never grows and the pointers handed out stay valid until the caller
 * resets or frees the buf. One decode per arena at a time. */

/* Reset arena and reserve room for any decode of root whose arrays hold
 * elements of at most elem_size bytes. The bound is at most about
 * elem_size/2 times the JSON text. Returns 0 or arena->err (TERN_E_NOMEM,
 * or TERN_E_TOOBIG past arena->max) with errmsg set. */
int route_arena_begin(struct buf *arena, const json_t *root, size_t elem_size, char *errmsg);
/* n zeroed bytes, 8-aligned; NULL only if the size bound was wrong. */
void *route_arena_alloc(struct buf *arena, size_t n);
/* Copy s (n bytes) as a NUL-terminated string; NULL as above. */
const char *route_arena_strdup(struct buf *arena, const char *s, size_t n);

/* ---- Field helpers: each returns 0 or TERN_E_MALFORMED with errmsg naming
 * the key ("brokerName: expected a string"). Absent or null optional fields
 * give NULL / the default. */
int route_json_load(const char *json, size_t n, json_t **root, char *errmsg);
int route_json_str(struct buf *arena, const json_t *obj, const char *key, bool required,
                   const char **out, char *errmsg);
int route_json_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
                   int64_t *out, char *errmsg);
int route_json_bool(const json_t *obj, const char *key, bool *out, char *errmsg);
/* The array at key (NULL if absent/null and !required); checks the element
 * count against ROUTE_MAX_ITEMS. */
int route_json_array(const json_t *obj, const char *key, bool required, json_t **out,
                     char *errmsg);
/* Same for a JSON object (a map). */
int route_json_object(const json_t *obj, const char *key, bool required, json_t **out,
                      char *errmsg);

/* ---- TopicRouteData ---------------------------------------------------- */

struct route_addr {
    int64_t broker_id; /* 0 = master */
    const char *addr;  /* "ip:port" */
};

struct route_broker {
    const char *cluster;
    const char *broker_name;
    const char *zone_name; /* NULL: omitted */
    bool enable_acting_master;
    struct route_addr *addrs;
    size_t addr_count;
};

struct route_queue {
    const char *broker_name;
    int32_t read_queue_nums;
    int32_t write_queue_nums;
    int32_t perm;
    int32_t topic_sys_flag;
};

struct route_data {
    struct route_broker *brokers;
    size_t broker_count;
    struct route_queue *queues;
    size_t queue_count;
    const char *order_topic_conf; /* NULL: omitted */
};

/* Whether brokerAddrs keys must be quoted for a request of this version. */
bool route_quoted_keys(int version, bool accept_standard_json_only);

/* Append TopicRouteData as the Java nameserver writes it: compact, keys in
 * fastjson's alphabetical order, "filterServerTable":{} always, lists never
 * null, QueueData with both topicSynFlag and topicSysFlag, brokerAddrs keys
 * quoted or bare (quoted_keys). Addresses are written in the given order.
 * Returns 0 or out->err. */
int route_encode(const struct route_data *rd, bool quoted_keys, struct buf *out);

/* Decode standard JSON (quoted keys) TopicRouteData. Strings and arrays live
 * in arena (see above). Accepts topicSysFlag or topicSynFlag. Returns 0 or
 * TERN_E_MALFORMED ("topic route: ..."), TERN_E_NOMEM/TOOBIG from the arena. */
int route_decode(const char *json, size_t n, struct route_data *out, struct buf *arena,
                 char *errmsg);

/* ---- ClusterInfo (GET_BROKER_CLUSTER_INFO) ----------------------------- */

struct route_cluster {
    const char *cluster_name;
    const char **broker_names;
    size_t broker_name_count;
};

struct route_cluster_info {
    struct route_broker *brokers; /* brokerAddrTable values, keyed by broker_name */
    size_t broker_count;
    struct route_cluster *clusters;
    size_t cluster_count;
};

int route_cluster_encode(const struct route_cluster_info *ci, bool quoted_keys, struct buf *out);
int route_cluster_decode(const char *json, size_t n, struct route_cluster_info *out,
                         struct buf *arena, char *errmsg);

/* ---- TopicList (GET_ALL_TOPIC_LIST_FROM_NAMESERVER) -------------------- */

struct route_topic_list {
    const char **topics;
    size_t count;
    const char *broker_addr; /* NULL: omitted */
};

int route_topics_encode(const struct route_topic_list *tl, struct buf *out);
int route_topics_decode(const char *json, size_t n, struct route_topic_list *out,
                        struct buf *arena, char *errmsg);

#endif
