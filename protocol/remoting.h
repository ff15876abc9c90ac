/* RocketMQ remoting commands: framing, JSON and binary ("ROCKETMQ") headers,
 * extFields access and building (PROTOCOL.md §2-§3).
 *
 * Pure encode/decode: no I/O. A connection keeps one struct remoting_cmd per
 * direction and reuses it, so steady-state decoding allocates nothing: decoded
 * JSON strings live in an arena owned by the cmd that is reset, not freed. */
#ifndef TERN_REMOTING_H
#define TERN_REMOTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/limits.h"
#include "src/buf.h"
#include "src/slice.h"

/* Most extFields one command may carry; more is MALFORMED on decode and
 * TERN_E_TOOBIG on build (PROTOCOL.md §2.4). Real headers carry under 30. */
#define REMOTING_MAX_EXT 128

/* Length word + header word in front of every header (PROTOCOL.md §2.3). */
#define REMOTING_PREFIX_LEN 8
/* Fixed part of a binary header (PROTOCOL.md §2.2). */
#define REMOTING_BINARY_FIXED 21

#define REMOTING_FLAG_RESPONSE 0x1
#define REMOTING_FLAG_ONEWAY 0x2

enum remoting_serialize {
    REMOTING_SER_JSON = 0,
    REMOTING_SER_ROCKETMQ = 1,
};

struct remoting_ext {
    struct slice key;
    struct slice val;
};

struct remoting_cmd {
    int code;          /* request or response code (codes.h) */
    int language;      /* codes_language byte */
    int version;       /* sender's MQVersion ordinal */
    int32_t opaque;    /* request id, echoed by the response */
    int32_t flag;      /* REMOTING_FLAG_* bits */
    struct slice remark; /* p == NULL: remark is null (omitted on the wire) */
    struct remoting_ext ext[REMOTING_MAX_EXT];
    size_t n_ext;
    /* Decoded: the body bytes inside the frame given to remoting_decode (valid
     * as long as that frame). Built commands leave it empty; the body is
     * passed to the transport separately (remoting_encode). */
    struct slice body;
    uint8_t serialize; /* enum remoting_serialize */

    /* Private: owned strings (decoded JSON text, copies made by the setters)
     * and, per entry, their arena offsets so slices can be re-pointed when the
     * arena grows. UINT32_MAX = the slice points elsewhere (frame, literal). */
    struct buf arena;
    uint32_t key_off[REMOTING_MAX_EXT];
    uint32_t val_off[REMOTING_MAX_EXT];
    uint32_t remark_off;
};

/* Zero a command and its arena. No allocation until first use. */
void remoting_cmd_init(struct remoting_cmd *c);
/* Release the arena. The cmd may be re-initialised afterwards. */
void remoting_cmd_free(struct remoting_cmd *c);
/* Forget fields, extFields and body; keep the arena's allocation. */
void remoting_cmd_reset(struct remoting_cmd *c);

/* Stream framing (PROTOCOL.md §2.3, §2.4). p/n is what a reader has buffered, starting at
 * a frame boundary. Returns:
 *   0                 a whole frame is buffered; *frame_len = its size
 *                     including the 4-byte length word (consume that much);
 *   TERN_E_AGAIN      not yet a whole frame; everything present was valid;
 *   TERN_E_TOOBIG     a declared length exceeds l (frame, header or body);
 *   TERN_E_MALFORMED  lengths are inconsistent or the serialize type unknown.
 * Nothing is allocated; on error errmsg names the field. The connection must
 * be closed on any error: framing cannot be recovered. */
int remoting_frame_check(const uint8_t *p, size_t n, const struct limits *l, size_t *frame_len,
                         char *errmsg);

/* Decode one complete frame (frame/len exactly as accepted by
 * remoting_frame_check) into c, JSON or binary header (§2.1, §2.2). Slices in
 * c point into the frame (binary strings, body) or into c's arena (JSON
 * strings), so the frame must outlive the use of c. Returns 0,
 * TERN_E_MALFORMED/TERN_E_TOOBIG with errmsg, or TERN_E_NOMEM. */
int remoting_decode(struct remoting_cmd *c, const uint8_t *frame, size_t len,
                    const struct limits *l, char *errmsg);

/* Header-only decoders (the header bytes after the header word), exposed for
 * fuzzing and tests. Same contract as remoting_decode; c is reset first. */
int remoting_decode_json(struct remoting_cmd *c, const uint8_t *hdr, size_t n, char *errmsg);
int remoting_decode_binary(struct remoting_cmd *c, const uint8_t *hdr, size_t n, char *errmsg);

/* extFields lookup. Returns {NULL, 0} when absent. Keys compare bytewise. */
struct slice remoting_ext_get(const struct remoting_cmd *c, const char *key);
/* Typed lookups. Decimal integers: optional sign, digits only, in range
 * (Java Integer/Long.parseLong); bools: "true"/"false", any case.
 * Return 0 with *out set, TERN_E_NOTFOUND if absent (*out untouched, errmsg
 * "missing 'key'"), or TERN_E_MALFORMED naming the key and the bad text. */
int remoting_ext_get_i32(const struct remoting_cmd *c, const char *key, int32_t *out, char *errmsg);
int remoting_ext_get_i64(const struct remoting_cmd *c, const char *key, int64_t *out, char *errmsg);
int remoting_ext_get_bool(const struct remoting_cmd *c, const char *key, bool *out, char *errmsg);

/* Building. A fresh request: language JAVA, version CODES_VERSION_TERN, JSON,
 * opaque 0 (the caller assigns it), flag 0. Keeps the arena allocation. */
void remoting_cmd_init_request(struct remoting_cmd *c, int code);
/* A response to req (c != req): copies opaque, sets the response flag, keeps
 * req's serialize type (PROTOCOL.md §2.5), version CODES_VERSION_TERN.
 * Reads only req->opaque and req->serialize, so a caller that answers later
 * may pass a shell holding just those two. remark (may be NULL; must not
 * point into c) is copied. Returns 0 or TERN_E_NOMEM. */
int remoting_cmd_init_response(struct remoting_cmd *c, const struct remoting_cmd *req, int code,
                               const char *remark);
/* Copy remark (NULL: none) into c. */
int remoting_set_remark(struct remoting_cmd *c, struct slice remark);
/* Set extFields[key] = val, replacing an existing key. Both are copied into
 * c's arena, so they may point anywhere (even into c). Returns 0,
 * TERN_E_TOOBIG past REMOTING_MAX_EXT, or TERN_E_NOMEM. */
int remoting_ext_set(struct remoting_cmd *c, struct slice key, struct slice val);
int remoting_ext_set_str(struct remoting_cmd *c, const char *key, const char *val);
int remoting_ext_set_int(struct remoting_cmd *c, const char *key, int64_t val);
int remoting_ext_set_bool(struct remoting_cmd *c, const char *key, bool val);

/* Append the frame prefix and header of c to out: the 4-byte total length
 * (counting body_len body bytes), the header word and the header in c's
 * serialize type. The caller appends or writev's the body itself. JSON is
 * compact, keys in fastjson order, extFields sorted by key, language as its
 * name (§2.1). Returns 0, TERN_E_INVAL if c cannot be expressed in its form
 * (binary: code or version outside int16, key over 32767 bytes), or
 * TERN_E_TOOBIG/TERN_E_NOMEM; on error out is restored to its old length. */
int remoting_encode(const struct remoting_cmd *c, size_t body_len, struct buf *out);

static inline bool remoting_is_response(const struct remoting_cmd *c)
{
    return (c->flag & REMOTING_FLAG_RESPONSE) != 0;
}
static inline bool remoting_is_oneway(const struct remoting_cmd *c)
{
    return (c->flag & REMOTING_FLAG_ONEWAY) != 0;
}

#endif
