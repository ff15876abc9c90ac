/* SEND_BATCH_MESSAGE body (PROTOCOL.md §M.4): inner message records back to back. */
#ifndef TERN_BATCH_H
#define TERN_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "src/buf.h"
#include "src/slice.h"

/* TOTALSIZE, MAGIC, BODYCRC, FLAG, BODYLEN, PROPERTIESLEN: a record with an
 * empty body and no properties. */
#define BATCH_MIN_RECORD 22u

struct batch_item {
    int32_t flag;
    struct slice body;       /* points into the batch body */
    struct slice properties; /* the inner message's own properties (§3.1) */
};

struct batch_iter {
    const uint8_t *p;
    size_t n;
    size_t off;
    const struct limits *l;
};

void batch_iter_init(struct batch_iter *it, const uint8_t *p, size_t n, const struct limits *l);

/* Returns 1 with *out filled, 0 at the clean end, or TERN_E_MALFORMED with
 * errmsg "batch record at byte N: ..." naming the field. MAGIC and BODYCRC
 * are ignored as RocketMQ's broker ignores them. TOTALSIZE must equal the sum
 * of the fields. After an error every later call fails again. */
int batch_iter_next(struct batch_iter *it, struct batch_item *out, char *errmsg);

/* Append one inner record to out (MAGIC and BODYCRC written as 0, as the
 * Java and Go clients do). Returns 0, TERN_E_INVAL when properties exceed
 * 32767 bytes or body INT32_MAX, or out->err. */
int batch_encode_item(struct buf *out, int32_t flag, const void *body, size_t body_len,
                      const char *props, size_t props_len);

#endif
