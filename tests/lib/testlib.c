/* Temp directories and hex decoding for the test suite. */
#include "tests/lib/testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/errmsg.h"
#include "src/fs.h"

void testlib_tmpdir(char *out, size_t cap, const char *name)
{
    const char *base = getenv("TERN_TEST_TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char err[ERRMSG_SIZE] = "";
    assert_int_equal(fs_mkdir_p(base, err), 0);
    int n = snprintf(out, cap, "%s/%s-%d-XXXXXX", base, name, (int)getpid());
    assert_true(n > 0 && (size_t)n < cap);
    assert_non_null(mkdtemp(out));
}

void testlib_rmtree(const char *path)
{
    char err[ERRMSG_SIZE] = "";
    fs_remove_tree(path, err);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t testlib_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ' || *p == '|' || *p == '\n')
            continue;
        int v = hexval(*p);
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    return n;
}
