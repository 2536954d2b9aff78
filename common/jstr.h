/* jstr: JSON string literals for text that arrives as raw bytes (captured
 * stdout/stderr): invalid UTF-8 becomes U+FFFD, and an incomplete sequence
 * at the end can be held back until the rest of it arrives. */
#ifndef AKG_JSTR_H
#define AKG_JSTR_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* Length of the prefix of text[0..len) that does not end inside an
 * incomplete (but so far valid) UTF-8 sequence. */
size_t jstr_complete_prefix(const char *text, size_t len);

/* Append text as a quoted JSON string. Returns 0, or -1 when out of memory. */
int jstr_append(struct buf *out, const char *text, size_t len);

#endif
