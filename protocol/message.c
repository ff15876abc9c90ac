/* Encode, decode, iterate and patch stored message records (RocketMQ MessageExtEncoder layout). */
#include "protocol/message.h"

#include <string.h>

#include "protocol/properties.h"
#include "src/checksum.h"
#include "src/cursor.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"

/* RocketMQ stores the properties length as a signed int16. */
#define PROPS_MAX_STORED 32767u

static size_t host_len(const struct msg_host *h)
{
    return h->family == MSG_HOST_IPV6 ? 16 : 4;
}

static bool host_ok(const struct msg_host *h)
{
    return h->family == MSG_HOST_IPV4 || h->family == MSG_HOST_IPV6;
}

uint32_t message_body_crc(const void *body, size_t n)
{
    return checksum_crc32(0, body, n) & MESSAGE_CRC_MASK;
}

size_t message_off_store_timestamp(int32_t sysflag)
{
    return MESSAGE_OFF_BORNHOST + ((sysflag & MSG_SYSFLAG_BORNHOST_V6) ? 16 : 4) + 4;
}

size_t message_size(const struct msg_stored *m)
{
    bool v2 = m->magic == MESSAGE_MAGIC_V2;
    if (!host_ok(&m->born_host) || !host_ok(&m->store_host))
        return 0;
    if (m->topic.len == 0 || m->topic.len > (v2 ? 32767u : 127u))
        return 0;
    if (m->properties.len > PROPS_MAX_STORED || m->body.len > INT32_MAX)
        return 0;
    size_t sz = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + host_len(&m->born_host) + 4 + 8 +
                host_len(&m->store_host) + 4 + 4 + 8;
    sz += 4 + m->body.len + (v2 ? 2u : 1u) + m->topic.len + 2 + m->properties.len;
    if (sz > INT32_MAX)
        return 0;
    return sz;
}

static void put_host(uint8_t **d, const struct msg_host *h)
{
    size_t n = host_len(h);
    memcpy(*d, h->addr, n);
    be32_store(*d + n, h->port);
    *d += n + 4;
}

int message_encode(const struct msg_stored *m, struct buf *out)
{
    size_t sz = message_size(m);
    if (sz == 0)
        return TERN_E_INVAL;
    uint8_t *d = buf_extend(out, sz);
    if (!d)
        return out->err;
    bool v2 = m->magic == MESSAGE_MAGIC_V2;
    int32_t sysflag = m->sysflag & ~(MSG_SYSFLAG_BORNHOST_V6 | MSG_SYSFLAG_STOREHOST_V6);
    if (m->born_host.family == MSG_HOST_IPV6)
        sysflag |= MSG_SYSFLAG_BORNHOST_V6;
    if (m->store_host.family == MSG_HOST_IPV6)
        sysflag |= MSG_SYSFLAG_STOREHOST_V6;

    be32_store(d, (uint32_t)sz);
    be32_store(d + 4, v2 ? MESSAGE_MAGIC_V2 : MESSAGE_MAGIC_V1);
    be32_store(d + 8, message_body_crc(m->body.p, m->body.len));
    be32_store(d + 12, (uint32_t)m->queue_id);
    be32_store(d + 16, (uint32_t)m->flag);
    be64_store(d + 20, (uint64_t)m->queue_offset);
    be64_store(d + 28, (uint64_t)m->physical_offset);
    be32_store(d + 36, (uint32_t)sysflag);
    be64_store(d + 40, (uint64_t)m->born_timestamp);
    d += 48;
    put_host(&d, &m->born_host);
    be64_store(d, (uint64_t)m->store_timestamp);
    d += 8;
    put_host(&d, &m->store_host);
    be32_store(d, (uint32_t)m->reconsume_times);
    be64_store(d + 4, (uint64_t)m->prepared_transaction_offset);
    be32_store(d + 12, (uint32_t)m->body.len);
    d += 16;
    if (m->body.len)
        memcpy(d, m->body.p, m->body.len);
    d += m->body.len;
    if (v2) {
        be16_store(d, (uint16_t)m->topic.len);
        d += 2;
    } else {
        *d++ = (uint8_t)m->topic.len;
    }
    memcpy(d, m->topic.p, m->topic.len);
    d += m->topic.len;
    be16_store(d, (uint16_t)m->properties.len);
    d += 2;
    if (m->properties.len)
        memcpy(d, m->properties.p, m->properties.len);
    return 0;
}

static void get_host(struct cursor *c, bool v6, struct msg_host *h)
{
    memset(h, 0, sizeof *h);
    h->family = v6 ? MSG_HOST_IPV6 : MSG_HOST_IPV4;
    const uint8_t *a = cursor_take(c, v6 ? 16 : 4);
    if (a)
        memcpy(h->addr, a, v6 ? 16 : 4);
    h->port = cursor_be32(c);
}

int message_decode(const uint8_t *p, size_t n, const struct limits *l, unsigned flags,
                   struct msg_stored *out, size_t *consumed, char *errmsg)
{
    memset(out, 0, sizeof *out);
    *consumed = 0;
    if (n < 4) {
        errmsg_printf(errmsg, "stored message: truncated total size (%zu of 4 bytes)", n);
        return TERN_E_MALFORMED;
    }
    uint32_t total = be32_load(p);
    if (total < MESSAGE_MIN_SIZE) {
        errmsg_printf(errmsg, "stored message: total size %u below minimum %u", total,
                      MESSAGE_MIN_SIZE);
        return TERN_E_MALFORMED;
    }
    if (total > n) {
        errmsg_printf(errmsg, "stored message: total size %u exceeds available %zu bytes", total,
                      n);
        return TERN_E_MALFORMED;
    }

    /* From here every read is bounded by TOTALSIZE, not by n, so a record
     * cannot borrow bytes from the one after it. */
    struct cursor c;
    cursor_init(&c, p + 4, total - 4);
    out->magic = cursor_be32(&c);
    if (out->magic != MESSAGE_MAGIC_V1 && out->magic != MESSAGE_MAGIC_V2) {
        errmsg_printf(errmsg, "stored message: bad magic code 0x%08x", out->magic);
        return TERN_E_MALFORMED;
    }
    out->body_crc = cursor_be32(&c);
    out->queue_id = (int32_t)cursor_be32(&c);
    out->flag = (int32_t)cursor_be32(&c);
    out->queue_offset = (int64_t)cursor_be64(&c);
    out->physical_offset = (int64_t)cursor_be64(&c);
    out->sysflag = (int32_t)cursor_be32(&c);
    out->born_timestamp = (int64_t)cursor_be64(&c);
    get_host(&c, out->sysflag & MSG_SYSFLAG_BORNHOST_V6, &out->born_host);
    out->store_timestamp = (int64_t)cursor_be64(&c);
    get_host(&c, out->sysflag & MSG_SYSFLAG_STOREHOST_V6, &out->store_host);
    out->reconsume_times = (int32_t)cursor_be32(&c);
    out->prepared_transaction_offset = (int64_t)cursor_be64(&c);
    uint32_t body_len = cursor_be32(&c);
    const char *what = "header";
    if (c.err)
        goto err_truncated;
    if (body_len > l->max_body) {
        errmsg_printf(errmsg, "stored message: body length %u exceeds %u", body_len, l->max_body);
        return TERN_E_MALFORMED;
    }
    if (body_len > cursor_left(&c)) {
        errmsg_printf(errmsg, "stored message: body length %u exceeds %zu bytes left in record",
                      body_len, cursor_left(&c));
        return TERN_E_MALFORMED;
    }
    out->body.p = (const char *)cursor_take(&c, body_len);
    out->body.len = body_len;

    size_t topic_len = out->magic == MESSAGE_MAGIC_V2 ? cursor_be16(&c) : cursor_u8(&c);
    what = "topic length";
    if (c.err)
        goto err_truncated;
    if (topic_len > cursor_left(&c)) {
        errmsg_printf(errmsg, "stored message: topic length %zu exceeds %zu bytes left in record",
                      topic_len, cursor_left(&c));
        return TERN_E_MALFORMED;
    }
    out->topic.p = (const char *)cursor_take(&c, topic_len);
    out->topic.len = topic_len;
    if (limits_check_topic(l, out->topic.p, topic_len, errmsg)) {
        errmsg_wrapf(errmsg, "stored message");
        return TERN_E_MALFORMED;
    }

    size_t props_len = cursor_be16(&c);
    what = "properties length";
    if (c.err)
        goto err_truncated;
    if (props_len > l->max_properties || props_len > PROPS_MAX_STORED) {
        errmsg_printf(errmsg, "stored message: properties length %zu exceeds %u", props_len,
                      l->max_properties < PROPS_MAX_STORED ? l->max_properties : PROPS_MAX_STORED);
        return TERN_E_MALFORMED;
    }
    if (props_len > cursor_left(&c)) {
        errmsg_printf(errmsg,
                      "stored message: properties length %zu exceeds %zu bytes left in record",
                      props_len, cursor_left(&c));
        return TERN_E_MALFORMED;
    }
    out->properties.p = (const char *)cursor_take(&c, props_len);
    out->properties.len = props_len;
    if (cursor_left(&c) != 0) {
        errmsg_printf(errmsg, "stored message: total size %u leaves %zu bytes after properties",
                      total, cursor_left(&c));
        return TERN_E_MALFORMED;
    }
    if ((flags & MESSAGE_DECODE_VERIFY_CRC) &&
        message_body_crc(out->body.p, out->body.len) != out->body_crc) {
        errmsg_printf(errmsg, "stored message: body crc 0x%08x does not match stored 0x%08x",
                      message_body_crc(out->body.p, out->body.len), out->body_crc);
        return TERN_E_MALFORMED;
    }
    *consumed = total;
    return 0;

err_truncated:
    errmsg_printf(errmsg, "stored message: total size %u truncates the %s", total, what);
    return TERN_E_MALFORMED;
}

void message_iter_init(struct message_iter *it, const uint8_t *p, size_t n, const struct limits *l,
                       unsigned flags)
{
    it->p = p;
    it->n = n;
    it->off = 0;
    it->l = l;
    it->flags = flags;
}

int message_iter_next(struct message_iter *it, struct msg_stored *out, char *errmsg)
{
    if (it->off == SIZE_MAX) {
        errmsg_printf(errmsg, "stored message: iterator stopped at an earlier error");
        return TERN_E_MALFORMED;
    }
    if (it->off >= it->n)
        return 0;
    size_t used;
    int rc = message_decode(it->p + it->off, it->n - it->off, it->l, it->flags, out, &used, errmsg);
    if (rc) {
        errmsg_wrapf(errmsg, "record at byte %zu", it->off);
        it->off = SIZE_MAX;
        return rc;
    }
    it->off += used;
    return 1;
}

int message_patch(uint8_t *rec, size_t n, int64_t queue_offset, int64_t physical_offset,
                  int64_t store_timestamp)
{
    if (n < MESSAGE_OFF_SYSFLAG + 4)
        return TERN_E_INVAL;
    int32_t sysflag = (int32_t)be32_load(rec + MESSAGE_OFF_SYSFLAG);
    size_t ts = message_off_store_timestamp(sysflag);
    if (n < ts + 8)
        return TERN_E_INVAL;
    be64_store(rec + MESSAGE_OFF_QUEUEOFFSET, (uint64_t)queue_offset);
    be64_store(rec + MESSAGE_OFF_PHYSICALOFFSET, (uint64_t)physical_offset);
    be64_store(rec + ts, (uint64_t)store_timestamp);
    return 0;
}
