/* log: one line per event on stderr, with a timestamp, a level and the
 * process name, so router and worker lines can be told apart in one log. */
#ifndef AKG_LOG_H
#define AKG_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Set the name printed on every line and the most verbose level shown. */
void log_setup(const char *ident, enum log_level level);
/* Parse "error", "warn", "info" or "debug"; returns -1 when unknown. */
int log_level_parse(const char *name);
enum log_level log_get_level(void);
/* Write log lines to this fd instead of stderr (the worker's stderr is
 * captured for the cell, so it logs to a saved copy of the original). */
void log_set_fd(int fd);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
