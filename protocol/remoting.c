/* Remoting commands: stream framing, frame decode dispatch, extFields storage and typed access. */
#include "protocol/remoting.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/hdr_codec.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"

#define OFF_NONE UINT32_MAX

void remoting_cmd_init(struct remoting_cmd *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->arena);
    c->remark_off = OFF_NONE;
}

void remoting_cmd_free(struct remoting_cmd *c)
{
    buf_free(&c->arena);
    remoting_cmd_init(c);
}

void remoting_cmd_reset(struct remoting_cmd *c)
{
    c->code = 0;
    c->language = 0;
    c->version = 0;
    c->opaque = 0;
    c->flag = 0;
    c->remark.p = NULL;
    c->remark.len = 0;
    c->remark_off = OFF_NONE;
    c->n_ext = 0;
    c->body.p = NULL;
    c->body.len = 0;
    c->serialize = REMOTING_SER_JSON;
    buf_reset(&c->arena);
}

/* The arena moved: re-point every slice that lives in it. */
static void rebase(struct remoting_cmd *c)
{
    const char *base = (const char *)c->arena.data;
    for (size_t i = 0; i < c->n_ext; i++) {
        if (c->key_off[i] != OFF_NONE)
            c->ext[i].key.p = base + c->key_off[i];
        if (c->val_off[i] != OFF_NONE)
            c->ext[i].val.p = base + c->val_off[i];
    }
    if (c->remark_off != OFF_NONE)
        c->remark.p = base + c->remark_off;
}

/* Copy n bytes into the arena, NUL-terminated (so arena strings are also C
 * strings), and report where. p may point into the arena itself: it is
 * re-derived after a possible move. */
static int arena_copy(struct remoting_cmd *c, const char *p, size_t n, uint32_t *off)
{
    struct buf *a = &c->arena;
    size_t inside = SIZE_MAX;
    uintptr_t up = (uintptr_t)p, base = (uintptr_t)a->data;
    if (a->data && p && up >= base && up < base + a->len)
        inside = (size_t)(up - base);
    if (n >= OFF_NONE - 1 || a->len > OFF_NONE - 2 - n)
        return TERN_E_TOOBIG;
    size_t cap = a->cap;
    int rc = buf_reserve(a, n + 1);
    if (rc)
        return rc;
    if (a->cap != cap)
        rebase(c);
    const uint8_t *src = inside != SIZE_MAX ? a->data + inside : (const uint8_t *)p;
    *off = (uint32_t)a->len;
    if (n)
        memmove(a->data + a->len, src, n);
    a->data[a->len + n] = '\0';
    a->len += n + 1;
    return 0;
}

int remoting_ext_put(struct remoting_cmd *c, struct slice key, struct slice val, bool copy,
                     bool replace)
{
    size_t i = c->n_ext;
    if (replace) {
        for (size_t j = 0; j < c->n_ext; j++) {
            if (slice_eq_slice(c->ext[j].key, key)) {
                i = j;
                break;
            }
        }
    }
    bool fresh = i == c->n_ext;
    if (fresh && c->n_ext == REMOTING_MAX_EXT)
        return TERN_E_TOOBIG;
    if (!copy) {
        if (fresh) {
            c->ext[i].key = key;
            c->key_off[i] = OFF_NONE;
        }
        c->ext[i].val = val;
        c->val_off[i] = OFF_NONE;
        if (fresh)
            c->n_ext++;
        return 0;
    }
    uint32_t koff = OFF_NONE, voff;
    int rc;
    if (fresh && (rc = arena_copy(c, key.p, key.len, &koff)))
        return rc;
    if ((rc = arena_copy(c, val.p, val.len, &voff)))
        return rc;
    /* Pointers are derived only now: the second copy may have moved the arena. */
    const char *base = (const char *)c->arena.data;
    if (fresh) {
        c->ext[i].key.p = base + koff;
        c->ext[i].key.len = key.len;
        c->key_off[i] = koff;
        c->n_ext++;
    }
    c->ext[i].val.p = base + voff;
    c->ext[i].val.len = val.len;
    c->val_off[i] = voff;
    return 0;
}

int remoting_frame_check(const uint8_t *p, size_t n, const struct limits *l, size_t *frame_len,
                         char *errmsg)
{
    if (n < 4)
        return TERN_E_AGAIN;
    uint32_t total = be32_load(p);
    /* max_frame counts the length word too, as Netty's maxFrameLength does. */
    if ((uint64_t)total + 4 > l->max_frame) {
        errmsg_printf(errmsg, "frame: length %" PRIu32 " exceeds max %" PRIu32, total, l->max_frame);
        return TERN_E_TOOBIG;
    }
    if (total < 4) {
        errmsg_printf(errmsg, "frame: length %" PRIu32 " shorter than the header word", total);
        return TERN_E_MALFORMED;
    }
    if (n < REMOTING_PREFIX_LEN)
        return TERN_E_AGAIN;
    uint32_t word = be32_load(p + 4);
    uint32_t type = word >> 24, hlen = word & 0xFFFFFFu;
    if (type != REMOTING_SER_JSON && type != REMOTING_SER_ROCKETMQ) {
        errmsg_printf(errmsg, "frame: unknown serialize type %" PRIu32, type);
        return TERN_E_MALFORMED;
    }
    if (hlen > total - 4) {
        errmsg_printf(errmsg, "frame: header length %" PRIu32 " exceeds frame length %" PRIu32, hlen,
                      total);
        return TERN_E_MALFORMED;
    }
    if (hlen > l->max_header) {
        errmsg_printf(errmsg, "frame: header length %" PRIu32 " exceeds max %" PRIu32, hlen,
                      l->max_header);
        return TERN_E_TOOBIG;
    }
    uint32_t blen = total - 4 - hlen;
    if (blen > l->max_body) {
        errmsg_printf(errmsg, "frame: body length %" PRIu32 " exceeds max %" PRIu32, blen, l->max_body);
        return TERN_E_TOOBIG;
    }
    if (n - 4 < total)
        return TERN_E_AGAIN;
    *frame_len = (size_t)total + 4;
    return 0;
}

int remoting_decode(struct remoting_cmd *c, const uint8_t *frame, size_t len,
                    const struct limits *l, char *errmsg)
{
    size_t flen = 0;
    int rc = remoting_frame_check(frame, len, l, &flen, errmsg);
    if (rc == TERN_E_AGAIN) {
        errmsg_printf(errmsg, "frame: truncated at %zu bytes", len);
        return TERN_E_MALFORMED;
    }
    if (rc)
        return rc;
    if (flen != len) {
        errmsg_printf(errmsg, "frame: %zu bytes after the frame end", len - flen);
        return TERN_E_MALFORMED;
    }
    uint32_t word = be32_load(frame + 4);
    size_t hlen = word & 0xFFFFFFu;
    remoting_cmd_reset(c);
    c->serialize = (uint8_t)(word >> 24);
    const uint8_t *hdr = frame + REMOTING_PREFIX_LEN;
    if (c->serialize == REMOTING_SER_ROCKETMQ)
        rc = hdr_binary_decode(c, hdr, hlen, errmsg);
    else
        rc = hdr_json_decode(c, hdr, hlen, errmsg);
    if (rc)
        return rc;
    c->body.p = (const char *)hdr + hlen;
    c->body.len = len - REMOTING_PREFIX_LEN - hlen;
    return 0;
}

int remoting_decode_json(struct remoting_cmd *c, const uint8_t *hdr, size_t n, char *errmsg)
{
    remoting_cmd_reset(c);
    return hdr_json_decode(c, hdr, n, errmsg);
}

int remoting_decode_binary(struct remoting_cmd *c, const uint8_t *hdr, size_t n, char *errmsg)
{
    remoting_cmd_reset(c);
    c->serialize = REMOTING_SER_ROCKETMQ;
    return hdr_binary_decode(c, hdr, n, errmsg);
}

struct slice remoting_ext_get(const struct remoting_cmd *c, const char *key)
{
    struct slice none = {NULL, 0};
    for (size_t i = 0; i < c->n_ext; i++) {
        if (slice_eq(c->ext[i].key, key))
            return c->ext[i].val;
    }
    return none;
}

/* Strict decimal, as Java's Long.parseLong: optional sign, at least one
 * digit, nothing else, within [min, max]. */
static bool parse_int(struct slice s, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (s.len == 0)
        return false;
    if (s.p[0] == '-' || s.p[0] == '+') {
        neg = s.p[0] == '-';
        i = 1;
    }
    if (i == s.len)
        return false;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.p[i] - '0';
        if (d > 9 || v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    int64_t r = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    if (r < min || r > max)
        return false;
    *out = r;
    return true;
}

static int get_int(const struct remoting_cmd *c, const char *key, int64_t min, int64_t max,
                   const char *what, int64_t *out, char *errmsg)
{
    struct slice v = remoting_ext_get(c, key);
    if (!v.p) {
        errmsg_printf(errmsg, "missing '%s'", key);
        return TERN_E_NOTFOUND;
    }
    if (!parse_int(v, min, max, out)) {
        errmsg_printf(errmsg, "'%s': not an %s: \"%.*s\"", key, what, (int)(v.len > 40 ? 40 : v.len),
                      v.p);
        return TERN_E_MALFORMED;
    }
    return 0;
}

int remoting_ext_get_i32(const struct remoting_cmd *c, const char *key, int32_t *out, char *errmsg)
{
    int64_t v;
    int rc = get_int(c, key, INT32_MIN, INT32_MAX, "int32", &v, errmsg);
    if (rc == 0)
        *out = (int32_t)v;
    return rc;
}

int remoting_ext_get_i64(const struct remoting_cmd *c, const char *key, int64_t *out, char *errmsg)
{
    return get_int(c, key, INT64_MIN, INT64_MAX, "int64", out, errmsg);
}

static bool eq_nocase(struct slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s.p[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != lit[i])
            return false;
    }
    return true;
}

int remoting_ext_get_bool(const struct remoting_cmd *c, const char *key, bool *out, char *errmsg)
{
    struct slice v = remoting_ext_get(c, key);
    if (!v.p) {
        errmsg_printf(errmsg, "missing '%s'", key);
        return TERN_E_NOTFOUND;
    }
    if (eq_nocase(v, "true")) {
        *out = true;
        return 0;
    }
    if (eq_nocase(v, "false")) {
        *out = false;
        return 0;
    }
    errmsg_printf(errmsg, "'%s': not a bool: \"%.*s\"", key, (int)(v.len > 40 ? 40 : v.len), v.p);
    return TERN_E_MALFORMED;
}

void remoting_cmd_init_request(struct remoting_cmd *c, int code)
{
    remoting_cmd_reset(c);
    c->code = code;
    c->language = CODES_LANG_JAVA;
    c->version = CODES_VERSION_TERN;
}

int remoting_cmd_init_response(struct remoting_cmd *c, const struct remoting_cmd *req, int code,
                               const char *remark)
{
    remoting_cmd_reset(c);
    c->code = code;
    c->language = CODES_LANG_JAVA;
    c->version = CODES_VERSION_TERN;
    c->opaque = req->opaque;
    c->flag = REMOTING_FLAG_RESPONSE;
    /* 4.x echoes the request's form (PROTOCOL.md §2.5); a C++ client only
     * ever sends JSON, so it always gets JSON back. */
    c->serialize = req->serialize;
    return remoting_set_remark(c, slice_of(remark));
}

int remoting_set_remark(struct remoting_cmd *c, struct slice remark)
{
    if (!remark.p) {
        c->remark.p = NULL;
        c->remark.len = 0;
        c->remark_off = OFF_NONE;
        return 0;
    }
    uint32_t off;
    int rc = arena_copy(c, remark.p, remark.len, &off);
    if (rc)
        return rc;
    c->remark.p = (const char *)c->arena.data + off;
    c->remark.len = remark.len;
    c->remark_off = off;
    return 0;
}

int remoting_ext_set(struct remoting_cmd *c, struct slice key, struct slice val)
{
    if (!val.p)
        val = slice_of("");
    return remoting_ext_put(c, key, val, true, true);
}

int remoting_ext_set_str(struct remoting_cmd *c, const char *key, const char *val)
{
    return remoting_ext_set(c, slice_of(key), slice_of(val));
}

int remoting_ext_set_int(struct remoting_cmd *c, const char *key, int64_t val)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, val);
    struct slice v = {tmp, (size_t)n};
    return remoting_ext_set(c, slice_of(key), v);
}

int remoting_ext_set_bool(struct remoting_cmd *c, const char *key, bool val)
{
    return remoting_ext_set(c, slice_of(key), slice_of(val ? "true" : "false"));
}

int remoting_encode(const struct remoting_cmd *c, size_t body_len, struct buf *out)
{
    if (out->err)
        return out->err;
    if (c->serialize != REMOTING_SER_JSON && c->serialize != REMOTING_SER_ROCKETMQ)
        return TERN_E_INVAL;
    size_t start = out->len;
    buf_append_be32(out, 0);
    buf_append_be32(out, 0);
    int rc = out->err;
    if (!rc)
        rc = c->serialize == REMOTING_SER_ROCKETMQ ? hdr_binary_encode(c, out) : hdr_json_encode(c, out);
    if (!rc)
        rc = out->err;
    if (rc)
        goto err;
    size_t hlen = out->len - start - REMOTING_PREFIX_LEN;
    /* Java reads TOTAL as an int; the header length has 24 bits. */
    if (hlen > 0xFFFFFFu || body_len > (size_t)INT32_MAX - 4 - hlen) {
        rc = TERN_E_TOOBIG;
        goto err;
    }
    be32_store(out->data + start, (uint32_t)(4 + hlen + body_len));
    be32_store(out->data + start + 4, (uint32_t)c->serialize << 24 | (uint32_t)hlen);
    return 0;
err:
    out->len = start;
    out->err = 0;
    return rc;
}
