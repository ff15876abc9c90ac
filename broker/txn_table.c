/* Transaction state table: sorted array with tombstones, and its file.
 *
 * Happy path: PREPARE appends at the end (offsets only grow), END marks a
 * tombstone, lookups binary-search the live window. Failure modes: a file
 * that does not verify (magic, length, checksum, order) is CORRUPT and the
 * broker refuses to start rather than forget open transactions. */
#include "broker/txn_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/checksum.h"
#include "src/cursor.h"
#include "src/endian.h"
#include "src/fs.h"
#include "tern/error.h"

#define FILE_NAME "txn.bin"
#define FILE_MAGIC "TTX1"
#define REC_SIZE 32u
#define HDR_SIZE 28u

void txn_table_init(struct txn_table *t)
{
    memset(t, 0, sizeof *t);
}

void txn_table_free(struct txn_table *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

static void compact(struct txn_table *t)
{
    size_t w = 0;
    for (size_t i = t->head; i < t->n; i++)
        if (t->e[i].state == TXN_STATE_OPEN)
            t->e[w++] = t->e[i];
    t->head = 0;
    t->n = w;
}

int txn_table_add(struct txn_table *t, uint64_t offset, int64_t prepared_ms, uint32_t immunity_ms)
{
    if (t->n > t->head && t->e[t->n - 1].offset >= offset)
        return TERN_E_INVAL;
    if (t->n == t->cap) {
        if (t->head > 0 || t->n - t->head > 2 * t->open) {
            compact(t);
        }
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 1024;
            struct txn_entry *ne = realloc(t->e, cap * sizeof *ne);
            if (!ne)
                return TERN_E_NOMEM;
            t->e = ne;
            t->cap = cap;
        }
    }
    t->e[t->n++] = (struct txn_entry){
        .offset = offset, .prepared_ms = prepared_ms, .immunity_ms = immunity_ms, .state = TXN_STATE_OPEN};
    t->open++;
    return 0;
}

struct txn_entry *txn_table_find(struct txn_table *t, uint64_t offset)
{
    size_t lo = t->head, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->n && t->e[lo].offset == offset && t->e[lo].state == TXN_STATE_OPEN)
        return &t->e[lo];
    return NULL;
}

void txn_table_done(struct txn_table *t, struct txn_entry *e)
{
    e->state = TXN_STATE_DONE;
    t->open--;
    /* Decisions mostly come in prepare order: advance the head past
     * tombstones, squeeze the rest out when they dominate. */
    while (t->head < t->n && t->e[t->head].state != TXN_STATE_OPEN)
        t->head++;
    if (t->head == t->n) {
        t->head = t->n = 0;
    } else if (t->n - t->head > 64 && t->n - t->head > 2 * t->open) {
        compact(t);
    }
}

int txn_table_save(const struct txn_table *t, const char *dir, struct buf *out, char *errmsg)
{
    buf_reset(out);
    buf_append(out, FILE_MAGIC, 4);
    buf_append_le64(out, t->applied);
    buf_append_le64(out, t->half_next);
    buf_append_le64(out, (uint64_t)t->open);
    for (size_t i = t->head; i < t->n; i++) {
        const struct txn_entry *e = &t->e[i];
        if (e->state != TXN_STATE_OPEN)
            continue;
        buf_append_le64(out, e->offset);
        buf_append_le64(out, (uint64_t)e->prepared_ms);
        buf_append_le64(out, (uint64_t)e->last_check_ms);
        buf_append_le32(out, e->immunity_ms);
        buf_append_le32(out, e->checks);
    }
    if (out->err) {
        errmsg_printf(errmsg, "transaction table: out of memory");
        return out->err;
    }
    buf_append_le64(out, checksum_xxh3(out->data, out->len));
    if (out->err)
        return out->err;
    int rv = fs_write_atomic(dir, FILE_NAME, out->data, out->len, errmsg);
    if (rv)
        errmsg_wrapf(errmsg, "write %s/%s", dir, FILE_NAME);
    return rv;
}

int txn_table_load(struct txn_table *t, const char *dir, char *errmsg)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, FILE_NAME);
    struct buf b;
    buf_init(&b);
    int rv = fs_read_file(path, &b, (size_t)1 << 36, errmsg);
    if (rv == TERN_E_NOTFOUND) {
        buf_free(&b);
        return 0;
    }
    if (rv) {
        buf_free(&b);
        errmsg_wrapf(errmsg, "read %s", path);
        return rv;
    }
    struct cursor c;
    cursor_init(&c, b.data, b.len);
    const uint8_t *magic = cursor_take(&c, 4);
    uint64_t applied = cursor_le64(&c), half_next = cursor_le64(&c), count = cursor_le64(&c);
    rv = TERN_E_CORRUPT;
    if (c.err || memcmp(magic, FILE_MAGIC, 4) != 0 || b.len < HDR_SIZE + 8 ||
        count != (b.len - HDR_SIZE - 8) / REC_SIZE || (b.len - HDR_SIZE - 8) % REC_SIZE != 0 ||
        le64_load(b.data + b.len - 8) != checksum_xxh3(b.data, b.len - 8)) {
        errmsg_printf(errmsg, "%s: bad header, length or checksum (%zu bytes)", path, b.len);
        goto out;
    }
    txn_table_free(t);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t off = cursor_le64(&c);
        int64_t prep = (int64_t)cursor_le64(&c), last = (int64_t)cursor_le64(&c);
        uint32_t imm = cursor_le32(&c), checks = cursor_le32(&c);
        if (off >= half_next || txn_table_add(t, off, prep, imm) != 0) {
            errmsg_printf(errmsg, "%s: entry %llu out of order", path, (unsigned long long)i);
            txn_table_free(t);
            goto out;
        }
        t->e[t->n - 1].last_check_ms = last;
        t->e[t->n - 1].checks = (uint16_t)(checks > UINT16_MAX ? UINT16_MAX : checks);
    }
    t->applied = applied;
    t->half_next = half_next;
    rv = 0;
out:
    buf_free(&b);
    return rv;
}
