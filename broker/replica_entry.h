/* Codec of the raft entries Tern replicates: a batch of opaque commands.
 *
 * Entry format, version 1 (all integers little-endian; see broker/REPLICATION.md):
 *
 *   offset  size  field
 *   0       4     magic "TRNE" (0x454e5254 as LE u32)
 *   4       1     version (1)
 *   5       1     flags: bit 0 = body is one LZ4 block
 *   6       2     reserved, 0
 *   8       4     command count (>= 1)
 *   12      4     body length uncompressed
 *   16      4     body length as stored (== uncompressed length when not LZ4)
 *   20      4     reserved, 0
 *   24      ...   body as stored
 *   ...     0-7   zero padding so the entry length is a multiple of 8
 *
 * The uncompressed body is `count` times: u32 command length, command bytes.
 * No checksum: raft CRCs every entry on disk and on the wire.
 * Padding is mandatory: libraft 0.15 mis-encodes entries whose length is not
 * a multiple of 8 in its segments (RAFT-NOTES trap a). */
#ifndef TERN_REPLICA_ENTRY_H
#define TERN_REPLICA_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPLICA_ENTRY_MAGIC 0x454e5254u
#define REPLICA_ENTRY_VERSION 1
#define REPLICA_ENTRY_HDR 24
#define REPLICA_ENTRY_F_LZ4 0x01
/* Upper bound on an uncompressed body; checked before any allocation. */
#define REPLICA_ENTRY_MAX_BODY (256u << 20)
/* Bodies above this size are tried with LZ4; the result is kept when it saves
 * at least a tenth (otherwise decompression costs more than it saves). */
#define REPLICA_ENTRY_LZ4_MIN 4096

/* Bytes of per-command framing in the body. */
#define REPLICA_ENTRY_CMD_HDR 4

/* Largest encoded size of an entry whose uncompressed body is body_len bytes. */
size_t replica_entry_bound(size_t body_len);

/* Append one command's framing (u32 length) to a body being built at p;
 * returns REPLICA_ENTRY_CMD_HDR. */
size_t replica_entry_put_cmd_hdr(uint8_t *p, uint32_t len);

/* Encode an entry from an uncompressed body (count framed commands) into out
 * (cap >= replica_entry_bound(body_len)). compress=false never tries LZ4.
 * Sets *out_len (a multiple of 8). Returns 0, TERN_E_INVAL (count 0, body too
 * big) or TERN_E_TOOBIG (cap too small). Does not validate the body framing. */
int replica_entry_encode(const uint8_t *body, size_t body_len, uint32_t count, bool compress,
                         uint8_t *out, size_t cap, size_t *out_len);

/* A decoded entry. body points into the entry, or into `owned` when it was
 * compressed; release with replica_entry_view_free. */
struct replica_entry_view {
    uint32_t count;
    uint8_t flags;
    const uint8_t *body;
    size_t body_len;
    uint8_t *owned;
};

/* Decode and fully validate an entry of n bytes: magic, version, lengths,
 * padding, and that the commands' framing covers the body exactly. Returns 0,
 * TERN_E_MALFORMED (errmsg says what, ERRMSG_SIZE bytes, may be NULL) or
 * TERN_E_NOMEM. Never reads outside [p, p + n). */
int replica_entry_decode(const uint8_t *p, size_t n, struct replica_entry_view *v, char *errmsg);
void replica_entry_view_free(struct replica_entry_view *v);

/* Iterate the commands of a validated view. */
struct replica_entry_iter {
    const uint8_t *p;
    const uint8_t *end;
};
void replica_entry_iter_init(struct replica_entry_iter *it, const struct replica_entry_view *v);
/* Returns false at the end; otherwise sets *cmd and *len. */
bool replica_entry_iter_next(struct replica_entry_iter *it, const uint8_t **cmd, size_t *len);

#endif
