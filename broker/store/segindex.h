/* Sparse offset + time index of one segment (broker/STORAGE.md §4): an entry
 * for the first unit and then for the first unit starting at least
 * `interval` bytes after the previous entry. Kept in memory, mirrored to
 * "<base>.index" by appending; the file is a hint that recovery validates,
 * so a lost or stale index only costs a rescan, never wrong data. */
#ifndef TERN_SEGINDEX_H
#define TERN_SEGINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEGINDEX_ENTRY_SIZE 16

struct segindex_entry {
    uint32_t rel;  /* logical offset - segment base */
    uint32_t pos;  /* byte position of the unit in the segment file */
    int64_t ts;    /* store timestamp of that unit */
};

struct segindex {
    struct segindex_entry *e;
    uint32_t n;
    uint32_t cap;
    uint32_t n_file; /* entries already written to the file */
    int fd;          /* -1 when not open */
};

void segindex_init(struct segindex *ix);
void segindex_free(struct segindex *ix); /* closes fd */
/* Add an entry (no I/O). Returns 0 or TERN_E_NOMEM. */
int segindex_add(struct segindex *ix, uint32_t rel, uint32_t pos, int64_t ts);
/* Drop entries whose pos >= pos (memory; file shortened on next flush). */
void segindex_cut(struct segindex *ix, uint32_t pos);
/* Index of the last entry with rel <= rel, or -1. */
long segindex_find_offset(const struct segindex *ix, uint32_t rel);
/* Index of the last entry with ts < ts (first_ge) or ts <= ts (!first_ge), or -1. */
long segindex_find_time(const struct segindex *ix, int64_t ts, bool strictly_less);
/* Write entries not yet in the file (one pwrite), truncating it first if
 * segindex_cut dropped persisted entries. */
int segindex_flush(struct segindex *ix, char *errmsg);
/* Read the file at path into memory (replacing contents), keeping only a
 * valid prefix: entries must be strictly increasing in rel and pos,
 * nondecreasing in ts, pos in [min_pos, max_pos). *valid_all tells whether
 * every entry in the file passed. Opens ix->fd read-write (creating the file).
 * Returns 0 or a TERN_E_* from the file system. */
int segindex_load(struct segindex *ix, const char *path, uint32_t min_pos, uint32_t max_pos,
                  uint32_t max_rel, bool *valid_all, char *errmsg);
/* Replace the file contents with the in-memory entries. */
int segindex_rewrite(struct segindex *ix, char *errmsg);

#endif
