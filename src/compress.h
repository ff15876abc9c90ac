/* LZ4 block compression for record batches and raft entries. */
#ifndef TERN_COMPRESS_H
#define TERN_COMPRESS_H

#include <stddef.h>

/* Worst-case compressed size for n input bytes (0 if n is too large for LZ4). */
size_t compress_bound(size_t n);

/* Compress src into dst (dst_cap >= compress_bound(n) guarantees success).
 * Returns the compressed length, or 0 if it did not fit. */
size_t compress_lz4(const void *src, size_t n, void *dst, size_t dst_cap);

/* Decompress exactly into dst of dst_len bytes. Returns 0, or TERN_E_CORRUPT
 * if src is not a valid LZ4 block producing exactly dst_len bytes. Safe on
 * hostile input. */
int compress_unlz4(const void *src, size_t n, void *dst, size_t dst_len);

#endif
