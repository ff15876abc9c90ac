/* Compact JSON writer with automatic commas and full string escaping. */
#include "src/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tern/error.h"

void jsonw_init(struct jsonw *w, struct buf *b)
{
    memset(w, 0, sizeof *w);
    w->b = b;
    w->first[0] = true;
}

/* Called before every value or key: emits the separating comma. */
static void before_item(struct jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        buf_append_u8(w->b, ',');
    w->first[w->depth] = false;
}

static void open_container(struct jsonw *w, char c)
{
    before_item(w);
    buf_append_u8(w->b, (uint8_t)c);
    if (w->depth + 1 >= JSONW_MAX_DEPTH) {
        w->b->err = TERN_E_TOOBIG;
        return;
    }
    w->depth++;
    w->first[w->depth] = true;
}

static void close_container(struct jsonw *w, char c)
{
    buf_append_u8(w->b, (uint8_t)c);
    if (w->depth > 0)
        w->depth--;
}

void jsonw_obj_begin(struct jsonw *w)
{
    open_container(w, '{');
}
void jsonw_obj_end(struct jsonw *w)
{
    close_container(w, '}');
}
void jsonw_arr_begin(struct jsonw *w)
{
    open_container(w, '[');
}
void jsonw_arr_end(struct jsonw *w)
{
    close_container(w, ']');
}

void jsonw_key(struct jsonw *w, const char *k)
{
    before_item(w);
    jsonw_escape(w->b, k, strlen(k), w->ascii_only);
    buf_append_u8(w->b, ':');
    w->after_key = true;
}

void jsonw_key_raw(struct jsonw *w, const char *k)
{
    before_item(w);
    buf_append_str(w->b, k);
    buf_append_u8(w->b, ':');
    w->after_key = true;
}

void jsonw_str(struct jsonw *w, const char *s, size_t n)
{
    before_item(w);
    jsonw_escape(w->b, s, n, w->ascii_only);
}

void jsonw_cstr(struct jsonw *w, const char *s)
{
    jsonw_str(w, s, strlen(s));
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    before_item(w);
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    buf_append(w->b, tmp, (size_t)n);
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
    before_item(w);
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    buf_append(w->b, tmp, (size_t)n);
}

void jsonw_bool(struct jsonw *w, bool v)
{
    before_item(w);
    buf_append_str(w->b, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w)
{
    before_item(w);
    buf_append_str(w->b, "null");
}

void jsonw_kv_str(struct jsonw *w, const char *k, const char *s)
{
    jsonw_key(w, k);
    jsonw_cstr(w, s);
}

void jsonw_kv_int(struct jsonw *w, const char *k, int64_t v)
{
    jsonw_key(w, k);
    jsonw_int(w, v);
}

void jsonw_kv_bool(struct jsonw *w, const char *k, bool v)
{
    jsonw_key(w, k);
    jsonw_bool(w, v);
}

static const char hexdig[] = "0123456789abcdef";

static void put_u16_escape(struct buf *b, uint32_t u)
{
    uint8_t *d = buf_extend(b, 6);
    if (!d)
        return;
    d[0] = '\\';
    d[1] = 'u';
    d[2] = (uint8_t)hexdig[(u >> 12) & 15];
    d[3] = (uint8_t)hexdig[(u >> 8) & 15];
    d[4] = (uint8_t)hexdig[(u >> 4) & 15];
    d[5] = (uint8_t)hexdig[u & 15];
}

/* Decode one UTF-8 sequence at s (n bytes left). Returns its length and the
 * code point, or 0 if the bytes are not valid UTF-8. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

void jsonw_escape(struct buf *b, const char *str, size_t n, bool ascii_only)
{
    const uint8_t *s = (const uint8_t *)str;
    buf_append_u8(b, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F && (c < 0x80 || !ascii_only)) {
            i++;
            continue;
        }
        buf_append(b, s + run, i - run);
        if (c == '"' || c == '\\') {
            buf_append_u8(b, '\\');
            buf_append_u8(b, c);
            i++;
        } else if (c < 0x80) {
            switch (c) {
            case '\n':
                buf_append_str(b, "\\n");
                break;
            case '\r':
                buf_append_str(b, "\\r");
                break;
            case '\t':
                buf_append_str(b, "\\t");
                break;
            default:
                put_u16_escape(b, c);
            }
            i++;
        } else {
            uint32_t cp;
            size_t len = utf8_decode(s + i, n - i, &cp);
            if (len == 0) {
                put_u16_escape(b, 0xFFFD);
                i++;
            } else if (cp >= 0x10000) {
                cp -= 0x10000;
                put_u16_escape(b, 0xD800 | (cp >> 10));
                put_u16_escape(b, 0xDC00 | (cp & 0x3FF));
                i += len;
            } else {
                put_u16_escape(b, cp);
                i += len;
            }
        }
        run = i;
    }
    buf_append(b, s + run, n - run);
    buf_append_u8(b, '"');
}
