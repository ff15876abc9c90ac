/* Iterate and build SEND_BATCH_MESSAGE bodies (RocketMQ MessageDecoder.encodeMessages layout). */
#include "protocol/batch.h"

#include <string.h>

#include "src/cursor.h"
#include "src/errmsg.h"
#include "tern/error.h"

#define PROPS_MAX_STORED 32767u

void batch_iter_init(struct batch_iter *it, const uint8_t *p, size_t n, const struct limits *l)
{
    it->p = p;
    it->n = n;
    it->off = 0;
    it->l = l;
}

int batch_iter_next(struct batch_iter *it, struct batch_item *out, char *errmsg)
{
    memset(out, 0, sizeof *out);
    if (it->off == SIZE_MAX) {
        errmsg_printf(errmsg, "batch: iterator stopped at an earlier error");
        return TERN_E_MALFORMED;
    }
    if (it->off >= it->n)
        return 0;
    size_t at = it->off;
    size_t left = it->n - at;
    struct cursor c;
    cursor_init(&c, it->p + at, left);
    uint32_t total = cursor_be32(&c);
    if (c.err) {
        errmsg_printf(errmsg, "batch record at byte %zu: truncated total size (%zu of 4 bytes)", at,
                      left);
        goto err;
    }
    if (total < BATCH_MIN_RECORD || total > left) {
        errmsg_printf(errmsg, "batch record at byte %zu: total size %u outside %u..%zu", at, total,
                      BATCH_MIN_RECORD, left);
        goto err;
    }
    cursor_init(&c, it->p + at + 4, total - 4);
    (void)cursor_be32(&c); /* MAGICCODE */
    (void)cursor_be32(&c); /* BODYCRC */
    out->flag = (int32_t)cursor_be32(&c);
    uint32_t body_len = cursor_be32(&c);
    if (body_len > it->l->max_body) {
        errmsg_printf(errmsg, "batch record at byte %zu: body length %u exceeds %u", at, body_len,
                      it->l->max_body);
        goto err;
    }
    if (body_len > cursor_left(&c)) {
        errmsg_printf(errmsg, "batch record at byte %zu: body length %u exceeds %zu bytes left", at,
                      body_len, cursor_left(&c));
        goto err;
    }
    out->body.p = (const char *)cursor_take(&c, body_len);
    out->body.len = body_len;
    size_t props_len = cursor_be16(&c);
    if (c.err) {
        errmsg_printf(errmsg, "batch record at byte %zu: total size %u truncates properties length",
                      at, total);
        goto err;
    }
    if (props_len > it->l->max_properties || props_len > PROPS_MAX_STORED) {
        errmsg_printf(errmsg, "batch record at byte %zu: properties length %zu exceeds %u", at,
                      props_len, it->l->max_properties);
        goto err;
    }
    if (props_len != cursor_left(&c)) {
        errmsg_printf(errmsg,
                      "batch record at byte %zu: properties length %zu does not fill total size %u "
                      "(%zu bytes left)",
                      at, props_len, total, cursor_left(&c));
        goto err;
    }
    out->properties.p = (const char *)cursor_take(&c, props_len);
    out->properties.len = props_len;
    it->off = at + total;
    return 1;

err:
    memset(out, 0, sizeof *out);
    it->off = SIZE_MAX;
    return TERN_E_MALFORMED;
}

int batch_encode_item(struct buf *out, int32_t flag, const void *body, size_t body_len,
                      const char *props, size_t props_len)
{
    if (props_len > PROPS_MAX_STORED || body_len > INT32_MAX - BATCH_MIN_RECORD - PROPS_MAX_STORED)
        return TERN_E_INVAL;
    uint32_t total = (uint32_t)(BATCH_MIN_RECORD + body_len + props_len);
    buf_append_be32(out, total);
    buf_append_be32(out, 0);
    buf_append_be32(out, 0);
    buf_append_be32(out, (uint32_t)flag);
    buf_append_be32(out, (uint32_t)body_len);
    buf_append(out, body, body_len);
    buf_append_be16(out, (uint16_t)props_len);
    buf_append(out, props, props_len);
    return out->err;
}
