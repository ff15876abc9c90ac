/* Table-driven decode/encode shared by every typed header (PROTOCOL.md §4). */
#include "protocol/headers.h"

#include <string.h>

#include "protocol/codes.h"
#include "protocol/headers_fields.h"
#include "src/errmsg.h"
#include "tern/error.h"

static bool uses_v2(const struct remoting_cmd *c)
{
    return c->code == CODES_REQ_SEND_MESSAGE_V2 || c->code == CODES_REQ_SEND_BATCH_MESSAGE;
}

static const char *key_of(const struct headers_field *f, bool v2)
{
    return v2 && f->v2 ? f->v2 : f->name;
}

static int decode_field(const struct headers_desc *d, const struct headers_field *f, char *h,
                        const struct remoting_cmd *c, bool v2, const struct limits *l, char *errmsg)
{
    const char *key = key_of(f, v2);
    void *dst = h + f->off;
    int rc;
    switch (f->type) {
    case HEADERS_STR:
    case HEADERS_TOPIC: {
        struct slice v = remoting_ext_get(c, key);
        if (!v.p) {
            rc = TERN_E_NOTFOUND;
            break;
        }
        if (f->type == HEADERS_TOPIC && (rc = limits_check_topic(l, v.p, v.len, errmsg))) {
            if (strcmp(key, "topic") != 0 && strcmp(key, "b") != 0)
                errmsg_wrapf(errmsg, "'%s'", key);
            errmsg_wrapf(errmsg, "%s", d->what);
            return rc;
        }
        memcpy(dst, &v, sizeof v);
        rc = 0;
        break;
    }
    case HEADERS_I32: {
        int32_t v;
        if ((rc = remoting_ext_get_i32(c, key, &v, errmsg)) == 0)
            memcpy(dst, &v, sizeof v);
        break;
    }
    case HEADERS_I64: {
        int64_t v;
        if ((rc = remoting_ext_get_i64(c, key, &v, errmsg)) == 0)
            memcpy(dst, &v, sizeof v);
        break;
    }
    default: {
        bool v;
        if ((rc = remoting_ext_get_bool(c, key, &v, errmsg)) == 0)
            memcpy(dst, &v, sizeof v);
        break;
    }
    }
    if (rc == TERN_E_NOTFOUND) {
        if (f->presence != HEADERS_REQ)
            return 0;
        if (v2 && f->v2)
            errmsg_printf(errmsg, "%s: missing '%s' (%s)", d->what, f->v2, f->name);
        else
            errmsg_printf(errmsg, "%s: missing '%s'", d->what, f->name);
        return TERN_E_MALFORMED;
    }
    if (rc) {
        errmsg_wrapf(errmsg, "%s", d->what);
        return rc;
    }
    if (f->has_off >= 0) {
        bool yes = true;
        memcpy(h + f->has_off, &yes, sizeof yes);
    }
    return 0;
}

int headers_decode(const struct headers_desc *d, void *h, size_t size, const struct remoting_cmd *c,
                   const struct limits *l, char *errmsg)
{
    memset(h, 0, size);
    bool v2 = uses_v2(c);
    for (size_t i = 0; i < d->n; i++) {
        int rc = decode_field(d, &d->fields[i], h, c, v2, l, errmsg);
        if (rc)
            return rc;
    }
    return 0;
}

int headers_encode(const struct headers_desc *d, const void *hv, struct remoting_cmd *c)
{
    const char *h = hv;
    bool v2 = uses_v2(c);
    for (size_t i = 0; i < d->n; i++) {
        const struct headers_field *f = &d->fields[i];
        const char *key = key_of(f, v2);
        const void *src = h + f->off;
        if (f->has_off >= 0) {
            bool has;
            memcpy(&has, h + f->has_off, sizeof has);
            if (!has)
                continue;
        }
        int rc;
        switch (f->type) {
        case HEADERS_STR:
        case HEADERS_TOPIC: {
            struct slice v;
            memcpy(&v, src, sizeof v);
            if (!v.p)
                continue;
            rc = remoting_ext_set(c, slice_of(key), v);
            break;
        }
        case HEADERS_I32: {
            int32_t v;
            memcpy(&v, src, sizeof v);
            rc = remoting_ext_set_int(c, key, v);
            break;
        }
        case HEADERS_I64: {
            int64_t v;
            memcpy(&v, src, sizeof v);
            rc = remoting_ext_set_int(c, key, v);
            break;
        }
        default: {
            bool v;
            memcpy(&v, src, sizeof v);
            rc = remoting_ext_set_bool(c, key, v);
            break;
        }
        }
        if (rc)
            return rc;
    }
    return 0;
}
