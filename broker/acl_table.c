/* plain_acl.yml: parsing (libyaml's document API) and the permission
 * decision for one request. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <yaml.h>

#include "broker/acl.h"
#include "protocol/aclsign.h"
#include "src/errmsg.h"
#include "tern/error.h"

struct acl_res {
    char *name;
    uint8_t perm;
    UT_hash_handle hh;
};

struct acl_account {
    char *access_key;
    char *secret_key;
    bool admin;
    uint8_t default_topic_perm;
    uint8_t default_group_perm;
    struct acl_res *topics;
    struct acl_res *groups;
    char *white; /* one pattern or NULL */
    UT_hash_handle hh;
};

struct acl_table {
    struct acl_account *accounts;
    char **global_white;
    size_t n_global_white;
};

#define RETRY_PREFIX "%RETRY%"

uint8_t acl_perm_parse(const char *s, size_t n)
{
    if (n == 3 && memcmp(s, "PUB", 3) == 0)
        return ACL_PERM_PUB;
    if (n == 3 && memcmp(s, "SUB", 3) == 0)
        return ACL_PERM_SUB;
    if (n == 7 && (memcmp(s, "PUB|SUB", 7) == 0 || memcmp(s, "SUB|PUB", 7) == 0))
        return ACL_PERM_PUB | ACL_PERM_SUB;
    return ACL_PERM_DENY;
}

bool acl_perm_allows(uint8_t needed, uint8_t owned)
{
    if (owned & ACL_PERM_DENY)
        return false;
    if (needed & ACL_PERM_ANY)
        return (owned & (ACL_PERM_PUB | ACL_PERM_SUB)) != 0;
    return (needed & owned) != 0;
}

static bool part_match(const char *pat, size_t pn, const char *part, size_t n)
{
    if (pn == 1 && pat[0] == '*')
        return true;
    if (pn > 2 && pat[0] == '{' && pat[pn - 1] == '}') {
        const char *p = pat + 1, *end = pat + pn - 1;
        while (p < end) {
            const char *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;
            if ((size_t)(stop - p) == n && memcmp(p, part, n) == 0)
                return true;
            p = stop + 1;
        }
        return false;
    }
    const char *dash = memchr(pat, '-', pn);
    if (dash && isdigit((unsigned char)pat[0])) {
        long lo = strtol(pat, NULL, 10), hi = strtol(dash + 1, NULL, 10);
        char tmp[16];
        if (n == 0 || n >= sizeof tmp)
            return false;
        memcpy(tmp, part, n);
        tmp[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)tmp[i]))
                return false;
        long v = strtol(tmp, NULL, 10);
        return v >= lo && v <= hi;
    }
    return pn == n && memcmp(pat, part, n) == 0;
}

bool acl_addr_match(const char *pattern, const char *addr)
{
    if (!pattern || !*pattern)
        return false;
    if (strcmp(pattern, "*") == 0)
        return true;
    char sep = strchr(addr, ':') ? ':' : '.';
    const char *p = pattern, *a = addr;
    for (;;) {
        const char *pe = strchr(p, sep), *ae = strchr(a, sep);
        size_t pn = pe ? (size_t)(pe - p) : strlen(p);
        size_t an = ae ? (size_t)(ae - a) : strlen(a);
        /* A trailing "*" covers every remaining part: "192.168.*". */
        if (!pe && pn == 1 && p[0] == '*')
            return true;
        if (!part_match(p, pn, a, an))
            return false;
        if (!pe || !ae)
            return !pe && !ae;
        p = pe + 1;
        a = ae + 1;
    }
}

static void res_free(struct acl_res **h)
{
    struct acl_res *r, *tmp;
    HASH_ITER(hh, *h, r, tmp) {
        HASH_DEL(*h, r);
        free(r->name);
        free(r);
    }
}

void acl_table_free(struct acl_table *t)
{
    if (!t)
        return;
    struct acl_account *a, *tmp;
    HASH_ITER(hh, t->accounts, a, tmp) {
        HASH_DEL(t->accounts, a);
        free(a->access_key);
        free(a->secret_key);
        free(a->white);
        res_free(&a->topics);
        res_free(&a->groups);
        free(a);
    }
    for (size_t i = 0; i < t->n_global_white; i++)
        free(t->global_white[i]);
    free(t->global_white);
    free(t);
}

size_t acl_table_accounts(const struct acl_table *t)
{
    return t ? HASH_COUNT(t->accounts) : 0;
}

/* ---- YAML ---- */

struct parse {
    yaml_document_t *doc;
    char *errmsg;
};

static const char *scalar(yaml_document_t *doc, yaml_node_t *n, size_t *len)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return NULL;
    *len = n->data.scalar.length;
    return (const char *)n->data.scalar.value;
}

static bool key_is(yaml_document_t *doc, yaml_node_pair_t *pair, const char *name)
{
    size_t n;
    const char *k = scalar(doc, yaml_document_get_node(doc, pair->key), &n);
    return k && n == strlen(name) && memcmp(k, name, n) == 0;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* "name=PERM" entries of topicPerms / groupPerms. */
static int parse_perms(struct parse *ps, yaml_node_t *seq, struct acl_res **out, const char *what)
{
    if (!seq)
        return 0;
    if (seq->type == YAML_SCALAR_NODE && seq->data.scalar.length == 0)
        return 0; /* "topicPerms:" with nothing */
    if (seq->type != YAML_SEQUENCE_NODE) {
        errmsg_printf(ps->errmsg, "acl: %s must be a list of name=PERM", what);
        return TERN_E_MALFORMED;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        size_t n;
        const char *s = scalar(ps->doc, yaml_document_get_node(ps->doc, *it), &n);
        const char *eq = s ? memchr(s, '=', n) : NULL;
        if (!eq || eq == s) {
            errmsg_printf(ps->errmsg, "acl: %s entry is not name=PERM", what);
            return TERN_E_MALFORMED;
        }
        struct acl_res *r = calloc(1, sizeof *r);
        if (!r || !(r->name = dup_n(s, (size_t)(eq - s)))) {
            free(r);
            return TERN_E_NOMEM;
        }
        r->perm = acl_perm_parse(eq + 1, n - (size_t)(eq + 1 - s));
        struct acl_res *old;
        HASH_FIND_STR(*out, r->name, old);
        if (old) {
            old->perm = r->perm; /* the later entry wins */
            free(r->name);
            free(r);
        } else {
            HASH_ADD_KEYPTR(hh, *out, r->name, strlen(r->name), r);
        }
    }
    return 0;
}

static int parse_account(struct parse *ps, struct acl_table *t, yaml_node_t *m)
{
    if (m->type != YAML_MAPPING_NODE) {
        errmsg_printf(ps->errmsg, "acl: every account must be a mapping");
        return TERN_E_MALFORMED;
    }
    struct acl_account *a = calloc(1, sizeof *a);
    if (!a)
        return TERN_E_NOMEM;
    a->default_topic_perm = ACL_PERM_DENY;
    a->default_group_perm = ACL_PERM_DENY;
    int rv = 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top && rv == 0; p++) {
        yaml_node_t *v = yaml_document_get_node(ps->doc, p->value);
        size_t n = 0;
        const char *s = scalar(ps->doc, v, &n);
        if (key_is(ps->doc, p, "accessKey") && s)
            rv = (a->access_key = dup_n(s, n)) ? 0 : TERN_E_NOMEM;
        else if (key_is(ps->doc, p, "secretKey") && s)
            rv = (a->secret_key = dup_n(s, n)) ? 0 : TERN_E_NOMEM;
        else if (key_is(ps->doc, p, "whiteRemoteAddress") && s && n)
            rv = (a->white = dup_n(s, n)) ? 0 : TERN_E_NOMEM;
        else if (key_is(ps->doc, p, "admin") && s)
            a->admin = n == 4 && strncasecmp(s, "true", 4) == 0;
        else if (key_is(ps->doc, p, "defaultTopicPerm") && s)
            a->default_topic_perm = acl_perm_parse(s, n);
        else if (key_is(ps->doc, p, "defaultGroupPerm") && s)
            a->default_group_perm = acl_perm_parse(s, n);
        else if (key_is(ps->doc, p, "topicPerms"))
            rv = parse_perms(ps, v, &a->topics, "topicPerms");
        else if (key_is(ps->doc, p, "groupPerms"))
            rv = parse_perms(ps, v, &a->groups, "groupPerms");
    }
    if (rv == 0 && (!a->access_key || !a->secret_key || !*a->access_key)) {
        errmsg_printf(ps->errmsg, "acl: an account lacks accessKey or secretKey");
        rv = TERN_E_MALFORMED;
    }
    if (rv == 0 && strlen(a->secret_key) < 6) {
        /* RocketMQ refuses secret keys shorter than 6 characters too. */
        errmsg_printf(ps->errmsg, "acl: the secretKey of '%s' is shorter than 6 characters", a->access_key);
        rv = TERN_E_MALFORMED;
    }
    struct acl_account *dup = NULL;
    if (rv == 0)
        HASH_FIND_STR(t->accounts, a->access_key, dup);
    if (rv == 0 && dup) {
        errmsg_printf(ps->errmsg, "acl: accessKey '%s' appears twice", a->access_key);
        rv = TERN_E_MALFORMED;
    }
    if (rv != 0) {
        free(a->access_key);
        free(a->secret_key);
        free(a->white);
        res_free(&a->topics);
        res_free(&a->groups);
        free(a);
        return rv;
    }
    HASH_ADD_KEYPTR(hh, t->accounts, a->access_key, strlen(a->access_key), a);
    return 0;
}

static int parse_root(struct parse *ps, struct acl_table *t, yaml_node_t *root)
{
    if (!root || root->type != YAML_MAPPING_NODE) {
        errmsg_printf(ps->errmsg, "acl: the file must be a mapping with 'accounts'");
        return TERN_E_MALFORMED;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *v = yaml_document_get_node(ps->doc, p->value);
        if (key_is(ps->doc, p, "accounts")) {
            if (v->type == YAML_SCALAR_NODE)
                continue; /* empty */
            if (v->type != YAML_SEQUENCE_NODE) {
                errmsg_printf(ps->errmsg, "acl: 'accounts' must be a list");
                return TERN_E_MALFORMED;
            }
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                int rv = parse_account(ps, t, yaml_document_get_node(ps->doc, *it));
                if (rv != 0)
                    return rv;
            }
        } else if (key_is(ps->doc, p, "globalWhiteRemoteAddresses") && v->type == YAML_SEQUENCE_NODE) {
            size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            t->global_white = calloc(cnt ? cnt : 1, sizeof *t->global_white);
            if (!t->global_white)
                return TERN_E_NOMEM;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                size_t n;
                const char *s = scalar(ps->doc, yaml_document_get_node(ps->doc, *it), &n);
                if (!s || !n)
                    continue;
                if (!(t->global_white[t->n_global_white] = dup_n(s, n)))
                    return TERN_E_NOMEM;
                t->n_global_white++;
            }
        }
    }
    return 0;
}

int acl_table_parse(const char *text, size_t len, struct acl_table **out, char *errmsg)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return TERN_E_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        errmsg_printf(errmsg, "acl: YAML error at line %zu: %s", parser.problem_mark.line + 1,
                   parser.problem ? parser.problem : "unknown");
        yaml_parser_delete(&parser);
        return TERN_E_MALFORMED;
    }
    struct acl_table *t = calloc(1, sizeof *t);
    int rv = t ? 0 : TERN_E_NOMEM;
    if (rv == 0) {
        struct parse ps = {&doc, errmsg};
        rv = parse_root(&ps, t, yaml_document_get_root_node(&doc));
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rv != 0) {
        acl_table_free(t);
        return rv;
    }
    *out = t;
    return 0;
}

int acl_table_load(const char *path, struct acl_table **out, char *errmsg)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errmsg_printf(errmsg, "acl: cannot open %s: %s", path, strerror(errno));
        return TERN_E_IO;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rv = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (16u << 20)) {
                errmsg_printf(errmsg, "acl: %s is larger than 16 MiB", path);
                rv = TERN_E_TOOBIG;
                break;
            }
            cap = cap ? cap * 2 : 4096;
            char *n = realloc(text, cap);
            if (!n) {
                rv = TERN_E_NOMEM;
                break;
            }
            text = n;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (rv == 0)
        rv = acl_table_parse(text ? text : "", len, out, errmsg);
    free(text);
    return rv;
}

/* ---- decision ---- */

static uint8_t owned_perm(const struct acl_account *a, const char *name)
{
    struct acl_res *r;
    if (strncmp(name, RETRY_PREFIX, strlen(RETRY_PREFIX)) == 0) {
        const char *group = name + strlen(RETRY_PREFIX);
        HASH_FIND_STR(a->groups, group, r);
        return r ? r->perm : a->default_group_perm;
    }
    HASH_FIND_STR(a->topics, name, r);
    return r ? r->perm : a->default_topic_perm;
}

int acl_table_check(const struct acl_table *t, const char *peer_ip, const struct remoting_cmd *req,
                    char *errmsg)
{
    for (size_t i = 0; i < t->n_global_white; i++)
        if (acl_addr_match(t->global_white[i], peer_ip))
            return 0;
    struct slice ak = remoting_ext_get(req, ACLSIGN_ACCESS_KEY);
    if (!ak.p || ak.len == 0) {
        errmsg_printf(errmsg, "No accessKey is configured");
        return TERN_E_NO_PERMISSION;
    }
    struct acl_account *a;
    HASH_FIND(hh, t->accounts, ak.p, ak.len, a);
    if (!a) {
        errmsg_printf(errmsg, "No acl config for %.*s", (int)(ak.len > 64 ? 64 : ak.len), ak.p);
        return TERN_E_NO_PERMISSION;
    }
    if (a->white && acl_addr_match(a->white, peer_ip))
        return 0;
    if (!aclsign_verify(req, a->secret_key, strlen(a->secret_key))) {
        errmsg_printf(errmsg, "Check signature failed for accessKey=%s", a->access_key);
        return TERN_E_NO_PERMISSION;
    }
    if (a->admin)
        return 0;
    struct acl_need need;
    int rv = acl_request_resources(req, &need, errmsg);
    if (rv != 0)
        return rv;
    if (need.admin) {
        errmsg_printf(errmsg, "request code %d needs an admin account; %s is not one", req->code, a->access_key);
        return TERN_E_NO_PERMISSION;
    }
    for (size_t i = 0; i < need.n; i++) {
        if (!acl_perm_allows(need.res[i].perm, owned_perm(a, need.res[i].name))) {
            errmsg_printf(errmsg, "No permission for %s %s (accessKey=%s)",
                       need.res[i].perm & ACL_PERM_PUB ? "PUB to" : "SUB to", need.res[i].name, a->access_key);
            return TERN_E_NO_PERMISSION;
        }
    }
    return 0;
}
