/* Parse, look up, build and edit RocketMQ message property strings. */
#include "protocol/properties.h"

#include <string.h>

#include "src/errmsg.h"
#include "tern/error.h"

/* Advance *pos to the next valid item of s, setting key and val. Invalid
 * items (no separator, empty key or value, length < 3) are skipped the way
 * RocketMQ's string2messageProperties skips them, so every reader and the
 * editors agree on what a string contains. Returns false at the end. */
static bool next_item(const char *s, size_t n, size_t *pos, struct slice *key, struct slice *val)
{
    while (*pos < n) {
        size_t start = *pos;
        const char *e = memchr(s + start, PROPERTIES_ITEM_SEP, n - start);
        size_t end = e ? (size_t)(e - s) : n;
        *pos = end + 1;
        if (end - start < 3)
            continue;
        const char *sep = memchr(s + start, PROPERTIES_NAME_SEP, end - start);
        if (!sep)
            continue;
        size_t at = (size_t)(sep - s);
        if (at == start || at + 1 >= end)
            continue;
        key->p = s + start;
        key->len = at - start;
        val->p = sep + 1;
        val->len = end - at - 1;
        return true;
    }
    return false;
}

int properties_parse(const char *s, size_t n, const struct limits *l, struct properties *out,
                     char *errmsg)
{
    out->count = 0;
    if (n > l->max_properties) {
        errmsg_printf(errmsg, "properties: length %zu exceeds %u", n, l->max_properties);
        return TERN_E_MALFORMED;
    }
    size_t pos = 0;
    struct slice key, val;
    while (next_item(s, n, &pos, &key, &val)) {
        size_t i;
        for (i = 0; i < out->count; i++) {
            if (slice_eq_slice(out->items[i].key, key))
                break;
        }
        if (i < out->count) {
            out->items[i].val = val;
            continue;
        }
        if (out->count == PROPERTIES_MAX_ITEMS) {
            errmsg_printf(errmsg, "properties: more than %d items", PROPERTIES_MAX_ITEMS);
            out->count = 0;
            return TERN_E_MALFORMED;
        }
        out->items[out->count].key = key;
        out->items[out->count].val = val;
        out->count++;
    }
    return 0;
}

bool properties_find(const struct properties *props, const char *key, struct slice *val)
{
    for (size_t i = 0; i < props->count; i++) {
        if (slice_eq(props->items[i].key, key)) {
            *val = props->items[i].val;
            return true;
        }
    }
    return false;
}

bool properties_get(const char *s, size_t n, const char *key, struct slice *val)
{
    bool found = false;
    size_t pos = 0;
    struct slice k, v;
    while (next_item(s, n, &pos, &k, &v)) {
        if (slice_eq(k, key)) {
            *val = v;
            found = true;
        }
    }
    return found;
}

void properties_append(struct buf *out, const char *key, const char *val, size_t val_len)
{
    if (val_len == 0)
        return;
    buf_append_str(out, key);
    buf_append_u8(out, PROPERTIES_NAME_SEP);
    buf_append(out, val, val_len);
    buf_append_u8(out, PROPERTIES_ITEM_SEP);
}

void properties_build(const struct properties *props, struct buf *out)
{
    for (size_t i = 0; i < props->count; i++) {
        const struct properties_item *it = &props->items[i];
        buf_append(out, it->key.p, it->key.len);
        buf_append_u8(out, PROPERTIES_NAME_SEP);
        buf_append(out, it->val.p, it->val.len);
        buf_append_u8(out, PROPERTIES_ITEM_SEP);
    }
}

int properties_set(const char *s, size_t n, const char *key, const char *val, size_t val_len,
                   struct buf *out)
{
    size_t klen = strlen(key);
    if (klen == 0 || memchr(key, PROPERTIES_NAME_SEP, klen) || memchr(key, PROPERTIES_ITEM_SEP, klen))
        return TERN_E_INVAL;
    if (val && memchr(val, PROPERTIES_ITEM_SEP, val_len))
        return TERN_E_INVAL;
    size_t pos = 0;
    struct slice k, v;
    while (next_item(s, n, &pos, &k, &v)) {
        if (slice_eq(k, key))
            continue;
        buf_append(out, k.p, k.len);
        buf_append_u8(out, PROPERTIES_NAME_SEP);
        buf_append(out, v.p, v.len);
        buf_append_u8(out, PROPERTIES_ITEM_SEP);
    }
    if (val)
        properties_append(out, key, val, val_len);
    return out->err;
}

int properties_remove(const char *s, size_t n, const char *key, struct buf *out)
{
    return properties_set(s, n, key, NULL, 0, out);
}
