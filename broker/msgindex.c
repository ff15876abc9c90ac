/* Message key index (STORAGE.md §14): per-partition hash files of
 * (key hash, offset, store time, previous entry).
 *
 * Happy path: the store's visible callback calls msgindex_catch_up, which
 * reads the newly visible messages of the partition (one reusable read
 * buffer, batches of up to 256), takes KEYS tokens and UNIQ_KEY from each
 * record's properties and links one entry per key into the active file's
 * hash slot. When the active file is full it is synced and sealed and a new
 * one starts at the next offset. Failure modes: an unsealed or invalid file
 * at load is deleted with every later file and rebuilt from the log; a file
 * that cannot be created or a log read that fails stops indexing of that
 * partition (logged once, reported by lookups); damaged entries can only
 * produce wrong candidates, which callers reject by reading the message, and
 * chain walks only move to strictly older entries so they always end. */
#include "broker/msgindex.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uthash.h>

#include "protocol/limits.h"
#include "protocol/message.h"
#include "protocol/properties.h"
#include "src/checksum.h"
#include "src/endian.h"
#include "src/fs.h"
#include "src/log.h"
#include "tern/error.h"

#define MI_MAGIC 0x31494B54u /* "TKI1" */
#define MI_VERSION 1u
#define MI_HDR 64u
#define MI_ENTRY 32u
#define MI_RESERVE_STEP (1u << 20) /* disk reserved ahead of the active file's entries */
#define MI_READ_BATCH 256u
#define MI_READ_BYTES (1u << 20)
#define MI_SUFFIX ".kidx"

struct mi_file {
    uint64_t first, next; /* offsets covered: [first, next) */
    int64_t max_ts;
    uint32_t count, slots, cap;
    bool sealed;
    int fd;       /* only while creating the active file */
    uint8_t *map; /* active file only */
    size_t size;
    size_t reserved; /* active file: bytes from 0 backed by disk blocks */
};

struct mi_part {
    UT_hash_handle hh;
    uint32_t id;
    struct mi_file *files; /* oldest first; the last one is active */
    uint32_t n, cap;
    uint64_t indexed; /* next offset to index */
    bool failed;
};

struct msgindex {
    char root[1024];
    struct msgindex_opts o;
    struct mi_part *parts;
    struct partlog_readbuf rb;
    struct partlog_msg msgs[MI_READ_BATCH];
    struct partlog_readbuf one_rb; /* msgindex_read_one */
    struct partlog_msg one;
    struct msgindex_stats st;
    char errmsg[ERRMSG_SIZE];
};

void msgindex_opts_default(struct msgindex_opts *o)
{
    o->slots = 65536;
    o->entries = 262144;
    o->max_keys_per_msg = 32;
}

static uint64_t key_hash(enum msgindex_kind kind, const char *key, size_t klen)
{
    /* The kind keeps KEYS and UNIQ_KEY values apart in one slot space. */
    return checksum_xxh3(key, klen) ^ ((uint64_t)kind * 0x9E3779B97F4A7C15ull);
}

static size_t file_size(uint32_t slots, uint32_t cap)
{
    return MI_HDR + (size_t)slots * 4 + (size_t)cap * MI_ENTRY;
}

/* Bytes of the active file that hold its first n entries. */
static size_t entries_end(const struct mi_file *f, uint32_t n)
{
    return MI_HDR + (size_t)f->slots * 4 + (size_t)n * MI_ENTRY;
}

static void file_path(const struct msgindex *mi, uint32_t id, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%" PRIu32 "/%020" PRIu64 MI_SUFFIX, mi->root, id, first);
}

int msgindex_open(const char *dir, const struct msgindex_opts *o, struct msgindex **out, char *errmsg)
{
    if (o->slots == 0 || o->entries == 0 || o->max_keys_per_msg == 0) {
        errmsg_printf(errmsg, "message index: slots, entries and keys per message must be > 0");
        return TERN_E_INVAL;
    }
    int rv = fs_mkdir_p(dir, errmsg);
    if (rv)
        return rv;
    struct msgindex *mi = calloc(1, sizeof *mi);
    if (!mi)
        return TERN_E_NOMEM;
    snprintf(mi->root, sizeof mi->root, "%s", dir);
    mi->o = *o;
    partlog_readbuf_init(&mi->rb);
    partlog_readbuf_init(&mi->one_rb);
    *out = mi;
    return 0;
}

static void file_unmap(struct mi_file *f)
{
    if (f->map)
        munmap(f->map, f->size);
    if (f->fd >= 0)
        close(f->fd);
    f->map = NULL;
    f->fd = -1;
}

void msgindex_close(struct msgindex *mi)
{
    if (!mi)
        return;
    struct mi_part *p, *tmp;
    HASH_ITER(hh, mi->parts, p, tmp)
    {
        for (uint32_t i = 0; i < p->n; i++)
            file_unmap(&p->files[i]);
        HASH_DEL(mi->parts, p);
        free(p->files);
        free(p);
    }
    partlog_readbuf_free(&mi->rb);
    partlog_readbuf_free(&mi->one_rb);
    free(mi);
}

static struct mi_file *file_push(struct mi_part *p)
{
    if (p->n == p->cap) {
        uint32_t nc = p->cap ? p->cap * 2 : 4;
        struct mi_file *nf = realloc(p->files, nc * sizeof *nf);
        if (!nf)
            return NULL;
        p->files = nf;
        p->cap = nc;
    }
    struct mi_file *f = &p->files[p->n++];
    memset(f, 0, sizeof *f);
    f->fd = -1;
    return f;
}

static void encode_header(uint8_t *h, uint32_t id, const struct mi_file *f, bool sealed)
{
    memset(h, 0, MI_HDR);
    le32_store(h, MI_MAGIC);
    le32_store(h + 4, MI_VERSION);
    le32_store(h + 8, id);
    le32_store(h + 12, f->slots);
    le32_store(h + 16, f->cap);
    le32_store(h + 20, f->count);
    le64_store(h + 24, f->first);
    le64_store(h + 32, f->next);
    le64_store(h + 40, (uint64_t)f->max_ts);
    le32_store(h + 48, sealed ? 1 : 0);
    le64_store(h + 56, checksum_xxh3(h, 56));
}

/* A new, empty, mapped active file whose first offset is first. */
static int active_create(struct msgindex *mi, struct mi_part *p, uint64_t first)
{
    char path[1200];
    file_path(mi, p->id, first, path, sizeof path);
    struct mi_file *f = file_push(p);
    if (!f)
        return TERN_E_NOMEM;
    f->first = f->next = first;
    f->slots = mi->o.slots;
    f->cap = mi->o.entries;
    f->size = file_size(f->slots, f->cap);
    int rv = fs_open(path, O_RDWR | O_CREAT | O_TRUNC, 0644, &f->fd, mi->errmsg);
    if (rv == 0)
        rv = fs_truncate(f->fd, (off_t)f->size, mi->errmsg); /* sparse: zeros */
    /* A store into a mapped page with no disk block behind it raises SIGBUS
     * when the disk is full, so every page written is reserved first: the
     * header and slots now, entries as they come (entries_reserve). */
    f->reserved = entries_end(f, 0) + MI_RESERVE_STEP < f->size ? entries_end(f, 0) + MI_RESERVE_STEP : f->size;
    if (rv == 0)
        rv = fs_allocate(f->fd, 0, (off_t)f->reserved, mi->errmsg);
    if (rv == 0) {
        void *m = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
        if (m == MAP_FAILED) {
            errmsg_printf(mi->errmsg, "mmap %s: %s", path, strerror(errno));
            rv = fs_errno_to_err(errno);
        } else {
            f->map = m;
            encode_header(f->map, p->id, f, false);
            /* The mapping keeps the file: no descriptor per partition. */
            close(f->fd);
            f->fd = -1;
        }
    }
    if (rv) {
        file_unmap(f);
        p->n--;
        errmsg_wrapf(mi->errmsg, "message index: create %s", path);
    }
    return rv;
}

/* Sync the active file, then mark it sealed: the header only says sealed
 * once every entry is on disk. */
static int active_seal(struct msgindex *mi, struct mi_part *p)
{
    struct mi_file *f = &p->files[p->n - 1];
    encode_header(f->map, p->id, f, false);
    if (msync(f->map, f->size, MS_SYNC) != 0)
        goto err;
    encode_header(f->map, p->id, f, true);
    if (msync(f->map, MI_HDR, MS_SYNC) != 0)
        goto err;
    file_unmap(f);
    f->sealed = true;
    mi->st.files_sealed++;
    return 0;
err:
    errmsg_printf(mi->errmsg, "message index: msync partition %" PRIu32 " file %" PRIu64 ": %s", p->id, f->first,
                  strerror(errno));
    return fs_errno_to_err(errno);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A sealed file's header, checked against its name, size and neighbours. */
static bool sealed_valid(const uint8_t *h, uint32_t id, uint64_t first, off_t size, uint64_t prev_next,
                         bool has_prev, uint64_t end, struct mi_file *f)
{
    if (le32_load(h) != MI_MAGIC || le32_load(h + 4) != MI_VERSION || le32_load(h + 8) != id ||
        le64_load(h + 56) != checksum_xxh3(h, 56) || le32_load(h + 48) != 1)
        return false;
    f->slots = le32_load(h + 12);
    f->cap = le32_load(h + 16);
    f->count = le32_load(h + 20);
    f->first = le64_load(h + 24);
    f->next = le64_load(h + 32);
    f->max_ts = (int64_t)le64_load(h + 40);
    f->sealed = true;
    f->size = file_size(f->slots, f->cap);
    return f->slots > 0 && f->cap > 0 && f->count <= f->cap && f->first == first && f->next >= first &&
           (off_t)f->size == size && (!has_prev || f->first == prev_next) && f->next <= end;
}

static int part_load(struct msgindex *mi, struct partlog *pl, struct mi_part *p)
{
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/%" PRIu32, mi->root, p->id);
    int rv = fs_mkdir_p(dir, mi->errmsg);
    if (rv)
        return rv;
    DIR *d = opendir(dir);
    if (!d) {
        errmsg_printf(mi->errmsg, "opendir %s: %s", dir, strerror(errno));
        return fs_errno_to_err(errno);
    }
    uint64_t *firsts = NULL;
    size_t nf = 0, capf = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len != 20 + strlen(MI_SUFFIX) || strcmp(de->d_name + 20, MI_SUFFIX) != 0)
            continue;
        char *endp;
        uint64_t v = strtoull(de->d_name, &endp, 10);
        if (endp != de->d_name + 20)
            continue;
        if (nf == capf) {
            size_t nc = capf ? capf * 2 : 16;
            uint64_t *nfs = realloc(firsts, nc * sizeof *nfs);
            if (!nfs) {
                closedir(d);
                free(firsts);
                return TERN_E_NOMEM;
            }
            firsts = nfs;
            capf = nc;
        }
        firsts[nf++] = v;
    }
    closedir(d);
    if (nf)
        qsort(firsts, nf, sizeof *firsts, cmp_u64);

    uint64_t end = partlog_end_offset(pl), min = partlog_min_offset(pl);
    bool bad = false;
    for (size_t i = 0; i < nf; i++) {
        file_path(mi, p->id, firsts[i], path, sizeof path);
        if (!bad) {
            int fd;
            uint8_t h[MI_HDR];
            size_t got = 0;
            off_t size = 0;
            /* Zeroed: sealed_valid fills the header fields only (map stays
             * NULL: sealed files are read with pread). */
            struct mi_file tmp = {0};
            bool ok = fs_open(path, O_RDONLY, 0, &fd, mi->errmsg) == 0;
            if (ok) {
                ok = fs_pread(fd, h, MI_HDR, 0, &got, mi->errmsg) == 0 && got == MI_HDR &&
                     fs_size(fd, &size, mi->errmsg) == 0 &&
                     sealed_valid(h, p->id, firsts[i], size, p->n ? p->files[p->n - 1].next : 0, p->n > 0, end,
                                  &tmp);
                close(fd);
            }
            if (ok) {
                struct mi_file *f = file_push(p);
                if (!f) {
                    free(firsts);
                    return TERN_E_NOMEM;
                }
                *f = tmp;
                f->fd = -1;
                continue;
            }
            /* Unsealed (the active file of the last run) or damaged: it and
             * every later file are rebuilt from the partition log. */
            bad = true;
        }
        LOGI("msgindex", "partition %" PRIu32 ": rebuilding key index file %" PRIu64, p->id, firsts[i]);
        mi->st.files_rebuilt++;
        fs_unlink(path, mi->errmsg);
    }
    free(firsts);
    uint64_t first = p->n ? p->files[p->n - 1].next : min;
    if (first < min)
        first = min;
    p->indexed = first;
    return active_create(mi, p, first);
}

static int fail(struct msgindex *mi, struct mi_part *p, int rv);

static struct mi_part *part_get(struct msgindex *mi, struct partlog *pl, int *rv)
{
    uint32_t id = partlog_id(pl);
    struct mi_part *p;
    HASH_FIND(hh, mi->parts, &id, sizeof id, p);
    *rv = 0;
    if (p)
        return p;
    p = calloc(1, sizeof *p);
    if (!p) {
        *rv = TERN_E_NOMEM;
        return NULL;
    }
    p->id = id;
    HASH_ADD(hh, mi->parts, id, sizeof p->id, p);
    *rv = part_load(mi, pl, p);
    if (*rv) {
        /* Kept, marked failed: logged once, not retried on every write
         * pass; queries report it. A restart tries again. */
        for (uint32_t i = 0; i < p->n; i++)
            file_unmap(&p->files[i]);
        p->n = 0;
        fail(mi, p, *rv);
    }
    return p;
}

static void entry_add(struct mi_file *f, uint64_t h, uint64_t off, int64_t ts)
{
    uint8_t *slot = f->map + MI_HDR + (size_t)(h % f->slots) * 4;
    uint8_t *e = f->map + MI_HDR + (size_t)f->slots * 4 + (size_t)f->count * MI_ENTRY;
    le64_store(e, h);
    le64_store(e + 8, off);
    le64_store(e + 16, (uint64_t)ts);
    le32_store(e + 24, le32_load(slot)); /* previous head (entry number + 1, 0 = none) */
    le32_store(e + 28, 0);
    f->count++;
    le32_store(slot, f->count);
}

/* Back the active file's pages up to its first n entries with disk blocks
 * (see active_create), a step at a time. */
static int entries_reserve(struct msgindex *mi, struct mi_part *p, struct mi_file *f, uint32_t n)
{
    size_t need = entries_end(f, n);
    if (need <= f->reserved)
        return 0;
    size_t to = need + MI_RESERVE_STEP < f->size ? need + MI_RESERVE_STEP : f->size;
    char path[1200];
    int fd;
    file_path(mi, p->id, f->first, path, sizeof path);
    int rv = fs_open(path, O_RDWR, 0, &fd, mi->errmsg);
    if (rv)
        return rv;
    rv = fs_allocate(fd, (off_t)f->reserved, (off_t)(to - f->reserved), mi->errmsg);
    close(fd);
    if (rv == 0)
        f->reserved = to;
    return rv;
}

/* Index one message's keys into the active file. */
static int index_msg(struct msgindex *mi, struct mi_part *p, const struct partlog_msg *m)
{
    struct msg_stored s;
    size_t used;
    char err[ERRMSG_SIZE];
    struct slice keys = {0}, uniq = {0};
    if (message_decode(m->data, m->len, &limits_default, 0, &s, &used, err) == 0) {
        properties_get(s.properties.p, s.properties.len, MSG_PROP_KEYS, &keys);
        properties_get(s.properties.p, s.properties.len, MSG_PROP_UNIQ_KEY, &uniq);
    }
    /* Count the keys first: one message never spans two files. */
    uint32_t limit = mi->o.max_keys_per_msg < mi->o.entries ? mi->o.max_keys_per_msg : mi->o.entries;
    uint32_t nk = uniq.len ? 1 : 0;
    for (size_t i = 0; i < keys.len && nk < limit;) {
        while (i < keys.len && keys.p[i] == MSG_PROP_KEY_SEPARATOR)
            i++;
        if (i < keys.len)
            nk++;
        while (i < keys.len && keys.p[i] != MSG_PROP_KEY_SEPARATOR)
            i++;
    }
    if (nk == 0)
        return 0;
    struct mi_file *f = &p->files[p->n - 1];
    if (f->count + nk > f->cap) {
        int rv = active_seal(mi, p);
        if (rv == 0)
            rv = active_create(mi, p, m->offset);
        if (rv)
            return rv;
        f = &p->files[p->n - 1];
    }
    int rv = entries_reserve(mi, p, f, f->count + nk);
    if (rv)
        return rv;
    uint32_t done = 0;
    if (uniq.len) {
        entry_add(f, key_hash(MSGINDEX_UNIQ, uniq.p, uniq.len), m->offset, m->store_ts);
        done++;
    }
    for (size_t i = 0; i < keys.len && done < nk;) {
        while (i < keys.len && keys.p[i] == MSG_PROP_KEY_SEPARATOR)
            i++;
        size_t s0 = i;
        while (i < keys.len && keys.p[i] != MSG_PROP_KEY_SEPARATOR)
            i++;
        if (i > s0) {
            entry_add(f, key_hash(MSGINDEX_KEY, keys.p + s0, i - s0), m->offset, m->store_ts);
            done++;
        }
    }
    if (m->store_ts > f->max_ts)
        f->max_ts = m->store_ts;
    mi->st.indexed_keys += done;
    return 0;
}

/* Drop the files whose every message retention deleted. */
static void retain(struct msgindex *mi, struct mi_part *p, uint64_t min)
{
    uint32_t drop = 0;
    while (drop + 1 < p->n && p->files[drop].sealed && p->files[drop].next <= min)
        drop++;
    if (!drop)
        return;
    char path[1200];
    for (uint32_t i = 0; i < drop; i++) {
        file_path(mi, p->id, p->files[i].first, path, sizeof path);
        fs_unlink(path, mi->errmsg);
        mi->st.files_dropped++;
    }
    memmove(p->files, p->files + drop, (p->n - drop) * sizeof *p->files);
    p->n -= drop;
}

static int fail(struct msgindex *mi, struct mi_part *p, int rv)
{
    if (!p->failed)
        LOGE("msgindex", "partition %" PRIu32 ": key index stopped at offset %" PRIu64 ": %s", p->id, p->indexed,
             mi->errmsg);
    p->failed = true;
    return rv;
}

int msgindex_catch_up(struct msgindex *mi, struct partlog *pl)
{
    int rv;
    struct mi_part *p = part_get(mi, pl, &rv);
    if (!p)
        return rv;
    if (p->failed)
        return TERN_E_IO; /* reason logged once, in msgindex_errmsg until overwritten */
    if (p->n == 0 || p->files[p->n - 1].sealed) {
        /* The disk was full when the last file was sealed: start its
         * successor now (or report the disk full again). */
        if ((rv = active_create(mi, p, p->indexed)))
            return rv == TERN_E_NOSPACE ? rv : fail(mi, p, rv);
    }
    uint64_t end = partlog_end_offset(pl), min = partlog_min_offset(pl);
    retain(mi, p, min);
    if (p->indexed > end) {
        /* The visible end moved back (a failed sync in raft mode) and the
         * offsets from end on will hold other messages. Files holding any
         * entry at or past end go (they would outlive a restart with stale
         * entries and miss the new ones); indexing restarts at the first
         * dropped file's first offset, re-reading at most those files. */
        /* The active file stays if it starts at or below end: its stale
         * entries fail the key check and it is rebuilt at any restart. */
        uint32_t k = 0;
        while (k < p->n && p->files[k].first <= end && (!p->files[k].sealed || p->files[k].next <= end))
            k++;
        uint64_t start = end;
        if (k < p->n) {
            if (p->files[k].first < end)
                start = p->files[k].first;
            char path[1200];
            for (uint32_t i = k; i < p->n; i++) {
                file_path(mi, p->id, p->files[i].first, path, sizeof path);
                file_unmap(&p->files[i]);
                fs_unlink(path, mi->errmsg);
            }
            p->n = k;
            if ((rv = active_create(mi, p, start)))
                return fail(mi, p, rv);
        }
        p->indexed = start;
    }
    while (p->indexed < end) {
        struct partlog_read_result res = {0};
        rv = partlog_read(pl, p->indexed, MI_READ_BATCH, MI_READ_BYTES, NULL, &mi->rb, mi->msgs, &res);
        if (rv == TERN_E_RANGE) {
            p->indexed = res.min_offset;
            continue;
        }
        if (rv) {
            errmsg_printf(mi->errmsg, "read offset %" PRIu64 ": %s", p->indexed, partlog_errmsg(pl));
            return fail(mi, p, rv);
        }
        if (res.n == 0)
            break;
        for (uint32_t i = 0; i < res.n; i++) {
            if ((rv = index_msg(mi, p, &mi->msgs[i]))) {
                p->indexed = mi->msgs[i].offset;
                if (rv == TERN_E_NOSPACE) /* retried on the next catch-up, when space may be back */
                    return rv;
                return fail(mi, p, rv);
            }
            p->files[p->n - 1].next = mi->msgs[i].offset + 1;
        }
        p->indexed = res.next_offset;
    }
    return 0;
}

static bool add_cand(uint64_t *offs, uint32_t *n, uint32_t max, uint64_t off)
{
    for (uint32_t i = 0; i < *n; i++)
        if (offs[i] == off)
            return true;
    if (*n < max)
        offs[(*n)++] = off;
    return *n < max;
}

/* Walk one file's chain for h. Entries are read from the map (active) or
 * with pread (sealed). Returns false once max candidates are collected. */
static bool walk(struct msgindex *mi, struct mi_part *p, struct mi_file *f, uint64_t h, int64_t begin, int64_t end,
                 uint64_t *offs, uint32_t *n, uint32_t max)
{
    int fd = -1;
    uint8_t buf[MI_ENTRY];
    const uint8_t *e;
    size_t got;
    if (f->sealed) {
        char path[1200];
        file_path(mi, p->id, f->first, path, sizeof path);
        if (fs_open(path, O_RDONLY, 0, &fd, mi->errmsg) != 0)
            return true;
        if (fs_pread(fd, buf, 4, MI_HDR + (off_t)(h % f->slots) * 4, &got, mi->errmsg) != 0 || got != 4) {
            close(fd);
            return true;
        }
    }
    uint32_t cur = f->sealed ? le32_load(buf) : le32_load(f->map + MI_HDR + (size_t)(h % f->slots) * 4);
    bool more = true;
    while (more && cur > 0 && cur <= f->count) {
        size_t at = MI_HDR + (size_t)f->slots * 4 + (size_t)(cur - 1) * MI_ENTRY;
        if (f->sealed) {
            if (fs_pread(fd, buf, MI_ENTRY, (off_t)at, &got, mi->errmsg) != 0 || got != MI_ENTRY)
                break;
            e = buf;
        } else {
            e = f->map + at;
        }
        int64_t ts = (int64_t)le64_load(e + 16);
        if (le64_load(e) == h && ts >= begin && ts <= end)
            more = add_cand(offs, n, max, le64_load(e + 8));
        uint32_t prev = le32_load(e + 24);
        if (prev >= cur)
            break; /* damaged: chains only go back */
        cur = prev;
    }
    if (fd >= 0)
        close(fd);
    return more;
}

int msgindex_lookup(struct msgindex *mi, struct partlog *pl, enum msgindex_kind kind, const char *key,
                    size_t klen, int64_t begin_ms, int64_t end_ms, uint64_t *offs, uint32_t max, uint32_t *n)
{
    *n = 0;
    int rv = msgindex_catch_up(mi, pl);
    if (rv)
        return rv;
    struct mi_part *p = part_get(mi, pl, &rv);
    uint64_t h = key_hash(kind, key, klen);
    for (uint32_t i = p->n; i-- > 0 && *n < max;) {
        struct mi_file *f = &p->files[i];
        if (f->count == 0 || (f->sealed && f->max_ts < begin_ms))
            continue;
        if (!walk(mi, p, f, h, begin_ms, end_ms, offs, n, max))
            break;
    }
    return 0;
}

bool msgindex_msg_has_key(const uint8_t *rec, size_t len, enum msgindex_kind kind, const char *key, size_t klen)
{
    struct msg_stored s;
    size_t used;
    char err[ERRMSG_SIZE];
    struct slice v;
    if (message_decode(rec, len, &limits_default, 0, &s, &used, err) != 0)
        return false;
    if (!properties_get(s.properties.p, s.properties.len, kind == MSGINDEX_UNIQ ? MSG_PROP_UNIQ_KEY : MSG_PROP_KEYS,
                        &v))
        return false;
    if (kind == MSGINDEX_UNIQ)
        return v.len == klen && memcmp(v.p, key, klen) == 0;
    for (size_t i = 0; i < v.len;) {
        while (i < v.len && v.p[i] == MSG_PROP_KEY_SEPARATOR)
            i++;
        size_t s0 = i;
        while (i < v.len && v.p[i] != MSG_PROP_KEY_SEPARATOR)
            i++;
        if (i - s0 == klen && klen > 0 && memcmp(v.p + s0, key, klen) == 0)
            return true;
    }
    return false;
}

const struct partlog_msg *msgindex_read_one(struct msgindex *mi, struct partlog *pl, uint64_t offset)
{
    struct partlog_read_result res = {0};
    if (partlog_read(pl, offset, 1, 1, NULL, &mi->one_rb, &mi->one, &res) != 0 || res.n != 1 ||
        mi->one.offset != offset)
        return NULL;
    return &mi->one;
}

void msgindex_stats(const struct msgindex *mi, struct msgindex_stats *out)
{
    *out = mi->st;
}

uint64_t msgindex_indexed(struct msgindex *mi, const struct partlog *pl)
{
    uint32_t id = partlog_id(pl);
    struct mi_part *p;
    HASH_FIND(hh, mi->parts, &id, sizeof id, p);
    return p ? p->indexed : 0;
}

const char *msgindex_errmsg(const struct msgindex *mi)
{
    return mi->errmsg;
}
