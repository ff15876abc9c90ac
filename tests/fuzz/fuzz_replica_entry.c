/* libFuzzer target: decode a replicated raft entry (broker/replica_entry.c)
 * and walk its commands; decoding must never read outside the input. */
#include <stddef.h>
#include <stdint.h>

#include "broker/replica_entry.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERRMSG_SIZE];
    struct replica_entry_view v;
    if (replica_entry_decode(data, size, &v, err) != 0)
        return 0;
    struct replica_entry_iter it;
    replica_entry_iter_init(&it, &v);
    const uint8_t *cmd;
    size_t len;
    uint32_t n = 0;
    volatile uint8_t sink = 0;
    while (replica_entry_iter_next(&it, &cmd, &len)) {
        if (len)
            sink ^= cmd[0] ^ cmd[len - 1];
        n++;
    }
    (void)sink;
    /* A validated entry's framing covers exactly `count` commands. */
    if (n != v.count)
        __builtin_trap();
    replica_entry_view_free(&v);
    return 0;
}
