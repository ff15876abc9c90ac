/* offsetMsgId and UNIQ_KEY encoding and decoding. */
#include "protocol/msgid.h"

#include <string.h>

#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"

static const char hexdig[] = "0123456789ABCDEF";

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[p[i] >> 4];
        out[2 * i + 1] = hexdig[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode 2*n hex chars of s into out; returns the index of the first bad
 * character or -1 when all are hex. */
static long from_hex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0)
            return (long)(2 * i);
        if (lo < 0)
            return (long)(2 * i + 1);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return -1;
}

size_t msgid_offset_encode(const struct msg_host *store, int64_t physical_offset, char *out)
{
    uint8_t raw[28];
    size_t alen;
    if (store->family == MSG_HOST_IPV4)
        alen = 4;
    else if (store->family == MSG_HOST_IPV6)
        alen = 16;
    else
        return 0;
    memcpy(raw, store->addr, alen);
    be32_store(raw + alen, store->port);
    be64_store(raw + alen + 4, (uint64_t)physical_offset);
    to_hex(raw, alen + 12, out);
    return 2 * (alen + 12);
}

int msgid_offset_decode(const char *s, size_t n, struct msg_host *store, int64_t *physical_offset,
                        char *errmsg)
{
    uint8_t raw[28];
    if (n != MSGID_OFFSET_LEN_V4 && n != MSGID_OFFSET_LEN_V6) {
        errmsg_printf(errmsg, "msgid: offset id length %zu is neither 32 nor 56", n);
        return TERN_E_MALFORMED;
    }
    long bad = from_hex(s, n / 2, raw);
    if (bad >= 0) {
        errmsg_printf(errmsg, "msgid: offset id has non-hex character at %ld", bad);
        return TERN_E_MALFORMED;
    }
    size_t alen = n == MSGID_OFFSET_LEN_V4 ? 4 : 16;
    memset(store, 0, sizeof *store);
    store->family = alen == 4 ? MSG_HOST_IPV4 : MSG_HOST_IPV6;
    memcpy(store->addr, raw, alen);
    store->port = be32_load(raw + alen);
    *physical_offset = (int64_t)be64_load(raw + alen + 4);
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t msgid_month_start(int64_t t_ms, int months_ahead)
{
    int64_t days = t_ms / 86400000;
    if (t_ms % 86400000 < 0)
        days--;
    int64_t y;
    unsigned m;
    civil_from_days(days, &y, &m);
    int64_t idx = y * 12 + (m - 1) + months_ahead;
    int64_t ny = idx / 12, nm = idx % 12;
    if (nm < 0) {
        nm += 12;
        ny--;
    }
    return days_from_civil(ny, (unsigned)nm + 1, 1) * 86400000;
}

void msgid_gen_init(struct msgid_gen *g, const struct msg_host *ip, uint32_t pid, uint32_t hash)
{
    uint8_t raw[22];
    size_t alen = ip->family == MSG_HOST_IPV6 ? 16 : 4;
    memcpy(raw, ip->addr, alen);
    be16_store(raw + alen, (uint16_t)pid);
    be32_store(raw + alen + 2, hash);
    to_hex(raw, alen + 6, g->fixed_hex);
    g->fixed_len = 2 * (alen + 6);
    g->month_start_ms = 0;
    g->next_month_ms = 0; /* forces a month computation on first use */
    g->counter = 0;
}

size_t msgid_uniq_next(struct msgid_gen *g, int64_t now_ms, char *out)
{
    if (now_ms >= g->next_month_ms || now_ms < g->month_start_ms) {
        g->month_start_ms = msgid_month_start(now_ms, 0);
        g->next_month_ms = msgid_month_start(now_ms, 1);
    }
    uint8_t tail[6];
    be32_store(tail, (uint32_t)(now_ms - g->month_start_ms));
    be16_store(tail + 4, g->counter++);
    memcpy(out, g->fixed_hex, g->fixed_len);
    to_hex(tail, sizeof tail, out + g->fixed_len);
    return g->fixed_len + 12;
}

int msgid_uniq_decode(const char *s, size_t n, int64_t now_ms, struct msgid_uniq *out,
                      char *errmsg)
{
    uint8_t raw[28];
    if (n != MSGID_UNIQ_LEN_V4 && n != MSGID_UNIQ_LEN_V6) {
        errmsg_printf(errmsg, "msgid: uniq id length %zu is neither 32 nor 56", n);
        return TERN_E_MALFORMED;
    }
    long bad = from_hex(s, n / 2, raw);
    if (bad >= 0) {
        errmsg_printf(errmsg, "msgid: uniq id has non-hex character at %ld", bad);
        return TERN_E_MALFORMED;
    }
    size_t alen = n == MSGID_UNIQ_LEN_V4 ? 4 : 16;
    memset(out, 0, sizeof *out);
    out->ip.family = alen == 4 ? MSG_HOST_IPV4 : MSG_HOST_IPV6;
    memcpy(out->ip.addr, raw, alen);
    out->pid = be16_load(raw + alen);
    out->hash = be32_load(raw + alen + 2);
    out->month_ms = be32_load(raw + alen + 6);
    out->counter = be16_load(raw + alen + 10);
    int64_t start = msgid_month_start(now_ms, 0);
    if (start + (int64_t)out->month_ms >= now_ms)
        start = msgid_month_start(now_ms, -1);
    out->timestamp_ms = start + (int64_t)out->month_ms;
    return 0;
}
