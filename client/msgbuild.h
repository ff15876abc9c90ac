/* Pure helpers of the produce/consume paths (no I/O): properties of an
 * outgoing message, body compression and decompression, queue selection by
 * sharding key. */
#ifndef TERN_MSGBUILD_H
#define TERN_MSGBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/properties.h"
#include "src/buf.h"
#include "tern/tern.h"

/* sysFlag of an LZ4-compressed body: COMPRESSED | LZ4 << 8 (RocketMQ 5). */
#define MSGBUILD_SYSFLAG_LZ4 (MSG_SYSFLAG_COMPRESSED | (MSG_COMPRESSION_LZ4 << MSG_SYSFLAG_COMPRESSION_SHIFT))

/* Append the properties string of m to out: user properties, then TAGS,
 * KEYS, UNIQ_KEY (uniq_key may be NULL), DELAY, __SHARDINGKEY. Returns 0,
 * TERN_E_INVAL (separator bytes in a key or value, delay out of range) or
 * TERN_E_TOOBIG (over 32767 bytes), with errmsg (TERN_ERRMSG_SIZE). */
int msgbuild_properties(struct buf *out, const struct tern_send_msg *m, const char *uniq_key,
                        char *errmsg);

/* Append body to out, as an LZ4 frame when n > threshold and compression
 * helps (then *sysflag |= MSGBUILD_SYSFLAG_LZ4). Returns 0 or out->err. */
int msgbuild_compress(const void *body, size_t n, size_t threshold, int type, struct buf *out,
                      int32_t *sysflag);

/* Append the decompressed body to out per sysflag (bit 0 and bits 8-10:
 * LZ4 frame, zlib for 0 and 3), at most max bytes. Uncompressed bodies are
 * copied. Returns 0, TERN_E_CORRUPT, TERN_E_TOOBIG, TERN_E_NOT_SUPPORTED
 * (zstd) or TERN_E_NOMEM. */
int msgbuild_decompress(int32_t sysflag, const void *src, size_t n, size_t max, struct buf *out);

/* Index of the queue for a sharding key among nqueues (Java
 * SelectMessageQueueByHash: |String.hashCode % n|). Stable for a key. */
size_t msgbuild_select_by_key(const char *key, size_t nqueues);

#endif
