/* libFuzzer target: ResetOffsetBody scan (RESET_CONSUMER_CLIENT_OFFSET
 * bodies come from the network); every entry found re-encodes and scans back
 * to the same values. */
#include <stdint.h>
#include <string.h>

#include "protocol/resetbody.h"
#include "src/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct resetbody_entry e, e2;
    size_t pos = 0, guard = 0;
    struct buf out;
    buf_init(&out);
    while (resetbody_next((const char *)data, size, &pos, &e) == 1) {
        if (++guard > size + 1)
            __builtin_trap(); /* the scan must advance */
        char broker[256], topic[256];
        if (e.broker.len >= sizeof broker || e.topic.len >= sizeof topic || memchr(e.broker.p, '"', e.broker.len) ||
            memchr(e.topic.p, '"', e.topic.len))
            continue;
        memcpy(broker, e.broker.p, e.broker.len);
        broker[e.broker.len] = '\0';
        memcpy(topic, e.topic.p, e.topic.len);
        topic[e.topic.len] = '\0';
        if (memchr(broker, '\0', e.broker.len) || memchr(topic, '\0', e.topic.len))
            continue;
        buf_reset(&out);
        resetbody_begin(&out);
        resetbody_add(&out, broker, topic, e.queue_id, e.offset);
        if (resetbody_end(&out) != 0)
            continue;
        size_t p2 = 0;
        if (resetbody_next((const char *)out.data, out.len, &p2, &e2) != 1 || e2.queue_id != e.queue_id ||
            e2.offset != e.offset || e2.broker.len != e.broker.len || e2.topic.len != e.topic.len)
            __builtin_trap();
    }
    buf_free(&out);
    return 0;
}
