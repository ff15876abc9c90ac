/* libFuzzer target: route, cluster info, topic list, register-broker, lock and consumer-list decoders. */
#include <stdint.h>

#include "protocol/brokerbody.h"
#include "protocol/lockbody.h"
#include "protocol/route.h"
#include "src/buf.h"
#include "src/errmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char err[ERRMSG_SIZE];
    struct buf arena, out;
    buf_init(&arena);
    buf_init(&out);
    const char *json = (const char *)data + 1;
    size_t n = size - 1;
    /* The first byte picks the decoder; each success is re-encoded. */
    switch (data[0] % 7) {
    case 0: {
        struct route_data rd;
        if (route_decode(json, n, &rd, &arena, err) == 0)
            route_encode(&rd, data[0] & 8, &out);
        break;
    }
    case 1: {
        struct brokerbody bb;
        if (brokerbody_decode(json, n, false, &bb, &arena, err) == 0)
            brokerbody_encode(&bb, &out);
        break;
    }
    case 2: {
        struct lockbody_req req;
        if (lockbody_req_decode(json, n, &req, &arena, err) == 0)
            lockbody_req_encode(&req, &out);
        break;
    }
    case 3: {
        const char **ids;
        size_t cnt;
        if (lockbody_ids_decode(json, n, &ids, &cnt, &arena, err) == 0)
            lockbody_ids_encode(ids, cnt, &out);
        break;
    }
    case 4: {
        struct lockbody_mq *mqs;
        size_t cnt;
        if (lockbody_ok_decode(json, n, &mqs, &cnt, &arena, err) == 0)
            lockbody_ok_encode(mqs, cnt, &out);
        break;
    }
    case 5: {
        struct route_cluster_info ci;
        if (route_cluster_decode(json, n, &ci, &arena, err) == 0)
            route_cluster_encode(&ci, data[0] & 8, &out);
        break;
    }
    default: {
        struct route_topic_list tl;
        if (route_topics_decode(json, n, &tl, &arena, err) == 0)
            route_topics_encode(&tl, &out);
        break;
    }
    }
    buf_free(&arena);
    buf_free(&out);
    return 0;
}
