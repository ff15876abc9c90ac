/* Tests for src/config.c: defaults, units, bounds, file errors with line numbers. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "src/config.h"
#include "src/errmsg.h"
#include "tern/error.h"
#include "tests/lib/testlib.h"

struct cfg {
    char name[16];
    int64_t port;
    uint64_t seg;
    int64_t keep;
    bool flag;
};

static const struct config_key keys[] = {
    {"name", CONFIG_STRING, offsetof(struct cfg, name), 16, "broker-a", "group name", 0, 0},
    {"port", CONFIG_INT, offsetof(struct cfg, port), 0, "10911", "listen port", 1, 65535},
    {"segmentBytes", CONFIG_BYTES, offsetof(struct cfg, seg), 0, "64m", "segment size", 0, 0},
    {"retention", CONFIG_MS, offsetof(struct cfg, keep), 0, "7d", "retention", 0, 0},
    {"autoCreate", CONFIG_BOOL, offsetof(struct cfg, flag), 0, "true", "auto-create topics", 0, 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void test_defaults_and_units(void **state)
{
    (void)state;
    struct cfg c;
    char err[ERRMSG_SIZE];
    assert_int_equal(config_defaults(keys, NKEYS, &c, err), 0);
    assert_string_equal(c.name, "broker-a");
    assert_int_equal(c.port, 10911);
    assert_int_equal(c.seg, 64u << 20);
    assert_int_equal(c.keep, 7LL * 86400000);
    assert_true(c.flag);
    assert_int_equal(config_set(keys, NKEYS, &c, "retention", "90s", err), 0);
    assert_int_equal(c.keep, 90000);
    assert_int_equal(config_set(keys, NKEYS, &c, "port", "0", err), TERN_E_INVAL);
    assert_non_null(strstr(err, "port"));
    assert_int_equal(config_set(keys, NKEYS, &c, "segmentBytes", "12q", err), TERN_E_INVAL);
    assert_int_equal(config_set(keys, NKEYS, &c, "nope", "1", err), TERN_E_NOTFOUND);
    assert_int_equal(config_set(keys, NKEYS, &c, "name", "0123456789abcdefXX", err), TERN_E_INVAL);
    assert_int_equal(config_set(keys, NKEYS, &c, "autoCreate", "maybe", err), TERN_E_INVAL);
}

static void test_file_with_error_line(void **state)
{
    (void)state;
    char dir[512], path[600], err[ERRMSG_SIZE];
    testlib_tmpdir(dir, sizeof dir, "config");
    snprintf(path, sizeof path, "%s/broker.conf", dir);
    FILE *f = fopen(path, "w");
    fputs("# comment\n\nname = broker-b\n  port=10999  \nautoCreate = off\n", f);
    fclose(f);
    struct cfg c;
    assert_int_equal(config_defaults(keys, NKEYS, &c, err), 0);
    assert_int_equal(config_load_file(keys, NKEYS, &c, path, err), 0);
    assert_string_equal(c.name, "broker-b");
    assert_int_equal(c.port, 10999);
    assert_false(c.flag);

    f = fopen(path, "a");
    fputs("segmentBytes 5\n", f);
    fclose(f);
    assert_int_equal(config_load_file(keys, NKEYS, &c, path, err), TERN_E_INVAL);
    assert_non_null(strstr(err, ":6: expected"));
    testlib_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_units),
        cmocka_unit_test(test_file_with_error_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
