/* jstr: JSON string escaping with UTF-8 repair; see jstr.h. */
#include "common/jstr.h"

#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence starting at s (at most `avail`
 * bytes), 0 if invalid, or -(needed) if valid so far but truncated. */
static int utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    int n;
    uint32_t min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    uint32_t cp = c & (0x3f >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail)
            return -n;
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t jstr_complete_prefix(const char *text, size_t len)
{
    /* Only the last three bytes can start an incomplete sequence. */
    size_t start = len > 3 ? len - 3 : 0;
    for (size_t i = start; i < len; i++) {
        const unsigned char *s = (const unsigned char *)text + i;
        if (*s >= 0xc0 && utf8_sequence(s, len - i) < 0)
            return i;
    }
    return len;
}

int jstr_append(struct buf *out, const char *text, size_t len)
{
    /* Worst case: every byte becomes \u00XX (6) or U+FFFD (3). */
    if (buf_reserve(out, 6 * len + 2) < 0)
        return -1;
    char *p = out->data + out->len;
    *p++ = '"';
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            int n = utf8_sequence(s + i, len - i);
            if (n > 0) {
                for (int k = 0; k < n; k++)
                    *p++ = (char)s[i + (size_t)k];
                i += (size_t)n;
            } else { /* invalid or truncated: one replacement per byte */
                *p++ = (char)0xef, *p++ = (char)0xbf, *p++ = (char)0xbd;
                i++;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"': *p++ = '\\', *p++ = '"'; break;
        case '\\': *p++ = '\\', *p++ = '\\'; break;
        case '\n': *p++ = '\\', *p++ = 'n'; break;
        case '\r': *p++ = '\\', *p++ = 'r'; break;
        case '\t': *p++ = '\\', *p++ = 't'; break;
        default:
            if (c < 0x20) {
                snprintf(p, 7, "\\u%04x", c);
                p += 6;
            } else {
                *p++ = (char)c;
            }
        }
    }
    *p++ = '"';
    out->len = (size_t)(p - out->data);
    return 0;
}
