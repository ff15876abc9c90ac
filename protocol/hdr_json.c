/* JSON remoting header (PROTOCOL.md §2.1): lenient decode via jansson into the cmd's arena, fastjson-ordered encode. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/hdr_codec.h"
#include "src/errmsg.h"
#include "src/jsonw.h"
#include "tern/error.h"

/* An int32 header field; null or absent leaves the default (Java's 0). */
static int get_i32(json_t *root, const char *key, int32_t *out, char *errmsg)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        errmsg_printf(errmsg, "json header: '%s' is not an integer", key);
        return TERN_E_MALFORMED;
    }
    json_int_t i = json_integer_value(v);
    if (i < INT32_MIN || i > INT32_MAX) {
        errmsg_printf(errmsg, "json header: '%s' %" JSON_INTEGER_FORMAT " outside int32", key, i);
        return TERN_E_MALFORMED;
    }
    *out = (int32_t)i;
    return 0;
}

/* Java, Go and C++ write the enum name; an int is accepted for robustness.
 * Unknown names map to OTHER rather than failing: the value is advisory. */
static int get_language(json_t *root, int *out, char *errmsg)
{
    json_t *v = json_object_get(root, "language");
    if (!v || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        int lang = codes_language_from_name(json_string_value(v), json_string_length(v));
        *out = lang < 0 ? CODES_LANG_OTHER : lang;
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 255) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    errmsg_printf(errmsg, "json header: 'language' is neither a name nor a byte");
    return TERN_E_MALFORMED;
}

/* Shortest text that reads back as the same double. jansson keeps no source
 * text, so "1.50" becomes "1.5"; real-valued extFields do not occur in
 * practice (only integers and booleans, from the C++ client). */
static size_t real_text(double d, char *out, size_t cap)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    return n < 0 ? 0 : (size_t)n;
}

static int decode_ext(struct remoting_cmd *c, json_t *ext, char *errmsg)
{
    const char *k;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(ext, k, klen, v)
    {
        char tmp[64];
        struct slice key = {k, klen}, val;
        if (json_is_string(v)) {
            val.p = json_string_value(v);
            val.len = json_string_length(v);
        } else if (json_is_integer(v)) {
            int n = snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            val.p = tmp;
            val.len = (size_t)n;
        } else if (json_is_real(v)) {
            val.p = tmp;
            val.len = real_text(json_real_value(v), tmp, sizeof tmp);
        } else if (json_is_boolean(v)) {
            val = slice_of(json_is_true(v) ? "true" : "false");
        } else if (json_is_null(v)) {
            continue; /* a null value is an absent field, as in Java's map */
        } else {
            errmsg_printf(errmsg, "json header: extFields '%.*s' is not a scalar",
                          (int)(klen > 40 ? 40 : klen), k);
            return TERN_E_MALFORMED;
        }
        /* jansson already merged duplicate keys (last wins), so append. */
        int rc = remoting_ext_put(c, key, val, true, false);
        if (rc == TERN_E_TOOBIG) {
            errmsg_printf(errmsg, "json header: extFields has more than %d entries", REMOTING_MAX_EXT);
            return TERN_E_MALFORMED;
        }
        if (rc) {
            errmsg_printf(errmsg, "json header: out of memory");
            return rc;
        }
    }
    return 0;
}

int hdr_json_decode(struct remoting_cmd *c, const uint8_t *p, size_t n, char *errmsg)
{
    json_error_t je;
    /* JSON_ALLOW_NUL: \u0000 is legal JSON and slices carry lengths. */
    json_t *root = json_loadb((const char *)p, n, JSON_ALLOW_NUL, &je);
    if (!root) {
        errmsg_printf(errmsg, "json header: %s at byte %d", je.text, je.position);
        return TERN_E_MALFORMED;
    }
    int rc = 0;
    int32_t code = 0, version = 0, opaque = 0, flag = 0;
    int language = CODES_LANG_JAVA;
    if (!json_is_object(root)) {
        errmsg_printf(errmsg, "json header: not an object");
        rc = TERN_E_MALFORMED;
        goto out;
    }
    if ((rc = get_i32(root, "code", &code, errmsg)) || (rc = get_i32(root, "version", &version, errmsg)) ||
        (rc = get_i32(root, "opaque", &opaque, errmsg)) || (rc = get_i32(root, "flag", &flag, errmsg)) ||
        (rc = get_language(root, &language, errmsg)))
        goto out;
    c->code = code;
    c->version = version;
    c->opaque = opaque;
    c->flag = flag;
    c->language = language;

    json_t *remark = json_object_get(root, "remark");
    if (remark && json_is_string(remark)) {
        struct slice r = {json_string_value(remark), json_string_length(remark)};
        if ((rc = remoting_set_remark(c, r))) {
            errmsg_printf(errmsg, "json header: out of memory");
            goto out;
        }
    } else if (remark && !json_is_null(remark)) {
        errmsg_printf(errmsg, "json header: 'remark' is not a string");
        rc = TERN_E_MALFORMED;
        goto out;
    }

    json_t *ext = json_object_get(root, "extFields");
    if (ext && json_is_object(ext)) {
        rc = decode_ext(c, ext, errmsg);
    } else if (ext && !json_is_null(ext)) {
        errmsg_printf(errmsg, "json header: 'extFields' is not an object");
        rc = TERN_E_MALFORMED;
    }
out:
    json_decref(root);
    return rc;
}

static int cmp_slice(struct slice a, struct slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int r = n ? memcmp(a.p, b.p, n) : 0;
    if (r)
        return r;
    return a.len < b.len ? -1 : a.len > b.len;
}

static void put_str(struct buf *out, struct slice s)
{
    /* ascii_only: the result is valid JSON even if a value holds invalid
     * UTF-8 taken from a binary header. */
    jsonw_escape(out, s.p ? s.p : "", s.len, true);
}

int hdr_json_encode(const struct remoting_cmd *c, struct buf *out)
{
    /* Keys in fastjson's (alphabetical) order; extFields sorted too so the
     * output is deterministic whatever order handlers set fields in. */
    uint8_t idx[REMOTING_MAX_EXT];
    size_t n = c->n_ext;
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && cmp_slice(c->ext[idx[j - 1]].key, c->ext[i].key) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = (uint8_t)i;
    }
    const char *lang = codes_language_name(c->language);
    buf_printf(out, "{\"code\":%d,\"extFields\":{", c->code);
    for (size_t i = 0; i < n; i++) {
        const struct remoting_ext *e = &c->ext[idx[i]];
        if (i)
            buf_append_u8(out, ',');
        put_str(out, e->key);
        buf_append_u8(out, ':');
        put_str(out, e->val);
    }
    buf_printf(out, "},\"flag\":%d,\"language\":\"%s\",\"opaque\":%d", (int)c->flag, lang ? lang : "OTHER",
               (int)c->opaque);
    if (c->remark.p) {
        buf_append_str(out, ",\"remark\":");
        put_str(out, c->remark);
    }
    buf_printf(out, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":%d}", c->version);
    return out->err;
}
