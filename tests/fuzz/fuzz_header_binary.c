/* libFuzzer target: binary "ROCKETMQ" header bytes through remoting_decode_binary and an encode/decode round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/remoting.h"
#include "src/errmsg.h"
#include "tern/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct remoting_cmd c, d;
    static struct buf out;
    static int ready;
    if (!ready) {
        remoting_cmd_init(&c);
        remoting_cmd_init(&d);
        buf_init(&out);
        ready = 1;
    }
    if (size > (1u << 16))
        return 0;
    char errmsg[ERRMSG_SIZE];
    /* Exact-sized copy so ASan sees any read past the header. */
    uint8_t *hdr = malloc(size ? size : 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    int rc = remoting_decode_binary(&c, hdr, size, errmsg);
    if (rc == 0) {
        if (c.n_ext > REMOTING_MAX_EXT)
            abort();
        buf_reset(&out);
        if (remoting_encode(&c, 0, &out) != 0)
            abort();
        /* Without duplicate keys or null entries the bytes are identical. */
        if (remoting_decode(&d, out.data, out.len, &limits_default, errmsg) != 0)
            abort();
        if (d.code != c.code || d.opaque != c.opaque || d.flag != c.flag || d.version != c.version ||
            d.language != c.language || !slice_eq_slice(d.remark, c.remark) || d.n_ext != c.n_ext)
            abort();
        for (size_t i = 0; i < c.n_ext; i++) {
            if (!slice_eq_slice(c.ext[i].key, d.ext[i].key) || !slice_eq_slice(c.ext[i].val, d.ext[i].val))
                abort();
        }
    } else if (rc != TERN_E_MALFORMED) {
        abort();
    }
    free(hdr);
    return 0;
}
