/* libFuzzer target: a byte stream through remoting_frame_check, remoting_decode, a re-encode round trip and every typed header decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/codes.h"
#include "protocol/headers.h"
#include "protocol/remoting.h"
#include "src/errmsg.h"
#include "tern/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode h from c; when that succeeds, encoding h and decoding it again must
 * succeed too (decode accepts everything encode produces). */
#define TRY(prefix, st)                                                                            \
    do {                                                                                           \
        struct st h1, h2;                                                                          \
        if (prefix##_decode(&h1, c, l, errmsg) == 0) {                                             \
            remoting_cmd_init_request(scratch, c->code);                                           \
            if (prefix##_encode(&h1, scratch) == 0 && prefix##_decode(&h2, scratch, l, errmsg) != 0) \
                abort();                                                                           \
        }                                                                                          \
    } while (0)

static void all_headers(const struct remoting_cmd *c, struct remoting_cmd *scratch, const struct limits *l)
{
    char errmsg[ERRMSG_SIZE];
    TRY(headers_send_req, headers_send_req);
    TRY(headers_send_resp, headers_send_resp);
    TRY(headers_pull_req, headers_pull_req);
    TRY(headers_pull_resp, headers_pull_resp);
    TRY(headers_offset_query_req, headers_offset_query_req);
    TRY(headers_offset_update_req, headers_offset_update_req);
    TRY(headers_offset_queue_req, headers_offset_queue_req);
    TRY(headers_offset_search_req, headers_offset_search_req);
    TRY(headers_offset_resp, headers_offset_resp);
    TRY(headers_offset_time_resp, headers_offset_time_resp);
    TRY(headers_client_unregister_req, headers_client_unregister_req);
    TRY(headers_client_group_req, headers_client_group_req);
    TRY(headers_client_sendback_req, headers_client_sendback_req);
    TRY(headers_client_endtx_req, headers_client_endtx_req);
    TRY(headers_client_checktx_req, headers_client_checktx_req);
    TRY(headers_client_query_req, headers_client_query_req);
    TRY(headers_client_query_resp, headers_client_query_resp);
    TRY(headers_client_view_req, headers_client_view_req);
    TRY(headers_admin_topic_req, headers_admin_topic_req);
    TRY(headers_admin_register_req, headers_admin_register_req);
    TRY(headers_admin_register_resp, headers_admin_register_resp);
    TRY(headers_admin_unregister_req, headers_admin_unregister_req);
    TRY(headers_admin_route_req, headers_admin_route_req);
    TRY(headers_admin_kv_req, headers_admin_kv_req);
    TRY(headers_admin_kv_resp, headers_admin_kv_resp);
}

static void same_ext(const struct remoting_cmd *a, const struct remoting_cmd *b)
{
    if (a->n_ext != b->n_ext)
        abort();
    for (size_t i = 0; i < a->n_ext; i++) {
        size_t j = 0;
        while (j < b->n_ext && !slice_eq_slice(a->ext[i].key, b->ext[j].key))
            j++;
        if (j == b->n_ext || !slice_eq_slice(a->ext[i].val, b->ext[j].val))
            abort();
    }
}

/* What we decoded, re-encoded in the same form, must decode to the same. */
static void roundtrip(const struct remoting_cmd *c, struct remoting_cmd *d, struct buf *out,
                      const struct limits *l)
{
    char errmsg[ERRMSG_SIZE];
    buf_reset(out);
    if (remoting_encode(c, c->body.len, out) != 0)
        return;
    buf_append(out, c->body.p, c->body.len);
    /* JSON escaping may grow the header past l: use roomy limits here. */
    struct limits big = {1u << 30, 0xFFFFFFu, 1u << 30, 1u << 30, 255};
    (void)l;
    if (remoting_decode(d, out->data, out->len, &big, errmsg) != 0)
        abort();
    if (d->code != c->code || d->opaque != c->opaque || d->flag != c->flag || d->version != c->version ||
        d->serialize != c->serialize || !slice_eq_slice(d->remark, c->remark) ||
        (c->remark.p == NULL) != (d->remark.p == NULL) || !slice_eq_slice(d->body, c->body))
        abort();
    if (codes_language_name(c->language) && d->language != c->language)
        abort();
    same_ext(c, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct remoting_cmd c, d, scratch;
    static struct buf out;
    static int ready;
    if (!ready) {
        remoting_cmd_init(&c);
        remoting_cmd_init(&d);
        remoting_cmd_init(&scratch);
        buf_init(&out);
        ready = 1;
    }
    /* Small limits so the limit paths are reachable with small inputs. */
    struct limits l = limits_default;
    l.max_frame = 1u << 16;
    l.max_header = 1u << 14;
    l.max_body = 1u << 12;
    char errmsg[ERRMSG_SIZE];
    const uint8_t *p = data;
    size_t left = size;
    for (;;) {
        size_t flen = 0;
        int rc = remoting_frame_check(p, left, &l, &flen, errmsg);
        if (rc == TERN_E_AGAIN)
            break;
        if (rc != 0) {
            if (rc != TERN_E_MALFORMED && rc != TERN_E_TOOBIG)
                abort();
            break;
        }
        if (flen > left || flen < REMOTING_PREFIX_LEN)
            abort();
        /* Exact-sized copy so ASan sees any read past the frame. */
        uint8_t *frame = malloc(flen);
        if (!frame)
            break;
        memcpy(frame, p, flen);
        rc = remoting_decode(&c, frame, flen, &l, errmsg);
        if (rc == 0) {
            if (c.n_ext > REMOTING_MAX_EXT)
                abort();
            all_headers(&c, &scratch, &l);
            roundtrip(&c, &d, &out, &l);
        } else if (rc != TERN_E_MALFORMED && rc != TERN_E_TOOBIG && rc != TERN_E_NOMEM) {
            abort();
        }
        free(frame);
        p += flen;
        left -= flen;
    }
    return 0;
}
