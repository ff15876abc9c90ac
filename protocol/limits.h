/* Size limits checked by every decoder before it allocates or trusts a length. */
#ifndef TERN_LIMITS_H
#define TERN_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#define LIMITS_DEFAULT_MAX_FRAME (16u << 20)  /* whole frame incl. length word */
#define LIMITS_DEFAULT_MAX_HEADER (64u << 10) /* serialized header */
#define LIMITS_DEFAULT_MAX_BODY (4u << 20)    /* one message body */
#define LIMITS_MAX_PROPERTIES 32767u          /* int16 length in the stored format */
#define LIMITS_MAX_TOPIC 127u                 /* V1 stored format, 1-byte length */
#define LIMITS_MAX_TOPIC_SYSTEM 255u          /* %RETRY% / %DLQ% topics (RocketMQ) */

struct limits {
    uint32_t max_frame;
    uint32_t max_header;
    uint32_t max_body;
    uint32_t max_properties;
    uint32_t max_topic;
};

/* The defaults above, as a value to copy and adjust from configuration. */
extern const struct limits limits_default;

/* Validate a topic name: non-empty, at most max_topic bytes (255 for
 * %RETRY%/%DLQ% names), characters [%|a-zA-Z0-9_-] (RocketMQ TopicValidator).
 * Returns 0, or TERN_E_MALFORMED with errmsg naming the problem. */
int limits_check_topic(const struct limits *l, const char *topic, size_t len, char *errmsg);

#endif
