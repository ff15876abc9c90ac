/* RocketMQ ACL request signatures (the "AccessKey"/"Signature" extFields that
 * stock clients, ali-ons among them, add when credentials are configured).
 *
 * The signed content is every extFields value except Signature's, in the
 * order of their keys (Java's TreeMap; bytewise for the ASCII keys used),
 * concatenated, followed by the body. The signature is Base64 of
 * HMAC-SHA1(secretKey, content). Pure computation: no I/O. */
#ifndef TERN_ACLSIGN_H
#define TERN_ACLSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "protocol/remoting.h"

#define ACLSIGN_ACCESS_KEY "AccessKey"
#define ACLSIGN_SIGNATURE "Signature"
#define ACLSIGN_SECURITY_TOKEN "SecurityToken"
/* Base64 of a 20-byte digest: 28 characters. */
#define ACLSIGN_B64_LEN 28

/* Signature of c's extFields and body (iov; for a decoded command pass its
 * body slice as one iovec) with secret. out gets a NUL-terminated string. */
void aclsign_compute(const struct remoting_cmd *c, const struct iovec *body, int iovcnt, const char *secret,
                     size_t secret_len, char out[ACLSIGN_B64_LEN + 1]);

/* True when c carries a Signature extField equal to the one computed with
 * secret over c's extFields and its decoded body. Constant-time compare. */
bool aclsign_verify(const struct remoting_cmd *c, const char *secret, size_t secret_len);

/* Add AccessKey (replacing one already set) and then Signature to a request
 * about to be sent with body. Returns 0 or TERN_E_NOMEM. */
int aclsign_sign(struct remoting_cmd *c, const struct iovec *body, int iovcnt, const char *access_key,
                 const char *secret);

#endif
