/* One segment file "<base:020>.log" of a partition log (broker/STORAGE.md §2):
 * a 32-byte header followed by units, then zeros up to the preallocated size.
 * The data end is found by scanning, never from the file size. */
#ifndef TERN_SEGMENT_H
#define TERN_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/store/record.h"
#include "broker/store/segindex.h"
#include "src/buf.h"

#define SEGMENT_MAGIC 0x31475354u /* bytes "TSG1" */
#define SEGMENT_VERSION 1
#define SEGMENT_HDR_SIZE 32

struct segment {
    uint64_t base;       /* logical offset of the first unit */
    int fd;
    char *path;          /* "<dir>/<base>.log" */
    char *ix_path;       /* "<dir>/<base>.index" */
    uint64_t end;        /* byte position after the last valid unit */
    uint64_t alloc;      /* file size (preallocated) */
    uint64_t end_offset; /* logical offset after the last valid unit */
    int64_t first_ts;    /* store time of the first unit (0 if empty) */
    int64_t last_ts;     /* store time of the last unit (max, times are monotonic) */
    uint64_t last_src;   /* highest source index seen in the segment */
    uint64_t last_idx_pos; /* position of the last index entry, for the interval rule */
    struct segindex ix;
    bool ix_loaded;      /* ix holds every entry (closed segments load lazily) */
    bool damaged;        /* a unit inside failed its checks */
    int pins;            /* > 0 while a sync job holds the fd */
};

/* Create a new segment file (O_EXCL) with its header and `prealloc` bytes
 * reserved, and an empty index file. Does not sync the directory. */
int segment_create(const char *dir, uint64_t base, uint32_t part_id, uint64_t prealloc,
                   struct segment **out, char *errmsg);
/* Open an existing segment: checks the header (*hdr_ok) and reads the size.
 * The caller recovers the data end with segment_scan. */
int segment_open(const char *dir, uint64_t base, uint32_t part_id, struct segment **out, bool *hdr_ok,
                 char *errmsg);
/* Rewrite the header (a torn creation). */
int segment_write_hdr(struct segment *seg, uint32_t part_id, char *errmsg);
/* Close fds and free. */
void segment_free(struct segment *seg);
/* Close and unlink both files, then free. */
int segment_remove(struct segment *seg, char *errmsg);

/* Ensure [0, need) is allocated, growing geometrically from `initial` up to max. */
int segment_reserve(struct segment *seg, uint64_t need, uint64_t initial, uint64_t max, char *errmsg);
/* Cut the file to pos (drops the preallocation past it). */
int segment_truncate(struct segment *seg, uint64_t pos, char *errmsg);

/* Sequential unit reader over a segment file. */
struct segment_iter {
    struct segment *seg;
    struct buf *b;      /* holds file bytes [b_pos, b_pos + b->len) */
    uint64_t b_pos;
    uint64_t pos;       /* position of the next unit */
    uint64_t limit;     /* never read at or past this position */
    size_t chunk;       /* read granularity */
    bool keep;          /* never drop bytes already in b (views stay valid by offset) */
};

void segment_iter_init(struct segment_iter *it, struct segment *seg, struct buf *b, uint64_t pos,
                       uint64_t limit, size_t chunk, bool keep);
/* Next unit at it->pos: returns 0 with *h and *off (offset of the unit in
 * it->b->data) and advances; RECORD_END at zeros, end of file or the limit;
 * TERN_E_CORRUPT if the unit is malformed or (verify) fails its checksum,
 * leaving it->pos at the bad unit; or an fs error. */
int segment_iter_next(struct segment_iter *it, const struct record_limits *lim, bool verify,
                      struct record_hdr *h, size_t *off, char *errmsg);

/* Scan and verify units from pos (expected first offset `offset`), updating
 * end/end_offset/last_ts/last_src and adding index entries every `interval`
 * bytes. *stop is RECORD_END (clean end of data) or TERN_E_CORRUPT (bad or
 * out-of-sequence unit at seg->end). Returns 0 or an fs error. */
int segment_scan(struct segment *seg, uint64_t pos, uint64_t offset, const struct record_limits *lim,
                 uint32_t interval, struct buf *scratch, int *stop, char *errmsg);

/* Add an index entry for a unit at pos if the interval rule says so. */
int segment_index_unit(struct segment *seg, uint64_t pos, uint64_t offset, int64_t ts, uint32_t interval);

/* Position of the last byte that is not zero, plus one (>= from); used to
 * report how much a cut removed. */
int segment_nonzero_end(struct segment *seg, uint64_t from, uint64_t *end, char *errmsg);

#endif
