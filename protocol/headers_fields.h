/* Private: the table-driven engine behind the typed headers of headers.h.
 * Each header is a descriptor listing its fields (name, short V2 name, type,
 * presence rule, offset in the struct); headers.c decodes/encodes any of them. */
#ifndef TERN_HEADERS_FIELDS_H
#define TERN_HEADERS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "protocol/remoting.h"

enum headers_type {
    HEADERS_STR,   /* struct slice */
    HEADERS_TOPIC, /* struct slice, checked with limits_check_topic */
    HEADERS_I32,   /* int32_t */
    HEADERS_I64,   /* int64_t */
    HEADERS_BOOL,  /* bool */
};

enum headers_presence {
    HEADERS_REQ, /* missing on decode is MALFORMED; always encoded */
    HEADERS_OPT, /* strings: p == NULL when absent; others: has_ flag */
    HEADERS_DEF, /* absent on decode leaves 0/false/NULL; always encoded */
};

struct headers_field {
    const char *name;  /* extFields key */
    const char *v2;    /* key under SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE, NULL = name */
    uint8_t type;      /* enum headers_type */
    uint8_t presence;  /* enum headers_presence */
    uint16_t off;      /* offsetof the value */
    int16_t has_off;   /* offsetof the has_ flag of an optional number/bool, else -1 */
};

struct headers_desc {
    const char *what; /* error prefix: "pull header" */
    const struct headers_field *fields;
    size_t n;
};

#define HEADERS_F(st, member, key, v2key, type, presence)                                          \
    {key, v2key, type, presence, (uint16_t)offsetof(struct st, member), -1}
#define HEADERS_FH(st, member, key, v2key, type)                                                   \
    {key, v2key, type, HEADERS_OPT, (uint16_t)offsetof(struct st, member),                         \
     (int16_t)offsetof(struct st, has_##member)}

#define HEADERS_DESC(var, what, table)                                                             \
    static const struct headers_desc var = {what, table, sizeof(table) / sizeof(table[0])}

/* Zero *h (size bytes) and fill it from c's extFields. Short V2 names are
 * used when c->code is SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE. */
int headers_decode(const struct headers_desc *d, void *h, size_t size, const struct remoting_cmd *c,
                   const struct limits *l, char *errmsg);
/* Set the present fields of h into c's extFields (names chosen by c->code). */
int headers_encode(const struct headers_desc *d, const void *h, struct remoting_cmd *c);

/* Define <prefix>_decode/_encode for struct <st> from descriptor desc. */
#define HEADERS_DEFINE(prefix, st, desc)                                                           \
    int prefix##_decode(struct st *h, const struct remoting_cmd *c, const struct limits *l,         \
                        char *errmsg)                                                              \
    {                                                                                              \
        return headers_decode(&desc, h, sizeof *h, c, l, errmsg);                                  \
    }                                                                                              \
    int prefix##_encode(const struct st *h, struct remoting_cmd *c)                                \
    {                                                                                              \
        return headers_encode(&desc, h, c);                                                        \
    }

#endif
