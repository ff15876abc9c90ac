/* Error-message buffers kept on long-lived objects, each layer adding context:
 * "recover segment 00000042: read header: short read (12/32)". */
#ifndef TERN_ERRMSG_H
#define TERN_ERRMSG_H

#include <stddef.h>

#define ERRMSG_SIZE 256

/* Overwrite buf (ERRMSG_SIZE bytes) with a formatted message. */
void errmsg_printf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the message already in buf with formatted context and ": ". */
void errmsg_wrapf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copy src into dst, truncating to ERRMSG_SIZE. */
void errmsg_copy(char *dst, const char *src);

#endif
