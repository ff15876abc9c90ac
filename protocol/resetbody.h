/* RocketMQ ResetOffsetBody: the body of INVOKE_BROKER_TO_RESET_OFFSET (222)
 * responses and RESET_CONSUMER_CLIENT_OFFSET (220) pushes (PROTOCOL.md §4.3).
 *
 * fastjson writes a Map<MessageQueue, Long> with the keys as JSON objects,
 * which is not strict JSON:
 *   {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:42,...}}
 * so a generic JSON parser cannot read it; this file writes and scans it.
 * Pure: no I/O, the decoder never allocates. */
#ifndef TERN_RESETBODY_H
#define TERN_RESETBODY_H

#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"
#include "src/slice.h"

/* Encoding: begin, one add per queue, end; returns 0 or out->err. Names must
 * not contain '"' or '\\' (broker and topic names never do). */
void resetbody_begin(struct buf *out);
void resetbody_add(struct buf *out, const char *broker, const char *topic, int32_t queue_id, int64_t offset);
int resetbody_end(struct buf *out);

struct resetbody_entry {
    struct slice broker; /* points into the body */
    struct slice topic;
    int32_t queue_id;
    int64_t offset;
};

/* Scan: *pos = 0 before the first call. Returns 1 with e filled, 0 at the
 * end (and on every later call), or TERN_E_MALFORMED (no offsetTable, an entry without brokerName,
 * topic or queueId, an escaped name, a number out of range, an unterminated
 * object). Entries are returned in body order. */
int resetbody_next(const char *p, size_t n, size_t *pos, struct resetbody_entry *e);

#endif
