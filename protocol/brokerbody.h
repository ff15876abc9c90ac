/* REGISTER_BROKER body: RegisterBrokerBody JSON with the topic config table (PROTOCOL.md §M.8). */
#ifndef TERN_BROKERBODY_H
#define TERN_BROKERBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

enum brokerbody_filter_type {
    BROKERBODY_SINGLE_TAG = 0,
    BROKERBODY_MULTI_TAG,
};

struct brokerbody_version {
    int64_t counter;
    int64_t state_version;
    int64_t timestamp;
};

struct brokerbody_attr {
    const char *key; /* e.g. "+message.type" */
    const char *val;
};

struct brokerbody_topic {
    const char *topic_name;
    int32_t read_queue_nums;
    int32_t write_queue_nums;
    int32_t perm;
    int32_t topic_sys_flag;
    enum brokerbody_filter_type filter_type;
    bool order;
    struct brokerbody_attr *attrs;
    size_t attr_count;
};

struct brokerbody {
    struct brokerbody_version data_version;
    struct brokerbody_topic *topics;
    size_t topic_count;
    const char **filter_servers;
    size_t filter_server_count;
};

/* Append the uncompressed RegisterBrokerBody JSON (fastjson key order; the
 * topic table keyed by topic name; empty 5.x static-topic maps included so
 * 5.x nameservers find them non-null). Returns 0 or out->err. */
int brokerbody_encode(const struct brokerbody *bb, struct buf *out);

/* Decode a RegisterBrokerBody. compressed is the request header's
 * `compressed` flag: the zlib form is not supported and returns
 * TERN_E_MALFORMED "register body: compressed register body not supported".
 * Strings and arrays live in arena (see route_arena_begin). A topic's name
 * is its topicName field, else its table key. Returns 0, TERN_E_MALFORMED
 * ("register body: ...") or the arena's NOMEM/TOOBIG. */
int brokerbody_decode(const char *json, size_t n, bool compressed, struct brokerbody *out,
                      struct buf *arena, char *errmsg);

/* Decode a bare DataVersion JSON object (QUERY_DATA_VERSION body). */
int brokerbody_version_decode(const char *json, size_t n, struct brokerbody_version *out,
                              char *errmsg);
/* Append a DataVersion JSON object. */
int brokerbody_version_encode(const struct brokerbody_version *dv, struct buf *out);

#endif
