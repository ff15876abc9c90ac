/* Unit tests for src/: buffers, cursors, checksums, compression, fs fault points. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/buf.h"
#include "src/checksum.h"
#include "src/compress.h"
#include "src/cursor.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(tern_err_name(TERN_E_MALFORMED), "E_MALFORMED");
    assert_string_equal(tern_strerror(TERN_E_CORRUPT), "corrupt data on disk");
    assert_string_equal(tern_err_name(12345), "E_UNKNOWN");
    assert_int_equal(TERN_E_TOPIC_NOT_EXIST, 17);
}

static void test_buf_grow_and_limit(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 1000; i++)
        buf_append_be32(&b, (uint32_t)i);
    assert_int_equal(b.err, 0);
    assert_int_equal(b.len, 4000);
    assert_int_equal(be32_load(b.data + 4 * 999), 999);
    buf_printf(&b, "%s-%d", "x", 42);
    assert_memory_equal(b.data + 4000, "x-42", 4);
    buf_consume(&b, 3996);
    assert_int_equal(b.len, 8);
    buf_free(&b);

    buf_init(&b);
    b.max = 10;
    buf_append(&b, "0123456789", 10);
    assert_int_equal(b.err, 0);
    buf_append_u8(&b, 'x');
    assert_int_equal(b.err, TERN_E_TOOBIG);
    assert_int_equal(b.len, 10);
    buf_free(&b);
}

static void test_cursor_bounds(void **state)
{
    (void)state;
    uint8_t d[] = {0, 0, 0, 5, 1, 2};
    struct cursor c;
    cursor_init(&c, d, sizeof d);
    assert_int_equal(cursor_be32(&c), 5);
    assert_int_equal(cursor_be16(&c), 0x0102);
    assert_false(c.err);
    assert_int_equal(cursor_u8(&c), 0);
    assert_true(c.err);
    assert_null(cursor_take(&c, 1));
}

static void test_checksums(void **state)
{
    (void)state;
    /* Standard CRC-32 check value for "123456789". */
    assert_int_equal(checksum_crc32(0, "123456789", 9), 0xCBF43926u);
    uint64_t whole = checksum_xxh3("hello world", 11);
    struct checksum_state s;
    assert_int_equal(checksum_begin(&s), 0);
    checksum_update(&s, "hello ", 6);
    checksum_update(&s, "world", 5);
    assert_true(checksum_end(&s) == whole);
    assert_true(checksum_xxh3("hello worle", 11) != whole);
}

static void test_lz4_roundtrip_and_garbage(void **state)
{
    (void)state;
    char src[4096];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (char)("abcabcabd"[i % 9]);
    char comp[8192], out[4096];
    size_t n = compress_lz4(src, sizeof src, comp, sizeof comp);
    assert_true(n > 0 && n < sizeof src);
    assert_int_equal(compress_unlz4(comp, n, out, sizeof out), 0);
    assert_memory_equal(src, out, sizeof src);
    /* Wrong declared size and random bytes are CORRUPT, never a crash. */
    assert_int_equal(compress_unlz4(comp, n, out, sizeof out - 1), TERN_E_CORRUPT);
    memset(comp, 0xff, 64);
    assert_int_equal(compress_unlz4(comp, 64, out, sizeof out), TERN_E_CORRUPT);
}

static void test_fs_fault_points(void **state)
{
    (void)state;
    char dir[512], err[ERRMSG_SIZE] = "";
    testlib_tmpdir(dir, sizeof dir, "core");
    assert_int_equal(fs_write_atomic(dir, "meta", "abc", 3, err), 0);
    struct buf b;
    buf_init(&b);
    char path[600];
    snprintf(path, sizeof path, "%s/meta", dir);
    assert_int_equal(fs_read_file(path, &b, 100, err), 0);
    assert_int_equal(b.len, 3);
    assert_int_equal(fs_read_file(path, &b, 2, err), TERN_E_TOOBIG);

    fs_fault_arm(FS_FAULT_WRITE, 1, ENOSPC, 0);
    int fd;
    assert_int_equal(fs_open(path, O_RDWR, 0, &fd, err), 0);
    assert_int_equal(fs_pwrite_all(fd, "x", 1, 0, err), 0);
    assert_int_equal(fs_pwrite_all(fd, "x", 1, 0, err), TERN_E_NOSPACE);
    assert_non_null(strstr(err, "No space left"));
    assert_int_equal(fs_pwrite_all(fd, "x", 1, 0, err), 0); /* one-shot */
    close(fd);

    fs_fault_arm(FS_FAULT_RENAME, 0, EIO, 0);
    assert_int_equal(fs_write_atomic(dir, "meta", "def", 3, err), TERN_E_IO);
    buf_reset(&b);
    assert_int_equal(fs_read_file(path, &b, 100, err), 0);
    assert_memory_equal(b.data, "xbc", 3); /* the old file survives the failed replace */
    fs_fault_reset();
    buf_free(&b);
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_buf_grow_and_limit),
        cmocka_unit_test(test_cursor_bounds),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_lz4_roundtrip_and_garbage),
        cmocka_unit_test(test_fs_fault_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
