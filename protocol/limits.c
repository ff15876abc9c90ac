/* Default limits and the topic-name check shared by all decoders. */
#include "protocol/limits.h"

#include <string.h>

#include "src/errmsg.h"
#include "tern/error.h"

const struct limits limits_default = {
    .max_frame = LIMITS_DEFAULT_MAX_FRAME,
    .max_header = LIMITS_DEFAULT_MAX_HEADER,
    .max_body = LIMITS_DEFAULT_MAX_BODY,
    .max_properties = LIMITS_MAX_PROPERTIES,
    .max_topic = LIMITS_MAX_TOPIC,
};

static int topic_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '%' || c == '|';
}

int limits_check_topic(const struct limits *l, const char *topic, size_t len, char *errmsg)
{
    if (len == 0) {
        errmsg_printf(errmsg, "topic: empty");
        return TERN_E_MALFORMED;
    }
    size_t max = l->max_topic;
    if ((len > 7 && memcmp(topic, "%RETRY%", 7) == 0) || (len > 5 && memcmp(topic, "%DLQ%", 5) == 0))
        max = LIMITS_MAX_TOPIC_SYSTEM;
    if (len > max) {
        errmsg_printf(errmsg, "topic: length %zu exceeds %zu", len, max);
        return TERN_E_MALFORMED;
    }
    for (size_t i = 0; i < len; i++) {
        if (!topic_char_ok((unsigned char)topic[i])) {
            errmsg_printf(errmsg, "topic: illegal character 0x%02x at %zu", (unsigned char)topic[i], i);
            return TERN_E_MALFORMED;
        }
    }
    return 0;
}
