/* zmtp: ZMTP 3.0 greeting, handshake and frames; see zmtp.h. */
#include "common/zmtp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FLAG_MORE 0x01
#define FLAG_LONG 0x02
#define FLAG_COMMAND 0x04

static const char mechanism_null[20] = "NULL";

int zmtp_write_handshake(struct buf *out, const char *socket_type)
{
    unsigned char greeting[ZMTP_GREETING_LEN] = {0};
    size_t type_len = strlen(socket_type);
    if (type_len > 32)
        return -1;
    greeting[0] = 0xFF;
    greeting[8] = 1; /* padding: a ZMTP 1.0 peer reads an empty identity */
    greeting[9] = 0x7F;
    greeting[10] = 3; /* version 3.0 */
    greeting[11] = 0;
    memcpy(greeting + 12, mechanism_null, sizeof mechanism_null);
    if (buf_append(out, greeting, sizeof greeting) < 0)
        return -1;
    /* READY with one property: Socket-Type */
    char props[64];
    size_t n = 0;
    props[n++] = 11;
    memcpy(props + n, "Socket-Type", 11), n += 11;
    for (int shift = 24; shift >= 0; shift -= 8)
        props[n++] = (char)((type_len >> shift) & 0xFF);
    memcpy(props + n, socket_type, type_len), n += type_len;
    return zmtp_write_command(out, "READY", (struct span){props, n});
}

static int write_head(struct buf *out, size_t size, bool more, bool command)
{
    unsigned char head[9];
    size_t n = 0;
    unsigned char flags = (more ? FLAG_MORE : 0) | (command ? FLAG_COMMAND : 0);
    if (size > 255) {
        head[n++] = flags | FLAG_LONG;
        for (int shift = 56; shift >= 0; shift -= 8)
            head[n++] = (unsigned char)(((uint64_t)size >> shift) & 0xFF);
    } else {
        head[n++] = flags;
        head[n++] = (unsigned char)size;
    }
    if (buf_reserve(out, n + size) < 0)
        return -1;
    return buf_append(out, head, n);
}

int zmtp_write_frame(struct buf *out, struct span payload, bool more, bool command)
{
    if (write_head(out, payload.len, more, command) < 0)
        return -1;
    return payload.len ? buf_append(out, payload.data, payload.len) : 0;
}

int zmtp_write_message(struct buf *out, const struct span *frames, size_t nframes)
{
    for (size_t i = 0; i < nframes; i++)
        if (zmtp_write_frame(out, frames[i], i + 1 < nframes, false) < 0)
            return -1;
    return 0;
}

int zmtp_write_command(struct buf *out, const char *name, struct span data)
{
    size_t name_len = strlen(name);
    unsigned char len_byte = (unsigned char)name_len;
    if (name_len == 0 || name_len > 255 || write_head(out, 1 + name_len + data.len, false, true) < 0)
        return -1;
    buf_append(out, &len_byte, 1); /* room was reserved */
    buf_append(out, name, name_len);
    return data.len ? buf_append(out, data.data, data.len) : 0;
}

void zmtp_decoder_init(struct zmtp_decoder *d, size_t size_limit, size_t max_frames)
{
    memset(d, 0, sizeof *d);
    d->state = ZMTP_DEC_GREETING;
    d->size_limit = size_limit;
    d->max_frames = max_frames ? max_frames : 1;
}

/* What a message or command held is freed once it has been delivered:
 * a connection at rest holds no buffers. */
static void release_message(struct zmtp_decoder *d)
{
    buf_free(&d->body);
    free(d->refs);
    free(d->spans);
    d->refs = NULL;
    d->spans = NULL;
    d->nframes = d->cap = d->dropped_frames = d->msg_size = 0;
}

void zmtp_decoder_free(struct zmtp_decoder *d) { release_message(d); }

/* Checks the greeting as its bytes arrive, so a peer that is not ZMTP is
 * turned away at its first wrong byte. */
static const char *greeting_error(const unsigned char *g, size_t have)
{
    if (have >= 1 && g[0] != 0xFF)
        return "not a ZMTP peer (bad greeting signature)";
    if (have >= 10 && g[9] != 0x7F)
        return "ZMTP 1.0 peers are not supported";
    if (have >= 11 && g[10] < 3)
        return "ZMTP 2.0 peers are not supported (version 3 needed)";
    if (have >= 32 && memcmp(g + 12, mechanism_null, sizeof mechanism_null) != 0)
        return "security mechanism is not NULL";
    return NULL;
}

static uint64_t read_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int push_ref(struct zmtp_decoder *d, size_t off, size_t len)
{
    if (d->nframes == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        if (cap > d->max_frames)
            cap = d->max_frames;
        struct zmtp_frame_ref *refs = realloc(d->refs, cap * sizeof *refs);
        if (!refs)
            return -1;
        d->refs = refs;
        d->cap = cap;
    }
    d->refs[d->nframes++] = (struct zmtp_frame_ref){off, len};
    return 0;
}

/* A frame's size is known: decide whether its bytes are kept. */
static const char *start_frame(struct zmtp_decoder *d, uint64_t size)
{
    bool command = d->flags & FLAG_COMMAND;
    if (command && size > ZMTP_MAX_COMMAND)
        return "command too large";
    if (!command && !d->ready)
        return "a message before the READY command";
    d->left = size;
    if (command) {
        d->keep = true;
        return NULL;
    }
    uint64_t total = d->msg_size + size;
    d->msg_size = total < d->msg_size || total > SIZE_MAX ? SIZE_MAX : (size_t)total;
    bool fits = !d->size_limit || d->msg_size <= d->size_limit;
    if (d->nframes == d->max_frames) {
        d->dropped_frames++;
        d->keep = false;
        return NULL;
    }
    d->keep = fits;
    return push_ref(d, d->body.len, 0) < 0 ? "out of memory" : NULL;
}

static bool prop_is(struct span name, const char *want)
{
    return name.len == strlen(want) && strncasecmp(name.data, want, name.len) == 0;
}

static const char *parse_ready(struct span props, struct zmtp_event *ev)
{
    size_t pos = 0;
    while (pos < props.len) {
        size_t name_len = (unsigned char)props.data[pos++];
        if (name_len == 0 || props.len - pos < name_len + 4)
            return "malformed READY properties";
        struct span name = {props.data + pos, name_len};
        pos += name_len;
        uint64_t value_len = read_be((const unsigned char *)props.data + pos, 4);
        pos += 4;
        if (props.len - pos < value_len)
            return "malformed READY properties";
        struct span value = {props.data + pos, (size_t)value_len};
        pos += (size_t)value_len;
        if (prop_is(name, "Socket-Type"))
            ev->socket_type = value;
        else if (prop_is(name, "Identity"))
            ev->identity = value;
    }
    if (!ev->socket_type.len)
        return "READY without a Socket-Type";
    return NULL;
}

/* Returns 1 with *ev set, 0 for nothing yet, -1 with *error set. */
static int finish_command(struct zmtp_decoder *d, struct zmtp_event *ev, const char **error)
{
    struct span body = {d->body.data, d->body.len};
    size_t name_len = body.len ? (unsigned char)body.data[0] : 0;
    if (name_len == 0 || body.len < 1 + name_len) {
        *error = "malformed command";
        return -1;
    }
    memset(ev, 0, sizeof *ev);
    ev->name = (struct span){body.data + 1, name_len};
    ev->data = (struct span){body.data + 1 + name_len, body.len - 1 - name_len};
    if (prop_is(ev->name, "READY")) {
        if (d->ready) {
            *error = "a second READY command";
            return -1;
        }
        ev->kind = ZMTP_READY;
        if ((*error = parse_ready(ev->data, ev)))
            return -1;
        d->ready = true;
        return 1;
    }
    if (!d->ready) {
        *error = "a command before the READY command";
        return -1;
    }
    ev->kind = ZMTP_COMMAND;
    return 1;
}

static int finish_frame(struct zmtp_decoder *d, struct zmtp_event *ev, const char **error)
{
    if (d->flags & FLAG_COMMAND)
        return finish_command(d, ev, error);
    if (d->keep)
        d->refs[d->nframes - 1].len = d->body.len - d->refs[d->nframes - 1].off;
    if (d->flags & FLAG_MORE)
        return 0;
    d->spans = malloc((d->nframes + 1) * sizeof *d->spans);
    if (!d->spans) {
        *error = "out of memory";
        return -1;
    }
    d->spans[0] = (struct span){"", 0};
    for (size_t i = 0; i < d->nframes; i++)
        d->spans[i + 1] = (struct span){d->refs[i].len ? d->body.data + d->refs[i].off : "", d->refs[i].len};
    memset(ev, 0, sizeof *ev);
    ev->kind = ZMTP_MESSAGE;
    ev->frames = d->spans + 1;
    ev->nframes = d->nframes;
    ev->size = d->msg_size;
    ev->too_many_frames = d->dropped_frames > 0;
    return 1;
}

static const char *read_flags(struct zmtp_decoder *d, unsigned char flags)
{
    if (flags & ~(FLAG_MORE | FLAG_LONG | FLAG_COMMAND))
        return "reserved frame flags set";
    if ((flags & FLAG_COMMAND) && ((flags & FLAG_MORE) || d->nframes))
        return "a command inside a multipart message";
    d->flags = flags;
    d->need = (flags & FLAG_LONG) ? 8 : 1;
    d->have = 0;
    return NULL;
}

/* Copies up to what the current field needs into d->head. */
static size_t take(struct zmtp_decoder *d, const char *data, size_t len)
{
    size_t n = d->need - d->have < len ? d->need - d->have : len;
    memcpy(d->head + d->have, data, n);
    d->have += n;
    return n;
}

enum zmtp_status zmtp_decode(struct zmtp_decoder *d, const char *data, size_t len, size_t *used,
                             struct zmtp_event *ev, const char **error)
{
    size_t pos = 0;
    *error = NULL;
    if (d->emitted) {
        release_message(d);
        d->emitted = false;
    }
    for (;;) {
        switch (d->state) {
        case ZMTP_DEC_GREETING:
            d->need = ZMTP_GREETING_LEN;
            pos += take(d, data + pos, len - pos);
            if ((*error = greeting_error(d->head, d->have)))
                return ZMTP_ERROR;
            if (d->have < ZMTP_GREETING_LEN)
                goto need_more;
            d->state = ZMTP_DEC_FLAGS;
            break;
        case ZMTP_DEC_FLAGS:
            if (pos == len)
                goto need_more;
            if ((*error = read_flags(d, (unsigned char)data[pos++])))
                return ZMTP_ERROR;
            d->state = ZMTP_DEC_SIZE;
            break;
        case ZMTP_DEC_SIZE:
            pos += take(d, data + pos, len - pos);
            if (d->have < d->need)
                goto need_more;
            if ((*error = start_frame(d, read_be(d->head, d->need))))
                return ZMTP_ERROR;
            d->state = ZMTP_DEC_BODY;
            break;
        case ZMTP_DEC_BODY: {
            size_t n = d->left < len - pos ? (size_t)d->left : len - pos;
            if (d->keep && n && buf_append(&d->body, data + pos, n) < 0) {
                *error = "out of memory";
                return ZMTP_ERROR;
            }
            pos += n;
            d->left -= n;
            if (d->left)
                goto need_more;
            d->state = ZMTP_DEC_FLAGS;
            int r = finish_frame(d, ev, error);
            if (r < 0)
                return ZMTP_ERROR;
            if (r > 0) {
                *used = pos;
                d->emitted = true;
                return ZMTP_EVENT;
            }
            break;
        }
        }
    }
need_more:
    *used = pos;
    return ZMTP_NEED_MORE;
}
