/* ResetOffsetBody writer and scanner (see resetbody.h). The scanner walks
 * the offsetTable's key objects: each is "{...}" holding brokerName, queueId
 * and topic in any order, followed by ':' and the offset. Every read is
 * bounded by the body length; nothing is allocated. */
#include "protocol/resetbody.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tern/error.h"

#define OFFSET_TABLE "\"offsetTable\""

static void append_str(struct buf *out, const char *s)
{
    buf_append(out, s, strlen(s));
}

void resetbody_begin(struct buf *out)
{
    append_str(out, "{" OFFSET_TABLE ":{");
}

void resetbody_add(struct buf *out, const char *broker, const char *topic, int32_t queue_id, int64_t offset)
{
    if (out->len > 0 && out->data && out->data[out->len - 1] != '{')
        buf_append_u8(out, ',');
    char num[64];
    append_str(out, "{\"brokerName\":\"");
    append_str(out, broker);
    snprintf(num, sizeof num, "\",\"queueId\":%" PRId32 ",\"topic\":\"", queue_id);
    append_str(out, num);
    append_str(out, topic);
    snprintf(num, sizeof num, "\"}:%" PRId64, offset);
    append_str(out, num);
}

int resetbody_end(struct buf *out)
{
    append_str(out, "}}");
    return out->err;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Integer at p (JSON number without fraction); false if none or overflow. */
static bool parse_int(const char *p, const char *end, int64_t *out, const char **after)
{
    bool neg = false, any = false;
    uint64_t v = 0;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (v > (uint64_t)INT64_MAX / 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > (uint64_t)INT64_MAX)
            return false;
        any = true;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    *after = p;
    return any;
}

/* Find "key": inside [p, end) and return where its value starts. */
static const char *field(const char *p, const char *end, const char *key)
{
    size_t kl = strlen(key);
    for (const char *k = p; k + kl + 3 <= end; k++)
        if (k[0] == '"' && memcmp(k + 1, key, kl) == 0 && k[kl + 1] == '"') {
            const char *v = skip_ws(k + kl + 2, end);
            if (v < end && *v == ':')
                return skip_ws(v + 1, end);
        }
    return NULL;
}

static bool str_field(const char *p, const char *end, const char *key, struct slice *out)
{
    const char *v = field(p, end, key);
    if (!v || v >= end || *v != '"')
        return false;
    const char *s = ++v;
    while (v < end && *v != '"') {
        if (*v == '\\')
            return false; /* names carry no escapes */
        v++;
    }
    if (v >= end || v == s)
        return false;
    out->p = s;
    out->len = (size_t)(v - s);
    return true;
}

int resetbody_next(const char *p, size_t n, size_t *pos, struct resetbody_entry *e)
{
    const char *end = p + n, *at;
    if (*pos == SIZE_MAX)
        return 0;
    if (!p)
        return TERN_E_MALFORMED;
    if (*pos == 0) {
        const char *t = n >= sizeof OFFSET_TABLE - 1 ? memmem(p, n, OFFSET_TABLE, sizeof OFFSET_TABLE - 1) : NULL;
        if (!t)
            return TERN_E_MALFORMED;
        at = skip_ws(t + sizeof OFFSET_TABLE - 1, end);
        if (at >= end || *at != ':')
            return TERN_E_MALFORMED;
        at = skip_ws(at + 1, end);
        if (at >= end || *at != '{')
            return TERN_E_MALFORMED;
        at++;
    } else {
        if (*pos > n)
            return TERN_E_MALFORMED;
        at = p + *pos;
    }
    at = skip_ws(at, end);
    if (at < end && *at == ',')
        at = skip_ws(at + 1, end);
    if (at >= end)
        return TERN_E_MALFORMED;
    if (*at == '}') {
        *pos = SIZE_MAX; /* done: later calls return 0 too */
        return 0;
    }
    if (*at != '{')
        return TERN_E_MALFORMED;
    const char *close = memchr(at, '}', (size_t)(end - at));
    if (!close)
        return TERN_E_MALFORMED;
    int64_t qid, off;
    const char *qv = field(at, close, "queueId"), *after;
    if (!str_field(at, close, "brokerName", &e->broker) || !str_field(at, close, "topic", &e->topic) || !qv ||
        !parse_int(qv, close, &qid, &after) || qid < INT32_MIN || qid > INT32_MAX)
        return TERN_E_MALFORMED;
    at = skip_ws(close + 1, end);
    if (at >= end || *at != ':')
        return TERN_E_MALFORMED;
    at = skip_ws(at + 1, end);
    if (!parse_int(at, end, &off, &after))
        return TERN_E_MALFORMED;
    e->queue_id = (int32_t)qid;
    e->offset = off;
    *pos = (size_t)(after - p);
    return 1;
}
