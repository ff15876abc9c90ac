/* libFuzzer target: a FETCH_SEGMENT body (units from another replica) given
 * to partlog_import (broker/store/partlog.c). Whatever the bytes, import
 * either refuses the whole chunk without staging anything or stages exactly
 * the offsets the units claim; it never reads outside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "broker/store/partlog.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "tern/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct partlog *pl;
static char dir[] = "/tmp/tern-fuzz-import.XXXXXX";

static void cleanup(void)
{
    char err[ERRMSG_SIZE];
    partlog_close(pl);
    fs_remove_tree(dir, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pl) {
        char err[ERRMSG_SIZE];
        if (!mkdtemp(dir) || partlog_open(dir, 1, NULL, &pl, err) != 0)
            abort();
        atexit(cleanup);
    }
    uint64_t before = partlog_next_offset(pl), end = 0;
    int rv = partlog_import(pl, data, size, &end);
    if (rv != 0) {
        /* Refused: nothing staged. */
        if (partlog_next_offset(pl) != before || (rv != TERN_E_CORRUPT && rv != TERN_E_NOMEM))
            __builtin_trap();
        return 0;
    }
    if (end != partlog_next_offset(pl) || (size > 0 && end <= before) || (size == 0 && end != before))
        __builtin_trap();
    /* Accepted units are written like appends (keeps the pending buffer small). */
    if (partlog_flush(pl) != 0)
        __builtin_trap();
    return 0;
}
