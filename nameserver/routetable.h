/* The name server's state: broker groups, their member addresses, topic queue
 * data, broker liveness and the KV config (ROCKETMQ-PROTOCOL.md §4.15–§4.18, §7).
 * Pure data: no I/O. Times are passed in so expiry is testable. */
#ifndef TERN_ROUTETABLE_H
#define TERN_ROUTETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#define RT_NAME_MAX 256 /* topic names: 255 for %RETRY%/%DLQ% */
#define RT_ADDR_MAX 64
#define RT_MAX_MEMBERS 16 /* addresses per broker group */

struct rt_data_version {
    int64_t counter;
    int64_t state_version;
    int64_t timestamp;
};

/* A topic's configuration as a broker registers it. */
struct rt_topic_conf {
    char name[RT_NAME_MAX];
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t topic_sys_flag;
};

struct rt_member {
    int64_t id; /* 0 = master / raft leader */
    char addr[RT_ADDR_MAX];
};

/* A broker group (RocketMQ BrokerData). */
struct rt_broker {
    char name[RT_NAME_MAX];
    char cluster[RT_NAME_MAX];
    struct rt_member members[RT_MAX_MEMBERS];
    size_t nmembers;
    UT_hash_handle hh;
};

/* One group's queues for a topic (RocketMQ QueueData). */
struct rt_queue_data {
    char broker_name[RT_NAME_MAX];
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t topic_sys_flag;
};

struct rt_topic {
    char name[RT_NAME_MAX];
    struct rt_queue_data *qd;
    size_t nqd;
    size_t cap;
    UT_hash_handle hh;
};

/* Liveness of one registered broker address. */
struct rt_live {
    char addr[RT_ADDR_MAX];
    char broker_name[RT_NAME_MAX];
    char cluster[RT_NAME_MAX];
    char ha_addr[RT_ADDR_MAX];
    int64_t broker_id;
    int64_t last_ms;
    int64_t timeout_ms;
    struct rt_data_version dv;
    void *conn; /* the connection it registered over, for expiry on close */
    UT_hash_handle hh;
};

struct rt_kv {
    char *key; /* "namespace\x01key" */
    char *value;
    UT_hash_handle hh;
};

struct routetable {
    struct rt_broker *brokers;
    struct rt_topic *topics;
    struct rt_live *live;
    struct rt_kv *kv;
};

struct rt_register {
    const char *cluster;
    const char *broker_name;
    const char *broker_addr;
    const char *ha_addr;
    int64_t broker_id;
    int64_t timeout_ms; /* 0 = default 120 s */
    struct rt_data_version dv;
    const struct rt_topic_conf *topics;
    size_t ntopics;
    void *conn;
};

struct rt_register_result {
    char master_addr[RT_ADDR_MAX]; /* for slaves: the group's id-0 address, if any */
    char ha_addr[RT_ADDR_MAX];
};

#define RT_DEFAULT_TIMEOUT_MS 120000

void routetable_init(struct routetable *rt);
void routetable_free(struct routetable *rt);

/* Record a registration (also the broker's periodic heartbeat). The member
 * address is put under its id, replacing the same address under another id
 * (a raft follower that became leader re-registers as 0). Only a registration
 * with id 0 updates the group's queue data, and it replaces it: topics missing
 * from its table lose this group's queues. Returns 0, TERN_E_INVAL for empty
 * names or a group with too many members, or TERN_E_NOMEM. */
int routetable_register(struct routetable *rt, const struct rt_register *r, int64_t now_ms,
                        struct rt_register_result *res);
/* Remove one member address (UNREGISTER_BROKER, expiry, closed connection);
 * a group left without members disappears with its queue data. */
void routetable_unregister(struct routetable *rt, const char *broker_name, const char *broker_addr);
/* Remove every broker address registered over conn. Returns how many. */
int routetable_conn_closed(struct routetable *rt, void *conn);
/* Remove addresses whose last registration is older than their timeout. */
int routetable_expire(struct routetable *rt, int64_t now_ms);

struct rt_topic *routetable_topic(struct routetable *rt, const char *name);
struct rt_broker *routetable_broker(struct routetable *rt, const char *name);

int routetable_kv_put(struct routetable *rt, const char *ns, const char *key, const char *value);
const char *routetable_kv_get(struct routetable *rt, const char *ns, const char *key);
int routetable_kv_delete(struct routetable *rt, const char *ns, const char *key);

#endif
