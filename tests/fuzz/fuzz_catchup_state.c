/* libFuzzer target: the catch-up snapshot's transaction table and delay lane
 * decoders (broker/txn_snap.c, broker/delay_snap.c). Arbitrary JSON must be
 * refused or decoded without a crash; a decoded table re-encodes and decodes
 * to the same bytes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/delay_snap.h"
#include "broker/txn_snap.h"
#include "src/buf.h"
#include "src/errmsg.h"
#include "src/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERRMSG_SIZE];
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    struct delay_snap_lane l;
    if (delay_snap_decode(j, 1000, &l, err) == 0)
        delay_snap_lane_free(&l);
    struct txn_table t, u;
    txn_table_init(&t);
    txn_table_init(&u);
    if (txn_snap_decode(&t, j, err) == 0) {
        struct buf a, b;
        buf_init(&a);
        buf_init(&b);
        struct jsonw w;
        jsonw_init(&w, &a);
        txn_snap_encode(&t, &w);
        json_t *k = json_loadb((const char *)a.data, a.len, 0, NULL);
        if (!k || txn_snap_decode(&u, k, err) != 0)
            abort();
        jsonw_init(&w, &b);
        txn_snap_encode(&u, &w);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            abort();
        json_decref(k);
        buf_free(&a);
        buf_free(&b);
    }
    txn_table_free(&t);
    txn_table_free(&u);
    json_decref(j);
    return 0;
}
