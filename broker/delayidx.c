/* Time-bucketed on-disk index of one delay lane (see delayidx.h, DELAY.md §2).
 *
 * Writes are plain write()s at apply: a kill -9 keeps them (the page cache
 * survives the process), and the index is derived from the replicated log.
 * Failure modes: a meta file with a bad checksum or magic is CORRUPT (the
 * broker refuses to start rather than deliver twice); a bucket file with a
 * partial last record is cut back to whole records. */
#include "broker/delayidx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/checksum.h"
#include "src/endian.h"
#include "src/fs.h"
#include "tern/error.h"

#define META_MAGIC 0x594c4454u /* "TDLY" */
#define META_VERSION 1u
#define META_SIZE 56

static void bucket_path(const struct delayidx *x, int64_t bucket, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020" PRId64 ".idx", x->dir, bucket);
}

int delayidx_save(struct delayidx *x)
{
    uint8_t m[META_SIZE];
    le32_store(m, META_MAGIC);
    le32_store(m + 4, META_VERSION);
    le64_store(m + 8, (uint64_t)x->bucket_ms);
    le64_store(m + 16, (uint64_t)x->cur_bucket);
    le32_store(m + 24, x->cur_idx);
    le32_store(m + 28, 0);
    le64_store(m + 32, x->indexed_next);
    le64_store(m + 40, x->last_source);
    le64_store(m + 48, checksum_xxh3(m, 48));
    return fs_pwrite_all(x->meta_fd, m, sizeof m, 0, x->errmsg);
}

static int load_meta(struct delayidx *x)
{
    uint8_t m[META_SIZE];
    size_t got = 0;
    int rv = fs_pread(x->meta_fd, m, sizeof m, 0, &got, x->errmsg);
    if (rv)
        return rv;
    if (got == 0)
        return delayidx_save(x); /* new index */
    if (got != sizeof m || le32_load(m) != META_MAGIC || le32_load(m + 4) != META_VERSION ||
        le64_load(m + 48) != checksum_xxh3(m, 48)) {
        errmsg_printf(x->errmsg, "delay index %s/meta: bad magic, version or checksum (%zu bytes)", x->dir, got);
        return TERN_E_CORRUPT;
    }
    if ((int64_t)le64_load(m + 8) != x->bucket_ms) {
        errmsg_printf(x->errmsg, "delay index %s: built with %" PRId64 " ms buckets, configured %" PRId64, x->dir,
                      (int64_t)le64_load(m + 8), x->bucket_ms);
        return TERN_E_CORRUPT;
    }
    x->cur_bucket = (int64_t)le64_load(m + 16);
    x->cur_idx = le32_load(m + 24);
    x->indexed_next = le64_load(m + 32);
    x->last_source = le64_load(m + 40);
    return 0;
}

int delayidx_open(struct delayidx *x, const char *dir, int64_t bucket_ms, char *errmsg)
{
    memset(x, 0, sizeof *x);
    x->meta_fd = -1;
    x->bucket_ms = bucket_ms > 0 ? bucket_ms : 1000;
    x->cur_bucket = -1;
    for (int i = 0; i < DELAYIDX_FDS; i++)
        x->fds[i] = (struct delayidx_fd){.bucket = -1, .fd = -1};
    snprintf(x->dir, sizeof x->dir, "%s", dir);
    int rv = fs_mkdir_p(dir, x->errmsg);
    char path[1100];
    snprintf(path, sizeof path, "%s/meta", dir);
    if (rv == 0)
        rv = fs_open(path, O_RDWR | O_CREAT, 0644, &x->meta_fd, x->errmsg);
    if (rv == 0)
        rv = load_meta(x);
    if (rv) {
        errmsg_copy(errmsg, x->errmsg);
        delayidx_close(x);
    }
    return rv;
}

void delayidx_close(struct delayidx *x)
{
    for (int i = 0; i < DELAYIDX_FDS; i++) {
        if (x->fds[i].fd >= 0)
            fs_close(x->fds[i].fd);
        x->fds[i] = (struct delayidx_fd){.bucket = -1, .fd = -1};
    }
    if (x->meta_fd >= 0)
        fs_close(x->meta_fd);
    x->meta_fd = -1;
}

/* The cached descriptor of bucket, opened (create: for appending) on a miss.
 * Returns NULL with *rv = 0 if the file does not exist and !create. */
static struct delayidx_fd *bucket_fd(struct delayidx *x, int64_t bucket, bool create, int *rv)
{
    *rv = 0;
    struct delayidx_fd *slot = &x->fds[0];
    for (int i = 0; i < DELAYIDX_FDS; i++) {
        if (x->fds[i].bucket == bucket) {
            x->fds[i].used = ++x->stamp;
            return &x->fds[i];
        }
        if (x->fds[i].used < slot->used)
            slot = &x->fds[i];
    }
    char path[1100];
    bucket_path(x, bucket, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) {
        if (errno == ENOENT && !create)
            return NULL;
        *rv = fs_errno_to_err(errno);
        errmsg_printf(x->errmsg, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    off_t size = 0;
    *rv = fs_size(fd, &size, x->errmsg);
    uint32_t count = (uint32_t)(size / DELAYIDX_REC);
    if (*rv == 0 && size % DELAYIDX_REC != 0) /* torn tail of a crash: cut it */
        *rv = fs_truncate(fd, (off_t)count * DELAYIDX_REC, x->errmsg);
    uint8_t last[DELAYIDX_REC];
    size_t got = 0;
    if (*rv == 0 && count > 0)
        *rv = fs_pread(fd, last, sizeof last, (off_t)(count - 1) * DELAYIDX_REC, &got, x->errmsg);
    if (*rv) {
        close(fd);
        return NULL;
    }
    if (slot->fd >= 0)
        fs_close(slot->fd);
    *slot = (struct delayidx_fd){.bucket = bucket, .fd = fd, .count = count, .used = ++x->stamp};
    if (count > 0)
        slot->last_off = le64_load(last + 8);
    return slot;
}

int delayidx_insert(struct delayidx *x, uint64_t off, int64_t due_ms)
{
    if (off < x->indexed_next)
        return 0;
    int64_t bucket = delayidx_bucket_of(x, due_ms);
    if (x->cur_bucket < 0)
        x->cur_bucket = bucket;
    if (bucket < x->cur_bucket)
        bucket = x->cur_bucket;
    int rv;
    struct delayidx_fd *f = bucket_fd(x, bucket, true, &rv);
    if (!f)
        return rv;
    if (f->count > 0 && off <= f->last_off) { /* written before a crash cut the meta update */
        x->indexed_next = off + 1;
        return 0;
    }
    uint8_t r[DELAYIDX_REC];
    le64_store(r, (uint64_t)due_ms);
    le64_store(r + 8, off);
    rv = fs_pwrite_all(f->fd, r, sizeof r, (off_t)f->count * DELAYIDX_REC, x->errmsg);
    if (rv)
        return rv;
    f->count++;
    f->last_off = off;
    x->indexed_next = off + 1;
    return 0;
}

int delayidx_count(struct delayidx *x, int64_t bucket, uint32_t *count)
{
    int rv;
    struct delayidx_fd *f = bucket_fd(x, bucket, false, &rv);
    *count = f ? f->count : 0;
    return rv;
}

int delayidx_read(struct delayidx *x, int64_t bucket, uint32_t idx, struct delayidx_ent *out, uint32_t max,
                  uint32_t *n)
{
    *n = 0;
    int rv;
    struct delayidx_fd *f = bucket_fd(x, bucket, false, &rv);
    if (!f || idx >= f->count)
        return rv;
    uint32_t want = f->count - idx < max ? f->count - idx : max;
    uint8_t tmp[256 * DELAYIDX_REC];
    while (*n < want) {
        uint32_t k = want - *n < 256 ? want - *n : 256;
        size_t got = 0;
        rv = fs_pread(f->fd, tmp, (size_t)k * DELAYIDX_REC, (off_t)(idx + *n) * DELAYIDX_REC, &got, x->errmsg);
        if (rv)
            return rv;
        if (got != (size_t)k * DELAYIDX_REC) {
            errmsg_printf(x->errmsg, "delay index bucket %" PRId64 ": short read", bucket);
            return TERN_E_CORRUPT;
        }
        for (uint32_t i = 0; i < k; i++) {
            out[*n + i].due_ms = (int64_t)le64_load(tmp + i * DELAYIDX_REC);
            out[*n + i].lane_off = le64_load(tmp + i * DELAYIDX_REC + 8);
        }
        *n += k;
    }
    return 0;
}

int delayidx_set_cursor(struct delayidx *x, int64_t bucket, uint32_t idx, uint64_t source)
{
    for (int64_t b = x->cur_bucket; b >= 0 && b < bucket; b++) {
        for (int i = 0; i < DELAYIDX_FDS; i++) {
            if (x->fds[i].bucket == b) {
                fs_close(x->fds[i].fd);
                x->fds[i] = (struct delayidx_fd){.bucket = -1, .fd = -1};
            }
        }
        char path[1100];
        bucket_path(x, b, path, sizeof path);
        unlink(path); /* absent for empty buckets */
    }
    x->cur_bucket = bucket;
    x->cur_idx = idx;
    if (source > x->last_source)
        x->last_source = source;
    return delayidx_save(x);
}

int delayidx_reset(struct delayidx *x, int64_t bucket, uint32_t idx, const struct delayidx_ent *head,
                   uint32_t nhead)
{
    for (int i = 0; i < DELAYIDX_FDS; i++) {
        if (x->fds[i].fd >= 0)
            fs_close(x->fds[i].fd);
        x->fds[i] = (struct delayidx_fd){.bucket = -1, .fd = -1};
    }
    x->cur_bucket = -1;
    x->cur_idx = 0;
    x->indexed_next = 0;
    x->last_source = 0;
    int rv = delayidx_save(x);
    if (rv)
        return rv;
    DIR *d = opendir(x->dir);
    if (!d) {
        errmsg_printf(x->errmsg, "open directory %s: %s", x->dir, strerror(errno));
        return fs_errno_to_err(errno);
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".idx") == 0) {
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", x->dir, de->d_name);
            unlink(path);
        }
    }
    closedir(d);
    if (bucket < 0)
        return 0;
    struct delayidx_fd *f = bucket_fd(x, bucket, true, &rv);
    if (!f)
        return rv;
    /* Written in chunks: idx can be a whole busy bucket. */
    uint8_t tmp[256 * DELAYIDX_REC];
    uint64_t total = (uint64_t)idx + nhead, at = 0;
    while (at < total) {
        uint32_t k = total - at < 256 ? (uint32_t)(total - at) : 256;
        for (uint32_t i = 0; i < k; i++) {
            uint64_t pos = at + i;
            int64_t due = pos < idx ? 0 : head[pos - idx].due_ms;
            uint64_t off = pos < idx ? 0 : head[pos - idx].lane_off;
            le64_store(tmp + i * DELAYIDX_REC, (uint64_t)due);
            le64_store(tmp + i * DELAYIDX_REC + 8, off);
        }
        rv = fs_pwrite_all(f->fd, tmp, (size_t)k * DELAYIDX_REC, (off_t)at * DELAYIDX_REC, x->errmsg);
        if (rv)
            return rv;
        at += k;
    }
    f->count = (uint32_t)total;
    f->last_off = nhead ? head[nhead - 1].lane_off : 0;
    x->cur_bucket = bucket;
    x->cur_idx = idx;
    return 0;
}
