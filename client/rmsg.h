/* Received messages: a pulled body decoded into struct tern_msg records with
 * NUL-terminated strings, decompressed bodies and parsed properties. */
#ifndef TERN_RMSG_H
#define TERN_RMSG_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/tags.h"
#include "src/buf.h"
#include "tern/tern.h"

struct tern_msg {
    struct msg_stored st; /* slices into the batch's raw copy */
    const char *topic;
    const char *broker;
    const char *tags;
    const char *keys;
    const char *uniq; /* NULL if absent */
    const uint8_t *body;
    size_t body_len;
    char offset_id[MSGID_MAX_STR];
    char *block;        /* topic, properties with NULs, item table */
    const char **items; /* key, value, key, value ... */
    size_t nitems;
    struct buf dbody;   /* decompressed body when compressed */
};

/* A batch of messages from one pull of one queue. */
struct rmsg_batch {
    struct buf raw;
    struct tern_msg *msgs;
    const struct tern_msg **ptrs;
    size_t n;
    size_t next; /* first message not yet delivered (consumer) */
    int64_t next_offset; /* nextBeginOffset of the pull */
    char broker[128];
    struct rmsg_batch *link;
};

/* Copy the stored-format body of a pull response and decode every record
 * into b (zeroed by the caller). Messages whose tag does not match filter
 * (NULL or all: keep everything) are left out. Returns 0, TERN_E_MALFORMED
 * with errmsg, or TERN_E_NOMEM. b must be freed with rmsg_batch_free even
 * on error. */
int rmsg_batch_decode(struct rmsg_batch *b, const uint8_t *body, size_t n, const char *broker,
                      const struct tags_expr *filter, char *errmsg);
void rmsg_batch_free(struct rmsg_batch *b);

#endif
