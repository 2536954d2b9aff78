/* chan: internal channel framing; see chan.h. */
#include "common/chan.h"

#include <string.h>

static void put_u32(char *p, uint32_t v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)((v >> 8) & 0xff);
    p[2] = (char)((v >> 16) & 0xff);
    p[3] = (char)((v >> 24) & 0xff);
}

static uint32_t get_u32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 24;
}

int chan_encode(struct buf *out, const struct span *parts, size_t nparts)
{
    if (nparts > CHAN_MAX_PARTS)
        return -1;
    size_t body = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len > CHAN_MAX_MESSAGE)
            return -1;
        body += 4 + parts[i].len;
    }
    if (body > CHAN_MAX_MESSAGE || buf_reserve(out, 4 + body) < 0)
        return -1;
    char *p = out->data + out->len;
    put_u32(p, (uint32_t)body);
    p += 4;
    for (size_t i = 0; i < nparts; i++) {
        put_u32(p, (uint32_t)parts[i].len);
        if (parts[i].len)
            memcpy(p + 4, parts[i].data, parts[i].len);
        p += 4 + parts[i].len;
    }
    out->len += 4 + body;
    return 0;
}

enum chan_status chan_decode(const char *data, size_t len, struct chan_msg *msg,
                             size_t *consumed)
{
    if (len < 4)
        return CHAN_INCOMPLETE;
    uint32_t body = get_u32(data);
    if (body > CHAN_MAX_MESSAGE)
        return CHAN_INVALID;
    if (len - 4 < body)
        return CHAN_INCOMPLETE;
    const char *p = data + 4, *end = p + body;
    msg->nparts = 0;
    while (p < end) {
        if (end - p < 4 || msg->nparts == CHAN_MAX_PARTS)
            return CHAN_INVALID;
        uint32_t plen = get_u32(p);
        p += 4;
        if ((size_t)(end - p) < plen)
            return CHAN_INVALID;
        msg->parts[msg->nparts].data = p;
        msg->parts[msg->nparts].len = plen;
        msg->nparts++;
        p += plen;
    }
    *consumed = 4 + (size_t)body;
    return CHAN_OK;
}

int chan_part_is(const struct span *part, const char *s)
{
    size_t n = strlen(s);
    return part->len == n && memcmp(part->data, s, n) == 0;
}

int chan_part_u64(const struct span *part, uint64_t *value)
{
    if (part->len == 0 || part->len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < part->len; i++) {
        char c = part->data[i];
        if (c < '0' || c > '9')
            return -1;
        uint64_t d = (uint64_t)(c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *value = v;
    return 0;
}
