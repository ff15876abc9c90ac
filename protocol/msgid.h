/* Message ids (PROTOCOL.md §M.3): the broker's offsetMsgId and the client's
 * UNIQ_KEY (RocketMQ MessageDecoder.createMessageId, MessageClientIDSetter). */
#ifndef TERN_MSGID_H
#define TERN_MSGID_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/message.h"

#define MSGID_OFFSET_LEN_V4 32 /* hex chars: 4 addr + 4 port + 8 offset bytes */
#define MSGID_OFFSET_LEN_V6 56 /* 16 addr + 4 port + 8 offset */
#define MSGID_UNIQ_LEN_V4 32   /* 4 ip + 2 pid + 4 hash + 4 ms + 2 counter */
#define MSGID_UNIQ_LEN_V6 56   /* 16 ip + the same 12 */
/* Buffer size that holds any id plus its NUL. */
#define MSGID_MAX_STR 57

/* Write the offsetMsgId of a record stored on store at physical offset into
 * out (MSGID_MAX_STR bytes, NUL-terminated, uppercase hex). Returns the id
 * length (32 or 56), or 0 for an unknown host family. */
size_t msgid_offset_encode(const struct msg_host *store, int64_t physical_offset, char *out);

/* Decode an offsetMsgId: 32 hex chars = IPv4, 56 = IPv6 (either case).
 * Returns 0, or TERN_E_MALFORMED ("msgid: ...") for another length or a
 * non-hex character. */
int msgid_offset_decode(const char *s, size_t n, struct msg_host *store, int64_t *physical_offset,
                        char *errmsg);

/* UNIQ_KEY generator: the 12 (IPv4) or 24 (IPv6) leading bytes are fixed per
 * process, then int32 ms since the start of the current month (UTC here; Java
 * uses the JVM's zone, which only matters to msgid_uniq_decode's timestamp)
 * and an int16 counter that wraps. Not thread-safe: one per loop. */
struct msgid_gen {
    char fixed_hex[41]; /* hex of ip + pid + hash */
    size_t fixed_len;
    int64_t month_start_ms;
    int64_t next_month_ms;
    uint16_t counter;
};

/* ip: the client's address (port ignored); pid is truncated to int16 as in
 * Java; hash stands for Java's class-loader hash (any per-process value). */
void msgid_gen_init(struct msgid_gen *g, const struct msg_host *ip, uint32_t pid, uint32_t hash);

/* Write the next UNIQ_KEY for wall-clock time now_ms into out (MSGID_MAX_STR
 * bytes, NUL-terminated). Returns its length (32 or 56). */
size_t msgid_uniq_next(struct msgid_gen *g, int64_t now_ms, char *out);

struct msgid_uniq {
    struct msg_host ip; /* port 0 */
    uint16_t pid;
    uint32_t hash;
    uint32_t month_ms; /* ms since the start of the month the id was made in */
    uint16_t counter;
    /* Absolute creation time, resolved like Java getNearlyTimeFromID: the
     * current month if that lies in the past of now_ms, else the previous. */
    int64_t timestamp_ms;
};

/* Decode a UNIQ_KEY (32 hex = IPv4, 56 = IPv6), resolving its time against
 * now_ms (UTC months). Returns 0 or TERN_E_MALFORMED. */
int msgid_uniq_decode(const char *s, size_t n, int64_t now_ms, struct msgid_uniq *out,
                      char *errmsg);

/* Start of the UTC month containing t_ms, and of the month after it. */
int64_t msgid_month_start(int64_t t_ms, int months_ahead);

#endif
