/* Binary "ROCKETMQ" remoting header (PROTOCOL.md §2.2): cursor-based decode with strings left in the frame, and encode. */
#include <inttypes.h>
#include <string.h>

#include "protocol/hdr_codec.h"
#include "src/cursor.h"
#include "src/errmsg.h"
#include "tern/error.h"

static int decode_ext(struct remoting_cmd *c, struct cursor *cur, char *errmsg)
{
    while (cursor_left(cur) > 0) {
        size_t left = cursor_left(cur);
        if (left < 2) {
            errmsg_printf(errmsg, "binary header: extFields entry truncated (%zu bytes left)", left);
            return TERN_E_MALFORMED;
        }
        int16_t klen = (int16_t)cursor_be16(cur);
        if (klen < 0 || (size_t)klen > cursor_left(cur)) {
            errmsg_printf(errmsg, "binary header: extFields key length %d exceeds remaining %zu", klen,
                          cursor_left(cur));
            return TERN_E_MALFORMED;
        }
        struct slice key = {(const char *)cursor_take(cur, (size_t)klen), (size_t)klen};
        if (cursor_left(cur) < 4) {
            errmsg_printf(errmsg, "binary header: extFields value length truncated");
            return TERN_E_MALFORMED;
        }
        int32_t vlen = (int32_t)cursor_be32(cur);
        if (vlen < 0 || (size_t)vlen > cursor_left(cur)) {
            errmsg_printf(errmsg, "binary header: extFields value length %" PRId32 " exceeds remaining %zu",
                          vlen, cursor_left(cur));
            return TERN_E_MALFORMED;
        }
        struct slice val = {(const char *)cursor_take(cur, (size_t)vlen), (size_t)vlen};
        /* Zero length is Java's null: the field is absent. */
        if (klen == 0 || vlen == 0)
            continue;
        /* Java's HashMap keeps the last of duplicate keys; so do we. */
        int rc = remoting_ext_put(c, key, val, false, true);
        if (rc) {
            errmsg_printf(errmsg, "binary header: extFields has more than %d entries", REMOTING_MAX_EXT);
            return TERN_E_MALFORMED;
        }
    }
    return 0;
}

int hdr_binary_decode(struct remoting_cmd *c, const uint8_t *p, size_t n, char *errmsg)
{
    if (n < REMOTING_BINARY_FIXED) {
        errmsg_printf(errmsg, "binary header: %zu bytes, fixed part needs %d", n, REMOTING_BINARY_FIXED);
        return TERN_E_MALFORMED;
    }
    struct cursor cur;
    cursor_init(&cur, p, n);
    c->code = (int16_t)cursor_be16(&cur);
    c->language = cursor_u8(&cur);
    c->version = (int16_t)cursor_be16(&cur);
    c->opaque = (int32_t)cursor_be32(&cur);
    c->flag = (int32_t)cursor_be32(&cur);
    int32_t rlen = (int32_t)cursor_be32(&cur);
    if (rlen < 0 || (size_t)rlen > cursor_left(&cur)) {
        errmsg_printf(errmsg, "binary header: remark length %" PRId32 " exceeds remaining %zu", rlen,
                      cursor_left(&cur));
        return TERN_E_MALFORMED;
    }
    if (rlen > 0) {
        c->remark.p = (const char *)cursor_take(&cur, (size_t)rlen);
        c->remark.len = (size_t)rlen;
    }
    if (cursor_left(&cur) < 4) {
        errmsg_printf(errmsg, "binary header: extFields length truncated");
        return TERN_E_MALFORMED;
    }
    int32_t elen = (int32_t)cursor_be32(&cur);
    if (elen < 0 || (size_t)elen > cursor_left(&cur)) {
        errmsg_printf(errmsg, "binary header: extFields length %" PRId32 " exceeds remaining %zu", elen,
                      cursor_left(&cur));
        return TERN_E_MALFORMED;
    }
    struct cursor ext;
    cursor_init(&ext, cursor_take(&cur, (size_t)elen), (size_t)elen);
    int rc = decode_ext(c, &ext, errmsg);
    if (rc)
        return rc;
    if (cursor_left(&cur) != 0) {
        /* The header length is ours to trust only if every byte is accounted for. */
        errmsg_printf(errmsg, "binary header: %zu trailing bytes", cursor_left(&cur));
        return TERN_E_MALFORMED;
    }
    return 0;
}

int hdr_binary_encode(const struct remoting_cmd *c, struct buf *out)
{
    if (c->code < INT16_MIN || c->code > INT16_MAX || c->version < INT16_MIN || c->version > INT16_MAX ||
        c->language < 0 || c->language > 255)
        return TERN_E_INVAL;
    uint64_t elen = 0;
    for (size_t i = 0; i < c->n_ext; i++) {
        if (c->ext[i].key.len > INT16_MAX)
            return TERN_E_INVAL;
        elen += 6 + c->ext[i].key.len + c->ext[i].val.len;
    }
    if (elen > INT32_MAX || c->remark.len > INT32_MAX)
        return TERN_E_TOOBIG;
    buf_append_be16(out, (uint16_t)(int16_t)c->code);
    buf_append_u8(out, (uint8_t)c->language);
    buf_append_be16(out, (uint16_t)(int16_t)c->version);
    buf_append_be32(out, (uint32_t)c->opaque);
    buf_append_be32(out, (uint32_t)c->flag);
    buf_append_be32(out, (uint32_t)c->remark.len);
    buf_append(out, c->remark.p, c->remark.len);
    buf_append_be32(out, (uint32_t)elen);
    for (size_t i = 0; i < c->n_ext; i++) {
        const struct remoting_ext *e = &c->ext[i];
        buf_append_be16(out, (uint16_t)e->key.len);
        buf_append(out, e->key.p, e->key.len);
        buf_append_be32(out, (uint32_t)e->val.len);
        buf_append(out, e->val.p, e->val.len);
    }
    return out->err;
}
