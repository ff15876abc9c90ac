/* libFuzzer target: JSON remoting header bytes through remoting_decode_json and an encode/decode round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
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
    uint8_t *hdr = malloc(size ? size : 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    int rc = remoting_decode_json(&c, hdr, size, errmsg);
    if (rc == 0) {
        /* Every decoded header re-encodes and decodes to the same fields. */
        buf_reset(&out);
        if (remoting_encode(&c, 0, &out) != 0)
            abort();
        /* Escaping may grow the header past the default limit: not a bug. */
        struct limits big = {1u << 30, 0xFFFFFFu, 1u << 30, 1u << 30, 255};
        if (remoting_decode(&d, out.data, out.len, &big, errmsg) != 0)
            abort();
        if (d.code != c.code || d.opaque != c.opaque || d.flag != c.flag || d.version != c.version ||
            !slice_eq_slice(d.remark, c.remark) || (c.remark.p == NULL) != (d.remark.p == NULL) ||
            d.n_ext != c.n_ext)
            abort();
        if (codes_language_name(c.language) && d.language != c.language)
            abort();
        for (size_t i = 0; i < c.n_ext; i++) {
            size_t j = 0;
            while (j < d.n_ext && !slice_eq_slice(c.ext[i].key, d.ext[j].key))
                j++;
            if (j == d.n_ext || !slice_eq_slice(c.ext[i].val, d.ext[j].val))
                abort();
        }
    } else if (rc != TERN_E_MALFORMED && rc != TERN_E_NOMEM) {
        abort();
    }
    free(hdr);
    return 0;
}
