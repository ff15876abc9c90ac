/* HEART_BEAT body: HeartbeatData JSON (PROTOCOL.md §M.7). */
#ifndef TERN_HEARTBEAT_H
#define TERN_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

/* Most tags (and codes) one subscription may list. */
#define HEARTBEAT_MAX_TAGS 64

enum heartbeat_consume_type {
    HEARTBEAT_CONSUME_ACTIVELY = 1, /* pull / lite pull */
    HEARTBEAT_CONSUME_PASSIVELY,    /* push */
    HEARTBEAT_CONSUME_POP,
};

enum heartbeat_model {
    HEARTBEAT_CLUSTERING = 1,
    HEARTBEAT_BROADCASTING,
};

enum heartbeat_from_where {
    /* A name we do not know (Go sends "UNKNOWN" for unset values); the
     * broker does not depend on this field, so it is not an error. */
    HEARTBEAT_FROM_UNKNOWN = 0,
    HEARTBEAT_FROM_LAST_OFFSET = 1,
    HEARTBEAT_FROM_FIRST_OFFSET,
    HEARTBEAT_FROM_TIMESTAMP,
    /* Deprecated names still sent by old clients. */
    HEARTBEAT_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
    HEARTBEAT_FROM_MIN_OFFSET,
    HEARTBEAT_FROM_MAX_OFFSET,
};

struct heartbeat_sub {
    const char *topic;
    const char *sub_string;
    const char *expression_type; /* "TAG" when absent */
    bool class_filter_mode;
    int64_t sub_version;
    const char **tags;
    size_t tag_count;
    int32_t *codes;
    size_t code_count;
};

struct heartbeat_consumer {
    const char *group;
    enum heartbeat_consume_type consume_type;
    enum heartbeat_model message_model;
    enum heartbeat_from_where from_where;
    bool unit_mode;
    struct heartbeat_sub *subs;
    size_t sub_count;
};

struct heartbeat_producer {
    const char *group;
};

struct heartbeat {
    const char *client_id;
    struct heartbeat_consumer *consumers;
    size_t consumer_count;
    struct heartbeat_producer *producers;
    size_t producer_count;
    int64_t fingerprint; /* heartbeatFingerprint (5.x), 0 if absent */
    bool without_sub;    /* withoutSub (5.x) */
};

/* Decode HeartbeatData JSON. Strings and arrays live in arena (a caller-owned
 * buf that is reset here; see route_arena_begin). Enum strings are matched
 * ignoring case and underscores ("ConsumeFromLastOffset" from old Go
 * clients), and "PULL"/"PUSH" are accepted for consumeType; an unknown
 * consumeType or messageModel is MALFORMED, an unknown consumeFromWhere is
 * HEARTBEAT_FROM_UNKNOWN. codeSet entries may be JSON numbers (Java) or
 * decimal strings (Go v2), int32 or uint32 (old Go), stored as int32. Unknown
 * keys are ignored; clientID, groupName and topic are required; more than
 * HEARTBEAT_MAX_TAGS tags or codes is MALFORMED. Returns 0 or TERN_E_MALFORMED ("heartbeat: ..."),
 * or the arena's TERN_E_NOMEM / TERN_E_TOOBIG. */
int heartbeat_decode(const char *json, size_t n, struct heartbeat *out, struct buf *arena,
                     char *errmsg);

/* Append HeartbeatData JSON as the Java client writes it (fastjson order).
 * Returns 0 or out->err. */
int heartbeat_encode(const struct heartbeat *hb, struct buf *out);

const char *heartbeat_consume_type_name(enum heartbeat_consume_type t);
const char *heartbeat_model_name(enum heartbeat_model m);
const char *heartbeat_from_where_name(enum heartbeat_from_where w);

#endif
