/* Loading of the broker's JSON metadata files. */
#include "broker/metafile.h"

#include <stdio.h>

#include "src/buf.h"
#include "src/errmsg.h"
#include "src/fs.h"
#include "tern/error.h"

int metafile_load(const char *dir, const char *name, size_t max, json_t **root, char *errmsg)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *root = NULL;
    struct buf b;
    buf_init(&b);
    int rv = fs_read_file(path, &b, max, errmsg);
    if (rv == TERN_E_NOTFOUND) {
        buf_free(&b);
        return 0;
    }
    if (rv) {
        buf_free(&b);
        return rv;
    }
    json_error_t je;
    *root = json_loadb((const char *)b.data, b.len, 0, &je);
    buf_free(&b);
    if (!*root) {
        errmsg_printf(errmsg, "%s: line %d: %s", path, je.line, je.text);
        return TERN_E_CORRUPT;
    }
    return 0;
}
