/* A bounds-checked read cursor over untrusted bytes.
 *
 * Every read checks the remaining length. A short read sets the sticky
 * `err` flag, returns zero values and leaves the position at the end, so a
 * decoder reads all its fields and checks `cur.err` once at its single
 * error exit (librdkafka rd_kafka_buf_read_* style). */
#ifndef TERN_CURSOR_H
#define TERN_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/endian.h"

struct cursor {
    const uint8_t *p;
    const uint8_t *end;
    bool err;
};

static inline void cursor_init(struct cursor *c, const void *p, size_t n)
{
    c->p = p;
    c->end = (const uint8_t *)p + n;
    c->err = false;
}

static inline size_t cursor_left(const struct cursor *c)
{
    return (size_t)(c->end - c->p);
}

/* Returns a pointer to the next n bytes and advances, or NULL (and sets err). */
static inline const uint8_t *cursor_take(struct cursor *c, size_t n)
{
    if (c->err || cursor_left(c) < n) {
        c->err = true;
        c->p = c->end;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    return p;
}

static inline uint8_t cursor_u8(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 1);
    return p ? p[0] : 0;
}
static inline uint16_t cursor_be16(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 2);
    return p ? be16_load(p) : 0;
}
static inline uint32_t cursor_be32(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 4);
    return p ? be32_load(p) : 0;
}
static inline uint64_t cursor_be64(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 8);
    return p ? be64_load(p) : 0;
}
static inline uint32_t cursor_le32(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 4);
    return p ? le32_load(p) : 0;
}
static inline uint64_t cursor_le64(struct cursor *c)
{
    const uint8_t *p = cursor_take(c, 8);
    return p ? le64_load(p) : 0;
}

#endif
