/* Checksums: XXH3 for Tern's own formats, CRC-32 (IEEE) where RocketMQ needs it. */
#ifndef TERN_CHECKSUM_H
#define TERN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* XXH3 64-bit hash of n bytes. */
uint64_t checksum_xxh3(const void *p, size_t n);

/* Streaming XXH3 over several pieces without copying them together. */
struct checksum_state {
    void *xxh; /* XXH3_state_t, allocated by checksum_begin */
};
int checksum_begin(struct checksum_state *s);
void checksum_update(struct checksum_state *s, const void *p, size_t n);
uint64_t checksum_end(struct checksum_state *s);

/* Standard zlib CRC-32 (reflected 0xEDB88320, init/xorout 0xFFFFFFFF),
 * continuing from crc (0 to start). */
uint32_t checksum_crc32(uint32_t crc, const void *p, size_t n);

#endif
