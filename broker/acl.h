/* Access control: RocketMQ's plain ACL (plain_acl.yml) on the broker.
 *
 * Accounts have an access key, a secret key, an admin flag, default topic and
 * group permissions, per-topic and per-group permissions and optional white
 * remote addresses; globalWhiteRemoteAddresses skip every check. A request is
 * allowed when it comes from a white address, or carries the AccessKey of an
 * account and a valid Signature (protocol/aclsign.h) and the account may do
 * what the request does (acl_request_resources). Groups are checked under
 * their retry topic name like RocketMQ ("%RETRY%group" -> groupPerms[group]).
 *
 * The file is re-read when its modification time or size changes (checked
 * every aclReloadInterval); a file that does not parse keeps the previous
 * table and logs why. */
#ifndef TERN_ACL_H
#define TERN_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/remoting.h"

/* Permission bits as RocketMQ's Permission class. */
#define ACL_PERM_DENY 1
#define ACL_PERM_ANY 2
#define ACL_PERM_PUB 4
#define ACL_PERM_SUB 8

struct acl_table;

/* Parse plain_acl.yml text. Returns 0 with *out, or TERN_E_MALFORMED /
 * TERN_E_NOMEM with errmsg (TERN_ERRMSG_SIZE) naming the problem. */
int acl_table_parse(const char *text, size_t len, struct acl_table **out, char *errmsg);
/* Read and parse a file. */
int acl_table_load(const char *path, struct acl_table **out, char *errmsg);
void acl_table_free(struct acl_table *t);
size_t acl_table_accounts(const struct acl_table *t);

/* "PUB", "SUB", "PUB|SUB", "SUB|PUB", "DENY"; anything else is DENY. */
uint8_t acl_perm_parse(const char *s, size_t n);
/* RocketMQ Permission.checkPermission. */
bool acl_perm_allows(uint8_t needed, uint8_t owned);
/* Does addr (dotted IPv4 or IPv6 text) match pattern: "*", exact, "a.b.*"
 * (trailing wildcards), "a.b.c.{1,2,3}" or "a.b.c.1-10" in the last part? */
bool acl_addr_match(const char *pattern, const char *addr);

/* What a request needs: up to ACL_MAX_RESOURCES (name, perm) pairs, where a
 * group appears as its retry topic name, and whether only an admin may send
 * it. Header values are read from extFields (both the long names and
 * SEND_MESSAGE_V2's one-letter names); HEART_BEAT's body is decoded. */
#define ACL_MAX_RESOURCES 64
struct acl_need {
    bool admin;
    size_t n;
    struct {
        char name[256];
        uint8_t perm;
    } res[ACL_MAX_RESOURCES];
};
/* Returns 0, or TERN_E_MALFORMED (errmsg) for a request whose resources
 * cannot be read (a heartbeat body that does not parse). */
int acl_request_resources(const struct remoting_cmd *req, struct acl_need *need, char *errmsg);

/* Decide. peer_ip: the connection's remote address without the port.
 * Returns 0 (allowed) or TERN_E_NO_PERMISSION with a remark in errmsg. */
int acl_table_check(const struct acl_table *t, const char *peer_ip, const struct remoting_cmd *req,
                    char *errmsg);

/* The broker's reloading wrapper. */
struct broker;
int acl_start(struct broker *b);
/* Stop reloading; cb(b) fires once the table is freed. */
void acl_stop(struct broker *b, void (*cb)(struct broker *b));
/* 0: allowed (or ACL off); else TERN_E_NO_PERMISSION with remark in errmsg. */
int acl_check(struct broker *b, const char *peer, const struct remoting_cmd *req, char *errmsg);

#endif
