/* Growable byte buffer with a sticky error so encoders check once at the end. */
#include "src/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/endian.h"
#include "tern/error.h"

void buf_init(struct buf *b)
{
    memset(b, 0, sizeof *b);
}

void buf_free(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
    if (b->err)
        return b->err;
    if (b->max && (n > b->max || b->len > b->max - n)) {
        b->err = TERN_E_TOOBIG;
        return b->err;
    }
    if (n <= b->cap - b->len)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > SIZE_MAX / 2) {
            b->err = TERN_E_NOMEM;
            return b->err;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->err = TERN_E_NOMEM;
        return b->err;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

uint8_t *buf_extend(struct buf *b, size_t n)
{
    if (buf_reserve(b, n))
        return NULL;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    uint8_t *d = buf_extend(b, n);
    if (d)
        memcpy(d, p, n);
}

void buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_append_u8(struct buf *b, uint8_t v)
{
    uint8_t *d = buf_extend(b, 1);
    if (d)
        *d = v;
}

void buf_append_be16(struct buf *b, uint16_t v)
{
    uint8_t *d = buf_extend(b, 2);
    if (d)
        be16_store(d, v);
}

void buf_append_be32(struct buf *b, uint32_t v)
{
    uint8_t *d = buf_extend(b, 4);
    if (d)
        be32_store(d, v);
}

void buf_append_be64(struct buf *b, uint64_t v)
{
    uint8_t *d = buf_extend(b, 8);
    if (d)
        be64_store(d, v);
}

void buf_append_le32(struct buf *b, uint32_t v)
{
    uint8_t *d = buf_extend(b, 4);
    if (d)
        le32_store(d, v);
}

void buf_append_le64(struct buf *b, uint64_t v)
{
    uint8_t *d = buf_extend(b, 8);
    if (d)
        le64_store(d, v);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->err = TERN_E_INVAL;
        return;
    }
    if ((size_t)n < sizeof small) {
        buf_append(b, small, (size_t)n);
        return;
    }
    uint8_t *d = buf_extend(b, (size_t)n + 1);
    if (!d)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len--; /* drop the terminating NUL */
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}
