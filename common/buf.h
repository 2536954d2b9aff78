/* buf: a growable byte buffer with a read offset, used as the queue of
 * bytes waiting to be written to (or parsed from) a non-blocking fd. */
#ifndef AKG_BUF_H
#define AKG_BUF_H

#include <stddef.h>
#include <string.h>

/* A borrowed run of bytes: a message part, a key, a JSON text. */
struct span {
    const char *data;
    size_t len;
};

static inline struct span span_str(const char *s) { return (struct span){s, strlen(s)}; }

struct buf {
    char *data;
    size_t off; /* first unread byte */
    size_t len; /* end of the written bytes */
    size_t cap;
};

/* Bytes between off and len. */
static inline size_t buf_pending(const struct buf *b) { return b->len - b->off; }
static inline char *buf_head(const struct buf *b) { return b->data + b->off; }

/* The first byte c among the pending ones, or NULL (an empty buffer may
 * have no storage at all). */
static inline char *buf_find(const struct buf *b, char c)
{
    return buf_pending(b) ? (char *)memchr(buf_head(b), c, buf_pending(b)) : NULL;
}

/* Make room for `extra` more bytes; returns 0, or -1 when out of memory. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
/* Mark n pending bytes as read; space is reclaimed lazily. */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
