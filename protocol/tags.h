/* Tag hash codes and TAG subscription expressions (PROTOCOL.md §M.5). */
#ifndef TERN_TAGS_H
#define TERN_TAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/slice.h"

/* Most distinct tags one subscription expression may name. */
#define TAGS_MAX 64

/* Java String.hashCode of a UTF-8 tag: h = 31*h + c over UTF-16 code units,
 * int32 wrap-around. Code points above U+FFFF count as two surrogates;
 * malformed UTF-8 counts as U+FFFD per maximal invalid subsequence, as Java's
 * decoder replaces it. This is the broker's tagsCode (0 for no tag). */
int32_t tags_hash(const char *s, size_t n);

/* A parsed TAG expression. tags point into the parsed input. */
struct tags_expr {
    bool all; /* "*" or empty: every message matches */
    size_t count;
    struct slice tags[TAGS_MAX];
    int32_t codes[TAGS_MAX];
};

/* Parse "*", "" or "tagA || tagB": split on "||", trim bytes <= 0x20 at both
 * ends (Java trim), drop empty and duplicate tags (RocketMQ FilterAPI).
 * Returns 0, or TERN_E_MALFORMED ("tags: ...") for more than TAGS_MAX tags. */
int tags_parse(const char *s, size_t n, struct tags_expr *out, char *errmsg);

/* Broker-side match on the stored tag hash code. */
bool tags_match_code(const struct tags_expr *e, int32_t code);

/* Client-side match on the exact tag string (hash collisions excluded). */
bool tags_match(const struct tags_expr *e, const char *tag, size_t n);

#endif
