/* Shared helpers for Tern's cmocka tests: temp dirs and hex vectors. */
#ifndef TERN_TESTLIB_H
#define TERN_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Create a fresh empty directory for one test under $TERN_TEST_TMPDIR (or
 * /tmp) and write its path into out (cap bytes). Fails the test on error. */
void testlib_tmpdir(char *out, size_t cap, const char *name);
/* Remove a directory tree created by testlib_tmpdir. */
void testlib_rmtree(const char *path);
/* Decode a hex string (spaces and '|' ignored) into out; returns byte count.
 * Fails the test on a bad digit or overflow. */
size_t testlib_unhex(const char *hex, uint8_t *out, size_t cap);

#endif
