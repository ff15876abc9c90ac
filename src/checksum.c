/* Thin wrappers over libxxhash and zlib's crc32. */
#include "src/checksum.h"

#include <xxhash.h>
#include <zlib.h>

#include "tern/error.h"

uint64_t checksum_xxh3(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

int checksum_begin(struct checksum_state *s)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st)
        return TERN_E_NOMEM;
    XXH3_64bits_reset(st);
    s->xxh = st;
    return 0;
}

void checksum_update(struct checksum_state *s, const void *p, size_t n)
{
    XXH3_64bits_update(s->xxh, p, n);
}

uint64_t checksum_end(struct checksum_state *s)
{
    uint64_t h = XXH3_64bits_digest(s->xxh);
    XXH3_freeState(s->xxh);
    s->xxh = NULL;
    return h;
}

uint32_t checksum_crc32(uint32_t crc, const void *p, size_t n)
{
    /* zlib's crc32 takes uInt lengths; feed large inputs in pieces. */
    const unsigned char *b = p;
    uLong c = crc;
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}
