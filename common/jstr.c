/* jstr: JSON string escaping with UTF-8 repair; see jstr.h. */
#include "common/jstr.h"

#include <stdio.h>

/* Length of the valid UTF-8 sequence starting at s (at most `avail`
 * bytes), 0 if invalid, or -(needed) if valid so far but truncated. The
 * second byte's range rules out overlongs, surrogates and values above
 * U+10FFFF as soon as it is seen (RFC 3629, section 4). */
static int utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    int n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail)
            return -n;
        if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
            return 0;
    }
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
