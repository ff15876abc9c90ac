/* A non-owning view of bytes (usually text inside a received frame). */
#ifndef TERN_SLICE_H
#define TERN_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct slice {
    const char *p;
    size_t len;
};

static inline struct slice slice_of(const char *s)
{
    struct slice v = {s, s ? strlen(s) : 0};
    return v;
}

static inline bool slice_eq(struct slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

static inline bool slice_eq_slice(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

#endif
