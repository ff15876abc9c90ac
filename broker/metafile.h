/* The broker's small JSON metadata files (topics.json, consumer_offsets.json):
 * read and parsed whole at start-up, replaced crash-safely on save. */
#ifndef TERN_METAFILE_H
#define TERN_METAFILE_H

#include <jansson.h>
#include <stddef.h>

/* Parse dir/name as JSON. Returns 0 with *root set, or 0 with *root NULL if
 * the file does not exist; TERN_E_CORRUPT ("<path>: line N: reason") if it
 * is not JSON, TERN_E_TOOBIG past max bytes, or an fs error. */
int metafile_load(const char *dir, const char *name, size_t max, json_t **root, char *errmsg);

#endif
