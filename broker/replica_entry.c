/* Encoding and bounds-checked decoding of replicated entries (format in replica_entry.h). */
#include "broker/replica_entry.h"

#include <stdlib.h>
#include <string.h>

#include "src/compress.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"

static size_t pad8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

size_t replica_entry_bound(size_t body_len)
{
    size_t c = body_len > REPLICA_ENTRY_LZ4_MIN ? compress_bound(body_len) : 0;
    size_t m = c > body_len ? c : body_len;
    return pad8(REPLICA_ENTRY_HDR + m);
}

size_t replica_entry_put_cmd_hdr(uint8_t *p, uint32_t len)
{
    le32_store(p, len);
    return REPLICA_ENTRY_CMD_HDR;
}

int replica_entry_encode(const uint8_t *body, size_t body_len, uint32_t count, bool compress,
                         uint8_t *out, size_t cap, size_t *out_len)
{
    if (count == 0 || body_len > REPLICA_ENTRY_MAX_BODY)
        return TERN_E_INVAL;
    size_t stored = body_len;
    uint8_t flags = 0;
    if (compress && body_len > REPLICA_ENTRY_LZ4_MIN && cap > REPLICA_ENTRY_HDR) {
        /* Only keep the LZ4 form if it saves >= 10 %: limit the output so a
         * poor ratio fails fast inside LZ4. */
        size_t limit = body_len - body_len / 10;
        if (limit > cap - REPLICA_ENTRY_HDR)
            limit = cap - REPLICA_ENTRY_HDR;
        size_t c = compress_lz4(body, body_len, out + REPLICA_ENTRY_HDR, limit);
        if (c > 0 && c <= body_len - body_len / 10) {
            stored = c;
            flags = REPLICA_ENTRY_F_LZ4;
        }
    }
    size_t total = pad8(REPLICA_ENTRY_HDR + stored);
    if (total > cap)
        return TERN_E_TOOBIG;
    if (!flags)
        memcpy(out + REPLICA_ENTRY_HDR, body, body_len);
    le32_store(out, REPLICA_ENTRY_MAGIC);
    out[4] = REPLICA_ENTRY_VERSION;
    out[5] = flags;
    le16_store(out + 6, 0);
    le32_store(out + 8, count);
    le32_store(out + 12, (uint32_t)body_len);
    le32_store(out + 16, (uint32_t)stored);
    le32_store(out + 20, 0);
    memset(out + REPLICA_ENTRY_HDR + stored, 0, total - REPLICA_ENTRY_HDR - stored);
    *out_len = total;
    return 0;
}

static int fail(char *errmsg, const char *what, unsigned long long a, unsigned long long b)
{
    if (errmsg)
        errmsg_printf(errmsg, "malformed replica entry: %s (%llu/%llu)", what, a, b);
    return TERN_E_MALFORMED;
}

int replica_entry_decode(const uint8_t *p, size_t n, struct replica_entry_view *v, char *errmsg)
{
    memset(v, 0, sizeof *v);
    if (n < REPLICA_ENTRY_HDR)
        return fail(errmsg, "short header", n, REPLICA_ENTRY_HDR);
    uint32_t magic = le32_load(p);
    if (magic != REPLICA_ENTRY_MAGIC)
        return fail(errmsg, "bad magic", magic, REPLICA_ENTRY_MAGIC);
    if (p[4] != REPLICA_ENTRY_VERSION)
        return fail(errmsg, "unknown version", p[4], REPLICA_ENTRY_VERSION);
    uint8_t flags = p[5];
    if (flags & ~REPLICA_ENTRY_F_LZ4)
        return fail(errmsg, "unknown flags", flags, REPLICA_ENTRY_F_LZ4);
    uint32_t count = le32_load(p + 8);
    uint32_t body_len = le32_load(p + 12);
    uint32_t stored = le32_load(p + 16);
    if (count == 0)
        return fail(errmsg, "no commands", 0, 1);
    if (body_len > REPLICA_ENTRY_MAX_BODY)
        return fail(errmsg, "body too big", body_len, REPLICA_ENTRY_MAX_BODY);
    if ((uint64_t)count * REPLICA_ENTRY_CMD_HDR > body_len)
        return fail(errmsg, "count past body", count, body_len);
    if (stored > n - REPLICA_ENTRY_HDR)
        return fail(errmsg, "body past end", stored, n - REPLICA_ENTRY_HDR);
    if (n - REPLICA_ENTRY_HDR - stored >= 8)
        return fail(errmsg, "trailing bytes", n - REPLICA_ENTRY_HDR - stored, 7);
    if (!(flags & REPLICA_ENTRY_F_LZ4) && stored != body_len)
        return fail(errmsg, "stored length", stored, body_len);

    const uint8_t *body = p + REPLICA_ENTRY_HDR;
    uint8_t *owned = NULL;
    if (flags & REPLICA_ENTRY_F_LZ4) {
        owned = malloc(body_len ? body_len : 1);
        if (!owned)
            return TERN_E_NOMEM;
        if (compress_unlz4(body, stored, owned, body_len) != 0) {
            free(owned);
            return fail(errmsg, "bad lz4 body", stored, body_len);
        }
        body = owned;
    }
    /* Walk the framing once so appliers can iterate without checks. */
    size_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (body_len - off < REPLICA_ENTRY_CMD_HDR) {
            free(owned);
            return fail(errmsg, "command header past body", i, count);
        }
        uint32_t len = le32_load(body + off);
        off += REPLICA_ENTRY_CMD_HDR;
        if (len > body_len - off) {
            free(owned);
            return fail(errmsg, "command past body", len, body_len - off);
        }
        off += len;
    }
    if (off != body_len) {
        free(owned);
        return fail(errmsg, "bytes after last command", off, body_len);
    }
    v->count = count;
    v->flags = flags;
    v->body = body;
    v->body_len = body_len;
    v->owned = owned;
    return 0;
}

void replica_entry_view_free(struct replica_entry_view *v)
{
    free(v->owned);
    memset(v, 0, sizeof *v);
}

void replica_entry_iter_init(struct replica_entry_iter *it, const struct replica_entry_view *v)
{
    it->p = v->body;
    it->end = v->body + v->body_len;
}

bool replica_entry_iter_next(struct replica_entry_iter *it, const uint8_t **cmd, size_t *len)
{
    if ((size_t)(it->end - it->p) < REPLICA_ENTRY_CMD_HDR)
        return false;
    uint32_t l = le32_load(it->p);
    *cmd = it->p + REPLICA_ENTRY_CMD_HDR;
    *len = l;
    it->p += REPLICA_ENTRY_CMD_HDR + l;
    return true;
}
