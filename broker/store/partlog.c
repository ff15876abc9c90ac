/* One partition log: segments, append/write/sync, recovery, reads, retention.
 *
 * Happy path: partlog_append encodes a unit into the pending buffer (one
 * memcpy per payload, one checksum pass); partlog_write puts the buffer into
 * the active segment with one pwrite (two across a roll) into preallocated
 * space; a sync job fdatasyncs the files and, about once a second, writes the
 * checkpoint that bounds the next recovery scan.
 * Failure modes: a failed write/fallocate truncates the active segment back
 * to the last unit written and drops the rest of the pending buffer; a
 * failed fdatasync cuts the files back to the last synced position (the
 * kernel may have dropped the dirty pages, so they are never trusted again).
 * Recovery (STORAGE.md §7) cuts a torn or corrupt tail of the active segment
 * and reports it; damage inside closed segments surfaces as TERN_E_CORRUPT on
 * read. */
#include "broker/store/partlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/store/segment.h"
#include "src/checksum.h"
#include "src/clock.h"
#include "src/compress.h"
#include "src/endian.h"
#include "src/fs.h"
#include "src/log.h"
#include "tern/error.h"

#define META_NAME "partition.meta"
#define META_MAGIC 0x314D5054u /* "TPM1" */
#define META_SIZE 32
#define CKPT_NAME "checkpoint"
#define CKPT_MAGIC 0x314B4354u /* "TCK1" */
#define CKPT_SIZE 56
#define PARTLOG_VERSION 1

/* A position in the log: offset plus where it sits on disk. */
struct pl_pos {
    uint64_t offset;
    uint64_t seg_base;
    uint64_t pos;
    uint64_t src;
    int64_t ts;
};

struct partlog {
    char *dir;
    uint32_t id;
    struct partlog_opts o;
    struct record_limits lim;
    struct segment **segs; /* sorted by base; the last one is active */
    uint32_t n_segs, cap_segs;

    struct buf pending; /* encoded units not yet written */
    struct buf scratch; /* lz4 input staging, recovery reads */
    uint64_t next_offset;
    int64_t last_ts;     /* highest store time assigned */
    uint64_t pending_src; /* highest source index assigned */

    struct pl_pos written;
    struct pl_pos synced;
    struct pl_pos ckpt; /* last checkpoint written */
    struct segment **dirty; /* segments written since the last sync_begin */
    uint32_t n_dirty, cap_dirty;
    bool dir_dirty;         /* a segment was created since the last sync_begin */
    bool syncing;           /* a sync job is running */

    struct partlog_recovery rec;
    void *user;
    char errmsg[ERRMSG_SIZE];
};

void partlog_opts_default(struct partlog_opts *o)
{
    o->segment_bytes = 64ull << 20;
    o->prealloc_initial = 1ull << 20;
    o->index_interval = 4096;
    o->max_unit_bytes = 16u << 20;
    o->max_raw_bytes = 64u << 20;
    o->max_pending_bytes = 64ull << 20;
    o->retention_ms = 7ll * 24 * 3600 * 1000;
    o->retention_bytes = 0;
    o->visible_on_write = false;
}

/* ---- small accessors ---- */

uint32_t partlog_id(const struct partlog *pl) { return pl->id; }
void partlog_set_user(struct partlog *pl, void *user) { pl->user = user; }
void *partlog_user(const struct partlog *pl) { return pl->user; }
const char *partlog_dir(const struct partlog *pl) { return pl->dir; }
const struct partlog_recovery *partlog_recovery(const struct partlog *pl) { return &pl->rec; }
const char *partlog_errmsg(const struct partlog *pl) { return pl->errmsg; }
uint64_t partlog_min_offset(const struct partlog *pl) { return pl->segs[0]->base; }
uint64_t partlog_next_offset(const struct partlog *pl) { return pl->next_offset; }
uint64_t partlog_synced_offset(const struct partlog *pl) { return pl->synced.offset; }
uint64_t partlog_last_source_index(const struct partlog *pl) { return pl->synced.src; }
uint32_t partlog_segment_count(const struct partlog *pl) { return pl->n_segs; }
bool partlog_has_pending(const struct partlog *pl) { return pl->pending.len > 0; }

static const struct pl_pos *visible(const struct partlog *pl)
{
    return pl->o.visible_on_write ? &pl->written : &pl->synced;
}

uint64_t partlog_end_offset(const struct partlog *pl) { return visible(pl)->offset; }

int64_t partlog_earliest_time(const struct partlog *pl)
{
    for (uint32_t i = 0; i < pl->n_segs; i++)
        if (pl->segs[i]->base < visible(pl)->offset && pl->segs[i]->first_ts)
            return pl->segs[i]->first_ts;
    return 0;
}

uint64_t partlog_size_bytes(const struct partlog *pl)
{
    uint64_t s = 0;
    for (uint32_t i = 0; i < pl->n_segs; i++)
        s += pl->segs[i]->end - SEGMENT_HDR_SIZE;
    return s;
}

static struct segment *active(const struct partlog *pl) { return pl->segs[pl->n_segs - 1]; }

/* Index of the segment with the largest base <= offset (0 if none). */
static uint32_t seg_for_offset(const struct partlog *pl, uint64_t offset)
{
    uint32_t lo = 0, hi = pl->n_segs;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (pl->segs[mid]->base <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int push_seg(struct partlog *pl, struct segment *seg)
{
    if (pl->n_segs == pl->cap_segs) {
        uint32_t cap = pl->cap_segs ? pl->cap_segs * 2 : 8;
        struct segment **s = realloc(pl->segs, cap * sizeof *s);
        if (!s)
            return TERN_E_NOMEM;
        pl->segs = s;
        pl->cap_segs = cap;
    }
    pl->segs[pl->n_segs++] = seg;
    return 0;
}

static int mark_dirty(struct partlog *pl, struct segment *seg)
{
    for (uint32_t i = 0; i < pl->n_dirty; i++)
        if (pl->dirty[i] == seg)
            return 0;
    if (pl->n_dirty == pl->cap_dirty) {
        uint32_t cap = pl->cap_dirty ? pl->cap_dirty * 2 : 4;
        struct segment **d = realloc(pl->dirty, cap * sizeof *d);
        if (!d)
            return TERN_E_NOMEM;
        pl->dirty = d;
        pl->cap_dirty = cap;
    }
    pl->dirty[pl->n_dirty++] = seg;
    return 0;
}

static void unmark_dirty(struct partlog *pl, struct segment *seg)
{
    for (uint32_t i = 0; i < pl->n_dirty; i++) {
        if (pl->dirty[i] == seg) {
            pl->dirty[i] = pl->dirty[--pl->n_dirty];
            return;
        }
    }
}

static void pos_of_active(const struct partlog *pl, struct pl_pos *p)
{
    const struct segment *seg = active(pl);
    p->offset = seg->end_offset;
    p->seg_base = seg->base;
    p->pos = seg->end;
    p->ts = pl->last_ts;
}

/* ---- metadata and checkpoint files (STORAGE.md §5, §6) ---- */

static int meta_load_or_create(struct partlog *pl, bool fresh)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", pl->dir, META_NAME);
    struct buf b;
    buf_init(&b);
    int rv = fs_read_file(path, &b, 4096, pl->errmsg);
    if (rv == TERN_E_NOTFOUND) {
        buf_free(&b);
        if (!fresh)
            LOGW("store", "%s: partition metadata missing, recreating with id %u", pl->dir, pl->id);
        uint8_t m[META_SIZE] = {0};
        le32_store(m, META_MAGIC);
        le32_store(m + 4, PARTLOG_VERSION);
        le32_store(m + 8, pl->id);
        le64_store(m + 16, (uint64_t)clock_now_ms());
        le64_store(m + 24, checksum_xxh3(m, 24));
        rv = fs_write_atomic(pl->dir, META_NAME, m, sizeof m, pl->errmsg);
        if (rv)
            errmsg_wrapf(pl->errmsg, "write partition metadata");
        return rv;
    }
    if (rv) {
        buf_free(&b);
        errmsg_wrapf(pl->errmsg, "read partition metadata");
        return rv;
    }
    const uint8_t *m = b.data;
    if (b.len != META_SIZE || le32_load(m) != META_MAGIC || le32_load(m + 4) != PARTLOG_VERSION ||
        le64_load(m + 24) != checksum_xxh3(m, 24)) {
        errmsg_printf(pl->errmsg, "partition metadata %s: bad magic, version or checksum", path);
        buf_free(&b);
        return TERN_E_CORRUPT;
    }
    uint32_t id = le32_load(m + 8);
    buf_free(&b);
    if (id != pl->id) {
        errmsg_printf(pl->errmsg, "partition metadata %s: id is %u, caller says %u", path, id, pl->id);
        return TERN_E_INVAL;
    }
    return 0;
}

static size_t ckpt_encode(uint8_t *c, const struct pl_pos *p)
{
    memset(c, 0, CKPT_SIZE);
    le32_store(c, CKPT_MAGIC);
    le32_store(c + 4, PARTLOG_VERSION);
    le64_store(c + 8, p->seg_base);
    le64_store(c + 16, p->pos);
    le64_store(c + 24, p->offset);
    le64_store(c + 32, p->src);
    le64_store(c + 40, (uint64_t)p->ts);
    le64_store(c + 48, checksum_xxh3(c, 48));
    return CKPT_SIZE;
}

static bool ckpt_load(struct partlog *pl, struct pl_pos *p)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", pl->dir, CKPT_NAME);
    struct buf b;
    buf_init(&b);
    char err[ERRMSG_SIZE];
    int rv = fs_read_file(path, &b, 4096, err);
    bool ok = rv == 0 && b.len == CKPT_SIZE && le32_load(b.data) == CKPT_MAGIC &&
              le32_load(b.data + 4) == PARTLOG_VERSION && le64_load(b.data + 48) == checksum_xxh3(b.data, 48);
    if (ok) {
        p->seg_base = le64_load(b.data + 8);
        p->pos = le64_load(b.data + 16);
        p->offset = le64_load(b.data + 24);
        p->src = le64_load(b.data + 32);
        p->ts = (int64_t)le64_load(b.data + 40);
    } else if (rv != TERN_E_NOTFOUND) {
        LOGW("store", "%s: ignoring unreadable checkpoint", pl->dir);
    }
    buf_free(&b);
    return ok;
}

/* ---- open and recovery (STORAGE.md §7) ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int list_segments(struct partlog *pl, uint64_t **bases, uint32_t *n)
{
    DIR *d = opendir(pl->dir);
    if (!d) {
        errmsg_printf(pl->errmsg, "opendir %s: %s", pl->dir, strerror(errno));
        return fs_errno_to_err(errno);
    }
    uint64_t *v = NULL;
    uint32_t cnt = 0, cap = 0;
    struct dirent *de;
    int rv = 0;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t len = strlen(nm);
        if (len > 4 && strcmp(nm + len - 4, ".tmp") == 0) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", pl->dir, nm);
            unlink(p);
            continue;
        }
        if (len != 24 || strcmp(nm + 20, ".log") != 0)
            continue;
        uint64_t base = 0;
        bool digits = true;
        for (int i = 0; i < 20; i++) {
            if (nm[i] < '0' || nm[i] > '9') {
                digits = false;
                break;
            }
            base = base * 10 + (uint64_t)(nm[i] - '0');
        }
        if (!digits)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rv = TERN_E_NOMEM;
                break;
            }
            v = nv;
        }
        v[cnt++] = base;
    }
    closedir(d);
    if (rv) {
        free(v);
        return rv;
    }
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_u64);
    *bases = v;
    *n = cnt;
    return 0;
}

/* Read one 16-byte index entry of the file at entry number i. */
static bool read_ix_entry(int fd, uint64_t i, struct segindex_entry *e)
{
    uint8_t p[SEGINDEX_ENTRY_SIZE];
    size_t got = 0;
    char err[ERRMSG_SIZE];
    if (fs_pread(fd, p, sizeof p, (off_t)(i * SEGINDEX_ENTRY_SIZE), &got, err) || got != sizeof p)
        return false;
    e->rel = le32_load(p);
    e->pos = le32_load(p + 4);
    e->ts = (int64_t)le64_load(p + 8);
    return true;
}

/* Full scan of a segment from its header, rebuilding its index. */
static int rebuild_segment(struct partlog *pl, struct segment *seg, int *stop)
{
    segindex_cut(&seg->ix, 0);
    seg->first_ts = seg->last_ts = 0;
    seg->last_src = 0;
    int rv = segment_scan(seg, SEGMENT_HDR_SIZE, seg->base, &pl->lim, pl->o.index_interval, &pl->scratch,
                          stop, pl->errmsg);
    pl->rec.scanned_bytes += seg->end - SEGMENT_HDR_SIZE;
    if (seg->ix.n)
        seg->first_ts = seg->ix.e[0].ts;
    return rv;
}

/* A closed segment: trust the index up to its last entry, verify from there
 * to the end of data (about one index interval), so open time does not grow
 * with the data size. next_base is the base of the following segment. */
static int open_closed(struct partlog *pl, struct segment *seg, uint64_t next_base)
{
    int stop = RECORD_END, rv;
    char err[ERRMSG_SIZE];
    int ixfd = -1;
    struct segindex_entry first = {0}, last = {0};
    bool ix_ok = false;
    if (fs_open(seg->ix_path, O_RDWR, 0, &ixfd, err) == 0) {
        off_t size = 0;
        if (fs_size(ixfd, &size, err) == 0 && size >= SEGINDEX_ENTRY_SIZE && size % SEGINDEX_ENTRY_SIZE == 0 &&
            read_ix_entry(ixfd, 0, &first) &&
            read_ix_entry(ixfd, (uint64_t)size / SEGINDEX_ENTRY_SIZE - 1, &last))
            ix_ok = first.rel == 0 && first.pos == SEGMENT_HDR_SIZE && last.pos >= first.pos &&
                    last.pos < seg->alloc && last.rel < next_base - seg->base && last.ts >= first.ts;
        fs_close(ixfd);
    }
    if (ix_ok) {
        /* The entry stands for the tail scan only; the full index loads lazily. */
        segindex_add(&seg->ix, last.rel, last.pos, last.ts);
        seg->last_idx_pos = last.pos;
        rv = segment_scan(seg, last.pos, seg->base + last.rel, &pl->lim, pl->o.index_interval, &pl->scratch,
                          &stop, pl->errmsg);
        if (rv)
            return rv;
        pl->rec.scanned_bytes += seg->end - last.pos;
        if (seg->end == last.pos)
            ix_ok = false; /* the indexed unit is not there: the index lies */
        seg->first_ts = first.ts;
        seg->ix_loaded = false;
    }
    if (!ix_ok) {
        LOGW("store", "%s: rebuilding index of segment %020" PRIu64, pl->dir, seg->base);
        pl->rec.indexes_rebuilt++;
        rv = fs_open(seg->ix_path, O_RDWR | O_CREAT, 0644, &seg->ix.fd, pl->errmsg);
        if (rv)
            return rv;
        rv = rebuild_segment(pl, seg, &stop);
        if (rv)
            return rv;
        seg->ix_loaded = true;
        if (segindex_rewrite(&seg->ix, err))
            LOGW("store", "%s: rewrite index %020" PRIu64 ": %s", pl->dir, seg->base, err);
    }
    if (stop == TERN_E_CORRUPT || seg->end_offset != next_base) {
        /* Damage inside a closed segment: keep everything; reads of the bad
         * range return TERN_E_CORRUPT. */
        LOGE("store", "%s: segment %020" PRIu64 " damaged at byte %" PRIu64 " (offset %" PRIu64 ")", pl->dir,
             seg->base, seg->end, seg->end_offset);
        seg->damaged = true;
        pl->rec.damaged_segments++;
        seg->end = seg->alloc;
        seg->end_offset = next_base;
    }
    return 0;
}

/* The active segment: scan from the checkpoint when it covers this segment,
 * else from the header; cut a torn or corrupt tail. */
static int open_active(struct partlog *pl, struct segment *seg, const struct pl_pos *ck)
{
    bool valid_all;
    int stop, rv;
    rv = segindex_load(&seg->ix, seg->ix_path, SEGMENT_HDR_SIZE,
                       seg->alloc > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->alloc, UINT32_MAX, &valid_all,
                       pl->errmsg);
    if (rv)
        return rv;
    seg->ix_loaded = true;
    uint64_t start = SEGMENT_HDR_SIZE, off = seg->base;
    if (ck && ck->seg_base == seg->base && ck->pos >= SEGMENT_HDR_SIZE && ck->pos <= seg->alloc &&
        ck->offset >= seg->base && (ck->pos == SEGMENT_HDR_SIZE || seg->ix.n > 0)) {
        segindex_cut(&seg->ix, (uint32_t)ck->pos);
        if (seg->ix.n && seg->ix.e[seg->ix.n - 1].rel > ck->offset - seg->base)
            segindex_cut(&seg->ix, 0);
        if (ck->pos == SEGMENT_HDR_SIZE || seg->ix.n > 0) {
            start = ck->pos;
            off = ck->offset;
            seg->last_ts = ck->ts;
            seg->last_src = ck->src;
            seg->first_ts = seg->ix.n ? seg->ix.e[0].ts : 0;
            seg->last_idx_pos = seg->ix.n ? seg->ix.e[seg->ix.n - 1].pos : 0;
            pl->rec.checkpoint_used = true;
        }
    }
    if (start == SEGMENT_HDR_SIZE)
        segindex_cut(&seg->ix, 0);
    rv = segment_scan(seg, start, off, &pl->lim, pl->o.index_interval, &pl->scratch, &stop, pl->errmsg);
    if (rv)
        return rv;
    if (start == SEGMENT_HDR_SIZE && seg->ix.n)
        seg->first_ts = seg->ix.e[0].ts;
    pl->rec.scanned_bytes += seg->end - start;
    if (stop == TERN_E_CORRUPT) {
        uint64_t nz = seg->end;
        if (segment_nonzero_end(seg, seg->end, &nz, pl->errmsg) != 0)
            nz = seg->alloc;
        pl->rec.cut = true;
        pl->rec.cut_bytes = nz - seg->end;
        pl->rec.cut_offset = seg->end_offset;
        LOGW("store", "%s: cut torn/corrupt tail of segment %020" PRIu64 " at byte %" PRIu64 " (offset %" PRIu64
             "): %" PRIu64 " bytes removed",
             pl->dir, seg->base, seg->end, seg->end_offset, pl->rec.cut_bytes);
    }
    /* Drop anything past the data end (a cut tail, stray bytes behind zeros,
     * the preallocation) so later writes start from clean zeros. */
    rv = segment_truncate(seg, seg->end, pl->errmsg);
    if (rv)
        return rv;
    if (segindex_flush(&seg->ix, pl->errmsg))
        LOGW("store", "%s: index flush: %s", pl->dir, pl->errmsg);
    return 0;
}

int partlog_open(const char *dir, uint32_t part_id, const struct partlog_opts *opts, struct partlog **out,
                 char *errmsg)
{
    if (part_id >= (1u << 19)) {
        errmsg_printf(errmsg, "open partition %s: id %u is not below 2^19", dir, part_id);
        return TERN_E_INVAL;
    }
    struct partlog *pl = calloc(1, sizeof *pl);
    if (!pl)
        return TERN_E_NOMEM;
    pl->dir = strdup(dir);
    if (!pl->dir) {
        free(pl);
        return TERN_E_NOMEM;
    }
    pl->id = part_id;
    if (opts)
        pl->o = *opts;
    else
        partlog_opts_default(&pl->o);
    struct partlog_opts *o = &pl->o;
    if (o->segment_bytes < 4096)
        o->segment_bytes = 4096;
    if (o->segment_bytes > (1ull << 30))
        o->segment_bytes = 1ull << 30;
    if (o->prealloc_initial < 4096)
        o->prealloc_initial = 4096;
    if (o->prealloc_initial > o->segment_bytes)
        o->prealloc_initial = o->segment_bytes;
    if (o->index_interval == 0)
        o->index_interval = 4096;
    if (o->max_unit_bytes > o->segment_bytes - SEGMENT_HDR_SIZE)
        o->max_unit_bytes = (uint32_t)(o->segment_bytes - SEGMENT_HDR_SIZE);
    if (o->max_unit_bytes < RECORD_HDR_SIZE + 16)
        o->max_unit_bytes = RECORD_HDR_SIZE + 16;
    pl->lim.max_unit = o->max_unit_bytes;
    pl->lim.max_raw = o->max_raw_bytes;
    buf_init(&pl->pending);
    buf_init(&pl->scratch);

    uint64_t *bases = NULL;
    uint32_t nb = 0;
    int rv = fs_mkdir_p(dir, pl->errmsg);
    if (rv)
        goto err;
    rv = list_segments(pl, &bases, &nb);
    if (rv)
        goto err;
    rv = meta_load_or_create(pl, nb == 0);
    if (rv)
        goto err;
    struct pl_pos ck;
    bool have_ck = ckpt_load(pl, &ck);
    pl->rec.segments = nb;
    for (uint32_t i = 0; i < nb; i++) {
        struct segment *seg;
        bool hdr_ok;
        rv = segment_open(dir, bases[i], part_id, &seg, &hdr_ok, pl->errmsg);
        if (rv)
            goto err;
        if (push_seg(pl, seg)) {
            segment_free(seg);
            rv = TERN_E_NOMEM;
            goto err;
        }
        bool last = i + 1 == nb;
        if (!hdr_ok) {
            LOGW("store", "%s: segment %020" PRIu64 " has a bad header%s", dir, bases[i],
                 last ? ", rewriting it" : "");
            if (last) {
                if (seg->alloc < SEGMENT_HDR_SIZE)
                    seg->alloc = SEGMENT_HDR_SIZE;
                rv = segment_write_hdr(seg, part_id, pl->errmsg);
                if (rv)
                    goto err;
            } else {
                seg->damaged = true;
            }
        }
        rv = last ? open_active(pl, seg, have_ck ? &ck : NULL) : open_closed(pl, seg, bases[i + 1]);
        if (rv) {
            errmsg_wrapf(pl->errmsg, "recover segment %020" PRIu64, bases[i]);
            goto err;
        }
        if (seg->last_ts > pl->last_ts)
            pl->last_ts = seg->last_ts;
        if (seg->last_src > pl->synced.src)
            pl->synced.src = seg->last_src;
    }
    if (nb == 0) {
        struct segment *seg;
        uint64_t base = have_ck ? ck.offset : 0;
        rv = segment_create(dir, base, part_id, o->prealloc_initial, &seg, pl->errmsg);
        if (rv)
            goto err;
        if (push_seg(pl, seg)) {
            segment_remove(seg, pl->errmsg);
            rv = TERN_E_NOMEM;
            goto err;
        }
        rv = fs_sync_dir(dir, pl->errmsg);
        if (rv)
            goto err;
    }
    if (have_ck && ck.src > pl->synced.src && ck.offset <= active(pl)->end_offset)
        pl->synced.src = ck.src;
    free(bases);
    bases = NULL;
    pos_of_active(pl, &pl->written);
    pl->written.src = pl->synced.src;
    pl->synced = pl->written;
    pl->ckpt = have_ck ? ck : (struct pl_pos){0};
    pl->next_offset = pl->written.offset;
    pl->pending_src = pl->synced.src;
    *out = pl;
    return 0;
err:
    free(bases);
    errmsg_copy(errmsg, pl->errmsg);
    errmsg_wrapf(errmsg, "open partition %s", dir);
    pl->n_dirty = 0;
    for (uint32_t i = 0; i < pl->n_segs; i++)
        segment_free(pl->segs[i]);
    free(pl->segs);
    buf_free(&pl->pending);
    buf_free(&pl->scratch);
    free(pl->dir);
    free(pl);
    return rv;
}

static int write_checkpoint_now(struct partlog *pl)
{
    uint8_t c[CKPT_SIZE];
    size_t n = ckpt_encode(c, &pl->synced);
    if (segindex_flush(&active(pl)->ix, pl->errmsg) == 0 && active(pl)->ix.fd >= 0)
        fs_datasync(active(pl)->ix.fd, pl->errmsg);
    int rv = fs_write_atomic(pl->dir, CKPT_NAME, c, n, pl->errmsg);
    if (rv == 0)
        pl->ckpt = pl->synced;
    return rv;
}

void partlog_close(struct partlog *pl)
{
    if (!pl)
        return;
    if (memcmp(&pl->ckpt, &pl->synced, sizeof pl->ckpt) != 0 && !pl->syncing) {
        if (write_checkpoint_now(pl))
            LOGW("store", "%s: final checkpoint: %s", pl->dir, pl->errmsg);
    }
    for (uint32_t i = 0; i < pl->n_segs; i++)
        segment_free(pl->segs[i]);
    free(pl->segs);
    free(pl->dirty);
    buf_free(&pl->pending);
    buf_free(&pl->scratch);
    free(pl->dir);
    free(pl);
}

/* ---- append, write, sync ---- */

int64_t partlog_store_time(const struct partlog *pl, int64_t now_ms)
{
    /* Keep store times monotonic: time search relies on it. */
    return now_ms < pl->last_ts ? pl->last_ts : now_ms;
}

int partlog_append(struct partlog *pl, const struct record_msg *msgs, uint32_t n,
                   const struct partlog_append_info *info, uint64_t *first_offset)
{
    if (pl->pending.len >= pl->o.max_pending_bytes)
        return TERN_E_BUSY;
    int64_t ts = partlog_store_time(pl, info && info->store_ts > 0 ? info->store_ts : clock_now_ms());
    struct record_hdr h;
    uint64_t src = info ? info->source_index : 0;
    int rv = record_encode(&pl->pending, &pl->scratch, msgs, n, pl->next_offset, ts, src,
                           info ? info->flags : 0, info ? info->codec : RECORD_CODEC_NONE, &pl->lim, &h);
    if (rv) {
        errmsg_printf(pl->errmsg, "append %u messages: %s", n, tern_strerror(rv));
        return rv;
    }
    *first_offset = pl->next_offset;
    pl->next_offset += n;
    pl->last_ts = ts;
    if (src > pl->pending_src)
        pl->pending_src = src;
    return 0;
}

/* Close the active segment and open a new one at the current end. */
static int roll(struct partlog *pl)
{
    struct segment *old = active(pl);
    char err[ERRMSG_SIZE];
    if (segindex_flush(&old->ix, err))
        LOGW("store", "%s: index flush at roll: %s", pl->dir, err);
    /* Give back the unused preallocation; the sync job makes the file durable. */
    if (old->alloc > old->end && segment_truncate(old, old->end, err))
        LOGW("store", "%s: trim at roll: %s", pl->dir, err);
    struct segment *seg;
    int rv = segment_create(pl->dir, old->end_offset, pl->id, pl->o.prealloc_initial, &seg, pl->errmsg);
    if (rv)
        return rv;
    if (push_seg(pl, seg)) {
        segment_remove(seg, err);
        return TERN_E_NOMEM;
    }
    pl->dir_dirty = true;
    return mark_dirty(pl, seg);
}

int partlog_write(struct partlog *pl)
{
    const uint8_t *p = pl->pending.data;
    size_t left = pl->pending.len;
    int rv = 0;
    while (left > 0) {
        struct segment *seg = active(pl);
        size_t n = 0;
        while (n < left) {
            uint32_t ul = le32_load(p + n);
            if (seg->end + n + ul > pl->o.segment_bytes && !(seg->end == SEGMENT_HDR_SIZE && n == 0))
                break;
            n += ul;
        }
        if (n == 0) {
            rv = roll(pl);
            if (rv)
                goto fail;
            continue;
        }
        rv = segment_reserve(seg, seg->end + n, pl->o.prealloc_initial, pl->o.segment_bytes, pl->errmsg);
        if (rv)
            goto fail;
        rv = fs_pwrite_all(seg->fd, p, n, (off_t)seg->end, pl->errmsg);
        if (rv) {
            errmsg_wrapf(pl->errmsg, "segment %020" PRIu64 ": write %zu bytes at %" PRIu64, seg->base, n,
                         seg->end);
            goto fail;
        }
        rv = mark_dirty(pl, seg);
        if (rv)
            goto fail;
        /* Bytes are in the file: account for them unit by unit. */
        for (size_t at = 0; at < n;) {
            const uint8_t *u = p + at;
            uint32_t ul = le32_load(u);
            uint64_t off = le64_load(u + 16);
            int64_t ts = (int64_t)le64_load(u + 24);
            uint64_t src = le64_load(u + 32);
            uint32_t cnt = le32_load(u + 40);
            if (seg->end == SEGMENT_HDR_SIZE)
                seg->first_ts = ts;
            segment_index_unit(seg, seg->end, off, ts, pl->o.index_interval);
            seg->end += ul;
            seg->end_offset = off + cnt;
            seg->last_ts = ts;
            if (src > seg->last_src)
                seg->last_src = src;
            if (src > pl->written.src)
                pl->written.src = src;
            at += ul;
        }
        p += n;
        left -= n;
    }
    if (segindex_flush(&active(pl)->ix, pl->errmsg))
        LOGW("store", "%s: index write: %s", pl->dir, pl->errmsg);
    buf_reset(&pl->pending);
    if (pl->pending.cap > (4u << 20)) {
        buf_free(&pl->pending);
        buf_init(&pl->pending);
    }
    uint64_t src = pl->written.src;
    pos_of_active(pl, &pl->written);
    pl->written.src = src;
    return 0;
fail:;
    /* Cut any partial bytes; the preallocation goes too and is redone. */
    struct segment *seg = active(pl);
    char err[ERRMSG_SIZE];
    if (segment_truncate(seg, seg->end, err))
        LOGE("store", "%s: rollback truncate: %s", pl->dir, err);
    buf_reset(&pl->pending);
    uint64_t wsrc = pl->written.src;
    pos_of_active(pl, &pl->written);
    pl->written.src = wsrc;
    pl->next_offset = pl->written.offset;
    pl->pending_src = wsrc;
    errmsg_wrapf(pl->errmsg, "partition %s", pl->dir);
    return rv;
}

void partlog_sync_init(struct partlog_sync *job)
{
    memset(job, 0, sizeof *job);
}

void partlog_sync_free(struct partlog_sync *job)
{
    free(job->fds);
    memset(job, 0, sizeof *job);
}

bool partlog_needs_sync(const struct partlog *pl)
{
    /* Dirty segments and the directory without new data (after a rollback
     * truncated them) ride along with the next data sync, so a persistent
     * fault cannot make the store spin on empty sync jobs. */
    return pl->written.offset != pl->synced.offset;
}

static int job_add_fd(struct partlog_sync *job, int fd)
{
    if (job->n_fds == job->cap_fds) {
        uint32_t cap = job->cap_fds ? job->cap_fds * 2 : 8;
        int *f = realloc(job->fds, cap * sizeof *f);
        if (!f)
            return TERN_E_NOMEM;
        job->fds = f;
        job->cap_fds = cap;
    }
    job->fds[job->n_fds++] = fd;
    return 0;
}

int partlog_sync_begin(struct partlog *pl, struct partlog_sync *job, bool with_checkpoint)
{
    job->n_fds = 0;
    job->pl = pl;
    job->dir = pl->dir;
    job->status = 0;
    job->errmsg[0] = '\0';
    job->sync_dir = pl->dir_dirty;
    for (uint32_t i = 0; i < pl->n_dirty; i++)
        if (job_add_fd(job, pl->dirty[i]->fd))
            return TERN_E_NOMEM;
    job->n_data_fds = job->n_fds;
    for (uint32_t i = 0; i < pl->n_dirty; i++) {
        struct segment *seg = pl->dirty[i];
        /* Index files of closed segments are finished now: make them durable
         * once; the active one's only with a checkpoint. */
        if ((seg != active(pl) || with_checkpoint) && seg->ix.fd >= 0) {
            segindex_flush(&seg->ix, pl->errmsg);
            if (job_add_fd(job, seg->ix.fd))
                return TERN_E_NOMEM;
        }
    }
    job->offset = pl->written.offset;
    job->seg_base = pl->written.seg_base;
    job->pos = pl->written.pos;
    job->src = pl->written.src;
    job->ts = pl->written.ts;
    /* Reserve the next fallocate step off the loop while the segment still
     * has room, so the write path rarely has to allocate synchronously. */
    struct segment *as = active(pl);
    job->grow_fd = -1;
    job->grow_ok = false;
    if (as->alloc < pl->o.segment_bytes && as->alloc - as->end < as->alloc / 2 && as->alloc >= as->end) {
        uint64_t to = as->alloc * 2;
        if (to < pl->o.prealloc_initial)
            to = pl->o.prealloc_initial;
        if (to > pl->o.segment_bytes)
            to = pl->o.segment_bytes;
        job->grow_fd = as->fd;
        job->grow_base = as->base;
        job->grow_from = as->alloc;
        job->grow_to = to;
    }
    job->checkpoint = with_checkpoint;
    if (with_checkpoint)
        job->ckpt_len = ckpt_encode(job->ckpt, &pl->written);
    /* Writes after this point mark their segment dirty again. */
    for (uint32_t i = 0; i < pl->n_dirty; i++)
        pl->dirty[i]->pins++;
    pl->n_dirty = 0;
    pl->dir_dirty = false;
    pl->syncing = true;
    return 0;
}

void partlog_sync_run(struct partlog_sync *job)
{
    if (job->status)
        return; /* begin already failed */
    int rv = 0;
    for (uint32_t i = 0; i < job->n_data_fds && rv == 0; i++)
        rv = fs_datasync(job->fds[i], job->errmsg);
    if (rv == 0 && job->sync_dir)
        rv = fs_sync_dir(job->dir, job->errmsg);
    job->status = rv;
    if (rv)
        return;
    char err[ERRMSG_SIZE];
    if (job->grow_fd >= 0)
        job->grow_ok = fs_allocate(job->grow_fd, (off_t)job->grow_from, (off_t)(job->grow_to - job->grow_from),
                                   err) == 0;
    /* Index files and the checkpoint only speed up recovery: failures here
     * are logged, never reported to appenders. */
    bool ix_ok = true;
    for (uint32_t i = job->n_data_fds; i < job->n_fds; i++)
        if (fs_datasync(job->fds[i], err))
            ix_ok = false;
    if (job->checkpoint && ix_ok && fs_write_atomic(job->dir, CKPT_NAME, job->ckpt, job->ckpt_len, err)) {
        LOGW("store", "%s: checkpoint: %s", job->dir, err);
        job->checkpoint = false;
    } else if (!ix_ok) {
        job->checkpoint = false;
    }
}

/* After a failed sync: drop everything past the synced position. */
static void rollback_to_synced(struct partlog *pl)
{
    char err[ERRMSG_SIZE];
    while (pl->n_segs > 1 && active(pl)->base > pl->synced.seg_base) {
        struct segment *seg = active(pl);
        unmark_dirty(pl, seg);
        pl->n_segs--;
        if (segment_remove(seg, err))
            LOGE("store", "%s: rollback remove segment: %s", pl->dir, err);
        pl->dir_dirty = true;
    }
    struct segment *seg = active(pl);
    if (segment_truncate(seg, pl->synced.pos, err))
        LOGE("store", "%s: rollback truncate: %s", pl->dir, err);
    seg->end = pl->synced.pos;
    seg->end_offset = pl->synced.offset;
    seg->last_ts = pl->synced.ts;
    segindex_cut(&seg->ix, (uint32_t)seg->end);
    seg->last_idx_pos = seg->ix.n ? seg->ix.e[seg->ix.n - 1].pos : 0;
    if (seg->end == SEGMENT_HDR_SIZE)
        seg->first_ts = 0;
    segindex_flush(&seg->ix, err);
    mark_dirty(pl, seg); /* the truncation reaches the disk with the next sync */
    buf_reset(&pl->pending);
    pl->written = pl->synced;
    pl->next_offset = pl->synced.offset;
    pl->pending_src = pl->synced.src;
}

int partlog_sync_end(struct partlog *pl, struct partlog_sync *job)
{
    pl->syncing = false;
    /* Unpin: every dirty segment was pinned at begin (new ones since are not). */
    for (uint32_t i = 0; i < pl->n_segs; i++)
        if (pl->segs[i]->pins > 0)
            pl->segs[i]->pins--;
    if (job->status) {
        errmsg_copy(pl->errmsg, job->errmsg);
        errmsg_wrapf(pl->errmsg, "partition %s: sync", pl->dir);
        LOGE("store", "%s", pl->errmsg);
        if (job->sync_dir)
            pl->dir_dirty = true;
        rollback_to_synced(pl);
        return job->status;
    }
    /* Take the background reservation only if nothing changed the file's
     * size meanwhile (a synchronous step or a rollback truncation). */
    if (job->grow_ok && active(pl)->base == job->grow_base && active(pl)->alloc == job->grow_from)
        active(pl)->alloc = job->grow_to;
    pl->synced.offset = job->offset;
    pl->synced.seg_base = job->seg_base;
    pl->synced.pos = job->pos;
    pl->synced.src = job->src;
    pl->synced.ts = job->ts;
    if (job->checkpoint) {
        pl->ckpt.offset = job->offset;
        pl->ckpt.seg_base = job->seg_base;
        pl->ckpt.pos = job->pos;
        pl->ckpt.src = job->src;
        pl->ckpt.ts = job->ts;
    }
    return 0;
}

int partlog_flush(struct partlog *pl)
{
    int rv = partlog_write(pl);
    if (rv)
        return rv;
    if (!partlog_needs_sync(pl))
        return 0;
    struct partlog_sync job;
    partlog_sync_init(&job);
    rv = partlog_sync_begin(pl, &job, true);
    if (rv == 0) {
        partlog_sync_run(&job);
        rv = partlog_sync_end(pl, &job);
    }
    partlog_sync_free(&job);
    return rv;
}

/* ---- reads ---- */

void partlog_readbuf_init(struct partlog_readbuf *rb)
{
    buf_init(&rb->raw);
    buf_init(&rb->dec);
}

void partlog_readbuf_free(struct partlog_readbuf *rb)
{
    buf_free(&rb->raw);
    buf_free(&rb->dec);
}

/* Read limit of segment i: nothing past the visible end. */
static uint64_t seg_limit(const struct partlog *pl, uint32_t i)
{
    const struct pl_pos *v = visible(pl);
    struct segment *seg = pl->segs[i];
    if (seg->base > v->seg_base)
        return 0;
    if (seg->base == v->seg_base)
        return v->pos;
    return seg->alloc;
}

/* Logical end expected for segment i within the visible range. */
static uint64_t seg_end_offset(const struct partlog *pl, uint32_t i)
{
    const struct pl_pos *v = visible(pl);
    if (pl->segs[i]->base == v->seg_base)
        return v->offset;
    return i + 1 < pl->n_segs ? pl->segs[i + 1]->base : pl->segs[i]->end_offset;
}

/* Closed segments keep their index on disk until first needed. */
static int ensure_index(struct partlog *pl, struct segment *seg)
{
    if (seg->ix_loaded)
        return 0;
    bool valid_all;
    int rv = segindex_load(&seg->ix, seg->ix_path, SEGMENT_HDR_SIZE,
                           seg->alloc > UINT32_MAX ? UINT32_MAX : (uint32_t)seg->alloc, UINT32_MAX, &valid_all,
                           pl->errmsg);
    if (rv)
        return rv;
    seg->ix_loaded = true;
    if (!valid_all)
        LOGW("store", "%s: index of segment %020" PRIu64 " kept %u valid entries", pl->dir, seg->base, seg->ix.n);
    return 0;
}

static bool filter_ok(const struct partlog_filter *f, uint64_t tag)
{
    return !f || !f->match || f->match(tag, f->arg);
}

int partlog_read(struct partlog *pl, uint64_t offset, uint32_t max_msgs, size_t max_bytes,
                 const struct partlog_filter *filter, struct partlog_readbuf *rb, struct partlog_msg *msgs,
                 struct partlog_read_result *res)
{
    memset(res, 0, sizeof *res);
    uint64_t min = partlog_min_offset(pl);
    uint64_t vend = partlog_end_offset(pl);
    if (offset < min) {
        res->min_offset = min;
        res->next_offset = min;
        return TERN_E_RANGE;
    }
    res->next_offset = offset;
    if (offset >= vend || max_msgs == 0) {
        res->end_reached = offset >= vend;
        return 0;
    }
    uint32_t si = seg_for_offset(pl, offset);
    struct segment *seg = pl->segs[si];
    uint64_t limit = seg_limit(pl, si);
    uint64_t want_end = seg_end_offset(pl, si);
    int rv = ensure_index(pl, seg);
    if (rv)
        return rv;
    long e = segindex_find_offset(&seg->ix, (uint32_t)(offset - seg->base));
    uint64_t pos = e >= 0 ? seg->ix.e[e].pos : SEGMENT_HDR_SIZE;
    uint64_t cur = e >= 0 ? seg->base + seg->ix.e[e].rel : seg->base;
    size_t chunk = max_bytes + 8192;
    if (chunk < 65536)
        chunk = 65536;
    size_t scan_budget = max_bytes * 4 > (1u << 20) ? max_bytes * 4 : (1u << 20);
    struct segment_iter it;
    segment_iter_init(&it, seg, &rb->raw, pos, limit, chunk, true);
    buf_reset(&rb->dec);
    uint32_t n = 0;
    size_t bytes = 0, scanned = 0;
    bool stop = false;
    while (!stop && cur < want_end) {
        struct record_hdr h;
        size_t uo;
        rv = segment_iter_next(&it, &pl->lim, false, &h, &uo, pl->errmsg);
        if (rv == RECORD_END) {
            if (cur < want_end)
                rv = TERN_E_CORRUPT; /* data missing where the log says it is */
            else
                break;
        }
        if (rv == 0 && h.base_offset != cur)
            rv = TERN_E_CORRUPT;
        if (rv == 0 && h.base_offset + h.count <= offset) {
            cur = h.base_offset + h.count; /* before the target: header checks suffice */
            continue;
        }
        if (rv == 0 && !record_verify(rb->raw.data + uo, &h))
            rv = TERN_E_CORRUPT;
        if (rv) {
            if (rv == TERN_E_CORRUPT)
                errmsg_printf(pl->errmsg, "partition %s: segment %020" PRIu64 ": damaged unit at offset %" PRIu64,
                              pl->dir, seg->base, cur);
            if (n > 0 && rv == TERN_E_CORRUPT)
                break;
            res->next_offset = cur;
            return rv;
        }
        const uint8_t *u = rb->raw.data + uo;
        uint32_t first = offset > h.base_offset ? (uint32_t)(offset - h.base_offset) : 0;
        bool any = false;
        for (uint32_t i = first; i < h.count && !any; i++)
            any = filter_ok(filter, record_tag(u, i));
        scanned += h.unit_len;
        if (!any) {
            cur = h.base_offset + h.count;
            if (scanned >= scan_budget && n == 0)
                break;
            continue;
        }
        const uint8_t *body = record_body(u, &h);
        uint8_t in_dec = 0;
        size_t body_at = (size_t)(body - rb->raw.data);
        if (h.codec == RECORD_CODEC_LZ4) {
            size_t d0 = rb->dec.len;
            uint8_t *d = buf_extend(&rb->dec, h.raw_len);
            if (!d)
                return TERN_E_NOMEM;
            u = rb->raw.data + uo;
            if (compress_unlz4(record_body(u, &h), h.body_len, d, h.raw_len)) {
                rb->dec.len = d0;
                if (n > 0)
                    break;
                res->next_offset = cur;
                return TERN_E_CORRUPT;
            }
            in_dec = 1;
            body = d;
            body_at = d0;
        }
        uint32_t bp = 0;
        for (uint32_t i = 0; i < h.count; i++) {
            const uint8_t *data;
            uint32_t len;
            if (record_next_msg(body, h.raw_len, &bp, &data, &len)) {
                if (n > 0) {
                    stop = true;
                    break;
                }
                res->next_offset = cur;
                return TERN_E_CORRUPT;
            }
            if (i < first || !filter_ok(filter, record_tag(u, i)))
                continue;
            if (n > 0 && bytes + len > max_bytes) {
                cur = h.base_offset + i;
                stop = true;
                break;
            }
            struct partlog_msg *m = &msgs[n++];
            m->offset = h.base_offset + i;
            m->store_ts = h.store_ts;
            m->tag_hash = record_tag(u, i);
            m->source_index = h.source_index;
            m->flags = h.flags;
            m->len = len;
            m->in_dec = in_dec;
            m->at = body_at + (size_t)(data - body);
            bytes += len;
            if (n == max_msgs) {
                cur = h.base_offset + i + 1;
                stop = true;
                break;
            }
        }
        if (!stop)
            cur = h.base_offset + h.count;
    }
    for (uint32_t i = 0; i < n; i++)
        msgs[i].data = (msgs[i].in_dec ? rb->dec.data : rb->raw.data) + msgs[i].at;
    res->n = n;
    res->next_offset = cur;
    res->end_reached = cur >= vend;
    return 0;
}

/* Scan units of segment i from the index entry chosen for ts. */
static int time_scan(struct partlog *pl, uint32_t i, int64_t ts, enum partlog_time_boundary b, uint64_t *found,
                     bool *hit)
{
    struct segment *seg = pl->segs[i];
    uint64_t limit = seg_limit(pl, i);
    uint64_t want_end = seg_end_offset(pl, i);
    int rv = ensure_index(pl, seg);
    if (rv)
        return rv;
    long e = segindex_find_time(&seg->ix, ts, b == PARTLOG_TIME_FIRST_GE);
    uint64_t pos = e >= 0 ? seg->ix.e[e].pos : SEGMENT_HDR_SIZE;
    uint64_t cur = e >= 0 ? seg->base + seg->ix.e[e].rel : seg->base;
    struct segment_iter it;
    segment_iter_init(&it, seg, &pl->scratch, pos, limit, 65536, false);
    *hit = false;
    while (cur < want_end) {
        struct record_hdr h;
        size_t uo;
        rv = segment_iter_next(&it, &pl->lim, true, &h, &uo, pl->errmsg);
        if (rv == RECORD_END || (rv == 0 && h.base_offset != cur))
            rv = TERN_E_CORRUPT;
        if (rv)
            return rv;
        if (b == PARTLOG_TIME_FIRST_GE) {
            if (h.store_ts >= ts) {
                *found = h.base_offset;
                *hit = true;
                return 0;
            }
        } else {
            if (h.store_ts > ts)
                return 0;
            *found = h.base_offset + h.count - 1;
            *hit = true;
        }
        cur = h.base_offset + h.count;
    }
    return 0;
}

int partlog_search_time(struct partlog *pl, int64_t ts, enum partlog_time_boundary b, uint64_t *offset)
{
    uint64_t vend = partlog_end_offset(pl);
    bool hit = false;
    int rv;
    if (b == PARTLOG_TIME_FIRST_GE) {
        for (uint32_t i = 0; i < pl->n_segs; i++) {
            struct segment *seg = pl->segs[i];
            if (seg->base >= vend)
                break;
            if (seg->last_ts < ts && seg->base != visible(pl)->seg_base)
                continue;
            rv = time_scan(pl, i, ts, b, offset, &hit);
            if (rv)
                return rv;
            if (hit)
                return 0;
        }
        *offset = vend;
        return TERN_E_NOTFOUND;
    }
    for (uint32_t i = pl->n_segs; i-- > 0;) {
        struct segment *seg = pl->segs[i];
        if (seg->base >= vend)
            continue;
        if (seg->first_ts > ts)
            continue;
        rv = time_scan(pl, i, ts, b, offset, &hit);
        if (rv)
            return rv;
        if (hit)
            return 0;
    }
    *offset = partlog_min_offset(pl);
    return TERN_E_NOTFOUND;
}

/* ---- retention ---- */

int partlog_retain(struct partlog *pl, int64_t now_ms, uint32_t *deleted)
{
    *deleted = 0;
    uint64_t total = partlog_size_bytes(pl);
    while (pl->n_segs > 1) {
        struct segment *seg = pl->segs[0];
        if (seg->pins > 0 || seg->base >= pl->synced.seg_base || seg->end_offset > pl->synced.offset)
            break;
        bool old = pl->o.retention_ms > 0 && seg->last_ts < now_ms - pl->o.retention_ms;
        bool big = pl->o.retention_bytes > 0 && total > pl->o.retention_bytes;
        if (!old && !big)
            break;
        uint64_t sz = seg->end - SEGMENT_HDR_SIZE;
        unmark_dirty(pl, seg);
        memmove(pl->segs, pl->segs + 1, (pl->n_segs - 1) * sizeof *pl->segs);
        pl->n_segs--;
        LOGI("store", "%s: retention deletes segment %020" PRIu64 " (%s)", pl->dir, seg->base,
             old ? "age" : "size");
        int rv = segment_remove(seg, pl->errmsg);
        total -= sz;
        (*deleted)++;
        if (rv)
            return rv;
    }
    return 0;
}

/* ---- verbatim units (replica catch-up) ---- */

int partlog_read_units(struct partlog *pl, uint64_t from, uint64_t end, size_t max_bytes,
                       struct partlog_readbuf *rb, struct buf *out, uint64_t *next)
{
    *next = from;
    uint64_t vend = partlog_end_offset(pl);
    if (end > vend)
        end = vend;
    if (from < partlog_min_offset(pl))
        return TERN_E_RANGE;
    if (from >= end)
        return 0;
    uint32_t si = seg_for_offset(pl, from);
    struct segment *seg = pl->segs[si];
    uint64_t limit = seg_limit(pl, si);
    uint64_t want_end = seg_end_offset(pl, si);
    int rv = ensure_index(pl, seg);
    if (rv)
        return rv;
    long e = segindex_find_offset(&seg->ix, (uint32_t)(from - seg->base));
    uint64_t pos = e >= 0 ? seg->ix.e[e].pos : SEGMENT_HDR_SIZE;
    uint64_t cur = e >= 0 ? seg->base + seg->ix.e[e].rel : seg->base;
    size_t chunk = max_bytes + 8192 < 65536 ? 65536 : max_bytes + 8192;
    struct segment_iter it;
    /* Units are copied out at once, so the iterator may drop what it read. */
    segment_iter_init(&it, seg, &rb->raw, pos, limit, chunk, false);
    size_t copied = 0;
    while (cur < end && cur < want_end) {
        struct record_hdr h;
        size_t uo;
        rv = segment_iter_next(&it, &pl->lim, false, &h, &uo, pl->errmsg);
        if (rv == RECORD_END)
            rv = TERN_E_CORRUPT; /* data missing where the log says it is */
        if (rv == 0 && h.base_offset != cur)
            rv = TERN_E_CORRUPT;
        if (rv == 0 && h.base_offset + h.count <= from) {
            cur = h.base_offset + h.count; /* before the target: header checks suffice */
            continue;
        }
        if (rv == 0 && h.base_offset != from && copied == 0) {
            errmsg_printf(pl->errmsg, "partition %s: offset %" PRIu64 " is inside the unit at %" PRIu64, pl->dir,
                          from, h.base_offset);
            return TERN_E_INVAL;
        }
        if (rv == 0 && h.base_offset + h.count > end)
            break;
        if (rv == 0 && copied > 0 && copied + h.unit_len > max_bytes)
            break;
        if (rv == 0 && !record_verify(rb->raw.data + uo, &h))
            rv = TERN_E_CORRUPT;
        if (rv) {
            if (rv == TERN_E_CORRUPT)
                errmsg_printf(pl->errmsg, "partition %s: segment %020" PRIu64 ": damaged unit at offset %" PRIu64,
                              pl->dir, seg->base, cur);
            return rv;
        }
        buf_append(out, rb->raw.data + uo, h.unit_len);
        if (out->err)
            return TERN_E_NOMEM;
        copied += h.unit_len;
        cur = h.base_offset + h.count;
        *next = cur;
    }
    return 0;
}

int partlog_import(struct partlog *pl, const uint8_t *units, size_t n, uint64_t *end_offset)
{
    uint64_t off = pl->next_offset;
    int64_t ts = pl->last_ts;
    uint64_t src = pl->pending_src;
    /* Check everything before staging anything: a bad chunk changes nothing. */
    for (size_t at = 0; at < n;) {
        struct record_hdr h;
        int rv = record_decode_hdr(units + at, n - at, &pl->lim, true, &h);
        const char *why = NULL;
        if (rv == RECORD_END || rv == RECORD_SHORT)
            why = "truncated unit";
        else if (rv != 0)
            why = "bad unit header";
        else if (!record_verify(units + at, &h))
            why = "checksum mismatch";
        else if (h.base_offset != off)
            why = "base offset not contiguous";
        else if (h.store_ts < ts)
            why = "store time goes backwards";
        if (why) {
            errmsg_printf(pl->errmsg, "partition %s: import at byte %zu (offset %" PRIu64 "): %s", pl->dir, at, off,
                          why);
            return TERN_E_CORRUPT;
        }
        off += h.count;
        ts = h.store_ts;
        if (h.source_index > src)
            src = h.source_index;
        at += h.unit_len;
    }
    size_t old = pl->pending.len;
    buf_append(&pl->pending, units, n);
    if (pl->pending.err) {
        pl->pending.err = 0;
        pl->pending.len = old;
        return TERN_E_NOMEM;
    }
    pl->next_offset = off;
    pl->last_ts = ts;
    pl->pending_src = src;
    *end_offset = off;
    return 0;
}

int partlog_datasync_now(struct partlog *pl)
{
    if (!partlog_needs_sync(pl) && pl->n_dirty == 0 && !pl->dir_dirty)
        return 0;
    /* Every segment from the one holding the synced end on may hold bytes
     * not yet durable (including those a running job is syncing). */
    bool created = false;
    for (uint32_t i = 0; i < pl->n_segs; i++) {
        struct segment *seg = pl->segs[i];
        if (seg->base < pl->synced.seg_base)
            continue;
        if (seg->base > pl->synced.seg_base)
            created = true;
        int rv = fs_datasync(seg->fd, pl->errmsg);
        if (rv) {
            errmsg_wrapf(pl->errmsg, "partition %s: segment %020" PRIu64, pl->dir, seg->base);
            return rv;
        }
    }
    if (created || pl->dir_dirty) {
        int rv = fs_sync_dir(pl->dir, pl->errmsg);
        if (rv)
            return rv;
    }
    return 0;
}
