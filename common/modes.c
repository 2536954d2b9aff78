/* modes: parse and format akernel execution modes; see modes.h. */
#include "common/modes.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    unsigned flag;
} mode_names[] = {
    {"cache", MODE_CACHE},
    {"multi", MODE_MULTI},
    {"react", MODE_REACT},
    {"concurrent", MODE_CONCURRENT},
};
#define NMODES (sizeof mode_names / sizeof mode_names[0])

int modes_parse(const char *text, unsigned *flags, char *err, size_t errlen)
{
    unsigned parsed = 0;
    if (strcmp(text, "default") == 0 || text[0] == '\0') {
        *flags = 0;
        return 0;
    }
    for (const char *p = text;; p++) {
        size_t n = strcspn(p, "-");
        size_t i = 0;
        while (i < NMODES && !(strlen(mode_names[i].name) == n && strncmp(p, mode_names[i].name, n) == 0))
            i++;
        if (i == NMODES) {
            snprintf(err, errlen, "unknown mode \"%.*s\" (modes: cache, multi, react, concurrent, joined with -)",
                     (int)n, p);
            return -1;
        }
        parsed |= mode_names[i].flag;
        p += n;
        if (*p == '\0')
            break;
    }
    *flags = parsed;
    return 0;
}

void modes_format(unsigned flags, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NMODES; i++) {
        if (!(flags & mode_names[i].flag))
            continue;
        int n = snprintf(out + len, outlen - len, "%s%s", len ? "-" : "", mode_names[i].name);
        if (n < 0 || (size_t)n >= outlen - len)
            return;
        len += (size_t)n;
    }
}
