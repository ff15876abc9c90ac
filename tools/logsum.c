/* tern-logsum: per-partition checksums of a broker's data directory, read-only.
 *
 * Usage: tern-logsum [--no-header] DATA_DIR
 *
 * DATA_DIR is a broker's storePathRootDir (its queues/ subdirectory is used)
 * or a store root itself (<root>/<topic>/<queueId>/, broker/STORAGE.md §1).
 * For every partition one line, sorted by topic then queue:
 *
 *   TOPIC QUEUE MIN END COUNT UNITS LAST_SOURCE XXH3 STATE
 *
 * MIN is the first stored offset, END the offset after the last one (so END -
 * MIN = COUNT when the log is dense), UNITS the storage units, LAST_SOURCE the
 * highest raft index among them, XXH3 a streaming XXH3-64 over, per unit in
 * offset order: base offset (u64 LE), message count (u32 LE), source index
 * (u64 LE) and the unit's bytes as stored (§3: header, tag hashes, body).
 * Two replicas that print the same line hold byte-identical partitions. A
 * partition that never stored a unit (END 0) is not listed.
 *
 * Why not partlog_open: it recovers (cuts torn tails, rebuilds indexes,
 * writes checkpoints), which modifies the directory. This tool only opens
 * files O_RDONLY and parses segments (§2) and units (§3) with the store's
 * bounds-checked decoder, so it is safe on a stopped broker's directory and
 * alongside a running broker (it then sees a prefix of the log).
 *
 * STATE: "ok"; "tail" when the active (last) segment ends in a torn or
 * corrupt unit that recovery would cut (normal after kill -9; those bytes are
 * not counted); "damaged:<why>" for anything else (bad segment header, a bad
 * unit in a closed segment, an offset gap). Exit status: 0, or 2 if any
 * partition is damaged, 1 on an I/O error, 64 on a usage error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/store/record.h"
#include "src/checksum.h"
#include "src/endian.h"

#define LOGSUM_SEG_MAGIC 0x31475354u /* "TSG1" */
#define LOGSUM_SEG_HDR 32
#define LOGSUM_NAME_MAX 256

struct logsum_part {
    uint64_t min, end, count, units, last_src;
    bool any;
    struct checksum_state cs;
    char state[160];
    bool damaged;
};

struct logsum_buf {
    uint8_t *p;
    size_t cap;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Entries of dir accepted by keep(), sorted; *out is malloc'ed. */
static int list_dir(const char *dir, bool (*keep)(const char *name, const char *dir), char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !keep(e->d_name, dir))
            continue;
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                goto err_nomem;
            v = nv;
            cap = nc;
        }
        v[len] = strdup(e->d_name);
        if (!v[len])
            goto err_nomem;
        len++;
    }
    closedir(d);
    if (len)
        qsort(v, len, sizeof *v, cmp_str);
    *out = v;
    *n = len;
    return 0;
err_nomem:
    closedir(d);
    for (size_t i = 0; i < len; i++)
        free(v[i]);
    free(v);
    return -ENOMEM;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool is_subdir(const char *name, const char *dir)
{
    char path[2 * LOGSUM_NAME_MAX + 8];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return false;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_queue_dir(const char *name, const char *dir)
{
    size_t n = strlen(name);
    if (n == 0 || n > 7 || strspn(name, "0123456789") != n)
        return false;
    return is_subdir(name, dir);
}

/* Segment files: 20 digits + ".log" (§1). */
static bool is_segment(const char *name, const char *dir)
{
    (void)dir;
    return strlen(name) == 24 && strspn(name, "0123456789") == 20 && strcmp(name + 20, ".log") == 0;
}

static int read_file(const char *path, struct logsum_buf *b, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    size_t want = (size_t)st.st_size;
    if (want > b->cap) {
        uint8_t *np = realloc(b->p, want);
        if (!np) {
            close(fd);
            return -ENOMEM;
        }
        b->p = np;
        b->cap = want;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, b->p + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        if (r == 0)
            break; /* shrank meanwhile (a running broker truncated it) */
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return 0;
}

static void damage(struct logsum_part *p, const char *fmt, const char *seg, uint64_t pos)
{
    if (p->damaged)
        return;
    p->damaged = true;
    char why[120];
    snprintf(why, sizeof why, fmt, seg, pos);
    snprintf(p->state, sizeof p->state, "damaged:%s", why);
}

/* Walk one segment's units into p. last: the active segment, whose bad tail
 * is a "tail", not damage. */
static void sum_segment(struct logsum_part *p, const char *name, const uint8_t *d, size_t len, bool last)
{
    uint64_t base = strtoull(name, NULL, 10);
    if (len < LOGSUM_SEG_HDR) {
        if (!last)
            damage(p, "%s short header (%" PRIu64 " bytes)", name, len);
        else if (len > 0)
            snprintf(p->state, sizeof p->state, "tail");
        return;
    }
    if (le32_load(d) != LOGSUM_SEG_MAGIC || le32_load(d + 4) != 1 || le64_load(d + 8) != base ||
        checksum_xxh3(d, 24) != le64_load(d + 24)) {
        damage(p, "%s bad segment header at %" PRIu64, name, 0);
        return;
    }
    if (p->any && p->end != base) {
        damage(p, "%s base does not follow the previous end (%" PRIu64 ")", name, p->end);
        return;
    }
    if (!p->any) {
        p->min = base;
        p->end = base;
        p->any = true;
    }
    /* Generous bounds: the decoder only compares against them, and a
     * broker may run with larger unit limits than the defaults. */
    const struct record_limits lim = {.max_unit = 1u << 30, .max_raw = 1u << 30};
    size_t pos = LOGSUM_SEG_HDR;
    while (pos < len) {
        struct record_hdr h;
        int rv = record_decode_hdr(d + pos, len - pos, &lim, true, &h);
        if (rv == RECORD_END)
            return;
        bool bad = rv != 0 || !record_verify(d + pos, &h) || h.base_offset != p->end;
        if (bad) {
            if (last)
                snprintf(p->state, sizeof p->state, "tail");
            else
                damage(p, "%s bad unit at byte %" PRIu64, name, pos);
            return;
        }
        uint8_t meta[20];
        le64_store(meta, h.base_offset);
        le32_store(meta + 8, h.count);
        le64_store(meta + 12, h.source_index);
        checksum_update(&p->cs, meta, sizeof meta);
        checksum_update(&p->cs, d + pos, h.unit_len);
        p->end += h.count;
        p->count += h.count;
        p->units++;
        if (h.source_index > p->last_src)
            p->last_src = h.source_index;
        pos += h.unit_len;
    }
}

static int sum_partition(const char *qdir, const char *topic, const char *queue, struct logsum_buf *b, bool *damaged)
{
    char **segs = NULL;
    size_t nseg = 0;
    int rv = list_dir(qdir, is_segment, &segs, &nseg);
    if (rv != 0) {
        fprintf(stderr, "tern-logsum: list %s: %s\n", qdir, strerror(-rv));
        return 1;
    }
    struct logsum_part p = {0};
    snprintf(p.state, sizeof p.state, "ok");
    if (checksum_begin(&p.cs) != 0) {
        free_list(segs, nseg);
        fprintf(stderr, "tern-logsum: out of memory\n");
        return 1;
    }
    int ret = 0;
    for (size_t i = 0; i < nseg && !p.damaged; i++) {
        char path[3 * LOGSUM_NAME_MAX];
        snprintf(path, sizeof path, "%s/%s", qdir, segs[i]);
        size_t len = 0;
        rv = read_file(path, b, &len);
        if (rv == -ENOENT)
            continue; /* deleted by retention meanwhile */
        if (rv != 0) {
            fprintf(stderr, "tern-logsum: read %s: %s\n", path, strerror(-rv));
            ret = 1;
            break;
        }
        sum_segment(&p, segs[i], b->p, len, i + 1 == nseg);
    }
    uint64_t sum = checksum_end(&p.cs);
    free_list(segs, nseg);
    if (ret != 0)
        return ret;
    /* Never written (a read on one member opened it: the broker creates a
     * partition lazily, e.g. when a consumer pulls its empty %RETRY% queue):
     * it holds nothing, so it is listed like an absent one. */
    if (p.units == 0 && p.end == 0 && p.count == 0 && !p.damaged && strcmp(p.state, "ok") == 0)
        return 0;
    printf("%s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %016" PRIx64 " %s\n", topic, queue,
           p.min, p.end, p.count, p.units, p.last_src, sum, p.state);
    if (p.damaged)
        *damaged = true;
    return 0;
}

static int cmp_queue(const void *a, const void *b)
{
    unsigned long x = strtoul(*(char *const *)a, NULL, 10), y = strtoul(*(char *const *)b, NULL, 10);
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    bool header = true;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-header") == 0)
            header = false;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: tern-logsum [--no-header] DATA_DIR\n"
                   "Prints TOPIC QUEUE MIN END COUNT UNITS LAST_SOURCE XXH3 STATE per partition, read-only.\n");
            return 0;
        } else if (!dir && argv[i][0] != '-')
            dir = argv[i];
        else {
            fprintf(stderr, "tern-logsum: unknown argument %s\nusage: tern-logsum [--no-header] DATA_DIR\n", argv[i]);
            return 64;
        }
    }
    if (!dir) {
        fprintf(stderr, "usage: tern-logsum [--no-header] DATA_DIR\n");
        return 64;
    }
    char root[LOGSUM_NAME_MAX];
    struct stat st;
    if (snprintf(root, sizeof root, "%s/queues", dir) >= (int)sizeof root) {
        fprintf(stderr, "tern-logsum: path too long\n");
        return 64;
    }
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
        snprintf(root, sizeof root, "%s", dir);

    char **topics = NULL;
    size_t ntopics = 0;
    int rv = list_dir(root, is_subdir, &topics, &ntopics);
    if (rv != 0) {
        fprintf(stderr, "tern-logsum: list %s: %s\n", root, strerror(-rv));
        return 1;
    }
    if (header)
        printf("TOPIC QUEUE MIN END COUNT UNITS LAST_SOURCE XXH3 STATE\n");
    struct logsum_buf b = {0};
    bool damaged = false;
    int ret = 0;
    for (size_t t = 0; t < ntopics && ret == 0; t++) {
        char tdir[2 * LOGSUM_NAME_MAX + 8];
        if (snprintf(tdir, sizeof tdir, "%s/%s", root, topics[t]) >= (int)sizeof tdir)
            continue;
        char **queues = NULL;
        size_t nq = 0;
        rv = list_dir(tdir, is_queue_dir, &queues, &nq);
        if (rv != 0) {
            fprintf(stderr, "tern-logsum: list %s: %s\n", tdir, strerror(-rv));
            ret = 1;
            break;
        }
        if (nq)
            qsort(queues, nq, sizeof *queues, cmp_queue);
        for (size_t q = 0; q < nq && ret == 0; q++) {
            char qdir[3 * LOGSUM_NAME_MAX];
            snprintf(qdir, sizeof qdir, "%s/%s", tdir, queues[q]);
            ret = sum_partition(qdir, topics[t], queues[q], &b, &damaged);
        }
        free_list(queues, nq);
    }
    free_list(topics, ntopics);
    free(b.p);
    if (fflush(stdout) != 0)
        return 1;
    return ret != 0 ? ret : damaged ? 2 : 0;
}
