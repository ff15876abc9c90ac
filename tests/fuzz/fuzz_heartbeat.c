/* libFuzzer target: HeartbeatData JSON decode, re-encode and decode again. */
#include <stdint.h>

#include "protocol/heartbeat.h"
#include "src/buf.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERRMSG_SIZE];
    struct buf arena, out, arena2;
    struct heartbeat hb, hb2;
    buf_init(&arena);
    buf_init(&out);
    buf_init(&arena2);
    if (heartbeat_decode((const char *)data, size, &hb, &arena, err) == 0) {
        if (heartbeat_encode(&hb, &out) == 0 &&
            heartbeat_decode((const char *)out.data, out.len, &hb2, &arena2, err) != 0)
            __builtin_trap(); /* our own output must decode */
    }
    buf_free(&arena);
    buf_free(&out);
    buf_free(&arena2);
    return 0;
}
