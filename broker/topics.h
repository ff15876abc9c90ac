/* The broker's topic table (RocketMQ TopicConfigManager): queue counts,
 * permissions, filter type, and the partition id of every queue. Persisted
 * crash-safely to <data>/topics.json on every change. Partition logs are
 * opened lazily on first use. */
#ifndef TERN_TOPICS_H
#define TERN_TOPICS_H

#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "broker/store/store.h"
#include "src/errmsg.h"

#define TOPICS_NAME_MAX 256
#define TOPICS_MAX_QUEUES 1024
#define TOPIC_DEFAULT "TBW102"

/* Perm bits (RocketMQ PermName). */
#define TOPIC_PERM_READ 4
#define TOPIC_PERM_WRITE 2
#define TOPIC_PERM_INHERIT 1

struct topic {
    char name[TOPICS_NAME_MAX];
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t sys_flag;
    bool order;
    bool multi_tag; /* topicFilterType MULTI_TAG */
    bool system;    /* created by the broker itself (TBW102, ...) */
    /* One partition per queue id in [0, max(read, write)). */
    uint32_t nparts;
    uint32_t *part_ids;
    struct partlog **parts; /* NULL until opened */
    UT_hash_handle hh;
};

struct topic_conf {
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t sys_flag;
    bool order;
    bool multi_tag;
};

struct topics {
    struct topic *table;
    uint32_t next_part_id;
    uint64_t version; /* bumped on every change (registration dataVersion) */
    struct store *store;
    char path_dir[1024];
    char errmsg[ERRMSG_SIZE];
};

/* Load <dir>/topics.json (absent: empty table). Returns 0 or TERN_E_* (a
 * corrupt file is TERN_E_CORRUPT with the reason: the broker refuses to start
 * rather than forget topics). */
int topics_open(struct topics *t, const char *dir, struct store *store);
void topics_close(struct topics *t);

struct topic *topics_find(struct topics *t, const char *name);
/* Create or update a topic and persist the table. Queue counts may grow (new
 * partitions get new ids) or shrink (partitions are kept, just not routed).
 * Returns 0 or TERN_E_INVAL / TERN_E_NOMEM / an fs error, with t->errmsg. */
int topics_put(struct topics *t, const char *name, const struct topic_conf *c, bool system,
               struct topic **out);
/* Number of topics in the table. */
size_t topics_count(const struct topics *t);
/* The partition log of (topic, queue), opened on first use. */
int topics_partition(struct topics *t, struct topic *tp, int32_t queue_id, struct partlog **out);
/* Reverse lookup for the store's callbacks: topic and queue of a partition. */
struct topic *topics_by_partition(struct topics *t, struct partlog *pl, int32_t *queue_id);

static inline int32_t topic_max_queues(const struct topic *tp)
{
    return tp->read_queues > tp->write_queues ? tp->read_queues : tp->write_queues;
}

#endif
