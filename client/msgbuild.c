/* Pure pieces of the produce and consume paths: properties strings of
 * outgoing messages, body compression (LZ4 frames as RocketMQ 5's
 * Lz4Compressor writes them) and decompression (LZ4 frame, zlib), and queue
 * selection by sharding key. No I/O, unit-tested directly. */
#include "client/msgbuild.h"

#include <lz4frame.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "protocol/properties.h"
#include "protocol/tags.h"
#include "tern/error.h"

static bool bad_key(const char *k)
{
    return !k || !*k || strchr(k, PROPERTIES_NAME_SEP) || strchr(k, PROPERTIES_ITEM_SEP);
}

static bool bad_val(const char *v)
{
    return v && (strchr(v, PROPERTIES_NAME_SEP) || strchr(v, PROPERTIES_ITEM_SEP));
}

static void put(struct buf *out, const char *k, const char *v)
{
    if (v && *v)
        properties_append(out, k, v, strlen(v));
}

int msgbuild_properties(struct buf *out, const struct tern_send_msg *m, const char *uniq_key,
                        char *errmsg)
{
    if (bad_val(m->tags) || bad_val(m->keys) || bad_val(m->sharding_key)) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "tags, keys and sharding key must not contain 0x01/0x02");
        return TERN_E_INVAL;
    }
    for (size_t i = 0; i < m->prop_count; i++) {
        if (bad_key(m->props[i].key) || bad_val(m->props[i].value)) {
            snprintf(errmsg, TERN_ERRMSG_SIZE, "property %zu: empty key or 0x01/0x02 inside", i);
            return TERN_E_INVAL;
        }
    }
    if (m->delay_level < 0 || m->delay_level > 18) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "delay level %d out of range 0..18", m->delay_level);
        return TERN_E_INVAL;
    }
    if (m->delay_ms < 0 || m->deliver_at_ms < 0 || (m->delay_level > 0) + (m->delay_ms > 0) + (m->deliver_at_ms > 0) > 1) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "give at most one of delay level, delay ms, deliver-at (>= 0)");
        return TERN_E_INVAL;
    }
    /* User properties first so the reserved keys below win on a clash. */
    for (size_t i = 0; i < m->prop_count; i++)
        put(out, m->props[i].key, m->props[i].value);
    put(out, "TAGS", m->tags);
    put(out, "KEYS", m->keys);
    put(out, "UNIQ_KEY", uniq_key);
    if (m->delay_level > 0) {
        char d[8];
        snprintf(d, sizeof d, "%d", m->delay_level);
        put(out, "DELAY", d);
    }
    if (m->delay_ms > 0 || m->deliver_at_ms > 0) {
        char d[24];
        snprintf(d, sizeof d, "%lld", (long long)(m->delay_ms > 0 ? m->delay_ms : m->deliver_at_ms));
        put(out, m->delay_ms > 0 ? "TIMER_DELAY_MS" : "TIMER_DELIVER_MS", d);
    }
    put(out, "__SHARDINGKEY", m->sharding_key);
    if (out->err) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "properties: %s", tern_strerror(out->err));
        return out->err;
    }
    if (out->len > LIMITS_MAX_PROPERTIES) {
        snprintf(errmsg, TERN_ERRMSG_SIZE, "properties are %zu bytes (max %u)", out->len,
                 LIMITS_MAX_PROPERTIES);
        return TERN_E_TOOBIG;
    }
    return 0;
}

/* zlib at level 5 with the legacy sysFlag (0x1, type bits 0), the form Java
 * 4.x, Go, C++ and ali-ons consumers all decompress. */
static int compress_zlib(const void *body, size_t n, struct buf *out, int32_t *sysflag)
{
    uLongf bound = compressBound((uLong)n);
    size_t start = out->len;
    uint8_t *dst = buf_extend(out, bound);
    if (!dst)
        return out->err;
    if (compress2(dst, &bound, body, (uLong)n, 5) != Z_OK || bound >= n) {
        out->len = start;
        buf_append(out, body, n);
        return out->err ? out->err : 0;
    }
    out->len = start + bound;
    *sysflag |= MSG_SYSFLAG_COMPRESSED;
    return 0;
}

int msgbuild_compress(const void *body, size_t n, size_t threshold, int type, struct buf *out,
                      int32_t *sysflag)
{
    if (n <= threshold || threshold == SIZE_MAX) {
        buf_append(out, body, n);
        return out->err ? out->err : 0;
    }
    if (type != TERN_COMPRESS_LZ4)
        return compress_zlib(body, n, out, sysflag);
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockMode = LZ4F_blockIndependent; /* Java's LZ4FrameInputStream needs it */
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t bound = LZ4F_compressFrameBound(n, &prefs);
    size_t start = out->len;
    uint8_t *dst = buf_extend(out, bound);
    if (!dst)
        return out->err;
    size_t got = LZ4F_compressFrame(dst, bound, body, n, &prefs);
    if (LZ4F_isError(got) || got >= n) {
        /* Incompressible: send as is. */
        out->len = start;
        buf_append(out, body, n);
        return out->err ? out->err : 0;
    }
    out->len = start + got;
    *sysflag |= MSGBUILD_SYSFLAG_LZ4;
    return 0;
}

static int unlz4(const uint8_t *src, size_t n, size_t max, struct buf *out)
{
    LZ4F_dctx *d;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
        return TERN_E_NOMEM;
    int rv = 0;
    size_t off = 0;
    for (;;) {
        if (out->len >= max) {
            rv = TERN_E_TOOBIG;
            break;
        }
        size_t room = 64u << 10;
        if (room > max - out->len)
            room = max - out->len;
        uint8_t *dst = buf_extend(out, room);
        if (!dst) {
            rv = out->err;
            break;
        }
        size_t dlen = room, slen = n - off;
        size_t hint = LZ4F_decompress(d, dst, &dlen, src + off, &slen, NULL);
        out->len = out->len - room + dlen;
        off += slen;
        if (LZ4F_isError(hint)) {
            rv = TERN_E_CORRUPT;
            break;
        }
        if (hint == 0)
            break; /* end of frame */
        if (off >= n && dlen == 0) {
            rv = TERN_E_CORRUPT; /* truncated */
            break;
        }
    }
    LZ4F_freeDecompressionContext(d);
    return rv;
}

static int unzlib(const uint8_t *src, size_t n, size_t max, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return TERN_E_NOMEM;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    int rv = 0;
    for (;;) {
        if (out->len >= max) {
            rv = TERN_E_TOOBIG;
            break;
        }
        size_t room = 64u << 10;
        if (room > max - out->len)
            room = max - out->len;
        uint8_t *dst = buf_extend(out, room);
        if (!dst) {
            rv = out->err;
            break;
        }
        z.next_out = dst;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len -= z.avail_out;
        if (zr == Z_STREAM_END)
            break;
        if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
            rv = TERN_E_CORRUPT;
            break;
        }
    }
    inflateEnd(&z);
    return rv;
}

int msgbuild_decompress(int32_t sysflag, const void *src, size_t n, size_t max, struct buf *out)
{
    if (!(sysflag & MSG_SYSFLAG_COMPRESSED)) {
        buf_append(out, src, n);
        return out->err;
    }
    switch (msg_sysflag_compression(sysflag)) {
    case MSG_COMPRESSION_LZ4:
        return unlz4(src, n, max, out);
    case MSG_COMPRESSION_LEGACY_ZLIB:
    case MSG_COMPRESSION_ZLIB:
        return unzlib(src, n, max, out);
    default:
        return TERN_E_NOT_SUPPORTED; /* ZSTD */
    }
}

size_t msgbuild_select_by_key(const char *key, size_t nqueues)
{
    if (nqueues == 0)
        return 0;
    /* Java SelectMessageQueueByHash: hashCode() % size, made non-negative. */
    int32_t h = tags_hash(key, strlen(key));
    int64_t v = (int64_t)h % (int64_t)nqueues;
    if (v < 0)
        v = -v;
    return (size_t)v;
}
