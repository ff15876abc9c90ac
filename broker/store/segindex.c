/* Sparse offset/time index of one segment: memory array mirrored to a file. */
#include "broker/store/segindex.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "src/endian.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "tern/error.h"

void segindex_init(struct segindex *ix)
{
    ix->e = NULL;
    ix->n = ix->cap = ix->n_file = 0;
    ix->fd = -1;
}

void segindex_free(struct segindex *ix)
{
    free(ix->e);
    if (ix->fd >= 0)
        fs_close(ix->fd);
    segindex_init(ix);
}

int segindex_add(struct segindex *ix, uint32_t rel, uint32_t pos, int64_t ts)
{
    if (ix->n == ix->cap) {
        uint32_t cap = ix->cap ? ix->cap * 2 : 64;
        struct segindex_entry *e = realloc(ix->e, cap * sizeof *e);
        if (!e)
            return TERN_E_NOMEM;
        ix->e = e;
        ix->cap = cap;
    }
    ix->e[ix->n++] = (struct segindex_entry){rel, pos, ts};
    return 0;
}

void segindex_cut(struct segindex *ix, uint32_t pos)
{
    while (ix->n > 0 && ix->e[ix->n - 1].pos >= pos)
        ix->n--;
}

long segindex_find_offset(const struct segindex *ix, uint32_t rel)
{
    long lo = 0, hi = (long)ix->n - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (ix->e[mid].rel <= rel) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

long segindex_find_time(const struct segindex *ix, int64_t ts, bool strictly_less)
{
    long lo = 0, hi = (long)ix->n - 1, ans = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        bool ok = strictly_less ? ix->e[mid].ts < ts : ix->e[mid].ts <= ts;
        if (ok) {
            ans = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return ans;
}

static void put_entry(uint8_t *p, const struct segindex_entry *e)
{
    le32_store(p, e->rel);
    le32_store(p + 4, e->pos);
    le64_store(p + 8, (uint64_t)e->ts);
}

int segindex_flush(struct segindex *ix, char *errmsg)
{
    if (ix->fd < 0)
        return 0;
    if (ix->n_file > ix->n) {
        int rv = fs_truncate(ix->fd, (off_t)ix->n * SEGINDEX_ENTRY_SIZE, errmsg);
        if (rv)
            return rv;
        ix->n_file = ix->n;
    }
    if (ix->n_file == ix->n)
        return 0;
    uint8_t tmp[SEGINDEX_ENTRY_SIZE * 64];
    while (ix->n_file < ix->n) {
        uint32_t k = ix->n - ix->n_file;
        if (k > 64)
            k = 64;
        for (uint32_t i = 0; i < k; i++)
            put_entry(tmp + i * SEGINDEX_ENTRY_SIZE, &ix->e[ix->n_file + i]);
        int rv = fs_pwrite_all(ix->fd, tmp, (size_t)k * SEGINDEX_ENTRY_SIZE,
                               (off_t)ix->n_file * SEGINDEX_ENTRY_SIZE, errmsg);
        if (rv)
            return rv;
        ix->n_file += k;
    }
    return 0;
}

int segindex_rewrite(struct segindex *ix, char *errmsg)
{
    ix->n_file = ix->n + 1; /* forces a truncate to n first */
    int rv = fs_truncate(ix->fd, 0, errmsg);
    if (rv)
        return rv;
    ix->n_file = 0;
    return segindex_flush(ix, errmsg);
}

int segindex_load(struct segindex *ix, const char *path, uint32_t min_pos, uint32_t max_pos,
                  uint32_t max_rel, bool *valid_all, char *errmsg)
{
    ix->n = 0;
    ix->n_file = 0;
    *valid_all = true;
    if (ix->fd < 0) {
        int rv = fs_open(path, O_RDWR | O_CREAT, 0644, &ix->fd, errmsg);
        if (rv)
            return rv;
    }
    off_t size;
    int rv = fs_size(ix->fd, &size, errmsg);
    if (rv)
        return rv;
    if (size % SEGINDEX_ENTRY_SIZE)
        *valid_all = false;
    uint64_t want = (uint64_t)size / SEGINDEX_ENTRY_SIZE;
    /* Entries sit on distinct units of at least a header each: a longer file
     * is garbage and must not drive an allocation. */
    uint64_t most = max_pos / 64 + 1;
    if (want > most) {
        want = most;
        *valid_all = false;
    }
    uint8_t tmp[SEGINDEX_ENTRY_SIZE * 256];
    uint64_t done = 0;
    while (done < want) {
        uint64_t k = want - done;
        if (k > 256)
            k = 256;
        size_t got;
        rv = fs_pread(ix->fd, tmp, (size_t)k * SEGINDEX_ENTRY_SIZE, (off_t)(done * SEGINDEX_ENTRY_SIZE),
                      &got, errmsg);
        if (rv)
            return rv;
        if (got != k * SEGINDEX_ENTRY_SIZE) {
            *valid_all = false;
            break;
        }
        for (uint64_t i = 0; i < k; i++) {
            const uint8_t *p = tmp + i * SEGINDEX_ENTRY_SIZE;
            struct segindex_entry e = {le32_load(p), le32_load(p + 4), (int64_t)le64_load(p + 8)};
            const struct segindex_entry *prev = ix->n ? &ix->e[ix->n - 1] : NULL;
            bool ok = e.pos >= min_pos && e.pos < max_pos && e.rel <= max_rel &&
                      (prev ? (e.rel > prev->rel && e.pos > prev->pos && e.ts >= prev->ts)
                            : (e.rel == 0 && e.pos == min_pos));
            if (!ok) {
                *valid_all = false;
                done = want;
                break;
            }
            if (segindex_add(ix, e.rel, e.pos, e.ts))
                return TERN_E_NOMEM;
        }
        done += k;
    }
    ix->n_file = (uint32_t)(want > UINT32_MAX ? UINT32_MAX : want);
    if (!*valid_all)
        ix->n_file = ix->n + 1; /* next flush truncates the bad tail */
    return 0;
}
