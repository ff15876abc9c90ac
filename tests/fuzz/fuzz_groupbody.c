/* libFuzzer target: the TERN_GROUP_STATUS body decoder (PROTOCOL.md §4.6).
 * Whatever decodes must re-encode and decode to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/groupbody.h"
#include "src/buf.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct groupbody_status s, t;
    char err[ERRMSG_SIZE];
    if (groupbody_decode((const char *)data, size, &s, err) != 0)
        return 0;
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    if (groupbody_encode(&s, &a) == 0) {
        if (groupbody_decode((const char *)a.data, a.len, &t, err) != 0)
            abort();
        if (groupbody_encode(&t, &b) != 0 || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort();
    }
    buf_free(&a);
    buf_free(&b);
    return 0;
}
