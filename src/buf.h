/* A growable byte buffer for building frames and records. */
#ifndef TERN_BUF_H
#define TERN_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    /* Sticky: set once an append failed for lack of memory or past max;
     * later appends are no-ops so callers check once at the end. */
    int err;
    /* Upper bound on len; 0 means unbounded. Exceeding it sets err to
     * TERN_E_TOOBIG instead of growing. */
    size_t max;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Forget the contents, keep the allocation. Clears err. */
void buf_reset(struct buf *b);
/* Make room for at least n more bytes. Returns 0 or TERN_E_NOMEM/E_TOOBIG. */
int buf_reserve(struct buf *b, size_t n);
/* Reserve n bytes at the end and return a pointer to them (NULL on error). */
uint8_t *buf_extend(struct buf *b, size_t n);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_u8(struct buf *b, uint8_t v);
void buf_append_be16(struct buf *b, uint16_t v);
void buf_append_be32(struct buf *b, uint32_t v);
void buf_append_be64(struct buf *b, uint64_t v);
void buf_append_le32(struct buf *b, uint32_t v);
void buf_append_le64(struct buf *b, uint64_t v);
/* printf-style append. */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);

#endif
