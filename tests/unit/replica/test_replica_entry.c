/* Unit tests for the replicated entry codec (broker/replica_entry.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/replica_entry.h"
#include "src/buf.h"
#include "src/endian.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

/* Build a body of n commands; command i is `sizes[i]` bytes of pattern. */
static void build_body(struct buf *b, const size_t *sizes, unsigned n, int compressible)
{
    buf_init(b);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = buf_extend(b, REPLICA_ENTRY_CMD_HDR + sizes[i]);
        assert_non_null(p);
        p += replica_entry_put_cmd_hdr(p, (uint32_t)sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            p[k] = compressible ? (uint8_t)('a' + (k % 3)) : (uint8_t)(rand() & 0xff);
    }
}

static uint8_t *encode(const struct buf *body, unsigned n, bool compress, size_t *len)
{
    size_t cap = replica_entry_bound(body->len);
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    assert_int_equal(replica_entry_encode(body->data, body->len, n, compress, out, cap, len), 0);
    assert_int_equal(*len % 8, 0);
    assert_true(*len <= cap);
    return out;
}

/* Decode and compare every command with the body it came from. */
static void check_roundtrip(const uint8_t *e, size_t len, const struct buf *body, unsigned n,
                            uint8_t want_flags)
{
    struct replica_entry_view v;
    char err[ERRMSG_SIZE];
    assert_int_equal(replica_entry_decode(e, len, &v, err), 0);
    assert_int_equal(v.count, n);
    assert_int_equal(v.flags, want_flags);
    assert_int_equal(v.body_len, body->len);
    assert_memory_equal(v.body, body->data, body->len);
    struct replica_entry_iter it;
    replica_entry_iter_init(&it, &v);
    const uint8_t *cmd;
    size_t clen, off = 0;
    unsigned seen = 0;
    while (replica_entry_iter_next(&it, &cmd, &clen)) {
        assert_int_equal(clen, le32_load(body->data + off));
        assert_ptr_equal(cmd, v.body + off + 4);
        off += 4 + clen;
        seen++;
    }
    assert_int_equal(seen, n);
    replica_entry_view_free(&v);
}

static void test_one_command(void **state)
{
    (void)state;
    size_t sizes[] = {13};
    struct buf body;
    build_body(&body, sizes, 1, 0);
    size_t len;
    uint8_t *e = encode(&body, 1, true, &len);
    assert_int_equal(len, 48); /* 24 header + 17 body, padded to 8 */
    assert_int_equal(le32_load(e), REPLICA_ENTRY_MAGIC);
    for (size_t i = 24 + 17; i < len; i++)
        assert_int_equal(e[i], 0);
    check_roundtrip(e, len, &body, 1, 0);
    free(e);
    buf_free(&body);
}

static void test_empty_command_and_padding(void **state)
{
    (void)state;
    /* Every body length mod 8 produces an 8-multiple entry. */
    for (size_t s = 0; s < 24; s++) {
        size_t sizes[] = {s, 0};
        struct buf body;
        build_body(&body, sizes, 2, 0);
        size_t len;
        uint8_t *e = encode(&body, 2, false, &len);
        assert_int_equal(len % 8, 0);
        assert_true(len - (24 + body.len) < 8);
        check_roundtrip(e, len, &body, 2, 0);
        free(e);
        buf_free(&body);
    }
}

static void test_many_commands(void **state)
{
    (void)state;
    size_t sizes[500];
    for (unsigned i = 0; i < 500; i++)
        sizes[i] = (i * 37) % 301;
    struct buf body;
    build_body(&body, sizes, 500, 0);
    size_t len;
    uint8_t *e = encode(&body, 500, true, &len);
    /* Random bytes do not compress: stored raw. */
    check_roundtrip(e, len, &body, 500, 0);
    free(e);
    buf_free(&body);
}

static void test_compressed(void **state)
{
    (void)state;
    size_t sizes[64];
    for (unsigned i = 0; i < 64; i++)
        sizes[i] = 200 + i;
    struct buf body;
    build_body(&body, sizes, 64, 1);
    size_t len;
    uint8_t *e = encode(&body, 64, true, &len);
    assert_true(len < body.len / 2);
    check_roundtrip(e, len, &body, 64, REPLICA_ENTRY_F_LZ4);
    free(e);
    /* compress=false keeps it raw. */
    e = encode(&body, 64, false, &len);
    assert_true(len >= body.len);
    check_roundtrip(e, len, &body, 64, 0);
    free(e);
    /* Small bodies are never compressed even when they would shrink. */
    buf_free(&body);
    size_t small[] = {1000};
    build_body(&body, small, 1, 1);
    e = encode(&body, 1, true, &len);
    check_roundtrip(e, len, &body, 1, 0);
    free(e);
    buf_free(&body);
}

static int decode_err(const uint8_t *e, size_t len)
{
    struct replica_entry_view v;
    char err[ERRMSG_SIZE];
    err[0] = 0;
    /* Copy to an exact-size heap block so ASan catches any overread. */
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, e, len);
    int rc = replica_entry_decode(copy, len, &v, err);
    free(copy);
    if (rc == 0)
        replica_entry_view_free(&v);
    else
        assert_true(strlen(err) > 0);
    return rc;
}

static void test_malformed(void **state)
{
    (void)state;
    size_t sizes[] = {5, 9, 100};
    struct buf body;
    build_body(&body, sizes, 3, 0);
    size_t len;
    uint8_t *e = encode(&body, 3, false, &len);
    uint8_t *m = malloc(len);

    /* Every truncation fails (header, body, or a padding-sized tail cut is
     * caught by stored length vs. entry length). */
    for (size_t cut = 0; cut < len; cut++) {
        if (len - cut < 8 && cut >= 24 + body.len)
            continue; /* only padding removed: still a valid entry */
        assert_int_equal(decode_err(e, cut), TERN_E_MALFORMED);
    }
    /* Bad magic, version, flags. */
    memcpy(m, e, len);
    m[0] ^= 1;
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    m[4] = 2;
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    m[5] = 0x80;
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    /* Count 0, count too large for the body, count one short. */
    memcpy(m, e, len);
    le32_store(m + 8, 0);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    le32_store(m + 8, 0xffffffffu);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    le32_store(m + 8, 2);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    /* A command length running past the body. */
    memcpy(m, e, len);
    le32_store(m + 24 + 4 + 5, 0x7fffffffu);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    le32_store(m + 24, 6);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    /* Body lengths past the end / huge. */
    memcpy(m, e, len);
    le32_store(m + 16, (uint32_t)len);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    memcpy(m, e, len);
    le32_store(m + 12, 0xfffffff0u);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    /* Extra bytes beyond padding. */
    uint8_t *big = calloc(1, len + 8);
    memcpy(big, e, len);
    assert_int_equal(decode_err(big, len + 8), TERN_E_MALFORMED);
    free(big);
    free(m);
    free(e);
    buf_free(&body);
}

static void test_malformed_lz4(void **state)
{
    (void)state;
    size_t sizes[] = {8000};
    struct buf body;
    build_body(&body, sizes, 1, 1);
    size_t len;
    uint8_t *e = encode(&body, 1, true, &len);
    assert_int_equal(e[5], REPLICA_ENTRY_F_LZ4);
    uint8_t *m = malloc(len);
    /* Flip bytes throughout the compressed body: never a crash, and any
     * success must still produce a fully valid view. */
    for (size_t i = 24; i < len; i++) {
        memcpy(m, e, len);
        m[i] ^= 0x5a;
        int rc = decode_err(m, len);
        assert_true(rc == 0 || rc == TERN_E_MALFORMED);
    }
    /* Wrong uncompressed length. */
    memcpy(m, e, len);
    le32_store(m + 12, (uint32_t)body.len + 1);
    assert_int_equal(decode_err(m, len), TERN_E_MALFORMED);
    free(m);
    free(e);
    buf_free(&body);
}

static void test_fuzzish(void **state)
{
    (void)state;
    /* Random headers with a valid magic: never crash, never accept an entry
     * whose framing is not exact. */
    uint8_t e[256];
    srand(7);
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand() % 256);
        for (size_t i = 0; i < len; i++)
            e[i] = (uint8_t)(rand() % 4 == 0 ? rand() : (rand() % 8));
        if (len >= 24) {
            le32_store(e, REPLICA_ENTRY_MAGIC);
            e[4] = 1;
            e[5] &= 1;
        }
        int rc = decode_err(e, len);
        assert_true(rc == 0 || rc == TERN_E_MALFORMED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_command),
        cmocka_unit_test(test_empty_command_and_padding),
        cmocka_unit_test(test_many_commands),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_lz4),
        cmocka_unit_test(test_fuzzish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
