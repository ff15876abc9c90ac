/* File-system wrappers: errno translated once into TERN_E_* with a message, plus
 * fault points that tests arm to make the next N-th call fail (off by default,
 * one predictable branch each).
 *
 * Every function returns 0 or a negative TERN_E_* code and, on failure, writes
 * "<operation> <path-or-fd>: <strerror>" into errmsg (ERRMSG_SIZE bytes). */
#ifndef TERN_FS_H
#define TERN_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "src/buf.h"

enum fs_fault_point {
    FS_FAULT_OPEN,
    FS_FAULT_WRITE,
    FS_FAULT_SYNC,
    FS_FAULT_ALLOCATE,
    FS_FAULT_RENAME,
    FS_FAULT_READ,
    FS_FAULT__COUNT
};

/* Arm a fault point: the call after `skip` more successful calls fails with
 * errno value `err` (e.g. ENOSPC, EIO), and so does every call after it while
 * `sticky` is set. fs_fault_reset() disarms everything. Thread-safe. */
void fs_fault_arm(enum fs_fault_point p, int skip, int err, int sticky);
void fs_fault_reset(void);

/* Map an errno value to a TERN_E_* code. */
int fs_errno_to_err(int e);

int fs_open(const char *path, int flags, int mode, int *fd, char *errmsg);
int fs_close(int fd);
/* Write all n bytes at off (retrying short writes). */
int fs_pwrite_all(int fd, const void *p, size_t n, off_t off, char *errmsg);
/* Read up to n bytes at off; *got is how many were read (short at EOF). */
int fs_pread(int fd, void *p, size_t n, off_t off, size_t *got, char *errmsg);
int fs_datasync(int fd, char *errmsg);
/* Reserve [off, off+len) on disk, extending the file size (fallocate mode 0). */
int fs_allocate(int fd, off_t off, off_t len, char *errmsg);
int fs_truncate(int fd, off_t len, char *errmsg);
int fs_size(int fd, off_t *size, char *errmsg);
int fs_sync_dir(const char *dir, char *errmsg);
int fs_mkdir_p(const char *path, char *errmsg);
int fs_unlink(const char *path, char *errmsg);
/* Crash-safe replace: write dir/name.tmp, fsync, rename over dir/name, fsync dir. */
int fs_write_atomic(const char *dir, const char *name, const void *p, size_t n, char *errmsg);
/* Read a whole file of at most max bytes into b (appended). TERN_E_NOTFOUND if absent. */
int fs_read_file(const char *path, struct buf *b, size_t max, char *errmsg);
/* Remove a directory tree (tests and replica resets). */
int fs_remove_tree(const char *path, char *errmsg);
/* Free bytes available to unprivileged writers on the file system holding path. */
int fs_free_bytes(const char *path, uint64_t *bytes, char *errmsg);

#endif
