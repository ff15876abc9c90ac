/* File-system wrappers with errno translation and test fault points.
 *
 * Happy path: each call does one syscall (or a retry loop for short I/O).
 * Failure modes: errno becomes TERN_E_NOSPACE (ENOSPC/EDQUOT), TERN_E_NOTFOUND,
 * TERN_E_EXISTS, TERN_E_NOMEM or TERN_E_IO; an armed fault point fails the call
 * before the syscall with the armed errno. */
#include "src/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "src/errmsg.h"
#include "tern/error.h"

struct fault {
    atomic_int armed; /* 0 = off */
    atomic_int skip;
    atomic_int err;
    atomic_int sticky;
};

static struct fault faults[FS_FAULT__COUNT];

void fs_fault_arm(enum fs_fault_point p, int skip, int err, int sticky)
{
    atomic_store(&faults[p].skip, skip);
    atomic_store(&faults[p].err, err);
    atomic_store(&faults[p].sticky, sticky);
    atomic_store(&faults[p].armed, 1);
}

void fs_fault_reset(void)
{
    for (int i = 0; i < FS_FAULT__COUNT; i++)
        atomic_store(&faults[i].armed, 0);
}

/* Returns an errno value if the fault point fires now, else 0. */
static int fault_fire(enum fs_fault_point p)
{
    struct fault *f = &faults[p];
    if (__builtin_expect(!atomic_load(&f->armed), 1))
        return 0;
    if (atomic_fetch_sub(&f->skip, 1) > 0)
        return 0;
    int e = atomic_load(&f->err);
    if (!atomic_load(&f->sticky))
        atomic_store(&f->armed, 0);
    return e;
}

int fs_errno_to_err(int e)
{
    switch (e) {
    case 0:
        return 0;
    case ENOSPC:
    case EDQUOT:
        return TERN_E_NOSPACE;
    case ENOENT:
        return TERN_E_NOTFOUND;
    case EEXIST:
        return TERN_E_EXISTS;
    case ENOMEM:
        return TERN_E_NOMEM;
    default:
        return TERN_E_IO;
    }
}

static int fail(char *errmsg, int e, const char *op, const char *what)
{
    if (errmsg)
        errmsg_printf(errmsg, "%s %s: %s", op, what, strerror(e));
    return fs_errno_to_err(e);
}

static int fail_fd(char *errmsg, int e, const char *op, int fd)
{
    char what[32];
    snprintf(what, sizeof what, "fd %d", fd);
    return fail(errmsg, e, op, what);
}

int fs_open(const char *path, int flags, int mode, int *fd, char *errmsg)
{
    int e = fault_fire(FS_FAULT_OPEN);
    if (e)
        return fail(errmsg, e, "open", path);
    int f = open(path, flags | O_CLOEXEC, mode);
    if (f < 0)
        return fail(errmsg, errno, "open", path);
    *fd = f;
    return 0;
}

int fs_close(int fd)
{
    return close(fd) == 0 ? 0 : TERN_E_IO;
}

int fs_pwrite_all(int fd, const void *p, size_t n, off_t off, char *errmsg)
{
    int e = fault_fire(FS_FAULT_WRITE);
    if (e)
        return fail_fd(errmsg, e, "write", fd);
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail_fd(errmsg, errno, "write", fd);
        }
        if (w == 0)
            return fail_fd(errmsg, EIO, "write", fd);
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int fs_pread(int fd, void *p, size_t n, off_t off, size_t *got, char *errmsg)
{
    int e = fault_fire(FS_FAULT_READ);
    if (e)
        return fail_fd(errmsg, e, "read", fd);
    size_t total = 0;
    char *c = p;
    while (total < n) {
        ssize_t r = pread(fd, c + total, n - total, off + (off_t)total);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return fail_fd(errmsg, errno, "read", fd);
        }
        if (r == 0)
            break;
        total += (size_t)r;
    }
    *got = total;
    return 0;
}

int fs_datasync(int fd, char *errmsg)
{
    int e = fault_fire(FS_FAULT_SYNC);
    if (e)
        return fail_fd(errmsg, e, "fdatasync", fd);
    if (fdatasync(fd) != 0)
        return fail_fd(errmsg, errno, "fdatasync", fd);
    return 0;
}

int fs_allocate(int fd, off_t off, off_t len, char *errmsg)
{
    int e = fault_fire(FS_FAULT_ALLOCATE);
    if (e)
        return fail_fd(errmsg, e, "fallocate", fd);
    if (fallocate(fd, 0, off, len) == 0)
        return 0;
    e = errno;
    if (e == EOPNOTSUPP || e == ENOSYS) {
        /* tmpfs on old kernels and some FUSE file systems: fall back to
         * posix_fallocate, which writes zeros. */
        e = posix_fallocate(fd, off, len);
        if (e == 0)
            return 0;
    }
    return fail_fd(errmsg, e, "fallocate", fd);
}

int fs_truncate(int fd, off_t len, char *errmsg)
{
    if (ftruncate(fd, len) != 0)
        return fail_fd(errmsg, errno, "ftruncate", fd);
    return 0;
}

int fs_size(int fd, off_t *size, char *errmsg)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fail_fd(errmsg, errno, "fstat", fd);
    *size = st.st_size;
    return 0;
}

int fs_sync_dir(const char *dir, char *errmsg)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail(errmsg, errno, "open dir", dir);
    int e = fault_fire(FS_FAULT_SYNC);
    int rv = e ? -1 : fsync(fd);
    if (!e && rv != 0)
        e = errno;
    close(fd);
    return rv == 0 ? 0 : fail(errmsg, e, "fsync dir", dir);
}

int fs_mkdir_p(const char *path, char *errmsg)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof tmp)
        return fail(errmsg, ENAMETOOLONG, "mkdir", path);
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return fail(errmsg, errno, "mkdir", tmp);
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return fail(errmsg, errno, "mkdir", tmp);
    return 0;
}

int fs_unlink(const char *path, char *errmsg)
{
    if (unlink(path) != 0)
        return fail(errmsg, errno, "unlink", path);
    return 0;
}

int fs_write_atomic(const char *dir, const char *name, const void *p, size_t n, char *errmsg)
{
    char tmp[4096], dst[4096];
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(dst, sizeof dst, "%s/%s", dir, name) >= (int)sizeof dst)
        return fail(errmsg, ENAMETOOLONG, "write", name);
    int fd, rv;
    rv = fs_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, errmsg);
    if (rv)
        return rv;
    rv = fs_pwrite_all(fd, p, n, 0, errmsg);
    if (rv == 0)
        rv = fs_datasync(fd, errmsg);
    close(fd);
    if (rv) {
        unlink(tmp);
        return rv;
    }
    int e = fault_fire(FS_FAULT_RENAME);
    if (e || rename(tmp, dst) != 0) {
        rv = fail(errmsg, e ? e : errno, "rename", tmp);
        unlink(tmp);
        return rv;
    }
    return fs_sync_dir(dir, errmsg);
}

int fs_read_file(const char *path, struct buf *b, size_t max, char *errmsg)
{
    int fd, rv;
    rv = fs_open(path, O_RDONLY, 0, &fd, errmsg);
    if (rv)
        return rv;
    off_t size;
    rv = fs_size(fd, &size, errmsg);
    if (rv == 0 && (size_t)size > max) {
        errmsg_printf(errmsg, "read %s: file is %lld bytes, limit %zu", path, (long long)size, max);
        rv = TERN_E_TOOBIG;
    }
    if (rv == 0) {
        uint8_t *d = buf_extend(b, (size_t)size);
        size_t got = 0;
        if (!d)
            rv = TERN_E_NOMEM;
        else
            rv = fs_pread(fd, d, (size_t)size, 0, &got, errmsg);
        if (rv == 0 && got != (size_t)size) {
            b->len -= (size_t)size - got;
        }
    }
    close(fd);
    return rv;
}

int fs_remove_tree(const char *path, char *errmsg)
{
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR)
            return fs_unlink(path, errmsg);
        return fail(errmsg, errno, "opendir", path);
    }
    struct dirent *de;
    int rv = 0;
    while (rv == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[4096];
        if (snprintf(child, sizeof child, "%s/%s", path, de->d_name) >= (int)sizeof child) {
            rv = fail(errmsg, ENAMETOOLONG, "remove", path);
            break;
        }
        struct stat st;
        if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
            rv = fs_remove_tree(child, errmsg);
        else if (unlink(child) != 0)
            rv = fail(errmsg, errno, "unlink", child);
    }
    closedir(d);
    if (rv == 0 && rmdir(path) != 0)
        rv = fail(errmsg, errno, "rmdir", path);
    return rv;
}

int fs_free_bytes(const char *path, uint64_t *bytes, char *errmsg)
{
    struct statvfs sv;
    if (statvfs(path, &sv) != 0)
        return fail(errmsg, errno, "statvfs", path);
    *bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
    return 0;
}
