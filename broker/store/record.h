/* Storage units ("records"): the self-checking on-disk envelope around 1..N
 * messages with consecutive logical offsets. Layout: broker/STORAGE.md §3.
 *
 * Encoding writes straight into a caller buffer (one memcpy per payload, one
 * XXH3 pass); decoding never trusts a length it has not bounded first. */
#ifndef TERN_RECORD_H
#define TERN_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

#define RECORD_MAGIC 0x314E5554u /* bytes "TUN1" */
#define RECORD_VERSION 1
#define RECORD_HDR_SIZE 64
#define RECORD_MAX_COUNT 65536u /* messages per unit */

enum record_codec { RECORD_CODEC_NONE = 0, RECORD_CODEC_LZ4 = 1 };

/* One message to store: opaque payload plus its tag hash. */
struct record_msg {
    const void *data;
    uint32_t len;
    uint64_t tag_hash;
};

/* The decoded fixed header of a unit. */
struct record_hdr {
    uint32_t unit_len;
    uint64_t checksum;
    uint64_t base_offset;
    int64_t store_ts;
    uint64_t source_index;
    uint32_t count;
    uint16_t flags;
    uint8_t codec;
    uint32_t body_len;
    uint32_t raw_len;
};

/* Bounds every length field read from disk is checked against. */
struct record_limits {
    uint32_t max_unit; /* unit_len upper bound (bytes on disk) */
    uint32_t max_raw;  /* uncompressed body upper bound */
};

/* Size of the uncompressed body for these messages (4-byte length + payload each). */
uint64_t record_raw_size(const struct record_msg *msgs, uint32_t n);

/* Append one unit to out. codec LZ4 compresses the body (falling back to NONE
 * when it would not shrink), using scratch for the uncompressed body. Fills
 * *hdr with what was written. Returns 0, TERN_E_INVAL (n == 0 or too many),
 * TERN_E_TOOBIG (past lim) or TERN_E_NOMEM; on error out is unchanged. */
int record_encode(struct buf *out, struct buf *scratch, const struct record_msg *msgs, uint32_t n,
                  uint64_t base_offset, int64_t store_ts, uint64_t source_index, uint16_t flags,
                  enum record_codec codec, const struct record_limits *lim, struct record_hdr *hdr);

/* Decode the header at p (avail bytes readable). Returns:
 *   0                 header is plausible and *h filled (body not verified);
 *   RECORD_END        unit_len is 0: end of data (preallocated zeros);
 *   RECORD_SHORT      fewer than RECORD_HDR_SIZE (or unit_len) bytes available;
 *   TERN_E_CORRUPT    a field is out of bounds or inconsistent.
 * With need_whole, RECORD_SHORT is also returned if avail < unit_len. */
#define RECORD_END 1
#define RECORD_SHORT 2
int record_decode_hdr(const uint8_t *p, size_t avail, const struct record_limits *lim, bool need_whole,
                      struct record_hdr *h);

/* Verify the XXH3-64 checksum of a whole unit at p (h from record_decode_hdr). */
bool record_verify(const uint8_t *p, const struct record_hdr *h);

/* Tag hash of message i of the unit at p. */
uint64_t record_tag(const uint8_t *p, uint32_t i);

/* Pointer to the stored body (compressed or not) of the unit at p. */
const uint8_t *record_body(const uint8_t *p, const struct record_hdr *h);

/* Walk an uncompressed body: *pos starts at 0; returns 0 and the next message
 * slice, or TERN_E_CORRUPT if the body is malformed (lengths run past it). */
int record_next_msg(const uint8_t *body, uint32_t body_len, uint32_t *pos, const uint8_t **data,
                    uint32_t *len);

#endif
