/* Formatting helpers for per-object error-message buffers. */
#include "src/errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void errmsg_printf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, ERRMSG_SIZE, fmt, ap);
    va_end(ap);
}

void errmsg_wrapf(char *buf, const char *fmt, ...)
{
    char prefix[ERRMSG_SIZE];
    char old[ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, buf, ERRMSG_SIZE);
    old[ERRMSG_SIZE - 1] = '\0';
    /* Truncation is intended: the innermost detail is cut first. */
    size_t np = strlen(prefix), no = strlen(old);
    if (np > ERRMSG_SIZE - 1)
        np = ERRMSG_SIZE - 1;
    memcpy(buf, prefix, np);
    size_t at = np;
    if (at + 2 < ERRMSG_SIZE) {
        memcpy(buf + at, ": ", 2);
        at += 2;
        if (no > ERRMSG_SIZE - 1 - at)
            no = ERRMSG_SIZE - 1 - at;
        memcpy(buf + at, old, no);
        at += no;
    }
    buf[at] = '\0';
}

void errmsg_copy(char *dst, const char *src)
{
    if (dst == src)
        return;
    snprintf(dst, ERRMSG_SIZE, "%s", src ? src : "");
}
