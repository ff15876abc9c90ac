/* libFuzzer target: stored message decode, iteration over concatenated records, re-encode. */
#include <stdint.h>
#include <string.h>

#include "protocol/message.h"
#include "protocol/msgid.h"
#include "protocol/properties.h"
#include "src/buf.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct properties props;
    char err[ERRMSG_SIZE];
    struct msg_stored m;
    size_t used;
    if (message_decode(data, size, &limits_default, MESSAGE_DECODE_VERIFY_CRC, &m, &used, err) ==
        0) {
        /* A record that decodes must re-encode to the same bytes, except
         * the CRC (recomputed) and the IPv6 bits (derived from the hosts,
         * which the decoder took from those same bits). */
        struct buf b;
        buf_init(&b);
        if (message_encode(&m, &b) == 0) {
            if (b.len != used || memcmp(b.data + 12, data + 12, used - 12) != 0 ||
                memcmp(b.data, data, 8) != 0)
                __builtin_trap();
        }
        buf_free(&b);
        properties_parse(m.properties.p, m.properties.len, &limits_default, &props, err);
        char id[MSGID_MAX_STR];
        msgid_offset_encode(&m.store_host, m.physical_offset, id);
    }
    struct message_iter it;
    message_iter_init(&it, data, size, &limits_default, 0);
    while (message_iter_next(&it, &m, err) == 1) {
        if (m.body.len > limits_default.max_body)
            __builtin_trap();
    }
    /* Patching must stay inside the record whatever its SYSFLAG says. */
    static uint8_t scratch[1 << 16];
    if (size <= sizeof scratch) {
        memcpy(scratch, data, size);
        (void)message_patch(scratch, size, 1, 2, 3);
    }
    return 0;
}
