/* chan: framing of the internal channel between the router and a worker
 * (a Unix stream socket). A message is a list of byte-string parts:
 *
 *     u32 body_len | { u32 part_len | part bytes }...
 *
 * all integers little-endian. The channel is unsigned: it never leaves the
 * machine and the HMAC key never crosses it. */
#ifndef AKG_CHAN_H
#define AKG_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CHAN_MAX_PARTS 64
/* Largest message either side accepts (a 50 MB widget buffer fits). */
#define CHAN_MAX_MESSAGE (512u * 1024u * 1024u)

struct chan_msg {
    size_t nparts;
    struct span parts[CHAN_MAX_PARTS];
};

/* Append one encoded message to `out`. Returns 0, or -1 when out of memory
 * or when the message is too large or has too many parts. */
int chan_encode(struct buf *out, const struct span *parts, size_t nparts);

enum chan_status { CHAN_OK, CHAN_INCOMPLETE, CHAN_INVALID };

/* Decode the first message in data[0..len). On CHAN_OK, `msg` points into
 * `data` and *consumed is its encoded size. CHAN_INVALID means the stream
 * is corrupt (a part overruns the body, too many parts, over the limit). */
enum chan_status chan_decode(const char *data, size_t len, struct chan_msg *msg,
                             size_t *consumed);

/* Compare a part with a C string. */
int chan_part_is(const struct span *part, const char *s);
/* Parse a part holding a decimal unsigned integer; returns 0 or -1. */
int chan_part_u64(const struct span *part, uint64_t *value);

#endif
