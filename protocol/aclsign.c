/* RocketMQ ACL signatures: HMAC-SHA1 (nettle) over sorted extFields values
 * and the body. */
#include "protocol/aclsign.h"

#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <string.h>

#include "tern/error.h"

static int key_cmp(struct slice a, struct slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

void aclsign_compute(const struct remoting_cmd *c, const struct iovec *body, int iovcnt, const char *secret,
                     size_t secret_len, char out[ACLSIGN_B64_LEN + 1])
{
    /* Sort extField indexes by key; REMOTING_MAX_EXT is small, so an
     * insertion sort on the stack allocates nothing. */
    size_t order[REMOTING_MAX_EXT];
    size_t n = 0;
    for (size_t i = 0; i < c->n_ext; i++) {
        if (slice_eq(c->ext[i].key, ACLSIGN_SIGNATURE))
            continue;
        size_t j = n++;
        while (j > 0 && key_cmp(c->ext[order[j - 1]].key, c->ext[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    struct hmac_sha1_ctx ctx;
    hmac_sha1_set_key(&ctx, secret_len, (const uint8_t *)secret);
    for (size_t k = 0; k < n; k++) {
        struct slice v = c->ext[order[k]].val;
        if (v.len)
            hmac_sha1_update(&ctx, v.len, (const uint8_t *)v.p);
    }
    for (int i = 0; i < iovcnt; i++)
        if (body[i].iov_len)
            hmac_sha1_update(&ctx, body[i].iov_len, body[i].iov_base);
    uint8_t digest[SHA1_DIGEST_SIZE];
    hmac_sha1_digest(&ctx, sizeof digest, digest);
    base64_encode_raw((char *)out, sizeof digest, digest);
    out[ACLSIGN_B64_LEN] = '\0';
}

bool aclsign_verify(const struct remoting_cmd *c, const char *secret, size_t secret_len)
{
    struct slice given = remoting_ext_get(c, ACLSIGN_SIGNATURE);
    if (given.len != ACLSIGN_B64_LEN)
        return false;
    struct iovec body = {(void *)c->body.p, c->body.len};
    char want[ACLSIGN_B64_LEN + 1];
    aclsign_compute(c, &body, 1, secret, secret_len, want);
    unsigned diff = 0;
    for (size_t i = 0; i < ACLSIGN_B64_LEN; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)given.p[i];
    return diff == 0;
}

int aclsign_sign(struct remoting_cmd *c, const struct iovec *body, int iovcnt, const char *access_key,
                 const char *secret)
{
    int rv = remoting_ext_set_str(c, ACLSIGN_ACCESS_KEY, access_key);
    if (rv != 0)
        return rv;
    char sig[ACLSIGN_B64_LEN + 1];
    aclsign_compute(c, body, iovcnt, secret, strlen(secret), sig);
    return remoting_ext_set_str(c, ACLSIGN_SIGNATURE, sig);
}
