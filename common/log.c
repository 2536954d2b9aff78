/* log: leveled, timestamped log lines written with one write() each, so
 * lines from several processes sharing a stderr never interleave; under
 * systemd, lines for the journal with their syslog priority. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
    char ident[32];
    enum log_level level;
    int fd;
    int journal; /* 1: stderr is systemd's journal stream; 0: not; -1: not checked */
} log_state = {"akernel-gateway", LOG_LEVEL_INFO, STDERR_FILENO, -1};

/* Under systemd, stderr is a stream to the journal (JOURNAL_STREAM names
 * its device:inode). Lines then start with a syslog priority ("<3>"),
 * which journald turns into the entry's level, and carry no timestamp. */
static int is_journal(int fd)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return stream && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_setup(const char *ident, enum log_level level)
{
    snprintf(log_state.ident, sizeof log_state.ident, "%s", ident);
    log_state.level = level;
}

void log_set_fd(int fd)
{
    log_state.fd = fd;
    log_state.journal = -1;
}

enum log_level log_get_level(void) { return log_state.level; }

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_LEVEL_DEBUG; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return LOG_LEVEL_WARN;
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > log_state.level)
        return;
    static const int priorities[] = {3, 4, 6, 7}; /* err, warning, info, debug */
    char line[2048];
    int n;
    if (log_state.journal < 0)
        log_state.journal = is_journal(log_state.fd);
    if (log_state.journal) {
        n = snprintf(line, sizeof line, "<%d>%s[%d] %s ", priorities[level], log_state.ident, (int)getpid(),
                     level_names[level]);
    } else {
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000,
                     log_state.ident, (int)getpid(), level_names[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(log_state.fd, line, len);
    (void)w;
}
