/* Private interface between remoting.c and the two header codecs
 * (hdr_json.c, hdr_binary.c). Not for use outside protocol/ except tests. */
#ifndef TERN_HDR_CODEC_H
#define TERN_HDR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/remoting.h"

/* Decode header bytes into c (already reset). 0 or TERN_E_* with errmsg. */
int hdr_json_decode(struct remoting_cmd *c, const uint8_t *p, size_t n, char *errmsg);
int hdr_binary_decode(struct remoting_cmd *c, const uint8_t *p, size_t n, char *errmsg);

/* Append the header of c (without prefix) to out. 0 or TERN_E_*. */
int hdr_json_encode(const struct remoting_cmd *c, struct buf *out);
int hdr_binary_encode(const struct remoting_cmd *c, struct buf *out);

/* Defined in remoting.c. Store key/val as an extFields entry: copied into the
 * arena when copy, else referenced as given. With replace, an existing entry
 * of the same key is overwritten (HashMap semantics: last one wins); without,
 * the entry is appended (the caller knows keys are unique). Returns 0,
 * TERN_E_TOOBIG when REMOTING_MAX_EXT entries exist, or TERN_E_NOMEM. */
int remoting_ext_put(struct remoting_cmd *c, struct slice key, struct slice val, bool copy,
                     bool replace);

#endif
