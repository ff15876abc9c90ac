/* Encode and decode storage units (broker/STORAGE.md §3). */
#include "broker/store/record.h"

#include <string.h>

#include "src/checksum.h"
#include "src/compress.h"
#include "src/endian.h"
#include "tern/error.h"

uint64_t record_raw_size(const struct record_msg *msgs, uint32_t n)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += 4 + (uint64_t)msgs[i].len;
    return s;
}

static void put_hdr(uint8_t *p, const struct record_hdr *h)
{
    le32_store(p + 0, h->unit_len);
    le32_store(p + 4, RECORD_MAGIC);
    /* checksum at 8 filled last */
    le64_store(p + 16, h->base_offset);
    le64_store(p + 24, (uint64_t)h->store_ts);
    le64_store(p + 32, h->source_index);
    le32_store(p + 40, h->count);
    le16_store(p + 44, h->flags);
    p[46] = h->codec;
    p[47] = RECORD_VERSION;
    le32_store(p + 48, h->body_len);
    le32_store(p + 52, h->raw_len);
    le64_store(p + 56, 0);
}

static uint8_t *put_body(uint8_t *d, const struct record_msg *msgs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        le32_store(d, msgs[i].len);
        d += 4;
        if (msgs[i].len)
            memcpy(d, msgs[i].data, msgs[i].len);
        d += msgs[i].len;
    }
    return d;
}

int record_encode(struct buf *out, struct buf *scratch, const struct record_msg *msgs, uint32_t n,
                  uint64_t base_offset, int64_t store_ts, uint64_t source_index, uint16_t flags,
                  enum record_codec codec, const struct record_limits *lim, struct record_hdr *hdr)
{
    if (n == 0 || n > RECORD_MAX_COUNT)
        return TERN_E_INVAL;
    uint64_t raw = record_raw_size(msgs, n);
    uint64_t fixed = RECORD_HDR_SIZE + 8ull * n;
    if (raw > lim->max_raw)
        return TERN_E_TOOBIG;
    struct record_hdr h = {
        .base_offset = base_offset,
        .store_ts = store_ts,
        .source_index = source_index,
        .count = n,
        .flags = flags,
        .codec = RECORD_CODEC_NONE,
        .raw_len = (uint32_t)raw,
        .body_len = (uint32_t)raw,
    };
    size_t start = out->len;
    if (codec == RECORD_CODEC_LZ4 && raw >= 64) {
        buf_reset(scratch);
        uint8_t *s = buf_extend(scratch, (size_t)raw);
        size_t bound = compress_bound((size_t)raw);
        if (!s || bound == 0)
            return TERN_E_NOMEM;
        put_body(s, msgs, n);
        if (fixed + bound > UINT32_MAX)
            return TERN_E_TOOBIG;
        uint8_t *p = buf_extend(out, (size_t)(fixed + bound));
        if (!p)
            return out->err ? out->err : TERN_E_NOMEM;
        size_t c = compress_lz4(s, (size_t)raw, p + fixed, bound);
        if (c > 0 && c < raw && fixed + c <= lim->max_unit) {
            h.codec = RECORD_CODEC_LZ4;
            h.body_len = (uint32_t)c;
            h.unit_len = (uint32_t)(fixed + c);
            out->len = start + h.unit_len;
            put_hdr(p, &h);
            for (uint32_t i = 0; i < n; i++)
                le64_store(p + RECORD_HDR_SIZE + 8 * i, msgs[i].tag_hash);
            le64_store(p + 8, checksum_xxh3(p + 16, h.unit_len - 16));
            *hdr = h;
            return 0;
        }
        out->len = start; /* incompressible: store plain */
    }
    if (fixed + raw > lim->max_unit)
        return TERN_E_TOOBIG;
    h.unit_len = (uint32_t)(fixed + raw);
    uint8_t *p = buf_extend(out, h.unit_len);
    if (!p) {
        int e = out->err ? out->err : TERN_E_NOMEM;
        out->len = start;
        out->err = 0;
        return e;
    }
    put_hdr(p, &h);
    for (uint32_t i = 0; i < n; i++)
        le64_store(p + RECORD_HDR_SIZE + 8 * i, msgs[i].tag_hash);
    put_body(p + fixed, msgs, n);
    le64_store(p + 8, checksum_xxh3(p + 16, h.unit_len - 16));
    *hdr = h;
    return 0;
}

int record_decode_hdr(const uint8_t *p, size_t avail, const struct record_limits *lim, bool need_whole,
                      struct record_hdr *h)
{
    if (avail < 4)
        return RECORD_SHORT;
    h->unit_len = le32_load(p);
    if (h->unit_len == 0)
        return RECORD_END;
    if (avail < RECORD_HDR_SIZE)
        return RECORD_SHORT;
    if (le32_load(p + 4) != RECORD_MAGIC || p[47] != RECORD_VERSION)
        return TERN_E_CORRUPT;
    h->checksum = le64_load(p + 8);
    h->base_offset = le64_load(p + 16);
    h->store_ts = (int64_t)le64_load(p + 24);
    h->source_index = le64_load(p + 32);
    h->count = le32_load(p + 40);
    h->flags = le16_load(p + 44);
    h->codec = p[46];
    h->body_len = le32_load(p + 48);
    h->raw_len = le32_load(p + 52);
    /* Every length is bounded before anyone allocates or reads by it. */
    if (h->unit_len > lim->max_unit || h->unit_len < RECORD_HDR_SIZE)
        return TERN_E_CORRUPT;
    if (h->count == 0 || h->count > RECORD_MAX_COUNT)
        return TERN_E_CORRUPT;
    if ((uint64_t)RECORD_HDR_SIZE + 8ull * h->count + h->body_len != h->unit_len)
        return TERN_E_CORRUPT;
    if (h->raw_len > lim->max_raw || h->raw_len < 4ull * h->count)
        return TERN_E_CORRUPT;
    if (h->codec == RECORD_CODEC_NONE) {
        if (h->raw_len != h->body_len)
            return TERN_E_CORRUPT;
    } else if (h->codec != RECORD_CODEC_LZ4) {
        return TERN_E_CORRUPT;
    }
    if (need_whole && avail < h->unit_len)
        return RECORD_SHORT;
    return 0;
}

bool record_verify(const uint8_t *p, const struct record_hdr *h)
{
    return checksum_xxh3(p + 16, h->unit_len - 16) == h->checksum;
}

uint64_t record_tag(const uint8_t *p, uint32_t i)
{
    return le64_load(p + RECORD_HDR_SIZE + 8ull * i);
}

const uint8_t *record_body(const uint8_t *p, const struct record_hdr *h)
{
    return p + RECORD_HDR_SIZE + 8ull * h->count;
}

int record_next_msg(const uint8_t *body, uint32_t body_len, uint32_t *pos, const uint8_t **data,
                    uint32_t *len)
{
    uint32_t at = *pos;
    if (at > body_len || body_len - at < 4)
        return TERN_E_CORRUPT;
    uint32_t l = le32_load(body + at);
    if (l > body_len - at - 4)
        return TERN_E_CORRUPT;
    *data = body + at + 4;
    *len = l;
    *pos = at + 4 + l;
    return 0;
}
