/* Java-compatible tag hash codes and TAG subscription expression parsing. */
#include "protocol/tags.h"

#include <string.h>

#include "src/errmsg.h"
#include "tern/error.h"

/* Decode one code point at s[*i]; malformed input yields U+FFFD and skips
 * the lead byte plus the continuation bytes that were valid so far. */
static uint32_t next_code_point(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char b = s[*i];
    size_t need;
    uint32_t cp;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
        (*i)++;
        return b;
    } else if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        cp = b & 0x0F;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        cp = b & 0x07;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    (*i)++;
    for (size_t k = 0; k < need; k++) {
        if (*i >= n || s[*i] < lo || s[*i] > hi)
            return 0xFFFD;
        cp = cp << 6 | (s[*i] & 0x3F);
        (*i)++;
        lo = 0x80;
        hi = 0xBF;
    }
    return cp;
}

int32_t tags_hash(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t h = 0;
    size_t i = 0;
    while (i < n) {
        uint32_t cp = next_code_point(u, n, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

static struct slice trim(const char *p, size_t n)
{
    while (n > 0 && (unsigned char)p[0] <= ' ') {
        p++;
        n--;
    }
    while (n > 0 && (unsigned char)p[n - 1] <= ' ')
        n--;
    struct slice v = {p, n};
    return v;
}

int tags_parse(const char *s, size_t n, struct tags_expr *out, char *errmsg)
{
    out->all = false;
    out->count = 0;
    if (n == 0 || (n == 1 && s[0] == '*')) {
        out->all = true;
        return 0;
    }
    size_t pos = 0;
    while (pos <= n) {
        size_t end = pos;
        while (end < n && !(s[end] == '|' && end + 1 < n && s[end + 1] == '|'))
            end++;
        struct slice t = trim(s + pos, end - pos);
        pos = end + 2;
        if (t.len == 0)
            continue;
        size_t k;
        for (k = 0; k < out->count; k++) {
            if (slice_eq_slice(out->tags[k], t))
                break;
        }
        if (k < out->count)
            continue;
        if (out->count == TAGS_MAX) {
            errmsg_printf(errmsg, "tags: more than %d tags in expression", TAGS_MAX);
            out->count = 0;
            return TERN_E_MALFORMED;
        }
        out->tags[out->count] = t;
        out->codes[out->count] = tags_hash(t.p, t.len);
        out->count++;
    }
    return 0;
}

bool tags_match_code(const struct tags_expr *e, int32_t code)
{
    if (e->all)
        return true;
    for (size_t i = 0; i < e->count; i++) {
        if (e->codes[i] == code)
            return true;
    }
    return false;
}

bool tags_match(const struct tags_expr *e, const char *tag, size_t n)
{
    if (e->all)
        return true;
    struct slice t = {tag, n};
    for (size_t i = 0; i < e->count; i++) {
        if (slice_eq_slice(e->tags[i], t))
            return true;
    }
    return false;
}
