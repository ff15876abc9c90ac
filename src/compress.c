/* LZ4 wrappers; the decompressor is the bounds-checked "safe" variant. */
#include "src/compress.h"

#include <limits.h>
#include <lz4.h>

#include "tern/error.h"

size_t compress_bound(size_t n)
{
    if (n > (size_t)LZ4_MAX_INPUT_SIZE)
        return 0;
    return (size_t)LZ4_compressBound((int)n);
}

size_t compress_lz4(const void *src, size_t n, void *dst, size_t dst_cap)
{
    if (n > (size_t)LZ4_MAX_INPUT_SIZE)
        return 0;
    int cap = dst_cap > (size_t)INT_MAX ? INT_MAX : (int)dst_cap;
    int r = LZ4_compress_default(src, dst, (int)n, cap);
    return r > 0 ? (size_t)r : 0;
}

int compress_unlz4(const void *src, size_t n, void *dst, size_t dst_len)
{
    if (n > (size_t)INT_MAX || dst_len > (size_t)INT_MAX)
        return TERN_E_CORRUPT;
    int r = LZ4_decompress_safe(src, dst, (int)n, (int)dst_len);
    if (r < 0 || (size_t)r != dst_len)
        return TERN_E_CORRUPT;
    return 0;
}
