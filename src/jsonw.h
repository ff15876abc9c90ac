/* A compact JSON writer into a struct buf: no whitespace, commas placed
 * automatically, strings escaped. Parsing is jansson's job; writing is done
 * here because some outputs are not plain JSON (fastjson's unquoted numeric
 * map keys, §4.15 of the protocol notes) and because responses are built on
 * hot paths without an intermediate tree. */
#ifndef TERN_JSONW_H
#define TERN_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
    struct buf *b;
    int depth;
    bool after_key;
    /* Escape every non-ASCII code point as \uXXXX (surrogate pairs above
     * U+FFFF; invalid UTF-8 bytes become \uFFFD). Default: UTF-8 passes raw. */
    bool ascii_only;
    bool first[JSONW_MAX_DEPTH];
};

void jsonw_init(struct jsonw *w, struct buf *b);
void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
/* Object key (quoted). */
void jsonw_key(struct jsonw *w, const char *k);
/* Object key written verbatim without quotes (fastjson numeric map keys). */
void jsonw_key_raw(struct jsonw *w, const char *k);
void jsonw_str(struct jsonw *w, const char *s, size_t n);
void jsonw_cstr(struct jsonw *w, const char *s);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Key + value shorthands. */
void jsonw_kv_str(struct jsonw *w, const char *k, const char *s);
void jsonw_kv_int(struct jsonw *w, const char *k, int64_t v);
void jsonw_kv_bool(struct jsonw *w, const char *k, bool v);
/* Append s as a JSON string literal (with quotes) to b. */
void jsonw_escape(struct buf *b, const char *s, size_t n, bool ascii_only);

#endif
