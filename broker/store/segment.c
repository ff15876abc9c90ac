/* One segment file: create, open, preallocate, truncate, scan.
 *
 * Happy path: units are appended by the partition log with one pwrite per
 * pass into space reserved geometrically with fallocate.
 * Failure modes: every fs error is returned with "<op> <path>" context;
 * bytes read from disk are checked by record_decode_hdr/record_verify and a
 * bad unit ends a scan with TERN_E_CORRUPT instead of being trusted. */
#include "broker/store/segment.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/checksum.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "tern/error.h"

static struct segment *seg_alloc(const char *dir, uint64_t base)
{
    struct segment *seg = calloc(1, sizeof *seg);
    if (!seg)
        return NULL;
    size_t n = strlen(dir) + 40;
    seg->path = malloc(n);
    seg->ix_path = malloc(n);
    if (!seg->path || !seg->ix_path) {
        free(seg->path);
        free(seg->ix_path);
        free(seg);
        return NULL;
    }
    snprintf(seg->path, n, "%s/%020" PRIu64 ".log", dir, base);
    snprintf(seg->ix_path, n, "%s/%020" PRIu64 ".index", dir, base);
    seg->base = base;
    seg->end_offset = base;
    seg->end = SEGMENT_HDR_SIZE;
    seg->fd = -1;
    segindex_init(&seg->ix);
    return seg;
}

void segment_free(struct segment *seg)
{
    if (!seg)
        return;
    if (seg->fd >= 0)
        fs_close(seg->fd);
    segindex_free(&seg->ix);
    free(seg->path);
    free(seg->ix_path);
    free(seg);
}

static void put_hdr(uint8_t *p, uint64_t base, uint32_t part_id)
{
    memset(p, 0, SEGMENT_HDR_SIZE);
    le32_store(p, SEGMENT_MAGIC);
    le32_store(p + 4, SEGMENT_VERSION);
    le64_store(p + 8, base);
    le32_store(p + 16, part_id);
    le64_store(p + 24, checksum_xxh3(p, 24));
}

int segment_write_hdr(struct segment *seg, uint32_t part_id, char *errmsg)
{
    uint8_t h[SEGMENT_HDR_SIZE];
    put_hdr(h, seg->base, part_id);
    int rv = fs_pwrite_all(seg->fd, h, sizeof h, 0, errmsg);
    if (rv)
        errmsg_wrapf(errmsg, "segment %020" PRIu64 ": write header", seg->base);
    else if (seg->alloc < SEGMENT_HDR_SIZE)
        seg->alloc = SEGMENT_HDR_SIZE;
    return rv;
}

int segment_create(const char *dir, uint64_t base, uint32_t part_id, uint64_t prealloc,
                   struct segment **out, char *errmsg)
{
    struct segment *seg = seg_alloc(dir, base);
    if (!seg)
        return TERN_E_NOMEM;
    int rv = fs_open(seg->path, O_RDWR | O_CREAT | O_EXCL, 0644, &seg->fd, errmsg);
    if (rv)
        goto err;
    if (prealloc > SEGMENT_HDR_SIZE) {
        rv = fs_allocate(seg->fd, 0, (off_t)prealloc, errmsg);
        if (rv)
            goto err_after_open;
        seg->alloc = prealloc;
    }
    rv = segment_write_hdr(seg, part_id, errmsg);
    if (rv)
        goto err_after_open;
    rv = fs_open(seg->ix_path, O_RDWR | O_CREAT | O_TRUNC, 0644, &seg->ix.fd, errmsg);
    if (rv)
        goto err_after_open;
    seg->ix_loaded = true;
    *out = seg;
    return 0;
err_after_open:
    fs_close(seg->fd);
    seg->fd = -1;
    unlink(seg->path);
err:
    errmsg_wrapf(errmsg, "create segment %020" PRIu64, base);
    segment_free(seg);
    return rv;
}

int segment_open(const char *dir, uint64_t base, uint32_t part_id, struct segment **out, bool *hdr_ok,
                 char *errmsg)
{
    struct segment *seg = seg_alloc(dir, base);
    if (!seg)
        return TERN_E_NOMEM;
    int rv = fs_open(seg->path, O_RDWR, 0, &seg->fd, errmsg);
    if (rv)
        goto err;
    off_t size;
    rv = fs_size(seg->fd, &size, errmsg);
    if (rv)
        goto err;
    seg->alloc = (uint64_t)size;
    uint8_t h[SEGMENT_HDR_SIZE], want[SEGMENT_HDR_SIZE];
    size_t got = 0;
    rv = fs_pread(seg->fd, h, sizeof h, 0, &got, errmsg);
    if (rv)
        goto err;
    put_hdr(want, base, part_id);
    *hdr_ok = got == sizeof h && memcmp(h, want, sizeof h) == 0;
    *out = seg;
    return 0;
err:
    errmsg_wrapf(errmsg, "open segment %020" PRIu64, base);
    segment_free(seg);
    return rv;
}

int segment_remove(struct segment *seg, char *errmsg)
{
    int rv = 0;
    if (seg->fd >= 0) {
        fs_close(seg->fd);
        seg->fd = -1;
    }
    if (unlink(seg->ix_path) != 0) {
        /* a missing index is fine: it is only a hint */
    }
    rv = fs_unlink(seg->path, errmsg);
    segment_free(seg);
    return rv;
}

int segment_reserve(struct segment *seg, uint64_t need, uint64_t initial, uint64_t max, char *errmsg)
{
    if (need <= seg->alloc)
        return 0;
    uint64_t n = seg->alloc > initial ? seg->alloc : initial;
    while (n < need)
        n *= 2;
    if (n > max)
        n = max;
    if (n < need)
        n = need;
    int rv = fs_allocate(seg->fd, (off_t)seg->alloc, (off_t)(n - seg->alloc), errmsg);
    if (rv) {
        errmsg_wrapf(errmsg, "segment %020" PRIu64 ": preallocate %" PRIu64 " bytes", seg->base, n);
        return rv;
    }
    seg->alloc = n;
    return 0;
}

int segment_truncate(struct segment *seg, uint64_t pos, char *errmsg)
{
    int rv = fs_truncate(seg->fd, (off_t)pos, errmsg);
    if (rv) {
        errmsg_wrapf(errmsg, "segment %020" PRIu64 ": truncate to %" PRIu64, seg->base, pos);
        return rv;
    }
    seg->alloc = pos;
    return 0;
}

void segment_iter_init(struct segment_iter *it, struct segment *seg, struct buf *b, uint64_t pos,
                       uint64_t limit, size_t chunk, bool keep)
{
    it->seg = seg;
    it->b = b;
    buf_reset(b);
    it->b_pos = pos;
    it->pos = pos;
    it->limit = limit;
    it->chunk = chunk;
    it->keep = keep;
}

/* Make sure at least `want` bytes from it->pos are in the buffer if the file
 * and the limit allow. */
static int fill(struct segment_iter *it, size_t want, char *errmsg)
{
    uint64_t have_end = it->b_pos + it->b->len;
    uint64_t want_end = it->pos + want;
    if (want_end > it->limit)
        want_end = it->limit;
    if (have_end >= want_end)
        return 0;
    if (!it->keep && it->pos > it->b_pos) {
        buf_consume(it->b, (size_t)(it->pos - it->b_pos));
        it->b_pos = it->pos;
    }
    uint64_t read_end = want_end;
    if (read_end - have_end < it->chunk)
        read_end = have_end + it->chunk;
    if (read_end > it->limit)
        read_end = it->limit;
    size_t n = (size_t)(read_end - have_end);
    uint8_t *p = buf_extend(it->b, n);
    if (!p)
        return TERN_E_NOMEM;
    size_t got = 0;
    int rv = fs_pread(it->seg->fd, p, n, (off_t)have_end, &got, errmsg);
    it->b->len -= n - got;
    if (rv)
        errmsg_wrapf(errmsg, "segment %020" PRIu64 ": read", it->seg->base);
    return rv;
}

int segment_iter_next(struct segment_iter *it, const struct record_limits *lim, bool verify,
                      struct record_hdr *h, size_t *off, char *errmsg)
{
    if (it->pos >= it->limit)
        return RECORD_END;
    int rv = fill(it, RECORD_HDR_SIZE, errmsg);
    if (rv)
        return rv;
    size_t at = (size_t)(it->pos - it->b_pos);
    size_t avail = it->b->len - at;
    rv = record_decode_hdr(it->b->data + at, avail, lim, false, h);
    if (rv == RECORD_SHORT) {
        /* Fewer header bytes than a header before the limit/EOF: zeros are the
         * end, anything else is a torn unit. */
        for (size_t i = 0; i < avail; i++)
            if (it->b->data[at + i])
                return TERN_E_CORRUPT;
        return RECORD_END;
    }
    if (rv)
        return rv;
    if (h->unit_len > avail) {
        rv = fill(it, h->unit_len, errmsg);
        if (rv)
            return rv;
        at = (size_t)(it->pos - it->b_pos);
        avail = it->b->len - at;
        if (h->unit_len > avail)
            return TERN_E_CORRUPT; /* torn: the unit runs past the data */
    }
    if (verify && !record_verify(it->b->data + at, h))
        return TERN_E_CORRUPT;
    *off = at;
    it->pos += h->unit_len;
    return 0;
}

int segment_index_unit(struct segment *seg, uint64_t pos, uint64_t offset, int64_t ts, uint32_t interval)
{
    if (seg->ix.n > 0 && pos - seg->last_idx_pos < interval)
        return 0;
    if (seg->ix.n > 0 && seg->ix.e[seg->ix.n - 1].pos >= pos)
        return 0;
    int rv = segindex_add(&seg->ix, (uint32_t)(offset - seg->base), (uint32_t)pos, ts);
    if (rv == 0)
        seg->last_idx_pos = pos;
    return rv;
}

int segment_scan(struct segment *seg, uint64_t pos, uint64_t offset, const struct record_limits *lim,
                 uint32_t interval, struct buf *scratch, int *stop, char *errmsg)
{
    struct segment_iter it;
    segment_iter_init(&it, seg, scratch, pos, seg->alloc, 1 << 20, false);
    seg->end = pos;
    seg->end_offset = offset;
    for (;;) {
        struct record_hdr h;
        size_t off;
        uint64_t at = it.pos;
        int rv = segment_iter_next(&it, lim, true, &h, &off, errmsg);
        if (rv == RECORD_END || rv == TERN_E_CORRUPT) {
            *stop = rv;
            return 0;
        }
        if (rv)
            return rv;
        if (h.base_offset != seg->end_offset || (seg->last_ts && h.store_ts < seg->last_ts) ||
            h.unit_len > UINT32_MAX - at) {
            *stop = TERN_E_CORRUPT; /* out of sequence: not a unit of this log here */
            return 0;
        }
        if (segment_index_unit(seg, at, h.base_offset, h.store_ts, interval))
            return TERN_E_NOMEM;
        if (seg->first_ts == 0 || at == SEGMENT_HDR_SIZE)
            seg->first_ts = at == SEGMENT_HDR_SIZE ? h.store_ts : seg->first_ts;
        seg->end = it.pos;
        seg->end_offset = h.base_offset + h.count;
        seg->last_ts = h.store_ts;
        if (h.source_index > seg->last_src)
            seg->last_src = h.source_index;
    }
}

int segment_nonzero_end(struct segment *seg, uint64_t from, uint64_t *end, char *errmsg)
{
    uint8_t tmp[65536];
    uint64_t hi = seg->alloc;
    while (hi > from) {
        uint64_t lo = hi > from + sizeof tmp ? hi - sizeof tmp : from;
        size_t got = 0;
        int rv = fs_pread(seg->fd, tmp, (size_t)(hi - lo), (off_t)lo, &got, errmsg);
        if (rv)
            return rv;
        for (size_t i = got; i > 0; i--) {
            if (tmp[i - 1]) {
                *end = lo + i;
                return 0;
            }
        }
        hi = lo;
    }
    *end = from;
    return 0;
}
