/* Leveled logging to stderr with a timestamp and the component name. */
#ifndef TERN_LOG_H
#define TERN_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
/* "debug", "info", "warn", "error"; anything else is info. */
enum log_level log_level_from_name(const char *name);
enum log_level log_get_level(void);
void log_write(enum log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOGD(comp, ...) log_write(LOG_DEBUG, comp, __VA_ARGS__)
#define LOGI(comp, ...) log_write(LOG_INFO, comp, __VA_ARGS__)
#define LOGW(comp, ...) log_write(LOG_WARN, comp, __VA_ARGS__)
#define LOGE(comp, ...) log_write(LOG_ERROR, comp, __VA_ARGS__)

#endif
